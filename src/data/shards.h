/* shards.h: writing and reading llm.c token shards (the header format is
 * util/token_shard.h).
 *
 * Files are DIR/{split}_{NNN}.bin, tokens as uint16, or uint32 when the
 * vocabulary exceeds 65,536; a post never straddles two shards, and each
 * post's tokens are followed by <|endoftext|>. Each shard is written to a
 * temporary name, fsynced and renamed when complete; a writer given a
 * suffix (prepare uses ".next") renames to {name}{suffix}, so the new set
 * stays apart from the old until the caller switches them. */
#ifndef CHIRP_DATA_SHARDS_H
#define CHIRP_DATA_SHARDS_H

#include "util/file.h"
#include "util/token_shard.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ShardWriter {
    char *dir;
    const char *split;
    const char *suffix; /* appended to the file names written ("" for none) */
    uint64_t max_tokens;
    int token_bytes;     /* 2 or 4 */
    uint64_t generation; /* stamped into every header */
    int index;           /* current shard number */
    int open;
    AtomicFile af;
    uint64_t ntokens; /* in the current shard */
    uint64_t total;
    char name[64]; /* current shard's file name, without the suffix */
} ShardWriter;

void shard_writer_init(ShardWriter *w, const char *dir, const char *split, uint64_t max_tokens, int token_bytes,
                       uint64_t generation, const char *suffix);
/* Appends ids and then eot. *name and *offset tell where the post's first
 * token landed (offset counts tokens after the header). Ids must fit the
 * writer's token width. */
int shard_writer_add(ShardWriter *w, const int32_t *ids, size_t n, int32_t eot, const char **name, uint64_t *offset);
/* Commits the last shard; returns the number of shards written. */
int shard_writer_finish(ShardWriter *w);
void shard_writer_abort(ShardWriter *w);

/* Reads and checks just the header of a shard. Returns 0, or -1 with the
 * error set. */
int shard_read_header(const char *path, ShardHeader *h);

/* Reads a whole shard of either width: returns malloc'd tokens and their
 * count (and the header, if h is non-NULL), or NULL with the error set
 * (bad magic, version, or a size that disagrees). */
uint32_t *shard_read(const char *path, size_t *ntokens, ShardHeader *h);

#endif
