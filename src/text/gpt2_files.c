/* gpt2_files.c: loads OpenAI's encoder.json + vocab.bpe. */
#include "text/gpt2_files.h"

#include "text/tok_internal.h"
#include "util/error.h"
#include "util/file.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int load_encoder(Tokenizer *t, const char *path) {
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root) return chirp_fail("%s:%d:%d: %s", path, err.line, err.column, err.text);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = chirp_fail("%s: expected a JSON object of token -> id", path);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        size_t klen = strlen(key);
        if (!json_is_integer(val)) {
            rc = chirp_fail("%s: the id of token '%s' is not an integer", path, key);
            goto done;
        }
        char *bytes = xmalloc(klen + 1);
        long n = bytelevel_decode(key, klen, bytes);
        if (n <= 0) {
            free(bytes);
            rc = chirp_fail("%s: token '%s' is not a byte-level string", path, key);
            goto done;
        }
        json_int_t v = json_integer_value(val);
        if (v < 0 || v >= TOK_MAX_IDS) {
            free(bytes);
            rc = chirp_fail("%s: the id of token '%s' is out of range", path, key);
            goto done;
        }
        rc = tok_add_token(t, (int32_t)v, bytes, (size_t)n);
        free(bytes);
        if (rc != 0) {
            chirp_error_prefix("%s: ", path);
            goto done;
        }
    }
done:
    json_decref(root);
    return rc;
}

static int32_t lookup_piece(Tokenizer *t, const char *s, size_t n) {
    char *bytes = xmalloc(n + 1);
    long b = bytelevel_decode(s, n, bytes);
    int32_t id = b > 0 ? tok_lookup(t, bytes, (size_t)b) : -1;
    free(bytes);
    return id;
}

static int load_merges(Tokenizer *t, const char *path) {
    size_t len;
    char *data = file_read_all(path, &len);
    if (!data) return -1;
    int rc = 0, line = 0;
    char *p = data, *end = data + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        line++;
        size_t n = (size_t)(eol - p);
        if (n > 0 && p[n - 1] == '\r') n--;
        if (line == 1 && n >= 8 && memcmp(p, "#version", 8) == 0) goto next;
        if (n == 0) goto next;
        char *sp = memchr(p, ' ', n);
        if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - p))) {
            rc = chirp_fail("%s:%d: expected two tokens separated by one space", path, line);
            break;
        }
        int32_t a = lookup_piece(t, p, (size_t)(sp - p));
        int32_t b = lookup_piece(t, sp + 1, n - (size_t)(sp + 1 - p));
        if (a < 0 || b < 0) {
            rc = chirp_fail("%s:%d: merge names an unknown token '%.*s'", path, line,
                            a < 0 ? (int)(sp - p) : (int)(n - (size_t)(sp + 1 - p)), a < 0 ? p : sp + 1);
            break;
        }
        if (tok_add_merge(t, a, b) != 0) {
            chirp_error_prefix("%s:%d: ", path, line);
            rc = -1;
            break;
        }
    next:
        p = eol + 1;
    }
    free(data);
    return rc;
}

Tokenizer *tokenizer_load_gpt2(const char *encoder_json, const char *vocab_bpe) {
    Tokenizer *t = tok_new();
    if (load_encoder(t, encoder_json) != 0 || load_merges(t, vocab_bpe) != 0) goto fail;
    int32_t eot = tok_lookup(t, "<|endoftext|>", 13);
    if (eot >= 0 && tok_add_added(t, eot, "<|endoftext|>", 13, true) != 0) goto fail;
    if (tok_finish(t) != 0) {
        chirp_error_prefix("%s: ", encoder_json);
        goto fail;
    }
    return t;
fail:
    tokenizer_free(t);
    return NULL;
}
