/* Unit tests for cfg: comments, ${ENV}, defaults, every validation error and its path. */
#include "versync/bridge/cfg.h"
#include "versync/bridge/wal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char err[1024];

static bool parse(const char *text, cfg *c) { return cfg_parse("t.json", text, c, err, sizeof err); }

/* The config must be rejected with a message containing `want`. */
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
    /* A failed parse leaves nothing to free, and freeing again is harmless. */
    cfg_free(&c);
}

#define T1 "\"tables\":[{\"table\":\"public.products\"}]"

static void test_minimal_gets_defaults(void **state)
{
    (void)state;
    cfg c;
    assert_true(parse("{" T1 "}", &c));
    assert_string_equal(c.path, "t.json");
    assert_string_equal(c.postgres, "");
    assert_string_equal(c.schema, "versync");
    assert_string_equal(c.channel, "versync");
    assert_string_equal(c.store.url, "http://127.0.0.1:9200");
    assert_int_equal(c.store.timeout_ms, 10000);
    assert_int_equal(c.store.max_bulk_bytes, 10L << 20);
    assert_null(c.store.username);
    assert_int_equal(c.workers, 2);
    assert_int_equal(c.batch_size, 500);
    assert_int_equal(c.poll_interval_ms, 1000);
    assert_true(c.listen);
    assert_int_equal(c.ntables, 1);
    cfg_table *t = &c.tables[0];
    assert_string_equal(t->schema, "public");
    assert_string_equal(t->name, "products");
    assert_string_equal(t->ident, "public.products");
    assert_string_equal(t->index, "products");
    assert_null(t->key);
    assert_int_equal(t->version_kind, CFG_VERSION_SEQ);
    assert_null(t->version_column);
    assert_false(t->managed);
    assert_null(t->columns);
    assert_false(t->deletes_ignore);
    assert_null(t->soft_delete_column);
    assert_ptr_equal(cfg_find_table(&c, "public.products"), t);
    assert_null(cfg_find_table(&c, "public.other"));
    cfg_free(&c);
    cfg_free(&c);
    cfg_free(NULL);
}

