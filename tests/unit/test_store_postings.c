/* Unit tests for store_postings' skipping cursor: advance across blocks cut by count and by bytes, exact
 * positions, terms side by side, how few blocks a skip decodes, and the shallow walk over block headers
 * whose bounds no posting's BM25 score may exceed. */
#include "versync/common/log.h"
#include "versync/store/store_postings.h"
#include "versync/store/store_search_int.h"

#include <errno.h>
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
static store_postings_dbs g_dbs;

/* "fat" postings carry this many positions, far apart (two-byte varints):
 * a few fill STORE_POSTINGS_BLOCK_BYTES, so its blocks are cut by size. */
#define FAT_TF 150

static uint32_t fat_pos(int64_t seq, uint32_t j)
{
    return (uint32_t)seq + j * 1000;
}

static size_t recent_blocks(MDB_txn *txn)
{
    MDB_stat st;
    assert_int_equal(mdb_stat(txn, g_dbs.recent, &st), 0);
    return st.ms_entries;
}

static uint32_t mix_tf(int64_t s) { return 1 + (uint32_t)((s * 31) % 5); }
static uint32_t mix_len(int64_t s) { return 1 + (uint32_t)((s * 13) % 300); }

static int setup(void **state)
{
    (void)state;
    log_init("test", LOG_ERROR, LOG_FORMAT_TEXT);
    snprintf(g_dir, sizeof g_dir, "/tmp/test_store_postings.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    assert_int_equal(mdb_env_create(&g_env), 0);
    mdb_env_set_maxdbs(g_env, 4);
    mdb_env_set_mapsize(g_env, (size_t)64 << 20);
    assert_int_equal(mdb_env_open(g_env, g_dir, MDB_NOSYNC, 0644), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "terms", MDB_CREATE, &g_dbs.terms), 0);
    assert_int_equal(mdb_dbi_open(txn, "blocks", MDB_CREATE, &g_dbs.blocks), 0);
    assert_int_equal(mdb_dbi_open(txn, "recent", MDB_CREATE, &g_dbs.recent), 0);
    store_pbatch *b = store_pbatch_new();
    assert_non_null(b);
    uint32_t pos[FAT_TF];
    /* "a": one posting before the others' ids; "thin": 300 postings (even
     * seqs 2..600), blocks cut at 128; "fat": seqs 10, 20, … 1000; "z" after. */
    uint32_t one = 7;
    assert_true(store_pbatch_put(b, "a", 1, 5, true, 1, 3, &one));
    for (int64_t s = 2; s <= 600; s += 2) {
        uint32_t p = (uint32_t)s;
        assert_true(store_pbatch_put(b, "thin", 4, s, true, 1, 10, &p));
    }
    for (int64_t s = 10; s <= 1000; s += 10) {
        for (uint32_t j = 0; j < FAT_TF; j++)
            pos[j] = fat_pos(s, j);
        assert_true(store_pbatch_put(b, "fat", 3, s, true, FAT_TF, 2 * FAT_TF, pos));
    }
    /* "mix": seqs 1000..4000 with gaps, tf 1..5 and lengths 1..300 varying
     * independently, so every block's bound comes from different postings */
    for (int64_t s = 1000; s <= 4000; s += 1 + (s * 7) % 4) {
        uint32_t tf = mix_tf(s);
        for (uint32_t j = 0; j < tf; j++)
            pos[j] = j * 2;
        assert_true(store_pbatch_put(b, "mix", 3, s, true, tf, mix_len(s), pos));
    }
    assert_true(store_pbatch_put(b, "z", 1, 1, true, 1, 3, &one));
    assert_int_equal(store_pbatch_flush(b, txn, &g_dbs), 0);
    /* all of it into the older level, where the cursor tests below count blocks */
    uint64_t next = 0;
    for (int i = 0; i < 20 && recent_blocks(txn); i++)
        assert_int_equal(store_postings_compact(b, txn, &g_dbs, 0, &next), 0);
    assert_int_equal(recent_blocks(txn), 0);
    store_pbatch_free(b);
    assert_int_equal(mdb_txn_commit(txn), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mdb_env_close(g_env);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static size_t count_level_blocks(MDB_txn *txn, MDB_dbi dbi, const char *term)
{
    MDB_val k = {strlen(term), (void *)term}, v;
    assert_int_equal(mdb_get(txn, g_dbs.terms, &k, &v), 0);
    unsigned char id[8];
    memcpy(id, v.mv_data, 8);
    MDB_cursor *c;
    assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
    unsigned char kb[16] = {0};
    memcpy(kb, id, 8);
    MDB_val bk = {16, kb}, bv;
    size_t n = 0;
    for (int rc = mdb_cursor_get(c, &bk, &bv, MDB_SET_RANGE); rc == 0 && memcmp(bk.mv_data, id, 8) == 0;
         rc = mdb_cursor_get(c, &bk, &bv, MDB_NEXT))
        n++;
    mdb_cursor_close(c);
    return n;
}

static size_t count_blocks(MDB_txn *txn, const char *term)
{
    return count_level_blocks(txn, g_dbs.blocks, term);
}

static void test_cursor_thin(void **state)
{
    (void)state;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(count_blocks(txn, "thin"), 3); /* 128 + 128 + 44 */
    store_pcursor *c;
    int64_t df;
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "thin", 4, &c, &df), 0);
    assert_non_null(c);
    assert_int_equal(df, 300);
    store_posting p;
    /* a walk by next (seq + 1) sees every posting once, in order, and decodes each block once */
    int64_t want = 2, seen = 0;
    for (int64_t t = 0; store_pcursor_advance(c, t, &p) == 1; t = p.seq + 1) {
        assert_int_equal(p.seq, want);
        assert_int_equal(p.tf, 1);
        assert_int_equal(p.pos[0], (uint32_t)p.seq);
        want += 2;
        seen++;
    }
    assert_int_equal(seen, 300);
    assert_int_equal(store_pcursor_blocks_read(c), 3);
    assert_int_equal(store_pcursor_advance(c, 0, &p), 0); /* exhausted stays exhausted */
    store_pcursor_close(c);

    /* skips: an odd target lands on the next even seq; the block boundary
     * (seq 256 ends the first block, 258 starts the second) in both directions */
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "thin", 4, &c, &df), 0);
    assert_int_equal(store_pcursor_advance(c, 255, &p), 1);
    assert_int_equal(p.seq, 256);
    assert_int_equal(store_pcursor_blocks_read(c), 1);
    assert_int_equal(store_pcursor_advance(c, 257, &p), 1);
    assert_int_equal(p.seq, 258);
    assert_int_equal(store_pcursor_blocks_read(c), 2);
    assert_int_equal(store_pcursor_advance(c, 100, &p), 1); /* never backwards */
    assert_int_equal(p.seq, 258);
    /* a long skip decodes only the block it lands in, not the ones between */
    assert_int_equal(store_pcursor_advance(c, 599, &p), 1);
    assert_int_equal(p.seq, 600);
    assert_int_equal(store_pcursor_blocks_read(c), 3);
    assert_int_equal(store_pcursor_advance(c, 601, &p), 0);
    store_pcursor_close(c);

    /* straight past the first block: one block read */
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "thin", 4, &c, &df), 0);
    assert_int_equal(store_pcursor_advance(c, 520, &p), 1);
    assert_int_equal(p.seq, 520);
    assert_int_equal(store_pcursor_blocks_read(c), 1);
    store_pcursor_close(c);

    /* a term with no postings: no cursor; advancing NULL finds nothing */
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "none", 4, &c, &df), 0);
    assert_null(c);
    assert_int_equal(df, 0);
    assert_int_equal(store_pcursor_advance(NULL, 0, &p), 0);
    store_pcursor_close(NULL);
    mdb_txn_abort(txn);
}

