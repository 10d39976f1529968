/* infer.h: GPT-2 inference: weights in fp32 or int8, a KV cache, and the
 * forward pass.
 *
 * An InferModel is a read-only view of the weights (borrowed from a
 * Gpt2Model, or owned int8 copies). An InferState holds one sequence's KV
 * cache and scratch buffers. A prompt is prefilled in one batched pass
 * (matrix-matrix products over all its tokens); each new token then costs
 * one forward of a single position that reads the cache instead of
 * recomputing the past. The math is Hugging Face GPT2LMHeadModel's. */
#ifndef CHIRP_INFER_INFER_H
#define CHIRP_INFER_INFER_H

#include "infer/quant.h"
#include "model/gpt2.h"

#include <stdint.h>

typedef enum { INFER_F32 = 0, INFER_INT8 = 1 } InferQuant;

typedef struct InferLayer {
    const float *ln1w, *ln1b, *qkvb, *attprojb, *ln2w, *ln2b, *fcb, *fcprojb;
    /* fp32 Conv1D weights [in, out]; NULL when the model is int8. */
    const float *qkvw, *attprojw, *fcw, *fcprojw;
    /* int8 weights [out, in]; q == NULL when the model is fp32. */
    QMat qqkv, qattproj, qfc, qfcproj;
} InferLayer;

typedef struct InferModel {
    Gpt2Config cfg;
    InferQuant quant;
    const float *wte;  /* [V, C] fp32, NULL when int8 */
    QMat qwte;         /* int8 wte: embedding rows and the LM head */
    const float *wpe, *lnfw, *lnfb;
    InferLayer *layers;
    /* Ownership: what destroy must release. */
    Gpt2Model *fp32;   /* owned model (infer_model_load), freed by destroy */
} InferModel;

/* A view of m's weights (m must outlive im). With INFER_INT8 the matrices
 * and wte are quantized into owned copies; the fp32 small tensors are
 * still borrowed from m. Returns 0 or -1 with the error set. */
int infer_model_init(InferModel *im, const Gpt2Model *m, InferQuant quant);

/* Loads a model directory: an int8 directory written by
 * infer_model_save_int8 (its config.json says so), or a Hugging Face GPT-2
 * directory (then quantized on the fly when quant is INFER_INT8). */
int infer_model_load(InferModel *im, const char *dir, InferQuant quant);

void infer_model_destroy(InferModel *im);

/* Points im's small fp32 tensors (embeddings of positions, LayerNorms,
 * biases) into m and clears everything else; the loaders' first step. */
void infer_model_bind(InferModel *im, const Gpt2Model *m);

/* True if dir holds an int8 model written by chirp quantize. */
int infer_dir_is_int8(const char *dir);

/* Writes an int8 model directory: config.json (src_dir's, plus a
 * "chirp_quantization" entry), model.safetensors with int8 tensors, and
 * tokenizer.json / chirp.json copied from src_dir when present. */
int infer_model_save_int8(const InferModel *im, const char *src_dir, const char *out_dir);

/* Bytes of weights one decoding step reads (for the bandwidth bound). */
double infer_bytes_per_token(const InferModel *im);

typedef struct InferState {
    const InferModel *m;
    int pos;          /* tokens in the cache */
    float *k_cache;   /* [L, n_ctx, C] */
    float *v_cache;   /* [L, n_ctx, C] */
    float *logits;    /* [V] */
    /* Scratch for up to cap_T positions at once. */
    int cap_T;
    float *x, *xn, *qkv, *att, *h, *fc;
    float *scores;    /* [nthreads, n_ctx] */
    int8_t *qx;
    float *dx;
} InferState;

InferState *infer_state_new(const InferModel *m);
void infer_state_free(InferState *s);
void infer_state_reset(InferState *s);

/* Runs n tokens at positions s->pos .. s->pos + n - 1 in one batched pass,
 * appending them to the cache. Returns the logits of the last one (valid
 * until the next call), or NULL with the error set when the context would
 * overflow or a token is out of range. If all_logits is non-NULL it
 * receives [n, V] logits (for evaluation). */
const float *infer_prefill(InferState *s, const int32_t *tokens, int n, float *all_logits);

/* One token at position s->pos: the decoding step. */
const float *infer_step(InferState *s, int32_t token);

#endif
