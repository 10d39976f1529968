/* dedup.c: see dedup.h.
 *
 * MinHash values come from one 64-bit hash per shingle, remixed per
 * permutation with an odd multiplier and an xor (cheap, and independent
 * enough for similarity estimates). LSH: with b bands of r rows, two posts
 * of similarity s collide in some band with probability 1-(1-s^r)^b; we
 * pick the largest r whose threshold (1/b)^(1/r) stays at or below the
 * requested one, favouring recall, then confirm each candidate on the full
 * signature. Each band bucket remembers the first kept post that hashed
 * there, which is the one a duplicate must be attributed to anyway. */
#include "data/dedup.h"

#include "util/error.h"
#include "util/hash.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NHASH 64
#define SHINGLE 5

/* Open-addressing table of 64-bit keys (0 is remapped) to 32-bit values. */
typedef struct Table {
    uint64_t *keys;
    uint32_t *vals;
    size_t cap, count;
} Table;

static void table_init(Table *t, size_t cap) {
    t->cap = cap;
    t->count = 0;
    t->keys = xcalloc(cap, sizeof *t->keys);
    t->vals = xcalloc(cap, sizeof *t->vals);
}

static void table_destroy(Table *t) {
    free(t->keys);
    free(t->vals);
}

/* Returns a pointer to the value slot for key; *found says if it existed.
 * Inserts the key when absent. */
static uint32_t *table_slot(Table *t, uint64_t key, int *found);

static void table_grow(Table *t) {
    Table n;
    table_init(&n, t->cap * 2);
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->keys[i]) continue;
        int f;
        *table_slot(&n, t->keys[i], &f) = t->vals[i];
    }
    table_destroy(t);
    *t = n;
}

static uint32_t *table_slot(Table *t, uint64_t key, int *found) {
    if (key == 0) key = 1;
    if ((t->count + 1) * 4 > t->cap * 3) table_grow(t);
    size_t mask = t->cap - 1;
    size_t i = (size_t)hash_mix64(key) & mask;
    while (t->keys[i]) {
        if (t->keys[i] == key) {
            *found = 1;
            return &t->vals[i];
        }
        i = (i + 1) & mask;
    }
    t->keys[i] = key;
    t->count++;
    *found = 0;
    return &t->vals[i];
}

struct Dedup {
    Table exact;
    double threshold;
    int bands, rows;
    Table *band;         /* one table per band */
    uint32_t *sigs;      /* NHASH per kept post */
    uint32_t *kept_rows; /* caller's row per kept post */
    size_t nsigs, cap_sigs;
    uint32_t cur[NHASH]; /* signature of the last text checked */
    uint64_t mult[NHASH], add[NHASH];
};

void dedup_lsh_layout(double threshold, int *bands, int *rows) {
    int best_r = 1;
    for (int r = 1; r <= NHASH; r++) {
        if (NHASH % r) continue;
        double t = pow(1.0 / (NHASH / r), 1.0 / r);
        if (t <= threshold) best_r = r;
    }
    *rows = best_r;
    *bands = NHASH / best_r;
}

Dedup *dedup_new(double near_threshold) {
    Dedup *d = xcalloc(1, sizeof *d);
    table_init(&d->exact, 1 << 16);
    d->threshold = near_threshold;
    uint64_t seed = 0x243f6a8885a308d3ULL;
    for (int i = 0; i < NHASH; i++) {
        d->mult[i] = hash_mix64(seed + 2 * (uint64_t)i) | 1;
        d->add[i] = hash_mix64(seed + 2 * (uint64_t)i + 1);
    }
    if (near_threshold > 0) {
        dedup_lsh_layout(near_threshold, &d->bands, &d->rows);
        d->band = xcalloc((size_t)d->bands, sizeof *d->band);
        for (int b = 0; b < d->bands; b++) table_init(&d->band[b], 1 << 12);
    }
    return d;
}

void dedup_free(Dedup *d) {
    if (!d) return;
    table_destroy(&d->exact);
    for (int b = 0; b < d->bands; b++) table_destroy(&d->band[b]);
    free(d->band);
    free(d->sigs);
    free(d->kept_rows);
    free(d);
}

