/* progress.h: progress reporting for long work.
 *
 * On a terminal (stderr is a TTY) a single status line is redrawn in place,
 * at most ~10 times a second. Otherwise a plain log line is written at most
 * every `log_interval` seconds, so logs stay readable in CI. */
#ifndef CHIRP_UTIL_PROGRESS_H
#define CHIRP_UTIL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct Progress {
    const char *label; /* e.g. "tokenizer train" */
    const char *unit;  /* e.g. "MB", "posts", "steps" */
    double total;      /* 0 if unknown */
    double start_time;
    double last_draw;
    double log_interval; /* seconds between plain log lines */
    bool tty;
    bool quiet;
    bool drew; /* a live line is on screen */
} Progress;

void progress_init(Progress *p, const char *label, const char *unit, double total);

/* Reports `done` units so far; `extra` is appended (may be NULL). */
void progress_update(Progress *p, double done, const char *extra);

/* Clears the live line and prints a final summary line. */
void progress_finish(Progress *p, double done, const char *extra);

#endif
