/* cmd_audit_sketch.c: `chirp audit sketch | member | prove | verify`: what
 * ships with a model about its training data, and the questions anyone
 * holding the model can answer with it. */
#include "audit/merkle.h"
#include "audit/sketch.h"
#include "cli/args.h"
#include "cli/audit_cmds.h"
#include "data/catalog.h"
#include "util/error.h"
#include "util/file.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* model_dir/chirp.json's root (32 bytes). */
static int model_root(const char *model, uint8_t root[32]) {
    char *p = path_join(model, "chirp.json");
    json_t *o = json_load_file(p, 0, NULL);
    const char *hex = json_string_value(json_object_get(json_object_get(o, "commitment"), "merkle_root"));
    int rc = hex && merkle_unhex(hex, root) == 0 ? 0 : chirp_fail("%s has no Merkle root (run chirp audit sketch)", p);
    json_decref(o);
    free(p);
    return rc;
}

/* Adds key = value to model_dir/chirp.json (created if missing), atomically. */
static int manifest_set(const char *model, const char *key, json_t *value) {
    char *p = path_join(model, "chirp.json");
    json_t *o = path_exists(p) ? json_load_file(p, 0, NULL) : json_object();
    int rc = 0;
    if (!json_is_object(o)) {
        rc = chirp_fail("%s: not a JSON object", p);
    } else {
        json_object_set_new(o, key, value);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12));
        size_t n = strlen(s);
        s = xrealloc(s, n + 2);
        s[n] = '\n';
        rc = file_write_atomic(p, s, n + 1);
        free(s);
        value = NULL;
    }
    json_decref(value);
    json_decref(o);
    free(p);
    return rc;
}

int audit_cmd_sketch(int argc, char **argv) {
    const char *dataset = NULL, *model = NULL;
    double fpr = 1e-4;
    ArgSpec specs[] = {{"dataset", ARG_STR, &dataset, 0, -1},
                       {"model", ARG_STR, &model, 0, -1},
                       {"fpr", ARG_DOUBLE, &fpr, 1e-12, 0.5}};
    int rc = args_parse("audit sketch", argc, argv, 1, specs, 3, NULL);
    if (rc != EXIT_OK) return rc;
    if (!dataset) return args_missing("audit sketch", "dataset");
    if (!model) return args_missing("audit sketch", "model");
    if (!path_is_dir(model)) {
        chirp_fail("%s: not a model directory", model);
        return cli_fail();
    }
    sqlite3 *db = catalog_open(dataset, false);
    if (!db) return cli_fail();
    Sketch s;
    MerkleTree t;
    long long text_bytes = catalog_count(db, "SELECT coalesce(sum(length(CAST(text AS BLOB))), 0) FROM posts WHERE "
                                             "decision = 'kept' AND split = 'train' AND shard IS NOT NULL");
    if (sketch_build(&s, db, fpr) != 0 || merkle_build(&t, db) != 0) {
        sqlite3_close(db);
        return cli_fail();
    }
    sqlite3_close(db);
    char *path = path_join(model, "membership.sketch");
    rc = sketch_save(&s, path);
    struct stat st;
    long long bytes = rc == 0 && stat(path, &st) == 0 ? (long long)st.st_size : 0;
    char root[65];
    merkle_hex(t.root, root);
    if (rc == 0)
        rc = manifest_set(model, "membership_sketch",
                          json_pack("{s:s, s:I, s:I, s:I, s:i, s:f, s:f, s:I, s:s}", "file", "membership.sketch",
                                    "posts", (json_int_t)s.posts, "windows", (json_int_t)s.windows, "bits",
                                    (json_int_t)s.m, "hashes", (int)s.k, "target_fpr", s.target_fpr, "fpr",
                                    sketch_fpr(&s), "bytes", (json_int_t)bytes, "normalization",
                                    "NFKC, case-folded, white space runs as one space, trimmed; windows of 50 code "
                                    "points at stride 50"));
    if (rc == 0)
        rc = manifest_set(model, "commitment",
                          json_pack("{s:s, s:s, s:I, s:s}", "scheme", "chirp-merkle-1 (docs/audit.md)", "merkle_root",
                                    root, "leaves", (json_int_t)t.n, "leaf",
                                    "sha256(0x00 || u32be(len(id)) || id || sha256(cleaned text))"));
    if (rc == 0) {
        printf("sketch: %s: %llu posts, %llu windows, %llu bits x %u hashes, false-positive rate %.2g per window "
               "(asked %.2g)\n",
               path, (unsigned long long)s.posts, (unsigned long long)s.windows, (unsigned long long)s.m, s.k,
               sketch_fpr(&s), fpr);
        printf("  %lld bytes, %.1f%% of the %lld bytes of trained text\n", bytes,
               text_bytes > 0 ? 100.0 * (double)bytes / (double)text_bytes : 0.0, text_bytes);
        printf("commitment: Merkle root %s over %zu trained posts, in %s/chirp.json\n", root, t.n, model);
    }
    free(path);
    sketch_free(&s);
    merkle_free(&t);
    return rc == 0 ? EXIT_OK : cli_fail();
}

