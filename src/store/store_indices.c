/* store_indices — verstore's index-level read endpoints over index expressions (lists, _all, wildcards, aliases): GET /{index}, _settings as Elasticsearch renders them, _refresh, _cat/indices|aliases|count, _cluster/health. */
#include "versync/store/store_indices.h"

#include "versync/common/grow.h"

#include "versync/store/store_cat.h"
#include "versync/store/store_util.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Elasticsearch 8.11's index version, what index.version.created reports. */
#define INDEX_VERSION_CREATED "8500003"

static const char *param(const store_req *req, const char *key)
{
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i].key, key) == 0)
            return req->params[i].value;
    return NULL;
}

static bool param_true(const store_req *req, const char *key)
{
    const char *v = param(req, key);
    return v && (strcmp(v, "") == 0 || strcmp(v, "true") == 0);
}

static void jstr(buf *b, const char *s) { buf_put_json_string(b, s, strlen(s)); }

static bool oom(store_error *err) { return store_error_set(err, 500, "exception", "out of memory"); }

static bool storage(store_error *err)
{
    return store_error_set(err, 500, "exception", "storage failure, see the verstore log");
}

bool store_indices_resolve(store_rtxn *t, const store_req *req, const char *expr, bool allow_empty, char ***names,
                           size_t *n, store_error *err)
{
    const char *ani = param(req, "allow_no_indices");
    bool allow = ani ? strcmp(ani, "false") != 0 : allow_empty;
    return store_search_indices(t, expr, param_true(req, "ignore_unavailable"), allow, names, n, err);
}

/* ---- settings, as Elasticsearch renders them ---------------------------------------- */

typedef struct kv {
    char *k, *v; /* v: JSON text of the value (a string, or an array of strings) */
} kv;

typedef struct kvlist {
    kv *v;
    size_t n, cap;
    bool oom;
} kvlist;

static void kv_add(kvlist *l, const char *k, const char *json)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].k, k) == 0) { /* a later spelling of the same setting wins */
            char *nv = strdup(json);
            if (!nv) {
                l->oom = true;
                return;
            }
            free(l->v[i].v);
            l->v[i].v = nv;
            return;
        }
    if (!GROW_ARRAY(l->v, l->cap, l->n + 1, 16)) {
        l->oom = true;
        return;
    }
    kv *e = &l->v[l->n];
    e->k = strdup(k);
    e->v = strdup(json);
    if (!e->k || !e->v) {
        free(e->k);
        free(e->v);
        l->oom = true;
        return;
    }
    l->n++;
}

static bool kv_has(const kvlist *l, const char *k)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].k, k) == 0)
            return true;
    return false;
}

static void kv_free(kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].k);
        free(l->v[i].v);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* A scalar setting value as Elasticsearch keeps it: its text. */
static void scalar_text(const cJSON *it, buf *out)
{
    if (cJSON_IsString(it)) {
        jstr(out, it->valuestring);
    } else if (cJSON_IsNull(it)) {
        buf_puts(out, "null");
    } else {
        char *s = cJSON_PrintUnformatted(it);
        jstr(out, s ? s : "");
        free(s);
    }
}

static void flatten(kvlist *l, const cJSON *o, const char *prefix)
{
    for (const cJSON *it = o->child; it; it = it->next) {
        buf key = BUF_INIT, val = BUF_INIT;
        if (*prefix)
            buf_printf(&key, "%s.%s", prefix, it->string);
        else
            buf_printf(&key, "%s%s", strncmp(it->string, "index.", 6) == 0 || strcmp(it->string, "index") == 0
                                         ? "" : "index.", it->string);
        if (cJSON_IsObject(it)) {
            flatten(l, it, key.data ? key.data : "");
        } else if (!cJSON_IsNull(it)) { /* a null resets a setting to its default */
            if (cJSON_IsArray(it)) {
                buf_putc(&val, '[');
                for (const cJSON *e = it->child; e; e = e->next) {
                    if (e != it->child)
                        buf_putc(&val, ',');
                    scalar_text(e, &val);
                }
                buf_putc(&val, ']');
            } else {
                scalar_text(it, &val);
            }
            if (!key.data || !val.data)
                l->oom = true;
            else
                kv_add(l, key.data, val.data);
        }
        buf_free(&key);
        buf_free(&val);
    }
}

