/* test_bf16.c: bf16 mixed precision against fp32, with tolerances derived
 * from bf16's format rather than tuned to pass.
 *
 * bf16 keeps 8 significant bits, so rounding a value to nearest changes
 * it by at most u = 2^-8 of itself. A product of two rounded operands is
 * then off by at most (2u + u^2) |x w|, and a sum of K such products,
 * accumulated in fp32 by both paths, by at most
 *     (2u + u^2 + 2 K 2^-24) * sum_i |x_i w_i|
 * from the fp32 result (each path's fp32 accumulation adds up to K 2^-24
 * of the same sum). Every matrix product below is held to that bound,
 * element by element. Whole-model gradients cannot be bounded that way
 * (errors compound through LayerNorm and softmax), so there the check is
 * the one mixed-precision work uses: cosine similarity > 0.999 per
 * parameter tensor, and the loss within 1%. */
#include "testutil.h"

#include <math.h>
#include <strings.h>

#include "compute/bf16.h"
#include "compute/cpu.h"
#include "compute/gemm.h"
#include "compute/gemm_backend.h"
#include "model/gpt2.h"
#include "model/gpt2_compute.h"
#include "model/ops.h"
#include "train/adamw.h"
#include "train/dataloader.h"
#include "util/file.h"

#define U_BF16 (1.0 / 256.0)

static unsigned rs = 2024;
static float frand(void) {
    rs = rs * 1664525u + 1013904223u;
    return ((rs >> 8) / 16777216.0f) * 2.0f - 1.0f;
}
static float *rand_array(size_t n, float scale) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = frand() * scale;
    return x;
}
static float *rounded_copy(const float *x, size_t n) {
    float *y = malloc(n * sizeof(float));
    bf16_round_array(y, x, n);
    return y;
}

/* Round to nearest, ties to even, checked against the definition: the
 * result is one of the two bf16 values around x (x with its low 16 bits
 * cleared, or that plus one bf16 ulp), the nearer one, the even one on a
 * tie. */
static void test_rounding(void **state) {
    (void)state;
    assert_int_equal(bf16_from_f32(1.0f), 0x3f80);
    assert_int_equal(bf16_from_f32(-2.0f), 0xc000);
    assert_true(bf16_to_f32(bf16_from_f32(1.0f + 1.0f / 256)) == 1.0f);              /* tie, down to even */
    assert_true(bf16_to_f32(bf16_from_f32(1.0f + 3.0f / 256)) == 1.0f + 4.0f / 256); /* tie, up to even */
    assert_true(isinf(bf16_round(3.4e38f)));                                         /* rounds past max */
    assert_true(isinf(bf16_round(INFINITY)) && bf16_round(-INFINITY) < 0);
    assert_true(isnan(bf16_round(NAN)));
    assert_true(bf16_round(0.0f) == 0.0f && signbit(bf16_round(-0.0f)));
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)rand() << 16 ^ (uint32_t)rand();
        u &= 0x7fffffffu;
        if ((u >> 23) >= 0xfe) continue; /* the top binade can round to inf: checked above */
        float x;
        memcpy(&x, &u, 4);
        uint32_t lo_bits = u & 0xffff0000u, hi_bits = lo_bits + 0x10000u;
        float lo, hi;
        memcpy(&lo, &lo_bits, 4);
        memcpy(&hi, &hi_bits, 4);
        double dl = (double)x - lo, dh = (double)hi - x;
        float want = dl < dh ? lo : dh < dl ? hi : ((lo_bits >> 16) & 1) ? hi : lo;
        float got = bf16_round(x);
        if (got != want) fail_msg("bf16_round(%a) = %a, want %a", (double)x, (double)got, (double)want);
        float neg = bf16_round(-x);
        if (neg != -want) fail_msg("bf16_round(%a) = %a, want %a", (double)-x, (double)neg, (double)-want);
    }
}

/* |got - want| <= bound(K) * scale for every element, scale = sum |x w|. */
static void check_bound(const char *what, const float *got, const float *want, const double *scale, size_t n, int K) {
    double bound = 2 * U_BF16 + U_BF16 * U_BF16 + 2.0 * K / 16777216.0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]);
        double allowed = bound * scale[i] + 1e-30;
        if (err > allowed)
            fail_msg("%s[%zu]: bf16 %.9g, fp32 %.9g, beyond the bound %.3g", what, i, got[i], want[i], allowed);
        if (scale[i] > 0) worst = fmax(worst, err / scale[i]);
    }
    fprintf(stderr, "%-14s worst |bf16 - fp32| / sum|xw| = %.3g (bound %.3g)\n", what, worst, bound);
    assert_true(worst > 0); /* the operands really were bf16 */
}