static void test_full_config_with_comments_and_env(void **state)
{
    (void)state;
    setenv("VS_TEST_PW", "s3\"cr\\et", 1);
    const char *text = "// leading comment\n"
                       "{ /* block\n comment */ \"postgres\": \"postgresql://app@h/app\", // trailing\n"
                       "  \"store\": {\"url\": \"https://es:9200/\", \"username\": \"u\", \"password\": \"${VS_TEST_PW}\",\n"
                       "             \"api_key\": \"k-$${literal}\", \"ca_file\": \"/ca.pem\", \"insecure\": true, "
                       "\"timeout_ms\": 2500, \"max_bulk_bytes\": 65536},\n"
                       "  \"schema\": \"vs\", \"channel\": \"chan\", \"workers\": 4, \"batch_size\": 100,\n"
                       "  \"poll_interval_ms\": 250, \"listen\": false,\n"
                       "  \"tables\": [\n"
                       "    {\"table\": \"public.products\", \"index\": \"prod\", \"key\": [\"id\"],\n"
                       "     \"version\": {\"column\": \"version\", \"managed\": true},\n"
                       "     \"columns\": [\"id\", \"name\", \"price\", \"secret\"], \"exclude\": [\"secret\"],\n"
                       "     \"rename\": {\"name\": \"title\"}, \"deletes\": \"ignore\",\n"
                       "     \"soft_delete\": {\"column\": \"deleted_at\"},\n"
                       "     \"index_settings\": {\"number_of_shards\": 1}, \"mappings\": {\"properties\": {}}},\n"
                       "    {\"table\": \"\\\"Sales\\\".\\\"Order \\\"\\\"Items\\\"\\\"\\\"\", \"index\": \"orders\",\n"
                       "     \"key\": [\"Order Id\", \"line\"], \"version\": {\"timestamp\": \"updated_at\"}},\n"
                       "    {\"table\": \"s.\\\"a.b\\\"\", \"index\": \"ab\"}\n"
                       "  ]\n}\n";
    cfg c;
    bool ok = parse(text, &c);
    if (!ok)
        print_error("%s\n", err);
    assert_true(ok);
    assert_string_equal(c.postgres, "postgresql://app@h/app");
    assert_string_equal(c.store.url, "https://es:9200");
    assert_string_equal(c.store.password, "s3\"cr\\et");
    assert_string_equal(c.store.api_key, "k-${literal}");
    assert_string_equal(c.store.ca_file, "/ca.pem");
    assert_true(c.store.insecure);
    assert_int_equal(c.store.timeout_ms, 2500);
    assert_int_equal(c.store.max_bulk_bytes, 65536);
    assert_string_equal(c.schema, "vs");
    assert_string_equal(c.channel, "chan");
    assert_int_equal(c.workers, 4);
    assert_int_equal(c.batch_size, 100);
    assert_int_equal(c.poll_interval_ms, 250);
    assert_false(c.listen);
    assert_int_equal(c.ntables, 3);
    cfg_table *t = &c.tables[0];
    assert_string_equal(t->index, "prod");
    assert_int_equal(t->nkey, 1);
    assert_string_equal(t->key[0], "id");
    assert_int_equal(t->version_kind, CFG_VERSION_COLUMN);
    assert_string_equal(t->version_column, "version");
    assert_true(t->managed);
    assert_int_equal(t->ncolumns, 4);
    assert_int_equal(t->nexclude, 1);
    assert_int_equal(t->nrename, 1);
    assert_string_equal(t->rename[0].from, "name");
    assert_string_equal(t->rename[0].to, "title");
    assert_true(t->deletes_ignore);
    assert_string_equal(t->soft_delete_column, "deleted_at");
    assert_string_equal(t->index_settings_json, "{\"number_of_shards\":1}");
    assert_string_equal(t->mappings_json, "{\"properties\":{}}");
    t = &c.tables[1];
    assert_string_equal(t->schema, "Sales");
    assert_string_equal(t->name, "Order \"Items\"");
    assert_string_equal(t->ident, "Sales.Order \"Items\"");
    assert_int_equal(t->nkey, 2);
    assert_string_equal(t->key[1], "line");
    assert_int_equal(t->version_kind, CFG_VERSION_TIMESTAMP);
    assert_string_equal(t->version_column, "updated_at");
    assert_false(t->managed);
    assert_string_equal(c.tables[2].name, "a.b");
    assert_int_equal(c.tables[2].json_index, 2);
    cfg_free(&c);
}

static void test_syntax_errors_give_line_and_column(void **state)
{
    (void)state;
    rejects("", "t.json: the file is empty");
    rejects("  // only a comment\n", "the file is empty");
    rejects("{\n  \"tables\": [\n  }\n", "t.json: 3:");
    rejects("{\"a\": 1} x", "t.json: 1:10: invalid JSON");
    rejects("{\n/* never closed\n", "t.json: 2:1: unterminated /* comment");
    rejects("[1]", "(top level): must be an object, not an array");
}

static void test_unknown_and_duplicate_keys(void **state)
{
    (void)state;
    rejects("{\"tabels\": []}", "t.json: tabels: unknown key (known keys: postgres, store,");
    rejects("{\"store\": {\"uri\": \"x\"}, " T1 "}", "store.uri: unknown key");
    rejects("{\"tables\":[{\"table\":\"public.t\",\"verison\":{}}]}", "tables[0].verison: unknown key");
    rejects("{\"tables\":[{\"table\":\"public.t\",\"version\":{\"column\":\"v\",\"manged\":true}}]}",
            "tables[0].version.manged: unknown key");
    rejects("{\"tables\":[{\"table\":\"public.t\",\"soft_delete\":{\"col\":\"d\"}}]}",
            "tables[0].soft_delete.col: unknown key");
    rejects("{\"workers\": 1, \"workers\": 2, " T1 "}", "workers: duplicate key");
}

