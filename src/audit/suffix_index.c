/* suffix_index.c: building and searching the token suffix array (see
 * suffix_index.h). */
#include "audit/suffix_index.h"

#include "data/shards.h"
#include "util/error.h"
#include "util/file.h"
#include "util/sha256.h"
#include "util/timer.h"

#include <divsufsort.h>
#include <divsufsort64.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *jstr(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static int write_file(const char *dir, const char *name, const void *data, size_t len) {
    char *path = path_join(dir, name);
    AtomicFile af;
    int rc = file_begin(&af, path);
    if (rc == 0 && len > 0 && fwrite(data, 1, len, af.fp) != len) rc = chirp_fail_errno("%s", path);
    if (rc == 0) rc = file_commit(&af);
    else if (af.fp) file_abort(&af);
    free(path);
    return rc;
}

int suffix_index_build(const char *dir, const char *const *shards, int nshards, IndexBuildStats *stats) {
    double t0 = time_now();
    if (nshards <= 0) return chirp_fail("no train shards to index");
    if (dir_create(dir) != 0) return -1;
    /* The token width: 4 bytes if any shard holds uint32 tokens. */
    int w = 2;
    for (int i = 0; i < nshards; i++) {
        ShardHeader h;
        if (shard_read_header(shards[i], &h) != 0) return -1;
        if (h.token_bytes == 4) w = 4;
    }
    /* The stream, big-endian, and every shard's place in it. */
    uint64_t n = 0;
    uint64_t *starts = xcalloc((size_t)nshards + 1, sizeof(uint64_t));
    uint8_t *text = NULL;
    size_t cap = 0;
    json_t *shard_list = json_array();
    int rc = 0;
    for (int i = 0; i < nshards && rc == 0; i++) {
        size_t cnt;
        uint32_t *t = shard_read(shards[i], &cnt, NULL);
        if (!t) {
            rc = -1;
            break;
        }
        if (w * (n + cnt) > cap) {
            cap = w * (n + cnt) + (cap / 2);
            text = xrealloc(text, cap + 1);
        }
        for (size_t j = 0; j < cnt; j++)
            for (int b = 0; b < w; b++) text[w * (n + j) + b] = (uint8_t)(t[j] >> (8 * (w - 1 - b)));
        free(t);
        char hex[65];
        if (sha256_file_hex(shards[i], hex) != 0) {
            rc = -1;
            break;
        }
        const char *slash = strrchr(shards[i], '/');
        json_array_append_new(shard_list, json_pack("{s:s, s:s, s:I, s:I}", "name", slash ? slash + 1 : shards[i],
                                                    "sha256", hex, "start", (json_int_t)n, "tokens", (json_int_t)cnt));
        starts[i] = n;
        n += cnt;
    }
    size_t peak = cap;
    void *sa = NULL;
    int wide = n >= ((uint64_t)1 << 32);
    if (rc == 0 && n == 0) rc = chirp_fail("the train shards hold no tokens");
    if (rc == 0) {
        /* Sort all byte suffixes, keep the token-aligned ones. */
        uint64_t bytes = (uint64_t)w * n;
        if (bytes < (uint64_t)INT32_MAX) {
            saidx_t *s32 = xmalloc((size_t)bytes * sizeof(saidx_t));
            peak += (size_t)bytes * sizeof(saidx_t);
            if (divsufsort(text, s32, (saidx_t)bytes) != 0) rc = chirp_fail("divsufsort failed");
            uint32_t *out = (uint32_t *)s32;
            uint64_t k = 0;
            for (uint64_t i = 0; rc == 0 && i < bytes; i++)
                if (s32[i] % w == 0) out[k++] = (uint32_t)(s32[i] / w);
            sa = s32;
        } else {
            saidx64_t *s64 = xmalloc((size_t)bytes * sizeof(saidx64_t));
            peak += (size_t)bytes * sizeof(saidx64_t);
            if (divsufsort64(text, s64, (saidx64_t)bytes) != 0) rc = chirp_fail("divsufsort64 failed");
            uint64_t k = 0;
            if (wide) {
                uint64_t *out = (uint64_t *)s64;
                for (uint64_t i = 0; rc == 0 && i < bytes; i++)
                    if (s64[i] % w == 0) out[k++] = (uint64_t)(s64[i] / w);
            } else {
                uint32_t *out = (uint32_t *)s64;
                for (uint64_t i = 0; rc == 0 && i < bytes; i++)
                    if (s64[i] % w == 0) out[k++] = (uint32_t)(s64[i] / w);
            }
            sa = s64;
        }
    }
    if (rc == 0) rc = write_file(dir, "tokens.bin", text, (size_t)(w * n));
    if (rc == 0) rc = write_file(dir, "sa.bin", sa, (size_t)n * (wide ? 8 : 4));
    if (rc == 0) {
        json_t *meta = json_pack("{s:s, s:i, s:I, s:i, s:i, s:o}", "format", "chirp-suffix-index", "version", 1,
                                 "tokens", (json_int_t)n, "token_bytes", w, "position_bytes", wide ? 8 : 4, "shards",
                                 json_incref(shard_list));
        char *s = json_dumps(meta, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(meta);
        rc = write_file(dir, "index.json", s, strlen(s));
        free(s);
    }
    json_decref(shard_list);
    free(text);
    free(sa);
    free(starts);
    if (rc == 0 && stats) {
        stats->tokens = n;
        stats->seconds = time_now() - t0;
        stats->peak_bytes = peak;
    }
    return rc;
}

static const void *map_file(const char *dir, const char *name, size_t *len) {
    char *path = path_join(dir, name);
    int fd = open(path, O_RDONLY);
    struct stat st;
    const void *p = NULL;
    if (fd < 0 || fstat(fd, &st) != 0) {
        chirp_fail_errno("%s", path);
    } else if (st.st_size == 0) {
        chirp_fail("%s: empty", path);
    } else {
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            chirp_fail_errno("%s: mmap", path);
            p = NULL;
        } else {
            *len = (size_t)st.st_size;
        }
    }
    if (fd >= 0) close(fd);
    free(path);
    return p;
}

