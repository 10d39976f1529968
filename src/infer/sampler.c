/* sampler.c: penalties, temperature, top-k / top-p / min-p, seeded draw. */
#include "infer/sampler.h"

#include "model/rng.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct Cand {
    float p; /* logit, then probability */
    int32_t id;
} Cand;

struct Sampler {
    SamplerConfig cfg;
    int V;
    int *counts;   /* [V] occurrences of each token seen */
    int32_t *seen; /* distinct tokens seen, so penalties cost O(seen) not O(V) */
    int nseen;
    float *work; /* [V] penalized logits */
    Cand *cand;  /* [V] */
    Rng rng;
};

void sampler_config_default(SamplerConfig *c) {
    memset(c, 0, sizeof *c);
    c->temperature = 1.0f;
    c->top_p = 1.0f;
    c->repetition_penalty = 1.0f;
}

Sampler *sampler_new(const SamplerConfig *cfg, int V) {
    Sampler *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    s->V = V;
    s->counts = xcalloc((size_t)V, sizeof(int));
    s->seen = xmalloc((size_t)V * sizeof(int32_t));
    s->work = xmalloc((size_t)V * sizeof(float));
    s->cand = xmalloc((size_t)V * sizeof(Cand));
    rng_seed(&s->rng, cfg->seed);
    return s;
}

void sampler_free(Sampler *s) {
    if (!s) return;
    free(s->counts);
    free(s->seen);
    free(s->work);
    free(s->cand);
    free(s);
}

void sampler_reset_history(Sampler *s) {
    for (int i = 0; i < s->nseen; i++) s->counts[s->seen[i]] = 0;
    s->nseen = 0;
}

void sampler_observe(Sampler *s, int32_t token) {
    if (token < 0 || token >= s->V) return;
    if (s->counts[token]++ == 0) s->seen[s->nseen++] = token;
}

static int cand_desc(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    if (x->p > y->p) return -1;
    if (x->p < y->p) return 1;
    return x->id < y->id ? -1 : x->id > y->id; /* stable order for equal values: determinism */
}

int32_t sampler_sample(Sampler *s, const float *logits) {
    const SamplerConfig *c = &s->cfg;
    int V = s->V;
    float *w = s->work;
    memcpy(w, logits, (size_t)V * sizeof(float));
    for (int i = 0; i < s->nseen; i++) {
        int32_t t = s->seen[i];
        float r = c->repetition_penalty;
        if (r != 1.0f) w[t] = w[t] > 0.0f ? w[t] / r : w[t] * r;
        w[t] -= (float)s->counts[t] * c->frequency_penalty + c->presence_penalty;
    }
    if (c->temperature <= 0.0f) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (w[i] > w[best]) best = i;
        return best;
    }
    /* Softmax of logits / T into candidates. */
    float mx = -INFINITY;
    for (int i = 0; i < V; i++)
        if (w[i] > mx) mx = w[i];
    Cand *cd = s->cand;
    double sum = 0.0;
    for (int i = 0; i < V; i++) {
        float p = expf((w[i] - mx) / c->temperature);
        cd[i].p = p;
        cd[i].id = i;
        sum += p;
    }
    int n = V;
    for (int i = 0; i < n; i++) cd[i].p = (float)(cd[i].p / sum);
    if (c->top_k > 0 && c->top_k < n) {
        /* Quickselect the k most likely to the front (O(V), not a sort of
         * 50k candidates per token), then order those k. */
        int lo = 0, hi = n - 1, k = c->top_k;
        while (lo < hi) {
            Cand pivot = cd[(lo + hi) / 2];
            int i = lo, j = hi;
            while (i <= j) {
                while (cand_desc(&cd[i], &pivot) < 0) i++;
                while (cand_desc(&cd[j], &pivot) > 0) j--;
                if (i <= j) {
                    Cand tmp = cd[i];
                    cd[i] = cd[j];
                    cd[j] = tmp;
                    i++;
                    j--;
                }
            }
            if (k - 1 <= j) hi = j;
            else if (k - 1 >= i) lo = i;
            else break;
        }
        n = k;
        qsort(cd, (size_t)n, sizeof(Cand), cand_desc);
    }
    if (c->top_p > 0.0f && c->top_p < 1.0f) {
        /* The nucleus is {p >= tau} for the largest tau whose set still
         * holds top_p of the mass. Bisect on tau: a few dozen linear passes,
         * and no sort (flat distributions keep most of the vocabulary). */
        double mass = 0.0;
        float pmax = 0.0f;
        for (int i = 0; i < n; i++) {
            mass += cd[i].p;
            if (cd[i].p > pmax) pmax = cd[i].p;
        }
        double target = c->top_p * mass;
        float lo = 0.0f, hi = pmax; /* mass(lo) >= target; mass(hi) may be too */
        for (int it = 0; it < 64 && lo < hi; it++) {
            float mid = lo + (hi - lo) * 0.5f;
            if (mid <= lo || mid >= hi) break;
            double m = 0.0;
            for (int i = 0; i < n; i++)
                if (cd[i].p >= mid) m += cd[i].p;
            if (m >= target) lo = mid;
            else hi = mid;
        }
        /* hi itself may qualify (e.g. the top token alone reaches p). */
        double mhi = 0.0;
        for (int i = 0; i < n; i++)
            if (cd[i].p >= hi) mhi += cd[i].p;
        float tau = mhi >= target ? hi : lo;
        int m = 0;
        for (int i = 0; i < n; i++)
            if (cd[i].p >= tau) cd[m++] = cd[i];
        n = m;
    }
    if (c->min_p > 0.0f) {
        float pmax = 0.0f;
        for (int i = 0; i < n; i++)
            if (cd[i].p > pmax) pmax = cd[i].p;
        float cut = c->min_p * pmax;
        int m = 0;
        for (int i = 0; i < n; i++)
            if (cd[i].p >= cut) cd[m++] = cd[i];
        n = m;
    }
    double mass = 0.0;
    for (int i = 0; i < n; i++) mass += cd[i].p;
    double r = rng_uniform(&s->rng) * mass, cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += cd[i].p;
        if (r < cum) return cd[i].id;
    }
    return cd[n - 1].id; /* rounding left r at the very top */
}

double log_sum_exp(const float *z, int V) {
    if (V < 1) return -INFINITY;
    float mx = z[0];
    for (int i = 1; i < V; i++)
        if (z[i] > mx) mx = z[i];
    double sum = 0;
    for (int i = 0; i < V; i++) sum += exp((double)z[i] - mx);
    /* sum >= 1 (the max term is exp(0)); cppcheck cannot see that V >= 1 here */
    // cppcheck-suppress invalidFunctionArg
    return mx + log(sum);
}
