/* cmd_tokenizer.c: `chirp tokenizer train|encode|decode|convert`.
 *
 * Thin: parse flags, call src/text, print. Plain encode reads the whole
 * input as one document; --jsonl streams one {"text": ...} per line. */
#include "cli/args.h"
#include "cli/commands.h"
#include "text/bpe_train.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/file.h"
#include "util/timer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELP                                                                                      \
    "usage: chirp tokenizer train --input FILE... --vocab-size N --out DIR [--min-frequency K]\n" \
    "       chirp tokenizer encode --tokenizer T [--input FILE] [--jsonl] [--allow-special]\n"    \
    "       chirp tokenizer decode --tokenizer T [--input FILE]\n"                                \
    "       chirp tokenizer convert --tokenizer T --out DIR\n"                                    \
    "\n"                                                                                          \
    "Byte-level BPE as GPT-2 does it: train one, or use GPT-2's exactly.\n"                       \
    "\n"                                                                                          \
    "train   learns merges from plain-text FILEs (each file is one document) and writes\n"        \
    "        DIR/tokenizer.json (Hugging Face format). N counts all ids: 256 bytes + merges\n"    \
    "        + 3 special tokens (<|endoftext|>, <|im_start|>, <|im_end|>), so N >= 259.\n"        \
    "        Pairs seen fewer than K times (default 2) are not merged, so a small text\n"         \
    "        may give fewer than N ids. Ties in frequency go to the smaller token ids.\n"         \
    "encode  T is a tokenizer.json, or a directory holding one or GPT-2's encoder.json +\n"       \
    "        vocab.bpe. Plain mode: the input (default stdin) is one document, and the\n"         \
    "        output is its ids, space-separated, on one line. --jsonl: each input line is\n"      \
    "        {\"text\": \"...\"} and each output line {\"ids\": [...]}.\n"                        \
    "        --allow-special maps special-token strings such as <|endoftext|> to their\n"         \
    "        ids; without it they are encoded as ordinary text, so quoted text cannot\n"          \
    "        inject a control token.\n"                                                           \
    "decode  reads whitespace-separated ids (default stdin) and writes the bytes they\n"          \
    "        stand for.\n"                                                                        \
    "convert writes T (for example GPT-2's encoder.json + vocab.bpe) as DIR/tokenizer.json,\n"    \
    "        which Hugging Face tokenizers, transformers and tokenizers.js load as they are.\n"   \
    "\n"                                                                                          \
    "examples:\n"                                                                                 \
    "  chirp tokenizer train --input posts.txt --vocab-size 8192 --out tok/\n"                    \
    "  echo 'Hello world' | chirp tokenizer encode --tokenizer ../shared/data/gpt2-tokenizer\n"   \
    "  echo '15496 995' | chirp tokenizer decode --tokenizer tok/tokenizer.json\n"                \
    "  chirp tokenizer convert --tokenizer ../shared/data/gpt2-tokenizer --out gpt2-tok/\n"

/* Reads a whole stream (stdin) into memory. */
static char *read_stream(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n == cap) buf = xrealloc(buf, cap *= 2);
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        chirp_fail_errno("stdin: read error");
        return NULL;
    }
    *len = n;
    return buf;
}

static bool is_stdin(const char *path) { return !path || strcmp(path, "-") == 0; }

static char *read_input(const char *path, size_t *len) {
    if (is_stdin(path)) return read_stream(stdin, len);
    return file_read_all(path, len);
}

/* ---- train ---- */

static int tok_train(int argc, char **argv) {
    StrList inputs = {0};
    long vocab_size = -1, min_freq = 2;
    const char *out = NULL;
    const ArgSpec specs[] = {
        {"input", ARG_LIST, &inputs, 0, -1},
        {"vocab-size", ARG_INT, &vocab_size, 256 + CHIRP_N_SPECIAL, 1 << 21},
        {"out", ARG_STR, &out, 0, -1},
        {"min-frequency", ARG_INT, &min_freq, 1, 1e9},
    };
    int rc = args_parse("tokenizer train", argc, argv, 2, specs, 4, NULL);
    if (rc == EXIT_OK && inputs.count == 0) rc = args_missing("tokenizer train", "input");
    if (rc == EXIT_OK && vocab_size < 0) rc = args_missing("tokenizer train", "vocab-size");
    if (rc == EXIT_OK && !out) rc = args_missing("tokenizer train", "out");
    if (rc != EXIT_OK) {
        strlist_free(&inputs);
        return rc;
    }
    double t0 = time_now();
    BpeTrainer *tr = bpe_trainer_new();
    Tokenizer *tok = NULL;
    char *json = NULL;
    rc = EXIT_FAIL;
    for (int i = 0; i < inputs.count; i++)
        if (bpe_trainer_add_file(tr, inputs.items[i], true) != 0) goto done;
    size_t distinct = bpe_trainer_distinct(tr);
    double mb = (double)bpe_trainer_bytes(tr) / 1e6;
    tok = bpe_trainer_train(tr, (int)vocab_size, (int)min_freq, true);
    if (!tok) goto done;
    if (dir_create(out) != 0) goto done;
    json = path_join(out, "tokenizer.json");
    if (tokenizer_save(tok, json) != 0) goto done;
    int got = tokenizer_vocab_size(tok);
    fprintf(stderr, "tokenizer train: %.1f MB, %zu distinct pieces, vocab %d (%d merges) in %.1fs -> %s\n", mb,
            distinct, got, got - 256 - CHIRP_N_SPECIAL, time_now() - t0, json);
    if (got < vocab_size)
        fprintf(stderr, "tokenizer train: note: no pair is frequent enough for more than %d ids (asked %ld)\n", got,
                vocab_size);
    rc = EXIT_OK;
done:
    if (rc != EXIT_OK) cli_fail();
    free(json);
    tokenizer_free(tok);
    bpe_trainer_free(tr);
    strlist_free(&inputs);
    return rc;
}

