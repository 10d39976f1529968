/* test_tokenizer_hf.c: chirp's tokenizer.json files, loaded by Hugging
 * Face's own implementation (npm @huggingface/tokenizers, driven by
 * tests/interop/tokenizer_check.mjs), must give chirp's ids: GPT-2's
 * tokenizer as `chirp tokenizer convert` writes it, and a tokenizer chirp
 * trains on tweets (with its chat tokens). The texts: GPT-2's reference
 * cases, posts from both tweet corpora, special-token strings, and Unicode
 * the pre-tokenizer's classes must agree on. */
#include "testutil.h"

#include <jansson.h>

#include "data/post.h"
#include "text/utf8.h"

/* Appends {"text", "ids"} for text, encoded by chirp with special tokens
 * matched (as Hugging Face always matches them). */
static void add_case(FILE *out, const Tokenizer *tok, const char *text, size_t len) {
    if (!utf8_valid(text, len)) return; /* JSON carries only valid UTF-8 */
    int32_t *ids = malloc(sizeof(int32_t) * (len + 1));
    long n = tokenizer_encode(tok, text, len, true, ids, len + 1);
    assert_true(n >= 0);
    json_t *ja = json_array();
    for (long i = 0; i < n; i++) json_array_append_new(ja, json_integer(ids[i]));
    json_t *o = json_pack("{s:s%,s:o}", "text", text, len, "ids", ja);
    char *line = json_dumps(o, JSON_COMPACT);
    fprintf(out, "%s\n", line);
    free(line);
    json_decref(o);
    free(ids);
}

/* Up to max posts of a corpus file, through chirp's own readers. */
static int add_posts(FILE *out, const Tokenizer *tok, const char *rel, int max) {
    const char *path = testdata_path(rel);
    if (!path) return 0;
    Reader *r = reader_open(path, "auto", NULL);
    assert_non_null(r);
    Post p;
    int n = 0;
    while (n < max && reader_next(r, &p) == 1)
        if (!p.error) {
            add_case(out, tok, p.text, p.text_len);
            n++;
        }
    reader_free(r);
    return n;
}

static const char *const edge_texts[] = {
    "hi<|endoftext|>there",
    "<|endoftext|><|endoftext|>",
    " <|endoftext|> \n",
    "<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|", /* a prefix of a special token is text */
    "<|im_start|><|im_end|><|im_end|",
    "It's they'll we've I'M I'd 'S 's''s",
    "   leading and trailing   ",
    "tabs\t\tand\r\nnewlines\n\n\n  \n",
    "\xc2\xa0no-break\xe3\x80\x80ideographic\xe2\x80\x83"
    "em space",
    "caf\xc3\xa9 na\xc3\xafve e\xcc\x81 combining",
    "\xd9\xa1\xd9\xa2\xd9\xa3 Arabic digits, \xe2\x85\xa7 Roman eight, \xc2\xbd half, \xe2\x91\xa0 circled",
    "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb zwj \xf0\x9f\x87\xa9\xf0\x9f\x87\xaa flags "
    "\xf0\x9f\x90\xa6\xf0\x9f\x90\xa6",
    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe6\x96\x87\xe7\xab\xa0 \xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 "
    "\xd0\xa0\xd1\x83\xd1\x81\xd1\x81\xd0\xba\xd0\xb8\xd0\xb9 "
    "\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac",
    "\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\xa8\xe0\xa5\x8d\xe0\xa4\xa6\xe0\xa5\x80 "
    "\xe0\xb8\xa0\xe0\xb8\xb2\xe0\xb8\xa9\xe0\xb8\xb2"
    "\xe0\xb9\x84\xe0\xb8\x97\xe0\xb8\xa2 mixed1234567890digits 3.14159 1,000,000",
    "$$$ !!! ??? ... --- ___ @@@ ### https://t.co/abc?x=1&y=2 #tag @user",
    "\xef\xbf\xbd replacement \xe2\x80\x8b zero width \xef\xbb\xbf bom",
    "x\xf0\x9d\x90\x80\xf0\x9d\x90\x81 math letters \xf0\x9f\x84\xb0 \xe2\x93\x90",
};

static void check_tokenizer(const char *tj, const char *label) {
    char cases[300];
    snprintf(cases, sizeof cases, "%s.cases.jsonl", tj);
    Tokenizer *tok = tokenizer_load(tj);
    assert_non_null(tok);
    FILE *out = fopen(cases, "w");
    assert_non_null(out);
    for (size_t i = 0; i < sizeof edge_texts / sizeof *edge_texts; i++)
        add_case(out, tok, edge_texts[i], strlen(edge_texts[i]));
    const char *ref = testdata_path("gpt2-tokenizer/reference.jsonl");
    if (ref) {
        FILE *f = fopen(ref, "r");
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
            json_t *o = json_loads(line, 0, NULL);
            json_t *t = json_object_get(o, "text");
            if (json_is_string(t)) add_case(out, tok, json_string_value(t), json_string_length(t));
            json_decref(o);
        }
        free(line);
        fclose(f);
    }
    int posts = add_posts(out, tok, "tweets-musk/Tweet.csv", 3000);
    posts += add_posts(out, tok, "tweets-trump/condensed_2016.json", 3000);
    fclose(out);
    tokenizer_free(tok);
    printf("  %s: %d posts from the tweet corpora\n", label, posts);
    if (!test_have_node()) skip();
    char env[1024];
    snprintf(env, sizeof env, "TOKENIZER=%s CASES=%s LABEL=%s", tj, cases, label);
    int rc = test_node_script(env, "tests/interop/tokenizer_check.mjs");
    if (rc == 77) skip();
    assert_int_equal(rc, 0);
}

static void test_gpt2_converted(void **state) {
    (void)state;
    SKIP_UNDER_ASAN("GPT-2's tokenizer takes a minute to load there");
    const char *gpt2 = testdata_path("gpt2-tokenizer");
    if (!gpt2) skip();
    const char *dir = test_tmpdir();
    char cmd[8192], tj[600];
    snprintf(cmd, sizeof cmd, "%s tokenizer convert --tokenizer %s --out %s/gpt2 2>&1", chirp_bin(), gpt2, dir);
    assert_int_equal(run_capture(cmd, NULL), 0);
    snprintf(tj, sizeof tj, "%s/gpt2/tokenizer.json", dir);
    check_tokenizer(tj, "gpt2");
}

/* A tokenizer trained on a slice of each corpus (so the merges cover
 * tweet text), with the three chat tokens chirp always adds. */
static void test_trained_on_tweets(void **state) {
    (void)state;
    const char *musk = testdata_path("tweets-musk/Tweet.csv");
    if (!musk) skip();
    const char *dir = test_tmpdir();
    char corpus[600], cmd[8192], tj[600];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", dir);
    FILE *f = fopen(corpus, "w");
    Reader *r = reader_open(musk, "auto", NULL);
    assert_non_null(r);
    Post p;
    for (int n = 0; n < 20000 && reader_next(r, &p) == 1; n++)
        if (!p.error) fprintf(f, "%.*s\n", (int)p.text_len, p.text);
    reader_free(r);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s tokenizer train --input %s --vocab-size 3000 --out %s/tok 2>&1", chirp_bin(), corpus,
             dir);
    assert_int_equal(run_capture(cmd, NULL), 0);
    snprintf(tj, sizeof tj, "%s/tok/tokenizer.json", dir);
    check_tokenizer(tj, "trained");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trained_on_tweets),
        cmocka_unit_test(test_gpt2_converted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
