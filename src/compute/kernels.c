/* kernels.c: inference kernels (see kernels.h for why they look like
 * this), written once against simd.h's vector width.
 *
 * Weights come in fp32 or bf16. A bf16 weight is widened to float as it
 * is loaded (exact), and every multiply-add is the fp32 kernel's, in the
 * fp32 kernel's order: a bf16 product gives exactly the numbers the fp32
 * kernel gives on the widened weights, and keeps all its batch invariance.
 * Only the bytes read from memory halve. The drivers take both pointers
 * (one NULL) and pick the loader per block of rows, not per element. */
#include "compute/kernels.h"

#include "compute/bf16.h"
#include "compute/simd.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* Below this many weights a matrix-vector product is not worth waking the
 * thread team (the tiny test models). */
#define PAR_MIN_WEIGHTS 65536

const char *kern_simd_name(void) { return SIMD_NAME; }

/* Weights come as `const void *` with a flag, 0 for fp32 and 1 for bf16.
 * Every kernel below is inlined with a constant flag, so each exists as
 * an fp32 and a bf16 copy and no branch runs per element; the loaders are
 * the only place the two differ. A bf16 tail is widened into zero-padded
 * lanes, which multiply the zeros vload_m gives, as the fp32 tail does. */
#define KERNEL static inline __attribute__((always_inline))

KERNEL vf wload(const void *w, size_t i, int bf16) {
    return bf16 ? vload_bf16((const uint16_t *)w + i) : vload((const float *)w + i);
}

KERNEL vf wload_tail(const void *w, size_t i, int n, int bf16) {
    if (!bf16) return vload_m(vmask_first(n), (const float *)w + i);
    float t[VW];
    for (int l = 0; l < VW; l++) t[l] = l < n ? bf16_to_f32(((const uint16_t *)w)[i + l]) : 0.0f;
    return vload(t);
}

KERNEL float wget(const void *w, size_t i, int bf16) {
    return bf16 ? bf16_to_f32(((const uint16_t *)w)[i]) : ((const float *)w)[i];
}

/* y[j0 .. j1) += x[i] * w[i][j0 .. j1) for the four consecutive rows i of
 * w (n wide), as one fused chain per output in i order. */
KERNEL void fold4(float *y, const void *w, size_t n, const float *x, int j0, int j1, int bf16) {
    vf x0 = vset1(x[0]), x1 = vset1(x[1]), x2 = vset1(x[2]), x3 = vset1(x[3]);
    int j = j0;
    for (; j + VW <= j1; j += VW) {
        vf acc = vload(y + j);
        acc = vfma(x0, wload(w, (size_t)j, bf16), acc);
        acc = vfma(x1, wload(w, n + j, bf16), acc);
        acc = vfma(x2, wload(w, 2 * n + j, bf16), acc);
        acc = vfma(x3, wload(w, 3 * n + j, bf16), acc);
        vstore(y + j, acc);
    }
    if (j < j1) {
        int left = j1 - j;
        vmask m = vmask_first(left);
        vf acc = vload_m(m, y + j);
        acc = vfma(x0, wload_tail(w, (size_t)j, left, bf16), acc);
        acc = vfma(x1, wload_tail(w, n + j, left, bf16), acc);
        acc = vfma(x2, wload_tail(w, 2 * n + j, left, bf16), acc);
        acc = vfma(x3, wload_tail(w, 3 * n + j, left, bf16), acc);
        vstore_m(y + j, m, acc);
    }
}

/* Columns [j0, j1) of y = b + x @ W. Rows are streamed in full contiguous
 * runs (one thread's slice of a row) so the hardware prefetcher sees long
 * sequential reads; the slice of y being accumulated (at most 12 KB for
 * GPT-2's 3072-wide layers) stays in L1, and four rows are folded in per
 * pass so y is loaded and stored once per four weight rows. */
