/* render_types — the SQL that turns a column's value into the JSON a search user expects. */
#ifndef VERSYNC_RENDER_TYPES_H
#define VERSYNC_RENDER_TYPES_H

#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"

#include <stdbool.h>

/* True when jsonb's own form of a value of render class `cls` (cfg_column.render,
 * from catalog_columns.sql) is already what the document shows under `rule`:
 * text, integers, booleans, uuid, json…, and under CFG_SPECIAL_STRING numbers
 * and timestamps too. False for money, bytea, intervals, ranges and the rest. */
bool render_types_plain(const char *cls, cfg_special rule);

/* Append to `out` an SQL expression of the JSON-ready value of `value` (an SQL
 * expression, e.g. vs_r."price") of render class `cls` under `rule`:
 *   money        its numeric value (a JSON number, never "$12.34")
 *   bytea        base64 without line breaks (Elasticsearch's binary)
 *   interval     ISO 8601 ("P1Y2M3DT4H5M6.5S")
 *   range:S      {"gte"|"gt": lower, "lte"|"lt": upper} (Elasticsearch's range types)
 *   multirange:S, array:C   a JSON array of the elements, each rendered as its class
 *   numeric, float4, float8, timestamp, timestamptz, date   NaN/±Infinity/±infinity by `rule`
 * Anything else is `value` itself. The templates are sql/render_*.sql. False
 * with a message in err when memory runs out or a template is missing. */
bool render_types_expr(const char *cls, cfg_special rule, const char *value, buf *out, char *err,
                       size_t errsz);

#endif
