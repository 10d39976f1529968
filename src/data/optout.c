/* optout.c: entries are kept as sorted 64-bit hashes of "kind:value", so a
 * million opt-outs cost 8 MB and a lookup is a binary search. */
#include "data/optout.h"

#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct OptOut {
    uint64_t *keys;
    size_t count, cap;
    bool sorted;
};

enum { K_POST = 1, K_AUTHOR = 2, K_HANDLE = 3 };

static uint64_t key_of(int kind, const char *value) {
    char tmp[512];
    size_t n = strlen(value);
    if (n >= sizeof tmp) n = sizeof tmp - 1;
    for (size_t i = 0; i < n; i++) tmp[i] = kind == K_HANDLE ? (char)tolower((unsigned char)value[i]) : value[i];
    return hash64(tmp, n, (uint64_t)kind);
}

OptOut *optout_new(void) { return xcalloc(1, sizeof(OptOut)); }

void optout_free(OptOut *o) {
    if (!o) return;
    free(o->keys);
    free(o);
}

static void push(OptOut *o, uint64_t k) {
    if (o->count == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 64;
        o->keys = xrealloc(o->keys, o->cap * sizeof *o->keys);
    }
    o->keys[o->count++] = k;
    o->sorted = false;
}

int optout_add(OptOut *o, const char *entry) {
    if (strncmp(entry, "post:", 5) == 0 && entry[5]) {
        push(o, key_of(K_POST, entry + 5));
    } else if (strncmp(entry, "author:@", 8) == 0 && entry[8]) {
        push(o, key_of(K_HANDLE, entry + 8));
    } else if (strncmp(entry, "author:", 7) == 0 && entry[7]) {
        push(o, key_of(K_AUTHOR, entry + 7));
    } else {
        return chirp_fail("bad opt-out entry '%.80s' (expected post:ID, author:ID or author:@handle)", entry);
    }
    return 0;
}

int optout_load(OptOut *o, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return chirp_fail_errno("%s", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && isspace((unsigned char)line[n - 1])) line[--n] = '\0';
        char *p = line;
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p || *p == '#') continue;
        if (optout_add(o, p) != 0) {
            chirp_error_prefix("%s:%ld: ", path, lineno);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) rc = chirp_fail_errno("%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}

long optout_count(const OptOut *o) { return (long)o->count; }

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool has(const OptOut *o, uint64_t k) {
    if (!o->sorted) {
        OptOut *m = (OptOut *)o; /* sorting lazily is not an observable change */
        qsort(m->keys, m->count, sizeof *m->keys, cmp_u64);
        m->sorted = true;
    }
    return bsearch(&k, o->keys, o->count, sizeof k, cmp_u64) != NULL;
}

bool optout_match(const OptOut *o, const char *post_id, const char *author, const char *handle) {
    if (!o || o->count == 0) return false;
    if (post_id && has(o, key_of(K_POST, post_id))) return true;
    if (author && has(o, key_of(K_AUTHOR, author))) return true;
    /* An author field that is itself a handle ("@name") matches handles too. */
    if (author && author[0] == '@' && has(o, key_of(K_HANDLE, author + 1))) return true;
    if (handle && has(o, key_of(K_HANDLE, handle[0] == '@' ? handle + 1 : handle))) return true;
    return false;
}
