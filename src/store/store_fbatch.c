/* store_fbatch — a write transaction's new exact values, field presence entries and field statistics, each key written once at its end. */
#include "versync/store/store_fbatch.h"

#include "versync/common/buf.h"
#include "versync/common/grow.h"
#include "versync/store/store_engine_int.h"
#include "versync/store/store_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One queued change of document `seq` under a key (presence: added or
 * removed; value: added, or taken back); `ord` is its place in the
 * transaction, so that the last change of a seq wins, as if each had been
 * written at once. */
typedef struct op {
    int64_t seq;
    uint32_t ord;
    bool add;
} op;

typedef struct fkey {
    size_t key, kn; /* the key's bytes in store_fbatch.keys */
    bool value;     /* an exact-value key: ops are additions (add false: taken back) */
    op one;         /* the first op: most value keys (ids, times) get one */
    op *more;       /* all ops once there are two (heap) */
    size_t nops, cap;
    bool sorted;       /* ops ascending by seq (adds come in seq order) */
    int64_t docs, len; /* statistics change */
} fkey;

struct store_fbatch {
    fkey *k;
    size_t nk, kcap;
    size_t *h, hcap; /* open addressing: index + 1 into k, 0 empty */
    buf keys;
    buf adds; /* put_ops' big-endian seqs, reused */
    size_t pending;
};

store_fbatch *store_fbatch_new(void) { return calloc(1, sizeof(store_fbatch)); }

static void reset(store_fbatch *b)
{
    for (size_t i = 0; i < b->nk; i++)
        free(b->k[i].more);
    b->nk = 0;
    b->pending = 0;
    buf_reset(&b->keys);
    if (b->h)
        memset(b->h, 0, b->hcap * sizeof *b->h);
}

void store_fbatch_free(store_fbatch *b)
{
    if (!b)
        return;
    reset(b);
    free(b->k);
    free(b->h);
    buf_free(&b->keys);
    buf_free(&b->adds);
    free(b);
}

size_t store_fbatch_pending(const store_fbatch *b) { return b ? b->pending : 0; }

static op *ops(fkey *f) { return f->more ? f->more : &f->one; }

static uint64_t key_hash(size_t i, const void *arg)
{
    const store_fbatch *b = arg;
    return store_util_hash(b->keys.data + b->k[i].key, b->k[i].kn);
}

/* The entry of field key `key`, made on first use; NULL out of memory. A
 * batch holds a few keys per field of the indices it writes, so the table
 * stays small, but a dynamic mapping may bring up to its field limit. */
static fkey *find(store_fbatch *b, bool value, const void *key, size_t kn, bool create)
{
    if (create && (b->nk + 1) * 2 > b->hcap && !store_util_htab_fit(&b->h, &b->hcap, b->nk, 64, key_hash, b))
        return NULL;
    if (!b->hcap)
        return NULL;
    size_t s = store_util_hash(key, kn) & (b->hcap - 1);
    for (; b->h[s]; s = (s + 1) & (b->hcap - 1)) {
        fkey *f = &b->k[b->h[s] - 1];
        if (f->kn == kn && f->value == value && memcmp(b->keys.data + f->key, key, kn) == 0)
            return f;
    }
    if (!create || !GROW_ARRAY(b->k, b->kcap, b->nk + 1, 32))
        return NULL;
    size_t off = b->keys.len;
    if (!buf_append(&b->keys, key, kn))
        return NULL;
    b->k[b->nk] = (fkey){.key = off, .kn = kn, .value = value, .sorted = true};
    b->h[s] = ++b->nk;
    return &b->k[b->nk - 1];
}

static bool queue(store_fbatch *b, bool value, const void *key, size_t kn, int64_t seq, bool add)
{
    fkey *f = find(b, value, key, kn, true);
    if (!f)
        return false;
    if (f->nops && !GROW_ARRAY(f->more, f->cap, f->nops + 1, 8))
        return false;
    if (f->nops == 1) /* the second op: the list takes over from the inline one */
        f->more[0] = f->one;
    op *o = ops(f);
    if (f->nops && o[f->nops - 1].seq > seq)
        f->sorted = false;
    o[f->nops] = (op){seq, (uint32_t)f->nops, add};
    f->nops++;
    b->pending++;
    return true;
}