/* ---- encode ---- */

/* Appends id as decimal text; returns the new end. */
static char *put_id(char *p, int32_t id) {
    char tmp[12];
    int n = 0;
    uint32_t v = (uint32_t)id;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

/* Writes ids separated by sep, in blocks so a 100 MB input needs no
 * 1 GB string. */
static int write_ids(FILE *f, const int32_t *ids, long n, const char *sep) {
    char buf[1 << 16];
    size_t seplen = strlen(sep);
    char *p = buf;
    for (long i = 0; i < n; i++) {
        if (p - buf > (long)sizeof buf - 32) {
            if (fwrite(buf, 1, (size_t)(p - buf), f) != (size_t)(p - buf)) return -1;
            p = buf;
        }
        if (i) {
            memcpy(p, sep, seplen);
            p += seplen;
        }
        p = put_id(p, ids[i]);
    }
    if (p == buf) return 0;
    return fwrite(buf, 1, (size_t)(p - buf), f) == (size_t)(p - buf) ? 0 : -1;
}

static long encode_all(const Tokenizer *tok, const char *s, size_t len, bool special, int32_t **ids, size_t *cap) {
    /* len ids are always enough (the API promises it), so one call does. */
    if (*cap < len + 1) {
        free(*ids);
        *cap = len + 1;
        *ids = xmalloc(sizeof(int32_t) * *cap);
    }
    return tokenizer_encode(tok, s, len, special, *ids, *cap);
}

static int encode_jsonl(const Tokenizer *tok, const char *name, FILE *in, bool special) {
    char *line = NULL;
    size_t line_cap = 0, ids_cap = 0;
    int32_t *ids = NULL;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while ((n = getline(&line, &line_cap, in)) > 0) {
        lineno++;
        json_error_t err;
        json_t *obj = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &err);
        json_t *text = obj ? json_object_get(obj, "text") : NULL;
        if (!obj) {
            rc = chirp_fail("%s:%ld: %s", name, lineno, err.text);
        } else if (!json_is_string(text)) {
            rc = chirp_fail("%s:%ld: expected an object with a \"text\" string", name, lineno);
        } else {
            long k = encode_all(tok, json_string_value(text), json_string_length(text), special, &ids, &ids_cap);
            if (k < 0 || fputs("{\"ids\": [", stdout) < 0 || write_ids(stdout, ids, k, ", ") != 0 ||
                fputs("]}\n", stdout) < 0)
                rc = k < 0 ? -1 : chirp_fail_errno("stdout: write error");
        }
        json_decref(obj);
        if (rc) break;
    }
    if (!rc && ferror(in)) rc = chirp_fail_errno("%s: read error", name);
    free(line);
    free(ids);
    return rc;
}

static int tok_encode(int argc, char **argv) {
    const char *tpath = NULL, *input = NULL;
    bool jsonl = false, special = false;
    const ArgSpec specs[] = {
        {"tokenizer", ARG_STR, &tpath, 0, -1},
        {"input", ARG_STR, &input, 0, -1},
        {"jsonl", ARG_BOOL, &jsonl, 0, -1},
        {"allow-special", ARG_BOOL, &special, 0, -1},
    };
    int rc = args_parse("tokenizer encode", argc, argv, 2, specs, 4, NULL);
    if (rc != EXIT_OK) return rc;
    if (!tpath) return args_missing("tokenizer encode", "tokenizer");
    Tokenizer *tok = tokenizer_load(tpath);
    if (!tok) return cli_fail();
    const char *name = is_stdin(input) ? "stdin" : input;
    rc = EXIT_FAIL;
    if (jsonl) {
        FILE *in = is_stdin(input) ? stdin : fopen(input, "rb");
        if (!in) {
            chirp_fail_errno("%s", input);
        } else {
            if (encode_jsonl(tok, name, in, special) == 0) rc = EXIT_OK;
            if (in != stdin) fclose(in);
        }
    } else {
        size_t len;
        char *text = read_input(input, &len);
        if (text) {
            int32_t *ids = NULL;
            size_t cap = 0;
            long n = encode_all(tok, text, len, special, &ids, &cap);
            if (n >= 0 && write_ids(stdout, ids, n, " ") == 0 && fputc('\n', stdout) != EOF) rc = EXIT_OK;
            else if (n >= 0) chirp_fail_errno("stdout: write error");
            free(ids);
            free(text);
        }
    }
    if (rc == EXIT_OK && fflush(stdout) != 0) {
        chirp_fail_errno("stdout: write error");
        rc = EXIT_FAIL;
    }
    if (rc != EXIT_OK) cli_fail();
    tokenizer_free(tok);
    return rc;
}

