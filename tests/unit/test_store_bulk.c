/* Unit tests for store_bulk: NDJSON parsing, meta keys, all-or-nothing validation, per-item errors, update bodies. */
#include "versync/store/store_bulk.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static bool parse(const char *body, const char *def, store_bulk *b, store_error *e)
{
    memset(e, 0, sizeof *e);
    return store_bulk_parse(body, strlen(body), def, b, e);
}

/* Parse expecting a request-level failure; returns the reason (static copy). */
static const char *fails(const char *body, int status, const char *type)
{
    static char reason[2048];
    store_bulk b;
    store_error e;
    assert_false(parse(body, NULL, &b, &e));
    assert_int_equal(e.status, status);
    assert_string_equal(e.type, type);
    snprintf(reason, sizeof reason, "%s", e.reason.data ? e.reason.data : "");
    store_error_free(&e);
    store_bulk_free(&b);
    return reason;
}

static void test_actions_and_meta(void **state)
{
    (void)state;
    const char *body =
        "{\"index\":{\"_index\":\"a\",\"_id\":\"1\",\"version\":9223372036854775807,\"version_type\":\"external\"}}\n"
        "{\"x\":1}\r\n"
        "\n"
        "{\"delete\":{\"_id\":\"2\",\"version\":\"3\",\"version_type\":\"external_gte\",\"routing\":\"r\"}}\n"
        "{\"create\":{\"_index\":\"c\"}}\n"
        "{\"y\":2}\n"
        "{\"update\":{\"_index\":\"a\",\"_id\":\"u\",\"if_seq_no\":4,\"if_primary_term\":1,\"retry_on_conflict\":3}}\n"
        "{\"doc\":{\"z\":1},\"doc_as_upsert\":true}\n"
        "{\"index\":{\"_index\":\"a\",\"_id\":7,\"op_type\":\"create\"}}\n"
        "{\"w\":1}\n";
    store_bulk b;
    store_error e;
    assert_true(parse(body, "dflt", &b, &e));
    assert_int_equal(b.n, 5);
    store_bulk_item *it = b.items;
    assert_int_equal(it[0].action, STORE_BULK_INDEX);
    assert_string_equal(it[0].index, "a");
    assert_memory_equal(it[0].id, "1", 1);
    assert_int_equal(it[0].w.version, INT64_MAX);
    assert_int_equal(it[0].w.vtype, STORE_VT_EXTERNAL);
    assert_int_equal(it[0].src_len, 7); /* the \r is dropped */
    assert_memory_equal(it[0].src, "{\"x\":1}", 7);
    assert_int_equal(it[1].action, STORE_BULK_DELETE);
    assert_string_equal(it[1].index, "dflt");
    assert_int_equal(it[1].w.version, 3);
    assert_int_equal(it[1].w.vtype, STORE_VT_EXTERNAL_GTE);
    assert_int_equal(it[1].line, 4);
    assert_int_equal(it[2].action, STORE_BULK_CREATE);
    assert_string_equal(it[2].key, "create");
    assert_int_equal(it[2].id_len, 20); /* auto id */
    assert_int_equal(it[2].w.kind, STORE_OP_CREATE);
    assert_int_equal(it[3].action, STORE_BULK_UPDATE);
    assert_int_equal(it[3].w.if_seq_no, 4);
    assert_non_null(it[3].upd.doc);
    assert_true(it[3].upd.doc_as_upsert);
    assert_true(it[3].upd.detect_noop);
    assert_string_equal(it[4].key, "create"); /* index + op_type create */
    assert_memory_equal(it[4].id, "7", 1);
    for (size_t i = 0; i < b.n; i++)
        assert_int_equal(it[i].err_status, 0);
    store_bulk_free(&b);
    store_error_free(&e);
}