KERNEL void matvec_cols_w(float *y, const float *x, const void *W, const float *b, int k, int n, int j0, int j1,
                          int bf16) {
    if (b) memcpy(y + j0, b + j0, (size_t)(j1 - j0) * sizeof(float));
    else memset(y + j0, 0, (size_t)(j1 - j0) * sizeof(float));
    int i = 0;
    for (; i + 4 <= k; i += 4)
        fold4(y,
              bf16 ? (const void *)((const uint16_t *)W + (size_t)i * n)
                   : (const void *)((const float *)W + (size_t)i * n),
              (size_t)n, x + i, j0, j1, bf16);
    for (; i < k; i++)
        for (int j = j0; j < j1; j++) y[j] = fmaf(x[i], wget(W, (size_t)i * n + j, bf16), y[j]);
}

static void matvec_cols(float *y, const float *x, const float *W, const uint16_t *Wh, const float *b, int k, int n,
                        int j0, int j1) {
    if (Wh) matvec_cols_w(y, x, Wh, b, k, n, j0, j1, 1);
    else matvec_cols_w(y, x, W, b, k, n, j0, j1, 0);
}

static void matvec_in_out(float *y, const float *x, const float *W, const uint16_t *Wh, const float *b, int k, int n) {
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
        if (j0 < j1) matvec_cols(y, x, W, Wh, b, k, n, j0, j1);
    }
}

void kern_matvec_in_out(float *y, const float *x, const float *W, const float *b, int k, int n) {
    matvec_in_out(y, x, W, NULL, b, k, n);
}

/* The dot product every caller uses (attention scores, the LM head), so
 * a value never depends on which kernel computed it. Two accumulators
 * hide the FMA latency; the order is fixed. a is the weight row. */
KERNEL float dot_w(const void *a, const float *x, int k, int bf16) {
    vf acc0 = vzero(), acc1 = vzero();
    int i = 0;
    for (; i + 2 * VW <= k; i += 2 * VW) {
        acc0 = vfma(wload(a, (size_t)i, bf16), vload(x + i), acc0);
        acc1 = vfma(wload(a, (size_t)i + VW, bf16), vload(x + i + VW), acc1);
    }
    for (; i + VW <= k; i += VW) acc0 = vfma(wload(a, (size_t)i, bf16), vload(x + i), acc0);
    if (i < k) acc1 = vfma(wload_tail(a, (size_t)i, k - i, bf16), vload_m(vmask_first(k - i), x + i), acc1);
    return vsum(vadd(acc0, acc1));
}

float kern_dot(const float *a, const float *b, int n) { return dot_w(a, b, n, 0); }

static void matvec_out_in(float *y, const float *x, const float *W, const uint16_t *Wh, int n, int k) {
    int par = (long)k * n >= PAR_MIN_WEIGHTS;
#pragma omp parallel for schedule(static) if (par)
    for (int r = 0; r < n; r++) y[r] = Wh ? dot_w(Wh + (size_t)r * k, x, k, 1) : dot_w(W + (size_t)r * k, x, k, 0);
}

void kern_matvec_out_in(float *y, const float *x, const float *W, int n, int k) { matvec_out_in(y, x, W, NULL, n, k); }

/* dot_w() of one weight row against four inputs at once: eight
 * independent accumulators instead of two keep the FMA units busy, and
 * each of the four results goes through exactly dot_w()'s operations in
 * dot_w()'s order. */
KERNEL void dot4_w(const void *a, const float *const x[4], int k, float out[4], int bf16) {
    vf acc0[4], acc1[4];
    for (int t = 0; t < 4; t++) acc0[t] = acc1[t] = vzero();
    int i = 0;
    for (; i + 2 * VW <= k; i += 2 * VW) {
        vf a0 = wload(a, (size_t)i, bf16), a1 = wload(a, (size_t)i + VW, bf16);
        for (int t = 0; t < 4; t++) {
            acc0[t] = vfma(a0, vload(x[t] + i), acc0[t]);
            acc1[t] = vfma(a1, vload(x[t] + i + VW), acc1[t]);
        }
    }
    for (; i + VW <= k; i += VW) {
        vf a0 = wload(a, (size_t)i, bf16);
        for (int t = 0; t < 4; t++) acc0[t] = vfma(a0, vload(x[t] + i), acc0[t]);
    }
    if (i < k) {
        vmask m = vmask_first(k - i);
        vf a0 = wload_tail(a, (size_t)i, k - i, bf16);
        for (int t = 0; t < 4; t++) acc1[t] = vfma(a0, vload_m(m, x[t] + i), acc1[t]);
    }
    for (int t = 0; t < 4; t++) out[t] = vsum(vadd(acc0[t], acc1[t]));
}

