/* test_infer.c: the inference forward pass: PyTorch fixtures, KV cache vs
 * full recomputation, prefill vs step-by-step, context overflow. */
#include "testutil.h"

#include <math.h>

#include "compute/bf16.h"
#include "infer/infer.h"
#include "util/error.h"
#include "util/file.h"

/* Overridable to explore other models (-DWTE_SCALE=...). */
#ifndef WTE_SCALE
#define WTE_SCALE 5.0f
#define WPE_SCALE 20.0f
#define QKV_SCALE 10.0f
#endif

/* ---- fixture from tests/ref/infer_ref.py ---- */

#define FIX_MAX 64
typedef struct Fixture {
    int32_t prompt[FIX_MAX];
    int nprompt;
    int logit_pos[4];
    float *logits[4];
    int nlogits;
    int32_t greedy[FIX_MAX];
    int ngreedy;
} Fixture;

static int read_ids(char *s, int32_t *out) {
    int n = 0;
    for (char *tok = strtok(s, " \n"); tok && n < FIX_MAX; tok = strtok(NULL, " \n")) out[n++] = atoi(tok);
    return n;
}

static void fixture_load(Fixture *f, const char *path, int V) {
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    while (fgets(line, (int)cap, fp)) {
        if (!strncmp(line, "prompt ", 7)) f->nprompt = read_ids(line + 7, f->prompt);
        else if (!strncmp(line, "greedy ", 7)) f->ngreedy = read_ids(line + 7, f->greedy);
        else if (!strncmp(line, "logits ", 7)) {
            char *p = line + 7;
            int k = f->nlogits++;
            f->logit_pos[k] = (int)strtol(p, &p, 10);
            f->logits[k] = malloc((size_t)V * sizeof(float));
            for (int i = 0; i < V; i++) f->logits[k][i] = strtof(p, &p);
        }
    }
    free(line);
    fclose(fp);
    assert_true(f->nprompt > 0 && f->ngreedy > 0 && f->nlogits > 0);
}

static void fixture_free(Fixture *f) {
    for (int i = 0; i < f->nlogits; i++) free(f->logits[i]);
}

static int32_t argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* Logits of the prompt (batched, all positions) and the KV-cache greedy
 * continuation must match PyTorch's. Tolerance: float32 sums over at most
 * 256 terms, ~1e-6 relative; 2e-4 absolute on logits of order 1 leaves room
 * for a different summation order (sgemm blocking, AVX-512 lanes). */
static void check_against_fixture(const char *model_name, InferQuant quant, float tol, int check_greedy) {
    char rel[256], fix[256];
    snprintf(rel, sizeof rel, "gpt2-train-ref/%s", model_name);
    const char *dir = testdata_path(rel);
    if (!dir) skip();
    char dirbuf[4096];
    snprintf(dirbuf, sizeof dirbuf, "%s", dir);
    InferModel m;
    assert_int_equal(infer_model_load(&m, dirbuf, quant), 0);
    int V = m.cfg.vocab_size;
    snprintf(fix, sizeof fix, "tests/fixtures/infer_%s.txt", model_name);
    Fixture f;
    fixture_load(&f, fix, V);

    InferState *s = infer_state_new(&m);
    float *all = malloc((size_t)f.nprompt * V * sizeof(float));
    assert_non_null(infer_prefill(s, f.prompt, f.nprompt, all));
    float maxdiff = 0.0f;
    for (int k = 0; k < f.nlogits; k++) {
        const float *mine = all + (size_t)f.logit_pos[k] * V;
        for (int i = 0; i < V; i++) maxdiff = fmaxf(maxdiff, fabsf(mine[i] - f.logits[k][i]));
    }
    printf("  %s (%s): max |logit - torch| = %.3g\n", model_name, quant == INFER_INT8 ? "int8" : "fp32", maxdiff);
    assert_true(maxdiff < tol);

    if (check_greedy) {
        /* The prefill above left the cache holding the prompt. */
        const float *lg = s->logits;
        for (int i = 0; i < f.ngreedy; i++) {
            int32_t t = argmax(lg, V);
            assert_int_equal(t, f.greedy[i]);
            if (i + 1 < f.ngreedy) lg = infer_step(s, t);
        }
    }
    free(all);
    infer_state_free(s);
    fixture_free(&f);
    infer_model_destroy(&m);
}

