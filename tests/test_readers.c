/* test_readers.c: each post reader on small inline inputs and on the real
 * exports in ../shared/data, plus the bad inputs issue 3 lists. */
#include "testutil.h"

#include "data/post.h"
#include "util/error.h"
#include "util/file.h"

#include <zip.h>

static char *write_tmp(const char *dir, const char *name, const char *data, size_t len) {
    char *path = path_join(dir, name);
    assert_int_equal(file_write_atomic(path, data, len), 0);
    return path;
}

/* Reads every post; copies texts (NUL-joined with '|') for easy checks. */
typedef struct Got {
    long posts, malformed, replies;
    char texts[4096];
    char ids[1024];
    char last_error[256];
} Got;

static int read_all(const char *path, const char *format, const ReaderOptions *opt, Got *g) {
    memset(g, 0, sizeof *g);
    Reader *r = reader_open(path, format, opt);
    if (!r) return -1;
    Post p;
    int rc;
    while ((rc = reader_next(r, &p)) == 1) {
        g->posts++;
        if (p.error) {
            g->malformed++;
            snprintf(g->last_error, sizeof g->last_error, "%s", p.error);
            continue;
        }
        if (p.reply_to) g->replies++;
        size_t n = strlen(g->texts);
        if (n + p.text_len + 2 < sizeof g->texts) {
            memcpy(g->texts + n, p.text, p.text_len);
            g->texts[n + p.text_len] = '|';
            g->texts[n + p.text_len + 1] = '\0';
        }
        n = strlen(g->ids);
        snprintf(g->ids + n, sizeof g->ids - n, "%s/%s/%s|", p.id ? p.id : "-", p.author ? p.author : "-",
                 p.reply_to ? p.reply_to : "-");
    }
    reader_free(r);
    return rc;
}

static void test_csv_rfc4180(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    const char csv[] = "replied_to,tweet_id,text,author_id\r\n"
                       "[],1,plain,10\r\n"
                       "[5],2,\"with, comma and \"\"quotes\"\"\",11\r\n"
                       "\"[]\",3,\"two\nlines\",12\r\n"
                       "\r\n"
                       "['7'],4,\"crlf\r\ninside\",13\r\n";
    char *path = write_tmp(dir, "t.csv", csv, sizeof csv - 1);
    Got g;
    assert_int_equal(read_all(path, "auto", NULL, &g), 0);
    assert_int_equal(g.posts, 4);
    assert_int_equal(g.malformed, 0);
    assert_string_equal(g.texts, "plain|with, comma and \"quotes\"|two\nlines|crlf\r\ninside|");
    assert_string_equal(g.ids, "1/10/-|2/11/5|3/12/-|4/13/7|");
    assert_int_equal(g.replies, 2);
    free(path);
}

static void test_csv_column_selection_and_missing(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    const char csv[] = "a,body,who\nx,hello,alice\ny,world,bob\n";
    char *path = write_tmp(dir, "sel.csv", csv, sizeof csv - 1);
    ReaderOptions opt = {.text_field = "body", .author_field = "who", .id_field = "a"};
    Got g;
    assert_int_equal(read_all(path, "csv", &opt, &g), 0);
    assert_string_equal(g.texts, "hello|world|");
    assert_string_equal(g.ids, "x/alice/-|y/bob/-|");
    ReaderOptions bad = {.text_field = "nope"};
    assert_null(reader_open(path, "csv", &bad));
    assert_non_null(strstr(chirp_error(), "sel.csv"));
    assert_non_null(strstr(chirp_error(), "no column 'nope'"));
    free(path);
}

static void test_csv_malformed_records(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    /* A short record, then an unterminated quote that swallows the rest. */
    const char csv[] = "id,text\n1,ok\n2\n3,fine\n4,\"never closed\n5,lost\n";
    char *path = write_tmp(dir, "bad.csv", csv, sizeof csv - 1);
    Got g;
    assert_int_equal(read_all(path, "csv", NULL, &g), 0);
    assert_int_equal(g.posts, 4);
    assert_int_equal(g.malformed, 2);
    assert_non_null(strstr(g.last_error, "unterminated quoted field"));
    assert_string_equal(g.texts, "ok|fine|");
    free(path);
}

