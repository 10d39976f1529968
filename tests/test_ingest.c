/* test_ingest.c: the ingest pipeline end to end: decisions and catalog
 * contents checked with SQL, opt-outs, splits, all-or-nothing updates,
 * conversations from the musk reply threads, and the CLI's exit codes. */
#include "testutil.h"

#include "data/catalog.h"
#include "data/ingest.h"
#include "util/error.h"
#include "util/file.h"

#include <jansson.h>
#include <signal.h>

static char *write_tmp(const char *dir, const char *name, const char *data) {
    char *path = path_join(dir, name);
    assert_int_equal(file_write_atomic(path, data, strlen(data)), 0);
    return path;
}

static long long q(sqlite3 *db, const char *sql) {
    long long v = catalog_count(db, sql);
    if (v < 0) fail_msg("query failed: %s: %s", sql, chirp_error());
    return v;
}

static const char sample_csv[] = "tweet_id,author_id,username,replied_to,text\n"
                                 "1,10,ann,[],First post here\n"         /* kept */
                                 "2,10,ann,[1],Reply &amp; more\n"       /* kept, replies to 1 */
                                 "3,11,bob,[],First post here\n"         /* duplicate of 1 */
                                 "4,12,cy,[],RT @ann: First post here\n" /* retweet */
                                 "5,13,dee,[],hi\n"                      /* too short (min 3) */
                                 "6,14,eve,[],\"   \"\n"                 /* empty */
                                 "7,15,fay,[],bad \xC3(\n"               /* malformed: invalid UTF-8 */
                                 "8,16,gus,[2],Opted out post\n"         /* optout by post id */
                                 "9,17,hal,[],By an opted-out author\n"  /* optout by author id */
                                 "10,18,Ivy,[],By an opted-out handle\n" /* optout by handle */
                                 "11,19,jo,[],Opted out post\n"          /* copy of an opted-out text */
                                 "12,20,kim,[8],first post here!\n"      /* near-duplicate of 1 */
                                 "13,21,lee\n";                          /* malformed: too few fields */

static void ingest_sample(const char *dir, const char *out, double near) {
    char *csv = write_tmp(dir, "sample.csv", sample_csv);
    char *oo = write_tmp(dir, "optout.txt", "post:8\nauthor:17\nauthor:@ivy\n");
    const char *inputs[] = {csv};
    const char *optouts[] = {oo};
    IngestOptions opt;
    ingest_options_init(&opt);
    opt.inputs = inputs;
    opt.ninputs = 1;
    opt.optout_files = optouts;
    opt.noptout = 1;
    opt.min_chars = 3;
    opt.near_dup = near;
    opt.out = out;
    opt.max_warnings = 0;
    IngestStats st;
    if (ingest_run(&opt, &st) != 0) fail_msg("ingest failed: %s", chirp_error());
    assert_int_equal(st.posts, 13);
    free(csv);
    free(oo);
}