static void test_fixture_tiny_init(void **state) {
    (void)state;
    check_against_fixture("tiny-init", INFER_F32, 2e-4f, 1);
}

static void test_fixture_tiny_after20(void **state) {
    (void)state;
    check_against_fixture("tiny-after20-f32", INFER_F32, 2e-4f, 1);
}

/* int8 is not expected to reproduce the logits exactly: the error bound
 * checks that quantization is wired right (a swapped layout or a wrong
 * scale gives errors of order 1). */
static void test_fixture_int8_close(void **state) {
    (void)state;
    check_against_fixture("tiny-after20-f32", INFER_INT8, 0.05f, 0);
}

/* A random model whose greedy path is neither decided by float rounding
 * nor stuck on one token: plain GPT-2 init repeats one token forever, so
 * token embeddings are scaled up (peaked logits), position embeddings more
 * (the state moves with the position) and c_attn too (sharp attention, so
 * the cached keys and values matter). n_ctx 256 so 200 tokens fit. */
static void make_model_c(Gpt2Model *g, int ctx, int C, unsigned long long seed) {
    Gpt2Config cfg = {.n_layer = 2, .n_head = 4, .n_embd = C, .n_ctx = ctx, .vocab_size = 300, .ln_eps = 1e-5f};
    assert_int_equal(gpt2_init_random(g, &cfg, seed), 0);
    size_t n = (size_t)cfg.vocab_size * cfg.n_embd;
    for (size_t i = 0; i < n; i++) g->params.wte[i] *= WTE_SCALE;
    n = (size_t)cfg.n_ctx * cfg.n_embd;
    for (size_t i = 0; i < n; i++) g->params.wpe[i] *= WPE_SCALE;
    n = (size_t)cfg.n_layer * cfg.n_embd * 3 * cfg.n_embd;
    for (size_t i = 0; i < n; i++) g->params.qkvw[i] *= QKV_SCALE;
}

static void make_model(Gpt2Model *g, int ctx, unsigned long long seed) { make_model_c(g, ctx, 64, seed); }

/* Greedy decoding with the KV cache (one step per token) against
 * recomputing the whole sequence from scratch for every token. */
static void kv_vs_full(InferQuant quant) {
    Gpt2Model g;
    make_model(&g, 256, 11);
    InferModel m;
    assert_int_equal(infer_model_init(&m, &g, quant), 0);
    int V = m.cfg.vocab_size, N = 200;
    int32_t seq[256] = {5, 17, 2, 250, 99, 3};
    int np = 6;
    InferState *kv = infer_state_new(&m), *full = infer_state_new(&m);
    const float *lk = infer_prefill(kv, seq, np, NULL);
    assert_non_null(lk);
    float maxdiff = 0.0f;
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        infer_state_reset(full);
        const float *lf = infer_prefill(full, seq, np + i, NULL);
        assert_non_null(lf);
        for (int v = 0; v < V; v++) maxdiff = fmaxf(maxdiff, fabsf(lk[v] - lf[v]));
        int32_t tk = argmax(lk, V), tf = argmax(lf, V);
        assert_int_equal(tk, tf);
        if (i == 0 || tk != seq[np + i - 1]) distinct++;
        seq[np + i] = tk;
        lk = infer_step(kv, tk);
        assert_non_null(lk);
    }
    printf("  %s: 200 greedy tokens equal, %d token changes, max |logit diff| %.3g\n",
           quant == INFER_INT8   ? "int8"
           : quant == INFER_BF16 ? "bf16"
                                 : "fp32",
           distinct, maxdiff);
    /* Every position's arithmetic is the same however tokens are grouped
     * into forwards (kern_matmul_rows_in_out), so the cache is exact. */
    assert_true(maxdiff == 0.0f);
    /* The test is only meaningful if the sequence is not one token over and over. */
    assert_true(distinct > 10);
    infer_state_free(kv);
    infer_state_free(full);
    infer_model_destroy(&m);
    gpt2_free(&g);
}

static void test_kv_cache_equals_full_recompute(void **state) {
    (void)state;
    kv_vs_full(INFER_F32);
}

static void test_kv_cache_equals_full_recompute_int8(void **state) {
    (void)state;
    kv_vs_full(INFER_INT8);
}