int suffix_index_open(SuffixIndex *ix, const char *dir) {
    memset(ix, 0, sizeof *ix);
    char *path = path_join(dir, "index.json");
    json_error_t je;
    json_t *meta = json_load_file(path, 0, &je);
    if (!meta) {
        chirp_fail("%s: %s (build it with chirp audit index)", path, path_exists(path) ? je.text : "no index");
        free(path);
        return -1;
    }
    int rc = 0;
    json_t *shards = json_object_get(meta, "shards");
    if (strcmp(jstr(meta, "format"), "chirp-suffix-index") != 0 || !json_is_array(shards)) {
        rc = chirp_fail("%s: not a chirp suffix index", path);
    } else {
        ix->n = (uint64_t)json_integer_value(json_object_get(meta, "tokens"));
        ix->wide = json_integer_value(json_object_get(meta, "position_bytes")) == 8;
        json_t *tb = json_object_get(meta, "token_bytes"); /* absent in indexes of uint16 data before uint32 */
        ix->token_bytes = tb ? (int)json_integer_value(tb) : 2;
        ix->nshards = (int)json_array_size(shards);
        ix->shards = xcalloc((size_t)ix->nshards + 1, sizeof(IndexShard));
        for (int i = 0; i < ix->nshards; i++) {
            json_t *s = json_array_get(shards, (size_t)i);
            ix->shards[i].name = xstrdup(jstr(s, "name"));
            ix->shards[i].start = (uint64_t)json_integer_value(json_object_get(s, "start"));
            ix->shards[i].tokens = (uint64_t)json_integer_value(json_object_get(s, "tokens"));
        }
        ix->text = map_file(dir, "tokens.bin", &ix->text_len);
        ix->sa = ix->text ? map_file(dir, "sa.bin", &ix->sa_len) : NULL;
        if (ix->token_bytes != 2 && ix->token_bytes != 4) rc = chirp_fail("%s: token_bytes must be 2 or 4", path);
        else if (!ix->text || !ix->sa) rc = -1;
        else if (ix->text_len != (uint64_t)ix->token_bytes * ix->n || ix->sa_len != ix->n * (ix->wide ? 8 : 4))
            rc = chirp_fail("%s: tokens.bin or sa.bin does not match index.json (a partial build?)", dir);
    }
    json_decref(meta);
    free(path);
    if (rc != 0) suffix_index_close(ix);
    return rc;
}

