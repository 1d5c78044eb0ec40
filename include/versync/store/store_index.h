/* store_index — verstore's search structures: text analysis, field mappings (given or inferred), value encodings, and the index entries kept in step with each document (store_index.c, store_index_enc.c, store_index_doc.c). */
#ifndef VERSYNC_STORE_INDEX_H
#define VERSYNC_STORE_INDEX_H

#include "versync/common/buf.h"
#include "versync/store/store_analysis.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- field mappings ------------------------------------------------------ */

/* What verstore does with a field. Mapping type names fold onto these:
 * long/integer/short/byte → LONG; unsigned_long → ULONG; double/float/half_float/scaled_float →
 * DOUBLE; text/match_only_text → TEXT; keyword/constant_keyword/wildcard →
 * KEYWORD; binary and the *_range types → KEYWORD with `opaque` set (stored,
 * not indexed). Any other type name is refused by store_mapping_parse. */
typedef enum store_ftype {
    STORE_FT_NONE = 0, /* not mapped */
    STORE_FT_OBJECT,
    STORE_FT_TEXT,
    STORE_FT_KEYWORD,
    STORE_FT_LONG,
    STORE_FT_DOUBLE,
    STORE_FT_BOOLEAN,
    STORE_FT_DATE,
    STORE_FT_ULONG, /* unsigned_long: 0 … 2^64−1, encoded big-endian (store_ulong) */
    STORE_FT_DATE_NANOS, /* date_nanos: nanoseconds since the epoch as a long (1970 … 2262) */
} store_ftype;

typedef struct store_field {
    char *path;       /* dotted path; sub-fields included ("title.keyword") */
    char *type_name;  /* the mapping's own type name ("integer", "float", ...) */
    store_ftype type;
    int ignore_above; /* keyword: longer values (in characters) are not indexed; 0 none */
    bool index;       /* false: "index": false, kept in _source only */
    bool subfield;    /* one of a field's "fields" (title.keyword), not an object member */
    bool opaque;      /* binary and the range types: any value, kept in _source only, never indexed */
    int dynamic;      /* objects: their store_dynamic, inherited when not given */
    /* text: the analyzers named in the mapping (heap), NULL for the index's default */
    char *analyzer, *search_analyzer, *search_quote_analyzer;
    /* date, date_nanos: the mapping's `format` (heap, store_datefmt), NULL for Elasticsearch's
     * default strict_date_optional_time||epoch_millis */
    char *date_format;
    /* scaled_float: its scaling_factor; values are indexed as
     * round(value * factor) / factor, as Elasticsearch keeps them (0: not one) */
    double scaling_factor;
} store_field;

typedef enum store_dynamic {
    STORE_DYN_TRUE = 0, /* unmapped fields are inferred and added (Elasticsearch's default) */
    STORE_DYN_FALSE,    /* unmapped fields are kept in _source, not indexed */
    STORE_DYN_STRICT,   /* a document with an unmapped field is refused */
} store_dynamic;

/* A parsed mapping: the flat field list plus the JSON it came from. */
typedef struct store_mapping {
    store_field *fields; /* sorted by path (byte order) */
    size_t n;
    store_dynamic dynamic; /* of the root object */
    cJSON *json;           /* {"properties":{...},...}; owned */
    /* The index's index.mapping.* limits, enforced when fields are added
     * (a mapping already past a lowered limit stays usable). 0: the default. */
    int64_t total_fields_limit; /* fields, objects and sub-fields; default 1000 */
    int64_t depth_limit;        /* object nesting, the root counting 1; default 20 */
    int64_t name_length_limit;  /* characters of a field's own name; default none */
    /* The index's analyzers (from its settings), owned; NULL until
     * store_mapping_set_analysis or the first text value (then built-ins). */
    analysis_registry *an;
} store_mapping;

#define STORE_DEFAULT_TOTAL_FIELDS 1000
#define STORE_DEFAULT_MAPPING_DEPTH 20

/* Set m's limits from an index's settings JSON (any spelling: flat
 * "index.mapping.total_fields.limit", nested, or without "index."). */
void store_mapping_limits_from_settings(store_mapping *m, const char *settings, size_t n);

/* Whether `next` may replace `prev` (NULL: a new mapping) under next's
 * limits: only fields `prev` lacks are held to them. On refusal writes
 * Elasticsearch's reason ("Limit of total fields [1000] has been exceeded
 * while adding new fields [3]") into err. */
