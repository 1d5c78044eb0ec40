/* store_aggs — aggregations over the matching documents: terms and metrics, nested under buckets. */
#include "versync/store/store_search_int.h"

#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/store/store_breaker.h"
#include "versync/store/store_datemath.h"
#include "versync/store/store_deadline.h"
#include "versync/store/store_fielddata.h"
#include "versync/store/store_index.h"
#include "versync/store/store_json.h"
#include "versync/store/store_rounding.h"
#include "versync/store/store_ulong.h"
#include "versync/store/store_util.h"
#include "versync/store/store_wildcard.h"

#include <ctype.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- aggregations ------------------------------------------------------------------------ */

static bool bit_get(const unsigned char *bits, int64_t next, int64_t seq)
{
    return seq >= 0 && seq < next && (bits[seq >> 3] >> (seq & 7)) & 1;
}

static void bit_set(unsigned char *bits, int64_t seq)
{
    bits[seq >> 3] |= (unsigned char)(1u << (seq & 7));
}

typedef struct metric {
    int64_t count;
    double sum, min, max;
    const unsigned char *bits;
    int64_t next;
    store_ftype ft;
    unsigned char *have; /* with `missing`: the documents met with a value */
} metric;

static double val_num(store_ftype ft, const void *val, size_t len)
{
    if (ft == STORE_FT_BOOLEAN)
        return len && ((const char *)val)[0] == 'T';
    if (len != STORE_VAL_NUM_LEN)
        return 0;
    if (ft == STORE_FT_ULONG)
        return (double)store_ulong_unshift(store_index_dec_long(val));
    if (ft == STORE_FT_DATE_NANOS) /* aggregations see milliseconds, as Elasticsearch's NanoSecondFieldData */
        return (double)(store_index_dec_long(val) / 1000000);
    return ft == STORE_FT_DOUBLE ? store_index_dec_double(val) : (double)store_index_dec_long(val);
}

static bool on_metric(const void *val, size_t len, int64_t seq, void *arg)
{
    metric *m = arg;
    if (!bit_get(m->bits, m->next, seq))
        return true;
    if (m->have)
        bit_set(m->have, seq);
    if (m->ft != STORE_FT_KEYWORD) {
        double d = val_num(m->ft, val, len);
        if (!m->count || d < m->min)
            m->min = d;
        if (!m->count || d > m->max)
            m->max = d;
        m->sum += d;
    }
    m->count++;
    return true;
}

typedef struct bucket {
    unsigned char *key;
    size_t len;
    int64_t count;
} bucket;

typedef struct bucketv {
    bucket *v;
    size_t n, cap;
    const unsigned char *bits;
    int64_t next;
    bool oom;
} bucketv;

static bool on_term_val(const void *val, size_t len, int64_t seq, void *arg)
{
    bucketv *b = arg;
    if (!bit_get(b->bits, b->next, seq))
        return true;
    if (b->n && b->v[b->n - 1].len == len && memcmp(b->v[b->n - 1].key, val, len) == 0) {
        b->v[b->n - 1].count++;
        return true;
    }
    if (b->n == b->cap && !GROW_ARRAY(b->v, b->cap, b->n + 1, 64))
        return b->oom = true, false;
    unsigned char *k = malloc(len ? len : 1);
    if (!k)
        return b->oom = true, false;
    memcpy(k, val, len);
    b->v[b->n++] = (bucket){k, len, 1};
    return true;
}

/* A bucket's count from a column, in value order. */
static bool on_term_count(const void *val, size_t len, int64_t count, void *arg)
{
    bucketv *b = arg;
    if (b->n == b->cap && !GROW_ARRAY(b->v, b->cap, b->n + 1, 64))
        return b->oom = true, false;
    unsigned char *k = malloc(len ? len : 1);
    if (!k)
        return b->oom = true, false;
    memcpy(k, val, len);
    b->v[b->n++] = (bucket){k, len, count};
    return true;
}

static int bucket_key_cmp(const void *x, const void *y)
{
    const bucket *a = x, *b = y;
    return store_eval_bytes_cmp(a->key, a->len, b->key, b->len);
}

static int bucket_cmp_r(const void *x, const void *y, void *arg)
{
    const bucket *a = x, *b = y;
    int order = *(const int *)arg;
    int kc = store_eval_bytes_cmp(a->key, a->len, b->key, b->len);
    switch (order) {
    case 1:
        if (a->count != b->count)
            return a->count < b->count ? -1 : 1;
        return kc;
    case 2:
        return kc;
    case 3:
        return -kc;
    default:
        if (a->count != b->count)
            return a->count > b->count ? -1 : 1;
        return kc;
    }
}

typedef struct aggctx {
    store_rtxn *r;
    sidx *ix;
    size_t nix;
    unsigned char **bits; /* per index */
    bool typed;
    store_error *err;
    int64_t *buckets;    /* buckets in the answer so far, against search.max_buckets */
    store_fielddata *fd; /* columns for aggregations under a bucket */
    bool nested;         /* under a bucket: `bits` are that bucket's documents */
} aggctx;

/* Under a bucket a field's values come from its column (built once per
 * search), so each bucket costs its own documents rather than a scan of
 * every value of the field: a sub-aggregation is linear in the matches. */
static bool column_of(aggctx *c, size_t i, const char *field, const store_column **col)
{
    char reason[320];
    int rc = store_fielddata_get(c->fd, c->r, &c->ix[i].meta, field, col, reason, sizeof reason);
    if (rc > 0)
        return true;
    if (rc < 0)
        return storage_err(c->err);
    if (strcmp(reason, "out of memory") == 0)
        return oom_err(c->err);
    return seterr(c->err, 429, "circuit_breaking_exception", "%s", reason);
}

static bool agg_render(aggctx *c, const agg *a, buf *b);

static const char *agg_type_name(const agg *a, store_ftype ft)
{
    switch (a->t) {
    case AG_TERMS:
        return ft == STORE_FT_KEYWORD  ? "sterms"
               : ft == STORE_FT_DOUBLE ? "dterms"
               : ft == STORE_FT_NONE   ? "sterms"
                                       : "lterms";
    case AG_AVG:
        return "avg";
    case AG_MIN:
        return "min";
    case AG_MAX:
        return "max";
    case AG_SUM:
        return "sum";
    case AG_CARD:
        return "cardinality";
    case AG_FILTER:
        return "filter";
    case AG_FILTERS:
        return "filters";
    case AG_RANGE:
        return "range";
    case AG_HISTO:
        return "histogram";
    case AG_TOP:
        return "top_hits";
    case AG_DHISTO:
        return "date_histogram";
    default:
        return "value_count";
    }
}

static const char *agg_es_name(agtype t)
{
    static const char *n[] = {"terms", "avg", "min", "max", "sum", "value_count", "cardinality", "filter", "filters", "range", "histogram", "top_hits", "date_histogram"};
    return n[t];
}

/* The field's type across the searched indices; errors for text fields
 * (fielddata) and metrics over keywords. STORE_FT_NONE when unmapped. */
