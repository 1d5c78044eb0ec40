/* store_srcfilter — Elasticsearch's _source filtering (_source=false, includes/excludes with * patterns) for GET, _mget and _search. */
#ifndef VERSYNC_STORE_SRCFILTER_H
#define VERSYNC_STORE_SRCFILTER_H

#include "versync/common/buf.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct store_srcfilter {
    bool none; /* _source=false */
    char **inc;
    size_t ninc;
    char **exc;
    size_t nexc;
} store_srcfilter;

/* From the URL parameters _source, _source_includes and _source_excludes
 * (each NULL when absent). Starts from an empty filter. */
void store_srcfilter_from_params(store_srcfilter *f, const char *source, const char *includes, const char *excludes);

/* From a request body's _source: false, "a,b", ["a","b"] or
 * {"includes":…,"excludes":…}; added to what `f` holds. */
void store_srcfilter_from_json(const cJSON *s, store_srcfilter *f);

/* Append the source `src` (n bytes), filtered when `f` has patterns. */
void store_srcfilter_put(buf *b, const char *src, size_t n, const store_srcfilter *f);

/* Release the filter's lists; the filter is left empty. */
void store_srcfilter_free(store_srcfilter *f);

#endif
