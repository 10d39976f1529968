/* test_llmc.c: llm.c's model files. The layout is checked against llm.c's
 * documented header and tensor order by reading our export by hand here
 * (offsets computed in this file, not by src/model/llmc.c); a version 5
 * (bf16) file written here the way llm.c's train_gpt2.py writes one loads
 * as the bf16-rounded model; both paths round-trip exactly; the CLI trains
 * from, evaluates and generates with a .bin; malformed files fail clearly. */
#include "testutil.h"

#include <math.h>

#include "model/llmc.h"
#include "util/error.h"
#include "util/file.h"

/* V = 300 is not a multiple of 128, so wte is padded to 384 rows. */
static const Gpt2Config tiny = {
    .n_layer = 2, .n_head = 2, .n_embd = 16, .n_ctx = 24, .vocab_size = 300, .ln_eps = 1e-5f};

/* Offsets (in elements) of the 16 tensors in an llm.c file, from llm.c's
 * write_tensors order and shapes (wte padded to Vp rows). */
static void file_offsets(const Gpt2Config *c, size_t vp, size_t off[17]) {
    size_t L = (size_t)c->n_layer, C = (size_t)c->n_embd, T = (size_t)c->n_ctx;
    size_t n[16] = {vp * C, T * C, L * C,         L * C,     L * 3 * C * C, L * 3 * C, L * C * C, L * C,
                    L * C,  L * C, L * 4 * C * C, L * 4 * C, L * C * 4 * C, L * C,     C,         C};
    off[0] = 0;
    for (int i = 0; i < 16; i++) off[i + 1] = off[i] + n[i];
}

static void test_export_layout_by_hand(void **state) {
    (void)state;
    Gpt2Model m;
    assert_int_equal(gpt2_init_random(&m, &tiny, 11), 0);
    const char *dir = test_tmpdir();
    char *path = path_join(dir, "model.bin");
    assert_int_equal(llmc_save(&m, path), 0);
    size_t len;
    char *raw = file_read_all(path, &len);
    int32_t h[256];
    memcpy(h, raw, sizeof h);
    assert_int_equal(h[0], 20240326);
    assert_int_equal(h[1], 3);
    assert_int_equal(h[2], 24);
    assert_int_equal(h[3], 300);
    assert_int_equal(h[4], 2);
    assert_int_equal(h[5], 2);
    assert_int_equal(h[6], 16);
    assert_int_equal(h[7], 384);
    for (int i = 8; i < 256; i++) assert_int_equal(h[i], 0);
    size_t off[17];
    file_offsets(&tiny, 384, off);
    assert_int_equal(len, 1024 + 4 * off[16]);
    const float *f = (const float *)(raw + 1024);
    const size_t C = 16;
    /* wte rows as they are, then zero padding rows. */
    assert_memory_equal(f, m.params.wte, 300 * C * sizeof(float));
    for (size_t i = 300 * C; i < 384 * C; i++) assert_true(f[i] == 0.0f);
    /* nn.Linear [out, in]: file qkvw[l][o][i] = chirp qkvw[l][i][o]. */
    for (size_t l = 0; l < 2; l++)
        for (size_t o = 0; o < 3 * C; o++)
            for (size_t i = 0; i < C; i++)
                assert_true(f[off[4] + l * 3 * C * C + o * C + i] == m.params.qkvw[l * C * 3 * C + i * 3 * C + o]);
    for (size_t l = 0; l < 2; l++)
        for (size_t o = 0; o < C; o++)
            for (size_t i = 0; i < 4 * C; i++)
                assert_true(f[off[12] + l * 4 * C * C + o * 4 * C + i] == m.params.fcprojw[l * 4 * C * C + i * C + o]);
    assert_memory_equal(f + off[13], m.params.fcprojb, 2 * C * sizeof(float));
    assert_memory_equal(f + off[15], m.params.lnfb, C * sizeof(float));
    /* And back: bit for bit. */
    Gpt2Model back;
    assert_int_equal(llmc_load(&back, path), 0);
    assert_int_equal(back.num_params, m.num_params);
    assert_memory_equal(back.param_buf, m.param_buf, m.num_params * sizeof(float));
    assert_int_equal(back.cfg.vocab_size, 300);
    gpt2_free(&back);
    /* gpt2_load takes the file where it takes a directory. */
    assert_int_equal(gpt2_load(&back, path), 0);
    assert_memory_equal(back.param_buf, m.param_buf, m.num_params * sizeof(float));
    gpt2_free(&back);
    free(raw);
    free(path);
    gpt2_free(&m);
}

