/* store_postings — text postings as compressed per-term blocks in LMDB, each term's blocks written once per batch. */
#include "versync/store/store_postings.h"

#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/store/store_util.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- varints ---------------------------------------------------------------- */

size_t store_postings_put_varint(unsigned char *out, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (unsigned char)v;
    return n;
}

size_t store_postings_get_varint(const unsigned char *p, size_t n, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        uint64_t b = p[i] & 0x7f;
        if (i == 9 && b > 1)
            return 0;
        r |= b << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

/* ---- one posting, decoded ------------------------------------------------------ */

/* pos points into a decoded block's positions or the batch's; the same
 * type as the readers', so a cursor can lend its decoded block. */
typedef store_posting post;

/* A block decoded: postings and their positions (pos indexes `pv`). */
typedef struct dec {
    post *p;
    size_t n, cap;
    uint32_t *pv;
    size_t npv, pvcap;
    size_t *pidx; /* start of each posting's positions in pv (pv may move while decoding) */
    size_t pidxcap;
    bool nopos; /* positions are stepped over, not kept: every pos is NULL */
    /* lazy: a packed block's positions stay in it until asked for
     * (store_pcursor_positions), its postings' pos NULL; raw is then that
     * block (NULL: the block was decoded whole), whose positions start at
     * pstart, and posting li's at loff (the scan's resume point) */
    bool lazy;
    const unsigned char *raw;
    size_t rawn, pstart, li, loff;
    uint32_t *lbuf; /* the positions handed out last */
    size_t lcap;
} dec;

static void dec_free(dec *d)
{
    free(d->p);
    free(d->pv);
    free(d->pidx);
    free(d->lbuf);
    memset(d, 0, sizeof *d);
}

static void blk_key(unsigned char *k, uint64_t id, int64_t first)
{
    store_util_put_be64(k, id);
    store_util_put_be64(k + 8, (uint64_t)first);
}

/* One varint at p[*o] (of n bytes); false when it is cut or too long.
 * Most values are below 128: that case is one compare. */
static inline bool vi(const unsigned char *p, size_t n, size_t *o, uint64_t *v)
{
    if (*o < n && p[*o] < 0x80) {
        *v = p[(*o)++];
        return true;
    }
    size_t k = store_postings_get_varint(p + *o, n - *o, v);
    *o += k;
    return k != 0;
}

/* Header flag (above the count and the impacts number): the postings are
 * in packed columns (format 7), not one varint run per posting. */
#define BLK_PACKED 1u
/* The widest packed value: a seq delta past it starts a block of its own. */
#define PACK_MAX_BITS 32

/* The header of block p[0..n) (store_postings.h): its posting count into
 * *cnt, whether its postings are in packed columns into *packed and, when b
 * is not NULL, its impacts into b. The offset of what follows the header,
 * 0 when it is corrupt. */
static size_t read_header(const unsigned char *p, size_t n, uint64_t *cnt, bool *packed, store_pblock *b)
{
    size_t o = 0;
    uint64_t h;
    if (!vi(p, n, &o, &h))
        return 0;
    *cnt = h & 0xff;
    uint64_t ni = (h >> 8) & 0xf, flags = h >> 12;
    if (ni == 0) /* written before format 6: one pair */
        ni = 1;
    if (ni > STORE_PBLOCK_IMPACTS || *cnt > n || (flags & ~(uint64_t)BLK_PACKED))
        return 0;
    *packed = flags & BLK_PACKED;
    for (uint64_t i = 0; i < ni; i++) {
        uint64_t tf, len;
        if (!vi(p, n, &o, &tf) || !vi(p, n, &o, &len) || tf > UINT32_MAX || len > UINT32_MAX)
            return 0;
        if (b) {
            b->impacts[i].tf = (uint32_t)tf;
            b->impacts[i].len = (uint32_t)len;
        }
    }
    if (b)
        b->nimpacts = (size_t)ni;
    return o;
}

/* A posting's tf varint position deltas at p[*o] (of n bytes), summed into
 * out[0..tf) (out NULL: checked and stepped over). False when they are cut
 * short or overflow. */
static bool read_positions(const unsigned char *p, size_t n, size_t *o, uint64_t tf, uint32_t *out)
{
    if (tf > n - *o) /* each takes at least a byte */
        return false;
    uint32_t at = 0;
    for (uint64_t j = 0; j < tf; j++) {
        uint64_t dp;
        if (!vi(p, n, o, &dp) || dp > UINT32_MAX - at)
            return false;
        at += (uint32_t)dp;
        if (out)
            out[j] = at;
    }
    return true;
}

/* Bytes of cnt values of w bits. */
static inline size_t pack_bytes(size_t cnt, unsigned w)
{
    return (cnt * w + 7) / 8;
}

/* cnt values of w (≤ PACK_MAX_BITS) bits each, least significant first,
 * from p, which has `avail` bytes readable (at least pack_bytes): eight at
 * a time (w bytes) with one unaligned load each while eight more bytes
 * are there, a byte at a time at the end. Inlined per width, so that the
 * shifts and offsets are constants. */
static inline __attribute__((always_inline)) void unpack_w(const unsigned char *p, size_t avail, unsigned w,
                                                            size_t cnt, uint32_t *out)
{
    const uint64_t mask = ((uint64_t)1 << w) - 1;
    size_t i = 0;
    for (; i + 8 <= cnt && (i * w >> 3) + w + 8 <= avail; i += 8) {
        const unsigned char *g = p + (i * w >> 3); /* i is a multiple of 8: a byte boundary */
#pragma GCC unroll 8
        for (unsigned k = 0; k < 8; k++) {
            uint64_t x;
            memcpy(&x, g + (k * w >> 3), 8);
            out[i + k] = (uint32_t)((le64toh(x) >> (k * w & 7)) & mask);
        }
    }
    for (size_t bit = i * w; i < cnt; i++, bit += w) {
        uint64_t x = 0;
        for (size_t k = 0, at = bit >> 3; k < 5 && at + k < avail; k++)
            x |= (uint64_t)p[at + k] << (8 * k);
        out[i] = (uint32_t)((x >> (bit & 7)) & mask);
    }
}

static void unpack(const unsigned char *p, size_t avail, unsigned w, size_t cnt, uint32_t *out)
{
    switch (w) {
    case 0:
        memset(out, 0, cnt * sizeof *out);
        return;
#define UNPACK_CASE(n)                                                                                                 \
    case n:                                                                                                            \
        unpack_w(p, avail, n, cnt, out);                                                                               \
        return;
        UNPACK_CASE(1)
        UNPACK_CASE(2)
        UNPACK_CASE(3)
        UNPACK_CASE(4)
        UNPACK_CASE(5)
        UNPACK_CASE(6)
        UNPACK_CASE(7)
        UNPACK_CASE(8)
        UNPACK_CASE(9)
        UNPACK_CASE(10)
        UNPACK_CASE(11)
        UNPACK_CASE(12)
#undef UNPACK_CASE
    default:
        unpack_w(p, avail, w, cnt, out);
    }
}

/* Write cnt values of w bits each at o (pack_bytes(cnt, w) bytes). */
static size_t pack(unsigned char *o, const uint32_t *v, size_t cnt, unsigned w)
{
    size_t at = 0;
    uint64_t acc = 0;
    unsigned have = 0;
    for (size_t i = 0; i < cnt && w; i++) {
        acc |= (uint64_t)v[i] << have;
        for (have += w; have >= 8; have -= 8, acc >>= 8)
            o[at++] = (unsigned char)acc;
    }
    if (have)
        o[at++] = (unsigned char)acc;
    return at;
}

static inline unsigned bits_of(uint64_t v)
{
    return v ? 64 - (unsigned)__builtin_clzll(v) : 0;
}

/* The postings of a packed block (p[o..n), cnt of them, the first at seq
 * `first`) into d, its positions only when d wants them. Three width
 * bytes, then the columns: cnt - 1 seq deltas, cnt values tf - 1, cnt
 * field lengths, then each posting's tf varint position deltas. 0 or
 * MDB_CORRUPTED. */
static int dec_packed(dec *d, int64_t first, const unsigned char *p, size_t n, size_t o, size_t cnt)
{
    uint32_t ds[STORE_POSTINGS_BLOCK_DOCS], tf[STORE_POSTINGS_BLOCK_DOCS], len[STORE_POSTINGS_BLOCK_DOCS];
    if (cnt == 0 || cnt > STORE_POSTINGS_BLOCK_DOCS || n - o < 3)
        return MDB_CORRUPTED;
    unsigned wd = p[o], wt = p[o + 1], wl = p[o + 2];
    o += 3;
    if (wd > PACK_MAX_BITS || wt > PACK_MAX_BITS || wl > PACK_MAX_BITS)
        return MDB_CORRUPTED;
    size_t bd = pack_bytes(cnt - 1, wd), bt = pack_bytes(cnt, wt), bl = pack_bytes(cnt, wl);
    if (n - o < bd + bt + bl)
        return MDB_CORRUPTED;
    unpack(p + o, n - o, wd, cnt - 1, ds);
    o += bd;
    unpack(p + o, n - o, wt, cnt, tf);
    o += bt;
    unpack(p + o, n - o, wl, cnt, len);
    o += bl;
    size_t base = d->n;
    int64_t seq = first;
    for (size_t i = 0; i < cnt; i++) {
        if (tf[i] == UINT32_MAX)
            return MDB_CORRUPTED;
        seq += i ? (int64_t)ds[i - 1] : 0;
        d->p[d->n++] = (post){seq, tf[i] + 1, len[i], NULL};
    }
    if (d->nopos) /* a scorer's walk: the positions are not even read */
        return 0;
    if (d->lazy) { /* read when asked for, posting by posting */
        d->raw = p, d->rawn = n, d->pstart = d->loff = o, d->li = base;
        return 0;
    }
    for (size_t i = base; i < d->n; i++) {
        d->pidx[i] = d->npv;
        if (!read_positions(p, n, &o, d->p[i].tf, d->pv + d->npv))
            return MDB_CORRUPTED;
        d->npv += d->p[i].tf;
    }
    if (o != n)
        return MDB_CORRUPTED;
    for (size_t i = base; i < d->n; i++) /* pv is final now */
        d->p[i].pos = d->pv + d->pidx[i];
    return 0;
}

/* Decode block `v` (first seq `first`) into d (appending). 0 or MDB_CORRUPTED/ENOMEM. */
static int dec_block(dec *d, int64_t first, const MDB_val *v)
{
    const unsigned char *p = v->mv_data;
    size_t n = v->mv_size, o;
    uint64_t cnt;
    bool packed;
    if (!(o = read_header(p, n, &cnt, &packed, NULL)))
        return MDB_CORRUPTED;
    /* every posting and position takes at least a byte: n bounds them all */
    if (!GROW_ARRAY(d->p, d->cap, d->n + cnt, 128) ||
        (!d->nopos && (!GROW_ARRAY(d->pidx, d->pidxcap, d->n + cnt, 128) ||
                       !GROW_ARRAY(d->pv, d->pvcap, d->npv + n, 256))))
        return ENOMEM;
    d->raw = NULL;
    if (packed)
        return dec_packed(d, first, p, n, o, (size_t)cnt);
    /* written before format 7: per posting varint seq delta, tf, length, positions */
    size_t base = d->n;
    int64_t seq = first;
    for (uint64_t i = 0; i < cnt; i++) {
        uint64_t ds, tf, len;
        if (!vi(p, n, &o, &ds) || !vi(p, n, &o, &tf) || !vi(p, n, &o, &len) || tf > UINT32_MAX ||
            len > UINT32_MAX)
            return MDB_CORRUPTED;
        seq += (int64_t)ds;
        if (!d->nopos)
            d->pidx[d->n] = d->npv;
        /* a scorer's walk (nopos) only checks and steps over them */
        if (!read_positions(p, n, &o, tf, d->nopos ? NULL : d->pv + d->npv))
            return MDB_CORRUPTED;
        if (!d->nopos)
            d->npv += tf;
        d->p[d->n++] = (post){seq, (uint32_t)tf, (uint32_t)len, NULL};
    }
    if (o != n)
        return MDB_CORRUPTED;
    for (size_t i = base; !d->nopos && i < d->n; i++) /* pv is final now */
        d->p[i].pos = d->pv + d->pidx[i];
    return 0;
}

/* Bytes of one posting's position deltas. */
static size_t pos_size(const post *q)
{
    unsigned char tmp[10];
    size_t s = 0;
    uint32_t at = 0;
    for (uint32_t j = 0; j < q->tf; j++) {
        s += store_postings_put_varint(tmp, q->pos ? q->pos[j] - at : 0);
        at = q->pos ? q->pos[j] : 0;
    }
    return s;
}

/* The largest header: its first varint, then every impact's two. */
#define HEADER_MAX (10 + STORE_PBLOCK_IMPACTS * 2 * 5)

/* The impacts of postings q[0..n) (n ≤ STORE_POSTINGS_BLOCK_DOCS) into b:
 * by ascending length, each with a tf larger than every shorter one's (the
 * others are beaten on both). Past STORE_PBLOCK_IMPACTS, two neighbours
 * become one pair with the later's tf and the earlier's length, which
 * bounds both; the two closest in tf go first, so the bound loosens least
 * where scores differ least. Runs at every block write: no sort of the
 * postings, only of their distinct tf values (few). */
static void impacts_of(const post *q, size_t n, store_pblock *b)
{
    uint32_t dtf[STORE_POSTINGS_BLOCK_DOCS], dlen[STORE_POSTINGS_BLOCK_DOCS]; /* per tf, its shortest length */
    size_t nd = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < nd && dtf[j] != q[i].tf)
            j++;
        if (j == nd) {
            dtf[nd] = q[i].tf;
            dlen[nd++] = q[i].len;
        } else if (q[i].len < dlen[j]) {
            dlen[j] = q[i].len;
        }
    }
    for (size_t i = 1; i < nd; i++) /* by tf, descending */
        for (size_t j = i; j > 0 && dtf[j] > dtf[j - 1]; j--) {
            uint32_t t = dtf[j], l = dlen[j];
            dtf[j] = dtf[j - 1], dlen[j] = dlen[j - 1];
            dtf[j - 1] = t, dlen[j - 1] = l;
        }
    /* kept: shorter than every larger tf's; collected from the largest tf,
     * so into the arrays' ends, leaving them by ascending length */
    uint32_t tf[STORE_POSTINGS_BLOCK_DOCS], len[STORE_POSTINGS_BLOCK_DOCS];
    size_t m = 0, at = STORE_POSTINGS_BLOCK_DOCS;
    for (size_t j = 0; j < nd; j++)
        if (!m || dlen[j] < len[at]) {
            at--;
            tf[at] = dtf[j];
            len[at] = dlen[j];
            m++;
        }
    memmove(tf, tf + at, m * sizeof *tf);
    memmove(len, len + at, m * sizeof *len);
    while (m > STORE_PBLOCK_IMPACTS) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < m; i++)
            if (tf[i + 1] - tf[i] < tf[best + 1] - tf[best])
                best = i;
        tf[best] = tf[best + 1]; /* len[best] stays: the shorter */
        memmove(tf + best + 1, tf + best + 2, (m - best - 2) * sizeof *tf);
        memmove(len + best + 1, len + best + 2, (m - best - 2) * sizeof *len);
        m--;
    }
    b->nimpacts = m;
    for (size_t i = 0; i < m; i++) {
        b->impacts[i].tf = tf[i];
        b->impacts[i].len = len[i];
    }
}

