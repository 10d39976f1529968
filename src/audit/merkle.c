/* merkle.c: the commitment to the trained posts, and its proofs (see
 * merkle.h for the exact hashing). */
#include "audit/merkle.h"

#include "data/catalog.h"
#include "util/error.h"
#include "util/sha256.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void merkle_hex(const uint8_t h[32], char out[65]) {
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

int merkle_unhex(const char *hex, uint8_t out[32]) {
    if (!hex || strlen(hex) != 64) return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

void merkle_leaf_hash(const char *id, const uint8_t text_sha256[32], uint8_t out[32]) {
    size_t len = strlen(id);
    uint8_t pre[5] = {0x00, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
    Sha256 c;
    sha256_init(&c);
    sha256_update(&c, pre, 5);
    sha256_update(&c, id, len);
    sha256_update(&c, text_sha256, 32);
    sha256_final(&c, out);
}

void merkle_node_hash(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]) {
    uint8_t one = 0x01;
    Sha256 c;
    sha256_init(&c);
    sha256_update(&c, &one, 1);
    sha256_update(&c, left, 32);
    sha256_update(&c, right, 32);
    sha256_final(&c, out);
}

static int cmp_leaf(const void *a, const void *b) {
    const MerkleLeaf *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : memcmp(x->text_sha256, y->text_sha256, 32);
}

/* All levels from the leaf hashes up; level k has ceil(n / 2^k) nodes.
 * Returns the levels (levels[0] = leaf hashes) and their count. */
static uint8_t (**build_levels(const MerkleTree *t, int *nlevels, size_t **sizes))[32] {
    int cap = 66;
    uint8_t(**lv)[32] = xcalloc((size_t)cap, sizeof *lv);
    *sizes = xcalloc((size_t)cap, sizeof(size_t));
    lv[0] = xmalloc((t->n + 1) * 32);
    for (size_t i = 0; i < t->n; i++) merkle_leaf_hash(t->leaves[i].id, t->leaves[i].text_sha256, lv[0][i]);
    (*sizes)[0] = t->n;
    int k = 0;
    while ((*sizes)[k] > 1) {
        size_t m = (*sizes)[k], up = (m + 1) / 2;
        lv[k + 1] = xmalloc(up * 32);
        for (size_t i = 0; i < m / 2; i++) merkle_node_hash(lv[k][2 * i], lv[k][2 * i + 1], lv[k + 1][i]);
        if (m % 2) memcpy(lv[k + 1][up - 1], lv[k][m - 1], 32); /* an odd node moves up as is */
        (*sizes)[k + 1] = up;
        k++;
    }
    *nlevels = k + 1;
    return lv;
}

static void free_levels(uint8_t (**lv)[32], int n, size_t *sizes) {
    for (int i = 0; i < n; i++) free(lv[i]);
    free(lv);
    free(sizes);
}

int merkle_build(MerkleTree *t, sqlite3 *db) {
    memset(t, 0, sizeof *t);
    sqlite3_stmt *st = catalog_prepare(db, "SELECT id, post_id, text FROM posts WHERE decision = 'kept' AND"
                                           " split = 'train' AND shard IS NOT NULL");
    if (!st) return -1;
    size_t cap = 1024;
    t->leaves = xmalloc(cap * sizeof(MerkleLeaf));
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (t->n == cap) t->leaves = xrealloc(t->leaves, (cap *= 2) * sizeof(MerkleLeaf));
        MerkleLeaf *l = &t->leaves[t->n++];
        const char *pid = (const char *)sqlite3_column_text(st, 1);
        char rowid[40];
        snprintf(rowid, sizeof rowid, "row:%lld", sqlite3_column_int64(st, 0));
        l->id = xstrdup(pid && *pid ? pid : rowid);
        Sha256 c;
        sha256_init(&c);
        sha256_update(&c, sqlite3_column_text(st, 2), (size_t)sqlite3_column_bytes(st, 2));
        sha256_final(&c, l->text_sha256);
    }
    sqlite3_finalize(st);
    qsort(t->leaves, t->n, sizeof(MerkleLeaf), cmp_leaf);
    if (t->n == 0) {
        uint8_t two = 0x02;
        Sha256 c;
        sha256_init(&c);
        sha256_update(&c, &two, 1);
        sha256_final(&c, t->root);
        return 0;
    }
    int nl;
    size_t *sizes;
    uint8_t(**lv)[32] = build_levels(t, &nl, &sizes);
    memcpy(t->root, lv[nl - 1][0], 32);
    free_levels(lv, nl, sizes);
    return 0;
}

void merkle_free(MerkleTree *t) {
    for (size_t i = 0; i < t->n; i++) free(t->leaves[i].id);
    free(t->leaves);
    memset(t, 0, sizeof *t);
}

int merkle_path(const MerkleTree *t, size_t i, uint8_t path[][32]) {
    int nl, len = 0;
    size_t *sizes;
    uint8_t(**lv)[32] = build_levels(t, &nl, &sizes);
    for (int k = 0; k + 1 < nl; k++) {
        size_t sib = i ^ 1;
        if (sib < sizes[k]) memcpy(path[len++], lv[k][sib], 32); /* none when i moves up alone */
        i /= 2;
    }
    free_levels(lv, nl, sizes);
    return len;
}

void merkle_root_from_path(const uint8_t leaf[32], size_t i, size_t n, const uint8_t (*path)[32], int len,
                           uint8_t root[32]) {
    uint8_t h[32];
    memcpy(h, leaf, 32);
    int used = 0;
    for (size_t m = n; m > 1; m = (m + 1) / 2) {
        size_t sib = i ^ 1;
        if (sib < m) {
            if (used >= len) break;
            if (i & 1) merkle_node_hash(path[used], h, h);
            else merkle_node_hash(h, path[used], h);
            used++;
        }
        i /= 2;
    }
    if (used != len) memset(h, 0, 32); /* a path of the wrong length proves nothing */
    memcpy(root, h, 32);
}

