/* store_query — the Elasticsearch query DSL and Lucene query-string syntax parsed into verstore's query tree. */
#include "versync/store/store_query.h"

#include "versync/store/store_datefmt.h"
#include "versync/store/store_datemath.h"

#include "versync/store/store_util.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Queries nest (bool in bool …); Elasticsearch refuses nesting deeper than
 * its JSON limit, verstore well before the C stack could suffer. */
#define MAX_DEPTH 64

#define fail(err, type, ...) store_error_set((err), 400, (type), __VA_ARGS__)

static void qval_free(store_qval *v)
{
    if (v)
        free(v->s);
}

void store_query_free(store_query *q)
{
    if (!q)
        return;
    free(q->field);
    for (size_t i = 0; i < q->nfields; i++)
        free(q->fields[i]);
    free(q->fields);
    free(q->fboost);
    for (size_t i = 0; i < q->nvals; i++)
        qval_free(&q->vals[i]);
    free(q->vals);
    qval_free(q->lo);
    qval_free(q->hi);
    free(q->lo);
    free(q->hi);
    free(q->msm);
    free(q->analyzer);
    free(q->format);
    free(q->time_zone);
    if (q->lookup) {
        free(q->lookup->index);
        free(q->lookup->id);
        free(q->lookup->path);
        free(q->lookup->routing);
        free(q->lookup);
    }
    for (size_t i = 0; i < q->nclauses; i++)
        store_query_free(q->clauses[i].q);
    free(q->clauses);
    free(q);
}

static store_query *qnew(store_qtype t)
{
    store_query *q = calloc(1, sizeof *q);
    if (q) {
        q->type = t;
        q->boost = 1.0f;
    }
    return q;
}

static bool oom(store_error *err)
{
    if (!err->status) {
        err->status = 500;
        err->type = "exception";
        buf_reset(&err->reason);
        buf_puts(&err->reason, "out of memory");
    }
    return false;
}

int store_query_msm(const char *spec, int n)
{
    if (!spec)
        return -1;
    const char *p = spec;
    while (isspace((unsigned char)*p))
        p++;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    long v = 0;
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (*p++ - '0');
        if (v > 1000000)
            return -1;
    }
    bool pct = *p == '%';
    if (pct)
        p++;
    while (isspace((unsigned char)*p))
        p++;
    if (*p)
        return -1;
    long want;
    if (pct) {
        long k = (long)n * v / 100; /* Lucene truncates: 75% of 3 is 2 */
        want = neg ? n - k : k;
    } else {
        want = neg ? n - v : v;
    }
    if (want < 0)
        want = 0;
    return (int)want;
}

/* ---- values ---------------------------------------------------------------- */

static void num_text(double d, char *out, size_t n)
{
    if (d == floor(d) && fabs(d) < 1e15)
        snprintf(out, n, "%.0f", d);
    else
        snprintf(out, n, "%.17g", d);
}

static bool qval_set(const cJSON *v, store_qval *out, const char *qname, store_error *err)
{
    memset(out, 0, sizeof *out);
    char tmp[64];
    const char *s;
    if (cJSON_IsString(v)) {
        out->kind = STORE_QV_STR;
        s = v->valuestring;
    } else if (cJSON_IsNumber(v)) {
        out->kind = STORE_QV_NUM;
        out->num = v->valuedouble;
        num_text(v->valuedouble, tmp, sizeof tmp);
        s = v->valuestring ? v->valuestring : tmp; /* an integer past 2^53 as written (store_req_json_body) */
    } else if (cJSON_IsBool(v)) {
        out->kind = STORE_QV_BOOL;
        out->b = cJSON_IsTrue(v);
        s = out->b ? "true" : "false";
    } else {
        return fail(err, "parsing_exception", "[%s] value must be a string, a number or a boolean, not %s", qname,
                    cJSON_IsNull(v) ? "null" : cJSON_IsArray(v) ? "an array" : "an object");
    }
    if (!(out->s = strdup(s)))
        return oom(err);
    return true;
}

static bool add_val(store_query *q, const cJSON *v, const char *qname, store_error *err)
{
    store_qval *nv = realloc(q->vals, (q->nvals + 1) * sizeof *nv);
    if (!nv)
        return oom(err);
    q->vals = nv;
    if (!qval_set(v, &q->vals[q->nvals], qname, err))
        return false;
    q->nvals++;
    return true;
}

bool store_query_has_lookup(const store_query *q)
{
    if (!q)
        return false;
    if (q->lookup)
        return true;
    for (size_t i = 0; i < q->nclauses; i++)
        if (store_query_has_lookup(q->clauses[i].q))
            return true;
    return false;
}

bool store_query_set_values(store_query *q, const cJSON *const *v, size_t n, store_error *err)
{
    for (size_t i = 0; i < q->nvals; i++)
        qval_free(&q->vals[i]);
    free(q->vals);
    q->vals = NULL;
    q->nvals = 0;
    if (!n)
        return true;
    if (!(q->vals = calloc(n, sizeof *q->vals)))
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        if (cJSON_IsNull(v[i]))
            continue;
        if (!qval_set(v[i], &q->vals[q->nvals], "terms", err))
            return false;
        q->nvals++;
    }
    return true;
}

static bool add_clause(store_query *q, store_occur occ, store_query *c, store_error *err)
{
    store_clause *nc = realloc(q->clauses, (q->nclauses + 1) * sizeof *nc);
    if (!nc) {
        store_query_free(c);
        return oom(err);
    }
    q->clauses = nc;
    q->clauses[q->nclauses++] = (store_clause){occ, c};
    return true;
}

static bool get_boost(const cJSON *v, float *out, const char *qname, store_error *err)
{
    double d;
    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (cJSON_IsString(v) && v->valuestring[0]) {
        char *e;
        d = strtod(v->valuestring, &e);
        if (*e)
            return fail(err, "parsing_exception", "[%s] boost must be a number", qname);
    } else
        return fail(err, "parsing_exception", "[%s] boost must be a number", qname);
    if (d < 0 || !isfinite(d))
        return fail(err, "illegal_argument_exception", "negative [boost] are not allowed.");
    *out = (float)d;
    return true;
}

static bool get_string(const cJSON *v, char **out, const char *qname, const char *key, store_error *err)
{
    char tmp[64];
    const char *s;
    if (cJSON_IsString(v))
        s = v->valuestring;
    else if (cJSON_IsNumber(v)) {
        num_text(v->valuedouble, tmp, sizeof tmp);
        s = v->valuestring ? v->valuestring : tmp; /* an integer past 2^53 as written (store_req_json_body) */
    } else if (cJSON_IsBool(v))
        s = cJSON_IsTrue(v) ? "true" : "false";
    else
        return fail(err, "parsing_exception", "[%s] query does not support [%s] as %s", qname, key,
                    cJSON_IsNull(v) ? "null" : cJSON_IsArray(v) ? "an array" : "an object");
    free(*out);
    if (!(*out = strdup(s)))
        return oom(err);
    return true;
}

static bool is_(const char *a, const char *b) { return strcmp(a, b) == 0; }

