/* mink.h: Min-K%++ (Zhang et al., 2024), a membership-inference score:
 * at each position, how far the true token's log-probability sits above
 * the mean over the vocabulary, in standard deviations of that
 * distribution; the score of a text is the mean of its lowest K% of
 * positions. Members tend to score higher. This is a measure of how much
 * a model leaks about its training set as a whole (AUROC, TPR at 1% FPR
 * over trained vs held-out posts), not evidence about any single post. */
#ifndef CHIRP_AUDIT_MINK_H
#define CHIRP_AUDIT_MINK_H

#include <stddef.h>
#include <stdint.h>

/* The score of tokens[1..n) given logits [n, V] (row t predicts token
 * t + 1), over the lowest fraction k (0.2 = 20%) of positions. */
double mink_pp_score(const float *logits, const int32_t *tokens, int n, int V, double k);

/* AUROC of scores of positives vs negatives (ties count one half), and
 * the true-positive rate at the threshold where at most fpr of the
 * negatives score above. */
double auroc(const double *pos, int np, const double *neg, int nn);
double tpr_at_fpr(const double *pos, int np, const double *neg, int nn, double fpr);

#endif
