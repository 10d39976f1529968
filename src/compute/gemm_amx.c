/* gemm_amx.c: attention's per-head bf16 products on the AMX tiles, on one
 * thread.
 *
 * Why: attention multiplies, per (batch, head), [T, 64] by [64, T] (the
 * scores, and dP in the backward) and [T, T] by [T, 64] (P V, dS K).
 * oneDNN 2.6 runs these on its gemm:jit kernel, not on the tiles (it does
 * so for strided operands and for K = 64): bench_machine times the scores
 * at T = 256, one product per thread, at 45-49 us there and 18-19 us here.
 *
 * What: C = alpha A B + beta C (B given as [K, N]) and C = alpha A B^T +
 * beta C (B given as [N, K]), A given as [M, K], where M and N are
 * multiples of 32 and K of 32 (up to 1024), one product per thread
 * (inside a parallel region). gemm.c tries it before oneDNN.
 *
 * Tiles: C goes in 32 x 32 blocks, four 16 x 16 fp32 accumulators (tmm0-3)
 * fed by two A tiles (16 rows of 32 bf16, tmm4-5) and two B tiles
 * (tmm6-7). TDPBF16PS wants B in pairs: B tile row r holds, for each of 16
 * columns j, the two values at k = 2r and 2r + 1 (for B^T, B's rows read
 * as 32-bit words and transposed; for B, two of its rows interleaved);
 * pack_pairs makes that copy once per call, into a per-thread buffer.
 * Like oneDNN's AMX kernels, the tiles treat bf16 subnormals as zero. */
#include "compute/gemm_backend.h"

#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compute/amx_config.h"
#include "compute/cpu.h"

#define MAX_K 1024

static _Thread_local uint32_t *pairs;
static _Thread_local size_t pairs_cap;

/* op(B) [K, N] as pairs: for each block of 16 columns, K/2 rows of 16
 * words (64 bytes, one tile row each). B is stored [N, K] when trans_b,
 * else [K, N]; row stride ldb. */
static void pack_pairs(uint32_t *dst, const uint16_t *B, int ldb, int trans_b, int N, int K) {
    int kp = K / 2;
    if (trans_b) {
        for (int j = 0; j < N; j++) {
            const uint16_t *row = B + (size_t)j * ldb;
            uint32_t *d = dst + (size_t)(j / 16) * kp * 16 + j % 16;
            for (int r = 0; r < kp; r++) {
                uint32_t w;
                memcpy(&w, row + 2 * r, sizeof w);
                d[(size_t)r * 16] = w;
            }
        }
        return;
    }
    for (int r = 0; r < kp; r++) {
        const uint16_t *lo = B + (size_t)(2 * r) * ldb, *hi = lo + ldb;
        for (int j = 0; j < N; j++) dst[((size_t)(j / 16) * kp + r) * 16 + j % 16] = lo[j] | (uint32_t)hi[j] << 16;
    }
}

__attribute__((target("amx-tile,amx-bf16"))) static void
tiles(int M, int N, int K, float alpha, const uint16_t *A, int lda, const uint32_t *bp, float beta, float *C, int ldc) {
    amx_load_full_tiles();
    float acc[4][16][16];
    size_t kp = (size_t)K / 2, a_stride = (size_t)lda * sizeof(uint16_t);
    for (int i = 0; i < M; i += 32) {
        for (int j = 0; j < N; j += 32) {
            const uint32_t *b0 = bp + (size_t)(j / 16) * kp * 16, *b1 = b0 + kp * 16;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int k = 0; k < K; k += 32) {
                _tile_loadd(4, A + (size_t)i * lda + k, a_stride);
                _tile_loadd(5, A + (size_t)(i + 16) * lda + k, a_stride);
                _tile_loadd(6, b0 + (size_t)(k / 2) * 16, 64);
                _tile_loadd(7, b1 + (size_t)(k / 2) * 16, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            if (alpha == 1.0f && beta == 0.0f) { /* straight into C: attention's case, and 4x faster
                                                   * than gcc -O3's code for the loop below */
                size_t c_stride = (size_t)ldc * sizeof(float);
                _tile_stored(0, C + (size_t)i * ldc + j, c_stride);
                _tile_stored(1, C + (size_t)i * ldc + j + 16, c_stride);
                _tile_stored(2, C + (size_t)(i + 16) * ldc + j, c_stride);
                _tile_stored(3, C + (size_t)(i + 16) * ldc + j + 16, c_stride);
                continue;
            }
            _tile_stored(0, acc[0], 64);
            _tile_stored(1, acc[1], 64);
            _tile_stored(2, acc[2], 64);
            _tile_stored(3, acc[3], 64);
            for (int q = 0; q < 4; q++) {
                int i0 = i + (q >> 1) * 16, j0 = j + (q & 1) * 16;
                for (int r = 0; r < 16; r++) {
                    float *c = C + (size_t)(i0 + r) * ldc + j0;
                    if (beta == 0.0f)
                        for (int s = 0; s < 16; s++) c[s] = alpha * acc[q][r][s];
                    else
                        for (int s = 0; s < 16; s++) c[s] = alpha * acc[q][r][s] + beta * c[s];
                }
            }
        }
    }
    _tile_release();
}

int amx_bf16_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const uint16_t *A, int lda,
                  const uint16_t *B, int ldb, float beta, float *C, int ldc) {
    if (trans_a || M <= 0 || N <= 0 || K <= 0 || M % 32 || N % 32 || K % 32 || K > MAX_K) return -1;
    if (omp_get_level() == 0 || !cpu_features()->amx_bf16) return -1;
    size_t need = (size_t)N * K / 2;
    if (need > pairs_cap) {
        uint32_t *p = realloc(pairs, need * sizeof *p);
        if (!p) return -1;
        pairs = p;
        pairs_cap = need;
    }
    pack_pairs(pairs, B, ldb, trans_b, N, K);
    tiles(M, N, K, alpha, A, lda, pairs, beta, C, ldc);
    return 0;
}
