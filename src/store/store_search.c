/* store_search — _search and _count: resolve the indices, evaluate (fast paths for match_all and keyword
 * terms, the general path otherwise), sort, page, aggregate, answer. */
#include "versync/store/store_search_int.h"
#include "versync/common/timing.h"

#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/store/store_breaker.h"
#include "versync/store/store_deadline.h"
#include "versync/store/store_fielddata.h"
#include "versync/store/store_index.h"
#include "versync/store/store_json.h"
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

/* ---- _search ----------------------------------------------------------------------------- */

static bool window_check(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, store_error *err)
{
    for (size_t i = 0; i < nix; i++) {
        ex x = {r, &ix[i], err};
        if (q->scroll && q->size > ix[i].window)
            return store_eval_shard_fail(
                &x, "illegal_argument_exception",
                "Batch size is too large, size must be less than or equal to: [%" PRId64 "] but was [%" PRId64
                "]. Scroll batch sizes cost as much memory as result windows so "
                "they are controlled by the [index.max_result_window] index level setting.",
                ix[i].window, q->size);
        if (!q->scroll && q->from + q->size > ix[i].window)
            return store_eval_shard_fail(
                &x, "illegal_argument_exception",
                "Result window is too large, from + size must be less than or equal to: [%" PRId64
                "] but was [%" PRId64 "]. See the scroll api for a more efficient way to request large "
                "data sets. This limit can be set by changing the [index.max_result_window] index level "
                "setting.",
                ix[i].window, q->from + q->size);
    }
    return true;
}

static bool plain_all(const store_query *q)
{
    return !q || (q->type == STORE_Q_MATCH_ALL && q->boost == 1.0f);
}

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
    store_sort_put_hit(c->b, c->ix->meta.name, id, idn, v, c->q, by_score || c->q->track_scores, c->score, NULL,
                       0, by_score ? NULL : sort.data, sort.len);
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
    store_lookup rc = store_engine_doc_by_seq(c->r, &c->ix->meta, seq, &id, &idn, &v);
    if (rc == STORE_LOOKUP_FAILED)
        return c->failed = true, false;
    if (rc == STORE_LOOKUP_FOUND)
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
    if (nix != 1 || ix[0].alias_filter || q->post_filter || q->has_min_score || q->naggs || q->terminate_after || q->scroll ||
        q->nkeys > 1 || q->nfields || q->ndvfields || q->hl) /* these can fail a hit: the general path reports it */
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
        if (total > 0) /* as store_eval_exact_term scores it */
            c.score = store_bm25(store_bm25_boost(q->query->boost) * store_bm25_idf(docs, total), 1.0f,
                                 store_bm25_norm_inverse(store_bm25_avgdl(docs, sum), 1));
        if (q->size > 0)
            ok = store_engine_values(r, &ix->meta, path, val, len, true, val, len, true, false, on_fast_val,
                                     &c) ||
                 storage_err(err);
        if (ok && c.failed)
            ok = storage_err(err);
    } else if (q->size > 0) {
        if (mode == 2) {
            const cJSON *a = q->after ? q->after->child : NULL;
            if (a && !cJSON_IsString(a))
                ok = store_sort_after_err(err, "_id");
            else
                ok = store_engine_doc_scan(r, &ix->meta, a ? a->valuestring : NULL,
                                           a ? strlen(a->valuestring) : 0, q->keys[0].desc, on_fast_id, &c) ||
                     storage_err(err);
        } else {
            const cJSON *a = q->after ? q->after->child : NULL;
            if (a && !cJSON_IsNumber(a))
                ok = store_sort_after_err(err, "_doc");
            else
                ok = store_engine_seq_scan(r, &ix->meta, a ? (int64_t)a->valuedouble : -1, on_fast_seq, &c) ||
                     storage_err(err);
        }
        if (ok && c.failed)
            ok = storage_err(err);
    }
    if (ok) {
        store_sort_put_head(out, NULL, timing_now_ms() - t0, -1, 1);
        buf_puts(out, "\"hits\":{");
        store_sort_put_total(out, q, total);
        bool show = (mode == 0 || mode == 3 || q->track_scores) && q->size > 0 && total > 0;
        buf_puts(out, "\"max_score\":");
        if (show)
            store_json_put_float(out, c.score);
        else
            buf_puts(out, "null");
        buf_puts(out, ",\"hits\":[");
        buf_append(out, hits.data ? hits.data : "", hits.len);
        buf_puts(out, "]}}");
    }
    buf_free(&hits);
    return ok;
}

