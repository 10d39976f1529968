/* test_sft.c: chat fine-tuning (chirp train --sft): the masked loss against
 * a hand computation from the logits, masked positions adding no gradient,
 * the conversations loader (masking, packing, errors), and end to end: the
 * loss falls, the checkpoint carries the template and chat answers with
 * what it was tuned on, resume is bit-identical, --grad-accum weights
 * micro-batches by their unmasked targets, bad input fails clearly. */
#include "testutil.h"

#include <math.h>

#include "text/chat_template.h"
#include "model/gpt2.h"
#include "model/gpt2_compute.h"
#include "train/sft.h"
#include "util/error.h"
#include "util/file.h"

static char tokdir[512]; /* a chirp-trained tokenizer (has the ChatML tokens) */

static int setup(void **state) {
    (void)state;
    snprintf(tokdir, sizeof tokdir, "%s", test_tmpdir());
    char *txt = path_join(tokdir, "corpus.txt");
    FILE *f = fopen(txt, "w");
    for (int i = 0; i < 200; i++) fprintf(f, "hello there, how are you today? the bird sings %d times. yes no\n", i);
    fclose(f);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s tokenizer train --input %s --vocab-size 300 --out %s >/dev/null 2>&1", chirp_bin(),
             txt, tokdir);
    free(txt);
    return run_capture(cmd, NULL) == 0 ? 0 : -1;
}

static void tiny_model(Gpt2Model *m, int V) {
    Gpt2Config cfg = {.n_layer = 2, .n_head = 2, .n_embd = 16, .n_ctx = 16, .vocab_size = V, .ln_eps = 1e-5f};
    assert_int_equal(gpt2_init_random(m, &cfg, 11), 0);
}

enum { B = 2, T = 8, V = 37, N = B * T };

static void batch(int32_t *in, int32_t *tg) {
    unsigned s = 3;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u;
        in[i] = (int32_t)((s >> 8) % V);
        s = s * 1103515245u + 12345u;
        tg[i] = (int32_t)((s >> 8) % V);
    }
}

/* The masked loss is the mean cross-entropy over the unmasked positions
 * only, computed here in double from the plain logits. */
static void test_masked_loss_by_hand(void **state) {
    (void)state;
    Gpt2Model m;
    tiny_model(&m, V);
    Gpt2Acts a;
    assert_int_equal(gpt2_acts_init(&a, &m.cfg, B, T), 0);
    int32_t in[N], tg[N], masked[N];
    batch(in, tg);
    int keep = 0;
    for (int i = 0; i < N; i++) {
        masked[i] = (i % 3 == 1) ? tg[i] : -1;
        keep += masked[i] >= 0;
    }
    gpt2_forward(&m, &a, in, NULL);
    double want = 0;
    for (int i = 0; i < N; i++) {
        if (masked[i] < 0) continue;
        const float *l = a.logits + (size_t)i * V;
        double mx = l[0], z = 0;
        for (int v = 1; v < V; v++) mx = l[v] > mx ? l[v] : mx;
        for (int v = 0; v < V; v++) z += exp(l[v] - mx);
        want += -(l[masked[i]] - mx - log(z));
    }
    want /= keep;
    float got = gpt2_forward(&m, &a, in, masked);
    assert_true(fabs(got - want) < 1e-5 * fabs(want));
    /* and it differs from the unmasked loss (the mask did something) */
    float full = gpt2_forward(&m, &a, in, tg);
    assert_true(fabs(full - got) > 1e-3);
    gpt2_acts_destroy(&a);
    gpt2_free(&m);
}

static float *grads_for(const Gpt2Model *m, Gpt2Acts *a, const int32_t *in, const int32_t *tg) {
    float *g = calloc(m->num_params, sizeof(float));
    gpt2_forward_backward(m, a, in, tg, 1.0f, g, NULL, NULL);
    return g;
}

/* The gradient of the mean over {p, q} is the mean of the single-target
 * gradients: masked positions add nothing (whatever their tokens), and an
 * all-masked batch gives loss 0 and no gradient. */
