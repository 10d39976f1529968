/* catalog_audit.c: see catalog_audit.h. The shard check decodes tokens back to text, so it
 * tests what training will actually read, not what the catalog says. */
#include "audit/catalog_audit.h"

#include "data/catalog.h"
#include "data/clean.h"
#include "data/optout.h"
#include "data/shards.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/file.h"
#include "util/hash.h"

#include <stdlib.h>
#include <string.h>

#define ROW_SQL                                                                                           \
    "SELECT p.id, s.path, p.record, p.line, p.post_id, p.author, p.decision, p.detail, p.split, p.shard," \
    " p.token_offset, p.token_count, p.text_hash FROM posts p JOIN sources s ON s.id = p.source_id "

static const char *col(sqlite3_stmt *st, int i) {
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "-";
}

static long print_rows(sqlite3_stmt *st, FILE *out) {
    long n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        n++;
        fprintf(out, "row %lld: post %s by %s, %s record %lld", sqlite3_column_int64(st, 0), col(st, 4), col(st, 5),
                col(st, 1), sqlite3_column_int64(st, 2));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) fprintf(out, " (line %lld)", sqlite3_column_int64(st, 3));
        fprintf(out, "\n  decision: %s", col(st, 6));
        if (sqlite3_column_type(st, 7) != SQLITE_NULL) fprintf(out, " (%s)", col(st, 7));
        fprintf(out, "\n  text hash: %s\n", col(st, 12));
        if (sqlite3_column_type(st, 8) != SQLITE_NULL) fprintf(out, "  split: %s\n", col(st, 8));
        if (sqlite3_column_type(st, 9) != SQLITE_NULL)
            fprintf(out, "  shard: %s, token offset %lld, %lld tokens\n", col(st, 9), sqlite3_column_int64(st, 10),
                    sqlite3_column_int64(st, 11));
        else if (strcmp(col(st, 6), "kept") == 0) fprintf(out, "  shard: none yet (run chirp prepare)\n");
    }
    return n;
}

long audit_post_id(sqlite3 *db, const char *post_id, FILE *out) {
    sqlite3_stmt *st = catalog_prepare(db, ROW_SQL "WHERE p.post_id = ? ORDER BY p.id");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, post_id, -1, SQLITE_STATIC);
    long n = print_rows(st, out);
    sqlite3_finalize(st);
    if (n == 0) fprintf(out, "post %s: not in the dataset\n", post_id);
    return n;
}

long audit_text(sqlite3 *db, const char *text, FILE *out) {
    CleanOptions co = {CLEAN_KEEP, CLEAN_KEEP};
    char *u = catalog_get_meta(db, "urls"), *m = catalog_get_meta(db, "mentions");
    if (u && clean_mode_parse(u) >= 0) co.urls = (CleanMode)clean_mode_parse(u);
    if (m && clean_mode_parse(m) >= 0) co.mentions = (CleanMode)clean_mode_parse(m);
    free(u);
    free(m);
    Buf clean = {0}, scratch = {0};
    if (clean_text(text, strlen(text), &co, &clean, &scratch) != 0) {
        buf_free(&scratch);
        return -1;
    }
    char hex[17];
    hash_hex(hash64(clean.data, clean.len, 0), hex);
    buf_free(&clean);
    buf_free(&scratch);
    sqlite3_stmt *st = catalog_prepare(db, ROW_SQL "WHERE p.text_hash = ? ORDER BY p.id");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
    long n = print_rows(st, out);
    sqlite3_finalize(st);
    if (n == 0) fprintf(out, "text (hash %s): not in the dataset\n", hex);
    return n;
}

typedef struct Mark {
    uint64_t hash;
    long long row;
    char post[32];
} Mark;

static int cmp_mark(const void *a, const void *b) {
    uint64_t x = ((const Mark *)a)->hash, y = ((const Mark *)b)->hash;
    return x < y ? -1 : x > y;
}

static const Mark *find_mark(const Mark *m, long n, uint64_t h) {
    Mark key = {.hash = h};
    if (n == 0) return NULL;
    return bsearch(&key, m, (size_t)n, sizeof *m, cmp_mark);
}

/* Decodes each document of one shard and checks its hash. */
static int check_shard(const char *path, const char *name, const Tokenizer *tok, const Mark *marks, long nmarks,
                       FILE *out, OptoutReport *rep) {
    size_t n;
    uint32_t *tokens = shard_read(path, &n, NULL);
    if (!tokens) return -1;
    int32_t eot = tokenizer_eot_id(tok);
    int32_t *ids = xmalloc((n ? n : 1) * sizeof *ids);
    Buf text = {0};
    int rc = 0;
    size_t start = 0;
    for (size_t i = 0; i <= n && rc == 0; i++) {
        if (i < n && tokens[i] != (uint32_t)eot) {
            ids[i - start] = (int32_t)tokens[i];
            continue;
        }
        if (i == n && start == n) break;
        size_t len = i - start;
        long need = tokenizer_decode(tok, ids, len, text.data, text.cap);
        if (need >= 0 && (size_t)need >= text.cap) {
            buf_grow(&text, (size_t)need);
            need = tokenizer_decode(tok, ids, len, text.data, text.cap);
        }
        if (need < 0) {
            rc = chirp_fail("%s: token offset %zu: cannot decode (token id out of range for this tokenizer)", path,
                            start);
            break;
        }
        rep->documents++;
        const Mark *hit = find_mark(marks, nmarks, hash64(text.data, (size_t)need, 0));
        if (hit) {
            rep->shard_hits++;
            fprintf(out, "HIT: %s token offset %zu holds the text of opted-out post %s (catalog row %lld)\n", name,
                    start, hit->post, hit->row);
        }
        start = i + 1;
    }
    rep->tokens += n;
    rep->shards++;
    free(ids);
    buf_free(&text);
    free(tokens);
    return rc;
}

