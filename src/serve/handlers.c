/* handlers.c: one function per endpoint (see http_internal.h). The
 * generation endpoints parse, tokenize and check the request here, in the
 * HTTP thread, and hand it to the scheduler; relay.c sends the result. */
#include "serve/http_internal.h"

#include "serve/web_assets.h"
#include "text/utf8.h"
#include "util/error.h"
#include "util/file.h"
#include "util/timer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static char *dump(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s ? s : xstrdup("{}");
}

enum MHD_Result handle_health(HttpReq *hr) {
    SchedStats st;
    sched_stats(hr->srv->sched, &st);
    return http_respond_json(
        hr, 200,
        dump(json_pack("{s:s, s:i, s:i, s:i}", "status", "ok", "slots_idle", st.slots - st.slots_busy,
                       "slots_processing", st.slots_busy, "queued", st.queued)));
}

enum MHD_Result handle_metrics(HttpReq *hr) {
    SchedStats st;
    sched_stats(hr->srv->sched, &st);
    char *text = metrics_render(hr->srv->metrics, st.slots, st.slots_busy, st.queued);
    return http_respond(hr, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text), true);
}

static json_t *model_object(const Server *s) {
    const Gpt2Config *c = &s->m->cfg;
    return json_pack("{s:s, s:s, s:I, s:s, s:{s:i, s:i, s:I, s:s}}", "id", s->cfg.alias, "object", "model", "created",
                     (json_int_t)s->created, "owned_by", "chirp", "meta", "n_ctx", c->n_ctx, "vocab_size",
                     c->vocab_size, "n_params", (json_int_t)gpt2_num_params(c), "quantization",
                     s->m->quant == INFER_F32 ? "none" : infer_quant_name(s->m->quant));
}

enum MHD_Result handle_models(HttpReq *hr, const char *id) {
    const Server *s = hr->srv;
    if (id) {
        if (strcmp(id, s->cfg.alias) != 0) {
            ApiError e;
            api_error(&e, 404, "invalid_request_error", "model", "model_not_found", "the model '%.100s' does not exist",
                      id);
            return http_respond_error(hr, &e);
        }
        return http_respond_json(hr, 200, dump(model_object(s)));
    }
    return http_respond_json(hr, 200, dump(json_pack("{s:s, s:[o]}", "object", "list", "data", model_object(s))));
}

/* What the model is (config.json) and what trained it (chirp.json: steps,
 * losses, the data and its provenance summary), for the page's panel. */
char *build_info_json(const Server *s) {
    const Gpt2Config *c = &s->m->cfg;
    json_t *o =
        json_pack("{s:s, s:s, s:{s:i, s:i, s:i, s:i, s:i, s:I}, s:s, s:s}", "model", s->cfg.alias, "directory",
                  s->cfg.model_dir ? s->cfg.model_dir : "", "config", "n_layer", c->n_layer, "n_head", c->n_head,
                  "n_embd", c->n_embd, "n_ctx", c->n_ctx, "vocab_size", c->vocab_size, "n_params",
                  (json_int_t)gpt2_num_params(c), "quantization",
                  s->m->quant == INFER_F32 ? "none" : infer_quant_name(s->m->quant), "chat_template", s->tpl->source);
    if (s->cfg.model_dir) {
        char *path = path_join(s->cfg.model_dir, "chirp.json");
        json_t *manifest = json_load_file(path, 0, NULL);
        free(path);
        if (json_is_object(manifest)) {
            json_t *t = json_object();
            const char *keys[] = {"step", "steps", "tokens_seen", "train_loss", "val_loss", "num_params"};
            for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
                json_t *v = json_object_get(manifest, keys[i]);
                if (v) json_object_set(t, keys[i], v);
            }
            json_t *data = json_object_get(manifest, "data");
            json_t *train = json_object_get(data, "train");
            if (json_is_array(train)) {
                json_t *shards = json_array();
                size_t i;
                json_t *sh;
                json_array_foreach(train, i, sh) { json_array_append(shards, json_object_get(sh, "path")); }
                json_object_set_new(t, "train_shards", shards);
            }
            json_t *prov = json_object_get(data, "provenance");
            if (prov) json_object_set(t, "provenance", prov);
            json_object_set_new(o, "training", t);
        }
        json_decref(manifest);
    }
    return dump(o);
}

