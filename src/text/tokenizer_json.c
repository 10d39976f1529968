/* tokenizer_json.c: Hugging Face tokenizer.json, byte-level BPE only.
 *
 * Read: model.type "BPE" with vocab {string: id} and merges (either "a b"
 * strings or ["a", "b"] pairs, as newer HF versions write), a ByteLevel
 * pre-tokenizer, no normalizer, and added_tokens (their "special" flag
 * decides whether --allow-special matches them). Anything else that would
 * change the encoding (a different pre-tokenizer, a normalizer, a subword
 * prefix, byte fallback) is refused rather than silently ignored.
 * Written: the same layout HF writes for GPT-2, merges as "a b" strings
 * (byte-level tokens never contain a space), which every HF version reads. */
#include "text/tokenizer_json.h"

#include "text/tok_internal.h"
#include "util/error.h"
#include "util/file.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int check_empty_string_or_null(json_t *model, const char *key, const char *name) {
    json_t *v = json_object_get(model, key);
    if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) return 0;
    return chirp_fail("%s: model.%s is set; chirp supports only plain byte-level BPE", name, key);
}

static int check_pipeline(json_t *root, json_t *model, const char *name) {
    json_t *type = json_object_get(model, "type");
    if (type && (!json_is_string(type) || strcmp(json_string_value(type), "BPE") != 0))
        return chirp_fail("%s: model.type is not \"BPE\"", name);
    json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm)) return chirp_fail("%s: a normalizer is set; chirp supports none", name);
    json_t *pre = json_object_get(root, "pre_tokenizer");
    json_t *ptype = pre ? json_object_get(pre, "type") : NULL;
    if (!ptype || !json_is_string(ptype) || strcmp(json_string_value(ptype), "ByteLevel") != 0)
        return chirp_fail("%s: pre_tokenizer is not ByteLevel; chirp supports GPT-2's byte-level BPE only", name);
    json_t *regex = json_object_get(pre, "use_regex");
    if (regex && json_is_false(regex))
        return chirp_fail("%s: pre_tokenizer.use_regex is false; chirp supports GPT-2's regex only", name);
    json_t *prefix = json_object_get(pre, "add_prefix_space");
    if (prefix && json_is_true(prefix))
        return chirp_fail("%s: pre_tokenizer.add_prefix_space is true; chirp does not support it", name);
    if (check_empty_string_or_null(model, "continuing_subword_prefix", name) ||
        check_empty_string_or_null(model, "end_of_word_suffix", name))
        return -1;
    json_t *fallback = json_object_get(model, "byte_fallback");
    if (fallback && json_is_true(fallback)) return chirp_fail("%s: model.byte_fallback is not supported", name);
    return 0;
}

/* The id of an added token whose content is key, or -1. */
static int32_t added_id(json_t *added, const char *key) {
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a) {
        json_t *c = json_object_get(a, "content");
        json_t *id = json_object_get(a, "id");
        if (json_is_string(c) && json_is_integer(id) && strcmp(json_string_value(c), key) == 0)
            return (int32_t)json_integer_value(id);
    }
    return -1;
}

static int load_vocab(Tokenizer *t, json_t *vocab, json_t *added, const char *name) {
    const char *key;
    json_t *val;
    json_object_foreach(vocab, key, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= TOK_MAX_IDS)
            return chirp_fail("%s: model.vocab: the id of '%s' is not a valid id", name, key);
        int32_t id = (int32_t)json_integer_value(val);
        size_t klen = strlen(key);
        char *bytes = xmalloc(klen + 1);
        long n;
        if (added && added_id(added, key) == id) {
            /* An added token: its raw text, as HF matches it. */
            memcpy(bytes, key, klen);
            n = (long)klen;
        } else {
            n = bytelevel_decode(key, klen, bytes);
        }
        if (n <= 0) {
            free(bytes);
            return chirp_fail("%s: model.vocab: '%s' is not a byte-level token", name, key);
        }
        int rc = tok_add_token(t, id, bytes, (size_t)n);
        free(bytes);
        if (rc != 0) {
            chirp_error_prefix("%s: model.vocab: ", name);
            return -1;
        }
    }
    return 0;
}

