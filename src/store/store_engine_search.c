/* store_engine_search — the search structures: their keys, their read API, their upkeep in each write, and the format upgrade. */
#include "versync/store/store_engine_int.h"

#include "versync/common/grow.h"
#include "versync/store/store_deadline.h"

#include "versync/store/store_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

/* ---- search structures ---------------------------------------------------- */

/* Search key: number | path [| 0x00 | value]. A path longer than
 * PATH_INLINE_MAX is replaced by 0xFF and a 128-bit digest of it (0xFF
 * never starts UTF-8 text), so fields of any path length are indexed. 0 when
 * the value would not fit an LMDB key (postings: such terms are not
 * indexed; exact values use vkey instead). */
#define PATH_INLINE_MAX 200
#define HASH_LEN 16
/* Exact-value keys longer than this are cut to it and followed by a digest
 * of the whole value: such keys are exactly STORE_INDEX_MAX_KEY bytes, and
 * the whole value is kept in dbi_longvals under the same key. */
#define VKEY_INLINE_MAX (STORE_INDEX_MAX_KEY - HASH_LEN)

static void hash128(const void *s, size_t n, unsigned char *out)
{
    uint64_t a = store_eng_hash64(s, n, 0), b = store_eng_hash64(s, n, 0x9e3779b97f4a7c15ULL);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
}

static size_t skey_path(unsigned char *kb, uint32_t number, const char *path)
{
    size_t pl = strlen(path);
    be32(kb, number);
    if (pl <= PATH_INLINE_MAX) {
        memcpy(kb + 4, path, pl);
        return 4 + pl;
    }
    kb[4] = 0xFF;
    hash128(path, pl, kb + 5);
    return 5 + HASH_LEN;
}

static size_t skey(unsigned char *kb, uint32_t number, const char *path, bool sep, const void *val, size_t vl)
{
    size_t o = skey_path(kb, number, path);
    if (!sep)
        return o;
    kb[o++] = 0;
    if (o + vl > STORE_INDEX_MAX_KEY)
        return 0;
    if (vl)
        memcpy(kb + o, val, vl);
    return o + vl;
}

/* Exact-value key: as skey, but a value too long for the key is cut and
 * followed by its digest (*cut set); the key is then STORE_INDEX_MAX_KEY
 * bytes long. Shorter keys always hold their whole value. */
static size_t vkey(unsigned char *kb, uint32_t number, const char *path, const void *val, size_t vl, bool *cut)
{
    size_t o = skey_path(kb, number, path);
    kb[o++] = 0;
    *cut = o + vl > VKEY_INLINE_MAX;
    if (!*cut) {
        if (vl)
            memcpy(kb + o, val, vl);
        return o + vl;
    }
    memcpy(kb + o, val, VKEY_INLINE_MAX - o);
    hash128(val, vl, kb + VKEY_INLINE_MAX);
    return STORE_INDEX_MAX_KEY;
}

/* The whole value of exact-value key `k` (prefix length `pre`): from
 * dbi_longvals for a cut key, else the key's own bytes. */
static void vkey_value(MDB_txn *txn, store_engine *e, const MDB_val *k, size_t pre, const char **val, size_t *vl)
{
    MDB_val lv;
    if (k->mv_size == STORE_INDEX_MAX_KEY && mdb_get(txn, e->dbi_longvals, (MDB_val *)k, &lv) == 0) {
        *val = lv.mv_data;
        *vl = lv.mv_size;
        return;
    }
    *val = (const char *)k->mv_data + pre;
    *vl = k->mv_size - pre;
}

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static bool cursor_open(store_rtxn *r, MDB_dbi dbi, MDB_cursor **cur, const char *what)
{
    int rc = mdb_cursor_open(r->txn, dbi, cur);
    if (rc)
        mlog(rc, what);
    return rc == 0;
}

/* Visit every dup of the key the cursor is on (ascending), `size` bytes each. */
static int each_dup(MDB_cursor *cur, size_t size, bool (*fn)(const unsigned char *d, void *arg), void *arg,
                    bool *stopped)
{
    MDB_val k, v = {0, NULL};
    size_t n = 0;
    int rc = mdb_cursor_count(cur, &n);
    if (rc)
        return rc;
    if (n == 1) {
        /* A key with a single value keeps it inline, without a sub-database.
         * GET_MULTIPLE must not be asked then: LMDB answers from the
         * sub-cursor, which after MDB_PREV_NODUP still holds the previous
         * key's duplicates (a descending walk would report them as this
         * key's). Read the one value itself. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (rc == 0 && v.mv_size == size && !fn(v.mv_data, arg))
            *stopped = true;
        return rc;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_GET_MULTIPLE);
    while (rc == 0) {
        if (store_deadline_poll()) { /* the request's time is up or its client gone */
            *stopped = true;
            return 0;
        }
        const unsigned char *p = v.mv_data;
        for (size_t off = 0; off + size <= v.mv_size; off += size)
            if (!fn(p + off, arg)) {
                *stopped = true;
                return 0;
            }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_MULTIPLE);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

bool store_engine_postings(store_rtxn *r, const store_index_meta *m, const char *path, const char *term,
                           size_t term_len, bool positions, bool (*fn)(const store_posting *p, void *arg),
                           void *arg)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    size_t kn = skey(kb, m->number, path, true, term, term_len);
    if (!kn)
        return true;
    int rc = store_postings_read(r->txn, &r->e->pdb, kb, kn, positions, fn, arg);
    if (rc)
        mlog(rc, "read postings");
    return rc == 0;
}

