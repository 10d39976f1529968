/* test_tokenizer_train.c: BPE training (hand-checked merges, tie-breaking,
 * determinism, block reading) and tokenizer.json / GPT-2 file I/O, including
 * the Hugging Face layout and bad files. */
#include "testutil.h"

#include "text/bpe_train.h"
#include "text/tokenizer.h"
#include "text/tokenizer_json.h"
#include "util/error.h"
#include "util/file.h"

#include <jansson.h>

static Tokenizer *train_text(const char *text, int vocab, int min_freq) {
    BpeTrainer *tr = bpe_trainer_new();
    bpe_trainer_add_text(tr, text, strlen(text));
    Tokenizer *t = bpe_trainer_train(tr, vocab, min_freq, false);
    bpe_trainer_free(tr);
    assert_non_null(t);
    return t;
}

/* The bytes of token id as a C string (static buffer). */
static const char *tok_str(const Tokenizer *t, int32_t id) {
    static char buf[256];
    size_t len;
    const char *b = tokenizer_token_bytes(t, id, &len);
    assert_non_null(b);
    assert_true(len < sizeof buf);
    memcpy(buf, b, len);
    buf[len] = '\0';
    return buf;
}

/* "ab ab ab abc": pieces "ab" x1, " ab" x2, " abc" x1. Pair counts: (a,b) 4,
 * (' ',a) 3, (b,c) 1. So: 256 = "ab"; then (' ',"ab") has 3 -> 257 = " ab";
 * then (" ab", c) has 1, below min_frequency 2: stop. */
static void test_hand_checked_merges(void **state) {
    (void)state;
    Tokenizer *t = train_text("ab ab ab abc", 1000, 2);
    assert_int_equal(tokenizer_vocab_size(t), 256 + 2 + 3);
    assert_string_equal(tok_str(t, 'a'), "a");
    assert_string_equal(tok_str(t, 256), "ab");
    assert_string_equal(tok_str(t, 257), " ab");
    assert_int_equal(tokenizer_special_id(t, "<|endoftext|>"), 258);
    assert_int_equal(tokenizer_special_id(t, "<|im_start|>"), 259);
    assert_int_equal(tokenizer_special_id(t, "<|im_end|>"), 260);
    assert_int_equal(tokenizer_eot_id(t), 258);
    int32_t ids[16];
    assert_int_equal(tokenizer_encode(t, "ab abc", 6, false, ids, 16), 3);
    assert_int_equal(ids[0], 256);
    assert_int_equal(ids[1], 257);
    assert_int_equal(ids[2], 'c');
    tokenizer_free(t);
    /* With min_frequency 1 the last pair is merged too. */
    t = train_text("ab ab ab abc", 1000, 1);
    assert_int_equal(tokenizer_vocab_size(t), 256 + 3 + 3);
    assert_string_equal(tok_str(t, 258), " abc");
    tokenizer_free(t);
    /* vocab_size caps the merges: 256 + 1 merge + 3 specials. */
    t = train_text("ab ab ab abc", 260, 1);
    assert_int_equal(tokenizer_vocab_size(t), 260);
    assert_string_equal(tok_str(t, 256), "ab");
    tokenizer_free(t);
}

/* "ab cd ab cd": pairs (a,b), (' ',c), (c,d) all have count 2. Ties go to
 * the smaller left id: ' ' (32) first, then a (97) before " c" (256). */
static void test_tie_breaking(void **state) {
    (void)state;
    Tokenizer *t = train_text("ab cd ab cd", 1000, 2);
    assert_int_equal(tokenizer_vocab_size(t), 256 + 3 + 3);
    assert_string_equal(tok_str(t, 256), " c");
    assert_string_equal(tok_str(t, 257), "ab");
    assert_string_equal(tok_str(t, 258), " cd");
    tokenizer_free(t);
}

