/* fortune.c: fortune files (a line holding only "%" ends each entry, as in
 * Debian's /usr/share/games/fortunes) and plain text (a blank line ends
 * each post). Both keep the newlines inside a post. */
#include "data/reader.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct LineReader {
    Reader base;
    Input in;
    Buf line, post;
    int fortune; /* 1: '%' separators, 0: blank lines */
    long record;
    char msg[128];
} LineReader;

static int is_blank(const Buf *b) {
    for (size_t i = 0; i < b->len; i++)
        if (b->data[i] != ' ' && b->data[i] != '\t') return 0;
    return 1;
}

static int line_next(Reader *base, Post *post) {
    LineReader *r = (LineReader *)base;
    r->post.len = 0;
    long start = 0;
    int too_big = 0, have = 0;
    for (;;) {
        long line = r->in.line;
        int too_long = 0;
        int rc = input_read_line(&r->in, &r->line, r->base.max_record, &too_long);
        if (rc < 0) return -1;
        int sep = rc == 0 || (r->fortune ? (r->line.len == 1 && r->line.data[0] == '%') : is_blank(&r->line));
        if (sep) {
            if (have) break;
            if (rc == 0) return 0;
            continue;
        }
        if (!have) start = line;
        have = 1;
        if (too_long || r->post.len + r->line.len + 1 > r->base.max_record) {
            too_big = 1;
            continue;
        }
        if (r->post.len) buf_putc(&r->post, '\n');
        buf_push(&r->post, r->line.data, r->line.len);
    }
    buf_terminate(&r->post);
    post->record = ++r->record;
    post->line = start;
    if (too_big) {
        snprintf(r->msg, sizeof r->msg, "entry longer than %zu bytes", r->base.max_record);
        post->error = r->msg;
        return 1;
    }
    post->text = r->post.data;
    post->text_len = r->post.len;
    return 1;
}

static void line_destroy(Reader *base) {
    LineReader *r = (LineReader *)base;
    input_close(&r->in);
    buf_free(&r->line);
    buf_free(&r->post);
    free(r);
}

static Reader *line_open(const char *path, const ReaderOptions *opt, int fortune) {
    LineReader *r = xcalloc(1, sizeof *r);
    r->base.next = line_next;
    r->base.destroy = line_destroy;
    r->base.format = fortune ? "fortune" : "text";
    r->base.path = xstrdup(path);
    r->base.max_record = opt->max_record ? opt->max_record : READER_DEFAULT_MAX_RECORD;
    r->fortune = fortune;
    if (input_open_file(&r->in, path) != 0) {
        reader_free(&r->base);
        return NULL;
    }
    return &r->base;
}

Reader *fortune_open(const char *path, const ReaderOptions *opt) { return line_open(path, opt, 1); }
Reader *text_open(const char *path, const ReaderOptions *opt) { return line_open(path, opt, 0); }