bool store_mapping_check_limits(const store_mapping *prev, const store_mapping *next, char *err, size_t errsz);

/* Parse mappings JSON (`{"properties":{…}}`, also with "dynamic", "_source",
 * "date_detection", "numeric_detection", a legacy type name wrapping it, or
 * empty text for none). On failure writes an Elasticsearch-style reason
 * (e.g. "No handler for type [foo] declared on field [bar]") into `err` and
 * returns false. The caller owns *out (store_mapping_free). */
bool store_mapping_parse(const char *json, size_t len, store_mapping *out, char *err, size_t errsz);

/* The field at `path`, or NULL when it is not mapped. */
const store_field *store_mapping_find(const store_mapping *m, const char *path);

/* Merge the mappings `add` (as PUT _mapping sends them) into `m`. New
 * fields are added; a field whose type would change is refused with
 * Elasticsearch's reason ("mapper [f] cannot be changed from type [long] to
 * [text]") in `err`, and `m` is then unchanged. Returns whether it merged. */
bool store_mapping_merge(store_mapping *m, const cJSON *add, char *err, size_t errsz);

/* Append the mapping's JSON (compact) to `out`. */
bool store_mapping_print(const store_mapping *m, buf *out);

/* Give the mapping the analyzers of its index's settings JSON (NULL: the
 * built-ins only). Settings the index was created with were checked then;
 * should they not build now, the built-ins are used and false returned with
 * the reason in `err`. */
bool store_mapping_set_analysis(store_mapping *m, const char *settings, size_t n, char *err, size_t errsz);

/* Check that every analyzer the mapping names exists in m->an, with
 * Elasticsearch's reason ("analyzer [x] has not been configured in
 * mappings") in `err` when one does not. */
bool store_mapping_check_analysis(store_mapping *m, char *err, size_t errsz);

/* Release a mapping's memory; NULL and a zeroed mapping are no-ops. */
void store_mapping_free(store_mapping *m);

/* `d` as a half_float keeps it: the nearest IEEE half-precision value (ties to
 * even), ±infinity past its range. */
double store_index_half_float(double d);

/* ---- text analysis -------------------------------------------------------- */

typedef bool (*store_token_fn)(const char *tok, size_t len, void *arg);

/* Analyse `text` the way field `f` (NULL: an unmapped field) of mapping `m`
 * is analysed: at index time (`search` false: its analyzer), or for a query
 * (its search_analyzer, else its analyzer; `quote`: search_quote_analyzer
 * first, for phrases). Calls `fn` for each token in order; returns false
 * when fn does or memory runs out. Analysis is in store_analysis. */
bool store_index_analyze(store_mapping *m, const store_field *f, bool search, bool quote, const char *text,
                         size_t len, store_token_fn fn, void *arg);

/* The same with the analyzer called `name` (a query's `analyzer` option):
 * -1 when the index has no such analyzer, 0 when fn stopped or memory ran
 * out, 1 done. */
int store_index_analyze_named(store_mapping *m, const char *name, const char *text, size_t len, store_token_fn fn,
                              void *arg);

/* A query's tokens with their positions, as Lucene's QueryBuilder reads
 * them for a phrase: removed stop words leave gaps, stacked tokens
 * (synonyms) share a position. The analyzer is `name` when given (a query's
 * `analyzer`), else field f's search analyzer as store_index_analyze picks
 * it. 1 done, 0 when fn stopped or memory ran out, -1 no analyzer `name`. */
typedef bool (*store_token_pos_fn)(const char *tok, size_t len, int32_t pos, void *arg);
int store_index_analyze_pos(store_mapping *m, const store_field *f, bool quote, const char *name, const char *text,
                            size_t len, store_token_pos_fn fn, void *arg);

/* Analyse one value of field `f` with its index-time analyzer into `out`
 * (appended), positions from `pos0`, offsets (UTF-16 units) plus `off0`, as
 * a highlighter needs them; *end16 gets the value's UTF-16 length and
 * *pos_gap the analyzer's position_increment_gap between values. False when
 * memory runs out. */
bool store_index_analyze_tokens(store_mapping *m, const store_field *f, const char *text, size_t len, int32_t pos0,
                                int32_t off0, analysis_tokens *out, int32_t *end16, int *pos_gap);

