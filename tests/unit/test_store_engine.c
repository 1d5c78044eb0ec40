/* Unit tests for store_engine: writes through the group-commit writer, durable tombstones across reopen, gc_deletes, long ids, index admin. */
#include "versync/store/store_engine.h"
#include "versync/common/log.h"

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

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_store_engine.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    log_init("test", LOG_ERROR, LOG_FORMAT_TEXT);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static store_engine *open_engine(bool durable)
{
    store_engine *e = NULL;
    char err[256];
    store_engine_opts o = {.dir = g_dir, .durable = durable, .map_size = (size_t)64 << 20};
    assert_true(store_engine_open(&o, &e, err, sizeof err));
    return e;
}

static store_op ext_op(store_opkind kind, const char *index, const char *id, int64_t v, const char *src)
{
    store_op op;
    memset(&op, 0, sizeof op);
    op.w = (store_wparams){kind, STORE_VT_EXTERNAL, v, STORE_UNASSIGNED_SEQ_NO, STORE_UNASSIGNED_TERM, false, true};
    op.index = index;
    op.id = id;
    op.id_len = strlen(id);
    op.src = src;
    op.src_len = src ? strlen(src) : 0;
    return op;
}

static void run(store_engine *e, store_op *ops, size_t n)
{
    store_job job;
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_DOCS;
    job.ops = ops;
    job.nops = n;
    assert_int_equal(store_engine_execute(e, &job), 0);
}

/* 1 found live, 0 absent/tombstone; fills version and source. */
static int get(store_engine *e, const char *index, const char *id, size_t id_len, int64_t *version, char *src,
               size_t srcsz)
{
    store_rtxn *r = store_engine_read_begin(e);
    assert_non_null(r);
    store_index_meta m;
    int rc = store_engine_index_get(r, index, &m, NULL, NULL);
    if (rc == 1) {
        store_doc_view v;
        rc = store_engine_doc_get(r, &m, id, id_len, &v);
        if (rc == 1 && v.st.deleted)
            rc = 0;
        if (rc == 1) {
            *version = v.st.version;
            snprintf(src, srcsz, "%.*s", (int)v.src_len, v.src);
        }
    }
    store_engine_read_end(r);
    return rc;
}

static void test_bulk_is_one_step_and_seq_nos(void **state)
{
    (void)state;
    store_engine *e = open_engine(true);
    store_op ops[4] = {
        ext_op(STORE_OP_INDEX, "i", "1", 5, "{\"a\":1}"),
        ext_op(STORE_OP_DELETE, "i", "2", 3, NULL),
        ext_op(STORE_OP_INDEX, "i", "1", 4, "{\"a\":2}"),
        ext_op(STORE_OP_INDEX, "i", "1", 6, "{\"a\":3}"),
    };
    run(e, ops, 4);
    assert_int_equal(ops[0].err, STORE_OPERR_NONE);
    assert_int_equal(ops[0].seq_no, 0);
    assert_int_equal(ops[0].dec.status, 201);
    assert_int_equal(ops[1].err, STORE_OPERR_NONE);
    assert_int_equal(ops[1].dec.result, STORE_RES_NOT_FOUND);
    assert_int_equal(ops[1].seq_no, 1);
    assert_int_equal(ops[2].err, STORE_OPERR_CONFLICT);
    assert_string_equal(ops[2].dec.explain, "current version [5] is higher or equal to the one provided [4]");
    assert_int_equal(ops[3].seq_no, 2); /* the conflict consumed no seq_no */
    assert_int_equal(ops[3].dec.result, STORE_RES_UPDATED);
    assert_int_equal(strlen(ops[0].uuid), 22);
    int64_t v;
    char src[64];
    assert_int_equal(get(e, "i", "1", 1, &v, src, sizeof src), 1);
    assert_int_equal(v, 6);
    assert_string_equal(src, "{\"a\":3}");
    for (int i = 0; i < 4; i++)
        store_op_clear(&ops[i]);
    store_engine_close(e);
}

static void test_tombstones_survive_reopen(void **state)
{
    (void)state;
    store_engine *e = open_engine(false);
    store_op ops[2] = {ext_op(STORE_OP_INDEX, "t", "x", 10, "{}"), ext_op(STORE_OP_DELETE, "t", "x", 20, NULL)};
    run(e, ops, 2);
    assert_int_equal(ops[1].dec.result, STORE_RES_DELETED);
    store_engine_close(e);
    e = open_engine(true);
    store_op late = ext_op(STORE_OP_INDEX, "t", "x", 15, "{\"stale\":true}");
    run(e, &late, 1);
    assert_int_equal(late.err, STORE_OPERR_CONFLICT);
    assert_string_equal(late.dec.explain, "current version [20] is higher or equal to the one provided [15]");
    store_op newer = ext_op(STORE_OP_INDEX, "t", "x", 21, "{}");
    run(e, &newer, 1);
    assert_int_equal(newer.dec.result, STORE_RES_CREATED);
    assert_int_equal(newer.seq_no, 2);
    store_engine_close(e);
}

