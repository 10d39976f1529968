/* test_audit.c: the audit layer's pieces on their own: suffix-array counts
 * and longest spans against a brute-force scan of random streams, Merkle
 * proofs (valid, tampered, one-sided, of the documented hashing), the
 * membership sketch (measured false-positive rate against the stated one,
 * members never "no", a damaged file refused) and Min-K%++'s AUROC. */
#include "testutil.h"

#include "audit/merkle.h"
#include "audit/mink.h"
#include "audit/sketch.h"
#include "audit/suffix_index.h"
#include "data/catalog.h"
#include "util/error.h"
#include "util/file.h"
#include "util/sha256.h"

#include <jansson.h>
#include <math.h>

static void sha256(const void *data, size_t n, uint8_t out[32]) {
    Sha256 s;
    sha256_init(&s);
    sha256_update(&s, data, n);
    sha256_final(&s, out);
}

static uint32_t rng_next(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*s >> 33);
}

/* ---- suffix index ---- */

static uint64_t brute_count(const uint16_t *s, size_t n, const int32_t *q, size_t m) {
    uint64_t c = 0;
    for (size_t i = 0; i + m <= n; i++) {
        size_t k = 0;
        while (k < m && s[i + k] == q[k]) k++;
        c += k == m;
    }
    return c;
}

/* Two shards of tokens from a small alphabet around 256, so that tokens
 * differ in both bytes and the byte-order trick is exercised, and queries
 * repeat often. */
static void test_suffix_counts_match_brute_force(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    const size_t per = 3000, n = 2 * per;
    uint16_t *s = malloc(n * sizeof *s);
    uint64_t seed = 42;
    const uint16_t alphabet[5] = {1, 255, 256, 257, 511};
    for (size_t i = 0; i < n; i++) s[i] = alphabet[rng_next(&seed) % 5];
    char a[512], b[512], ixdir[512];
    snprintf(a, sizeof a, "%s/train_000.bin", dir);
    snprintf(b, sizeof b, "%s/train_001.bin", dir);
    snprintf(ixdir, sizeof ixdir, "%s/ix", dir);
    test_write_shard(a, s, per, 20240520);
    test_write_shard(b, s + per, per, 20240520);
    const char *shards[2] = {a, b};
    IndexBuildStats st;
    assert_int_equal(suffix_index_build(ixdir, shards, 2, &st), 0);
    assert_int_equal(st.tokens, n);
    SuffixIndex ix;
    assert_int_equal(suffix_index_open(&ix, ixdir), 0);
    assert_int_equal(ix.n, n);
    assert_int_equal(ix.nshards, 2);
    assert_int_equal(ix.shards[1].start, per);
    for (size_t p = 0; p < n; p += 97) assert_int_equal(suffix_index_token(&ix, p), s[p]);
    /* Sorted order: every suffix is <= the next. */
    for (uint64_t r = 0; r + 1 < n; r += 13) {
        uint64_t x = suffix_index_pos(&ix, r), y = suffix_index_pos(&ix, r + 1);
        while (x < n && y < n && s[x] == s[y]) x++, y++;
        assert_true(y == n ? 0 : (x == n || s[x] < s[y]));
    }
    for (int t = 0; t < 400; t++) {
        int32_t q[12];
        size_t m = 1 + rng_next(&seed) % 8;
        if (t % 2 == 0) { /* a piece of the stream: occurs at least once */
            size_t at = rng_next(&seed) % (n - m);
            for (size_t k = 0; k < m; k++) q[k] = s[at + k];
        } else {
            for (size_t k = 0; k < m; k++) q[k] = alphabet[rng_next(&seed) % 5] + (k == m - 1 && t % 4 == 1);
        }
        uint64_t lo, hi;
        uint64_t got = suffix_index_range(&ix, q, m, &lo, &hi);
        assert_int_equal(got, brute_count(s, n, q, m));
        for (uint64_t r = lo; r < hi; r++) {
            uint64_t p = suffix_index_pos(&ix, r);
            for (size_t k = 0; k < m; k++) assert_int_equal(s[p + k], q[k]);
        }
        /* The longest piece that occurs, against every piece by brute force. */
        size_t start, len, best = 0;
        uint64_t cnt = suffix_index_longest(&ix, q, m, &start, &len);
        for (size_t i = 0; i < m; i++)
            for (size_t j = i + 1; j <= m; j++)
                if (j - i > best && brute_count(s, n, q + i, j - i) > 0) best = j - i;
        assert_int_equal(len, best);
        if (len > 0) assert_int_equal(cnt, brute_count(s, n, q + start, len));
    }
    /* A token outside the stream's alphabet, and one past uint16, occur nowhere. */
    int32_t none[2] = {2, 70000};
    uint64_t lo, hi;
    assert_int_equal(suffix_index_range(&ix, none, 1, &lo, &hi), 0);
    assert_int_equal(suffix_index_range(&ix, none + 1, 1, &lo, &hi), 0);
    suffix_index_close(&ix);
    free(s);
}

