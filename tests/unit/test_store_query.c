/* Unit tests for store_query: the query DSL and query-string syntax parsed into the query tree, and every error path naming what is wrong or unsupported. */
#include "versync/store/store_search.h"

#include <cjson/cJSON.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static store_error g_err;

static store_query *parse(const char *json)
{
    store_error_free(&g_err);
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    store_query *q = store_query_parse(j, &g_err);
    cJSON_Delete(j);
    return q;
}

/* The query must be refused with `type` and a reason containing `needle`. */
static void refused(const char *json, const char *type, const char *needle)
{
    store_query *q = parse(json);
    if (q) {
        store_query_free(q);
        fail_msg("accepted: %s", json);
    }
    assert_int_equal(g_err.status, 400);
    assert_string_equal(g_err.type, type);
    if (!strstr(g_err.reason.data, needle))
        fail_msg("reason [%s] lacks [%s] for %s", g_err.reason.data, needle, json);
}

static store_query *qs(const char *text, bool op_and)
{
    store_error_free(&g_err);
    return store_query_parse_string(text, NULL, 0, op_and, false, &g_err);
}

/* The first phrase node of a tree, depth first. */
static const store_query *first_phrase(const store_query *q)
{
    if (q->type == STORE_Q_PHRASE)
        return q;
    for (size_t i = 0; i < q->nclauses; i++) {
        const store_query *p = first_phrase(q->clauses[i].q);
        if (p)
            return p;
    }
    return NULL;
}

static void test_leaf_queries(void **state)
{
    (void)state;
    store_query *q = parse("{\"term\":{\"a.b\":{\"value\":5,\"boost\":2}}}");
    assert_non_null(q);
    assert_int_equal(q->type, STORE_Q_TERM);
    assert_string_equal(q->field, "a.b");
    assert_int_equal(q->nvals, 1);
    assert_int_equal(q->vals[0].kind, STORE_QV_NUM);
    assert_string_equal(q->vals[0].s, "5");
    assert_true(q->boost == 2.0f);
    store_query_free(q);

    q = parse("{\"range\":{\"d\":{\"gt\":\"2024-01-01\",\"lte\":10}}}");
    assert_non_null(q);
    assert_int_equal(q->type, STORE_Q_RANGE);
    assert_false(q->lo_incl);
    assert_true(q->hi_incl);
    assert_string_equal(q->lo->s, "2024-01-01");
    assert_string_equal(q->hi->s, "10");
    store_query_free(q);

    q = parse("{\"range\":{\"n\":{\"from\":1,\"to\":2,\"include_upper\":false}}}");
    assert_non_null(q);
    assert_true(q->lo_incl);
    assert_false(q->hi_incl);
    store_query_free(q);

    q = parse("{\"match\":{\"t\":{\"query\":\"Hello World\",\"operator\":\"AND\",\"minimum_should_match\":\"75%\"}}}");
    assert_non_null(q);
    assert_int_equal(q->type, STORE_Q_MATCH);
    assert_true(q->op_and);
    assert_string_equal(q->msm, "75%");
    store_query_free(q);

    q = parse("{\"multi_match\":{\"query\":\"x\",\"fields\":[\"a^3\",\"b\"],\"type\":\"most_fields\"}}");
    assert_non_null(q);
    assert_null(q->field);
    assert_int_equal(q->nfields, 2);
    assert_string_equal(q->fields[0], "a");
    assert_true(q->fboost[0] == 3.0f);
    assert_true(q->most_fields);
    store_query_free(q);

    q = parse("{\"multi_match\":{\"query\":\"x\"}}");
    assert_non_null(q);
    assert_string_equal(q->fields[0], "*");
    assert_true(q->lenient);
    store_query_free(q);

    q = parse("{\"terms\":{\"k\":[\"a\",1,true,null],\"boost\":3}}");
    assert_non_null(q);
    assert_int_equal(q->nvals, 3);
    assert_int_equal(q->vals[2].kind, STORE_QV_BOOL);
    assert_true(q->boost == 3.0f);
    store_query_free(q);

    /* a terms lookup: no values until the search fetches them */
    q = parse("{\"terms\":{\"boost\":2,\"u\":{\"index\":\"users\",\"id\":2,\"path\":\"f\",\"routing\":\"r\"}}}");
    assert_non_null(q);
    assert_int_equal(q->type, STORE_Q_TERMS);
    assert_string_equal(q->field, "u");
    assert_int_equal(q->nvals, 0);
    assert_non_null(q->lookup);
    assert_string_equal(q->lookup->index, "users");
    assert_string_equal(q->lookup->id, "2");
    assert_string_equal(q->lookup->path, "f");
    assert_string_equal(q->lookup->routing, "r");
    assert_true(q->boost == 2.0f);
    store_query_free(q);

    q = parse("{}");
    assert_non_null(q);
    assert_int_equal(q->type, STORE_Q_MATCH_ALL);
    store_query_free(q);
}

