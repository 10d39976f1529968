/* test_clean.c: the cleaning rules of issue 3, one by one. */
#include "testutil.h"

#include "data/clean.h"
#include "data/post.h"
#include "util/error.h"

#include <utf8proc.h>

static Buf out, scratch;

static const char *clean(const char *s, CleanMode urls, CleanMode mentions) {
    CleanOptions o = {urls, mentions};
    if (clean_text(s, strlen(s), &o, &out, &scratch) != 0) return NULL;
    return out.data;
}

static const char *k(const char *s) { return clean(s, CLEAN_KEEP, CLEAN_KEEP); }

static void test_entities(void **state) {
    (void)state;
    assert_string_equal(k("Tom &amp; Jerry &lt;3 &gt; &quot;x&quot; &apos;y&apos;"), "Tom & Jerry <3 > \"x\" 'y'");
    assert_string_equal(k("&#233;t&#xE9; &#x1F600;"), "\xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80");
    /* Decoded once only; unknown and broken entities stay literal. */
    assert_string_equal(k("&amp;lt; &bogus; & &#; &#xD800; AT&T"), "&lt; &bogus; & &#; &#xD800; AT&T");
}

static void test_nfc(void **state) {
    (void)state;
    /* e + COMBINING ACUTE ACCENT -> U+00E9; also after an entity. */
    assert_string_equal(k("cafe\xCC\x81"), "caf\xC3\xA9");
    assert_string_equal(k("&amp; e\xCC\x81"), "& \xC3\xA9");
    /* Emoji ZWJ sequences survive unchanged. */
    const char *family = "\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9";
    assert_string_equal(k(family), family);
}

/* The output is NFC whatever path clean_text took (it skips utf8proc when
 * NFC cannot change the text): checked against utf8proc itself. */
static void assert_nfc(const char *s, size_t len) {
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    assert_true(n >= 0);
    if ((size_t)n != len || memcmp(nfc, s, len) != 0) fail_msg("not NFC: %.*s", (int)len, s);
    free(nfc);
}

static void test_nfc_fast_path(void **state) {
    (void)state;
    static const char *const tricky[] = {
        "e\xCC\x81",                                              /* e + combining acute */
        "\xE2\x84\xAB",                                           /* ANGSTROM SIGN, a singleton -> U+00C5 */
        "\xE1\x84\x80\xE1\x85\xA1",                               /* Hangul jamo L + V -> U+AC00 */
        "\xE0\xAD\x87\xE0\xAC\xBE",                               /* Oriya vowel signs that compose */
        "\xE3\x81\x8B\xE3\x82\x99",                               /* ka + voiced mark -> ga */
        "\xF0\x9F\x98\x80 \xE2\x80\x99 \xE2\x9D\xA4\xEF\xB8\x8F", /* emoji, quote, VS16 */
    };
    for (size_t i = 0; i < sizeof tricky / sizeof tricky[0]; i++) {
        const char *out = k(tricky[i]);
        assert_non_null(out);
        assert_nfc(out, strlen(out));
    }
    assert_string_equal(k("\xE2\x84\xAB"), "\xC3\x85");
    /* Every real tweet. */
    static const char *const files[] = {"tweets-musk/Tweet.csv", "tweets-trump/condensed_2016.json",
                                        "tweets-trump/condensed_2018.json"};
    long checked = 0;
    for (size_t f = 0; f < 3; f++) {
        const char *path = testdata_path(files[f]);
        if (!path) skip();
        Reader *r = reader_open(path, "auto", NULL);
        assert_non_null(r);
        Post p;
        while (reader_next(r, &p) == 1) {
            if (p.error) continue;
            CleanOptions o = {0};
            assert_int_equal(clean_text(p.text, p.text_len, &o, &out, &scratch), 0);
            assert_nfc(out.data, out.len);
            checked++;
        }
        reader_free(r);
    }
    assert_true(checked > 10000);
}

static void test_controls_and_trim(void **state) {
    (void)state;
    assert_string_equal(k("  a\x01"
                          "b\x7f"
                          "c\r\nd\re\tf \xC2\x85g\n\n "),
                        "abc\nd\ne f g");
    assert_string_equal(k(" \n\t "), "");
    CleanOptions o = {0};
    /* An embedded NUL is a control character too. */
    assert_int_equal(clean_text("a\0b", 3, &o, &out, &scratch), 0);
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.data, "ab", 2);
}

static void test_urls_and_mentions(void **state) {
    (void)state;
    const char *t = "@bob look https://t.co/abc123 and mail me@x.com @al_1!";
    assert_string_equal(k(t), t);
    assert_string_equal(clean(t, CLEAN_MASK, CLEAN_MASK), "@user look <url> and mail me@x.com @user!");
    assert_string_equal(clean(t, CLEAN_DROP, CLEAN_DROP), "look and mail me@x.com !");
    assert_string_equal(clean("@a @b hi", CLEAN_KEEP, CLEAN_DROP), "hi");
    assert_string_equal(clean("see http://x.y/z", CLEAN_DROP, CLEAN_KEEP), "see");
    assert_string_equal(clean("xhttp://no", CLEAN_MASK, CLEAN_KEEP), "xhttp://no");
}

static void test_invalid_utf8(void **state) {
    (void)state;
    assert_null(k("ok \xC3("));
    assert_non_null(strstr(chirp_error(), "invalid UTF-8 at byte 3"));
    assert_null(k("\xED\xA0\x80"));     /* an encoded surrogate */
    assert_null(k("\xC0\xAF"));         /* overlong '/' */
    assert_null(k("\xF4\x90\x80\x80")); /* past U+10FFFF */
    assert_int_equal(utf8_invalid_at("abc", 3), 3);
}

static void test_retweet_and_length(void **state) {
    (void)state;
    assert_true(clean_is_retweet("RT @Tesla: Congrats", 19));
    assert_true(clean_is_retweet("  RT @x", 7));
    assert_false(clean_is_retweet("RT this", 7));
    assert_false(clean_is_retweet("ART @x", 6));
    assert_int_equal(utf8_length("h\xC3\xA9\xF0\x9F\x98\x80", 7), 3);
    assert_int_equal(clean_mode_parse("mask"), CLEAN_MASK);
    assert_int_equal(clean_mode_parse("hide"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entities),           cmocka_unit_test(test_nfc),
        cmocka_unit_test(test_nfc_fast_path),      cmocka_unit_test(test_controls_and_trim),
        cmocka_unit_test(test_urls_and_mentions),  cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_retweet_and_length),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    buf_free(&out);
    buf_free(&scratch);
    return rc;
}