int audit_optout(sqlite3 *db, const char *optout_file, const char *tokenizer, const char *data_dir, FILE *out,
                 OptoutReport *rep) {
    memset(rep, 0, sizeof *rep);
    OptOut *o = optout_new();
    if (optout_load(o, optout_file) != 0) {
        optout_free(o);
        return -1;
    }
    rep->entries = optout_count(o);
    char *tok_path = tokenizer ? xstrdup(tokenizer) : catalog_get_meta(db, "tokenizer");
    char *dir = data_dir ? xstrdup(data_dir) : catalog_get_meta(db, "data_dir");
    int rc = 0;
    if (!tok_path || !dir)
        rc = chirp_fail("the dataset has no shards yet (run chirp prepare, or give --tokenizer "
                        "and --data)");
    /* 1. The catalog. */
    Mark *marks = NULL;
    long nmarks = 0, cap = 0;
    sqlite3_stmt *st = rc ? NULL
                          : catalog_prepare(db, "SELECT id, post_id, author, handle, text_hash, decision, shard"
                                                " FROM posts");
    if (!st) rc = -1;
    while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        const char *pid = (const char *)sqlite3_column_text(st, 1);
        if (!optout_match(o, pid, (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3)))
            continue;
        rep->matched_posts++;
        long long row = sqlite3_column_int64(st, 0);
        const char *decision = (const char *)sqlite3_column_text(st, 5);
        if (strcmp(decision, "kept") == 0 || sqlite3_column_type(st, 6) != SQLITE_NULL) {
            rep->catalog_hits++;
            fprintf(out, "HIT: catalog row %lld (post %s) is %s%s%s\n", row, pid ? pid : "-", decision,
                    sqlite3_column_type(st, 6) != SQLITE_NULL ? " in shard " : "",
                    sqlite3_column_type(st, 6) != SQLITE_NULL ? (const char *)sqlite3_column_text(st, 6) : "");
        }
        const char *hex = (const char *)sqlite3_column_text(st, 4);
        if (!hex) continue;
        if (nmarks == cap) {
            cap = cap ? 2 * cap : 256;
            marks = xrealloc(marks, (size_t)cap * sizeof *marks);
        }
        Mark *m = &marks[nmarks++];
        m->hash = strtoull(hex, NULL, 16);
        m->row = row;
        snprintf(m->post, sizeof m->post, "%s", pid ? pid : "-");
    }
    sqlite3_finalize(st);
    if (nmarks > 0) qsort(marks, (size_t)nmarks, sizeof *marks, cmp_mark);
    for (long i = 0; i < nmarks; i++) rep->texts += i == 0 || marks[i].hash != marks[i - 1].hash;
    rep->manifest_posts = rc ? 0 : (long)catalog_count(db, "SELECT count(*) FROM posts WHERE shard IS NOT NULL");
    /* 2. The shards, decoded. */
    Tokenizer *tok = rc ? NULL : tokenizer_load(tok_path);
    if (!rc && !tok) rc = -1;
    const char *splits[2] = {"train", "val"};
    for (int s = 0; s < 2 && rc == 0; s++) {
        char pattern[64];
        snprintf(pattern, sizeof pattern, "%s_*.bin", splits[s]);
        char *glob = path_join(dir, pattern);
        char **list = NULL;
        int n = path_glob(glob, &list);
        free(glob);
        if (n < 0) {
            chirp_error_clear(); /* a split may have no shards */
            continue;
        }
        for (int i = 0; i < n && rc == 0; i++) {
            const char *slash = strrchr(list[i], '/');
            rc = check_shard(list[i], slash ? slash + 1 : list[i], tok, marks, nmarks, out, rep);
        }
        path_list_free(list);
    }
    if (rc == 0 && rep->shards == 0) rc = chirp_fail("%s: no shards found to check", dir);
    if (rc == 0 && rep->documents != rep->manifest_posts)
        fprintf(out,
                "note: shards hold %ld documents but the catalog manifest lists %ld posts (shards from "
                "another prepare run?)\n",
                rep->documents, rep->manifest_posts);
    tokenizer_free(tok);
    free(marks);
    free(tok_path);
    free(dir);
    optout_free(o);
    return rc;
}
