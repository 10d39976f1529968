/* memorization.c: the release report's measurements (see memorization.h). */
#include "audit/memorization.h"

#include "audit/audit_data.h"
#include "audit/decode_batch.h"
#include "audit/mink.h"
#include "audit/sketch.h"
#include "data/catalog.h"
#include "data/shards.h"
#include "util/error.h"
#include "util/file.h"
#include "util/hash.h"
#include "util/timer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_TOKENS 24
#define MAX_CONTINUATION 64
#define LEAK_WINDOW 50

void mem_options_default(MemOptions *o) {
    memset(o, 0, sizeof *o);
    o->samples = 200;
    o->untargeted = 100;
    o->sample_tokens = 128;
    o->group = 16;
    o->seed = 1;
}

/* One post under test: its tokens and the tokens before it in its row. */
typedef struct TestPost {
    int64_t row;
    int32_t *tokens;
    int n;
    int32_t *context;
    int n_context;
    int copies;
} TestPost;

static void free_posts(TestPost *p, int n) {
    for (int i = 0; i < n; i++) {
        free(p[i].tokens);
        free(p[i].context);
    }
    free(p);
}

static int cmp_pick(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Deterministic sample of rows: the n with the smallest hash of their id. */
static int64_t *pick_rows(const int64_t *rows, size_t nrows, int n, int *got) {
    uint64_t(*keyed)[2] = xmalloc((nrows + 1) * sizeof *keyed);
    for (size_t i = 0; i < nrows; i++) {
        keyed[i][0] = hash_mix64((uint64_t)rows[i] ^ 0x9e3779b97f4a7c15ULL);
        keyed[i][1] = (uint64_t)rows[i];
    }
    qsort(keyed, nrows, sizeof *keyed, cmp_pick);
    *got = (int)(nrows < (size_t)n ? nrows : (size_t)n);
    int64_t *out = xmalloc(((size_t)*got + 1) * sizeof(int64_t));
    for (int i = 0; i < *got; i++) out[i] = (int64_t)keyed[i][1];
    free(keyed);
    return out;
}

/* A split's token stream as training (or eval) reads it: its shards back
 * to back in file order. Train tokens come from the index; val shards are
 * read into memory (they are small). */
typedef struct Stream {
    const SuffixIndex *ix; /* train */
    uint32_t *mem;         /* val */
    uint64_t n;
    char **names;
    uint64_t *starts;
    int nshards;
} Stream;

static int stream_open(Stream *s, const AuditData *a, const char *data_dir, const char *split) {
    memset(s, 0, sizeof *s);
    if (strcmp(split, "train") == 0) {
        s->ix = &a->ix;
        s->n = a->ix.n;
        s->nshards = a->ix.nshards;
        s->names = xcalloc((size_t)s->nshards + 1, sizeof(char *));
        s->starts = xcalloc((size_t)s->nshards + 1, sizeof(uint64_t));
        for (int i = 0; i < s->nshards; i++) {
            s->names[i] = xstrdup(a->ix.shards[i].name);
            s->starts[i] = a->ix.shards[i].start;
        }
        return 0;
    }
    char *pattern = path_join(data_dir, "val_*.bin");
    char **paths = NULL;
    int n = path_glob(pattern, &paths);
    free(pattern);
    if (n < 0) return -1;
    s->names = xcalloc((size_t)n + 1, sizeof(char *));
    s->starts = xcalloc((size_t)n + 1, sizeof(uint64_t));
    for (int i = 0; i < n; i++) {
        size_t cnt;
        uint32_t *t = shard_read(paths[i], &cnt, NULL);
        if (!t) {
            path_list_free(paths);
            return -1;
        }
        s->mem = xrealloc(s->mem, (size_t)(s->n + cnt + 1) * sizeof(uint32_t));
        memcpy(s->mem + s->n, t, cnt * sizeof(uint32_t));
        free(t);
        const char *slash = strrchr(paths[i], '/');
        s->names[i] = xstrdup(slash ? slash + 1 : paths[i]);
        s->starts[i] = s->n;
        s->n += cnt;
        s->nshards++;
    }
    path_list_free(paths);
    return 0;
}

static void stream_close(Stream *s) {
    for (int i = 0; i < s->nshards; i++) free(s->names[i]);
    free(s->names);
    free(s->starts);
    free(s->mem);
}

static int32_t stream_token(const Stream *s, uint64_t p) {
    return s->ix ? suffix_index_token(s->ix, p) : (int32_t)s->mem[p];
}

static int32_t *stream_copy(const Stream *s, uint64_t from, uint64_t n) {
    int32_t *out = xmalloc((size_t)(n + 1) * sizeof(int32_t));
    for (uint64_t i = 0; i < n; i++) out[i] = stream_token(s, from + i);
    return out;
}

/* Posts of one split with at least MIN_TOKENS tokens, as read from their
 * shards (the tokens training saw), with the tokens before them in their
 * row: training reads rows of row_len tokens from the start of the stream. */
static TestPost *load_posts(AuditData *a, const char *data_dir, const char *split, int n, int row_len, int *got) {
    Stream stream;
    if (stream_open(&stream, a, data_dir, split) != 0) return NULL;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT id, shard, token_offset, token_count FROM posts WHERE decision = 'kept' AND split = '%s' AND "
             "shard IS NOT NULL AND token_count >= %d ORDER BY id",
             split, MIN_TOKENS);
    sqlite3_stmt *st = catalog_prepare(a->db, sql);
    if (!st) {
        stream_close(&stream);
        return NULL;
    }
    size_t cap = 256, nrows = 0;
    int64_t *rows = xmalloc(cap * sizeof(int64_t));
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (nrows == cap) rows = xrealloc(rows, (cap *= 2) * sizeof(int64_t));
        rows[nrows++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    int64_t *pick = pick_rows(rows, nrows, n, got);
    free(rows);
    TestPost *posts = xcalloc((size_t)*got + 1, sizeof(TestPost));
    sqlite3_stmt *one = catalog_prepare(a->db, "SELECT shard, token_offset, token_count FROM posts WHERE id = ?");
    int rc = one ? 0 : -1;
    for (int i = 0; i < *got && rc == 0; i++) {
        sqlite3_bind_int64(one, 1, pick[i]);
        if (sqlite3_step(one) != SQLITE_ROW) {
            rc = chirp_fail("catalog row %lld vanished", (long long)pick[i]);
            break;
        }
        const char *shard = (const char *)sqlite3_column_text(one, 0);
        uint64_t off = (uint64_t)sqlite3_column_int64(one, 1), cnt = (uint64_t)sqlite3_column_int64(one, 2);
        int sh = 0;
        while (sh < stream.nshards && strcmp(stream.names[sh], shard) != 0) sh++;
        if (sh == stream.nshards || stream.starts[sh] + off + cnt > stream.n) {
            rc = chirp_fail("post row %lld (%s at %llu) is not in the shards as indexed (re-run chirp prepare and "
                            "chirp audit index)",
                            (long long)pick[i], shard, (unsigned long long)off);
            break;
        }
        uint64_t pos = stream.starts[sh] + off, row_start = pos / (uint64_t)row_len * (uint64_t)row_len;
        TestPost *p = &posts[i];
        p->row = pick[i];
        p->tokens = stream_copy(&stream, pos, cnt);
        p->n = (int)cnt;
        p->context = stream_copy(&stream, row_start, pos - row_start);
        p->n_context = (int)(pos - row_start);
        p->copies = 1;
        sqlite3_reset(one);
    }
    sqlite3_finalize(one);
    free(pick);
    stream_close(&stream);
    if (rc != 0) {
        free_posts(posts, *got);
        return NULL;
    }
    return posts;
}

/* Copies of each trained post the catalog saw: itself plus the duplicates
 * and near-duplicates dropped in its favour. */
static void count_copies(sqlite3 *db, TestPost *p, int n) {
    sqlite3_stmt *st = catalog_prepare(db, "SELECT count(*) FROM posts WHERE decision IN ('dropped:duplicate',"
                                           " 'dropped:near-duplicate') AND (detail = 'same text as row ' || ?1 OR"
                                           " detail = 'similar to row ' || ?1)");
    if (!st) return;
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int64(st, 1, p[i].row);
        if (sqlite3_step(st) == SQLITE_ROW) p[i].copies = 1 + (int)sqlite3_column_int64(st, 0);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
}

/* ---- targeted extraction ---- */

typedef struct Extraction {
    int tested;
    int exact;
    double match_sum; /* sum of per-post token-match shares */
} Extraction;

static const int KS[2] = {8, 16};
static const char *MODES[2] = {"isolated", "in_context"};
static const char *BUCKETS[4] = {"1", "2", "3-5", "6+"};

static int bucket_of(int copies) { return copies <= 1 ? 0 : copies == 2 ? 1 : copies <= 5 ? 2 : 3; }

/* Decodes every (post, k, mode) and scores it against the post. res is
 * [2 k][2 modes]; by_copies [2 k][2 modes][4 buckets]. */
static int extract(const InferModel *m, const TestPost *p, int n, int32_t eot, int group, Extraction res[2][2],
                   Extraction by_copies[2][2][4]) {
    int njobs = n * 4;
    DecodeJob *jobs = xcalloc((size_t)njobs + 1, sizeof(DecodeJob));
    int32_t **prompts = xcalloc((size_t)njobs + 1, sizeof(int32_t *));
    for (int i = 0; i < n; i++) {
        for (int ki = 0; ki < 2; ki++) {
            for (int mode = 0; mode < 2; mode++) {
                int j = (i * 2 + ki) * 2 + mode, k = KS[ki];
                int nc = mode ? p[i].n_context : 0;
                int32_t *pr = xmalloc((size_t)(nc + k + 1) * sizeof(int32_t));
                int np = 0;
                if (mode == 0 || nc == 0) pr[np++] = eot; /* alone, or at a row start */
                else
                    for (int t = 0; t < nc; t++) pr[np++] = p[i].context[t];
                for (int t = 0; t < k; t++) pr[np++] = p[i].tokens[t];
                int want = p[i].n - k < MAX_CONTINUATION ? p[i].n - k : MAX_CONTINUATION;
                SamplerConfig sc;
                sampler_config_default(&sc);
                sc.temperature = 0;
                prompts[j] = pr;
                jobs[j] = (DecodeJob){.prompt = pr,
                                      .n_prompt = np,
                                      .max_new = want,
                                      .sampler = sc,
                                      .stop = -1,
                                      .out = xmalloc((size_t)want * sizeof(int32_t) + 4)};
            }
        }
    }
    int rc = decode_batch(m, jobs, njobs, group);
    for (int i = 0; rc == 0 && i < n; i++) {
        for (int ki = 0; ki < 2; ki++) {
            for (int mode = 0; mode < 2; mode++) {
                const DecodeJob *jb = &jobs[(i * 2 + ki) * 2 + mode];
                const int32_t *want = p[i].tokens + KS[ki];
                int expect = p[i].n - KS[ki] < MAX_CONTINUATION ? p[i].n - KS[ki] : MAX_CONTINUATION;
                int same = 0;
                for (int t = 0; t < jb->n_out && t < expect; t++) same += jb->out[t] == want[t];
                bool exact = jb->n_out == expect && same == expect;
                double share = expect > 0 ? (double)same / expect : 0;
                Extraction *e = &res[ki][mode], *b = &by_copies[ki][mode][bucket_of(p[i].copies)];
                e->tested++, b->tested++;
                e->exact += exact, b->exact += exact;
                e->match_sum += share, b->match_sum += share;
            }
        }
    }
    for (int j = 0; j < njobs; j++) {
        free(prompts[j]);
        free(jobs[j].out);
    }
    free(prompts);
    free(jobs);
    return rc;
}

static json_t *extraction_json(const Extraction *e) {
    return json_pack("{s:i, s:i, s:f, s:f}", "posts", e->tested, "exact", e->exact, "exact_rate",
                     e->tested ? (double)e->exact / e->tested : 0.0, "token_match",
                     e->tested ? e->match_sum / e->tested : 0.0);
}

/* ---- untargeted samples ---- */

static json_t *post_json(const AuditData *a, int64_t row) {
    sqlite3_stmt *st = catalog_prepare(a->db, "SELECT post_id, author, decision FROM posts WHERE id = ?");
    json_t *o = NULL;
    if (st) {
        sqlite3_bind_int64(st, 1, row);
        if (sqlite3_step(st) == SQLITE_ROW) {
            const char *pid = (const char *)sqlite3_column_text(st, 0), *au = (const char *)sqlite3_column_text(st, 1);
            o = json_pack("{s:I, s:s, s:s, s:s}", "row", (json_int_t)row, "post_id", pid ? pid : "", "author",
                          au ? au : "", "decision", (const char *)sqlite3_column_text(st, 2));
        }
        sqlite3_finalize(st);
    }
    return o ? o : json_pack("{s:I}", "row", (json_int_t)row);
}

static char *decode_text(const Tokenizer *tok, const int32_t *ids, int n) {
    long need = tokenizer_decode(tok, ids, (size_t)n, NULL, 0);
    if (need < 0) need = 0;
    char *s = xmalloc((size_t)need + 1);
    tokenizer_decode(tok, ids, (size_t)n, s, (size_t)need);
    s[need] = '\0';
    return s;
}

static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Maximal spans of a sample that occur in the training stream, kept when
 * they are at least LEAK_WINDOW characters long. */
static void verbatim_spans(const AuditData *a, const int32_t *t, int n, json_t *out, long *count) {
    for (int i = 0; i < n;) {
        size_t start, len;
        uint64_t occ = suffix_index_longest(&a->ix, t + i, (size_t)(n - i), &start, &len);
        if (len == 0 || start != 0) {
            i++;
            continue;
        }
        char *text = decode_text(a->tok, t + i, (int)len);
        if (utf8_chars(text) >= LEAK_WINDOW) {
            uint64_t lo, hi;
            suffix_index_range(&a->ix, t + i, len, &lo, &hi);
            json_t *posts = json_array();
            for (uint64_t r = lo; r < hi && r < lo + 5; r++) {
                const PostSpan *ps = audit_post_at(a, suffix_index_pos(&a->ix, r));
                if (ps) json_array_append_new(posts, post_json(a, ps->row));
            }
            json_array_append_new(out, json_pack("{s:s, s:I, s:I, s:o}", "text", text, "tokens", (json_int_t)len,
                                                 "occurrences", (json_int_t)occ, "posts", posts));
            (*count)++;
            i += (int)len;
        } else {
            i++;
        }
        free(text);
    }
}

/* ---- leaks ---- */

typedef struct LeakSet {
    uint64_t *keys;
    int64_t *rows;
    size_t cap, n;
} LeakSet;

static void leak_add(LeakSet *s, uint64_t key, int64_t row) {
    if (2 * (s->n + 1) > s->cap) {
        LeakSet bigger = {xcalloc(s->cap ? 2 * s->cap : 1024, sizeof(uint64_t)),
                          xcalloc(s->cap ? 2 * s->cap : 1024, sizeof(int64_t)), s->cap ? 2 * s->cap : 1024, 0};
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i]) leak_add(&bigger, s->keys[i], s->rows[i]);
        free(s->keys);
        free(s->rows);
        *s = bigger;
    }
    key |= 1; /* 0 marks an empty slot */
    size_t i = key % s->cap;
    while (s->keys[i] && s->keys[i] != key) i = (i + 1) % s->cap;
    if (!s->keys[i]) s->n++;
    s->keys[i] = key;
    s->rows[i] = row;
}

