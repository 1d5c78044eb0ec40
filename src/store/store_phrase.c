/* store_phrase — phrase queries answered from the positions stored in the postings: the terms' cursors
 * intersected rarest first, then Lucene's ExactPhraseMatcher (slop 0) or SloppyPhraseMatcher on the
 * positions of each document they share, scored by BM25 as Lucene's PhraseWeight scores. */
#include "versync/store/store_search_int.h"

#include "versync/common/grow.h"
#include "versync/store/store_deadline.h"
#include "versync/store/store_postings.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Field lengths below this get their BM25 length factor from a table
 * made once per query (the same values: store_bm25_norm_inverse). */
#define PHRASE_NORM_CACHE 256

static inline float norm_inv(const float *ninv, float avgdl, uint32_t len)
{
    return len < PHRASE_NORM_CACHE ? ninv[len] : store_bm25_norm_inverse(avgdl, len);
}

/* One term of the phrase and its cursor. */
typedef struct pterm {
    store_pcursor *c;
    store_posting p; /* current posting when `on` */
    bool on, done;
} pterm;

/* One query position: the terms stacked there (several for synonyms, as a
 * MultiPhraseQuery holds them) and its offset from the phrase's first. */
typedef struct pgroup {
    pterm *t;
    size_t nt;
    int64_t off;
    int64_t df; /* the group's documents at most: the sum of its terms' */
    /* its positions in the current document */
    const uint32_t *pos;
    size_t npos;
    uint32_t *buf; /* merged positions when several terms are there */
    size_t bcap;
    /* SloppyPhraseMatcher's PhrasePositions */
    size_t at;
    int64_t position; /* pos[at] - off */
    size_t ord;
} pgroup;

/* The group's next document at or after target: advance each of its
 * cursors not already there. -1 when every cursor is exhausted, -2 on a
 * storage error. */
