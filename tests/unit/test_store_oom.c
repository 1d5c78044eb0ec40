/* Unit tests for verstore's answers when buffer allocations fail: every endpoint answers a complete 500, never a 200 cut short. */
#include "versync/common/buf.h"
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

/* ---- allocation-failure injection ----------------------------------------------
 * buf.c routes its (re)allocations through buf_test_realloc when a binary
 * defines it (only test binaries do). Armed on this thread, the `fail_at`-th
 * allocation from arming fails, and with `fail_rest` every one after it too. */

static _Thread_local bool g_armed;
static _Thread_local unsigned long g_calls, g_fail_at;
static _Thread_local bool g_fail_rest, g_hit;

void *buf_test_realloc(void *p, size_t n);
void *buf_test_realloc(void *p, size_t n)
{
    if (g_armed) {
        g_calls++;
        if (g_calls == g_fail_at || (g_fail_rest && g_calls > g_fail_at)) {
            g_hit = true;
            return NULL;
        }
    }
    return realloc(p, n);
}

static void arm(unsigned long at, bool rest)
{
    g_calls = 0;
    g_fail_at = at;
    g_fail_rest = rest;
    g_hit = false;
    g_armed = true;
}

static char g_dir[256];
static store_engine *g_e;
static store_api *g_api;

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_store_oom.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    log_init("test", (log_level)(LOG_ERROR + 1), LOG_FORMAT_TEXT); /* the injected failures are logged */
    char err[256];
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)64 << 20};
    assert_true(store_engine_open(&o, &g_e, err, sizeof err));
    g_api = store_api_new(g_e);
    assert_non_null(g_api);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    g_armed = false;
    store_api_free(g_api);
    store_engine_close(g_e);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* One request through the API on this thread; `r` is (re)initialised. */
static void handle(const char *method, const char *path, const char *query, const char *body, store_resp *r)
{
    store_param params[4];
    size_t n = 0;
    char q[256] = "";
    if (query) {
        snprintf(q, sizeof q, "%s", query);
        for (char *tok = strtok(q, "&"); tok && n < 4; tok = strtok(NULL, "&")) {
            char *eq = strchr(tok, '=');
            if (eq)
                *eq = '\0';
            params[n].key = tok;
            params[n].value = eq ? eq + 1 : "";
            n++;
        }
    }
    store_req req = {method, path, params, n, body ? body : "", body ? strlen(body) : 0, "application/json"};
    store_resp_free(r);
    store_resp_init(r);
    store_api_handle(g_api, &req, r);
}

static int plain(const char *method, const char *path, const char *query, const char *body)
{
    store_resp r;
    store_resp_init(&r);
    handle(method, path, query, body, &r);
    int st = r.status;
    store_resp_free(&r);
    return st;
}

static void seed(void)
{
    assert_int_equal(plain("PUT", "/o", NULL, "{\"mappings\":{\"properties\":{\"t\":{\"type\":\"text\"},"
                                              "\"k\":{\"type\":\"keyword\"},\"n\":{\"type\":\"long\"}}}}"),
                     200);
    char body[8192];
    size_t off = 0;
    for (int i = 0; i < 40; i++)
        off += (size_t)snprintf(body + off, sizeof body - off,
                                "{\"index\":{\"_index\":\"o\",\"_id\":\"d%d\",\"version\":%d,\"version_type\":\"external\"}}\n"
                                "{\"t\":\"quick brown fox %d jumps\",\"k\":\"key%d\",\"n\":%d}\n",
                                i, i + 1, i, i % 7, i);
    assert_int_equal(plain("POST", "/_bulk", "refresh=true", body), 200);
}

/* Whatever allocation fails while `method path` is answered, the answer is
 * the one given with memory to spare or a complete JSON 500: never another
 * status, never a body cut short. Reads are compared byte for byte; `write`
 * requests only by status (they change the store). */
