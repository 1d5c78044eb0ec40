/* store_scroll — scroll contexts: created from a search's hits, paged, expired and cleared. */
#include "versync/store/store_search_int.h"
#include "versync/common/timing.h"

#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/store/store_breaker.h"
#include "versync/store/store_deadline.h"
#include "versync/store/store_fielddata.h"
#include "versync/store/store_index.h"
#include "versync/store/store_json.h"
#include "versync/store/store_metrics.h"
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

/* ---- scroll contexts ------------------------------------------------------------------------ */

static void cursor_clear(sctx *c)
{
    for (size_t k = 0; c->last.sv && k < c->q.nkeys; k++) {
        free(c->last.sv[k].s);
        c->last.sv[k].s = NULL;
    }
    free(c->last.id);
    c->last.id = NULL;
    c->last.idn = 0;
    c->has_last = false;
}

void store_scroll_free(sctx *c)
{
    if (!c)
        return;
    cursor_clear(c);
    free(c->last.sv);
    store_sidx_free(c->ix, c->nix);
    /* A parked snapshot ends without the resize hold: ending a read
     * transaction touches its reader slot, not the map. */
    store_engine_read_end(c->snap);
    store_sreq_free(&c->q);
    store_breaker_release(c->held);
    free(c);
}

/* Remember `h` as the last hit returned: a copy of its sort values and id,
 * so that the page's hits can be freed. */
static bool cursor_set(sctx *c, const rh *h)
{
    cursor_clear(c);
    c->last.ix = h->ix;
    c->last.seq = h->seq;
    c->last.score = h->score;
    for (size_t k = 0; k < c->q.nkeys; k++) {
        sval *d = &c->last.sv[k];
        *d = h->sv[k];
        d->s = NULL;
        if (h->sv[k].kind == 3) {
            if (!(d->s = malloc(h->sv[k].n ? h->sv[k].n : 1)))
                return false;
            memcpy(d->s, h->sv[k].s, h->sv[k].n);
        }
    }
    if (h->id) {
        if (!(c->last.id = malloc(h->idn + 1)))
            return false;
        memcpy(c->last.id, h->id, h->idn);
        c->last.id[h->idn] = '\0';
        c->last.idn = h->idn;
    }
    c->has_last = true;
    return true;
}

store_search *store_search_new(store_engine *engine)
{
    store_search *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->e = engine;
    pthread_mutex_init(&s->mu, NULL);
    /* Test-only: the differential test's reference server answers every
     * search the exhaustive way, to compare the top-k scorer against it. */
    const char *topk = getenv("VERSTORE_SEARCH_TOPK");
    if (topk && strcmp(topk, "off") == 0)
        store_topk_set_enabled(false);
    return s;
}

