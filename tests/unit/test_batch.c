/* Unit tests for batch: coalescing claimed changes, applying re-read rows, classifying answers (no PostgreSQL). */
#include "versync/bridge/batch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Two tables: a seq-versioned one and one with an application version column. */
static cfg_table tables[2];
static cfg config;
static bool table_ok[3] = {true, true, false};

static char *key_a[] = {"k"};
static char *key_b[] = {"id"};

static int setup(void **state)
{
    (void)state;
    memset(tables, 0, sizeof tables);
    tables[0].ident = "public.a";
    tables[0].name = "a";
    tables[0].key = key_a;
    tables[0].nkey = 1;
    tables[0].version_kind = CFG_VERSION_SEQ;
    tables[1].ident = "public.b";
    tables[1].name = "b";
    tables[1].key = key_b;
    tables[1].nkey = 1;
    tables[1].version_kind = CFG_VERSION_COLUMN;
    tables[1].version_column = "v";
    memset(&config, 0, sizeof config);
    config.path = "test.json";
    config.tables = tables;
    config.ntables = 2;
    table_ok[0] = table_ok[1] = true;
    return 0;
}

/* A change of key `id` (NULL: a truncate) with one key part equal to the id. */
static batch_change ch(int64_t seq, const char *tbl, char *id, char op, const char *version)
{
    static char *parts[64][1];
    static size_t next;
    batch_change c = {0};
    c.seq = seq;
    c.tbl = tbl;
    c.op = op;
    c.version_text = version;
    c.changed_at = "2026-01-01 00:00:00+00";
    if (id) {
        parts[next % 64][0] = id;
        c.key = parts[next++ % 64];
        c.nkey = 1;
        c.id = id;
        c.key_text = id;
    }
    return c;
}

static void test_coalesce_folds_each_key_into_its_latest_change(void **state)
{
    (void)state;
    batch_change c[] = {
        ch(1, "public.a", "1", 'I', NULL), ch(2, "public.a", "2", 'I', NULL), ch(3, "public.a", "1", 'U', NULL),
        ch(4, "public.b", "1", 'U', "40"), ch(5, "public.a", "1", 'U', NULL), ch(6, "public.b", "1", 'U', "30"),
    };
    batch_item items[6];
    long long folded = -1;
    size_t n = batch_coalesce(&config, table_ok, NULL, c, 6, items, &folded);
    assert_int_equal(n, 3);
    assert_int_equal(folded, 3);
    /* Sorted by table, then id. */
    assert_string_equal(items[0].rep->tbl, "public.a");
    assert_string_equal(items[0].rep->id, "1");
    assert_int_equal(items[0].rep->seq, 5);
    assert_int_equal(items[0].max_seq, 5);
    assert_int_equal(items[0].folded, 2);
    assert_int_equal(items[0].act, BATCH_INDEX);
    assert_ptr_equal(items[0].t, &tables[0]);
    assert_int_equal(items[0].tidx, 0);
    assert_string_equal(items[1].rep->id, "2");
    assert_int_equal(items[1].folded, 0);
    /* Table b: the group's greatest version, not the latest change's. */
    assert_int_equal(items[2].tidx, 1);
    assert_int_equal(items[2].rep->seq, 6);
    assert_int_equal(items[2].max_version, 40);
}

static void test_coalesce_delete_takes_greatest_version(void **state)
{
    (void)state;
    batch_change c[] = {ch(7, "public.b", "9", 'U', "12"), ch(8, "public.b", "9", 'D', "11"),
                        ch(9, "public.a", "9", 'D', NULL)};
    batch_item items[3];
    long long folded;
    size_t n = batch_coalesce(&config, table_ok, NULL, c, 3, items, &folded);
    assert_int_equal(n, 2);
    assert_int_equal(items[0].act, BATCH_DELETE); /* public.a: seq */
    assert_int_equal(items[0].version, 9);
    assert_int_equal(items[1].act, BATCH_DELETE); /* public.b: greatest of 12 and 11 */
    assert_int_equal(items[1].version, 12);
}

static void test_coalesce_delete_ignored_and_truncate_do_nothing(void **state)
{
    (void)state;
    tables[0].deletes_ignore = true;
    batch_change c[] = {ch(1, "public.a", "1", 'D', NULL), ch(2, "public.a", NULL, 'T', NULL),
                        ch(3, "public.a", NULL, 'T', NULL)};
    batch_item items[3];
    long long folded;
    size_t n = batch_coalesce(&config, table_ok, NULL, c, 3, items, &folded);
    /* Truncates are never folded (each is its own item, first in the table). */
    assert_int_equal(n, 3);
    assert_int_equal(folded, 0);
    assert_null(items[0].rep->id);
    assert_int_equal(items[0].act, BATCH_NONE);
    assert_null(items[1].rep->id);
    assert_int_equal(items[2].act, BATCH_NONE);
    assert_string_equal(items[2].rep->id, "1");
    assert_int_equal(batch_classify(&items[0]), BATCH_SKIPPED);
    assert_int_equal(batch_classify(&items[2]), BATCH_SKIPPED);
}

