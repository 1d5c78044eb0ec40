/* Unit tests for bulk: document ids, NDJSON bodies, item classification, version range. */
#include "versync/bridge/bulk.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <microhttpd.h>
#include <stdio.h>

static void test_doc_id_single_key_is_verbatim(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    const char *parts[] = {"a|b\\c"};
    assert_true(bulk_doc_id(&b, parts, 1));
    assert_string_equal(b.data, "a|b\\c");
    buf_free(&b);
}

static void test_doc_id_composite_escapes(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    const char *p1[] = {"a|b", "c"};
    const char *p2[] = {"a", "b|c"};
    const char *p3[] = {"x\\", "|y", NULL};
    assert_true(bulk_doc_id(&b, p1, 2));
    assert_string_equal(b.data, "a\\|b|c");
    buf_reset(&b);
    assert_true(bulk_doc_id(&b, p2, 2));
    assert_string_equal(b.data, "a|b\\|c");
    buf_reset(&b);
    assert_true(bulk_doc_id(&b, p3, 3));
    assert_string_equal(b.data, "x\\\\|\\|y|");
    buf_free(&b);
}

static void test_doc_id_respects_cap(void **state)
{
    (void)state;
    buf b;
    buf_init(&b, 4);
    const char *p[] = {"abc", "def"};
    assert_false(bulk_doc_id(&b, p, 2));
    assert_true(b.overflow);
    buf_free(&b);
}

static void test_index_and_delete_lines(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_true(bulk_add_index(&b, "products", "1\"x", 3, true, 42, "{\"a\": 1}", 8));
    assert_true(bulk_add_delete(&b, "products", "7", 1, true, INT64_MAX));
    assert_true(bulk_add_index(&b, "p", "2", 1, false, 0, "{}", 2));
    assert_true(bulk_add_delete(&b, "p", "3", 1, false, 0));
    assert_string_equal(b.data,
                        "{\"index\":{\"_index\":\"products\",\"_id\":\"1\\\"x\",\"version\":42,"
                        "\"version_type\":\"external\"}}\n{\"a\": 1}\n"
                        "{\"delete\":{\"_index\":\"products\",\"_id\":\"7\",\"version\":9223372036854775807,"
                        "\"version_type\":\"external\"}}\n"
                        "{\"index\":{\"_index\":\"p\",\"_id\":\"2\"}}\n{}\n"
                        "{\"delete\":{\"_index\":\"p\",\"_id\":\"3\"}}\n");
    buf_free(&b);
}

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(bulk_classify(201, false, "created", NULL), BULK_APPLIED);
    assert_int_equal(bulk_classify(200, true, "deleted", NULL), BULK_APPLIED);
    assert_int_equal(bulk_classify(404, true, "not_found", NULL), BULK_APPLIED);
    assert_int_equal(bulk_classify(404, false, NULL, "index_not_found_exception"), BULK_DEAD);
    assert_int_equal(bulk_classify(409, false, NULL, "version_conflict_engine_exception"), BULK_STALE);
    assert_int_equal(bulk_classify(403, false, NULL, "cluster_block_exception"), BULK_RETRY);
    assert_int_equal(bulk_classify(403, true, NULL, "cluster_block_exception"), BULK_RETRY);
    assert_int_equal(bulk_classify(409, true, NULL, "version_conflict_engine_exception"), BULK_STALE);
    assert_int_equal(bulk_classify(409, false, NULL, "other_conflict"), BULK_DEAD);
    assert_int_equal(bulk_classify(400, false, NULL, "mapper_parsing_exception"), BULK_DEAD);
    assert_int_equal(bulk_classify(429, false, NULL, "es_rejected_execution_exception"), BULK_RETRY);
    assert_int_equal(bulk_classify(500, false, NULL, "x"), BULK_RETRY);
    assert_int_equal(bulk_classify(503, true, NULL, "x"), BULK_RETRY);
    assert_int_equal(bulk_classify_request(429), BULK_RETRY);
    assert_int_equal(bulk_classify_request(502), BULK_RETRY);
    assert_int_equal(bulk_classify_request(400), BULK_DEAD);
    assert_int_equal(bulk_classify_request(413), BULK_DEAD);
}

