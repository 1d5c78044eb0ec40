/* store_hlfetch — a search's `highlight`: the request parsed as HighlightBuilder reads it, and for each hit
 * the highlighted fields' _source values analysed (with offsets), matched against the terms the query (or
 * highlight_query) searches on that field, and cut into fragments by store_highlight. Work per field is
 * bounded by index.highlight.max_analyzed_offset, as in Elasticsearch. */
#include "versync/store/store_search_int.h"

#include "versync/common/grow.h"
#include "versync/store/store_highlight.h"
#include "versync/store/store_wildcard.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNSET INT64_MIN
#define MAX_FRAGMENTS 100000 /* HighlightBuilder's bound on number_of_fragments */

/* ---- the request ---- */

static void opt_init(hlopt *o)
{
    memset(o, 0, sizeof *o);
    o->fragment_size = o->nfrag = o->no_match_size = o->max_offset = UNSET;
    o->order = o->rfm = o->plain = -1;
}

static void opt_free(hlopt *o)
{
    free(o->pre);
    free(o->post);
    store_query_free(o->hq);
}

void store_hl_free(hlreq *h)
{
    if (!h)
        return;
    opt_free(&h->g);
    for (size_t i = 0; i < h->nf; i++) {
        free(h->f[i].name);
        opt_free(&h->f[i].o);
    }
    free(h->f);
    free(h);
}

static bool int_opt(const cJSON *v, const char *k, int64_t *out, store_error *err)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int64_t)v->valuedouble)
        return seterr(err, 400, "x_content_parse_exception", "[%s] failed to parse field [%s]", "highlight",
                      k);
    *out = (int64_t)v->valuedouble;
    return true;
}

/* The first tag of pre_tags/post_tags: the unified highlighter uses no other. */
static bool tag_opt(const cJSON *v, char **out, store_error *err)
{
    if (!cJSON_IsArray(v) && !cJSON_IsString(v))
        return seterr(err, 400, "x_content_parse_exception",
                      "[highlight] %s doesn't support values of type: %s", v->string,
                      store_sreq_token_name(v));
    const cJSON *first = cJSON_IsArray(v) ? v->child : v;
    if (!first)
        return true;
    if (!cJSON_IsString(first))
        return seterr(err, 400, "x_content_parse_exception", "[highlight] failed to parse field [%s]",
                      v->string);
    free(*out);
    return (*out = strdup(first->valuestring)) != NULL || oom_err(err);
}

/* -1 for common_opt once the error is set (seterr returns false). */
static int refused(bool set)
{
    (void)set;
    return -1;
}

/* One option shared by the top level and the fields (AbstractHighlighterBuilder's). 1 taken, 0 not an
 * option of both, -1 refused. */