static void test_compound_queries(void **state)
{
    (void)state;
    store_query *q = parse("{\"bool\":{\"must\":{\"match_all\":{}},\"filter\":[{\"exists\":{\"field\":\"f\"}},{}],"
                           "\"should\":[{\"ids\":{\"values\":[\"1\",2]}}],\"must_not\":[{\"prefix\":{\"k\":\"ab\"}}],"
                           "\"minimum_should_match\":1,\"boost\":0.5}}");
    assert_non_null(q);
    assert_int_equal(q->type, STORE_Q_BOOL);
    assert_int_equal(q->nclauses, 4); /* the empty filter clause is dropped */
    assert_int_equal(q->clauses[0].occur, STORE_OCC_MUST);
    assert_int_equal(q->clauses[1].occur, STORE_OCC_FILTER);
    assert_int_equal(q->clauses[2].occur, STORE_OCC_SHOULD);
    assert_string_equal(q->clauses[2].q->vals[1].s, "2");
    assert_int_equal(q->clauses[3].occur, STORE_OCC_MUST_NOT);
    assert_string_equal(q->msm, "1");
    store_query_free(q);

    q = parse("{\"constant_score\":{\"filter\":{\"term\":{\"a\":1}},\"boost\":4}}");
    assert_non_null(q);
    assert_int_equal(q->type, STORE_Q_CONSTANT);
    assert_true(q->boost == 4.0f);
    store_query_free(q);

    q = parse("{\"dis_max\":{\"queries\":[{\"term\":{\"a\":1}},{\"term\":{\"b\":1}}],\"tie_breaker\":0.3}}");
    assert_non_null(q);
    assert_int_equal(q->nclauses, 2);
    assert_true(q->tie_breaker > 0.29f && q->tie_breaker < 0.31f);
    store_query_free(q);
}

static void test_minimum_should_match(void **state)
{
    (void)state;
    assert_int_equal(store_query_msm("2", 5), 2);
    assert_int_equal(store_query_msm("-1", 5), 4);
    assert_int_equal(store_query_msm("75%", 3), 2); /* Lucene truncates */
    assert_int_equal(store_query_msm("-25%", 4), 3);
    assert_int_equal(store_query_msm("-9", 3), 0);
    assert_int_equal(store_query_msm("3<90%", 5), -1);
    assert_int_equal(store_query_msm("x", 5), -1);
    assert_int_equal(store_query_msm(NULL, 5), -1);
}

