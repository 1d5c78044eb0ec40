/* store_search — runs parsed queries against verstore's index structures: BM25 scoring, sorting, paging, aggregations, scroll contexts and the Elasticsearch response shapes. */
#include "versync/store_search.h"

#include "versync/grow.h"
#include "versync/log.h"
#include "versync/store_breaker.h"
#include "versync/store_deadline.h"
#include "versync/store_fielddata.h"
#include "versync/store_index.h"
#include "versync/store_json.h"
#include "versync/store_srcfilter.h"
#include "versync/store_util.h"
#include "versync/store_wildcard.h"

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

#define BM25_K1 1.2f
#define BM25_B 0.75f
#define DEFAULT_WINDOW 10000
#define DEFAULT_MAX_TERMS 65536 /* index.max_terms_count */
#define MAX_SCROLLS 500
#define MAX_KEEP_ALIVE_MS (24LL * 3600 * 1000)
#define TRACK_DEFAULT 10000

/* ---- errors ------------------------------------------------------------------ */

#define seterr store_error_set

static bool storage_err(store_error *err)
{
    return seterr(err, 500, "exception", "storage failure, see the verstore log");
}

static bool oom_err(store_error *err) { return seterr(err, 500, "exception", "out of memory"); }

/* ---- hit lists ------------------------------------------------------------------ */

/* A matching document of one index: its search ordinal and score. `aux`
 * and `cnt` serve the combinators (dis_max sums, clause counts, field
 * lengths of phrase candidates). Scores are summed in double and cast to
 * float per query node, as Lucene does. */
typedef struct hit {
    int64_t seq;
    double score;
    double aux;
    int32_t cnt;
} hit;

typedef struct hitv {
    hit *v;
    size_t n, cap;
} hitv;

static void hv_free(hitv *h)
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
static void hv_keep_best(hitv *h, size_t k)
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
    hv_free(a);
    *a = out;
    return true;
}

/* a ∩ b into a, scores summed; a's aux kept. */
static void hv_intersect(hitv *a, const hitv *b)
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
static float bm25_boost(float boost) { return boost * (1 + BM25_K1); }

static float bm25_idf(int64_t docs, int64_t df)
{
    return (float)log(1 + (docs - df + 0.5) / (df + 0.5));
}

static float bm25_avgdl(int64_t docs, int64_t sum_len)
{
    return docs > 0 ? (float)((double)sum_len / (double)docs) : 1.0f;
}

/* BM25Similarity's per-length cache entry; float throughout, as in Lucene. */
static float bm25_norm_inverse(float avgdl, uint32_t len)
{
    float dl = (float)store_index_norm_len(len);
    return 1.0f / (BM25_K1 * ((1 - BM25_B) + BM25_B * dl / avgdl));
}

/* BM25Scorer.score: weight - weight / (1 + freq × normInverse), in float. */
static float bm25(float weight, float freq, float norm_inverse)
{
    return weight - weight / (1.0f + freq * norm_inverse);
}

/* ---- searched indices ---------------------------------------------------------------- */

typedef struct sidx {
    store_index_meta meta;
    store_mapping map;
    int64_t window;    /* index.max_result_window */
    int64_t max_terms; /* index.max_terms_count */
    hitv res;
    unsigned char *bits; /* aggregations: membership by seq */
} sidx;

static void sidx_free(sidx *ix, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        store_mapping_free(&ix[i].map);
        hv_free(&ix[i].res);
        free(ix[i].bits);
    }
    free(ix);
}

/* Index setting `name` (as "index.name", {"index":{"name"}} or "name")
 * from the settings JSON, or `def`. */
static int64_t setting_of(const char *json, size_t n, const char *name, int64_t def)
{
    int64_t w = def;
    char flat[64];
    snprintf(flat, sizeof flat, "index.%s", name);
    cJSON *s = n ? cJSON_ParseWithLength(json, n) : NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, flat);
    if (!v) {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(s, "index");
        v = cJSON_GetObjectItemCaseSensitive(idx, name);
    }
    if (!v)
        v = cJSON_GetObjectItemCaseSensitive(s, name);
    if (cJSON_IsNumber(v))
        w = (int64_t)v->valuedouble;
    else if (cJSON_IsString(v))
        w = strtoll(v->valuestring, NULL, 10);
    cJSON_Delete(s);
    return w;
}

typedef struct name_list {
    char **v;
    size_t n, cap;
    bool oom;
} name_list;

static void pair_add(name_list *l, const char *s);

/* Add `s` unless the list holds it. */
static void nl_add(name_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return;
    pair_add(l, s);
}

static void nl_remove(name_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0) {
            free(l->v[i]);
            memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof *l->v);
            l->n--;
            return;
        }
}

static void nl_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

typedef struct catalog {
    name_list indices;
    name_list alias, alias_index; /* pairs (not deduplicated: parallel arrays) */
} catalog;

static bool cat_index(const store_index_meta *m, void *arg)
{
    nl_add(&((catalog *)arg)->indices, m->name);
    return true;
}

/* Append `s` (repeats kept: alias/index pairs are parallel lists). */
static void pair_add(name_list *l, const char *s)
{
    if (l->n == l->cap && !GROW_ARRAY(l->v, l->cap, l->n + 1, 16)) {
        l->oom = true;
        return;
    }
    if (!(l->v[l->n] = strdup(s)))
        l->oom = true;
    else
        l->n++;
}

static bool cat_alias(const char *alias, const char *index, int is_write, void *arg)
{
    (void)is_write;
    catalog *c = arg;
    pair_add(&c->alias, alias);
    pair_add(&c->alias_index, index);
    return !c->alias.oom && !c->alias_index.oom;
}

static bool is_wild(const char *s) { return strchr(s, '*') != NULL; }

static bool glob_s(const char *pat, const char *s) { return store_util_glob(pat, strlen(pat), s, strlen(s)); }

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

bool store_search_indices(store_rtxn *r, const char *expr, bool ignore_unavailable, bool allow_no_indices,
                          char ***names, size_t *n, store_error *err)
{
    catalog c = {0};
    name_list sel = {0};
    bool ok = false;
    *names = NULL;
    *n = 0;
    if (!store_engine_index_each(r, cat_index, &c) || !store_engine_alias_each(r, cat_alias, &c)) {
        storage_err(err);
        goto done;
    }
    if (!expr || !*expr)
        expr = "_all";
    bool wild_seen = false;
    const char *p = expr;
    while (*p) {
        size_t len = strcspn(p, ",");
        char tok[STORE_MAX_INDEX_NAME * 2 + 2];
        if (len >= sizeof tok) {
            seterr(err, 400, "invalid_index_name_exception", "Invalid index name [%.*s], index name is too long",
                   (int)len, p);
            goto done;
        }
        memcpy(tok, p, len);
        tok[len] = '\0';
        p += len + (p[len] == ',');
        if (!len)
            continue;
        bool excl = tok[0] == '-' && wild_seen;
        const char *name = excl ? tok + 1 : tok;
        if (strcmp(name, "_all") == 0 || is_wild(name)) {
            wild_seen = true;
            const char *pat = strcmp(name, "_all") == 0 ? "*" : name;
            for (size_t i = 0; i < c.indices.n; i++)
                if (glob_s(pat, c.indices.v[i]) && (pat[0] == '.' || c.indices.v[i][0] != '.')) {
                    if (excl)
                        nl_remove(&sel, c.indices.v[i]);
                    else
                        nl_add(&sel, c.indices.v[i]);
                }
            for (size_t i = 0; i < c.alias.n; i++)
                if (glob_s(pat, c.alias.v[i]) && strcmp(name, "_all") != 0) {
                    if (excl)
                        nl_remove(&sel, c.alias_index.v[i]);
                    else
                        nl_add(&sel, c.alias_index.v[i]);
                }
            continue;
        }
        bool found = false;
        for (size_t i = 0; i < c.indices.n && !found; i++)
            if (strcmp(c.indices.v[i], name) == 0) {
                found = true;
                if (excl)
                    nl_remove(&sel, name);
                else
                    nl_add(&sel, name);
            }
        for (size_t i = 0; i < c.alias.n && !found; i++)
            if (strcmp(c.alias.v[i], name) == 0) {
                for (size_t j = i; j < c.alias.n && strcmp(c.alias.v[j], name) == 0; j++) {
                    if (excl)
                        nl_remove(&sel, c.alias_index.v[j]);
                    else
                        nl_add(&sel, c.alias_index.v[j]);
                }
                found = true;
            }
        if (!found && !ignore_unavailable) {
            err->index_missing = true;
            seterr(err, 404, "index_not_found_exception", "%s", name);
            goto done;
        }
    }
    if (sel.oom || c.indices.oom) {
        oom_err(err);
        goto done;
    }
    if (!sel.n && !allow_no_indices) {
        err->index_missing = true;
        seterr(err, 404, "index_not_found_exception", "%s", expr);
        goto done;
    }
    if (sel.n)
        qsort(sel.v, sel.n, sizeof *sel.v, name_cmp);
    *names = sel.v;
    *n = sel.n;
    memset(&sel, 0, sizeof sel);
    ok = true;
done:
    nl_free(&c.indices);
    nl_free(&c.alias);
    nl_free(&c.alias_index);
    nl_free(&sel);
    return ok;
}

void store_search_indices_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The indices an expression names, loaded: meta, parsed mapping, window. */
static bool resolve(store_rtxn *r, const char *expr, bool ignore_unavailable, bool allow_no_indices, sidx **out,
                    size_t *nout, store_error *err)
{
    char **names;
    size_t nn, n = 0;
    *out = NULL;
    *nout = 0;
    if (!store_search_indices(r, expr, ignore_unavailable, allow_no_indices, &names, &nn, err))
        return false;
    sidx *ix = calloc(nn ? nn : 1, sizeof *ix);
    bool ok = ix || oom_err(err);
    for (size_t i = 0; ok && i < nn; i++) {
        buf settings = BUF_INIT, mappings = BUF_INIT;
        int rc = store_engine_index_get(r, names[i], &ix[n].meta, &settings, &mappings);
        if (rc == 1) {
            char why[256] = "";
            if (!store_mapping_parse(mappings.data ? mappings.data : "", mappings.len, &ix[n].map, why, sizeof why)) {
                log_error("verstore: index [%s]: stored mapping does not parse: %s", names[i], why);
                rc = -1;
            } else {
                ix[n].window = setting_of(settings.data, settings.len, "max_result_window", DEFAULT_WINDOW);
                ix[n].max_terms = setting_of(settings.data, settings.len, "max_terms_count", DEFAULT_MAX_TERMS);
                if (!store_mapping_set_analysis(&ix[n].map, settings.data, settings.len, why, sizeof why))
                    log_error("verstore: index [%s]: analysis settings do not build: %s", names[i], why);
                n++;
            }
        }
        buf_free(&settings);
        buf_free(&mappings);
        if (rc < 0)
            ok = storage_err(err);
    }
    store_search_indices_free(names, nn);
    if (!ok) {
        sidx_free(ix, n);
        return false;
    }
    *out = ix;
    *nout = n;
    return true;
}

/* ---- evaluation ------------------------------------------------------------------------ */

typedef struct ex {
    store_rtxn *r;
    sidx *ix;
    store_error *err;
} ex;

static bool shard_fail(ex *x, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool shard_fail(ex *x, const char *type, const char *fmt, ...)
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

static const char *type_name(const store_field *f) { return f->type_name ? f->type_name : "object"; }

static bool fielddata_err(ex *x, const char *path)
{
    return shard_fail(x, "illegal_argument_exception",
                      "Fielddata is disabled on [%s] in [%s]. Text fields are not optimised for operations that "
                      "require per-document field data like aggregations and sorting, so these operations are "
                      "disabled by default. Please use a keyword field instead. Alternatively, set fielddata=true on "
                      "[%s] in order to load field data by uninverting the inverted index. Note that this can use "
                      "significant memory.",
                      path, x->ix->meta.name, path);
}

static bool push_seq(int64_t seq, void *arg) { return hv_push(arg, seq, 0); }

static bool push_val(const void *val, size_t len, int64_t seq, void *arg)
{
    (void)val, (void)len;
    return hv_push(arg, seq, 0);
}

/* Every live document, scored `score`. */
static bool all_docs(ex *x, double score, hitv *out)
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
    float ni = p->len < NORM_CACHE ? c->norm_inv[p->len] : bm25_norm_inverse(c->avgdl, p->len);
    double s = bm25(c->weight, (float)p->tf, ni);
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
    postc c = {out, bm25_boost(boost) * bm25_idf(docs, df), bm25_avgdl(docs, sum), false, {0}};
    for (uint32_t l = 0; l < NORM_CACHE; l++)
        c.norm_inv[l] = bm25_norm_inverse(c.avgdl, l);
    if (!hv_reserve(out, (size_t)df)) /* one allocation, not a doubling series of copies */
        return oom_err(x->err);
    if (!store_engine_postings(x->r, &x->ix->meta, path, term, len, on_posting, &c) || c.oom)
        return c.oom ? oom_err(x->err) : storage_err(x->err);
    return true;
}

/* Documents holding exactly `val` in an exact-value field. `scored`: BM25
 * as Lucene scores a keyword term (tf 1, norms off: length 1). */
static bool exact_term(ex *x, const char *path, const void *val, size_t len, bool scored, float boost, hitv *out)
{
    hitv tmp = {0};
    if (!store_engine_values(x->r, &x->ix->meta, path, val, len, true, val, len, true, false, push_val, &tmp)) {
        hv_free(&tmp);
        return storage_err(x->err);
    }
    double score = boost;
    if (scored && tmp.n) {
        int64_t docs, sum;
        if (!store_engine_field_stats(x->r, &x->ix->meta, path, &docs, &sum)) {
            hv_free(&tmp);
            return storage_err(x->err);
        }
        hv_norm(&tmp, 0);
        score = bm25(bm25_boost(boost) * bm25_idf(docs, (int64_t)tmp.n), 1.0f, bm25_norm_inverse(bm25_avgdl(docs, sum), 1));
    }
    hv_norm(&tmp, score);
    hv_free(out);
    *out = tmp;
    return true;
}

