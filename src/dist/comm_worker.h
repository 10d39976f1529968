/* comm_worker.h: a thread that makes a rank's collective calls.
 *
 * Jobs (a function and its argument) run one at a time, in submission
 * order, on the worker thread, so the caller can go on computing while a
 * gradient bucket is reduced (the overlap of data-parallel training) and
 * every MPI call comes from one thread. Waiting has a deadline: a job that
 * makes no progress for timeout_s seconds (a rank died, the network
 * dropped) fails the wait with a message instead of hanging the job. */
#ifndef CHIRP_DIST_COMM_WORKER_H
#define CHIRP_DIST_COMM_WORKER_H

#include "dist/comm.h"

typedef int (*CommJob)(Comm *c, void *arg);

typedef struct CommWorker CommWorker;

CommWorker *comm_worker_new(Comm *c, double timeout_s);

/* Queues fn(c, arg); returns a ticket for comm_worker_wait. arg must live
 * until the job is done. */
long comm_worker_submit(CommWorker *w, CommJob fn, void *arg);

/* Waits until job ticket (and every job before it) is done. Returns 0, or
 * -1 with the error set when a job failed or the deadline passed. */
int comm_worker_wait(CommWorker *w, long ticket);

/* submit + wait. */
int comm_worker_run(CommWorker *w, CommJob fn, void *arg);

/* Seconds the worker spent running jobs, and the callers spent waiting for
 * them, since the last call (both reset). */
void comm_worker_times(CommWorker *w, double *busy_s, double *waited_s);

void comm_worker_free(CommWorker *w);

#endif