void store_search_free(store_search *s)
{
    if (!s)
        return;
    while (s->scrolls) {
        sctx *c = s->scrolls;
        s->scrolls = c->next;
        store_scroll_free(c);
        store_metrics_scroll_contexts(-1);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Drop expired contexts; called with the lock held. */
void store_scroll_purge(store_search *s)
{
    int64_t now = timing_now_ms();
    for (sctx **p = &s->scrolls; *p;) {
        if ((*p)->expires_ms <= now) {
            sctx *c = *p;
            *p = c->next;
            store_scroll_free(c);
            s->nscrolls--;
            store_metrics_scroll_contexts(-1);
        } else
            p = &(*p)->next;
    }
}

void store_search_expire(store_search *s)
{
    if (!s || pthread_mutex_trylock(&s->mu) != 0)
        return;
    store_scroll_purge(s);
    pthread_mutex_unlock(&s->mu);
}

static bool scroll_id_ok(const char *id)
{
    return strlen(id) == 24 && strncmp(id, "VS", 2) == 0;
}

static bool context_missing(const char *id, store_error *err)
{
    seterr(err, 404, "search_context_missing_exception", "No search context found for id [%s]", id);
    err->shard = true;
    err->shard_index[0] = '\0';
    return false;
}

/* ---- match_all in index order: the walk resumed ------------------------------------------- */

/* A match_all (every score 1) unsorted or sorted on _doc ascending is in
 * (index, seq) order, the order the documents are stored in: the next page
 * is the walk resumed after the last hit, `size` documents read, whatever
 * the number of matches. An index read through a filtered alias is not a
 * plain walk: its pages go through the search, which applies the filter. */
static bool walk_order(const sreq *q, const sidx *ix, size_t nix)
{
    for (size_t i = 0; i < nix; i++)
        if (ix[i].alias_filter)
            return false;
    const store_query *t = q->query;
    if (t && !(t->type == STORE_Q_MATCH_ALL && t->boost == 1.0f))
        return false;
    if (q->post_filter || q->has_min_score || q->terminate_after > 0)
        return false;
    return q->nkeys == 0 || (q->nkeys == 1 && q->keys[0].kind == SK_DOC && !q->keys[0].desc);
}

typedef struct walk {
    sctx *c;
    uint32_t ix;
    buf *page;
    int64_t want, n;
    rh last;
    bool failed;
    store_error *err;
} walk;

static bool on_walk_seq(int64_t seq, void *arg)
{
    walk *w = arg;
    if (w->n >= w->want)
        return false;
    sval none = {0};
    rh h = {.ix = w->ix, .seq = seq, .score = 1.0f, .sv = &none};
    size_t before = w->page->len;
    if (!store_search_render(w->c->snap, &w->c->q, w->c->ix, &h, 0, 1, store_sort_scored(&w->c->q), w->page,
                             w->err))
        return w->failed = true, false;
    if (w->page->len != before) { /* not a seq whose document is gone */
        w->n++;
        w->last = h;
    }
    return w->n < w->want;
}

static bool walk_page(sctx *c, buf *page, store_error *err)
{
    walk w = {c, 0, page, c->q.size, 0, {0}, false, err};
    uint32_t from = c->has_last ? c->last.ix : 0;
    for (uint32_t i = from; i < c->nix && w.n < w.want; i++) {
        w.ix = i;
        int64_t after = c->has_last && i == c->last.ix ? c->last.seq : -1;
        if (!store_engine_seq_scan(c->snap, &c->ix[i].meta, after, on_walk_seq, &w))
            return storage_err(err);
        if (w.failed)
            return false;
    }
    if (w.n) {
        sval none = {0};
        w.last.sv = &none;
        if (!cursor_set(c, &w.last))
            return oom_err(err);
    }
    return true;
}

/* The next page: the query evaluated again on the context's snapshot,
 * and the first `size` hits after the last one returned, found with the
 * partial top-k. The work is that of a search; the memory it takes is the
 * page's, freed before the answer, not the context's. */
static bool scroll_page(sctx *c, buf *page, store_error *err)
{
    store_rtxn *r = c->snap;
    rh *hits = NULL;
    sval *svs = NULL;
    size_t nh = 0, nk = c->q.nkeys;
    bool ok = false;
    int terminated = c->q.terminate_after > 0 ? 0 : -1;
    float max_score = -INFINITY;
    if (!store_search_eval_all(r, &c->q, c->ix, c->nix, &terminated, err) ||
        !store_search_post_filter(r, &c->q, c->ix, c->nix, err))
        goto done;
    if (store_deadline_stopped()) {
        /* a page cut short would move the position past hits it never saw */
        seterr(err, 504, "search_timeout_exception", "Time exceeded");
        goto done;
    }
    if (!store_search_collect(r, &c->q, c->ix, c->nix, &hits, &svs, &nh, &max_score, err))
        goto done;
    for (size_t i = 0; i < c->nix; i++)
        store_hits_free(&c->ix[i].res);
    static const skey by_score = {SK_SCORE, NULL, true, false, 0, NULL};
    sorter so = {nk ? c->q.keys : &by_score, nk ? nk : 1, false};
    size_t live = nh;
    if (c->has_last) {
        live = 0;
        for (size_t k = 0; k < nh; k++)
            if (store_sort_cmp(&hits[k], &c->last, &so) > 0)
                store_sort_swap(&hits[live++], &hits[k]);
    }
    size_t want = (uint64_t)c->q.size < live ? (size_t)c->q.size : live;
    store_sort_top_k(hits, live, want, &so);
    if (!store_search_render(r, &c->q, c->ix, hits, 0, want, store_sort_scored(&c->q), page, err))
        goto done;
    if (want && !cursor_set(c, &hits[want - 1])) {
        oom_err(err);
        goto done;
    }
    ok = true;
done:
    for (size_t i = 0; i < c->nix; i++)
        store_hits_free(&c->ix[i].res);
    store_search_hits_free(hits, nh, svs, nk, true);
    return ok;
}

/* The body's scroll_id wins over the path's and the parameter's, as
 * RestSearchScrollAction reads the body after them. */
static const char *scroll_id_of(const store_search_req *req)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->body, "scroll_id");
    if (cJSON_IsString(v))
        return v->valuestring;
    if (req->scroll_id)
        return req->scroll_id;
    return store_sreq_param(req, "scroll_id");
}