void suffix_index_close(SuffixIndex *ix) {
    if (ix->text) munmap((void *)ix->text, ix->text_len);
    if (ix->sa) munmap((void *)ix->sa, ix->sa_len);
    for (int i = 0; i < ix->nshards; i++) free(ix->shards[i].name);
    free(ix->shards);
    memset(ix, 0, sizeof *ix);
}

uint64_t suffix_index_pos(const SuffixIndex *ix, uint64_t i) {
    return ix->wide ? ((const uint64_t *)ix->sa)[i] : ((const uint32_t *)ix->sa)[i];
}

/* Compares the suffix of rank i with the query q (qlen bytes, token_bytes
 * per token): 0 when the suffix starts with q, <0 / >0 when it sorts before
 * / after all that do. */
static int cmp_rank(const SuffixIndex *ix, uint64_t i, const uint8_t *q, size_t qlen) {
    uint64_t p = suffix_index_pos(ix, i);
    uint64_t avail = (uint64_t)ix->token_bytes * (ix->n - p);
    size_t len = avail < qlen ? (size_t)avail : qlen;
    int c = memcmp(ix->text + (uint64_t)ix->token_bytes * p, q, len);
    if (c != 0) return c;
    return avail < qlen ? -1 : 0; /* a suffix shorter than q sorts first */
}

/* Whether a token id can occur in the stream at all. */
static int in_stream(const SuffixIndex *ix, int32_t t) { return t >= 0 && (ix->token_bytes == 4 || t <= 0xffff); }

static uint8_t *query_bytes(const SuffixIndex *ix, const int32_t *q, size_t m) {
    int w = ix->token_bytes;
    uint8_t *b = xmalloc((size_t)w * m + 1);
    for (size_t i = 0; i < m; i++) {
        uint32_t t = in_stream(ix, q[i]) ? (uint32_t)q[i] : 0xffffffffu;
        for (int k = 0; k < w; k++) b[(size_t)w * i + k] = (uint8_t)(t >> (8 * (w - 1 - k)));
    }
    return b;
}

/* Narrows [lo, hi) to the suffixes that start with qb[0..qlen). */
static void narrow(const SuffixIndex *ix, const uint8_t *qb, size_t qlen, uint64_t *lo, uint64_t *hi) {
    uint64_t a = *lo, b = *hi;
    while (a < b) { /* first rank not < q */
        uint64_t mid = a + (b - a) / 2;
        if (cmp_rank(ix, mid, qb, qlen) < 0) a = mid + 1;
        else b = mid;
    }
    uint64_t first = a;
    b = *hi;
    while (a < b) { /* first rank > q */
        uint64_t mid = a + (b - a) / 2;
        if (cmp_rank(ix, mid, qb, qlen) <= 0) a = mid + 1;
        else b = mid;
    }
    *lo = first;
    *hi = a;
}

uint64_t suffix_index_range(const SuffixIndex *ix, const int32_t *q, size_t m, uint64_t *lo, uint64_t *hi) {
    *lo = 0;
    *hi = ix->n;
    if (m == 0) return ix->n;
    for (size_t i = 0; i < m; i++) {
        if (!in_stream(ix, q[i])) { /* no such token in the stream */
            *hi = 0;
            return 0;
        }
    }
    uint8_t *qb = query_bytes(ix, q, m);
    narrow(ix, qb, (size_t)ix->token_bytes * m, lo, hi);
    free(qb);
    return *hi - *lo;
}

uint64_t suffix_index_longest(const SuffixIndex *ix, const int32_t *q, size_t m, size_t *start, size_t *len) {
    *start = 0;
    *len = 0;
    uint64_t best_count = 0;
    uint8_t *qb = query_bytes(ix, q, m);
    size_t w = (size_t)ix->token_bytes;
    for (size_t s = 0; s < m && m - s > *len; s++) {
        uint64_t lo = 0, hi = ix->n;
        size_t j = s;
        /* Extend while the longer prefix still occurs: each step narrows
         * the range of the one before. */
        while (j < m && in_stream(ix, q[j])) {
            uint64_t a = lo, b = hi;
            narrow(ix, qb + w * s, w * (j + 1 - s), &a, &b);
            if (a == b) break;
            lo = a, hi = b;
            j++;
        }
        if (j - s > *len) {
            *start = s;
            *len = j - s;
            best_count = hi - lo;
        }
    }
    free(qb);
    return best_count;
}