static int64_t group_advance(pgroup *g, int64_t target)
{
    int64_t best = -1;
    for (size_t i = 0; i < g->nt; i++) {
        pterm *t = &g->t[i];
        if (t->done)
            continue;
        if (!t->on || t->p.seq < target) {
            int rc = store_pcursor_advance(t->c, target, &t->p);
            if (rc < 0)
                return -2;
            t->on = rc == 1;
            t->done = rc == 0;
            if (t->done)
                continue;
        }
        if (best < 0 || t->p.seq < best)
            best = t->p.seq;
    }
    return best;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The group's positions in document `doc` (its cursors there), and the
 * field length. Several terms: their positions merged, repeats kept as
 * Lucene's union of postings keeps them. False when out of memory. */
static bool group_positions(pgroup *g, int64_t doc, uint32_t *len)
{
    size_t total = 0, at = 0, one = SIZE_MAX;
    for (size_t i = 0; i < g->nt; i++)
        if (g->t[i].on && g->t[i].p.seq == doc) {
            total += g->t[i].p.tf;
            one = one == SIZE_MAX ? i : SIZE_MAX - 1;
            *len = g->t[i].p.len;
        }
    if (one < SIZE_MAX - 1) {
        g->pos = g->t[one].p.pos;
        g->npos = g->t[one].p.tf;
        return true;
    }
    if (!GROW_ARRAY(g->buf, g->bcap, total, 16))
        return false;
    for (size_t i = 0; i < g->nt; i++)
        if (g->t[i].on && g->t[i].p.seq == doc) {
            memcpy(g->buf + at, g->t[i].p.pos, g->t[i].p.tf * sizeof *g->buf);
            at += g->t[i].p.tf;
        }
    qsort(g->buf, total, sizeof *g->buf, u32_cmp);
    g->pos = g->buf;
    g->npos = total;
    return true;
}

/* ExactPhraseMatcher: the start positions where every group has its term
 * at start + its offset. Each group's positions are walked once. */
static float exact_freq(pgroup *g, size_t n, size_t *idx, store_phrase_match_fn fn, void *arg)
{
    float freq = 0;
    int64_t maxoff = 0;
    for (size_t i = 0; i < n; i++)
        if (g[i].off > maxoff)
            maxoff = g[i].off;
    for (size_t i = 0; i < n; i++)
        idx[i] = 0;
    for (size_t a = 0; a < g[0].npos; a++) {
        int64_t start = (int64_t)g[0].pos[a] - g[0].off;
        bool all = true;
        for (size_t i = 1; i < n && all; i++) {
            int64_t want = start + g[i].off;
            while (idx[i] < g[i].npos && (int64_t)g[i].pos[idx[i]] < want)
                idx[i]++;
            if (idx[i] == g[i].npos)
                return freq; /* exhausted: no later start can match */
            all = (int64_t)g[i].pos[idx[i]] == want;
        }
        if (all) {
            freq += 1;
            if (fn)
                fn(start, start + maxoff, arg);
        }
    }
    return freq;
}

/* PhraseQueue.lessThan: by position, then offset, then order. */
static bool pp_less(const pgroup *a, const pgroup *b)
{
    if (a->position != b->position)
        return a->position < b->position;
    if (a->off != b->off)
        return a->off < b->off;
    return a->ord < b->ord;
}

typedef struct pq {
    pgroup **h;
    size_t n;
} pq;

static void pq_add(pq *q, pgroup *g)
{
    size_t i = q->n++;
    q->h[i] = g;
    while (i && pp_less(q->h[i], q->h[(i - 1) / 2])) {
        pgroup *t = q->h[i];
        q->h[i] = q->h[(i - 1) / 2];
        q->h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static pgroup *pq_pop(pq *q)
{
    pgroup *top = q->h[0];
    q->h[0] = q->h[--q->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < q->n && pp_less(q->h[l], q->h[m]))
            m = l;
        if (r < q->n && pp_less(q->h[r], q->h[m]))
            m = r;
        if (m == i)
            break;
        pgroup *t = q->h[i];
        q->h[i] = q->h[m];
        q->h[m] = t;
        i = m;
    }
    return top;
}

/* PhrasePositions.nextPosition, with SloppyPhraseMatcher.advancePP's `end`. */
static bool pp_next(pgroup *g, int64_t *end)
{
    if (g->at + 1 >= g->npos)
        return false;
    g->position = (int64_t)g->pos[++g->at] - g->off;
    if (g->position > *end)
        *end = g->position;
    return true;
}

/* SloppyPhraseMatcher without repeated terms: initSimple, then nextMatch
 * until it finds no more, each match adding sloppyWeight = 1 / (1 +
 * matchLength) to the frequency. Lucene's own shortcut is kept: it always
 * advances the least position, so not every valid combination is seen. */
/* A sloppy match's span, as SloppyPhraseMatcher.startPosition/endPosition
 * give it: from the least position (the lead's before it moved on counts)
 * to the greatest of the others. */
static void sloppy_span(const pgroup *g, size_t n, int64_t lead, size_t lead_ord, store_phrase_match_fn fn,
                        void *arg)
{
    int64_t lo = lead, hi = lead;
    for (size_t i = 0; i < n; i++) {
        int64_t at = g[i].position + g[i].off;
        if (at < lo)
            lo = at;
        if (g[i].ord != lead_ord && at > hi)
            hi = at;
    }
    fn(lo, hi, arg);
}

static float sloppy_freq(pgroup *g, size_t n, int slop, pgroup **heap, store_phrase_match_fn fn, void *arg)
{
    pq q = {heap, 0};
    int64_t end = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        g[i].at = 0;
        g[i].position = (int64_t)g[i].pos[0] - g[i].off;
        if (g[i].position > end)
            end = g[i].position;
        pq_add(&q, &g[i]);
    }
    float freq = 0;
    for (;;) { /* nextMatch */
        pgroup *pp = pq_pop(&q);
        int64_t len = end - pp->position;
        int64_t next = q.h[0]->position;
        int64_t lead = pp->position + pp->off; /* captureLead */
        size_t lead_ord = pp->ord;
        bool found = false;
        while (pp_next(pp, &end)) {
            if (pp->position > next) { /* done minimising this match's length */
                pq_add(&q, pp);
                if (len <= slop) {
                    found = true;
                    break;
                }
                pp = pq_pop(&q);
                next = q.h[0]->position;
                len = end - pp->position;
            } else if (end - pp->position < len) {
                len = end - pp->position;
            }
            lead = pp->position + pp->off;
            lead_ord = pp->ord;
        }
        if (!found) { /* a group ran out: its last match, if it is one, ends the document */
            if (len <= slop) {
                freq += 1.0f / (1.0f + (float)len);
                if (fn)
                    sloppy_span(g, n, lead, lead_ord, fn, arg);
            }
            return freq;
        }
        freq += 1.0f / (1.0f + (float)len);
        if (fn)
            sloppy_span(g, n, lead, lead_ord, fn, arg);
    }
}

static int group_df_cmp(const void *a, const void *b)
{
    const pgroup *x = a, *y = b;
    if (x->df != y->df)
        return x->df < y->df ? -1 : 1;
    return (x->off > y->off) - (x->off < y->off);
}

/* qsort has no context argument; a search thread sorts one phrase at a time */
static _Thread_local const int32_t *sort_pos;
static _Thread_local char *const *sort_terms;

static int by_pos(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    if (sort_pos[x] != sort_pos[y])
        return sort_pos[x] < sort_pos[y] ? -1 : 1;
    return (x > y) - (x < y);
}

static int by_term(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(sort_terms[x], sort_terms[y]);
    return c ? c : by_pos(a, b);
}

const char *store_phrase_repeat(char *const *terms, const int32_t *pos, size_t n, int slop, size_t *idx)
{
    if (slop <= 0)
        return NULL;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sort_terms = terms;
    sort_pos = pos;
    qsort(idx, n, sizeof *idx, by_term);
    for (size_t i = 1; i < n; i++)
        if (strcmp(terms[idx[i]], terms[idx[i - 1]]) == 0 && pos[idx[i]] != pos[idx[i - 1]])
            return terms[idx[i]];
    return NULL;
}

/* The phrase frequency document `doc` can have at most, from its tf at
 * each query position (ExactPhraseMatcher.maxFreq: the smallest;
 * SloppyPhraseMatcher.maxFreq: the sum, as every position can head one
 * match), and its field length into *len. */
static float max_freq(const pgroup *g, size_t ng, int slop, int64_t doc, uint32_t *len)
{
    double best = 0;
    for (size_t k = 0; k < ng; k++) {
        double f = 0;
        for (size_t i = 0; i < g[k].nt; i++)
            if (g[k].t[i].on && g[k].t[i].p.seq == doc) {
                f += g[k].t[i].p.tf;
                *len = g[k].t[i].p.len;
            }
        best = slop > 0 && ng > 1 ? best + f : (k == 0 || f < best ? f : best);
    }
    return (float)best;
}

/* The positions of the terms on `doc` read from their cursors (lazy
 * cursors leave them in the blocks until now). False on a storage error. */
static bool fetch_positions(pgroup *g, size_t ng, int64_t doc)
{
    for (size_t k = 0; k < ng; k++)
        for (size_t i = 0; i < g[k].nt; i++) {
            pterm *t = &g[k].t[i];
            if (t->on && t->p.seq == doc && !t->p.pos && store_pcursor_positions(t->c, &t->p.pos) < 0)
                return false;
        }
    return true;
}

/* The most an exact phrase can score on the documents from `doc` to *to
 * (set here): each query position's term is in one block of its postings
 * there, and the phrase frequency of a document is at most the tf of each
 * of its terms, so the smallest of the blocks' bounds (the best BM25 of
 * their impacts) bounds them all. Only positions of one term take part
 * (stacked synonyms add up their tfs); the caller has at least one. 1 with
 * *bound and *to set, 0 when a term has no posting at or after doc (no
 * document matches from there), -1 on a storage error. */
static int range_bound(pgroup *g, size_t ng, int64_t doc, float weight, const float *ninv, float avgdl,
                       float *bound, int64_t *to)
{
    *bound = INFINITY;
    *to = INT64_MAX;
    for (size_t k = 0; k < ng; k++) {
        if (g[k].nt != 1)
            continue;
        store_pblock b;
        int rc = store_pcursor_shallow(g[k].t[0].c, doc, &b);
        if (rc <= 0)
            return rc < 0 ? -1 : 0;
        float best = 0;
        for (size_t i = 0; i < b.nimpacts; i++) {
            float s = store_bm25(weight, (float)b.impacts[i].tf, norm_inv(ninv, avgdl, b.impacts[i].len));
            if (s > best)
                best = s;
        }
        if (best < *bound)
            *bound = best;
        if (b.last < *to)
            *to = b.last;
    }
    return 1;
}

/* store_eval_phrase's sink: every match appended to a hit list. */
typedef struct hit_sink {
    ex *x;
    hitv *out;
} hit_sink;

static bool emit_hit(void *arg, int64_t seq, float score)
{
    ex *x = ((hit_sink *)arg)->x;
    hitv *out = ((hit_sink *)arg)->out;
    if (out->n == out->cap && !GROW_ARRAY(out->v, out->cap, out->n + 1, 64))
        return oom_err(x->err);
    out->v[out->n++] = (hit){seq, score, 0, 1};
    return true;
}

bool store_eval_phrase(ex *x, const char *path, char *const *terms, const int32_t *pos, size_t n, int slop,
                       float boost, hitv *out)
{
    hit_sink hs = {x, out};
    store_phrase_sink sink = {NULL, emit_hit, &hs, NULL};
    return store_phrase_run(x, path, terms, pos, n, slop, boost, &sink);
}

bool store_phrase_run(ex *x, const char *path, char *const *terms, const int32_t *pos, size_t n, int slop,
                      float boost, const store_phrase_sink *sink)
{
    int64_t docs, sum;
    if (!store_engine_field_stats(x->r, &x->ix->meta, path, &docs, &sum))
        return storage_err(x->err);
    if (docs <= 0 || n == 0)
        return true;
    bool ok = false;
    pterm *t = calloc(n, sizeof *t);
    pgroup *g = calloc(n, sizeof *g);
    pgroup **heap = calloc(n, sizeof *heap);
    size_t *idx = calloc(n, sizeof *idx);
    size_t ng = 0;
    double idf = 0;
    if (!t || !g || !heap || !idx) {
        oom_err(x->err);
        goto done;
    }
    /* refused rather than scored differently */
    const char *rep = store_phrase_repeat(terms, pos, n, slop, idx);
    if (rep) {
        store_eval_shard_fail(x, "illegal_argument_exception",
                              "verstore does not support a phrase with [slop] above 0 that repeats a "
                              "term: [%s] occurs at two positions of the phrase on [%s]",
                              rep, path);
        goto done;
    }
    /* by position (a multi-word synonym's tokens may come after later
     * ones), stable: the groups are runs of one position */
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sort_pos = pos;
    qsort(idx, n, sizeof *idx, by_pos);
    for (size_t i = 0; i < n; i++) {
        size_t w = idx[i];
        if (i == 0 || pos[w] != pos[idx[i - 1]]) {
            g[ng] = (pgroup){.t = &t[i], .off = (int64_t)pos[w] - pos[idx[0]], .ord = ng};
            ng++;
        }
        int64_t df;
        size_t tl = strlen(terms[w]);
        if (tl == 0 || tl > STORE_INDEX_MAX_KEY)
            continue;
        if (!store_engine_pcursor(x->r, &x->ix->meta, path, terms[w], tl, &t[i].c, &df)) {
            storage_err(x->err);
            goto done;
        }
        if (sink->want) /* most documents are ruled out on tf and length alone */
            store_pcursor_lazy_positions(t[i].c);
        pgroup *cur = &g[ng - 1];
        /* the group's terms are t[i0..i], contiguous; a term with no
         * postings stays in it, never positioned */
        cur->nt = (size_t)(&t[i] - cur->t) + 1;
        if (!t[i].c) {
            t[i].done = true;
            continue;
        }
        cur->df += df;
        idf += store_bm25_idf(docs, df); /* PhraseWeight: the idf of each term that exists, summed */
    }
    for (size_t i = 0; i < ng; i++)
        if (!g[i].df) { /* a position no document has */
            ok = true;
            goto done;
        }
    /* rarest first: the lead is the group with the fewest documents */
    qsort(g, ng, sizeof *g, group_df_cmp);
    for (size_t i = 0; i < ng; i++)
        g[i].ord = i;
    float weight = store_bm25_boost(boost) * (float)idf, avgdl = store_bm25_avgdl(docs, sum);
    float ninv[PHRASE_NORM_CACHE];
    for (uint32_t l = 0; l < PHRASE_NORM_CACHE; l++)
        ninv[l] = store_bm25_norm_inverse(avgdl, l);
    /* An exact phrase under a top-k sink screens ranges of blocks before
     * walking them: once the page's threshold is up (after the total is
     * counted), most of a common phrase's documents lie in blocks whose
     * impacts cannot reach it, and passing over them saves stepping every
     * cursor through them. A sloppy phrase's frequency is bounded by the
     * sum of the tfs, which the blocks do not bound as tightly: not
     * screened. */
    bool screen = sink->want_range && (slop == 0 || ng == 1);
    if (screen) {
        screen = false;
        for (size_t k = 0; k < ng && !screen; k++)
            screen = g[k].nt == 1;
    }
    int64_t screened = -1; /* the documents up to here passed the screen */
    int64_t doc = group_advance(&g[0], 0);
    while (doc >= 0) {
        if (store_deadline_poll()) /* out of time: eval_all drops these */
            break;
        if (screen && doc > screened) {
            float bound;
            int64_t to;
            int rc = range_bound(g, ng, doc, weight, ninv, avgdl, &bound, &to);
            if (rc < 0) {
                doc = -2;
                break;
            }
            if (rc == 0)
                break;
            if (!sink->want_range(sink->arg, bound)) {
                doc = to == INT64_MAX ? -1 : group_advance(&g[0], to + 1);
                continue;
            }
            screened = to;
        }
        size_t i = 1;
        for (; i < ng; i++) {
            int64_t d = group_advance(&g[i], doc);
            if (d < 0) {
                doc = d;
                break;
            }
            if (d > doc) {
                doc = group_advance(&g[0], d);
                break;
            }
        }
        if (doc < 0)
            break;
        if (i < ng)
            continue; /* a later group skipped ahead: the lead follows, check again */
        uint32_t len = 0;
        if (sink->want) {
            float most = max_freq(g, ng, slop, doc, &len);
            if (!sink->want(sink->arg, store_bm25(weight, most, norm_inv(ninv, avgdl, len)))) {
                doc = group_advance(&g[0], doc + 1);
                continue;
            }
            if (!fetch_positions(g, ng, doc)) {
                storage_err(x->err);
                goto done;
            }
        }
        for (size_t k = 0; k < ng; k++)
            if (!group_positions(&g[k], doc, &len)) {
                oom_err(x->err);
                goto done;
            }
        /* one position (stacked terms only) has no phrase to measure: its count */
        float freq = slop > 0 && ng > 1 ? sloppy_freq(g, ng, slop, heap, NULL, NULL)
                                        : exact_freq(g, ng, idx, NULL, NULL);
        if (freq > 0 && !sink->emit(sink->arg, doc, store_bm25(weight, freq, norm_inv(ninv, avgdl, len))))
            goto done;
        doc = group_advance(&g[0], doc + 1);
    }
    if (doc == -2) {
        storage_err(x->err);
        goto done;
    }
    ok = true;
done:
    for (size_t i = 0; t && i < n; i++)
        store_pcursor_close(t[i].c);
    for (size_t i = 0; g && i < ng; i++)
        free(g[i].buf);
    free(t);
    free(g);
    free(heap);
    free(idx);
    return ok;
}

bool store_phrase_matches(const uint32_t *const *pos, const size_t *npos, const int32_t *off, size_t n,
                          int slop, store_phrase_match_fn fn, void *arg)
{
    for (size_t i = 0; i < n; i++)
        if (!npos[i])
            return true;
    if (!n)
        return true;
    pgroup *g = calloc(n, sizeof *g);
    pgroup **heap = calloc(n, sizeof *heap);
    size_t *idx = calloc(n, sizeof *idx);
    bool ok = g && heap && idx;
    if (ok) {
        for (size_t i = 0; i < n; i++)
            g[i] = (pgroup){.pos = pos[i], .npos = npos[i], .off = off[i] - off[0], .ord = i};
        if (slop > 0 && n > 1)
            sloppy_freq(g, n, slop, heap, fn, arg);
        else
            exact_freq(g, n, idx, fn, arg);
    }
    free(g);
    free(heap);
    free(idx);
    return ok;
}