static void matmul_rows_out_in(float *Y, const float *X, const float *W, const uint16_t *Wh, int T, int n, int k) {
    if (T == 1) {
        matvec_out_in(Y, X, W, Wh, n, k);
        return;
    }
    /* Weight rows outermost: one row (a few KB) stays in L1 while all T
     * inputs pass it, so the matrix is read from memory once per call. */
#pragma omp parallel for schedule(static)
    for (int r = 0; r < n; r++) {
        const float *w = W ? W + (size_t)r * k : NULL;
        const uint16_t *wh = Wh ? Wh + (size_t)r * k : NULL;
        int t = 0;
        for (; t + 4 <= T; t += 4) {
            const float *x[4] = {X + (size_t)t * k, X + (size_t)(t + 1) * k, X + (size_t)(t + 2) * k,
                                 X + (size_t)(t + 3) * k};
            float out[4];
            if (wh) dot4_w(wh, x, k, out, 1);
            else dot4_w(w, x, k, out, 0);
            for (int j = 0; j < 4; j++) Y[(size_t)(t + j) * n + r] = out[j];
        }
        for (; t < T; t++)
            Y[(size_t)t * n + r] = wh ? dot_w(wh, X + (size_t)t * k, k, 1) : dot_w(w, X + (size_t)t * k, k, 0);
    }
}

void kern_matmul_rows_out_in(float *Y, const float *X, const float *W, int T, int n, int k) {
    matmul_rows_out_in(Y, X, W, NULL, T, n, k);
}

void kern_matmul_rows_out_in_bf16(float *Y, const float *X, const uint16_t *W, int T, int n, int k) {
    matmul_rows_out_in(Y, X, NULL, W, T, n, k);
}

/* The batched product, blocked as a GEMM is (Goto's scheme): the thread's
 * columns go in chunks of up to MM_NC, the inputs in blocks of kc rows
 * (as many as keep the panel within MM_PANEL floats, L2-sized); each
 * [kc, nc] block of W is copied once into a contiguous panel (runs of nc
 * floats per weight row: sequential enough for the prefetcher, and no TLB
 * misses in the inner loop), and a register tile of MM_ROWS rows x MM_VECS
 * vectors of Y multiplies it for every row group of X. Each output is still the single fused chain over i that the
 * matrix-vector kernel computes: blocking only changes which outputs are
 * in flight together, never the order of any one output's arithmetic
 * (partial sums are stored to Y and reloaded unchanged between blocks). */
#if VW == 8
#define MM_ROWS 6
#define MM_VECS 2
#else
#define MM_ROWS 4
#define MM_VECS 4
#endif
#define MM_COLS (MM_VECS * VW)
#define MM_NC 768
#define MM_PANEL (32 * 1024)

/* Y[t0 .. t0+R, j .. j+MM_COLS) += X[.., i0 .. i0+kc) @ panel, where panel
 * holds the matching [kc, MM_COLS] block of W row by row. */
