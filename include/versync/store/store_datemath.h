/* store_datemath — Elasticsearch's date-math index names (`<logs-{now/d}>`, `<logs-{now/M{yyyy.MM|+01:00}}>`), resolved as its DateMathExpressionResolver does. */
#ifndef VERSYNC_STORE_DATEMATH_H
#define VERSYNC_STORE_DATEMATH_H

#include "versync/common/buf.h"

#include <stdbool.h>
#include <stdint.h>

/* Resolve one index name: a name not of the form `<…>` is left as it is
 * (returns 1, `out` untouched, *resolved false); `<static{now±N<unit>/<unit>{format|zone}}static>`
 * is appended to `out` resolved at `now_ms` (the request's start; the default
 * format `uuuu.MM.dd`, zone UTC; `\` escapes `{` and `}`). Returns 1 on
 * success, 0 on a bad expression with Elasticsearch's exception type (static
 * string: "parse_exception" or "illegal_argument_exception") in *type and its
 * reason in `err`, -1 out of memory. */
int store_datemath_resolve(const char *name, int64_t now_ms, buf *out, bool *resolved, const char **type, char *err,
                           size_t errsz);

/* The same over a comma list (each element resolved alone, as
 * IndexNameExpressionResolver does): *out is NULL when nothing in `list` was
 * date math, else a heap copy with every element resolved (caller frees). */
int store_datemath_resolve_list(const char *list, int64_t now_ms, char **out, const char **type, char *err,
                                size_t errsz);

#endif
