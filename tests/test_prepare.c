/* test_prepare.c: token shards in llm.c's format, the manifest in the
 * catalog, and chirp audit (post id, text, opt-out check with planted hits).
 * Uses GPT-2's tokenizer from the test data. */
#include "testutil.h"

#include <jansson.h>

#include "data/catalog.h"
#include "data/ingest.h"
#include "data/prepare.h"
#include "data/shards.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/file.h"

/* Writes a minimal byte-level BPE tokenizer.json (256 byte tokens, one
 * merge, <|endoftext|> = 257): loads in milliseconds even under ASan, so
 * the CLI tests below stay fast. GPT-2's own is used in-process above. */
static char *tiny_tokenizer(const char *dir) {
    Buf b = {0};
    const char *head = "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":257,\"content\":\"<|endoftext|>\","
                       "\"special\":true}],\"normalizer\":null,\"pre_tokenizer\":{\"type\":\"ByteLevel\","
                       "\"add_prefix_space\":false,\"use_regex\":true},\"model\":{\"type\":\"BPE\",\"vocab\":{";
    buf_push(&b, head, strlen(head));
    int extra = 0;
    for (int byte = 0; byte < 256; byte++) {
        /* GPT-2's byte -> code point table. */
        int printable = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
        int cp = printable ? byte : 256 + extra++;
        char key[16];
        int n = cp < 0x80    ? snprintf(key, sizeof key, "%c", cp)
                : cp < 0x800 ? snprintf(key, sizeof key, "%c%c", 0xC0 | (cp >> 6), 0x80 | (cp & 63))
                             : 0;
        char item[64];
        if (cp == '"' || cp == '\\') n = snprintf(key, sizeof key, "\\%c", cp);
        int m = snprintf(item, sizeof item, "%s\"%.*s\":%d", byte ? "," : "", n, key, byte);
        buf_push(&b, item, (size_t)m);
    }
    const char *tail = ",\"th\":256},\"merges\":[\"t h\"]}}";
    buf_push(&b, tail, strlen(tail));
    char *path = path_join(dir, "tiny.json");
    assert_int_equal(file_write_atomic(path, b.data, b.len), 0);
    buf_free(&b);
    return path;
}

/* 60 posts by 3 authors, some replies; post 7 and author 300 opt out later. */
static char *make_csv(const char *dir) {
    Buf b = {0};
    const char *head = "tweet_id,author_id,replied_to,text\n";
    buf_push(&b, head, strlen(head));
    for (int i = 1; i <= 60; i++) {
        char line[256];
        int n =
            snprintf(line, sizeof line, "%d,%d,[%d],\"Post number %d says %s, caf\xC3\xA9 \xF0\x9F\x98\x80\"\n", i,
                     100 * (1 + i % 3), i > 1 && i % 4 == 0 ? i - 1 : 0, i, i % 2 ? "something odd" : "an even thing");
        buf_push(&b, line, (size_t)n);
    }
    char *path = path_join(dir, "posts.csv");
    assert_int_equal(file_write_atomic(path, b.data, b.len), 0);
    buf_free(&b);
    return path;
}

static void ingest(const char *csv, const char *out, const char *optout) {
    const char *inputs[] = {csv};
    const char *oo[] = {optout};
    IngestOptions opt;
    ingest_options_init(&opt);
    opt.inputs = inputs;
    opt.ninputs = 1;
    opt.optout_files = oo;
    opt.noptout = optout ? 1 : 0;
    opt.val_fraction = 0.2;
    opt.near_dup = 0; /* the posts are deliberately alike */
    opt.out = out;
    IngestStats st;
    if (ingest_run(&opt, &st) != 0) fail_msg("ingest: %s", chirp_error());
}

