/* bf16_rows.c: does a row of a bf16 product depend on how many rows are
 * multiplied with it? Batch-invariant serving needs it not to: a decoded
 * token must come out the same alone or in a batch. chirp's inference
 * kernels promise it (kernels.h); this checks whether the bf16 products
 * of training (gemm_bf16: oneDNN on AMX or AVX512_BF16) would, before any
 * inference path is built on them.
 *
 * For GPT-2 124M's four linear shapes and the LM head, each row is
 * computed alone (M = 1) and then inside products of M rows; prints, per
 * M, how many elements differ bitwise from the rows computed alone.
 *
 * usage: build/release/bench/bf16_rows */
#include "compute/bf16.h"
#include "compute/cpu.h"
#include "compute/gemm.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned seed = 1;
static float next_value(void) {
    seed = seed * 1664525u + 1013904223u;
    return (float)(seed >> 8) / 16777216.0f - 0.5f;
}

/* C [M, N] = A [M, K] @ op(B), B [K, N] or (trans_b) [N, K]. */
static void check(const char *name, int trans_b, int K, int N) {
    enum { MAX_M = 257 };
    int ldb = trans_b ? K : N;
    uint16_t *A = malloc(sizeof(uint16_t) * MAX_M * K), *B = malloc(sizeof(uint16_t) * K * N);
    for (size_t i = 0; i < (size_t)MAX_M * K; i++) A[i] = bf16_from_f32(next_value());
    for (size_t i = 0; i < (size_t)K * N; i++) B[i] = bf16_from_f32(next_value() * 0.05f);
    float *alone = malloc(sizeof(float) * MAX_M * N), *C = malloc(sizeof(float) * MAX_M * N);
    for (int r = 0; r < MAX_M; r++)
        gemm_bf16(0, trans_b, 1, N, K, 1.0f, A + (size_t)r * K, K, B, ldb, NULL, 0.0f, alone + (size_t)r * N, N);
    int Ms[] = {2, 5, 16, 64, 128, 257};
    printf("%-10s K %5d N %5d:", name, K, N);
    for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++) {
        int M = Ms[i];
        gemm_bf16(0, trans_b, M, N, K, 1.0f, A, K, B, ldb, NULL, 0.0f, C, N);
        long differ = 0;
        for (size_t j = 0; j < (size_t)M * N; j++) differ += memcmp(&C[j], &alone[j], sizeof(float)) != 0;
        printf("  M %3d: %ld", M, differ);
    }
    printf("\n");
    free(A), free(B), free(alone), free(C);
}

int main(int argc, char **argv) {
    (void)argc;
    gemm_restart_for_fast_kernels(argv);
    printf("bf16 products: %s; CPU %s (%s), %d threads\n", gemm_bf16_backend_name(), cpu_features()->name, cpu_units(),
           omp_get_max_threads());
    printf("elements that differ bitwise from the same rows computed one at a time:\n");
    check("qkv", 0, 768, 2304);
    check("attn proj", 0, 768, 768);
    check("mlp up", 0, 768, 3072);
    check("mlp down", 0, 3072, 768);
    check("lm head", 1, 768, 50257);
    return 0;
}
