/* fuzz_safetensors.c: the safetensors reader must reject any malformed
 * input with an error, never read out of bounds or crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *buf = malloc(size + 1); /* +1: file_read_all NUL-terminates */
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    StFile f;
    if (st_parse(&f, buf, size, "fuzz") == 0) {
        for (int i = 0; i < f.count; i++) {
            const StTensor *t = &f.tensors[i];
            volatile unsigned char sink = 0;
            for (size_t b = 0; b < t->nbytes; b += 97) sink ^= t->data[b]; /* every byte is in the buffer */
            (void)sink;
        }
        st_close(&f);
    }
    return 0;
}
