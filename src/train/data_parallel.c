/* data_parallel.c: gradient sums, ZeRO-1 shards and setup checks across
 * ranks (see data_parallel.h). */
#include "train/data_parallel.h"

#include "model/gpt2_compute.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETUP_BYTES 8192

int dp_init(DataParallel *dp, Comm *comm, const Gpt2Config *cfg, bool zero, double timeout_s) {
    memset(dp, 0, sizeof *dp);
    dp->comm = comm;
    dp->rank = comm->rank;
    dp->size = comm->size;
    dp->zero = zero && comm->size > 1;
    dp->num_params = gpt2_num_params(cfg);
    dp->counts = xcalloc((size_t)dp->size, sizeof(size_t));
    /* Slices of whole norm chunks, so each chunk's partial sum is made
     * by one rank (the last slice takes the remainder). */
    size_t chunks = (dp->num_params + GRAD_NORM_CHUNK - 1) / GRAD_NORM_CHUNK;
    for (int r = 0; r < dp->size; r++) {
        size_t a = chunks * (size_t)r / (size_t)dp->size * GRAD_NORM_CHUNK;
        size_t b = chunks * (size_t)(r + 1) / (size_t)dp->size * GRAD_NORM_CHUNK;
        if (a > dp->num_params) a = dp->num_params;
        if (b > dp->num_params) b = dp->num_params;
        dp->counts[r] = b - a;
        if (r == dp->rank) {
            dp->lo = dp->zero ? a : 0;
            dp->hi = dp->zero ? b : dp->num_params;
        }
    }
    dp->ngroups = gpt2_grad_groups(cfg);
    dp->groups = xcalloc((size_t)dp->ngroups, sizeof(DpGroup));
    dp->jobs = xcalloc((size_t)dp->ngroups, sizeof(DpJob));
    for (int g = 0; g < dp->ngroups; g++) {
        dp->groups[g].n = gpt2_grad_group_ranges(cfg, g, dp->groups[g].off, dp->groups[g].len);
        dp->jobs[g] = (DpJob){dp, g};
    }
    if (dp->zero) dp->shard_tmp = xmalloc((dp->hi - dp->lo + 1) * sizeof(float));
    if (dp->size > 1) {
        dp->worker = comm_worker_new(comm, timeout_s);
        if (!dp->worker) return -1;
    }
    return 0;
}

void dp_destroy(DataParallel *dp) {
    comm_worker_free(dp->worker);
    free(dp->counts);
    free(dp->groups);
    free(dp->jobs);
    free(dp->shard_tmp);
    memset(dp, 0, sizeof *dp);
}

long long dp_batch_index(const DataParallel *dp, long long base, long long i, int k, int grad_accum) {
    return base + (i * grad_accum + k) * dp->size + dp->rank;
}

float *dp_backward_target(DataParallel *dp, float *grads, float *micro, int k, int grad_accum, size_t n) {
    dp->grads = grads;
    dp->micro = micro;
    dp->add_micro = k > 0;
    dp->reduce = k == grad_accum - 1;
    dp->last_ticket = 0;
    if (k == 0) return grads; /* zeroed by the trainer at the start of the step */
    memset(micro, 0, n * sizeof(float));
    return micro;
}

static int reduce_group(Comm *c, void *arg) {
    const DpJob *j = arg;
    const DpGroup *g = &j->dp->groups[j->group];
    for (int i = 0; i < g->n; i++)
        if (c->ops->allreduce_sum(c, j->dp->grads + g->off[i], g->len[i]) != 0) return -1;
    return 0;
}

void dp_group_ready(void *ctx, int group) {
    DataParallel *dp = ctx;
    const DpGroup *g = &dp->groups[group];
    if (dp->add_micro) {
        for (int i = 0; i < g->n; i++) {
            float *a = dp->grads + g->off[i];
            const float *b = dp->micro + g->off[i];
#pragma omp parallel for schedule(static) if (g->len[i] > 65536)
            for (size_t j = 0; j < g->len[i]; j++) a[j] += b[j];
        }
    }
    if (!dp->reduce || dp->size == 1 || dp->zero) return;
    /* To the communication thread now: the backward goes on with the
     * next group meanwhile. */
    dp->last_ticket = comm_worker_submit(dp->worker, reduce_group, &dp->jobs[group]);
}

void dp_accumulate(DataParallel *dp, size_t n) {
    float *a = dp->grads;
    const float *b = dp->micro;
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < n; j++) a[j] += b[j];
}

static int reduce_scatter_grads(Comm *c, void *arg) {
    DataParallel *dp = arg;
    if (c->ops->reduce_scatter_sum(c, dp->grads, dp->shard_tmp, dp->counts) != 0) return -1;
    memcpy(dp->grads + dp->lo, dp->shard_tmp, (dp->hi - dp->lo) * sizeof(float));
    return 0;
}

int dp_finish_grads(DataParallel *dp) {
    double busy = 0, waited = 0;
    int rc = 0;
    if (dp->size > 1) {
        if (dp->zero) rc = comm_worker_run(dp->worker, reduce_scatter_grads, dp);
        else if (dp->last_ticket) rc = comm_worker_wait(dp->worker, dp->last_ticket);
        comm_worker_times(dp->worker, &busy, &waited);
    }
    dp->comm_s = busy;
    dp->waited_s = waited;
    return rc;
}