static void test_request_level_errors(void **state)
{
    (void)state;
    assert_string_equal(fails("", 400, "parse_exception"), "request body is required");
    assert_string_equal(fails("{\"index\":{\"_index\":\"a\"}}\n{\"x\":1}", 400, "illegal_argument_exception"),
                        "The bulk request must be terminated by a newline [\\n]");
    assert_string_equal(fails("\n\n", 400, "action_request_validation_exception"),
                        "Validation Failed: 1: no requests added;");
    assert_string_equal(fails("{\"index\":{\"_index\":\"a\",\"_type\":\"t\"}}\n{}\n", 400, "illegal_argument_exception"),
                        "Action/metadata line [1] contains an unknown parameter [_type]");
    assert_string_equal(fails("{\"index\":{\"_index\":\"a\",\"_version\":1}}\n{}\n", 400, "illegal_argument_exception"),
                        "Action/metadata line [1] contains an unknown parameter [_version]");
    assert_string_equal(fails("{}\n", 400, "illegal_argument_exception"),
                        "Malformed action/metadata line [1], expected FIELD_NAME but found [END_OBJECT]");
    assert_string_equal(fails("[1]\n", 400, "illegal_argument_exception"),
                        "Malformed action/metadata line [1], expected START_OBJECT but found [START_ARRAY]");
    assert_string_equal(fails("{\"upsert\":{}}\n{}\n", 400, "illegal_argument_exception"),
                        "Malformed action/metadata line [1], expected one of [create, delete, index, update] but "
                        "found [upsert]");
    assert_string_equal(
        fails("{\"update\":{\"_index\":\"a\",\"_id\":\"1\",\"version\":2}}\n{\"doc\":{}}\n", 400,
              "illegal_argument_exception"),
        "Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead");
    fails("{\"index\":{\"_index\":\"a\",\"version\":\"x\"}}\n{}\n", 400, "illegal_argument_exception");
    fails("{\"index\":{\"_index\":\"a\",\"version_type\":\"force\"}}\n{}\n", 400, "illegal_argument_exception");
    fails("{\"index\":{\"_index\":\"a\"\n", 400, "x_content_parse_exception");
}

static void test_all_or_nothing_validation(void **state)
{
    (void)state;
    const char *body = "{\"index\":{\"_index\":\"a\",\"_id\":\"1\",\"version\":5,\"version_type\":\"external\"}}\n{}\n"
                       "{\"index\":{\"_index\":\"a\",\"_id\":\"2\",\"version_type\":\"external\"}}\n{}\n"
                       "{\"create\":{\"_index\":\"a\",\"_id\":\"3\",\"version\":4,\"version_type\":\"external\"}}\n{}\n"
                       "{\"delete\":{\"_index\":\"a\"}}\n"
                       "{\"index\":{\"_id\":\"5\"}}\n{}\n"
                       "{\"index\":{\"_index\":\"a\",\"_id\":\"6\",\"version\":-2,\"version_type\":\"external\"}}\n{}\n";
    assert_string_equal(fails(body, 400, "action_request_validation_exception"),
                        "Validation Failed: 1: illegal version value [-3] for version type [EXTERNAL];"
                        "2: create operations only support internal versioning. use index instead;"
                        "3: id is missing;4: index is missing;"
                        "5: illegal version value [-2] for version type [EXTERNAL];");
}

static void test_per_item_errors(void **state)
{
    (void)state;
    const char *body = "{\"index\":{\"_index\":\"Bad\",\"_id\":\"1\"}}\n{}\n"
                       "{\"index\":{\"_index\":\"a\",\"_id\":\"\"}}\n{}\n"
                       "{\"index\":{\"_index\":\"a\",\"_id\":\"3\"}}\n[1]\n"
                       "{\"index\":{\"_index\":\"a\",\"_id\":\"4\"}}\n{\"ok\":true}\n";
    store_bulk b;
    store_error e;
    assert_true(parse(body, NULL, &b, &e));
    assert_int_equal(b.n, 4);
    assert_int_equal(b.items[0].err_status, 400);
    assert_string_equal(b.items[0].err_type, "invalid_index_name_exception");
    assert_int_equal(b.items[1].err_status, 400);
    assert_string_equal(b.items[1].err_reason, "if _id is specified it must not be empty");
    assert_int_equal(b.items[2].err_status, 400);
    assert_string_equal(b.items[2].err_type, "mapper_parsing_exception");
    assert_int_equal(b.items[3].err_status, 0);
    store_bulk_free(&b);
    store_error_free(&e);
}

