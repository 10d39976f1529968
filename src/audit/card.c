/* card.c: the model card (see card.h). */
#include "audit/card.h"

#include "data/catalog.h"
#include "model/gpt2.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/file.h"

#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *load_json(const char *dir, const char *name) {
    char *p = path_join(dir, name);
    json_t *o = path_exists(p) ? json_load_file(p, 0, NULL) : NULL;
    free(p);
    return o;
}

static const char *s_of(const json_t *o, const char *key, const char *dflt) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static double n_of(const json_t *o, const char *key) { return json_number_value(json_object_get(o, key)); }

/* The run's last validation loss at or before step (log.jsonl beside the
 * checkpoint directory), or -1. */
static double last_val_loss(const char *model_dir, long long step) {
    char *copy = xstrdup(model_dir);
    char *log = path_join(dirname(copy), "log.jsonl");
    free(copy);
    FILE *f = fopen(log, "r");
    free(log);
    if (!f) return -1;
    double v = -1;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        json_t *vl = json_object_get(o, "val_loss");
        if (json_is_number(vl) && json_integer_value(json_object_get(o, "step")) <= step) v = json_number_value(vl);
        json_decref(o);
    }
    fclose(f);
    return v;
}

static void sources_table(Buf *b, sqlite3 *db) {
    sqlite3_stmt *st = catalog_prepare(db, "SELECT s.path, s.format, count(p.id), coalesce(sum(p.decision = 'kept'),"
                                           " 0), coalesce(sum(p.decision = 'kept' AND p.split = 'train'), 0) FROM"
                                           " sources s LEFT JOIN posts p ON p.source_id = s.id GROUP BY s.id ORDER BY"
                                           " s.id");
    if (!st) return;
    buf_printf(b, "| source | format | posts read | kept | trained on |\n| --- | --- | --- | --- | --- |\n");
    while (sqlite3_step(st) == SQLITE_ROW)
        buf_printf(b, "| `%s` | %s | %lld | %lld | %lld |\n", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
                   sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4));
    sqlite3_finalize(st);
}

