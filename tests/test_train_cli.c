/* test_train_cli.c: `chirp train` / `chirp eval` / `chirp plot` end to end:
 * bit-identical resume, checkpoint layout and manifest, --keep, data
 * errors (bad token, bad shard), NaN stop, usage errors. Tiny models only. */
#include "testutil.h"

#include <math.h>

#include "model/gpt2.h"
#include "util/sha256.h"
#include "util/file.h"

static void test_resume_bit_identical(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char shard[512], run[512], cmd[4096];
    snprintf(shard, sizeof shard, "%s/train_000.bin", dir);
    test_random_shard(shard, 5000, 97, 1);
    snprintf(shard, sizeof shard, "%s/train_001.bin", dir);
    test_random_shard(shard, 3000, 97, 2);
    snprintf(run, sizeof run, "%s/run", dir);
    const char *common =
        "--layers 2 --heads 2 --embd 16 --ctx 32 --vocab 97 --batch 3 --seq 16 --grad-accum 2 --steps 10 "
        "--lr 3e-3 --warmup 2 --schedule cosine --shuffle --seed 5 --save-every 4 --threads 2";
    snprintf(cmd, sizeof cmd, "%s train --train '%s/train_*.bin' %s --out %s 2>/dev/null", chirp_bin(), dir, common,
             run);
    char *full = NULL, *resumed = NULL;
    assert_int_equal(run_capture(cmd, &full), 0);
    /* simulate a crash after step 4: drop the later checkpoints */
    snprintf(cmd, sizeof cmd, "rm -rf %s/step_8 %s/step_10", run, run);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s train --train '%s/train_*.bin' %s --out %s --resume 2>/dev/null", chirp_bin(), dir,
             common, run);
    assert_int_equal(run_capture(cmd, &resumed), 0);
    /* resuming with another batch shape is refused (the position would mean other tokens) */
    char *bad = NULL;
    snprintf(cmd, sizeof cmd, "%s train --train '%s/train_*.bin' %s --batch 2 --out %s --resume 2>&1", chirp_bin(), dir,
             common, run);
    assert_int_equal(run_capture(cmd, &bad), 1);
    assert_non_null(strstr(bad, "batch 3"));
    free(bad);
    char *a = test_strip_timing(full), *b = test_strip_timing(resumed);
    const char *a5 = strstr(a, "step 5 ");
    assert_non_null(a5);
    assert_string_equal(a5, b); /* steps 5..10, every digit */
    assert_null(strstr(b, "step 4 "));
    /* log.jsonl was rewound and continued: one record per step */
    snprintf(cmd, sizeof cmd, "grep -c '\"loss\"' %s/log.jsonl", run);
    char *cnt = NULL;
    assert_int_equal(run_capture(cmd, &cnt), 0);
    assert_int_equal(atoi(cnt), 10);
    free(cnt);
    free(a);
    free(b);
    free(full);
    free(resumed);
}

