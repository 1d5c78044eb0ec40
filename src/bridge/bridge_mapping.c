/* bridge_mapping — the index mapping a mapped table implies: generated from the catalogue, merged with the config, compared with the store's. */
#include "versync/bridge/mapping.h"

#include "versync/bridge/nested.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/sql_embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Elasticsearch's dynamic mapping of a string: analysed text plus an exact
 * keyword sub-field for term queries, sorting and aggregations. */
#define TEXT_WITH_KEYWORD "{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\",\"ignore_above\":256}}}"

/* scaled_float keeps value * factor in a long: numeric(p, s) with p <= 18 fits
 * (|value| * 10^s < 10^p <= 10^18 < 2^63), exact to its declared scale. */
#define SCALED_MAX_DIGITS 18

static bool is(const char *s, const char *t) { return s && strcmp(s, t) == 0; }

static bool any_of(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (is(s, list[i]))
            return true;
    return false;
}

/* Classes whose NaN/±Infinity/±infinity the rule "string" sends as text: a keyword then. */
static bool special_class(const char *cls)
{
    static const char *const l[] = {"numeric", "float4", "float8", "timestamp", "timestamptz", "date", NULL};
    return any_of(cls, l);
}

static bool numeric_json(const mapping_coltype *ct, buf *out)
{
    int p = ct->precision, s = ct->scale;
    if (p > 0 && p <= SCALED_MAX_DIGITS && s == 0)
        return buf_puts(out, "{\"type\":\"long\"}");
    if (p > 0 && p <= SCALED_MAX_DIGITS && s > 0 && s <= SCALED_MAX_DIGITS) {
        long long f = 1;
        for (int i = 0; i < s; i++)
            f *= 10;
        return buf_printf(out, "{\"type\":\"scaled_float\",\"scaling_factor\":%lld}", f);
    }
    /* Unconstrained (or wider than a long): the nearest Elasticsearch has. _source keeps every digit. */
    return buf_puts(out, "{\"type\":\"double\"}");
}

/* A range's subtype class (catalog_columns.sql) to Elasticsearch's range type, or NULL. */
static const char *range_type(const char *sub, cfg_special rule)
{
    if (rule == CFG_SPECIAL_STRING && special_class(sub))
        return NULL; /* an "infinity" bound is no date or number */
    if (is(sub, "integer"))
        return "integer_range";
    if (is(sub, "long"))
        return "long_range";
    if (is(sub, "float4"))
        return "float_range";
    if (is(sub, "numeric") || is(sub, "float8"))
        return "double_range";
    if (is(sub, "timestamp") || is(sub, "timestamptz") || is(sub, "date"))
        return "date_range";
    if (is(sub, "ip"))
        return "ip_range";
    return NULL;
}