/* Encode query value `v` as field f's index key into out (STORE_INDEX_MAX_KEY+1
 * bytes). bound: 0 exact, 1 lower bound, -1 upper bound (a fraction on a
 * long field rounds inward and makes the bound inclusive). Returns 1, 0 when
 * no indexed value can equal it, -1 on error (reported unless lenient). */
static int enc_val(ex *x, const char *path, const store_field *f, const store_qval *v, int bound, bool *incl,
                   bool lenient, unsigned char *out, size_t *len, const unsigned char **res)
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
                shard_fail(x, "query_shard_exception", "failed to create query: For input string: \"%s\"", v->s);
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
                shard_fail(x, "query_shard_exception", "failed to create query: Value [%s] is out of range for a long",
                           v->s);
                return -1;
            }
            store_index_enc_long((int64_t)d, out);
        }
        *len = STORE_VAL_NUM_LEN;
        return 1;
    }
    case STORE_FT_DATE: {
        int64_t ms;
        bool ok;
        if (v->kind == STORE_QV_NUM) {
            ok = v->num == floor(v->num) && fabs(v->num) < 9.2e18;
            ms = ok ? (int64_t)v->num : 0;
        } else
            ok = v->kind == STORE_QV_STR && store_index_parse_date(v->s, strlen(v->s), &ms);
        if (!ok) {
            if (lenient)
                return 0;
            shard_fail(x, "parse_exception",
                       "failed to parse date field [%s] with format [strict_date_optional_time||epoch_millis]", v->s);
            return -1;
        }
        store_index_enc_long(ms, out);
        *len = STORE_VAL_NUM_LEN;
        return 1;
    }
    case STORE_FT_BOOLEAN: {
        bool b;
        if (v->kind == STORE_QV_BOOL)
            b = v->b;
        else if (v->kind == STORE_QV_STR && (strcmp(v->s, "true") == 0 || strcmp(v->s, "false") == 0 || !v->s[0]))
            b = strcmp(v->s, "true") == 0;
        else {
            if (lenient)
                return 0;
            shard_fail(x, "illegal_argument_exception",
                       "Can't parse boolean value [%s], expected [true] or [false]", v->s);
            return -1;
        }
        out[0] = b ? 'T' : 'F';
        *len = 1;
        return 1;
    }
    default: (void)path; return 0;
    }
}

/* ---- term expansion (prefix, wildcard, text ranges) ---- */

typedef struct expand {
    ex *x;
    int kind; /* 0 prefix, 1 wildcard, 2 range */
    const store_wildcard *w; /* kind 1 */
    const char *lit; /* literal prefix: the walk ends once a term leaves it */
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

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
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
    case 0: return true;
    case 1: return store_wildcard_match(e->w, t, n);
    default:
        if (e->lo_excl && bytes_cmp(t, n, e->lo, e->lon) == 0)
            return false;
        if (e->hi) {
            int c = bytes_cmp(t, n, e->hi, e->hin);
            if (c > 0 || (c == 0 && !e->hi_incl)) {
                *stop = true;
                return false;
            }
        }
        return true;
    }
}

static bool on_exp_posting(const store_posting *p, void *arg) { return hv_push(arg, p->seq, 0); }

static bool on_exp_term(const char *term, size_t len, void *arg)
{
    expand *e = arg;
    bool stop;
    if (!expand_hit(e, term, len, &stop))
        return !stop;
    if (!store_engine_postings(e->x->r, &e->x->ix->meta, e->path, term, len, on_exp_posting, e->out)) {
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

/* ---- phrase verification ---- */

typedef struct toks {
    char **v;
    size_t n, cap;
    bool oom;
} toks;

static bool on_tok(const char *t, size_t len, void *arg)
{
    toks *k = arg;
    if (k->n == k->cap && !GROW_ARRAY(k->v, k->cap, k->n + 1, 16))
        return k->oom = true, false;
    if (!(k->v[k->n] = strndup(t, len)))
        return k->oom = true, false;
    k->n++;
    return true;
}

static void toks_free(toks *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    memset(k, 0, sizeof *k);
}

/* Analyse `text` as field `path` of the index is: as indexed (search
 * false) or as queried (quote: a phrase query). */
static bool analyze(sidx *ix, const char *path, bool search, bool quote, const char *text, toks *out)
{
    const store_field *f = store_mapping_find(&ix->map, path);
    return store_index_analyze(&ix->map, f, search, quote, text, strlen(text), on_tok, out) && !out->oom;
}

/* A query's text: with its own `analyzer` when it names one. */
static bool analyze_query(ex *x, const store_query *q, const char *path, toks *out);

/* Text values of `path` in a source object (nested objects, dotted keys, arrays). */
static void collect_values(const cJSON *node, const char *path, toks *out)
{
    if (cJSON_IsArray(node)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, node) collect_values(it, path, out);
        return;
    }
    if (!*path) {
        char tmp[64];
        if (cJSON_IsString(node))
            on_tok(node->valuestring, strlen(node->valuestring), out);
        else if (cJSON_IsNumber(node)) {
            snprintf(tmp, sizeof tmp, "%.17g", node->valuedouble);
            on_tok(tmp, strlen(tmp), out);
        } else if (cJSON_IsBool(node))
            on_tok(cJSON_IsTrue(node) ? "true" : "false", cJSON_IsTrue(node) ? 4 : 5, out);
        return;
    }
    if (!cJSON_IsObject(node))
        return;
    for (const cJSON *it = node->child; it; it = it->next) {
        size_t kl = strlen(it->string);
        if (strncmp(path, it->string, kl) != 0)
            continue;
        if (path[kl] == '\0')
            collect_values(it, "", out);
        else if (path[kl] == '.')
            collect_values(it, path + kl + 1, out);
    }
}

/* Occurrences of the phrase `ph` in the values of `path` of document `seq`
 * (values never join: Lucene leaves a position gap between them). */
static int64_t phrase_freq(ex *x, int64_t seq, const char *path, const toks *ph, bool *failed)
{
    const char *id;
    size_t idn;
    store_doc_view v;
    int rc = store_engine_doc_by_seq(x->r, &x->ix->meta, seq, &id, &idn, &v);
    if (rc < 0) {
        *failed = true;
        return 0;
    }
    if (rc == 0)
        return 0;
    cJSON *doc = cJSON_ParseWithLength(v.src, v.src_len);
    toks vals = {0};
    collect_values(doc, path, &vals);
    /* a multi-field (title.text) reads its parent's values */
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", path);
    char *dot;
    while (!vals.n && (dot = strrchr(parent, '.'))) {
        *dot = '\0';
        collect_values(doc, parent, &vals);
    }
    int64_t freq = 0;
    for (size_t i = 0; i < vals.n; i++) {
        toks t = {0};
        analyze(x->ix, path, false, false, vals.v[i], &t);
        for (size_t s = 0; s + ph->n <= t.n; s++) {
            size_t k = 0;
            while (k < ph->n && strcmp(t.v[s + k], ph->v[k]) == 0)
                k++;
            freq += k == ph->n;
        }
        toks_free(&t);
    }
    toks_free(&vals);
    cJSON_Delete(doc);
    return freq;
}

static bool text_phrase(ex *x, const char *path, const toks *ph, float boost, hitv *out)
{
    int64_t docs, sum;
    if (!store_engine_field_stats(x->r, &x->ix->meta, path, &docs, &sum))
        return storage_err(x->err);
    if (docs <= 0)
        return true;
    double idf = 0;
    hitv cand = {0};
    for (size_t i = 0; i < ph->n; i++) {
        size_t tl = strlen(ph->v[i]);
        int64_t df = store_engine_term_docs(x->r, &x->ix->meta, path, ph->v[i], tl);
        if (df <= 0) {
            hv_free(&cand);
            return df < 0 ? storage_err(x->err) : true;
        }
        idf += bm25_idf(docs, df);
        hitv t = {0};
        postc c = {&t, 0, 1, false, {0}};
        if (!store_engine_postings(x->r, &x->ix->meta, path, ph->v[i], tl, on_posting, &c) || c.oom) {
            hv_free(&t);
            hv_free(&cand);
            return c.oom ? oom_err(x->err) : storage_err(x->err);
        }
        if (i == 0)
            cand = t;
        else {
            hv_intersect(&cand, &t);
            hv_free(&t);
        }
    }
    float weight = bm25_boost(boost) * (float)idf, avgdl = bm25_avgdl(docs, sum);
    bool failed = false;
    for (size_t i = 0; i < cand.n && !failed && !store_deadline_poll(); i++) { /* out of time: eval_all drops these */
        int64_t pf = phrase_freq(x, cand.v[i].seq, path, ph, &failed);
        if (pf > 0 && !hv_push(out, cand.v[i].seq,
                               bm25(weight, (float)pf, bm25_norm_inverse(avgdl, (uint32_t)cand.v[i].aux)))) {
            failed = true;
        }
    }
    hv_free(&cand);
    return failed ? storage_err(x->err) : true;
}

static bool analyze_query(ex *x, const store_query *q, const char *path, toks *out)
{
    if (!q->analyzer)
        return analyze(x->ix, path, true, q->type == STORE_Q_PHRASE, q->vals[0].s, out) || oom_err(x->err);
    int rc = store_index_analyze_named(&x->ix->map, q->analyzer, q->vals[0].s, strlen(q->vals[0].s), on_tok, out);
    if (rc < 0)
        return shard_fail(x, "query_shard_exception", "failed to create query: [%s] analyzer [%s] not found",
                          q->type == STORE_Q_PHRASE ? "match_phrase" : "match", q->analyzer);
    return (rc > 0 && !out->oom) || oom_err(x->err);
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
            hv_free(&acc);
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
    hv_free(out);
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
        for (size_t i = 0; i < q->nvals; i++) {
            store_doc_view v;
            int rc = store_engine_doc_get(x->r, &x->ix->meta, q->vals[i].s, strlen(q->vals[i].s), &v);
            if (rc < 0)
                return storage_err(x->err);
            if (rc == 1 && v.st.exists && !v.st.deleted && !hv_push(out, v.st.seq_no, 0))
                return oom_err(x->err);
        }
        hv_norm(out, boost);
        return 1;
    }
    const char *name = x->ix->meta.name;
    for (size_t i = 0; i < q->nvals; i++) {
        const char *v = q->vals[i].s;
        bool hit = prefix ? strncmp(name, v, strlen(v)) == 0 : wild ? index_glob(v, name) : strcmp(name, v) == 0;
        if (hit)
            return all_docs(x, boost, out);
    }
    return 1;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static bool ev_field(ex *x, const store_query *q, const char *path, float boost, bool lenient, hitv *out)
{
    if (q->type == STORE_Q_TERMS && (int64_t)q->nvals > x->ix->max_terms) /* checked first, mapped or not */
        return shard_fail(x, "query_shard_exception",
                          "failed to create query: The number of terms [%zu] used in the Terms Query request has "
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
        return shard_fail(x, "query_shard_exception", "failed to create query: Cannot search on field [%s] since it "
                                                       "is not indexed.", path);
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
            int rc = enc_val(x, path, f, &q->vals[i], 0, NULL, lenient, kbuf, &kl, &key);
            if (rc < 0) {
                hv_free(&acc);
                return false;
            }
            if (rc == 0)
                continue;
            hitv one = {0};
            bool scored = q->type == STORE_Q_TERM;
            bool ok = text ? text_term(x, path, (const char *)key, kl, boost, &one)
                           : exact_term(x, path, key, kl, scored && f->type == STORE_FT_KEYWORD, boost, &one);
            /* terms scores every match alike: collect, then sort once
             * (a union per value would copy the growing list each time). */
            bool merged = ok && (scored ? hv_union(&acc, &one, MERGE_MAX) : hv_append(&acc, &one));
            if (!merged) {
                hv_free(&one);
                hv_free(&acc);
                return ok ? oom_err(x->err) : false;
            }
            hv_free(&one);
        }
        if (q->type == STORE_Q_TERMS)
            hv_norm(&acc, boost);
        hv_free(out);
        *out = acc;
        return true;
    }
    case STORE_Q_RANGE: {
        bool lo_incl = q->lo_incl, hi_incl = q->hi_incl;
        int rl = 1, rh = 1;
        if (q->lo && (rl = enc_val(x, path, f, q->lo, 1, &lo_incl, lenient, kbuf, &kl, &key)) < 0)
            return false;
        if (q->hi && (rh = enc_val(x, path, f, q->hi, -1, &hi_incl, lenient, kbuf2, &kl2, &key2)) < 0)
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
                                 q->hi ? key2 : NULL, q->hi ? kl2 : 0, hi_incl, false, push_val, out))
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
            return shard_fail(x, "query_shard_exception",
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
                return shard_fail(x, "illegal_argument_exception",
                                  "The length of wildcard pattern [%zu] used in the Wildcard Query request has "
                                  "exceeded the allowed maximum of [%d] characters (runs of '*' count once)",
                                  wl, STORE_WILDCARD_MAX_LEN);
            }
        }
        expand e = {.x = x, .kind = q->type == STORE_Q_PREFIX ? 0 : 1, .w = w, .lit = pat, .path = path,
                    .out = out, .text = text};
        e.litn = q->type == STORE_Q_PREFIX ? pn : strcspn(pat, "*?");
        bool ok = run_expand(&e, boost);
        store_wildcard_free(w);
        free(pat);
        return ok;
    }
    case STORE_Q_MATCH:
    case STORE_Q_PHRASE: {
        if (!text) {
            int rc = enc_val(x, path, f, &q->vals[0], 0, NULL, lenient || q->lenient, kbuf, &kl, &key);
            if (rc <= 0)
                return rc == 0;
            return exact_term(x, path, key, kl, f->type == STORE_FT_KEYWORD, boost, out);
        }
        toks t = {0};
        if (!analyze_query(x, q, path, &t)) {
            toks_free(&t);
            return false;
        }
        bool ok = true;
        if (t.n == 0) {
            ok = q->zero_terms_all ? all_docs(x, boost, out) : true;
        } else if (t.n == 1) {
            ok = text_term(x, path, t.v[0], strlen(t.v[0]), boost, out);
        } else if (q->type == STORE_Q_PHRASE) {
            ok = text_phrase(x, path, &t, boost, out);
        } else {
            hitv *lists = calloc(t.n, sizeof *lists);
            ok = lists != NULL;
            for (size_t i = 0; ok && i < t.n; i++)
                ok = text_term(x, path, t.v[i], strlen(t.v[i]), boost, &lists[i]);
            int need = 1;
            if (q->op_and)
                need = (int)t.n;
            else if (q->msm) {
                need = store_query_msm(q->msm, (int)t.n);
                if (need < 1)
                    need = 1;
            }
            if (ok)
                ok = combine_terms(lists, t.n, need, out, x->err);
            for (size_t i = 0; lists && i < t.n; i++)
                hv_free(&lists[i]);
            free(lists);
        }
        toks_free(&t);
        return ok;
    }
    default: return true;
    }
}

