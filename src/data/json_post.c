/* json_post.c: field extraction by dotted path, and a streaming splitter
 * for top-level JSON arrays so big archive files never sit in memory whole.
 * jansson decodes each element (including \uD83D\uDE00 surrogate pairs and
 * rejecting invalid UTF-8). */
#include "data/json_post.h"

#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_fields_init(JsonFields *f, const ReaderOptions *opt, const char *const *const defaults[JF_COUNT]) {
    const char *user[JF_COUNT] = {opt->text_field,   opt->id_field,   opt->author_field,
                                  opt->handle_field, opt->time_field, opt->reply_to_field};
    for (int i = 0; i < JF_COUNT; i++) {
        f->user[i] = user[i];
        f->defaults[i] = defaults[i];
    }
}

/* Follows "a.b.c" through nested objects. */
static json_t *get_path(json_t *obj, const char *path) {
    char key[256];
    while (obj && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key) return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        obj = json_is_object(obj) ? json_object_get(obj, key) : NULL;
        path += n;
        if (*path == '.') path++;
    }
    return obj;
}

/* A scalar as a new string; an array gives its first element (reply-to
 * lists); null, objects and empty arrays give NULL. */
static char *scalar_string(json_t *v) {
    char num[64];
    if (json_is_array(v)) v = json_array_size(v) ? json_array_get(v, 0) : NULL;
    if (!v) return NULL;
    if (json_is_string(v)) return strndup(json_string_value(v), json_string_length(v));
    if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return xstrdup(num);
    }
    if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        return xstrdup(num);
    }
    if (json_is_true(v)) return xstrdup("true");
    return NULL;
}

static json_t *find(const JsonFields *f, int role, json_t *obj) {
    if (f->user[role]) return get_path(obj, f->user[role]);
    for (const char *const *d = f->defaults[role]; d && *d; d++) {
        json_t *v = get_path(obj, *d);
        if (v && !json_is_null(v)) return v;
    }
    return NULL;
}

void json_post_fill(JsonPost *jp, const JsonFields *f, json_t *obj, Post *post) {
    for (int i = 0; i < JF_COUNT; i++) {
        free(jp->slot[i]);
        jp->slot[i] = NULL;
    }
    if (!json_is_object(obj)) {
        post->error = "record is not a JSON object";
        return;
    }
    json_t *text = find(f, JF_TEXT, obj);
    if (!json_is_string(text)) {
        const char *name = f->user[JF_TEXT] ? f->user[JF_TEXT] : f->defaults[JF_TEXT][0];
        snprintf(jp->msg, sizeof jp->msg, "no string field '%s' (--text-field)", name);
        post->error = jp->msg;
    } else {
        post->text = json_string_value(text);
        post->text_len = json_string_length(text);
    }
    const char **dest[JF_COUNT] = {NULL, &post->id, &post->author, &post->handle, &post->time, &post->reply_to};
    for (int i = 1; i < JF_COUNT; i++) {
        jp->slot[i] = scalar_string(find(f, i, obj));
        *dest[i] = jp->slot[i] && *jp->slot[i] ? jp->slot[i] : NULL;
    }
    json_t *rt = json_object_get(obj, "is_retweet");
    if (json_is_true(rt) || json_object_get(obj, "retweeted_status")) post->retweet = true;
}

json_t *json_post_parse(JsonPost *jp, const char *data, size_t len, Post *post) {
    json_error_t err;
    json_t *obj = json_loadb(data, len, JSON_ALLOW_NUL, &err);
    if (!obj) {
        snprintf(jp->msg, sizeof jp->msg, "broken JSON at column %d: %s", err.column, err.text);
        post->error = jp->msg;
    }
    return obj;
}

void json_post_destroy(JsonPost *jp) {
    for (int i = 0; i < JF_COUNT; i++) free(jp->slot[i]);
}

static void put(JsonArray *ja, int c, int *too_big) {
    if (ja->elem.len < ja->max) buf_putc(&ja->elem, (char)c);
    else *too_big = 1;
}

int json_array_next(JsonArray *ja, int *too_big, int *truncated) {
    Input *in = ja->in;
    *too_big = *truncated = 0;
    ja->elem.len = 0;
    if (ja->done) return 0;
    int c;
    if (!ja->started) {
        while ((c = input_getc(in)) != EOF && c != '[') {}
        if (c == EOF) {
            if (!in->err) chirp_fail("%s: no JSON array found", in->name);
            return -1;
        }
        ja->started = 1;
    }
    /* Skip separators up to the next element. */
    do c = input_getc(in);
    while (c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == ',');
    if (c == ']') {
        ja->done = 1;
        return 0;
    }
    if (c == EOF) {
        if (in->err) return -1;
        ja->done = 1;
        *truncated = 1;
        return 1; /* the array never closed: one malformed (empty) record */
    }
    int depth = 0, in_str = 0;
    for (;;) {
        if (in_str) {
            put(ja, c, too_big);
            if (c == '\\') {
                c = input_getc(in);
                if (c == EOF) break;
                put(ja, c, too_big);
            } else if (c == '"') {
                in_str = 0;
            }
        } else if (c == '"') {
            in_str = 1;
            put(ja, c, too_big);
        } else if (c == '{' || c == '[') {
            depth++;
            put(ja, c, too_big);
        } else if (c == '}' || c == ']') {
            if (depth == 0) {
                /* ']' closing the array right after a scalar element. */
                ja->done = 1;
                break;
            }
            depth--;
            put(ja, c, too_big);
            if (depth == 0) break;
        } else if (c == ',' && depth == 0) {
            break;
        } else {
            put(ja, c, too_big);
        }
        c = input_getc(in);
        if (c == EOF) break;
    }
    if (c == EOF) {
        if (in->err) return -1;
        ja->done = 1;
        *truncated = 1;
    }
    buf_terminate(&ja->elem);
    return 1;
}

int json_array_next_post(JsonArrayPosts *s, Post *post) {
    json_decref(s->obj);
    s->obj = NULL;
    int too_big, truncated;
    long line = s->ja.in->line;
    int rc = json_array_next(&s->ja, &too_big, &truncated);
    if (rc <= 0) {
        if (rc < 0) chirp_error_prefix("record %ld: ", s->record + 1);
        return rc;
    }
    post->record = ++s->record;
    post->line = line;
    if (truncated) {
        post->error = "file ends inside this record (truncated JSON)";
        return 1;
    }
    if (too_big) {
        snprintf(s->msg, sizeof s->msg, "record longer than %zu bytes", s->ja.max);
        post->error = s->msg;
        return 1;
    }
    s->obj = json_post_parse(&s->jp, s->ja.elem.data, s->ja.elem.len, post);
    return 1;
}

void json_array_posts_destroy(JsonArrayPosts *s) {
    json_decref(s->obj);
    s->obj = NULL;
    json_post_destroy(&s->jp);
    buf_free(&s->ja.elem);
}
