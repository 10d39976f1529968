/* prepare.c: see prepare.h. Posts are read in batches by id, encoded in
 * parallel (the tokenizer is read-only and thread-safe), then written in
 * order, so the output does not depend on the thread count.
 *
 * The new shards and the catalog's manifest change together (shard_set.h):
 * shards are written as .next files, the manifest that names them commits
 * with a pending-switch mark, the .next files replace the old shards, and
 * the mark is cleared. A run that finds the mark finishes that switch
 * first; one that finds .next files without it removes them. */
#include "data/prepare.h"

#include "data/provenance.h"

#include "data/catalog.h"
#include "data/shard_set.h"
#include "data/shards.h"
#include "text/bpe_train.h"
#include "util/crashpoint.h"
#include "util/error.h"
#include "util/file.h"
#include "util/progress.h"
#include "util/timer.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 4096

typedef struct Item {
    long long id;
    int val;
    char *text;
    size_t len;
    int32_t *ids;
    long n;
} Item;

static long encode(const Tokenizer *tok, Item *it) {
    size_t cap = it->len + 1; /* len ids always suffice */
    it->ids = xmalloc(cap * sizeof *it->ids);
    it->n = tokenizer_encode(tok, it->text, it->len, false, it->ids, cap);
    return it->n;
}

/* A random id for this run's shards, so that shards of two runs can be
 * told apart in one folder. */
static uint64_t new_generation(void) {
    uint64_t g = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&g, sizeof g, 1, f) != 1) g = (uint64_t)time_now() * 1000003u ^ (uint64_t)getpid();
    if (f) fclose(f);
    return g ? g : 1;
}

/* Completes the switch the catalog marks pending (meta shards_pending =
 * "GEN TRAIN VAL" for the folder in meta data_dir): the .next files go
 * over the shards, provenance.json is rewritten, the mark is cleared.
 * *pending says whether there was one. */
static int complete_switch(sqlite3 *db, const char *dataset, bool *pending) {
    char *mark = catalog_get_meta(db, "shards_pending");
    char *dir = catalog_get_meta(db, "data_dir");
    unsigned long long gen;
    int ntrain, nval, rc = 0;
    *pending = mark && *mark && dir && sscanf(mark, "%llx %d %d", &gen, &ntrain, &nval) == 3;
    if (*pending) {
        rc = shard_set_switch(dir, "train", ntrain, gen);
        if (rc == 0) rc = shard_set_switch(dir, "val", nval, gen);
        crashpoint("prepare:switched");
        if (rc == 0) rc = provenance_write(db, dataset, dir);
        crashpoint("prepare:provenance-written");
        if (rc == 0) rc = catalog_set_meta(db, "shards_pending", "");
    } else if (dir) {
        shard_set_discard_next(dir); /* written by a run that did not commit */
    }
    free(mark);
    free(dir);
    return rc;
}

/* Before a run: the switch an interrupted run left, finished; or the .next
 * files of one that did not commit, removed. */
static int finish_interrupted(sqlite3 *db, const char *dataset, const char *out) {
    char *mark = catalog_get_meta(db, "shards_pending");
    if (mark && *mark) fprintf(stderr, "prepare: finishing the shard switch an interrupted run left\n");
    free(mark);
    bool pending;
    int rc = complete_switch(db, dataset, &pending);
    shard_set_discard_next(out);
    return rc;
}

