/* bpe_train.c: BPE training over distinct pre-tokens with incremental pair
 * counts (see bpe_train.h for the rules).
 *
 * The distinct pieces lie end to end in one array of byte slots: a token
 * sits in the slot of its first byte and the slots of its other bytes are
 * DEAD, so the next token starts its length further on and the previous
 * one at the first live slot to the left. For each pair we keep its count
 * and the positions where it occurs. A merge visits only those positions, left to
 * right, rewrites each occurrence and adjusts the counts of the pairs
 * around it, so a merge costs time in proportion to its occurrences, not to
 * the length of the pieces holding them: a 100 MB piece with no space in it
 * trains in about linear time (n log n for the sorts). A max-heap with lazy
 * deletion picks the next pair: an entry is used only if its count is
 * still the pair's count (every change pushes a fresh entry). */
#include "text/bpe_train.h"

#include "text/pretok.h"
#include "text/tok_internal.h"
#include "util/error.h"
#include "util/progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const chirp_special_tokens[CHIRP_N_SPECIAL] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

typedef struct Word {
    uint64_t key_off; /* bytes in tr->arena while counting */
    uint32_t len;     /* bytes */
    uint32_t sym_off; /* its first symbol in tr->sym (after counting) */
    int64_t count;
} Word;

/* A slot inside a token (not its first byte). */
#define DEAD (-1)

typedef struct Pair {
    int32_t left, right;
    int64_t count;
    uint32_t *pos; /* slots of its left symbol, one per occurrence; may hold stale entries */
    uint32_t n_pos, cap_pos;
    uint32_t dirty; /* merge step that last changed it */
} Pair;

typedef struct HeapEntry {
    int64_t count;
    int32_t left, right;
} HeapEntry;

struct BpeTrainer {
    char *arena;
    uint64_t arena_len, arena_cap;
    Word *words;
    int32_t n_words, cap_words;
    uint32_t *word_slot; /* word index + 1, 0 = empty */
    uint32_t word_mask;
    uint64_t bytes;

    int32_t *sym;      /* one slot per byte of every piece, end to end: a token id or DEAD */
    uint32_t *tok_len; /* bytes of each token id */
    int32_t cap_tok_len;
    Pair *pairs;
    int32_t n_pairs, cap_pairs;
    int32_t *pair_slot; /* pair index, -1 = empty */
    uint32_t pair_mask;
    HeapEntry *heap;
    size_t heap_n, heap_cap;
    int32_t *dirty;
    int32_t n_dirty, cap_dirty;
};

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 31);
}

BpeTrainer *bpe_trainer_new(void) {
    BpeTrainer *tr = xcalloc(1, sizeof *tr);
    tr->word_mask = (1u << 16) - 1;
    tr->word_slot = xcalloc((size_t)tr->word_mask + 1, sizeof(uint32_t));
    return tr;
}

void bpe_trainer_free(BpeTrainer *tr) {
    if (!tr) return;
    free(tr->arena);
    free(tr->words);
    free(tr->word_slot);
    free(tr->sym);
    free(tr->tok_len);
    for (int32_t i = 0; i < tr->n_pairs; i++) free(tr->pairs[i].pos);
    free(tr->pairs);
    free(tr->pair_slot);
    free(tr->heap);
    free(tr->dirty);
    free(tr);
}

size_t bpe_trainer_distinct(const BpeTrainer *tr) { return (size_t)tr->n_words; }
uint64_t bpe_trainer_bytes(const BpeTrainer *tr) { return tr->bytes; }

static void word_grow(BpeTrainer *tr) {
    uint32_t cap = (tr->word_mask + 1) * 2;
    uint32_t *slots = xcalloc(cap, sizeof(uint32_t));
    for (int32_t w = 0; w < tr->n_words; w++) {
        uint32_t h = (uint32_t)hash_bytes(tr->arena + tr->words[w].key_off, tr->words[w].len) & (cap - 1);
        while (slots[h]) h = (h + 1) & (cap - 1);
        slots[h] = (uint32_t)w + 1;
    }
    free(tr->word_slot);
    tr->word_slot = slots;
    tr->word_mask = cap - 1;
}

