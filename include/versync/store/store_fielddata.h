/* store_fielddata — per-search columns of exact-value fields (document → value ordinals), so that aggregations under a bucket cost the bucket's documents rather than a scan of the whole field. */
#ifndef VERSYNC_STORE_FIELDDATA_H
#define VERSYNC_STORE_FIELDDATA_H

#include "versync/store/store_engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The columns one search has built, by index and field. */
typedef struct store_fielddata store_fielddata;

/* One field of one index, as of the search's snapshot: every document's
 * values as ordinals into `keys`, which are in value order. */
typedef struct store_column store_column;

/* An empty cache. Caller owns it (store_fielddata_free); NULL out of memory. */
store_fielddata *store_fielddata_new(void);

/* Free every column and give their memory back to the breaker; NULL is a no-op. */
void store_fielddata_free(store_fielddata *fd);

/* The column of exact-value field `path` of index `m`, built on first use
 * with one scan of the field's values (owned by `fd`). Its memory is held
 * in the memory breaker as "<fielddata>". Returns 1 with *out; 0 when the
 * budget cannot take it (Elasticsearch's reason in `reason`) or out of
 * memory (reason "out of memory"); -1 on an engine error. */
int store_fielddata_get(store_fielddata *fd, store_rtxn *r, const store_index_meta *m, const char *path,
                        const store_column **out, char *reason, size_t reasonsz);

/* Visit the distinct values held by the documents whose seq bit is set in
 * `bits` (seqs 0 … next-1), in value order, with how many of those
 * documents hold each. Cost: the bitmap plus those documents' values.
 * `fn` returns false to stop. False when out of memory. */
bool store_column_count(const store_column *c, const unsigned char *bits, int64_t next,
                        bool (*fn)(const void *val, size_t len, int64_t count, void *arg), void *arg);

/* Visit (value, seq) for each value of each document whose bit is set, in
 * seq order. `fn` returns false to stop. */
void store_column_each(const store_column *c, const unsigned char *bits, int64_t next,
                       bool (*fn)(const void *val, size_t len, int64_t seq, void *arg), void *arg);

#endif