static void test_cursor_fat(void **state)
{
    (void)state;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, MDB_RDONLY, &txn), 0);
    size_t nb = count_blocks(txn, "fat");
    assert_true(nb >= 100 / 6); /* cut by bytes, far below 128 postings each */
    store_pcursor *c;
    int64_t df;
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "fat", 3, &c, &df), 0);
    assert_int_equal(df, 100);
    store_posting p;
    /* every target just before, at and after each posting */
    for (int64_t s = 10; s <= 1000; s += 10) {
        for (int d = -1; d <= 0; d++) {
            assert_int_equal(store_pcursor_advance(c, s + d, &p), 1);
            assert_int_equal(p.seq, s);
            assert_int_equal(p.tf, FAT_TF);
            assert_int_equal(p.len, 2 * FAT_TF);
            for (uint32_t j = 0; j < FAT_TF; j++)
                assert_int_equal(p.pos[j], fat_pos(s, j));
        }
    }
    assert_int_equal(store_pcursor_blocks_read(c), nb);
    assert_int_equal(store_pcursor_advance(c, 1001, &p), 0); /* not into "z"'s blocks */
    store_pcursor_close(c);

    /* every third posting, fresh cursor each time: at most one block per target */
    for (int64_t s = 10; s <= 1000; s += 30) {
        assert_int_equal(store_pcursor_open(txn, &g_dbs, "fat", 3, &c, &df), 0);
        assert_int_equal(store_pcursor_advance(c, s - 5, &p), 1);
        assert_int_equal(p.seq, s);
        assert_int_equal(p.pos[FAT_TF - 1], fat_pos(s, FAT_TF - 1));
        assert_true(store_pcursor_blocks_read(c) <= 2);
        store_pcursor_close(c);
    }
    /* the terms around stay apart */
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "a", 1, &c, &df), 0);
    assert_int_equal(store_pcursor_advance(c, 0, &p), 1);
    assert_int_equal(p.seq, 5);
    assert_int_equal(p.pos[0], 7);
    assert_int_equal(store_pcursor_advance(c, 6, &p), 0);
    store_pcursor_close(c);
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "z", 1, &c, &df), 0);
    assert_int_equal(store_pcursor_advance(c, 2, &p), 0);
    store_pcursor_close(c);
    mdb_txn_abort(txn);
}

/* A scorer's cursor (store_pcursor_no_positions) and store_postings_read step
 * over positions: the same seqs, tf and lengths as a full decode, pos NULL,
 * and a fat posting's 150 positions skipped to land on the next one. */
