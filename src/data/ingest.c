/* ingest.c: the ingest pipeline. See ingest.h for the decision order.
 *
 * Durability: rows go to DATASET/catalog.sqlite.tmp.PID in one transaction;
 * conversations.jsonl is built from it; both are fsynced and renamed into
 * place only after everything succeeded. On any fatal error the temp files
 * are removed and the dataset is left exactly as it was. */
#include "data/ingest.h"

#include "data/input_folder.h"

#include "data/catalog.h"
#include "data/dedup.h"
#include "data/optout.h"
#include "data/threads.h"
#include "util/error.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/progress.h"
#include "util/timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static const char *const decision_names[DECISION_COUNT] = {
    "kept",           "dropped:duplicate", "dropped:near-duplicate",
    "dropped:optout", "dropped:retweet",   "dropped:too-short",
    "dropped:empty",  "dropped:malformed",
};

const char *decision_name(int d) { return d >= 0 && d < DECISION_COUNT ? decision_names[d] : "?"; }

void ingest_options_init(IngestOptions *o) {
    memset(o, 0, sizeof *o);
    o->format = "auto";
    o->min_chars = 1;
    o->near_dup = 0.8;
    o->val_fraction = 0.05;
    o->max_warnings = 10;
}

const char *ingest_split(unsigned long long text_hash, double val_fraction) {
    /* Remix so the split is independent of the bits hash tables use. */
    uint64_t h = hash_mix64(text_hash ^ 0x73706c6974ULL);
    return (double)(h >> 11) * 0x1.0p-53 < val_fraction ? "val" : "train";
}

/* One catalog row waiting for the writer thread; strings live in the
 * batch's arena (offsets, so the arena may grow), NO_STR for NULL. */
#define NO_STR ((size_t)-1)
enum { S_ID, S_AUTHOR, S_HANDLE, S_TIME, S_REPLY, S_DETAIL, S_TEXT, S_COUNT };

typedef struct Row {
    long long id, source, record, line;
    size_t str[S_COUNT], len[S_COUNT];
    char hash[17];
    int decision;
    const char *split;
} Row;

#define BATCH_ROWS 2048

typedef struct Batch {
    Row rows[BATCH_ROWS];
    int n;
    Buf arena;
} Batch;

/* The SQLite inserts run on their own thread, overlapped with reading,
 * cleaning and dedup: two batches swap between the two threads. */
typedef struct Writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    Batch batch[2];
    int full[2]; /* batch i is waiting to be written */
    int done;    /* no more batches */
    int failed;
    char error[512];
    sqlite3 *db;
    sqlite3_stmt *insert;
} Writer;

typedef struct Ingest {
    const IngestOptions *opt;
    InputList inputs; /* opt->inputs with plain folders expanded */
    IngestStats *stats;
    sqlite3 *db;
    sqlite3_stmt *insert;
    Writer w;
    long sources;
    const char **source_format; /* static strings from the readers */
    long *source_records;
    int cur; /* batch the reader fills */
    OptOut *optout;
    Dedup *dedup;
    Buf clean, scratch;
    long row;
    long kept_replies;
    int warnings;
    Progress progress;
} Ingest;

static int write_batch(Writer *w, Batch *b) {
    sqlite3_stmt *st = w->insert;
    for (int r = 0; r < b->n; r++) {
        Row *row = &b->rows[r];
        sqlite3_bind_int64(st, 1, row->id);
        sqlite3_bind_int64(st, 2, row->source);
        sqlite3_bind_int64(st, 3, row->record);
        if (row->line) sqlite3_bind_int64(st, 4, row->line);
        else sqlite3_bind_null(st, 4);
        static const int col[S_COUNT] = {5, 6, 7, 8, 9, 12, 14};
        for (int i = 0; i < S_COUNT; i++) {
            if (row->str[i] == NO_STR) sqlite3_bind_null(st, col[i]);
            else sqlite3_bind_text(st, col[i], b->arena.data + row->str[i], (int)row->len[i], SQLITE_STATIC);
        }
        if (row->hash[0]) sqlite3_bind_text(st, 10, row->hash, 16, SQLITE_STATIC);
        else sqlite3_bind_null(st, 10);
        sqlite3_bind_text(st, 11, decision_names[row->decision], -1, SQLITE_STATIC);
        if (row->split) sqlite3_bind_text(st, 13, row->split, -1, SQLITE_STATIC);
        else sqlite3_bind_null(st, 13);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            snprintf(w->error, sizeof w->error, "catalog insert: %s", sqlite3_errmsg(w->db));
            return -1;
        }
    }
    return 0;
}

