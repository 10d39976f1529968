/* gpt2_compute.c: GPT-2 forward and backward (see gpt2_compute.h). */
#include "model/gpt2_compute.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/bf16.h"
#include "model/ops.h"
#include "util/error.h"

/* The LM head and its cross-entropy run this many rows at a time, fused
 * with their backward, so only [HEAD_ROWS, V] logits ever exist (25 MB at
 * V = 50257) rather than [B*T, V] (411 MB at B8 T256). */
#define HEAD_ROWS 128

static size_t head_rows(size_t N) { return N < HEAD_ROWS ? N : HEAD_ROWS; }

size_t gpt2_acts_floats(const Gpt2Config *cfg, int B, int T) {
    size_t L = (size_t)cfg->n_layer, C = (size_t)cfg->n_embd, H = (size_t)cfg->n_head, V = (size_t)cfg->vocab_size;
    size_t N = (size_t)B * T;
    size_t fwd = N * C                   /* encoded */
                 + L * (N * C + 2 * N)   /* ln1 */
                 + L * N * 3 * C         /* qkv */
                 + L * B * H * T * T     /* att */
                 + L * N * C * 2         /* atty, res2 */
                 + L * (N * C + 2 * N)   /* ln2 */
                 + L * N * 4 * C * 2     /* fch, fch_gelu */
                 + L * N * C             /* res3 */
                 + N * C + 2 * N         /* lnf */
                 + head_rows(N) * V + N; /* one chunk of logits, losses */
    size_t bwd = N * C * 2 + N * 4 * C + attention_scratch_floats(T);
    return fwd + bwd;
}

int gpt2_acts_init(Gpt2Acts *a, const Gpt2Config *cfg, int B, int T) {
    memset(a, 0, sizeof *a);
    if (T > cfg->n_ctx) return chirp_fail("sequence length %d exceeds the model's context %d", T, cfg->n_ctx);
    if (B < 1 || T < 1) return chirp_fail("batch and sequence length must be positive");
    size_t L = (size_t)cfg->n_layer, C = (size_t)cfg->n_embd, H = (size_t)cfg->n_head, V = (size_t)cfg->vocab_size;
    size_t N = (size_t)B * T;
    a->B = B;
    a->T = T;
    a->num_floats = gpt2_acts_floats(cfg, B, T);
    /* malloc, not calloc: every buffer is written before it is read, and
     * untouched pages never cost RSS. */
    a->buf = xmalloc(a->num_floats * sizeof(float));
    float *p = a->buf;
#define TAKE(field, n) (a->field = p, p += (n))
    TAKE(encoded, N * C);
    TAKE(ln1, L * N * C);
    TAKE(ln1_mean, L * N);
    TAKE(ln1_rstd, L * N);
    TAKE(qkv, L * N * 3 * C);
    TAKE(att, L * B * H * T * T);
    TAKE(atty, L * N * C);
    TAKE(res2, L * N * C);
    TAKE(ln2, L * N * C);
    TAKE(ln2_mean, L * N);
    TAKE(ln2_rstd, L * N);
    TAKE(fch, L * N * 4 * C);
    TAKE(fch_gelu, L * N * 4 * C);
    TAKE(res3, L * N * C);
    TAKE(lnf, N * C);
    TAKE(lnf_mean, N);
    TAKE(lnf_rstd, N);
    TAKE(head, head_rows(N) * V);
    TAKE(losses, N);
    TAKE(dres, N * C);
    TAKE(dsmall, N * C);
    TAKE(dbig, N * 4 * C);
    TAKE(datt, attention_scratch_floats(T));
#undef TAKE
    a->inputs = xmalloc(N * sizeof(int32_t));
    a->targets = xmalloc(N * sizeof(int32_t));
    return 0;
}

void gpt2_acts_set_precision(Gpt2Acts *a, const Gpt2Config *cfg, ComputePrecision prec) {
    a->prec = prec;
    if (prec == COMPUTE_BF16 && !a->dres_bf16) {
        a->dres_bf16 = xmalloc((size_t)a->B * a->T * cfg->n_embd * sizeof(float));
        a->datt_bf16 = xmalloc(attention_scratch_floats(a->T) * sizeof(float));
    }
}

