/* test_shard_sets.c: uint32 shards (llm.c's magic 20240801) at a
 * vocabulary of 70,000, end to end through prepare, train, eval and the
 * audit index; and prepare killed at every step of replacing a shard set,
 * after which the catalog and the files still agree and the next prepare
 * finishes cleanly. */
#include "testutil.h"

#include <dirent.h>
#include <jansson.h>

#include "data/catalog.h"
#include "data/shards.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/file.h"

/* n posts of random lowercase words (a fixed LCG), as a CSV and as a
 * plain-text corpus for the tokenizer. */
static void write_posts(const char *dir, int n, int words) {
    char path[600];
    snprintf(path, sizeof path, "%s/posts.csv", dir);
    FILE *csv = fopen(path, "w");
    snprintf(path, sizeof path, "%s/corpus.txt", dir);
    FILE *txt = fopen(path, "w");
    assert_true(csv && txt);
    fprintf(csv, "tweet_id,author_id,text\n");
    unsigned long long s = 42;
    for (int i = 1; i <= n; i++) {
        fprintf(csv, "%d,%d,\"", i, 100 + i % 5);
        for (int w = 0; w < words; w++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            int len = 3 + (int)((s >> 33) % 7);
            if (w) {
                fputc(' ', csv);
                fputc(' ', txt);
            }
            for (int k = 0; k < len; k++) {
                s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                char c = (char)('a' + (s >> 33) % 26);
                fputc(c, csv);
                fputc(c, txt);
            }
        }
        fputs("\"\n", csv);
        fputc('\n', txt);
    }
    fclose(csv);
    fclose(txt);
}

/* Every kept post's manifest entry decodes, from the shard it names, to
 * the post's text followed by <|endoftext|>. Returns the largest token id seen. */
static uint32_t check_manifest(const char *ds, const char *data, const Tokenizer *tok) {
    sqlite3 *db = catalog_open(ds, false);
    assert_non_null(db);
    sqlite3_stmt *sel = catalog_prepare(db, "SELECT shard, token_offset, token_count, text FROM posts"
                                            " WHERE decision = 'kept'");
    int32_t eot = tokenizer_eot_id(tok);
    uint32_t max_id = 0;
    long checked = 0;
    Buf text = {0};
    while (sqlite3_step(sel) == SQLITE_ROW) {
        char *path = path_join(data, (const char *)sqlite3_column_text(sel, 0));
        size_t n;
        uint32_t *t = shard_read(path, &n, NULL);
        if (!t) fail_msg("%s: %s", path, chirp_error());
        size_t off = (size_t)sqlite3_column_int64(sel, 1), cnt = (size_t)sqlite3_column_int64(sel, 2);
        assert_true(off + cnt < n);
        assert_int_equal(t[off + cnt], eot);
        int32_t *ids = malloc((cnt + 1) * sizeof *ids);
        for (size_t i = 0; i < cnt; i++) {
            ids[i] = (int32_t)t[off + i];
            if (t[off + i] > max_id) max_id = t[off + i];
        }
        long len = tokenizer_decode(tok, ids, cnt, NULL, 0);
        buf_grow(&text, (size_t)len + 1);
        tokenizer_decode(tok, ids, cnt, text.data, text.cap);
        assert_int_equal(len, sqlite3_column_bytes(sel, 3));
        assert_memory_equal(text.data, sqlite3_column_text(sel, 3), (size_t)len);
        free(ids);
        free(t);
        free(path);
        checked++;
    }
    buf_free(&text);
    sqlite3_finalize(sel);
    assert_true(checked > 0);
    assert_int_equal(checked, catalog_count(db, "SELECT count(*) FROM posts WHERE decision = 'kept'"));
    sqlite3_close(db);
    return max_id;
}

