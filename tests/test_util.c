/* test_util.c: util layer: errors, atomic files, globbing. */
#include "testutil.h"

#include "util/error.h"
#include "util/file.h"

static void test_error_message_and_prefix(void **state) {
    (void)state;
    assert_int_equal(chirp_fail("bad value %d", 7), -1);
    assert_string_equal(chirp_error(), "bad value 7");
    chirp_error_prefix("%s:%d: ", "f.csv", 3);
    assert_string_equal(chirp_error(), "f.csv:3: bad value 7");
    chirp_error_clear();
    assert_string_equal(chirp_error(), "");
}

static void test_atomic_write_and_read(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char *path = path_join(dir, "sub/dir/file.txt");
    char *sub = path_join(dir, "sub/dir");
    assert_int_equal(dir_create(sub), 0);
    assert_int_equal(file_write_atomic(path, "hello\0world", 11), 0);
    size_t len = 0;
    char *data = file_read_all(path, &len);
    assert_non_null(data);
    assert_int_equal(len, 11);
    assert_memory_equal(data, "hello\0world", 11);
    assert_int_equal(data[11], '\0');
    free(data);
    free(path);
    free(sub);
}

static void test_missing_file_names_path(void **state) {
    (void)state;
    assert_null(file_read_all("/nonexistent/chirp.txt", NULL));
    assert_non_null(strstr(chirp_error(), "/nonexistent/chirp.txt"));
    assert_non_null(strstr(chirp_error(), "No such file"));
}

static void test_abort_leaves_old_file(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char *path = path_join(dir, "f");
    assert_int_equal(file_write_atomic(path, "old", 3), 0);
    AtomicFile af;
    assert_int_equal(file_begin(&af, path), 0);
    fputs("new and partial", af.fp);
    file_abort(&af);
    size_t len;
    char *data = file_read_all(path, &len);
    assert_string_equal(data, "old");
    free(data);
    free(path);
}

static void test_glob_sorted_and_missing(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char name[512];
    for (int i = 2; i >= 0; i--) {
        snprintf(name, sizeof name, "%s/train_%03d.bin", dir, i);
        assert_int_equal(file_write_atomic(name, "x", 1), 0);
    }
    snprintf(name, sizeof name, "%s/train_*.bin", dir);
    char **list = NULL;
    assert_int_equal(path_glob(name, &list), 3);
    assert_non_null(strstr(list[0], "train_000.bin"));
    assert_non_null(strstr(list[2], "train_002.bin"));
    assert_null(list[3]);
    path_list_free(list);
    snprintf(name, sizeof name, "%s/val_*.bin", dir);
    assert_int_equal(path_glob(name, &list), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_message_and_prefix), cmocka_unit_test(test_atomic_write_and_read),
        cmocka_unit_test(test_missing_file_names_path),  cmocka_unit_test(test_abort_leaves_old_file),
        cmocka_unit_test(test_glob_sorted_and_missing),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
