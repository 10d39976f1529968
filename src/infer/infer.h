/* infer.h: GPT-2 inference: weights in fp32, bf16 or int8, a KV cache, and the
 * forward pass.
 *
 * An InferModel is a read-only view of the weights (borrowed from a
 * Gpt2Model, or owned bf16 / int8 copies). An InferState holds one sequence's KV
 * cache. A prompt is prefilled in one batched pass (matrix-matrix products
 * over all its tokens); each new token then costs one forward of a single
 * position that reads the cache instead of recomputing the past. Several
 * sequences can share one forward (the server's continuous batching). The
 * math is Hugging Face GPT2LMHeadModel's. */
#ifndef CHIRP_INFER_INFER_H
#define CHIRP_INFER_INFER_H

#include "compute/quant.h"
#include "compute/tiles_bf16.h"
#include "model/gpt2.h"

#include <stdint.h>

typedef enum { INFER_F32 = 0, INFER_INT8 = 1, INFER_BF16 = 2 } InferQuant;

typedef struct InferLayer {
    const float *ln1w, *ln1b, *qkvb, *attprojb, *ln2w, *ln2b, *fcb, *fcprojb;
    /* fp32 Conv1D weights [in, out]; NULL unless the model is fp32. */
    const float *qkvw, *attprojw, *fcw, *fcprojw;
    /* int8 weights [out, in]; q == NULL unless the model is int8. */
    QMat qqkv, qattproj, qfc, qfcproj;
    /* bf16 Conv1D weights [in, out]; NULL unless the model is bf16 on
     * the vector kernels. */
    const uint16_t *hqkvw, *hattprojw, *hfcw, *hfcprojw;
    /* The same packed for the AMX tiles; pairs == NULL unless bf16 on
     * the tiles. */
    TileMat tqkv, tattproj, tfc, tfcproj;
} InferLayer;

typedef struct InferModel {
    Gpt2Config cfg;
    InferQuant quant;
    const float *wte;     /* [V, C] fp32, NULL unless fp32 */
    QMat qwte;            /* int8 wte: embedding rows and the LM head */
    const uint16_t *hwte; /* bf16 wte [V, C], NULL unless bf16 on the vector kernels */
    uint16_t *bf16;       /* owned: every bf16 matrix above, one allocation */
    TileMat twte;         /* wte packed for the tiles: the head, and embeddings read back */
    int tiles;            /* bf16 products run on the AMX tiles (see infer_bf16_kernel) */
    const float *wpe, *lnfw, *lnfb;
    InferLayer *layers;
    /* Ownership: what destroy must release. */
    Gpt2Model *fp32; /* owned model (infer_model_load; only its small tensors when bf16/int8), freed by destroy */
} InferModel;

/* A view of m's weights (m must outlive im). With INFER_INT8 the matrices
 * and wte are quantized into owned copies, with INFER_BF16 rounded to
 * bf16 ones (half the bytes to read per token); the fp32 small tensors
 * are still borrowed from m. Returns 0 or -1 with the error set. */
int infer_model_init(InferModel *im, const Gpt2Model *m, InferQuant quant);

/* bf16 has two kernels. On a CPU with AMX the products run on the tiles
 * (tiles_bf16.h): activations are rounded to bf16, as PyTorch's bf16
 * inference does, and prefill and batched decoding run at the tiles'
 * rate. Elsewhere the vector kernels widen the bf16 weights to fp32 and
 * compute exactly what fp32 computes on them. Both are batch-invariant.
 * The environment variable CHIRP_BF16_TILES=0 asks for the vector
 * kernels on an AMX machine, =1 insists on the tiles (an error without
 * AMX); unset, the tiles are used where the CPU has them. Returns 1 for
 * the tiles, 0 for the vector kernels, -1 with the error set. */
int infer_bf16_kernel(void);

/* "fp32", "bf16 (AMX tiles)", "bf16 (widened to fp32)" or "int8": the
 * startup lines' description of how im computes. */
