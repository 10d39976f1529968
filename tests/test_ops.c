/* test_ops.c: finite-difference gradient checks, one per op, on tiny
 * shapes. Each op's output is reduced to L = sum(out * R) for a fixed
 * random R, so dL/dout = R; central differences (h = 1e-2, float32
 * forward, double accumulation) must agree with the analytic backward to
 * a relative 2e-3, far below what any wrong term would give (O(1)). */
#include "testutil.h"

#include <math.h>

#include "model/ops.h"

static unsigned rs = 12345;
static float frand(void) {
    rs = rs * 1664525u + 1013904223u;
    return ((rs >> 8) / 16777216.0f) * 2.0f - 1.0f;
}
static void fill(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] = frand() * s;
}
static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

typedef double (*LossFn)(void *ctx);

/* Checks analytic gradient g of loss wrt x (n entries). */
static void check(const char *what, float *x, const float *g, size_t n, LossFn f, void *ctx) {
    const float h = 1e-2f;
    double maxerr = 0, maxg = 0;
    for (size_t i = 0; i < n; i++) {
        float old = x[i];
        x[i] = old + h;
        double lp = f(ctx);
        x[i] = old - h;
        double lm = f(ctx);
        x[i] = old;
        double num = (lp - lm) / (2.0 * h);
        maxerr = fmax(maxerr, fabs(num - g[i]));
        maxg = fmax(maxg, fabs(g[i]));
    }
    fprintf(stderr, "%-22s max |num - analytic| = %.3g (max |g| %.3g)\n", what, maxerr, maxg);
    if (maxerr > 2e-3 * fmax(maxg, 1e-2)) fail_msg("%s: gradient mismatch %.3g", what, maxerr);
}

/* ---- layernorm ---- */
enum { N = 6, C = 8, H = 2, Bq = 2, Tq = 3 };
typedef struct {
    float x[N * C], w[C], b[C], out[N * C], mean[N], rstd[N], R[N * C];
} LnCtx;
static double ln_loss(void *p) {
    LnCtx *c = p;
    layernorm_forward(c->out, NULL, c->mean, c->rstd, c->x, c->w, c->b, N, C, 1e-5f);
    return dot(c->out, c->R, N * C);
}
static void test_layernorm_grad(void **state) {
    (void)state;
    LnCtx c;
    fill(c.x, N * C, 1);
    fill(c.w, C, 1);
    fill(c.b, C, 1);
    fill(c.R, N * C, 1);
    ln_loss(&c);
    float dx[N * C] = {0}, dw[C] = {0}, db[C] = {0};
    layernorm_backward(dx, dw, db, c.R, c.x, c.w, c.mean, c.rstd, N, C);
    check("layernorm dx", c.x, dx, N * C, ln_loss, &c);
    check("layernorm dw", c.w, dw, C, ln_loss, &c);
    check("layernorm db", c.b, db, C, ln_loss, &c);
}

/* ---- matmul ---- */
enum { IC = 5, OC = 7 };
typedef struct {
    float x[N * IC], w[IC * OC], b[OC], out[N * OC], R[N * OC];
} MmCtx;
static double mm_loss(void *p) {
    MmCtx *c = p;
    matmul_forward(COMPUTE_FP32, c->out, (Operand){c->x, NULL}, (Operand){c->w, NULL}, c->b, N, IC, OC, 0);
    return dot(c->out, c->R, N * OC);
}
static void test_matmul_grad(void **state) {
    (void)state;
    MmCtx c;
    fill(c.x, N * IC, 1);
    fill(c.w, IC * OC, 1);
    fill(c.b, OC, 1);
    fill(c.R, N * OC, 1);
    float dx[N * IC], dw[IC * OC] = {0}, db[OC] = {0};
    matmul_backward(COMPUTE_FP32, dx, dw, db, (Operand){c.R, NULL}, (Operand){c.x, NULL}, (Operand){c.w, NULL}, N, IC,
                    OC);
    check("matmul dx", c.x, dx, N * IC, mm_loss, &c);
    check("matmul dw", c.w, dw, IC * OC, mm_loss, &c);
    check("matmul db", c.b, db, OC, mm_loss, &c);
}