static void test_parse_response_in_order(void **state)
{
    (void)state;
    const char *body =
        "{\"took\":3,\"errors\":true,\"items\":["
        "{\"index\":{\"_index\":\"p\",\"_id\":\"1\",\"_version\":5,\"result\":\"created\",\"status\":201}},"
        "{\"index\":{\"_index\":\"p\",\"_id\":\"2\",\"status\":409,\"error\":{\"type\":"
        "\"version_conflict_engine_exception\",\"reason\":\"[2]: version conflict\"}}},"
        "{\"delete\":{\"_index\":\"p\",\"_id\":\"3\",\"_version\":9,\"result\":\"not_found\",\"status\":404}},"
        "{\"index\":{\"_index\":\"p\",\"_id\":\"4\",\"status\":400,\"error\":{\"type\":"
        "\"mapper_parsing_exception\",\"reason\":\"failed to parse\"}}},"
        "{\"index\":{\"_index\":\"p\",\"_id\":\"5\",\"status\":429,\"error\":{\"type\":\"es_rejected\"}}}]}";
    bool del[] = {false, false, true, false, false};
    bulk_item_result r[5];
    char err[128];
    assert_true(bulk_parse_response(body, strlen(body), del, r, 5, err, sizeof err));
    assert_int_equal(r[0].outcome, BULK_APPLIED);
    assert_string_equal(r[0].error, "");
    assert_int_equal(r[1].outcome, BULK_STALE);
    assert_int_equal(r[2].outcome, BULK_APPLIED);
    assert_int_equal(r[3].outcome, BULK_DEAD);
    assert_int_equal(r[3].status, 400);
    assert_string_equal(r[3].error, "mapper_parsing_exception: failed to parse");
    assert_int_equal(r[4].outcome, BULK_RETRY);
}

static void test_parse_response_rejects_garbage(void **state)
{
    (void)state;
    bool del[2] = {false, false};
    bulk_item_result r[2];
    char err[128];
    const char *one = "{\"items\":[{\"index\":{\"status\":201}}]}";
    assert_false(bulk_parse_response(one, strlen(one), del, r, 2, err, sizeof err));
    assert_non_null(strstr(err, "1 items for 2 actions"));
    assert_false(bulk_parse_response("nope", 4, del, r, 1, err, sizeof err));
    const char *nostatus = "{\"items\":[{\"index\":{}}]}";
    assert_false(bulk_parse_response(nostatus, strlen(nostatus), del, r, 1, err, sizeof err));
    const char *noitems = "{\"error\":{}}";
    assert_false(bulk_parse_response(noitems, strlen(noitems), del, r, 1, err, sizeof err));
}

/* The answer is read in place: escapes decoded, members in any order and of any shape skipped, the
 * first of a repeated member counting (as a tree's lookup did), and nothing but JSON accepted. */
