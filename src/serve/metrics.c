/* metrics.c: counters and histograms in Prometheus' text exposition
 * format, version 0.0.4 (see metrics.h). */
#include "serve/metrics.h"

#include "util/buf.h"
#include "util/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 64

typedef struct Histogram {
    const double *bounds;
    int n;
    long long counts[16]; /* per bucket (not cumulative), last = +Inf */
    double sum;
    long long total;
} Histogram;

static const double TTFT_BOUNDS[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double TOKEN_BOUNDS[] = {0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28};

struct Metrics {
    pthread_mutex_t mu;
    struct {
        char endpoint[32];
        int status;
        long long count;
    } series[MAX_SERIES];
    int n_series;
    long long prompt_tokens, completion_tokens;
    Histogram ttft, token;
};

Metrics *metrics_new(void) {
    Metrics *m = xcalloc(1, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    m->ttft.bounds = TTFT_BOUNDS;
    m->ttft.n = (int)(sizeof TTFT_BOUNDS / sizeof *TTFT_BOUNDS);
    m->token.bounds = TOKEN_BOUNDS;
    m->token.n = (int)(sizeof TOKEN_BOUNDS / sizeof *TOKEN_BOUNDS);
    return m;
}

void metrics_free(Metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void metrics_request(Metrics *m, const char *endpoint, int status) {
    pthread_mutex_lock(&m->mu);
    int i = 0;
    while (i < m->n_series && (m->series[i].status != status || strcmp(m->series[i].endpoint, endpoint) != 0)) i++;
    if (i == m->n_series && i < MAX_SERIES) {
        snprintf(m->series[i].endpoint, sizeof m->series[i].endpoint, "%s", endpoint);
        m->series[i].status = status;
        m->n_series++;
    }
    if (i < m->n_series) m->series[i].count++;
    pthread_mutex_unlock(&m->mu);
}

void metrics_tokens(Metrics *m, int prompt_tokens, int completion_tokens) {
    pthread_mutex_lock(&m->mu);
    m->prompt_tokens += prompt_tokens;
    m->completion_tokens += completion_tokens;
    pthread_mutex_unlock(&m->mu);
}

static void observe(Metrics *m, Histogram *h, double v) {
    pthread_mutex_lock(&m->mu);
    int b = 0;
    while (b < h->n && v > h->bounds[b]) b++;
    h->counts[b]++;
    h->sum += v;
    h->total++;
    pthread_mutex_unlock(&m->mu);
}

void metrics_ttft(Metrics *m, double seconds) { observe(m, &m->ttft, seconds); }
void metrics_token_latency(Metrics *m, double seconds) { observe(m, &m->token, seconds); }

static void render_histogram(Buf *b, const char *name, const char *help, const Histogram *h) {
    buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    long long cum = 0;
    for (int i = 0; i < h->n; i++) {
        cum += h->counts[i];
        buf_printf(b, "%s_bucket{le=\"%g\"} %lld\n", name, h->bounds[i], cum);
    }
    cum += h->counts[h->n];
    buf_printf(b, "%s_bucket{le=\"+Inf\"} %lld\n%s_sum %.6f\n%s_count %lld\n", name, cum, name, h->sum, name, h->total);
}

char *metrics_render(Metrics *m, int slots, int slots_busy, int queued) {
    Buf b = {0};
    pthread_mutex_lock(&m->mu);
    buf_printf(&b, "# HELP chirp_requests_total HTTP requests answered, by endpoint and status.\n"
                   "# TYPE chirp_requests_total counter\n");
    for (int i = 0; i < m->n_series; i++)
        buf_printf(&b, "chirp_requests_total{endpoint=\"%s\",status=\"%d\"} %lld\n", m->series[i].endpoint,
                   m->series[i].status, m->series[i].count);
    buf_printf(&b,
               "# HELP chirp_prompt_tokens_total Prompt tokens of finished requests.\n"
               "# TYPE chirp_prompt_tokens_total counter\nchirp_prompt_tokens_total %lld\n"
               "# HELP chirp_completion_tokens_total Tokens generated.\n"
               "# TYPE chirp_completion_tokens_total counter\nchirp_completion_tokens_total %lld\n",
               m->prompt_tokens, m->completion_tokens);
    buf_printf(&b,
               "# HELP chirp_requests_processing Choices generating in a slot now.\n"
               "# TYPE chirp_requests_processing gauge\nchirp_requests_processing %d\n"
               "# HELP chirp_requests_queued Choices waiting for a slot.\n"
               "# TYPE chirp_requests_queued gauge\nchirp_requests_queued %d\n"
               "# HELP chirp_slots_in_use Slots holding a running choice.\n"
               "# TYPE chirp_slots_in_use gauge\nchirp_slots_in_use %d\n"
               "# HELP chirp_slots_total Slots (--parallel).\n"
               "# TYPE chirp_slots_total gauge\nchirp_slots_total %d\n",
               slots_busy, queued, slots_busy, slots);
    render_histogram(&b, "chirp_time_to_first_token_seconds", "From arrival to the first generated token.", &m->ttft);
    render_histogram(&b, "chirp_time_per_output_token_seconds", "Between consecutive tokens of one choice.", &m->token);
    pthread_mutex_unlock(&m->mu);
    buf_terminate(&b);
    return b.data;
}
