/* tokenizer.c: building, querying and freeing a Tokenizer, and
 * tokenizer_load(), which picks the file format from the path. */
#include "text/tok_internal.h"

#include "text/gpt2_files.h"
#include "text/tokenizer_json.h"
#include "util/error.h"
#include "util/file.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

Tokenizer *tok_new(void) {
    /* A process-wide counter, so that a per-thread encode cache can tell a
     * new tokenizer from a freed one that got the same address. */
    static _Atomic uint64_t next_uid = 1;
    Tokenizer *t = xcalloc(1, sizeof *t);
    t->uid = atomic_fetch_add(&next_uid, 1);
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    return t;
}

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    free(t->off);
    free(t->len);
    free(t->present);
    free(t->blob);
    free(t->index);
    free(t->merge_left);
    free(t->merge_right);
    free(t->merge_result);
    free(t->pair_key);
    free(t->pair_rank);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].text);
    free(t->added);
    free(t);
}

static void index_insert(Tokenizer *t, int32_t id) {
    uint32_t h = (uint32_t)hash_bytes(t->blob + t->off[id], t->len[id]) & t->index_mask;
    while (t->index[h] >= 0) h = (h + 1) & t->index_mask;
    t->index[h] = id;
}

static void index_rebuild(Tokenizer *t, uint32_t cap) {
    free(t->index);
    t->index = xmalloc(sizeof(int32_t) * cap);
    for (uint32_t i = 0; i < cap; i++) t->index[i] = -1;
    t->index_mask = cap - 1;
    for (int32_t id = 0; id < t->n_ids; id++)
        if (t->present[id]) index_insert(t, id);
}

int32_t tok_lookup(const Tokenizer *t, const char *bytes, size_t len) {
    if (!t->index) return -1;
    uint32_t h = (uint32_t)hash_bytes(bytes, len) & t->index_mask;
    for (;;) {
        int32_t id = t->index[h];
        if (id < 0) return -1;
        if (t->len[id] == len && memcmp(t->blob + t->off[id], bytes, len) == 0) return id;
        h = (h + 1) & t->index_mask;
    }
}

int tok_add_token(Tokenizer *t, int32_t id, const char *bytes, size_t len) {
    if (id < 0 || id >= TOK_MAX_IDS) return chirp_fail("token id %d out of range", id);
    if (len == 0) return chirp_fail("token %d is empty", id);
    if (len > UINT32_MAX / 2 || t->blob_len + len > UINT32_MAX) return chirp_fail("token %d is too long", id);
    if (id < t->n_ids && t->present[id]) return chirp_fail("token id %d appears twice", id);
    int32_t dup = tok_lookup(t, bytes, len);
    if (dup >= 0) return chirp_fail("token %d has the same bytes as token %d", id, dup);
    if (id >= t->n_ids) {
        int32_t n = id + 1;
        if (n > t->ids_cap) {
            /* Grow geometrically: ids mostly arrive in order. */
            t->ids_cap = n > 2 * t->ids_cap ? n : 2 * t->ids_cap;
            t->off = xrealloc(t->off, sizeof(uint32_t) * (size_t)t->ids_cap);
            t->len = xrealloc(t->len, sizeof(uint32_t) * (size_t)t->ids_cap);
            t->present = xrealloc(t->present, sizeof(bool) * (size_t)t->ids_cap);
        }
        for (int32_t i = t->n_ids; i < n; i++) {
            t->off[i] = t->len[i] = 0;
            t->present[i] = false;
        }
        t->n_ids = n;
    }
    if (t->blob_len + len > t->blob_cap) {
        t->blob_cap = (t->blob_len + len) * 2 + 4096;
        t->blob = xrealloc(t->blob, t->blob_cap);
    }
    memcpy(t->blob + t->blob_len, bytes, len);
    t->off[id] = (uint32_t)t->blob_len;
    t->len[id] = (uint32_t)len;
    t->present[id] = true;
    t->blob_len += len;
    if (len == 1) t->byte_id[(unsigned char)bytes[0]] = id;
    /* Keep the index at most half full. */
    static const uint32_t min_cap = 1024;
    uint32_t count = 0;
    if (t->index) {
        count = (uint32_t)t->n_ids; /* an upper bound on present ids */
        if ((uint64_t)count * 2 > (uint64_t)t->index_mask + 1) {
            uint32_t cap = t->index_mask + 1;
            while ((uint64_t)count * 2 > cap) cap *= 2;
            index_rebuild(t, cap);
            return 0;
        }
        index_insert(t, id);
    } else {
        index_rebuild(t, min_cap);
    }
    return 0;
}

