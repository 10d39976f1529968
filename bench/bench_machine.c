/* bench_machine.c: what this machine can do, as the yardstick for every
 * other benchmark: matrix product GFLOP/s (square and GPT-2-shaped) in
 * fp32 (OpenBLAS sgemm) and bf16 (chirp's bf16 products on bf16 operands:
 * oneDNN on AMX or AVX512_BF16, else sgemm over the widened values), and memory read bandwidth, at
 * 1 and all threads; then attention's per-head score product (one per
 * thread, as the model runs it) on each path bf16 products can take.
 * Prints medians of 5 runs. Like chirp, it restarts
 * itself with OPENBLAS_CORETYPE set where OpenBLAS does not know the CPU.
 *
 * usage: build/release/bench/bench_machine */
#include "compute/bf16.h"
#include "compute/cpu.h"
#include "compute/gemm.h"
#include "compute/gemm_backend.h"
#include "compute/simd.h"
#include "util/timer.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static float *random_matrix(size_t n) {
    float *m = malloc(n * sizeof *m);
    for (size_t i = 0; i < n; i++) m[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return m;
}

/* C = A B in precision p: gemm() on floats in fp32; in bf16, gemm_bf16
 * on bf16 bits, as the model calls it. */
static void product(ComputePrecision p, int M, int N, int K, const float *A, const float *B, const uint16_t *A16,
                    const uint16_t *B16, float *C) {
    if (p == COMPUTE_BF16) gemm_bf16(0, 0, M, N, K, 1.0f, A16, K, B16, N, NULL, 0.0f, C, N);
    else gemm(p, 0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
}

/* GFLOP/s of C[M,N] = A[M,K] @ B[K,N] in precision p. */
static double gemm_gflops(ComputePrecision p, int M, int N, int K) {
    float *A = random_matrix((size_t)M * K), *B = random_matrix((size_t)K * N);
    float *C = calloc((size_t)M * N, sizeof *C);
    uint16_t *A16 = malloc(sizeof(uint16_t) * M * K), *B16 = malloc(sizeof(uint16_t) * K * N);
    bf16_from_f32_array(A16, A, (size_t)M * K);
    bf16_from_f32_array(B16, B, (size_t)K * N);
    double runs[5];
    product(p, M, N, K, A, B, A16, B16, C);
    for (int r = 0; r < 5; r++) {
        int reps = 0;
        double t0 = time_now(), t;
        do {
            product(p, M, N, K, A, B, A16, B16, C);
            reps++;
            t = time_now() - t0;
        } while (t < 0.3);
        runs[r] = 2.0 * M * N * K * reps / t / 1e9;
    }
    free(A);
    free(B);
    free(C);
    free(A16);
    free(B16);
    return median(runs, 5);
}

/* GB/s of summing a 1 GiB float array (a streaming read, like a decode step
 * reading every weight once). */
static double read_bandwidth(int threads) {
    size_t n = (size_t)1 << 28;
    float *a = malloc(n * sizeof *a);
#pragma omp parallel for num_threads(threads)
    for (size_t i = 0; i < n; i++) a[i] = (float)(i & 7);
    double runs[5];
    volatile float sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = time_now();
        float total = 0;
        /* Four vector accumulators: a scalar float sum would be latency-bound
         * (the compiler may not reorder it) and measure the adder, not DRAM. */
#pragma omp parallel for num_threads(threads) reduction(+ : total)
        for (size_t blk = 0; blk < n / 4096; blk++) {
            const float *p = a + blk * 4096;
            vf s0 = vzero(), s1 = s0, s2 = s0, s3 = s0;
            for (int i = 0; i < 4096; i += 4 * VW) {
                s0 = vadd(s0, vload(p + i));
                s1 = vadd(s1, vload(p + i + VW));
                s2 = vadd(s2, vload(p + i + 2 * VW));
                s3 = vadd(s3, vload(p + i + 3 * VW));
            }
            total += vsum(vadd(vadd(s0, s1), vadd(s2, s3)));
        }
        double t = time_now() - t0;
        sink = total;
        runs[r] = (double)n * sizeof *a / t / 1e9;
    }
    (void)sink;
    free(a);
    return median(runs, 5);
}