static bool on_fat_read(const store_posting *p, void *arg)
{
    int64_t *want = arg;
    assert_int_equal(p->seq, *want);
    assert_int_equal(p->tf, FAT_TF);
    assert_int_equal(p->len, 2 * FAT_TF);
    assert_null(p->pos);
    *want += 10;
    return true;
}

static void test_no_positions(void **state)
{
    (void)state;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, MDB_RDONLY, &txn), 0);
    store_pcursor *full, *bare;
    int64_t df;
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "fat", 3, &full, &df), 0);
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "fat", 3, &bare, &df), 0);
    store_pcursor_no_positions(bare);
    store_pcursor_no_positions(NULL);
    store_posting a, b;
    int64_t n = 0;
    for (int64_t t = 0; store_pcursor_advance(full, t, &a) == 1; t = a.seq + 1, n++) {
        assert_int_equal(store_pcursor_advance(bare, t, &b), 1);
        assert_int_equal(b.seq, a.seq);
        assert_int_equal(b.tf, a.tf);
        assert_int_equal(b.len, a.len);
        assert_non_null(a.pos);
        assert_null(b.pos);
    }
    assert_int_equal(n, 100);
    assert_int_equal(store_pcursor_advance(bare, a.seq + 1, &b), 0);
    assert_int_equal(store_pcursor_blocks_read(bare), store_pcursor_blocks_read(full));
    store_pcursor_close(full);
    store_pcursor_close(bare);
    int64_t want = 10;
    assert_int_equal(store_postings_read(txn, &g_dbs, "fat", 3, false, on_fat_read, &want), 0);
    assert_int_equal(want, 1010);
    mdb_txn_abort(txn);
}

typedef struct seqs {
    int64_t v[1024];
    size_t n;
} seqs;

static bool on_read(const store_posting *p, void *arg)
{
    seqs *s = arg;
    s->v[s->n++] = p->seq;
    return s->n < 1024;
}

/* A term whose older postings sit in `blocks` and newer ones in `recent`:
 * reads, the cursor, has() and removals see one list in seq order, and a
 * move brings the recent ones after the older ones. */
static void test_levels(void **state)
{
    (void)state;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, 0, &txn), 0);
    store_pbatch *b = store_pbatch_new();
    assert_non_null(b);
    uint32_t one = 1;
    /* "split" 1..200 into the older level (the others are there already) */
    for (int64_t s = 1; s <= 200; s++)
        assert_true(store_pbatch_put(b, "split", 5, s, true, 1, 4, &one));
    assert_int_equal(store_pbatch_flush(b, txn, &g_dbs), 0);
    uint64_t next = 0;
    for (int i = 0; i < 20 && recent_blocks(txn); i++)
        assert_int_equal(store_postings_compact(b, txn, &g_dbs, 0, &next), 0);
    /* 201..400 in a later batch: into the recent level */
    for (int64_t s = 201; s <= 400; s++)
        assert_true(store_pbatch_put(b, "split", 5, s, true, 1, 4, &one));
    assert_int_equal(store_pbatch_flush(b, txn, &g_dbs), 0);
    assert_int_equal(count_level_blocks(txn, g_dbs.blocks, "split"), 2);  /* 128 + 72 */
    assert_int_equal(count_level_blocks(txn, g_dbs.recent, "split"), 2);  /* 128 + 72 */
    /* a limit above its size moves nothing */
    assert_int_equal(store_postings_compact(b, txn, &g_dbs, 1000, &next), 0);
    assert_int_equal(count_level_blocks(txn, g_dbs.recent, "split"), 2);

    seqs got = {{0}, 0};
    assert_int_equal(store_postings_read(txn, &g_dbs, "split", 5, true, on_read, &got), 0);
    assert_int_equal(got.n, 400);
    for (size_t i = 0; i < got.n; i++)
        assert_int_equal(got.v[i], (int64_t)i + 1);
    store_pcursor *c;
    int64_t df;
    store_posting p;
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "split", 5, &c, &df), 0);
    assert_int_equal(df, 400);
    assert_int_equal(store_pcursor_advance(c, 150, &p), 1);
    assert_int_equal(p.seq, 150);
    assert_int_equal(store_pcursor_advance(c, 200, &p), 1);
    assert_int_equal(p.seq, 200);
    assert_int_equal(store_pcursor_advance(c, 201, &p), 1); /* across the levels */
    assert_int_equal(p.seq, 201);
    assert_int_equal(store_pcursor_advance(c, 399, &p), 1);
    assert_int_equal(p.seq, 399);
    assert_int_equal(store_pcursor_advance(c, 401, &p), 0);
    store_pcursor_close(c);
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "split", 5, &c, &df), 0);
    assert_int_equal(store_pcursor_advance(c, 300, &p), 1); /* straight into the recent level */
    assert_int_equal(p.seq, 300);
    store_pcursor_close(c);
    /* the shallow walk: the older level's last block ends where the recent level begins */
    store_pblock pb;
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "split", 5, &c, &df), 0);
    assert_int_equal(store_pcursor_shallow(c, 150, &pb), 1);
    assert_int_equal(pb.first, 129);
    assert_int_equal(pb.last, 200);
    assert_int_equal(store_pcursor_shallow(c, 201, &pb), 1);
    assert_int_equal(pb.first, 201);
    assert_int_equal(pb.last, 328);
    assert_int_equal(store_pcursor_shallow(c, 400, &pb), 1);
    assert_int_equal(pb.first, 329);
    assert_int_equal(pb.last, INT64_MAX);
    store_pcursor_close(c);
    assert_int_equal(store_postings_has(NULL, txn, &g_dbs, "split", 5, 150), 1);
    assert_int_equal(store_postings_has(NULL, txn, &g_dbs, "split", 5, 250), 1);
    assert_int_equal(store_postings_has(NULL, txn, &g_dbs, "split", 5, 401), 0);

    /* removals in both levels, and one more new posting */
    assert_true(store_pbatch_put(b, "split", 5, 150, false, 0, 0, NULL));
    assert_true(store_pbatch_put(b, "split", 5, 250, false, 0, 0, NULL));
    assert_true(store_pbatch_put(b, "split", 5, 401, true, 1, 4, &one));
    assert_int_equal(store_pbatch_flush(b, txn, &g_dbs), 0);
    got.n = 0;
    assert_int_equal(store_postings_read(txn, &g_dbs, "split", 5, true, on_read, &got), 0);
    assert_int_equal(got.n, 399);
    assert_int_equal(store_postings_df(txn, &g_dbs, "split", 5, &df), 0);
    assert_int_equal(df, 399);
    assert_int_equal(store_postings_has(NULL, txn, &g_dbs, "split", 5, 150), 0);
    assert_int_equal(store_postings_has(NULL, txn, &g_dbs, "split", 5, 250), 0);

    /* the move: the recent postings follow the older ones in `blocks` */
    for (int i = 0; i < 20 && recent_blocks(txn); i++)
        assert_int_equal(store_postings_compact(b, txn, &g_dbs, 0, &next), 0);
    assert_int_equal(count_level_blocks(txn, g_dbs.recent, "split"), 0);
    seqs after = {{0}, 0};
    assert_int_equal(store_postings_read(txn, &g_dbs, "split", 5, true, on_read, &after), 0);
    assert_int_equal(after.n, got.n);
    assert_memory_equal(after.v, got.v, got.n * sizeof *got.v);
    /* and new postings after a move go to the recent level again */
    assert_true(store_pbatch_put(b, "split", 5, 500, true, 1, 4, &one));
    assert_int_equal(store_pbatch_flush(b, txn, &g_dbs), 0);
    assert_int_equal(count_level_blocks(txn, g_dbs.recent, "split"), 1);
    /* a term id is never reused while its blocks are only in the recent level */
    assert_true(store_pbatch_put(b, "newer", 5, 600, true, 1, 4, &one));
    assert_int_equal(store_pbatch_flush(b, txn, &g_dbs), 0);
    got.n = 0;
    assert_int_equal(store_postings_read(txn, &g_dbs, "newer", 5, true, on_read, &got), 0);
    assert_int_equal(got.n, 1);
    got.n = 0;
    assert_int_equal(store_postings_read(txn, &g_dbs, "split", 5, true, on_read, &got), 0);
    assert_int_equal(got.n, 400);
    store_pbatch_free(b);
    mdb_txn_abort(txn);
}

