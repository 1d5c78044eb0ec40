/* store_index — mappings (parsed, merged, limited, printed) and analysis; value encodings are in
 * store_index_enc.c, a document's index entries in store_index_doc.c. */
#include "versync/store/store_index.h"
#include "versync/store/store_index_int.h"
#include "versync/store/store_mapping_rules.h"
#include "versync/store/store_datefmt.h"

#include "versync/common/grow.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- mappings ------------------------------------------------------------ */

static void sort_props(cJSON *o);

bool store_index_path_join(char *out, const char *prefix, const char *name, size_t name_len)
{
    size_t pl = strlen(prefix);
    if (pl + 1 + name_len > STORE_INDEX_PATH_MAX)
        return false;
    memcpy(out, prefix, pl);
    if (pl)
        out[pl++] = '.';
    memcpy(out + pl, name, name_len);
    out[pl + name_len] = '\0';
    return true;
}

static const struct {
    const char *name;
    store_ftype type;
} type_names[] = {
    {"text", STORE_FT_TEXT},          {"match_only_text", STORE_FT_TEXT}, {"keyword", STORE_FT_KEYWORD},
    {"constant_keyword", STORE_FT_KEYWORD}, {"wildcard", STORE_FT_KEYWORD}, {"long", STORE_FT_LONG},
    {"integer", STORE_FT_LONG},       {"short", STORE_FT_LONG},           {"byte", STORE_FT_LONG},
    {"unsigned_long", STORE_FT_ULONG}, {"double", STORE_FT_DOUBLE},        {"float", STORE_FT_DOUBLE},
    {"half_float", STORE_FT_DOUBLE},  {"scaled_float", STORE_FT_DOUBLE},  {"boolean", STORE_FT_BOOLEAN},
    {"date", STORE_FT_DATE}, {"date_nanos", STORE_FT_DATE_NANOS},          {"object", STORE_FT_OBJECT},
};

/* Types verstore accepts in a mapping and keeps in _source without indexing
 * them (Elasticsearch's binary is not searchable either; range queries on the
 * range types are not supported): versync's generated mappings use them, so
 * one mapping serves verstore and Elasticsearch alike. Any value is taken. */
static const char *const stored_only[] = {"binary",     "integer_range", "long_range", "float_range",
                                          "double_range", "date_range",  "ip_range",   NULL};

static bool is_stored_only(const char *name)
{
    for (size_t i = 0; stored_only[i]; i++)
        if (strcmp(stored_only[i], name) == 0)
            return true;
    return false;
}

static store_ftype type_of(const char *name)
{
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
        if (strcmp(type_names[i].name, name) == 0)
            return type_names[i].type;
    return STORE_FT_NONE;
}

typedef struct flat {
    store_field *f;
    size_t n, cap;
    bool oom;
} flat;

static store_field *flat_add(flat *fl, const char *path, const char *type_name, store_ftype t)
{
    if (fl->n == fl->cap && !GROW_ARRAY(fl->f, fl->cap, fl->n + 1, 16)) {
        fl->oom = true;
        return NULL;
    }
    store_field *f = &fl->f[fl->n];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    f->type_name = strdup(type_name);
    if (!f->path || !f->type_name) {
        free(f->path);
        free(f->type_name);
        fl->oom = true;
        return NULL;
    }
    f->type = t;
    f->index = true;
    fl->n++;
    return f;
}

static int dynamic_of(const cJSON *o, int inherited, char *err, size_t errsz, const char *path)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "dynamic");
    if (!d)
        return inherited;
    if (cJSON_IsTrue(d) || (cJSON_IsString(d) && strcmp(d->valuestring, "true") == 0))
        return STORE_DYN_TRUE;
    if (cJSON_IsFalse(d) || (cJSON_IsString(d) && strcmp(d->valuestring, "false") == 0))
        return STORE_DYN_FALSE;
    if (cJSON_IsString(d) && strcmp(d->valuestring, "strict") == 0)
        return STORE_DYN_STRICT;
    snprintf(err, errsz, "Could not convert [%s.dynamic] to boolean", path[0] ? path : "_doc");
    return -1;
}

static bool walk_props(const cJSON *props, const char *prefix, int dyn, flat *fl, char *err, size_t errsz);

