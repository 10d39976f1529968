/* buf.c: see buf.h. Doubling growth keeps appends amortized O(1). */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

void buf_grow(Buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (b->len + extra + 1 > cap) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void buf_push(Buf *b, const void *p, size_t n) {
    buf_grow(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
}

void buf_terminate(Buf *b) {
    buf_grow(b, 0);
    b->data[b->len] = '\0';
}

void buf_free(Buf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void buf_printf(Buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0) return;
    buf_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
