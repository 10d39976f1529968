/* trump_archive.c: the Trump Twitter Archive's "condensed" JSON: one
 * top-level array of tweet objects (text, id_str, created_at, is_retweet,
 * in_reply_to_user_id_str). Emoji are \uD83D\uDE00-style surrogate pairs,
 * which jansson combines. The archive has no parent tweet ids and no
 * author field, so reply_to and author stay empty unless fields are given. */
#include "data/json_post.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

static const char *const d_text[] = {"text", "full_text", NULL};
static const char *const d_id[] = {"id_str", "id", NULL};
static const char *const d_time[] = {"created_at", NULL};
static const char *const d_reply[] = {"in_reply_to_status_id_str", NULL};
static const char *const d_none[] = {NULL};
static const char *const *const trump_defaults[JF_COUNT] = {d_text, d_id, d_none, d_none, d_time, d_reply};

typedef struct ArrayReader {
    Reader base;
    Input in;
    JsonArray ja;
    JsonFields fields;
    JsonPost jp;
    json_t *obj;
    long record;
    char msg[160];
} ArrayReader;

static int array_next(Reader *base, Post *post) {
    ArrayReader *r = (ArrayReader *)base;
    json_decref(r->obj);
    r->obj = NULL;
    int too_big, truncated;
    long line = r->in.line;
    int rc = json_array_next(&r->ja, &too_big, &truncated);
    if (rc <= 0) {
        if (rc < 0) chirp_error_prefix("record %ld: ", r->record + 1);
        return rc;
    }
    post->record = ++r->record;
    post->line = line;
    if (truncated) {
        post->error = "file ends inside this record (truncated JSON)";
        return 1;
    }
    if (too_big) {
        snprintf(r->msg, sizeof r->msg, "record longer than %zu bytes", r->base.max_record);
        post->error = r->msg;
        return 1;
    }
    r->obj = json_post_parse(&r->jp, r->ja.elem.data, r->ja.elem.len, post);
    if (r->obj) json_post_fill(&r->jp, &r->fields, r->obj, post);
    return 1;
}

static void array_destroy(Reader *base) {
    ArrayReader *r = (ArrayReader *)base;
    json_decref(r->obj);
    json_post_destroy(&r->jp);
    input_close(&r->in);
    buf_free(&r->ja.elem);
    free(r);
}

Reader *trump_archive_open(const char *path, const ReaderOptions *opt) {
    ArrayReader *r = xcalloc(1, sizeof *r);
    r->base.next = array_next;
    r->base.destroy = array_destroy;
    r->base.format = "trump-archive";
    r->base.path = xstrdup(path);
    r->base.max_record = opt->max_record ? opt->max_record : READER_DEFAULT_MAX_RECORD;
    json_fields_init(&r->fields, opt, trump_defaults);
    if (input_open_file(&r->in, path) != 0) {
        reader_free(&r->base);
        return NULL;
    }
    r->ja.in = &r->in;
    r->ja.max = r->base.max_record;
    return &r->base;
}
