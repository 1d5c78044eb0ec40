/* Unit tests of bridge_wal_decode: pgoutput messages (protocol 1) decoded, and truncated or
 * hostile ones refused without reading past their end. */
#include "versync/bridge/wal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

typedef struct mb {
    char b[512];
    size_t n;
} mb;

static void u8(mb *m, unsigned v) { m->b[m->n++] = (char)v; }
static void un(mb *m, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--)
        m->b[m->n++] = (char)((v >> (8 * i)) & 0xff);
}
static void str(mb *m, const char *s)
{
    size_t l = strlen(s) + 1;
    memcpy(m->b + m->n, s, l);
    m->n += l;
}
static void text(mb *m, const char *s)
{
    u8(m, 't');
    un(m, strlen(s), 4);
    memcpy(m->b + m->n, s, strlen(s));
    m->n += strlen(s);
}

static char err[256];

static void test_begin_commit(void **state)
{
    (void)state;
    mb m = {0};
    wal_msg w;
    u8(&m, 'B');
    un(&m, 0x1234567890ULL, 8);
    un(&m, 42, 8);
    un(&m, 777, 4);
    assert_true(wal_decode(m.b, m.n, &w, err, sizeof err));
    assert_int_equal(w.kind, WAL_MSG_BEGIN);
    assert_true(w.lsn == 0x1234567890ULL);
    assert_int_equal(w.xid, 777);
    wal_msg_clear(&w);
    mb c = {0};
    u8(&c, 'C');
    u8(&c, 0);
    un(&c, 100, 8);
    un(&c, 148, 8);
    un(&c, 5, 8);
    assert_true(wal_decode(c.b, c.n, &w, err, sizeof err));
    assert_int_equal(w.kind, WAL_MSG_COMMIT);
    assert_true(w.lsn == 100 && w.end_lsn == 148 && w.ts == 5);
    wal_msg_clear(&w);
}

static void relation(mb *m)
{
    u8(m, 'R');
    un(m, 16384, 4);
    str(m, "public");
    str(m, "items");
    u8(m, 'd');
    un(m, 2, 2);
    u8(m, 1);
    str(m, "id");
    un(m, 23, 4);
    un(m, (uint32_t)-1, 4);
    u8(m, 0);
    str(m, "name");
    un(m, 25, 4);
    un(m, (uint32_t)-1, 4);
}

static void test_relation_and_changes(void **state)
{
    (void)state;
    mb m = {0};
    wal_msg w;
    relation(&m);
    assert_true(wal_decode(m.b, m.n, &w, err, sizeof err));
    assert_int_equal(w.kind, WAL_MSG_RELATION);
    assert_string_equal(w.nspname, "public");
    assert_string_equal(w.relname, "items");
    assert_int_equal(w.natts, 2);
    assert_true(w.atts[0].key);
    assert_false(w.atts[1].key);
    assert_string_equal(w.atts[1].name, "name");
    wal_msg_clear(&w);

    /* An update with the old key ('K') and a TOASTed value left out ('u'). */
    mb u = {0};
    u8(&u, 'U');
    un(&u, 16384, 4);
    u8(&u, 'K');
    un(&u, 2, 2);
    text(&u, "7");
    u8(&u, 'n');
    u8(&u, 'N');
    un(&u, 2, 2);
    text(&u, "107");
    u8(&u, 'u');
    assert_true(wal_decode(u.b, u.n, &w, err, sizeof err));
    assert_int_equal(w.kind, WAL_MSG_UPDATE);
    assert_int_equal(w.old_kind, 'K');
    assert_int_equal(w.old_tuple.cols[0].len, 1);
    assert_memory_equal(w.old_tuple.cols[0].data, "7", 1);
    assert_int_equal(w.new_tuple.cols[1].kind, 'u');
    assert_memory_equal(w.new_tuple.cols[0].data, "107", 3);
    wal_msg_clear(&w);

    /* Every cut of it is refused, never read past. */
    for (size_t n = 1; n < u.n; n++) {
        assert_false(wal_decode(u.b, n, &w, err, sizeof err));
        assert_non_null(strstr(err, "malformed pgoutput 'U' message"));
    }

    mb t = {0};
    u8(&t, 'T');
    un(&t, 2, 4);
    u8(&t, 0);
    un(&t, 16384, 4);
    un(&t, 16390, 4);
    assert_true(wal_decode(t.b, t.n, &w, err, sizeof err));
    assert_int_equal(w.nrelids, 2);
    assert_int_equal(w.relids[1], 16390);
    wal_msg_clear(&w);
    /* A count larger than the message holds. */
    mb h = {0};
    u8(&h, 'T');
    un(&h, 0x7fffffff, 4);
    u8(&h, 0);
    assert_false(wal_decode(h.b, h.n, &w, err, sizeof err));

    mb d = {0};
    u8(&d, 'D');
    un(&d, 16384, 4);
    u8(&d, 'X');
    assert_false(wal_decode(d.b, d.n, &w, err, sizeof err));
}

