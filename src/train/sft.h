/* sft.h: batches for supervised chat fine-tuning (chirp train --sft).
 *
 * A conversations file has one {"messages": [{"role", "content"}, ...]}
 * object per line (blank lines are ignored). Each conversation is rendered
 * with the chat template (chat_template.h) into token ids and a loss mask
 * that is 1 on assistant content and its "end" token(s).
 *
 * Packing: rendered conversations are concatenated, in file order, into
 * one stream, and batches are windows of it exactly as in pretraining:
 * window w reads tokens [w*B*T, w*B*T + B*T + 1) as B rows of T inputs with
 * targets shifted by one. A target whose token has mask 0 is -1, which
 * gpt2_forward treats as ignored (no loss, no gradient). A conversation
 * longer than a row is split across rows (and windows); rows may also
 * start or end mid-conversation, and attention is not reset at a
 * conversation boundary (the previous conversation is visible context).
 *
 * Windows without a single unmasked target are dropped when the file is
 * loaded, so no batch is ever all masked. Conversations with no assistant
 * token are skipped and counted. Order is sequential, or with shuffle a
 * seeded permutation of the windows per pass; the position is the number
 * of batches drawn, as for the shard loader, so resume is exact. */
#ifndef CHIRP_TRAIN_SFT_H
#define CHIRP_TRAIN_SFT_H

#include <stddef.h>
#include <stdint.h>

#include "text/chat_template.h"
#include "text/tokenizer.h"

typedef struct SftData {
    char *path;
    int32_t *ids;                     /* the packed stream */
    uint8_t *mask;                    /* 1 where ids[i] is a training target */
    size_t n;                         /* tokens in the stream */
    long long conversations, skipped; /* used / skipped (no assistant turn) */
    size_t masked_on;                 /* tokens with mask 1 */
    int B, T;
    int shuffle;
    unsigned long long seed;
    size_t *windows; /* start offsets of the usable windows */
    size_t nwindows;
    long long batches; /* batches drawn (the position) */
    size_t *perm;
    long long perm_pass;
    int32_t *inputs, *targets; /* [B*T] */
    int count;                 /* unmasked targets in the current batch */
} SftData;

/* Reads and renders the conversations file. Errors name file:line (bad
 * JSON, missing messages, unknown role). Fails if the stream has fewer
 * than B*T+1 tokens, if a token is >= vocab, or if no window has an
 * assistant token. */
int sft_open(SftData *d, const char *path, const ChatTemplate *t, const Tokenizer *tok, int B, int T, int vocab,
             int shuffle, unsigned long long seed);
void sft_close(SftData *d);

/* Fills inputs/targets/count with the next batch. */
void sft_next(SftData *d);

/* Fills inputs/targets/count with window number w (0 <= w < nwindows) in
 * file order, without moving the position (for evaluation). */
void sft_window(SftData *d, size_t w);

void sft_seek(SftData *d, long long batches);

#endif
