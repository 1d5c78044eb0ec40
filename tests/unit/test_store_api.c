/* Unit tests for store_api: the REST endpoints end to end in-process (no sockets), on a real engine in a temp dir. */
#include "versync/common/log.h"
#include "versync/store/store_api.h"
#include "versync/store/store_engine.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char g_dir[256];
static store_engine *g_e;
static store_api *g_api;
static store_resp g_r;
static cJSON *g_j;

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_store_api.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    log_init("test", LOG_ERROR, LOG_FORMAT_TEXT);
    char err[256];
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)64 << 20};
    assert_true(store_engine_open(&o, &g_e, err, sizeof err));
    g_api = store_api_new(g_e);
    store_resp_init(&g_r);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete(g_j);
    g_j = NULL;
    store_resp_free(&g_r);
    store_api_free(g_api);
    store_engine_close(g_e);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* call "METHOD", "/path?k=v&k2=v2", body (NULL: none). Returns the status; g_j is the parsed body. */
static int call(const char *method, const char *target, const char *body)
{
    char path[2048], query[2048] = "";
    snprintf(path, sizeof path, "%s", target);
    char *q = strchr(path, '?');
    store_param params[16];
    size_t n = 0;
    if (q) {
        *q = '\0';
        snprintf(query, sizeof query, "%s", q + 1);
        for (char *tok = strtok(query, "&"); tok && n < 16; tok = strtok(NULL, "&")) {
            char *eq = strchr(tok, '=');
            if (eq)
                *eq = '\0';
            params[n].key = tok;
            params[n].value = eq ? eq + 1 : "";
            n++;
        }
    }
    store_req req = {method, path, params, n, body ? body : "", body ? strlen(body) : 0, "application/json"};
    store_resp_free(&g_r);
    store_resp_init(&g_r);
    store_api_handle(g_api, &req, &g_r);
    cJSON_Delete(g_j);
    g_j = g_r.body.len ? cJSON_Parse(g_r.body.data) : NULL;
    return g_r.status;
}

/* The string or number at a dotted path of g_j ("error.root_cause.0.type"), as text. */
static const char *at(const char *path)
{
    static char out[1024];
    char p[256];
    snprintf(p, sizeof p, "%s", path);
    const cJSON *j = g_j;
    for (char *tok = strtok(p, "."); tok && j; tok = strtok(NULL, "."))
        j = (tok[0] >= '0' && tok[0] <= '9') ? cJSON_GetArrayItem(j, atoi(tok)) : cJSON_GetObjectItemCaseSensitive(j, tok);
    if (!j)
        return "<missing>";
    if (cJSON_IsString(j))
        snprintf(out, sizeof out, "%s", j->valuestring);
    else if (cJSON_IsNumber(j))
        snprintf(out, sizeof out, "%.0f", j->valuedouble);
    else if (cJSON_IsBool(j))
        snprintf(out, sizeof out, "%s", cJSON_IsTrue(j) ? "true" : "false");
    else {
        char *s = cJSON_PrintUnformatted(j);
        snprintf(out, sizeof out, "%s", s);
        free(s);
    }
    return out;
}

static void test_root_and_errors(void **state)
{
    (void)state;
    assert_int_equal(call("GET", "/", NULL), 200);
    assert_string_equal(at("version.build_flavor"), "default");
    assert_string_equal(at("tagline"), "You Know, for Search");
    assert_string_equal(at("version.number"), "8.11.0");
    assert_int_equal(strlen(at("cluster_uuid")), 22);
    assert_int_equal(call("DELETE", "/", NULL), 405);
    assert_string_equal(g_r.allow, "GET, HEAD");
    assert_string_equal(at("status"), "405");
    assert_int_equal(call("GET", "/i/_doc/1/extra/more", NULL), 400);
    assert_string_equal(at("error"), "no handler found for uri [/i/_doc/1/extra/more] and method [GET]");
    assert_int_equal(call("GET", "/nosuch/_doc/1", NULL), 404);
    assert_string_equal(at("error.type"), "index_not_found_exception");
    assert_string_equal(at("error.reason"), "no such index [nosuch]");
    assert_string_equal(at("error.root_cause.0.resource.type"), "<missing>"); /* dotted key, not a path */
    assert_int_equal(call("PUT", "/i/_doc/1", "{\"a\":"), 400);
    assert_string_equal(at("error.type"), "mapper_parsing_exception");
    assert_int_equal(call("PUT", "/i/_doc/1", ""), 400);
    assert_string_equal(at("error.type"), "parse_exception");
    assert_string_equal(at("error.reason"), "request body is required");
    store_req req = {"PUT", "/i/_doc/1", NULL, 0, "{}", 2, "text/plain"};
    store_resp_free(&g_r);
    store_resp_init(&g_r);
    store_api_handle(g_api, &req, &g_r);
    assert_int_equal(g_r.status, 406);
    req.content_type = "application/vnd.elasticsearch+json; compatible-with=8";
    store_api_handle(g_api, &req, &g_r);
    assert_int_equal(g_r.status, 201);
    assert_string_equal(g_r.location, "/i/_doc/1");
}

