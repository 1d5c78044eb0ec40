/* Unit tests for grow: doubling growth, overflow refused before any allocation, checked multiplication. */
#include "versync/common/grow.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

static void test_grows_by_doubling(void **state)
{
    (void)state;
    int *v = NULL;
    size_t cap = 0;
    assert_true(GROW_ARRAY(v, cap, 1, 8));
    assert_int_equal(cap, 8);
    for (int i = 0; i < 8; i++)
        v[i] = i;
    assert_true(GROW_ARRAY(v, cap, 5, 8)); /* fits: unchanged */
    assert_int_equal(cap, 8);
    assert_true(GROW_ARRAY(v, cap, 9, 8));
    assert_int_equal(cap, 16);
    assert_true(GROW_ARRAY(v, cap, 100, 8)); /* several doublings at once */
    assert_int_equal(cap, 128);
    assert_int_equal(v[7], 7); /* contents kept */
    free(v);
}

static void test_overflow_refused(void **state)
{
    (void)state;
    double *v = NULL;
    size_t cap = 0;
    assert_false(GROW_ARRAY(v, cap, SIZE_MAX / sizeof *v + 1, 8));
    assert_null(v);
    assert_int_equal(cap, 0);
    assert_true(GROW_ARRAY(v, cap, 4, 0)); /* first 0 starts at 1 */
    assert_int_equal(cap, 4);
    size_t before = cap;
    assert_false(GROW_ARRAY(v, cap, SIZE_MAX, 8)); /* doubling past SIZE_MAX/2 asks for need exactly: too big */
    assert_int_equal(cap, before);
    assert_non_null(v);
    free(v);
}

static void test_mul(void **state)
{
    (void)state;
    assert_int_equal(grow_mul(3, 4), 12);
    assert_int_equal(grow_mul(0, SIZE_MAX), 0);
    assert_int_equal(grow_mul(SIZE_MAX / 2 + 1, 2), SIZE_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_by_doubling),
        cmocka_unit_test(test_overflow_refused),
        cmocka_unit_test(test_mul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
