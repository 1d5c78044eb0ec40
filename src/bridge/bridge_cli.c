/* bridge_cli — what every versync command shares: the exit-status scheme and opening config and database. */
#include "versync/bridge/catalog.h"
#include "versync/bridge/cfg.h"
#include "versync/bridge/cli.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/target.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_json(bool json_flag)
{
    return json_flag || log_get_format() == LOG_FORMAT_JSON;
}

void cli_print(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (log_get_format() != LOG_FORMAT_JSON) {
        vprintf(fmt, ap);
        va_end(ap);
        return;
    }
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        if ((nl = strchr(line, '\n')))
            *nl = '\0';
        if (*line)
            log_info("%s", line);
    }
    free(text);
}

int cli_load(const cli_globals *g, cfg *c)
{
    char err[1024];
    if (!cfg_load(cfg_default_path(g->config_path), c, err, sizeof err)) {
        log_error("%s", err);
        return CLI_EXIT_CONFIG;
    }
    return CLI_EXIT_OK;
}

/* libpq says why a connection failed only in prose. These are the failures a
 * retry cannot fix (the server answered and refused, or the conninfo is
 * malformed); anything else (refused, timed out, no route) is "unreachable".
 * An unknown message counts as unreachable, so a monitor retries rather than
 * a human being paged for an outage. */
bool cli_pg_refused(const char *msg)
{
    static const char *const refusals[] = {
        "authentication failed", "no password supplied", "does not exist", "permission denied",
        "not permitted",         "invalid connection option", "missing \"=\"", "invalid URI",
        "invalid sslmode",       "pg_hba.conf",          NULL,
    };
    for (size_t i = 0; refusals[i]; i++)
        if (strstr(msg, refusals[i]))
            return true;
    return false;
}

int cli_connect(const cfg *c, const char *appname, PGconn **conn)
{
    char err[768];
    if (!(*conn = pg_connect(c->postgres, appname, err, sizeof err))) {
        log_error("%s: postgres: %s", c->path, err);
        return cli_pg_refused(err) ? CLI_EXIT_CONFIG : CLI_EXIT_UNREACHABLE;
    }
    return CLI_EXIT_OK;
}

int cli_open(const cli_globals *g, const char *appname, cfg *c, PGconn **conn)
{
    char err[1024];
    *conn = NULL;
    int rc = cli_load(g, c);
    if (rc != CLI_EXIT_OK)
        return rc; /* cfg_load left nothing to free */
    rc = cli_connect(c, appname, conn);
    if (rc == CLI_EXIT_OK && !catalog_resolve(c, *conn, err, sizeof err)) {
        log_error("%s", err);
        rc = cli_pg_exit(*conn);
    }
    if (rc != CLI_EXIT_OK) {
        PQfinish(*conn);
        *conn = NULL;
        cfg_free(c);
    }
    return rc;
}

int cli_pg_exit(const PGconn *conn)
{
    return !conn || PQstatus(conn) != CONNECTION_OK ? CLI_EXIT_UNREACHABLE : CLI_EXIT_CONFIG;
}

int cli_target_exit(int r)
{
    return r == TARGET_OK ? CLI_EXIT_OK : r == TARGET_UNREACHABLE ? CLI_EXIT_UNREACHABLE : CLI_EXIT_CONFIG;
}

int cli_exit_worst(int a, int b)
{
    static const int rank[] = {0, 1, 3, 2}; /* by exit status: ok, drift, config, unreachable */
    int ra = a >= 0 && a <= 3 ? rank[a] : 3, rb = b >= 0 && b <= 3 ? rank[b] : 3;
    return ra >= rb ? a : b;
}
