/* bench_tokenizer.c: encode throughput of chirp's tokenizer.
 *
 * usage: bench_tokenizer TOKENIZER TEXT_FILE [RUNS]
 * Encodes the whole file at 1 and 2 threads (OpenMP; the text is cut into
 * parts at document boundaries, i.e. at a newline between two
 * non-whitespace bytes, where cutting cannot change a single id), after one
 * warm-up run, and prints the median MB/s of RUNS runs. It also checks that
 * the multi-threaded ids equal the single call's. Prints figures only; it
 * never fails on a timing. */
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/file.h"
#include "util/timer.h"

#include <omp.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* CPU seconds used by the whole process, to tell slow code from a machine
 * whose cores are busy with other work. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f'; }

/* Cuts text into about `parts` pieces at safe boundaries; returns the count
 * and fills cut[0..count] (cut[0] = 0, cut[count] = len). */
static int split(const char *text, size_t len, int parts, size_t *cut) {
    int n = 0;
    cut[0] = 0;
    for (int k = 1; k < parts; k++) {
        size_t at = len / (size_t)parts * (size_t)k;
        if (at <= cut[n]) continue;
        while (at + 1 < len && !(text[at] == '\n' && !is_ws(text[at - 1]) && !is_ws(text[at + 1]) &&
                                 (unsigned char)text[at + 1] < 0x80))
            at++;
        if (at + 1 >= len) break;
        cut[++n] = at + 1;
    }
    cut[++n] = len;
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_tokenizer TOKENIZER TEXT_FILE [RUNS]\n");
        return 2;
    }
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    if (runs < 1) runs = 1;
    double t0 = time_now();
    Tokenizer *tok = tokenizer_load(argv[1]);
    if (!tok) {
        fprintf(stderr, "bench_tokenizer: %s\n", chirp_error());
        return 1;
    }
    printf("load %s: %.3f s\n", argv[1], time_now() - t0);
    size_t len;
    char *text = file_read_all(argv[2], &len);
    if (!text) {
        fprintf(stderr, "bench_tokenizer: %s\n", chirp_error());
        return 1;
    }
    double mb = (double)len / 1e6;
    int32_t *ref = malloc(sizeof(int32_t) * (len + 1)), *ids = malloc(sizeof(int32_t) * (len + 1));
    long nref = tokenizer_encode(tok, text, len, false, ref, len + 1);
    printf("text %s: %.2f MB, %ld tokens (%.2f bytes/token)\n", argv[2], mb, nref, (double)len / (double)nref);
    for (int threads = 1; threads <= 2; threads++) {
        enum { MAX_PARTS = 64 };
        size_t cut[MAX_PARTS + 1];
        long count[MAX_PARTS];
        int parts = threads == 1 ? 1 : split(text, len, 8 * threads, cut);
        if (threads == 1) {
            cut[0] = 0;
            cut[1] = len;
        }
        double *secs = malloc(sizeof(double) * (size_t)runs);
        double cpu = 0, wall = 0;
        for (int r = -1; r < runs; r++) {
            double start = time_now(), cpu_start = cpu_now();
            /* Part p writes its ids from offset cut[p]: ids never outnumber bytes. */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
            for (int p = 0; p < parts; p++)
                count[p] = tokenizer_encode(tok, text + cut[p], cut[p + 1] - cut[p], false, ids + cut[p],
                                            cut[p + 1] - cut[p] + 1);
            double dt = time_now() - start;
            if (r >= 0) {
                secs[r] = dt;
                wall += dt;
                cpu += cpu_now() - cpu_start;
            }
        }
        long total = 0;
        int same = 1;
        for (int p = 0; p < parts; p++) {
            if (memcmp(ids + cut[p], ref + total, sizeof(int32_t) * (size_t)count[p]) != 0) same = 0;
            total += count[p];
        }
        same = same && total == nref;
        qsort(secs, (size_t)runs, sizeof(double), cmp_double);
        double med = secs[runs / 2];
        printf("chirp %d thread%s: %.1f MB/s, %.2f M tokens/s (median of %d runs, %d parts, got %.2f cores, "
               "%.1f MB per CPU-second%s)\n",
               threads, threads > 1 ? "s" : "", mb / med, (double)nref / med / 1e6, runs, parts, cpu / wall,
               mb * runs / cpu, same ? ", ids identical to one call" : ", IDS DIFFER FROM ONE CALL");
        free(secs);
    }
    free(ref);
    free(ids);
    free(text);
    tokenizer_free(tok);
    return 0;
}
