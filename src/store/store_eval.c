/* store_eval — hit lists (sorted vectors of matching documents and their set algebra), BM25 as Elasticsearch
 * 8 computes it, and the query tree evaluated against one index's structures. */
#include "versync/store/store_search_int.h"

#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/store/store_breaker.h"
#include "versync/store/store_datefmt.h"
#include "versync/store/store_datemath.h"
#include "versync/store/store_deadline.h"
#include "versync/store/store_fielddata.h"
#include "versync/store/store_index.h"
#include "versync/store/store_json.h"
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

/* ---- hit lists ------------------------------------------------------------------ */

void store_hits_free(hitv *h)
{
    free(h->v);
    memset(h, 0, sizeof *h);
}

/* Room for `more` hits beyond the current ones, in one allocation. */
static bool hv_reserve(hitv *h, size_t more)
{
    if (h->cap - h->n >= more)
        return true;
    hit *nv = realloc(h->v, (h->n + more) * sizeof *nv);
    if (!nv)
        return false;
    h->v = nv;
    h->cap = h->n + more;
    return true;
}

/* b's hits after a's (unsorted until hv_norm). */
static bool hv_append(hitv *a, const hitv *b)
{
    if (!b->n)
        return true;
    if (!hv_reserve(a, b->n))
        return false;
    memcpy(a->v + a->n, b->v, b->n * sizeof *b->v);
    a->n += b->n;
    return true;
}

static bool hv_push(hitv *h, int64_t seq, double score)
{
    if (h->n == h->cap && !GROW_ARRAY(h->v, h->cap, h->n + 1, 64))
        return false;
    h->v[h->n++] = (hit){seq, score, 0, 1};
    return true;
}

