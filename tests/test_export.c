/* test_export.c: `chirp export --format gguf`, read back by Hugging Face's
 * own GGUF parser (tests/interop/gguf_check.mjs, npm @huggingface/gguf)
 * for a chirp-trained tokenizer with chat tokens (f32, f16, q8_0; the chat
 * template rendered by @huggingface/jinja against chirp's rendering) and
 * for GPT-2's tokenizer; the half-precision and q8_0 encoders on known
 * values; usage errors. */
#include "testutil.h"

#include <jansson.h>
#include <math.h>

#include "model/gguf.h"
#include "text/chat_template.h"

static void test_f16_and_q8_0(void **state) {
    (void)state;
    const struct {
        float f;
        uint16_t h;
    } known[] = {
        {0.0f, 0x0000},           {-0.0f, 0x8000},          {1.0f, 0x3c00},     {-2.0f, 0xc000},
        {0.5f, 0x3800},           {65504.0f, 0x7bff},       {65520.0f, 0x7c00}, {1e9f, 0x7c00},
        {0x1p-24f, 0x0001},       {0x1p-14f, 0x0400},       {0.1f, 0x2e66},     {0x1p-25f, 0x0000},
        {0x1.8p-25f, 0x0001},     {1.00048828125f, 0x3c00}, /* a tie: to even */
        {1.00146484375f, 0x3c02},                           /* a tie: to even */
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        uint16_t h = gguf_f32_to_f16(known[i].f);
        if (h != known[i].h) fail_msg("f16(%a) = %04x, expected %04x", (double)known[i].f, h, known[i].h);
    }
    assert_true(isnan(gguf_f16_to_f32(gguf_f32_to_f16(NAN))));
    /* Every finite half survives the round trip. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        assert_int_equal(gguf_f32_to_f16(gguf_f16_to_f32((uint16_t)h)), h);
    }
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = (float)(i - 20) * 0.37f;
    x[40] = 0; /* the second block's values are all found again within half a step */
    uint8_t q[68];
    gguf_quantize_q8_0(x, 64, q);
    for (int b = 0; b < 2; b++) {
        float d = gguf_f16_to_f32((uint16_t)(q[34 * b] | q[34 * b + 1] << 8));
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[32 * b + i]));
        assert_float_equal(d, amax / 127, amax / 127 * 1e-3);
        for (int i = 0; i < 32; i++)
            assert_true(fabsf((int8_t)q[34 * b + 2 + i] * d - x[32 * b + i]) <= 0.5f * d + amax * 2e-3f);
    }
}

/* Runs gguf_check.mjs; 77 means the npm packages are missing. */
static void node_check(const char *gguf, const char *model, const char *type, const char *chat_json) {
    char env[4096];
    snprintf(env, sizeof env, "GGUF=%s MODEL_DIR=%s TYPE=%s LICENSE=mit %s%s", gguf, model, type,
             chat_json ? "EXPECT_CHAT=" : "", chat_json ? chat_json : "");
    int rc = test_node_script(env, "tests/interop/gguf_check.mjs");
    if (rc == 77) skip();
    assert_int_equal(rc, 0);
}

/* chirp's rendering of a short conversation, as the checker's EXPECT_CHAT. */
static void write_chat_expectation(const char *model, const char *path) {
    char tj[600];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", model);
    Tokenizer *tok = tokenizer_load(tj);
    assert_non_null(tok);
    ChatTemplate t;
    assert_int_equal(chat_template_load(&t, model, tok), 0);
    assert_false(t.plain);
    ChatMessage msgs[3] = {{"system", "Be brief."}, {"user", "Hi {there}! 'quoted'"}, {"assistant", "Hello."}};
    ChatTokens ct = {0};
    assert_int_equal(chat_render(&t, tok, msgs, 3, true, &ct), 0);
    long need = tokenizer_decode(tok, ct.ids, ct.n, NULL, 0);
    char *text = malloc((size_t)need + 1);
    tokenizer_decode(tok, ct.ids, ct.n, text, (size_t)need);
    text[need] = '\0';
    json_t *o = json_pack("{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}], s:s}", "messages", "role", "system", "content",
                          msgs[0].content, "role", "user", "content", msgs[1].content, "role", "assistant", "content",
                          msgs[2].content, "text", text);
    assert_int_equal(json_dump_file(o, path, 0), 0);
    json_decref(o);
    free(text);
    chat_tokens_free(&ct);
    chat_template_destroy(&t);
    tokenizer_free(tok);
}