/* The bf16 copy of the parameters at p (a pointer into param_buf): what
 * the matrix products read in bf16 mode; NULL in fp32 mode. */
static const uint16_t *bf16_twin(const Gpt2Model *m, const Gpt2Acts *a, const float *p) {
    if (a->prec != COMPUTE_BF16) return NULL;
    if (!m->param_bf16) {
        fprintf(stderr, "chirp: internal error: bf16 products without the model's bf16 weights\n");
        abort();
    }
    return m->param_bf16 + (p - m->param_buf);
}

/* In bf16 mode, a matrix product's operand is rounded where it is made;
 * these buffers feed nothing but matrix products. */
static void to_bf16(const Gpt2Acts *a, float *x, size_t n) {
    if (a->prec == COMPUTE_BF16) bf16_round_array(x, x, n);
}

void gpt2_acts_destroy(Gpt2Acts *a) {
    free(a->buf);
    free(a->dres_bf16);
    free(a->datt_bf16);
    free(a->logits);
    free(a->inputs);
    free(a->targets);
    memset(a, 0, sizeof *a);
}

/* Embeddings, the L blocks and the final LayerNorm: everything up to lnf. */
static void forward_body(const Gpt2Model *m, Gpt2Acts *a, const int32_t *inputs) {
    const Gpt2Config *cfg = &m->cfg;
    const Gpt2Params *w = &m->params;
    ComputePrecision pr = a->prec;
    int B = a->B, T = a->T, C = cfg->n_embd, H = cfg->n_head, L = cfg->n_layer;
    int N = B * T;
    size_t NC = (size_t)N * C;
    memcpy(a->inputs, inputs, (size_t)N * sizeof(int32_t));
    encoder_forward(a->encoded, inputs, w->wte, w->wpe, B, T, C);
    for (int l = 0; l < L; l++) {
        const float *x = l == 0 ? a->encoded : a->res3 + (size_t)(l - 1) * NC;
        float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * NC * 3, *atty = a->atty + l * NC;
        float *att = a->att + (size_t)l * B * H * T * T;
        float *res2 = a->res2 + l * NC, *ln2 = a->ln2 + l * NC;
        float *fch = a->fch + l * NC * 4, *fchg = a->fch_gelu + l * NC * 4, *res3 = a->res3 + l * NC;
        const float *wqkv = w->qkvw + (size_t)l * C * 3 * C, *wproj = w->attprojw + (size_t)l * C * C;
        const float *wfc = w->fcw + (size_t)l * C * 4 * C, *wfcproj = w->fcprojw + (size_t)l * 4 * C * C;
        layernorm_forward(ln1, a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, x, w->ln1w + l * C,
                          w->ln1b + l * C, N, C, cfg->ln_eps);
        to_bf16(a, ln1, NC);
        matmul_forward(pr, qkv, ln1, wqkv, bf16_twin(m, a, wqkv), w->qkvb + (size_t)l * 3 * C, N, C, 3 * C, 0);
        to_bf16(a, qkv, NC * 3);
        attention_forward(pr, atty, att, a->datt, qkv, B, T, C, H);
        to_bf16(a, atty, NC);
        memcpy(res2, x, NC * sizeof(float));
        matmul_forward(pr, res2, atty, wproj, bf16_twin(m, a, wproj), w->attprojb + l * C, N, C, C, 1);
        layernorm_forward(ln2, a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, res2, w->ln2w + l * C,
                          w->ln2b + l * C, N, C, cfg->ln_eps);
        to_bf16(a, ln2, NC);
        matmul_forward(pr, fch, ln2, wfc, bf16_twin(m, a, wfc), w->fcb + (size_t)l * 4 * C, N, C, 4 * C, 0);
        gelu_forward(fchg, fch, NC * 4);
        to_bf16(a, fchg, NC * 4);
        memcpy(res3, res2, NC * sizeof(float));
        matmul_forward(pr, res3, fchg, wfcproj, bf16_twin(m, a, wfcproj), w->fcprojb + l * C, N, 4 * C, C, 1);
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->res3 + (size_t)(L - 1) * NC, w->lnfw, w->lnfb, N, C,
                      cfg->ln_eps);
    to_bf16(a, a->lnf, NC);
}

