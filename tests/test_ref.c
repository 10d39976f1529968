/* test_ref.c: chirp against the committed PyTorch fixtures of
 * tests/ref/gpt2_ref.py (tests/fixtures/ref_tiny): logits, loss and every
 * parameter's gradient for one batch, then 10 AdamW steps' losses and
 * gradient norms. Needs no torch and no shared data. */
#include "testutil.h"

#include <math.h>

#include "model/gpt2.h"
#include "model/gpt2_compute.h"
#include "model/safetensors.h"
#include "train/adamw.h"
#include "train/dataloader.h"

#define FIX "tests/fixtures/ref_tiny"

static const float *get(const StFile *f, const char *name, size_t n) {
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("fixture tensor %s missing", name);
    assert_int_equal(st_numel(t), n);
    return (const float *)t->data; /* header padded to 8 bytes: data is aligned */
}

/* max |a-b| / max |b| over n values */
static double rel_err(const float *a, const float *b, size_t n) {
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)a[i] - b[i]));
        mb = fmax(mb, fabs((double)b[i]));
    }
    return mb > 0 ? md / mb : md;
}

static void test_logits_loss_grads(void **state) {
    (void)state;
    Gpt2Model m;
    assert_int_equal(gpt2_load(&m, FIX "/model"), 0);
    StFile ex;
    assert_int_equal(st_open(&ex, FIX "/expected.safetensors"), 0);
    int B = 2, T = 8, V = m.cfg.vocab_size;
    DataLoader dl;
    assert_int_equal(dataloader_open(&dl, FIX "/tokens.bin", B, T, V, 0, 0), 0);
    assert_int_equal(dataloader_next(&dl), 0);
    Gpt2Acts a;
    assert_int_equal(gpt2_acts_init(&a, &m.cfg, B, T), 0);
    /* logits: forward without targets keeps them */
    gpt2_forward(&m, &a, dl.inputs, NULL);
    double le = rel_err(a.logits, get(&ex, "logits", (size_t)B * T * V), (size_t)B * T * V);
    fprintf(stderr, "logits rel err %.3g\n", le);
    assert_true(le < 1e-5);
    float *grads = calloc(m.num_params, sizeof(float));
    float loss = gpt2_forward_backward(&m, &a, dl.inputs, dl.targets, 1.0f, grads, NULL, NULL);
    float ref_loss = get(&ex, "loss", 1)[0];
    fprintf(stderr, "loss %.9g ref %.9g\n", loss, ref_loss);
    assert_true(fabs(loss - ref_loss) / ref_loss < 1e-6);
    double worst = 0;
    for (int i = 0; i < gpt2_tensor_count(&m.cfg); i++) {
        Gpt2TensorInfo ti;
        gpt2_tensor_info(&m.cfg, i, &ti);
        char name[96];
        snprintf(name, sizeof name, "grad.%s", ti.name);
        double e = rel_err(grads + ti.offset, get(&ex, name, ti.numel), ti.numel);
        if (e > 1e-4) fail_msg("gradient of %s: relative error %.3g", ti.name, e);
        worst = fmax(worst, e);
    }
    fprintf(stderr, "worst per-tensor gradient rel err %.3g\n", worst);
    free(grads);
    gpt2_acts_destroy(&a);
    dataloader_close(&dl);
    st_close(&ex);
    gpt2_free(&m);
}

static void test_adamw_10_steps(void **state) {
    (void)state;
    Gpt2Model m;
    assert_int_equal(gpt2_load(&m, FIX "/model"), 0);
    StFile ex;
    assert_int_equal(st_open(&ex, FIX "/expected.safetensors"), 0);
    const float *losses = get(&ex, "losses", 10), *norms = get(&ex, "norms", 10);
    DataLoader dl;
    assert_int_equal(dataloader_open(&dl, FIX "/tokens.bin", 2, 8, m.cfg.vocab_size, 0, 0), 0);
    Gpt2Acts a;
    assert_int_equal(gpt2_acts_init(&a, &m.cfg, 2, 8), 0);
    AdamW opt;
    adamw_init(&opt, m.num_params, 0.9, 0.95, 1e-8, 0.1);
    float *grads = malloc(m.num_params * sizeof(float));
    for (int s = 0; s < 10; s++) {
        assert_int_equal(dataloader_next(&dl), 0);
        memset(grads, 0, m.num_params * sizeof(float));
        float loss = gpt2_forward_backward(&m, &a, dl.inputs, dl.targets, 1.0f, grads, NULL, NULL);
        float norm = grad_global_norm(grads, m.num_params);
        grad_clip(grads, m.num_params, norm, 1.0);
        adamw_step(&opt, &m.cfg, m.param_buf, grads, 1e-2);
        double el = fabs(loss - losses[s]) / losses[s], en = fabs(norm - norms[s]) / norms[s];
        fprintf(stderr, "step %d loss %.9g ref %.9g (rel %.2g) norm rel %.2g\n", s + 1, loss, losses[s], el, en);
        assert_true(el < 1e-5 * (1 + s));
        assert_true(en < 1e-4 * (1 + s));
    }
    free(grads);
    adamw_destroy(&opt);
    gpt2_acts_destroy(&a);
    dataloader_close(&dl);
    st_close(&ex);
    gpt2_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_loss_grads),
        cmocka_unit_test(test_adamw_10_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