static bool agg_field(aggctx *c, const agg *a, store_ftype *ft)
{
    *ft = STORE_FT_NONE;
    for (size_t i = 0; i < c->nix; i++) {
        const store_field *f = store_mapping_find(&c->ix[i].map, a->field);
        if (!f || f->type == STORE_FT_OBJECT || f->type == STORE_FT_NONE)
            continue;
        ex x = {c->r, &c->ix[i], c->err};
        if (f->type == STORE_FT_TEXT)
            return store_eval_fielddata_err(&x, a->field);
        if (f->type == STORE_FT_KEYWORD && a->t != AG_TERMS && a->t != AG_COUNT && a->t != AG_CARD)
            return store_eval_shard_fail(&x, "illegal_argument_exception",
                                         "Field [%s] of type [keyword] is not supported for "
                                         "aggregation [%s]",
                                         a->field, agg_es_name(a->t));
        if (a->t == AG_DHISTO && f->type != STORE_FT_DATE && f->type != STORE_FT_DATE_NANOS &&
            f->type != STORE_FT_LONG && f->type != STORE_FT_DOUBLE)
            return store_eval_shard_fail(&x, "illegal_argument_exception",
                                         "Field [%s] of type [%s] is not supported for aggregation [date_histogram]",
                                         a->field, f->type_name ? f->type_name : "object");
        if (*ft == STORE_FT_NONE)
            *ft = f->type;
    }
    return true;
}

static void put_key(buf *b, store_ftype ft, const unsigned char *key, size_t len)
{
    char tmp[40];
    switch (ft) {
    case STORE_FT_KEYWORD:
        buf_puts(b, "\"key\":");
        jstrn(b, (const char *)key, len);
        break;
    case STORE_FT_DOUBLE:
        buf_puts(b, "\"key\":");
        store_json_put_double(b, val_num(ft, key, len));
        break;
    case STORE_FT_BOOLEAN: {
        bool t = len && key[0] == 'T';
        buf_puts(b, t ? "\"key\":1,\"key_as_string\":\"true\"" : "\"key\":0,\"key_as_string\":\"false\"");
        break;
    }
    case STORE_FT_DATE:
    case STORE_FT_DATE_NANOS: {
        int64_t ms = len == STORE_VAL_NUM_LEN ? store_index_dec_long(key) : 0;
        if (ft == STORE_FT_DATE_NANOS)
            ms /= 1000000;
        store_index_format_date(ms, tmp, sizeof tmp);
        buf_puts(b, "\"key\":");
        jint(b, ms);
        buf_puts(b, ",\"key_as_string\":");
        jstr(b, tmp);
        break;
    }
    case STORE_FT_ULONG: /* the exact value as a number, no key_as_string (LongTerms with UNSIGNED_LONG_SHIFTED) */
        buf_printf(b, "\"key\":%" PRIu64, len == STORE_VAL_NUM_LEN ? store_ulong_unshift(store_index_dec_long(key)) : 0);
        break;
    default:
        buf_puts(b, "\"key\":");
        jint(b, len == STORE_VAL_NUM_LEN ? store_index_dec_long(key) : 0);
        break;
    }
}

/* Documents of index i in the bucket's set. */
static int64_t bits_count(const aggctx *c, size_t i)
{
    int64_t n = 0, next = c->ix[i].meta.next_seq;
    for (int64_t w = 0; w < next / 8 + 1; w++)
        n += __builtin_popcount(c->bits[i][w]);
    return n;
}

/* A terms aggregation on the _index metadata field: one bucket per searched
 * index holding matches, as Elasticsearch's IndexFieldMapper answers it. */
static bool index_buckets(aggctx *c, bucketv *all)
{
    for (size_t i = 0; i < c->nix; i++) {
        int64_t n = bits_count(c, i);
        if (!n)
            continue;
        size_t len = strlen(c->ix[i].meta.name);
        unsigned char *k = malloc(len + 1);
        if (!k || (all->n == all->cap && !GROW_ARRAY(all->v, all->cap, all->n + 1, 8))) {
            free(k);
            return oom_err(c->err);
        }
        memcpy(k, c->ix[i].meta.name, len + 1);
        all->v[all->n++] = (bucket){k, len, n};
    }
    return true;
}

/* The distinct values of the aggregation's field over the matches, with
 * their document counts, merged across the indices (key order when several).
 * False after filling c->err; `all` is the caller's to free either way. */
static bool terms_collect(aggctx *c, const agg *a, store_ftype ft, bucketv *out)
{
    bucketv all = {0};
    bool by_index = strcmp(a->field, "_index") == 0;
    bool ok = !by_index || index_buckets(c, &all);
    for (size_t i = 0; ok && !by_index && i < c->nix && ft != STORE_FT_NONE; i++) {
        const store_field *f = store_mapping_find(&c->ix[i].map, a->field);
        if (!f || f->type != ft)
            continue;
        bucketv one = {0};
        one.bits = c->bits[i];
        one.next = c->ix[i].meta.next_seq;
        const store_column *col;
        if (c->nested) {
            if (!column_of(c, i, a->field, &col))
                ok = false;
            else
                store_column_count(col, one.bits, one.next, on_term_count, &one);
        } else if (!store_engine_values(c->r, &c->ix[i].meta, a->field, NULL, 0, true, NULL, 0, true, false,
                                        on_term_val, &one))
            ok = storage_err(c->err);
        if (ok && one.oom)
            ok = oom_err(c->err);
        for (size_t k = 0; k < one.n; k++) {
            if (ok && all.n == all.cap && !GROW_ARRAY(all.v, all.cap, all.n + 1, 64))
                ok = oom_err(c->err);
            if (ok)
                all.v[all.n++] = one.v[k];
            else
                free(one.v[k].key);
        }
        free(one.v);
    }
    if (ok && c->nix > 1 && all.n) {
        qsort(all.v, all.n, sizeof *all.v, bucket_key_cmp);
        size_t o = 0;
        for (size_t k = 0; k < all.n; k++) {
            if (o && bucket_key_cmp(&all.v[o - 1], &all.v[k]) == 0) {
                all.v[o - 1].count += all.v[k].count;
                free(all.v[k].key);
                continue;
            }
            all.v[o++] = all.v[k];
        }
        all.n = o;
    }
    *out = all;
    return ok;
}

