/* Unit tests for render: the document/version/key select list, the re-read statement, array literals. */
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Quoting needs only a PGconn object (for its encoding), not a server. */
static int setup(void **state)
{
    *state = PQconnectStart("host=/nonexistent-versync-test port=1");
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    PQfinish(*state);
    return 0;
}

static char *select_list(PGconn *conn, const cfg_table *t)
{
    buf b = BUF_INIT;
    char err[256];
    assert_true(render_select_list(conn, t, "vs_r", &b, err, sizeof err));
    return buf_steal(&b);
}

static void test_all_columns_seq_version(void **state)
{
    char *key[] = {"id"};
    cfg_table t = {.schema = "public", .name = "items", .ident = "public.items", .key = key, .nkey = 1};
    char *s = select_list(*state, &t);
    assert_string_equal(s, "(to_jsonb(vs_r.*))::text AS doc, NULL::text AS version, false AS soft_deleted, "
                           "ARRAY[vs_r.\"id\"::text]::text[] AS key");
    free(s);
}

static void test_exclude_rename_soft_delete_timestamp(void **state)
{
    char *key[] = {"a", "B\"x"};
    char *excl[] = {"secret"};
    cfg_rename ren[] = {{"title", "name"}, {"secret", "never"}};
    cfg_table t = {.schema = "s",
                   .name = "t",
                   .ident = "s.t",
                   .key = key,
                   .nkey = 2,
                   .exclude = excl,
                   .nexclude = 1,
                   .rename = ren,
                   .nrename = 2,
                   .version_kind = CFG_VERSION_TIMESTAMP,
                   .version_column = "updated_at",
                   .soft_delete_column = "deleted"};
    char *s = select_list(*state, &t);
    assert_string_equal(
        s, "(to_jsonb(vs_r.*) - ARRAY['secret', 'title', 'secret']::text[] || (SELECT to_jsonb(vs_doc.*) FROM "
           "(SELECT vs_r.\"title\" AS \"name\") vs_doc))::text AS doc, "
           "trunc(extract(epoch FROM vs_r.\"updated_at\") * 1000000)::text AS version, "
           "COALESCE(to_jsonb(vs_r.\"deleted\") NOT IN ('false'::jsonb, 'null'::jsonb), false) AS soft_deleted, "
           "ARRAY[vs_r.\"a\"::text, vs_r.\"B\"\"x\"::text]::text[] AS key");
    free(s);
}

/* A "where" filter joins the deleted flag: evaluated over the row alone, on lines of its own. */
static void test_where_filter_with_soft_delete(void **state)
{
    char *key[] = {"id"};
    cfg_table t = {.schema = "public", .name = "p", .ident = "public.p", .key = key, .nkey = 1,
                   .soft_delete_column = "gone", .where = "status <> 'draft' -- published only"};
    char *s = select_list(*state, &t);
    assert_string_equal(s, "(to_jsonb(vs_r.*))::text AS doc, NULL::text AS version, "
                           "COALESCE(to_jsonb(vs_r.\"gone\") NOT IN ('false'::jsonb, 'null'::jsonb), false) OR "
                           "(SELECT NOT COALESCE((\nstatus <> 'draft' -- published only\n), false) "
                           "FROM (SELECT vs_r.*) AS vs_w) AS soft_deleted, "
                           "ARRAY[vs_r.\"id\"::text]::text[] AS key");
    free(s);
    t.soft_delete_column = NULL;
    s = select_list(*state, &t);
    assert_non_null(strstr(s, "NULL::text AS version, (SELECT NOT COALESCE((\nstatus"));
    free(s);
}

static void test_column_list_with_version_column(void **state)
{
    char *key[] = {"id"};
    char *cols[] = {"id", "title", "pw"};
    char *excl[] = {"pw"};
    cfg_rename ren[] = {{"title", "label"}};
    cfg_table t = {.schema = "public", .name = "p", .ident = "public.p", .key = key, .nkey = 1,
                   .columns = cols, .ncolumns = 3, .exclude = excl, .nexclude = 1, .rename = ren, .nrename = 1,
                   .version_kind = CFG_VERSION_COLUMN, .version_column = "v"};
    char *s = select_list(*state, &t);
    assert_string_equal(s, "(SELECT to_jsonb(vs_doc.*) FROM (SELECT vs_r.\"id\" AS \"id\", vs_r.\"title\" AS "
                           "\"label\") vs_doc)::text AS doc, vs_r.\"v\"::text AS version, false AS soft_deleted, "
                           "ARRAY[vs_r.\"id\"::text]::text[] AS key");
    free(s);
}

static void test_no_key_is_an_error(void **state)
{
    cfg_table t = {.schema = "public", .name = "p", .ident = "public.p"};
    buf b = BUF_INIT;
    char err[256];
    assert_false(render_select_list(*state, &t, "vs_r", &b, err, sizeof err));
    assert_non_null(strstr(err, "public.p has no key"));
    buf_free(&b);
    assert_null(render_reread(*state, &t, err, sizeof err));
}

