/* test_tokenizer.c: GPT-2 exactness against tiktoken's reference encodings,
 * round trips, special tokens, and the library API's contract. */
#include "testutil.h"

#include "text/bpe_train.h"
#include "text/pretok.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
#include "util/error.h"

#include <jansson.h>
#include <omp.h>

static Tokenizer *gpt2;

static int setup(void **state) {
    (void)state;
    const char *dir = testdata_path("gpt2-tokenizer");
    if (dir) {
        gpt2 = tokenizer_load(dir);
        if (!gpt2) fprintf(stderr, "load failed: %s\n", chirp_error());
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    tokenizer_free(gpt2);
    return 0;
}

#define NEED_GPT2()                                   \
    do {                                              \
        if (!testdata_path("gpt2-tokenizer")) skip(); \
        assert_non_null(gpt2);                        \
    } while (0)

static void test_gpt2_loads(void **state) {
    (void)state;
    NEED_GPT2();
    assert_int_equal(tokenizer_vocab_size(gpt2), 50257);
    assert_int_equal(tokenizer_eot_id(gpt2), 50256);
    assert_int_equal(tokenizer_special_id(gpt2, "<|im_start|>"), -1);
    size_t len;
    const char *b = tokenizer_token_bytes(gpt2, 220, &len); /* "Ġ" = a space */
    assert_non_null(b);
    assert_int_equal(len, 1);
    assert_int_equal(b[0], ' ');
    assert_int_equal(tokenizer_token_id(gpt2, " the", 4), 262);
    assert_int_equal(tokenizer_token_id(gpt2, "<|endoftext|>", 13), 50256);
    assert_int_equal(tokenizer_token_id(gpt2, "no such token here", 18), -1);
    for (int32_t id = 0; id < 50257; id += 97) {
        b = tokenizer_token_bytes(gpt2, id, &len);
        assert_int_equal(tokenizer_token_id(gpt2, b, len), id);
    }
    assert_null(tokenizer_token_bytes(gpt2, 50257, &len));
    assert_null(tokenizer_token_bytes(gpt2, -1, &len));
}

/* Every line of reference.jsonl: our ids equal tiktoken's, and decode gives
 * the text back. */
static void test_gpt2_reference_every_line(void **state) {
    (void)state;
    NEED_GPT2();
    const char *path = testdata_path("gpt2-tokenizer/reference.jsonl");
    if (!path) skip();
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, checked = 0, failed = 0;
    long total_ids = 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        json_error_t err;
        json_t *obj = json_loadb(line, (size_t)n, JSON_ALLOW_NUL, &err);
        assert_non_null(obj);
        json_t *text = json_object_get(obj, "text"), *ids = json_object_get(obj, "ids");
        assert_true(json_is_string(text) && json_is_array(ids));
        const char *s = json_string_value(text);
        size_t len = json_string_length(text);
        size_t want_n = json_array_size(ids);
        int32_t *got = malloc(sizeof(int32_t) * (len + 1));
        long got_n = tokenizer_encode(gpt2, s, len, false, got, len + 1);
        int same = got_n == (long)want_n;
        for (size_t i = 0; same && i < want_n; i++)
            same = got[i] == (int32_t)json_integer_value(json_array_get(ids, i));
        if (!same && failed++ < 5)
            fprintf(stderr, "line %d differs: %ld ids, want %zu; text '%.60s'\n", lineno, got_n, want_n, s);
        char *back = malloc(len + 1);
        long back_n = tokenizer_decode(gpt2, got, (size_t)got_n, back, len + 1);
        if ((back_n != (long)len || memcmp(back, s, len) != 0) && failed++ < 5)
            fprintf(stderr, "line %d does not round-trip\n", lineno);
        total_ids += got_n;
        free(back);
        free(got);
        json_decref(obj);
        checked++;
    }
    free(line);
    fclose(f);
    fprintf(stderr, "reference.jsonl: %d lines, %ld ids checked\n", checked, total_ids);
    assert_int_equal(failed, 0);
    assert_int_equal(checked, 3225);
    assert_int_equal(total_ids, 159701);
}

/* The ASCII fast path of the pre-tokenizer agrees with unicode_class(). */
static void test_ascii_classes_agree(void **state) {
    (void)state;
    for (int c = 0; c < 128; c++) assert_int_equal(pretok_ascii_class(c), unicode_class(c));
    assert_int_equal(unicode_class(0x3000), CC_SPACE);
    assert_int_equal(unicode_class(0x200B), CC_OTHER);
    assert_int_equal(unicode_class(0x65E5), CC_LETTER);
    assert_int_equal(unicode_class(0x0663), CC_NUMBER);
}

/* Collects the pieces of s as "|"-joined text. */
static void pieces(const char *s, char *out) {
    size_t len = strlen(s), pos = 0;
    out[0] = '\0';
    while (pos < len) {
        size_t end = pretok_next((const unsigned char *)s, len, pos);
        assert_true(end > pos && end <= len);
        strncat(out, s + pos, end - pos);
        strcat(out, "|");
        pos = end;
    }
}