/* Write postings q[0..n) as packed blocks of term `id` (greedy: up to the
 * doc and byte limits each; a seq gap wider than PACK_MAX_BITS starts a
 * block). Positions of a posting are written as its tf varint deltas. */
static int put_blocks(MDB_txn *txn, MDB_dbi dbi, uint64_t id, const post *q, size_t n, buf *scratch)
{
    uint32_t col[STORE_POSTINGS_BLOCK_DOCS];
    size_t i = 0;
    while (i < n) {
        size_t j = i + 1, posb = pos_size(&q[i]);
        unsigned wd = 0, wt = bits_of(q[i].tf - 1), wl = bits_of(q[i].len);
        while (j < n && j - i < STORE_POSTINGS_BLOCK_DOCS) {
            uint64_t ds = (uint64_t)(q[j].seq - q[j - 1].seq);
            unsigned nd = bits_of(ds), nt = bits_of(q[j].tf - 1), nl = bits_of(q[j].len);
            nd = nd > wd ? nd : wd, nt = nt > wt ? nt : wt, nl = nl > wl ? nl : wl;
            size_t cnt = j - i + 1, ps = pos_size(&q[j]);
            size_t bytes = 3 + pack_bytes(cnt - 1, nd) + pack_bytes(cnt, nt) + pack_bytes(cnt, nl) + posb + ps;
            if (nd > PACK_MAX_BITS || bytes > STORE_POSTINGS_BLOCK_BYTES - HEADER_MAX)
                break;
            wd = nd, wt = nt, wl = nl, posb += ps;
            j++;
        }
        size_t cnt = j - i;
        store_pblock im;
        impacts_of(q + i, cnt, &im);
        buf_reset(scratch);
        if (!buf_reserve(scratch, HEADER_MAX + 3 + pack_bytes(cnt - 1, wd) + pack_bytes(cnt, wt) +
                                      pack_bytes(cnt, wl) + posb))
            return ENOMEM;
        unsigned char *o = (unsigned char *)scratch->data;
        size_t w = store_postings_put_varint(o, (uint64_t)cnt | (uint64_t)im.nimpacts << 8 |
                                                    (uint64_t)BLK_PACKED << 12);
        for (size_t x = 0; x < im.nimpacts; x++) {
            w += store_postings_put_varint(o + w, im.impacts[x].tf);
            w += store_postings_put_varint(o + w, im.impacts[x].len);
        }
        o[w++] = (unsigned char)wd, o[w++] = (unsigned char)wt, o[w++] = (unsigned char)wl;
        for (size_t x = i + 1; x < j; x++)
            col[x - i - 1] = (uint32_t)(q[x].seq - q[x - 1].seq);
        w += pack(o + w, col, cnt - 1, wd);
        for (size_t x = i; x < j; x++)
            col[x - i] = q[x].tf - 1;
        w += pack(o + w, col, cnt, wt);
        for (size_t x = i; x < j; x++)
            col[x - i] = q[x].len;
        w += pack(o + w, col, cnt, wl);
        for (size_t x = i; x < j; x++) {
            uint32_t at = 0;
            for (uint32_t y = 0; y < q[x].tf; y++) {
                uint32_t pp = q[x].pos ? q[x].pos[y] : 0;
                w += store_postings_put_varint(o + w, pp - at);
                at = pp;
            }
        }
        unsigned char kb[16];
        blk_key(kb, id, q[i].seq);
        MDB_val k = {16, kb}, v = {w, o};
        int rc = mdb_put(txn, dbi, &k, &v, 0);
        if (rc)
            return rc;
        i = j;
    }
    return 0;
}