static void test_gc_deletes_honoured(void **state)
{
    (void)state;
    store_engine *e = open_engine(true);
    store_job job;
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_CREATE_INDEX;
    job.index = "gc";
    job.settings = "{\"index\":{\"gc_deletes\":\"0s\"}}";
    job.settings_len = strlen(job.settings);
    job.gc_deletes_ms = 0;
    assert_int_equal(store_engine_execute(e, &job), 0);
    assert_int_equal(store_engine_execute(e, &job), 1); /* exists */
    store_op ops[2] = {ext_op(STORE_OP_INDEX, "gc", "d", 10, "{}"), ext_op(STORE_OP_DELETE, "gc", "d", 11, NULL)};
    run(e, ops, 2);
    /* with gc_deletes 0 the tombstone no longer protects: a stale write resurrects */
    store_op stale = ext_op(STORE_OP_INDEX, "gc", "d", 5, "{}");
    run(e, &stale, 1);
    assert_int_equal(stale.err, STORE_OPERR_NONE);
    assert_int_equal(stale.dec.result, STORE_RES_CREATED);
    assert_int_equal(stale.version, 5);
    store_rtxn *r = store_engine_read_begin(e);
    store_index_meta m;
    buf settings = BUF_INIT;
    assert_int_equal(store_engine_index_get(r, "gc", &m, &settings, NULL), 1);
    assert_int_equal(m.gc_deletes_ms, 0);
    assert_int_equal(m.docs_count, 1);
    assert_string_equal(settings.data, "{\"index\":{\"gc_deletes\":\"0s\"}}");
    store_engine_read_end(r);
    buf_free(&settings);
    store_engine_close(e);
}

static int aliases(store_engine *e, const store_alias_action *acts, size_t n, store_alias_err *err)
{
    store_job job;
    memset(&job, 0, sizeof job);
    job.kind = STORE_JOB_ALIASES;
    job.actions = acts;
    job.nactions = n;
    int rc = store_engine_execute(e, &job);
    *err = job.alias_err;
    return rc;
}

/* The concrete index `name` resolves to for a read or write, "" when none, "-2" when ambiguous. */
static void resolve(store_engine *e, const char *name, bool write, char *out, size_t outsz)
{
    store_rtxn *r = store_engine_read_begin(e);
    assert_non_null(r);
    store_index_meta m;
    int rc = store_engine_index_resolve(r, name, write, &m, NULL, NULL);
    snprintf(out, outsz, "%s", rc == 1 ? m.name : rc == -2 ? "-2" : "");
    store_engine_read_end(r);
}

