/* Unit tests for store_rounding: date_histogram's buckets as Elasticsearch's Rounding makes them — calendar and fixed units, offsets, DST days of 23 and 25 hours, and the keys' text. */
#include "versync/store/store_rounding.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FEB14_10H 1707904800000LL /* 2024-02-14T10:00:00Z, a Wednesday */

static int64_t round_in(store_round_unit u, int64_t fixed, int64_t offset, const char *zone, int64_t ms)
{
    store_rounding r;
    assert_true(store_rounding_init(&r, u, fixed, offset, zone));
    int64_t k = store_rounding_round(&r, ms);
    store_rounding_free(&r);
    return k;
}

static int64_t next_in(store_round_unit u, int64_t fixed, const char *zone, int64_t key)
{
    store_rounding r;
    assert_true(store_rounding_init(&r, u, fixed, 0, zone));
    int64_t k = store_rounding_next(&r, key);
    store_rounding_free(&r);
    return k;
}

static void test_interval_names(void **state)
{
    (void)state;
    store_round_unit u;
    assert_true(store_rounding_calendar_unit("1d", &u) && u == STORE_ROUND_DAY);
    assert_true(store_rounding_calendar_unit("month", &u) && u == STORE_ROUND_MONTH);
    assert_true(store_rounding_calendar_unit("1q", &u) && u == STORE_ROUND_QUARTER);
    assert_true(store_rounding_calendar_unit("1M", &u) && u == STORE_ROUND_MONTH);
    assert_true(store_rounding_calendar_unit("1m", &u) && u == STORE_ROUND_MINUTE);
    assert_false(store_rounding_calendar_unit("2d", &u)); /* calendar units are single units */
    assert_false(store_rounding_calendar_unit("days", &u));
    int64_t ms;
    assert_true(store_rounding_time_value("30s", &ms) && ms == 30000);
    assert_true(store_rounding_time_value("2h", &ms) && ms == 7200000);
    assert_true(store_rounding_time_value("10d", &ms) && ms == 864000000);
    assert_true(store_rounding_time_value("1000micros", &ms) && ms == 1);
    assert_false(store_rounding_time_value("1500micros", &ms)); /* not a whole millisecond */
    assert_false(store_rounding_time_value("1M", &ms));        /* months are not fixed */
    assert_false(store_rounding_time_value("h", &ms));
    assert_false(store_rounding_time_value("-1h", &ms));
}

static void test_utc_units(void **state)
{
    (void)state;
    assert_int_equal(round_in(STORE_ROUND_DAY, 0, 0, NULL, FEB14_10H), 1707868800000LL);
    assert_int_equal(round_in(STORE_ROUND_WEEK, 0, 0, NULL, FEB14_10H), 1707696000000LL); /* Monday 12th */
    assert_int_equal(round_in(STORE_ROUND_MONTH, 0, 0, NULL, FEB14_10H), 1706745600000LL);
    assert_int_equal(round_in(STORE_ROUND_QUARTER, 0, 0, NULL, FEB14_10H), 1704067200000LL);
    assert_int_equal(round_in(STORE_ROUND_YEAR, 0, 0, NULL, FEB14_10H), 1704067200000LL);
    assert_int_equal(round_in(STORE_ROUND_HOUR, 0, 0, NULL, FEB14_10H + 59999), FEB14_10H);
    assert_int_equal(round_in(STORE_ROUND_FIXED, 3 * 3600000LL, 0, NULL, FEB14_10H), FEB14_10H - 3600000LL);
    assert_int_equal(next_in(STORE_ROUND_QUARTER, 0, NULL, 1704067200000LL), 1711929600000LL);
    assert_int_equal(round_in(STORE_ROUND_WEEK, 0, 0, NULL, 0), -259200000LL); /* 1969-12-29 */
    assert_int_equal(round_in(STORE_ROUND_DAY, 0, 0, NULL, -1), -86400000LL);
    /* beyond the calendar's range a value is its own bucket, without overflow */
    assert_int_equal(round_in(STORE_ROUND_MONTH, 0, 0, "Europe/Paris", INT64_MAX), INT64_MAX);
    assert_int_equal(round_in(STORE_ROUND_FIXED, 7, 3, "Europe/Paris", INT64_MIN), INT64_MIN);
    assert_int_equal(next_in(STORE_ROUND_DAY, 0, NULL, INT64_MAX), INT64_MAX);
}

