/* api_response.c: OpenAI-shaped JSON for responses and stream chunks
 * (see api_response.h). */
#include "serve/api_response.h"

#include "text/utf8.h"
#include "util/error.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static json_t *text_value(const char *s, size_t len) {
    size_t n;
    char *clean = utf8_sanitize(s, len, &n);
    json_t *v = json_stringn(clean, n);
    free(clean);
    return v;
}

/* jansson refuses inf and NaN; a probability that underflowed is
 * reported as a very negative log-probability instead. */
static json_t *logprob_value(float lp) { return json_real(isfinite(lp) ? lp : -9999.0); }

static json_t *token_text(const ApiMeta *m, int32_t id) {
    size_t len = 0;
    const char *b = tokenizer_token_bytes(m->tok, id, &len);
    return text_value(b ? b : "", b ? len : 0);
}

static json_t *token_bytes(const ApiMeta *m, int32_t id) {
    size_t len = 0;
    const char *b = tokenizer_token_bytes(m->tok, id, &len);
    json_t *a = json_array();
    for (size_t i = 0; b && i < len; i++) json_array_append_new(a, json_integer((unsigned char)b[i]));
    return a;
}

/* Chat: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}. */
static json_t *chat_logprobs(const ApiMeta *m, const ApiChoice *c) {
    json_t *content = json_array();
    for (int i = 0; i < c->n_logprobs; i++) {
        const ApiLogprob *lp = &c->logprobs[i];
        json_t *top = json_array();
        for (int k = 0; k < lp->n_top; k++)
            json_array_append_new(top,
                                  json_pack("{s:o, s:o, s:o}", "token", token_text(m, lp->top_id[k]), "logprob",
                                            logprob_value(lp->top_logprob[k]), "bytes", token_bytes(m, lp->top_id[k])));
        json_array_append_new(content, json_pack("{s:o, s:o, s:o, s:o}", "token", token_text(m, lp->id), "logprob",
                                                 logprob_value(lp->logprob), "bytes", token_bytes(m, lp->id),
                                                 "top_logprobs", top));
    }
    return json_pack("{s:o, s:n}", "content", content, "refusal");
}

/* Completions (the legacy shape): parallel arrays. */
static json_t *completion_logprobs(const ApiMeta *m, const ApiChoice *c) {
    json_t *tokens = json_array(), *lps = json_array(), *tops = json_array(), *offsets = json_array();
    int offset = c->text_offset;
    for (int i = 0; i < c->n_logprobs; i++) {
        const ApiLogprob *lp = &c->logprobs[i];
        json_array_append_new(tokens, token_text(m, lp->id));
        json_array_append_new(lps, logprob_value(lp->logprob));
        json_t *top = json_object();
        for (int k = 0; k < lp->n_top; k++) {
            json_t *t = token_text(m, lp->top_id[k]);
            json_object_set_new(top, json_string_value(t), logprob_value(lp->top_logprob[k]));
            json_decref(t);
        }
        json_array_append_new(tops, top);
        json_array_append_new(offsets, json_integer(offset));
        size_t len = 0;
        tokenizer_token_bytes(m->tok, lp->id, &len);
        offset += (int)len;
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "tokens", tokens, "token_logprobs", lps, "top_logprobs", tops,
                     "text_offset", offsets);
}

static json_t *choice_logprobs(const ApiMeta *m, const ApiChoice *c) {
    if (!c->logprobs) return json_null();
    return m->kind == API_CHAT ? chat_logprobs(m, c) : completion_logprobs(m, c);
}

static json_t *finish_value(const ApiChoice *c) {
    return c->finish_reason ? json_string(c->finish_reason) : json_null();
}

static json_t *envelope(const ApiMeta *m, const char *object) {
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", m->id, "object", object, "created", (json_int_t)m->created,
                     "model", m->model, "system_fingerprint", "chirp");
}

static char *dump(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) s = xstrdup("{}");
    return s;
}

