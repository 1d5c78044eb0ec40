/* store_topk — a score-ordered page of a text match or term, found by block-max MaxScore: postings blocks
 * whose stored bounds cannot reach the page are skipped without decoding, once the total is counted as far
 * as track_total_hits asks (Lucene's TopScoreDocCollector with its hits threshold). */
#include "versync/store/store_search_int.h"

#include "versync/common/grow.h"
#include "versync/common/timing.h"
#include "versync/store/store_deadline.h"
#include "versync/store/store_json.h"
#include "versync/store/store_metrics.h"
#include "versync/store/store_postings.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Pages deeper than this take today's path: the heap and the bounds it
 * gives grow with the page. Elasticsearch's default max_result_window. */
#define TOPK_MAX_WINDOW 10000
/* Queries of more terms take today's path: each window visits every
 * clause and orders them by bound (quadratic in the clauses). */
#define TOPK_MAX_CLAUSES 64
/* Field lengths below this get their BM25 length factor from a table
 * (store_eval.c's on_posting: the same values). */
#define TOPK_NORM_CACHE 256
/* A bound is compared with the page's worst score after this relative
 * margin, so that summing bounds in another order than the scores can
 * never prune a document that would have reached the page. */
#define TOPK_MARGIN 1e-9

static atomic_bool g_off;

void store_topk_set_enabled(bool on)
{
    atomic_store(&g_off, !on);
}

typedef struct clause {
    store_pcursor *c; /* NULL: the term has no postings */
    float weight;
    bool done; /* no posting left */
    bool on;   /* p is the cursor's current posting */
    store_posting p;
    int64_t df;
    bool act;  /* it has a block in the current window */
    double ub; /* that block's bound */
} clause;

typedef struct kh { /* a hit of the page heap */
    int64_t seq;
    float score;
} kh;

typedef struct topk {
    clause *cl;
    size_t n;
    int need;
    float avgdl;
    float norm_inv[TOPK_NORM_CACHE];
    kh *heap; /* the worst of the best so far at the root */
    size_t nh, k;
    int64_t count, threshold; /* matches counted; counting stops mattering past threshold */
    bool counted;             /* count > threshold: the total is settled, skipping may start */
    size_t skipped;           /* block bounds that let a window go undecoded */
    size_t ph_read, ph_skipped; /* a phrase's documents: positions read, passed over */
    size_t ph_ranges;           /* a phrase's ranges of blocks passed over */
} topk;

static float norm_inv(const topk *t, uint32_t len)
{
    return len < TOPK_NORM_CACHE ? t->norm_inv[len] : store_bm25_norm_inverse(t->avgdl, len);
}

/* The page's worst competitive score: a later document must beat it
 * strictly (an equal score ranks after the earlier document it ties). */
static double theta(const topk *t)
{
    return t->counted && t->nh == t->k && t->k ? (double)t->heap[0].score : -INFINITY;
}

static bool kh_worse(const kh *a, const kh *b)
{
    return a->score < b->score || (a->score == b->score && a->seq > b->seq);
}

static void kh_down(kh *v, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && kh_worse(&v[l], &v[w]))
            w = l;
        if (r < n && kh_worse(&v[r], &v[w]))
            w = r;
        if (w == i)
            return;
        kh x = v[i];
        v[i] = v[w];
        v[w] = x;
        i = w;
    }
}

static void kh_up(kh *v, size_t i)
{
    while (i) {
        size_t p = (i - 1) / 2;
        if (!kh_worse(&v[i], &v[p]))
            return;
        kh x = v[i];
        v[i] = v[p];
        v[p] = x;
        i = p;
    }
}

/* One match, in ascending seq order. */
static void collect(topk *t, int64_t seq, float score)
{
    t->count++;
    if (!t->counted && t->count > t->threshold)
        t->counted = true;
    if (!t->k)
        return;
    kh h = {seq, score};
    if (t->nh < t->k) {
        t->heap[t->nh] = h;
        kh_up(t->heap, t->nh++);
    } else if (score > t->heap[0].score) {
        t->heap[0] = h;
        kh_down(t->heap, t->nh, 0);
    }
}

