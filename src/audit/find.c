/* find.c: exact lookups in the training data (see find.h). */
#include "audit/find.h"

#include "util/error.h"
#include "util/timer.h"

#include <stdlib.h>
#include <string.h>

static int32_t *encode(const Tokenizer *tok, const char *text, size_t len, long *n) {
    int32_t *ids = xmalloc((len + 1) * sizeof(int32_t));
    *n = tokenizer_encode(tok, text, len, false, ids, len + 1);
    if (*n < 0) {
        free(ids);
        return NULL;
    }
    return ids;
}

static void add_hits(const AuditData *a, uint64_t lo, uint64_t hi, size_t max_hits, FindResult *r) {
    for (uint64_t i = lo; i < hi && r->n_hits < max_hits; i++) {
        uint64_t pos = suffix_index_pos(&a->ix, i);
        const PostSpan *s = audit_post_at(a, pos);
        r->hits[r->n_hits++] = (FindHit){pos, s ? s->row : -1};
    }
}

static void longest_of(const AuditData *a, const int32_t *ids, size_t n, FindResult *r) {
    size_t start, len;
    uint64_t cnt = suffix_index_longest(&a->ix, ids, n, &start, &len);
    if (len <= r->longest_len) return;
    r->longest_len = len;
    r->longest_of = n;
    r->longest_count = cnt;
    long need = tokenizer_decode(a->tok, ids + start, len, NULL, 0);
    free(r->longest_text);
    r->longest_text = xmalloc((size_t)(need > 0 ? need : 0) + 1);
    tokenizer_decode(a->tok, ids + start, len, r->longest_text, (size_t)(need > 0 ? need : 0));
    r->longest_text[need > 0 ? need : 0] = '\0';
}

static void search(const AuditData *a, const int32_t *ids, size_t n, size_t max_hits, FindResult *r) {
    uint64_t lo, hi;
    r->count += suffix_index_range(&a->ix, ids, n, &lo, &hi);
    add_hits(a, lo, hi, max_hits, r);
    longest_of(a, ids, n, r);
}

int audit_find_ids(const AuditData *a, const int32_t *ids, size_t n, size_t max_hits, FindResult *r) {
    memset(r, 0, sizeof *r);
    double t0 = time_now();
    r->hits = xcalloc(max_hits + 1, sizeof(FindHit));
    r->tokens = n;
    if (n > 0) search(a, ids, n, max_hits, r);
    r->ms = (time_now() - t0) * 1000.0;
    return 0;
}

int audit_find_text(const AuditData *a, const char *text, size_t max_hits, FindResult *r) {
    memset(r, 0, sizeof *r);
    double t0 = time_now();
    size_t len = strlen(text);
    long n1, n2;
    int32_t *as_is = encode(a->tok, text, len, &n1);
    char *spaced = xmalloc(len + 2);
    spaced[0] = ' ';
    memcpy(spaced + 1, text, len + 1);
    int32_t *with_space = as_is ? encode(a->tok, spaced, len + 1, &n2) : NULL;
    free(spaced);
    if (!as_is || !with_space) {
        free(as_is);
        return -1;
    }
    r->hits = xcalloc(max_hits + 1, sizeof(FindHit));
    r->tokens = (size_t)n1;
    if (n1 > 0) search(a, as_is, (size_t)n1, max_hits, r);
    bool same = n1 == n2 && memcmp(as_is, with_space, (size_t)n1 * sizeof(int32_t)) == 0;
    if (n2 > 0 && !same) search(a, with_space, (size_t)n2, max_hits, r);
    free(as_is);
    free(with_space);
    r->ms = (time_now() - t0) * 1000.0;
    return 0;
}

void find_result_free(FindResult *r) {
    free(r->hits);
    free(r->longest_text);
    memset(r, 0, sizeof *r);
}
