/* tokenizer_json.h: Hugging Face tokenizer.json (byte-level BPE) I/O. */
#ifndef CHIRP_TEXT_TOKENIZER_JSON_H
#define CHIRP_TEXT_TOKENIZER_JSON_H

#include "text/tokenizer.h"

#include <stddef.h>

Tokenizer *tokenizer_load_json(const char *path);
/* Parses a tokenizer.json held in memory; name is used in messages. */
Tokenizer *tokenizer_load_json_buffer(const char *data, size_t len, const char *name);
/* The tokenizer.json text (malloc'd, NUL-terminated), or NULL on failure. */
char *tokenizer_to_json(const Tokenizer *tok);

#endif
