/* Unit tests for init's helpers: Elasticsearch time values and reading index.gc_deletes. */
#include "versync/bridge/init.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static void test_time_values(void **state)
{
    (void)state;
    assert_int_equal(init_time_value_ms("60s"), 60000);
    assert_int_equal(init_time_value_ms("1h"), 3600000);
    assert_int_equal(init_time_value_ms("90m"), 5400000);
    assert_int_equal(init_time_value_ms("2d"), 172800000);
    assert_int_equal(init_time_value_ms("500ms"), 500);
    assert_int_equal(init_time_value_ms("1.5m"), 90000);
    assert_int_equal(init_time_value_ms("2000000micros"), 2000);
    assert_int_equal(init_time_value_ms("3000000000nanos"), 3000);
    assert_int_equal(init_time_value_ms("60"), -1);
    assert_int_equal(init_time_value_ms("s"), -1);
    assert_int_equal(init_time_value_ms("-1s"), -1);
    assert_int_equal(init_time_value_ms("1 h"), -1);
    assert_int_equal(init_time_value_ms("1y"), -1);
}

static void test_gc_deletes_from_settings(void **state)
{
    (void)state;
    /* Explicit setting wins over the reported default. */
    assert_int_equal(init_gc_deletes_ms("{\"p\":{\"settings\":{\"index.gc_deletes\":\"2h\"},"
                                        "\"defaults\":{\"index.gc_deletes\":\"60s\"}}}"),
                     7200000);
    assert_int_equal(init_gc_deletes_ms("{\"p\":{\"settings\":{},\"defaults\":{\"index.gc_deletes\":\"60s\"}}}"),
                     60000);
    /* Not reported at all: Elasticsearch's built-in default. */
    assert_int_equal(init_gc_deletes_ms("{\"p\":{\"settings\":{\"index.number_of_shards\":\"1\"}}}"), 60000);
    assert_int_equal(init_gc_deletes_ms("{\"p\":{\"settings\":{\"index.gc_deletes\":\"soon\"}}}"), -1);
    assert_int_equal(init_gc_deletes_ms("not json"), -1);
    assert_int_equal(init_gc_deletes_ms("[]"), -1);
    assert_int_equal(init_gc_deletes_ms("{}"), -1);
    assert_int_equal(init_gc_deletes_ms(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_values),
        cmocka_unit_test(test_gc_deletes_from_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
