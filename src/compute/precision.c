/* precision.c: which precision --precision auto|fp32|bf16 means on this
 * CPU and build (see gemm.h). */
#include "compute/cpu.h"
#include "compute/gemm.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

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
