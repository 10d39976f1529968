/* comm_mpi.c: the communicator over MPI_COMM_WORLD (see comm.h).
 *
 * Built when the Makefile finds mpicc (CHIRP_HAVE_MPI); otherwise
 * comm_mpi_new says so. Large buffers go in pieces of at most INT_MAX/2
 * elements (MPI counts are ints). MPI is initialised with
 * MPI_THREAD_SERIALIZED: the trainer's communication thread and its main
 * thread both make calls, never at the same time. Errors abort the job
 * (Open MPI has no fault tolerance to offer); a hung collective is caught
 * by the trainer's watchdog. */
#include "dist/comm.h"

#include "util/error.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

bool comm_mpi_launched(void) {
    /* Open MPI, MPICH/Hydra, and PMIx-based launchers. */
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

#ifdef CHIRP_HAVE_MPI
#include <mpi.h>

#define PIECE ((size_t)INT_MAX / 2)

static int mpi_fail(int rc, const char *what) {
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return chirp_fail("MPI %s: %.*s", what, len, msg);
}

static int mpi_allreduce(Comm *c, float *buf, size_t n) {
    (void)c;
    for (size_t off = 0; off < n; off += PIECE) {
        int cnt = (int)(n - off < PIECE ? n - off : PIECE);
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, cnt, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "all-reduce");
    }
    return 0;
}

static int mpi_allreduce_f64(Comm *c, double *buf, size_t n) {
    (void)c;
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "all-reduce");
}

static int *int_counts(const Comm *c, const size_t *counts, int **displs) {
    int *ic = xmalloc((size_t)c->size * sizeof(int));
    *displs = xmalloc((size_t)c->size * sizeof(int));
    size_t off = 0;
    for (int r = 0; r < c->size; r++) {
        ic[r] = (int)counts[r];
        (*displs)[r] = (int)off;
        off += counts[r];
    }
    return ic;
}

static int counts_fit(const Comm *c, const size_t *counts) {
    size_t total = 0;
    for (int r = 0; r < c->size; r++) total += counts[r];
    return total <= (size_t)INT_MAX ? 0
                                    : chirp_fail("MPI: a buffer of %zu floats is too large for one collective", total);
}

static int mpi_reduce_scatter(Comm *c, const float *send, float *recv, const size_t *counts) {
    if (counts_fit(c, counts) != 0) return -1;
    int *displs, *ic = int_counts(c, counts, &displs);
    int rc = MPI_Reduce_scatter(send, recv, ic, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    free(ic);
    free(displs);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "reduce-scatter");
}

static int mpi_allgather(Comm *c, float *buf, const size_t *counts) {
    if (counts_fit(c, counts) != 0) return -1;
    int *displs, *ic = int_counts(c, counts, &displs);
    int rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, ic, displs, MPI_FLOAT, MPI_COMM_WORLD);
    free(ic);
    free(displs);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "all-gather");
}

static int mpi_gather(Comm *c, const float *part, float *full, const size_t *counts, int root) {
    if (counts_fit(c, counts) != 0) return -1;
    int *displs, *ic = int_counts(c, counts, &displs);
    int rc = MPI_Gatherv(part, ic[c->rank], MPI_FLOAT, full, ic, displs, MPI_FLOAT, root, MPI_COMM_WORLD);
    free(ic);
    free(displs);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "gather");
}

static int mpi_broadcast(Comm *c, void *buf, size_t bytes, int root) {
    (void)c;
    char *p = buf;
    for (size_t off = 0; off < bytes; off += PIECE) {
        int cnt = (int)(bytes - off < PIECE ? bytes - off : PIECE);
        int rc = MPI_Bcast(p + off, cnt, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_fail(rc, "broadcast");
    }
    return 0;
}

static int mpi_allgather_bytes(Comm *c, const void *in, void *out, size_t bytes) {
    (void)c;
    int rc = MPI_Allgather(in, (int)bytes, MPI_BYTE, out, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "all-gather");
}

static int mpi_barrier(Comm *c) {
    (void)c;
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? 0 : mpi_fail(rc, "barrier");
}

static void mpi_abort(Comm *c, int code) {
    (void)c;
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

static void mpi_free(Comm *c) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
    free(c);
}

static const CommOps MPI_OPS = {
    .allreduce_sum = mpi_allreduce,
    .allreduce_sum_f64 = mpi_allreduce_f64,
    .reduce_scatter_sum = mpi_reduce_scatter,
    .allgather = mpi_allgather,
    .gather = mpi_gather,
    .broadcast = mpi_broadcast,
    .allgather_bytes = mpi_allgather_bytes,
    .barrier = mpi_barrier,
    .abort = mpi_abort,
    .free = mpi_free,
};

Comm *comm_mpi_new(void) {
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
    if (rc != MPI_SUCCESS) {
        mpi_fail(rc, "init");
        return NULL;
    }
    if (provided < MPI_THREAD_SERIALIZED) {
        chirp_fail("MPI: the library offers thread level %d, chirp needs MPI_THREAD_SERIALIZED", provided);
        MPI_Finalize();
        return NULL;
    }
    /* Errors come back as codes (then chirp_fail and abort), not a crash
     * inside MPI with its own message. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    Comm *c = xcalloc(1, sizeof *c);
    c->ops = &MPI_OPS;
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    c->name = "mpi";
    return c;
}

#else

Comm *comm_mpi_new(void) {
    chirp_fail("this chirp was built without MPI (install libopenmpi-dev and rebuild) but runs under an MPI launcher");
    return NULL;
}

#endif