static int common_opt(const cJSON *it, hlopt *o, store_error *err)
{
    const char *k = it->string;
    if (strcmp(k, "pre_tags") == 0)
        return tag_opt(it, &o->pre, err) ? 1 : -1;
    if (strcmp(k, "post_tags") == 0)
        return tag_opt(it, &o->post, err) ? 1 : -1;
    if (strcmp(k, "fragment_size") == 0)
        return int_opt(it, k, &o->fragment_size, err) ? 1 : -1;
    if (strcmp(k, "number_of_fragments") == 0) {
        if (!int_opt(it, k, &o->nfrag, err))
            return -1;
        if (o->nfrag < 0 || o->nfrag > MAX_FRAGMENTS)
            return refused(seterr(err, 400, "x_content_parse_exception",
                                  "[number_of_fragments] must be between [0] and [%d]", MAX_FRAGMENTS));
        return 1;
    }
    if (strcmp(k, "no_match_size") == 0)
        return int_opt(it, k, &o->no_match_size, err) ? 1 : -1;
    if (strcmp(k, "max_analyzed_offset") == 0) {
        int64_t m = 0;
        if (cJSON_IsString(it)) { /* the YAML tests send "20" */
            char *end;
            m = strtoll(it->valuestring, &end, 10);
            if (!*it->valuestring || *end)
                return refused(seterr(err, 400, "x_content_parse_exception",
                                      "[highlight] failed to parse field [%s]", k));
        } else if (!int_opt(it, k, &m, err))
            return -1;
        if (m == 0 || m < -1)
            return refused(seterr(err, 400, "x_content_parse_exception",
                                  "[max_analyzed_offset] must be a positive integer, or -1"));
        o->max_offset = m;
        return 1;
    }
    if (strcmp(k, "require_field_match") == 0) {
        if (!cJSON_IsBool(it))
            return refused(
                seterr(err, 400, "x_content_parse_exception", "[highlight] failed to parse field [%s]", k));
        o->rfm = cJSON_IsTrue(it);
        return 1;
    }
    if (strcmp(k, "order") == 0) {
        const char *s = cJSON_IsString(it) ? it->valuestring : "";
        if (strcmp(s, "score") == 0)
            o->order = 1;
        else if (strcmp(s, "none") == 0)
            o->order = 0;
        else
            return refused(seterr(err, 400, "illegal_argument_exception", "Unknown Order [%s]", s));
        return 1;
    }
    if (strcmp(k, "highlight_query") == 0) {
        store_query_free(o->hq);
        return (o->hq = store_query_parse(it, err)) ? 1 : -1;
    }
    if (strcmp(k, "type") == 0) {
        const char *s = cJSON_IsString(it) ? it->valuestring : "";
        /* all three answer as the unified highlighter does; plain measures max_analyzed_offset per value */
        if (strcmp(s, "unified") != 0 && strcmp(s, "plain") != 0 && strcmp(s, "fvh") != 0)
            return refused(
                seterr(err, 400, "illegal_argument_exception", "unknown highlighter type [%s]", s));
        o->plain = strcmp(s, "plain") == 0;
        return 1;
    }
    if (strcmp(k, "boundary_scanner") == 0) {
        const char *s = cJSON_IsString(it) ? it->valuestring : "";
        if (strcmp(s, "sentence") != 0)
            return refused(seterr(err, 400, "illegal_argument_exception",
                                  "verstore supports only the [sentence] boundary_scanner, not [%s]", s));
        return 1;
    }
    if (strcmp(k, "matched_fields") == 0)
        return refused(seterr(err, 400, "illegal_argument_exception",
                              "verstore does not support [matched_fields] in highlight"));
    /* options that only tune other highlighters' fragmenting */
    if (strcmp(k, "fragmenter") == 0 || strcmp(k, "boundary_chars") == 0 ||
        strcmp(k, "boundary_max_scan") == 0 || strcmp(k, "boundary_scanner_locale") == 0 ||
        strcmp(k, "highlight_filter") == 0 || strcmp(k, "force_source") == 0 ||
        strcmp(k, "phrase_limit") == 0 || strcmp(k, "options") == 0)
        return 1;
    return 0;
}

static bool add_field(hlreq *h, size_t *cap, const cJSON *def, store_error *err)
{
    if (!GROW_ARRAY(h->f, *cap, h->nf + 1, 4))
        return oom_err(err);
    hlfield *f = &h->f[h->nf];
    opt_init(&f->o);
    if (!(f->name = strdup(def->string)))
        return oom_err(err);
    h->nf++;
    if (!cJSON_IsObject(def))
        return seterr(err, 400, "x_content_parse_exception", "[highlight_field] field [%s] must be an object",
                      def->string);
    for (const cJSON *it = def->child; it; it = it->next) {
        int rc = common_opt(it, &f->o, err);
        if (rc < 0)
            return false;
        if (rc == 0 && strcmp(it->string, "fragment_offset") != 0)
            return seterr(err, 400, "x_content_parse_exception", "[highlight_field] unknown field [%s]",
                          it->string);
    }
    if (f->o.pre && !f->o.post)
        return seterr(err, 400, "illegal_argument_exception", "pre_tags are set but post_tags are not set");
    return true;
}