static void test_coalesce_dead_letters_before_sending(void **state)
{
    (void)state;
    char *err_b = "table public.b has no primary key";
    char *errs[3] = {NULL, err_b, NULL};
    table_ok[1] = false;
    batch_change c[] = {ch(1, "public.zz", "1", 'I', NULL), ch(2, "public.b", "1", 'I', NULL),
                        ch(3, "public.a", "1", 'D', "-4")};
    tables[0].version_kind = CFG_VERSION_COLUMN;
    c[2].nkey = 1;
    batch_item items[3];
    long long folded;
    size_t n = batch_coalesce(&config, table_ok, errs, c, 3, items, &folded);
    assert_int_equal(n, 3);
    assert_int_equal(items[0].act, BATCH_DEAD);
    /* The group's greatest version starts below 0, so a negative one reads -1 (as before the split). */
    assert_non_null(strstr(items[0].error, "table public.a, key 1: delete version -"));
    assert_non_null(strstr(items[0].error, " is negative"));
    assert_int_equal(items[1].act, BATCH_DEAD);
    assert_string_equal(items[1].error, "table public.b: table public.b has no primary key");
    assert_int_equal(items[2].act, BATCH_DEAD);
    assert_null(items[2].t);
    assert_int_equal(items[2].tidx, 2);
    assert_string_equal(items[2].error, "table public.zz is not in the config (test.json)");
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(batch_classify(&items[i]), BATCH_DEAD_LETTER);
}

static void test_coalesce_key_arity_mismatch(void **state)
{
    (void)state;
    batch_change c[] = {ch(1, "public.a", "1", 'I', NULL)};
    c[0].nkey = 0;
    batch_item items[1];
    long long folded;
    batch_coalesce(&config, table_ok, NULL, c, 1, items, &folded);
    assert_int_equal(items[0].act, BATCH_DEAD);
    assert_string_equal(items[0].error, "table public.a: change has 0 key parts, the mapping's key has 1");
}

static void test_find_item_binary_search_skips_truncates(void **state)
{
    (void)state;
    batch_change c[] = {ch(1, "public.a", "b", 'I', NULL), ch(2, "public.a", NULL, 'T', NULL),
                        ch(3, "public.a", "a", 'I', NULL), ch(4, "public.a", "c", 'I', NULL)};
    batch_item items[4];
    long long folded;
    size_t n = batch_coalesce(&config, table_ok, NULL, c, 4, items, &folded);
    assert_int_equal(n, 4);
    assert_ptr_equal(batch_find_item(items, 0, n, "a"), &items[1]);
    assert_ptr_equal(batch_find_item(items, 0, n, "c"), &items[3]);
    assert_null(batch_find_item(items, 0, n, "d"));
    assert_null(batch_find_item(items, 0, 0, "a"));
}

static void test_apply_row_seq_column_and_soft_delete(void **state)
{
    (void)state;
    batch_change c[] = {ch(10, "public.a", "1", 'U', NULL), ch(11, "public.b", "1", 'U', "5")};
    batch_item items[2];
    long long folded;
    batch_coalesce(&config, table_ok, NULL, c, 2, items, &folded);
    items[0].want = true;
    batch_apply_row(&items[0], "{\"x\":1}", 7, "999", false);
    assert_false(items[0].want);
    assert_int_equal(items[0].act, BATCH_INDEX);
    assert_int_equal(items[0].version, 10); /* seq, whatever the row says */
    assert_int_equal(items[0].doc_len, 7);
    batch_apply_row(&items[1], "{}", 2, "77", true);
    assert_int_equal(items[1].act, BATCH_DELETE);
    assert_int_equal(items[1].version, 77);
    tables[1].deletes_ignore = true;
    batch_apply_row(&items[1], "{}", 2, "78", true);
    assert_int_equal(items[1].act, BATCH_INDEX);
}

static void test_apply_row_bad_version_is_a_dead_letter(void **state)
{
    (void)state;
    batch_change c[] = {ch(1, "public.b", "7", 'U', NULL)};
    batch_item items[1];
    long long folded;
    batch_coalesce(&config, table_ok, NULL, c, 1, items, &folded);
    batch_apply_row(&items[0], "{}", 2, NULL, false);
    assert_int_equal(items[0].act, BATCH_DEAD);
    assert_int_equal(items[0].outcome, BULK_DEAD);
    assert_string_equal(items[0].error, "table public.b, key 7: version column \"v\" is NULL");
    batch_apply_row(&items[0], "{}", 2, "4.5", false);
    assert_non_null(strstr(items[0].error, "is not an integer"));
}

