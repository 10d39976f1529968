/* json_post.h: turning one parsed JSON object into a Post (private to
 * src/data). Shared by the JSONL, X archive and Trump archive readers. */
#ifndef CHIRP_DATA_JSON_POST_H
#define CHIRP_DATA_JSON_POST_H

#include "data/reader.h"

#include <jansson.h>

enum { JF_TEXT, JF_ID, JF_AUTHOR, JF_HANDLE, JF_TIME, JF_REPLY, JF_COUNT };

/* Per role: the user's dotted path, or NULL-terminated default paths. */
typedef struct JsonFields {
    const char *user[JF_COUNT];
    const char *const *defaults[JF_COUNT];
} JsonFields;

/* Owns the strings a Post points into until the next call. */
typedef struct JsonPost {
    char *slot[JF_COUNT];
    char msg[300];
} JsonPost;

void json_fields_init(JsonFields *f, const ReaderOptions *opt, const char *const *const defaults[JF_COUNT]);

/* Fills post from obj. On a missing text field sets post->error. */
void json_post_fill(JsonPost *jp, const JsonFields *f, json_t *obj, Post *post);

/* Parses one record's bytes; on failure sets post->error (using jp->msg). */
json_t *json_post_parse(JsonPost *jp, const char *data, size_t len, Post *post);

void json_post_destroy(JsonPost *jp);

/* Streams the elements of a top-level JSON array: skips everything before
 * the first '[' (e.g. "window.YTD.tweets.part0 = "), then captures each
 * element's bytes by tracking strings and nesting. */
typedef struct JsonArray {
    Input *in;
    Buf elem;
    int started, done;
    size_t max;
} JsonArray;

/* Returns 1 with an element in ja->elem (*too_big set when it was cut
 * short at max bytes, *truncated when the file ended inside it), 0 at the
 * end of the array, -1 on I/O error or when no array was found. */
int json_array_next(JsonArray *ja, int *too_big, int *truncated);

/* The common part of the readers whose input is one JSON array of post
 * objects (the Trump archive, an X archive's tweets.js): the array
 * stream, the parser, the current element's object and its record count. */
typedef struct JsonArrayPosts {
    JsonArray ja;
    JsonPost jp;
    json_t *obj; /* the current element, NULL when it was malformed */
    long record;
    char msg[160];
} JsonArrayPosts;

/* Delimits and parses the next element into post (record, line; an
 * oversized or truncated element becomes post->error). Returns 1 with
 * s->obj set (NULL when the element was malformed), 0 at the end of the
 * array, -1 on a read error. */
int json_array_next_post(JsonArrayPosts *s, Post *post);

void json_array_posts_destroy(JsonArrayPosts *s);

#endif
