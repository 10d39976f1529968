/* bench/decode_stream.c: how fast the decode kernels stream each GPT-2
 * 124M matrix shape from memory, fp32 against bf16 weights, in GB/s of
 * weights read (the figure docs/performance.md quotes beside bench/generate).
 *
 * A matrix-vector product per copy, over enough copies (24 of the layer
 * matrices, 2 of the LM head) that they come from DRAM, not the caches;
 * best of 3 passes over all copies; 1 and 2 threads.
 *
 * usage: build/release/bench/decode_stream */
#include "compute/bf16.h"
#include "compute/kernels.h"
#include "util/timer.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct Shape {
    const char *name;
    int k, n, out_in, copies; /* out_in: the LM head's [n, k] layout */
} Shape;

static void product(float *y, const float *x, const float *W, const uint16_t *Wh, const float *b, const Shape *s) {
    if (s->out_in && Wh) kern_matmul_rows_out_in_bf16(y, x, Wh, 1, s->n, s->k);
    else if (s->out_in) kern_matmul_rows_out_in(y, x, W, 1, s->n, s->k);
    else if (Wh) kern_matmul_rows_in_out_bf16(y, x, Wh, b, 1, s->k, s->n);
    else kern_matmul_rows_in_out(y, x, W, b, 1, s->k, s->n);
}

int main(void) {
    const Shape shapes[] = {{"mlp up [768, 3072]", 768, 3072, 0, 24},
                            {"mlp down [3072, 768]", 3072, 768, 0, 24},
                            {"LM head [50257, 768]", 768, 50257, 1, 2}};
    printf("decode kernels (%s), matrix-vector, GB/s of weights from DRAM, best of 3\n", kern_simd_name());
    printf("%-22s %7s %9s %9s\n", "matrix", "threads", "fp32", "bf16");
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const Shape *s = &shapes[si];
        size_t e = (size_t)s->k * s->n, total = e * (size_t)s->copies;
        float *W = malloc(total * sizeof(float));
        uint16_t *Wh = malloc(total * sizeof(uint16_t));
        float *x = malloc((size_t)s->k * sizeof(float)), *y = malloc((size_t)s->n * sizeof(float));
        float *b = calloc((size_t)s->n, sizeof(float));
        if (!W || !Wh || !x || !y || !b) return 1;
        for (size_t i = 0; i < total; i++) W[i] = (float)(i % 97) * 0.01f, Wh[i] = bf16_from_f32(W[i]);
        for (int i = 0; i < s->k; i++) x[i] = 0.5f;
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            double gbs[2];
            for (int bf = 0; bf < 2; bf++) {
                double best = 1e30;
                for (int rep = 0; rep < 3; rep++) {
                    double t0 = time_now();
                    for (int c = 0; c < s->copies; c++)
                        product(y, x, bf ? NULL : W + e * c, bf ? Wh + e * c : NULL, b, s);
                    double t = time_now() - t0;
                    if (t < best) best = t;
                }
                gbs[bf] = (double)total * (bf ? 2 : 4) / best / 1e9;
            }
            printf("%-22s %7d %9.2f %9.2f\n", s->name, threads, gbs[0], gbs[1]);
        }
        free(W), free(Wh), free(x), free(y), free(b);
    }
    return 0;
}
