/* mapping — the index mapping a mapped table implies: generated from the catalogue, merged with the config, compared with the store's. */
#ifndef VERSYNC_MAPPING_H
#define VERSYNC_MAPPING_H

#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"
#include "versync/bridge/esclient.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* What the type map needs to know about one column (catalog_columns.sql and mapping_columns.sql). */
typedef struct mapping_coltype {
    const char *render; /* cfg_column.render: "plain", "money", "array:numeric", "range:date", … */
    const char *elem;   /* element type under domains and arrays, regtype text: "integer", "uuid", "citext" */
    char typtype;       /* the element's pg_type.typtype: 'b' base, 'e' enum, 'c' composite, 'r'/'m' range */
    char typcategory;   /* the element's pg_type.typcategory: 'G' geometric, … */
    int precision;      /* numeric(p, s): p, or -1 when unconstrained */
    int scale;          /* numeric(p, s): s, or -1 */
} mapping_coltype;

/* Append to `out` the Elasticsearch 8 field mapping (one JSON object, e.g.
 * {"type":"scaled_float","scaling_factor":100}) of a column of type `ct`
 * whose special values are rendered under `rule`, so that every value the
 * renderer (render_types.h) sends is accepted. Appends nothing when the type
 * is left to the store's dynamic mapping (json, jsonb, composite and unknown
 * types). Pure; false only when `out` ran out of memory. */
bool mapping_type_json(const mapping_coltype *ct, cfg_special rule, buf *out);

/* The mapping `t` implies: {"properties": {field: type, …}} from its document
 * fields (after columns/exclude/rename) and children (objects, recursively),
 * with the config's "mappings" merged over it (mapping_merge). Reads the
 * catalogue through `conn` (t and its children must be resolved). Returns a
 * tree the caller frees with cJSON_Delete, or NULL with a message in err. */
cJSON *mapping_for_table(PGconn *conn, const cfg_table *t, char *err, size_t errsz);

/* The body of PUT /{index} that creates `t`'s index: {"settings": its
 * index_settings (when given), "mappings": mapping_for_table}. Returns a heap
 * string the caller frees, or NULL with a message in err. */
char *mapping_index_body(PGconn *conn, const cfg_table *t, char *err, size_t errsz);

/* Merge the config's mapping `over` into `gen`, the config winning field by
 * field: root keys other than "properties" replace the generated ones; a
 * field the config gives another "type" replaces the generated field whole
 * (its parameters belong to that type); otherwise the config's parameters
 * replace the generated ones one by one, "properties" and "fields" merged
 * deeply the same way. False only when memory runs out. */
bool mapping_merge(cJSON *gen, const cJSON *over);

/* Called once per difference: the field's dotted path ("price",
 * "title.keyword", "reviews.stars"), its type in the live mapping ("none"
 * when it has none yet) and the type expected. */
typedef void (*mapping_diff_fn)(void *ctx, const char *field, const char *live, const char *expected);

/* Compare every field `expected` names (recursively, sub-fields included)
 * with the live mapping `live` ({"properties": …} as GET /{index}/_mapping
 * shows under "mappings"; NULL is an empty one). A field the live mapping
 * lacks, or maps with another type (a scaled_float's scaling_factor counts as
 * part of its type), is a difference. Fields only the live mapping has are
 * fine (dynamic mapping adds them). Returns how many differences were found. */
size_t mapping_diff(const cJSON *expected, const cJSON *live, mapping_diff_fn fn, void *ctx);

/* The fields `expected` names that `live` lacks, as a PUT /{index}/_mapping
 * body ({"properties": …}), recursing into objects both map as objects:
 * adding a field is the one change Elasticsearch allows to a live mapping.
 * Fields mapped with another type and missing multi-fields are left out
 * (they need a new index). Sets *n to the number of fields in the body.
 * Returns a new cJSON the caller frees with cJSON_Delete (empty properties
 * when nothing is missing), or NULL when memory runs out. */
cJSON *mapping_missing(const cJSON *expected, const cJSON *live, size_t *n);

/* The "mappings" object of a GET /{index}/_mapping answer (the first index
 * in it: an alias names the index behind it), or NULL. Points into `answer`. */
const cJSON *mapping_of_answer(const cJSON *answer);

/* Percent-encode index name `s` onto `b` for a URL path. False when memory runs out. */
bool mapping_url_path(buf *b, const char *s);

/* What mapping_store_diff found about one index. */
enum {
    MAPPING_STORE_MISSING = -1,     /* the index does not exist (init creates it) */
    MAPPING_STORE_UNREACHABLE = -2, /* no answer, or 5xx/429: message in err */
    MAPPING_STORE_ERROR = -3,       /* any other answer (403, a body that is no mapping): message in err */
};

/* GET /{index}/_mapping from the store through `e`. Returns 0 with *answer
 * set to the whole answer (the caller frees it with cJSON_Delete; read it
 * with mapping_of_answer), or one of MAPPING_STORE_* with *answer NULL.
 * Logs nothing. */
int mapping_store_get(esc *e, const char *index, cJSON **answer, char *err, size_t errsz);

/* GET /{index}/_mapping from the store through `e` and mapping_diff `expected`
 * against it, calling fn for each difference. Returns how many there were, or
 * one of MAPPING_STORE_*. Logs nothing. */
int mapping_store_diff(esc *e, const char *index, const cJSON *expected, mapping_diff_fn fn, void *ctx, char *err,
                       size_t errsz);

#endif