bool mapping_type_json(const mapping_coltype *ct, cfg_special rule, buf *out)
{
    const char *cls = ct->render ? ct->render : "plain";
    if (strncmp(cls, "array:", 6) == 0) /* an array maps as its elements (the renderer flattens it) */
        cls += 6;
    if (strncmp(cls, "range:", 6) == 0 || strncmp(cls, "multirange:", 11) == 0) {
        const char *rt = range_type(strchr(cls, ':') + 1, rule);
        return rt ? buf_printf(out, "{\"type\":\"%s\"}", rt) : true;
    }
    if (rule == CFG_SPECIAL_STRING && special_class(cls))
        return buf_puts(out, "{\"type\":\"keyword\"}");
    if (is(cls, "money"))
        return buf_puts(out, "{\"type\":\"scaled_float\",\"scaling_factor\":100}");
    if (is(cls, "bytea"))
        return buf_puts(out, "{\"type\":\"binary\"}");
    if (is(cls, "interval"))
        return buf_puts(out, "{\"type\":\"keyword\"}");
    if (is(cls, "numeric"))
        return numeric_json(ct, out);
    if (is(cls, "float4"))
        return buf_puts(out, "{\"type\":\"float\"}");
    if (is(cls, "float8"))
        return buf_puts(out, "{\"type\":\"double\"}");
    if (is(cls, "timestamp") || is(cls, "timestamptz") || is(cls, "date"))
        return buf_puts(out, "{\"type\":\"date\"}");
    /* "plain": jsonb's own form, decided by the element type. */
    static const char *const ints[] = {"smallint", "integer", NULL};
    static const char *const texts[] = {"text", "character varying", "character", "name", "citext", "\"char\"",
                                        NULL};
    static const char *const keywords[] = {"uuid",     "inet", "cidr", "macaddr", "macaddr8", "bit", "bit varying",
                                           "time without time zone", "time with time zone", "pg_lsn", NULL};
    const char *e = ct->elem;
    if (any_of(e, ints))
        return buf_puts(out, "{\"type\":\"integer\"}");
    if (is(e, "bigint") || is(e, "oid"))
        return buf_puts(out, "{\"type\":\"long\"}");
    if (is(e, "boolean"))
        return buf_puts(out, "{\"type\":\"boolean\"}");
    if (any_of(e, texts))
        return buf_puts(out, TEXT_WITH_KEYWORD);
    if (is(e, "xml") || is(e, "tsvector"))
        return buf_puts(out, "{\"type\":\"text\"}"); /* long text: analysed, no keyword */
    if (any_of(e, keywords) || ct->typtype == 'e' || ct->typcategory == 'G')
        return buf_puts(out, "{\"type\":\"keyword\"}");
    if (is(e, "hstore"))
        return buf_puts(out, "{\"type\":\"object\"}");
    /* json/jsonb (any JSON value), composite types (objects), the rest: dynamic mapping. */
    return true;
}

/* ---- from the catalogue ---------------------------------------------------------- */

static int int_or(PGresult *r, int row, int col, int dflt)
{
    return PQgetisnull(r, row, col) ? dflt : atoi(PQgetvalue(r, row, col));
}

/* Add to `props` the fields of `t`'s own columns and of its children. */
static bool add_table(PGconn *conn, const cfg_table *t, cJSON *props, char *err, size_t errsz)
{
    const char *params[] = {t->schema, t->name};
    PGresult *r = pg_exec(conn, sql_text("mapping_columns"), 2, params, err, errsz);
    buf one = BUF_INIT;
    bool ok = false;
    if (!r)
        goto done;
    for (size_t i = 0; i < t->ncols; i++) {
        const cfg_column *col = &t->cols[i];
        if (!col->mapped || !col->field)
            continue;
        int row = -1;
        for (int k = 0; k < PQntuples(r) && row < 0; k++)
            if (strcmp(PQgetvalue(r, k, 0), col->name) == 0)
                row = k;
        if (row < 0)
            continue; /* dropped since the catalogue was read: the next init sees it */
        mapping_coltype ct = {col->render, PQgetvalue(r, row, 1), PQgetvalue(r, row, 2)[0],
                              PQgetvalue(r, row, 3)[0], int_or(r, row, 4, -1), int_or(r, row, 5, -1)};
        buf_reset(&one);
        if (!mapping_type_json(&ct, t->special, &one)) {
            snprintf(err, errsz, "out of memory");
            goto done;
        }
        if (!one.len)
            continue;
        cJSON *def = cJSON_Parse(one.data);
        if (!def || !cJSON_AddItemToObject(props, col->field, def)) {
            cJSON_Delete(def);
            snprintf(err, errsz, "out of memory");
            goto done;
        }
    }
    /* Children are objects ("one") or arrays of objects ("many"): both map as object, the
     * type every store takes and plain queries search; "nested" is the config's choice. */
    for (size_t i = 0; i < t->nchildren; i++) {
        const cfg_child *ch = &t->children[i];
        cJSON *obj = cJSON_AddObjectToObject(props, ch->name);
        cJSON *sub = obj && cJSON_AddStringToObject(obj, "type", "object") ? cJSON_AddObjectToObject(obj, "properties")
                                                                           : NULL;
        if (!sub) {
            snprintf(err, errsz, "out of memory");
            goto done;
        }
        if (!add_table(conn, &ch->t, sub, err, errsz))
            goto done;
    }
    ok = true;
done:
    PQclear(r);
    buf_free(&one);
    return ok;
}

