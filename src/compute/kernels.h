/* kernels.h: fp32 building blocks of the inference forward pass.
 *
 * Decoding one token reads every weight once and does two flops per weight,
 * so it is limited by memory bandwidth, not arithmetic: the matrix-vector
 * kernels here are written to stream weights at the bus's speed (AVX-512 or
 * AVX2, whichever the compiler targets, a portable loop otherwise) and split work
 * over OpenMP threads. Prefill of a prompt and batched decoding are real
 * matrix products; they use chirp's own register-tiled kernels rather than
 * BLAS because their results must not depend on the batch (see
 * kern_matmul_rows_in_out). Numerics follow Hugging Face GPT-2: LayerNorm with
 * biased variance, GELU tanh approximation ("gelu_new"). */
#ifndef CHIRP_COMPUTE_KERNELS_H
#define CHIRP_COMPUTE_KERNELS_H

#include <stdint.h>

/* y[n] = b[n] + x[k] @ W[k, n]  (Conv1D layout: W row-major [in, out]).
 * b may be NULL. y must not alias x. */
void kern_matvec_in_out(float *y, const float *x, const float *W, const float *b, int k, int n);

/* y[n] = W[n, k] @ x[k]  (row-major [out, in]; the tied LM head wte). */
void kern_matvec_out_in(float *y, const float *x, const float *W, int n, int k);

/* The vector unit the kernels were built for ("AVX-512", "AVX2+FMA",
 * "scalar"). */
const char *kern_simd_name(void);

/* Dot product of n floats (vectorized: the attention scores q.k). */
float kern_dot(const float *a, const float *b, int n);

/* Y[t, n] = b[n] + X[t, k] @ W[k, n] for t < T (Conv1D layout).
 *
 * Batch-invariant: row t of Y is bit-identical to kern_matvec_in_out of
 * row t of X, whatever T is and whatever the other rows hold. Every output
 * is one fused multiply-add chain over i = 0 .. k-1 starting from b[n], in
 * every code path (AVX-512 tiles, masked tails, scalar fmaf). This is what
 * lets a prompt be prefilled in any chunking, and a server decode 16
 * sequences in one product, with exactly the numbers of one sequence
 * decoded alone. */
void kern_matmul_rows_in_out(float *Y, const float *X, const float *W, const float *b, int T, int k, int n);

/* Y[t, n] = W[n, k] @ X[t] for t < T (the LM head over T rows), with the
 * same per-row invariance against kern_matvec_out_in. */
void kern_matmul_rows_out_in(float *Y, const float *X, const float *W, int T, int n, int k);

/* The two products above with bf16 weights (bf16.h), half the bytes to
 * read: bit-identical to the fp32 kernels run on the weights widened to
 * float, so batch-invariant in the same way. */
void kern_matmul_rows_in_out_bf16(float *Y, const float *X, const uint16_t *W, const float *b, int T, int k, int n);
void kern_matmul_rows_out_in_bf16(float *Y, const float *X, const uint16_t *W, int T, int n, int k);

/* out = LayerNorm(x) * w + b over n values (biased variance, as PyTorch). */
void kern_layernorm(float *out, const float *x, const float *w, const float *b, int n, float eps);

/* LayerNorm of each of rows rows of n values (split over threads). */
void kern_layernorm_rows(float *out, const float *x, const float *w, const float *b, int rows, int n, float eps);

/* In place GELU, tanh approximation. */
void kern_gelu(float *x, int n);

/* x += y. */
void kern_add(float *x, const float *y, int n);

/* In place softmax over n values; returns nothing, robust to -inf. */
void kern_softmax(float *x, int n);

#endif