/* Prefill in chunks (as chat does when it appends a turn) gives the same
 * logits as one batched prefill, bit for bit. */
static void test_chunked_prefill(void **state) {
    (void)state;
    Gpt2Model g;
    make_model(&g, 64, 3);
    InferModel m;
    assert_int_equal(infer_model_init(&m, &g, INFER_F32), 0);
    int32_t toks[40];
    for (int i = 0; i < 40; i++) toks[i] = (i * 37 + 11) % 300;
    InferState *a = infer_state_new(&m), *b = infer_state_new(&m);
    const float *la = infer_prefill(a, toks, 40, NULL);
    assert_non_null(infer_prefill(b, toks, 13, NULL));
    assert_non_null(infer_prefill(b, toks + 13, 20, NULL));
    const float *lb = infer_prefill(b, toks + 33, 7, NULL);
    assert_memory_equal(la, lb, 300 * sizeof(float));
    infer_state_free(a);
    infer_state_free(b);
    infer_model_destroy(&m);
    gpt2_free(&g);
}

/* Batch invariance: sequences run together in one infer_forward (prompt
 * chunks of different lengths beside single decoding steps) get exactly
 * the logits and caches they get alone. C = 80 is not a multiple of the
 * kernel's 64-column tile, so the masked tails are covered too. */
static void batch_invariance(InferQuant quant, int C) {
    Gpt2Model g;
    make_model_c(&g, 64, C, 7);
    InferModel m;
    assert_int_equal(infer_model_init(&m, &g, quant), 0);
    enum { NS = 6 };
    int plen[NS] = {1, 5, 9, 3, 17, 2};
    int32_t toks[NS][40];
    for (int i = 0; i < NS; i++)
        for (int t = 0; t < 40; t++) toks[i][t] = (i * 53 + t * 29 + 1) % 300;
    InferState *alone[NS], *batched[NS];
    for (int i = 0; i < NS; i++) {
        alone[i] = infer_state_new(&m);
        batched[i] = infer_state_new(&m);
    }
    InferScratch *scratch = infer_scratch_new(&m);
    /* Round 0: every sequence's prompt in one forward; then rounds where
     * sequence i gets i % 3 + 1 more tokens, all together. */
    int done[NS] = {0};
    for (int round = 0; round < 4; round++) {
        InferSeq seqs[NS];
        for (int i = 0; i < NS; i++) {
            int n = round == 0 ? plen[i] : i % 3 + 1;
            seqs[i] = (InferSeq){.st = batched[i], .tokens = toks[i] + done[i], .n = n, .want_logits = 1};
            assert_non_null(infer_prefill(alone[i], toks[i] + done[i], n, NULL));
            done[i] += n;
        }
        assert_int_equal(infer_forward(scratch, seqs, NS), 0);
        for (int i = 0; i < NS; i++) {
            assert_int_equal(alone[i]->pos, batched[i]->pos);
            assert_memory_equal(alone[i]->logits, batched[i]->logits, 300 * sizeof(float));
        }
    }
    size_t layer = (size_t)m.cfg.n_ctx * C;
    for (int i = 0; i < NS; i++) {
        for (int l = 0; l < m.cfg.n_layer; l++)
            assert_memory_equal(alone[i]->k_cache + l * layer, batched[i]->k_cache + l * layer,
                                (size_t)done[i] * C * sizeof(float));
        infer_state_free(alone[i]);
        infer_state_free(batched[i]);
    }
    infer_scratch_free(scratch);
    infer_model_destroy(&m);
    gpt2_free(&g);
}

static void test_batch_invariance_fp32(void **state) {
    (void)state;
    batch_invariance(INFER_F32, 64);
    batch_invariance(INFER_F32, 80);
}

static void test_batch_invariance_int8(void **state) {
    (void)state;
    batch_invariance(INFER_INT8, 64);
}

/* bf16 runs on the AMX tiles where the CPU has them, else on the vector
 * kernels (infer_bf16_kernel); CHIRP_BF16_TILES picks one. Sets the
 * variable for kernel 0 (vector) or 1 (tiles) and says whether this CPU
 * can run it. */
