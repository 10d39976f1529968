/* request.h: one generation request in flight, shared by the HTTP thread
 * that took it and the scheduler thread that runs it.
 *
 * The HTTP side fills the inputs (token ids, sampling settings) and hands
 * the request to the scheduler; from then on the inputs are read-only. The
 * scheduler runs each choice in a slot and appends ServeEvents (new text,
 * log-probabilities, the finish reason) under the request's mutex, then
 * calls wake() so the HTTP side can send them. The HTTP side sets
 * `cancelled` when the client goes away; the scheduler notices within one
 * step and frees the slot. Both sides hold a reference; the last release
 * frees the request. */
#ifndef CHIRP_SERVE_REQUEST_H
#define CHIRP_SERVE_REQUEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "infer/sampler.h"
#include "serve/api_request.h"
#include "serve/api_response.h"

typedef struct ServeEvent {
    int choice;
    char *text; /* new text (raw bytes, may be empty) */
    size_t len;
    ApiLogprob *logprobs; /* one per token sampled since the last event, or NULL */
    int n_logprobs;
    const char *finish; /* "stop" / "length" when the choice ended, else NULL */
    const char *error;  /* set when the choice failed or the server is stopping */
} ServeEvent;

/* One choice's inputs. prompt points into memory the request owns. */
typedef struct ServeChoice {
    const int32_t *prompt;
    int n_prompt;
    SamplerConfig sampler;
} ServeChoice;

typedef struct ServeRequest {
    pthread_mutex_t mu;
    int refs;

    /* Inputs, fixed once submitted. */
    ServeChoice *choices;
    int n_choices;
    int max_tokens;           /* per choice; -1 = to the end of the context */
    const char *const *stops; /* stop strings */
    int n_stops;
    int32_t stop_ids[2]; /* tokens that end a choice (<|endoftext|>, the template's end) */
    int n_stop_ids;
    const ApiBias *bias;
    int n_bias;
    bool logprobs;
    int top_logprobs;
    bool stream; /* wake on every event, not only at the end */

    /* Outputs, under mu. */
    ServeEvent *events;
    int n_events, cap_events;
    size_t backlog; /* bytes produced and not yet sent (stream backpressure) */
    int finished;   /* choices that ended */
    int prompt_tokens, completion_tokens, cached_tokens;
    double t_submit, t_first_token;
    bool cancelled;          /* the client went away: stop spending compute on it */
    void (*wake)(void *ctx); /* called with mu held; NULL once the client is gone */
    void *wake_ctx;

    /* Memory the inputs point into, freed with the request. */
    int32_t *ids_store;
    void *owner; /* e.g. the parsed ApiRequest whose strings stops point to */
    void (*owner_free)(void *owner);
} ServeRequest;

/* A request with one reference (the caller's). */
ServeRequest *serve_request_new(void);
void serve_request_retain(ServeRequest *r);
void serve_request_release(ServeRequest *r);

/* Appends an event (takes ownership of text and logprobs). Call with mu held. */
void serve_request_push(ServeRequest *r, const ServeEvent *e);

/* Moves the pending events out (the caller frees them with
 * serve_events_free). Call with mu held. */
ServeEvent *serve_request_take(ServeRequest *r, int *n);
void serve_events_free(ServeEvent *ev, int n);

#endif
