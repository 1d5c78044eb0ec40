/* store_json — verstore's JSON helpers beyond scanning (common/json.h): Java's number printing,
 * ?pretty, ?filter_path and the \u0000 guard for cJSON. */
#ifndef VERSYNC_STORE_JSON_H
#define VERSYNC_STORE_JSON_H

#include "versync/common/buf.h"
#include "versync/common/json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* cJSON stops a string at a NUL, so "victim\u0000x" would read as "victim".
 * Bodies parsed with cJSON first get every \u0000 escape inside a string
 * rewritten to U+10FFFF (a noncharacter): a name holding it is then refused
 * or found nowhere, never taken for a shorter one. This is its UTF-8. */
#define STORE_JSON_NUL_MARK "\xF4\x8F\xBF\xBF"

/* When the JSON text [s, s+n) holds a \u0000 escape inside a string, set
 * *found and write a copy with each one replaced by \uDBFF\uDFFF (U+10FFFF)
 * to `out`; otherwise leave `out` alone. False only out of memory. */
bool store_json_mark_nul(const char *s, size_t n, buf *out, bool *found);

/* Append "key": to `b`, `key` being a plain ASCII literal. */
bool store_json_key(buf *b, const char *key);

/* Append a double / a float as Java prints it in Elasticsearch's answers:
 * the shortest form that reads back to the same value, with ".0" on whole
 * numbers; null when not finite. */
void store_json_put_double(buf *b, double d);
void store_json_put_float(buf *b, float f);

/* Re-indent compact JSON `in` the way Elasticsearch's ?pretty does (two
 * spaces, " : " separators) into `out`. Strings are copied untouched. */
bool store_json_pretty(const char *in, size_t n, buf *out);

/* Apply Elasticsearch's ?filter_path to the JSON document `in`: a comma
 * list of dotted paths where `*` matches within one name and `**` any number
 * of levels; array indices are transparent. Matched values are copied
 * verbatim (numbers keep every digit); objects and arrays left empty are
 * dropped, and an empty result is `{}`. Exclusions (`-path`) are not
 * supported: such a filter leaves the document as it is. False only out of
 * memory or when `in` is not JSON. */
bool store_json_filter(const char *in, size_t n, const char *filter_path, buf *out);

#endif
