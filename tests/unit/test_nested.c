/* Unit tests for nested documents: parsing and validating "children", and the SQL they render. */
#include "versync/bridge/cfg.h"
#include "versync/bridge/nested.h"
#include "versync/bridge/render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char err[1024];

static bool parse(const char *text, cfg *c) { return cfg_parse("t.json", text, c, err, sizeof err); }

static void rejects(const char *text, const char *want)
{
    cfg c;
    err[0] = '\0';
    bool ok = parse(text, &c);
    if (ok || !strstr(err, want)) {
        print_error("config: %s\nexpected error containing: %s\ngot: %s\n", text, want, ok ? "(accepted)" : err);
        if (ok)
            cfg_free(&c);
        fail();
    }
    cfg_free(&c);
}

#define BOOK                                                                                                   \
    "{\"tables\": [{\"table\": \"public.book\", \"index\": \"books\", \"children\": ["                       \
    "{\"name\": \"publisher\", \"table\": \"public.publisher\", \"relationship\": \"one\","                  \
    " \"join\": {\"publisher_id\": \"id\"}, \"columns\": [\"name\", \"country\"]},"                           \
    "{\"name\": \"authors\", \"table\": \"public.author\", \"relationship\": \"many\","                      \
    " \"through\": {\"table\": \"public.book_author\", \"join\": {\"id\": \"book_id\"}, \"to\": {\"author_id\": \"id\"}}," \
    " \"columns\": [\"name\"], \"order_by\": [\"name\"]},"                                                    \
    "{\"name\": \"reviews\", \"table\": \"public.review\", \"relationship\": \"many\","                       \
    " \"join\": {\"id\": \"book_id\"}, \"columns\": [\"rating\", \"body\"], \"rename\": {\"body\": \"text\"}," \
    " \"children\": [{\"name\": \"user\", \"table\": \"public.users\", \"relationship\": \"one\","           \
    "   \"join\": {\"user_id\": \"id\"}, \"columns\": [\"username\"]}]}"                                     \
    "]}]}"

static void test_issue_example_parses(void **state)
{
    (void)state;
    cfg c;
    assert_true(parse(BOOK, &c));
    cfg_table *t = &c.tables[0];
    assert_true(nested_is_tree(t));
    assert_int_equal(t->nchildren, 3);
    cfg_child *p = &t->children[0], *a = &t->children[1], *r = &t->children[2];
    assert_string_equal(p->name, "publisher");
    assert_string_equal(p->t.ident, "public.publisher");
    assert_false(p->many);
    assert_int_equal(p->njoin, 1);
    assert_string_equal(p->join_from[0], "publisher_id");
    assert_string_equal(p->join_to[0], "id");
    assert_null(p->link_ident);
    assert_string_equal(p->edge, "public.book/publisher");
    assert_true(a->many);
    assert_string_equal(a->link_ident, "public.book_author");
    assert_string_equal(a->join_from[0], "id");
    assert_string_equal(a->join_to[0], "book_id");
    assert_string_equal(a->to_from[0], "author_id");
    assert_string_equal(a->to_to[0], "id");
    assert_int_equal(a->norder, 1);
    assert_int_equal(r->t.nrename, 1);
    assert_string_equal(r->t.rename[0].to, "text");
    assert_int_equal(r->t.nchildren, 1);
    assert_string_equal(r->t.children[0].edge, "public.book/reviews/user");
    assert_string_equal(r->t.children[0].path, "tables[0].children[2].children[0]");
    assert_true(nested_uses_table(&c, "public.book_author"));
    assert_true(nested_uses_table(&c, "public.users"));
    assert_false(nested_uses_table(&c, "public.book"));
    cfg_free(&c);
}

#define ONE(extra)                                                                                             \
    "{\"tables\": [{\"table\": \"public.book\"" extra "}]}"