size_t merkle_find(const MerkleTree *t, const char *id, bool *found) {
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(t->leaves[mid].id, id) < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = lo < t->n && strcmp(t->leaves[lo].id, id) == 0;
    return lo;
}

static json_t *leaf_proof(const MerkleTree *t, size_t i) {
    uint8_t path[66][32];
    int len = merkle_path(t, i, path);
    json_t *p = json_array();
    char hex[65];
    for (int k = 0; k < len; k++) {
        merkle_hex(path[k], hex);
        json_array_append_new(p, json_string(hex));
    }
    merkle_hex(t->leaves[i].text_sha256, hex);
    return json_pack("{s:s, s:s, s:I, s:o}", "post_id", t->leaves[i].id, "text_sha256", hex, "index", (json_int_t)i,
                     "path", p);
}

char *merkle_prove(const MerkleTree *t, const char *id) {
    bool found;
    size_t i = merkle_find(t, id, &found);
    char root[65];
    merkle_hex(t->root, root);
    json_t *o = json_pack("{s:s, s:i, s:s, s:I, s:s}", "format", "chirp-merkle-proof", "version", 1, "root", root,
                          "leaves", (json_int_t)t->n, "post_id", id);
    if (found) {
        json_object_set_new(o, "kind", json_string("inclusion"));
        json_object_set_new(o, "leaf", leaf_proof(t, i));
    } else {
        json_object_set_new(o, "kind", json_string("non-inclusion"));
        if (i > 0) json_object_set_new(o, "below", leaf_proof(t, i - 1));
        if (i < t->n) json_object_set_new(o, "above", leaf_proof(t, i));
    }
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

/* Checks one leaf proof; fills its id and index. */
static int check_leaf(json_t *lp, const uint8_t root[32], size_t n, const char **id, size_t *index) {
    const char *pid = json_string_value(json_object_get(lp, "post_id"));
    const char *th = json_string_value(json_object_get(lp, "text_sha256"));
    json_t *idx = json_object_get(lp, "index"), *path = json_object_get(lp, "path");
    uint8_t text[32], leaf[32], got[32];
    if (!pid || merkle_unhex(th, text) != 0 || !json_is_integer(idx) || !json_is_array(path) ||
        json_integer_value(idx) < 0 || (size_t)json_integer_value(idx) >= n || json_array_size(path) > 64)
        return chirp_fail("a leaf of the proof is malformed");
    uint8_t(*p)[32] = xmalloc((json_array_size(path) + 1) * 32);
    for (size_t k = 0; k < json_array_size(path); k++) {
        if (merkle_unhex(json_string_value(json_array_get(path, k)), p[k]) != 0) {
            free(p);
            return chirp_fail("a path hash of the proof is malformed");
        }
    }
    merkle_leaf_hash(pid, text, leaf);
    merkle_root_from_path(leaf, (size_t)json_integer_value(idx), n, (const uint8_t(*)[32])p, (int)json_array_size(path),
                          got);
    free(p);
    if (memcmp(got, root, 32) != 0) return chirp_fail("leaf %s does not hash up to the model's root", pid);
    *id = pid;
    *index = (size_t)json_integer_value(idx);
    return 0;
}

int merkle_verify(const char *proof_json, const uint8_t root[32], bool *inclusion) {
    json_error_t je;
    json_t *o = json_loads(proof_json, 0, &je);
    if (!o) return chirp_fail("the proof is not JSON: %s", je.text);
    int rc = 1;
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const char *id = json_string_value(json_object_get(o, "post_id"));
    json_t *nl = json_object_get(o, "leaves");
    if (!kind || !id || !json_is_integer(nl)) {
        json_decref(o);
        return chirp_fail("the proof lacks kind, post_id or leaves");
    }
    size_t n = (size_t)json_integer_value(nl);
    *inclusion = strcmp(kind, "inclusion") == 0;
    if (*inclusion) {
        const char *lid;
        size_t i;
        if (check_leaf(json_object_get(o, "leaf"), root, n, &lid, &i) != 0) rc = 0;
        else if (strcmp(lid, id) != 0) rc = chirp_fail("the proven leaf is post %s, not %s", lid, id) + 1;
    } else if (strcmp(kind, "non-inclusion") == 0) {
        json_t *below = json_object_get(o, "below"), *above = json_object_get(o, "above");
        const char *bid = NULL, *aid = NULL;
        size_t bi = 0, ai = 0;
        if ((!below && !above) || (below && check_leaf(below, root, n, &bid, &bi) != 0) ||
            (above && check_leaf(above, root, n, &aid, &ai) != 0)) {
            rc = 0;
            if (!below && !above) chirp_fail("a non-inclusion proof needs the neighbouring leaves");
        } else if ((below && strcmp(bid, id) >= 0) || (above && strcmp(aid, id) <= 0)) {
            rc = chirp_fail("the neighbours do not bracket %s", id) + 1;
        } else if (below && above && ai != bi + 1) {
            rc = chirp_fail("the neighbours are not adjacent leaves (%zu and %zu)", bi, ai) + 1;
        } else if ((!below && ai != 0) || (!above && bi != n - 1)) {
            rc = chirp_fail("a one-sided proof must use the first or the last leaf") + 1;
        }
    } else {
        rc = chirp_fail("unknown proof kind '%s'", kind) + 1;
    }
    json_decref(o);
    return rc;
}