static void test_env_errors(void **state)
{
    (void)state;
    unsetenv("VS_TEST_UNSET");
    rejects("{\"store\": {\"password\": \"${VS_TEST_UNSET}\"}, " T1 "}",
            "t.json: store.password: environment variable VS_TEST_UNSET is not set");
    rejects("{\"tables\":[{\"table\":\"public.t\",\"columns\":[\"a\",\"${VS_TEST_UNSET}\"]}]}",
            "tables[0].columns[1]: environment variable VS_TEST_UNSET is not set");
    rejects("{\"postgres\": \"${oops\"," T1 "}", "postgres: unterminated ${");
    rejects("{\"postgres\": \"${}\"," T1 "}", "postgres: bad variable reference");
    rejects("{\"postgres\": \"${A-B}\"," T1 "}", "postgres: bad variable name \"A-B\"");
}

static void test_types_and_ranges(void **state)
{
    (void)state;
    rejects("{\"postgres\": 5, " T1 "}", "t.json: postgres: must be a string, not a number");
    rejects("{\"schema\": \"\", " T1 "}", "schema: must not be empty");
    rejects("{\"channel\": null, " T1 "}", "channel: must be a string, not null");
    rejects("{\"workers\": 0, " T1 "}", "workers: must be between 1 and 256, not 0");
    rejects("{\"workers\": 257, " T1 "}", "workers: must be between 1 and 256");
    rejects("{\"workers\": 1.5, " T1 "}", "workers: must be a whole number");
    rejects("{\"workers\": \"2\", " T1 "}", "workers: must be a number, not a string");
    rejects("{\"batch_size\": 100001, " T1 "}", "batch_size: must be between 1 and 100000");
    rejects("{\"poll_interval_ms\": 0, " T1 "}", "poll_interval_ms: must be between 1");
    rejects("{\"listen\": 1, " T1 "}", "listen: must be true or false, not a number");
    rejects("{\"store\": \"http://x\", " T1 "}", "store: must be an object, not a string");
    rejects("{\"store\": {\"timeout_ms\": 0}, " T1 "}", "store.timeout_ms: must be between 1");
    rejects("{\"store\": {\"max_bulk_bytes\": 1000}, " T1 "}", "store.max_bulk_bytes: must be between 1024");
    rejects("{\"store\": {\"max_bulk_bytes\": 2147483648}, " T1 "}", "store.max_bulk_bytes: must be between 1024");
    rejects("{\"store\": {\"insecure\": \"yes\"}, " T1 "}", "store.insecure: must be true or false");
    rejects("{\"store\": {\"url\": \"ftp://x\"}, " T1 "}", "store.url: \"ftp://x\" must start with http://");
    rejects("{\"store\": {\"url\": \"\"}, " T1 "}", "store.url: must not be empty");
    rejects("{\"schema\": \"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", " T1 "}",
            "schema: a PostgreSQL name is at most 63 bytes");
    rejects("{\"channel\": \"" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", " T1 "}",
            "channel: a NOTIFY channel name is at most 63 bytes");
}

static void test_tables_errors(void **state)
{
    (void)state;
    rejects("{}", "t.json: tables: required");
    rejects("{\"tables\": {}}", "tables: must be an array, not an object");
    rejects("{\"tables\": []}", "tables: must list at least one table");
    rejects("{\"tables\": [1]}", "tables[0]: must be an object, not a number");
    rejects("{\"tables\": [{}]}", "tables[0].table: required");
    rejects("{\"tables\": [{\"table\": \"products\"}]}", "tables[0].table: \"products\": must be schema-qualified");
    rejects("{\"tables\": [{\"table\": \"a.b.c\"}]}", "tables[0].table: \"a.b.c\": more than two");
    rejects("{\"tables\": [{\"table\": \"a.\"}]}", "tables[0].table: \"a.\": empty name");
    rejects("{\"tables\": [{\"table\": \"\\\"a.b\"}]}", "unterminated quoted name");
    rejects("{\"tables\": [{\"table\": \"a\\\"b.c\"}]}", "a double quote may only start a quoted name");
    rejects("{\"tables\": [{\"table\": \"public. t\"}]}", "starts or ends with a space");
    rejects("{\"tables\": [{\"table\": 7}]}", "tables[0].table: must be a string, not a number");
    rejects("{\"tables\": [{\"table\": \"\"}]}", "tables[0].table: must not be empty");
    rejects("{\"tables\": [{\"table\": \"public.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}",
            "a PostgreSQL name is at most 63 bytes");
    rejects("{\"schema\": \"a$b\", " T1 "}", "t.json: schema: must not contain $");
    rejects("{\"tables\": [{\"table\": \"public.t\"}, {\"table\": \"public.t\", \"index\": \"x\"}]}",
            "tables[1].table: public.t is already mapped by tables[0]");
    rejects("{\"tables\": [{\"table\": \"public.t\"}, {\"table\": \"other.t\"}]}",
            "tables[1].index: index \"t\" is already the index of tables[0] (public.t)");
}

