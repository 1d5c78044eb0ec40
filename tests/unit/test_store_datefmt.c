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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_names_and_alternatives),
        cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
