/* shards.c: see shards.h. The header is written last (seek back to 0) so
 * the token count is exact; the rename makes the file appear complete. */
#include "data/shards.h"

#include "util/crashpoint.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void shard_writer_init(ShardWriter *w, const char *dir, const char *split, uint64_t max_tokens, int token_bytes,
                       uint64_t generation, const char *suffix) {
    memset(w, 0, sizeof *w);
    w->dir = xstrdup(dir);
    w->split = split;
    w->suffix = suffix ? suffix : "";
    w->token_bytes = token_bytes == 4 ? 4 : 2;
    w->generation = generation;
    w->max_tokens = max_tokens < 1 ? 1 : max_tokens;
    if (w->max_tokens > INT32_MAX) w->max_tokens = INT32_MAX;
}

static int write_header(ShardWriter *w) {
    int32_t words[SHARD_HEADER_INTS];
    ShardHeader h = {.token_bytes = w->token_bytes, .count = w->ntokens, .generation = w->generation};
    shard_header_encode(&h, words);
    if (fseek(w->af.fp, 0, SEEK_SET) != 0) return -1;
    return fwrite(words, sizeof words, 1, w->af.fp) == 1 ? 0 : -1;
}

static int close_shard(ShardWriter *w) {
    if (!w->open) return 0;
    w->open = 0;
    if (write_header(w) != 0) {
        chirp_fail_errno("%s: write error", w->af.tmp_path);
        file_abort(&w->af);
        return -1;
    }
    w->index++;
    int rc = file_commit(&w->af);
    crashpoint("prepare:one-shard-written");
    return rc;
}

static int open_shard(ShardWriter *w) {
    snprintf(w->name, sizeof w->name, "%s_%03d.bin", w->split, w->index);
    char file[80];
    snprintf(file, sizeof file, "%s%s", w->name, w->suffix);
    char *path = path_join(w->dir, file);
    int rc = file_begin(&w->af, path);
    free(path);
    if (rc != 0) return -1;
    w->open = 1;
    w->ntokens = 0;
    return write_header(w) == 0 ? 0 : chirp_fail_errno("%s: write error", w->name);
}

int shard_writer_add(ShardWriter *w, const int32_t *ids, size_t n, int32_t eot, const char **name, uint64_t *offset) {
    /* Roll over before a post that would not fit; a post longer than a
     * whole shard gets a shard of its own. */
    if (w->open && w->ntokens > 0 && w->ntokens + n + 1 > w->max_tokens && close_shard(w) != 0) return -1;
    if (!w->open && open_shard(w) != 0) return -1;
    int64_t max_id = w->token_bytes == 2 ? 65535 : INT32_MAX;
    union {
        uint16_t u16[1024];
        uint32_t u32[1024];
    } buf;
    size_t k = 0;
    for (size_t i = 0; i <= n; i++) {
        int32_t id = i < n ? ids[i] : eot;
        if (id < 0 || id > max_id) {
            shard_writer_abort(w);
            return chirp_fail("token id %d does not fit a uint%d shard", (int)id, 8 * w->token_bytes);
        }
        if (w->token_bytes == 2) buf.u16[k++] = (uint16_t)id;
        else buf.u32[k++] = (uint32_t)id;
        if (k == 1024 || i == n) {
            if (fwrite(&buf, (size_t)w->token_bytes, k, w->af.fp) != k) {
                chirp_fail_errno("%s: write error", w->name);
                shard_writer_abort(w);
                return -1;
            }
            k = 0;
        }
    }
    if (name) *name = w->name;
    if (offset) *offset = w->ntokens;
    w->ntokens += n + 1;
    w->total += n + 1;
    return 0;
}

int shard_writer_finish(ShardWriter *w) {
    int rc = close_shard(w);
    free(w->dir);
    w->dir = NULL;
    return rc == 0 ? w->index : -1;
}

void shard_writer_abort(ShardWriter *w) {
    if (w->open) file_abort(&w->af);
    w->open = 0;
    free(w->dir);
    w->dir = NULL;
}

/* Reads and decodes the header of an open shard, leaving f at its tokens. */
static int read_header(FILE *f, const char *path, ShardHeader *h) {
    int32_t words[SHARD_HEADER_INTS];
    if (fread(words, sizeof words, 1, f) != 1) return chirp_fail("%s: too short for an llm.c shard header", path);
    return shard_header_decode(words, path, h);
}

int shard_read_header(const char *path, ShardHeader *h) {
    FILE *f = fopen(path, "rb");
    if (!f) return chirp_fail_errno("%s", path);
    int rc = read_header(f, path, h);
    fclose(f);
    return rc;
}

uint32_t *shard_read(const char *path, size_t *ntokens, ShardHeader *hout) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        chirp_fail_errno("%s", path);
        return NULL;
    }
    ShardHeader h;
    if (read_header(f, path, &h) != 0) {
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)h.count, w = (size_t)h.token_bytes;
    uint32_t *tokens = xmalloc((n ? n : 1) * sizeof *tokens);
    size_t got = 0;
    if (w == 4) {
        got = fread(tokens, 4, n, f);
    } else {
        uint16_t chunk[4096];
        size_t k;
        while (got < n && (k = fread(chunk, 2, n - got < 4096 ? n - got : 4096, f)) > 0)
            for (size_t i = 0; i < k; i++) tokens[got++] = chunk[i];
    }
    int extra = fgetc(f);
    fclose(f);
    if (got != n || extra != EOF) {
        chirp_fail("%s: header says %zu tokens but the file holds %s", path, n, got != n ? "fewer" : "more");
        free(tokens);
        return NULL;
    }
    *ntokens = n;
    if (hout) *hout = h;
    return tokens;
}
