/* ops_attention.c: causal multi-head self-attention, forward and backward.
 *
 * Each (batch, head) pair is independent: threads take pairs, and within a
 * pair the products (Q K^T, P V and their backward counterparts) run on
 * one thread: sgemm in fp32 (OpenBLAS runs one thread inside an OpenMP
 * parallel region), in bf16 the AMX kernel of compute/gemm_amx.c or
 * oneDNN. The T x T score matrix is computed in full and the
 * upper triangle ignored: simpler than triangular blocking, and attention
 * is a few percent of GPT-2's FLOPs at the context lengths trained here.
 *
 * In bf16 mode q, k, v (and dO) arrive as bf16 bits; the probabilities P
 * and the score gradient dS are rounded into per-thread bits on their way
 * into a product (P is kept in fp32 too: the softmax backward needs it);
 * the softmax and its backward stay fp32, as under torch.autocast. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "compute/bf16.h"
#include "model/fastmath.h"
#include "model/ops.h"

/* `omp simd` is a request; at -O1 (sanitizer and fuzz builds) clang
 * declines it and would warn, which -Werror turns into an error. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

size_t attention_scratch_floats(int T) { return (size_t)omp_get_max_threads() * (size_t)T * (size_t)T; }

size_t attention_scratch16(int T) { return 2 * attention_scratch_floats(T); }

/* This thread's two [T, T] bf16 scratch matrices. */
static uint16_t *thread_scratch16(uint16_t *scratch16, int T, int which) {
    return scratch16 + ((size_t)omp_get_thread_num() * 2 + (size_t)which) * T * T;
}

/* x [T, T] as a product's operand: itself in fp32 mode, its rounded bits
 * (written into bits) in bf16 mode. */
static Operand square_operand(ComputePrecision prec, const float *x, uint16_t *bits, int T) {
    if (prec != COMPUTE_BF16) return (Operand){x, NULL};
    for (size_t i = 0; i < (size_t)T * T; i++) bits[i] = bf16_from_f32(x[i]);
    return (Operand){NULL, bits};
}

void attention_forward(ComputePrecision prec, float *out, float *att, uint16_t *scratch16, Operand qkv, int B, int T,
                       int C, int H) {
    int hs = C / H;
    /* HF divides the scores by sqrt(head size); for the usual power-of-4
     * head sizes this multiply is the same operation exactly. */
    float scale = 1.0f / sqrtf((float)hs);
    /* oneDNN runs a scaled product on these strided operands several times
     * slower than an unscaled one, so bf16 applies the scale afterwards,
     * in the max pass (exactly the same for the usual power-of-4 sizes). */
    float alpha = prec == COMPUTE_BF16 ? 1.0f : scale, post = prec == COMPUTE_BF16 ? scale : 1.0f;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            Operand q = operand_at(qkv, (size_t)b * T * 3 * C + (size_t)h * hs);
            Operand k = operand_at(q, C), v = operand_at(q, 2 * (size_t)C);
            float *p = att + ((size_t)b * H + h) * T * T;
            gemm_operands(prec, 0, 1, T, T, hs, alpha, q, 3 * C, k, 3 * C, 0.0f, p, T);
            for (int t = 0; t < T; t++) {
                float *row = p + (size_t)t * T;
                float mx = -INFINITY;
                if (post != 1.0f)
                    for (int j = 0; j <= t; j++) row[j] *= post;
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
            Operand pv = square_operand(prec, p, thread_scratch16(scratch16, T, 0), T);
            gemm_operands(prec, 0, 0, T, hs, T, 1.0f, pv, T, v, 3 * C, 0.0f, out + (size_t)b * T * C + (size_t)h * hs,
                          C);
        }
    }
}

void attention_backward(ComputePrecision prec, float *dqkv, Operand dout, Operand qkv, const float *att, float *scratch,
                        uint16_t *scratch16, int B, int T, int C, int H) {
    int hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            float *dp = scratch + (size_t)omp_get_thread_num() * T * T;
            Operand q = operand_at(qkv, (size_t)b * T * 3 * C + (size_t)h * hs);
            Operand k = operand_at(q, C), v = operand_at(q, 2 * (size_t)C);
            float *dq = dqkv + (size_t)b * T * 3 * C + (size_t)h * hs;
            float *dk = dq + C, *dv = dq + 2 * C;
            const float *p = att + ((size_t)b * H + h) * T * T;
            Operand dO = operand_at(dout, (size_t)b * T * C + (size_t)h * hs);
            /* dP = dO V^T ; dV = P^T dO */
            gemm_operands(prec, 0, 1, T, T, hs, 1.0f, dO, C, v, 3 * C, 0.0f, dp, T);
            Operand pv = square_operand(prec, p, thread_scratch16(scratch16, T, 0), T);
            gemm_operands(prec, 1, 0, T, hs, T, 1.0f, pv, T, dO, C, 0.0f, dv, 3 * C);
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
            Operand ds = square_operand(prec, dp, thread_scratch16(scratch16, T, 1), T);
            /* dQ = dS K ; dK = dS^T Q */
            gemm_operands(prec, 0, 0, T, hs, T, 1.0f, ds, T, k, 3 * C, 0.0f, dq, 3 * C);
            gemm_operands(prec, 1, 0, T, hs, T, 1.0f, ds, T, q, 3 * C, 0.0f, dk, 3 * C);
        }
    }
}
