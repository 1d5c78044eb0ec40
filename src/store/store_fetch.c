/* store_fetch — a hit's `fields` and `docvalue_fields`, as Elasticsearch 8's FetchFieldsPhase and
 * FetchDocValuesPhase answer them. verstore keeps no doc values: both read the document's _source, the
 * first as the field's value fetcher parses it, the second as the doc values the field would have (sorted,
 * keywords deduplicated, floats widened to double, dates in the field's format). */
#include "versync/store/store_search_int.h"

#include "versync/common/grow.h"
#include "versync/store/store_datefmt.h"
#include "versync/store/store_json.h"
#include "versync/store/store_ulong.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the request ---- */

void store_fetch_free(fetchf *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].field);
        free(f[i].format);
    }
    free(f);
}

static bool add_entry(fetchf **out, size_t *n, size_t *cap, const char *field, const char *format,
                      bool unmapped, store_error *err)
{
    if (!GROW_ARRAY(*out, *cap, *n + 1, 8))
        return oom_err(err);
    fetchf *e = &(*out)[*n];
    memset(e, 0, sizeof *e);
    e->include_unmapped = unmapped;
    if (!(e->field = strdup(field)) || (format && !(e->format = strdup(format)))) {
        free(e->field);
        return oom_err(err);
    }
    (*n)++;
    return true;
}

bool store_fetch_parse(const cJSON *v, fetchf **out, size_t *n, store_error *err)
{
    size_t cap = *n;
    if (!cJSON_IsArray(v)) /* SearchSourceBuilder takes only an array here */
        return seterr(err, 400, "parsing_exception", "Unknown key for a %s in [%s].",
                      store_sreq_token_name(v), v->string);
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        if (cJSON_IsString(e)) {
            if (!add_entry(out, n, &cap, e->valuestring, NULL, false, err))
                return false;
            continue;
        }
        if (!cJSON_IsObject(e))
            return seterr(err, 400, "parsing_exception",
                          "Expected [START_OBJECT] or [VALUE_STRING] in [%s] but found [%s]", v->string,
                          store_sreq_token_name(e));
        const char *field = NULL, *format = NULL;
        bool unmapped = false;
        for (const cJSON *m = e->child; m; m = m->next) {
            if (strcmp(m->string, "field") == 0 && cJSON_IsString(m))
                field = m->valuestring;
            else if (strcmp(m->string, "format") == 0 && (cJSON_IsString(m) || cJSON_IsNull(m)))
                format = cJSON_IsString(m) ? m->valuestring : NULL;
            else if (strcmp(m->string, "include_unmapped") == 0 && cJSON_IsBool(m))
                unmapped = cJSON_IsTrue(m);
            else /* FieldAndFormat's ObjectParser */
                return seterr(err, 400, "x_content_parse_exception",
                              "[fetch_field_and_format] unknown field [%s]", m->string);
        }
        if (!field)
            return seterr(err, 400, "x_content_parse_exception", "Required [field]");
        if (!add_entry(out, n, &cap, field, format, unmapped, err))
            return false;
    }
    return true;
}

bool store_fetch_parse_param(const char *list, fetchf **out, size_t *n, store_error *err)
{
    size_t cap = *n;
    while (list && *list) {
        size_t len = strcspn(list, ",");
        if (len) {
            char *name = strndup(list, len);
            bool ok = name && add_entry(out, n, &cap, name, NULL, false, err);
            if (!name)
                oom_err(err);
            free(name);
            if (!ok)
                return false;
        }
        list += len + (list[len] == ',');
    }
    return true;
}

/* ---- one hit ---- */

/* A mapped field a hit fetches, and where its values go. */
typedef struct want {
    const store_field *f;
    const char *src; /* the _source path it reads: a multi-field reads its parent's */
    size_t srcn;
    const char *format; /* the request's, NULL: the field's own */
    bool dv;            /* docvalue_fields (else fields) */
    size_t slot;
} want;

/* One docvalue: what it sorts by, then how it prints. */
typedef struct dval {
    int64_t l;   /* integers, dates (ms), booleans */
    int32_t sub; /* date_nanos: nanoseconds within the millisecond */
    double d;
    char *s; /* keywords (owned) */
    size_t n;
} dval;

