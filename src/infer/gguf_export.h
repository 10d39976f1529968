/* gguf_export.h: a chirp (Hugging Face GPT-2) model directory as one GGUF
 * file that llama.cpp and ollama load as their gpt2 architecture: the
 * hyperparameters under gpt2.*, the byte-level BPE tokenizer under
 * tokenizer.ggml.* (pre-tokenizer "gpt-2", special tokens as control
 * tokens), the chat template as Jinja when the model has one, provenance
 * under general.* and chirp.*, and the tensors under llama.cpp's names in
 * its orientation (docs/interop.md lists them). */
#ifndef CHIRP_INFER_GGUF_EXPORT_H
#define CHIRP_INFER_GGUF_EXPORT_H

#include "model/gguf.h"

typedef struct GgufExportOptions {
    const char *model_dir;
    const char *tokenizer; /* NULL: the model directory's */
    GgmlType type;         /* of the 2-D weights; norms and biases stay f32 */
    const char *license;   /* general.license, or NULL */
    const char *out_path;
} GgufExportOptions;

/* Returns 0, or -1 with the error set. */
int gguf_export_gpt2(const GgufExportOptions *o);

#endif