static bool in_(const char *k, const char *const *list)
{
    for (; *list; list++)
        if (is_(k, *list))
            return true;
    return false;
}

/* Options verstore accepts and ignores: they change nothing for what it
 * supports (routing of work, names, rewrites of expansions). */
static const char *const ignored_opts[] = {"_name", "rewrite", "auto_generate_synonyms_phrase_query", "prefix_length",
                                           "max_expansions", "fuzzy_transpositions", "adjust_pure_negative",
                                           "max_determinized_states", "enable_position_increments", "escape",
                                           "analyze_wildcard", "allow_leading_wildcard", "fuzzy_max_expansions",
                                           "fuzzy_prefix_length", "fuzzy_rewrite", NULL};

/* A query's `analyzer` option into *dst (checked against the index when the
 * query runs, as Elasticsearch does). */
static bool analyzer_ok(const cJSON *v, const char *qname, char **dst, store_error *err)
{
    if (!cJSON_IsString(v) || !v->valuestring[0])
        return fail(err, "parsing_exception", "[%s] [analyzer] must be a string", qname);
    free(*dst);
    if (!(*dst = strdup(v->valuestring)))
        return fail(err, "exception", "out of memory");
    return true;
}

/* query_string's analyzer (and quote_analyzer, for phrases) onto every
 * analysed query of its tree. */
static bool set_analyzers(store_query *q, const char *an, const char *quote)
{
    const char *a = q->type == STORE_Q_PHRASE && quote ? quote : an;
    if ((q->type == STORE_Q_MATCH || q->type == STORE_Q_PHRASE) && a && !q->analyzer && !(q->analyzer = strdup(a)))
        return false;
    for (size_t i = 0; i < q->nclauses; i++)
        if (!set_analyzers(q->clauses[i].q, an, quote))
            return false;
    return true;
}

/* query_string's phrase_slop onto every phrase without its own "…"~N. */
static void set_slop(store_query *q, int slop)
{
    if (q->type == STORE_Q_PHRASE && !q->slop_set)
        q->slop = slop;
    for (size_t i = 0; i < q->nclauses; i++)
        set_slop(q->clauses[i].q, slop);
}

/* A {"field": value | {options}} body: the one field and its value. */
static bool one_field(const cJSON *body, const char *qname, const cJSON **fld, store_error *err)
{
    if (!cJSON_IsObject(body))
        return fail(err, "parsing_exception", "[%s] query malformed, no start_object after query name", qname);
    const cJSON *f = NULL;
    for (const cJSON *it = body->child; it; it = it->next) {
        if (is_(it->string, "boost") || is_(it->string, "_name"))
            continue;
        if (f)
            return fail(err, "parsing_exception",
                        "[%s] query doesn't support multiple fields, found [%s] and [%s]", qname, f->string,
                        it->string);
        f = it;
    }
    if (!f)
        return fail(err, "illegal_argument_exception", "field name is null or empty");
    *fld = f;
    return true;
}

static store_query *field_query(store_qtype t, const char *field, store_error *err)
{
    store_query *q = qnew(t);
    if (!q || !(q->field = strdup(field))) {
        store_query_free(q);
        oom(err);
        return NULL;
    }
    return q;
}

static store_query *parse_depth(const cJSON *q, int depth, store_error *err);

/* The common start of {"query":{"field": value | {options}}}: the node with
 * its field, outer boost and (short form) value. *opts is the options
 * object to read, or NULL when the short form completed the node. */
static store_query *field_start(const cJSON *body, const char *qname, store_qtype t, const cJSON **opts,
                                store_error *err)
{
    const cJSON *f;
    *opts = NULL;
    if (!one_field(body, qname, &f, err))
        return NULL;
    store_query *q = field_query(t, f->string, err);
    if (!q)
        return NULL;
    const cJSON *bb = cJSON_GetObjectItemCaseSensitive(body, "boost");
    if ((bb && !get_boost(bb, &q->boost, qname, err)) || (!cJSON_IsObject(f) && !add_val(q, f, qname, err))) {
        store_query_free(q);
        return NULL;
    }
    if (cJSON_IsObject(f))
        *opts = f;
    return q;
}


/* term, prefix, wildcard. */
static store_query *parse_termlike(const cJSON *body, const char *qname, store_qtype t, store_error *err)
{
    const cJSON *f;
    store_query *q = field_start(body, qname, t, &f, err);
    if (!q || !f)
        return q;
    for (const cJSON *it = f->child; it; it = it->next) {
        const char *k = it->string;
        if (is_(k, "value") || (t == STORE_Q_WILDCARD && is_(k, "wildcard"))) {
            if (q->nvals)
                return fail(err, "parsing_exception", "[%s] query has more than one value", qname), store_query_free(q),
                       NULL;
            if (!add_val(q, it, qname, err))
                goto fail;
        } else if (is_(k, "boost")) {
            if (!get_boost(it, &q->boost, qname, err))
                goto fail;
        } else if (is_(k, "case_insensitive")) {
            if (cJSON_IsTrue(it)) {
                fail(err, "illegal_argument_exception", "verstore does not support [case_insensitive] in [%s] queries",
                     qname);
                goto fail;
            }
        } else if (!in_(k, ignored_opts)) {
            fail(err, "parsing_exception", "[%s] query does not support [%s]", qname, k);
            goto fail;
        }
    }
    if (!q->nvals) {
        fail(err, "illegal_argument_exception", "value cannot be null");
        goto fail;
    }
    if (t != STORE_Q_TERM && q->vals[0].kind != STORE_QV_STR) {
        /* prefix/wildcard take text; numbers become their text as in ES */
        q->vals[0].kind = STORE_QV_STR;
    }
    return q;
fail:
    store_query_free(q);
    return NULL;
}

/* TermsLookup's parser: index, id and path required, routing optional, all
 * strings ("type" is gone in 8: an unknown field like any other). */
static store_query *parse_terms_lookup(const cJSON *f, float boost, store_error *err)
{
    store_query *q = field_query(STORE_Q_TERMS, f->string, err);
    if (!q)
        return NULL;
    q->boost = boost;
    if (!(q->lookup = calloc(1, sizeof *q->lookup))) {
        store_query_free(q);
        return oom(err), NULL;
    }
    store_terms_lookup *l = q->lookup;
    for (const cJSON *it = f->child; it; it = it->next) {
        char **slot = is_(it->string, "index")   ? &l->index
                      : is_(it->string, "id")    ? &l->id
                      : is_(it->string, "path")  ? &l->path
                      : is_(it->string, "routing") ? &l->routing
                                                 : NULL;
        bool ok;
        if (!slot)
            ok = fail(err, "x_content_parse_exception", "[terms_lookup] unknown field [%s]", it->string);
        else if (!cJSON_IsString(it) && !cJSON_IsNumber(it))
            ok = fail(err, "x_content_parse_exception", "[terms_lookup] %s doesn't support values of type: %s",
                      it->string, cJSON_IsNull(it) ? "VALUE_NULL" : cJSON_IsBool(it) ? "VALUE_BOOLEAN"
                                                   : cJSON_IsArray(it) ? "START_ARRAY" : "START_OBJECT");
        else
            ok = get_string(it, slot, "terms", it->string, err);
        if (!ok) {
            store_query_free(q);
            return NULL;
        }
    }
    if (!l->index || !l->id || !l->path) { /* ConstructingObjectParser names every missing one, in order */
        char need[32] = "";
        const char *names[] = {"index", "id", "path"};
        const char *have[] = {l->index, l->id, l->path};
        for (size_t i = 0; i < 3; i++)
            if (!have[i])
                snprintf(need + strlen(need), sizeof need - strlen(need), "%s%s", need[0] ? ", " : "", names[i]);
        store_query_free(q);
        return fail(err, "illegal_argument_exception", "Required [%s]", need), NULL;
    }
    return q;
}

