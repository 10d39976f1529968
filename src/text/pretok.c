/* pretok.c: GPT-2's pre-tokenizer regex as a hand-written scanner.
 *
 * A regex engine is a poor fit for the hot path: this scanner looks at each
 * byte about once, uses a table for ASCII and utf8proc only for non-ASCII. */
#include "text/pretok.h"

#include "text/utf8.h"

/* Classes of the ASCII range, written out for speed; they are the same as
 * unicode_class() gives (the tests compare the two for all 128). */
static const unsigned char ascii_class[128] = {
#define S CC_SPACE
#define L CC_LETTER
#define N CC_NUMBER
#define O CC_OTHER
    O, O, O, O, O, O, O, O, O, S, S, S, S, S, O, O, /* 0x00: \t \n \v \f \r */
    O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, /* 0x10 */
    S, O, O, O, O, O, O, O, O, O, O, O, O, O, O, O, /* 0x20: space */
    N, N, N, N, N, N, N, N, N, N, O, O, O, O, O, O, /* 0x30: digits */
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0x40 */
    L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O, /* 0x50 */
    O, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L, /* 0x60 */
    L, L, L, L, L, L, L, L, L, L, L, O, O, O, O, O, /* 0x70 */
#undef S
#undef L
#undef N
#undef O
};

static inline int class_at(const unsigned char *s, size_t len, size_t i, int *n) {
    unsigned c = s[i];
    if (c < 0x80) {
        *n = 1;
        return ascii_class[c];
    }
    return unicode_class(utf8_decode(s + i, len - i, n));
}

/* End of the run of class k that continues at i. */
static inline size_t run_end(const unsigned char *s, size_t len, size_t i, int k) {
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (ascii_class[c] != k) break;
            i++;
            continue;
        }
        int n;
        if (unicode_class(utf8_decode(s + i, len - i, &n)) != k) break;
        i += (size_t)n;
    }
    return i;
}

int pretok_ascii_class(int c) { return ascii_class[c & 0x7F]; }

size_t pretok_next(const unsigned char *s, size_t len, size_t pos) {
    size_t i = pos;
    unsigned c = s[i];
    /* 's|'t|'re|'ve|'m|'ll|'d: lowercase ASCII only, as in GPT-2. */
    if (c == '\'' && i + 1 < len) {
        unsigned d = s[i + 1];
        if (d == 's' || d == 't' || d == 'm' || d == 'd') return i + 2;
        if (i + 2 < len) {
            unsigned e = s[i + 2];
            if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l')) return i + 3;
        }
    }
    int n;
    int k = class_at(s, len, i, &n);
    /* ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': a single ASCII space
     * joins the run that follows it. */
    if (c == ' ' && i + 1 < len) {
        int n2;
        int k2 = class_at(s, len, i + 1, &n2);
        if (k2 != CC_SPACE) return run_end(s, len, i + 1 + (size_t)n2, k2);
    }
    if (k != CC_SPACE) return run_end(s, len, i + (size_t)n, k);
    /* \s+(?!\S) then \s+: a whitespace run followed by text gives up its
     * last character, so that " word" can take its space; a single
     * whitespace character before text stands alone. */
    size_t last = i, j = i + (size_t)n;
    while (j < len) {
        int n3;
        if (class_at(s, len, j, &n3) != CC_SPACE) break;
        last = j;
        j += (size_t)n3;
    }
    if (j == len) return len;
    return last > i ? last : j;
}
