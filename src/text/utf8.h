/* utf8.h: UTF-8 decoding and the Unicode classes GPT-2's pre-tokenizer needs.
 *
 * Text in chirp is bytes. A byte that does not start a valid, shortest-form
 * UTF-8 sequence (or a surrogate / >U+10FFFF) decodes as one "invalid" unit
 * of length 1, so every byte string can be walked and later rebuilt exactly. */
#ifndef CHIRP_TEXT_UTF8_H
#define CHIRP_TEXT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Classes in the sense of the regex \s, \p{L}, \p{N}; everything else
 * (punctuation, symbols, marks, controls, invalid bytes) is OTHER. */
enum { CC_OTHER = 0, CC_SPACE = 1, CC_LETTER = 2, CC_NUMBER = 3 };

/* Decodes the code point at s[0..len) (len >= 1). Sets *n to its byte length.
 * Returns the code point, or -1 for an invalid byte (*n = 1). */
static inline int32_t utf8_decode(const unsigned char *s, size_t len, int *n) {
    unsigned c = s[0];
    if (c < 0x80) {
        *n = 1;
        return (int32_t)c;
    }
    *n = 1;
    if (c < 0xC2 || c > 0xF4) return -1;
    if (c < 0xE0) {
        if (len < 2 || (s[1] & 0xC0) != 0x80) return -1;
        *n = 2;
        return (int32_t)(((c & 0x1F) << 6) | (s[1] & 0x3F));
    }
    if (c < 0xF0) {
        if (len < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return -1;
        int32_t cp = (int32_t)(((c & 0x0F) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu));
        if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
        *n = 3;
        return cp;
    }
    if (len < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return -1;
    int32_t cp = (int32_t)(((c & 0x07) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu));
    if (cp < 0x10000 || cp > 0x10FFFF) return -1;
    *n = 4;
    return cp;
}

/* Writes cp as UTF-8 into out (room for 4 bytes); returns the length. */
int utf8_encode(int32_t cp, char *out);

/* True if s[0..len) is valid UTF-8. */
int utf8_valid(const char *s, size_t len);

/* A copy of s[0..len) with every invalid byte replaced by U+FFFD (what
 * JSON and browsers need; chirp's own files keep the raw bytes). Returns a
 * malloc'd NUL-terminated string, its length in *out_len if non-NULL. */
char *utf8_sanitize(const char *s, size_t len, size_t *out_len);

/* The class of a code point (-1 = invalid byte -> CC_OTHER). */
int unicode_class(int32_t cp);

#endif
