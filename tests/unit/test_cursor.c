/* Unit tests for cursor: the state file (round trip, other tables kept, atomic replace, bad files) and checkpoint ages. */
#include "versync/bridge/cursor.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];
static char path[128];
static char err[1024];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/versync-cursor-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/state.json", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *key_id[] = {"id"};

static void test_missing_file_is_empty(void **state)
{
    (void)state;
    cursor_checkpoint cp;
    assert_true(cursor_state_load(path, "public.t", &cp, err, sizeof err));
    assert_false(cp.has_base);
    assert_false(cp.in_pass);
    assert_null(cp.pass_key);
    cursor_checkpoint_clear(&cp);
}

static void test_round_trip_keeps_other_tables(void **state)
{
    (void)state;
    char *pk[] = {"a|b", NULL};
    char *cols[] = {"k1", "k2"};
    cursor_checkpoint a = {0}, b = {0}, got;
    a.has_base = true;
    a.base_xmin = 9000000000LL; /* beyond 2^32 and 2^53-safe doubles would be fine too: kept as text */
    snprintf(a.base_at, sizeof a.base_at, "2026-11-21T22:44:19.830123Z");
    a.in_pass = true;
    a.pass_xmin = 9000000123LL;
    snprintf(a.pass_at, sizeof a.pass_at, "2026-11-21T22:45:00.000001Z");
    a.pass_key = pk;
    a.npass_key = 2;
    a.key_cols = cols;
    a.nkey_cols = 2;
    a.passes = 7;
    a.rows = 123456789012LL;
    a.applied = 5;
    a.stale = 6;
    a.dead_letters = 1;
    snprintf(a.system_id, sizeof a.system_id, "7310769051319547510");
    b.key_cols = key_id;
    b.nkey_cols = 1;
    b.passes = 1;
    assert_true(cursor_state_save(path, "public.a", &a, err, sizeof err));
    assert_true(cursor_state_save(path, "public.b", &b, err, sizeof err));

    assert_true(cursor_state_load(path, "public.a", &got, err, sizeof err));
    assert_true(got.has_base);
    assert_int_equal(got.base_xmin, 9000000000LL);
    assert_string_equal(got.base_at, "2026-11-21T22:44:19.830123Z");
    assert_true(got.in_pass);
    assert_int_equal(got.pass_xmin, 9000000123LL);
    assert_int_equal(got.npass_key, 2);
    assert_string_equal(got.pass_key[0], "a|b");
    assert_null(got.pass_key[1]);
    assert_int_equal(got.nkey_cols, 2);
    assert_string_equal(got.key_cols[1], "k2");
    assert_int_equal(got.passes, 7);
    assert_int_equal(got.rows, 123456789012LL);
    assert_int_equal(got.applied, 5);
    assert_int_equal(got.stale, 6);
    assert_int_equal(got.dead_letters, 1);
    assert_string_equal(got.system_id, "7310769051319547510");
    cursor_checkpoint_clear(&got);

    assert_true(cursor_state_load(path, "public.b", &got, err, sizeof err));
    assert_false(got.has_base);
    assert_false(got.in_pass);
    assert_int_equal(got.passes, 1);
    cursor_checkpoint_clear(&got);

    /* Saving a completed pass drops the pass position. */
    a.in_pass = false;
    assert_true(cursor_state_save(path, "public.a", &a, err, sizeof err));
    assert_true(cursor_state_load(path, "public.a", &got, err, sizeof err));
    assert_false(got.in_pass);
    assert_null(got.pass_key);
    assert_true(got.has_base);
    cursor_checkpoint_clear(&got);

    /* Only the state file is left in the folder: the temporary file was renamed over it. */
    char cmd[200];
    snprintf(cmd, sizeof cmd, "test \"$(ls '%s' | wc -l)\" = 1", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_bad_files(void **state)
{
    (void)state;
    cursor_checkpoint cp;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"something\": \"else\"}", f);
    fclose(f);
    assert_false(cursor_state_load(path, "public.t", &cp, err, sizeof err));
    assert_non_null(strstr(err, "not a versync state file"));
    assert_non_null(strstr(err, path));
    cursor_checkpoint cp2 = {0};
    assert_false(cursor_state_save(path, "public.t", &cp2, err, sizeof err));
    f = fopen(path, "w");
    fputs("{\"versync_state\": 1, \"tables\": {\"public.t\": {\"base_xmin\": \"x12\"}}}", f);
    fclose(f);
    assert_false(cursor_state_load(path, "public.t", &cp, err, sizeof err));
    assert_non_null(strstr(err, "tables.public.t: malformed checkpoint"));
    unlink(path);
    char missing[200];
    snprintf(missing, sizeof missing, "%s/no/such/dir/state.json", dir);
    assert_false(cursor_state_save(missing, "public.t", &cp2, err, sizeof err));
    assert_non_null(strstr(err, "cannot create"));
}

static void test_age(void **state)
{
    (void)state;
    assert_int_equal(cursor_age_ms(""), -1);
    assert_int_equal(cursor_age_ms("yesterday"), -1);
    long long age = cursor_age_ms("2020-01-01T00:00:00.5Z");
    assert_true(age > 24LL * 3600 * 1000 * 365 * 5);
    assert_int_equal(cursor_age_ms("2999-01-01T00:00:00Z"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_file_is_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_keeps_other_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test(test_age),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
