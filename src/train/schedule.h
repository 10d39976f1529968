/* schedule.h: learning-rate schedules.
 *
 * step counts from 0. Linear warmup over `warmup` steps from lr/warmup to
 * lr, then: constant; cosine from lr to min_lr; linear to min_lr; or wsd
 * (warmup-stable-decay: constant until the last 20% of steps, then linear
 * to min_lr). */
#ifndef CHIRP_TRAIN_SCHEDULE_H
#define CHIRP_TRAIN_SCHEDULE_H

typedef enum { SCHED_CONSTANT, SCHED_COSINE, SCHED_LINEAR, SCHED_WSD } LrSchedule;

/* -1 for an unknown name. */
int schedule_parse(const char *name, LrSchedule *out);
const char *schedule_name(LrSchedule s);

double schedule_lr(LrSchedule s, long long step, long long total, long long warmup, double lr, double min_lr);

#endif
