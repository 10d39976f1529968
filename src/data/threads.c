/* threads.c: see threads.h. Only ids and parent links of kept posts are
 * held in memory; texts are fetched from the catalog as chains are written. */
#include "data/threads.h"

#include "data/catalog.h"
#include "util/error.h"
#include "util/hash.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct Node {
    uint64_t id;     /* hash of post_id */
    uint64_t parent; /* hash of reply_to, 0 if none */
    long long row;
} Node;

static int cmp_node(const void *a, const void *b) {
    uint64_t x = ((const Node *)a)->id, y = ((const Node *)b)->id;
    return x < y ? -1 : x > y;
}

static long find(const Node *nodes, long n, uint64_t id) {
    long lo = 0, hi = n - 1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (nodes[mid].id == id) return mid;
        if (nodes[mid].id < id) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

#define MAX_DEPTH 10000

long threads_write(sqlite3 *db, FILE *out) {
    sqlite3_stmt *st =
        catalog_prepare(db, "SELECT id, post_id, reply_to FROM posts WHERE decision = 'kept' AND post_id IS NOT NULL");
    if (!st) return -1;
    Node *nodes = NULL;
    long n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            nodes = xrealloc(nodes, (size_t)cap * sizeof *nodes);
        }
        const char *id = (const char *)sqlite3_column_text(st, 1);
        const char *parent = (const char *)sqlite3_column_text(st, 2);
        nodes[n].row = sqlite3_column_int64(st, 0);
        nodes[n].id = hash64(id, strlen(id), 7) | 1;
        nodes[n].parent = parent && *parent ? hash64(parent, strlen(parent), 7) | 1 : 0;
        n++;
    }
    sqlite3_finalize(st);
    if (n > 0) qsort(nodes, (size_t)n, sizeof *nodes, cmp_node);

    long *parent = xmalloc(sizeof(long) * (size_t)(n ? n : 1));
    char *has_child = xcalloc((size_t)(n ? n : 1), 1);
    for (long i = 0; i < n; i++) {
        parent[i] = nodes[i].parent ? find(nodes, n, nodes[i].parent) : -1;
        if (parent[i] == i) parent[i] = -1;
        if (parent[i] >= 0) has_child[parent[i]] = 1;
    }

    sqlite3_stmt *text = catalog_prepare(db, "SELECT text FROM posts WHERE id = ?");
    long chains = 0;
    long *chain = xmalloc(sizeof(long) * MAX_DEPTH);
    for (long i = 0; text && i < n; i++) {
        if (has_child[i] || parent[i] < 0) continue;
        int len = 0;
        for (long k = i; k >= 0 && len < MAX_DEPTH; k = parent[k]) chain[len++] = k;
        if (len == MAX_DEPTH) continue; /* a reply cycle: no root */
        json_t *msgs = json_array();
        for (int j = len - 1; j >= 0; j--) {
            sqlite3_bind_int64(text, 1, nodes[chain[j]].row);
            const char *t = "";
            if (sqlite3_step(text) == SQLITE_ROW && sqlite3_column_text(text, 0))
                t = (const char *)sqlite3_column_text(text, 0);
            json_array_append_new(
                msgs, json_pack("{s:s, s:s}", "role", (len - 1 - j) % 2 ? "assistant" : "user", "content", t));
            sqlite3_reset(text);
        }
        json_t *obj = json_pack("{s:o}", "messages", msgs);
        char *line = json_dumps(obj, JSON_COMPACT);
        fputs(line, out);
        fputc('\n', out);
        free(line);
        json_decref(obj);
        chains++;
    }
    sqlite3_finalize(text);
    free(chain);
    free(parent);
    free(has_child);
    free(nodes);
    if (!text) return -1;
    if (ferror(out)) return chirp_fail_errno("conversations: write error");
    return chains;
}
