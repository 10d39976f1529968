/* window_order.h: the order in which a loader visits its P windows.
 *
 * Shared by the shard loader and the --sft loader so both shuffle the same
 * way: sequential, or per pass a Fisher-Yates permutation seeded by
 * (seed, pass). Any pass can be rebuilt from the batch number alone, which
 * is what makes --resume exact. */
#ifndef CHIRP_TRAIN_WINDOW_ORDER_H
#define CHIRP_TRAIN_WINDOW_ORDER_H

#include <stddef.h>

/* The window (0..nwindows-1) that batch number `batch` reads. *perm and
 * *perm_pass are the caller's cache of the current pass's permutation
 * (start with NULL and -1; free *perm when done). */
size_t window_order(size_t nwindows, int shuffle, unsigned long long seed, long long batch, size_t **perm,
                    long long *perm_pass);

#endif
