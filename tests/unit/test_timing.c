/* test_timing — retry waits: the jittered backoff and a Retry-After within the ceiling. */
#include "versync/common/timing.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

static void test_backoff_bounds(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        long first = timing_backoff_ms(0), late = timing_backoff_ms(40);
        assert_true(first >= TIMING_BACKOFF_BASE_MS / 2 && first <= TIMING_BACKOFF_BASE_MS);
        assert_true(late >= TIMING_BACKOFF_BASE_MS / 2 && late <= TIMING_BACKOFF_CAP_MS);
    }
}

static void test_retry_after_wins_within_the_ceiling(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        long none = timing_retry_ms(0, -1);
        assert_true(none >= TIMING_BACKOFF_BASE_MS / 2 && none <= TIMING_BACKOFF_BASE_MS);
        assert_int_equal(timing_retry_ms(0, 5000), 5000);                        /* longer than the backoff */
        assert_int_equal(timing_retry_ms(0, 10 * TIMING_BACKOFF_CAP_MS), TIMING_BACKOFF_CAP_MS); /* capped */
        long shorter = timing_retry_ms(40, 1);                                     /* the backoff is longer */
        assert_true(shorter >= TIMING_BACKOFF_BASE_MS / 2 && shorter <= TIMING_BACKOFF_CAP_MS);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_retry_after_wins_within_the_ceiling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