/* Overlapping pairs: "aaaa" merges (a,a) left to right into two "aa". */
static void test_overlapping_pairs(void **state) {
    (void)state;
    Tokenizer *t = train_text("aaaa aaaa aaa", 1000, 2);
    assert_string_equal(tok_str(t, 256), "aa");
    int32_t ids[8];
    assert_int_equal(tokenizer_encode(t, "aaa", 3, false, ids, 8), 2);
    assert_int_equal(ids[0], 256);
    assert_int_equal(ids[1], 'a');
    tokenizer_free(t);
}

/* The obvious BPE, for comparison: count every pair over every piece,
 * merge the best (count, then smaller left id, then smaller right id)
 * left to right in every piece, repeat. A token whose bytes an earlier one
 * already has reuses that id, as the trainer does. */
typedef struct NaiveTok {
    char bytes[4096];
    size_t len;
} NaiveTok;

static int naive_train(char **pieces, const int *counts, int np, int vocab, int min_freq, int (*merges)[2]) {
    static NaiveTok toks[512];
    int ntok = 256, nm = 0;
    for (int b = 0; b < 256; b++) toks[b].bytes[0] = (char)b, toks[b].len = 1;
    int **sym = malloc(sizeof(int *) * (size_t)np), *len = malloc(sizeof(int) * (size_t)np);
    for (int w = 0; w < np; w++) {
        len[w] = (int)strlen(pieces[w]);
        sym[w] = malloc(sizeof(int) * (size_t)len[w]);
        for (int i = 0; i < len[w]; i++) sym[w][i] = (unsigned char)pieces[w][i];
    }
    enum { MAXID = 512 };
    assert_true(vocab <= MAXID);
    long long(*cnt)[MAXID] = calloc(MAXID, sizeof *cnt);
    while (ntok < vocab - 3) {
        memset(cnt, 0, MAXID * sizeof *cnt);
        for (int w = 0; w < np; w++)
            for (int i = 0; i + 1 < len[w]; i++) cnt[sym[w][i]][sym[w][i + 1]] += counts[w];
        long long best = 0;
        int ba = -1, bb = -1;
        for (int a = 0; a < ntok; a++) /* ascending ids: the first maximum wins ties */
            for (int b = 0; b < ntok; b++)
                if (cnt[a][b] > best) best = cnt[a][b], ba = a, bb = b;
        if (ba < 0 || best < min_freq) break;
        NaiveTok t;
        t.len = toks[ba].len + toks[bb].len;
        assert_true(t.len < sizeof t.bytes);
        memcpy(t.bytes, toks[ba].bytes, toks[ba].len);
        memcpy(t.bytes + toks[ba].len, toks[bb].bytes, toks[bb].len);
        int z = -1;
        for (int k = 0; k < ntok && z < 0; k++)
            if (toks[k].len == t.len && memcmp(toks[k].bytes, t.bytes, t.len) == 0) z = k;
        if (z < 0) toks[z = ntok++] = t;
        merges[nm][0] = ba, merges[nm][1] = bb, nm++;
        for (int w = 0; w < np; w++) {
            int j = 0;
            for (int i = 0; i < len[w];)
                if (i + 1 < len[w] && sym[w][i] == ba && sym[w][i + 1] == bb) sym[w][j++] = z, i += 2;
                else sym[w][j++] = sym[w][i++];
            len[w] = j;
        }
    }
    free(cnt);
    for (int w = 0; w < np; w++) free(sym[w]);
    free(sym);
    free(len);
    return nm;
}

/* Random pieces over a 3-letter alphabet (many overlapping pairs such as
 * "aaa"), one of them 3,000 letters long: the trainer's merges equal the
 * obvious algorithm's, pair for pair. */