/* Linear layer forward and both backward products, at a shape where the
 * backend's blocked kernels run (not a scalar corner). */
static void test_matmul_within_bound(void **state) {
    (void)state;
    enum { N = 96, IC = 160, OC = 136 };
    float *x = rand_array((size_t)N * IC, 2.0f), *w = rand_array((size_t)IC * OC, 0.1f);
    float *b = rand_array(OC, 0.5f), *dout = rand_array((size_t)N * OC, 1.0f);
    float *xr = rounded_copy(x, (size_t)N * IC), *wr = rounded_copy(w, (size_t)IC * OC);
    float *dr = rounded_copy(dout, (size_t)N * OC);
    float *y32 = malloc(sizeof(float) * N * OC), *y16 = malloc(sizeof(float) * N * OC);
    /* The model's bf16 path: operands as bf16 bits. */
    uint16_t *x16 = malloc(sizeof(uint16_t) * N * IC), *w16 = malloc(sizeof(uint16_t) * IC * OC);
    uint16_t *d16 = malloc(sizeof(uint16_t) * N * OC);
    bf16_from_f32_array(x16, x, (size_t)N * IC);
    bf16_from_f32_array(w16, w, (size_t)IC * OC);
    bf16_from_f32_array(d16, dout, (size_t)N * OC);
    /* The same product over bf16-valued floats (gemm(COMPUTE_BF16)),
     * which must give the same bits. */
    float *y16f = malloc(sizeof(float) * N * OC);
    matmul_forward(COMPUTE_FP32, y32, (Operand){x, NULL}, (Operand){w, NULL}, b, N, IC, OC, 0);
    matmul_forward(COMPUTE_BF16, y16, (Operand){NULL, x16}, (Operand){NULL, w16}, b, N, IC, OC, 0);
    for (int n = 0; n < N; n++) memcpy(y16f + (size_t)n * OC, b, sizeof(float) * OC);
    gemm(COMPUTE_BF16, 0, 0, N, OC, IC, 1.0f, xr, IC, wr, OC, 1.0f, y16f, OC);
    assert_memory_equal(y16, y16f, sizeof(float) * N * OC);
    double *scale = calloc((size_t)IC * OC + (size_t)N * IC + (size_t)N * OC, sizeof(double));
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++)
            for (int i = 0; i < IC; i++) scale[n * OC + o] += fabs((double)x[n * IC + i] * w[i * OC + o]);
    check_bound("forward", y16, y32, scale, (size_t)N * OC, IC);

    float *dx32 = malloc(sizeof(float) * N * IC), *dx16 = malloc(sizeof(float) * N * IC);
    float *dw32 = calloc((size_t)IC * OC, sizeof(float)), *dw16 = calloc((size_t)IC * OC, sizeof(float));
    float *db32 = calloc(OC, sizeof(float)), *db16 = calloc(OC, sizeof(float));
    float *dx16f = malloc(sizeof(float) * N * IC), *dw16f = calloc((size_t)IC * OC, sizeof(float));
    matmul_backward(COMPUTE_FP32, dx32, dw32, db32, (Operand){dout, NULL}, (Operand){x, NULL}, (Operand){w, NULL}, N,
                    IC, OC);
    matmul_backward(COMPUTE_BF16, dx16, dw16, db16, (Operand){NULL, d16}, (Operand){NULL, x16}, (Operand){NULL, w16}, N,
                    IC, OC);
    gemm(COMPUTE_BF16, 0, 1, N, IC, OC, 1.0f, dr, OC, wr, OC, 0.0f, dx16f, IC);
    gemm(COMPUTE_BF16, 1, 0, IC, OC, N, 1.0f, xr, IC, dr, OC, 1.0f, dw16f, OC);
    assert_memory_equal(dx16, dx16f, sizeof(float) * N * IC);
    assert_memory_equal(dw16, dw16f, sizeof(float) * IC * OC);
    for (int o = 0; o < OC; o++) { /* the bias gradient sums the rounded gradient */
        float want = 0;
        for (int n = 0; n < N; n++) want += dr[n * OC + o];
        assert_true(db16[o] == want);
    }
    free(x16), free(w16), free(d16), free(y16f), free(dx16f), free(dw16f);
    memset(scale, 0, sizeof(double) * N * IC);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < IC; i++)
            for (int o = 0; o < OC; o++) scale[n * IC + i] += fabs((double)dout[n * OC + o] * w[i * OC + o]);
    check_bound("dinp", dx16, dx32, scale, (size_t)N * IC, OC);
    memset(scale, 0, sizeof(double) * IC * OC);
    for (int i = 0; i < IC; i++)
        for (int o = 0; o < OC; o++)
            for (int n = 0; n < N; n++) scale[i * OC + o] += fabs((double)x[n * IC + i] * dout[n * OC + o]);
    check_bound("dweight", dw16, dw32, scale, (size_t)IC * OC, N);
    free(x), free(w), free(b), free(dout), free(xr), free(wr), free(dr), free(y32), free(y16), free(scale);
    free(dx32), free(dx16), free(dw32), free(dw16), free(db32), free(db16);
}