bool store_fbatch_exists(store_fbatch *b, const void *key, size_t kn, int64_t seq, bool add)
{
    return queue(b, false, key, kn, seq, add);
}

bool store_fbatch_value(store_fbatch *b, const void *key, size_t kn, int64_t seq)
{
    return queue(b, true, key, kn, seq, true);
}

/* The queued, not taken back, addition of (key, seq), or NULL. */
static op *value_op(store_fbatch *b, const void *key, size_t kn, int64_t seq)
{
    fkey *f = find(b, true, key, kn, false);
    if (!f)
        return NULL;
    op *o = ops(f);
    if (f->sorted) { /* the usual case: binary search */
        size_t lo = 0, hi = f->nops;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (o[mid].seq < seq)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < f->nops && o[lo].seq == seq; lo++)
            if (o[lo].add)
                return &o[lo];
        return NULL;
    }
    for (size_t i = 0; i < f->nops; i++)
        if (o[i].seq == seq && o[i].add)
            return &o[i];
    return NULL;
}

bool store_fbatch_value_unqueue(store_fbatch *b, const void *key, size_t kn, int64_t seq)
{
    op *o = value_op(b, key, kn, seq);
    if (o)
        o->add = false;
    return o != NULL;
}

bool store_fbatch_value_queued(store_fbatch *b, const void *key, size_t kn)
{
    fkey *f = find(b, true, key, kn, false);
    for (size_t i = 0; f && i < f->nops; i++)
        if (ops(f)[i].add)
            return true;
    return false;
}

bool store_fbatch_stat(store_fbatch *b, const void *key, size_t kn, int64_t docs, int64_t len)
{
    fkey *f = find(b, false, key, kn, true);
    if (!f)
        return false;
    f->docs += docs;
    f->len += len;
    return true;
}

static int op_cmp(const void *a, const void *b)
{
    const op *x = a, *y = b;
    if (x->seq != y->seq)
        return (x->seq > y->seq) - (x->seq < y->seq);
    return (x->ord > y->ord) - (x->ord < y->ord);
}

/* LMDB's default key order (bytewise, then shorter first), so that one
 * cursor walks the keys forward. */
static int key_cmp(const void *a, const void *b, void *arg)
{
    const store_fbatch *fb = arg;
    const fkey *x = &fb->k[*(const size_t *)a], *y = &fb->k[*(const size_t *)b];
    int c = memcmp(fb->keys.data + x->key, fb->keys.data + y->key, x->kn < y->kn ? x->kn : y->kn);
    return c ? c : (x->kn > y->kn) - (x->kn < y->kn);
}

/* One key's queued changes. A presence key: each seq's last change wins
 * (an entry added and removed in the same transaction is never written),
 * removals are deleted one by one. A value key: the additions not taken
 * back. The additions then go in with one call where they can. */
static int put_ops(store_fbatch *b, MDB_cursor *cur, const void *kp, size_t kn, fkey *f)
{
    op *o = ops(f);
    if (!f->sorted)
        qsort(o, f->nops, sizeof *o, op_cmp);
    size_t nadd = 0;
    b->adds.len = 0;
    int rc = 0;
    for (size_t i = 0; i < f->nops && !rc;) {
        int64_t seq = o[i].seq;
        bool add = false;
        for (; i < f->nops && o[i].seq == seq; i++)
            add = f->value ? add || o[i].add : o[i].add;
        unsigned char sb[8];
        store_util_put_be64(sb, (uint64_t)seq);
        if (add) {
            if (!buf_append(&b->adds, sb, 8))
                return ENOMEM;
            nadd++;
        } else if (!f->value) {
            MDB_val k = {kn, (void *)kp}, v = {8, sb};
            rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH);
            if (rc == 0)
                rc = mdb_cursor_del(cur, 0);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
    }
    if (rc || !nadd)
        return rc;
    return store_fbatch_put_seqs(cur, kp, kn, (const unsigned char *)b->adds.data, nadd);
}