/* Issue 19: names are exact, duplicate keys refused, parameters honoured or refused. */
static void test_hostile_action_lines(void **state)
{
    (void)state;
    assert_string_equal(fails("{\"index\":{\"_index\":\"a\",\"_id\":\"1\",\"_index\":\"b\"}}\n{}\n", 400,
                              "x_content_parse_exception"),
                        "[1:42] Duplicate field '_index'");
    fails("{\"delete\":{\"_id\":\"1\",\"_index\":\"a\",\"_id\":\"2\"}}\n", 400, "x_content_parse_exception");
    fails("{\"delete\":{\"_index\":\"a\",\"_id\":\"1\",\"\\u005fid\":\"2\"}}\n", 400, "x_content_parse_exception");
    fails("{\"index\":{\"_index\":\"a\",\"version\":2,\"version_type\":\"external\\u0000x\"}}\n{}\n", 400,
          "illegal_argument_exception");
    fails("{\"index\":{\"_index\":\"a\",\"op_type\":\"create\\u0000\"}}\n{}\n", 400, "illegal_argument_exception");
    fails("{\"update\":{\"_index\":\"a\",\"_id\":\"1\",\"retry_on_conflict\":\"abc\"}}\n{\"doc\":{}}\n", 400,
          "illegal_argument_exception");
    fails("{\"index\":{\"_index\":\"a\",\"require_alias\":\"yes\"}}\n{}\n", 400, "illegal_argument_exception");
    const char *body = "{\"delete\":{\"_index\":\"jz\\u0000zzz\",\"_id\":\"1\"}}\n"
                       "{\"index\":{\"_index\":\"jz\\u0000\",\"_id\":\"2\"}}\n{}\n"
                       "{\"index\":{\"_index\":\"jz\",\"_id\":\"3\\u0000x\",\"require_alias\":true}}\n{}\n"
                       "{\"index\":{\"_index\":\"jz\",\"_id\":\"4\",\"pipeline\":\"p\"}}\n{}\n"
                       "{\"index\":{\"_index\":\"jz\",\"_id\":\"5\",\"pipeline\":\"_none\",\"retry_on_conflict\":3}}\n{}\n";
    store_bulk b;
    store_error e;
    assert_true(parse(body, NULL, &b, &e));
    assert_int_equal(b.n, 5);
    assert_int_equal(b.items[0].err_status, 404);
    assert_string_equal(b.items[0].err_type, "index_not_found_exception");
    assert_string_equal(b.items[0].index, "jz\\u0000zzz"); /* shown, never cut to "jz" */
    assert_int_equal(b.items[1].err_status, 400);
    assert_string_equal(b.items[1].err_type, "invalid_index_name_exception");
    assert_int_equal(b.items[2].err_status, 0);
    assert_int_equal(b.items[2].id_len, 3); /* ids are bytes */
    assert_memory_equal(b.items[2].id, "3\0x", 3);
    assert_int_equal(b.items[2].require_alias, 1);
    assert_int_equal(b.items[3].err_status, 400);
    assert_string_equal(b.items[3].err_reason, "pipeline with id [p] does not exist");
    assert_int_equal(b.items[4].err_status, 0);
    assert_int_equal(b.items[4].require_alias, -1);
    store_bulk_free(&b);
    store_error_free(&e);
}

static void test_update_bodies(void **state)
{
    (void)state;
    store_update_spec s;
    store_error e = {0};
    const char *ok = "{\"doc\":{\"a\":1},\"upsert\":{\"a\":0},\"detect_noop\":false}";
    assert_true(store_bulk_parse_update(ok, strlen(ok), &s, &e));
    assert_non_null(s.doc);
    assert_non_null(s.upsert);
    assert_false(s.detect_noop);
    assert_false(s.doc_as_upsert);
    store_bulk_update_free(&s);
    const char *unknown = "{\"dac\":{}}";
    assert_false(store_bulk_parse_update(unknown, strlen(unknown), &s, &e));
    assert_string_equal(e.type, "x_content_parse_exception");
    assert_string_equal(e.reason.data, "[UpdateRequest] unknown field [dac] did you mean [doc]?");
    const char *far = "{\"zzzzzz\":{}}";
    assert_false(store_bulk_parse_update(far, strlen(far), &s, &e));
    assert_string_equal(e.reason.data, "[UpdateRequest] unknown field [zzzzzz]");
    const char *script = "{\"script\":\"ctx._source.a++\"}";
    assert_false(store_bulk_parse_update(script, strlen(script), &s, &e));
    assert_int_equal(e.status, 400);
    const char *empty = "{}";
    assert_false(store_bulk_parse_update(empty, strlen(empty), &s, &e));
    assert_string_equal(e.reason.data, "Validation Failed: 1: script or doc is missing;");
    const char *bad = "{\"doc\":";
    assert_false(store_bulk_parse_update(bad, strlen(bad), &s, &e));
    assert_int_equal(e.status, 400);
    store_error_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actions_and_meta),
        cmocka_unit_test(test_request_level_errors),
        cmocka_unit_test(test_all_or_nothing_validation),
        cmocka_unit_test(test_per_item_errors),
        cmocka_unit_test(test_update_bodies),
        cmocka_unit_test(test_hostile_action_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
