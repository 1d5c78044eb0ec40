/* store_index — mappings, analysis, value encodings and a document's index entries. */
#include "versync/store_index.h"
#include "versync/store_mapping_rules.h"
#include "versync/store_datefmt.h"
#include "versync/store_ulong.h"

#include "versync/grow.h"
#include "versync/store_json.h"
#include "versync/store_util.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- mappings ------------------------------------------------------------ */

static void sort_props(cJSON *o);

/* Longest dotted field path handled (mapping or document). */
#define PATH_MAX_LEN 1023

/* prefix + "." + name into out[PATH_MAX_LEN + 1]; false when too long. */
static bool path_join(char *out, const char *prefix, const char *name, size_t name_len)
{
    size_t pl = strlen(prefix);
    if (pl + 1 + name_len > PATH_MAX_LEN)
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
    char path[PATH_MAX_LEN + 1];
    if (!name[0] || !path_join(path, prefix, name, strlen(name))) {
        snprintf(err, errsz, "field name cannot be an empty string, and paths are limited to %d bytes",
                 PATH_MAX_LEN);
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
        char path[PATH_MAX_LEN + 1];
        if (!path_join(path, prefix, a->string, strlen(a->string))) {
            snprintf(err, errsz, "field paths are limited to %d bytes", PATH_MAX_LEN);
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

/* The analyzer for field `f`: see store_index_analyze. */
static analysis_analyzer *field_analyzer(store_mapping *m, const store_field *f, bool search, bool quote)
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
    return run_analyzer(field_analyzer(m, f, search, quote), text, len, fn, arg);
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

/* ---- encodings ------------------------------------------------------------ */

void store_index_enc_long(int64_t v, unsigned char out[STORE_VAL_NUM_LEN])
{
    store_util_put_be64(out, (uint64_t)v ^ (1ULL << 63));
}

int64_t store_index_dec_long(const unsigned char in[STORE_VAL_NUM_LEN])
{
    return (int64_t)(store_util_get_be64(in) ^ (1ULL << 63));
}

void store_index_enc_double(double v, unsigned char out[STORE_VAL_NUM_LEN])
{
    if (v == 0)
        v = 0.0; /* -0.0 and 0.0 are one value */
    uint64_t u;
    memcpy(&u, &v, 8);
    u = (u >> 63) ? ~u : u ^ (1ULL << 63);
    store_util_put_be64(out, u);
}

double store_index_dec_double(const unsigned char in[STORE_VAL_NUM_LEN])
{
    uint64_t u = store_util_get_be64(in);
    u = (u >> 63) ? u ^ (1ULL << 63) : ~u;
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return n > 0;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* yyyy[-MM[-dd['T'HH[:mm[:ss[.f…]]][Z|±HH[:]mm]]]]; `full_date` demands the day. */
static bool parse_iso(const char *s, size_t n, bool full_date, int64_t *ms)
{
    int y, mo = 1, d = 1, h = 0, mi = 0, sec = 0, frac = 0;
    size_t i = 4;
    if (n < 4 || !digits(s, 4, &y))
        return false;
    if (i < n) {
        if (s[i] != '-' || n < i + 3 || !digits(s + i + 1, 2, &mo))
            return false;
        i += 3;
        if (i < n) {
            if (s[i] != '-' || n < i + 3 || !digits(s + i + 1, 2, &d))
                return false;
            i += 3;
        } else if (full_date) {
            return false;
        }
    } else if (full_date) {
        return false;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return false;
    int off_min = 0;
    if (i < n) {
        if (s[i] != 'T' || n < i + 3 || !digits(s + i + 1, 2, &h))
            return false;
        i += 3;
        if (i < n && s[i] == ':') {
            if (n < i + 3 || !digits(s + i + 1, 2, &mi))
                return false;
            i += 3;
            if (i < n && s[i] == ':') {
                if (n < i + 3 || !digits(s + i + 1, 2, &sec))
                    return false;
                i += 3;
                if (i < n && (s[i] == '.' || s[i] == ',')) {
                    size_t k = ++i;
                    int scale = 100;
                    while (i < n && s[i] >= '0' && s[i] <= '9') {
                        if (scale) {
                            frac += (s[i] - '0') * scale;
                            scale /= 10;
                        }
                        i++;
                    }
                    if (i == k || i - k > 9)
                        return false;
                }
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return false;
        if (i < n) {
            if (s[i] == 'Z') {
                i++;
            } else if (s[i] == '+' || s[i] == '-') {
                int oh, om = 0;
                int sign = s[i] == '-' ? -1 : 1;
                if (n < i + 3 || !digits(s + i + 1, 2, &oh))
                    return false;
                i += 3;
                if (i < n && s[i] == ':')
                    i++;
                if (i < n) {
                    if (n < i + 2 || !digits(s + i, 2, &om))
                        return false;
                    i += 2;
                }
                if (oh > 18 || om > 59)
                    return false;
                off_min = sign * (oh * 60 + om);
            } else {
                return false;
            }
        }
    }
    if (i != n)
        return false;
    int64_t days = days_from_civil(y, mo, d);
    *ms = ((days * 24 + h) * 60 + mi - off_min) * 60000LL + sec * 1000LL + frac;
    return true;
}

double store_index_half_float(double d)
{
    /* round to float, then to the nearest half (11 significant bits, ties to
     * even), as Lucene's HalfFloatPoint keeps a half_float */
    float f = (float)d;
    if (!isfinite(f))
        return f;
    float a = fabsf(f);
    if (a >= 65520.0f) /* rounds past the largest half, 65504 */
        return f > 0 ? INFINITY : -INFINITY;
    int e;
    frexpf(a, &e); /* a = m * 2^e, 0.5 <= m < 1 */
    if (e < -13)   /* subnormal halves: a fixed step of 2^-24 */
        e = -13;
    float step = ldexpf(1.0f, e - 11);
    float r = nearbyintf(a / step) * step; /* the default rounding mode: ties to even */
    return f < 0 ? -r : r;
}

bool store_index_parse_date(const char *s, size_t n, int64_t *ms)
{
    if (n > 0 && n <= 19) {
        size_t i = s[0] == '-' ? 1 : 0;
        bool all = i < n;
        for (size_t k = i; k < n; k++)
            if (s[k] < '0' || s[k] > '9')
                all = false;
        if (all && n - i != 4 && store_json_parse_long(s, n, ms))
            return true; /* epoch_millis; four digits read as a year, as strict_date_optional_time comes first */
    }
    return parse_iso(s, n, false, ms);
}

void store_index_format_date(int64_t ms, char *out, size_t outsz)
{
    int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    int msec = (int)(ms - secs * 1000);
    time_t t = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, outsz, "%" PRId64, ms);
        return;
    }
    snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
}

/* ---- document extraction -------------------------------------------------- */

/* A field the document introduces (dynamic mapping), by path. */
typedef struct newf {
    char *path;
    store_ftype type;
} newf;

typedef struct xctx {
    store_mapping *m;
    const char *src;
    const char *id;
    size_t id_len;
    bool lenient;
    store_doc_index *out;
    const char **err_type;
    buf *reason;
    newf *nf;
    size_t nnf, nfcap;
    size_t *nfh; /* open-addressing table of nf indices + 1, nfhcap slots */
    size_t nfhcap;
    bool oom;
    /* text tokens of the current value: collected as POSTING entries with tf 1 */
    size_t cur_path;
    /* next position of each text field with values so far (several values
     * of one field are position_increment_gap apart, as in Lucene) */
    struct fpos {
        size_t path;
        uint32_t next;
    } *fp;
    size_t nfp, fpcap;
} xctx;

static bool ent_add(xctx *x, store_ent_kind k, size_t path, const void *val, size_t len)
{
    store_doc_index *d = x->out;
    if (d->n == d->cap && !GROW_ARRAY(d->ents, d->cap, d->n + 1, 32))
        return !(x->oom = true);
    size_t off = d->text.len;
    if (len && !buf_append(&d->text, val, len))
        return !(x->oom = true);
    d->ents[d->n++] = (store_ent){k, path, off, len, 1, 0, 0};
    return true;
}

static size_t path_put(xctx *x, const char *path)
{
    size_t off = x->out->text.len;
    if (!buf_append(&x->out->text, path, strlen(path) + 1)) {
        x->oom = true;
        return (size_t)-1;
    }
    return off;
}

static void where(xctx *x, const char *at, buf *b)
{
    int line = 1, col = 1;
    if (at > x->src && at[-1] == '"')
        at--; /* a string's position is its opening quote */
    for (const char *p = x->src; p < at; p++) {
        if (*p == '\n')
            line++, col = 1;
        else
            col++;
    }
    buf_printf(b, "[%d:%d] ", line, col);
}

static bool fail_value(xctx *x, const char *at, const char *path, const store_field *f, const char *val, size_t n)
{
    if (x->lenient)
        return true;
    *x->err_type = "document_parsing_exception";
    where(x, at, x->reason);
    buf_printf(x->reason, "failed to parse field [%s] of type [%s] in document with id '%.*s'. Preview of field's value: '%.*s'",
               path, f ? f->type_name : "object", (int)(x->id_len > 512 ? 512 : x->id_len), x->id,
               (int)(n > 200 ? 200 : n), val);
    return false;
}

/* A keyword longer than Lucene's 32 766-byte term limit: Elasticsearch
 * refuses the document with IndexWriter's message (no ignore_above said to
 * skip the value). */
static bool fail_immense(xctx *x, const char *path, const char *val, size_t n)
{
    if (x->lenient)
        return true;
    *x->err_type = "illegal_argument_exception";
    buf_reset(x->reason);
    buf_printf(x->reason,
               "Document contains at least one immense term in field=\"%s\" (whose UTF8 encoding is longer than the "
               "max length %d), all of which were skipped.  Please correct the analyzer to not produce such terms.  "
               "The prefix of the first immense term is: '[",
               path, STORE_INDEX_MAX_TERM);
    for (size_t i = 0; i < 30 && i < n; i++)
        buf_printf(x->reason, "%s%d", i ? ", " : "", (int)(signed char)val[i]);
    buf_printf(x->reason, "]...', original message: bytes can be at most %d in length; got %zu",
               STORE_INDEX_MAX_TERM, n);
    return false;
}

static size_t path_hash(const char *s)
{
    size_t h = 1469598103934665603u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The slot of `path` in the new-field table: where it is, or the empty
 * slot it would go in. A table is kept at most half full. */
static size_t nf_slot(const xctx *x, const char *path)
{
    size_t i = path_hash(path) & (x->nfhcap - 1);
    while (x->nfh[i] && strcmp(x->nf[x->nfh[i] - 1].path, path) != 0)
        i = (i + 1) & (x->nfhcap - 1);
    return i;
}

static const store_field *lookup(xctx *x, const char *path, store_ftype *type)
{
    const store_field *f = store_mapping_find(x->m, path);
    if (f) {
        *type = f->type;
        return f;
    }
    if (x->nnf) {
        size_t i = x->nfh[nf_slot(x, path)];
        if (i) {
            *type = x->nf[i - 1].type;
            return NULL;
        }
    }
    *type = STORE_FT_NONE;
    return NULL;
}

/* The dynamic setting in force for a new field at `path`. */
static int dyn_for(xctx *x, const char *path)
{
    char parent[PATH_MAX_LEN + 1];
    path_join(parent, "", path, strlen(path));
    for (char *dot = strrchr(parent, '.'); dot; dot = strrchr(parent, '.')) {
        *dot = '\0';
        const store_field *f = store_mapping_find(x->m, parent);
        if (f && f->type == STORE_FT_OBJECT)
            return f->dynamic;
        if (f)
            break;
    }
    return x->m->dynamic;
}

static bool add_new(xctx *x, const char *path, store_ftype t)
{
    if (x->nnf == x->nfcap && !GROW_ARRAY(x->nf, x->nfcap, x->nnf + 1, 8))
        return !(x->oom = true);
    if (2 * (x->nnf + 1) > x->nfhcap) {
        size_t cap = x->nfhcap ? x->nfhcap * 2 : 16;
        size_t *h = calloc(cap, sizeof *h);
        if (!h)
            return !(x->oom = true);
        free(x->nfh);
        x->nfh = h;
        x->nfhcap = cap;
        for (size_t i = 0; i < x->nnf; i++)
            x->nfh[nf_slot(x, x->nf[i].path)] = i + 1;
    }
    char *dup = strdup(path);
    if (!dup)
        return !(x->oom = true);
    x->nf[x->nnf++] = (newf){dup, t};
    x->nfh[nf_slot(x, dup)] = x->nnf;
    return true;
}

/* Decide what to do with an unmapped field: 1 index as `*t`, 0 skip, -1 fail. */
static int unmapped(xctx *x, const char *at, const char *path, store_ftype inferred, store_ftype *t)
{
    if (x->lenient)
        return 0;
    int dyn = dyn_for(x, path);
    if (dyn == STORE_DYN_FALSE)
        return 0;
    if (dyn == STORE_DYN_STRICT) {
        *x->err_type = "strict_dynamic_mapping_exception";
        where(x, at, x->reason);
        const char *dot = strrchr(path, '.');
        buf_printf(x->reason, "mapping set to strict, dynamic introduction of [%s] within [%.*s] is not allowed",
                   dot ? dot + 1 : path, dot ? (int)(dot - path) : 4, dot ? path : "_doc");
        return -1;
    }
    /* A dotted name ("a.b": 1) introduces its parents as objects too. */
    char parent[PATH_MAX_LEN + 1];
    for (const char *dot = strchr(path, '.'); dot; dot = strchr(dot + 1, '.')) {
        store_ftype pt;
        memcpy(parent, path, (size_t)(dot - path));
        parent[dot - path] = '\0';
        lookup(x, parent, &pt);
        if (pt == STORE_FT_OBJECT)
            continue;
        if (pt != STORE_FT_NONE) {
            *x->err_type = "document_parsing_exception";
            where(x, at, x->reason);
            buf_printf(x->reason, "Could not dynamically add mapping for field [%s]. Existing mapping for [%s] must "
                                  "be of type object but found [%s].",
                       path, parent, store_mapping_find(x->m, parent) ? store_mapping_find(x->m, parent)->type_name
                                                                       : "text");
            return -1;
        }
        if (!add_new(x, parent, STORE_FT_OBJECT))
            return -1;
    }
    if (!add_new(x, path, inferred))
        return -1;
    *t = inferred;
    return 1;
}

/* Index the tokens of one value of text field `f` at path offset `po`,
 * each posting entry carrying its position (tf 1, folded in finish). */
static bool index_text(xctx *x, const store_field *f, size_t po, const char *v, size_t vn)
{
    analysis_analyzer *a = field_analyzer(x->m, f, false, false);
    if (!a)
        return !(x->oom = true);
    struct fpos *fp = NULL;
    for (size_t i = 0; i < x->nfp && !fp; i++)
        if (strcmp(x->out->text.data + x->fp[i].path, x->out->text.data + po) == 0)
            fp = &x->fp[i];
    uint32_t base = 0;
    if (fp)
        base = fp->next + (uint32_t)analysis_pos_gap(a);
    analysis_tokens t = {0};
    bool ok = analysis_run(a, v, vn, 0, 0, &t, NULL);
    uint32_t last = 0;
    bool any = false;
    for (size_t i = 0; ok && i < t.n; i++) {
        if (!t.v[i].len)
            continue;
        uint32_t p = base + (uint32_t)(t.v[i].pos < 0 ? 0 : t.v[i].pos);
        ok = ent_add(x, STORE_ENT_POSTING, po, t.v[i].term, t.v[i].len);
        if (ok)
            x->out->ents[x->out->n - 1].pos = p;
        if (!any || p > last)
            last = p;
        any = true;
    }
    analysis_tokens_free(&t);
    if (!ok)
        return !(x->oom = true);
    if (!any)
        return true;
    if (!fp) {
        if (!GROW_ARRAY(x->fp, x->fpcap, x->nfp + 1, 8))
            return !(x->oom = true);
        fp = &x->fp[x->nfp++];
        fp->path = po;
    }
    fp->next = last + 1;
    return true;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xc0) != 0x80)
            c++;
    return c;
}

/* Index one scalar (its text `v`/`vn`: decoded string or raw literal) into
 * field `f`/type `t` at `path`. */
static bool index_scalar(xctx *x, const char *at, const char *path, const store_field *f, store_ftype t,
                         store_json_type jt, const char *v, size_t vn)
{
    if (f && !f->index)
        return true;
    size_t po = path_put(x, path);
    if (po == (size_t)-1)
        return false;
    unsigned char enc[STORE_VAL_NUM_LEN];
    bool ok = true;
    switch (t) {
    case STORE_FT_TEXT: {
        if (!index_text(x, f, po, v, vn))
            return false;
        /* A STAT entry per value marks the field as present even for "". */
        return ent_add(x, STORE_ENT_EXISTS, po, NULL, 0);
    }
    case STORE_FT_KEYWORD: {
        int ia = f ? f->ignore_above : 256;
        if (ia && utf8_chars(v, vn) > (size_t)ia)
            return true;
        if (vn > STORE_INDEX_MAX_TERM) /* Lucene's limit on one term, as Elasticsearch answers it */
            return fail_immense(x, path, v, vn);
        return ent_add(x, STORE_ENT_VALUE, po, v, vn) && ent_add(x, STORE_ENT_EXISTS, po, NULL, 0);
    }
    case STORE_FT_LONG: {
        int64_t l;
        if (jt == STORE_JSON_TRUE || jt == STORE_JSON_FALSE)
            ok = false;
        else if (!store_json_parse_long(v, vn, &l)) {
            char tmp[64];
            char *end;
            if (vn == 0 || vn >= sizeof tmp) {
                ok = false;
            } else {
                memcpy(tmp, v, vn);
                tmp[vn] = '\0';
                errno = 0;
                double d = strtod(tmp, &end);
                ok = *end == '\0' && errno == 0 && isfinite(d) && d >= -9223372036854775808.0 &&
                     d < 9223372036854775808.0;
                l = ok ? (int64_t)d : 0; /* coerce: the fraction is dropped */
            }
        }
        if (!ok)
            return fail_value(x, at, path, f, v, vn);
        store_index_enc_long(l, enc);
        break;
    }
    case STORE_FT_ULONG: { /* Elasticsearch's reason is in its caused_by, which fail_value does not carry */
        uint64_t u;
        char why[256];
        int rc = jt == STORE_JSON_TRUE || jt == STORE_JSON_FALSE
                     ? -1
                     : store_ulong_parse_doc(v, vn, jt == STORE_JSON_NUMBER, &u, why, sizeof why);
        if (rc == 0)
            return true;
        if (rc < 0)
            return fail_value(x, at, path, f, v, vn);
        store_ulong_enc(u, enc);
        break;
    }
    case STORE_FT_DOUBLE: {
        char tmp[400];
        char *end;
        if (jt == STORE_JSON_TRUE || jt == STORE_JSON_FALSE || vn == 0 || vn >= sizeof tmp)
            return fail_value(x, at, path, f, v, vn);
        memcpy(tmp, v, vn);
        tmp[vn] = '\0';
        errno = 0;
        double d = strtod(tmp, &end);
        if (*end || !isfinite(d))
            return fail_value(x, at, path, f, v, vn);
        /* the precision Elasticsearch indexes the narrower types at */
        if (f && f->scaling_factor > 0) {
            double scaled = round(d * f->scaling_factor);
            if (!(fabs(scaled) < 9223372036854775808.0))
                return fail_value(x, at, path, f, v, vn);
            d = scaled / f->scaling_factor;
        } else if (f && strcmp(f->type_name, "half_float") == 0) {
            d = store_index_half_float(d);
            if (!isfinite(d))
                return fail_value(x, at, path, f, v, vn);
        }
        store_index_enc_double(d, enc);
        break;
    }
    case STORE_FT_BOOLEAN: {
        bool b;
        if (vn == 4 && memcmp(v, "true", 4) == 0)
            b = true;
        else if ((vn == 5 && memcmp(v, "false", 5) == 0) || (vn == 0 && jt == STORE_JSON_STRING))
            b = false;
        else
            return fail_value(x, at, path, f, v, vn);
        enc[0] = b ? 'T' : 'F';
        return ent_add(x, STORE_ENT_VALUE, po, enc, 1) && ent_add(x, STORE_ENT_EXISTS, po, NULL, 0);
    }
    case STORE_FT_DATE: {
        int64_t ms;
        if (f && f->date_format ? !store_datefmt_parse(f->date_format, v, vn, jt == STORE_JSON_NUMBER, &ms)
            : jt == STORE_JSON_NUMBER ? !store_json_parse_long(v, vn, &ms)
                                      : !store_index_parse_date(v, vn, &ms))
            return fail_value(x, at, path, f, v, vn);
        store_index_enc_long(ms, enc);
        break;
    }
    case STORE_FT_DATE_NANOS: { /* before 1970 or after 2262 is refused, as DateUtils.toLong refuses it */
        int64_t ns;
        if (store_datefmt_parse_ns(f ? f->date_format : NULL, v, vn, jt == STORE_JSON_NUMBER, false, &ns) != 1)
            return fail_value(x, at, path, f, v, vn);
        store_index_enc_long(ns, enc);
        break;
    }
    default: return fail_value(x, at, path, f, v, vn);
    }
    return ent_add(x, STORE_ENT_VALUE, po, enc, STORE_VAL_NUM_LEN) && ent_add(x, STORE_ENT_EXISTS, po, NULL, 0);
}

static bool looks_integer(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == '.' || v[i] == 'e' || v[i] == 'E')
            return false;
    return true;
}

static bool leaf(xctx *x, const char *path, const store_json_tok *tok)
{
    buf dec = BUF_INIT;
    const char *v = tok->p;
    size_t vn = tok->n;
    bool ok = false;
    if (tok->type == STORE_JSON_STRING && tok->escaped) {
        if (!store_json_unescape(tok, &dec)) {
            x->oom = true;
            goto done;
        }
        v = dec.data ? dec.data : "";
        vn = dec.len;
    }
    store_ftype t;
    const store_field *f = lookup(x, path, &t);
    if (t == STORE_FT_NONE) {
        store_ftype inf;
        int64_t ms;
        if (tok->type == STORE_JSON_STRING)
            inf = vn >= 10 && store_index_parse_date(v, vn, &ms) && parse_iso(v, vn, true, &ms) ? STORE_FT_DATE
                                                                                               : STORE_FT_TEXT;
        else if (tok->type == STORE_JSON_NUMBER)
            inf = looks_integer(v, vn) ? STORE_FT_LONG : STORE_FT_DOUBLE;
        else
            inf = STORE_FT_BOOLEAN;
        int r = unmapped(x, tok->p, path, inf, &t);
        if (r <= 0) {
            ok = r == 0;
            goto done;
        }
    }
    if (t == STORE_FT_OBJECT) {
        if (!x->lenient) {
            *x->err_type = "document_parsing_exception";
            where(x, tok->p, x->reason);
            buf_printf(x->reason, "object mapping for [%s] tried to parse field [%s] as object, but found a concrete value",
                       path, path);
        }
        ok = x->lenient;
        goto done;
    }
    if (!index_scalar(x, tok->p, path, f, t, tok->type, v, vn))
        goto done;
    /* Multi-fields: mapped ones follow their parent in path order; a
     * dynamically inferred text field gets its keyword sub-field. */
    char sub[PATH_MAX_LEN + 1];
    if (f) {
        size_t pl = strlen(path);
        for (const store_field *s = f + 1; s < x->m->fields + x->m->n && strncmp(s->path, path, pl) == 0; s++) {
            if (!s->subfield || s->path[pl] != '.' || strchr(s->path + pl + 1, '.'))
                continue;
            if (!index_scalar(x, tok->p, s->path, s, s->type, tok->type, v, vn))
                goto done;
        }
    } else if (t == STORE_FT_TEXT && path_join(sub, path, "keyword", 7)) {
        if (!index_scalar(x, tok->p, sub, NULL, STORE_FT_KEYWORD, tok->type, v, vn))
            goto done;
    }
    ok = true;
done:
    buf_free(&dec);
    return ok;
}

static bool walk_value(xctx *x, const char *path, const store_json_tok *tok, int depth);

static bool walk_object(xctx *x, const char *prefix, const char *p, const char *end, int depth)
{
    store_json_iter it;
    if (!store_json_obj_begin(&it, p, end))
        return false;
    store_json_tok k, v;
    int r;
    buf key = BUF_INIT;
    bool ok = true;
    while (ok && (r = store_json_obj_next(&it, &k, &v)) == 1) {
        buf_reset(&key);
        if (!store_json_unescape(&k, &key)) {
            x->oom = true;
            ok = false;
            break;
        }
        const char *name = key.data ? key.data : "";
        char path[PATH_MAX_LEN + 1];
        bool bad = !key.len || memchr(name, '\0', key.len) || !path_join(path, prefix, name, key.len);
        for (size_t i = 0; !bad && i < key.len; i++)
            bad = name[i] == '.' && (i == 0 || i + 1 == key.len || name[i + 1] == '.');
        if (bad) {
            if (x->lenient)
                continue;
            *x->err_type = "document_parsing_exception";
            where(x, k.p, x->reason);
            buf_printf(x->reason, "field name cannot be an empty string or contain only dots, and paths are limited "
                                  "to %d bytes", PATH_MAX_LEN);
            ok = false;
            break;
        }
        ok = walk_value(x, path, &v, depth);
    }
    if (ok && r < 0)
        ok = false;
    buf_free(&key);
    return ok;
}

static bool walk_value(xctx *x, const char *path, const store_json_tok *tok, int depth)
{
    if (depth > STORE_JSON_MAX_DEPTH)
        return false;
    switch (tok->type) {
    case STORE_JSON_NULL: return true;
    case STORE_JSON_OBJECT: {
        store_ftype t;
        const store_field *f = lookup(x, path, &t);
        if (t == STORE_FT_NONE) {
            int r = unmapped(x, tok->p, path, STORE_FT_OBJECT, &t);
            if (r <= 0)
                return r == 0;
        } else if (f && f->opaque) {
            return true; /* a range's {"gte", "lt"}: kept in _source only */
        } else if (t != STORE_FT_OBJECT) {
            if (x->lenient)
                return true;
            *x->err_type = "document_parsing_exception";
            where(x, tok->p, x->reason);
            buf_printf(x->reason, "failed to parse field [%s] of type [%s] in document with id '%.*s'. Preview of "
                                  "field's value: '%.*s'",
                       path, f ? f->type_name : "text", (int)(x->id_len > 512 ? 512 : x->id_len), x->id,
                       (int)(tok->n > 200 ? 200 : tok->n), tok->p);
            return false;
        }
        return walk_object(x, path, tok->p, tok->p + tok->n, depth + 1);
    }
    case STORE_JSON_ARRAY: {
        const char *p = store_json_ws(tok->p + 1, tok->p + tok->n);
        const char *end = tok->p + tok->n;
        if (p < end && *p == ']')
            return true;
        for (;;) {
            store_json_tok e;
            const char *after = store_json_scan(p, end, &e);
            if (!after || !walk_value(x, path, &e, depth + 1))
                return false;
            p = store_json_ws(after, end);
            if (p < end && *p == ',') {
                p = store_json_ws(p + 1, end);
                continue;
            }
            return p < end && *p == ']';
        }
    }
    default: return leaf(x, path, tok);
    }
}

static const char *ent_text;

static int ent_cmp(const void *a, const void *b)
{
    const store_ent *x = a, *y = b;
    if (x->kind != y->kind)
        return (int)x->kind - (int)y->kind;
    int c = strcmp(ent_text + x->path, ent_text + y->path);
    if (c)
        return c;
    size_t n = x->val_len < y->val_len ? x->val_len : y->val_len;
    c = n ? memcmp(ent_text + x->val, ent_text + y->val, n) : 0;
    if (c)
        return c;
    if (x->val_len != y->val_len)
        return x->val_len < y->val_len ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos); /* a term's positions in order */
}

static bool same_key(const char *t, const store_ent *a, const store_ent *b)
{
    return a->kind == b->kind && strcmp(t + a->path, t + b->path) == 0 && a->val_len == b->val_len &&
           (!a->val_len || memcmp(t + a->val, t + b->val, a->val_len) == 0);
}

/* Sort entries, fold repeated terms into tf, set field lengths, add the
 * object paths above each present field, and one STAT entry per field. */
static bool finish(xctx *x)
{
    store_doc_index *d = x->out;
    /* Object paths above present fields. */
    size_t n0 = d->n;
    for (size_t i = 0; i < n0; i++) {
        if (d->ents[i].kind != STORE_ENT_EXISTS)
            continue;
        char path[PATH_MAX_LEN + 1];
        const char *full = d->text.data + d->ents[i].path;
        path_join(path, "", full, strlen(full));
        for (char *dot = strrchr(path, '.'); dot; dot = strrchr(path, '.')) {
            *dot = '\0';
            store_ftype t;
            lookup(x, path, &t);
            if (t != STORE_FT_OBJECT)
                continue; /* a multi-field's parent, which has its own entry */
            size_t po = path_put(x, path);
            if (po == (size_t)-1 || !ent_add(x, STORE_ENT_EXISTS, po, NULL, 0))
                return false;
        }
    }
    if (!d->n)
        return true;
    ent_text = d->text.data; /* the writer is one thread */
    qsort(d->ents, d->n, sizeof *d->ents, ent_cmp);
    size_t w = 0;
    d->npos = 0;
    for (size_t i = 0; i < d->n; i++) {
        bool post = d->ents[i].kind == STORE_ENT_POSTING;
        if (post && !GROW_ARRAY(d->pos, d->poscap, d->npos + 1, 64))
            return !(x->oom = true);
        if (w && same_key(d->text.data, &d->ents[w - 1], &d->ents[i])) {
            d->ents[w - 1].tf++;
            if (post)
                d->pos[d->npos++] = d->ents[i].pos;
            continue;
        }
        d->ents[w++] = d->ents[i];
        if (post) {
            d->pos[d->npos] = d->ents[i].pos;
            d->ents[w - 1].pos = (uint32_t)d->npos++;
        }
    }
    d->n = w;
    /* Field lengths and statistics: postings and values come sorted by path. */
    size_t nstat = d->n;
    for (size_t i = 0; i < nstat;) {
        store_ent_kind k = d->ents[i].kind;
        if (k != STORE_ENT_POSTING && k != STORE_ENT_VALUE) {
            i++;
            continue;
        }
        size_t j = i;
        uint32_t len = 0;
        while (j < nstat && d->ents[j].kind == k && strcmp(d->text.data + d->ents[j].path, d->text.data + d->ents[i].path) == 0) {
            len += k == STORE_ENT_POSTING ? d->ents[j].tf : 1;
            j++;
        }
        for (size_t q = i; q < j; q++)
            d->ents[q].len = len;
        if (!ent_add(x, STORE_ENT_STAT, d->ents[i].path, NULL, 0))
            return false;
        d->ents[d->n - 1].len = len;
        i = j;
    }
    return true;
}

/* Add the fields the document introduced to the mapping. */
static bool apply_new(xctx *x)
{
    if (!x->nnf)
        return true;
    cJSON *add = cJSON_CreateObject(), *props = add ? cJSON_AddObjectToObject(add, "properties") : NULL;
    bool ok = props != NULL;
    for (size_t i = 0; ok && i < x->nnf; i++) {
        cJSON *level = props;
        char *path = x->nf[i].path;
        for (char *seg = path, *dot; ok; seg = dot + 1) {
            dot = strchr(seg, '.');
            if (dot)
                *dot = '\0';
            cJSON *node = cJSON_GetObjectItemCaseSensitive(level, seg);
            if (!node)
                ok = (node = cJSON_AddObjectToObject(level, seg)) != NULL;
            if (dot)
                *dot = '.';
            if (!ok)
                break;
            if (!dot) {
                const char *tn = NULL;
                switch (x->nf[i].type) {
                case STORE_FT_TEXT: {
                    tn = "text";
                    ok = cJSON_AddStringToObject(node, "type", tn) != NULL;
                    cJSON *kw = cJSON_AddObjectToObject(cJSON_AddObjectToObject(node, "fields"), "keyword");
                    ok = kw && cJSON_AddStringToObject(kw, "type", "keyword") &&
                         cJSON_AddNumberToObject(kw, "ignore_above", 256);
                    break;
                }
                case STORE_FT_LONG: tn = "long"; break;
                case STORE_FT_DOUBLE: tn = "float"; break;
                case STORE_FT_BOOLEAN: tn = "boolean"; break;
                case STORE_FT_DATE: tn = "date"; break;
                default: break; /* object: no type key, like Elasticsearch prints it */
                }
                if (ok && tn && !cJSON_GetObjectItemCaseSensitive(node, "type"))
                    ok = cJSON_AddStringToObject(node, "type", tn) != NULL;
                if (ok && !tn && !cJSON_GetObjectItemCaseSensitive(node, "properties"))
                    ok = cJSON_AddObjectToObject(node, "properties") != NULL;
                break;
            }
            cJSON *sub = cJSON_GetObjectItemCaseSensitive(node, "properties");
            if (!sub)
                ok = (sub = cJSON_AddObjectToObject(node, "properties")) != NULL;
            level = sub;
        }
    }
    char err[512];
    err[0] = '\0';
    bool built = ok;
    if (ok)
        ok = store_mapping_merge(x->m, add, err, sizeof err);
    cJSON_Delete(add);
    if (!ok && built && err[0] && strcmp(err, "out of memory") != 0) {
        *x->err_type = "illegal_argument_exception";
        buf_reset(x->reason);
        buf_puts(x->reason, err);
    } else if (!ok) {
        x->oom = true;
    }
    return ok;
}

bool store_index_doc(store_mapping *m, const char *src, size_t n, const char *id, size_t id_len, bool lenient,
                     store_doc_index *out, const char **err_type, buf *reason)
{
    xctx x = {.m = m, .src = src, .id = id, .id_len = id_len, .lenient = lenient, .out = out,
              .err_type = err_type, .reason = reason};
    buf_reset(&out->text);
    out->n = 0;
    out->mapping_changed = false;
    const char *end = src + n;
    bool ok = walk_object(&x, "", src, end, 1) && finish(&x);
    int64_t limit = m->total_fields_limit ? m->total_fields_limit : STORE_DEFAULT_TOTAL_FIELDS;
    if (ok && !lenient && x.nnf && (int64_t)(m->n + x.nnf) > limit) {
        /* Refused before the new fields are built into a mapping: the cost
         * of a wide document stays linear in its size. */
        *err_type = "illegal_argument_exception";
        buf_reset(reason);
        buf_printf(reason, "Limit of total fields [%" PRId64 "] has been exceeded while adding new fields [%zu]", limit,
                   x.nnf);
        ok = false;
    } else if (ok && !lenient) {
        ok = apply_new(&x);
        out->mapping_changed = ok && x.nnf > 0;
    }
    if (!ok && (x.oom || !reason->len)) {
        *err_type = "document_parsing_exception";
        buf_reset(reason);
        buf_puts(reason, x.oom ? "out of memory while indexing the document" : "failed to parse the document");
    }
    for (size_t i = 0; i < x.nnf; i++)
        free(x.nf[i].path);
    free(x.nf);
    free(x.nfh);
    free(x.fp);
    if (!ok)
        out->n = 0;
    return ok;
}

void store_doc_index_free(store_doc_index *d)
{
    if (!d)
        return;
    buf_free(&d->text);
    free(d->ents);
    free(d->pos);
    memset(d, 0, sizeof *d);
}
