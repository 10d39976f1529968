/* testutil.h: shared helpers for chirp's cmocka tests.
 *
 * Tests that need ../shared/data find it through CHIRP_TESTDATA (set by
 * tests/run.sh); when it is missing they skip with a message. Tests that run
 * the CLI use CHIRP_BIN (default ./chirp). */
#ifndef CHIRP_TESTUTIL_H
#define CHIRP_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* Path of a file under the test data folder, or NULL (test skipped) if the
 * folder is missing. Returns a static buffer. */
static inline const char *testdata_path(const char *rel) {
    static char buf[4096];
    const char *root = getenv("CHIRP_TESTDATA");
    if (!root) root = "../shared/data";
    snprintf(buf, sizeof buf, "%s/%s", root, rel);
    struct stat st;
    if (stat(buf, &st) != 0) {
        fprintf(stderr, "skipping: test data %s not found (set CHIRP_TESTDATA)\n", buf);
        return NULL;
    }
    return buf;
}

static inline const char *chirp_bin(void) {
    const char *bin = getenv("CHIRP_BIN");
    return bin ? bin : "./chirp";
}

/* A fresh scratch directory under /tmp. Returns a static buffer. */
static inline const char *test_tmpdir(void) {
    static char buf[256];
    snprintf(buf, sizeof buf, "/tmp/chirp-test-XXXXXX");
    if (!mkdtemp(buf)) abort();
    return buf;
}

/* Runs a shell command; returns its exit status (or -1 if it was killed),
 * and, if out is non-NULL, its stdout (malloc'd, NUL-terminated). */
static inline int run_capture(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
    }
    buf[n] = '\0';
    int status = pclose(p);
    if (out) *out = buf;
    else free(buf);
    if (!WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

#endif