/* offset shifts every bucket: days from 06:00 */
static void test_offset(void **state)
{
    (void)state;
    assert_int_equal(round_in(STORE_ROUND_DAY, 0, 6 * 3600000LL, NULL, FEB14_10H), 1707890400000LL);
    assert_int_equal(round_in(STORE_ROUND_DAY, 0, 6 * 3600000LL, NULL, FEB14_10H - 5 * 3600000LL), 1707804000000LL);
    assert_int_equal(round_in(STORE_ROUND_DAY, 0, -6 * 3600000LL, NULL, FEB14_10H), 1707868800000LL + 18 * 3600000LL - 86400000LL);
    /* bounds are rounded without it (LongBounds.round), interleaved with values without upsetting them */
    store_rounding r;
    assert_true(store_rounding_init(&r, STORE_ROUND_DAY, 0, 6 * 3600000LL, NULL));
    assert_int_equal(store_rounding_round_without_offset(&r, FEB14_10H - 5 * 3600000LL), 1707868800000LL);
    assert_int_equal(store_rounding_round(&r, FEB14_10H - 5 * 3600000LL), 1707804000000LL);
    assert_int_equal(store_rounding_round_without_offset(&r, FEB14_10H), 1707868800000LL);
    assert_int_equal(store_rounding_round(&r, FEB14_10H), 1707890400000LL);
    store_rounding_free(&r);
}

/* Europe/Paris: 2024-03-31 has 23 hours, 2024-10-27 has 25 and 02:00-03:00 twice. */
static void test_dst(void **state)
{
    (void)state;
    assert_int_equal(round_in(STORE_ROUND_DAY, 0, 0, "Europe/Paris", 1711886400000LL), 1711839600000LL);
    assert_int_equal(next_in(STORE_ROUND_DAY, 0, "Europe/Paris", 1711839600000LL), 1711922400000LL);
    assert_int_equal(next_in(STORE_ROUND_DAY, 0, "Europe/Paris", 1729980000000LL), 1730070000000LL);
    assert_int_equal(round_in(STORE_ROUND_HOUR, 0, 0, "Europe/Paris", 1729989000000LL), 1729987200000LL);
    assert_int_equal(round_in(STORE_ROUND_HOUR, 0, 0, "Europe/Paris", 1729992600000LL), 1729990800000LL);
    assert_int_equal(next_in(STORE_ROUND_HOUR, 0, "Europe/Paris", 1729987200000LL), 1729990800000LL);
    assert_int_equal(next_in(STORE_ROUND_HOUR, 0, "Europe/Paris", 1729990800000LL), 1729994400000LL);
    /* a fixed 1d counts local days too */
    assert_int_equal(round_in(STORE_ROUND_FIXED, 86400000LL, 0, "Europe/Paris", 1711886400000LL), 1711839600000LL);
    /* half-hour zones round local hours */
    assert_int_equal(round_in(STORE_ROUND_HOUR, 0, 0, "Asia/Kolkata", 1707885000000LL + 600000), 1707885000000LL);
    /* Sao Paulo skipped its midnight on 2018-11-04: the day starts at 01:00 */
    assert_int_equal(round_in(STORE_ROUND_DAY, 0, 0, "America/Sao_Paulo", 1541340000000LL), 1541300400000LL);
    assert_int_equal(next_in(STORE_ROUND_DAY, 0, "America/Sao_Paulo", 1541300400000LL), 1541383200000LL);
}

static void expect_text(const char *zone, const char *format, int64_t ms, const char *want)
{
    store_rounding r;
    assert_true(store_rounding_init(&r, STORE_ROUND_DAY, 0, 0, zone));
    buf b = BUF_INIT;
    store_rounding_format(&r, format, ms, &b);
    assert_non_null(b.data);
    assert_string_equal(b.data, want);
    buf_free(&b);
    store_rounding_free(&r);
}

static void test_key_as_string(void **state)
{
    (void)state;
    expect_text(NULL, NULL, 1706745600000LL, "2024-02-01T00:00:00.000Z");
    expect_text("Europe/Paris", NULL, 1706745600000LL, "2024-02-01T01:00:00.000+01:00");
    expect_text("Asia/Kolkata", "strict_date_optional_time||epoch_millis", 1706745600000LL,
                "2024-02-01T05:30:00.000+05:30");
    expect_text(NULL, "yyyy-MM-dd", 1706745600000LL, "2024-02-01");
    expect_text("-05:00", "yyyy-MM-dd HH:mm:ss", 1706745600000LL, "2024-01-31 19:00:00");
    expect_text(NULL, "epoch_millis", 1706745600000LL, "1706745600000");
    expect_text(NULL, "epoch_second", 1706745600000LL, "1706745600");
    expect_text(NULL, "date", 1706745600000LL, "2024-02-01");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interval_names), cmocka_unit_test(test_utc_units), cmocka_unit_test(test_offset),
        cmocka_unit_test(test_dst),            cmocka_unit_test(test_key_as_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