bool store_search_scroll(store_search *s, const store_search_req *req, buf *out, store_error *err)
{
    int64_t t0 = timing_now_ms();
    const char *id = scroll_id_of(req);
    const char *ka = store_sreq_param(req, "scroll");
    const cJSON *bs = cJSON_GetObjectItemCaseSensitive(req->body, "scroll");
    if (!ka && cJSON_IsString(bs))
        ka = bs->valuestring;
    for (const cJSON *it = req->body ? req->body->child : NULL; it; it = it->next)
        if (strcmp(it->string, "scroll_id") != 0 && strcmp(it->string, "scroll") != 0)
            return seterr(err, 400, "illegal_argument_exception",
                          "Unknown parameter [%s] in request body or parameter "
                          "is of the wrong type[%s] ",
                          it->string, store_sreq_token_name(it));
    if (!id || !*id)
        return seterr(err, 400, "action_request_validation_exception",
                      "Validation Failed: 1: scrollId is missing;");
    int64_t keep = -1;
    if (ka && !store_sreq_keep_alive(ka, &keep, err))
        return false;
    if (!scroll_id_ok(id))
        return seterr(err, 400, "illegal_argument_exception", "Cannot parse scroll id");
    pthread_mutex_lock(&s->mu);
    store_scroll_purge(s);
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
    c->expires_ms = timing_now_ms() + c->keep_ms;
    store_engine_read_resume(c->snap);
    r = c->snap;
    c->q.rest_total_int = store_sreq_param_bool(req, "rest_total_hits_as_int", c->q.rest_total_int);
    buf hits = BUF_INIT;
    bool own_watch = false;
    if (c->q.timeout_ms != -2 && !store_deadline_active()) {
        store_deadline_begin(c->q.timeout_ms, -1);
        own_watch = true;
    } else if (c->q.timeout_ms != -2) {
        store_deadline_set_timeout(c->q.timeout_ms);
    }
    bool paged = walk_order(&c->q, c->ix, c->nix) ? walk_page(c, &hits, err) : scroll_page(c, &hits, err);
    if (own_watch)
        store_deadline_end();
    if (!paged) {
        buf_free(&hits);
        goto done;
    }
    store_sort_put_head(out, c->id, timing_now_ms() - t0, -1, c->nix);
    buf_puts(out, "\"hits\":{");
    store_sort_put_total(out, &c->q, c->total);
    buf_puts(out, "\"max_score\":");
    if (c->has_max)
        store_json_put_float(out, c->max_score);
    else
        buf_puts(out, "null");
    buf_puts(out, ",\"hits\":[");
    buf_append(out, hits.data ? hits.data : "", hits.len);
    buf_puts(out, "]}}");
    buf_free(&hits);
    ok = true;
done:
    store_engine_read_park(r); /* the context keeps its snapshot until it is cleared or expires */
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
            store_names_add(l, tmp);
        } else if (n) {
            store_names_add(l, "malformed");
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
    const char *p = store_sreq_param(req, "scroll_id");
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
        seterr(err, 400, "action_request_validation_exception",
               "Validation Failed: 1: no scroll ids specified;");
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
    store_scroll_purge(s);
    for (sctx **pp = &s->scrolls; *pp;) {
        bool hit = all;
        for (size_t i = 0; !hit && i < ids.n; i++)
            hit = strcmp(ids.v[i], (*pp)->id) == 0;
        if (hit) {
            sctx *c = *pp;
            *pp = c->next;
            store_scroll_free(c);
            s->nscrolls--;
            store_metrics_scroll_contexts(-1);
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
    store_names_free(&ids);
    return ok;
}

/* What a context costs besides its snapshot: the struct, the indices'
 * mappings and the parsed request, none of which grows with the matches.
 * The mappings and the query tree are not measured: a page per index and
 * one for the request stand for them. */
static uint64_t context_bytes(const sctx *c)
{
    return sizeof *c + c->nix * (sizeof *c->ix + 4096) + c->q.nkeys * sizeof(sval) + 4096;
}

bool store_scroll_make(store_search *s, store_rtxn **r, sreq *q, sidx **ix, size_t *nix, const rh *last,
                       int64_t total, float max_score, bool has_max, char id_out[32], store_error *err)
{
    sctx *c = calloc(1, sizeof *c);
    if (!c)
        return oom_err(err);
    c->keep_ms = q->keep_ms;
    c->total = total;
    c->has_max = has_max;
    c->max_score = max_score;
    c->q = *q;
    memset(q, 0, sizeof *q);
    c->ix = *ix;
    c->nix = *nix;
    *ix = NULL;
    *nix = 0;
    c->snap = *r;
    *r = NULL;
    for (size_t i = 0; i < c->nix; i++) { /* the first page's hits: not needed again */
        store_hits_free(&c->ix[i].res);
        free(c->ix[i].bits);
        c->ix[i].bits = NULL;
    }
    c->last.sv = calloc(c->q.nkeys ? c->q.nkeys : 1, sizeof *c->last.sv);
    if (!c->last.sv || (last && !cursor_set(c, last))) {
        store_scroll_free(c);
        return oom_err(err);
    }
    uint64_t bytes = context_bytes(c);
    char reason[320];
    if (!store_breaker_add(bytes, "<scroll_context>", reason, sizeof reason)) {
        store_scroll_free(c);
        return seterr(err, 429, "circuit_breaking_exception", "%s", reason);
    }
    c->held = bytes;
    store_util_uuid(c->id + 2);
    c->id[0] = 'V';
    c->id[1] = 'S';
    memcpy(id_out, c->id, sizeof c->id);
    /* Parked before taking the lock, never after: a scroll page takes the
     * lock, then the resize hold; the other order could deadlock with a
     * writer waiting to resize the map (writers are preferred). */
    store_engine_read_park(c->snap);
    pthread_mutex_lock(&s->mu);
    store_scroll_purge(s);
    if (s->nscrolls >= MAX_SCROLLS) {
        pthread_mutex_unlock(&s->mu);
        seterr(err, 500, "exception",
               "Trying to create too many scroll contexts. Must be less than or equal to: [%d]. This limit "
               "can be "
               "set by changing the [search.max_open_scroll_context] setting.",
               MAX_SCROLLS);
        err->shard = true;
        if (c->nix)
            snprintf(err->shard_index, sizeof err->shard_index, "%s", c->ix[0].meta.name);
        store_scroll_free(c);
        return false;
    }
    c->opened_ms = timing_now_ms();
    c->expires_ms = c->opened_ms + c->keep_ms;
    c->next = s->scrolls;
    s->scrolls = c;
    s->nscrolls++;
    store_metrics_scroll_contexts(1);
    pthread_mutex_unlock(&s->mu);
    return true;
}
