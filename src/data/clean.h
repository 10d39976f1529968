/* clean.h: turning a raw post into training text.
 *
 * In order: UTF-8 validated (invalid -> error), HTML entities decoded once
 * (&amp; &lt; &gt; &quot; &apos; &nbsp; and numeric &#NN; &#xHH;), Unicode
 * NFC (utf8proc), control characters removed except newlines (CRLF and a
 * lone CR become LF, a tab becomes a space), URLs and @mentions kept,
 * masked ("<url>", "@user") or dropped, whitespace trimmed at both ends. */
#ifndef CHIRP_DATA_CLEAN_H
#define CHIRP_DATA_CLEAN_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum { CLEAN_KEEP, CLEAN_MASK, CLEAN_DROP } CleanMode;

typedef struct CleanOptions {
    CleanMode urls;
    CleanMode mentions;
} CleanOptions;

/* Parses "keep", "mask" or "drop"; -1 otherwise. */
int clean_mode_parse(const char *s);
const char *clean_mode_name(CleanMode m);

/* Cleans len bytes into out (NUL-terminated, out->len set). Returns 0, or
 * -1 with the error set when the input is not valid UTF-8. `scratch` is
 * reused between calls to avoid allocations. */
int clean_text(const char *text, size_t len, const CleanOptions *opt, Buf *out, Buf *scratch);

/* "RT @user: ..." (after leading whitespace). */
bool clean_is_retweet(const char *text, size_t len);

/* Number of code points in valid UTF-8. */
size_t utf8_length(const char *s, size_t len);

/* Byte offset of the first invalid UTF-8 sequence, or len if valid. */
size_t utf8_invalid_at(const char *s, size_t len);

#endif