static void test_checkpoint_layout_and_keep(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char shard[512], run[512], cmd[4096], tokjson[512];
    snprintf(shard, sizeof shard, "%s/d.bin", dir);
    test_random_shard(shard, 2000, 50, 3);
    /* What prepare writes beside its shards travels into chirp.json. */
    char prov[600];
    snprintf(prov, sizeof prov, "%s/provenance.json", dir);
    assert_int_equal(file_write_atomic(prov, "{\"posts_kept\": 1234, \"optout_removed\": 5}", 41), 0);
    /* A real (tiny) tokenizer: training checks it against the vocabulary. */
    snprintf(tokjson, sizeof tokjson, "%s/text.txt", dir);
    assert_int_equal(file_write_atomic(tokjson, "the cat sat on the mat, the cat sat.\n", 37), 0);
    snprintf(cmd, sizeof cmd, "%s tokenizer train --input %s --vocab-size 265 --out %s/tok 2>/dev/null", chirp_bin(),
             tokjson, dir);
    assert_int_equal(run_capture(cmd, NULL), 0);
    snprintf(tokjson, sizeof tokjson, "%s/tok/tokenizer.json", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(cmd, sizeof cmd,
             "%s train --train %s --val %s --layers 1 --heads 2 --embd 8 --ctx 16 --vocab 300 --batch 2 --seq 8 "
             "--steps 6 --save-every 2 --keep 2 --eval-every 3 --eval-batches 2 --tokenizer %s --out %s 2>/dev/null",
             chirp_bin(), shard, shard, tokjson, run);
    char *out = NULL;
    assert_int_equal(run_capture(cmd, &out), 0);
    assert_non_null(strstr(out, "val step 3 loss "));
    assert_non_null(strstr(out, "val step 6 loss "));
    assert_non_null(strstr(out, "step 1 loss "));
    assert_non_null(strstr(out, " lr "));
    assert_non_null(strstr(out, " tok/s "));
    free(out);
    char p[1024];
    snprintf(p, sizeof p, "%s/step_2", run);
    assert_false(path_exists(p)); /* pruned by --keep 2 */
    const char *files[] = {"config.json", "model.safetensors", "tokenizer.json", "chirp.json", "optimizer.safetensors"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/step_6/%s", run, files[i]);
        assert_true(path_exists(p));
    }
    snprintf(p, sizeof p, "%s/step_4/chirp.json", run);
    assert_true(path_exists(p));
    /* the manifest names the shard's sha256 and the data position */
    char hex[65];
    assert_int_equal(sha256_file_hex(shard, hex), 0);
    snprintf(p, sizeof p, "%s/step_6/chirp.json", run);
    char *man = file_read_all(p, NULL);
    assert_non_null(man);
    assert_non_null(strstr(man, hex));
    assert_non_null(strstr(man, "\"position_batches\": 6"));
    assert_non_null(strstr(man, "\"weight_decay\""));
    assert_non_null(strstr(man, "\"provenance\": {"));
    assert_non_null(strstr(man, "\"posts_kept\": 1234"));
    free(man);
    /* a checkpoint is a model directory */
    Gpt2Model m;
    snprintf(p, sizeof p, "%s/step_6", run);
    assert_int_equal(gpt2_load(&m, p), 0);
    assert_int_equal(m.cfg.vocab_size, 300);
    gpt2_free(&m);
    /* no temp directories left behind */
    snprintf(cmd, sizeof cmd, "ls -a %s | grep -c tmp", run);
    char *c = NULL;
    run_capture(cmd, &c);
    assert_int_equal(atoi(c), 0);
    free(c);
    /* eval is deterministic and plot writes an SVG */
    char *e1 = NULL, *e2 = NULL;
    snprintf(cmd, sizeof cmd, "%s eval --model %s/step_6 --data %s --batch 3 --seq 16", chirp_bin(), run, shard);
    assert_int_equal(run_capture(cmd, &e1), 0);
    assert_int_equal(run_capture(cmd, &e2), 0);
    assert_string_equal(e1, e2);
    assert_non_null(strstr(e1, "perplexity"));
    assert_non_null(strstr(e1, "tokens 1999"));
    free(e1);
    free(e2);
    snprintf(cmd, sizeof cmd, "%s plot %s", chirp_bin(), run);
    assert_int_equal(run_capture(cmd, NULL), 0);
    snprintf(p, sizeof p, "%s/loss.svg", run);
    char *svg = file_read_all(p, NULL);
    assert_non_null(svg);
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "<polyline"));
    free(svg);
    /* a tokenizer with more ids than the model has embeddings fails up front */
    snprintf(cmd, sizeof cmd,
             "%s train --train %s --layers 1 --heads 2 --embd 8 --ctx 16 --vocab 50 --batch 2 --seq 8 "
             "--steps 2 --tokenizer %s --out %s/run_small 2>&1",
             chirp_bin(), shard, tokjson, dir);
    char *err = NULL;
    assert_int_equal(run_capture(cmd, &err), 1);
    assert_non_null(strstr(err, "tokenizer has 265 ids but the model's vocabulary is 50"));
    free(err);
}

