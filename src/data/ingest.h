/* ingest.h: post exports -> dataset (catalog.sqlite + conversations.jsonl).
 *
 * Every input record becomes one catalog row with its decision. Decisions
 * are taken in this order: malformed, optout, retweet, empty, too-short,
 * duplicate, near-duplicate, else kept. A kept post whose text equals an
 * opted-out post's text is dropped as optout too, so the opted-out words
 * cannot come back through a copy. A fatal error (unreadable file, broken
 * archive, disk full) leaves DATASET as it was. */
#ifndef CHIRP_DATA_INGEST_H
#define CHIRP_DATA_INGEST_H

#include "data/clean.h"
#include "data/post.h"

#include <stdbool.h>

enum {
    DECISION_KEPT,
    DECISION_DUPLICATE,
    DECISION_NEAR_DUPLICATE,
    DECISION_OPTOUT,
    DECISION_RETWEET,
    DECISION_TOO_SHORT,
    DECISION_EMPTY,
    DECISION_MALFORMED,
    DECISION_COUNT
};

/* "kept", "dropped:duplicate", ... */
const char *decision_name(int decision);

typedef struct IngestOptions {
    const char *const *inputs;
    int ninputs;
    const char *format; /* "auto" or a reader format */
    ReaderOptions reader;
    const char *const *optout_files;
    int noptout;
    long min_chars;
    bool keep_retweets;
    CleanOptions clean;
    double near_dup; /* 0 disables */
    double val_fraction;
    const char *out;  /* the dataset folder */
    int max_warnings; /* malformed-record messages printed */
} IngestOptions;

void ingest_options_init(IngestOptions *o);

typedef struct IngestStats {
    int files, files_skipped; /* inputs read (folders expanded), folder entries skipped */
    long posts;
    long decisions[DECISION_COUNT];
    long train, val;
    long conversations;
    double seconds;
} IngestStats;

int ingest_run(const IngestOptions *opt, IngestStats *stats);

/* Train or val, from a text hash (deterministic across runs). */
const char *ingest_split(unsigned long long text_hash, double val_fraction);

#endif
