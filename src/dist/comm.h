/* comm.h: the communicator data-parallel training runs on.
 *
 * One small interface with three implementations: a single process
 * (size 1: every collective is a copy or nothing), MPI (Open MPI; chirp
 * under mpirun), and an in-process group of threads standing in for ranks
 * (tests: the reduction order is rank order, deterministic). A GPU
 * backend (NCCL) would be a fourth; the trainer only sees this header.
 *
 * Collectives are blocking, called by every rank in the same order, and
 * return 0 or -1 with the error set. counts[] (reduce-scatter, all-gather)
 * give every rank's part in rank order; parts are contiguous in the full
 * buffer. One thread per rank makes the calls at any one time. */
#ifndef CHIRP_DIST_COMM_H
#define CHIRP_DIST_COMM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct Comm Comm;

typedef struct CommOps {
    /* buf[0..n) = the sum over ranks, on every rank. */
    int (*allreduce_sum)(Comm *c, float *buf, size_t n);
    int (*allreduce_sum_f64)(Comm *c, double *buf, size_t n);
    /* recv[0..counts[rank]) = the sum over ranks of send's part of this rank. */
    int (*reduce_scatter_sum)(Comm *c, const float *send, float *recv, const size_t *counts);
    /* buf (the full buffer) gets every rank's part from that rank; this
     * rank's part is read from buf too. */
    int (*allgather)(Comm *c, float *buf, const size_t *counts);
    /* full (on root only; NULL elsewhere) gets every rank's part. */
    int (*gather)(Comm *c, const float *part, float *full, const size_t *counts, int root);
    /* bytes from root to everyone. */
    int (*broadcast)(Comm *c, void *buf, size_t bytes, int root);
    /* out[r * bytes ..] = rank r's in[0..bytes), on every rank. */
    int (*allgather_bytes)(Comm *c, const void *in, void *out, size_t bytes);
    int (*barrier)(Comm *c);
    /* Ends every rank of the job (the fault path). Does not return for MPI. */
    void (*abort)(Comm *c, int code);
    void (*free)(Comm *c);
} CommOps;

struct Comm {
    const CommOps *ops;
    int rank, size;
    const char *name; /* "single", "mpi", "local" */
    void *impl;
};

/* A communicator of one rank. */
Comm *comm_single_new(void);

/* True when the process was started by an MPI launcher (mpirun sets the
 * rank in the environment); chirp then trains with comm_mpi_new. */
bool comm_mpi_launched(void);

/* MPI_COMM_WORLD (MPI is initialised here and finalised by free). NULL
 * with the error set when chirp was built without MPI or MPI fails. */
Comm *comm_mpi_new(void);

/* n communicators of one in-process group; rank r's must be used by one
 * thread. Free each. For tests. */
Comm **comm_local_group_new(int n);

/* The full buffer's offset of rank's part. */
size_t comm_offset(const size_t *counts, int rank);

#endif
