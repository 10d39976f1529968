/* timer.h: monotonic wall-clock time. */
#ifndef CHIRP_UTIL_TIMER_H
#define CHIRP_UTIL_TIMER_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
double time_now(void);

#endif
