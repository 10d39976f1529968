/* bench/generate.c: inference speed at GPT-2 124M shapes (random weights)
 * next to the memory-bandwidth bound measured in the same process.
 *
 * Decoding one token reads every weight once (plus the KV cache so far), so
 * tokens/s can be at most bandwidth / bytes-per-token. This program
 * measures the bandwidth with a streaming read of a 1 GiB buffer (AVX-512
 * loads, the same thread count), then prefill and decode speeds for fp32
 * bf16 and int8 weights, and prints medians of several runs. Timings on a shared
 * machine are noisy: medians, and never a pass/fail.
 *
 * usage: build/release/bench/generate [--threads N] [--prompt T] [--decode N] [--runs R] [--preset NAME] */
#include "infer/infer.h"
#include "compute/gemm.h"
#include "compute/kernels.h"
#include "compute/quant.h"
#include "compute/bf16.h"
#include "compute/tiles_bf16.h"
#include "bench_util.h"

#include <cblas.h>
#include "model/gpt2.h"
#include "util/error.h"
#include "util/timer.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Result {
    double prefill_tps, decode_tps;
} Result;

static Result run_model(const InferModel *m, int prompt_len, int decode_n, int runs) {
    InferState *s = infer_state_new(m);
    int32_t *toks = malloc((size_t)prompt_len * sizeof(int32_t));
    for (int i = 0; i < prompt_len; i++) toks[i] = (i * 7919 + 13) % m->cfg.vocab_size;
    double pre[16], dec[16];
    /* One warm-up run: first touches of the KV cache and scratch buffers. */
    for (int r = -1; r < runs; r++) {
        infer_state_reset(s);
        double t0 = time_now();
        const float *lg = infer_prefill(s, toks, prompt_len, NULL);
        double t1 = time_now();
        int32_t t = 0;
        for (int i = 0; i < decode_n; i++) {
            /* argmax: a cheap, deterministic next token */
            int b = 0;
            for (int v = 1; v < m->cfg.vocab_size; v++)
                if (lg[v] > lg[b]) b = v;
            t = b;
            lg = infer_step(s, t);
        }
        double t2 = time_now();
        if (r >= 0) {
            pre[r] = prompt_len / (t1 - t0);
            dec[r] = decode_n / (t2 - t1);
        }
    }
    Result res = {bench_median(pre, runs), bench_median(dec, runs)};
    free(toks);
    infer_state_free(s);
    return res;
}

/* What batch invariance costs at prefill: chirp's batched kernel against
 * OpenBLAS sgemm on GPT-2's four linear shapes at T rows, same process;
 * and, where the CPU has AMX, the bf16 tiles' product (tiles_bf16.h). */
static void prefill_kernel_vs_sgemm(int T, int runs) {
    const int shapes[4][2] = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};
    const char *names[4] = {"qkv", "attn proj", "mlp up", "mlp down"};
    int tiles = tiles_available();
    printf("\nprefill matmul, T=%d rows: chirp (batch-invariant) vs OpenBLAS sgemm, GFLOP/s, median of %d\n", T, runs);
    printf("%-10s %12s %12s %8s", "layer", "chirp", "sgemm", "ratio");
    if (tiles) printf(" %12s %10s", "bf16 tiles", "/ sgemm");
    printf("\n");
    for (int s = 0; s < 4; s++) {
        int k = shapes[s][0], n = shapes[s][1];
        float *W = malloc((size_t)k * n * sizeof(float)), *X = malloc((size_t)T * k * sizeof(float));
        float *Y = malloc((size_t)T * n * sizeof(float));
        for (size_t i = 0; i < (size_t)k * n; i++) W[i] = (float)(i % 13) * 0.01f;
        for (size_t i = 0; i < (size_t)T * k; i++) X[i] = (float)(i % 7) * 0.1f;
        TileMat tm = {0};
        uint16_t *xh = malloc(tile_matmul_scratch(T, k) * sizeof(uint16_t));
        if (tiles) {
            uint16_t *h = malloc((size_t)k * n * sizeof(uint16_t));
            bf16_from_f32_array(h, W, (size_t)k * n);
            tilemat_pack_in_out(&tm, h, k, n);
            free(h);
        }
        double a[16], b[16], c[16], flop = 2.0 * T * k * n;
        for (int r = 0; r < runs; r++) {
            double t0 = time_now();
            kern_matmul_rows_in_out(Y, X, W, NULL, T, k, n);
            double t1 = time_now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, n, k, 1.0f, X, k, W, n, 0.0f, Y, n);
            double t2 = time_now();
            if (tiles) tile_matmul(Y, X, &tm, NULL, T, xh);
            a[r] = flop / (t1 - t0) / 1e9;
            b[r] = flop / (t2 - t1) / 1e9;
            c[r] = flop / (time_now() - t2) / 1e9;
        }
        double ma = bench_median(a, runs), mb = bench_median(b, runs), mc = bench_median(c, runs);
        printf("%-10s %12.1f %12.1f %7.2fx", names[s], ma, mb, ma / mb);
        if (tiles) printf(" %12.1f %9.2fx", mc, mc / mb);
        printf("\n");
        tilemat_destroy(&tm);
        free(W), free(X), free(Y), free(xh);
    }
}

