/* cmd_generate.c: `chirp generate`: sample text from a model, streamed to
 * stdout; speeds on stderr. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/infer_cli.h"
#include "infer/generate.h"
#include "util/error.h"
#include "util/file.h"

#include <omp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELP                                                                                                       \
    "usage: chirp generate --model DIR [--prompt TEXT | --prompt-file F] [--max-tokens N]\n"                       \
    "                      [--temperature T] [--top-k K] [--top-p P] [--min-p P]\n"                                \
    "                      [--repetition-penalty R] [--frequency-penalty F] [--presence-penalty P]\n"              \
    "                      [--stop STR]... [--seed S] [--n N] [--quant none|bf16|int8] [--threads N]\n"            \
    "                      [--tokenizer T] [--truncate]\n"                                                         \
    "\n"                                                                                                           \
    "Generates text that continues the prompt and streams it (not the prompt) to stdout as tokens\n"               \
    "are produced; prompt and generation speeds go to stderr at the end. The prompt is prefilled\n"                \
    "in one batched pass, then one forward per new token over a KV cache. Without a prompt,\n"                     \
    "generation starts from <|endoftext|> (a fresh post).\n"                                                       \
    "\n"                                                                                                           \
    "  --prompt TEXT          text to continue\n"                                                                  \
    "  --prompt-file F        read the prompt from a file\n"                                                       \
    "  --max-tokens N         new tokens per sample (default 128)\n"                                               \
    "  --stop STR             stop when STR appears (not printed); repeatable; \\n and \\t are escapes\n"          \
    "  --n N                  samples (default 1), seeds S, S+1, ...; a line '---' between them\n"                 \
    "  --truncate             a prompt too long for the context keeps its end (default: error)\n" INFER_FLAGS_HELP \
    "\n"                                                                                                           \
    "Generation also stops at <|endoftext|> and at the end of the model's context.\n"                              \
    "\n"                                                                                                           \
    "examples:\n"                                                                                                  \
    "  chirp generate --model out/model --prompt 'The best thing about' --max-tokens 40 --seed 1\n"                \
    "  chirp generate --model out/model --temperature 0 --n 1 --stop '\\n'\n"                                      \
    "  chirp generate --model out/model --quant int8 --n 5 --max-tokens 60\n"

static int run(int argc, char **argv) {
    InferFlags f;
    infer_flags_default(&f);
    const char *prompt = NULL, *prompt_file = NULL;
    long n_samples = 1;
    bool truncate = false;
    StrList stops = {0};
    ArgSpec specs[32];
    int ns = infer_flags_specs(&f, specs, 0);
    specs[ns++] = (ArgSpec){"prompt", ARG_STR, &prompt, 0, -1};
    specs[ns++] = (ArgSpec){"prompt-file", ARG_STR, &prompt_file, 0, -1};
    specs[ns++] = (ArgSpec){"stop", ARG_LIST, &stops, 0, -1};
    specs[ns++] = (ArgSpec){"n", ARG_INT, &n_samples, 1, 1e6};
    specs[ns++] = (ArgSpec){"truncate", ARG_BOOL, &truncate, 0, -1};
    int rc = args_parse("generate", argc, argv, 1, specs, ns, NULL);
    InferQuant quant = INFER_F32;
    if (rc == EXIT_OK) rc = infer_flags_check("generate", &f, &quant);
    if (rc == EXIT_OK && prompt && prompt_file)
        rc = args_usage_error("generate", "give --prompt or --prompt-file, not both");
    if (rc != EXIT_OK) {
        strlist_free(&stops);
        return rc;
    }

    char *ptext = NULL;
    size_t plen = 0;
    if (prompt_file) {
        ptext = file_read_all(prompt_file, &plen);
        if (!ptext) {
            strlist_free(&stops);
            return cli_fail();
        }
    } else if (prompt) {
        ptext = xstrdup(prompt);
        plen = strlen(ptext);
    }
    char **stop_strs = xcalloc((size_t)stops.count + 1, sizeof(char *));
    for (int i = 0; i < stops.count; i++) {
        stop_strs[i] = xstrdup(stops.items[i]);
        infer_unescape(stop_strs[i]);
    }

    InferModel m;
    Tokenizer *tok = NULL;
    int32_t *ids = NULL;
    InferState *st = NULL;
    rc = EXIT_OK;
    if (infer_open(&f, quant, &m, &tok) != 0) {
        rc = cli_fail();
        goto done;
    }
    int n_ctx = m.cfg.n_ctx;
    int32_t eot = tokenizer_eot_id(tok);
    long np = 0;
    ids = xmalloc((plen + 2) * sizeof(int32_t));
    if (plen > 0) {
        /* Special-token strings in a user's prompt are ordinary text. */
        np = tokenizer_encode(tok, ptext, plen, false, ids, plen + 1);
        if (np < 0) {
            rc = cli_fail();
            goto done;
        }
    }
    if (np == 0) {
        if (eot < 0) {
            chirp_fail("the prompt is empty and the tokenizer has no <|endoftext|> to start from");
            rc = cli_fail();
            goto done;
        }
        ids[np++] = eot;
    }
    int32_t *start = ids;
    if (np >= n_ctx || (truncate && np + f.max_tokens > n_ctx)) {
        if (!truncate) {
            chirp_fail("the prompt is %ld tokens but the model's context is %d; shorten it or pass --truncate", np,
                       n_ctx);
            rc = cli_fail();
            goto done;
        }
        long keep = n_ctx - (f.max_tokens < n_ctx ? f.max_tokens : n_ctx - 1);
        if (keep < np) {
            fprintf(stderr, "chirp generate: prompt truncated to its last %ld of %ld tokens\n", keep, np);
            start = ids + (np - keep);
            np = keep;
        }
    }
    if (np + f.max_tokens > n_ctx)
        fprintf(stderr, "chirp generate: note: at most %ld new tokens fit in the context of %d\n", n_ctx - np, n_ctx);
    if (!f.seed_given && f.temperature > 0) fprintf(stderr, "chirp generate: seed %ld\n", f.seed);

    st = infer_state_new(&m);
    GenOptions go = {.max_tokens = (int)f.max_tokens,
                     .stop_strings = (const char *const *)stop_strs,
                     .n_stop_strings = stops.count,
                     .stop_ids = &eot,
                     .n_stop_ids = eot >= 0 ? 1 : 0};
    double prefill_s = 0, decode_s = 0;
    long p_tok = 0, d_tok = 0;
    for (long s = 0; s < n_samples; s++) {
        SamplerConfig sc;
        infer_sampler_config(&f, &sc);
        sc.seed = (uint64_t)(f.seed + s);
        Sampler *sm = sampler_new(&sc, m.cfg.vocab_size);
        infer_state_reset(st);
        GenResult r;
        int grc = generate(st, sm, tok, start, (int)np, &go, NULL, infer_write_stdout, NULL, &r);
        sampler_free(sm);
        if (grc != 0) {
            rc = cli_fail();
            goto done;
        }
        /* End the sample on a newline so shells and the '---' separator
         * start on a fresh line. */
        if (r.text_len == 0 || r.text[r.text_len - 1] != '\n') fputc('\n', stdout);
        if (s + 1 < n_samples) fputs("---\n", stdout);
        fflush(stdout);
        prefill_s += r.prefill_s;
        decode_s += r.decode_s;
        p_tok += r.prompt_tokens;
        d_tok += r.new_tokens;
        gen_result_destroy(&r);
    }
    fprintf(stderr, "prompt: %ld tokens, %.1f tok/s | generation: %ld tokens, %.1f tok/s (%s, %d threads)\n", p_tok,
            prefill_s > 0 ? p_tok / prefill_s : 0.0, d_tok, decode_s > 0 ? d_tok / decode_s : 0.0,
            infer_model_kernel(&m), omp_get_max_threads());
done:
    infer_state_free(st);
    if (tok) {
        infer_model_destroy(&m);
        tokenizer_free(tok);
    }
    free(ids);
    for (int i = 0; i < stops.count; i++) free(stop_strs[i]);
    free(stop_strs);
    free(ptext);
    strlist_free(&stops);
    return rc;
}

const Command cmd_generate = {
    .name = "generate",
    .summary = "generate text from a model",
    .help = HELP,
    .run = run,
};