static void test_query_string(void **state)
{
    (void)state;
    /* Lucene's addClause: "a b AND c" → a optional, b and c required */
    store_query *q = qs("a b AND c", false);
    assert_non_null(q);
    assert_int_equal(q->type, STORE_Q_BOOL);
    assert_int_equal(q->nclauses, 3);
    assert_int_equal(q->clauses[0].occur, STORE_OCC_SHOULD);
    assert_int_equal(q->clauses[1].occur, STORE_OCC_MUST);
    assert_int_equal(q->clauses[2].occur, STORE_OCC_MUST);
    assert_string_equal(q->clauses[0].q->fields[0], "*");
    store_query_free(q);

    q = qs("title:\"quick fox\"^2 -tag:x +(y OR z) NOT w", false);
    assert_non_null(q);
    assert_int_equal(q->nclauses, 4);
    assert_int_equal(q->clauses[0].q->type, STORE_Q_PHRASE);
    assert_string_equal(q->clauses[0].q->field, "title");
    assert_true(q->clauses[0].q->boost == 2.0f);
    assert_int_equal(q->clauses[1].occur, STORE_OCC_MUST_NOT);
    assert_int_equal(q->clauses[2].occur, STORE_OCC_MUST);
    assert_int_equal(q->clauses[2].q->type, STORE_Q_BOOL);
    assert_int_equal(q->clauses[3].occur, STORE_OCC_MUST_NOT);
    store_query_free(q);

    q = qs("a b", true); /* default_operator AND */
    assert_non_null(q);
    assert_int_equal(q->clauses[0].occur, STORE_OCC_MUST);
    assert_int_equal(q->clauses[1].occur, STORE_OCC_MUST);
    store_query_free(q);

    q = qs("name:jo* f:*", false);
    assert_non_null(q);
    assert_int_equal(q->clauses[0].q->type, STORE_Q_PREFIX);
    assert_string_equal(q->clauses[0].q->vals[0].s, "jo");
    assert_true(q->clauses[0].q->normalize);
    assert_int_equal(q->clauses[1].q->type, STORE_Q_EXISTS);
    store_query_free(q);

    q = qs("*", false);
    assert_int_equal(q->type, STORE_Q_MATCH_ALL);
    store_query_free(q);
    q = qs("k:a?c", false);
    assert_int_equal(q->type, STORE_Q_WILDCARD);
    store_query_free(q);
    q = qs("a\\:b", false); /* an escaped colon is text, not a field */
    assert_int_equal(q->type, STORE_Q_MATCH);
    assert_string_equal(q->vals[0].s, "a:b");
    assert_null(q->field);
    store_query_free(q);
    q = qs("foo-bar", false); /* '-' inside a term is text */
    assert_int_equal(q->type, STORE_Q_MATCH);
    assert_string_equal(q->vals[0].s, "foo-bar");
    store_query_free(q);
    q = qs("   ", false);
    assert_int_equal(q->type, STORE_Q_MATCH_NONE);
    store_query_free(q);

    const char *bad[] = {"(a", "a)", "\"open", "a AND", "x~", "f:[1 TO 2]", "/re/", "a^x", "\\", "NOT", "f:>5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        q = qs(bad[i], false);
        if (q) {
            store_query_free(q);
            fail_msg("accepted query string [%s]", bad[i]);
        }
        assert_int_equal(g_err.status, 400);
    }
    /* phrase slop: "…"~N (a fraction truncated, as Lucene's parser reads it),
     * a bare ~ keeps the default, a boost may follow */
    static const struct {
        const char *text;
        int slop;
        bool set;
        float boost;
    } sl[] = {{"f:\"a b\"~2", 2, true, 1}, {"\"a b\"~1.7", 1, true, 1}, {"\"a b\"~", 0, false, 1},
              {"f:\"a b\"~3^2", 3, true, 2}, {"f:\"a b\"", 0, false, 1}};
    for (size_t i = 0; i < sizeof sl / sizeof sl[0]; i++) {
        q = qs(sl[i].text, false);
        assert_non_null(q);
        const store_query *ph = first_phrase(q);
        if (!ph)
            fail_msg("no phrase in [%s]", sl[i].text);
        assert_int_equal(ph->slop, sl[i].slop);
        assert_int_equal(ph->slop_set, sl[i].set);
        assert_true(ph->boost == sl[i].boost);
        store_query_free(q);
    }
    /* deep nesting is refused, not a stack overflow */
    char deep[400];
    memset(deep, '(', 200);
    memset(deep + 200, ')', 199);
    deep[399] = '\0';
    deep[200] = 'a';
    assert_null(qs(deep, false));
}

/* Date math is kept as text for the search to resolve against its own `now`; the zone goes with it. */
static void test_range_date_math(void **state)
{
    (void)state;
    store_query *q = parse("{\"range\":{\"d\":{\"gte\":\"now-1d/d\",\"lt\":\"2024-01-01||+1M\",\"time_zone\":\"Europe/Paris\"}}}");
    assert_non_null(q);
    assert_string_equal(q->lo->s, "now-1d/d");
    assert_string_equal(q->hi->s, "2024-01-01||+1M");
    assert_string_equal(q->time_zone, "Europe/Paris");
    store_query_free(q);
}

