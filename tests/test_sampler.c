/* test_sampler.c: sampling filters never emit excluded tokens (over many
 * seeds), seed determinism, greedy, penalties, and that plain sampling
 * follows the softmax. */
#include "testutil.h"

#include <math.h>

#include "infer/sampler.h"
#include "model/rng.h"

#define V 1000

static void random_logits(float *l, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < V; i++) l[i] = (float)(rng_normal(&r) * 2.0);
}

static void softmax_d(const float *l, double *p, float temp) {
    double mx = -1e30, s = 0;
    for (int i = 0; i < V; i++) mx = fmax(mx, l[i]);
    for (int i = 0; i < V; i++) s += p[i] = exp((l[i] - mx) / temp);
    for (int i = 0; i < V; i++) p[i] /= s;
}

/* Rank of token t (0 = most likely). */
static int rank_of(const float *l, int t) {
    int r = 0;
    for (int i = 0; i < V; i++)
        if (l[i] > l[t] || (l[i] == l[t] && i < t)) r++;
    return r;
}

static void test_top_k_never_excluded(void **state) {
    (void)state;
    float l[V];
    for (int seed = 0; seed < 300; seed++) {
        random_logits(l, 1000 + seed);
        SamplerConfig c;
        sampler_config_default(&c);
        c.top_k = 1 + seed % 20;
        c.temperature = 0.5f + (seed % 7) * 0.5f;
        c.seed = (uint64_t)seed;
        Sampler *s = sampler_new(&c, V);
        for (int i = 0; i < 20; i++) assert_true(rank_of(l, sampler_sample(s, l)) < c.top_k);
        sampler_free(s);
    }
}

/* The nucleus, computed independently: sort probabilities, keep the
 * shortest prefix whose sum reaches p. */
static void test_top_p_never_excluded(void **state) {
    (void)state;
    float l[V];
    double p[V];
    int hits_outside_top1 = 0;
    for (int seed = 0; seed < 300; seed++) {
        random_logits(l, 5000 + seed);
        SamplerConfig c;
        sampler_config_default(&c);
        c.top_p = 0.05f + (seed % 10) * 0.1f;
        c.temperature = 1.0f;
        c.seed = (uint64_t)seed * 7 + 1;
        softmax_d(l, p, c.temperature);
        Sampler *s = sampler_new(&c, V);
        for (int i = 0; i < 20; i++) {
            int t = sampler_sample(s, l);
            /* Mass strictly above t must be below p, else t is outside. */
            double above = 0;
            for (int j = 0; j < V; j++)
                if (p[j] > p[t]) above += p[j];
            assert_true(above < c.top_p + 1e-6);
            if (rank_of(l, t) > 0) hits_outside_top1++;
        }
        sampler_free(s);
    }
    assert_true(hits_outside_top1 > 100); /* the filter is not just greedy */
}

static void test_min_p_never_excluded(void **state) {
    (void)state;
    float l[V];
    double p[V];
    for (int seed = 0; seed < 300; seed++) {
        random_logits(l, 9000 + seed);
        SamplerConfig c;
        sampler_config_default(&c);
        c.min_p = 0.02f + (seed % 10) * 0.05f;
        c.seed = (uint64_t)seed;
        softmax_d(l, p, 1.0f);
        double pmax = 0;
        for (int j = 0; j < V; j++) pmax = fmax(pmax, p[j]);
        Sampler *s = sampler_new(&c, V);
        for (int i = 0; i < 20; i++) {
            int t = sampler_sample(s, l);
            assert_true(p[t] >= c.min_p * pmax * (1 - 1e-5));
        }
        sampler_free(s);
    }
}

static void test_filters_combined(void **state) {
    (void)state;
    float l[V];
    for (int seed = 0; seed < 200; seed++) {
        random_logits(l, 77 + seed);
        SamplerConfig c;
        sampler_config_default(&c);
        c.top_k = 10;
        c.top_p = 0.9f;
        c.min_p = 0.05f;
        c.temperature = 1.3f;
        c.seed = (uint64_t)seed;
        Sampler *s = sampler_new(&c, V);
        for (int i = 0; i < 10; i++) assert_true(rank_of(l, sampler_sample(s, l)) < 10);
        sampler_free(s);
    }
}