cJSON *mapping_for_table(PGconn *conn, const cfg_table *t, char *err, size_t errsz)
{
    cJSON *m = cJSON_CreateObject();
    cJSON *props = m ? cJSON_AddObjectToObject(m, "properties") : NULL;
    cJSON *over = NULL;
    if (!props) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    if (!add_table(conn, t, props, err, errsz))
        goto fail;
    if (t->mappings_json) {
        over = cJSON_Parse(t->mappings_json);
        if (!cJSON_IsObject(over)) { /* the config loader checked it is an object */
            snprintf(err, errsz, "tables[%d].mappings: not a JSON object", t->json_index);
            goto fail;
        }
        if (!mapping_merge(m, over)) {
            snprintf(err, errsz, "out of memory");
            goto fail;
        }
        cJSON_Delete(over);
    }
    return m;
fail:
    cJSON_Delete(over);
    cJSON_Delete(m);
    return NULL;
}

char *mapping_index_body(PGconn *conn, const cfg_table *t, char *err, size_t errsz)
{
    cJSON *m = mapping_for_table(conn, t, err, errsz);
    char *mj = m ? cJSON_PrintUnformatted(m) : NULL;
    buf body = BUF_INIT;
    char *out = NULL;
    if (m && !mj)
        snprintf(err, errsz, "out of memory");
    if (mj) {
        buf_puts(&body, "{");
        if (t->index_settings_json)
            buf_printf(&body, "\"settings\":%s,", t->index_settings_json);
        buf_printf(&body, "\"mappings\":%s}", mj);
        if (buf_ok(&body))
            out = strdup(body.data);
        if (!out)
            snprintf(err, errsz, "out of memory");
    }
    buf_free(&body);
    free(mj);
    cJSON_Delete(m);
    return out;
}

/* ---- merging ------------------------------------------------------------------ */

static const char *type_of(const cJSON *def)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(def, "type");
    if (cJSON_IsString(t))
        return t->valuestring;
    return "object"; /* Elasticsearch shows objects without "type" */
}

