/* Unit tests for store_metrics: counters, histogram buckets and the Prometheus text rendering. */
#include "versync/common/log.h"
#include "versync/store/store_bulk.h"
#include "versync/store/store_metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char g_dir[64];

static void test_render(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_store_metrics.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    log_init("test", LOG_ERROR, LOG_FORMAT_TEXT);
    store_engine *e = NULL;
    char err[256];
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)64 << 20};
    assert_true(store_engine_open(&o, &e, err, sizeof err));
    store_metrics_request(STORE_EP_BULK, 200);
    store_metrics_request(STORE_EP_BULK, 200);
    store_metrics_request(STORE_EP_DOC_WRITE, 418); /* an unusual code: "other" */
    store_metrics_request((store_metrics_ep)999, 200); /* out of range: "other" endpoint */
    store_metrics_bulk_item(STORE_BULK_CREATE, STORE_MRES_CONFLICT);
    store_metrics_bulk_item(7, STORE_MRES_CREATED); /* ignored */
    store_metrics_conflict();
    store_metrics_fsync(0.003);
    store_metrics_fsync(5.0);
    store_metrics_batch(3);
    buf b = BUF_INIT;
    assert_true(store_metrics_render(&b, e));
    const char *t = b.data;
    assert_non_null(strstr(t, "# HELP verstore_http_requests_total "));
    assert_non_null(strstr(t, "# TYPE verstore_http_requests_total counter\n"));
    assert_non_null(strstr(t, "verstore_http_requests_total{endpoint=\"bulk\",status=\"200\"} 2\n"));
    assert_non_null(strstr(t, "verstore_http_requests_total{endpoint=\"doc_write\",status=\"other\"} 1\n"));
    assert_non_null(strstr(t, "verstore_http_requests_total{endpoint=\"other\",status=\"200\"} 1\n"));
    assert_non_null(strstr(t, "verstore_bulk_items_total{action=\"create\",result=\"conflict\"} 1\n"));
    assert_non_null(strstr(t, "verstore_version_conflicts_total 1\n"));
    assert_non_null(strstr(t, "verstore_fsync_seconds_bucket{le=\"0.0025\"} 0\n"));
    assert_non_null(strstr(t, "verstore_fsync_seconds_bucket{le=\"0.005\"} 1\n"));
    assert_non_null(strstr(t, "verstore_fsync_seconds_bucket{le=\"1\"} 1\n"));
    assert_non_null(strstr(t, "verstore_fsync_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(t, "verstore_fsync_seconds_count 2\n"));
    assert_non_null(strstr(t, "verstore_writer_batch_jobs_bucket{le=\"2\"} 0\n"));
    assert_non_null(strstr(t, "verstore_writer_batch_jobs_bucket{le=\"4\"} 1\n"));
    assert_non_null(strstr(t, "verstore_writer_batch_jobs_sum 3\n"));
    assert_non_null(strstr(t, "# TYPE verstore_documents gauge\n"));
    assert_non_null(strstr(t, "# TYPE verstore_tombstones gauge\n"));
    buf_free(&b);
    store_engine_close(e);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