bool store_hl_parse(const cJSON *v, hlreq **out, store_error *err)
{
    store_hl_free(*out);
    hlreq *h = *out = calloc(1, sizeof *h);
    size_t cap = 0;
    if (!h)
        return oom_err(err);
    opt_init(&h->g);
    if (!cJSON_IsObject(v))
        return seterr(err, 400, "parsing_exception", "Unknown key for a %s in [highlight].",
                      store_sreq_token_name(v));
    for (const cJSON *it = v->child; it; it = it->next) {
        const char *k = it->string;
        int rc = common_opt(it, &h->g, err);
        if (rc < 0)
            return false;
        if (rc > 0)
            continue;
        if (strcmp(k, "encoder") == 0) {
            h->html = cJSON_IsString(it) && strcmp(it->valuestring, "html") == 0;
        } else if (strcmp(k, "tags_schema") == 0) {
            const char *s = cJSON_IsString(it) ? it->valuestring : "";
            if (strcmp(s, "styled") != 0 && strcmp(s, "default") != 0)
                return seterr(err, 400, "illegal_argument_exception", "Unknown tag schema [%s]", s);
            h->styled = strcmp(s, "styled") == 0;
        } else if (strcmp(k, "fields") == 0) {
            const cJSON *e;
            if (cJSON_IsObject(it)) {
                cJSON_ArrayForEach(e, it) if (!add_field(h, &cap, e, err)) return false;
            } else if (cJSON_IsArray(it)) { /* [{name: {…}}, …]: each a one-field object */
                cJSON_ArrayForEach(e, it)
                {
                    if (!cJSON_IsObject(e) || !e->child || e->child->next)
                        return seterr(
                            err, 400, "x_content_parse_exception",
                            "[highlight] failed to parse field [fields]: If highlighter fields is an "
                            "array it must contain objects containing a single field");
                    if (!add_field(h, &cap, e->child, err))
                        return false;
                }
            } else
                return seterr(err, 400, "x_content_parse_exception",
                              "[highlight] failed to parse field [fields]");
        } else if (strcmp(k, "use_explicit_field_order") == 0) {
            /* the array form already keeps the order */
        } else {
            return seterr(err, 400, "x_content_parse_exception", "[highlight] unknown field [%s]", k);
        }
    }
    if (h->g.pre && !h->g.post)
        return seterr(err, 400, "illegal_argument_exception", "pre_tags are set but post_tags are not set");
    return true;
}

/* ---- the terms a query searches on one field ---- */

/* A phrase as the query analysed it: terms with their query positions
 * (ascending; equal for stacked synonyms) and its slop. */
typedef struct phrase {
    char **t;
    size_t n, cap;
    int32_t *pos;
    size_t pcap;
    int slop;
} phrase;

typedef struct terms {
    char **exact;
    size_t nexact, ecap;
    char **prefix;
    size_t nprefix, pcap;
    store_wildcard **wild;
    size_t nwild, wcap;
    phrase *phr;
    size_t nphr, phcap;
    bool oom;
} terms;

static void terms_free(terms *t)
{
    for (size_t i = 0; i < t->nexact; i++)
        free(t->exact[i]);
    for (size_t i = 0; i < t->nprefix; i++)
        free(t->prefix[i]);
    for (size_t i = 0; i < t->nwild; i++)
        store_wildcard_free(t->wild[i]);
    for (size_t i = 0; i < t->nphr; i++) {
        for (size_t k = 0; k < t->phr[i].n; k++)
            free(t->phr[i].t[k]);
        free(t->phr[i].t);
        free(t->phr[i].pos);
    }
    free(t->exact);
    free(t->prefix);
    free(t->wild);
    free(t->phr);
}

static bool push_str(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
    char *c = strndup(s, len);
    if (!c || !GROW_ARRAY(*v, *cap, *n + 1, 8)) {
        free(c);
        return false;
    }
    (*v)[(*n)++] = c;
    return true;
}

static bool on_exact(const char *tok, size_t len, void *arg)
{
    terms *t = arg;
    return push_str(&t->exact, &t->nexact, &t->ecap, tok, len) || (t->oom = true, false);
}

static bool on_phrase(const char *tok, size_t len, int32_t pos, void *arg)
{
    phrase *p = arg;
    if (!GROW_ARRAY(p->pos, p->pcap, p->n + 1, 8))
        return false;
    p->pos[p->n] = pos;
    return push_str(&p->t, &p->n, &p->cap, tok, len);
}

typedef struct hlctx {
    ex *x;
    const store_field *h; /* the highlighted field */
    bool rfm;
    terms t;
} hlctx;

/* Whether query field `name` (maybe a pattern) speaks of the highlighted field. */
static bool applies(const hlctx *c, const char *name)
{
    if (!c->rfm)
        return true;
    return store_names_is_wild(name) ? store_names_glob(name, c->h->path) : strcmp(name, c->h->path) == 0;
}

