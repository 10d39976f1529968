/* buf.c: see buf.h. Doubling growth keeps appends amortized O(1). */
#include "util/buf.h"

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
