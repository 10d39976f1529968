/* scheduler.c: slots, the admission queue and the batched decoding loop
 * (see scheduler.h).
 *
 * A choice in a slot goes through the same steps as `chirp generate`'s
 * loop (infer/generate.c), only spread over scheduler steps: prefill the
 * prompt (in chunks), then repeatedly sample a token from the logits,
 * stop on a stop token, a stop string, max_tokens or the end of the
 * context, else feed the token back at the next step. Sampling uses the
 * choice's own seeded Sampler and the text goes through the same
 * GenStream (whole UTF-8 characters, stop strings held back), so with the
 * batch-invariant forward the bytes equal generate's. */
#include "serve/scheduler.h"

#include "infer/generate.h"
#include "infer/sampler.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/timer.h"

#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Slot {
    InferState *st;
    int32_t *cached; /* the tokens in st's cache: st->pos of them */
    unsigned long long last_used;
    /* The running choice; req == NULL when the slot is free. */
    ServeRequest *req;
    int choice;
    Sampler *sampler;
    GenStream gs;
    Buf delta;       /* text GenStream released this step */
    ApiLogprob *lps; /* log-probabilities since the last event */
    int n_lps, cap_lps;
    int prefilled; /* prompt tokens in the cache */
    int generated; /* tokens sampled */
    int reported;  /* of them, counted in the request's completion_tokens */
    int32_t feed;  /* token to run at the next step, -1 while prefilling */
    double t_last_token;
    float *biased; /* [V] logits + logit_bias */
} Slot;

typedef struct Job {
    ServeRequest *req;
    int choice;
} Job;

struct Scheduler {
    const InferModel *m;
    const Tokenizer *tok;
    Metrics *metrics;
    SchedConfig cfg;
    Slot *slots;
    InferScratch *scratch;
    InferSeq *seqs;
    int *seq_slot;
    pthread_t thread;
    pthread_mutex_t mu; /* guards the queue, stop flags, busy count */
    pthread_cond_t cv;
    Job *queue; /* ring of q_cap */
    int q_head, q_len, q_cap;
    int busy;
    bool stopping;    /* no new submissions */
    double cancel_at; /* when stopping: end what still runs at this time */
    unsigned long long clock;
    long long steps, cache_hits;
};

static void gen_write(void *ctx, const char *bytes, size_t n) { buf_push((Buf *)ctx, bytes, n); }

/* ---- events ---- */

/* Hands the slot's new text and log-probabilities to its request as one
 * event, with the finish reason when the choice ended. */
static void emit(Scheduler *s, Slot *sl, const char *finish, const char *error) {
    ServeRequest *r = sl->req;
    if (sl->delta.len == 0 && sl->n_lps == 0 && !finish && !error) return;
    ServeEvent e = {.choice = sl->choice, .finish = finish, .error = error};
    e.len = sl->delta.len;
    e.text = xmalloc(e.len + 1);
    memcpy(e.text, sl->delta.data ? sl->delta.data : "", e.len);
    e.text[e.len] = '\0';
    sl->delta.len = 0;
    if (sl->n_lps) {
        e.logprobs = sl->lps;
        e.n_logprobs = sl->n_lps;
        sl->lps = NULL;
        sl->n_lps = sl->cap_lps = 0;
    }
    pthread_mutex_lock(&r->mu);
    bool first = r->t_first_token == 0 && sl->generated > 0;
    if (first) r->t_first_token = time_now();
    r->completion_tokens += sl->generated - sl->reported;
    sl->reported = sl->generated;
    if (finish || error) r->finished++;
    serve_request_push(r, &e);
    if (r->wake && (r->stream || r->finished == r->n_choices)) r->wake(r->wake_ctx);
    double ttft = r->t_first_token - r->t_submit;
    pthread_mutex_unlock(&r->mu);
    if (first) metrics_ttft(s->metrics, ttft);
}

/* The events of a choice that never ran (cancelled or refused while
 * queued). */
static void end_unstarted(ServeRequest *r, int choice, const char *error) {
    ServeEvent e = {.choice = choice, .text = xstrdup(""), .error = error};
    pthread_mutex_lock(&r->mu);
    r->finished++;
    serve_request_push(r, &e);
    if (r->wake && (r->stream || r->finished == r->n_choices)) r->wake(r->wake_ctx);
    pthread_mutex_unlock(&r->mu);
}

/* ---- slots ---- */