bool store_engine_pcursor(store_rtxn *r, const store_index_meta *m, const char *path, const char *term,
                          size_t term_len, store_pcursor **c, int64_t *df)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    size_t kn = skey(kb, m->number, path, true, term, term_len);
    *c = NULL;
    *df = 0;
    if (!kn)
        return true;
    int rc = store_pcursor_open(r->txn, &r->e->pdb, kb, kn, c, df);
    if (rc)
        mlog(rc, "open a postings cursor");
    return rc == 0;
}

static int64_t key_count(store_rtxn *r, MDB_dbi dbi, const unsigned char *kb, size_t kn)
{
    if (!kn)
        return 0;
    MDB_cursor *cur;
    if (!cursor_open(r, dbi, &cur, "count entries"))
        return -1;
    MDB_val k = {kn, (void *)kb}, v;
    size_t n = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
    if (rc == 0)
        rc = mdb_cursor_count(cur, &n);
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "count entries");
        return -1;
    }
    return rc ? 0 : (int64_t)n;
}

int64_t store_engine_term_docs(store_rtxn *r, const store_index_meta *m, const char *path, const char *term,
                               size_t term_len)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    size_t kn = skey(kb, m->number, path, true, term, term_len);
    int64_t df = 0;
    int rc = kn ? store_postings_df(r->txn, &r->e->pdb, kb, kn, &df) : 0;
    if (rc) {
        mlog(rc, "count postings");
        return -1;
    }
    return df;
}

int64_t store_engine_value_docs(store_rtxn *r, const store_index_meta *m, const char *path, const void *val,
                                size_t len)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    bool cut;
    size_t kn = vkey(kb, m->number, path, val, len, &cut);
    if (cut) { /* the digest stands for the value: make sure it is this one */
        MDB_val k = {kn, kb}, lv;
        int rc = mdb_get(r->txn, r->e->dbi_longvals, &k, &lv);
        if (rc == MDB_NOTFOUND || (rc == 0 && bytes_cmp(lv.mv_data, lv.mv_size, val, len) != 0))
            return 0;
        if (rc) {
            mlog(rc, "count entries");
            return -1;
        }
    }
    int64_t n = 0;
    for (int l = 0; l < STORE_VLEVELS; l++) {
        int64_t c = key_count(r, r->e->dbi_vals[l], kb, kn);
        if (c < 0)
            return -1;
        n += c;
    }
    return n;
}

bool store_engine_postings_levels(store_rtxn *r, size_t blocks[2])
{
    MDB_dbi dbis[] = {r->e->pdb.recent, r->e->pdb.blocks};
    for (size_t l = 0; l < 2; l++) {
        MDB_stat st;
        int rc = mdb_stat(r->txn, dbis[l], &st);
        if (rc) {
            mlog(rc, "count postings blocks");
            return false;
        }
        blocks[l] = st.ms_entries;
    }
    return true;
}

int store_engine_value_levels(store_rtxn *r, size_t *entries, size_t max)
{
    int n = 0;
    for (int l = STORE_VLEVELS - 1; l >= 0 && (size_t)n < max; l--) {
        MDB_stat st;
        int rc = mdb_stat(r->txn, r->e->dbi_vals[l], &st);
        if (rc) {
            mlog(rc, "count exact values");
            return -1;
        }
        entries[n++] = st.ms_entries;
    }
    return n;
}

bool store_engine_terms(store_rtxn *r, const store_index_meta *m, const char *path, const char *from, size_t from_len,
                        bool (*fn)(const char *term, size_t len, void *arg), void *arg)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    size_t pre = skey(kb, m->number, path, true, NULL, 0);
    size_t kn = skey(kb, m->number, path, true, from, from ? from_len : 0);
    if (!pre || !kn)
        return true;
    MDB_cursor *cur;
    if (!cursor_open(r, r->e->pdb.terms, &cur, "list terms"))
        return false;
    unsigned char prefix[STORE_INDEX_MAX_KEY];
    memcpy(prefix, kb, pre);
    MDB_val k = {kn, kb}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= pre && memcmp(k.mv_data, prefix, pre) == 0) {
        if (store_deadline_poll() || !fn((const char *)k.mv_data + pre, k.mv_size - pre, arg))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "list terms");
        return false;
    }
    return true;
}

bool store_engine_field_stats(store_rtxn *r, const store_index_meta *m, const char *path, int64_t *docs,
                              int64_t *sum_len)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    *docs = *sum_len = 0;
    MDB_val k = {skey(kb, m->number, path, false, NULL, 0), kb}, v;
    if (!k.mv_size)
        return true;
    int rc = mdb_get(r->txn, r->e->dbi_fstats, &k, &v);
    if (rc == MDB_NOTFOUND)
        return true;
    if (rc || v.mv_size != 16) {
        mlog(rc ? rc : MDB_CORRUPTED, "read field statistics");
        return false;
    }
    *docs = get_i64(v.mv_data);
    *sum_len = get_i64((const unsigned char *)v.mv_data + 8);
    return true;
}

typedef struct val_cb {
    bool (*fn)(const void *val, size_t len, int64_t seq, void *arg);
    void *arg;
    const void *val;
    size_t len;
} val_cb;

static bool val_one(const unsigned char *d, void *arg)
{
    val_cb *c = arg;
    return c->fn(c->val, c->len, (int64_t)store_util_get_be64(d), c->arg);
}

/* Where a cut key (whose value starts with `cut`, c bytes, and goes on)
 * stands against `bound`: -1 every such value is below it, 1 every one is
 * above, 0 undecided. */