int store_fbatch_put_seqs(MDB_cursor *cur, const void *kp, size_t kn, const unsigned char *seqs, size_t n)
{
    MDB_val k = {kn, (void *)kp};
    int rc;
    if (n > 1) {
        /* New documents' seqs are larger than any the key holds: all of
         * them go in at the end of its duplicates in one call (MDB_MULTIPLE,
         * as the databases are MDB_DUPFIXED), without a search each. */
        MDB_val lv;
        bool have = false, after = true;
        rc = mdb_cursor_get(cur, &k, &lv, MDB_SET);
        if (rc == 0)
            rc = mdb_cursor_get(cur, &k, &lv, MDB_LAST_DUP);
        if (rc == 0) {
            have = true;
            after = lv.mv_size == 8 && memcmp(lv.mv_data, seqs, 8) < 0;
        } else if (rc != MDB_NOTFOUND) {
            return rc;
        }
        k = (MDB_val){kn, (void *)kp};
        if (after) {
            MDB_val v[2] = {{8, (void *)seqs}, {n, NULL}};
            return mdb_cursor_put(cur, &k, v, MDB_MULTIPLE | (have ? MDB_APPENDDUP : 0));
        }
    }
    /* one seq, or older ones (a directory being indexed again): one by one,
     * the keys coming in order, so LMDB finds each next to the last */
    rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        MDB_val v = {8, (void *)(seqs + 8 * i)};
        rc = mdb_cursor_put(cur, &k, &v, 0);
        if (rc == MDB_KEYEXIST)
            rc = 0;
    }
    return rc;
}

/* One key's statistics record changed by (docs, len); gone at 0 documents. */
static int put_stat(MDB_txn *txn, MDB_dbi fstats, const void *kp, size_t kn, const fkey *f)
{
    MDB_val k = {kn, (void *)kp}, v;
    int64_t docs = 0, sum = 0;
    int rc = mdb_get(txn, fstats, &k, &v);
    if (rc == 0 && v.mv_size == 16) {
        docs = get_i64(v.mv_data);
        sum = get_i64((const unsigned char *)v.mv_data + 8);
    } else if (rc && rc != MDB_NOTFOUND) {
        return rc;
    }
    docs += f->docs;
    sum += f->len;
    if (docs <= 0) {
        rc = mdb_del(txn, fstats, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    unsigned char vb[16];
    put_i64(vb, docs);
    put_i64(vb + 8, sum < 0 ? 0 : sum);
    v = (MDB_val){16, vb};
    return mdb_put(txn, fstats, &k, &v, 0);
}

int store_fbatch_flush(store_fbatch *b, MDB_txn *txn, MDB_dbi exists, MDB_dbi fstats, MDB_dbi values)
{
    if (!b || !b->nk)
        return 0;
    int rc = 0;
    MDB_cursor *cur[2] = {NULL, NULL}; /* presence, values */
    MDB_dbi dbi[2] = {exists, values};
    size_t *ord = malloc(grow_mul(b->nk, sizeof *ord));
    if (!ord)
        return ENOMEM;
    for (size_t i = 0; i < b->nk; i++)
        ord[i] = i;
    qsort_r(ord, b->nk, sizeof *ord, key_cmp, b);
    for (size_t i = 0; i < b->nk && !rc; i++) {
        fkey *f = &b->k[ord[i]];
        const char *kp = b->keys.data + f->key;
        if (f->nops && !cur[f->value] && (rc = mdb_cursor_open(txn, dbi[f->value], &cur[f->value])))
            break;
        if (f->nops)
            rc = put_ops(b, cur[f->value], kp, f->kn, f);
        if (!rc && (f->docs || f->len))
            rc = put_stat(txn, fstats, kp, f->kn, f);
    }
    for (int c = 0; c < 2; c++)
        if (cur[c])
            mdb_cursor_close(cur[c]);
    free(ord);
    if (!rc)
        reset(b);
    return rc;
}