/* The field whose analyzer reads the query's text: the highlighted one when
 * the query names it (or a pattern), else the query's own field. */
static const store_field *analysis_field(hlctx *c, const char *name)
{
    if (store_names_is_wild(name) || strcmp(name, c->h->path) == 0)
        return c->h;
    const store_field *f = store_mapping_find(&c->x->ix->map, name);
    return f ? f : c->h;
}

static bool analyse(hlctx *c, const store_query *q, const store_field *f, bool quote, store_token_fn fn,
                    void *arg)
{
    store_mapping *m = &c->x->ix->map;
    const char *s = q->vals[0].s;
    if (f->type == STORE_FT_KEYWORD) /* a keyword's search analysis keeps the value whole */
        return fn(s, strlen(s), arg);
    if (q->analyzer && store_index_analyze_named(m, q->analyzer, s, strlen(s), fn, arg) >= 0)
        return true;
    return store_index_analyze(m, f, true, quote, s, strlen(s), fn, arg);
}

/* A phrase's terms and positions, read as the query reads them. */
static bool analyse_phrase(hlctx *c, const store_query *q, const store_field *f, phrase *p)
{
    store_mapping *m = &c->x->ix->map;
    const char *s = q->vals[0].s;
    if (f->type == STORE_FT_KEYWORD)
        return on_phrase(s, strlen(s), 0, p);
    int rc = q->analyzer ? store_index_analyze_pos(m, f, true, q->analyzer, s, strlen(s), on_phrase, p) : -1;
    if (rc < 0)
        rc = store_index_analyze_pos(m, f, true, NULL, s, strlen(s), on_phrase, p);
    return rc > 0;
}

