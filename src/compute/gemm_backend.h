/* gemm_backend.h: the backends gemm.c dispatches to. Only compute/'s gemm
 * files (and tests that check a backend itself) include this; the rest of
 * chirp calls gemm() (gemm.h). */
#ifndef CHIRP_COMPUTE_GEMM_BACKEND_H
#define CHIRP_COMPUTE_GEMM_BACKEND_H

#include <stdint.h>

/* gemm_openblas.c: fp32 sgemm; also bf16 products over bf16-valued
 * floats where there is no bf16 unit (exact products, fp32 sums). */
void openblas_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc);
void openblas_set_threads(int n);
const char *openblas_name(void);
const char *openblas_better_coretype(void);

/* gemm_onednn.c: bf16 products on a bf16 unit. onednn_bf16_kernel names
 * the kernel ("oneDNN 2.6.3 brg:avx512_core_amx"), or is NULL where
 * oneDNN has none that uses AMX or AVX512_BF16 (or CHIRP_NO_ONEDNN is
 * set). onednn_bf16_gemm returns 0, or -1 (C untouched) where it could
 * not run the product. Each of A and B comes as bf16-valued floats (A)
 * or as bf16 bits (A16); the other is NULL. bias: [N] or NULL, as in
 * gemm_bf16. C holds floats, or bf16 bits where c_bf16 is set. */
const char *onednn_bf16_kernel(void);
int onednn_bf16_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, const uint16_t *A16,
                     int lda, const float *B, const uint16_t *B16, int ldb, const float *bias, float beta, void *C,
                     int ldc, int c_bf16);

/* gemm_amx.c: C = alpha A op(B) + beta C on the AMX tiles, one thread,
 * for the products oneDNN leaves off them (attention's, per head):
 * returns 0, or -1 (C untouched) where the shape or the CPU does not fit
 * (see the file). */
int amx_bf16_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const uint16_t *A, int lda,
                  const uint16_t *B, int ldb, float beta, float *C, int ldc);

#endif