/* analyzer, search_analyzer, search_quote_analyzer of a text field. */
static bool field_analyzers(const cJSON *def, const char *name, store_field *f, char *err, size_t errsz)
{
    static const char *const keys[] = {"analyzer", "search_analyzer", "search_quote_analyzer"};
    char **dst[] = {&f->analyzer, &f->search_analyzer, &f->search_quote_analyzer};
    for (size_t i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(def, keys[i]);
        if (!v)
            continue;
        if (f->type != STORE_FT_TEXT) {
            snprintf(err, errsz, "unknown parameter [%s] on mapper [%s] of type [%s]", keys[i], name, f->type_name);
            return false;
        }
        if (!cJSON_IsString(v) || !v->valuestring[0]) {
            snprintf(err, errsz, "[%s] on field [%s] must be an analyzer name", keys[i], name);
            return false;
        }
        if (!(*dst[i] = strdup(v->valuestring))) {
            err[0] = '\0';
            return false;
        }
    }
    if (f->search_analyzer && !f->analyzer) {
        snprintf(err, errsz, "analyzer on field [%s] must be set when search_analyzer is set", name);
        return false;
    }
    if (f->search_quote_analyzer && !f->search_analyzer) {
        snprintf(err, errsz, "analyzer and search_analyzer on field [%s] must be set when search_quote_analyzer is set",
                 name);
        return false;
    }
    return true;
}

/* One property `name` (JSON `def`) under `prefix`. */
static bool walk_field(const cJSON *def, const char *prefix, const char *name, int dyn, bool sub, flat *fl, char *err,
                       size_t errsz)
{
    char path[STORE_INDEX_PATH_MAX + 1];
    if (!name[0] || !store_index_path_join(path, prefix, name, strlen(name))) {
        snprintf(err, errsz, "field name cannot be an empty string, and paths are limited to %d bytes",
                 STORE_INDEX_PATH_MAX);
        return false;
    }
    if (!cJSON_IsObject(def)) {
        snprintf(err, errsz, "Expected map for property [fields] on field [%s] but got a class java.lang.String", name);
        return false;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(def, "type");
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(def, "properties");
    const char *tn = cJSON_IsString(t) ? t->valuestring : props || !t ? "object" : NULL;
    if (!tn) {
        snprintf(err, errsz, "No type specified for field [%s]", name);
        return false;
    }
    bool opaque = is_stored_only(tn);
    store_ftype ft = opaque ? STORE_FT_KEYWORD : type_of(tn);
    if (ft == STORE_FT_NONE) {
        if (strcmp(tn, "nested") == 0 || strcmp(tn, "flattened") == 0 || strcmp(tn, "geo_point") == 0)
            snprintf(err, errsz, "verstore does not support fields of type [%s] (field [%s])", tn, name);
        else
            snprintf(err, errsz, "No handler for type [%s] declared on field [%s]", tn, name);
        return false;
    }
    if (sub && ft == STORE_FT_OBJECT) {
        snprintf(err, errsz, "Type [object] cannot be used in multi field [%s]", name);
        return false;
    }
    store_field *f = flat_add(fl, path, tn, ft);
    if (!f)
        return false;
    f->subfield = sub;
    f->dynamic = dyn;
    if (opaque) {
        f->index = false;
        f->opaque = true;
        return true;
    }
    if (ft == STORE_FT_OBJECT) {
        int d = dynamic_of(def, dyn, err, errsz, path);
        if (d < 0)
            return false;
        fl->f[fl->n - 1].dynamic = d;
        return !props || walk_props(props, path, d, fl, err, errsz);
    }
    const cJSON *ia = cJSON_GetObjectItemCaseSensitive(def, "ignore_above");
    if (ia) {
        if (!cJSON_IsNumber(ia) || ia->valuedouble < 0 || ia->valuedouble > 2147483647.0) {
            snprintf(err, errsz, "[ignore_above] on field [%s] must be a non-negative integer", name);
            return false;
        }
        f->ignore_above = (int)ia->valuedouble;
    }
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(def, "index");
    if (ix && cJSON_IsFalse(ix))
        f->index = false;
    if (strcmp(f->type_name, "scaled_float") == 0) { /* ScaledFloatFieldMapper's validator */
        const cJSON *sf = cJSON_GetObjectItemCaseSensitive(def, "scaling_factor");
        double v = cJSON_IsNumber(sf) ? sf->valuedouble : cJSON_IsString(sf) ? strtod(sf->valuestring, NULL) : 0;
        if (!sf) {
            snprintf(err, errsz, "Field [scaling_factor] is required");
            return false;
        }
        if (!isfinite(v) || v <= 0) {
            snprintf(err, errsz, "[scaling_factor] must be a positive number, got [%g]", v);
            return false;
        }
        f->scaling_factor = v;
    }
    const cJSON *fmt = f->type == STORE_FT_DATE || f->type == STORE_FT_DATE_NANOS
                          ? cJSON_GetObjectItemCaseSensitive(def, "format")
                          : NULL;
    if (fmt) { /* documents are parsed with it (store_datefmt); a pattern it cannot apply is refused now */
        if (!cJSON_IsString(fmt)) {
            snprintf(err, errsz, "[format] on field [%s] must be a string", name);
            return false;
        }
        if (!store_datefmt_valid(fmt->valuestring, err, errsz))
            return false;
        if (!(f->date_format = strdup(fmt->valuestring))) {
            fl->oom = true;
            err[0] = '\0';
            return false;
        }
    }
    if (!field_analyzers(def, name, f, err, errsz)) {
        fl->oom = !err[0];
        return false;
    }
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(def, "fields");
    if (fields) {
        if (!cJSON_IsObject(fields)) {
            snprintf(err, errsz, "Expected map for property [fields] on field [%s]", name);
            return false;
        }
        for (const cJSON *s = fields->child; s; s = s->next)
            if (!walk_field(s, path, s->string, dyn, true, fl, err, errsz))
                return false;
    }
    return true;
}

static bool walk_props(const cJSON *props, const char *prefix, int dyn, flat *fl, char *err, size_t errsz)
{
    if (!cJSON_IsObject(props)) {
        snprintf(err, errsz, "Expected map for property [properties] on field [%s]", prefix[0] ? prefix : "_doc");
        return false;
    }
    for (const cJSON *p = props->child; p; p = p->next)
        if (!walk_field(p, prefix, p->string, dyn, false, fl, err, errsz))
            return false;
    return true;
}

static int field_cmp(const void *a, const void *b)
{
    return strcmp(((const store_field *)a)->path, ((const store_field *)b)->path);
}

static void fields_free(store_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].path);
        free(f[i].type_name);
        free(f[i].analyzer);
        free(f[i].search_analyzer);
        free(f[i].search_quote_analyzer);
        free(f[i].date_format);
    }
    free(f);
}