static void test_bad_token_and_shard(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char shard[512], cmd[4096];
    uint16_t tok[300];
    for (int i = 0; i < 300; i++) tok[i] = (uint16_t)(i % 40);
    tok[123] = 77; /* >= vocab 50 */
    snprintf(shard, sizeof shard, "%s/bad.bin", dir);
    test_write_shard(shard, tok, 300, 20240520);
    const char *arch = "--layers 1 --heads 2 --embd 8 --ctx 16 --vocab 50 --batch 2 --seq 8 --steps 20";
    snprintf(cmd, sizeof cmd, "%s train --train %s %s --out %s/run 2>&1", chirp_bin(), shard, arch, dir);
    char *out = NULL;
    assert_int_equal(run_capture(cmd, &out), 1);
    assert_non_null(strstr(out, "bad.bin"));
    assert_non_null(strstr(out, "offset 123"));
    free(out);
    test_write_shard(shard, tok, 300, 12345);
    assert_int_equal(run_capture(cmd, &out), 1);
    assert_non_null(strstr(out, "magic"));
    free(out);
    /* header claims more tokens than the file holds */
    FILE *f = fopen(shard, "wb");
    int32_t hdr[256] = {20240520, 1, 1000};
    fwrite(hdr, 4, 256, f);
    fwrite(tok, 2, 300, f);
    fclose(f);
    assert_int_equal(run_capture(cmd, &out), 1);
    assert_non_null(strstr(out, "truncated"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s train --train '%s/nothing_*.bin' %s --out %s/run 2>&1", chirp_bin(), dir, arch, dir);
    assert_int_equal(run_capture(cmd, &out), 1);
    free(out);
}

static void test_nan_stops(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    Gpt2Config c = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_ctx = 16, .vocab_size = 50, .ln_eps = 1e-5f};
    Gpt2Model m;
    assert_int_equal(gpt2_init_random(&m, &c, 1), 0);
    m.params.fcprojb[0] = NAN;
    char mdir[512], shard[512], cmd[4096];
    snprintf(mdir, sizeof mdir, "%s/model", dir);
    assert_int_equal(gpt2_save(&m, mdir), 0);
    gpt2_free(&m);
    snprintf(shard, sizeof shard, "%s/d.bin", dir);
    test_random_shard(shard, 500, 50, 4);
    snprintf(cmd, sizeof cmd, "%s train --train %s --init %s --batch 2 --seq 8 --steps 5 --out %s/run 2>&1",
             chirp_bin(), shard, mdir, dir);
    char *out = NULL;
    assert_int_equal(run_capture(cmd, &out), 1);
    assert_non_null(strstr(out, "not finite at step 1"));
    free(out);
}

static void test_usage_errors(void **state) {
    (void)state;
    char cmd[1024];
    const char *bad[] = {
        "train --train x.bin --model tiny",                             /* no --out */
        "train --out /tmp/x --model tiny",                              /* no --train */
        "train --train x.bin --out /tmp/x --model tiny --schedule zig", /* bad schedule */
        "train --train x.bin --out /tmp/x --model tiny --init /tmp/m",  /* two model sources */
        "train --train x.bin --out /tmp/x --layers 2 --heads 3 --embd 16 --ctx 8 --vocab 9",
        "train --train x.bin --out /tmp/x --model tiny --batch 0",
        "eval --data x.bin",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", chirp_bin(), bad[i]);
        assert_int_equal(run_capture(cmd, NULL), 2);
    }
    snprintf(cmd, sizeof cmd, "%s train --help", chirp_bin());
    char *out = NULL;
    assert_int_equal(run_capture(cmd, &out), 0);
    assert_non_null(strstr(out, "--grad-accum"));
    free(out);
}

static void test_sha256_vectors(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char p[512], hex[65];
    snprintf(p, sizeof p, "%s/abc", dir);
    assert_int_equal(file_write_atomic(p, "abc", 3), 0);
    assert_int_equal(sha256_file_hex(p, hex), 0);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(file_write_atomic(p, "", 0), 0);
    assert_int_equal(sha256_file_hex(p, hex), 0);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_bit_identical), cmocka_unit_test(test_checkpoint_layout_and_keep),
        cmocka_unit_test(test_bad_token_and_shard),  cmocka_unit_test(test_nan_stops),
        cmocka_unit_test(test_usage_errors),         cmocka_unit_test(test_sha256_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