static void test_index_names(void **state)
{
    (void)state;
    rejects("{\"tables\": [{\"table\": \"public.Products\"}]}",
            "tables[0].index: the default index name \"Products\" (the table's name) is not a valid index name: "
            "must be lowercase; set \"index\"");
    const char *bad[][2] = {{"Up", "must be lowercase"},       {"a b", "must not contain"},
                            {"a*b", "must not contain"},        {"a,b", "must not contain"},
                            {"a#b", "must not contain"},        {"a:b", "must not contain"},
                            {"a/b", "must not contain"},        {"-a", "must not start with -, _ or +"},
                            {"_a", "must not start with"},      {"+a", "must not start with"},
                            {".", "must not be \\\".\\\" or"},  {"..", "must not be"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256], want[128];
        snprintf(text, sizeof text, "{\"tables\": [{\"table\": \"public.t\", \"index\": \"%s\"}]}", bad[i][0]);
        snprintf(want, sizeof want, "tables[0].index: \"%s\" is not a valid index name", bad[i][0]);
        rejects(text, want);
    }
    char text[512], name[300];
    memset(name, 'a', 256);
    name[256] = '\0';
    snprintf(text, sizeof text, "{\"tables\": [{\"table\": \"public.t\", \"index\": \"%s\"}]}", name);
    rejects(text, "must be at most 255 bytes");
    rejects("{\"tables\": [{\"table\": \"public.t\", \"index\": \"\"}]}", "tables[0].index: must not be empty");
    cfg c;
    assert_true(parse("{\"tables\": [{\"table\": \"public.t\", \"index\": \"a.b-c_d+e\"}]}", &c));
    cfg_free(&c);
}