static void test_masked_gradient(void **state) {
    (void)state;
    Gpt2Model m;
    tiny_model(&m, V);
    Gpt2Acts a;
    assert_int_equal(gpt2_acts_init(&a, &m.cfg, B, T), 0);
    int32_t in[N], tg[N], only_p[N], only_q[N], both[N], none[N];
    batch(in, tg);
    int p = 3, q = 12;
    for (int i = 0; i < N; i++) only_p[i] = only_q[i] = both[i] = none[i] = -1;
    only_p[p] = both[p] = tg[p];
    only_q[q] = both[q] = tg[q];
    float *gp = grads_for(&m, &a, in, only_p), *gq = grads_for(&m, &a, in, only_q), *gb = grads_for(&m, &a, in, both);
    double maxdiff = 0, maxg = 0;
    for (size_t i = 0; i < m.num_params; i++) {
        double d = fabs(gb[i] - 0.5 * (gp[i] + gq[i]));
        maxdiff = d > maxdiff ? d : maxdiff;
        maxg = fabs(gb[i]) > maxg ? fabs(gb[i]) : maxg;
    }
    assert_true(maxg > 1e-3);
    assert_true(maxdiff < 1e-5 * maxg + 1e-7);
    float *gn = grads_for(&m, &a, in, none);
    assert_true(gpt2_forward(&m, &a, in, none) == 0.0f);
    for (size_t i = 0; i < m.num_params; i++) assert_true(gn[i] == 0.0f);
    free(gp);
    free(gq);
    free(gb);
    free(gn);
    gpt2_acts_destroy(&a);
    gpt2_free(&m);
}

static void write_file(const char *path, const char *text) {
    assert_int_equal(file_write_atomic(path, text, strlen(text)), 0);
}

static Tokenizer *load_tok(void) {
    char *tj = path_join(tokdir, "tokenizer.json");
    Tokenizer *tok = tokenizer_load(tj);
    free(tj);
    assert_non_null(tok);
    return tok;
}

/* Targets are the next token where the template's mask is 1 and -1
 * elsewhere; conversations are packed in order; a conversation without an
 * assistant turn is skipped and counted. */
