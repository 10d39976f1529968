/* tiles_bf16.c: packed bf16 weights and inference's products on the AMX
 * tiles (see tiles_bf16.h).
 *
 * Tiles: Y goes in blocks of 32 rows x 32 columns, four 16 x 16 fp32
 * accumulators (tmm0-3) fed by two A tiles (16 rows of 32 bf16
 * activations, tmm4-5) and two B tiles (tmm6-7), the layout of
 * gemm_amx.c. A block whose second 16 rows are all padding (T <= 16, as
 * in decoding) skips them: a row's result only ever depends on its own
 * A row and on B, so leaving other rows out changes none of its bits. */
#include "compute/tiles_bf16.h"

#include "compute/bf16.h"
#include "compute/amx_config.h"
#include "compute/cpu.h"
#include "util/error.h"

#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP 32 /* columns per packed group: two 16-column tiles */

int tiles_available(void) { return cpu_features()->amx_bf16; }

static size_t steps_of(const TileMat *m) { return (size_t)m->kp / 32; }

/* Word of (k index i, column j) in m->pairs; the value is its low half
 * when i is even, its high half when odd. */
static size_t pair_index(const TileMat *m, int i, int j) {
    size_t g = (size_t)j / GROUP, s = (size_t)i / 32, blk = (size_t)(j % GROUP) / 16;
    return ((g * steps_of(m) + s) * 2 + blk) * 256 + (size_t)(i % 32) / 2 * 16 + (size_t)(j % 16);
}

static void tilemat_alloc(TileMat *m, int k, int n) {
    m->k = k;
    m->n = n;
    m->kp = (k + 31) / 32 * 32;
    m->np = (n + GROUP - 1) / GROUP * GROUP;
    m->pairs = xcalloc((size_t)m->kp / 2 * m->np, sizeof(uint32_t));
}

/* W's element (i, j) is W[i * si + j * sj]. */
static void pack(TileMat *m, const uint16_t *W, int k, int n, size_t si, size_t sj) {
    tilemat_alloc(m, k, n);
#pragma omp parallel for schedule(static) if ((long)k * n >= 65536)
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < k; i += 2) {
            uint32_t lo = W[(size_t)i * si + (size_t)j * sj];
            uint32_t hi = i + 1 < k ? W[(size_t)(i + 1) * si + (size_t)j * sj] : 0;
            m->pairs[pair_index(m, i, j)] = lo | hi << 16;
        }
    }
}

void tilemat_pack_in_out(TileMat *m, const uint16_t *W, int k, int n) { pack(m, W, k, n, (size_t)n, 1); }

void tilemat_pack_out_in(TileMat *m, const uint16_t *W, int n, int k) { pack(m, W, k, n, 1, (size_t)k); }

void tilemat_destroy(TileMat *m) {
    free(m->pairs);
    memset(m, 0, sizeof *m);
}

void tilemat_column(const TileMat *m, int j, float *out) {
    for (int i = 0; i < m->k; i++) {
        uint32_t w = m->pairs[pair_index(m, i, j)];
        out[i] = bf16_to_f32((uint16_t)(i % 2 ? w >> 16 : w & 0xffffu));
    }
}

/* Y's rows [i0, i0 + rows) and columns [j0, j0 + cols) from the 32 x 32
 * block acc, plus the bias. */
static void store_block(float *Y, int n, const float acc[32][32], int i0, int rows, int j0, int cols, const float *b) {
    for (int r = 0; r < rows; r++) {
        float *y = Y + (size_t)(i0 + r) * n + j0;
        for (int c = 0; c < cols; c++) y[c] = acc[r][c] + (b ? b[j0 + c] : 0.0f);
    }
}

/* Groups [g0, g1) of W's columns for all T rows of xh: the rounded
 * activations in A tiles, for each block of 16 rows and each step of 32
 * k one contiguous 1 KB tile (16 rows of 32 bf16), zero past T and k, so
 * that every tile load, A's and B's, reads 1 KB in sequence. */