/* C = alpha op(A) op(B) + beta C on the bf16 unit (oneDNN) against the
 * sgemm fallback over the same bf16 values: the products are exact in
 * both, so they differ only in the order of the fp32 sums, at most
 * (2K + 2) 2^-24 (|alpha| sum|ab| + |beta c|) per element. */
static void check_native_case(int ta, int tb, int M, int N, int K, float alpha, float beta, int pad) {
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb, nc = (size_t)M * ldc;
    float *a = rand_array(na, 1.5f), *b = rand_array(nb, 0.5f), *c0 = rand_array(nc, 1.0f);
    bf16_round_array(a, a, na);
    bf16_round_array(b, b, nb);
    float *native = malloc(nc * sizeof(float)), *fallback = malloc(nc * sizeof(float));
    memcpy(native, c0, nc * sizeof(float));
    memcpy(fallback, c0, nc * sizeof(float));
    gemm(COMPUTE_BF16, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, native, ldc);
    gemm_bf16_allow_native(0);
    gemm(COMPUTE_BF16, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, fallback, ldc);
    gemm_bf16_allow_native(1);
    /* A and B as bf16 bits (the stored operands), strided as given: the
     * same numbers as floats, on either path. */
    uint16_t *a16 = malloc(na * sizeof(uint16_t)), *b16 = malloc(nb * sizeof(uint16_t));
    bf16_from_f32_array(a16, a, na);
    bf16_from_f32_array(b16, b, nb);
    float *bits = malloc(nc * sizeof(float));
    for (int native_ok = 1; native_ok >= 0; native_ok--) {
        memcpy(bits, c0, nc * sizeof(float));
        gemm_bf16_allow_native(native_ok);
        gemm_bf16(ta, tb, M, N, K, alpha, a16, lda, b16, ldb, NULL, beta, bits, ldc);
        assert_memory_equal(bits, native_ok ? native : fallback, nc * sizeof(float));
    }
    gemm_bf16_allow_native(1);
    free(a16), free(b16), free(bits);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double sum = 0;
            for (int k = 0; k < K; k++) {
                float av = ta ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k];
                float bv = tb ? b[(size_t)j * ldb + k] : b[(size_t)k * ldb + j];
                sum += fabs((double)av * bv);
            }
            size_t at = (size_t)i * ldc + j;
            double scale = fabs(alpha) * sum + fabs(beta * c0[at]);
            double err = fabs((double)native[at] - fallback[at]);
            if (err > (2.0 * K + 2) / 16777216.0 * scale + 1e-30)
                fail_msg("ta%d tb%d M%d N%d K%d alpha %g beta %g: [%d,%d] native %.9g, fallback %.9g", ta, tb, M, N, K,
                         alpha, beta, i, j, native[at], fallback[at]);
            if (scale > 0) worst = fmax(worst, err / scale);
        }
    for (int i = 0; i < M; i++) /* the padding between rows is not written */
        for (int j = N; j < ldc; j++) assert_true(native[(size_t)i * ldc + j] == c0[(size_t)i * ldc + j]);
    fprintf(stderr, "native ta%d tb%d %4dx%4dx%4d alpha %-5g beta %g: worst diff / scale %.3g\n", ta, tb, M, N, K,
            alpha, beta, worst);
    free(a), free(b), free(c0), free(native), free(fallback);
}

static void test_native_matches_fallback(void **state) {
    (void)state;
    if (!gemm_bf16_is_native()) {
        fprintf(stderr, "no bf16 unit here (%s): skipped\n", gemm_bf16_backend_name());
        skip();
    }
    fprintf(stderr, "bf16 products: %s\n", gemm_bf16_backend_name());
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_native_case(ta, tb, 67, 45, 130, 1.0f, 0.0f, 0);
            check_native_case(ta, tb, 33, 80, 64, 0.125f, 0.0f, 3);
            check_native_case(ta, tb, 96, 64, 200, 1.0f, 1.0f, 5);
        }
    check_native_case(0, 1, 1, 300, 96, 1.0f, 0.0f, 0); /* one row, as in decoding */
}

/* gemm_bf16_to_bf16: each element is its fp32 sum plus bias, rounded
 * once. On the sgemm path that is exactly bf16_from_f32 of gemm_bf16's
 * result; oneDNN's kernel may add in another order, so there the bits
 * may differ by one bf16 step. Padding between rows stays untouched. */
