/* SPDX-License-Identifier: MIT */
/*
 * Time for the whole program. Protocol cores never call these: they are
 * handed "now" by their caller, so tests can run them on a fake clock.
 */
#ifndef ICEMESH_COMMON_CLOCK_H
#define ICEMESH_COMMON_CLOCK_H

#include <stdint.h>

/* Milliseconds on the monotonic clock (never jumps, not wall time). */
uint64_t clock_now_ms(void);
/* Microseconds on the monotonic clock. */
uint64_t clock_now_us(void);
/* Seconds since the Unix epoch, wall clock. */
uint64_t clock_wall_s(void);

#endif
