/* setup — checks of a capture setup that would lose data without a word: risky version sources and tables
 * `init` has not set up. */
#ifndef VERSYNC_SETUP_H
#define VERSYNC_SETUP_H

#include "versync/bridge/cfg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Receives one finding, a complete sentence without a trailing newline. */
typedef void (*setup_report_fn)(void *ctx, const char *msg);

/* The version-source risks of table `t` (resolved by catalog_resolve), each
 * reported once through `report`:
 *  - an unmanaged timestamp version whose default, or the source of a
 *    BEFORE UPDATE trigger, stamps it with the transaction's start time
 *    (now(), CURRENT_TIMESTAMP, transaction_timestamp(), statement_timestamp(),
 *    LOCALTIMESTAMP): a transaction that commits later can carry the older
 *    stamp, and its write is then refused as stale;
 *  - an unmanaged version (column or timestamp) that nothing in the database
 *    bumps: no BEFORE UPDATE row trigger of the application's mentions the
 *    column, so every UPDATE of the application must set it.
 * Returns the number of findings, or -1 with err set on a database error. */
int setup_version_risks(const cfg *c, const cfg_table *t, PGconn *conn, setup_report_fn report, void *ctx,
                        char *err, size_t errsz);

/* The trigger-captured tables of `c` that `versync init` has not set up (no
 * capture trigger of c's schema on them), each reported once through
 * `report`. Returns how many, or -1 with err set on a database error. */
int setup_uninitialized(const cfg *c, PGconn *conn, setup_report_fn report, void *ctx, char *err,
                        size_t errsz);

/* How many rows table `t` holds: counted exactly up to `limit`; beyond
 * that *estimated is set and *rows is the planner's estimate (at least
 * limit + 1). Returns false with err set on a database error. */
bool setup_existing_rows(PGconn *conn, const cfg_table *t, long long limit, long long *rows, bool *estimated,
                         char *err, size_t errsz);

/* For `run` and `once`: connect with c's conninfo and log a warning for each
 * table `init` has not set up, and prune the worker_stats of processes gone
 * (stats.h). Best effort: an unreachable database is left to the workers,
 * which retry it. */
void setup_warn_uninitialized(const cfg *c);

#endif
