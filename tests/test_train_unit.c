/* test_train_unit.c: data loader order (sequential with wrap, seeded
 * shuffle, multi-shard), LR schedules, and the fused clip+AdamW pass. */
#include "testutil.h"

#include <math.h>

#include "model/gpt2.h"
#include "train/adamw.h"
#include "train/dataloader.h"
#include "train/schedule.h"

/* Shards holding token value = global position % 50000, split in two. */
static void make_shards(const char *dir, int n0, int n1) {
    int ns[2] = {n0, n1}, pos = 0;
    for (int s = 0; s < 2; s++) {
        char p[512];
        snprintf(p, sizeof p, "%s/s_%d.bin", dir, s);
        FILE *f = fopen(p, "wb");
        int32_t hdr[256] = {20240520, 1, ns[s]};
        fwrite(hdr, 4, 256, f);
        for (int i = 0; i < ns[s]; i++, pos++) {
            uint16_t t = (uint16_t)(pos % 50000);
            fwrite(&t, 2, 1, f);
        }
        fclose(f);
    }
}

static void test_sequential_wrap_across_shards(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    make_shards(dir, 30, 25); /* 55 tokens; B*T = 12 -> 4 windows (49 <= 54) */
    char pat[512];
    snprintf(pat, sizeof pat, "%s/s_*.bin", dir);
    DataLoader dl;
    assert_int_equal(dataloader_open(&dl, pat, 3, 4, 0, 0, 0), 0);
    assert_int_equal(dl.total, 55);
    assert_int_equal(dl.windows, 4);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(dataloader_next(&dl), 0);
        int start = (i % 4) * 12; /* cursor 48 + 13 > 55: wraps to 0 */
        for (int j = 0; j < 12; j++) {
            assert_int_equal(dl.inputs[j], start + j);
            assert_int_equal(dl.targets[j], start + j + 1);
        }
    }
    dataloader_close(&dl);
}

static void test_shuffle_is_seeded_permutation(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    make_shards(dir, 600, 401);
    char pat[512];
    snprintf(pat, sizeof pat, "%s/s_*.bin", dir);
    DataLoader a, b, c;
    assert_int_equal(dataloader_open(&a, pat, 2, 5, 0, 1, 7), 0);
    assert_int_equal(dataloader_open(&b, pat, 2, 5, 0, 1, 7), 0);
    assert_int_equal(dataloader_open(&c, pat, 2, 5, 0, 1, 8), 0);
    int W = (int)a.windows, seen[200] = {0}, differ = 0, in_order = 1;
    assert_int_equal(W, 100);
    for (int i = 0; i < W; i++) {
        assert_int_equal(dataloader_next(&a), 0);
        assert_int_equal(dataloader_next(&b), 0);
        assert_int_equal(dataloader_next(&c), 0);
        assert_int_equal(a.inputs[0] % 10, 0);
        seen[a.inputs[0] / 10]++;
        assert_memory_equal(a.inputs, b.inputs, 10 * sizeof(int32_t));
        differ |= a.inputs[0] != c.inputs[0];
        in_order &= a.inputs[0] == i * 10;
    }
    for (int w = 0; w < W; w++) assert_int_equal(seen[w], 1); /* each window once per pass */
    assert_true(differ);
    assert_false(in_order);
    /* seeking reproduces the stream (what resume relies on) */
    int32_t want[10];
    assert_int_equal(dataloader_next(&a), 0);
    memcpy(want, a.inputs, sizeof want);
    dataloader_seek(&b, W);
    assert_int_equal(dataloader_next(&b), 0);
    assert_memory_equal(want, b.inputs, sizeof want);
    dataloader_close(&a);
    dataloader_close(&b);
    dataloader_close(&c);
}

