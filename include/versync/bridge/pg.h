/* pg — versync's PostgreSQL connections: connect with a safe error message, run statements. */
#ifndef VERSYNC_PG_H
#define VERSYNC_PG_H

#include "versync/common/buf.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The one way versync connects. Connect with `conninfo` (key=value or a postgres:// URI; "" uses
 * libpq's environment defaults). `appname` becomes application_name unless
 * the conninfo sets one, and connect_timeout is 10 s unless it (or
 * PGCONNECT_TIMEOUT) sets one. Returns the connection (the caller owns it and closes it
 * with PQfinish) or NULL with a message in err that names the server with
 * every password redacted. Logs nothing itself; the connection's server
 * notices go to the log at debug level. */
PGconn *pg_connect(const char *conninfo, const char *appname, char *err, size_t errsz);

/* pg_connect for a session found by its name in pg_stat_activity (a
 * worker): `appname` is application_name even when PGAPPNAME is set; only
 * the conninfo's own application_name overrides it. */
PGconn *pg_connect_named(const char *conninfo, const char *appname, char *err, size_t errsz);

/* pg_connect for logical replication (replication=database, whatever the
 * conninfo says), named `appname` whatever the conninfo says. */
PGconn *pg_connect_replication(const char *conninfo, const char *appname, char *err, size_t errsz);

/* Run `sql` with `nparams` text parameters (NULL items are SQL NULLs).
 * Returns the result when its status is PGRES_COMMAND_OK or PGRES_TUPLES_OK
 * (the caller frees it with PQclear); otherwise NULL with the server's message
 * (and its detail/hint) in err. Logs nothing. */
PGresult *pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err, size_t errsz);

/* As pg_exec for statements whose result is not needed. */
bool pg_run(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err, size_t errsz);

/* The one quoting of SQL identifiers and literals (PQescapeIdentifier,
 * PQescapeLiteral with the connection's encoding): for SQL built at run time
 * from names that are not in the sql files; values go as parameters instead. */

/* PQescapeIdentifier of `name` as a heap string the caller frees with free(),
 * or NULL (with err set, naming `name`) on failure. */
char *pg_quote_ident(PGconn *conn, const char *name, char *err, size_t errsz);

/* PQescapeLiteral of `value`, as a heap string the caller frees with free(). */
char *pg_quote_literal(PGconn *conn, const char *value, char *err, size_t errsz);

/* The same, appended to `out`. False with err set (conn NULL, bad
 * encoding, out of memory). */
bool pg_put_ident(PGconn *conn, buf *out, const char *name, char *err, size_t errsz);
bool pg_put_literal(PGconn *conn, buf *out, const char *value, char *err, size_t errsz);

#endif