static int use_bf16_kernel(int tiles) {
    if (tiles && !tiles_available()) {
        printf("  no AMX here: the tiles' case is skipped\n");
        return 0;
    }
    setenv("CHIRP_BF16_TILES", tiles ? "1" : "0", 1);
    return 1;
}

static void test_batch_invariance_bf16(void **state) {
    (void)state;
    for (int tiles = 0; tiles < 2; tiles++) {
        if (!use_bf16_kernel(tiles)) continue;
        batch_invariance(INFER_BF16, 64);
        batch_invariance(INFER_BF16, 80);
    }
    unsetenv("CHIRP_BF16_TILES");
}

static void test_kv_cache_equals_full_recompute_bf16(void **state) {
    (void)state;
    for (int tiles = 0; tiles < 2; tiles++)
        if (use_bf16_kernel(tiles)) kv_vs_full(INFER_BF16);
    unsetenv("CHIRP_BF16_TILES");
}

/* On the tiles, bf16 rounds the activations too: the logits are no
 * longer the widened model's bit for bit, but stay within the same 2% of
 * the largest logit of fp32's, and the model says which kernel it runs.
 * A bad CHIRP_BF16_TILES is an error, not a silent default. */
static void test_bf16_on_tiles(void **state) {
    (void)state;
    setenv("CHIRP_BF16_TILES", "yes", 1);
    assert_int_equal(infer_bf16_kernel(), -1);
    assert_non_null(strstr(chirp_error(), "CHIRP_BF16_TILES must be 0 or 1"));
    if (!use_bf16_kernel(1)) {
        setenv("CHIRP_BF16_TILES", "1", 1);
        assert_int_equal(infer_bf16_kernel(), -1);
        assert_non_null(strstr(chirp_error(), "no AMX"));
        unsetenv("CHIRP_BF16_TILES");
        skip();
    }
    Gpt2Model g;
    make_model_c(&g, 64, 80, 5);
    InferModel t, w, full;
    assert_int_equal(infer_model_init(&t, &g, INFER_BF16), 0);
    assert_true(t.tiles);
    assert_string_equal(infer_model_kernel(&t), "bf16 (AMX tiles)");
    use_bf16_kernel(0);
    assert_int_equal(infer_model_init(&w, &g, INFER_BF16), 0);
    assert_false(w.tiles);
    assert_string_equal(infer_model_kernel(&w), "bf16 (widened to fp32)");
    unsetenv("CHIRP_BF16_TILES");
    assert_int_equal(infer_model_init(&full, &g, INFER_F32), 0);
    int32_t toks[30];
    for (int i = 0; i < 30; i++) toks[i] = (i * 41 + 3) % 300;
    size_t n = 30 * 300;
    float *lt = malloc(n * sizeof(float)), *lw = malloc(n * sizeof(float)), *l32 = malloc(n * sizeof(float));
    InferState *st = infer_state_new(&t), *sw = infer_state_new(&w), *s32 = infer_state_new(&full);
    assert_non_null(infer_prefill(st, toks, 30, lt));
    assert_non_null(infer_prefill(sw, toks, 30, lw));
    assert_non_null(infer_prefill(s32, toks, 30, l32));
    double dt = 0, dw = 0, ml = 0;
    for (size_t i = 0; i < n; i++) {
        dt = fmax(dt, fabs((double)lt[i] - l32[i]));
        dw = fmax(dw, fabs((double)lw[i] - l32[i]));
        ml = fmax(ml, fabs(l32[i]));
    }
    printf("  max |logit - fp32's|: tiles %.3g, widened %.3g, of max |logit| %.3g\n", dt, dw, ml);
    assert_true(memcmp(lt, lw, n * sizeof(float)) != 0);
    assert_true(dt > 0 && dt < 0.02 * ml);
    infer_state_free(st), infer_state_free(sw), infer_state_free(s32);
    infer_model_destroy(&t), infer_model_destroy(&w), infer_model_destroy(&full);
    free(lt), free(lw), free(l32);
    gpt2_free(&g);
}

/* bf16 inference is the fp32 forward of the model whose matrices hold the
 * bf16 values: the same logits bit for bit (the kernels widen exactly);
 * and close to the fp32 model's own. */
