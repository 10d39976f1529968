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

#include <signal.h>

#include "model/gpt2.h"
#include "text/tokenizer.h"

/* Skips the current test in the ASan build, saying why (some inputs take
 * minutes to load there; the release build runs the test). */
#ifdef __SANITIZE_ADDRESS__
#define SKIP_UNDER_ASAN(why)                        \
    do {                                            \
        printf("  skipping under ASan: %s\n", why); \
        skip();                                     \
    } while (0)
#else
#define SKIP_UNDER_ASAN(why) \
    do {                     \
    } while (0)
#endif

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

/* Runs CHIRP_BIN ARGS through the shell with stderr folded into stdout;
 * returns its exit status and, if out is non-NULL, what it printed. */
static inline int test_run_chirp(const char *args, char **out) {
    size_t n = strlen(chirp_bin()) + strlen(args) + 16;
    char *cmd = malloc(n);
    snprintf(cmd, n, "%s %s 2>&1", chirp_bin(), args);
    int rc = run_capture(cmd, out);
    free(cmd);
    return rc;
}

/* Writes an llm.c token shard: the 256-word header (magic, version 1,
 * count) and n uint16 tokens. A magic other than 20240520 makes a bad one. */
static inline void test_write_shard(const char *path, const uint16_t *tok, size_t n, int32_t magic) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    int32_t hdr[256] = {magic, 1, (int32_t)n};
    if (fwrite(hdr, 4, 256, f) != 256 || fwrite(tok, 2, n, f) != n) abort();
    fclose(f);
}

/* A shard of n pseudo-random tokens below V (a fixed LCG from seed). */
static inline void test_random_shard(const char *path, int n, int V, unsigned seed) {
    uint16_t *t = malloc((size_t)n * 2);
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        t[i] = (uint16_t)((seed >> 8) % (unsigned)V);
    }
    test_write_shard(path, t, (size_t)n, 20240520);
    free(t);
}

/* A copy of train's output without the " ms ... tok/s ..." timing part of
 * each line, so two runs' logs can be compared. */
static inline char *test_strip_timing(const char *s) {
    char *out = malloc(strlen(s) + 2), *o = out;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        const char *ms = strstr(s, " ms ");
        size_t keep = (ms && ms < s + len) ? (size_t)(ms - s) : len;
        memcpy(o, s, keep);
        o += keep;
        *o++ = '\n';
        s += len + (nl ? 1 : 0);
    }
    *o = '\0';
    return out;
}

/* Whether node is installed (a message when it is not: the caller skips). */
static inline int test_have_node(void) {
    if (run_capture("command -v node >/dev/null 2>&1", NULL) != 0) {
        printf("  skipping: node is not installed\n");
        return 0;
    }
    return 1;
}

/* Runs `ENV node SCRIPT` (SCRIPT relative to the repository root, which
 * CHIRP_ROOT names when the test runs elsewhere) with a 5-minute limit,
 * printing its output. Returns its exit status: 77 means its npm packages
 * are missing (the caller skips). */
static inline int test_node_script(const char *env, const char *script) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s timeout 300 node %s/%s 2>&1", env, getenv("CHIRP_ROOT") ? getenv("CHIRP_ROOT") : ".",
             script);
    char *out = NULL;
    int rc = run_capture(cmd, &out);
    if (out) printf("%s", out);
    free(out);
    return rc;
}

/* A small model with the same tokenizer machinery as a real one, in a
 * fresh directory: a tokenizer trained by chirp (vocabulary 400, with
 * multi-byte characters in the corpus, and the ChatML tokens every chirp
 * tokenizer has) and a random GPT-2 with that vocabulary, a 128-token
 * context (or ctx) and sharper logits than the 0.02-std init, so sampled text
 * varies. (GPT-2's 50k-token tokenizer takes a minute to load under ASan;
 * this keeps suites fast in both builds.) Writes the directory into dir;
 * returns 0, or -1 if a step failed. */
static inline int test_tiny_model_ctx(char *dir, size_t cap, unsigned long long seed, int ctx) {
    snprintf(dir, cap, "%s", test_tmpdir());
    char txt[700], cmd[2048], tj[700];
    snprintf(txt, sizeof txt, "%s/corpus.txt", dir);
    FILE *f = fopen(txt, "w");
    if (!f) return -1;
    for (int i = 0; i < 300; i++)
        fprintf(f, "Once upon a time a bird sang %d songs. Good morning! caf\xc3\xa9 \xe2\x82\xac%d \xf0\x9f\x90\xa6\n",
                i, i);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s tokenizer train --input %s --vocab-size 400 --out %s >/dev/null 2>&1", chirp_bin(),
             txt, dir);
    if (run_capture(cmd, NULL) != 0) return -1;
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    Tokenizer *tok = tokenizer_load(tj);
    if (!tok) return -1;
    Gpt2Config cfg = {.n_layer = 2,
                      .n_head = 2,
                      .n_embd = 32,
                      .n_ctx = ctx,
                      .vocab_size = tokenizer_vocab_size(tok),
                      .ln_eps = 1e-5f};
    tokenizer_free(tok);
    Gpt2Model g;
    if (gpt2_init_random(&g, &cfg, seed) != 0) return -1;
    for (size_t i = 0; i < (size_t)cfg.vocab_size * cfg.n_embd; i++) g.params.wte[i] *= 10.0f;
    int rc = gpt2_save(&g, dir);
    gpt2_free(&g);
    return rc;
}

static inline int test_tiny_model(char *dir, size_t cap, unsigned long long seed) {
    return test_tiny_model_ctx(dir, cap, seed, 128);
}

/* A `chirp serve` started for a test on a free loopback port. */
typedef struct TestServer {
    pid_t pid;
    int port;
    char err_path[64]; /* its stderr (the access log) */
} TestServer;

/* Starts CHIRP_BIN serve --port 0 ARGS and waits for its "listening on"
 * line (at most 60 s: ASan builds load slowly). Returns 0 or -1. */
static inline int test_server_start(TestServer *ts, const char *args) {
    int out[2];
    if (pipe(out) != 0) return -1;
    snprintf(ts->err_path, sizeof ts->err_path, "/tmp/chirp-serve-err-XXXXXX");
    int efd = mkstemp(ts->err_path);
    if (efd < 0) return -1;
    ts->pid = fork();
    if (ts->pid < 0) return -1;
    if (ts->pid == 0) {
        dup2(out[1], 1);
        dup2(efd, 2);
        close(out[0]);
        char cmd[8192];
        /* Under ASan, freed memory waits in a quarantine (256 MB by
         * default) before reuse; a small one lets memory tests see growth. */
        snprintf(cmd, sizeof cmd,
                 "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8\" exec %s serve --port 0 %s",
                 chirp_bin(), args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    close(efd);
    FILE *f = fdopen(out[0], "r");
    char line[512];
    ts->port = 0;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "listening on http://");
        if (p && (p = strrchr(p, ':'))) {
            ts->port = atoi(p + 1);
            break;
        }
    }
    fclose(f);
    return ts->port > 0 ? 0 : -1;
}

/* SIGTERM, then waits; returns the exit status (-1 if it was killed or
 * did not exit within 20 s). */
static inline int test_server_stop(TestServer *ts) {
    if (ts->pid <= 0) return -1;
    kill(ts->pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 2000; i++) {
        pid_t r = waitpid(ts->pid, &status, WNOHANG);
        if (r == ts->pid) {
            ts->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(10000);
    }
    kill(ts->pid, SIGKILL);
    waitpid(ts->pid, &status, 0);
    ts->pid = 0;
    return -1;
}

#endif
