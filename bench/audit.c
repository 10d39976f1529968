/* bench/audit.c: the release audit's costs at two sizes of training data.
 *
 * For each size (default 1M and 25M tokens) it writes a synthetic token
 * stream shaped like posts (Zipf-distributed tokens over GPT-2's 50257,
 * posts of 10-60 tokens, each ended by <|endoftext|>), and measures:
 *   - index build: seconds, the builder's peak buffers, and the peak RSS of
 *     the process that built it (a child, so sizes do not mix);
 *   - find: one lookup of a 16-token query (half taken from the stream,
 *     half not) plus the longest part of it that occurs, p50 / p99, next
 *     to a linear scan of the stream for the same query (the peer: what
 *     answering without an index costs);
 *   - the sketch: a synthetic catalog of posts (words drawn Zipf-wise, as
 *     many characters as the stream has tokens times 4), its build time,
 *     its size as a share of the posts' text, and member latency p50 / p99
 *     for trained posts and for texts never trained on.
 * usage: audit [--tokens N[,N...]] [--queries Q] [--dir DIR] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/sketch.h"
#include "audit/suffix_index.h"
#include "bench_util.h"
#include "data/catalog.h"
#include "util/error.h"
#include "util/timer.h"

#define EOT 50256

static uint64_t rng = 88172645463325252ULL;
static uint64_t next_u64(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static double next_unit(void) { return (double)(next_u64() >> 11) / 9007199254740992.0; }

/* A Zipf(1) rank in [0, n) by inverting the harmonic CDF approximately. */
static uint32_t zipf(uint32_t n) {
    double u = next_unit();
    return (uint32_t)(exp(u * log((double)n + 1.0)) - 1.0) % n;
}

static uint16_t *make_stream(uint64_t n) {
    uint16_t *t = malloc(n * sizeof *t);
    for (uint64_t i = 0; i < n;) {
        int len = 10 + (int)(next_u64() % 51);
        for (int k = 0; k < len && i < n; k++) t[i++] = (uint16_t)zipf(EOT);
        if (i < n) t[i++] = EOT;
    }
    return t;
}

static void write_shard(const char *path, const uint16_t *t, uint64_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    int32_t hdr[256] = {20240520, 1, (int32_t)n};
    fwrite(hdr, 4, 256, f);
    fwrite(t, 2, n, f);
    fclose(f);
}

/* Builds the index in a child; returns its peak RSS in bytes. */
static long build_in_child(const char *ixdir, const char *shard, IndexBuildStats *st) {
    int fd[2];
    if (pipe(fd) != 0) exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        const char *shards[1] = {shard};
        IndexBuildStats s;
        int rc = suffix_index_build(ixdir, shards, 1, &s);
        if (rc != 0) fprintf(stderr, "index: %s\n", chirp_error());
        if (write(fd[1], &s, sizeof s) != (ssize_t)sizeof s) rc = -1;
        _exit(rc == 0 ? 0 : 1);
    }
    close(fd[1]);
    if (read(fd[0], st, sizeof *st) != (ssize_t)sizeof *st) memset(st, 0, sizeof *st);
    close(fd[0]);
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) exit(1);
    return ru.ru_maxrss * 1024L;
}

static uint64_t scan_count(const uint16_t *s, uint64_t n, const int32_t *q, size_t m) {
    uint64_t c = 0;
    for (uint64_t i = 0; i + m <= n; i++) {
        if (s[i] != q[0]) continue;
        size_t k = 1;
        while (k < m && s[i + k] == q[k]) k++;
        c += k == m;
    }
    return c;
}

static const char *WORDS[] = {
    "the",    "a",       "and",     "of",       "to",     "in",    "is",     "you",    "that",   "it",      "for",
    "on",     "was",     "with",    "this",     "be",     "great", "today",  "rocket", "launch", "people",  "love",
    "thanks", "new",     "car",     "tesla",    "space",  "time",  "just",   "like",   "good",   "morning", "think",
    "big",    "news",    "very",    "team",     "work",   "world", "make",   "first",  "best",   "year",    "week",
    "night",  "game",    "real",    "sure",     "maybe",  "never", "always", "mars",   "moon",   "earth",   "energy",
    "solar",  "battery", "factory", "software", "update", "model", "data",   "truth",  "free",   "speech"};
