/* x_archive.c: an X/Twitter "download your data" archive.
 *
 * The tweets are in data/tweets.js: `window.YTD.tweets.part0 = [ {"tweet":
 * {...}}, ... ]` with full_text, id_str, created_at and
 * in_reply_to_status_id_str. The path may be the archive folder, its .zip
 * (read in place with libzip, never unpacked) or tweets.js itself. The
 * account's id and handle come from data/account.js when present. */
#include "data/json_post.h"

#include "util/error.h"
#include "util/file.h"

#include <stdlib.h>
#include <string.h>
#include <zip.h>

static const char *const d_text[] = {"full_text", "text", NULL};
static const char *const d_id[] = {"id_str", "id", NULL};
static const char *const d_author[] = {"user_id_str", "author_id", NULL};
static const char *const d_handle[] = {"user.screen_name", NULL};
static const char *const d_time[] = {"created_at", NULL};
static const char *const d_reply[] = {"in_reply_to_status_id_str", "in_reply_to_status_id", NULL};
static const char *const *const x_defaults[JF_COUNT] = {d_text, d_id, d_author, d_handle, d_time, d_reply};

typedef struct XReader {
    Reader base;
    zip_t *zip;
    Input in;
    JsonFields fields;
    JsonArrayPosts posts;
    char *account_id, *username;
} XReader;

static int x_next(Reader *base, Post *post) {
    XReader *r = (XReader *)base;
    int rc = json_array_next_post(&r->posts, post);
    if (rc != 1 || !r->posts.obj) return rc;
    json_t *tweet = json_object_get(r->posts.obj, "tweet");
    json_post_fill(&r->posts.jp, &r->fields, tweet ? tweet : r->posts.obj, post);
    if (!post->author) post->author = r->account_id;
    if (!post->handle) post->handle = r->username;
    if (post->text && post->text_len >= 4 && memcmp(post->text, "RT @", 4) == 0) post->retweet = true;
    return 1;
}

static void x_destroy(Reader *base) {
    XReader *r = (XReader *)base;
    json_array_posts_destroy(&r->posts);
    input_close(&r->in);
    if (r->zip) zip_discard(r->zip);
    free(r->account_id);
    free(r->username);
    free(r);
}

/* Opens a member of the zip (by full name, else by base name anywhere). */
static int open_member(XReader *r, Input *in, const char *name, const char *base_name) {
    zip_int64_t idx = zip_name_locate(r->zip, name, 0);
    if (idx < 0) idx = zip_name_locate(r->zip, base_name, ZIP_FL_NODIR);
    if (idx < 0) return 1;
    zip_file_t *zf = zip_fopen_index(r->zip, (zip_uint64_t)idx, 0);
    if (!zf) return chirp_fail("%s: %s: %s", r->base.path, name, zip_strerror(r->zip));
    char label[1024];
    snprintf(label, sizeof label, "%s:%s", r->base.path, name);
    input_open_zip(in, zf, label);
    return 0;
}

/* Reads accountId and username from account.js; absent is fine. */
static void read_account(XReader *r, const char *folder) {
    Input in;
    int rc;
    if (r->zip) {
        rc = open_member(r, &in, "data/account.js", "account.js");
    } else if (folder) {
        char *p = path_join(folder, "account.js");
        rc = path_exists(p) ? input_open_file(&in, p) : 1;
        free(p);
    } else {
        rc = 1;
    }
    if (rc != 0) {
        chirp_error_clear();
        return;
    }
    JsonArray ja = {.in = &in, .max = 1 << 20};
    int too_big, truncated;
    if (json_array_next(&ja, &too_big, &truncated) == 1 && !too_big && !truncated) {
        json_t *obj = json_loadb(ja.elem.data, ja.elem.len, 0, NULL);
        json_t *acc = obj ? json_object_get(obj, "account") : NULL;
        const char *id = json_string_value(json_object_get(acc, "accountId"));
        const char *user = json_string_value(json_object_get(acc, "username"));
        if (id) r->account_id = xstrdup(id);
        if (user) r->username = xstrdup(user);
        json_decref(obj);
    }
    buf_free(&ja.elem);
    input_close(&in);
    chirp_error_clear();
}

Reader *x_archive_open(const char *path, const ReaderOptions *opt) {
    XReader *r = xcalloc(1, sizeof *r);
    r->base.next = x_next;
    r->base.destroy = x_destroy;
    r->base.format = "x-archive";
    r->base.path = xstrdup(path);
    r->base.max_record = opt->max_record ? opt->max_record : READER_DEFAULT_MAX_RECORD;
    json_fields_init(&r->fields, opt, x_defaults);
    size_t n = strlen(path);
    int rc;
    if (path_is_dir(path)) {
        char *data = path_join(path, "data");
        char *tweets = path_join(data, "tweets.js");
        if (!path_exists(tweets)) {
            chirp_fail("%s: not an X archive folder (no data/tweets.js)", path);
            rc = -1;
        } else {
            rc = input_open_file(&r->in, tweets);
            if (rc == 0) read_account(r, data);
        }
        free(tweets);
        free(data);
    } else if (n >= 4 && strcasecmp(path + n - 4, ".zip") == 0) {
        int zerr = 0;
        r->zip = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
        if (!r->zip) {
            zip_error_t ze;
            zip_error_init_with_code(&ze, zerr);
            chirp_fail("%s: cannot open zip archive (truncated or corrupt?): %s", path, zip_error_strerror(&ze));
            zip_error_fini(&ze);
            rc = -1;
        } else {
            rc = open_member(r, &r->in, "data/tweets.js", "tweets.js");
            if (rc > 0) rc = chirp_fail("%s: not an X archive (no data/tweets.js inside)", path);
            if (rc == 0) read_account(r, NULL);
        }
    } else {
        rc = input_open_file(&r->in, path);
        if (rc == 0) {
            char *folder = xstrdup(path);
            char *slash = strrchr(folder, '/');
            if (slash) *slash = '\0';
            else strcpy(folder, ".");
            read_account(r, folder);
            free(folder);
        }
    }
    if (rc != 0) {
        reader_free(&r->base);
        return NULL;
    }
    r->posts.ja.in = &r->in;
    r->posts.ja.max = r->base.max_record;
    return &r->base;
}
