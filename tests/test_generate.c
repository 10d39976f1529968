/* test_generate.c: chirp generate and chirp quantize end to end, and the
 * generation loop's UTF-8 and stop-string safe streaming.
 *
 * Uses a random model with a tokenizer trained in setup. */
#include "testutil.h"

#include "compute/bf16.h"
#include "infer/generate.h"
#include "model/gpt2.h"
#include "model/safetensors.h"
#include "util/file.h"
#include "util/error.h"

/* The model of test_tiny_model (testutil.h). */
static char model_dir[512], tok_dir[600];

static int setup(void **state) {
    (void)state;
    if (test_tiny_model(model_dir, sizeof model_dir, 9) != 0) return -1;
    snprintf(tok_dir, sizeof tok_dir, "%s/tokenizer.json", model_dir);
    return 0;
}

/* Runs chirp with args; stdout into *out, stderr into *err (both optional). */
static int chirp(const char *args, char **out, char **err) {
    char errfile[] = "/tmp/chirp-gen-err-XXXXXX";
    int fd = mkstemp(errfile);
    close(fd);
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "%s %s 2>%s", chirp_bin(), args, errfile);
    int rc = run_capture(cmd, out);
    if (err) {
        FILE *f = fopen(errfile, "r");
        size_t cap = 1 << 16;
        *err = calloc(cap, 1);
        size_t n = fread(*err, 1, cap - 1, f);
        (*err)[n] = '\0';
        fclose(f);
    }
    unlink(errfile);
    return rc;
}

static char *gen_args(const char *extra) {
    static char buf[12288 + 4096];
    snprintf(buf, sizeof buf, "generate --model %s --tokenizer %s --threads 2 %s", model_dir, tok_dir, extra);
    return buf;
}

static void test_same_seed_same_text(void **state) {
    (void)state;
    char *a = NULL, *b = NULL, *c = NULL, *err = NULL;
    assert_int_equal(chirp(gen_args("--prompt 'The bird said' --max-tokens 40 --seed 7 --top-k 50"), &a, &err), 0);
    assert_int_equal(chirp(gen_args("--prompt 'The bird said' --max-tokens 40 --seed 7 --top-k 50"), &b, NULL), 0);
    assert_int_equal(chirp(gen_args("--prompt 'The bird said' --max-tokens 40 --seed 8 --top-k 50"), &c, NULL), 0);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_true(strlen(a) > 40);
    /* The prompt is not echoed; speeds are on stderr. */
    assert_null(strstr(a, "The bird said"));
    assert_non_null(strstr(err, "tok/s"));
    assert_non_null(strstr(err, "generation: 40 tokens"));
    free(a);
    free(b);
    free(c);
    free(err);
}

static void test_n_samples_and_int8(void **state) {
    (void)state;
    char *out = NULL, *err = NULL;
    assert_int_equal(chirp(gen_args("--prompt 'Hello' --max-tokens 8 --seed 1 --n 3 --quant int8"), &out, &err), 0);
    int seps = 0;
    for (char *p = out; (p = strstr(p, "\n---\n")); p++) seps++;
    assert_int_equal(seps, 2);
    assert_non_null(strstr(err, "int8"));
    free(out);
    free(err);
}

/* A stop string cuts the text before its first occurrence. */
static void test_stop_string(void **state) {
    (void)state;
    char *full = NULL, *cut = NULL;
    assert_int_equal(chirp(gen_args("--prompt 'Once upon a time' --max-tokens 30 --temperature 0"), &full, NULL), 0);
    size_t len = strlen(full);
    assert_true(len > 20);
    /* Stop at a piece of the greedy text's second half. */
    char stop[5];
    memcpy(stop, full + len / 2, 4);
    stop[4] = '\0';
    if (strchr(stop, '\'') || strchr(stop, '\n') || strchr(stop, '\\')) skip();
    char extra[256];
    snprintf(extra, sizeof extra, "--prompt 'Once upon a time' --max-tokens 30 --temperature 0 --stop '%s'", stop);
    assert_int_equal(chirp(gen_args(extra), &cut, NULL), 0);
    size_t at = (size_t)(strstr(full, stop) - full);
    assert_int_equal(strlen(cut), at + 1); /* + the final newline */
    assert_memory_equal(cut, full, at);
    free(full);
    free(cut);
}

static void test_prompt_too_long(void **state) {
    (void)state;
    /* The model has a context of 128 tokens. */
    char path[] = "/tmp/chirp-long-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < 200; i++) fprintf(f, "word%d ", i);
    fclose(f);
    char extra[512], *out = NULL, *err = NULL;
    snprintf(extra, sizeof extra, "--prompt-file %s --max-tokens 5", path);
    assert_int_equal(chirp(gen_args(extra), &out, &err), 1);
    assert_non_null(strstr(err, "--truncate"));
    assert_int_equal(strchr(err, '\n') - err + 1, (long)strlen(err)); /* one line */
    free(out);
    free(err);
    snprintf(extra, sizeof extra, "--prompt-file %s --max-tokens 5 --truncate --seed 1", path);
    assert_int_equal(chirp(gen_args(extra), &out, &err), 0);
    assert_non_null(strstr(err, "truncated"));
    assert_non_null(strstr(err, "generation: 5 tokens"));
    free(out);
    free(err);
    unlink(path);
}

