/* pretok.h: GPT-2's pre-tokenizer, written by hand over code points.
 *
 * It splits text exactly as the regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * does (leftmost alternative wins, greedy runs). Invalid UTF-8 bytes count as
 * one code point each of class "other" (neither \s, \p{L} nor \p{N}), which
 * is what a regex over lossily decoded text would see as U+FFFD (a symbol);
 * so they join runs of punctuation and every byte stays in exactly one piece. */
#ifndef CHIRP_TEXT_PRETOK_H
#define CHIRP_TEXT_PRETOK_H

#include <stddef.h>

/* The end (exclusive) of the piece that starts at pos; pos < len. The piece
 * depends only on s[pos..len). */
size_t pretok_next(const unsigned char *s, size_t len, size_t pos);

/* The class (CC_*) of an ASCII byte as the fast path sees it. */
int pretok_ascii_class(int c);

#endif
