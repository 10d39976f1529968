/* token_shard.c: see token_shard.h. */
#include "util/token_shard.h"

#include "util/error.h"

#include <string.h>

int shard_token_bytes_for_vocab(long vocab_size) { return vocab_size > 65536 ? 4 : 2; }

void shard_header_encode(const ShardHeader *h, int32_t words[SHARD_HEADER_INTS]) {
    memset(words, 0, SHARD_HEADER_INTS * sizeof *words);
    int wide = h->token_bytes == 4;
    words[0] = wide ? SHARD_MAGIC_U32 : SHARD_MAGIC_U16;
    words[1] = wide ? SHARD_VERSION_U32 : SHARD_VERSION_U16;
    words[2] = (int32_t)h->count;
    words[3] = (int32_t)(uint32_t)(h->generation & 0xffffffffu);
    words[4] = (int32_t)(uint32_t)(h->generation >> 32);
}

int shard_header_decode(const int32_t words[SHARD_HEADER_INTS], const char *path, ShardHeader *h) {
    if (words[0] == SHARD_MAGIC_U16) {
        if (words[1] != SHARD_VERSION_U16)
            return chirp_fail("%s: unsupported uint16 shard version %d (only 1)", path, words[1]);
        h->token_bytes = 2;
    } else if (words[0] == SHARD_MAGIC_U32) {
        if (words[1] != SHARD_VERSION_U32 && words[1] != 1)
            return chirp_fail("%s: unsupported uint32 shard version %d (7 or 1)", path, words[1]);
        h->token_bytes = 4;
    } else {
        return chirp_fail("%s: not a token shard (magic %d; expected %d for uint16 or %d for uint32 tokens)", path,
                          words[0], SHARD_MAGIC_U16, SHARD_MAGIC_U32);
    }
    if (words[2] < 0) return chirp_fail("%s: negative token count %d", path, words[2]);
    h->count = (uint64_t)words[2];
    h->generation = (uint64_t)(uint32_t)words[3] | (uint64_t)(uint32_t)words[4] << 32;
    return 0;
}
