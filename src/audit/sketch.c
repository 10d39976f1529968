/* sketch.c: the shippable membership sketch (see sketch.h). */
#include "audit/sketch.h"

#include "data/catalog.h"
#include "text/utf8.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/file.h"
#include "util/hash.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define MAGIC "CHIRPSKT"
#define VERSION 1
/* Fixed seeds, part of the format (docs/audit.md). */
#define SEED_A 0x5eed0001ULL
#define SEED_B 0x5eed0002ULL
#define SEED_POST 0x5eed0003ULL

char *sketch_normalize(const char *text, size_t len, size_t *chars) {
    utf8proc_uint8_t *nf = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &nf,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
    const char *src = n >= 0 ? (const char *)nf : text; /* invalid UTF-8: the bytes as they are */
    size_t slen = n >= 0 ? (size_t)n : len;
    Buf out = {0};
    size_t count = 0;
    bool pending_space = false;
    for (size_t i = 0; i < slen;) {
        int w;
        int32_t cp = utf8_decode((const unsigned char *)src + i, slen - i, &w);
        bool space = cp >= 0 && (unicode_class(cp) == CC_SPACE);
        if (space) {
            pending_space = out.len > 0;
        } else {
            if (pending_space) {
                buf_putc(&out, ' ');
                count++;
                pending_space = false;
            }
            buf_push(&out, src + i, (size_t)w);
            count++;
        }
        i += (size_t)w;
    }
    free(nf);
    buf_terminate(&out);
    if (chars) *chars = count;
    return out.data ? out.data : xstrdup("");
}

/* Byte offsets of the code points of s (n + 1 entries, the last = len). */
static size_t *char_offsets(const char *s, size_t len, size_t n) {
    size_t *off = xmalloc((n + 1) * sizeof(size_t));
    size_t i = 0, c = 0;
    while (i < len && c < n) {
        int w;
        utf8_decode((const unsigned char *)s + i, len - i, &w);
        off[c++] = i;
        i += (size_t)w;
    }
    off[c] = i;
    return off;
}

static void window_hashes(const char *p, size_t len, uint64_t *h1, uint64_t *h2) {
    *h1 = hash64(p, len, SEED_A);
    *h2 = hash64(p, len, SEED_B) | 1; /* odd: the k probes never coincide */
}

static void bloom_add(Sketch *s, const char *p, size_t len) {
    uint64_t h1, h2;
    window_hashes(p, len, &h1, &h2);
    for (uint32_t i = 0; i < s->k; i++) {
        uint64_t bit = (h1 + i * h2) % s->m;
        s->bits[bit / 8] |= (uint8_t)(1u << (bit % 8));
    }
}

static bool bloom_has(const Sketch *s, const char *p, size_t len) {
    uint64_t h1, h2;
    window_hashes(p, len, &h1, &h2);
    for (uint32_t i = 0; i < s->k; i++) {
        uint64_t bit = (h1 + i * h2) % s->m;
        if (!(s->bits[bit / 8] & (1u << (bit % 8)))) return false;
    }
    return true;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#define TRAINED_SQL "FROM posts WHERE decision = 'kept' AND split = 'train' AND shard IS NOT NULL"

int sketch_build(Sketch *s, sqlite3 *db, double fpr) {
    memset(s, 0, sizeof *s);
    if (!(fpr > 0 && fpr < 1)) return chirp_fail("the false-positive rate must be between 0 and 1, got %g", fpr);
    /* Pass 1: count windows, to size the filter. */
    sqlite3_stmt *st = catalog_prepare(db, "SELECT text " TRAINED_SQL);
    if (!st) return -1;
    uint64_t windows = 0, posts = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t chars;
        char *t =
            sketch_normalize((const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0), &chars);
        windows += chars / SKETCH_WINDOW;
        posts++;
        free(t);
    }
    sqlite3_reset(st);
    double ln2 = log(2.0);
    double m = windows > 0 ? ceil(-(double)windows * log(fpr) / (ln2 * ln2)) : 64;
    s->m = (uint64_t)(m < 64 ? 64 : m);
    s->k = windows > 0 ? (uint32_t)fmax(1.0, round((double)s->m / (double)windows * ln2)) : 1;
    s->target_fpr = fpr;
    s->bits = xcalloc((size_t)((s->m + 7) / 8), 1);
    s->prints = xmalloc((size_t)(posts + 1) * sizeof(uint64_t));
    /* Pass 2: fill it. */
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t chars;
        char *t =
            sketch_normalize((const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0), &chars);
        size_t len = strlen(t);
        size_t *off = char_offsets(t, len, chars);
        for (size_t w = 0; w + SKETCH_WINDOW <= chars; w += SKETCH_WINDOW) {
            bloom_add(s, t + off[w], off[w + SKETCH_WINDOW] - off[w]);
            s->windows++;
        }
        s->prints[s->posts++] = hash64(t, len, SEED_POST);
        free(off);
        free(t);
    }
    sqlite3_finalize(st);
    qsort(s->prints, (size_t)s->posts, sizeof(uint64_t), cmp_u64);
    return 0;
}

