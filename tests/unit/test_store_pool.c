/* Unit tests for store_pool and store_deadline: the pool runs every task and refuses past threads + queue; a deadline stops at its time and when the peer hangs up. */
#include "versync/store/store_deadline.h"
#include "versync/store/store_pool.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    atomic_int started, done;
    store_pool *pool;
} gate;

/* A task that waits until the gate opens: keeps its worker busy. */
static void blocked(void *arg)
{
    gate *g = arg;
    atomic_fetch_add(&g->started, 1);
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->done, 1);
}

static void wait_started(gate *g, int n)
{
    for (int i = 0; i < 5000 && atomic_load(&g->started) < n; i++) {
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&g->started), n);
}

static void test_pool_bound(void **state)
{
    (void)state;
    char err[128];
    store_pool *p = store_pool_new(2, 1, 0, err, sizeof err);
    assert_non_null(p);
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0, NULL};
    /* two running and one queued fit; a fourth is refused */
    for (int i = 0; i < 3; i++) {
        assert_true(store_pool_reserve(p));
        store_pool_submit(p, blocked, &g);
    }
    wait_started(&g, 2);
    assert_int_equal(store_pool_pending(p), 3);
    assert_false(store_pool_reserve(p));
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    store_pool_free(p); /* runs what is queued, then joins */
    assert_int_equal(atomic_load(&g.done), 3);
    store_pool_free(NULL);
    assert_null(store_pool_new(0, 1, 0, err, sizeof err));
}

/* A task that releases its place, says it has answered, then lingers on its
 * thread until the gate opens (the window between handing an answer over and
 * the worker's return to the pool). */
static void answers_then_lingers(void *arg)
{
    gate *g = arg;
    store_pool_release(g->pool);
    store_pool_release(g->pool); /* a second call changes nothing */
    atomic_fetch_add(&g->started, 1);
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    atomic_fetch_add(&g->done, 1);
}

static void test_pool_release(void **state)
{
    (void)state;
    char err[128];
    store_pool *p = store_pool_new(1, 0, 0, err, sizeof err);
    assert_non_null(p);
    gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0, 0, p};
    assert_true(store_pool_reserve(p));
    store_pool_submit(p, answers_then_lingers, &g);
    wait_started(&g, 1);
    /* the one thread is still inside the task, but its place is free: the
     * client's next request is not refused */
    assert_int_equal(store_pool_pending(p), 0);
    assert_true(store_pool_reserve(p));
    store_pool_submit(p, blocked, &g);
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    store_pool_free(p);
    assert_int_equal(atomic_load(&g.done), 2);
}

static void test_deadline_time(void **state)
{
    (void)state;
    assert_false(store_deadline_poll()); /* not watching: never stops */
    store_deadline_begin(30, -1);
    assert_true(store_deadline_has_timeout());
    assert_false(store_deadline_poll());
    int i = 0;
    for (; i < 1000000 && !store_deadline_poll(); i++) {
        struct timespec ts = {0, 100000L};
        nanosleep(&ts, NULL);
    }
    assert_true(store_deadline_timed_out());
    assert_false(store_deadline_client_gone());
    assert_true(store_deadline_poll()); /* sticky */
    store_deadline_end();
    assert_false(store_deadline_poll());
    assert_false(store_deadline_timed_out());
    /* the request's own -1 removes the default */
    store_deadline_begin(0, -1);
    store_deadline_set_timeout(-1);
    assert_false(store_deadline_has_timeout());
    for (i = 0; i < 100; i++)
        assert_false(store_deadline_poll());
    store_deadline_end();
}

static void test_deadline_hangup(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    store_deadline_begin(-1, sv[0]);
    assert_int_equal(write(sv[1], "GET / HTTP/1.1\r\n\r\n", 18), 18); /* a pipelined request is not a hang-up */
    for (int i = 0; i < 50; i++)
        assert_false(store_deadline_poll());
    close(sv[1]);
    bool stopped = false;
    for (int i = 0; i < 100000 && !stopped; i++) {
        stopped = store_deadline_poll();
        if (!stopped) {
            struct timespec ts = {0, 100000L};
            nanosleep(&ts, NULL);
        }
    }
    assert_true(stopped);
    assert_true(store_deadline_client_gone());
    assert_false(store_deadline_timed_out());
    store_deadline_end();
    close(sv[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_bound),
        cmocka_unit_test(test_pool_release),
        cmocka_unit_test(test_deadline_time),
        cmocka_unit_test(test_deadline_hangup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
