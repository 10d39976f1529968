/* schedule.c: learning-rate schedules (see schedule.h). */
#include "train/schedule.h"

#include <math.h>
#include <string.h>

#include "util/error.h"

static const char *const NAMES[] = {"constant", "cosine", "linear", "wsd"};

int schedule_parse(const char *name, LrSchedule *out) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, NAMES[i])) {
            *out = (LrSchedule)i;
            return 0;
        }
    return chirp_fail("unknown schedule \"%s\" (constant, cosine, linear, wsd)", name);
}

const char *schedule_name(LrSchedule s) { return NAMES[s]; }

double schedule_lr(LrSchedule s, long long step, long long total, long long warmup, double lr, double min_lr) {
    if (step < warmup) return lr * (double)(step + 1) / (double)warmup;
    if (s == SCHED_CONSTANT) return lr;
    long long span = total - warmup;
    if (span <= 0) return lr;
    double frac = (double)(step - warmup) / (double)span; /* 0 .. <1 */
    if (s == SCHED_COSINE) return min_lr + 0.5 * (1.0 + cos(M_PI * frac)) * (lr - min_lr);
    if (s == SCHED_LINEAR) return lr + (min_lr - lr) * frac;
    /* wsd: stable for 80% of the post-warmup steps, then linear decay */
    long long decay = span / 5 > 0 ? span / 5 : 1;
    long long into = step - (total - decay);
    if (into < 0) return lr;
    return lr + (min_lr - lr) * (double)(into + 1) / (double)decay;
}