const char *infer_model_kernel(const InferModel *im);

/* Loads a model directory: an int8 directory written by
 * infer_model_save_int8 (its config.json says so), or a Hugging Face GPT-2
 * directory (then quantized on the fly when quant is INFER_INT8). */
int infer_model_load(InferModel *im, const char *dir, InferQuant quant);

void infer_model_destroy(InferModel *im);

/* Points im's small fp32 tensors (embeddings of positions, LayerNorms,
 * biases) into m and clears everything else; the loaders' first step. */
void infer_model_bind(InferModel *im, const Gpt2Model *m);

/* Re-points only those small tensors into m (same config), leaving the
 * weight matrices as they are. */
void infer_model_point_small(InferModel *im, const Gpt2Model *m);

/* True if dir holds an int8 model written by chirp quantize. */
int infer_dir_is_int8(const char *dir);

/* True if dir's config.json says "torch_dtype": "bfloat16" (chirp quantize
 * --type bf16 writes one; Hugging Face does for bf16 models). */
int infer_dir_is_bf16(const char *dir);

/* "fp32", "bf16" or "int8". */
const char *infer_quant_name(InferQuant q);

/* Writes an int8 model directory: config.json (src_dir's, plus a
 * "chirp_quantization" entry), model.safetensors with int8 tensors, and
 * tokenizer.json / chirp.json copied from src_dir when present. */
int infer_model_save_int8(const InferModel *im, const char *src_dir, const char *out_dir);

/* Writes a bf16 copy of the model in src_dir: a Hugging Face directory
 * whose every tensor is BF16 (config.json says "torch_dtype": "bfloat16",
 * so transformers loads it as such), plus tokenizer.json / chirp.json. */
int infer_model_save_bf16(const char *src_dir, const char *out_dir);

/* Bytes of weights one decoding step reads (for the bandwidth bound). */
double infer_bytes_per_token(const InferModel *im);

/* Scratch buffers of one forward pass (activations of every row in it). */
typedef struct InferScratch InferScratch;

typedef struct InferState {
    const InferModel *m;
    int pos;               /* tokens in the cache */
    float *k_cache;        /* [L, n_ctx, C] */
    float *v_cache;        /* [L, n_ctx, C] */
    float *logits;         /* [V]: after the last token of the last forward that asked for them */
    InferScratch *scratch; /* for infer_prefill / infer_step; made on first use */
} InferState;

InferState *infer_state_new(const InferModel *m);
void infer_state_free(InferState *s);
void infer_state_reset(InferState *s);

/* One sequence's share of a batched forward: n tokens appended to st's
 * cache at positions st->pos .. st->pos + n - 1. */
typedef struct InferSeq {
    InferState *st;
    const int32_t *tokens;
    int n;
    int want_logits;   /* fill st->logits for the last of the n tokens */
    float *all_logits; /* optional [n, V]: logits of every token (evaluation) */
} InferSeq;

InferScratch *infer_scratch_new(const InferModel *m);
void infer_scratch_free(InferScratch *s);

/* Runs the tokens of nseq sequences (prompt chunks and decoding steps
 * alike) through the model in one pass: every weight matrix is read once
 * for all of them. Each sequence's numbers are bit-identical to running it
 * alone, in any chunking (see kern_matmul_rows_in_out): a row's arithmetic
 * never depends on the other rows. Every sequence must have its own state.
 * Returns 0, or -1 with the error set (context overflow, a token out of
 * range) before anything is changed. */
int infer_forward(InferScratch *scratch, const InferSeq *seqs, int nseq);

/* Runs n tokens of one sequence (infer_forward with one InferSeq) and
 * returns the logits of the last one (valid until the next call), or NULL
 * with the error set when the context would overflow or a token is out of
 * range. If all_logits is non-NULL it receives [n, V] logits. */
const float *infer_prefill(InferState *s, const int32_t *tokens, int n, float *all_logits);

/* One token at position s->pos: the decoding step. */
const float *infer_step(InferState *s, int32_t token);

#endif
