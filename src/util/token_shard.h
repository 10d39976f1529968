/* token_shard.h: the header of llm.c's token shard files, shared by the
 * writer (data/) and the readers (train/, audit/).
 *
 * A shard is 256 little-endian int32 header words, then the tokens:
 *   [0] magic: 20240520 for uint16 tokens (GPT-2's format),
 *              20240801 for uint32 tokens (llm.c's format for vocabularies
 *              over 65,536, e.g. Llama 3's)
 *   [1] version: 1 for uint16; llm.c writes 7 for uint32, and 1 is also read
 *   [2] token count
 *   [3], [4] chirp's prepare generation (low, high 32 bits); 0 when the file
 *            did not come from chirp prepare. llm.c ignores words past [2].
 * The rest is zero. */
#ifndef CHIRP_UTIL_TOKEN_SHARD_H
#define CHIRP_UTIL_TOKEN_SHARD_H

#include <stddef.h>
#include <stdint.h>

#define SHARD_MAGIC_U16 20240520
#define SHARD_MAGIC_U32 20240801
#define SHARD_VERSION_U16 1
#define SHARD_VERSION_U32 7 /* what llm.c's dev/data/data_common.py writes */
#define SHARD_HEADER_INTS 256
#define SHARD_HEADER_BYTES (SHARD_HEADER_INTS * 4)

typedef struct ShardHeader {
    int token_bytes;     /* 2 or 4 */
    uint64_t count;      /* tokens */
    uint64_t generation; /* chirp prepare's run, or 0 */
} ShardHeader;

/* Bytes per token a vocabulary of vocab_size ids needs: 2 up to 65,536 ids, else 4. */
int shard_token_bytes_for_vocab(long vocab_size);

void shard_header_encode(const ShardHeader *h, int32_t words[SHARD_HEADER_INTS]);

/* Checks magic and version; -1 with the error naming path. */
int shard_header_decode(const int32_t words[SHARD_HEADER_INTS], const char *path, ShardHeader *h);

/* Token i of a buffer of tokens in the shard's width. */
static inline uint32_t shard_token_at(const void *data, int token_bytes, size_t i) {
    if (token_bytes == 2) return ((const uint16_t *)data)[i];
    return ((const uint32_t *)data)[i];
}

#endif
