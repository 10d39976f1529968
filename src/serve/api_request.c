/* api_request.c: parsing and validating OpenAI-style request bodies (see
 * api_request.h). Every check names the field, as OpenAI's errors do. */
#include "serve/api_request.h"

#include "util/buf.h"
#include "util/error.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STOPS 16
#define MAX_STOP_BYTES 256
#define MAX_PROMPTS 64
#define MAX_MESSAGES 4096
#define MAX_BIAS 1024

int api_error(ApiError *err, int status, const char *type, const char *param, const char *code, const char *fmt, ...) {
    err->status = status;
    err->type = type;
    err->code = code;
    snprintf(err->param, sizeof err->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static int bad(ApiError *err, const char *param, const char *fmt, const char *detail) {
    return api_error(err, 400, "invalid_request_error", param, NULL, fmt, param, detail);
}

/* A field that is absent or JSON null takes its default (OpenAI's
 * clients send null for "not given"). */
static json_t *field(json_t *o, const char *key) {
    json_t *v = json_object_get(o, key);
    return v && !json_is_null(v) ? v : NULL;
}

static int get_number(json_t *o, const char *key, double lo, double hi, float *out, ApiError *err) {
    json_t *v = field(o, key);
    if (!v) return 0;
    if (!json_is_number(v)) return bad(err, key, "'%s' must be a number%s", "");
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi)) {
        char range[96];
        snprintf(range, sizeof range, " between %g and %g, got %g", lo, hi, d);
        return bad(err, key, "'%s' must be%s", range);
    }
    *out = (float)d;
    return 0;
}

static int get_int(json_t *o, const char *key, long long lo, long long hi, long long *out, ApiError *err) {
    json_t *v = field(o, key);
    if (!v) return 0;
    if (!json_is_integer(v)) return bad(err, key, "'%s' must be an integer%s", "");
    long long x = json_integer_value(v);
    if (x < lo || x > hi) {
        char range[96];
        snprintf(range, sizeof range, " between %lld and %lld, got %lld", lo, hi, x);
        return bad(err, key, "'%s' must be%s", range);
    }
    *out = x;
    return 0;
}

static int get_bool(json_t *o, const char *key, bool *out, ApiError *err) {
    json_t *v = field(o, key);
    if (!v) return 0;
    if (!json_is_boolean(v)) return bad(err, key, "'%s' must be a boolean%s", "");
    *out = json_is_true(v);
    return 0;
}

static int get_string(json_t *o, const char *key, char **out, ApiError *err) {
    json_t *v = field(o, key);
    if (!v) return 0;
    if (!json_is_string(v)) return bad(err, key, "'%s' must be a string%s", "");
    *out = xstrdup(json_string_value(v));
    return 0;
}

static int parse_stop(json_t *o, ApiRequest *r, ApiError *err) {
    json_t *v = field(o, "stop");
    if (!v) return 0;
    if (json_is_string(v)) {
        if (json_string_length(v) > MAX_STOP_BYTES) return bad(err, "stop", "'%s' strings are at most 256 bytes%s", "");
        if (json_string_length(v) == 0) return 0;
        r->stops = xcalloc(1, sizeof(char *));
        r->stops[r->n_stops++] = xstrdup(json_string_value(v));
        return 0;
    }
    if (!json_is_array(v)) return bad(err, "stop", "'%s' must be a string or an array of strings%s", "");
    if (json_array_size(v) > MAX_STOPS) return bad(err, "stop", "'%s' holds at most 16 strings%s", "");
    r->stops = xcalloc(json_array_size(v) + 1, sizeof(char *));
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        if (!json_is_string(s)) return bad(err, "stop", "'%s' must be a string or an array of strings%s", "");
        if (json_string_length(s) > MAX_STOP_BYTES) return bad(err, "stop", "'%s' strings are at most 256 bytes%s", "");
        if (json_string_length(s) > 0) r->stops[r->n_stops++] = xstrdup(json_string_value(s));
    }
    return 0;
}