/* The fields a multi-field query runs on, "*" patterns expanded. */
static bool expand_fields(ex *x, const store_query *q, name_list *names, float **boosts)
{
    *boosts = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < q->nfields; i++) {
        const char *spec = q->fields[i];
        size_t before = names->n;
        if (is_wild(spec)) {
            for (size_t k = 0; k < x->ix->map.n; k++) {
                const store_field *f = &x->ix->map.fields[k];
                if (f->type == STORE_FT_OBJECT || f->type == STORE_FT_NONE || !f->index)
                    continue;
                if (glob_s(spec, f->path))
                    nl_add(names, f->path);
            }
        } else {
            nl_add(names, spec);
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

static bool ev(ex *x, const store_query *q, hitv *out);

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
        hv_free(&one);
    }
    if (ok && !q->most_fields)
        for (size_t k = 0; k < acc.n; k++)
            acc.v[k].score = (float)(acc.v[k].score + q->tie_breaker * (acc.v[k].aux - acc.v[k].score));
    for (size_t k = 0; k < acc.n; k++)
        acc.v[k].score = (float)acc.v[k].score;
    nl_free(&names);
    free(boosts);
    if (!ok) {
        hv_free(&acc);
        return false;
    }
    hv_free(out);
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
        ok = ev(x, c->q, &one);
        if (c->occur == STORE_OCC_FILTER)
            for (size_t k = 0; k < one.n; k++)
                one.v[k].score = 0;
        if (!have_base) {
            base = one;
            have_base = true;
        } else {
            hv_intersect(&base, &one);
            hv_free(&one);
        }
    }
    for (size_t i = 0; ok && i < q->nclauses; i++) {
        const store_clause *c = &q->clauses[i];
        if (c->occur != STORE_OCC_SHOULD)
            continue;
        hitv one = {0};
        ok = ev(x, c->q, &one);
        for (size_t k = 0; k < one.n; k++)
            one.v[k].cnt = 1;
        if (ok)
            ok = hv_union(&su, &one, MERGE_SUM) || oom_err(x->err);
        hv_free(&one);
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
        ok = all_docs(x, nneg ? 0.0 : 1.0, &base);
    }
    for (size_t i = 0; ok && i < q->nclauses; i++) {
        const store_clause *c = &q->clauses[i];
        if (c->occur != STORE_OCC_MUST_NOT)
            continue;
        hitv one = {0};
        ok = ev(x, c->q, &one);
        hv_minus(&base, &one);
        hv_free(&one);
    }
    hv_free(&su);
    if (!ok) {
        hv_free(&base);
        return false;
    }
    for (size_t k = 0; k < base.n; k++)
        base.v[k].cnt = 1;
    hv_cast(&base, q->boost);
    hv_free(out);
    *out = base;
    return true;
}

static bool ev(ex *x, const store_query *q, hitv *out)
{
    switch (q->type) {
    case STORE_Q_MATCH_ALL: return all_docs(x, q->boost, out);
    case STORE_Q_MATCH_NONE: return true;
    case STORE_Q_IDS:
        for (size_t i = 0; i < q->nvals; i++) {
            store_doc_view v;
            int rc = store_engine_doc_get(x->r, &x->ix->meta, q->vals[i].s, strlen(q->vals[i].s), &v);
            if (rc < 0)
                return storage_err(x->err);
            if (rc == 1 && v.st.exists && !v.st.deleted && !hv_push(out, v.st.seq_no, 0))
                return oom_err(x->err);
        }
        hv_norm(out, q->boost);
        return true;
    case STORE_Q_BOOL: return ev_bool(x, q, out);
    case STORE_Q_CONSTANT:
        if (!ev(x, q->clauses[0].q, out))
            return false;
        for (size_t k = 0; k < out->n; k++)
            out->v[k].score = q->boost;
        return true;
    case STORE_Q_DISMAX: {
        hitv acc = {0};
        for (size_t i = 0; i < q->nclauses; i++) {
            hitv one = {0};
            bool ok = ev(x, q->clauses[i].q, &one);
            for (size_t k = 0; k < one.n; k++)
                one.v[k].aux = one.v[k].score;
            if (ok)
                ok = hv_union(&acc, &one, MERGE_MAX) || oom_err(x->err);
            hv_free(&one);
            if (!ok) {
                hv_free(&acc);
                return false;
            }
        }
        for (size_t k = 0; k < acc.n; k++)
            acc.v[k].score =
                (float)((float)(acc.v[k].score + q->tie_breaker * (acc.v[k].aux - acc.v[k].score)) * q->boost);
        hv_free(out);
        *out = acc;
        return true;
    }
    default:
        if (q->field)
            return ev_field(x, q, q->field, q->boost, q->lenient, out);
        return ev_multi(x, q, out);
    }
}

/* ---- number rendering (Java's shortest round-trip forms) ------------------------------ */

static void jint(buf *b, int64_t v) { buf_printf(b, "%" PRId64, v); }

static void jdouble(buf *b, double d)
{
    if (!isfinite(d)) {
        buf_puts(b, "null");
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    buf_puts(b, tmp);
    if (!strpbrk(tmp, ".eEn"))
        buf_puts(b, ".0");
}

static void jfloat(buf *b, float f)
{
    if (!isfinite(f)) {
        buf_puts(b, "null");
        return;
    }
    char tmp[40];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, (double)f);
        if (strtof(tmp, NULL) == f)
            break;
    }
    buf_puts(b, tmp);
    if (!strpbrk(tmp, ".eEn"))
        buf_puts(b, ".0");
}

static void jstrn(buf *b, const char *s, size_t n) { buf_put_json_string(b, s, n); }
static void jstr(buf *b, const char *s) { buf_put_json_string(b, s, strlen(s)); }

/* ---- the request ------------------------------------------------------------------------ */

typedef enum { SK_SCORE, SK_DOC, SK_ID, SK_FIELD } skind;

typedef struct skey {
    skind kind;
    char *field;
    bool desc;
    bool missing_first;
    int mode;             /* 0 by order, 1 min, 2 max */
    char *unmapped_type;  /* sort on a field unmapped in an index: all missing there */
} skey;

typedef enum { AG_TERMS, AG_AVG, AG_MIN, AG_MAX, AG_SUM, AG_COUNT } agtype;

typedef struct agg {
    char *name;
    agtype t;
    char *field;
    int64_t size, min_doc_count;
    int order; /* 0 _count desc, 1 _count asc, 2 _key asc, 3 _key desc */
    struct agg *subs;
    size_t nsubs;
} agg;

typedef struct sreq {
    store_query *query, *post_filter;
    int64_t from, size;
    bool from_given;
    skey *keys;
    size_t nkeys;
    cJSON *after;
    store_srcfilter src;
    bool version, seqno, track_scores;
    int64_t track; /* -1: not tracked */
    bool track_exact;
    int64_t terminate_after;
    bool has_min_score;
    float min_score;
    agg *aggs;
    size_t naggs;
    bool scroll;
    int64_t keep_ms;
    bool rest_total_int, typed_keys;
    bool ignore_unavailable, allow_no_indices;
    int64_t timeout_ms; /* `timeout`: -1 none, -2 not given (the server's default applies) */
    bool allow_partial; /* allow_partial_search_results: a timed-out search answers what it has */
} sreq;

static void aggs_free(agg *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].field);
        aggs_free(a[i].subs, a[i].nsubs);
    }
    free(a);
}

static void sreq_free(sreq *q)
{
    store_query_free(q->query);
    store_query_free(q->post_filter);
    for (size_t i = 0; i < q->nkeys; i++) {
        free(q->keys[i].field);
        free(q->keys[i].unmapped_type);
    }
    free(q->keys);
    cJSON_Delete(q->after);
    store_srcfilter_free(&q->src);
    aggs_free(q->aggs, q->naggs);
    memset(q, 0, sizeof *q);
}

static const char *param(const store_search_req *r, const char *key)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].key, key) == 0)
            return r->params[i].value;
    return NULL;
}

static bool param_bool(const store_search_req *r, const char *key, bool dflt)
{
    const char *v = param(r, key);
    if (!v)
        return dflt;
    return strcmp(v, "") == 0 || strcmp(v, "true") == 0;
}

static const char *token_name(const cJSON *v)
{
    if (cJSON_IsObject(v))
        return "START_OBJECT";
    if (cJSON_IsArray(v))
        return "START_ARRAY";
    if (cJSON_IsString(v))
        return "VALUE_STRING";
    if (cJSON_IsNumber(v))
        return "VALUE_NUMBER";
    if (cJSON_IsBool(v))
        return "VALUE_BOOLEAN";
    return "VALUE_NULL";
}

static bool count_val(const cJSON *v, const char *name, int64_t *out, store_error *err)
{
    double d;
    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (cJSON_IsString(v) && store_json_parse_long(v->valuestring, strlen(v->valuestring), out))
        d = (double)*out;
    else
        return seterr(err, 400, "parsing_exception", "[%s] must be a number", name);
    if (d != floor(d) || d < -1e15 || d > 1e15)
        return seterr(err, 400, "parsing_exception", "[%s] must be an integer", name);
    *out = (int64_t)d;
    return true;
}

static bool long_param(const store_search_req *r, const char *key, int64_t *out, store_error *err)
{
    const char *v = param(r, key);
    if (!v)
        return true;
    if (store_json_parse_long(v, strlen(v), out))
        return true;
    return seterr(err, 400, "illegal_argument_exception", "Failed to parse int parameter [%s] with value [%s]", key,
                  v);
}

static bool add_key(sreq *q, skey k, store_error *err)
{
    skey *nk = realloc(q->keys, (q->nkeys + 1) * sizeof *nk);
    if (!nk) {
        free(k.field);
        free(k.unmapped_type);
        return oom_err(err);
    }
    q->keys = nk;
    q->keys[q->nkeys++] = k;
    return true;
}

static bool order_val(const char *s, bool *desc, store_error *err)
{
    if (strcasecmp(s, "asc") == 0)
        return *desc = false, true;
    if (strcasecmp(s, "desc") == 0)
        return *desc = true, true;
    return seterr(err, 400, "illegal_argument_exception", "Unknown SortOrder [%s]", s);
}

/* One sort key by name, with the defaults Elasticsearch gives it. */
static bool key_named(const char *name, skey *k, store_error *err)
{
    memset(k, 0, sizeof *k);
    if (strcmp(name, "_score") == 0)
        k->kind = SK_SCORE, k->desc = true;
    else if (strcmp(name, "_doc") == 0)
        k->kind = SK_DOC;
    else if (strcmp(name, "_id") == 0)
        k->kind = SK_ID;
    else if (strcmp(name, "_geo_distance") == 0 || strcmp(name, "_script") == 0)
        return seterr(err, 400, "illegal_argument_exception", "verstore does not support sorting by [%s]", name);
    else {
        k->kind = SK_FIELD;
        if (!(k->field = strdup(name)))
            return oom_err(err);
    }
    return true;
}

static bool sort_entry(sreq *q, const cJSON *e, store_error *err)
{
    skey k;
    if (cJSON_IsString(e)) {
        const char *s = e->valuestring;
        return key_named(s, &k, err) && add_key(q, k, err);
    }
    if (!cJSON_IsObject(e) || !e->child || e->child->next)
        return seterr(err, 400, "parsing_exception", "malformed sort format, within the sort array, an object, or an "
                                                     "actual string are allowed");
    const cJSON *o = e->child;
    if (!key_named(o->string, &k, err))
        return false;
    bool ok = true;
    if (cJSON_IsString(o)) {
        ok = order_val(o->valuestring, &k.desc, err);
    } else if (cJSON_IsObject(o)) {
        for (const cJSON *it = o->child; ok && it; it = it->next) {
            const char *n = it->string;
            if (strcmp(n, "order") == 0)
                ok = cJSON_IsString(it) ? order_val(it->valuestring, &k.desc, err)
                                        : seterr(err, 400, "parsing_exception", "[order] must be a string");
            else if (strcmp(n, "missing") == 0) {
                if (cJSON_IsString(it) && strcmp(it->valuestring, "_first") == 0)
                    k.missing_first = true;
                else if (cJSON_IsString(it) && strcmp(it->valuestring, "_last") == 0)
                    k.missing_first = false;
                else
                    ok = seterr(err, 400, "illegal_argument_exception",
                                "verstore supports only _first and _last as [missing] in sort");
            } else if (strcmp(n, "mode") == 0) {
                const char *m = cJSON_IsString(it) ? it->valuestring : "?";
                if (strcmp(m, "min") == 0)
                    k.mode = 1;
                else if (strcmp(m, "max") == 0)
                    k.mode = 2;
                else
                    ok = seterr(err, 400, "illegal_argument_exception",
                                "verstore supports only min and max as sort [mode], not [%s]", m);
            } else if (strcmp(n, "unmapped_type") == 0) {
                free(k.unmapped_type);
                ok = cJSON_IsString(it) && (k.unmapped_type = strdup(it->valuestring)) != NULL;
                if (!ok)
                    seterr(err, 400, "parsing_exception", "[unmapped_type] must be a string");
            } else if (strcmp(n, "numeric_type") == 0 || strcmp(n, "format") == 0) {
                /* ES converts numbers between field types; values here already compare as numbers */
            } else
                ok = seterr(err, 400, "illegal_argument_exception", "verstore does not support [%s] in sort", n);
        }
    } else {
        ok = seterr(err, 400, "parsing_exception", "malformed sort format for [%s]", o->string);
    }
    if (!ok) {
        free(k.field);
        free(k.unmapped_type);
        return false;
    }
    return add_key(q, k, err);
}