static void test_matches_naive_trainer(void **state) {
    (void)state;
    for (int round = 0; round < 3; round++) {
        srand(40 + round);
        enum { NP = 60 };
        char *pieces[NP];
        int counts[NP];
        BpeTrainer *tr = bpe_trainer_new();
        for (int w = 0; w < NP; w++) {
            int n = w == 0 ? 3000 : 1 + rand() % 12;
            pieces[w] = malloc((size_t)n + 1);
            for (int i = 0; i < n; i++) pieces[w][i] = "abc"[rand() % (round == 2 ? 2 : 3)];
            pieces[w][n] = '\0';
            counts[w] = 1 + rand() % 4;
            for (int c = 0; c < counts[w]; c++) bpe_trainer_add_text(tr, pieces[w], (size_t)n);
        }
        /* Equal pieces were added twice; the naive side must see them once. */
        int np = 0;
        for (int w = 0; w < NP; w++) {
            int dup = -1;
            for (int v = 0; v < np && dup < 0; v++)
                if (strcmp(pieces[v], pieces[w]) == 0) dup = v;
            if (dup >= 0) {
                counts[dup] += counts[w];
                free(pieces[w]);
            } else {
                pieces[np] = pieces[w];
                counts[np++] = counts[w];
            }
        }
        Tokenizer *t = bpe_trainer_train(tr, 256 + 60 + 3, 1, false);
        assert_non_null(t);
        static int merges[512][2];
        int nm = naive_train(pieces, counts, np, 256 + 60 + 3, 1, merges);
        assert_int_equal(tokenizer_merge_count(t), nm);
        for (int k = 0; k < nm; k++) {
            char *got = tokenizer_merge_entry(t, k);
            TokenKind kind;
            char *l = tokenizer_vocab_entry(t, merges[k][0], &kind), *r = tokenizer_vocab_entry(t, merges[k][1], &kind);
            char want[256];
            snprintf(want, sizeof want, "%s %s", l, r);
            if (strcmp(got, want) != 0) fail_msg("round %d merge %d: trainer '%s', naive '%s'", round, k, got, want);
            free(got);
            free(l);
            free(r);
        }
        tokenizer_free(t);
        bpe_trainer_free(tr);
        for (int w = 0; w < np; w++) free(pieces[w]);
    }
}

static char *synthetic_text(size_t len, unsigned seed) {
    static const char *words[] = {"the", "post", "chirp", "über", "日本語", "😀",     "<|endoftext|>",  "\n",
                                  "  ",  "it's", "2024",  "!!",   "#tag",   "@user", "https://t.co/x", "\xff"};
    char *s = malloc(len + 64);
    size_t n = 0;
    srand(seed);
    while (n < len) {
        const char *w = words[rand() % 16];
        if (rand() % 2) s[n++] = ' ';
        size_t l = strlen(w);
        memcpy(s + n, w, l);
        n += l;
    }
    s[n] = '\0';
    return s;
}

static void test_training_is_deterministic(void **state) {
    (void)state;
    char *text = synthetic_text(200000, 7);
    Tokenizer *a = train_text(text, 600, 2), *b = train_text(text, 600, 2);
    char *ja = tokenizer_to_json(a), *jb = tokenizer_to_json(b);
    assert_string_equal(ja, jb);
    assert_int_equal(tokenizer_vocab_size(a), 600);
    /* Special token strings in the text are cut out, never learned. */
    for (int32_t id = 256; id < 597; id++) assert_null(strstr(tok_str(a, id), "<|"));
    free(ja);
    free(jb);
    tokenizer_free(a);
    tokenizer_free(b);
    free(text);
}

/* A file is read in 4 MB blocks; the result must equal training on the
 * same text in one piece (pieces, UTF-8 and special tokens straddle the
 * block boundaries). */
