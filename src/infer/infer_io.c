/* infer_io.c: loading models for inference and the int8 model directory.
 *
 * An int8 directory is a Hugging Face-like directory whose config.json has
 * an extra "chirp_quantization": {"type": "int8", "block": 32} entry and
 * whose model.safetensors holds, for each matrix NAME (wte and every
 * Conv1D weight), NAME.qweight (I8, [out, in] -- transposed from Conv1D so
 * dot products run along rows) and NAME.qscale (F32, [out, in/32]); every
 * other tensor (wpe, LayerNorms, biases) stays F32 under its HF name. */
#include "infer/infer.h"

#include "model/llmc.h"
#include "model/safetensors.h"
#include "util/error.h"
#include "util/file.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HF names of the per-layer matrices, in InferLayer's q-field order. */
static const char *const layer_mats[4] = {"attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
                                          "mlp.c_proj.weight"};

static QMat *layer_qmat(InferLayer *ly, int i) {
    QMat *q[4] = {&ly->qqkv, &ly->qattproj, &ly->qfc, &ly->qfcproj};
    return q[i];
}

/* Whether dir/config.json has the string value at key (inside the object
 * named parent, when parent is not NULL). */
static int config_says(const char *dir, const char *parent, const char *key, const char *value) {
    char *path = path_join(dir, "config.json");
    json_t *root = json_load_file(path, 0, NULL);
    free(path);
    if (!root) return 0;
    json_t *obj = parent ? json_object_get(root, parent) : root;
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    int yes = json_is_string(v) && strcmp(json_string_value(v), value) == 0;
    json_decref(root);
    return yes;
}

int infer_dir_is_int8(const char *dir) { return config_says(dir, "chirp_quantization", "type", "int8"); }

int infer_dir_is_bf16(const char *dir) { return config_says(dir, NULL, "torch_dtype", "bfloat16"); }

const char *infer_quant_name(InferQuant q) { return q == INFER_INT8 ? "int8" : q == INFER_BF16 ? "bf16" : "fp32"; }

static int load_qmat(QMat *m, const StFile *f, const char *path, const char *name, int rows, int cols) {
    char qn[160], sn[160];
    snprintf(qn, sizeof qn, "%s.qweight", name);
    snprintf(sn, sizeof sn, "%s.qscale", name);
    const StTensor *q = st_find(f, qn), *d = st_find(f, sn);
    if (!q || !d) return chirp_fail("%s: int8 tensor %s is missing", path, q ? sn : qn);
    if (strcmp(q->dtype, "I8") != 0 || strcmp(d->dtype, "F32") != 0 || q->ndim != 2 || d->ndim != 2 ||
        q->shape[0] != rows || q->shape[1] != cols || d->shape[0] != rows || d->shape[1] != cols / QBLOCK)
        return chirp_fail("%s: %s: expected I8 [%d, %d] with F32 scales [%d, %d]", path, name, rows, cols, rows,
                          cols / QBLOCK);
    m->rows = rows;
    m->cols = cols;
    m->q = xmalloc(q->nbytes);
    m->d = xmalloc(d->nbytes);
    memcpy(m->q, q->data, q->nbytes);
    memcpy(m->d, d->data, d->nbytes);
    m->owned = 1;
    return 0;
}

/* Reads an int8 directory. The small fp32 tensors go into a Gpt2Model
 * whose big matrices are never touched (calloc'd pages that stay
 * unmapped), so the usual binding works unchanged. */
