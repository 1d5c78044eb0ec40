/* store_sort — collected hits: sort values, the partial top-k, search_after, and the rendering of hits,
 * totals and the response head. */
#include "versync/store/store_search_int.h"

#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/store/store_breaker.h"
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

/* ---- collected hits, sort values ----------------------------------------------------------- */

static int num_cmp(const sval *a, const sval *b)
{
    if (a->kind == 1 && b->kind == 1)
        return a->l < b->l ? -1 : a->l > b->l;
    double x = a->kind == 1 ? (double)a->l : a->d, y = b->kind == 1 ? (double)b->l : b->d;
    return x < y ? -1 : x > y;
}

static int sval_cmp(const sval *a, const sval *b)
{
    if (a->kind == 3 || b->kind == 3) {
        if (a->kind != b->kind)
            return a->kind == 3 ? 1 : -1;
        return store_eval_bytes_cmp(a->s, a->n, b->s, b->n);
    }
    return num_cmp(a, b);
}

int store_sort_cmp(const void *x, const void *y, void *arg)
{
    const rh *a = x, *b = y;
    const sorter *s = arg;
    for (size_t k = 0; k < s->nkeys; k++) {
        const skey *key = &s->keys[k];
        int c = 0;
        switch (key->kind) {
        case SK_SCORE:
            c = a->score < b->score ? -1 : a->score > b->score;
            break;
        case SK_DOC:
            if (!s->keys_only && a->ix != b->ix)
                c = a->ix < b->ix ? -1 : 1;
            else
                c = a->seq < b->seq ? -1 : a->seq > b->seq;
            break;
        case SK_ID:
            c = store_eval_bytes_cmp(a->id ? a->id : "", a->idn, b->id ? b->id : "", b->idn);
            break;
        case SK_FIELD: {
            const sval *va = &a->sv[k], *vb = &b->sv[k];
            if (!va->kind || !vb->kind) {
                if (va->kind == vb->kind)
                    continue;
                c = !va->kind ? 1 : -1;
                if (key->missing_first)
                    c = -c;
                return c; /* missing goes last (or first) whatever the order */
            }
            c = sval_cmp(va, vb);
            break;
        }
        }
        if (c)
            return key->desc ? -c : c;
    }
    if (s->keys_only)
        return 0;
    if (a->ix != b->ix)
        return a->ix < b->ix ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* ---- partial top-k ---------------------------------------------------------------------- */

void store_sort_swap(rh *a, rh *b)
{
    rh t = *a;
    *a = *b;
    *b = t;
}

/* Restore the max-heap property (largest in `so` order at the root) below
 * position i of h[0..n). */
static void heap_down(rh *h, size_t n, size_t i, const sorter *so)
{
    for (;;) {
        size_t l = 2 * i + 1, big = i;
        if (l < n && store_sort_cmp(&h[l], &h[big], (void *)so) > 0)
            big = l;
        if (l + 1 < n && store_sort_cmp(&h[l + 1], &h[big], (void *)so) > 0)
            big = l + 1;
        if (big == i)
            return;
        store_sort_swap(&h[i], &h[big]);
        i = big;
    }
}

/* Put the first k of hits[0..n) in `so` order, sorted, at hits[0..k); the
 * others stay behind them in no order (they still own their ids and are
 * freed with the array). The tie-break on (index, seq) makes `so` a total
 * order, so the page is exactly the one a full sort gives, at n·log k
 * rather than n·log n: a size-10 page of 100,000 hits sorts 10, not all. */
void store_sort_top_k(rh *hits, size_t n, size_t k, const sorter *so)
{
    if (k >= n) {
        qsort_r(hits, n, sizeof *hits, store_sort_cmp, (void *)so);
        return;
    }
    if (!k)
        return;
    for (size_t i = k / 2; i-- > 0;)
        heap_down(hits, k, i, so);
    for (size_t i = k; i < n; i++)
        if (store_sort_cmp(&hits[i], &hits[0], (void *)so) < 0) {
            store_sort_swap(&hits[i], &hits[0]);
            heap_down(hits, k, 0, so);
        }
    qsort_r(hits, k, sizeof *hits, store_sort_cmp, (void *)so);
}

typedef struct svctx {
    rh *hits; /* this index's hits, in seq order */
    size_t m, key, nkeys;
    store_ftype ft;
    size_t left;
    bool oom;
    int mode;      /* the key's: 3 sum, 4 avg, 5 median take every value; else the first met */
    int pass;      /* median: 1 counts each hit's values, 2 picks the middle ones */
    size_t *seen;  /* median pass 2: values met per hit */
} svctx;

/* Index of the hit with `seq` in c->hits, or c->m. */
static size_t hit_of(const svctx *c, int64_t seq)
{
    size_t lo = 0, hi = c->m;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->hits[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->m && c->hits[lo].seq == seq ? lo : c->m;
}

/* sum, avg and median of a numeric field's values (MultiValueMode): every
 * value of a hit is met, in ascending order. */
static bool on_multi_val(const void *val, size_t len, int64_t seq, void *arg)
{
    svctx *c = arg;
    size_t h = hit_of(c, seq);
    if (h == c->m)
        return true;
    sval *v = &c->hits[h].sv[c->key];
    bool dbl = c->ft == STORE_FT_DOUBLE;
    int64_t l = 0;
    double d = 0;
    if (c->ft == STORE_FT_BOOLEAN)
        l = len && ((const char *)val)[0] == 'T';
    else if (dbl)
        d = len == STORE_VAL_NUM_LEN ? store_index_dec_double(val) : 0;
    else
        l = len == STORE_VAL_NUM_LEN ? store_index_dec_long(val) : 0;
    if (c->mode == 5 && c->pass == 1) {
        v->n++;
        return true;
    }
    if (c->mode == 5) { /* the middle value, or the two middle ones of an even count */
        size_t i = c->seen[h]++, n = v->n;
        if (i == n / 2 || (n % 2 == 0 && i == n / 2 - 1)) {
            v->kind = dbl ? 2 : 1;
            v->d += d;
            v->l += l;
        }
        return true;
    }
    v->kind = dbl ? 2 : 1;
    v->d += d;
    v->l += l;
    v->n++;
    return true;
}

/* sum/avg/median over every value of key->field for hits[0..m). */
static bool multi_values(ex *x, const skey *key, svctx *c)
{
    c->mode = key->mode;
    c->pass = 1;
    if (!store_engine_values(x->r, &x->ix->meta, key->field, NULL, 0, true, NULL, 0, true, false, on_multi_val, c))
        return storage_err(x->err);
    if (key->mode == 5) {
        if (!(c->seen = calloc(c->m ? c->m : 1, sizeof *c->seen)))
            return oom_err(x->err);
        c->pass = 2;
        bool ok = store_engine_values(x->r, &x->ix->meta, key->field, NULL, 0, true, NULL, 0, true, false,
                                      on_multi_val, c);
        free(c->seen);
        c->seen = NULL;
        if (!ok)
            return storage_err(x->err);
    }
    for (size_t i = 0; i < c->m; i++) {
        sval *v = &c->hits[i].sv[c->key];
        size_t n = key->mode == 4 ? v->n : key->mode == 5 && v->n % 2 == 0 ? 2 : 1;
        if (!v->kind || n <= 1)
            continue;
        /* as MultiValueMode picks: a long result is rounded, a double divided */
        if (v->kind == 2)
            v->d /= (double)n;
        else
            v->l = (int64_t)llround((double)v->l / (double)n);
    }
    for (size_t i = 0; i < c->m; i++)
        c->hits[i].sv[c->key].n = 0;
    return true;
}

static bool on_sort_val(const void *val, size_t len, int64_t seq, void *arg)
{
    svctx *c = arg;
    size_t lo = hit_of(c, seq);
    if (lo == c->m)
        return true;
    sval *v = &c->hits[lo].sv[c->key];
    if (v->kind)
        return true; /* the first value met is the min (ascending walk) or max */
    switch (c->ft) {
    case STORE_FT_ULONG:
        v->ul = true; /* ordered as the shifted long it decodes to */
        /* fall through */
    case STORE_FT_LONG:
    case STORE_FT_DATE:
    case STORE_FT_DATE_NANOS: /* sort values in nanoseconds, as Elasticsearch gives them */
        v->kind = 1;
        v->l = len == STORE_VAL_NUM_LEN ? store_index_dec_long(val) : 0;
        break;
    case STORE_FT_BOOLEAN:
        v->kind = 1;
        v->l = len && ((const char *)val)[0] == 'T';
        break;
    case STORE_FT_DOUBLE:
        v->kind = 2;
        v->d = len == STORE_VAL_NUM_LEN ? store_index_dec_double(val) : 0;
        break;
    default:
        v->kind = 3;
        if (!(v->s = malloc(len + 1)))
            return c->oom = true, false;
        memcpy(v->s, val, len);
        v->s[len] = '\0';
        v->n = len;
        break;
    }
    return --c->left > 0;
}

/* Fill key `k` of the hits of index `x->ix` (hits[0..m), in seq order). */
bool store_sort_values(ex *x, const skey *key, size_t k, size_t nkeys, rh *hits, size_t m)
{
    const store_field *f = store_mapping_find(&x->ix->map, key->field);
    if (!f || f->type == STORE_FT_OBJECT || f->type == STORE_FT_NONE) {
        if (key->unmapped_type)
            return true;
        return store_eval_shard_fail(x, "query_shard_exception",
                                     "No mapping found for [%s] in order to sort on", key->field);
    }
    if (f->type == STORE_FT_TEXT)
        return store_eval_fielddata_err(x, key->field);
    bool walk_desc = key->mode == 2 || (key->mode == 0 && key->desc);
    svctx c = {hits, m, k, nkeys, f->type, m, false, 0, 0, NULL};
    if (key->mode >= 3) {
        if (f->type != STORE_FT_LONG && f->type != STORE_FT_DOUBLE && f->type != STORE_FT_DATE &&
            f->type != STORE_FT_BOOLEAN)
            return store_eval_shard_fail(x, "illegal_argument_exception",
                                         "Sort mode [%s] is only allowed on numeric fields, not on [%s]",
                                         key->mode == 3 ? "sum" : key->mode == 4 ? "avg" : "median", key->field);
        if (m && !multi_values(x, key, &c))
            return false;
    } else if (m && !store_engine_values(x->r, &x->ix->meta, key->field, NULL, 0, true, NULL, 0, true, walk_desc,
                                         on_sort_val, &c))
        return storage_err(x->err);
    if (c.oom)
        return oom_err(x->err);
    /* Numeric fields sort a missing value as Elasticsearch does: as the
     * extreme of the type, which is also what `sort` shows for it. */
    for (size_t i = 0; i < m; i++) {
        sval *v = &hits[i].sv[k];
        if (v->kind)
            continue;
        bool high = key->missing_first == key->desc;
        if (f->type == STORE_FT_LONG || f->type == STORE_FT_DATE || f->type == STORE_FT_BOOLEAN ||
            f->type == STORE_FT_ULONG || f->type == STORE_FT_DATE_NANOS) /* unsigned_long: 2^64−1 and 0 */
            v->kind = 1, v->l = high ? INT64_MAX : INT64_MIN, v->ul = f->type == STORE_FT_ULONG;
        else if (f->type == STORE_FT_DOUBLE)
            v->kind = 2, v->d = high ? INFINITY : -INFINITY;
    }
    return true;
}

bool store_sort_fetch_id(store_rtxn *r, const sidx *ix, rh *h)
{
    const char *id;
    size_t n;
    store_doc_view v;
    store_lookup rc = store_engine_doc_by_seq(r, &ix->meta, h->seq, &id, &n, &v);
    if (rc == STORE_LOOKUP_FAILED)
        return false;
    if (rc == STORE_LOOKUP_MISSING) {
        h->id = strdup("");
        h->idn = 0;
        return h->id != NULL;
    }
    if (!(h->id = malloc(n + 1)))
        return false;
    memcpy(h->id, id, n);
    h->id[n] = '\0';
    h->idn = n;
    return true;
}

/* Elasticsearch's answer to a search_after value that does not fit its sort key. */
bool store_sort_after_err(store_error *err, const char *field)
{
    return seterr(err, 400, "illegal_argument_exception",
                  "Failed to parse search_after value for field [%s].", field);
}

/* search_after's values as a pseudo-hit. */
bool store_sort_after_hit(const sreq *q, const sidx *ix, size_t nix, rh *out, store_error *err)
{
    const cJSON *v = q->after->child;
    for (size_t k = 0; k < q->nkeys; k++, v = v->next) {
        const skey *key = &q->keys[k];
        sval *sv = &out->sv[k];
        switch (key->kind) {
        case SK_SCORE:
            if (!cJSON_IsNumber(v))
                return store_sort_after_err(err, "_score");
            out->score = (float)v->valuedouble;
            break;
        case SK_DOC:
            if (!cJSON_IsNumber(v))
                return store_sort_after_err(err, "_doc");
            out->seq = (int64_t)v->valuedouble;
            break;
        case SK_ID:
            if (!cJSON_IsString(v))
                return store_sort_after_err(err, "_id");
            out->id = v->valuestring;
            out->idn = strlen(v->valuestring);
            break;
        case SK_FIELD: {
            store_ftype ft = STORE_FT_NONE;
            for (size_t i = 0; i < nix && ft == STORE_FT_NONE; i++) {
                const store_field *f = store_mapping_find(&ix[i].map, key->field);
                if (f)
                    ft = f->type;
            }
            if (cJSON_IsNull(v))
                sv->kind = 0;
            else if (ft == STORE_FT_ULONG) { /* a number (its literal kept past 2^53: store_req_json_body) or a string */
                uint64_t u;
                bool ok = v->valuestring ? store_ulong_parse_term(v->valuestring, &u) == 1
                          : cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 18446744073709551616.0 &&
                              v->valuedouble == floor(v->valuedouble);
                if (!ok)
                    return store_sort_after_err(err, key->field);
                if (!v->valuestring)
                    u = (uint64_t)v->valuedouble;
                sv->kind = 1, sv->ul = true, sv->l = (int64_t)(u ^ (1ULL << 63));
            } else if (ft == STORE_FT_DATE_NANOS && cJSON_IsNumber(v) && v->valuestring) {
                int64_t l; /* nanoseconds past 2^53, as written */
                if (!json_parse_long(v->valuestring, strlen(v->valuestring), &l))
                    return store_sort_after_err(err, key->field);
                sv->kind = 1, sv->l = l;
            } else if (cJSON_IsBool(v))
                sv->kind = 1, sv->l = cJSON_IsTrue(v);
            else if (cJSON_IsNumber(v)) {
                if (ft == STORE_FT_DOUBLE || v->valuedouble != floor(v->valuedouble))
                    sv->kind = 2, sv->d = v->valuedouble;
                else if (v->valuedouble >= 9.2233720368547748e18)
                    sv->kind = 1, sv->l = INT64_MAX;
                else if (v->valuedouble <= -9.2233720368547748e18)
                    sv->kind = 1, sv->l = INT64_MIN;
                else
                    sv->kind = 1, sv->l = (int64_t)v->valuedouble;
            } else if (cJSON_IsString(v)) {
                const char *s = v->valuestring;
                int64_t l;
                char *e;
                if (ft == STORE_FT_DATE && store_index_parse_date(s, strlen(s), &l))
                    sv->kind = 1, sv->l = l;
                else if ((ft == STORE_FT_LONG || ft == STORE_FT_DATE || ft == STORE_FT_DATE_NANOS) &&
                         json_parse_long(s, strlen(s), &l))
                    sv->kind = 1, sv->l = l;
                else if (ft == STORE_FT_DOUBLE && (sv->d = strtod(s, &e), !*e && *s))
                    sv->kind = 2;
                else if (ft == STORE_FT_BOOLEAN && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
                    sv->kind = 1, sv->l = strcmp(s, "true") == 0;
                else
                    sv->kind = 3, sv->s = (char *)s, sv->n = strlen(s);
            } else
                return store_sort_after_err(err, key->field);
            break;
        }
        }
    }
    return true;
}

void store_sort_put_sort(buf *b, const sreq *q, const rh *h)
{
    buf_puts(b, "[");
    for (size_t k = 0; k < q->nkeys; k++) {
        if (k)
            buf_putc(b, ',');
        switch (q->keys[k].kind) {
        case SK_SCORE:
            store_json_put_float(b, h->score);
            break;
        case SK_DOC:
            jint(b, h->seq);
            break;
        case SK_ID:
            jstrn(b, h->id ? h->id : "", h->idn);
            break;
        case SK_FIELD: {
            const sval *v = &h->sv[k];
            if (v->kind == 1 && v->ul)
                buf_printf(b, "%" PRIu64, store_ulong_unshift(v->l));
            else if (v->kind == 1)
                jint(b, v->l);
            else if (v->kind == 2)
                store_json_put_double(b, v->d);
            else if (v->kind == 3)
                jstrn(b, v->s, v->n);
            else
                buf_puts(b, "null");
            break;
        }
        }
    }
    buf_puts(b, "]");
}

bool store_sort_scored(const sreq *q)
{
    if (!q->nkeys || q->track_scores)
        return true;
    for (size_t k = 0; k < q->nkeys; k++)
        if (q->keys[k].kind == SK_SCORE)
            return true;
    return false;
}

/* One hit object; `sort` is the rendered sort array or NULL. */
void store_sort_put_hit(buf *b, const char *index, const char *id, size_t idn, const store_doc_view *v,
                        const sreq *q, bool with_score, float score, const char *extra, size_t extran,
                        const char *sort, size_t sortn)
{
    buf_puts(b, "{\"_index\":");
    jstr(b, index);
    buf_puts(b, ",\"_id\":");
    jstrn(b, id, idn);
    if (q->version) {
        buf_puts(b, ",\"_version\":");
        jint(b, v->st.version);
    }
    if (q->seqno) {
        buf_puts(b, ",\"_seq_no\":");
        jint(b, v->st.seq_no);
        buf_puts(b, ",\"_primary_term\":");
        jint(b, v->st.term);
    }
    buf_puts(b, ",\"_score\":");
    if (with_score)
        store_json_put_float(b, score);
    else
        buf_puts(b, "null");
    if (!q->src.none && !v->source_disabled) {
        buf_puts(b, ",\"_source\":");
        store_srcfilter_put(b, v->src, v->src_len, &q->src);
    }
    if (extra)
        buf_append(b, extra, extran);
    if (sort) {
        buf_puts(b, ",\"sort\":");
        buf_append(b, sort, sortn);
    }
    buf_putc(b, '}');
}

void store_sort_put_total(buf *b, const sreq *q, int64_t total)
{
    if (q->track < 0) {
        if (q->rest_total_int) /* SearchHits: no total, as an int, is -1 */
            buf_puts(b, "\"total\":-1,");
        return;
    }
    bool gte = !q->track_exact && total > q->track;
    int64_t shown = gte ? q->track : total;
    if (q->rest_total_int) {
        buf_puts(b, "\"total\":");
        jint(b, q->track_exact || !gte ? total : shown);
        buf_putc(b, ',');
        return;
    }
    buf_puts(b, "\"total\":{\"value\":");
    jint(b, shown);
    buf_puts(b, gte ? ",\"relation\":\"gte\"}," : ",\"relation\":\"eq\"},");
}

void store_sort_put_head(buf *b, const char *scroll_id, int64_t took, int terminated, size_t shards)
{
    buf_putc(b, '{');
    if (scroll_id) {
        buf_puts(b, "\"_scroll_id\":");
        jstr(b, scroll_id);
        buf_putc(b, ',');
    }
    buf_puts(b, "\"took\":");
    jint(b, took);
    buf_puts(b, store_deadline_timed_out() ? ",\"timed_out\":true," : ",\"timed_out\":false,");
    if (terminated >= 0)
        buf_puts(b, terminated ? "\"terminated_early\":true," : "\"terminated_early\":false,");
    buf_printf(b, "\"_shards\":{\"total\":%zu,\"successful\":%zu,\"skipped\":0,\"failed\":0},", shards,
               shards);
}
