/* request.c: the shared request object and its event queue (see
 * request.h). */
#include "serve/request.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

ServeRequest *serve_request_new(void) {
    ServeRequest *r = xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    r->refs = 1;
    r->max_tokens = -1;
    return r;
}

void serve_request_retain(ServeRequest *r) {
    pthread_mutex_lock(&r->mu);
    r->refs++;
    pthread_mutex_unlock(&r->mu);
}

void serve_events_free(ServeEvent *ev, int n) {
    for (int i = 0; i < n; i++) {
        free(ev[i].text);
        free(ev[i].logprobs);
    }
    free(ev);
}

void serve_request_release(ServeRequest *r) {
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    int left = --r->refs;
    pthread_mutex_unlock(&r->mu);
    if (left > 0) return;
    serve_events_free(r->events, r->n_events);
    free(r->choices);
    free(r->ids_store);
    if (r->owner_free) r->owner_free(r->owner);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

void serve_request_push(ServeRequest *r, const ServeEvent *e) {
    if (r->n_events == r->cap_events) {
        r->cap_events = r->cap_events ? r->cap_events * 2 : 16;
        r->events = xrealloc(r->events, (size_t)r->cap_events * sizeof *r->events);
    }
    r->events[r->n_events++] = *e;
    /* What a chunk costs on the wire, roughly: the JSON envelope and the
     * text. Only used to pause a stream whose reader is not keeping up. */
    r->backlog += e->len + 200 + (size_t)e->n_logprobs * 64;
}

ServeEvent *serve_request_take(ServeRequest *r, int *n) {
    ServeEvent *ev = r->events;
    *n = r->n_events;
    r->events = NULL;
    r->n_events = r->cap_events = 0;
    r->backlog = 0; /* the taker adds back what it could not send yet */
    return ev;
}
