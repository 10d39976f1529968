/* gguf_export.c: a GPT-2 model directory as GGUF (see gguf_export.h). */
#include "infer/gguf_export.h"

#include "model/gpt2.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/file.h"
#include "util/sha256.h"

#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* llama.cpp's token types. */
enum { TT_NORMAL = 1, TT_CONTROL = 3, TT_USER_DEFINED = 4, TT_UNUSED = 5 };

static int add_tokenizer(GgufWriter *w, const Tokenizer *tok, int V) {
    if (tokenizer_vocab_size(tok) > V)
        return chirp_fail("the tokenizer has %d tokens, more than the model's vocabulary of %d",
                          tokenizer_vocab_size(tok), V);
    char **tokens = xcalloc((size_t)V, sizeof(char *));
    int32_t *types = xcalloc((size_t)V, sizeof(int32_t));
    for (int id = 0; id < V; id++) {
        TokenKind kind;
        tokens[id] = tokenizer_vocab_entry(tok, id, &kind);
        types[id] = kind == TOKEN_NORMAL    ? TT_NORMAL
                    : kind == TOKEN_SPECIAL ? TT_CONTROL
                    : kind == TOKEN_ADDED   ? TT_USER_DEFINED
                                            : TT_UNUSED;
        if (!tokens[id]) { /* a padding row of the embedding, or a gap in the vocabulary */
            char name[32];
            snprintf(name, sizeof name, "[PAD%d]", id);
            tokens[id] = xstrdup(name);
        }
    }
    int nm = tokenizer_merge_count(tok);
    char **merges = xcalloc((size_t)nm + 1, sizeof(char *));
    for (int r = 0; r < nm; r++) merges[r] = tokenizer_merge_entry(tok, r);
    gguf_add_string(w, "tokenizer.ggml.model", "gpt2");
    gguf_add_string(w, "tokenizer.ggml.pre", "gpt-2");
    gguf_add_string_array(w, "tokenizer.ggml.tokens", tokens, (size_t)V);
    gguf_add_i32_array(w, "tokenizer.ggml.token_type", types, (size_t)V);
    gguf_add_string_array(w, "tokenizer.ggml.merges", merges, (size_t)nm);
    int32_t eot = tokenizer_eot_id(tok);
    if (eot >= 0) {
        gguf_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)eot);
        gguf_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eot);
        gguf_add_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)eot);
    }
    /* chirp never puts <|endoftext|> before a prompt (GPT-2 did not either). */
    gguf_add_bool(w, "tokenizer.ggml.add_bos_token", 0);
    gguf_add_bool(w, "tokenizer.ggml.add_eos_token", 0);
    for (int id = 0; id < V; id++) free(tokens[id]);
    for (int r = 0; r < nm; r++) free(merges[r]);
    free(tokens);
    free(types);
    free(merges);
    return 0;
}

/* The chat template, when the model has one of its own or its tokenizer
 * has chat tokens (not the plain-text fallback). */
static void add_chat_template(GgufWriter *w, const char *model_dir, const Tokenizer *tok) {
    ChatTemplate t;
    if (chat_template_load(&t, model_dir, tok) != 0) {
        chirp_error_clear();
        return;
    }
    if (!t.plain) {
        char *j = chat_template_jinja(&t);
        gguf_add_string(w, "tokenizer.chat_template", j);
        free(j);
    }
    chat_template_destroy(&t);
}

/* general.* provenance and chirp.* keys from chirp.json. */
static void add_provenance(GgufWriter *w, const GgufExportOptions *o) {
    char *path = path_join(o->model_dir, "chirp.json");
    json_t *man = path_exists(path) ? json_load_file(path, 0, NULL) : NULL;
    char hex[65];
    if (man && sha256_file_hex(path, hex) == 0) gguf_add_string(w, "chirp.manifest_sha256", hex);
    if (o->license) gguf_add_string(w, "general.license", o->license);
    json_t *sources = json_object_get(json_object_get(json_object_get(man, "data"), "provenance"), "sources");
    if (json_array_size(sources) > 0) {
        size_t n = json_array_size(sources);
        char **names = xcalloc(n, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            const char *p = json_string_value(json_object_get(json_array_get(sources, i), "path"));
            names[i] = xstrdup(p ? p : "?");
        }
        gguf_add_string_array(w, "general.datasets", names, n);
        for (size_t i = 0; i < n; i++) free(names[i]);
        free(names);
    }
    json_t *c = json_object_get(man, "commitment");
    const char *root = json_string_value(json_object_get(c, "merkle_root"));
    if (root) {
        gguf_add_string(w, "chirp.merkle_root", root);
        gguf_add_u32(w, "chirp.merkle_leaves", (uint32_t)json_integer_value(json_object_get(c, "leaves")));
    }
    json_t *steps = json_object_get(man, "step");
    if (json_is_integer(steps)) gguf_add_u32(w, "chirp.training_steps", (uint32_t)json_integer_value(steps));
    json_decref(man);
    free(path);
}

/* rows x cols row-major (HF Conv1D [in, out]) to cols x rows: ggml wants
 * each output's weights contiguous (ne0 = in). */
static float *transpose(const float *a, size_t rows, size_t cols) {
    float *t = xmalloc(rows * cols * sizeof(float));
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
    return t;
}