long dedup_exact_check(Dedup *d, uint64_t hash, long row) {
    int found;
    uint32_t *slot = table_slot(&d->exact, hash, &found);
    if (found) return (long)*slot;
    *slot = (uint32_t)row;
    return -1;
}

static inline unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static inline void sig_update(const uint64_t *mult, const uint64_t *add, uint64_t h, uint32_t *sig) {
    for (int k = 0; k < NHASH; k++) {
        uint32_t v = (uint32_t)((h * mult[k] + add[k]) >> 32);
        if (v < sig[k]) sig[k] = v;
    }
}

/* Shingles are SHINGLE consecutive bytes, ASCII-lowercased so case changes
 * do not hide a near-duplicate; a shorter text is one shingle. */
static void signature(const uint64_t *mult, const uint64_t *add, const char *text, size_t len, uint32_t *sig) {
    for (int k = 0; k < NHASH; k++) sig[k] = UINT32_MAX;
    const unsigned char *s = (const unsigned char *)text;
    uint64_t w = 0;
    size_t first = len < SHINGLE ? len : SHINGLE;
    for (size_t i = 0; i < first; i++) w = (w << 8) | lower(s[i]);
    sig_update(mult, add, hash_mix64(w ^ len * (len < SHINGLE)), sig);
    const uint64_t keep = (1ULL << (8 * SHINGLE)) - 1;
    for (size_t i = SHINGLE; i < len; i++) {
        w = ((w << 8) | lower(s[i])) & keep;
        sig_update(mult, add, hash_mix64(w), sig);
    }
}

static double sig_similarity(const uint32_t *a, const uint32_t *b) {
    int same = 0;
    for (int k = 0; k < NHASH; k++) same += a[k] == b[k];
    return (double)same / NHASH;
}

long dedup_near_find(Dedup *d, const char *text, size_t len) {
    if (d->threshold <= 0) return -1;
    signature(d->mult, d->add, text, len, d->cur);
    for (int b = 0; b < d->bands; b++) {
        uint64_t key = hash64(d->cur + b * d->rows, sizeof(uint32_t) * (size_t)d->rows, (uint64_t)b);
        Table *t = &d->band[b];
        if (key == 0) key = 1;
        size_t mask = t->cap - 1;
        for (size_t i = (size_t)hash_mix64(key) & mask; t->keys[i]; i = (i + 1) & mask) {
            if (t->keys[i] != key) continue;
            uint32_t idx = t->vals[i];
            if (sig_similarity(d->cur, d->sigs + (size_t)idx * NHASH) >= d->threshold) return (long)d->kept_rows[idx];
            break;
        }
    }
    return -1;
}

void dedup_near_add(Dedup *d, long row) {
    if (d->threshold <= 0) return;
    if (d->nsigs == d->cap_sigs) {
        d->cap_sigs = d->cap_sigs ? 2 * d->cap_sigs : 1024;
        d->sigs = xrealloc(d->sigs, d->cap_sigs * NHASH * sizeof *d->sigs);
        d->kept_rows = xrealloc(d->kept_rows, d->cap_sigs * sizeof *d->kept_rows);
    }
    uint32_t idx = (uint32_t)d->nsigs++;
    d->kept_rows[idx] = (uint32_t)row;
    memcpy(d->sigs + (size_t)idx * NHASH, d->cur, sizeof d->cur);
    for (int b = 0; b < d->bands; b++) {
        uint64_t key = hash64(d->cur + b * d->rows, sizeof(uint32_t) * (size_t)d->rows, (uint64_t)b);
        int found;
        uint32_t *slot = table_slot(&d->band[b], key, &found);
        if (!found) *slot = idx;
    }
}

double dedup_similarity(const char *a, size_t alen, const char *b, size_t blen) {
    Dedup *d = dedup_new(0);
    uint32_t sa[NHASH], sb[NHASH];
    signature(d->mult, d->add, a, alen, sa);
    signature(d->mult, d->add, b, blen, sb);
    dedup_free(d);
    return sig_similarity(sa, sb);
}
