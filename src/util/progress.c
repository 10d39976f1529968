#include "util/progress.h"

#include "util/timer.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void progress_init(Progress *p, const char *label, const char *unit, double total) {
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->start_time = time_now();
    p->last_draw = 0;
    p->log_interval = 10.0;
    p->tty = isatty(STDERR_FILENO);
    p->quiet = getenv("CHIRP_QUIET") != NULL;
    p->drew = false;
}

static void format_eta(char *buf, size_t n, double seconds) {
    if (seconds < 0 || seconds > 1e7) {
        snprintf(buf, n, "?");
    } else if (seconds < 60) {
        snprintf(buf, n, "%.0fs", seconds);
    } else if (seconds < 3600) {
        snprintf(buf, n, "%dm%02ds", (int)seconds / 60, (int)seconds % 60);
    } else {
        snprintf(buf, n, "%dh%02dm", (int)seconds / 3600, ((int)seconds % 3600) / 60);
    }
}

static void draw(Progress *p, double done, const char *extra, bool final) {
    double elapsed = time_now() - p->start_time;
    double rate = elapsed > 0 ? done / elapsed : 0;
    char line[512];
    int n;
    if (p->total > 0 && !final) {
        char eta[32];
        format_eta(eta, sizeof eta, rate > 0 ? (p->total - done) / rate : -1);
        n = snprintf(line, sizeof line, "%s: %.0f/%.0f %s (%.1f%%), %.1f %s/s, ETA %s", p->label, done, p->total,
                     p->unit, 100.0 * done / p->total, rate, p->unit, eta);
    } else {
        n = snprintf(line, sizeof line, "%s: %.0f %s, %.1f %s/s, %.1fs", p->label, done, p->unit, rate, p->unit,
                     elapsed);
    }
    if (extra && n > 0 && (size_t)n < sizeof line) snprintf(line + n, sizeof line - n, ", %s", extra);
    if (p->tty) {
        fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
        p->drew = !final;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

void progress_update(Progress *p, double done, const char *extra) {
    if (p->quiet) return;
    double now = time_now();
    double interval = p->tty ? 0.1 : p->log_interval;
    if (now - p->last_draw < interval) return;
    /* In a log, the first line waits one interval so short jobs stay silent. */
    if (!p->tty && p->last_draw == 0 && now - p->start_time < interval) return;
    p->last_draw = now;
    draw(p, done, extra, false);
}

void progress_finish(Progress *p, double done, const char *extra) {
    if (p->quiet) return;
    draw(p, done, extra, true);
}