int tok_add_merge(Tokenizer *t, int32_t left, int32_t right) {
    if (left < 0 || right < 0 || left >= t->n_ids || right >= t->n_ids || !t->present[left] || !t->present[right])
        return chirp_fail("merge %d names an unknown token", t->n_merges + 1);
    size_t ll = t->len[left], rl = t->len[right];
    char *cat = xmalloc(ll + rl);
    memcpy(cat, t->blob + t->off[left], ll);
    memcpy(cat + ll, t->blob + t->off[right], rl);
    int32_t result = tok_lookup(t, cat, ll + rl);
    free(cat);
    if (result < 0) return chirp_fail("merge %d: the merged token is not in the vocab", t->n_merges + 1);
    if (t->n_merges == t->merges_cap) {
        t->merges_cap = t->merges_cap ? t->merges_cap * 2 : 1024;
        t->merge_left = xrealloc(t->merge_left, sizeof(int32_t) * (size_t)t->merges_cap);
        t->merge_right = xrealloc(t->merge_right, sizeof(int32_t) * (size_t)t->merges_cap);
        t->merge_result = xrealloc(t->merge_result, sizeof(int32_t) * (size_t)t->merges_cap);
    }
    t->merge_left[t->n_merges] = left;
    t->merge_right[t->n_merges] = right;
    t->merge_result[t->n_merges] = result;
    t->n_merges++;
    return 0;
}

int tok_add_added(Tokenizer *t, int32_t id, const char *text, size_t len, bool special) {
    if (len == 0) return chirp_fail("added token %d is empty", id);
    if (id < t->n_ids && t->present[id]) {
        /* Already in the vocab (GPT-2 keeps <|endoftext|> there): the
         * bytes must agree. */
        if (t->len[id] != len || memcmp(t->blob + t->off[id], text, len) != 0)
            return chirp_fail("added token %d '%.*s' differs from the vocab's token %d", id, (int)len, text, id);
    } else if (tok_add_token(t, id, text, len) != 0) {
        return -1;
    }
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].id == id) return 0;
    t->added = xrealloc(t->added, sizeof(AddedToken) * (size_t)(t->n_added + 1));
    AddedToken *a = &t->added[t->n_added++];
    a->text = xmalloc(len + 1);
    memcpy(a->text, text, len);
    a->text[len] = '\0';
    a->len = len;
    a->id = id;
    a->special = special;
    return 0;
}

static int cmp_added_longest_first(const void *pa, const void *pb) {
    const AddedToken *a = pa, *b = pb;
    if (a->len != b->len) return a->len > b->len ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int tok_finish(Tokenizer *t) {
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] < 0) return chirp_fail("the vocab has no token for byte 0x%02X", b);
    uint32_t cap = 16;
    while (cap < (uint32_t)t->n_merges * 2u + 2u) cap *= 2;
    t->pair_key = xmalloc(sizeof(uint64_t) * cap);
    t->pair_rank = xmalloc(sizeof(int32_t) * cap);
    t->pair_mask = cap - 1;
    for (uint32_t i = 0; i < cap; i++) t->pair_key[i] = UINT64_MAX;
    for (int32_t r = 0; r < t->n_merges; r++) {
        uint64_t key = ((uint64_t)(uint32_t)t->merge_left[r] << 32) | (uint32_t)t->merge_right[r];
        uint32_t h = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & t->pair_mask;
        while (t->pair_key[h] != UINT64_MAX && t->pair_key[h] != key) h = (h + 1) & t->pair_mask;
        /* A repeated merge keeps its first (best) rank, as a dict would. */
        if (t->pair_key[h] == key) continue;
        t->pair_key[h] = key;
        t->pair_rank[h] = r;
    }
    /* Longest first, so "<|im_start|>" wins over a shorter prefix. */
    if (t->n_added > 1) qsort(t->added, (size_t)t->n_added, sizeof(AddedToken), cmp_added_longest_first);
    for (int i = 0; i < t->n_added; i++) {
        if (!t->added[i].special) continue;
        t->special_first[(unsigned char)t->added[i].text[0]] = true;
        if (t->added[i].len > t->special_max_len) t->special_max_len = t->added[i].len;
    }
    return 0;
}

int tokenizer_vocab_size(const Tokenizer *t) { return t->n_ids; }

const char *tokenizer_token_bytes(const Tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_ids || !t->present[id]) return NULL;
    if (len) *len = t->len[id];
    return t->blob + t->off[id];
}

int32_t tokenizer_token_id(const Tokenizer *t, const char *bytes, size_t len) { return tok_lookup(t, bytes, len); }

int32_t tokenizer_special_id(const Tokenizer *t, const char *name) {
    size_t n = strlen(name);
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].len == n && memcmp(t->added[i].text, name, n) == 0) return t->added[i].id;
    return -1;
}

int32_t tokenizer_eot_id(const Tokenizer *t) { return tokenizer_special_id(t, "<|endoftext|>"); }

Tokenizer *tokenizer_load(const char *path) {
    Tokenizer *t = NULL;
    if (path_is_dir(path)) {
        char *json = path_join(path, "tokenizer.json");
        char *enc = path_join(path, "encoder.json");
        char *bpe = path_join(path, "vocab.bpe");
        if (path_exists(json)) t = tokenizer_load_json(json);
        else if (path_exists(enc) && path_exists(bpe)) t = tokenizer_load_gpt2(enc, bpe);
        else chirp_fail("%s: no tokenizer.json, nor encoder.json + vocab.bpe, in this directory", path);
        free(json);
        free(enc);
        free(bpe);
        return t;
    }
    return tokenizer_load_json(path);
}