static store_query *parse_terms(const cJSON *body, store_error *err)
{
    if (!cJSON_IsObject(body))
        return fail(err, "parsing_exception", "[terms] query malformed, no start_object after query name"), NULL;
    const cJSON *f = NULL;
    float boost = 1.0f;
    for (const cJSON *it = body->child; it; it = it->next) {
        if (is_(it->string, "boost")) {
            if (!get_boost(it, &boost, "terms", err))
                return NULL;
        } else if (is_(it->string, "_name")) {
        } else if (f) {
            return fail(err, "parsing_exception", "[terms] query does not support multiple fields"), NULL;
        } else {
            f = it;
        }
    }
    if (!f)
        return fail(err, "parsing_exception", "[terms] query requires a field"), NULL;
    if (cJSON_IsObject(f))
        return parse_terms_lookup(f, boost, err);
    if (!cJSON_IsArray(f))
        return fail(err, "parsing_exception", "[terms] query does not support [%s]", f->string), NULL;
    store_query *q = field_query(STORE_Q_TERMS, f->string, err);
    if (!q)
        return NULL;
    q->boost = boost;
    const cJSON *v;
    cJSON_ArrayForEach(v, f)
    {
        if (cJSON_IsNull(v))
            continue;
        if (!add_val(q, v, "terms", err)) {
            store_query_free(q);
            return NULL;
        }
    }
    return q;
}

static bool range_bound(store_query *q, const cJSON *v, bool hi, bool incl, store_error *err)
{
    store_qval **slot = hi ? &q->hi : &q->lo;
    if (cJSON_IsNull(v)) {
        qval_free(*slot);
        free(*slot);
        *slot = NULL;
        return true;
    }
    if (!*slot && !(*slot = calloc(1, sizeof **slot)))
        return oom(err);
    qval_free(*slot);
    if (!qval_set(v, *slot, "range", err))
        return false;
    if (hi)
        q->hi_incl = incl;
    else
        q->lo_incl = incl;
    return true;
}

static store_query *parse_range(const cJSON *body, store_error *err)
{
    const cJSON *f;
    if (!one_field(body, "range", &f, err))
        return NULL;
    if (!cJSON_IsObject(f))
        return fail(err, "parsing_exception", "[range] query malformed, after field missing start object"), NULL;
    store_query *q = field_query(STORE_Q_RANGE, f->string, err);
    if (!q)
        return NULL;
    const cJSON *bb = cJSON_GetObjectItemCaseSensitive(body, "boost");
    if (bb && !get_boost(bb, &q->boost, "range", err))
        goto fail;
    q->lo_incl = q->hi_incl = true;
    const cJSON *from = NULL, *to = NULL;
    int inc_lo = -1, inc_hi = -1;
    for (const cJSON *it = f->child; it; it = it->next) {
        const char *k = it->string;
        bool ok = true;
        if (is_(k, "gt"))
            ok = range_bound(q, it, false, false, err);
        else if (is_(k, "gte"))
            ok = range_bound(q, it, false, true, err);
        else if (is_(k, "lt"))
            ok = range_bound(q, it, true, false, err);
        else if (is_(k, "lte"))
            ok = range_bound(q, it, true, true, err);
        else if (is_(k, "from"))
            from = it;
        else if (is_(k, "to"))
            to = it;
        else if (is_(k, "include_lower"))
            inc_lo = cJSON_IsTrue(it);
        else if (is_(k, "include_upper"))
            inc_hi = cJSON_IsTrue(it);
        else if (is_(k, "boost"))
            ok = get_boost(it, &q->boost, "range", err);
        else if (is_(k, "format")) {
            /* dates in the bounds are read with it rather than the field's format */
            char why[256];
            if (!cJSON_IsString(it))
                ok = fail(err, "parsing_exception", "[range] query does not support [format] of type [%s]",
                          cJSON_IsNumber(it) ? "number" : "object");
            else if (!store_datefmt_valid(it->valuestring, why, sizeof why))
                ok = fail(err, "illegal_argument_exception", "%s", why);
            else {
                free(q->format);
                if (!(q->format = strdup(it->valuestring)))
                    ok = oom(err);
            }
        } else if (is_(k, "time_zone")) {
            /* date bounds without their own offset are wall times there; `now` rounds there */
            if (!cJSON_IsString(it))
                ok = fail(err, "parsing_exception", "[range] query does not support [time_zone] of type [%s]",
                          cJSON_IsNumber(it) ? "number" : "object");
            else if (!store_datemath_zone_valid(it->valuestring))
                /* RangeQueryBuilder.timeZone wraps ZoneId.of's exception: its toString is the reason */
                ok = fail(err, "illegal_argument_exception",
                          "java.time.zone.ZoneRulesException: Unknown time-zone ID: %s", it->valuestring);
            else {
                free(q->time_zone);
                if (!(q->time_zone = strdup(it->valuestring)))
                    ok = oom(err);
            }
        } else if (is_(k, "relation")) {
            if (!cJSON_IsString(it) || strcasecmp(it->valuestring, "intersects") != 0)
                ok = fail(err, "illegal_argument_exception",
                          "verstore does not support [relation] other than INTERSECTS in [range] queries");
        } else if (!in_(k, ignored_opts))
            ok = fail(err, "parsing_exception", "[range] query does not support [%s]", k);
        if (!ok)
            goto fail;
    }
    if (from && !range_bound(q, from, false, inc_lo != 0, err))
        goto fail;
    if (to && !range_bound(q, to, true, inc_hi != 0, err))
        goto fail;
    if (!from && inc_lo >= 0 && q->lo)
        q->lo_incl = inc_lo;
    if (!to && inc_hi >= 0 && q->hi)
        q->hi_incl = inc_hi;
    return q;
fail:
    store_query_free(q);
    return NULL;
}

static store_query *parse_exists(const cJSON *body, store_error *err)
{
    if (!cJSON_IsObject(body))
        return fail(err, "parsing_exception", "[exists] query malformed, no start_object after query name"), NULL;
    store_query *q = qnew(STORE_Q_EXISTS);
    if (!q)
        return oom(err), NULL;
    for (const cJSON *it = body->child; it; it = it->next) {
        bool ok = true;
        if (is_(it->string, "field"))
            ok = get_string(it, &q->field, "exists", "field", err);
        else if (is_(it->string, "boost"))
            ok = get_boost(it, &q->boost, "exists", err);
        else if (!is_(it->string, "_name"))
            ok = fail(err, "parsing_exception", "[exists] query does not support [%s]", it->string);
        if (!ok) {
            store_query_free(q);
            return NULL;
        }
    }
    if (!q->field) {
        store_query_free(q);
        return fail(err, "parsing_exception", "[exists] must be provided with a [field]"), NULL;
    }
    return q;
}

