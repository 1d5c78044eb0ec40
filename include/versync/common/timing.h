/* timing — monotonic milliseconds, a signal-interruptible sleep and retry backoff, for both programs. */
#ifndef VERSYNC_TIMING_H
#define VERSYNC_TIMING_H

#include <signal.h>

/* Retry backoff: the first wait and the ceiling. */
#define TIMING_BACKOFF_BASE_MS 100
#define TIMING_BACKOFF_CAP_MS 30000

/* Milliseconds on a monotonic clock. */
long long timing_now_ms(void);

/* Sleep up to `ms` milliseconds, returning early when a signal arrives
 * (`mask` is the mask to wait with, NULL for the current one). */
void timing_sleep_ms(long ms, const sigset_t *mask);

/* Capped exponential backoff with full jitter for the attempt-th retry (0-based). */
long timing_backoff_ms(int attempt);

/* The wait before the attempt-th retry when the other side asked for `retry_after_ms` (its
 * Retry-After, -1 none): the backoff, or that wait when it is longer, within the ceiling. */
long timing_retry_ms(int attempt, long retry_after_ms);

#endif