static void test_usage_errors(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(chirp("generate --prompt hi", &out, NULL), 2);
    free(out);
    assert_int_equal(chirp("generate --model x --quant int4", &out, NULL), 2);
    free(out);
    assert_int_equal(chirp("generate --model x --top-p 1.5", &out, NULL), 2);
    free(out);
    assert_int_equal(chirp("generate --model x --prompt a --prompt-file b", &out, NULL), 2);
    free(out);
    assert_int_equal(chirp("quantize --model x", &out, NULL), 2);
    free(out);
    assert_int_equal(chirp("quantize --model x --out y --type int4", &out, NULL), 2);
    free(out);
    char *err = NULL;
    assert_int_equal(chirp("generate --model /nonexistent/model", &out, &err), 1);
    assert_non_null(strstr(err, "/nonexistent/model"));
    free(out);
    free(err);
    assert_int_equal(chirp("generate --help", &out, NULL), 0);
    assert_non_null(strstr(out, "--repetition-penalty"));
    free(out);
}

/* chirp quantize writes a directory that generate loads; greedy text from
 * it equals on-the-fly int8 quantization of the same model. */
static void test_quantize_cli(void **state) {
    (void)state;
    char *q = path_join(test_tmpdir(), "q8");
    char args[8192], *out = NULL, *err = NULL, *a = NULL, *b = NULL;
    snprintf(args, sizeof args, "quantize --model %s --out %s --type int8", model_dir, q);
    assert_int_equal(chirp(args, &out, &err), 0);
    free(out);
    free(err);
    snprintf(args, sizeof args,
             "generate --model %s --tokenizer %s --prompt 'Good morning' --max-tokens 20 --temperature 0", q, tok_dir);
    assert_int_equal(chirp(args, &a, NULL), 0);
    assert_int_equal(chirp(gen_args("--prompt 'Good morning' --max-tokens 20 --temperature 0 --quant int8"), &b, NULL),
                     0);
    assert_string_equal(a, b);
    free(a);
    free(b);
    free(q);
}

/* --type bf16: a Hugging Face directory of BF16 tensors (each the fp32
 * value rounded) that generate runs as bf16 without being told, with the
 * text of --quant bf16 on the fp32 model; the bf16 run also shows in the
 * speed line. */
static void test_quantize_bf16_cli(void **state) {
    (void)state;
    char *q = path_join(test_tmpdir(), "bf16");
    char args[8192], *out = NULL, *err = NULL, *a = NULL, *b = NULL, *e = NULL;
    snprintf(args, sizeof args, "quantize --model %s --out %s --type bf16", model_dir, q);
    assert_int_equal(chirp(args, &out, &err), 0);
    assert_non_null(strstr(err, "bf16:"));
    free(out);
    free(err);
    char *cfg = path_join(q, "config.json"), *w = path_join(q, "model.safetensors");
    size_t len;
    char *text = file_read_all(cfg, &len);
    assert_non_null(strstr(text, "\"torch_dtype\": \"bfloat16\""));
    free(text);
    StFile f;
    assert_int_equal(st_open(&f, w), 0);
    Gpt2Model m;
    assert_int_equal(gpt2_load(&m, model_dir), 0);
    for (int i = 0; i < gpt2_tensor_count(&m.cfg); i++) {
        Gpt2TensorInfo ti;
        gpt2_tensor_info(&m.cfg, i, &ti);
        const StTensor *t = st_find(&f, ti.name);
        assert_non_null(t);
        assert_string_equal(t->dtype, "BF16");
        for (size_t j = 0; j < ti.numel; j++) {
            uint16_t h;
            memcpy(&h, (const unsigned char *)t->data + 2 * j, 2);
            if (h != bf16_from_f32(m.param_buf[ti.offset + j])) fail_msg("%s[%zu] is not the rounded fp32", ti.name, j);
        }
    }
    st_close(&f);
    gpt2_free(&m);
    snprintf(args, sizeof args,
             "generate --model %s --tokenizer %s --prompt 'Good morning' --max-tokens 20 --temperature 0", q, tok_dir);
    assert_int_equal(chirp(args, &a, &e), 0);
    assert_non_null(strstr(e, "(bf16 (")); /* "(AMX tiles)" or "(widened to fp32)" */
    assert_int_equal(chirp(gen_args("--prompt 'Good morning' --max-tokens 20 --temperature 0 --quant bf16"), &b, NULL),
                     0);
    assert_string_equal(a, b);
    free(a), free(b), free(e), free(cfg), free(w), free(q);
}

/* ---- streaming ---- */

typedef struct Sink {
    char text[4096];
    size_t len;
    int writes;
} Sink;

