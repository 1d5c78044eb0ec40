/* Unit tests for metrics: --metrics parsing, and counters from a worker slot rendered as Prometheus text. */
#include "versync/bridge/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static void test_parse_listen(void **state)
{
    (void)state;
    char host[64], err[256];
    int port;
    assert_true(metrics_parse_listen("9187", host, sizeof host, &port, err, sizeof err));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9187);
    assert_true(metrics_parse_listen("0.0.0.0:80", host, sizeof host, &port, err, sizeof err));
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 80);
    assert_true(metrics_parse_listen("[::1]:0", host, sizeof host, &port, err, sizeof err));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_false(metrics_parse_listen("x", host, sizeof host, &port, err, sizeof err));
    assert_non_null(strstr(err, "expected PORT or HOST:PORT"));
    assert_false(metrics_parse_listen("h:70000", host, sizeof host, &port, err, sizeof err));
    assert_false(metrics_parse_listen(":80", host, sizeof host, &port, err, sizeof err));
    assert_false(metrics_parse_listen("", host, sizeof host, &port, err, sizeof err));
}

static void test_render_counts(void **state)
{
    (void)state;
    char err[256];
    cfg_table t[2];
    memset(t, 0, sizeof t);
    t[0].ident = "public.a";
    t[1].ident = "s.\"q\"";
    cfg c;
    memset(&c, 0, sizeof c);
    c.tables = t;
    c.ntables = 2;
    metrics *m = metrics_new(1, err, sizeof err);
    assert_non_null(m);
    metrics_set_config(m, &c);
    metrics_child_attach(m, 0, &c); /* this process writes slot 0 */
    metrics_worker_pid(m, 0, 1);
    metrics_batch_begin();
    metrics_batch_count(0, METRICS_APPLIED, 3);
    metrics_batch_count(1, METRICS_STALE, 2);
    metrics_batch_count(5, METRICS_DEAD, 1); /* a table not in the config */
    metrics_batch_commit();
    metrics_batch_begin();
    metrics_batch_count(0, METRICS_APPLIED, 100); /* rolled back: never committed */
    metrics_retry();
    char *text = metrics_render(m);
    assert_non_null(text);
    assert_non_null(strstr(text, "# TYPE versync_changes_applied_total counter\n"));
    assert_non_null(strstr(text, "versync_changes_applied_total{table=\"public.a\"} 3\n"));
    assert_non_null(strstr(text, "versync_changes_stale_total{table=\"s.\\\"q\\\"\"} 2\n"));
    assert_non_null(strstr(text, "versync_changes_dead_lettered_total{table=\"(not in config)\"} 1\n"));
    assert_non_null(strstr(text, "versync_batch_duration_seconds_count{table=\"public.a\"} 1\n"));
    assert_non_null(strstr(text, "versync_batch_duration_seconds_bucket{table=\"public.a\",le=\"+Inf\"} 1\n"));
    assert_non_null(strstr(text, "versync_retries_total 1\n"));
    assert_non_null(strstr(text, "versync_workers_running 1\n"));
    assert_non_null(strstr(text, "versync_backlog_query_ok 0\n"));
    free(text);
    metrics_free(m);
}

/* A port nobody listens on right now (bound and released). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Whether the answer to a request sent on fd starts within ms milliseconds. */
static bool answered_within(int fd, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1;
}

/* Between metrics_fork_begin and metrics_fork_end the endpoint thread is held in its wait, where it
 * holds no lock a forked worker could inherit held: a request waits until the fork is over. */
static void test_fork_gate(void **state)
{
    (void)state;
    char err[256], listen_at[32];
    cfg c;
    memset(&c, 0, sizeof c);
    c.postgres = "host=/nonexistent";
    c.store.url = "http://127.0.0.1:1";
    metrics *m = metrics_new(1, err, sizeof err);
    assert_non_null(m);
    int port = free_port();
    snprintf(listen_at, sizeof listen_at, "127.0.0.1:%d", port);
    assert_true(metrics_start(m, listen_at, &c, err, sizeof err));
    for (int round = 0; round < 3; round++) {
        assert_true(metrics_fork_begin(m));
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
        const char *req = "GET /elsewhere HTTP/1.0\r\n\r\n";
        assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
        assert_false(answered_within(fd, 300)); /* held: the thread runs nothing meanwhile */
        metrics_fork_end(m);
        assert_true(answered_within(fd, 10000));
        char buf[64] = {0};
        assert_true(read(fd, buf, sizeof buf - 1) > 0);
        assert_non_null(strstr(buf, " 404 "));
        close(fd);
    }
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_listen),
        cmocka_unit_test(test_render_counts),
        cmocka_unit_test(test_fork_gate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