static inline __attribute__((always_inline)) void tile_full(float *Y, const float *X, const float *panel, int R, int k,
                                                            int n, int t0, int j, int i0, int kc) {
    vf acc[MM_ROWS][MM_VECS];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < MM_VECS; v++) acc[r][v] = vload(Y + (size_t)(t0 + r) * n + j + VW * v);
    const float *x = X + (size_t)t0 * k + i0;
    for (int i = 0; i < kc; i++) {
        const float *w = panel + (size_t)i * MM_COLS;
        vf wv[MM_VECS];
        for (int v = 0; v < MM_VECS; v++) wv[v] = vload(w + VW * v);
        for (int r = 0; r < R; r++) {
            vf xb = vset1(x[(size_t)r * k + i]);
            for (int v = 0; v < MM_VECS; v++) acc[r][v] = vfma(xb, wv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int v = 0; v < MM_VECS; v++) vstore(Y + (size_t)(t0 + r) * n + j + VW * v, acc[r][v]);
}

/* The same for a tile narrower than MM_COLS (the end of a row), one
 * vector at a time, masked; the panel is still MM_COLS wide. */
static void tile_narrow(float *Y, const float *X, const float *panel, int R, int k, int n, int t0, int j, int width,
                        int i0, int kc) {
    const float *x = X + (size_t)t0 * k + i0;
    for (int c = 0; c < width; c += VW) {
        vmask m = vmask_first(width - c < VW ? width - c : VW);
        vf acc[MM_ROWS];
        for (int r = 0; r < R; r++) acc[r] = vload_m(m, Y + (size_t)(t0 + r) * n + j + c);
        for (int i = 0; i < kc; i++) {
            vf wv = vload(panel + (size_t)i * MM_COLS + c);
            for (int r = 0; r < R; r++) acc[r] = vfma(vset1(x[(size_t)r * k + i]), wv, acc[r]);
        }
        for (int r = 0; r < R; r++) vstore_m(Y + (size_t)(t0 + r) * n + j + c, m, acc[r]);
    }
}

/* One row group; the switch gives the compiler a constant R to unroll and
 * keep the tile in registers. */
static void tile_rows(float *Y, const float *X, const float *panel, int R, int k, int n, int t0, int j, int i0,
                      int kc) {
    switch (R) {
#if MM_ROWS >= 6
    case 6: tile_full(Y, X, panel, 6, k, n, t0, j, i0, kc); break;
    case 5: tile_full(Y, X, panel, 5, k, n, t0, j, i0, kc); break;
#endif
    case 4: tile_full(Y, X, panel, 4, k, n, t0, j, i0, kc); break;
    case 3: tile_full(Y, X, panel, 3, k, n, t0, j, i0, kc); break;
    case 2: tile_full(Y, X, panel, 2, k, n, t0, j, i0, kc); break;
    default: tile_full(Y, X, panel, 1, k, n, t0, j, i0, kc); break;
    }
}

/* Copies W[i0 .. i0+kc, jc .. jc+nc) into panel as consecutive tiles of
 * [kc, MM_COLS] (the last tile zero-padded); bf16 weights (Wh) are
 * widened on the way, so the tiles below never see them. */
KERNEL void pack_panel_w(float *panel, const void *W, int n, int i0, int kc, int jc, int nc, int bf16) {
    for (int i = 0; i < kc; i++) {
        size_t src = (size_t)(i0 + i) * n + jc; /* one contiguous run per weight row */
        for (int c = 0; c < nc; c += MM_COLS) {
            float *dst = panel + (size_t)c * kc + (size_t)i * MM_COLS;
            int w = nc - c < MM_COLS ? nc - c : MM_COLS;
            if (w == MM_COLS) {
                for (int v = 0; v < MM_COLS; v += VW) vstore(dst + v, wload(W, src + c + v, bf16));
            } else {
                for (int v = 0; v < MM_COLS; v++) dst[v] = v < w ? wget(W, src + c + v, bf16) : 0.0f;
            }
        }
    }
}

static void pack_panel(float *panel, const float *W, const uint16_t *Wh, int n, int i0, int kc, int jc, int nc) {
    if (Wh) pack_panel_w(panel, Wh, n, i0, kc, jc, nc, 1);
    else pack_panel_w(panel, W, n, i0, kc, jc, nc, 0);
}

/* Columns [j0, j1) of all T rows, Y already holding the bias. */
static void matmul_cols(float *Y, const float *X, const float *W, const uint16_t *Wh, int T, int k, int n, int j0,
                        int j1) {
    _Alignas(64) float panel[MM_PANEL];
    for (int jc = j0; jc < j1; jc += MM_NC) {
        int nc = j1 - jc < MM_NC ? j1 - jc : MM_NC;
        int ncp = (nc + MM_COLS - 1) / MM_COLS * MM_COLS; /* padded to whole tiles */
        int kc_max = MM_PANEL / ncp;
        for (int i0 = 0; i0 < k; i0 += kc_max) {
            int kc = k - i0 < kc_max ? k - i0 : kc_max;
            pack_panel(panel, W, Wh, n, i0, kc, jc, nc);
            for (int c = 0; c < nc; c += MM_COLS) {
                const float *tile = panel + (size_t)c * kc;
                int width = nc - c < MM_COLS ? nc - c : MM_COLS;
                for (int t0 = 0; t0 < T; t0 += MM_ROWS) {
                    int R = T - t0 < MM_ROWS ? T - t0 : MM_ROWS;
                    if (width < MM_COLS) tile_narrow(Y, X, tile, R, k, n, t0, jc + c, width, i0, kc);
                    else tile_rows(Y, X, tile, R, k, n, t0, jc + c, i0, kc);
                }
            }
        }
    }
}

static void matmul_rows_in_out(float *Y, const float *X, const float *W, const uint16_t *Wh, const float *b, int T,
                               int k, int n) {
    if (T == 1) {
        matvec_in_out(Y, X, W, Wh, b, k, n);
        return;
    }
    int par = (long)T * k * n >= PAR_MIN_WEIGHTS;
#pragma omp parallel if (par)
    {
        /* Whole tiles per thread: no shared cache lines of Y. */
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int tiles = (n + MM_COLS - 1) / MM_COLS;
        int j0 = (int)((long)tiles * id / nt) * MM_COLS;
        int j1 = (int)((long)tiles * (id + 1) / nt) * MM_COLS;
        if (j1 > n) j1 = n;
        if (j0 < j1) {
            for (int t = 0; t < T; t++) {
                float *y = Y + (size_t)t * n;
                if (b) memcpy(y + j0, b + j0, (size_t)(j1 - j0) * sizeof(float));
                else memset(y + j0, 0, (size_t)(j1 - j0) * sizeof(float));
            }
            matmul_cols(Y, X, W, Wh, T, k, n, j0, j1);
        }
    }
}

void kern_matmul_rows_in_out(float *Y, const float *X, const float *W, const float *b, int T, int k, int n) {
    matmul_rows_in_out(Y, X, W, NULL, b, T, k, n);
}

void kern_matmul_rows_in_out_bf16(float *Y, const float *X, const uint16_t *W, const float *b, int T, int k, int n) {
    matmul_rows_in_out(Y, X, NULL, W, b, T, k, n);
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

/* Elementwise work is split over the team only when there is enough of
 * it (a batch of rows); a split never changes a value. */
#define PAR_MIN_ELEMS 32768

void kern_layernorm_rows(float *out, const float *x, const float *w, const float *b, int rows, int n, float eps) {
#pragma omp parallel for schedule(static) if ((long)rows * n >= PAR_MIN_ELEMS)
    for (int r = 0; r < rows; r++) kern_layernorm(out + (size_t)r * n, x + (size_t)r * n, w, b, n, eps);
}

void kern_gelu(float *x, int n) {
    const float s = 0.7978845608028654f; /* sqrt(2/pi) */
#pragma omp parallel for schedule(static) if (n >= PAR_MIN_ELEMS)
    for (int i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(s * (v + 0.044715f * v * v * v)));
    }
}

void kern_add(float *x, const float *y, int n) {
#pragma omp parallel for schedule(static) if (n >= 4 * PAR_MIN_ELEMS)
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