static store_query *parse_ids(const cJSON *body, store_error *err)
{
    if (!cJSON_IsObject(body))
        return fail(err, "parsing_exception", "[ids] query malformed, no start_object after query name"), NULL;
    store_query *q = qnew(STORE_Q_IDS);
    if (!q)
        return oom(err), NULL;
    for (const cJSON *it = body->child; it; it = it->next) {
        bool ok = true;
        if (is_(it->string, "values")) {
            if (!cJSON_IsArray(it))
                ok = fail(err, "parsing_exception", "[ids] values must be an array");
            const cJSON *v;
            cJSON_ArrayForEach(v, it) if (ok) {
                if (!cJSON_IsString(v) && !cJSON_IsNumber(v))
                    ok = fail(err, "parsing_exception", "[ids] values must be strings");
                else
                    ok = add_val(q, v, "ids", err);
            }
        } else if (is_(it->string, "boost"))
            ok = get_boost(it, &q->boost, "ids", err);
        else if (!is_(it->string, "_name") && !is_(it->string, "type"))
            ok = fail(err, "parsing_exception", "[ids] query does not support [%s]", it->string);
        if (!ok) {
            store_query_free(q);
            return NULL;
        }
    }
    return q;
}

static bool msm_opt(const cJSON *v, char **out, const char *qname, store_error *err)
{
    if (!get_string(v, out, qname, "minimum_should_match", err))
        return false;
    if (store_query_msm(*out, 1) < 0)
        return fail(err, "illegal_argument_exception",
                    "verstore does not support the minimum_should_match form [%s] in [%s] (use N, -N, N%% or -N%%)",
                    *out, qname);
    return true;
}

static bool zero_terms(const cJSON *v, store_query *q, const char *qname, store_error *err)
{
    if (cJSON_IsString(v) && strcasecmp(v->valuestring, "none") == 0)
        return q->zero_terms_all = false, true;
    if (cJSON_IsString(v) && strcasecmp(v->valuestring, "all") == 0)
        return q->zero_terms_all = true, true;
    return fail(err, "parsing_exception", "[%s] Unsupported zero_terms_query value [%s]", qname,
                cJSON_IsString(v) ? v->valuestring : "?");
}

static bool operator_opt(const cJSON *v, store_query *q, const char *qname, store_error *err)
{
    if (cJSON_IsString(v) && strcasecmp(v->valuestring, "or") == 0)
        return q->op_and = false, true;
    if (cJSON_IsString(v) && strcasecmp(v->valuestring, "and") == 0)
        return q->op_and = true, true;
    return fail(err, "illegal_argument_exception", "operator needs to be either [and, or], but not [%s] in [%s]",
                cJSON_IsString(v) ? v->valuestring : "?", qname);
}

/* slop / phrase_slop: an integer (Elasticsearch reads it with intValue(),
 * which truncates a fraction and reads a numeric string). `neg_ok`: a
 * negative value is left for the phrase to refuse (query_string). */
static bool slop_opt(const cJSON *v, const char *qname, bool neg_ok, int *slop, store_error *err)
{
    double d;
    char *e = NULL;
    if (cJSON_IsNumber(v))
        d = v->valuedouble;
    else if (cJSON_IsString(v) && v->valuestring[0] && (d = strtod(v->valuestring, &e), !*e))
        ;
    else
        return fail(err, "parsing_exception", "[%s] failed to parse field [%s]", qname, v->string);
    if (!isfinite(d) || d > INT32_MAX || d < INT32_MIN)
        return fail(err, "parsing_exception", "[%s] failed to parse field [%s]", qname, v->string);
    int n = (int)d;
    if (n < 0 && !neg_ok)
        return fail(err, "illegal_argument_exception", "No negative slop allowed.");
    *slop = n;
    return true;
}

static bool fuzziness_opt(const cJSON *v, const char *qname, store_error *err)
{
    if ((cJSON_IsNumber(v) && v->valuedouble == 0) || (cJSON_IsString(v) && is_(v->valuestring, "0")))
        return true;
    return fail(err, "illegal_argument_exception", "verstore does not support [fuzziness] in [%s] queries", qname);
}

/* match, match_phrase. */
static store_query *parse_match(const cJSON *body, const char *qname, store_qtype t, store_error *err)
{
    const cJSON *f;
    store_query *q = field_start(body, qname, t, &f, err);
    if (!q || !f)
        return q;
    for (const cJSON *it = f->child; it; it = it->next) {
        const char *k = it->string;
        bool ok = true;
        if (is_(k, "query"))
            ok = !q->nvals ? add_val(q, it, qname, err)
                           : fail(err, "parsing_exception", "[%s] query has more than one [query]", qname);
        else if (is_(k, "boost"))
            ok = get_boost(it, &q->boost, qname, err);
        else if (is_(k, "analyzer"))
            ok = analyzer_ok(it, qname, &q->analyzer, err);
        else if (is_(k, "zero_terms_query"))
            ok = zero_terms(it, q, qname, err);
        else if (t == STORE_Q_MATCH && is_(k, "operator"))
            ok = operator_opt(it, q, qname, err);
        else if (t == STORE_Q_MATCH && is_(k, "minimum_should_match"))
            ok = msm_opt(it, &q->msm, qname, err);
        else if (t == STORE_Q_MATCH && is_(k, "lenient"))
            q->lenient = cJSON_IsTrue(it);
        else if (t == STORE_Q_MATCH && is_(k, "fuzziness"))
            ok = fuzziness_opt(it, qname, err);
        else if (t == STORE_Q_PHRASE && is_(k, "slop"))
            ok = slop_opt(it, qname, false, &q->slop, err);
        else if (!in_(k, ignored_opts))
            ok = fail(err, "parsing_exception", "[%s] query does not support [%s]", qname, k);
        if (!ok)
            goto fail;
    }
    if (!q->nvals) {
        fail(err, "parsing_exception", "No text specified for text query");
        goto fail;
    }
    return q;
fail:
    store_query_free(q);
    return NULL;
}

/* "title^2" → name "title", boost 2. */
static bool add_field(store_query *q, const char *spec, store_error *err)
{
    const char *caret = strrchr(spec, '^');
    size_t n = caret ? (size_t)(caret - spec) : strlen(spec);
    float boost = 1.0f;
    if (caret) {
        char *e;
        double d = strtod(caret + 1, &e);
        if (*e || caret[1] == '\0' || d < 0 || !isfinite(d))
            return fail(err, "illegal_argument_exception", "invalid boost value in field [%s]", spec);
        boost = (float)d;
    }
    char **nf = realloc(q->fields, (q->nfields + 1) * sizeof *nf);
    if (!nf)
        return oom(err);
    q->fields = nf;
    float *nb = realloc(q->fboost, (q->nfields + 1) * sizeof *nb);
    if (!nb)
        return oom(err);
    q->fboost = nb;
    if (!(q->fields[q->nfields] = strndup(spec, n)))
        return oom(err);
    q->fboost[q->nfields++] = boost;
    return true;
}

