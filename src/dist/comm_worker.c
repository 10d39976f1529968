/* comm_worker.c: the collective-calling thread (see comm_worker.h). */
#include "dist/comm_worker.h"

#include "util/error.h"
#include "util/timer.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct Job {
    CommJob fn;
    void *arg;
} Job;

struct CommWorker {
    Comm *comm;
    double timeout_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* jobs queued / stopping */
    pthread_cond_t done_cv; /* a job finished */
    Job *jobs;
    long cap, submitted, finished; /* ring of cap; tickets are 1, 2, ... */
    bool stop;
    int failed; /* a job returned -1 */
    char error[512];
    double progress_at; /* last start or finish of a job */
    double busy_s, waited_s;
};

static void *worker_main(void *arg) {
    CommWorker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->finished == w->submitted && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
        if (w->finished == w->submitted && w->stop) break;
        Job j = w->jobs[w->finished % w->cap];
        w->progress_at = time_now();
        pthread_mutex_unlock(&w->mu);
        double t0 = time_now();
        int rc = w->failed ? -1 : j.fn(w->comm, j.arg);
        double dt = time_now() - t0;
        pthread_mutex_lock(&w->mu);
        if (rc != 0 && !w->failed) {
            w->failed = 1;
            snprintf(w->error, sizeof w->error, "%s", chirp_error());
        }
        w->busy_s += dt;
        w->finished++;
        w->progress_at = time_now();
        pthread_cond_broadcast(&w->done_cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

CommWorker *comm_worker_new(Comm *c, double timeout_s) {
    CommWorker *w = xcalloc(1, sizeof *w);
    w->comm = c;
    w->timeout_s = timeout_s;
    w->cap = 256;
    w->jobs = xcalloc((size_t)w->cap, sizeof(Job));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->done_cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        chirp_fail_errno("cannot start the communication thread");
        free(w->jobs);
        free(w);
        return NULL;
    }
    return w;
}

long comm_worker_submit(CommWorker *w, CommJob fn, void *arg) {
    pthread_mutex_lock(&w->mu);
    if (w->submitted - w->finished == w->cap) {
        /* Full ring (never in practice: a step queues ~L+2 jobs). */
        long cap = w->cap * 2;
        Job *jobs = xcalloc((size_t)cap, sizeof(Job));
        for (long t = w->finished; t < w->submitted; t++) jobs[t % cap] = w->jobs[t % w->cap];
        free(w->jobs);
        w->jobs = jobs;
        w->cap = cap;
    }
    w->jobs[w->submitted % w->cap] = (Job){fn, arg};
    long ticket = ++w->submitted;
    if (w->finished == ticket - 1) w->progress_at = time_now();
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return ticket;
}

int comm_worker_wait(CommWorker *w, long ticket) {
    double t0 = time_now();
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while (w->finished < ticket && !w->failed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->done_cv, &w->mu, &ts);
        if (w->finished < ticket && time_now() - w->progress_at > w->timeout_s) {
            chirp_fail("no answer from the other ranks for %.0f s (a rank died or the network dropped)", w->timeout_s);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && w->failed) rc = chirp_fail("%s", w->error);
    w->waited_s += time_now() - t0;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int comm_worker_run(CommWorker *w, CommJob fn, void *arg) {
    return comm_worker_wait(w, comm_worker_submit(w, fn, arg));
}

void comm_worker_times(CommWorker *w, double *busy_s, double *waited_s) {
    pthread_mutex_lock(&w->mu);
    *busy_s = w->busy_s;
    *waited_s = w->waited_s;
    w->busy_s = w->waited_s = 0;
    pthread_mutex_unlock(&w->mu);
}

void comm_worker_free(CommWorker *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->done_cv);
    free(w->jobs);
    free(w);
}
