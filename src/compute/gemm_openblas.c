/* gemm_openblas.c: fp32 products on OpenBLAS, the only file that names it. */
#include "compute/cpu.h"
#include "compute/gemm_backend.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

void openblas_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                A, lda, B, ldb, beta, C, ldc);
}

void openblas_set_threads(int n) { openblas_set_num_threads(n); }

const char *openblas_name(void) {
    static char name[200];
    if (!name[0])
        snprintf(name, sizeof name, "%s, core %s%s", openblas_get_config(), openblas_get_corename(),
                 getenv("CHIRP_SET_OPENBLAS_CORETYPE") ? " (set by chirp: OpenBLAS did not know this CPU)" : "");
    return name;
}

/* OpenBLAS picks its kernels from its own table of CPU models when it
 * loads. On a model newer than its table it falls back to SSE kernels:
 * Debian's 0.3.21 runs "Prescott" code on the Xeon model 207 (Emerald
 * Rapids), at a fifth of the speed its AVX-512 kernels reach there. */
const char *openblas_better_coretype(void) {
    if (getenv("OPENBLAS_CORETYPE")) return NULL; /* the user's choice stands */
    static const char *vector_cores[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"};
    const char *core = openblas_get_corename();
    for (size_t i = 0; i < sizeof vector_cores / sizeof vector_cores[0]; i++)
        if (strcasecmp(core, vector_cores[i]) == 0) return NULL;
    const CpuFeatures *f = cpu_features();
    if (f->avx512_core) return "SkylakeX";
    if (f->avx2_fma) return "Haswell";
    return NULL;
}