static void test_errors(void **state)
{
    (void)state;
    refused("{\"foo\":{}}", "parsing_exception", "unknown query [foo]");
    refused("{\"fuzzy\":{\"a\":\"b\"}}", "illegal_argument_exception", "verstore does not support the [fuzzy] query");
    refused("{\"nested\":{}}", "illegal_argument_exception", "[nested]");
    refused("{\"term\":{\"a\":1},\"match\":{}}", "parsing_exception", "expected [END_OBJECT]");
    refused("{\"term\":[]}", "parsing_exception", "[term] query malformed");
    refused("{\"term\":{}}", "illegal_argument_exception", "field name is null or empty");
    refused("{\"term\":{\"a\":1,\"b\":2}}", "parsing_exception", "doesn't support multiple fields");
    refused("{\"term\":{\"a\":null}}", "parsing_exception", "not null");
    refused("{\"term\":{\"a\":{\"value\":1,\"nope\":2}}}", "parsing_exception", "[term] query does not support [nope]");
    refused("{\"term\":{\"a\":{\"boost\":2}}}", "illegal_argument_exception", "value cannot be null");
    refused("{\"term\":{\"a\":{\"value\":1,\"case_insensitive\":true}}}", "illegal_argument_exception",
            "case_insensitive");
    refused("{\"term\":{\"a\":{\"value\":1,\"boost\":-1}}}", "illegal_argument_exception", "negative [boost]");
    refused("{\"terms\":{\"a\":{\"id\":\"1\"}}}", "illegal_argument_exception", "Required [index, path]");
    refused("{\"terms\":{\"a\":{\"index\":\"i\",\"id\":\"1\",\"path\":\"p\",\"type\":\"t\"}}}",
            "x_content_parse_exception", "[terms_lookup] unknown field [type]");
    refused("{\"terms\":{\"a\":{\"index\":\"i\",\"id\":{},\"path\":\"p\"}}}", "x_content_parse_exception",
            "id doesn't support values of type: START_OBJECT");
    refused("{\"terms\":{\"a\":1}}", "parsing_exception", "[terms] query does not support [a]");
    refused("{\"range\":{\"d\":{\"gte\":1,\"format\":\"yyyy-bb\"}}}", "illegal_argument_exception", "Invalid format: [yyyy-bb]");
    refused("{\"range\":{\"d\":{\"gte\":1,\"time_zone\":\"Mars/Olympus\"}}}", "illegal_argument_exception",
            "Unknown time-zone ID: Mars/Olympus");
    refused("{\"range\":{\"d\":{\"gte\":1,\"time_zone\":1}}}", "parsing_exception", "[time_zone] of type [number]");
    refused("{\"range\":{\"d\":{\"gte\":1,\"relation\":\"within\"}}}", "illegal_argument_exception", "relation");
    refused("{\"range\":{\"d\":5}}", "parsing_exception", "[range] query malformed");
    refused("{\"exists\":{}}", "parsing_exception", "[field]");
    refused("{\"exists\":{\"field\":\"a\",\"x\":1}}", "parsing_exception", "[exists] query does not support [x]");
    refused("{\"ids\":{\"values\":\"1\"}}", "parsing_exception", "values must be an array");
    refused("{\"ids\":{\"values\":[{}]}}", "parsing_exception", "values must be strings");
    refused("{\"match\":{\"t\":{\"operator\":\"xor\",\"query\":\"a\"}}}", "illegal_argument_exception",
            "operator needs to be either [and, or]");
    refused("{\"match\":{\"t\":{\"query\":\"a\",\"fuzziness\":\"AUTO\"}}}", "illegal_argument_exception", "fuzziness");
    refused("{\"match\":{\"t\":{\"query\":\"a\",\"analyzer\":5}}}", "parsing_exception",
            "[analyzer] must be a string");
    refused("{\"match\":{\"t\":{\"query\":\"a\",\"minimum_should_match\":\"2<50%\"}}}", "illegal_argument_exception",
            "minimum_should_match");
    refused("{\"match\":{\"t\":{\"operator\":\"or\"}}}", "parsing_exception", "No text specified");
    refused("{\"match\":{\"t\":{\"query\":\"a\",\"zero_terms_query\":\"some\"}}}", "parsing_exception",
            "zero_terms_query");
    refused("{\"match_phrase\":{\"t\":{\"query\":\"a b\",\"slop\":-1}}}", "illegal_argument_exception",
            "No negative slop allowed.");
    refused("{\"multi_match\":{\"query\":\"a b\",\"type\":\"phrase\",\"slop\":-2}}", "illegal_argument_exception",
            "No negative slop allowed.");
    refused("{\"match_phrase\":{\"t\":{\"query\":\"a b\",\"slop\":\"x\"}}}", "parsing_exception", "[slop]");
    /* slop is read as Elasticsearch's intValue() reads it */
    static const struct {
        const char *json;
        int slop;
    } ok[] = {{"{\"match_phrase\":{\"t\":{\"query\":\"a b\",\"slop\":2}}}", 2},
              {"{\"match_phrase\":{\"t\":{\"query\":\"a b\",\"slop\":\"3\"}}}", 3},
              {"{\"match_phrase\":{\"t\":{\"query\":\"a b\",\"slop\":1.9}}}", 1},
              {"{\"multi_match\":{\"query\":\"a b\",\"type\":\"phrase\",\"slop\":4}}", 4},
              {"{\"query_string\":{\"query\":\"f:\\\"a b\\\" OR f:\\\"c d\\\"~1\",\"phrase_slop\":5}}", 5}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        store_query *q = parse(ok[i].json);
        if (!q)
            fail_msg("refused: %s (%s)", ok[i].json, g_err.reason.data);
        const store_query *ph = first_phrase(q);
        assert_non_null(ph);
        assert_int_equal(ph->slop, ok[i].slop);
        store_query_free(q);
    }
    {
        /* phrase_slop leaves a phrase's own ~N alone */
        store_query *q = parse("{\"query_string\":{\"query\":\"f:\\\"c d\\\"~1\",\"phrase_slop\":5}}");
        assert_non_null(q);
        assert_int_equal(first_phrase(q)->slop, 1);
        store_query_free(q);
        /* query_string does not check a negative phrase_slop: the phrase refuses it when built */
        q = parse("{\"query_string\":{\"query\":\"f:\\\"c d\\\"\",\"phrase_slop\":-1}}");
        assert_non_null(q);
        assert_int_equal(first_phrase(q)->slop, -1);
        store_query_free(q);
    }
    refused("{\"match_phrase\":{\"t\":{\"query\":\"a b\",\"operator\":\"and\"}}}", "parsing_exception",
            "[match_phrase] query does not support [operator]");
    refused("{\"multi_match\":{\"query\":\"a\",\"type\":\"cross_fields\"}}", "illegal_argument_exception",
            "cross_fields");
    refused("{\"multi_match\":{\"query\":\"a\",\"type\":\"nonsense\"}}", "parsing_exception", "type nonsense");
    refused("{\"multi_match\":{\"fields\":[\"a\"]}}", "parsing_exception", "No text specified");
    refused("{\"multi_match\":{\"query\":\"a\",\"fields\":[\"a^x\"]}}", "illegal_argument_exception", "invalid boost");
    refused("{\"query_string\":{}}", "parsing_exception", "[query]");
    refused("{\"query_string\":{\"query\":\"a\",\"minimum_should_match\":1}}", "illegal_argument_exception",
            "minimum_should_match");
    refused("{\"query_string\":{\"query\":\"a~\"}}", "illegal_argument_exception", "fuzzy");
    refused("{\"bool\":{\"must\":5}}", "parsing_exception", "[bool] query does not support [must]");
    refused("{\"bool\":{\"should\":[1]}}", "parsing_exception", "must be an array of queries");
    refused("{\"bool\":{\"filter\":{\"foo\":{}}}}", "parsing_exception", "unknown query [foo]");
    refused("{\"bool\":{\"x\":{}}}", "parsing_exception", "[bool] query does not support [x]");
    refused("{\"constant_score\":{}}", "parsing_exception", "requires a 'filter'");
    refused("{\"dis_max\":{}}", "parsing_exception", "at least one clause");
    refused("{\"match_all\":{\"x\":1}}", "parsing_exception", "[match_all] query does not support [x]");
    refused("{\"match_all\":{\"boost\":\"x\"}}", "parsing_exception", "boost must be a number");
    refused("[1]", "parsing_exception", "must start with start_object");

    /* nesting deeper than the limit is refused */
    char deep[4096] = "";
    for (int i = 0; i < 100; i++)
        strcat(deep, "{\"bool\":{\"must\":");
    strcat(deep, "{\"match_all\":{}}");
    for (int i = 0; i < 100; i++)
        strcat(deep, "}}");
    refused(deep, "parsing_exception", "nested deeper");
    store_error_free(&g_err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf_queries),
        cmocka_unit_test(test_compound_queries),
        cmocka_unit_test(test_minimum_should_match),
        cmocka_unit_test(test_query_string),
        cmocka_unit_test(test_range_date_math),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
