/* test_audit_cli.c: the release audit end to end, through the CLI.
 *
 * A synthetic corpus of 80 distinct posts, half of which quote an opted-out
 * post, goes through ingest (with two opt-out lists), prepare and the exact
 * index; then the opt-out check (the quote is found), find, the sketch,
 * proofs, a model overfit on the posts (high extraction, the quoted opted-out
 * text leaks: exit 1), a freshly initialised one (none of either) and the
 * model card. A second test does find, sketch and member on the tweet
 * corpus. */
#include "testutil.h"

#include <jansson.h>

#include "model/gpt2.h"

#define QUOTE "the quiet lantern of the harbor forgets every copper orbit at dawn"
#define LONELY "an entirely separate thought about saffron kites and their slow migration"

static const char *WORDS[] = {"bird",   "river",  "stone",  "cloud", "lantern", "copper", "meadow",  "violin",
                              "harbor", "pepper", "candle", "orbit", "marble",  "willow", "thunder", "saddle"};
static const char *VERBS[] = {"sings", "paints", "carries", "follows", "watches", "builds", "forgets", "remembers"};

static unsigned next(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) & 0xffffff;
}

static void phrase(FILE *f, unsigned *s, int n) {
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? " " : "", WORDS[next(s) % 16]);
}

/* posts.csv: 80 posts of random words, "note N: ...", every other one
 * quoting QUOTE (so that any sample that walks through two posts meets it), post 2000 = QUOTE and post 2001 = LONELY; both opted out. */
static void write_corpus(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/posts.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "tweet_id,author_id,text\n");
    unsigned s = 3;
    for (int i = 0; i < 80; i++) {
        fprintf(f, "%d,%d,\"", 1000 + i, 50 + i % 7);
        if (i % 2 == 1) {
            phrase(f, &s, 8);
            fprintf(f, " %d wrote \"\"" QUOTE "\"\" ", i);
            phrase(f, &s, 8);
        } else {
            fprintf(f, "note %d: the ", i);
            phrase(f, &s, 1);
            fprintf(f, " %s a ", VERBS[next(&s) % 8]);
            phrase(f, &s, 2);
            fprintf(f, " near the ");
            phrase(f, &s, 2);
            fprintf(f, ", then ");
            phrase(f, &s, 6);
            fprintf(f, " %s ", VERBS[next(&s) % 8]);
            phrase(f, &s, 2);
            fprintf(f, ".");
        }
        fprintf(f, "\"\n");
    }
    fprintf(f, "2000,99,\"" QUOTE "\"\n2001,98,\"" LONELY "\"\n");
    fclose(f);
    snprintf(path, sizeof path, "%s/optout_quoted.txt", dir);
    f = fopen(path, "w");
    fprintf(f, "post:2000\n");
    fclose(f);
    snprintf(path, sizeof path, "%s/optout_lonely.txt", dir);
    f = fopen(path, "w");
    fprintf(f, "author:98\n");
    fclose(f);
}

static int run(char **out, const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return run_capture(cmd, out);
}

static json_t *load_json(const char *dir, const char *name) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_t *o = json_load_file(path, 0, NULL);
    if (!o) fail_msg("cannot read %s", path);
    return o;
}