static void test_parse_response_in_place(void **state)
{
    (void)state;
    const char *body =
        "{\"items\" : [ {\"index\":{\"_shards\":{\"total\":[1,{\"x\":null}],\"ok\":true},\"status\":409,"
        "\"error\":{\"caused_by\":{\"type\":\"inner\"},\"type\":\"version_conflict_engine_exception\","
        "\"reason\":\"[a\\\"b]: version conflict, current version [77] is higher or equal to the one provided "
        "[5]\",\"type\":\"second\"},\"status\":200}},"
        "{\"delete\":{\"result\":\"not_\\u0066ound\",\"status\":404}},"
        "{\"index\":{\"status\":503,\"error\":\"caf\\u00e9 \\ud83d\\ude00\"}},"
        "{\"create\":{\"status\":400,\"error\":{\"reason\":\"no type\"}}}],\"took\":1,\"items\":[]}\n";
    bool del[] = {false, true, false, false};
    bulk_item_result r[4];
    char err[128] = "";
    assert_true(bulk_parse_response(body, strlen(body), del, r, 4, err, sizeof err));
    assert_int_equal(r[0].status, 409);
    assert_int_equal(r[0].outcome, BULK_STALE);
    assert_int_equal(r[0].store_version, 77);
    assert_string_equal(r[0].error, "version_conflict_engine_exception: [a\"b]: version conflict, current version "
                                    "[77] is higher or equal to the one provided [5]");
    assert_int_equal(r[1].outcome, BULK_APPLIED); /* "not_found" spelt with an escape is still it */
    assert_int_equal(r[2].outcome, BULK_RETRY);
    assert_string_equal(r[2].error, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_int_equal(r[3].outcome, BULK_DEAD);
    assert_string_equal(r[3].error, "error: no type");

    const char *bad[] = {
        "{\"items\":[{\"index\":{\"status\":201}}]} x", /* trailing bytes */
        "[{\"index\":{\"status\":201}}]",                 /* not an object */
        "{\"items\":[{\"index\":{\"status\":201}}]",    /* cut short */
        "{\"items\":[{\"index\":{\"status\":\"201\"}}]}", /* status not a number */
        "{\"items\":[{\"index\":{\"status\":2.01e2}}]}",  /* nor an integer */
        "{\"items\":[{\"index\":{\"status\":99999999999}}]}",
        "{\"items\":[{\"index\":[201]}]}",
        "{\"items\":[\"index\"]}",
        "{\"items\":{\"index\":{\"status\":201}}}",
        "{\"items\":[{\"index\":{\"status\":201,\"error\":\"\xff\"}}]}", /* not UTF-8 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_false(bulk_parse_response(bad[i], strlen(bad[i]), del, r, 1, err, sizeof err));
        assert_true(err[0] != '\0');
    }
}

static void test_parse_version_range(void **state)
{
    (void)state;
    int64_t v = -1;
    char err[160];
    assert_true(bulk_parse_version("0", &v, err, sizeof err));
    assert_int_equal(v, 0);
    assert_true(bulk_parse_version("9223372036854775807", &v, err, sizeof err));
    assert_true(v == INT64_MAX);
    assert_false(bulk_parse_version("9223372036854775808", &v, err, sizeof err));
    assert_non_null(strstr(err, "exceeds 2^63-1"));
    assert_false(bulk_parse_version("123456789012345678901234567890", &v, err, sizeof err));
    assert_false(bulk_parse_version("-5", &v, err, sizeof err));
    assert_non_null(strstr(err, "negative (-5)"));
    assert_false(bulk_parse_version(NULL, &v, err, sizeof err));
    assert_string_equal(err, "is NULL");
    assert_false(bulk_parse_version("4.5", &v, err, sizeof err));
    assert_non_null(strstr(err, "not an integer"));
    assert_false(bulk_parse_version("Infinity", &v, err, sizeof err));
    assert_false(bulk_parse_version("", &v, err, sizeof err));
}

static void test_error_summary(void **state)
{
    (void)state;
    char out[128];
    const char *e = "{\"error\":{\"root_cause\":[],\"type\":\"action_request_validation_exception\","
                    "\"reason\":\"Validation Failed: 1: bad;\"},\"status\":400}";
    bulk_error_summary(e, strlen(e), out, sizeof out);
    assert_string_equal(out, "action_request_validation_exception: Validation Failed: 1: bad;");
    const char *flat = "{\"error\":\"Content-Type header [text/plain] is not supported\",\"status\":406}";
    bulk_error_summary(flat, strlen(flat), out, sizeof out);
    assert_string_equal(out, "Content-Type header [text/plain] is not supported");
    bulk_error_summary("<html>oops</html>", 17, out, sizeof out);
    assert_string_equal(out, "<html>oops</html>");
    bulk_error_summary(NULL, 0, out, sizeof out);
    assert_string_equal(out, "");
}

static void test_gte_action_and_conflict_version(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_true(bulk_add(&b, "p", "1", 1, false, BULK_VT_EXTERNAL_GTE, 7, "{}", 2));
    assert_true(bulk_add(&b, "p", "2", 1, true, BULK_VT_EXTERNAL_GTE, 8, NULL, 0));
    assert_string_equal(b.data, "{\"index\":{\"_index\":\"p\",\"_id\":\"1\",\"version\":7,"
                                "\"version_type\":\"external_gte\"}}\n{}\n"
                                "{\"delete\":{\"_index\":\"p\",\"_id\":\"2\",\"version\":8,"
                                "\"version_type\":\"external_gte\"}}\n");
    buf_free(&b);
    /* Elasticsearch 7/8, OpenSearch and verstore (strict and gte wordings), and ES 6's type prefix. */
    assert_true(bulk_conflict_version("[1]: version conflict, current version [6] is higher or equal to the one "
                                      "provided [1]") == 6);
    assert_true(bulk_conflict_version("[1]: version conflict, current version [9223372036854775807] is higher "
                                      "than the one provided [2]") == INT64_MAX);
    assert_true(bulk_conflict_version("[_doc][1]: version conflict, current version [12] is higher") == 12);
    assert_true(bulk_conflict_version("[1]: version conflict, document already exists") == -1);
    assert_true(bulk_conflict_version("current version [x]") == -1);
    assert_true(bulk_conflict_version("current version [99999999999999999999]") == -1);
    assert_true(bulk_conflict_version(NULL) == -1);
}

static void test_classify_conflict(void **state)
{
    (void)state;
    /* The store holds more than the current row: the row's version went backwards. */
    assert_int_equal(bulk_classify_conflict(1, 6, -1), BULK_REGRESSED);
    /* Same version: a replay of the same state is stale; other content (or a tombstone) regressed. */
    assert_int_equal(bulk_classify_conflict(5, 5, 1), BULK_STALE);
    assert_int_equal(bulk_classify_conflict(5, 5, 0), BULK_REGRESSED);
    assert_int_equal(bulk_classify_conflict(5, 5, -1), BULK_STALE);
    /* The store does not say: stale, as before. */
    assert_int_equal(bulk_classify_conflict(5, -1, 0), BULK_STALE);
    assert_int_equal(bulk_classify_conflict(5, 3, 0), BULK_STALE);
}

/* ---- bulk_send against a canned HTTP store (no PostgreSQL, no verstore) ---- */

typedef struct canned {
    int status[8];
    const char *body[8];
    int n, next;
    char req[8][2048]; /* "METHOD PATH\nBODY" of each request */
} canned;

static enum MHD_Result canned_answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                     const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)version;
    canned *c = cls;
    if (!*con_cls) {
        *con_cls = (void *)1;
        if (c->next < 8)
            snprintf(c->req[c->next], sizeof c->req[c->next], "%s %s\n", method, url);
        return MHD_YES;
    }
    if (*size) {
        if (c->next < 8)
            strncat(c->req[c->next], data, (*size < sizeof c->req[0] - strlen(c->req[c->next]) - 1)
                                               ? *size
                                               : sizeof c->req[0] - strlen(c->req[c->next]) - 1);
        *size = 0;
        return MHD_YES;
    }
    int i = c->next < c->n ? c->next : c->n - 1;
    c->next++;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(c->body[i]), (void *)c->body[i], MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)c->status[i], r);
    MHD_destroy_response(r);
    return ret;
}

