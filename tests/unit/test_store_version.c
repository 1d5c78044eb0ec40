/* Unit tests for store_version: every row of the reference's versioning tables (es-versioning.md §2, §3, §5, §8). */
#include "versync/store/store_version.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static store_wparams wp(store_opkind kind, store_vtype vt, int64_t version)
{
    store_wparams w = {kind, vt, version, STORE_UNASSIGNED_SEQ_NO, STORE_UNASSIGNED_TERM, false, true};
    return w;
}

static const store_doc_state NONE = {false, false, 0, 0, 0};

static store_doc_state live(int64_t v, int64_t seq) { return (store_doc_state){true, false, v, seq, 1}; }
static store_doc_state tomb(int64_t v, int64_t seq) { return (store_doc_state){true, true, v, seq, 1}; }

/* Validation: the message list for `w`, "" when valid. */
static const char *validate(const store_wparams *w, const char *id)
{
    static char out[2048];
    store_msgs m = {BUF_INIT, 0};
    store_version_validate(w, id, id ? strlen(id) : 0, &m);
    snprintf(out, sizeof out, "%s", m.text.data ? m.text.data : "");
    store_msgs_free(&m);
    return out;
}

static void decide(const store_wparams *w, store_doc_state cur, store_decision *d)
{
    store_version_decide(w, &cur, false, d);
}

/* ---- §2 internal versioning -------------------------------------------------------- */

static void test_internal_unversioned_increments(void **state)
{
    (void)state;
    store_wparams w = wp(STORE_OP_INDEX, STORE_VT_INTERNAL, STORE_MATCH_ANY);
    store_decision d;
    decide(&w, NONE, &d);
    assert_int_equal(d.outcome, STORE_DEC_OK);
    assert_int_equal(d.new_version, 1);
    assert_int_equal(d.result, STORE_RES_CREATED);
    assert_int_equal(d.status, 201);
    decide(&w, live(4, 9), &d);
    assert_int_equal(d.new_version, 5);
    assert_int_equal(d.result, STORE_RES_UPDATED);
    assert_int_equal(d.status, 200);
    /* a remembered tombstone continues the count, and the write is a creation */
    decide(&w, tomb(7, 9), &d);
    assert_int_equal(d.new_version, 8);
    assert_int_equal(d.result, STORE_RES_CREATED);
    assert_int_equal(d.status, 201);
    assert_string_equal(validate(&w, "1"), "");
    /* past 2^63-1 the count wraps as Java's long does, without C overflow */
    decide(&w, live(INT64_MAX, 1), &d);
    assert_int_equal(d.outcome, STORE_DEC_OK);
    assert_true(d.new_version == INT64_MIN);
}

static void test_internal_version_refused_on_modern_paths(void **state)
{
    (void)state;
    store_wparams w = wp(STORE_OP_INDEX, STORE_VT_INTERNAL, 1);
    assert_string_equal(validate(&w, "1"), "1: internal versioning can not be used for optimistic concurrency control. "
                                           "Please use `if_seq_no` and `if_primary_term` instead;");
    w.kind = STORE_OP_DELETE;
    assert_string_equal(validate(&w, "1"), "1: internal versioning can not be used for optimistic concurrency control. "
                                           "Please use `if_seq_no` and `if_primary_term` instead;");
    assert_true(store_version_update_refused(true, false));
    assert_true(store_version_update_refused(false, true));
    assert_false(store_version_update_refused(false, false));
}

