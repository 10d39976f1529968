/* provenance.c: the shards' provenance summary (see provenance.h). */
#include "data/provenance.h"

#include "data/catalog.h"
#include "util/error.h"
#include "util/file.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

/* Rows of (text, count[, count]) from sql as a JSON value built by add. */
static int each_row(sqlite3 *db, const char *sql, void (*add)(json_t *into, sqlite3_stmt *st), json_t *into) {
    sqlite3_stmt *st = catalog_prepare(db, sql);
    if (!st) return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) add(into, st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : catalog_fail(db, "provenance summary");
}

static void add_source(json_t *arr, sqlite3_stmt *st) {
    json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I}", "path", (const char *)sqlite3_column_text(st, 0),
                                         "format", (const char *)sqlite3_column_text(st, 1), "read",
                                         (json_int_t)sqlite3_column_int64(st, 2), "kept",
                                         (json_int_t)sqlite3_column_int64(st, 3)));
}

static void add_drop(json_t *obj, sqlite3_stmt *st) {
    const char *d = (const char *)sqlite3_column_text(st, 0);
    if (strncmp(d, "dropped:", 8) == 0) d += 8;
    json_object_set_new(obj, d, json_integer(sqlite3_column_int64(st, 1)));
}

static void add_split(json_t *obj, sqlite3_stmt *st) {
    json_object_set_new(obj, (const char *)sqlite3_column_text(st, 0),
                        json_pack("{s:I, s:I}", "posts", (json_int_t)sqlite3_column_int64(st, 1), "tokens",
                                  (json_int_t)sqlite3_column_int64(st, 2)));
}

int provenance_write(sqlite3 *db, const char *dataset, const char *out_dir) {
    json_t *sources = json_array(), *dropped = json_object(), *splits = json_object();
    int rc = each_row(db,
                      "SELECT s.path, s.format, count(p.id), coalesce(sum(p.decision = 'kept'), 0) FROM sources s"
                      " LEFT JOIN posts p ON p.source_id = s.id GROUP BY s.id ORDER BY s.id",
                      add_source, sources);
    if (rc == 0)
        rc = each_row(
            db, "SELECT decision, count(*) FROM posts WHERE decision != 'kept' GROUP BY decision ORDER BY decision",
            add_drop, dropped);
    if (rc == 0)
        rc = each_row(db,
                      "SELECT split, count(*), coalesce(sum(token_count), 0) FROM posts WHERE decision = 'kept'"
                      " AND split IS NOT NULL GROUP BY split ORDER BY split",
                      add_split, splits);
    char *entries = catalog_get_meta(db, "optout_entries");
    char *abs = realpath(dataset, NULL);
    json_t *o =
        json_pack("{s:s, s:I, s:I, s:o, s:I, s:I, s:o, s:o}", "dataset", abs ? abs : dataset, "posts_read",
                  (json_int_t)catalog_count(db, "SELECT count(*) FROM posts"), "posts_kept",
                  (json_int_t)catalog_count(db, "SELECT count(*) FROM posts WHERE decision = 'kept'"), "dropped",
                  dropped, "optout_entries", (json_int_t)(entries ? atoll(entries) : 0), "optout_removed",
                  (json_int_t)catalog_count(db, "SELECT count(*) FROM posts WHERE decision LIKE 'dropped:opt%'"),
                  "sources", sources, "splits", splits);
    free(entries);
    free(abs);
    if (rc == 0) {
        char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        char *path = path_join(out_dir, "provenance.json");
        size_t n = strlen(text);
        text = xrealloc(text, n + 2);
        text[n] = '\n';
        text[n + 1] = '\0';
        rc = file_write_atomic(path, text, n + 1);
        free(path);
        free(text);
    }
    json_decref(o);
    return rc;
}

json_t *provenance_for_shard(const char *shard_path) {
    char *copy = xstrdup(shard_path);
    char *path = path_join(dirname(copy), "provenance.json");
    json_t *o = path_exists(path) ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    free(copy);
    return json_is_object(o) ? o : (json_decref(o), NULL);
}
