#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char error_message[1024];

int chirp_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return -1;
}

int chirp_fail_errno(const char *fmt, ...) {
    int saved = errno;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(error_message, sizeof error_message, "%s: %s", msg, strerror(saved));
    return -1;
}

void chirp_error_prefix(const char *fmt, ...) {
    char prefix[512];
    char old[sizeof error_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_message, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof error_message) n = sizeof error_message - 1;
    memcpy(error_message, prefix, n);
    size_t rest = strlen(old);
    if (rest > sizeof error_message - 1 - n) rest = sizeof error_message - 1 - n;
    memcpy(error_message + n, old, rest);
    error_message[n + rest] = '\0';
}

const char *chirp_error(void) { return error_message; }

void chirp_error_clear(void) { error_message[0] = '\0'; }

static void out_of_memory(size_t n) {
    fprintf(stderr, "chirp: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) out_of_memory(n);
    return p;
}

void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) out_of_memory(n);
    return q;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}
