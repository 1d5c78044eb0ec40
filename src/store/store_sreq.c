/* store_sreq — a _search/_count request (body and parameters) parsed and validated into the options the
 * search runs with. */
#include "versync/store/store_search_int.h"

#include "versync/common/grow.h"
#include "versync/common/log.h"
#include "versync/store/store_breaker.h"
#include "versync/store/store_datefmt.h"
#include "versync/store/store_datemath.h"
#include "versync/store/store_deadline.h"
#include "versync/store/store_fielddata.h"
#include "versync/store/store_index.h"
#include "versync/store/store_json.h"
#include "versync/store/store_rounding.h"
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

/* ---- the request ------------------------------------------------------------------------ */

static void aggs_free(agg *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].field);
        free(a[i].meta);
        for (size_t f = 0; f < a[i].nf; f++) {
            store_query_free(a[i].fq[f]);
            if (a[i].fnames)
                free(a[i].fnames[f]);
        }
        free(a[i].fq);
        free(a[i].fnames);
        free(a[i].other_key);
        store_srcfilter_free(&a[i].src);
        for (size_t r = 0; r < a[i].nranges; r++)
            free(a[i].ranges[r].key);
        free(a[i].ranges);
        free(a[i].time_zone);
        free(a[i].format);
        free(a[i].ext_min.s);
        free(a[i].ext_max.s);
        free(a[i].hard_min.s);
        free(a[i].hard_max.s);
        free(a[i].dmissing.s);
        aggs_free(a[i].subs, a[i].nsubs);
    }
    free(a);
}

void store_sreq_free(sreq *q)
{
    store_query_free(q->query);
    store_query_free(q->post_filter);
    for (size_t i = 0; i < q->nkeys; i++) {
        free(q->keys[i].field);
        free(q->keys[i].unmapped_type);
    }
    free(q->keys);
    cJSON_Delete(q->after);
    store_srcfilter_free(&q->src);
    aggs_free(q->aggs, q->naggs);
    store_fetch_free(q->fields, q->nfields);
    store_fetch_free(q->dvfields, q->ndvfields);
    store_hl_free(q->hl);
    memset(q, 0, sizeof *q);
}

const char *store_sreq_param(const store_search_req *r, const char *key)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (strcmp(r->params[i].key, key) == 0)
            return r->params[i].value;
    return NULL;
}

bool store_sreq_param_bool(const store_search_req *r, const char *key, bool dflt)
{
    const char *v = store_sreq_param(r, key);
    if (!v)
        return dflt;
    return strcmp(v, "") == 0 || strcmp(v, "true") == 0;
}

const char *store_sreq_token_name(const cJSON *v)
{
    if (cJSON_IsObject(v))
        return "START_OBJECT";
    if (cJSON_IsArray(v))
        return "START_ARRAY";
    if (cJSON_IsString(v))
        return "VALUE_STRING";
    if (cJSON_IsNumber(v))
        return "VALUE_NUMBER";
    if (cJSON_IsBool(v))
        return "VALUE_BOOLEAN";
    return "VALUE_NULL";
}

static bool count_val(const cJSON *v, const char *name, int64_t *out, store_error *err)
{
    double d;
    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (cJSON_IsString(v) && json_parse_long(v->valuestring, strlen(v->valuestring), out))
        d = (double)*out;
    else
        return seterr(err, 400, "parsing_exception", "[%s] must be a number", name);
    if (d != floor(d) || d < -1e15 || d > 1e15)
        return seterr(err, 400, "parsing_exception", "[%s] must be an integer", name);
    *out = (int64_t)d;
    return true;
}

static bool long_param(const store_search_req *r, const char *key, int64_t *out, store_error *err)
{
    const char *v = store_sreq_param(r, key);
    if (!v)
        return true;
    if (json_parse_long(v, strlen(v), out))
        return true;
    return seterr(err, 400, "illegal_argument_exception",
                  "Failed to parse int parameter [%s] with value [%s]", key, v);
}

static bool add_key(sreq *q, skey k, store_error *err)
{
    skey *nk = realloc(q->keys, (q->nkeys + 1) * sizeof *nk);
    if (!nk) {
        free(k.field);
        free(k.unmapped_type);
        return oom_err(err);
    }
    q->keys = nk;
    q->keys[q->nkeys++] = k;
    return true;
}

static bool order_val(const char *s, bool *desc, store_error *err)
{
    if (strcasecmp(s, "asc") == 0)
        return *desc = false, true;
    if (strcasecmp(s, "desc") == 0)
        return *desc = true, true;
    return seterr(err, 400, "illegal_argument_exception", "Unknown SortOrder [%s]", s);
}

/* One sort key by name, with the defaults Elasticsearch gives it. */
static bool key_named(const char *name, skey *k, store_error *err)
{
    memset(k, 0, sizeof *k);
    if (strcmp(name, "_score") == 0)
        k->kind = SK_SCORE, k->desc = true;
    else if (strcmp(name, "_doc") == 0)
        k->kind = SK_DOC;
    else if (strcmp(name, "_id") == 0)
        k->kind = SK_ID;
    else if (strcmp(name, "_geo_distance") == 0 || strcmp(name, "_script") == 0)
        return seterr(err, 400, "illegal_argument_exception", "verstore does not support sorting by [%s]",
                      name);
    else {
        k->kind = SK_FIELD;
        if (!(k->field = strdup(name)))
            return oom_err(err);
    }
    return true;
}