static int hit_seq_cmp(const void *a, const void *b)
{
    int64_t x = ((const hit *)a)->seq, y = ((const hit *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Rank within one index when the page is ordered by _score alone: score
 * descending (compared as the float it is reported as), then document order. */
static int hit_rank_cmp(const hit *a, const hit *b)
{
    float x = (float)a->score, y = (float)b->score;
    if (x != y)
        return x > y ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void rank_down(hit *v, size_t n, size_t i)
{
    for (;;) { /* the root holds the worst of the best so far */
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && hit_rank_cmp(&v[l], &v[w]) > 0)
            w = l;
        if (r < n && hit_rank_cmp(&v[r], &v[w]) > 0)
            w = r;
        if (w == i)
            return;
        hit t = v[i];
        v[i] = v[w];
        v[w] = t;
        i = w;
    }
}

/* Keep the `k` best hits by hit_rank_cmp, in seq order again. Only these
 * can reach a _score-ordered page: the global order ranks by score, then
 * index, then document, so each index's own best k contain its share of the
 * page. Saves building sort records for every match of a common term. */
void store_hits_keep_best(hitv *h, size_t k)
{
    if (k >= h->n)
        return;
    hit *v = h->v;
    if (k) {
        for (size_t i = k / 2; i-- > 0;)
            rank_down(v, k, i);
        for (size_t i = k; i < h->n; i++)
            if (hit_rank_cmp(&v[i], &v[0]) < 0) {
                v[0] = v[i];
                rank_down(v, k, 0);
            }
        qsort(v, k, sizeof *v, hit_seq_cmp);
    }
    h->n = k;
}

/* Sort by seq and drop repeats (a multi-valued document found twice). */
static void hv_norm(hitv *h, double score)
{
    bool sorted = true;
    for (size_t i = 1; i < h->n && sorted; i++)
        sorted = h->v[i - 1].seq <= h->v[i].seq;
    if (!sorted)
        qsort(h->v, h->n, sizeof *h->v, hit_seq_cmp);
    size_t o = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (o && h->v[o - 1].seq == h->v[i].seq)
            continue;
        h->v[o] = h->v[i];
        h->v[o].score = score;
        h->v[o].cnt = 1;
        o++;
    }
    h->n = o;
}

static void hv_cast(hitv *h, float boost)
{
    for (size_t i = 0; i < h->n; i++)
        h->v[i].score = (float)((float)h->v[i].score * boost);
}

typedef enum { MERGE_SUM, MERGE_MAX } merge_mode;

/* a ∪ b into a: scores summed (or max, with the sum kept in aux), counts added. */
static bool hv_union(hitv *a, hitv *b, merge_mode mode)
{
    hitv out = {0};
    size_t i = 0, j = 0;
    if (!(out.v = malloc((a->n + b->n + 1) * sizeof *out.v)))
        return false;
    out.cap = a->n + b->n + 1;
    while (i < a->n || j < b->n) {
        hit h;
        if (j >= b->n || (i < a->n && a->v[i].seq < b->v[j].seq))
            h = a->v[i++];
        else if (i >= a->n || b->v[j].seq < a->v[i].seq)
            h = b->v[j++];
        else {
            h = a->v[i];
            const hit *y = &b->v[j];
            if (mode == MERGE_SUM)
                h.score += y->score;
            else {
                h.aux += y->aux;
                if (y->score > h.score)
                    h.score = y->score;
            }
            h.cnt += y->cnt;
            i++, j++;
        }
        out.v[out.n++] = h;
    }
    store_hits_free(a);
    *a = out;
    return true;
}

/* a ∩ b into a, scores summed; a's aux kept. */
void store_hits_intersect(hitv *a, const hitv *b)
{
    size_t i = 0, j = 0, o = 0;
    while (i < a->n && j < b->n) {
        if (a->v[i].seq < b->v[j].seq)
            i++;
        else if (b->v[j].seq < a->v[i].seq)
            j++;
        else {
            a->v[o] = a->v[i];
            a->v[o].score += b->v[j].score;
            o++, i++, j++;
        }
    }
    a->n = o;
}

/* a minus b. */
static void hv_minus(hitv *a, const hitv *b)
{
    size_t i = 0, j = 0, o = 0;
    while (i < a->n) {
        while (j < b->n && b->v[j].seq < a->v[i].seq)
            j++;
        if (j < b->n && b->v[j].seq == a->v[i].seq) {
            i++;
            continue;
        }
        a->v[o++] = a->v[i++];
    }
    a->n = o;
}

/* ---- BM25 as Elasticsearch 8 computes it --------------------------------------------- */

/* Elasticsearch 7 and 8 score with LegacyBM25Similarity, which hands Lucene's
 * BM25Similarity the query boost times (k1 + 1): the numerator factor Lucene 8
 * dropped. Multiplied in float before the idf, as LegacyBM25Similarity.scorer
 * does, so scores match to the last digit. */
float store_bm25_boost(float boost)
{
    return boost * (1 + BM25_K1);
}

float store_bm25_idf(int64_t docs, int64_t df)
{
    return (float)log(1 + (docs - df + 0.5) / (df + 0.5));
}

float store_bm25_avgdl(int64_t docs, int64_t sum_len)
{
    return docs > 0 ? (float)((double)sum_len / (double)docs) : 1.0f;
}

/* BM25Similarity's per-length cache entry; float throughout, as in Lucene. */
float store_bm25_norm_inverse(float avgdl, uint32_t len)
{
    float dl = (float)store_index_norm_len(len);
    return 1.0f / (BM25_K1 * ((1 - BM25_B) + BM25_B * dl / avgdl));
}

/* ---- evaluation ------------------------------------------------------------------------ */

bool store_eval_shard_fail(ex *x, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool store_eval_shard_fail(ex *x, const char *type, const char *fmt, ...)
{
    store_error *err = x->err;
    if (err->status)
        return false;
    buf raw = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    store_util_vappend(&raw, fmt, ap);
    va_end(ap);
    seterr(err, 400, type, "%s", raw.data ? raw.data : "");
    buf_free(&raw);
    err->shard = true;
    snprintf(err->shard_index, sizeof err->shard_index, "%s", x->ix->meta.name);
    return false;
}

bool store_eval_query_fail(ex *x, const char *cause_type, const char *fmt, ...)
{
    store_error *err = x->err;
    if (err->status)
        return false;
    static const char prefix[] = "failed to create query: ";
    buf raw = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    store_util_vappend(&raw, fmt, ap);
    va_end(ap);
    store_eval_shard_fail(x, "query_shard_exception", "%s%s", prefix, raw.data ? raw.data : "");
    buf_free(&raw);
    err->cause_type = cause_type;
    err->cause_at = sizeof prefix - 1;
    return false;
}

static const char *type_name(const store_field *f)
{
    return f->type_name ? f->type_name : "object";
}

bool store_eval_fielddata_err(ex *x, const char *path)
{
    return store_eval_shard_fail(
        x, "illegal_argument_exception",
        "Fielddata is disabled on [%s] in [%s]. Text fields are not optimised for operations that "
        "require per-document field data like aggregations and sorting, so these operations are "
        "disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on "
        "[%s] in order to load field data by uninverting the inverted index. Note that this can use "
        "significant memory.",
        path, x->ix->meta.name, path);
}

static bool push_seq(int64_t seq, void *arg)
{
    return hv_push(arg, seq, 0);
}

bool store_eval_push_val(const void *val, size_t len, int64_t seq, void *arg)
{
    (void)val, (void)len;
    return hv_push(arg, seq, 0);
}

/* Every live document, scored `score`. */
bool store_eval_all_docs(ex *x, double score, hitv *out)
{
    if (!store_engine_seq_scan(x->r, &x->ix->meta, -1, push_seq, out))
        return storage_err(x->err);
    for (size_t i = 0; i < out->n; i++)
        out->v[i].score = score;
    return true;
}

/* Field lengths below this get their BM25 length factor from a table, as
 * Lucene's BM25Scorer caches it per norm byte. */
#define NORM_CACHE 256

typedef struct postc {
    hitv *out;
    float weight;
    float avgdl;
    bool oom;
    float norm_inv[NORM_CACHE];
} postc;

static bool on_posting(const store_posting *p, void *arg)
{
    postc *c = arg;
    float ni = p->len < NORM_CACHE ? c->norm_inv[p->len] : store_bm25_norm_inverse(c->avgdl, p->len);
    double s = store_bm25(c->weight, (float)p->tf, ni);
    if (!hv_push(c->out, p->seq, s))
        return c->oom = true, false;
    c->out->v[c->out->n - 1].aux = p->len;
    return true;
}

/* A text term's documents, BM25-scored with `boost`. */
static bool text_term(ex *x, const char *path, const char *term, size_t len, float boost, hitv *out)
{
    int64_t docs, sum;
    if (!store_engine_field_stats(x->r, &x->ix->meta, path, &docs, &sum))
        return storage_err(x->err);
    if (docs <= 0 || len == 0 || len > STORE_INDEX_MAX_KEY)
        return true;
    int64_t df = store_engine_term_docs(x->r, &x->ix->meta, path, term, len);
    if (df < 0)
        return storage_err(x->err);
    if (df == 0)
        return true;
    postc c = {
        out, store_bm25_boost(boost) * store_bm25_idf(docs, df), store_bm25_avgdl(docs, sum), false, {0}};
    for (uint32_t l = 0; l < NORM_CACHE; l++)
        c.norm_inv[l] = store_bm25_norm_inverse(c.avgdl, l);
    if (!hv_reserve(out, (size_t)df)) /* one allocation, not a doubling series of copies */
        return oom_err(x->err);
    if (!store_engine_postings(x->r, &x->ix->meta, path, term, len, false, on_posting, &c) || c.oom)
        return c.oom ? oom_err(x->err) : storage_err(x->err);
    return true;
}

/* Documents holding exactly `val` in an exact-value field. `scored`: BM25
 * as Lucene scores a keyword term (tf 1, norms off: length 1). */
bool store_eval_exact_term(ex *x, const char *path, const void *val, size_t len, bool scored, float boost,
                           hitv *out)
{
    hitv tmp = {0};
    if (!store_engine_values(x->r, &x->ix->meta, path, val, len, true, val, len, true, false,
                             store_eval_push_val, &tmp)) {
        store_hits_free(&tmp);
        return storage_err(x->err);
    }
    double score = boost;
    if (scored && tmp.n) {
        int64_t docs, sum;
        if (!store_engine_field_stats(x->r, &x->ix->meta, path, &docs, &sum)) {
            store_hits_free(&tmp);
            return storage_err(x->err);
        }
        hv_norm(&tmp, 0);
        score = store_bm25(store_bm25_boost(boost) * store_bm25_idf(docs, (int64_t)tmp.n), 1.0f,
                           store_bm25_norm_inverse(store_bm25_avgdl(docs, sum), 1));
    }
    hv_norm(&tmp, score);
    store_hits_free(out);
    *out = tmp;
    return true;
}

/* Encode query value `v` as field f's index key into out (STORE_INDEX_MAX_KEY+1
 * bytes). bound: 0 exact, 1 lower bound, -1 upper bound (a fraction on a
 * long field rounds inward and makes the bound inclusive). `datefmt`: the
 * format a date is read with when the query forces one (a range's `format`,
 * or epoch_millis when either bound is a number, as DateFieldType.rangeQuery
 * picks), NULL for the field's own. Returns 1, 0 when no indexed value can
 * equal it, -1 on error (reported unless lenient). */
/* A date bound no format reads: 0 (matches nothing) when lenient, else the
 * shard failure Elasticsearch reports, and -1. */
static int date_unparsed(ex *x, const store_qval *v, const char *fmt, bool lenient)
{
    if (lenient)
        return 0;
    store_eval_shard_fail(x, "parse_exception",
                          "failed to parse date field [%s] with format [%s]: [failed to parse date field "
                          "[%s] with format [%s]]",
                          v->s, fmt, v->s, fmt);
    return -1;
}

/* A date value date math could not read: as date_unparsed, with the parser's own reason. */
static int date_math_err(ex *x, const char *why, bool lenient)
{
    if (lenient)
        return 0;
    store_eval_shard_fail(x, "parse_exception", "%s", why);
    return -1;
}

/* Whether a date value is date math (`now…`, `date||…`) rather than a plain date. */
static bool is_date_math(const char *s) { return strncmp(s, "now", 3) == 0 || strstr(s, "||") != NULL; }

static int enc_val(ex *x, const char *path, const store_field *f, const store_qval *v, int bound, bool *incl,
                   const char *datefmt, const char *zone, bool lenient, unsigned char *out, size_t *len,
                   const unsigned char **res)
{
    *res = out;
    switch (f->type) {
    case STORE_FT_KEYWORD:
    case STORE_FT_TEXT: {
        /* Strings are used where they are (keywords are indexed up to
         * STORE_INDEX_MAX_TERM bytes; a bound may be longer). */
        size_t n = strlen(v->s);
        if (bound == 0 && n > (f->type == STORE_FT_TEXT ? STORE_INDEX_MAX_KEY : STORE_INDEX_MAX_TERM))
            return 0;
        *res = (const unsigned char *)v->s;
        *len = n;
        return 1;
    }
    case STORE_FT_LONG:
    case STORE_FT_DOUBLE: {
        double d;
        if (v->kind == STORE_QV_NUM)
            d = v->num;
        else {
            char *e;
            d = v->kind == STORE_QV_STR && v->s[0] ? strtod(v->s, &e) : 0;
            if (v->kind != STORE_QV_STR || !v->s[0] || *e || !isfinite(d)) {
                if (lenient)
                    return 0;
                store_eval_query_fail(x, "number_format_exception", "For input string: \"%s\"", v->s);
                return -1;
            }
        }
        if (f->type == STORE_FT_DOUBLE) {
            store_index_enc_double(d, out);
        } else {
            if (d != floor(d)) {
                if (!bound)
                    return 0;
                d = bound > 0 ? ceil(d) : floor(d);
                if (incl)
                    *incl = true;
            }
            if (d >= 9223372036854775807.0 || d < -9223372036854775808.0) {
                if (lenient)
                    return 0;
                store_eval_query_fail(x, "illegal_argument_exception", "Value [%s] is out of range for a long",
                                      v->s);
                return -1;
            }
            store_index_enc_long((int64_t)d, out);
        }
        *len = STORE_VAL_NUM_LEN;
        return 1;
    }
    case STORE_FT_ULONG: {
        /* UnsignedLongFieldType: terms out of range match nothing, bounds are clamped */
        uint64_t u;
        int rc = v->kind == STORE_QV_BOOL ? -1
                 : bound == 0             ? store_ulong_parse_term(v->s, &u)
                                          : store_ulong_parse_bound(v->s, bound < 0, *incl, &u);
        if (rc < 0) {
            if (lenient)
                return 0;
            store_eval_query_fail(x, "number_format_exception", "For input string: \"%s\"", v->s);
            return -1;
        }
        if (rc == 0)
            return 0;
        if (incl)
            *incl = true; /* the bound is now the first/last value admitted */
        store_ulong_enc(u, out);
        *len = STORE_VAL_NUM_LEN;
        return 1;
    }
    case STORE_FT_DATE_NANOS: {
        /* as a date, to the nanosecond; bounds past what a long of nanoseconds holds are clamped */
        const char *fmt = datefmt ? datefmt : f->date_format ? f->date_format : STORE_DATEFMT_NANOS_DEFAULT;
        if (v->kind == STORE_QV_NUM && !datefmt)
            fmt = "epoch_millis";
        bool up = bound > 0 ? !*incl : bound < 0 ? *incl : false;
        int64_t ns = 0;
        int rc;
        if (v->kind == STORE_QV_STR && is_date_math(v->s)) {
            /* date math works in milliseconds, as JavaDateMathParser's `now` does */
            int64_t ms;
            char why[512];
            if (store_datemath_parse(v->s, fmt, zone, store_engine_read_now_ms(x->r), up, &ms, why, sizeof why) != 1)
                return date_math_err(x, why, lenient);
            rc = ms < 0 ? -1 : ms > INT64_MAX / 1000000 ? -2 : 1;
            ns = rc == 1 ? ms * 1000000 : 0;
        } else {
            bool zoned = true;
            rc = v->kind == STORE_QV_BOOL ? 0
                                          : store_datefmt_parse_ns_zoned(fmt, v->s, strlen(v->s), false, up, &ns, &zoned);
            if (rc == 1 && zone && !zoned) {
                int64_t shift = store_datemath_zone_shift(zone, ns / 1000000) * 1000000;
                rc = shift < 0 && ns < -shift ? -1 : shift > 0 && ns > INT64_MAX - shift ? -2 : 1;
                ns = rc == 1 ? ns + shift : 0;
            }
        }
        if (rc == 0)
            return date_unparsed(x, v, fmt, lenient);
        if (rc < 0) {
            if (bound == 0 || (rc == -1 && bound < 0) || (rc == -2 && bound > 0))
                return 0; /* nothing stored can equal or reach it */
            ns = rc == -1 ? 0 : INT64_MAX;
            if (incl)
                *incl = true;
        }
        store_index_enc_long(ns, out);
        *len = STORE_VAL_NUM_LEN;
        return 1;
    }
    case STORE_FT_DATE: {
        int64_t ms;
        bool ok;
        const char *fmt = datefmt ? datefmt : f->date_format ? f->date_format : STORE_DATEFMT_DEFAULT;
        if (v->kind == STORE_QV_NUM && (!datefmt || strcmp(datefmt, "epoch_millis") == 0)) {
            ok = v->num == floor(v->num) && fabs(v->num) < 9.2e18;
            ms = ok ? (int64_t)v->num : 0;
            fmt = "epoch_millis";
        } else {
            /* gt and lte read the last millisecond the value names (Elasticsearch's roundUp) */
            bool up = bound > 0 ? !*incl : bound < 0 ? *incl : false;
            char why[512];
            if (v->kind == STORE_QV_BOOL)
                return date_unparsed(x, v, fmt, lenient);
            if (store_datemath_parse(v->s, fmt, zone, store_engine_read_now_ms(x->r), up, &ms, why, sizeof why) != 1)
                return date_math_err(x, why, lenient);
            ok = true;
        }
        if (!ok)
            return date_unparsed(x, v, fmt, lenient);
        store_index_enc_long(ms, out);
        *len = STORE_VAL_NUM_LEN;
        return 1;
    }
    case STORE_FT_BOOLEAN: {
        bool b;
        if (v->kind == STORE_QV_BOOL)
            b = v->b;
        else if (v->kind == STORE_QV_STR &&
                 (strcmp(v->s, "true") == 0 || strcmp(v->s, "false") == 0 || !v->s[0]))
            b = strcmp(v->s, "true") == 0;
        else {
            if (lenient)
                return 0;
            store_eval_shard_fail(x, "illegal_argument_exception",
                                  "Can't parse boolean value [%s], expected [true] or [false]", v->s);
            return -1;
        }
        out[0] = b ? 'T' : 'F';
        *len = 1;
        return 1;
    }
    default:
        (void)path;
        return 0;
    }
}

static bool is_date(const store_field *f) { return f->type == STORE_FT_DATE || f->type == STORE_FT_DATE_NANOS; }

/* A term on a date, as DateFieldType.termQuery makes it: the range from the
 * value's first to its last millisecond ("2024-02-01" is the whole day,
 * "now/d" today), scored `boost`, merged into `acc` (a union for term, an
 * append for terms). 1 or 0 (nothing can match), -1 on error. */
static int date_term(ex *x, const char *path, const store_field *f, const store_qval *v, bool lenient, float boost,
                     hitv *acc, bool unite)
{
    unsigned char lo[STORE_INDEX_MAX_KEY + 1], hi[STORE_INDEX_MAX_KEY + 1];
    const unsigned char *lk, *hk;
    size_t ll, hl;
    bool li = true, hinc = true;
    int rc = enc_val(x, path, f, v, 1, &li, NULL, NULL, lenient, lo, &ll, &lk);
    if (rc > 0)
        rc = enc_val(x, path, f, v, -1, &hinc, NULL, NULL, lenient, hi, &hl, &hk);
    if (rc <= 0)
        return rc;
    hitv one = {0};
    if (!store_engine_values(x->r, &x->ix->meta, path, lk, ll, li, hk, hl, hinc, false, store_eval_push_val, &one)) {
        store_hits_free(&one);
        return storage_err(x->err), -1;
    }
    hv_norm(&one, boost);
    bool merged = unite ? hv_union(acc, &one, MERGE_MAX) : hv_append(acc, &one);
    store_hits_free(&one);
    return merged ? 1 : (oom_err(x->err), -1);
}

/* ---- term expansion (prefix, wildcard, text ranges) ---- */

typedef struct expand {
    ex *x;
    int kind;                /* 0 prefix, 1 wildcard, 2 range */
    const store_wildcard *w; /* kind 1 */
    const char *lit;         /* literal prefix: the walk ends once a term leaves it */
    size_t litn;
    const char *hi;
    size_t hin;
    bool hi_incl, lo_excl;
    const char *lo;
    size_t lon;
    const char *path;
    hitv *out;
    bool failed;
    bool text; /* terms (then postings) rather than exact values */
} expand;

int store_eval_bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an < bn ? -1 : an > bn);
}

/* Whether a term/value is in the expansion; *stop once the walk is past it. */
static bool expand_hit(expand *e, const char *t, size_t n, bool *stop)
{
    *stop = false;
    if (e->litn && (n < e->litn || memcmp(t, e->lit, e->litn) != 0)) {
        *stop = true;
        return false;
    }
    switch (e->kind) {
    case 0:
        return true;
    case 1:
        return store_wildcard_match(e->w, t, n);
    default:
        if (e->lo_excl && store_eval_bytes_cmp(t, n, e->lo, e->lon) == 0)
            return false;
        if (e->hi) {
            int c = store_eval_bytes_cmp(t, n, e->hi, e->hin);
            if (c > 0 || (c == 0 && !e->hi_incl)) {
                *stop = true;
                return false;
            }
        }
        return true;
    }
}

static bool on_exp_posting(const store_posting *p, void *arg)
{
    return hv_push(arg, p->seq, 0);
}

static bool on_exp_term(const char *term, size_t len, void *arg)
{
    expand *e = arg;
    bool stop;
    if (!expand_hit(e, term, len, &stop))
        return !stop;
    if (!store_engine_postings(e->x->r, &e->x->ix->meta, e->path, term, len, false, on_exp_posting, e->out)) {
        e->failed = true;
        return false;
    }
    return true;
}

static bool on_exp_value(const void *val, size_t len, int64_t seq, void *arg)
{
    expand *e = arg;
    bool stop;
    if (!expand_hit(e, val, len, &stop))
        return !stop;
    if (!hv_push(e->out, seq, 0)) {
        e->failed = true;
        return false;
    }
    return true;
}

static bool run_expand(expand *e, float boost)
{
    bool ok;
    const char *from = e->kind == 2 ? e->lo : e->lit;
    size_t fromn = e->kind == 2 ? e->lon : e->litn;
    if (e->text)
        ok = store_engine_terms(e->x->r, &e->x->ix->meta, e->path, from, fromn, on_exp_term, e);
    else
        ok = store_engine_values(e->x->r, &e->x->ix->meta, e->path, from, fromn, true, NULL, 0, true, false,
                                 on_exp_value, e);
    if (!ok || e->failed)
        return storage_err(e->x->err);
    hv_norm(e->out, boost);
    return true;
}

/* ---- query text analysis ---- */

/* A query's tokens and their positions (pos grows with v; phrases use it). */
typedef struct toks {
    char **v;
    int32_t *pos;
    size_t n, cap, pcap;
    bool oom;
} toks;

static bool on_tok_pos(const char *t, size_t len, int32_t pos, void *arg)
{
    toks *k = arg;
    if (!GROW_ARRAY(k->v, k->cap, k->n + 1, 16) || !GROW_ARRAY(k->pos, k->pcap, k->n + 1, 16))
        return k->oom = true, false;
    if (!(k->v[k->n] = strndup(t, len)))
        return k->oom = true, false;
    k->pos[k->n++] = pos;
    return true;
}

static void toks_free(toks *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    free(k->pos);
    memset(k, 0, sizeof *k);
}

/* A query's text analysed as field `path` is searched (a phrase with its
 * search_quote_analyzer), or with the query's own `analyzer`. */
static bool analyze_query(ex *x, const store_query *q, const char *path, toks *out)
{
    const store_field *f = store_mapping_find(&x->ix->map, path);
    const char *text = q->vals[0].s;
    int rc = store_index_analyze_pos(&x->ix->map, f, q->type == STORE_Q_PHRASE, q->analyzer, text, strlen(text),
                                     on_tok_pos, out);
    if (rc < 0)
        return store_eval_shard_fail(x, "query_shard_exception",
                                     "failed to create query: [%s] analyzer [%s] not found",
                                     q->type == STORE_Q_PHRASE ? "match_phrase" : "match", q->analyzer);
    return (rc > 0 && !out->oom) || oom_err(x->err);
}

/* A phrase of several tokens over text field `path` (one token is a term
 * query, as Lucene's QueryBuilder makes it). */
static bool text_phrase(ex *x, const store_query *q, const char *path, const toks *t, float boost, hitv *out)
{
    if (q->slop < 0) /* query_string's phrase_slop: PhraseQuery.Builder refuses it */
        return store_eval_query_fail(x, "illegal_argument_exception", "slop value cannot be negative");
    return store_eval_phrase(x, path, t->v, t->pos, t->n, q->slop, boost, out);
}

/* ---- per-field evaluation ---- */

static bool combine_terms(hitv *lists, size_t n, int need, hitv *out, store_error *err)
{
    hitv acc = {0};
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < lists[i].n; k++)
            lists[i].v[k].cnt = 1;
        if (i == 0) {
            acc = lists[0];
            memset(&lists[0], 0, sizeof lists[0]);
        } else if (!hv_union(&acc, &lists[i], MERGE_SUM)) {
            store_hits_free(&acc);
            return oom_err(err);
        }
    }
    size_t o = 0;
    for (size_t k = 0; k < acc.n; k++)
        if (acc.v[k].cnt >= need) {
            acc.v[o] = acc.v[k];
            acc.v[o].score = (float)acc.v[o].score;
            o++;
        }
    acc.n = o;
    store_hits_free(out);
    *out = acc;
    return true;
}