static void test_message_and_lsn(void **state)
{
    (void)state;
    mb m = {0};
    wal_msg w;
    u8(&m, 'M');
    u8(&m, 0);
    un(&m, 0x16B374D848ULL, 8);
    str(&m, "versync");
    un(&m, 4, 4);
    memcpy(m.b + m.n, "once", 4);
    m.n += 4;
    assert_true(wal_decode(m.b, m.n, &w, err, sizeof err));
    assert_int_equal(w.kind, WAL_MSG_MESSAGE);
    assert_string_equal(w.prefix, "versync");
    assert_int_equal(w.content_len, 4);
    wal_msg_clear(&w);
    uint64_t l;
    assert_true(wal_parse_lsn("16/B374D848", &l));
    assert_true(l == 0x16B374D848ULL);
    char out[32];
    wal_format_lsn(l, out, sizeof out);
    assert_string_equal(out, "16/B374D848");
    assert_false(wal_parse_lsn("16/B374D848x", &l));
    assert_false(wal_parse_lsn("nope", &l));
    mb o = {0};
    u8(&o, 'Y');
    assert_true(wal_decode(o.b, o.n, &w, err, sizeof err));
    assert_int_equal(w.kind, WAL_MSG_OTHER);
    wal_msg_clear(NULL);
}

/* The retry messages of `versync deadletters retry`: ours parsed, another schema's skipped, a
 * malformed one refused, a table that is not "wal" in the config flagged. */
static void test_retry_parse(void **state)
{
    (void)state;
    cfg_table t[2] = {{0}};
    t[0].ident = "public.items";
    t[0].capture = CFG_CAPTURE_WAL;
    t[1].ident = "public.plain";
    cfg c = {0};
    c.schema = "versync";
    c.tables = t;
    c.ntables = 2;
    wal_retry r;
    const char *ok = "{\"schema\":\"versync\",\"seq\":7,\"table\":\"public.items\",\"key\":[\"a|b\",null],"
                     "\"op\":\"D\",\"attempts\":3}";
    assert_int_equal(wal_retry_parse(&c, ok, strlen(ok), &r, err, sizeof err), 1);
    assert_int_equal(r.table, 0);
    assert_true(r.seq == 7);
    assert_int_equal(r.op, 'D');
    assert_int_equal(r.attempts, 3);
    assert_int_equal(r.nkey, 2);
    assert_string_equal(r.key[0], "a|b");
    assert_null(r.key[1]);
    wal_retry_clear(&r);
    const char *other = "{\"schema\":\"other\",\"seq\":7,\"table\":\"public.items\",\"key\":[],\"op\":\"U\"}";
    assert_int_equal(wal_retry_parse(&c, other, strlen(other), &r, err, sizeof err), 0);
    wal_retry_clear(&r);
    const char *plain = "{\"schema\":\"versync\",\"seq\":1,\"table\":\"public.plain\",\"key\":[\"x\"],\"op\":\"U\"}";
    assert_int_equal(wal_retry_parse(&c, plain, strlen(plain), &r, err, sizeof err), 1);
    assert_int_equal(r.table, -1);
    wal_retry_clear(&r);
    const char *bad[] = {"", "{", "[]", "{\"schema\":\"versync\"}",
                         "{\"schema\":\"versync\",\"seq\":1,\"table\":\"t\",\"key\":[1],\"op\":\"U\"}",
                         "{\"schema\":\"versync\",\"seq\":1,\"table\":\"t\",\"key\":[],\"op\":\"UU\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(wal_retry_parse(&c, bad[i], strlen(bad[i]), &r, err, sizeof err), -1);
        wal_retry_clear(&r);
    }
    wal_retry_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_begin_commit),
        cmocka_unit_test(test_relation_and_changes),
        cmocka_unit_test(test_message_and_lsn),
        cmocka_unit_test(test_retry_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
