/* cmd_audit_index.c: `chirp audit index` and `chirp audit find`: the exact
 * index of the training tokens, and lookups in it. */
#include "audit/audit_data.h"
#include "audit/find.h"
#include "audit/suffix_index.h"
#include "cli/args.h"
#include "cli/audit_cmds.h"
#include "util/error.h"
#include "util/file.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int audit_cmd_index(int argc, char **argv) {
    const char *dataset = NULL, *data = NULL;
    ArgSpec specs[] = {{"dataset", ARG_STR, &dataset, 0, -1}, {"data", ARG_STR, &data, 0, -1}};
    int rc = args_parse("audit index", argc, argv, 1, specs, 2, NULL);
    if (rc != EXIT_OK) return rc;
    if (!dataset) return args_missing("audit index", "dataset");
    AuditData a;
    if (audit_data_open(&a, dataset, NULL, false) != 0) return cli_fail();
    char **shards = NULL;
    int n = audit_train_shards(a.db, data, &shards);
    audit_data_close(&a);
    if (n < 0) return cli_fail();
    char *dir = audit_index_dir(dataset);
    IndexBuildStats st;
    fprintf(stderr, "chirp audit index: sorting the suffixes of %d train shard(s)...\n", n);
    rc = suffix_index_build(dir, (const char *const *)shards, n, &st);
    path_list_free(shards);
    if (rc != 0) {
        free(dir);
        return cli_fail();
    }
    printf("index: %s: %llu tokens in %.2f s (%.1f M tokens/s), %.1f MB of buffers at the peak, %.1f MB on disk\n", dir,
           (unsigned long long)st.tokens, st.seconds, st.tokens / (st.seconds > 0 ? st.seconds : 1) / 1e6,
           st.peak_bytes / 1e6, st.tokens * (st.tokens >= ((uint64_t)1 << 32) ? 10.0 : 6.0) / 1e6);
    free(dir);
    return EXIT_OK;
}

/* "1 2 3" or "1,2,3" into ids. */
static int parse_ids(const char *s, int32_t **ids, size_t *n) {
    size_t cap = 16;
    *ids = xmalloc(cap * sizeof(int32_t));
    *n = 0;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        if (!*s) break;
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 0 || v > 0x7fffffff) return -1;
        if (*n == cap) *ids = xrealloc(*ids, (cap *= 2) * sizeof(int32_t));
        (*ids)[(*n)++] = (int32_t)v;
        s = end;
    }
    return *n > 0 ? 0 : -1;
}

static const char *col(sqlite3_stmt *st, int i) {
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "-";
}

int audit_cmd_find(int argc, char **argv) {
    const char *dataset = NULL, *text = NULL, *ids_s = NULL, *tokenizer = NULL;
    long max_hits = 20;
    bool as_json = false;
    ArgSpec specs[] = {{"dataset", ARG_STR, &dataset, 0, -1},    {"text", ARG_STR, &text, 0, -1},
                       {"ids", ARG_STR, &ids_s, 0, -1},          {"tokenizer", ARG_STR, &tokenizer, 0, -1},
                       {"max-hits", ARG_INT, &max_hits, 0, 1e6}, {"json", ARG_BOOL, &as_json, 0, -1}};
    int rc = args_parse("audit find", argc, argv, 1, specs, 6, NULL);
    if (rc != EXIT_OK) return rc;
    if (!dataset) return args_missing("audit find", "dataset");
    if ((text != NULL) == (ids_s != NULL)) return args_usage_error("audit find", "give --text or --ids");
    int32_t *ids = NULL;
    size_t nids = 0;
    if (ids_s && parse_ids(ids_s, &ids, &nids) != 0) {
        free(ids);
        return args_usage_error("audit find", "--ids wants token ids like '464 3290 318'");
    }
    AuditData a;
    if (audit_data_open(&a, dataset, tokenizer, true) != 0) {
        free(ids);
        return cli_fail();
    }
    FindResult r;
    rc = text ? audit_find_text(&a, text, (size_t)max_hits, &r) : audit_find_ids(&a, ids, nids, (size_t)max_hits, &r);
    free(ids);
    if (rc != 0) {
        audit_data_close(&a);
        return cli_fail();
    }
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(a.db,
                       "SELECT p.post_id, p.author, s.path, p.shard, p.token_offset FROM posts p JOIN sources s"
                       " ON s.id = p.source_id WHERE p.id = ?",
                       -1, &st, NULL);
    json_t *posts = json_array();
    if (!as_json)
        printf("%llu occurrence(s) of the %zu-token query in %llu training tokens (%.2f ms)\n",
               (unsigned long long)r.count, r.tokens, (unsigned long long)a.ix.n, r.ms);
    for (size_t i = 0; i < r.n_hits; i++) {
        if (r.hits[i].row < 0 || !st) continue;
        sqlite3_bind_int64(st, 1, r.hits[i].row);
        if (sqlite3_step(st) == SQLITE_ROW) {
            if (as_json)
                json_array_append_new(posts, json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I}", "row",
                                                       (json_int_t)r.hits[i].row, "post_id", col(st, 0), "author",
                                                       col(st, 1), "source", col(st, 2), "shard", col(st, 3),
                                                       "shard_offset", (json_int_t)sqlite3_column_int64(st, 4),
                                                       "stream_position", (json_int_t)r.hits[i].pos));
            else
                printf("  post %s by %s (%s; %s, post at token %lld, match at stream token %llu)\n", col(st, 0),
                       col(st, 1), col(st, 2), col(st, 3), sqlite3_column_int64(st, 4),
                       (unsigned long long)r.hits[i].pos);
        }
        sqlite3_reset(st);
    }
    if (!as_json && r.count > r.n_hits) printf("  ... and %llu more\n", (unsigned long long)(r.count - r.n_hits));
    if (as_json) {
        json_t *o = json_pack("{s:I, s:I, s:o, s:{s:I, s:I, s:I, s:s}, s:f}", "count", (json_int_t)r.count, "tokens",
                              (json_int_t)r.tokens, "posts", posts, "longest", "tokens", (json_int_t)r.longest_len,
                              "of", (json_int_t)r.longest_of, "count", (json_int_t)r.longest_count, "text",
                              r.longest_text ? r.longest_text : "", "ms", r.ms);
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        json_decref(posts);
        if (r.longest_len > 0)
            printf("longest part found: %zu of %zu tokens, %llu occurrence(s): \"%s\"\n", r.longest_len, r.longest_of,
                   (unsigned long long)r.longest_count, r.longest_text);
        else printf("longest part found: none (not even one token)\n");
    }
    sqlite3_finalize(st);
    find_result_free(&r);
    audit_data_close(&a);
    return EXIT_OK;
}
