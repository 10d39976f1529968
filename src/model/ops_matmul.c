/* ops_matmul.c: linear layers and the fused LM-head cross-entropy.
 *
 * Every matmul is one gemm() call over all B*T rows (compute/gemm.h), so
 * the backend runs its large-matrix kernel with its own threading.
 * Biases and residuals are fused into the GEMM by preloading C and using
 * beta = 1, which saves a full pass over the output. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "compute/bf16.h"
#include "compute/gemm.h"
#include "model/fastmath.h"
#include "model/ops.h"

/* `omp simd` is a request; at -O1 (sanitizer and fuzz builds) clang
 * declines it and would warn, which -Werror turns into an error. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

void gemm_operands(ComputePrecision prec, int trans_a, int trans_b, int M, int N, int K, float alpha, Operand A,
                   int lda, Operand B, int ldb, float beta, float *C, int ldc) {
    if (prec == COMPUTE_BF16) gemm_bf16(trans_a, trans_b, M, N, K, alpha, A.bf16, lda, B.bf16, ldb, NULL, beta, C, ldc);
    else gemm(COMPUTE_FP32, trans_a, trans_b, M, N, K, alpha, A.f32, lda, B.f32, ldb, beta, C, ldc);
}

void matmul_forward(ComputePrecision prec, float *out, Operand inp, Operand w, const float *b, int N, int IC, int OC,
                    int accumulate) {
    if (prec == COMPUTE_BF16) { /* the bias goes in as the product is written */
        gemm_bf16(0, 0, N, OC, IC, 1.0f, inp.bf16, IC, w.bf16, OC, b, accumulate ? 1.0f : 0.0f, out, OC);
        return;
    }
    if (b) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) {
            float *o = out + (size_t)n * OC;
            if (accumulate)
                for (int c = 0; c < OC; c++) o[c] += b[c];
            else memcpy(o, b, (size_t)OC * sizeof(float));
        }
    }
    float beta = (b || accumulate) ? 1.0f : 0.0f;
    gemm_operands(prec, 0, 0, N, OC, IC, 1.0f, inp, IC, w, OC, beta, out, OC);
}

void matmul_backward(ComputePrecision prec, float *dinp, float *dw, float *db, Operand dout, Operand inp, Operand w,
                     int N, int IC, int OC) {
    if (dinp) gemm_operands(prec, 0, 1, N, IC, OC, 1.0f, dout, OC, w, OC, 0.0f, dinp, IC);
    gemm_operands(prec, 1, 0, IC, OC, N, 1.0f, inp, IC, dout, OC, 1.0f, dw, OC);
    if (db) {
        /* Column sums: threads own column ranges; rows summed in order. */
#pragma omp parallel
        {
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
            int c0 = (int)((long)OC * id / nt), c1 = (int)((long)OC * (id + 1) / nt);
            for (int n = 0; n < N; n++) {
                if (prec == COMPUTE_BF16) {
                    const uint16_t *d = dout.bf16 + (size_t)n * OC;
                    for (int c = c0; c < c1; c++) db[c] += bf16_to_f32(d[c]);
                } else {
                    const float *d = dout.f32 + (size_t)n * OC;
                    for (int c = c0; c < c1; c++) db[c] += d[c];
                }
            }
        }
    }
}

void crossentropy_forward_backward(float *logits, uint16_t *dlogits16, float *losses, const int32_t *targets, int N,
                                   int V, float dscale) {
    /* One row per iteration; the reductions are explicit OpenMP simd
     * reductions because gcc/clang never reorder float sums on their own.
     * exp is computed once, in place, and rescaled into the gradient. */
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *l = logits + (size_t)n * V;
        int y = targets[n];
        float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
        for (int v = 0; v < V; v++) mx = l[v] > mx ? l[v] : mx;
        float ly = y >= 0 ? l[y] : 0.0f;
        float sum = 0.0f;
        if (dscale != 0.0f) {
#pragma omp simd reduction(+ : sum)
            for (int v = 0; v < V; v++) {
                float e = fm_expf(l[v] - mx);
                l[v] = e;
                sum += e;
            }
        } else {
#pragma omp simd reduction(+ : sum)
            for (int v = 0; v < V; v++) sum += fm_expf(l[v] - mx);
        }
        float lse = logf(sum);
        uint16_t *l16 = dlogits16 ? dlogits16 + (size_t)n * V : NULL;
        if (y < 0) {
            losses[n] = 0.0f;
            if (dscale != 0.0f && l16) memset(l16, 0, (size_t)V * sizeof(uint16_t));
            else if (dscale != 0.0f) memset(l, 0, (size_t)V * sizeof(float));
            continue;
        }
        /* PyTorch's log_softmax: x - max - log(sum exp(x - max)) */
        losses[n] = -((ly - mx) - lse);
        if (dscale != 0.0f) {
            float k = dscale / sum;
            if (l16) {
#pragma omp simd
                for (int v = 0; v < V; v++) l16[v] = bf16_from_f32(l[v] * k);
                l16[y] = bf16_from_f32(l[y] * k - dscale);
            } else {
#pragma omp simd
                for (int v = 0; v < V; v++) l[v] *= k;
                l[y] -= dscale;
            }
        }
    }
}