/* A block's score bound as the top-k scorer takes it: its best impact's. */
static float bound(const store_pblock *b, float weight, float avgdl)
{
    float ub = 0;
    for (size_t i = 0; i < b->nimpacts; i++) {
        float s = store_bm25(weight, (float)b->impacts[i].tf, store_bm25_norm_inverse(avgdl, b->impacts[i].len));
        ub = s > ub ? s : ub;
    }
    return ub;
}

/* Impacts by ascending length with ascending tf (none beats another on both). */
static void check_frontier(const store_pblock *b)
{
    assert_true(b->nimpacts >= 1 && b->nimpacts <= STORE_PBLOCK_IMPACTS);
    for (size_t i = 1; i < b->nimpacts; i++) {
        assert_true(b->impacts[i].len > b->impacts[i - 1].len);
        assert_true(b->impacts[i].tf > b->impacts[i - 1].tf);
    }
}

typedef struct mixc {
    store_pcursor *c;
    size_t n;
} mixc;

/* Each posting lies in the block the shallow walk describes for its seq,
 * and scores no more than that block's bound, for a short and a long
 * average length and two weights. */
static bool mix_check(const store_posting *p, void *arg)
{
    mixc *m = arg;
    store_pblock b;
    assert_int_equal(store_pcursor_shallow(m->c, p->seq, &b), 1);
    assert_true(b.first <= p->seq && p->seq <= b.last);
    bool covered = false;
    for (size_t i = 0; i < b.nimpacts; i++)
        covered |= p->tf <= b.impacts[i].tf && p->len >= b.impacts[i].len;
    assert_true(covered);
    static const float avgdl[] = {2.5f, 150.0f}, weight[] = {0.4f, 7.9f};
    for (int a = 0; a < 2; a++)
        for (int w = 0; w < 2; w++) {
            float sc = store_bm25(weight[w], (float)p->tf, store_bm25_norm_inverse(avgdl[a], p->len));
            assert_true(sc <= bound(&b, weight[w], avgdl[a]));
        }
    m->n++;
    return true;
}

