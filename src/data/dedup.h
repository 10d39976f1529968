/* dedup.h: exact and near-duplicate detection over a stream of posts.
 *
 * Exact: a set of 64-bit text hashes. Near: MinHash (64 values) over byte
 * 5-gram shingles of the lowercased text, with LSH banding to find
 * candidates, confirmed by the estimated Jaccard similarity >= threshold.
 * The first occurrence is kept; memory is the index of kept posts only
 * (8 bytes each, plus 256 bytes each with near-dup on). */
#ifndef CHIRP_DATA_DEDUP_H
#define CHIRP_DATA_DEDUP_H

#include <stddef.h>
#include <stdint.h>

typedef struct Dedup Dedup;

/* near_threshold in (0,1]; 0 disables near-duplicate detection. */
Dedup *dedup_new(double near_threshold);
void dedup_free(Dedup *d);

/* If the hash was seen, returns the row given with it then; otherwise
 * records (hash, row) and returns -1. Rows are caller ids (catalog rows). */
long dedup_exact_check(Dedup *d, uint64_t hash, long row);

/* Checks text against the kept posts; returns the row of a near-duplicate,
 * or -1. */
long dedup_near_find(Dedup *d, const char *text, size_t len);
/* Adds the text last passed to dedup_near_find as kept post `row`. */
void dedup_near_add(Dedup *d, long row);

/* MinHash signature estimate of Jaccard similarity of two texts (for tests). */
double dedup_similarity(const char *a, size_t alen, const char *b, size_t blen);

/* The LSH layout chosen for a threshold: bands x rows = 64. */
void dedup_lsh_layout(double threshold, int *bands, int *rows);

#endif
