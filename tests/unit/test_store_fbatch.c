/* Unit tests for store_fbatch: exact values, presence entries and field statistics queued over a transaction
 * land in LMDB exactly as putting each one at once would leave them, whatever the mix of additions, removals,
 * additions taken back, older seqs, early flushes and aborted transactions. */
#include "versync/common/log.h"
#include "versync/store/store_engine_int.h"
#include "versync/store/store_fbatch.h"
#include "versync/store/store_util.h"

#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char g_dir[256];
static MDB_env *g_env;
static MDB_dbi g_exists, g_stats, g_values;

#define NKEYS 6
#define MAXSEQ 6000

/* The keys: short, sharing prefixes, and one longer than 8 bytes, so the
 * flush's key order (bytewise, then shorter first) is exercised. */
static const char *const g_keys[NKEYS] = {"a", "ab", "abc.keyword", "b", "\x01zz", "ab\x00x"};
static const size_t g_klen[NKEYS] = {1, 2, 11, 1, 3, 4};

/* What the databases must hold: per key, which seqs are present (presence
 * and values; the same key bytes in both, which the batch keeps apart) and
 * the statistics record (present when docs > 0); and which value additions
 * the batch holds now. */
typedef struct model {
    bool has[NKEYS][MAXSEQ], vhas[NKEYS][MAXSEQ];
    int64_t docs[NKEYS], sum[NKEYS];
    bool queued[NKEYS][MAXSEQ];
} model;

static int setup(void **state)
{
    (void)state;
    log_init("test", LOG_ERROR, LOG_FORMAT_TEXT);
    snprintf(g_dir, sizeof g_dir, "/tmp/test_store_fbatch.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    assert_int_equal(mdb_env_create(&g_env), 0);
    mdb_env_set_maxdbs(g_env, 4);
    mdb_env_set_mapsize(g_env, (size_t)64 << 20);
    assert_int_equal(mdb_env_open(g_env, g_dir, MDB_NOSYNC, 0644), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "exists", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &g_exists), 0);
    assert_int_equal(mdb_dbi_open(txn, "fieldstats", MDB_CREATE, &g_stats), 0);
    assert_int_equal(mdb_dbi_open(txn, "values", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &g_values), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mdb_env_close(g_env);
    char path[300];
    snprintf(path, sizeof path, "%s/data.mdb", g_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", g_dir);
    unlink(path);
    rmdir(g_dir);
    return 0;
}

/* A flush applies each key's summed statistics change once: a record whose
 * count is 0 or below goes (a later change starts from nothing), a
 * negative length sum is kept as 0. */
static void model_flush(model *t)
{
    memset(t->queued, 0, sizeof t->queued);
    for (int k = 0; k < NKEYS; k++) {
        if (t->docs[k] <= 0)
            t->docs[k] = t->sum[k] = 0;
        else if (t->sum[k] < 0)
            t->sum[k] = 0;
    }
}

/* Database `dbi` holds under each key exactly the seqs `has` marks, and no other key. */
static void check_dups(MDB_txn *txn, MDB_dbi dbi, bool (*has)[MAXSEQ])
{
    size_t want_keys = 0, keys = 0;
    for (int k = 0; k < NKEYS; k++) {
        MDB_cursor *cur;
        assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
        MDB_val key = {g_klen[k], (void *)g_keys[k]}, v;
        int64_t want = 0, got = 0, prev = -1;
        for (int s = 0; s < MAXSEQ; s++)
            want += has[k][s];
        want_keys += want > 0;
        int rc = mdb_cursor_get(cur, &key, &v, MDB_SET);
        while (rc == 0) {
            assert_int_equal(v.mv_size, 8);
            int64_t s = (int64_t)store_util_get_be64(v.mv_data);
            assert_true(s > prev && s < MAXSEQ);
            assert_true(has[k][s]);
            prev = s;
            got++;
            rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT_DUP);
        }
        assert_int_equal(rc, MDB_NOTFOUND);
        assert_int_equal(got, want);
        mdb_cursor_close(cur);
    }
    MDB_cursor *cur;
    assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
    MDB_val key, v;
    for (int rc = mdb_cursor_get(cur, &key, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &key, &v, MDB_NEXT_NODUP))
        keys++;
    mdb_cursor_close(cur);
    assert_int_equal(keys, want_keys);
}

/* The databases hold exactly what `m` says. */
static void check(const model *m)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, MDB_RDONLY, &txn), 0);
    check_dups(txn, g_exists, (bool (*)[MAXSEQ])m->has);
    check_dups(txn, g_values, (bool (*)[MAXSEQ])m->vhas);
    for (int k = 0; k < NKEYS; k++) {
        MDB_val key = {g_klen[k], (void *)g_keys[k]}, v;
        int rc = mdb_get(txn, g_stats, &key, &v);
        if (m->docs[k] <= 0) {
            assert_int_equal(rc, MDB_NOTFOUND);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(v.mv_size, 16);
        assert_int_equal(get_i64(v.mv_data), m->docs[k]);
        assert_int_equal(get_i64((const unsigned char *)v.mv_data + 8), m->sum[k]);
    }
    mdb_txn_abort(txn);
}

/* Many transactions of random changes, checked against the model after
 * each: new documents (rising seqs, as the engine gives them), removals of
 * committed and of same-transaction entries, entries removed twice, older
 * seqs added back (a directory indexed again), statistics going to zero
 * and below, early flushes inside a transaction and aborted ones. */
