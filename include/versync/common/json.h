/* json — allocation-free JSON scanning and exact integers, for both programs (verstore's request
 * bodies, versync's _bulk answers). */
#ifndef VERSYNC_JSON_H
#define VERSYNC_JSON_H

#include "versync/common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest nesting accepted in a document (Jackson's default limit in ES 8). */
#define JSON_MAX_DEPTH 1000

typedef enum json_type {
    JSON_STRING,
    JSON_NUMBER,
    JSON_TRUE,
    JSON_FALSE,
    JSON_NULL,
    JSON_OBJECT,
    JSON_ARRAY,
} json_type;

/* A token points into the caller's text. For strings `p`/`n` cover the bytes
 * between the quotes, escapes not yet decoded (`escaped` says whether there
 * are any); for other values they cover the whole value text. */
typedef struct json_tok {
    json_type type;
    const char *p;
    size_t n;
    bool escaped;
} json_tok;

/* Skip JSON whitespace; returns the first other byte (or `end`). */
const char *json_ws(const char *p, const char *end);

/* Scan one complete JSON value at `p` (no leading whitespace skipped) and
 * return the byte after it, or NULL when it is not valid JSON (bad syntax,
 * invalid UTF-8, control characters in strings, nesting over the limit).
 * When `tok` is given it describes the value. */
const char *json_scan(const char *p, const char *end, json_tok *tok);

/* True when [s, s+n) is exactly one JSON object, surrounded only by whitespace. */
bool json_is_object(const char *s, size_t n);

/* True when [s, s+n) is exactly one JSON value of any kind. */
bool json_is_valid(const char *s, size_t n);

/* Iterate the members of an object without allocating. */
typedef struct json_iter {
    const char *p, *end;
    bool first;
} json_iter;

/* Start at `s`, which must point at (whitespace then) '{'. False otherwise. */
bool json_obj_begin(json_iter *it, const char *s, const char *end);

/* Next member: 1 with key/value filled, 0 at the closing '}', -1 on a syntax
 * error. After 0, it->p points just past the '}'. */
int json_obj_next(json_iter *it, json_tok *key, json_tok *val);

/* Iterate the elements of an array the same way: begin at (whitespace then)
 * '[', next gives 1 with the element in `val`, 0 at the closing ']' (it->p
 * then points past it), -1 on a syntax error. */
bool json_arr_begin(json_iter *it, const char *s, const char *end);
int json_arr_next(json_iter *it, json_tok *val);

/* The same steps without reading the value: json_obj_key gives the next
 * member's key and points *at at its value, json_arr_at points *at at the
 * next element (1; 0 at the end; -1 on a syntax error). The caller reads the
 * value from *at itself (json_scan, or an iterator of its own, which checks
 * what it reads) and must then set it->p to the byte after it before the
 * next step. Reading nested values this way scans each byte once. */
int json_obj_key(json_iter *it, json_tok *key, const char **at);
int json_arr_at(json_iter *it, const char **at);

/* True when string token `t` equals the C string `s` (decoding escapes). */
bool json_tok_eq(const json_tok *t, const char *s);

/* Append the decoded text of string token `t` to `out`. False on a bad
 * escape or out of memory. */
bool json_unescape(const json_tok *t, buf *out);

/* Parse a Java long exactly as Long.parseLong does: optional sign, decimal
 * digits only, within [-2^63, 2^63-1]. */
bool json_parse_long(const char *s, size_t n, int64_t *out);

#endif
