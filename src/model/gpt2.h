/* gpt2.h: the GPT-2 model: configuration and parameters.
 *
 * Computes what Hugging Face's GPT2LMHeadModel computes: token + learned
 * position embeddings, pre-LayerNorm (eps 1e-5), causal multi-head
 * attention, GELU (tanh approximation), LM head tied to wte.
 *
 * All parameters live in one float allocation, tensor after tensor in the
 * order of Gpt2Params below. Linear weights use Hugging Face's Conv1D
 * layout [in, out] (row-major), so y = x @ W + b, and a model.safetensors
 * maps onto memory without transposes. */
#ifndef CHIRP_MODEL_GPT2_H
#define CHIRP_MODEL_GPT2_H

#include <stddef.h>
#include <stdint.h>

typedef struct Gpt2Config {
    int n_layer;    /* L */
    int n_head;     /* H */
    int n_embd;     /* C */
    int n_ctx;      /* maximum sequence length (n_positions) */
    int vocab_size; /* V */
    float ln_eps;   /* layer_norm_epsilon, 1e-5 */
} Gpt2Config;

#define GPT2_NUM_PARAM_TENSORS 16

/* Pointers into the single parameter buffer. Per-layer tensors are stacked:
 * ln1w is [L, C], qkvw is [L, C, 3C], and so on. */
typedef struct Gpt2Params {
    float *wte;      /* [V, C]  token embedding, also the LM head */
    float *wpe;      /* [n_ctx, C] */
    float *ln1w;     /* [L, C] */
    float *ln1b;     /* [L, C] */
    float *qkvw;     /* [L, C, 3C]  c_attn */
    float *qkvb;     /* [L, 3C] */
    float *attprojw; /* [L, C, C]   attn.c_proj */
    float *attprojb; /* [L, C] */
    float *ln2w;     /* [L, C] */
    float *ln2b;     /* [L, C] */
    float *fcw;      /* [L, C, 4C]  mlp.c_fc */
    float *fcb;      /* [L, 4C] */
    float *fcprojw;  /* [L, 4C, C]  mlp.c_proj */
    float *fcprojb;  /* [L, C] */
    float *lnfw;     /* [C] */
    float *lnfb;     /* [C] */
} Gpt2Params;

/* Element counts of the 16 tensors, in Gpt2Params order. */
void gpt2_param_sizes(const Gpt2Config *cfg, size_t sizes[GPT2_NUM_PARAM_TENSORS]);
size_t gpt2_num_params(const Gpt2Config *cfg);

/* Points p's fields into buf (which holds gpt2_num_params floats). */
void gpt2_params_bind(Gpt2Params *p, const Gpt2Config *cfg, float *buf);

/* A loaded model: config + one parameter buffer. */
typedef struct Gpt2Model {
    Gpt2Config cfg;
    float *param_buf;
    size_t num_params;
    Gpt2Params params;
    /* bf16 training only (NULL otherwise): every parameter rounded to
     * bf16 (its bits, compute/bf16.h), in param_buf's layout, for the
     * matrix products to read. A function of param_buf: gpt2_bf16_refresh,
     * or the optimizer writing it in the same pass as the update, keeps it
     * current. */
    uint16_t *param_bf16;
} Gpt2Model;

/* Loads a Hugging Face GPT-2 model directory (config.json +
 * model.safetensors; names with or without "transformer.", attn.bias
 * buffers ignored), or an llm.c model file such as gpt2_124M.bin
 * (model/llmc.h). Returns 0, or -1 with the error set. */
int gpt2_load(Gpt2Model *m, const char *dir);

/* Allocates a zeroed model of cfg (checked). */
int gpt2_alloc(Gpt2Model *m, const Gpt2Config *cfg);

/* Writes config.json and model.safetensors into dir (atomically). */
int gpt2_save(const Gpt2Model *m, const char *dir);

/* gpt2_save, with every tensor rounded to BF16 when bf16 is set (and
 * "torch_dtype": "bfloat16" in config.json, as Hugging Face writes). */
int gpt2_save_as(const Gpt2Model *m, const char *dir, int bf16);

/* Allocates a model with the GPT-2 initialisation (normal(0, 0.02), output
 * projections scaled by 1/sqrt(2L), LayerNorm weights 1, biases 0). */
int gpt2_init_random(Gpt2Model *m, const Gpt2Config *cfg, unsigned long long seed);

void gpt2_free(Gpt2Model *m);

/* (Re)computes m->param_bf16 from param_buf, allocating it first. */
void gpt2_bf16_refresh(Gpt2Model *m);

/* Per-file tensor view: the model has 4 + 12*L safetensors tensors
 * (per-layer slices of the stacked Gpt2Params tensors). Index i names one
 * of them: HF name, shape as stored, and where it lives in param_buf.
 * kind is the Gpt2Params field index (0..15); layer is -1 for globals. */
typedef struct Gpt2TensorInfo {
    char name[64];
    int ndim;
    long long shape[2];
    size_t offset, numel;
    int kind, layer;
} Gpt2TensorInfo;
int gpt2_tensor_count(const Gpt2Config *cfg);
void gpt2_tensor_info(const Gpt2Config *cfg, int idx, Gpt2TensorInfo *ti);

/* Validates dimensions (positive, C divisible by H). */
int gpt2_config_check(const Gpt2Config *cfg);

/* config.json with HF keys (n_layer, n_head, n_embd, n_positions/n_ctx,
 * vocab_size, layer_norm_epsilon). */
int gpt2_config_load(Gpt2Config *cfg, const char *path);
int gpt2_config_save(const Gpt2Config *cfg, const char *path);

/* Presets: "gpt2" (124M), "gpt2-medium", "small", "tiny". Returns -1 for an
 * unknown name. */
int gpt2_preset(const char *name, Gpt2Config *cfg);

#endif
