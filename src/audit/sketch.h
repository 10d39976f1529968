/* sketch.h: a membership sketch that ships with the model and holds no
 * text (after Data Portraits, Marone & Van Durme 2023).
 *
 * Every trained post's cleaned text is normalised (NFKC, case-folded,
 * runs of white space as one space, trimmed). The sketch then keeps:
 *   - a Bloom filter of its 50-character windows at stride 50 (characters
 *     are code points; a post of L characters gives floor(L / 50)), with
 *     k hashes sized for the stated false-positive rate;
 *   - the 64-bit fingerprint of each whole normalised post, sorted, so a
 *     short post (under 50 characters, most tweets) gets an answer too.
 * A query is normalised the same way. A whole-post fingerprint match is
 * "yes". Otherwise, each of the 50 alignments of its stride-50 windows is
 * looked up, and the best one gives k of n windows found: "yes" when all n
 * are, "partly" when some are, "no" when none are or the text is shorter
 * than a window. A trained post is never "no": its own windows and
 * fingerprint are in the sketch. A text never trained on is wrongly found
 * with the false-positive rates reported beside every answer.
 *
 * File: MODEL_DIR/membership.sketch (docs/audit.md has the byte layout). */
#ifndef CHIRP_AUDIT_SKETCH_H
#define CHIRP_AUDIT_SKETCH_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define SKETCH_WINDOW 50

typedef struct Sketch {
    uint64_t m;        /* Bloom filter bits */
    uint32_t k;        /* hashes per item */
    uint64_t windows;  /* windows inserted */
    uint64_t posts;    /* posts (fingerprints) */
    double target_fpr; /* the rate it was sized for */
    uint8_t *bits;     /* m / 8 bytes */
    uint64_t *prints;  /* posts fingerprints, sorted */
} Sketch;

typedef enum { MEMBER_NO = 0, MEMBER_PARTLY = 1, MEMBER_YES = 2 } MemberAnswer;

typedef struct MemberResult {
    MemberAnswer answer;
    int exact;         /* the whole text is a trained post's */
    int windows;       /* n: windows of the query at the best alignment */
    int found;         /* k of them in the filter */
    double fpr_window; /* chance one window of an untrained text is found */
    double fpr_answer; /* chance this answer (yes or partly) comes from an untrained text */
} MemberResult;

/* Normalised text (malloc'd) and its length in code points. */
char *sketch_normalize(const char *text, size_t len, size_t *chars);

/* Builds the sketch of a dataset's trained posts for the given
 * false-positive rate of one window. */
int sketch_build(Sketch *s, sqlite3 *db, double fpr);
int sketch_save(const Sketch *s, const char *path);
int sketch_load(Sketch *s, const char *path);
void sketch_free(Sketch *s);

/* The Bloom filter's false-positive rate now: (1 - e^(-k w / m))^k. */
double sketch_fpr(const Sketch *s);

void sketch_query(const Sketch *s, const char *text, MemberResult *r);

#endif
