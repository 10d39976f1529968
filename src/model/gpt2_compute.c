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

/* A bf16 unit runs the head's [128, V] x [V, C] products well below its
 * speed on larger ones; 256 rows run near it and keep the chunk at
 * 6 B x 256 x V (77 MB at V = 50257). fp32 keeps 128, and its numbers. */
#define HEAD_ROWS_BF16 256

static size_t head_rows(size_t N) { return N < HEAD_ROWS ? N : HEAD_ROWS; }
static size_t head_rows_bf16(size_t N) { return N < HEAD_ROWS_BF16 ? N : HEAD_ROWS_BF16; }

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

/* The bf16 buffers, in this order: the activations stored as bits (their
 * floats left untouched), then the head's chunk and the gradients. */
enum { B16_LN1, B16_QKV, B16_ATTY, B16_LN2, B16_FCH_GELU, B16_LNF, B16_HEAD, B16_DRES, B16_DBIG, B16_COUNT };

static void bf16_sizes(const Gpt2Config *cfg, int B, int T, size_t n[B16_COUNT]) {
    size_t L = (size_t)cfg->n_layer, C = (size_t)cfg->n_embd, N = (size_t)B * T;
    n[B16_LN1] = n[B16_ATTY] = n[B16_LN2] = L * N * C;
    n[B16_QKV] = L * N * 3 * C;
    n[B16_FCH_GELU] = L * N * 4 * C;
    n[B16_LNF] = n[B16_DRES] = N * C;
    n[B16_HEAD] = head_rows_bf16(N) * cfg->vocab_size;
    n[B16_DBIG] = N * 4 * C;
}

size_t gpt2_acts_bytes(const Gpt2Config *cfg, int B, int T, ComputePrecision prec) {
    size_t floats = gpt2_acts_floats(cfg, B, T);
    if (prec != COMPUTE_BF16) return floats * sizeof(float);
    size_t n[B16_COUNT], bits = attention_scratch16(T), untouched = head_rows((size_t)B * T) * cfg->vocab_size;
    bf16_sizes(cfg, B, T, n);
    for (int i = 0; i < B16_COUNT; i++) bits += n[i];
    for (int i = 0; i <= B16_LNF; i++) untouched += n[i];
    return (floats - untouched + n[B16_HEAD]) * sizeof(float) + bits * sizeof(uint16_t); /* + head_bf16 */
}

