/* Unit tests for store_json and store_util: the JSON scanner, exact longs, object iteration, pretty output, ids, URL coding, time values. */
#include "versync/store/store_json.h"
#include "versync/store/store_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static bool obj(const char *s) { return json_is_object(s, strlen(s)); }

static void test_scanner_accepts_and_rejects(void **state)
{
    (void)state;
    assert_true(obj("{}"));
    assert_true(obj(" {\"a\" : [1, -2.5e3, true, false, null, {\"b\":\"\\u00e9\\n\"}]} \n"));
    assert_true(obj("{\"a\":\"x\\u0000y\"}"));
    assert_true(obj("{\"\xc3\xa9\":\"\xe2\x82\xac\xf0\x9f\x98\x80\"}"));
    assert_true(obj("{\"long\":\"abcdefghijklmnopqrstuvwxyz0123456789abcdefghij\"}"));
    const char *bad[] = {"", "{", "{\"a\":", "{\"a\":1,}", "{\"a\":1}}", "{\"a\":\"\\x\"}", "not json", "[1,2]",
                         "\"text\"", "42", "{\"a\":01}", "{\"a\":1.}", "{\"a\":\"\x01\"}", "{\"a\":\"\xff\xfe\"}",
                         "{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{a:1}", "{\"a\":tru}", "{\"a\" 1}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(obj(bad[i]));
    assert_true(json_is_valid("[1,2]", 5));
    assert_true(json_is_valid("42", 2));
    /* nesting deeper than the limit is refused, without recursion trouble */
    size_t n = 5000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    assert_false(json_is_valid(deep, 2 * n));
    memset(deep, '[', 500);
    memset(deep + 500, ']', 500);
    assert_true(json_is_valid(deep, 1000));
    free(deep);
}

static void test_object_iteration(void **state)
{
    (void)state;
    const char *s = "{\"index\":{\"_id\":\"a\\\"b\",\"version\":12},\"x\":[1]}";
    json_iter it;
    json_tok k, v;
    assert_true(json_obj_begin(&it, s, s + strlen(s)));
    assert_int_equal(json_obj_next(&it, &k, &v), 1);
    assert_true(json_tok_eq(&k, "index"));
    assert_int_equal(v.type, JSON_OBJECT);
    json_iter in;
    assert_true(json_obj_begin(&in, v.p, v.p + v.n));
    assert_int_equal(json_obj_next(&in, &k, &v), 1);
    assert_true(json_tok_eq(&k, "_id"));
    assert_true(v.escaped);
    buf b = BUF_INIT;
    assert_true(json_unescape(&v, &b));
    assert_string_equal(b.data, "a\"b");
    assert_int_equal(json_obj_next(&in, &k, &v), 1);
    assert_int_equal(v.type, JSON_NUMBER);
    assert_int_equal(v.n, 2);
    assert_int_equal(json_obj_next(&in, &k, &v), 0);
    assert_int_equal(json_obj_next(&it, &k, &v), 1);
    assert_int_equal(v.type, JSON_ARRAY);
    assert_int_equal(json_obj_next(&it, &k, &v), 0);
    buf_reset(&b);
    json_tok u = {JSON_STRING, "\\ud83d\\ude00\\u00e9", 18, true};
    assert_true(json_unescape(&u, &b));
    assert_string_equal(b.data, "\xf0\x9f\x98\x80\xc3\xa9");
    buf_free(&b);
}

static void test_array_iteration(void **state)
{
    (void)state;
    const char *s = " [ 1 , {\"a\":[]} ,\"x\",[true,null] ] ";
    json_iter it;
    json_tok v;
    assert_true(json_arr_begin(&it, s, s + strlen(s)));
    json_type want[] = {JSON_NUMBER, JSON_OBJECT, JSON_STRING, JSON_ARRAY};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(json_arr_next(&it, &v), 1);
        assert_int_equal(v.type, want[i]);
    }
    assert_int_equal(json_arr_next(&it, &v), 0);
    assert_int_equal(*json_ws(it.p, s + strlen(s)), '\0'); /* past the ']' and the trailing space */
    const char *empty = "[]";
    assert_true(json_arr_begin(&it, empty, empty + 2));
    assert_int_equal(json_arr_next(&it, &v), 0);
    const char *obj = "{}";
    assert_false(json_arr_begin(&it, obj, obj + 2));
    const char *bad[] = {"[1 2]", "[1,]", "[,1]", "[1", "[\"\\ud800\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *b = bad[i];
        int r = 1;
        assert_true(json_arr_begin(&it, b, b + strlen(b)));
        while (r == 1)
            r = json_arr_next(&it, &v);
        assert_int_equal(r, -1);
    }
}