enum MHD_Result handle_info(HttpReq *hr) {
    return http_respond(hr, 200, "application/json", hr->srv->info_json, strlen(hr->srv->info_json), false);
}

enum MHD_Result handle_web(HttpReq *hr, const char *path) {
    WebAsset a;
    if (!web_asset_find(strcmp(path, "/") == 0 ? "/index.html" : path, &a)) {
        ApiError e;
        api_error(&e, 404, "invalid_request_error", NULL, "not_found", "no such page");
        return http_respond_error(hr, &e);
    }
    return http_respond(hr, 200, a.content_type, (char *)a.data, a.len, false);
}

/* ---- /tokenize and /detokenize (llama.cpp's shapes) ---- */

static ApiLimits limits(const Server *s) {
    return (ApiLimits){.max_n = s->cfg.parallel, .vocab_size = s->m->cfg.vocab_size, .n_ctx = s->m->cfg.n_ctx};
}

static int32_t *encode(const Server *s, const char *text, bool allow_special, long *n) {
    size_t len = strlen(text);
    int32_t *ids = xmalloc((len + 1) * sizeof(int32_t));
    *n = tokenizer_encode(s->tok, text, len, allow_special, ids, len + 1);
    if (*n < 0) {
        free(ids);
        return NULL;
    }
    return ids;
}

static json_t *piece_value(const Server *s, int32_t id) {
    size_t len = 0, n;
    const char *b = tokenizer_token_bytes(s->tok, id, &len);
    char *clean = utf8_sanitize(b ? b : "", b ? len : 0, &n);
    json_t *v = json_stringn(clean, n);
    free(clean);
    return v;
}

enum MHD_Result handle_tokenize(HttpReq *hr, ApiKind kind) {
    const Server *s = hr->srv;
    ApiLimits lim = limits(s);
    ApiError err;
    ApiRequest r;
    if (api_request_parse(kind, hr->body.data ? hr->body.data : "", hr->body.len, &lim, &r, &err) != 0)
        return http_respond_error(hr, &err);
    json_t *o;
    if (kind == API_TOKENIZE) {
        long n;
        int32_t *ids = encode(s, r.prompts[0].text, r.add_special, &n);
        if (!ids) {
            api_error(&err, 400, "invalid_request_error", "content", NULL, "%s", chirp_error());
            api_request_free(&r);
            return http_respond_error(hr, &err);
        }
        json_t *toks = json_array();
        for (long i = 0; i < n; i++)
            json_array_append_new(toks, r.with_pieces
                                            ? json_pack("{s:i, s:o}", "id", ids[i], "piece", piece_value(s, ids[i]))
                                            : json_integer(ids[i]));
        free(ids);
        o = json_pack("{s:o}", "tokens", toks);
    } else {
        long need = tokenizer_decode(s->tok, r.tokens, (size_t)r.n_tokens, NULL, 0);
        char *text = xmalloc((size_t)(need > 0 ? need : 0) + 1);
        tokenizer_decode(s->tok, r.tokens, (size_t)r.n_tokens, text, (size_t)(need > 0 ? need : 0));
        size_t n;
        char *clean = utf8_sanitize(text, (size_t)(need > 0 ? need : 0), &n);
        o = json_pack("{s:s%}", "content", clean, n);
        free(text);
        free(clean);
    }
    api_request_free(&r);
    return http_respond_json(hr, 200, dump(o));
}

/* ---- generation ---- */

static void free_api_request(void *p) {
    api_request_free(p);
    free(p);
}