static int kv_cmp(const void *a, const void *b) { return strcmp(((const kv *)a)->k, ((const kv *)b)->k); }

typedef struct kv_default {
    const char *k, *v;
} kv_default;

/* Add each of `defs` (a string value) that `set` does not hold to `l`, then
 * sort `l` by key. False when out of memory. */
static bool kv_add_defaults(const kvlist *set, kvlist *l, const kv_default *defs, size_t n)
{
    buf v = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (kv_has(set, defs[i].k))
            continue;
        buf_reset(&v);
        jstr(&v, defs[i].v);
        if (!v.data)
            l->oom = true;
        else
            kv_add(l, defs[i].k, v.data);
    }
    buf_free(&v);
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, kv_cmp);
    return !l->oom;
}

/* The settings of `meta` (stored JSON `stored`, as given at creation and by
 * PUT _settings) with Elasticsearch's defaults, sorted by key. */
static bool settings_list(const store_index_meta *meta, const char *stored, size_t len, kvlist *l)
{
    cJSON *j = len ? cJSON_ParseWithLength(stored, len) : NULL;
    if (cJSON_IsObject(j))
        flatten(l, j, "");
    cJSON_Delete(j);
    char tmp[64];
    const kv_default defs[] = {
        {"index.number_of_shards", "1"},
        {"index.number_of_replicas", "1"},
        {"index.routing.allocation.include._tier_preference", "data_content"},
        {"index.provided_name", meta->name},
        {"index.uuid", meta->uuid},
        {"index.creation_date", tmp},
        {"index.version.created", INDEX_VERSION_CREATED},
    };
    snprintf(tmp, sizeof tmp, "%" PRId64, meta->created_ms);
    return kv_add_defaults(l, l, defs, sizeof defs / sizeof defs[0]);
}

/* ?include_defaults: the index settings verstore applies that `set` does not
 * give, at the values it applies (Elasticsearch lists its defaults the same
 * way, under "defaults"). */
static bool defaults_list(const kvlist *set, kvlist *l)
{
    static const kv_default defs[] = {
        {"index.auto_expand_replicas", "false"},
        {"index.hidden", "false"},
        {"index.mapping.depth.limit", "20"},
        {"index.mapping.field_name_length.limit", "9223372036854775807"},
        {"index.mapping.total_fields.limit", "1000"},
        {"index.max_result_window", "10000"},
        {"index.max_terms_count", "65536"},
        {"index.number_of_routing_shards", "1"},
        {"index.refresh_interval", "1s"},
    };
    return kv_add_defaults(set, l, defs, sizeof defs / sizeof defs[0]);
}

/* {"index.a.b":"1"} (flat) or {"index":{"a":{"b":"1"}}} from a sorted list. */
static bool put_settings(buf *b, const kvlist *l, bool flat)
{
    if (flat) {
        buf_putc(b, '{');
        for (size_t i = 0; i < l->n; i++) {
            if (i)
                buf_putc(b, ',');
            jstr(b, l->v[i].k);
            buf_putc(b, ':');
            buf_puts(b, l->v[i].v);
        }
        buf_putc(b, '}');
        return true;
    }
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    for (size_t i = 0; ok && i < l->n; i++) {
        char *path = strdup(l->v[i].k), *save = NULL;
        cJSON *node = root, *val = cJSON_Parse(l->v[i].v);
        ok = path && val;
        char *tok = ok ? strtok_r(path, ".", &save) : NULL;
        while (ok && tok) {
            char *next = strtok_r(NULL, ".", &save);
            cJSON *child = cJSON_GetObjectItemCaseSensitive(node, tok);
            if (!next) {
                if (!child) {
                    ok = cJSON_AddItemToObject(node, tok, val);
                    val = NULL;
                }
            } else if (!child) {
                ok = (child = cJSON_AddObjectToObject(node, tok)) != NULL;
            }
            if (next && child && !cJSON_IsObject(child))
                break; /* "a" and "a.b" both set: the shorter one shows */
            node = child;
            tok = next;
        }
        cJSON_Delete(val);
        free(path);
    }
    char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!s)
        return false;
    buf_puts(b, s);
    free(s);
    return true;
}

/* ---- aliases of an index --------------------------------------------------------- */