static struct MHD_Daemon *canned_start(canned *c, esc **store)
{
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, canned_answer, c,
                                            MHD_OPTION_END);
    assert_non_null(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)info->port);
    cfg_store cs = {.url = url, .timeout_ms = 5000};
    char err[256];
    *store = esc_new(&cs, err, sizeof err);
    assert_non_null(*store);
    return d;
}

static void op_init(bulk_op *op, const char *id, bool del, int64_t v, const char *doc)
{
    memset(op, 0, sizeof *op);
    op->index = "p";
    op->id = id;
    op->id_len = strlen(id);
    op->is_delete = del;
    op->vtype = BULK_VT_EXTERNAL;
    op->version = v;
    op->doc = doc;
    op->doc_len = doc ? strlen(doc) : 0;
}

static void test_send_classifies_each_item(void **state)
{
    (void)state;
    canned c = {.n = 2,
                .status = {200, 200},
                .body = {"{\"errors\":true,\"items\":["
                         "{\"index\":{\"_id\":\"1\",\"status\":201,\"result\":\"created\"}},"
                         "{\"index\":{\"_id\":\"2\",\"status\":409,\"error\":{\"type\":"
                         "\"version_conflict_engine_exception\",\"reason\":\"[2]: version conflict, current "
                         "version [9] is higher or equal to the one provided [9]\"}}},"
                         "{\"delete\":{\"_id\":\"3\",\"status\":404,\"result\":\"not_found\"}},"
                         "{\"index\":{\"_id\":\"4\",\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\","
                         "\"reason\":\"failed to parse\"}}},"
                         "{\"index\":{\"_id\":\"5\",\"status\":409,\"error\":{\"type\":"
                         "\"version_conflict_engine_exception\",\"reason\":\"[5]: version conflict, current "
                         "version [6] is higher or equal to the one provided [1]\"}}},"
                         "{\"index\":{\"_id\":\"6\",\"status\":409,\"error\":{\"type\":"
                         "\"version_conflict_engine_exception\",\"reason\":\"[6]: version conflict, current "
                         "version [4] is higher or equal to the one provided [4]\"}}}]}",
                         /* _mget of the equal-version refusals (2 and 6), in request order */
                         "{\"docs\":[{\"_id\":\"2\",\"found\":true,\"_version\":9,\"_source\":{\"b\":1,\"a\":2}},"
                         "{\"_id\":\"6\",\"found\":true,\"_version\":4,\"_source\":{\"a\":\"old\"}}]}"}};
    esc *store;
    struct MHD_Daemon *d = canned_start(&c, &store);
    bulk_sender s;
    bulk_sender_init(&s, store, 0);
    bulk_op ops[6];
    op_init(&ops[0], "1", false, 1, "{\"a\":1}");
    op_init(&ops[1], "2", false, 9, "{\"a\": 2, \"b\": 1.0}");
    op_init(&ops[2], "3", true, 3, NULL);
    op_init(&ops[3], "4", false, 4, "{\"a\":4}");
    op_init(&ops[4], "5", false, 1, "{\"a\":5}");
    op_init(&ops[5], "6", false, 4, "{\"a\":\"new\"}");
    char err[512];
    assert_true(bulk_send(&s, ops, 6, err, sizeof err));
    assert_int_equal(ops[0].outcome, BULK_APPLIED);
    assert_int_equal(ops[1].outcome, BULK_STALE);
    assert_true(ops[1].store_version == 9);
    assert_int_equal(ops[2].outcome, BULK_APPLIED);
    assert_int_equal(ops[3].outcome, BULK_DEAD);
    assert_int_equal(ops[3].status, 400);
    assert_int_equal(ops[4].outcome, BULK_STALE);
    assert_non_null(strstr(c.req[0], "POST /_bulk\n"));
    assert_non_null(strstr(c.req[0], "\"version\":1,\"version_type\":\"external\""));
    /* The caller says which rows it re-read as current; the sender judges those. */
    ops[1].row_current = ops[4].row_current = ops[5].row_current = true;
    assert_true(bulk_judge_conflicts(&s, ops, 6, err, sizeof err));
    assert_int_equal(ops[1].outcome, BULK_STALE); /* same version, same JSON value: a replay */
    assert_int_equal(ops[4].outcome, BULK_REGRESSED);
    assert_non_null(strstr(ops[4].error, "version_regressed: the store holds version 6"));
    assert_int_equal(ops[5].outcome, BULK_REGRESSED); /* same version, other content */
    assert_non_null(strstr(ops[5].error, "same version"));
    assert_non_null(strstr(c.req[1], "POST /_mget\n{\"docs\":[{\"_index\":\"p\",\"_id\":\"2\"},"
                                     "{\"_index\":\"p\",\"_id\":\"6\"}]}"));
    bulk_sender_free(&s);
    esc_free(store);
    MHD_stop_daemon(d);
}