static bool fields_opt(const cJSON *v, store_query *q, const char *qname, store_error *err)
{
    if (cJSON_IsString(v))
        return add_field(q, v->valuestring, err);
    if (!cJSON_IsArray(v))
        return fail(err, "parsing_exception", "[%s] query does not support [fields] of this type", qname);
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it))
            return fail(err, "parsing_exception", "[%s] fields must be strings", qname);
        if (!add_field(q, it->valuestring, err))
            return false;
    }
    return true;
}

static bool tie_opt(const cJSON *v, store_query *q, const char *qname, store_error *err)
{
    if (!cJSON_IsNumber(v))
        return fail(err, "parsing_exception", "[%s] [tie_breaker] must be a number", qname);
    q->tie_breaker = (float)v->valuedouble;
    return true;
}

static store_query *parse_multi_match(const cJSON *body, store_error *err)
{
    if (!cJSON_IsObject(body))
        return fail(err, "parsing_exception", "[multi_match] query malformed, no start_object after query name"),
               NULL;
    store_query *q = qnew(STORE_Q_MATCH);
    if (!q)
        return oom(err), NULL;
    for (const cJSON *it = body->child; it; it = it->next) {
        const char *k = it->string;
        bool ok = true;
        if (is_(k, "query"))
            ok = add_val(q, it, "multi_match", err);
        else if (is_(k, "fields"))
            ok = fields_opt(it, q, "multi_match", err);
        else if (is_(k, "type")) {
            const char *t = cJSON_IsString(it) ? it->valuestring : "?";
            if (is_(t, "best_fields"))
                q->type = STORE_Q_MATCH, q->most_fields = false;
            else if (is_(t, "most_fields"))
                q->type = STORE_Q_MATCH, q->most_fields = true;
            else if (is_(t, "phrase"))
                q->type = STORE_Q_PHRASE;
            else if (is_(t, "cross_fields") || is_(t, "phrase_prefix") || is_(t, "bool_prefix"))
                ok = fail(err, "illegal_argument_exception",
                          "verstore does not support [multi_match] of type [%s] (best_fields, most_fields and "
                          "phrase are supported)",
                          t);
            else
                ok = fail(err, "parsing_exception", "[multi_match] query does not support type %s", t);
        } else if (is_(k, "operator"))
            ok = operator_opt(it, q, "multi_match", err);
        else if (is_(k, "minimum_should_match"))
            ok = msm_opt(it, &q->msm, "multi_match", err);
        else if (is_(k, "tie_breaker"))
            ok = tie_opt(it, q, "multi_match", err);
        else if (is_(k, "boost"))
            ok = get_boost(it, &q->boost, "multi_match", err);
        else if (is_(k, "analyzer"))
            ok = analyzer_ok(it, "multi_match", &q->analyzer, err);
        else if (is_(k, "lenient"))
            q->lenient = cJSON_IsTrue(it);
        else if (is_(k, "zero_terms_query"))
            ok = zero_terms(it, q, "multi_match", err);
        else if (is_(k, "fuzziness"))
            ok = fuzziness_opt(it, "multi_match", err);
        else if (is_(k, "slop"))
            ok = slop_opt(it, "multi_match", false, &q->slop, err);
        else if (!in_(k, ignored_opts))
            ok = fail(err, "parsing_exception", "[multi_match] query does not support [%s]", k);
        if (!ok) {
            store_query_free(q);
            return NULL;
        }
    }
    if (q->nvals != 1) {
        store_query_free(q);
        return fail(err, "parsing_exception", "No text specified for multi_match query"), NULL;
    }
    if (!q->nfields && !add_field(q, "*", err)) {
        store_query_free(q);
        return NULL;
    }
    q->lenient |= q->nfields == 1 && is_(q->fields[0], "*");
    return q;
}

static store_query *parse_query_string(const cJSON *body, store_error *err)
{
    if (!cJSON_IsObject(body))
        return fail(err, "parsing_exception", "[query_string] query malformed, no start_object after query name"),
               NULL;
    store_query tmp = {0}; /* collects fields and options */
    const char *text = NULL;
    bool op_and = false, lenient = false, most = false;
    float boost = 1.0f;
    store_query *q = NULL;
    for (const cJSON *it = body->child; it; it = it->next) {
        const char *k = it->string;
        bool ok = true;
        if (is_(k, "query")) {
            if (!cJSON_IsString(it))
                ok = fail(err, "parsing_exception", "[query_string] [query] must be a string");
            else
                text = it->valuestring;
        } else if (is_(k, "default_field") || is_(k, "fields"))
            ok = fields_opt(it, &tmp, "query_string", err);
        else if (is_(k, "default_operator")) {
            store_query o = {0};
            ok = operator_opt(it, &o, "query_string", err);
            op_and = o.op_and;
        } else if (is_(k, "boost"))
            ok = get_boost(it, &boost, "query_string", err);
        else if (is_(k, "analyzer"))
            ok = analyzer_ok(it, "query_string", &tmp.analyzer, err);
        else if (is_(k, "quote_analyzer"))
            ok = analyzer_ok(it, "query_string", &tmp.msm, err); /* tmp.msm: unused by query_string otherwise */
        else if (is_(k, "lenient"))
            lenient = cJSON_IsTrue(it);
        else if (is_(k, "type")) {
            const char *t = cJSON_IsString(it) ? it->valuestring : "?";
            if (is_(t, "most_fields"))
                most = true;
            else if (!is_(t, "best_fields"))
                ok = fail(err, "illegal_argument_exception",
                          "verstore does not support [query_string] of type [%s]", t);
        } else if (is_(k, "tie_breaker"))
            ok = tie_opt(it, &tmp, "query_string", err);
        else if (is_(k, "time_zone")) {
            if (!cJSON_IsString(it) || (!is_(it->valuestring, "Z") && !is_(it->valuestring, "UTC")))
                ok = fail(err, "illegal_argument_exception", "verstore supports only UTC as [time_zone]");
        } else if (is_(k, "phrase_slop"))
            ok = slop_opt(it, "query_string", true, &tmp.slop, err);
        else if (is_(k, "fuzziness"))
            ok = fuzziness_opt(it, "query_string", err);
        else if (is_(k, "minimum_should_match") || is_(k, "quote_field_suffix") ||
                 is_(k, "auto_generate_phrase_queries") || is_(k, "split_on_whitespace"))
            ok = fail(err, "illegal_argument_exception", "verstore does not support [%s] in [query_string]", k);
        else if (!in_(k, ignored_opts))
            ok = fail(err, "parsing_exception", "[query_string] query does not support [%s]", k);
        if (!ok)
            goto done;
    }
    if (!text) {
        fail(err, "parsing_exception", "[query_string] must be provided with a [query]");
        goto done;
    }
    q = store_query_parse_string(text, (const char *const *)tmp.fields, tmp.nfields, op_and, lenient, err);
    if (q && (tmp.analyzer || tmp.msm) && !set_analyzers(q, tmp.analyzer, tmp.msm)) {
        store_query_free(q);
        q = NULL;
        fail(err, "exception", "out of memory");
    }
    if (q) {
        set_slop(q, tmp.slop);
        q->boost *= boost;
        if (most || tmp.tie_breaker != 0) {
            /* applies to every multi-field node: set on the root only when it is one */
            if (!q->field && q->nfields) {
                q->most_fields = most;
                q->tie_breaker = tmp.tie_breaker;
            }
        }
    }
done:
    for (size_t i = 0; i < tmp.nfields; i++)
        free(tmp.fields[i]);
    free(tmp.fields);
    free(tmp.fboost);
    free(tmp.analyzer);
    free(tmp.msm);
    return q;
}

