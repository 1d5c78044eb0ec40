/* stats — housekeeping of <schema>.worker_stats: the rows of processes gone for a while. */
#ifndef VERSYNC_STATS_H
#define VERSYNC_STATS_H

#include "versync/bridge/cfg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Delete the worker_stats rows not updated for c->worker_stats_expire_s seconds, on `conn`.
 * Returns the number deleted (0 when versync's tables are not there yet), or -1 with err set. */
long long stats_prune(PGconn *conn, const cfg *c, char *err, size_t errsz);

/* stats_prune for run and once at start, on their start-up connection: what went is logged
 * at info level, a failure at debug level only (the workers report the database's state). */
void stats_prune_logged(PGconn *conn, const cfg *c);

#endif
