/* test_model.c: model core: parameter layout, safetensors I/O, load/save,
 * presets, and rejection of bad model files. */
#include "testutil.h"

#include "model/gpt2.h"
#include "model/safetensors.h"
#include "util/error.h"
#include "util/file.h"

static void test_param_count_gpt2(void **state) {
    (void)state;
    Gpt2Config c;
    assert_int_equal(gpt2_preset("gpt2", &c), 0);
    /* 124,439,808: the published GPT-2 small parameter count (tied head). */
    assert_int_equal(gpt2_num_params(&c), 124439808);
    assert_int_equal(gpt2_preset("nope", &c), -1);
    assert_non_null(strstr(chirp_error(), "nope"));
}

static void test_load_tiny_init(void **state) {
    (void)state;
    const char *dir = testdata_path("gpt2-train-ref/tiny-init");
    if (!dir) skip();
    Gpt2Model m;
    assert_int_equal(gpt2_load(&m, dir), 0);
    assert_int_equal(m.cfg.n_layer, 2);
    assert_int_equal(m.cfg.n_head, 4);
    assert_int_equal(m.cfg.n_embd, 64);
    assert_int_equal(m.cfg.n_ctx, 64);
    assert_int_equal(m.cfg.vocab_size, 512);
    assert_int_equal(m.num_params, 136960);
    /* LayerNorm weights start at 1 and biases at 0 in this init. */
    assert_float_equal(m.params.ln1w[0], 1.0f, 0.0f);
    assert_float_equal(m.params.lnfb[63], 0.0f, 0.0f);
    /* Cross-check the binding against the raw file: h.1.mlp.c_fc.weight[3][5]. */
    char *path = path_join(dir, "model.safetensors");
    StFile f;
    assert_int_equal(st_open(&f, path), 0);
    const StTensor *t = st_find(&f, "h.1.mlp.c_fc.weight");
    assert_non_null(t);
    assert_int_equal(t->shape[0], 64);
    assert_int_equal(t->shape[1], 256);
    float v;
    memcpy(&v, t->data + (3 * 256 + 5) * 4, 4);
    assert_true(v == m.params.fcw[64 * 256 + 3 * 256 + 5]);
    assert_true(v != 0.0f);
    st_close(&f);
    free(path);
    gpt2_free(&m);
}

static void test_save_load_round_trip(void **state) {
    (void)state;
    Gpt2Config c = {.n_layer = 2, .n_head = 2, .n_embd = 16, .n_ctx = 8, .vocab_size = 37, .ln_eps = 1e-5f};
    Gpt2Model a, b;
    assert_int_equal(gpt2_init_random(&a, &c, 42), 0);
    const char *dir = test_tmpdir();
    assert_int_equal(gpt2_save(&a, dir), 0);
    assert_int_equal(gpt2_load(&b, dir), 0);
    assert_int_equal(b.num_params, a.num_params);
    assert_memory_equal(a.param_buf, b.param_buf, a.num_params * sizeof(float));
    assert_int_equal(b.cfg.vocab_size, 37);
    /* Same seed, same weights; other seed, other weights. */
    Gpt2Model c2;
    assert_int_equal(gpt2_init_random(&c2, &c, 42), 0);
    assert_memory_equal(a.param_buf, c2.param_buf, a.num_params * sizeof(float));
    gpt2_free(&c2);
    assert_int_equal(gpt2_init_random(&c2, &c, 43), 0);
    assert_memory_not_equal(a.param_buf, c2.param_buf, a.num_params * sizeof(float));
    gpt2_free(&c2);
    gpt2_free(&a);
    gpt2_free(&b);
}

