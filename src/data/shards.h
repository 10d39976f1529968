/* shards.h: llm.c token shards.
 *
 * Format: a header of 256 int32 (little-endian): [0] magic 20240520,
 * [1] version 1, [2] token count; then the tokens as uint16. Files are
 * DIR/{split}_{NNN}.bin; a post never straddles two shards, and each post's
 * tokens are followed by <|endoftext|>. Each shard is written to a temp
 * name and renamed when complete. */
#ifndef CHIRP_DATA_SHARDS_H
#define CHIRP_DATA_SHARDS_H

#include "util/file.h"

#include <stddef.h>
#include <stdint.h>

#define SHARD_MAGIC 20240520
#define SHARD_VERSION 1
#define SHARD_HEADER_INTS 256

typedef struct ShardWriter {
    char *dir;
    const char *split;
    uint64_t max_tokens;
    int index;           /* current shard number */
    int open;
    AtomicFile af;
    uint64_t ntokens;    /* in the current shard */
    uint64_t total;
    char name[64];       /* current shard's file name */
} ShardWriter;

void shard_writer_init(ShardWriter *w, const char *dir, const char *split, uint64_t max_tokens);
/* Appends ids and then eot. *name and *offset tell where the post's first
 * token landed (offset counts tokens after the header). Ids must be in
 * [0, 65535]. */
int shard_writer_add(ShardWriter *w, const int32_t *ids, size_t n, int32_t eot, const char **name,
                     uint64_t *offset);
/* Commits the last shard; returns the number of shards written. */
int shard_writer_finish(ShardWriter *w);
void shard_writer_abort(ShardWriter *w);

/* Reads a whole shard: returns malloc'd tokens and their count, or NULL
 * with the error set (bad magic, version, or a size that disagrees). */
uint16_t *shard_read(const char *path, size_t *ntokens);

#endif
