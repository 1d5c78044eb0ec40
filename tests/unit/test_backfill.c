/* Unit tests for backfill: document ids back to key parts, the keyset page statement, orphan delete versions.
 */
#include "versync/bridge/backfill.h"
#include "versync/bridge/render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

/* bulk_doc_id, then backfill_split_id, gives the parts back. */
static void roundtrip(const char *const *parts, size_t n)
{
    buf id = BUF_INIT;
    assert_true(bulk_doc_id(&id, parts, n));
    char **got;
    size_t gn;
    assert_true(backfill_split_id(id.data, n, &got, &gn));
    assert_int_equal(gn, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got[i], parts[i]);
    render_free_array(got, gn);
    buf_free(&id);
}

static void test_split_id_roundtrips(void **state)
{
    (void)state;
    const char *one[] = {"a|b\\c"};
    roundtrip(one, 1); /* a one-column key is its text unchanged, '|' included */
    const char *two[] = {"a|b", "c"};
    roundtrip(two, 2);
    const char *three[] = {"", "x\\", "|"};
    roundtrip(three, 3);
}

static void test_split_id_rejects_foreign_ids(void **state)
{
    (void)state;
    char **got;
    size_t n;
    assert_false(backfill_split_id("abc", 2, &got, &n));   /* one part where the key has two */
    assert_false(backfill_split_id("a|b|c", 2, &got, &n)); /* three */
    assert_false(backfill_split_id("a\\", 2, &got, &n));   /* a dangling escape */
    assert_true(backfill_split_id("a|", 2, &got, &n));     /* an empty last part is a part */
    assert_string_equal(got[1], "");
    render_free_array(got, n);
}

static void test_page_sql(void **state)
{
    char *key[] = {"id", "At"};
    char *types[] = {"integer", "timestamp with time zone"};
    cfg_table t = {
        .schema = "public", .name = "t", .ident = "public.t", .key = key, .nkey = 2, .key_types = types};
    char err[256];
    char *first = backfill_page_sql(*state, &t, false, false, err, sizeof err);
    char *after = backfill_page_sql(*state, &t, true, false, err, sizeof err);
    char *rnd = backfill_page_sql(*state, &t, false, true, err, sizeof err);
    assert_non_null(first);
    assert_non_null(after);
    assert_non_null(rnd);
    assert_non_null(strstr(first, " FROM \"public\".\"t\" vs_r ORDER BY vs_r.\"id\", vs_r.\"At\" LIMIT $1"));
    assert_non_null(strstr(after,
                           " WHERE (vs_r.\"id\", vs_r.\"At\") > ($1::integer, $2::timestamp with time zone) "
                           "ORDER BY vs_r.\"id\", vs_r.\"At\" LIMIT $3"));
    assert_non_null(strstr(rnd, " ORDER BY random() LIMIT $1"));
    free(first);
    free(after);
    free(rnd);
    cfg_table nokey = {.schema = "public", .name = "t", .ident = "public.t"};
    assert_null(backfill_page_sql(*state, &nokey, false, false, err, sizeof err));
    assert_non_null(strstr(err, "public.t"));
}

static void test_delete_version(void **state)
{
    (void)state;
    cfg_table t = {0};
    assert_int_equal(backfill_delete_version(&t, 0), 1);
    assert_int_equal(backfill_delete_version(&t, 41), 42);
    assert_int_equal(backfill_delete_version(&t, -1), 1); /* unknown: still beats version 0 */
    assert_true(backfill_delete_version(&t, BULK_VERSION_MAX) == BULK_VERSION_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_id_roundtrips),
        cmocka_unit_test(test_split_id_rejects_foreign_ids),
        cmocka_unit_test(test_page_sql),
        cmocka_unit_test(test_delete_version),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
