/* store_fielddata — per-search columns of exact-value fields for aggregations. */
#include "versync/store/store_fielddata.h"

#include "versync/common/grow.h"
#include "versync/store/store_breaker.h"

#include <stdlib.h>
#include <string.h>

struct store_column {
    uint32_t number; /* the index's number and the field: the cache key */
    char *path;
    int64_t next;   /* seqs covered: 0 … next-1 */
    uint32_t *off;  /* next + 1 offsets into ords */
    uint32_t *ords; /* each document's value ordinals, ascending */
    size_t nords;
    unsigned char **keys; /* ordinal → encoded value */
    size_t *lens;
    /* scratch for store_column_count, all zero between calls */
    uint32_t *cnt;
    uint32_t *touched;
    uint64_t held; /* bytes in the breaker */
};

struct store_fielddata {
    store_column **cols;
    size_t n, cap;
};

store_fielddata *store_fielddata_new(void) { return calloc(1, sizeof(store_fielddata)); }

static void column_free(store_column *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->keys && i < c->nords; i++)
        free(c->keys[i]);
    free(c->keys);
    free(c->lens);
    free(c->off);
    free(c->ords);
    free(c->cnt);
    free(c->touched);
    free(c->path);
    store_breaker_release(c->held);
    free(c);
}

void store_fielddata_free(store_fielddata *fd)
{
    if (!fd)
        return;
    for (size_t i = 0; i < fd->n; i++)
        column_free(fd->cols[i]);
    free(fd->cols);
    free(fd);
}

/* The scan's output before it is arranged by seq. */
typedef struct build {
    store_column *c;
    int64_t *seqs;
    uint32_t *ords;
    size_t n, cap, kcap;
    bool oom;
} build;

static bool on_value(const void *val, size_t len, int64_t seq, void *arg)
{
    build *b = arg;
    store_column *c = b->c;
    if (seq < 0 || seq >= c->next)
        return true; /* written after the snapshot's meta: not in this search */
    if (!c->nords || c->lens[c->nords - 1] != len || memcmp(c->keys[c->nords - 1], val, len) != 0) {
        if (c->nords == b->kcap) {
            size_t kc = b->kcap;
            if (!GROW_ARRAY(c->keys, kc, c->nords + 1, 64) || !GROW_ARRAY(c->lens, b->kcap, c->nords + 1, 64))
                return b->oom = true, false;
        }
        if (c->nords >= UINT32_MAX || !(c->keys[c->nords] = malloc(len ? len : 1)))
            return b->oom = true, false;
        memcpy(c->keys[c->nords], val, len);
        c->lens[c->nords++] = len;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap;
        if (b->n >= UINT32_MAX || !GROW_ARRAY(b->seqs, cap, b->n + 1, 256) ||
            !GROW_ARRAY(b->ords, b->cap, b->n + 1, 256))
            return b->oom = true, false;
    }
    b->seqs[b->n] = seq;
    b->ords[b->n++] = (uint32_t)(c->nords - 1);
    return true;
}

