/* gemm_openblas.c: gemm() on OpenBLAS, the only file that names it. */
#include "compute/gemm.h"

#include "compute/cpu.h"
#include "util/error.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

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

const char *compute_precision_name(ComputePrecision p) { return p == COMPUTE_BF16 ? "bf16" : "fp32"; }

int compute_precision_choose(const char *name, ComputePrecision *out, char *why, size_t why_size) {
    const CpuFeatures *f = cpu_features();
    int unit = f->amx_bf16 || f->avx512_bf16;
    if (!name || strcmp(name, "auto") == 0) {
        *out = COMPUTE_FP32;
        if (gemm_bf16_is_native()) {
            *out = COMPUTE_BF16;
            snprintf(why, why_size, "auto: %s has %s", f->name, f->amx_bf16 ? "AMX" : "AVX512_BF16");
        } else if (unit) {
            snprintf(why, why_size, "auto: %s has %s, but this build has no bf16 backend for it yet", f->name,
                     f->amx_bf16 ? "AMX" : "AVX512_BF16");
        } else {
            snprintf(why, why_size, "auto: %s has no AMX or AVX512_BF16", f->name);
        }
        return 0;
    }
    if (strcmp(name, "fp32") == 0) {
        *out = COMPUTE_FP32;
        snprintf(why, why_size, "asked for");
        return 0;
    }
    if (strcmp(name, "bf16") == 0) {
        *out = COMPUTE_BF16;
        snprintf(why, why_size, "asked for%s",
                 gemm_bf16_is_native() ? "" : "; emulated through fp32 sgemm here, slower than fp32");
        return 0;
    }
    return chirp_fail("unknown precision '%s' (use auto, fp32 or bf16)", name);
}
