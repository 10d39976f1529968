/* mink.c: Min-K%++ and ROC figures (see mink.h). */
#include "audit/mink.h"

#include "infer/sampler.h"

#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double mink_pp_score(const float *logits, const int32_t *tokens, int n, int V, double k) {
    if (n < 2 || V < 1) return 0;
    double *s = xmalloc((size_t)n * sizeof(double));
    for (int t = 0; t + 1 < n; t++) {
        const float *z = logits + (size_t)t * V;
        double lse = log_sum_exp(z, V), mu = 0, m2 = 0;
        for (int i = 0; i < V; i++) {
            double lp = (double)z[i] - lse, p = exp(lp);
            mu += p * lp;
            m2 += p * lp * lp;
        }
        double var = m2 - mu * mu, sd = var > 1e-12 ? sqrt(var) : 1e-6;
        s[t] = ((double)z[tokens[t + 1]] - lse - mu) / sd;
    }
    int m = n - 1, take = (int)ceil(k * m);
    if (take < 1) take = 1;
    qsort(s, (size_t)m, sizeof(double), cmp_double);
    double total = 0;
    for (int i = 0; i < take; i++) total += s[i];
    free(s);
    return total / take;
}

double auroc(const double *pos, int np, const double *neg, int nn) {
    if (np == 0 || nn == 0) return 0.5;
    double wins = 0;
    for (int i = 0; i < np; i++)
        for (int j = 0; j < nn; j++) wins += pos[i] > neg[j] ? 1.0 : pos[i] == neg[j] ? 0.5 : 0.0;
    return wins / ((double)np * nn);
}

double tpr_at_fpr(const double *pos, int np, const double *neg, int nn, double fpr) {
    if (np == 0 || nn == 0) return 0;
    double *sn = xmalloc((size_t)nn * sizeof(double));
    memcpy(sn, neg, (size_t)nn * sizeof(double));
    qsort(sn, (size_t)nn, sizeof(double), cmp_double);
    /* The threshold: the smallest value that at most fpr * nn negatives exceed. */
    int allowed = (int)floor(fpr * nn);
    double thr = sn[nn - 1 - allowed < 0 ? 0 : nn - 1 - allowed];
    free(sn);
    int tp = 0;
    for (int i = 0; i < np; i++) tp += pos[i] > thr;
    return (double)tp / np;
}