/* One field of the answer: its values, already JSON (fields) or still to
 * sort (docvalue_fields). */
typedef struct slot {
    const char *name;
    char *own_name; /* unmapped paths (owned) */
    buf vals;
    size_t nvals;
    const store_field *f; /* docvalue slots */
    const char *format;
    dval *dv;
    size_t ndv, dvcap;
} slot;

typedef struct fetch {
    ex *x;
    const sreq *q;
    want *w;
    size_t nw, wcap;
    slot *s;
    size_t ns, scap;
    bool any_unmapped;
    bool failed;
} fetch;

static bool is_leaf(const store_field *f)
{
    return f && f->type != STORE_FT_OBJECT && f->type != STORE_FT_NONE;
}

static size_t slot_of(fetch *c, const char *name, bool dv, const store_field *f, const char *format)
{
    for (size_t i = 0; i < c->ns; i++)
        if (strcmp(c->s[i].name, name) == 0 && (c->s[i].f != NULL) == dv)
            return i;
    if (!GROW_ARRAY(c->s, c->scap, c->ns + 1, 8))
        return SIZE_MAX;
    slot *s = &c->s[c->ns];
    memset(s, 0, sizeof *s);
    s->name = name;
    s->f = dv ? f : NULL;
    s->format = format;
    return c->ns++;
}

static int want_cmp(const void *a, const void *b)
{
    const want *x = a, *y = b;
    size_t n = x->srcn < y->srcn ? x->srcn : y->srcn;
    int c = memcmp(x->src, y->src, n);
    return c ? c : x->srcn < y->srcn ? -1 : x->srcn > y->srcn;
}

static bool has_wild(const char *s)
{
    return strchr(s, '*') != NULL;
}

/* Elasticsearch checks a request's format against the field type before it
 * reads a value (valueFetcher / docValueFormat). */
static bool check_format(fetch *c, const store_field *f, const char *format, bool dv)
{
    char why[256];
    bool date = f->type == STORE_FT_DATE || f->type == STORE_FT_DATE_NANOS;
    if (!format)
        return true;
    if (date)
        return store_datefmt_valid(format, why, sizeof why) ||
               store_eval_shard_fail(c->x, "illegal_argument_exception", "%s", why);
    if (!dv || f->type == STORE_FT_KEYWORD || f->type == STORE_FT_BOOLEAN || f->type == STORE_FT_TEXT)
        return store_eval_shard_fail(c->x, "illegal_argument_exception",
                                     dv ? "Field [%s] of type [%s] does not support custom formats"
                                        : "Field [%s] of type [%s] doesn't support formats.",
                                     f->path, f->type_name ? f->type_name : "object");
    /* DocValueFormat.Decimal: java.text.DecimalFormat patterns */
    return store_eval_shard_fail(
        c->x, "illegal_argument_exception",
        "verstore does not support numeric formats in docvalue_fields (field [%s], format [%s])", f->path,
        format);
}

/* The fields of the index's mapping that the request's patterns name. */
static bool resolve(fetch *c, const fetchf *e, size_t ne, bool dv, int64_t *count)
{
    const store_mapping *m = &c->x->ix->map;
    for (size_t k = 0; k < ne; k++) {
        bool wild = has_wild(e[k].field);
        for (size_t i = 0; i < m->n; i++) {
            const store_field *f = &m->fields[i];
            if (!is_leaf(f) ||
                (wild ? !store_names_glob(e[k].field, f->path) : strcmp(e[k].field, f->path) != 0))
                continue;
            if (dv && (f->type == STORE_FT_TEXT || f->opaque)) {
                if (f->type == STORE_FT_TEXT)
                    return store_eval_fielddata_err(c->x, f->path);
                return store_eval_shard_fail(
                    c->x, "illegal_argument_exception",
                    "Can't load fielddata on [%s] because fielddata is unsupported on "
                    "fields of type [%s]. Use doc values instead.",
                    f->path, f->type_name ? f->type_name : "object");
            }
            if (!check_format(c, f, e[k].format, dv))
                return false;
            /* a later entry naming the same field replaces the earlier one's format */
            want *w = NULL;
            for (size_t j = 0; j < c->nw && !w; j++)
                if (c->w[j].f == f && c->w[j].dv == dv)
                    w = &c->w[j];
            if (!w) {
                if (!GROW_ARRAY(c->w, c->wcap, c->nw + 1, 8))
                    return oom_err(c->x->err);
                w = &c->w[c->nw++];
                w->f = f;
                w->dv = dv;
                w->src = f->path;
                w->srcn = strlen(f->path);
                if (f->subfield) {
                    const char *dot = strrchr(f->path, '.');
                    w->srcn = dot ? (size_t)(dot - f->path) : w->srcn;
                }
                (*count)++;
            }
            w->format = e[k].format;
        }
        if (!dv && e[k].include_unmapped)
            c->any_unmapped = true;
    }
    return true;
}

