/* precision.c: which precision --precision auto|fp32|bf16 means on this
 * CPU and build (see gemm.h). */
#include "compute/cpu.h"
#include "compute/gemm.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

const char *compute_precision_name(ComputePrecision p) { return p == COMPUTE_BF16 ? "bf16" : "fp32"; }

static void choose_auto(ComputePrecision *out, char *why, size_t why_size) {
    const CpuFeatures *f = cpu_features();
    *out = COMPUTE_FP32;
    if (!gemm_bf16_is_native()) {
        if (f->amx_bf16 || f->avx512_bf16)
            snprintf(why, why_size, "auto: %s has %s, but oneDNN offers no bf16 kernel for it here", f->name,
                     f->amx_bf16 ? "AMX" : "AVX512_BF16");
        else snprintf(why, why_size, "auto: %s has no AMX or AVX512_BF16", f->name);
        return;
    }
    if (f->amx_bf16) {
        *out = COMPUTE_BF16;
        snprintf(why, why_size, "auto: %s has AMX", f->name);
        return;
    }
    /* AVX512_BF16 alone: a rule, not a timing, so that the same command
     * trains the same way on the same machine whatever its load. AMD's
     * Zen 4 and 5 issue a bf16 dot product (32 multiply-adds per zmm) as
     * often as an fp32 FMA (16): twice the fp32 peak. Intel issues it at
     * a quarter of FMA's rate, half the fp32 peak (measured on a Xeon
     * model 207: 84 against 163 GFLOP/s per core), so there fp32 wins. */
    if (f->amd) {
        *out = COMPUTE_BF16;
        snprintf(why, why_size, "auto: %s has AVX512_BF16, twice the fp32 rate on AMD", f->name);
    } else {
        snprintf(why, why_size, "auto: %s has AVX512_BF16 but no AMX; bf16 runs slower than fp32 there", f->name);
    }
}

int compute_precision_choose(const char *name, ComputePrecision *out, char *why, size_t why_size) {
    if (!name || strcmp(name, "auto") == 0) {
        choose_auto(out, why, why_size);
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