#define NWORDS (int)(sizeof WORDS / sizeof *WORDS)

/* A post of about `chars` characters: words, then a number that makes it
 * unique (as ids and names make real posts). */
static int make_post(char *out, int chars, uint64_t serial) {
    int n = 0;
    while (n < chars) {
        const char *w = WORDS[zipf(NWORDS)];
        n += snprintf(out + n, 4096 - (size_t)n, "%s%s", n ? " " : "", w);
    }
    n += snprintf(out + n, 4096 - (size_t)n, " #%llu", (unsigned long long)serial);
    return n;
}

static void bench_sketch(const char *dir, uint64_t target_chars, int queries) {
    char path[1100];
    snprintf(path, sizeof path, "%s/catalog.sqlite", dir);
    unlink(path);
    sqlite3 *db = catalog_create(path);
    if (!db || catalog_exec(db, "INSERT INTO sources VALUES (1, 'synthetic', 'csv', 0); BEGIN") != 0) exit(1);
    sqlite3_stmt *st = catalog_prepare(db, "INSERT INTO posts(source_id, record, post_id, decision, split, text, "
                                           "shard) VALUES (1, ?, ?, 'kept', 'train', ?, 'train_000.bin')");
    char text[4096], id[32];
    uint64_t chars = 0, posts = 0;
    int nkeep = queries < 100000 ? queries : 100000;
    char **kept = calloc((size_t)nkeep, sizeof *kept);
    while (chars < target_chars) {
        /* Lengths like tweets: most under 50 characters get only the
         * fingerprint; the long tail gives windows. */
        int want = next_u64() % 3 == 0 ? 20 + (int)(next_u64() % 30) : 50 + (int)(next_u64() % 230);
        int n = make_post(text, want, posts);
        snprintf(id, sizeof id, "%llu", (unsigned long long)(1000000 + posts));
        sqlite3_bind_int64(st, 1, (sqlite3_int64)posts);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, text, n, SQLITE_TRANSIENT);
        sqlite3_step(st);
        sqlite3_reset(st);
        if (posts < (uint64_t)nkeep) kept[posts] = strdup(text);
        chars += (uint64_t)n;
        posts++;
    }
    sqlite3_finalize(st);
    catalog_exec(db, "COMMIT");
    double t0 = time_now();
    Sketch s;
    if (sketch_build(&s, db, 0.01) != 0) exit(1);
    double build = time_now() - t0;
    size_t bytes = 64 + (size_t)(s.m / 8) + (size_t)s.posts * 8;
    printf("  sketch: %llu posts, %.1f MB of text, built in %.2f s; %.2f MB (%.1f%% of the text): %llu windows, "
           "k %u, fpr %.4f\n",
           (unsigned long long)posts, chars / 1e6, build, bytes / 1e6, 100.0 * (double)bytes / (double)chars,
           (unsigned long long)s.windows, s.k, sketch_fpr(&s));
    double *lat_in = malloc((size_t)nkeep * sizeof(double)), *lat_out = malloc((size_t)nkeep * sizeof(double));
    int no = 0;
    for (int i = 0; i < nkeep; i++) {
        MemberResult r;
        double a = time_now();
        sketch_query(&s, kept[i], &r);
        lat_in[i] = (time_now() - a) * 1e6;
        no += r.answer == MEMBER_NO;
        make_post(text, 50 + (int)(next_u64() % 230), 999999999999ULL - (uint64_t)i);
        a = time_now();
        sketch_query(&s, text, &r);
        lat_out[i] = (time_now() - a) * 1e6;
    }
    printf("  member: trained posts p50 %.1f us, p99 %.1f us (%d of %d answered no: must be 0); "
           "untrained p50 %.1f us, p99 %.1f us\n",
           bench_percentile(lat_in, nkeep, 50), bench_percentile(lat_in, nkeep, 99), no, nkeep,
           bench_percentile(lat_out, nkeep, 50), bench_percentile(lat_out, nkeep, 99));
    for (int i = 0; i < nkeep; i++) free(kept[i]);
    free(kept);
    free(lat_in);
    free(lat_out);
    sketch_free(&s);
    sqlite3_close(db);
    unlink(path);
}

