/* bench/serve.c: chirp serve under concurrent streaming clients, next to
 * `chirp generate` and the machine's bounds, measured in one run.
 *
 * A GPT-2 124M-shaped model with random weights is written once to
 * bench/out/serve-gpt2 (GPT-2's tokenizer from CHIRP_TESTDATA when it is
 * there). Then, for fp32 and int8 weights: `chirp generate` decodes the
 * same prompt alone (the single-stream anchor), and a server with 32 slots
 * takes 1, 2, 4, ... 32 clients at once, each streaming one completion of
 * --max-tokens tokens (<|endoftext|> suppressed with logit_bias, so every
 * reply has the same length). Reported per level, medians over --runs:
 * aggregate completion tokens/s (all tokens / wall time), time to first
 * token p50 / p99 (over every request of every run), per-stream tokens/s
 * (a stream's tokens after its first / the time they took), and two bounds:
 * weights (each step reads every weight once for all streams: streams x
 * bandwidth / bytes per step) and compute (the tiled kernel's measured
 * FLOP/s / FLOPs per token). A shared machine is noisy: medians, never a
 * pass/fail.
 *
 * usage: build/release/bench/serve [--runs R] [--max-tokens N] [--levels 1,2,4] [--quant none|int8|both]
 *                                   [--threads N] */
#include "bench_util.h"
#include "infer/infer.h"
#include "compute/kernels.h"
#include "compute/quant.h"
#include "model/gpt2.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/file.h"
#include "util/timer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MODEL_DIR "bench/out/serve-gpt2"
#define MAX_LEVEL 64

static const char *chirp_bin = "./chirp";
static char tokenizer_arg[1024];
static int eot_id = 50256;

/* ---- the model ---- */

static int ensure_model(const Gpt2Model *g) {
    char *cfg = path_join(MODEL_DIR, "model.safetensors");
    int have = path_exists(cfg);
    free(cfg);
    if (have) return 0;
    fprintf(stderr, "bench/serve: writing %s (random weights)...\n", MODEL_DIR);
    if (dir_create(MODEL_DIR) != 0) return -1;
    return gpt2_save(g, MODEL_DIR);
}

static void pick_tokenizer(void) {
    const char *root = getenv("CHIRP_TESTDATA");
    char dir[900];
    snprintf(dir, sizeof dir, "%s/gpt2-tokenizer", root ? root : "../shared/data");
    char *enc = path_join(dir, "encoder.json");
    if (path_exists(enc)) {
        snprintf(tokenizer_arg, sizeof tokenizer_arg, "--tokenizer %s", dir);
    } else {
        /* Without the test data: a small chirp tokenizer (ids below the
         * model's vocabulary), trained on a generated corpus. */
        FILE *f = fopen(MODEL_DIR "/corpus.txt", "w");
        for (int i = 0; f && i < 2000; i++) fprintf(f, "The quick brown fox number %d jumps over the lazy dog.\n", i);
        if (f) fclose(f);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "%s tokenizer train --input %s/corpus.txt --vocab-size 1000 --out %s >/dev/null 2>&1",
                 chirp_bin, MODEL_DIR, MODEL_DIR);
        if (system(cmd) != 0) fprintf(stderr, "bench/serve: tokenizer training failed\n");
        tokenizer_arg[0] = '\0';
        eot_id = 256; /* chirp's tokenizers put <|endoftext|> after the 256 bytes */
    }
    free(enc);
}

/* ---- a client ---- */

typedef struct Stream {
    int port;
    const char *body;
    double t_start, t_first, t_last;
    int tokens, chunks;
    int ok;
} Stream;

static void *run_stream(void *arg) {
    Stream *s = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    s->t_start = time_now();
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NULL;
    }
    char req[4096];
    int n =
        snprintf(req, sizeof req,
                 "POST /v1/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 strlen(s->body), s->body);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return NULL;
    }
    /* Scan the SSE stream: every "data: {" event with non-empty text is a
     * token's worth of output; the usage chunk says how many tokens. */
    char buf[1 << 16];
    ssize_t got;
    Buf all = {0};
    while ((got = recv(fd, buf, sizeof buf, 0)) > 0) {
        double now = time_now();
        buf_push(&all, buf, (size_t)got);
        /* Events with text in this read (the tag is 8 bytes; one cut by a
         * read boundary is missed, which only thins the timestamps). */
        char *p = buf, *end = buf + got;
        while ((p = memmem(p, (size_t)(end - p), "\"text\":\"", 8))) {
            p += 8;
            if (p < end && *p != '"') {
                if (!s->chunks) s->t_first = now;
                s->chunks++;
                s->t_last = now;
            }
        }
    }
    close(fd);
    buf_terminate(&all);
    const char *u = all.data ? strstr(all.data, "\"completion_tokens\":") : NULL;
    if (u) s->tokens = atoi(u + 20);
    s->ok = all.data && strstr(all.data, "data: [DONE]") && s->tokens > 0;
    buf_free(&all);
    return NULL;
}

