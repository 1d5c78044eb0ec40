/* where — the "where" row filter of a mapped table: how the re-read renders it, and its check against the catalog. */
#ifndef VERSYNC_WHERE_H
#define VERSYNC_WHERE_H

#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Append to `out` a boolean SQL expression, true when the row of `t` read
 * under `alias` is outside t->where (the filter is false or NULL): the
 * re-read ORs it into the deleted flag (RENDER_COL_DELETED), so a row outside
 * the filter is written as a versioned delete, exactly like a soft-deleted
 * row. `t` must have a where. False with a message in err when memory runs
 * out. */
bool where_put_outside(const cfg_table *t, const char *alias, buf *out, char *err, size_t errsz);

/* Prove that t->where (set) is one boolean expression over the columns of
 * `t` that PostgreSQL accepts as a partial index predicate (no subquery, only
 * IMMUTABLE functions): the filter must be a function of the row alone, or a
 * change elsewhere (or time passing) would move rows in or out of it with no
 * change row to say so. Writes nothing to the database (the probe runs in a
 * transaction, or a savepoint, that is rolled back). False with a message in
 * err that names t, the field and PostgreSQL's own error
 * ("tables[0].where: PostgreSQL refuses the filter on public.docs: …"). */
bool where_check(PGconn *conn, const cfg_table *t, char *err, size_t errsz);

#endif