bool store_search_eval_all(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, int *terminated, store_error *err)
{
    for (size_t i = 0; i < nix; i++) {
        ex x = {r, &ix[i], err};
        if (store_deadline_poll())
            break; /* out of time: this index and the rest add nothing */
        if (!(q->query ? store_eval(&x, q->query, &ix[i].res) : store_eval_all_docs(&x, 1.0, &ix[i].res)))
            return false;
        hitv *res = &ix[i].res;
        if (ix[i].alias_filter) { /* read through filtered aliases: a filter clause, no score */
            hitv af = {0};
            if (!store_eval(&x, ix[i].alias_filter, &af)) {
                store_hits_free(&af);
                return false;
            }
            for (size_t k = 0; k < af.n; k++)
                af.v[k].score = 0;
            store_hits_intersect(res, &af);
            store_hits_free(&af);
        }
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

void store_search_hits_free(rh *h, size_t n, sval *svs, size_t nkeys, bool own_ids)
{
    for (size_t i = 0; svs && i < n * nkeys; i++)
        free(svs[i].s);
    for (size_t i = 0; own_ids && h && i < n; i++)
        free(h[i].id);
    free(svs);
    free(h);
}

bool store_search_post_filter(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, store_error *err)
{
    for (size_t i = 0; q->post_filter && i < nix; i++) {
        ex x = {r, &ix[i], err};
        hitv pf = {0};
        if (!store_eval(&x, q->post_filter, &pf)) {
            store_hits_free(&pf);
            return false;
        }
        for (size_t k = 0; k < pf.n; k++)
            pf.v[k].score = 0;
        store_hits_intersect(&ix[i].res, &pf);
        store_hits_free(&pf);
    }
    return true;
}

bool store_search_collect(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, rh **hitsp, sval **svsp,
                          size_t *nhp, float *max_score, store_error *err)
{
    size_t nh = 0, nk = q->nkeys;
    for (size_t i = 0; i < nix; i++)
        nh += ix[i].res.n;
    rh *hits = calloc(nh ? nh : 1, sizeof *hits);
    sval *svs = nk ? calloc(nh ? grow_mul(nh, nk) : 1, sizeof *svs) : NULL;
    *hitsp = hits;
    *svsp = svs;
    *nhp = nh;
    if (!hits || (nk && !svs))
        return oom_err(err);
    size_t j = 0;
    for (size_t i = 0; i < nix; i++) {
        size_t base = j;
        for (size_t k = 0; k < ix[i].res.n; k++, j++) {
            hits[j].ix = (uint32_t)i;
            hits[j].seq = ix[i].res.v[k].seq;
            hits[j].score = (float)ix[i].res.v[k].score;
            hits[j].sv = nk ? &svs[j * nk] : NULL;
            if (hits[j].score > *max_score)
                *max_score = hits[j].score;
        }
        ex x = {r, &ix[i], err};
        for (size_t k = 0; k < nk; k++) {
            if (q->keys[k].kind == SK_FIELD && !store_sort_values(&x, &q->keys[k], k, nk, hits + base, j - base))
                return false;
            if (q->keys[k].kind == SK_ID)
                for (size_t h = base; h < j; h++)
                    if (!hits[h].id && !store_sort_fetch_id(r, &ix[i], &hits[h]))
                        return storage_err(err);
        }
    }
    return true;
}

bool store_search_render(store_rtxn *r, const sreq *q, const sidx *ix, rh *hits, size_t from, size_t end,
                         bool want_score, buf *page, store_error *err)
{
    for (size_t k = from; k < end; k++) {
        const char *id;
        size_t idn;
        store_doc_view v;
        rh *h = &hits[k];
        int rc = store_engine_doc_by_seq(r, &ix[h->ix].meta, h->seq, &id, &idn, &v);
        if (rc < 0)
            return storage_err(err);
        if (rc == 0)
            continue;
        buf sort = BUF_INIT, extra = BUF_INIT;
        ex x = {r, (sidx *)&ix[h->ix], err};
        if (!store_fetch_put(&x, q, &v, &extra) || !store_hl_put(&x, q, &v, h->seq, &extra)) {
            buf_free(&extra);
            return false;
        }
        if (q->nkeys) {
            if (!h->id) {
                h->id = (char *)id; /* borrowed for store_sort_put_sort only */
                h->idn = idn;
                store_sort_put_sort(&sort, q, h);
                h->id = NULL;
            } else
                store_sort_put_sort(&sort, q, h);
        }
        if (page->len)
            buf_putc(page, ',');
        store_sort_put_hit(page, ix[h->ix].meta.name, id, idn, &v, q, want_score, h->score, extra.data, extra.len,
                           q->nkeys ? sort.data : NULL, sort.len);
        buf_free(&sort);
        buf_free(&extra);
    }
    return true;
}

/* A search out of time with allow_partial_search_results=false fails as
 * Elasticsearch's shard does (SearchTimeoutException, 504) instead of
 * answering part of its hits. */
static bool partial_ok(const sreq *q, const sidx *ix, buf *out, store_error *err)
{
    /* A scroll resumes after its first page's last hit: a page cut short
     * would make later pages skip what it missed. */
    if ((q->allow_partial && !q->scroll) || !store_deadline_timed_out())
        return true;
    buf_reset(out);
    seterr(err, 504, "search_timeout_exception", "Time exceeded");
    err->shard = true;
    snprintf(err->shard_index, sizeof err->shard_index, "%s", ix ? ix[0].meta.name : "");
    return false;
}

bool store_search_run(store_search *s, const store_search_req *req, buf *out, store_error *err)
{
    int64_t t0 = timing_now_ms();
    sreq q;
    sidx *ix = NULL;
    size_t nix = 0, nh = 0, nk = 0;
    rh *hits = NULL;
    sval *svs = NULL;
    buf aggs = BUF_INIT, page = BUF_INIT, total_json = BUF_INIT;
    store_rtxn *r = NULL;
    bool ok = false, own_watch = false;
    if (!store_sreq_parse(req, false, &q, err))
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
    if (!store_search_lookup_rewrite(r, &q, err) ||
        !store_resolve(r, req->index, q.ignore_unavailable, q.allow_no_indices, &ix, &nix, err) ||
        !window_check(r, &q, ix, nix, err))
        goto done;
    int mode = fast_mode(&q, ix, nix);
    if (mode >= 0) {
        ok = fast_search(r, &q, &ix[0], mode, t0, out, err) && partial_ok(&q, ix, out, err);
        goto done;
    }
    int tk = store_topk_search(r, &q, ix, nix, t0, out, err);
    if (tk >= 0) {
        ok = tk && partial_ok(&q, ix, out, err);
        goto done;
    }
    int terminated = q.terminate_after > 0 ? 0 : -1;
    if (!store_search_eval_all(r, &q, ix, nix, &terminated, err))
        goto done;
    if (q.naggs && !store_aggs_run(r, &q, ix, nix, &aggs, err))
        goto done;
    if (!partial_ok(&q, ix, out, err))
        goto done;
    if (!store_search_post_filter(r, &q, ix, nix, err))
        goto done;
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
            store_hits_keep_best(&ix[i].res, want < ix[i].res.n ? (size_t)want : ix[i].res.n);
        }
    }
    nk = q.nkeys;
    bool want_score = store_sort_scored(&q);
    float max_score = -INFINITY;
    if (!store_search_collect(r, &q, ix, nix, &hits, &svs, &nh, &max_score, err))
        goto done;
    static const skey by_score = {SK_SCORE, NULL, true, false, 0, NULL};
    sorter so = {nk ? q.keys : &by_score, nk ? nk : 1, false};
    /* A search sorts only its page (a scroll's first page too: later pages
     * resume after its last hit). A search_after over several indices sorted
     * on _doc compares seq alone while the order puts the index first, so
     * the hits it skips are a prefix of the full order, not a subset one can
     * filter out: sort all. */
    bool full = false;
    for (size_t k = 0; q.after && nix > 1 && k < nk; k++)
        full = full || q.keys[k].kind == SK_DOC;
    size_t start = 0, live = nh;
    if (full)
        qsort_r(hits, nh, sizeof *hits, store_sort_cmp, &so);
    if (q.after) {
        rh a = {0};
        sval *asv = calloc(nk, sizeof *asv);
        if (!asv) {
            oom_err(err);
            goto done;
        }
        a.sv = asv;
        bool aok = store_sort_after_hit(&q, ix, nix, &a, err);
        sorter ko = {q.keys, nk, true};
        if (full)
            while (aok && start < nh && store_sort_cmp(&hits[start], &a, &ko) <= 0)
                start++;
        else if (aok) {
            /* The order refines the sort keys, so "at or before `a`" is a
             * prefix of it: move those hits behind the others. */
            live = 0;
            for (size_t k = 0; k < nh; k++)
                if (store_sort_cmp(&hits[k], &a, &ko) > 0)
                    store_sort_swap(&hits[live++], &hits[k]);
        }
        free(asv);
        if (!aok)
            goto done;
    }
    if (!full) {
        uint64_t want = (uint64_t)q.from + (uint64_t)q.size;
        store_sort_top_k(hits, live, want < live ? (size_t)want : live, &so);
    }
    /* hits[live..nh) are before search_after: never paged, still counted */
    size_t from = start + (size_t)q.from, end = from + (size_t)q.size;
    if (from > live)
        from = live;
    if (end > live)
        end = live;
    if (!store_search_render(r, &q, ix, hits, from, end, want_score, &page, err))
        goto done;
    if (top_score > max_score)
        max_score = top_score; /* the best hit may be pruned when the page is empty (from past the end) */
    bool has_max = want_score && total > 0 && q.size > 0;
    char sid[32] = "";
    size_t shards = nix;
    bool scroll = q.scroll;
    store_sort_put_total(&total_json, &q, (int64_t)total);
    /* The context takes the request, the indices and the read snapshot:
     * after this, q, ix and r are empty. */
    if (scroll && !store_scroll_make(s, &r, &q, &ix, &nix, end > from ? &hits[end - 1] : NULL, (int64_t)total,
                                     max_score, has_max, sid, err))
        goto done;
    store_sort_put_head(out, scroll ? sid : NULL, timing_now_ms() - t0, terminated, shards);
    buf_puts(out, "\"hits\":{");
    buf_append(out, total_json.data ? total_json.data : "", total_json.len);
    buf_puts(out, "\"max_score\":");
    if (has_max)
        store_json_put_float(out, max_score);
    else
        buf_puts(out, "null");
    buf_puts(out, ",\"hits\":[");
    buf_append(out, page.data ? page.data : "", page.len);
    buf_puts(out, "]}");
    buf_append(out, aggs.data ? aggs.data : "", aggs.len);
    buf_putc(out, '}');
    ok = true;
done:
    store_search_hits_free(hits, nh, svs, nk, true);
    buf_free(&aggs);
    buf_free(&page);
    buf_free(&total_json);
    store_sidx_free(ix, nix);
    store_engine_read_end(r);
    store_sreq_free(&q);
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
    if (!store_sreq_parse(req, true, &q, err))
        goto done;
    if (!(r = store_engine_read_begin(s->e))) {
        storage_err(err);
        goto done;
    }
    if (!store_search_lookup_rewrite(r, &q, err) ||
        !store_resolve(r, req->index, q.ignore_unavailable, q.allow_no_indices, &ix, &nix, err))
        goto done;
    int64_t total = 0;
    int terminated = q.terminate_after > 0 ? 0 : -1;
    bool filtered = false;
    for (size_t i = 0; i < nix; i++)
        filtered = filtered || ix[i].alias_filter;
    if (plain_all(q.query) && !q.terminate_after && !q.has_min_score && !filtered) {
        for (size_t i = 0; i < nix; i++)
            total += ix[i].meta.docs_count;
    } else {
        if (!store_search_eval_all(r, &q, ix, nix, &terminated, err))
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
    store_sidx_free(ix, nix);
    store_engine_read_end(r);
    store_sreq_free(&q);
    return ok;
}