/* ?sort=a,b:desc */
static bool sort_param(sreq *q, const char *s, store_error *err)
{
    while (*s) {
        size_t n = strcspn(s, ",");
        char tok[512];
        snprintf(tok, sizeof tok, "%.*s", (int)(n < sizeof tok ? n : sizeof tok - 1), s);
        s += n + (s[n] == ',');
        if (!tok[0])
            continue;
        char *colon = strrchr(tok, ':');
        bool desc = false, has_order = false;
        if (colon) {
            *colon = '\0';
            if (!order_val(colon + 1, &desc, err))
                return false;
            has_order = true;
        }
        skey k;
        if (!key_named(tok, &k, err))
            return false;
        if (has_order)
            k.desc = desc;
        if (!add_key(q, k, err))
            return false;
    }
    return true;
}

static const char *const es_aggs[] = {
    "date_histogram", "histogram", "range", "date_range", "ip_range", "filter", "filters", "cardinality", "stats",
    "extended_stats", "percentiles", "percentile_ranks", "top_hits", "nested", "reverse_nested", "composite",
    "significant_terms", "significant_text", "geo_bounds", "geo_centroid", "geohash_grid", "geotile_grid",
    "missing", "global", "sampler", "diversified_sampler", "adjacency_matrix", "auto_date_histogram",
    "variable_width_histogram", "rare_terms", "multi_terms", "scripted_metric", "weighted_avg", "median_absolute_deviation",
    "string_stats", "boxplot", "t_test", "top_metrics", "matrix_stats", "bucket_script", "bucket_selector",
    "bucket_sort", "avg_bucket", "max_bucket", "min_bucket", "sum_bucket", "stats_bucket", "cumulative_sum",
    "derivative", "moving_fn", "serial_diff", "random_sampler", "categorize_text", "frequent_item_sets", NULL};

static bool in_list(const char *k, const char *const *l)
{
    for (; *l; l++)
        if (strcmp(*l, k) == 0)
            return true;
    return false;
}

static bool parse_aggs(const cJSON *o, agg **out, size_t *nout, int depth, store_error *err);

static bool parse_agg(const cJSON *def, agg *a, int depth, store_error *err)
{
    if (!(a->name = strdup(def->string)))
        return oom_err(err);
    if (!cJSON_IsObject(def))
        return seterr(err, 400, "parsing_exception", "Expected [START_OBJECT] under [%s], but got a [%s] in [%s]",
                      def->string, token_name(def), def->string);
    const cJSON *body = NULL, *subs = NULL;
    for (const cJSON *it = def->child; it; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "aggs") == 0 || strcmp(k, "aggregations") == 0) {
            subs = it;
            continue;
        }
        if (strcmp(k, "meta") == 0)
            return seterr(err, 400, "illegal_argument_exception", "verstore does not support [meta] on aggregations");
        if (body)
            return seterr(err, 400, "parsing_exception",
                          "Found two aggregation type definitions in [%s]: [%s] and [%s]", a->name, body->string, k);
        body = it;
    }
    if (!body)
        return seterr(err, 400, "parsing_exception", "Missing definition for aggregation [%s]", a->name);
    const char *t = body->string;
    if (strcmp(t, "terms") == 0)
        a->t = AG_TERMS;
    else if (strcmp(t, "avg") == 0)
        a->t = AG_AVG;
    else if (strcmp(t, "min") == 0)
        a->t = AG_MIN;
    else if (strcmp(t, "max") == 0)
        a->t = AG_MAX;
    else if (strcmp(t, "sum") == 0)
        a->t = AG_SUM;
    else if (strcmp(t, "value_count") == 0)
        a->t = AG_COUNT;
    else if (in_list(t, es_aggs))
        return seterr(err, 400, "illegal_argument_exception", "verstore does not support the [%s] aggregation (in [%s])",
                      t, a->name);
    else
        return seterr(err, 400, "parsing_exception", "Unknown aggregation type [%s]", t);
    a->size = 10;
    a->min_doc_count = 1;
    if (!cJSON_IsObject(body))
        return seterr(err, 400, "parsing_exception", "[%s] aggregation [%s] must be an object", t, a->name);
    for (const cJSON *it = body->child; it; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "field") == 0) {
            if (!cJSON_IsString(it))
                return seterr(err, 400, "parsing_exception", "[field] must be a string in [%s]", a->name);
            free(a->field);
            if (!(a->field = strdup(it->valuestring)))
                return oom_err(err);
        } else if (a->t == AG_TERMS && strcmp(k, "size") == 0) {
            if (!count_val(it, "size", &a->size, err))
                return false;
            if (a->size <= 0)
                return seterr(err, 400, "illegal_argument_exception", "[size] must be greater than 0. Found [%" PRId64
                                                                      "] in [%s]", a->size, a->name);
        } else if (a->t == AG_TERMS && strcmp(k, "min_doc_count") == 0) {
            if (!count_val(it, "min_doc_count", &a->min_doc_count, err))
                return false;
            if (a->min_doc_count < 1)
                return seterr(err, 400, "illegal_argument_exception",
                              "verstore does not support [min_doc_count] below 1 in [terms] aggregations");
        } else if (a->t == AG_TERMS && strcmp(k, "order") == 0) {
            const cJSON *o = cJSON_IsArray(it) && cJSON_GetArraySize(it) == 1 ? it->child : it;
            if (!cJSON_IsObject(o) || !o->child || o->child->next || !cJSON_IsString(o->child))
                return seterr(err, 400, "illegal_argument_exception",
                              "verstore supports one [order] of _count or _key in [terms] aggregations");
            bool desc;
            if (!order_val(o->child->valuestring, &desc, err))
                return false;
            if (strcmp(o->child->string, "_count") == 0)
                a->order = desc ? 0 : 1;
            else if (strcmp(o->child->string, "_key") == 0 || strcmp(o->child->string, "_term") == 0)
                a->order = desc ? 3 : 2;
            else
                return seterr(err, 400, "illegal_argument_exception",
                              "verstore supports only _count and _key as [order] in [terms] aggregations, not [%s]",
                              o->child->string);
        } else if (a->t == AG_TERMS && (strcmp(k, "shard_size") == 0 || strcmp(k, "execution_hint") == 0 ||
                                        strcmp(k, "collect_mode") == 0 ||
                                        strcmp(k, "show_term_doc_count_error") == 0 ||
                                        strcmp(k, "shard_min_doc_count") == 0)) {
            /* one shard: nothing to tune */
        } else if (strcmp(k, "format") == 0) {
        } else {
            return seterr(err, 400, "illegal_argument_exception", "verstore does not support [%s] in the [%s] aggregation [%s]",
                          k, t, a->name);
        }
    }
    if (!a->field)
        return seterr(err, 400, "illegal_argument_exception",
                      "verstore needs a [field] in the [%s] aggregation [%s] (scripts are not supported)", t,
                      a->name);
    if (subs) {
        if (a->t != AG_TERMS)
            return seterr(err, 400, "aggregation_initialization_exception",
                          "Aggregator [%s] of type [%s] cannot accept sub-aggregations", a->name, t);
        return parse_aggs(subs, &a->subs, &a->nsubs, depth + 1, err);
    }
    return true;
}

static bool parse_aggs(const cJSON *o, agg **out, size_t *nout, int depth, store_error *err)
{
    if (depth > 16)
        return seterr(err, 400, "illegal_argument_exception", "aggregations nested deeper than 16 levels");
    if (!cJSON_IsObject(o))
        return seterr(err, 400, "parsing_exception", "Expected [START_OBJECT] under [%s], but got a [%s]", o->string,
                      token_name(o));
    size_t n = (size_t)cJSON_GetArraySize(o);
    agg *a = calloc(n ? n : 1, sizeof *a);
    if (!a)
        return oom_err(err);
    *out = a;
    *nout = n;
    size_t i = 0;
    for (const cJSON *it = o->child; it; it = it->next, i++)
        if (!parse_agg(it, &a[i], depth, err))
            return false;
    return true;
}

/* A search's `timeout` (body or URL): Elasticsearch's time value, -1 none. */
static bool timeout_val(const char *s, int64_t *ms, store_error *err)
{
    if (!store_util_parse_time_ms(s, ms))
        return seterr(err, 400, "parse_exception",
                      "failed to parse setting [timeout] with value [%s] as a time value: unit is missing or "
                      "unrecognized",
                      s);
    return true;
}

static bool keep_alive(const char *s, int64_t *ms, store_error *err)
{
    if (!store_util_parse_time_ms(s, ms) || *ms < 0)
        return seterr(err, 400, "illegal_argument_exception",
                      "failed to parse setting [scroll] with value [%s] as a time value: unit is missing or "
                      "unrecognized",
                      s);
    if (*ms > MAX_KEEP_ALIVE_MS)
        return seterr(err, 400, "illegal_argument_exception",
                      "Keep alive for request (%s) is too large. It must be less than (1d). This limit can be set by "
                      "changing the [search.max_keep_alive] cluster level setting.",
                      s);
    return true;
}

static bool qs_param(const store_search_req *r, store_query **out, store_error *err)
{
    const char *q = param(r, "q");
    if (!q)
        return true;
    const char *df = param(r, "df");
    const char *op = param(r, "default_operator");
    const char *an = param(r, "analyzer");
    if (an && strcmp(an, "standard") != 0 && strcmp(an, "default") != 0)
        return seterr(err, 400, "illegal_argument_exception", "verstore supports only the standard analyzer, not [%s]",
                      an);
    bool op_and = false;
    if (op && strcasecmp(op, "and") == 0)
        op_and = true;
    else if (op && strcasecmp(op, "or") != 0)
        return seterr(err, 400, "illegal_argument_exception", "operator needs to be either [and, or], but not [%s]",
                      op);
    const char *fields[1] = {df};
    store_query_free(*out);
    *out = store_query_parse_string(q, fields, df ? 1 : 0, op_and, param_bool(r, "lenient", false), err);
    return *out != NULL;
}

