/* store_resolve — index expressions (lists, wildcards, aliases, _all) resolved to the indices a search reads,
 * with their statistics. */
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

/* ---- searched indices ---------------------------------------------------------------- */

void store_sidx_free(sidx *ix, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        store_mapping_free(&ix[i].map);
        store_hits_free(&ix[i].res);
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
    name_list alias, alias_index; /* pairs (not deduplicated: parallel arrays) */
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

static bool cat_alias(const char *alias, const char *index, int is_write, void *arg)
{
    (void)is_write;
    catalog *c = arg;
    store_names_add_pair(&c->alias, alias);
    store_names_add_pair(&c->alias_index, index);
    return !c->alias.oom && !c->alias_index.oom;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

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
                    else
                        store_names_add(&sel, c.indices.v[i]);
                }
            for (size_t i = 0; i < c.alias.n; i++)
                if (store_names_glob(pat, c.alias.v[i]) && strcmp(name, "_all") != 0) {
                    if (excl)
                        nl_remove(&sel, c.alias_index.v[i]);
                    else
                        store_names_add(&sel, c.alias_index.v[i]);
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
                    store_names_add(&sel, name);
            }
        for (size_t i = 0; i < c.alias.n && !found; i++)
            if (strcmp(c.alias.v[i], name) == 0) {
                for (size_t j = i; j < c.alias.n && strcmp(c.alias.v[j], name) == 0; j++) {
                    if (excl)
                        nl_remove(&sel, c.alias_index.v[j]);
                    else
                        store_names_add(&sel, c.alias_index.v[j]);
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
    store_names_free(&c.indices);
    store_names_free(&c.alias);
    store_names_free(&c.alias_index);
    store_names_free(&sel);
    return ok;
}

void store_search_indices_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The indices an expression names, loaded: meta, parsed mapping, window. */
bool store_resolve(store_rtxn *r, const char *expr, bool ignore_unavailable, bool allow_no_indices,
                   sidx **out, size_t *nout, store_error *err)
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
                if (!store_mapping_set_analysis(&ix[n].map, settings.data, settings.len, why, sizeof why))
                    log_error("verstore: index [%s]: analysis settings do not build: %s", names[i], why);
                n++;
            }
        }
        buf_free(&settings);
        buf_free(&mappings);
        if (rc == STORE_LOOKUP_FAILED)
            ok = storage_err(err);
    }
    store_search_indices_free(names, nn);
    if (!ok) {
        store_sidx_free(ix, n);
        return false;
    }
    *out = ix;
    *nout = n;
    return true;
}
