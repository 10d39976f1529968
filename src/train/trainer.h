/* trainer.h: the training loop behind `chirp train`.
 *
 * Owns model, activations, gradients, optimizer and data loaders for one
 * run; prints one line per step on stdout, appends the same records to
 * RUN_DIR/log.jsonl, evaluates, and writes checkpoints (checkpoint.h). */
#ifndef CHIRP_TRAIN_TRAINER_H
#define CHIRP_TRAIN_TRAINER_H

#include <stdbool.h>

#include "dist/comm.h"
#include "model/gpt2.h"
#include "train/schedule.h"

typedef struct TrainOptions {
    const char *train_pattern, *val_pattern;
    const char *sft_path; /* --sft: conversations file instead of shards;
                                 val_pattern is then a conversations file too */
    const char *init_dir; /* --init */
    const char *preset;   /* --model */
    Gpt2Config arch;      /* --layers ... (used when no init/preset) */
    int vocab_override, ctx_override;
    const char *tokenizer; /* copied into checkpoints */
    int B, T, grad_accum;
    long long steps;
    double lr, min_lr; /* min_lr < 0: lr / 10 */
    long long warmup;
    LrSchedule schedule;
    double weight_decay, beta1, beta2, eps, grad_clip;
    unsigned long long seed;
    bool shuffle;
    long long eval_every; /* 0: only after the last step */
    int eval_batches;
    long long save_every; /* 0: only after the last step */
    int keep;             /* 0: keep all */
    const char *out_dir;
    bool resume;
    int threads;           /* 0: OpenMP default */
    const char *precision; /* --precision auto|fp32|bf16 (NULL: auto), see compute/gemm.h */
    bool quiet;            /* no progress line */
    /* Data-parallel training (data_parallel.h). comm NULL: one process. */
    Comm *comm;
    bool zero;           /* --zero 1: shard the optimizer state */
    double dist_timeout; /* seconds without an answer from the other ranks before giving up */
    /* Called (on rank 0) after each checkpoint is complete, with its path. */
    void (*on_checkpoint)(void *ctx, const char *dir);
    void *on_checkpoint_ctx;
} TrainOptions;

void train_options_defaults(TrainOptions *o);

/* Sets the OpenMP and OpenBLAS thread counts. */
void train_set_threads(int n);

/* Runs the whole job. Returns 0, or -1 with the error set (bad data, NaN
 * loss, I/O failure). */
int train_run(const TrainOptions *o);

/* Mean loss over every token of the data (sequential windows of B*T; the
 * tail is a last partial batch with masked positions). *count receives the
 * number of predicted tokens. */
int eval_dataset(const Gpt2Model *m, const char *pattern, int B, int T, double *mean_loss, long long *count);

#endif