static void test_product_to_bits(void **state) {
    (void)state;
    enum { M = 70, N = 90, K = 130, LDC = N + 3 };
    float *a = rand_array((size_t)M * K, 1.5f), *b = rand_array((size_t)K * N, 0.5f), *bias = rand_array(N, 1.0f);
    uint16_t *a16 = malloc(sizeof(uint16_t) * M * K), *b16 = malloc(sizeof(uint16_t) * K * N);
    bf16_from_f32_array(a16, a, (size_t)M * K);
    bf16_from_f32_array(b16, b, (size_t)K * N);
    float *f = malloc(sizeof(float) * M * N);
    uint16_t *h = malloc(sizeof(uint16_t) * M * LDC);
    int has_unit = gemm_bf16_is_native();
    for (int native = 0; native <= has_unit; native++) {
        gemm_bf16_allow_native(native);
        gemm_bf16(0, 0, M, N, K, 1.0f, a16, K, b16, N, bias, 0.0f, f, N);
        memset(h, 0xab, sizeof(uint16_t) * M * LDC);
        gemm_bf16_to_bf16(0, 0, M, N, K, a16, K, b16, N, bias, h, LDC);
        int off_by_one = 0;
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                int want = bf16_from_f32(f[(size_t)i * N + j]), got = h[(size_t)i * LDC + j];
                if (got != want && (native == 0 || abs(got - want) > 1 || (got ^ want) & 0x8000))
                    fail_msg("%s [%d,%d]: bits %04x, want %04x", native ? "oneDNN" : "sgemm", i, j, got, want);
                off_by_one += got != want;
            }
            for (int j = N; j < LDC; j++) assert_int_equal(h[(size_t)i * LDC + j], 0xabab);
        }
        fprintf(stderr, "%s: %d of %d elements one bf16 step from the rounded fp32 result\n",
                native ? "oneDNN" : "sgemm", off_by_one, M * N);
    }
    gemm_bf16_allow_native(1);
    free(a), free(b), free(bias), free(a16), free(b16), free(f), free(h);
}

/* Inside a parallel region (one product per thread, as attention runs
 * them), products C = alpha A op(B) + beta C go to chirp's own AMX
 * kernel where the CPU has AMX (gemm_amx.c, called here directly so the
 * test knows it ran): held to the sgemm path within the same (2K + 2)
 * 2^-24 (|alpha| sum|ab| + |beta c|) bound, for attention's shapes and
 * for alpha and beta (the kernel's other store path), with padded rows;
 * and it declines where it is not in a parallel region. */
static void test_small_k_on_tiles(void **state) {
    (void)state;
    if (!cpu_features()->amx_bf16) {
        fprintf(stderr, "no AMX here: skipped\n");
        skip();
    }
    /* M, N, K, lda, ldb, trans_b, alpha/beta: the scores, P V, and odd strides */
    int shapes[][7] = {{256, 256, 64, 1152, 1152, 1, 0},
                       {256, 64, 256, 256, 1152, 0, 0},
                       {64, 96, 32, 40, 37, 1, 1},
                       {32, 96, 64, 70, 99, 0, 1},
                       {32, 32, 128, 130, 128, 1, 0}};
    for (int c = 0; c < 5; c++) {
        int M = shapes[c][0], N = shapes[c][1], K = shapes[c][2], lda = shapes[c][3], ldb = shapes[c][4];
        int tb = shapes[c][5], scaled = shapes[c][6], ldc = N + 5;
        size_t nb = (size_t)(tb ? N : K) * ldb;
        float alpha = scaled ? 0.5f : 1.0f, beta = scaled ? 1.0f : 0.0f;
        float *a = rand_array((size_t)M * lda, 1.5f), *b = rand_array(nb, 0.5f);
        float *c0 = rand_array((size_t)M * ldc, 1.0f);
        uint16_t *a16 = malloc(sizeof(uint16_t) * M * lda), *b16 = malloc(sizeof(uint16_t) * nb);
        bf16_from_f32_array(a16, a, (size_t)M * lda);
        bf16_from_f32_array(b16, b, nb);
        float *tiles = malloc(sizeof(float) * M * ldc), *fallback = malloc(sizeof(float) * M * ldc);
        memcpy(tiles, c0, sizeof(float) * M * ldc);
        memcpy(fallback, c0, sizeof(float) * M * ldc);
        int rc = -1;
#pragma omp parallel num_threads(1)
        rc = amx_bf16_gemm(0, tb, M, N, K, alpha, a16, lda, b16, ldb, beta, tiles, ldc);
        assert_int_equal(rc, 0);
        assert_int_equal(amx_bf16_gemm(0, tb, M, N, K, alpha, a16, lda, b16, ldb, beta, tiles, ldc), -1);
        gemm_bf16_allow_native(0);
        gemm_bf16(0, tb, M, N, K, alpha, a16, lda, b16, ldb, NULL, beta, fallback, ldc);
        gemm_bf16_allow_native(1);
        double worst = 0;
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                double sum = 0;
                for (int k = 0; k < K; k++) {
                    uint16_t bv = tb ? b16[(size_t)j * ldb + k] : b16[(size_t)k * ldb + j];
                    sum += fabs((double)bf16_to_f32(a16[(size_t)i * lda + k]) * bf16_to_f32(bv));
                }
                size_t at = (size_t)i * ldc + j;
                double scale = fabs(alpha) * sum + fabs(beta * c0[at]), err = fabs((double)tiles[at] - fallback[at]);
                if (err > (2.0 * K + 2) / 16777216.0 * scale + 1e-30)
                    fail_msg("tb%d M%d N%d K%d: [%d,%d] tiles %.9g, sgemm %.9g", tb, M, N, K, i, j, tiles[at],
                             fallback[at]);
                if (scale > 0) worst = fmax(worst, err / scale);
            }
            for (int j = N; j < ldc; j++) assert_true(tiles[(size_t)i * ldc + j] == c0[(size_t)i * ldc + j]);
        }
        fprintf(stderr, "tiles tb%d %4dx%4dx%4d alpha %g beta %g: worst diff / scale %.3g\n", tb, M, N, K, alpha, beta,
                worst);
        free(a), free(b), free(c0), free(a16), free(b16), free(tiles), free(fallback);
    }
}

