/* test_dedup.c: exact and MinHash near-duplicate detection, opt-out lists. */
#include "testutil.h"

#include "data/dedup.h"
#include "data/optout.h"
#include "util/error.h"
#include "util/file.h"
#include "util/hash.h"

#include <ctype.h>

static void test_exact(void **state) {
    (void)state;
    Dedup *d = dedup_new(0);
    uint64_t a = hash64("hello", 5, 0), b = hash64("hello!", 6, 0);
    assert_int_equal(dedup_exact_check(d, a, 1), -1);
    assert_int_equal(dedup_exact_check(d, b, 2), -1);
    assert_int_equal(dedup_exact_check(d, a, 3), 1);
    assert_int_equal(dedup_exact_check(d, b, 4), 2);
    /* Many keys: the table grows and still finds every one. */
    for (long i = 0; i < 200000; i++) assert_int_equal(dedup_exact_check(d, hash_mix64((uint64_t)i + 10), i + 10), -1);
    for (long i = 0; i < 200000; i += 997)
        assert_int_equal(dedup_exact_check(d, hash_mix64((uint64_t)i + 10), 0), i + 10);
    /* Near-dup disabled: never reports. */
    assert_int_equal(dedup_near_find(d, "hello", 5), -1);
    dedup_free(d);
}

static const char base[] = "Starship is the fully reusable transportation system designed to carry both crew and "
                           "cargo to Earth orbit, the Moon, Mars and beyond.";

static void test_near(void **state) {
    (void)state;
    Dedup *d = dedup_new(0.8);
    assert_int_equal(dedup_near_find(d, base, strlen(base)), -1);
    dedup_near_add(d, 7);
    char edit[sizeof base];
    memcpy(edit, base, sizeof base);
    edit[10] = 'X'; /* one character changed */
    assert_int_equal(dedup_near_find(d, edit, strlen(edit)), 7);
    /* Case changes are not differences. */
    char upper[sizeof base];
    for (size_t i = 0; i < sizeof base; i++) upper[i] = (char)toupper((unsigned char)base[i]);
    assert_int_equal(dedup_near_find(d, upper, strlen(upper)), 7);
    const char *other = "Tesla's mission is to accelerate the world's transition to sustainable energy.";
    assert_int_equal(dedup_near_find(d, other, strlen(other)), -1);
    /* Half the text replaced: well under 0.8. */
    char half[sizeof base];
    memcpy(half, base, sizeof base);
    for (size_t i = 0; i < sizeof base / 2; i++) half[i] = (char)('a' + i % 26);
    assert_int_equal(dedup_near_find(d, half, strlen(half)), -1);
    dedup_free(d);
}

static void test_similarity_and_layout(void **state) {
    (void)state;
    assert_true(dedup_similarity(base, strlen(base), base, strlen(base)) == 1.0);
    double s = dedup_similarity(base, strlen(base), base + 5, strlen(base) - 5);
    assert_true(s > 0.8 && s < 1.0);
    int b, r;
    dedup_lsh_layout(0.8, &b, &r);
    assert_int_equal(b * r, 64);
    assert_true(b == 8 && r == 8);
    dedup_lsh_layout(0.5, &b, &r);
    assert_true(b * r == 64 && r <= 4);
}

static void test_optout(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char *path = path_join(dir, "optout.txt");
    const char list[] = "# opt-outs\npost:123\n\nauthor:44196397\n  author:@SomeOne  \n";
    assert_int_equal(file_write_atomic(path, list, sizeof list - 1), 0);
    OptOut *o = optout_new();
    assert_int_equal(optout_load(o, path), 0);
    assert_int_equal(optout_count(o), 3);
    assert_true(optout_match(o, "123", NULL, NULL));
    assert_false(optout_match(o, "1234", NULL, NULL));
    assert_true(optout_match(o, "9", "44196397", NULL));
    assert_true(optout_match(o, "9", "1", "someone"));
    assert_true(optout_match(o, "9", "@SOMEONE", NULL));
    assert_false(optout_match(o, "9", "someone", NULL)); /* an id is not a handle */
    assert_false(optout_match(o, NULL, NULL, NULL));
    optout_free(o);

    const char bad[] = "post:1\nuser:2\n";
    assert_int_equal(file_write_atomic(path, bad, sizeof bad - 1), 0);
    o = optout_new();
    assert_int_equal(optout_load(o, path), -1);
    assert_non_null(strstr(chirp_error(), "optout.txt:2: bad opt-out entry 'user:2'"));
    optout_free(o);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact),
        cmocka_unit_test(test_near),
        cmocka_unit_test(test_similarity_and_layout),
        cmocka_unit_test(test_optout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
