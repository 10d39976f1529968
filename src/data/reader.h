/* reader.h: what every reader implementation shares (private to src/data).
 *
 * A reader embeds `Reader` as its first member; reader_open() dispatches on
 * the format to one of the *_open() functions below. Input is a buffered
 * byte stream over a FILE or a zip member, so the zip and folder forms of an
 * archive share one parser. */
#ifndef CHIRP_DATA_READER_H
#define CHIRP_DATA_READER_H

#include "data/post.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdio.h>

struct Reader {
    int (*next)(Reader *r, Post *post);
    void (*destroy)(Reader *r);
    const char *format;
    char *path;
    size_t max_record;
};

/* Buffered input with a fast inline getc. */
typedef struct Input {
    FILE *fp;
    void *zf; /* zip_file_t*, when reading a zip member */
    unsigned char *buf;
    size_t pos, len, cap;
    int eof, err;
    long line;  /* 1-based line of the next byte */
    char *name; /* for messages */
} Input;

int input_open_file(Input *in, const char *path);
/* Takes ownership of zf (a zip_file_t*). */
void input_open_zip(Input *in, void *zf, const char *name);
void input_close(Input *in);
int input_fill(Input *in); /* refills; returns next byte or EOF */

static inline int input_getc(Input *in) {
    if (in->pos < in->len) {
        int c = in->buf[in->pos++];
        if (c == '\n') in->line++;
        return c;
    }
    return input_fill(in);
}

/* Peeks the next byte without consuming it (EOF at the end). */
int input_peek(Input *in);

/* Reads one line (without the \n and a trailing \r) into b, storing at most
 * max bytes; *too_long is set when more were skipped. Returns 0 at EOF with
 * nothing read, 1 otherwise, -1 on a read error. */
int input_read_line(Input *in, Buf *b, size_t max, int *too_long);

Reader *csv_open(const char *path, const ReaderOptions *opt);
Reader *jsonl_open(const char *path, const ReaderOptions *opt);
Reader *x_archive_open(const char *path, const ReaderOptions *opt);
Reader *trump_archive_open(const char *path, const ReaderOptions *opt);
Reader *fortune_open(const char *path, const ReaderOptions *opt);
Reader *text_open(const char *path, const ReaderOptions *opt);

#endif