double sketch_fpr(const Sketch *s) {
    if (s->windows == 0) return 0;
    return pow(1.0 - exp(-(double)s->k * (double)s->windows / (double)s->m), (double)s->k);
}

void sketch_query(const Sketch *s, const char *text, MemberResult *r) {
    memset(r, 0, sizeof *r);
    size_t chars;
    char *t = sketch_normalize(text, strlen(text), &chars);
    size_t len = strlen(t);
    double fpr = sketch_fpr(s);
    r->fpr_window = fpr;
    uint64_t fp = hash64(t, len, SEED_POST);
    if (s->posts > 0 && bsearch(&fp, s->prints, (size_t)s->posts, sizeof(uint64_t), cmp_u64)) {
        r->exact = 1;
        r->answer = MEMBER_YES;
        r->fpr_answer = (double)s->posts / 18446744073709551616.0;
    }
    size_t *off = char_offsets(t, len, chars);
    /* The trained post's grid is unknown inside a longer text: every one
     * of the 50 alignments is tried, the best counts. */
    for (size_t a = 0; a < SKETCH_WINDOW && a + SKETCH_WINDOW <= chars; a++) {
        int n = 0, k = 0;
        for (size_t w = a; w + SKETCH_WINDOW <= chars; w += SKETCH_WINDOW, n++)
            k += bloom_has(s, t + off[w], off[w + SKETCH_WINDOW] - off[w]);
        if (k > r->found || (k == r->found && n > r->windows)) {
            r->found = k;
            r->windows = n;
        }
    }
    if (!r->exact) {
        if (r->windows > 0 && r->found == r->windows) {
            r->answer = MEMBER_YES;
            r->fpr_answer = fmin(1.0, SKETCH_WINDOW * pow(fpr, r->windows));
        } else if (r->found > 0) {
            r->answer = MEMBER_PARTLY;
            r->fpr_answer = fmin(1.0, SKETCH_WINDOW * (double)r->windows * fpr);
        }
    }
    free(off);
    free(t);
}

/* ---- file ---- */

typedef struct Header {
    char magic[8];
    uint32_t version, window, stride, k;
    uint64_t m, windows, posts;
    double target_fpr;
} Header;

int sketch_save(const Sketch *s, const char *path) {
    Header h = {.version = VERSION,
                .window = SKETCH_WINDOW,
                .stride = SKETCH_WINDOW,
                .k = s->k,
                .m = s->m,
                .windows = s->windows,
                .posts = s->posts,
                .target_fpr = s->target_fpr};
    memcpy(h.magic, MAGIC, 8);
    AtomicFile af;
    if (file_begin(&af, path) != 0) return -1;
    size_t nb = (size_t)((s->m + 7) / 8);
    if (fwrite(&h, sizeof h, 1, af.fp) != 1 || fwrite(s->bits, 1, nb, af.fp) != nb ||
        fwrite(s->prints, sizeof(uint64_t), (size_t)s->posts, af.fp) != (size_t)s->posts) {
        chirp_fail_errno("%s", path);
        file_abort(&af);
        return -1;
    }
    return file_commit(&af);
}

int sketch_load(Sketch *s, const char *path) {
    memset(s, 0, sizeof *s);
    size_t len;
    char *data = file_read_all(path, &len);
    if (!data) return -1;
    Header h;
    int rc = 0;
    if (len < sizeof h) {
        rc = chirp_fail("%s: not a chirp membership sketch (too short)", path);
    } else {
        memcpy(&h, data, sizeof h);
        /* Sizes are checked against the file before any arithmetic on them can wrap. */
        size_t nb = h.m <= (uint64_t)len * 8 ? (size_t)((h.m + 7) / 8) : 0;
        if (memcmp(h.magic, MAGIC, 8) != 0 || h.version != VERSION || h.window != SKETCH_WINDOW || h.m == 0 ||
            h.k == 0 || h.k > 64)
            rc = chirp_fail("%s: not a chirp membership sketch (version %u)", path, h.version);
        else if (h.m > (uint64_t)len * 8 || h.posts > len / sizeof(uint64_t))
            rc = chirp_fail("%s: the sketch's header claims more than the file holds", path);
        else if (len != sizeof h + nb + (size_t)h.posts * sizeof(uint64_t))
            rc = chirp_fail("%s: the sketch is %zu bytes, its header says %zu", path, len,
                            sizeof h + nb + (size_t)h.posts * sizeof(uint64_t));
        else {
            s->m = h.m;
            s->k = h.k;
            s->windows = h.windows;
            s->posts = h.posts;
            s->target_fpr = h.target_fpr;
            s->bits = xmalloc(nb + 1);
            memcpy(s->bits, data + sizeof h, nb);
            s->prints = xmalloc((size_t)h.posts * sizeof(uint64_t) + 1);
            memcpy(s->prints, data + sizeof h + nb, (size_t)h.posts * sizeof(uint64_t));
        }
    }
    free(data);
    return rc;
}

void sketch_free(Sketch *s) {
    free(s->bits);
    free(s->prints);
    memset(s, 0, sizeof *s);
}