static bool collect_leaf(hlctx *c, const store_query *q, const char *name)
{
    terms *t = &c->t;
    if (!applies(c, name) || !q->nvals)
        return true;
    const store_field *f = analysis_field(c, name);
    bool text = f->type == STORE_FT_TEXT;
    switch (q->type) {
    case STORE_Q_TERM:
    case STORE_Q_TERMS:
        for (size_t i = 0; i < q->nvals; i++)
            if (!on_exact(q->vals[i].s, strlen(q->vals[i].s), t))
                return false;
        return true;
    case STORE_Q_PREFIX:
    case STORE_Q_WILDCARD: {
        char *pat = strdup(q->vals[0].s);
        if (!pat)
            return false;
        for (char *p = pat; text && q->normalize && *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (q->type == STORE_Q_PREFIX) {
            bool ok = GROW_ARRAY(t->prefix, t->pcap, t->nprefix + 1, 4);
            if (ok)
                t->prefix[t->nprefix++] = pat;
            else
                free(pat);
            return ok;
        }
        size_t wl;
        store_wildcard *w = store_wildcard_compile(pat, strlen(pat), &wl);
        free(pat);
        if (!w) /* the search itself refused a pattern this long */
            return wl != 0;
        if (!GROW_ARRAY(t->wild, t->wcap, t->nwild + 1, 4)) {
            store_wildcard_free(w);
            return false;
        }
        t->wild[t->nwild++] = w;
        return true;
    }
    case STORE_Q_MATCH:
        return analyse(c, q, f, false, on_exact, t) || !t->oom;
    case STORE_Q_PHRASE: {
        phrase p = {.slop = q->slop};
        bool ok = analyse_phrase(c, q, f, &p);
        if (ok && p.n == 1) { /* one term: a term */
            ok = on_exact(p.t[0], strlen(p.t[0]), t);
        } else if (ok && p.n > 1 && GROW_ARRAY(t->phr, t->phcap, t->nphr + 1, 4)) {
            t->phr[t->nphr++] = p;
            return true;
        } else if (ok && p.n > 1) {
            ok = false;
        }
        for (size_t k = 0; k < p.n; k++)
            free(p.t[k]);
        free(p.t);
        free(p.pos);
        return ok;
    }
    default:
        return true;
    }
}

/* Every clause that can match contributes, must_not ones never (as the
 * highlighter's QueryVisitor skips them). */
static bool collect(hlctx *c, const store_query *q)
{
    if (!q)
        return true;
    switch (q->type) {
    case STORE_Q_BOOL:
    case STORE_Q_CONSTANT:
    case STORE_Q_DISMAX:
        for (size_t i = 0; i < q->nclauses; i++)
            if (q->clauses[i].occur != STORE_OCC_MUST_NOT && !collect(c, q->clauses[i].q))
                return false;
        return true;
    case STORE_Q_TERM:
    case STORE_Q_TERMS:
    case STORE_Q_PREFIX:
    case STORE_Q_WILDCARD:
    case STORE_Q_MATCH:
    case STORE_Q_PHRASE:
        if (q->field)
            return collect_leaf(c, q, q->field);
        for (size_t i = 0; i < q->nfields; i++)
            if (!collect_leaf(c, q, q->fields[i]))
                return false;
        return true;
    default:
        return true;
    }
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- one field of one hit ---- */

typedef struct match {
    int32_t start, end;
    const char *term; /* the token's text (a phrase match: NULL) */
    size_t phrase;
} match;

static bool token_matches(const terms *t, const analysis_token *k)
{
    if (t->nexact && bsearch(&k->term, t->exact, t->nexact, sizeof *t->exact, str_cmp))
        return true;
    for (size_t i = 0; i < t->nprefix; i++)
        if (strncmp(k->term, t->prefix[i], strlen(t->prefix[i])) == 0)
            return true;
    for (size_t i = 0; i < t->nwild; i++)
        if (store_wildcard_match(t->wild[i], k->term, k->len))
            return true;
    return false;
}

static int match_term_cmp(const void *a, const void *b)
{
    const match *x = a, *y = b;
    if (!x->term || !y->term)
        return x->term ? -1 : y->term ? 1 : (x->phrase > y->phrase) - (x->phrase < y->phrase);
    return strcmp(x->term, y->term);
}

/* A token's position and offsets, the field's tokens sorted by position. */
typedef struct tpos {
    int32_t pos, start, end;
    size_t k; /* index in the field's tokens */
} tpos;

static int tpos_cmp(const void *a, const void *b)
{
    const tpos *x = a, *y = b;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return (x->k > y->k) - (x->k < y->k);
}

typedef struct phctx {
    const phrase *ph;
    size_t p;
    const analysis_tokens *tk;
    const tpos *tp;
    size_t ntp;
    bool whole, oom;
    match **m;
    size_t *nm, *cap;
} phctx;

/* The first of the sorted tokens at a position ≥ pos. */
static size_t tpos_lower(const tpos *tp, size_t n, int64_t pos)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (tp[mid].pos < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool in_phrase(const phrase *ph, const char *term)
{
    for (size_t i = 0; i < ph->n; i++)
        if (strcmp(ph->t[i], term) == 0)
            return true;
    return false;
}

/* One match of the phrase from position `start` to `end`: one span with
 * weight matches (require_field_match), as Elasticsearch 8's unified
 * highlighter marks it, else each of the phrase's terms within it. */
static void on_phrase_match(int64_t start, int64_t end, void *arg)
{
    phctx *c = arg;
    size_t a = tpos_lower(c->tp, c->ntp, start);
    int32_t s = INT32_MAX, e = -1;
    for (size_t i = a; i < c->ntp && c->tp[i].pos <= end; i++) {
        const analysis_token *k = &c->tk->v[c->tp[i].k];
        if (!in_phrase(c->ph, k->term))
            continue;
        if (c->whole) {
            if (k->start < s)
                s = k->start;
            if (k->end > e)
                e = k->end;
            continue;
        }
        if (!GROW_ARRAY(*c->m, *c->cap, *c->nm + 1, 16)) {
            c->oom = true;
            return;
        }
        (*c->m)[(*c->nm)++] = (match){k->start, k->end, k->term, 0};
    }
    if (c->whole && e >= 0) {
        if (!GROW_ARRAY(*c->m, *c->cap, *c->nm + 1, 16)) {
            c->oom = true;
            return;
        }
        (*c->m)[(*c->nm)++] = (match){s, e, NULL, c->p};
    }
}

/* Where each phrase matches, found by the query's own matcher
 * (store_phrase_matches) on the field's token positions, so the highlight
 * and the hit agree, slop included. */
static bool find_phrases(const terms *t, const analysis_tokens *tk, bool whole, match **m, size_t *nm,
                         size_t *cap)
{
    if (!t->nphr || !tk->n)
        return true;
    bool ok = false;
    tpos *tp = malloc(tk->n * sizeof *tp);
    uint32_t *pv = NULL;
    size_t pvcap = 0;
    const uint32_t **gp = NULL;
    size_t *gn = NULL;
    int32_t *goff = NULL;
    if (!tp)
        goto done;
    for (size_t k = 0; k < tk->n; k++)
        tp[k] = (tpos){tk->v[k].pos, tk->v[k].start, tk->v[k].end, k};
    qsort(tp, tk->n, sizeof *tp, tpos_cmp);
    for (size_t p = 0; p < t->nphr; p++) {
        const phrase *ph = &t->phr[p];
        free(gp);
        free(gn);
        free(goff);
        gp = malloc(ph->n * sizeof *gp);
        gn = calloc(ph->n, sizeof *gn);
        goff = malloc(ph->n * sizeof *goff);
        if (!gp || !gn || !goff)
            goto done;
        /* groups: the distinct query positions, in order; each takes the
         * field's positions of any of its terms (pv is cut in slices) */
        int32_t *qp = malloc(ph->n * sizeof *qp);
        if (!qp)
            goto done;
        memcpy(qp, ph->pos, ph->n * sizeof *qp);
        size_t ng = 0;
        for (size_t i = 0; i < ph->n; i++) { /* distinct positions, ascending (n is small) */
            int32_t best = INT32_MAX;
            for (size_t j = 0; j < ph->n; j++)
                if (qp[j] < best && (!ng || qp[j] > goff[ng - 1]))
                    best = qp[j];
            if (best == INT32_MAX)
                break;
            goff[ng++] = best;
        }
        free(qp);
        /* the field's positions of each group's terms, in one array cut in
         * slices: counted first (a token may serve several groups) */
        size_t total = 0;
        for (int pass = 0; pass < 2; pass++) {
            size_t used = 0;
            for (size_t g = 0; g < ng; g++) {
                if (pass)
                    gp[g] = pv + used;
                for (size_t x = 0; x < tk->n; x++) {
                    const char *term = tk->v[tp[x].k].term;
                    bool hit = false;
                    for (size_t i = 0; i < ph->n && !hit; i++)
                        hit = ph->pos[i] == goff[g] && strcmp(ph->t[i], term) == 0;
                    if (hit && pass)
                        pv[used] = (uint32_t)tp[x].pos, gn[g]++;
                    used += hit;
                }
            }
            total = used;
            if (!pass && !GROW_ARRAY(pv, pvcap, total + 1, 64))
                goto done;
        }
        phctx c = {ph, p, tk, tp, tk->n, whole, false, m, nm, cap};
        if (!store_phrase_matches(gp, gn, goff, ng, ph->slop, on_phrase_match, &c) || c.oom)
            goto done;
    }
    ok = true;
done:
    free(tp);
    free(pv);
    free(gp);
    free(gn);
    free(goff);
    return ok;
}

static size_t utf16_len(const char *s, size_t n)
{
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xC0) != 0x80)
            u += c >= 0xF0 ? 2 : 1;
    }
    return u;
}

