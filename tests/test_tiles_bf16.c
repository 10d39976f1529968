/* test_tiles_bf16.c: inference's products on the AMX tiles (tiles_bf16.h).
 *
 * The operands are bf16 values, so every product of two of them is exact
 * in fp32 and the only error is the fp32 accumulation: at most
 * (K + 2) 2^-24 sum_i |x_i w_i| (one more 2^-24 of the result for the
 * bias) from the exact sum (computed here in
 * double). Row invariance is checked bit for bit. Tests that multiply
 * skip where the CPU has no AMX; packing is checked everywhere. */
#include "testutil.h"

#include <math.h>

#include "compute/bf16.h"
#include "compute/tiles_bf16.h"

static unsigned rs = 7;
static float frand(void) {
    rs = rs * 1664525u + 1013904223u;
    return ((rs >> 8) / 16777216.0f) * 2.0f - 1.0f;
}

static uint16_t *rand_bf16(size_t n, float scale) {
    uint16_t *h = malloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) h[i] = bf16_from_f32(frand() * scale);
    return h;
}

/* Every column comes back as it went in, from either layout, for sizes
 * that are not multiples of the tiles. */
static void test_pack_round_trip(void **state) {
    (void)state;
    int k = 45, n = 70;
    uint16_t *in_out = rand_bf16((size_t)k * n, 1.0f), *out_in = malloc(sizeof(uint16_t) * k * n);
    for (int i = 0; i < k; i++)
        for (int j = 0; j < n; j++) out_in[(size_t)j * k + i] = in_out[(size_t)i * n + j];
    TileMat a, b;
    tilemat_pack_in_out(&a, in_out, k, n);
    tilemat_pack_out_in(&b, out_in, n, k);
    assert_int_equal(a.kp, 64);
    assert_int_equal(a.np, 96);
    float col[45];
    for (int j = 0; j < n; j++) {
        tilemat_column(&a, j, col);
        for (int i = 0; i < k; i++) assert_true(col[i] == bf16_to_f32(in_out[(size_t)i * n + j]));
        tilemat_column(&b, j, col);
        for (int i = 0; i < k; i++) assert_true(col[i] == bf16_to_f32(in_out[(size_t)i * n + j]));
    }
    assert_memory_equal(a.pairs, b.pairs, sizeof(uint32_t) * a.kp / 2 * a.np);
    tilemat_destroy(&a);
    tilemat_destroy(&b);
    free(in_out);
    free(out_in);
}

#define SKIP_WITHOUT_AMX()                             \
    do {                                               \
        if (!tiles_available()) {                      \
            fprintf(stderr, "no AMX here: skipped\n"); \
            skip();                                    \
        }                                              \
    } while (0)

/* Y = bf16(X) W + b within the accumulation bound, for GPT-2-like and
 * ragged shapes (k, n not multiples of the tiles; T across 16 and 32). */
static void test_product_within_bound(void **state) {
    (void)state;
    SKIP_WITHOUT_AMX();
    int shapes[][3] = {{1, 768, 2304}, {37, 96, 200}, {16, 3072, 64}, {70, 45, 33}, {3, 32, 32}};
    for (int c = 0; c < 5; c++) {
        int T = shapes[c][0], k = shapes[c][1], n = shapes[c][2];
        uint16_t *w = rand_bf16((size_t)k * n, 0.2f);
        float *x = malloc(sizeof(float) * T * k), *b = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * T * n);
        for (int i = 0; i < T * k; i++) x[i] = frand() * 3.0f;
        for (int j = 0; j < n; j++) b[j] = frand();
        TileMat m;
        tilemat_pack_in_out(&m, w, k, n);
        uint16_t *xh = malloc(tile_matmul_scratch(T, k) * sizeof(uint16_t));
        tile_matmul(y, x, &m, b, T, xh);
        free(xh);
        double worst = 0;
        for (int t = 0; t < T; t++) {
            for (int j = 0; j < n; j++) {
                double sum = 0, mag = 0;
                for (int i = 0; i < k; i++) {
                    double p = (double)bf16_round(x[(size_t)t * k + i]) * bf16_to_f32(w[(size_t)i * n + j]);
                    sum += p;
                    mag += fabs(p);
                }
                double err = fabs((double)y[(size_t)t * n + j] - b[j] - sum);
                double bound = ((k + 3.0) * mag + fabs(b[j])) / 16777216.0 + 1e-30; /* and the bias's add */
                if (err > bound) fail_msg("T%d k%d n%d: [%d,%d] %.9g, exact %.9g", T, k, n, t, j, y[t * n + j], sum);
                worst = fmax(worst, err / bound);
            }
        }
        fprintf(stderr, "tiles T%3d k%4d n%4d: worst error %.3g of the bound\n", T, k, n, worst);
        tilemat_destroy(&m);
        free(w), free(x), free(b), free(y);
    }
}

/* Each row of a T-row product is bit-identical to that row multiplied
 * alone, and to it among other, different rows. */
static void test_rows_are_invariant(void **state) {
    (void)state;
    SKIP_WITHOUT_AMX();
    int k = 768, n = 300, T = 45;
    uint16_t *w = rand_bf16((size_t)k * n, 0.1f);
    TileMat m;
    tilemat_pack_in_out(&m, w, k, n);
    float *x = malloc(sizeof(float) * T * k), *other = malloc(sizeof(float) * T * k);
    for (int i = 0; i < T * k; i++) x[i] = frand(), other[i] = frand() * 5.0f;
    float *all = malloc(sizeof(float) * T * n), *one = malloc(sizeof(float) * n), *mix = malloc(sizeof(float) * T * n);
    uint16_t *xh = malloc(tile_matmul_scratch(T, k) * sizeof(uint16_t));
    tile_matmul(all, x, &m, NULL, T, xh);
    for (int t = 0; t < T; t++) {
        tile_matmul(one, x + (size_t)t * k, &m, NULL, 1, xh);
        assert_memory_equal(one, all + (size_t)t * n, sizeof(float) * n);
        /* row t as the last of t + 1 rows whose others differ */
        memcpy(other + (size_t)t * k, x + (size_t)t * k, sizeof(float) * k);
        tile_matmul(mix, other, &m, NULL, t + 1, xh);
        assert_memory_equal(mix + (size_t)t * n, all + (size_t)t * n, sizeof(float) * n);
    }
    tilemat_destroy(&m);
    free(w), free(x), free(other), free(all), free(one), free(mix), free(xh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_round_trip),
        cmocka_unit_test(test_product_within_bound),
        cmocka_unit_test(test_rows_are_invariant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
