/* test_tokenizer_cli.c: `chirp tokenizer` end to end through CHIRP_BIN:
 * train, encode (plain, --jsonl, --allow-special), decode, and the exit
 * codes and one-line errors for bad use and bad input. */
#include "testutil.h"

#include "util/file.h"

static char tmp[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "%s", test_tmpdir());
    return 0;
}

/* Runs "chirp ARGS" with stderr captured into *err (may be NULL) and stdout
 * into *out (may be NULL); returns the exit code. */
static int chirp(const char *args, char **out, char **err) {
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "%s %s 2>%s/stderr", chirp_bin(), args, tmp);
    int rc = run_capture(cmd, out);
    if (err) {
        char path[512];
        snprintf(path, sizeof path, "%s/stderr", tmp);
        *err = file_read_all(path, NULL);
    }
    return rc;
}

static void write_file(const char *name, const char *data, size_t len) {
    char *path = path_join(tmp, name);
    assert_int_equal(file_write_atomic(path, data, len), 0);
    free(path);
}

static int one_line(const char *s) {
    const char *nl = strchr(s, '\n');
    return nl && nl[1] == '\0';
}

static const char *gpt2(void) { return testdata_path("gpt2-tokenizer"); }

static void test_encode_decode_gpt2(void **state) {
    (void)state;
    if (!gpt2()) skip();
    char args[8192], *out = NULL;
    write_file("hello.txt", "Hello world", 11);
    snprintf(args, sizeof args, "tokenizer encode --tokenizer %s --input %s/hello.txt", gpt2(), tmp);
    assert_int_equal(chirp(args, &out, NULL), 0);
    assert_string_equal(out, "15496 995\n");
    free(out);
    /* stdin, and the ids back to bytes */
    snprintf(args, sizeof args, "tokenizer decode --tokenizer %s < %s/ids.txt", gpt2(), tmp);
    write_file("ids.txt", "15496  995\n\n", 12);
    assert_int_equal(chirp(args, &out, NULL), 0);
    assert_string_equal(out, "Hello world");
    free(out);
    /* empty input: an empty line of ids; no ids: no bytes */
    write_file("empty.txt", "", 0);
    snprintf(args, sizeof args, "tokenizer encode --tokenizer %s < %s/empty.txt", gpt2(), tmp);
    assert_int_equal(chirp(args, &out, NULL), 0);
    assert_string_equal(out, "\n");
    free(out);
    snprintf(args, sizeof args, "tokenizer decode --tokenizer %s --input %s/empty.txt", gpt2(), tmp);
    assert_int_equal(chirp(args, &out, NULL), 0);
    assert_string_equal(out, "");
    free(out);
}

static void test_allow_special(void **state) {
    (void)state;
    if (!gpt2()) skip();
    char args[8192], *out = NULL;
    write_file("sp.txt", "a<|endoftext|>b", 15);
    snprintf(args, sizeof args, "tokenizer encode --tokenizer %s --input %s/sp.txt", gpt2(), tmp);
    assert_int_equal(chirp(args, &out, NULL), 0);
    assert_string_equal(out, "64 27 91 437 1659 5239 91 29 65\n");
    free(out);
    snprintf(args, sizeof args, "tokenizer encode --tokenizer %s --input %s/sp.txt --allow-special", gpt2(), tmp);
    assert_int_equal(chirp(args, &out, NULL), 0);
    assert_string_equal(out, "64 50256 65\n");
    free(out);
}

static void test_jsonl(void **state) {
    (void)state;
    if (!gpt2()) skip();
    const char *in = "{\"text\": \"Hello world\"}\n{\"text\": \"\", \"id\": 7}\n{\"text\": \"nul\\u0000byte\"}\n";
    write_file("in.jsonl", in, strlen(in));
    char args[8192], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "tokenizer encode --tokenizer %s --jsonl --input %s/in.jsonl", gpt2(), tmp);
    assert_int_equal(chirp(args, &out, NULL), 0);
    assert_string_equal(out, "{\"ids\": [15496, 995]}\n{\"ids\": []}\n{\"ids\": [77, 377, 188, 26327]}\n");
    free(out);
    const char *bad = "{\"text\": \"ok\"}\n{\"txt\": 1}\n";
    write_file("bad.jsonl", bad, strlen(bad));
    snprintf(args, sizeof args, "tokenizer encode --tokenizer %s --jsonl --input %s/bad.jsonl", gpt2(), tmp);
    assert_int_equal(chirp(args, &out, &err), 1);
    assert_non_null(strstr(err, "bad.jsonl:2:"));
    assert_true(one_line(err));
    free(out);
    free(err);
    write_file("bad2.jsonl", "{\"text\": \"unterminated\n", 24);
    snprintf(args, sizeof args, "tokenizer encode --tokenizer %s --jsonl --input %s/bad2.jsonl", gpt2(), tmp);
    assert_int_equal(chirp(args, NULL, &err), 1);
    assert_non_null(strstr(err, "bad2.jsonl:1:"));
    assert_true(one_line(err));
    free(err);
}

/* Train from two files, then encode and decode text with invalid UTF-8
 * through the trained tokenizer.json: the bytes come back exactly. */
