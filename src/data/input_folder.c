/* input_folder.c: see input_folder.h. */
#include "data/input_folder.h"

#include "data/post.h"
#include "util/error.h"
#include "util/file.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

static int is_x_archive_folder(const char *path) {
    char *t = path_join(path, "data/tweets.js");
    int yes = path_exists(t);
    free(t);
    return yes;
}

static int zip_has_tweets(const char *path) {
    int err = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &err);
    if (!z) return 0;
    int yes = zip_name_locate(z, "data/tweets.js", 0) >= 0;
    zip_discard(z);
    return yes;
}

/* The first bytes of path (NUL-terminated); their count, or -1. */
static long head_of(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

const char *input_folder_entry_format(const char *path, const char **why) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    struct stat st;
    if (base[0] == '.') return *why = "hidden", NULL;
    if (stat(path, &st) != 0) return *why = "cannot be read", NULL;
    if (S_ISDIR(st.st_mode)) {
        if (is_x_archive_folder(path)) return "x-archive";
        return *why = "a folder (folders inside a folder are not read)", NULL;
    }
    if (!S_ISREG(st.st_mode)) return *why = "not a regular file", NULL;
    if (path_has_suffix(path, ".zip")) {
        if (zip_has_tweets(path)) return "x-archive";
        return *why = "a zip that is not an X archive (no data/tweets.js)", NULL;
    }
    if (strcmp(base, "tweets.js") == 0) return "x-archive";
    char head[4096];
    long n = head_of(path, head, sizeof head);
    if (n < 0) return *why = "cannot be read", NULL;
    if (n == 0) return *why = "empty", NULL;
    if (memchr(head, '\0', (size_t)n)) return *why = "binary", NULL;
    if (path_has_suffix(path, ".csv")) return "csv";
    if (path_has_suffix(path, ".jsonl") || path_has_suffix(path, ".ndjson")) return "jsonl";
    long i = 0;
    while (i < n && strchr(" \t\r\n", head[i])) i++;
    if (path_has_suffix(path, ".json")) {
        if (head[i] == '[') return "trump-archive";
        if (head[i] == '{') return "jsonl";
        return *why = "a .json file that is neither an array of posts nor JSON lines", NULL;
    }
    if (strncmp(head, "window.YTD.", 11) == 0) return "x-archive";
    if (path_has_suffix(path, ".txt")) return "text";
    if (strstr(head, "\n%\n") || strncmp(head, "%\n", 2) == 0) return "fortune";
    return *why = "format not recognised (give it as its own --input with --format, or name it .txt)", NULL;
}

static void push(char ***list, int *n, char *s) {
    *list = xrealloc(*list, sizeof(char *) * (size_t)(*n + 1));
    (*list)[(*n)++] = s;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A reason for skipping (copied), from the current error when the
 * reader itself refused the file. */
static void skip(InputList *l, const char *path, const char *why) {
    size_t len = strlen(path) + strlen(why) + 3;
    char *msg = xmalloc(len);
    snprintf(msg, len, "%s: %s", path, why);
    push(&l->skipped, &l->nskipped, msg);
}

static int expand_folder(InputList *l, const char *dir, const char *format, const ReaderOptions *opt) {
    DIR *d = opendir(dir);
    if (!d) return chirp_fail_errno("%s", dir);
    char **names = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) push(&names, &n, xstrdup(e->d_name));
    closedir(d);
    if (n > 0) qsort(names, (size_t)n, sizeof *names, cmp_str);
    int taken = 0;
    struct stat *seen = xmalloc(sizeof *seen * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        char *path = path_join(dir, names[i]);
        const char *why = NULL;
        const char *fmt = input_folder_entry_format(path, &why);
        /* Links to a file already taken (fortune's art.u8 -> art) would
         * read the same posts twice. */
        struct stat st = {0};
        if (fmt && stat(path, &st) == 0)
            for (int k = 0; k < taken && fmt; k++)
                if (seen[k].st_dev == st.st_dev && seen[k].st_ino == st.st_ino)
                    fmt = NULL, why = "the same file as one read already";
        /* A named format takes every regular, visible file. */
        if (format && strcmp(format, "auto") != 0 && names[i][0] != '.' && !path_is_dir(path)) fmt = format;
        /* The reader must accept it too (a CSV without a text column, say). */
        Reader *r = fmt ? reader_open(path, fmt, opt) : NULL;
        if (r) {
            reader_free(r);
            push(&l->paths, &l->count, path);
            seen[taken++] = st;
        } else {
            const char *err = chirp_error();
            size_t plen = strlen(path);
            if (!why) why = strncmp(err, path, plen) == 0 && err[plen] == ':' ? err + plen + 2 : err;
            skip(l, path, why);
            free(path);
        }
        free(names[i]);
    }
    free(names);
    free(seen);
    if (taken == 0) return chirp_fail("%s: no file in this folder has a format chirp reads (%d skipped)", dir, n);
    return 0;
}

int input_list_expand(InputList *l, const char *const *inputs, int n, const char *format, const ReaderOptions *opt) {
    memset(l, 0, sizeof *l);
    for (int i = 0; i < n; i++) {
        if (path_is_dir(inputs[i]) && !is_x_archive_folder(inputs[i])) {
            if (expand_folder(l, inputs[i], format, opt) != 0) {
                input_list_free(l);
                return -1;
            }
        } else {
            push(&l->paths, &l->count, xstrdup(inputs[i]));
        }
    }
    return 0;
}

void input_list_free(InputList *l) {
    for (int i = 0; i < l->count; i++) free(l->paths[i]);
    for (int i = 0; i < l->nskipped; i++) free(l->skipped[i]);
    free(l->paths);
    free(l->skipped);
    memset(l, 0, sizeof *l);
}