static void test_table_field_errors(void **state)
{
    (void)state;
#define TBL(x) "{\"tables\": [{\"table\": \"public.t\", " x "}]}"
    rejects(TBL("\"key\": []"), "tables[0].key: must name at least one column");
    rejects(TBL("\"key\": \"id\""), "tables[0].key: must be an array of column names, not a string");
    rejects(TBL("\"key\": [\"id\", 3]"), "tables[0].key[1]: must be a non-empty string (a column name), not a number");
    rejects(TBL("\"key\": [\"\"]"), "tables[0].key[0]: must be a non-empty string (a column name), not an empty");
    rejects(TBL("\"columns\": [\"a\", \"a\"]"), "tables[0].columns[1]: column \"a\" is listed twice");
    rejects(TBL("\"columns\": []"), "tables[0].columns: must name at least one column");
    rejects(TBL("\"columns\": [\"a\"], \"exclude\": [\"b\"]"),
            "tables[0].exclude[0]: column \"b\" is not in \"columns\" anyway");
    rejects(TBL("\"version\": \"v\""), "tables[0].version: must be an object, not a string");
    rejects(TBL("\"version\": {}"), "tables[0].version: needs \"column\"");
    rejects(TBL("\"version\": {\"column\": \"a\", \"timestamp\": \"b\"}"), "tables[0].version: give either");
    rejects(TBL("\"version\": {\"column\": 1}"), "tables[0].version.column: must be a string, not a number");
    rejects(TBL("\"version\": {\"timestamp\": \"\"}"), "tables[0].version.timestamp: must not be empty");
    rejects(TBL("\"version\": {\"column\": \"v\", \"managed\": \"yes\"}"),
            "tables[0].version.managed: must be true or false");
    rejects(TBL("\"key\": [\"v\"], \"version\": {\"column\": \"v\", \"managed\": true}"),
            "tables[0].version: a managed version column cannot be a key column");
    rejects(TBL("\"rename\": []"), "tables[0].rename: must be an object, not an array");
    rejects(TBL("\"rename\": {\"a\": 1}"), "tables[0].rename.a: must be a non-empty string (the document field name)");
    rejects(TBL("\"rename\": {\"a\": \"\"}"), "tables[0].rename.a: must be a non-empty string");
    rejects(TBL("\"rename\": {\"a\": \"x\", \"b\": \"x\"}"),
            "tables[0].rename.b: field \"x\" is already the new name of column \"a\"");
    rejects(TBL("\"rename\": {\"a\": \"x\", \"a\": \"y\"}"), "tables[0].rename.a: duplicate key");
    rejects(TBL("\"rename\": {\"\": \"x\"}"), "tables[0].rename: a column name must not be empty");
    rejects(TBL("\"deletes\": \"drop\""), "tables[0].deletes: must be \"delete\" or \"ignore\", not \"drop\"");
    rejects(TBL("\"deletes\": false"), "tables[0].deletes: must be \"delete\" or \"ignore\", not a boolean");
    rejects(TBL("\"soft_delete\": \"deleted_at\""), "tables[0].soft_delete: must be an object");
    rejects(TBL("\"soft_delete\": {}"), "tables[0].soft_delete: needs \"column\"");
    rejects(TBL("\"where\": 1"), "tables[0].where: must be a string, not a number");
    rejects(TBL("\"where\": \"\""), "tables[0].where: must not be empty");
    rejects(TBL("\"where\": \"true; select 1\""), "tables[0].where: must be one SQL boolean expression without ';'");
    rejects(TBL("\"deletes\": \"ignore\", \"where\": \"a > 1\""),
            "tables[0].where: cannot be combined with \"deletes\": \"ignore\"");
    rejects(TBL("\"index_settings\": 1"), "tables[0].index_settings: must be an object, not a number");
    rejects(TBL("\"mappings\": {\"_doc\": {\"properties\": {}}}"),
            "tables[0].mappings: a \"_doc\" type wrapper is not allowed");
    rejects(TBL("\"mappings\": []"), "tables[0].mappings: must be an object, not an array");
    cfg c;
    assert_true(parse(TBL("\"where\": \"status <> 'draft'\""), &c));
    assert_string_equal(c.tables[0].where, "status <> 'draft'");
    cfg_free(&c);
    assert_true(parse(TBL("\"deletes\": \"delete\", \"exclude\": []"), &c));
    assert_false(c.tables[0].deletes_ignore);
    cfg_free(&c);
#undef TBL
}

static void test_load_file_and_default_path(void **state)
{
    (void)state;
    char path[] = "/tmp/versync-test-cfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\n  \"tables\": [{\"table\": \"public.t\", \"bogus\": 1}]\n}\n";
    assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    cfg c;
    assert_false(cfg_load(path, &c, err, sizeof err));
    char want[256];
    snprintf(want, sizeof want, "%s: tables[0].bogus: unknown key", path);
    assert_non_null(strstr(err, want));
    /* A byte-order mark is skipped. */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    const char *bom = "\xEF\xBB\xBF{\"tables\": [{\"table\": \"public.t\"}]}";
    assert_int_equal(write(fd, bom, strlen(bom)), (int)strlen(bom));
    close(fd);
    bool ok = cfg_load(path, &c, err, sizeof err);
    if (!ok)
        print_error("%s\n", err);
    assert_true(ok);
    assert_string_equal(c.path, path);
    cfg_free(&c);
    unlink(path);
    assert_false(cfg_load(path, &c, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));

    assert_string_equal(cfg_default_path("x.json"), "x.json");
    setenv("VERSYNC_CONFIG", "/etc/vs.json", 1);
    assert_string_equal(cfg_default_path(NULL), "/etc/vs.json");
    unsetenv("VERSYNC_CONFIG");
    assert_string_equal(cfg_default_path(NULL), "./versync.json");
}