static int load_int8(InferModel *im, const char *dir) {
    char *cpath = path_join(dir, "config.json");
    Gpt2Config cfg;
    int rc = gpt2_config_load(&cfg, cpath);
    free(cpath);
    if (rc != 0) return -1;
    if (cfg.n_embd % QBLOCK != 0) return chirp_fail("%s: n_embd %d is not a multiple of %d", dir, cfg.n_embd, QBLOCK);
    char *wpath = path_join(dir, "model.safetensors");
    StFile f;
    if (st_open(&f, wpath) != 0) {
        free(wpath);
        return -1;
    }
    Gpt2Model *m = xcalloc(1, sizeof *m);
    m->cfg = cfg;
    m->num_params = gpt2_num_params(&cfg);
    m->param_buf = xcalloc(m->num_params, sizeof(float));
    gpt2_params_bind(&m->params, &cfg, m->param_buf);
    infer_model_bind(im, m);
    im->fp32 = m;
    im->quant = INFER_INT8;
    int C = cfg.n_embd;
    int n = gpt2_tensor_count(&cfg);
    for (int i = 0; i < n && rc == 0; i++) {
        Gpt2TensorInfo ti;
        gpt2_tensor_info(&cfg, i, &ti);
        int is_matrix = ti.ndim == 2 && strcmp(ti.name, "wpe.weight") != 0;
        if (is_matrix) continue;
        const StTensor *t = st_find(&f, ti.name);
        if (!t) rc = chirp_fail("%s: tensor %s is missing", wpath, ti.name);
        else if (strcmp(t->dtype, "F32") != 0 || st_numel(t) != ti.numel)
            rc = chirp_fail("%s: tensor %s: expected F32 with %zu values", wpath, ti.name, ti.numel);
        else memcpy(m->param_buf + ti.offset, t->data, ti.numel * sizeof(float));
    }
    if (rc == 0) rc = load_qmat(&im->qwte, &f, wpath, "wte.weight", cfg.vocab_size, C);
    for (int l = 0; l < cfg.n_layer && rc == 0; l++) {
        int rows[4] = {3 * C, C, 4 * C, C}, cols[4] = {C, C, C, 4 * C};
        for (int j = 0; j < 4 && rc == 0; j++) {
            char name[128];
            snprintf(name, sizeof name, "h.%d.%s", l, layer_mats[j]);
            rc = load_qmat(layer_qmat(&im->layers[l], j), &f, wpath, name, rows[j], cols[j]);
        }
    }
    st_close(&f);
    free(wpath);
    if (rc != 0) infer_model_destroy(im);
    return rc;
}

/* Once the bf16 or int8 copies exist, the fp32 matrices are dead weight:
 * a fresh model takes over the small tensors (embeddings of positions,
 * LayerNorms, biases) and m is freed. The fresh buffer is calloc'd and its
 * matrix pages are never touched, so they cost no memory; the process
 * keeps about 2 (bf16) or 1.1 (int8) bytes per weight instead of 4 more. */
static Gpt2Model *keep_small_tensors(InferModel *im, Gpt2Model *m) {
    Gpt2Model *small = xcalloc(1, sizeof *small);
    if (gpt2_alloc(small, &m->cfg) != 0) {
        free(small);
        return m; /* cannot happen for a config that loaded; keep m */
    }
    size_t sizes[GPT2_NUM_PARAM_TENSORS], off = 0;
    gpt2_param_sizes(&m->cfg, sizes);
    for (int k = 0; k < GPT2_NUM_PARAM_TENSORS; k++) {
        int matrix = k == 0 || k == 4 || k == 6 || k == 10 || k == 12; /* wte and the four Conv1D weights */
        if (!matrix) memcpy(small->param_buf + off, m->param_buf + off, sizes[k] * sizeof(float));
        off += sizes[k];
    }
    infer_model_point_small(im, small);
    gpt2_free(m);
    free(m);
    return small;
}

int infer_model_load(InferModel *im, const char *dir, InferQuant quant) {
    memset(im, 0, sizeof *im);
    if (!path_is_dir(dir) && !llmc_is_file(dir))
        return chirp_fail("%s: not a model directory (or an llm.c model file)", dir);
    if (path_is_dir(dir) && infer_dir_is_int8(dir)) {
        if (quant == INFER_F32)
            return chirp_fail("%s: this model is int8 (written by chirp quantize); run it with --quant int8", dir);
        return load_int8(im, dir);
    }
    /* bf16 weights run as bf16: the same numbers as widening them to fp32
     * (see kern_matmul_rows_in_out_bf16), at half the bytes per token. */
    if (quant == INFER_F32 && path_is_dir(dir) && infer_dir_is_bf16(dir)) quant = INFER_BF16;
    Gpt2Model *m = xcalloc(1, sizeof *m);
    if (gpt2_load(m, dir) != 0) {
        free(m);
        return -1;
    }
    if (infer_model_init(im, m, quant) != 0) {
        gpt2_free(m);
        free(m);
        return -1;
    }
    im->fp32 = quant == INFER_F32 ? m : keep_small_tensors(im, m);
    return 0;
}