static bool collect_alias(const char *alias, const char *index, int w, const char *opts, void *arg)
{
    store_alias_list *l = arg;
    if (l->n == l->cap && !GROW_ARRAY(l->rows, l->cap, l->n + 1, 16)) {
        l->oom = true;
        return false;
    }
    store_alias_row *r = &l->rows[l->n];
    r->alias = strdup(alias);
    r->index = strdup(index);
    r->w = w;
    r->opts = opts ? strdup(opts) : NULL;
    if (!r->alias || !r->index || (opts && !r->opts)) {
        free(r->alias);
        free(r->index);
        free(r->opts);
        l->oom = true;
        return false;
    }
    l->n++;
    return true;
}

bool store_indices_aliases_load(store_rtxn *t, store_alias_list *l)
{
    return store_engine_alias_each(t, collect_alias, l) && !l->oom;
}

void store_indices_aliases_free(store_alias_list *l)
{
    for (size_t i = 0; l && i < l->n; i++) {
        free(l->rows[i].alias);
        free(l->rows[i].index);
        free(l->rows[i].opts);
    }
    if (l) {
        free(l->rows);
        memset(l, 0, sizeof *l);
    }
}

void store_indices_put_alias_body(buf *b, const store_alias_row *r)
{
    size_t on = r->opts ? strlen(r->opts) : 0;
    bool members = on > 2; /* the stored text is an object, "{}" when empty */
    if (members)
        buf_append(b, r->opts, on - 1);
    else
        buf_putc(b, '{');
    if (r->w >= 0)
        buf_printf(b, "%s\"is_write_index\":%s", members ? "," : "", r->w ? "true" : "false");
    buf_putc(b, '}');
}

static void put_aliases_of(buf *b, const store_alias_list *l, const char *index)
{
    size_t k = 0;
    buf_putc(b, '{');
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->rows[i].index, index) != 0)
            continue;
        if (k++)
            buf_putc(b, ',');
        jstr(b, l->rows[i].alias);
        buf_putc(b, ':');
        store_indices_put_alias_body(b, &l->rows[i]);
    }
    buf_putc(b, '}');
}

/* ---- endpoints ------------------------------------------------------------------- */

/* Keep in `l` only the keys one of the comma-separated patterns `names` matches. */
static void kv_keep(kvlist *l, const char *names)
{
    size_t w = 0;
    for (size_t i = 0; i < l->n; i++) {
        bool hit = false;
        for (const char *p = names; !hit && *p;) {
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            hit = (len == 4 && strncmp(p, "_all", 4) == 0) ||
                  store_util_glob(p, len, l->v[i].k, strlen(l->v[i].k));
            p += len + (c ? 1 : 0);
        }
        if (hit) {
            l->v[w++] = l->v[i];
        } else {
            free(l->v[i].k);
            free(l->v[i].v);
        }
    }
    l->n = w;
}

bool store_indices_get(store_engine *e, const store_req *req, const char *expr, bool settings, bool head,
                       const char *setting_names, store_resp *r, store_error *err)
{
    bool flat = param_true(req, "flat_settings"), defaults = param_true(req, "include_defaults");
    char **names = NULL;
    size_t n = 0;
    store_alias_list al = {0};
    bool ok = false;
    store_rtxn *t = store_engine_read_begin(e);
    if (!t)
        return storage(err);
    /* HEAD (indices.exists) is strict about an expression naming nothing. */
    if (!store_indices_resolve(t, req, expr, !head, &names, &n, err))
        goto done;
    if (head) {
        ok = true;
        goto done;
    }
    if (!settings && !store_indices_aliases_load(t, &al)) {
        if (al.oom)
            oom(err);
        else
            storage(err);
        goto done;
    }
    buf *b = &r->body;
    buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        store_index_meta meta;
        buf st = BUF_INIT, mp = BUF_INIT;
        kvlist kl = {0};
        store_lookup rc = store_engine_index_get(t, names[i], &meta, &st, &mp);
        bool one = rc == STORE_LOOKUP_FOUND ? settings_list(&meta, st.data, st.len, &kl) || oom(err)
                                            : rc == STORE_LOOKUP_MISSING || storage(err);
        if (one && rc == STORE_LOOKUP_FOUND) {
            size_t mark = b->len;
            if (b->len > 1)
                buf_putc(b, ',');
            jstr(b, meta.name);
            buf_putc(b, ':');
            buf_putc(b, '{');
            if (!settings) {
                buf_puts(b, "\"aliases\":");
                put_aliases_of(b, &al, meta.name);
                buf_puts(b, ",\"mappings\":");
                buf_append(b, mp.len ? mp.data : "{}", mp.len ? mp.len : 2);
                buf_putc(b, ',');
            }
            kvlist dl = {0};
            if (settings && defaults)
                one = defaults_list(&kl, &dl) || oom(err);
            if (setting_names) {
                kv_keep(&kl, setting_names);
                kv_keep(&dl, setting_names);
            }
            buf_puts(b, "\"settings\":");
            one = one && (put_settings(b, &kl, flat) || oom(err));
            if (one && settings && defaults) {
                buf_puts(b, ",\"defaults\":");
                one = put_settings(b, &dl, flat) || oom(err);
            }
            bool none = setting_names && kl.n == 0 && dl.n == 0;
            kv_free(&dl);
            buf_putc(b, '}');
            if (none && one) { /* an index none of whose settings is named is left out */
                b->len = mark;
                b->data[mark] = '\0';
            }
        }
        kv_free(&kl);
        buf_free(&st);
        buf_free(&mp);
        if (!one)
            goto done;
    }
    buf_putc(b, '}');
    ok = true;