static bool terms_agg(aggctx *c, const agg *a, store_ftype ft, buf *b)
{
    bucketv all = {0};
    bool by_index = strcmp(a->field, "_index") == 0;
    bool ok = terms_collect(c, a, ft, &all);
    if (ok) {
        int order = a->order;
        if (all.n) /* qsort_r(NULL, 0) is undefined */
            qsort_r(all.v, all.n, sizeof *all.v, bucket_cmp_r, &order);
        size_t o = 0;
        for (size_t k = 0; k < all.n; k++)
            if (all.v[k].count >= a->min_doc_count)
                all.v[o++] = all.v[k];
            else
                free(all.v[k].key);
        all.n = o;
        int64_t other = 0;
        size_t shown = all.n < (size_t)a->size ? all.n : (size_t)a->size;
        for (size_t k = shown; k < all.n; k++)
            other += all.v[k].count;
        if (c->buckets && (*c->buckets += (int64_t)shown) > STORE_SEARCH_MAX_BUCKETS) {
            /* counted before the buckets (and their sub-aggregations) are
             * built: a nested request past the limit costs nothing more */
            ok = seterr(c->err, 400, "too_many_buckets_exception",
                        "Trying to create too many buckets. Must be less than or equal to: [%d]. This limit "
                        "can be set "
                        "by changing the [search.max_buckets] cluster level setting.",
                        STORE_SEARCH_MAX_BUCKETS);
            shown = 0;
        }
        buf_printf(b, "{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":%" PRId64 ",\"buckets\":[",
                   other);
        for (size_t k = 0; ok && k < shown; k++) {
            buf_puts(b, k ? ",{" : "{");
            put_key(b, ft, all.v[k].key, all.v[k].len);
            buf_puts(b, ",\"doc_count\":");
            jint(b, all.v[k].count);
            if (a->nsubs) {
                /* the bucket's documents: the parent's that hold this key */
                unsigned char **sub = calloc(c->nix, sizeof *sub);
                ok = sub != NULL || oom_err(c->err);
                for (size_t i = 0; ok && i < c->nix; i++) {
                    int64_t next = c->ix[i].meta.next_seq;
                    if (!(sub[i] = calloc((size_t)(next / 8 + 1), 1))) {
                        ok = oom_err(c->err);
                        break;
                    }
                    if (by_index) {
                        if (strcmp(c->ix[i].meta.name, (const char *)all.v[k].key) == 0)
                            memcpy(sub[i], c->bits[i], (size_t)(next / 8 + 1));
                        continue;
                    }
                    hitv hv = {0};
                    if (!store_engine_values(c->r, &c->ix[i].meta, a->field, all.v[k].key, all.v[k].len, true,
                                             all.v[k].key, all.v[k].len, true, false, store_eval_push_val,
                                             &hv))
                        ok = storage_err(c->err);
                    for (size_t h = 0; h < hv.n; h++)
                        if (bit_get(c->bits[i], next, hv.v[h].seq))
                            bit_set(sub[i], hv.v[h].seq);
                    store_hits_free(&hv);
                }
                aggctx sc = *c;
                sc.bits = sub;
                sc.nested = true;
                for (size_t s = 0; ok && s < a->nsubs; s++) {
                    buf_putc(b, ',');
                    ok = agg_render(&sc, &a->subs[s], b);
                }
                for (size_t i = 0; sub && i < c->nix; i++)
                    free(sub[i]);
                free(sub);
            }
            buf_putc(b, '}');
        }
        buf_puts(b, "]}");
    }
    for (size_t k = 0; k < all.n; k++)
        free(all.v[k].key);
    free(all.v);
    return ok;
}

static bool agg_render_body(aggctx *c, const agg *a, buf *b);

/* An aggregation's answer, `meta` first as InternalAggregation writes it. */
static bool agg_render(aggctx *c, const agg *a, buf *b)
{
    if (!a->meta)
        return agg_render_body(c, a, b);
    buf body = BUF_INIT;
    bool ok = agg_render_body(c, a, &body);
    /* the answer's object, after the "name": key (a JSON string that may hold '{') */
    char *open = NULL;
    if (ok && body.data && body.data[0] == '"') {
        char *p = body.data + 1;
        while (*p && *p != '"')
            p += *p == '\\' && p[1] ? 2 : 1;
        if (*p == '"' && p[1] == ':' && p[2] == '{')
            open = p + 2;
    }
    if (open) {
        buf_append(b, body.data, (size_t)(open - body.data) + 1);
        buf_printf(b, "\"meta\":%s%s", a->meta, open[1] == '}' ? "" : ",");
        buf_puts(b, open + 1);
    } else if (body.data) {
        buf_append(b, body.data, body.len);
    }
    ok = ok && buf_ok(&body);
    if (!buf_ok(&body))
        oom_err(c->err);
    buf_free(&body);
    return ok;
}

/* One bucket of a filter(s) or range aggregation: `{head"doc_count":n, subs…}`
 * over the documents in `sub` (per index); `head` ("" or members ending in ','). */
static bool bucket_render(aggctx *c, const agg *a, unsigned char **sub, const char *head, buf *b)
{
    int64_t n = 0;
    aggctx sc = *c;
    sc.bits = sub;
    sc.nested = true;
    for (size_t i = 0; i < c->nix; i++)
        n += bits_count(&sc, i);
    buf_printf(b, "{%s\"doc_count\":%" PRId64, head, n);
    bool ok = true;
    for (size_t s = 0; ok && s < a->nsubs; s++) {
        buf_putc(b, ',');
        ok = agg_render(&sc, &a->subs[s], b);
    }
    buf_putc(b, '}');
    return ok;
}

/* filter / filters: each query's matches within the parent's documents; the
 * other bucket holds those no query matched. */
static bool filters_agg(aggctx *c, const agg *a, buf *b)
{
    size_t nb = a->nf + (a->other_key ? 1 : 0);
    unsigned char **sub = calloc(c->nix * (nb ? nb : 1), sizeof *sub); /* [bucket][index] */
    bool ok = sub != NULL || oom_err(c->err);
    if (ok && c->buckets && (*c->buckets += (int64_t)nb) > STORE_SEARCH_MAX_BUCKETS)
        ok = seterr(c->err, 400, "too_many_buckets_exception",
                    "Trying to create too many buckets. Must be less than or equal to: [%d]. This limit can be "
                    "set by changing the [search.max_buckets] cluster level setting.",
                    STORE_SEARCH_MAX_BUCKETS);
    for (size_t i = 0; ok && i < c->nix; i++) {
        int64_t next = c->ix[i].meta.next_seq;
        size_t bytes = (size_t)(next / 8 + 1);
        for (size_t f = 0; ok && f < nb; f++)
            if (!(sub[f * c->nix + i] = calloc(bytes, 1)))
                ok = oom_err(c->err);
        for (size_t f = 0; ok && f < a->nf; f++) {
            ex x = {c->r, &c->ix[i], c->err};
            hitv hv = {0};
            ok = store_eval(&x, a->fq[f], &hv);
            for (size_t h = 0; ok && h < hv.n; h++)
                if (bit_get(c->bits[i], next, hv.v[h].seq))
                    bit_set(sub[f * c->nix + i], hv.v[h].seq);
            store_hits_free(&hv);
        }
        if (ok && a->other_key) {
            unsigned char *o = sub[a->nf * c->nix + i];
            for (size_t w = 0; w < bytes; w++) {
                unsigned char any = 0;
                for (size_t f = 0; f < a->nf; f++)
                    any |= sub[f * c->nix + i][w];
                o[w] = (unsigned char)(c->bits[i][w] & ~any);
            }
        }
    }
    if (ok && a->t == AG_FILTER) {
        ok = bucket_render(c, a, sub, "", b);
    } else if (ok) {
        buf_puts(b, a->fnames ? "{\"buckets\":{" : "{\"buckets\":[");
        for (size_t f = 0; ok && f < nb; f++) {
            if (f)
                buf_putc(b, ',');
            if (a->fnames) { /* keyed; in the list form the other bucket is the last element */
                jstr(b, f < a->nf ? a->fnames[f] : a->other_key);
                buf_putc(b, ':');
            }
            ok = bucket_render(c, a, sub + f * c->nix, "", b);
        }
        buf_puts(b, a->fnames ? "}}" : "]}");
    }
    for (size_t k = 0; sub && k < c->nix * nb; k++)
        free(sub[k]);
    free(sub);
    return ok;
}

