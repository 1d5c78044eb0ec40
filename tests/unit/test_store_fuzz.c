/* Robustness test for store_api: thousands of malformed and hostile requests (fixed seed) must each get an answer, never a crash, and leave stored data intact. */
#include "versync/common/log.h"
#include "versync/store/store_api.h"
#include "versync/store/store_engine.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", ""};
static const char *segs[] = {"f", "_doc", "_create", "_update", "_source", "_bulk", "_mget", "_refresh", "_cat",
                             "indices", "_cluster", "health", "t", "1", "%2F", "%00", "%zz", "_settings", "_count",
                             "A", "..", "%C3%A9", "x y", "", "_mapping", "keep"};
static const char *keys[] = {"version", "version_type", "if_seq_no", "if_primary_term", "op_type", "refresh",
                             "_source", "pretty", "format", "realtime", "_source_includes", "routing"};
static const char *vals[] = {"1", "-1", "0", "external", "external_gte", "internal", "force", "9223372036854775807",
                             "9223372036854775808", "abc", "", "true", "false", "create", "index", "json", "a,b.c",
                             "wait_for", "1.5"};
static const char *frags[] = {"{", "}", "[", "]", "\"a\"", ":", ",", "1", "-2e5", "true", "null", "\"_index\"",
                              "\"_id\"", "\"index\"", "\"delete\"", "\"update\"", "\"create\"", "\"doc\"",
                              "\"upsert\"", "\"docs\"", "\"ids\"", "\"version\"", "\"version_type\"", "\"external\"",
                              "\n", "\r\n", "\\", "\"\\u0000\"", "\xff", "\"f\"", "\"settings\"", "\"gc_deletes\"",
                              "\"1s\"", "{\"index\":{\"_index\":\"f\",\"_id\":\"1\"}}\n{\"a\":1}\n",
                              "{\"delete\":{\"_index\":\"f\",\"_id\":\"2\",\"version\":3,\"version_type\":\"external\"}}\n",
                              "{\"update\":{\"_index\":\"f\",\"_id\":\"1\"}}\n{\"doc\":{\"b\":2}}\n"};

static const char *templates[] = {"/f/_doc/1", "/f/_doc/2", "/f/_doc", "/_bulk", "/f/_bulk", "/f/_update/1",
                                  "/f/_create/3", "/_mget", "/f/_mget", "/f/t/1", "/f/t/1/_update", "/f",
                                  "/f/_settings", "/f/_source/1", "/g/_doc/%2F", "/_cat/indices"};

static const char *bodies[] = {"{\"a\":1}", "{\"doc\":{\"b\":2},\"doc_as_upsert\":true}", "{\"docs\":[{\"_index\":\"f\",\"_id\":\"1\"}]}",
                               "{\"ids\":[\"1\",2]}", "{\"settings\":{\"index\":{\"gc_deletes\":\"1s\"}}}",
                               "{\"index\":{\"_index\":\"f\",\"_id\":\"1\",\"version\":7,\"version_type\":\"external\"}}\n{\"a\":1}\n"
                               "{\"delete\":{\"_index\":\"f\",\"_id\":\"2\"}}\n{\"create\":{\"_index\":\"f\"}}\n{\"c\":1}\n"};

static unsigned g_seed = 12345;
static unsigned rnd(unsigned n)
{
    g_seed = g_seed * 1103515245u + 12345u;
    return (g_seed >> 8) % n;
}

static void test_hostile_requests(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_store_fuzz.XXXXXX";
    assert_non_null(mkdtemp(dir));
    log_init("test", LOG_ERROR, LOG_FORMAT_TEXT);
    store_engine *e;
    char err[256];
    store_engine_opts o = {.dir = dir, .durable = false, .map_size = (size_t)64 << 20};
    assert_true(store_engine_open(&o, &e, err, sizeof err));
    store_api *api = store_api_new(e);
    store_resp r;
    store_resp_init(&r);
    store_req keep = {"PUT", "/keep/_doc/1", NULL, 0, "{\"keep\":\"me\"}", 13, "application/json"};
    store_api_handle(api, &keep, &r);
    assert_int_equal(r.status, 201);

    for (int i = 0; i < 4000; i++) {
        char path[512] = "";
        int nseg = (int)rnd(6);
        for (int s = 0; s < nseg; s++) {
            strcat(path, "/");
            strcat(path, segs[rnd(sizeof segs / sizeof segs[0])]);
        }
        if (!nseg)
            strcpy(path, "/");
        if (rnd(2))
            strcpy(path, templates[rnd(sizeof templates / sizeof templates[0])]);
        store_param params[4];
        size_t np = rnd(4);
        for (size_t p = 0; p < np; p++) {
            params[p].key = keys[rnd(sizeof keys / sizeof keys[0])];
            params[p].value = vals[rnd(sizeof vals / sizeof vals[0])];
        }
        char body[2048] = "";
        int nfrag = (int)rnd(14);
        for (int f = 0; f < nfrag; f++) {
            const char *fr = frags[rnd(sizeof frags / sizeof frags[0])];
            if (strlen(body) + strlen(fr) < sizeof body)
                strcat(body, fr);
        }
        if (rnd(3) == 0)
            snprintf(body, sizeof body, "%s", bodies[rnd(sizeof bodies / sizeof bodies[0])]);
        const char *m = methods[rnd(sizeof methods / sizeof methods[0])];
        /* never touch the protected document's index with writes */
        if (strstr(path, "keep") && strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
            m = "GET";
        store_req req = {m, path, params, np, body, strlen(body), rnd(5) ? "application/json" : "text/plain"};
        store_api_handle(api, &req, &r);
        assert_true(r.status >= 200 && r.status < 600);
        if (getenv("FUZZ_TRACE"))
            fprintf(stderr, "%d %s %s\n", r.status, m, path);
        assert_non_null(r.body.data);
    }
    store_req get = {"GET", "/keep/_doc/1", NULL, 0, "", 0, NULL};
    store_api_handle(api, &get, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "\"_source\":{\"keep\":\"me\"}"));
    store_resp_free(&r);
    store_api_free(api);
    store_engine_close(e);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
