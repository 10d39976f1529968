/* shard_set.h: switching a folder's shards from one prepare run to the
 * next without a moment where they disagree with the catalog.
 *
 * prepare writes the new set as {split}_NNN.bin.next, commits the catalog
 * manifest that describes it (and marks the switch pending), then calls
 * shard_set_switch(), which renames each .next over its .bin and removes
 * the old shards the new set does not have. A crash before the commit
 * leaves the old set in force (shard_set_discard_next() removes the .next
 * files); a crash after it leaves a pending switch, which the next prepare
 * finishes (the renames are idempotent). */
#ifndef CHIRP_DATA_SHARD_SET_H
#define CHIRP_DATA_SHARD_SET_H

#define SHARD_NEXT_SUFFIX ".next"

/* Renames DIR/{split}_NNN.bin.next to .bin for NNN < count (those already
 * renamed are checked to carry generation), removes {split}_NNN.bin for
 * NNN >= count, and syncs DIR. Returns 0 or -1 with the error set. */
int shard_set_switch(const char *dir, const char *split, int count, unsigned long long generation);

/* Removes every {train,val}_NNN.bin.next and leftover temporary file in
 * DIR (what an uncommitted prepare wrote). */
void shard_set_discard_next(const char *dir);

#endif