/* The prompts of the request as token ids, stored in one block owned by
 * sr. Returns the number of prompts, or -1 with err filled. */
static int tokenize_prompts(HttpReq *hr, ServeRequest *sr, int32_t **starts, int *lens, ApiError *err) {
    const Server *s = hr->srv;
    ApiRequest *r = &hr->api;
    int n_ctx = s->m->cfg.n_ctx;
    Buf ids = {0};
    size_t offsets[64 + 1];
    int np = 0;
    if (r->kind == API_CHAT) {
        ChatTokens ct = {0};
        if (chat_render(s->tpl, s->tok, r->messages, r->n_messages, true, &ct) != 0) {
            api_error(err, 400, "invalid_request_error", "messages", NULL, "%s", chirp_error());
            chat_tokens_free(&ct);
            return -1;
        }
        offsets[np] = 0;
        lens[np++] = (int)ct.n;
        buf_push(&ids, ct.ids, ct.n * sizeof(int32_t));
        chat_tokens_free(&ct);
    } else {
        for (int p = 0; p < r->n_prompts; p++) {
            const ApiPrompt *pr = &r->prompts[p];
            offsets[np] = ids.len;
            if (pr->text) {
                long n;
                int32_t *t = encode(s, pr->text, false, &n);
                if (!t) {
                    buf_free(&ids);
                    return api_error(err, 400, "invalid_request_error", "prompt", NULL, "%s", chirp_error());
                }
                /* An empty prompt starts a fresh post, as chirp generate does. */
                if (n == 0 && s->eot >= 0) t[n++] = s->eot;
                buf_push(&ids, t, (size_t)n * sizeof(int32_t));
                lens[np++] = (int)n;
                free(t);
            } else {
                buf_push(&ids, pr->ids, (size_t)pr->n_ids * sizeof(int32_t));
                lens[np++] = pr->n_ids;
            }
        }
    }
    for (int p = 0; p < np; p++) {
        if (lens[p] == 0) {
            buf_free(&ids);
            return api_error(err, 400, "invalid_request_error", r->kind == API_CHAT ? "messages" : "prompt", NULL,
                             "the prompt is empty and the tokenizer has no <|endoftext|> to start from");
        }
        if (lens[p] >= n_ctx) {
            buf_free(&ids);
            return api_error(err, 400, "invalid_request_error", r->kind == API_CHAT ? "messages" : "prompt",
                             "context_length_exceeded",
                             "this model's maximum context length is %d tokens, but the prompt is %d tokens "
                             "(at least one token must be left to generate)",
                             n_ctx, lens[p]);
        }
    }
    sr->ids_store = (int32_t *)ids.data;
    for (int p = 0; p < np; p++) starts[p] = (int32_t *)(ids.data + offsets[p]);
    return np;
}

static uint64_t random_seed(void) {
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x) x = (uint64_t)time(NULL) * 2654435761u;
    return x;
}

