/* Unit tests of bridge_wal_window: the confirmed position with several _bulk writes of the WAL
 * stream in flight moves only past a prefix of batches all answered for, whatever order the
 * answers come in. No PostgreSQL. */
#include "versync/bridge/wal_window.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

static void test_in_order(void **state)
{
    (void)state;
    wal_window w;
    wal_window_init(&w, 100);
    uint64_t a = wal_window_open(&w, 200), b = wal_window_open(&w, 300);
    assert_int_equal(wal_window_open_count(&w), 2);
    assert_int_equal(wal_window_acked(&w), 100);
    assert_true(wal_window_done(&w, a));
    assert_int_equal(wal_window_acked(&w), 200);
    assert_true(wal_window_done(&w, b));
    assert_int_equal(wal_window_acked(&w), 300);
    assert_int_equal(wal_window_open_count(&w), 0);
    wal_window_free(&w);
}

/* The later batch answered first: nothing moves until the earlier one is answered too. */
static void test_out_of_order(void **state)
{
    (void)state;
    wal_window w;
    wal_window_init(&w, 0);
    uint64_t a = wal_window_open(&w, 10), b = wal_window_open(&w, 20), c = wal_window_open(&w, 30);
    assert_true(wal_window_done(&w, c));
    assert_int_equal(wal_window_acked(&w), 0);
    assert_true(wal_window_done(&w, b));
    assert_int_equal(wal_window_acked(&w), 0);
    assert_true(wal_window_done(&w, a));
    assert_int_equal(wal_window_acked(&w), 30);
    wal_window_free(&w);
}

/* The middle one stays open (a store retrying it): the confirmed position stops before it. */
static void test_stuck_middle(void **state)
{
    (void)state;
    wal_window w;
    wal_window_init(&w, 0);
    uint64_t a = wal_window_open(&w, 10), b = wal_window_open(&w, 20);
    uint64_t c = wal_window_open(&w, 30), d = wal_window_open(&w, 40);
    assert_true(wal_window_done(&w, a));
    assert_true(wal_window_done(&w, c));
    assert_true(wal_window_done(&w, d));
    assert_int_equal(wal_window_acked(&w), 10);
    assert_true(wal_window_mark(&w, 45));
    assert_int_equal(wal_window_acked(&w), 10);
    assert_true(wal_window_done(&w, b));
    assert_int_equal(wal_window_acked(&w), 45);
    wal_window_free(&w);
}

/* A mark with nothing open confirms at once; behind an open batch it waits for it. */
static void test_marks(void **state)
{
    (void)state;
    wal_window w;
    wal_window_init(&w, 5);
    assert_true(wal_window_mark(&w, 8));
    assert_int_equal(wal_window_acked(&w), 8);
    assert_true(wal_window_mark(&w, 7)); /* never backwards */
    assert_int_equal(wal_window_acked(&w), 8);
    uint64_t a = wal_window_open(&w, 8); /* a batch of part of a transaction: nothing new whole */
    assert_true(wal_window_mark(&w, 50));
    assert_int_equal(wal_window_acked(&w), 8);
    assert_true(wal_window_done(&w, a));
    assert_int_equal(wal_window_acked(&w), 50);
    wal_window_free(&w);
}

static void test_unknown_ticket(void **state)
{
    (void)state;
    wal_window w;
    wal_window_init(&w, 0);
    uint64_t a = wal_window_open(&w, 10);
    assert_false(wal_window_done(&w, 0));
    assert_false(wal_window_done(&w, a + 1));
    assert_true(wal_window_done(&w, a));
    assert_false(wal_window_done(&w, a)); /* twice */
    assert_int_equal(wal_window_acked(&w), 10);
    wal_window_reset(&w, 3);
    assert_int_equal(wal_window_acked(&w), 3);
    assert_int_equal(wal_window_open_count(&w), 0);
    wal_window_free(&w);
    wal_window_free(NULL);
}

/* Many answered batches behind one open one cost no memory: the window stays at 2k+1 entries. */
static void test_bounded(void **state)
{
    (void)state;
    wal_window w;
    wal_window_init(&w, 0);
    uint64_t first = wal_window_open(&w, 1);
    for (uint64_t i = 2; i < 100000; i++) {
        uint64_t t = wal_window_open(&w, i);
        if (i % 7 == 0)
            assert_true(wal_window_mark(&w, i));
        assert_true(wal_window_done(&w, t));
        assert_true(w.n <= 3);
    }
    assert_int_equal(wal_window_acked(&w), 0);
    assert_true(wal_window_done(&w, first));
    assert_int_equal(wal_window_acked(&w), 99999);
    wal_window_free(&w);
}

/* Random answer orders against the rule checked directly: acked is the greatest upto whose batch
 * and every earlier batch are answered. */
static void test_random_orders(void **state)
{
    (void)state;
    srand(22);
    for (int round = 0; round < 200; round++) {
        enum { N = 16 };
        wal_window w;
        wal_window_init(&w, 0);
        uint64_t t[N], upto[N];
        bool done[N] = {0};
        uint64_t u = 0;
        for (int i = 0; i < N; i++) {
            u += (uint64_t)(rand() % 3); /* equal positions too: a transaction split over batches */
            upto[i] = u;
            t[i] = wal_window_open(&w, u);
        }
        for (int k = 0; k < N; k++) {
            int i;
            do
                i = rand() % N;
            while (done[i]);
            done[i] = true;
            assert_true(wal_window_done(&w, t[i]));
            uint64_t want = 0;
            for (int j = 0; j < N && done[j]; j++)
                want = upto[j];
            assert_int_equal(wal_window_acked(&w), want);
        }
        wal_window_free(&w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),     cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_stuck_middle), cmocka_unit_test(test_marks),
        cmocka_unit_test(test_unknown_ticket), cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_random_orders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
