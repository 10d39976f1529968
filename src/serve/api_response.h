/* api_response.h: OpenAI-shaped response bodies and stream chunks.
 *
 * Every builder returns a malloc'd, compact, single-line JSON text (so it
 * fits one SSE "data:" line). Text is made valid UTF-8 on the way out:
 * an invalid byte the model produced becomes U+FFFD (JSON cannot carry
 * it); the logprobs' "bytes" arrays keep the raw bytes. */
#ifndef CHIRP_SERVE_API_RESPONSE_H
#define CHIRP_SERVE_API_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/api_request.h"
#include "text/tokenizer.h"

#define API_MAX_TOP_LOGPROBS 20

/* One sampled token's log-probability under the model (log-softmax of the
 * logits before sampling filters) and the most likely alternatives. */
typedef struct ApiLogprob {
    int32_t id;
    float logprob;
    int n_top;
    int32_t top_id[API_MAX_TOP_LOGPROBS];
    float top_logprob[API_MAX_TOP_LOGPROBS];
} ApiLogprob;

/* One choice: the whole text (a response) or the new text (a chunk). */
typedef struct ApiChoice {
    int index;
    const char *text;
    size_t len;
    const char *finish_reason;  /* "stop", "length", or NULL while running */
    const ApiLogprob *logprobs; /* NULL when not asked for */
    int n_logprobs;
    int text_offset; /* completions: offset of text in the whole completion */
} ApiChoice;

typedef struct ApiUsage {
    int prompt_tokens, completion_tokens;
} ApiUsage;

/* What every response of one request shares. */
typedef struct ApiMeta {
    ApiKind kind;
    const char *id;    /* "chatcmpl-..." / "cmpl-..." */
    long long created; /* unix seconds */
    const char *model;
    const Tokenizer *tok; /* for the logprobs' token strings */
} ApiMeta;

/* A complete (non-streamed) chat.completion or text_completion. */
char *api_response_json(const ApiMeta *m, const ApiChoice *choices, int n, const ApiUsage *u);

/* A stream chunk for one choice. role_chunk: the first chunk of a chat
 * choice (delta carries the role and empty content). usage_null: add
 * "usage": null (when the client asked for usage, every chunk but the
 * last carries it so). */
char *api_chunk_json(const ApiMeta *m, const ApiChoice *c, bool role_chunk, bool usage_null);

/* The last chunk when stream_options.include_usage is set: no choices. */
char *api_usage_chunk_json(const ApiMeta *m, const ApiUsage *u);

/* {"error": {"message", "type", "param", "code"}}. */
char *api_error_json(const ApiError *e);

/* Request ids: prefix + 24 random hex digits. */
void api_new_id(char *out, size_t cap, const char *prefix);

#endif