static void test_shallow_bounds(void **state)
{
    (void)state;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, MDB_RDONLY, &txn), 0);
    size_t nb = count_blocks(txn, "mix");
    assert_true(nb >= 6);
    store_pcursor *c;
    int64_t df;
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "mix", 3, &c, &df), 0);
    mixc m = {c, 0};
    assert_int_equal(store_postings_read(txn, &g_dbs, "mix", 3, true, mix_check, &m), 0);
    assert_int_equal((int64_t)m.n, df);
    assert_int_equal(store_pcursor_blocks_read(c), 0); /* headers only: nothing decoded */
    store_pcursor_close(c);

    /* a walk over every target: before the first block, its first block;
     * then consecutive blocks that tile the seqs, the last one open-ended,
     * each bound reached by one of its postings (it is the block's max) */
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "mix", 3, &c, &df), 0);
    store_pblock b, prev = {.first = 0, .last = -1};
    size_t seen = 0, tighter = 0;
    for (int64_t t = 0; t <= 4100; t++) {
        assert_int_equal(store_pcursor_shallow(c, t, &b), 1);
        if (t < 1000) {
            assert_int_equal(b.first, 1000);
            continue;
        }
        assert_true(b.first <= t && t <= b.last);
        if (b.first != prev.first) {
            assert_int_equal(b.first, prev.last + 1 > 1000 ? prev.last + 1 : 1000);
            /* mix has 5 tf values, so no impact was merged: each is a posting's
             * own pair; the bound is tighter than the largest tf at the
             * smallest length (the header before format 6) in most blocks */
            check_frontier(&b);
            size_t hit[STORE_PBLOCK_IMPACTS] = {0};
            uint32_t mtf = 0, mlen = UINT32_MAX;
            for (int64_t s = b.first; s <= (b.last < 4000 ? b.last : 4000); s++) {
                store_posting p;
                store_pcursor *d;
                int64_t df2;
                assert_int_equal(store_pcursor_open(txn, &g_dbs, "mix", 3, &d, &df2), 0);
                if (store_pcursor_advance(d, s, &p) == 1 && p.seq == s) {
                    for (size_t i = 0; i < b.nimpacts; i++)
                        hit[i] += p.tf == b.impacts[i].tf && p.len == b.impacts[i].len;
                    mtf = p.tf > mtf ? p.tf : mtf;
                    mlen = p.len < mlen ? p.len : mlen;
                }
                store_pcursor_close(d);
            }
            for (size_t i = 0; i < b.nimpacts; i++)
                assert_true(hit[i] > 0);
            store_pblock legacy = {.nimpacts = 1, .impacts = {{mtf, mlen}}};
            assert_true(bound(&b, 1.0f, 150.0f) <= bound(&legacy, 1.0f, 150.0f));
            tighter += bound(&b, 1.0f, 150.0f) < bound(&legacy, 1.0f, 150.0f);
            seen++;
        }
        prev = b;
    }
    assert_int_equal(b.last, INT64_MAX);
    assert_int_equal(seen, nb);
    assert_true(tighter * 2 > seen);
    /* never backwards; a far jump lands on the right block */
    assert_int_equal(store_pcursor_shallow(c, 1000, &b), 1);
    assert_int_equal(b.last, INT64_MAX);
    store_pcursor_close(c);
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "mix", 3, &c, &df), 0);
    assert_int_equal(store_pcursor_shallow(c, 3999, &b), 1);
    assert_true(b.first <= 3999 && 3999 <= b.last);
    assert_int_equal(store_pcursor_shallow(c, INT64_MAX, &b), 1);
    assert_int_equal(b.last, INT64_MAX);
    store_pcursor_close(c);
    /* the term after stays apart: "z" has one block, ending nowhere */
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "z", 1, &c, &df), 0);
    assert_int_equal(store_pcursor_shallow(c, 0, &b), 1);
    assert_int_equal(b.first, 1);
    assert_int_equal(b.last, INT64_MAX);
    store_pcursor_close(c);
    mdb_txn_abort(txn);
}

/* A block of more frontier pairs than it keeps (tf = length = 1..40: none
 * beats another) gets STORE_PBLOCK_IMPACTS merged ones that still cover
 * every posting; a block written before format 6 (one pair: largest tf,
 * smallest length) reads as one impact and decodes as before. */