__attribute__((target("amx-tile,amx-bf16"))) static void groups(float *Y, const uint16_t *xh, int T, const TileMat *W,
                                                                const float *b, int g0, int g1) {
    amx_load_full_tiles();
    float acc[32][32];
    size_t steps = steps_of(W);
    for (int g = g0; g < g1; g++) {
        const uint32_t *panel = W->pairs + (size_t)g * steps * 512;
        int j0 = g * GROUP, cols = W->n - j0 < GROUP ? W->n - j0 : GROUP;
        for (int i0 = 0; i0 < T; i0 += 32) {
            const uint16_t *a0 = xh + (size_t)(i0 / 16) * steps * 512, *a1 = a0 + steps * 512;
            int rows = T - i0 < 32 ? T - i0 : 32;
            _tile_zero(0);
            _tile_zero(1);
            if (rows > 16) {
                _tile_zero(2);
                _tile_zero(3);
                for (size_t s = 0; s < steps; s++) {
                    const uint32_t *bt = panel + s * 512;
                    _tile_loadd(4, a0 + s * 512, 64);
                    _tile_loadd(5, a1 + s * 512, 64);
                    _tile_loadd(6, bt, 64);
                    _tile_loadd(7, bt + 256, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
                _tile_stored(2, &acc[16][0], 128);
                _tile_stored(3, &acc[16][16], 128);
            } else {
                for (size_t s = 0; s < steps; s++) {
                    const uint32_t *bt = panel + s * 512;
                    _tile_loadd(4, a0 + s * 512, 64);
                    _tile_loadd(6, bt, 64);
                    _tile_loadd(7, bt + 256, 64);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                }
            }
            _tile_stored(0, &acc[0][0], 128);
            _tile_stored(1, &acc[0][16], 128);
            store_block(Y, W->n, (const float(*)[32])acc, i0, rows, j0, cols, b);
        }
    }
    _tile_release();
}

/* Row x (k floats; NULL for a padding row) rounded into its place in the
 * A tiles: 32 values per step, steps 1 KB apart. The inner loop is
 * contiguous so that it vectorises. */
static void round_row(uint16_t *dst, const float *x, int k, int kp) {
    for (int s = 0; s < kp / 32; s++) {
        uint16_t *d = dst + (size_t)s * 512;
        int n = x ? k - s * 32 : 0;
        if (n > 32) n = 32;
        if (n < 0) n = 0;
        for (int i = 0; i < n; i++) d[i] = bf16_from_f32(x[s * 32 + i]);
        for (int i = n; i < 32; i++) d[i] = 0;
    }
}

size_t tile_matmul_scratch(int T, int k) { return (size_t)(T + 15) / 16 * 16 * ((size_t)(k + 31) / 32 * 32); }

void tile_matmul(float *Y, const float *X, const TileMat *W, const float *b, int T, uint16_t *xh) {
    /* The first cpu_features() call is also what asks Linux for the tile
     * state; without it the first tile instruction faults. */
    if (!tiles_available()) {
        fprintf(stderr, "chirp: internal error: tile_matmul on a CPU without usable AMX tiles\n");
        abort();
    }
    int k = W->k, kp = W->kp;
    int Tp = (T + 15) / 16 * 16; /* whole A tiles: the rows past T are zeros */
    int ngroups = W->np / GROUP;
    int par = (long)T * k * W->n >= 65536;
#pragma omp parallel if (par)
    {
#pragma omp for schedule(static)
        for (int t = 0; t < Tp; t++)
            round_row(xh + (size_t)(t / 16) * kp * 16 + (size_t)(t % 16) * 32, t < T ? X + (size_t)t * k : NULL, k, kp);
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int g0 = (int)((long)ngroups * id / nt), g1 = (int)((long)ngroups * (id + 1) / nt);
        if (g0 < g1) groups(Y, xh, T, W, b, g0, g1);
    }
}
