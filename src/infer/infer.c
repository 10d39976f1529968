/* infer.c: the inference forward pass over a KV cache (see infer.h). */
#include "infer/infer.h"

#include "infer/kernels.h"
#include "util/error.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void infer_model_bind(InferModel *im, const Gpt2Model *m) {
    memset(im, 0, sizeof *im);
    const Gpt2Config *c = &m->cfg;
    const Gpt2Params *p = &m->params;
    int L = c->n_layer, C = c->n_embd;
    im->cfg = *c;
    im->wpe = p->wpe;
    im->lnfw = p->lnfw;
    im->lnfb = p->lnfb;
    im->layers = xcalloc((size_t)L, sizeof(InferLayer));
    for (int l = 0; l < L; l++) {
        InferLayer *ly = &im->layers[l];
        ly->ln1w = p->ln1w + (size_t)l * C;
        ly->ln1b = p->ln1b + (size_t)l * C;
        ly->qkvb = p->qkvb + (size_t)l * 3 * C;
        ly->attprojb = p->attprojb + (size_t)l * C;
        ly->ln2w = p->ln2w + (size_t)l * C;
        ly->ln2b = p->ln2b + (size_t)l * C;
        ly->fcb = p->fcb + (size_t)l * 4 * C;
        ly->fcprojb = p->fcprojb + (size_t)l * C;
    }
}

int infer_model_init(InferModel *im, const Gpt2Model *m, InferQuant quant) {
    const Gpt2Config *c = &m->cfg;
    const Gpt2Params *p = &m->params;
    int L = c->n_layer, C = c->n_embd;
    if (gpt2_config_check(c) != 0) return -1;
    infer_model_bind(im, m);
    im->quant = quant;
    for (int l = 0; l < L; l++) {
        InferLayer *ly = &im->layers[l];
        const float *qkvw = p->qkvw + (size_t)l * C * 3 * C;
        const float *attprojw = p->attprojw + (size_t)l * C * C;
        const float *fcw = p->fcw + (size_t)l * C * 4 * C;
        const float *fcprojw = p->fcprojw + (size_t)l * 4 * C * C;
        if (quant == INFER_F32) {
            ly->qkvw = qkvw;
            ly->attprojw = attprojw;
            ly->fcw = fcw;
            ly->fcprojw = fcprojw;
        } else if (qmat_from_in_out(&ly->qqkv, qkvw, C, 3 * C) != 0 ||
                   qmat_from_in_out(&ly->qattproj, attprojw, C, C) != 0 ||
                   qmat_from_in_out(&ly->qfc, fcw, C, 4 * C) != 0 ||
                   qmat_from_in_out(&ly->qfcproj, fcprojw, 4 * C, C) != 0) {
            infer_model_destroy(im);
            return -1;
        }
    }
    if (quant == INFER_F32) {
        im->wte = p->wte;
    } else if (qmat_from_out_in(&im->qwte, p->wte, c->vocab_size, C) != 0) {
        infer_model_destroy(im);
        return -1;
    }
    return 0;
}

void infer_model_destroy(InferModel *im) {
    if (im->layers) {
        for (int l = 0; l < im->cfg.n_layer; l++) {
            qmat_destroy(&im->layers[l].qqkv);
            qmat_destroy(&im->layers[l].qattproj);
            qmat_destroy(&im->layers[l].qfc);
            qmat_destroy(&im->layers[l].qfcproj);
        }
    }
    free(im->layers);
    qmat_destroy(&im->qwte);
    if (im->fp32) {
        gpt2_free(im->fp32);
        free(im->fp32);
    }
    memset(im, 0, sizeof *im);
}

double infer_bytes_per_token(const InferModel *im) {
    const Gpt2Config *c = &im->cfg;
    double C = c->n_embd, L = c->n_layer, V = c->vocab_size;
    double mat = L * 12.0 * C * C + V * C;  /* weights every token multiplies by */
    double small = L * 13.0 * C + 2.0 * C;  /* biases and LayerNorms */
    if (im->quant == INFER_INT8) return mat * (1.0 + 4.0 / QBLOCK) + small * 4.0;
    return mat * 4.0 + small * 4.0;
}