static void count_piece(BpeTrainer *tr, const char *p, size_t n) {
    tr->bytes += n;
    if (n > UINT32_MAX) n = UINT32_MAX; /* a 4 GB word: counted by its first 4 GB */
    uint32_t h = (uint32_t)hash_bytes(p, n) & tr->word_mask;
    for (;;) {
        uint32_t s = tr->word_slot[h];
        if (!s) break;
        Word *w = &tr->words[s - 1];
        if (w->len == n && memcmp(tr->arena + w->key_off, p, n) == 0) {
            w->count++;
            return;
        }
        h = (h + 1) & tr->word_mask;
    }
    if (tr->n_words == INT32_MAX - 1) return; /* 2 billion distinct pieces: ignore the rest */
    if (tr->arena_len + n > tr->arena_cap) {
        tr->arena_cap = (tr->arena_len + n) * 2 + (1 << 20);
        tr->arena = xrealloc(tr->arena, tr->arena_cap);
    }
    memcpy(tr->arena + tr->arena_len, p, n);
    if (tr->n_words == tr->cap_words) {
        tr->cap_words = tr->cap_words ? tr->cap_words * 2 : 4096;
        tr->words = xrealloc(tr->words, sizeof(Word) * (size_t)tr->cap_words);
    }
    tr->words[tr->n_words] = (Word){.key_off = tr->arena_len, .len = (uint32_t)n, .count = 1};
    tr->arena_len += n;
    tr->word_slot[h] = (uint32_t)++tr->n_words;
    if ((uint64_t)tr->n_words * 2 > tr->word_mask) word_grow(tr);
}

/* Length of the special token at s[0..len), 0 if none, or -1 if s is a
 * proper prefix of one (it may complete in the next block). */
static long special_at(const char *s, size_t len) {
    for (int k = 0; k < CHIRP_N_SPECIAL; k++) {
        size_t n = strlen(chirp_special_tokens[k]);
        if (len >= n && memcmp(s, chirp_special_tokens[k], n) == 0) return (long)n;
        if (len < n && memcmp(s, chirp_special_tokens[k], len) == 0) return -1;
    }
    return 0;
}

/* Counts the pieces of buf[0..len) and returns how many bytes were used.
 * Unless eof, pieces ending within HOLD bytes of the end are left for the
 * next block: a piece's end depends on at most a few code points after it,
 * and a special token is at most 13 bytes. */
enum { HOLD = 32 };
static size_t count_block(BpeTrainer *tr, const char *buf, size_t len, bool eof) {
    const unsigned char *s = (const unsigned char *)buf;
    size_t pos = 0;
    while (pos < len) {
        /* The segment up to the next special token. */
        size_t seg = pos, skip = 0;
        for (; seg < len; seg++) {
            if (s[seg] != '<') continue; /* every chirp special token starts with '<' */
            long k = special_at(buf + seg, len - seg);
            if (k > 0) {
                skip = (size_t)k;
                break;
            }
            if (k < 0 && !eof) break;
        }
        bool complete = eof || skip > 0;
        while (pos < seg) {
            size_t end = pretok_next(s, seg, pos);
            if (!complete && end + HOLD > len) return pos;
            count_piece(tr, buf + pos, end - pos);
            pos = end;
        }
        if (skip == 0) return pos; /* held back a possible special, or at the end */
        pos += skip;
    }
    return pos;
}

void bpe_trainer_add_text(BpeTrainer *tr, const char *text, size_t len) { count_block(tr, text, len, true); }

int bpe_trainer_add_file(BpeTrainer *tr, const char *path, bool show_progress) {
    FILE *f = fopen(path, "rb");
    if (!f) return chirp_fail_errno("%s", path);
    size_t cap = 4u << 20, have = 0;
    char *buf = xmalloc(cap);
    struct stat st;
    double total = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? (double)st.st_size / 1e6 : 0;
    Progress pr;
    progress_init(&pr, "tokenizer train: reading", "MB", total);
    pr.quiet = pr.quiet || !show_progress;
    double done = 0;
    bool eof = false;
    while (!eof) {
        if (have == cap) {
            cap *= 2; /* a single piece longer than the block */
            buf = xrealloc(buf, cap);
        }
        size_t got = fread(buf + have, 1, cap - have, f);
        if (got < cap - have) {
            if (ferror(f)) {
                free(buf);
                fclose(f);
                return chirp_fail_errno("%s: read error", path);
            }
            eof = true;
        }
        have += got;
        done += (double)got / 1e6;
        size_t used = count_block(tr, buf, have, eof);
        memmove(buf, buf + used, have - used);
        have -= used;
        char extra[64];
        snprintf(extra, sizeof extra, "%d distinct pieces", tr->n_words);
        progress_update(&pr, done, extra);
    }
    free(buf);
    fclose(f);
    return 0;
}