static int cut_vs_bound(const char *cut, size_t c, const void *bound, size_t bl)
{
    size_t m = c < bl ? c : bl;
    int d = m ? memcmp(cut, bound, m) : 0;
    if (d)
        return d < 0 ? -1 : 1;
    return bl <= c ? 1 : 0; /* the bound is a prefix of the cut part: every value is longer, so above */
}

/* One level's cursor in a merged walk of the exact-value levels. */
typedef struct vlevel {
    MDB_cursor *cur;
    MDB_val k, v;
    int rc; /* 0: on a key of the field; MDB_NOTFOUND: past its keys */
} vlevel;

/* rc from a cursor move, with a key outside the field's prefix counted as the end. */
static void vlevel_check(vlevel *l, const unsigned char *prefix, size_t pre)
{
    if (l->rc == 0 && (l->k.mv_size < pre || memcmp(l->k.mv_data, prefix, pre) != 0))
        l->rc = MDB_NOTFOUND;
}

/* One level's duplicates (8-byte seqs, ascending) of the key its cursor is
 * on, read a page of them at a time; pointers stay valid in a read txn. */
typedef struct dupstream {
    MDB_cursor *cur;
    const unsigned char *p;
    size_t n, i;
    bool more; /* further pages through MDB_NEXT_MULTIPLE */
} dupstream;

static int ds_open(dupstream *d, MDB_cursor *cur)
{
    MDB_val k, v = {0, NULL};
    size_t cnt = 0;
    *d = (dupstream){.cur = cur};
    int rc = mdb_cursor_count(cur, &cnt);
    if (rc)
        return rc;
    /* a single value is inline: GET_MULTIPLE would answer from a stale sub-cursor (see each_dup) */
    rc = mdb_cursor_get(cur, &k, &v, cnt == 1 ? MDB_GET_CURRENT : MDB_GET_MULTIPLE);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    d->p = v.mv_data;
    d->n = v.mv_size / 8;
    d->more = cnt > 1;
    return 0;
}

/* Whether the stream has a seq at d->i, reading its next page when needed. */
static int ds_ready(dupstream *d, bool *has)
{
    *has = d->i < d->n;
    if (*has || !d->more)
        return 0;
    MDB_val k, v = {0, NULL};
    int rc = mdb_cursor_get(d->cur, &k, &v, MDB_NEXT_MULTIPLE);
    if (rc == MDB_NOTFOUND) {
        d->more = false;
        return 0;
    }
    if (rc)
        return rc;
    d->p = v.mv_data;
    d->n = v.mv_size / 8;
    d->i = 0;
    *has = d->n > 0;
    return 0;
}

/* Visit the seqs of the key levels `on` (a bit per level) are on, ascending:
 * straight from the one level that has it, else merged from each level's
 * ascending duplicates as they are read, so a walk that stops early (the
 * first page of a term query) reads no more than it visits. */
static int visit_key_seqs(vlevel *lv, unsigned on, bool desc, val_cb *cb, bool *stopped)
{
    int rc = 0;
    int only = -1, count = 0;
    for (int l = 0; l < STORE_VLEVELS; l++)
        if (on >> l & 1) {
            only = l;
            count++;
        }
    if (count == 1) {
        if (desc && (rc = mdb_cursor_get(lv[only].cur, &lv[only].k, &lv[only].v, MDB_FIRST_DUP)))
            return rc;
        return each_dup(lv[only].cur, 8, val_one, cb, stopped);
    }
    dupstream ds[STORE_VLEVELS];
    int nds = 0;
    for (int l = 0; l < STORE_VLEVELS; l++) {
        if (!(on >> l & 1))
            continue;
        if (desc && (rc = mdb_cursor_get(lv[l].cur, &lv[l].k, &lv[l].v, MDB_FIRST_DUP)))
            return rc;
        if ((rc = ds_open(&ds[nds++], lv[l].cur)))
            return rc;
    }
    for (size_t visited = 0;; visited++) {
        if ((visited & 1023) == 1023 && store_deadline_poll()) { /* the request's time is up or its client gone */
            *stopped = true;
            return 0;
        }
        int best = -1;
        uint64_t bv = 0;
        for (int i = 0; i < nds; i++) {
            bool has;
            if ((rc = ds_ready(&ds[i], &has)))
                return rc;
            if (!has)
                continue;
            uint64_t v = store_util_get_be64(ds[i].p + 8 * ds[i].i);
            if (best < 0 || v < bv) {
                best = i;
                bv = v;
            }
        }
        if (best < 0)
            return 0;
        ds[best].i++;
        if (!cb->fn(cb->val, cb->len, (int64_t)bv, cb->arg)) {
            *stopped = true;
            return 0;
        }
    }
}

