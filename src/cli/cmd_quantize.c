/* cmd_quantize.c: `chirp quantize`: write a bf16 or int8 copy of a model. */
#include "cli/args.h"
#include "cli/commands.h"
#include "infer/infer.h"
#include "util/error.h"
#include "util/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELP                                                                                                       \
    "usage: chirp quantize --model DIR --out DIR2 [--type int8|bf16]\n"                                            \
    "\n"                                                                                                           \
    "--type bf16 writes every tensor rounded to bfloat16: a Hugging Face directory (torch_dtype\n"                 \
    "bfloat16) half the size, decoding about twice as fast where it is bound by memory bandwidth,\n"               \
    "with the numbers of the fp32 model whose weights are those bf16 values.\n"                                    \
    "\n"                                                                                                           \
    "--type int8 (the default) writes an int8 copy of a GPT-2 model directory: every weight matrix (and the tied " \
    "embedding /\n"                                                                                                \
    "LM head) as int8 values with one fp32 scale per block of 32 inputs; position embeddings,\n"                   \
    "LayerNorms and biases stay fp32. About 3.5x smaller and faster to decode (decoding is bound by\n"             \
    "memory bandwidth). tokenizer.json and chirp.json are copied. chirp generate / chat load DIR2\n"               \
    "directly (with or without --quant int8).\n"                                                                   \
    "\n"                                                                                                           \
    "  --model DIR            fp32 model directory (config.json + model.safetensors)\n"                            \
    "  --out DIR2             where to write the int8 model\n"                                                     \
    "  --type int8|bf16       the type to write (default int8)\n"                                                  \
    "\n"                                                                                                           \
    "example:\n"                                                                                                   \
    "  chirp quantize --model out/model --out out/model-int8 --type int8\n"                                        \
    "  chirp quantize --model out/model --out out/model-bf16 --type bf16\n"

static int run(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *type = "int8";
    ArgSpec specs[] = {
        {"model", ARG_STR, &model, 0, -1},
        {"out", ARG_STR, &out, 0, -1},
        {"type", ARG_STR, &type, 0, -1},
    };
    int rc = args_parse("quantize", argc, argv, 1, specs, 3, NULL);
    if (rc != EXIT_OK) return rc;
    if (!model) return args_missing("quantize", "model");
    if (!out) return args_missing("quantize", "out");
    int bf16 = strcmp(type, "bf16") == 0;
    if (!bf16 && strcmp(type, "int8") != 0)
        return args_usage_error("quantize", "--type must be int8 or bf16, got '%s'", type);
    if (path_is_dir(model) && infer_dir_is_int8(model)) {
        chirp_fail("%s is already an int8 model; quantize from the fp32 model", model);
        return cli_fail();
    }
    if (bf16) {
        if (infer_model_save_bf16(model, out) != 0) return cli_fail();
        Gpt2Config c;
        char *cpath = path_join(out, "config.json");
        if (gpt2_config_load(&c, cpath) == 0)
            fprintf(stderr, "quantize: wrote %s (bf16: %.1f MB of weights, from %.1f MB fp32)\n", out,
                    2.0 * (double)gpt2_num_params(&c) / 1e6, 4.0 * (double)gpt2_num_params(&c) / 1e6);
        free(cpath);
        return EXIT_OK;
    }
    InferModel m;
    if (infer_model_load(&m, model, INFER_INT8) != 0) return cli_fail();
    rc = infer_model_save_int8(&m, model, out) == 0 ? EXIT_OK : cli_fail();
    if (rc == EXIT_OK) {
        double fp = 4.0 * (double)gpt2_num_params(&m.cfg),
               q = infer_bytes_per_token(&m) + 4.0 * m.cfg.n_ctx * m.cfg.n_embd;
        fprintf(stderr, "quantize: wrote %s (int8 blocks of %d: %.1f MB of weights, from %.1f MB fp32)\n", out, QBLOCK,
                q / 1e6, fp / 1e6);
    }
    infer_model_destroy(&m);
    return rc;
}

const Command cmd_quantize = {
    .name = "quantize",
    .summary = "write a bf16 or int8 copy of a model",
    .help = HELP,
    .run = run,
};