done:
    store_indices_aliases_free(&al);
    store_search_indices_free(names, n);
    store_engine_read_end(t);
    return ok;
}

bool store_indices_refresh(store_engine *e, const store_req *req, const char *expr, store_resp *r,
                           store_error *err)
{
    char **names = NULL;
    size_t n = 0;
    store_rtxn *t = store_engine_read_begin(e);
    if (!t)
        return storage(err);
    bool ok = store_indices_resolve(t, req, expr, true, &names, &n, err);
    /* As Elasticsearch's broadcast: every copy counts in total, the
     * replicas a one-node cluster cannot allocate are not successful. */
    size_t total = 0;
    for (size_t i = 0; ok && i < n; i++) {
        store_index_meta meta;
        store_lookup rc = store_engine_index_get(t, names[i], &meta, NULL, NULL);
        if (rc == STORE_LOOKUP_FAILED)
            ok = storage(err);
        total += rc == STORE_LOOKUP_FOUND ? 1 + (size_t)meta.replicas : 0;
    }
    store_engine_read_end(t);
    store_search_indices_free(names, n);
    if (ok)
        buf_printf(&r->body, "{\"_shards\":{\"total\":%zu,\"successful\":%zu,\"failed\":0}}", total, n);
    return ok;
}

/* The metas of the indices `expr` names; NULL expr: every index, dot-indices
 * included (_cat lists them all). */
typedef struct mlist {
    store_index_meta *v;
    size_t n, cap;
} mlist;

static bool collect_meta(const store_index_meta *m, void *arg)
{
    mlist *l = arg;
    if (!GROW_ARRAY(l->v, l->cap, l->n + 1, 16))
        return false;
    l->v[l->n++] = *m;
    return true;
}

static bool metas_of(store_rtxn *t, const store_req *req, const char *expr, mlist *out, store_error *err)
{
    if (!expr || strcmp(expr, "_all") == 0 || strcmp(expr, "*") == 0)
        return store_engine_index_each(t, collect_meta, out) || storage(err);
    char **names = NULL;
    size_t n = 0;
    if (!store_indices_resolve(t, req, expr, true, &names, &n, err))
        return false;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        store_index_meta m;
        store_lookup rc = store_engine_index_get(t, names[i], &m, NULL, NULL);
        if (rc == STORE_LOOKUP_FAILED)
            ok = storage(err);
        else if (rc == STORE_LOOKUP_FOUND && !collect_meta(&m, out))
            ok = oom(err);
    }
    store_search_indices_free(names, n);
    return ok;
}

/* RestIndicesAction's columns, in its order. verstore fills the first ones;
 * the statistics it does not keep are null cells, as Elasticsearch prints a
 * statistic it has none of. */