/* Rebuild m->fields/dynamic from m->json. */
static bool mapping_flatten(store_mapping *m, char *err, size_t errsz)
{
    flat fl = {0};
    int dyn = dynamic_of(m->json, STORE_DYN_TRUE, err, errsz, "");
    if (dyn < 0)
        return false;
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(m->json, "properties");
    if (props && !walk_props(props, "", dyn, &fl, err, errsz)) {
        if (fl.oom)
            snprintf(err, errsz, "out of memory");
        fields_free(fl.f, fl.n);
        return false;
    }
    if (fl.n)
        qsort(fl.f, fl.n, sizeof *fl.f, field_cmp);
    for (size_t i = 1; i < fl.n; i++)
        if (strcmp(fl.f[i - 1].path, fl.f[i].path) == 0) {
            snprintf(err, errsz, "Field [%s] is defined more than once", fl.f[i].path);
            fields_free(fl.f, fl.n);
            return false;
        }
    fields_free(m->fields, m->n);
    m->fields = fl.f;
    m->n = fl.n;
    m->dynamic = (store_dynamic)dyn;
    return true;
}

static const char *const root_keys[] = {"properties", "dynamic", "_source", "date_detection", "numeric_detection",
                                        "_meta", "_routing", "dynamic_templates", "_field_names", NULL};

static bool root_key(const char *k)
{
    for (size_t i = 0; root_keys[i]; i++)
        if (strcmp(root_keys[i], k) == 0)
            return true;
    return false;
}