void gpt2_acts_set_precision(Gpt2Acts *a, const Gpt2Config *cfg, ComputePrecision prec) {
    a->prec = prec;
    if (prec != COMPUTE_BF16 || a->buf16) return;
    size_t n[B16_COUNT], total = 0;
    bf16_sizes(cfg, a->B, a->T, n);
    for (int i = 0; i < B16_COUNT; i++) total += n[i];
    uint16_t *p = a->buf16 = xmalloc(total * sizeof(uint16_t));
    uint16_t **field[B16_COUNT] = {&a->ln1_16, &a->qkv16,  &a->atty16, &a->ln2_16, &a->fch_gelu16,
                                   &a->lnf16,  &a->head16, &a->dres16, &a->dbig16};
    for (int i = 0; i < B16_COUNT; i++) *field[i] = p, p += n[i];
    a->head_bf16 = xmalloc(n[B16_HEAD] * sizeof(float));
    a->datt16 = xmalloc(attention_scratch16(a->T) * sizeof(uint16_t));
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

/* A weight matrix as a product's operand. */
static Operand weight(const Gpt2Model *m, const Gpt2Acts *a, const float *p) {
    return (Operand){p, bf16_twin(m, a, p)};
}

/* A stored operand at element off: its floats in fp32 mode, its bits in
 * bf16 mode. */
static Operand saved(const Gpt2Acts *a, const float *f32, const uint16_t *bits, size_t off) {
    return a->prec == COMPUTE_BF16 ? (Operand){NULL, bits + off} : (Operand){f32 + off, NULL};
}

/* Where an activation that only feeds products is written: its floats
 * in fp32 mode (floats_at), its bits in bf16 mode (bits_at); the other
 * is NULL. */
static float *floats_at(const Gpt2Acts *a, float *f32, size_t off) {
    return a->prec == COMPUTE_BF16 ? NULL : f32 + off;
}

static uint16_t *bits_at(const Gpt2Acts *a, uint16_t *bits, size_t off) {
    return a->prec == COMPUTE_BF16 ? bits + off : NULL;
}

/* A gradient as a product's operand: in bf16 mode converted into bits
 * (the fp32 gradient stays as it is). */
static Operand grad_operand(const Gpt2Acts *a, const float *g, uint16_t *bits, size_t n) {
    if (a->prec != COMPUTE_BF16) return (Operand){g, NULL};
    bf16_from_f32_array(bits, g, n);
    return (Operand){NULL, bits};
}

void gpt2_acts_destroy(Gpt2Acts *a) {
    free(a->buf);
    free(a->buf16);
    free(a->datt16);
    free(a->head_bf16);
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
        float *att = a->att + (size_t)l * B * H * T * T;
        float *res2 = a->res2 + l * NC, *fch = a->fch + l * NC * 4, *res3 = a->res3 + l * NC;
        const float *wqkv = w->qkvw + (size_t)l * C * 3 * C, *wproj = w->attprojw + (size_t)l * C * C;
        const float *wfc = w->fcw + (size_t)l * C * 4 * C, *wfcproj = w->fcprojw + (size_t)l * 4 * C * C;
        layernorm_forward(floats_at(a, a->ln1, l * NC), bits_at(a, a->ln1_16, l * NC), a->ln1_mean + (size_t)l * N,
                          a->ln1_rstd + (size_t)l * N, x, w->ln1w + l * C, w->ln1b + l * C, N, C, cfg->ln_eps);
        Operand ln1 = saved(a, a->ln1, a->ln1_16, l * NC);
        if (pr == COMPUTE_BF16) /* q, k, v only feed attention's products: straight to bits */
            gemm_bf16_to_bf16(0, 0, N, 3 * C, C, ln1.bf16, C, bf16_twin(m, a, wqkv), 3 * C, w->qkvb + (size_t)l * 3 * C,
                              a->qkv16 + l * NC * 3, 3 * C);
        else
            matmul_forward(pr, a->qkv + l * NC * 3, ln1, weight(m, a, wqkv), w->qkvb + (size_t)l * 3 * C, N, C, 3 * C,
                           0);
        Operand qkv = saved(a, a->qkv, a->qkv16, l * NC * 3);
        /* attention's output goes through dbig into bits in bf16 mode */
        attention_forward(pr, pr == COMPUTE_BF16 ? a->dbig : a->atty + l * NC, att, a->datt16, qkv, B, T, C, H);
        if (pr == COMPUTE_BF16) bf16_from_f32_array(a->atty16 + l * NC, a->dbig, NC);
        Operand atty = saved(a, a->atty, a->atty16, l * NC);
        memcpy(res2, x, NC * sizeof(float));
        matmul_forward(pr, res2, atty, weight(m, a, wproj), w->attprojb + l * C, N, C, C, 1);
        layernorm_forward(floats_at(a, a->ln2, l * NC), bits_at(a, a->ln2_16, l * NC), a->ln2_mean + (size_t)l * N,
                          a->ln2_rstd + (size_t)l * N, res2, w->ln2w + l * C, w->ln2b + l * C, N, C, cfg->ln_eps);
        Operand ln2 = saved(a, a->ln2, a->ln2_16, l * NC);
        matmul_forward(pr, fch, ln2, weight(m, a, wfc), w->fcb + (size_t)l * 4 * C, N, C, 4 * C, 0);
        if (pr == COMPUTE_BF16) gelu_forward_bf16(a->fch_gelu16 + l * NC * 4, fch, NC * 4);
        else gelu_forward(a->fch_gelu + l * NC * 4, fch, NC * 4);
        Operand fchg = saved(a, a->fch_gelu, a->fch_gelu16, l * NC * 4);
        memcpy(res3, res2, NC * sizeof(float));
        matmul_forward(pr, res3, fchg, weight(m, a, wfcproj), w->fcprojb + l * C, N, 4 * C, C, 1);
    }
    layernorm_forward(floats_at(a, a->lnf, 0), bits_at(a, a->lnf16, 0), a->lnf_mean, a->lnf_rstd,
                      a->res3 + (size_t)(L - 1) * NC, w->lnfw, w->lnfb, N, C, cfg->ln_eps);
}

/* The LM head and the mean cross-entropy over the unmasked targets, a
 * chunk of rows at a time. With g (and some target unmasked), each chunk's
 * logits become d(grad_scale * loss)/dlogits in place, and go straight on
 * to dlnf (into a->dsmall) and to g->wte; *has_grads says whether they did. */
