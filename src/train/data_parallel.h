/* data_parallel.h: what the trainer does differently with N ranks.
 *
 * Each rank holds the whole model and trains on its own micro-batches;
 * after the backward the gradients are summed over ranks, so every rank
 * takes the same optimizer step and the weights stay identical.
 *
 * - Data: at micro-step k of a step, rank r reads global micro-batch
 *   base + k * N + r, so N ranks see exactly the micro-batches one process
 *   with --grad-accum N (x the per-rank accumulation) would, in order.
 * - Reduction: a micro-batch's gradient is computed into a zeroed buffer
 *   and added to the accumulator once (as PyTorch accumulates .grad); the
 *   all-reduce then adds the ranks' sums. With two ranks and no per-rank
 *   accumulation the sum is one addition, commutative in IEEE arithmetic,
 *   so N = 2 is bit-identical to one process with --grad-accum 2.
 * - Overlap: in the last micro-step each gradient group (a layer, see
 *   gpt2_grad_groups) is handed to the communication thread as soon as
 *   the backward has finished it, so the last layers are summed while the
 *   earlier ones are still being computed.
 * - ZeRO-1 (--zero 1): rank r owns parameters [lo_r, hi_r) (whole chunks
 *   of GRAD_NORM_CHUNK): gradients are reduce-scattered, each rank keeps
 *   AdamW moments for its slice only and updates it, and the parameters
 *   are all-gathered. The norm is added from per-chunk partial sums, so
 *   it has the same bits as without ZeRO. */
#ifndef CHIRP_TRAIN_DATA_PARALLEL_H
#define CHIRP_TRAIN_DATA_PARALLEL_H

#include <stdbool.h>
#include <stddef.h>

#include "dist/comm.h"
#include "dist/comm_worker.h"
#include "model/gpt2.h"
#include "train/adamw.h"

typedef struct DpGroup {
    size_t off[12], len[12];
    int n;
} DpGroup;

struct DataParallel;

/* A group's reduction, handed to the communication thread. */
typedef struct DpJob {
    struct DataParallel *dp;
    int group;
} DpJob;

typedef struct DataParallel {
    Comm *comm; /* borrowed */
    CommWorker *worker;
    int rank, size;
    bool zero;
    size_t num_params;
    size_t lo, hi;  /* this rank's parameters under ZeRO-1 (else all) */
    size_t *counts; /* [size] every rank's slice length */
    DpGroup *groups;
    DpJob *jobs; /* [ngroups] */
    int ngroups;
    /* The step being reduced. */
    float *grads;   /* the accumulator */
    float *micro;   /* this micro-batch's gradient when it is not the first */
    bool add_micro; /* add micro into grads as groups finish */
    bool reduce;    /* the last micro-step: reduce groups as they finish */
    long last_ticket;
    float *shard_tmp;        /* reduce-scatter output */
    double comm_s, waited_s; /* the last step's time in collectives, and time the trainer waited */
} DataParallel;

/* comm is borrowed; timeout_s bounds every wait for other ranks. */
int dp_init(DataParallel *dp, Comm *comm, const Gpt2Config *cfg, bool zero, double timeout_s);
void dp_destroy(DataParallel *dp);

/* The global micro-batch rank reads at micro-step k of the i-th step of
 * this run (i from 0), when this run started at global micro-batch base. */
long long dp_batch_index(const DataParallel *dp, long long base, long long i, int k, int grad_accum);

/* Before each micro-step's backward: where it should write (grads for the
 * first micro-step of a step, zeroed micro otherwise) and whether this is
 * the last one (then groups are reduced as the backward finishes them). */
float *dp_backward_target(DataParallel *dp, float *grads, float *micro, int k, int grad_accum, size_t n);

/* The gpt2_forward_backward ready callback (ctx = dp). */
void dp_group_ready(void *ctx, int group);

/* After a micro-step that was not the last: micro into grads. */
void dp_accumulate(DataParallel *dp, size_t n);

/* After the last backward: waits for the reductions (or reduce-scatters
 * under ZeRO); then grads holds the sum over ranks (under ZeRO, in
 * [lo, hi) only). Returns 0 or -1 with the error set. */
int dp_finish_grads(DataParallel *dp);

/* The global norm of the summed gradients (same bits with or without ZeRO). */
int dp_grad_norm(DataParallel *dp, const float *grads, float *norm);

/* Under ZeRO: every rank's updated slice to everyone. */
int dp_share_params(DataParallel *dp, float *params);

/* Sums v[0..n) over ranks (losses: one addition per value and rank). */
int dp_sum_f64(DataParallel *dp, double *v, size_t n);
int dp_sum_f32(DataParallel *dp, float *v, size_t n);

/* Refuses a job whose ranks were started differently: every rank passes
 * its setup as "key=value" lines; on a difference each rank fails with a
 * message naming the rank and the line. */
int dp_check_same_setup(DataParallel *dp, const char *setup);

/* Collects the full optimizer moments on rank 0 (into full, initialised
 * for all parameters) from every rank's slice; a no-op copy without ZeRO. */
int dp_gather_moments(DataParallel *dp, const AdamW *mine, AdamW *full);

#endif
