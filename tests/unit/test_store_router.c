/* Unit tests for store_router: endpoint matching, percent-decoding of path parts, allowed methods, index-name rules. */
#include "versync/store/store_router.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static store_route route(const char *method, const char *path, store_match *m)
{
    assert_true(store_router_match(method, path, m));
    return m->route;
}

static void test_modern_paths(void **state)
{
    (void)state;
    store_match m;
    assert_int_equal(route("GET", "/", &m), STORE_R_ROOT);
    store_router_free(&m);
    assert_int_equal(route("PUT", "/idx/_doc/1", &m), STORE_R_DOC);
    assert_string_equal(m.index, "idx");
    assert_string_equal(m.id, "1");
    assert_null(m.type);
    assert_true(m.allowed & STORE_M_PUT);
    store_router_free(&m);
    assert_int_equal(route("POST", "/idx/_doc", &m), STORE_R_DOC_AUTO);
    store_router_free(&m);
    assert_int_equal(route("PUT", "/idx/_create/9", &m), STORE_R_CREATE);
    assert_true(m.allowed & STORE_M_POST);
    store_router_free(&m);
    assert_int_equal(route("POST", "/idx/_update/9", &m), STORE_R_UPDATE);
    assert_false(m.allowed & STORE_M_PUT);
    store_router_free(&m);
    assert_int_equal(route("GET", "/idx/_source/9", &m), STORE_R_SOURCE);
    store_router_free(&m);
    assert_int_equal(route("PUT", "/_bulk", &m), STORE_R_BULK);
    assert_null(m.index);
    store_router_free(&m);
    assert_int_equal(route("POST", "/idx/_bulk", &m), STORE_R_BULK);
    assert_string_equal(m.index, "idx");
    store_router_free(&m);
    assert_int_equal(route("PUT", "/_mget", &m), STORE_R_MGET);
    assert_true(m.allowed & STORE_M_PUT);
    store_router_free(&m);
    assert_int_equal(route("GET", "/_refresh", &m), STORE_R_REFRESH);
    store_router_free(&m);
    assert_int_equal(route("GET", "/_cat/indices", &m), STORE_R_CAT_INDICES);
    store_router_free(&m);
    assert_int_equal(route("GET", "/_cluster/health", &m), STORE_R_HEALTH);
    store_router_free(&m);
    assert_int_equal(route("HEAD", "/idx", &m), STORE_R_INDEX);
    assert_int_equal(m.method, STORE_M_HEAD);
    store_router_free(&m);
}

/* Search-side paths: /_mapping for every index, and _all as an index
 * expression where Elasticsearch takes one. */
static void test_search_paths(void **state)
{
    (void)state;
    store_match m;
    assert_int_equal(route("GET", "/_mapping", &m), STORE_R_MAPPING);
    assert_null(m.index);
    assert_int_equal(m.allowed, STORE_M_GET);
    store_router_free(&m);
    assert_int_equal(route("GET", "/_mappings", &m), STORE_R_MAPPING);
    store_router_free(&m);
    assert_int_equal(route("GET", "/a,b*/_mapping", &m), STORE_R_MAPPING);
    assert_string_equal(m.index, "a,b*");
    assert_true(m.allowed & STORE_M_PUT);
    store_router_free(&m);
    assert_int_equal(route("GET", "/_all/_mapping", &m), STORE_R_MAPPING);
    assert_string_equal(m.index, "_all");
    assert_true(m.allowed & STORE_M_PUT); /* _all is an index expression like any other */
    store_router_free(&m);
    assert_int_equal(route("GET", "/_all/_refresh", &m), STORE_R_REFRESH);
    assert_string_equal(m.index, "_all");
    store_router_free(&m);
    assert_int_equal(route("GET", "/_all/_settings", &m), STORE_R_SETTINGS);
    store_router_free(&m);
    assert_int_equal(route("POST", "/_all/_search", &m), STORE_R_SEARCH);
    assert_string_equal(m.index, "_all");
    store_router_free(&m);
    assert_int_equal(route("GET", "/_all/_count", &m), STORE_R_COUNT);
    assert_string_equal(m.index, "_all");
    store_router_free(&m);
    assert_int_equal(route("GET", "/_all/_doc", &m), STORE_R_NONE);
    store_router_free(&m);
    assert_int_equal(route("POST", "/_analyze", &m), STORE_R_ANALYZE);
    assert_null(m.index);
    assert_int_equal(m.allowed, STORE_M_GET | STORE_M_POST);
    store_router_free(&m);
    assert_int_equal(route("GET", "/books/_analyze", &m), STORE_R_ANALYZE);
    assert_string_equal(m.index, "books");
    store_router_free(&m);
}

