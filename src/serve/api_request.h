/* api_request.h: OpenAI-style request bodies, parsed and validated.
 *
 * The HTTP layer hands a request body (untrusted bytes) to
 * api_request_parse(), which either fills an ApiRequest with every field
 * checked (types, ranges, the vocabulary for token ids) or fills an
 * ApiError naming the field that is wrong, as OpenAI does:
 * {"error": {"message", "type", "param", "code"}}. Unknown fields are
 * ignored. Nothing here tokenizes or touches the model, so it can be
 * fuzzed on its own (fuzz/fuzz_api_request.c). */
#ifndef CHIRP_SERVE_API_REQUEST_H
#define CHIRP_SERVE_API_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "infer/sampler.h"
#include "text/chat_template.h"

typedef enum { API_CHAT = 0, API_COMPLETION = 1, API_TOKENIZE = 2, API_DETOKENIZE = 3 } ApiKind;

/* Limits the server applies while parsing. */
typedef struct ApiLimits {
    int max_n;      /* choices per request (--parallel) */
    int vocab_size; /* token ids must be below this */
    int n_ctx;      /* the model's context, for max_tokens clamping */
} ApiLimits;

typedef struct ApiError {
    int status; /* HTTP status: 400, 401, 404, 405, 413, 503, 500 */
    char message[512];
    const char *type; /* "invalid_request_error", "authentication_error", ... */
    char param[64];   /* the offending field, or "" */
    const char *code; /* e.g. "context_length_exceeded", or NULL */
} ApiError;

typedef struct ApiBias {
    int32_t token;
    float bias; /* added to the token's logit, -100 .. 100 */
} ApiBias;

/* One prompt of /v1/completions: text, or token ids given directly. */
typedef struct ApiPrompt {
    char *text; /* NULL when ids are given */
    int32_t *ids;
    int n_ids;
} ApiPrompt;

typedef struct ApiRequest {
    ApiKind kind;
    char *model; /* as sent (echoed nowhere: the server answers with its alias) */
    /* chat */
    ChatMessage *messages; /* role and content strings owned here */
    int n_messages;
    /* completions (and /tokenize's "content") */
    ApiPrompt *prompts;
    int n_prompts;
    /* generation */
    int max_tokens;        /* -1: as many as the context allows */
    SamplerConfig sampler; /* seed included */
    bool seed_given;
    char **stops;
    int n_stops;
    int n; /* choices per prompt */
    bool stream, include_usage;
    bool logprobs;
    int top_logprobs; /* 0 .. 20 */
    ApiBias *bias;
    int n_bias;
    bool echo; /* completions: prepend the prompt to the text */
    char *user;
    /* /tokenize and /detokenize */
    bool add_special, with_pieces;
    int32_t *tokens; /* /detokenize */
    int n_tokens;
} ApiRequest;

/* Parses body[0 .. len) for the endpoint kind. Returns 0, or -1 with err
 * filled (status 400 and the field). On success the caller must call
 * api_request_free(); on failure nothing needs freeing. */
int api_request_parse(ApiKind kind, const char *body, size_t len, const ApiLimits *lim, ApiRequest *req, ApiError *err);

void api_request_free(ApiRequest *req);

/* Fills err; returns -1 (for `return api_error(...)`). param may be NULL. */
int api_error(ApiError *err, int status, const char *type, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

#endif