#define STAT(n, a, d) {n, a, d, true, true, true}, {"pri." n, NULL, d, true, true, false}
static const store_cat_col indices_cols[] = {
    {"health", "h", "current health status", false, false, false},
    {"status", "s", "open/close status", false, false, false},
    {"index", "i,idx", "index name", false, false, false},
    {"uuid", "id,uuid", "index uuid", false, false, false},
    {"pri", "p,shards.primary,shardsPrimary", "number of primary shards", false, true, false},
    {"rep", "r,shards.replica,shardsReplica", "number of replica shards", false, true, false},
    {"docs.count", "dc,docsCount", "available docs", false, true, false},
    {"docs.deleted", "dd,docsDeleted", "deleted docs", false, true, false},
    {"creation.date", "cd", "index creation date (millisecond value)", true, false, false},
    {"creation.date.string", "cds", "index creation date (as string)", true, false, false},
    {"store.size", "ss,storeSize", "store size of primaries & replicas", false, true, true},
    {"pri.store.size", NULL, "store size of primaries", false, true, false},
    {"dataset.size", NULL, "total size of dataset", false, true, false},
    STAT("completion.size", "cs,completionSize", "size of completion"),
    STAT("fielddata.memory_size", "fm,fielddataMemory", "used fielddata cache"),
    STAT("fielddata.evictions", "fe,fielddataEvictions", "fielddata evictions"),
    STAT("query_cache.memory_size", "qcm,queryCacheMemory", "used query cache"),
    STAT("query_cache.evictions", "qce,queryCacheEvictions", "query cache evictions"),
    STAT("request_cache.memory_size", "rcm,requestCacheMemory", "used request cache"),
    STAT("request_cache.evictions", "rce,requestCacheEvictions", "request cache evictions"),
    STAT("request_cache.hit_count", "rchc,requestCacheHitCount", "request cache hit count"),
    STAT("request_cache.miss_count", "rcmc,requestCacheMissCount", "request cache miss count"),
    STAT("flush.total", "ft,flushTotal", "number of flushes"),
    STAT("flush.total_time", "ftt,flushTotalTime", "time spent in flush"),
    STAT("get.current", "gc,getCurrent", "number of current get ops"),
    STAT("get.time", "gti,getTime", "time spent in get"),
    STAT("get.total", "gto,getTotal", "number of get ops"),
    STAT("get.exists_time", "geti,getExistsTime", "time spent in successful gets"),
    STAT("get.exists_total", "geto,getExistsTotal", "number of successful gets"),
    STAT("get.missing_time", "gmti,getMissingTime", "time spent in failed gets"),
    STAT("get.missing_total", "gmto,getMissingTotal", "number of failed gets"),
    STAT("indexing.delete_current", "idc,indexingDeleteCurrent", "number of current deletions"),
    STAT("indexing.delete_time", "idti,indexingDeleteTime", "time spent in deletions"),
    STAT("indexing.delete_total", "idto,indexingDeleteTotal", "number of delete ops"),
    STAT("indexing.index_current", "iic,indexingIndexCurrent", "number of current indexing ops"),
    STAT("indexing.index_time", "iiti,indexingIndexTime", "time spent in indexing"),
    STAT("indexing.index_total", "iito,indexingIndexTotal", "number of indexing ops"),
    STAT("indexing.index_failed", "iif,indexingIndexFailed", "number of failed indexing ops"),
    STAT("merges.current", "mc,mergesCurrent", "number of current merges"),
    STAT("merges.current_docs", "mcd,mergesCurrentDocs", "number of current merging docs"),
    STAT("merges.current_size", "mcs,mergesCurrentSize", "size of current merges"),
    STAT("merges.total", "mt,mergesTotal", "number of completed merge ops"),
    STAT("merges.total_docs", "mtd,mergesTotalDocs", "docs merged"),
    STAT("merges.total_size", "mts,mergesTotalSize", "size merged"),
    STAT("merges.total_time", "mtt,mergesTotalTime", "time spent in merges"),
    STAT("refresh.total", "rto,refreshTotal", "total refreshes"),
    STAT("refresh.time", "rti,refreshTime", "time spent in refreshes"),
    STAT("refresh.external_total", "rto,refreshTotal", "total external refreshes"),
    STAT("refresh.external_time", "rti,refreshTime", "time spent in external refreshes"),
    STAT("refresh.listeners", "rli,refreshListeners", "number of pending refresh listeners"),
    STAT("search.fetch_current", "sfc,searchFetchCurrent", "current fetch phase ops"),
    STAT("search.fetch_time", "sfti,searchFetchTime", "time spent in fetch phase"),
    STAT("search.fetch_total", "sfto,searchFetchTotal", "total fetch ops"),
    STAT("search.open_contexts", "so,searchOpenContexts", "open search contexts"),
    STAT("search.query_current", "sqc,searchQueryCurrent", "current query phase ops"),
    STAT("search.query_time", "sqti,searchQueryTime", "time spent in query phase"),
    STAT("search.query_total", "sqto,searchQueryTotal", "total query phase ops"),
    STAT("search.scroll_current", "scc,searchScrollCurrent", "open scroll contexts"),
    STAT("search.scroll_time", "scti,searchScrollTime", "time scroll contexts held open"),
    STAT("search.scroll_total", "scto,searchScrollTotal", "completed scroll contexts"),
    STAT("segments.count", "sc,segmentsCount", "number of segments"),
    STAT("segments.memory", "sm,segmentsMemory", "memory used by segments"),
    STAT("segments.index_writer_memory", "siwm,segmentsIndexWriterMemory", "memory used by index writer"),
    STAT("segments.version_map_memory", "svmm,segmentsVersionMapMemory", "memory used by version map"),
    STAT("segments.fixed_bitset_memory", "sfbm,fixedBitsetMemory",
         "memory used by fixed bit sets for nested object field types and type filters for types referred in "
         "_parent fields"),
    STAT("warmer.current", "wc,warmerCurrent", "current warmer ops"),
    STAT("warmer.total", "wto,warmerTotal", "total warmer ops"),
    STAT("warmer.total_time", "wtt,warmerTotalTime", "time spent in warmers"),
    STAT("suggest.current", "suc,suggestCurrent", "number of current suggest ops"),
    STAT("suggest.time", "suti,suggestTime", "time spend in suggest"),
    STAT("suggest.total", "suto,suggestTotal", "number of suggest ops"),
    {"memory.total", "tm,memoryTotal", "total used memory", true, true, true},
    {"pri.memory.total", NULL, "total user memory", true, true, false},
    {"search.throttled", "sth", "indicates if the index is search throttled", true, false, false},
    STAT("bulk.total_operations", "bto,bulkTotalOperation", "number of bulk shard ops"),
    STAT("bulk.total_time", "btti,bulkTotalTime", "time spend in shard bulk"),
    STAT("bulk.total_size_in_bytes", "btsi,bulkTotalSizeInBytes", "total size in bytes of shard bulk"),
    STAT("bulk.avg_time", "bati,bulkAvgTime", "average time spend in shard bulk"),
    STAT("bulk.avg_size_in_bytes", "basi,bulkAvgSizeInBytes", "average size in bytes of shard bulk"),
};
#undef STAT