static void *writer_main(void *arg) {
    Writer *w = arg;
    int next = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->full[next] && !w->done) pthread_cond_wait(&w->cv, &w->mu);
        if (!w->full[next]) break; /* done, nothing left */
        pthread_mutex_unlock(&w->mu);
        int rc = w->failed ? 0 : write_batch(w, &w->batch[next]);
        pthread_mutex_lock(&w->mu);
        if (rc != 0) w->failed = 1;
        w->full[next] = 0;
        pthread_cond_broadcast(&w->cv);
        next ^= 1;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Hands the current batch to the writer and waits until the other one is
 * free. Returns -1 if the writer failed. */
static int flush_batch(Ingest *g) {
    Writer *w = &g->w;
    pthread_mutex_lock(&w->mu);
    w->full[g->cur] = 1;
    pthread_cond_broadcast(&w->cv);
    g->cur ^= 1;
    while (w->full[g->cur]) pthread_cond_wait(&w->cv, &w->mu);
    int failed = w->failed;
    pthread_mutex_unlock(&w->mu);
    Batch *b = &w->batch[g->cur];
    b->n = 0;
    b->arena.len = 0;
    if (failed) return chirp_fail("%s", w->error);
    return 0;
}

static int writer_start(Writer *w, sqlite3 *db, sqlite3_stmt *insert) {
    w->db = db;
    w->insert = insert;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) return chirp_fail("cannot start the catalog writer");
    return 0;
}

/* Writes what is left and stops the thread. */
static int writer_finish(Ingest *g) {
    Writer *w = &g->w;
    int rc = 0;
    if (w->batch[g->cur].n > 0) rc = flush_batch(g);
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    if (rc == 0 && w->failed) rc = chirp_fail("%s", w->error);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    buf_free(&w->batch[0].arena);
    buf_free(&w->batch[1].arena);
    return rc;
}

static void put_str(Batch *b, Row *row, int i, const char *s, size_t len) {
    if (!s) {
        row->str[i] = NO_STR;
        return;
    }
    row->str[i] = b->arena.len;
    row->len[i] = len;
    buf_push(&b->arena, s, len);
}

static int insert_row(Ingest *g, long source, const Post *p, const char *hash, int decision, const char *detail,
                      const char *split, const Buf *text) {
    Batch *b = &g->w.batch[g->cur];
    Row *row = &b->rows[b->n++];
    row->id = g->row;
    row->source = source;
    row->record = p->record;
    row->line = p->line;
    const char *fields[5] = {p->id, p->author, p->handle, p->time, p->reply_to};
    for (int i = 0; i < 5; i++) put_str(b, row, i, fields[i], fields[i] ? strlen(fields[i]) : 0);
    put_str(b, row, S_DETAIL, detail, detail ? strlen(detail) : 0);
    put_str(b, row, S_TEXT, text ? text->data : NULL, text ? text->len : 0);
    if (hash) memcpy(row->hash, hash, 17);
    else row->hash[0] = '\0';
    row->decision = decision;
    row->split = split;
    g->stats->decisions[decision]++;
    if (b->n == BATCH_ROWS) return flush_batch(g);
    return 0;
}

static void warn_malformed(Ingest *g, const char *path, const Post *p, const char *why) {
    if (g->warnings++ >= g->opt->max_warnings) return;
    if (p->line)
        fprintf(stderr, "chirp: warning: %s: record %ld (line %ld): %s (dropped:malformed)\n", path, p->record, p->line,
                why);
    else fprintf(stderr, "chirp: warning: %s: record %ld: %s (dropped:malformed)\n", path, p->record, why);
}

