/* Unit tests for demo: the row/document verdicts and the count formatting the final table relies on. */
#include "versync/bridge/demo.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_equal_ignores_key_order_and_spacing(void **state)
{
    (void)state;
    assert_int_equal(demo_compare("{\"id\": 1, \"balance\": 10}", 7, "{\"balance\":10,\"id\":1}", 7, true),
                     DEMO_EQUAL);
    assert_int_equal(demo_compare(NULL, 0, NULL, 0, true), DEMO_EQUAL);
}

static void test_content_difference_is_stale(void **state)
{
    (void)state;
    assert_int_equal(demo_compare("{\"id\":1,\"balance\":10}", 7, "{\"id\":1,\"balance\":11}", 7, true),
                     DEMO_STALE);
    assert_int_equal(demo_compare("{\"id\":1,\"balance\":10}", 7, "{\"id\":1}", 7, true), DEMO_STALE);
    assert_int_equal(demo_compare("{\"id\":1}", 7, "{\"id\":1,\"extra\":true}", 7, true), DEMO_STALE);
    /* Not JSON on one side can never count as equal. */
    assert_int_equal(demo_compare("{\"id\":1}", 7, "{\"id\":", 7, true), DEMO_STALE);
}

static void test_version_checked_only_with_versions(void **state)
{
    (void)state;
    assert_int_equal(demo_compare("{\"id\":1}", 7, "{\"id\":1}", 6, true), DEMO_VERSION);
    /* Without external versions the store counts its own versions: only content matters. */
    assert_int_equal(demo_compare("{\"id\":1}", 7, "{\"id\":1}", 3, false), DEMO_EQUAL);
    assert_int_equal(demo_compare("{\"id\":1}", 7, "{\"id\":2}", 3, false), DEMO_STALE);
}

static void test_presence(void **state)
{
    (void)state;
    assert_int_equal(demo_compare("{\"id\":1}", 7, NULL, 0, true), DEMO_MISSING);
    assert_int_equal(demo_compare(NULL, 0, "{\"id\":1}", 7, true), DEMO_EXTRA);
    assert_int_equal(demo_compare(NULL, 0, "{\"id\":1}", 7, false), DEMO_EXTRA);
    assert_string_equal(demo_verdict_name(DEMO_MISSING), "missing document");
}

static void test_put_count_groups_thousands(void **state)
{
    (void)state;
    static const struct {
        long long n;
        const char *text;
    } cases[] = {{0, "0"},          {999, "999"},        {1000, "1,000"},
                 {48213, "48,213"}, {123456, "123,456"}, {1234567, "1,234,567"},
                 {-1234, "-1,234"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b = BUF_INIT;
        assert_true(demo_put_count(&b, cases[i].n));
        assert_string_equal(b.data, cases[i].text);
        buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_ignores_key_order_and_spacing),
        cmocka_unit_test(test_content_difference_is_stale),
        cmocka_unit_test(test_version_checked_only_with_versions),
        cmocka_unit_test(test_presence),
        cmocka_unit_test(test_put_count_groups_thousands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