static void check_request(const char *method, const char *path_fmt, const char *query, const char *body_fmt, bool write)
{
    /* Writes name a fresh document each time (a %lu in the path or body),
     * so that every attempt meets the store as the first one did. */
    static unsigned long uniq;
    char path[256], body[2048];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#define FRESH()                                                                                                        \
    do {                                                                                                               \
        uniq++;                                                                                                        \
        snprintf(path, sizeof path, path_fmt, uniq);                                                                   \
        if (body_fmt)                                                                                                  \
            snprintf(body, sizeof body, body_fmt, uniq, uniq);                                                         \
    } while (0)
    store_resp base, r;
    store_resp_init(&base);
    store_resp_init(&r);
    FRESH();
    handle(method, path, query, body_fmt ? body : NULL, &base);
    assert_true(buf_ok(&base.body));
    int failures500 = 0;
    for (int rest = 0; rest <= 1; rest++) {
        for (unsigned long at = 1;; at++) {
            FRESH();
            arm(at, rest);
            handle(method, path, query, body_fmt ? body : NULL, &r);
            g_armed = false;
            if (!g_hit) {
                assert_int_equal(r.status, base.status);
                break;
            }
            if (!buf_ok(&r.body)) {
                /* Even the error body did not fit: store_http answers its fixed 500. */
                assert_true(rest);
                continue;
            }
            if (r.status != 500 && !write && (r.status != base.status || strcmp(r.body.data, base.body.data) != 0))
                fail_msg("%s %s, allocation %lu%s failing: HTTP %d %s\n(expected %d %s)", method, path, at,
                         rest ? " and later" : "", r.status, r.body.data, base.status, base.body.data);
            if (r.status != 500 && write && r.status != base.status)
                fail_msg("%s %s, allocation %lu failing: HTTP %d %s", method, path, at, r.status, r.body.data);
            if (r.status == 500) {
                failures500++;
                cJSON *j = cJSON_Parse(r.body.data);
                if (!j)
                    fail_msg("%s %s, allocation %lu failing: a 500 that is not JSON: %s", method, path, at,
                             r.body.data);
                const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
                assert_non_null(e);
                assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "reason")->valuestring, "out of memory");
                cJSON_Delete(j);
            }
            assert_true(at < 100000);
        }
    }
#undef FRESH
#pragma GCC diagnostic pop
    /* The injection did reach this endpoint's writers. */
    assert_true(failures500 > 0);
    store_resp_free(&base);
    store_resp_free(&r);
}

static void test_reads_answer_500_not_a_short_200(void **state)
{
    (void)state;
    seed();
    check_request("GET", "/", NULL, NULL, false);
    check_request("GET", "/o/_doc/d3", NULL, NULL, false);
    check_request("GET", "/o/_doc/d3", "pretty=true", NULL, false);
    check_request("POST", "/_mget", NULL, "{\"docs\":[{\"_index\":\"o\",\"_id\":\"d1\"},{\"_index\":\"o\",\"_id\":\"x\"}]}",
                  false);
    check_request("GET", "/_cat/indices", "format=json", NULL, false);
    check_request("GET", "/o", NULL, NULL, false);
    check_request("GET", "/o/_mapping", NULL, NULL, false);
    check_request("POST", "/o/_search", "filter_path=hits.hits._id",
                  "{\"query\":{\"match\":{\"t\":\"fox\"}},\"size\":30,\"sort\":[\"n\"]}", false);
    check_request("POST", "/o/_search", NULL,
                  "{\"size\":5,\"query\":{\"bool\":{\"filter\":[{\"range\":{\"n\":{\"gte\":3}}}]}},"
                  "\"aggs\":{\"by\":{\"terms\":{\"field\":\"k\"}},\"s\":{\"stats\":{\"field\":\"n\"}}}}",
                  false);
    check_request("POST", "/o/_count", NULL, "{\"query\":{\"term\":{\"k\":\"key3\"}}}", false);
    check_request("GET", "/nosuch/_doc/1", NULL, NULL, false);
    check_request("GET", "/o/_search", "q=%%%", NULL, false);
}

static void test_writes_answer_500_not_a_short_200(void **state)
{
    (void)state;
    seed();
    check_request("PUT", "/o/_doc/w%lu", "version=100&version_type=external", "{\"t\":\"x\"}", true);
    check_request("PUT", "/o/_doc/d1", "version=1&version_type=external", "{\"t\":\"conflict\"}", true);
    check_request("POST", "/_bulk", NULL,
                  "{\"index\":{\"_index\":\"o\",\"_id\":\"b%lu\",\"version\":500,\"version_type\":\"external\"}}\n"
                  "{\"t\":\"y\"}\n{\"delete\":{\"_index\":\"o\",\"_id\":\"c%lu\"}}\n"
                  "{\"index\":{\"_index\":\"o\",\"_id\":\"d1\",\"version\":1,\"version_type\":\"external\"}}\n{}\n",
                  true);
}

/* The body's cap is Elasticsearch's circuit breaker: a 429 whole, not a short 200. */
static void test_body_cap_answers_429(void **state)
{
    (void)state;
    seed();
    store_resp r;
    store_resp_init(&r);
    store_param p[1] = {{"size", "40"}};
    store_req req = {"GET", "/o/_search", p, 1, "", 0, NULL};
    store_api_handle(g_api, &req, &r);
    assert_int_equal(r.status, 200);
    size_t full = r.body.len;
    store_resp_free(&r);
    store_resp_init(&r);
    r.body.max = full / 2; /* a cap the front would set */
    store_call *c = store_api_begin(g_api, &req, &r);
    assert_null(c);
    assert_int_equal(r.status, 429);
    assert_true(buf_ok(&r.body));
    cJSON *j = cJSON_Parse(r.body.data);
    assert_non_null(j);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "type")->valuestring, "circuit_breaking_exception");
    cJSON_Delete(j);
    store_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads_answer_500_not_a_short_200, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_answer_500_not_a_short_200, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_cap_answers_429, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
