/* llmc.h: llm.c's GPT-2 model files (gpt2_124M.bin, gpt2_124M_bf16.bin,
 * and what llm.c's trainers write), read and written.
 *
 * Layout (llm.c's train_gpt2.py write_model):
 *   256 little-endian int32: [0] magic 20240326, [1] version (3: fp32,
 *   5: bf16), [2] max sequence length, [3] vocabulary V, [4] layers,
 *   [5] heads, [6] channels C, [7] padded vocabulary Vp (V rounded up to
 *   a multiple of 128; the extra wte rows are zero); the rest zero.
 *   Then the 16 tensors in the order of Gpt2Params, each stacked over the
 *   layers, all in one dtype. Linear weights are PyTorch nn.Linear's
 *   [out, in] (Hugging Face's Conv1D, chirp's layout, is [in, out]), so
 *   qkvw, attprojw, fcw and fcprojw are transposed on the way in and out;
 *   wte is [Vp, C]. LayerNorm epsilon is 1e-5 (llm.c's constant). */
#ifndef CHIRP_MODEL_LLMC_H
#define CHIRP_MODEL_LLMC_H

#include "model/gpt2.h"

#include <stdbool.h>
#include <stddef.h>

#define LLMC_MODEL_MAGIC 20240326
#define LLMC_VERSION_F32 3
#define LLMC_VERSION_BF16 5

/* Whether path starts with the llm.c model magic. */
bool llmc_is_file(const char *path);

/* Parses a whole file held in memory (name is for messages). bf16 values
 * widen to fp32 exactly. Returns 0, or -1 with the error set. */
int llmc_parse(Gpt2Model *m, const unsigned char *data, size_t len, const char *name);
int llmc_load(Gpt2Model *m, const char *path);

/* Writes version 3 (fp32) atomically. */
int llmc_save(const Gpt2Model *m, const char *path);

#endif