static void test_loader_masks_and_packs(void **state) {
    (void)state;
    Tokenizer *tok = load_tok();
    ChatTemplate t;
    assert_int_equal(chat_template_load(&t, NULL, tok), 0);
    const char *dir = test_tmpdir();
    char *p = path_join(dir, "c.jsonl");
    write_file(p, "{\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"},{\"role\":\"assistant\",\"content\":"
                  "\"the bird sings\"}]}\n\n"
                  "{\"messages\":[{\"role\":\"user\",\"content\":\"no answer\"}]}\n"
                  "{\"messages\":[{\"role\":\"system\",\"content\":\"yes\"},{\"role\":\"user\",\"content\":\"how "
                  "are you\"},{\"role\":\"assistant\",\"content\":\"today\"}]}\n");
    /* the reference rendering: the two conversations with replies, concatenated */
    ChatTokens ref = {0};
    ChatMessage c1[2] = {{"user", "hello there"}, {"assistant", "the bird sings"}};
    ChatMessage c2[3] = {{"system", "yes"}, {"user", "how are you"}, {"assistant", "today"}};
    assert_int_equal(chat_render(&t, tok, c1, 2, false, &ref), 0);
    assert_int_equal(chat_render(&t, tok, c2, 3, false, &ref), 0);
    int BT = (int)(ref.n - 1) / 2; /* B=1, T = half the stream: 2 windows */
    SftData d;
    assert_int_equal(sft_open(&d, p, &t, tok, 1, BT, tokenizer_vocab_size(tok), 0, 0), 0);
    assert_int_equal(d.conversations, 2);
    assert_int_equal(d.skipped, 1);
    assert_int_equal(d.n, ref.n);
    assert_int_equal(d.nwindows, 2);
    for (int w = 0; w < 3; w++) {
        sft_next(&d);
        size_t c = (size_t)(w % 2) * BT;
        int cnt = 0;
        for (int i = 0; i < BT; i++) {
            assert_int_equal(d.inputs[i], ref.ids[c + i]);
            assert_int_equal(d.targets[i], ref.mask[c + i + 1] ? ref.ids[c + i + 1] : -1);
            cnt += ref.mask[c + i + 1];
        }
        assert_int_equal(d.count, cnt);
        assert_true(cnt > 0);
    }
    sft_close(&d);

    /* errors: bad JSON names file:line; nothing to learn; too short */
    write_file(p,
               "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]}\n"
               "{\"messages\": [oops\n");
    assert_int_equal(sft_open(&d, p, &t, tok, 1, 2, tokenizer_vocab_size(tok), 0, 0), -1);
    char want[600];
    snprintf(want, sizeof want, "%s:2:", p);
    assert_non_null(strstr(chirp_error(), want));
    write_file(p, "{\"messages\":[{\"role\":\"robot\",\"content\":\"hi\"}]}\n");
    assert_int_equal(sft_open(&d, p, &t, tok, 1, 2, tokenizer_vocab_size(tok), 0, 0), -1);
    snprintf(want, sizeof want, "%s:1:", p);
    assert_non_null(strstr(chirp_error(), want));
    write_file(p, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n");
    assert_int_equal(sft_open(&d, p, &t, tok, 1, 2, tokenizer_vocab_size(tok), 0, 0), -1);
    assert_non_null(strstr(chirp_error(), "no conversation with an assistant turn"));
    write_file(p,
               "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]}\n");
    assert_int_equal(sft_open(&d, p, &t, tok, 4, 64, tokenizer_vocab_size(tok), 0, 0), -1);
    assert_non_null(strstr(chirp_error(), "fewer than one batch needs"));
    free(p);
    chat_tokens_free(&ref);
    chat_template_destroy(&t);
    tokenizer_free(tok);
}

/* 60 conversations with the same reply, one without a reply. */
static void write_convs(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 60; i++)
        fprintf(f,
                "{\"messages\": [{\"role\": \"user\", \"content\": \"how are you today %d?\"}, {\"role\": "
                "\"assistant\", \"content\": \"the bird sings yes\"}]}\n",
                i);
    fprintf(f, "{\"messages\": [{\"role\": \"user\", \"content\": \"no reply\"}]}\n");
    fclose(f);
}

static double step_loss(const char *out, int step) {
    char key[64];
    snprintf(key, sizeof key, "step %d loss ", step);
    const char *s = strstr(out, key);
    assert_non_null(s);
    return atof(s + strlen(key));
}

static const char *ARCH = "--layers 2 --heads 2 --embd 32 --ctx 64 --vocab 300 --threads 2";

/* Train, then chat with the checkpoint: it must answer with the reply it
 * was tuned on, rendered with the template the checkpoint recorded. */
