/* Unit tests for _delete_by_query and _update_by_query (store_dbq): a document changed or deleted between the snapshot the matches
 * come from and their deletes is a version conflict, as Elasticsearch's seq_no check makes it; conflicts=abort
 * stops after the batch and answers 409, conflicts=proceed counts it and goes on. */
#include "versync/store/store_search.h"
#include "versync/common/log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_store_dbq.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    log_init("test", LOG_ERROR, LOG_FORMAT_TEXT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_doc(store_engine *e, store_opkind kind, const char *index, const char *id, const char *src)
{
    store_op op;
    memset(&op, 0, sizeof op);
    op.w = (store_wparams){kind, STORE_VT_INTERNAL, STORE_MATCH_ANY, STORE_UNASSIGNED_SEQ_NO, STORE_UNASSIGNED_TERM,
                           false, true};
    op.index = index;
    op.id = id;
    op.id_len = strlen(id);
    op.src = src;
    op.src_len = src ? strlen(src) : 0;
    store_job job;
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_DOCS;
    job.ops = &op;
    job.nops = 1;
    assert_int_equal(store_engine_execute(e, &job), 0);
    assert_int_equal(op.err, STORE_OPERR_NONE);
    store_op_clear(&op);
}

static int64_t live_docs(store_engine *e, const char *index)
{
    store_rtxn *r = store_engine_read_begin(e);
    assert_non_null(r);
    store_index_meta m;
    assert_int_equal(store_engine_index_get(r, index, &m, NULL, NULL), STORE_LOOKUP_FOUND);
    store_engine_read_end(r);
    return m.docs_count;
}

/* Open a delete-by-query of every document of `index`, change documents
 * (the callback), then run it: its answer and status. */
static int dbq_with_change(store_engine *e, store_search *s, const char *index, const char *conflicts,
                           void (*change)(store_engine *), buf *out, bool update)
{
    cJSON *body = cJSON_Parse("{\"query\":{\"match_all\":{}}}");
    store_param params[] = {{"conflicts", conflicts}, {"scroll_size", "10"}};
    store_search_req req = {index, params, 2, body, NULL};
    store_error err = {0};
    store_dbq *d = NULL;
    assert_true(store_dbq_open(s, &req, update, &d, &err));
    change(e);
    int status = 0;
    assert_true(store_dbq_run(d, out, &status, &err));
    store_dbq_free(d);
    store_error_free(&err);
    cJSON_Delete(body);
    return status;
}

static const char *g_index; /* the index update_2_delete_3 changes */

static void update_2_delete_3(store_engine *e)
{
    write_doc(e, STORE_OP_INDEX, g_index, "2", "{\"k\":\"changed\"}");
    write_doc(e, STORE_OP_DELETE, g_index, "3", NULL);
}

static void test_conflicts_abort(void **state)
{
    (void)state;
    store_engine *e = NULL;
    char why[256];
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)64 << 20};
    assert_true(store_engine_open(&o, &e, why, sizeof why));
    store_search *s = store_search_new(e);
    assert_non_null(s);
    for (const char *const *id = (const char *const[]){"1", "2", "3", "4", NULL}; *id; id++)
        write_doc(e, STORE_OP_INDEX, "t", *id, "{\"k\":\"a\"}");
    buf out = BUF_INIT;
    g_index = "t";
    int status = dbq_with_change(e, s, "t", "abort", update_2_delete_3, &out, false);
    assert_int_equal(status, 409);
    assert_non_null(strstr(out.data, "\"total\":4,\"deleted\":2,\"batches\":1,\"version_conflicts\":2,"));
    assert_non_null(strstr(out.data, "{\"index\":\"t\",\"id\":\"2\",\"cause\":{\"type\":\"version_conflict_engine_"
                                     "exception\",\"reason\":\"[2]: version conflict, required seqNo [1], primary "
                                     "term [1]. current document has seqNo [4] and primary term [1]\""));
    assert_non_null(strstr(out.data, "\"id\":\"3\",\"cause\":{\"type\":\"version_conflict_engine_exception\","
                                     "\"reason\":\"[3]: version conflict, required seqNo [2], primary term [1]. "
                                     "but no document was found\""));
    assert_non_null(strstr(out.data, "\"status\":409}"));
    assert_int_equal(live_docs(e, "t"), 1); /* 1 and 4 deleted, the changed 2 kept */
    buf_free(&out);
    store_search_free(s);
    store_engine_close(e);
}

static void test_conflicts_proceed(void **state)
{
    (void)state;
    store_engine *e = NULL;
    char why[256];
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)64 << 20};
    assert_true(store_engine_open(&o, &e, why, sizeof why));
    store_search *s = store_search_new(e);
    assert_non_null(s);
    for (const char *const *id = (const char *const[]){"1", "2", "3", "4", NULL}; *id; id++)
        write_doc(e, STORE_OP_INDEX, "p", *id, "{\"k\":\"a\"}");
    buf out = BUF_INIT;
    g_index = "p";
    int status = dbq_with_change(e, s, "p", "proceed", update_2_delete_3, &out, false);
    assert_int_equal(status, 200);
    assert_non_null(strstr(out.data, "\"total\":4,\"deleted\":2,\"batches\":1,\"version_conflicts\":2,"));
    assert_non_null(strstr(out.data, "\"failures\":[]}"));
    assert_int_equal(live_docs(e, "p"), 1);
    buf_free(&out);
    store_search_free(s);
    store_engine_close(e);
}

/* _update_by_query: the same check, each match indexed again with its source */
static void test_update_conflicts(void **state)
{
    (void)state;
    store_engine *e = NULL;
    char why[256];
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)64 << 20};
    assert_true(store_engine_open(&o, &e, why, sizeof why));
    store_search *s = store_search_new(e);
    assert_non_null(s);
    for (const char *const *id = (const char *const[]){"1", "2", "3", "4", NULL}; *id; id++)
        write_doc(e, STORE_OP_INDEX, "u", *id, "{\"k\":\"a\"}");
    buf out = BUF_INIT;
    g_index = "u";
    int status = dbq_with_change(e, s, "u", "abort", update_2_delete_3, &out, true);
    assert_int_equal(status, 409);
    assert_non_null(strstr(out.data, "\"total\":4,\"updated\":2,\"deleted\":0,\"batches\":1,\"version_conflicts\":2,"));
    assert_int_equal(live_docs(e, "u"), 3); /* 1, 2 (changed, not overwritten) and 4 */
    store_rtxn *r = store_engine_read_begin(e);
    store_index_meta m;
    store_doc_view v;
    assert_int_equal(store_engine_index_get(r, "u", &m, NULL, NULL), STORE_LOOKUP_FOUND);
    assert_int_equal(store_engine_doc_get(r, &m, "2", 1, &v), STORE_LOOKUP_FOUND);
    assert_int_equal(v.src_len, strlen("{\"k\":\"changed\"}"));
    assert_int_equal(store_engine_doc_get(r, &m, "4", 1, &v), STORE_LOOKUP_FOUND);
    assert_int_equal(v.st.version, 2); /* indexed again */
    store_engine_read_end(r);
    buf_free(&out);
    store_search_free(s);
    store_engine_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conflicts_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_proceed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_conflicts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
