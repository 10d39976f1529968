/* utf8.c: UTF-8 encoding/validation and the Unicode classes of GPT-2's regex.
 *
 * Letters are the general categories L*, numbers N* (both from utf8proc).
 * Whitespace is the Unicode White_Space property, which is what \s means in
 * the regex engines tiktoken and the Python `regex` module use; note that it
 * includes U+0085, U+00A0, U+2028/9 and U+3000 but not U+200B or U+FEFF. */
#include "text/utf8.h"

#include "util/error.h"

#include <string.h>
#include <utf8proc.h>

int utf8_encode(int32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

int utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        int n;
        if (utf8_decode(p + i, len - i, &n) < 0) return 0;
        i += (size_t)n;
    }
    return 1;
}

char *utf8_sanitize(const char *s, size_t len, size_t *out_len) {
    const unsigned char *p = (const unsigned char *)s;
    char *out = xmalloc(len * 3 + 1); /* each invalid byte becomes 3 */
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        int n;
        if (utf8_decode(p + i, len - i, &n) < 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
        } else {
            memcpy(out + o, s + i, (size_t)n);
            o += (size_t)n;
        }
        i += (size_t)n;
    }
    out[o] = '\0';
    if (out_len) *out_len = o;
    return out;
}

static int is_white_space(int32_t cp) {
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000: return 1;
    default: return cp >= 0x2000 && cp <= 0x200A;
    }
}

int unicode_class(int32_t cp) {
    if (cp < 0) return CC_OTHER;
    if (is_white_space(cp)) return CC_SPACE;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: return CC_LETTER;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return CC_NUMBER;
    default: return CC_OTHER;
    }
}
