/* backfill_copy — one table's backfill (versync backfill): copy its rows into the store, prune orphans. */
#ifndef VERSYNC_BACKFILL_COPY_H
#define VERSYNC_BACKFILL_COPY_H

#include "versync/bridge/backfill.h"

typedef struct bf_opts {
    bool prune, resume;
    bool dry_run;      /* read and count, write nothing (neither the store nor the progress rows) */
    bool json;         /* one JSON object on stdout instead of a line per table */
    const char *index; /* --index, or NULL */
    int batch;
    long give_up_ms;
    int max_item_retries; /* store.max_item_retries */
    size_t max_bytes; /* store.max_bulk_bytes: one _bulk body at most this big */
} bf_opts;

typedef struct bf_counts {
    long long rows, applied, same, stale, regressed, errors, deleted, prune_stale;
    long long would_write, would_delete; /* --dry-run */
    double seconds;
    int store_status; /* a failure of the store: 0 none, -1 no answer, else the HTTP status that stopped it */
} bf_counts;

/* Copy every row of `t` into `index`, page by page (--dry-run: only count them), adding to `c`.
 * Returns 0, 1 (documents refused, or stopped) or -1 with err set (the caller logs it, once). */
int backfill_copy_table(PGconn *conn, esc *store, const char *schema_q, const cfg_table *t, const char *index,
                        const bf_opts *o, bf_counts *c, char *err, size_t errsz);

/* Delete the documents of `index` whose rows no longer exist (--dry-run: only count them), adding
 * to `c`. Returns 0, 1 or -1 as backfill_copy_table. */
int backfill_prune_table(PGconn *conn, esc *store, const char *schema_q, const cfg_table *t, const char *index,
                         const bf_opts *o, bf_counts *c, char *err, size_t errsz);

#endif