int prepare_run(const PrepareOptions *opt, const Tokenizer *tok, PrepareStats *stats) {
    memset(stats, 0, sizeof *stats);
    double t0 = time_now();
    int32_t eot = tokenizer_eot_id(tok);
    if (eot < 0) return chirp_fail("the tokenizer has no <|endoftext|> token");
    int token_bytes = shard_token_bytes_for_vocab(tokenizer_vocab_size(tok));
    uint64_t generation = new_generation();
    if (dir_create(opt->out) != 0) return -1;
    sqlite3 *db = catalog_open(opt->dataset, true);
    if (!db) return -1;
    if (finish_interrupted(db, opt->dataset, opt->out) != 0) {
        sqlite3_close(db);
        return -1;
    }
    long long total = catalog_count(db, "SELECT count(*) FROM posts WHERE decision = 'kept'");
    sqlite3_stmt *sel = catalog_prepare(db, "SELECT id, split, text FROM posts WHERE decision = 'kept' AND id > ?"
                                            " ORDER BY id LIMIT "
                                            "4096");
    ShardWriter w[2];
    uint64_t shard_tokens = opt->shard_tokens ? opt->shard_tokens : 100000000ULL;
    shard_writer_init(&w[0], opt->out, "train", shard_tokens, token_bytes, generation, SHARD_NEXT_SUFFIX);
    shard_writer_init(&w[1], opt->out, "val", shard_tokens, token_bytes, generation, SHARD_NEXT_SUFFIX);
    /* The manifest for all posts, applied after the shards are complete. */
    typedef struct Loc {
        long long id;
        int val, shard;
        uint64_t offset;
        long n;
    } Loc;
    Loc *locs = xmalloc(sizeof(Loc) * (size_t)(total > 0 ? total : 1));
    long nlocs = 0;
    Item *items = xcalloc(BATCH, sizeof *items);
    Progress pr;
    progress_init(&pr, "prepare", "posts", (double)total);
    int rc = sel ? 0 : -1;
    long long last = 0;
    while (rc == 0) {
        int n = 0;
        sqlite3_bind_int64(sel, 1, last);
        int step;
        while (n < BATCH && (step = sqlite3_step(sel)) == SQLITE_ROW) {
            Item *it = &items[n++];
            it->id = sqlite3_column_int64(sel, 0);
            const char *split = (const char *)sqlite3_column_text(sel, 1);
            it->val = split && strcmp(split, "val") == 0;
            const char *text = (const char *)sqlite3_column_text(sel, 2);
            it->len = (size_t)sqlite3_column_bytes(sel, 2);
            it->text = xmalloc(it->len + 1);
            memcpy(it->text, text ? text : "", it->len);
            it->text[it->len] = '\0';
        }
        sqlite3_reset(sel);
        if (n == 0) break;
        last = items[n - 1].id;
        int failed = 0;
#pragma omp parallel for schedule(dynamic, 64) reduction(| : failed)
        for (int i = 0; i < n; i++) failed |= encode(tok, &items[i]) < 0;
        if (failed) rc = chirp_fail("tokenizer failed on a post: %s", chirp_error());
        for (int i = 0; i < n && rc == 0; i++) {
            Item *it = &items[i];
            uint64_t offset;
            rc = shard_writer_add(&w[it->val], it->ids, (size_t)it->n, eot, NULL, &offset);
            locs[nlocs++] = (Loc){it->id, it->val, w[it->val].index, offset, it->n};
        }
        for (int i = 0; i < n; i++) {
            free(items[i].text);
            free(items[i].ids);
            items[i].text = NULL;
            items[i].ids = NULL;
        }
        stats->posts += n;
        progress_update(&pr, (double)stats->posts, NULL);
    }
    sqlite3_finalize(sel);
    free(items);
    stats->train_tokens = w[0].total;
    stats->val_tokens = w[1].total;
    if (rc == 0) {
        stats->train_shards = shard_writer_finish(&w[0]);
        stats->val_shards = shard_writer_finish(&w[1]);
        if (stats->train_shards < 0 || stats->val_shards < 0) rc = -1;
    } else {
        shard_writer_abort(&w[0]);
        shard_writer_abort(&w[1]);
    }
    if (rc != 0) shard_set_discard_next(opt->out);
    crashpoint("prepare:shards-written");
    /* The manifest, in one transaction, marked pending until the new
     * shards replace the old. */
    sqlite3_stmt *up = NULL;
    if (rc == 0 && catalog_exec(db, "BEGIN; UPDATE posts SET shard = NULL, token_offset = NULL, token_count = NULL"
                                    " WHERE shard IS NOT NULL;") != 0)
        rc = -1;
    if (rc == 0) up = catalog_prepare(db, "UPDATE posts SET shard = ?, token_offset = ?, token_count = ? WHERE id = ?");
    if (!up) rc = -1;
    for (long i = 0; rc == 0 && i < nlocs; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%03d.bin", locs[i].val ? "val" : "train", locs[i].shard);
        sqlite3_bind_text(up, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(up, 2, (long long)locs[i].offset);
        sqlite3_bind_int64(up, 3, locs[i].n);
        sqlite3_bind_int64(up, 4, locs[i].id);
        if (sqlite3_step(up) != SQLITE_DONE) rc = catalog_fail(db, "catalog manifest");
        sqlite3_reset(up);
    }
    sqlite3_finalize(up);
    if (rc == 0) {
        char *abs_out = realpath(opt->out, NULL);
        char *abs_tok = opt->tokenizer_path ? realpath(opt->tokenizer_path, NULL) : NULL;
        char num[32];
        snprintf(num, sizeof num, "%llu", (unsigned long long)shard_tokens);
        rc |= catalog_set_meta(db, "data_dir", abs_out ? abs_out : opt->out);
        if (opt->tokenizer_path) rc |= catalog_set_meta(db, "tokenizer", abs_tok ? abs_tok : opt->tokenizer_path);
        rc |= catalog_set_meta(db, "shard_tokens", num);
        snprintf(num, sizeof num, "%d", tokenizer_vocab_size(tok));
        rc |= catalog_set_meta(db, "vocab_size", num);
        char pending[96];
        snprintf(pending, sizeof pending, "%llx %d %d", (unsigned long long)generation, stats->train_shards,
                 stats->val_shards);
        rc |= catalog_set_meta(db, "shards_pending", pending);
        snprintf(num, sizeof num, "%d", 8 * token_bytes);
        rc |= catalog_set_meta(db, "token_bits", num);
        free(abs_out);
        free(abs_tok);
        if (rc == 0) rc = catalog_exec(db, "COMMIT");
        if (rc != 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            shard_set_discard_next(opt->out);
        }
        crashpoint("prepare:manifest-committed");
        bool switched;
        if (rc == 0) rc = complete_switch(db, opt->dataset, &switched);
    } else {
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        shard_set_discard_next(opt->out);
    }
    sqlite3_close(db);
    free(locs);
    stats->seconds = time_now() - t0;
    if (rc == 0) {
        char extra[64];
        snprintf(extra, sizeof extra, "%.0f tokens/s",
                 (double)(stats->train_tokens + stats->val_tokens) / (stats->seconds > 0 ? stats->seconds : 1));
        progress_finish(&pr, (double)stats->posts, extra);
    }
    return rc;
}

Tokenizer *prepare_train_tokenizer(const char *dataset, int vocab_size, const char *path) {
    sqlite3 *db = catalog_open(dataset, false);
    if (!db) return NULL;
    sqlite3_stmt *st = catalog_prepare(db, "SELECT text FROM posts WHERE decision = 'kept' AND split = 'train'"
                                           " ORDER BY id");
    if (!st) {
        sqlite3_close(db);
        return NULL;
    }
    BpeTrainer *tr = bpe_trainer_new();
    long posts = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        bpe_trainer_add_text(tr, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        posts++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    Tokenizer *tok = NULL;
    if (posts == 0) chirp_fail("%s: no kept train posts to train a tokenizer on", dataset);
    else tok = bpe_trainer_train(tr, vocab_size, 2, true);
    bpe_trainer_free(tr);
    if (!tok) return NULL;
    size_t n = strlen(path);
    bool is_json = n >= 5 && strcmp(path + n - 5, ".json") == 0;
    char *json = is_json ? xstrdup(path) : path_join(path, "tokenizer.json");
    int rc = is_json ? 0 : dir_create(path);
    if (rc == 0) rc = tokenizer_save(tok, json);
    free(json);
    if (rc != 0) {
        tokenizer_free(tok);
        return NULL;
    }
    return tok;
}