static bool sort_entry(sreq *q, const cJSON *e, store_error *err)
{
    skey k;
    if (cJSON_IsString(e)) {
        const char *s = e->valuestring;
        return key_named(s, &k, err) && add_key(q, k, err);
    }
    if (!cJSON_IsObject(e) || !e->child || e->child->next)
        return seterr(err, 400, "parsing_exception",
                      "malformed sort format, within the sort array, an object, or an "
                      "actual string are allowed");
    const cJSON *o = e->child;
    if (!key_named(o->string, &k, err))
        return false;
    bool ok = true;
    if (cJSON_IsString(o)) {
        ok = order_val(o->valuestring, &k.desc, err);
    } else if (cJSON_IsObject(o)) {
        for (const cJSON *it = o->child; ok && it; it = it->next) {
            const char *n = it->string;
            if (strcmp(n, "order") == 0)
                ok = cJSON_IsString(it) ? order_val(it->valuestring, &k.desc, err)
                                        : seterr(err, 400, "parsing_exception", "[order] must be a string");
            else if (strcmp(n, "missing") == 0) {
                if (cJSON_IsString(it) && strcmp(it->valuestring, "_first") == 0)
                    k.missing_first = true;
                else if (cJSON_IsString(it) && strcmp(it->valuestring, "_last") == 0)
                    k.missing_first = false;
                else
                    ok = seterr(err, 400, "illegal_argument_exception",
                                "verstore supports only _first and _last as [missing] in sort");
            } else if (strcmp(n, "mode") == 0) {
                const char *m = cJSON_IsString(it) ? it->valuestring : "?";
                if (strcmp(m, "min") == 0)
                    k.mode = 1;
                else if (strcmp(m, "max") == 0)
                    k.mode = 2;
                else if (strcmp(m, "sum") == 0)
                    k.mode = 3;
                else if (strcmp(m, "avg") == 0)
                    k.mode = 4;
                else if (strcmp(m, "median") == 0)
                    k.mode = 5;
                else /* MultiValueMode.fromString */
                    ok = seterr(err, 400, "illegal_argument_exception", "Unknown MultiValueMode [%s]", m);
            } else if (strcmp(n, "unmapped_type") == 0) {
                free(k.unmapped_type);
                ok = cJSON_IsString(it) && (k.unmapped_type = strdup(it->valuestring)) != NULL;
                if (!ok)
                    seterr(err, 400, "parsing_exception", "[unmapped_type] must be a string");
            } else if (strcmp(n, "numeric_type") == 0 || strcmp(n, "format") == 0) {
                /* ES converts numbers between field types; values here already compare as numbers */
            } else
                ok = seterr(err, 400, "illegal_argument_exception", "verstore does not support [%s] in sort",
                            n);
        }
    } else {
        ok = seterr(err, 400, "parsing_exception", "malformed sort format for [%s]", o->string);
    }
    if (!ok) {
        free(k.field);
        free(k.unmapped_type);
        return false;
    }
    return add_key(q, k, err);
}

/* ?sort=a,b:desc */
static bool sort_param(sreq *q, const char *s, store_error *err)
{
    while (*s) {
        size_t n = strcspn(s, ",");
        char tok[512];
        snprintf(tok, sizeof tok, "%.*s", (int)(n < sizeof tok ? n : sizeof tok - 1), s);
        s += n + (s[n] == ',');
        if (!tok[0])
            continue;
        char *colon = strrchr(tok, ':');
        bool desc = false, has_order = false;
        if (colon) {
            *colon = '\0';
            if (!order_val(colon + 1, &desc, err))
                return false;
            has_order = true;
        }
        skey k;
        if (!key_named(tok, &k, err))
            return false;
        if (has_order)
            k.desc = desc;
        if (!add_key(q, k, err))
            return false;
    }
    return true;
}

static const char *const es_aggs[] = {"histogram",
                                      "range",
                                      "date_range",
                                      "ip_range",
                                      "filter",
                                      "filters",
                                      "stats",
                                      "extended_stats",
                                      "percentiles",
                                      "percentile_ranks",
                                      "top_hits",
                                      "nested",
                                      "reverse_nested",
                                      "composite",
                                      "significant_terms",
                                      "significant_text",
                                      "geo_bounds",
                                      "geo_centroid",
                                      "geohash_grid",
                                      "geotile_grid",
                                      "missing",
                                      "global",
                                      "sampler",
                                      "diversified_sampler",
                                      "adjacency_matrix",
                                      "auto_date_histogram",
                                      "variable_width_histogram",
                                      "rare_terms",
                                      "multi_terms",
                                      "scripted_metric",
                                      "weighted_avg",
                                      "median_absolute_deviation",
                                      "string_stats",
                                      "boxplot",
                                      "t_test",
                                      "top_metrics",
                                      "matrix_stats",
                                      "bucket_script",
                                      "bucket_selector",
                                      "bucket_sort",
                                      "avg_bucket",
                                      "max_bucket",
                                      "min_bucket",
                                      "sum_bucket",
                                      "stats_bucket",
                                      "cumulative_sum",
                                      "derivative",
                                      "moving_fn",
                                      "serial_diff",
                                      "random_sampler",
                                      "categorize_text",
                                      "frequent_item_sets",
                                      NULL};

static bool in_list(const char *k, const char *const *l)
{
    for (; *l; l++)
        if (strcmp(*l, k) == 0)
            return true;
    return false;
}

static bool parse_aggs(const cJSON *o, agg **out, size_t *nout, int depth, store_error *err);

/* top_hits: size (3), from, _source, version, seq_no_primary_term; hits by
 * score, as TopHitsAggregationBuilder without a sort. */
static bool parse_top_hits(const cJSON *body, agg *a, store_error *err)
{
    a->t = AG_TOP;
    a->size = 3;
    if (!cJSON_IsObject(body))
        return seterr(err, 400, "parsing_exception", "[top_hits] aggregation [%s] must be an object", a->name);
    for (const cJSON *it = body->child; it; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "size") == 0 || strcmp(k, "from") == 0) {
            if (!count_val(it, k, k[0] == 's' ? &a->size : &a->from, err))
                return false;
            if (a->size < 0 || a->from < 0)
                return seterr(err, 400, "illegal_argument_exception", "[%s] must be >= 0 in [%s]", k, a->name);
        } else if (strcmp(k, "_source") == 0) {
            store_srcfilter_free(&a->src);
            store_srcfilter_from_json(it, &a->src);
        } else if (strcmp(k, "version") == 0) {
            a->version = cJSON_IsTrue(it);
        } else if (strcmp(k, "seq_no_primary_term") == 0) {
            a->seqno = cJSON_IsTrue(it);
        } else if (strcmp(k, "sort") == 0 && cJSON_IsArray(it) && cJSON_GetArraySize(it) == 1 &&
                   cJSON_IsString(it->child) && strcmp(it->child->valuestring, "_score") == 0) {
            /* the default */
        } else {
            return seterr(err, 400, "illegal_argument_exception",
                          "verstore does not support [%s] in the [top_hits] aggregation [%s]", k, a->name);
        }
    }
    return true;
}

static int range_cmp(const void *x, const void *y)
{
    const agrange *a = x, *b = y;
    double af = a->has_from ? a->from : -INFINITY, bf = b->has_from ? b->from : -INFINITY;
    double at = a->has_to ? a->to : INFINITY, bt = b->has_to ? b->to : INFINITY;
    return af < bf ? -1 : af > bf ? 1 : at < bt ? -1 : at > bt ? 1 : 0;
}