static bool bool_clauses(store_query *q, const cJSON *v, store_occur occ, int depth, store_error *err)
{
    if (cJSON_IsObject(v)) {
        if (!v->child)
            return true; /* an empty clause is ignored, as in Elasticsearch */
        store_query *c = parse_depth(v, depth + 1, err);
        return c && add_clause(q, occ, c, err);
    }
    if (!cJSON_IsArray(v))
        return fail(err, "parsing_exception", "[bool] query does not support [%s]", v->string);
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsObject(it))
            return fail(err, "parsing_exception", "[%s] must be an array of queries", v->string);
        if (!it->child)
            continue;
        store_query *c = parse_depth(it, depth + 1, err);
        if (!c || !add_clause(q, occ, c, err))
            return false;
    }
    return true;
}

static store_query *parse_bool(const cJSON *body, int depth, store_error *err)
{
    if (!cJSON_IsObject(body))
        return fail(err, "parsing_exception", "[bool] query malformed, no start_object after query name"), NULL;
    store_query *q = qnew(STORE_Q_BOOL);
    if (!q)
        return oom(err), NULL;
    for (const cJSON *it = body->child; it; it = it->next) {
        const char *k = it->string;
        bool ok = true;
        if (is_(k, "must"))
            ok = bool_clauses(q, it, STORE_OCC_MUST, depth, err);
        else if (is_(k, "filter"))
            ok = bool_clauses(q, it, STORE_OCC_FILTER, depth, err);
        else if (is_(k, "should"))
            ok = bool_clauses(q, it, STORE_OCC_SHOULD, depth, err);
        else if (is_(k, "must_not") || is_(k, "mustNot"))
            ok = bool_clauses(q, it, STORE_OCC_MUST_NOT, depth, err);
        else if (is_(k, "minimum_should_match"))
            ok = msm_opt(it, &q->msm, "bool", err);
        else if (is_(k, "boost"))
            ok = get_boost(it, &q->boost, "bool", err);
        else if (!in_(k, ignored_opts))
            ok = fail(err, "parsing_exception", "[bool] query does not support [%s]", k);
        if (!ok) {
            store_query_free(q);
            return NULL;
        }
    }
    return q;
}

static store_query *parse_constant(const cJSON *body, int depth, store_error *err)
{
    if (!cJSON_IsObject(body))
        return fail(err, "parsing_exception", "[constant_score] query malformed, no start_object after query name"),
               NULL;
    store_query *q = qnew(STORE_Q_CONSTANT);
    if (!q)
        return oom(err), NULL;
    for (const cJSON *it = body->child; it; it = it->next) {
        bool ok = true;
        if (is_(it->string, "filter")) {
            if (q->nclauses || !cJSON_IsObject(it))
                ok = fail(err, "parsing_exception", "[constant_score] accepts only one [filter] object");
            else if (!it->child)
                ok = add_clause(q, STORE_OCC_FILTER, qnew(STORE_Q_MATCH_ALL), err);
            else {
                store_query *c = parse_depth(it, depth + 1, err);
                ok = c && add_clause(q, STORE_OCC_FILTER, c, err);
            }
        } else if (is_(it->string, "boost"))
            ok = get_boost(it, &q->boost, "constant_score", err);
        else if (!is_(it->string, "_name"))
            ok = fail(err, "parsing_exception", "[constant_score] query does not support [%s]", it->string);
        if (!ok) {
            store_query_free(q);
            return NULL;
        }
    }
    if (!q->nclauses) {
        store_query_free(q);
        return fail(err, "parsing_exception", "[constant_score] requires a 'filter' element"), NULL;
    }
    return q;
}

static store_query *parse_dismax(const cJSON *body, int depth, store_error *err)
{
    if (!cJSON_IsObject(body))
        return fail(err, "parsing_exception", "[dis_max] query malformed, no start_object after query name"), NULL;
    store_query *q = qnew(STORE_Q_DISMAX);
    if (!q)
        return oom(err), NULL;
    for (const cJSON *it = body->child; it; it = it->next) {
        bool ok = true;
        if (is_(it->string, "queries"))
            ok = bool_clauses(q, it, STORE_OCC_SHOULD, depth, err);
        else if (is_(it->string, "tie_breaker"))
            ok = tie_opt(it, q, "dis_max", err);
        else if (is_(it->string, "boost"))
            ok = get_boost(it, &q->boost, "dis_max", err);
        else if (!is_(it->string, "_name"))
            ok = fail(err, "parsing_exception", "[dis_max] query does not support [%s]", it->string);
        if (!ok) {
            store_query_free(q);
            return NULL;
        }
    }
    if (!q->nclauses) {
        store_query_free(q);
        return fail(err, "parsing_exception", "[dis_max] requires 'queries' field with at least one clause"), NULL;
    }
    return q;
}

static store_query *parse_simple(const cJSON *body, store_qtype t, const char *qname, store_error *err)
{
    if (!cJSON_IsObject(body))
        return fail(err, "parsing_exception", "[%s] query malformed, no start_object after query name", qname), NULL;
    store_query *q = qnew(t);
    if (!q)
        return oom(err), NULL;
    for (const cJSON *it = body->child; it; it = it->next) {
        bool ok = true;
        if (is_(it->string, "boost"))
            ok = get_boost(it, &q->boost, qname, err);
        else if (!is_(it->string, "_name"))
            ok = fail(err, "parsing_exception", "[%s] query does not support [%s]", qname, it->string);
        if (!ok) {
            store_query_free(q);
            return NULL;
        }
    }
    return q;
}

/* Query types Elasticsearch has and verstore does not: named in the error
 * so a client knows it is the feature, not its spelling. */
static const char *const es_queries[] = {
    "fuzzy", "regexp", "nested", "has_child", "has_parent", "parent_id", "geo_bounding_box", "geo_distance",
    "geo_polygon", "geo_shape", "shape", "function_score", "script", "script_score", "more_like_this",
    "span_term", "span_first", "span_near", "span_or", "span_not", "span_containing", "span_within",
    "span_multi", "field_masking_span", "match_phrase_prefix", "match_bool_prefix", "combined_fields",
    "intervals", "terms_set", "distance_feature", "rank_feature", "wrapper", "pinned", "percolate", "knn",
    "boosting", "simple_query_string", "text_expansion", "weighted_tokens", "sparse_vector", "semantic",
    "type", "geo_grid", NULL};

