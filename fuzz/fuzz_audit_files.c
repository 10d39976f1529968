/* fuzz_audit_files.c: what an auditor outside the platform feeds chirp: a
 * model's membership.sketch (first byte 0) and a Merkle proof (first byte
 * 1). Both must be refused with an error when malformed, never read out of
 * bounds or crash; a sketch that loads must answer queries. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/merkle.h"
#include "audit/sketch.h"
#include "util/error.h"

static void fuzz_sketch(const uint8_t *data, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/chirp-fuzz-sketch-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, size, f);
    fclose(f);
    Sketch s;
    if (sketch_load(&s, path) == 0) {
        MemberResult r;
        sketch_query(&s, "a short post", &r);
        sketch_query(&s, "a longer text of more than fifty characters, so that windows are looked up", &r);
        sketch_free(&s);
    }
    chirp_error_clear();
    unlink(path);
}

static void fuzz_proof(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return;
    memcpy(text, data, size);
    text[size] = '\0';
    uint8_t root[32];
    memset(root, 0x5a, sizeof root);
    bool inclusion;
    (void)merkle_verify(text, root, &inclusion);
    chirp_error_clear();
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] == 0) fuzz_sketch(data + 1, size - 1);
    else fuzz_proof(data + 1, size - 1);
    return 0;
}