static void test_file_blocks_equal_whole_text(void **state) {
    (void)state;
    size_t len = 9u << 20;
    char *text = synthetic_text(len, 11);
    len = strlen(text);
    const char *dir = test_tmpdir();
    char *path = path_join(dir, "corpus.txt");
    assert_int_equal(file_write_atomic(path, text, len), 0);
    BpeTrainer *tf = bpe_trainer_new(), *tt = bpe_trainer_new();
    assert_int_equal(bpe_trainer_add_file(tf, path, false), 0);
    bpe_trainer_add_text(tt, text, len);
    assert_int_equal(bpe_trainer_distinct(tf), bpe_trainer_distinct(tt));
    assert_true(bpe_trainer_bytes(tf) == bpe_trainer_bytes(tt));
    Tokenizer *a = bpe_trainer_train(tf, 400, 2, false), *b = bpe_trainer_train(tt, 400, 2, false);
    char *ja = tokenizer_to_json(a), *jb = tokenizer_to_json(b);
    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
    tokenizer_free(a);
    tokenizer_free(b);
    bpe_trainer_free(tf);
    bpe_trainer_free(tt);
    free(text);
    free(path);
    BpeTrainer *missing = bpe_trainer_new();
    assert_int_equal(bpe_trainer_add_file(missing, "/nonexistent/x", false), -1);
    assert_non_null(strstr(chirp_error(), "/nonexistent/x"));
    bpe_trainer_free(missing);
}

static void test_empty_training_input(void **state) {
    (void)state;
    Tokenizer *t = train_text("", 1000, 2);
    assert_int_equal(tokenizer_vocab_size(t), 259);
    int32_t ids[4];
    assert_int_equal(tokenizer_encode(t, "ab", 2, false, ids, 4), 2);
    tokenizer_free(t);
    BpeTrainer *tr = bpe_trainer_new();
    assert_null(bpe_trainer_train(tr, 100, 2, false));
    assert_non_null(strstr(chirp_error(), "vocab size"));
    t = bpe_trainer_train(tr, 300, 2, false);
    assert_non_null(t);
    tokenizer_free(t);
    assert_null(bpe_trainer_train(tr, 300, 2, false)); /* a second time: an error, not a crash */
    assert_non_null(strstr(chirp_error(), "only once"));
    bpe_trainer_free(tr);
}

/* Save, load, and get the same ids for varied text (incl. invalid UTF-8). */
static void test_save_load_same_encodings(void **state) {
    (void)state;
    char *text = synthetic_text(100000, 3);
    Tokenizer *t = train_text(text, 700, 2);
    const char *dir = test_tmpdir();
    char *path = path_join(dir, "tokenizer.json");
    assert_int_equal(tokenizer_save(t, path), 0);
    Tokenizer *u = tokenizer_load(dir); /* the directory form */
    assert_non_null(u);
    assert_int_equal(tokenizer_vocab_size(u), tokenizer_vocab_size(t));
    char *probe = synthetic_text(20000, 4);
    size_t len = strlen(probe);
    int32_t *a = malloc(sizeof(int32_t) * len), *b = malloc(sizeof(int32_t) * len);
    for (int special = 0; special < 2; special++) {
        long na = tokenizer_encode(t, probe, len, special, a, len);
        long nb = tokenizer_encode(u, probe, len, special, b, len);
        assert_int_equal(na, nb);
        assert_memory_equal(a, b, sizeof(int32_t) * (size_t)na);
    }
    assert_int_equal(tokenizer_eot_id(u), tokenizer_eot_id(t));
    free(a);
    free(b);
    free(probe);
    free(text);
    free(path);
    tokenizer_free(t);
    tokenizer_free(u);
}

/* GPT-2 loaded from encoder.json + vocab.bpe, saved as tokenizer.json and
 * loaded again, encodes the tweets identically. */
static void test_gpt2_json_roundtrip(void **state) {
    (void)state;
    const char *gdir = testdata_path("gpt2-tokenizer");
    if (!gdir) skip();
    Tokenizer *g = tokenizer_load(gdir);
    assert_non_null(g);
    const char *dir = test_tmpdir();
    char *path = path_join(dir, "gpt2.json");
    assert_int_equal(tokenizer_save(g, path), 0);
    Tokenizer *h = tokenizer_load(path);
    assert_non_null(h);
    assert_int_equal(tokenizer_vocab_size(h), 50257);
    assert_int_equal(tokenizer_eot_id(h), 50256);
    const char *ref = testdata_path("gpt2-tokenizer/reference.jsonl");
    size_t len;
    char *text = file_read_all(ref, &len);
    assert_non_null(text);
    int32_t *a = malloc(sizeof(int32_t) * len), *b = malloc(sizeof(int32_t) * len);
    long na = tokenizer_encode(g, text, len, true, a, len), nb = tokenizer_encode(h, text, len, true, b, len);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, sizeof(int32_t) * (size_t)na);
    free(a);
    free(b);
    free(text);
    free(path);
    tokenizer_free(g);
    tokenizer_free(h);
}

