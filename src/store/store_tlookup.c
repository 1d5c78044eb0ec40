/* store_tlookup — terms lookups: a terms query's values read from a document before the search runs, as
 * Elasticsearch's coordinating node rewrites a TermsQueryBuilder with a TermsLookup. */
#include "versync/store/store_search_int.h"

#include "versync/common/grow.h"
#include "versync/store/store_req.h"

#include <stdlib.h>
#include <string.h>

/* The scalars found at a path, borrowed from the parsed _source. */
typedef struct leaves {
    const cJSON **v;
    size_t n, cap;
    bool oom;
} leaves;

static void leaf_add(leaves *l, const cJSON *v)
{
    if (l->n == l->cap && !GROW_ARRAY(l->v, l->cap, l->n + 1, 16)) {
        l->oom = true;
        return;
    }
    l->v[l->n++] = v;
}

/* A path part: path[off .. off+len). */
typedef struct part {
    size_t off, len;
} part;

static const cJSON *member(const cJSON *obj, const char *name, size_t n)
{
    for (const cJSON *c = obj->child; c; c = c->next)
        if (c->string && strlen(c->string) == n && memcmp(c->string, name, n) == 0)
            return c;
    return NULL;
}

static void extract_obj(leaves *l, const cJSON *obj, const char *path, const part *parts, size_t np, size_t k);

static void extract_arr(leaves *l, const cJSON *arr, const char *path, const part *parts, size_t np, size_t k)
{
    for (const cJSON *c = arr->child; c && !l->oom; c = c->next) {
        if (cJSON_IsNull(c))
            continue;
        if (cJSON_IsObject(c))
            extract_obj(l, c, path, parts, np, k);
        else if (cJSON_IsArray(c))
            extract_arr(l, c, path, parts, np, k);
        else
            leaf_add(l, c);
    }
}

/* XContentMapValues.extractRawValues: follow the path's parts through
 * objects and arrays; a name missing as one part is tried joined with the
 * next ones ("a.b" as a key of its own); a scalar met on the way is taken
 * even before the path ends, an object at its end is not, as Elasticsearch
 * does. */
static void extract_obj(leaves *l, const cJSON *obj, const char *path, const part *parts, size_t np, size_t k)
{
    if (k == np)
        return;
    const cJSON *v = NULL;
    size_t next = k;
    while (!v && next < np) {
        v = member(obj, path + parts[k].off, parts[next].off + parts[next].len - parts[k].off);
        next++;
    }
    if (!v || cJSON_IsNull(v))
        return;
    if (cJSON_IsObject(v))
        extract_obj(l, v, path, parts, np, next);
    else if (cJSON_IsArray(v))
        extract_arr(l, v, path, parts, np, next);
    else
        leaf_add(l, v);
}

/* "alias [x] has more than one index associated with it [a, b], …": the
 * lookup's GetRequest names one index. */
typedef struct alias_ix {
    const char *alias;
    buf *reason;
    size_t n;
} alias_ix;

static bool on_alias(const char *alias, const char *index, int is_write, const char *opts, void *arg)
{
    (void)is_write, (void)opts;
    alias_ix *a = arg;
    if (strcmp(alias, a->alias) == 0)
        buf_printf(a->reason, "%s%s", a->n++ ? ", " : "", index);
    return true;
}

static bool alias_multi(store_rtxn *r, const char *alias, store_error *err)
{
    buf reason = BUF_INIT;
    alias_ix a = {alias, &reason, 0};
    bool listed = store_engine_alias_each(r, on_alias, &a);
    if (listed)
        seterr(err, 400, "illegal_argument_exception",
               "alias [%s] has more than one index associated with it [%s], can't execute a single index op", alias,
               reason.data ? reason.data : "");
    buf_free(&reason);
    return listed ? false : storage_err(err);
}

/* The lookup's document's values at its path into q's values. A missing
 * document, a deleted one, or one without _source gives none (the query
 * then matches nothing); a missing index fails the search as the GET does. */
static bool fetch(store_rtxn *r, store_query *q, store_error *err)
{
    const store_terms_lookup *l = q->lookup;
    store_index_meta meta;
    store_doc_view v;
    cJSON *src = NULL;
    leaves lv = {0};
    part *parts = NULL;
    bool ok = false;
    store_lookup rc = store_engine_index_resolve(r, l->index, false, &meta, NULL, NULL);
    if (rc == STORE_LOOKUP_MISSING) {
        err->index_missing = true;
        seterr(err, 404, "index_not_found_exception", "%s", l->index);
        goto done;
    }
    if (rc == STORE_LOOKUP_UNRESOLVED) {
        alias_multi(r, l->index, err);
        goto done;
    }
    if (rc == STORE_LOOKUP_FOUND)
        rc = store_engine_doc_get(r, &meta, l->id, strlen(l->id), &v);
    if (rc == STORE_LOOKUP_FAILED) {
        storage_err(err);
        goto done;
    }
    if (rc == STORE_LOOKUP_FOUND && v.st.exists && !v.st.deleted && !v.source_disabled && v.src_len) {
        if (!(src = cJSON_ParseWithLength(v.src, v.src_len))) {
            storage_err(err); /* stored sources were valid JSON when written */
            goto done;
        }
        if (!store_req_keep_big_ints(src, v.src, v.src_len)) {
            oom_err(err);
            goto done;
        }
        size_t np = 1;
        for (const char *p = l->path; *p; p++)
            np += *p == '.';
        if (!(parts = calloc(np, sizeof *parts))) {
            oom_err(err);
            goto done;
        }
        size_t k = 0, off = 0;
        for (const char *p = l->path;; p++)
            if (*p == '.' || !*p) {
                parts[k++] = (part){off, (size_t)(p - l->path) - off};
                off = (size_t)(p - l->path) + 1;
                if (!*p)
                    break;
            }
        if (cJSON_IsObject(src))
            extract_obj(&lv, src, l->path, parts, np, 0);
        if (lv.oom) {
            oom_err(err);
            goto done;
        }
    }
    if (!store_query_set_values(q, lv.v, lv.n, err))
        goto done;
    free(q->lookup->index);
    free(q->lookup->id);
    free(q->lookup->path);
    free(q->lookup->routing);
    free(q->lookup);
    q->lookup = NULL;
    ok = true;
done:
    free(parts);
    free(lv.v);
    cJSON_Delete(src);
    return ok;
}

static bool rewrite(store_rtxn *r, store_query *q, store_error *err)
{
    if (!q)
        return true;
    if (q->lookup && !fetch(r, q, err))
        return false;
    for (size_t i = 0; i < q->nclauses; i++)
        if (!rewrite(r, q->clauses[i].q, err))
            return false;
    return true;
}

static bool rewrite_aggs(store_rtxn *r, agg *a, size_t n, store_error *err)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < a[i].nf; k++)
            if (!rewrite(r, a[i].fq[k], err))
                return false;
        if (!rewrite_aggs(r, a[i].subs, a[i].nsubs, err))
            return false;
    }
    return true;
}

bool store_search_lookup_rewrite(store_rtxn *r, sreq *q, store_error *err)
{
    return rewrite(r, q->query, err) && rewrite(r, q->post_filter, err) && rewrite_aggs(r, q->aggs, q->naggs, err);
}