static double rate(json_t *report, const char *mode, const char *who, const char *key) {
    json_t *v = json_object_get(json_object_get(json_object_get(json_object_get(report, "targeted"), mode), who), key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void test_release_audit(void **state) {
    (void)state;
    const char *d = test_tmpdir();
    const char *C = chirp_bin();
    char *out = NULL;
    write_corpus(d);
    assert_int_equal(run(NULL,
                         "%s ingest --input %s/posts.csv --optout %s/optout_quoted.txt --optout "
                         "%s/optout_lonely.txt --val-fraction 0.2 --out %s/ds 2>/dev/null",
                         C, d, d, d, d),
                     0);
    assert_int_equal(run(NULL,
                         "%s prepare --dataset %s/ds --train-tokenizer --vocab-size 512 --tokenizer %s/tok "
                         "--out %s/data 2>/dev/null",
                         C, d, d, d),
                     0);
    /* Without the index, the opt-out check sees no whole copy and says the
     * index would look further. */
    assert_int_equal(run(&out, "%s audit --dataset %s/ds --optout-check %s/optout_quoted.txt", C, d, d), 0);
    assert_non_null(strstr(out, "index: none"));
    free(out);
    assert_int_equal(run(&out, "%s audit index --dataset %s/ds 2>&1", C, d), 0);
    assert_non_null(strstr(out, "tokens in"));
    free(out);
    /* With it: the quoted opted-out post is found inside the posts quoting
     * it (exit 1); the other opted-out post is nowhere (exit 0). */
    assert_int_equal(run(&out,
                         "sqlite3 %s/ds/catalog.sqlite \"SELECT count(*) FROM posts WHERE split = 'train' AND "
                         "text LIKE '%%lantern of the harbor forgets%%'\"",
                         d),
                     0);
    int quoting = atoi(out); /* the train split's share of the 40 */
    free(out);
    assert_true(quoting > 20 && quoting <= 40);
    char near[64];
    snprintf(near, sizeof near, "NEAR: %d trained occurrence(s)", quoting);
    assert_int_equal(run(&out, "%s audit --dataset %s/ds --optout-check %s/optout_quoted.txt 2>&1", C, d, d), 1);
    assert_non_null(strstr(out, near));
    assert_non_null(strstr(out, "opted-out post 2000"));
    assert_non_null(strstr(out, "1 with a stretch inside a trained post"));
    free(out);
    assert_int_equal(run(&out, "%s audit --dataset %s/ds --optout-check %s/optout_lonely.txt 2>&1", C, d, d), 0);
    assert_non_null(strstr(out, "1 opted-out texts looked up"));
    assert_non_null(strstr(out, "0 trained as whole posts, 0 with a stretch"));
    free(out);

    /* find: the quote, in the trained posts that hold it; a text never written. */
    assert_int_equal(run(&out, "%s audit find --dataset %s/ds --text 'lantern of the harbor forgets' --json", C, d), 0);
    json_t *f = json_loads(out, 0, NULL);
    free(out);
    assert_non_null(f);
    assert_int_equal(json_integer_value(json_object_get(f, "count")), quoting);
    json_t *posts = json_object_get(f, "posts");
    assert_true(json_array_size(posts) >= 10);
    for (size_t i = 0; i < json_array_size(posts); i++) {
        int id = atoi(json_string_value(json_object_get(json_array_get(posts, i), "post_id")));
        assert_int_equal((id - 1000) % 2, 1);
        assert_non_null(strstr(json_string_value(json_object_get(json_array_get(posts, i), "source")), "/posts.csv"));
    }
    json_decref(f);
    assert_int_equal(run(&out, "%s audit find --dataset %s/ds --text 'lantern of the zeppelin' --json", C, d), 0);
    f = json_loads(out, 0, NULL);
    free(out);
    assert_int_equal(json_integer_value(json_object_get(f, "count")), 0);
    json_t *longest = json_object_get(f, "longest");
    assert_true(json_integer_value(json_object_get(longest, "tokens")) >= 2);
    assert_non_null(strstr(json_string_value(json_object_get(longest, "text")), "lantern of the"));
    json_decref(f);

    /* An overfit model: 300 steps over 59 posts. */
    assert_int_equal(run(NULL,
                         "%s train --train '%s/data/train_*.bin' --layers 2 --heads 2 "
                         "--embd 64 --ctx 64 --vocab 512 --tokenizer %s/tok --batch 8 --seq 64 --steps 300 "
                         "--lr 4e-3 --warmup 20 --eval-every 0 --save-every 300 --out %s/run >/dev/null 2>&1",
                         C, d, d, d),
                     0);
    char model[600];
    snprintf(model, sizeof model, "%s/run/step_300", d);

    /* Sketch and commitment; member answers from the model directory alone. */
    assert_int_equal(run(&out, "%s audit sketch --dataset %s/ds --model %s", C, d, model), 0);
    free(out);
    /* Every trained post is yes; the opted-out posts are no. */
    assert_int_equal(run(&out, "sqlite3 %s/ds/catalog.sqlite \"SELECT post_id FROM posts WHERE split = 'train'\"", d),
                     0);
    int trained = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), trained++) {
        char *ans = NULL;
        assert_int_equal(run(&ans,
                             "%s audit member --model %s --text \"$(sqlite3 %s/ds/catalog.sqlite \"SELECT text "
                             "FROM posts WHERE post_id = '%s'\")\"",
                             C, model, d, line),
                         0);
        if (strncmp(ans, "yes", 3) != 0) fail_msg("trained post %s: %s", line, ans);
        free(ans);
    }
    free(out);
    assert_true(trained > 40);
    assert_int_equal(run(&out, "%s audit member --model %s --text '" LONELY "'", C, model), 0);
    assert_int_equal(strncmp(out, "no", 2), 0);
    free(out);

    /* Proofs: inclusion of a trained post, non-inclusion of an opted-out
     * one, both valid against the root in chirp.json; a tampered one not. */
    assert_int_equal(run(&out,
                         "sqlite3 %s/ds/catalog.sqlite \"SELECT post_id FROM posts WHERE split = 'train' "
                         "LIMIT 1\"",
                         d),
                     0);
    out[strcspn(out, "\n")] = '\0';
    assert_int_equal(run(NULL, "%s audit prove --dataset %s/ds --model %s --post-id %s --out %s/in.json 2>/dev/null", C,
                         d, model, out, d),
                     0);
    free(out);
    assert_int_equal(run(NULL, "%s audit prove --dataset %s/ds --model %s --post-id 2000 --out %s/out.json 2>/dev/null",
                         C, d, model, d),
                     0);
    assert_int_equal(run(&out, "%s audit verify --model %s --proof %s/in.json", C, model, d), 0);
    assert_non_null(strstr(out, "is one of the posts"));
    free(out);
    assert_int_equal(run(&out, "%s audit verify --model %s --proof %s/out.json", C, model, d), 0);
    assert_non_null(strstr(out, "is not among"));
    free(out);
    json_t *proof = load_json(d, "in.json");
    json_object_set_new(json_object_get(proof, "leaf"), "index",
                        json_integer(json_integer_value(json_object_get(json_object_get(proof, "leaf"), "index")) ^ 1));
    char tampered[700];
    snprintf(tampered, sizeof tampered, "%s/tampered.json", d);
    json_dump_file(proof, tampered, 0);
    json_decref(proof);
    assert_int_equal(run(&out, "%s audit verify --model %s --proof %s 2>&1", C, model, tampered), 1);
    assert_non_null(strstr(out, "INVALID"));
    free(out);

    /* Memorization: high extraction of trained posts, none of held-out
     * ones; the quoted opted-out text leaks (exit 1). */
    assert_int_equal(run(&out,
                         "%s audit memorization --model %s --dataset %s/ds --untargeted 50 --sample-tokens 64 "
                         "2>&1",
                         C, model, d),
                     1);
    assert_non_null(strstr(out, "release blocked"));
    free(out);
    char repdir[700];
    snprintf(repdir, sizeof repdir, "%s/memorization", model);
    json_t *rep = load_json(repdir, "report.json");
    double trained_exact = rate(rep, "k16_in_context", "trained", "exact_rate");
    double held_exact = rate(rep, "k16_in_context", "held_out", "exact_rate");
    printf("overfit: trained %.3f exact, held-out %.3f\n", trained_exact, held_exact);
    assert_true(trained_exact >= 0.3);
    assert_true(held_exact == 0.0);
    /* (Held-out posts match some tokens: half of them hold the quote.) */
    assert_true(rate(rep, "k16_in_context", "trained", "token_match") >
                2 * rate(rep, "k16_in_context", "held_out", "token_match"));
    json_t *leaks = json_object_get(rep, "leaks");
    assert_true(json_integer_value(json_object_get(leaks, "found")) >= 1);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(leaks, "hits"), 0), "post_id")), "2000");
    assert_true(json_integer_value(json_object_get(json_object_get(rep, "untargeted"), "verbatim_spans")) >= 1);
    json_decref(rep);
    assert_int_equal(run(&out, "cat %s/report.html", repdir), 0);
    assert_non_null(strstr(out, "<svg"));
    assert_non_null(strstr(out, "2000"));
    free(out);

    /* The card reads its figures from the files. */
    assert_int_equal(run(NULL, "%s card --model %s --dataset %s/ds --license mit >/dev/null", C, model, d), 0);
    assert_int_equal(run(&out, "cat %s/README.md", model), 0);
    json_t *manifest = load_json(model, "chirp.json");
    const char *root = json_string_value(json_object_get(json_object_get(manifest, "commitment"), "merkle_root"));
    assert_non_null(root);
    assert_int_equal(strncmp(out, "---\nlicense: mit\n", 17), 0);
    assert_non_null(strstr(out, "library_name: chirp"));
    assert_non_null(strstr(out, root));
    assert_non_null(strstr(out, "| dropped:optout | 2 |"));
    assert_non_null(strstr(out, "82 posts were read; 80 were kept"));
    assert_non_null(strstr(out, "## Memorization"));
    assert_non_null(strstr(out, "membership.sketch"));
    json_decref(manifest);
    free(out);

    /* A freshly initialised model of the same shape: nothing extracted,
     * nothing leaked (exit 0). */
    char fresh[600], tj[700];
    snprintf(fresh, sizeof fresh, "%s/fresh", d);
    mkdir(fresh, 0755);
    snprintf(tj, sizeof tj, "%s/tok/tokenizer.json", d);
    Gpt2Config cfg = {.n_layer = 2, .n_head = 2, .n_embd = 64, .n_ctx = 64, .vocab_size = 512, .ln_eps = 1e-5f};
    Gpt2Model g;
    assert_int_equal(gpt2_init_random(&g, &cfg, 1), 0);
    assert_int_equal(gpt2_save(&g, fresh), 0);
    gpt2_free(&g);
    assert_int_equal(run(&out,
                         "%s audit memorization --model %s --dataset %s/ds --tokenizer %s --untargeted 50 "
                         "--sample-tokens 64 2>&1",
                         C, fresh, d, tj),
                     0);
    assert_non_null(strstr(out, "leaks: none"));
    free(out);
    snprintf(repdir, sizeof repdir, "%s/memorization", fresh);
    rep = load_json(repdir, "report.json");
    assert_true(rate(rep, "k16_in_context", "trained", "exact_rate") == 0.0);
    assert_true(rate(rep, "k8_isolated", "trained", "exact_rate") == 0.0);
    assert_true(rate(rep, "k16_in_context", "trained", "token_match") < 0.1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rep, "untargeted"), "verbatim_spans")), 0);
    json_decref(rep);
}