static void test_impacts_merged_and_legacy(void **state)
{
    (void)state;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, 0, &txn), 0);
    store_pbatch *pb = store_pbatch_new();
    assert_non_null(pb);
    uint32_t pos[40];
    for (uint32_t j = 0; j < 40; j++)
        pos[j] = j;
    for (int64_t s = 1; s <= 40; s++)
        assert_true(store_pbatch_put(pb, "many", 4, s, true, (uint32_t)s, (uint32_t)s, pos));
    assert_int_equal(store_pbatch_flush(pb, txn, &g_dbs), 0);
    store_pbatch_free(pb);
    store_pcursor *c;
    int64_t df;
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "many", 4, &c, &df), 0);
    store_pblock b;
    assert_int_equal(store_pcursor_shallow(c, 1, &b), 1);
    assert_int_equal(b.nimpacts, STORE_PBLOCK_IMPACTS);
    check_frontier(&b);
    assert_int_equal(b.impacts[STORE_PBLOCK_IMPACTS - 1].tf, 40); /* the best posting is exact */
    assert_int_equal(b.impacts[0].len, 1);
    store_posting p;
    for (int64_t s = 1; s <= 40; s++) {
        assert_int_equal(store_pcursor_advance(c, s, &p), 1);
        bool covered = false;
        for (size_t i = 0; i < b.nimpacts; i++)
            covered |= p.tf <= b.impacts[i].tf && p.len >= b.impacts[i].len;
        assert_true(covered);
        assert_true(store_bm25(1.0f, (float)p.tf, store_bm25_norm_inverse(20.0f, p.len)) <= bound(&b, 1.0f, 20.0f));
    }
    store_pcursor_close(c);

    /* "old": term id 1000, two postings (seq 7: tf 2, len 9, positions 1 4;
     * seq 9: tf 1, len 3, position 0) under the header of format 5 */
    unsigned char tv[16] = {0}, kb[16] = {0};
    tv[7] = 0xe8, tv[6] = 0x03, tv[15] = 2; /* id 1000, df 2 */
    kb[7] = 0xe8, kb[6] = 0x03, kb[15] = 7; /* (1000, first seq 7) */
    const unsigned char blk[] = {2, 2, 3, /* count, largest tf, smallest length */
                                 0, 2, 9, 1, 3, 2, 1, 3, 0};
    MDB_val k = {3, "old"}, v = {16, tv};
    assert_int_equal(mdb_put(txn, g_dbs.terms, &k, &v, 0), 0);
    k = (MDB_val){16, kb};
    v = (MDB_val){sizeof blk, (void *)blk};
    assert_int_equal(mdb_put(txn, g_dbs.blocks, &k, &v, 0), 0);
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "old", 3, &c, &df), 0);
    assert_int_equal(df, 2);
    assert_int_equal(store_pcursor_shallow(c, 0, &b), 1);
    assert_int_equal(b.nimpacts, 1);
    assert_int_equal(b.impacts[0].tf, 2);
    assert_int_equal(b.impacts[0].len, 3);
    assert_int_equal(store_pcursor_advance(c, 0, &p), 1);
    assert_int_equal(p.seq, 7);
    assert_int_equal(p.tf, 2);
    assert_int_equal(p.len, 9);
    assert_int_equal(p.pos[0], 1);
    assert_int_equal(p.pos[1], 4);
    assert_int_equal(store_pcursor_advance(c, 8, &p), 1);
    assert_int_equal(p.seq, 9);
    assert_int_equal(p.pos[0], 0);
    assert_int_equal(store_pcursor_advance(c, 10, &p), 0);
    store_pcursor_close(c);
    /* a posting between its seqs rewrites the block, with impacts of its own */
    pb = store_pbatch_new();
    assert_non_null(pb);
    uint32_t one = 5;
    assert_true(store_pbatch_put(pb, "old", 3, 8, true, 1, 1, &one));
    assert_int_equal(store_pbatch_flush(pb, txn, &g_dbs), 0);
    store_pbatch_free(pb);
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "old", 3, &c, &df), 0);
    assert_int_equal(df, 3);
    assert_int_equal(store_pcursor_shallow(c, 0, &b), 1);
    assert_int_equal(b.nimpacts, 2); /* (1, 1) and (2, 9): seq 9's (1, 3) is beaten */
    assert_int_equal(b.impacts[0].tf, 1);
    assert_int_equal(b.impacts[0].len, 1);
    assert_int_equal(b.impacts[1].tf, 2);
    assert_int_equal(b.impacts[1].len, 9);
    store_pcursor_close(c);
    mdb_txn_abort(txn);
}

/* Packed columns (format 7) hold every width: seq gaps up to 2^32 - 1 in a
 * block (a wider one starts the next block), tf and field lengths up to
 * 2^32 - 1, all read back exactly by a full and by a scorer's cursor; a
 * cursor lends the rest of its block (store_pcursor_rest); an addition
 * without occurrences is refused. */