static void test_bf16_is_fp32_of_rounded(void **state) {
    (void)state;
    use_bf16_kernel(0); /* the tiles round activations too (test_bf16_on_tiles) */
    Gpt2Model g, r;
    make_model_c(&g, 64, 80, 5);
    make_model_c(&r, 64, 80, 5);
    const Gpt2Params *p = &r.params;
    const Gpt2Config *c = &r.cfg;
    size_t C = (size_t)c->n_embd, L = (size_t)c->n_layer;
    bf16_round_array(p->wte, p->wte, (size_t)c->vocab_size * C);
    bf16_round_array(p->qkvw, p->qkvw, L * C * 3 * C);
    bf16_round_array(p->attprojw, p->attprojw, L * C * C);
    bf16_round_array(p->fcw, p->fcw, L * C * 4 * C);
    bf16_round_array(p->fcprojw, p->fcprojw, L * 4 * C * C);
    InferModel h, f, full;
    assert_int_equal(infer_model_init(&h, &g, INFER_BF16), 0);
    assert_int_equal(infer_model_init(&f, &r, INFER_F32), 0);
    assert_int_equal(infer_model_init(&full, &g, INFER_F32), 0);
    assert_true(infer_bytes_per_token(&h) < 0.55 * infer_bytes_per_token(&full));
    int32_t toks[30];
    for (int i = 0; i < 30; i++) toks[i] = (i * 41 + 3) % 300;
    float *lh = malloc(30 * 300 * sizeof(float)), *lf = malloc(30 * 300 * sizeof(float));
    float *l32 = malloc(30 * 300 * sizeof(float));
    InferState *sh = infer_state_new(&h), *sf = infer_state_new(&f), *s32 = infer_state_new(&full);
    assert_non_null(infer_prefill(sh, toks, 30, lh));
    assert_non_null(infer_prefill(sf, toks, 30, lf));
    assert_non_null(infer_prefill(s32, toks, 30, l32));
    assert_memory_equal(lh, lf, 30 * 300 * sizeof(float));
    double md = 0, ml = 0;
    for (int i = 0; i < 30 * 300; i++) md = fmax(md, fabs((double)lh[i] - l32[i])), ml = fmax(ml, fabs(l32[i]));
    fprintf(stderr, "bf16 vs fp32 logits: max |diff| %.3g of max |logit| %.3g\n", md, ml);
    assert_true(md > 0 && md < 0.02 * ml);
    infer_state_free(sh), infer_state_free(sf), infer_state_free(s32);
    infer_model_destroy(&h), infer_model_destroy(&f), infer_model_destroy(&full);
    free(lh), free(lf), free(l32);
    gpt2_free(&g), gpt2_free(&r);
    unsetenv("CHIRP_BF16_TILES");
}

/* A bad sequence anywhere in a batch fails the whole forward before any
 * cache moves. */
static void test_batch_rejects_before_changing(void **state) {
    (void)state;
    Gpt2Model g;
    make_model(&g, 16, 4);
    InferModel m;
    assert_int_equal(infer_model_init(&m, &g, INFER_F32), 0);
    InferState *a = infer_state_new(&m), *b = infer_state_new(&m);
    InferScratch *scratch = infer_scratch_new(&m);
    int32_t ok[3] = {1, 2, 3}, bad[2] = {4, 999};
    InferSeq seqs[2] = {{.st = a, .tokens = ok, .n = 3, .want_logits = 1},
                        {.st = b, .tokens = bad, .n = 2, .want_logits = 1}};
    assert_int_equal(infer_forward(scratch, seqs, 2), -1);
    assert_non_null(strstr(chirp_error(), "out of range"));
    assert_int_equal(a->pos, 0);
    seqs[1].st = a;
    seqs[1].tokens = ok;
    assert_int_equal(infer_forward(scratch, seqs, 2), -1);
    assert_int_equal(a->pos, 0);
    infer_scratch_free(scratch);
    infer_state_free(a);
    infer_state_free(b);
    infer_model_destroy(&m);
    gpt2_free(&g);
}

