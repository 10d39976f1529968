/* fuzz_jsonl.c: libFuzzer target for the JSON readers: JSON Lines with a
 * dotted text path, and (by the first byte) the streaming top-level array
 * splitter behind the Trump and X archive readers. */
#include "data/clean.h"
#include "data/post.h"
#include "util/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/chirp-fuzz-json-%d.json", (int)getpid());
    uint8_t flags = data[0];
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    static const char *const formats[] = {"jsonl", "trump-archive", "x-archive", "jsonl"};
    ReaderOptions opt = {.max_record = flags & 4 ? 48 : 0, .text_field = flags & 8 ? "a.b" : NULL};
    CleanOptions co = {CLEAN_MASK, CLEAN_DROP};
    Buf out = {0}, scratch = {0};
    Reader *r = reader_open(path, formats[flags & 3], &opt);
    if (r) {
        Post p;
        while (reader_next(r, &p) == 1) {
            if (p.error || !p.text) continue;
            clean_text(p.text, p.text_len, &co, &out, &scratch);
        }
        reader_free(r);
    }
    buf_free(&out);
    buf_free(&scratch);
    return 0;
}