static void test_legacy_paths(void **state)
{
    (void)state;
    store_match m;
    assert_int_equal(route("PUT", "/test_index/test_type/7", &m), STORE_R_LEGACY_DOC);
    assert_string_equal(m.type, "test_type");
    assert_string_equal(m.id, "7");
    store_router_free(&m);
    assert_int_equal(route("GET", "test_index/test_type/7", &m), STORE_R_LEGACY_DOC); /* no leading slash */
    store_router_free(&m);
    assert_int_equal(route("POST", "/i/t", &m), STORE_R_LEGACY_AUTO);
    store_router_free(&m);
    assert_int_equal(route("PUT", "/i/t/1/_create", &m), STORE_R_LEGACY_CREATE);
    store_router_free(&m);
    assert_int_equal(route("POST", "/i/t/1/_update", &m), STORE_R_LEGACY_UPDATE);
    store_router_free(&m);
    assert_int_equal(route("GET", "/i/t/1/_source", &m), STORE_R_LEGACY_SOURCE);
    store_router_free(&m);
    /* an underscore name is an endpoint, never a type */
    assert_int_equal(route("GET", "/i/_frob/1", &m), STORE_R_NONE);
    store_router_free(&m);
}

static void test_unknown_and_decoding(void **state)
{
    (void)state;
    store_match m;
    assert_int_equal(route("GET", "/err/_doc/1/extra/more", &m), STORE_R_NONE);
    store_router_free(&m);
    assert_int_equal(route("GET", "/_nosuchapi/x/y/z", &m), STORE_R_NONE);
    store_router_free(&m);
    /* an encoded slash stays inside the id */
    assert_int_equal(route("GET", "/idx/_doc/a%2Fb%20c", &m), STORE_R_DOC);
    assert_string_equal(m.id, "a/b c");
    assert_int_equal(m.id_len, 5);
    store_router_free(&m);
    /* ids may carry a NUL byte; index names may not */
    assert_int_equal(route("GET", "/idx/_doc/a%00b", &m), STORE_R_DOC);
    assert_int_equal(m.id_len, 3);
    assert_memory_equal(m.id, "a\0b", 3);
    store_router_free(&m);
    assert_false(store_router_match("GET", "/i%00x/_doc/1", &m));
    /* bytes that are not UTF-8 become U+FFFD, as Java decodes them */
    assert_int_equal(route("PUT", "/x/_doc/%FFa\xbe", &m), STORE_R_DOC);
    assert_string_equal(m.id, "\xef\xbf\xbd" "a" "\xef\xbf\xbd");
    store_router_free(&m);
    assert_false(store_router_match("GET", "/idx/_doc/%zz", &m));
    assert_false(store_router_match("GET", "/idx/_doc/%4", &m));
    /* repeated slashes are ignored */
    assert_int_equal(route("GET", "//idx//_doc//1/", &m), STORE_R_DOC);
    store_router_free(&m);
    /* method bits */
    assert_int_equal(route("PATCH", "/idx/_doc/1", &m), STORE_R_DOC);
    assert_int_equal(m.method, 0);
    store_router_free(&m);
    char text[64];
    store_router_allowed_text(STORE_M_POST | STORE_M_PUT, text, sizeof text);
    assert_string_equal(text, "POST, PUT");
}

static void test_alias_paths(void **state)
{
    (void)state;
    store_match m;
    assert_int_equal(route("POST", "/_aliases", &m), STORE_R_ALIASES);
    assert_null(m.index);
    assert_null(m.alias);
    assert_true(m.allowed & STORE_M_GET);
    store_router_free(&m);
    assert_int_equal(route("GET", "/_alias", &m), STORE_R_ALIAS);
    assert_false(m.allowed & STORE_M_PUT);
    store_router_free(&m);
    assert_int_equal(route("HEAD", "/_alias/a%2Cb", &m), STORE_R_ALIAS);
    assert_string_equal(m.alias, "a,b");
    assert_null(m.index);
    store_router_free(&m);
    assert_int_equal(route("GET", "/idx/_alias", &m), STORE_R_ALIAS);
    assert_string_equal(m.index, "idx");
    assert_null(m.alias);
    store_router_free(&m);
    assert_int_equal(route("PUT", "/idx/_aliases/al", &m), STORE_R_ALIAS);
    assert_string_equal(m.index, "idx");
    assert_string_equal(m.alias, "al");
    assert_true(m.allowed & STORE_M_DELETE);
    store_router_free(&m);
    assert_int_equal(route("DELETE", "/idx/_alias/al", &m), STORE_R_ALIAS);
    store_router_free(&m);
    store_router_free(&m); /* twice is safe */
    assert_int_equal(route("GET", "/_prometheus/metrics", &m), STORE_R_METRICS);
    assert_int_equal(m.allowed, STORE_M_GET);
    store_router_free(&m);
    /* an encoded NUL cannot be part of an alias name */
    assert_false(store_router_match("PUT", "/idx/_alias/a%00b", &m));
}