static int ingest_post(Ingest *g, long source, const char *path, const Post *p) {
    const IngestOptions *opt = g->opt;
    g->row++;
    g->stats->posts++;
    char detail[96];
    if (p->error) {
        warn_malformed(g, path, p, p->error);
        return insert_row(g, source, p, NULL, DECISION_MALFORMED, p->error, NULL, NULL);
    }
    if (clean_text(p->text, p->text_len, &opt->clean, &g->clean, &g->scratch) != 0) {
        warn_malformed(g, path, p, chirp_error());
        return insert_row(g, source, p, NULL, DECISION_MALFORMED, chirp_error(), NULL, NULL);
    }
    uint64_t h = hash64(g->clean.data, g->clean.len, 0);
    char hex[17];
    hash_hex(h, hex);
    if (optout_match(g->optout, p->id, p->author, p->handle))
        return insert_row(g, source, p, hex, DECISION_OPTOUT, NULL, NULL, &g->clean);
    if (!opt->keep_retweets && (p->retweet || clean_is_retweet(p->text, p->text_len)))
        return insert_row(g, source, p, hex, DECISION_RETWEET, NULL, NULL, &g->clean);
    if (g->clean.len == 0) return insert_row(g, source, p, hex, DECISION_EMPTY, NULL, NULL, NULL);
    if ((long)utf8_length(g->clean.data, g->clean.len) < opt->min_chars)
        return insert_row(g, source, p, hex, DECISION_TOO_SHORT, NULL, NULL, &g->clean);
    long first = dedup_exact_check(g->dedup, h, g->row);
    if (first >= 0) {
        snprintf(detail, sizeof detail, "same text as row %ld", first);
        return insert_row(g, source, p, hex, DECISION_DUPLICATE, detail, NULL, &g->clean);
    }
    long near = dedup_near_find(g->dedup, g->clean.data, g->clean.len);
    if (near >= 0) {
        snprintf(detail, sizeof detail, "similar to row %ld", near);
        return insert_row(g, source, p, hex, DECISION_NEAR_DUPLICATE, detail, NULL, &g->clean);
    }
    dedup_near_add(g->dedup, g->row);
    const char *split = ingest_split(h, opt->val_fraction);
    if (p->reply_to) g->kept_replies++;
    if (split[0] == 'v') g->stats->val++;
    else g->stats->train++;
    return insert_row(g, source, p, hex, DECISION_KEPT, NULL, split, &g->clean);
}

static int ingest_source(Ingest *g, const char *path) {
    Reader *r = reader_open(path, g->opt->format, &g->opt->reader);
    if (!r) return -1;
    /* The sources table is written after the loop (write_sources), so the
     * writer thread is the only user of the connection meanwhile. */
    long source = ++g->sources;
    g->source_format = xrealloc(g->source_format, sizeof(char *) * (size_t)source);
    g->source_records = xrealloc(g->source_records, sizeof(long) * (size_t)source);
    g->source_format[source - 1] = reader_format(r);
    g->source_records[source - 1] = 0;
    long records = 0;
    Post p;
    int rc = 0;
    while (rc == 0) {
        int got = reader_next(r, &p);
        if (got < 0) {
            /* Fatal: name the file (and record) unless the message does. */
            if (!strstr(chirp_error(), path)) chirp_error_prefix("%s: record %ld: ", path, records + 1);
            rc = -1;
            break;
        }
        if (got == 0) break;
        records++;
        rc = ingest_post(g, source, path, &p);
        if ((g->stats->posts & 4095) == 0) {
            char extra[64];
            snprintf(extra, sizeof extra, "%ld kept", g->stats->decisions[DECISION_KEPT]);
            progress_update(&g->progress, (double)g->stats->posts, extra);
        }
    }
    reader_free(r);
    g->source_records[source - 1] = records;
    return rc;
}

