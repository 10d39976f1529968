/* cmd_export.c: `chirp export`: a model in another ecosystem's format. */
#include "cli/args.h"
#include "cli/commands.h"
#include "infer/gguf_export.h"
#include "model/llmc.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define HELP                                                                                                 \
    "usage: chirp export --model DIR --format gguf [--type f32|f16|bf16|q8_0] [--tokenizer T]\n"             \
    "                    [--license ID] --out FILE.gguf\n"                                                   \
    "       chirp export --model DIR --format llmc --out FILE.bin\n"                                         \
    "\n"                                                                                                     \
    "Writes the model as a GGUF v3 file that llama.cpp and ollama load as their gpt2 architecture:\n"        \
    "hyperparameters, the byte-level BPE tokenizer (GPT-2 pre-tokenizer, special tokens as control\n"        \
    "tokens), the chat template as Jinja when the model has one, and provenance (general.license,\n"         \
    "general.datasets, chirp.manifest_sha256, chirp.merkle_root when chirp audit sketch has run).\n"         \
    "docs/interop.md lists every key and tensor.\n"                                                          \
    "\n"                                                                                                     \
    "--format llmc writes llm.c's model file (magic 20240326, version 3: fp32, vocabulary padded to\n"       \
    "a multiple of 128), which llm.c's train_gpt2 fine-tunes; chirp reads it back (and llm.c's\n"            \
    "version 5 bf16 files) wherever it takes a model: --init, --model.\n"                                    \
    "\n"                                                                                                     \
    "  --type T        the weight matrices: f32 (default, exact), f16, bf16, or q8_0 (GGUF's blocks of 32\n" \
    "                  int8 values with an f16 scale); LayerNorms and biases stay f32\n"                     \
    "  --tokenizer T   tokenizer.json or GPT-2 folder (default: the model directory's)\n"                    \
    "  --license ID    general.license (e.g. mit, apache-2.0, other)\n"                                      \
    "\n"                                                                                                     \
    "example:\n"                                                                                             \
    "  chirp export --model runs/small/step_2000 --format gguf --type q8_0 --out small.gguf\n"               \
    "  llama-cli -m small.gguf -p 'Hello' -n 40 --temp 0\n"                                                  \
    "  chirp export --model runs/small/step_2000 --format llmc --out gpt2_124M.bin\n"

static void report(const char *out, const char *what) {
    struct stat st;
    if (stat(out, &st) == 0) fprintf(stderr, "export: wrote %s (%s, %.1f MB)\n", out, what, (double)st.st_size / 1e6);
}

static int export_llmc(const char *model, const char *out) {
    Gpt2Model m;
    if (gpt2_load(&m, model) != 0) return cli_fail();
    int rc = llmc_save(&m, out);
    gpt2_free(&m);
    if (rc != 0) return cli_fail();
    report(out, "llm.c version 3, fp32");
    return EXIT_OK;
}

static int run(int argc, char **argv) {
    const char *model = NULL, *format = NULL, *type = "f32", *out = NULL, *tokenizer = NULL, *license = NULL;
    ArgSpec specs[] = {
        {"model", ARG_STR, &model, 0, -1},         {"format", ARG_STR, &format, 0, -1},
        {"type", ARG_STR, &type, 0, -1},           {"out", ARG_STR, &out, 0, -1},
        {"tokenizer", ARG_STR, &tokenizer, 0, -1}, {"license", ARG_STR, &license, 0, -1},
    };
    int rc = args_parse("export", argc, argv, 1, specs, (int)(sizeof specs / sizeof *specs), NULL);
    if (rc != EXIT_OK) return rc;
    if (!model) return args_missing("export", "model");
    if (!format) return args_missing("export", "format");
    if (!out) return args_missing("export", "out");
    if (strcmp(format, "llmc") == 0) return export_llmc(model, out);
    if (strcmp(format, "gguf") != 0)
        return args_usage_error("export", "--format must be gguf or llmc, got '%s'", format);
    GgmlType t;
    if (strcmp(type, "f32") == 0) t = GGML_F32;
    else if (strcmp(type, "f16") == 0) t = GGML_F16;
    else if (strcmp(type, "q8_0") == 0) t = GGML_Q8_0;
    else if (strcmp(type, "bf16") == 0) t = GGML_BF16;
    else return args_usage_error("export", "--type must be f32, f16, bf16 or q8_0, got '%s'", type);
    GgufExportOptions o = {.model_dir = model, .tokenizer = tokenizer, .type = t, .license = license, .out_path = out};
    if (gguf_export_gpt2(&o) != 0) return cli_fail();
    report(out, type);
    return EXIT_OK;
}

const Command cmd_export = {
    .name = "export",
    .summary = "write a model as GGUF (llama.cpp, ollama) or an llm.c model file",
    .help = HELP,
    .run = run,
};
