/* Unit tests for store_datemath: Elasticsearch's documented date-math index names at a fixed instant, escapes and refusals. */
#include "versync/store/store_datemath.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* 2024-03-22T14:30:45.123Z: the day of the examples in Elasticsearch's
 * "Date math support in index and index alias names". */
#define NOW 1711117845123LL

static void expect(const char *name, const char *want)
{
    buf out = BUF_INIT;
    bool resolved = false;
    const char *type = NULL;
    char err[512] = "";
    assert_int_equal(store_datemath_resolve(name, NOW, &out, &resolved, &type, err, sizeof err), 1);
    assert_true(resolved);
    assert_string_equal(out.data, want);
    buf_free(&out);
}

static void expect_error(const char *name, const char *want_type, const char *want_reason)
{
    buf out = BUF_INIT;
    bool resolved = false;
    const char *type = NULL;
    char err[512] = "";
    assert_int_equal(store_datemath_resolve(name, NOW, &out, &resolved, &type, err, sizeof err), 0);
    assert_string_equal(type, want_type);
    if (want_reason)
        assert_string_equal(err, want_reason);
    assert_null(out.data);
    buf_free(&out);
}

static void test_documented_examples(void **state)
{
    (void)state;
    expect("<logstash-{now/d}>", "logstash-2024.03.22");
    expect("<logstash-{now/M}>", "logstash-2024.03.01");
    expect("<logstash-{now/M{yyyy.MM}}>", "logstash-2024.03");
    expect("<logstash-{now/M-1M{yyyy.MM}}>", "logstash-2024.02");
    expect("<logstash-{now/d{yyyy.MM.dd|+12:00}}>", "logstash-2024.03.23");
    expect("<my-index-{now/d}>", "my-index-2024.03.22");
}

static void test_math_rounding_and_zones(void **state)
{
    (void)state;
    expect("<a-{now}>", "a-2024.03.22");
    expect("<a-{now-1d/d}>", "a-2024.03.21");
    expect("<a-{now+10d/d}>", "a-2024.04.01");
    expect("<a-{now/w}>", "a-2024.03.18"); /* Monday */
    expect("<a-{now/y{uuuu}}>", "a-2024");
    expect("<a-{now/H{yyyy.MM.dd.HH.mm}}>", "a-2024.03.22.14.00");
    expect("<a-{now-1h{yyyyMMddHHmmss.SSS}}>", "a-20240322133045.123");
    expect("<a-{now{yyyy.MM.dd.HH|America/New_York}}>", "a-2024.03.22.10"); /* EDT, UTC-4 */
    expect("<a-{now{d.M.yy}}>", "a-22.3.24");
    expect("<a-{now{MMM}}>", "a-Mar");
    expect("<a-{now{'y'yyyy}}>", "a-y2024");
    /* Jan 31 + 1M clamps as java.time's plusMonths */
    expect("<a-{now/y+30d+1M{yyyy.MM.dd}}>", "a-2024.02.29");
}

static void test_escapes_and_static_text(void **state)
{
    (void)state;
    expect("<elastic\\{ON\\}-{now/M}>", "elastic{ON}-2024.03.01");
    expect("<plain>", "plain");
    expect("<a-{now/d}-b-{now/M{yyyy}}>", "a-2024.03.22-b-2024");
    buf out = BUF_INIT;
    bool resolved = true;
    const char *type = NULL;
    char err[64];
    assert_int_equal(store_datemath_resolve("logs-2024", NOW, &out, &resolved, &type, err, sizeof err), 1);
    assert_false(resolved);
    assert_null(out.data);
    char *list = NULL;
    assert_int_equal(store_datemath_resolve_list("x,<a-{now/d}>,y", NOW, &list, &type, err, sizeof err), 1);
    assert_string_equal(list, "x,a-2024.03.22,y");
    free(list);
    assert_int_equal(store_datemath_resolve_list("x,y", NOW, &list, &type, err, sizeof err), 1);
    assert_null(list);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_error("<a-{now/x}>", "parse_exception", "unit [x] not supported for date math [/x]");
    expect_error("<a-{now*2d}>", "parse_exception", "operator not supported for date math [*2d]");
    expect_error("<a-{now+2}>", "parse_exception", "truncated date math [+2]");
    expect_error("<a-{now/2d}>", "parse_exception", "rounding `/` can only be used on single unit types [/2d]");
    expect_error("<a-{now>", "parse_exception", "invalid dynamic name expression [a-{now]. date math placeholder is open ended");
    expect_error("<a-}>", "parse_exception", NULL);
    expect_error("<a-{now/d{}}>", "parse_exception", "invalid dynamic name expression [now/d{}]. missing date format");
    expect_error("<{now/d{yyyy|Nowhere/Atlantis}}>", "illegal_argument_exception", "Unknown time-zone ID: Nowhere/Atlantis");
    expect_error("<a-{now{yyyy#}}>", "illegal_argument_exception", NULL);
    expect_error("<>", "parse_exception", "nothing captured");
    expect_error("<a-{2024.01.01}>", "parse_exception", NULL);
}