static void test_reread_shapes(void **state)
{
    char err[256];
    char *k1[] = {"id"};
    cfg_table t = {.schema = "public", .name = "p", .ident = "public.p", .key = k1, .nkey = 1};
    char *s = render_reread(*state, &t, err, sizeof err);
    assert_non_null(s);
    assert_non_null(strstr(s, " FROM \"public\".\"p\" vs_r WHERE vs_r.\"id\" = ANY($1)"));
    free(s);

    char *k2[] = {"a", "b"};
    t.key = k2;
    t.nkey = 2;
    s = render_reread(*state, &t, err, sizeof err);
    assert_non_null(strstr(s, " WHERE vs_r.\"a\" = ANY($1) AND vs_r.\"b\" = ANY($2)"));
    free(s);

    char *types[] = {"integer", "character varying(10)"};
    t.key_types = types;
    s = render_reread(*state, &t, err, sizeof err);
    assert_non_null(strstr(s, " JOIN unnest($1::text[], $2::text[]) AS vs_k(k1, k2) ON vs_r.\"a\" = "
                              "vs_k.k1::integer AND vs_r.\"b\" = vs_k.k2::character varying(10)"));
    free(s);
}

static void test_array_literal_round_trip(void **state)
{
    (void)state;
    buf b = BUF_INIT;
    const char *items[] = {"a", "b c", "q\"uo\\te", NULL, "", "NULL", "{x,y}"};
    assert_true(render_array_literal(&b, items, 7));
    assert_string_equal(b.data, "{\"a\",\"b c\",\"q\\\"uo\\\\te\",NULL,\"\",\"NULL\",\"{x,y}\"}");
    char **out;
    size_t n;
    assert_true(render_parse_text_array(b.data, &out, &n));
    assert_int_equal(n, 7);
    for (size_t i = 0; i < 7; i++) {
        if (items[i])
            assert_string_equal(out[i], items[i]);
        else
            assert_null(out[i]);
    }
    render_free_array(out, n);
    buf_free(&b);
}

static void test_parse_postgres_output(void **state)
{
    (void)state;
    char **out;
    size_t n;
    assert_true(render_parse_text_array("{42,abc,NULL,\"with,comma\"}", &out, &n));
    assert_int_equal(n, 4);
    assert_string_equal(out[0], "42");
    assert_string_equal(out[1], "abc");
    assert_null(out[2]);
    assert_string_equal(out[3], "with,comma");
    render_free_array(out, n);
    assert_true(render_parse_text_array("{}", &out, &n));
    assert_int_equal(n, 0);
    render_free_array(out, n);
    assert_false(render_parse_text_array("{a,b", &out, &n));
    assert_false(render_parse_text_array("a,b}", &out, &n));
    assert_false(render_parse_text_array("{\"a}", &out, &n));
    assert_false(render_parse_text_array("{a,,b}", &out, &n));
    assert_false(render_parse_text_array("{{1,2},{3,4}}", &out, &n));
    assert_false(render_parse_text_array(NULL, &out, &n));
}


/* @var@ is filled in the SQL, never in a comment: a value holding a newline
 * (a quoted identifier may) would end a `--` comment early and run as SQL. */
static void test_vars_not_filled_in_comments(void **state)
{
    (void)state;
    const char *vars[] = {"select", "\"a\nDROP TABLE x\"", "table", "\"t\"", "after", "true",
                          "order", "k", NULL};
    char *sql = sql_render_vars("cursor_page", vars);
    assert_non_null(sql);
    /* The comment still names the token; the statement got the value once. */
    assert_non_null(strstr(sql, "Filled in by bridge_cursor.c: @select@ is"));
    const char *first = strstr(sql, "DROP TABLE x");
    assert_non_null(first);
    assert_null(strstr(first + 1, "DROP TABLE x"));
    assert_non_null(strstr(sql, "SELECT \"a\nDROP TABLE x\"\n  FROM \"t\" AS vs_c"));
    free(sql);

    /* Inside a literal, "--" is no comment and @v@ is filled. */
    const char *v[] = {"v", "col", NULL};
    char *b = sql_render_expr("render_bytea", v);
    assert_non_null(b);
    assert_string_equal(b, "translate(encode(col, 'base64'), E'\\n', '')");
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_columns_seq_version),
        cmocka_unit_test(test_vars_not_filled_in_comments),
        cmocka_unit_test(test_exclude_rename_soft_delete_timestamp),
        cmocka_unit_test(test_where_filter_with_soft_delete),
        cmocka_unit_test(test_column_list_with_version_column),
        cmocka_unit_test(test_no_key_is_an_error),
        cmocka_unit_test(test_reread_shapes),
        cmocka_unit_test(test_array_literal_round_trip),
        cmocka_unit_test(test_parse_postgres_output),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
