/* relay.c: from a request's events to the client (see http_internal.h).
 *
 * Streamed: libmicrohttpd pulls bytes through stream_reader(). Events are
 * turned into SSE chunks in `wire`; when there is nothing to send the
 * connection is suspended, and resumed by the scheduler (new events) or
 * the watchdog (twice a second: then the reader checks that the client is
 * still there and sends ": ping" if it has been quiet for a second). The
 * bytes produced and not yet sent are the request's backlog; above a
 * limit the scheduler pauses that stream, so a slow reader costs memory
 * up to the limit and nobody else's speed.
 *
 * Whole: the access handler is suspended until every choice has ended,
 * then builds one response. */
#include "serve/http_internal.h"

#include "serve/sse.h"
#include "util/error.h"
#include "util/timer.h"

#include <stdlib.h>
#include <string.h>

void relay_wake(void *ctx) {
    HttpReq *hr = ctx;
    if (hr->alive && hr->suspended) {
        hr->suspended = false;
        MHD_resume_connection(hr->conn);
    }
}

void relay_free(HttpReq *hr) {
    for (int i = 0; hr->out && i < hr->n_choices; i++) {
        buf_free(&hr->out[i].text);
        free(hr->out[i].logprobs);
    }
    free(hr->out);
    hr->out = NULL;
    buf_free(&hr->wire);
}

/* Suspends the connection unless there is news; call from a libmicrohttpd
 * callback. Returns true if it suspended. */
static bool suspend_if_idle(HttpReq *hr) {
    ServeRequest *sr = hr->sr;
    pthread_mutex_lock(&sr->mu);
    bool idle = sr->n_events == 0 && sr->finished < sr->n_choices;
    if (idle) {
        hr->suspended = true;
        MHD_suspend_connection(hr->conn);
    }
    pthread_mutex_unlock(&sr->mu);
    return idle;
}

static ServeEvent *take_events(HttpReq *hr, int *n, bool *all_done) {
    ServeRequest *sr = hr->sr;
    pthread_mutex_lock(&sr->mu);
    ServeEvent *ev = serve_request_take(sr, n);
    *all_done = sr->finished == sr->n_choices;
    hr->completion_tokens = sr->completion_tokens;
    pthread_mutex_unlock(&sr->mu);
    return ev;
}

static void keep_logprobs(ChoiceOut *o, const ServeEvent *e) {
    if (e->n_logprobs == 0) return;
    if (o->n_logprobs + e->n_logprobs > o->cap_logprobs) {
        o->cap_logprobs = (o->n_logprobs + e->n_logprobs) * 2;
        o->logprobs = xrealloc(o->logprobs, (size_t)o->cap_logprobs * sizeof *o->logprobs);
    }
    memcpy(o->logprobs + o->n_logprobs, e->logprobs, (size_t)e->n_logprobs * sizeof *e->logprobs);
    o->n_logprobs += e->n_logprobs;
}

static ApiUsage usage(const HttpReq *hr) { return (ApiUsage){hr->prompt_tokens, hr->completion_tokens}; }

/* ---- whole responses ---- */

enum MHD_Result relay_whole(HttpReq *hr) {
    for (;;) {
        int n;
        bool done;
        ServeEvent *ev = take_events(hr, &n, &done);
        for (int i = 0; i < n; i++) {
            ChoiceOut *o = &hr->out[ev[i].choice];
            buf_push(&o->text, ev[i].text, ev[i].len);
            if (hr->sr->logprobs) keep_logprobs(o, &ev[i]);
            if (ev[i].finish) o->finish = ev[i].finish;
            if (ev[i].error) o->error = ev[i].error;
        }
        serve_events_free(ev, n);
        if (done) break;
        if (http_client_gone(hr)) return MHD_NO;
        if (suspend_if_idle(hr)) return MHD_YES;
    }
    for (int i = 0; i < hr->n_choices; i++) {
        if (!hr->out[i].error) continue;
        ApiError e;
        bool stopping = strstr(hr->out[i].error, "shutting down") != NULL;
        api_error(&e, stopping ? 503 : 500, "server_error", NULL, stopping ? "shutting_down" : NULL, "%s",
                  hr->out[i].error);
        return http_respond_error(hr, &e);
    }
    ApiChoice *ch = xcalloc((size_t)hr->n_choices, sizeof *ch);
    for (int i = 0; i < hr->n_choices; i++) {
        const ChoiceOut *o = &hr->out[i];
        ch[i] = (ApiChoice){.index = i,
                            .text = o->text.data ? o->text.data : "",
                            .len = o->text.len,
                            .finish_reason = o->finish,
                            .logprobs = hr->sr->logprobs ? o->logprobs : NULL,
                            .n_logprobs = o->n_logprobs};
        /* Echoed prompts come before the logprobs' text. */
        if (hr->sr->logprobs) ch[i].text_offset = 0;
    }
    ApiUsage u = usage(hr);
    char *json = api_response_json(&hr->meta, ch, hr->n_choices, &u);
    free(ch);
    return http_respond_json(hr, 200, json);
}