static store_query *parse_depth(const cJSON *q, int depth, store_error *err)
{
    if (depth > MAX_DEPTH)
        return fail(err, "parsing_exception", "query nested deeper than %d levels", MAX_DEPTH), NULL;
    if (!cJSON_IsObject(q))
        return fail(err, "parsing_exception", "[_na] query malformed, must start with start_object"), NULL;
    if (!q->child) {
        store_query *all = qnew(STORE_Q_MATCH_ALL);
        return all ? all : (oom(err), NULL);
    }
    if (q->child->next)
        return fail(err, "parsing_exception", "[%s] malformed query, expected [END_OBJECT] but found [FIELD_NAME]",
                    q->child->string),
               NULL;
    const char *n = q->child->string;
    const cJSON *b = q->child;
    if (is_(n, "match_all"))
        return parse_simple(b, STORE_Q_MATCH_ALL, n, err);
    if (is_(n, "match_none"))
        return parse_simple(b, STORE_Q_MATCH_NONE, n, err);
    if (is_(n, "ids"))
        return parse_ids(b, err);
    if (is_(n, "term"))
        return parse_termlike(b, n, STORE_Q_TERM, err);
    if (is_(n, "terms"))
        return parse_terms(b, err);
    if (is_(n, "range"))
        return parse_range(b, err);
    if (is_(n, "exists"))
        return parse_exists(b, err);
    if (is_(n, "prefix"))
        return parse_termlike(b, n, STORE_Q_PREFIX, err);
    if (is_(n, "wildcard"))
        return parse_termlike(b, n, STORE_Q_WILDCARD, err);
    if (is_(n, "match"))
        return parse_match(b, n, STORE_Q_MATCH, err);
    if (is_(n, "match_phrase"))
        return parse_match(b, n, STORE_Q_PHRASE, err);
    if (is_(n, "multi_match"))
        return parse_multi_match(b, err);
    if (is_(n, "query_string"))
        return parse_query_string(b, err);
    if (is_(n, "bool"))
        return parse_bool(b, depth, err);
    if (is_(n, "constant_score"))
        return parse_constant(b, depth, err);
    if (is_(n, "dis_max"))
        return parse_dismax(b, depth, err);
    if (in_(n, es_queries))
        return fail(err, "illegal_argument_exception", "verstore does not support the [%s] query", n), NULL;
    return fail(err, "parsing_exception", "unknown query [%s]", n), NULL;
}

store_query *store_query_parse(const cJSON *q, store_error *err) { return parse_depth(q, 0, err); }

/* ---- query-string syntax ----------------------------------------------------------
 *
 * Clauses combine the way Lucene's classic QueryParser.addClause does, so
 * "a b AND c" means what it means in Elasticsearch (b and c required, a
 * optional) rather than what operator precedence would suggest. */

typedef struct qs {
    const char *p;
    const char *const *dfields;
    size_t ndf;
    bool op_and, lenient;
    int depth;
    store_error *err;
} qs;

enum { CONJ_NONE, CONJ_AND, CONJ_OR };
enum { MOD_NONE, MOD_NOT, MOD_REQ };

/* Bytes that end a bare term (Lucene's classic grammar). */
static bool qs_stop(char c) { return strchr(" \t\r\n(){}[]^\"~:/", c) != NULL; }

static void qs_ws(qs *s)
{
    while (*s->p && isspace((unsigned char)*s->p))
        s->p++;
}

static bool qs_word(qs *s, const char *w)
{
    size_t n = strlen(w);
    if (strncmp(s->p, w, n) != 0)
        return false;
    char c = s->p[n];
    if (c && !isspace((unsigned char)c) && c != '(' && c != '"')
        return false;
    s->p += n;
    return true;
}

/* A bare term (escapes decoded into `out`); *wild says it has an unescaped * or ?. */
static bool qs_term(qs *s, buf *out, bool *wild)
{
    *wild = false;
    while (*s->p) {
        char c = *s->p;
        if (c == '\\') {
            if (!s->p[1])
                return fail(s->err, "parse_exception", "Cannot parse query: trailing backslash");
            buf_putc(out, s->p[1]);
            s->p += 2;
            continue;
        }
        if (qs_stop(c) || ((c == '&' || c == '|') && s->p[1] == c))
            break;
        /* '+', '-' and '!' are operators only where a term starts */
        if ((c == '+' || c == '-' || c == '!') && !out->len)
            break;
        *wild |= c == '*' || c == '?';
        buf_putc(out, c);
        s->p++;
    }
    return true;
}

static store_query *qs_query(qs *s, const char *const *dfields, size_t ndf);

/* The node for one term/phrase over `fields`. */
static store_query *qs_leaf(qs *s, store_qtype t, const char *text, bool wild, const char *const *fields, size_t nf)
{
    store_error *err = s->err;
    size_t tl = strlen(text);
    if (wild && tl == 1 && text[0] == '*') {
        if (nf == 1 && !is_(fields[0], "*")) {
            store_query *q = field_query(STORE_Q_EXISTS, fields[0], err);
            return q;
        }
        store_query *q = qnew(STORE_Q_MATCH_ALL);
        return q ? q : (oom(err), NULL);
    }
    if (wild) {
        bool prefix = text[tl - 1] == '*' && strcspn(text, "*?") == tl - 1;
        t = prefix ? STORE_Q_PREFIX : STORE_Q_WILDCARD;
    }
    store_query *q = qnew(t);
    if (!q)
        return oom(err), NULL;
    q->normalize = true;
    q->op_and = s->op_and;
    q->lenient = s->lenient;
    q->vals = calloc(1, sizeof *q->vals);
    if (!q->vals)
        goto fail;
    q->nvals = 1;
    q->vals[0].kind = STORE_QV_STR;
    if (!(q->vals[0].s = t == STORE_Q_PREFIX ? strndup(text, tl - 1) : strdup(text)))
        goto fail;
    if (nf == 1 && !strchr(fields[0], '*')) {
        if (!(q->field = strdup(fields[0])))
            goto fail;
        return q;
    }
    for (size_t i = 0; i < nf; i++)
        if (!add_field(q, fields[i], err)) {
            store_query_free(q);
            return NULL;
        }
    /* "*" expands to fields the value may not fit: skipped, as ES does */
    for (size_t i = 0; i < nf; i++)
        q->lenient |= strchr(fields[i], '*') != NULL;
    return q;
fail:
    store_query_free(q);
    oom(err);
    return NULL;
}

static bool qs_boost(qs *s, store_query *q)
{
    if (*s->p != '^')
        return true;
    s->p++;
    char *e;
    double d = strtod(s->p, &e);
    if (e == s->p || d < 0 || !isfinite(d))
        return fail(s->err, "parse_exception", "Cannot parse query: bad boost after '^'");
    s->p = e;
    q->boost *= (float)d;
    return true;
}

