/* gpt2.c: GPT-2 configuration, parameter layout, load/save/init.
 *
 * The on-disk form is a Hugging Face model directory: config.json with HF
 * keys and model.safetensors with HF tensor names in Conv1D [in, out]
 * layout, which is also our in-memory layout, so loading is a copy per
 * tensor with no transposes. */
#include "model/gpt2.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/bf16.h"
#include "model/llmc.h"
#include "model/rng.h"
#include "model/safetensors.h"
#include "util/error.h"
#include "util/file.h"

void gpt2_param_sizes(const Gpt2Config *cfg, size_t s[GPT2_NUM_PARAM_TENSORS]) {
    size_t L = (size_t)cfg->n_layer, C = (size_t)cfg->n_embd, V = (size_t)cfg->vocab_size, T = (size_t)cfg->n_ctx;
    s[0] = V * C;
    s[1] = T * C;
    s[2] = L * C;
    s[3] = L * C;
    s[4] = L * C * 3 * C;
    s[5] = L * 3 * C;
    s[6] = L * C * C;
    s[7] = L * C;
    s[8] = L * C;
    s[9] = L * C;
    s[10] = L * C * 4 * C;
    s[11] = L * 4 * C;
    s[12] = L * 4 * C * C;
    s[13] = L * C;
    s[14] = C;
    s[15] = C;
}

size_t gpt2_num_params(const Gpt2Config *cfg) {
    size_t s[GPT2_NUM_PARAM_TENSORS], n = 0;
    gpt2_param_sizes(cfg, s);
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) n += s[i];
    return n;
}

void gpt2_params_bind(Gpt2Params *p, const Gpt2Config *cfg, float *buf) {
    size_t s[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(cfg, s);
    float **ptrs[GPT2_NUM_PARAM_TENSORS] = {&p->wte,      &p->wpe,      &p->ln1w, &p->ln1b, &p->qkvw, &p->qkvb,
                                            &p->attprojw, &p->attprojb, &p->ln2w, &p->ln2b, &p->fcw,  &p->fcb,
                                            &p->fcprojw,  &p->fcprojb,  &p->lnfw, &p->lnfb};
    for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
        *ptrs[i] = buf;
        buf += s[i];
    }
}

/* Per-layer HF names, in Gpt2Params order for tensors 2..13. */
static const char *const LAYER_NAMES[12] = {
    "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
    "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight",    "mlp.c_fc.bias",    "mlp.c_proj.weight",  "mlp.c_proj.bias"};

int gpt2_tensor_count(const Gpt2Config *cfg) { return 4 + 12 * cfg->n_layer; }

