/* bridge_pg — versync's PostgreSQL connections: connect with a safe error message, run statements. */
#include "versync/bridge/pg.h"

#include "versync/common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpq messages end with a newline and may span lines; keep them on one. */
static void one_line(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (char *p = s; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

/* Server notices ("relation … already exists, skipping") are noise for a
 * command's user; keep them for --log-level debug. */
static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    char line[1024];
    snprintf(line, sizeof line, "%s", message);
    one_line(line);
    log_debug("postgres: %s", line);
}

/* The one connect: `kind` says how the session is named and whether it
 * replicates (see pg.h). */
typedef enum pg_kind { PG_PLAIN, PG_NAMED, PG_REPLICATION } pg_kind;

static PGconn *connect_as(pg_kind kind, const char *conninfo, const char *appname, char *err, size_t errsz)
{
    /* Our defaults first: what the conninfo says (expanded from dbname) wins
     * over the keys before dbname; the keys after it are fixed. */
    const char *timeout = getenv("PGCONNECT_TIMEOUT") ? "" : "10"; /* "": libpq reads the variable */
    const char *name = appname ? appname : "versync";
    const char *info = conninfo ? conninfo : "";
    const char *pk[][5] = {
        [PG_PLAIN] = {"connect_timeout", "fallback_application_name", "dbname", NULL, NULL},
        [PG_NAMED] = {"connect_timeout", "application_name", "dbname", NULL, NULL},
        [PG_REPLICATION] = {"connect_timeout", "dbname", "replication", "application_name", NULL},
    };
    const char *pv[][5] = {
        [PG_PLAIN] = {timeout, name, info, NULL, NULL},
        [PG_NAMED] = {timeout, name, info, NULL, NULL},
        [PG_REPLICATION] = {timeout, info, "database", name, NULL},
    };
    PGconn *conn = PQconnectdbParams(pk[kind], pv[kind], 1);
    if (conn && PQstatus(conn) == CONNECTION_OK) {
        PQsetNoticeProcessor(conn, notice_to_log, NULL);
        return conn;
    }
    char safe[512], msg[768];
    log_redact(conninfo && *conninfo ? conninfo : "(libpq environment defaults)", safe, sizeof safe);
    snprintf(msg, sizeof msg, "%s", conn ? PQerrorMessage(conn) : "out of memory");
    one_line(msg);
    snprintf(err, errsz, "cannot connect to PostgreSQL (%s): %s", safe, msg);
    PQfinish(conn);
    return NULL;
}

PGconn *pg_connect(const char *conninfo, const char *appname, char *err, size_t errsz)
{
    return connect_as(PG_PLAIN, conninfo, appname, err, errsz);
}

PGconn *pg_connect_named(const char *conninfo, const char *appname, char *err, size_t errsz)
{
    return connect_as(PG_NAMED, conninfo, appname, err, errsz);
}

PGconn *pg_connect_replication(const char *conninfo, const char *appname, char *err, size_t errsz)
{
    return connect_as(PG_REPLICATION, conninfo, appname, err, errsz);
}

PGresult *pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err, size_t errsz)
{
    PGresult *r = nparams > 0 ? PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(conn, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    char msg[1024];
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *hint = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_HINT) : NULL;
    if (primary)
        snprintf(msg, sizeof msg, "%s%s%s%s", primary, detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
    else
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(conn));
    one_line(msg);
    if (hint)
        snprintf(err, errsz, "%s; hint: %s", msg, hint);
    else
        snprintf(err, errsz, "%s", msg);
    PQclear(r);
    return NULL;
}

bool pg_run(PGconn *conn, const char *sql, int nparams, const char *const *params, char *err, size_t errsz)
{
    PGresult *r = pg_exec(conn, sql, nparams, params, err, errsz);
    PQclear(r);
    return r != NULL;
}

/* PQescapeIdentifier or PQescapeLiteral of `s` (libpq memory: PQfreemem),
 * or NULL with err set. */
static char *escape(PGconn *conn, const char *s, bool ident, char *err, size_t errsz)
{
    char *q = conn ? (ident ? PQescapeIdentifier : PQescapeLiteral)(conn, s, strlen(s)) : NULL;
    if (!q) {
        snprintf(err, errsz, "cannot quote %s \"%s\": %s", ident ? "identifier" : "literal", s,
                 conn ? PQerrorMessage(conn) : "no connection");
        one_line(err);
    }
    return q;
}

static char *quote_dup(PGconn *conn, const char *s, bool ident, char *err, size_t errsz)
{
    char *q = escape(conn, s, ident, err, errsz);
    if (!q)
        return NULL;
    char *out = strdup(q);
    PQfreemem(q);
    if (!out)
        snprintf(err, errsz, "out of memory");
    return out;
}

static bool quote_put(PGconn *conn, buf *out, const char *s, bool ident, char *err, size_t errsz)
{
    char *q = escape(conn, s, ident, err, errsz);
    if (!q)
        return false;
    bool ok = buf_puts(out, q);
    PQfreemem(q);
    if (!ok)
        snprintf(err, errsz, "out of memory rendering SQL");
    return ok;
}

char *pg_quote_ident(PGconn *conn, const char *name, char *err, size_t errsz)
{
    return quote_dup(conn, name, true, err, errsz);
}

char *pg_quote_literal(PGconn *conn, const char *value, char *err, size_t errsz)
{
    return quote_dup(conn, value, false, err, errsz);
}

bool pg_put_ident(PGconn *conn, buf *out, const char *name, char *err, size_t errsz)
{
    return quote_put(conn, out, name, true, err, errsz);
}

bool pg_put_literal(PGconn *conn, buf *out, const char *value, char *err, size_t errsz)
{
    return quote_put(conn, out, value, false, err, errsz);
}
