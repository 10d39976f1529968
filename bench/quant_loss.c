/* bench/quant_loss.c: how much bf16 and int8 weights change a model's loss.
 *
 * Mean next-token cross-entropy over held-out tokens, with the model's
 * fp32 weights and with the same weights rounded to bf16 and quantized to
 * int8 (Q8 blocks), as chirp quantize writes them, through the inference forward pass
 * (batched prefill over non-overlapping windows).
 *
 * usage: build/release/bench/quant_loss MODEL_DIR TOKENS.bin [--seq T] [--windows N] */
#include "infer/infer.h"
#include "compute/tiles_bf16.h"
#include "util/error.h"
#include "util/file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double window_loss(InferState *s, const int32_t *toks, int T, float *logits) {
    infer_state_reset(s);
    if (!infer_prefill(s, toks, T, logits)) return NAN;
    int V = s->m->cfg.vocab_size;
    double sum = 0.0;
    for (int t = 0; t < T; t++) {
        const float *l = logits + (size_t)t * V;
        float mx = l[0];
        for (int v = 1; v < V; v++) mx = l[v] > mx ? l[v] : mx;
        double z = 0.0;
        for (int v = 0; v < V; v++) z += exp((double)l[v] - mx);
        sum += log(z) + mx - l[toks[t + 1]];
    }
    return sum / T;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR TOKENS.bin [--seq T] [--windows N]\n", argv[0]);
        return 2;
    }
    int seq = 0, windows = 100;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seq")) seq = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--windows")) windows = atoi(argv[i + 1]);
    }
    size_t len = 0;
    unsigned char *raw = (unsigned char *)file_read_all(argv[2], &len);
    if (!raw || len < 1024) {
        fprintf(stderr, "quant_loss: %s: %s\n", argv[2], raw ? "too short" : chirp_error());
        return 1;
    }
    int32_t hdr[256];
    memcpy(hdr, raw, sizeof hdr);
    if (hdr[0] != 20240520 || (size_t)hdr[2] * 2 + 1024 > len) {
        fprintf(stderr, "quant_loss: %s: not an llm.c token file\n", argv[2]);
        return 1;
    }
    size_t ntok = (size_t)hdr[2];
    int32_t *toks = malloc(ntok * sizeof(int32_t));
    for (size_t i = 0; i < ntok; i++) toks[i] = raw[1024 + 2 * i] | (raw[1024 + 2 * i + 1] << 8);
    free(raw);

    /* bf16 on the vector kernels (weights widened) and, where the CPU has
     * AMX, on the tiles (activations rounded too): what --quant bf16 runs. */
    int tiles = tiles_available();
    InferModel f32, h16, t16, q8;
    setenv("CHIRP_BF16_TILES", "0", 1);
    if (infer_model_load(&f32, argv[1], INFER_F32) != 0 || infer_model_load(&h16, argv[1], INFER_BF16) != 0 ||
        infer_model_load(&q8, argv[1], INFER_INT8) != 0) {
        fprintf(stderr, "quant_loss: %s\n", chirp_error());
        return 1;
    }
    setenv("CHIRP_BF16_TILES", "1", 1);
    if (tiles && infer_model_load(&t16, argv[1], INFER_BF16) != 0) {
        fprintf(stderr, "quant_loss: %s\n", chirp_error());
        return 1;
    }
    unsetenv("CHIRP_BF16_TILES");
    if (seq <= 0 || seq > f32.cfg.n_ctx) seq = f32.cfg.n_ctx;
    size_t max_w = (ntok - 1) / (size_t)seq;
    if ((size_t)windows > max_w) windows = (int)max_w;
    float *logits = malloc((size_t)seq * f32.cfg.vocab_size * sizeof(float));
    InferState *sf = infer_state_new(&f32), *sh = infer_state_new(&h16), *sq = infer_state_new(&q8);
    InferState *st = tiles ? infer_state_new(&t16) : NULL;
    double lf = 0.0, lh = 0.0, lq = 0.0, lt = 0.0;
    for (int w = 0; w < windows; w++) {
        const int32_t *x = toks + (size_t)w * seq;
        lf += window_loss(sf, x, seq, logits);
        lh += window_loss(sh, x, seq, logits);
        lq += window_loss(sq, x, seq, logits);
        if (tiles) lt += window_loss(st, x, seq, logits);
    }
    lf /= windows;
    lh /= windows;
    lq /= windows;
    lt /= windows;
    printf("%s on %s: %d windows x %d tokens\n", argv[1], argv[2], windows, seq);
    printf("fp32 loss %.6f\n", lf);
    printf("bf16 loss %.6f  change %+.7f (%+.4f%% relative)\n", lh, lh - lf, 100.0 * (lh - lf) / lf);
    if (tiles)
        printf("bf16 on AMX tiles loss %.6f  change %+.7f (%+.4f%% relative)\n", lt, lt - lf, 100.0 * (lt - lf) / lf);
    printf("int8 loss %.6f  change %+.7f (%+.4f%% relative)\n", lq, lq - lf, 100.0 * (lq - lf) / lf);
    infer_state_free(sf);
    infer_state_free(sh);
    infer_state_free(sq);
    infer_model_destroy(&f32);
    infer_model_destroy(&h16);
    infer_model_destroy(&q8);
    if (tiles) {
        infer_state_free(st);
        infer_model_destroy(&t16);
    }
    free(logits);
    free(toks);
    return 0;
}