static void test_legacy_seed_walkthrough(void **state)
{
    (void)state;
    assert_int_equal(call("PUT", "/test_index/test_type/7", "{\"test_field\": \"test test\"}"), 201);
    assert_string_equal(g_r.body.data, "{\"_index\":\"test_index\",\"_type\":\"test_type\",\"_id\":\"7\",\"_version\":1,"
                                       "\"result\":\"created\",\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},"
                                       "\"created\":true}");
    assert_int_equal(call("GET", "/test_index/test_type/7", NULL), 200);
    assert_string_equal(g_r.body.data, "{\"_index\":\"test_index\",\"_type\":\"test_type\",\"_id\":\"7\",\"_version\":1,"
                                       "\"found\":true,\"_source\":{\"test_field\": \"test test\"}}");
    assert_int_equal(call("PUT", "/test_index/test_type/7?version=1", "{\"test_field\": \"test client 1\"}"), 200);
    assert_string_equal(at("_version"), "2");
    assert_string_equal(at("created"), "false");
    assert_int_equal(call("PUT", "/test_index/test_type/7?version=1", "{\"test_field\": \"test client 2\"}"), 409);
    assert_string_equal(at("error.reason"),
                        "[test_type][7]: version conflict, current version [2] is different than the one provided [1]");
    assert_string_equal(at("error.root_cause.0.type"), "version_conflict_engine_exception");
    assert_string_equal(at("error.shard"), "0");
    assert_string_equal(at("error.index"), "test_index");
    assert_int_equal(strlen(at("error.index_uuid")), 22);
    assert_string_equal(at("status"), "409");
    assert_int_equal(call("PUT", "/test_index/test_type/7?version=2", "{\"test_field\": \"test client 2\"}"), 200);
    assert_string_equal(at("_version"), "3");
    /* external on the legacy path */
    assert_int_equal(call("PUT", "/test_index/test_type/8?version=2&version_type=external", "{\"f\":1}"), 201);
    assert_int_equal(call("PUT", "/test_index/test_type/8?version=2&version_type=external", "{\"f\":2}"), 409);
    assert_string_equal(at("error.reason"),
                        "[test_type][8]: version conflict, current version [2] is higher or equal to the one provided [2]");
}

