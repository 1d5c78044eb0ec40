/* store_search_int — the search module's own types and functions, shared by its files (store_search.c,
 * store_eval.c, store_resolve.c, store_sreq.c, store_sort.c, store_aggs.c, store_scroll.c); not an API for
 * the rest of verstore. */
#ifndef VERSYNC_STORE_SEARCH_INT_H
#define VERSYNC_STORE_SEARCH_INT_H

#include "versync/common/buf.h"
#include "versync/store/store_engine.h"
#include "versync/store/store_error.h"
#include "versync/store/store_index.h"
#include "versync/store/store_query.h"
#include "versync/store/store_search.h"
#include "versync/store/store_srcfilter.h"
#include "versync/store/store_util.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BM25_K1 1.2f
#define BM25_B 0.75f
#define DEFAULT_WINDOW 10000
#define DEFAULT_MAX_TERMS 65536 /* index.max_terms_count */
#define MAX_SCROLLS STORE_SEARCH_MAX_SCROLLS
#define MAX_KEEP_ALIVE_MS (24LL * 3600 * 1000)
#define TRACK_DEFAULT 10000
#define DEFAULT_MAX_DVF 100                /* index.max_docvalue_fields_search */
#define DEFAULT_HL_MAX_OFFSET 1000000      /* index.highlight.max_analyzed_offset */

/* ---- errors ------------------------------------------------------------------ */

#define seterr store_error_set

static inline bool storage_err(store_error *err)
{
    return seterr(err, 500, "exception", "storage failure, see the verstore log");
}

static inline bool oom_err(store_error *err)
{
    return seterr(err, 500, "exception", "out of memory");
}

/* ---- JSON writers ------------------------------------------------------------ */

static inline void jint(buf *b, int64_t v)
{
    buf_printf(b, "%" PRId64, v);
}
static inline void jstrn(buf *b, const char *s, size_t n)
{
    buf_put_json_string(b, s, n);
}
static inline void jstr(buf *b, const char *s)
{
    buf_put_json_string(b, s, strlen(s));
}

/* An index expression's part with a wildcard, and its match against a name. */
static inline bool store_names_is_wild(const char *s) { return strchr(s, '*') != NULL; }
static inline bool store_names_glob(const char *pat, const char *s)
{
    return store_util_glob(pat, strlen(pat), s, strlen(s));
}

/* ---- types ------------------------------------------------------------------- */

/* A matching document of one index: its search ordinal and score. `aux`
 * and `cnt` serve the combinators (dis_max sums, clause counts, field
 * lengths of phrase candidates). Scores are summed in double and cast to
 * float per query node, as Lucene does. */
typedef struct hit {
    int64_t seq;
    double score;
    double aux;
    int32_t cnt;
} hit;

typedef struct hitv {
    hit *v;
    size_t n, cap;
} hitv;

typedef struct sidx {
    store_index_meta meta;
    store_mapping map;
    int64_t window;    /* index.max_result_window */
    int64_t max_terms; /* index.max_terms_count */
    hitv res;
    unsigned char *bits; /* aggregations: membership by seq */
    store_query *alias_filter; /* reached only through filtered aliases: their filters (owned), else NULL */
    int64_t max_dvf;           /* index.max_docvalue_fields_search */
    int64_t hl_max_offset;     /* index.highlight.max_analyzed_offset */
} sidx;

typedef struct name_list {
    char **v;
    size_t n, cap;
    bool oom;
} name_list;

typedef struct ex {
    store_rtxn *r;
    sidx *ix;
    store_error *err;
} ex;

typedef enum { SK_SCORE, SK_DOC, SK_ID, SK_FIELD } skind;

typedef struct skey {
    skind kind;
    char *field;
    bool desc;
    bool missing_first;
    int mode;            /* 0 by order, 1 min, 2 max, 3 sum, 4 avg, 5 median (the last three numeric only) */
    char *unmapped_type; /* sort on a field unmapped in an index: all missing there */
} skey;

typedef enum { AG_TERMS, AG_AVG, AG_MIN, AG_MAX, AG_SUM, AG_COUNT, AG_CARD, AG_FILTER, AG_FILTERS, AG_RANGE, AG_HISTO, AG_TOP, AG_DHISTO } agtype;

/* A date_histogram bound or `missing` as the request gave it: a number of
 * milliseconds, or text (`s`, owned) read as date math when the search runs. */