/* store_datemath_parse: JavaDateMathParser's reading of a query value. */
static int64_t parse_ok(const char *text, const char *zone, bool up)
{
    int64_t ms = 0;
    char err[512] = "";
    int rc = store_datemath_parse(text, NULL, zone, NOW, up, &ms, err, sizeof err);
    if (rc != 1)
        fail_msg("%s: %s", text, err);
    return ms;
}

static void parse_err(const char *text, const char *want_reason)
{
    int64_t ms = 0;
    char err[512] = "";
    assert_int_equal(store_datemath_parse(text, NULL, NULL, NOW, false, &ms, err, sizeof err), 0);
    assert_string_equal(err, want_reason);
}

/* gte and lt bounds round down, gt and lte up to the unit's last millisecond
 * (DateFieldType.rangeQuery: roundUp = !includeLower for the lower bound,
 * includeUpper for the upper). */
static void test_bound_rounding(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("now", NULL, false), NOW);
    assert_int_equal(parse_ok("now", NULL, true), NOW); /* nothing to round */
    assert_int_equal(parse_ok("now/d", NULL, false), 1711065600000LL);
    assert_int_equal(parse_ok("now/d", NULL, true), 1711151999999LL);
    assert_int_equal(parse_ok("now-1d/d", NULL, false), 1710979200000LL);
    assert_int_equal(parse_ok("now-1d/d", NULL, true), 1711065599999LL);
    assert_int_equal(parse_ok("now/M", NULL, true), 1711929599999LL);
    assert_int_equal(parse_ok("now/y", NULL, true), 1735689599999LL);
    assert_int_equal(parse_ok("now/w", NULL, false), 1710720000000LL); /* Monday */
    assert_int_equal(parse_ok("now/w", NULL, true), 1711324799999LL);  /* Sunday's last ms */
    assert_int_equal(parse_ok("now/h", NULL, true), 1711119599999LL);
    assert_int_equal(parse_ok("2020-01-01||+1M/d", NULL, false), 1580515200000LL);
    assert_int_equal(parse_ok("2020-01-01||+1M/d", NULL, true), 1580601599999LL);
    /* the date before || is never rounded up itself: only its math is */
    assert_int_equal(parse_ok("2020-01-01||+1M", NULL, true), 1580515200000LL);
    /* a plain date rounds up to the last millisecond it names */
    assert_int_equal(parse_ok("2020-01-01", NULL, true), 1577923199999LL);
    assert_int_equal(parse_ok("2020-01-01", NULL, false), 1577836800000LL);
}

/* time_zone: `now` rounds there, dates without an offset are wall times
 * there, dates with one keep it; DST days are 23 and 25 hours long. */
static void test_zones(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("now/d", "+01:00", false), 1711062000000LL);
    assert_int_equal(parse_ok("2020-01-01", "Europe/Paris", false), 1577833200000LL);
    assert_int_equal(parse_ok("2020-01-01T00:00:00Z", "+05:00", false), 1577836800000LL);
    assert_int_equal(parse_ok("1577836800000", "+05:00", false), 1577836800000LL); /* epoch_millis is an instant */
    assert_int_equal(parse_ok("2024-03-31||/d", "Europe/Paris", false), 1711839600000LL);
    assert_int_equal(parse_ok("2024-03-31||/d", "Europe/Paris", true), 1711922399999LL);
    assert_int_equal(parse_ok("2024-10-27T12:00:00||/d", "Europe/Paris", false), 1729980000000LL);
    assert_int_equal(parse_ok("2024-10-27T12:00:00||/d", "Europe/Paris", true), 1730069999999LL);
    assert_true(store_datemath_zone_valid("America/New_York"));
    assert_true(store_datemath_zone_valid("-05:30"));
    assert_false(store_datemath_zone_valid("Mars/Olympus"));
}

static void test_parse_errors(void **state)
{
    (void)state;
    parse_err("now+1x", "unit [x] not supported for date math [+1x]");
    parse_err("now/2d", "rounding `/` can only be used on single unit types [/2d]");
    parse_err("now-1", "truncated date math [-1]");
    parse_err("now*1d", "operator not supported for date math [*1d]");
    parse_err("", "cannot parse empty date");
    parse_err("soon||+1d", "failed to parse date field [soon] with format [strict_date_optional_time||epoch_millis]: "
                           "[failed to parse date field [soon] with format [strict_date_optional_time||epoch_millis]]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented_examples),
        cmocka_unit_test(test_math_rounding_and_zones),
        cmocka_unit_test(test_escapes_and_static_text),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bound_rounding),
        cmocka_unit_test(test_zones),
        cmocka_unit_test(test_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
