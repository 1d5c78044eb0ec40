/* Unit tests for store_cat: the _cat table renderer answers as Elasticsearch's RestTable (sizes, padding, h, s, help). */
#include "versync/store/store_cat.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static const store_cat_col cols[] = {
    {"name", "n,nm", "the name", false, false, false},
    {"num", "x", NULL, false, true, false},
    {"size", "sz", "a size", false, true, true},
    {"pri.size", NULL, "primaries' size", false, true, false},
    {"later", "x", "takes alias x over num", true, false, false},
};

/* Render `t` for the query parameters `kv` (key, value, …, NULL); the body
 * in `out`. False when the renderer refused, with the error type in `out`. */
static bool run(const store_cat_table *t, const char *const *kv, char *out, size_t n)
{
    store_param ps[16];
    size_t np = 0;
    for (; kv && kv[2 * np]; np++)
        ps[np] = (store_param){kv[2 * np], kv[2 * np + 1]};
    store_req req = {.method = "GET", .path = "/_cat/x", .params = ps, .nparams = np};
    store_resp r;
    store_resp_init(&r);
    store_error err = {0};
    bool ok = store_cat_render(t, &req, &r, &err);
    snprintf(out, n, "%s", ok ? (r.body.data ? r.body.data : "") : err.type);
    store_error_free(&err);
    store_resp_free(&r);
    return ok;
}

static void fill(store_cat_table *t)
{
    store_cat_init(t, cols, sizeof cols / sizeof cols[0]);
    const char *names[] = {"b", "a", "c"};
    int64_t nums[] = {10, 9, 100};
    for (int i = 0; i < 3; i++) {
        store_cat_cell *row = store_cat_row(t);
        assert_non_null(row);
        assert_true(store_cat_str(&row[0], names[i]));
        if (i != 2)
            store_cat_long(&row[1], nums[i]); /* c's num stays null */
        store_cat_bytes(&row[2], 1536 * (i + 1));
        store_cat_bytes(&row[3], 1536 * (i + 1));
    }
}

static void test_human_bytes(void **state)
{
    (void)state;
    char b[32];
    store_cat_human_bytes(0, b, sizeof b);
    assert_string_equal(b, "0b");
    store_cat_human_bytes(1023, b, sizeof b);
    assert_string_equal(b, "1023b");
    store_cat_human_bytes(1024, b, sizeof b);
    assert_string_equal(b, "1kb");
    store_cat_human_bytes(1536, b, sizeof b);
    assert_string_equal(b, "1.5kb");
    store_cat_human_bytes(2047, b, sizeof b); /* truncated, not rounded: format1Decimals */
    assert_string_equal(b, "1.9kb");
    store_cat_human_bytes(5LL << 30, b, sizeof b);
    assert_string_equal(b, "5gb");
    store_cat_human_bytes(INT64_MAX, b, sizeof b);
    assert_string_equal(b, "8191.9pb");
}

static void test_text_padding_and_sort(void **state)
{
    (void)state;
    store_cat_table t;
    char out[512];
    fill(&t);
    /* numbers numerically (9 < 10 < 100), the null cell first; right-aligned */
    const char *const kv1[] = {"v", "", "s", "num", "h", "name,num", NULL};
    assert_true(run(&t, kv1, out, sizeof out));
    assert_string_equal(out, "name num\nc       \na      9\nb     10\n");
    /* desc puts the null last; the last column is not padded when left-aligned */
    const char *const kv2[] = {"s", "num:desc", "h", "num,nm", NULL};
    assert_true(run(&t, kv2, out, sizeof out));
    assert_string_equal(out, "10 b\n 9 a\n   c\n");
    /* sizes by bytes, rendered per ?bytes */
    const char *const kv3[] = {"s", "sz:desc", "h", "size", "bytes", "kb", NULL};
    assert_true(run(&t, kv3, out, sizeof out));
    assert_string_equal(out, "4\n3\n1\n");
    store_cat_free(&t);
}

static void test_columns(void **state)
{
    (void)state;
    store_cat_table t;
    char out[512];
    fill(&t);
    /* a wildcard matches names and aliases once each, in column order; an
     * alias two columns share names the later one, as Table's alias map */
    const char *const kv1[] = {"format", "json", "h", "s*,x", "s", "name", NULL};
    assert_true(run(&t, kv1, out, sizeof out));
    assert_string_equal(out, "[{\"size\":\"3kb\",\"x\":null},{\"size\":\"1.5kb\",\"x\":null},{\"size\":\"4.5kb\",\"x\":null}]");
    /* ?pri adds the sibling after a column that has one */
    const char *const kv2[] = {"format", "JSON", "h", "n,sz", "pri", "", "s", "n:desc", "bytes", "b", NULL};
    assert_true(run(&t, kv2, out, sizeof out));
    assert_string_equal(out, "[{\"n\":\"c\",\"sz\":\"4608\",\"pri.sz\":\"4608\"},"
                             "{\"n\":\"b\",\"sz\":\"1536\",\"pri.sz\":\"1536\"},"
                             "{\"n\":\"a\",\"sz\":\"3072\",\"pri.sz\":\"3072\"}]");
    const char *const kv3[] = {"s", "nope:desc", NULL};
    assert_false(run(&t, kv3, out, sizeof out));
    assert_string_equal(out, "unsupported_operation_exception");
    const char *const kv4[] = {"help", "", NULL};
    assert_true(run(&t, kv4, out, sizeof out));
    assert_string_equal(out, "name     | n,nm | the name              \n"
                             "num      | x    | not available         \n"
                             "size     | sz   | a size                \n"
                             "pri.size |      | primaries' size       \n"
                             "later    | x    | takes alias x over num\n");
    store_cat_free(&t);
}

/* RestTable.pad keeps the padding in a Java byte: a cell more than 127
 * columns narrower than its column gets no padding at all. */
static void test_padding_wraps_as_a_byte(void **state)
{
    (void)state;
    store_cat_table t;
    char out[1024], longname[201];
    memset(longname, 'x', 200);
    longname[200] = '\0';
    store_cat_init(&t, cols, sizeof cols / sizeof cols[0]);
    store_cat_cell *row = store_cat_row(&t);
    assert_true(store_cat_str(&row[0], longname));
    row = store_cat_row(&t);
    assert_true(store_cat_str(&row[0], "a"));
    store_cat_long(&row[1], 1);
    const char *const kv[] = {"h", "name,num", NULL};
    assert_true(run(&t, kv, out, sizeof out));
    assert_string_equal(out + 201, " \na 1\n"); /* 199 columns short: (byte)199 < 0 */
    store_cat_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_human_bytes),
        cmocka_unit_test(test_text_padding_and_sort),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_padding_wraps_as_a_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
