/* fuzz_llmc.c: the llm.c model file reader must reject any malformed
 * header or size with an error, never read out of bounds, overflow a size
 * or allocate what the file cannot back. */
#include <stdint.h>
#include <stdlib.h>

#include "model/llmc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Gpt2Model m;
    if (llmc_parse(&m, data, size, "fuzz") == 0) gpt2_free(&m);
    return 0;
}