static void test_send_refused_whole_goes_one_by_one(void **state)
{
    (void)state;
    const char *ok1 = "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":200,\"result\":\"updated\"}}]}";
    canned c = {.n = 3,
                .status = {400, 200, 400},
                .body = {"{\"error\":{\"type\":\"action_request_validation_exception\",\"reason\":\"Validation "
                         "Failed: 1: bad;\"},\"status\":400}",
                         ok1,
                         "{\"error\":{\"type\":\"action_request_validation_exception\",\"reason\":\"Validation "
                         "Failed: 1: bad;\"},\"status\":400}"}};
    esc *store;
    struct MHD_Daemon *d = canned_start(&c, &store);
    bulk_sender s;
    bulk_sender_init(&s, store, 0);
    bulk_op ops[2];
    op_init(&ops[0], "1", false, 1, "{}");
    op_init(&ops[1], "2", false, 2, "{}");
    char err[512];
    assert_true(bulk_send(&s, ops, 2, err, sizeof err));
    assert_int_equal(c.next, 3); /* the pair, then each alone */
    assert_int_equal(ops[0].outcome, BULK_APPLIED);
    assert_int_equal(ops[1].outcome, BULK_DEAD);
    assert_int_equal(ops[1].status, 400);
    assert_non_null(strstr(ops[1].error, "Validation Failed"));
    bulk_sender_free(&s);
    esc_free(store);
    MHD_stop_daemon(d);
}