static void test_aliases_atomic_and_durable(void **state)
{
    (void)state;
    store_engine *e = open_engine(true);
    store_op ops[2] = {ext_op(STORE_OP_INDEX, "a1", "1", 1, "{}"), ext_op(STORE_OP_INDEX, "a2", "1", 1, "{}")};
    run(e, ops, 2);
    store_alias_err err;
    char got[300];
    store_alias_action add = {STORE_ALIAS_ADD, "a1", "al", STORE_ALIAS_WRITE_UNSET, false, NULL};
    assert_int_equal(aliases(e, &add, 1, &err), 0);
    resolve(e, "al", false, got, sizeof got);
    assert_string_equal(got, "a1");
    /* all or nothing: the second action fails, so the first is not applied */
    store_alias_action bad[2] = {{STORE_ALIAS_ADD, "a2", "al", STORE_ALIAS_WRITE_UNSET, false, NULL},
                                 {STORE_ALIAS_REMOVE, "a2", "nosuch", STORE_ALIAS_WRITE_UNSET, false, NULL}};
    assert_int_equal(aliases(e, bad, 2, &err), 1);
    assert_int_equal(err, STORE_ALIASERR_ALIAS_MISSING);
    resolve(e, "al", false, got, sizeof got);
    assert_string_equal(got, "a1");
    /* must_exist: false: removing an alias that is not there is no error */
    store_alias_action lenient = {STORE_ALIAS_REMOVE, "a2", "nosuch", STORE_ALIAS_WRITE_UNSET, true, NULL};
    assert_int_equal(aliases(e, &lenient, 1, &err), 0);
    /* two write indices are refused and change nothing */
    store_alias_action w2[2] = {{STORE_ALIAS_ADD, "a1", "al", 1, false, NULL}, {STORE_ALIAS_ADD, "a2", "al", 1, false, NULL}};
    assert_int_equal(aliases(e, w2, 2, &err), 1);
    assert_int_equal(err, STORE_ALIASERR_MANY_WRITE);
    resolve(e, "al", true, got, sizeof got);
    assert_string_equal(got, "a1");
    /* two indices, no write index: reads and writes cannot resolve */
    store_alias_action both = {STORE_ALIAS_ADD, "a2", "al", STORE_ALIAS_WRITE_UNSET, false, NULL};
    assert_int_equal(aliases(e, &both, 1, &err), 0);
    resolve(e, "al", false, got, sizeof got);
    assert_string_equal(got, "-2");
    store_op w = ext_op(STORE_OP_INDEX, "al", "2", 1, "{}");
    run(e, &w, 1);
    assert_int_equal(w.err, STORE_OPERR_NO_WRITE_INDEX);
    store_alias_action flag = {STORE_ALIAS_ADD, "a2", "al", 1, false, NULL};
    assert_int_equal(aliases(e, &flag, 1, &err), 0);
    store_op_clear(&w);
    w = ext_op(STORE_OP_INDEX, "al", "2", 1, "{}");
    run(e, &w, 1);
    assert_int_equal(w.err, STORE_OPERR_NONE);
    assert_string_equal(w.index, "a2");
    /* names: an alias may not be an index's name, nor the other way round */
    store_alias_action clash = {STORE_ALIAS_ADD, "a1", "a2", STORE_ALIAS_WRITE_UNSET, false, NULL};
    assert_int_equal(aliases(e, &clash, 1, &err), 1);
    assert_int_equal(err, STORE_ALIASERR_NAME_IS_INDEX);
    store_job cj;
    memset(&cj, 0, sizeof cj);
    cj.kind = STORE_JOB_CREATE_INDEX;
    cj.index = "al";
    cj.gc_deletes_ms = STORE_GC_UNSET;
    assert_int_equal(store_engine_execute(e, &cj), 2);
    /* durable, and dropped with the index */
    store_engine_close(e);
    e = open_engine(true);
    resolve(e, "al", true, got, sizeof got);
    assert_string_equal(got, "a2");
    store_alias_action drop = {STORE_ALIAS_REMOVE_INDEX, "a2", NULL, STORE_ALIAS_WRITE_UNSET, false, NULL};
    assert_int_equal(aliases(e, &drop, 1, &err), 0);
    resolve(e, "al", false, got, sizeof got);
    assert_string_equal(got, "a1");
    resolve(e, "a2", false, got, sizeof got);
    assert_string_equal(got, "");
    store_engine_close(e);
}

typedef struct opts_seen {
    char opts[128];
    int w, rows;
} opts_seen;

static bool see_opts(const char *alias, const char *index, int w, const char *opts, void *arg)
{
    opts_seen *s = arg;
    (void)index;
    if (strcmp(alias, "fa") == 0) {
        s->rows++;
        s->w = w;
        snprintf(s->opts, sizeof s->opts, "%s", opts ? opts : "(none)");
    }
    return true;
}

static opts_seen alias_opts(store_engine *e)
{
    opts_seen s = {"", 0, 0};
    store_rtxn *r = store_engine_read_begin(e);
    assert_non_null(r);
    assert_true(store_engine_alias_each(r, see_opts, &s));
    store_engine_read_end(r);
    return s;
}

/* An alias's options (filter, routing, is_hidden) are kept with its row,
 * durably, replaced by a later add and absent when the add has none. */
static void test_alias_options_kept(void **state)
{
    (void)state;
    store_engine *e = open_engine(true);
    store_op op = ext_op(STORE_OP_INDEX, "o1", "1", 1, "{}");
    run(e, &op, 1);
    store_alias_err err;
    const char *text = "{\"filter\":{\"term\":{\"u\":\"k\"}},\"index_routing\":\"1\"}";
    store_alias_action add = {STORE_ALIAS_ADD, "o1", "fa", 1, false, text};
    assert_int_equal(aliases(e, &add, 1, &err), 0);
    store_engine_close(e);
    e = open_engine(true);
    opts_seen s = alias_opts(e);
    assert_int_equal(s.rows, 1);
    assert_int_equal(s.w, 1);
    assert_string_equal(s.opts, text);
    char got[300];
    resolve(e, "fa", true, got, sizeof got);
    assert_string_equal(got, "o1");
    store_alias_action plain = {STORE_ALIAS_ADD, "o1", "fa", STORE_ALIAS_WRITE_UNSET, false, NULL};
    assert_int_equal(aliases(e, &plain, 1, &err), 0);
    s = alias_opts(e);
    assert_int_equal(s.w, STORE_ALIAS_WRITE_UNSET);
    assert_string_equal(s.opts, "(none)");
    store_engine_close(e);
}