/* The bytes of s (n bytes of UTF-8) that hold its first `units` UTF-16 units. */
static size_t utf8_prefix(const char *s, size_t n, int64_t units)
{
    size_t i = 0;
    for (int64_t u = 0; i < n && u < units;) {
        unsigned char c = (unsigned char)s[i++];
        u += c >= 0xF0 ? 2 : 1;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
    }
    return i;
}

/* Highlight field h of document v (its values as `fields` reads them); appends `"h":[…]` to out when
 * there are fragments, *shown counting the fields written. */
static bool field(ex *x, const sreq *q, const hlfield *e, const store_field *h, const store_doc_view *v,
                  int64_t seq, buf *out, size_t *shown)
{
    const hlreq *hr = q->hl;
    hlctx c = {.x = x, .h = h};
    buf vals = BUF_INIT, text = BUF_INIT, frags = BUF_INIT;
    cJSON *arr = NULL;
    analysis_tokens tk = {0};
    match *m = NULL;
    store_hl_span *sp = NULL;
    size_t nm = 0, mcap = 0, nfr = 0;
    bool ok = false;
#define PICK(fld) (e->o.fld != UNSET ? e->o.fld : hr->g.fld)
    int64_t fsize = PICK(fragment_size), nfrag = PICK(nfrag), nomatch = PICK(no_match_size);
    int64_t qmax = PICK(max_offset);
    int order = e->o.order >= 0 ? e->o.order : hr->g.order;
    bool plain = (e->o.plain >= 0 ? e->o.plain : hr->g.plain) == 1;
    c.rfm = (e->o.rfm >= 0 ? e->o.rfm : hr->g.rfm) != 0;
    const store_query *hq = e->o.hq ? e->o.hq : hr->g.hq ? hr->g.hq : q->query;
#undef PICK
    if (!store_fetch_field_values(x, h, v, &vals))
        goto done;
    if (!(arr = cJSON_ParseWithLength(vals.data ? vals.data : "[]", vals.len))) {
        ok = oom_err(x->err);
        goto done;
    }
    /* the values joined as the unified highlighter joins them (each value a
     * JSON string: no NUL inside), and the longest one */
    size_t total16 = 0, longest16 = 0, nvals = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it))
            continue;
        size_t n = strlen(it->valuestring), u = utf16_len(it->valuestring, n);
        if (nvals++)
            buf_putc(&text, STORE_HL_SEP);
        buf_append(&text, it->valuestring, n);
        total16 += u + 1; /* Elasticsearch counts each value's separator, the last one's too */
        longest16 = u > longest16 ? u : longest16;
    }
    if (!nvals || !buf_ok(&text)) {
        ok = buf_ok(&text) || oom_err(x->err);
        goto done;
    }
    int64_t limit = x->ix->hl_max_offset, len16 = (int64_t)(plain ? longest16 : total16);
    if ((qmax == UNSET || qmax < 0 || qmax > limit) && len16 > limit) {
        store_eval_shard_fail(
            x, "illegal_argument_exception",
            "The length [%" PRId64 "] of field [%s] in doc[%" PRId64 "]/index[%s] exceeds the "
            "[index.highlight.max_analyzed_offset] limit [%" PRId64 "]. To avoid this error, set "
            "the query parameter [max_analyzed_offset] to a value less than index setting [%" PRId64
            "] and this will tolerate long field values by truncating them.",
            len16, h->path, seq, x->ix->meta.name, limit, limit);
        goto done;
    }
    int64_t cut = qmax != UNSET && qmax > 0 && qmax <= limit ? qmax : INT64_MAX; /* LimitTokenOffsetFilter */
    /* the terms, then the tokens */
    if (!collect(&c, hq)) {
        ok = x->err->status ? false : oom_err(x->err);
        goto done;
    }
    if (c.t.nexact)
        qsort(c.t.exact, c.t.nexact, sizeof *c.t.exact, str_cmp);
    int32_t pos = 0, off = 0;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it))
            continue;
        size_t n = strlen(it->valuestring);
        int32_t end16 = (int32_t)utf16_len(it->valuestring, n), gap = 0;
        size_t first = tk.n;
        if (h->type == STORE_FT_KEYWORD) {
            if (!analysis_tokens_push(&tk, it->valuestring, n, off, off + end16, pos, ANALYSIS_T_WORD)) {
                oom_err(x->err);
                goto done;
            }
        } else {
            /* past the cut nothing is kept: analyse only as far as a token
             * starting at the cut can reach, so a small max_analyzed_offset
             * is also a small cost */
            int64_t room = cut == INT64_MAX ? INT64_MAX : cut - (plain ? 0 : off) + ANALYSIS_MAX_TOKEN + 1;
            size_t an = room < 0 ? 0 : utf8_prefix(it->valuestring, n, room);
            int32_t an16 = 0;
            if (!store_index_analyze_tokens(&x->ix->map, h, it->valuestring, an, pos, off, &tk, &an16,
                                            &gap)) {
                oom_err(x->err);
                goto done;
            }
        }
        size_t keep = first; /* LimitTokenOffsetFilter: past the cut, nothing (offsets per value for plain) */
        for (size_t k = first; k < tk.n; k++) {
            int64_t rel = plain ? tk.v[k].start - off : tk.v[k].start;
            if (rel <= cut)
                tk.v[keep++] = tk.v[k];
            else
                free(tk.v[k].term);
        }
        tk.n = keep;
        pos = (tk.n > first ? tk.v[tk.n - 1].pos : pos) + gap + 1;
        off += end16 + 1;
    }
    for (size_t k = 0; k < tk.n; k++)
        if (token_matches(&c.t, &tk.v[k])) {
            if (!GROW_ARRAY(m, mcap, nm + 1, 16)) {
                oom_err(x->err);
                goto done;
            }
            m[nm++] = (match){tk.v[k].start, tk.v[k].end, tk.v[k].term, 0};
        }
    if (!find_phrases(&c.t, &tk, c.rfm, &m, &nm, &mcap)) {
        oom_err(x->err);
        goto done;
    }
    /* dense term ids for the passage score: equal texts, equal ids */
    if (nm)
        qsort(m, nm, sizeof *m, match_term_cmp);
    if (!(sp = malloc((nm ? nm : 1) * sizeof *sp))) {
        oom_err(x->err);
        goto done;
    }
    uint32_t id = 0;
    for (size_t k = 0; k < nm; k++) {
        if (k && match_term_cmp(&m[k - 1], &m[k]) != 0)
            id++;
        sp[k] = (store_hl_span){m[k].start, m[k].end, id};
    }
    const char *pre = e->o.pre     ? e->o.pre
                      : hr->g.pre  ? hr->g.pre
                      : hr->styled ? "<em class=\"hlt\">"
                                   : "<em>";
    const char *post = e->o.pre ? e->o.post : hr->g.pre ? hr->g.post : "</em>";
    store_hl_opts o = {pre,
                       post,
                       hr->html,
                       (int32_t)(fsize == UNSET      ? 100
                                 : fsize < 0         ? 0
                                 : fsize > INT32_MAX ? INT32_MAX
                                                     : fsize),
                       (int32_t)(nfrag == UNSET ? 5 : nfrag),
                       (int32_t)(nomatch == UNSET || nomatch < 0 ? 0
                                 : nomatch > INT32_MAX           ? INT32_MAX
                                                                 : nomatch),
                       order == 1};
    if (!store_hl_fragments(text.data, text.len, sp, nm, &o, &frags, &nfr)) {
        oom_err(x->err);
        goto done;
    }
    if (nfr) {
        buf_puts(out, (*shown)++ ? "," : ",\"highlight\":{");
        jstr(out, h->path);
        buf_puts(out, ":[");
        buf_append(out, frags.data, frags.len);
        buf_putc(out, ']');
    }
    ok = buf_ok(out) || oom_err(x->err);