static void test_random_against_model(void **state)
{
    (void)state;
    model *m = calloc(1, sizeof *m), *t = calloc(1, sizeof *t);
    assert_non_null(m);
    assert_non_null(t);
    srand(12345);
    int64_t next = 1;
    for (int round = 0; round < 300 && next < MAXSEQ - 64; round++) {
        memcpy(t, m, sizeof *m);
        store_fbatch *b = store_fbatch_new();
        assert_non_null(b);
        MDB_txn *txn;
        assert_int_equal(mdb_txn_begin(g_env, NULL, 0, &txn), 0);
        int nops = 1 + rand() % 60;
        for (int i = 0; i < nops; i++) {
            int k = rand() % NKEYS, what = rand() % 14;
            const void *kp = g_keys[k];
            size_t kn = g_klen[k];
            if (what < 5 && next < MAXSEQ) { /* a new document */
                int64_t s = next++;
                assert_true(store_fbatch_exists(b, kp, kn, s, true));
                t->has[k][s] = true;
            } else if (what < 8) { /* remove some present entry, or an absent one */
                int64_t s = rand() % next;
                assert_true(store_fbatch_exists(b, kp, kn, s, false));
                t->has[k][s] = false;
            } else if (what == 8) { /* an older seq added back */
                int64_t s = rand() % next;
                if (!t->has[k][s]) {
                    assert_true(store_fbatch_exists(b, kp, kn, s, true));
                    t->has[k][s] = true;
                }
            } else if (what == 10 && next < MAXSEQ) { /* a new document's value */
                int64_t s = next++;
                assert_true(store_fbatch_value(b, kp, kn, s));
                t->vhas[k][s] = t->queued[k][s] = true;
            } else if (what == 11) { /* an older seq's value (indexed again) */
                int64_t s = rand() % next;
                if (!t->vhas[k][s]) {
                    assert_true(store_fbatch_value(b, kp, kn, s));
                    t->vhas[k][s] = t->queued[k][s] = true;
                }
            } else if (what == 12) { /* a value removed: taken back exactly when queued */
                int64_t s = rand() % next;
                if (rand() % 2) /* mostly one of this transaction's */
                    for (int64_t q = next - 1; q > 0 && q > next - 40; q--)
                        if (t->queued[k][q]) {
                            s = q;
                            break;
                        }
                bool was = t->queued[k][s];
                assert_int_equal(store_fbatch_value_unqueue(b, kp, kn, s), was);
                assert_false(store_fbatch_value_unqueue(b, kp, kn, s));
                if (was)
                    t->vhas[k][s] = t->queued[k][s] = false;
                bool any = false;
                for (int64_t q = 0; q < next && !any; q++)
                    any = t->queued[k][q];
                assert_int_equal(store_fbatch_value_queued(b, kp, kn), any);
            } else { /* statistics */
                int64_t d = rand() % 3 - 1, l = rand() % 7 - 2;
                assert_true(store_fbatch_stat(b, kp, kn, d, l));
                t->docs[k] += d;
                t->sum[k] += l;
            }
            if (rand() % 40 == 0) { /* an early flush, as a long reindex does */
                assert_int_equal(store_fbatch_flush(b, txn, g_exists, g_stats, g_values), 0);
                model_flush(t);
            }
        }
        assert_true(store_fbatch_pending(b) <= (size_t)nops);
        if (rand() % 10 == 0) { /* aborted: nothing of it lands */
            mdb_txn_abort(txn);
        } else {
            assert_int_equal(store_fbatch_flush(b, txn, g_exists, g_stats, g_values), 0);
            model_flush(t);
            assert_int_equal(store_fbatch_pending(b), 0);
            assert_int_equal(mdb_txn_commit(txn), 0);
            memcpy(m, t, sizeof *m);
        }
        store_fbatch_free(b);
        check(m);
    }
    assert_true(next > 1000);
    size_t vals = 0;
    for (int k = 0; k < NKEYS; k++)
        for (int q = 0; q < MAXSEQ; q++)
            vals += m->vhas[k][q];
    assert_true(vals > 100);
    free(m);
    free(t);
}

/* An entry added and removed in one transaction is never written, even
 * when the removal comes first in seq order; a removal of an absent entry
 * is no error; flushing an empty batch and freeing NULL do nothing. */
static void test_cancel_and_empty(void **state)
{
    (void)state;
    model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    store_fbatch *b = store_fbatch_new();
    assert_non_null(b);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, 0, &txn), 0);
    assert_int_equal(store_fbatch_flush(b, txn, g_exists, g_stats, g_values), 0);
    assert_true(store_fbatch_exists(b, "a", 1, 10, true));
    assert_true(store_fbatch_exists(b, "a", 1, 9, true));
    assert_true(store_fbatch_exists(b, "a", 1, 10, false));
    assert_true(store_fbatch_exists(b, "a", 1, 11, false));
    assert_true(store_fbatch_stat(b, "b", 1, 1, 4));
    assert_true(store_fbatch_stat(b, "b", 1, -1, -4));
    assert_int_equal(store_fbatch_pending(b), 4);
    assert_int_equal(store_fbatch_flush(b, txn, g_exists, g_stats, g_values), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    m->has[0][9] = true;
    check(m);
    store_fbatch_free(b);
    store_fbatch_free(NULL);
    assert_int_equal(store_fbatch_pending(NULL), 0);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_random_against_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_empty, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
