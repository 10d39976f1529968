/* fuzz_csv.c: libFuzzer target for the CSV reader and the cleaner.
 * The first byte picks the record size limit and cleaning modes; the rest
 * is the file. Anything may be malformed; nothing may crash or leak. */
#include "data/clean.h"
#include "data/post.h"
#include "util/error.h"
#include "util/file.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    static char path[64];
    if (!path[0]) snprintf(path, sizeof path, "/tmp/chirp-fuzz-csv-%d.csv", (int)getpid());
    uint8_t flags = data[0];
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    ReaderOptions opt = {.max_record = flags & 1 ? 32 : 0, .reply_to_field = flags & 2 ? "b" : NULL};
    CleanOptions co = {(CleanMode)((flags >> 2) % 3), (CleanMode)((flags >> 4) % 3)};
    Buf out = {0}, scratch = {0};
    Reader *r = reader_open(path, "csv", &opt);
    if (r) {
        Post p;
        while (reader_next(r, &p) == 1) {
            if (p.error || !p.text) continue;
            if (clean_text(p.text, p.text_len, &co, &out, &scratch) == 0 && out.data)
                (void)utf8_length(out.data, out.len);
        }
        reader_free(r);
    }
    buf_free(&out);
    buf_free(&scratch);
    return 0;
}