done:
    terms_free(&c.t);
    analysis_tokens_free(&tk);
    cJSON_Delete(arr);
    free(m);
    free(sp);
    buf_free(&vals);
    buf_free(&text);
    buf_free(&frags);
    return ok;
}

static bool highlightable(const store_field *f)
{
    return f && (f->type == STORE_FT_TEXT || (f->type == STORE_FT_KEYWORD && !f->opaque));
}

bool store_hl_put(ex *x, const sreq *q, const store_doc_view *v, int64_t seq, buf *out)
{
    const hlreq *hr = q->hl;
    size_t shown = 0;
    const store_mapping *map = &x->ix->map;
    if (!hr || v->source_disabled)
        return true;
    const store_field **seen_f = calloc(map->n ? map->n : 1, sizeof *seen_f);
    size_t nseen = 0;
    if (!seen_f)
        return oom_err(x->err);
    bool ok = true;
    for (size_t i = 0; ok && i < hr->nf; i++) {
        const hlfield *e = &hr->f[i];
        bool wild = store_names_is_wild(e->name);
        for (size_t k = 0; ok && k < map->n; k++) {
            const store_field *f = &map->fields[k];
            if (!highlightable(f) ||
                (wild ? !store_names_glob(e->name, f->path) : strcmp(e->name, f->path) != 0))
                continue;
            bool seen = false; /* a field two entries name: the first one's options */
            for (size_t d = 0; d < nseen && !seen; d++)
                seen = seen_f[d] == f;
            if (seen)
                continue;
            seen_f[nseen++] = f;
            ok = field(x, q, e, f, v, seq, out, &shown);
        }
    }
    free(seen_f);
    if (ok && shown)
        buf_putc(out, '}');
    return ok && (buf_ok(out) || oom_err(x->err));
}