bool store_mapping_parse(const char *json, size_t len, store_mapping *out, char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    cJSON *j = len ? cJSON_ParseWithLength(json, len) : cJSON_CreateObject();
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        snprintf(err, errsz, "mappings must be a JSON object");
        return false;
    }
    /* A legacy type name wrapping the mapping ({"_doc":{"properties":…}}). */
    if (j->child && !j->child->next && !root_key(j->child->string) && cJSON_IsObject(j->child)) {
        cJSON *inner = cJSON_DetachItemViaPointer(j, j->child);
        cJSON_Delete(j);
        j = inner;
    }
    for (const cJSON *k = j->child; k; k = k->next)
        if (!root_key(k->string)) {
            snprintf(err, errsz, "Root mapping definition has unsupported parameters:  [%s : ...]", k->string);
            cJSON_Delete(j);
            return false;
        }
    sort_props(j);
    out->json = j;
    if (!mapping_flatten(out, err, errsz)) {
        store_mapping_free(out);
        return false;
    }
    return true;
}

const store_field *store_mapping_find(const store_mapping *m, const char *path)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->fields[mid].path, path);
        if (c == 0)
            return &m->fields[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static const char *def_type(const cJSON *def)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(def, "type");
    if (cJSON_IsString(t))
        return t->valuestring;
    return "object";
}

/* Merge property map `add` into `dst` (both {"name": def}). */
static bool merge_props(cJSON *dst, const cJSON *add, const char *prefix, char *err, size_t errsz)
{
    for (const cJSON *a = add->child; a; a = a->next) {
        char path[STORE_INDEX_PATH_MAX + 1];
        if (!store_index_path_join(path, prefix, a->string, strlen(a->string))) {
            snprintf(err, errsz, "field paths are limited to %d bytes", STORE_INDEX_PATH_MAX);
            return false;
        }
        cJSON *d = cJSON_GetObjectItemCaseSensitive(dst, a->string);
        if (!d) {
            cJSON *copy = cJSON_Duplicate(a, true);
            if (!copy || !cJSON_AddItemToObject(dst, a->string, copy)) {
                cJSON_Delete(copy);
                snprintf(err, errsz, "out of memory");
                return false;
            }
            continue;
        }
        if (!cJSON_IsObject(a) || !cJSON_IsObject(d)) {
            snprintf(err, errsz, "Expected map for property [%s]", path);
            return false;
        }
        const char *ta = def_type(a), *td = def_type(d);
        if (strcmp(ta, td) != 0) {
            snprintf(err, errsz, "mapper [%s] cannot be changed from type [%s] to [%s]", path, td, ta);
            return false;
        }
        for (const cJSON *k = a->child; k; k = k->next) {
            cJSON *dk = cJSON_GetObjectItemCaseSensitive(d, k->string);
            bool nested = strcmp(k->string, "properties") == 0 || strcmp(k->string, "fields") == 0;
            if (nested && dk && cJSON_IsObject(k) && cJSON_IsObject(dk)) {
                if (!merge_props(dk, k, path, err, errsz))
                    return false;
                continue;
            }
            /* The index analyzer is fixed once a field has one (the
             * search analyzers may change), as in Elasticsearch. */
            if (strcmp(k->string, "analyzer") == 0 && strcmp(ta, "text") == 0 &&
                !(cJSON_IsString(k) && cJSON_IsString(dk) && strcmp(k->valuestring, dk->valuestring) == 0)) {
                snprintf(err, errsz,
                         "Mapper for [%s] conflicts with existing mapper:\n\tCannot update parameter [analyzer] "
                         "from [%s] to [%s]",
                         path, cJSON_IsString(dk) ? dk->valuestring : "default",
                         cJSON_IsString(k) ? k->valuestring : "?");
                return false;
            }
            cJSON *copy = cJSON_Duplicate(k, true);
            if (!copy) {
                snprintf(err, errsz, "out of memory");
                return false;
            }
            if (dk)
                cJSON_ReplaceItemViaPointer(d, dk, copy);
            else
                cJSON_AddItemToObject(d, k->string, copy);
        }
    }
    return true;
}

static int by_name(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string, y->string);
}

/* Sort the members of `k` by name: O(n) when they already are (a stored
 * mapping), O(n log n) otherwise. Returns false when out of memory (the
 * members are then left as they were). */