static int write_sources(Ingest *g) {
    sqlite3_stmt *st = catalog_prepare(g->db, "INSERT INTO sources(id, path, format, records) VALUES(?, ?, ?, ?)");
    if (!st) return -1;
    int rc = 0;
    for (long i = 0; i < g->sources && rc == 0; i++) {
        sqlite3_bind_int64(st, 1, i + 1);
        sqlite3_bind_text(st, 2, g->inputs.paths[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, g->source_format[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, g->source_records[i]);
        if (sqlite3_step(st) != SQLITE_DONE) rc = catalog_fail(g->db, "catalog sources");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

static int write_meta(Ingest *g) {
    const IngestOptions *o = g->opt;
    char num[64];
    int rc = 0;
    rc |= catalog_set_meta(g->db, "chirp_catalog_version", "1");
    rc |= catalog_set_meta(g->db, "urls", clean_mode_name(o->clean.urls));
    rc |= catalog_set_meta(g->db, "mentions", clean_mode_name(o->clean.mentions));
    snprintf(num, sizeof num, "%ld", o->min_chars);
    rc |= catalog_set_meta(g->db, "min_chars", num);
    rc |= catalog_set_meta(g->db, "keep_retweets", o->keep_retweets ? "1" : "0");
    snprintf(num, sizeof num, "%g", o->near_dup);
    rc |= catalog_set_meta(g->db, "near_dup", num);
    snprintf(num, sizeof num, "%g", o->val_fraction);
    rc |= catalog_set_meta(g->db, "val_fraction", num);
    snprintf(num, sizeof num, "%ld", optout_count(g->optout));
    rc |= catalog_set_meta(g->db, "optout_entries", num);
    return rc ? -1 : 0;
}

/* Writes conversations.jsonl.tmp; returns 0 and leaves it for the rename. */
static int write_conversations(Ingest *g, AtomicFile *af) {
    char *path = path_join(g->opt->out, "conversations.jsonl");
    int rc = file_begin(af, path);
    free(path);
    if (rc != 0) return -1;
    /* No kept reply means no chain: skip the scan of the catalog. */
    long n = g->kept_replies ? threads_write(g->db, af->fp) : 0;
    if (n < 0) {
        file_abort(af);
        return -1;
    }
    g->stats->conversations = n;
    return 0;
}

/* Removes temp files that a killed ingest left behind (their process is
 * gone); a live one belongs to a concurrent run and stays. */
static void remove_stale_temps(const char *dir) {
    static const char *const patterns[] = {CATALOG_FILE ".tmp.*", "conversations.jsonl.tmp.*"};
    for (int k = 0; k < 2; k++) {
        char *glob = path_join(dir, patterns[k]);
        char **list = NULL;
        int n = path_glob(glob, &list);
        free(glob);
        for (int i = 0; i < n; i++) {
            const char *dot = strrchr(list[i], '.');
            long pid = dot ? strtol(dot + 1, NULL, 10) : 0;
            if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) unlink(list[i]);
        }
        path_list_free(list);
    }
    chirp_error_clear();
}

int ingest_run(const IngestOptions *opt, IngestStats *stats) {
    memset(stats, 0, sizeof *stats);
    double t0 = time_now();
    if (dir_create(opt->out) != 0) return -1;
    remove_stale_temps(opt->out);
    Ingest g = {.opt = opt, .stats = stats};
    if (input_list_expand(&g.inputs, opt->inputs, opt->ninputs, opt->format, &opt->reader) != 0) return -1;
    for (int i = 0; i < g.inputs.nskipped; i++) fprintf(stderr, "ingest: skipped %s\n", g.inputs.skipped[i]);
    stats->files = g.inputs.count;
    stats->files_skipped = g.inputs.nskipped;
    g.optout = optout_new();
    for (int i = 0; i < opt->noptout; i++)
        if (optout_load(g.optout, opt->optout_files[i]) != 0) {
            optout_free(g.optout);
            input_list_free(&g.inputs);
            return -1;
        }
    char *final_path = path_join(opt->out, CATALOG_FILE);
    char tmp_name[64];
    snprintf(tmp_name, sizeof tmp_name, CATALOG_FILE ".tmp.%d", (int)getpid());
    char *tmp_path = path_join(opt->out, tmp_name);
    unlink(tmp_path);
    int rc = -1;
    AtomicFile conv = {0};
    g.db = catalog_create(tmp_path);
    if (!g.db) goto done;
    g.dedup = dedup_new(opt->near_dup);
    g.insert =
        catalog_prepare(g.db, "INSERT INTO posts(id, source_id, record, line, post_id, author, handle, created_at,"
                              " reply_to, text_hash, decision, detail, split, text)"
                              " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
    if (!g.insert || catalog_exec(g.db, "BEGIN") != 0) goto done;
    if (writer_start(&g.w, g.db, g.insert) != 0) goto done;
    progress_init(&g.progress, "ingest", "posts", 0);
    int failed = 0;
    for (int i = 0; i < g.inputs.count && !failed; i++) failed = ingest_source(&g, g.inputs.paths[i]) != 0;
    /* Stop the writer either way; keep the first error. */
    if (failed) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", chirp_error());
        g.w.batch[g.cur].n = 0;
        writer_finish(&g);
        chirp_fail("%s", msg);
        goto done;
    }
    if (writer_finish(&g) != 0 || write_sources(&g) != 0) goto done;
    sqlite3_finalize(g.insert);
    g.insert = NULL;
    if (catalog_exec(g.db, "PRAGMA threads = 4;"
                           "CREATE INDEX posts_post_id ON posts(post_id);"
                           "CREATE INDEX posts_text_hash ON posts(text_hash);") != 0)
        goto done;
    /* A kept copy of an opted-out post's text goes too. */
    if (stats->decisions[DECISION_OPTOUT] > 0 &&
        catalog_exec(g.db, "UPDATE posts SET decision = 'dropped:optout', split = NULL,"
                           " detail = 'same text as an opted-out post'"
                           " WHERE decision = 'kept' AND text_hash IN"
                           " (SELECT text_hash FROM posts WHERE decision = 'dropped:optout')") != 0)
        goto done;
    long copies = stats->decisions[DECISION_OPTOUT] > 0 ? (long)sqlite3_changes(g.db) : 0;
    stats->decisions[DECISION_KEPT] -= copies;
    stats->decisions[DECISION_OPTOUT] += copies;
    if (copies > 0) {
        stats->train = (long)catalog_count(g.db, "SELECT count(*) FROM posts WHERE decision='kept' AND split='train'");
        stats->val = (long)catalog_count(g.db, "SELECT count(*) FROM posts WHERE decision='kept' AND split='val'");
    }
    if (write_meta(&g) != 0 || write_conversations(&g, &conv) != 0) goto done;
    if (catalog_exec(g.db, "COMMIT") != 0) goto done;
    sqlite3 *db = g.db;
    g.db = NULL;
    if (catalog_close_durable(db, tmp_path) != 0) goto done;
    if (rename(tmp_path, final_path) != 0) {
        chirp_fail_errno("rename %s -> %s", tmp_path, final_path);
        goto done;
    }
    rc = file_commit(&conv); /* conversations follow the catalog they came from */
    if (rc == 0) rc = dir_sync(opt->out);
    progress_finish(&g.progress, (double)stats->posts, NULL);
done:
    if (conv.fp) file_abort(&conv);
    if (g.insert) sqlite3_finalize(g.insert);
    if (g.db) sqlite3_close(g.db);
    if (rc != 0) unlink(tmp_path);
    dedup_free(g.dedup);
    optout_free(g.optout);
    buf_free(&g.clean);
    buf_free(&g.scratch);
    free(g.source_format);
    free(g.source_records);
    input_list_free(&g.inputs);
    free(tmp_path);
    free(final_path);
    stats->seconds = time_now() - t0;
    return rc;
}