bool store_engine_values(store_rtxn *r, const store_index_meta *m, const char *path, const void *lo, size_t lo_len,
                         bool lo_incl, const void *hi, size_t hi_len, bool hi_incl, bool desc,
                         bool (*fn)(const void *val, size_t len, int64_t seq, void *arg), void *arg)
{
    unsigned char kb[STORE_INDEX_MAX_KEY], prefix[STORE_INDEX_MAX_KEY];
    size_t pre = skey(prefix, m->number, path, true, NULL, 0);
    if (!pre)
        return true;
    /* Keys are in byte order of their value, except that values sharing
     * their first `cutn` bytes (cut keys) follow their digests: bounds are
     * checked against each whole value, and the walk stops only once a
     * key's visible part is past the end bound. The levels are walked
     * together, a key at a time, as one sorted sequence. */
    size_t cutn = VKEY_INLINE_MAX - pre;
    vlevel lv[STORE_VLEVELS] = {{0}};
    int rc = 0;
    bool opened = false;
    for (int l = 0; l < STORE_VLEVELS; l++)
        if (!cursor_open(r, r->e->dbi_vals[l], &lv[l].cur, "read values"))
            goto done;
    opened = true;
    const void *start = desc ? hi : lo;
    size_t start_len = desc ? hi_len : lo_len;
    bool start_incl = desc ? hi_incl : lo_incl;
    memcpy(kb, prefix, pre);
    size_t seekn = pre;
    if (start) {
        /* At or before every key whose value can be in range: the start cut
         * to the inline length (descending: followed by the largest digest). */
        size_t sl = start_len < cutn ? start_len : cutn;
        memcpy(kb + pre, start, sl);
        seekn = pre + sl;
        if (desc && start_len >= cutn) {
            memset(kb + pre + sl, 0xFF, HASH_LEN);
            seekn += HASH_LEN;
        }
    } else if (desc) {
        kb[pre - 1] = 1; /* just past this field's values */
    }
    for (int l = 0; l < STORE_VLEVELS; l++) {
        vlevel *x = &lv[l];
        x->k.mv_size = seekn;
        x->k.mv_data = kb;
        x->rc = mdb_cursor_get(x->cur, &x->k, &x->v, MDB_SET_RANGE);
        if (desc) {
            if (x->rc == MDB_NOTFOUND)
                x->rc = mdb_cursor_get(x->cur, &x->k, &x->v, MDB_LAST);
            else if (x->rc == 0 && bytes_cmp(x->k.mv_data, x->k.mv_size, kb, seekn) != 0)
                x->rc = mdb_cursor_get(x->cur, &x->k, &x->v, MDB_PREV_NODUP);
        }
        vlevel_check(x, prefix, pre);
    }
    const void *end = desc ? lo : hi;
    size_t end_len = desc ? lo_len : hi_len;
    bool end_incl = desc ? lo_incl : hi_incl;
    while (!store_deadline_poll()) {
        /* the next key in walk order, and the levels on it */
        int best = -1;
        unsigned on = 0;
        for (int l = 0; l < STORE_VLEVELS; l++) {
            if (lv[l].rc == MDB_NOTFOUND)
                continue;
            if (lv[l].rc) {
                rc = lv[l].rc;
                goto done;
            }
            int c = -1;
            if (best >= 0) {
                c = bytes_cmp(lv[l].k.mv_data, lv[l].k.mv_size, lv[best].k.mv_data, lv[best].k.mv_size);
                if (desc)
                    c = -c;
            }
            if (c < 0) {
                best = l;
                on = 1u << l;
            } else if (c == 0) {
                on |= 1u << l;
            }
        }
        if (best < 0)
            break;
        MDB_val k = lv[best].k;
        const char *val;
        size_t vl;
        bool cut = k.mv_size == STORE_INDEX_MAX_KEY;
        vkey_value(r->txn, r->e, &k, pre, &val, &vl);
        bool skip = false;
        if (start) {
            int c = bytes_cmp(val, vl, start, start_len);
            skip = desc ? (c > 0 || (c == 0 && !start_incl)) : (c < 0 || (c == 0 && !start_incl));
        }
        if (!skip && end) {
            int c = bytes_cmp(val, vl, end, end_len);
            if (desc ? (c < 0 || (c == 0 && !end_incl)) : (c > 0 || (c == 0 && !end_incl))) {
                const char *vis = (const char *)k.mv_data + pre;
                int side = cut ? cut_vs_bound(vis, cutn, end, end_len) : 0;
                if (!cut || (desc ? side < 0 : side > 0))
                    break;
                skip = true;
            }
        }
        if (!skip) {
            bool stopped = false;
            val_cb cb = {fn, arg, val, vl};
            if ((rc = visit_key_seqs(lv, on, desc, &cb, &stopped)) || stopped)
                goto done;
        }
        for (int l = 0; l < STORE_VLEVELS; l++)
            if (on >> l & 1) {
                lv[l].rc =
                    mdb_cursor_get(lv[l].cur, &lv[l].k, &lv[l].v, desc ? MDB_PREV_NODUP : MDB_NEXT_NODUP);
                vlevel_check(&lv[l], prefix, pre);
            }
    }
    rc = 0;
done:
    for (int l = 0; l < STORE_VLEVELS; l++)
        if (lv[l].cur)
            mdb_cursor_close(lv[l].cur);
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "read values");
        return false;
    }
    return opened;
}

typedef struct seq_cb {
    bool (*fn)(int64_t seq, void *arg);
    void *arg;
} seq_cb;

static bool seq_one(const unsigned char *d, void *arg)
{
    seq_cb *c = arg;
    return c->fn((int64_t)store_util_get_be64(d), c->arg);
}

bool store_engine_exists(store_rtxn *r, const store_index_meta *m, const char *path,
                         bool (*fn)(int64_t seq, void *arg), void *arg)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    MDB_val k = {skey(kb, m->number, path, false, NULL, 0), kb}, v;
    if (!k.mv_size)
        return true;
    MDB_cursor *cur;
    if (!cursor_open(r, r->e->dbi_exists, &cur, "read field presence"))
        return false;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
    bool stopped = false;
    seq_cb c = {fn, arg};
    if (rc == 0)
        rc = each_dup(cur, 8, seq_one, &c, &stopped);
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "read field presence");
        return false;
    }
    return true;
}

