/* ops_basic.c: embeddings, LayerNorm and GELU, forward and backward.
 *
 * These are memory-bound: one pass over the data each, threaded over rows
 * with OpenMP, inner loops over channels left to the vectoriser. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "compute/bf16.h"
#include "model/fastmath.h"
#include "model/ops.h"

/* `omp simd` is a request; at -O1 (sanitizer and fuzz builds) clang
 * declines it and would warn, which -Werror turns into an error. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

void encoder_forward(float *out, const int32_t *tok, const float *wte, const float *wpe, int B, int T, int C) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < B * T; n++) {
        float *o = out + (size_t)n * C;
        const float *e = wte + (size_t)tok[n] * C, *p = wpe + (size_t)(n % T) * C;
        for (int c = 0; c < C; c++) o[c] = e[c] + p[c];
    }
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tok, int B, int T, int C, int V) {
    (void)V;
    /* Rows may repeat a token, so threads split the channels, not the rows:
     * no two threads ever write the same element, and the order of the
     * additions into each element is fixed (deterministic). */
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int c0 = (int)((long)C * id / nt), c1 = (int)((long)C * (id + 1) / nt);
        for (int n = 0; n < B * T; n++) {
            const float *d = dout + (size_t)n * C;
            float *w = dwte + (size_t)tok[n] * C, *p = dwpe + (size_t)(n % T) * C;
            for (int c = c0; c < c1; c++) {
                w[c] += d[c];
                p[c] += d[c];
            }
        }
    }
}

void layernorm_forward(float *out, uint16_t *out16, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C, float eps) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        /* mean and variance in double (two passes): cheap here and
         * keeps our rounding within an ulp of PyTorch's. */
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) s += x[c];
        double m = s / C, v = 0.0;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++) {
            double d = x[c] - m;
            v += d * d;
        }
        v /= C;
        float mf = (float)m;
        float rs = 1.0f / sqrtf((float)v + eps);
        /* PyTorch's CPU kernel form: (x*rstd + (-rstd*mean)) * w + b */
        float bias = -rs * mf;
        if (out16) {
            uint16_t *o = out16 + (size_t)n * C;
            for (int c = 0; c < C; c++) o[c] = bf16_from_f32((x[c] * rs + bias) * w[c] + b[c]);
        } else {
            float *o = out + (size_t)n * C;
            for (int c = 0; c < C; c++) o[c] = (x[c] * rs + bias) * w[c] + b[c];
        }
        mean[n] = mf;
        rstd[n] = rs;
    }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C) {
    /* dw/db need a sum over rows: each thread sums its rows into a private
     * row (fixed static partition, so results are deterministic for a given
     * thread count), then the partials are added in thread order. */
    int nthreads = omp_get_max_threads();
    float *partial = (float *)calloc((size_t)2 * C * nthreads, sizeof(float));
    if (!partial) abort();
#pragma omp parallel num_threads(nthreads)
    {
        int id = omp_get_thread_num(), nt = omp_get_num_threads();
        float *pdw = partial + (size_t)2 * C * id, *pdb = pdw + C;
        int n0 = (int)((long)N * id / nt), n1 = (int)((long)N * (id + 1) / nt);
        for (int n = n0; n < n1; n++) {
            const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float m = mean[n], rs = rstd[n];
            float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
            for (int c = 0; c < C; c++) {
                float xh = (x[c] - m) * rs;
                float dn = w[c] * d[c];
                dnorm_mean += dn;
                dnorm_norm_mean += dn * xh;
                pdb[c] += d[c];
                pdw[c] += xh * d[c];
            }
            dnorm_mean /= C;
            dnorm_norm_mean /= C;
            for (int c = 0; c < C; c++) {
                float xh = (x[c] - m) * rs;
                float dn = w[c] * d[c];
                dx[c] += (dn - dnorm_mean - xh * dnorm_norm_mean) * rs;
            }
        }
    }
    for (int t = 0; t < nthreads; t++) {
        const float *pdw = partial + (size_t)2 * C * t, *pdb = pdw + C;
        for (int c = 0; c < C; c++) {
            dw[c] += pdw[c];
            db[c] += pdb[c];
        }
    }
    free(partial);
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

static inline float gelu(float x) {
    float u = GELU_K * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + fm_tanhf(u));
}

static inline float gelu_grad(float x) {
    float u = GELU_K * (x + 0.044715f * x * x * x);
    float t = fm_tanhf(u);
    float du = GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

FM_WIDE void gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = gelu(inp[i]);
}

FM_WIDE void gelu_forward_bf16(uint16_t *out, const float *inp, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = bf16_from_f32(gelu(inp[i]));
}

FM_WIDE void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dinp[i] = gelu_grad(inp[i]) * dout[i];
}

FM_WIDE void gelu_backward_bf16(uint16_t *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) dinp[i] = bf16_from_f32(gelu_grad(inp[i]) * dout[i]);
}
