/* Unit tests for store_ulong: unsigned_long document values, term values and range bounds read as Elasticsearch's UnsignedLongFieldMapper reads them. */
#include "versync/store/store_ulong.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static int doc(const char *s, bool number, uint64_t *u, char *why)
{
    return store_ulong_parse_doc(s, strlen(s), number, u, why, 256);
}

static void test_doc_values(void **state)
{
    (void)state;
    uint64_t u;
    char why[256];
    assert_int_equal(doc("0", true, &u, why), 1);
    assert_true(u == 0);
    assert_int_equal(doc("18446744073709551615", true, &u, why), 1);
    assert_true(u == UINT64_MAX);
    assert_int_equal(doc("9223372036854775808", false, &u, why), 1);
    assert_true(u == 9223372036854775808ULL);
    assert_int_equal(doc("10.0", false, &u, why), 1);
    assert_true(u == 10);
    /* a JSON number with a fraction or exponent is a Double to Elasticsearch's
     * parser: refused, whatever its value */
    assert_int_equal(doc("1e3", true, &u, why), -1);
    assert_string_equal(why, "For input string: [1000.0].");
    assert_int_equal(doc("10.0", true, &u, why), -1);
    assert_string_equal(why, "For input string: [10.0].");
    assert_int_equal(doc("1e20", true, &u, why), -1);
    assert_string_equal(why, "For input string: [1.0E20].");
    assert_int_equal(doc("0.0005", true, &u, why), -1);
    assert_string_equal(why, "For input string: [5.0E-4].");
    assert_int_equal(doc("0.125", true, &u, why), -1);
    assert_string_equal(why, "For input string: [0.125].");
    assert_int_equal(doc("1e3", false, &u, why), 1); /* a string goes through BigDecimal */
    assert_true(u == 1000);
    assert_int_equal(doc("", false, &u, why), 0); /* null */
    assert_int_equal(doc("-1", true, &u, why), -1);
    assert_string_equal(why, "Value [-1] is out of range for unsigned long.");
    assert_int_equal(doc("18446744073709551616", true, &u, why), -1);
    assert_string_equal(why, "Value [18446744073709551616] is out of range for unsigned long");
    assert_int_equal(doc("10.5", true, &u, why), -1);
    assert_string_equal(why, "For input string: [10.5].");
    assert_int_equal(doc("10.5", false, &u, why), -1);
    assert_string_equal(why, "Value \"10.5\" has a decimal part");
    assert_int_equal(doc("abc", false, &u, why), -1);
    assert_string_equal(why, "For input string: \"abc\"");
    assert_int_equal(doc("1.", false, &u, why), 1);
    assert_int_equal(doc("-", false, &u, why), -1);
    assert_int_equal(doc("1e", false, &u, why), -1);
}

static void test_terms_and_bounds(void **state)
{
    (void)state;
    uint64_t u;
    assert_int_equal(store_ulong_parse_term("18446744073709551615", &u), 1);
    assert_true(u == UINT64_MAX);
    assert_int_equal(store_ulong_parse_term("18446744073709551616", &u), 0);
    assert_int_equal(store_ulong_parse_term("-1", &u), 0);
    assert_int_equal(store_ulong_parse_term("1.5", &u), 0);
    assert_int_equal(store_ulong_parse_term("x", &u), -1);
    /* lower bounds: the first value admitted */
    assert_int_equal(store_ulong_parse_bound("0.5", false, true, &u), 1);
    assert_true(u == 1);
    assert_int_equal(store_ulong_parse_bound("-5", false, false, &u), 1);
    assert_true(u == 0);
    assert_int_equal(store_ulong_parse_bound("0", false, false, &u), 1);
    assert_true(u == 1);
    assert_int_equal(store_ulong_parse_bound("9223372036854775807", false, false, &u), 1);
    assert_true(u == 9223372036854775808ULL);
    assert_int_equal(store_ulong_parse_bound("18446744073709551615", false, false, &u), 0);
    assert_int_equal(store_ulong_parse_bound("1e30", false, true, &u), 0);
    /* upper bounds: the last value admitted */
    assert_int_equal(store_ulong_parse_bound("18446744073709551614.5", true, true, &u), 1);
    assert_true(u == 18446744073709551614ULL);
    assert_int_equal(store_ulong_parse_bound("1e30", true, false, &u), 1);
    assert_true(u == UINT64_MAX);
    assert_int_equal(store_ulong_parse_bound("1", true, false, &u), 1);
    assert_true(u == 0);
    assert_int_equal(store_ulong_parse_bound("0", true, false, &u), 0);
    assert_int_equal(store_ulong_parse_bound("-0.5", true, true, &u), 0);
}

static void test_encoding_orders(void **state)
{
    (void)state;
    unsigned char a[8], b[8];
    store_ulong_enc(9223372036854775807ULL, a);
    store_ulong_enc(9223372036854775808ULL, b);
    assert_true(memcmp(a, b, 8) < 0);
    assert_true(store_ulong_unshift((int64_t)(UINT64_MAX ^ (1ULL << 63))) == UINT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_values),
        cmocka_unit_test(test_terms_and_bounds),
        cmocka_unit_test(test_encoding_orders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