bool store_engine_seq_scan(store_rtxn *r, const store_index_meta *m, int64_t after,
                           bool (*fn)(int64_t seq, void *arg), void *arg)
{
    MDB_cursor *cur;
    if (!cursor_open(r, r->e->dbi_seqs, &cur, "scan documents"))
        return false;
    unsigned char kb[12];
    be32(kb, m->number);
    store_util_put_be64(kb + 4, (uint64_t)(after < 0 ? 0 : after + 1));
    MDB_val k = {12, kb}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, kb, 4) == 0) {
        if (store_deadline_poll() || !fn((int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 4), arg))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "scan documents");
        return false;
    }
    return true;
}

store_lookup store_engine_doc_by_seq(store_rtxn *r, const store_index_meta *m, int64_t seq, const char **id, size_t *id_len,
                                    store_doc_view *out)
{
    unsigned char kb[12];
    be32(kb, m->number);
    store_util_put_be64(kb + 4, (uint64_t)seq);
    MDB_val k = {12, kb}, v;
    int rc = mdb_get(r->txn, r->e->dbi_seqs, &k, &v);
    if (rc == MDB_NOTFOUND)
        return STORE_LOOKUP_MISSING;
    if (rc) {
        mlog(rc, "read document by seq");
        return STORE_LOOKUP_FAILED;
    }
    store_lookup found = store_engine_doc_get(r, m, v.mv_data, v.mv_size, out);
    if (found != STORE_LOOKUP_FOUND || out->st.seq_no != seq)
        return found == STORE_LOOKUP_FAILED ? STORE_LOOKUP_FAILED : STORE_LOOKUP_MISSING;
    *id = v.mv_data;
    *id_len = v.mv_size;
    return STORE_LOOKUP_FOUND;
}

/* ---- search structures: the writer's side --------------------------------- */