/* The JSON has what Hugging Face tokenizers needs for a byte-level BPE. */
static void test_hf_format_sanity(void **state) {
    (void)state;
    Tokenizer *t = train_text("hello hello world world wide web web", 300, 2);
    char *s = tokenizer_to_json(t);
    json_error_t err;
    json_t *root = json_loads(s, 0, &err);
    assert_non_null(root);
    assert_true(json_is_string(json_object_get(root, "version")));
    json_t *pre = json_object_get(root, "pre_tokenizer"), *dec = json_object_get(root, "decoder");
    assert_string_equal(json_string_value(json_object_get(pre, "type")), "ByteLevel");
    assert_true(json_is_false(json_object_get(pre, "add_prefix_space")));
    assert_true(json_is_true(json_object_get(pre, "use_regex")));
    assert_string_equal(json_string_value(json_object_get(dec, "type")), "ByteLevel");
    assert_true(json_is_null(json_object_get(root, "normalizer")));
    json_t *model = json_object_get(root, "model");
    assert_string_equal(json_string_value(json_object_get(model, "type")), "BPE");
    json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    assert_int_equal(json_object_size(vocab), (size_t)tokenizer_vocab_size(t));
    /* ids are exactly 0..n-1 */
    int n = tokenizer_vocab_size(t);
    char *seen = calloc((size_t)n, 1);
    const char *key;
    json_t *v;
    json_object_foreach(vocab, key, v) {
        json_int_t id = json_integer_value(v);
        assert_true(id >= 0 && id < n && !seen[id]);
        seen[id] = 1;
    }
    free(seen);
    assert_int_equal(json_integer_value(json_object_get(vocab, "Ġ")), ' ');  /* U+0120 = space */
    assert_int_equal(json_integer_value(json_object_get(vocab, "Ċ")), '\n'); /* U+010A = newline */
    /* Every merge is "a b" with a, b and ab in the vocab. */
    assert_true(json_array_size(merges) > 0);
    size_t i;
    json_array_foreach(merges, i, v) {
        const char *m = json_string_value(v);
        assert_non_null(m);
        const char *sp = strchr(m, ' ');
        assert_non_null(sp);
        assert_null(strchr(sp + 1, ' '));
        char a[128], cat[256];
        snprintf(a, sizeof a, "%.*s", (int)(sp - m), m);
        snprintf(cat, sizeof cat, "%s%s", a, sp + 1);
        assert_non_null(json_object_get(vocab, a));
        assert_non_null(json_object_get(vocab, sp + 1));
        assert_non_null(json_object_get(vocab, cat));
    }
    json_t *added = json_object_get(root, "added_tokens");
    assert_int_equal(json_array_size(added), 3);
    json_array_foreach(added, i, v) {
        assert_true(json_is_integer(json_object_get(v, "id")));
        assert_true(json_is_string(json_object_get(v, "content")));
        assert_true(json_is_true(json_object_get(v, "special")));
        assert_true(json_is_boolean(json_object_get(v, "lstrip")));
        assert_true(json_is_boolean(json_object_get(v, "rstrip")));
        assert_true(json_is_boolean(json_object_get(v, "single_word")));
        assert_true(json_is_boolean(json_object_get(v, "normalized")));
    }
    json_decref(root);
    free(s);
    tokenizer_free(t);
}

static const char *MINI_HEAD =
    "{\"added_tokens\": [], \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\", "
    "\"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}, "
    "\"decoder\": {\"type\": \"ByteLevel\"}, \"model\": {\"type\": \"BPE\", \"vocab\": {";

