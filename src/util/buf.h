/* buf.h: a growable byte buffer (always room for a NUL after len). */
#ifndef CHIRP_UTIL_BUF_H
#define CHIRP_UTIL_BUF_H

#include <stddef.h>

typedef struct Buf {
    char *data;
    size_t len, cap;
} Buf;

void buf_push(Buf *b, const void *p, size_t n);
void buf_grow(Buf *b, size_t extra); /* room for len + extra + NUL */
static inline void buf_putc(Buf *b, char c) {
    if (b->len + 2 > b->cap) buf_grow(b, 1);
    b->data[b->len++] = c;
}
/* Appends printf output (any length). */
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_terminate(Buf *b); /* NUL after len, not counted */
void buf_free(Buf *b);

#endif