/* The attention runs one product per thread at once, on shared cached
 * primitives: each thread's result must be what a lone call gives. */
static void test_native_concurrent(void **state) {
    (void)state;
    if (!gemm_bf16_is_native()) skip();
    enum { P = 8, T = 48, HS = 32 };
    float *q = rand_array((size_t)P * T * HS, 1.0f), *k = rand_array((size_t)P * T * HS, 1.0f);
    bf16_round_array(q, q, (size_t)P * T * HS);
    bf16_round_array(k, k, (size_t)P * T * HS);
    float *together = malloc(sizeof(float) * P * T * T), *alone = malloc(sizeof(float) * P * T * T);
#pragma omp parallel for schedule(static, 1)
    for (int p = 0; p < P; p++)
        gemm(COMPUTE_BF16, 0, 1, T, T, HS, 0.25f, q + (size_t)p * T * HS, HS, k + (size_t)p * T * HS, HS, 0.0f,
             together + (size_t)p * T * T, T);
    for (int p = 0; p < P; p++) {
#pragma omp parallel num_threads(1)
        gemm(COMPUTE_BF16, 0, 1, T, T, HS, 0.25f, q + (size_t)p * T * HS, HS, k + (size_t)p * T * HS, HS, 0.0f,
             alone + (size_t)p * T * T, T);
    }
    assert_memory_equal(together, alone, sizeof(float) * P * T * T);
    free(q), free(k), free(together), free(alone);
}

static double cosine(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) ab += (double)a[i] * b[i], aa += (double)a[i] * a[i], bb += (double)b[i] * b[i];
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

/* One batch of a model's loss and gradients in both precisions. */
static void compare_gradients(const char *what, Gpt2Model *m, const char *tokens, int B, int T) {
    DataLoader dl;
    assert_int_equal(dataloader_open(&dl, tokens, B, T, m->cfg.vocab_size, 0, 0), 0);
    assert_int_equal(dataloader_next(&dl), 0);
    Gpt2Acts a;
    assert_int_equal(gpt2_acts_init(&a, &m->cfg, B, T), 0);
    float *g32 = calloc(m->num_params, sizeof(float)), *g16 = calloc(m->num_params, sizeof(float));
    float l32 = gpt2_forward_backward(m, &a, dl.inputs, dl.targets, 1.0f, g32, NULL, NULL);
    gpt2_bf16_refresh(m);
    gpt2_acts_set_precision(&a, &m->cfg, COMPUTE_BF16);
    float l16 = gpt2_forward_backward(m, &a, dl.inputs, dl.targets, 1.0f, g16, NULL, NULL);
    double worst = 1;
    char worst_name[64] = "";
    for (int i = 0; i < gpt2_tensor_count(&m->cfg); i++) {
        Gpt2TensorInfo ti;
        gpt2_tensor_info(&m->cfg, i, &ti);
        double c = cosine(g16 + ti.offset, g32 + ti.offset, ti.numel);
        if (c < worst) worst = c, snprintf(worst_name, sizeof worst_name, "%s", ti.name);
        if (c < 0.999) fail_msg("%s: gradient of %s has cosine %.6f against fp32", what, ti.name, c);
    }
    fprintf(stderr, "%s: loss fp32 %.6f bf16 %.6f; worst gradient cosine %.6f (%s)\n", what, l32, l16, worst,
            worst_name);
    assert_true(fabs(l16 - l32) / l32 < 0.01);
    assert_true(l16 != l32); /* bf16 mode really rounds */
    free(g32), free(g16);
    gpt2_acts_destroy(&a);
    dataloader_close(&dl);
}

