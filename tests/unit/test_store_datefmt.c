/* Unit tests for store_datefmt: mapping date formats (patterns, built-in names, alternatives) parse document values to the right instant and refuse the rest. */
#include "versync/store/store_datefmt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int64_t parse(const char *fmt, const char *v, bool number)
{
    int64_t ms = -42;
    if (!store_datefmt_parse(fmt, v, strlen(v), number, &ms))
        fail_msg("[%s] does not parse [%s]", fmt, v);
    return ms;
}

static void refused(const char *fmt, const char *v, bool number)
{
    int64_t ms;
    assert_false(store_datefmt_parse(fmt, v, strlen(v), number, &ms));
}

static void test_patterns(void **state)
{
    (void)state;
    assert_int_equal(parse("yyyy/MM/dd HH:mm:ss", "2024/03/22 10:00:00", false), 1711101600000LL);
    assert_int_equal(parse("dd.MM.yyyy", "22.03.2024", false), 1711065600000LL);
    assert_int_equal(parse("d.M.yyyy", "2.3.2024", false), 1709337600000LL);
    assert_int_equal(parse("yyyyMMdd'T'HHmmss.SSSX", "20240322T100000.250Z", false), 1711101600250LL);
    assert_int_equal(parse("yyyy-MM-dd HH:mmXXX", "2024-03-22 12:00+02:00", false), 1711101600000LL);
    assert_int_equal(parse("MM/dd/yyyy hh:mm a", "03/22/2024 10:00 AM", false), 1711101600000LL);
    assert_int_equal(parse("yyyy-MM-dd", "2024-02-29", false), 1709164800000LL);
    refused("yyyy-MM-dd", "2023-02-29", false);
    refused("dd.MM.yyyy", "22.03.24", false);
    refused("dd.MM.yyyy", "22.03.2024 ", false);
}

static void test_names_and_alternatives(void **state)
{
    (void)state;
    assert_int_equal(parse("epoch_millis", "1711101600000", true), 1711101600000LL);
    assert_int_equal(parse("epoch_second", "1711101600", true), 1711101600000LL);
    assert_int_equal(parse("epoch_second", "1711101600.5", false), 1711101600500LL);
    assert_int_equal(parse("strict_date_optional_time", "2024-03-22T10:00:00Z", false), 1711101600000LL);
    assert_int_equal(parse("basic_date", "20240322", false), 1711065600000LL);
    assert_int_equal(parse("yyyy/MM/dd||epoch_millis", "1711065600000", true), 1711065600000LL);
    assert_int_equal(parse("yyyy/MM/dd||epoch_millis", "2024/03/22", false), 1711065600000LL);
    refused("strict_date_optional_time", "1711101600000", true);
    refused("yyyy/MM/dd||epoch_millis", "2024-03-22", false);
}

static void test_validation(void **state)
{
    (void)state;
    char err[256];
    assert_true(store_datefmt_valid("yyyy-MM-dd HH:mm:ss||epoch_millis", err, sizeof err));
    assert_true(store_datefmt_valid("strict_date_optional_time||epoch_second", err, sizeof err));
    assert_false(store_datefmt_valid("yyyy-bb", err, sizeof err));
    assert_string_equal(err, "Invalid format: [yyyy-bb]: Unknown pattern letter: b");
    assert_false(store_datefmt_valid("yyyy-MM-dd'T", err, sizeof err));
    assert_false(store_datefmt_valid("no_such_named_format", err, sizeof err));
    assert_false(store_datefmt_valid("", err, sizeof err));
}

static int64_t bound(const char *fmt, const char *v, bool up)
{
    int64_t ms = -42;
    if (!store_datefmt_parse_bound(fmt, v, strlen(v), up, &ms))
        fail_msg("[%s] does not parse bound [%s]", fmt ? fmt : "(default)", v);
    return ms;
}

/* Range bounds: round-up fills the time fields a value lacks with their
 * maximum (Elasticsearch's roundUp parser), month and day staying at 1. */
static void test_bounds(void **state)
{
    (void)state;
    assert_int_equal(bound("dd/MM/yyyy", "01/02/2024", false), 1706745600000LL);
    assert_int_equal(bound("dd/MM/yyyy", "01/02/2024", true), 1706745600000LL + 86399999);
    assert_int_equal(bound("dd/MM/yyyy HH", "01/02/2024 10", true), 1706781600000LL + 3599999);
    assert_int_equal(bound(NULL, "2024-02-01", true), 1706745600000LL + 86399999);
    assert_int_equal(bound(NULL, "2024-02-01T10", true), 1706781600000LL + 3599999);
    assert_int_equal(bound(NULL, "2024-02-01T10:00", true), 1706781600000LL + 59999);
    assert_int_equal(bound(NULL, "2024-02-01T10:00:00Z", true), 1706781600000LL + 999);
    assert_int_equal(bound(NULL, "2024-02-01T10:00:00.5Z", true), 1706781600500LL);
    assert_int_equal(bound(NULL, "2024", true), 1704067200000LL + 86399999); /* a year: Jan 1, as ES */
    assert_int_equal(bound(NULL, "1706745600000", true), 1706745600000LL);
    assert_int_equal(bound("epoch_millis", "1706745600000", true), 1706745600000LL);
    int64_t ms;
    assert_false(store_datefmt_parse_bound("dd/MM/yyyy||epoch_millis", "2024-02-01", 10, false, &ms));
}

