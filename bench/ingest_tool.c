/* ingest_tool.c: helper for bench/ingest.
 *
 *   ingest_tool gen N OUT.csv INPUT...   replicate the posts of INPUT files
 *       (any chirp format) to N posts: the first copy as is, then a mix of
 *       exact copies (30%), small edits that are near-duplicates (30%) and
 *       new texts spliced from two posts (40%), so dedup has real work.
 *   ingest_tool rss CMD ARGS...          run CMD and print its peak RSS (MB)
 *       CPU time (user + system, all threads) and wall time on stderr as
 *       "rss_mb=... cpu=... seconds=...". */
#include "data/post.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void put_csv_field(FILE *f, const char *s, size_t n) {
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static int gen(long n, const char *out, char **inputs, int ninputs) {
    char **texts = NULL;
    size_t *lens = NULL;
    long count = 0, cap = 0;
    for (int i = 0; i < ninputs; i++) {
        Reader *r = reader_open(inputs[i], "auto", NULL);
        if (!r) {
            fprintf(stderr, "ingest_tool: %s\n", chirp_error());
            return 1;
        }
        Post p;
        while (reader_next(r, &p) == 1) {
            if (p.error || p.text_len == 0) continue;
            if (count == cap) {
                cap = cap ? 2 * cap : 4096;
                texts = xrealloc(texts, (size_t)cap * sizeof *texts);
                lens = xrealloc(lens, (size_t)cap * sizeof *lens);
            }
            texts[count] = xmalloc(p.text_len);
            memcpy(texts[count], p.text, p.text_len);
            lens[count++] = p.text_len;
        }
        reader_free(r);
    }
    if (count == 0) {
        fprintf(stderr, "ingest_tool: no posts in the inputs\n");
        return 1;
    }
    FILE *f = fopen(out, "wb");
    if (!f) {
        perror(out);
        return 1;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    fprintf(f, "tweet_id,author_id,replied_to,text\r\n");
    Buf b = {0};
    for (long i = 0; i < n; i++) {
        long base = i % count;
        uint64_t h = hash_mix64((uint64_t)i + 1);
        b.len = 0;
        const char *t = texts[base];
        size_t len = lens[base];
        if (i < count || h % 10 < 3) {
            buf_push(&b, t, len); /* original, or an exact copy */
        } else if (h % 10 < 6) {
            buf_push(&b, t, len); /* a near-duplicate edit */
            size_t at = (size_t)(h >> 8) % len;
            if (b.data[at] >= 'a' && b.data[at] <= 'z') b.data[at] = (char)(b.data[at] - 32);
            else if ((unsigned char)b.data[at] < 0x80) b.data[at] = '.';
        } else {
            long other = (long)((h >> 16) % (uint64_t)count);
            buf_push(&b, t, len / 2); /* a new text from two halves */
            while (b.len > 0 && ((unsigned char)b.data[b.len - 1] & 0xC0) == 0x80) b.len--;
            if (b.len > 0 && (unsigned char)b.data[b.len - 1] >= 0xC0) b.len--;
            buf_putc(&b, ' ');
            size_t half = lens[other] / 2;
            while (half < lens[other] && (texts[other][half] & 0xC0) == 0x80) half++;
            buf_push(&b, texts[other] + half, lens[other] - half);
        }
        fprintf(f, "%ld,%ld,[],", i + 1, 1000 + (long)(h % 5000));
        put_csv_field(f, b.data, b.len);
        fputs("\r\n", f);
    }
    buf_free(&b);
    int rc = fclose(f) == 0 ? 0 : 1;
    for (long i = 0; i < count; i++) free(texts[i]);
    free(texts);
    free(lens);
    fprintf(stderr, "ingest_tool: wrote %ld posts from %ld source posts to %s\n", n, count, out);
    return rc;
}

static int rss(char **argv) {
    double t0 = time_now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        execvp(argv[0], argv);
        perror(argv[0]);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("wait4");
        return 1;
    }
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec * 1e-6;
    fprintf(stderr, "rss_mb=%.1f cpu=%.3f seconds=%.3f\n", ru.ru_maxrss / 1024.0, cpu, time_now() - t0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv) {
    if (argc >= 5 && strcmp(argv[1], "gen") == 0) return gen(atol(argv[2]), argv[3], argv + 4, argc - 4);
    if (argc >= 3 && strcmp(argv[1], "rss") == 0) return rss(argv + 2);
    fprintf(stderr, "usage: ingest_tool gen N OUT.csv INPUT... | ingest_tool rss CMD ARGS...\n");
    return 2;
}