/* A range end: a number, a numeric string, or null for an open end. */
static bool range_end(const cJSON *v, double *out, bool *has, const char *name, store_error *err)
{
    *has = false;
    if (!v || cJSON_IsNull(v))
        return true;
    char *end = NULL;
    if (cJSON_IsNumber(v))
        *out = v->valuedouble;
    else if (!cJSON_IsString(v) || !*v->valuestring || (*out = strtod(v->valuestring, &end), *end))
        return seterr(err, 400, "parsing_exception", "[%s] of a range must be a number in [%s]", v->string, name);
    *has = true;
    return true;
}

/* range's `ranges`: [{from, to, key}…], kept sorted. */
static bool parse_ranges(const cJSON *it, agg *a, store_error *err)
{
    if (!cJSON_IsArray(it) || !it->child || a->ranges)
        return seterr(err, 400, "illegal_argument_exception", "No [ranges] specified for the [%s] aggregation",
                      a->name);
    size_t n = (size_t)cJSON_GetArraySize(it);
    if (!(a->ranges = calloc(n, sizeof *a->ranges)))
        return oom_err(err);
    for (const cJSON *r = it->child; r; r = r->next) {
        agrange *g = &a->ranges[a->nranges++];
        if (!cJSON_IsObject(r))
            return seterr(err, 400, "parsing_exception", "a range must be an object in [%s]", a->name);
        for (const cJSON *m = r->child; m; m = m->next)
            if (strcmp(m->string, "from") != 0 && strcmp(m->string, "to") != 0 && strcmp(m->string, "key") != 0)
                return seterr(err, 400, "parsing_exception", "Unknown key for a %s in [%s].",
                              store_sreq_token_name(m), m->string);
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(r, "key");
        if (key && (!cJSON_IsString(key) || !(g->key = strdup(key->valuestring))))
            return cJSON_IsString(key) ? oom_err(err)
                                       : seterr(err, 400, "parsing_exception", "[key] must be a string");
        if (!range_end(cJSON_GetObjectItemCaseSensitive(r, "from"), &g->from, &g->has_from, a->name, err) ||
            !range_end(cJSON_GetObjectItemCaseSensitive(r, "to"), &g->to, &g->has_to, a->name, err))
            return false;
    }
    qsort(a->ranges, a->nranges, sizeof *a->ranges, range_cmp);
    return true;
}

/* `filter: {query}` or `filters: {filters: {name: query…} | [query…], other_bucket, other_bucket_key}`,
 * as FiltersAggregationBuilder parses them. */
static bool parse_filters_agg(const cJSON *body, agg *a, store_error *err)
{
    bool one = strcmp(body->string, "filter") == 0;
    a->t = one ? AG_FILTER : AG_FILTERS;
    if (!cJSON_IsObject(body))
        return seterr(err, 400, "parsing_exception", "[%s] aggregation [%s] must be an object", body->string,
                      a->name);
    if (one) {
        if (!(a->fq = calloc(1, sizeof *a->fq)))
            return oom_err(err);
        a->nf = 1;
        return (a->fq[0] = store_query_parse(body, err)) != NULL;
    }
    const cJSON *fs = NULL;
    bool other = false;
    for (const cJSON *it = body->child; it; it = it->next) {
        if (strcmp(it->string, "filters") == 0)
            fs = it;
        else if (strcmp(it->string, "other_bucket") == 0 && cJSON_IsBool(it))
            other = cJSON_IsTrue(it);
        else if (strcmp(it->string, "other_bucket_key") == 0 && cJSON_IsString(it)) {
            free(a->other_key);
            if (!(a->other_key = strdup(it->valuestring)))
                return oom_err(err);
            other = true; /* a key alone asks for the bucket */
        } else if (strcmp(it->string, "keyed") != 0)
            return seterr(err, 400, "parsing_exception", "Unknown key for a %s in [%s].",
                          store_sreq_token_name(it), it->string);
    }
    if (!fs || !(cJSON_IsObject(fs) || cJSON_IsArray(fs)))
        return seterr(err, 400, "parsing_exception", "[filters] must be an object or an array in [%s]", a->name);
    size_t n = (size_t)cJSON_GetArraySize(fs);
    if (!(a->fq = calloc(n ? n : 1, sizeof *a->fq)) ||
        (cJSON_IsObject(fs) && !(a->fnames = calloc(n ? n : 1, sizeof *a->fnames))))
        return oom_err(err);
    for (const cJSON *it = fs->child; it; it = it->next) {
        if (a->fnames && !(a->fnames[a->nf] = strdup(it->string)))
            return oom_err(err);
        a->nf++; /* counted before the parse, so a half-built entry is freed */
        if (!(a->fq[a->nf - 1] = store_query_parse(it, err)))
            return false;
    }
    if (other && !a->other_key && !(a->other_key = strdup("_other_")))
        return oom_err(err);
    return true;
}

/* A date_histogram bound or `missing`: a number of milliseconds or a date (math) kept as text. */
static bool agdate_val(const cJSON *v, const char *what, agdate *d, store_error *err)
{
    if (cJSON_IsNull(v))
        return true;
    if (cJSON_IsNumber(v)) {
        if (v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9.2e18)
            return seterr(err, 400, "x_content_parse_exception", "[%s] must be a whole number of milliseconds", what);
        d->ms = (int64_t)v->valuedouble;
    } else if (cJSON_IsString(v)) {
        free(d->s);
        if (!(d->s = strdup(v->valuestring)))
            return oom_err(err);
    } else
        return seterr(err, 400, "x_content_parse_exception", "[%s] must be a date or a number", what);
    d->set = true;
    return true;
}

/* extended_bounds / hard_bounds: {min, max} (LongBounds.PARSER). */
static bool bounds_val(const cJSON *it, agdate *min, agdate *max, store_error *err)
{
    if (!cJSON_IsObject(it))
        return seterr(err, 400, "x_content_parse_exception", "[%s] expected an object", it->string);
    for (const cJSON *b = it->child; b; b = b->next) {
        bool ok = strcmp(b->string, "min") == 0   ? agdate_val(b, "min", min, err)
                  : strcmp(b->string, "max") == 0 ? agdate_val(b, "max", max, err)
                                                   : seterr(err, 400, "x_content_parse_exception",
                                                            "[%s] unknown field [%s]", it->string, b->string);
        if (!ok)
            return false;
    }
    return true;
}