static void test_modern_versioning(void **state)
{
    (void)state;
    assert_int_equal(call("POST", "/website/_doc/1?op_type=create", "{\"title\":\"x\"}"), 201);
    assert_string_equal(at("_seq_no"), "0");
    assert_string_equal(at("_primary_term"), "1");
    assert_string_equal(at("_type"), "<missing>");
    assert_int_equal(call("PUT", "/website/_doc/1?version=1", "{}"), 400);
    assert_string_equal(at("error.type"), "action_request_validation_exception");
    assert_string_equal(at("error.reason"), "Validation Failed: 1: internal versioning can not be used for optimistic "
                                            "concurrency control. Please use `if_seq_no` and `if_primary_term` instead;");
    assert_int_equal(call("POST", "/website/_doc/2?version=5&version_type=external", "{}"), 201);
    assert_string_equal(at("_version"), "5");
    assert_int_equal(call("POST", "/website/_doc/2?version=10&version_type=external", "{}"), 200);
    assert_string_equal(at("result"), "updated");
    assert_int_equal(call("POST", "/website/_doc/2?version=10&version_type=external", "{}"), 409);
    assert_string_equal(at("error.reason"), "[2]: version conflict, current version [10] is higher or equal to the one "
                                            "provided [10]");
    assert_int_equal(call("PUT", "/website/_doc/2?version=9223372036854775808&version_type=external", "{}"), 400);
    assert_string_equal(at("error.reason"), "Failed to parse long parameter [version] with value [9223372036854775808]");
    assert_string_equal(at("error.caused_by.type"), "number_format_exception");
    assert_int_equal(call("PUT", "/website/_create/3?version=4&version_type=external", "{}"), 400);
    assert_string_equal(at("error.reason"),
                        "Validation Failed: 1: create operations only support internal versioning. use index instead;");
    assert_int_equal(call("PUT", "/website/_doc/1?if_seq_no=0&if_primary_term=1", "{\"t\":2}"), 200);
    assert_int_equal(call("PUT", "/website/_doc/1?if_seq_no=0&if_primary_term=1", "{\"t\":3}"), 409);
    assert_int_equal(call("DELETE", "/website/_doc/nope", NULL), 404);
    assert_string_equal(at("result"), "not_found");
    assert_string_equal(at("_version"), "1");
    assert_int_equal(call("DELETE", "/website/_doc/2?version=11&version_type=external", NULL), 200);
    assert_string_equal(at("result"), "deleted");
    assert_int_equal(call("PUT", "/website/_doc/2?version=11&version_type=external", "{}"), 409);
    assert_int_equal(call("GET", "/website/_doc/2", NULL), 404);
    assert_string_equal(at("found"), "false");
    assert_int_equal(call("PUT", "/website/_doc/9?refresh=true", "{}"), 201);
    assert_string_equal(at("forced_refresh"), "true");
    assert_int_equal(call("PUT", "/website/_doc/9?refresh=maybe", "{}"), 400);
    assert_string_equal(at("error.reason"), "Unknown value for refresh: [maybe].");
    assert_int_equal(call("GET", "/website/_doc/9?version=2", NULL), 409);
    assert_int_equal(call("GET", "/website/_doc/9?version=1", NULL), 200);
}

static void test_reads_and_updates(void **state)
{
    (void)state;
    assert_int_equal(call("PUT", "/r/_doc/1", "{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"e\":\"x\"}"), 201);
    assert_int_equal(call("GET", "/r/_source/1", NULL), 200);
    assert_string_equal(g_r.body.data, "{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"e\":\"x\"}");
    assert_int_equal(call("GET", "/r/_doc/1?_source=b.c,e", NULL), 200);
    assert_string_equal(at("_source"), "{\"b\":{\"c\":2},\"e\":\"x\"}");
    assert_int_equal(call("GET", "/r/_doc/1?_source=false", NULL), 200);
    assert_string_equal(at("_source"), "<missing>");
    assert_int_equal(call("GET", "/r/_doc/1?_source_excludes=b", NULL), 200);
    assert_string_equal(at("_source"), "{\"a\":1,\"e\":\"x\"}");
    assert_int_equal(call("GET", "/r/_source/2", NULL), 404);
    assert_string_equal(at("error.type"), "resource_not_found_exception");
    assert_int_equal(call("POST", "/r/_update/1", "{\"doc\":{\"a\":1}}"), 200);
    assert_string_equal(at("result"), "noop");
    assert_string_equal(at("_shards.total"), "0");
    assert_int_equal(call("POST", "/r/_update/1", "{\"doc\":{\"a\":2}}"), 200);
    assert_string_equal(at("result"), "updated");
    assert_string_equal(at("_version"), "2");
    assert_int_equal(call("POST", "/r/_update/2", "{\"doc\":{\"a\":2}}"), 404);
    assert_string_equal(at("error.type"), "document_missing_exception");
    assert_string_equal(at("error.reason"), "[2]: document missing");
    assert_int_equal(call("POST", "/r/_update/2", "{\"doc\":{\"a\":2},\"doc_as_upsert\":true}"), 201);
    assert_int_equal(call("POST", "/r/_update/2?version=2", "{\"doc\":{}}"), 400);
    assert_int_equal(call("POST", "/UPPER/_update/1", "{\"doc\":{\"a\":1},\"doc_as_upsert\":true}"), 400);
    assert_string_equal(at("error.type"), "invalid_index_name_exception");
    assert_int_equal(call("DELETE", "/UPPER/_doc/1?version=3&version_type=external", NULL), 400);
    assert_int_equal(call("HEAD", "/UPPER", NULL), 404);
    assert_int_equal(call("POST", "/_mget", "{\"docs\":[{\"_index\":\"r\",\"_id\":\"1\"},{\"_index\":\"r\",\"_id\":\"x\"},"
                                            "{\"_index\":\"nope\",\"_id\":\"1\"}]}"),
                     200);
    assert_string_equal(at("docs.0.found"), "true");
    assert_string_equal(at("docs.0._source.a"), "2");
    assert_string_equal(at("docs.1.found"), "false");
    assert_string_equal(at("docs.2.error.type"), "index_not_found_exception");
    assert_int_equal(call("POST", "/r/_mget", "{\"ids\":[\"2\"]}"), 200);
    assert_string_equal(at("docs.0._source.a"), "2");
    assert_int_equal(call("POST", "/_mget", "{\"docs\":[]}"), 400);
    assert_string_equal(at("error.reason"), "Validation Failed: 1: no documents to get;");
}

