/* store_resolve — index expressions (lists, wildcards, aliases, _all) resolved to the indices a search reads,
 * with their statistics. */
#include "versync/store/store_search_int.h"

#include "versync/common/grow.h"
#include "versync/store/store_aliasopt.h"
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

/* ---- searched indices ---------------------------------------------------------------- */

void store_sidx_free(sidx *ix, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        store_query_free(ix[i].alias_filter);
        store_mapping_free(&ix[i].map);
        store_hits_free(&ix[i].res);
        free(ix[i].bits);
    }
    free(ix);
}

/* The member of `o` at dotted `path`, whatever way it is spelled: flat
 * ("a.b.c"), nested ({"a":{"b":{"c"}}}) or a mix of both. */
static const cJSON *dotted(const cJSON *o, const char *path)
{
    for (const cJSON *it = o ? o->child : NULL; it; it = it->next) {
        size_t kl = strlen(it->string);
        if (strncmp(path, it->string, kl) != 0)
            continue;
        if (!path[kl])
            return it;
        const cJSON *v = path[kl] == '.' && cJSON_IsObject(it) ? dotted(it, path + kl + 1) : NULL;
        if (v)
            return v;
    }
    return NULL;
}

/* Index setting `name` (as "index.name", {"index":{"name"}}, "name", or
 * a dotted name nested) from the settings JSON, or `def`. */
static int64_t setting_of(const char *json, size_t n, const char *name, int64_t def)
{
    int64_t w = def;
    char flat[96];
    snprintf(flat, sizeof flat, "index.%s", name);
    cJSON *s = n ? cJSON_ParseWithLength(json, n) : NULL;
    const cJSON *v = dotted(s, flat);
    if (!v)
        v = dotted(s, name);
    if (cJSON_IsNumber(v))
        w = (int64_t)v->valuedouble;
    else if (cJSON_IsString(v))
        w = strtoll(v->valuestring, NULL, 10);
    cJSON_Delete(s);
    return w;
}

void store_names_add_pair(name_list *l, const char *s);

