/* pg — versync's PostgreSQL connections: connect with a safe error message, run statements. */
#ifndef VERSYNC_PG_H
#define VERSYNC_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Connect with `conninfo` (key=value or a postgres:// URI; "" uses libpq's
 * environment defaults). `appname` becomes application_name unless the
 * conninfo sets one. Returns the connection (the caller owns it and closes it
 * with PQfinish) or NULL with a message in err that names the server with
 * every password redacted. Logs nothing itself; the connection's server
 * notices go to the log at debug level. */
PGconn *pg_connect(const char *conninfo, const char *appname, char *err, size_t errsz);

/* Run `sql` with `nparams` text parameters (NULL items are SQL NULLs).
 * Returns the result when its status is PGRES_COMMAND_OK or PGRES_TUPLES_OK
 * (the caller frees it with PQclear); otherwise NULL with the server's message
 * (and its detail/hint) in err. Logs nothing. */
PGresult *pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err, size_t errsz);

/* As pg_exec for statements whose result is not needed. */
bool pg_run(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err, size_t errsz);

/* PQescapeIdentifier of `name` as a heap string the caller frees with free(),
 * or NULL (with err set) on failure. */
char *pg_quote_ident(PGconn *conn, const char *name, char *err, size_t errsz);

/* PQescapeLiteral of `value`, as a heap string the caller frees with free(). */
char *pg_quote_literal(PGconn *conn, const char *value, char *err, size_t errsz);

#endif
