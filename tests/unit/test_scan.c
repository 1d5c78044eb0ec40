/* Unit tests for scan: strict integers, doubles, Elasticsearch byte sizes and time values. */
#include "versync/bridge/init.h"
#include "versync/common/scan.h"
#include "versync/store/store_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

static void test_int64_strict(void **state)
{
    (void)state;
    int64_t v = 7;
    assert_true(scan_int64("42", 0, 100, &v) && v == 42);
    assert_true(scan_int64("-5", -10, 10, &v) && v == -5);
    assert_true(scan_int64("007", 0, 10, &v) && v == 7);
    assert_true(scan_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v) && v == INT64_MAX);
    assert_true(scan_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v) && v == INT64_MIN);
    v = 7;
    const char *bad[] = {"", "-", "+5", " 5", "5 ", "0x10", "5a", "1e3", "9223372036854775808",
                         "-9223372036854775809", "99999999999999999999999", "nan", "inf", "1.0", "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(scan_int64(bad[i], INT64_MIN, INT64_MAX, &v));
    assert_int_equal(v, 7); /* untouched on refusal */
    assert_false(scan_int64("101", 0, 100, &v));
    assert_false(scan_int64("0", 1, 100, &v));
    assert_false(scan_int64(NULL, 0, 1, &v));
}

static void test_uint64_strict(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(scan_uint64("18446744073709551615", UINT64_MAX, &v) && v == UINT64_MAX);
    assert_false(scan_uint64("18446744073709551616", UINT64_MAX, &v));
    assert_false(scan_uint64("-1", UINT64_MAX, &v));
    assert_false(scan_uint64("65536", 65535, &v));
    assert_false(scan_uint64("12 ", UINT64_MAX, &v));
}

static void test_double_strict(void **state)
{
    (void)state;
    double d = 0;
    assert_true(scan_double("1.5", &d) && d == 1.5);
    assert_true(scan_double("-2e3", &d) && d == -2000);
    assert_true(scan_double("1E-2", &d) && d == 0.01);
    assert_true(scan_double("1e-400", &d) && d == 0); /* underflow is 0, not an error */
    const char *bad[] = {"", "nan", "NaN", "inf", "-inf", "infinity", "0x10", "0x1p3", " 1", "1 ",
                         "1.", ".5", "1e", "1e+", "+1", "1e400", "-1e400", "1,5", "1.5.2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(scan_double(bad[i], &d));
}

static void test_bytes_as_elasticsearch(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(scan_bytes("0", 0, &v) && v == 0);
    assert_true(scan_bytes("10b", 0, &v) && v == 10);
    assert_true(scan_bytes("10B", 0, &v) && v == 10);
    assert_true(scan_bytes("1k", 0, &v) && v == 1024);
    assert_true(scan_bytes("1KB", 0, &v) && v == 1024);
    assert_true(scan_bytes("100mb", 0, &v) && v == 100ULL << 20);
    assert_true(scan_bytes("2g", 0, &v) && v == 2ULL << 30);
    assert_true(scan_bytes("3tb", 0, &v) && v == 3ULL << 40);
    assert_true(scan_bytes("4Pb", 0, &v) && v == 4ULL << 50);
    assert_true(scan_bytes("1.5gb", 0, &v) && v == 3ULL << 29); /* fractions, as Elasticsearch (deprecated) */
    assert_true(scan_bytes("0.1kb", 0, &v) && v == 102);        /* truncated to whole bytes */
    assert_true(scan_bytes("15pb", 0, &v) && v == 15ULL << 50);
    assert_false(scan_bytes("16384pb", 0, &v)); /* 2^64 */
    assert_false(scan_bytes("1000", 0, &v));    /* a unit is required but for 0 ... */
    assert_true(scan_bytes("1000", SCAN_BARE, &v) && v == 1000); /* ... unless the caller takes bare bytes */
    assert_false(scan_bytes("18446744073709551616", SCAN_BARE, &v));
    const char *bad[] = {"", "b", "kb", "1.5b", "1.5", "-1", "-1b", " 1kb", "1kb ", "1 kb", "0x10kb", "1e3kb",
                         "nankb", "1kib", "1q", "1bb", "1.kb", ".5kb"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(scan_bytes(bad[i], SCAN_BARE, &v));
}

static void test_duration_as_elasticsearch(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_true(scan_duration_ms("60s", 0, &ms) && ms == 60000);
    assert_true(scan_duration_ms("500ms", 0, &ms) && ms == 500);
    assert_true(scan_duration_ms("2m", 0, &ms) && ms == 120000);
    assert_true(scan_duration_ms("1h", 0, &ms) && ms == 3600000);
    assert_true(scan_duration_ms("1d", 0, &ms) && ms == 86400000);
    assert_true(scan_duration_ms("1500micros", 0, &ms) && ms == 1);
    assert_true(scan_duration_ms("999999nanos", 0, &ms) && ms == 0);
    assert_true(scan_duration_ms("5S", 0, &ms) && ms == 5000);   /* case-insensitive… */
    assert_true(scan_duration_ms("5MS", 0, &ms) && ms == 5);
    assert_false(scan_duration_ms("5M", 0, &ms));                /* …but M is months */
    assert_true(scan_duration_ms("-1", 0, &ms) && ms == -1);
    assert_true(scan_duration_ms("-1s", 0, &ms) && ms == -1);
    assert_true(scan_duration_ms("0", 0, &ms) && ms == 0);
    assert_true(scan_duration_ms("000", 0, &ms) && ms == 0);
    assert_true(scan_duration_ms("106751991167d", 0, &ms) && ms == 106751991167LL * 86400000);
    assert_false(scan_duration_ms("106751991168d", 0, &ms)); /* past INT64_MAX ms */
    assert_false(scan_duration_ms("1.5m", 0, &ms));          /* Elasticsearch 7+: no fractions */
    assert_true(scan_duration_ms("1.5m", SCAN_FRACTION, &ms) && ms == 90000);
    assert_true(scan_duration_ms("0.0015s", SCAN_FRACTION, &ms) && ms == 1);
    const char *bad[] = {"", "s", "60", "nans", "nanms", "infs", " 5s", "5s ", "5 s", "0x10s", "1e300d", "1e3s",
                         "-2s", "-5", "+5s", "5y", "5sec", "5.s", ".5s", "9999999999999999999999d", "-1.5s", "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(scan_duration_ms(bad[i], 0, &ms));
        assert_false(scan_duration_ms(bad[i], SCAN_FRACTION, &ms));
    }
}

/* The two parsers that disagreed (issue 24) are now this one. */
static void test_store_and_bridge_agree(void **state)
{
    (void)state;
    int64_t ms;
    const char *bad[] = {"nans", " 5s", "0x10s", "1e300d", "infd", "1e3s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(store_util_parse_time_ms(bad[i], &ms));
        assert_int_equal(init_time_value_ms(bad[i]), -1);
    }
    assert_true(store_util_parse_time_ms("90s", &ms) && ms == 90000);
    assert_int_equal(init_time_value_ms("90s"), 90000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int64_strict),           cmocka_unit_test(test_uint64_strict),
        cmocka_unit_test(test_double_strict),          cmocka_unit_test(test_bytes_as_elasticsearch),
        cmocka_unit_test(test_duration_as_elasticsearch), cmocka_unit_test(test_store_and_bridge_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