static void test_packed_widths(void **state)
{
    (void)state;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, 0, &txn), 0);
    store_pbatch *pb = store_pbatch_new();
    assert_non_null(pb);
    const int64_t seq[] = {3, 4, 4 + 0xffffffffLL, 5 + 0xffffffffLL, ((int64_t)1 << 40), ((int64_t)1 << 40) + 1,
                           ((int64_t)1 << 40) + 1000};
    const uint32_t tf[] = {1, 2, 1, 3, 1, 1, 2};
    const uint32_t len[] = {0, UINT32_MAX, 7, 1, 65536, UINT32_MAX - 1, 2};
    enum { N = sizeof seq / sizeof *seq };
    uint32_t pos[3] = {0, 90000, UINT32_MAX};
    for (size_t i = 0; i < N; i++)
        assert_true(store_pbatch_put(pb, "wide", 4, seq[i], true, tf[i], len[i], pos));
    assert_false(store_pbatch_put(pb, "zero", 4, 1, true, 0, 1, NULL));
    store_pbatch_free(pb);
    pb = store_pbatch_new();
    for (size_t i = 0; i < N; i++)
        assert_true(store_pbatch_put(pb, "wide", 4, seq[i], true, tf[i], len[i], pos));
    assert_int_equal(store_pbatch_flush(pb, txn, &g_dbs), 0);
    store_pbatch_free(pb);
    /* the gap of 2^32 - 1 stays in the first block; the one of 2^40 - 2^32 - 5 does not */
    assert_int_equal(count_level_blocks(txn, g_dbs.recent, "wide"), 2);
    for (int bare = 0; bare <= 1; bare++) {
        store_pcursor *c;
        int64_t df;
        assert_int_equal(store_pcursor_open(txn, &g_dbs, "wide", 4, &c, &df), 0);
        assert_int_equal(df, N);
        if (bare)
            store_pcursor_no_positions(c);
        const store_posting *rest;
        assert_int_equal(store_pcursor_rest(c, &rest), 0); /* nothing before the first advance */
        assert_null(rest);
        store_posting p;
        for (size_t i = 0; i < N; i++) {
            assert_int_equal(store_pcursor_advance(c, i ? seq[i - 1] + 1 : 0, &p), 1);
            assert_int_equal(p.seq, seq[i]);
            assert_int_equal(p.tf, tf[i]);
            assert_int_equal(p.len, len[i]);
            for (uint32_t j = 0; !bare && j < tf[i]; j++)
                assert_int_equal(p.pos[j], pos[j]);
            if (bare)
                assert_null(p.pos);
            size_t m = store_pcursor_rest(c, &rest);
            assert_int_equal(m, i < 4 ? 4 - i : N - i); /* to the end of its block */
            assert_int_equal(rest[0].seq, seq[i]);
            assert_int_equal(rest[m - 1].seq, seq[i < 4 ? 3 : N - 1]);
            assert_int_equal(rest[m - 1].len, len[i < 4 ? 3 : N - 1]);
        }
        assert_int_equal(store_pcursor_advance(c, seq[N - 1] + 1, &p), 0);
        assert_int_equal(store_pcursor_rest(c, &rest), 0);
        store_pcursor_close(c);
    }
    mdb_txn_abort(txn);
}

/* A lazy cursor (store_pcursor_lazy_positions) hands out no positions
 * with a posting, and reads exactly the full cursor's when asked, for
 * every posting or only some (the postings between stepped over: up to
 * six, whose positions are stepped over eight bytes at a time), in
 * blocks cut by count ("mix") and by bytes ("fat"). */
static void test_lazy_positions(void **state)
{
    (void)state;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, MDB_RDONLY, &txn), 0);
    const char *terms[] = {"mix", "fat"};
    for (size_t ti = 0; ti < 2; ti++)
        for (int every = 1; every <= 7; every += every < 3 ? 1 : 4) {
            store_pcursor *full, *lazy;
            int64_t df;
            assert_int_equal(store_pcursor_open(txn, &g_dbs, terms[ti], 3, &full, &df), 0);
            assert_int_equal(store_pcursor_open(txn, &g_dbs, terms[ti], 3, &lazy, &df), 0);
            store_pcursor_lazy_positions(lazy);
            store_pcursor_lazy_positions(NULL);
            store_posting a, b;
            const uint32_t *pos;
            assert_int_equal(store_pcursor_positions(lazy, &pos), 0); /* before the first posting */
            assert_null(pos);
            int64_t n = 0, asked = 0;
            for (int64_t t = 0; store_pcursor_advance(full, t, &a) == 1; t = a.seq + 1, n++) {
                assert_int_equal(store_pcursor_advance(lazy, t, &b), 1);
                assert_int_equal(b.seq, a.seq);
                assert_int_equal(b.tf, a.tf);
                assert_int_equal(b.len, a.len);
                assert_null(b.pos);
                if (n % every)
                    continue;
                assert_int_equal(store_pcursor_positions(lazy, &pos), 0);
                assert_non_null(pos);
                assert_memory_equal(pos, a.pos, a.tf * sizeof *pos);
                asked++;
            }
            assert_true(n >= 100 && asked >= n / every);
            store_pcursor_close(full);
            store_pcursor_close(lazy);
        }
    mdb_txn_abort(txn);
}

/* Put block bytes blk under term "bad" (term id 2000) at first seq 1. */
static void put_raw(MDB_txn *txn, const unsigned char *blk, size_t n)
{
    unsigned char tv[16] = {0}, kb[16] = {0};
    tv[6] = 0x07, tv[7] = 0xd0, tv[15] = 2; /* id 2000, df 2 */
    kb[6] = 0x07, kb[7] = 0xd0, kb[15] = 1; /* (2000, first seq 1) */
    MDB_val k = {3, "bad"}, v = {16, tv};
    assert_int_equal(mdb_put(txn, g_dbs.terms, &k, &v, 0), 0);
    k = (MDB_val){16, kb};
    v = (MDB_val){n, (void *)blk};
    assert_int_equal(mdb_put(txn, g_dbs.blocks, &k, &v, 0), 0);
}

/* The first advance over "bad" by a full (bare 0) or a scorer's cursor;
 * p->pos is cleared (the cursor is closed), its first position goes into
 * *pos0 (-1: none read). */
static int advance_raw(MDB_txn *txn, int bare, store_posting *p, int64_t *pos0)
{
    store_pcursor *c;
    int64_t df;
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "bad", 3, &c, &df), 0);
    if (bare)
        store_pcursor_no_positions(c);
    int rc = store_pcursor_advance(c, 0, p);
    *pos0 = rc == 1 && p->pos ? (int64_t)p->pos[0] : -1;
    p->pos = NULL;
    store_pcursor_close(c);
    return rc;
}

