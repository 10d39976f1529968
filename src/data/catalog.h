/* catalog.h: DATASET/catalog.sqlite, the provenance record of a dataset.
 *
 * Schema (version 1, PRAGMA user_version):
 *   meta(key TEXT PRIMARY KEY, value TEXT)      ingest options, prepare info
 *   sources(id INTEGER PRIMARY KEY, path, format, records)
 *   posts(id INTEGER PRIMARY KEY,               one row per input record
 *         source_id, record, line, post_id, author, handle, created_at,
 *         reply_to, text_hash,                  16 hex digits of hash64(clean text)
 *         decision,                             'kept' or 'dropped:<reason>'
 *         detail,                               why (malformed), or of which row (duplicates)
 *         split,                                'train'/'val' for kept posts
 *         text,                                 cleaned text of kept posts
 *         shard, token_offset, token_count)     filled by prepare (the manifest)
 * The ingest writes a new database beside the old one and renames it into
 * place, so readers see the old catalog or the complete new one. */
#ifndef CHIRP_DATA_CATALOG_H
#define CHIRP_DATA_CATALOG_H

#include <sqlite3.h>
#include <stdbool.h>

#define CATALOG_FILE "catalog.sqlite"
#define CATALOG_SCHEMA_VERSION 1

/* Creates a fresh database at path (which must not exist) with the schema. */
sqlite3 *catalog_create(const char *path);

/* Opens DATASET/catalog.sqlite; fails with a clear message if the dataset
 * is missing or not a chirp catalog. */
sqlite3 *catalog_open(const char *dataset, bool writable);

/* Runs SQL without results; -1 with the error set. */
int catalog_exec(sqlite3 *db, const char *sql);
sqlite3_stmt *catalog_prepare(sqlite3 *db, const char *sql);

int catalog_set_meta(sqlite3 *db, const char *key, const char *value);
/* Returns a malloc'd value, or NULL if absent. */
char *catalog_get_meta(sqlite3 *db, const char *key);

/* A single integer query result (or -1 on error). */
long long catalog_count(sqlite3 *db, const char *sql);

/* Reports an SQLite failure as the current error. Returns -1. */
int catalog_fail(sqlite3 *db, const char *what);

/* Closes and fsyncs the database file at path (sqlite with synchronous=OFF
 * does not). */
int catalog_close_durable(sqlite3 *db, const char *path);

#endif