/* Does `name` match an index-name pattern of a `_index` query (`*`, `?`)?
 * Greedy with one backtrack point: O(pattern × name), never exponential. */
static bool index_glob(const char *pat, const char *name)
{
    const char *star = NULL, *resume = NULL;
    while (*name) {
        if (*pat == '*') {
            star = pat++;
            resume = name;
        } else if (*pat == '?' || *pat == *name) {
            pat++;
            name++;
        } else if (star) {
            pat = star + 1;
            name = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return !*pat;
}

/* The live documents among q's ids, constant-scored `boost`: the ids query,
 * and term/terms/match on `_id`, which Elasticsearch answers as one. */
static bool ev_ids(ex *x, const store_query *q, float boost, hitv *out)
{
    for (size_t i = 0; i < q->nvals; i++) {
        store_doc_view v;
        store_lookup rc = store_engine_doc_get(x->r, &x->ix->meta, q->vals[i].s, strlen(q->vals[i].s), &v);
        if (rc == STORE_LOOKUP_FAILED)
            return storage_err(x->err);
        if (rc == STORE_LOOKUP_FOUND && v.st.exists && !v.st.deleted && !hv_push(out, v.st.seq_no, 0))
            return oom_err(x->err);
    }
    hv_norm(out, boost);
    return true;
}

/* `_id` and `_index` are metadata fields with no index entries: Elasticsearch
 * answers term/terms/match on `_id` as an ids query and on `_index` by the
 * searched index's own name, both constant-scored (the boost). Returns -1 when
 * `path` is neither or the query type is not one of these, else ok (0/1). */
static int ev_meta_field(ex *x, const store_query *q, const char *path, float boost, hitv *out)
{
    bool is_id = strcmp(path, "_id") == 0, is_index = strcmp(path, "_index") == 0;
    if (!is_id && !is_index)
        return -1;
    bool prefix = q->type == STORE_Q_PREFIX, wild = q->type == STORE_Q_WILDCARD;
    if (q->type != STORE_Q_TERM && q->type != STORE_Q_TERMS && q->type != STORE_Q_MATCH &&
        !(is_index && (prefix || wild)))
        return -1;
    if (is_id) {
        return ev_ids(x, q, boost, out);
    }
    const char *name = x->ix->meta.name;
    for (size_t i = 0; i < q->nvals; i++) {
        const char *v = q->vals[i].s;
        bool hit = prefix ? strncmp(name, v, strlen(v)) == 0
                   : wild ? index_glob(v, name)
                          : strcmp(name, v) == 0;
        if (hit)
            return store_eval_all_docs(x, boost, out);
    }
    return 1;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}


/* How many of a `match` query's n analysed terms a document must hold:
 * all with operator and, else its minimum_should_match (at least one). */
static int match_need(const store_query *q, size_t n)
{
    if (q->op_and)
        return (int)n;
    int need = q->msm ? store_query_msm(q->msm, (int)n) : 1;
    return need < 1 ? 1 : need;
}

static bool ev_field(ex *x, const store_query *q, const char *path, float boost, bool lenient, hitv *out)
{
    if (q->type == STORE_Q_TERMS && (int64_t)q->nvals > x->ix->max_terms) /* checked first, mapped or not */
        return store_eval_query_fail(
            x, "illegal_argument_exception",
            "The number of terms [%zu] used in the Terms Query request has "
            "exceeded the allowed maximum of [%" PRId64 "]. This maximum can be set by changing the "
            "[index.max_terms_count] index level setting.",
            q->nvals, x->ix->max_terms);
    int meta = ev_meta_field(x, q, path, boost, out);
    if (meta >= 0)
        return meta;
    const store_field *f = store_mapping_find(&x->ix->map, path);
    if (q->type == STORE_Q_EXISTS) {
        if (!store_engine_exists(x->r, &x->ix->meta, path, push_seq, out))
            return storage_err(x->err);
        hv_norm(out, boost);
        return true;
    }
    if (!f || f->type == STORE_FT_OBJECT || f->type == STORE_FT_NONE)
        return true; /* unmapped: nothing matches, as in Elasticsearch */
    if (!f->index) {
        if (lenient)
            return true;
        return store_eval_query_fail(x, "illegal_argument_exception",
                                     "Cannot search on field [%s] since it is not indexed.", path);
    }
    bool text = f->type == STORE_FT_TEXT;
    unsigned char kbuf[STORE_INDEX_MAX_KEY + 1], kbuf2[STORE_INDEX_MAX_KEY + 1];
    const unsigned char *key = kbuf, *key2 = kbuf2;
    size_t kl, kl2;
    switch (q->type) {
    case STORE_Q_TERM:
    case STORE_Q_TERMS: {
        hitv acc = {0};
        for (size_t i = 0; i < q->nvals; i++) {
            int rc = is_date(f) ? date_term(x, path, f, &q->vals[i], lenient, boost, &acc, q->type == STORE_Q_TERM)
                                : enc_val(x, path, f, &q->vals[i], 0, NULL, NULL, NULL, lenient, kbuf, &kl, &key);
            if (is_date(f) && rc >= 0)
                continue;
            if (rc < 0) {
                store_hits_free(&acc);
                return false;
            }
            if (rc == 0)
                continue;
            hitv one = {0};
            bool scored = q->type == STORE_Q_TERM;
            bool ok = text ? text_term(x, path, (const char *)key, kl, boost, &one)
                           : store_eval_exact_term(x, path, key, kl, scored && f->type == STORE_FT_KEYWORD,
                                                   boost, &one);
            /* terms scores every match alike: collect, then sort once
             * (a union per value would copy the growing list each time). */
            bool merged = ok && (scored ? hv_union(&acc, &one, MERGE_MAX) : hv_append(&acc, &one));
            if (!merged) {
                store_hits_free(&one);
                store_hits_free(&acc);
                return ok ? oom_err(x->err) : false;
            }
            store_hits_free(&one);
        }
        if (q->type == STORE_Q_TERMS)
            hv_norm(&acc, boost);
        store_hits_free(out);
        *out = acc;
        return true;
    }
    case STORE_Q_RANGE: {
        bool lo_incl = q->lo_incl, hi_incl = q->hi_incl;
        int rl = 1, rh = 1;
        /* a number in either bound reads both as epoch_millis unless the query names a format */
        const char *dfmt = q->format                                  ? q->format
                           : (q->lo && q->lo->kind == STORE_QV_NUM) ||
                                     (q->hi && q->hi->kind == STORE_QV_NUM) ? "epoch_millis"
                                                                            : NULL;
        if (q->lo && (rl = enc_val(x, path, f, q->lo, 1, &lo_incl, dfmt, q->time_zone, lenient, kbuf, &kl, &key)) < 0)
            return false;
        if (q->hi && (rh = enc_val(x, path, f, q->hi, -1, &hi_incl, dfmt, q->time_zone, lenient, kbuf2, &kl2, &key2)) < 0)
            return false;
        if (rl == 0 || rh == 0)
            return true;
        if (text) {
            expand e = {.x = x, .kind = 2, .path = path, .out = out, .text = true};
            e.lo = q->lo ? (const char *)key : NULL;
            e.lon = q->lo ? kl : 0;
            e.lo_excl = q->lo && !lo_incl;
            e.hi = q->hi ? (const char *)key2 : NULL;
            e.hin = q->hi ? kl2 : 0;
            e.hi_incl = hi_incl;
            return run_expand(&e, boost);
        }
        if (!store_engine_values(x->r, &x->ix->meta, path, q->lo ? key : NULL, q->lo ? kl : 0, lo_incl,
                                 q->hi ? key2 : NULL, q->hi ? kl2 : 0, hi_incl, false, store_eval_push_val,
                                 out))
            return storage_err(x->err);
        hv_norm(out, boost);
        return true;
    }
    case STORE_Q_PREFIX:
    case STORE_Q_WILDCARD: {
        const char *qn = q->type == STORE_Q_PREFIX ? "prefix" : "wildcard";
        if (!text && f->type != STORE_FT_KEYWORD) {
            if (lenient)
                return true;
            return store_eval_shard_fail(
                x, "query_shard_exception",
                "failed to create query: Can only use %s queries on keyword, text and wildcard fields - "
                "not on [%s] which is of type [%s]",
                qn, path, type_name(f));
        }
        char *pat = strdup(q->vals[0].s);
        if (!pat)
            return oom_err(x->err);
        if (text && q->normalize)
            lower(pat);
        size_t pn = strlen(pat);
        store_wildcard *w = NULL;
        if (q->type == STORE_Q_WILDCARD) {
            size_t wl;
            w = store_wildcard_compile(pat, pn, &wl);
            if (!w) {
                free(pat);
                if (!wl)
                    return oom_err(x->err);
                return store_eval_shard_fail(
                    x, "illegal_argument_exception",
                    "The length of wildcard pattern [%zu] used in the Wildcard Query request has "
                    "exceeded the allowed maximum of [%d] characters (runs of '*' count once)",
                    wl, STORE_WILDCARD_MAX_LEN);
            }
        }
        expand e = {.x = x,
                    .kind = q->type == STORE_Q_PREFIX ? 0 : 1,
                    .w = w,
                    .lit = pat,
                    .path = path,
                    .out = out,
                    .text = text};
        e.litn = q->type == STORE_Q_PREFIX ? pn : strcspn(pat, "*?");
        bool ok = run_expand(&e, boost);
        store_wildcard_free(w);
        free(pat);
        return ok;
    }
    case STORE_Q_MATCH:
    case STORE_Q_PHRASE: {
        if (!text && is_date(f)) {
            store_hits_free(out);
            return date_term(x, path, f, &q->vals[0], lenient || q->lenient, boost, out, true) >= 0;
        }
        if (!text) {
            int rc = enc_val(x, path, f, &q->vals[0], 0, NULL, NULL, NULL, lenient || q->lenient, kbuf, &kl, &key);
            if (rc <= 0)
                return rc == 0;
            return store_eval_exact_term(x, path, key, kl, f->type == STORE_FT_KEYWORD, boost, out);
        }
        toks t = {0};
        if (!analyze_query(x, q, path, &t)) {
            toks_free(&t);
            return false;
        }
        bool ok = true;
        if (t.n == 0) {
            ok = q->zero_terms_all ? store_eval_all_docs(x, boost, out) : true;
        } else if (t.n == 1) {
            ok = text_term(x, path, t.v[0], strlen(t.v[0]), boost, out);
        } else if (q->type == STORE_Q_PHRASE) {
            ok = text_phrase(x, q, path, &t, boost, out);
        } else {
            hitv *lists = calloc(t.n, sizeof *lists);
            ok = lists != NULL;
            for (size_t i = 0; ok && i < t.n; i++)
                ok = text_term(x, path, t.v[i], strlen(t.v[i]), boost, &lists[i]);
            if (ok)
                ok = combine_terms(lists, t.n, match_need(q, t.n), out, x->err);
            for (size_t i = 0; lists && i < t.n; i++)
                store_hits_free(&lists[i]);
            free(lists);
        }
        toks_free(&t);
        return ok;
    }
    default:
        return true;
    }
}

int store_eval_text_clauses(ex *x, const store_query *q, store_tclauses *out)
{
    memset(out, 0, sizeof *out);
    if (!q || !q->field ||
        !(q->type == STORE_Q_MATCH || (q->type == STORE_Q_PHRASE && q->slop >= 0) ||
          (q->type == STORE_Q_TERM && q->nvals == 1)))
        return 0; /* a negative slop: today's path refuses it */
    if (!(q->boost >= 0) || strcmp(q->field, "_id") == 0 || strcmp(q->field, "_index") == 0)
        return 0; /* a negative boost turns the block bounds into floors */
    const store_field *f = store_mapping_find(&x->ix->map, q->field);
    if (!f || f->type != STORE_FT_TEXT || !f->index)
        return 0;
    toks t = {0};
    if (q->type == STORE_Q_TERM) {
        /* as ev_field's term on a text field: the value verbatim, a key too
         * long matches nothing (text_term) */
        if (!GROW_ARRAY(t.v, t.cap, 1, 1) || !(t.v[0] = strdup(q->vals[0].s))) {
            toks_free(&t);
            oom_err(x->err);
            return -1;
        }
        t.n = 1;
    } else if (!analyze_query(x, q, q->field, &t)) {
        toks_free(&t);
        return -1;
    }
    if (t.n == 0) { /* zero_terms_query: today's path */
        toks_free(&t);
        return 0;
    }
    out->terms = t.v;
    out->n = t.n;
    out->need = q->type == STORE_Q_MATCH && t.n > 1 ? match_need(q, t.n) : 1;
    out->boost = q->boost;
    out->path = q->field;
    /* one token is a term query, as text_phrase's caller makes it */
    if ((out->phrase = q->type == STORE_Q_PHRASE && t.n > 1)) {
        out->pos = t.pos;
        out->slop = q->slop;
    } else {
        free(t.pos);
    }
    return 1;
}

void store_eval_text_clauses_free(store_tclauses *c)
{
    for (size_t i = 0; c->terms && i < c->n; i++)
        free(c->terms[i]);
    free(c->terms);
    free(c->pos);
    memset(c, 0, sizeof *c);
}

/* The fields a multi-field query runs on, "*" patterns expanded. */
static bool expand_fields(ex *x, const store_query *q, name_list *names, float **boosts)
{
    *boosts = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < q->nfields; i++) {
        const char *spec = q->fields[i];
        size_t before = names->n;
        if (store_names_is_wild(spec)) {
            for (size_t k = 0; k < x->ix->map.n; k++) {
                const store_field *f = &x->ix->map.fields[k];
                if (f->type == STORE_FT_OBJECT || f->type == STORE_FT_NONE || !f->index)
                    continue;
                if (store_names_glob(spec, f->path))
                    store_names_add(names, f->path);
            }
        } else {
            store_names_add(names, spec);
        }
        if (names->oom)
            return oom_err(x->err);
        if (names->n > cap) {
            cap = names->n + 16;
            float *nb = realloc(*boosts, cap * sizeof *nb);
            if (!nb)
                return oom_err(x->err);
            *boosts = nb;
        }
        for (size_t k = before; k < names->n; k++)
            (*boosts)[k] = q->fboost[i];
    }
    return true;
}

bool store_eval(ex *x, const store_query *q, hitv *out);

static bool ev_multi(ex *x, const store_query *q, hitv *out)
{
    name_list names = {0};
    float *boosts = NULL;
    bool ok = expand_fields(x, q, &names, &boosts);
    hitv acc = {0};
    for (size_t i = 0; ok && i < names.n; i++) {
        hitv one = {0};
        ok = ev_field(x, q, names.v[i], q->boost * boosts[i], q->lenient, &one);
        for (size_t k = 0; k < one.n; k++)
            one.v[k].aux = one.v[k].score;
        if (ok)
            ok = hv_union(&acc, &one, q->most_fields ? MERGE_SUM : MERGE_MAX) || oom_err(x->err);
        store_hits_free(&one);
    }
    if (ok && !q->most_fields)
        for (size_t k = 0; k < acc.n; k++)
            acc.v[k].score = (float)(acc.v[k].score + q->tie_breaker * (acc.v[k].aux - acc.v[k].score));
    for (size_t k = 0; k < acc.n; k++)
        acc.v[k].score = (float)acc.v[k].score;
    store_names_free(&names);
    free(boosts);
    if (!ok) {
        store_hits_free(&acc);
        return false;
    }
    store_hits_free(out);
    *out = acc;
    return true;
}

static bool ev_bool(ex *x, const store_query *q, hitv *out)
{
    hitv base = {0}, su = {0};
    bool have_base = false, ok = true;
    size_t nshould = 0, nneg = 0;
    for (size_t i = 0; ok && i < q->nclauses; i++) {
        const store_clause *c = &q->clauses[i];
        if (c->occur == STORE_OCC_SHOULD)
            nshould++;
        if (c->occur == STORE_OCC_MUST_NOT)
            nneg++;
        if (c->occur != STORE_OCC_MUST && c->occur != STORE_OCC_FILTER)
            continue;
        hitv one = {0};
        ok = store_eval(x, c->q, &one);
        if (c->occur == STORE_OCC_FILTER)
            for (size_t k = 0; k < one.n; k++)
                one.v[k].score = 0;
        if (!have_base) {
            base = one;
            have_base = true;
        } else {
            store_hits_intersect(&base, &one);
            store_hits_free(&one);
        }
    }
    for (size_t i = 0; ok && i < q->nclauses; i++) {
        const store_clause *c = &q->clauses[i];
        if (c->occur != STORE_OCC_SHOULD)
            continue;
        hitv one = {0};
        ok = store_eval(x, c->q, &one);
        for (size_t k = 0; k < one.n; k++)
            one.v[k].cnt = 1;
        if (ok)
            ok = hv_union(&su, &one, MERGE_SUM) || oom_err(x->err);
        store_hits_free(&one);
    }
    int msm = q->msm ? store_query_msm(q->msm, (int)nshould) : (have_base ? 0 : 1);
    if (!nshould)
        msm = 0;
    if (ok && have_base) {
        size_t j = 0, o = 0;
        for (size_t i = 0; i < base.n; i++) {
            int cnt = 0;
            while (j < su.n && su.v[j].seq < base.v[i].seq)
                j++;
            if (j < su.n && su.v[j].seq == base.v[i].seq) {
                base.v[i].score += su.v[j].score;
                cnt = su.v[j].cnt;
            }
            if (cnt >= msm)
                base.v[o++] = base.v[i];
        }
        base.n = o;
    } else if (ok && nshould) {
        if (msm < 1)
            msm = 1;
        size_t o = 0;
        for (size_t i = 0; i < su.n; i++)
            if (su.v[i].cnt >= msm)
                su.v[o++] = su.v[i];
        su.n = o;
        base = su;
        memset(&su, 0, sizeof su);
    } else if (ok) {
        /* no positive clause: all documents, scored 0 when something is excluded */
        ok = store_eval_all_docs(x, nneg ? 0.0 : 1.0, &base);
    }
    for (size_t i = 0; ok && i < q->nclauses; i++) {
        const store_clause *c = &q->clauses[i];
        if (c->occur != STORE_OCC_MUST_NOT)
            continue;
        hitv one = {0};
        ok = store_eval(x, c->q, &one);
        hv_minus(&base, &one);
        store_hits_free(&one);
    }
    store_hits_free(&su);
    if (!ok) {
        store_hits_free(&base);
        return false;
    }
    for (size_t k = 0; k < base.n; k++)
        base.v[k].cnt = 1;
    hv_cast(&base, q->boost);
    store_hits_free(out);
    *out = base;
    return true;
}

bool store_eval(ex *x, const store_query *q, hitv *out)
{
    switch (q->type) {
    case STORE_Q_MATCH_ALL:
        return store_eval_all_docs(x, q->boost, out);
    case STORE_Q_MATCH_NONE:
        return true;
    case STORE_Q_IDS:
        /* Elasticsearch's IdsQueryBuilder bounds its ids by
         * index.max_result_window (elastic/elasticsearch#140515): a lookup per
         * id, the work grows with the list. */
        if ((int64_t)q->nvals > x->ix->window)
            return store_eval_query_fail(x, "illegal_state_exception",
                                         "Too many ids specified, allowed max result window is [%" PRId64 "]",
                                         x->ix->window);
        return ev_ids(x, q, q->boost, out);
    case STORE_Q_BOOL:
        return ev_bool(x, q, out);
    case STORE_Q_CONSTANT:
        if (!store_eval(x, q->clauses[0].q, out))
            return false;
        for (size_t k = 0; k < out->n; k++)
            out->v[k].score = q->boost;
        return true;
    case STORE_Q_DISMAX: {
        hitv acc = {0};
        for (size_t i = 0; i < q->nclauses; i++) {
            hitv one = {0};
            bool ok = store_eval(x, q->clauses[i].q, &one);
            for (size_t k = 0; k < one.n; k++)
                one.v[k].aux = one.v[k].score;
            if (ok)
                ok = hv_union(&acc, &one, MERGE_MAX) || oom_err(x->err);
            store_hits_free(&one);
            if (!ok) {
                store_hits_free(&acc);
                return false;
            }
        }
        for (size_t k = 0; k < acc.n; k++)
            acc.v[k].score =
                (float)((float)(acc.v[k].score + q->tie_breaker * (acc.v[k].aux - acc.v[k].score)) *
                        q->boost);
        store_hits_free(out);
        *out = acc;
        return true;
    }
    default:
        if (q->field)
            return ev_field(x, q, q->field, q->boost, q->lenient, out);
        return ev_multi(x, q, out);
    }
}
