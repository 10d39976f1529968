/* gemm.h: the matrix product of training and evaluation, and the choice
 * of precision it runs in. The model names no library and no ISA: every
 * product goes through gemm(), and this file's backend decides how.
 *
 * Row-major: C = alpha * op(A) @ op(B) + beta * C, with op(A) [M, K],
 * op(B) [K, N], C [M, N]; op(X) is X, or X transposed when its flag is set.
 *
 * Precision. COMPUTE_FP32 multiplies any floats (OpenBLAS sgemm: exact
 * against PyTorch's fp32 to ~1e-7). COMPUTE_BF16 promises that A and B
 * hold bf16 values (see bf16.h) and lets the backend use a bf16 matrix
 * unit; it accumulates in fp32 either way. This build's bf16 backend is
 * the portable one: OpenBLAS sgemm over the bf16-valued operands, which
 * gives bf16 mixed precision's numbers on any CPU (the products are exact
 * in fp32) but not its speed. A oneDNN backend for AMX / AVX512_BF16
 * goes behind this same call. */
#ifndef CHIRP_COMPUTE_GEMM_H
#define CHIRP_COMPUTE_GEMM_H

#include <stddef.h>

typedef enum { COMPUTE_FP32 = 0, COMPUTE_BF16 = 1 } ComputePrecision;

void gemm(ComputePrecision prec, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc);

/* Threads the backend may use (the OpenMP team's size). */
void gemm_set_threads(int n);

/* "OpenBLAS 0.3.21 ... , core Haswell": the fp32 backend, for startup lines. */
const char *gemm_backend_name(void);

/* Whether this build runs bf16 products on a bf16 unit of this CPU
 * (faster than fp32), or only emulates them through fp32. */
int gemm_bf16_is_native(void);

/* Resolves a --precision value ("auto", "fp32", "bf16") into *out and
 * writes why into why (for the startup line). auto picks bf16 only where
 * it is faster than fp32 here. Returns -1 with the error set on a bad
 * name. */
int compute_precision_choose(const char *name, ComputePrecision *out, char *why, size_t why_size);

const char *compute_precision_name(ComputePrecision p);

#endif
