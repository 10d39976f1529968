/* adamw.c: AdamW and gradient clipping (see adamw.h).
 *
 * Float contraction is off so that a*b + c rounds twice, as in PyTorch's
 * scalar path; gcc already does this under -std=c11, clang needs the pragma. */
#pragma STDC FP_CONTRACT OFF
#include "train/adamw.h"

/* `omp simd` is a request; at -O1 (sanitizer and fuzz builds) clang
 * declines it and would warn, which -Werror turns into an error. */
#ifdef __clang__
#pragma clang diagnostic ignored "-Wpass-failed"
#endif

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "compute/bf16.h"
#include "util/error.h"

void adamw_init(AdamW *o, size_t num_params, double beta1, double beta2, double eps, double weight_decay) {
    adamw_init_range(o, num_params, 0, num_params, beta1, beta2, eps, weight_decay);
}

void adamw_init_range(AdamW *o, size_t num_params, size_t lo, size_t hi, double beta1, double beta2, double eps,
                      double weight_decay) {
    memset(o, 0, sizeof *o);
    o->num_params = num_params;
    o->lo = lo;
    o->hi = hi;
    o->m = xcalloc(2 * (hi - lo) + 1, sizeof(float));
    o->v = o->m + (hi - lo);
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = weight_decay;
}

void adamw_destroy(AdamW *o) {
    free(o->m);
    memset(o, 0, sizeof *o);
}

void grad_sq_chunks(const float *grads, size_t lo, size_t hi, double *partial) {
    size_t c0 = lo / GRAD_NORM_CHUNK, c1 = (hi + GRAD_NORM_CHUNK - 1) / GRAD_NORM_CHUNK;
#pragma omp parallel for schedule(static)
    for (size_t c = c0; c < c1; c++) {
        size_t a = c * GRAD_NORM_CHUNK, b = a + GRAD_NORM_CHUNK < hi ? a + GRAD_NORM_CHUNK : hi;
        /* Eight running sums, so the loop is not one chain of dependent
         * adds; added up in a fixed order, so the result does not depend
         * on the machine's vector width. */
        double lane[8] = {0};
        size_t i = a;
        for (; i + 8 <= b; i += 8)
            for (int k = 0; k < 8; k++) lane[k] += (double)grads[i + k] * grads[i + k];
        double s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
        for (; i < b; i++) s += (double)grads[i] * grads[i];
        partial[c] = s;
    }
}

float grad_norm_from_chunks(const double *partial, size_t nchunks) {
    double total = 0.0;
    for (size_t c = 0; c < nchunks; c++) total += partial[c];
    return (float)sqrt(total);
}

float grad_global_norm(const float *grads, size_t n) {
    size_t nchunks = (n + GRAD_NORM_CHUNK - 1) / GRAD_NORM_CHUNK;
    double *partial = xmalloc((nchunks + 1) * sizeof(double));
    grad_sq_chunks(grads, 0, n, partial);
    float norm = grad_norm_from_chunks(partial, nchunks);
    free(partial);
    return norm;
}

float grad_clip_coef(float norm, double max_norm) {
    if (max_norm <= 0) return 1.0f;
    /* torch: clip_coef = max_norm / (total_norm + 1e-6), where the division
     * is Tensor.__rtruediv__ = reciprocal() * max_norm, all in float. */
    float denom = norm + 1e-6f;
    float coef = (1.0f / denom) * (float)max_norm;
    return coef < 1.0f ? coef : 1.0f;
}

void grad_clip(float *grads, size_t n, float norm, double max_norm) {
    float coef = grad_clip_coef(norm, max_norm);
    if (coef == 1.0f) return;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) grads[i] *= coef;
}

/* lp, when not NULL, receives each new parameter rounded to bf16: the
 * bf16 weight copy costs no pass over memory of its own. */
static void update_range(float *p, uint16_t *lp, const float *g, float *m, float *v, size_t n, float gscale,
                         float decay, float b1, float omb1, float b2, float omb2, float bc2_sqrt, float eps,
                         float neg_step) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * gscale;                 /* clip_grad_norm_'s grad.mul_(coef); x1.0 is exact */
        float x = p[i] * decay;                   /* param.mul_(1 - lr*wd) */
        float mi = m[i] * b1 + omb1 * gi;         /* exp_avg.mul_(b1).add_(g, alpha=1-b1) */
        float vi = v[i] * b2 + omb2 * gi * gi;    /* exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2) */
        float denom = sqrtf(vi) / bc2_sqrt + eps; /* (exp_avg_sq.sqrt() / bc2_sqrt).add_(eps) */
        float pi = x + neg_step * mi / denom;     /* param.addcdiv_(exp_avg, denom, value=-step_size) */
        p[i] = pi;
        if (lp) lp[i] = bf16_from_f32(pi);
        m[i] = mi;
        v[i] = vi;
    }
}

void adamw_step(AdamW *o, const Gpt2Config *cfg, float *params, const float *grads, double lr) {
    adamw_step_scaled(o, cfg, params, grads, 1.0f, lr);
}

void adamw_step_scaled(AdamW *o, const Gpt2Config *cfg, float *params, const float *grads, float gscale, double lr) {
    o->t++;
    double bc1 = 1.0 - pow(o->beta1, (double)o->t);
    double bc2 = 1.0 - pow(o->beta2, (double)o->t);
    float neg_step = (float)(-(lr / bc1));
    float bc2_sqrt = (float)sqrt(bc2);
    float b1 = (float)o->beta1, omb1 = (float)(1.0 - o->beta1);
    float b2 = (float)o->beta2, omb2 = (float)(1.0 - o->beta2);
    float eps = (float)o->eps;
    float decay_on = (float)(1.0 - lr * o->weight_decay);
    size_t sizes[GPT2_NUM_PARAM_TENSORS], off = 0;
    gpt2_param_sizes(cfg, sizes);
    for (int k = 0; k < GPT2_NUM_PARAM_TENSORS; k++) {
        /* rank >= 2: wte, wpe, c_attn, attn c_proj, c_fc, mlp c_proj */
        int matrix = k == 0 || k == 1 || k == 4 || k == 6 || k == 10 || k == 12;
        /* torch multiplies by 1.0 for no-decay groups (wd = 0): exact, so skipping is identical */
        float decay = matrix ? decay_on : 1.0f;
        /* The part of tensor k this optimizer owns. */
        size_t a = off > o->lo ? off : o->lo, b = off + sizes[k] < o->hi ? off + sizes[k] : o->hi;
        if (a < b)
            update_range(params + a, o->bf16_copy ? o->bf16_copy + a : NULL, grads + a, o->m + (a - o->lo),
                         o->v + (a - o->lo), b - a, gscale, decay, b1, omb1, b2, omb2, bc2_sqrt, eps, neg_step);
        off += sizes[k];
    }
}