/* Which field, if any, carries a secret written into the file itself. */
static void test_literal_secret_detection(void **state)
{
    (void)state;
    setenv("VS_T_PW", "from-env", 1);
    static const struct {
        const char *fields; /* members before "tables" */
        const char *want;   /* expected literal_secret, NULL: none */
    } cases[] = {
        {"", NULL},
        {"\"postgres\": \"host=/tmp dbname=x user=u\",", NULL},
        {"\"postgres\": \"host=/tmp password=hunter2\",", "postgres"},
        {"\"postgres\": \"host=/tmp password='two words'\",", "postgres"},
        {"\"postgres\": \"host=/tmp password=${VS_T_PW}\",", NULL},
        {"\"postgres\": \"host=/tmp password=x${VS_T_PW}\",", "postgres"},
        {"\"postgres\": \"postgresql://u:hunter2@db/x\",", "postgres"},
        {"\"postgres\": \"postgresql://u:${VS_T_PW}@db/x\",", NULL},
        {"\"postgres\": \"postgresql://u@db/x?password=hunter2\",", "postgres"},
        {"\"postgres\": \"postgresql://u@db/x\",", NULL},
        {"\"postgres\": \"${VS_T_PW}\",", NULL}, /* the whole conninfo from the environment */
        {"\"store\": {\"password\": \"s3cret\"},", "store.password"},
        {"\"store\": {\"password\": \"${VS_T_PW}\"},", NULL},
        {"\"store\": {\"password\": \"${VS_T_PW}${VS_T_PW}\"},", NULL},
        {"\"store\": {\"password\": \"\"},", NULL},
        {"\"store\": {\"api_key\": \"a2V5\"},", "store.api_key"},
        {"\"store\": {\"api_key\": \"${VS_T_PW}\"},", NULL},
        {"\"store\": {\"url\": \"https://vs:pw@es:9200\"},", "store.url"},
        {"\"store\": {\"url\": \"https://vs:${VS_T_PW}@es:9200\"},", NULL},
        {"\"store\": {\"url\": \"https://es:9200/a@b\"},", NULL},
        {"\"store\": {\"url\": \"https://vs@es:9200\"},", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[512];
        snprintf(text, sizeof text, "{%s " T1 "}", cases[i].fields);
        cfg c;
        if (!parse(text, &c))
            fail_msg("%s: %s", text, err);
        const char *got = c.literal_secret;
        if (cases[i].want ? !got || strcmp(got, cases[i].want) != 0 : got != NULL)
            fail_msg("%s: literal_secret %s, expected %s", text, got ? got : "NULL",
                     cases[i].want ? cases[i].want : "NULL");
        cfg_free(&c);
    }
    unsetenv("VS_T_PW");
}

/* cfg_load refuses a literal secret in a file group or others can read,
 * naming the file and the field and pointing to ${NAME}; 0600 is fine, and
 * so is any mode when the secret comes from the environment. */
static void test_load_refuses_readable_secrets(void **state)
{
    (void)state;
    char path[] = "/tmp/versync-test-cfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "{\"store\": {\"username\": \"vs\", \"password\": \"hunter2\"}, " T1 "}";
    assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    cfg c;
    assert_int_equal(chmod(path, 0644), 0);
    assert_false(cfg_load(path, &c, err, sizeof err));
    char want[512];
    snprintf(want, sizeof want, "%s: store.password: ", path);
    if (!strstr(err, want) || !strstr(err, "readable by others (mode 0644)") || !strstr(err, "\"${NAME}\"") ||
        !strstr(err, "chmod 600 "))
        fail_msg("message: %s", err);
    assert_null(strstr(err, "hunter2"));
    assert_int_equal(chmod(path, 0640), 0);
    assert_false(cfg_load(path, &c, err, sizeof err));
    assert_non_null(strstr(err, "readable by its group (mode 0640)"));
    assert_int_equal(chmod(path, 0600), 0);
    bool ok = cfg_load(path, &c, err, sizeof err);
    if (!ok)
        fail_msg("%s", err);
    assert_string_equal(c.store.password, "hunter2");
    cfg_free(&c);
    assert_int_equal(chmod(path, 0400), 0);
    assert_true(cfg_load(path, &c, err, sizeof err));
    cfg_free(&c);

    /* Through the environment: readable files are fine. */
    setenv("VS_T_PW", "hunter2", 1);
    fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0) { /* 0400: root may still open it; anyone else makes it writable first */
        assert_int_equal(chmod(path, 0600), 0);
        fd = open(path, O_WRONLY | O_TRUNC);
    }
    assert_true(fd >= 0);
    text = "{\"postgres\": \"host=/tmp password=${VS_T_PW}\", \"store\": {\"password\": \"${VS_T_PW}\"}, " T1 "}";
    assert_int_equal(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, 0644), 0);
    ok = cfg_load(path, &c, err, sizeof err);
    if (!ok)
        fail_msg("%s", err);
    assert_string_equal(c.store.password, "hunter2");
    cfg_free(&c);
    unsetenv("VS_T_PW");
    unlink(path);
}