/* The body and parameters of _search (count: those of _count). */
static bool parse_request(const store_search_req *r, bool count, sreq *q, store_error *err)
{
    memset(q, 0, sizeof *q);
    q->timeout_ms = -2;
    q->size = 10;
    q->track = TRACK_DEFAULT;
    q->ignore_unavailable = param_bool(r, "ignore_unavailable", false);
    q->allow_no_indices = param_bool(r, "allow_no_indices", true);
    const cJSON *body = r->body;
    if (body && !cJSON_IsObject(body))
        return seterr(err, 400, "parsing_exception", "request body or source parameter is required");
    for (const cJSON *it = body ? body->child : NULL; it; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "query") == 0) {
            store_query_free(q->query);
            if (!(q->query = store_query_parse(it, err)))
                return false;
        } else if (count) {
            return seterr(err, 400, "parsing_exception", "request does not support [%s]", k);
        } else if (strcmp(k, "post_filter") == 0) {
            store_query_free(q->post_filter);
            if (!(q->post_filter = store_query_parse(it, err)))
                return false;
        } else if (strcmp(k, "from") == 0) {
            if (!count_val(it, k, &q->from, err))
                return false;
            q->from_given = true;
        } else if (strcmp(k, "size") == 0) {
            if (!count_val(it, k, &q->size, err))
                return false;
        } else if (strcmp(k, "sort") == 0) {
            if (cJSON_IsArray(it)) {
                const cJSON *e;
                cJSON_ArrayForEach(e, it) if (!sort_entry(q, e, err)) return false;
            } else if (!sort_entry(q, it, err))
                return false;
        } else if (strcmp(k, "search_after") == 0) {
            if (!cJSON_IsArray(it))
                return seterr(err, 400, "parsing_exception", "[search_after] must be an array");
            cJSON_Delete(q->after);
            if (!(q->after = cJSON_Duplicate(it, true)))
                return oom_err(err);
        } else if (strcmp(k, "_source") == 0) {
            store_srcfilter_free(&q->src);
            store_srcfilter_from_json(it, &q->src);
        } else if (strcmp(k, "version") == 0) {
            q->version = cJSON_IsTrue(it);
        } else if (strcmp(k, "seq_no_primary_term") == 0) {
            q->seqno = cJSON_IsTrue(it);
        } else if (strcmp(k, "track_scores") == 0) {
            q->track_scores = cJSON_IsTrue(it);
        } else if (strcmp(k, "track_total_hits") == 0) {
            if (cJSON_IsFalse(it))
                q->track = -1;
            else if (cJSON_IsTrue(it))
                q->track_exact = true;
            else if (!count_val(it, k, &q->track, err))
                return false;
            else if (q->track < 0)
                return seterr(err, 400, "illegal_argument_exception",
                              "[track_total_hits] parameter must be positive or equals to -1, got %" PRId64, q->track);
        } else if (strcmp(k, "terminate_after") == 0) {
            if (!count_val(it, k, &q->terminate_after, err))
                return false;
            if (q->terminate_after < 0)
                return seterr(err, 400, "illegal_argument_exception", "terminateAfter must be > 0");
        } else if (strcmp(k, "min_score") == 0) {
            if (!cJSON_IsNumber(it))
                return seterr(err, 400, "parsing_exception", "[min_score] must be a number");
            q->has_min_score = true;
            q->min_score = (float)it->valuedouble;
        } else if (strcmp(k, "aggs") == 0 || strcmp(k, "aggregations") == 0) {
            aggs_free(q->aggs, q->naggs);
            q->aggs = NULL;
            q->naggs = 0;
            if (!parse_aggs(it, &q->aggs, &q->naggs, 0, err))
                return false;
        } else if (strcmp(k, "stored_fields") == 0) {
            /* verstore has no stored fields but _source; "*" and _none_ are what tools send */
            if (cJSON_IsString(it) && strcmp(it->valuestring, "_none_") == 0)
                q->src.none = true;
        } else if (strcmp(k, "explain") == 0 || strcmp(k, "profile") == 0) {
            if (cJSON_IsTrue(it))
                return seterr(err, 400, "illegal_argument_exception", "verstore does not support [%s]", k);
        } else if (strcmp(k, "docvalue_fields") == 0 || strcmp(k, "fields") == 0 || strcmp(k, "script_fields") == 0) {
            if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > 0 || strcmp(k, "script_fields") == 0)
                return seterr(err, 400, "illegal_argument_exception",
                              "verstore does not support [%s]; read values from _source", k);
        } else if (strcmp(k, "timeout") == 0) {
            char text[64];
            if (cJSON_IsString(it))
                snprintf(text, sizeof text, "%.63s", it->valuestring);
            else if (cJSON_IsNumber(it))
                snprintf(text, sizeof text, "%.17g", it->valuedouble);
            else
                return seterr(err, 400, "parsing_exception", "[timeout] must be a time value such as \"500ms\"");
            if (!timeout_val(text, &q->timeout_ms, err))
                return false;
        } else if (strcmp(k, "stats") == 0 || strcmp(k, "indices_boost") == 0 || strcmp(k, "_name") == 0) {
            if (strcmp(k, "indices_boost") == 0)
                return seterr(err, 400, "illegal_argument_exception", "verstore does not support [indices_boost]");
        } else if (strcmp(k, "highlight") == 0 || strcmp(k, "suggest") == 0 || strcmp(k, "collapse") == 0 ||
                   strcmp(k, "rescore") == 0 || strcmp(k, "runtime_mappings") == 0 || strcmp(k, "pit") == 0 ||
                   strcmp(k, "knn") == 0 || strcmp(k, "slice") == 0 || strcmp(k, "ext") == 0 ||
                   strcmp(k, "rank") == 0 || strcmp(k, "sub_searches") == 0 || strcmp(k, "retriever") == 0) {
            return seterr(err, 400, "illegal_argument_exception", "verstore does not support [%s] in searches", k);
        } else {
            return seterr(err, 400, "parsing_exception", "Unknown key for a %s in [%s].", token_name(it), k);
        }
    }
    /* URL parameters win over the body, as in RestSearchAction. */
    if (!qs_param(r, &q->query, err))
        return false;
    if (!long_param(r, "terminate_after", &q->terminate_after, err))
        return false;
    if (count) {
        /* RestCountAction's ?min_score: counts only documents scoring at least that */
        const char *ms = param(r, "min_score");
        if (ms) {
            char *end;
            double d = strtod(ms, &end);
            if (!*ms || *end || !isfinite(d))
                return seterr(err, 400, "illegal_argument_exception",
                              "Failed to parse float parameter [min_score] with value [%s]", ms);
            q->has_min_score = true;
            q->min_score = (float)d;
        }
        return true;
    }
    const char *pt = param(r, "timeout");
    if (pt && !timeout_val(pt, &q->timeout_ms, err))
        return false;
    q->allow_partial = param_bool(r, "allow_partial_search_results", true);
    if (param(r, "from"))
        q->from_given = true;
    if (!long_param(r, "from", &q->from, err) || !long_param(r, "size", &q->size, err))
        return false;
    if (q->from < 0)
        return seterr(err, 400, "illegal_argument_exception", "[from] parameter cannot be negative, found [%" PRId64 "]",
                      q->from);
    if (q->size < 0)
        return seterr(err, 400, "illegal_argument_exception", "[size] parameter cannot be negative, found [%" PRId64 "]",
                      q->size);
    const char *ps = param(r, "sort");
    if (ps) {
        for (size_t i = 0; i < q->nkeys; i++) {
            free(q->keys[i].field);
            free(q->keys[i].unmapped_type);
        }
        q->nkeys = 0;
        if (!sort_param(q, ps, err))
            return false;
    }
    if (param(r, "_source") || param(r, "_source_includes") || param(r, "_source_excludes")) {
        store_srcfilter_free(&q->src);
        store_srcfilter_from_params(&q->src, param(r, "_source"), param(r, "_source_includes"),
                                    param(r, "_source_excludes"));
    }
    const char *sf = param(r, "stored_fields");
    if (sf && strcmp(sf, "_none_") == 0)
        q->src.none = true;
    if (param(r, "version"))
        q->version = param_bool(r, "version", false);
    if (param(r, "seq_no_primary_term"))
        q->seqno = param_bool(r, "seq_no_primary_term", false);
    if (param(r, "track_scores"))
        q->track_scores = param_bool(r, "track_scores", false);
    const char *tt = param(r, "track_total_hits");
    if (tt) {
        if (strcmp(tt, "false") == 0)
            q->track = -1;
        else if (strcmp(tt, "true") == 0 || !tt[0])
            q->track_exact = true;
        else if (!store_json_parse_long(tt, strlen(tt), &q->track) || q->track < 0)
            return seterr(err, 400, "illegal_argument_exception", "Failed to parse int parameter [track_total_hits] "
                                                                  "with value [%s]", tt);
    }
    q->rest_total_int = param_bool(r, "rest_total_hits_as_int", false);
    q->typed_keys = param_bool(r, "typed_keys", false);
    if (param_bool(r, "explain", false))
        return seterr(err, 400, "illegal_argument_exception", "verstore does not support [explain]");
    const char *dv = param(r, "docvalue_fields");
    if (dv && *dv)
        return seterr(err, 400, "illegal_argument_exception", "verstore does not support [docvalue_fields]; read "
                                                              "values from _source");
    const char *st = param(r, "search_type");
    if (st && strcmp(st, "query_then_fetch") != 0 && strcmp(st, "dfs_query_then_fetch") != 0)
        return seterr(err, 400, "illegal_argument_exception", "No search type for [%s]", st);
    if (param(r, "suggest_field") || param(r, "suggest_text"))
        return seterr(err, 400, "illegal_argument_exception", "verstore does not support suggesters");
    const char *scroll = param(r, "scroll");
    if (scroll) {
        if (!keep_alive(scroll, &q->keep_ms, err))
            return false;
        q->scroll = true;
        if (q->from_given && q->from > 0)
            return seterr(err, 400, "action_request_validation_exception",
                          "Validation Failed: 1: using [from] is not allowed in a scroll context;");
        if (q->after)
            return seterr(err, 400, "action_request_validation_exception",
                          "Validation Failed: 1: [search_after] cannot be used in a scroll context;");
    }
    if (q->after && !q->nkeys)
        return seterr(err, 400, "action_request_validation_exception",
                      "Validation Failed: 1: [search_after] requires sort to be set;");
    if (q->after && cJSON_GetArraySize(q->after) != (int)q->nkeys)
        return seterr(err, 400, "illegal_argument_exception",
                      "search_after has %d value(s) but sort has %zu.", cJSON_GetArraySize(q->after), q->nkeys);
    if (q->after && q->from_given && q->from > 0)
        return seterr(err, 400, "action_request_validation_exception",
                      "Validation Failed: 1: [from] parameter must be set to 0 when [search_after] is used;");
    return true;
}

/* ---- collected hits, sort values ----------------------------------------------------------- */

typedef struct sval {
    uint8_t kind; /* 0 missing, 1 integer, 2 double, 3 bytes */
    int64_t l;
    double d;
    char *s;
    size_t n;
} sval;

typedef struct rh {
    uint32_t ix;
    int64_t seq;
    float score;
    sval *sv; /* nkeys values */
    char *id; /* SK_ID sorts and scroll contexts */
    size_t idn;
} rh;

typedef struct sorter {
    const skey *keys;
    size_t nkeys;
    bool keys_only; /* search_after: compare the sort values, no tie-break */
} sorter;

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
        return bytes_cmp(a->s, a->n, b->s, b->n);
    }
    return num_cmp(a, b);
}

