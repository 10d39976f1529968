/* gemm_openblas.c: gemm() on OpenBLAS, the only file that names it. */
#include "compute/gemm.h"

#include <cblas.h>
#include <stdio.h>

void gemm(ComputePrecision prec, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc) {
    /* bf16-valued operands: their products are exact in fp32, so sgemm
     * computes bf16 mixed precision's result (see gemm.h). */
    (void)prec;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                A, lda, B, ldb, beta, C, ldc);
}

void gemm_set_threads(int n) { openblas_set_num_threads(n); }

const char *gemm_backend_name(void) {
    static char name[160];
    if (!name[0]) snprintf(name, sizeof name, "%s, core %s", openblas_get_config(), openblas_get_corename());
    return name;
}

int gemm_bf16_is_native(void) { return 0; }