/* The best score clause c can give a document of block b: the best of its
 * impacts' (store_postings.h). */
static double block_bound(const topk *t, const clause *c, const store_pblock *b)
{
    double ub = 0;
    for (size_t i = 0; i < b->nimpacts; i++) {
        double s = store_bm25(c->weight, (float)b->impacts[i].tf, norm_inv(t, b->impacts[i].len));
        if (s > ub)
            ub = s;
    }
    return ub;
}

/* Clause i's cursor on its first posting at or after target: 1 there, 0
 * exhausted, -1 storage error. */
static int position(clause *c, int64_t target)
{
    if (c->done)
        return 0;
    if (c->on && c->p.seq >= target)
        return 1;
    int rc = store_pcursor_advance(c->c, target, &c->p);
    if (rc < 0)
        return -1;
    c->on = rc == 1;
    c->done = rc == 0;
    return rc;
}

static double score_of(const topk *t, const clause *c)
{
    return store_bm25(c->weight, (float)c->p.tf, norm_inv(t, c->p.len)); /* as on_posting */
}

/* Clause ord_i (t->cl[ord_i]) on document d: when it holds d, its score goes
 * into s[ord_i] and *partial, and *cnt counts it. 0, or -1 on a storage error. */
static int take_clause(topk *t, size_t ord_i, int64_t d, double *s, double *partial, int *cnt)
{
    clause *c = &t->cl[ord_i];
    int rc = position(c, d); /* a no-op but behind a conjunction's lead */
    if (rc < 0)
        return -1;
    if (rc == 1 && c->p.seq == d) {
        s[ord_i] = score_of(t, c);
        *partial += s[ord_i];
        ++*cnt;
    }
    return 0;
}

/* The bounds of the non-essential clauses ord[0..nne) summed in that
 * order: score_doc's first test and run_window's block screen must add
 * them the same way to rule out the same documents. */
static double rest_bound(const topk *t, const size_t *ord, size_t nne)
{
    double rest = 0;
    for (size_t j = 0; j < nne; j++)
        rest += t->cl[ord[j]].ub;
    return rest;
}

/* Score document d, a candidate of the essential clauses ord[nne..na):
 * its clauses summed in clause order, in double, then to float (today's
 * combine_terms; one clause: its float as it is). The non-essential
 * clauses ord[0..nne) are read, largest bound first, only while the
 * document can still reach the page and still match enough clauses. 1
 * match (*out its score), 0 not (or not competitive), -1 storage error. */
static int score_doc(topk *t, int64_t d, const size_t *ord, size_t nne, size_t na, double *s, float *out)
{
    double partial = 0;
    int cnt = 0, left = (int)nne;
    for (size_t i = 0; i < t->n; i++)
        s[i] = 0;
    for (size_t j = nne; j < na; j++)
        if (take_clause(t, ord[j], d, s, &partial, &cnt) < 0)
            return -1;
    double rest = rest_bound(t, ord, nne), th = theta(t);
    for (size_t j = nne; j-- > 0;) {
        if ((partial + rest) * (1 + TOPK_MARGIN) <= th || cnt + left < t->need)
            return 0;
        if (take_clause(t, ord[j], d, s, &partial, &cnt) < 0)
            return -1;
        rest -= t->cl[ord[j]].ub;
        left--;
    }
    if (cnt < t->need)
        return 0;
    double sum = 0;
    for (size_t i = 0; i < t->n; i++)
        sum += s[i];
    *out = (float)sum;
    return 1;
}

/* The first nne clauses of ord (by bound ascending) that together cannot
 * beat the page's worst score th: no candidate need come from them. */
static size_t non_essential(const topk *t, const size_t *ord, size_t na, double th)
{
    double cum = 0;
    size_t nne = 0;
    while (nne < na && (cum + t->cl[ord[nne]].ub) * (1 + TOPK_MARGIN) <= th)
        cum += t->cl[ord[nne++]].ub;
    return nne;
}