/* The LM head and the mean cross-entropy over the unmasked targets, a
 * chunk of rows at a time. With g (and some target unmasked), each chunk's
 * logits become d(grad_scale * loss)/dlogits in place, and go straight on
 * to dlnf (into a->dsmall) and to g->wte; *has_grads says whether they did. */
static float head_loss(const Gpt2Model *m, Gpt2Acts *a, const int32_t *targets, float grad_scale, Gpt2Params *g,
                       int *has_grads) {
    const float *wte = m->params.wte;
    const uint16_t *wte16 = bf16_twin(m, a, wte);
    int C = m->cfg.n_embd, V = m->cfg.vocab_size, N = a->B * a->T;
    int count = 0;
    for (int n = 0; n < N; n++) count += targets[n] >= 0;
    float dscale = g && count > 0 ? grad_scale / (float)count : 0.0f;
    int R = (int)head_rows((size_t)N);
    for (int r0 = 0; r0 < N; r0 += R) {
        int rn = N - r0 < R ? N - r0 : R;
        const float *lnf = a->lnf + (size_t)r0 * C;
        gemm_weights(a->prec, 0, 1, rn, V, C, lnf, C, wte, wte16, C, 0.0f, a->head, V);
        crossentropy_forward_backward(a->head, a->losses + r0, targets + r0, rn, V, dscale);
        if (!g || dscale == 0.0f) continue;
        to_bf16(a, a->head, (size_t)rn * V);
        /* dlnf = dlogits @ wte, dwte += dlogits^T @ lnf */
        gemm_weights(a->prec, 0, 0, rn, C, V, a->head, V, wte, wte16, C, 0.0f, a->dsmall + (size_t)r0 * C, C);
        gemm(a->prec, 1, 0, V, C, rn, 1.0f, a->head, V, lnf, C, 1.0f, g->wte, C);
    }
    if (has_grads) *has_grads = dscale != 0.0f;
    /* Mean in double, then one rounding: within an ulp of torch's mean. */
    double s = 0.0;
    for (int n = 0; n < N; n++) s += a->losses[n];
    return count > 0 ? (float)(s / count) : 0.0f;
}

float gpt2_forward(const Gpt2Model *m, Gpt2Acts *a, const int32_t *inputs, const int32_t *targets) {
    forward_body(m, a, inputs);
    if (targets) return head_loss(m, a, targets, 0.0f, NULL, NULL);
    /* Logits wanted: the whole [B*T, V], allocated on first use. */
    int C = m->cfg.n_embd, V = m->cfg.vocab_size, N = a->B * a->T;
    if (!a->logits) a->logits = xmalloc((size_t)N * V * sizeof(float));
    gemm_weights(a->prec, 0, 1, N, V, C, a->lnf, C, m->params.wte, bf16_twin(m, a, m->params.wte), C, 0.0f, a->logits,
                 V);
    return 0.0f;
}

int gpt2_grad_groups(const Gpt2Config *cfg) { return cfg->n_layer + 2; }

int gpt2_grad_group_ranges(const Gpt2Config *cfg, int g, size_t off[12], size_t len[12]) {
    size_t s[GPT2_NUM_PARAM_TENSORS], start[GPT2_NUM_PARAM_TENSORS], o = 0;
    gpt2_param_sizes(cfg, s);
    for (int k = 0; k < GPT2_NUM_PARAM_TENSORS; k++) {
        start[k] = o;
        o += s[k];
    }
    int L = cfg->n_layer, n = 0;
    if (g == 0) {
        for (int k = 14; k <= 15; k++) off[n] = start[k], len[n++] = s[k];
    } else if (g == L + 1) {
        for (int k = 0; k <= 1; k++) off[n] = start[k], len[n++] = s[k];
    } else if (g >= 1 && g <= L) {
        /* Tensors 2..13 hold every layer's slice back to back. */
        size_t l = (size_t)(L - g);
        for (int k = 2; k <= 13; k++) {
            size_t per = s[k] / (size_t)L;
            off[n] = start[k] + l * per;
            len[n++] = per;
        }
    }
    return n;
}