static void sink_write(void *ctx, const char *b, size_t n) {
    Sink *k = ctx;
    memcpy(k->text + k->len, b, n);
    k->len += n;
    k->text[k->len] = '\0';
    k->writes++;
}

/* A character split across tokens is written whole, once complete. */
static void test_stream_utf8_split(void **state) {
    (void)state;
    Sink k = {0};
    GenStream g;
    gen_stream_init(&g, NULL, 0, sink_write, &k);
    assert_int_equal(gen_stream_push(&g, "price \xe2", 7), 0);
    assert_string_equal(k.text, "price ");
    assert_int_equal(gen_stream_push(&g, "\x82", 1), 0);
    assert_string_equal(k.text, "price ");
    assert_int_equal(gen_stream_push(&g, "\xac!", 2), 0);
    assert_string_equal(k.text, "price \xe2\x82\xac!");
    assert_int_equal(gen_stream_push(&g, "\xf0\x9f", 2), 0); /* half an emoji, never finished */
    gen_stream_finish(&g);
    assert_int_equal(k.len, 12); /* flushed at the end rather than lost */
    free(g.buf);
}

/* A stop string is never written, even when it arrives in pieces, and a
 * near miss is written once it is known not to be one. */
static void test_stream_stop_strings(void **state) {
    (void)state;
    const char *stops[2] = {"\nUser:", "END"};
    Sink k = {0};
    GenStream g;
    gen_stream_init(&g, stops, 2, sink_write, &k);
    assert_int_equal(gen_stream_push(&g, "hello", 5), 0);
    assert_int_equal(gen_stream_push(&g, "\nUs", 3), 0);
    assert_string_equal(k.text, "hello"); /* "\nUs" held: could be a stop */
    assert_int_equal(gen_stream_push(&g, "ed to", 5), 0);
    assert_string_equal(k.text, "hello\nUsed to");
    assert_int_equal(gen_stream_push(&g, " E", 2), 0);
    assert_string_equal(k.text, "hello\nUsed to ");
    assert_int_equal(gen_stream_push(&g, "NDING", 5), 1);
    gen_stream_finish(&g);
    assert_string_equal(k.text, "hello\nUsed to ");
    assert_string_equal(g.buf, "hello\nUsed to ");
    free(g.buf);
}

/* The generation loop with a real model: a fresh post from <|endoftext|>
 * stops at max tokens, and the text returned is what was written. */
static void test_generate_loop(void **state) {
    (void)state;
    Tokenizer *tok = tokenizer_load(tok_dir);
    assert_non_null(tok);
    InferModel m;
    assert_int_equal(infer_model_load(&m, model_dir, INFER_F32), 0);
    InferState *st = infer_state_new(&m);
    SamplerConfig sc;
    sampler_config_default(&sc);
    sc.seed = 3;
    Sampler *sm = sampler_new(&sc, m.cfg.vocab_size);
    int32_t start = tokenizer_eot_id(tok);
    GenOptions go = {.max_tokens = 30};
    static Sink k;
    memset(&k, 0, sizeof k);
    GenResult r;
    assert_int_equal(generate(st, sm, tok, &start, 1, &go, NULL, sink_write, &k, &r), 0);
    assert_int_equal(r.new_tokens, 30);
    assert_string_equal(r.stopped, "max-tokens");
    assert_int_equal(st->pos, 31); /* prompt + every sampled token in the cache */
    assert_int_equal(k.len, r.text_len);
    assert_memory_equal(k.text, r.text, r.text_len);
    gen_result_destroy(&r);
    sampler_free(sm);
    infer_state_free(st);
    infer_model_destroy(&m);
    tokenizer_free(tok);
}

static void test_utf8_complete_prefix(void **state) {
    (void)state;
    assert_int_equal(gen_utf8_complete_prefix("abc", 3), 3);
    assert_int_equal(gen_utf8_complete_prefix("ab\xe2\x82", 4), 2);     /* 3-byte char, 2 present */
    assert_int_equal(gen_utf8_complete_prefix("ab\xe2\x82\xac", 5), 5); /* € complete */
    assert_int_equal(gen_utf8_complete_prefix("\xf0\x9f\x90", 3), 0);   /* emoji, 3 of 4 */
    assert_int_equal(gen_utf8_complete_prefix("\xf0\x9f\x90\xa6", 4), 4);
    assert_int_equal(gen_utf8_complete_prefix("a\x80\x80\x80\x80", 5), 5); /* junk is not held */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_text),  cmocka_unit_test(test_n_samples_and_int8),
        cmocka_unit_test(test_stop_string),          cmocka_unit_test(test_prompt_too_long),
        cmocka_unit_test(test_usage_errors),         cmocka_unit_test(test_quantize_cli),
        cmocka_unit_test(test_quantize_bf16_cli),    cmocka_unit_test(test_stream_utf8_split),
        cmocka_unit_test(test_stream_stop_strings),  cmocka_unit_test(test_generate_loop),
        cmocka_unit_test(test_utf8_complete_prefix),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