static bool tree_b(const cfg_table *t) { return t == &tables[1]; }

static void test_nested_finish_deletes_gone_roots(void **state)
{
    (void)state;
    batch_change c[] = {ch(1, "public.b", "1", 'U', "3"), ch(2, "public.b", "2", 'U', "3"),
                        ch(3, "public.a", "1", 'U', NULL)};
    batch_item items[3];
    long long folded;
    batch_coalesce(&config, table_ok, NULL, c, 3, items, &folded);
    /* Re-read: b/1 gone, b/2 back, a/1 gone (not nested: stays skipped). */
    for (size_t i = 0; i < 3; i++) {
        items[i].act = BATCH_NONE;
        items[i].want = true;
    }
    batch_apply_row(&items[2], "{}", 2, "3", false);
    batch_nested_finish(items, 3, 500, tree_b);
    assert_int_equal(items[0].act, BATCH_NONE);
    assert_int_equal(items[1].act, BATCH_DELETE);
    assert_int_equal(items[1].version, 500);
    assert_int_equal(items[2].act, BATCH_INDEX);
    assert_int_equal(items[2].version, 500);
}

static void test_classify_and_count_answers(void **state)
{
    (void)state;
    batch_change c[] = {ch(1, "public.b", "1", 'U', "3")};
    batch_item it[1];
    long long folded;
    batch_coalesce(&config, table_ok, NULL, c, 1, it, &folded);
    worker_counters d = {0};
    static const struct {
        bulk_outcome o;
        batch_class k;
    } cases[] = {{BULK_APPLIED, BATCH_APPLIED}, {BULK_STALE, BATCH_STALE},   {BULK_REGRESSED, BATCH_REGRESSED},
                 {BULK_DEAD, BATCH_DEAD_LETTER}, {BULK_RETRY, BATCH_RETRY}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        it[0].act = BATCH_INDEX;
        it[0].outcome = cases[i].o;
        assert_int_equal(batch_classify(&it[0]), cases[i].k);
        batch_count(&d, batch_classify(&it[0]));
    }
    assert_int_equal(d.applied, 1);
    assert_int_equal(d.stale, 1);
    assert_int_equal(d.version_regressed, 1);
    assert_int_equal(d.dead_letters, 2); /* the regressed one is a dead letter too */
    assert_int_equal(d.skipped, 0);
    batch_count(&d, BATCH_SKIPPED);
    assert_int_equal(d.skipped, 1);
}

static void test_regressed_message_names_versions_and_remedy(void **state)
{
    (void)state;
    batch_change c[] = {ch(1, "public.b", "42", 'U', "3")};
    batch_item it[1];
    long long folded;
    batch_coalesce(&config, table_ok, NULL, c, 1, it, &folded);
    it[0].version = 3;
    snprintf(it[0].error, sizeof it[0].error, "version_regressed: store holds 5");
    batch_regressed_message(&it[0]);
    assert_non_null(strstr(it[0].error, "version_regressed: store holds 5; table public.b, key 42, row version 3"));
    assert_non_null(strstr(it[0].error, "\"managed\": true"));
    assert_non_null(strstr(it[0].error, "bump \"v\""));
}

static void test_oldest_changed_at(void **state)
{
    (void)state;
    batch_change c[3] = {{0}};
    c[0].changed_at = "2026-01-01 00:00:02+00";
    c[1].changed_at = "2026-01-01 00:00:01+00";
    c[2].changed_at = "2026-01-01 00:00:03+00";
    assert_string_equal(batch_oldest(c, 3), "2026-01-01 00:00:01+00");
    assert_null(batch_oldest(c, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_coalesce_folds_each_key_into_its_latest_change, setup),
        cmocka_unit_test_setup(test_coalesce_delete_takes_greatest_version, setup),
        cmocka_unit_test_setup(test_coalesce_delete_ignored_and_truncate_do_nothing, setup),
        cmocka_unit_test_setup(test_coalesce_dead_letters_before_sending, setup),
        cmocka_unit_test_setup(test_coalesce_key_arity_mismatch, setup),
        cmocka_unit_test_setup(test_find_item_binary_search_skips_truncates, setup),
        cmocka_unit_test_setup(test_apply_row_seq_column_and_soft_delete, setup),
        cmocka_unit_test_setup(test_apply_row_bad_version_is_a_dead_letter, setup),
        cmocka_unit_test_setup(test_nested_finish_deletes_gone_roots, setup),
        cmocka_unit_test_setup(test_classify_and_count_answers, setup),
        cmocka_unit_test_setup(test_regressed_message_names_versions_and_remedy, setup),
        cmocka_unit_test_setup(test_oldest_changed_at, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