/* ---- streams ---- */

static void put_chunk(HttpReq *hr, const ApiChoice *c, bool role) {
    char *json = api_chunk_json(&hr->meta, c, role, hr->include_usage);
    sse_data(&hr->wire, json);
    free(json);
}

/* Formats events as SSE chunks into hr->wire. */
static void format_events(HttpReq *hr, const ServeEvent *ev, int n) {
    for (int i = 0; i < n && !hr->stream_over; i++) {
        const ServeEvent *e = &ev[i];
        ChoiceOut *o = &hr->out[e->choice];
        ApiChoice c = {.index = e->choice, .text = e->text, .len = e->len, .text_offset = o->text_offset};
        if (hr->sr->logprobs && e->n_logprobs > 0) {
            c.logprobs = e->logprobs;
            c.n_logprobs = e->n_logprobs;
        }
        if (e->len > 0 || c.logprobs) put_chunk(hr, &c, false);
        o->text_offset += (int)e->len;
        if (e->error) {
            ApiError err;
            api_error(&err, 500, "server_error", NULL, NULL, "%s", e->error);
            char *json = api_error_json(&err);
            sse_data(&hr->wire, json);
            free(json);
            hr->stream_over = true; /* an error ends the stream, without [DONE] */
        } else if (e->finish) {
            ApiChoice fin = {.index = e->choice, .text = "", .len = 0, .finish_reason = e->finish};
            put_chunk(hr, &fin, false);
            o->done = true;
        }
    }
}

static void finish_stream(HttpReq *hr) {
    if (hr->include_usage) {
        ApiUsage u = usage(hr);
        char *json = api_usage_chunk_json(&hr->meta, &u);
        sse_data(&hr->wire, json);
        free(json);
    }
    sse_done(&hr->wire);
    hr->stream_over = true;
}

static void set_backlog(HttpReq *hr) {
    pthread_mutex_lock(&hr->sr->mu);
    hr->sr->backlog = hr->wire.len - hr->wire_off;
    pthread_mutex_unlock(&hr->sr->mu);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    HttpReq *hr = cls;
    for (;;) {
        if (hr->wire_off < hr->wire.len) {
            size_t n = hr->wire.len - hr->wire_off;
            if (n > max) n = max;
            memcpy(buf, hr->wire.data + hr->wire_off, n);
            hr->wire_off += n;
            if (hr->wire_off == hr->wire.len) hr->wire.len = hr->wire_off = 0;
            hr->last_write = time_now();
            set_backlog(hr);
            return (ssize_t)n;
        }
        if (hr->stream_over) return MHD_CONTENT_READER_END_OF_STREAM;
        int n;
        bool done;
        ServeEvent *ev = take_events(hr, &n, &done);
        format_events(hr, ev, n);
        serve_events_free(ev, n);
        if (hr->stream_over) continue;
        if (n > 0) {
            set_backlog(hr);
            continue;
        }
        if (done) {
            finish_stream(hr);
            continue;
        }
        if (http_client_gone(hr)) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (time_now() - hr->last_write >= 1.0) {
            sse_comment(&hr->wire, "ping");
            continue;
        }
        if (suspend_if_idle(hr)) return 0;
    }
}

enum MHD_Result relay_start_stream(HttpReq *hr) {
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_reader, hr, NULL);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    http_add_cors(hr->srv, resp);
    /* The first chunk of each chat choice carries the role (and the
     * client sees the stream open before the prefill is done); an echoed
     * completion prompt goes first too. */
    for (int i = 0; i < hr->n_choices; i++) {
        ChoiceOut *o = &hr->out[i];
        ApiChoice c = {.index = i, .text = o->text.data ? o->text.data : "", .len = o->text.len};
        if (hr->meta.kind == API_CHAT) put_chunk(hr, &c, true);
        else if (o->text.len > 0) put_chunk(hr, &c, false);
        o->text_offset = (int)o->text.len;
    }
    hr->last_write = time_now();
    enum MHD_Result rc = MHD_queue_response(hr->conn, 200, resp);
    MHD_destroy_response(resp);
    hr->status = 200;
    hr->handled = true;
    return rc;
}
