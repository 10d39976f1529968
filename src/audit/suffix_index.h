/* suffix_index.h: an exact index of the training token stream (infini-gram
 * style): every token-aligned suffix of the train shards, concatenated in
 * file order, sorted, so a token sequence's occurrences are one range found
 * by binary search in O(m log n).
 *
 * Files in DIR (the dataset's audit_index/):
 *   tokens.bin   the stream as big-endian uint16 (uint32 when the shards
 *                hold uint32 tokens), so that byte order is token order
 *                (the suffix array sorts tokens, not bytes)
 *   sa.bin       positions (in tokens) of the suffixes in sorted order,
 *                uint32 (uint64 when the stream has 2^32 tokens or more)
 *   index.json   format, token count, token and position widths, and the shards with
 *                their sha256 and first token in the stream
 * The suffix array comes from libdivsufsort over the byte stream (2 or 4
 * bytes per token); the positions inside a token are then dropped, which
 * leaves the token-aligned suffixes in their sorted order. */
#ifndef CHIRP_AUDIT_SUFFIX_INDEX_H
#define CHIRP_AUDIT_SUFFIX_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct IndexShard {
    char *name;     /* file name, as the catalog's posts.shard */
    uint64_t start; /* its first token in the stream */
    uint64_t tokens;
} IndexShard;

typedef struct SuffixIndex {
    uint64_t n;          /* tokens */
    const uint8_t *text; /* token_bytes * n bytes, big-endian tokens (mapped) */
    int token_bytes;     /* 2 or 4 */
    const void *sa;      /* n positions (mapped) */
    int wide;            /* positions are uint64 */
    IndexShard *shards;
    int nshards;
    size_t text_len, sa_len; /* mapped lengths */
} SuffixIndex;

typedef struct IndexBuildStats {
    uint64_t tokens;
    double seconds;
    size_t peak_bytes; /* the builder's own buffers at their largest */
} IndexBuildStats;

/* Builds DIR from the shards (sorted file names; n of them). Each file is
 * written to a temporary name and renamed, index.json last. Returns 0 or
 * -1 with the error set. */
int suffix_index_build(const char *dir, const char *const *shards, int n, IndexBuildStats *stats);

/* Maps DIR. Returns 0 or -1 with the error set. */
int suffix_index_open(SuffixIndex *ix, const char *dir);
void suffix_index_close(SuffixIndex *ix);

/* The position (in tokens) of the suffix of rank i. */
uint64_t suffix_index_pos(const SuffixIndex *ix, uint64_t i);

/* [*lo, *hi): the suffixes that start with q[0..m). Returns hi - lo. */
uint64_t suffix_index_range(const SuffixIndex *ix, const int32_t *q, size_t m, uint64_t *lo, uint64_t *hi);

/* The longest q[i..j) that occurs (one of them, the first by i); its count. */
uint64_t suffix_index_longest(const SuffixIndex *ix, const int32_t *q, size_t m, size_t *start, size_t *len);

/* The token at stream position p. */
static inline int32_t suffix_index_token(const SuffixIndex *ix, uint64_t p) {
    const uint8_t *t = ix->text + (uint64_t)ix->token_bytes * p;
    if (ix->token_bytes == 2) return (int32_t)(((uint32_t)t[0] << 8) | t[1]);
    return (int32_t)(((uint32_t)t[0] << 24) | ((uint32_t)t[1] << 16) | ((uint32_t)t[2] << 8) | t[3]);
}

#endif