/* TimeValue text for offset ("+6h", "-1d") in milliseconds. */
static bool offset_val(const cJSON *it, int64_t *ms, store_error *err)
{
    if (cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble) && fabs(it->valuedouble) < 1e15)
        return *ms = (int64_t)it->valuedouble, true;
    const char *s = cJSON_IsString(it) ? it->valuestring : "";
    bool neg = s[0] == '-';
    if (!store_rounding_time_value(s + (s[0] == '-' || s[0] == '+'), ms) || *ms > 1000000000000000LL)
        return seterr(err, 400, "x_content_parse_exception",
                      "[date_histogram] failed to parse field [offset]: failed to parse setting "
                      "[date_histogram.offset] with value [%s] as a time value: unit is missing or unrecognized",
                      s);
    if (neg)
        *ms = -*ms;
    return true;
}

/* One member of a date_histogram (DateHistogramAggregationBuilder.PARSER);
 * false with err set, or *known false when the member is not its own. */
static bool dhisto_member(const cJSON *it, agg *a, bool *have_cal, bool *have_fixed, bool *known, store_error *err)
{
    const char *k = it->string;
    char text[64];
    *known = true;
    if (strcmp(k, "calendar_interval") == 0 || strcmp(k, "fixed_interval") == 0) {
        bool cal = k[0] == 'c';
        const char *v = cJSON_IsString(it) ? it->valuestring : "";
        if (cJSON_IsNumber(it)) { /* DateHistogramInterval takes the token's text */
            snprintf(text, sizeof text, "%.0f", it->valuedouble);
            v = text;
        }
        if (cal ? *have_fixed : *have_cal)
            return seterr(err, 400, "x_content_parse_exception",
                          "[date_histogram] failed to parse field [%s]: Cannot use [%s] with [%s] configuration option.",
                          k, k, cal ? "fixed_interval" : "calendar_interval");
        if (!*v)
            return seterr(err, 400, "x_content_parse_exception",
                          "[date_histogram] failed to parse field [%s]: [interval] must not be null: [date_histogram]", k);
        store_round_unit u;
        if (cal && !store_rounding_calendar_unit(v, &u))
            return seterr(err, 400, "x_content_parse_exception",
                          "[date_histogram] failed to parse field [calendar_interval]: The supplied interval [%s] "
                          "could not be parsed as a calendar interval.",
                          v);
        if (!cal && !store_rounding_time_value(v, &a->dh_fixed))
            return seterr(err, 400, "x_content_parse_exception",
                          "[date_histogram] failed to parse field [fixed_interval]: failed to parse setting "
                          "[date_histogram.fixedInterval] with value [%s] as a time value: unit is missing or "
                          "unrecognized",
                          v);
        a->dh_unit = cal ? (int)u : STORE_ROUND_FIXED;
        *(cal ? have_cal : have_fixed) = true;
    } else if (strcmp(k, "time_zone") == 0) {
        const char *z = cJSON_IsString(it) ? it->valuestring : "";
        if (cJSON_IsNumber(it)) { /* ZoneOffset.ofHours */
            snprintf(text, sizeof text, "%+03d:00", (int)it->valuedouble);
            z = text;
        }
        if (!store_datemath_zone_valid(z))
            return seterr(err, 400, "x_content_parse_exception",
                          "[date_histogram] failed to parse field [time_zone]: Unknown time-zone ID: %s", z);
        free(a->time_zone);
        if (!(a->time_zone = strdup(z)))
            return oom_err(err);
    } else if (strcmp(k, "offset") == 0) {
        return offset_val(it, &a->dh_offset, err);
    } else if (strcmp(k, "min_doc_count") == 0) {
        if (!count_val(it, "min_doc_count", &a->min_doc_count, err))
            return false;
        if (a->min_doc_count < 0)
            return seterr(err, 400, "illegal_argument_exception",
                          "[min_doc_count] must be greater than or equal to 0. Found [%" PRId64 "] in [%s]",
                          a->min_doc_count, a->name);
    } else if (strcmp(k, "extended_bounds") == 0) {
        return bounds_val(it, &a->ext_min, &a->ext_max, err);
    } else if (strcmp(k, "hard_bounds") == 0) {
        return bounds_val(it, &a->hard_min, &a->hard_max, err);
    } else if (strcmp(k, "missing") == 0) {
        return agdate_val(it, "missing", &a->dmissing, err);
    } else if (strcmp(k, "keyed") == 0) {
        a->keyed = cJSON_IsTrue(it);
    } else if (strcmp(k, "format") == 0) {
        char why[256];
        if (!cJSON_IsString(it))
            return seterr(err, 400, "x_content_parse_exception", "[date_histogram] format doesn't support values of type: %s",
                          store_sreq_token_name(it));
        if (!store_datefmt_valid(it->valuestring, why, sizeof why))
            return seterr(err, 400, "illegal_argument_exception", "%s", why);
        free(a->format);
        if (!(a->format = strdup(it->valuestring)))
            return oom_err(err);
    } else if (strcmp(k, "order") == 0) {
        const cJSON *o = cJSON_IsArray(it) && cJSON_GetArraySize(it) == 1 ? it->child : it;
        bool desc;
        if (!cJSON_IsObject(o) || !o->child || o->child->next || !cJSON_IsString(o->child))
            return seterr(err, 400, "illegal_argument_exception",
                          "verstore supports one [order] of _count or _key in [date_histogram] aggregations");
        if (!order_val(o->child->valuestring, &desc, err))
            return false;
        if (strcmp(o->child->string, "_count") == 0)
            a->order = desc ? 0 : 1;
        else if (strcmp(o->child->string, "_key") == 0)
            a->order = desc ? 3 : 2;
        else
            return seterr(err, 400, "illegal_argument_exception",
                          "verstore supports only _count and _key as [order] in [date_histogram] aggregations, not [%s]",
                          o->child->string);
    } else if (strcmp(k, "interval") == 0) { /* REST API 7 only; Elasticsearch 8 does not know it */
        return seterr(err, 400, "x_content_parse_exception", "[date_histogram] unknown field [interval]");
    } else
        *known = false;
    return true;
}