/* ---- the batch ------------------------------------------------------------------- */

typedef struct op {
    int64_t seq;
    uint32_t tf, len;
    size_t pos;  /* into b->pos */
    size_t next; /* next op of the same term + 1; 0 none */
    size_t ord;  /* order queued, to keep a (term, seq)'s changes in order */
    bool add;
} op;

typedef struct term {
    size_t key, kn; /* into b->keys */
    size_t head, tail; /* op indices + 1 */
    size_t nops;
} term;

struct store_pbatch {
    buf keys;
    term *t;
    size_t nt, tcap;
    size_t *h; /* open addressing: term index + 1 */
    size_t hcap;
    op *o;
    size_t no, ocap;
    uint32_t *pos;
    size_t npos, poscap;
    /* flush scratch, kept for the next flush */
    dec d;
    post *out;
    size_t outcap;
    buf enc;
};

store_pbatch *store_pbatch_new(void)
{
    store_pbatch *b = calloc(1, sizeof *b);
    if (b) {
        buf_init(&b->keys, 0);
        buf_init(&b->enc, 0);
    }
    return b;
}

void store_pbatch_free(store_pbatch *b)
{
    if (!b)
        return;
    buf_free(&b->keys);
    buf_free(&b->enc);
    free(b->t);
    free(b->h);
    free(b->o);
    free(b->pos);
    dec_free(&b->d);
    free(b->out);
    free(b);
}

size_t store_pbatch_pending(const store_pbatch *b) { return b ? b->no : 0; }

