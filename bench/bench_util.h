/* bench_util.h: what the benchmark programs share: medians and a streaming
 * read-bandwidth measurement (the bound for memory-bound decoding). */
#ifndef CHIRP_BENCH_UTIL_H
#define CHIRP_BENCH_UTIL_H

#include <omp.h>
#include <stdlib.h>

#include "compute/simd.h"
#include "util/timer.h"

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorts v). */
static inline double bench_median(double *v, int n) {
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof(double), bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The p-th percentile (0..100) of v[0..n), nearest rank (sorts v). */
static inline double bench_percentile(double *v, int n, double p) {
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof(double), bench_cmp_double);
    int k = (int)(p / 100.0 * n + 0.999999) - 1;
    if (k < 0) k = 0;
    if (k >= n) k = n - 1;
    return v[k];
}

/* Streaming read bandwidth in bytes/s over buf[0..n) (n a multiple of 64):
 * every thread sums its slice with four independent vector sums (the
 * widest unit the build targets) so the adds never limit the reads.
 * Median of runs (at most 16). */
static inline double bench_bandwidth(const float *buf, size_t n, int runs) {
    double t[16];
    if (runs > 16) runs = 16;
    volatile float sink = 0.0f;
    for (int r = 0; r < runs; r++) {
        double t0 = time_now();
        float total = 0.0f;
#pragma omp parallel reduction(+ : total)
        {
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
            size_t a = n * id / nt / 64 * 64, b = n * (id + 1) / nt / 64 * 64;
            vf s0 = vzero(), s1 = vzero(), s2 = vzero(), s3 = vzero();
            for (size_t i = a; i < b; i += 4 * VW) {
                s0 = vadd(s0, vload(buf + i));
                s1 = vadd(s1, vload(buf + i + VW));
                s2 = vadd(s2, vload(buf + i + 2 * VW));
                s3 = vadd(s3, vload(buf + i + 3 * VW));
            }
            total += vsum(vadd(vadd(s0, s1), vadd(s2, s3)));
        }
        t[r] = time_now() - t0;
        sink += total;
    }
    (void)sink;
    return (double)n * sizeof(float) / bench_median(t, runs);
}

#endif