static int64_t leak_find(const LeakSet *s, uint64_t key) {
    if (s->cap == 0) return -1;
    key |= 1;
    for (size_t i = key % s->cap; s->keys[i]; i = (i + 1) % s->cap)
        if (s->keys[i] == key) return s->rows[i];
    return -1;
}

/* Every 50-character window (stride 1) of the normalised text of each
 * post that was not trained on, except duplicates of trained ones. */
static int leak_windows(sqlite3 *db, LeakSet *set, long *posts) {
    sqlite3_stmt *st =
        catalog_prepare(db, "SELECT id, text FROM posts WHERE decision LIKE 'dropped:%' AND decision"
                            " NOT IN ('dropped:duplicate', 'dropped:near-duplicate') AND text IS NOT NULL");
    if (!st) return -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t chars;
        char *t =
            sketch_normalize((const char *)sqlite3_column_text(st, 1), (size_t)sqlite3_column_bytes(st, 1), &chars);
        (*posts)++;
        const char *p = t;
        for (size_t c = 0; c + LEAK_WINDOW <= chars; c++) {
            const char *e = p;
            for (int k = 0; k < LEAK_WINDOW; k++) do
                    e++;
                while (((unsigned char)*e & 0xC0) == 0x80);
            leak_add(set, hash64(p, (size_t)(e - p), 77), sqlite3_column_int64(st, 0));
            do p++;
            while (((unsigned char)*p & 0xC0) == 0x80);
        }
        free(t);
    }
    sqlite3_finalize(st);
    return 0;
}