static void test_suffix_index_refuses_damage(void **state) {
    (void)state;
    const char *dir = test_tmpdir();
    uint16_t s[100];
    for (int i = 0; i < 100; i++) s[i] = (uint16_t)(i % 7);
    char a[512], ixdir[512], sa[600], cmd[1300];
    snprintf(a, sizeof a, "%s/train_000.bin", dir);
    snprintf(ixdir, sizeof ixdir, "%s/ix", dir);
    test_write_shard(a, s, 100, 20240520);
    const char *shards[1] = {a};
    IndexBuildStats st;
    assert_int_equal(suffix_index_build(ixdir, shards, 1, &st), 0);
    snprintf(sa, sizeof sa, "%s/sa.bin", ixdir);
    snprintf(cmd, sizeof cmd, "truncate -s 10 %s", sa);
    assert_int_equal(system(cmd), 0);
    SuffixIndex ix;
    assert_int_equal(suffix_index_open(&ix, ixdir), -1);
    const char *missing[1] = {"/nonexistent/train_000.bin"};
    assert_int_equal(suffix_index_build(ixdir, missing, 1, &st), -1);
}

/* ---- a catalog of posts, for the Merkle tree and the sketch ---- */

static sqlite3 *catalog_with(const char *dir, const char *const *ids, const char *const *texts, int n) {
    char path[512];
    snprintf(path, sizeof path, "%s/catalog.sqlite", dir);
    sqlite3 *db = catalog_create(path);
    assert_non_null(db);
    assert_int_equal(catalog_exec(db, "INSERT INTO sources VALUES (1, 'x.csv', 'csv', 0); BEGIN"), 0);
    sqlite3_stmt *st = catalog_prepare(db, "INSERT INTO posts(source_id, record, post_id, decision, split, text, "
                                           "shard) VALUES (1, ?, ?, 'kept', 'train', ?, 'train_000.bin')");
    for (int i = 0; i < n; i++) {
        sqlite3_bind_int(st, 1, i);
        sqlite3_bind_text(st, 2, ids[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, texts[i], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    /* Posts that were not trained on: in neither the tree nor the sketch. */
    assert_int_equal(catalog_exec(db, "INSERT INTO posts(source_id, record, post_id, decision, split, text) VALUES "
                                      "(1, 9999, 'zz-dropped', 'dropped:optout', NULL, 'an opted out post'),"
                                      "(1, 9998, 'zz-val', 'kept', 'val', 'a held out post'); COMMIT"),
                     0);
    return db;
}

/* ---- Merkle ---- */

static char *set_field(const char *proof, const char *leaf_key, const char *field, json_t *value) {
    json_t *o = json_loads(proof, 0, NULL);
    json_t *target = leaf_key ? json_object_get(o, leaf_key) : o;
    json_object_set_new(target, field, value);
    char *s = json_dumps(o, 0);
    json_decref(o);
    return s;
}

static int verify(const char *proof, const uint8_t root[32], bool *inclusion) {
    int ok = merkle_verify(proof, root, inclusion);
    chirp_error_clear();
    return ok;
}

static void test_merkle_proofs(void **state) {
    (void)state;
    for (int n = 1; n <= 9; n++) {
        const char *dir = test_tmpdir();
        char idbuf[9][8], textbuf[9][24];
        const char *ids[9], *texts[9];
        for (int i = 0; i < n; i++) { /* ids "b", "d", "f", ...: room for ids between them */
            snprintf(idbuf[i], sizeof idbuf[i], "%c", 'b' + 2 * i);
            snprintf(textbuf[i], sizeof textbuf[i], "post number %d", i);
            ids[n - 1 - i] = idbuf[i]; /* inserted in reverse: the tree sorts */
            texts[n - 1 - i] = textbuf[i];
        }
        sqlite3 *db = catalog_with(dir, ids, texts, n);
        MerkleTree t;
        assert_int_equal(merkle_build(&t, db), 0);
        assert_int_equal(t.n, (size_t)n);
        for (int i = 0; i < n; i++) {
            assert_string_equal(t.leaves[i].id, idbuf[i]);
            uint8_t h[32];
            sha256(textbuf[i], strlen(textbuf[i]), h);
            assert_memory_equal(t.leaves[i].text_sha256, h, 32);
        }
        bool inc;
        for (int i = 0; i < n; i++) {
            char *p = merkle_prove(&t, idbuf[i]);
            assert_int_equal(verify(p, t.root, &inc), 1);
            assert_true(inc);
            /* Tampered: another text, another index, a flipped path hash, a
             * different post id, another root. */
            char *bad = set_field(p, "leaf", "text_sha256",
                                  json_string("00000000000000000000000000000000000000000000000000000000000000ff"));
            assert_int_equal(verify(bad, t.root, &inc), 0);
            free(bad);
            if (n > 1) {
                bad = set_field(p, "leaf", "index", json_integer((i + 1) % n));
                assert_int_equal(verify(bad, t.root, &inc), 0);
                free(bad);
                json_t *o = json_loads(p, 0, NULL);
                json_t *path = json_object_get(json_object_get(o, "leaf"), "path");
                char h[65];
                snprintf(h, sizeof h, "%s", json_string_value(json_array_get(path, 0)));
                h[0] = h[0] == '0' ? '1' : '0';
                json_array_set_new(path, 0, json_string(h));
                bad = json_dumps(o, 0);
                json_decref(o);
                assert_int_equal(verify(bad, t.root, &inc), 0);
                free(bad);
            }
            bad = set_field(p, NULL, "post_id", json_string("a"));
            assert_int_equal(verify(bad, t.root, &inc), 0);
            free(bad);
            uint8_t other[32];
            memcpy(other, t.root, 32);
            other[31] ^= 1;
            assert_int_equal(verify(p, other, &inc), 0);
            free(p);
        }
        /* Non-inclusion: before the first id, between each pair, after the
         * last, and the dropped post. */
        const char *absent[] = {"a", "c", "e", "g", "i", "k", "m", "o", "q", "s", "zz-dropped"};
        for (size_t k = 0; k < sizeof absent / sizeof *absent; k++) {
            char *p = merkle_prove(&t, absent[k]);
            assert_int_equal(verify(p, t.root, &inc), 1);
            assert_false(inc);
            /* Claiming the proof for a present id fails (it is not bracketed). */
            if (n >= 1) {
                char *bad = set_field(p, NULL, "post_id", json_string(idbuf[0]));
                assert_int_equal(verify(bad, t.root, &inc), 0);
                free(bad);
            }
            free(p);
        }
        /* Non-adjacent neighbours: drop the middle of three leaves from a
         * proof built by hand from two valid leaf proofs. */
        if (n >= 3) {
            char *p0 = merkle_prove(&t, idbuf[0]), *p2 = merkle_prove(&t, idbuf[2]);
            json_t *o = json_loads(p0, 0, NULL), *o2 = json_loads(p2, 0, NULL);
            json_object_set_new(o, "kind", json_string("non-inclusion"));
            json_object_set_new(o, "post_id", json_string("c0")); /* between b and d... */
            json_object_set(o, "below", json_object_get(o, "leaf"));
            json_object_set(o, "above", json_object_get(o2, "leaf")); /* ...but d's proof skipped for f's */
            json_object_del(o, "leaf");
            char *bad = json_dumps(o, 0);
            assert_int_equal(verify(bad, t.root, &inc), 0);
            free(bad);
            json_decref(o);
            json_decref(o2);
            free(p0);
            free(p2);
        }
        /* The documented hashing, by hand, for three leaves. */
        if (n == 3) {
            uint8_t l[3][32], ab[32], root[32];
            for (int i = 0; i < 3; i++) {
                uint8_t buf[1 + 4 + 1 + 32], th[32];
                sha256(textbuf[i], strlen(textbuf[i]), th);
                buf[0] = 0x00;
                buf[1] = buf[2] = buf[3] = 0;
                buf[4] = 1;
                buf[5] = (uint8_t)idbuf[i][0];
                memcpy(buf + 6, th, 32);
                sha256(buf, sizeof buf, l[i]);
            }
            uint8_t nb[65];
            nb[0] = 0x01;
            memcpy(nb + 1, l[0], 32);
            memcpy(nb + 33, l[1], 32);
            sha256(nb, 65, ab);
            memcpy(nb + 1, ab, 32);
            memcpy(nb + 33, l[2], 32);
            sha256(nb, 65, root);
            assert_memory_equal(root, t.root, 32);
        }
        merkle_free(&t);
        sqlite3_close(db);
    }
    /* Garbage is refused, not crashed on. */
    uint8_t root[32] = {0};
    bool inc;
    assert_int_equal(merkle_verify("not json", root, &inc), -1);
    chirp_error_clear();
    assert_int_equal(
        verify("{\"kind\": \"inclusion\", \"post_id\": \"x\", \"leaves\": 1, \"leaf\": {\"path\": 3}}", root, &inc), 0);
}

/* ---- sketch ---- */

/* A text of `len` characters that no other call returns, with no two
 * spaces in a row, so that normalising leaves it as it is. */
static void random_text(char *out, size_t len, uint64_t *seed) {
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz      ";
    for (size_t i = 0; i < len; i++) {
        out[i] = letters[rng_next(seed) % 32];
        if (out[i] == ' ' && i > 0 && out[i - 1] == ' ') out[i] = 'q';
    }
    out[0] = 'x';
    out[len - 1] = 'y'; /* no leading or trailing space to trim */
    out[len] = '\0';
}

static void test_sketch_fpr_and_members(void **state) {
    (void)state;
    const int n = 1500;
    char **texts = malloc(n * sizeof *texts), **ids = malloc(n * sizeof *ids);
    uint64_t seed = 7;
    for (int i = 0; i < n; i++) {
        size_t len = i % 3 == 0 ? 20 + i % 29 : 120 + i % 200; /* a third short, like tweets */
        texts[i] = malloc(len + 1);
        random_text(texts[i], len, &seed);
        ids[i] = malloc(16);
        snprintf(ids[i], 16, "p%05d", i);
    }
    const char *dir = test_tmpdir();
    sqlite3 *db = catalog_with(dir, (const char *const *)ids, (const char *const *)texts, n);
    const double rates[2] = {0.01, 0.1};
    for (int r = 0; r < 2; r++) {
        Sketch s;
        assert_int_equal(sketch_build(&s, db, rates[r]), 0);
        assert_int_equal(s.posts, (uint64_t)n);
        double stated = sketch_fpr(&s);
        assert_true(stated <= rates[r] * 1.05);
        /* Members: never "no"; long ones "yes"; changed case and spacing
         * still "yes"; a 100-character piece of a long one at least partly. */
        for (int i = 0; i < n; i++) {
            MemberResult m;
            sketch_query(&s, texts[i], &m);
            assert_int_equal(m.answer, MEMBER_YES);
            if (i % 3 != 0 && i % 10 == 1) {
                char *shout = strdup(texts[i]);
                for (char *c = shout; *c; c++) *c = (char)(*c == ' ' ? ' ' : *c - 32);
                char *spaced = malloc(strlen(shout) + 4);
                sprintf(spaced, "  %s\n", shout);
                sketch_query(&s, spaced, &m);
                assert_int_equal(m.answer, MEMBER_YES);
                free(spaced);
                free(shout);
                char piece[101];
                memcpy(piece, texts[i] + 7, 100);
                piece[100] = '\0';
                sketch_query(&s, piece, &m);
                assert_int_not_equal(m.answer, MEMBER_NO);
            }
        }
        /* False positives: one-window texts never trained on. */
        int trials = 20000, found = 0;
        char q[51];
        for (int t = 0; t < trials; t++) {
            random_text(q, 50, &seed);
            MemberResult m;
            sketch_query(&s, q, &m);
            assert_int_equal(m.windows, 1);
            found += m.answer != MEMBER_NO;
        }
        double measured = (double)found / trials;
        printf("sketch at target %.2f: stated %.4f, measured %.4f (%d of %d)\n", rates[r], stated, measured, found,
               trials);
        /* Within five standard deviations of the stated rate. */
        double sd = sqrt(stated * (1 - stated) / trials);
        assert_true(fabs(measured - stated) < 5 * sd + 1e-4);
        /* Save, load, same answers; a damaged file is refused. */
        char path[600];
        snprintf(path, sizeof path, "%s/membership.sketch", dir);
        assert_int_equal(sketch_save(&s, path), 0);
        Sketch l;
        assert_int_equal(sketch_load(&l, path), 0);
        assert_int_equal(l.m, s.m);
        assert_int_equal(l.k, s.k);
        assert_memory_equal(l.bits, s.bits, s.m / 8);
        MemberResult a, b;
        sketch_query(&s, texts[5], &a);
        sketch_query(&l, texts[5], &b);
        assert_int_equal(a.answer, b.answer);
        sketch_free(&l);
        char cmd[700];
        snprintf(cmd, sizeof cmd, "truncate -s 100 %s", path);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(sketch_load(&l, path), -1);
        chirp_error_clear();
        sketch_free(&s);
    }
    /* The dropped and held-out posts are not in it. */
    Sketch s;
    assert_int_equal(sketch_build(&s, db, 0.01), 0);
    MemberResult m;
    sketch_query(&s, "an opted out post", &m);
    assert_int_equal(m.answer, MEMBER_NO);
    sketch_query(&s, "a held out post", &m);
    assert_int_equal(m.answer, MEMBER_NO);
    sketch_free(&s);
    sqlite3_close(db);
    for (int i = 0; i < n; i++) free(texts[i]), free(ids[i]);
    free(texts);
    free(ids);
}

static void test_normalize(void **state) {
    (void)state;
    size_t chars;
    char *t = sketch_normalize("  Caf\xc3\xa9\t\tOK \xef\xbc\xa1 \n", 17, &chars);
    /* NFKC turns the full-width A into A, case folding lowers it all,
     * white space runs become one space, ends are trimmed. */
    assert_string_equal(t, "caf\xc3\xa9 ok a");
    assert_int_equal(chars, 9);
    free(t);
}

/* ---- Min-K%++ ---- */

static void test_auroc(void **state) {
    (void)state;
    double pos[4] = {0.9, 0.8, 0.7, 0.6}, neg[4] = {0.5, 0.4, 0.3, 0.2};
    assert_float_equal(auroc(pos, 4, neg, 4), 1.0, 1e-12);
    assert_float_equal(auroc(neg, 4, pos, 4), 0.0, 1e-12);
    double same[4] = {0.5, 0.5, 0.5, 0.5};
    assert_float_equal(auroc(same, 4, same, 4), 0.5, 1e-12);
    /* One negative of 100 above every positive: at 1% FPR all positives pass,
     * at 0.5% none of those below it do. */
    double p2[10], n2[100];
    for (int i = 0; i < 10; i++) p2[i] = 0.5 + 0.01 * i;
    for (int i = 0; i < 100; i++) n2[i] = i == 0 ? 2.0 : 0.001 * i;
    assert_float_equal(tpr_at_fpr(p2, 10, n2, 100, 0.01), 1.0, 1e-12);
    assert_float_equal(tpr_at_fpr(p2, 10, n2, 100, 0.005), 0.0, 1e-12);
}

/* On a tiny vocabulary: a token that gets the most probability scores
 * above one that gets the least. */
static void test_mink_score(void **state) {
    (void)state;
    float logits[2 * 4] = {0, 0, 5, 0, 0, 0, 5, 0};
    int32_t likely[2] = {0, 2}, unlikely[2] = {0, 1};
    double hi = mink_pp_score(logits, likely, 2, 4, 1.0), lo = mink_pp_score(logits, unlikely, 2, 4, 1.0);
    assert_true(hi > 0);
    assert_true(lo < 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suffix_counts_match_brute_force),
        cmocka_unit_test(test_suffix_index_refuses_damage),
        cmocka_unit_test(test_merkle_proofs),
        cmocka_unit_test(test_sketch_fpr_and_members),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_auroc),
        cmocka_unit_test(test_mink_score),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
