/* quant.c: Q8 block quantization and int8 dot-product kernels. */
#include "compute/quant.h"

#include "util/error.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define QUANT_VNNI 1
#include <immintrin.h>
#elif defined(__AVX2__) && defined(__FMA__)
#define QUANT_AVX2 1
#include <immintrin.h>
#endif

static void quant_block(const float *x, int8_t *q, float *d) {
    float amax = 0.0f;
    for (int i = 0; i < QBLOCK; i++) {
        float a = fabsf(x[i]);
        if (a > amax) amax = a;
    }
    float scale = amax / 127.0f;
    float inv = scale > 0.0f ? 1.0f / scale : 0.0f;
    for (int i = 0; i < QBLOCK; i++) {
        /* Round half away from zero, as roundf, but inline (roundf is a
         * libm call here and quantizing GPT-2 124M makes 124M of them). */
        float v = x[i] * inv;
        int r = (int)(v + (v >= 0.0f ? 0.5f : -0.5f));
        /* Clamp: x*inv can touch 127.0000x. -128 is never used, which keeps
         * |q| representable as an unsigned byte for vpdpbusd. */
        if (r > 127) r = 127;
        if (r < -127) r = -127;
        q[i] = (int8_t)r;
    }
    *d = scale;
}

void quant_q8_vec(const float *x, int n, int8_t *q, float *d) {
    for (int b = 0; b < n / QBLOCK; b++) quant_block(x + b * QBLOCK, q + b * QBLOCK, d + b);
}

static int qmat_alloc(QMat *m, int rows, int cols) {
    if (cols % QBLOCK != 0)
        return chirp_fail("int8 quantization needs the input width (%d) to be a multiple of %d", cols, QBLOCK);
    m->rows = rows;
    m->cols = cols;
    m->q = xmalloc((size_t)rows * cols);
    m->d = xmalloc((size_t)rows * (cols / QBLOCK) * sizeof(float));
    m->owned = 1;
    return 0;
}

int qmat_from_out_in(QMat *m, const float *W, int rows, int cols) {
    if (qmat_alloc(m, rows, cols) != 0) return -1;
    int nb = cols / QBLOCK;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        quant_q8_vec(W + (size_t)r * cols, cols, m->q + (size_t)r * cols, m->d + (size_t)r * nb);
    return 0;
}

int qmat_from_in_out(QMat *m, const float *W, int in, int out) {
    if (qmat_alloc(m, out, in) != 0) return -1;
    int nb = in / QBLOCK;
#pragma omp parallel
    {
        float *row = xmalloc((size_t)in * sizeof(float));
#pragma omp for schedule(static)
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) row[i] = W[(size_t)i * out + o];
            quant_q8_vec(row, in, m->q + (size_t)o * in, m->d + (size_t)o * nb);
        }
        free(row);
    }
    return 0;
}

void qmat_destroy(QMat *m) {
    if (m->owned) {
        free(m->q);
        free(m->d);
    }
    memset(m, 0, sizeof *m);
}

void qmat_dequant_row(const QMat *m, int r, float *out) {
    const int8_t *q = m->q + (size_t)r * m->cols;
    const float *d = m->d + (size_t)r * (m->cols / QBLOCK);
    for (int i = 0; i < m->cols; i++) out[i] = (float)q[i] * d[i / QBLOCK];
}

/* One output: sum over blocks of dw[b] * dx[b] * <qw_b, qx_b>. */
static float qdot(const int8_t *qw, const float *dw, const int8_t *qx, const float *dx, int cols) {
    int nb = cols / QBLOCK;
    int b = 0;
    float sum = 0.0f;
#ifdef QUANT_VNNI
    /* Two 32-byte blocks per zmm. vpdpbusd multiplies unsigned by signed
     * bytes, so the weight's sign is moved onto the activation: |w| * (x
     * with w's sign) = w * x. Lanes 0-7 of the int32 result hold block b,
     * lanes 8-15 block b+1; they are scaled separately and summed in fp32. */
    __m512 acc = _mm512_setzero_ps();
    const __m512i zero = _mm512_setzero_si512();
    for (; b + 2 <= nb; b += 2) {
        __m512i w = _mm512_loadu_si512((const void *)(qw + b * QBLOCK));
        __m512i x = _mm512_loadu_si512((const void *)(qx + b * QBLOCK));
        __mmask64 neg = _mm512_movepi8_mask(w);
        __m512i xs = _mm512_mask_sub_epi8(x, neg, zero, x);
        __m512i p = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(w), xs);
        __m512 s = _mm512_insertf32x8(_mm512_set1_ps(dw[b] * dx[b]), _mm256_set1_ps(dw[b + 1] * dx[b + 1]), 1);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), s, acc);
    }
    sum = _mm512_reduce_add_ps(acc);
