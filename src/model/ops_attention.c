/* ops_attention.c: causal multi-head self-attention, forward and backward.
 *
 * Each (batch, head) pair is independent: threads take pairs, and within a
 * pair the four products (Q K^T, P V and their backward counterparts) are
 * single-threaded sgemm calls (OpenBLAS runs one thread inside an OpenMP
 * parallel region). The T x T score matrix is computed in full and the
 * upper triangle ignored: simpler than triangular blocking, and attention
 * is a few percent of GPT-2's FLOPs at the context lengths trained here.
 *
 * In bf16 mode q, k, v (and dO) arrive rounded; the probabilities P and
 * the score gradient dS are rounded on their way into a product (P into
 * a scratch copy, since the softmax backward needs P in fp32); the softmax
 * and its backward stay fp32, as under torch.autocast. */
#include <math.h>
#include <omp.h>
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

size_t attention_scratch_floats(int T) { return (size_t)omp_get_max_threads() * (size_t)T * (size_t)T; }

void attention_forward(ComputePrecision prec, float *out, float *att, float *scratch, const float *qkv, int B, int T,
                       int C, int H) {
    int hs = C / H;
    /* HF divides the scores by sqrt(head size); for the usual power-of-4
     * head sizes this multiply is the same operation exactly. */
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            const float *q = qkv + (size_t)b * T * 3 * C + (size_t)h * hs;
            const float *k = q + C, *v = q + 2 * C;
            float *p = att + ((size_t)b * H + h) * T * T;
            gemm(prec, 0, 1, T, T, hs, scale, q, 3 * C, k, 3 * C, 0.0f, p, T);
            for (int t = 0; t < T; t++) {
                float *row = p + (size_t)t * T;
                float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
                for (int j = 0; j <= t; j++) mx = row[j] > mx ? row[j] : mx;
                float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                for (int j = 0; j <= t; j++) {
                    row[j] = fm_expf(row[j] - mx);
                    sum += row[j];
                }
                float inv = 1.0f / sum;
                for (int j = 0; j <= t; j++) row[j] *= inv;
                for (int j = t + 1; j < T; j++) row[j] = 0.0f;
            }
            const float *pv = p;
            if (prec == COMPUTE_BF16) {
                float *pr = scratch + (size_t)omp_get_thread_num() * T * T;
                for (size_t i = 0; i < (size_t)T * T; i++) pr[i] = bf16_round(p[i]);
                pv = pr;
            }
            gemm(prec, 0, 0, T, hs, T, 1.0f, pv, T, v, 3 * C, 0.0f, out + (size_t)b * T * C + (size_t)h * hs, C);
        }
    }
}

void attention_backward(ComputePrecision prec, float *dqkv, const float *dout, const float *qkv, const float *att,
                        float *scratch, float *scratch_bf16, int B, int T, int C, int H) {
    int hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            float *dp = scratch + (size_t)omp_get_thread_num() * T * T;
            const float *q = qkv + (size_t)b * T * 3 * C + (size_t)h * hs;
            const float *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + (size_t)b * T * 3 * C + (size_t)h * hs;
            float *dk = dq + C, *dv = dq + 2 * C;
            const float *p = att + ((size_t)b * H + h) * T * T;
            const float *dO = dout + (size_t)b * T * C + (size_t)h * hs;
            /* dP = dO V^T ; dV = P^T dO */
            gemm(prec, 0, 1, T, T, hs, 1.0f, dO, C, v, 3 * C, 0.0f, dp, T);
            const float *pv = p;
            if (prec == COMPUTE_BF16) {
                float *pr = scratch_bf16 + (size_t)omp_get_thread_num() * T * T;
                for (size_t i = 0; i < (size_t)T * T; i++) pr[i] = bf16_round(p[i]);
                pv = pr;
            }
            gemm(prec, 1, 0, T, hs, T, 1.0f, pv, T, dO, C, 0.0f, dv, 3 * C);
            /* softmax backward: dS = P * (dP - sum_j P dP), times the score scale */
            for (int t = 0; t < T; t++) {
                const float *pr = p + (size_t)t * T;
                float *dr = dp + (size_t)t * T;
                float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int j = 0; j <= t; j++) dot += pr[j] * dr[j];
                for (int j = 0; j <= t; j++) dr[j] = pr[j] * (dr[j] - dot) * scale;
                for (int j = t + 1; j < T; j++) dr[j] = 0.0f;
            }
            if (prec == COMPUTE_BF16)
                for (size_t i = 0; i < (size_t)T * T; i++) dp[i] = bf16_round(dp[i]);
            /* dQ = dS K ; dK = dS^T Q */
            gemm(prec, 0, 0, T, hs, T, 1.0f, dp, T, k, 3 * C, 0.0f, dq, 3 * C);
            gemm(prec, 1, 0, T, hs, T, 1.0f, dp, T, q, 3 * C, 0.0f, dk, 3 * C);
        }
    }
}