/* The documents of window [lo, hi], where the clauses with `act` set have
 * a block: candidates from the essential clauses (all of them while the
 * total is being counted), the others checked per candidate. 0, or -1 on
 * a storage error. */
static int run_window(topk *t, int64_t lo, int64_t hi, size_t *ord, double *s)
{
    size_t na = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!t->cl[i].act)
            continue;
        size_t j = na++;
        while (j && t->cl[ord[j - 1]].ub > t->cl[i].ub) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    double th = theta(t);
    size_t nne = non_essential(t, ord, na, th);
    /* every clause with a block here must match: the rarest leads, the
     * others are read at its documents only */
    bool conj = t->need >= (int)na;
    while (nne < na) {
        if (t->counted && t->need <= 1 && nne + 1 == na) {
            /* one essential clause: screen the rest of its block in a tight
             * loop with score_doc's first test (the same sums in the same
             * order), and score only the documents that pass it */
            clause *e = &t->cl[ord[nne]];
            int rc = position(e, lo);
            if (rc <= 0)
                return rc;
            double rest = rest_bound(t, ord, nne);
            const store_posting *v;
            size_t m = store_pcursor_rest(e->c, &v), k = 0;
            while (k < m && v[k].seq <= hi &&
                   ((double)store_bm25(e->weight, (float)v[k].tf, norm_inv(t, v[k].len)) + rest) *
                           (1 + TOPK_MARGIN) <=
                       th)
                k++;
            if (m && k == m) { /* none of them: on to the next block */
                lo = v[m - 1].seq + 1;
                if (lo > hi)
                    return 0;
                continue;
            }
            if (k < m && v[k].seq > hi)
                return 0;
            if (k < m)
                lo = v[k].seq;
        }
        size_t lead = SIZE_MAX;
        for (size_t j = nne; conj && j < na; j++)
            if (lead == SIZE_MAX || t->cl[ord[j]].df < t->cl[lead].df)
                lead = ord[j];
        int64_t d = INT64_MAX;
        for (size_t j = nne; j < na; j++) {
            if (lead != SIZE_MAX && ord[j] != lead)
                continue;
            int rc = position(&t->cl[ord[j]], lo);
            if (rc < 0)
                return -1;
            if (rc == 1 && t->cl[ord[j]].p.seq < d)
                d = t->cl[ord[j]].p.seq;
        }
        if (d == INT64_MAX || d > hi) /* no candidate left (the last window has no end) */
            return 0;
        float sc;
        int rc = score_doc(t, d, ord, nne, na, s, &sc);
        if (rc < 0)
            return -1;
        if (rc == 1)
            collect(t, d, sc);
        if (t->counted && !t->k)
            return 0;
        lo = d + 1;
        double nth = theta(t); /* a better page may leave more clauses non-essential */
        if (nth > th)
            nne = non_essential(t, ord, na, th = nth);
    }
    return 0;
}

/* A score-ordered page of one index, nothing that needs every hit. */
static bool served(const sreq *q, const sidx *ix, size_t nix)
{
    if (atomic_load(&g_off) || nix != 1 || ix[0].alias_filter || !q->query || q->post_filter ||
        q->has_min_score || q->naggs || q->terminate_after || q->scroll || q->after)
        return false;
    if (q->nkeys > 1 || (q->nkeys == 1 && !(q->keys[0].kind == SK_SCORE && q->keys[0].desc)))
        return false;
    return q->from + q->size <= TOPK_MAX_WINDOW;
}

static int rh_rank_cmp(const void *a, const void *b)
{
    const rh *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Walk the clauses' blocks in windows (between consecutive block
 * boundaries of any clause): a window where too few clauses have a block,
 * or whose bounds summed cannot beat the page once the total is settled,
 * is passed over on its headers alone. 0, or -1 on a storage error. */