int main(int argc, char **argv) {
    gemm_restart_for_fast_kernels(argv); /* the sgemm it compares against: as chirp runs it */
    int threads[2] = {1, 2}, nthreads = 2, prompt_len = 128, decode_n = 64, runs = 5;
    const char *preset = "gpt2";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) {
            threads[0] = atoi(argv[i + 1]);
            nthreads = 1;
        } else if (!strcmp(argv[i], "--prompt")) prompt_len = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--decode")) decode_n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--preset")) preset = argv[i + 1];
        else {
            fprintf(stderr, "usage: %s [--threads N] [--prompt T] [--decode N] [--runs R] [--preset NAME]\n", argv[0]);
            return 2;
        }
    }
    if (runs < 1 || runs > 16) runs = 5;
    Gpt2Config cfg;
    if (gpt2_preset(preset, &cfg) != 0) {
        fprintf(stderr, "unknown preset %s\n", preset);
        return 2;
    }
    fprintf(stderr, "bench/generate: building %s (L=%d C=%d V=%d, %.1fM params, random weights)...\n", preset,
            cfg.n_layer, cfg.n_embd, cfg.vocab_size, gpt2_num_params(&cfg) / 1e6);
    Gpt2Model g;
    if (gpt2_init_random(&g, &cfg, 1) != 0) {
        fprintf(stderr, "bench/generate: %s\n", chirp_error());
        return 1;
    }
    /* bf16 twice where the CPU has AMX: on the vector kernels (weights
     * widened) and on the tiles (what --quant bf16 picks there). */
    int tiles = tiles_available();
    InferModel f32, h16, t16, q8;
    memset(&t16, 0, sizeof t16);
    setenv("CHIRP_BF16_TILES", "0", 1);
    if (infer_model_init(&f32, &g, INFER_F32) != 0 || infer_model_init(&h16, &g, INFER_BF16) != 0 ||
        infer_model_init(&q8, &g, INFER_INT8) != 0) {
        fprintf(stderr, "bench/generate: %s\n", chirp_error());
        return 1;
    }
    setenv("CHIRP_BF16_TILES", "1", 1);
    if (tiles && infer_model_init(&t16, &g, INFER_BF16) != 0) {
        fprintf(stderr, "bench/generate: %s\n", chirp_error());
        return 1;
    }
    unsetenv("CHIRP_BF16_TILES");
    size_t bw_n = (size_t)1 << 28; /* 1 GiB of floats */
    float *bw_buf = aligned_alloc(64, bw_n * sizeof(float));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < bw_n; i++) bw_buf[i] = 1.0f;

    /* KV cache read per decoded token at the mean position of the decode. */
    double mean_pos = prompt_len + decode_n / 2.0;
    double kv_bytes = 2.0 * cfg.n_layer * mean_pos * cfg.n_embd * sizeof(float);
    printf("GPT-2 %s shapes, batch 1, prompt %d tokens, %d decoded tokens, median of %d runs\n", preset, prompt_len,
           decode_n, runs);
    printf("kernels: fp32 = chirp's batch-invariant %s matvec (decode) and register-tiled matmul (prefill);\n"
           "         bf16 = the same kernels, weights widened from bf16 as they are loaded;\n"
           "         int8 = Q8 blocks of %d, %s dot products, for both\n"
           "%s",
           kern_simd_name(), QBLOCK, quant_kernel_name(),
           tiles ? "         bf16-amx = the AMX tiles for both, activations rounded to bf16 (tiles_bf16.h)\n" : "");
    printf("bytes per decoded token: fp32 %.1f MB, bf16 %.1f MB, int8 %.1f MB (weights) + %.1f MB KV cache\n",
           infer_bytes_per_token(&f32) / 1e6, infer_bytes_per_token(&h16) / 1e6, infer_bytes_per_token(&q8) / 1e6,
           kv_bytes / 1e6);
    printf("\n%-8s %7s %10s %12s %12s %12s %9s\n", "type", "threads", "bw GB/s", "prefill t/s", "decode t/s",
           "bound t/s", "of bound");
    for (int ti = 0; ti < nthreads; ti++) {
        omp_set_num_threads(threads[ti]);
        double bw = bench_bandwidth(bw_buf, bw_n, runs);
        const InferModel *models[4] = {&f32, &h16, &q8, &t16};
        const char *labels[4] = {"fp32", "bf16", "int8", "bf16-amx"};
        for (int q = 0; q < 3 + tiles; q++) {
            const InferModel *m = models[q];
            Result r = run_model(m, prompt_len, decode_n, runs);
            double bytes = infer_bytes_per_token(m) + kv_bytes;
            double bound = bw / bytes;
            printf("%-8s %7d %10.1f %12.1f %12.1f %12.1f %8.0f%%\n", labels[q], threads[ti], bw / 1e9, r.prefill_tps,
                   r.decode_tps, bound, 100.0 * r.decode_tps / bound);
            fflush(stdout);
        }
    }
    free(bw_buf);
    prefill_kernel_vs_sgemm(prompt_len, runs);
    infer_model_destroy(&f32);
    infer_model_destroy(&h16);
    infer_model_destroy(&q8);
    if (tiles) infer_model_destroy(&t16);
    gpt2_free(&g);
    return 0;
}