static void test_long_ids_and_missing_index(void **state)
{
    (void)state;
    store_engine *e = open_engine(true);
    char a[513], b[513];
    memset(a, 'q', 512);
    memcpy(b, a, 512);
    b[511] = 'r'; /* same first 481 bytes: distinguished by the hash */
    store_op ops[2] = {ext_op(STORE_OP_INDEX, "l", "", 1, "{\"a\":1}"), ext_op(STORE_OP_INDEX, "l", "", 1, "{\"b\":1}")};
    ops[0].id = a, ops[0].id_len = 512;
    ops[1].id = b, ops[1].id_len = 512;
    run(e, ops, 2);
    assert_int_equal(ops[1].dec.result, STORE_RES_CREATED);
    int64_t v;
    char src[64];
    assert_int_equal(get(e, "l", a, 512, &v, src, sizeof src), 1);
    assert_string_equal(src, "{\"a\":1}");
    assert_int_equal(get(e, "l", b, 512, &v, src, sizeof src), 1);
    assert_string_equal(src, "{\"b\":1}");
    /* a plain delete does not create an index */
    store_op del = ext_op(STORE_OP_DELETE, "nosuch", "1", STORE_MATCH_ANY, NULL);
    del.w.vtype = STORE_VT_INTERNAL;
    run(e, &del, 1);
    assert_int_equal(del.err, STORE_OPERR_INDEX_MISSING);
    /* deleting an index drops its documents; a new index of that name starts over */
    store_job dj;
    memset(&dj, 0, sizeof dj);
    dj.kind = STORE_JOB_DELETE_INDEX;
    dj.index = "l";
    assert_int_equal(store_engine_execute(e, &dj), 0);
    assert_int_equal(store_engine_execute(e, &dj), 1);
    assert_int_equal(get(e, "l", a, 512, &v, src, sizeof src), 0);
    store_op again = ext_op(STORE_OP_INDEX, "l", "x", 1, "{}");
    run(e, &again, 1);
    assert_int_equal(again.seq_no, 0);
    store_engine_close(e);
}

static void test_updates_merge_and_noop(void **state)
{
    (void)state;
    store_engine *e = open_engine(true);
    store_op put = ext_op(STORE_OP_INDEX, "u", "1", 1, "{\"a\":{\"b\":1,\"c\":2},\"d\":[1]}");
    run(e, &put, 1);
    store_update_spec spec = {cJSON_Parse("{\"a\":{\"b\":5},\"e\":true}"), NULL, false, true, NULL};
    store_op up;
    memset(&up, 0, sizeof up);
    up.w = (store_wparams){STORE_OP_UPDATE, STORE_VT_INTERNAL, STORE_MATCH_ANY, STORE_UNASSIGNED_SEQ_NO, 0, false, true};
    up.index = "u";
    up.id = "1";
    up.id_len = 1;
    up.upd = &spec;
    run(e, &up, 1);
    assert_int_equal(up.dec.result, STORE_RES_UPDATED);
    assert_int_equal(up.version, 2);
    assert_string_equal(up.new_src, "{\"a\":{\"b\":5,\"c\":2},\"d\":[1],\"e\":true}");
    run(e, &up, 1);
    assert_int_equal(up.dec.result, STORE_RES_NOOP);
    assert_int_equal(up.version, 2);
    assert_int_equal(up.seq_no, 1);
    up.id = "2";
    run(e, &up, 1);
    assert_int_equal(up.err, STORE_OPERR_DOC_MISSING);
    spec.doc_as_upsert = true;
    run(e, &up, 1);
    assert_int_equal(up.dec.result, STORE_RES_CREATED);
    assert_int_equal(up.dec.status, 201);
    store_op_clear(&up);
    cJSON_Delete(spec.doc);
    store_engine_close(e);
}

static void test_map_grows_when_full(void **state)
{
    (void)state;
    store_engine *e = NULL;
    char err[256];
    store_engine_opts o = {.dir = g_dir, .durable = false, .map_size = (size_t)256 << 10};
    assert_true(store_engine_open(&o, &e, err, sizeof err));
    static char src[10001];
    memset(src, 'x', sizeof src - 1); /* {"x":"xxx…"}: a document, as the API passes on */
    memcpy(src, "{\"x\":\"", 6);
    memcpy(src + sizeof src - 3, "\"}", 2);
    enum { N = 300 };
    static store_op ops[N];
    static char ids[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", i);
        ops[i] = ext_op(STORE_OP_INDEX, "big", ids[i], 1, src);
    }
    run(e, ops, N); /* about 3 MB in one transaction: the map must grow */
    for (int i = 0; i < N; i++)
        assert_int_equal(ops[i].err, STORE_OPERR_NONE);
    int64_t v;
    char out[16];
    assert_int_equal(get(e, "big", "299", 3, &v, out, sizeof out), 1);
    store_engine_close(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bulk_is_one_step_and_seq_nos, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstones_survive_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_deletes_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aliases_atomic_and_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alias_options_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_ids_and_missing_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates_merge_and_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_grows_when_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
