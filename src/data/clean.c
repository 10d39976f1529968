/* clean.c: see clean.h. ASCII posts (most of them) skip NFC entirely:
 * ASCII is NFC already, and utf8proc_map allocates. */
#include "data/clean.h"

#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int clean_mode_parse(const char *s) {
    if (strcmp(s, "keep") == 0) return CLEAN_KEEP;
    if (strcmp(s, "mask") == 0) return CLEAN_MASK;
    if (strcmp(s, "drop") == 0) return CLEAN_DROP;
    return -1;
}

const char *clean_mode_name(CleanMode m) { return m == CLEAN_MASK ? "mask" : m == CLEAN_DROP ? "drop" : "keep"; }

size_t utf8_invalid_at(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) n = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0) n = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0) n = 4, cp = c & 0x07, min = 0x10000;
        else return i;
        if (i + n > len) return i;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += n;
    }
    return len;
}

size_t utf8_length(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

bool clean_is_retweet(const char *text, size_t len) {
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r')) i++;
    return len - i >= 4 && memcmp(text + i, "RT @", 4) == 0;
}

static void put_utf8(Buf *b, uint32_t cp) {
    char tmp[4];
    size_t n = (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)tmp);
    buf_push(b, tmp, n);
}

/* Decodes an entity at s (starting with '&'); returns bytes consumed, 0 if
 * it is not one we know (then '&' is literal text). */
static size_t decode_entity(const char *s, size_t len, Buf *out) {
    static const struct {
        const char *name;
        uint32_t cp;
    } named[] = {
        {"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}, {"nbsp;", 0xA0},
    };
    if (len >= 4 && s[1] == '#') {
        size_t i = 2;
        int base = 10;
        if (s[i] == 'x' || s[i] == 'X') base = 16, i++;
        uint32_t cp = 0;
        size_t digits = 0;
        for (; i < len && digits < 8; i++, digits++) {
            char c = s[i];
            int d = c >= '0' && c <= '9'                 ? c - '0'
                    : base == 16 && c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : base == 16 && c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                         : -1;
            if (d < 0) break;
            cp = cp * (uint32_t)base + (uint32_t)d;
        }
        if (digits == 0 || i >= len || s[i] != ';') return 0;
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        put_utf8(out, cp);
        return i + 1;
    }
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        size_t n = strlen(named[k].name);
        if (len > n && memcmp(s + 1, named[k].name, n) == 0) {
            put_utf8(out, named[k].cp);
            return n + 1;
        }
    }
    return 0;
}

static bool is_word(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

static bool is_space(unsigned char c) { return c == ' ' || c == '\n' || c == '\t'; }

/* Length of a URL starting at s[i] (0 if none): http(s):// up to whitespace. */
static size_t url_at(const char *s, size_t len, size_t i) {
    if (i > 0 && is_word((unsigned char)s[i - 1])) return 0;
    size_t p;
    if (len - i >= 8 && strncasecmp(s + i, "https://", 8) == 0) p = i + 8;
    else if (len - i >= 7 && strncasecmp(s + i, "http://", 7) == 0) p = i + 7;
    else return 0;
    while (p < len && !is_space((unsigned char)s[p])) p++;
    return p - i;
}

/* Length of an @mention at s[i] (0 if none). An '@' inside a word
 * (an e-mail address) is not a mention. */
static size_t mention_at(const char *s, size_t len, size_t i) {
    if (s[i] != '@' || (i > 0 && is_word((unsigned char)s[i - 1]))) return 0;
    size_t p = i + 1;
    while (p < len && is_word((unsigned char)s[p]) && (unsigned char)s[p] < 0x80) p++;
    return p - i > 1 ? p - i : 0;
}

/* True when NFC cannot change the text, so utf8proc (which allocates) can
 * be skipped: every code point below U+0300 is stable (it is never a
 * combining mark, and a precomposed one recomposes to itself), and so is
 * one above that has combining class 0, no canonical decomposition, no
 * part in a composition pair, and is not Hangul. Emoji and curly quotes
 * pass; accented letters next to combining marks do not. */
static bool nfc_stable(const char *text, size_t len) {
    const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)text;
    utf8proc_ssize_t i = 0, n = (utf8proc_ssize_t)len;
    while (i < n) {
        if (s[i] < 0xCC) { /* lead bytes below 0xCC encode code points below U+0300 */
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, n - i, &cp);
        if (k <= 0) return false;
        i += k;
        if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xAC00 && cp <= 0xD7A3)) return false;
        const utf8proc_property_t *p = utf8proc_get_property(cp);
        if (p->combining_class != 0 || p->comb_index != UINT16_MAX) return false;
        if (p->decomp_seqindex != UINT16_MAX && p->decomp_type == 0) return false;
    }
    return true;
}