/* ---- the server ---- */

static pid_t start_server(const char *extra, int threads, int *port) {
    int out[2];
    if (pipe(out) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "exec %s serve --model %s %s --port 0 --parallel 32 --max-queue 64 --threads %d --quiet %s", chirp_bin,
                 MODEL_DIR, tokenizer_arg, threads, extra);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[256];
    *port = 0;
    while (fgets(line, sizeof line, f)) {
        char *c = strrchr(line, ':');
        if (strstr(line, "listening on") && c) {
            *port = atoi(c + 1);
            break;
        }
    }
    fclose(f);
    return pid;
}

static void stop_server(pid_t pid) {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* chirp generate's decode speed for the same prompt and length. */
static double generate_tps(const char *quant, const char *prompt, int max_tokens, int threads) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "%s generate --model %s %s --quant %s --threads %d --prompt '%s' --max-tokens %d --temperature 0 "
             "2>&1 >/dev/null",
             chirp_bin, MODEL_DIR, tokenizer_arg, quant, threads, prompt, max_tokens);
    FILE *p = popen(cmd, "r");
    char line[512];
    double tps = 0;
    while (p && fgets(line, sizeof line, p)) {
        char *g = strstr(line, "generation:");
        if (g && (g = strchr(g, ','))) tps = atof(g + 1);
    }
    if (p) pclose(p);
    return tps;
}

/* FLOP/s of the batched fp32 kernel on GPT-2's MLP shape at T rows. */
static double kernel_flops(int T) {
    int k = 768, n = 3072;
    float *W = calloc((size_t)k * n, sizeof(float)), *X = calloc((size_t)T * k, sizeof(float));
    float *Y = malloc((size_t)T * n * sizeof(float));
    for (size_t i = 0; i < (size_t)k * n; i++) W[i] = (float)(i % 7) * 0.01f;
    double t[5];
    for (int r = 0; r < 5; r++) {
        double t0 = time_now();
        for (int i = 0; i < 10; i++) kern_matmul_rows_in_out(Y, X, W, NULL, T, k, n);
        t[r] = (time_now() - t0) / 10;
    }
    free(W), free(X), free(Y);
    return 2.0 * T * k * n / bench_median(t, 5);
}

/* Multiply-adds x 2 per second of the batched int8 kernel, same shape. */
static double int8_ops(int T) {
    int k = 768, n = 3072;
    float *W = malloc((size_t)k * n * sizeof(float)), *X = malloc((size_t)T * k * sizeof(float));
    for (size_t i = 0; i < (size_t)k * n; i++) W[i] = (float)(i % 7) * 0.01f - 0.03f;
    for (size_t i = 0; i < (size_t)T * k; i++) X[i] = (float)(i % 5) * 0.1f;
    QMat q;
    qmat_from_in_out(&q, W, k, n);
    int8_t *qx = malloc((size_t)T * k);
    float *dx = malloc((size_t)T * (k / QBLOCK) * sizeof(float)), *Y = malloc((size_t)T * n * sizeof(float));
    for (int t = 0; t < T; t++) quant_q8_vec(X + (size_t)t * k, k, qx + (size_t)t * k, dx + (size_t)t * (k / QBLOCK));
    double t5[5];
    for (int r = 0; r < 5; r++) {
        double t0 = time_now();
        for (int i = 0; i < 10; i++) qmat_matmul(Y, qx, dx, &q, NULL, T);
        t5[r] = (time_now() - t0) / 10;
    }
    qmat_destroy(&q);
    free(W), free(X), free(qx), free(dx), free(Y);
    return 2.0 * T * k * n / bench_median(t5, 5);
}

