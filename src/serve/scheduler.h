/* scheduler.h: the thread that owns the model and runs every request.
 *
 * It holds N slots, each a KV cache. Every step it builds one batched
 * forward (infer_forward) out of one decoding token per generating slot
 * and prompt chunks of newly admitted ones, so a request joins the running
 * batch at the next step instead of waiting for it to drain (continuous
 * batching), and the weights are read once per step for all sequences.
 * The forward is batch-invariant, so a choice's tokens do not depend on
 * what else runs beside it: the same request gives the same bytes alone
 * or beside 15 others, and the same as `chirp generate`.
 *
 * Requests that find no free slot wait in a bounded FIFO queue; when it is
 * full sched_submit refuses (the HTTP layer answers 503). A slot keeps its
 * cache after its request ends: a new prompt that extends what a free slot
 * holds (a chat re-sending its history) is admitted there and prefills
 * only the new tokens. */
#ifndef CHIRP_SERVE_SCHEDULER_H
#define CHIRP_SERVE_SCHEDULER_H

#include "infer/infer.h"
#include "serve/metrics.h"
#include "serve/request.h"
#include "text/tokenizer.h"

typedef struct SchedConfig {
    int slots;          /* --parallel */
    int max_queue;      /* choices that may wait for a slot */
    int prefill_chunk;  /* prompt tokens per step, over all slots */
    int threads;        /* OpenMP threads for the forward */
    size_t max_backlog; /* unsent stream bytes at which a slot pauses */
} SchedConfig;

typedef struct Scheduler Scheduler;

typedef struct SchedStats {
    int slots, slots_busy, queued;
    long long steps, cache_hits;
} SchedStats;

/* Starts the scheduler thread. m, tok and metrics must outlive it.
 * Returns NULL with the error set. */
Scheduler *sched_new(const InferModel *m, const Tokenizer *tok, Metrics *metrics, const SchedConfig *cfg);

/* Queues every choice of r (taking a reference). Returns 0, or -1 when the
 * queue cannot take them (the caller answers 503) or the scheduler is
 * stopping. */
int sched_submit(Scheduler *s, ServeRequest *r);

void sched_stats(Scheduler *s, SchedStats *out);

/* Stops admitting, lets running choices finish for up to grace_s seconds,
 * then ends the rest with an error event; returns when the thread has
 * exited. Queued choices end at once with an error event. */
void sched_stop(Scheduler *s, double grace_s);

void sched_free(Scheduler *s);

#endif