static void test_csv_50mb_field_is_bounded(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    size_t big = 50u << 20;
    char *data = malloc(big + 64);
    size_t n = (size_t)sprintf(data, "id,text\n1,\"");
    memset(data + n, 'x', big);
    n += big;
    n += (size_t)sprintf(data + n, "\"\n2,after\n");
    char *path = write_tmp(dir, "big.csv", data, n);
    free(data);
    Got g;
    assert_int_equal(read_all(path, "csv", NULL, &g), 0);
    assert_int_equal(g.posts, 2);
    assert_int_equal(g.malformed, 1);
    assert_non_null(strstr(g.last_error, "longer than"));
    assert_string_equal(g.texts, "after|");
    unlink(path);
    free(path);
}

static void test_unreadable_inputs(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    assert_null(reader_open("/nonexistent/x.csv", "csv", NULL));
    assert_non_null(strstr(chirp_error(), "/nonexistent/x.csv"));
    /* A directory given as a CSV file opens but cannot be read. */
    Reader *r = reader_open(dir, "csv", NULL);
    if (r) {
        Post p;
        assert_int_equal(reader_next(r, &p), -1);
        reader_free(r);
    }
    assert_non_null(strstr(chirp_error(), dir));
}

static void test_musk_tweet_csv(void **state) {
    (void)state;
    const char *path = testdata_path("tweets-musk/Tweet.csv");
    if (!path) skip();
    Reader *r = reader_open(path, "auto", NULL);
    assert_non_null(r);
    assert_string_equal(reader_format(r), "csv");
    Post p;
    long n = 0, replies = 0, multiline = 0, musk = 0, bad = 0;
    while (reader_next(r, &p) == 1) {
        n++;
        bad += p.error != NULL;
        if (p.error) continue;
        replies += p.reply_to != NULL;
        multiline += memchr(p.text, '\n', p.text_len) != NULL;
        musk += p.author && strcmp(p.author, "44196397") == 0;
        if (n == 2) {
            assert_string_equal(p.id, "1604569775597928448");
            assert_string_equal(p.reply_to, "1604565967375192064");
            assert_string_equal(p.time, "2022-12-18T20:10:20.000000000+00:00");
        }
    }
    reader_free(r);
    /* Figures from tweets-musk/README.md. */
    assert_int_equal(n, 5450);
    assert_int_equal(bad, 0);
    assert_int_equal(replies, 2557);
    assert_int_equal(multiline, 897);
    assert_int_equal(musk, 3200);
}

static void test_jsonl_paths_and_broken_line(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    const char data[] = "{\"id\": 1, \"text\": \"one\", \"user\": {\"name\": \"ann\"}, \"reply_to\": null}\n"
                        "\n"
                        "{\"id\": \"2\", \"text\": \"two\", \"user\": {\"name\": \"bob\"}, \"reply_to\": \"1\"}\n"
                        "{\"id\": 3, \"text\": \"broken\", \n"
                        "{\"id\": 4, \"user\": {\"name\": \"cy\"}}\n"
                        "[1,2]\n"
                        "{\"id\": 5, \"text\": \"caf\\u00e9 \\ud83d\\ude00\", \"user\": {\"name\": \"dee\"}}\n";
    char *path = write_tmp(dir, "p.jsonl", data, sizeof data - 1);
    ReaderOptions opt = {.author_field = "user.name"};
    Got g;
    assert_int_equal(read_all(path, "auto", &opt, &g), 0);
    assert_int_equal(g.posts, 6);
    assert_int_equal(g.malformed, 3);
    assert_string_equal(g.texts, "one|two|caf\xC3\xA9 \xF0\x9F\x98\x80|");
    assert_string_equal(g.ids, "1/ann/-|2/bob/1|5/dee/-|");
    free(path);
}