typedef struct agdate {
    bool set;
    char *s;
    int64_t ms;
} agdate;

/* One range of a range aggregation: [from, to), either end open. */
typedef struct agrange {
    double from, to;
    bool has_from, has_to;
    char *key; /* the request's key, NULL for the default "from-to" */
} agrange;

typedef struct agg {
    char *name;
    agtype t;
    char *field;
    int64_t size, min_doc_count;
    int order; /* 0 _count desc, 1 _count asc, 2 _key asc, 3 _key desc */
    char *meta; /* the request's `meta` object as JSON text, echoed in the answer; NULL when none */
    store_query **fq; /* filter: one query; filters: one per bucket (owned) */
    char **fnames;    /* filters, keyed form: the bucket names (owned); NULL for the anonymous list form */
    size_t nf;
    char *other_key; /* filters: the other bucket's key, NULL for none */
    agrange *ranges; /* range: sorted by from, then to, as RangeAggregator answers them (owned) */
    size_t nranges;
    bool keyed; /* range: buckets as an object by key */
    double interval, offset; /* histogram */
    /* date_histogram: calendar unit (store_round_unit) or fixed_interval ms, offset ms, time_zone and the
     * key_as_string `format` (owned; NULL: UTC, the field's format); bounds and `missing` as given */
    int dh_unit;
    int64_t dh_fixed, dh_offset;
    char *time_zone, *format;
    agdate ext_min, ext_max, hard_min, hard_max, dmissing;
    int64_t from;            /* top_hits (size is `size`) */
    store_srcfilter src;     /* top_hits: the hits' _source filter (owned) */
    bool version, seqno;     /* top_hits */
    bool has_missing; /* avg/min/max/sum/value_count: documents without the field count as `missing` */
    double missing;
    struct agg *subs;
    size_t nsubs;
} agg;

/* One entry of `fields` or `docvalue_fields` (Elasticsearch's FieldAndFormat). */
typedef struct fetchf {
    char *field;  /* a name or a * pattern */
    char *format; /* NULL: the field's own */
    bool include_unmapped;
} fetchf;

/* `highlight` options, at the top level or for one field (unset: INT64_MIN, -1, NULL). */
typedef struct hlopt {
    char *pre, *post; /* the first of pre_tags/post_tags (owned) */
    int64_t fragment_size, nfrag, no_match_size, max_offset;
    int order; /* 0 none, 1 score */
    int rfm;   /* require_field_match */
    int plain; /* type: 1 plain (max_analyzed_offset counts per value), 0 another, -1 unset */
    store_query *hq; /* highlight_query (owned) */
} hlopt;

typedef struct hlfield {
    char *name; /* a field or a * pattern */
    hlopt o;
} hlfield;

typedef struct hlreq {
    hlopt g;
    bool html, styled; /* encoder: html; tags_schema: styled */
    hlfield *f;
    size_t nf;
} hlreq;

typedef struct sreq {
    store_query *query, *post_filter;
    int64_t from, size;
    bool from_given;
    skey *keys;
    size_t nkeys;
    cJSON *after;
    store_srcfilter src;
    bool version, seqno, track_scores;
    int64_t track; /* -1: not tracked */
    bool track_exact;
    int64_t terminate_after;
    bool has_min_score;
    float min_score;
    agg *aggs;
    size_t naggs;
    bool scroll;
    int64_t keep_ms;
    bool rest_total_int, typed_keys;
    bool ignore_unavailable, allow_no_indices;
    int64_t timeout_ms; /* `timeout`: -1 none, -2 not given (the server's default applies) */
    bool allow_partial; /* allow_partial_search_results: a timed-out search answers what it has */
    fetchf *fields, *dvfields; /* `fields`, `docvalue_fields` (owned) */
    size_t nfields, ndvfields;
    hlreq *hl; /* `highlight` (owned), NULL: none */
} sreq;

typedef struct sval {
    uint8_t kind; /* 0 missing, 1 integer, 2 double, 3 bytes */
    bool ul;      /* kind 1 of an unsigned_long: `l` is the value − 2^63 (store_ulong_unshift) */
    int64_t l;
    double d;
    char *s;
    size_t n;
} sval;

typedef struct rh {
    uint32_t ix;
    int64_t seq;
    float score;
    sval *sv; /* nkeys values */
    char *id; /* SK_ID sorts and scroll contexts */
    size_t idn;
} rh;

