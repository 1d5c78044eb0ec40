/* Unit tests for mapping: the PostgreSQL type → Elasticsearch field map, the config merge and the live-mapping diff. */
#include "versync/bridge/mapping.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The field mapping of a column (render class, element type, typtype) under `rule`; "" when dynamic. */
static char *type_json(const char *render, const char *elem, char typtype, int p, int s, cfg_special rule)
{
    mapping_coltype ct = {render, elem, typtype, 'X', p, s};
    buf b = BUF_INIT;
    assert_true(mapping_type_json(&ct, rule, &b));
    char *out = strdup(b.data ? b.data : "");
    buf_free(&b);
    return out;
}

#define EXPECT(want, render, elem, typtype, p, s, rule)                                                      \
    do {                                                                                                       \
        char *got_ = type_json(render, elem, typtype, p, s, rule);                                            \
        assert_string_equal(got_, want);                                                                       \
        free(got_);                                                                                            \
    } while (0)

#define KW "{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\",\"ignore_above\":256}}}"

static void test_numbers(void **state)
{
    (void)state;
    EXPECT("{\"type\":\"integer\"}", "plain", "smallint", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"integer\"}", "plain", "integer", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"long\"}", "plain", "bigint", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"scaled_float\",\"scaling_factor\":100}", "numeric", "numeric", 'b', 12, 2, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"long\"}", "numeric", "numeric", 'b', 10, 0, CFG_SPECIAL_NULL);
    /* Wider than a long, or unconstrained: the nearest Elasticsearch has. */
    EXPECT("{\"type\":\"double\"}", "numeric", "numeric", 'b', 30, 2, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"double\"}", "numeric", "numeric", 'b', -1, -1, CFG_SPECIAL_CLAMP);
    EXPECT("{\"type\":\"float\"}", "float4", "real", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"double\"}", "float8", "double precision", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"scaled_float\",\"scaling_factor\":100}", "money", "money", 'b', -1, -1, CFG_SPECIAL_NULL);
    /* "string" sends "NaN"/"infinity" as text: only a keyword takes them. */
    EXPECT("{\"type\":\"keyword\"}", "numeric", "numeric", 'b', 12, 2, CFG_SPECIAL_STRING);
    EXPECT("{\"type\":\"keyword\"}", "timestamptz", "timestamp with time zone", 'b', -1, -1, CFG_SPECIAL_STRING);
}

