/* Unit tests for metrics: --metrics parsing, and counters from a worker slot rendered as Prometheus text. */
#include "versync/bridge/metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_listen),
        cmocka_unit_test(test_render_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