static void test_schedules(void **state) {
    (void)state;
    LrSchedule s;
    assert_int_equal(schedule_parse("cosine", &s), 0);
    assert_int_equal(schedule_parse("nope", &s), -1);
    /* warmup: lr*(step+1)/W */
    assert_true(fabs(schedule_lr(SCHED_COSINE, 0, 100, 10, 1.0, 0.1) - 0.1) < 1e-12);
    assert_true(fabs(schedule_lr(SCHED_COSINE, 9, 100, 10, 1.0, 0.1) - 1.0) < 1e-12);
    assert_true(fabs(schedule_lr(SCHED_COSINE, 10, 100, 10, 1.0, 0.1) - 1.0) < 1e-12);
    /* cosine midpoint is the mean of lr and min */
    assert_true(fabs(schedule_lr(SCHED_COSINE, 55, 100, 10, 1.0, 0.1) - 0.55) < 1e-12);
    assert_true(fabs(schedule_lr(SCHED_LINEAR, 55, 100, 10, 1.0, 0.1) - 0.55) < 1e-12);
    assert_true(schedule_lr(SCHED_CONSTANT, 99, 100, 10, 1.0, 0.1) == 1.0);
    /* wsd: stable until the last 20% (18 of 90 steps), then linear to min */
    assert_true(schedule_lr(SCHED_WSD, 81, 100, 10, 1.0, 0.1) == 1.0);
    assert_true(schedule_lr(SCHED_WSD, 82, 100, 10, 1.0, 0.1) < 1.0);
    assert_true(fabs(schedule_lr(SCHED_WSD, 99, 100, 10, 1.0, 0.1) - 0.1) < 1e-12);
    for (int i = 10; i < 100; i++) assert_true(schedule_lr(SCHED_COSINE, i, 100, 10, 1.0, 0.1) >= 0.1 - 1e-12);
}

static void test_fused_clip_equals_separate(void **state) {
    (void)state;
    Gpt2Config c = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_ctx = 4, .vocab_size = 11, .ln_eps = 1e-5f};
    Gpt2Model m1, m2;
    assert_int_equal(gpt2_init_random(&m1, &c, 3), 0);
    assert_int_equal(gpt2_init_random(&m2, &c, 3), 0);
    size_t n = m1.num_params;
    float *g = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float));
    AdamW o1, o2;
    adamw_init(&o1, n, 0.9, 0.95, 1e-8, 0.1);
    adamw_init(&o2, n, 0.9, 0.95, 1e-8, 0.1);
    unsigned r = 1;
    for (int step = 0; step < 3; step++) {
        for (size_t i = 0; i < n; i++) {
            r = r * 1664525u + 1013904223u;
            g[i] = ((r >> 9) / 8388608.0f - 1.0f) * 0.5f;
        }
        memcpy(g2, g, n * sizeof(float));
        float norm = grad_global_norm(g, n);
        assert_true(grad_clip_coef(norm, 1.0) < 1.0f);
        grad_clip(g, n, norm, 1.0);
        adamw_step(&o1, &c, m1.param_buf, g, 1e-2);
        adamw_step_scaled(&o2, &c, m2.param_buf, g2, grad_clip_coef(norm, 1.0), 1e-2);
    }
    assert_memory_equal(m1.param_buf, m2.param_buf, n * sizeof(float));
    assert_memory_equal(o1.m, o2.m, 2 * n * sizeof(float));
    /* below the threshold nothing is scaled */
    assert_true(grad_clip_coef(0.5f, 1.0) == 1.0f);
    free(g);
    free(g2);
    adamw_destroy(&o1);
    adamw_destroy(&o2);
    gpt2_free(&m1);
    gpt2_free(&m2);
}

static void test_weight_decay_only_matrices(void **state) {
    (void)state;
    Gpt2Config c = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_ctx = 4, .vocab_size = 11, .ln_eps = 1e-5f};
    Gpt2Model m;
    assert_int_equal(gpt2_init_random(&m, &c, 3), 0);
    for (size_t i = 0; i < m.num_params; i++) m.param_buf[i] = 1.0f;
    float *zero = calloc(m.num_params, sizeof(float));
    AdamW o;
    adamw_init(&o, m.num_params, 0.9, 0.95, 1e-8, 0.5);
    adamw_step(&o, &c, m.param_buf, zero, 0.1); /* zero grads: only decay moves weights */
    assert_true(m.params.wte[0] == (float)(1.0 - 0.1 * 0.5));
    assert_true(m.params.wpe[0] == (float)(1.0 - 0.1 * 0.5));
    assert_true(m.params.qkvw[0] < 1.0f && m.params.fcprojw[0] < 1.0f);
    assert_true(m.params.qkvb[0] == 1.0f && m.params.ln1w[0] == 1.0f && m.params.lnfb[0] == 1.0f);
    free(zero);
    adamw_destroy(&o);
    gpt2_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequential_wrap_across_shards),
        cmocka_unit_test(test_shuffle_is_seeded_permutation),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_fused_clip_equals_separate),
        cmocka_unit_test(test_weight_decay_only_matrices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