static float head_loss(const Gpt2Model *m, Gpt2Acts *a, const int32_t *targets, float grad_scale, Gpt2Params *g,
                       int *has_grads) {
    Operand wte = weight(m, a, m->params.wte);
    int C = m->cfg.n_embd, V = m->cfg.vocab_size, N = a->B * a->T;
    int count = 0;
    for (int n = 0; n < N; n++) count += targets[n] >= 0;
    float dscale = g && count > 0 ? grad_scale / (float)count : 0.0f;
    int bf16 = a->prec == COMPUTE_BF16, R = (int)(bf16 ? head_rows_bf16((size_t)N) : head_rows((size_t)N));
    float *head = bf16 ? a->head_bf16 : a->head;
    for (int r0 = 0; r0 < N; r0 += R) {
        int rn = N - r0 < R ? N - r0 : R;
        Operand lnf = saved(a, a->lnf, a->lnf16, (size_t)r0 * C);
        gemm_operands(a->prec, 0, 1, rn, V, C, 1.0f, lnf, C, wte, C, 0.0f, head, V);
        /* the logits' gradient: in place, or into bits in bf16 mode */
        crossentropy_forward_backward(head, bits_at(a, a->head16, 0), a->losses + r0, targets + r0, rn, V, dscale);
        if (!g || dscale == 0.0f) continue;
        Operand dlogits = saved(a, head, a->head16, 0);
        /* dlnf = dlogits @ wte, dwte += dlogits^T @ lnf */
        gemm_operands(a->prec, 0, 0, rn, C, V, 1.0f, dlogits, V, wte, C, 0.0f, a->dsmall + (size_t)r0 * C, C);
        gemm_operands(a->prec, 1, 0, V, C, rn, 1.0f, dlogits, V, lnf, C, 1.0f, g->wte, C);
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
    gemm_operands(a->prec, 0, 1, N, V, C, 1.0f, saved(a, a->lnf, a->lnf16, 0), C, weight(m, a, m->params.wte), C, 0.0f,
                  a->logits, V);
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
        float *att = a->att + (size_t)l * B * H * T * T;
        float *res2 = a->res2 + l * NC, *fch = a->fch + l * NC * 4;
        const float *wqkv = w->qkvw + (size_t)l * C * 3 * C, *wproj = w->attprojw + (size_t)l * C * C;
        const float *wfc = w->fcw + (size_t)l * C * 4 * C, *wfcproj = w->fcprojw + (size_t)l * 4 * C * C;
        /* MLP. In bf16 mode the residual gradient (fp32, still being
         * accumulated) goes into the products as a rounded copy. */
        Operand dres = grad_operand(a, a->dres, a->dres16, NC);
        matmul_backward(pr, a->dbig, g.fcprojw + (size_t)l * 4 * C * C, g.fcprojb + l * C, dres,
                        saved(a, a->fch_gelu, a->fch_gelu16, l * NC * 4), weight(m, a, wfcproj), N, 4 * C, C);
        if (pr == COMPUTE_BF16) gelu_backward_bf16(a->dbig16, fch, a->dbig, NC * 4);
        else gelu_backward(a->dbig, fch, a->dbig, NC * 4);
        Operand dfch = saved(a, a->dbig, a->dbig16, 0);
        matmul_backward(pr, a->dsmall, g.fcw + (size_t)l * C * 4 * C, g.fcb + (size_t)l * 4 * C, dfch,
                        saved(a, a->ln2, a->ln2_16, l * NC), weight(m, a, wfc), N, C, 4 * C);
        layernorm_backward(a->dres, g.ln2w + l * C, g.ln2b + l * C, a->dsmall, res2, w->ln2w + l * C,
                           a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, N, C);
        /* attention */
        dres = grad_operand(a, a->dres, a->dres16, NC);
        matmul_backward(pr, a->dsmall, g.attprojw + (size_t)l * C * C, g.attprojb + l * C, dres,
                        saved(a, a->atty, a->atty16, l * NC), weight(m, a, wproj), N, C, C);
        Operand datty = grad_operand(a, a->dsmall, a->dbig16, NC);
        attention_backward(pr, a->dbig, datty, saved(a, a->qkv, a->qkv16, l * NC * 3), att, a->datt, a->datt16, B, T, C,
                           H);
        Operand dqkv = grad_operand(a, a->dbig, a->dbig16, NC * 3);
        matmul_backward(pr, a->dsmall, g.qkvw + (size_t)l * C * 3 * C, g.qkvb + (size_t)l * 3 * C, dqkv,
                        saved(a, a->ln1, a->ln1_16, l * NC), weight(m, a, wqkv), N, C, 3 * C);
        layernorm_backward(a->dres, g.ln1w + l * C, g.ln1b + l * C, a->dsmall, x, w->ln1w + l * C,
                           a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, N, C);
        if (ready) ready(ctx, L - l);
    }
    encoder_backward(g.wte, g.wpe, a->dres, a->inputs, B, T, C, V);
    if (ready) ready(ctx, L + 1);
    return loss;
}
