/* bytelevel.c: GPT-2's byte <-> printable code point table.
 *
 * Vocab files (encoder.json, tokenizer.json) store token bytes as strings in
 * which each byte is one printable character: bytes that are printable
 * Latin-1 stand for themselves, the other 68 map to U+0100.. in byte order
 * (so the space 0x20 is U+0120 'Ġ'). */
#include "text/tok_internal.h"

#include "text/utf8.h"
#include "util/error.h"

static int printable(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

int32_t bytelevel_char(unsigned b) {
    b &= 0xFF;
    if (printable(b)) return (int32_t)b;
    /* The n-th non-printable byte (in byte order) maps to 256 + n. */
    int32_t n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!printable(x)) n++;
    return 256 + n;
}

int bytelevel_byte(int32_t cp) {
    if (cp >= 0 && cp < 256) return printable((unsigned)cp) ? cp : -1;
    if (cp < 256 || cp >= 256 + 68) return -1;
    int32_t n = cp - 256;
    for (unsigned x = 0; x < 256; x++)
        if (!printable(x) && n-- == 0) return (int)x;
    return -1;
}

char *bytelevel_encode(const char *s, size_t n, size_t *out_len) {
    char *out = xmalloc(2 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += (size_t)utf8_encode(bytelevel_char((unsigned char)s[i]), out + k);
    out[k] = '\0';
    *out_len = k;
    return out;
}

long bytelevel_decode(const char *s, size_t n, char *out) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    long k = 0;
    while (i < n) {
        int len;
        int32_t cp = utf8_decode(p + i, n - i, &len);
        int b = bytelevel_byte(cp);
        if (b < 0) return -1;
        out[k++] = (char)b;
        i += (size_t)len;
    }
    return k;
}