static void bench_size(const char *base, uint64_t n, int queries) {
    char dir[900], shard[1000], ixdir[1000];
    snprintf(dir, sizeof dir, "%s/audit-%llu", base, (unsigned long long)n);
    mkdir(dir, 0755);
    snprintf(shard, sizeof shard, "%s/train_000.bin", dir);
    snprintf(ixdir, sizeof ixdir, "%s/ix", dir);
    printf("%.1fM tokens\n", n / 1e6);
    uint16_t *s = make_stream(n);
    write_shard(shard, s, n);
    IndexBuildStats st;
    long rss = build_in_child(ixdir, shard, &st);
    printf("  index build: %.2f s (%.2f M tokens/s), builder buffers %.0f MB at the peak, process peak RSS %.0f MB, "
           "%.0f MB on disk\n",
           st.seconds, n / st.seconds / 1e6, st.peak_bytes / 1e6, rss / 1e6, (2.0 + 4.0) * (double)n / 1e6);
    SuffixIndex ix;
    if (suffix_index_open(&ix, ixdir) != 0) {
        fprintf(stderr, "%s\n", chirp_error());
        exit(1);
    }
    double *lat = malloc((size_t)queries * sizeof(double)), *scan = malloc(64 * sizeof(double));
    int nscan = 0;
    uint64_t hits = 0;
    for (int i = 0; i < queries; i++) {
        int32_t q[16];
        if (i % 2 == 0) {
            uint64_t at = next_u64() % (n - 16);
            for (int k = 0; k < 16; k++) q[k] = s[at + k];
        } else {
            for (int k = 0; k < 16; k++) q[k] = (int32_t)zipf(EOT);
        }
        double a = time_now();
        uint64_t lo, hi;
        uint64_t c = suffix_index_range(&ix, q, 16, &lo, &hi);
        size_t start, len;
        suffix_index_longest(&ix, q, 16, &start, &len);
        lat[i] = (time_now() - a) * 1e6;
        hits += c > 0;
        if (i < 64 && n <= 30000000ULL) {
            a = time_now();
            uint64_t c2 = scan_count(s, n, q, 16);
            scan[nscan++] = (time_now() - a) * 1e6;
            if (c2 != c) {
                fprintf(stderr, "count mismatch: index %llu, scan %llu\n", (unsigned long long)c,
                        (unsigned long long)c2);
                exit(1);
            }
        }
    }
    double p50 = bench_percentile(lat, queries, 50), p99 = bench_percentile(lat, queries, 99);
    double sc = bench_median(scan, nscan);
    printf("  find (16-token query, count + longest part): p50 %.1f us, p99 %.1f us over %d queries (%llu found); "
           "linear scan median %.0f us: index %.0fx faster\n",
           p50, p99, queries, (unsigned long long)hits, sc, sc / p50);
    suffix_index_close(&ix);
    free(lat);
    free(scan);
    free(s);
    bench_sketch(dir, 4 * n, queries);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(int argc, char **argv) {
    const char *sizes = "1000000,25000000", *base = "/tmp";
    int queries = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--tokens") == 0) sizes = argv[i + 1];
        else if (strcmp(argv[i], "--queries") == 0) queries = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0) base = argv[i + 1];
        else {
            fprintf(stderr, "usage: audit [--tokens N[,N...]] [--queries Q] [--dir DIR]\n");
            return 2;
        }
    }
    if (queries < 2) queries = 2;
    char *list = strdup(sizes);
    for (char *t = strtok(list, ","); t; t = strtok(NULL, ",")) bench_size(base, strtoull(t, NULL, 10), queries);
    free(list);
    return 0;
}