static bool parse_agg(const cJSON *def, agg *a, int depth, store_error *err)
{
    if (!(a->name = strdup(def->string)))
        return oom_err(err);
    if (!cJSON_IsObject(def))
        return seterr(err, 400, "parsing_exception",
                      "Expected [START_OBJECT] under [%s], but got a [%s] in [%s]", def->string,
                      store_sreq_token_name(def), def->string);
    const cJSON *body = NULL, *subs = NULL;
    for (const cJSON *it = def->child; it; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "aggs") == 0 || strcmp(k, "aggregations") == 0) {
            subs = it;
            continue;
        }
        if (strcmp(k, "meta") == 0) { /* AggregatorFactories: an object, returned as given */
            if (!cJSON_IsObject(it))
                return seterr(err, 400, "parsing_exception",
                              "Expected [START_OBJECT] under [meta], but got a [%s] in [%s]",
                              store_sreq_token_name(it), a->name);
            free(a->meta);
            if (!(a->meta = cJSON_PrintUnformatted(it)))
                return oom_err(err);
            continue;
        }
        if (body)
            return seterr(err, 400, "parsing_exception",
                          "Found two aggregation type definitions in [%s]: [%s] and [%s]", a->name,
                          body->string, k);
        body = it;
    }
    if (!body)
        return seterr(err, 400, "parsing_exception", "Missing definition for aggregation [%s]", a->name);
    const char *t = body->string;
    if (strcmp(t, "filter") == 0 || strcmp(t, "filters") == 0) {
        if (!parse_filters_agg(body, a, err))
            return false;
        return !subs || parse_aggs(subs, &a->subs, &a->nsubs, depth + 1, err);
    }
    if (strcmp(t, "terms") == 0)
        a->t = AG_TERMS;
    else if (strcmp(t, "avg") == 0)
        a->t = AG_AVG;
    else if (strcmp(t, "min") == 0)
        a->t = AG_MIN;
    else if (strcmp(t, "max") == 0)
        a->t = AG_MAX;
    else if (strcmp(t, "sum") == 0)
        a->t = AG_SUM;
    else if (strcmp(t, "value_count") == 0)
        a->t = AG_COUNT;
    else if (strcmp(t, "cardinality") == 0)
        a->t = AG_CARD;
    else if (strcmp(t, "range") == 0)
        a->t = AG_RANGE;
    else if (strcmp(t, "histogram") == 0)
        a->t = AG_HISTO;
    else if (strcmp(t, "date_histogram") == 0)
        a->t = AG_DHISTO;
    else if (strcmp(t, "top_hits") == 0) {
        if (!parse_top_hits(body, a, err))
            return false;
        return !subs || seterr(err, 400, "aggregation_initialization_exception",
                               "Aggregator [%s] of type [top_hits] cannot accept sub-aggregations", a->name);
    }
    else if (in_list(t, es_aggs))
        return seterr(err, 400, "illegal_argument_exception",
                      "verstore does not support the [%s] aggregation (in [%s])", t, a->name);
    else
        return seterr(err, 400, "parsing_exception", "Unknown aggregation type [%s]", t);
    a->size = 10;
    a->min_doc_count = a->t == AG_HISTO || a->t == AG_DHISTO ? 0 : 1; /* a histogram shows its empty buckets */
    if (a->t == AG_DHISTO)
        a->order = 2; /* _key asc */
    bool have_cal = false, have_fixed = false, known = false;
    if (!cJSON_IsObject(body))
        return seterr(err, 400, "parsing_exception", "[%s] aggregation [%s] must be an object", t, a->name);
    for (const cJSON *it = body->child; it; it = it->next) {
        const char *k = it->string;
        if (a->t == AG_DHISTO && strcmp(k, "field") != 0) {
            if (!dhisto_member(it, a, &have_cal, &have_fixed, &known, err))
                return false;
            if (known)
                continue;
        }
        if (strcmp(k, "field") == 0) {
            if (!cJSON_IsString(it))
                return seterr(err, 400, "parsing_exception", "[field] must be a string in [%s]", a->name);
            free(a->field);
            if (!(a->field = strdup(it->valuestring)))
                return oom_err(err);
        } else if (a->t == AG_TERMS && strcmp(k, "size") == 0) {
            if (!count_val(it, "size", &a->size, err))
                return false;
            if (a->size <= 0)
                return seterr(err, 400, "illegal_argument_exception",
                              "[size] must be greater than 0. Found [%" PRId64 "] in [%s]", a->size, a->name);
        } else if (a->t == AG_TERMS && strcmp(k, "min_doc_count") == 0) {
            if (!count_val(it, "min_doc_count", &a->min_doc_count, err))
                return false;
            if (a->min_doc_count < 1)
                return seterr(err, 400, "illegal_argument_exception",
                              "verstore does not support [min_doc_count] below 1 in [terms] aggregations");
        } else if (a->t == AG_TERMS && strcmp(k, "order") == 0) {
            const cJSON *o = cJSON_IsArray(it) && cJSON_GetArraySize(it) == 1 ? it->child : it;
            if (!cJSON_IsObject(o) || !o->child || o->child->next || !cJSON_IsString(o->child))
                return seterr(err, 400, "illegal_argument_exception",
                              "verstore supports one [order] of _count or _key in [terms] aggregations");
            bool desc;
            if (!order_val(o->child->valuestring, &desc, err))
                return false;
            if (strcmp(o->child->string, "_count") == 0)
                a->order = desc ? 0 : 1;
            else if (strcmp(o->child->string, "_key") == 0 || strcmp(o->child->string, "_term") == 0)
                a->order = desc ? 3 : 2;
            else
                return seterr(
                    err, 400, "illegal_argument_exception",
                    "verstore supports only _count and _key as [order] in [terms] aggregations, not [%s]",
                    o->child->string);
        } else if (a->t == AG_TERMS &&
                   (strcmp(k, "shard_size") == 0 || strcmp(k, "execution_hint") == 0 ||
                    strcmp(k, "collect_mode") == 0 || strcmp(k, "show_term_doc_count_error") == 0 ||
                    strcmp(k, "shard_min_doc_count") == 0)) {
            /* one shard: nothing to tune */
        } else if (a->t >= AG_AVG && a->t <= AG_COUNT && strcmp(k, "missing") == 0) {
            char *end = NULL;
            if (cJSON_IsNumber(it))
                a->missing = it->valuedouble;
            else if (!cJSON_IsString(it) || !*it->valuestring || (a->missing = strtod(it->valuestring, &end), *end))
                return seterr(err, 400, "illegal_argument_exception",
                              "verstore supports a number as [missing] in the [%s] aggregation [%s]", t, a->name);
            a->has_missing = true;
        } else if (a->t == AG_HISTO && (strcmp(k, "interval") == 0 || strcmp(k, "offset") == 0)) {
            if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble))
                return seterr(err, 400, "x_content_parse_exception", "[%s] must be a number in [%s]", k, a->name);
            if (k[0] == 'i')
                a->interval = it->valuedouble;
            else
                a->offset = it->valuedouble;
        } else if (a->t == AG_HISTO && strcmp(k, "min_doc_count") == 0) {
            if (!count_val(it, "min_doc_count", &a->min_doc_count, err))
                return false;
        } else if (a->t == AG_HISTO && strcmp(k, "keyed") == 0 && cJSON_IsBool(it)) {
            a->keyed = cJSON_IsTrue(it);
        } else if (a->t == AG_RANGE && strcmp(k, "ranges") == 0) {
            if (!parse_ranges(it, a, err))
                return false;
        } else if (a->t == AG_RANGE && strcmp(k, "keyed") == 0 && cJSON_IsBool(it)) {
            a->keyed = cJSON_IsTrue(it);
        } else if (a->t == AG_CARD && (strcmp(k, "precision_threshold") == 0 || strcmp(k, "execution_hint") == 0)) {
            /* the count is exact, so any threshold is met */
            if (!cJSON_IsNumber(it) && !cJSON_IsString(it))
                return seterr(err, 400, "parsing_exception", "[%s] must be a value in [%s]", k, a->name);
        } else if (strcmp(k, "format") == 0) {
        } else {
            return seterr(err, 400, "illegal_argument_exception",
                          "verstore does not support [%s] in the [%s] aggregation [%s]", k, t, a->name);
        }
    }
    if (!a->field)
        return seterr(err, 400, "illegal_argument_exception",
                      "verstore needs a [field] in the [%s] aggregation [%s] (scripts are not supported)", t,
                      a->name);
    if (a->t == AG_HISTO && !(a->interval > 0)) /* HistogramAggregationBuilder */
        return seterr(err, 400, "illegal_argument_exception", "[interval] must be >0 for histogram aggregation [%s]",
                      a->name);
    if (a->t == AG_DHISTO && !have_cal && !have_fixed) /* DateIntervalWrapper.createRounding */
        return seterr(err, 400, "illegal_argument_exception", "Invalid interval specified, must be non-null and non-empty");
    if (a->t == AG_DHISTO && have_fixed && a->dh_fixed <= 0) /* TimeIntervalRounding */
        return seterr(err, 400, "illegal_argument_exception", "Zero or negative time interval not supported");
    if (a->t == AG_RANGE && !a->ranges)
        return seterr(err, 400, "illegal_argument_exception", "No [ranges] specified for the [%s] aggregation",
                      a->name);
    if (subs) {
        if (a->t != AG_TERMS && a->t != AG_RANGE && a->t != AG_HISTO && a->t != AG_DHISTO)
            return seterr(err, 400, "aggregation_initialization_exception",
                          "Aggregator [%s] of type [%s] cannot accept sub-aggregations", a->name, t);
        return parse_aggs(subs, &a->subs, &a->nsubs, depth + 1, err);
    }
    return true;
}