void gpt2_tensor_info(const Gpt2Config *cfg, int idx, Gpt2TensorInfo *ti) {
    size_t s[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(cfg, s);
    size_t C = (size_t)cfg->n_embd, L = (size_t)cfg->n_layer;
    int kind, layer = -1;
    if (idx == 0) kind = 0;
    else if (idx == 1) kind = 1;
    else if (idx == 2 + 12 * (int)L) kind = 14;
    else if (idx == 3 + 12 * (int)L) kind = 15;
    else {
        layer = (idx - 2) / 12;
        kind = 2 + (idx - 2) % 12;
    }
    size_t off = 0;
    for (int i = 0; i < kind; i++) off += s[i];
    size_t per = layer >= 0 ? s[kind] / L : s[kind];
    if (layer >= 0) off += per * (size_t)layer;
    ti->offset = off;
    ti->numel = per;
    ti->kind = kind;
    ti->layer = layer;
    if (kind == 0) snprintf(ti->name, sizeof ti->name, "wte.weight");
    else if (kind == 1) snprintf(ti->name, sizeof ti->name, "wpe.weight");
    else if (kind == 14) snprintf(ti->name, sizeof ti->name, "ln_f.weight");
    else if (kind == 15) snprintf(ti->name, sizeof ti->name, "ln_f.bias");
    else snprintf(ti->name, sizeof ti->name, "h.%d.%s", layer, LAYER_NAMES[kind - 2]);
    /* shapes as HF stores them */
    switch (kind) {
    case 0:
        ti->ndim = 2;
        ti->shape[0] = cfg->vocab_size;
        ti->shape[1] = (long long)C;
        break;
    case 1:
        ti->ndim = 2;
        ti->shape[0] = cfg->n_ctx;
        ti->shape[1] = (long long)C;
        break;
    case 4:
        ti->ndim = 2;
        ti->shape[0] = (long long)C;
        ti->shape[1] = (long long)(3 * C);
        break;
    case 5:
        ti->ndim = 1;
        ti->shape[0] = (long long)(3 * C);
        break;
    case 6:
        ti->ndim = 2;
        ti->shape[0] = (long long)C;
        ti->shape[1] = (long long)C;
        break;
    case 10:
        ti->ndim = 2;
        ti->shape[0] = (long long)C;
        ti->shape[1] = (long long)(4 * C);
        break;
    case 11:
        ti->ndim = 1;
        ti->shape[0] = (long long)(4 * C);
        break;
    case 12:
        ti->ndim = 2;
        ti->shape[0] = (long long)(4 * C);
        ti->shape[1] = (long long)C;
        break;
    default:
        ti->ndim = 1;
        ti->shape[0] = (long long)C;
        break;
    }
}

int gpt2_config_check(const Gpt2Config *c) {
    if (c->n_layer < 1 || c->n_head < 1 || c->n_embd < 1 || c->n_ctx < 1 || c->vocab_size < 1)
        return chirp_fail("model config: layers, heads, embd, ctx and vocab must all be positive");
    if (c->n_embd % c->n_head != 0)
        return chirp_fail("model config: n_embd %d is not divisible by n_head %d", c->n_embd, c->n_head);
    if (c->n_layer > 1000 || c->n_embd > 65536 || c->vocab_size > 10000000 || c->n_ctx > 1000000)
        return chirp_fail("model config: implausibly large dimensions");
    return 0;
}

int gpt2_alloc(Gpt2Model *m, const Gpt2Config *cfg) {
    if (gpt2_config_check(cfg) != 0) return -1;
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->num_params = gpt2_num_params(cfg);
    m->param_buf = xcalloc(m->num_params, sizeof(float));
    gpt2_params_bind(&m->params, cfg, m->param_buf);
    return 0;
}

static int json_int(json_t *root, const char *key, int *out, const char *path) {
    json_t *v = json_object_get(root, key);
    if (!v) return 1;
    if (!json_is_integer(v)) return chirp_fail("%s: \"%s\" must be an integer", path, key);
    *out = (int)json_integer_value(v);
    return 0;
}

int gpt2_config_load(Gpt2Config *cfg, const char *path) {
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        if (!path_exists(path)) return chirp_fail("%s: no such file (is this a model directory?)", path);
        return chirp_fail("%s:%d: bad JSON: %s", path, jerr.line, jerr.text);
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->ln_eps = 1e-5f;
    int rc = 0;
    static const char *const req[] = {"n_layer", "n_head", "n_embd", "vocab_size"};
    int *dst[] = {&cfg->n_layer, &cfg->n_head, &cfg->n_embd, &cfg->vocab_size};
    for (int i = 0; i < 4 && rc == 0; i++) {
        int r = json_int(root, req[i], dst[i], path);
        if (r == 1) rc = chirp_fail("%s: missing \"%s\"", path, req[i]);
        else if (r < 0) rc = -1;
    }
    if (rc == 0) {
        int r = json_int(root, "n_positions", &cfg->n_ctx, path);
        if (r == 1) r = json_int(root, "n_ctx", &cfg->n_ctx, path);
        if (r == 1) rc = chirp_fail("%s: missing \"n_positions\"", path);
        else if (r < 0) rc = -1;
    }
    json_t *eps = json_object_get(root, "layer_norm_epsilon");
    if (rc == 0 && eps) {
        if (!json_is_number(eps)) rc = chirp_fail("%s: \"layer_norm_epsilon\" must be a number", path);
        else cfg->ln_eps = (float)json_number_value(eps);
    }
    json_t *act = json_object_get(root, "activation_function");
    if (rc == 0 && act && json_is_string(act) && strcmp(json_string_value(act), "gelu_new") != 0 &&
        strcmp(json_string_value(act), "gelu_pytorch_tanh") != 0)
        rc =
            chirp_fail("%s: activation_function \"%s\" is not supported (only gelu_new)", path, json_string_value(act));
    json_t *inner = json_object_get(root, "n_inner");
    if (rc == 0 && inner && json_is_integer(inner) && json_integer_value(inner) != 4 * cfg->n_embd)
        rc = chirp_fail("%s: n_inner other than 4*n_embd is not supported", path);
    json_decref(root);
    if (rc == 0 && gpt2_config_check(cfg) != 0) {
        chirp_error_prefix("%s: ", path);
        rc = -1;
    }
    return rc;
}

/* torch_dtype, when given, is the key Hugging Face reads to load the
 * weights in that type ("bfloat16"). */
static int config_write(const Gpt2Config *cfg, const char *path, const char *torch_dtype) {
    json_t *root = json_object();
    json_object_set_new(root, "model_type", json_string("gpt2"));
    json_t *arch = json_array();
    json_array_append_new(arch, json_string("GPT2LMHeadModel"));
    json_object_set_new(root, "architectures", arch);
    json_object_set_new(root, "n_layer", json_integer(cfg->n_layer));
    json_object_set_new(root, "n_head", json_integer(cfg->n_head));
    json_object_set_new(root, "n_embd", json_integer(cfg->n_embd));
    json_object_set_new(root, "n_positions", json_integer(cfg->n_ctx));
    json_object_set_new(root, "n_ctx", json_integer(cfg->n_ctx));
    json_object_set_new(root, "vocab_size", json_integer(cfg->vocab_size));
    json_object_set_new(root, "layer_norm_epsilon", json_real(cfg->ln_eps));
    json_object_set_new(root, "n_inner", json_null());
    json_object_set_new(root, "activation_function", json_string("gelu_new"));
    json_object_set_new(root, "tie_word_embeddings", json_true());
    json_object_set_new(root, "initializer_range", json_real(0.02));
    json_object_set_new(root, "resid_pdrop", json_real(0.0));
    json_object_set_new(root, "embd_pdrop", json_real(0.0));
    json_object_set_new(root, "attn_pdrop", json_real(0.0));
    json_object_set_new(root, "bos_token_id", json_integer(50256));
    json_object_set_new(root, "eos_token_id", json_integer(50256));
    if (torch_dtype) json_object_set_new(root, "torch_dtype", json_string(torch_dtype));
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(root);
    size_t n = strlen(text);
    text = xrealloc(text, n + 2);
    text[n] = '\n';
    int rc = file_write_atomic(path, text, n + 1);
    free(text);
    return rc;
}

int gpt2_config_save(const Gpt2Config *cfg, const char *path) { return config_write(cfg, path, NULL); }

/* Finds a tensor by HF name, with or without the "transformer." prefix. */
static const StTensor *find_tensor(const StFile *f, const char *name) {
    const StTensor *t = st_find(f, name);
    if (t) return t;
    char buf[128];
    snprintf(buf, sizeof buf, "transformer.%s", name);
    return st_find(f, buf);
}

int gpt2_load(Gpt2Model *m, const char *dir) {
    memset(m, 0, sizeof *m);
    if (!path_is_dir(dir) && llmc_is_file(dir)) return llmc_load(m, dir);
    char *cpath = path_join(dir, "config.json");
    Gpt2Config cfg;
    int rc = gpt2_config_load(&cfg, cpath);
    free(cpath);
    if (rc != 0) return -1;
    char *wpath = path_join(dir, "model.safetensors");
    StFile f;
    if (st_open(&f, wpath) != 0) {
        free(wpath);
        return -1;
    }
    if (gpt2_alloc(m, &cfg) != 0) {
        st_close(&f);
        free(wpath);
        return -1;
    }
    int n = gpt2_tensor_count(&cfg);
    for (int i = 0; i < n && rc == 0; i++) {
        Gpt2TensorInfo ti;
        gpt2_tensor_info(&cfg, i, &ti);
        const StTensor *t = find_tensor(&f, ti.name);
        if (!t) {
            rc = chirp_fail("%s: tensor %s is missing", wpath, ti.name);
            break;
        }
        int bf16 = strcmp(t->dtype, "BF16") == 0;
        if (strcmp(t->dtype, "F32") != 0 && !bf16) {
            rc = chirp_fail("%s: tensor %s has dtype %s; only F32 and BF16 are supported", wpath, ti.name, t->dtype);
            break;
        }
        int shape_ok = t->ndim == ti.ndim;
        for (int d = 0; shape_ok && d < ti.ndim; d++) shape_ok = t->shape[d] == ti.shape[d];
        if (!shape_ok) {
            rc = chirp_fail("%s: tensor %s has shape [%lld%s] but config.json implies [%lld, %lld]", wpath, ti.name,
                            t->ndim ? (long long)t->shape[0] : 0LL, t->ndim > 1 ? ", ..." : "", ti.shape[0],
                            ti.ndim > 1 ? ti.shape[1] : 1LL);
            break;
        }
        /* memcpy: safetensors data need not be aligned in memory. */
        if (!bf16) {
            memcpy(m->param_buf + ti.offset, t->data, ti.numel * sizeof(float));
            continue;
        }
        float *dst = m->param_buf + ti.offset;
        for (size_t j = 0; j < ti.numel; j++) {
            uint16_t h;
            memcpy(&h, (const unsigned char *)t->data + 2 * j, 2);
            dst[j] = bf16_to_f32(h);
        }
    }
    st_close(&f);
    free(wpath);
    if (rc != 0) gpt2_free(m);
    return rc;
}

int gpt2_save(const Gpt2Model *m, const char *dir) { return gpt2_save_as(m, dir, 0); }

int gpt2_save_as(const Gpt2Model *m, const char *dir, int bf16) {
    if (dir_create(dir) != 0) return -1;
    uint16_t *half = NULL;
    if (bf16) {
        half = xmalloc(m->num_params * sizeof(uint16_t));
        bf16_from_f32_array(half, m->param_buf, m->num_params);
    }
    int n = gpt2_tensor_count(&m->cfg);
    StWriteTensor *ts = xcalloc((size_t)n, sizeof *ts);
    Gpt2TensorInfo *infos = xcalloc((size_t)n, sizeof *infos);
    for (int i = 0; i < n; i++) {
        gpt2_tensor_info(&m->cfg, i, &infos[i]);
        ts[i].name = infos[i].name;
        ts[i].ndim = infos[i].ndim;
        for (int d = 0; d < infos[i].ndim; d++) ts[i].shape[d] = infos[i].shape[d];
        ts[i].data = m->param_buf + infos[i].offset;
        if (half) ts[i].bf16 = half + infos[i].offset;
    }
    char *wpath = path_join(dir, "model.safetensors");
    char *cpath = path_join(dir, "config.json");
    int rc = st_write(wpath, ts, n);
    if (rc == 0) rc = config_write(&m->cfg, cpath, bf16 ? "bfloat16" : NULL);
    free(half);
    free(wpath);
    free(cpath);
    free(ts);
    free(infos);
    return rc;
}

int gpt2_init_random(Gpt2Model *m, const Gpt2Config *cfg, unsigned long long seed) {
    if (gpt2_alloc(m, cfg) != 0) return -1;
    float proj_std = 0.02f / sqrtf(2.0f * (float)cfg->n_layer);
    int n = gpt2_tensor_count(cfg);
    for (int i = 0; i < n; i++) {
        Gpt2TensorInfo ti;
        gpt2_tensor_info(cfg, i, &ti);
        float *p = m->param_buf + ti.offset;
        float std = 0.0f, fill = 0.0f;
        switch (ti.kind) {
        case 0:
        case 1:
        case 4:
        case 10: std = 0.02f; break;
        case 6:
        case 12: std = proj_std; break;
        case 2:
        case 8:
        case 14: fill = 1.0f; break;
        default: break;
        }
        if (std == 0.0f) {
            for (size_t j = 0; j < ti.numel; j++) p[j] = fill;
            continue;
        }
        /* Counter-based: element j of tensor i draws from its own stream,
         * so the init is parallel yet identical for any thread count. */
#pragma omp parallel for schedule(static)
        for (size_t j = 0; j < ti.numel; j++) {
            Rng rng;
            rng_seed(&rng, seed ^ ((unsigned long long)i << 40) ^ (unsigned long long)j * 0xD1B54A32D192ED03ULL);
            p[j] = (float)(std * rng_normal(&rng));
        }
    }
    return 0;
}

void gpt2_bf16_refresh(Gpt2Model *m) {
    if (!m->param_bf16) m->param_bf16 = xmalloc(m->num_params * sizeof(uint16_t));
    bf16_from_f32_array(m->param_bf16, m->param_buf, m->num_params);
}

void gpt2_free(Gpt2Model *m) {
    free(m->param_buf);
    free(m->param_bf16);
    memset(m, 0, sizeof *m);
}

int gpt2_preset(const char *name, Gpt2Config *cfg) {
    static const struct {
        const char *name;
        int L, H, C, T, V;
    } presets[] = {
        {"gpt2", 12, 12, 768, 1024, 50257},
        {"gpt2-medium", 24, 16, 1024, 1024, 50257},
        {"small", 6, 6, 384, 512, 8192},
        {"tiny", 2, 4, 64, 128, 512},
    };
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (strcmp(presets[i].name, name) != 0) continue;
        cfg->n_layer = presets[i].L;
        cfg->n_head = presets[i].H;
        cfg->n_embd = presets[i].C;
        cfg->n_ctx = presets[i].T;
        cfg->vocab_size = presets[i].V;
        cfg->ln_eps = 1e-5f;
        return 0;
    }
    return chirp_fail("unknown model preset \"%s\" (gpt2, gpt2-medium, small, tiny)", name);
}