/* "capture": trigger by default; cursor needs an unmanaged version column or timestamp. */
#define TBL(x) "{\"tables\": [{\"table\": \"public.t\", " x "}]}"
static void test_bytes_cjson_would_hide(void **state)
{
    (void)state;
    /* cJSON would load "a\u0000b" as "a" and pass invalid UTF-8 through. */
    rejects("{\"tables\": [{\"table\": \"public.t\", \"index\": \"a\\u0000b\"}]}",
            "t.json: 1:46: \\u0000 (a NUL character) is not allowed in the config");
    rejects("{\"tables\": [{\"table\": \"public.t\", \"index\": \"a\xff\"}]}",
            "t.json: 1:46: invalid UTF-8 (byte 0xFF)");
    rejects("{\"x\": \"\xed\xa0\x80\"}", "t.json: 1:8: invalid UTF-8 (byte 0xED)"); /* a surrogate */
    rejects("{\"x\": \"\xc0\xaf\"}", "t.json: 1:8: invalid UTF-8 (byte 0xC0)");     /* overlong */
    cfg c;
    assert_true(parse("{\"tables\": [{\"table\": \"public.t\", \"index\": \"caf\xc3\xa9\"}]}", &c));
    cfg_free(&c);
}

static void test_select_tables(void **state)
{
    (void)state;
    cfg c;
    assert_true(parse("{\"tables\": [{\"table\": \"public.a\"}, {\"table\": \"s.b\"}]}", &c));
    cfg_table **sel = NULL;
    size_t n = 0;
    assert_true(cfg_select_tables(&c, NULL, 0, &sel, &n, err, sizeof err));
    assert_int_equal(n, 2);
    assert_ptr_equal(sel[1], &c.tables[1]);
    free(sel);
    /* no schema means public; repeats are kept in order */
    const char *names[] = {"s.b", "a", "a", "public.a"};
    assert_true(cfg_select_tables(&c, names, 4, &sel, &n, err, sizeof err));
    assert_int_equal(n, 4);
    assert_ptr_equal(sel[0], &c.tables[1]);
    assert_ptr_equal(sel[3], &c.tables[0]);
    free(sel);
    const char *bad[] = {"b"};
    assert_false(cfg_select_tables(&c, bad, 1, &sel, &n, err, sizeof err));
    assert_null(sel);
    assert_string_equal(err, "table b is not in t.json");
    cfg_free(&c);
}