static bool parse_aggs(const cJSON *o, agg **out, size_t *nout, int depth, store_error *err)
{
    if (depth > 16)
        return seterr(err, 400, "illegal_argument_exception", "aggregations nested deeper than 16 levels");
    if (!cJSON_IsObject(o))
        return seterr(err, 400, "parsing_exception", "Expected [START_OBJECT] under [%s], but got a [%s]",
                      o->string, store_sreq_token_name(o));
    size_t n = (size_t)cJSON_GetArraySize(o);
    agg *a = calloc(n ? n : 1, sizeof *a);
    if (!a)
        return oom_err(err);
    *out = a;
    *nout = n;
    size_t i = 0;
    for (const cJSON *it = o->child; it; it = it->next, i++)
        if (!parse_agg(it, &a[i], depth, err))
            return false;
    return true;
}

/* A search's `timeout` (body or URL): Elasticsearch's time value, -1 none. */
static bool timeout_val(const char *s, int64_t *ms, store_error *err)
{
    if (!store_util_parse_time_ms(s, ms))
        return seterr(err, 400, "parse_exception",
                      "failed to parse setting [timeout] with value [%s] as a time value: unit is missing or "
                      "unrecognized",
                      s);
    return true;
}

bool store_sreq_keep_alive(const char *s, int64_t *ms, store_error *err)
{
    if (!store_util_parse_time_ms(s, ms) || *ms < 0)
        return seterr(err, 400, "illegal_argument_exception",
                      "failed to parse setting [scroll] with value [%s] as a time value: unit is missing or "
                      "unrecognized",
                      s);
    if (*ms > MAX_KEEP_ALIVE_MS)
        return seterr(
            err, 400, "illegal_argument_exception",
            "Keep alive for request (%s) is too large. It must be less than (1d). This limit can be set by "
            "changing the [search.max_keep_alive] cluster level setting.",
            s);
    return true;
}

static bool qs_param(const store_search_req *r, store_query **out, store_error *err)
{
    const char *q = store_sreq_param(r, "q");
    if (!q)
        return true;
    const char *df = store_sreq_param(r, "df");
    const char *op = store_sreq_param(r, "default_operator");
    const char *an = store_sreq_param(r, "analyzer");
    if (an && strcmp(an, "standard") != 0 && strcmp(an, "default") != 0)
        return seterr(err, 400, "illegal_argument_exception",
                      "verstore supports only the standard analyzer, not [%s]", an);
    bool op_and = false;
    if (op && strcasecmp(op, "and") == 0)
        op_and = true;
    else if (op && strcasecmp(op, "or") != 0)
        return seterr(err, 400, "illegal_argument_exception",
                      "operator needs to be either [and, or], but not [%s]", op);
    const char *fields[1] = {df};
    store_query_free(*out);
    *out = store_query_parse_string(q, fields, df ? 1 : 0, op_and, store_sreq_param_bool(r, "lenient", false),
                                    err);
    return *out != NULL;
}

/* The body and parameters of _search (count: those of _count). */
/* Whether a body's stored_fields (a string or a list) still fetches the
 * source: it names "_source" or a wildcard. */
static bool stored_fields_fetch_source(const cJSON *v)
{
    const cJSON *it;
    if (cJSON_IsString(v))
        return strcmp(v->valuestring, "_source") == 0 || strchr(v->valuestring, '*');
    cJSON_ArrayForEach(it, v)
    {
        if (cJSON_IsString(it) && (strcmp(it->valuestring, "_source") == 0 || strchr(it->valuestring, '*')))
            return true;
    }
    return false;
}