/* A minimal tokenizer.json: all 256 bytes, plus extra vocab and merges. */
static char *mini_json(const char *extra_vocab, const char *merges) {
    Tokenizer *t = train_text("", 259, 2);
    char *full = tokenizer_to_json(t);
    tokenizer_free(t);
    /* Take the 256 byte entries from a real save: cut the vocab after them. */
    json_t *root = json_loads(full, 0, NULL);
    json_t *vocab = json_object_get(json_object_get(root, "model"), "vocab");
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n, "%s", MINI_HEAD);
    const char *key;
    json_t *v;
    int first = 1;
    json_object_foreach(vocab, key, v) {
        if (json_integer_value(v) >= 256) continue;
        json_t *js = json_string(key);
        char *k = json_dumps(js, JSON_ENCODE_ANY);
        json_decref(js);
        n += (size_t)snprintf(s + n, cap - n, "%s%s: %lld", first ? "" : ", ", k, (long long)json_integer_value(v));
        free(k);
        first = 0;
    }
    snprintf(s + n, cap - n, "%s}, \"merges\": [%s]}}", extra_vocab, merges);
    json_decref(root);
    free(full);
    return s;
}

static Tokenizer *load_str(const char *s) { return tokenizer_load_json_buffer(s, strlen(s), "t.json"); }

static void test_merges_as_strings_or_pairs(void **state) {
    (void)state;
    char *a = mini_json(", \"ab\": 256, \"abc\": 257", "\"a b\", \"ab c\"");
    char *b = mini_json(", \"ab\": 256, \"abc\": 257", "[\"a\", \"b\"], [\"ab\", \"c\"]");
    Tokenizer *ta = load_str(a), *tb = load_str(b);
    assert_non_null(ta);
    assert_non_null(tb);
    int32_t ids[8];
    assert_int_equal(tokenizer_encode(ta, "abcab", 5, false, ids, 8), 2);
    assert_int_equal(ids[0], 257);
    assert_int_equal(ids[1], 256);
    assert_int_equal(tokenizer_encode(ta, "xabcab", 6, false, ids, 8), 3);
    assert_int_equal(ids[0], 'x');
    assert_int_equal(ids[1], 257);
    assert_int_equal(ids[2], 256);
    assert_int_equal(tokenizer_encode(ta, "abc ab", 6, false, ids, 8), 3);
    assert_int_equal(ids[0], 257);
    assert_int_equal(ids[2], 256);
    assert_int_equal(tokenizer_encode(tb, "abc ab", 6, false, ids, 8), 3);
    assert_int_equal(ids[0], 257);
    tokenizer_free(ta);
    tokenizer_free(tb);
    free(a);
    free(b);
}

static void expect_load_error(const char *json, const char *what) {
    Tokenizer *t = load_str(json);
    if (t) fail_msg("loaded a bad tokenizer.json; expected an error with '%s'", what);
    if (!strstr(chirp_error(), what)) fail_msg("error '%s' does not mention '%s'", chirp_error(), what);
}