typedef struct sorter {
    const skey *keys;
    size_t nkeys;
    bool keys_only; /* search_after: compare the sort values, no tie-break */
} sorter;

/* A scroll context. Its memory does not depend on how many documents
 * match: it keeps the parsed request, the resolved indices, the read
 * snapshot the first page was taken from, and the sort position of the
 * last hit returned; each page evaluates the query again on that snapshot
 * and returns the next `size` hits after that position (the order is total:
 * sort keys, then index, then search ordinal). The snapshot makes it a point
 * in time: writes after the first page neither appear nor shift pages. */
typedef struct sctx {
    char id[32];
    sreq q;            /* the search: query, post_filter, sort keys, size, _source filter, ... */
    sidx *ix;          /* the indices it resolved to, their hit lists empty between pages */
    size_t nix;
    store_rtxn *snap;  /* parked (store_engine_read_park) between pages */
    rh last;           /* the last hit returned; last.sv has q.nkeys values, strings owned */
    bool has_last;
    int64_t expires_ms, keep_ms;
    int64_t total;
    bool has_max;
    float max_score;
    int64_t opened_ms; /* when the snapshot was taken: its age is a metric */
    uint64_t held;     /* bytes reserved in the memory breaker (--max-memory) */
    struct sctx *next;
} sctx;

struct store_search {
    store_engine *e;
    pthread_mutex_t mu;
    sctx *scrolls;
    size_t nscrolls;
};

/* ---- store_eval.c — hit lists, BM25 and the query tree evaluated against one index ---- */

void store_hits_free(hitv *h);
void store_hits_keep_best(hitv *h, size_t k);
void store_hits_intersect(hitv *a, const hitv *b);
float store_bm25_boost(float boost);
float store_bm25_idf(int64_t docs, int64_t df);
float store_bm25_avgdl(int64_t docs, int64_t sum_len);
float store_bm25_norm_inverse(float avgdl, uint32_t len);
/* BM25Scorer.score: weight - weight / (1 + freq × normInverse), in float.
 * Inline: a top-k walk calls it once or twice per candidate document. */
