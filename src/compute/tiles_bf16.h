/* tiles_bf16.h: inference's weight products on the AMX tiles.
 *
 * Why: prefill and the server's batched decoding multiply many rows by
 * the same weights, and on a CPU with AMX the tiles do bf16 products at
 * several times fp32's rate. A weight matrix is packed once, at load, in
 * the layout TDPBF16PS reads (TileMat); each call rounds the activations
 * to bf16 and accumulates in fp32, as PyTorch's bf16 inference does.
 *
 * Batch-invariant: every output is the same sequence of tile operations
 * over k (steps of 32, in order) whatever T is, and the tiles are always
 * 16 rows tall (short row blocks are padded with zero rows), so row t of
 * Y is bit-identical to the product of row t alone. Decoding one token
 * runs the same code with T = 1, so a prompt prefilled in one pass and
 * the same prompt fed token by token give the same numbers.
 *
 * This is not the fp32 arithmetic of kern_matmul_rows_in_out_bf16 (which
 * widens bf16 weights and keeps activations in fp32): the activations
 * lose their low 16 bits here. infer.c picks one or the other per model. */
#ifndef CHIRP_COMPUTE_TILES_BF16_H
#define CHIRP_COMPUTE_TILES_BF16_H

#include <stddef.h>
#include <stdint.h>

/* W [k, n] (y[n] = x[k] W) as tile pairs: for each group of 64 columns,
 * for each step of 32 k, four 1 KB tiles (16 columns each) of 16 rows,
 * row r holding k = 2r and 2r + 1 of each column as one 32-bit word. A
 * thread's share of the matrix is then one sequential stream. */
typedef struct TileMat {
    uint32_t *pairs;
    int k, n;   /* the matrix */
    int kp, np; /* k padded to 32, n to 64 (the padding holds zeros) */
} TileMat;

/* True if this process may use the tiles (cpu.h's amx_bf16). */
int tiles_available(void);

/* Packs bf16 W stored [k, n] row-major (Conv1D's [in, out]). */
void tilemat_pack_in_out(TileMat *m, const uint16_t *W, int k, int n);

/* Packs bf16 W stored [n, k] (out, in: the tied LM head, wte). */
void tilemat_pack_out_in(TileMat *m, const uint16_t *W, int n, int k);

void tilemat_destroy(TileMat *m);

/* Column j of W (for wte: token j's embedding), widened to k floats. */
void tilemat_column(const TileMat *m, int j, float *out);

/* Y[t, n] = bf16(X[t, k]) W + b[n] for t < T; b may be NULL. xh is the
 * caller's scratch for the rounded activations, tile_matmul_scratch(T, k)
 * values. Needs tiles_available(). Splits the columns over the OpenMP
 * team. */
void tile_matmul(float *Y, const float *X, const TileMat *W, const float *b, int T, uint16_t *xh);
size_t tile_matmul_scratch(int T, int k);

#endif