static void test_trump_inline_surrogates(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    const char data[] =
        "[{\"source\": \"x\", \"id_str\": \"9\", \"text\": \"hi \\ud83d\\ude00 &amp; \\\"q\\\"\\nline\","
        " \"created_at\": \"Mon Dec 31 23:53:06 +0000 2018\", \"is_retweet\": false},"
        "{\"id_str\": \"8\", \"text\": \"RT @a: b\", \"is_retweet\": true},"
        "{\"id_str\": \"7\", \"text\": \"bad \\ud83d\"}]";
    char *path = write_tmp(dir, "condensed.json", data, sizeof data - 1);
    Reader *r = reader_open(path, "auto", NULL);
    assert_non_null(r);
    assert_string_equal(reader_format(r), "trump-archive");
    Post p;
    assert_int_equal(reader_next(r, &p), 1);
    assert_null(p.error);
    assert_string_equal(p.text, "hi \xF0\x9F\x98\x80 &amp; \"q\"\nline");
    assert_string_equal(p.id, "9");
    assert_false(p.retweet);
    assert_int_equal(reader_next(r, &p), 1);
    assert_true(p.retweet);
    assert_int_equal(reader_next(r, &p), 1); /* a lone surrogate is malformed */
    assert_non_null(p.error);
    assert_int_equal(reader_next(r, &p), 0);
    reader_free(r);
    /* Truncated: the last record is malformed, earlier ones are read. */
    char *cut = write_tmp(dir, "cut.json", data, 120);
    Got g;
    assert_int_equal(read_all(cut, "trump-archive", NULL, &g), 0);
    assert_int_equal(g.posts, 1);
    assert_int_equal(g.malformed, 1);
    free(cut);
    free(path);
}

static void test_trump_archive_real(void **state) {
    (void)state;
    static const char *const years[] = {"2014", "2015", "2016", "2017", "2018"};
    static const long counts[] = {5784, 7536, 4225, 2605, 3510};
    static const long retweets[] = {0, 0, 188, 310, 464};
    long total = 0, emoji = 0;
    for (int y = 0; y < 5; y++) {
        char rel[64];
        snprintf(rel, sizeof rel, "tweets-trump/condensed_%s.json", years[y]);
        const char *path = testdata_path(rel);
        if (!path) skip();
        Reader *r = reader_open(path, "auto", NULL);
        assert_non_null(r);
        Post p;
        long n = 0, rt = 0;
        while (reader_next(r, &p) == 1) {
            assert_null(p.error);
            n++;
            rt += p.retweet;
            emoji += memmem(p.text, p.text_len, "\xF0\x9F", 2) != NULL;
        }
        reader_free(r);
        assert_int_equal(n, counts[y]);
        assert_int_equal(rt, retweets[y]);
        total += n;
    }
    assert_int_equal(total, 23660);
    assert_true(emoji > 0); /* surrogate pairs became 4-byte UTF-8 */
}

static const char tweets_js[] =
    "window.YTD.tweets.part0 = [ {\n  \"tweet\" : {\n    \"id_str\" : \"100\",\n"
    "    \"full_text\" : \"root post\",\n    \"created_at\" : \"Mon Jan 01 00:00:00 +0000 2024\"\n  }\n}, {\n"
    "  \"tweet\" : {\n    \"id_str\" : \"101\",\n    \"full_text\" : \"a reply\",\n"
    "    \"in_reply_to_status_id_str\" : \"100\"\n  }\n} ]";
static const char account_js[] =
    "window.YTD.account.part0 = [ { \"account\" : { \"accountId\" : \"42\", \"username\" : \"someone\" } } ]";