static void test_uint32_shards_at_70000(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char args[4096], tj[600], data[600], ds[600];
    write_posts(dir, 3000, 60);
    snprintf(args, sizeof args,
             "tokenizer train --input %s/corpus.txt --vocab-size 70000 --min-frequency 1 --out %s/tok", dir, dir);
    assert_int_equal(test_run_chirp(args, NULL), 0);
    snprintf(tj, sizeof tj, "%s/tok/tokenizer.json", dir);
    Tokenizer *tok = tokenizer_load(tj);
    assert_non_null(tok);
    assert_int_equal(tokenizer_vocab_size(tok), 70000);
    snprintf(ds, sizeof ds, "%s/ds", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(args, sizeof args, "ingest --input %s/posts.csv --near-dup 0 --out %s", dir, ds);
    assert_int_equal(test_run_chirp(args, NULL), 0);
    snprintf(args, sizeof args, "prepare --dataset %s --tokenizer %s --out %s", ds, tj, data);
    char *out = NULL;
    int rc = test_run_chirp(args, &out);
    if (rc != 0) fail_msg("prepare: %s", out);
    free(out);

    /* The header llm.c's data scripts write for uint32 tokens. */
    char p0[700];
    snprintf(p0, sizeof p0, "%s/train_000.bin", data);
    size_t len;
    char *raw = file_read_all(p0, &len);
    assert_non_null(raw);
    int32_t header[256];
    memcpy(header, raw, sizeof header);
    free(raw);
    assert_int_equal(header[0], 20240801);
    assert_int_equal(header[1], 7);
    assert_int_equal(len, 1024 + 4 * (size_t)header[2]);
    uint32_t max_id = check_manifest(ds, data, tok);
    printf("  largest token id in the shards: %u\n", max_id);
    assert_true(max_id > 65535);

    /* Train reads them (a token over 65,535 must reach the model), eval
     * too; the first loss is about ln(70000) = 11.16. */
    snprintf(
        args, sizeof args,
        "train --train '%s/train_*.bin' --val '%s/val_*.bin' --layers 1 --heads 1 --embd 16 --ctx 32 --vocab 70000 "
        "--tokenizer %s --batch 2 --seq 32 --steps 3 --eval-batches 2 --out %s/run --threads 2",
        data, data, tj, dir);
    out = NULL;
    rc = test_run_chirp(args, &out);
    if (rc != 0) fail_msg("train: %s", out);
    const char *l1 = strstr(out, "step 1 loss ");
    assert_non_null(l1);
    double loss = atof(l1 + 12);
    assert_true(loss > 10.5 && loss < 11.8);
    free(out);
    snprintf(args, sizeof args, "eval --model %s/run/step_3 --data '%s/val_*.bin' --seq 32", dir, data);
    out = NULL;
    rc = test_run_chirp(args, &out);
    if (rc != 0) fail_msg("eval: %s", out);
    free(out);

    /* The audit index keeps 4 bytes a token and finds a post by its text. */
    snprintf(args, sizeof args, "audit index --dataset %s", ds);
    assert_int_equal(test_run_chirp(args, NULL), 0);
    sqlite3 *db = catalog_open(ds, false);
    sqlite3_stmt *st = catalog_prepare(db, "SELECT source_id, text FROM posts WHERE split = 'train' LIMIT 1");
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    char id[64], text[200];
    snprintf(id, sizeof id, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(text, sizeof text, "%.120s", (const char *)sqlite3_column_text(st, 1));
    sqlite3_finalize(st);
    sqlite3_close(db);
    *strrchr(text, ' ') = '\0'; /* whole words only */
    snprintf(args, sizeof args, "audit find --dataset %s --text '%s' --json", ds, text);
    out = NULL;
    rc = test_run_chirp(args, &out);
    if (rc != 0) fail_msg("audit find: %s", out);
    json_t *j = json_loads(out, 0, NULL);
    if (!j) fail_msg("audit find printed no JSON: %s", out);
    assert_true(json_integer_value(json_object_get(j, "count")) >= 1);
    json_t *post = json_array_get(json_object_get(j, "posts"), 0);
    assert_string_equal(json_string_value(json_object_get(post, "post_id")), id);
    json_decref(j);
    free(out);
    char ixj[700];
    snprintf(ixj, sizeof ixj, "%s/audit_index/index.json", ds);
    json_t *ix = json_load_file(ixj, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(ix, "token_bytes")), 4);
    json_decref(ix);
    tokenizer_free(tok);
}

/* No .next or temporary files left in dir. */
static int leftovers(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".next") || strstr(e->d_name, ".tmp")) n++;
    closedir(d);
    return n;
}

/* What training sees right after a crash: either the whole old set or the
 * whole new set, never a mix, or a clear refusal. */