float gpt2_forward_backward(const Gpt2Model *m, Gpt2Acts *a, const int32_t *inputs, const int32_t *targets,
                            float grad_scale, float *grads, Gpt2GradReady ready, void *ctx) {
    const Gpt2Config *cfg = &m->cfg;
    const Gpt2Params *w = &m->params;
    ComputePrecision pr = a->prec;
    Gpt2Params g;
    gpt2_params_bind(&g, cfg, grads);
    int B = a->B, T = a->T, C = cfg->n_embd, H = cfg->n_head, V = cfg->vocab_size, L = cfg->n_layer;
    int N = B * T;
    size_t NC = (size_t)N * C;
    forward_body(m, a, inputs);
    int has_grads = 0;
    float loss = head_loss(m, a, targets, grad_scale, &g, &has_grads); /* leaves dlnf in a->dsmall */
    if (!has_grads) {
        /* Nothing to add (every target masked): every group is final as is. */
        for (int gi = 0; ready && gi < L + 2; gi++) ready(ctx, gi);
        return loss;
    }
    memset(a->dres, 0, NC * sizeof(float));
    layernorm_backward(a->dres, g.lnfw, g.lnfb, a->dsmall, a->res3 + (size_t)(L - 1) * NC, w->lnfw, a->lnf_mean,
                       a->lnf_rstd, N, C);
    if (ready) ready(ctx, 0);
    for (int l = L - 1; l >= 0; l--) {
        const float *x = l == 0 ? a->encoded : a->res3 + (size_t)(l - 1) * NC;
        float *ln1 = a->ln1 + l * NC, *qkv = a->qkv + l * NC * 3, *atty = a->atty + l * NC;
        float *att = a->att + (size_t)l * B * H * T * T;
        float *res2 = a->res2 + l * NC, *ln2 = a->ln2 + l * NC;
        float *fch = a->fch + l * NC * 4, *fchg = a->fch_gelu + l * NC * 4;
        const float *wqkv = w->qkvw + (size_t)l * C * 3 * C, *wproj = w->attprojw + (size_t)l * C * C;
        const float *wfc = w->fcw + (size_t)l * C * 4 * C, *wfcproj = w->fcprojw + (size_t)l * 4 * C * C;
        /* MLP. In bf16 mode the residual gradient (fp32, still being
         * accumulated) goes into the products as a rounded copy. */
        const float *dres = a->dres;
        if (pr == COMPUTE_BF16) bf16_round_array(a->dres_bf16, a->dres, NC), dres = a->dres_bf16;
        matmul_backward(pr, a->dbig, g.fcprojw + (size_t)l * 4 * C * C, g.fcprojb + l * C, dres, fchg, wfcproj,
                        bf16_twin(m, a, wfcproj), N, 4 * C, C);
        gelu_backward(a->dbig, fch, a->dbig, NC * 4);
        to_bf16(a, a->dbig, NC * 4);
        matmul_backward(pr, a->dsmall, g.fcw + (size_t)l * C * 4 * C, g.fcb + (size_t)l * 4 * C, a->dbig, ln2, wfc,
                        bf16_twin(m, a, wfc), N, C, 4 * C);
        layernorm_backward(a->dres, g.ln2w + l * C, g.ln2b + l * C, a->dsmall, res2, w->ln2w + l * C,
                           a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, N, C);
        /* attention */
        if (pr == COMPUTE_BF16) bf16_round_array(a->dres_bf16, a->dres, NC);
        matmul_backward(pr, a->dsmall, g.attprojw + (size_t)l * C * C, g.attprojb + l * C, dres, atty, wproj,
                        bf16_twin(m, a, wproj), N, C, C);
        to_bf16(a, a->dsmall, NC);
        attention_backward(pr, a->dbig, a->dsmall, qkv, att, a->datt, a->datt_bf16, B, T, C, H);
        to_bf16(a, a->dbig, NC * 3);
        matmul_backward(pr, a->dsmall, g.qkvw + (size_t)l * C * 3 * C, g.qkvb + (size_t)l * 3 * C, a->dbig, ln1, wqkv,
                        bf16_twin(m, a, wqkv), N, C, 3 * C);
        layernorm_backward(a->dres, g.ln1w + l * C, g.ln1b + l * C, a->dsmall, x, w->ln1w + l * C,
                           a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, N, C);
        if (ready) ready(ctx, L - l);
    }
    encoder_backward(g.wte, g.wpe, a->dres, a->inputs, B, T, C, V);
    if (ready) ready(ctx, L + 1);
    return loss;
}