/* Attention alone, bf16 against fp32, on the bf16 unit and on the sgemm
 * path. Forward, row by row, a bound from bf16's unit roundoff u: v and
 * the probabilities are rounded (each at most u of itself: u max|v|
 * each, since the probabilities sum to 1), and rounding q and k moves a
 * score s_ij by at most e_ij = (2u + u^2) scale sum_k |q_ik k_jk|, which
 * moves the probabilities by at most a factor exp(2 max_j e_ij) - 1.
 * Backward: cosine similarity of dqkv > 0.999, as for whole models. */
static void test_attention_within_bound(void **state) {
    (void)state;
    enum { B = 2, T = 40, C = 64, H = 4, HS = C / H };
    size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C;
    float *qkv = rand_array(nq, 1.0f), *dout = rand_array(no, 1.0f);
    uint16_t *qkv16 = malloc(nq * sizeof(uint16_t)), *dout16 = malloc(no * sizeof(uint16_t));
    bf16_from_f32_array(qkv16, qkv, nq);
    bf16_from_f32_array(dout16, dout, no);
    float *out32 = malloc(no * sizeof(float)), *out16 = malloc(no * sizeof(float));
    float *att32 = malloc(sizeof(float) * B * H * T * T), *att16 = malloc(sizeof(float) * B * H * T * T);
    float *dq32 = malloc(nq * sizeof(float)), *dq16 = malloc(nq * sizeof(float));
    float *scratch = malloc(attention_scratch_floats(T) * sizeof(float));
    uint16_t *scratch16 = malloc(attention_scratch16(T) * sizeof(uint16_t));
    attention_forward(COMPUTE_FP32, out32, att32, NULL, (Operand){qkv, NULL}, B, T, C, H);
    attention_backward(COMPUTE_FP32, dq32, (Operand){dout, NULL}, (Operand){qkv, NULL}, att32, scratch, NULL, B, T, C,
                       H);
    double u = U_BF16, scale = 1.0 / sqrt((double)HS);
    int has_unit = gemm_bf16_is_native();
    for (int native = 0; native <= has_unit; native++) {
        gemm_bf16_allow_native(native);
        attention_forward(COMPUTE_BF16, out16, att16, scratch16, (Operand){NULL, qkv16}, B, T, C, H);
        attention_backward(COMPUTE_BF16, dq16, (Operand){NULL, dout16}, (Operand){NULL, qkv16}, att16, scratch,
                           scratch16, B, T, C, H);
        double worst = 0;
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++) {
                    const float *q = qkv + ((size_t)b * T + t) * 3 * C + h * HS;
                    double e = 0, vmax = 0;
                    for (int j = 0; j <= t; j++) {
                        const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * HS;
                        double sum = 0;
                        for (int i = 0; i < HS; i++)
                            sum += fabs((double)q[i] * k[i]), vmax = fmax(vmax, fabs(k[C + i]));
                        e = fmax(e, (2 * u + u * u) * scale * sum);
                    }
                    double bound = vmax * (2 * u + expm1(2 * e)) + 1e-6;
                    for (int i = 0; i < HS; i++) {
                        size_t at = ((size_t)b * T + t) * C + h * HS + i;
                        double err = fabs((double)out16[at] - out32[at]);
                        if (err > bound)
                            fail_msg("%s: out[%d,%d,%d,%d] bf16 %.7g fp32 %.7g beyond the bound %.3g",
                                     native ? "oneDNN" : "sgemm", b, t, h, i, out16[at], out32[at], bound);
                        worst = fmax(worst, err / bound);
                    }
                }
        double cos = cosine(dq16, dq32, nq);
        fprintf(stderr, "attention (%s): worst |bf16 - fp32| / bound %.3f, dqkv cosine %.6f\n",
                native ? "oneDNN" : "sgemm", worst, cos);
        assert_true(worst > 0 && cos > 0.999);
    }
    gemm_bf16_allow_native(1);
    free(qkv), free(dout), free(qkv16), free(dout16), free(out32), free(out16), free(att32), free(att16);
    free(dq32), free(dq16), free(scratch), free(scratch16);
}

