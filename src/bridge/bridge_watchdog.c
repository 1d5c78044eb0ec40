/* bridge_watchdog — a worker that sees changes waiting and claims none notices it, logs what it waits on, and recovers. */
#include "versync/bridge/watchdog.h"

#include "versync/common/buf.h"
#include "versync/common/log.h"
#include "versync/bridge/metrics.h"
#include "versync/bridge/sql_embed.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATCHDOG_MIN_MS 1000
#define WATCHDOG_RELOG_MS 60000 /* a lasting stall: log (and reconnect) again this often */

long long watchdog_after_ms(const cfg *c)
{
    long long poll = c->poll_interval_ms > 0 ? c->poll_interval_ms : 1000;
    long long ms = 5 * poll;
    return ms < WATCHDOG_MIN_MS ? WATCHDOG_MIN_MS : ms;
}

long long watchdog_step_limit_ms(const cfg *c)
{
    long long timeout = c->store.timeout_ms > 0 ? c->store.timeout_ms : 10000;
    return watchdog_after_ms(c) + timeout;
}

void watchdog_init(watchdog *wd, const cfg *c, long long now_ms)
{
    memset(wd, 0, sizeof *wd);
    wd->after_ms = watchdog_after_ms(c);
    wd->last_claim_ms = now_ms;
}

void watchdog_claimed(watchdog *wd, long long now_ms)
{
    if (wd->stalled_ms) {
        log_info("watchdog: claiming again after %.1f s without a claim", (now_ms - wd->stalled_ms) / 1000.0);
        metrics_stalled(NULL, 0);
    }
    wd->stalled_ms = 0;
    wd->logged_ms = 0;
    wd->last_claim_ms = now_ms;
    wd->next_check_ms = 0;
}

/* Append who holds locks on the change table to `b`; false (err set) when the query failed. */
static bool describe_holders(PGconn *conn, const char *schema_ident, long long after_ms, buf *b, int *n,
                             int *old, char *err, size_t errsz)
{
    char changes[400];
    snprintf(changes, sizeof changes, "%s.changes", schema_ident);
    const char *params[1] = {changes};
    PGresult *r = PQexecParams(conn, sql_text("watchdog_holders"), 1, NULL, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) {
        snprintf(err, errsz, "watchdog: asking who holds the change table: %s", PQerrorMessage(conn));
        goto done;
    }
    *old = 0;
    *n = PQntuples(r);
    for (int i = 0; i < PQntuples(r); i++) {
        long long age = strtoll(PQgetvalue(r, i, 4), NULL, 10);
        if (age >= after_ms)
            (*old)++;
        buf_printf(b, "%spid %s (%s, %s, transaction open %.1f s, waiting on %s)", i ? "; " : "", PQgetvalue(r, i, 0),
                   PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), age / 1000.0, PQgetvalue(r, i, 3));
    }
    if (PQntuples(r) == 0)
        buf_puts(b, "no other session holds a lock on the change table");
done:
    PQclear(r);
    return ok;
}

bool watchdog_check(watchdog *wd, const cfg *c, PGconn *conn, const char *schema_ident, const char *parked,
                    long long now_ms)
{
    if (!conn || now_ms - wd->last_claim_ms < wd->after_ms || now_ms < wd->next_check_ms)
        return false;
    wd->next_check_ms = now_ms + wd->after_ms;
    bool recover = false;
    buf b = BUF_INIT;
    char *sql = sql_render("watchdog_waiting", schema_ident);
    PGresult *r = NULL;
    char err[512];
    if (!sql)
        goto done;
    const char *chan = c->channel ? c->channel : "versync";
    const char *params[2] = {parked && *parked ? parked : "{}", chan};
    r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        /* The connection itself is in trouble: the worker's next step finds out and reports it. */
        log_debug("watchdog: counting the waiting changes: %s", PQerrorMessage(conn));
        goto done;
    }
    long long waiting = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    bool listening = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    if (waiting == 0) {
        /* Idle, not stalled: nothing to claim. */
        if (wd->stalled_ms)
            watchdog_claimed(wd, now_ms);
        wd->last_claim_ms = now_ms;
        goto done;
    }
    int old = 0, nholders = 0;
    if (!describe_holders(conn, schema_ident, wd->after_ms, &b, &nholders, &old, err, sizeof err)) {
        log_debug("%s", err);
        goto done;
    }
    /* Rows held only by young transactions are other workers' batches in flight: progress, not a stall. */
    bool held_young = nholders > 0 && old == 0;
    if (held_young && !(c->listen && !listening))
        goto done;
    char why[400];
    snprintf(why, sizeof why, "%lld changes waiting and none claimed; the change table is held by: %.250s%s",
             waiting, b.data ? b.data : "", c->listen && !listening ? "; this session no longer LISTENs" : "");
    bool first = !wd->stalled_ms;
    if (first)
        wd->stalled_ms = wd->last_claim_ms;
    metrics_stalled(why, wd->stalled_ms);
    if (first || now_ms - wd->logged_ms >= WATCHDOG_RELOG_MS) {
        log_warn("watchdog: no claim for %.1f s: %lld changes waiting, none claimable by this worker; the change "
                 "table is held by: %s; %s on \"%s\"; recovering: reconnecting to PostgreSQL%s",
                 (now_ms - wd->stalled_ms) / 1000.0, waiting, b.data ? b.data : "",
                 !c->listen ? "not listening (\"listen\": false)" : listening ? "listening" : "NOT listening", chan,
                 c->listen ? " and listening again" : "");
        wd->logged_ms = now_ms;
        recover = true;
    } else {
        log_debug("watchdog: still no claim: %s", why);
    }
done:
    PQclear(r);
    free(sql);
    buf_free(&b);
    return recover;
}