/* --- pairs --------------------------------------------------------------- */

static inline uint32_t pair_hash(int32_t a, int32_t b) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32);
}

static void pair_table_grow(BpeTrainer *tr) {
    uint32_t cap = tr->pair_slot ? (tr->pair_mask + 1) * 2 : (1u << 16);
    int32_t *slots = xmalloc(sizeof(int32_t) * cap);
    for (uint32_t i = 0; i < cap; i++) slots[i] = -1;
    for (int32_t p = 0; p < tr->n_pairs; p++) {
        uint32_t h = pair_hash(tr->pairs[p].left, tr->pairs[p].right) & (cap - 1);
        while (slots[h] >= 0) h = (h + 1) & (cap - 1);
        slots[h] = p;
    }
    free(tr->pair_slot);
    tr->pair_slot = slots;
    tr->pair_mask = cap - 1;
}

static int32_t pair_get(BpeTrainer *tr, int32_t a, int32_t b, bool create) {
    uint32_t h = pair_hash(a, b) & tr->pair_mask;
    for (;;) {
        int32_t p = tr->pair_slot[h];
        if (p < 0) break;
        if (tr->pairs[p].left == a && tr->pairs[p].right == b) return p;
        h = (h + 1) & tr->pair_mask;
    }
    if (!create) return -1;
    if (tr->n_pairs == tr->cap_pairs) {
        tr->cap_pairs = tr->cap_pairs ? tr->cap_pairs * 2 : 4096;
        tr->pairs = xrealloc(tr->pairs, sizeof(Pair) * (size_t)tr->cap_pairs);
    }
    int32_t p = tr->n_pairs++;
    tr->pairs[p] = (Pair){.left = a, .right = b};
    tr->pair_slot[h] = p;
    if ((uint64_t)tr->n_pairs * 2 > tr->pair_mask) pair_table_grow(tr);
    return p;
}

static void pair_add_pos(Pair *p, uint32_t slot) {
    if (p->n_pos == p->cap_pos) {
        p->cap_pos = p->cap_pos ? p->cap_pos + p->cap_pos / 2 : 4;
        p->pos = xrealloc(p->pos, sizeof(uint32_t) * (size_t)p->cap_pos);
    }
    p->pos[p->n_pos++] = slot;
}

/* Higher count first; then smaller left id, then smaller right id. */
static inline bool heap_before(const HeapEntry *x, const HeapEntry *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->left != y->left) return x->left < y->left;
    return x->right < y->right;
}

static void heap_push(BpeTrainer *tr, HeapEntry e) {
    if (tr->heap_n == tr->heap_cap) {
        tr->heap_cap = tr->heap_cap ? tr->heap_cap * 2 : 4096;
        tr->heap = xrealloc(tr->heap, sizeof(HeapEntry) * tr->heap_cap);
    }
    size_t i = tr->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_before(&e, &tr->heap[parent])) break;
        tr->heap[i] = tr->heap[parent];
        i = parent;
    }
    tr->heap[i] = e;
}

static HeapEntry heap_pop(BpeTrainer *tr) {
    HeapEntry top = tr->heap[0], e = tr->heap[--tr->heap_n];
    size_t i = 0, n = tr->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_before(&tr->heap[c + 1], &tr->heap[c])) c++;
        if (!heap_before(&tr->heap[c], &e)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    if (n > 0) tr->heap[i] = e;
    return top;
}

/* Adds delta to a pair's count (a new occurrence at slot when delta > 0)
 * and marks it for a fresh heap entry. */
static void pair_change(BpeTrainer *tr, int32_t a, int32_t b, int64_t delta, uint32_t slot, uint32_t step) {
    int32_t p = pair_get(tr, a, b, delta > 0);
    if (p < 0) return;
    Pair *pp = &tr->pairs[p];
    pp->count += delta;
    if (delta > 0) pair_add_pos(pp, slot);
    if (pp->dirty != step) {
        pp->dirty = step;
        if (tr->n_dirty == tr->cap_dirty) {
            tr->cap_dirty = tr->cap_dirty ? tr->cap_dirty * 2 : 1024;
            tr->dirty = xrealloc(tr->dirty, sizeof(int32_t) * (size_t)tr->cap_dirty);
        }
        tr->dirty[tr->n_dirty++] = p;
    }
}