static void test_gradients_ref_tiny(void **state) {
    (void)state;
    Gpt2Model m;
    assert_int_equal(gpt2_load(&m, "tests/fixtures/ref_tiny/model"), 0);
    compare_gradients("ref_tiny", &m, "tests/fixtures/ref_tiny/tokens.bin", 2, 8);
    if (gemm_bf16_is_native()) { /* and the sgemm path, which CPUs without a bf16 unit run */
        gemm_bf16_allow_native(0);
        compare_gradients("ref_tiny, sgemm", &m, "tests/fixtures/ref_tiny/tokens.bin", 2, 8);
        gemm_bf16_allow_native(1);
    }
    gpt2_free(&m);
}

/* The shared GPT-2-vocabulary model on real tweets: V = 50257, so the LM
 * head's long sums are in play. */
static void test_gradients_tweets(void **state) {
    (void)state;
    const char *dir = "../shared/data/gpt2-train-ref";
    if (!path_exists(dir)) skip();
    Gpt2Model m;
    assert_int_equal(gpt2_load(&m, "../shared/data/gpt2-train-ref/tweets-init"), 0);
    compare_gradients("tweets-init", &m, "../shared/data/gpt2-train-ref/tweets_gpt2.bin", 4, 64);
    gpt2_free(&m);
}

/* The bf16 weight copy the optimizer writes equals rounding the updated
 * parameters afterwards, bit for bit, and the update itself is unchanged. */
static void test_adamw_writes_copy(void **state) {
    (void)state;
    Gpt2Model a, b;
    assert_int_equal(gpt2_load(&a, "tests/fixtures/ref_tiny/model"), 0);
    assert_int_equal(gpt2_load(&b, "tests/fixtures/ref_tiny/model"), 0);
    float *g = rand_array(a.num_params, 0.01f);
    AdamW oa, ob;
    adamw_init(&oa, a.num_params, 0.9, 0.95, 1e-8, 0.1);
    adamw_init(&ob, b.num_params, 0.9, 0.95, 1e-8, 0.1);
    gpt2_bf16_refresh(&a);
    oa.bf16_copy = a.param_bf16;
    for (int s = 0; s < 3; s++) {
        adamw_step(&oa, &a.cfg, a.param_buf, g, 1e-3);
        adamw_step(&ob, &b.cfg, b.param_buf, g, 1e-3);
    }
    assert_memory_equal(a.param_buf, b.param_buf, a.num_params * sizeof(float));
    gpt2_bf16_refresh(&b);
    assert_memory_equal(a.param_bf16, b.param_bf16, a.num_params * sizeof(uint16_t));
    free(g);
    adamw_destroy(&oa), adamw_destroy(&ob);
    gpt2_free(&a), gpt2_free(&b);
}

/* The "step K loss ..." lines of a train run's output, timing removed. */
static char *step_lines(const char *out, int from) {
    char *plain = test_strip_timing(out), *res = calloc(1, strlen(plain) + 1), *line = plain;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        int k;
        if (sscanf(line, "step %d ", &k) == 1 && k >= from) strcat(strcat(res, line), "\n");
        line = nl ? nl + 1 : NULL;
    }
    free(plain);
    return res;
}

static char *train(const char *dir, const char *run, const char *extra) {
    char args[1024], *out = NULL;
    snprintf(args, sizeof args,
             "train --train %s/train.bin --layers 2 --heads 2 --embd 64 --ctx 32 --vocab 300 --batch 4 --seq 32 "
             "--lr 1e-3 --threads 2 --save-every 3 --out %s/%s %s",
             dir, dir, run, extra);
    int rc = test_run_chirp(args, &out);
    if (rc != 0) fail_msg("chirp %s failed (%d):\n%s", args, rc, out);
    return out;
}

/* A fresh temporary folder holding train.bin, the shard train() reads. */
static const char *dir_with_shard(void) {
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/train.bin", dir);
    test_random_shard(path, 20000, 300, 7);
    return dir;
}

/* Checkpoints stay fp32: a bf16 run resumes bit-exactly, and a run can
 * switch precision at a resume. */
