/* store_query — the Elasticsearch query DSL and Lucene query-string syntax parsed into verstore's query tree. */
#ifndef VERSYNC_STORE_QUERY_H
#define VERSYNC_STORE_QUERY_H

#include "versync/store/store_error.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum store_qtype {
    STORE_Q_MATCH_ALL = 0,
    STORE_Q_MATCH_NONE,
    STORE_Q_IDS,      /* vals: the ids */
    STORE_Q_TERM,     /* vals[0] */
    STORE_Q_TERMS,    /* vals */
    STORE_Q_RANGE,    /* lo/hi */
    STORE_Q_EXISTS,
    STORE_Q_PREFIX,   /* vals[0] */
    STORE_Q_WILDCARD, /* vals[0]: '*' and '?' */
    STORE_Q_MATCH,    /* vals[0]: analysed text */
    STORE_Q_PHRASE,   /* vals[0]: analysed text, terms in order */
    STORE_Q_BOOL,     /* clauses */
    STORE_Q_CONSTANT, /* constant_score: clauses[0] as a filter */
    STORE_Q_DISMAX,   /* dis_max: clauses (occur ignored) */
} store_qtype;

typedef enum store_qval_kind {
    STORE_QV_STR = 0,
    STORE_QV_NUM,
    STORE_QV_BOOL,
} store_qval_kind;

/* A value as the request gave it. `s` is always set: the string, the
 * number's text, or "true"/"false". */
typedef struct store_qval {
    store_qval_kind kind;
    char *s;
    double num; /* STORE_QV_NUM */
    bool b;     /* STORE_QV_BOOL */
} store_qval;

typedef enum store_occur {
    STORE_OCC_MUST = 0,
    STORE_OCC_FILTER,
    STORE_OCC_SHOULD,
    STORE_OCC_MUST_NOT,
} store_occur;

typedef struct store_query store_query;

/* The document a terms lookup takes its values from
 * ({"terms":{"user":{"index":"users","id":"2","path":"followers"}}}). The
 * values are fetched when the search runs (store_search_lookup_rewrite), as
 * Elasticsearch's coordinating node rewrites the query before any shard
 * sees it; until then the node has none. Strings owned by the node. */
typedef struct store_terms_lookup {
    char *index, *id, *path;
    char *routing; /* NULL when not given; one shard: any routing names the same document */
} store_terms_lookup;

typedef struct store_clause {
    store_occur occur;
    store_query *q;
} store_clause;

struct store_query {
    store_qtype type;
    float boost; /* 1 unless given */
    /* Field-level queries: `field`, or (field NULL) the `fields` list with
     * their boosts, combined as dis_max (best_fields: max + tie_breaker ×
     * the others) or summed (most_fields). "*" in a name expands over the
     * mapping; `lenient` skips fields the value does not fit. */
    char *field;
    char **fields;
    float *fboost;
    size_t nfields;
    bool most_fields;
    float tie_breaker;
    bool lenient;
    bool normalize; /* PREFIX/WILDCARD from query_string: lowercased for text fields */
    store_qval *vals;
    size_t nvals;
    store_terms_lookup *lookup; /* TERMS: values still to fetch (owned), NULL when given inline or fetched */
    /* RANGE */
    store_qval *lo, *hi;
    bool lo_incl, hi_incl;
    char *format; /* RANGE: the query's date `format` (heap), NULL: the field's own */
    char *time_zone; /* RANGE: the query's `time_zone` for dates (heap), NULL: UTC */
    /* MATCH */
    bool op_and;
    bool zero_terms_all;
    char *msm; /* minimum_should_match as given (bool, match), NULL when not */
    char *analyzer; /* MATCH/PHRASE: the query's `analyzer` (quote_analyzer for a
                     * query_string phrase), used instead of the field's; NULL */
    /* PHRASE: the phrase slop (Lucene's PhraseQuery slop). match_phrase and
     * multi_match refuse a negative one while parsing, as Elasticsearch's
     * builders do; query_string's phrase_slop is not checked there, so a
     * negative one fails when the phrase is built. `slop_set`: a
     * query_string phrase's own "…"~N, which phrase_slop does not replace. */
    int slop;
    bool slop_set;
    /* BOOL, CONSTANT, DISMAX */
    store_clause *clauses;
    size_t nclauses;
};

/* Parse a query object ({"match":{…}}); NULL with err filled (400) when it
 * is not valid or uses something verstore does not support. Caller owns the
 * tree (store_query_free). */
store_query *store_query_parse(const cJSON *q, store_error *err);

/* Parse Lucene query-string syntax (query_string / ?q=): field:value, bare
 * terms over `default_fields` (NULL: "*"), AND/OR/NOT, +/-, quoted phrases,
 * parentheses, ^boost, trailing-star prefixes and ?/star wildcards. `op_and` is
 * default_operator AND. */
store_query *store_query_parse_string(const char *text, const char *const *default_fields, size_t ndefault,
                                      bool op_and, bool lenient, store_error *err);

/* Set the values of a TERMS node (a terms lookup's, fetched) to the `n`
 * JSON scalars `v` (borrowed), replacing any it had; nulls are skipped. False
 * with err filled (400 for a value that is no scalar, 500 out of memory). */
bool store_query_set_values(store_query *q, const cJSON *const *v, size_t n, store_error *err);

/* Whether the tree holds a terms lookup still to fetch. */
bool store_query_has_lookup(const store_query *q);

/* Release a tree; NULL is a no-op. */
void store_query_free(store_query *q);

/* How many of `n` optional clauses minimum_should_match `spec` asks for
 * ("2", "-1", "75%", "-25%"); -1 when the spec is not one of these forms. */
int store_query_msm(const char *spec, int n);

#endif