/* Put a copy of `v` under `key` of `dst`, replacing what was there. */
static bool put_copy(cJSON *dst, const char *key, const cJSON *v)
{
    cJSON *copy = cJSON_Duplicate(v, true);
    if (!copy)
        return false;
    if (cJSON_GetObjectItemCaseSensitive(dst, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(dst, key, copy);
    if (!cJSON_AddItemToObject(dst, key, copy)) {
        cJSON_Delete(copy);
        return false;
    }
    return true;
}

static bool merge_props(cJSON *dst, const cJSON *over);

/* One field: the config's definition `o` over the generated `d`. */
static bool merge_field(cJSON *dst, const char *name, cJSON *d, const cJSON *o)
{
    if (!cJSON_IsObject(d) || !cJSON_IsObject(o) || strcmp(type_of(d), type_of(o)) != 0)
        return put_copy(dst, name, o); /* another type: its parameters are not the generated ones */
    for (const cJSON *k = o->child; k; k = k->next) {
        cJSON *dk = cJSON_GetObjectItemCaseSensitive(d, k->string);
        bool deep = strcmp(k->string, "properties") == 0 || strcmp(k->string, "fields") == 0;
        if (deep && cJSON_IsObject(dk) && cJSON_IsObject(k)) {
            if (!merge_props(dk, k))
                return false;
        } else if (!put_copy(d, k->string, k)) {
            return false;
        }
    }
    return true;
}

static bool merge_props(cJSON *dst, const cJSON *over)
{
    for (const cJSON *o = over->child; o; o = o->next) {
        cJSON *d = cJSON_GetObjectItemCaseSensitive(dst, o->string);
        if (!(d ? merge_field(dst, o->string, d, o) : put_copy(dst, o->string, o)))
            return false;
    }
    return true;
}

bool mapping_merge(cJSON *gen, const cJSON *over)
{
    for (const cJSON *k = over->child; k; k = k->next) {
        cJSON *g = cJSON_GetObjectItemCaseSensitive(gen, k->string);
        if (strcmp(k->string, "properties") == 0 && cJSON_IsObject(g) && cJSON_IsObject(k)) {
            if (!merge_props(g, k))
                return false;
        } else if (!put_copy(gen, k->string, k)) {
            return false;
        }
    }
    return true;
}

/* ---- comparing with the live mapping ----------------------------------------------- */

/* "scaled_float(scaling_factor 100)", or the type name. */
static void describe(const cJSON *def, char *out, size_t n)
{
    const char *t = type_of(def);
    const cJSON *sf = cJSON_GetObjectItemCaseSensitive(def, "scaling_factor");
    if (strcmp(t, "scaled_float") == 0 && cJSON_IsNumber(sf))
        snprintf(out, n, "scaled_float(scaling_factor %g)", sf->valuedouble);
    else
        snprintf(out, n, "%s", t);
}

static size_t diff_props(const cJSON *exp, const cJSON *live, const char *prefix, mapping_diff_fn fn, void *ctx)
{
    size_t n = 0;
    for (const cJSON *e = exp ? exp->child : NULL; e; e = e->next) {
        char path[1024], want[128], have[128];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", e->string);
        const cJSON *l = cJSON_IsObject(live) ? cJSON_GetObjectItemCaseSensitive(live, e->string) : NULL;
        describe(e, want, sizeof want);
        if (!cJSON_IsObject(l)) {
            fn(ctx, path, "none", want);
            n++;
            continue;
        }
        describe(l, have, sizeof have);
        if (strcmp(want, have) != 0) {
            fn(ctx, path, have, want);
            n++;
            continue;
        }
        static const char *const deep[] = {"properties", "fields"};
        for (size_t i = 0; i < 2; i++) {
            const cJSON *ep = cJSON_GetObjectItemCaseSensitive(e, deep[i]);
            if (cJSON_IsObject(ep))
                n += diff_props(ep, cJSON_GetObjectItemCaseSensitive(l, deep[i]), path, fn, ctx);
        }
    }
    return n;
}

size_t mapping_diff(const cJSON *expected, const cJSON *live, mapping_diff_fn fn, void *ctx)
{
    return diff_props(cJSON_GetObjectItemCaseSensitive(expected, "properties"),
                      live ? cJSON_GetObjectItemCaseSensitive(live, "properties") : NULL, "", fn, ctx);
}

/* Adds to `out` (a properties object) what `exp` has and `live` lacks;
 * false when memory runs out. */
static bool missing_props(const cJSON *exp, const cJSON *live, cJSON *out, size_t *n)
{
    for (const cJSON *e = exp ? exp->child : NULL; e; e = e->next) {
        const cJSON *l = cJSON_IsObject(live) ? cJSON_GetObjectItemCaseSensitive(live, e->string) : NULL;
        if (!cJSON_IsObject(l)) {
            if (!put_copy(out, e->string, e))
                return false;
            (*n)++;
            continue;
        }
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(e, "properties");
        if (!cJSON_IsObject(ep) || strcmp(type_of(e), type_of(l)) != 0)
            continue;
        /* An object both sides have: only its missing sub-fields go in. */
        size_t before = *n;
        cJSON *sub = cJSON_CreateObject(), *wrap = cJSON_CreateObject();
        if (!sub || !wrap || !missing_props(ep, cJSON_GetObjectItemCaseSensitive(l, "properties"), sub, n)) {
            cJSON_Delete(sub);
            cJSON_Delete(wrap);
            return false;
        }
        if (*n == before) {
            cJSON_Delete(sub);
            cJSON_Delete(wrap);
            continue;
        }
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");
        if ((t && !put_copy(wrap, "type", t)) || !cJSON_AddItemToObject(wrap, "properties", sub)) {
            cJSON_Delete(wrap);
            return false;
        }
        if (!cJSON_AddItemToObject(out, e->string, wrap)) {
            cJSON_Delete(wrap);
            return false;
        }
    }
    return true;
}

cJSON *mapping_missing(const cJSON *expected, const cJSON *live, size_t *n)
{
    *n = 0;
    cJSON *body = cJSON_CreateObject();
    cJSON *props = body ? cJSON_AddObjectToObject(body, "properties") : NULL;
    if (!props ||
        !missing_props(cJSON_GetObjectItemCaseSensitive(expected, "properties"),
                       live ? cJSON_GetObjectItemCaseSensitive(live, "properties") : NULL, props, n)) {
        cJSON_Delete(body);
        return NULL;
    }
    return body;
}

const cJSON *mapping_of_answer(const cJSON *answer)
{
    const cJSON *idx = cJSON_IsObject(answer) ? answer->child : NULL;
    const cJSON *m = cJSON_IsObject(idx) ? cJSON_GetObjectItemCaseSensitive(idx, "mappings") : NULL;
    return cJSON_IsObject(m) ? m : NULL;
}

/* ---- the store's mapping ------------------------------------------------------------ */

bool mapping_url_path(buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                     *p == '.' || *p == '-' || *p == '_';
        if (!(plain ? buf_putc(b, (char)*p) : buf_printf(b, "%%%02X", *p)))
            return false;
    }
    return true;
}

/* A mapping answer of thousands of fields stays well below this. */
#define MAPPING_ANSWER_MAX (16u << 20)

int mapping_store_get(esc *e, const char *index, cJSON **answer, char *err, size_t errsz)
{
    buf path = BUF_INIT, resp;
    buf_init(&resp, MAPPING_ANSWER_MAX);
    int rc = MAPPING_STORE_ERROR;
    *answer = NULL;
    if (!buf_putc(&path, '/') || !mapping_url_path(&path, index) || !buf_puts(&path, "/_mapping")) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    int status = esc_request(e, "GET", path.data, NULL, NULL, 0, NULL, &resp, err, errsz);
    if (status == 404) {
        rc = MAPPING_STORE_MISSING;
        goto done;
    }
    if (status == ESC_TRANSPORT_ERROR || status >= 500 || status == 429) {
        if (status != ESC_TRANSPORT_ERROR)
            snprintf(err, errsz, "GET %s answered HTTP %d", path.data, status);
        rc = MAPPING_STORE_UNREACHABLE;
        goto done;
    }
    cJSON *a = status == 200 ? cJSON_ParseWithLength(resp.data ? resp.data : "", resp.len) : NULL;
    if (!mapping_of_answer(a)) {
        cJSON_Delete(a);
        snprintf(err, errsz, "GET %s answered HTTP %d, not a mapping: %.200s", path.data, status,
                 resp.data ? resp.data : "");
        goto done;
    }
    *answer = a;
    rc = 0;
done:
    buf_free(&path);
    buf_free(&resp);
    return rc;
}

int mapping_store_diff(esc *e, const char *index, const cJSON *expected, mapping_diff_fn fn, void *ctx, char *err,
                       size_t errsz)
{
    cJSON *answer;
    int rc = mapping_store_get(e, index, &answer, err, errsz);
    if (rc == 0)
        rc = (int)mapping_diff(expected, mapping_of_answer(answer), fn, ctx);
    cJSON_Delete(answer);
    return rc;
}