static void test_child_errors_name_their_path(void **state)
{
    (void)state;
    rejects(ONE(", \"children\": {}"), "t.json: tables[0].children: must be an array of child mappings, not an object");
    rejects(ONE(", \"children\": []"), "tables[0].children: must list at least one child");
    rejects(ONE(", \"children\": [{\"table\": \"public.p\", \"relationship\": \"one\", \"join\": {\"a\": \"b\"}}]"),
            "tables[0].children[0].name: required");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"relationship\": \"one\", \"join\": {\"a\": \"b\"}}]"),
            "tables[0].children[0].table: required");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"p\", \"relationship\": \"one\", \"join\": {\"a\": \"b\"}}]"),
            "tables[0].children[0].table: \"p\": must be schema-qualified");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"join\": {\"a\": \"b\"}}]"),
            "tables[0].children[0].relationship: required: \"one\"");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"several\", \"join\": {\"a\": \"b\"}}]"),
            "relationship: must be \"one\" or \"many\", not \"several\"");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"one\"}]"),
            "tables[0].children[0]: needs \"join\"");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"one\", \"join\": {}}]"),
            "tables[0].children[0].join: must map at least one column pair");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"one\", \"join\": {\"a\": 1}}]"),
            "tables[0].children[0].join.a: must be a non-empty string (a column name), not a number");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"one\", \"join\": {\"a\": \"b\"}, "
                "\"through\": {}}]"),
            "tables[0].children[0].join: give either \"join\" or \"through\"");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"many\", "
                "\"through\": {\"table\": \"public.l\", \"join\": {\"id\": \"b\"}}}]"),
            "tables[0].children[0].through.to: required");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"many\", "
                "\"through\": {\"table\": \"public.l\", \"join\": {\"id\": \"b\"}, \"to\": {\"a\": \"id\"}, \"on\": 1}}]"),
            "tables[0].children[0].through.on: unknown key");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"one\", \"join\": {\"a\": \"b\"}, "
                "\"order_by\": [\"x\"]}]"),
            "tables[0].children[0].order_by: only a \"many\" child is an array to order");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"one\", \"join\": {\"a\": \"b\"}, "
                "\"index\": \"x\"}]"),
            "tables[0].children[0].index: unknown key");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"one\", \"join\": {\"a\": \"b\"}},"
                "{\"name\": \"p\", \"table\": \"public.q\", \"relationship\": \"one\", \"join\": {\"a\": \"b\"}}]"),
            "tables[0].children[1].name: \"p\" is already the name of tables[0].children[0]");
    rejects(ONE(", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"one\", \"join\": {\"a\": \"b\"}, "
                "\"children\": [{\"name\": \"q\", \"table\": \"public.q\", \"relationship\": \"one\"}]}]"),
            "tables[0].children[0].children[0]: needs \"join\"");
}

static void test_nested_roots_refuse_other_version_sources(void **state)
{
    (void)state;
    const char *child = ", \"children\": [{\"name\": \"p\", \"table\": \"public.p\", \"relationship\": \"one\", "
                        "\"join\": {\"a\": \"b\"}}]";
    char text[1024];
    snprintf(text, sizeof text, ONE(", \"version\": {\"column\": \"v\"}%s"), child);
    rejects(text, "tables[0]: \"version\" cannot be used with \"children\"");
    snprintf(text, sizeof text, ONE(", \"version\": {\"timestamp\": \"u\", \"managed\": true}%s"), child);
    rejects(text, "leave \"version\" out");
    snprintf(text, sizeof text, ONE(", \"capture\": \"cursor\", \"version\": {\"column\": \"v\"}%s"), child);
    rejects(text, "tables[0]: \"version\" cannot be used with \"children\"");
}

static void test_depth_is_bounded(void **state)
{
    (void)state;
    char text[8192] = ONE(", \"children\": [");
    size_t n = strlen(text) - 3; /* drop the closing "}]}" to nest further */
    text[n] = '\0';
    for (int i = 0; i < NESTED_MAX_DEPTH + 1; i++) {
        char add[200];
        snprintf(add, sizeof add, "{\"name\": \"c%d\", \"table\": \"public.t%d\", \"relationship\": \"one\", "
                                  "\"join\": {\"a\": \"b\"}%s", i, i, i < NESTED_MAX_DEPTH ? ", \"children\": [" : "");
        strcat(text, add);
    }
    for (int i = 0; i < NESTED_MAX_DEPTH; i++)
        strcat(text, "}]");
    strcat(text, "}]}]}");
    rejects(text, "children nest at most 8 levels deep");
}

/* Quoting needs only a PGconn object (for its encoding), not a server. */
static int conn_setup(void **state)
{
    *state = PQconnectStart("host=/nonexistent-versync-test port=1");
    return *state ? 0 : -1;
}

static int conn_teardown(void **state)
{
    PQfinish(*state);
    return 0;
}