/* date_nanos: fractions to the nanosecond, 1970 … 2262 only. */
static void test_nanos(void **state)
{
    (void)state;
    int64_t ns = 0;
    assert_int_equal(store_datefmt_parse_ns(NULL, "2018-10-29T12:12:12.123456789Z", 30, false, false, &ns), 1);
    assert_int_equal(ns, 1540815132123456789LL);
    assert_int_equal(store_datefmt_parse_ns(NULL, "1540815132123", 13, true, false, &ns), 1);
    assert_int_equal(ns, 1540815132123000000LL);
    assert_int_equal(store_datefmt_parse_ns(NULL, "1540815132123.456789", 20, false, false, &ns), 1);
    assert_int_equal(ns, 1540815132123456789LL);
    assert_int_equal(store_datefmt_parse_ns("epoch_second", "1540815132.123456789", 20, false, false, &ns), 1);
    assert_int_equal(ns, 1540815132123456789LL);
    assert_int_equal(store_datefmt_parse_ns("yyyy/MM/dd HH:mm:ss.SSSSSSSSS", "2018/10/29 12:12:12.123456789", 29,
                                            false, false, &ns), 1);
    assert_int_equal(ns, 1540815132123456789LL);
    assert_int_equal(store_datefmt_parse_ns(NULL, "2018-10-29T12:12:12Z", 20, false, true, &ns), 1);
    assert_int_equal(ns, 1540815132999999999LL); /* round-up: the second's last nanosecond */
    assert_int_equal(store_datefmt_parse_ns(NULL, "2262-04-11T23:47:16.854775807Z", 30, false, false, &ns), 1);
    assert_int_equal(ns, INT64_MAX);
    assert_int_equal(store_datefmt_parse_ns(NULL, "2262-04-11T23:47:16.854775808Z", 30, false, false, &ns), -2);
    assert_int_equal(store_datefmt_parse_ns(NULL, "1969-12-31T23:59:59Z", 20, false, false, &ns), -1);
    assert_int_equal(store_datefmt_parse_ns(NULL, "no date", 7, false, false, &ns), 0);
}

/* Printing, as `fields` and docvalue_fields show dates: the first alternative
 * of the format, UTC. */
static void printed(const char *fmt, int64_t ms, int32_t sub, bool nanos, const char *want)
{
    char out[96];
    assert_true(store_datefmt_format(fmt, ms, sub, nanos, out, sizeof out));
    assert_string_equal(out, want);
}

static void test_format(void **state)
{
    (void)state;
    printed(STORE_DATEFMT_DEFAULT, 662509800000LL, 0, false, "1990-12-29T22:30:00.000Z");
    printed("yyyy/MM/dd||epoch_millis", 662509800000LL, 0, false, "1990/12/29");
    printed("epoch_millis||yyyy", 662509800000LL, 0, false, "662509800000");
    printed("epoch_second", 662509800123LL, 0, false, "662509800.123");
    printed("epoch_millis", 1540815132123LL, 456789, true, "1540815132123.456789");
    printed("date", -1, 0, false, "1969-12-31");
    printed("basic_date_time", 662509800007LL, 0, false, "19901229T223000.007Z");
    printed("strict_date_time_no_millis", 662509800007LL, 0, false, "1990-12-29T22:30:00Z");
    printed("dd.MM.yy hh:mm a 'at' SS", 662509800070LL, 0, false, "29.12.90 10:30 PM at 07");
    printed(STORE_DATEFMT_NANOS_DEFAULT, 1540815132123LL, 456789, true, "2018-10-29T12:12:12.123456789Z");
    printed(STORE_DATEFMT_NANOS_DEFAULT, 1540815132000LL, 0, true, "2018-10-29T12:12:12.000Z");
    printed(STORE_DATEFMT_NANOS_DEFAULT, 1540815132120LL, 0, true, "2018-10-29T12:12:12.120Z");
    char out[96];
    assert_false(store_datefmt_format("yyyy-qq", 0, 0, false, out, sizeof out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_names_and_alternatives),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_nanos),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