static int parse_levels(const char *s, int *levels) {
    int n = 0;
    for (const char *p = s; *p && n < 16;) {
        int v = atoi(p);
        if (v < 1 || v > MAX_LEVEL) return -1;
        levels[n++] = v;
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    return n;
}

int main(int argc, char **argv) {
    int runs = 3, max_tokens = 64, threads = omp_get_max_threads(), levels[16] = {1, 2, 4, 8, 16, 32}, n_levels = 6;
    const char *quants = "both";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-tokens")) max_tokens = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--quant")) quants = argv[i + 1];
        else if (!strcmp(argv[i], "--levels")) n_levels = parse_levels(argv[i + 1], levels);
        else {
            fprintf(stderr,
                    "usage: %s [--runs R] [--max-tokens N] [--levels 1,2,4] [--quant none|int8|both] [--threads N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 16 || max_tokens < 1 || n_levels < 1) {
        fprintf(stderr, "bench/serve: bad arguments\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    omp_set_num_threads(threads);
    Gpt2Config cfg;
    gpt2_preset("gpt2", &cfg);
    Gpt2Model g;
    if (gpt2_init_random(&g, &cfg, 1) != 0 || ensure_model(&g) != 0) {
        fprintf(stderr, "bench/serve: %s\n", chirp_error());
        return 1;
    }
    pick_tokenizer();

    /* The bounds' inputs: bandwidth, bytes per step, the kernel's FLOP/s. */
    size_t bw_n = (size_t)1 << 28;
    float *bw_buf = aligned_alloc(64, bw_n * sizeof(float));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < bw_n; i++) bw_buf[i] = 1.0f;
    double bw = bench_bandwidth(bw_buf, bw_n, 3);
    free(bw_buf);
    double flops = kernel_flops(32), iops = int8_ops(32);
    double flops_per_token = 2.0 * (cfg.n_layer * 12.0 * cfg.n_embd * cfg.n_embd + (double)cfg.vocab_size * cfg.n_embd);

    const char *prompt = "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. "
                         "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog.";
    char body[2048];
    snprintf(body, sizeof body,
             "{\"prompt\": \"%s\", \"max_tokens\": %d, \"temperature\": 0, \"stream\": true, "
             "\"stream_options\": {\"include_usage\": true}, \"logit_bias\": {\"%d\": -100}}",
             prompt, max_tokens, eot_id);
    printf("GPT-2 124M shapes (random weights), %d threads, %s kernels; %d tokens per reply, median of %d runs\n",
           threads, kern_simd_name(), max_tokens, runs);
    printf(
        "machine: read bandwidth %.1f GB/s; batched kernels at T=32 on 768x3072: fp32 %.0f GFLOP/s, int8 %.0f GOP/s\n",
        bw / 1e9, flops / 1e9, iops / 1e9);

    for (int q = 0; q < 2; q++) {
        const char *quant = q ? "int8" : "none";
        if (strcmp(quants, "both") && strcmp(quants, quant)) continue;
        InferModel im;
        infer_model_init(&im, &g, q ? INFER_INT8 : INFER_F32);
        double bytes = infer_bytes_per_token(&im);
        infer_model_destroy(&im);
        double gen[16];
        for (int r = 0; r < runs; r++) gen[r] = generate_tps(quant, prompt, max_tokens, threads);
        double gen_tps = bench_median(gen, runs);
        int port;
        pid_t pid = start_server(q ? "--quant int8" : "", threads, &port);
        if (pid <= 0 || port <= 0) {
            fprintf(stderr, "bench/serve: the server did not start\n");
            return 1;
        }
        printf("\n%s: chirp generate alone %.1f tok/s; %.1f MB of weights per step\n", q ? "int8" : "fp32", gen_tps,
               bytes / 1e6);
        printf("%7s %12s %10s %10s %12s %14s %13s %8s\n", "streams", "aggregate", "x 1 stream", "ttft p50", "ttft p99",
               "per-stream t/s", "weight bound", "compute");
        double one_stream = 0, one_stream_decode = 0;
        for (int li = 0; li < n_levels; li++) {
            int c = levels[li];
            double agg[16], per[MAX_LEVEL * 16], ttft[MAX_LEVEL * 16];
            int n_per = 0, failures = 0;
            for (int r = 0; r < runs; r++) {
                Stream st[MAX_LEVEL];
                pthread_t th[MAX_LEVEL];
                double t0 = time_now();
                for (int i = 0; i < c; i++) {
                    st[i] = (Stream){.port = port, .body = body};
                    pthread_create(&th[i], NULL, run_stream, &st[i]);
                }
                int total = 0;
                for (int i = 0; i < c; i++) {
                    pthread_join(th[i], NULL);
                    total += st[i].tokens;
                    if (!st[i].ok) failures++;
                    ttft[n_per] = st[i].t_first - st[i].t_start;
                    per[n_per++] = st[i].chunks > 1 ? (st[i].tokens - 1) / (st[i].t_last - st[i].t_first) : 0;
                }
                agg[r] = total / (time_now() - t0);
            }
            double a = bench_median(agg, runs);
            double per_stream = bench_median(per, n_per);
            if (c == 1) one_stream = a, one_stream_decode = per_stream;
            double weight_bound = c * bw / bytes, compute_bound = (q ? iops : flops) / flops_per_token;
            double p50 = bench_percentile(ttft, n_per, 50), p99 = bench_percentile(ttft, n_per, 99);
            printf("%7d %8.1f t/s %9.2fx %8.0f ms %10.0f ms %14.1f %9.0f t/s %4.0f t/s%s\n", c, a,
                   one_stream > 0 ? a / one_stream : 0, p50 * 1e3, p99 * 1e3, per_stream, weight_bound, compute_bound,
                   failures ? "  (some requests failed)" : "");
            fflush(stdout);
        }
        if (one_stream_decode > 0 && gen_tps > 0)
            printf("one stream through the server decodes at %.1f%% of chirp generate's speed\n",
                   100.0 * one_stream_decode / gen_tps);
        stop_server(pid);
    }
    gpt2_free(&g);
    return 0;
}
