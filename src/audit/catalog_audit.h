/* catalog_audit.h: answering provenance questions from a dataset.
 *
 *   audit_post_id   where did post ID go (decision, why, split, shard, offset)?
 *   audit_text      is this text in the dataset (cleaned and hashed as ingest did)?
 *   audit_optout    prove that no opted-out post reached the training data:
 *                   (1) no catalog row matching the list is kept or has a
 *                   shard, and (2) decoding every shard, no document's text
 *                   hash equals the text hash of a matching post. */
#ifndef CHIRP_AUDIT_CATALOG_AUDIT_H
#define CHIRP_AUDIT_CATALOG_AUDIT_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

/* Prints one block per matching row; returns the number of rows (or -1). */
long audit_post_id(sqlite3 *db, const char *post_id, FILE *out);
long audit_text(sqlite3 *db, const char *text, FILE *out);

typedef struct OptoutReport {
    long entries;       /* opt-out list entries */
    long matched_posts; /* catalog rows the list covers */
    long texts;         /* distinct text hashes among them */
    long shards;
    long documents;
    uint64_t tokens;
    long manifest_posts; /* kept posts with a shard in the catalog */
    long catalog_hits, shard_hits;
} OptoutReport;

/* tokenizer/data_dir may be NULL to use what prepare recorded. Returns 0
 * when the check ran (hits or not: see the report), -1 when it could not. */
int audit_optout(sqlite3 *db, const char *optout_file, const char *tokenizer, const char *data_dir, FILE *out,
                 OptoutReport *rep);

#endif