static void test_shards_and_manifest(void **state) {
    (void)state;
    const char *tokdir = testdata_path("gpt2-tokenizer");
    if (!tokdir) skip();
    Tokenizer *tok = tokenizer_load(tokdir);
    assert_non_null(tok);
    const char *dir = test_tmpdir();
    char *csv = make_csv(dir);
    char *ds = path_join(dir, "ds"), *data = path_join(dir, "data");
    ingest(csv, ds, NULL);
    PrepareOptions po = {.dataset = ds, .out = data, .tokenizer_path = tokdir, .shard_tokens = 200};
    PrepareStats st;
    assert_int_equal(prepare_run(&po, tok, &st), 0);
    assert_int_equal(st.posts, 60);
    assert_true(st.train_shards >= 3); /* 200-token shards force a roll-over */
    assert_true(st.val_shards >= 1);
    /* The provenance summary beside the shards, from the catalog. */
    char *prov_path = path_join(data, "provenance.json");
    json_t *prov = json_load_file(prov_path, 0, NULL);
    assert_non_null(prov);
    assert_int_equal(json_integer_value(json_object_get(prov, "posts_read")), 60);
    assert_int_equal(json_integer_value(json_object_get(prov, "posts_kept")), 60);
    json_t *src0 = json_array_get(json_object_get(prov, "sources"), 0);
    assert_int_equal(json_integer_value(json_object_get(src0, "read")), 60);
    assert_string_equal(json_string_value(json_object_get(src0, "format")), "csv");
    json_t *train_split = json_object_get(json_object_get(prov, "splits"), "train");
    assert_true(json_integer_value(json_object_get(train_split, "posts")) > 40);
    json_decref(prov);
    free(prov_path);

    sqlite3 *db = catalog_open(ds, false);
    assert_int_equal(catalog_count(db, "SELECT count(*) FROM posts WHERE decision = 'kept' AND shard IS NULL"), 0);
    assert_int_equal(catalog_count(db, "SELECT count(*) FROM posts WHERE shard LIKE split || '_%'"), 60);
    assert_int_equal(catalog_count(db, "SELECT sum(token_count) + count(*) FROM posts WHERE split = 'train'"),
                     (long long)st.train_tokens);
    /* Every post: its tokens at its offset decode to its text, then EOT. */
    sqlite3_stmt *sel = catalog_prepare(db, "SELECT shard, token_offset, token_count, text FROM posts"
                                            " WHERE decision = 'kept'");
    int32_t eot = tokenizer_eot_id(tok);
    long checked = 0;
    while (sqlite3_step(sel) == SQLITE_ROW) {
        char *path = path_join(data, (const char *)sqlite3_column_text(sel, 0));
        size_t n;
        uint32_t *t = shard_read(path, &n, NULL);
        assert_non_null(t);
        size_t off = (size_t)sqlite3_column_int64(sel, 1), cnt = (size_t)sqlite3_column_int64(sel, 2);
        assert_true(off + cnt < n);
        assert_int_equal(t[off + cnt], eot);
        assert_true(off == 0 || t[off - 1] == (uint32_t)eot);
        int32_t ids[512];
        for (size_t i = 0; i < cnt; i++) ids[i] = t[off + i];
        char text[2048];
        long len = tokenizer_decode(tok, ids, cnt, text, sizeof text);
        assert_int_equal(len, sqlite3_column_bytes(sel, 3));
        assert_memory_equal(text, sqlite3_column_text(sel, 3), (size_t)len);
        free(t);
        free(path);
        checked++;
    }
    sqlite3_finalize(sel);
    sqlite3_close(db);
    assert_int_equal(checked, 60);

    /* Raw header check of one shard. */
    char *p0 = path_join(data, "train_000.bin");
    size_t len;
    char *raw = file_read_all(p0, &len);
    int32_t header[256];
    memcpy(header, raw, sizeof header);
    assert_int_equal(header[0], 20240520);
    assert_int_equal(header[1], 1);
    assert_int_equal(len, 1024 + 2 * (size_t)header[2]);
    assert_true(header[2] <= 200);
    free(raw);

    /* A second run with big shards leaves no stale train_001.bin behind. */
    po.shard_tokens = 1000000;
    assert_int_equal(prepare_run(&po, tok, &st), 0);
    assert_int_equal(st.train_shards, 1);
    char *p1 = path_join(data, "train_001.bin");
    assert_false(path_exists(p1));
    free(p1);
    free(p0);
    tokenizer_free(tok);
    free(csv);
    free(ds);
    free(data);
}