static inline float store_bm25(float weight, float freq, float norm_inverse)
{
    return weight - weight / (1.0f + freq * norm_inverse);
}
bool store_eval_shard_fail(ex *x, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A query the shard cannot build: query_shard_exception "failed to create
 * query: {reason}" caused by `cause_type` with that reason, as Elasticsearch's
 * SearchExecutionContext wraps what the query builder threw. Returns false. */
bool store_eval_query_fail(ex *x, const char *cause_type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool store_eval_fielddata_err(ex *x, const char *path);
bool store_eval_push_val(const void *val, size_t len, int64_t seq, void *arg);
bool store_eval_all_docs(ex *x, double score, hitv *out);
bool store_eval_exact_term(ex *x, const char *path, const void *val, size_t len, bool scored, float boost,
                           hitv *out);
/* Documents holding the phrase of `n` analysed `terms` at query positions
 * `pos` (stop words leave gaps; equal positions stack alternatives, as a
 * MultiPhraseQuery does) in text field `path`, from the postings' positions:
 * Lucene's ExactPhraseMatcher at slop 0, its SloppyPhraseMatcher above
 * (a sloppy phrase repeating a term is refused), scored by BM25 with the
 * phrase frequency as tf and the terms' idf summed (PhraseWeight). Appended
 * to `out` in seq order; false with x->err set. In store_phrase.c. */
bool store_eval_phrase(ex *x, const char *path, char *const *terms, const int32_t *pos, size_t n, int slop,
                       float boost, hitv *out);
/* Where store_phrase_run puts a phrase's matches, in seq order. */
typedef struct store_phrase_sink {
    /* NULL, or whether a document whose score can be at most `bound` (its
     * phrase frequency at most the smallest tf of its query positions at
     * slop 0, their sum above, as Lucene's maxFreq) can still reach the
     * page: false passes over it without reading its positions */
    bool (*want)(void *arg, float bound);
    /* a match and its score; false stops the walk (out of memory, x->err set) */
    bool (*emit)(void *arg, int64_t seq, float score);
    void *arg;
    /* NULL, or whether a range of documents of an exact phrase, each of
     * which scores at most `bound` (from the impacts of the blocks its
     * terms' postings there are in), can still reach the page: false
     * passes over the range without walking it */
    bool (*want_range)(void *arg, float bound);
} store_phrase_sink;
/* The term a phrase with `slop` above 0 repeats at two query positions
 * (SloppyPhraseMatcher's repeat groups, which verstore does not have, so
 * store_phrase_run refuses it), NULL when none; idx is scratch for n. */
const char *store_phrase_repeat(char *const *terms, const int32_t *pos, size_t n, int slop, size_t *idx);
/* store_eval_phrase with the matches going to `sink`; with sink->want set,
 * positions are read only for the documents it wants. */
bool store_phrase_run(ex *x, const char *path, char *const *terms, const int32_t *pos, size_t n, int slop,
                      float boost, const store_phrase_sink *sink);
/* Each match of a phrase in one document, as the query finds it (the
 * highlighter marks them): `n` query positions in order, the i-th at
 * offset off[i] with the document's positions pos[i][0..npos[i]) of its
 * terms (ascending); fn gets each match's first and last position. False
 * when out of memory. */
typedef void (*store_phrase_match_fn)(int64_t start, int64_t end, void *arg);
bool store_phrase_matches(const uint32_t *const *pos, const size_t *npos, const int32_t *off, size_t n, int slop,
                          store_phrase_match_fn fn, void *arg);
int store_eval_bytes_cmp(const void *a, size_t an, const void *b, size_t bn);
/* A query as a disjunction of terms on one text field, for the top-k
 * scorer (store_topk.c): `terms` (owned: store_eval_text_clauses_free) in
 * the order today's path sums their scores, of which at least `need` must
 * match, each scored by BM25 with `boost`; `path` is the query's. A phrase
 * of two tokens or more has `phrase` set, its tokens' query positions in
 * `pos` (owned) and its `slop` (store_phrase_run answers it). */
typedef struct store_tclauses {
    char **terms;
    size_t n;
    int need;
    float boost;
    const char *path;
    bool phrase;
    int32_t *pos;
    int slop;
} store_tclauses;
/* 1 when q is a match, a match_phrase or a single term on an indexed text
 * field with a non-negative boost and at least one analysed term, *out
 * filled; 0 when it is anything else (today's path answers it); -1 when
 * the analysis failed (x->err set, as today's path sets it). */
int store_eval_text_clauses(ex *x, const store_query *q, store_tclauses *out);
void store_eval_text_clauses_free(store_tclauses *c);
bool store_eval(ex *x, const store_query *q, hitv *out);

/* ---- store_resolve.c — index expressions resolved to the searched indices ---- */

void store_sidx_free(sidx *ix, size_t n);
void store_names_add(name_list *l, const char *s);
void store_names_free(name_list *l);
void store_names_add_pair(name_list *l, const char *s);
bool store_resolve(store_rtxn *r, const char *expr, bool ignore_unavailable, bool allow_no_indices,
                   sidx **out, size_t *nout, store_error *err);

/* ---- store_tlookup.c — terms lookups fetched ---- */

/* Fill every terms lookup of the request (query, post_filter, filter
 * aggregations) with its document's values, read on `r`. False with err
 * filled: the lookup's index missing (404), an alias of several indices. */
bool store_search_lookup_rewrite(store_rtxn *r, sreq *q, store_error *err);

/* ---- store_sreq.c — a _search/_count request parsed and validated ---- */

void store_sreq_free(sreq *q);
const char *store_sreq_param(const store_search_req *r, const char *key);
bool store_sreq_param_bool(const store_search_req *r, const char *key, bool dflt);
const char *store_sreq_token_name(const cJSON *v);
bool store_sreq_keep_alive(const char *s, int64_t *ms, store_error *err);
bool store_sreq_parse(const store_search_req *r, bool count, sreq *q, store_error *err);

/* ---- store_sort.c — collected hits: sort values, top-k, search_after, hit rendering ---- */

int store_sort_cmp(const void *x, const void *y, void *arg);
void store_sort_swap(rh *a, rh *b);
void store_sort_top_k(rh *hits, size_t n, size_t k, const sorter *so);
bool store_sort_values(ex *x, const skey *key, size_t k, size_t nkeys, rh *hits, size_t m);
bool store_sort_fetch_id(store_rtxn *r, const sidx *ix, rh *h);
bool store_sort_after_err(store_error *err, const char *field);
bool store_sort_after_hit(const sreq *q, const sidx *ix, size_t nix, rh *out, store_error *err);
void store_sort_put_sort(buf *b, const sreq *q, const rh *h);
bool store_sort_scored(const sreq *q);
/* `extra`: members after _source (fields, highlight), each starting with a comma; NULL for none. */
void store_sort_put_hit(buf *b, const char *index, const char *id, size_t idn, const store_doc_view *v,
                        const sreq *q, bool with_score, float score, const char *extra, size_t extran,
                        const char *sort, size_t sortn);
void store_sort_put_total(buf *b, const sreq *q, int64_t total);
void store_sort_put_head(buf *b, const char *scroll_id, int64_t took, int terminated, size_t shards);

/* ---- store_fetch.c — a hit's `fields` and `docvalue_fields` ---- */

/* The body's `fields`/`docvalue_fields` array `v` appended to *out (*n entries, owned: store_fetch_free). */
bool store_fetch_parse(const cJSON *v, fetchf **out, size_t *n, store_error *err);
/* ?docvalue_fields=a,b appended to *out. */
bool store_fetch_parse_param(const char *list, fetchf **out, size_t *n, store_error *err);
void store_fetch_free(fetchf *f, size_t n);
/* Append `,"fields":{…}` for document v of index x->ix (nothing when no field has a value); false with a
 * shard failure in x->err (text in docvalue_fields, a format the type refuses, _source disabled, too many
 * docvalue fields). */
bool store_fetch_put(ex *x, const sreq *q, const store_doc_view *v, buf *out);
/* The values of field f in document v, as `fields` answers them: a JSON array appended to out. */
bool store_fetch_field_values(ex *x, const store_field *f, const store_doc_view *v, buf *out);

/* ---- store_hlfetch.c — a hit's `highlight` ---- */

/* The body's `highlight` into *out (replacing it; owned: store_hl_free). */
bool store_hl_parse(const cJSON *v, hlreq **out, store_error *err);
void store_hl_free(hlreq *h);
/* Append `,"highlight":{…}` for document v (search ordinal seq) of index x->ix, nothing when no field has
 * a fragment; false with a shard failure in x->err (max_analyzed_offset exceeded) or out of memory. */
bool store_hl_put(ex *x, const sreq *q, const store_doc_view *v, int64_t seq, buf *out);

/* ---- store_aggs.c — aggregations ---- */

/* ---- store_search.c — the steps of a search that a scroll page repeats ---- */

/* Evaluate the query over each index into ix[i].res (min_score and
 * terminate_after applied; *terminated set when it cut). */
bool store_search_eval_all(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, int *terminated, store_error *err);
/* Keep only the hits post_filter matches. */
bool store_search_post_filter(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, store_error *err);
/* ix[*].res as hits with their sort values (and ids for an _id key). *hits
 * and *svs are the caller's, freed with store_search_hits_free even on
 * failure; *max_score is raised to the best score. */
bool store_search_collect(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, rh **hits, sval **svs, size_t *nh,
                          float *max_score, store_error *err);
void store_search_hits_free(rh *h, size_t n, sval *svs, size_t nkeys, bool own_ids);
/* Append hits[from..end) to `page`, comma-separated. */
bool store_search_render(store_rtxn *r, const sreq *q, const sidx *ix, rh *hits, size_t from, size_t end,
                         bool want_score, buf *page, store_error *err);

bool store_aggs_run(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, buf *out, store_error *err);

/* ---- store_topk.c — score-ordered top-k over text terms, skipping blocks ---- */

/* Answer the search into `out` when it is a score-ordered page of a text
 * match/term over one index that the top-k scorer serves: 1 answered, 0
 * failed (err set), -1 not served (today's path answers it). */
int store_topk_search(store_rtxn *r, const sreq *q, sidx *ix, size_t nix, int64_t t0, buf *out, store_error *err);
/* Switch the top-k scorer off for the whole process (the differential
 * test's reference server: VERSTORE_SEARCH_TOPK=off). */
void store_topk_set_enabled(bool on);

/* ---- store_scroll.c — scroll contexts ---- */

void store_scroll_free(sctx *c);
void store_scroll_purge(store_search *s);
/* Open a scroll context for the search just answered: it takes *q, *ix
 * (with *nix) and *r (left empty, NULL) and resumes after `last` (NULL: the
 * first page was empty). The context's id is written to id_out. */
bool store_scroll_make(store_search *s, store_rtxn **r, sreq *q, sidx **ix, size_t *nix, const rh *last,
                       int64_t total, float max_score, bool has_max, char id_out[32], store_error *err);

#endif