static int parse_logit_bias(json_t *o, const ApiLimits *lim, ApiRequest *r, ApiError *err) {
    json_t *v = field(o, "logit_bias");
    if (!v) return 0;
    if (!json_is_object(v)) return bad(err, "logit_bias", "'%s' must be an object of token id -> bias%s", "");
    if (json_object_size(v) > MAX_BIAS) return bad(err, "logit_bias", "'%s' holds at most 1024 entries%s", "");
    r->bias = xcalloc(json_object_size(v) + 1, sizeof(ApiBias));
    const char *key;
    json_t *b;
    json_object_foreach(v, key, b) {
        char *end;
        errno = 0;
        long id = strtol(key, &end, 10);
        if (*key == '\0' || *end != '\0' || errno || id < 0 || id >= lim->vocab_size) {
            char d[96];
            snprintf(d, sizeof d, " (token ids are 0 .. %d)", lim->vocab_size - 1);
            return bad(err, "logit_bias", "'%s' keys must be token ids%s", d);
        }
        if (!json_is_number(b) || json_number_value(b) < -100 || json_number_value(b) > 100)
            return bad(err, "logit_bias", "'%s' values must be numbers between -100 and 100%s", "");
        r->bias[r->n_bias++] = (ApiBias){(int32_t)id, (float)json_number_value(b)};
    }
    return 0;
}

/* Token ids: an array of integers below the vocabulary size. */
static int parse_ids(json_t *a, const char *param, const ApiLimits *lim, int32_t **ids, int *n, ApiError *err) {
    size_t len = json_array_size(a);
    *ids = xmalloc((len + 1) * sizeof(int32_t));
    *n = 0;
    size_t i;
    json_t *t;
    json_array_foreach(a, i, t) {
        if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) >= lim->vocab_size) {
            char d[96];
            snprintf(d, sizeof d, " (0 .. %d)", lim->vocab_size - 1);
            return bad(err, param, "'%s' token ids must be integers in the vocabulary%s", d);
        }
        (*ids)[(*n)++] = (int32_t)json_integer_value(t);
    }
    return 0;
}

static ApiPrompt *add_prompt(ApiRequest *r) {
    r->prompts = xrealloc(r->prompts, (size_t)(r->n_prompts + 1) * sizeof(ApiPrompt));
    ApiPrompt *p = &r->prompts[r->n_prompts++];
    memset(p, 0, sizeof *p);
    return p;
}

/* "prompt": a string, an array of strings, an array of token ids, or an
 * array of arrays of token ids. */
static int parse_prompt(json_t *o, const ApiLimits *lim, ApiRequest *r, ApiError *err) {
    json_t *v = field(o, "prompt");
    if (!v) return api_error(err, 400, "invalid_request_error", "prompt", NULL, "'prompt' is required");
    if (json_is_string(v)) {
        add_prompt(r)->text = xstrdup(json_string_value(v));
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return bad(err, "prompt", "'%s' must be a string, an array of strings or an array of token ids%s", "");
    if (json_is_integer(json_array_get(v, 0))) {
        ApiPrompt *p = add_prompt(r);
        return parse_ids(v, "prompt", lim, &p->ids, &p->n_ids, err);
    }
    if (json_array_size(v) > MAX_PROMPTS) return bad(err, "prompt", "'%s' holds at most 64 prompts%s", "");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (json_is_string(e)) {
            add_prompt(r)->text = xstrdup(json_string_value(e));
        } else if (json_is_array(e) && json_array_size(e) > 0) {
            ApiPrompt *p = add_prompt(r);
            if (parse_ids(e, "prompt", lim, &p->ids, &p->n_ids, err) != 0) return -1;
        } else {
            return bad(err, "prompt", "'%s' must be a string, an array of strings or an array of token ids%s", "");
        }
    }
    return 0;
}

/* A message's content: a string, or an array of {"type": "text", "text"}
 * parts (joined). Images and audio are not something this model reads. */
