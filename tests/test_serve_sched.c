/* test_serve_sched.c: the server's scheduler in-process: choices run in
 * slots beside each other give exactly generate()'s text (batch
 * invariance), the queue is bounded, a cancelled request frees its slot,
 * a prompt that extends a slot's cache reuses it, a stream whose reader
 * does not keep up is paused, and stopping ends what still runs. */
#include "testutil.h"

#include <pthread.h>

#include "infer/generate.h"
#include "serve/scheduler.h"
#include "util/buf.h"
#include "util/timer.h"

static char model_dir[512];
static InferModel model;
static Tokenizer *tok;
static Metrics *metrics;

static int setup(void **state) {
    (void)state;
    if (test_tiny_model(model_dir, sizeof model_dir, 21) != 0) return -1;
    char tj[700];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", model_dir);
    tok = tokenizer_load(tj);
    metrics = metrics_new();
    return tok && infer_model_load(&model, model_dir, INFER_F32) == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    infer_model_destroy(&model);
    tokenizer_free(tok);
    metrics_free(metrics);
    return 0;
}

static void no_wake(void *ctx) { (void)ctx; }

static int32_t *encode(const char *text, int *n) {
    int32_t *ids = malloc((strlen(text) + 1) * sizeof(int32_t));
    *n = (int)tokenizer_encode(tok, text, strlen(text), false, ids, strlen(text) + 1);
    return ids;
}

/* A one-choice completion request; the prompt is copied into the request. */
static ServeRequest *request(const char *prompt, int max_tokens, float temperature, uint64_t seed) {
    ServeRequest *r = serve_request_new();
    int n;
    r->ids_store = encode(prompt, &n);
    r->n_choices = 1;
    r->choices = calloc(1, sizeof(ServeChoice));
    r->choices[0].prompt = r->ids_store;
    r->choices[0].n_prompt = n;
    sampler_config_default(&r->choices[0].sampler);
    r->choices[0].sampler.temperature = temperature;
    r->choices[0].sampler.top_k = 50;
    r->choices[0].sampler.seed = seed;
    r->max_tokens = max_tokens;
    r->stop_ids[0] = tokenizer_eot_id(tok);
    r->n_stop_ids = 1;
    r->wake = no_wake;
    return r;
}

static bool finished(ServeRequest *r) {
    pthread_mutex_lock(&r->mu);
    bool f = r->finished == r->n_choices;
    pthread_mutex_unlock(&r->mu);
    return f;
}

static bool wait_finished(ServeRequest *r, double seconds) {
    double t0 = time_now();
    while (!finished(r)) {
        if (time_now() - t0 > seconds) return false;
        usleep(1000);
    }
    return true;
}

/* All the text of a finished request's events (and the last finish). */
static char *collect(ServeRequest *r, const char **finish, const char **error) {
    pthread_mutex_lock(&r->mu);
    int n;
    ServeEvent *ev = serve_request_take(r, &n);
    pthread_mutex_unlock(&r->mu);
    Buf b = {0};
    for (int i = 0; i < n; i++) {
        buf_push(&b, ev[i].text, ev[i].len);
        if (ev[i].finish && finish) *finish = ev[i].finish;
        if (ev[i].error && error) *error = ev[i].error;
    }
    serve_events_free(ev, n);
    buf_terminate(&b);
    return b.data ? b.data : strdup("");
}

static char *generate_alone(const char *prompt, int max_tokens, float temperature, uint64_t seed) {
    InferState *st = infer_state_new(&model);
    SamplerConfig sc;
    sampler_config_default(&sc);
    sc.temperature = temperature;
    sc.top_k = 50;
    sc.seed = seed;
    Sampler *sm = sampler_new(&sc, model.cfg.vocab_size);
    int n;
    int32_t *ids = encode(prompt, &n);
    int32_t eot = tokenizer_eot_id(tok);
    GenOptions go = {.max_tokens = max_tokens, .stop_ids = &eot, .n_stop_ids = 1};
    GenResult gr;
    assert_int_equal(generate(st, sm, tok, ids, n, &go, NULL, NULL, NULL, &gr), 0);
    char *text = strdup(gr.text);
    gen_result_destroy(&gr);
    free(ids);
    sampler_free(sm);
    infer_state_free(st);
    return text;
}