static void test_pretokenizer_rules(void **state) {
    (void)state;
    char out[512];
    pieces("Hello world", out);
    assert_string_equal(out, "Hello| world|");
    pieces("I'm can't we'LL", out);
    assert_string_equal(out, "I|'m| can|'t| we|'|LL|");
    pieces("a   b", out); /* the last space joins the word */
    assert_string_equal(out, "a|  | b|");
    pieces("a\n\nb", out);
    assert_string_equal(out, "a|\n|\n|b|");
    pieces("x  ", out); /* trailing whitespace stays together */
    assert_string_equal(out, "x|  |");
    pieces("abc123 456!!? ok", out);
    assert_string_equal(out, "abc|123| 456|!!?| ok|");
    pieces("\xff\xfe x\x80y", out); /* invalid bytes are "other" */
    assert_string_equal(out, "\xff\xfe| x|\x80|y|");
}

static void test_roundtrip_random_bytes(void **state) {
    (void)state;
    NEED_GPT2();
    srand(1234);
    enum { N = 2000 };
    char buf[N], back[N];
    int32_t ids[N];
    for (int iter = 0; iter < 300; iter++) {
        size_t len = (size_t)(rand() % N);
        int mode = iter % 3;
        for (size_t i = 0; i < len; i++) {
            int r = rand();
            /* all bytes; mostly ASCII; mostly spaces and 'a' (long runs) */
            buf[i] = mode == 0 ? (char)r : mode == 1 ? (char)(r % 5 ? 32 + r % 95 : r) : (char)(r % 3 ? 'a' : ' ');
        }
        long n = tokenizer_encode(gpt2, buf, len, iter % 2, ids, N);
        assert_true(n >= 0 && n <= (long)len);
        long m = tokenizer_decode(gpt2, ids, (size_t)n, back, N);
        assert_int_equal(m, (long)len);
        assert_memory_equal(back, buf, len);
    }
}

static void test_special_tokens(void **state) {
    (void)state;
    NEED_GPT2();
    const char *s = "hi<|endoftext|>there";
    int32_t ids[64];
    long n = tokenizer_encode(gpt2, s, strlen(s), true, ids, 64);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 50256);
    /* Without allow_special the string is ordinary text. */
    n = tokenizer_encode(gpt2, s, strlen(s), false, ids, 64);
    assert_true(n > 3);
    for (long i = 0; i < n; i++) assert_int_not_equal(ids[i], 50256);
    char back[64];
    assert_int_equal(tokenizer_decode(gpt2, ids, (size_t)n, back, sizeof back), (long)strlen(s));
    assert_memory_equal(back, s, strlen(s));
    /* A lone special token, and one cut short. */
    assert_int_equal(tokenizer_encode(gpt2, "<|endoftext|>", 13, true, ids, 64), 1);
    assert_int_equal(ids[0], 50256);
    n = tokenizer_encode(gpt2, "<|endoftext|", 12, true, ids, 64);
    assert_true(n > 1);
    /* Decoding the special id gives its text. */
    int32_t eot = 50256;
    assert_int_equal(tokenizer_decode(gpt2, &eot, 1, back, sizeof back), 13);
    assert_memory_equal(back, "<|endoftext|>", 13);
}

static void test_encode_capacity_contract(void **state) {
    (void)state;
    NEED_GPT2();
    const char *s = "The quick brown fox jumps over the lazy dog.";
    int32_t full[64], part[3] = {-7, -7, -7};
    long n = tokenizer_encode(gpt2, s, strlen(s), false, full, 64);
    assert_int_equal(n, 10);
    assert_int_equal(tokenizer_encode(gpt2, s, strlen(s), false, part, 2), n);
    assert_int_equal(part[0], full[0]);
    assert_int_equal(part[1], full[1]);
    assert_int_equal(part[2], -7); /* nothing written past cap */
    assert_int_equal(tokenizer_encode(gpt2, s, strlen(s), false, NULL, 0), n);
    assert_int_equal(tokenizer_encode(gpt2, "", 0, false, full, 64), 0);
    /* decode: needed length even when cap is short */
    char out[4];
    assert_int_equal(tokenizer_decode(gpt2, full, (size_t)n, out, sizeof out), (long)strlen(s));
    assert_memory_equal(out, s, 4);
    int32_t bad = 50257;
    assert_int_equal(tokenizer_decode(gpt2, &bad, 1, out, sizeof out), -1);
    assert_non_null(strstr(chirp_error(), "50257"));
}

/* A long single line encodes in time linear-ish in its size and exactly
 * equals encoding its parts where the pre-tokenizer would split anyway.
 * 20 MB here (the 100 MB case is the same code path; see
 * docs/tokenizer.md for the CLI run). */