static void test_index_names(void **state)
{
    (void)state;
    buf rb = BUF_INIT;
#define VALID(n) (buf_reset(&rb), store_router_valid_index((n), &rb))
    assert_true(VALID("a-b_c.d+e"));
    assert_true(VALID(".dotted"));
    assert_true(VALID("\xc3\xa9"));
    assert_false(VALID("Upper"));
    assert_string_equal(rb.data, "Invalid index name [Upper], must be lowercase");
    assert_false(VALID("-lead"));
    assert_string_equal(rb.data, "Invalid index name [-lead], must not start with '_', '-', or '+'");
    assert_false(VALID("_lead"));
    assert_false(VALID("+lead"));
    const char *bad[] = {"a*b", "a?b", "a\"b", "a<b", "a>b", "a|b", "a b", "a,b", "a\\b", "a/b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(VALID(bad[i]));
        assert_non_null(strstr(rb.data, "must not contain the following characters"));
    }
    assert_false(VALID("a#b"));
    assert_non_null(strstr(rb.data, "must not contain '#'"));
    assert_false(VALID("a:b"));
    assert_non_null(strstr(rb.data, "must not contain ':'"));
    assert_false(VALID("."));
    assert_false(VALID(".."));
    assert_string_equal(rb.data, "Invalid index name [..], must not be '.' or '..'");
    char name[300];
    memset(name, 'a', 256);
    name[256] = '\0';
    assert_false(VALID(name));
    assert_non_null(strstr(rb.data, "index name is too long, (256 > 255)"));
    name[255] = '\0';
    assert_true(VALID(name));
    buf_free(&rb);
}

/* The route table is the one description of verstore's endpoints: every
 * pattern parses, every route has rows, a method is served by one row only,
 * and each row names its parameters and handler. */
static void test_route_table(void **state)
{
    (void)state;
    assert_true(store_routes_n > 0);
    for (size_t r = 0; r < store_routes_n; r++) {
        const store_route_def *d = &store_routes[r];
        assert_true(store_router_pattern_ok(d->pattern));
        assert_int_not_equal(d->route, STORE_R_NONE);
        assert_true(d->rows[0].methods != 0);
        unsigned seen = 0;
        for (int i = 0; i < STORE_ROUTE_MAX_METHODS && d->rows[i].methods; i++) {
            assert_int_equal(seen & d->rows[i].methods, 0);
            seen |= d->rows[i].methods;
            assert_non_null(d->rows[i].params);
            assert_non_null(d->rows[i].handler);
        }
    }
    assert_false(store_router_pattern_ok("/{nosuchfield}"));
    assert_false(store_router_pattern_ok("/{index:nosuchclass}"));
    assert_false(store_router_pattern_ok("/a/b/c/d/e/f"));

    /* The match points at the row serving its method; a refused method has none. */
    store_match m;
    assert_int_equal(route("DELETE", "/idx/_doc/1", &m), STORE_R_DOC);
    assert_non_null(m.row);
    assert_int_equal(m.row->methods, STORE_M_DELETE);
    assert_int_equal(store_router_endpoint(&m), STORE_EP_DOC_WRITE);
    store_router_free(&m);
    assert_int_equal(route("HEAD", "/idx/_doc/1", &m), STORE_R_DOC);
    assert_int_equal(store_router_endpoint(&m), STORE_EP_DOC_READ);
    store_router_free(&m);
    assert_int_equal(route("GET", "/idx/_update/1", &m), STORE_R_UPDATE);
    assert_null(m.row);
    assert_int_equal(store_router_endpoint(&m), STORE_EP_UPDATE);
    store_router_free(&m);
    assert_int_equal(route("GET", "/_nope/x", &m), STORE_R_NONE);
    assert_null(m.def);
    assert_int_equal(store_router_endpoint(&m), STORE_EP_OTHER);
    store_router_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modern_paths),
        cmocka_unit_test(test_search_paths),
        cmocka_unit_test(test_legacy_paths),
        cmocka_unit_test(test_unknown_and_decoding),
        cmocka_unit_test(test_alias_paths),
        cmocka_unit_test(test_index_names),
        cmocka_unit_test(test_route_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
