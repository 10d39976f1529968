/* sse.h: Server-Sent Events framing (the WHATWG "text/event-stream"
 * format OpenAI's streaming uses): one "data: ..." event per chunk, a
 * blank line after each event, ":" comments as keep-alives, and
 * "data: [DONE]" at the end. */
#ifndef CHIRP_SERVE_SSE_H
#define CHIRP_SERVE_SSE_H

#include "util/buf.h"

/* Appends one event carrying payload. A payload with newlines becomes
 * several "data:" lines, which a client joins back with "\n". */
void sse_data(Buf *out, const char *payload);

/* Appends ": text\n\n" (ignored by clients; keeps proxies and our own
 * disconnect check busy during a long prefill). */
void sse_comment(Buf *out, const char *text);

/* Appends "data: [DONE]\n\n". */
void sse_done(Buf *out);

#endif