static void test_capture(void **state)
{
    (void)state;
    cfg c;
    assert_true(parse(TBL("\"version\": {\"column\": \"v\"}"), &c));
    assert_int_equal(c.tables[0].capture, CFG_CAPTURE_TRIGGER);
    cfg_free(&c);
    assert_true(parse(TBL("\"capture\": \"cursor\", \"version\": {\"timestamp\": \"updated_at\"}"), &c));
    assert_int_equal(c.tables[0].capture, CFG_CAPTURE_CURSOR);
    assert_int_equal(c.tables[0].version_kind, CFG_VERSION_TIMESTAMP);
    cfg_free(&c);
    assert_true(parse(TBL("\"capture\": \"trigger\""), &c));
    assert_int_equal(c.tables[0].capture, CFG_CAPTURE_TRIGGER);
    cfg_free(&c);
    assert_true(parse(TBL("\"capture\": \"cursor\", \"version\": {\"column\": \"v\"}, "
                          "\"soft_delete\": {\"column\": \"gone\"}"),
                      &c));
    assert_int_equal(c.tables[0].capture, CFG_CAPTURE_CURSOR);
    cfg_free(&c);
    rejects(TBL("\"capture\": \"poll\""), "tables[0].capture: must be \"trigger\", \"cursor\" or \"wal\", not \"poll\"");
    rejects(TBL("\"capture\": true"), "tables[0].capture: must be \"trigger\", \"cursor\" or \"wal\", not a boolean");
    rejects(TBL("\"capture\": \"cursor\""), "tables[0].capture: \"cursor\" needs a \"version\"");
    rejects(TBL("\"capture\": \"cursor\", \"version\": {\"column\": \"v\", \"managed\": true}"),
            "tables[0].version.managed: cannot be true with \"capture\": \"cursor\"");
    rejects(TBL("\"capture\": \"cursor\", \"version\": {\"timestamp\": \"t\", \"managed\": true}"),
            "cursor mode installs no triggers");
    /* "wal" (issue 22): the commit LSN is the version; slot and publication default to the schema. */
#define WALCFG(x) "{\"wal\": {" x "}, \"tables\": [{\"table\": \"public.t\", \"capture\": \"wal\"}]}"
    assert_true(parse(TBL("\"capture\": \"wal\""), &c));
    assert_int_equal(c.tables[0].capture, CFG_CAPTURE_WAL);
    assert_string_equal(c.wal_slot, "versync");
    assert_string_equal(c.wal_publication, "versync");
    assert_false(c.wal_publication_given);
    assert_true(c.wal_lag_warn_bytes == 1LL << 30);
    assert_true(c.wal_lag_warn_seconds == WAL_LAG_WARN_SECONDS);
    assert_int_equal(c.wal_inflight, WAL_INFLIGHT);
    cfg_free(&c);
    assert_true(parse(WALCFG("\"inflight\": 1, \"lag_warn_seconds\": 2.5"), &c));
    assert_int_equal(c.wal_inflight, 1);
    assert_true(c.wal_lag_warn_seconds == 2.5);
    cfg_free(&c);
    rejects(WALCFG("\"inflight\": 0"), "wal.inflight: must be a whole number");
    rejects(WALCFG("\"inflight\": 65"), "wal.inflight: must be a whole number");
    rejects(WALCFG("\"inflight\": 2.5"), "wal.inflight: must be a whole number");
    rejects(WALCFG("\"lag_warn_seconds\": -1"),
            "wal.lag_warn_seconds: must be a number of seconds");
    rejects(TBL("\"capture\": \"wal\", \"version\": {\"column\": \"v\"}"),
            "tables[0].capture: \"wal\" takes no \"version\"");
}
#undef TBL

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_gets_defaults),
        cmocka_unit_test(test_full_config_with_comments_and_env),
        cmocka_unit_test(test_syntax_errors_give_line_and_column),
        cmocka_unit_test(test_unknown_and_duplicate_keys),
        cmocka_unit_test(test_env_errors),
        cmocka_unit_test(test_types_and_ranges),
        cmocka_unit_test(test_tables_errors),
        cmocka_unit_test(test_index_names),
        cmocka_unit_test(test_table_field_errors),
        cmocka_unit_test(test_load_file_and_default_path),
        cmocka_unit_test(test_literal_secret_detection),
        cmocka_unit_test(test_load_refuses_readable_secrets),
        cmocka_unit_test(test_capture),
        cmocka_unit_test(test_bytes_cjson_would_hide),
        cmocka_unit_test(test_select_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