static void release_slot(Scheduler *s, Slot *sl) {
    ServeRequest *r = sl->req;
    sampler_free(sl->sampler);
    sl->sampler = NULL;
    free(sl->gs.buf);
    memset(&sl->gs, 0, sizeof sl->gs);
    free(sl->lps);
    sl->lps = NULL;
    sl->n_lps = sl->cap_lps = 0;
    sl->delta.len = 0;
    sl->req = NULL;
    sl->last_used = ++s->clock;
    pthread_mutex_lock(&s->mu);
    s->busy--;
    pthread_mutex_unlock(&s->mu);
    serve_request_release(r);
}

static int common_prefix(const int32_t *a, int na, const int32_t *b, int nb) {
    int n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* Puts a queued choice into the free slot whose cache shares the longest
 * prefix with its prompt (the least recently used one on a tie, so other
 * caches live longer). At least one prompt token is always run, since its
 * logits give the first sample. */
static void admit(Scheduler *s, Job job) {
    ServeRequest *r = job.req;
    const ServeChoice *c = &r->choices[job.choice];
    int best = -1, best_common = -1;
    for (int i = 0; i < s->cfg.slots; i++) {
        Slot *sl = &s->slots[i];
        if (sl->req) continue;
        int common = common_prefix(sl->cached, sl->st->pos, c->prompt, c->n_prompt - 1);
        if (common > best_common || (common == best_common && sl->last_used < s->slots[best].last_used)) {
            best = i;
            best_common = common;
        }
    }
    Slot *sl = &s->slots[best];
    sl->st->pos = best_common;
    if (best_common > 0) s->cache_hits++;
    sl->req = r;
    sl->choice = job.choice;
    sl->sampler = sampler_new(&c->sampler, s->m->cfg.vocab_size);
    for (int i = 0; i < c->n_prompt; i++) sampler_observe(sl->sampler, c->prompt[i]);
    gen_stream_init(&sl->gs, r->stops, r->n_stops, gen_write, &sl->delta);
    sl->prefilled = best_common;
    sl->generated = sl->reported = 0;
    sl->feed = -1;
    sl->last_used = ++s->clock;
    pthread_mutex_lock(&r->mu);
    r->cached_tokens += best_common;
    pthread_mutex_unlock(&r->mu);
}

/* Admits queued choices while slots are free. Call with s->mu held. */
static void admit_queued(Scheduler *s) {
    while (s->q_len > 0 && s->busy < s->cfg.slots) {
        Job job = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
        pthread_mutex_lock(&job.req->mu);
        bool cancelled = job.req->cancelled;
        pthread_mutex_unlock(&job.req->mu);
        if (cancelled) {
            end_unstarted(job.req, job.choice, NULL);
            serve_request_release(job.req);
            continue;
        }
        s->busy++;
        admit(s, job);
    }
}

/* ---- sampling ---- */

static void push_logprob(Slot *sl, const float *logits, int V, int32_t token, int top) {
    float lse = (float)log_sum_exp(logits, V);
    if (sl->n_lps == sl->cap_lps) {
        sl->cap_lps = sl->cap_lps ? sl->cap_lps * 2 : 8;
        sl->lps = xrealloc(sl->lps, (size_t)sl->cap_lps * sizeof *sl->lps);
    }
    ApiLogprob *lp = &sl->lps[sl->n_lps++];
    memset(lp, 0, sizeof *lp);
    lp->id = token;
    lp->logprob = logits[token] - lse;
    /* The top alternatives: insertion into a list of at most 20. */
    for (int i = 0; i < V && top > 0; i++) {
        float v = logits[i];
        if (lp->n_top == top && v <= logits[lp->top_id[top - 1]]) continue;
        int k = lp->n_top < top ? lp->n_top++ : top - 1;
        while (k > 0 && logits[lp->top_id[k - 1]] < v) {
            lp->top_id[k] = lp->top_id[k - 1];
            k--;
        }
        lp->top_id[k] = i;
    }
    for (int k = 0; k < lp->n_top; k++) lp->top_logprob[k] = logits[lp->top_id[k]] - lse;
}

static bool is_stop_id(const ServeRequest *r, int32_t t) {
    for (int i = 0; i < r->n_stop_ids; i++)
        if (r->stop_ids[i] == t) return true;
    return false;
}

/* One sample from the logits the last forward left in the slot, and
 * what follows from it (generate()'s loop body). */
static void sample_next(Scheduler *s, Slot *sl) {
    ServeRequest *r = sl->req;
    int V = s->m->cfg.vocab_size, n_ctx = s->m->cfg.n_ctx;
    const float *logits = sl->st->logits;
    if (r->n_bias > 0) {
        if (!sl->biased) sl->biased = xmalloc((size_t)V * sizeof(float));
        memcpy(sl->biased, logits, (size_t)V * sizeof(float));
        for (int i = 0; i < r->n_bias; i++) sl->biased[r->bias[i].token] += r->bias[i].bias;
        logits = sl->biased;
    }
    int32_t t = sampler_sample(sl->sampler, logits);
    sl->generated++;
    double now = time_now();
    if (sl->generated > 1) metrics_token_latency(s->metrics, now - sl->t_last_token);
    sl->t_last_token = now;
    if (r->logprobs) push_logprob(sl, logits, V, t, r->top_logprobs);
    const char *finish = NULL;
    if (is_stop_id(r, t)) {
        sl->generated--; /* the stop token is not part of the completion */
        finish = "stop";
    } else {
        sampler_observe(sl->sampler, t);
        size_t blen = 0;
        const char *b = tokenizer_token_bytes(s->tok, t, &blen);
        if (gen_stream_push(&sl->gs, b ? b : "", b ? blen : 0)) finish = "stop";
        else if (sl->st->pos >= n_ctx) finish = "length";
        else if (r->max_tokens >= 0 && sl->generated >= r->max_tokens) finish = "length";
        sl->feed = t;
    }
    if (finish) {
        gen_stream_finish(&sl->gs);
        emit(s, sl, finish, NULL);
        release_slot(s, sl);
    } else {
        emit(s, sl, NULL, NULL);
    }
}

/* ---- the loop ---- */

/* Ends a running choice early (client gone: silently; server stopping or
 * a failed forward: with an error event). */
static void abort_slot(Scheduler *s, Slot *sl, const char *error) {
    if (error) {
        gen_stream_finish(&sl->gs);
        emit(s, sl, NULL, error);
    } else {
        pthread_mutex_lock(&sl->req->mu);
        sl->req->finished++;
        sl->req->completion_tokens += sl->generated - sl->reported;
        pthread_mutex_unlock(&sl->req->mu);
    }
    release_slot(s, sl);
}

/* Builds this step's batch: one token per decoding slot, prompt chunks
 * for prefilling ones (within the prefill budget). Returns its size. */
static int build_batch(Scheduler *s, bool cancel_all) {
    int nseq = 0, budget = s->cfg.prefill_chunk;
    for (int i = 0; i < s->cfg.slots; i++) {
        Slot *sl = &s->slots[i];
        ServeRequest *r = sl->req;
        if (!r) continue;
        pthread_mutex_lock(&r->mu);
        bool cancelled = r->cancelled;
        bool backlogged = r->stream && r->backlog > s->cfg.max_backlog;
        pthread_mutex_unlock(&r->mu);
        if (cancelled || cancel_all) {
            abort_slot(s, sl, cancelled ? NULL : "the server is shutting down");
            continue;
        }
        if (backlogged) continue; /* a slow reader pauses only its own stream */
        const ServeChoice *c = &r->choices[sl->choice];
        InferSeq *q = &s->seqs[nseq];
        if (sl->feed < 0) {
            int n = c->n_prompt - sl->prefilled;
            if (n > budget) n = budget;
            if (n <= 0) continue;
            budget -= n;
            *q = (InferSeq){.st = sl->st,
                            .tokens = c->prompt + sl->prefilled,
                            .n = n,
                            .want_logits = sl->prefilled + n == c->n_prompt};
        } else {
            *q = (InferSeq){.st = sl->st, .tokens = &sl->feed, .n = 1, .want_logits = 1};
        }
        s->seq_slot[nseq++] = i;
    }
    return nseq;
}

static void run_step(Scheduler *s, int nseq) {
    int n_ctx = s->m->cfg.n_ctx;
    if (infer_forward(s->scratch, s->seqs, nseq) != 0) {
        /* Inputs were validated when the request came in; this is a bug,
         * but one request's failure must not take the others down. */
        for (int k = 0; k < nseq; k++) abort_slot(s, &s->slots[s->seq_slot[k]], chirp_error());
        return;
    }
    s->steps++;
    for (int k = 0; k < nseq; k++) {
        Slot *sl = &s->slots[s->seq_slot[k]];
        const InferSeq *q = &s->seqs[k];
        int at = sl->st->pos - q->n;
        if (at + q->n <= n_ctx) memcpy(sl->cached + at, q->tokens, (size_t)q->n * sizeof(int32_t));
        if (sl->feed < 0) sl->prefilled += q->n;
        if (q->want_logits) sample_next(s, sl);
    }
}

static void *sched_main(void *arg) {
    Scheduler *s = arg;
    /* OpenMP settings are per thread: this one runs every forward. */
    omp_set_num_threads(s->cfg.threads);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        admit_queued(s);
        while (s->busy == 0 && s->q_len == 0 && !s->stopping) pthread_cond_wait(&s->cv, &s->mu);
        bool done = s->stopping && s->busy == 0 && s->q_len == 0;
        bool cancel_all = s->stopping && time_now() >= s->cancel_at;
        pthread_mutex_unlock(&s->mu);
        if (done) break;
        int nseq = build_batch(s, cancel_all);
        if (nseq > 0) {
            run_step(s, nseq);
        } else {
            /* Every running stream is waiting for its reader: nap, then
             * look again (a reader draining does not signal us). */
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* ---- the interface ---- */

Scheduler *sched_new(const InferModel *m, const Tokenizer *tok, Metrics *metrics, const SchedConfig *cfg) {
    if (cfg->slots < 1 || cfg->max_queue < 1 || cfg->prefill_chunk < 1) {
        chirp_fail("the scheduler needs at least one slot, a queue and a prefill chunk");
        return NULL;
    }
    Scheduler *s = xcalloc(1, sizeof *s);
    s->m = m;
    s->tok = tok;
    s->metrics = metrics;
    s->cfg = *cfg;
    s->slots = xcalloc((size_t)cfg->slots, sizeof(Slot));
    for (int i = 0; i < cfg->slots; i++) {
        s->slots[i].st = infer_state_new(m);
        s->slots[i].cached = xmalloc((size_t)m->cfg.n_ctx * sizeof(int32_t));
    }
    s->scratch = infer_scratch_new(m);
    s->seqs = xcalloc((size_t)cfg->slots, sizeof(InferSeq));
    s->seq_slot = xcalloc((size_t)cfg->slots, sizeof(int));
    s->q_cap = cfg->max_queue + cfg->slots;
    s->queue = xcalloc((size_t)s->q_cap, sizeof(Job));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, sched_main, s) != 0) {
        chirp_fail_errno("cannot start the scheduler thread");
        s->thread = 0;
        sched_free(s);
        return NULL;
    }
    return s;
}

int sched_submit(Scheduler *s, ServeRequest *r) {
    pthread_mutex_lock(&s->mu);
    /* Room: every slot plus the queue, counting queued choices that have
     * not reached a slot yet (admission happens on the scheduler thread). */
    if (s->stopping || s->busy + s->q_len + r->n_choices > s->cfg.slots + s->cfg.max_queue) {
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    r->t_submit = time_now();
    for (int i = 0; i < r->n_choices; i++) {
        serve_request_retain(r);
        s->queue[(s->q_head + s->q_len) % s->q_cap] = (Job){r, i};
        s->q_len++;
    }
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void sched_stats(Scheduler *s, SchedStats *out) {
    pthread_mutex_lock(&s->mu);
    out->slots = s->cfg.slots;
    out->slots_busy = s->busy;
    out->queued = s->q_len;
    out->steps = s->steps;
    out->cache_hits = s->cache_hits;
    pthread_mutex_unlock(&s->mu);
}

void sched_stop(Scheduler *s, double grace_s) {
    pthread_mutex_lock(&s->mu);
    if (!s->stopping) {
        s->stopping = true;
        s->cancel_at = time_now() + grace_s;
        /* What has not started gets no slot now. */
        while (s->q_len > 0) {
            Job job = s->queue[s->q_head];
            s->q_head = (s->q_head + 1) % s->q_cap;
            s->q_len--;
            end_unstarted(job.req, job.choice, "the server is shutting down");
            serve_request_release(job.req);
        }
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (s->thread) {
        pthread_join(s->thread, NULL);
        s->thread = 0;
    }
}

void sched_free(Scheduler *s) {
    if (!s) return;
    if (s->thread) sched_stop(s, 0);
    for (int i = 0; i < s->cfg.slots; i++) {
        infer_state_free(s->slots[i].st);
        free(s->slots[i].cached);
        free(s->slots[i].biased);
        buf_free(&s->slots[i].delta);
    }
    free(s->slots);
    infer_scratch_free(s->scratch);
    free(s->seqs);
    free(s->seq_slot);
    free(s->queue);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
