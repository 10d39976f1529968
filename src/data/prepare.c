/* prepare.c: see prepare.h. Posts are read in batches by id, encoded in
 * parallel (the tokenizer is read-only and thread-safe), then written in
 * order, so the output does not depend on the thread count. */
#include "data/prepare.h"

#include "data/provenance.h"

#include "data/catalog.h"
#include "data/shards.h"
#include "text/bpe_train.h"
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
    size_t cap = it->len + 1;   /* len ids always suffice */
    it->ids = xmalloc(cap * sizeof *it->ids);
    it->n = tokenizer_encode(tok, it->text, it->len, false, it->ids, cap);
    return it->n;
}

/* Removes DIR/{split}_NNN.bin for NNN >= keep. */
static void remove_stale(const char *dir, const char *split, int keep) {
    for (int i = keep; i < 100000; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%03d.bin", split, i);
        char *path = path_join(dir, name);
        int gone = unlink(path) != 0;
        free(path);
        if (gone) break;
    }
}

int prepare_run(const PrepareOptions *opt, const Tokenizer *tok, PrepareStats *stats) {
    memset(stats, 0, sizeof *stats);
    double t0 = time_now();
    int32_t eot = tokenizer_eot_id(tok);
    if (eot < 0) return chirp_fail("the tokenizer has no <|endoftext|> token");
    if (tokenizer_vocab_size(tok) > 65536)
        return chirp_fail("a vocabulary of %d ids does not fit uint16 shards", tokenizer_vocab_size(tok));
    if (dir_create(opt->out) != 0) return -1;
    sqlite3 *db = catalog_open(opt->dataset, true);
    if (!db) return -1;
    long long total = catalog_count(db, "SELECT count(*) FROM posts WHERE decision = 'kept'");
    sqlite3_stmt *sel = catalog_prepare(db,
                                        "SELECT id, split, text FROM posts WHERE decision = 'kept' AND id > ?"
                                        " ORDER BY id LIMIT " "4096");
    ShardWriter w[2];
    uint64_t shard_tokens = opt->shard_tokens ? opt->shard_tokens : 100000000ULL;
    shard_writer_init(&w[0], opt->out, "train", shard_tokens);
    shard_writer_init(&w[1], opt->out, "val", shard_tokens);
    /* The manifest for all posts, applied after the shards are complete. */
    typedef struct Loc { long long id; int val, shard; uint64_t offset; long n; } Loc;
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
    if (rc == 0) {
        remove_stale(opt->out, "train", stats->train_shards);
        remove_stale(opt->out, "val", stats->val_shards);
    }
    /* The manifest, in one transaction. */
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
        free(abs_out);
        free(abs_tok);
        if (rc == 0) rc = catalog_exec(db, "COMMIT");
        if (rc == 0) rc = provenance_write(db, opt->dataset, opt->out);
    }
    if (rc != 0) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
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
