/* dataloader.c: token shard batches (see dataloader.h). */
#include "train/dataloader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/sha256.h"
#include "train/window_order.h"
#include "util/error.h"
#include "util/file.h"

#define SHARD_MAGIC 20240520
#define HEADER_BYTES 1024

static int open_shard(DataShard *s, const char *path) {
    s->path = xstrdup(path);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) return chirp_fail_errno("%s", path);
    int32_t hdr[256];
    ssize_t got = pread(s->fd, hdr, sizeof hdr, 0);
    if (got != (ssize_t)sizeof hdr) return chirp_fail("%s: not a token shard (shorter than the 1024-byte header)", path);
    if (hdr[0] != SHARD_MAGIC)
        return chirp_fail("%s: not a token shard (magic %d, expected %d)", path, hdr[0], SHARD_MAGIC);
    if (hdr[1] != 1) return chirp_fail("%s: unsupported shard version %d (only 1: uint16 tokens)", path, hdr[1]);
    if (hdr[2] < 0) return chirp_fail("%s: negative token count", path);
    struct stat st;
    if (fstat(s->fd, &st) != 0) return chirp_fail_errno("%s", path);
    size_t have = ((size_t)st.st_size - HEADER_BYTES) / 2;
    if (have < (size_t)hdr[2])
        return chirp_fail("%s: header says %d tokens but the file holds %zu (truncated?)", path, hdr[2], have);
    s->count = (size_t)hdr[2];
    return 0;
}

int dataloader_open(DataLoader *dl, const char *pattern, int B, int T, int vocab, int shuffle,
                    unsigned long long seed) {
    memset(dl, 0, sizeof *dl);
    char **paths = NULL;
    int n = path_glob(pattern, &paths);
    if (n < 0) return -1;
    dl->shards = xcalloc((size_t)n, sizeof(DataShard));
    for (int i = 0; i < n; i++) dl->shards[i].fd = -1;
    dl->nshards = n;
    for (int i = 0; i < n; i++) {
        if (open_shard(&dl->shards[i], paths[i]) != 0) {
            path_list_free(paths);
            dataloader_close(dl);
            return -1;
        }
        dl->shards[i].start = dl->total;
        dl->total += dl->shards[i].count;
    }
    path_list_free(paths);
    dl->B = B;
    dl->T = T;
    dl->vocab = vocab;
    dl->shuffle = shuffle;
    dl->seed = seed;
    size_t bt = (size_t)B * T;
    if (dl->total < bt + 1) {
        chirp_fail("%s: %zu tokens in all, fewer than one batch needs (B*T+1 = %zu)", pattern, dl->total, bt + 1);
        dataloader_close(dl);
        return -1;
    }
    dl->windows = (dl->total - 1) / bt;
    dl->raw = xmalloc((bt + 1) * sizeof(uint16_t));
    dl->inputs = xmalloc(bt * sizeof(int32_t));
    dl->targets = xmalloc(bt * sizeof(int32_t));
    dl->perm_pass = -1;
    return 0;
}

void dataloader_close(DataLoader *dl) {
    for (int i = 0; i < dl->nshards; i++) {
        if (dl->shards[i].fd >= 0) close(dl->shards[i].fd);
        free(dl->shards[i].path);
    }
    free(dl->shards);
    free(dl->perm);
    free(dl->raw);
    free(dl->inputs);
    free(dl->targets);
    memset(dl, 0, sizeof *dl);
}

/* Reads stream tokens [pos, pos+n) across shard boundaries. */
int dataloader_read(DataLoader *dl, size_t pos, size_t n, uint16_t *out) {
    int s = 0;
    while (s + 1 < dl->nshards && dl->shards[s + 1].start <= pos) s++;
    while (n > 0) {
        DataShard *sh = &dl->shards[s];
        size_t off = pos - sh->start;
        size_t take = sh->count - off < n ? sh->count - off : n;
        size_t bytes = take * 2;
        off_t at = HEADER_BYTES + (off_t)off * 2;
        char *dst = (char *)out;
        while (bytes > 0) {
            ssize_t got = pread(sh->fd, dst, bytes, at);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) return chirp_fail("%s: read failed at token %zu", sh->path, off);
            dst += got;
            bytes -= (size_t)got;
            at += got;
        }
        if (dl->vocab > 0) {
            for (size_t i = 0; i < take; i++)
                if (out[i] >= dl->vocab)
                    return chirp_fail("%s: token %u at offset %zu is >= the vocabulary size %d", sh->path, out[i],
                                      off + i, dl->vocab);
        }
        out += take;
        pos += take;
        n -= take;
        s++;
    }
    return 0;
}

static size_t window_of(DataLoader *dl, long long batch) {
    return window_order(dl->windows, dl->shuffle, dl->seed, batch, &dl->perm, &dl->perm_pass);
}

int dataloader_next(DataLoader *dl) {
    size_t bt = (size_t)dl->B * dl->T;
    size_t start = window_of(dl, dl->batches) * bt;
    if (dataloader_read(dl, start, bt + 1, dl->raw) != 0) return -1;
    for (size_t i = 0; i < bt; i++) {
        dl->inputs[i] = dl->raw[i];
        dl->targets[i] = dl->raw[i + 1];
    }
    dl->batches++;
    return 0;
}

void dataloader_seek(DataLoader *dl, long long batches) { dl->batches = batches; }

int dataloader_hash_shards(const DataLoader *dl, char (*out)[65]) {
    for (int i = 0; i < dl->nshards; i++)
        if (sha256_file_hex(dl->shards[i].path, out[i]) != 0) return -1;
    return 0;
}