enum MHD_Result handle_generation(HttpReq *hr, ApiKind kind) {
    Server *s = hr->srv;
    if (hr->sr) return relay_whole(hr); /* resumed: the answer may be ready */
    ApiLimits lim = limits(s);
    ApiError err;
    if (api_request_parse(kind, hr->body.data ? hr->body.data : "", hr->body.len, &lim, &hr->api, &err) != 0)
        return http_respond_error(hr, &err);
    ApiRequest *r = &hr->api;
    ServeRequest *sr = serve_request_new();
    int32_t *starts[64];
    int lens[64];
    int np = tokenize_prompts(hr, sr, starts, lens, &err);
    if (np < 0) {
        serve_request_release(sr);
        return http_respond_error(hr, &err);
    }
    if (np * r->n > s->cfg.parallel + s->cfg.max_queue) {
        serve_request_release(sr);
        api_error(&err, 400, "invalid_request_error", "n", NULL,
                  "the request has %d choices (%d prompts x n = %d) but the server runs at most %d at once "
                  "(--parallel %d plus --max-queue %d)",
                  np * r->n, np, r->n, s->cfg.parallel + s->cfg.max_queue, s->cfg.parallel, s->cfg.max_queue);
        return http_respond_error(hr, &err);
    }
    if (!r->seed_given) r->sampler.seed = random_seed();
    sr->n_choices = np * r->n;
    sr->choices = xcalloc((size_t)sr->n_choices, sizeof(ServeChoice));
    /* Choice j of each prompt samples with seed + j, as chirp generate
     * --n does, so one request of n = 2 equals two runs of generate. */
    for (int p = 0; p < np; p++) {
        hr->prompt_tokens += lens[p];
        for (int j = 0; j < r->n; j++) {
            ServeChoice *c = &sr->choices[p * r->n + j];
            c->prompt = starts[p];
            c->n_prompt = lens[p];
            c->sampler = r->sampler;
            c->sampler.seed = r->sampler.seed + (uint64_t)j;
        }
    }
    sr->max_tokens = r->max_tokens;
    sr->stops = (const char *const *)r->stops;
    sr->n_stops = r->n_stops;
    if (kind == API_CHAT) {
        memcpy(sr->stop_ids, s->chat_stop_ids, sizeof sr->stop_ids);
        sr->n_stop_ids = s->n_chat_stop_ids;
    } else if (s->eot >= 0) {
        sr->stop_ids[0] = s->eot;
        sr->n_stop_ids = 1;
    }
    sr->bias = r->bias;
    sr->n_bias = r->n_bias;
    sr->logprobs = r->logprobs;
    sr->top_logprobs = r->top_logprobs;
    sr->stream = r->stream;
    sr->wake = relay_wake;
    sr->wake_ctx = hr;

    hr->stream = r->stream;
    hr->include_usage = r->stream && r->include_usage;
    hr->n_choices = sr->n_choices;
    hr->out = xcalloc((size_t)sr->n_choices, sizeof(ChoiceOut));
    if (kind == API_COMPLETION && r->echo) {
        for (int i = 0; i < sr->n_choices; i++) {
            const ServeChoice *c = &sr->choices[i];
            long need = tokenizer_decode(s->tok, c->prompt, (size_t)c->n_prompt, NULL, 0);
            buf_grow(&hr->out[i].text, (size_t)need);
            tokenizer_decode(s->tok, c->prompt, (size_t)c->n_prompt, hr->out[i].text.data, (size_t)need);
            hr->out[i].text.len = (size_t)need;
        }
    }
    api_new_id(hr->id, sizeof hr->id, kind == API_CHAT ? "chatcmpl-" : "cmpl-");
    hr->meta =
        (ApiMeta){.kind = kind, .id = hr->id, .created = (long long)time(NULL), .model = s->cfg.alias, .tok = s->tok};
    /* The parsed request's strings (stops, bias) now belong to sr. */
    ApiRequest *owned = xmalloc(sizeof *owned);
    *owned = hr->api;
    memset(&hr->api, 0, sizeof hr->api);
    sr->owner = owned;
    sr->owner_free = free_api_request;
    hr->sr = sr;
    hr->alive = true;
    http_live_add(hr);
    if (sched_submit(s->sched, sr) != 0) {
        SchedStats st;
        sched_stats(s->sched, &st);
        api_error(&err, 503, "server_error", NULL, s->stopping ? "shutting_down" : "server_busy",
                  s->stopping ? "the server is shutting down"
                              : "the server is busy (%d slots in use, %d waiting); retry shortly",
                  st.slots_busy, st.queued);
        /* Nothing was queued: the answer is the error, and finished
         * counts every choice so the completed callback cancels nothing. */
        pthread_mutex_lock(&sr->mu);
        sr->finished = sr->n_choices;
        pthread_mutex_unlock(&sr->mu);
        return http_respond_error(hr, &err);
    }
    return hr->stream ? relay_start_stream(hr) : relay_whole(hr);
}
