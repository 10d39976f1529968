/* ops.h: the forward and backward kernels of GPT-2 training.
 *
 * Plain row-major float arrays; B*T rows ("N" below) of C channels.
 * Backward kernels ACCUMULATE into parameter gradients (callers zero them
 * once per step, so gradient accumulation over micro-batches is free) and
 * mostly OVERWRITE activation gradients (documented per function), which
 * saves a memset pass per op. Matmuls go to compute/gemm.h (in the
 * precision the caller names: with COMPUTE_BF16 their operands come as
 * bf16 bits, or for attention as floats holding bf16 values); everything
 * else is an OpenMP loop
 * written so that gcc/clang vectorise it (see fastmath.h for exp/tanh). */
#ifndef CHIRP_MODEL_OPS_H
#define CHIRP_MODEL_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "compute/gemm.h"

/* out[n,c] = wte[tok[n], c] + wpe[n % T, c] */
void encoder_forward(float *out, const int32_t *tok, const float *wte, const float *wpe, int B, int T, int C);
/* dwte[tok[n]] += dout[n]; dwpe[t] += sum_b dout[b,t] */
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tok, int B, int T, int C, int V);

/* out = LN(inp) * w + b; saves mean and rstd ([N]) for the backward.
 * With out16 (bf16 mode) out is written there as bf16 bits instead. */
void layernorm_forward(float *out, uint16_t *out16, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C, float eps);
/* dinp += dLN/dinp (accumulates: the residual stream gradient);
 * dw, db accumulate. */
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C);

/* A matrix product's operand in the product's precision: its floats in
 * fp32 mode, its bf16 bits in bf16 mode. Only the one the mode reads
 * need be set: bf16 mode stores the activations that only feed products
 * as bits (half the memory, and a bf16 unit reads them as they are). */
typedef struct {
    const float *f32;
    const uint16_t *bf16;
} Operand;

/* The operand from element off on. */
static inline Operand operand_at(Operand o, size_t off) {
    return (Operand){o.f32 ? o.f32 + off : NULL, o.bf16 ? o.bf16 + off : NULL};
}

/* out[N,OC] = inp[N,IC] @ w[IC,OC] + b (+ out if accumulate: out holds a
 * residual that the projection is added to, which fuses the residual add). */
void matmul_forward(ComputePrecision prec, float *out, Operand inp, Operand w, const float *b, int N, int IC, int OC,
                    int accumulate);
/* dinp = dout @ w^T (overwrite; skipped if dinp NULL), dw += inp^T @ dout,
 * db += column sums of dout (skipped if db NULL). */
void matmul_backward(ComputePrecision prec, float *dinp, float *dw, float *db, Operand dout, Operand inp, Operand w,
                     int N, int IC, int OC);

/* gemm() over operands: gemm_bf16 on the bits in bf16 mode, else fp32
 * gemm on the floats. */
void gemm_operands(ComputePrecision prec, int trans_a, int trans_b, int M, int N, int K, float alpha, Operand A,
                   int lda, Operand B, int ldb, float beta, float *C, int ldc);

/* Causal self-attention. qkv [B,T,3C] (q|k|v, heads inside), out [B,T,C],
 * att [B,H,T,T] softmax probabilities (fp32) kept for the backward.
 * scratch16: attention_scratch16(T) bf16 values, used in bf16 mode only. */
void attention_forward(ComputePrecision prec, float *out, float *att, uint16_t *scratch16, Operand qkv, int B, int T,
                       int C, int H);
/* dqkv overwritten (fp32); dout [B,T,C]. scratch: attention_scratch_floats(T);
 * scratch16 as above. */
void attention_backward(ComputePrecision prec, float *dqkv, Operand dout, Operand qkv, const float *att, float *scratch,
                        uint16_t *scratch16, int B, int T, int C, int H);

/* GELU, tanh approximation ("gelu_new"). */
void gelu_forward(float *out, const float *inp, size_t n);
/* dinp = dout * gelu'(inp) (overwrite; dinp may alias dout). */
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);
/* The same, writing bf16 bits (bf16 mode, where the result only feeds
 * matrix products). */
void gelu_forward_bf16(uint16_t *out, const float *inp, size_t n);
void gelu_backward_bf16(uint16_t *dinp, const float *inp, const float *dout, size_t n);

/* LM head + softmax + cross-entropy, fused over rows.
 * logits [N,V] holds inp @ wte^T on entry. For each row n, losses[n] =
 * -log softmax(logits[n])[targets[n]] (targets < 0: masked, loss 0).
 * If dscale != 0, logits is overwritten with dloss/dlogits where the loss
 * is dscale * sum of the unmasked row losses; with dlogits16 (bf16 mode)
 * that gradient goes there as bf16 bits instead, and logits is scratch. */
void crossentropy_forward_backward(float *logits, uint16_t *dlogits16, float *losses, const int32_t *targets, int N,
                                   int V, float dscale);

/* Scratch floats attention_backward needs for the current thread count,
 * and the bf16 values both directions need in bf16 mode. */
size_t attention_scratch_floats(int T);
size_t attention_scratch16(int T);

#endif