static void put_raw_string(buf *b, const json_tok *t)
{
    buf_putc(b, '"');
    buf_append(b, t->p, t->n);
    buf_putc(b, '"');
}

/* A token's text: strings decoded, other scalars as written. */
static bool tok_text(const json_tok *t, buf *out)
{
    if (t->type == JSON_STRING)
        return json_unescape(t, out);
    return buf_append(out, t->p, t->n);
}

static size_t utf8_len(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* A number token or numeric string as a long, coerced as NumberFieldMapper
 * does (a fraction is truncated); false when it is no number. */
static bool as_long(const char *s, size_t n, int64_t *out)
{
    if (json_parse_long(s, n, out))
        return true;
    char tmp[64], *end;
    if (!n || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    double d = strtod(tmp, &end);
    if (*end || errno || !isfinite(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return false;
    *out = (int64_t)d;
    return true;
}

static bool as_double(const char *s, size_t n, double *out)
{
    char tmp[64], *end;
    if (!n || n >= sizeof tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    *out = strtod(tmp, &end);
    return !*end && !errno && isfinite(*out);
}

/* A date value of field f: milliseconds and the nanoseconds within. */
static bool as_date(const store_field *f, const json_tok *t, const char *s, size_t n, int64_t *ms,
                    int32_t *sub)
{
    bool number = t->type == JSON_NUMBER;
    *sub = 0;
    if (f->type == STORE_FT_DATE_NANOS) {
        int64_t ns;
        if (store_datefmt_parse_ns(f->date_format, s, n, number, false, &ns) != 1)
            return false;
        *ms = ns / 1000000;
        *sub = (int32_t)(ns % 1000000);
        return true;
    }
    if (f->date_format)
        return store_datefmt_parse(f->date_format, s, n, number, ms);
    return number ? json_parse_long(s, n, ms) : store_index_parse_date(s, n, ms);
}

static void put_date(buf *b, const store_field *f, const char *format, int64_t ms, int32_t sub)
{
    char out[96];
    bool nanos = f->type == STORE_FT_DATE_NANOS;
    const char *fmt = format           ? format
                      : f->date_format ? f->date_format
                      : nanos          ? STORE_DATEFMT_NANOS_DEFAULT
                                       : STORE_DATEFMT_DEFAULT;
    if (!store_datefmt_format(fmt, ms, sub, nanos, out, sizeof out))
        store_datefmt_format(STORE_DATEFMT_DEFAULT, ms, sub, nanos, out, sizeof out);
    jstr(b, out);
}

static double float_of(const store_field *f, double d, bool dv)
{
    const char *tn = f->type_name ? f->type_name : "";
    if (strcmp(tn, "float") == 0)
        return (float)d;
    if (strcmp(tn, "half_float") == 0)
        return store_index_half_float(d);
    if (f->scaling_factor > 0)
        return round(d * f->scaling_factor) / f->scaling_factor;
    (void)dv;
    return d;
}

static bool is_float_type(const store_field *f)
{
    const char *tn = f->type_name ? f->type_name : "";
    return strcmp(tn, "float") == 0 || strcmp(tn, "half_float") == 0;
}

/* One source value of field w->f into its slot (skipped when it does not
 * parse: what ignore_malformed leaves out). */
static bool add_value(fetch *c, const want *w, const json_tok *t, const char *vstart, size_t vlen)
{
    const store_field *f = w->f;
    slot *s = &c->s[w->slot];
    buf txt = BUF_INIT;
    bool ok = true;
    if (t->type == JSON_NULL)
        return true;
    if (f->opaque) { /* binary, ranges: the value as the source gives it */
        if (s->nvals++)
            buf_putc(&s->vals, ',');
        return buf_append(&s->vals, vstart, vlen);
    }
    if (t->type == JSON_OBJECT || t->type == JSON_ARRAY)
        return true;
    if (!tok_text(t, &txt)) {
        buf_free(&txt);
        return oom_err(c->x->err);
    }
    const char *v = txt.data ? txt.data : "";
    size_t n = txt.len;
    dval d = {0};
    bool have = false;
    buf *b = &s->vals;
    size_t mark = b->len;
    if (!w->dv && s->nvals)
        buf_putc(b, ',');
    switch (f->type) {
    case STORE_FT_TEXT:
        jstrn(b, v, n);
        have = true;
        break;
    case STORE_FT_KEYWORD: {
        int ia = f->ignore_above;
        if (ia && utf8_len(v, n) > (size_t)ia)
            break;
        if (w->dv) {
            if (!(d.s = malloc(n ? n : 1))) {
                ok = oom_err(c->x->err);
                break;
            }
            memcpy(d.s, v, n);
            d.n = n;
        } else if (t->type == JSON_STRING)
            put_raw_string(b, t);
        else
            jstrn(b, v, n);
        have = true;
        break;
    }
    case STORE_FT_LONG:
        if (t->type == JSON_TRUE || t->type == JSON_FALSE || !as_long(v, n, &d.l))
            break;
        if (!w->dv)
            jint(b, d.l);
        have = true;
        break;
    case STORE_FT_ULONG: {
        uint64_t u;
        char why[128];
        if (store_ulong_parse_doc(v, n, t->type == JSON_NUMBER, &u, why, sizeof why) != 1)
            break;
        d.l = (int64_t)(u ^ (1ULL << 63)); /* sorts as the value does */
        if (!w->dv)
            buf_printf(b, "%llu", (unsigned long long)u);
        have = true;
        break;
    }
    case STORE_FT_DOUBLE:
        if (t->type == JSON_TRUE || t->type == JSON_FALSE || !as_double(v, n, &d.d))
            break;
        d.d = float_of(f, d.d, w->dv);
        if (!w->dv) {
            if (is_float_type(f))
                store_json_put_float(b, (float)d.d);
            else
                store_json_put_double(b, d.d);
        }
        have = true;
        break;
    case STORE_FT_BOOLEAN:
        if ((n == 4 && memcmp(v, "true", 4) == 0))
            d.l = 1;
        else if ((n == 5 && memcmp(v, "false", 5) == 0) || (n == 0 && t->type == JSON_STRING))
            d.l = 0;
        else
            break;
        if (!w->dv)
            buf_puts(b, d.l ? "true" : "false");
        have = true;
        break;
    case STORE_FT_DATE:
    case STORE_FT_DATE_NANOS:
        if (!as_date(f, t, v, n, &d.l, &d.sub))
            break;
        if (!w->dv)
            put_date(b, f, w->format, d.l, d.sub);
        have = true;
        break;
    default:
        break;
    }
    buf_free(&txt);
    if (!have || !ok) {
        b->len = mark;
        return ok;
    }
    if (!w->dv) {
        s->nvals++;
        return buf_ok(b) || oom_err(c->x->err);
    }
    if (!GROW_ARRAY(s->dv, s->dvcap, s->ndv + 1, 4)) {
        free(d.s);
        return oom_err(c->x->err);
    }
    s->dv[s->ndv++] = d;
    return true;
}

/* A value at an unmapped path asked for with include_unmapped: as the source has it. */
static bool add_unmapped(fetch *c, const char *path, size_t pn, const char *vstart, size_t vlen)
{
    bool match = false;
    for (size_t k = 0; k < c->q->nfields && !match; k++)
        match = c->q->fields[k].include_unmapped &&
                store_util_glob(c->q->fields[k].field, strlen(c->q->fields[k].field), path, pn);
    if (!match)
        return true;
    size_t i;
    for (i = 0; i < c->ns; i++)
        if (!c->s[i].f && strlen(c->s[i].name) == pn && memcmp(c->s[i].name, path, pn) == 0)
            break;
    if (i == c->ns) {
        char *name = strndup(path, pn);
        if (!name || (i = slot_of(c, name, false, NULL, NULL)) == SIZE_MAX) {
            free(name);
            return oom_err(c->x->err);
        }
        c->s[i].own_name = name;
    }
    slot *s = &c->s[i];
    if (s->nvals++)
        buf_putc(&s->vals, ',');
    return buf_append(&s->vals, vstart, vlen) || oom_err(c->x->err);
}

/* Whether a mapped leaf field is `path` or one of its ancestors: values
 * below it are that field's, never unmapped ones. */
static bool under_leaf(const store_mapping *m, const char *path, size_t pn)
{
    char tmp[1024];
    if (pn >= sizeof tmp)
        return false;
    memcpy(tmp, path, pn);
    tmp[pn] = '\0';
    for (;;) {
        if (is_leaf(store_mapping_find(m, tmp)))
            return true;
        char *dot = strrchr(tmp, '.');
        if (!dot)
            return false;
        *dot = '\0';
    }
}

static bool walk_value(fetch *c, buf *path, const char *p, const char *end, int depth);

/* The value at path->data (a member or an array element), delivered to
 * the fields that read that path, or walked into. */
static bool at_path(fetch *c, buf *path, const json_tok *t, const char *vs, size_t vl, int depth)
{
    if (path->data)
        path->data[path->len] = '\0'; /* a sibling's walk wrote past it */
    const char *P = path->data ? path->data : "";
    size_t pn = path->len;
    want key = {.src = P, .srcn = pn};
    want *hit = c->nw ? bsearch(&key, c->w, c->nw, sizeof *c->w, want_cmp) : NULL;
    const store_field *mf = store_mapping_find(&c->x->ix->map, P);
    if (hit) {
        while (hit > c->w && want_cmp(hit - 1, &key) == 0)
            hit--;
        for (; hit < c->w + c->nw && want_cmp(hit, &key) == 0; hit++) {
            if (t->type == JSON_ARRAY && !hit->f->opaque)
                continue; /* elements come one by one below */
            if (t->type == JSON_ARRAY && hit->f->opaque) {
                /* a range or binary field's array: each element is a value */
                const char *q = json_ws(t->p + 1, t->p + t->n);
                while (q < t->p + t->n && *q != ']') {
                    json_tok et;
                    const char *qe = json_scan(q, t->p + t->n, &et);
                    if (!qe)
                        return true;
                    if (!add_value(c, hit, &et, q, (size_t)(qe - q)))
                        return false;
                    q = json_ws(qe, t->p + t->n);
                    if (q < t->p + t->n && *q == ',')
                        q = json_ws(q + 1, t->p + t->n);
                }
                continue;
            }
            if (!add_value(c, hit, t, vs, vl))
                return false;
        }
    }
    if (t->type == JSON_ARRAY) {
        const char *q = json_ws(t->p + 1, t->p + t->n);
        while (q < t->p + t->n && *q != ']') {
            json_tok et;
            const char *qe = json_scan(q, t->p + t->n, &et);
            if (!qe)
                return true;
            if (!(is_leaf(mf) && mf->opaque)) {
                if (et.type == JSON_OBJECT) {
                    if (!walk_value(c, path, q, qe, depth + 1))
                        return false;
                } else if (!at_path(c, path, &et, q, (size_t)(qe - q), depth + 1)) {
                    return false;
                }
            }
            q = json_ws(qe, t->p + t->n);
            if (q < t->p + t->n && *q == ',')
                q = json_ws(q + 1, t->p + t->n);
        }
        return true;
    }
    if (t->type == JSON_OBJECT) {
        if (is_leaf(mf))
            return true;
        return walk_value(c, path, vs, vs + vl, depth + 1);
    }
    if (c->any_unmapped && !hit && t->type != JSON_NULL && !under_leaf(&c->x->ix->map, P, pn))
        return add_unmapped(c, P, pn, vs, vl);
    return true;
}

/* The members of the object at p, their paths below path. */
static bool walk_value(fetch *c, buf *path, const char *p, const char *end, int depth)
{
    json_iter it;
    json_tok k, v;
    if (depth > JSON_MAX_DEPTH || !json_obj_begin(&it, p, end))
        return true;
    size_t base = path->len;
    buf key = BUF_INIT;
    int rc;
    while ((rc = json_obj_next(&it, &k, &v)) == 1) {
        buf_reset(&key);
        if (!json_unescape(&k, &key)) {
            buf_free(&key);
            return oom_err(c->x->err);
        }
        path->len = base;
        if (base)
            buf_putc(path, '.');
        buf_append(path, key.data ? key.data : "", key.len);
        buf_putc(path, '\0');
        path->len--;
        const char *vs = v.type == JSON_STRING ? v.p - 1 : v.p;
        size_t vl = v.type == JSON_STRING ? v.n + 2 : v.n;
        if (!buf_ok(path)) {
            buf_free(&key);
            return oom_err(c->x->err);
        }
        if (!at_path(c, path, &v, vs, vl, depth)) {
            buf_free(&key);
            return false;
        }
    }
    path->len = base;
    buf_free(&key);
    return true;
}

static int dval_cmp(const void *a, const void *b, void *arg)
{
    const dval *x = a, *y = b;
    const store_field *f = arg;
    if (f->type == STORE_FT_KEYWORD) {
        int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
        return c ? c : x->n < y->n ? -1 : x->n > y->n;
    }
    if (f->type == STORE_FT_DOUBLE)
        return x->d < y->d ? -1 : x->d > y->d;
    if (x->l != y->l)
        return x->l < y->l ? -1 : 1;
    return x->sub < y->sub ? -1 : x->sub > y->sub;
}

/* A docvalue slot's values, sorted as Lucene's doc values keep them. */
static void put_dv(slot *s)
{
    const store_field *f = s->f;
    if (s->ndv)
        qsort_r(s->dv, s->ndv, sizeof *s->dv, dval_cmp, (void *)f);
    for (size_t i = 0; i < s->ndv; i++) {
        const dval *d = &s->dv[i];
        if (f->type == STORE_FT_KEYWORD && i && dval_cmp(d, d - 1, (void *)f) == 0)
            continue; /* SortedSetDocValues: each value once */
        if (s->nvals++)
            buf_putc(&s->vals, ',');
        switch (f->type) {
        case STORE_FT_KEYWORD:
            jstrn(&s->vals, d->s, d->n);
            break;
        case STORE_FT_DOUBLE:
            store_json_put_double(&s->vals, d->d);
            break;
        case STORE_FT_ULONG:
            buf_printf(&s->vals, "%llu", (unsigned long long)store_ulong_unshift(d->l));
            break;
        case STORE_FT_BOOLEAN:
            buf_puts(&s->vals, d->l ? "true" : "false");
            break;
        case STORE_FT_DATE:
        case STORE_FT_DATE_NANOS:
            put_date(&s->vals, f, s->format, d->l, d->sub);
            break;
        default:
            jint(&s->vals, d->l);
            break;
        }
    }
}

static void fetch_free(fetch *c)
{
    for (size_t i = 0; i < c->ns; i++) {
        buf_free(&c->s[i].vals);
        free(c->s[i].own_name);
        for (size_t k = 0; k < c->s[i].ndv; k++)
            free(c->s[i].dv[k].s);
        free(c->s[i].dv);
    }
    free(c->s);
    free(c->w);
}

bool store_fetch_field_values(ex *x, const store_field *f, const store_doc_view *v, buf *out)
{
    fetch c = {.x = x};
    buf path = BUF_INIT;
    bool ok = false;
    sreq none = {0};
    c.q = &none;
    if (!GROW_ARRAY(c.w, c.wcap, 1, 1)) {
        oom_err(x->err);
        goto done;
    }
    c.nw = 1;
    c.w[0] = (want){.f = f, .src = f->path, .srcn = strlen(f->path)};
    if (f->subfield && strrchr(f->path, '.'))
        c.w[0].srcn = (size_t)(strrchr(f->path, '.') - f->path);
    if ((c.w[0].slot = slot_of(&c, f->path, false, f, NULL)) == SIZE_MAX) {
        oom_err(x->err);
        goto done;
    }
    if (!walk_value(&c, &path, v->src, v->src + v->src_len, 0))
        goto done;
    buf_putc(out, '[');
    buf_append(out, c.s[0].vals.data ? c.s[0].vals.data : "", c.s[0].vals.len);
    buf_putc(out, ']');
    ok = buf_ok(out) || oom_err(x->err);
done:
    buf_free(&path);
    fetch_free(&c);
    return ok;
}

bool store_fetch_put(ex *x, const sreq *q, const store_doc_view *v, buf *out)
{
    fetch c = {.x = x, .q = q};
    buf path = BUF_INIT;
    bool ok = false;
    int64_t ndv = 0, nf = 0;
    if (!q->nfields && !q->ndvfields)
        return true;
    if (q->nfields && v->source_disabled) {
        store_eval_shard_fail(x, "illegal_argument_exception",
                              "Unable to retrieve the requested [fields] since _source is disabled in the "
                              "mappings for index [%s]",
                              x->ix->meta.name);
        goto done;
    }
    if (!resolve(&c, q->dvfields, q->ndvfields, true, &ndv))
        goto done;
    for (size_t k = 0; k < q->ndvfields; k++) /* a name the mapping lacks still counts */
        if (!has_wild(q->dvfields[k].field) &&
            !is_leaf(store_mapping_find(&x->ix->map, q->dvfields[k].field)))
            ndv++;
    if (ndv > x->ix->max_dvf) {
        store_eval_shard_fail(
            x, "illegal_argument_exception",
            "Trying to retrieve too many docvalue_fields. Must be less than or equal to: [%" PRId64
            "] but was [%" PRId64 "]. This limit can be set by changing the "
            "[index.max_docvalue_fields_search] index level setting.",
            x->ix->max_dvf, ndv);
        goto done;
    }
    if (!resolve(&c, q->fields, q->nfields, false, &nf))
        goto done;
    /* docvalue slots first: fields, fetched later in Elasticsearch, replace them */
    for (int pass = 1; pass >= 0; pass--)
        for (size_t i = 0; i < c.nw; i++)
            if (c.w[i].dv == (pass == 1) &&
                (c.w[i].slot = slot_of(&c, c.w[i].f->path, c.w[i].dv, c.w[i].f, c.w[i].format)) == SIZE_MAX) {
                oom_err(x->err);
                goto done;
            }
    if (c.nw)
        qsort(c.w, c.nw, sizeof *c.w, want_cmp);
    if (!walk_value(&c, &path, v->src, v->src + v->src_len, 0))
        goto done;
    size_t shown = 0;
    for (size_t i = 0; i < c.ns; i++) {
        slot *s = &c.s[i];
        if (s->f)
            put_dv(s);
        bool replaced = false;
        for (size_t j = 0; s->f && j < c.ns; j++) /* a docvalue field `fields` also fetched */
            replaced = replaced || (!c.s[j].f && c.s[j].nvals && strcmp(c.s[j].name, s->name) == 0);
        if (!s->nvals || replaced)
            continue;
        buf_puts(out, shown++ ? "," : ",\"fields\":{");
        jstr(out, s->name);
        buf_puts(out, ":[");
        buf_append(out, s->vals.data ? s->vals.data : "", s->vals.len);
        buf_putc(out, ']');
    }
    if (shown)
        buf_putc(out, '}');
    ok = buf_ok(out) || oom_err(x->err);
done:
    buf_free(&path);
    fetch_free(&c);
    return ok;
}