static void test_doc_sql_nests_sub_selects(void **state)
{
    PGconn *conn = *state;
    cfg c;
    assert_true(parse(BOOK, &c));
    cfg_table *t = &c.tables[0];
    /* Keys as the catalogue fills them. */
    char *k[] = {"id"};
    t->key = calloc(1, sizeof(char *));
    t->key[0] = strdup("id");
    t->nkey = 1;
    for (size_t i = 0; i < t->nchildren; i++) {
        cfg_child *ch = &t->children[i];
        ch->t.key = calloc(1, sizeof(char *));
        ch->t.key[0] = strdup(k[0]);
        ch->t.nkey = 1;
    }
    cfg_child *u = &t->children[2].t.children[0];
    u->t.key = calloc(1, sizeof(char *));
    u->t.key[0] = strdup("id");
    u->t.nkey = 1;
    buf b = BUF_INIT;
    assert_true(nested_doc_expr(conn, t, "vs_r", &b, err, sizeof err));
    const char *sql = b.data;
    /* one: an object, the first by key, NULL when there is none */
    assert_non_null(strstr(sql, "FROM \"public\".\"publisher\" vs_c1 WHERE vs_c1.\"id\" = vs_r.\"publisher_id\" ORDER BY vs_c1.\"id\" LIMIT 1)"));
    /* many through a link table, ordered by order_by, [] when empty */
    assert_non_null(strstr(sql, "ORDER BY vs_c1.\"name\"), '[]'::jsonb) FROM \"public\".\"author\" vs_c1 JOIN \"public\".\"book_author\" vs_l1 ON vs_c1.\"id\" = vs_l1.\"author_id\" WHERE vs_l1.\"book_id\" = vs_r.\"id\")"));
    /* the grandchild correlates with its own parent's alias */
    assert_non_null(strstr(sql, "FROM \"public\".\"users\" vs_c2 WHERE vs_c2.\"id\" = vs_c1.\"user_id\""));
    /* field names are column aliases (identifiers), renames applied */
    assert_non_null(strstr(sql, " AS \"publisher\""));
    assert_non_null(strstr(sql, " AS \"text\""));
    assert_non_null(strstr(sql, " AS \"user\""));
    buf_free(&b);
    /* The re-read statement of the root carries the whole document. */
    buf_init(&b, 0);
    assert_true(render_select_list(conn, t, "vs_r", &b, err, sizeof err));
    assert_non_null(strstr(b.data, "AS \"reviews\""));
    buf_free(&b);
    cfg_free(&c);
}

/* A partition tree as sql/nested_partitions.sql answers it, without a
 * server: book has two partitions, every other table none. */
static PGresult *fake_parts(PGconn *conn, const char *schema, const char *name, char *err, size_t errsz)
{
    (void)conn, (void)err, (void)errsz;
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[4];
    const char *names[] = {"nspname", "relname", "has_nested", "level"};
    memset(att, 0, sizeof att);
    for (int i = 0; i < 4; i++) {
        att[i].name = (char *)names[i];
        att[i].typid = 25; /* text */
        att[i].typlen = -1;
        att[i].atttypmod = -1;
    }
    assert_non_null(r);
    assert_true(PQsetResultAttrs(r, 4, att));
    const char *rows[3][4] = {{schema, name, "f", "0"}, {schema, "book_2025", "f", "1"}, {schema, "book_2026", "f", "1"}};
    int nrows = strcmp(name, "book") == 0 ? 3 : 1;
    for (int i = 0; i < nrows; i++)
        for (int j = 0; j < 4; j++)
            assert_true(PQsetvalue(r, i, j, (char *)rows[i][j], (int)strlen(rows[i][j])));
    return r;
}

static void test_triggers_for_every_table(void **state)
{
    PGconn *conn = *state;
    cfg c;
    assert_true(parse(BOOK, &c));
    cfg_table *t = &c.tables[0];
    t->key = calloc(1, sizeof(char *));
    t->key[0] = strdup("id");
    t->nkey = 1;
    buf b = BUF_INIT;
    if (!nested_trigger_sql(conn, t, "\"versync\"", "versync", "'versync'", fake_parts, &b, err, sizeof err))
        fail_msg("nested_trigger_sql: %s", err);
    /* root (and its two partitions), publisher, link, author, review, users: four triggers each */
    size_t n = 0;
    for (const char *p = b.data; (p = strstr(p, "CREATE TRIGGER ")); p++)
        n++;
    assert_int_equal(n, 32);
    const char *tables[] = {"ON \"public\".\"book\"",        "ON \"public\".\"publisher\"", "ON \"public\".\"book_author\"",
                            "ON \"public\".\"author\"",      "ON \"public\".\"review\"",    "ON \"public\".\"users\"",
                            "ON \"public\".\"book_2025\"", "ON \"public\".\"book_2026\""};
    for (size_t i = 0; i < 8; i++)
        assert_non_null(strstr(b.data, tables[i]));
    assert_non_null(strstr(b.data, "REFERENCING OLD TABLE AS vs_old NEW TABLE AS vs_new"));
    /* The users walk goes up through review (to book_id) and ends at the root key. */
    if (!strstr(b.data, "\"from\":[\"id\"],\"table\":\"\\\\\"public\\\\\".\\\\\"review\\\\\"\",\"to\":[\"user_id\"],\"take\":[\"book_id\"]"))
        fail_msg("no users->review hop in:\n%s", b.data);
    buf_free(&b);
    cfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_example_parses),
        cmocka_unit_test(test_child_errors_name_their_path),
        cmocka_unit_test(test_nested_roots_refuse_other_version_sources),
        cmocka_unit_test(test_depth_is_bounded),
        cmocka_unit_test_setup_teardown(test_doc_sql_nests_sub_selects, conn_setup, conn_teardown),
        cmocka_unit_test_setup_teardown(test_triggers_for_every_table, conn_setup, conn_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