typedef struct rangectx {
    const agrange *g;
    const unsigned char *bits;
    unsigned char *out;
    int64_t next;
    store_ftype ft;
} rangectx;

static bool on_range_val(const void *val, size_t len, int64_t seq, void *arg)
{
    rangectx *r = arg;
    if (!bit_get(r->bits, r->next, seq))
        return true;
    double d = val_num(r->ft, val, len);
    if ((!r->g->has_from || d >= r->g->from) && (!r->g->has_to || d < r->g->to))
        bit_set(r->out, seq);
    return true;
}

/* Double.toString's form for the common values: 1.0, 150.5, 1.0E7. */
static void put_range_num(buf *b, double d)
{
    if (d == floor(d) && fabs(d) < 1e7)
        buf_printf(b, "%.1f", d);
    else
        buf_printf(b, "%.17g", d);
}

/* range: a bucket per range, [from, to), a document counted once per range
 * however many of its values fall in it. */
static bool range_agg(aggctx *c, const agg *a, store_ftype ft, buf *b)
{
    unsigned char **sub = calloc(c->nix ? c->nix : 1, sizeof *sub);
    bool ok = sub != NULL || oom_err(c->err);
    if (ok && c->buckets && (*c->buckets += (int64_t)a->nranges) > STORE_SEARCH_MAX_BUCKETS)
        ok = seterr(c->err, 400, "too_many_buckets_exception",
                    "Trying to create too many buckets. Must be less than or equal to: [%d]. This limit can be "
                    "set by changing the [search.max_buckets] cluster level setting.",
                    STORE_SEARCH_MAX_BUCKETS);
    for (size_t i = 0; ok && i < c->nix; i++)
        if (!(sub[i] = calloc((size_t)(c->ix[i].meta.next_seq / 8 + 1), 1)))
            ok = oom_err(c->err);
    buf_puts(b, a->keyed ? "{\"buckets\":{" : "{\"buckets\":[");
    for (size_t k = 0; ok && k < a->nranges; k++) {
        const agrange *g = &a->ranges[k];
        for (size_t i = 0; ok && i < c->nix; i++) {
            int64_t next = c->ix[i].meta.next_seq;
            memset(sub[i], 0, (size_t)(next / 8 + 1));
            const store_field *f = store_mapping_find(&c->ix[i].map, a->field);
            if (!f || f->type != ft)
                continue;
            rangectx rc = {g, c->bits[i], sub[i], next, ft};
            const store_column *col;
            if (c->nested) {
                if (!column_of(c, i, a->field, &col))
                    ok = false;
                else
                    store_column_each(col, c->bits[i], next, on_range_val, &rc);
            } else if (!store_engine_values(c->r, &c->ix[i].meta, a->field, NULL, 0, true, NULL, 0, true, false,
                                            on_range_val, &rc))
                ok = storage_err(c->err);
        }
        buf key = BUF_INIT, head = BUF_INIT;
        if (g->key)
            buf_puts(&key, g->key);
        else {
            if (g->has_from)
                put_range_num(&key, g->from);
            else
                buf_putc(&key, '*');
            buf_putc(&key, '-');
            if (g->has_to)
                put_range_num(&key, g->to);
            else
                buf_putc(&key, '*');
        }
        if (k)
            buf_putc(b, ',');
        if (a->keyed) {
            jstrn(b, key.data, key.len);
            buf_putc(b, ':');
        } else {
            buf_puts(&head, "\"key\":");
            jstrn(&head, key.data, key.len);
            buf_putc(&head, ',');
        }
        if (g->has_from) {
            buf_puts(&head, "\"from\":");
            store_json_put_double(&head, g->from);
            buf_putc(&head, ',');
        }
        if (g->has_to) {
            buf_puts(&head, "\"to\":");
            store_json_put_double(&head, g->to);
            buf_putc(&head, ',');
        }
        if (ok)
            ok = bucket_render(c, a, sub, head.data ? head.data : "", b);
        buf_free(&key);
        buf_free(&head);
    }
    buf_puts(b, a->keyed ? "}}" : "]}");
    for (size_t i = 0; sub && i < c->nix; i++)
        free(sub[i]);
    free(sub);
    return ok;
}

typedef struct hpair {
    double key;
    int64_t seq;
} hpair;

typedef struct histoctx {
    const agg *a;
    const unsigned char *bits;
    int64_t next;
    store_ftype ft;
    hpair *v;
    size_t n, cap;
    bool oom;
} histoctx;

static bool on_histo_val(const void *val, size_t len, int64_t seq, void *arg)
{
    histoctx *h = arg;
    if (!bit_get(h->bits, h->next, seq))
        return true;
    double d = val_num(h->ft, val, len);
    double key = floor((d - h->a->offset) / h->a->interval) * h->a->interval + h->a->offset;
    if (h->n && h->v[h->n - 1].key == key && h->v[h->n - 1].seq == seq)
        return true; /* values come in order: a repeat in one bucket is adjacent only per value */
    if (h->n == h->cap && !GROW_ARRAY(h->v, h->cap, h->n + 1, 256))
        return h->oom = true, false;
    h->v[h->n++] = (hpair){key, seq};
    return true;
}

