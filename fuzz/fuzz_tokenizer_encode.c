/* fuzz_tokenizer_encode.c: libFuzzer target for the encoder.
 *
 * Any byte string must encode without a crash, need at most one id per
 * byte, give the same count when the buffer is too small, and decode back
 * to exactly the input. Two tokenizers are used: one trained in-process on
 * a fixed text (always available), and GPT-2 from $CHIRP_TESTDATA when it
 * is set. The first input byte picks the tokenizer and allow_special. */
#include "text/bpe_train.h"
#include "text/tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Tokenizer *trained, *gpt2;

static const char TRAIN_TEXT[] =
    "The quick brown fox jumps over the lazy dog. It's 2024 and we're posting!\n"
    "  Don't stop   believing... caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
    "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\n"
    "<|endoftext|>@user #tag https://t.co/abc $TSLA 1234567890 \xd9\xa1\xd9\xa2 \t\r\n\n"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbb !!!!!!!!!!!!!! <|im_start|>user hi<|im_end|>\n";

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    BpeTrainer *tr = bpe_trainer_new();
    for (int i = 0; i < 3; i++) bpe_trainer_add_text(tr, TRAIN_TEXT, sizeof TRAIN_TEXT - 1);
    trained = bpe_trainer_train(tr, 400, 1, false);
    bpe_trainer_free(tr);
    if (!trained) abort();
    const char *data = getenv("CHIRP_TESTDATA");
    if (data) {
        char path[4096];
        snprintf(path, sizeof path, "%s/gpt2-tokenizer", data);
        gpt2 = tokenizer_load(path); /* NULL is fine: the trained one is used */
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const Tokenizer *tok = (data[0] & 2) && gpt2 ? gpt2 : trained;
    bool special = data[0] & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    int32_t *ids = malloc(sizeof(int32_t) * (len + 1));
    long n = tokenizer_encode(tok, text, len, special, ids, len + 1);
    if (n < 0 || (size_t)n > len) abort();
    int32_t one[1];
    if (tokenizer_encode(tok, text, len, special, one, n > 0 ? 1 : 0) != n) abort();
    if (n > 0 && one[0] != ids[0]) abort();
    char *back = malloc(len + 1);
    long m = tokenizer_decode(tok, ids, (size_t)n, back, len + 1);
    if (m != (long)len || memcmp(back, text, len) != 0) abort();
    free(back);
    free(ids);
    return 0;
}
