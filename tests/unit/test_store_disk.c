/* Unit tests for store_disk and the engine's out-of-space answers: watermark parsing, --max-disk and --flood-stage refusals, recovery once room returns. */
#include "versync/common/log.h"
#include "versync/store/store_disk.h"
#include "versync/store/store_engine.h"

#include <errno.h>
#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_store_disk.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    log_init("test", getenv("TEST_LOG") ? LOG_DEBUG : LOG_ERROR, LOG_FORMAT_TEXT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_parse_watermark(void **state)
{
    (void)state;
    store_disk_watermark w;
    assert_true(store_disk_parse_watermark("95%", &w));
    assert_true(w.max_used_pct == 95.0 && w.min_free == 0);
    assert_true(store_disk_parse_watermark("99.5%", &w));
    assert_true(w.max_used_pct == 99.5);
    assert_true(store_disk_parse_watermark("100%", &w));
    assert_true(store_disk_parse_watermark("500mb", &w));
    assert_true(w.min_free == (uint64_t)500 << 20 && w.max_used_pct == 0);
    assert_true(store_disk_parse_watermark("1g", &w));
    assert_true(w.min_free == (uint64_t)1 << 30);
    assert_true(store_disk_parse_watermark("4096", &w));
    assert_true(w.min_free == 4096);
    const char *bad[] = {"", "%", "0%", "101%", "-5%", " 5%", "5 %", "95%%", "abc", "0", "1x", "nan%", "inf%", "1e2%"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (store_disk_parse_watermark(bad[i], &w))
            fail_msg("accepted '%s'", bad[i]);
    }
    assert_false(store_disk_parse_watermark(NULL, &w));
}

static void test_over_and_full_errors(void **state)
{
    (void)state;
    char why[96] = "";
    store_disk_watermark none = {0}, all_free = {.min_free = UINT64_MAX / 2}, full_pct = {.max_used_pct = 100};
    assert_false(store_disk_over(g_dir, &none, why, sizeof why));
    assert_false(store_disk_over(g_dir, &full_pct, why, sizeof why)); /* usage is never above 100% */
    assert_true(store_disk_over(g_dir, &all_free, why, sizeof why));
    assert_non_null(strstr(why, "% used, "));
    assert_non_null(strstr(why, " bytes free"));
    assert_false(store_disk_over("/nonexistent/dir", &all_free, why, sizeof why));

    int full[] = {ENOSPC, EDQUOT, EFBIG, MDB_MAP_FULL};
    for (size_t i = 0; i < sizeof full / sizeof *full; i++)
        assert_true(store_disk_is_full_error(full[i], g_dir));
    /* EIO counts only when the filesystem is really (almost) full; /tmp is not. */
    assert_false(store_disk_is_full_error(EIO, g_dir));
    assert_false(store_disk_is_full_error(MDB_CORRUPTED, g_dir));
    assert_false(store_disk_is_full_error(EINVAL, g_dir));
    assert_false(store_disk_is_full_error(0, g_dir));
}

static store_engine *open_engine(size_t max_size, store_disk_watermark flood)
{
    store_engine *e = NULL;
    char err[256];
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)256 << 10, .max_size = max_size,
                           .flood_stage = flood};
    if (!store_engine_open(&o, &e, err, sizeof err))
        fail_msg("open: %s", err);
    return e;
}

/* One document (a ~10 kB source) in its own job; returns the job's rc and
 * leaves the op's outcome in *op. */
static int put(store_engine *e, const char *index, int n, store_op *op, store_job *job)
{
    static char src[10001];
    static char ids[64];
    memset(src, 'x', sizeof src - 1);
    memcpy(src, "{\"p\":\"", 6);
    memcpy(src + sizeof src - 3, "\"}", 2);
    snprintf(ids, sizeof ids, "d%d", n);
    memset(op, 0, sizeof *op);
    op->w = (store_wparams){STORE_OP_INDEX, STORE_VT_EXTERNAL, n + 1, STORE_UNASSIGNED_SEQ_NO,
                            STORE_UNASSIGNED_TERM, false, true};
    op->index = index;
    op->id = ids;
    op->id_len = strlen(ids);
    op->src = src;
    op->src_len = strlen(src);
    memset(job, 0, sizeof *job);
    job->kind = STORE_JOB_DOCS;
    job->ops = op;
    job->nops = 1;
    return store_engine_execute(e, job); /* an index op allocates nothing to clear */
}

