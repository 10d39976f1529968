/* bpe.c: the encoder's hot path (pre-tokenize, merge, cache) and decode.
 *
 * Each pre-token piece is merged independently: repeatedly the adjacent pair
 * with the lowest merge rank is merged (the leftmost one on a tie), as GPT-2,
 * HF tokenizers and tiktoken do. Short pieces use a small array scan; long
 * ones (a 5,000-letter word, a megabyte without a space) a heap over a linked
 * list, so the work stays O(n log n) for any input.
 *
 * Most pieces repeat ("the", " and", "\n"), so each thread keeps a cache of
 * piece -> ids. The cache is per thread, keyed by the tokenizer's uid, so the
 * Tokenizer itself stays read-only and shareable. */
#include "text/tok_internal.h"

#include "text/pretok.h"
#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum {
    SMALL_PIECE = 64,   /* array scan up to this many bytes */
    CACHE_KEY_MAX = 48, /* longer pieces are not cached */
    CACHE_SLOTS = 1 << 17,
    CACHE_BYTES = 2 << 20,
    CACHE_IDS = 1 << 19,
};

typedef struct Slot {
    uint64_t hash;
    uint32_t key_off, ids_off;
    uint32_t gen; /* the slot is empty unless gen == the cache's gen */
    uint8_t key_len, n_ids;
} Slot;

typedef struct Cache {
    uint64_t uid;
    uint32_t gen; /* bumping it empties every slot at once */
    uint32_t used;
    size_t bytes_used, ids_used;
    Slot slots[CACHE_SLOTS];
    char bytes[CACHE_BYTES];
    int32_t ids[CACHE_IDS];
} Cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_destroy(void *p) { free(p); }
static void cache_key_init(void) { pthread_key_create(&cache_key, cache_destroy); }

static void cache_clear(Cache *c, uint64_t uid) {
    if (++c->gen == 0) {
        memset(c->slots, 0, sizeof c->slots);
        c->gen = 1;
    }
    c->uid = uid;
    c->used = 0;
    c->bytes_used = c->ids_used = 0;
}

static Cache *cache_get(const Tokenizer *t) {
    pthread_once(&cache_once, cache_key_init);
    Cache *c = pthread_getspecific(cache_key);
    if (!c) {
        c = xcalloc(1, sizeof *c);
        cache_clear(c, t->uid);
        pthread_setspecific(cache_key, c);
    } else if (c->uid != t->uid) {
        cache_clear(c, t->uid);
    }
    return c;
}

static inline uint64_t hash_piece(const unsigned char *p, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, p, n);
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    return h;
}

/* Output: ids beyond cap are counted, not written. */
typedef struct Out {
    int32_t *ids;
    size_t cap, n;
} Out;

static inline void emit(Out *o, int32_t id) {
    if (o->n < o->cap) o->ids[o->n] = id;
    o->n++;
}

/* Merges a piece of n <= SMALL_PIECE bytes; returns the id count. */
static int merge_small(const Tokenizer *t, const unsigned char *p, int n, int32_t *ids) {
    int32_t rank[SMALL_PIECE];
    for (int i = 0; i < n; i++) ids[i] = t->byte_id[p[i]];
    for (int i = 0; i + 1 < n; i++) rank[i] = tok_pair_rank(t, ids[i], ids[i + 1]);
    int m = n;
    while (m > 1) {
        int32_t best = TOK_NO_RANK;
        int bi = -1;
        for (int i = 0; i + 1 < m; i++)
            if (rank[i] < best) {
                best = rank[i];
                bi = i;
            }
        if (bi < 0) break;
        ids[bi] = t->merge_result[best];
        /* Drop symbol bi+1 and the rank of pair (bi+1, bi+2). */
        memmove(&ids[bi + 1], &ids[bi + 2], sizeof(int32_t) * (size_t)(m - bi - 2));
        if (m - bi - 3 > 0) memmove(&rank[bi + 1], &rank[bi + 2], sizeof(int32_t) * (size_t)(m - bi - 3));
        m--;
        if (bi + 1 < m) rank[bi] = tok_pair_rank(t, ids[bi], ids[bi + 1]);
        if (bi > 0) rank[bi - 1] = tok_pair_rank(t, ids[bi - 1], ids[bi]);
    }
    return m;
}

/* A min-heap of (rank << 32 | position): lowest rank first, then leftmost. */
typedef struct Heap {
    uint64_t *a;
    size_t n, cap;
} Heap;

static void heap_push(Heap *h, uint64_t v) {
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->a = xrealloc(h->a, sizeof(uint64_t) * h->cap);
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->a[parent] <= v) break;
        h->a[i] = h->a[parent];
        i = parent;
    }
    h->a[i] = v;
}

static uint64_t heap_pop(Heap *h) {
    uint64_t top = h->a[0], v = h->a[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->a[c + 1] < h->a[c]) c++;
        if (v <= h->a[c]) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n > 0) h->a[i] = v;
    return top;
}

/* Merges a long piece with a heap; stale heap entries are skipped by
 * re-checking the pair's rank (a rank names exactly one pair). */