static void test_decisions_in_catalog(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char *out = path_join(dir, "ds");
    ingest_sample(dir, out, 0.5);
    sqlite3 *db = catalog_open(out, false);
    assert_non_null(db);
    assert_int_equal(q(db, "SELECT count(*) FROM posts"), 13);
    assert_int_equal(q(db, "SELECT count(*) FROM sources WHERE records = 13 AND format = 'csv'"), 1);
    static const struct {
        const char *id, *decision;
    } want[] = {
        {"1", "kept"},
        {"2", "kept"},
        {"3", "dropped:duplicate"},
        {"4", "dropped:retweet"},
        {"5", "dropped:too-short"},
        {"6", "dropped:empty"},
        {"7", "dropped:malformed"},
        {"8", "dropped:optout"},
        {"9", "dropped:optout"},
        {"10", "dropped:optout"},
        {"11", "dropped:optout"},
        {"12", "dropped:near-duplicate"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM posts WHERE post_id = '%s' AND decision = '%s'", want[i].id,
                 want[i].decision);
        if (q(db, sql) != 1) fail_msg("post %s: expected %s", want[i].id, want[i].decision);
    }
    /* The short record has no usable id; it is row 13, record 13. */
    assert_int_equal(q(db, "SELECT count(*) FROM posts WHERE record = 13 AND decision = 'dropped:malformed'"
                           " AND detail LIKE 'record has 3 fields%'"),
                     1);
    assert_int_equal(q(db, "SELECT count(*) FROM posts WHERE post_id = '7' AND detail LIKE 'invalid UTF-8%'"), 1);
    /* Provenance columns. */
    assert_int_equal(q(db, "SELECT count(*) FROM posts WHERE post_id = '2' AND author = '10' AND handle = 'ann'"
                           " AND reply_to = '1' AND record = 2 AND line = 3 AND text = 'Reply & more'"
                           " AND split IN ('train', 'val') AND length(text_hash) = 16"),
                     1);
    /* Every post whose text could be read keeps it (the audit checks that
     * dropped ones do not come back); malformed ones have none; duplicates
     * point at the first. */
    assert_int_equal(q(db, "SELECT count(*) FROM posts WHERE decision = 'kept' AND text IS NOT NULL"), 2);
    assert_int_equal(q(db, "SELECT count(*) FROM posts WHERE decision = 'dropped:malformed' AND text IS NOT NULL"), 0);
    assert_int_equal(q(db, "SELECT count(*) FROM posts WHERE decision NOT IN ('kept', 'dropped:malformed',"
                           " 'dropped:empty') AND text IS NULL"),
                     0);
    assert_int_equal(q(db, "SELECT count(*) FROM posts WHERE post_id = '3' AND detail = 'same text as row 1'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM posts WHERE post_id = '11' AND"
                           " detail = 'same text as an opted-out post'"),
                     1);
    assert_int_equal(q(db, "SELECT count(*) FROM posts a JOIN posts b ON a.text_hash = b.text_hash"
                           " WHERE a.post_id = '8' AND b.post_id = '11'"),
                     1);
    sqlite3_close(db);
    free(out);
}

static void test_near_dup_disabled(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char *out = path_join(dir, "ds");
    ingest_sample(dir, out, 0);
    sqlite3 *db = catalog_open(out, false);
    assert_int_equal(q(db, "SELECT count(*) FROM posts WHERE post_id = '12' AND decision = 'kept'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM posts WHERE decision = 'dropped:near-duplicate'"), 0);
    sqlite3_close(db);
    free(out);
}

static void test_split_is_deterministic(void **state) {
    (void)state;
    long val = 0;
    char text[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(text, sizeof text, "%d", i);
        unsigned long long h = 0x9e3779b97f4a7c15ULL * (unsigned long long)(i + 1);
        const char *a = ingest_split(h, 0.1), *b = ingest_split(h, 0.1);
        assert_ptr_equal(a, b);
        val += strcmp(a, "val") == 0;
        assert_string_equal(ingest_split(h, 0), "train");
        assert_string_equal(ingest_split(h, 1), "val");
    }
    /* 10% +- 5 sigma. */
    assert_true(val > 9500 && val < 10500);
}