static void init_pairs(BpeTrainer *tr) {
    size_t n = tr->arena_len ? (size_t)tr->arena_len : 1;
    tr->sym = xmalloc(sizeof(int32_t) * n);
    tr->cap_tok_len = 1024;
    tr->tok_len = xmalloc(sizeof(uint32_t) * (size_t)tr->cap_tok_len);
    for (int b = 0; b < 256; b++) tr->tok_len[b] = 1;
    pair_table_grow(tr);
    uint32_t off = 0;
    for (int32_t w = 0; w < tr->n_words; w++) {
        Word *wd = &tr->words[w];
        const unsigned char *b = (const unsigned char *)tr->arena + wd->key_off;
        wd->sym_off = off;
        for (uint32_t i = 0; i < wd->len; i++) tr->sym[off + i] = b[i];
        /* First pass: counts, and occurrences in n_pos. */
        for (uint32_t i = 0; i + 1 < wd->len; i++) {
            int32_t p = pair_get(tr, b[i], b[i + 1], true);
            tr->pairs[p].count += wd->count;
            tr->pairs[p].n_pos++;
        }
        off += wd->len;
    }
    /* Second pass: position lists of exactly that size (the initial lists
     * hold one slot per byte of the text's distinct pieces: no slack). */
    for (int32_t p = 0; p < tr->n_pairs; p++) {
        tr->pairs[p].cap_pos = tr->pairs[p].n_pos;
        tr->pairs[p].pos = xmalloc(sizeof(uint32_t) * tr->pairs[p].cap_pos);
        tr->pairs[p].n_pos = 0;
    }
    for (int32_t w = 0; w < tr->n_words; w++) {
        const Word *wd = &tr->words[w];
        const int32_t *sy = tr->sym + wd->sym_off;
        for (uint32_t i = 0; i + 1 < wd->len; i++)
            pair_add_pos(&tr->pairs[pair_get(tr, sy[i], sy[i + 1], false)], wd->sym_off + i);
    }
    /* The piece bytes are now in sym; the arena is no longer needed. */
    free(tr->arena);
    tr->arena = NULL;
    for (int32_t p = 0; p < tr->n_pairs; p++)
        heap_push(tr, (HeapEntry){tr->pairs[p].count, tr->pairs[p].left, tr->pairs[p].right});
}

/* The piece holding a slot (pieces lie in sym_off order). */
static const Word *word_at(const BpeTrainer *tr, uint32_t slot) {
    int32_t lo = 0, hi = tr->n_words - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo + 1) / 2;
        if (tr->words[mid].sym_off <= slot) lo = mid;
        else hi = mid - 1;
    }
    return &tr->words[lo];
}

static int cmp_slot(const void *x, const void *y) {
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

/* Replaces the occurrence of (a, b) at slot i of piece w by z and updates
 * the counts of the pairs around it: (h, a) becomes (h, z) and (b, k)
 * becomes (z, k). */
static void merge_at(BpeTrainer *tr, const Word *w, uint32_t i, int32_t a, int32_t b, int32_t z, uint32_t step) {
    uint32_t j = i + tr->tok_len[a], k = j + tr->tok_len[b], end = w->sym_off + w->len;
    int64_t c = w->count;
    if (i > w->sym_off) {
        uint32_t h = i - 1;
        while (tr->sym[h] == DEAD) h--; /* the piece's first slot is never DEAD */
        pair_change(tr, tr->sym[h], a, -c, h, step);
        pair_change(tr, tr->sym[h], z, c, h, step);
    }
    if (k < end) {
        pair_change(tr, b, tr->sym[k], -c, i, step);
        pair_change(tr, z, tr->sym[k], c, i, step);
    }
    pair_change(tr, a, b, -c, i, step);
    tr->sym[i] = z;
    tr->sym[j] = DEAD;
}

/* Merges every live occurrence of pair p = (a, b) into z, left to right
 * within a piece: in "a a a" the pair (a, a) merges at the first slot
 * only, as HF does. A slot listed twice fails the liveness check the
 * second time (its pair is merged), so duplicates need no care. */
static void merge_pair(BpeTrainer *tr, int32_t p, int32_t a, int32_t b, int32_t z, uint32_t step) {
    Pair *pp = &tr->pairs[p];
    uint32_t *pos = pp->pos, n = pp->n_pos;
    pp->pos = NULL; /* pair_change may grow tr->pairs: keep no pointer into it */
    pp->n_pos = pp->cap_pos = 0;
    /* Only (x, x) can overlap itself, so only then does the order matter.
     * Its slots were appended in ascending order when x was made, unless x
     * is a reused token made twice (see the caller), so sort them then. */
    if (a == b && n > 1) qsort(pos, n, sizeof *pos, cmp_slot);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = pos[k];
        /* Stale entries: the slot was merged away or now starts another pair. */
        if (tr->sym[i] != a) continue;
        const Word *w = word_at(tr, i);
        uint32_t j = i + tr->tok_len[a];
        if (j >= w->sym_off + w->len || tr->sym[j] != b) continue;
        merge_at(tr, w, i, a, b, z, step);
    }
    free(pos);
}