static void merge_large(const Tokenizer *t, const unsigned char *p, size_t n, Out *o) {
    int32_t *id = xmalloc(sizeof(int32_t) * n);
    uint32_t *next = xmalloc(sizeof(uint32_t) * n), *prev = xmalloc(sizeof(uint32_t) * n);
    const uint32_t NONE = UINT32_MAX;
    Heap h = {0};
    for (size_t i = 0; i < n; i++) {
        id[i] = t->byte_id[p[i]];
        prev[i] = i ? (uint32_t)(i - 1) : NONE;
        next[i] = i + 1 < n ? (uint32_t)(i + 1) : NONE;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t r = tok_pair_rank(t, id[i], id[i + 1]);
        if (r != TOK_NO_RANK) heap_push(&h, ((uint64_t)r << 32) | i);
    }
    while (h.n > 0) {
        uint64_t top = heap_pop(&h);
        int32_t r = (int32_t)(top >> 32);
        uint32_t i = (uint32_t)top, j = next[i];
        if (id[i] < 0 || j == NONE || tok_pair_rank(t, id[i], id[j]) != r) continue;
        id[i] = t->merge_result[r];
        id[j] = -1;
        next[i] = next[j];
        if (next[j] != NONE) prev[next[j]] = i;
        if (prev[i] != NONE) {
            int32_t rl = tok_pair_rank(t, id[prev[i]], id[i]);
            if (rl != TOK_NO_RANK) heap_push(&h, ((uint64_t)rl << 32) | prev[i]);
        }
        if (next[i] != NONE) {
            int32_t rr = tok_pair_rank(t, id[i], id[next[i]]);
            if (rr != TOK_NO_RANK) heap_push(&h, ((uint64_t)rr << 32) | i);
        }
    }
    for (uint32_t i = 0; i != NONE; i = next[i]) emit(o, id[i]);
    free(h.a);
    free(id);
    free(next);
    free(prev);
}

static void encode_piece(const Tokenizer *t, Cache *c, const unsigned char *p, size_t n, Out *o) {
    if (n == 1) {
        emit(o, t->byte_id[p[0]]);
        return;
    }
    if (n > SMALL_PIECE) {
        /* Positions are 32-bit: a piece over 4 GB (no real text has one) is
         * merged in 4 GB parts, the only place chirp is not exact. */
        const size_t part = UINT32_MAX - 1;
        for (; n > part; p += part, n -= part) merge_large(t, p, part, o);
        merge_large(t, p, n, o);
        return;
    }
    uint64_t hash = 0;
    uint32_t slot = 0;
    if (n <= CACHE_KEY_MAX) {
        hash = hash_piece(p, n);
        slot = (uint32_t)(hash >> 40) & (CACHE_SLOTS - 1);
        for (;;) {
            Slot *s = &c->slots[slot];
            if (s->gen != c->gen) break;
            if (s->hash == hash && s->key_len == n && memcmp(c->bytes + s->key_off, p, n) == 0) {
                const int32_t *ids = c->ids + s->ids_off;
                for (int k = 0; k < s->n_ids; k++) emit(o, ids[k]);
                return;
            }
            slot = (slot + 1) & (CACHE_SLOTS - 1);
        }
    }
    int32_t ids[SMALL_PIECE];
    int m = merge_small(t, p, (int)n, ids);
    for (int k = 0; k < m; k++) emit(o, ids[k]);
    if (n > CACHE_KEY_MAX) return;
    if (c->used >= CACHE_SLOTS / 2 || c->bytes_used + n > CACHE_BYTES || c->ids_used + (size_t)m > CACHE_IDS) {
        /* Full: start over. Simple, and the hot pieces come back at once. */
        cache_clear(c, c->uid);
        slot = (uint32_t)(hash >> 40) & (CACHE_SLOTS - 1);
    }
    Slot *s = &c->slots[slot];
    s->gen = c->gen;
    s->hash = hash;
    s->key_off = (uint32_t)c->bytes_used;
    s->key_len = (uint8_t)n;
    s->ids_off = (uint32_t)c->ids_used;
    s->n_ids = (uint8_t)m;
    memcpy(c->bytes + c->bytes_used, p, n);
    memcpy(c->ids + c->ids_used, ids, sizeof(int32_t) * (size_t)m);
    c->bytes_used += n;
    c->ids_used += (size_t)m;
    c->used++;
}

static void encode_ordinary(const Tokenizer *t, Cache *c, const unsigned char *s, size_t len, Out *o) {
    size_t pos = 0;
    while (pos < len) {
        size_t end = pretok_next(s, len, pos);
        encode_piece(t, c, s + pos, end - pos, o);
        pos = end;
    }
}

/* The special token that starts at s (longest first), or NULL. */
static const AddedToken *special_at(const Tokenizer *t, const unsigned char *s, size_t len) {
    for (int i = 0; i < t->n_added; i++) {
        const AddedToken *a = &t->added[i];
        if (a->special && a->len <= len && memcmp(a->text, s, a->len) == 0) return a;
    }
    return NULL;
}

long tokenizer_encode(const Tokenizer *t, const char *text, size_t len, bool allow_special, int32_t *ids, size_t cap) {
    Cache *c = cache_get(t);
    Out o = {ids, ids ? cap : 0, 0};
    const unsigned char *s = (const unsigned char *)text;
    if (!allow_special || t->special_max_len == 0) {
        encode_ordinary(t, c, s, len, &o);
        return (long)o.n;
    }
    /* Special tokens cut the text into segments that are encoded apart. */
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (!t->special_first[s[i]]) continue;
        const AddedToken *a = special_at(t, s + i, len - i);
        if (!a) continue;
        encode_ordinary(t, c, s + start, i - start, &o);
        emit(&o, a->id);
        i += a->len - 1;
        start = i + 1;
    }
    encode_ordinary(t, c, s + start, len - start, &o);
    return (long)o.n;
}

long tokenizer_decode(const Tokenizer *t, const int32_t *ids, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids || !t->present[id])
            return chirp_fail("token id %d is out of range (vocab size %d)", id, t->n_ids);
        size_t l = t->len[id];
        if (k < cap) memcpy(out + k, t->blob + t->off[id], k + l <= cap ? l : cap - k);
        k += l;
    }
    return (long)k;
}
