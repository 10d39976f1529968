/* kernels.c: fp32 inference kernels (see kernels.h for why they look like
 * this). */
#include "infer/kernels.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* Below this many weights a matrix-vector product is not worth waking the
 * thread team (the tiny test models). */
#define PAR_MIN_WEIGHTS 65536

/* Columns [j0, j1) of y = b + x @ W. Rows are streamed in full contiguous
 * runs (one thread's slice of a row) so the hardware prefetcher sees long
 * sequential reads; the slice of y being accumulated (at most 12 KB for
 * GPT-2's 3072-wide layers) stays in L1, and four rows are folded in per
 * pass so y is loaded and stored once per four weight rows. */
static void matvec_cols(float *y, const float *x, const float *W, const float *b, int k, int n, int j0,
                        int j1) {
    if (b) memcpy(y + j0, b + j0, (size_t)(j1 - j0) * sizeof(float));
    else memset(y + j0, 0, (size_t)(j1 - j0) * sizeof(float));
    int i = 0;
#ifdef __AVX512F__
    for (; i + 4 <= k; i += 4) {
        const float *w0 = W + (size_t)i * n, *w1 = w0 + n, *w2 = w1 + n, *w3 = w2 + n;
        __m512 x0 = _mm512_set1_ps(x[i]), x1 = _mm512_set1_ps(x[i + 1]);
        __m512 x2 = _mm512_set1_ps(x[i + 2]), x3 = _mm512_set1_ps(x[i + 3]);
        int j = j0;
        for (; j + 16 <= j1; j += 16) {
            __m512 acc = _mm512_loadu_ps(y + j);
            acc = _mm512_fmadd_ps(x0, _mm512_loadu_ps(w0 + j), acc);
            acc = _mm512_fmadd_ps(x1, _mm512_loadu_ps(w1 + j), acc);
            acc = _mm512_fmadd_ps(x2, _mm512_loadu_ps(w2 + j), acc);
            acc = _mm512_fmadd_ps(x3, _mm512_loadu_ps(w3 + j), acc);
            _mm512_storeu_ps(y + j, acc);
        }
        if (j < j1) {
            __mmask16 m = (__mmask16)((1u << (j1 - j)) - 1);
            __m512 acc = _mm512_maskz_loadu_ps(m, y + j);
            acc = _mm512_fmadd_ps(x0, _mm512_maskz_loadu_ps(m, w0 + j), acc);
            acc = _mm512_fmadd_ps(x1, _mm512_maskz_loadu_ps(m, w1 + j), acc);
            acc = _mm512_fmadd_ps(x2, _mm512_maskz_loadu_ps(m, w2 + j), acc);
            acc = _mm512_fmadd_ps(x3, _mm512_maskz_loadu_ps(m, w3 + j), acc);
            _mm512_mask_storeu_ps(y + j, m, acc);
        }
    }
#endif
    for (; i < k; i++) {
        const float *w = W + (size_t)i * n;
        float xi = x[i];
        for (int j = j0; j < j1; j++) y[j] += xi * w[j];
    }
}

void kern_matvec_in_out(float *y, const float *x, const float *W, const float *b, int k, int n) {
    int par = (long)k * n >= PAR_MIN_WEIGHTS;
#pragma omp parallel if (par)
    {
        /* Slices are whole 16-float blocks so no two threads share a
         * cache line of y. */
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int blocks = (n + 15) / 16;
        int j0 = (int)((long)blocks * id / nt) * 16;
        int j1 = (int)((long)blocks * (id + 1) / nt) * 16;
        if (j1 > n) j1 = n;
        if (j0 < j1) matvec_cols(y, x, W, b, k, n, j0, j1);
    }
}

#ifdef __AVX512F__
static inline float dot_avx512(const float *a, const float *x, int k) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= k; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(x + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(x + i + 16), acc1);
    }
    for (; i + 16 <= k; i += 16)
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(x + i), acc0);
    if (i < k) {
        __mmask16 m = (__mmask16)((1u << (k - i)) - 1);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, x + i), acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}
#endif

float kern_dot(const float *a, const float *b, int n) {
#ifdef __AVX512F__
    return dot_avx512(a, b, n);
#else
    /* Four partial sums: a single running sum is one long dependency chain
     * the compiler may not reorder (no -ffast-math). */
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
#endif
}

void kern_matvec_out_in(float *y, const float *x, const float *W, int n, int k) {
    int par = (long)k * n >= PAR_MIN_WEIGHTS;
#pragma omp parallel for schedule(static) if (par)
    for (int r = 0; r < n; r++) {
        const float *w = W + (size_t)r * k;
#ifdef __AVX512F__
        y[r] = dot_avx512(w, x, k);
#else
        float s = 0.0f;
        for (int i = 0; i < k; i++) s += w[i] * x[i];
        y[r] = s;
#endif
    }
}

void kern_matmul_in_out(float *Y, const float *X, const float *W, const float *b, int T, int k, int n) {
    if (b) {
        for (int t = 0; t < T; t++) memcpy(Y + (size_t)t * n, b, (size_t)n * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, n, k, 1.0f, X, k, W, n, b ? 1.0f : 0.0f, Y,
                n);
}

void kern_layernorm(float *out, const float *x, const float *w, const float *b, int n, float eps) {
    /* Two passes (mean, then variance about the mean) as PyTorch does; the
     * one-pass E[x^2]-E[x]^2 form loses digits when the mean is large. */
    float mean = 0.0f;
    for (int i = 0; i < n; i++) mean += x[i];
    mean /= (float)n;
    float var = 0.0f;
    for (int i = 0; i < n; i++) {
        float d = x[i] - mean;
        var += d * d;
    }
    var /= (float)n;
    float rstd = 1.0f / sqrtf(var + eps);
    for (int i = 0; i < n; i++) out[i] = (x[i] - mean) * rstd * w[i] + b[i];
}

void kern_gelu(float *x, int n) {
    const float s = 0.7978845608028654f; /* sqrt(2/pi) */
    for (int i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(s * (v + 0.044715f * v * v * v)));
    }
}

void kern_add(float *x, const float *y, int n) {
    for (int i = 0; i < n; i++) x[i] += y[i];
}

void kern_softmax(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > mx) mx = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv;
}