static int admin(store_engine *e, store_job_kind kind, const char *index, bool *disk_full)
{
    store_job job;
    memset(&job, 0, sizeof job);
    job.kind = kind;
    job.index = index;
    job.gc_deletes_ms = STORE_GC_UNSET;
    int rc = store_engine_execute(e, &job);
    *disk_full = job.disk_full;
    return rc;
}

/* 1 when document d<n> of `index` is live with version n+1. */
static int has_doc(store_engine *e, const char *index, int n)
{
    char id[64];
    snprintf(id, sizeof id, "d%d", n);
    store_rtxn *r = store_engine_read_begin(e);
    assert_non_null(r);
    store_index_meta m;
    store_doc_view v;
    int rc = store_engine_index_get(r, index, &m, NULL, NULL);
    if (rc == 1)
        rc = store_engine_doc_get(r, &m, id, strlen(id), &v) == 1 && !v.st.deleted && v.st.version == n + 1;
    store_engine_read_end(r);
    return rc;
}

/* At --max-disk a write is refused as "disk full" with nothing written,
 * everything acknowledged stays readable, deleting an index makes room,
 * and the same engine (no restart) accepts writes again. */
static void test_max_disk_refuses_then_recovers(void **state)
{
    (void)state;
    store_disk_watermark none = {0};
    store_engine *e = open_engine((size_t)1 << 20, none);
    store_op op;
    store_job job;
    for (int i = 0; i < 20; i++) /* an index to drop later */
        assert_int_equal(put(e, "other", i, &op, &job), 0);
    int acked = 0, rc;
    while ((rc = put(e, "keep", acked, &op, &job)) == 0 && acked < 1000)
        acked++;
    assert_int_equal(rc, -1);
    assert_true(job.disk_full);
    assert_int_equal(op.err, STORE_OPERR_DISK_FULL);
    assert_in_range(acked, 10, 100); /* ~10 kB documents in 1 MiB */
    assert_int_equal(has_doc(e, "keep", acked), 0);
    for (int i = 0; i < acked; i++)
        assert_int_equal(has_doc(e, "keep", i), 1);
    /* A failed commit leaves the environment usable: refused again, not broken. */
    assert_int_equal(put(e, "keep", acked, &op, &job), -1);
    assert_int_equal(op.err, STORE_OPERR_DISK_FULL);
    bool full = true;
    assert_int_equal(admin(e, STORE_JOB_DELETE_INDEX, "other", &full), 0);
    assert_false(full);
    for (int i = 0; i < 5; i++) /* the room of 20 documents */
        assert_int_equal(put(e, "keep", acked++, &op, &job), 0);
    assert_int_equal(op.err, STORE_OPERR_NONE);
    store_engine_close(e);

    e = open_engine((size_t)1 << 20, none);
    for (int i = 0; i < acked; i++)
        assert_int_equal(has_doc(e, "keep", i), 1);
    store_engine_close(e);
}

/* Past the flood stage every write but an index delete is refused before
 * anything is tried; reads go on. */
static void test_flood_stage_blocks_writes_not_reads(void **state)
{
    (void)state;
    store_disk_watermark none = {0}, flood = {.min_free = UINT64_MAX / 2};
    store_engine *e = open_engine(0, none);
    store_op op;
    store_job job;
    for (int i = 0; i < 3; i++)
        assert_int_equal(put(e, "a", i, &op, &job), 0);
    assert_int_equal(put(e, "b", 0, &op, &job), 0);
    store_engine_close(e);

    e = open_engine(0, flood);
    assert_int_equal(put(e, "a", 3, &op, &job), -1);
    assert_true(job.disk_full);
    assert_int_equal(op.err, STORE_OPERR_DISK_FULL);
    bool full = false;
    assert_int_equal(admin(e, STORE_JOB_CREATE_INDEX, "c", &full), -1);
    assert_true(full);
    assert_int_equal(admin(e, STORE_JOB_PUT_SETTINGS, "a", &full), -1);
    assert_true(full);
    for (int i = 0; i < 3; i++)
        assert_int_equal(has_doc(e, "a", i), 1);
    assert_int_equal(has_doc(e, "a", 3), 0);
    assert_int_equal(admin(e, STORE_JOB_DELETE_INDEX, "b", &full), 0);
    assert_false(full);
    assert_int_equal(has_doc(e, "b", 0), 0);
    store_engine_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_watermark),
        cmocka_unit_test_setup_teardown(test_over_and_full_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_disk_refuses_then_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flood_stage_blocks_writes_not_reads, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
