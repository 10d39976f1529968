/* optout_index.c: the opt-out check through the exact index (see
 * optout_index.h). */
#include "audit/optout_index.h"

#include "data/catalog.h"
#include "data/optout.h"
#include "util/error.h"
#include "util/timer.h"

#include <stdlib.h>
#include <string.h>

static const char *post_name(sqlite3 *db, int64_t row, char *buf, size_t size) {
    sqlite3_stmt *st = catalog_prepare(db, "SELECT post_id FROM posts WHERE id = ?");
    snprintf(buf, size, "row:%lld", (long long)row);
    if (!st) return buf;
    sqlite3_bind_int64(st, 1, row);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return buf;
}

/* Trained posts whose tokens are exactly ids (then <|endoftext|>). */
static long whole_hits(const AuditData *a, int32_t *ids, long n, int32_t eot, const char *who, FILE *out) {
    ids[n] = eot;
    uint64_t lo, hi;
    suffix_index_range(&a->ix, ids, (size_t)n + 1, &lo, &hi);
    long hits = 0;
    for (uint64_t r = lo; r < hi; r++) {
        uint64_t pos = suffix_index_pos(&a->ix, r);
        const PostSpan *s = audit_post_at(a, pos);
        if (!s || s->start != pos || s->count != (uint32_t)n) continue;
        char name[128];
        fprintf(out, "HIT: opted-out post %s has the same text as trained post %s\n", who,
                post_name(a->db, s->row, name, sizeof name));
        hits++;
    }
    return hits;
}

/* Occurrences of one window looked at, so that a text copied thousands of
 * times costs no more than a bounded scan. */
#define NEAR_SCAN 1000

/* The first window of ids[1..n-1) that spans OPTOUT_WINDOW_CHARS and is in
 * the training stream: 1 (reported) or 0. */
static int near_hit(const AuditData *a, const int32_t *ids, long n, const char *who, long *windows, FILE *out) {
    long *chars = xmalloc((size_t)(n + 1) * sizeof(long)); /* chars[i]: characters in ids[0..i) */
    chars[0] = 0;
    for (long i = 0; i < n; i++) {
        char buf[256];
        long len = tokenizer_decode(a->tok, ids + i, 1, buf, sizeof buf);
        long c = 0;
        for (long k = 0; k < len && k < (long)sizeof buf; k++) c += ((unsigned char)buf[k] & 0xC0) != 0x80;
        chars[i + 1] = chars[i] + c;
    }
    int found = 0;
    long j = 1;
    for (long i = 1; i < n - 1 && !found; i++) {
        if (j < i + 1) j = i + 1;
        while (j < n - 1 && chars[j] - chars[i] < OPTOUT_WINDOW_CHARS) j++;
        if (chars[j] - chars[i] < OPTOUT_WINDOW_CHARS) break;
        (*windows)++;
        uint64_t lo, hi;
        if (suffix_index_range(&a->ix, ids + i, (size_t)(j - i), &lo, &hi) == 0) continue;
        const PostSpan *s = NULL;
        uint64_t others = 0;
        for (uint64_t r = lo; r < hi && r < lo + NEAR_SCAN; r++) {
            uint64_t pos = suffix_index_pos(&a->ix, r);
            const PostSpan *p = audit_post_at(a, pos);
            if (p && p->start + (uint64_t)i == pos && p->count == (uint32_t)n) continue; /* a whole copy: a HIT */
            if (!s) s = p;
            others++;
        }
        if (others == 0) continue;
        long need = tokenizer_decode(a->tok, ids + i, (size_t)(j - i), NULL, 0);
        char *text = xmalloc((size_t)(need > 0 ? need : 0) + 1);
        tokenizer_decode(a->tok, ids + i, (size_t)(j - i), text, (size_t)(need > 0 ? need : 0));
        text[need > 0 ? need : 0] = '\0';
        char name[128];
        fprintf(out,
                "NEAR: %llu trained occurrence(s) outside whole copies of a %ld-character stretch of opted-out post "
                "%s, first in "
                "post %s: \"%s\"\n",
                (unsigned long long)others, chars[j] - chars[i], who,
                s ? post_name(a->db, s->row, name, sizeof name) : "?", text);
        free(text);
        found = 1;
    }
    free(chars);
    return found;
}

int audit_optout_index(const AuditData *a, const char *optout_file, FILE *out, OptoutIndexReport *rep) {
    memset(rep, 0, sizeof *rep);
    double t0 = time_now();
    OptOut *o = optout_new();
    if (optout_load(o, optout_file) != 0) {
        optout_free(o);
        return -1;
    }
    int32_t eot = tokenizer_eot_id(a->tok);
    sqlite3_stmt *st = catalog_prepare(a->db, "SELECT id, post_id, author, handle, text FROM posts WHERE text IS NOT "
                                              "NULL");
    int rc = st ? 0 : -1;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *pid = (const char *)sqlite3_column_text(st, 1);
        if (!optout_match(o, pid, (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3)))
            continue;
        const char *text = (const char *)sqlite3_column_text(st, 4);
        size_t len = (size_t)sqlite3_column_bytes(st, 4);
        char who[128];
        snprintf(who, sizeof who, "%s", pid ? pid : "-");
        if (!pid) snprintf(who, sizeof who, "row:%lld", (long long)sqlite3_column_int64(st, 0));
        int32_t *ids = xmalloc((len + 2) * sizeof(int32_t));
        long n = tokenizer_encode(a->tok, text, len, false, ids, len + 1);
        if (n < 0) {
            free(ids);
            rc = -1;
            break;
        }
        rep->posts++;
        if (n > 0) rep->exact_hits += whole_hits(a, ids, n, eot, who, out);
        long before = rep->windows;
        rep->near_hits += near_hit(a, ids, n, who, &rep->windows, out);
        rep->searched += rep->windows > before;
        free(ids);
    }
    sqlite3_finalize(st);
    optout_free(o);
    rep->ms = (time_now() - t0) * 1000.0;
    return rc;
}
