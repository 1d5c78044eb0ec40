/* Unit tests for bulk: document ids, NDJSON bodies, item classification, version range. */
#include "versync/bulk.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
        cmocka_unit_test(test_parse_version_range),
        cmocka_unit_test(test_error_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