/* The field length BM25 sees for a field of `len` tokens: Lucene stores
 * norms in one byte (SmallFloat.intToByte4) and decodes them back, so long
 * fields are rounded the way Elasticsearch rounds them. */
uint32_t store_index_norm_len(uint32_t len);

/* ---- value encodings (exact-value index keys sort as the values do) ------- */

#define STORE_VAL_NUM_LEN 8

/* long and date (epoch milliseconds): big-endian, sign bit flipped. */
void store_index_enc_long(int64_t v, unsigned char out[STORE_VAL_NUM_LEN]);
int64_t store_index_dec_long(const unsigned char in[STORE_VAL_NUM_LEN]);

/* double: IEEE bits made to sort numerically (negative values inverted). */
void store_index_enc_double(double v, unsigned char out[STORE_VAL_NUM_LEN]);
double store_index_dec_double(const unsigned char in[STORE_VAL_NUM_LEN]);

/* boolean: one byte, 'F' or 'T' (false sorts first). Keyword: its bytes. */

/* Parse a date the way Elasticsearch's default date format does
 * (strict_date_optional_time||epoch_millis): yyyy-MM-dd, optionally with
 * 'T'HH:mm, :ss, .fraction (to milliseconds) and Z or ±HH:mm; or a string
 * of digits (epoch milliseconds). False when it is none of these. */
bool store_index_parse_date(const char *s, size_t n, int64_t *ms);

/* Format epoch milliseconds as Elasticsearch prints dates
 * (2024-01-31T12:00:00.000Z) into out (at least 32 bytes). */
void store_index_format_date(int64_t ms, char *out, size_t outsz);

/* LMDB's key size limit. Keys hold the index number, the field path (or a
 * digest of a long one) and the value: longer exact values are keyed by a
 * cut and a digest, their whole bytes kept beside (store_engine); text terms
 * that do not fit are not indexed. */
#define STORE_INDEX_MAX_KEY 511

/* Longest keyword value indexed, in bytes (Lucene's IndexWriter.MAX_TERM_LENGTH). */
#define STORE_INDEX_MAX_TERM 32766

/* ---- document extraction (the writer's side) ------------------------------ */

typedef enum store_ent_kind {
    STORE_ENT_POSTING, /* text term: val = term, tf, len = field length in tokens */
    STORE_ENT_VALUE,   /* exact value: val = encoded value */
    STORE_ENT_EXISTS,  /* the field has a value */
    STORE_ENT_STAT,    /* field statistics: the document counts once, len adds to sum_len */
} store_ent_kind;

/* One index entry of a document. Offsets point into store_doc_index.text;
 * paths are NUL-terminated there. */
typedef struct store_ent {
    store_ent_kind kind;
    size_t path, val, val_len;
    uint32_t tf, len;
    uint32_t pos; /* POSTING: index in store_doc_index.pos of its tf positions (ascending) */
} store_ent;

/* Everything one document puts into the search structures. */
typedef struct store_doc_index {
    buf text;
    store_ent *ents;
    size_t n, cap;
    uint32_t *pos; /* token positions of the postings (see store_ent.pos) */
    size_t npos, poscap;
    bool mapping_changed; /* fields were added to the mapping */
    /* A refused document: the exception Elasticsearch's error wraps, as its
     * `caused_by` JSON object ({"type":…,"reason":…[,"caused_by":…]}); empty
     * when it has none. */
    buf cause;
} store_doc_index;

/* Extract the index entries of document `id` with source `src`, checking
 * each value against mapping `m` and inferring fields the mapping lacks
 * (as its `dynamic` allows). On success fields found are added to `m` and
 * `out` holds the entries (sorted, no duplicates). A value that does not fit
 * its field (or a field a strict mapping forbids) fails the document: false,
 * `m` untouched, *err_type the Elasticsearch error type (static) and
 * `reason` its reason. With `lenient` nothing fails and nothing is added:
 * unmapped fields and unfit values are skipped (used to remove the entries
 * of a document written under an older mapping). The caller owns `out`
 * (store_doc_index_free) and must zero it before the first use. */
bool store_index_doc(store_mapping *m, const char *src, size_t n, const char *id, size_t id_len, bool lenient,
                     store_doc_index *out, const char **err_type, buf *reason);

/* Release (and zero) a store_doc_index; a zeroed one is a no-op. */
void store_doc_index_free(store_doc_index *d);

#endif