/* ---- attention ---- */
typedef struct {
    float qkv[Bq * Tq * 3 * C], out[Bq * Tq * C], att[Bq * H * Tq * Tq], R[Bq * Tq * C];
} AttCtx;
static double att_loss(void *p) {
    AttCtx *c = p;
    attention_forward(COMPUTE_FP32, c->out, c->att, NULL, (Operand){c->qkv, NULL}, Bq, Tq, C, H);
    return dot(c->out, c->R, Bq * Tq * C);
}
static void test_attention_grad(void **state) {
    (void)state;
    AttCtx c;
    fill(c.qkv, sizeof c.qkv / 4, 1.5f);
    fill(c.R, sizeof c.R / 4, 1);
    att_loss(&c);
    float dqkv[Bq * Tq * 3 * C];
    float *scratch = malloc(attention_scratch_floats(Tq) * sizeof(float));
    attention_backward(COMPUTE_FP32, dqkv, (Operand){c.R, NULL}, (Operand){c.qkv, NULL}, c.att, scratch, NULL, Bq, Tq,
                       C, H);
    check("attention dqkv", c.qkv, dqkv, sizeof c.qkv / 4, att_loss, &c);
    /* causality: the output at t=0 must not depend on later positions */
    float before = c.out[0];
    c.qkv[2 * 3 * C + 5] += 1.0f;
    att_loss(&c);
    assert_true(c.out[0] == before);
    free(scratch);
}

/* ---- gelu ---- */
typedef struct {
    float x[64], out[64], R[64];
} GeCtx;
static double ge_loss(void *p) {
    GeCtx *c = p;
    gelu_forward(c->out, c->x, 64);
    return dot(c->out, c->R, 64);
}
static void test_gelu_grad(void **state) {
    (void)state;
    GeCtx c;
    fill(c.x, 64, 4);
    fill(c.R, 64, 1);
    float dx[64];
    gelu_backward(dx, c.x, c.R, 64);
    check("gelu dx", c.x, dx, 64, ge_loss, &c);
    /* forward against libm's tanh */
    ge_loss(&c);
    for (int i = 0; i < 64; i++) {
        double x = c.x[i], ref = 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
        assert_true(fabs(c.out[i] - ref) <= 1e-6 * fmax(1.0, fabs(ref)));
    }
}

/* ---- cross-entropy ---- */
enum { V = 11 };
typedef struct {
    float logits[N * V], work[N * V], losses[N];
    int32_t tg[N];
} CeCtx;
static double ce_loss(void *p) {
    CeCtx *c = p;
    memcpy(c->work, c->logits, sizeof c->work);
    crossentropy_forward_backward(c->work, NULL, c->losses, c->tg, N, V, 0.0f);
    double s = 0;
    for (int i = 0; i < N; i++) s += c->losses[i];
    return s / 5; /* 5 unmasked rows */
}
static void test_crossentropy_grad(void **state) {
    (void)state;
    CeCtx c;
    fill(c.logits, N * V, 3);
    for (int i = 0; i < N; i++) c.tg[i] = (i * 7) % V;
    c.tg[3] = -1; /* masked */
    float g[N * V];
    memcpy(g, c.logits, sizeof g);
    crossentropy_forward_backward(g, NULL, c.losses, c.tg, N, V, 1.0f / 5);
    check("crossentropy dlogits", c.logits, g, N * V, ce_loss, &c);
    for (int v = 0; v < V; v++) assert_true(g[3 * V + v] == 0.0f);
}

/* ---- encoder ---- */
static void test_encoder_grad(void **state) {
    (void)state;
    /* linear op: check the scatter exactly, with repeated tokens */
    enum { VV = 4, TT = 3 };
    int32_t tok[2 * TT] = {1, 1, 3, 0, 1, 2};
    float dout[2 * TT * C], dwte[VV * C] = {0}, dwpe[TT * C] = {0};
    fill(dout, 2 * TT * C, 1);
    encoder_backward(dwte, dwpe, dout, tok, 2, TT, C, VV);
    for (int c = 0; c < C; c++) {
        double w1 = (double)dout[0 * C + c] + dout[1 * C + c] + dout[4 * C + c];
        assert_true(fabs(dwte[1 * C + c] - w1) < 1e-6);
        assert_true(fabs(dwpe[0 * C + c] - ((double)dout[c] + dout[3 * C + c])) < 1e-6);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layernorm_grad),    cmocka_unit_test(test_matmul_grad),
        cmocka_unit_test(test_attention_grad),    cmocka_unit_test(test_gelu_grad),
        cmocka_unit_test(test_crossentropy_grad), cmocka_unit_test(test_encoder_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
