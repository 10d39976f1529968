/* cpu.c: run-time CPU feature detection (see cpu.h). */
#include "compute/cpu.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void detect(CpuFeatures *f) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    f->amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u; /* "Auth" "enti" "cAMD" */
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int os_avx = (xcr0 & 0x6) == 0x6, os_avx512 = (xcr0 & 0xe6) == 0xe6, os_amx = (xcr0 & 0x60000) == 0x60000;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        f->avx2_fma = os_avx && ((b >> 5) & 1) && fma;
        f->avx512f = os_avx512 && ((b >> 16) & 1);
        f->avx512_core = f->avx512f && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
        int amx = ((d >> 22) & 1) && ((d >> 24) & 1); /* AMX-BF16 and AMX-TILE */
        __cpuid_count(7, 1, a, b, c, d);
        f->avx512_bf16 = f->avx512f && ((a >> 5) & 1);
        /* Linux hands out the 8 KB tile state only on request. */
        f->amx_bf16 = amx && os_amx && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
    }
    unsigned brand[12];
    if (__get_cpuid_max(0x80000000, NULL) >= 0x80000004) {
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2], &brand[4 * i + 3]);
        memcpy(f->name, brand, sizeof brand);
        f->name[sizeof brand] = '\0';
    }
}
#else
static void detect(CpuFeatures *f) { (void)f; }
#endif

static CpuFeatures features;
static char units[96];

static void init(void) {
    detect(&features);
    /* Brand strings come padded with spaces. */
    char *s = features.name;
    while (*s == ' ') s++;
    memmove(features.name, s, strlen(s) + 1);
    for (size_t n = strlen(features.name); n > 0 && features.name[n - 1] == ' '; n--) features.name[n - 1] = '\0';
    if (!features.name[0]) snprintf(features.name, sizeof features.name, "unknown CPU");
    snprintf(units, sizeof units, "%s%s%s%s", features.avx2_fma ? "AVX2+FMA" : "no AVX2",
             features.avx512f ? " AVX-512" : "", features.avx512_bf16 ? " AVX512_BF16" : "",
             features.amx_bf16 ? " AMX-BF16" : "");
}

const CpuFeatures *cpu_features(void) {
#pragma omp critical(chirp_cpu_features)
    {
        if (!units[0]) init();
    }
    return &features;
}

const char *cpu_units(void) {
    cpu_features();
    return units;
}