/* The tweet corpus: a tweet is found with its post id in milliseconds, and
 * the sketch says yes to it and no to a made-up one. */
static void test_tweets(void **state) {
    (void)state;
    const char *csv = testdata_path("tweets-musk/Tweet.csv");
    if (!csv) skip();
    const char *d = test_tmpdir();
    const char *C = chirp_bin();
    char *out = NULL;
    assert_int_equal(run(NULL,
                         "%s ingest --input %s --out %s/ds 2>/dev/null && %s prepare --dataset %s/ds "
                         "--train-tokenizer --vocab-size 1024 --tokenizer %s/tok --out %s/data >/dev/null 2>&1 "
                         "&& %s audit index --dataset %s/ds >/dev/null 2>&1",
                         C, csv, d, C, d, d, d, C, d),
                     0);
    assert_int_equal(run(&out,
                         "sqlite3 -separator '|' %s/ds/catalog.sqlite \"SELECT post_id, text FROM posts WHERE "
                         "split = 'train' AND length(text) BETWEEN 60 AND 120 AND text NOT LIKE '%%''%%' AND "
                         "instr(text, char(10)) = 0 "
                         "ORDER BY id LIMIT 1\"",
                         d),
                     0);
    char *bar = strchr(out, '|');
    assert_non_null(bar);
    *bar = '\0';
    char *text = bar + 1;
    text[strcspn(text, "\n")] = '\0';
    char *res = NULL;
    assert_int_equal(run(&res, "%s audit find --dataset %s/ds --text '%s' --json", C, d, text), 0);
    json_t *f = json_loads(res, 0, NULL);
    assert_non_null(f);
    assert_true(json_integer_value(json_object_get(f, "count")) >= 1);
    int found = 0;
    json_t *posts = json_object_get(f, "posts");
    for (size_t i = 0; i < json_array_size(posts); i++)
        found |= strcmp(json_string_value(json_object_get(json_array_get(posts, i), "post_id")), out) == 0;
    assert_true(found);
    printf("find on the tweet corpus: %.3f ms\n", json_number_value(json_object_get(f, "ms")));
    assert_true(json_number_value(json_object_get(f, "ms")) < 1000);
    json_decref(f);
    free(res);
    /* The sketch, into a directory that stands for the model. */
    char model[600];
    snprintf(model, sizeof model, "%s/model", d);
    mkdir(model, 0755);
    assert_int_equal(run(NULL, "%s audit sketch --dataset %s/ds --model %s >/dev/null", C, d, model), 0);
    assert_int_equal(run(&res, "%s audit member --model %s --text '%s'", C, model, text), 0);
    if (strncmp(res, "yes", 3) != 0) fail_msg("member of tweet %s (%s): %s", out, text, res);
    free(res);
    assert_int_equal(run(&res,
                         "%s audit member --model %s --text 'Rockets are made of cheese and we will be "
                         "landing on the moon of Neptune next Tuesday'",
                         C, model),
                     0);
    assert_int_equal(strncmp(res, "no", 2), 0);
    free(res);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_audit),
        cmocka_unit_test(test_tweets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
