/* timing — monotonic milliseconds, a signal-interruptible sleep and retry backoff, for both programs. */
#include "versync/common/timing.h"

#include <poll.h>
#include <stdlib.h>
#include <time.h>

long long timing_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void timing_sleep_ms(long ms, const sigset_t *mask)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    ppoll(NULL, 0, &ts, mask);
}

long timing_backoff_ms(int attempt)
{
    long cap = TIMING_BACKOFF_BASE_MS;
    for (int i = 0; i < attempt && cap < TIMING_BACKOFF_CAP_MS; i++)
        cap *= 2;
    if (cap > TIMING_BACKOFF_CAP_MS)
        cap = TIMING_BACKOFF_CAP_MS;
    /* Full jitter, but never a busy loop. */
    long ms = (long)(random() % (cap + 1));
    return ms < TIMING_BACKOFF_BASE_MS / 2 ? TIMING_BACKOFF_BASE_MS / 2 : ms;
}

long timing_retry_ms(int attempt, long retry_after_ms)
{
    long ms = timing_backoff_ms(attempt);
    if (retry_after_ms > ms)
        ms = retry_after_ms > TIMING_BACKOFF_CAP_MS ? TIMING_BACKOFF_CAP_MS : retry_after_ms;
    return ms;
}
