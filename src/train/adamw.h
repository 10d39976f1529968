/* adamw.h: AdamW with global-norm gradient clipping, as torch.optim.AdamW.
 *
 * Mirrors PyTorch 1.13's single-tensor AdamW operation by operation (the
 * order of float32 roundings included): decoupled weight decay on tensors
 * of rank >= 2 only, bias-corrected moments, eps added after the sqrt.
 * Clipping mirrors torch.nn.utils.clip_grad_norm_ (coef = G / (norm+1e-6),
 * applied only when < 1). */
#ifndef CHIRP_TRAIN_ADAMW_H
#define CHIRP_TRAIN_ADAMW_H

#include <stddef.h>

#include "model/gpt2.h"

typedef struct AdamW {
    float *m, *v; /* one allocation, 2 * (hi - lo) floats */
    size_t num_params;
    size_t lo, hi; /* the parameters this optimizer updates (all, or a ZeRO-1 shard) */
    long long t;   /* steps taken */
    double beta1, beta2, eps, weight_decay;
    uint16_t *bf16_copy; /* optional, NULL after init: each update also writes the
                            parameters rounded to bf16 here (Gpt2Model.param_bf16) */
} AdamW;

void adamw_init(AdamW *o, size_t num_params, double beta1, double beta2, double eps, double weight_decay);

/* An optimizer for parameters [lo, hi) only: moments for that slice. */
void adamw_init_range(AdamW *o, size_t num_params, size_t lo, size_t hi, double beta1, double beta2, double eps,
                      double weight_decay);
void adamw_destroy(AdamW *o);

/* The global norm is summed in chunks of GRAD_NORM_CHUNK floats, each in
 * double by one thread, then the chunks in order: the same bits for any
 * thread count, and ranks holding different chunks (ZeRO-1) can add
 * their partial sums into exactly what one process computes. */
#define GRAD_NORM_CHUNK ((size_t)1 << 14)

/* Sum of squares of each chunk of grads that lies in [lo, hi) (lo a
 * multiple of GRAD_NORM_CHUNK; hi one too, or n): partial[c] for chunk
 * c, indexed from chunk 0 of the whole buffer. */
void grad_sq_chunks(const float *grads, size_t lo, size_t hi, double *partial);

/* sqrt of the chunk partials summed in order, as a float. */
float grad_norm_from_chunks(const double *partial, size_t nchunks);

/* Global L2 norm of grads[0..n) (the two above). */
float grad_global_norm(const float *grads, size_t n);

/* The factor clip_grad_norm_ would scale grads by: G/(norm+1e-6) when
 * that is < 1, else 1 (also 1 for G <= 0). */
float grad_clip_coef(float norm, double max_norm);

/* Scales grads by grad_clip_coef() (a separate pass; adamw_step_scaled
 * folds the same multiply into the update instead). */
void grad_clip(float *grads, size_t n, float norm, double max_norm);

/* One AdamW update of params with lr. Which tensors get weight decay comes
 * from cfg (rank >= 2: wte, wpe and the four Conv1D weights). */
void adamw_step(AdamW *o, const Gpt2Config *cfg, float *params, const float *grads, double lr);

/* adamw_step on grads * gscale (gscale from grad_clip_coef), without
 * writing the scaled gradients back: one memory pass fewer. Bitwise the
 * same as grad_clip followed by adamw_step. */
void adamw_step_scaled(AdamW *o, const Gpt2Config *cfg, float *params, const float *grads, float gscale, double lr);
/* Both update params[lo, hi) from grads[lo, hi) (indices of the whole
 * parameter buffer); outside it nothing is read or written. */

#endif
