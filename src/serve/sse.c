/* sse.c: Server-Sent Events framing (see sse.h). */
#include "serve/sse.h"

#include <string.h>

void sse_data(Buf *out, const char *payload) {
    const char *p = payload;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        /* A "\r" would end the line for the client too. */
        if (n > 0 && p[n - 1] == '\r') n--;
        buf_push(out, "data: ", 6);
        buf_push(out, p, n);
        buf_push(out, "\n", 1);
        if (!nl) break;
        p = nl + 1;
    }
    buf_push(out, "\n", 1);
}

void sse_comment(Buf *out, const char *text) {
    buf_push(out, ": ", 2);
    buf_push(out, text, strlen(text));
    buf_push(out, "\n\n", 2);
}

void sse_done(Buf *out) { buf_push(out, "data: [DONE]\n\n", 14); }