static int32_t lookup_piece(Tokenizer *t, const char *s, size_t n) {
    char *bytes = xmalloc(n + 1);
    long b = bytelevel_decode(s, n, bytes);
    int32_t id = b > 0 ? tok_lookup(t, bytes, (size_t)b) : -1;
    free(bytes);
    return id;
}

static int load_merges(Tokenizer *t, json_t *merges, const char *name) {
    size_t i;
    json_t *m;
    json_array_foreach(merges, i, m) {
        const char *a, *b;
        size_t alen, blen;
        if (json_is_string(m)) {
            a = json_string_value(m);
            const char *sp = strchr(a, ' ');
            if (!sp || strchr(sp + 1, ' ') || sp == a || sp[1] == '\0')
                return chirp_fail("%s: merge %zu: expected \"a b\"", name, i + 1);
            alen = (size_t)(sp - a);
            b = sp + 1;
            blen = strlen(b);
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
            alen = strlen(a);
            blen = strlen(b);
        } else {
            return chirp_fail("%s: merge %zu: expected \"a b\" or [\"a\", \"b\"]", name, i + 1);
        }
        int32_t ia = lookup_piece(t, a, alen), ib = lookup_piece(t, b, blen);
        if (ia < 0 || ib < 0)
            return chirp_fail("%s: merge %zu names an unknown token '%.*s'", name, i + 1,
                              ia < 0 ? (int)alen : (int)blen, ia < 0 ? a : b);
        if (tok_add_merge(t, ia, ib) != 0) {
            chirp_error_prefix("%s: ", name);
            return -1;
        }
    }
    return 0;
}

static int load_added(Tokenizer *t, json_t *added, const char *name) {
    size_t i;
    json_t *a;
    json_array_foreach(added, i, a) {
        json_t *id = json_object_get(a, "id"), *c = json_object_get(a, "content");
        json_t *sp = json_object_get(a, "special");
        if (!json_is_integer(id) || !json_is_string(c) || json_integer_value(id) < 0 ||
            json_integer_value(id) >= TOK_MAX_IDS)
            return chirp_fail("%s: added_tokens[%zu]: needs an integer \"id\" and a string \"content\"", name, i);
        if (tok_add_added(t, (int32_t)json_integer_value(id), json_string_value(c), json_string_length(c),
                          !sp || json_is_true(sp)) != 0) {
            chirp_error_prefix("%s: ", name);
            return -1;
        }
    }
    return 0;
}

Tokenizer *tokenizer_load_json_buffer(const char *data, size_t len, const char *name) {
    json_error_t err;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        chirp_fail("%s:%d:%d: %s", name, err.line, err.column, err.text);
        return NULL;
    }
    Tokenizer *t = tok_new();
    json_t *model = json_object_get(root, "model");
    json_t *vocab = model ? json_object_get(model, "vocab") : NULL;
    json_t *merges = model ? json_object_get(model, "merges") : NULL;
    json_t *added = json_object_get(root, "added_tokens");
    if (!json_is_object(root) || !json_is_object(model) || !json_is_object(vocab) || !json_is_array(merges)) {
        chirp_fail("%s: not a tokenizer.json (needs model.vocab and model.merges)", name);
        goto fail;
    }
    if (added && !json_is_array(added) && !json_is_null(added)) {
        chirp_fail("%s: added_tokens is not an array", name);
        goto fail;
    }
    if (!json_is_array(added)) added = NULL;
    if (check_pipeline(root, model, name) != 0 || load_vocab(t, vocab, added, name) != 0 ||
        load_merges(t, merges, name) != 0 || (added && load_added(t, added, name) != 0))
        goto fail;
    if (tok_finish(t) != 0) {
        chirp_error_prefix("%s: ", name);
        goto fail;
    }
    json_decref(root);
    return t;
fail:
    json_decref(root);
    tokenizer_free(t);
    return NULL;
}

Tokenizer *tokenizer_load_json(const char *path) {
    size_t len;
    char *data = file_read_all(path, &len);
    if (!data) return NULL;
    Tokenizer *t = tokenizer_load_json_buffer(data, len, path);
    free(data);
    return t;
}

