/* test_kernels.c: the batch-invariance contract of the inference kernels:
 * a row of a batched product is bit-identical to the matrix-vector product
 * of that row alone, for every shape (tails of the register tile and of
 * the input blocks included) and every thread count. The bf16-weight
 * kernels are held to a stronger promise: bit-identical to the fp32
 * kernels run on the weights widened to float. */
#include "testutil.h"

#include <math.h>
#include <omp.h>

#include "compute/bf16.h"
#include "compute/kernels.h"

static float *random_floats(size_t n, unsigned seed) {
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return v;
}

static void check_in_out(int T, int k, int n) {
    float *X = random_floats((size_t)T * k, 1u + T), *W = random_floats((size_t)k * n, 2u + k);
    float *b = random_floats((size_t)n, 3u + n);
    float *Y = malloc((size_t)T * n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    kern_matmul_rows_in_out(Y, X, W, b, T, k, n);
    for (int t = 0; t < T; t++) {
        kern_matvec_in_out(y, X + (size_t)t * k, W, b, k, n);
        if (memcmp(y, Y + (size_t)t * n, (size_t)n * sizeof(float)) != 0) {
            fprintf(stderr, "in_out T=%d k=%d n=%d: row %d differs\n", T, k, n, t);
            fail();
        }
    }
    free(X), free(W), free(b), free(Y), free(y);
}

static void check_out_in(int T, int k, int n) {
    float *X = random_floats((size_t)T * k, 5u + T), *W = random_floats((size_t)n * k, 6u + k);
    float *Y = malloc((size_t)T * n * sizeof(float)), *y = malloc((size_t)n * sizeof(float));
    kern_matmul_rows_out_in(Y, X, W, T, n, k);
    for (int t = 0; t < T; t++) {
        kern_matvec_out_in(y, X + (size_t)t * k, W, n, k);
        assert_memory_equal(y, Y + (size_t)t * n, (size_t)n * sizeof(float));
    }
    free(X), free(W), free(Y), free(y);
}

/* The bf16 kernels against the fp32 ones on the widened weights, at T = 1
 * (the matrix-vector path) and T > 1 (the panel path), both layouts. */
static void check_bf16(int T, int k, int n) {
    float *X = random_floats((size_t)T * k, 21u + T), *W = random_floats((size_t)k * n, 22u + k);
    float *b = random_floats((size_t)n, 23u + n);
    uint16_t *Wh = malloc((size_t)k * n * sizeof(uint16_t));
    bf16_from_f32_array(Wh, W, (size_t)k * n);
    bf16_to_f32_array(W, Wh, (size_t)k * n); /* W is now exactly the bf16 values */
    float *Y = malloc((size_t)T * n * sizeof(float)), *Yh = malloc((size_t)T * n * sizeof(float));
    kern_matmul_rows_in_out(Y, X, W, b, T, k, n);
    kern_matmul_rows_in_out_bf16(Yh, X, Wh, b, T, k, n);
    if (memcmp(Y, Yh, (size_t)T * n * sizeof(float)) != 0) fail_msg("bf16 in_out T=%d k=%d n=%d differs", T, k, n);
    /* The same weights read as [n, k] rows (the LM head's layout). */
    kern_matmul_rows_out_in(Y, X, W, T, n, k);
    kern_matmul_rows_out_in_bf16(Yh, X, Wh, T, n, k);
    if (memcmp(Y, Yh, (size_t)T * n * sizeof(float)) != 0) fail_msg("bf16 out_in T=%d k=%d n=%d differs", T, k, n);
    free(X), free(W), free(b), free(Wh), free(Y), free(Yh);
}

static const int KS[] = {1, 3, 4, 5, 37, 128, 129, 300, 768};
static const int NS[] = {1, 7, 16, 33, 64, 130, 257, 300};

static void test_rows_equal_matvec(void **state) {
    (void)state;
    for (size_t a = 0; a < sizeof KS / sizeof *KS; a++)
        for (size_t b = 0; b < sizeof NS / sizeof *NS; b++)
            for (int T = 2; T <= 13; T += 1 + (T > 7) * 4) {
                check_in_out(T, KS[a], NS[b]);
                check_out_in(T, KS[a], NS[b]);
            }
}

/* Threads split columns, never a sum: 1 and 2 threads agree bit for bit. */
static void test_bf16_equals_fp32_on_widened(void **state) {
    (void)state;
    for (size_t a = 0; a < sizeof KS / sizeof *KS; a++)
        for (size_t b = 0; b < sizeof NS / sizeof *NS; b++)
            for (int T = 1; T <= 13; T += 1 + (T > 7) * 4) check_bf16(T, KS[a], NS[b]);
}

static void test_thread_count_invariance(void **state) {
    (void)state;
    int T = 9, k = 300, n = 700;
    float *X = random_floats((size_t)T * k, 9), *W = random_floats((size_t)k * n, 10);
    float *Y1 = malloc((size_t)T * n * sizeof(float)), *Y2 = malloc((size_t)T * n * sizeof(float));
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    kern_matmul_rows_in_out(Y1, X, W, NULL, T, k, n);
    omp_set_num_threads(2);
    kern_matmul_rows_in_out(Y2, X, W, NULL, T, k, n);
    omp_set_num_threads(saved);
    assert_memory_equal(Y1, Y2, (size_t)T * n * sizeof(float));
    free(X), free(W), free(Y1), free(Y2);
}

/* The products are right, not only consistent: against a double sum. */
static void test_rows_accuracy(void **state) {
    (void)state;
    int T = 7, k = 300, n = 130;
    float *X = random_floats((size_t)T * k, 11), *W = random_floats((size_t)k * n, 12);
    float *Y = malloc((size_t)T * n * sizeof(float));
    kern_matmul_rows_in_out(Y, X, W, NULL, T, k, n);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int i = 0; i < k; i++) s += (double)X[t * k + i] * W[(size_t)i * n + j];
            assert_true(fabs(s - Y[t * n + j]) < 1e-4);
        }
    printf("  kernels built for %s\n", kern_simd_name());
    free(X), free(W), free(Y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_equal_matvec),
        cmocka_unit_test(test_bf16_equals_fp32_on_widened),
        cmocka_unit_test(test_thread_count_invariance),
        cmocka_unit_test(test_rows_accuracy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
