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
#include "util/token_shard.h"
#include "train/window_order.h"
#include "util/error.h"
#include "util/file.h"

static int open_shard(DataShard *s, const char *path) {
    s->path = xstrdup(path);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) return chirp_fail_errno("%s", path);
    int32_t words[SHARD_HEADER_INTS];
    ssize_t got = pread(s->fd, words, sizeof words, 0);
    if (got != (ssize_t)sizeof words)
        return chirp_fail("%s: not a token shard (shorter than the 1024-byte header)", path);
    ShardHeader h;
    if (shard_header_decode(words, path, &h) != 0) return -1;
    struct stat st;
    if (fstat(s->fd, &st) != 0) return chirp_fail_errno("%s", path);
    size_t have = ((size_t)st.st_size - SHARD_HEADER_BYTES) / (size_t)h.token_bytes;
    if (have < h.count)
        return chirp_fail("%s: header says %llu tokens but the file holds %zu (truncated?)", path,
                          (unsigned long long)h.count, have);
    /* prepare's not yet switched-in replacement (data/shard_set.h). */
    size_t plen = strlen(path) + 8;
    char *next = xmalloc(plen);
    snprintf(next, plen, "%s.next", path);
    int pending = path_exists(next);
    free(next);
    if (pending)
        return chirp_fail("%s: an interrupted chirp prepare left %s.next beside it; run chirp prepare again, "
                          "which finishes or undoes it",
                          path, path);
    s->count = (size_t)h.count;
    s->token_bytes = h.token_bytes;
    s->generation = h.generation;
    return 0;
}

static size_t dir_len(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) : 0;
}

/* Two shards of one folder from different prepare runs. */
static int check_generations(const DataLoader *dl) {
    for (int i = 0; i < dl->nshards; i++)
        for (int j = i + 1; j < dl->nshards; j++) {
            const DataShard *a = &dl->shards[i], *b = &dl->shards[j];
            if (!a->generation || !b->generation || a->generation == b->generation) continue;
            if (dir_len(a->path) != dir_len(b->path) || strncmp(a->path, b->path, dir_len(a->path)) != 0) continue;
            return chirp_fail("%s and %s come from two different chirp prepare runs (an interrupted prepare?); "
                              "run chirp prepare again, which finishes or undoes it",
                              a->path, b->path);
        }
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
    if (check_generations(dl) != 0) {
        dataloader_close(dl);
        return -1;
    }
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
    dl->raw = xmalloc((bt + 1) * sizeof(uint32_t));
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

/* Reads all of [at, at + bytes) of fd into dst. */
static int pread_all(const DataShard *sh, void *dst, size_t bytes, off_t at) {
    char *p = dst;
    while (bytes > 0) {
        ssize_t got = pread(sh->fd, p, bytes, at);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return chirp_fail("%s: read failed at byte %lld", sh->path, (long long)at);
        p += got;
        bytes -= (size_t)got;
        at += got;
    }
    return 0;
}

/* Reads tokens [off, off + n) of one shard into out, widened to uint32. */
static int read_tokens(const DataShard *sh, size_t off, size_t n, uint32_t *out) {
    off_t at = SHARD_HEADER_BYTES + (off_t)(off * (size_t)sh->token_bytes);
    if (sh->token_bytes == 4) return pread_all(sh, out, n * 4, at);
    uint16_t chunk[4096];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < 4096 ? n - done : 4096;
        if (pread_all(sh, chunk, k * 2, at + (off_t)(done * 2)) != 0) return -1;
        for (size_t i = 0; i < k; i++) out[done + i] = chunk[i];
        done += k;
    }
    return 0;
}

/* Reads stream tokens [pos, pos+n) across shard boundaries. */
int dataloader_read(DataLoader *dl, size_t pos, size_t n, uint32_t *out) {
    int s = 0;
    while (s + 1 < dl->nshards && dl->shards[s + 1].start <= pos) s++;
    while (n > 0) {
        DataShard *sh = &dl->shards[s];
        size_t off = pos - sh->start;
        size_t take = sh->count - off < n ? sh->count - off : n;
        if (read_tokens(sh, off, take, out) != 0) return -1;
        if (dl->vocab > 0) {
            for (size_t i = 0; i < take; i++)
                if (out[i] >= (uint32_t)dl->vocab)
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