static bool sort_members(cJSON *k)
{
    size_t n = 0;
    bool sorted = true;
    for (cJSON *c = k->child; c; c = c->next, n++)
        if (c->next && strcmp(c->string, c->next->string) > 0)
            sorted = false;
    if (sorted)
        return true;
    cJSON **v = malloc(n * sizeof *v);
    if (!v)
        return false;
    n = 0;
    for (cJSON *c = k->child; c; c = c->next)
        v[n++] = c;
    qsort(v, n, sizeof *v, by_name);
    for (size_t i = 0; i < n; i++) {
        v[i]->prev = i ? v[i - 1] : v[n - 1]; /* cJSON keeps the tail in the head's prev */
        v[i]->next = i + 1 < n ? v[i + 1] : NULL;
    }
    k->child = v[0];
    free(v);
    return true;
}

/* Order every "properties" and "fields" map by name, as Elasticsearch prints mappings. */
static void sort_props(cJSON *o)
{
    for (cJSON *k = o ? o->child : NULL; k; k = k->next) {
        if (!cJSON_IsObject(k))
            continue;
        if (strcmp(k->string, "properties") == 0 || strcmp(k->string, "fields") == 0) {
            sort_members(k); /* out of memory: printed unsorted, still correct */
            for (cJSON *c = k->child; c; c = c->next)
                sort_props(c);
        } else {
            sort_props(k);
        }
    }
}

bool store_mapping_merge(store_mapping *m, const cJSON *add, char *err, size_t errsz)
{
    if (!cJSON_IsObject(add)) {
        snprintf(err, errsz, "mappings must be a JSON object");
        return false;
    }
    /* No type wrapper: PUT _mapping refuses `_doc` before this (store_mapping_rules), any other is an unknown root parameter. */
    const cJSON *src = add;
    for (const cJSON *k = src->child; k; k = k->next)
        if (!root_key(k->string)) {
            snprintf(err, errsz, "Root mapping definition has unsupported parameters:  [%s : ...]", k->string);
            return false;
        }
    cJSON *j = m->json ? cJSON_Duplicate(m->json, true) : cJSON_CreateObject();
    if (!j) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    bool ok = true;
    for (const cJSON *k = src->child; ok && k; k = k->next) {
        cJSON *dk = cJSON_GetObjectItemCaseSensitive(j, k->string);
        if (strcmp(k->string, "properties") == 0) {
            if (!cJSON_IsObject(k)) {
                snprintf(err, errsz, "Expected map for property [properties] on field [_doc]");
                ok = false;
            } else if (!dk) {
                cJSON *copy = cJSON_Duplicate(k, true);
                ok = copy && cJSON_AddItemToObject(j, "properties", copy);
            } else {
                ok = merge_props(dk, k, "", err, errsz);
            }
        } else if (strcmp(k->string, "_source") == 0) {
            ok = store_mapping_rules_merge_source(j, k, err, errsz);
        } else {
            cJSON *copy = cJSON_Duplicate(k, true);
            ok = copy != NULL;
            if (ok && dk)
                cJSON_ReplaceItemViaPointer(j, dk, copy);
            else if (ok)
                cJSON_AddItemToObject(j, k->string, copy);
        }
    }
    if (!ok) {
        cJSON_Delete(j);
        return false;
    }
    sort_props(j);
    store_mapping next = {NULL, 0, STORE_DYN_TRUE, j, m->total_fields_limit, m->depth_limit, m->name_length_limit, m->an};
    if (!mapping_flatten(&next, err, errsz)) {
        cJSON_Delete(j);
        return false;
    }
    if (!store_mapping_check_limits(m, &next, err, errsz)) {
        next.an = NULL; /* still m's */
        store_mapping_free(&next);
        return false;
    }
    if (m->an && !store_mapping_check_analysis(&next, err, errsz)) {
        fields_free(next.fields, next.n);
        cJSON_Delete(j);
        return false;
    }
    m->an = NULL;
    store_mapping_free(m);
    *m = next;
    return true;
}

/* The setting at dotted `path` under `o`, whatever mix of nesting and
 * dotted keys spells it ({"index":{"mapping.total_fields":{"limit":5}}}). */