#elif defined(QUANT_AVX2)
    /* One 32-byte block per ymm: the sign trick again (|w| unsigned times x
     * with w's sign), vpmaddubsw into int16 pairs (at most 2 x 127 x 127,
     * no overflow since -128 is never produced), vpmaddwd into int32. */
    __m256 acc = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    for (; b < nb; b++) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(qw + b * QBLOCK));
        __m256i x = _mm256_loadu_si256((const __m256i *)(qx + b * QBLOCK));
        __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)), ones);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw[b] * dx[b]), acc);
    }
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    sum = _mm_cvtss_f32(h);
#endif
    for (; b < nb; b++) {
        int32_t s = 0;
        const int8_t *w = qw + b * QBLOCK, *x = qx + b * QBLOCK;
        for (int i = 0; i < QBLOCK; i++) s += (int32_t)w[i] * (int32_t)x[i];
        sum += (float)s * dw[b] * dx[b];
    }
    return sum;
}

/* qdot() of one weight row against four activation rows: the weight
 * block is loaded (and its sign split off) once for all four, and each of
 * the four results goes through exactly qdot()'s operations in qdot()'s
 * order, so a row's output does not depend on how many rows came with it. */
static void qdot4(const int8_t *qw, const float *dw, const int8_t *const qx[4], const float *const dx[4], int cols,
                  float out[4]) {
    int nb = cols / QBLOCK;
    int b = 0;
    float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#ifdef QUANT_VNNI
    __m512 acc[4];
    const __m512i zero = _mm512_setzero_si512();
    for (int t = 0; t < 4; t++) acc[t] = _mm512_setzero_ps();
    for (; b + 2 <= nb; b += 2) {
        __m512i w = _mm512_loadu_si512((const void *)(qw + b * QBLOCK));
        __mmask64 neg = _mm512_movepi8_mask(w);
        __m512i aw = _mm512_abs_epi8(w);
        for (int t = 0; t < 4; t++) {
            __m512i x = _mm512_loadu_si512((const void *)(qx[t] + b * QBLOCK));
            __m512i xs = _mm512_mask_sub_epi8(x, neg, zero, x);
            __m512i p = _mm512_dpbusd_epi32(zero, aw, xs);
            __m512 sc =
                _mm512_insertf32x8(_mm512_set1_ps(dw[b] * dx[t][b]), _mm256_set1_ps(dw[b + 1] * dx[t][b + 1]), 1);
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), sc, acc[t]);
        }
    }
    for (int t = 0; t < 4; t++) sum[t] = _mm512_reduce_add_ps(acc[t]);
#elif defined(QUANT_AVX2)
    __m256 acc[4];
    const __m256i ones = _mm256_set1_epi16(1);
    for (int t = 0; t < 4; t++) acc[t] = _mm256_setzero_ps();
    for (; b < nb; b++) {
        __m256i w = _mm256_loadu_si256((const __m256i *)(qw + b * QBLOCK));
        __m256i aw = _mm256_sign_epi8(w, w);
        for (int t = 0; t < 4; t++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(qx[t] + b * QBLOCK));
            __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w)), ones);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw[b] * dx[t][b]), acc[t]);
        }
    }
    for (int t = 0; t < 4; t++) {
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[t]), _mm256_extractf128_ps(acc[t], 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        sum[t] = _mm_cvtss_f32(h);
    }
#endif
    for (int t = 0; t < 4; t++) {
        for (int bb = b; bb < nb; bb++) {
            int32_t si = 0;
            const int8_t *w = qw + bb * QBLOCK, *x = qx[t] + bb * QBLOCK;
            for (int i = 0; i < QBLOCK; i++) si += (int32_t)w[i] * (int32_t)x[i];
            sum[t] += (float)si * dw[bb] * dx[t][bb];
        }
        out[t] = sum[t];
    }
}

void qmat_matmul(float *Y, const int8_t *qx, const float *dx, const QMat *W, const float *b, int T) {
    int rows = W->rows, cols = W->cols, nb = cols / QBLOCK;
    int par = (long)rows * cols >= 65536 || T > 1;
    /* Rows outermost: a weight row (at most a few KB) stays in L1 while every
     * token's activations stream past it, so weights are read from memory
     * once per call whatever T is. */
#pragma omp parallel for schedule(static) if (par)
    for (int r = 0; r < rows; r++) {
        const int8_t *qw = W->q + (size_t)r * cols;
        const float *dw = W->d + (size_t)r * nb;
        float bias = b ? b[r] : 0.0f;
        int t = 0;
        for (; t + 4 <= T; t += 4) {
            const int8_t *xs[4];
            const float *ds[4];
            for (int j = 0; j < 4; j++) {
                xs[j] = qx + (size_t)(t + j) * cols;
                ds[j] = dx + (size_t)(t + j) * nb;
            }
            float out[4];
            qdot4(qw, dw, xs, ds, cols, out);
            for (int j = 0; j < 4; j++) Y[(size_t)(t + j) * rows + r] = bias + out[j];
        }
        for (; t < T; t++)
            Y[(size_t)t * rows + r] = bias + qdot(qw, dw, qx + (size_t)t * cols, dx + (size_t)t * nb, cols);
    }
}

const char *quant_kernel_name(void) {
#if defined(QUANT_VNNI)
    return "avx512-vnni";
#elif defined(QUANT_AVX2)
    return "avx2";
#else
    return "scalar";
#endif
}
