/* gpt2_files.h: GPT-2's original vocabulary files (encoder.json + vocab.bpe). */
#ifndef CHIRP_TEXT_GPT2_FILES_H
#define CHIRP_TEXT_GPT2_FILES_H

#include "text/tokenizer.h"

/* encoder.json maps byte-level strings to ids; vocab.bpe lists merges in
 * rank order after a "#version" line. "<|endoftext|>" becomes special. */
Tokenizer *tokenizer_load_gpt2(const char *encoder_json, const char *vocab_bpe);

#endif