static void find_leaks(const AuditData *a, const LeakSet *set, const char *sample, json_t *out, long *count) {
    size_t chars;
    char *t = sketch_normalize(sample, strlen(sample), &chars);
    const char *p = t;
    int64_t last = -1;
    for (size_t c = 0; c + LEAK_WINDOW <= chars; c++) {
        const char *e = p;
        for (int k = 0; k < LEAK_WINDOW; k++) do
                e++;
            while (((unsigned char)*e & 0xC0) == 0x80);
        int64_t row = leak_find(set, hash64(p, (size_t)(e - p), 77));
        if (row >= 0 && row != last) {
            json_t *o = post_json(a, row);
            json_object_set_new(o, "window", json_stringn(p, (size_t)(e - p)));
            json_array_append_new(out, o);
            (*count)++;
            last = row;
        }
        do p++;
        while (((unsigned char)*p & 0xC0) == 0x80);
    }
    free(t);
}

/* ---- membership inference ---- */

static int mink_scores(const InferModel *m, const TestPost *p, int n, int32_t eot, double *out) {
    int V = m->cfg.vocab_size;
    InferState *st = infer_state_new(m);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        int len = p[i].n + 1 < m->cfg.n_ctx ? p[i].n + 1 : m->cfg.n_ctx;
        int32_t *ids = xmalloc((size_t)len * sizeof(int32_t));
        ids[0] = eot;
        for (int t = 1; t < len; t++) ids[t] = p[i].tokens[t - 1];
        float *logits = xmalloc((size_t)len * V * sizeof(float));
        infer_state_reset(st);
        if (!infer_prefill(st, ids, len, logits)) rc = -1;
        else out[i] = mink_pp_score(logits, ids, len, V, 0.2);
        free(logits);
        free(ids);
    }
    infer_state_free(st);
    return rc;
}

