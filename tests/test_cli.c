/* test_cli.c: the CLI's contract: help, unknown commands and flags, exit codes. */
#include "testutil.h"

static void test_help_lists_commands(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(test_run_chirp("--help", &out), 0);
    assert_non_null(strstr(out, "tokenizer"));
    assert_non_null(strstr(out, "ingest"));
    assert_non_null(strstr(out, "train"));
    free(out);
}

static void test_help_command_forms_agree(void **state) {
    (void)state;
    char *a = NULL, *b = NULL;
    assert_int_equal(test_run_chirp("help tokenizer", &a), 0);
    assert_int_equal(test_run_chirp("tokenizer --help", &b), 0);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "usage: chirp tokenizer"));
    free(a);
    free(b);
}

static void test_no_arguments_is_usage_error(void **state) {
    (void)state;
    assert_int_equal(test_run_chirp("", NULL), 2);
}

static void test_unknown_command_is_usage_error(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(test_run_chirp("frobnicate", &out), 2);
    assert_non_null(strstr(out, "unknown command 'frobnicate'"));
    /* One line, not a wall of text. */
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));
    free(out);
}

static void test_help_unknown_command(void **state) {
    (void)state;
    assert_int_equal(test_run_chirp("help frobnicate", NULL), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_commands),         cmocka_unit_test(test_help_command_forms_agree),
        cmocka_unit_test(test_no_arguments_is_usage_error), cmocka_unit_test(test_unknown_command_is_usage_error),
        cmocka_unit_test(test_help_unknown_command),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
