/* park — one worker's parked tables: a table whose rows cannot be re-read (a renamed or dropped column, a
 * dropped table, a revoked grant) stops alone while the others keep flowing. */
#ifndef VERSYNC_PARK_H
#define VERSYNC_PARK_H

#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* One worker's registry, for the tables of one config. */
typedef struct park park;

/* A registry for `c`'s tables; the caller owns it (park_free). NULL when out of memory. */
park *park_new(const cfg *c);

/* NULL is a no-op. */
void park_free(park *p);

/* Does an error of this SQLSTATE in a table's re-read speak of that table
 * alone (its definition or its grants: class 42, a cached plan whose result
 * changed, a missing schema), so that parking it, not retrying everything,
 * is the cure? NULL: no. */
bool park_sqlstate_parks(const char *sqlstate);

/* Park table `tidx`: its changes stay in the change table, unclaimed, until a
 * probe re-reads it again. Logs the error once per parking (later failures of
 * the same parking at debug level), records it in `schema_q`.parked (best
 * effort: an older schema without that table only loses the record) and in
 * the metrics for /health. `conn` must be outside a transaction. */
void park_table(park *p, PGconn *conn, const char *schema_q, const char *worker_name, size_t tidx,
                const char *sqlstate, const char *err);

/* Is table `tidx` parked? */
bool park_is_parked(const park *p, size_t tidx);

/* How many tables are parked now. */
size_t park_count(const park *p);

/* The next parked table whose probe is due now, from index `from` on, or
 * SIZE_MAX when none is. */
size_t park_next_due(const park *p, size_t from);

/* Table `tidx` could be re-read again: unpark it, log how long it was
 * parked, clear the record and the metric. `conn` outside a transaction. */
void park_resume(park *p, PGconn *conn, const char *schema_q, size_t tidx);

/* A batch re-read table `tidx` and committed: drop a parking record a
 * previous worker may have left (once per table and worker life). */
void park_confirm(park *p, PGconn *conn, const char *schema_q, size_t tidx);

/* Reset `out` to the text-array literal of the parked tables' names, the
 * claim's exclusion list. False when out of memory. */
bool park_exclusion(const park *p, buf *out);

#endif