static int message_content(json_t *c, char **out, ApiError *err) {
    if (!c) {
        *out = xstrdup("");
        return 0;
    }
    if (json_is_string(c)) {
        *out = xstrdup(json_string_value(c));
        return 0;
    }
    if (!json_is_array(c)) return bad(err, "messages", "'%s' content must be a string or an array of text parts%s", "");
    Buf b = {0};
    size_t i;
    json_t *part;
    json_array_foreach(c, i, part) {
        json_t *type = json_object_get(part, "type"), *text = json_object_get(part, "text");
        if (!json_is_object(part) || !json_is_string(type) || strcmp(json_string_value(type), "text") != 0 ||
            !json_is_string(text)) {
            buf_free(&b);
            return bad(err, "messages", "'%s' content parts must be {\"type\": \"text\", \"text\": ...}%s", "");
        }
        buf_push(&b, json_string_value(text), json_string_length(text));
    }
    buf_terminate(&b);
    *out = b.data ? b.data : xstrdup("");
    return 0;
}

static int parse_messages(json_t *o, ApiRequest *r, ApiError *err) {
    json_t *v = field(o, "messages");
    if (!v) return api_error(err, 400, "invalid_request_error", "messages", NULL, "'messages' is required");
    if (!json_is_array(v) || json_array_size(v) == 0)
        return bad(err, "messages", "'%s' must be a non-empty array of messages%s", "");
    if (json_array_size(v) > MAX_MESSAGES) return bad(err, "messages", "'%s' holds at most 4096 messages%s", "");
    r->messages = xcalloc(json_array_size(v), sizeof(ChatMessage));
    size_t i;
    json_t *m;
    json_array_foreach(v, i, m) {
        json_t *role = json_is_object(m) ? json_object_get(m, "role") : NULL;
        if (!json_is_string(role))
            return bad(err, "messages", "'%s' entries must be objects with a string 'role'%s", "");
        const char *rs = json_string_value(role), *canon = NULL;
        if (!strcmp(rs, "system") || !strcmp(rs, "developer")) canon = "system";
        else if (!strcmp(rs, "user")) canon = "user";
        else if (!strcmp(rs, "assistant")) canon = "assistant";
        if (!canon) {
            char d[96];
            snprintf(d, sizeof d, ": '%.40s' (system, developer, user or assistant)", rs);
            return bad(err, "messages", "'%s' has an unsupported role%s", d);
        }
        char *content = NULL;
        if (message_content(field(m, "content"), &content, err) != 0) return -1;
        r->messages[r->n_messages++] = (ChatMessage){canon, content};
    }
    return 0;
}