static void test_strings_and_others(void **state)
{
    (void)state;
    EXPECT(KW, "plain", "text", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT(KW, "plain", "character varying", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT(KW, "array:plain", "text", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"keyword\"}", "plain", "uuid", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"keyword\"}", "plain", "mood", 'e', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"keyword\"}", "plain", "inet", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"keyword\"}", "interval", "interval", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"keyword\"}", "plain", "time without time zone", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"boolean\"}", "plain", "boolean", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"binary\"}", "bytea", "bytea", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"binary\"}", "array:bytea", "bytea", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"date\"}", "date", "date", 'b', -1, -1, CFG_SPECIAL_CLAMP);
    EXPECT("{\"type\":\"text\"}", "plain", "tsvector", 'b', -1, -1, CFG_SPECIAL_NULL);
    /* Any JSON value, or an object of the type's own fields: left to dynamic mapping. */
    EXPECT("", "plain", "jsonb", 'b', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("", "plain", "address", 'c', -1, -1, CFG_SPECIAL_NULL);
}

static void test_ranges(void **state)
{
    (void)state;
    EXPECT("{\"type\":\"integer_range\"}", "range:integer", "int4range", 'r', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"long_range\"}", "multirange:long", "int8multirange", 'm', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"double_range\"}", "range:numeric", "numrange", 'r', -1, -1, CFG_SPECIAL_CLAMP);
    EXPECT("{\"type\":\"date_range\"}", "array:range:timestamptz", "tstzrange", 'r', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("{\"type\":\"ip_range\"}", "range:ip", "inetrange", 'r', -1, -1, CFG_SPECIAL_NULL);
    EXPECT("", "range:date", "daterange", 'r', -1, -1, CFG_SPECIAL_STRING); /* "infinity" is no date */
    EXPECT("", "range:plain", "textrange", 'r', -1, -1, CFG_SPECIAL_NULL);
}

static char *merged(const char *gen, const char *over)
{
    cJSON *g = cJSON_Parse(gen), *o = cJSON_Parse(over);
    assert_non_null(g);
    assert_non_null(o);
    assert_true(mapping_merge(g, o));
    char *s = cJSON_PrintUnformatted(g);
    cJSON_Delete(g);
    cJSON_Delete(o);
    return s;
}

static void test_merge(void **state)
{
    (void)state;
    /* Same type: parameters one by one, "fields" deeply; a new field is added. */
    char *s = merged("{\"properties\":{\"t\":" KW ",\"n\":{\"type\":\"long\"}}}",
                     "{\"properties\":{\"t\":{\"type\":\"text\",\"analyzer\":\"english\"},\"x\":{\"type\":\"keyword\"}}}");
    assert_string_equal(s, "{\"properties\":{\"t\":{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\","
                           "\"ignore_above\":256}},\"analyzer\":\"english\"},\"n\":{\"type\":\"long\"},"
                           "\"x\":{\"type\":\"keyword\"}}}");
    free(s);
    /* Another type replaces the field whole: no scaling_factor left on a double. */
    s = merged("{\"properties\":{\"p\":{\"type\":\"scaled_float\",\"scaling_factor\":100}}}",
               "{\"properties\":{\"p\":{\"type\":\"double\"}},\"dynamic\":\"strict\"}");
    assert_string_equal(s, "{\"properties\":{\"p\":{\"type\":\"double\"}},\"dynamic\":\"strict\"}");
    free(s);
    /* Objects merge their properties deeply. */
    s = merged("{\"properties\":{\"kids\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"long\"}}}}}",
               "{\"properties\":{\"kids\":{\"properties\":{\"b\":{\"type\":\"keyword\"}}}}}");
    assert_string_equal(s, "{\"properties\":{\"kids\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"long\"},"
                           "\"b\":{\"type\":\"keyword\"}}}}}");
    free(s);
}

static char diffs[1024];

static void collect(void *ctx, const char *field, const char *live, const char *expected)
{
    (void)ctx;
    size_t n = strlen(diffs);
    snprintf(diffs + n, sizeof diffs - n, "%s:%s>%s;", field, live, expected);
}

static void test_diff(void **state)
{
    (void)state;
    cJSON *want = cJSON_Parse("{\"properties\":{\"t\":" KW ",\"p\":{\"type\":\"scaled_float\",\"scaling_factor\":100},"
                              "\"k\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"long\"}}},"
                              "\"same\":{\"type\":\"boolean\"}}}");
    cJSON *live = cJSON_Parse("{\"properties\":{\"t\":{\"type\":\"text\"},\"p\":{\"type\":\"scaled_float\","
                              "\"scaling_factor\":10},\"k\":{\"properties\":{\"a\":{\"type\":\"float\"}}},"
                              "\"same\":{\"type\":\"boolean\"},\"extra\":{\"type\":\"long\"}}}");
    diffs[0] = '\0';
    assert_int_equal(mapping_diff(want, live, collect, NULL), 3);
    assert_string_equal(diffs, "t.keyword:none>keyword;p:scaled_float(scaling_factor 10)>scaled_float(scaling_factor "
                               "100);k.a:float>long;");
    diffs[0] = '\0';
    assert_int_equal(mapping_diff(want, want, collect, NULL), 0);
    assert_int_equal(mapping_diff(want, NULL, collect, NULL), 4);
    cJSON_Delete(want);
    cJSON_Delete(live);
    cJSON *answer = cJSON_Parse("{\"products_v2\":{\"mappings\":{\"properties\":{}}}}");
    assert_non_null(mapping_of_answer(answer));
    cJSON_Delete(answer);
    answer = cJSON_Parse("{\"error\":\"x\"}");
    assert_null(mapping_of_answer(answer));
    cJSON_Delete(answer);
}

/* What the live mapping lacks, as a PUT _mapping body: new fields, and new
 * sub-fields of an object both have; never a field of another type or a
 * missing multi-field. */
static void test_missing(void **state)
{
    (void)state;
    cJSON *want = cJSON_Parse("{\"properties\":{\"t\":" KW ",\"new\":{\"type\":\"date\"},"
                              "\"k\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"long\"},"
                              "\"b\":{\"type\":\"boolean\"}}},\"x\":{\"type\":\"long\"}}}");
    cJSON *live = cJSON_Parse("{\"properties\":{\"t\":{\"type\":\"text\"},"
                              "\"k\":{\"properties\":{\"a\":{\"type\":\"float\"}}},\"x\":{\"type\":\"keyword\"}}}");
    size_t n = 99;
    cJSON *body = mapping_missing(want, live, &n);
    char *text = cJSON_PrintUnformatted(body);
    assert_string_equal(text, "{\"properties\":{\"new\":{\"type\":\"date\"},"
                              "\"k\":{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"boolean\"}}}}}");
    assert_int_equal(n, 2);
    cJSON_free(text);
    cJSON_Delete(body);
    body = mapping_missing(want, want, &n);
    text = cJSON_PrintUnformatted(body);
    assert_string_equal(text, "{\"properties\":{}}");
    assert_int_equal(n, 0);
    cJSON_free(text);
    cJSON_Delete(body);
    cJSON_Delete(want);
    cJSON_Delete(live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers), cmocka_unit_test(test_strings_and_others), cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_merge),   cmocka_unit_test(test_diff), cmocka_unit_test(test_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