static void check_train_view(const char *data, const char *ds) {
    char args[2048];
    snprintf(args, sizeof args, "eval --model %s/model --data '%s/train_*.bin' --seq 16", ds, data);
    char *out = NULL;
    int rc = test_run_chirp(args, &out);
    if (rc != 0 && !strstr(out, "interrupted chirp prepare")) fail_msg("eval after a crash: %s", out);
    free(out);
}

static void test_prepare_killed_at_every_step(void **state) {
    (void)state;
    const char *points[] = {"prepare:one-shard-written", "prepare:shards-written", "prepare:manifest-committed",
                            "prepare:switching",         "prepare:switched",       "prepare:provenance-written"};
    char mdir[512];
    assert_int_equal(test_tiny_model(mdir, sizeof mdir, 3), 0);
    char tj[600];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", mdir);
    Tokenizer *tok = tokenizer_load(tj);
    assert_non_null(tok);
    for (size_t k = 0; k < sizeof points / sizeof *points; k++) {
        const char *dir = test_tmpdir();
        char args[4096], ds[600], data[600];
        write_posts(dir, 120, 12);
        snprintf(ds, sizeof ds, "%s/ds", dir);
        snprintf(data, sizeof data, "%s/data", dir);
        snprintf(args, sizeof args, "ingest --input %s/posts.csv --near-dup 0 --out %s >/dev/null", dir, ds);
        assert_int_equal(test_run_chirp(args, NULL), 0);
        /* The model eval uses after a crash (any model of this vocabulary). */
        snprintf(args, sizeof args, "cp -r %s %s/model", mdir, ds);
        assert_int_equal(run_capture(args, NULL), 0);
        /* The set in force: small shards, so the next run both replaces
         * and removes some. */
        snprintf(args, sizeof args, "prepare --dataset %s --tokenizer %s --out %s --shard-tokens 600", ds, tj, data);
        assert_int_equal(test_run_chirp(args, NULL), 0);
        char cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "CHIRP_CRASH_AT=%s %s prepare --dataset %s --tokenizer %s --out %s --shard-tokens 2000"
                 " >/dev/null 2>&1",
                 points[k], chirp_bin(), ds, tj, data);
        int rc = run_capture(cmd, NULL);
        printf("  killed at %s: exit %d\n", points[k], rc);
        assert_true(rc == 137 || rc == -1); /* killed by SIGKILL (the shell reports 128 + 9) */
        /* Before any repair: the catalog (when nothing is pending) names
         * shards that hold its posts; training sees one whole set or refuses. */
        sqlite3 *db = catalog_open(ds, false);
        char *pending = catalog_get_meta(db, "shards_pending");
        sqlite3_close(db);
        int is_pending = pending && *pending;
        free(pending);
        if (!is_pending) check_manifest(ds, data, tok);
        check_train_view(data, ds);
        /* The next run finishes or undoes it, then does its own work. */
        snprintf(args, sizeof args, "prepare --dataset %s --tokenizer %s --out %s --shard-tokens 2000", ds, tj, data);
        char *out = NULL;
        rc = test_run_chirp(args, &out);
        if (rc != 0) fail_msg("prepare after a kill at %s: %s", points[k], out);
        free(out);
        check_manifest(ds, data, tok);
        assert_int_equal(leftovers(data), 0);
        snprintf(args, sizeof args, "eval --model %s/model --data '%s/train_*.bin' --seq 16", ds, data);
        assert_int_equal(test_run_chirp(args, NULL), 0);
        db = catalog_open(ds, false);
        pending = catalog_get_meta(db, "shards_pending");
        assert_true(!pending || !*pending);
        free(pending);
        /* Only the shards the manifest names are left. */
        long long named = catalog_count(db, "SELECT count(DISTINCT shard) FROM posts WHERE shard IS NOT NULL");
        sqlite3_close(db);
        snprintf(args, sizeof args, "ls %s | grep -c '^\\(train\\|val\\)_[0-9]*\\.bin$'", data);
        out = NULL;
        run_capture(args, &out);
        assert_int_equal(atoll(out), named);
        free(out);
    }
    tokenizer_free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uint32_shards_at_70000),
        cmocka_unit_test(test_prepare_killed_at_every_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
