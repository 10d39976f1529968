/* gpt2_compute.h: GPT-2 forward and backward passes for training and eval.
 *
 * Activations for a fixed (B, T) live in one allocation, llm.c style; the
 * backward reuses a few scratch buffers instead of keeping a gradient per
 * activation. Gradients go to a buffer laid out exactly like the
 * parameters (bind it with gpt2_params_bind). */
#ifndef CHIRP_MODEL_GPT2_COMPUTE_H
#define CHIRP_MODEL_GPT2_COMPUTE_H

#include <stdint.h>

#include "compute/gemm.h"
#include "model/gpt2.h"

typedef struct Gpt2Acts {
    int B, T;
    ComputePrecision prec; /* of the matrix products; set with gpt2_acts_set_precision */
    float *buf;
    size_t num_floats;
    float *encoded;  /* [BT, C] residual stream input to layer 0 */
    float *ln1;      /* [L, BT, C] */
    float *ln1_mean; /* [L, BT] */
    float *ln1_rstd; /* [L, BT] */
    float *qkv;      /* [L, BT, 3C] */
    float *att;      /* [L, B, H, T, T] softmax probabilities */
    float *atty;     /* [L, BT, C] attention output before c_proj */
    float *res2;     /* [L, BT, C] x + attn */
    float *ln2;      /* [L, BT, C] */
    float *ln2_mean; /* [L, BT] */
    float *ln2_rstd; /* [L, BT] */
    float *fch;      /* [L, BT, 4C] c_fc output, pre-GELU */
    float *fch_gelu; /* [L, BT, 4C] */
    float *res3;     /* [L, BT, C] x + attn + mlp: the layer's output */
    float *lnf;      /* [BT, C] */
    float *lnf_mean; /* [BT] */
    float *lnf_rstd; /* [BT] */
    float *head;     /* [min(BT, 128), V]: one chunk of logits, then their gradient */
    float *logits;   /* [BT, V], allocated by the first forward without targets */
    float *losses;   /* [BT] */
    /* backward scratch */
    float *dres;   /* [BT, C] residual-stream gradient */
    float *dsmall; /* [BT, C] */
    float *dbig;   /* [BT, 4C] */
    float *datt;   /* attention_scratch_floats(T) */
    /* bf16 mode only (gpt2_acts_set_precision): what feeds nothing but
     * matrix products, as bf16 bits. ln1, qkv, atty, ln2, fch_gelu and lnf
     * above (and head) then stay untouched (so cost no RSS): their producers write
     * into dbig, free during the forward, and are converted from there. */
    uint16_t *buf16;
    uint16_t *ln1_16, *atty16, *ln2_16; /* [L, BT, C] */
    uint16_t *qkv16;                    /* [L, BT, 3C] */
    uint16_t *fch_gelu16;               /* [L, BT, 4C] */
    uint16_t *lnf16;                    /* [BT, C] */
    uint16_t *head16;                   /* [min(BT, 256), V]: a chunk's logit gradient */
    uint16_t *dres16;                   /* [BT, C]: the residual gradient */
    uint16_t *dbig16;                   /* [BT, 4C]: dbig */
    float *head_bf16;                   /* [min(BT, 256), V]: head's chunk, larger for the bf16 unit */
    uint16_t *datt16;                   /* attention_scratch16(T): P and dS rounded, per thread */
    int32_t *inputs;                    /* [BT] copies of the batch */
    int32_t *targets;                   /* [BT] */
} Gpt2Acts;

/* Floats the activations take for this config and batch. */
size_t gpt2_acts_floats(const Gpt2Config *cfg, int B, int T);

/* Bytes of activations a training step touches in precision prec: all
 * those floats in fp32; in bf16, the bf16 buffers and the floats they
 * leave untouched subtracted (the memory formula bench/train prints). */
size_t gpt2_acts_bytes(const Gpt2Config *cfg, int B, int T, ComputePrecision prec);

int gpt2_acts_init(Gpt2Acts *a, const Gpt2Config *cfg, int B, int T);
void gpt2_acts_destroy(Gpt2Acts *a);

/* Chooses the precision of the matrix products (COMPUTE_FP32 after
 * init). In COMPUTE_BF16 (mixed precision) the linear layers and the LM
 * head multiply bf16 operands and accumulate in fp32: their inputs, the
 * gradients flowing into them, and the weights (read from
 * m->param_bf16, which the caller keeps current) are rounded to bf16
 * (and stored as bits where nothing else reads them), and so are
 * attention's operands (q, k, v, the probabilities, and their
 * gradients); the products' outputs, LayerNorm, the softmax, GELU, the
 * loss, the residual stream and every parameter gradient stay fp32. */
void gpt2_acts_set_precision(Gpt2Acts *a, const Gpt2Config *cfg, ComputePrecision prec);

/* Forward over inputs [B,T] (a->B x a->T tokens). With targets (entries
 * < 0 are masked out) returns the mean loss over the unmasked positions;
 * without them returns 0 and leaves the logits [B*T, V] in a->logits. */
float gpt2_forward(const Gpt2Model *m, Gpt2Acts *a, const int32_t *inputs, const int32_t *targets);

typedef void (*Gpt2GradReady)(void *ctx, int group);

/* Forward and backward of (grad_scale * mean loss) in one call (grad_scale
 * = 1/K for K accumulated micro-batches): returns the mean loss and
 * accumulates the gradients into grads (num_params floats in parameter
 * layout; zero it per step). The LM head's backward runs inside its
 * forward, a chunk of rows at a time, so the [B*T, V] logits are never
 * stored. ready(ctx, g), when not NULL, is called as soon as group g's
 * gradients in grads are final (see gpt2_grad_groups). */
float gpt2_forward_backward(const Gpt2Model *m, Gpt2Acts *a, const int32_t *inputs, const int32_t *targets,
                            float grad_scale, float *grads, Gpt2GradReady ready, void *ctx);

/* Gradient groups, in the order the backward finishes them: group 0 is
 * the final LayerNorm, group g = 1 .. L is layer L - g, group L + 1 the
 * embeddings (wte, which the LM head also uses, is only final at the very
 * end). Data-parallel training reduces a group while the backward goes on
 * with the next. */
int gpt2_grad_groups(const Gpt2Config *cfg);

/* The flat ranges (offset, length in floats) of group g: at most 12. */
int gpt2_grad_group_ranges(const Gpt2Config *cfg, int g, size_t off[12], size_t len[12]);

#endif
