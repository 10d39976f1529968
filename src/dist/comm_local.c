/* comm_local.c: an in-process group of communicators, one per thread,
 * standing in for ranks in tests (see comm.h). Every collective posts the
 * rank's buffer, waits for all, computes from everyone's, and waits
 * again; sums go in rank order, so results are deterministic. */
#include "dist/comm.h"

#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct Group {
    int n;
    int refs;
    pthread_mutex_t mu;
    pthread_barrier_t bar;
    const void **posted; /* [n] */
} Group;

typedef struct Local {
    Group *g;
} Local;

static Group *group_of(Comm *c) { return ((Local *)c->impl)->g; }

static void post_and_wait(Comm *c, const void *p) {
    Group *g = group_of(c);
    g->posted[c->rank] = p;
    pthread_barrier_wait(&g->bar);
}

static void done(Comm *c) { pthread_barrier_wait(&group_of(c)->bar); }

static int local_allreduce(Comm *c, float *buf, size_t n) {
    Group *g = group_of(c);
    post_and_wait(c, buf);
    float *sum = xmalloc((n + 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        float s = ((const float *)g->posted[0])[i];
        for (int r = 1; r < g->n; r++) s += ((const float *)g->posted[r])[i];
        sum[i] = s;
    }
    done(c);
    memcpy(buf, sum, n * sizeof(float));
    free(sum);
    done(c);
    return 0;
}

static int local_allreduce_f64(Comm *c, double *buf, size_t n) {
    Group *g = group_of(c);
    post_and_wait(c, buf);
    double *sum = xmalloc((n + 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double s = ((const double *)g->posted[0])[i];
        for (int r = 1; r < g->n; r++) s += ((const double *)g->posted[r])[i];
        sum[i] = s;
    }
    done(c);
    memcpy(buf, sum, n * sizeof(double));
    free(sum);
    done(c);
    return 0;
}

static int local_reduce_scatter(Comm *c, const float *send, float *recv, const size_t *counts) {
    Group *g = group_of(c);
    post_and_wait(c, send);
    size_t off = comm_offset(counts, c->rank);
    float *part = xmalloc((counts[c->rank] + 1) * sizeof(float));
    for (size_t i = 0; i < counts[c->rank]; i++) {
        float s = ((const float *)g->posted[0])[off + i];
        for (int r = 1; r < g->n; r++) s += ((const float *)g->posted[r])[off + i];
        part[i] = s;
    }
    done(c);
    memcpy(recv, part, counts[c->rank] * sizeof(float));
    free(part);
    done(c);
    return 0;
}

static int local_allgather(Comm *c, float *buf, const size_t *counts) {
    Group *g = group_of(c);
    post_and_wait(c, buf);
    for (int r = 0; r < g->n; r++) {
        if (r == c->rank) continue;
        size_t off = comm_offset(counts, r);
        memcpy(buf + off, (const float *)g->posted[r] + off, counts[r] * sizeof(float));
    }
    done(c);
    return 0;
}

static int local_gather(Comm *c, const float *part, float *full, const size_t *counts, int root) {
    Group *g = group_of(c);
    post_and_wait(c, part);
    if (c->rank == root)
        for (int r = 0; r < g->n; r++) memcpy(full + comm_offset(counts, r), g->posted[r], counts[r] * sizeof(float));
    done(c);
    return 0;
}

static int local_broadcast(Comm *c, void *buf, size_t bytes, int root) {
    Group *g = group_of(c);
    post_and_wait(c, buf);
    if (c->rank != root) memcpy(buf, g->posted[root], bytes);
    done(c);
    return 0;
}

static int local_allgather_bytes(Comm *c, const void *in, void *out, size_t bytes) {
    Group *g = group_of(c);
    post_and_wait(c, in);
    for (int r = 0; r < g->n; r++) memcpy((char *)out + (size_t)r * bytes, g->posted[r], bytes);
    done(c);
    return 0;
}

static int local_barrier(Comm *c) {
    done(c);
    return 0;
}

static void local_abort(Comm *c, int code) {
    (void)c;
    exit(code);
}

static void local_free(Comm *c) {
    Group *g = group_of(c);
    pthread_mutex_lock(&g->mu);
    int left = --g->refs;
    pthread_mutex_unlock(&g->mu);
    if (left == 0) {
        pthread_barrier_destroy(&g->bar);
        pthread_mutex_destroy(&g->mu);
        free(g->posted);
        free(g);
    }
    free(c->impl);
    free(c);
}

static const CommOps LOCAL_OPS = {
    .allreduce_sum = local_allreduce,
    .allreduce_sum_f64 = local_allreduce_f64,
    .reduce_scatter_sum = local_reduce_scatter,
    .allgather = local_allgather,
    .gather = local_gather,
    .broadcast = local_broadcast,
    .allgather_bytes = local_allgather_bytes,
    .barrier = local_barrier,
    .abort = local_abort,
    .free = local_free,
};

Comm **comm_local_group_new(int n) {
    Group *g = xcalloc(1, sizeof *g);
    g->n = n;
    g->refs = n;
    pthread_mutex_init(&g->mu, NULL);
    pthread_barrier_init(&g->bar, NULL, (unsigned)n);
    g->posted = xcalloc((size_t)n, sizeof(void *));
    Comm **cs = xcalloc((size_t)n, sizeof(Comm *));
    for (int r = 0; r < n; r++) {
        Comm *c = xcalloc(1, sizeof *c);
        Local *l = xcalloc(1, sizeof *l);
        l->g = g;
        c->ops = &LOCAL_OPS;
        c->rank = r;
        c->size = n;
        c->name = "local";
        c->impl = l;
        cs[r] = c;
    }
    return cs;
}