/* ---- decode ---- */

static int tok_decode(int argc, char **argv) {
    const char *tpath = NULL, *input = NULL;
    const ArgSpec specs[] = {
        {"tokenizer", ARG_STR, &tpath, 0, -1},
        {"input", ARG_STR, &input, 0, -1},
    };
    int rc = args_parse("tokenizer decode", argc, argv, 2, specs, 2, NULL);
    if (rc != EXIT_OK) return rc;
    if (!tpath) return args_missing("tokenizer decode", "tokenizer");
    Tokenizer *tok = tokenizer_load(tpath);
    if (!tok) return cli_fail();
    const char *name = is_stdin(input) ? "stdin" : input;
    size_t len;
    char *text = read_input(input, &len);
    if (!text) {
        tokenizer_free(tok);
        return cli_fail();
    }
    /* Parse all ids first, so bad input prints nothing but the error. */
    size_t n = 0, cap = 1024;
    int32_t *ids = xmalloc(sizeof(int32_t) * cap);
    rc = EXIT_OK;
    for (size_t i = 0; i < len;) {
        while (i < len && strchr(" \t\r\n\v\f", text[i]) && text[i]) i++;
        if (i >= len) break;
        size_t start = i;
        while (i < len && !(strchr(" \t\r\n\v\f", text[i]) && text[i])) i++;
        char word[32];
        size_t wl = i - start;
        long v = -1;
        bool ok = wl > 0 && wl < sizeof word;
        if (ok) {
            memcpy(word, text + start, wl);
            word[wl] = '\0';
            char *end;
            errno = 0;
            v = strtol(word, &end, 10);
            ok = !errno && *end == '\0' && v >= 0 && v <= INT32_MAX;
        }
        if (!ok) {
            chirp_fail("%s: token %zu: '%.*s' is not a token id", name, n + 1, (int)(wl > 40 ? 40 : wl), text + start);
            rc = EXIT_FAIL;
            break;
        }
        if (n == cap) ids = xrealloc(ids, sizeof(int32_t) * (cap *= 2));
        ids[n++] = (int32_t)v;
    }
    if (rc == EXIT_OK) {
        long need = tokenizer_decode(tok, ids, n, NULL, 0);
        if (need < 0) {
            chirp_error_prefix("%s: ", name);
            rc = EXIT_FAIL;
        } else {
            char *out = xmalloc((size_t)need + 1);
            tokenizer_decode(tok, ids, n, out, (size_t)need);
            if (fwrite(out, 1, (size_t)need, stdout) != (size_t)need || fflush(stdout) != 0) {
                chirp_fail_errno("stdout: write error");
                rc = EXIT_FAIL;
            }
            free(out);
        }
    }
    if (rc != EXIT_OK) cli_fail();
    free(ids);
    free(text);
    tokenizer_free(tok);
    return rc;
}

/* ---- convert ---- */

static int tok_convert(int argc, char **argv) {
    const char *tpath = NULL, *out = NULL;
    const ArgSpec specs[] = {
        {"tokenizer", ARG_STR, &tpath, 0, -1},
        {"out", ARG_STR, &out, 0, -1},
    };
    int rc = args_parse("tokenizer convert", argc, argv, 2, specs, 2, NULL);
    if (rc != EXIT_OK) return rc;
    if (!tpath) return args_missing("tokenizer convert", "tokenizer");
    if (!out) return args_missing("tokenizer convert", "out");
    Tokenizer *tok = tokenizer_load(tpath);
    if (!tok) return cli_fail();
    char *json = path_join(out, "tokenizer.json");
    rc = EXIT_FAIL;
    if (dir_create(out) == 0 && tokenizer_save(tok, json) == 0) {
        fprintf(stderr, "tokenizer convert: vocab %d (%d merges) -> %s\n", tokenizer_vocab_size(tok),
                tokenizer_merge_count(tok), json);
        rc = EXIT_OK;
    }
    if (rc != EXIT_OK) cli_fail();
    free(json);
    tokenizer_free(tok);
    return rc;
}

static int run(int argc, char **argv) {
    if (argc < 2) return args_usage_error("tokenizer", "missing subcommand (train, encode, decode or convert)");
    const char *sub = argv[1];
    if (strcmp(sub, "train") == 0) return tok_train(argc, argv);
    if (strcmp(sub, "encode") == 0) return tok_encode(argc, argv);
    if (strcmp(sub, "decode") == 0) return tok_decode(argc, argv);
    if (strcmp(sub, "convert") == 0) return tok_convert(argc, argv);
    return args_usage_error("tokenizer", "unknown subcommand '%s' (train, encode, decode or convert)", sub);
}

const Command cmd_tokenizer = {
    .name = "tokenizer",
    .summary = "train, encode, decode and convert byte-level BPE tokenizers",
    .help = HELP,
    .run = run,
};