static Scheduler *scheduler(int slots, int max_queue, size_t max_backlog) {
    SchedConfig c = {.slots = slots,
                     .max_queue = max_queue,
                     .prefill_chunk = 7,
                     .threads = 2,
                     .max_backlog = max_backlog ? max_backlog : 1 << 20};
    Scheduler *s = sched_new(&model, tok, metrics, &c);
    assert_non_null(s);
    return s;
}

/* 16 choices at once (prompt chunks of 7 tokens interleaved with decoding
 * steps of the others) equal 16 runs of generate() one at a time. */
static void batched_equals_generate(void) {
    enum { N = 16 };
    char prompts[N][96];
    char *expect[N];
    for (int i = 0; i < N; i++) {
        snprintf(prompts[i], sizeof prompts[i], "Once upon a time %d birds sang%s", i * 7, i % 3 ? " songs" : "");
        expect[i] = generate_alone(prompts[i], 40 + i, i % 4 ? 0.9f : 0.0f, 100 + i);
    }
    Scheduler *s = scheduler(N, 4, 0);
    ServeRequest *r[N];
    for (int i = 0; i < N; i++) {
        r[i] = request(prompts[i], 40 + i, i % 4 ? 0.9f : 0.0f, 100 + i);
        assert_int_equal(sched_submit(s, r[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        assert_true(wait_finished(r[i], 60));
        const char *finish = NULL;
        char *got = collect(r[i], &finish, NULL);
        if (strcmp(got, expect[i]) != 0)
            fprintf(stderr, "choice %d:\n  alone:   %s\n  batched: %s\n", i, expect[i], got);
        assert_string_equal(got, expect[i]);
        assert_non_null(finish);
        free(got);
        free(expect[i]);
        serve_request_release(r[i]);
    }
    SchedStats st;
    sched_stats(s, &st);
    assert_int_equal(st.slots_busy, 0);
    printf("  16 choices in %lld batched steps\n", st.steps);
    assert_true(st.steps < 16 * 40); /* they really ran together */
    sched_free(s);
}

static void test_batched_equals_generate(void **state) {
    (void)state;
    batched_equals_generate();
}

/* The same with bf16 weights: the server's batched products over them
 * keep every sequence exactly as alone. */
static void test_batched_equals_generate_bf16(void **state) {
    (void)state;
    InferModel fp32 = model;
    assert_int_equal(infer_model_load(&model, model_dir, INFER_BF16), 0);
    batched_equals_generate();
    infer_model_destroy(&model);
    model = fp32;
}

/* Slots + queue is the capacity: the next submission is refused until a
 * choice ends. */
static void test_queue_bound(void **state) {
    (void)state;
    Scheduler *s = scheduler(2, 3, 0);
    ServeRequest *r[6];
    for (int i = 0; i < 6; i++) {
        r[i] = request("Good morning", 120, 0.8f, (uint64_t)i);
        int rc = sched_submit(s, r[i]);
        assert_int_equal(rc, i < 5 ? 0 : -1);
    }
    SchedStats st;
    sched_stats(s, &st);
    assert_int_equal(st.slots_busy + st.queued, 5);
    for (int i = 0; i < 5; i++) assert_true(wait_finished(r[i], 60));
    assert_int_equal(sched_submit(s, r[5]), 0);
    assert_true(wait_finished(r[5], 60));
    for (int i = 0; i < 6; i++) serve_request_release(r[i]);
    sched_free(s);
}

/* A cancelled choice leaves its slot within a step; one cancelled while
 * queued never takes a slot. */
static void test_cancel_frees_slot(void **state) {
    (void)state;
    Scheduler *s = scheduler(1, 2, 0);
    ServeRequest *a = request("Once upon a time", 127, 0.8f, 1), *b = request("Good morning", 127, 0.8f, 2);
    assert_int_equal(sched_submit(s, a), 0);
    assert_int_equal(sched_submit(s, b), 0);
    SchedStats st;
    do sched_stats(s, &st);
    while (st.steps < 3);
    pthread_mutex_lock(&b->mu);
    b->cancelled = true;
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_lock(&a->mu);
    a->cancelled = true;
    pthread_mutex_unlock(&a->mu);
    double t0 = time_now();
    assert_true(wait_finished(a, 1.0));
    assert_true(wait_finished(b, 1.0));
    do sched_stats(s, &st);
    while ((st.slots_busy || st.queued) && time_now() - t0 < 1.0);
    assert_int_equal(st.slots_busy, 0);
    assert_int_equal(st.queued, 0);
    pthread_mutex_lock(&a->mu);
    assert_true(a->completion_tokens < 127);
    pthread_mutex_unlock(&a->mu);
    serve_request_release(a);
    serve_request_release(b);
    sched_free(s);
}

/* A prompt that extends the previous conversation (prompt + reply + a new
 * turn) prefills only the new tokens, and its text is what a cold run
 * gives. */
static void test_prompt_cache_reuse(void **state) {
    (void)state;
    Scheduler *s = scheduler(2, 2, 0);
    ServeRequest *a = request("Once upon a time a bird", 20, 0.0f, 0);
    assert_int_equal(sched_submit(s, a), 0);
    assert_true(wait_finished(a, 30));
    char *reply = collect(a, NULL, NULL);
    char second[512];
    snprintf(second, sizeof second, "Once upon a time a bird%s Good morning!", reply);
    ServeRequest *b = request(second, 20, 0.0f, 0);
    assert_int_equal(sched_submit(s, b), 0);
    assert_true(wait_finished(b, 30));
    char *warm = collect(b, NULL, NULL);
    pthread_mutex_lock(&b->mu);
    int cached = b->cached_tokens;
    pthread_mutex_unlock(&b->mu);
    int na;
    free(encode("Once upon a time a bird", &na));
    printf("  second prompt: %d of %d tokens came from the cache\n", cached, b->choices[0].n_prompt);
    assert_true(cached >= na);
    char *cold = generate_alone(second, 20, 0.0f, 0);
    assert_string_equal(warm, cold);
    free(reply);
    free(warm);
    free(cold);
    serve_request_release(a);
    serve_request_release(b);
    sched_free(s);
}

/* A stream nobody reads stops growing at the backlog limit; once read,
 * it goes on to the end. */
static void test_backlog_pauses_stream(void **state) {
    (void)state;
    Scheduler *s = scheduler(1, 1, 2000);
    ServeRequest *r = request("Once upon a time", 100, 0.9f, 3);
    r->stream = true;
    assert_int_equal(sched_submit(s, r), 0);
    usleep(300 * 1000);
    pthread_mutex_lock(&r->mu);
    size_t backlog = r->backlog;
    int events = r->n_events;
    pthread_mutex_unlock(&r->mu);
    usleep(300 * 1000);
    pthread_mutex_lock(&r->mu);
    assert_int_equal(r->n_events, events); /* paused */
    assert_false(r->finished);
    pthread_mutex_unlock(&r->mu);
    printf("  paused with %d events (%zu bytes) waiting\n", events, backlog);
    assert_true(backlog > 2000 && backlog < 4000);
    double t0 = time_now();
    while (!finished(r) && time_now() - t0 < 30) {
        char *t = collect(r, NULL, NULL); /* the reader catches up: backlog back to 0 */
        free(t);
        usleep(1000);
    }
    assert_true(finished(r));
    serve_request_release(r);
    sched_free(s);
}

/* Stopping: queued choices end at once, running ones after the grace
 * period, all with an error event. */
static void test_stop_ends_everything(void **state) {
    (void)state;
    Scheduler *s = scheduler(1, 2, 0);
    ServeRequest *a = request("Once upon a time", 127, 0.9f, 4), *b = request("Good", 127, 0.9f, 5);
    assert_int_equal(sched_submit(s, a), 0);
    assert_int_equal(sched_submit(s, b), 0);
    double t0 = time_now();
    sched_stop(s, 0.0);
    assert_true(time_now() - t0 < 2.0);
    assert_true(finished(a) && finished(b));
    const char *ea = NULL, *eb = NULL;
    free(collect(a, NULL, &ea));
    free(collect(b, NULL, &eb));
    assert_non_null(eb);
    assert_true(ea != NULL || a->completion_tokens == 127 || a->completion_tokens > 0);
    ServeRequest *c = request("late", 5, 0.0f, 0);
    assert_int_equal(sched_submit(s, c), -1);
    serve_request_release(a);
    serve_request_release(b);
    serve_request_release(c);
    sched_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batched_equals_generate),
        cmocka_unit_test(test_batched_equals_generate_bf16),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_cancel_frees_slot),
        cmocka_unit_test(test_prompt_cache_reuse),
        cmocka_unit_test(test_backlog_pauses_stream),
        cmocka_unit_test(test_stop_ends_everything),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
