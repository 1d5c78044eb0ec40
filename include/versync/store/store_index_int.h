/* store_index_int — what store_index.c, store_index_enc.c and store_index_doc.c share; not an API for the
 * rest of verstore. */
#ifndef VERSYNC_STORE_INDEX_INT_H
#define VERSYNC_STORE_INDEX_INT_H

#include "versync/store/store_analysis.h"
#include "versync/store/store_index.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest dotted field path handled (mapping or document). */
#define STORE_INDEX_PATH_MAX 1023

/* prefix + "." + name into out[STORE_INDEX_PATH_MAX + 1]; false when too long. */
bool store_index_path_join(char *out, const char *prefix, const char *name, size_t name_len);

/* The analyzer for field `f`: see store_index_analyze. Owned by m's registry
 * (built on first use); NULL when the registry cannot be built. */
analysis_analyzer *store_index_field_analyzer(store_mapping *m, const store_field *f, bool search, bool quote);

/* yyyy[-MM[-dd['T'HH[:mm[:ss[.f…]]][Z|±HH[:]mm]]]]; `full_date` demands the day. */
bool store_index_parse_iso(const char *s, size_t n, bool full_date, int64_t *ms);

#endif