static const cJSON *setting_at(const cJSON *o, const char *path)
{
    for (const cJSON *k = o ? o->child : NULL; k; k = k->next) {
        size_t kl = strlen(k->string);
        if (strcmp(k->string, path) == 0)
            return k;
        if (cJSON_IsObject(k) && strncmp(k->string, path, kl) == 0 && path[kl] == '.') {
            const cJSON *v = setting_at(k, path + kl + 1);
            if (v)
                return v;
        }
    }
    return NULL;
}

static int64_t limit_setting(const cJSON *s, const char *name, int64_t def)
{
    char full[96];
    snprintf(full, sizeof full, "index.%s", name);
    const cJSON *v = setting_at(s, full);
    if (!v)
        v = setting_at(s, name);
    if (cJSON_IsNumber(v))
        return v->valuedouble < 0 ? def : (int64_t)v->valuedouble;
    if (cJSON_IsString(v)) {
        char *end;
        long long n = strtoll(v->valuestring, &end, 10);
        if (end != v->valuestring && !*end && n >= 0)
            return n;
    }
    return def;
}

void store_mapping_limits_from_settings(store_mapping *m, const char *settings, size_t n)
{
    cJSON *s = n ? cJSON_ParseWithLength(settings, n) : NULL;
    m->total_fields_limit = limit_setting(s, "mapping.total_fields.limit", 0);
    m->depth_limit = limit_setting(s, "mapping.depth.limit", 0);
    m->name_length_limit = limit_setting(s, "mapping.field_name_length.limit", 0);
    cJSON_Delete(s);
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

bool store_mapping_check_limits(const store_mapping *prev, const store_mapping *next, char *err, size_t errsz)
{
    int64_t total = next->total_fields_limit ? next->total_fields_limit : STORE_DEFAULT_TOTAL_FIELDS;
    int64_t depth = next->depth_limit ? next->depth_limit : STORE_DEFAULT_MAPPING_DEPTH;
    size_t before = prev ? prev->n : 0;
    if ((int64_t)next->n > total && next->n > before) {
        snprintf(err, errsz, "Limit of total fields [%" PRId64 "] has been exceeded while adding new fields [%zu]",
                 total, next->n - before);
        return false;
    }
    for (size_t i = 0; i < next->n; i++) {
        const store_field *f = &next->fields[i];
        if (prev && store_mapping_find(prev, f->path))
            continue; /* only what is added is held to the limits */
        const char *leaf = strrchr(f->path, '.');
        leaf = leaf ? leaf + 1 : f->path;
        if (next->name_length_limit && (int64_t)utf8_len(leaf) > next->name_length_limit) {
            snprintf(err, errsz, "Field name [%s] is longer than the limit of [%" PRId64 "] characters", leaf,
                     next->name_length_limit);
            return false;
        }
        if (f->type == STORE_FT_OBJECT) {
            int64_t d = 2; /* the root is depth 1, an object under it 2 */
            for (const char *c = f->path; *c; c++)
                d += *c == '.';
            if (d > depth) {
                snprintf(err, errsz, "Limit of mapping depth [%" PRId64 "] has been exceeded due to object field [%s]",
                         depth, f->path);
                return false;
            }
        }
    }
    return true;
}

bool store_mapping_print(const store_mapping *m, buf *out)
{
    if (!m->json)
        return buf_puts(out, "{}");
    char *s = cJSON_PrintUnformatted(m->json);
    if (!s)
        return false;
    bool ok = buf_puts(out, s);
    free(s);
    return ok;
}

void store_mapping_free(store_mapping *m)
{
    if (!m)
        return;
    fields_free(m->fields, m->n);
    cJSON_Delete(m->json);
    analysis_registry_free(m->an);
    memset(m, 0, sizeof *m);
}

bool store_mapping_set_analysis(store_mapping *m, const char *settings, size_t n, char *err, size_t errsz)
{
    analysis_registry_free(m->an);
    m->an = analysis_registry_new(settings, n, err, errsz);
    if (m->an)
        return true;
    char ignored[64];
    m->an = analysis_registry_new(NULL, 0, ignored, sizeof ignored);
    return false;
}

bool store_mapping_check_analysis(store_mapping *m, char *err, size_t errsz)
{
    char tmp[64];
    if (!m->an && !(m->an = analysis_registry_new(NULL, 0, tmp, sizeof tmp))) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    for (size_t i = 0; i < m->n; i++) {
        const char *names[] = {m->fields[i].analyzer, m->fields[i].search_analyzer, m->fields[i].search_quote_analyzer};
        for (size_t k = 0; k < 3; k++)
            if (names[k] && !analysis_get(m->an, names[k])) {
                snprintf(err, errsz, "analyzer [%s] has not been configured in mappings", names[k]);
                return false;
            }
    }
    return true;
}

/* ---- analysis ------------------------------------------------------------ */

analysis_analyzer *store_index_field_analyzer(store_mapping *m, const store_field *f, bool search, bool quote)
{
    char err[64];
    if (!m->an && !(m->an = analysis_registry_new(NULL, 0, err, sizeof err)))
        return NULL;
    const char *name = NULL;
    if (f && search && quote && f->search_quote_analyzer)
        name = f->search_quote_analyzer;
    else if (f && search && f->search_analyzer)
        name = f->search_analyzer;
    else if (f && f->analyzer)
        name = f->analyzer;
    analysis_analyzer *a = name ? analysis_get(m->an, name) : NULL;
    return a ? a : analysis_default(m->an, search);
}

static bool run_analyzer(analysis_analyzer *a, const char *text, size_t len, store_token_fn fn, void *arg)
{
    analysis_tokens t = {0};
    bool ok = a && analysis_run(a, text, len, 0, 0, &t, NULL);
    for (size_t i = 0; ok && i < t.n; i++)
        if (t.v[i].len)
            ok = fn(t.v[i].term, t.v[i].len, arg);
    analysis_tokens_free(&t);
    return ok;
}

int store_index_analyze_named(store_mapping *m, const char *name, const char *text, size_t len, store_token_fn fn,
                              void *arg)
{
    char err[64];
    if (!m->an && !(m->an = analysis_registry_new(NULL, 0, err, sizeof err)))
        return 0;
    analysis_analyzer *a = analysis_get(m->an, name);
    if (!a)
        return -1;
    return run_analyzer(a, text, len, fn, arg);
}

bool store_index_analyze(store_mapping *m, const store_field *f, bool search, bool quote, const char *text,
                         size_t len, store_token_fn fn, void *arg)
{
    return run_analyzer(store_index_field_analyzer(m, f, search, quote), text, len, fn, arg);
}

int store_index_analyze_pos(store_mapping *m, const store_field *f, bool quote, const char *name, const char *text,
                            size_t len, store_token_pos_fn fn, void *arg)
{
    analysis_analyzer *a;
    if (name) {
        char err[64];
        if (!m->an && !(m->an = analysis_registry_new(NULL, 0, err, sizeof err)))
            return 0;
        if (!(a = analysis_get(m->an, name)))
            return -1;
    } else if (!(a = store_index_field_analyzer(m, f, true, quote))) {
        return 0;
    }
    analysis_tokens t = {0};
    bool ok = analysis_run(a, text, len, 0, 0, &t, NULL);
    for (size_t i = 0; ok && i < t.n; i++)
        if (t.v[i].len)
            ok = fn(t.v[i].term, t.v[i].len, t.v[i].pos < 0 ? 0 : t.v[i].pos, arg);
    analysis_tokens_free(&t);
    return ok ? 1 : 0;
}

bool store_index_analyze_tokens(store_mapping *m, const store_field *f, const char *text, size_t len, int32_t pos0,
                                int32_t off0, analysis_tokens *out, int32_t *end16, int *pos_gap)
{
    analysis_analyzer *a = store_index_field_analyzer(m, f, false, false);
    *pos_gap = a ? analysis_pos_gap(a) : 100;
    return a && analysis_run(a, text, len, pos0, off0, out, end16);
}

uint32_t store_index_norm_len(uint32_t len)
{
    /* SmallFloat.intToByte4 then byte4ToInt. */
    int bits = 0;
    for (uint32_t v = len; v; v >>= 1)
        bits++;
    if (bits < 4)
        return len;
    int shift = bits - 4;
    uint32_t enc = (len >> shift) & 0x07;
    enc |= (uint32_t)(shift + 1) << 3;
    uint32_t mant = enc & 0x07;
    int sh = (int)(enc >> 3) - 1;
    return (mant | 0x08) << sh;
}