static void test_train_resume(void **state) {
    (void)state;
    const char *dir = dir_with_shard();
    char *full = train(dir, "full", "--precision bf16 --steps 6");
    assert_non_null(strstr(full, "precision bf16 (asked for"));
    free(train(dir, "part", "--precision bf16 --steps 3"));
    char *resumed = train(dir, "part", "--precision bf16 --steps 6 --resume");
    char *a = step_lines(full, 4), *b = step_lines(resumed, 4);
    fprintf(stderr, "bf16, straight:\n%sbf16, resumed at 3:\n%s", a, b);
    assert_true(strlen(a) > 0);
    assert_string_equal(a, b);
    /* The checkpoint's manifest records the precision it was trained in. */
    char man[600];
    snprintf(man, sizeof man, "%s/full/step_6/chirp.json", dir);
    size_t len;
    char *mj = file_read_all(man, &len);
    assert_non_null(mj);
    assert_non_null(strstr(mj, "\"precision\": \"bf16\""));
    free(mj);
    /* fp32 for 3 steps, then bf16: it runs, and it is not fp32's continuation. */
    char *fp32 = train(dir, "fp32", "--precision fp32 --steps 6");
    free(train(dir, "mixed", "--precision fp32 --steps 3"));
    char *mixed = train(dir, "mixed", "--precision bf16 --steps 6 --resume");
    char *c = step_lines(fp32, 4), *d = step_lines(mixed, 4);
    assert_true(strlen(d) > 0);
    assert_string_not_equal(c, d);
    /* chirp plot draws the two runs over each other, one colour each. */
    char cmd[1600], *svg = NULL;
    snprintf(cmd, sizeof cmd, "plot %s/full %s/fp32 --out %s/both.svg", dir, dir, dir);
    assert_int_equal(test_run_chirp(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd, "%s/both.svg", dir);
    size_t svg_len;
    svg = file_read_all(cmd, &svg_len);
    assert_non_null(svg);
    assert_non_null(strstr(svg, ">full (line"));
    assert_non_null(strstr(svg, ">fp32 (line"));
    assert_non_null(strstr(strstr(svg, "<polyline") + 1, "<polyline"));
    free(svg);
    snprintf(cmd, sizeof cmd, "plot %s/full %s/fp32", dir, dir);
    assert_int_equal(test_run_chirp(cmd, NULL), 2);
    free(a), free(b), free(c), free(d), free(full), free(resumed), free(fp32), free(mixed);
    /* auto names its choice and why; a bad name is refused. */
    char *out = train(dir, "auto", "--steps 1");
    assert_non_null(strstr(out, "precision fp32 (auto: ") ? strstr(out, "precision fp32 (auto: ")
                                                          : strstr(out, "precision bf16 (auto: "));
    free(out);
    char args[1024];
    snprintf(args, sizeof args, "train --train %s/train.bin --model tiny --steps 1 --precision fp16 --out %s/bad", dir,
             dir);
    assert_int_not_equal(test_run_chirp(args, &out), 0);
    assert_non_null(strstr(out, "unknown precision 'fp16'"));
    free(out);
}

/* The startup lines say what auto chose and why, and which sgemm kernel
 * runs: on a CPU with AVX2 that is a vector kernel even where OpenBLAS
 * does not know the model (chirp then restarts itself with
 * OPENBLAS_CORETYPE set; compute/gemm.h). */
static void test_startup_names_choice_and_kernels(void **state) {
    (void)state;
    const char *dir = dir_with_shard();
    char *out = train(dir, "auto", "--steps 1");
    const CpuFeatures *f = cpu_features();
    const char *choice = strstr(out, "chirp train: precision ");
    assert_non_null(choice);
    fprintf(stderr, "%.*s\n", (int)strcspn(choice, "\n"), choice);
    assert_non_null(strstr(choice, gemm_bf16_is_native() ? "(auto: " : "precision fp32 (auto: "));
    if (gemm_bf16_is_native() && !f->amx_bf16) /* the vendor rule of compute/precision.c */
        assert_non_null(strstr(choice, f->amd ? "precision bf16 (auto: " : "precision fp32 (auto: "));
    const char *core = strstr(out, ", core ");
    assert_non_null(core);
    fprintf(stderr, "sgemm%.*s\n", (int)strcspn(core, ";\n"), core);
    if (f->avx2_fma && !getenv("OPENBLAS_CORETYPE")) {
        int vector = 0;
        const char *names[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strncasecmp(core + 7, names[i], strlen(names[i])) == 0) vector = 1;
        if (!vector) fail_msg("a CPU with AVX2 runs a pre-AVX2 sgemm kernel:%.*s", (int)strcspn(core, ";\n"), core);
    }
    free(out);
    /* A preset OPENBLAS_CORETYPE is the user's choice: no restart over it. */
    setenv("OPENBLAS_CORETYPE", "Haswell", 1);
    const char *var = NULL, *value = NULL;
    assert_int_equal(gemm_wants_restart(&var, &value), 0);
    unsetenv("OPENBLAS_CORETYPE");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounding),
        cmocka_unit_test(test_matmul_within_bound),
        cmocka_unit_test(test_attention_within_bound),
        cmocka_unit_test(test_gradients_ref_tiny),
        cmocka_unit_test(test_gradients_tweets),
        cmocka_unit_test(test_adamw_writes_copy),
        cmocka_unit_test(test_train_resume),
        cmocka_unit_test(test_native_matches_fallback),
        cmocka_unit_test(test_native_concurrent),
        cmocka_unit_test(test_product_to_bits),
        cmocka_unit_test(test_small_k_on_tiles),
        cmocka_unit_test(test_startup_names_choice_and_kernels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