static int rh_cmp(const void *x, const void *y, void *arg)
{
    const rh *a = x, *b = y;
    const sorter *s = arg;
    for (size_t k = 0; k < s->nkeys; k++) {
        const skey *key = &s->keys[k];
        int c = 0;
        switch (key->kind) {
        case SK_SCORE: c = a->score < b->score ? -1 : a->score > b->score; break;
        case SK_DOC:
            if (!s->keys_only && a->ix != b->ix)
                c = a->ix < b->ix ? -1 : 1;
            else
                c = a->seq < b->seq ? -1 : a->seq > b->seq;
            break;
        case SK_ID: c = bytes_cmp(a->id ? a->id : "", a->idn, b->id ? b->id : "", b->idn); break;
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

static void rh_swap(rh *a, rh *b)
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
        if (l < n && rh_cmp(&h[l], &h[big], (void *)so) > 0)
            big = l;
        if (l + 1 < n && rh_cmp(&h[l + 1], &h[big], (void *)so) > 0)
            big = l + 1;
        if (big == i)
            return;
        rh_swap(&h[i], &h[big]);
        i = big;
    }
}

/* Put the first k of hits[0..n) in `so` order, sorted, at hits[0..k); the
 * others stay behind them in no order (they still own their ids and are
 * freed with the array). The tie-break on (index, seq) makes `so` a total
 * order, so the page is exactly the one a full sort gives, at n·log k
 * rather than n·log n: a size-10 page of 100,000 hits sorts 10, not all. */
static void top_k(rh *hits, size_t n, size_t k, const sorter *so)
{
    if (k >= n) {
        qsort_r(hits, n, sizeof *hits, rh_cmp, (void *)so);
        return;
    }
    if (!k)
        return;
    for (size_t i = k / 2; i-- > 0;)
        heap_down(hits, k, i, so);
    for (size_t i = k; i < n; i++)
        if (rh_cmp(&hits[i], &hits[0], (void *)so) < 0) {
            rh_swap(&hits[i], &hits[0]);
            heap_down(hits, k, 0, so);
        }
    qsort_r(hits, k, sizeof *hits, rh_cmp, (void *)so);
}

typedef struct svctx {
    rh *hits; /* this index's hits, in seq order */
    size_t m, key, nkeys;
    store_ftype ft;
    size_t left;
    bool oom;
} svctx;

static bool on_sort_val(const void *val, size_t len, int64_t seq, void *arg)
{
    svctx *c = arg;
    size_t lo = 0, hi = c->m;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->hits[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= c->m || c->hits[lo].seq != seq)
        return true;
    sval *v = &c->hits[lo].sv[c->key];
    if (v->kind)
        return true; /* the first value met is the min (ascending walk) or max */
    switch (c->ft) {
    case STORE_FT_LONG:
    case STORE_FT_DATE:
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
static bool sort_values(ex *x, const skey *key, size_t k, size_t nkeys, rh *hits, size_t m)
{
    const store_field *f = store_mapping_find(&x->ix->map, key->field);
    if (!f || f->type == STORE_FT_OBJECT || f->type == STORE_FT_NONE) {
        if (key->unmapped_type)
            return true;
        return shard_fail(x, "query_shard_exception", "No mapping found for [%s] in order to sort on", key->field);
    }
    if (f->type == STORE_FT_TEXT)
        return fielddata_err(x, key->field);
    bool walk_desc = key->mode == 2 || (key->mode == 0 && key->desc);
    svctx c = {hits, m, k, nkeys, f->type, m, false};
    if (m && !store_engine_values(x->r, &x->ix->meta, key->field, NULL, 0, true, NULL, 0, true, walk_desc,
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
        if (f->type == STORE_FT_LONG || f->type == STORE_FT_DATE || f->type == STORE_FT_BOOLEAN)
            v->kind = 1, v->l = high ? INT64_MAX : INT64_MIN;
        else if (f->type == STORE_FT_DOUBLE)
            v->kind = 2, v->d = high ? INFINITY : -INFINITY;
    }
    return true;
}

static bool fetch_id(store_rtxn *r, const sidx *ix, rh *h)
{
    const char *id;
    size_t n;
    store_doc_view v;
    int rc = store_engine_doc_by_seq(r, &ix->meta, h->seq, &id, &n, &v);
    if (rc < 0)
        return false;
    if (rc == 0) {
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
static bool after_err(store_error *err, const char *field)
{
    return seterr(err, 400, "illegal_argument_exception", "Failed to parse search_after value for field [%s].", field);
}

/* search_after's values as a pseudo-hit. */
static bool after_hit(const sreq *q, const sidx *ix, size_t nix, rh *out, store_error *err)
{
    const cJSON *v = q->after->child;
    for (size_t k = 0; k < q->nkeys; k++, v = v->next) {
        const skey *key = &q->keys[k];
        sval *sv = &out->sv[k];
        switch (key->kind) {
        case SK_SCORE:
            if (!cJSON_IsNumber(v))
                return after_err(err, "_score");
            out->score = (float)v->valuedouble;
            break;
        case SK_DOC:
            if (!cJSON_IsNumber(v))
                return after_err(err, "_doc");
            out->seq = (int64_t)v->valuedouble;
            break;
        case SK_ID:
            if (!cJSON_IsString(v))
                return after_err(err, "_id");
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
            else if (cJSON_IsBool(v))
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
                else if ((ft == STORE_FT_LONG || ft == STORE_FT_DATE) && store_json_parse_long(s, strlen(s), &l))
                    sv->kind = 1, sv->l = l;
                else if (ft == STORE_FT_DOUBLE && (sv->d = strtod(s, &e), !*e && *s))
                    sv->kind = 2;
                else if (ft == STORE_FT_BOOLEAN && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
                    sv->kind = 1, sv->l = strcmp(s, "true") == 0;
                else
                    sv->kind = 3, sv->s = (char *)s, sv->n = strlen(s);
            } else
                return after_err(err, key->field);
            break;
        }
        }
    }
    return true;
}

static void put_sort(buf *b, const sreq *q, const rh *h)
{
    buf_puts(b, "[");
    for (size_t k = 0; k < q->nkeys; k++) {
        if (k)
            buf_putc(b, ',');
        switch (q->keys[k].kind) {
        case SK_SCORE: jfloat(b, h->score); break;
        case SK_DOC: jint(b, h->seq); break;
        case SK_ID: jstrn(b, h->id ? h->id : "", h->idn); break;
        case SK_FIELD: {
            const sval *v = &h->sv[k];
            if (v->kind == 1)
                jint(b, v->l);
            else if (v->kind == 2)
                jdouble(b, v->d);
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

static bool scored(const sreq *q)
{
    if (!q->nkeys || q->track_scores)
        return true;
    for (size_t k = 0; k < q->nkeys; k++)
        if (q->keys[k].kind == SK_SCORE)
            return true;
    return false;
}

/* One hit object; `sort` is the rendered sort array or NULL. */
static void put_hit(buf *b, const char *index, const char *id, size_t idn, const store_doc_view *v, const sreq *q,
                    bool with_score, float score, const char *sort, size_t sortn)
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
        jfloat(b, score);
    else
        buf_puts(b, "null");
    if (!q->src.none && !v->source_disabled) {
        buf_puts(b, ",\"_source\":");
        store_srcfilter_put(b, v->src, v->src_len, &q->src);
    }
    if (sort) {
        buf_puts(b, ",\"sort\":");
        buf_append(b, sort, sortn);
    }
    buf_putc(b, '}');
}

static void put_total(buf *b, const sreq *q, int64_t total)
{
    if (q->track < 0)
        return;
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

static void put_head(buf *b, const char *scroll_id, int64_t took, int terminated, size_t shards)
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
    buf_printf(b, "\"_shards\":{\"total\":%zu,\"successful\":%zu,\"skipped\":0,\"failed\":0},", shards, shards);
}

/* ---- aggregations ------------------------------------------------------------------------ */

static bool bit_get(const unsigned char *bits, int64_t next, int64_t seq)
{
    return seq >= 0 && seq < next && (bits[seq >> 3] >> (seq & 7)) & 1;
}

static void bit_set(unsigned char *bits, int64_t seq) { bits[seq >> 3] |= (unsigned char)(1u << (seq & 7)); }

typedef struct metric {
    int64_t count;
    double sum, min, max;
    const unsigned char *bits;
    int64_t next;
    store_ftype ft;
} metric;

static double val_num(store_ftype ft, const void *val, size_t len)
{
    if (ft == STORE_FT_BOOLEAN)
        return len && ((const char *)val)[0] == 'T';
    if (len != STORE_VAL_NUM_LEN)
        return 0;
    return ft == STORE_FT_DOUBLE ? store_index_dec_double(val) : (double)store_index_dec_long(val);
}

static bool on_metric(const void *val, size_t len, int64_t seq, void *arg)
{
    metric *m = arg;
    if (!bit_get(m->bits, m->next, seq))
        return true;
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
    return bytes_cmp(a->key, a->len, b->key, b->len);
}

static int bucket_cmp_r(const void *x, const void *y, void *arg)
{
    const bucket *a = x, *b = y;
    int order = *(const int *)arg;
    int kc = bytes_cmp(a->key, a->len, b->key, b->len);
    switch (order) {
    case 1:
        if (a->count != b->count)
            return a->count < b->count ? -1 : 1;
        return kc;
    case 2: return kc;
    case 3: return -kc;
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
    int64_t *buckets; /* buckets in the answer so far, against search.max_buckets */
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
        return ft == STORE_FT_KEYWORD ? "sterms" : ft == STORE_FT_DOUBLE ? "dterms" : ft == STORE_FT_NONE ? "sterms"
                                                                                                           : "lterms";
    case AG_AVG: return "avg";
    case AG_MIN: return "min";
    case AG_MAX: return "max";
    case AG_SUM: return "sum";
    default: return "value_count";
    }
}

static const char *agg_es_name(agtype t)
{
    static const char *n[] = {"terms", "avg", "min", "max", "sum", "value_count"};
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
            return fielddata_err(&x, a->field);
        if (f->type == STORE_FT_KEYWORD && a->t != AG_TERMS && a->t != AG_COUNT)
            return shard_fail(&x, "illegal_argument_exception", "Field [%s] of type [keyword] is not supported for "
                                                               "aggregation [%s]", a->field, agg_es_name(a->t));
        if (*ft == STORE_FT_NONE)
            *ft = f->type;
    }
    return true;
}

static void put_key(buf *b, store_ftype ft, const unsigned char *key, size_t len)
{
    char tmp[40];
    switch (ft) {
    case STORE_FT_KEYWORD: buf_puts(b, "\"key\":"); jstrn(b, (const char *)key, len); break;
    case STORE_FT_DOUBLE: buf_puts(b, "\"key\":"); jdouble(b, val_num(ft, key, len)); break;
    case STORE_FT_BOOLEAN: {
        bool t = len && key[0] == 'T';
        buf_puts(b, t ? "\"key\":1,\"key_as_string\":\"true\"" : "\"key\":0,\"key_as_string\":\"false\"");
        break;
    }
    case STORE_FT_DATE: {
        int64_t ms = len == STORE_VAL_NUM_LEN ? store_index_dec_long(key) : 0;
        store_index_format_date(ms, tmp, sizeof tmp);
        buf_puts(b, "\"key\":");
        jint(b, ms);
        buf_puts(b, ",\"key_as_string\":");
        jstr(b, tmp);
        break;
    }
    default:
        buf_puts(b, "\"key\":");
        jint(b, len == STORE_VAL_NUM_LEN ? store_index_dec_long(key) : 0);
        break;
    }
}

static bool terms_agg(aggctx *c, const agg *a, store_ftype ft, buf *b)
{
    bucketv all = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < c->nix && ft != STORE_FT_NONE; i++) {
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
        } else if (!store_engine_values(c->r, &c->ix[i].meta, a->field, NULL, 0, true, NULL, 0, true, false, on_term_val,
                                        &one))
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
                        "Trying to create too many buckets. Must be less than or equal to: [%d]. This limit can be set "
                        "by changing the [search.max_buckets] cluster level setting.",
                        STORE_SEARCH_MAX_BUCKETS);
            shown = 0;
        }
        buf_printf(b, "{\"doc_count_error_upper_bound\":0,\"sum_other_doc_count\":%" PRId64 ",\"buckets\":[", other);
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
                    hitv hv = {0};
                    if (!store_engine_values(c->r, &c->ix[i].meta, a->field, all.v[k].key, all.v[k].len, true,
                                             all.v[k].key, all.v[k].len, true, false, push_val, &hv))
                        ok = storage_err(c->err);
                    for (size_t h = 0; h < hv.n; h++)
                        if (bit_get(c->bits[i], next, hv.v[h].seq))
                            bit_set(sub[i], hv.v[h].seq);
                    hv_free(&hv);
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

static bool agg_render(aggctx *c, const agg *a, buf *b)
{
    store_ftype ft;
    if (!agg_field(c, a, &ft))
        return false;
    buf key = BUF_INIT;
    if (c->typed) {
        buf_puts(&key, agg_type_name(a, ft));
        buf_putc(&key, '#');
    }
    buf_puts(&key, a->name);
    jstrn(b, key.data ? key.data : "", key.len);
    buf_free(&key);
    buf_putc(b, ':');
    if (a->t == AG_TERMS)
        return terms_agg(c, a, ft, b);
    metric m = {0};
    for (size_t i = 0; i < c->nix && ft != STORE_FT_NONE; i++) {
        const store_field *f = store_mapping_find(&c->ix[i].map, a->field);
        if (!f || f->type != ft)
            continue;
        m.bits = c->bits[i];
        m.next = c->ix[i].meta.next_seq;
        m.ft = ft;
        const store_column *col;
        if (c->nested) {
            if (!column_of(c, i, a->field, &col))
                return false;
            store_column_each(col, m.bits, m.next, on_metric, &m);
        } else if (!store_engine_values(c->r, &c->ix[i].meta, a->field, NULL, 0, true, NULL, 0, true, false, on_metric,
                                        &m))
            return storage_err(c->err);
    }
    buf_puts(b, "{\"value\":");
    double v = 0;
    bool null = false;
    switch (a->t) {
    case AG_COUNT: jint(b, m.count); buf_putc(b, '}'); return true;
    case AG_SUM: v = m.sum; break;
    case AG_AVG: v = m.count ? m.sum / (double)m.count : 0, null = !m.count; break;
    case AG_MIN: v = m.min, null = !m.count; break;
    default: v = m.max, null = !m.count; break;
    }
    if (null)
        buf_puts(b, "null");
    else
        jdouble(b, v);
    if (!null && ft == STORE_FT_DATE && (a->t == AG_MIN || a->t == AG_MAX)) {
        char tmp[40];
        store_index_format_date((int64_t)v, tmp, sizeof tmp);
        buf_puts(b, ",\"value_as_string\":");
        jstr(b, tmp);
    }
    buf_putc(b, '}');
    return true;
}

static bool run_aggs(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, buf *out, store_error *err)
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

/* ---- scroll contexts ------------------------------------------------------------------------ */

/* One hit still to be returned: by _id, because a rewritten document gets
 * a new search ordinal. Later pages read the current version of each
 * document and skip those deleted meanwhile. */
typedef struct sentry {
    uint32_t ix;
    char *id;
    size_t idn;
    float score;
    char *sort; /* rendered sort array or NULL */
} sentry;

typedef struct sctx {
    char id[32];
    name_list indices;
    sentry *e;
    size_t n, pos;
    int64_t expires_ms, keep_ms;
    int64_t size, total;
    size_t shards;
    bool with_score, has_max;
    float max_score;
    sreq opts; /* _source filter, version, seq_no, total tracking */
    uint64_t held; /* bytes reserved in the memory breaker (--max-memory) */
    struct sctx *next;
} sctx;

struct store_search {
    store_engine *e;
    pthread_mutex_t mu;
    sctx *scrolls;
    size_t nscrolls;
};

static void sctx_free(sctx *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].id);
        free(c->e[i].sort);
    }
    free(c->e);
    nl_free(&c->indices);
    sreq_free(&c->opts);
    store_breaker_release(c->held);
    free(c);
}

store_search *store_search_new(store_engine *engine)
{
    store_search *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->e = engine;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void store_search_free(store_search *s)
{
    if (!s)
        return;
    while (s->scrolls) {
        sctx *c = s->scrolls;
        s->scrolls = c->next;
        sctx_free(c);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Drop expired contexts; called with the lock held. */
static void purge(store_search *s)
{
    int64_t now = store_util_mono_ms();
    for (sctx **p = &s->scrolls; *p;) {
        if ((*p)->expires_ms <= now) {
            sctx *c = *p;
            *p = c->next;
            sctx_free(c);
            s->nscrolls--;
        } else
            p = &(*p)->next;
    }
}

static bool scroll_id_ok(const char *id) { return strlen(id) == 24 && strncmp(id, "VS", 2) == 0; }

static bool context_missing(const char *id, store_error *err)
{
    seterr(err, 404, "search_context_missing_exception", "No search context found for id [%s]", id);
    err->shard = true;
    err->shard_index[0] = '\0';
    return false;
}

/* Render up to c->size live hits from the context's position. */
static bool scroll_page(store_rtxn *r, sctx *c, buf *b, store_error *err)
{
    store_index_meta *metas = calloc(c->indices.n ? c->indices.n : 1, sizeof *metas);
    signed char *have = calloc(c->indices.n ? c->indices.n : 1, 1);
    bool ok = metas && have;
    if (!ok)
        oom_err(err);
    int64_t shown = 0;
    while (ok && c->pos < c->n && shown < c->size) {
        sentry *e = &c->e[c->pos++];
        if (!have[e->ix]) {
            int rc = store_engine_index_get(r, c->indices.v[e->ix], &metas[e->ix], NULL, NULL);
            if (rc < 0) {
                ok = storage_err(err);
                break;
            }
            have[e->ix] = rc == 1 ? 1 : -1;
        }
        if (have[e->ix] < 0)
            continue; /* the index was deleted meanwhile */
        store_doc_view v;
        int rc = store_engine_doc_get(r, &metas[e->ix], e->id, e->idn, &v);
        if (rc < 0) {
            ok = storage_err(err);
            break;
        }
        if (rc == 0 || v.st.deleted || !v.st.exists)
            continue;
        if (shown++)
            buf_putc(b, ',');
        put_hit(b, c->indices.v[e->ix], e->id, e->idn, &v, &c->opts, c->with_score, e->score, e->sort,
                e->sort ? strlen(e->sort) : 0);
    }
    free(metas);
    free(have);
    return ok;
}

static const char *scroll_id_of(const store_search_req *req)
{
    if (req->scroll_id)
        return req->scroll_id;
    const char *p = param(req, "scroll_id");
    if (p)
        return p;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->body, "scroll_id");
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool store_search_scroll(store_search *s, const store_search_req *req, buf *out, store_error *err)
{
    int64_t t0 = store_util_mono_ms();
    const char *id = scroll_id_of(req);
    const char *ka = param(req, "scroll");
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(req->body, "scroll");
    if (!ka && cJSON_IsString(bs))
        ka = bs->valuestring;
    for (const cJSON *it = req->body ? req->body->child : NULL; it; it = it->next)
        if (strcmp(it->string, "scroll_id") != 0 && strcmp(it->string, "scroll") != 0)
            return seterr(err, 400, "illegal_argument_exception", "Unknown parameter [%s] in request body or parameter "
                                                                  "is of the wrong type[%s] ", it->string,
                          token_name(it));
    if (!id || !*id)
        return seterr(err, 400, "action_request_validation_exception",
                      "Validation Failed: 1: scrollId is missing;");
    int64_t keep = -1;
    if (ka && !keep_alive(ka, &keep, err))
        return false;
    if (!scroll_id_ok(id))
        return seterr(err, 400, "illegal_argument_exception", "Cannot parse scroll id");
    pthread_mutex_lock(&s->mu);
    purge(s);
    sctx *c = s->scrolls;
    while (c && strcmp(c->id, id) != 0)
        c = c->next;
    bool ok = false;
    store_rtxn *r = NULL;
    if (!c) {
        context_missing(id, err);
        goto done;
    }
    if (keep >= 0)
        c->keep_ms = keep;
    c->expires_ms = store_util_mono_ms() + c->keep_ms;
    if (!(r = store_engine_read_begin(s->e))) {
        storage_err(err);
        goto done;
    }
    c->opts.rest_total_int = param_bool(req, "rest_total_hits_as_int", c->opts.rest_total_int);
    buf hits = BUF_INIT;
    if (!scroll_page(r, c, &hits, err)) {
        buf_free(&hits);
        goto done;
    }
    put_head(out, c->id, store_util_mono_ms() - t0, -1, c->shards);
    buf_puts(out, "\"hits\":{");
    put_total(out, &c->opts, c->total);
    buf_puts(out, "\"max_score\":");
    if (c->has_max)
        jfloat(out, c->max_score);
    else
        buf_puts(out, "null");
    buf_puts(out, ",\"hits\":[");
    buf_append(out, hits.data ? hits.data : "", hits.len);
    buf_puts(out, "]}}");
    buf_free(&hits);
    ok = true;
done:
    store_engine_read_end(r);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

static bool id_list_add(name_list *l, const char *s)
{
    while (*s) {
        size_t n = strcspn(s, ",");
        char tmp[64];
        if (n && n < sizeof tmp) {
            memcpy(tmp, s, n);
            tmp[n] = '\0';
            nl_add(l, tmp);
        } else if (n) {
            nl_add(l, "malformed");
        }
        s += n + (s[n] == ',');
    }
    return !l->oom;
}

bool store_search_clear_scroll(store_search *s, const store_search_req *req, int *status, buf *out,
                               store_error *err)
{
    name_list ids = {0};
    if (req->scroll_id)
        id_list_add(&ids, req->scroll_id);
    const char *p = param(req, "scroll_id");
    if (p)
        id_list_add(&ids, p);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->body, "scroll_id");
    if (cJSON_IsString(v))
        id_list_add(&ids, v->valuestring);
    else if (cJSON_IsArray(v)) {
        const cJSON *it;
        cJSON_ArrayForEach(it, v) if (cJSON_IsString(it)) id_list_add(&ids, it->valuestring);
    }
    bool ok = false;
    if (ids.oom) {
        oom_err(err);
        goto done;
    }
    if (!ids.n) {
        seterr(err, 400, "action_request_validation_exception", "Validation Failed: 1: no scroll ids specified;");
        goto done;
    }
    bool all = false;
    for (size_t i = 0; i < ids.n; i++) {
        if (strcmp(ids.v[i], "_all") == 0)
            all = true;
        else if (!scroll_id_ok(ids.v[i])) {
            seterr(err, 400, "illegal_argument_exception", "Cannot parse scroll id");
            goto done;
        }
    }
    size_t freed = 0;
    pthread_mutex_lock(&s->mu);
    purge(s);
    for (sctx **pp = &s->scrolls; *pp;) {
        bool hit = all;
        for (size_t i = 0; !hit && i < ids.n; i++)
            hit = strcmp(ids.v[i], (*pp)->id) == 0;
        if (hit) {
            sctx *c = *pp;
            *pp = c->next;
            sctx_free(c);
            s->nscrolls--;
            freed++;
        } else
            pp = &(*pp)->next;
    }
    pthread_mutex_unlock(&s->mu);
    if (freed)
        malloc_trim(0); /* give the contexts' many small blocks back to the system, not just to malloc */
    *status = freed || all ? 200 : 404;
    buf_printf(out, "{\"succeeded\":true,\"num_freed\":%zu}", freed);
    ok = true;
done:
    nl_free(&ids);
    return ok;
}

/* ---- _search ----------------------------------------------------------------------------- */

static bool window_check(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, store_error *err)
{
    for (size_t i = 0; i < nix; i++) {
        ex x = {r, &ix[i], err};
        if (q->scroll && q->size > ix[i].window)
            return shard_fail(&x, "illegal_argument_exception",
                              "Batch size is too large, size must be less than or equal to: [%" PRId64
                              "] but was [%" PRId64 "]. Scroll batch sizes cost as much memory as result windows so "
                              "they are controlled by the [index.max_result_window] index level setting.",
                              ix[i].window, q->size);
        if (!q->scroll && q->from + q->size > ix[i].window)
            return shard_fail(&x, "illegal_argument_exception",
                              "Result window is too large, from + size must be less than or equal to: [%" PRId64
                              "] but was [%" PRId64 "]. See the scroll api for a more efficient way to request large "
                              "data sets. This limit can be set by changing the [index.max_result_window] index level "
                              "setting.",
                              ix[i].window, q->from + q->size);
    }
    return true;
}

static bool plain_all(const store_query *q) { return !q || (q->type == STORE_Q_MATCH_ALL && q->boost == 1.0f); }

typedef struct fastc {
    buf *b;
    const sreq *q;
    const sidx *ix;
    store_rtxn *r;
    int64_t skip, want, n;
    int mode; /* 0 unsorted (score 1.0), 1 _doc, 2 _id, 3 keyword term by _score */
    bool failed;
    float score; /* every hit's */
} fastc;

static void fast_emit(fastc *c, const char *id, size_t idn, const store_doc_view *v)
{
    buf sort = BUF_INIT;
    if (c->mode == 1)
        buf_printf(&sort, "[%" PRId64 "]", v->st.seq_no);
    else if (c->mode == 2) {
        buf_putc(&sort, '[');
        jstrn(&sort, id, idn);
        buf_putc(&sort, ']');
    }
    if (c->n++)
        buf_putc(c->b, ',');
    bool by_score = c->mode == 0 || c->mode == 3;
    put_hit(c->b, c->ix->meta.name, id, idn, v, c->q, by_score || c->q->track_scores, c->score,
            by_score ? NULL : sort.data, sort.len);
    buf_free(&sort);
}

static bool on_fast_seq(int64_t seq, void *arg)
{
    fastc *c = arg;
    if (c->skip) {
        c->skip--;
        return true;
    }
    if (c->n >= c->want)
        return false;
    const char *id;
    size_t idn;
    store_doc_view v;
    int rc = store_engine_doc_by_seq(c->r, &c->ix->meta, seq, &id, &idn, &v);
    if (rc < 0)
        return c->failed = true, false;
    if (rc == 1)
        fast_emit(c, id, idn, &v);
    return c->n < c->want;
}

static bool on_fast_val(const void *val, size_t len, int64_t seq, void *arg)
{
    (void)val, (void)len;
    return on_fast_seq(seq, arg);
}

static bool on_fast_id(const char *id, size_t idn, const store_doc_view *v, void *arg)
{
    fastc *c = arg;
    if (c->skip) {
        c->skip--;
        return true;
    }
    if (c->n >= c->want)
        return false;
    fast_emit(c, id, idn, v);
    return c->n < c->want;
}

/* A term on a keyword field scores every match alike (tf 1, norms off), so
 * a _score-ordered page is its first hits in document order. */
static bool keyword_term(const sreq *q, const sidx *ix)
{
    const store_query *t = q->query;
    if (!t || t->type != STORE_Q_TERM || !t->field || t->nvals != 1 || q->after)
        return false;
    const store_field *f = store_mapping_find(&ix->map, t->field);
    if (!f || f->type != STORE_FT_KEYWORD || !f->index || strlen(t->vals[0].s) > STORE_INDEX_MAX_TERM)
        return false;
    return !q->nkeys; /* an explicit sort prints sort values: the general path does */
}

/* match_all in _doc or _id order over one index: total from the index's
 * document count, the page straight off the scan (no per-hit arrays), so
 * listing a million-document index stays cheap. Likewise a keyword term:
 * total from the value's document count, the page off its entries. */
static int fast_mode(const sreq *q, const sidx *ix, size_t nix)
{
    if (nix != 1 || q->post_filter || q->has_min_score || q->naggs || q->terminate_after || q->scroll ||
        q->nkeys > 1)
        return -1;
    if (keyword_term(q, ix))
        return 3;
    if (!plain_all(q->query))
        return -1;
    if (!q->nkeys)
        return q->after ? -1 : 0;
    const skey *k = &q->keys[0];
    if (k->kind == SK_SCORE)
        return q->after ? -1 : 0;
    if (k->kind == SK_DOC && !k->desc)
        return 1;
    if (k->kind == SK_ID)
        return 2;
    return -1;
}

static bool fast_search(store_rtxn *r, const sreq *q, const sidx *ix, int mode, int64_t t0, buf *out,
                        store_error *err)
{
    buf hits = BUF_INIT;
    fastc c = {&hits, q, ix, r, q->from, q->size, 0, mode, false, 1.0f};
    bool ok = true;
    int64_t total = ix->meta.docs_count;
    if (mode == 3) {
        const char *path = q->query->field, *val = q->query->vals[0].s;
        size_t len = strlen(val);
        int64_t docs, sum;
        total = store_engine_value_docs(r, &ix->meta, path, val, len);
        if (total < 0 || !store_engine_field_stats(r, &ix->meta, path, &docs, &sum)) {
            buf_free(&hits);
            return storage_err(err);
        }
        if (total > 0) /* as exact_term scores it */
            c.score = bm25(bm25_boost(q->query->boost) * bm25_idf(docs, total), 1.0f,
                           bm25_norm_inverse(bm25_avgdl(docs, sum), 1));
        if (q->size > 0)
            ok = store_engine_values(r, &ix->meta, path, val, len, true, val, len, true, false, on_fast_val, &c) ||
                 storage_err(err);
        if (ok && c.failed)
            ok = storage_err(err);
    } else if (q->size > 0) {
        if (mode == 2) {
            const cJSON *a = q->after ? q->after->child : NULL;
            if (a && !cJSON_IsString(a))
                ok = after_err(err, "_id");
            else
                ok = store_engine_doc_scan(r, &ix->meta, a ? a->valuestring : NULL, a ? strlen(a->valuestring) : 0,
                                           q->keys[0].desc, on_fast_id, &c) ||
                     storage_err(err);
        } else {
            const cJSON *a = q->after ? q->after->child : NULL;
            if (a && !cJSON_IsNumber(a))
                ok = after_err(err, "_doc");
            else
                ok = store_engine_seq_scan(r, &ix->meta, a ? (int64_t)a->valuedouble : -1, on_fast_seq, &c) ||
                     storage_err(err);
        }
        if (ok && c.failed)
            ok = storage_err(err);
    }
    if (ok) {
        put_head(out, NULL, store_util_mono_ms() - t0, -1, 1);
        buf_puts(out, "\"hits\":{");
        put_total(out, q, total);
        bool show = (mode == 0 || mode == 3 || q->track_scores) && q->size > 0 && total > 0;
        buf_puts(out, "\"max_score\":");
        if (show)
            jfloat(out, c.score);
        else
            buf_puts(out, "null");
        buf_puts(out, ",\"hits\":[");
        buf_append(out, hits.data ? hits.data : "", hits.len);
        buf_puts(out, "]}}");
    }
    buf_free(&hits);
    return ok;
}

static bool eval_all(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, int *terminated, store_error *err)
{
    for (size_t i = 0; i < nix; i++) {
        ex x = {r, &ix[i], err};
        if (store_deadline_poll())
            break; /* out of time: this index and the rest add nothing */
        if (!(q->query ? ev(&x, q->query, &ix[i].res) : all_docs(&x, 1.0, &ix[i].res)))
            return false;
        hitv *res = &ix[i].res;
        if (store_deadline_stopped()) {
            /* Cut short inside the query: a must_not or a conjunction may
             * have seen only part of its postings, so these hits are not
             * all matches. Keep what earlier indices found, as
             * Elasticsearch keeps the shards that finished. */
            res->n = 0;
            break;
        }
        if (q->has_min_score) {
            size_t o = 0;
            for (size_t k = 0; k < res->n; k++)
                if ((float)res->v[k].score >= q->min_score)
                    res->v[o++] = res->v[k];
            res->n = o;
        }
        if (q->terminate_after > 0 && res->n >= (size_t)q->terminate_after) {
            res->n = (size_t)q->terminate_after;
            *terminated = 1;
        }
    }
    return true;
}

static void rh_free(rh *h, size_t n, sval *svs, size_t nkeys, bool own_ids)
{
    for (size_t i = 0; svs && i < n * nkeys; i++)
        free(svs[i].s);
    for (size_t i = 0; own_ids && h && i < n; i++)
        free(h[i].id);
    free(svs);
    free(h);
}

static bool make_scroll(store_search *s, store_rtxn *r, const sreq *q, sidx *ix, size_t nix, rh *hits, size_t nh,
                        size_t from, float max_score, bool has_max, sctx **out, store_error *err)
{
    sctx *c = calloc(1, sizeof *c);
    if (!c)
        return oom_err(err);
    c->keep_ms = q->keep_ms;
    c->size = q->size;
    c->total = (int64_t)nh;
    c->shards = nix;
    c->with_score = scored(q);
    c->has_max = has_max;
    c->max_score = max_score;
    c->opts.src = q->src;
    memset((void *)&q->src, 0, sizeof q->src); /* the context owns the filter now */
    c->opts.version = q->version;
    c->opts.seqno = q->seqno;
    c->opts.track = q->track;
    c->opts.track_exact = q->track_exact;
    c->opts.rest_total_int = q->rest_total_int;
    for (size_t i = 0; i < nix; i++)
        pair_add(&c->indices, ix[i].meta.name);
    c->n = nh > from ? nh - from : 0;
    c->e = calloc(c->n ? c->n : 1, sizeof *c->e);
    bool ok = c->e && !c->indices.oom;
    for (size_t k = 0; ok && k < c->n; k++) {
        rh *h = &hits[from + k];
        sentry *e = &c->e[k];
        e->ix = h->ix;
        e->score = h->score;
        if (!h->id && !fetch_id(r, &ix[h->ix], h)) {
            ok = false;
            break;
        }
        e->id = h->id;
        e->idn = h->idn;
        if (q->nkeys) { /* before the id moves to the context: an _id sort key prints it */
            buf sb = BUF_INIT;
            put_sort(&sb, q, h);
            e->sort = buf_steal(&sb);
        }
        h->id = NULL;
    }
    if (!ok) {
        sctx_free(c);
        return oom_err(err);
    }
    /* The context's ids stay until it is cleared or expires: hold them in
     * the memory budget so that many open scrolls get 429, not the OOM killer. */
    uint64_t bytes = sizeof *c + c->n * sizeof *c->e;
    for (size_t k = 0; k < c->n; k++)
        bytes += c->e[k].idn + 1 + (c->e[k].sort ? strlen(c->e[k].sort) + 1 : 0);
    char reason[320];
    if (!store_breaker_add(bytes, "<scroll_context>", reason, sizeof reason)) {
        sctx_free(c);
        return seterr(err, 429, "circuit_breaking_exception", "%s", reason);
    }
    c->held = bytes;
    store_util_uuid(c->id + 2);
    c->id[0] = 'V';
    c->id[1] = 'S';
    pthread_mutex_lock(&s->mu);
    purge(s);
    if (s->nscrolls >= MAX_SCROLLS) {
        pthread_mutex_unlock(&s->mu);
        sctx_free(c);
        seterr(err, 500, "exception",
               "Trying to create too many scroll contexts. Must be less than or equal to: [%d]. This limit can be "
               "set by changing the [search.max_open_scroll_context] setting.",
               MAX_SCROLLS);
        err->shard = true;
        if (nix)
            snprintf(err->shard_index, sizeof err->shard_index, "%s", ix[0].meta.name);
        return false;
    }
    c->expires_ms = store_util_mono_ms() + c->keep_ms;
    c->next = s->scrolls;
    s->scrolls = c;
    s->nscrolls++;
    pthread_mutex_unlock(&s->mu);
    *out = c;
    return true;
}

/* A search out of time with allow_partial_search_results=false fails as
 * Elasticsearch's shard does (SearchTimeoutException, 504) instead of
 * answering part of its hits. */
static bool partial_ok(const sreq *q, const sidx *ix, buf *out, store_error *err)
{
    if (q->allow_partial || !store_deadline_timed_out())
        return true;
    buf_reset(out);
    seterr(err, 504, "search_timeout_exception", "Time exceeded");
    err->shard = true;
    snprintf(err->shard_index, sizeof err->shard_index, "%s", ix ? ix[0].meta.name : "");
    return false;
}

bool store_search_run(store_search *s, const store_search_req *req, buf *out, store_error *err)
{
    int64_t t0 = store_util_mono_ms();
    sreq q;
    sidx *ix = NULL;
    size_t nix = 0, nh = 0;
    rh *hits = NULL;
    sval *svs = NULL;
    buf aggs = BUF_INIT, page = BUF_INIT;
    store_rtxn *r = NULL;
    bool ok = false, own_watch = false;
    if (!parse_request(req, false, &q, err))
        goto done;
    /* The request's own timeout replaces the server's default (--search-timeout);
     * on a thread nobody watches (no search pool) it starts its own watch. */
    if (q.timeout_ms != -2 && !store_deadline_active()) {
        store_deadline_begin(q.timeout_ms, -1);
        own_watch = true;
    } else if (q.timeout_ms != -2) {
        store_deadline_set_timeout(q.timeout_ms);
    }
    if (!(r = store_engine_read_begin(s->e))) {
        storage_err(err);
        goto done;
    }
    if (!resolve(r, req->index, q.ignore_unavailable, q.allow_no_indices, &ix, &nix, err) ||
        !window_check(r, &q, ix, nix, err))
        goto done;
    int mode = fast_mode(&q, ix, nix);
    if (mode >= 0) {
        ok = fast_search(r, &q, &ix[0], mode, t0, out, err) && partial_ok(&q, ix, out, err);
        goto done;
    }
    int terminated = q.terminate_after > 0 ? 0 : -1;
    if (!eval_all(r, &q, ix, nix, &terminated, err))
        goto done;
    if (q.naggs && !run_aggs(r, &q, ix, nix, &aggs, err))
        goto done;
    if (!partial_ok(&q, ix, out, err))
        goto done;
    for (size_t i = 0; q.post_filter && i < nix; i++) {
        ex x = {r, &ix[i], err};
        hitv pf = {0};
        if (!ev(&x, q.post_filter, &pf)) {
            hv_free(&pf);
            goto done;
        }
        for (size_t k = 0; k < pf.n; k++)
            pf.v[k].score = 0;
        hv_intersect(&ix[i].res, &pf);
        hv_free(&pf);
    }
    size_t total = 0; /* every match, whatever is pruned below */
    for (size_t i = 0; i < nix; i++)
        total += ix[i].res.n;
    bool score_only = q.nkeys == 0 || (q.nkeys == 1 && q.keys[0].kind == SK_SCORE && q.keys[0].desc);
    float top_score = -INFINITY;
    if (score_only && !q.scroll && !q.after) {
        uint64_t want = (uint64_t)q.from + (uint64_t)q.size;
        for (size_t i = 0; i < nix; i++) {
            for (size_t k = 0; k < ix[i].res.n; k++)
                if ((float)ix[i].res.v[k].score > top_score)
                    top_score = (float)ix[i].res.v[k].score;
            hv_keep_best(&ix[i].res, want < ix[i].res.n ? (size_t)want : ix[i].res.n);
        }
    }
    for (size_t i = 0; i < nix; i++)
        nh += ix[i].res.n;
    size_t nk = q.nkeys;
    hits = calloc(nh ? nh : 1, sizeof *hits);
    svs = nk ? calloc(nh ? grow_mul(nh, nk) : 1, sizeof *svs) : NULL;
    if (!hits || (nk && !svs)) {
        oom_err(err);
        goto done;
    }
    bool want_score = scored(&q);
    float max_score = -INFINITY;
    size_t j = 0;
    for (size_t i = 0; i < nix; i++) {
        size_t base = j;
        for (size_t k = 0; k < ix[i].res.n; k++, j++) {
            hits[j].ix = (uint32_t)i;
            hits[j].seq = ix[i].res.v[k].seq;
            hits[j].score = (float)ix[i].res.v[k].score;
            hits[j].sv = nk ? &svs[j * nk] : NULL;
            if (hits[j].score > max_score)
                max_score = hits[j].score;
        }
        ex x = {r, &ix[i], err};
        for (size_t k = 0; k < nk; k++) {
            if (q.keys[k].kind == SK_FIELD && !sort_values(&x, &q.keys[k], k, nk, hits + base, j - base))
                goto done;
            if (q.keys[k].kind == SK_ID)
                for (size_t h = base; h < j; h++)
                    if (!hits[h].id && !fetch_id(r, &ix[i], &hits[h])) {
                        storage_err(err);
                        goto done;
                    }
        }
    }
    static const skey by_score = {SK_SCORE, NULL, true, false, 0, NULL};
    sorter so = {nk ? q.keys : &by_score, nk ? nk : 1, false};
    /* Scrolls keep every hit in order; a search sorts only its page. A
     * search_after over several indices sorted on _doc compares seq alone
     * while the order puts the index first, so the hits it skips are a
     * prefix of the full order, not a subset one can filter out: sort all. */
    bool full = q.scroll;
    for (size_t k = 0; q.after && nix > 1 && k < nk; k++)
        full = full || q.keys[k].kind == SK_DOC;
    size_t start = 0, live = nh;
    if (full)
        qsort_r(hits, nh, sizeof *hits, rh_cmp, &so);
    if (q.after) {
        rh a = {0};
        sval *asv = calloc(nk, sizeof *asv);
        if (!asv) {
            oom_err(err);
            goto done;
        }
        a.sv = asv;
        bool aok = after_hit(&q, ix, nix, &a, err);
        sorter ko = {q.keys, nk, true};
        if (full)
            while (aok && start < nh && rh_cmp(&hits[start], &a, &ko) <= 0)
                start++;
        else if (aok) {
            /* The order refines the sort keys, so "at or before `a`" is a
             * prefix of it: move those hits behind the others. */
            live = 0;
            for (size_t k = 0; k < nh; k++)
                if (rh_cmp(&hits[k], &a, &ko) > 0)
                    rh_swap(&hits[live++], &hits[k]);
        }
        free(asv);
        if (!aok)
            goto done;
    }
    if (!full) {
        uint64_t want = (uint64_t)q.from + (uint64_t)q.size;
        top_k(hits, live, want < live ? (size_t)want : live, &so);
    }
    /* hits[live..nh) are before search_after: never paged, still counted */
    size_t from = start + (size_t)q.from, end = from + (size_t)q.size;
    if (from > live)
        from = live;
    if (end > live)
        end = live;
    for (size_t k = from; k < end; k++) {
        const char *id;
        size_t idn;
        store_doc_view v;
        rh *h = &hits[k];
        int rc = store_engine_doc_by_seq(r, &ix[h->ix].meta, h->seq, &id, &idn, &v);
        if (rc < 0) {
            storage_err(err);
            goto done;
        }
        if (rc == 0)
            continue;
        buf sort = BUF_INIT;
        if (nk) {
            if (!h->id) {
                h->id = (char *)id; /* borrowed for put_sort only */
                h->idn = idn;
                put_sort(&sort, &q, h);
                h->id = NULL;
            } else
                put_sort(&sort, &q, h);
        }
        if (page.len)
            buf_putc(&page, ',');
        put_hit(&page, ix[h->ix].meta.name, id, idn, &v, &q, want_score, h->score, nk ? sort.data : NULL, sort.len);
        buf_free(&sort);
    }
    if (top_score > max_score)
        max_score = top_score; /* the best hit may be pruned when the page is empty (from past the end) */
    bool has_max = want_score && total > 0 && q.size > 0;
    sctx *ctx = NULL;
    if (q.scroll && !make_scroll(s, r, &q, ix, nix, hits, nh, end, max_score, has_max, &ctx, err))
        goto done;
    put_head(out, ctx ? ctx->id : NULL, store_util_mono_ms() - t0, terminated, nix);
    buf_puts(out, "\"hits\":{");
    put_total(out, &q, (int64_t)total);
    buf_puts(out, "\"max_score\":");
    if (has_max)
        jfloat(out, max_score);
    else
        buf_puts(out, "null");
    buf_puts(out, ",\"hits\":[");
    buf_append(out, page.data ? page.data : "", page.len);
    buf_puts(out, "]}");
    buf_append(out, aggs.data ? aggs.data : "", aggs.len);
    buf_putc(out, '}');
    ok = true;
done:
    rh_free(hits, nh, svs, q.nkeys, true);
    buf_free(&aggs);
    buf_free(&page);
    sidx_free(ix, nix);
    store_engine_read_end(r);
    sreq_free(&q);
    if (own_watch)
        store_deadline_end();
    return ok;
}

bool store_search_count(store_search *s, const store_search_req *req, buf *out, store_error *err)
{
    sreq q;
    sidx *ix = NULL;
    size_t nix = 0;
    store_rtxn *r = NULL;
    bool ok = false;
    if (!parse_request(req, true, &q, err))
        goto done;
    if (!(r = store_engine_read_begin(s->e))) {
        storage_err(err);
        goto done;
    }
    if (!resolve(r, req->index, q.ignore_unavailable, q.allow_no_indices, &ix, &nix, err))
        goto done;
    int64_t total = 0;
    int terminated = q.terminate_after > 0 ? 0 : -1;
    if (plain_all(q.query) && !q.terminate_after && !q.has_min_score) {
        for (size_t i = 0; i < nix; i++)
            total += ix[i].meta.docs_count;
    } else {
        if (!eval_all(r, &q, ix, nix, &terminated, err))
            goto done;
        for (size_t i = 0; i < nix; i++)
            total += (int64_t)ix[i].res.n;
    }
    buf_printf(out, "{\"count\":%" PRId64 ",", total);
    if (terminated >= 0)
        buf_puts(out, terminated ? "\"terminated_early\":true," : "\"terminated_early\":false,");
    buf_printf(out, "\"_shards\":{\"total\":%zu,\"successful\":%zu,\"skipped\":0,\"failed\":0}}", nix, nix);
    ok = true;
done:
    sidx_free(ix, nix);
    store_engine_read_end(r);
    sreq_free(&q);
    return ok;
}
