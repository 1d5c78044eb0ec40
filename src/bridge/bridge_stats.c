/* bridge_stats — housekeeping of <schema>.worker_stats: the rows of processes gone for a while. */
#include "versync/bridge/stats.h"

#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/sql_embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long long stats_prune(PGconn *conn, const cfg *c, char *err, size_t errsz)
{
    long long n = -1;
    char *schema_q = NULL, *sql = NULL;
    PGresult *ready = NULL, *r = NULL;
    const char *sp[] = {c->schema};
    if (!(ready = pg_exec(conn, sql_text("status_ready"), 1, sp, err, errsz)))
        goto done;
    if (strcmp(PQgetvalue(ready, 0, 0), "t") != 0) {
        n = 0; /* before init: nothing to prune */
        goto done;
    }
    if (!(schema_q = pg_quote_ident(conn, c->schema, err, errsz)))
        goto done;
    if (!(sql = sql_render("stats_prune", schema_q))) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    char secs[32];
    snprintf(secs, sizeof secs, "%ld", c->worker_stats_expire_s);
    const char *params[] = {secs};
    if (!(r = pg_exec(conn, sql, 1, params, err, errsz)))
        goto done;
    n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
done:
    PQclear(ready);
    PQclear(r);
    free(schema_q);
    free(sql);
    return n;
}

void stats_prune_logged(PGconn *conn, const cfg *c)
{
    char err[768];
    long long n = stats_prune(conn, c, err, sizeof err);
    if (n < 0)
        log_debug("worker_stats not pruned: %s", err);
    else if (n > 0)
        log_info("forgot the worker_stats of %lld process%s that had not reported for %ld s (worker_stats_expire_s)",
                 n, n == 1 ? "" : "es", c->worker_stats_expire_s);
}