int store_fielddata_get(store_fielddata *fd, store_rtxn *r, const store_index_meta *m, const char *path,
                        const store_column **out, char *reason, size_t reasonsz)
{
    for (size_t i = 0; i < fd->n; i++)
        if (fd->cols[i]->number == m->number && strcmp(fd->cols[i]->path, path) == 0) {
            *out = fd->cols[i];
            return 1;
        }
    int rc = 0;
    build b = {0};
    store_column *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path)) || m->next_seq < 0 || (uint64_t)m->next_seq >= UINT32_MAX)
        goto done;
    c->number = m->number;
    c->next = m->next_seq;
    b.c = c;
    if (!store_engine_values(r, m, path, NULL, 0, true, NULL, 0, true, false, on_value, &b)) {
        rc = -1;
        goto done;
    }
    if (b.oom)
        goto done;
    /* Counting sort by seq: stable, so each document's ordinals stay in
     * value order. */
    c->off = calloc((size_t)c->next + 1, sizeof *c->off);
    c->ords = malloc((b.n ? b.n : 1) * sizeof *c->ords);
    c->cnt = calloc(c->nords ? c->nords : 1, sizeof *c->cnt);
    c->touched = malloc((c->nords ? c->nords : 1) * sizeof *c->touched);
    if (!c->off || !c->ords || !c->cnt || !c->touched)
        goto done;
    for (size_t k = 0; k < b.n; k++)
        c->off[b.seqs[k] + 1]++;
    for (int64_t s = 0; s < c->next; s++)
        c->off[s + 1] += c->off[s];
    for (size_t k = 0; k < b.n; k++) /* off[seq] moves to the end of seq's run ... */
        c->ords[c->off[b.seqs[k]]++] = b.ords[k];
    for (int64_t s = c->next; s > 0; s--) /* ... and back to its start */
        c->off[s] = c->off[s - 1];
    c->off[0] = 0;
    uint64_t bytes = sizeof *c + ((uint64_t)c->next + 1) * 4 + (uint64_t)b.n * 4 + (uint64_t)c->nords * 8 +
                     (uint64_t)c->nords * (sizeof *c->keys + sizeof *c->lens);
    for (size_t k = 0; k < c->nords; k++)
        bytes += c->lens[k];
    if (!store_breaker_add(bytes, "<fielddata>", reason, reasonsz)) {
        rc = 0;
        reason = NULL; /* keep the breaker's words */
        goto done;
    }
    c->held = bytes;
    if (fd->n == fd->cap && !GROW_ARRAY(fd->cols, fd->cap, fd->n + 1, 4))
        goto done;
    fd->cols[fd->n++] = c;
    *out = c;
    c = NULL;
    rc = 1;
done:
    if (rc == 0 && reason)
        snprintf(reason, reasonsz, "out of memory");
    free(b.seqs);
    free(b.ords);
    column_free(c);
    return rc;
}

/* Next set bit at or after `s` below `next`, or `next`. */
static int64_t next_bit(const unsigned char *bits, int64_t s, int64_t next)
{
    while (s < next) {
        unsigned char byte = bits[s >> 3] >> (s & 7);
        if (byte)
            return s + __builtin_ctz(byte);
        s = (s | 7) + 1;
        while (s + 64 <= next) { /* whole zero words at a time */
            uint64_t w;
            memcpy(&w, bits + (s >> 3), 8);
            if (w)
                break;
            s += 64;
        }
    }
    return next;
}

static int ord_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

bool store_column_count(const store_column *c, const unsigned char *bits, int64_t next,
                        bool (*fn)(const void *val, size_t len, int64_t count, void *arg), void *arg)
{
    if (next > c->next)
        next = c->next;
    size_t nt = 0;
    for (int64_t s = next_bit(bits, 0, next); s < next; s = next_bit(bits, s + 1, next))
        for (uint32_t k = c->off[s]; k < c->off[s + 1]; k++)
            if (c->cnt[c->ords[k]]++ == 0)
                c->touched[nt++] = c->ords[k];
    if (nt)
        qsort(c->touched, nt, sizeof *c->touched, ord_cmp);
    bool go = true;
    for (size_t i = 0; i < nt; i++) {
        uint32_t o = c->touched[i];
        if (go)
            go = fn(c->keys[o], c->lens[o], c->cnt[o], arg);
        c->cnt[o] = 0; /* the scratch is zero again for the next bucket */
    }
    return true;
}

void store_column_each(const store_column *c, const unsigned char *bits, int64_t next,
                       bool (*fn)(const void *val, size_t len, int64_t seq, void *arg), void *arg)
{
    if (next > c->next)
        next = c->next;
    for (int64_t s = next_bit(bits, 0, next); s < next; s = next_bit(bits, s + 1, next))
        for (uint32_t k = c->off[s]; k < c->off[s + 1]; k++)
            if (!fn(c->keys[c->ords[k]], c->lens[c->ords[k]], s, arg))
                return;
}
