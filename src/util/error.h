/* error.h: how chirp reports failures.
 *
 * A function that can fail returns -1 (or NULL) after calling chirp_fail()
 * with a one-line message. The CLI prints that message as "chirp: <msg>".
 * The message lives in a thread-local buffer, so worker threads that fail
 * do not clobber each other. */
#ifndef CHIRP_UTIL_ERROR_H
#define CHIRP_UTIL_ERROR_H

#include <stddef.h>

/* Records a printf-style message as the current error. Always returns -1
 * so callers can write `return chirp_fail(...)`. */
int chirp_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Like chirp_fail() but appends ": strerror(errno)". */
int chirp_fail_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prepends context ("file.csv: ") to the current error message. */
void chirp_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current error message ("" if none). */
const char *chirp_error(void);

void chirp_error_clear(void);

/* Allocation that never returns NULL: out of memory aborts with a message,
 * since no caller could do anything useful about it. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