static void test_seed_determinism(void **state) {
    (void)state;
    float l[V];
    random_logits(l, 3);
    SamplerConfig c;
    sampler_config_default(&c);
    c.top_p = 0.95f;
    c.seed = 42;
    int32_t a[100], b[100], d[100];
    Sampler *s1 = sampler_new(&c, V), *s2 = sampler_new(&c, V);
    c.seed = 43;
    Sampler *s3 = sampler_new(&c, V);
    for (int i = 0; i < 100; i++) {
        a[i] = sampler_sample(s1, l);
        b[i] = sampler_sample(s2, l);
        d[i] = sampler_sample(s3, l);
    }
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, d, sizeof a);
    sampler_free(s1);
    sampler_free(s2);
    sampler_free(s3);
}

static void test_greedy_and_penalties(void **state) {
    (void)state;
    float l[V];
    for (int i = 0; i < V; i++) l[i] = -1.0f;
    l[10] = 3.0f;
    l[20] = 2.5f;
    l[30] = -0.5f;
    SamplerConfig c;
    sampler_config_default(&c);
    c.temperature = 0.0f;
    Sampler *s = sampler_new(&c, V);
    assert_int_equal(sampler_sample(s, l), 10);
    sampler_free(s);

    c.repetition_penalty = 1.5f; /* 3.0 / 1.5 = 2.0 < 2.5 */
    s = sampler_new(&c, V);
    sampler_observe(s, 10);
    assert_int_equal(sampler_sample(s, l), 20);
    sampler_reset_history(s);
    assert_int_equal(sampler_sample(s, l), 10);
    sampler_free(s);

    sampler_config_default(&c);
    c.temperature = 0.0f;
    c.frequency_penalty = 0.2f; /* 3.0 - 3 * 0.2 = 2.4 < 2.5 */
    s = sampler_new(&c, V);
    sampler_observe(s, 10);
    sampler_observe(s, 10);
    assert_int_equal(sampler_sample(s, l), 10); /* 2.6 */
    sampler_observe(s, 10);
    assert_int_equal(sampler_sample(s, l), 20);
    sampler_free(s);

    sampler_config_default(&c);
    c.temperature = 0.0f;
    c.presence_penalty = 0.6f; /* once seen: 2.4 */
    s = sampler_new(&c, V);
    sampler_observe(s, 10);
    assert_int_equal(sampler_sample(s, l), 20);
    sampler_free(s);
}

/* With no filter, draws follow softmax(l / T): each of the top tokens'
 * frequency within 5 standard deviations of its probability. */
static void test_plain_sampling_follows_softmax(void **state) {
    (void)state;
    float l[V];
    double p[V];
    random_logits(l, 12);
    SamplerConfig c;
    sampler_config_default(&c);
    c.temperature = 0.7f;
    c.seed = 5;
    softmax_d(l, p, c.temperature);
    static int counts[V];
    memset(counts, 0, sizeof counts);
    int N = 40000;
    Sampler *s = sampler_new(&c, V);
    for (int i = 0; i < N; i++) counts[sampler_sample(s, l)]++;
    sampler_free(s);
    for (int t = 0; t < V; t++) {
        if (p[t] < 0.01) continue;
        double sd = sqrt(N * p[t] * (1 - p[t]));
        assert_true(fabs(counts[t] - N * p[t]) < 5 * sd);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_top_k_never_excluded),
        cmocka_unit_test(test_top_p_never_excluded),
        cmocka_unit_test(test_min_p_never_excluded),
        cmocka_unit_test(test_filters_combined),
        cmocka_unit_test(test_seed_determinism),
        cmocka_unit_test(test_greedy_and_penalties),
        cmocka_unit_test(test_plain_sampling_follows_softmax),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