enum { IC_HEALTH, IC_STATUS, IC_INDEX, IC_UUID, IC_PRI, IC_REP, IC_DC, IC_DD, IC_CD, IC_CDS, IC_SS, IC_PSS, IC_DS };

static size_t col_of(const store_cat_col *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cols[i].name, name) == 0)
            return i;
    return 0;
}

/* strict_date_time in UTC: 2024-01-31T10:11:12.345Z. */
static void strict_date_time(int64_t ms, char *out, size_t n)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char d[32];
    strftime(d, sizeof d, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", d, (int)(ms % 1000));
}

/* ?health=green|yellow|red (ClusterHealthStatus.fromString). Every verstore
 * index is green. False with `err` for another value. */
static bool health_keeps(const store_req *req, bool *keep, store_error *err)
{
    const char *h = param(req, "health");
    *keep = true;
    if (!h)
        return true;
    if (strcasecmp(h, "green") == 0)
        return true;
    if (strcasecmp(h, "yellow") == 0 || strcasecmp(h, "red") == 0) {
        *keep = false;
        return true;
    }
    return store_error_set(err, 400, "illegal_argument_exception", "unknown cluster health status [%s]", h);
}

static bool cat_oom(store_cat_table *t, store_error *err)
{
    store_cat_free(t);
    return oom(err);
}

