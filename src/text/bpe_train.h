/* bpe_train.h: learns a byte-level BPE tokenizer from text.
 *
 * Text is split with GPT-2's pre-tokenizer and only the distinct pieces and
 * their counts are kept, so memory grows with the vocabulary of the text,
 * not its size. Merges are then learned by pair frequency:
 *   - the pair with the highest count (summed over pieces x piece counts) is
 *     merged next;
 *   - ties go to the pair whose left token id is smaller, then whose right
 *     token id is smaller (ids: bytes are 0..255 by byte value, then merged
 *     tokens in the order they were created), so training is deterministic;
 *   - pairs seen fewer than min_frequency times are never merged.
 * Special tokens are cut out of the text before pre-tokenization (no merge
 * is learned across or inside them) and get the ids after the merges. */
#ifndef CHIRP_TEXT_BPE_TRAIN_H
#define CHIRP_TEXT_BPE_TRAIN_H

#include "text/tokenizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* chirp's special tokens, in id order after the merges. */
#define CHIRP_N_SPECIAL 3
extern const char *const chirp_special_tokens[CHIRP_N_SPECIAL];

typedef struct BpeTrainer BpeTrainer;

BpeTrainer *bpe_trainer_new(void);
void bpe_trainer_free(BpeTrainer *tr);

/* Counts the pieces of one whole document held in memory. */
void bpe_trainer_add_text(BpeTrainer *tr, const char *text, size_t len);

/* Counts the pieces of a file, read in blocks (each file is one document).
 * show_progress reports MB read. Returns -1 with the error set on failure. */
int bpe_trainer_add_file(BpeTrainer *tr, const char *path, bool show_progress);

/* Distinct pieces and total bytes counted so far. */
size_t bpe_trainer_distinct(const BpeTrainer *tr);
uint64_t bpe_trainer_bytes(const BpeTrainer *tr);

/* Learns merges until the vocabulary (256 bytes + merges + specials) has
 * vocab_size ids or no pair is frequent enough. vocab_size must be at least
 * 256 + CHIRP_N_SPECIAL. Returns a new tokenizer, or NULL with the error set.
 * Training consumes the counts: call it once per trainer. */
Tokenizer *bpe_trainer_train(BpeTrainer *tr, int vocab_size, int min_frequency, bool show_progress);

#endif
