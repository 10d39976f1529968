/* provenance.h: a summary of what went into a set of shards, written by
 * prepare next to them (DATA/provenance.json) and copied by train into
 * every checkpoint's chirp.json ("data": {"provenance": ...}), so a model
 * directory says what trained it without the catalog at hand: the dataset,
 * each source's posts read and kept, drops by reason, opt-out lists and
 * how many posts they removed, and the split sizes. The catalog stays the
 * record of every post; this is its headline. */
#ifndef CHIRP_DATA_PROVENANCE_H
#define CHIRP_DATA_PROVENANCE_H

#include <jansson.h>
#include <sqlite3.h>

/* Writes out_dir/provenance.json (atomically) from the catalog db of
 * dataset. Returns 0 or -1 with the error set. */
int provenance_write(sqlite3 *db, const char *dataset, const char *out_dir);

/* The provenance.json beside a shard file, or NULL when there is none. */
json_t *provenance_for_shard(const char *shard_path);

#endif