static int parse_generation(json_t *o, const ApiLimits *lim, ApiRequest *r, ApiError *err) {
    long long x;
    r->max_tokens = r->kind == API_COMPLETION ? 16 : -1;
    const char *mt = field(o, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    x = -1;
    if (get_int(o, mt, 1, (long long)1 << 40, &x, err) != 0) return -1;
    /* More than the context can hold just runs to the end of it. */
    if (x > 0) r->max_tokens = x > lim->n_ctx ? lim->n_ctx : (int)x;

    SamplerConfig *s = &r->sampler;
    sampler_config_default(s);
    if (get_number(o, "temperature", 0, 2, &s->temperature, err) != 0 ||
        get_number(o, "top_p", 0, 1, &s->top_p, err) != 0 || get_number(o, "min_p", 0, 1, &s->min_p, err) != 0 ||
        get_number(o, "frequency_penalty", -2, 2, &s->frequency_penalty, err) != 0 ||
        get_number(o, "presence_penalty", -2, 2, &s->presence_penalty, err) != 0 ||
        get_number(o, "repetition_penalty", 0.01, 10, &s->repetition_penalty, err) != 0)
        return -1;
    x = 0;
    if (get_int(o, "top_k", 0, lim->vocab_size, &x, err) != 0) return -1;
    s->top_k = (int)x;
    json_t *seed = field(o, "seed");
    if (seed) {
        if (!json_is_integer(seed)) return bad(err, "seed", "'%s' must be an integer%s", "");
        s->seed = (uint64_t)json_integer_value(seed);
        r->seed_given = true;
    }
    x = 1;
    if (get_int(o, "n", 1, lim->max_n, &x, err) != 0) return -1;
    r->n = (int)x;
    if (get_bool(o, "stream", &r->stream, err) != 0) return -1;
    json_t *so = field(o, "stream_options");
    if (so) {
        if (!json_is_object(so)) return bad(err, "stream_options", "'%s' must be an object%s", "");
        if (get_bool(so, "include_usage", &r->include_usage, err) != 0) return -1;
    }
    if (parse_stop(o, r, err) != 0 || parse_logit_bias(o, lim, r, err) != 0) return -1;
    if (get_string(o, "user", &r->user, err) != 0) return -1;

    if (r->kind == API_CHAT) {
        if (get_bool(o, "logprobs", &r->logprobs, err) != 0) return -1;
        x = 0;
        if (get_int(o, "top_logprobs", 0, 20, &x, err) != 0) return -1;
        r->top_logprobs = (int)x;
        if (x > 0 && !r->logprobs) return bad(err, "top_logprobs", "'%s' needs 'logprobs' set to true%s", "");
    } else {
        /* The completions API's logprobs is a count of top tokens. */
        x = -1;
        if (get_int(o, "logprobs", 0, 5, &x, err) != 0) return -1;
        r->logprobs = x >= 0;
        r->top_logprobs = x > 0 ? (int)x : 0;
        if (get_bool(o, "echo", &r->echo, err) != 0) return -1;
    }
    return 0;
}

int api_request_parse(ApiKind kind, const char *body, size_t len, const ApiLimits *lim, ApiRequest *r, ApiError *err) {
    memset(r, 0, sizeof *r);
    r->kind = kind;
    json_error_t je;
    json_t *o = json_loadb(body, len, 0, &je);
    if (!o) {
        api_error(err, 400, "invalid_request_error", NULL, NULL, "the body is not valid JSON: %s (line %d, column %d)",
                  je.text, je.line, je.column);
        return -1;
    }
    int rc = 0;
    if (!json_is_object(o)) {
        rc = api_error(err, 400, "invalid_request_error", NULL, NULL, "the body must be a JSON object");
    } else if (get_string(o, "model", &r->model, err) != 0) {
        rc = -1;
    } else if (kind == API_CHAT) {
        rc = parse_messages(o, r, err) == 0 && parse_generation(o, lim, r, err) == 0 ? 0 : -1;
    } else if (kind == API_COMPLETION) {
        rc = parse_prompt(o, lim, r, err) == 0 && parse_generation(o, lim, r, err) == 0 ? 0 : -1;
    } else if (kind == API_TOKENIZE) {
        json_t *c = field(o, "content");
        if (!json_is_string(c)) rc = bad(err, "content", "'%s' is required and must be a string%s", "");
        else add_prompt(r)->text = xstrdup(json_string_value(c));
        if (rc == 0 && (get_bool(o, "add_special", &r->add_special, err) != 0 ||
                        get_bool(o, "with_pieces", &r->with_pieces, err) != 0))
            rc = -1;
    } else {
        json_t *t = field(o, "tokens");
        if (!json_is_array(t)) rc = bad(err, "tokens", "'%s' is required and must be an array of token ids%s", "");
        else rc = parse_ids(t, "tokens", lim, &r->tokens, &r->n_tokens, err);
    }
    json_decref(o);
    if (rc != 0) api_request_free(r);
    return rc;
}

void api_request_free(ApiRequest *r) {
    free(r->model);
    for (int i = 0; i < r->n_messages; i++) free((char *)r->messages[i].content);
    free(r->messages);
    for (int i = 0; i < r->n_prompts; i++) {
        free(r->prompts[i].text);
        free(r->prompts[i].ids);
    }
    free(r->prompts);
    for (int i = 0; i < r->n_stops; i++) free(r->stops[i]);
    free(r->stops);
    free(r->bias);
    free(r->user);
    free(r->tokens);
    memset(r, 0, sizeof *r);
}
