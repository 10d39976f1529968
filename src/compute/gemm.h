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
 * unit; it accumulates in fp32 either way. Where oneDNN finds AMX or
 * AVX512_BF16, bf16 products run there (gemm_onednn.c); elsewhere they
 * run as OpenBLAS sgemm over the bf16-valued operands, which gives bf16
 * mixed precision's numbers on any CPU (the products are exact in fp32)
 * but not its speed. The two differ only in the order of the fp32 sums. */
#ifndef CHIRP_COMPUTE_GEMM_H
#define CHIRP_COMPUTE_GEMM_H

#include <stddef.h>
#include <stdint.h>

typedef enum { COMPUTE_FP32 = 0, COMPUTE_BF16 = 1 } ComputePrecision;

void gemm(ComputePrecision prec, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc);

/* gemm(COMPUTE_BF16, ...) with A and B given as bf16 bits (bf16.h)
 * instead of bf16-valued floats: the weights' bf16 copy and the
 * activations the model stores in bf16, which a bf16 unit reads as they
 * are. The same result as gemm() over the widened values. bias, when not
 * NULL, is [N] floats added to every row of the product (a linear
 * layer's bias, which the unit adds as it writes C). */
void gemm_bf16(int trans_a, int trans_b, int M, int N, int K, float alpha, const uint16_t *A, int lda,
               const uint16_t *B, int ldb, const float *bias, float beta, float *C, int ldc);

/* gemm_bf16 with alpha 1 and beta 0 whose C [M, N] (row stride ldc) is
 * written as bf16 bits, each element rounded once from its fp32 sum (and
 * bias): for a product whose output only feeds other bf16 products. */
void gemm_bf16_to_bf16(int trans_a, int trans_b, int M, int N, int K, const uint16_t *A, int lda, const uint16_t *B,
                       int ldb, const float *bias, uint16_t *C, int ldc);

/* Threads the backend may use (the OpenMP team's size). */
void gemm_set_threads(int n);

/* "OpenBLAS 0.3.21 ... , core Haswell": the fp32 backend, for startup lines. */
const char *gemm_backend_name(void);

/* Whether bf16 products run on a bf16 unit of this CPU (AMX or
 * AVX512_BF16, through oneDNN), or only through fp32 sgemm. */
int gemm_bf16_is_native(void);

/* What bf16 products run on: "oneDNN 2.6.3 brg:avx512_core_amx", or the
 * sgemm fallback. */
const char *gemm_bf16_backend_name(void);

/* Tests: 0 sends bf16 products to the sgemm fallback even where a bf16
 * unit exists, so both paths can be compared in one process. */
void gemm_bf16_allow_native(int allow);

/* Whether the fp32 library chose slow kernels it can be told to avoid
 * only through the environment, before it loads: then *var=*value names
 * the setting (OPENBLAS_CORETYPE=SkylakeX) with which the program should
 * run itself again. 0 when all is well or the user set it. */
int gemm_wants_restart(const char **var, const char **value);

/* Where gemm_wants_restart says so (and CHIRP_NO_RESTART is unset), sets
 * the variable and runs this program again from the start with the same
 * argv (execv of /proc/self/exe; the second time the setting is there, so
 * once). Returns only when no restart was needed or exec failed; then the
 * slow kernels stay. Call first thing in main(). */
void gemm_restart_for_fast_kernels(char **argv);

/* Resolves a --precision value ("auto", "fp32", "bf16") into *out and
 * writes why into why (for the startup line). auto picks bf16 only where
 * it is faster than fp32 here. Returns -1 with the error set on a bad
 * name. */
int compute_precision_choose(const char *name, ComputePrecision *out, char *why, size_t why_size);

const char *compute_precision_name(ComputePrecision p);

#endif