bool store_sreq_parse(const store_search_req *r, bool count, sreq *q, store_error *err)
{
    bool src_given = false, stored_no_source = false, track_given = false;
    memset(q, 0, sizeof *q);
    q->timeout_ms = -2;
    q->size = 10;
    q->track = TRACK_DEFAULT;
    q->ignore_unavailable = store_sreq_param_bool(r, "ignore_unavailable", false);
    q->allow_no_indices = store_sreq_param_bool(r, "allow_no_indices", true);
    const cJSON *body = r->body;
    if (body && !cJSON_IsObject(body))
        return seterr(err, 400, "parsing_exception", "request body or source parameter is required");
    for (const cJSON *it = body ? body->child : NULL; it; it = it->next) {
        const char *k = it->string;
        if (strcmp(k, "query") == 0) {
            store_query_free(q->query);
            if (!(q->query = store_query_parse(it, err)))
                return false;
        } else if (count) {
            return seterr(err, 400, "parsing_exception", "request does not support [%s]", k);
        } else if (strcmp(k, "post_filter") == 0) {
            store_query_free(q->post_filter);
            if (!(q->post_filter = store_query_parse(it, err)))
                return false;
        } else if (strcmp(k, "from") == 0) {
            if (!count_val(it, k, &q->from, err))
                return false;
            q->from_given = true;
        } else if (strcmp(k, "size") == 0) {
            if (!count_val(it, k, &q->size, err))
                return false;
        } else if (strcmp(k, "sort") == 0) {
            if (cJSON_IsArray(it)) {
                const cJSON *e;
                cJSON_ArrayForEach(e, it) if (!sort_entry(q, e, err)) return false;
            } else if (!sort_entry(q, it, err))
                return false;
        } else if (strcmp(k, "search_after") == 0) {
            if (!cJSON_IsArray(it))
                return seterr(err, 400, "parsing_exception", "[search_after] must be an array");
            cJSON_Delete(q->after);
            if (!(q->after = cJSON_Duplicate(it, true)))
                return oom_err(err);
        } else if (strcmp(k, "_source") == 0) {
            store_srcfilter_free(&q->src);
            store_srcfilter_from_json(it, &q->src);
            src_given = true;
        } else if (strcmp(k, "version") == 0) {
            q->version = cJSON_IsTrue(it);
        } else if (strcmp(k, "seq_no_primary_term") == 0) {
            q->seqno = cJSON_IsTrue(it);
        } else if (strcmp(k, "track_scores") == 0) {
            q->track_scores = cJSON_IsTrue(it);
        } else if (strcmp(k, "track_total_hits") == 0) {
            track_given = true;
            if (cJSON_IsFalse(it))
                q->track = -1;
            else if (cJSON_IsTrue(it))
                q->track_exact = true;
            else if (!count_val(it, k, &q->track, err))
                return false;
            else if (q->track < 0)
                return seterr(err, 400, "illegal_argument_exception",
                              "[track_total_hits] parameter must be positive or equals to -1, got %" PRId64,
                              q->track);
        } else if (strcmp(k, "terminate_after") == 0) {
            if (!count_val(it, k, &q->terminate_after, err))
                return false;
            if (q->terminate_after < 0)
                return seterr(err, 400, "illegal_argument_exception", "terminateAfter must be > 0");
        } else if (strcmp(k, "min_score") == 0) {
            if (!cJSON_IsNumber(it))
                return seterr(err, 400, "parsing_exception", "[min_score] must be a number");
            q->has_min_score = true;
            q->min_score = (float)it->valuedouble;
        } else if (strcmp(k, "aggs") == 0 || strcmp(k, "aggregations") == 0) {
            aggs_free(q->aggs, q->naggs);
            q->aggs = NULL;
            q->naggs = 0;
            if (!parse_aggs(it, &q->aggs, &q->naggs, 0, err))
                return false;
        } else if (strcmp(k, "stored_fields") == 0) {
            /* verstore has no stored fields but _source; as in Elasticsearch a
             * list without "_source" (or "*") leaves the source out unless
             * _source itself is asked for */
            if (cJSON_IsString(it) && strcmp(it->valuestring, "_none_") == 0)
                q->src.none = true;
            else
                stored_no_source = !stored_fields_fetch_source(it);
        } else if (strcmp(k, "explain") == 0 || strcmp(k, "profile") == 0) {
            if (cJSON_IsTrue(it))
                return seterr(err, 400, "illegal_argument_exception", "verstore does not support [%s]", k);
        } else if (strcmp(k, "docvalue_fields") == 0) {
            if (!store_fetch_parse(it, &q->dvfields, &q->ndvfields, err))
                return false;
        } else if (strcmp(k, "fields") == 0) {
            if (!store_fetch_parse(it, &q->fields, &q->nfields, err))
                return false;
        } else if (strcmp(k, "script_fields") == 0) {
            if (!cJSON_IsObject(it) || it->child)
                return seterr(err, 400, "illegal_argument_exception",
                              "verstore does not support [%s]; read values from _source", k);
        } else if (strcmp(k, "timeout") == 0) {
            char text[64];
            if (cJSON_IsString(it))
                snprintf(text, sizeof text, "%.63s", it->valuestring);
            else if (cJSON_IsNumber(it))
                snprintf(text, sizeof text, "%.17g", it->valuedouble);
            else
                return seterr(err, 400, "parsing_exception",
                              "[timeout] must be a time value such as \"500ms\"");
            if (!timeout_val(text, &q->timeout_ms, err))
                return false;
        } else if (strcmp(k, "stats") == 0 || strcmp(k, "indices_boost") == 0 || strcmp(k, "_name") == 0) {
            if (strcmp(k, "indices_boost") == 0)
                return seterr(err, 400, "illegal_argument_exception",
                              "verstore does not support [indices_boost]");
        } else if (strcmp(k, "highlight") == 0) {
            if (!store_hl_parse(it, &q->hl, err))
                return false;
        } else if (strcmp(k, "suggest") == 0 || strcmp(k, "collapse") == 0 ||
                   strcmp(k, "rescore") == 0 || strcmp(k, "runtime_mappings") == 0 || strcmp(k, "pit") == 0 ||
                   strcmp(k, "knn") == 0 || strcmp(k, "slice") == 0 || strcmp(k, "ext") == 0 ||
                   strcmp(k, "rank") == 0 || strcmp(k, "sub_searches") == 0 || strcmp(k, "retriever") == 0) {
            return seterr(err, 400, "illegal_argument_exception",
                          "verstore does not support [%s] in searches", k);
        } else {
            return seterr(err, 400, "parsing_exception", "Unknown key for a %s in [%s].",
                          store_sreq_token_name(it), k);
        }
    }
    /* URL parameters win over the body, as in RestSearchAction. */
    if (!qs_param(r, &q->query, err))
        return false;
    if (!long_param(r, "terminate_after", &q->terminate_after, err))
        return false;
    /* RestSearchAction/RestCountAction check it before the index is looked up */
    if (q->terminate_after < 0)
        return seterr(err, 400, "illegal_argument_exception", "terminateAfter must be > 0");
    if (count) {
        /* RestCountAction's ?min_score: counts only documents scoring at least that */
        const char *ms = store_sreq_param(r, "min_score");
        if (ms) {
            char *end;
            double d = strtod(ms, &end);
            if (!*ms || *end || !isfinite(d))
                return seterr(err, 400, "illegal_argument_exception",
                              "Failed to parse float parameter [min_score] with value [%s]", ms);
            q->has_min_score = true;
            q->min_score = (float)d;
        }
        return true;
    }
    const char *pt = store_sreq_param(r, "timeout");
    if (pt && !timeout_val(pt, &q->timeout_ms, err))
        return false;
    q->allow_partial = store_sreq_param_bool(r, "allow_partial_search_results", true);
    if (store_sreq_param(r, "from"))
        q->from_given = true;
    if (!long_param(r, "from", &q->from, err) || !long_param(r, "size", &q->size, err))
        return false;
    if (q->from < 0)
        return seterr(err, 400, "illegal_argument_exception",
                      "[from] parameter cannot be negative, found [%" PRId64 "]", q->from);
    if (q->size < 0)
        return seterr(err, 400, "illegal_argument_exception",
                      "[size] parameter cannot be negative, found [%" PRId64 "]", q->size);
    const char *ps = store_sreq_param(r, "sort");
    if (ps) {
        for (size_t i = 0; i < q->nkeys; i++) {
            free(q->keys[i].field);
            free(q->keys[i].unmapped_type);
        }
        q->nkeys = 0;
        if (!sort_param(q, ps, err))
            return false;
    }
    if (store_sreq_param(r, "_source") || store_sreq_param(r, "_source_includes") ||
        store_sreq_param(r, "_source_excludes")) {
        store_srcfilter_free(&q->src);
        store_srcfilter_from_params(&q->src, store_sreq_param(r, "_source"),
                                    store_sreq_param(r, "_source_includes"),
                                    store_sreq_param(r, "_source_excludes"));
    }
    const char *sf = store_sreq_param(r, "stored_fields");
    if (sf && strcmp(sf, "_none_") == 0)
        q->src.none = true;
    else if (sf)
        stored_no_source = !strstr(sf, "_source") && !strchr(sf, '*');
    if (store_sreq_param(r, "_source") || store_sreq_param(r, "_source_includes") ||
        store_sreq_param(r, "_source_excludes"))
        src_given = true;
    if (stored_no_source && !src_given)
        q->src.none = true;
    if (store_sreq_param(r, "version"))
        q->version = store_sreq_param_bool(r, "version", false);
    if (store_sreq_param(r, "seq_no_primary_term"))
        q->seqno = store_sreq_param_bool(r, "seq_no_primary_term", false);
    if (store_sreq_param(r, "track_scores"))
        q->track_scores = store_sreq_param_bool(r, "track_scores", false);
    const char *tt = store_sreq_param(r, "track_total_hits");
    if (tt) {
        if (strcmp(tt, "false") == 0)
            q->track = -1;
        else if (strcmp(tt, "true") == 0 || !tt[0])
            q->track_exact = true;
        else if (!json_parse_long(tt, strlen(tt), &q->track) || q->track < 0)
            return seterr(err, 400, "illegal_argument_exception",
                          "Failed to parse int parameter [track_total_hits] "
                          "with value [%s]",
                          tt);
    }
    q->rest_total_int = store_sreq_param_bool(r, "rest_total_hits_as_int", false);
    track_given = track_given || tt;
    if (q->rest_total_int && !track_given) /* RestSearchAction: an int total is an exact one */
        q->track_exact = true;
    if (q->rest_total_int && q->track >= 0 && !q->track_exact)
        return seterr(err, 400, "illegal_argument_exception",
                      "[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, got %" PRId64,
                      q->track);
    q->typed_keys = store_sreq_param_bool(r, "typed_keys", false);
    if (store_sreq_param_bool(r, "explain", false))
        return seterr(err, 400, "illegal_argument_exception", "verstore does not support [explain]");
    const char *dv = store_sreq_param(r, "docvalue_fields");
    if (dv && !store_fetch_parse_param(dv, &q->dvfields, &q->ndvfields, err))
        return false;
    const char *st = store_sreq_param(r, "search_type");
    if (st && strcmp(st, "query_then_fetch") != 0 && strcmp(st, "dfs_query_then_fetch") != 0)
        return seterr(err, 400, "illegal_argument_exception", "No search type for [%s]", st);
    if (store_sreq_param(r, "suggest_field") || store_sreq_param(r, "suggest_text"))
        return seterr(err, 400, "illegal_argument_exception", "verstore does not support suggesters");
    const char *scroll = store_sreq_param(r, "scroll");
    if (scroll) {
        if (!store_sreq_keep_alive(scroll, &q->keep_ms, err))
            return false;
        q->scroll = true;
        /* SearchRequest.validate */
        if (store_sreq_param_bool(r, "request_cache", false))
            return seterr(err, 400, "action_request_validation_exception",
                          "Validation Failed: 1: [request_cache] cannot be used in a scroll context;");
        if (q->size == 0)
            return seterr(err, 400, "action_request_validation_exception",
                          "Validation Failed: 1: [size] cannot be [0] in a scroll context;");
        if (q->from_given && q->from > 0)
            return seterr(err, 400, "action_request_validation_exception",
                          "Validation Failed: 1: using [from] is not allowed in a scroll context;");
        if (q->after)
            return seterr(err, 400, "action_request_validation_exception",
                          "Validation Failed: 1: [search_after] cannot be used in a scroll context;");
    }
    if (q->after && !q->nkeys)
        return seterr(err, 400, "action_request_validation_exception",
                      "Validation Failed: 1: [search_after] requires sort to be set;");
    if (q->after && cJSON_GetArraySize(q->after) != (int)q->nkeys)
        return seterr(err, 400, "illegal_argument_exception",
                      "search_after has %d value(s) but sort has %zu.", cJSON_GetArraySize(q->after),
                      q->nkeys);
    if (q->after && q->from_given && q->from > 0)
        return seterr(err, 400, "action_request_validation_exception",
                      "Validation Failed: 1: [from] parameter must be set to 0 when [search_after] is used;");
    return true;
}