static void test_bulk_responses(void **state)
{
    (void)state;
    const char *body = "{\"index\":{\"_index\":\"b\",\"_id\":\"1\",\"version\":5,\"version_type\":\"external\"}}\n{}\n"
                       "{\"delete\":{\"_index\":\"b\",\"_id\":\"2\",\"version\":3,\"version_type\":\"external\"}}\n";
    assert_int_equal(call("POST", "/_bulk", body), 200);
    assert_string_equal(at("errors"), "false"); /* a not_found delete is no error */
    assert_string_equal(at("items.0.index.status"), "201");
    assert_string_equal(at("items.1.delete.status"), "404");
    assert_string_equal(at("items.1.delete.result"), "not_found");
    assert_int_equal(call("POST", "/_bulk", body), 200);
    assert_string_equal(at("errors"), "true");
    assert_string_equal(at("items.0.index.error.type"), "version_conflict_engine_exception");
    assert_string_equal(at("items.0.index.error.reason"),
                        "[1]: version conflict, current version [5] is higher or equal to the one provided [5]");
    assert_string_equal(at("items.0.index.error.shard"), "0");
    /* validation is all-or-nothing: the valid first action did not run */
    const char *bad = "{\"index\":{\"_index\":\"b\",\"_id\":\"9\",\"version\":7,\"version_type\":\"external\"}}\n{}\n"
                      "{\"index\":{\"_index\":\"b\",\"_id\":\"10\",\"version_type\":\"external\"}}\n{}\n";
    assert_int_equal(call("POST", "/_bulk", bad), 400);
    assert_string_equal(at("error.type"), "action_request_validation_exception");
    assert_int_equal(call("GET", "/b/_doc/9", NULL), 404);
    assert_int_equal(call("POST", "/b/_bulk?refresh=true", "{\"index\":{\"_id\":\"11\"}}\n{\"x\":1}\n"), 200);
    assert_string_equal(at("items.0.index._index"), "b");
    assert_string_equal(at("items.0.index.forced_refresh"), "true");
    assert_int_equal(call("GET", "/b/_count", NULL), 200);
    assert_string_equal(at("count"), "2");
}

static void test_index_admin(void **state)
{
    (void)state;
    assert_int_equal(call("PUT", "/books", "{\"settings\":{\"number_of_shards\":1},\"mappings\":{\"properties\":{}}}"), 200);
    assert_string_equal(at("acknowledged"), "true");
    assert_string_equal(at("index"), "books");
    assert_int_equal(call("PUT", "/books", NULL), 400);
    assert_string_equal(at("error.type"), "resource_already_exists_exception");
    assert_int_equal(call("GET", "/books", NULL), 200);
    /* settings as Elasticsearch renders them: strings under "index", defaults added */
    assert_string_equal(at("books.settings.index.number_of_shards"), "1");
    assert_string_equal(at("books.settings.index.number_of_replicas"), "1");
    assert_string_equal(at("books.settings.index.provided_name"), "books");
    assert_string_equal(at("books.mappings"), "{\"properties\":{}}");
    assert_int_equal(call("HEAD", "/books", NULL), 200);
    assert_int_equal(call("PUT", "/Books", NULL), 400);
    assert_string_equal(at("error.type"), "invalid_index_name_exception");
    assert_int_equal(call("PUT", "/_lead", NULL), 400);
    assert_string_equal(at("error.type"), "invalid_index_name_exception");
    assert_int_equal(call("GET", "/_cat/indices?format=json", NULL), 200);
    assert_string_equal(at("0.index"), "books");
    assert_int_equal(call("GET", "/_cat/indices", NULL), 200);
    assert_non_null(strstr(g_r.body.data, "books"));
    assert_int_equal(call("GET", "/_cluster/health", NULL), 200);
    assert_string_equal(at("status"), "green");
    assert_int_equal(call("POST", "/books/_refresh", NULL), 200);
    assert_int_equal(call("GET", "/_refresh", NULL), 200);
    assert_int_equal(call("PUT", "/books/_settings", "{\"index\":{\"gc_deletes\":\"5m\"}}"), 200);
    assert_int_equal(call("PUT", "/books/_settings", "{\"index\":{\"gc_deletes\":\"5\"}}"), 400);
    assert_int_equal(call("DELETE", "/books", NULL), 200);
    assert_int_equal(call("DELETE", "/books", NULL), 404);
    assert_int_equal(call("HEAD", "/books", NULL), 404);
    assert_int_equal(call("GET", "/?pretty", NULL), 200);
    assert_non_null(strstr(g_r.body.data, "\n  \"name\" : "));
}