/* ---- writing ---- */

typedef struct OutTensor {
    char name[160];
    const char *dtype;
    int ndim;
    long long shape[2];
    const void *data;
    size_t nbytes;
} OutTensor;

static void add_qmat(OutTensor *o, int *n, const char *name, const QMat *m) {
    /* Names are at most ~40 bytes ("h.NNN.attn.c_attn.weight"). */
    OutTensor *d = &o[(*n)++], *q = &o[(*n)++];
    snprintf(d->name, sizeof d->name, "%.120s.qscale", name);
    d->dtype = "F32";
    d->ndim = 2;
    d->shape[0] = m->rows;
    d->shape[1] = m->cols / QBLOCK;
    d->data = m->d;
    d->nbytes = (size_t)m->rows * (m->cols / QBLOCK) * sizeof(float);
    snprintf(q->name, sizeof q->name, "%.120s.qweight", name);
    q->dtype = "I8";
    q->ndim = 2;
    q->shape[0] = m->rows;
    q->shape[1] = m->cols;
    q->data = m->q;
    q->nbytes = (size_t)m->rows * m->cols;
}

static int write_safetensors(const char *path, OutTensor *t, int n) {
    /* F32 tensors first so that every one starts 4-byte aligned. */
    json_t *hdr = json_object();
    json_object_set_new(hdr, "__metadata__", json_pack("{s:s, s:s}", "format", "pt", "chirp", "int8 q8 blocks of 32"));
    size_t off = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            if ((strcmp(t[i].dtype, "F32") == 0) != (pass == 0)) continue;
            json_t *shape = json_array();
            for (int d = 0; d < t[i].ndim; d++) json_array_append_new(shape, json_integer(t[i].shape[d]));
            json_object_set_new(hdr, t[i].name,
                                json_pack("{s:s, s:o, s:[I, I]}", "dtype", t[i].dtype, "shape", shape, "data_offsets",
                                          (json_int_t)off, (json_int_t)(off + t[i].nbytes)));
            off += t[i].nbytes;
        }
    }
    char *js = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    size_t hl = strlen(js), padded = (hl + 7) / 8 * 8;
    AtomicFile af;
    if (file_begin(&af, path) != 0) {
        free(js);
        return -1;
    }
    FILE *fp = af.fp;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len8, 1, 8, fp) == 8 && fwrite(js, 1, hl, fp) == hl;
    for (size_t i = hl; ok && i < padded; i++) ok = fputc(' ', fp) != EOF;
    free(js);
    for (int pass = 0; pass < 2 && ok; pass++)
        for (int i = 0; i < n && ok; i++)
            if ((strcmp(t[i].dtype, "F32") == 0) == (pass == 0))
                ok = fwrite(t[i].data, 1, t[i].nbytes, fp) == t[i].nbytes;
    if (!ok) {
        file_abort(&af);
        return chirp_fail_errno("%s: write failed", path);
    }
    return file_commit(&af);
}

static int copy_file_if_present(const char *src_dir, const char *out_dir, const char *name) {
    char *src = path_join(src_dir, name);
    int rc = 0;
    if (path_exists(src)) {
        size_t len;
        char *data = file_read_all(src, &len);
        char *dst = path_join(out_dir, name);
        rc = data ? file_write_atomic(dst, data, len) : -1;
        free(data);
        free(dst);
    }
    free(src);
    return rc;
}

int infer_model_save_bf16(const char *src_dir, const char *out_dir) {
    Gpt2Model m;
    if (gpt2_load(&m, src_dir) != 0) return -1;
    int rc = gpt2_save_as(&m, out_dir, 1);
    gpt2_free(&m);
    if (rc == 0) rc = copy_file_if_present(src_dir, out_dir, "tokenizer.json");
    if (rc == 0) rc = copy_file_if_present(src_dir, out_dir, "chirp.json");
    return rc;
}