static int walk(topk *t, size_t *ord, double *s)
{
    int64_t lo = 0;
    while (!store_deadline_poll()) {
        int64_t hi = INT64_MAX;
        size_t nact = 0;
        double ubsum = 0;
        bool any = false;
        for (size_t i = 0; i < t->n; i++) {
            clause *c = &t->cl[i];
            c->act = false;
            if (c->done)
                continue;
            store_pblock b;
            int rc = store_pcursor_shallow(c->c, lo, &b);
            if (rc < 0)
                return -1;
            if (rc == 0) { /* no block ends at or after lo: no posting left */
                c->done = true;
                continue;
            }
            any = true;
            if (b.first > lo) {
                if (b.first - 1 < hi)
                    hi = b.first - 1;
                continue;
            }
            if (b.last < hi)
                hi = b.last;
            c->act = true;
            c->ub = block_bound(t, c, &b);
            ubsum += c->ub;
            nact++;
        }
        if (!any)
            break;
        if ((int)nact >= t->need) {
            if (t->counted && (!t->k || ubsum * (1 + TOPK_MARGIN) <= theta(t)))
                t->skipped += nact;
            else if (run_window(t, lo, hi, ord, s) < 0)
                return -1;
        }
        if ((t->counted && !t->k) || hi == INT64_MAX)
            break;
        lo = hi + 1;
    }
    return 0;
}

/* The phrase walk's sink (store_phrase_run): a document is read only when
 * its bound can beat the page once the total is settled. */
/* Whether a phrase whose score is at most `bound` can still reach the page. */
static bool phrase_competes(const topk *t, float bound)
{
    return !(t->counted && !t->k) && (double)bound * (1 + TOPK_MARGIN) > theta(t);
}

static bool phrase_want(void *arg, float bound)
{
    topk *t = arg;
    bool want = phrase_competes(t, bound);
    *(want ? &t->ph_read : &t->ph_skipped) += 1;
    return want;
}

/* The same test for a whole range of documents (store_phrase_sink.want_range). */
static bool phrase_want_range(void *arg, float bound)
{
    topk *t = arg;
    bool want = phrase_competes(t, bound);
    t->ph_ranges += !want;
    return want;
}

static bool phrase_emit(void *arg, int64_t seq, float score)
{
    collect(arg, seq, score);
    return true;
}

/* Each clause's cursor (positions stepped over) and BM25 weight, as
 * text_term makes them; a term with no postings is done at once. False on
 * a storage error. */
static bool open_clauses(topk *t, store_rtxn *r, const sidx *ix, const store_tclauses *tc, int64_t docs)
{
    for (size_t i = 0; i < t->n; i++) {
        clause *c = &t->cl[i];
        size_t len = strlen(tc->terms[i]);
        c->done = true;
        if (docs <= 0 || len == 0 || len > STORE_INDEX_MAX_KEY) /* as text_term: nothing */
            continue;
        if (!store_engine_pcursor(r, &ix->meta, tc->path, tc->terms[i], len, &c->c, &c->df))
            return false;
        if (!c->c)
            continue;
        store_pcursor_no_positions(c->c);
        c->done = false;
        c->weight = store_bm25_boost(tc->boost) * store_bm25_idf(docs, c->df); /* as text_term */
    }
    return true;
}

static void put_answer(const sreq *q, const topk *t, const rh *hits, const buf *page, int64_t t0, buf *out)
{
    store_sort_put_head(out, NULL, timing_now_ms() - t0, -1, 1);
    buf_puts(out, "\"hits\":{");
    store_sort_put_total(out, q, t->count);
    buf_puts(out, "\"max_score\":");
    if (store_sort_scored(q) && t->count > 0 && q->size > 0 && t->nh)
        store_json_put_float(out, hits[0].score);
    else
        buf_puts(out, "null");
    buf_puts(out, ",\"hits\":[");
    buf_append(out, page->data ? page->data : "", page->len);
    buf_puts(out, "]}}");
}