static void test_search_match_all(void **state)
{
    (void)state;
    const char *body = "{\"index\":{\"_index\":\"s\",\"_id\":\"b\",\"version\":5,\"version_type\":\"external\"}}\n{\"x\":2}\n"
                       "{\"index\":{\"_index\":\"s\",\"_id\":\"a\"}}\n{\"x\":1}\n"
                       "{\"index\":{\"_index\":\"s\",\"_id\":\"c\"}}\n{\"x\":3}\n"
                       "{\"delete\":{\"_index\":\"s\",\"_id\":\"c\"}}\n";
    assert_int_equal(call("POST", "/_bulk", body), 200);
    assert_int_equal(call("POST", "/s/_search",
                          "{\"size\":1,\"query\":{\"match_all\":{}},\"sort\":[{\"_id\":\"asc\"}],"
                          "\"_source\":false,\"version\":true,\"track_total_hits\":false}"),
                     200);
    assert_string_equal(at("hits.hits.0._id"), "a");
    assert_string_equal(at("hits.hits.0.sort.0"), "a");
    assert_string_equal(at("hits.hits.0._source"), "<missing>");
    assert_string_equal(at("hits.total"), "<missing>");
    assert_int_equal(call("POST", "/s/_search", "{\"sort\":[\"_id\"],\"version\":true,\"search_after\":[\"a\"]}"), 200);
    assert_string_equal(at("hits.hits.0._id"), "b");
    assert_string_equal(at("hits.hits.0._version"), "5");
    assert_string_equal(at("hits.hits.1"), "<missing>"); /* c is a tombstone */
    assert_string_equal(at("hits.total.value"), "2");
    assert_int_equal(call("GET", "/s/_search?sort=_id:desc", NULL), 200);
    assert_string_equal(at("hits.hits.0._id"), "b");
    assert_string_equal(at("hits.hits.0._source.x"), "2");
    assert_string_equal(at("hits.hits.1._id"), "a");
    assert_int_equal(call("POST", "/s/_search", "{\"query\":{\"term\":{\"x\":1}}}"), 200);
    assert_string_equal(at("hits.total.value"), "1");
    assert_int_equal(call("POST", "/s/_search", "{\"query\":{\"nosuch\":{\"x\":1}}}"), 400);
    assert_int_equal(call("POST", "/s/_search", "{\"from\":9999,\"size\":2}"), 400);
    assert_int_equal(call("GET", "/nope/_search", NULL), 404);
    assert_int_equal(call("PUT", "/fs", "{\"settings\":{\"index\":{\"gc_deletes\":\"1h\",\"number_of_shards\":1}}}"), 200);
    assert_int_equal(call("GET", "/fs/_settings?flat_settings=true&include_defaults=true", NULL), 200);
    const cJSON *fs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g_j, "fs"), "settings");
    const cJSON *gc = cJSON_GetObjectItemCaseSensitive(fs, "index.gc_deletes");
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(fs, "index.number_of_shards");
    assert_true(cJSON_IsString(gc) && cJSON_IsString(shards));
    assert_string_equal(gc->valuestring, "1h");
    assert_string_equal(shards->valuestring, "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_root_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_seed_walkthrough, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modern_versioning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_and_updates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulk_responses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_admin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_match_all, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
