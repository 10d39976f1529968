/* generate.c: prefill, sampling loop and UTF-8 / stop-string safe
 * streaming (see generate.h). */
#include "infer/generate.h"

#include "util/error.h"
#include "util/timer.h"

#include <stdlib.h>
#include <string.h>

size_t gen_utf8_complete_prefix(const char *s, size_t n) {
    /* Look back at most 3 bytes for the lead byte of the last sequence. */
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = (unsigned char)s[n - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte */
        size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return back < need ? n - back : n;
    }
    return n; /* only continuation bytes: invalid, let them through */
}

static void out_append(GenStream *o, const char *b, size_t n) {
    if (o->len + n + 1 > o->cap) {
        while (o->len + n + 1 > o->cap) o->cap = o->cap ? o->cap * 2 : 256;
        o->buf = xrealloc(o->buf, o->cap);
    }
    memcpy(o->buf + o->len, b, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void out_emit_to(GenStream *o, size_t upto) {
    if (upto > o->emitted) {
        if (o->write) o->write(o->ctx, o->buf + o->emitted, upto - o->emitted);
        o->emitted = upto;
    }
}

/* The earliest stop string in the text, or -1. Only the tail that can
 * hold a new match (from - len(stop) on) is searched. */
static long find_stop(const GenStream *o, size_t from) {
    long best = -1;
    for (int i = 0; i < o->n_stops; i++) {
        const char *st = o->stops[i];
        size_t sl = strlen(st);
        if (sl == 0) continue;
        size_t start = from > sl ? from - sl : 0;
        const char *hit = memmem(o->buf + start, o->len - start, st, sl);
        if (hit && (best < 0 || hit - o->buf < best)) best = hit - o->buf;
    }
    return best;
}

/* How much of the text can be written now: complete UTF-8, and no tail
 * that might still grow into a stop string. */
static size_t safe_end(const GenStream *o) {
    size_t end = gen_utf8_complete_prefix(o->buf, o->len);
    for (int i = 0; i < o->n_stops; i++) {
        const char *st = o->stops[i];
        size_t sl = strlen(st);
        for (size_t k = sl > 0 ? sl - 1 : 0; k > 0; k--) {
            if (k <= o->len && memcmp(o->buf + o->len - k, st, k) == 0) {
                if (o->len - k < end) end = o->len - k;
                break;
            }
        }
    }
    return end < o->emitted ? o->emitted : end;
}

void gen_stream_init(GenStream *o, const char *const *stops, int n_stops, GenWriteFn write, void *ctx) {
    memset(o, 0, sizeof *o);
    o->stops = stops;
    o->n_stops = n_stops;
    o->write = write;
    o->ctx = ctx;
    out_append(o, "", 0);
}

int gen_stream_push(GenStream *o, const char *bytes, size_t n) {
    size_t before = o->len;
    out_append(o, bytes, n);
    long hit = find_stop(o, before);
    if (hit >= 0) {
        /* The stop string and what follows are not part of the text. */
        o->len = (size_t)hit;
        o->buf[o->len] = '\0';
        out_emit_to(o, o->len);
        return 1;
    }
    out_emit_to(o, safe_end(o));
    return 0;
}

void gen_stream_finish(GenStream *o) { out_emit_to(o, o->len); }

static int is_stop_id(const GenOptions *opt, int32_t t) {
    for (int i = 0; i < opt->n_stop_ids; i++)
        if (opt->stop_ids[i] == t) return 1;
    return 0;
}

int generate(InferState *st, Sampler *sampler, const Tokenizer *tok, const int32_t *prompt, int n_prompt,
             const GenOptions *opt, volatile sig_atomic_t *interrupt, GenWriteFn write, void *ctx, GenResult *r) {
    memset(r, 0, sizeof *r);
    r->last_token = -1;
    int n_ctx = st->m->cfg.n_ctx;
    double t0 = time_now();
    const float *logits = infer_prefill(st, prompt, n_prompt, NULL);
    if (!logits) return -1;
    r->prompt_tokens = n_prompt;
    for (int i = 0; i < n_prompt; i++) sampler_observe(sampler, prompt[i]);
    double t1 = time_now();
    r->prefill_s = t1 - t0;

    GenStream o;
    gen_stream_init(&o, opt->stop_strings, opt->n_stop_strings, write, ctx);
    r->stopped = "max-tokens";
    for (int i = 0; i < opt->max_tokens; i++) {
        if (interrupt && *interrupt) {
            r->stopped = "interrupted";
            break;
        }
        int32_t t = sampler_sample(sampler, logits);
        r->new_tokens++;
        if (is_stop_id(opt, t)) {
            r->stopped = "stop-token";
            r->last_token = t;
            break;
        }
        sampler_observe(sampler, t);
        size_t blen = 0;
        const char *b = tokenizer_token_bytes(tok, t, &blen);
        int hit = gen_stream_push(&o, b ? b : "", b ? blen : 0);
        if (st->pos >= n_ctx) {
            r->stopped = hit ? "stop-string" : "context";
            break;
        }
        /* Feed every sampled token, the last one too: the cache then holds
         * exactly what the model produced, and chat continues from it. */
        const float *next = infer_step(st, t);
        if (!next) {
            free(o.buf);
            return -1;
        }
        logits = next;
        if (hit) {
            r->stopped = "stop-string";
            break;
        }
    }
    /* Whatever is held back (the start of a stop string that never
     * completed, or bytes of a character the model never finished) is
     * written now. */
    gen_stream_finish(&o);
    r->decode_s = time_now() - t1;
    r->text = o.buf;
    r->text_len = o.len;
    return 0;
}

void gen_result_destroy(GenResult *r) {
    free(r->text);
    r->text = NULL;
}
