/* run_manifest.h: what a training run writes about itself: the chirp.json
 * manifest of a checkpoint (hyperparameters, optimizer, data and where
 * each rank is in it, provenance), the identity of a shard set, and the
 * setup lines every rank must share. */
#ifndef CHIRP_TRAIN_RUN_MANIFEST_H
#define CHIRP_TRAIN_RUN_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>

#include "model/gpt2.h"
#include "train/adamw.h"
#include "train/dataloader.h"
#include "train/trainer.h"

/* The manifest text (malloc'd, ends with a newline). sft_info and
 * chat_template are NULL outside --sft. */
char *train_manifest(const TrainOptions *o, const Gpt2Model *m, long long step, const AdamW *opt, long long position,
                     json_t *train_shards, json_t *val_shards, double last_loss, json_t *sft_info,
                     json_t *chat_template, int world_size, bool zero);

/* Each shard's path, token count and sha256. */
json_t *train_shards_json(const DataLoader *dl);

/* Everything that must be the same on every rank, as "key=value" lines
 * (malloc'd; dp_check_same_setup names the first that differs). */
char *train_setup_lines(const TrainOptions *o, const Gpt2Config *c, DataLoader *train, DataLoader *val,
                        long long start);

#endif