static void test_long_single_line(void **state) {
    (void)state;
    NEED_GPT2();
    size_t len = 20u << 20;
    char *s = malloc(len);
    /* One 10 MB word of letters with no space, then 10 MB of words. */
    for (size_t i = 0; i < len / 2; i++) s[i] = (char)('a' + (i * 7 + i / 13) % 26);
    for (size_t i = len / 2; i < len; i++) s[i] = (i % 6 == 0) ? ' ' : (char)('a' + i % 26);
    int32_t *ids = malloc(sizeof(int32_t) * len);
    long n = tokenizer_encode(gpt2, s, len, false, ids, len);
    assert_true(n > 0 && n < (long)len);
    char *back = malloc(len);
    assert_int_equal(tokenizer_decode(gpt2, ids, (size_t)n, back, len), (long)len);
    assert_memory_equal(back, s, len);
    free(s);
    free(ids);
    free(back);
}

/* Pieces are encoded independently of their neighbours, on both sides of
 * the 64-byte switch from the array scan to the heap: a word gives the same
 * ids alone as twice inside a text. (The reference lines with 5,000-letter
 * words check the heap path against tiktoken.) */
static void test_long_piece_matches_small_path(void **state) {
    (void)state;
    NEED_GPT2();
    srand(99);
    for (int iter = 0; iter < 200; iter++) {
        char w[256];
        int len = 40 + rand() % 200;
        for (int i = 0; i < len; i++) w[i] = (char)("etaoinshrdlu"[rand() % 12]);
        int32_t a[256], b[600];
        long na = tokenizer_encode(gpt2, w, (size_t)len, false, a, 256);
        char text[600];
        memcpy(text, w, (size_t)len);
        text[len] = '.';
        memcpy(text + len + 1, w, (size_t)len);
        long nb = tokenizer_encode(gpt2, text, (size_t)(2 * len + 1), false, b, 600);
        assert_int_equal(nb, 2 * na + 1);
        assert_memory_equal(a, b, sizeof(int32_t) * (size_t)na);
        assert_memory_equal(a, b + na + 1, sizeof(int32_t) * (size_t)na);
    }
}

/* One shared tokenizer, many threads: each thread's ids equal the ids of
 * the same text encoded alone. Two different tokenizers are mixed in the
 * same threads, so a per-thread cache that mixed them up would show. */
static void test_threads_and_two_tokenizers(void **state) {
    (void)state;
    NEED_GPT2();
    enum { DOCS = 64, LEN = 3000 };
    static char docs[DOCS][LEN];
    static int32_t want[2][DOCS][LEN], got[DOCS][LEN];
    static long nwant[2][DOCS], ngot[DOCS];
    srand(5);
    static const char *words[] = {" the", " post", "日本", " 😀", "\n", "!!", " it's", " 2024", "\xff", "a"};
    BpeTrainer *tr = bpe_trainer_new();
    for (int d = 0; d < DOCS; d++) {
        size_t n = 0;
        while (n + 16 < LEN) {
            const char *w = words[rand() % 10];
            memcpy(docs[d] + n, w, strlen(w));
            n += strlen(w);
        }
        docs[d][n] = '\0';
        bpe_trainer_add_text(tr, docs[d], n);
    }
    Tokenizer *other = bpe_trainer_train(tr, 300, 2, false);
    bpe_trainer_free(tr);
    assert_non_null(other);
    const Tokenizer *toks[2] = {gpt2, other};
    for (int k = 0; k < 2; k++)
        for (int d = 0; d < DOCS; d++)
            nwant[k][d] = tokenizer_encode(toks[k], docs[d], strlen(docs[d]), false, want[k][d], LEN);
    assert_true(nwant[0][0] != nwant[1][0]); /* the two really differ */
#pragma omp parallel for num_threads(4) schedule(dynamic, 1)
    for (int d = 0; d < DOCS; d++)
        ngot[d] = tokenizer_encode(toks[d % 3 == 0], docs[d], strlen(docs[d]), false, got[d], LEN);
    for (int d = 0; d < DOCS; d++) {
        int k = d % 3 == 0;
        assert_int_equal(ngot[d], nwant[k][d]);
        assert_memory_equal(got[d], want[k][d], sizeof(int32_t) * (size_t)nwant[k][d]);
    }
    tokenizer_free(other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_loads),
        cmocka_unit_test(test_gpt2_reference_every_line),
        cmocka_unit_test(test_ascii_classes_agree),
        cmocka_unit_test(test_pretokenizer_rules),
        cmocka_unit_test(test_roundtrip_random_bytes),
        cmocka_unit_test(test_special_tokens),
        cmocka_unit_test(test_encode_capacity_contract),
        cmocka_unit_test(test_long_single_line),
        cmocka_unit_test(test_long_piece_matches_small_path),
        cmocka_unit_test(test_threads_and_two_tokenizers),
    };
    return cmocka_run_group_tests_name("tokenizer", tests, setup, teardown);
}
