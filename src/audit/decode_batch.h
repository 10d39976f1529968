/* decode_batch.h: many continuations at once, for the memorization
 * report: prompts are prefilled and decoded in groups that share each
 * forward pass (infer_forward), which is batch-invariant, so every
 * continuation is what `chirp generate` gives for that prompt alone. */
#ifndef CHIRP_AUDIT_DECODE_BATCH_H
#define CHIRP_AUDIT_DECODE_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "infer/infer.h"
#include "infer/sampler.h"

typedef struct DecodeJob {
    const int32_t *prompt;
    int n_prompt;
    int max_new;           /* continuation length (cut to the context) */
    SamplerConfig sampler; /* temperature 0: greedy */
    int32_t stop;          /* a token that ends the continuation (not kept), or -1 */
    int32_t *out;          /* [max_new] the continuation */
    int n_out;
} DecodeJob;

/* Runs every job, `group` of them per forward. Returns 0 or -1. */
int decode_batch(const InferModel *m, DecodeJob *jobs, int n, int group);

#endif