bool store_indices_cat_indices(store_engine *e, const store_req *req, const char *expr, store_resp *r,
                               store_error *err)
{
    const size_t ncols = sizeof indices_cols / sizeof indices_cols[0];
    store_cat_table tab;
    store_cat_init(&tab, indices_cols, ncols);
    if (store_cat_help_wanted(req))
        return store_cat_render(&tab, req, r, err);
    bool keep;
    if (!store_cat_check(req, err) || !health_keeps(req, &keep, err))
        return false;
    mlist l = {0};
    store_rtxn *t = store_engine_read_begin(e);
    if (!t)
        return storage(err);
    bool ok = metas_of(t, req, expr, &l, err);
    store_engine_read_end(t);
    size_t sth = col_of(indices_cols, ncols, "search.throttled");
    for (size_t i = 0; ok && keep && i < l.n; i++) {
        const store_index_meta *m = &l.v[i];
        char cds[48];
        store_cat_cell *row = store_cat_row(&tab);
        strict_date_time(m->created_ms, cds, sizeof cds);
        if (!row || !store_cat_str(&row[IC_HEALTH], "green") || !store_cat_str(&row[IC_STATUS], "open") ||
            !store_cat_str(&row[IC_INDEX], m->name) || !store_cat_str(&row[IC_UUID], m->uuid) ||
            !store_cat_str(&row[IC_CDS], cds) || !store_cat_str(&row[sth], "false")) {
            ok = cat_oom(&tab, err);
            break;
        }
        store_cat_long(&row[IC_PRI], 1);
        store_cat_long(&row[IC_REP], 0);
        store_cat_long(&row[IC_DC], m->docs_count);
        store_cat_long(&row[IC_DD], m->docs_deleted);
        store_cat_long(&row[IC_CD], m->created_ms);
        store_cat_bytes(&row[IC_SS], m->store_bytes);
        store_cat_bytes(&row[IC_PSS], m->store_bytes);
        store_cat_bytes(&row[IC_DS], m->store_bytes); /* verstore keeps no data outside the store */
    }
    free(l.v);
    ok = ok && store_cat_render(&tab, req, r, err);
    store_cat_free(&tab);
    return ok;
}

