/* generate.h: the generation loop: prefill, sample, stream text out.
 *
 * Text is streamed as tokens arrive, with two kinds of holding back:
 * - UTF-8: a character whose bytes are split across tokens (emoji, CJK in
 *   GPT-2's byte-level BPE) is written only once it is complete, so a
 *   terminal never sees half a character;
 * - stop strings: text that could be the start of a stop string is held
 *   until it is known not to be one; a stop string itself is never written.
 * Generation ends at max_tokens, a stop string, a stop token (e.g.
 * <|endoftext|>, <|im_end|>), the end of the context, or when *interrupt
 * becomes non-zero (Ctrl-C in chat). */
#ifndef CHIRP_INFER_GENERATE_H
#define CHIRP_INFER_GENERATE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "infer/infer.h"
#include "infer/sampler.h"
#include "text/tokenizer.h"

typedef void (*GenWriteFn)(void *ctx, const char *bytes, size_t n);

typedef struct GenOptions {
    int max_tokens;
    const char *const *stop_strings;
    int n_stop_strings;
    const int32_t *stop_ids; /* tokens that end generation (not written) */
    int n_stop_ids;
} GenOptions;

typedef struct GenResult {
    int prompt_tokens; /* tokens prefilled by this call */
    int new_tokens;    /* tokens sampled */
    double prefill_s, decode_s;
    char *text; /* everything written (malloc'd, NUL-terminated) */
    size_t text_len;
    const char *stopped; /* "max-tokens", "stop-string", "stop-token", "context", "interrupted" */
    int32_t last_token;  /* the token that ended generation (a stop id), or -1 */
} GenResult;

/* Prefills `prompt` (appended to whatever st's cache holds), then samples
 * up to max_tokens tokens, writing text through write(ctx, ...). Every
 * sampled token except a final stop token is fed back, so on return the
 * cache holds prompt + generated tokens. Returns 0 or -1 with the error
 * set; r->text must be freed by the caller (gen_result_destroy). The
 * loop always leaves logits for the next token in st->logits. */
int generate(InferState *st, Sampler *sampler, const Tokenizer *tok, const int32_t *prompt, int n_prompt,
             const GenOptions *opt, volatile sig_atomic_t *interrupt, GenWriteFn write, void *ctx, GenResult *r);

void gen_result_destroy(GenResult *r);

/* The streaming part on its own: bytes in (one token's at a time), text
 * out through write() as soon as it is safe. */
typedef struct GenStream {
    char *buf; /* all text so far (NUL-terminated) */
    size_t len, cap, emitted;
    const char *const *stops;
    int n_stops;
    GenWriteFn write;
    void *ctx;
} GenStream;

void gen_stream_init(GenStream *s, const char *const *stops, int n_stops, GenWriteFn write, void *ctx);

/* Adds bytes; returns 1 when a stop string appeared (the text is cut
 * before it and everything before it has been written), else 0. */
int gen_stream_push(GenStream *s, const char *bytes, size_t n);

/* Writes whatever was held back. s->buf stays the caller's to free. */
void gen_stream_finish(GenStream *s);

/* Length of the longest prefix of s[0..n) that ends on a UTF-8 character
 * boundary: an incomplete multi-byte sequence at the end is excluded
 * (invalid bytes count as complete, so they are not held forever). */
size_t gen_utf8_complete_prefix(const char *s, size_t n);

#endif
