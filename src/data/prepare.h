/* prepare.h: dataset -> token shards, plus the manifest.
 *
 * Kept posts are tokenized in catalog order and appended to
 * DATA/train_NNN.bin or DATA/val_NNN.bin by their split; the catalog
 * records, per post, the shard file, token offset and token count (without
 * the trailing <|endoftext|>). Shards from an earlier run that the new run
 * did not write are removed. The manifest is updated in one transaction
 * after all shards are complete; then DATA/provenance.json summarises what
 * went in (data/provenance.h), for the checkpoints' chirp.json. */
#ifndef CHIRP_DATA_PREPARE_H
#define CHIRP_DATA_PREPARE_H

#include "text/tokenizer.h"

#include <stdint.h>

typedef struct PrepareOptions {
    const char *dataset;
    const char *out;            /* shard folder */
    const char *tokenizer_path; /* recorded in the catalog for audit */
    uint64_t shard_tokens;      /* max tokens per shard (default 100M) */
} PrepareOptions;

typedef struct PrepareStats {
    long posts;
    uint64_t train_tokens, val_tokens;
    int train_shards, val_shards;
    double seconds;
} PrepareStats;

int prepare_run(const PrepareOptions *opt, const Tokenizer *tok, PrepareStats *stats);

/* Trains a byte-level BPE tokenizer of vocab_size ids on the kept train
 * posts (each post one document) and saves it to path: path itself when
 * it ends in ".json", else path/tokenizer.json (the folder is created).
 * Returns the tokenizer, or NULL with the error set. */
Tokenizer *prepare_train_tokenizer(const char *dataset, int vocab_size, const char *path);

#endif
