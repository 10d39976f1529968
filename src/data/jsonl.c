/* jsonl.c: JSON Lines reader: one object per line, fields by dotted path.
 * A line that does not parse is one malformed record; the next line is
 * read normally. Lines longer than max_record are skipped as malformed. */
#include "data/json_post.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

static const char *const d_text[] = {"text", "full_text", "content", "body", NULL};
static const char *const d_id[] = {"id_str", "id", "tweet_id", "post_id", NULL};
static const char *const d_author[] = {"author_id", "user_id", "author", "user.id_str", NULL};
static const char *const d_handle[] = {"username", "handle", "screen_name", "user.screen_name", NULL};
static const char *const d_time[] = {"created_at", "time", "timestamp", "date", NULL};
static const char *const d_reply[] = {"in_reply_to_status_id_str", "in_reply_to_status_id", "reply_to", "replied_to",
                                      NULL};
static const char *const *const jsonl_defaults[JF_COUNT] = {d_text, d_id, d_author, d_handle, d_time, d_reply};

typedef struct JsonlReader {
    Reader base;
    Input in;
    Buf line;
    JsonFields fields;
    JsonPost jp;
    json_t *obj;
    long record;
    char msg[128];
} JsonlReader;

static int jsonl_next(Reader *base, Post *post) {
    JsonlReader *r = (JsonlReader *)base;
    json_decref(r->obj);
    r->obj = NULL;
    for (;;) {
        long line = r->in.line;
        int too_long = 0;
        int rc = input_read_line(&r->in, &r->line, r->base.max_record, &too_long);
        if (rc <= 0) return rc;
        size_t i = 0;
        while (i < r->line.len && (r->line.data[i] == ' ' || r->line.data[i] == '\t')) i++;
        if (i == r->line.len && !too_long) continue; /* blank line */
        post->record = ++r->record;
        post->line = line;
        if (too_long) {
            snprintf(r->msg, sizeof r->msg, "line longer than %zu bytes", r->base.max_record);
            post->error = r->msg;
            return 1;
        }
        r->obj = json_post_parse(&r->jp, r->line.data, r->line.len, post);
        if (r->obj) json_post_fill(&r->jp, &r->fields, r->obj, post);
        return 1;
    }
}

static void jsonl_destroy(Reader *base) {
    JsonlReader *r = (JsonlReader *)base;
    json_decref(r->obj);
    json_post_destroy(&r->jp);
    input_close(&r->in);
    buf_free(&r->line);
    free(r);
}

Reader *jsonl_open(const char *path, const ReaderOptions *opt) {
    JsonlReader *r = xcalloc(1, sizeof *r);
    r->base.next = jsonl_next;
    r->base.destroy = jsonl_destroy;
    r->base.format = "jsonl";
    r->base.path = xstrdup(path);
    r->base.max_record = opt->max_record ? opt->max_record : READER_DEFAULT_MAX_RECORD;
    json_fields_init(&r->fields, opt, jsonl_defaults);
    if (input_open_file(&r->in, path) != 0) {
        reader_free(&r->base);
        return NULL;
    }
    return &r->base;
}