/* (contract in store_engine_int.h) */
int store_eng_search_apply(wctx *c, uint32_t number, int64_t seq, const store_doc_index *d, bool add)
{
    MDB_txn *txn = c->txn;
    store_engine *e = c->e;
    store_pbatch *pb = c->pb;
    unsigned char kb[STORE_INDEX_MAX_KEY], data[8];
    const char *t = d->text.data;
    int rc = 0;
    bool *hit = NULL;
    MDB_cursor *vcurs[STORE_VLEVELS] = {NULL}; /* removal of values: one per level, opened when first needed */
    if (!add && d->n && !(hit = calloc(d->n, 1)))
        return ENOMEM;
    store_util_put_be64(data, (uint64_t)seq);
    for (size_t i = 0; i < d->n && !rc; i++) {
        const store_ent *x = &d->ents[i];
        const char *path = t + x->path;
        MDB_val k;
        bool cut = false;
        switch (x->kind) {
        case STORE_ENT_POSTING: {
            /* queued: the batch writes each term once at the transaction's end */
            size_t kn = skey(kb, number, path, true, t + x->val, x->val_len);
            if (!kn)
                continue;
            if (!add && (i == 0 || d->ents[i - 1].kind != STORE_ENT_POSTING || strcmp(t + d->ents[i - 1].path, path))) {
                /* whether the field's entries were there (its statistics below) */
                int h = store_postings_has(pb, txn, &e->pdb, kb, kn, seq);
                if (h < 0) {
                    rc = -h;
                    break;
                }
                hit[i] = h > 0;
            }
            if (!store_pbatch_put(pb, kb, kn, seq, add, x->tf, x->len, d->pos + x->pos))
                rc = ENOMEM;
            continue;
        }
        case STORE_ENT_VALUE:
            k.mv_size = vkey(kb, number, path, t + x->val, x->val_len, &cut);
            break;
        case STORE_ENT_EXISTS: {
            size_t kn = skey(kb, number, path, false, NULL, 0);
            if (kn && !store_fbatch_exists(c->fb, kb, kn, seq, add))
                rc = ENOMEM;
            continue;
        }
        default: continue;
        }
        k.mv_data = kb;
        if (!k.mv_size)
            continue;
        if (add) {
            /* queued: the batch writes each value key once at the transaction's end */
            if (!store_fbatch_value(c->fb, kb, k.mv_size, seq))
                rc = ENOMEM;
            if (!rc && cut) {
                MDB_val lv = {x->val_len, (void *)(uintptr_t)(t + x->val)};
                rc = mdb_put(txn, e->dbi_longvals, &k, &lv, 0);
            }
            continue;
        }
        /* the entry is in the batch (written earlier in this transaction) or
         * in one level at most: newest first, where an overwrite soon after
         * the write finds it */
        bool gone = store_fbatch_value_unqueue(c->fb, kb, k.mv_size, seq);
        for (int l = STORE_VLEVELS - 1; l >= 0 && !rc && !gone; l--) {
            MDB_cursor **slot = &vcurs[l];
            if (!*slot && (rc = mdb_cursor_open(txn, e->dbi_vals[l], slot)))
                break;
            MDB_val kq = {k.mv_size, kb}, vq = {8, data};
            rc = mdb_cursor_get(*slot, &kq, &vq, MDB_GET_BOTH_RANGE);
            if (rc == 0 && vq.mv_size >= 8 && store_util_get_be64(vq.mv_data) == (uint64_t)seq) {
                rc = mdb_cursor_del(*slot, 0);
                gone = true;
            }
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        hit[i] = gone;
        if (!rc && gone && cut) { /* the value's last document takes its whole value with it */
            MDB_val kk = {k.mv_size, kb}, any;
            bool left = store_fbatch_value_queued(c->fb, kb, k.mv_size);
            for (int o = 0; o < STORE_VLEVELS && !rc && !left; o++) {
                rc = mdb_get(txn, e->dbi_vals[o], &kk, &any);
                left = rc == 0;
                if (rc == MDB_NOTFOUND)
                    rc = 0;
            }
            if (!rc && !left)
                rc = mdb_del(txn, e->dbi_longvals, &kk, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    }
    for (int l = 0; l < STORE_VLEVELS; l++)
        if (vcurs[l])
            mdb_cursor_close(vcurs[l]);
    for (size_t i = 0; i < d->n && !rc; i++) {
        const store_ent *x = &d->ents[i];
        if (x->kind != STORE_ENT_STAT)
            continue;
        const char *path = t + x->path;
        if (!add) {
            bool any = false;
            for (size_t j = 0; j < d->n && !any; j++)
                any = hit[j] && strcmp(t + d->ents[j].path, path) == 0; /* only postings and values set hit */
            if (!any)
                continue;
        }
        size_t kn = skey(kb, number, path, false, NULL, 0);
        if (kn && !store_fbatch_stat(c->fb, kb, kn, add ? 1 : -1, add ? (int64_t)x->len : -(int64_t)x->len))
            rc = ENOMEM;
    }
    free(hit);
    return rc;
}

/* Record (or forget) which id has search ordinal `seq`. */
int store_eng_seq_put(MDB_txn *txn, store_engine *e, uint32_t number, int64_t seq, const char *id, size_t id_len)
{
    unsigned char kb[12];
    be32(kb, number);
    store_util_put_be64(kb + 4, (uint64_t)seq);
    MDB_val k = {12, kb}, v = {id_len, (void *)id};
    if (id)
        return mdb_put(txn, e->dbi_seqs, &k, &v, 0);
    int rc = mdb_del(txn, e->dbi_seqs, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Entries level `l` (1 … STORE_VLEVELS - 1) may hold before moving some
 * to level l - 1. */
static size_t vlevel_limit(const store_engine *e, int l)
{
    size_t n = e->vlevel_entries;
    for (int i = l; i < STORE_VLEVELS - 1; i++)
        n *= STORE_VLEVEL_RATIO;
    return n;
}

/* Move every duplicate of key kb (kn bytes; `src` on its first remaining
 * one) into `dst`: one MDB_MULTIPLE put, one MDB_NODUPDATA delete, instead
 * of a put and a delete per document (reading them is the cheap part; the
 * page-at-a-time MDB_GET_MULTIPLE returned one page twice here). A
 * value many documents share (a tag, a status, a small number) costs about
 * what one entry does. `cnt`: the key's duplicates; `seqs`: scratch. */
static int move_dups(MDB_cursor *src, MDB_cursor *dst, const unsigned char *kb, size_t kn, size_t cnt, buf *seqs)
{
    buf_reset(seqs);
    MDB_val k, v;
    int rc = mdb_cursor_get(src, &k, &v, MDB_GET_CURRENT);
    while (rc == 0) {
        if (v.mv_size != 8)
            return MDB_CORRUPTED;
        if (!buf_append(seqs, v.mv_data, 8))
            return ENOMEM;
        rc = mdb_cursor_get(src, &k, &v, MDB_NEXT_DUP);
    }
    if (rc != MDB_NOTFOUND)
        return rc;
    if (seqs->len != cnt * 8)
        return MDB_CORRUPTED;
    if ((rc = store_fbatch_put_seqs(dst, kb, kn, (const unsigned char *)seqs->data, cnt)))
        return rc;
    k = (MDB_val){kn, (void *)kb};
    if ((rc = mdb_cursor_get(src, &k, &v, MDB_SET)))
        return rc;
    return mdb_cursor_del(src, MDB_NODUPDATA);
}

/* Move up to `want` entries of level `l` into level l - 1, in key order
 * from where the last move of this level stopped (wrapping at the end), so
 * that successive moves sweep the level's key space and each one rewrites
 * only the older level's pages in the range it covers. A key with several
 * documents moves whole (move_dups) while the transaction's total stays
 * within STORE_VLEVEL_MOVE_MAX, which may pass `want`. */
static int vlevel_move(MDB_txn *txn, store_engine *e, int l, size_t want)
{
    MDB_cursor *src, *dst;
    int rc = mdb_cursor_open(txn, e->dbi_vals[l], &src);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(txn, e->dbi_vals[l - 1], &dst))) {
        mdb_cursor_close(src);
        return rc;
    }
    unsigned char kb[STORE_INDEX_MAX_KEY], vb[8];
    buf seqs = BUF_INIT;
    MDB_val k = {e->vmove_len[l], e->vmove_at[l]}, v;
    rc =
        e->vmove_len[l] ? mdb_cursor_get(src, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(src, &k, &v, MDB_FIRST);
    bool wrapped = e->vmove_len[l] == 0;
    size_t moved = 0, k_last = 0;
    while (moved < want) {
        if (rc == MDB_NOTFOUND && !wrapped) {
            wrapped = true;
            rc = mdb_cursor_get(src, &k, &v, MDB_FIRST);
        }
        if (rc)
            break;
        if (k.mv_size > sizeof kb || v.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        /* a key not seen yet in this move: the cursor is on its first remaining duplicate */
        bool fresh = !moved || k.mv_size != k_last || memcmp(k.mv_data, kb, k_last) != 0;
        size_t cnt = 1;
        if (fresh && (rc = mdb_cursor_count(src, &cnt)))
            break;
        /* copies: the put below may move the pages k and v point into */
        memcpy(kb, k.mv_data, k.mv_size);
        memcpy(vb, v.mv_data, 8);
        k_last = k.mv_size;
        if (cnt > 1 && moved + cnt <= STORE_VLEVEL_MOVE_MAX) {
            if ((rc = move_dups(src, dst, kb, k_last, cnt, &seqs)))
                break;
            moved += cnt;
            k = (MDB_val){k_last, kb}; /* the key is gone: on to the next one */
            rc = mdb_cursor_get(src, &k, &v, MDB_SET_RANGE);
            continue;
        }
        MDB_val ck = {k_last, kb}, cv = {8, vb};
        /* through one cursor: the keys come in order, and LMDB looks for the
         * next one in the page the cursor is on before searching from the root */
        if ((rc = mdb_cursor_put(dst, &ck, &cv, 0)) || (rc = mdb_cursor_del(src, 0)))
            break;
        moved++;
        rc =
            mdb_cursor_get(src, &k, &v, MDB_NEXT); /* after a delete LMDB's NEXT yields the following entry */
    }
    buf_free(&seqs);
    mdb_cursor_close(src);
    mdb_cursor_close(dst);
    if (moved) { /* the next move starts after the last key moved (kb holds it) */
        memcpy(e->vmove_at[l], kb, sizeof kb);
        e->vmove_len[l] = k_last;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_eng_values_compact(MDB_txn *txn, store_engine *e)
{
    for (int l = STORE_VLEVELS - 1; l >= 1; l--) {
        MDB_stat st;
        int rc = mdb_stat(txn, e->dbi_vals[l], &st);
        if (rc)
            return rc;
        size_t limit = vlevel_limit(e, l);
        if (st.ms_entries <= limit)
            continue;
        /* a little past the limit, so a level just over it does not move a
         * handful of entries in every transaction */
        size_t want = st.ms_entries - limit + limit / 16;
        if (want > STORE_VLEVEL_MOVE_MAX)
            want = STORE_VLEVEL_MOVE_MAX;
        if ((rc = vlevel_move(txn, e, l, want)))
            return rc;
    }
    return 0;
}

/* Delete every entry of index `number` in `dbi` (all dups of each key). */
int store_eng_delete_prefix(MDB_txn *txn, MDB_dbi dbi, uint32_t number, bool dups)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return rc;
    unsigned char kb[4];
    be32(kb, number);
    MDB_val k = {4, kb}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= 4 && memcmp(k.mv_data, kb, 4) == 0) {
        if ((rc = mdb_cursor_del(cur, dups ? MDB_NODUPDATA : 0)))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* after a delete LMDB's NEXT yields the following entry */
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Index every live document of `ent` into the search structures. */
static int upgrade_index(wctx *c, cache_ent *ent, int64_t *docs)
{
    store_mapping *map;
    MDB_cursor *cur;
    int rc = store_eng_ent_mapping(c, ent, &map);
    if (rc || (rc = mdb_cursor_open(c->txn, c->e->dbi_docs, &cur)))
        return rc;
    unsigned char prefix[4];
    be32(prefix, ent->m.number);
    MDB_val k = {4, prefix}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= 4 && memcmp(k.mv_data, prefix, 4) == 0) {
        const unsigned char *p = v.mv_data;
        if (v.mv_size < DOC_HDR) {
            rc = MDB_CORRUPTED;
            break;
        }
        uint32_t flags = get_u32(p + 32), idl = get_u32(p + 36);
        if (!(flags & FLAG_DELETED)) {
            const char *id = (const char *)k.mv_data + 4, *etype;
            size_t id_len = k.mv_size - 4, off = DOC_HDR;
            if (flags & FLAG_LONG_ID) {
                id = (const char *)p + DOC_HDR;
                id_len = idl;
                off += idl;
            }
            buf_reset(&c->reason);
            /* A document the inferred mapping cannot take is indexed as far as it fits. */
            if (!store_index_doc(map, (const char *)p + off, v.mv_size - off, id, id_len, false, &c->dnew, &etype,
                                 &c->reason) &&
                !store_index_doc(map, (const char *)p + off, v.mv_size - off, id, id_len, true, &c->dnew, &etype,
                                 &c->reason)) {
                rc = ENOMEM;
                break;
            }
            ent->map_dirty |= c->dnew.mapping_changed;
            int64_t seq = get_i64(p + 8);
            if ((rc = store_eng_search_apply(c, ent->m.number, seq, &c->dnew, true)) ||
                (rc = store_eng_seq_put(c->txn, c->e, ent->m.number, seq, id, id_len)))
                break;
            ++*docs;
            /* bounded memory: the batch is written every so many documents */
            if ((store_pbatch_pending(c->pb) >= 1000000 || store_fbatch_pending(c->fb) >= 1000000) &&
                (rc = store_eng_batch_flush(c)))
                break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Data directories written before verstore kept search structures get them
 * built once, at the first start of a version that has them. */
/* search_format 1: text analysed by the ASCII analyser verstore had before
 * store_analysis; 2: by store_analysis, one LMDB duplicate per (term,
 * document) in "postings"; 3: postings in per-term compressed blocks with
 * positions (store_postings). A directory at an older format drops its
 * search structures and builds them again from the documents, once, in the
 * one transaction that opens it (a crash during it leaves the old format,
 * and the next start converts again). One written by a newer verstore is
 * refused rather than misread. */
/* 4: exact values in levels (STORE_VLEVELS); 5: postings blocks in two
 * levels (store_postings.h); 6: block headers with impacts; 7: postings
 * packed in columns. A format-3 to -6 directory's values and blocks are the
 * oldest levels as they are, its block headers read as one impact each and
 * its varint postings as they are (each block gets impacts and columns of
 * its own when it is next written), so it only gets the format number: a
 * verstore of before format 7 would misread the new blocks. */
/* 8: the standard tokenizer breaks words at '@', as Lucene's does (ICU's
 * rules, which formats 7 and before followed, keep "john@example.com"
 * whole). A format-3 to -7 directory whose dictionary holds a term with
 * '@' is indexed again from its documents, as an older one; one without
 * such a term is indexed as format 8 would index it and only gets the
 * number. */
#define SEARCH_FORMAT 8

/* Whether a term of the dictionary (not its field path) holds '@'. 0 or an
 * LMDB error. */
static int terms_hold_at(MDB_txn *txn, store_engine *e, bool *out)
{
    *out = false;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, e->pdb.terms, &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && !*out; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        /* index number | path (inline, never holding a 0, or 0xFF and its
         * digest) | 0 | term: see skey_path */
        const unsigned char *p = k.mv_data;
        size_t o = 4;
        if (k.mv_size > 4 && p[4] == 0xFF)
            o = 5 + HASH_LEN;
        else
            while (o < k.mv_size && p[o])
                o++;
        *out = o < k.mv_size && memchr(p + o, '@', k.mv_size - o) != NULL;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_eng_search_upgrade(store_engine *e, MDB_txn *txn)
{
    MDB_val k = {13, "search_format"}, v;
    int rc = mdb_get(txn, e->dbi_meta, &k, &v);
    uint32_t had = 0;
    if (rc == 0 && v.mv_size == 4)
        memcpy(&had, v.mv_data, 4);
    if (rc == 0 && had == SEARCH_FORMAT)
        return 0;
    if (rc == 0 && had > SEARCH_FORMAT) {
        log_error("the search structures in this data directory are in format %u, newer than this verstore's %u: "
                  "run the verstore that wrote it, or reindex into a fresh data directory",
                  had, (unsigned)SEARCH_FORMAT);
        return MDB_VERSION_MISMATCH;
    }
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    uint32_t format = SEARCH_FORMAT;
    if (rc == 0 && had >= 3) {
        bool at;
        if ((rc = terms_hold_at(txn, e, &at)))
            return rc;
        if (!at) {
            v.mv_size = 4;
            v.mv_data = &format;
            return mdb_put(txn, e->dbi_meta, &k, &v, 0);
        }
        log_info("the search structures are in format %u, whose standard tokenizer kept words joined by '@' "
                 "whole (\"john@example.com\"): indexing the stored documents again for format %u, which splits "
                 "them as Elasticsearch does",
                 had, (unsigned)SEARCH_FORMAT);
    } else if (rc == 0) {
        log_info("the search structures are in format %u (%s): converting them to format %u (per-term "
                 "compressed postings with positions, in levels as the exact values) from the stored documents",
                 had, had < 2 ? "ASCII analyser" : "one entry per term and document", (unsigned)SEARCH_FORMAT);
    }
    if (rc == 0) {
        MDB_dbi dbis[] = {e->pdb.terms, e->pdb.blocks, e->pdb.recent, e->dbi_exists, e->dbi_seqs, e->dbi_fstats};
        for (size_t i = 0; i < sizeof dbis / sizeof *dbis; i++)
            if ((rc = mdb_drop(txn, dbis[i], 0)))
                return rc;
        for (int l = 0; l < STORE_VLEVELS; l++)
            if ((rc = mdb_drop(txn, e->dbi_vals[l], 0)))
                return rc;
    }
    /* format 2's postings database goes entirely */
    MDB_dbi old;
    rc = mdb_dbi_open(txn, "postings", MDB_DUPSORT | MDB_DUPFIXED, &old);
    if (rc == 0 && (rc = mdb_drop(txn, old, 1)))
        return rc;
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    wctx c;
    if (!store_eng_wctx_init(&c, e, txn)) {
        store_eng_wctx_free(&c);
        return ENOMEM;
    }
    MDB_cursor *cur;
    int64_t docs = 0;
    if ((rc = mdb_cursor_open(txn, e->dbi_indices, &cur))) {
        store_eng_wctx_free(&c);
        return rc;
    }
    MDB_val ik, iv;
    for (rc = mdb_cursor_get(cur, &ik, &iv, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &ik, &iv, MDB_NEXT)) {
        char name[STORE_MAX_INDEX_NAME + 1];
        cache_ent *ent;
        if (ik.mv_size > STORE_MAX_INDEX_NAME)
            continue;
        memcpy(name, ik.mv_data, ik.mv_size);
        name[ik.mv_size] = '\0';
        if ((rc = store_eng_cache_get(&c, name, &ent)) || (rc = upgrade_index(&c, ent, &docs)))
            break;
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (!rc)
        rc = store_eng_batch_flush(&c);
    if (!rc)
        rc = store_eng_cache_flush(&c);
    v.mv_size = 4;
    v.mv_data = &format;
    if (!rc)
        rc = mdb_put(txn, e->dbi_meta, &k, &v, 0);
    if (!rc && c.n)
        log_info("built the search structures of %zu existing index(es), %" PRId64 " document(s)", c.n, docs);
    store_eng_wctx_free(&c);
    return rc;
}
