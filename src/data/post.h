/* post.h: one post as a reader delivers it, and the reader interface.
 *
 * Every reader streams: it holds at most one record (bounded by
 * ReaderOptions.max_record bytes) in memory, whatever the file size.
 * reader_next() returns 1 with a post, 0 at the end, -1 on a fatal error
 * (unreadable file, broken archive) with the error set. A record that can
 * be delimited but not understood comes back as a post with `error` set:
 * the caller records it as dropped:malformed and goes on. */
#ifndef CHIRP_DATA_POST_H
#define CHIRP_DATA_POST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct Post {
    const char *text; /* raw text (not NUL-safe: use text_len) */
    size_t text_len;
    const char *id;     /* each of these is NULL when absent */
    const char *author; /* author id (or name, whatever the source has) */
    const char *handle; /* author handle without '@', when known */
    const char *time;
    const char *reply_to; /* id of the post this one replies to */
    long record;          /* 1-based record number within the source */
    long line;            /* 1-based line where the record starts (0: n/a) */
    bool retweet;         /* the source itself flags it as a retweet */
    const char *error;    /* non-NULL: malformed record, and why */
} Post;

/* Field names (dotted paths for JSON). NULL picks the format's defaults,
 * e.g. CSV text: text, full_text, content, body; id: tweet_id, id_str, id. */
typedef struct ReaderOptions {
    const char *text_field;
    const char *id_field;
    const char *author_field;
    const char *handle_field;
    const char *time_field;
    const char *reply_to_field;
    size_t max_record; /* bytes; 0 = default (1 MiB) */
} ReaderOptions;

#define READER_DEFAULT_MAX_RECORD ((size_t)1 << 20)

typedef struct Reader Reader;

/* format: "auto", "csv", "jsonl", "x-archive", "trump-archive", "fortune"
 * or "text". Returns NULL with the error set (naming the path). */
Reader *reader_open(const char *path, const char *format, const ReaderOptions *opt);
int reader_next(Reader *r, Post *post);
/* The format actually used (after auto-detection). */
const char *reader_format(const Reader *r);
void reader_free(Reader *r);

/* Guesses a format from the name and first bytes; NULL if it cannot. */
const char *reader_detect_format(const char *path);

#endif