static int hpair_cmp(const void *x, const void *y)
{
    const hpair *a = x, *b = y;
    return a->key < b->key ? -1 : a->key > b->key ? 1 : a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* histogram: buckets of `interval` from `offset`, a document once per bucket,
 * the empty buckets between the first and the last shown (min_doc_count 0). */
static bool histo_agg(aggctx *c, const agg *a, store_ftype ft, buf *b)
{
    histoctx *per = calloc(c->nix ? c->nix : 1, sizeof *per);
    unsigned char **sub = calloc(c->nix ? c->nix : 1, sizeof *sub);
    size_t *at = calloc(c->nix ? c->nix : 1, sizeof *at);
    bool ok = (per && sub && at) || oom_err(c->err);
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; ok && i < c->nix; i++) {
        histoctx *h = &per[i];
        *h = (histoctx){a, c->bits[i], c->ix[i].meta.next_seq, ft, NULL, 0, 0, false};
        if (!(sub[i] = calloc((size_t)(h->next / 8 + 1), 1)))
            ok = oom_err(c->err);
        const store_field *f = ft != STORE_FT_NONE ? store_mapping_find(&c->ix[i].map, a->field) : NULL;
        if (!ok || !f || f->type != ft)
            continue;
        const store_column *col;
        if (c->nested) {
            if (!column_of(c, i, a->field, &col))
                ok = false;
            else
                store_column_each(col, h->bits, h->next, on_histo_val, h);
        } else if (!store_engine_values(c->r, &c->ix[i].meta, a->field, NULL, 0, true, NULL, 0, true, false,
                                        on_histo_val, h))
            ok = storage_err(c->err);
        if (ok && h->oom)
            ok = oom_err(c->err);
        if (ok && h->n) {
            qsort(h->v, h->n, sizeof *h->v, hpair_cmp);
            size_t o = 0; /* one pair per (bucket, document) */
            for (size_t k = 0; k < h->n; k++)
                if (!o || hpair_cmp(&h->v[o - 1], &h->v[k]) != 0)
                    h->v[o++] = h->v[k];
            h->n = o;
            lo = fmin(lo, h->v[0].key);
            hi = fmax(hi, h->v[h->n - 1].key);
        }
    }
    /* the buckets from lo to hi, by interval; counted against max_buckets before any is built */
    double span = ok && lo <= hi ? (hi - lo) / a->interval + 1 : 0;
    if (ok && (span > STORE_SEARCH_MAX_BUCKETS ||
               (c->buckets && (*c->buckets += (int64_t)span) > STORE_SEARCH_MAX_BUCKETS)))
        ok = seterr(c->err, 400, "too_many_buckets_exception",
                    "Trying to create too many buckets. Must be less than or equal to: [%d]. This limit can be "
                    "set by changing the [search.max_buckets] cluster level setting.",
                    STORE_SEARCH_MAX_BUCKETS);
    buf_puts(b, a->keyed ? "{\"buckets\":{" : "{\"buckets\":[");
    size_t shown = 0;
    for (int64_t s = 0; ok && s < (int64_t)span; s++) {
        double key = lo + (double)s * a->interval;
        int64_t n = 0;
        for (size_t i = 0; i < c->nix; i++) {
            memset(sub[i], 0, (size_t)(per[i].next / 8 + 1));
            /* both walks are in key order: a bucket's pairs are next in line */
            while (at[i] < per[i].n && per[i].v[at[i]].key < key - a->interval / 2)
                at[i]++;
            while (at[i] < per[i].n && fabs(per[i].v[at[i]].key - key) < a->interval / 2) {
                bit_set(sub[i], per[i].v[at[i]].seq);
                at[i]++, n++;
            }
        }
        if (n < a->min_doc_count)
            continue;
        buf head = BUF_INIT, kb = BUF_INIT;
        store_json_put_double(&kb, key);
        if (shown++)
            buf_putc(b, ',');
        if (a->keyed) {
            jstrn(b, kb.data, kb.len);
            buf_putc(b, ':');
        } else {
            buf_puts(&head, "\"key\":");
            buf_append(&head, kb.data, kb.len);
            buf_putc(&head, ',');
        }
        ok = bucket_render(c, a, sub, head.data ? head.data : "", b);
        buf_free(&head);
        buf_free(&kb);
    }
    buf_puts(b, a->keyed ? "}}" : "]}");
    for (size_t i = 0; i < c->nix; i++) {
        if (per)
            free(per[i].v);
        if (sub)
            free(sub[i]);
    }
    free(per);
    free(sub);
    free(at);
    return ok;
}

/* ---- date_histogram ---------------------------------------------------------------------- */

typedef struct dpair {
    int64_t key, seq;
} dpair;

/* One index's (bucket key, document) pairs. */
typedef struct dhctx {
    store_rounding *rd;
    const unsigned char *bits;
    int64_t next;
    store_ftype ft;
    const int64_t *hard_lo, *hard_hi; /* rounded hard_bounds, [lo, hi); NULL when open */
    unsigned char *have;              /* with `missing`: the documents met with a value */
    dpair *v;
    size_t n, cap;
    bool oom;
} dhctx;

/* A bucket of the answer: its key, the last pair key it holds (inclusive: no
 * overflow at int64's end) and its documents. */
typedef struct dbucket {
    int64_t key, last, count;
} dbucket;

/* A value in milliseconds: dates as stored, date_nanos cut to milliseconds
 * (aggregations see milliseconds, as Elasticsearch's), numbers as epoch millis. */
static int64_t val_ms(store_ftype ft, const void *val, size_t len)
{
    if (len != STORE_VAL_NUM_LEN)
        return 0;
    if (ft == STORE_FT_DOUBLE) {
        double d = store_index_dec_double(val);
        return isfinite(d) && fabs(d) < 9.2e18 ? (int64_t)floor(d) : 0;
    }
    int64_t v = store_index_dec_long(val);
    return ft == STORE_FT_DATE_NANOS ? v / 1000000 : v;
}

static bool dh_add(dhctx *h, int64_t ms, int64_t seq)
{
    int64_t key = store_rounding_round(h->rd, ms);
    /* LongBounds.contain on the rounded key, as DateHistogramAggregator collects: [min, max) */
    if ((h->hard_lo && key < *h->hard_lo) || (h->hard_hi && key >= *h->hard_hi))
        return true;
    if (h->n && h->v[h->n - 1].key == key && h->v[h->n - 1].seq == seq)
        return true;
    if (h->n == h->cap && !GROW_ARRAY(h->v, h->cap, h->n + 1, 256))
        return h->oom = true, false;
    h->v[h->n++] = (dpair){key, seq};
    return true;
}

static bool on_dh_val(const void *val, size_t len, int64_t seq, void *arg)
{
    dhctx *h = arg;
    if (!bit_get(h->bits, h->next, seq))
        return true;
    if (h->have)
        bit_set(h->have, seq);
    return dh_add(h, val_ms(h->ft, val, len), seq);
}

