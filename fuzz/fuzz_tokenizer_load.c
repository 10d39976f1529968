/* fuzz_tokenizer_load.c: libFuzzer target for the tokenizer.json loader.
 *
 * Any bytes must either load or fail with an error message; a tokenizer
 * that loads must encode and decode a fixed text back to itself. */
#include "text/tokenizer.h"
#include "text/tokenizer_json.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Tokenizer *t = tokenizer_load_json_buffer((const char *)data, size, "fuzz.json");
    if (!t) {
        if (chirp_error()[0] == '\0') abort(); /* a failure must say why */
        return 0;
    }
    static const char text[] = "Hello world, it's <|endoftext|> caf\xc3\xa9 \xff!";
    size_t len = sizeof text - 1;
    int32_t ids[sizeof text];
    for (int special = 0; special < 2; special++) {
        long n = tokenizer_encode(t, text, len, special, ids, len + 1);
        if (n < 0 || (size_t)n > len) abort();
        char back[sizeof text];
        if (tokenizer_decode(t, ids, (size_t)n, back, len) != (long)len || memcmp(back, text, len) != 0) abort();
    }
    tokenizer_free(t);
    return 0;
}
