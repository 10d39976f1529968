/* infer_cli.h: what `chirp generate` and `chirp chat` share: opening a
 * model with its tokenizer, the sampling flags, and stdout streaming. */
#ifndef CHIRP_CLI_INFER_CLI_H
#define CHIRP_CLI_INFER_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/args.h"
#include "infer/infer.h"
#include "infer/sampler.h"
#include "text/tokenizer.h"

/* Flags common to generate and chat. */
typedef struct InferFlags {
    const char *model, *tokenizer, *quant;
    long max_tokens, top_k, threads, seed;
    double temperature, top_p, min_p, rep_pen, freq_pen, pres_pen;
    bool seed_given;
} InferFlags;

void infer_flags_default(InferFlags *f);

/* Appends the common specs to specs[] (at *n); returns the new count. */
int infer_flags_specs(InferFlags *f, ArgSpec *specs, int n);

/* Checks the flags (--model given, --quant valid) and sets threads.
 * Returns EXIT_OK or EXIT_USAGE (message printed). */
int infer_flags_check(const char *cmd, InferFlags *f, InferQuant *quant);

/* Loads the model and the tokenizer (--tokenizer, else the model
 * directory's), and checks their vocabularies agree. Returns 0 or -1 with
 * the error set. */
int infer_open(const InferFlags *f, InferQuant quant, InferModel *m, Tokenizer **tok);

void infer_sampler_config(const InferFlags *f, SamplerConfig *c);

/* GenWriteFn that writes to stdout and flushes (streaming). */
void infer_write_stdout(void *ctx, const char *bytes, size_t n);

/* Replaces the escapes \n, \t, \\ in s, in place. */
void infer_unescape(char *s);

#define INFER_FLAGS_HELP                                                                                      \
    "  --model DIR            model directory (config.json, model.safetensors, tokenizer.json)\n"             \
    "  --tokenizer T          tokenizer.json, or a directory with tokenizer.json or encoder.json+vocab.bpe\n" \
    "                         (default: the model directory's)\n"                                             \
    "  --quant none|bf16|int8 round (bf16) or quantize (int8) the weights at load\n"                          \
    "  --threads N            threads (default: OMP_NUM_THREADS or all cores)\n"                              \
    "  --temperature T        0 = greedy (default 0.8)\n"                                                     \
    "  --top-k K              keep the K most likely tokens (0 = off, default 0)\n"                           \
    "  --top-p P              nucleus: smallest set with mass >= P (default 0.95)\n"                          \
    "  --min-p P              drop tokens below P x the top token's probability (default 0)\n"                \
    "  --repetition-penalty R divide seen tokens' positive logits by R (default 1 = off)\n"                   \
    "  --frequency-penalty F  subtract F x count of each seen token (default 0)\n"                            \
    "  --presence-penalty P   subtract P from each seen token (default 0)\n"                                  \
    "  --seed S               sampling seed; the same seed gives the same text (default: from the clock,\n"   \
    "                         printed on stderr)\n"

#endif
