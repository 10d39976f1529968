/* metrics.h: the server's counters, rendered in Prometheus' text format
 * for GET /metrics: requests by endpoint and status, prompt and completion
 * tokens, requests processing and queued, slots in use, and histograms of
 * time to first token and of the time between tokens. Thread-safe. */
#ifndef CHIRP_SERVE_METRICS_H
#define CHIRP_SERVE_METRICS_H

typedef struct Metrics Metrics;

Metrics *metrics_new(void);
void metrics_free(Metrics *m);

/* endpoint is a route name ("/v1/chat/completions", or "other"). */
void metrics_request(Metrics *m, const char *endpoint, int status);
void metrics_tokens(Metrics *m, int prompt_tokens, int completion_tokens);
void metrics_ttft(Metrics *m, double seconds);
void metrics_token_latency(Metrics *m, double seconds);

/* The exposition text (malloc'd). The gauges come from the scheduler. */
char *metrics_render(Metrics *m, int slots, int slots_busy, int queued);

#endif
