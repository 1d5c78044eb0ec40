/* partition — capture of partitioned tables: the statement triggers on their partitions, moves between partitions, what check reports. */
#ifndef VERSYNC_PARTITION_H
#define VERSYNC_PARTITION_H

#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"
#include "versync/bridge/setup.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Our statement triggers on partitions are named with this prefix (plus the
 * schema suffix of init_trigger_name), so init tells them from the parent's. */
#define PARTITION_TRIGGER_PREFIX "versync_part_"

/* The SELECT capture() runs with a deleted row as $1 to learn whether a row
 * with its key still exists in partitioned table `t` (sql/capture.sql,
 * argument 10). Caller frees; NULL with err set on failure. */
char *partition_moved_query(PGconn *conn, const cfg_table *t, char *err, size_t errsz);

/* Plan the statement triggers (wake-up and TRUNCATE) of every partition of
 * partitioned table `t`: PostgreSQL clones row triggers onto partitions but not
 * statement triggers, and fires a statement's triggers only on the table it
 * names. Those missing are created; all are recreated when `recreate` (the
 * parent's triggers changed). Appends the SQL to `sql` and one line to `what`
 * (left "" when nothing is to do). False with err set on failure. */
bool partition_plan(PGconn *conn, const cfg *c, const cfg_table *t, const char *schema_q, bool recreate, buf *sql,
                    char *what, size_t whatsz, char *err, size_t errsz);

/* Plan dropping our partition triggers on tables no longer under a partitioned
 * table the config captures with triggers (a detached partition, or a parent
 * that left the config or changed its capture). Same conventions. */
bool partition_plan_orphans(PGconn *conn, const cfg *c, const char *schema_q, buf *sql, char *what, size_t whatsz,
                            char *err, size_t errsz);

/* For check: each captured partitioned table whose partitions lack our
 * statement triggers (created after init), and each whose key PostgreSQL does
 * not enforce across partitions, reported once through `report`. Returns the
 * number of findings, or -1 with err set on a database error. */
int partition_check(const cfg *c, PGconn *conn, setup_report_fn report, void *ctx, char *err, size_t errsz);

#endif