/* ---- the whole report ---- */

/* A line on stderr as each stage starts: the whole report takes minutes
 * on a 124M model. */
static void stage(const char *what, double t0) {
    fprintf(stderr, "chirp audit memorization: %s (%.1f s)\n", what, time_now() - t0);
}

static int row_length(const char *model_dir, int n_ctx) {
    char *p = path_join(model_dir, "chirp.json");
    json_t *o = json_load_file(p, 0, NULL);
    free(p);
    json_t *seq = json_object_get(json_object_get(o, "hyperparameters"), "seq");
    int T = json_is_integer(seq) ? (int)json_integer_value(seq) : n_ctx;
    json_decref(o);
    return T > 0 ? T : n_ctx;
}

int memorization_run(const MemOptions *o, json_t **report, long *leaks) {
    double t0 = time_now();
    *report = NULL;
    *leaks = 0;
    char *model_tok = path_join(o->model_dir, "tokenizer.json");
    const char *tok = o->tokenizer ? o->tokenizer : path_exists(model_tok) ? model_tok : NULL;
    AuditData a;
    int rc = audit_data_open(&a, o->dataset, tok, true);
    free(model_tok);
    if (rc != 0) return -1;
    InferModel m;
    if (infer_model_load(&m, o->model_dir, o->quant) != 0) {
        audit_data_close(&a);
        return -1;
    }
    int32_t eot = tokenizer_eot_id(a.tok);
    char *data_dir = catalog_get_meta(a.db, "data_dir");
    int T = row_length(o->model_dir, m.cfg.n_ctx);
    int ntr = 0, nho = 0;
    TestPost *trained = data_dir ? load_posts(&a, data_dir, "train", o->samples, T, &ntr) : NULL;
    TestPost *held = trained ? load_posts(&a, data_dir, "val", o->samples, T, &nho) : NULL;
    if (!data_dir) chirp_fail("the catalog has no shard folder (run chirp prepare)");
    free(data_dir);
    if (!trained || !held) {
        free_posts(trained, ntr);
        infer_model_destroy(&m);
        audit_data_close(&a);
        return -1;
    }
    count_copies(a.db, trained, ntr);
    fprintf(stderr, "chirp audit memorization: %d trained and %d held-out posts of >= %d tokens, rows of %d tokens\n",
            ntr, nho, MIN_TOKENS, T);

    Extraction tr[2][2] = {{{0}}}, ho[2][2] = {{{0}}}, tr_copies[2][2][4] = {{{{0}}}}, ho_copies[2][2][4] = {{{{0}}}};
    stage("targeted extraction (k = 8 and 16, alone and in context)", t0);
    rc = extract(&m, trained, ntr, eot, o->group, tr, tr_copies);
    if (rc == 0) rc = extract(&m, held, nho, eot, o->group, ho, ho_copies);

    /* Untargeted samples: generate's defaults, from <|endoftext|>, and on
     * past the ends of posts as training rows go on (an overfit model that
     * always opens with the same post still walks on to others). */
    json_t *spans = json_array(), *leak_list = json_array();
    long n_spans = 0, n_leak_posts = 0;
    LeakSet set = {0};
    if (rc == 0) rc = leak_windows(a.db, &set, &n_leak_posts);
    if (rc == 0) stage("untargeted samples, searched in the index", t0);
    DecodeJob *jobs = xcalloc((size_t)o->untargeted + 1, sizeof(DecodeJob));
    for (int i = 0; rc == 0 && i < o->untargeted; i++) {
        SamplerConfig sc;
        sampler_config_default(&sc);
        sc.temperature = 0.8f;
        sc.top_p = 0.95f;
        sc.seed = o->seed + (uint64_t)i;
        jobs[i] = (DecodeJob){.prompt = &eot,
                              .n_prompt = 1,
                              .max_new = o->sample_tokens,
                              .sampler = sc,
                              .stop = -1,
                              .out = xmalloc((size_t)o->sample_tokens * sizeof(int32_t) + 4)};
    }
    if (rc == 0) rc = decode_batch(&m, jobs, o->untargeted, o->group);
    for (int i = 0; rc == 0 && i < o->untargeted; i++) {
        verbatim_spans(&a, jobs[i].out, jobs[i].n_out, spans, &n_spans);
        char *text = decode_text(a.tok, jobs[i].out, jobs[i].n_out);
        find_leaks(&a, &set, text, leak_list, leaks);
        free(text);
    }
    for (int i = 0; i < o->untargeted; i++) free(jobs[i].out);
    free(jobs);
    free(set.keys);
    free(set.rows);

    double *s_tr = xcalloc((size_t)ntr + 1, sizeof(double)), *s_ho = xcalloc((size_t)nho + 1, sizeof(double));
    if (rc == 0) stage("membership inference (Min-K%++)", t0);
    if (rc == 0) rc = mink_scores(&m, trained, ntr, eot, s_tr);
    if (rc == 0) rc = mink_scores(&m, held, nho, eot, s_ho);

    if (rc == 0) {
        json_t *targeted = json_object();
        for (int ki = 0; ki < 2; ki++) {
            for (int mode = 0; mode < 2; mode++) {
                char key[32];
                snprintf(key, sizeof key, "k%d_%s", KS[ki], MODES[mode]);
                json_t *copies = json_object();
                for (int b = 0; b < 4; b++)
                    if (tr_copies[ki][mode][b].tested)
                        json_object_set_new(copies, BUCKETS[b], extraction_json(&tr_copies[ki][mode][b]));
                json_object_set_new(targeted, key,
                                    json_pack("{s:o, s:o, s:o}", "trained", extraction_json(&tr[ki][mode]), "held_out",
                                              extraction_json(&ho[ki][mode]), "trained_by_copies", copies));
            }
        }
        char *model_name = xstrdup(o->model_dir);
        *report = json_pack(
            "{s:s, s:i, s:s, s:s, s:s, s:{s:i, s:i, s:i, s:i, s:i}, s:o, s:{s:i, s:i, s:s, s:I, s:o}, "
            "s:{s:I, s:I, s:o}, s:{s:s, s:f, s:f, s:i, s:i, s:s}, s:f}",
            "format", "chirp-memorization-report", "version", 1, "model", model_name, "weights",
            infer_quant_name(m.quant), "dataset", o->dataset, "settings", "posts_per_side", o->samples, "min_tokens",
            MIN_TOKENS, "max_continuation", MAX_CONTINUATION, "row_tokens", T, "sample_tokens", o->sample_tokens,
            "targeted", targeted, "untargeted", "samples", o->untargeted, "min_chars", LEAK_WINDOW, "sampling",
            "temperature 0.8, top-p 0.95 (chirp generate's)", "verbatim_spans", (json_int_t)n_spans, "spans", spans,
            "leaks", "posts_checked", (json_int_t)n_leak_posts, "found", (json_int_t)*leaks, "hits", leak_list,
            "membership_inference", "method", "Min-K%++ (k = 20%)", "auroc", auroc(s_tr, ntr, s_ho, nho),
            "tpr_at_1pct_fpr", tpr_at_fpr(s_tr, ntr, s_ho, nho, 0.01), "trained", ntr, "held_out", nho, "note",
            "a measure of how much the model leaks about its training set as a whole, not evidence about any "
            "single post",
            "seconds", time_now() - t0);
        free(model_name);
        spans = leak_list = NULL;
    }
    json_decref(spans);
    json_decref(leak_list);
    free(s_tr);
    free(s_ho);
    free_posts(trained, ntr);
    free_posts(held, nho);
    infer_model_destroy(&m);
    audit_data_close(&a);
    return rc;
}
