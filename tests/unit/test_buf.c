/* Unit tests for buf: growth, the hard cap, JSON string escaping, ownership. */
#include "versync/common/buf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Allocation-failure injection (see buf.c): fails while g_fail is set. */
static bool g_fail;
void *buf_test_realloc(void *p, size_t n);
void *buf_test_realloc(void *p, size_t n) { return g_fail ? NULL : realloc(p, n); }

static void test_failed_allocation_is_sticky(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    unsigned long before = buf_alloc_failures();
    assert_true(buf_puts(&b, "{\"a\":"));
    assert_true(buf_ok(&b));
    g_fail = true;
    char big[600];
    memset(big, 'x', sizeof big);
    assert_false(buf_append(&b, big, sizeof big)); /* needs more than the first 256 bytes */
    g_fail = false;
    assert_true(b.failed);
    assert_false(b.overflow);
    assert_int_equal(buf_alloc_failures(), before + 1);
    /* Later appends that fit succeed, but the buffer stays marked: the text
     * has a hole, and whoever sends it checks buf_ok once. */
    assert_true(buf_puts(&b, "1}"));
    assert_string_equal(b.data, "{\"a\":1}");
    assert_false(buf_ok(&b));
    buf_reset(&b);
    assert_true(buf_ok(&b));
    /* A size that cannot be represented counts as an allocation failure too. */
    assert_false(buf_reserve(&b, SIZE_MAX));
    assert_true(b.failed);
    assert_int_equal(buf_alloc_failures(), before + 2);
    buf_free(&b);
    assert_true(buf_ok(&b));
}

static void test_append_grows_and_terminates(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    for (int i = 0; i < 1000; i++)
        assert_true(buf_printf(&b, "%d,", i % 10));
    assert_int_equal(b.len, 2000);
    assert_int_equal(b.data[b.len], '\0');
    assert_memory_equal(b.data, "0,1,2,", 6);
    buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
}

static void test_cap_refuses_and_keeps_contents(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 8);
    assert_true(buf_puts(&b, "12345678"));
    assert_false(b.overflow);
    assert_false(buf_putc(&b, '9'));
    assert_true(b.overflow);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    assert_false(buf_printf(&b, "%s", "x"));
    buf_reset(&b);
    assert_false(b.overflow);
    assert_true(buf_puts(&b, "ab"));
    assert_string_equal(b.data, "ab");
    buf_free(&b);
}

static void test_json_string_escapes(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    const char in[] = "a\"b\\c\nd\x01\te\xc3\xa9";
    assert_true(buf_put_json_string(&b, in, sizeof in - 1));
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\u0001\\te\xc3\xa9\"");
    buf_reset(&b);
    /* Embedded NUL bytes are data, not terminators. */
    assert_true(buf_put_json_string(&b, "x\0y", 3));
    assert_string_equal(b.data, "\"x\\u0000y\"");
    buf_free(&b);
}

static void test_json_string_all_or_nothing_at_cap(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 6);
    assert_true(buf_puts(&b, "ab"));
    assert_false(buf_put_json_string(&b, "cdef", 4)); /* would need 6 more */
    assert_string_equal(b.data, "ab");
    assert_int_equal(b.len, 2);
    buf_free(&b);
}

static void test_steal_transfers_ownership(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 100);
    char *empty = buf_steal(&b);
    assert_non_null(empty);
    assert_string_equal(empty, "");
    free(empty);
    buf_puts(&b, "hello");
    char *s = buf_steal(&b);
    assert_string_equal(s, "hello");
    assert_null(b.data);
    assert_int_equal(b.max, 100);
    free(s);
    buf_free(NULL);
    buf_free(&b);
    buf_free(&b);
}

static void test_read_stream_respects_cap(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    for (int i = 0; i < 3000; i++)
        fputs("0123456789", f);
    rewind(f);
    buf b = BUF_INIT;
    assert_true(buf_read_stream(&b, f));
    assert_int_equal(b.len, 30000);
    assert_memory_equal(b.data + 29990, "0123456789", 10);
    buf_free(&b);
    rewind(f);
    buf_init(&b, 1000);
    assert_false(buf_read_stream(&b, f));
    assert_true(b.overflow);
    assert_true(b.len <= 1000);
    buf_free(&b);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_grows_and_terminates),
        cmocka_unit_test(test_failed_allocation_is_sticky),
        cmocka_unit_test(test_cap_refuses_and_keeps_contents),
        cmocka_unit_test(test_json_string_escapes),
        cmocka_unit_test(test_json_string_all_or_nothing_at_cap),
        cmocka_unit_test(test_steal_transfers_ownership),
        cmocka_unit_test(test_read_stream_respects_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