static void test_end_to_end_chat(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char conv[512], run[512], cmd[4096];
    snprintf(conv, sizeof conv, "%s/conv.jsonl", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    write_convs(conv);
    snprintf(cmd, sizeof cmd,
             "%s train --sft %s --tokenizer %s %s --batch 4 --seq 32 --steps 300 --lr 3e-3 --out %s 2>/dev/null",
             chirp_bin(), conv, tokdir, ARCH, run);
    char *out = NULL;
    assert_int_equal(run_capture(cmd, &out), 0);
    double first = step_loss(out, 1), last = step_loss(out, 300);
    assert_true(first > 4.0);
    assert_true(last < 0.05);
    free(out);
    char *man = path_join(run, "step_300/chirp.json");
    size_t len;
    char *js = file_read_all(man, &len);
    assert_non_null(js);
    assert_non_null(strstr(js, "\"chat_template\""));
    assert_non_null(strstr(js, "\"sft\""));
    assert_non_null(strstr(js, "\"conversations\": 60"));
    assert_non_null(strstr(js, "\"skipped_no_assistant\": 1"));
    free(js);
    free(man);
    snprintf(cmd, sizeof cmd,
             "echo 'how are you today 7?' | %s chat --model %s/step_300 --temperature 0 --threads 2 2>/dev/null",
             chirp_bin(), run);
    assert_int_equal(run_capture(cmd, &out), 0);
    assert_non_null(strstr(out, "the bird sings yes"));
    free(out);
}

static void test_resume_bit_identical(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char conv[512], run[512], cmd[8192], common[3072];
    snprintf(conv, sizeof conv, "%s/conv.jsonl", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    write_convs(conv);
    snprintf(common, sizeof common,
             "--sft %s --val %s --tokenizer %s %s --batch 2 --seq 24 --grad-accum 2 --steps 10 --lr 3e-3 "
             "--schedule cosine --shuffle --seed 9 --save-every 4 --eval-every 5 --eval-batches 3 --out %s",
             conv, conv, tokdir, ARCH, run);
    char *full = NULL, *resumed = NULL;
    snprintf(cmd, sizeof cmd, "%s train %s 2>/dev/null", chirp_bin(), common);
    assert_int_equal(run_capture(cmd, &full), 0);
    snprintf(cmd, sizeof cmd, "rm -rf %s/step_8 %s/step_10", run, run);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s train %s --resume 2>/dev/null", chirp_bin(), common);
    assert_int_equal(run_capture(cmd, &resumed), 0);
    char *a = test_strip_timing(full), *b = test_strip_timing(resumed);
    const char *a5 = strstr(a, "step 5 ");
    assert_non_null(a5);
    assert_non_null(strstr(a, "val step 10 loss "));
    assert_string_equal(a5, b);
    /* another conversations file is refused on resume */
    snprintf(cmd, sizeof cmd,
             "echo '{\"messages\":[{\"role\":\"assistant\",\"content\":\"hi\"}]}' >> %s && %s train %s --resume 2>&1",
             conv, chirp_bin(), common);
    char *err = NULL;
    assert_int_equal(run_capture(cmd, &err), 1);
    assert_non_null(strstr(err, "sha256"));
    free(err);
    free(a);
    free(b);
    free(full);
    free(resumed);
}

static double step_field(const char *out, const char *field) {
    const char *s = strstr(out, field);
    assert_non_null(s);
    return atof(s + strlen(field));
}

/* B=1 x 2 micro-batches reads the same rows as one B=2 batch; with the
 * micro-batches weighted by their unmasked-target counts the step's loss
 * and gradient norm are the same (up to rounding). An unweighted mean of
 * the two micro-batch means would differ, as the counts differ. */
static void test_grad_accum_weighting(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char conv[512], cmd[4096];
    snprintf(conv, sizeof conv, "%s/conv.jsonl", dir);
    /* replies of varying length, so micro-batches hold different counts;
     * every 32-token window still holds assistant tokens (none dropped) */
    FILE *f = fopen(conv, "w");
    assert_non_null(f);
    for (int i = 0; i < 60; i++) {
        fprintf(f,
                "{\"messages\": [{\"role\": \"user\", \"content\": \"hello %d\"}, {\"role\": \"assistant\", "
                "\"content\": \"the bird sings",
                i);
        for (int r = 0; r < i * 7 % 5; r++) fprintf(f, " yes no");
        fprintf(f, "\"}]}\n");
    }
    fclose(f);
    char *one = NULL, *acc = NULL;
    snprintf(cmd, sizeof cmd, "%s train --sft %s --tokenizer %s %s --seq 32 --steps 1 --batch 2 --out %s/a 2>/dev/null",
             chirp_bin(), conv, tokdir, ARCH, dir);
    assert_int_equal(run_capture(cmd, &one), 0);
    snprintf(cmd, sizeof cmd,
             "%s train --sft %s --tokenizer %s %s --seq 32 --steps 1 --batch 1 --grad-accum 2 --out %s/b 2>&1",
             chirp_bin(), conv, tokdir, ARCH, dir);
    assert_int_equal(run_capture(cmd, &acc), 0);
    const char *wu = strstr(acc, " windows used");
    assert_non_null(wu);
    while (wu > acc && wu[-1] != ',') wu--; /* ", X of Y windows used" */
    long used = 0, all = -1;
    assert_int_equal(sscanf(wu, " %ld of %ld", &used, &all), 2);
    assert_int_equal(used, all);
    double l1 = step_field(one, " loss "), l2 = step_field(acc, " loss ");
    double n1 = step_field(one, " norm "), n2 = step_field(acc, " norm ");
    assert_true(fabs(l1 - l2) < 1e-5 * l1);
    assert_true(fabs(n1 - n2) < 1e-4 * n1);
    free(one);
    free(acc);
}

/* GPT-2's own vocabulary files (no chat tokens): the plain-text template,
 * recorded in the checkpoint with a tokenizer.json that chat can load. */
static void test_gpt2_vocab_plain_template(void **state) {
    (void)state;
    const char *tdir = testdata_path("gpt2-tokenizer/vocab.bpe");
    if (!tdir) skip();
    char gpt2dir[4096];
    snprintf(gpt2dir, sizeof gpt2dir, "%s", tdir);
    *strrchr(gpt2dir, '/') = '\0';
    const char *dir = test_tmpdir();
    char conv[512], cmd[8192];
    snprintf(conv, sizeof conv, "%s/conv.jsonl", dir);
    write_convs(conv);
    snprintf(cmd, sizeof cmd,
             "%s train --sft %s --tokenizer %s --layers 1 --heads 2 --embd 16 --ctx 32 --vocab 50257 --threads 2 "
             "--batch 2 --seq 16 --steps 3 --lr 3e-3 --out %s/run 2>/dev/null && echo 'how are you today 1?' | "
             "%s chat --model %s/run/step_3 --max-tokens 4 --temperature 0 --threads 2 >/dev/null 2>&1",
             chirp_bin(), conv, gpt2dir, dir, chirp_bin(), dir);
    assert_int_equal(run_capture(cmd, NULL), 0);
    char p[600];
    snprintf(p, sizeof p, "%s/run/step_3/chirp.json", dir);
    size_t len;
    char *js = file_read_all(p, &len);
    assert_non_null(js);
    assert_non_null(strstr(js, "\"plain\": true"));
    free(js);
    snprintf(p, sizeof p, "%s/run/step_3/tokenizer.json", dir);
    assert_true(path_exists(p));
}

static void test_cli_errors(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    char conv[512], cmd[4096];
    snprintf(conv, sizeof conv, "%s/bad.jsonl", dir);
    write_file(conv,
               "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]}\n"
               "not json\n");
    char *err = NULL;
    snprintf(cmd, sizeof cmd, "%s train --sft %s --tokenizer %s %s --batch 1 --seq 4 --out %s/r 2>&1", chirp_bin(),
             conv, tokdir, ARCH, dir);
    assert_int_equal(run_capture(cmd, &err), 1);
    char want[600];
    snprintf(want, sizeof want, "%s:2:", conv);
    assert_non_null(strstr(err, want));
    free(err);
    /* no tokenizer at all */
    snprintf(cmd, sizeof cmd, "%s train --sft %s %s --batch 1 --seq 4 --out %s/r 2>&1", chirp_bin(), conv, ARCH, dir);
    assert_int_equal(run_capture(cmd, &err), 1);
    assert_non_null(strstr(err, "needs a tokenizer"));
    free(err);
    snprintf(cmd, sizeof cmd, "%s train --sft %s --train x %s --out %s/r 2>&1", chirp_bin(), conv, ARCH, dir);
    assert_int_equal(run_capture(cmd, &err), 2);
    free(err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masked_loss_by_hand),       cmocka_unit_test(test_masked_gradient),
        cmocka_unit_test(test_loader_masks_and_packs),    cmocka_unit_test(test_end_to_end_chat),
        cmocka_unit_test(test_resume_bit_identical),      cmocka_unit_test(test_grad_accum_weighting),
        cmocka_unit_test(test_gpt2_vocab_plain_template), cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
