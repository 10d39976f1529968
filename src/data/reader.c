/* reader.c: format detection and dispatch to the readers. */
#include "data/reader.h"

#include "util/error.h"
#include "util/file.h"

#include <stdlib.h>
#include <string.h>

const char *reader_detect_format(const char *path) {
    if (path_is_dir(path) || path_has_suffix(path, ".zip") || path_has_suffix(path, "tweets.js")) return "x-archive";
    if (path_has_suffix(path, ".csv")) return "csv";
    if (path_has_suffix(path, ".jsonl") || path_has_suffix(path, ".ndjson")) return "jsonl";
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char head[4096];
    size_t n = fread(head, 1, sizeof head - 1, f);
    fclose(f);
    head[n] = '\0';
    size_t i = 0;
    while (i < n && (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t')) i++;
    if (path_has_suffix(path, ".json") || head[i] == '[') return head[i] == '{' ? "jsonl" : "trump-archive";
    if (head[i] == '{') return "jsonl";
    if (strncmp(head, "window.YTD.", 11) == 0) return "x-archive";
    if (path_has_suffix(path, ".txt")) return "text";
    /* Fortune files separate entries with lines holding just "%". */
    if (strstr(head, "\n%\n") || strncmp(head, "%\n", 2) == 0) return "fortune";
    return "text";
}

Reader *reader_open(const char *path, const char *format, const ReaderOptions *opt) {
    ReaderOptions defaults = {0};
    if (!opt) opt = &defaults;
    if (!format || strcmp(format, "auto") == 0) {
        format = reader_detect_format(path);
        if (!format) {
            chirp_fail_errno("%s", path);
            return NULL;
        }
    }
    if (!path_exists(path)) {
        chirp_fail("%s: No such file or directory", path);
        return NULL;
    }
    if (strcmp(format, "csv") == 0) return csv_open(path, opt);
    if (strcmp(format, "jsonl") == 0) return jsonl_open(path, opt);
    if (strcmp(format, "x-archive") == 0) return x_archive_open(path, opt);
    if (strcmp(format, "trump-archive") == 0) return trump_archive_open(path, opt);
    if (strcmp(format, "fortune") == 0) return fortune_open(path, opt);
    if (strcmp(format, "text") == 0) return text_open(path, opt);
    chirp_fail("unknown format '%s' (auto, csv, jsonl, x-archive, trump-archive, fortune, text)", format);
    return NULL;
}

int reader_next(Reader *r, Post *post) {
    memset(post, 0, sizeof *post);
    return r->next(r, post);
}

const char *reader_format(const Reader *r) { return r->format; }

void reader_free(Reader *r) {
    if (!r) return;
    char *path = r->path;
    r->destroy(r);
    free(path);
}