static int dpair_cmp(const void *x, const void *y)
{
    const dpair *a = x, *b = y;
    return a->key != b->key ? (a->key < b->key ? -1 : 1) : a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int dbucket_cmp_r(const void *x, const void *y, void *arg)
{
    const dbucket *a = x, *b = y;
    int order = *(const int *)arg; /* as agg.order; ties go by key ascending (InternalOrder's tie-break) */
    int kc = a->key < b->key ? -1 : a->key > b->key;
    if (order == 3)
        return -kc;
    if ((order == 0 || order == 1) && a->count != b->count)
        return (a->count < b->count) == (order == 1) ? -1 : 1;
    return kc;
}

/* First pair of `v` whose key is not below `key`. */
static size_t dh_lower(const dpair *v, size_t n, int64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A bound or `missing` in milliseconds: text is read with the aggregation's
 * (or field's) format and time_zone, date math included (DocValueFormat.DateTime.parseLong). */
static bool dh_date(aggctx *c, const agdate *d, const char *fmt, const char *zone, int64_t *ms)
{
    char why[512];
    if (!d->s)
        return *ms = d->ms, true;
    if (store_datemath_parse(d->s, fmt, zone, store_engine_read_now_ms(c->r), false, ms, why, sizeof why) == 1)
        return true;
    return seterr(c->err, 400, "parse_exception", "%s", why);
}

static void dh_bound_text(buf *b, const agdate *d)
{
    if (!d->set)
        buf_puts(b, "null");
    else if (d->s)
        buf_puts(b, d->s);
    else
        buf_printf(b, "%" PRId64, d->ms);
}

static bool too_many_buckets(aggctx *c)
{
    return seterr(c->err, 400, "too_many_buckets_exception",
                  "Trying to create too many buckets. Must be less than or equal to: [%d]. This limit can be "
                  "set by changing the [search.max_buckets] cluster level setting.",
                  STORE_SEARCH_MAX_BUCKETS);
}

/* The bounds in milliseconds, rounded as LongBounds.round does, checked as
 * DateHistogramAggregationBuilder does. *set bits: 1 ext min, 2 ext max, 4 hard min, 8 hard max. */
static bool dh_bounds(aggctx *c, const agg *a, store_rounding *rd, const char *fmt, int64_t bnd[4], int *set)
{
    const agdate *d[4] = {&a->ext_min, &a->ext_max, &a->hard_min, &a->hard_max};
    *set = 0;
    for (int k = 0; k < 4; k++) {
        if (!d[k]->set)
            continue;
        if (!dh_date(c, d[k], fmt, a->time_zone, &bnd[k]))
            return false;
        *set |= 1 << k;
    }
    for (int k = 0; k < 4; k += 2)
        if ((*set >> k & 3) == 3 && bnd[k] > bnd[k + 1])
            return seterr(c->err, 400, "illegal_argument_exception",
                          "[%s.min][%" PRId64 "] cannot be greater than [%s.max][%" PRId64 "] for histogram aggregation [%s]",
                          k ? "hard_bounds" : "extended_bounds", bnd[k], k ? "hard_bounds" : "extended_bounds",
                          bnd[k + 1], a->name);
    for (int k = 0; k < 4; k++) /* LongBounds.round: without the offset */
        if (*set >> k & 1)
            bnd[k] = store_rounding_round_without_offset(rd, bnd[k]);
    if (((*set & 10) == 10 && bnd[1] > bnd[3]) || ((*set & 5) == 5 && bnd[0] < bnd[2])) {
        buf t = BUF_INIT;
        buf_puts(&t, "Extended bounds have to be inside hard bounds, hard bounds: [");
        dh_bound_text(&t, &a->hard_min);
        buf_puts(&t, "--");
        dh_bound_text(&t, &a->hard_max);
        buf_puts(&t, "], extended bounds: [");
        dh_bound_text(&t, &a->ext_min);
        buf_puts(&t, "--");
        dh_bound_text(&t, &a->ext_max);
        buf_putc(&t, ']');
        bool ok = buf_ok(&t) ? seterr(c->err, 400, "illegal_argument_exception", "%s", t.data) : oom_err(c->err);
        buf_free(&t);
        return ok;
    }
    for (int k = 0; k < 2; k++) /* empty buckets start from the bound plus the offset (addEmptyBuckets) */
        if (*set >> k & 1)
            bnd[k] += a->dh_offset;
    return true;
}

/* One index's pairs: its values (or column under a bucket), `missing` for
 * the matches without one, sorted by key then document, one per (key, document). */
static bool dh_collect(aggctx *c, const agg *a, size_t i, dhctx *h, const int64_t *miss)
{
    const store_field *f = h->ft != STORE_FT_NONE ? store_mapping_find(&c->ix[i].map, a->field) : NULL;
    size_t bytes = (size_t)(h->next / 8 + 1);
    if (miss && !(h->have = calloc(bytes, 1)))
        return oom_err(c->err);
    bool ok = true;
    if (f && f->type == h->ft) {
        const store_column *col;
        if (c->nested) {
            if (!column_of(c, i, a->field, &col))
                ok = false;
            else
                store_column_each(col, h->bits, h->next, on_dh_val, h);
        } else if (!store_engine_values(c->r, &c->ix[i].meta, a->field, NULL, 0, true, NULL, 0, true, false,
                                        on_dh_val, h))
            ok = storage_err(c->err);
    }
    for (int64_t seq = 0; ok && miss && !h->oom && seq < h->next; seq++)
        if (bit_get(h->bits, h->next, seq) && !bit_get(h->have, h->next, seq))
            dh_add(h, *miss, seq);
    free(h->have);
    h->have = NULL;
    if (ok && h->oom)
        ok = oom_err(c->err);
    if (ok && h->n) {
        qsort(h->v, h->n, sizeof *h->v, dpair_cmp);
        size_t o = 0;
        for (size_t k = 0; k < h->n; k++)
            if (!o || dpair_cmp(&h->v[o - 1], &h->v[k]) != 0)
                h->v[o++] = h->v[k];
        h->n = o;
    }
    return ok;
}

/* The buckets in key order: every key from lo to hi when min_doc_count is 0
 * (empty ones included, extended_bounds widening the span), else the keys
 * holding documents; counted against search.max_buckets as they are made. */
static bool dh_buckets(aggctx *c, const agg *a, store_rounding *rd, dhctx *per, unsigned char **sub,
                       const int64_t bnd[4], int set, dbucket **out, size_t *nout)
{
    bool fill = a->min_doc_count == 0, any = false;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < c->nix; i++)
        if (per[i].n) {
            any = true;
            lo = per[i].v[0].key < lo ? per[i].v[0].key : lo;
            hi = per[i].v[per[i].n - 1].key > hi ? per[i].v[per[i].n - 1].key : hi;
        }
    if (fill && !any && (set & 3) != 3)
        return true; /* no documents: buckets only between both extended bounds */
    if (fill && (set & 1) && bnd[0] < lo)
        lo = bnd[0];
    if (fill && (set & 2) && bnd[1] > hi)
        hi = bnd[1];
    if ((set & 4) && bnd[2] > lo)
        lo = bnd[2];
    if ((set & 8) && bnd[3] <= hi)
        hi = bnd[3] - 1; /* hard_bounds.max is exclusive */
    size_t *at = calloc(c->nix ? c->nix : 1, sizeof *at), cap = 0;
    if (!at)
        return oom_err(c->err);
    bool ok = true;
    for (int64_t key = lo; ok && key <= hi;) {
        int64_t end = fill ? store_rounding_next(rd, key) : key, count = 0, next_key = INT64_MAX;
        int64_t last = end > key ? end - 1 : key;
        bool more = false; /* pairs left after this bucket */
        for (size_t i = 0; i < c->nix; i++) {
            dhctx *h = &per[i];
            size_t from = at[i];
            while (at[i] < h->n && h->v[at[i]].key <= last) {
                if (!bit_get(sub[i], h->next, h->v[at[i]].seq))
                    count++;
                bit_set(sub[i], h->v[at[i]].seq);
                at[i]++;
            }
            for (size_t k = from; k < at[i]; k++) /* clear what was set: O(pairs), not O(index) */
                sub[i][h->v[k].seq >> 3] = 0;
            if (at[i] < h->n && (!more || h->v[at[i]].key < next_key))
                next_key = h->v[at[i]].key, more = true;
        }
        if (count >= a->min_doc_count) {
            if (*nout >= STORE_SEARCH_MAX_BUCKETS ||
                (c->buckets && ++*c->buckets > STORE_SEARCH_MAX_BUCKETS))
                ok = too_many_buckets(c);
            else if (*nout == cap && !GROW_ARRAY(*out, cap, *nout + 1, 64))
                ok = oom_err(c->err);
            else
                (*out)[(*nout)++] = (dbucket){key, last, count};
        }
        if (fill ? end <= key : !more || next_key <= key)
            break;
        key = fill ? end : next_key;
    }
    free(at);
    return ok;
}

/* date_histogram: buckets of a calendar or fixed interval in a time zone,
 * keyed by their start (key_as_string in the aggregation's or the field's
 * format), sub-aggregations per bucket. */
static bool dhisto_agg(aggctx *c, const agg *a, store_ftype ft, buf *b)
{
    store_rounding rd;
    dhctx *per = calloc(c->nix ? c->nix : 1, sizeof *per);
    unsigned char **sub = calloc(c->nix ? c->nix : 1, sizeof *sub);
    dbucket *bk = NULL;
    size_t nb = 0;
    bool ok = (per && sub) || oom_err(c->err);
    bool have_rd = ok && store_rounding_init(&rd, (store_round_unit)a->dh_unit, a->dh_fixed, a->dh_offset, a->time_zone);
    if (ok && !have_rd)
        ok = oom_err(c->err); /* the zone was checked when the request was read */
    /* text bounds and key_as_string use the aggregation's format, else the field's */
    const char *fmt = a->format;
    for (size_t i = 0; !fmt && ft != STORE_FT_NONE && i < c->nix; i++) {
        const store_field *f = store_mapping_find(&c->ix[i].map, a->field);
        if (f && f->type == ft && f->date_format)
            fmt = f->date_format;
    }
    int64_t bnd[4] = {0}, miss = 0;
    int set = 0;
    ok = ok && dh_bounds(c, a, &rd, fmt, bnd, &set);
    if (ok && a->dmissing.set)
        ok = dh_date(c, &a->dmissing, fmt, a->time_zone, &miss);
    for (size_t i = 0; ok && i < c->nix; i++) {
        per[i] = (dhctx){&rd, c->bits[i], c->ix[i].meta.next_seq, ft, (set & 4) ? &bnd[2] : NULL,
                         (set & 8) ? &bnd[3] : NULL, NULL, NULL, 0, 0, false};
        if (!(sub[i] = calloc((size_t)(per[i].next / 8 + 1), 1)))
            ok = oom_err(c->err);
        else
            ok = dh_collect(c, a, i, &per[i], a->dmissing.set ? &miss : NULL);
    }
    ok = ok && dh_buckets(c, a, &rd, per, sub, bnd, set, &bk, &nb);
    if (ok && a->order != 2 && nb > 1) {
        int order = a->order;
        qsort_r(bk, nb, sizeof *bk, dbucket_cmp_r, &order);
    }
    /* a number field without a `format` has DocValueFormat.RAW: no key_as_string, keyed by the number */
    bool raw = (ft == STORE_FT_LONG || ft == STORE_FT_DOUBLE) && !a->format;
    buf_puts(b, a->keyed ? "{\"buckets\":{" : "{\"buckets\":[");
    buf ks = BUF_INIT;
    for (size_t k = 0; ok && k < nb; k++) {
        buf_reset(&ks);
        if (raw)
            buf_printf(&ks, "%" PRId64, bk[k].key);
        else
            store_rounding_format(&rd, fmt, bk[k].key, &ks);
        if (k)
            buf_putc(b, ',');
        if (a->keyed) {
            jstrn(b, ks.data ? ks.data : "", ks.len);
            buf_putc(b, ':');
        }
        buf_putc(b, '{');
        if (!raw) {
            buf_puts(b, "\"key_as_string\":");
            jstrn(b, ks.data ? ks.data : "", ks.len);
            buf_putc(b, ',');
        }
        buf_printf(b, "\"key\":%" PRId64 ",\"doc_count\":%" PRId64, bk[k].key, bk[k].count);
        if (a->nsubs) { /* the bucket's documents as the sub-aggregations' set, cleared after */
            aggctx sc = *c;
            sc.bits = sub;
            sc.nested = true;
            for (size_t i = 0; i < c->nix; i++)
                for (size_t p = dh_lower(per[i].v, per[i].n, bk[k].key);
                     p < per[i].n && per[i].v[p].key <= bk[k].last; p++)
                    bit_set(sub[i], per[i].v[p].seq);
            for (size_t s = 0; ok && s < a->nsubs; s++) {
                buf_putc(b, ',');
                ok = agg_render(&sc, &a->subs[s], b);
            }
            for (size_t i = 0; i < c->nix; i++)
                for (size_t p = dh_lower(per[i].v, per[i].n, bk[k].key);
                     p < per[i].n && per[i].v[p].key <= bk[k].last; p++)
                    sub[i][per[i].v[p].seq >> 3] = 0;
        }
        buf_putc(b, '}');
    }
    buf_puts(b, a->keyed ? "}}" : "]}");
    buf_free(&ks);
    for (size_t i = 0; i < c->nix; i++) {
        if (per)
            free(per[i].v);
        if (sub)
            free(sub[i]);
    }
    if (have_rd)
        store_rounding_free(&rd);
    free(per);
    free(sub);
    free(bk);
    return ok;
}

typedef struct topc {
    size_t ix;
    int64_t seq;
    double score;
} topc;

static int topc_cmp(const void *x, const void *y)
{
    const topc *a = x, *b = y;
    if ((float)a->score != (float)b->score)
        return (float)a->score > (float)b->score ? -1 : 1;
    return a->ix != b->ix ? (a->ix < b->ix ? -1 : 1) : a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* top_hits: the best-scoring documents of the bucket, rendered as search hits. */
static bool top_hits_agg(aggctx *c, const agg *a, buf *b)
{
    topc *v = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    for (size_t i = 0; ok && i < c->nix; i++) {
        const hitv *res = &c->ix[i].res;
        int64_t next = c->ix[i].meta.next_seq;
        for (size_t k = 0; ok && k < res->n; k++) {
            if (!bit_get(c->bits[i], next, res->v[k].seq))
                continue;
            if (n == cap && !GROW_ARRAY(v, cap, n + 1, 64))
                ok = oom_err(c->err);
            else
                v[n++] = (topc){i, res->v[k].seq, res->v[k].score};
        }
    }
    if (ok && n)
        qsort(v, n, sizeof *v, topc_cmp);
    sreq q;
    memset(&q, 0, sizeof q);
    q.src = a->src; /* borrowed: q is not freed */
    q.version = a->version;
    q.seqno = a->seqno;
    buf_printf(b, "{\"hits\":{\"total\":{\"value\":%zu,\"relation\":\"eq\"},\"max_score\":", n);
    if (n)
        store_json_put_float(b, (float)v[0].score);
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"hits\":[");
    size_t shown = 0;
    for (size_t k = (size_t)a->from; ok && k < n && shown < (size_t)a->size; k++) {
        const char *id;
        size_t idn;
        store_doc_view dv;
        int rc = store_engine_doc_by_seq(c->r, &c->ix[v[k].ix].meta, v[k].seq, &id, &idn, &dv);
        if (rc < 0)
            ok = storage_err(c->err);
        if (rc != 1)
            continue;
        if (shown++)
            buf_putc(b, ',');
        store_sort_put_hit(b, c->ix[v[k].ix].meta.name, id, idn, &dv, &q, true, (float)v[k].score, NULL, 0, NULL, 0);
    }
    buf_puts(b, "]}}");
    free(v);
    return ok;
}

/* The aggregation's name as an answer key: "type#name" with typed_keys. */
static void put_agg_key(aggctx *c, const agg *a, store_ftype ft, buf *b)
{
    buf key = BUF_INIT;
    if (c->typed) {
        buf_puts(&key, agg_type_name(a, ft));
        buf_putc(&key, '#');
    }
    buf_puts(&key, a->name);
    jstrn(b, key.data ? key.data : "", key.len);
    buf_free(&key);
    buf_putc(b, ':');
}

static bool agg_render_body(aggctx *c, const agg *a, buf *b)
{
    store_ftype ft = STORE_FT_NONE;
    if (a->t == AG_FILTER || a->t == AG_FILTERS || a->t == AG_TOP) {
        put_agg_key(c, a, ft, b);
        return a->t == AG_TOP ? top_hits_agg(c, a, b) : filters_agg(c, a, b);
    }
    if (!agg_field(c, a, &ft))
        return false;
    if (a->t == AG_TERMS && strcmp(a->field, "_index") == 0)
        ft = STORE_FT_KEYWORD; /* a keyword as far as the answer shows */
    put_agg_key(c, a, ft, b);
    if (a->t == AG_TERMS)
        return terms_agg(c, a, ft, b);
    if (a->t == AG_RANGE)
        return range_agg(c, a, ft, b);
    if (a->t == AG_HISTO)
        return histo_agg(c, a, ft, b);
    if (a->t == AG_DHISTO)
        return dhisto_agg(c, a, ft, b);
    if (a->t == AG_CARD) { /* exact: Elasticsearch's HyperLogLog++ is too below its precision threshold */
        bucketv all = {0};
        bool ok = terms_collect(c, a, ft, &all);
        if (ok)
            buf_printf(b, "{\"value\":%zu}", all.n);
        for (size_t k = 0; k < all.n; k++)
            free(all.v[k].key);
        free(all.v);
        return ok;
    }
    metric m = {0};
    int64_t absent = 0; /* with `missing`: matches without a value */
    for (size_t i = 0; i < c->nix; i++) {
        const store_field *f = ft != STORE_FT_NONE ? store_mapping_find(&c->ix[i].map, a->field) : NULL;
        if (!f || f->type != ft) {
            absent += a->has_missing ? bits_count(c, i) : 0; /* unmapped here: every match lacks it */
            continue;
        }
        m.bits = c->bits[i];
        m.next = c->ix[i].meta.next_seq;
        m.ft = ft;
        size_t bytes = (size_t)(m.next / 8 + 1);
        if (a->has_missing && !(m.have = calloc(bytes, 1)))
            return oom_err(c->err);
        const store_column *col;
        bool ok = true;
        if (c->nested) {
            if (!column_of(c, i, a->field, &col))
                ok = false;
            else
                store_column_each(col, m.bits, m.next, on_metric, &m);
        } else if (!store_engine_values(c->r, &c->ix[i].meta, a->field, NULL, 0, true, NULL, 0, true, false,
                                        on_metric, &m))
            ok = storage_err(c->err);
        for (size_t w = 0; ok && m.have && w < bytes; w++)
            absent += __builtin_popcount((unsigned)(c->bits[i][w] & ~m.have[w]));
        free(m.have);
        m.have = NULL;
        if (!ok)
            return false;
    }
    if (absent) { /* ValuesSourceConfig: a document without the field has the `missing` value */
        if (!m.count || a->missing < m.min)
            m.min = a->missing;
        if (!m.count || a->missing > m.max)
            m.max = a->missing;
        m.sum += a->missing * (double)absent;
        m.count += absent;
    }
    buf_puts(b, "{\"value\":");
    double v = 0;
    bool null = false;
    switch (a->t) {
    case AG_COUNT:
        jint(b, m.count);
        buf_putc(b, '}');
        return true;
    case AG_SUM:
        v = m.sum;
        break;
    case AG_AVG:
        v = m.count ? m.sum / (double)m.count : 0, null = !m.count;
        break;
    case AG_MIN:
        v = m.min, null = !m.count;
        break;
    default:
        v = m.max, null = !m.count;
        break;
    }
    if (null)
        buf_puts(b, "null");
    else
        store_json_put_double(b, v);
    if (!null && (ft == STORE_FT_DATE || ft == STORE_FT_DATE_NANOS) && (a->t == AG_MIN || a->t == AG_MAX)) {
        char tmp[40];
        store_index_format_date((int64_t)v, tmp, sizeof tmp);
        buf_puts(b, ",\"value_as_string\":");
        jstr(b, tmp);
    }
    buf_putc(b, '}');
    return true;
}

bool store_aggs_run(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, buf *out, store_error *err)
{
    unsigned char **bits = calloc(nix ? nix : 1, sizeof *bits);
    bool ok = bits != NULL || oom_err(err);
    for (size_t i = 0; ok && i < nix; i++) {
        int64_t next = ix[i].meta.next_seq;
        if (!(bits[i] = calloc((size_t)(next / 8 + 1), 1))) {
            ok = oom_err(err);
            break;
        }
        for (size_t k = 0; k < ix[i].res.n; k++)
            if (ix[i].res.v[k].seq >= 0 && ix[i].res.v[k].seq < next)
                bit_set(bits[i], ix[i].res.v[k].seq);
    }
    int64_t nbuckets = 0;
    store_fielddata *fd = store_fielddata_new();
    if (!fd && ok)
        ok = oom_err(err);
    aggctx c = {r, ix, nix, bits, q->typed_keys, err, &nbuckets, fd, false};
    buf_puts(out, ",\"aggregations\":{");
    for (size_t a = 0; ok && a < q->naggs; a++) {
        if (a)
            buf_putc(out, ',');
        ok = agg_render(&c, &q->aggs[a], out);
    }
    buf_putc(out, '}');
    store_fielddata_free(fd);
    for (size_t i = 0; bits && i < nix; i++)
        free(bits[i]);
    free(bits);
    return ok;
}