/* Does alias `name` match the comma list of names/patterns `only`? */
static bool alias_selected(const char *only, const char *name)
{
    if (!only)
        return true;
    const char *p = only;
    while (*p) {
        size_t len = strcspn(p, ",");
        if ((len == 4 && strncmp(p, "_all", 4) == 0) || store_util_glob(p, len, name, strlen(name)))
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static const store_cat_col alias_cols[] = {
    {"alias", "a", "alias name", false, false, false},
    {"index", "i,idx", "index alias points to", false, false, false},
    {"filter", "f,fi", "filter", false, false, false},
    {"routing.index", "ri,routingIndex", "index routing", false, false, false},
    {"routing.search", "rs,routingSearch", "search routing", false, false, false},
    {"is_write_index", "w,isWriteIndex", "write index", false, false, false},
};

bool store_indices_cat_aliases(store_engine *e, const store_req *req, const char *names, store_resp *r,
                               store_error *err)
{
    store_cat_table tab;
    store_cat_init(&tab, alias_cols, sizeof alias_cols / sizeof alias_cols[0]);
    if (store_cat_help_wanted(req))
        return store_cat_render(&tab, req, r, err);
    if (!store_cat_check(req, err))
        return false;
    store_alias_list al = {0};
    store_rtxn *t = store_engine_read_begin(e);
    if (!t)
        return storage(err);
    bool ok = store_indices_aliases_load(t, &al);
    store_engine_read_end(t);
    if (!ok) {
        if (al.oom)
            oom(err);
        else
            storage(err);
        store_indices_aliases_free(&al);
        return false;
    }
    for (size_t i = 0; ok && i < al.n; i++) {
        if (!alias_selected(names, al.rows[i].alias))
            continue;
        const char *w = al.rows[i].w == 1 ? "true" : al.rows[i].w == 0 ? "false" : "-";
        /* RestAliasAction: "*" for a filter, the routing values, "-" for none */
        cJSON *o = al.rows[i].opts ? cJSON_Parse(al.rows[i].opts) : NULL;
        const char *f = cJSON_GetObjectItemCaseSensitive(o, "filter") ? "*" : "-";
        const cJSON *ir = cJSON_GetObjectItemCaseSensitive(o, "index_routing");
        const cJSON *sr = cJSON_GetObjectItemCaseSensitive(o, "search_routing");
        const char *irs = cJSON_IsString(ir) ? ir->valuestring : "-", *srs = cJSON_IsString(sr) ? sr->valuestring : "-";
        store_cat_cell *row = store_cat_row(&tab);
        ok = row && store_cat_str(&row[0], al.rows[i].alias) && store_cat_str(&row[1], al.rows[i].index) &&
             store_cat_str(&row[2], f) && store_cat_str(&row[3], irs) && store_cat_str(&row[4], srs) &&
             store_cat_str(&row[5], w);
        cJSON_Delete(o);
        if (!ok)
            oom(err);
    }
    store_indices_aliases_free(&al);
    ok = ok && store_cat_render(&tab, req, r, err);
    store_cat_free(&tab);
    return ok;
}

/* Table.startHeadersWithTimestamp, then RestCountAction's column. */
static const store_cat_col count_cols[] = {
    {"epoch", "t,time", "seconds since 1970-01-01 00:00:00", false, false, false},
    {"timestamp", "ts,hms,hhmmss", "time in HH:MM:SS", false, false, false},
    {"count", "dc,docs.count,docsCount", "the document count", false, false, false},
};

bool store_indices_cat_count(store_engine *e, const store_req *req, const char *expr, store_resp *r,
                             store_error *err)
{
    store_cat_table tab;
    store_cat_init(&tab, count_cols, sizeof count_cols / sizeof count_cols[0]);
    if (store_cat_help_wanted(req))
        return store_cat_render(&tab, req, r, err);
    if (!store_cat_check(req, err))
        return false;
    store_rtxn *t = store_engine_read_begin(e);
    if (!t)
        return storage(err);
    /* _cat/count searches: dot-indices only when named, as _count does */
    char **names = NULL;
    size_t n = 0;
    bool ok = store_indices_resolve(t, req, expr, true, &names, &n, err);
    int64_t total = 0;
    for (size_t i = 0; ok && i < n; i++) {
        store_index_meta m;
        store_lookup rc = store_engine_index_get(t, names[i], &m, NULL, NULL);
        if (rc == STORE_LOOKUP_FAILED)
            ok = storage(err);
        else if (rc == STORE_LOOKUP_FOUND)
            total += m.docs_count;
    }
    store_search_indices_free(names, n);
    store_engine_read_end(t);
    if (!ok)
        return false;
    time_t now = (time_t)(store_util_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&now, &tm);
    char hms[16];
    strftime(hms, sizeof hms, "%H:%M:%S", &tm);
    store_cat_cell *row = store_cat_row(&tab);
    if (!row || !store_cat_str(&row[1], hms))
        return cat_oom(&tab, err);
    store_cat_long(&row[0], (int64_t)now);
    store_cat_long(&row[2], total);
    ok = store_cat_render(&tab, req, r, err);
    store_cat_free(&tab);
    return ok;
}

bool store_indices_health(store_engine *e, const store_req *req, const char *expr, store_resp *r,
                          store_error *err)
{
    mlist l = {0};
    store_rtxn *t = store_engine_read_begin(e);
    if (!t)
        return storage(err);
    bool missing = false;
    bool ok = metas_of(t, req, expr, &l, err);
    store_engine_read_end(t);
    if (!ok && err->index_missing) { /* ClusterHealthResponse after its wait times out */
        store_error_free(err);
        memset(err, 0, sizeof *err);
        missing = ok = true;
    }
    free(l.v);
    if (!ok)
        return false;
    if (missing)
        r->status = 408;
    buf_printf(&r->body,
               "{\"cluster_name\":\"verstore\",\"status\":\"%s\",\"timed_out\":%s,\"number_of_nodes\":1,"
               "\"number_of_data_nodes\":1,\"active_primary_shards\":%zu,\"active_shards\":%zu,"
               "\"relocating_shards\":0,\"initializing_shards\":0,\"unassigned_shards\":0,"
               "\"delayed_unassigned_shards\":0,\"number_of_pending_tasks\":0,\"number_of_in_flight_fetch\":0,"
               "\"task_max_waiting_in_queue_millis\":0,\"active_shards_percent_as_number\":100.0}",
               missing ? "red" : "green", missing ? "true" : "false", missing ? (size_t)0 : l.n,
               missing ? (size_t)0 : l.n);
    return true;
}