int infer_model_save_int8(const InferModel *im, const char *src_dir, const char *out_dir) {
    if (im->quant != INFER_INT8) return chirp_fail("internal: saving an fp32 model as int8");
    const Gpt2Config *c = &im->cfg;
    if (dir_create(out_dir) != 0) return -1;
    /* config.json: the source's (keeps keys we do not read), plus ours. */
    char *cpath = path_join(src_dir, "config.json");
    json_error_t jerr;
    json_t *cfg = json_load_file(cpath, 0, &jerr);
    free(cpath);
    if (!cfg) return chirp_fail("%s/config.json: %s", src_dir, jerr.text);
    json_object_set_new(cfg, "chirp_quantization",
                        json_pack("{s:s, s:i, s:s}", "type", "int8", "block", QBLOCK, "layout",
                                  "qweight [out, in] int8, qscale [out, in/block] f32"));
    char *js = json_dumps(cfg, JSON_INDENT(2));
    json_decref(cfg);
    char *opath = path_join(out_dir, "config.json");
    int rc = file_write_atomic(opath, js, strlen(js));
    free(opath);
    free(js);
    if (rc != 0) return -1;

    int L = c->n_layer, C = c->n_embd;
    int cap = 3 + 2 + L * (8 + 8);
    OutTensor *t = xcalloc((size_t)cap, sizeof *t);
    int n = 0;
#define ADD_F32(nm, ptr, count)                          \
    do {                                                 \
        snprintf(t[n].name, sizeof t[n].name, "%s", nm); \
        t[n].dtype = "F32";                              \
        t[n].ndim = 1;                                   \
        t[n].shape[0] = (count);                         \
        t[n].data = (ptr);                               \
        t[n].nbytes = (size_t)(count) * sizeof(float);   \
        n++;                                             \
    } while (0)
    snprintf(t[n].name, sizeof t[n].name, "wpe.weight");
    t[n].dtype = "F32";
    t[n].ndim = 2;
    t[n].shape[0] = c->n_ctx;
    t[n].shape[1] = C;
    t[n].data = im->wpe;
    t[n].nbytes = (size_t)c->n_ctx * C * sizeof(float);
    n++;
    add_qmat(t, &n, "wte.weight", &im->qwte);
    for (int l = 0; l < L; l++) {
        const InferLayer *ly = &im->layers[l];
        char nm[128];
        const float *ptr[8] = {ly->ln1w, ly->ln1b, ly->qkvb, ly->attprojb, ly->ln2w, ly->ln2b, ly->fcb, ly->fcprojb};
        const char *names[8] = {"ln_1.weight", "ln_1.bias", "attn.c_attn.bias", "attn.c_proj.bias",
                                "ln_2.weight", "ln_2.bias", "mlp.c_fc.bias",    "mlp.c_proj.bias"};
        int cnt[8] = {C, C, 3 * C, C, C, C, 4 * C, C};
        for (int j = 0; j < 8; j++) {
            snprintf(nm, sizeof nm, "h.%d.%s", l, names[j]);
            ADD_F32(nm, ptr[j], cnt[j]);
        }
        for (int j = 0; j < 4; j++) {
            snprintf(nm, sizeof nm, "h.%d.%s", l, layer_mats[j]);
            add_qmat(t, &n, nm, layer_qmat((InferLayer *)ly, j));
        }
    }
    ADD_F32("ln_f.weight", im->lnfw, C);
    ADD_F32("ln_f.bias", im->lnfb, C);
#undef ADD_F32
    char *wpath = path_join(out_dir, "model.safetensors");
    rc = write_safetensors(wpath, t, n);
    free(wpath);
    free(t);
    if (rc == 0) rc = copy_file_if_present(src_dir, out_dir, "tokenizer.json");
    if (rc == 0) rc = copy_file_if_present(src_dir, out_dir, "chirp.json");
    return rc;
}