static void test_chirp_tokenizer(void **state) {
    (void)state;
    char model[512];
    assert_int_equal(test_tiny_model(model, sizeof model, 5), 0);
    char chat[600];
    snprintf(chat, sizeof chat, "%s/chat.json", model);
    write_chat_expectation(model, chat);
    const char *types[4] = {"f32", "f16", "bf16", "q8_0"};
    for (int i = 0; i < 4; i++) {
        char out[700], cmd[2048];
        snprintf(out, sizeof out, "%s/model-%s.gguf", model, types[i]);
        snprintf(cmd, sizeof cmd, "%s export --model %s --format gguf --type %s --license mit --out %s 2>&1",
                 chirp_bin(), model, types[i], out);
        char *log = NULL;
        assert_int_equal(run_capture(cmd, &log), 0);
        assert_non_null(strstr(log, "export: wrote"));
        free(log);
        if (test_have_node()) node_check(out, model, types[i], chat);
    }
}

/* A tiny random model with GPT-2's tokenizer (50257 tokens, no chat
 * tokens: no chat template in the file). */
static void test_gpt2_tokenizer(void **state) {
    (void)state;
    SKIP_UNDER_ASAN("GPT-2's tokenizer takes a minute to load there");
    const char *gpt2 = testdata_path("gpt2-tokenizer");
    if (!gpt2) skip();
    const char *dir = test_tmpdir();
    Tokenizer *tok = tokenizer_load(gpt2);
    assert_non_null(tok);
    char tj[600];
    snprintf(tj, sizeof tj, "%s/tokenizer.json", dir);
    assert_int_equal(tokenizer_save(tok, tj), 0);
    tokenizer_free(tok);
    Gpt2Config cfg = {.n_layer = 1, .n_head = 2, .n_embd = 32, .n_ctx = 64, .vocab_size = 50257, .ln_eps = 1e-5f};
    Gpt2Model g;
    assert_int_equal(gpt2_init_random(&g, &cfg, 9), 0);
    assert_int_equal(gpt2_save(&g, dir), 0);
    gpt2_free(&g);
    char out[700], cmd[2048];
    snprintf(out, sizeof out, "%s/gpt2.gguf", dir);
    snprintf(cmd, sizeof cmd, "%s export --model %s --format gguf --license mit --out %s 2>/dev/null", chirp_bin(), dir,
             out);
    assert_int_equal(run_capture(cmd, NULL), 0);
    if (test_have_node()) node_check(out, dir, "f32", NULL);
}

static void test_usage_errors(void **state) {
    (void)state;
    char model[512], cmd[2048];
    assert_int_equal(test_tiny_model(model, sizeof model, 6), 0);
    const char *bad[][2] = {
        {"--format onnx --out /tmp/x.gguf", "--format must be gguf"},
        {"--format gguf --type q4_0 --out /tmp/x.gguf", "--type must be f32, f16, bf16 or q8_0"},
        {"--format gguf", "--out"},
    };
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd, "%s export --model %s %s 2>&1", chirp_bin(), model, bad[i][0]);
        char *out = NULL;
        assert_int_equal(run_capture(cmd, &out), 2);
        if (!strstr(out, bad[i][1])) fail_msg("%s: %s", bad[i][0], out);
        free(out);
    }
    snprintf(cmd, sizeof cmd, "%s export --model /nonexistent --format gguf --out /tmp/x.gguf 2>&1", chirp_bin());
    char *out = NULL;
    assert_int_equal(run_capture(cmd, &out), 1);
    assert_non_null(out);
    assert_non_null(strstr(out, "chirp:"));
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_and_q8_0),
        cmocka_unit_test(test_chirp_tokenizer),
        cmocka_unit_test(test_gpt2_tokenizer),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