int audit_cmd_member(int argc, char **argv) {
    const char *model = NULL, *text = NULL;
    bool as_json = false;
    ArgSpec specs[] = {
        {"model", ARG_STR, &model, 0, -1}, {"text", ARG_STR, &text, 0, -1}, {"json", ARG_BOOL, &as_json, 0, -1}};
    int rc = args_parse("audit member", argc, argv, 1, specs, 3, NULL);
    if (rc != EXIT_OK) return rc;
    if (!model) return args_missing("audit member", "model");
    if (!text) return args_missing("audit member", "text");
    char *path = path_join(model, "membership.sketch");
    Sketch s;
    rc = sketch_load(&s, path);
    free(path);
    if (rc != 0) return cli_fail();
    MemberResult r;
    sketch_query(&s, text, &r);
    const char *answer = r.answer == MEMBER_YES ? "yes" : r.answer == MEMBER_PARTLY ? "partly" : "no";
    if (as_json) {
        json_t *o = json_pack("{s:s, s:b, s:i, s:i, s:f, s:f}", "answer", answer, "exact_post", r.exact, "windows",
                              r.windows, "found", r.found, "fpr_window", r.fpr_window, "fpr_answer", r.fpr_answer);
        char *j = json_dumps(o, JSON_COMPACT);
        printf("%s\n", j);
        free(j);
        json_decref(o);
    } else if (r.exact) {
        printf("yes: the text is a whole trained post (chance of a false match %.2g)\n", r.fpr_answer);
    } else if (r.answer == MEMBER_YES) {
        printf("yes: all %d of its 50-character windows are in the training data (false-positive chance %.2g)\n",
               r.windows, r.fpr_answer);
    } else if (r.answer == MEMBER_PARTLY) {
        printf("partly: %d of %d windows of 50 characters are in the training data (false-positive chance %.2g "
               "per window, %.2g for this answer)\n",
               r.found, r.windows, r.fpr_window, r.fpr_answer);
    } else {
        printf("no: %s (a trained post is never answered no)\n",
               r.windows == 0 ? "not a trained post, and shorter than one 50-character window"
                              : "not a trained post, and none of its windows are in the training data");
    }
    sketch_free(&s);
    return EXIT_OK;
}

int audit_cmd_prove(int argc, char **argv) {
    const char *dataset = NULL, *model = NULL, *post = NULL, *out = NULL;
    ArgSpec specs[] = {{"dataset", ARG_STR, &dataset, 0, -1},
                       {"model", ARG_STR, &model, 0, -1},
                       {"post-id", ARG_STR, &post, 0, -1},
                       {"out", ARG_STR, &out, 0, -1}};
    int rc = args_parse("audit prove", argc, argv, 1, specs, 4, NULL);
    if (rc != EXIT_OK) return rc;
    if (!dataset) return args_missing("audit prove", "dataset");
    if (!post) return args_missing("audit prove", "post-id");
    sqlite3 *db = catalog_open(dataset, false);
    if (!db) return cli_fail();
    MerkleTree t;
    rc = merkle_build(&t, db);
    sqlite3_close(db);
    if (rc != 0) return cli_fail();
    uint8_t root[32];
    if (model && model_root(model, root) == 0 && memcmp(root, t.root, 32) != 0) {
        merkle_free(&t);
        chirp_fail("the dataset's trained posts are not what %s committed to (the roots differ): wrong dataset, "
                   "or it changed after training",
                   model);
        return cli_fail();
    }
    char *proof = merkle_prove(&t, post);
    bool found;
    merkle_find(&t, post, &found);
    merkle_free(&t);
    if (out) rc = file_write_atomic(out, proof, strlen(proof));
    else printf("%s\n", proof);
    fprintf(stderr, "chirp audit prove: post %s %s; %s\n", post,
            found ? "is a trained post: inclusion proof" : "is not a trained post: non-inclusion proof",
            out ? out : "proof on stdout");
    free(proof);
    return rc == 0 ? EXIT_OK : cli_fail();
}

int audit_cmd_verify(int argc, char **argv) {
    const char *model = NULL, *proof_path = NULL, *root_hex = NULL;
    ArgSpec specs[] = {
        {"model", ARG_STR, &model, 0, -1}, {"proof", ARG_STR, &proof_path, 0, -1}, {"root", ARG_STR, &root_hex, 0, -1}};
    int rc = args_parse("audit verify", argc, argv, 1, specs, 3, NULL);
    if (rc != EXIT_OK) return rc;
    if (!proof_path) return args_missing("audit verify", "proof");
    if (!model && !root_hex) return args_usage_error("audit verify", "give --model DIR (its root) or --root HEX");
    uint8_t root[32];
    if (root_hex ? merkle_unhex(root_hex, root) != 0 && chirp_fail("--root: not 64 hex digits") != 0
                 : model_root(model, root) != 0)
        return cli_fail();
    char *proof = file_read_all(proof_path, NULL);
    if (!proof) return cli_fail();
    bool inclusion = false;
    int ok = merkle_verify(proof, root, &inclusion);
    free(proof);
    if (ok < 0) return cli_fail();
    if (!ok) {
        fprintf(stderr, "chirp audit verify: INVALID: %s\n", chirp_error());
        return EXIT_FAIL;
    }
    printf("valid: %s\n", inclusion ? "the post is one of the posts the model was trained on"
                                    : "the post is not among the posts the model was trained on");
    return EXIT_OK;
}