int store_topk_search(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, int64_t t0, buf *out,
                      store_error *err)
{
    if (!served(q, ix, nix))
        return -1;
    ex x = {r, &ix[0], err};
    store_tclauses tc;
    int e = store_eval_text_clauses(&x, q->query, &tc);
    if (e <= 0)
        return e < 0 ? 0 : -1;
    size_t scratch[TOPK_MAX_CLAUSES];
    /* a sloppy phrase that repeats a term is refused by today's path, with
     * a shard failure: left to it */
    if (tc.n > TOPK_MAX_CLAUSES || (tc.phrase && store_phrase_repeat(tc.terms, tc.pos, tc.n, tc.slop, scratch))) {
        store_eval_text_clauses_free(&tc);
        return -1;
    }
    int ret = 0;
    topk t = {0};
    size_t *ord = NULL;
    double *s = NULL;
    rh *hits = NULL;
    buf page = BUF_INIT;
    int64_t docs, sum;
    if (!store_engine_field_stats(r, &ix->meta, tc.path, &docs, &sum)) {
        storage_err(err);
        goto done;
    }
    t.n = tc.n;
    t.need = tc.need;
    t.k = (size_t)(q->from + q->size);
    /* Lucene's TopScoreDocCollector counts every hit until it has counted
     * more than the threshold, and only then lets the scorer skip */
    t.threshold = q->track_exact ? INT64_MAX : q->track;
    t.counted = t.threshold < 0;
    t.cl = calloc(t.n, sizeof *t.cl);
    ord = calloc(t.n, sizeof *ord);
    s = calloc(t.n, sizeof *s);
    t.heap = calloc(t.k ? t.k : 1, sizeof *t.heap);
    if (!t.cl || !ord || !s || !t.heap) {
        oom_err(err);
        goto done;
    }
    t.avgdl = store_bm25_avgdl(docs, sum);
    for (uint32_t l = 0; l < TOPK_NORM_CACHE; l++)
        t.norm_inv[l] = store_bm25_norm_inverse(t.avgdl, l);
    if (tc.phrase) { /* the phrase's own walk, rarest first, with this page as its sink */
        store_phrase_sink sink = {phrase_want, phrase_emit, &t, phrase_want_range};
        if (!store_phrase_run(&x, tc.path, tc.terms, tc.pos, tc.n, tc.slop, tc.boost, &sink))
            goto done;
    } else if (!open_clauses(&t, r, ix, &tc, docs) || walk(&t, ord, s) < 0) {
        storage_err(err);
        goto done;
    }
    if (store_deadline_stopped()) /* as store_search_eval_all: a query cut short adds nothing */
        t.count = 0, t.nh = 0;
    size_t decoded = 0;
    for (size_t i = 0; i < t.n; i++)
        decoded += store_pcursor_blocks_read(t.cl[i].c);
    store_metrics_topk_blocks(decoded, t.skipped);
    if (tc.phrase)
        store_metrics_topk_phrase_docs(t.ph_read, t.ph_skipped, t.ph_ranges);
    if (!(hits = calloc(t.nh ? t.nh : 1, sizeof *hits))) {
        oom_err(err);
        goto done;
    }
    for (size_t i = 0; i < t.nh; i++)
        hits[i] = (rh){0, t.heap[i].seq, t.heap[i].score, NULL, NULL, 0};
    qsort(hits, t.nh, sizeof *hits, rh_rank_cmp);
    size_t from = (size_t)q->from < t.nh ? (size_t)q->from : t.nh;
    size_t end = from + (size_t)q->size < t.nh ? from + (size_t)q->size : t.nh;
    if (!store_search_render(r, q, ix, hits, from, end, store_sort_scored(q), &page, err))
        goto done;
    put_answer(q, &t, hits, &page, t0, out);
    ret = 1;
done:
    for (size_t i = 0; t.cl && i < t.n; i++)
        store_pcursor_close(t.cl[i].c);
    free(t.cl);
    free(t.heap);
    free(ord);
    free(s);
    free(hits);
    buf_free(&page);
    store_eval_text_clauses_free(&tc);
    return ret;
}
