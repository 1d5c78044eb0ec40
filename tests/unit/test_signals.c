/* Unit tests for signals: flags, the blocked mask, the wake pipe, the second stop signal. Each case runs in a forked child. */
#include "versync/common/signals.h"

#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* Run `fn` in a child; returns its wait status. A child's failed check is exit 10+n. */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn());
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

static int stop_then_second_exits(void)
{
    if (!signals_init(SIGNALS_SECOND_EXITS, NULL, NULL, 0))
        return 11;
    raise(SIGTERM);
    if (signals_stop != 1)
        return 12; /* the first one only sets the flag: the batch in flight finishes */
    raise(SIGINT); /* the second ends the process by that signal */
    return 13;
}

static void test_second_stop_signal_exits_now(void **state)
{
    (void)state;
    int st = in_child(stop_then_second_exits);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGINT);
}

static int counted_without_second_exit(void)
{
    if (!signals_init(SIGNALS_RELOAD, NULL, NULL, 0))
        return 11;
    raise(SIGTERM);
    raise(SIGTERM);
    raise(SIGHUP);
    if (signals_stop != 2)
        return 12; /* the supervisor counts: the second one kills its workers */
    if (!signals_reload)
        return 13;
    raise(SIGPIPE); /* ignored */
    return 0;
}

static void test_flags_count_and_pipe_is_ignored(void **state)
{
    (void)state;
    int st = in_child(counted_without_second_exit);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static int blocked_until_polled(void)
{
    sigset_t wait_mask;
    if (!signals_init(SIGNALS_RELOAD | SIGNALS_CHILD | SIGNALS_BLOCK, &wait_mask, NULL, 0))
        return 11;
    if (sigismember(&wait_mask, SIGTERM) || sigismember(&wait_mask, SIGHUP) || sigismember(&wait_mask, SIGCHLD))
        return 12; /* waiting with the mask lets them in */
    raise(SIGHUP);
    raise(SIGTERM);
    if (signals_reload || signals_stop)
        return 13; /* blocked: not in the middle of a libpq or curl call */
    signals_poll();
    if (!signals_reload || signals_stop != 1)
        return 14;
    /* ppoll with the wait mask delivers a pending one, too. */
    signals_reload = 0;
    raise(SIGHUP);
    struct timespec ts = {5, 0};
    int r = ppoll(NULL, 0, &ts, &wait_mask);
    if (r != -1 || !signals_reload)
        return 15;
    /* A forked worker forgets the stop count and ignores SIGHUP. */
    signals_in_child();
    raise(SIGHUP);
    signals_poll();
    if (signals_stop != 0)
        return 16;
    return 0;
}

static void test_blocked_signals_arrive_when_polled(void **state)
{
    (void)state;
    int st = in_child(blocked_until_polled);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static int wakes_the_pipe(void)
{
    char err[128];
    if (!signals_init(SIGNALS_WAKE_PIPE, NULL, err, sizeof err))
        return 11;
    struct pollfd p = {signals_wake_fd(), POLLIN, 0};
    if (p.fd < 0 || poll(&p, 1, 0) != 0)
        return 12;
    raise(SIGTERM);
    if (poll(&p, 1, 5000) != 1 || signals_stop != 1)
        return 13;
    signals_drain();
    if (poll(&p, 1, 0) != 0)
        return 14;
    return 0;
}

static void test_wake_pipe(void **state)
{
    (void)state;
    int st = in_child(wakes_the_pipe);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_stop_signal_exits_now),
        cmocka_unit_test(test_flags_count_and_pipe_is_ignored),
        cmocka_unit_test(test_blocked_signals_arrive_when_polled),
        cmocka_unit_test(test_wake_pipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