Tokenizer *bpe_trainer_train(BpeTrainer *tr, int vocab_size, int min_frequency, bool show_progress) {
    if (vocab_size < 256 + CHIRP_N_SPECIAL || vocab_size > TOK_MAX_IDS) {
        chirp_fail("vocab size must be between %d and %d, got %d", 256 + CHIRP_N_SPECIAL, TOK_MAX_IDS, vocab_size);
        return NULL;
    }
    if (tr->sym) {
        chirp_fail("a BpeTrainer can train only once (its counts are consumed)");
        return NULL;
    }
    if (min_frequency < 1) min_frequency = 1;
    Tokenizer *t = tok_new();
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        tok_add_token(t, b, &c, 1);
    }
    init_pairs(tr);
    int target = vocab_size - CHIRP_N_SPECIAL;
    Progress pr;
    progress_init(&pr, "tokenizer train: merges", "merges", target - 256);
    pr.quiet = pr.quiet || !show_progress;
    uint32_t step = 0;
    char *cat = NULL;
    size_t cat_cap = 0;
    while (t->n_ids < target && tr->heap_n > 0) {
        HeapEntry e = heap_pop(tr);
        int32_t p = pair_get(tr, e.left, e.right, false);
        if (p < 0 || tr->pairs[p].count != e.count) continue; /* stale */
        if (e.count < min_frequency) break;
        /* The new token's bytes; an equal token made by another pair (rare)
         * is reused, as HF does. */
        size_t la, lb;
        const char *ba = tokenizer_token_bytes(t, e.left, &la), *bb = tokenizer_token_bytes(t, e.right, &lb);
        if (la + lb > cat_cap) {
            cat_cap = (la + lb) * 2;
            cat = xrealloc(cat, cat_cap);
        }
        memcpy(cat, ba, la);
        memcpy(cat + la, bb, lb);
        int32_t z = tok_lookup(t, cat, la + lb);
        if (z < 0) {
            z = t->n_ids;
            tok_add_token(t, z, cat, la + lb);
        }
        tok_add_merge(t, e.left, e.right);
        if (z >= tr->cap_tok_len) {
            tr->cap_tok_len = 2 * z;
            tr->tok_len = xrealloc(tr->tok_len, sizeof(uint32_t) * (size_t)tr->cap_tok_len);
        }
        tr->tok_len[z] = (uint32_t)(la + lb);
        step++;
        tr->n_dirty = 0;
        merge_pair(tr, p, e.left, e.right, z, step);
        for (int32_t k = 0; k < tr->n_dirty; k++) {
            Pair *d = &tr->pairs[tr->dirty[k]];
            if (d->count > 0) heap_push(tr, (HeapEntry){d->count, d->left, d->right});
        }
        if ((t->n_merges & 63) == 0) progress_update(&pr, t->n_ids - 256, NULL);
    }
    free(cat);
    progress_finish(&pr, t->n_ids - 256, NULL);
    for (int k = 0; k < CHIRP_N_SPECIAL; k++) {
        const char *sp = chirp_special_tokens[k];
        if (tok_add_added(t, t->n_ids, sp, strlen(sp), true) != 0) goto fail;
    }
    if (tok_finish(t) != 0) goto fail;
    return t;
fail:
    tokenizer_free(t);
    return NULL;
}