static json_t *usage_value(const ApiUsage *u) {
    return json_pack("{s:i, s:i, s:i}", "prompt_tokens", u->prompt_tokens, "completion_tokens", u->completion_tokens,
                     "total_tokens", u->prompt_tokens + u->completion_tokens);
}

char *api_response_json(const ApiMeta *m, const ApiChoice *choices, int n, const ApiUsage *u) {
    bool chat = m->kind == API_CHAT;
    json_t *o = envelope(m, chat ? "chat.completion" : "text_completion");
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        const ApiChoice *c = &choices[i];
        json_t *ch;
        if (chat)
            ch = json_pack("{s:i, s:{s:s, s:o, s:n}, s:o, s:o}", "index", c->index, "message", "role", "assistant",
                           "content", text_value(c->text, c->len), "refusal", "logprobs", choice_logprobs(m, c),
                           "finish_reason", finish_value(c));
        else
            ch = json_pack("{s:i, s:o, s:o, s:o}", "index", c->index, "text", text_value(c->text, c->len), "logprobs",
                           choice_logprobs(m, c), "finish_reason", finish_value(c));
        json_array_append_new(arr, ch);
    }
    json_object_set_new(o, "choices", arr);
    json_object_set_new(o, "usage", usage_value(u));
    return dump(o);
}

char *api_chunk_json(const ApiMeta *m, const ApiChoice *c, bool role_chunk, bool usage_null) {
    bool chat = m->kind == API_CHAT;
    json_t *o = envelope(m, chat ? "chat.completion.chunk" : "text_completion");
    json_t *ch;
    if (chat) {
        json_t *delta = json_object();
        if (role_chunk) json_object_set_new(delta, "role", json_string("assistant"));
        if (role_chunk || c->len > 0) json_object_set_new(delta, "content", text_value(c->text, c->len));
        ch = json_pack("{s:i, s:o, s:o, s:o}", "index", c->index, "delta", delta, "logprobs", choice_logprobs(m, c),
                       "finish_reason", finish_value(c));
    } else {
        ch = json_pack("{s:i, s:o, s:o, s:o}", "index", c->index, "text", text_value(c->text, c->len), "logprobs",
                       choice_logprobs(m, c), "finish_reason", finish_value(c));
    }
    json_object_set_new(o, "choices", json_pack("[o]", ch));
    if (usage_null) json_object_set_new(o, "usage", json_null());
    return dump(o);
}

char *api_usage_chunk_json(const ApiMeta *m, const ApiUsage *u) {
    json_t *o = envelope(m, m->kind == API_CHAT ? "chat.completion.chunk" : "text_completion");
    json_object_set_new(o, "choices", json_array());
    json_object_set_new(o, "usage", usage_value(u));
    return dump(o);
}

char *api_error_json(const ApiError *e) {
    json_t *o =
        json_pack("{s:{s:o, s:s, s:o, s:o}}", "error", "message", text_value(e->message, strlen(e->message)), "type",
                  e->type ? e->type : "server_error", "param", e->param[0] ? json_string(e->param) : json_null(),
                  "code", e->code ? json_string(e->code) : json_null());
    return dump(o);
}

void api_new_id(char *out, size_t cap, const char *prefix) {
    unsigned char r[12];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        /* No entropy yet (early boot): ids need to be unique, not secret. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long x =
            (unsigned long long)ts.tv_nsec ^ ((unsigned long long)ts.tv_sec << 20) ^ (unsigned long long)(size_t)out;
        for (size_t i = 0; i < sizeof r; i++, x = x * 6364136223846793005ull + 1442695040888963407ull)
            r[i] = (unsigned char)(x >> 56);
    }
    int n = snprintf(out, cap, "%s", prefix);
    for (size_t i = 0; i < sizeof r && n + 2 < (int)cap; i++) n += snprintf(out + n, cap - (size_t)n, "%02x", r[i]);
}