static uint64_t term_hash(size_t i, const void *arg)
{
    const store_pbatch *b = arg;
    return store_util_hash(b->keys.data + b->t[i].key, b->t[i].kn);
}

/* The batch's entry for term `key`, made when `create`; NULL when absent or out of memory. */
static term *term_find(store_pbatch *b, const void *key, size_t kn, bool create)
{
    if (create && (b->nt + 1) * 2 > b->hcap && !store_util_htab_fit(&b->h, &b->hcap, b->nt, 1024, term_hash, b))
        return NULL;
    if (!b->hcap)
        return NULL;
    size_t s = store_util_hash(key, kn) & (b->hcap - 1);
    for (; b->h[s]; s = (s + 1) & (b->hcap - 1)) {
        term *t = &b->t[b->h[s] - 1];
        if (t->kn == kn && memcmp(b->keys.data + t->key, key, kn) == 0)
            return t;
    }
    if (!create || !GROW_ARRAY(b->t, b->tcap, b->nt + 1, 256))
        return NULL;
    size_t off = b->keys.len;
    if (!buf_append(&b->keys, key, kn))
        return NULL;
    b->t[b->nt] = (term){off, kn, 0, 0, 0};
    b->h[s] = ++b->nt;
    return &b->t[b->nt - 1];
}

bool store_pbatch_put(store_pbatch *b, const void *key, size_t kn, int64_t seq, bool add, uint32_t tf, uint32_t len,
                      const uint32_t *pos)
{
    if (add && tf == 0) /* packed blocks keep tf - 1 */
        return false;
    term *t = term_find(b, key, kn, true);
    if (!t || !GROW_ARRAY(b->o, b->ocap, b->no + 1, 1024))
        return false;
    size_t po = b->npos;
    if (add && tf) {
        if (!GROW_ARRAY(b->pos, b->poscap, b->npos + tf, 4096))
            return false;
        if (pos)
            memcpy(b->pos + po, pos, tf * sizeof *pos);
        else
            memset(b->pos + po, 0, tf * sizeof *pos);
        b->npos += tf;
    }
    b->o[b->no] = (op){seq, add ? tf : 0, len, po, 0, b->no, add};
    if (t->tail)
        b->o[t->tail - 1].next = b->no + 1;
    else
        t->head = b->no + 1;
    t->tail = ++b->no;
    t->nops++;
    return true;
}

static const store_pbatch *sort_batch; /* the writer is one thread */

static int term_cmp(const void *a, const void *c)
{
    const term *x = &sort_batch->t[*(const size_t *)a], *y = &sort_batch->t[*(const size_t *)c];
    size_t n = x->kn < y->kn ? x->kn : y->kn;
    int r = memcmp(sort_batch->keys.data + x->key, sort_batch->keys.data + y->key, n);
    return r ? r : (x->kn > y->kn) - (x->kn < y->kn);
}

static int op_cmp(const void *a, const void *c)
{
    const op *x = *(op *const *)a, *y = *(op *const *)c;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (x->ord > y->ord) - (x->ord < y->ord);
}

/* The block of term `id` that seq belongs to: the last block whose first
 * seq is ≤ seq, else the term's first block. *found false when the term
 * has no blocks. On success the cursor is on the block. */
static int find_block(MDB_cursor *cur, uint64_t id, int64_t seq, MDB_val *k, MDB_val *v, bool *found)
{
    unsigned char kb[16];
    blk_key(kb, id, seq);
    *k = (MDB_val){16, kb};
    *found = false;
    int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    bool after = rc == 0 && k->mv_size == 16 && store_util_get_be64(k->mv_data) == id;
    if (after && (int64_t)store_util_get_be64((const unsigned char *)k->mv_data + 8) == seq) {
        *found = true;
        return 0;
    }
    int r2 = mdb_cursor_get(cur, k, v, rc == 0 ? MDB_PREV : MDB_LAST);
    if (r2 && r2 != MDB_NOTFOUND)
        return r2;
    if (r2 == 0 && k->mv_size == 16 && store_util_get_be64(k->mv_data) == id) {
        *found = true;
        return 0;
    }
    if (!after)
        return 0;
    *k = (MDB_val){16, kb};
    rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    *found = rc == 0;
    return rc;
}

/* Apply net changes `ops` (ascending seq; add: upsert, else remove) to the
 * blocks of term `id`; *delta gets the change in document frequency. */
static int apply_term(store_pbatch *b, MDB_txn *txn, MDB_cursor *cur, MDB_dbi dbi, uint64_t id, op **ops, size_t n,
                      int64_t *delta)
{
    size_t i = 0;
    while (i < n) {
        MDB_val k, v;
        bool found;
        int rc = find_block(cur, id, ops[i]->seq, &k, &v, &found);
        if (rc)
            return rc;
        int64_t upper = INT64_MAX, first = 0;
        b->d.n = b->d.npv = 0;
        unsigned char oldk[16];
        if (found) {
            memcpy(oldk, k.mv_data, 16);
            first = (int64_t)store_util_get_be64(oldk + 8);
            if ((rc = dec_block(&b->d, first, &v)))
                return rc;
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            if (rc == 0 && k.mv_size == 16 && store_util_get_be64(k.mv_data) == id)
                upper = (int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 8);
            else if (rc && rc != MDB_NOTFOUND)
                return rc;
        }
        size_t j = i;
        while (j < n && ops[j]->seq < upper)
            j++;
        /* merge the block's postings with ops[i..j) */
        if (!GROW_ARRAY(b->out, b->outcap, b->d.n + (j - i), 256))
            return ENOMEM;
        size_t no = 0, a = 0, c = i;
        while (a < b->d.n || c < j) {
            if (c == j || (a < b->d.n && b->d.p[a].seq < ops[c]->seq)) {
                b->out[no++] = b->d.p[a++];
                continue;
            }
            const op *x = ops[c++];
            bool had = a < b->d.n && b->d.p[a].seq == x->seq;
            if (had)
                a++;
            if (x->add) {
                b->out[no++] = (post){x->seq, x->tf, x->len, b->pos + x->pos};
                *delta += had ? 0 : 1;
            } else if (had) {
                *delta -= 1;
            }
        }
        if (found && (!no || b->out[0].seq != first)) {
            MDB_val dk = {16, oldk};
            if ((rc = mdb_del(txn, dbi, &dk, NULL)))
                return rc;
        }
        if ((rc = put_blocks(txn, dbi, id, b->out, no, &b->enc)))
            return rc;
        i = j;
    }
    return 0;
}

/* The largest seq of term `id` in the level `cur` walks, -1 when it has none there. */
static int level_last_seq(MDB_cursor *cur, uint64_t id, dec *scratch, int64_t *last)
{
    unsigned char kb[16];
    blk_key(kb, id + 1, 0);
    MDB_val k = {16, kb}, v;
    *last = -1;
    scratch->n = scratch->npv = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
    if (rc == MDB_NOTFOUND || (rc == 0 && (k.mv_size != 16 || store_util_get_be64(k.mv_data) != id)))
        return 0;
    if (rc)
        return rc;
    if ((rc = dec_block(scratch, (int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 8), &v)))
        return rc;
    if (scratch->n)
        *last = scratch->p[scratch->n - 1].seq;
    return 0;
}