static void test_train_then_roundtrip(void **state) {
    (void)state;
    char text[8192];
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "post %d: the quick brown fox\n", i % 17);
    write_file("a.txt", text, n);
    const char *b = "\xff\xfe caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac<|endoftext|>!!\x80";
    write_file("b.txt", b, strlen(b));
    char args[8192], *out = NULL, *err = NULL;
    snprintf(args, sizeof args, "tokenizer train --input %s/a.txt %s/b.txt --vocab-size 280 --out %s/tok", tmp, tmp,
             tmp);
    assert_int_equal(chirp(args, NULL, &err), 0);
    assert_non_null(strstr(err, "vocab 280 (21 merges)"));
    free(err);
    char *json = path_join(tmp, "tok/tokenizer.json");
    assert_true(path_exists(json));
    free(json);
    snprintf(args, sizeof args, "tokenizer encode --tokenizer %s/tok --input %s/b.txt > %s/b.ids", tmp, tmp, tmp);
    assert_int_equal(chirp(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "tokenizer decode --tokenizer %s/tok/tokenizer.json --input %s/b.ids", tmp, tmp);
    assert_int_equal(chirp(args, &out, NULL), 0);
    assert_int_equal(strlen(out), strlen(b));
    assert_memory_equal(out, b, strlen(b));
    free(out);
    /* The special token's id decodes to its text. */
    snprintf(args, sizeof args, "tokenizer encode --tokenizer %s/tok --allow-special --input %s/b.txt", tmp, tmp);
    assert_int_equal(chirp(args, &out, NULL), 0);
    assert_non_null(strstr(out, " 277 ")); /* 256 + 21 merges: <|endoftext|> is 277 */
    free(out);
}

static void test_usage_errors_exit_2(void **state) {
    (void)state;
    static const char *cases[][2] = {
        {"tokenizer", "missing subcommand"},
        {"tokenizer frob", "unknown subcommand 'frob'"},
        {"tokenizer encode", "missing required flag --tokenizer"},
        {"tokenizer decode --input x", "missing required flag --tokenizer"},
        {"tokenizer encode --tokenizer x --bogus", "unknown flag '--bogus'"},
        {"tokenizer train --vocab-size 1000 --out d", "missing required flag --input"},
        {"tokenizer train --input a --out d", "missing required flag --vocab-size"},
        {"tokenizer train --input a --vocab-size 1000", "missing required flag --out"},
        {"tokenizer train --input a --vocab-size 10 --out d", "--vocab-size must be between"},
        {"tokenizer train --input a --vocab-size lots --out d", "expects an integer"},
        {"tokenizer encode --tokenizer", "--tokenizer needs a value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err = NULL;
        int rc = chirp(cases[i][0], NULL, &err);
        if (rc != 2 || !strstr(err, cases[i][1]) || !one_line(err))
            fail_msg("'chirp %s': rc %d, stderr '%s'; want 2 and '%s'", cases[i][0], rc, err, cases[i][1]);
        free(err);
    }
}

static void test_failures_exit_1(void **state) {
    (void)state;
    write_file("corrupt.json", "{\"model\": {\"vocab\": {\"a\": 0}, \"merges\": [", 42);
    write_file("x.txt", "hi", 2);
    write_file("words.txt", "15496 hello", 11);
    write_file("big.txt", "99999999", 8);
    char args[8192];
    const char *fmt[][2] = {
        {"tokenizer encode --tokenizer %s/nope.json --input %s/x.txt", "nope.json"},
        {"tokenizer encode --tokenizer %s/corrupt.json --input %s/x.txt", "corrupt.json:1:"},
        {"tokenizer encode --tokenizer %s/tok --input %s/missing.txt", "missing.txt"},
        {"tokenizer train --input %s/missing.txt --vocab-size 300 --out %s/o", "missing.txt"},
    };
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        snprintf(args, sizeof args, fmt[i][0], tmp, tmp);
        char *err = NULL;
        int rc = chirp(args, NULL, &err);
        if (rc != 1 || !strstr(err, fmt[i][1]) || !one_line(err))
            fail_msg("'chirp %s': rc %d, stderr '%s'; want 1 and '%s'", args, rc, err, fmt[i][1]);
        free(err);
    }
    if (!gpt2()) return;
    const char *dec[][2] = {{"words.txt", "'hello' is not a token id"}, {"big.txt", "out of range"}};
    for (int i = 0; i < 2; i++) {
        snprintf(args, sizeof args, "tokenizer decode --tokenizer %s --input %s/%s", gpt2(), tmp, dec[i][0]);
        char *err = NULL, *out = NULL;
        assert_int_equal(chirp(args, &out, &err), 1);
        assert_non_null(strstr(err, dec[i][1]));
        assert_true(one_line(err));
        assert_string_equal(out, ""); /* nothing half-written */
        free(err);
        free(out);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_decode_gpt2),
        cmocka_unit_test(test_allow_special),
        cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_train_then_roundtrip),
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_failures_exit_1),
    };
    return cmocka_run_group_tests_name("tokenizer_cli", tests, setup, NULL);
}