/* Microseconds of one [256, 64] x [64, 256] bf16 product (attention's
 * scores at T = 256, head size 64, q and k strided inside qkv as in
 * training), every thread running its own at once. path: 0 what gemm_bf16
 * picks, 1 oneDNN alone, 2 the sgemm fallback. */
static double scores_us(int path) {
    enum { T = 256, HS = 64, LD = 3 * 384 };
    int nt = omp_get_max_threads();
    uint16_t *qkv = malloc(sizeof(uint16_t) * (size_t)nt * T * LD);
    float *S = malloc(sizeof(float) * (size_t)nt * T * T);
    for (size_t i = 0; i < (size_t)nt * T * LD; i++) qkv[i] = bf16_from_f32((float)(i % 61) / 61.0f - 0.5f);
    double runs[5];
    int ok = 1;
    for (int r = 0; r < 6; r++) {
        double t0 = time_now();
#pragma omp parallel reduction(& : ok)
        {
            int id = omp_get_thread_num();
            const uint16_t *q = qkv + (size_t)id * T * LD;
            float *c = S + (size_t)id * T * T;
            for (int k = 0; k < 20; k++) {
                if (path == 1)
                    ok &= onednn_bf16_gemm(0, 1, T, T, HS, 1.0f, NULL, q, LD, NULL, q + 384, LD, NULL, 0.0f, c, T, 0) ==
                          0;
                else gemm_bf16(0, 1, T, T, HS, 1.0f, q, LD, q + 384, LD, NULL, 0.0f, c, T);
            }
        }
        if (r > 0) runs[r - 1] = (time_now() - t0) / 20 * 1e6; /* the first run warms up */
    }
    free(qkv);
    free(S);
    return ok ? median(runs, 5) : -1.0;
}

int main(int argc, char **argv) {
    (void)argc;
    gemm_restart_for_fast_kernels(argv);
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    int max_threads = omp_get_max_threads();
    printf("machine: %s (%s), %d threads\n", cpu_features()->name, cpu_units(), max_threads);
    printf("fp32: %s (OPENBLAS_CORETYPE=%s)\nbf16: %s\n", gemm_backend_name(), coretype ? coretype : "unset",
           gemm_bf16_backend_name());
    int threads[2] = {1, max_threads};
    for (int t = 0; t < (max_threads > 1 ? 2 : 1); t++) {
        gemm_set_threads(threads[t]);
        omp_set_num_threads(threads[t]);
        printf("threads %d: fp32 2048^3 %.1f GFLOP/s | fp32 GPT-2 fc 1024x3072x768 %.1f | bf16 2048^3 %.1f | "
               "bf16 fc %.1f | read %.1f GB/s\n",
               threads[t], gemm_gflops(COMPUTE_FP32, 2048, 2048, 2048), gemm_gflops(COMPUTE_FP32, 1024, 3072, 768),
               gemm_gflops(COMPUTE_BF16, 2048, 2048, 2048), gemm_gflops(COMPUTE_BF16, 1024, 3072, 768),
               read_bandwidth(threads[t]));
    }
    omp_set_num_threads(max_threads);
    double chosen = scores_us(0), onednn = gemm_bf16_is_native() ? scores_us(1) : -1.0;
    gemm_bf16_allow_native(0);
    double fallback = scores_us(2);
    gemm_bf16_allow_native(1);
    printf("attention scores 256x256x64 bf16, one per thread on %d threads: %.1f us as chirp runs it", max_threads,
           chosen);
    if (onednn >= 0) printf(" | oneDNN alone %.1f us", onednn);
    printf(" | sgemm over bf16 values %.1f us\n", fallback);
}
