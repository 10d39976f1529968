/* catalog.c: schema and small helpers around SQLite. The bulk insert
 * during ingest goes to a fresh file with journaling off (nothing to roll
 * back to: the old catalog is untouched until the rename), in one
 * transaction; indexes are built after the rows are in, which is faster
 * than maintaining them row by row. */
#include "data/catalog.h"

#include "util/error.h"
#include "util/file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const schema =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE sources(id INTEGER PRIMARY KEY, path TEXT NOT NULL, format TEXT NOT NULL,"
    "  records INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE posts(id INTEGER PRIMARY KEY, source_id INTEGER NOT NULL REFERENCES sources(id),"
    "  record INTEGER NOT NULL, line INTEGER, post_id TEXT, author TEXT, handle TEXT, created_at TEXT,"
    "  reply_to TEXT, text_hash TEXT, decision TEXT NOT NULL, detail TEXT, split TEXT, text TEXT,"
    "  shard TEXT, token_offset INTEGER, token_count INTEGER);"
    "PRAGMA user_version = 1;";

int catalog_fail(sqlite3 *db, const char *what) {
    return chirp_fail("%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

int catalog_exec(sqlite3 *db, const char *sql) {
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        chirp_fail("catalog: %s", err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

sqlite3_stmt *catalog_prepare(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        catalog_fail(db, "catalog");
        return NULL;
    }
    return st;
}

sqlite3 *catalog_create(const char *path) {
    sqlite3 *db = NULL;
    /* NOMUTEX: ingest hands this connection to its writer thread for the
     * bulk insert and takes it back after joining it; the two threads never
     * use it at the same time, so SQLite's per-call mutex (a lock and an
     * unlock around each of the ~15 calls per row) is pure cost. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        catalog_fail(db, path);
        sqlite3_close(db);
        return NULL;
    }
    if (catalog_exec(
            db, "PRAGMA page_size=16384; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;"
                "PRAGMA temp_store=MEMORY;") != 0 ||
        catalog_exec(db, schema) != 0) {
        chirp_error_prefix("%s: ", path);
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

sqlite3 *catalog_open(const char *dataset, bool writable) {
    char *path = path_join(dataset, CATALOG_FILE);
    if (!path_exists(path)) {
        chirp_fail("%s: not a dataset (no %s; run chirp ingest first)", dataset, CATALOG_FILE);
        free(path);
        return NULL;
    }
    sqlite3 *db = NULL;
    int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        catalog_fail(db, path);
        sqlite3_close(db);
        free(path);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    long long v = catalog_count(db, "PRAGMA user_version");
    if (v != CATALOG_SCHEMA_VERSION) {
        chirp_fail("%s: not a chirp catalog (schema version %lld, expected %d)", path, v, CATALOG_SCHEMA_VERSION);
        sqlite3_close(db);
        free(path);
        return NULL;
    }
    free(path);
    return db;
}

int catalog_set_meta(sqlite3 *db, const char *key, const char *value) {
    sqlite3_stmt *st = catalog_prepare(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : catalog_fail(db, "catalog meta");
    sqlite3_finalize(st);
    return rc;
}

char *catalog_get_meta(sqlite3 *db, const char *key) {
    sqlite3_stmt *st = catalog_prepare(db, "SELECT value FROM meta WHERE key = ?");
    if (!st) return NULL;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    char *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
}

long long catalog_count(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = catalog_prepare(db, sql);
    if (!st) return -1;
    long long v = -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

int catalog_close_durable(sqlite3 *db, const char *path) {
    if (sqlite3_close(db) != SQLITE_OK) return chirp_fail("%s: cannot close the catalog", path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return chirp_fail_errno("%s", path);
    int rc = fsync(fd) == 0 ? 0 : chirp_fail_errno("fsync %s", path);
    close(fd);
    return rc;
}