static const AddedToken *find_added(const Tokenizer *t, int32_t id) {
    for (int i = 0; i < t->n_added; i++)
        if (t->added[i].id == id) return &t->added[i];
    return NULL;
}

/* The vocab key of an id: its byte-level string, or an added token's raw
 * text (which HF matches before byte-level mapping). */
static char *vocab_key(const Tokenizer *t, int32_t id) {
    const AddedToken *a = find_added(t, id);
    if (a) return xstrdup(a->text);
    size_t n;
    return bytelevel_encode(t->blob + t->off[id], t->len[id], &n);
}

char *tokenizer_vocab_entry(const Tokenizer *t, int32_t id, TokenKind *kind) {
    if (id < 0 || id >= t->n_ids || !t->present[id]) {
        *kind = TOKEN_MISSING;
        return NULL;
    }
    const AddedToken *a = find_added(t, id);
    *kind = !a ? TOKEN_NORMAL : a->special ? TOKEN_SPECIAL : TOKEN_ADDED;
    return vocab_key(t, id);
}

int tokenizer_merge_count(const Tokenizer *t) { return t->n_merges; }

char *tokenizer_merge_entry(const Tokenizer *t, int rank) {
    if (rank < 0 || rank >= t->n_merges) return NULL;
    size_t la, lb;
    char *a = bytelevel_encode(t->blob + t->off[t->merge_left[rank]], t->len[t->merge_left[rank]], &la);
    char *b = bytelevel_encode(t->blob + t->off[t->merge_right[rank]], t->len[t->merge_right[rank]], &lb);
    char *m = xmalloc(la + lb + 2);
    memcpy(m, a, la);
    m[la] = ' ';
    memcpy(m + la + 1, b, lb + 1);
    free(a);
    free(b);
    return m;
}

static json_t *byte_level(bool prefix, bool trim) {
    return json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", prefix, "trim_offsets", trim,
                     "use_regex", 1);
}

char *tokenizer_to_json(const Tokenizer *t) {
    json_t *root = json_object();
    json_object_set_new(root, "version", json_string("1.0"));
    json_object_set_new(root, "truncation", json_null());
    json_object_set_new(root, "padding", json_null());
    json_t *added = json_array();
    /* HF lists added tokens by id. */
    for (int32_t id = 0; id < t->n_ids; id++) {
        const AddedToken *a = find_added(t, id);
        if (!a) continue;
        json_array_append_new(added, json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", (int)a->id, "content",
                                               a->text, "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0,
                                               "special", a->special));
    }
    json_object_set_new(root, "added_tokens", added);
    json_object_set_new(root, "normalizer", json_null());
    json_object_set_new(root, "pre_tokenizer", byte_level(false, true));
    json_object_set_new(root, "post_processor", byte_level(true, false));
    json_object_set_new(root, "decoder", byte_level(true, true));
    json_t *model = json_object();
    json_object_set_new(model, "type", json_string("BPE"));
    json_object_set_new(model, "dropout", json_null());
    json_object_set_new(model, "unk_token", json_null());
    json_object_set_new(model, "continuing_subword_prefix", json_string(""));
    json_object_set_new(model, "end_of_word_suffix", json_string(""));
    json_object_set_new(model, "fuse_unk", json_false());
    json_object_set_new(model, "byte_fallback", json_false());
    json_t *vocab = json_object();
    for (int32_t id = 0; id < t->n_ids; id++) {
        if (!t->present[id]) continue;
        char *key = vocab_key(t, id);
        json_object_set_new(vocab, key, json_integer(id));
        free(key);
    }
    json_object_set_new(model, "vocab", vocab);
    json_t *merges = json_array();
    for (int32_t r = 0; r < t->n_merges; r++) {
        char *m = tokenizer_merge_entry(t, r);
        json_array_append_new(merges, json_string(m));
        free(m);
    }
    json_object_set_new(model, "merges", merges);
    json_object_set_new(root, "model", model);
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!s) chirp_fail("cannot serialize the tokenizer to JSON");
    return s;
}

int tokenizer_save(const Tokenizer *t, const char *json_path) {
    char *s = tokenizer_to_json(t);
    if (!s) return -1;
    int rc = file_write_atomic(json_path, s, strlen(s));
    free(s);
    return rc;
}