static void test_x_archive_folder_and_zip(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char *data = path_join(dir, "archive/data");
    assert_int_equal(dir_create(data), 0);
    free(write_tmp(data, "tweets.js", tweets_js, sizeof tweets_js - 1));
    free(write_tmp(data, "account.js", account_js, sizeof account_js - 1));
    char *folder = path_join(dir, "archive");
    Got g;
    assert_int_equal(read_all(folder, "auto", NULL, &g), 0);
    assert_int_equal(g.posts, 2);
    assert_string_equal(g.texts, "root post|a reply|");
    assert_string_equal(g.ids, "100/42/-|101/42/100|");

    char *zpath = path_join(dir, "archive.zip");
    int err;
    zip_t *z = zip_open(zpath, ZIP_CREATE | ZIP_TRUNCATE, &err);
    assert_non_null(z);
    zip_source_t *s1 = zip_source_buffer(z, tweets_js, sizeof tweets_js - 1, 0);
    zip_source_t *s2 = zip_source_buffer(z, account_js, sizeof account_js - 1, 0);
    assert_true(zip_file_add(z, "data/tweets.js", s1, 0) >= 0);
    assert_true(zip_file_add(z, "data/account.js", s2, 0) >= 0);
    assert_int_equal(zip_close(z), 0);
    assert_int_equal(read_all(zpath, "auto", NULL, &g), 0);
    assert_string_equal(g.ids, "100/42/-|101/42/100|");

    /* A truncated zip fails with a message naming it. */
    size_t len;
    char *bytes = file_read_all(zpath, &len);
    char *tpath = write_tmp(dir, "truncated.zip", bytes, len / 2);
    assert_null(reader_open(tpath, "x-archive", NULL));
    assert_non_null(strstr(chirp_error(), "truncated.zip"));
    free(bytes);
    free(tpath);
    free(zpath);
    free(folder);
    free(data);
}

static void test_fortune_and_text(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    const char fortunes[] = "First fortune\n  -- someone\n%\nSecond\n%\n%\nThird, last\n";
    char *fp = write_tmp(dir, "f", fortunes, sizeof fortunes - 1);
    Got g;
    assert_int_equal(read_all(fp, "fortune", NULL, &g), 0);
    assert_string_equal(g.texts, "First fortune\n  -- someone|Second|Third, last|");
    const char text[] = "\n\npara one\nstill one\n\n   \npara two\n";
    char *tp = write_tmp(dir, "t.txt", text, sizeof text - 1);
    assert_int_equal(read_all(tp, "auto", NULL, &g), 0);
    assert_string_equal(g.texts, "para one\nstill one|para two|");
    free(fp);
    free(tp);
}

static void test_debian_fortunes(void **state) {
    (void)state;
    const char *path = "/usr/share/games/fortunes/fortunes";
    if (!path_exists(path)) {
        fprintf(stderr, "skipping: %s not installed (package fortunes-min)\n", path);
        skip();
    }
    Got g;
    assert_int_equal(read_all(path, "auto", NULL, &g), 0);
    /* Count the '%' separator lines independently. */
    FILE *f = fopen(path, "r");
    char line[4096];
    long seps = 0, last_sep = 1;
    while (fgets(line, sizeof line, f)) {
        int sep = strcmp(line, "%\n") == 0;
        seps += sep;
        last_sep = sep;
    }
    fclose(f);
    assert_true(g.posts > 100);
    assert_int_equal(g.posts, seps + !last_sep);
    assert_int_equal(g.malformed, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_rfc4180),
        cmocka_unit_test(test_csv_column_selection_and_missing),
        cmocka_unit_test(test_csv_malformed_records),
        cmocka_unit_test(test_csv_50mb_field_is_bounded),
        cmocka_unit_test(test_unreadable_inputs),
        cmocka_unit_test(test_musk_tweet_csv),
        cmocka_unit_test(test_jsonl_paths_and_broken_line),
        cmocka_unit_test(test_trump_inline_surrogates),
        cmocka_unit_test(test_trump_archive_real),
        cmocka_unit_test(test_x_archive_folder_and_zip),
        cmocka_unit_test(test_fortune_and_text),
        cmocka_unit_test(test_debian_fortunes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