/* Blocks as written by hand: a packed one and a format-6 varint one read
 * exactly; a corrupt one (width past 32, columns past the end, an unknown
 * flag, positions cut short) is MDB_CORRUPTED, never misread; a scorer
 * does not read positions, so a block cut in its positions still gives it
 * its postings. */
static void test_raw_blocks(void **state)
{
    (void)state;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(g_env, NULL, 0, &txn), 0);
    store_posting p;
    /* two postings: seq 1 (tf 1, len 5, position 4), seq 3 (tf 2, len 6, positions 0 9);
     * header: count 2 | 1 impact << 8 | packed << 12 = 0x1102, varint 0x82 0x22; impact (2, 5) */
    const unsigned char packed[] = {0x82, 0x22, 2, 5, /* widths: delta 2 bits, tf - 1 1 bit, len 3 bits */
                                    2, 1, 3, 0x02, 0x02, 0x35, /* delta 2; tf-1 0,1; len 5,6 (101 110) */
                                    4, 0, 9};
    put_raw(txn, packed, sizeof packed);
    for (int bare = 0; bare <= 1; bare++) {
        store_pcursor *c;
        int64_t df;
        assert_int_equal(store_pcursor_open(txn, &g_dbs, "bad", 3, &c, &df), 0);
        if (bare)
            store_pcursor_no_positions(c);
        assert_int_equal(store_pcursor_advance(c, 0, &p), 1);
        assert_int_equal(p.seq, 1);
        assert_int_equal(p.tf, 1);
        assert_int_equal(p.len, 5);
        if (!bare)
            assert_int_equal(p.pos[0], 4);
        assert_int_equal(store_pcursor_advance(c, 2, &p), 1);
        assert_int_equal(p.seq, 3);
        assert_int_equal(p.tf, 2);
        assert_int_equal(p.len, 6);
        if (!bare) {
            assert_int_equal(p.pos[0], 0);
            assert_int_equal(p.pos[1], 9);
        }
        store_pcursor_close(c);
    }
    /* format 6: varint postings under a header of 2 impacts, (1, 5) and (2, 6) */
    const unsigned char v6[] = {0x82, 0x04, 1, 5, 2, 6, 0, 1, 5, 4, 2, 2, 6, 0, 9};
    put_raw(txn, v6, sizeof v6);
    int64_t pos0;
    store_pcursor *lc;
    int64_t ldf;
    const uint32_t *lpos;
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "bad", 3, &lc, &ldf), 0);
    store_pcursor_lazy_positions(lc); /* a block of before format 7 is read whole, positions too */
    assert_int_equal(store_pcursor_advance(lc, 2, &p), 1);
    assert_int_equal(p.seq, 3);
    assert_int_equal(store_pcursor_positions(lc, &lpos), 0);
    assert_int_equal(lpos[0], 0);
    assert_int_equal(lpos[1], 9);
    store_pcursor_close(lc);
    assert_int_equal(advance_raw(txn, 0, &p, &pos0), 1);
    assert_int_equal(p.seq, 1);
    assert_int_equal(p.len, 5);
    assert_int_equal(pos0, 4);
    unsigned char bad[sizeof packed];
    memcpy(bad, packed, sizeof bad);
    bad[4] = 33; /* a delta width past 32 */
    put_raw(txn, bad, sizeof bad);
    assert_int_equal(advance_raw(txn, 1, &p, &pos0), -MDB_CORRUPTED);
    memcpy(bad, packed, sizeof bad);
    bad[6] = 32; /* a length column of 8 bytes past the block's end */
    put_raw(txn, bad, 10);
    assert_int_equal(advance_raw(txn, 1, &p, &pos0), -MDB_CORRUPTED);
    memcpy(bad, packed, sizeof bad);
    bad[1] = 0x26; /* flag 4: unknown */
    put_raw(txn, bad, sizeof bad);
    assert_int_equal(advance_raw(txn, 1, &p, &pos0), -MDB_CORRUPTED);
    put_raw(txn, packed, sizeof packed - 1); /* the last position missing */
    assert_int_equal(store_pcursor_open(txn, &g_dbs, "bad", 3, &lc, &ldf), 0);
    store_pcursor_lazy_positions(lc);
    assert_int_equal(store_pcursor_advance(lc, 0, &p), 1);
    assert_int_equal(store_pcursor_positions(lc, &lpos), 0);
    assert_int_equal(lpos[0], 4);
    assert_int_equal(store_pcursor_advance(lc, 2, &p), 1);
    assert_int_equal(store_pcursor_positions(lc, &lpos), -MDB_CORRUPTED);
    store_pcursor_close(lc);
    assert_int_equal(advance_raw(txn, 0, &p, &pos0), -MDB_CORRUPTED);
    assert_int_equal(advance_raw(txn, 1, &p, &pos0), 1);
    assert_int_equal(p.len, 5);
    assert_int_equal(pos0, -1);
    mdb_txn_abort(txn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cursor_thin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cursor_fat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_levels, setup, teardown),

        cmocka_unit_test_setup_teardown(test_shallow_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_impacts_merged_and_legacy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_widths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lazy_positions, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
