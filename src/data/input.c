/* input.c: buffered byte input over a FILE or a zip member, and Buf.
 * Readers parse byte by byte; the inline input_getc() keeps that cheap. */
#include "data/reader.h"

#include "util/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#define INPUT_CHUNK (1 << 16)

int input_open_file(Input *in, const char *path) {
    memset(in, 0, sizeof *in);
    in->fp = fopen(path, "rb");
    if (!in->fp) return chirp_fail_errno("%s", path);
    in->cap = INPUT_CHUNK;
    in->buf = xmalloc(in->cap);
    in->line = 1;
    in->name = xstrdup(path);
    return 0;
}

void input_open_zip(Input *in, void *zf, const char *name) {
    memset(in, 0, sizeof *in);
    in->zf = zf;
    in->cap = INPUT_CHUNK;
    in->buf = xmalloc(in->cap);
    in->line = 1;
    in->name = xstrdup(name);
}

void input_close(Input *in) {
    if (in->fp) fclose(in->fp);
    if (in->zf) zip_fclose(in->zf);
    free(in->buf);
    free(in->name);
    memset(in, 0, sizeof *in);
}

int input_fill(Input *in) {
    if (in->eof || in->err) return EOF;
    size_t got = 0;
    if (in->fp) {
        got = fread(in->buf, 1, in->cap, in->fp);
        if (got == 0 && ferror(in->fp)) {
            in->err = 1;
            chirp_fail_errno("%s: read error", in->name);
            return EOF;
        }
    } else if (in->zf) {
        zip_int64_t n = zip_fread(in->zf, in->buf, in->cap);
        if (n < 0) {
            in->err = 1;
            chirp_fail("%s: cannot read from the archive (truncated or corrupt?): %s", in->name,
                       zip_file_strerror(in->zf));
            return EOF;
        }
        got = (size_t)n;
    }
    if (got == 0) {
        in->eof = 1;
        return EOF;
    }
    in->pos = 0;
    in->len = got;
    return input_getc(in);
}

int input_peek(Input *in) {
    if (in->pos < in->len) return in->buf[in->pos];
    int c = input_fill(in);
    if (c == EOF) return EOF;
    /* Un-read the byte input_fill() consumed. */
    in->pos--;
    if (c == '\n') in->line--;
    return c;
}

int input_read_line(Input *in, Buf *b, size_t max, int *too_long) {
    b->len = 0;
    *too_long = 0;
    int c = input_getc(in);
    if (c == EOF) return in->err ? -1 : 0;
    for (; c != EOF && c != '\n'; c = input_getc(in)) {
        if (b->len < max) buf_putc(b, (char)c);
        else *too_long = 1;
    }
    if (in->err) return -1;
    if (b->len > 0 && b->data[b->len - 1] == '\r') b->len--;
    buf_terminate(b);
    return 1;
}