typedef struct SumJob {
    void *v;
    size_t n;
    bool f64;
} SumJob;

static int sum_job(Comm *c, void *arg) {
    SumJob *j = arg;
    return j->f64 ? c->ops->allreduce_sum_f64(c, j->v, j->n) : c->ops->allreduce_sum(c, j->v, j->n);
}

int dp_sum_f64(DataParallel *dp, double *v, size_t n) {
    if (dp->size == 1) return 0;
    SumJob j = {v, n, true};
    return comm_worker_run(dp->worker, sum_job, &j);
}

int dp_sum_f32(DataParallel *dp, float *v, size_t n) {
    if (dp->size == 1) return 0;
    SumJob j = {v, n, false};
    return comm_worker_run(dp->worker, sum_job, &j);
}

int dp_grad_norm(DataParallel *dp, const float *grads, float *norm) {
    if (!dp->zero) {
        *norm = grad_global_norm(grads, dp->num_params);
        return 0;
    }
    /* Each rank's chunks, zero elsewhere: the sum over ranks adds each
     * partial to zeros, which is exact. */
    size_t nchunks = (dp->num_params + GRAD_NORM_CHUNK - 1) / GRAD_NORM_CHUNK;
    double *partial = xcalloc(nchunks + 1, sizeof(double));
    grad_sq_chunks(grads, dp->lo, dp->hi, partial);
    int rc = dp_sum_f64(dp, partial, nchunks);
    if (rc == 0) *norm = grad_norm_from_chunks(partial, nchunks);
    free(partial);
    return rc;
}

typedef struct GatherJob {
    DataParallel *dp;
    float *buf;
} GatherJob;

static int allgather_job(Comm *c, void *arg) {
    GatherJob *j = arg;
    return c->ops->allgather(c, j->buf, j->dp->counts);
}

int dp_share_params(DataParallel *dp, float *params) {
    if (!dp->zero) return 0;
    GatherJob j = {dp, params};
    return comm_worker_run(dp->worker, allgather_job, &j);
}

typedef struct BytesJob {
    const void *in;
    void *out;
    size_t bytes;
} BytesJob;

static int allgather_bytes_job(Comm *c, void *arg) {
    BytesJob *j = arg;
    return c->ops->allgather_bytes(c, j->in, j->out, j->bytes);
}

/* The first line where a and b differ (into line, truncated). */
static void first_difference(const char *a, const char *b, char *la, char *lb, size_t cap) {
    while (*a || *b) {
        const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
        size_t na = ea ? (size_t)(ea - a) : strlen(a), nb = eb ? (size_t)(eb - b) : strlen(b);
        if (na != nb || memcmp(a, b, na) != 0) {
            snprintf(la, cap, "%.*s", (int)(na < cap - 1 ? na : cap - 1), a);
            snprintf(lb, cap, "%.*s", (int)(nb < cap - 1 ? nb : cap - 1), b);
            return;
        }
        a += na + (ea ? 1 : 0);
        b += nb + (eb ? 1 : 0);
    }
    la[0] = lb[0] = '\0';
}

int dp_check_same_setup(DataParallel *dp, const char *setup) {
    if (dp->size == 1) return 0;
    char *mine = xcalloc(1, SETUP_BYTES);
    snprintf(mine, SETUP_BYTES, "%s", setup);
    char *all = xmalloc((size_t)dp->size * SETUP_BYTES);
    BytesJob j = {mine, all, SETUP_BYTES};
    int rc = comm_worker_run(dp->worker, allgather_bytes_job, &j);
    for (int r = 1; rc == 0 && r < dp->size; r++) {
        const char *theirs = all + (size_t)r * SETUP_BYTES;
        if (strcmp(all, theirs) == 0) continue;
        char l0[256], lr[256];
        first_difference(all, theirs, l0, lr, sizeof l0);
        rc = chirp_fail("rank %d was started differently from rank 0: '%s' there, '%s' on rank 0; every rank needs "
                        "the same flags, data and tokenizer",
                        r, lr, l0);
    }
    free(mine);
    free(all);
    return rc;
}

typedef struct MomentsJob {
    DataParallel *dp;
    const float *part;
    float *full;
} MomentsJob;

static int gather_job(Comm *c, void *arg) {
    MomentsJob *j = arg;
    return c->ops->gather(c, j->part, j->full, j->dp->counts, 0);
}

int dp_gather_moments(DataParallel *dp, const AdamW *mine, AdamW *full) {
    full->t = mine->t;
    if (!dp->zero) {
        memcpy(full->m, mine->m, dp->num_params * sizeof(float));
        memcpy(full->v, mine->v, dp->num_params * sizeof(float));
        return 0;
    }
    MomentsJob jm = {dp, mine->m, dp->rank == 0 ? full->m : NULL};
    MomentsJob jv = {dp, mine->v, dp->rank == 0 ? full->v : NULL};
    if (comm_worker_run(dp->worker, gather_job, &jm) != 0) return -1;
    return comm_worker_run(dp->worker, gather_job, &jv);
}