static void test_bad_tokenizer_json(void **state) {
    (void)state;
    char *good = mini_json(", \"ab\": 256", "\"a b\"");
    Tokenizer *t = load_str(good);
    assert_non_null(t);
    tokenizer_free(t);
    /* Truncated at every 97th byte: never loads, never crashes. */
    size_t len = strlen(good);
    for (size_t cut = 0; cut < len; cut += 97) {
        assert_null(tokenizer_load_json_buffer(good, cut, "t.json"));
        assert_non_null(strstr(chirp_error(), "t.json"));
    }
    expect_load_error("", "t.json");
    expect_load_error("[1, 2]", "not a tokenizer.json");
    expect_load_error("{\"model\": {\"vocab\": {}, \"merges\": []}}", "ByteLevel");
    char *s = mini_json(", \"ab\": 256", "\"a q\"");
    assert_non_null(strstr(s, "\"q\"")); /* q is a byte token, so use a missing one: */
    free(s);
    s = mini_json(", \"ab\": 256", "\"a zz\"");
    expect_load_error(s, "unknown token 'zz'");
    free(s);
    s = mini_json("", "\"a b\""); /* "ab" itself is missing */
    expect_load_error(s, "not in the vocab");
    free(s);
    s = mini_json(", \"ab\": 97", "");
    expect_load_error(s, "appears twice");
    free(s);
    s = mini_json(", \"ab\": -5", "");
    expect_load_error(s, "not a valid id");
    free(s);
    s = mini_json(", \"ab\": 256", "\"ab\"");
    expect_load_error(s, "expected \"a b\"");
    free(s);
    s = mini_json(", \"ab\": 256", "7");
    expect_load_error(s, "merge 1");
    free(s);
    /* A missing byte token. */
    s = mini_json("", "");
    char *p = strstr(s, "\"!\": ");
    assert_non_null(p);
    char *renamed = malloc(strlen(s) + 2); /* rename byte '!' to "!!" */
    snprintf(renamed, strlen(s) + 2, "%.*s\"!!%s", (int)(p - s), s, p + 2);
    expect_load_error(renamed, "no token for byte 0x21");
    free(renamed);
    free(s);
    s = mini_json("", "");
    p = strstr(s, "ByteLevel");
    memcpy(p, "Metaspace", 9);
    expect_load_error(s, "ByteLevel");
    free(s);
    free(good);
    assert_null(tokenizer_load("/nonexistent/tokenizer.json"));
    assert_non_null(strstr(chirp_error(), "/nonexistent/tokenizer.json"));
    const char *dir = test_tmpdir();
    assert_null(tokenizer_load(dir));
    assert_non_null(strstr(chirp_error(), "no tokenizer.json"));
}

static void test_bad_gpt2_files(void **state) {
    (void)state;
    const char *src = testdata_path("gpt2-tokenizer/encoder.json");
    if (!src) skip();
    const char *dir = test_tmpdir();
    char *enc = path_join(dir, "encoder.json"), *bpe = path_join(dir, "vocab.bpe");
    size_t len;
    char *data = file_read_all(src, &len);
    assert_int_equal(file_write_atomic(enc, data, len), 0);
    const char *merges = "#version: 0.2\n\xc4\xa0 t\nh e\n";
    assert_int_equal(file_write_atomic(bpe, merges, strlen(merges)), 0);
    Tokenizer *t = tokenizer_load(dir);
    assert_non_null(t);
    tokenizer_free(t);
    const char *bad = "#version: 0.2\n\xc4\xa0 t\nh qqqqqqqq\n";
    assert_int_equal(file_write_atomic(bpe, bad, strlen(bad)), 0);
    assert_null(tokenizer_load(dir));
    assert_non_null(strstr(chirp_error(), "vocab.bpe:3: merge names an unknown token 'qqqqqqqq'"));
    assert_int_equal(file_write_atomic(enc, data, len / 2), 0); /* truncated encoder.json */
    assert_null(tokenizer_load(dir));
    assert_non_null(strstr(chirp_error(), "encoder.json"));
    free(data);
    free(enc);
    free(bpe);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_checked_merges),
        cmocka_unit_test(test_tie_breaking),
        cmocka_unit_test(test_overlapping_pairs),
        cmocka_unit_test(test_matches_naive_trainer),
        cmocka_unit_test(test_training_is_deterministic),
        cmocka_unit_test(test_file_blocks_equal_whole_text),
        cmocka_unit_test(test_empty_training_input),
        cmocka_unit_test(test_save_load_same_encodings),
        cmocka_unit_test(test_gpt2_json_roundtrip),
        cmocka_unit_test(test_hf_format_sanity),
        cmocka_unit_test(test_merges_as_strings_or_pairs),
        cmocka_unit_test(test_bad_tokenizer_json),
        cmocka_unit_test(test_bad_gpt2_files),
    };
    return cmocka_run_group_tests_name("tokenizer_train", tests, NULL, NULL);
}
