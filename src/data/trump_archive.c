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
    JsonFields fields;
    JsonArrayPosts posts;
} ArrayReader;

static int array_next(Reader *base, Post *post) {
    ArrayReader *r = (ArrayReader *)base;
    int rc = json_array_next_post(&r->posts, post);
    if (rc == 1 && r->posts.obj) json_post_fill(&r->posts.jp, &r->fields, r->posts.obj, post);
    return rc;
}

static void array_destroy(Reader *base) {
    ArrayReader *r = (ArrayReader *)base;
    json_array_posts_destroy(&r->posts);
    input_close(&r->in);
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
    r->posts.ja.in = &r->in;
    r->posts.ja.max = r->base.max_record;
    return &r->base;
}