static void test_failed_ingest_keeps_old_catalog(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char *out = path_join(dir, "ds");
    ingest_sample(dir, out, 0.8);
    char *cat = path_join(out, CATALOG_FILE);
    size_t before_len, after_len;
    char *before = file_read_all(cat, &before_len);
    /* A good file, then one that does not exist: fatal, nothing changes. */
    char *good = write_tmp(dir, "good.csv", "text\nanother post\n");
    char args[2048], *msg = NULL;
    snprintf(args, sizeof args, "ingest --input %s %s/missing.csv --out %s", good, dir, out);
    assert_int_equal(test_run_chirp(args, &msg), 1);
    assert_non_null(strstr(msg, "missing.csv"));
    free(msg);
    /* A truncated zip archive: fatal too. */
    char *zip = write_tmp(dir, "cut.zip", "PK\x03\x04 not really a zip");
    snprintf(args, sizeof args, "ingest --input %s %s --out %s", good, zip, out);
    assert_int_equal(test_run_chirp(args, &msg), 1);
    assert_non_null(strstr(msg, "cut.zip"));
    free(msg);
    char *after = file_read_all(cat, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    /* No temp files left behind. */
    char **list = NULL;
    char *pattern = path_join(out, "*.tmp*");
    assert_int_equal(path_glob(pattern, &list), -1);
    /* A successful run replaces the dataset. */
    snprintf(args, sizeof args, "ingest --input %s --out %s", good, out);
    assert_int_equal(test_run_chirp(args, NULL), 0);
    sqlite3 *db = catalog_open(out, false);
    assert_int_equal(q(db, "SELECT count(*) FROM posts"), 1);
    sqlite3_close(db);
    free(pattern);
    free(before);
    free(after);
    free(zip);
    free(good);
    free(cat);
    free(out);
}

/* Kills an ingest part-way: the old catalog must be intact, and the next
 * ingest removes the dead run's temp file. */
static void test_killed_ingest(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char *out = path_join(dir, "ds");
    ingest_sample(dir, out, 0.8);
    char *cat = path_join(out, CATALOG_FILE);
    size_t before_len, after_len;
    char *before = file_read_all(cat, &before_len);
    char *big = path_join(dir, "big.csv");
    FILE *f = fopen(big, "w");
    fprintf(f, "id,text\n");
    for (int i = 0; i < 300000; i++) fprintf(f, "%d,post number %ld with some words in it\n", i, (long)i * 7919);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        execl(chirp_bin(), chirp_bin(), "ingest", "--input", big, "--out", out, (char *)NULL);
        _exit(127);
    }
    usleep(300 * 1000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    char *after = file_read_all(cat, &after_len);
    if (WIFSIGNALED(status)) { /* killed before it finished: nothing changed */
        assert_int_equal(before_len, after_len);
        assert_memory_equal(before, after, before_len);
    }
    free(after);
    char *fake = path_join(out, CATALOG_FILE ".tmp.999999999");
    assert_int_equal(file_write_atomic(fake, "x", 1), 0);
    ingest_sample(dir, out, 0.8);
    assert_false(path_exists(fake));
    char *pattern = path_join(out, "*.tmp.*");
    char **list = NULL;
    assert_int_equal(path_glob(pattern, &list), -1);
    free(pattern);
    free(fake);
    free(before);
    free(big);
    free(cat);
    free(out);
}

static void test_cli_usage_and_stats(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char args[2048], *msg = NULL;
    assert_int_equal(test_run_chirp("ingest --out x", &msg), 2);
    assert_non_null(strstr(msg, "--input"));
    free(msg);
    assert_int_equal(test_run_chirp("ingest --input a.csv --out x --urls hide", &msg), 2);
    free(msg);
    assert_int_equal(test_run_chirp("ingest --input a.csv --out x --format xml", &msg), 2);
    free(msg);
    assert_int_equal(test_run_chirp("ingest --input a.csv --out x --near-dup 1.5", &msg), 2);
    free(msg);
    assert_int_equal(test_run_chirp("catalog stats", &msg), 2);
    free(msg);
    snprintf(args, sizeof args, "catalog stats %s/nothing", dir);
    assert_int_equal(test_run_chirp(args, &msg), 1);
    assert_non_null(strstr(msg, "not a dataset"));
    free(msg);
    char *out = path_join(dir, "ds");
    ingest_sample(dir, out, 0.8);
    snprintf(args, sizeof args, "catalog stats %s", out);
    assert_int_equal(test_run_chirp(args, &msg), 0);
    assert_non_null(strstr(msg, "13 posts, 2 kept"));
    assert_non_null(strstr(msg, "dropped:optout"));
    assert_non_null(strstr(msg, "sample.csv [csv]"));
    free(msg);
    /* A missing named column: exit 1, message names file and column. */
    snprintf(args, sizeof args, "ingest --input %s/sample.csv --text-field body --out %s/ds2", dir, dir);
    assert_int_equal(test_run_chirp(args, &msg), 1);
    assert_non_null(strstr(msg, "sample.csv: line 1: no column 'body'"));
    free(msg);
    /* A malformed record is reported with file and record, the rest kept. */
    snprintf(args, sizeof args, "ingest --input %s/sample.csv --out %s/ds3", dir, dir);
    assert_int_equal(test_run_chirp(args, &msg), 0);
    assert_non_null(strstr(msg, "sample.csv: record 7 (line 8): invalid UTF-8"));
    free(msg);
    free(out);
}

/* A folder that is not an X archive: its files in sorted order, the rest
 * skipped with reasons; the Trump archive folder as shipped. */
static void test_input_folders(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char sub[600], args[8192], *msg = NULL;
    snprintf(sub, sizeof sub, "%s/in", dir);
    assert_int_equal(dir_create(sub), 0);
    free(write_tmp(sub, "b.csv", "tweet_id,author_id,text\n3,1,Third post from b\n4,1,Fourth post from b\n"));
    free(write_tmp(sub, "a.csv", "tweet_id,author_id,text\n1,1,First post from a\n2,1,Second post from a\n"));
    free(write_tmp(sub, "c.jsonl", "{\"id\": \"5\", \"text\": \"Fifth post from c\"}\n"));
    free(write_tmp(sub, "users.csv", "user_id,name\n1,ann\n"));
    free(write_tmp(sub, "notes.md", "# notes, not posts\n"));
    free(write_tmp(sub, ".hidden.csv", "tweet_id,text\n9,hidden post\n"));
    char *bin = path_join(sub, "blob.dat");
    assert_int_equal(file_write_atomic(bin, "ab\0cd", 5), 0);
    free(bin);
    char nested[700];
    snprintf(nested, sizeof nested, "%s/nested", sub);
    assert_int_equal(dir_create(nested), 0);
    snprintf(args, sizeof args, "ingest --input %s --out %s/ds", sub, dir);
    assert_int_equal(test_run_chirp(args, &msg), 0);
    const char *reasons[] = {"blob.dat: binary",
                             "nested: a folder",
                             "notes.md: format not recognised",
                             "users.csv: line 1: no column 'text'",
                             "from 3 file(s)",
                             "skipped 5 folder entries"};
    for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
        if (!strstr(msg, reasons[i])) fail_msg("no '%s' in:\n%s", reasons[i], msg);
    assert_non_null(strstr(msg, ".hidden.csv: hidden"));
    free(msg);
    char *ds = path_join(dir, "ds");
    sqlite3 *db = catalog_open(ds, false);
    assert_int_equal(q(db, "SELECT count(*) FROM posts WHERE decision = 'kept'"), 5);
    /* Sorted order: a.csv, b.csv, c.jsonl are sources 1, 2, 3. */
    assert_int_equal(q(db, "SELECT count(*) FROM sources WHERE id = 1 AND path LIKE '%/a.csv'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM sources WHERE id = 3 AND path LIKE '%/c.jsonl' AND format = 'jsonl'"),
                     1);
    assert_int_equal(q(db, "SELECT source_id FROM posts WHERE post_id = '3'"), 2);
    sqlite3_close(db);
    free(ds);
    /* A folder with nothing to read is an error that says so. */
    snprintf(args, sizeof args, "ingest --input %s --out %s/ds2", nested, dir);
    assert_int_equal(test_run_chirp(args, &msg), 1);
    assert_non_null(strstr(msg, "no file in this folder has a format chirp reads"));
    free(msg);

    const char *trump = testdata_path("tweets-trump");
    if (!trump) return;
    snprintf(args, sizeof args, "ingest --input %s --out %s/trump", trump, dir);
    assert_int_equal(test_run_chirp(args, &msg), 0);
    assert_non_null(strstr(msg, "README.md: format not recognised"));
    assert_non_null(strstr(msg, "from 5 file(s)"));
    free(msg);
    char *tds = path_join(dir, "trump");
    db = catalog_open(tds, false);
    assert_int_equal(q(db, "SELECT count(*) FROM sources WHERE format = 'trump-archive'"), 5);
    assert_int_equal(q(db, "SELECT count(*) FROM sources WHERE id = 1 AND path LIKE '%condensed_2014.json'"), 1);
    assert_int_equal(q(db, "SELECT count(*) FROM sources WHERE id = 5 AND path LIKE '%condensed_2018.json'"), 1);
    assert_true(q(db, "SELECT count(*) FROM posts") > 20000);
    sqlite3_close(db);
    free(tds);
}

static void test_musk_conversations(void **state) {
    (void)state;
    const char *csv = testdata_path("tweets-musk/Tweet.csv");
    if (!csv) skip();
    char *path = xstrdup(csv);
    const char *dir = test_tmpdir();
    char *out = path_join(dir, "musk");
    const char *inputs[] = {path};
    IngestOptions opt;
    ingest_options_init(&opt);
    opt.inputs = inputs;
    opt.ninputs = 1;
    opt.out = out;
    opt.keep_retweets = true;
    opt.near_dup = 0;
    IngestStats st;
    assert_int_equal(ingest_run(&opt, &st), 0);
    assert_int_equal(st.posts, 5450);
    sqlite3 *db = catalog_open(out, false);
    long long kept = q(db, "SELECT count(*) FROM posts WHERE decision = 'kept'");
    assert_true(kept > 5000);
    /* Expected chains, computed with SQL from the catalog: kept replies
     * whose parent is kept and which no kept post replies to. */
    long long leaves = q(db, "SELECT count(*) FROM posts c WHERE c.decision = 'kept'"
                             " AND EXISTS (SELECT 1 FROM posts p WHERE p.post_id = c.reply_to AND p.decision = 'kept')"
                             " AND NOT EXISTS (SELECT 1 FROM posts k WHERE k.reply_to = c.post_id"
                             "                 AND k.decision = 'kept')");
    sqlite3_close(db);
    assert_true(leaves > 2000);
    assert_int_equal(st.conversations, leaves);
    char *conv = path_join(out, "conversations.jsonl");
    FILE *f = fopen(conv, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    long lines = 0, longest = 0;
    while (getline(&line, &cap, f) > 0) {
        lines++;
        json_error_t err;
        json_t *obj = json_loads(line, 0, &err);
        assert_non_null(obj);
        json_t *msgs = json_object_get(obj, "messages");
        assert_true(json_array_size(msgs) >= 2);
        if ((long)json_array_size(msgs) > longest) longest = (long)json_array_size(msgs);
        for (size_t i = 0; i < json_array_size(msgs); i++) {
            const char *role = json_string_value(json_object_get(json_array_get(msgs, i), "role"));
            assert_string_equal(role, i % 2 ? "assistant" : "user");
            assert_true(json_string_length(json_object_get(json_array_get(msgs, i), "content")) > 0);
        }
        json_decref(obj);
    }
    free(line);
    fclose(f);
    assert_int_equal(lines, leaves);
    /* The README's chain depths go up to 5 links (6 posts). */
    assert_true(longest >= 4 && longest <= 6);
    free(conv);
    free(out);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decisions_in_catalog),   cmocka_unit_test(test_near_dup_disabled),
        cmocka_unit_test(test_split_is_deterministic), cmocka_unit_test(test_failed_ingest_keeps_old_catalog),
        cmocka_unit_test(test_killed_ingest),          cmocka_unit_test(test_cli_usage_and_stats),
        cmocka_unit_test(test_musk_conversations),     cmocka_unit_test(test_input_folders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