/* A file with the "transformer." prefix and attn.bias buffers loads too. */
static void test_prefixed_names_and_buffers(void **state) {
    (void)state;
    Gpt2Config c = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_ctx = 4, .vocab_size = 11, .ln_eps = 1e-5f};
    Gpt2Model a, b;
    assert_int_equal(gpt2_init_random(&a, &c, 1), 0);
    int n = gpt2_tensor_count(&c);
    StWriteTensor ts[32] = {0};
    char names[32][80];
    Gpt2TensorInfo ti;
    float mask[16] = {0};
    for (int i = 0; i < n; i++) {
        gpt2_tensor_info(&c, i, &ti);
        snprintf(names[i], sizeof names[i], "transformer.%s", ti.name);
        ts[i].name = names[i];
        ts[i].ndim = ti.ndim;
        ts[i].shape[0] = ti.shape[0];
        ts[i].shape[1] = ti.shape[1];
        ts[i].data = a.param_buf + ti.offset;
    }
    ts[n] = (StWriteTensor){.name = "transformer.h.0.attn.bias", .ndim = 4, .shape = {1, 1, 4, 4}, .data = mask};
    const char *dir = test_tmpdir();
    char *w = path_join(dir, "model.safetensors"), *cj = path_join(dir, "config.json");
    assert_int_equal(st_write(w, ts, n + 1), 0);
    assert_int_equal(gpt2_config_save(&c, cj), 0);
    assert_int_equal(gpt2_load(&b, dir), 0);
    assert_memory_equal(a.param_buf, b.param_buf, a.num_params * sizeof(float));
    gpt2_free(&a);
    gpt2_free(&b);
    free(w);
    free(cj);
}

static void test_bad_files_rejected(void **state) {
    (void)state;
    Gpt2Config c = {.n_layer = 1, .n_head = 2, .n_embd = 8, .n_ctx = 4, .vocab_size = 11, .ln_eps = 1e-5f};
    Gpt2Model a, b;
    assert_int_equal(gpt2_init_random(&a, &c, 1), 0);
    const char *dir = test_tmpdir();
    assert_int_equal(gpt2_save(&a, dir), 0);
    char *w = path_join(dir, "model.safetensors");
    size_t len;
    char *data = file_read_all(w, &len);
    /* truncated data section */
    assert_int_equal(file_write_atomic(w, data, len - 4), 0);
    assert_int_equal(gpt2_load(&b, dir), -1);
    assert_non_null(strstr(chirp_error(), "truncated"));
    /* header length beyond the file */
    assert_int_equal(file_write_atomic(w, data, 12), 0);
    assert_int_equal(gpt2_load(&b, dir), -1);
    assert_non_null(strstr(chirp_error(), "model.safetensors"));
    /* tiny file */
    assert_int_equal(file_write_atomic(w, "abc", 3), 0);
    assert_int_equal(gpt2_load(&b, dir), -1);
    /* garbage JSON header */
    unsigned char junk[24] = {16, 0, 0, 0, 0, 0, 0, 0, '{', 'x', 'x', 'x'};
    assert_int_equal(file_write_atomic(w, junk, sizeof junk), 0);
    assert_int_equal(gpt2_load(&b, dir), -1);
    assert_non_null(strstr(chirp_error(), "bad safetensors header"));
    /* config that does not match the tensors */
    assert_int_equal(file_write_atomic(w, data, len), 0);
    Gpt2Config c2 = c;
    c2.vocab_size = 12;
    char *cj = path_join(dir, "config.json");
    assert_int_equal(gpt2_config_save(&c2, cj), 0);
    assert_int_equal(gpt2_load(&b, dir), -1);
    assert_non_null(strstr(chirp_error(), "wte.weight"));
    /* missing directory */
    assert_int_equal(gpt2_load(&b, "/nonexistent/model"), -1);
    assert_non_null(strstr(chirp_error(), "config.json"));
    free(cj);
    free(w);
    free(data);
    gpt2_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_count_gpt2),     cmocka_unit_test(test_load_tiny_init),
        cmocka_unit_test(test_save_load_round_trip), cmocka_unit_test(test_prefixed_names_and_buffers),
        cmocka_unit_test(test_bad_files_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
