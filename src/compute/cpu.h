/* cpu.h: what the CPU this process runs on offers, read once with cpuid
 * (and xgetbv: a unit counts only if the kernel saves its registers, and
 * AMX also needs Linux's per-process permission, asked for here). */
#ifndef CHIRP_COMPUTE_CPU_H
#define CHIRP_COMPUTE_CPU_H

typedef struct CpuFeatures {
    int avx2_fma;    /* AVX2 and FMA */
    int avx512f;     /* AVX-512 Foundation */
    int avx512_core; /* F, BW, DQ and VL: what OpenBLAS's SkylakeX kernels need */
    int avx512_bf16; /* AVX512_BF16: vdpbf16ps, bf16 dot products */
    int amx_bf16;    /* AMX tiles with bf16 (TDPBF16PS), usable by this process */
    int amd;         /* vendor AuthenticAMD */
    char name[64];   /* the brand string, e.g. "AMD EPYC 7B13" */
} CpuFeatures;

const CpuFeatures *cpu_features(void);

/* "AVX2+FMA AVX-512 AVX512_BF16 AMX-BF16": the units above, for startup
 * lines and benchmark headers. */
const char *cpu_units(void);

#endif
