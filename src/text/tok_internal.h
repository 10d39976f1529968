/* tok_internal.h: the Tokenizer's representation, shared by the files of src/text.
 *
 * Ids index a table of token bytes. Merges are kept in rank order and in a
 * hash table keyed by the (left id, right id) pair, which is all the encoder
 * needs. A tokenizer is built by adding tokens, then merges, then calling
 * tok_finish(); after that it is read-only. */
#ifndef CHIRP_TEXT_TOK_INTERNAL_H
#define CHIRP_TEXT_TOK_INTERNAL_H

#include "text/tokenizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOK_MAX_IDS (1 << 21) /* a sanity bound for ids read from files */
#define TOK_NO_RANK INT32_MAX

typedef struct AddedToken {
    char *text; /* raw bytes, as they appear in text */
    size_t len;
    int32_t id;
    bool special; /* matched in text only with allow_special */
} AddedToken;

struct Tokenizer {
    int32_t n_ids;       /* max id + 1 */
    int32_t ids_cap;     /* allocated length of off, len, present */
    uint32_t *off, *len; /* bytes of id i: blob + off[i], len[i] */
    bool *present;       /* ids may have gaps in a loaded file */
    char *blob;
    size_t blob_len, blob_cap;
    int32_t byte_id[256]; /* id of each single byte */

    /* bytes -> id index (open addressing over ids, -1 = empty). */
    int32_t *index;
    uint32_t index_mask;

    /* merges in rank order; rank r makes merge_result[r]. */
    int32_t n_merges, merges_cap;
    int32_t *merge_left, *merge_right, *merge_result;
    uint64_t *pair_key; /* (left << 32 | right), UINT64_MAX = empty */
    int32_t *pair_rank;
    uint32_t pair_mask;

    AddedToken *added;
    int n_added;
    bool special_first[256]; /* first bytes of special tokens */
    size_t special_max_len;

    uint64_t uid; /* distinguishes tokenizers for per-thread caches */
};

Tokenizer *tok_new(void);
/* Adds a token with a given id; fails on a duplicate id or bytes. */
int tok_add_token(Tokenizer *t, int32_t id, const char *bytes, size_t len);
/* Looks up the id of some bytes (-1 if none); valid after tok_add_token. */
int32_t tok_lookup(const Tokenizer *t, const char *bytes, size_t len);
/* Appends a merge of two ids, whose result is the token of their bytes
 * concatenated; fails if that token is missing. */
int tok_add_merge(Tokenizer *t, int32_t left, int32_t right);
/* Registers an added token (also in the vocab if not yet there). */
int tok_add_added(Tokenizer *t, int32_t id, const char *text, size_t len, bool special);
/* Checks the byte tokens and builds the pair table; call once at the end. */
int tok_finish(Tokenizer *t);

/* Rank of the merge (left, right), or TOK_NO_RANK. */
static inline int32_t tok_pair_rank(const Tokenizer *t, int32_t left, int32_t right) {
    uint64_t key = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    uint32_t h = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & t->pair_mask;
    for (;;) {
        uint64_t k = t->pair_key[h];
        if (k == key) return t->pair_rank[h];
        if (k == UINT64_MAX) return TOK_NO_RANK;
        h = (h + 1) & t->pair_mask;
    }
}

/* GPT-2's bytes_to_unicode: the printable code point that stands for each
 * byte in vocab files, and back (-1 if cp stands for no byte). */
int32_t bytelevel_char(unsigned b);
int bytelevel_byte(int32_t cp);
/* Maps raw bytes to their byte-level string (UTF-8, malloc'd). */
char *bytelevel_encode(const char *s, size_t n, size_t *out_len);
/* Maps a byte-level string back to raw bytes into out (room for n bytes).
 * Returns the byte count, or -1 if some character stands for no byte. */
long bytelevel_decode(const char *s, size_t n, char *out);

#endif
