/* cmd_catalog.c: `chirp catalog stats DATASET`. */
#include "cli/args.h"
#include "cli/commands.h"
#include "data/catalog.h"

#include <stdio.h>
#include <string.h>

static const char help[] = "usage: chirp catalog stats DATASET\n"
                           "\n"
                           "Prints what a dataset's catalog (DATASET/catalog.sqlite) holds: posts per source, per\n"
                           "decision and per split, and tokens per split once `chirp prepare` has run.\n"
                           "The catalog is plain SQLite: see docs/data.md for its schema and example queries.\n";

static int print_query(sqlite3 *db, const char *title, const char *sql) {
    sqlite3_stmt *st = catalog_prepare(db, sql);
    if (!st) return -1;
    printf("%s\n", title);
    int cols = sqlite3_column_count(st);
    /* Numbers first, so long source paths do not push them out of line. */
    while (sqlite3_step(st) == SQLITE_ROW) {
        printf(" ");
        for (int c = 1; c < cols; c++) printf(" %10lld", sqlite3_column_int64(st, c));
        printf("  %s\n", sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "(none)");
    }
    sqlite3_finalize(st);
    return 0;
}

static int run(int argc, char **argv) {
    StrList pos = {0};
    int rc = args_parse("catalog", argc, argv, 1, NULL, 0, &pos);
    if (rc == EXIT_OK && (pos.count != 2 || strcmp(pos.items[0], "stats") != 0))
        rc = args_usage_error("catalog", "expected 'stats DATASET'");
    if (rc != EXIT_OK) {
        strlist_free(&pos);
        return rc;
    }
    const char *dataset = pos.items[1];
    sqlite3 *db = catalog_open(dataset, false);
    strlist_free(&pos);
    if (!db) return cli_fail();
    printf("dataset %s: %lld posts, %lld kept\n", dataset, catalog_count(db, "SELECT count(*) FROM posts"),
           catalog_count(db, "SELECT count(*) FROM posts WHERE decision='kept'"));
    rc = print_query(db, "per source (posts, kept):",
                     "SELECT s.path || ' [' || s.format || ']', count(p.id), sum(p.decision = 'kept')"
                     " FROM sources s LEFT JOIN posts p ON p.source_id = s.id GROUP BY s.id ORDER BY s.id");
    if (rc == 0)
        rc = print_query(
            db, "per decision:", "SELECT decision, count(*) FROM posts GROUP BY decision ORDER BY count(*) DESC");
    if (rc == 0)
        rc = print_query(db, "per split (kept posts, tokens):",
                         "SELECT split, count(*), coalesce(sum(token_count), 0) FROM posts"
                         " WHERE decision='kept' GROUP BY split ORDER BY split");
    sqlite3_close(db);
    return rc == 0 ? EXIT_OK : cli_fail();
}

const Command cmd_catalog = {
    .name = "catalog",
    .summary = "show what a dataset's catalog holds",
    .help = help,
    .run = run,
};