static void test_audit_cli(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char *tok = tiny_tokenizer(dir);
    char *csv = make_csv(dir);
    char *oo = path_join(dir, "optout.txt");
    const char list[] = "post:7\nauthor:300\n";
    assert_int_equal(file_write_atomic(oo, list, sizeof list - 1), 0);
    char args[12000], *out = NULL;

    /* Ingested without the opt-outs: the check must find the planted hits. */
    char *ds = path_join(dir, "ds"), *data = path_join(dir, "data");
    ingest(csv, ds, NULL);
    snprintf(args, sizeof args, "prepare --dataset %s --tokenizer %s --out %s", ds, tok, data);
    assert_int_equal(test_run_chirp(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "audit --dataset %s --optout-check %s", ds, oo);
    assert_int_equal(test_run_chirp(args, &out), 1);
    /* post 7 + author 300's 20 posts (ids 2, 5, 8, ...) = 21 posts. */
    assert_non_null(strstr(out, "cover 21 catalog posts"));
    assert_non_null(strstr(out, "HIT: catalog row 7 (post 7) is kept in shard"));
    assert_non_null(strstr(out, "holds the text of opted-out post 7"));
    assert_non_null(strstr(out, "21 documents match an opted-out text"));
    assert_non_null(strstr(out, "opt-out check FAILED"));
    free(out);

    /* Ingested with them: clean, and it says what it checked. */
    char *ds2 = path_join(dir, "ds2"), *data2 = path_join(dir, "data2");
    ingest(csv, ds2, oo);
    snprintf(args, sizeof args, "prepare --dataset %s --tokenizer %s --out %s", ds2, tok, data2);
    assert_int_equal(test_run_chirp(args, NULL), 0);
    snprintf(args, sizeof args, "audit --dataset %s --optout-check %s", ds2, oo);
    assert_int_equal(test_run_chirp(args, &out), 0);
    assert_non_null(strstr(out, "cover 21 catalog posts"));
    assert_non_null(strstr(out, "39 documents"));
    assert_non_null(strstr(out, "0 documents match"));
    assert_non_null(strstr(out, "OK: no opted-out post"));
    free(out);

    /* Post id and text lookups. */
    snprintf(args, sizeof args, "audit --dataset %s --post-id 7", ds2);
    assert_int_equal(test_run_chirp(args, &out), 0);
    assert_non_null(strstr(out, "decision: dropped:optout"));
    free(out);
    snprintf(args, sizeof args, "audit --dataset %s --post-id 9", ds2);
    assert_int_equal(test_run_chirp(args, &out), 0);
    assert_non_null(strstr(out, "decision: kept"));
    assert_non_null(strstr(out, "token offset"));
    free(out);
    snprintf(args, sizeof args,
             "audit --dataset %s --text 'Post number 9 says something odd, caf\xC3\xA9 \xF0\x9F\x98\x80'", ds2);
    assert_int_equal(test_run_chirp(args, &out), 0);
    assert_non_null(strstr(out, "post 9 by"));
    free(out);
    snprintf(args, sizeof args, "audit --dataset %s --text 'never posted'", ds2);
    assert_int_equal(test_run_chirp(args, &out), 0);
    assert_non_null(strstr(out, "not in the dataset"));
    free(out);
    snprintf(args, sizeof args, "audit --dataset %s --post-id 1 --text x", ds2);
    assert_int_equal(test_run_chirp(args, NULL), 2);
    snprintf(args, sizeof args, "prepare --dataset %s --out %s", ds2, data2);
    assert_int_equal(test_run_chirp(args, NULL), 2);
    free(ds);
    free(data);
    free(ds2);
    free(data2);
    free(oo);
    free(csv);
    free(tok);
}

static void test_train_tokenizer_cli(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char *csv = make_csv(dir);
    char *ds = path_join(dir, "ds"), *data = path_join(dir, "data"), *tok = path_join(dir, "tok");
    ingest(csv, ds, NULL);
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "prepare --dataset %s --train-tokenizer --vocab-size 300 --tokenizer %s --out %s", ds,
             tok, data);
    if (test_run_chirp(args, &out) != 0) fail_msg("%s", out);
    free(out);
    char *json = path_join(tok, "tokenizer.json");
    Tokenizer *t = tokenizer_load(json);
    assert_non_null(t);
    assert_true(tokenizer_vocab_size(t) <= 300 && tokenizer_vocab_size(t) > 259);
    assert_true(tokenizer_eot_id(t) >= 0);
    tokenizer_free(t);
    /* The audit decodes the shards with the trained tokenizer it recorded. */
    char *oo = path_join(dir, "oo.txt");
    assert_int_equal(file_write_atomic(oo, "post:5\n", 7), 0);
    snprintf(args, sizeof args, "audit --dataset %s --optout-check %s", ds, oo);
    assert_int_equal(test_run_chirp(args, &out), 1);
    assert_non_null(strstr(out, "60 documents"));
    assert_non_null(strstr(out, "1 documents match"));
    free(out);
    snprintf(args, sizeof args, "prepare --dataset %s --train-tokenizer --tokenizer %s --out %s", ds, tok, data);
    assert_int_equal(test_run_chirp(args, NULL), 2); /* needs --vocab-size */
    free(oo);
    free(json);
    free(tok);
    free(ds);
    free(data);
    free(csv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shards_and_manifest),
        cmocka_unit_test(test_audit_cli),
        cmocka_unit_test(test_train_tokenizer_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
