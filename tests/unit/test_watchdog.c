/* Unit tests for watchdog: its thresholds, and that a claim ends a stall. */
#include "versync/bridge/watchdog.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void test_after_is_five_polls_never_under_a_second(void **state)
{
    (void)state;
    cfg c;
    memset(&c, 0, sizeof c);
    c.poll_interval_ms = 1000;
    assert_int_equal(watchdog_after_ms(&c), 5000);
    c.poll_interval_ms = 50;
    assert_int_equal(watchdog_after_ms(&c), 1000);
    c.poll_interval_ms = 0; /* unset: the default poll interval, 1 s */
    assert_int_equal(watchdog_after_ms(&c), 5000);
}

static void test_step_limit_adds_the_store_timeout(void **state)
{
    (void)state;
    cfg c;
    memset(&c, 0, sizeof c);
    c.poll_interval_ms = 200;
    c.store.timeout_ms = 5000;
    assert_int_equal(watchdog_step_limit_ms(&c), 6000);
    c.store.timeout_ms = 0; /* unset: the client's default, 10 s */
    assert_int_equal(watchdog_step_limit_ms(&c), 11000);
}

static void test_no_check_before_the_threshold(void **state)
{
    (void)state;
    cfg c;
    memset(&c, 0, sizeof c);
    c.poll_interval_ms = 1000;
    watchdog wd;
    watchdog_init(&wd, &c, 100000);
    /* Not yet due: returns before touching the (absent) connection. */
    assert_false(watchdog_check(&wd, &c, NULL, "\"versync\"", "{}", 104999));
    assert_false(watchdog_check(&wd, &c, NULL, "\"versync\"", "{}", 200000)); /* no connection: nothing to ask */
    wd.stalled_ms = 100000;
    watchdog_claimed(&wd, 210000);
    assert_int_equal(wd.stalled_ms, 0);
    assert_int_equal(wd.last_claim_ms, 210000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_after_is_five_polls_never_under_a_second),
        cmocka_unit_test(test_step_limit_adds_the_store_timeout),
        cmocka_unit_test(test_no_check_before_the_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
