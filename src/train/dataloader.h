/* dataloader.h: batches from llm.c-format token shards.
 *
 * Shards (util/token_shard.h: uint16 tokens, or uint32 for vocabularies
 * over 65,536; a stream may mix the two) are concatenated in the given
 * order into one stream. Shards of one folder written by two different
 * chirp prepare runs are refused: that is what an interrupted prepare
 * would leave.
 * Sequential mode: batch i reads tokens [c, c + B*T + 1) with
 * c = (i mod P) * B*T, where P = floor((total - 1) / (B*T)) is the number
 * of whole windows; this is exactly "advance by B*T, wrap to 0 when fewer
 * than B*T+1 tokens remain". Shuffle mode reads the same P windows in a
 * seeded random order, a new permutation each pass. Either way the state
 * is just the number of batches drawn, which is what checkpoints store.
 * Tokens are read with pread on demand, so shards of any size work. */
#ifndef CHIRP_TRAIN_DATALOADER_H
#define CHIRP_TRAIN_DATALOADER_H

#include <stddef.h>
#include <stdint.h>

typedef struct DataShard {
    char *path;
    int fd;
    size_t count;        /* tokens */
    int token_bytes;     /* 2 or 4 */
    uint64_t generation; /* chirp prepare's run id, 0 if unknown */
    size_t start;        /* offset of its first token in the stream */
} DataShard;

typedef struct DataLoader {
    DataShard *shards;
    int nshards;
    size_t total; /* tokens in all shards */
    int B, T, vocab;
    int shuffle;
    unsigned long long seed;
    size_t windows;    /* P */
    long long batches; /* batches drawn so far (the position) */
    size_t *perm;      /* shuffle order of the current pass */
    long long perm_pass;
    uint32_t *raw;             /* B*T+1 tokens */
    int32_t *inputs, *targets; /* [B*T] */
} DataLoader;

/* Opens the shards matching pattern (a glob, sorted) and checks their
 * headers and sizes. vocab > 0 enables the token range check. */
int dataloader_open(DataLoader *dl, const char *pattern, int B, int T, int vocab, int shuffle, unsigned long long seed);
void dataloader_close(DataLoader *dl);

/* Reads the next batch into inputs/targets. -1 with "shard: token X at
 * offset O >= vocab V" when a token is out of range. */
int dataloader_next(DataLoader *dl);

/* Reads stream tokens [pos, pos+n) into out, across shard boundaries,
 * with the vocabulary check. */
int dataloader_read(DataLoader *dl, size_t pos, size_t n, uint32_t *out);

/* Back to a given position (number of batches drawn). */
void dataloader_seek(DataLoader *dl, long long batches);

/* SHA-256 of each shard file as 64 hex chars (for the manifest). out[i]
 * must hold 65 chars. */
int dataloader_hash_shards(const DataLoader *dl, char (*out)[65]);

#endif
