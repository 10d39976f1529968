/* gemm.c: gemm() dispatch between the backends (gemm_backend.h). */
#include "compute/gemm.h"

#include "compute/bf16.h"
#include "compute/gemm_backend.h"
#include "util/error.h"

#include <stdlib.h>
#include <unistd.h>

static int bf16_native_allowed = 1;

void gemm(ComputePrecision prec, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc) {
    if (prec == COMPUTE_BF16 && gemm_bf16_is_native() &&
        onednn_bf16_gemm(trans_a, trans_b, M, N, K, alpha, A, NULL, lda, B, NULL, ldb, NULL, beta, C, ldc, 0) == 0)
        return;
    /* fp32, or bf16-valued operands without a bf16 unit: their products
     * are exact in fp32, so sgemm computes bf16 mixed precision's result
     * up to the order of the sums (see gemm.h). */
    openblas_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Without a bf16 unit the operands are widened into per-thread buffers,
 * kept for the next call. */
typedef struct {
    float *p;
    size_t cap;
} Widened;
static _Thread_local Widened widened_a, widened_b;

/* X ([rows, cols], row stride ld) as dense floats in w. */
static const float *widen(Widened *w, const uint16_t *x, int rows, int cols, int ld) {
    size_t n = (size_t)rows * cols;
    if (n > w->cap) {
        free(w->p);
        w->p = xmalloc(n * sizeof *w->p);
        w->cap = n;
    }
    float *dst = w->p; /* the team's threads each have their own buffers */
#pragma omp parallel for schedule(static) if (n > (1u << 16))
    for (int r = 0; r < rows; r++) bf16_to_f32_array(dst + (size_t)r * cols, x + (size_t)r * ld, (size_t)cols);
    return dst;
}

void gemm_bf16(int trans_a, int trans_b, int M, int N, int K, float alpha, const uint16_t *A, int lda,
               const uint16_t *B, int ldb, const float *bias, float beta, float *C, int ldc) {
    if (gemm_bf16_is_native() && !bias &&
        amx_bf16_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == 0)
        return;
    if (gemm_bf16_is_native() &&
        onednn_bf16_gemm(trans_a, trans_b, M, N, K, alpha, NULL, A, lda, NULL, B, ldb, bias, beta, C, ldc, 0) == 0)
        return;
    if (bias) { /* into C first: C = bias (+ C), then the product on top */
#pragma omp parallel for schedule(static)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? bias[j] : beta * C[(size_t)i * ldc + j] + bias[j];
        beta = 1.0f;
    }
    int a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
    int b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    const float *a = widen(&widened_a, A, a_rows, a_cols, lda);
    const float *b = widen(&widened_b, B, b_rows, b_cols, ldb);
    openblas_sgemm(trans_a, trans_b, M, N, K, alpha, a, a_cols, b, b_cols, beta, C, ldc);
}

static _Thread_local Widened widened_c;

void gemm_bf16_to_bf16(int trans_a, int trans_b, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *B,
                       int ldb, const float *bias, uint16_t *C, int ldc) {
    if (gemm_bf16_is_native() &&
        onednn_bf16_gemm(trans_a, trans_b, M, N, K, 1.0f, NULL, A, lda, NULL, B, ldb, bias, 0.0f, C, ldc, 1) == 0)
        return;
    size_t n = (size_t)M * N;
    if (n > widened_c.cap) {
        free(widened_c.p);
        widened_c.p = xmalloc(n * sizeof *widened_c.p);
        widened_c.cap = n;
    }
    float *c = widened_c.p;
    gemm_bf16(trans_a, trans_b, M, N, K, 1.0f, A, lda, B, ldb, bias, 0.0f, c, N);
#pragma omp parallel for schedule(static) if (n > (1u << 16))
    for (int i = 0; i < M; i++) bf16_from_f32_array(C + (size_t)i * ldc, c + (size_t)i * N, (size_t)N);
}

void gemm_set_threads(int n) { openblas_set_threads(n); }

const char *gemm_backend_name(void) { return openblas_name(); }

int gemm_bf16_is_native(void) { return bf16_native_allowed && onednn_bf16_kernel() != 0; }

void gemm_bf16_allow_native(int allow) { bf16_native_allowed = allow; }

const char *gemm_bf16_backend_name(void) {
    return gemm_bf16_is_native() ? onednn_bf16_kernel() : "OpenBLAS sgemm over bf16 values (no bf16 unit)";
}

int gemm_wants_restart(const char **var, const char **value) {
    const char *core = openblas_better_coretype();
    if (!core) return 0;
    *var = "OPENBLAS_CORETYPE";
    *value = core;
    return 1;
}

void gemm_restart_for_fast_kernels(char **argv) {
    const char *var, *value;
    if (!gemm_wants_restart(&var, &value) || getenv("CHIRP_NO_RESTART")) return;
    setenv(var, value, 1);
    setenv("CHIRP_SET_OPENBLAS_CORETYPE", value, 1); /* for the startup line */
    execv("/proc/self/exe", argv);
    unsetenv(var);
    unsetenv("CHIRP_SET_OPENBLAS_CORETYPE");
}
