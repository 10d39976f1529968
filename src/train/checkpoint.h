/* checkpoint.h: run directories and checkpoints.
 *
 * RUN_DIR/step_N/ is a Hugging Face model directory (config.json,
 * model.safetensors, tokenizer.json if one was given) plus chirp.json (the
 * manifest: step, hyperparameters, data shards with sha256, data position)
 * and optimizer.safetensors (AdamW exp_avg and exp_avg_sq, flat, in
 * parameter order). It is written as RUN_DIR/.step_N.tmp, every file
 * fsynced, then renamed into place and the run directory fsynced, so a
 * crash leaves either no step_N or a complete one. Deleting works the
 * other way round: one rename to .step_N.old, then the files, so a kill
 * while pruning leaves no half-deleted step_N either. */
#ifndef CHIRP_TRAIN_CHECKPOINT_H
#define CHIRP_TRAIN_CHECKPOINT_H

#include "model/gpt2.h"
#include "train/adamw.h"

/* manifest_json is the serialised chirp.json (caller builds it). */
int checkpoint_write(const char *run_dir, long long step, const Gpt2Model *m, const AdamW *opt,
                     const char *manifest_json, const char *tokenizer_path);

/* Highest N with a complete RUN_DIR/step_N (has chirp.json), or 0. */
long long checkpoint_latest(const char *run_dir);

/* Loads model and optimizer moments of RUN_DIR/step_N; the caller reads
 * chirp.json for the rest. opt must be initialised with the model size;
 * it receives its slice [lo, hi) of the moments (checkpoints hold all of
 * them, whatever the number of ranks that wrote them). checkpoint_write
 * takes an optimizer of the whole range. */
int checkpoint_load_optimizer(const char *ckpt_dir, AdamW *opt);

/* Deletes all but the newest `keep` step_N directories (keep > 0), and
 * what interrupted deletions left behind. */
int checkpoint_prune(const char *run_dir, int keep);

/* Removes a directory tree (used for stale temp dirs and pruning). */
int dir_remove_tree(const char *path);

#endif