int clean_text(const char *text, size_t len, const CleanOptions *opt, Buf *out, Buf *scratch) {
    size_t bad = utf8_invalid_at(text, len);
    if (bad < len) return chirp_fail("invalid UTF-8 at byte %zu", bad);

    /* 1. Entities, and note whether anything is non-ASCII. */
    scratch->len = 0;
    bool ascii = true;
    const char *amp = memchr(text, '&', len);
    if (!amp) {
        for (size_t i = 0; i < len; i++) ascii &= (unsigned char)text[i] < 0x80;
    } else {
        for (size_t i = 0; i < len;) {
            if (text[i] == '&') {
                size_t used = decode_entity(text + i, len - i, scratch);
                if (used) {
                    i += used;
                    continue;
                }
            }
            buf_putc(scratch, text[i]);
            i++;
        }
        for (size_t i = 0; i < scratch->len; i++) ascii &= (unsigned char)scratch->data[i] < 0x80;
        text = scratch->data;
        len = scratch->len;
    }

    /* 2. NFC. */
    utf8proc_uint8_t *nfc = NULL;
    if (!ascii && !nfc_stable(text, len)) {
        utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &nfc,
                                          UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (n < 0) return chirp_fail("cannot normalize text: %s", utf8proc_errmsg(n));
        text = (const char *)nfc;
        len = (size_t)n;
    }

    /* 3. Controls, URLs, mentions, in one pass. */
    out->len = 0;
    buf_grow(out, len + 8);
    const unsigned char *s = (const unsigned char *)text;
    bool dropped = false; /* just dropped a token: swallow one following space */
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        if (c == '\r') {
            if (i + 1 < len && s[i + 1] == '\n') {
                i++;
                continue;
            }
            buf_putc(out, '\n');
            i++;
            continue;
        }
        if (c == '\t') c = ' ';
        if (c < 0x20 && c != '\n') {
            i++;
            continue;
        }
        if (c == 0x7F) {
            i++;
            continue;
        }
        if (c == 0xC2 && i + 1 < len && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F) { /* C1 controls */
            i += 2;
            continue;
        }
        if (c == ' ' && dropped &&
            (out->len == 0 || out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\n')) {
            i++;
            continue;
        }
        dropped = false;
        if ((c == 'h' || c == 'H') && opt->urls != CLEAN_KEEP) {
            size_t n = url_at(text, len, i);
            if (n) {
                if (opt->urls == CLEAN_MASK) buf_push(out, "<url>", 5);
                else dropped = true;
                i += n;
                continue;
            }
        }
        if (c == '@' && opt->mentions != CLEAN_KEEP) {
            size_t n = mention_at(text, len, i);
            if (n) {
                if (opt->mentions == CLEAN_MASK) buf_push(out, "@user", 5);
                else dropped = true;
                i += n;
                continue;
            }
        }
        buf_putc(out, (char)c);
        i++;
    }
    free(nfc);

    /* 4. Trim (spaces dropped tokens left behind go too). */
    size_t a = 0, b = out->len;
    while (a < b && is_space((unsigned char)out->data[a])) a++;
    while (b > a && is_space((unsigned char)out->data[b - 1])) b--;
    if (a > 0) memmove(out->data, out->data + a, b - a);
    out->len = b - a;
    buf_terminate(out);
    return 0;
}
