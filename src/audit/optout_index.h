/* optout_index.h: the opt-out check against the exact index, which sees
 * what a hash comparison cannot: an opted-out post's text anywhere in the
 * training stream, whole (as a post of its own, under any author or id) or
 * in part (a 50-character stretch of it inside another post: a quote, a
 * copy with a few words changed around it).
 *
 * Each opted-out post is tokenised as written. Whole: the tokens followed
 * by <|endoftext|> at the start of a trained post. In part: every run of
 * its tokens that spans at least 50 characters, leaving out the first and
 * last token of the text, whose form depends on what surrounds a quote
 * (" word" versus "word"); the tokens between are what any post quoting the
 * text holds too. */
#ifndef CHIRP_AUDIT_OPTOUT_INDEX_H
#define CHIRP_AUDIT_OPTOUT_INDEX_H

#include <stdio.h>

#include "audit/audit_data.h"

#define OPTOUT_WINDOW_CHARS 50

typedef struct OptoutIndexReport {
    long posts;      /* opted-out posts with a text in the catalog */
    long searched;   /* of them long enough for the window search */
    long windows;    /* token windows looked up */
    long exact_hits; /* trained posts whose whole text is an opted-out post's */
    long near_hits;  /* opted-out posts with a window found in training data */
    double ms;
} OptoutIndexReport;

/* Prints a HIT or NEAR line for each finding. Returns 0 when the check ran
 * (see the report for hits), -1 when it could not. */
int audit_optout_index(const AuditData *a, const char *optout_file, FILE *out, OptoutIndexReport *rep);

#endif