static void test_context_overflow_and_bad_token(void **state) {
    (void)state;
    Gpt2Model g;
    make_model(&g, 16, 4);
    InferModel m;
    assert_int_equal(infer_model_init(&m, &g, INFER_F32), 0);
    InferState *s = infer_state_new(&m);
    int32_t toks[17] = {0};
    assert_null(infer_prefill(s, toks, 17, NULL));
    assert_non_null(strstr(chirp_error(), "exceeds the model's context of 16"));
    assert_non_null(infer_prefill(s, toks, 16, NULL));
    assert_null(infer_step(s, 1));
    infer_state_reset(s);
    assert_null(infer_step(s, 300));
    assert_non_null(strstr(chirp_error(), "out of range"));
    infer_state_free(s);
    infer_model_destroy(&m);
    gpt2_free(&g);
}

/* infer_model_load keeps only the small fp32 tensors beside the bf16 or
 * int8 copies (the fp32 matrices are freed): the same logits as a model
 * built on the fully loaded fp32 weights. */
static void test_load_frees_fp32_matrices(void **state) {
    (void)state;
    const char *src = testdata_path("gpt2-train-ref/tiny-after20-f32");
    if (!src) skip();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", src);
    Gpt2Model g;
    assert_int_equal(gpt2_load(&g, dir), 0);
    InferQuant qs[2] = {INFER_BF16, INFER_INT8};
    for (int i = 0; i < 2; i++) {
        InferModel loaded, built;
        assert_int_equal(infer_model_load(&loaded, dir, qs[i]), 0);
        assert_int_equal(infer_model_init(&built, &g, qs[i]), 0);
        int32_t toks[12] = {5, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8};
        InferState *a = infer_state_new(&loaded), *b = infer_state_new(&built);
        const float *la = infer_prefill(a, toks, 12, NULL), *lb = infer_prefill(b, toks, 12, NULL);
        assert_non_null(la);
        assert_memory_equal(la, lb, (size_t)g.cfg.vocab_size * sizeof(float));
        infer_state_free(a), infer_state_free(b);
        infer_model_destroy(&loaded), infer_model_destroy(&built);
    }
    gpt2_free(&g);
}

/* chirp quantize's directory loads back and computes the same logits as
 * quantizing on the fly. */
static void test_int8_dir_roundtrip(void **state) {
    (void)state;
    const char *src = testdata_path("gpt2-train-ref/tiny-after20-f32");
    if (!src) skip();
    char srcbuf[4096];
    snprintf(srcbuf, sizeof srcbuf, "%s", src);
    InferModel a, b;
    assert_int_equal(infer_model_load(&a, srcbuf, INFER_INT8), 0);
    char *out = path_join(test_tmpdir(), "q8");
    assert_int_equal(infer_model_save_int8(&a, srcbuf, out), 0);
    assert_true(infer_dir_is_int8(out));
    assert_int_equal(infer_model_load(&b, out, INFER_F32), -1);
    assert_non_null(strstr(chirp_error(), "--quant int8"));
    assert_int_equal(infer_model_load(&b, out, INFER_INT8), 0);
    int32_t toks[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    InferState *sa = infer_state_new(&a), *sb = infer_state_new(&b);
    const float *la = infer_prefill(sa, toks, 10, NULL), *lb = infer_prefill(sb, toks, 10, NULL);
    assert_memory_equal(la, lb, (size_t)a.cfg.vocab_size * sizeof(float));
    infer_state_free(sa);
    infer_state_free(sb);
    infer_model_destroy(&a);
    infer_model_destroy(&b);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_tiny_init),
        cmocka_unit_test(test_fixture_tiny_after20),
        cmocka_unit_test(test_fixture_int8_close),
        cmocka_unit_test(test_kv_cache_equals_full_recompute),
        cmocka_unit_test(test_kv_cache_equals_full_recompute_int8),
        cmocka_unit_test(test_chunked_prefill),
        cmocka_unit_test(test_batch_invariance_fp32),
        cmocka_unit_test(test_batch_invariance_int8),
        cmocka_unit_test(test_batch_invariance_bf16),
        cmocka_unit_test(test_kv_cache_equals_full_recompute_bf16),
        cmocka_unit_test(test_bf16_is_fp32_of_rounded),
        cmocka_unit_test(test_bf16_on_tiles),
        cmocka_unit_test(test_batch_rejects_before_changing),
        cmocka_unit_test(test_context_overflow_and_bad_token),
        cmocka_unit_test(test_int8_dir_roundtrip),
        cmocka_unit_test(test_load_frees_fp32_matrices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