/* Stepping into values without reading them first: the caller reads each and moves the iterator on. */
static void test_lazy_steps(void **state)
{
    (void)state;
    const char *s = "{\"a\" : [ {\"b\":1} , 2 ] , \"c\":\"d\"}";
    const char *end = s + strlen(s), *at;
    json_iter top, arr, in;
    json_tok k, v;
    assert_true(json_obj_begin(&top, s, end));
    assert_int_equal(json_obj_key(&top, &k, &at), 1);
    assert_true(json_tok_eq(&k, "a"));
    assert_int_equal(*at, '[');
    assert_true(json_arr_begin(&arr, at, end));
    assert_int_equal(json_arr_at(&arr, &at), 1);
    assert_true(json_obj_begin(&in, at, end));
    assert_int_equal(json_obj_next(&in, &k, &v), 1);
    assert_true(json_tok_eq(&k, "b"));
    assert_int_equal(json_obj_next(&in, &k, &v), 0);
    arr.p = in.p;
    assert_int_equal(json_arr_at(&arr, &at), 1);
    assert_int_equal(*at, '2');
    arr.p = json_scan(at, end, NULL);
    assert_int_equal(json_arr_at(&arr, &at), 0);
    top.p = arr.p;
    assert_int_equal(json_obj_next(&top, &k, &v), 1);
    assert_true(json_tok_eq(&k, "c"));
    assert_int_equal(json_obj_next(&top, &k, &v), 0);
    assert_true(top.p == end);
    const char *bad = "{\"a\" 1}";
    assert_true(json_obj_begin(&top, bad, bad + strlen(bad)));
    assert_int_equal(json_obj_key(&top, &k, &at), -1);
}

static void test_parse_long(void **state)
{
    (void)state;
    int64_t v;
    assert_true(json_parse_long("0", 1, &v) && v == 0);
    assert_true(json_parse_long("9223372036854775807", 19, &v) && v == INT64_MAX);
    assert_true(json_parse_long("-9223372036854775808", 20, &v) && v == INT64_MIN);
    assert_true(json_parse_long("+5", 2, &v) && v == 5);
    assert_true(json_parse_long("-3", 2, &v) && v == -3);
    assert_false(json_parse_long("9223372036854775808", 19, &v));
    assert_false(json_parse_long("1.5", 3, &v));
    assert_false(json_parse_long("abc", 3, &v));
    assert_false(json_parse_long("", 0, &v));
    assert_false(json_parse_long("-", 1, &v));
    assert_false(json_parse_long("1e3", 3, &v));
}

static void test_pretty(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    const char *in = "{\"a\":{\"b\":[1,2]},\"c\":\"x:{y}\",\"d\":{}}";
    assert_true(store_json_pretty(in, strlen(in), &b));
    assert_string_equal(b.data, "{\n  \"a\" : {\n    \"b\" : [\n      1,\n      2\n    ]\n  },\n  \"c\" : \"x:{y}\",\n"
                                "  \"d\" : { }\n}\n");
    buf_free(&b);
}

