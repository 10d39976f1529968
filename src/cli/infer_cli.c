/* infer_cli.c: shared plumbing of `chirp generate` and `chirp chat`. */
#include "cli/infer_cli.h"

#include "util/error.h"
#include "util/file.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void infer_flags_default(InferFlags *f) {
    memset(f, 0, sizeof *f);
    f->quant = "none";
    f->max_tokens = 128;
    f->temperature = 0.8;
    f->top_p = 0.95;
    f->rep_pen = 1.0;
    f->seed = -1;
}

int infer_flags_specs(InferFlags *f, ArgSpec *s, int n) {
    s[n++] = (ArgSpec){"model", ARG_STR, &f->model, 0, -1};
    s[n++] = (ArgSpec){"tokenizer", ARG_STR, &f->tokenizer, 0, -1};
    s[n++] = (ArgSpec){"quant", ARG_STR, &f->quant, 0, -1};
    s[n++] = (ArgSpec){"threads", ARG_INT, &f->threads, 1, 1024};
    s[n++] = (ArgSpec){"max-tokens", ARG_INT, &f->max_tokens, 1, 1e9};
    s[n++] = (ArgSpec){"temperature", ARG_DOUBLE, &f->temperature, 0, 100};
    s[n++] = (ArgSpec){"top-k", ARG_INT, &f->top_k, 0, 1e9};
    s[n++] = (ArgSpec){"top-p", ARG_DOUBLE, &f->top_p, 0, 1};
    s[n++] = (ArgSpec){"min-p", ARG_DOUBLE, &f->min_p, 0, 1};
    s[n++] = (ArgSpec){"repetition-penalty", ARG_DOUBLE, &f->rep_pen, 0.01, 100};
    s[n++] = (ArgSpec){"frequency-penalty", ARG_DOUBLE, &f->freq_pen, -100, 100};
    s[n++] = (ArgSpec){"presence-penalty", ARG_DOUBLE, &f->pres_pen, -100, 100};
    s[n++] = (ArgSpec){"seed", ARG_INT, &f->seed, 0, 9.0e18};
    return n;
}

int infer_flags_check(const char *cmd, InferFlags *f, InferQuant *quant) {
    if (!f->model) return args_missing(cmd, "model");
    if (strcmp(f->quant, "none") == 0) *quant = INFER_F32;
    else if (strcmp(f->quant, "int8") == 0) *quant = INFER_INT8;
    else if (strcmp(f->quant, "bf16") == 0) *quant = INFER_BF16;
    else return args_usage_error(cmd, "--quant must be none, bf16 or int8, got '%s'", f->quant);
    if (f->threads > 0) omp_set_num_threads((int)f->threads);
    f->seed_given = f->seed >= 0;
    if (!f->seed_given) f->seed = (long)((unsigned long)time(NULL) ^ ((unsigned long)clock() << 16)) & 0x7fffffffL;
    return EXIT_OK;
}

int infer_open(const InferFlags *f, InferQuant quant, InferModel *m, Tokenizer **tok) {
    /* An int8 directory needs no --quant int8 on the command line to be
     * usable: the flag only asks for quantizing an fp32 model. */
    if (quant == INFER_F32 && path_is_dir(f->model) && infer_dir_is_int8(f->model)) quant = INFER_INT8;
    const char *tpath = f->tokenizer ? f->tokenizer : f->model;
    if (!f->tokenizer) {
        char *j = path_join(f->model, "tokenizer.json");
        int has = path_exists(j);
        free(j);
        if (!has && path_is_dir(f->model))
            return chirp_fail("%s: no tokenizer.json in the model directory; pass --tokenizer", f->model);
    }
    *tok = tokenizer_load(tpath);
    if (!*tok) return -1;
    if (infer_model_load(m, f->model, quant) != 0) {
        tokenizer_free(*tok);
        *tok = NULL;
        return -1;
    }
    int tv = tokenizer_vocab_size(*tok);
    if (tv > m->cfg.vocab_size) {
        infer_model_destroy(m);
        tokenizer_free(*tok);
        *tok = NULL;
        return chirp_fail("tokenizer has %d tokens but the model only %d: wrong --tokenizer?", tv, m->cfg.vocab_size);
    }
    return 0;
}

void infer_sampler_config(const InferFlags *f, SamplerConfig *c) {
    sampler_config_default(c);
    c->temperature = (float)f->temperature;
    c->top_k = (int)f->top_k;
    c->top_p = (float)f->top_p;
    c->min_p = (float)f->min_p;
    c->repetition_penalty = (float)f->rep_pen;
    c->frequency_penalty = (float)f->freq_pen;
    c->presence_penalty = (float)f->pres_pen;
    c->seed = (uint64_t)f->seed;
}

void infer_write_stdout(void *ctx, const char *bytes, size_t n) {
    (void)ctx;
    fwrite(bytes, 1, n, stdout);
    fflush(stdout);
}

void infer_unescape(char *s) {
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r == '\\' && r[1]) {
            r++;
            *w++ = *r == 'n' ? '\n' : *r == 't' ? '\t' : *r == 'r' ? '\r' : *r;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}
