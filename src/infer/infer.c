/* infer.c: the inference forward pass over a KV cache (see infer.h). */
#include "infer/infer.h"

#include "compute/bf16.h"
#include "compute/kernels.h"
#include "util/error.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

void infer_model_bind(InferModel *im, const Gpt2Model *m) {
    memset(im, 0, sizeof *im);
    im->cfg = m->cfg;
    im->layers = xcalloc((size_t)m->cfg.n_layer, sizeof(InferLayer));
    infer_model_point_small(im, m);
}

void infer_model_point_small(InferModel *im, const Gpt2Model *m) {
    const Gpt2Config *c = &m->cfg;
    const Gpt2Params *p = &m->params;
    int L = c->n_layer, C = c->n_embd;
    im->wpe = p->wpe;
    im->lnfw = p->lnfw;
    im->lnfb = p->lnfb;
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

int infer_bf16_kernel(void) {
    const char *v = getenv("CHIRP_BF16_TILES");
    if (!v || !*v) return tiles_available();
    if (strcmp(v, "0") == 0) return 0;
    if (strcmp(v, "1") != 0) return chirp_fail("CHIRP_BF16_TILES must be 0 or 1, got '%s'", v);
    if (!tiles_available())
        return chirp_fail("CHIRP_BF16_TILES=1, but this CPU (or this kernel) offers no AMX tiles to this process");
    return 1;
}

const char *infer_model_kernel(const InferModel *im) {
    if (im->quant == INFER_BF16) return im->tiles ? "bf16 (AMX tiles)" : "bf16 (widened to fp32)";
    return infer_quant_name(im->quant);
}

/* Layer l's four Conv1D matrices [in, out]: qkv, attn proj, mlp up, mlp
 * down. */
static void layer_matrices(const Gpt2Params *p, int l, int C, const float *src[4], int in[4], int out[4]) {
    src[0] = p->qkvw + (size_t)l * C * 3 * C, in[0] = C, out[0] = 3 * C;
    src[1] = p->attprojw + (size_t)l * C * C, in[1] = C, out[1] = C;
    src[2] = p->fcw + (size_t)l * C * 4 * C, in[2] = C, out[2] = 4 * C;
    src[3] = p->fcprojw + (size_t)l * 4 * C * C, in[3] = 4 * C, out[3] = C;
}

/* Every matrix rounded to bf16 and packed for the tiles, one at a time
 * through a scratch copy, so no second full bf16 copy of the model
 * exists at any point. */
static void pack_tiles(InferModel *im, const Gpt2Model *m) {
    const Gpt2Params *p = &m->params;
    int L = m->cfg.n_layer, C = m->cfg.n_embd, V = m->cfg.vocab_size;
    size_t most = (size_t)V * C > (size_t)4 * C * C ? (size_t)V * C : (size_t)4 * C * C;
    uint16_t *h = xmalloc(most * sizeof(uint16_t));
    for (int l = 0; l < L; l++) {
        InferLayer *ly = &im->layers[l];
        const float *src[4];
        int in[4], out[4];
        layer_matrices(p, l, C, src, in, out);
        TileMat *dst[4] = {&ly->tqkv, &ly->tattproj, &ly->tfc, &ly->tfcproj};
        for (int j = 0; j < 4; j++) {
            bf16_from_f32_array(h, src[j], (size_t)in[j] * out[j]);
            tilemat_pack_in_out(dst[j], h, in[j], out[j]);
        }
    }
    bf16_from_f32_array(h, p->wte, (size_t)V * C);
    tilemat_pack_out_in(&im->twte, h, V, C);
    free(h);
    im->tiles = 1;
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
        if (quant == INFER_BF16) {
            continue; /* below, in one allocation */
        } else if (quant == INFER_F32) {
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
    if (quant == INFER_BF16) {
        int tiles = infer_bf16_kernel();
        if (tiles < 0) {
            infer_model_destroy(im);
            return -1;
        }
        if (tiles) {
            pack_tiles(im, m);
            return 0;
        }
        size_t mats = (size_t)L * 12 * C * C, V = (size_t)c->vocab_size;
        uint16_t *h = im->bf16 = xmalloc((mats + V * C) * sizeof(uint16_t));
        for (int l = 0; l < L; l++) {
            InferLayer *ly = &im->layers[l];
            const float *src[4];
            int in[4], out[4];
            layer_matrices(p, l, C, src, in, out);
            const uint16_t **dst[4] = {&ly->hqkvw, &ly->hattprojw, &ly->hfcw, &ly->hfcprojw};
            for (int j = 0; j < 4; j++) {
                bf16_from_f32_array(h, src[j], (size_t)in[j] * out[j]);
                *dst[j] = h;
                h += (size_t)in[j] * out[j];
            }
        }
        bf16_from_f32_array(h, p->wte, V * C);
        im->hwte = h;
        return 0;
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
            tilemat_destroy(&im->layers[l].tqkv);
            tilemat_destroy(&im->layers[l].tattproj);
            tilemat_destroy(&im->layers[l].tfc);
            tilemat_destroy(&im->layers[l].tfcproj);
        }
    }
    free(im->layers);
    free(im->bf16);
    qmat_destroy(&im->qwte);
    tilemat_destroy(&im->twte);
    if (im->fp32) {
        gpt2_free(im->fp32);
        free(im->fp32);
    }
    memset(im, 0, sizeof *im);
}

double infer_bytes_per_token(const InferModel *im) {
    const Gpt2Config *c = &im->cfg;
    double C = c->n_embd, L = c->n_layer, V = c->vocab_size;
    double mat = L * 12.0 * C * C + V * C; /* weights every token multiplies by */
    double small = L * 13.0 * C + 2.0 * C; /* biases and LayerNorms */
    if (im->quant == INFER_INT8) return mat * (1.0 + 4.0 / QBLOCK) + small * 4.0;
    if (im->quant == INFER_BF16) return mat * 2.0 + small * 4.0;
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
    return s;
}

void infer_state_free(InferState *s) {
    if (!s) return;
    free(s->k_cache);
    free(s->v_cache);
    free(s->logits);
    infer_scratch_free(s->scratch);
    free(s);
}

void infer_state_reset(InferState *s) { s->pos = 0; }

struct InferScratch {
    const InferModel *m;
    int cap_rows; /* rows the activation buffers hold */
    float *x, *xn, *qkv, *att, *h, *fc;
    int8_t *qx;             /* int8 activations */
    uint16_t *xh;           /* bf16 activations for the tiles (tile_matmul_scratch) */
    float *dx;              /* their block scales */
    float *scores;          /* [threads, n_ctx] attention scores */
    int *row_seq, *row_pos; /* each row's sequence and position */
    int cap_heads;          /* rows of the LM head buffers */
    float *head_x, *head_out;
};

InferScratch *infer_scratch_new(const InferModel *m) {
    InferScratch *s = xcalloc(1, sizeof *s);
    s->m = m;
    s->scores = xmalloc((size_t)omp_get_max_threads() * m->cfg.n_ctx * sizeof(float));
    return s;
}

static void free_row_buffers(InferScratch *s) {
    free(s->x);
    free(s->xn);
    free(s->qkv);
    free(s->att);
    free(s->h);
    free(s->fc);
    free(s->qx);
    free(s->xh);
    free(s->dx);
    free(s->row_seq);
    free(s->row_pos);
}

void infer_scratch_free(InferScratch *s) {
    if (!s) return;
    free_row_buffers(s);
    free(s->scores);
    free(s->head_x);
    free(s->head_out);
    free(s);
}

static void scratch_reserve(InferScratch *s, int rows, int heads) {
    int C = s->m->cfg.n_embd;
    if (rows > s->cap_rows) {
        size_t t = (size_t)rows;
        free_row_buffers(s);
        s->x = xmalloc(t * C * sizeof(float));
        s->xn = xmalloc(t * C * sizeof(float));
        s->qkv = xmalloc(t * 3 * C * sizeof(float));
        s->att = xmalloc(t * C * sizeof(float));
        s->h = xmalloc(t * C * sizeof(float));
        s->fc = xmalloc(t * 4 * C * sizeof(float));
        s->qx = xmalloc(t * 4 * C);
        s->xh = s->m->tiles ? xmalloc(tile_matmul_scratch(rows, 4 * C) * sizeof(uint16_t)) : NULL;
        s->dx = xmalloc(t * (4 * C / QBLOCK + 1) * sizeof(float));
        s->row_seq = xmalloc(t * sizeof(int));
        s->row_pos = xmalloc(t * sizeof(int));
        s->cap_rows = rows;
    }
    if (heads > s->cap_heads) {
        free(s->head_x);
        free(s->head_out);
        s->head_x = xmalloc((size_t)heads * C * sizeof(float));
        s->head_out = xmalloc((size_t)heads * s->m->cfg.vocab_size * sizeof(float));
        s->cap_heads = heads;
    }
}

/* out[T, n] = in[T, k] @ W + b, in fp32, bf16 or int8 as the model is.
 * Every path computes each row on its own (batch-invariant). */
static void linear(InferScratch *s, float *out, const float *in, const float *W, const uint16_t *Wh, const TileMat *tW,
                   const QMat *qW, const float *b, int T, int k, int n) {
    if (tW->pairs) {
        tile_matmul(out, in, tW, b, T, s->xh);
        return;
    }
    if (Wh) {
        kern_matmul_rows_in_out_bf16(out, in, Wh, b, T, k, n);
        return;
    }
    if (W) {
        kern_matmul_rows_in_out(out, in, W, b, T, k, n);
        return;
    }
    int nb = k / QBLOCK;
    for (int t = 0; t < T; t++) quant_q8_vec(in + (size_t)t * k, k, s->qx + (size_t)t * k, s->dx + (size_t)t * nb);
    qmat_matmul(out, s->qx, s->dx, qW, b, T);
}

/* Causal attention of every row against its own sequence's cache of layer
 * l, which already holds the rows' keys and values. */
static void attention(InferScratch *s, const InferSeq *seqs, int l, int rows) {
    const Gpt2Config *c = &s->m->cfg;
    int C = c->n_embd, H = c->n_head, hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
    long work = 0;
    for (int r = 0; r < rows; r++) work += (long)(s->row_pos[r] + 1) * C;
#pragma omp parallel for collapse(2) schedule(static) if (work > 32768)
    for (int r = 0; r < rows; r++) {
        for (int h = 0; h < H; h++) {
            const InferState *st = seqs[s->row_seq[r]].st;
            const float *kc = st->k_cache + (size_t)l * c->n_ctx * C;
            const float *vc = st->v_cache + (size_t)l * c->n_ctx * C;
            float *sc = s->scores + (size_t)omp_get_thread_num() * c->n_ctx;
            const float *q = s->qkv + (size_t)r * 3 * C + h * hs;
            int n = s->row_pos[r] + 1;
            for (int j = 0; j < n; j++) sc[j] = kern_dot(q, kc + (size_t)j * C + h * hs, hs) * scale;
            kern_softmax(sc, n);
            float *o = s->att + (size_t)r * C + h * hs;
            for (int i = 0; i < hs; i++) o[i] = 0.0f;
            for (int j = 0; j < n; j++) {
                const float *v = vc + (size_t)j * C + h * hs;
                float a = sc[j];
                for (int i = 0; i < hs; i++) o[i] += a * v[i];
            }
        }
    }
}

/* out[T, V] = logits of the T final-LayerNormed rows xn. */
static void lm_head(InferScratch *s, float *out, const float *xn, int T) {
    const InferModel *m = s->m;
    int C = m->cfg.n_embd, V = m->cfg.vocab_size;
    if (m->wte) {
        kern_matmul_rows_out_in(out, xn, m->wte, T, V, C);
        return;
    }
    if (m->hwte) {
        kern_matmul_rows_out_in_bf16(out, xn, m->hwte, T, V, C);
        return;
    }
    if (m->tiles) {
        tile_matmul(out, xn, &m->twte, NULL, T, s->xh);
        return;
    }
    for (int t = 0; t < T; t++)
        quant_q8_vec(xn + (size_t)t * C, C, s->qx + (size_t)t * C, s->dx + (size_t)t * (C / QBLOCK));
    qmat_matmul(out, s->qx, s->dx, &m->qwte, NULL, T);
}

static int check_seqs(const InferModel *m, const InferSeq *seqs, int nseq, int *rows) {
    const Gpt2Config *c = &m->cfg;
    *rows = 0;
    for (int i = 0; i < nseq; i++) {
        const InferSeq *q = &seqs[i];
        if (q->n <= 0) {
            chirp_fail("nothing to run: no tokens");
            return -1;
        }
        if (q->st->m != m) {
            chirp_fail("internal: a sequence of another model in the batch");
            return -1;
        }
        if (q->st->pos + q->n > c->n_ctx) {
            chirp_fail("sequence of %d tokens exceeds the model's context of %d", q->st->pos + q->n, c->n_ctx);
            return -1;
        }
        for (int t = 0; t < q->n; t++) {
            if (q->tokens[t] < 0 || q->tokens[t] >= c->vocab_size) {
                chirp_fail("token id %d out of range (vocabulary %d)", (int)q->tokens[t], c->vocab_size);
                return -1;
            }
        }
        for (int j = 0; j < i; j++) {
            if (seqs[j].st == q->st) {
                chirp_fail("internal: one state twice in a batch");
                return -1;
            }
        }
        *rows += q->n;
    }
    return 0;
}

int infer_forward(InferScratch *s, const InferSeq *seqs, int nseq) {
    const InferModel *m = s->m;
    const Gpt2Config *c = &m->cfg;
    int C = c->n_embd, L = c->n_layer, V = c->vocab_size;
    int R;
    if (check_seqs(m, seqs, nseq, &R) != 0) return -1;
    int heads = 0;
    for (int i = 0; i < nseq; i++) heads += seqs[i].want_logits && !seqs[i].all_logits;
    scratch_reserve(s, R, heads);
    for (int i = 0, r = 0; i < nseq; i++) {
        for (int t = 0; t < seqs[i].n; t++, r++) {
            s->row_seq[r] = i;
            s->row_pos[r] = seqs[i].st->pos + t;
        }
    }
    for (int r = 0; r < R; r++) {
        const InferSeq *q = &seqs[s->row_seq[r]];
        int32_t tok = q->tokens[s->row_pos[r] - q->st->pos];
        float *x = s->x + (size_t)r * C;
        if (m->wte) memcpy(x, m->wte + (size_t)tok * C, (size_t)C * sizeof(float));
        else if (m->hwte) bf16_to_f32_array(x, m->hwte + (size_t)tok * C, (size_t)C);
        else if (m->tiles) tilemat_column(&m->twte, tok, x);
        else qmat_dequant_row(&m->qwte, tok, x);
        kern_add(x, m->wpe + (size_t)s->row_pos[r] * C, C);
    }
    for (int l = 0; l < L; l++) {
        const InferLayer *ly = &m->layers[l];
        kern_layernorm_rows(s->xn, s->x, ly->ln1w, ly->ln1b, R, C, c->ln_eps);
        linear(s, s->qkv, s->xn, ly->qkvw, ly->hqkvw, &ly->tqkv, &ly->qqkv, ly->qkvb, R, C, 3 * C);
        for (int r = 0; r < R; r++) {
            InferState *st = seqs[s->row_seq[r]].st;
            size_t at = (size_t)l * c->n_ctx * C + (size_t)s->row_pos[r] * C;
            memcpy(st->k_cache + at, s->qkv + (size_t)r * 3 * C + C, (size_t)C * sizeof(float));
            memcpy(st->v_cache + at, s->qkv + (size_t)r * 3 * C + 2 * C, (size_t)C * sizeof(float));
        }
        attention(s, seqs, l, R);
        linear(s, s->h, s->att, ly->attprojw, ly->hattprojw, &ly->tattproj, &ly->qattproj, ly->attprojb, R, C, C);
        kern_add(s->x, s->h, R * C);
        kern_layernorm_rows(s->xn, s->x, ly->ln2w, ly->ln2b, R, C, c->ln_eps);
        linear(s, s->fc, s->xn, ly->fcw, ly->hfcw, &ly->tfc, &ly->qfc, ly->fcb, R, C, 4 * C);
        kern_gelu(s->fc, R * 4 * C);
        linear(s, s->h, s->fc, ly->fcprojw, ly->hfcprojw, &ly->tfcproj, &ly->qfcproj, ly->fcprojb, R, 4 * C, C);
        kern_add(s->x, s->h, R * C);
    }
    /* Logits: every row of a sequence that wants all of them; the last row
     * of the others, gathered so the LM head reads wte once for all. */
    int g = 0;
    for (int i = 0, r0 = 0; i < nseq; r0 += seqs[i].n, i++) {
        const InferSeq *q = &seqs[i];
        if (q->all_logits) {
            kern_layernorm_rows(s->xn, s->x + (size_t)r0 * C, m->lnfw, m->lnfb, q->n, C, c->ln_eps);
            lm_head(s, q->all_logits, s->xn, q->n);
            memcpy(q->st->logits, q->all_logits + (size_t)(q->n - 1) * V, (size_t)V * sizeof(float));
        } else if (q->want_logits) {
            kern_layernorm(s->head_x + (size_t)g * C, s->x + (size_t)(r0 + q->n - 1) * C, m->lnfw, m->lnfb, C,
                           c->ln_eps);
            g++;
        }
    }
    if (g > 0) {
        lm_head(s, s->head_out, s->head_x, g);
        g = 0;
        for (int i = 0; i < nseq; i++) {
            if (seqs[i].want_logits && !seqs[i].all_logits)
                memcpy(seqs[i].st->logits, s->head_out + (size_t)g++ * V, (size_t)V * sizeof(float));
        }
    }
    for (int i = 0; i < nseq; i++) seqs[i].st->pos += seqs[i].n;
    return 0;
}

const float *infer_prefill(InferState *s, const int32_t *tokens, int T, float *all_logits) {
    if (!s->scratch) s->scratch = infer_scratch_new(s->m);
    InferSeq q = {.st = s, .tokens = tokens, .n = T, .want_logits = 1, .all_logits = all_logits};
    if (infer_forward(s->scratch, &q, 1) != 0) return NULL;
    return s->logits;
}

const float *infer_step(InferState *s, int32_t token) { return infer_prefill(s, &token, 1, NULL); }
