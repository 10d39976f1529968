/* tokenizer.h: chirp's byte-level BPE tokenizer (GPT-2 compatible).
 *
 * One Tokenizer is loaded once and then shared read-only: every function
 * that takes a `const Tokenizer *` is safe to call from many threads at
 * once. Token ids are int32_t. */
#ifndef CHIRP_TEXT_TOKENIZER_H
#define CHIRP_TEXT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct Tokenizer Tokenizer;

/* Loads a tokenizer from: a tokenizer.json file (Hugging Face format), or a
 * directory holding tokenizer.json, or a directory holding GPT-2's
 * encoder.json + vocab.bpe. Returns NULL with the error set on failure. */
Tokenizer *tokenizer_load(const char *path);
void tokenizer_free(Tokenizer *tok);

/* Writes tokenizer.json (Hugging Face format) atomically. */
int tokenizer_save(const Tokenizer *tok, const char *json_path);

/* Number of ids (byte tokens + merges + special tokens). */
int tokenizer_vocab_size(const Tokenizer *tok);

/* Encodes len bytes of text. Writes at most cap ids to ids[] and returns the
 * total number of ids the text needs (which may exceed cap: call again with
 * a bigger buffer). len ids are always enough. With allow_special, special
 * token strings (e.g. "<|endoftext|>") map to their ids; otherwise they are
 * ordinary text. Returns -1 with the error set on failure. */
long tokenizer_encode(const Tokenizer *tok, const char *text, size_t len, bool allow_special, int32_t *ids, size_t cap);

/* Decodes ids into out (at most cap bytes, not NUL-terminated) and returns
 * the number of bytes the text needs. Returns -1 on an id out of range. */
long tokenizer_decode(const Tokenizer *tok, const int32_t *ids, size_t n, char *out, size_t cap);

/* The bytes of one token (not NUL-terminated), or NULL for a bad id. */
const char *tokenizer_token_bytes(const Tokenizer *tok, int32_t id, size_t *len);

/* The id of the token whose bytes are bytes[0..len), or -1 if there is none
 * (the reverse of tokenizer_token_bytes). */
int32_t tokenizer_token_id(const Tokenizer *tok, const char *bytes, size_t len);

/* The id of a special token such as "<|endoftext|>", or -1 if absent. */
int32_t tokenizer_special_id(const Tokenizer *tok, const char *name);

/* The id of "<|endoftext|>" (-1 if absent). */
int32_t tokenizer_eot_id(const Tokenizer *tok);

/* The vocabulary and merges as tokenizer.json spells them, for writers of
 * other formats (GGUF): a token's byte-level string (an added token's text
 * as written), malloc'd, or NULL for an id the vocabulary lacks; a merge
 * as "left right" in byte-level strings, by rank. */
typedef enum { TOKEN_MISSING = -1, TOKEN_NORMAL = 0, TOKEN_SPECIAL = 1, TOKEN_ADDED = 2 } TokenKind;
char *tokenizer_vocab_entry(const Tokenizer *tok, int32_t id, TokenKind *kind);
int tokenizer_merge_count(const Tokenizer *tok);
char *tokenizer_merge_entry(const Tokenizer *tok, int rank);

#endif
