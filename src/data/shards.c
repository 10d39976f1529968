/* shards.c: see shards.h. The header is written last (seek back to 0) so
 * the token count is exact; the rename makes the file appear complete. */
#include "data/shards.h"

#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void shard_writer_init(ShardWriter *w, const char *dir, const char *split, uint64_t max_tokens) {
    memset(w, 0, sizeof *w);
    w->dir = xstrdup(dir);
    w->split = split;
    w->max_tokens = max_tokens < 1 ? 1 : max_tokens;
    if (w->max_tokens > INT32_MAX) w->max_tokens = INT32_MAX;
}

static int write_header(FILE *f, uint64_t ntokens) {
    int32_t header[SHARD_HEADER_INTS] = {0};
    header[0] = SHARD_MAGIC;
    header[1] = SHARD_VERSION;
    header[2] = (int32_t)ntokens;
    if (fseek(f, 0, SEEK_SET) != 0) return -1;
    return fwrite(header, sizeof header, 1, f) == 1 ? 0 : -1;
}

static int close_shard(ShardWriter *w) {
    if (!w->open) return 0;
    w->open = 0;
    if (write_header(w->af.fp, w->ntokens) != 0) {
        chirp_fail_errno("%s: write error", w->af.tmp_path);
        file_abort(&w->af);
        return -1;
    }
    w->index++;
    return file_commit(&w->af);
}

static int open_shard(ShardWriter *w) {
    snprintf(w->name, sizeof w->name, "%s_%03d.bin", w->split, w->index);
    char *path = path_join(w->dir, w->name);
    int rc = file_begin(&w->af, path);
    free(path);
    if (rc != 0) return -1;
    w->open = 1;
    w->ntokens = 0;
    return write_header(w->af.fp, 0) == 0 ? 0 : chirp_fail_errno("%s: write error", w->name);
}

int shard_writer_add(ShardWriter *w, const int32_t *ids, size_t n, int32_t eot, const char **name,
                     uint64_t *offset) {
    /* Roll over before a post that would not fit; a post longer than a
     * whole shard gets a shard of its own. */
    if (w->open && w->ntokens > 0 && w->ntokens + n + 1 > w->max_tokens && close_shard(w) != 0) return -1;
    if (!w->open && open_shard(w) != 0) return -1;
    uint16_t buf[1024];
    size_t k = 0;
    for (size_t i = 0; i <= n; i++) {
        int32_t id = i < n ? ids[i] : eot;
        if (id < 0 || id > 65535) {
            shard_writer_abort(w);
            return chirp_fail("token id %d does not fit a uint16 shard", (int)id);
        }
        buf[k++] = (uint16_t)id;
        if (k == sizeof buf / sizeof buf[0] || i == n) {
            if (fwrite(buf, sizeof buf[0], k, w->af.fp) != k) {
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

uint16_t *shard_read(const char *path, size_t *ntokens) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        chirp_fail_errno("%s", path);
        return NULL;
    }
    int32_t header[SHARD_HEADER_INTS];
    if (fread(header, sizeof header, 1, f) != 1) {
        chirp_fail("%s: too short for an llm.c shard header", path);
        fclose(f);
        return NULL;
    }
    if (header[0] != SHARD_MAGIC || header[1] != SHARD_VERSION || header[2] < 0) {
        chirp_fail("%s: not an llm.c token shard (magic %d, version %d)", path, header[0], header[1]);
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)header[2];
    uint16_t *tokens = xmalloc((n ? n : 1) * sizeof *tokens);
    size_t got = fread(tokens, sizeof *tokens, n, f);
    int extra = fgetc(f);
    fclose(f);
    if (got != n || extra != EOF) {
        chirp_fail("%s: header says %zu tokens but the file holds %s", path, n, got != n ? "fewer" : "more");
        free(tokens);
        return NULL;
    }
    *ntokens = n;
    return tokens;
}