static void decisions_table(Buf *b, sqlite3 *db) {
    sqlite3_stmt *st = catalog_prepare(db, "SELECT decision, count(*) FROM posts GROUP BY decision ORDER BY count(*)"
                                           " DESC");
    if (!st) return;
    buf_printf(b, "| decision | posts |\n| --- | --- |\n");
    while (sqlite3_step(st) == SQLITE_ROW)
        buf_printf(b, "| %s | %lld |\n", sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
}

char *card_build(const CardOptions *o) {
    sqlite3 *db = catalog_open(o->dataset, false);
    if (!db) return NULL;
    Gpt2Config cfg;
    char *cfg_path = path_join(o->model_dir, "config.json");
    int rc = gpt2_config_load(&cfg, cfg_path);
    free(cfg_path);
    if (rc != 0) {
        sqlite3_close(db);
        return NULL;
    }
    json_t *man = load_json(o->model_dir, "chirp.json");
    json_t *report = load_json(o->model_dir, "memorization/report.json");
    char *dcopy = xstrdup(o->dataset), *mcopy = xstrdup(o->model_dir);
    const char *dname = basename(dcopy);
    long long read = catalog_count(db, "SELECT count(*) FROM posts");
    long long kept = catalog_count(db, "SELECT count(*) FROM posts WHERE decision = 'kept'");
    long long trained = catalog_count(db, "SELECT count(*) FROM posts WHERE decision = 'kept' AND split = 'train'"
                                          " AND shard IS NOT NULL");
    long long optout = catalog_count(db, "SELECT count(*) FROM posts WHERE decision = 'dropped:optout'");
    char *entries = catalog_get_meta(db, "optout_entries");
    Buf b = {0};
    buf_printf(&b,
               "---\nlicense: %s\nlibrary_name: chirp\nlanguage:\n- %s\ntags:\n- chirp\n- gpt2\n- text-generation\n"
               "datasets:\n- %s\npipeline_tag: text-generation\n---\n\n",
               o->license ? o->license : "other", o->language ? o->language : "en", dname);
    buf_printf(&b,
               "# %s\n\nA GPT-2 model trained with chirp on the posts of the dataset "
               "`%s`, and nothing else. Every figure below is read from the dataset's catalog and the model's own "
               "files.\n\n",
               basename(mcopy), dname);
    buf_printf(&b,
               "## Model\n\n| | |\n| --- | --- |\n| architecture | GPT-2 (`GPT2LMHeadModel`) |\n| parameters | %zu |\n"
               "| layers, heads, width | %d, %d, %d |\n| context | %d tokens |\n| vocabulary | %d |\n\n",
               gpt2_num_params(&cfg), cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.n_ctx, cfg.vocab_size);
    buf_printf(&b,
               "## What trained it\n\n%lld posts were read; %lld were kept and %lld of those (the train split) trained "
               "the model.\n\n",
               read, kept, trained);
    sources_table(&b, db);
    buf_printf(&b, "\n");
    decisions_table(&b, db);
    buf_printf(&b,
               "\nOpt-outs: the lists given at ingest held %s entries; they removed %lld posts, which the model never "
               "saw.\n\n",
               entries ? entries : "0", optout);
    json_t *commit = json_object_get(man, "commitment");
    if (commit)
        buf_printf(&b,
                   "Commitment: the Merkle root of the %lld trained posts, as (post id, SHA-256 of the cleaned text) "
                   "leaves, is `%s` (`chirp audit prove` / `chirp audit verify`; docs/audit.md gives the hashing).\n\n",
                   (long long)n_of(commit, "leaves"), s_of(commit, "merkle_root", ""));
    if (man) {
        json_t *h = json_object_get(man, "hyperparameters");
        long long step = (long long)n_of(man, "step");
        buf_printf(
            &b,
            "## Training\n\n| | |\n| --- | --- |\n| steps | %lld of %lld |\n| tokens seen | %lld |\n| batch x "
            "sequence | %lld x %lld (x %lld accumulation, %lld ranks) |\n| learning rate | %g, %s schedule, %lld "
            "warmup, min %g |\n| optimizer | AdamW, betas %g / %g, weight decay %g, clip %g |\n| last train loss "
            "| %.4f |\n",
            step, (long long)n_of(man, "steps"), (long long)n_of(man, "tokens_seen"), (long long)n_of(h, "batch"),
            (long long)n_of(h, "seq"), (long long)n_of(h, "grad_accum"),
            json_object_get(h, "world_size") ? (long long)n_of(h, "world_size") : 1LL, n_of(h, "lr"),
            s_of(h, "schedule", "?"), (long long)n_of(h, "warmup"), n_of(h, "min_lr"), n_of(h, "beta1"),
            n_of(h, "beta2"), n_of(h, "weight_decay"), n_of(h, "grad_clip"), n_of(man, "train_loss"));
        double vl = last_val_loss(o->model_dir, step);
        if (vl >= 0) buf_printf(&b, "| validation loss | %.4f |\n", vl);
        buf_printf(&b, "\n");
    }
    if (report) {
        json_t *t = json_object_get(json_object_get(report, "targeted"), "k16_in_context");
        json_t *mi = json_object_get(report, "membership_inference");
        json_t *leaks = json_object_get(report, "leaks");
        buf_printf(&b,
                   "## Memorization\n\nFrom `memorization/report.json` (`chirp audit memorization`): prompted with the "
                   "first 16 tokens of a trained post in its training context, the model continued %.1f%% of %lld "
                   "posts exactly (%.1f%% of tokens), against %.1f%% (%.1f%%) of held-out posts. %lld of %lld samples "
                   "held a verbatim span of 50+ characters of the training data. Leaks of posts that were not trained "
                   "on: %lld. Membership inference (Min-K%%++): AUROC %.3f, TPR at 1%% FPR %.1f%%.\n\n",
                   100 * n_of(json_object_get(t, "trained"), "exact_rate"),
                   (long long)n_of(json_object_get(t, "trained"), "posts"),
                   100 * n_of(json_object_get(t, "trained"), "token_match"),
                   100 * n_of(json_object_get(t, "held_out"), "exact_rate"),
                   100 * n_of(json_object_get(t, "held_out"), "token_match"),
                   (long long)n_of(json_object_get(report, "untargeted"), "verbatim_spans"),
                   (long long)n_of(json_object_get(report, "untargeted"), "samples"), (long long)n_of(leaks, "found"),
                   n_of(mi, "auroc"), 100 * n_of(mi, "tpr_at_1pct_fpr"));
    } else {
        buf_printf(&b,
                   "## Memorization\n\nNo report yet: run `chirp audit memorization --model DIR --dataset DS` before "
                   "release.\n\n");
    }
    json_t *sk = json_object_get(man, "membership_sketch");
    buf_printf(&b, "## Was a text in the training data?\n\n");
    if (sk)
        buf_printf(
            &b,
            "The model ships with `membership.sketch` (%lld bytes; %lld posts, %lld windows; no text): "
            "`chirp audit member --model DIR --text \"...\"` answers yes, partly (k of n 50-character windows) or "
            "no. A trained post is never answered no; an untrained 50-character window is found with probability "
            "%.2g.\n",
            (long long)n_of(sk, "bytes"), (long long)n_of(sk, "posts"), (long long)n_of(sk, "windows"),
            n_of(sk, "fpr"));
    else buf_printf(&b, "No membership sketch yet: `chirp audit sketch --dataset DS --model DIR` writes one.\n");
    buf_terminate(&b);
    free(entries);
    free(dcopy);
    free(mcopy);
    json_decref(man);
    json_decref(report);
    sqlite3_close(db);
    return b.data;
}