/* Add `s` unless the list holds it. */
void store_names_add(name_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return;
    store_names_add_pair(l, s);
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

void store_names_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

typedef struct catalog {
    name_list indices;
    name_list alias, alias_index, alias_opts; /* triples (not deduplicated: parallel arrays); opts "" for none */
} catalog;

static bool cat_index(const store_index_meta *m, void *arg)
{
    store_names_add(&((catalog *)arg)->indices, m->name);
    return true;
}

/* Append `s` (repeats kept: alias/index pairs are parallel lists). */
void store_names_add_pair(name_list *l, const char *s)
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

static bool cat_alias(const char *alias, const char *index, int is_write, const char *opts, void *arg)
{
    (void)is_write;
    catalog *c = arg;
    store_names_add_pair(&c->alias, alias);
    store_names_add_pair(&c->alias_index, index);
    store_names_add_pair(&c->alias_opts, opts ? opts : "");
    return !c->alias.oom && !c->alias_index.oom && !c->alias_opts.oom;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool in_list(const name_list *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

/* The filter reads of `index` get, as Elasticsearch's
 * IndexNameExpressionResolver.filteringAliases decides it: none when the
 * expression is `_all`, when it names the index itself (or a wildcard matched
 * it), or when one of the aliases that led to it has no filter; else the
 * filters of those aliases, any one matching. *out gets the query's JSON text
 * (heap) or NULL. False when out of memory. */
static bool alias_filter_of(const catalog *c, const name_list *direct, const name_list *via, const char *index,
                            char **out)
{
    *out = NULL;
    if (in_list(direct, index))
        return true;
    cJSON *should = cJSON_CreateArray();
    bool ok = should != NULL, unfiltered = false;
    for (size_t i = 0; ok && !unfiltered && i < c->alias.n; i++) {
        if (strcmp(c->alias_index.v[i], index) != 0 || !in_list(via, c->alias.v[i]))
            continue;
        cJSON *opts = c->alias_opts.v[i][0] ? cJSON_Parse(c->alias_opts.v[i]) : NULL;
        cJSON *f = cJSON_DetachItemFromObjectCaseSensitive(opts, "filter");
        if (f)
            cJSON_AddItemToArray(should, f);
        else
            unfiltered = true;
        cJSON_Delete(opts);
    }
    if (ok && !unfiltered && cJSON_GetArraySize(should) > 0) {
        cJSON *q;
        if (cJSON_GetArraySize(should) == 1) {
            q = cJSON_DetachItemFromArray(should, 0);
        } else { /* {"bool":{"should":[…]}}: one clause must match, as with no must or filter */
            q = cJSON_CreateObject();
            cJSON *bo = q ? cJSON_AddObjectToObject(q, "bool") : NULL;
            if (bo && cJSON_AddItemToObject(bo, "should", should))
                should = NULL;
            ok = should == NULL;
        }
        ok = ok && q && (*out = cJSON_PrintUnformatted(q)) != NULL;
        cJSON_Delete(q);
    }
    cJSON_Delete(should);
    return ok;
}

static bool search_indices(store_rtxn *r, const char *expr, bool ignore_unavailable, bool allow_no_indices,
                           char ***names, char ***filters, size_t *n, store_error *err)
{
    catalog c = {0};
    name_list sel = {0}, direct = {0}, via = {0};
    bool ok = false;
    *names = NULL;
    if (filters)
        *filters = NULL;
    *n = 0;
    if (!store_engine_index_each(r, cat_index, &c) || !store_engine_alias_each(r, cat_alias, &c)) {
        storage_err(err);
        goto done;
    }
    if (!expr || !*expr)
        expr = "_all";
    bool all_expr = strcmp(expr, "_all") == 0, wild_seen = false;
    const char *p = expr;
    while (*p) {
        size_t len = strcspn(p, ",");
        char tok[STORE_MAX_INDEX_NAME * 2 + 2];
        if (len >= sizeof tok) {
            seterr(err, 400, "invalid_index_name_exception",
                   "Invalid index name [%.*s], index name is too long", (int)len, p);
            goto done;
        }
        memcpy(tok, p, len);
        tok[len] = '\0';
        p += len + (p[len] == ',');
        if (!len)
            continue;
        bool excl = tok[0] == '-' && wild_seen;
        const char *name = excl ? tok + 1 : tok;
        if (strcmp(name, "_all") == 0 || store_names_is_wild(name)) {
            wild_seen = true;
            const char *pat = strcmp(name, "_all") == 0 ? "*" : name;
            for (size_t i = 0; i < c.indices.n; i++)
                if (store_names_glob(pat, c.indices.v[i]) && (pat[0] == '.' || c.indices.v[i][0] != '.')) {
                    if (excl)
                        nl_remove(&sel, c.indices.v[i]);
                    else {
                        store_names_add(&sel, c.indices.v[i]);
                        store_names_add(&direct, c.indices.v[i]);
                    }
                }
            /* a hidden alias is out of reach of wildcards (expand_wildcards=hidden is not taken) */
            for (size_t i = 0; i < c.alias.n; i++)
                if (store_names_glob(pat, c.alias.v[i]) && strcmp(name, "_all") != 0 &&
                    !store_aliasopt_hidden(c.alias_opts.v[i])) {
                    if (excl)
                        nl_remove(&sel, c.alias_index.v[i]);
                    else {
                        store_names_add(&sel, c.alias_index.v[i]);
                        store_names_add(&via, c.alias.v[i]);
                    }
                }
            continue;
        }
        bool found = false;
        for (size_t i = 0; i < c.indices.n && !found; i++)
            if (strcmp(c.indices.v[i], name) == 0) {
                found = true;
                if (excl)
                    nl_remove(&sel, name);
                else {
                    store_names_add(&sel, name);
                    store_names_add(&direct, name);
                }
            }
        for (size_t i = 0; i < c.alias.n && !found; i++)
            if (strcmp(c.alias.v[i], name) == 0) {
                for (size_t j = i; j < c.alias.n && strcmp(c.alias.v[j], name) == 0; j++) {
                    if (excl)
                        nl_remove(&sel, c.alias_index.v[j]);
                    else
                        store_names_add(&sel, c.alias_index.v[j]);
                }
                if (!excl)
                    store_names_add(&via, name);
                found = true;
            }
        if (!found && !ignore_unavailable) {
            err->index_missing = true;
            seterr(err, 404, "index_not_found_exception", "%s", name);
            goto done;
        }
    }
    if (sel.oom || c.indices.oom || direct.oom || via.oom) {
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
    if (filters && sel.n) {
        if (!(*filters = calloc(sel.n, sizeof **filters))) {
            oom_err(err);
            goto done;
        }
        for (size_t i = 0; !all_expr && i < sel.n; i++)
            if (!alias_filter_of(&c, &direct, &via, sel.v[i], &(*filters)[i])) {
                store_search_indices_free(*filters, sel.n);
                *filters = NULL;
                oom_err(err);
                goto done;
            }
    }
    *names = sel.v;
    *n = sel.n;
    memset(&sel, 0, sizeof sel);
    ok = true;
done:
    store_names_free(&c.indices);
    store_names_free(&c.alias);
    store_names_free(&c.alias_index);
    store_names_free(&c.alias_opts);
    store_names_free(&direct);
    store_names_free(&via);
    store_names_free(&sel);
    return ok;
}

bool store_search_indices(store_rtxn *r, const char *expr, bool ignore_unavailable, bool allow_no_indices,
                          char ***names, size_t *n, store_error *err)
{
    return search_indices(r, expr, ignore_unavailable, allow_no_indices, names, NULL, n, err);
}

void store_search_indices_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The stored filter of an alias, parsed; it was checked when the alias was
 * added, so a failure here is storage damage (logged) or want of memory. */
static store_query *alias_query(const char *text, const char *index)
{
    cJSON *j = cJSON_Parse(text);
    store_error qe = {0};
    store_query *q = j ? store_query_parse(j, &qe) : NULL;
    if (!q)
        log_error("verstore: index [%s]: an alias filter does not parse: %s", index,
                  qe.reason.data ? qe.reason.data : "invalid JSON");
    store_error_free(&qe);
    cJSON_Delete(j);
    return q;
}

/* The indices an expression names, loaded: meta, parsed mapping, window, and
 * the filter of the aliases that led to each (NULL when none applies). */
bool store_resolve(store_rtxn *r, const char *expr, bool ignore_unavailable, bool allow_no_indices,
                   sidx **out, size_t *nout, store_error *err)
{
    char **names, **filters;
    size_t nn, n = 0;
    *out = NULL;
    *nout = 0;
    if (!search_indices(r, expr, ignore_unavailable, allow_no_indices, &names, &filters, &nn, err))
        return false;
    sidx *ix = calloc(nn ? nn : 1, sizeof *ix);
    bool ok = ix || oom_err(err);
    for (size_t i = 0; ok && i < nn; i++) {
        buf settings = BUF_INIT, mappings = BUF_INIT;
        store_lookup rc = store_engine_index_get(r, names[i], &ix[n].meta, &settings, &mappings);
        if (rc == STORE_LOOKUP_FOUND) {
            char why[256] = "";
            if (!store_mapping_parse(mappings.data ? mappings.data : "", mappings.len, &ix[n].map, why,
                                     sizeof why)) {
                log_error("verstore: index [%s]: stored mapping does not parse: %s", names[i], why);
                rc = STORE_LOOKUP_FAILED;
            } else {
                ix[n].window = setting_of(settings.data, settings.len, "max_result_window", DEFAULT_WINDOW);
                ix[n].max_terms =
                    setting_of(settings.data, settings.len, "max_terms_count", DEFAULT_MAX_TERMS);
                ix[n].max_dvf =
                    setting_of(settings.data, settings.len, "max_docvalue_fields_search", DEFAULT_MAX_DVF);
                ix[n].hl_max_offset =
                    setting_of(settings.data, settings.len, "highlight.max_analyzed_offset", DEFAULT_HL_MAX_OFFSET);
                if (!store_mapping_set_analysis(&ix[n].map, settings.data, settings.len, why, sizeof why))
                    log_error("verstore: index [%s]: analysis settings do not build: %s", names[i], why);
                if (filters && filters[i] && !(ix[n].alias_filter = alias_query(filters[i], names[i]))) {
                    store_mapping_free(&ix[n].map);
                    rc = -1;
                } else {
                    n++;
                }
            }
        }
        buf_free(&settings);
        buf_free(&mappings);
        if (rc == STORE_LOOKUP_FAILED)
            ok = storage_err(err);
    }
    store_search_indices_free(names, nn);
    if (filters)
        store_search_indices_free(filters, nn);
    if (!ok) {
        store_sidx_free(ix, n);
        return false;
    }
    *out = ix;
    *nout = n;
    return true;
}