InferState *infer_state_new(const InferModel *m) {
    InferState *s = xcalloc(1, sizeof *s);
    const Gpt2Config *c = &m->cfg;
    size_t kv = (size_t)c->n_layer * c->n_ctx * c->n_embd;
    s->m = m;
    s->k_cache = xmalloc(kv * sizeof(float));
    s->v_cache = xmalloc(kv * sizeof(float));
    s->logits = xmalloc((size_t)c->vocab_size * sizeof(float));
    s->scores = xmalloc((size_t)omp_get_max_threads() * c->n_ctx * sizeof(float));
    return s;
}

/* The per-forward buffers, sized for cap_T tokens. */
static void free_token_buffers(InferState *s) {
    free(s->x);
    free(s->xn);
    free(s->qkv);
    free(s->att);
    free(s->h);
    free(s->fc);
    free(s->qx);
    free(s->dx);
}

static void state_reserve(InferState *s, int T) {
    if (T <= s->cap_T) return;
    int C = s->m->cfg.n_embd;
    size_t t = (size_t)T;
    free_token_buffers(s);
    s->x = xmalloc(t * C * sizeof(float));
    s->xn = xmalloc(t * C * sizeof(float));
    s->qkv = xmalloc(t * 3 * C * sizeof(float));
    s->att = xmalloc(t * C * sizeof(float));
    s->h = xmalloc(t * C * sizeof(float));
    s->fc = xmalloc(t * 4 * C * sizeof(float));
    s->qx = xmalloc(t * 4 * C);
    s->dx = xmalloc(t * (4 * C / QBLOCK + 1) * sizeof(float));
    s->cap_T = T;
}

void infer_state_free(InferState *s) {
    if (!s) return;
    free(s->k_cache);
    free(s->v_cache);
    free(s->logits);
    free(s->scores);
    free_token_buffers(s);
    free(s);
}

void infer_state_reset(InferState *s) { s->pos = 0; }

/* out[T, n] = in[T, k] @ W + b, in fp32 or int8 as the model is. */
static void linear(InferState *s, float *out, const float *in, const float *W, const QMat *qW, const float *b,
                   int T, int k, int n) {
    if (W) {
        if (T == 1) kern_matvec_in_out(out, in, W, b, k, n);
        else kern_matmul_in_out(out, in, W, b, T, k, n);
        return;
    }
    int nb = k / QBLOCK;
    for (int t = 0; t < T; t++) quant_q8_vec(in + (size_t)t * k, k, s->qx + (size_t)t * k, s->dx + (size_t)t * nb);
    qmat_matmul(out, s->qx, s->dx, qW, b, T);
}

/* Causal attention of T new positions (pos0 ..) against the cache of
 * layer l, which already holds their keys and values. */
static void attention(InferState *s, int l, int pos0, int T) {
    const Gpt2Config *c = &s->m->cfg;
    int C = c->n_embd, H = c->n_head, hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
    const float *kc = s->k_cache + (size_t)l * c->n_ctx * C;
    const float *vc = s->v_cache + (size_t)l * c->n_ctx * C;
    long work = (long)T * H * (pos0 + T) * hs;
#pragma omp parallel for collapse(2) schedule(static) if (work > 32768)
    for (int t = 0; t < T; t++) {
        for (int h = 0; h < H; h++) {
            float *sc = s->scores + (size_t)omp_get_thread_num() * c->n_ctx;
            const float *q = s->qkv + (size_t)t * 3 * C + h * hs;
            int n = pos0 + t + 1;
            for (int j = 0; j < n; j++) {
                sc[j] = kern_dot(q, kc + (size_t)j * C + h * hs, hs) * scale;
            }
            kern_softmax(sc, n);
            float *o = s->att + (size_t)t * C + h * hs;
            for (int i = 0; i < hs; i++) o[i] = 0.0f;
            for (int j = 0; j < n; j++) {
                const float *v = vc + (size_t)j * C + h * hs;
                float a = sc[j];
                for (int i = 0; i < hs; i++) o[i] += a * v[i];
            }
        }
    }
}

