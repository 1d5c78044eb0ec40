/* store_scroll — scroll contexts: created from a search's hits, paged, expired and cleared. */
#include "versync/store/store_search_int.h"

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

/* ---- scroll contexts ------------------------------------------------------------------------ */

void store_scroll_free(sctx *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].id);
        free(c->e[i].sort);
    }
    free(c->e);
    store_names_free(&c->indices);
    store_sreq_free(&c->opts);
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
        store_scroll_free(c);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Drop expired contexts; called with the lock held. */
void store_scroll_purge(store_search *s)
{
    int64_t now = store_util_mono_ms();
    for (sctx **p = &s->scrolls; *p;) {
        if ((*p)->expires_ms <= now) {
            sctx *c = *p;
            *p = c->next;
            store_scroll_free(c);
            s->nscrolls--;
        } else
            p = &(*p)->next;
    }
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
            store_lookup rc = store_engine_index_get(r, c->indices.v[e->ix], &metas[e->ix], NULL, NULL);
            if (rc == STORE_LOOKUP_FAILED) {
                ok = storage_err(err);
                break;
            }
            have[e->ix] = rc == STORE_LOOKUP_FOUND ? 1 : -1;
        }
        if (have[e->ix] < 0)
            continue; /* the index was deleted meanwhile */
        store_doc_view v;
        store_lookup rc = store_engine_doc_get(r, &metas[e->ix], e->id, e->idn, &v);
        if (rc == STORE_LOOKUP_FAILED) {
            ok = storage_err(err);
            break;
        }
        if (rc == STORE_LOOKUP_MISSING || v.st.deleted || !v.st.exists)
            continue;
        if (shown++)
            buf_putc(b, ',');
        store_sort_put_hit(b, c->indices.v[e->ix], e->id, e->idn, &v, &c->opts, c->with_score, e->score,
                           e->sort, e->sort ? strlen(e->sort) : 0);
    }
    free(metas);
    free(have);
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
    int64_t t0 = store_util_mono_ms();
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
    c->expires_ms = store_util_mono_ms() + c->keep_ms;
    if (!(r = store_engine_read_begin(s->e))) {
        storage_err(err);
        goto done;
    }
    c->opts.rest_total_int = store_sreq_param_bool(req, "rest_total_hits_as_int", c->opts.rest_total_int);
    buf hits = BUF_INIT;
    if (!scroll_page(r, c, &hits, err)) {
        buf_free(&hits);
        goto done;
    }
    store_sort_put_head(out, c->id, store_util_mono_ms() - t0, -1, c->shards);
    buf_puts(out, "\"hits\":{");
    store_sort_put_total(out, &c->opts, c->total);
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

bool store_scroll_make(store_search *s, store_rtxn *r, const sreq *q, sidx *ix, size_t nix, rh *hits,
                       size_t nh, size_t from, float max_score, bool has_max, sctx **out, store_error *err)
{
    sctx *c = calloc(1, sizeof *c);
    if (!c)
        return oom_err(err);
    c->keep_ms = q->keep_ms;
    c->size = q->size;
    c->total = (int64_t)nh;
    c->shards = nix;
    c->with_score = store_sort_scored(q);
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
        store_names_add_pair(&c->indices, ix[i].meta.name);
    c->n = nh > from ? nh - from : 0;
    c->e = calloc(c->n ? c->n : 1, sizeof *c->e);
    bool ok = c->e && !c->indices.oom;
    for (size_t k = 0; ok && k < c->n; k++) {
        rh *h = &hits[from + k];
        sentry *e = &c->e[k];
        e->ix = h->ix;
        e->score = h->score;
        if (!h->id && !store_sort_fetch_id(r, &ix[h->ix], h)) {
            ok = false;
            break;
        }
        e->id = h->id;
        e->idn = h->idn;
        if (q->nkeys) { /* before the id moves to the context: an _id sort key prints it */
            buf sb = BUF_INIT;
            store_sort_put_sort(&sb, q, h);
            e->sort = buf_steal(&sb);
        }
        h->id = NULL;
    }
    if (!ok) {
        store_scroll_free(c);
        return oom_err(err);
    }
    /* The context's ids stay until it is cleared or expires: hold them in
     * the memory budget so that many open scrolls get 429, not the OOM killer. */
    uint64_t bytes = sizeof *c + c->n * sizeof *c->e;
    for (size_t k = 0; k < c->n; k++)
        bytes += c->e[k].idn + 1 + (c->e[k].sort ? strlen(c->e[k].sort) + 1 : 0);
    char reason[320];
    if (!store_breaker_add(bytes, "<scroll_context>", reason, sizeof reason)) {
        store_scroll_free(c);
        return seterr(err, 429, "circuit_breaking_exception", "%s", reason);
    }
    c->held = bytes;
    store_util_uuid(c->id + 2);
    c->id[0] = 'V';
    c->id[1] = 'S';
    pthread_mutex_lock(&s->mu);
    store_scroll_purge(s);
    if (s->nscrolls >= MAX_SCROLLS) {
        pthread_mutex_unlock(&s->mu);
        store_scroll_free(c);
        seterr(err, 500, "exception",
               "Trying to create too many scroll contexts. Must be less than or equal to: [%d]. This limit "
               "can be "
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