static int add_matrix(GgufWriter *w, const char *name, const float *data, uint64_t ne0, uint64_t ne1, GgmlType type) {
    uint64_t ne[2] = {ne0, ne1};
    if (type == GGML_Q8_0 && ne0 % 32 != 0) type = GGML_F16; /* no whole blocks: the next best */
    return gguf_add_tensor(w, name, 2, ne, type, data);
}

static int add_vector(GgufWriter *w, const char *name, const float *data, uint64_t n) {
    return gguf_add_tensor(w, name, 1, &n, GGML_F32, data);
}

static int add_tensors(GgufWriter *w, const Gpt2Model *m, GgmlType type) {
    const Gpt2Config *c = &m->cfg;
    const Gpt2Params *p = &m->params;
    size_t C = (size_t)c->n_embd, V = (size_t)c->vocab_size;
    int rc = add_matrix(w, "token_embd.weight", p->wte, C, V, type);
    if (rc == 0) rc = add_matrix(w, "position_embd.weight", p->wpe, C, (uint64_t)c->n_ctx, type);
    for (int l = 0; l < c->n_layer && rc == 0; l++) {
        char name[96];
#define NAME(s) (snprintf(name, sizeof name, "blk.%d." s, l), name)
        float *qkv = transpose(p->qkvw + (size_t)l * C * 3 * C, C, 3 * C);
        float *proj = transpose(p->attprojw + (size_t)l * C * C, C, C);
        float *up = transpose(p->fcw + (size_t)l * C * 4 * C, C, 4 * C);
        float *down = transpose(p->fcprojw + (size_t)l * 4 * C * C, 4 * C, C);
        rc = add_vector(w, NAME("attn_norm.weight"), p->ln1w + l * C, C);
        if (rc == 0) rc = add_vector(w, NAME("attn_norm.bias"), p->ln1b + l * C, C);
        if (rc == 0) rc = add_matrix(w, NAME("attn_qkv.weight"), qkv, C, 3 * C, type);
        if (rc == 0) rc = add_vector(w, NAME("attn_qkv.bias"), p->qkvb + l * 3 * C, 3 * C);
        if (rc == 0) rc = add_matrix(w, NAME("attn_output.weight"), proj, C, C, type);
        if (rc == 0) rc = add_vector(w, NAME("attn_output.bias"), p->attprojb + l * C, C);
        if (rc == 0) rc = add_vector(w, NAME("ffn_norm.weight"), p->ln2w + l * C, C);
        if (rc == 0) rc = add_vector(w, NAME("ffn_norm.bias"), p->ln2b + l * C, C);
        if (rc == 0) rc = add_matrix(w, NAME("ffn_up.weight"), up, C, 4 * C, type);
        if (rc == 0) rc = add_vector(w, NAME("ffn_up.bias"), p->fcb + l * 4 * C, 4 * C);
        if (rc == 0) rc = add_matrix(w, NAME("ffn_down.weight"), down, 4 * C, C, type);
        if (rc == 0) rc = add_vector(w, NAME("ffn_down.bias"), p->fcprojb + l * C, C);
#undef NAME
        free(qkv);
        free(proj);
        free(up);
        free(down);
    }
    if (rc == 0) rc = add_vector(w, "output_norm.weight", p->lnfw, C);
    if (rc == 0) rc = add_vector(w, "output_norm.bias", p->lnfb, C);
    /* GPT-2 ties the LM head to token_embd; llama.cpp's loader wants it as
     * a tensor of its own. */
    if (rc == 0) rc = add_matrix(w, "output.weight", p->wte, C, V, type);
    return rc;
}

int gguf_export_gpt2(const GgufExportOptions *o) {
    Gpt2Model m;
    if (gpt2_load(&m, o->model_dir) != 0) return -1;
    Tokenizer *tok = tokenizer_load(o->tokenizer ? o->tokenizer : o->model_dir);
    if (!tok) {
        gpt2_free(&m);
        return -1;
    }
    GgufWriter *w = gguf_writer_new();
    char *dir = xstrdup(o->model_dir);
    gguf_add_string(w, "general.architecture", "gpt2");
    gguf_add_string(w, "general.name", basename(dir));
    gguf_add_u32(w, "general.alignment", GGUF_ALIGNMENT);
    /* llama.cpp's file types: all f32, mostly f16, mostly q8_0, mostly bf16. */
    gguf_add_u32(w, "general.file_type",
                 o->type == GGML_F32    ? 0
                 : o->type == GGML_F16  ? 1
                 : o->type == GGML_BF16 ? 32
                                        : 7);
    gguf_add_u32(w, "gpt2.context_length", (uint32_t)m.cfg.n_ctx);
    gguf_add_u32(w, "gpt2.embedding_length", (uint32_t)m.cfg.n_embd);
    gguf_add_u32(w, "gpt2.feed_forward_length", (uint32_t)(4 * m.cfg.n_embd));
    gguf_add_u32(w, "gpt2.block_count", (uint32_t)m.cfg.n_layer);
    gguf_add_u32(w, "gpt2.attention.head_count", (uint32_t)m.cfg.n_head);
    gguf_add_f32(w, "gpt2.attention.layer_norm_epsilon", m.cfg.ln_eps);
    add_provenance(w, o);
    int rc = add_tokenizer(w, tok, m.cfg.vocab_size);
    if (rc == 0) add_chat_template(w, o->model_dir, tok);
    if (rc == 0) rc = add_tensors(w, &m, o->type);
    if (rc == 0) rc = gguf_write(w, o->out_path);
    free(dir);
    gguf_writer_free(w);
    tokenizer_free(tok);
    gpt2_free(&m);
    return rc;
}