static void test_ids_and_uuids(void **state)
{
    (void)state;
    char a[21], b[21], u[23];
    store_util_auto_id(a);
    store_util_auto_id(b);
    assert_int_equal(strlen(a), 20);
    assert_string_not_equal(a, b);
    assert_true(strcmp(a, b) != 0);
    store_util_uuid(u);
    assert_int_equal(strlen(u), 22);
    for (int i = 0; i < 22; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", u[i]));
}

static void test_url_and_units(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    assert_true(store_util_url_decode("a%2Fb+c%41", 10, true, &b));
    assert_string_equal(b.data, "a/b cA");
    buf_reset(&b);
    assert_true(store_util_url_decode("a+b", 3, false, &b));
    assert_string_equal(b.data, "a+b");
    buf_reset(&b);
    assert_false(store_util_url_decode("%4", 2, false, &b));
    buf_reset(&b);
    assert_true(store_util_url_encode("a/b c\xc3\xa9", 7, &b));
    assert_string_equal(b.data, "a%2Fb%20c%C3%A9");
    buf_free(&b);
    int64_t ms;
    assert_true(store_util_parse_time_ms("60s", &ms) && ms == 60000);
    assert_true(store_util_parse_time_ms("500ms", &ms) && ms == 500);
    assert_true(store_util_parse_time_ms("2m", &ms) && ms == 120000);
    assert_true(store_util_parse_time_ms("1d", &ms) && ms == 86400000);
    assert_true(store_util_parse_time_ms("-1", &ms) && ms == -1);
    assert_false(store_util_parse_time_ms("60", &ms));
    assert_false(store_util_parse_time_ms("1x", &ms));
    assert_true(store_util_glob("a*c", 3, "abbbc", 5));
    assert_true(store_util_glob("*", 1, "", 0));
    assert_true(store_util_glob("**a**", 5, "xxa", 3));
    assert_false(store_util_glob("a*c", 3, "abbb", 4));
    assert_true(store_util_glob("*ab", 3, "aab", 3));
    /* many stars and no match: answered at once, not after 2^n steps */
    char pat[301], subj[4001];
    memset(pat, '*', 299);
    pat[299] = 'b';
    memset(subj, 'a', 4000);
    assert_false(store_util_glob(pat, 300, subj, 4000));
    for (int i = 0; i < 150; i++)
        pat[2 * i] = '*', pat[2 * i + 1] = 'a';
    pat[300] = 'b';
    assert_false(store_util_glob(pat, 301, subj, 4000));
    uint64_t bytes;
    assert_true(store_util_parse_bytes("1000", &bytes) && bytes == 1000);
    assert_true(store_util_parse_bytes("100mb", &bytes) && bytes == 100ULL << 20);
    assert_true(store_util_parse_bytes("2k", &bytes) && bytes == 2048);
    assert_false(store_util_parse_bytes("x", &bytes));
    assert_false(store_util_parse_bytes("-1", &bytes));
    assert_false(store_util_parse_bytes("1q", &bytes));
}

static const char *filt(const char *in, const char *fp)
{
    static char out[1024];
    buf b = BUF_INIT;
    assert_true(store_json_filter(in, strlen(in), fp, &b));
    snprintf(out, sizeof out, "%s", b.data);
    buf_free(&b);
    return out;
}

/* \u0000 escapes inside strings become U+10FFFF before cJSON sees them. */
static void test_mark_nul(void **state)
{
    (void)state;
    buf out = BUF_INIT;
    bool found = true;
    const char *plain = "{\"a\":\"b\\\\u0000\",\"c\":\"\\u0001\"}"; /* an escaped backslash, then u0000: no NUL */
    assert_true(store_json_mark_nul(plain, strlen(plain), &out, &found));
    assert_false(found);
    assert_int_equal(out.len, 0);
    const char *t = "{\"k\\u0000\":[\"x\\u0000y\",\"\\\"\\u0000\"]}";
    assert_true(store_json_mark_nul(t, strlen(t), &out, &found));
    assert_true(found);
    assert_string_equal(out.data, "{\"k\\udbff\\udfff\":[\"x\\udbff\\udfffy\",\"\\\"\\udbff\\udfff\"]}");
    assert_true(json_is_valid(out.data, out.len));
    buf_free(&out);
}

static void test_filter_path(void **state)
{
    (void)state;
    const char *bulk = "{\"took\":3,\"errors\":true,\"items\":[{\"index\":{\"_id\":\"1\",\"_version\":9223372036854775807,"
                       "\"status\":201}},{\"index\":{\"_id\":\"2\",\"status\":409,\"error\":{\"type\":\"x\"}}}]}";
    assert_string_equal(filt(bulk, "errors"), "{\"errors\":true}");
    assert_string_equal(filt(bulk, "errors,items.*.error"),
                        "{\"errors\":true,\"items\":[{\"index\":{\"error\":{\"type\":\"x\"}}}]}");
    assert_string_equal(filt(bulk, "items.*._version"), "{\"items\":[{\"index\":{\"_version\":9223372036854775807}}]}");
    assert_string_equal(filt(bulk, "**.status"),
                        "{\"items\":[{\"index\":{\"status\":201}},{\"index\":{\"status\":409}}]}");
    assert_string_equal(filt(bulk, "nothing"), "{}");
    assert_string_equal(filt(bulk, "-took"), bulk);
    assert_string_equal(filt("{\"a\\\"b\":\"x\"}", "a\"b"), "{\"a\\\"b\":\"x\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scanner_accepts_and_rejects),
        cmocka_unit_test(test_object_iteration),
        cmocka_unit_test(test_array_iteration),
        cmocka_unit_test(test_lazy_steps),
        cmocka_unit_test(test_parse_long),
        cmocka_unit_test(test_pretty),
        cmocka_unit_test(test_ids_and_uuids),
        cmocka_unit_test(test_url_and_units),
        cmocka_unit_test(test_filter_path),
        cmocka_unit_test(test_mark_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