static void test_send_retry_rules(void **state)
{
    (void)state;
    /* 503, 401 (configuration: never a dead letter) and an item 429 all leave the ops to retry;
     * bulk_send_retrying then resends only the unanswered op. */
    canned c = {.n = 5,
                .status = {503, 401, 200, 200, 200},
                .body = {"{\"error\":\"unavailable\"}", "{\"error\":\"auth\"}",
                         "{\"errors\":true,\"items\":[{\"index\":{\"_id\":\"1\",\"status\":201}},"
                         "{\"index\":{\"_id\":\"2\",\"status\":429,\"error\":{\"type\":\"es_rejected\"}}}]}",
                         "{\"errors\":false,\"items\":[{\"index\":{\"_id\":\"2\",\"status\":201}}]}",
                         "{}"}};
    esc *store;
    struct MHD_Daemon *d = canned_start(&c, &store);
    bulk_sender s;
    bulk_sender_init(&s, store, 0);
    bulk_op ops[2];
    op_init(&ops[0], "1", false, 1, "{}");
    op_init(&ops[1], "2", false, 2, "{}");
    char err[512];
    assert_false(bulk_send(&s, ops, 2, err, sizeof err));
    assert_int_equal(ops[0].outcome, BULK_RETRY);
    assert_non_null(strstr(err, "HTTP 503"));
    assert_false(bulk_send(&s, ops, 2, err, sizeof err));
    assert_int_equal(ops[1].outcome, BULK_RETRY);
    assert_non_null(strstr(err, "HTTP 401"));
    assert_true(bulk_send_retrying(&s, ops, 2, 20000, NULL, err, sizeof err));
    assert_int_equal(ops[0].outcome, BULK_APPLIED);
    assert_int_equal(ops[1].outcome, BULK_APPLIED);
    assert_non_null(strstr(c.req[3], "\"_id\":\"2\""));
    assert_null(strstr(c.req[3], "\"_id\":\"1\""));
    bulk_sender_free(&s);
    esc_free(store);
    MHD_stop_daemon(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_id_single_key_is_verbatim),
        cmocka_unit_test(test_doc_id_composite_escapes),
        cmocka_unit_test(test_doc_id_respects_cap),
        cmocka_unit_test(test_index_and_delete_lines),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_parse_response_in_order),
        cmocka_unit_test(test_parse_response_rejects_garbage),
        cmocka_unit_test(test_parse_response_in_place),
        cmocka_unit_test(test_parse_version_range),
        cmocka_unit_test(test_error_summary),
        cmocka_unit_test(test_gte_action_and_conflict_version),
        cmocka_unit_test(test_classify_conflict),
        cmocka_unit_test(test_send_classifies_each_item),
        cmocka_unit_test(test_send_refused_whole_goes_one_by_one),
        cmocka_unit_test(test_send_retry_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