/* torch's float -> bfloat16: round to nearest even. */
static uint16_t to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static float from_bf16(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* A version 5 file, written here tensor by tensor as train_gpt2.py does. */
static void write_bf16_file(const Gpt2Model *m, const char *path) {
    const Gpt2Config *c = &m->cfg;
    size_t L = (size_t)c->n_layer, C = (size_t)c->n_embd, V = (size_t)c->vocab_size, vp = 384;
    FILE *f = fopen(path, "wb");
    int32_t h[256] = {20240326, 5, c->n_ctx, c->vocab_size, c->n_layer, c->n_head, c->n_embd, (int32_t)vp};
    fwrite(h, sizeof h, 1, f);
    const Gpt2Params *p = &m->params;
#define PUT(x)                    \
    do {                          \
        uint16_t b_ = to_bf16(x); \
        fwrite(&b_, 2, 1, f);     \
    } while (0)
    for (size_t i = 0; i < vp * C; i++) PUT(i < V * C ? p->wte[i] : 0.0f);
    for (size_t i = 0; i < (size_t)c->n_ctx * C; i++) PUT(p->wpe[i]);
    for (size_t i = 0; i < L * C; i++) PUT(p->ln1w[i]);
    for (size_t i = 0; i < L * C; i++) PUT(p->ln1b[i]);
    const struct {
        const float *w;
        size_t in, out;
    } lin[4] = {{p->qkvw, C, 3 * C}, {p->attprojw, C, C}, {p->fcw, C, 4 * C}, {p->fcprojw, 4 * C, C}};
    const float *bias[4] = {p->qkvb, p->attprojb, p->fcb, p->fcprojb};
    for (int k = 0; k < 4; k++) {
        size_t in = lin[k].in, out = lin[k].out;
        for (size_t l = 0; l < L; l++)
            for (size_t o = 0; o < out; o++)
                for (size_t i = 0; i < in; i++) PUT(lin[k].w[l * in * out + i * out + o]);
        for (size_t i = 0; i < L * out; i++) PUT(bias[k][i]);
        if (k == 1) { /* ln_2 comes between the attention and the MLP */
            for (size_t i = 0; i < L * C; i++) PUT(p->ln2w[i]);
            for (size_t i = 0; i < L * C; i++) PUT(p->ln2b[i]);
        }
    }
    for (size_t i = 0; i < C; i++) PUT(p->lnfw[i]);
    for (size_t i = 0; i < C; i++) PUT(p->lnfb[i]);
#undef PUT
    fclose(f);
}

static void test_bf16_version_5(void **state) {
    (void)state;
    Gpt2Model m;
    assert_int_equal(gpt2_init_random(&m, &tiny, 12), 0);
    const char *dir = test_tmpdir();
    char *path = path_join(dir, "model_bf16.bin");
    write_bf16_file(&m, path);
    Gpt2Model back;
    if (llmc_load(&back, path) != 0) fail_msg("%s", chirp_error());
    for (size_t i = 0; i < m.num_params; i++) {
        float want = from_bf16(to_bf16(m.param_buf[i]));
        if (back.param_buf[i] != want) fail_msg("param %zu: %g, expected %g", i, back.param_buf[i], want);
    }
    gpt2_free(&back);
    free(path);
    gpt2_free(&m);
}

static void test_malformed(void **state) {
    (void)state;
    Gpt2Model m;
    assert_int_equal(gpt2_init_random(&m, &tiny, 13), 0);
    const char *dir = test_tmpdir();
    char *path = path_join(dir, "m.bin");
    assert_int_equal(llmc_save(&m, path), 0);
    size_t len;
    unsigned char *raw = (unsigned char *)file_read_all(path, &len);
    Gpt2Model out;
    assert_int_equal(llmc_parse(&out, raw, len - 4, "short.bin"), -1);
    assert_non_null(strstr(chirp_error(), "needs"));
    int32_t v = 4;
    memcpy(raw + 4, &v, 4);
    assert_int_equal(llmc_parse(&out, raw, len, "v4.bin"), -1);
    assert_non_null(strstr(chirp_error(), "version 4"));
    v = 3;
    memcpy(raw + 4, &v, 4);
    int32_t huge = 1 << 30;
    memcpy(raw + 16, &huge, 4); /* layers */
    assert_int_equal(llmc_parse(&out, raw, len, "huge.bin"), -1);
    assert_non_null(strstr(chirp_error(), "implausible"));
    free(raw);
    free(path);
    gpt2_free(&m);
}

/* export --format llmc, then train --init, eval and generate on the .bin. */
static void test_cli(void **state) {
    (void)state;
    char mdir[512];
    assert_int_equal(test_tiny_model(mdir, sizeof mdir, 21), 0);
    char cmd[8192], bin[600], shard[600];
    snprintf(bin, sizeof bin, "%s/m.bin", mdir);
    snprintf(cmd, sizeof cmd, "%s export --model %s --format llmc --out %s 2>&1", chirp_bin(), mdir, bin);
    char *out = NULL;
    assert_int_equal(run_capture(cmd, &out), 0);
    assert_non_null(strstr(out, "llm.c version 3"));
    free(out);
    /* A shard of the model's own tokens. */
    snprintf(shard, sizeof shard, "%s/train_000.bin", mdir);
    FILE *f = fopen(shard, "wb");
    int32_t h[256] = {20240520, 1, 2000};
    fwrite(h, sizeof h, 1, f);
    for (int i = 0; i < 2000; i++) {
        uint16_t t = (uint16_t)((i * 37 + i / 7) % 300);
        fwrite(&t, 2, 1, f);
    }
    fclose(f);
    char *losses[2];
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "%s eval --model %s --data %s --seq 32 2>&1", chirp_bin(), k ? bin : mdir, shard);
        assert_int_equal(run_capture(cmd, &losses[k]), 0);
    }
    assert_string_equal(losses[0], losses[1]); /* the same model, so the same loss */
    free(losses[0]);
    free(losses[1]);
    snprintf(cmd, sizeof cmd,
             "%s train --train %s --init %s --tokenizer %s/tokenizer.json --batch 2 --seq 32 --steps 3"
             " --out %s/run 2>&1",
             chirp_bin(), shard, bin, mdir, mdir);
    out = NULL;
    int rc = run_capture(cmd, &out);
    if (rc != 0) fail_msg("train --init FILE.bin: %s", out);
    assert_non_null(strstr(out, "step 3 loss"));
    free(out);
    snprintf(cmd, sizeof cmd,
             "%s generate --model %s --tokenizer %s/tokenizer.json --prompt 'Once upon' --temperature 0"
             " --max-tokens 12 2>/dev/null",
             chirp_bin(), bin, mdir);
    char *a = NULL, *b = NULL;
    assert_int_equal(run_capture(cmd, &a), 0);
    snprintf(cmd, sizeof cmd, "%s generate --model %s --prompt 'Once upon' --temperature 0 --max-tokens 12 2>/dev/null",
             chirp_bin(), mdir);
    assert_int_equal(run_capture(cmd, &b), 0);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_layout_by_hand),
        cmocka_unit_test(test_bf16_version_5),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