/* One clause: [field:] (term | "phrase" | (query)) [^boost]. */
static store_query *qs_clause(qs *s, const char *const *dfields, size_t ndf)
{
    store_error *err = s->err;
    const char *fld = NULL;
    buf fname = BUF_INIT, text = BUF_INIT;
    store_query *q = NULL;
    const char *save = s->p;
    bool wild = false;
    if (*s->p != '(' && *s->p != '"') {
        if (!qs_term(s, &fname, &wild))
            goto done;
        if (*s->p == ':' && fname.len) {
            s->p++;
            fld = fname.data;
            qs_ws(s);
        } else {
            s->p = save;
            buf_reset(&fname);
        }
    }
    const char *const *fields = fld ? &fld : dfields;
    size_t nf = fld ? 1 : ndf;
    char c = *s->p;
    if (c == '(') {
        s->p++;
        if (++s->depth > MAX_DEPTH) {
            fail(err, "parse_exception", "Cannot parse query: nested deeper than %d levels", MAX_DEPTH);
            goto done;
        }
        q = qs_query(s, fields, nf);
        s->depth--;
        if (!q)
            goto done;
        if (*s->p != ')') {
            store_query_free(q);
            q = NULL;
            fail(err, "parse_exception", "Cannot parse query: missing ')'");
            goto done;
        }
        s->p++;
    } else if (c == '"') {
        s->p++;
        while (*s->p && *s->p != '"') {
            if (*s->p == '\\' && s->p[1])
                s->p++;
            buf_putc(&text, *s->p++);
        }
        if (*s->p != '"') {
            fail(err, "parse_exception", "Cannot parse query: unterminated phrase");
            goto done;
        }
        s->p++;
        /* "…"~N: Lucene's FUZZY_SLOP token, "~" then digits with an optional
         * fraction; the slop is its integer part, and a bare "~" leaves the
         * default (phrase_slop) */
        int slop = 0;
        bool slop_set = false;
        if (*s->p == '~') {
            s->p++;
            const char *d0 = s->p;
            while (isdigit((unsigned char)*s->p))
                s->p++;
            if (s->p > d0 && *s->p == '.' && isdigit((unsigned char)s->p[1]))
                for (s->p++; isdigit((unsigned char)*s->p);)
                    s->p++;
            if (s->p > d0) {
                double d = strtod(d0, NULL);
                slop = d > INT32_MAX ? INT32_MAX : (int)d;
                slop_set = true;
            }
        }
        q = qs_leaf(s, STORE_Q_PHRASE, text.data ? text.data : "", false, fields, nf);
        if (q) {
            q->slop = slop;
            q->slop_set = slop_set;
        }
    } else if (c == '[' || c == '{' || c == '>' || c == '<') {
        fail(err, "illegal_argument_exception", "verstore does not support range syntax in query_string; use a "
                                                "[range] query");
        goto done;
    } else if (c == '/') {
        fail(err, "illegal_argument_exception", "verstore does not support regular expressions in query_string");
        goto done;
    } else {
        if (!qs_term(s, &text, &wild))
            goto done;
        if (!text.len) {
            fail(err, "parse_exception", "Cannot parse query: unexpected '%c'", c ? c : ' ');
            goto done;
        }
        if (*s->p == '~') {
            fail(err, "illegal_argument_exception", "verstore does not support fuzzy terms (term~) in query_string");
            goto done;
        }
        q = qs_leaf(s, STORE_Q_MATCH, text.data, wild, fields, nf);
    }
    if (q && !qs_boost(s, q)) {
        store_query_free(q);
        q = NULL;
    }
done:
    buf_free(&fname);
    buf_free(&text);
    return q;
}

static store_query *qs_query(qs *s, const char *const *dfields, size_t ndf)
{
    store_error *err = s->err;
    store_query *b = qnew(STORE_Q_BOOL);
    if (!b)
        return oom(err), NULL;
    for (;;) {
        qs_ws(s);
        if (!*s->p || *s->p == ')')
            break;
        int conj = CONJ_NONE, mods = MOD_NONE;
        if (b->nclauses) {
            if (qs_word(s, "AND") || (s->p[0] == '&' && s->p[1] == '&' && (s->p += 2)))
                conj = CONJ_AND;
            else if (qs_word(s, "OR") || (s->p[0] == '|' && s->p[1] == '|' && (s->p += 2)))
                conj = CONJ_OR;
            qs_ws(s);
        }
        if (*s->p == '+')
            mods = MOD_REQ, s->p++;
        else if (*s->p == '-' || *s->p == '!')
            mods = MOD_NOT, s->p++;
        else if (qs_word(s, "NOT"))
            mods = MOD_NOT;
        qs_ws(s);
        if (!*s->p || *s->p == ')') {
            if (conj != CONJ_NONE || mods != MOD_NONE) {
                fail(err, "parse_exception", "Cannot parse query: operator without an operand");
                goto fail;
            }
            break;
        }
        store_query *c = qs_clause(s, dfields, ndf);
        if (!c)
            goto fail;
        /* QueryParserBase.addClause */
        if (b->nclauses && conj == CONJ_AND && b->clauses[b->nclauses - 1].occur != STORE_OCC_MUST_NOT)
            b->clauses[b->nclauses - 1].occur = STORE_OCC_MUST;
        if (b->nclauses && s->op_and && conj == CONJ_OR && b->clauses[b->nclauses - 1].occur != STORE_OCC_MUST_NOT)
            b->clauses[b->nclauses - 1].occur = STORE_OCC_SHOULD;
        bool prohibited = mods == MOD_NOT, required;
        if (!s->op_and)
            required = mods == MOD_REQ || (conj == CONJ_AND && !prohibited);
        else
            required = !prohibited && conj != CONJ_OR;
        store_occur occ = prohibited ? STORE_OCC_MUST_NOT : required ? STORE_OCC_MUST : STORE_OCC_SHOULD;
        if (!add_clause(b, occ, c, err))
            goto fail;
    }
    if (b->nclauses == 0) {
        b->type = STORE_Q_MATCH_NONE; /* an empty query string matches nothing */
        return b;
    }
    if (b->nclauses == 1 && b->clauses[0].occur != STORE_OCC_MUST_NOT) {
        store_query *only = b->clauses[0].q;
        b->nclauses = 0;
        store_query_free(b);
        return only;
    }
    return b;
fail:
    store_query_free(b);
    return NULL;
}

store_query *store_query_parse_string(const char *text, const char *const *default_fields, size_t ndefault,
                                      bool op_and, bool lenient, store_error *err)
{
    static const char *const star[] = {"*"};
    qs s = {text, default_fields, ndefault, op_and, lenient, 0, err};
    if (!ndefault) {
        s.dfields = star;
        s.ndf = 1;
    }
    store_query *q = qs_query(&s, s.dfields, s.ndf);
    if (q && *s.p) {
        store_query_free(q);
        fail(err, "parse_exception", "Cannot parse query [%s]: unexpected ')'", text);
        return NULL;
    }
    return q;
}