/* The first seq of term `id` in the level `cur` walks, INT64_MAX when it has none there. */
static int level_first_seq(MDB_cursor *cur, uint64_t id, int64_t *first)
{
    unsigned char kb[16];
    blk_key(kb, id, 0);
    MDB_val k = {16, kb}, v;
    *first = INT64_MAX;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == 16 && store_util_get_be64(k.mv_data) == id)
        *first = (int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 8);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Where term `id`'s seqs switch level: every seq below it is in `blocks`,
 * every one from it on in `recent`. With nothing in `recent`, one past the
 * last seq in `blocks`, so that new postings start there. */
static int level_boundary(MDB_cursor *cur0, MDB_cursor *cur1, uint64_t id, dec *scratch, int64_t *bound)
{
    int rc = level_first_seq(cur1, id, bound);
    if (rc || *bound != INT64_MAX)
        return rc;
    int64_t last;
    if ((rc = level_last_seq(cur0, id, scratch, &last)))
        return rc;
    *bound = last + 1;
    return 0;
}

/* The largest term id with blocks in the level `cur` walks (0: none). */
static int level_last_id(MDB_cursor *cur, uint64_t *id)
{
    MDB_val k, v;
    *id = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 16)
        *id = store_util_get_be64(k.mv_data);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_pbatch_flush(store_pbatch *b, MDB_txn *txn, const store_postings_dbs *d)
{
    if (!b || !b->nt)
        return 0;
    int rc = 0;
    size_t *order = malloc(grow_mul(b->nt, sizeof *order));
    op **ops = malloc(grow_mul(b->no, sizeof *ops));
    MDB_cursor *cur = NULL, *cur1 = NULL;
    if (!order || !ops) {
        rc = ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < b->nt; i++)
        order[i] = i;
    sort_batch = b;
    qsort(order, b->nt, sizeof *order, term_cmp); /* neighbouring terms share dictionary pages */
    if ((rc = mdb_cursor_open(txn, d->blocks, &cur)) || (rc = mdb_cursor_open(txn, d->recent, &cur1)))
        goto done;
    /* New terms take ids after the largest in use, in either level. */
    uint64_t last0, last1;
    if ((rc = level_last_id(cur, &last0)) || (rc = level_last_id(cur1, &last1)))
        goto done;
    uint64_t next_id = (last0 > last1 ? last0 : last1) + 1;
    for (size_t ti = 0; ti < b->nt && !rc; ti++) {
        term *t = &b->t[order[ti]];
        size_t n = 0;
        for (size_t x = t->head; x; x = b->o[x - 1].next)
            ops[n++] = &b->o[x - 1];
        qsort(ops, n, sizeof *ops, op_cmp);
        /* one net change per seq: the last queued */
        size_t w = 0;
        bool any_add = false;
        for (size_t x = 0; x < n; x++) {
            if (w && ops[w - 1]->seq == ops[x]->seq)
                w--;
            ops[w++] = ops[x];
        }
        for (size_t x = 0; x < w; x++)
            any_add |= ops[x]->add;
        MDB_val tk = {t->kn, b->keys.data + t->key}, tv;
        uint64_t id;
        int64_t df = 0;
        rc = mdb_get(txn, d->terms, &tk, &tv);
        if (rc == 0 && tv.mv_size == 16) {
            id = store_util_get_be64(tv.mv_data);
            df = (int64_t)store_util_get_be64((const unsigned char *)tv.mv_data + 8);
        } else if (rc == 0) {
            rc = MDB_CORRUPTED;
            break;
        } else if (rc == MDB_NOTFOUND) {
            rc = 0;
            if (!any_add)
                continue;
            id = next_id++;
        } else {
            break;
        }
        int64_t delta = 0, bound;
        if ((rc = level_boundary(cur, cur1, id, &b->d, &bound)))
            break;
        size_t older = 0;
        while (older < w && ops[older]->seq < bound)
            older++;
        if ((rc = apply_term(b, txn, cur, d->blocks, id, ops, older, &delta)) ||
            (rc = apply_term(b, txn, cur1, d->recent, id, ops + older, w - older, &delta)))
            break;
        df += delta;
        if (df <= 0) {
            rc = mdb_del(txn, d->terms, &tk, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
            continue;
        }
        unsigned char vb[16];
        store_util_put_be64(vb, id);
        store_util_put_be64(vb + 8, (uint64_t)df);
        tv = (MDB_val){16, vb};
        rc = mdb_put(txn, d->terms, &tk, &tv, 0);
    }
done:
    if (cur)
        mdb_cursor_close(cur);
    if (cur1)
        mdb_cursor_close(cur1);
    free(order);
    free(ops);
    /* emptied whatever happened: on failure the transaction is aborted */
    buf_reset(&b->keys);
    b->nt = b->no = b->npos = 0;
    if (b->h)
        memset(b->h, 0, b->hcap * sizeof *b->h);
    return rc;
}

/* Postings decoded from several blocks: each posting's positions pointer
 * again, since pv may have moved while later blocks were decoded. */
static void dec_fix_positions(dec *d)
{
    for (size_t i = 0; i < d->n; i++)
        d->p[i].pos = d->pv + d->pidx[i];
}

int store_postings_compact(store_pbatch *b, MDB_txn *txn, const store_postings_dbs *d, size_t limit_pages,
                           uint64_t *next)
{
    MDB_stat st;
    int rc = mdb_stat(txn, d->recent, &st);
    if (rc || !st.ms_entries || st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages <= limit_pages)
        return rc;
    size_t budget = st.ms_entries / 8 < 64 ? 64 : st.ms_entries / 8, moved = 0;
    MDB_cursor *c1 = NULL, *c0 = NULL;
    dec old = {0};
    if ((rc = mdb_cursor_open(txn, d->recent, &c1)) || (rc = mdb_cursor_open(txn, d->blocks, &c0)))
        goto done;
    unsigned char kb[16];
    blk_key(kb, *next, 0);
    MDB_val k = {16, kb}, v;
    bool wrapped = *next == 0;
    rc = mdb_cursor_get(c1, &k, &v, MDB_SET_RANGE);
    while (moved < budget) {
        if (rc == MDB_NOTFOUND && !wrapped) {
            wrapped = true;
            rc = mdb_cursor_get(c1, &k, &v, MDB_FIRST);
        }
        if (rc)
            break;
        if (k.mv_size != 16) {
            rc = MDB_CORRUPTED;
            break;
        }
        /* the term's recent blocks, decoded and deleted */
        uint64_t id = store_util_get_be64(k.mv_data);
        b->d.n = b->d.npv = 0;
        while (rc == 0 && k.mv_size == 16 && store_util_get_be64(k.mv_data) == id) {
            if ((rc = dec_block(&b->d, (int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 8), &v)) ||
                (rc = mdb_cursor_del(c1, 0)))
                goto done;
            moved++;
            rc = mdb_cursor_get(c1, &k, &v, MDB_NEXT); /* after a delete LMDB's NEXT yields the following entry */
        }
        if (rc && rc != MDB_NOTFOUND)
            break;
        int keep = rc; /* where the walk goes on */
        dec_fix_positions(&b->d);
        /* appended to the term's last block in `blocks` (all of them older) */
        int64_t last;
        if ((rc = level_last_seq(c0, id, &old, &last)))
            break;
        if (!GROW_ARRAY(b->out, b->outcap, old.n + b->d.n, 256)) {
            rc = ENOMEM;
            break;
        }
        size_t no = 0;
        for (size_t i = 0; i < old.n; i++)
            b->out[no++] = old.p[i];
        for (size_t i = 0; i < b->d.n; i++)
            b->out[no++] = b->d.p[i];
        if ((rc = put_blocks(txn, d->blocks, id, b->out, no, &b->enc)))
            break;
        *next = id + 1;
        if (keep == MDB_NOTFOUND) {
            rc = MDB_NOTFOUND;
            continue;
        }
        /* the put may have moved c1's page: find the next term again */
        blk_key(kb, id + 1, 0);
        k = (MDB_val){16, kb};
        rc = mdb_cursor_get(c1, &k, &v, MDB_SET_RANGE);
    }
done:
    if (c0)
        mdb_cursor_close(c0);
    if (c1)
        mdb_cursor_close(c1);
    dec_free(&old);
    b->d.n = b->d.npv = 0;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- reads -------------------------------------------------------------------------- */

static int term_id(MDB_txn *txn, const store_postings_dbs *d, const void *key, size_t kn, uint64_t *id, int64_t *df)
{
    MDB_val k = {kn, (void *)key}, v;
    int rc = mdb_get(txn, d->terms, &k, &v);
    if (rc)
        return rc;
    if (v.mv_size != 16)
        return MDB_CORRUPTED;
    *id = store_util_get_be64(v.mv_data);
    *df = (int64_t)store_util_get_be64((const unsigned char *)v.mv_data + 8);
    return 0;
}

int store_postings_df(MDB_txn *txn, const store_postings_dbs *d, const void *key, size_t kn, int64_t *df)
{
    uint64_t id;
    *df = 0;
    int rc = term_id(txn, d, key, kn, &id, df);
    if (rc == MDB_NOTFOUND) {
        *df = 0;
        return 0;
    }
    return rc;
}

int store_postings_read(MDB_txn *txn, const store_postings_dbs *d, const void *key, size_t kn, bool positions,
                        bool (*fn)(const store_posting *p, void *arg), void *arg)
{
    uint64_t id;
    int64_t df;
    int rc = term_id(txn, d, key, kn, &id, &df);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    dec dd = {.nopos = !positions};
    bool stop = false;
    /* the older level's postings come first: all its seqs are smaller */
    MDB_dbi levels[] = {d->blocks, d->recent};
    for (size_t l = 0; l < 2 && !stop && (rc == 0 || rc == MDB_NOTFOUND); l++) {
        MDB_cursor *cur;
        if ((rc = mdb_cursor_open(txn, levels[l], &cur)))
            break;
        unsigned char kb[16];
        blk_key(kb, id, 0);
        MDB_val k = {16, kb}, v;
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
             rc == 0 && !stop && k.mv_size == 16 && store_util_get_be64(k.mv_data) == id;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            dd.n = dd.npv = 0;
            if ((rc = dec_block(&dd, (int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 8), &v)))
                break;
            for (size_t i = 0; i < dd.n && !stop; i++) {
                store_posting p = {dd.p[i].seq, dd.p[i].tf, dd.p[i].len, dd.p[i].pos};
                stop = !fn(&p, arg);
            }
        }
        mdb_cursor_close(cur);
    }
    dec_free(&dd);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_postings_has(store_pbatch *b, MDB_txn *txn, const store_postings_dbs *d, const void *key, size_t kn,
                       int64_t seq)
{
    term *t = b ? term_find(b, key, kn, false) : NULL;
    if (t) {
        const op *last = NULL;
        for (size_t x = t->head; x; x = b->o[x - 1].next)
            if (b->o[x - 1].seq == seq)
                last = &b->o[x - 1];
        if (last)
            return last->add ? 1 : 0;
    }
    uint64_t id;
    int64_t df;
    int rc = term_id(txn, d, key, kn, &id, &df);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : -rc;
    /* the recent level when seq is at or past its first block, else the older one */
    MDB_cursor *cur;
    int64_t bound;
    if ((rc = mdb_cursor_open(txn, d->recent, &cur)))
        return -rc;
    if ((rc = level_first_seq(cur, id, &bound))) {
        mdb_cursor_close(cur);
        return -rc;
    }
    if (seq < bound) {
        mdb_cursor_close(cur);
        if ((rc = mdb_cursor_open(txn, d->blocks, &cur)))
            return -rc;
    }
    MDB_val k, v;
    bool found;
    dec dd = {0};
    int has = 0;
    rc = find_block(cur, id, seq, &k, &v, &found);
    if (!rc && found && !(rc = dec_block(&dd, (int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 8), &v)))
        for (size_t i = 0; i < dd.n && !has; i++)
            has = dd.p[i].seq == seq;
    mdb_cursor_close(cur);
    dec_free(&dd);
    return rc ? -rc : has;
}

int store_postings_drop_prefix(MDB_txn *txn, const store_postings_dbs *d, const void *prefix, size_t pn)
{
    MDB_cursor *tc = NULL, *bc[2] = {NULL, NULL};
    int rc;
    if ((rc = mdb_cursor_open(txn, d->terms, &tc)) || (rc = mdb_cursor_open(txn, d->blocks, &bc[0])) ||
        (rc = mdb_cursor_open(txn, d->recent, &bc[1])))
        goto done;
    for (;;) {
        MDB_val k = {pn, (void *)prefix}, v;
        rc = mdb_cursor_get(tc, &k, &v, MDB_SET_RANGE);
        if (rc || k.mv_size < pn || memcmp(k.mv_data, prefix, pn) != 0)
            break;
        if (v.mv_size != 16) {
            rc = MDB_CORRUPTED;
            break;
        }
        uint64_t id = store_util_get_be64(v.mv_data);
        if ((rc = mdb_cursor_del(tc, 0)))
            break;
        for (size_t l = 0; l < 2 && (rc == 0 || rc == MDB_NOTFOUND); l++) {
            unsigned char kb[16];
            blk_key(kb, id, 0);
            MDB_val bk = {16, kb}, bv;
            for (rc = mdb_cursor_get(bc[l], &bk, &bv, MDB_SET_RANGE);
                 rc == 0 && bk.mv_size == 16 && store_util_get_be64(bk.mv_data) == id;
                 rc = mdb_cursor_get(bc[l], &bk, &bv, MDB_NEXT)) /* after a delete LMDB's NEXT yields the following entry */
                if ((rc = mdb_cursor_del(bc[l], 0)))
                    break;
        }
        if (rc && rc != MDB_NOTFOUND)
            break;
    }
done:
    for (size_t l = 0; l < 2; l++)
        if (bc[l])
            mdb_cursor_close(bc[l]);
    if (tc)
        mdb_cursor_close(tc);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- the skipping cursor ------------------------------------------------------------ */

/* The cursor's walk through one level's blocks of the term. */
typedef struct pc_level {
    MDB_cursor *cur;
    dec d;         /* the block the walk is in */
    bool have;     /* d holds a block */
    int64_t first; /* its first seq (its key) */
    size_t i;      /* the current posting in d */
    bool end;
    /* the shallow walk (store_pcursor_shallow): its own LMDB cursor, left
     * on the block after the one described so the walk forward is one
     * MDB_NEXT per block */
    MDB_cursor *hcur;
    store_pblock hb;
    bool hhave, hnext, hend;
    MDB_val hnk, hnv; /* the next block's entry when hnext (read-only txn: stays valid) */
} pc_level;

struct store_pcursor {
    uint64_t id;
    pc_level lv[2];  /* `blocks`, then `recent` */
    int64_t bound;   /* the term's first seq in `recent` (INT64_MAX: none there) */
    size_t blocks;   /* decoded so far */
    pc_level *at;    /* the level of the current posting (NULL: none yet) */
};

int store_pcursor_open(MDB_txn *txn, const store_postings_dbs *d, const void *key, size_t kn, store_pcursor **out,
                       int64_t *df)
{
    uint64_t id;
    *out = NULL;
    *df = 0;
    int rc = term_id(txn, d, key, kn, &id, df);
    if (rc) {
        *df = 0;
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    store_pcursor *c = calloc(1, sizeof *c);
    if (!c)
        return ENOMEM;
    c->id = id;
    if ((rc = mdb_cursor_open(txn, d->blocks, &c->lv[0].cur)) || (rc = mdb_cursor_open(txn, d->recent, &c->lv[1].cur)) ||
        (rc = level_first_seq(c->lv[1].cur, id, &c->bound))) {
        store_pcursor_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

static bool pc_own(const store_pcursor *c, const MDB_val *k)
{
    return k->mv_size == 16 && store_util_get_be64(k->mv_data) == c->id;
}

/* Decode the block at (k, v) as the level's current one. */
static int pc_load(store_pcursor *c, pc_level *l, const MDB_val *k, const MDB_val *v)
{
    l->d.n = l->d.npv = 0;
    l->have = false;
    l->first = (int64_t)store_util_get_be64((const unsigned char *)k->mv_data + 8);
    int rc = dec_block(&l->d, l->first, v);
    if (rc)
        return rc;
    c->blocks++;
    l->have = l->d.n > 0;
    l->i = 0;
    return 0;
}

/* In the decoded block, the first posting at or after target: true when there is one. */
static inline bool pc_seek_in(pc_level *l, int64_t target, store_posting *p)
{
    if (!l->have || l->d.p[l->d.n - 1].seq < target)
        return false;
    size_t i = l->i;
    while (l->d.p[i].seq < target)
        i++;
    l->i = i;
    *p = (store_posting){l->d.p[i].seq, l->d.p[i].tf, l->d.p[i].len, l->d.p[i].pos};
    return true;
}

/* store_pcursor_advance within one level. */
static int pc_level_advance(store_pcursor *c, pc_level *l, int64_t target, store_posting *p)
{
    if (l->end)
        return 0;
    if (pc_seek_in(l, target, p))
        return 1;
    MDB_val k, v;
    int rc;
    if (l->have) {
        /* A walk's usual step: the block decoded last (where l->cur is)
         * ends before target; when the next one starts after it, that is
         * where the first posting at or after target is, one MDB_NEXT away. */
        rc = mdb_cursor_get(l->cur, &k, &v, MDB_NEXT);
        if (rc && rc != MDB_NOTFOUND)
            return -rc;
        if (rc == MDB_NOTFOUND || !pc_own(c, &k)) {
            l->end = true;
            return 0;
        }
        if ((int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 8) > target) {
            if ((rc = pc_load(c, l, &k, &v)))
                return -rc;
            return pc_seek_in(l, target, p) ? 1 : (l->end = true, 0);
        }
    }
    /* Blocks are keyed by their first seq: target lies in the last block
     * starting at or before it, or (that block ending before it) in the next. */
    unsigned char kb[16];
    blk_key(kb, c->id, target);
    k = (MDB_val){16, kb};
    rc = mdb_cursor_get(l->cur, &k, &v, MDB_SET_RANGE);
    if (rc && rc != MDB_NOTFOUND)
        return -rc;
    bool after = rc == 0 && pc_own(c, &k);
    if (after && (int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 8) == target) {
        if ((rc = pc_load(c, l, &k, &v)))
            return -rc;
        return pc_seek_in(l, target, p) ? 1 : (l->end = true, 0);
    }
    int r2 = mdb_cursor_get(l->cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
    if (r2 && r2 != MDB_NOTFOUND)
        return -r2;
    if (r2 == 0 && pc_own(c, &k)) {
        /* the block already decoded ends before target: no need to read it again */
        bool same = l->have && (int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 8) == l->first;
        if (!same) {
            if ((rc = pc_load(c, l, &k, &v)))
                return -rc;
            if (pc_seek_in(l, target, p))
                return 1;
        }
        rc = mdb_cursor_get(l->cur, &k, &v, MDB_NEXT);
    } else if (after) {
        k = (MDB_val){16, kb};
        rc = mdb_cursor_get(l->cur, &k, &v, MDB_SET_RANGE);
    } else {
        rc = MDB_NOTFOUND;
    }
    if (rc && rc != MDB_NOTFOUND)
        return -rc;
    if (rc == MDB_NOTFOUND || !pc_own(c, &k)) {
        l->end = true;
        return 0;
    }
    if ((rc = pc_load(c, l, &k, &v)))
        return -rc;
    return pc_seek_in(l, target, p) ? 1 : (l->end = true, 0);
}

int store_pcursor_advance(store_pcursor *c, int64_t target, store_posting *p)
{
    if (!c)
        return 0;
    /* the older level holds every seq below the bound, the recent one the rest */
    bool older = c->bound == INT64_MAX || target < c->bound;
    pc_level *l = &c->lv[older ? 0 : 1];
    if (!l->end && pc_seek_in(l, target, p)) { /* in the block decoded last: a scorer's usual step */
        c->at = l;
        return 1;
    }
    c->at = NULL;
    if (older && !c->lv[0].end) {
        int r = pc_level_advance(c, &c->lv[0], target, p);
        if (r > 0)
            c->at = &c->lv[0];
        if (r)
            return r;
    }
    if (c->bound == INT64_MAX)
        return 0;
    int r = pc_level_advance(c, &c->lv[1], target, p);
    if (r > 0)
        c->at = &c->lv[1];
    return r;
}

size_t store_pcursor_rest(const store_pcursor *c, const store_posting **out)
{
    *out = NULL;
    if (!c || !c->at || !c->at->have || c->at->end)
        return 0;
    *out = &c->at->d.p[c->at->i];
    return c->at->d.n - c->at->i;
}

/* Make the block entry (k, v) the level's described one, then peek at the
 * next entry for its end. */
static int sh_take(store_pcursor *c, pc_level *l, const MDB_val *k, const MDB_val *v)
{
    const unsigned char *p = v->mv_data;
    uint64_t cnt;
    bool packed;
    if (!read_header(p, v->mv_size, &cnt, &packed, &l->hb))
        return MDB_CORRUPTED;
    l->hb.first = (int64_t)store_util_get_be64((const unsigned char *)k->mv_data + 8);
    l->hb.last = INT64_MAX;
    l->hhave = true;
    l->hnext = false;
    int rc = mdb_cursor_get(l->hcur, &l->hnk, &l->hnv, MDB_NEXT);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0 && pc_own(c, &l->hnk)) {
        l->hnext = true;
        l->hb.last = (int64_t)store_util_get_be64((const unsigned char *)l->hnk.mv_data + 8) - 1;
    }
    return 0;
}

/* Walks of at most this many blocks step forward; longer jumps seek. */
#define SHALLOW_STEPS 4

/* store_pcursor_shallow within one level. */
static int sh_level(store_pcursor *c, pc_level *l, int64_t target, store_pblock *b)
{
    if (l->hend)
        return 0;
    int rc;
    for (int s = 0; l->hhave && s <= SHALLOW_STEPS; s++) {
        if (target <= l->hb.last) {
            *b = l->hb;
            return 1;
        }
        if (!l->hnext || s == SHALLOW_STEPS)
            break;
        MDB_val k = l->hnk, v = l->hnv;
        if ((rc = sh_take(c, l, &k, &v)))
            return -rc;
    }
    if (l->hhave && !l->hnext) {
        l->hend = true;
        return 0;
    }
    if (!l->hcur) {
        MDB_txn *txn = mdb_cursor_txn(l->cur);
        if ((rc = mdb_cursor_open(txn, mdb_cursor_dbi(l->cur), &l->hcur)))
            return -rc;
    }
    /* the last block starting at or before target, else the term's first */
    unsigned char kb[16];
    blk_key(kb, c->id, target);
    MDB_val k = {16, kb}, v;
    rc = mdb_cursor_get(l->hcur, &k, &v, MDB_SET_RANGE);
    if (rc && rc != MDB_NOTFOUND)
        return -rc;
    bool after = rc == 0 && pc_own(c, &k);
    if (!(after && (int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 8) == target)) {
        int r2 = mdb_cursor_get(l->hcur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
        if (r2 && r2 != MDB_NOTFOUND)
            return -r2;
        if (r2 || !pc_own(c, &k)) {
            if (!after) {
                l->hend = true;
                return 0;
            }
            k = (MDB_val){16, kb};
            if ((rc = mdb_cursor_get(l->hcur, &k, &v, MDB_SET_RANGE)))
                return -rc;
        }
    }
    if ((rc = sh_take(c, l, &k, &v)))
        return -rc;
    *b = l->hb;
    return 1;
}

int store_pcursor_shallow(store_pcursor *c, int64_t target, store_pblock *b)
{
    if (!c)
        return 0;
    /* the older level's blocks cover the seqs below the bound: its last one
     * ends just before it, where the recent level's first begins */
    if ((c->bound == INT64_MAX || target < c->bound) && !c->lv[0].hend) {
        int r = sh_level(c, &c->lv[0], target, b);
        if (r < 0)
            return r;
        if (r) {
            if (c->bound != INT64_MAX && b->last >= c->bound)
                b->last = c->bound - 1;
            return 1;
        }
    }
    if (c->bound == INT64_MAX)
        return 0;
    return sh_level(c, &c->lv[1], target, b);
}

void store_pcursor_no_positions(store_pcursor *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < 2; i++) {
        c->lv[i].d.nopos = true;
        c->lv[i].d.n = c->lv[i].d.npv = 0; /* a block decoded with positions is decoded again */
        c->lv[i].have = false;
    }
}

void store_pcursor_lazy_positions(store_pcursor *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < 2; i++) {
        c->lv[i].d.lazy = true;
        c->lv[i].d.n = c->lv[i].d.npv = 0;
        c->lv[i].have = false;
    }
}

int store_pcursor_positions(store_pcursor *c, const uint32_t **out)
{
    *out = NULL;
    if (!c || !c->at || !c->at->have)
        return 0;
    pc_level *l = c->at;
    dec *d = &l->d;
    const post *q = &d->p[l->i];
    if (q->pos || !d->raw || d->nopos) {
        *out = q->pos;
        return 0;
    }
    if (l->i < d->li) /* the same posting asked for again: scan from the block's first */
        d->li = 0, d->loff = d->pstart;
    size_t o = d->loff, n = d->rawn;
    const unsigned char *p = d->raw;
    /* step over the positions of the postings between: as many varints as
     * their tfs add up to, counted by their last bytes (high bit clear),
     * eight bytes at a time while more are left than eight bytes can end
     * (most position deltas take one byte) */
    uint64_t skip = 0;
    for (size_t i = d->li; i < l->i; i++)
        skip += d->p[i].tf;
    while (skip > 8 && n - o >= 8) {
        uint64_t w;
        memcpy(&w, p + o, 8);
        skip -= (unsigned)__builtin_popcountll(~w & 0x8080808080808080ull);
        o += 8;
    }
    for (; skip; o++) {
        if (o >= n)
            return -MDB_CORRUPTED;
        skip -= !(p[o] & 0x80);
    }
    if (q->tf > n - o)
        return -MDB_CORRUPTED;
    if (!GROW_ARRAY(d->lbuf, d->lcap, q->tf, 16))
        return -ENOMEM;
    if (!read_positions(p, n, &o, q->tf, d->lbuf))
        return -MDB_CORRUPTED;
    d->li = l->i + 1, d->loff = o;
    *out = d->lbuf;
    return 0;
}

size_t store_pcursor_blocks_read(const store_pcursor *c) { return c ? c->blocks : 0; }

void store_pcursor_close(store_pcursor *c)
{
    if (!c)
        return;
    for (size_t l = 0; l < 2; l++) {
        if (c->lv[l].cur)
            mdb_cursor_close(c->lv[l].cur);
        if (c->lv[l].hcur)
            mdb_cursor_close(c->lv[l].hcur);
        dec_free(&c->lv[l].d);
    }
    free(c);
}
