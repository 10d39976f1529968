/* quant.h: int8 weight quantization and the integer matrix kernels.
 *
 * Format (Q8 blocks, symmetric): a weight matrix is stored transposed to
 * [out, in] so that a dot product runs along contiguous memory, as int8
 * values q with one fp32 scale d per block of QBLOCK consecutive inputs;
 * w ~= q * d, d = max|w| / 127 over the block. Activations are quantized
 * the same way on the fly, so a block's dot product is an exact int32 sum
 * (AVX-512 VNNI vpdpbusd: 64 multiply-adds per instruction) times dw * dx.
 * This reads ~1.13 bytes per weight instead of 4, which is what makes
 * decoding faster: decoding is bound by memory bandwidth. */
#ifndef CHIRP_COMPUTE_QUANT_H
#define CHIRP_COMPUTE_QUANT_H

#include <stddef.h>
#include <stdint.h>

#define QBLOCK 32

typedef struct QMat {
    int rows;  /* out */
    int cols;  /* in, a multiple of QBLOCK */
    int8_t *q; /* [rows, cols] */
    float *d;  /* [rows, cols / QBLOCK] */
    int owned; /* q and d were malloc'd by qmat_* (else they point into a mapped file) */
} QMat;

/* Quantizes a Conv1D weight W[in, out] (row-major) into m (transposed to
 * [out, in]). Returns -1 with the error set if in is not a multiple of
 * QBLOCK. */
int qmat_from_in_out(QMat *m, const float *W, int in, int out);

/* Quantizes a row-major W[rows, cols] (already [out, in]: the tied wte). */
int qmat_from_out_in(QMat *m, const float *W, int rows, int cols);

void qmat_destroy(QMat *m);

/* out[cols] = dequantized row r (the token embedding lookup when wte is
 * int8). */
void qmat_dequant_row(const QMat *m, int r, float *out);

/* Quantizes n floats (n a multiple of QBLOCK) into q[n] and d[n/QBLOCK]. */
void quant_q8_vec(const float *x, int n, int8_t *q, float *d);

/* Y[t, rows] = b + X[t, cols] @ W^T for t < T, with X already quantized
 * (qx [T, cols], dx [T, cols/QBLOCK]). b may be NULL. T = 1 is the
 * decoding matrix-vector product. Uses OpenMP over rows. */
void qmat_matmul(float *Y, const int8_t *qx, const float *dx, const QMat *W, const float *b, int T);

/* Which kernel qmat_matmul runs ("avx512-vnni" or "scalar"). */
const char *quant_kernel_name(void);

#endif
