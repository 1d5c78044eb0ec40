/* store_json — allocation-free JSON scanning, exact integers and small helpers for verstore. */
#ifndef VERSYNC_STORE_JSON_H
#define VERSYNC_STORE_JSON_H

#include "versync/common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting accepted in a document (Jackson's default limit in ES 8). */
#define STORE_JSON_MAX_DEPTH 1000

typedef enum store_json_type {
    STORE_JSON_STRING,
    STORE_JSON_NUMBER,
    STORE_JSON_TRUE,
    STORE_JSON_FALSE,
    STORE_JSON_NULL,
    STORE_JSON_OBJECT,
    STORE_JSON_ARRAY,
} store_json_type;

/* A token points into the caller's text. For strings `p`/`n` cover the bytes
 * between the quotes, escapes not yet decoded (`escaped` says whether there
 * are any); for other values they cover the whole value text. */
typedef struct store_json_tok {
    store_json_type type;
    const char *p;
    size_t n;
    bool escaped;
} store_json_tok;

/* Skip JSON whitespace; returns the first other byte (or `end`). */
const char *store_json_ws(const char *p, const char *end);

/* Scan one complete JSON value at `p` (no leading whitespace skipped) and
 * return the byte after it, or NULL when it is not valid JSON (bad syntax,
 * invalid UTF-8, control characters in strings, nesting over the limit).
 * When `tok` is given it describes the value. */
const char *store_json_scan(const char *p, const char *end, store_json_tok *tok);

/* True when [s, s+n) is exactly one JSON object, surrounded only by whitespace. */
bool store_json_is_object(const char *s, size_t n);

/* True when [s, s+n) is exactly one JSON value of any kind. */
bool store_json_is_valid(const char *s, size_t n);

/* Iterate the members of an object without allocating. */
typedef struct store_json_iter {
    const char *p, *end;
    bool first;
} store_json_iter;

/* Start at `s`, which must point at (whitespace then) '{'. False otherwise. */
bool store_json_obj_begin(store_json_iter *it, const char *s, const char *end);

/* Next member: 1 with key/value filled, 0 at the closing '}', -1 on a syntax
 * error. After 0, it->p points just past the '}'. */
int store_json_obj_next(store_json_iter *it, store_json_tok *key, store_json_tok *val);

/* True when string token `t` equals the C string `s` (decoding escapes). */
bool store_json_tok_eq(const store_json_tok *t, const char *s);

/* Append the decoded text of string token `t` to `out`. False on a bad
 * escape or out of memory. */
bool store_json_unescape(const store_json_tok *t, buf *out);

/* Parse a Java long exactly as Long.parseLong does: optional sign, decimal
 * digits only, within [-2^63, 2^63-1]. */
bool store_json_parse_long(const char *s, size_t n, int64_t *out);

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