static void test_legacy_internal_compare_and_set(void **state)
{
    (void)state;
    store_wparams w = wp(STORE_OP_INDEX, STORE_VT_INTERNAL, 1);
    w.legacy = true;
    assert_string_equal(validate(&w, "7"), "");
    store_decision d;
    decide(&w, live(1, 0), &d);
    assert_int_equal(d.outcome, STORE_DEC_OK);
    assert_int_equal(d.new_version, 2);
    assert_int_equal(d.result, STORE_RES_UPDATED);
    decide(&w, live(2, 1), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    assert_int_equal(d.status, 409);
    assert_string_equal(d.explain, "current version [2] is different than the one provided [1]");
    decide(&w, NONE, &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    assert_string_equal(d.explain, "document does not exist (expected version [1])");
    w.kind = STORE_OP_DELETE;
    decide(&w, live(1, 0), &d);
    assert_int_equal(d.new_version, 2);
    assert_int_equal(d.result, STORE_RES_DELETED);
    /* version 0 is not a legal internal version */
    w.version = 0;
    assert_string_equal(validate(&w, "7"), "1: illegal version value [0] for version type [INTERNAL];");
}

static void test_cas_rules(void **state)
{
    (void)state;
    store_wparams w = wp(STORE_OP_INDEX, STORE_VT_INTERNAL, STORE_MATCH_ANY);
    w.if_seq_no = 3;
    w.if_primary_term = 1;
    assert_string_equal(validate(&w, "1"), "");
    store_decision d;
    decide(&w, live(2, 3), &d);
    assert_int_equal(d.outcome, STORE_DEC_OK);
    assert_int_equal(d.new_version, 3);
    decide(&w, live(2, 4), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    assert_string_equal(d.explain, "required seqNo [3], primary term [1]. current document has seqNo [4] and primary "
                                   "term [1]");
    decide(&w, NONE, &d);
    assert_string_equal(d.explain, "required seqNo [3], primary term [1]. but no document was found");
    /* a tombstone is no document for compare-and-set */
    decide(&w, tomb(2, 3), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    assert_string_equal(d.explain, "required seqNo [3], primary term [1]. but no document was found");
    w.if_primary_term = 2;
    decide(&w, live(2, 3), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    /* parameter combinations */
    store_wparams only_seq = wp(STORE_OP_INDEX, STORE_VT_INTERNAL, STORE_MATCH_ANY);
    only_seq.if_seq_no = 1;
    assert_string_equal(validate(&only_seq, "1"), "1: ifSeqNo is set, but primary term is [0];");
    store_wparams only_term = wp(STORE_OP_INDEX, STORE_VT_INTERNAL, STORE_MATCH_ANY);
    only_term.if_primary_term = 5;
    assert_string_equal(validate(&only_term, "1"), "1: ifSeqNo is unassigned, but primary term is [5];");
    store_wparams with_ext = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, 5);
    with_ext.if_seq_no = 1;
    with_ext.if_primary_term = 1;
    assert_string_equal(validate(&with_ext, "1"), "1: compare and write operations can not use versioning;");
    store_wparams create = wp(STORE_OP_CREATE, STORE_VT_INTERNAL, STORE_MATCH_ANY);
    create.if_seq_no = 1;
    create.if_primary_term = 1;
    assert_string_equal(validate(&create, "1"),
                        "1: create operations do not support compare and set. use index instead;");
}

static void test_create_rules(void **state)
{
    (void)state;
    store_wparams w = wp(STORE_OP_CREATE, STORE_VT_INTERNAL, STORE_MATCH_ANY);
    assert_string_equal(validate(&w, "1"), "");
    store_decision d;
    decide(&w, NONE, &d);
    assert_int_equal(d.new_version, 1);
    assert_int_equal(d.result, STORE_RES_CREATED);
    assert_int_equal(d.status, 201);
    decide(&w, live(3, 0), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    assert_string_equal(d.explain, "document already exists (current version [3])");
    decide(&w, tomb(3, 0), &d);
    assert_int_equal(d.outcome, STORE_DEC_OK);
    assert_int_equal(d.new_version, 4);
    store_wparams ext = wp(STORE_OP_CREATE, STORE_VT_EXTERNAL, 5);
    assert_string_equal(validate(&ext, "1"), "1: create operations only support internal versioning. use index instead;");
    store_wparams ver = wp(STORE_OP_CREATE, STORE_VT_INTERNAL, 5);
    assert_string_equal(validate(&ver, "1"), "1: create operations do not support explicit versions. use index instead;");
}

/* ---- §3 external versioning ------------------------------------------------------------ */

static void test_external_table(void **state)
{
    (void)state;
    store_wparams w = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, 5);
    store_decision d;
    /* never seen */
    decide(&w, NONE, &d);
    assert_int_equal(d.outcome, STORE_DEC_OK);
    assert_int_equal(d.new_version, 5);
    assert_int_equal(d.result, STORE_RES_CREATED);
    assert_int_equal(d.status, 201);
    /* live doc, V > C */
    decide(&w, live(4, 0), &d);
    assert_int_equal(d.new_version, 5);
    assert_int_equal(d.result, STORE_RES_UPDATED);
    assert_int_equal(d.status, 200);
    /* tombstone, V > C: created */
    decide(&w, tomb(4, 0), &d);
    assert_int_equal(d.result, STORE_RES_CREATED);
    assert_int_equal(d.status, 201);
    /* C >= V, equal included, live or tombstone */
    decide(&w, live(5, 0), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    assert_string_equal(d.explain, "current version [5] is higher or equal to the one provided [5]");
    decide(&w, live(9, 0), &d);
    assert_string_equal(d.explain, "current version [9] is higher or equal to the one provided [5]");
    decide(&w, tomb(6, 0), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    assert_string_equal(d.explain, "current version [6] is higher or equal to the one provided [5]");
}

static void test_external_validation(void **state)
{
    (void)state;
    store_wparams missing = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, STORE_MATCH_ANY);
    assert_string_equal(validate(&missing, "1"), "1: illegal version value [-3] for version type [EXTERNAL];");
    store_wparams neg = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, -7);
    assert_string_equal(validate(&neg, "1"), "1: illegal version value [-7] for version type [EXTERNAL];");
    store_wparams zero = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, 0);
    assert_string_equal(validate(&zero, "1"), "");
    store_wparams max = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, INT64_MAX);
    assert_string_equal(validate(&max, "1"), "");
    store_wparams autoid = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, 5);
    autoid.has_id = false;
    assert_string_equal(validate(&autoid, NULL), "1: an id must be provided if version type or value are set;");
    store_wparams gte_missing = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL_GTE, STORE_MATCH_ANY);
    assert_string_equal(validate(&gte_missing, "1"), "1: illegal version value [-3] for version type [EXTERNAL_GTE];");
    /* version 0 is stored as 0 and a later 0 conflicts */
    store_decision d;
    decide(&zero, NONE, &d);
    assert_int_equal(d.new_version, 0);
    decide(&zero, live(0, 0), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
}

static void test_external_gte(void **state)
{
    (void)state;
    store_wparams w = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL_GTE, 5);
    store_decision d;
    decide(&w, live(5, 0), &d);
    assert_int_equal(d.outcome, STORE_DEC_OK);
    assert_int_equal(d.new_version, 5);
    assert_int_equal(d.result, STORE_RES_UPDATED);
    decide(&w, live(6, 0), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    assert_string_equal(d.explain, "current version [6] is higher than the one provided [5]");
    decide(&w, tomb(5, 0), &d);
    assert_int_equal(d.outcome, STORE_DEC_OK);
    assert_int_equal(d.result, STORE_RES_CREATED);
}

static void test_vtype_parse(void **state)
{
    (void)state;
    store_vtype t;
    assert_true(store_vtype_parse("internal", &t) && t == STORE_VT_INTERNAL);
    assert_true(store_vtype_parse("external", &t) && t == STORE_VT_EXTERNAL);
    assert_true(store_vtype_parse("external_gt", &t) && t == STORE_VT_EXTERNAL);
    assert_true(store_vtype_parse("external_gte", &t) && t == STORE_VT_EXTERNAL_GTE);
    assert_false(store_vtype_parse("force", &t));
    assert_false(store_vtype_parse("EXTERNAL", &t));
    assert_false(store_vtype_parse("", &t));
}

/* ---- §5 deletes and tombstones ------------------------------------------------------------- */

static void test_deletes(void **state)
{
    (void)state;
    store_decision d;
    store_wparams w = wp(STORE_OP_DELETE, STORE_VT_INTERNAL, STORE_MATCH_ANY);
    decide(&w, live(3, 0), &d);
    assert_int_equal(d.new_version, 4);
    assert_int_equal(d.result, STORE_RES_DELETED);
    assert_int_equal(d.status, 200);
    /* missing: still executes, version 1, 404 not_found */
    decide(&w, NONE, &d);
    assert_int_equal(d.outcome, STORE_DEC_OK);
    assert_int_equal(d.new_version, 1);
    assert_int_equal(d.result, STORE_RES_NOT_FOUND);
    assert_int_equal(d.status, 404);
    /* unversioned delete of an externally versioned doc bumps by one (doc 44 → tombstone 45) */
    decide(&w, live(44, 0), &d);
    assert_int_equal(d.new_version, 45);
    store_wparams ext45 = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, 45);
    decide(&ext45, tomb(45, 1), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    /* external delete: strictly greater (delete/25_external_version.yml) */
    store_wparams e4 = wp(STORE_OP_DELETE, STORE_VT_EXTERNAL, 4);
    decide(&e4, live(5, 0), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    store_wparams e6 = wp(STORE_OP_DELETE, STORE_VT_EXTERNAL, 6);
    decide(&e6, live(5, 0), &d);
    assert_int_equal(d.new_version, 6);
    assert_int_equal(d.result, STORE_RES_DELETED);
    /* external delete of a missing doc reserves V */
    store_wparams e9 = wp(STORE_OP_DELETE, STORE_VT_EXTERNAL, 9);
    decide(&e9, NONE, &d);
    assert_int_equal(d.new_version, 9);
    assert_int_equal(d.result, STORE_RES_NOT_FOUND);
    assert_int_equal(d.status, 404);
    store_wparams i8 = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, 8);
    decide(&i8, tomb(9, 0), &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
    assert_string_equal(d.explain, "current version [9] is higher or equal to the one provided [8]");
}

static void test_tombstone_expiry(void **state)
{
    (void)state;
    /* verstore keeps tombstones forever by default */
    assert_true(store_version_tombstone_live(0, INT64_MAX / 2, -1));
    /* index.gc_deletes honoured: 60 s */
    assert_true(store_version_tombstone_live(1000, 60999, 60000));
    assert_false(store_version_tombstone_live(1000, 61000, 60000));
    assert_false(store_version_tombstone_live(1000, 1000, 0));
    /* an expired tombstone is "never seen": a stale external write resurrects (created) */
    store_wparams w = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, 3);
    store_decision d;
    decide(&w, NONE, &d);
    assert_int_equal(d.result, STORE_RES_CREATED);
}

/* ---- update ------------------------------------------------------------------------------- */

static void test_update_rules(void **state)
{
    (void)state;
    store_wparams w = wp(STORE_OP_UPDATE, STORE_VT_INTERNAL, STORE_MATCH_ANY);
    store_decision d;
    store_doc_state cur = live(2, 5);
    store_version_decide(&w, &cur, false, &d);
    assert_int_equal(d.outcome, STORE_DEC_OK);
    assert_int_equal(d.new_version, 3);
    assert_int_equal(d.result, STORE_RES_UPDATED);
    store_version_decide(&w, &NONE, false, &d);
    assert_int_equal(d.outcome, STORE_DEC_DOC_MISSING);
    assert_int_equal(d.status, 404);
    store_version_decide(&w, &NONE, true, &d);
    assert_int_equal(d.outcome, STORE_DEC_OK);
    assert_int_equal(d.result, STORE_RES_CREATED);
    assert_int_equal(d.status, 201);
    store_doc_state t = tomb(4, 1);
    store_version_decide(&w, &t, true, &d);
    assert_int_equal(d.new_version, 5);
    /* update + if_seq_no on a missing doc: 404, not 409 */
    w.if_seq_no = 1;
    w.if_primary_term = 1;
    store_version_decide(&w, &NONE, true, &d);
    assert_int_equal(d.outcome, STORE_DEC_DOC_MISSING);
    store_version_decide(&w, &cur, false, &d);
    assert_int_equal(d.outcome, STORE_DEC_CONFLICT);
}

/* ---- §8 reads ------------------------------------------------------------------------------ */

static void test_read_versions(void **state)
{
    (void)state;
    char ex[200];
    store_doc_state cur = live(2, 0);
    assert_false(store_version_read_conflict(STORE_MATCH_ANY, &cur, ex, sizeof ex));
    assert_false(store_version_read_conflict(2, &cur, ex, sizeof ex));
    assert_true(store_version_read_conflict(1, &cur, ex, sizeof ex));
    assert_string_equal(ex, "current version [2] is different than the one provided [1]");
    assert_true(store_version_read_conflict(10, &cur, ex, sizeof ex));
    assert_false(store_version_read_conflict(10, &NONE, ex, sizeof ex));
}

static void test_id_length_and_message_numbering(void **state)
{
    (void)state;
    char id[600];
    memset(id, 'i', 513);
    id[513] = '\0';
    store_wparams w = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, -1);
    const char *m = validate(&w, id);
    assert_non_null(strstr(m, "1: illegal version value [-1] for version type [EXTERNAL];2: id ["));
    assert_non_null(strstr(m, "] is too long, must be no longer than 512 bytes but was: 513;"));
    id[512] = '\0';
    store_wparams ok = wp(STORE_OP_INDEX, STORE_VT_EXTERNAL, 1);
    assert_string_equal(validate(&ok, id), "");
    assert_string_equal(store_result_name(STORE_RES_NOT_FOUND), "not_found");
    assert_string_equal(store_result_name(STORE_RES_NOOP), "noop");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_internal_unversioned_increments),
        cmocka_unit_test(test_internal_version_refused_on_modern_paths),
        cmocka_unit_test(test_legacy_internal_compare_and_set),
        cmocka_unit_test(test_cas_rules),
        cmocka_unit_test(test_create_rules),
        cmocka_unit_test(test_external_table),
        cmocka_unit_test(test_external_validation),
        cmocka_unit_test(test_external_gte),
        cmocka_unit_test(test_vtype_parse),
        cmocka_unit_test(test_deletes),
        cmocka_unit_test(test_tombstone_expiry),
        cmocka_unit_test(test_update_rules),
        cmocka_unit_test(test_read_versions),
        cmocka_unit_test(test_id_length_and_message_numbering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
