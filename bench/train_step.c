/* train_step.c: times one GPT-2 training step by phase (forward, backward,
 * optimizer) on random weights and tokens; prints the memory formula and
 * the sgemm kernel. Used by bench/train and for profiling.
 *   build/release/bench/train_step L H C V B T [steps] */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"
#include "model/gpt2_compute.h"
#include "train/adamw.h"
#include "util/timer.h"

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s L H C V B T [steps]\n", argv[0]);
        return 2;
    }
    Gpt2Config cfg = {atoi(argv[1]), atoi(argv[2]), atoi(argv[3]), 1024, atoi(argv[4]), 1e-5f};
    int B = atoi(argv[5]), T = atoi(argv[6]), steps = argc > 7 ? atoi(argv[7]) : 5;
    Gpt2Model m;
    if (gpt2_init_random(&m, &cfg, 1) != 0) return 1;
    Gpt2Acts a;
    if (gpt2_acts_init(&a, &cfg, B, T) != 0) return 1;
    AdamW opt;
    adamw_init(&opt, m.num_params, 0.9, 0.95, 1e-8, 0.1);
    float *grads = calloc(m.num_params, sizeof(float));
    int32_t *in = malloc(sizeof(int32_t) * B * T), *tg = malloc(sizeof(int32_t) * B * T);
    for (int i = 0; i < B * T; i++) {
        in[i] = (i * 7919) % cfg.vocab_size;
        tg[i] = (i * 104729 + 1) % cfg.vocab_size;
    }
    printf("config L=%d H=%d C=%d V=%d B=%d T=%d params=%zu threads=%d core=%s\n", cfg.n_layer, cfg.n_head, cfg.n_embd,
           cfg.vocab_size, B, T, m.num_params, omp_get_max_threads(), openblas_get_corename());
    for (int s = 0; s < steps; s++) {
        double t0 = time_now();
        memset(grads, 0, m.num_params * sizeof(float));
        double t1 = time_now();
        float loss = gpt2_forward_backward(&m, &a, in, tg, 1.0f, grads, NULL, NULL);
        double t2 = time_now(), t3 = t2; /* one call: the LM head's backward runs inside its forward */
        float norm = grad_global_norm(grads, m.num_params);
        grad_clip(grads, m.num_params, norm, 1.0);
        adamw_step(&opt, &cfg, m.param_buf, grads, 1e-4);
        double t4 = time_now();
        printf("step %d loss %.4f zero %.1f fwd+bwd %.1f opt %.1f total %.1f ms  %.0f tok/s\n", s + 1, loss,
               (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t4 - t3) * 1e3, (t4 - t0) * 1e3, B * T / (t4 - t0));
    }
    return 0;
}
