/* fuzz_api_request.c: libFuzzer target for the server's request parser:
 * the first byte picks the endpoint (chat, completions, tokenize,
 * detokenize), the rest is the body. A parsed request must be internally
 * consistent (what the server relies on), and every response builder must
 * take an error it produced. */
#include "serve/api_request.h"
#include "serve/api_response.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    ApiKind kind = (ApiKind)(data[0] & 3);
    ApiLimits lim = {.max_n = 8, .vocab_size = 1000, .n_ctx = 256};
    ApiRequest r;
    ApiError e;
    if (api_request_parse(kind, (const char *)data + 1, size - 1, &lim, &r, &e) != 0) {
        if (e.status != 400 || !e.type) abort();
        free(api_error_json(&e));
        return 0;
    }
    bool generation = kind == API_CHAT || kind == API_COMPLETION;
    if (generation && (r.n < 1 || r.n > lim.max_n || r.max_tokens == 0 || r.max_tokens > lim.n_ctx)) abort();
    if (r.top_logprobs < 0 || r.top_logprobs > API_MAX_TOP_LOGPROBS) abort();
    for (int i = 0; i < r.n_bias; i++)
        if (r.bias[i].token < 0 || r.bias[i].token >= lim.vocab_size) abort();
    for (int p = 0; p < r.n_prompts; p++)
        for (int i = 0; i < r.prompts[p].n_ids; i++)
            if (r.prompts[p].ids[i] < 0 || r.prompts[p].ids[i] >= lim.vocab_size) abort();
    for (int i = 0; i < r.n_tokens; i++)
        if (r.tokens[i] < 0 || r.tokens[i] >= lim.vocab_size) abort();
    for (int i = 0; i < r.n_messages; i++)
        if (!r.messages[i].role || !r.messages[i].content) abort();
    if (kind == API_CHAT && r.n_messages < 1) abort();
    if (kind == API_COMPLETION && r.n_prompts < 1) abort();
    api_request_free(&r);
    return 0;
}
