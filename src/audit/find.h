/* find.h: `chirp audit find`: is this text (or token sequence) in the
 * training data, how often, in which posts, and what is the longest part
 * of it that is.
 *
 * A text is searched in two tokenizations, as written and with a leading
 * space: byte-level BPE gives a word inside a post (" hello") a different
 * token than the same word at the start of one ("hello"), and the text
 * could be in either place. Their occurrences are distinct stream
 * positions, so the counts add. */
#ifndef CHIRP_AUDIT_FIND_H
#define CHIRP_AUDIT_FIND_H

#include <stddef.h>
#include <stdint.h>

#include "audit/audit_data.h"

typedef struct FindHit {
    uint64_t pos; /* stream position of the match */
    int64_t row;  /* the catalog post holding it, or -1 */
} FindHit;

typedef struct FindResult {
    uint64_t count; /* occurrences */
    FindHit *hits;  /* the first max_hits of them */
    size_t n_hits;
    size_t tokens; /* of the query as written */
    /* The longest contiguous part of the query that occurs, in tokens of
     * the form it was found in, with its count and its text. */
    size_t longest_len, longest_of;
    uint64_t longest_count;
    char *longest_text;
    double ms;
} FindResult;

int audit_find_text(const AuditData *a, const char *text, size_t max_hits, FindResult *r);
int audit_find_ids(const AuditData *a, const int32_t *ids, size_t n, size_t max_hits, FindResult *r);
void find_result_free(FindResult *r);

#endif