static void lm_head(InferState *s, float *out, const float *xn, int T) {
    const InferModel *m = s->m;
    int C = m->cfg.n_embd, V = m->cfg.vocab_size;
    if (m->wte) {
        if (T == 1) kern_matvec_out_in(out, xn, m->wte, V, C);
        else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, V, C, 1.0f, xn, C, m->wte, C, 0.0f, out, V);
        return;
    }
    for (int t = 0; t < T; t++)
        quant_q8_vec(xn + (size_t)t * C, C, s->qx + (size_t)t * C, s->dx + (size_t)t * (C / QBLOCK));
    qmat_matmul(out, s->qx, s->dx, &m->qwte, NULL, T);
}

const float *infer_prefill(InferState *s, const int32_t *tokens, int T, float *all_logits) {
    const InferModel *m = s->m;
    const Gpt2Config *c = &m->cfg;
    int C = c->n_embd, L = c->n_layer, V = c->vocab_size;
    int pos0 = s->pos;
    if (T <= 0) {
        chirp_fail("nothing to run: no tokens");
        return NULL;
    }
    if (pos0 + T > c->n_ctx) {
        chirp_fail("sequence of %d tokens exceeds the model's context of %d", pos0 + T, c->n_ctx);
        return NULL;
    }
    for (int t = 0; t < T; t++) {
        if (tokens[t] < 0 || tokens[t] >= V) {
            chirp_fail("token id %d out of range (vocabulary %d)", (int)tokens[t], V);
            return NULL;
        }
    }
    state_reserve(s, T);
    for (int t = 0; t < T; t++) {
        float *x = s->x + (size_t)t * C;
        if (m->wte) memcpy(x, m->wte + (size_t)tokens[t] * C, (size_t)C * sizeof(float));
        else qmat_dequant_row(&m->qwte, tokens[t], x);
        kern_add(x, m->wpe + (size_t)(pos0 + t) * C, C);
    }
    for (int l = 0; l < L; l++) {
        const InferLayer *ly = &m->layers[l];
        float *kc = s->k_cache + (size_t)l * c->n_ctx * C;
        float *vc = s->v_cache + (size_t)l * c->n_ctx * C;
        for (int t = 0; t < T; t++)
            kern_layernorm(s->xn + (size_t)t * C, s->x + (size_t)t * C, ly->ln1w, ly->ln1b, C, c->ln_eps);
        linear(s, s->qkv, s->xn, ly->qkvw, &ly->qqkv, ly->qkvb, T, C, 3 * C);
        for (int t = 0; t < T; t++) {
            memcpy(kc + (size_t)(pos0 + t) * C, s->qkv + (size_t)t * 3 * C + C, (size_t)C * sizeof(float));
            memcpy(vc + (size_t)(pos0 + t) * C, s->qkv + (size_t)t * 3 * C + 2 * C, (size_t)C * sizeof(float));
        }
        attention(s, l, pos0, T);
        linear(s, s->h, s->att, ly->attprojw, &ly->qattproj, ly->attprojb, T, C, C);
        kern_add(s->x, s->h, T * C);
        for (int t = 0; t < T; t++)
            kern_layernorm(s->xn + (size_t)t * C, s->x + (size_t)t * C, ly->ln2w, ly->ln2b, C, c->ln_eps);
        linear(s, s->fc, s->xn, ly->fcw, &ly->qfc, ly->fcb, T, C, 4 * C);
        kern_gelu(s->fc, T * 4 * C);
        linear(s, s->h, s->fc, ly->fcprojw, &ly->qfcproj, ly->fcprojb, T, 4 * C, C);
        kern_add(s->x, s->h, T * C);
    }
    s->pos = pos0 + T;
    if (all_logits) {
        for (int t = 0; t < T; t++)
            kern_layernorm(s->xn + (size_t)t * C, s->x + (size_t)t * C, m->lnfw, m->lnfb, C, c->ln_eps);
        lm_head(s, all_logits, s->xn, T);
        memcpy(s->logits, all_logits + (size_t)(T - 1) * V, (size_t)V * sizeof(float));
    } else {
        kern_layernorm(s->xn, s->x + (size_t)(T - 1) * C, m->lnfw, m->lnfb, C, c->ln_eps);
        lm_head(s, s->logits, s->xn, 1);
    }
    return s->logits;
}

const float *infer_step(InferState *s, int32_t token) { return infer_prefill(s, &token, 1, NULL); }
