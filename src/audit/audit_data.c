/* audit_data.c: opening a dataset for the audit commands (see
 * audit_data.h). */
#include "audit/audit_data.h"

#include "data/catalog.h"
#include "util/error.h"
#include "util/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *audit_index_dir(const char *dataset) { return path_join(dataset, "audit_index"); }

int audit_train_shards(sqlite3 *db, const char *data_dir, char ***paths) {
    char *dir = data_dir ? xstrdup(data_dir) : catalog_get_meta(db, "data_dir");
    if (!dir) return chirp_fail("the catalog has no shard folder (run chirp prepare, or pass --data)");
    char *pattern = path_join(dir, "train_*.bin");
    int n = path_glob(pattern, paths);
    free(pattern);
    free(dir);
    return n;
}

static int cmp_span(const void *a, const void *b) {
    uint64_t x = ((const PostSpan *)a)->start, y = ((const PostSpan *)b)->start;
    return x < y ? -1 : x > y;
}

static int load_spans(AuditData *a) {
    sqlite3_stmt *st = catalog_prepare(a->db, "SELECT id, shard, token_offset, token_count FROM posts"
                                              " WHERE shard IS NOT NULL AND shard LIKE 'train%'");
    if (!st) return -1;
    size_t cap = 1024;
    a->spans = xmalloc(cap * sizeof(PostSpan));
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *shard = (const char *)sqlite3_column_text(st, 1);
        int s = 0;
        while (s < a->ix.nshards && strcmp(a->ix.shards[s].name, shard) != 0) s++;
        if (s == a->ix.nshards) continue; /* a shard the index does not hold */
        if (a->nspans == cap) a->spans = xrealloc(a->spans, (cap *= 2) * sizeof(PostSpan));
        a->spans[a->nspans++] = (PostSpan){a->ix.shards[s].start + (uint64_t)sqlite3_column_int64(st, 2),
                                           (uint32_t)sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 0)};
    }
    sqlite3_finalize(st);
    qsort(a->spans, a->nspans, sizeof(PostSpan), cmp_span);
    return 0;
}

int audit_data_open(AuditData *a, const char *dataset, const char *tokenizer, bool need_index) {
    memset(a, 0, sizeof *a);
    a->db = catalog_open(dataset, false);
    if (!a->db) return -1;
    char *tpath = tokenizer ? xstrdup(tokenizer) : catalog_get_meta(a->db, "tokenizer");
    if (!tpath) {
        audit_data_close(a);
        return chirp_fail("%s: the catalog does not say which tokenizer prepare used; pass --tokenizer", dataset);
    }
    a->tok = tokenizer_load(tpath);
    free(tpath);
    if (!a->tok) {
        audit_data_close(a);
        return -1;
    }
    if (need_index) {
        char *dir = audit_index_dir(dataset);
        int rc = suffix_index_open(&a->ix, dir);
        free(dir);
        if (rc != 0 || load_spans(a) != 0) {
            audit_data_close(a);
            return -1;
        }
        a->have_index = true;
    }
    return 0;
}

void audit_data_close(AuditData *a) {
    if (a->have_index) suffix_index_close(&a->ix);
    if (a->tok) tokenizer_free(a->tok);
    if (a->db) sqlite3_close(a->db);
    free(a->spans);
    memset(a, 0, sizeof *a);
}

const PostSpan *audit_post_at(const AuditData *a, uint64_t pos) {
    size_t lo = 0, hi = a->nspans;
    while (lo < hi) { /* last span starting at or before pos */
        size_t mid = lo + (hi - lo) / 2;
        if (a->spans[mid].start <= pos) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return NULL;
    const PostSpan *s = &a->spans[lo - 1];
    return pos <= s->start + s->count ? s : NULL;
}
