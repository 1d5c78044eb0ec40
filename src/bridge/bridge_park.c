/* bridge_park — one worker's parked tables: a table whose rows cannot be re-read (a renamed or dropped
 * column, a dropped table, a revoked grant) stops alone while the others keep flowing. */
#include "versync/bridge/park.h"

#include "versync/common/log.h"
#include "versync/bridge/metrics.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROBE_FIRST_MS 1000
#define PROBE_MAX_MS 30000

typedef struct park_slot {
    long long since_ms;   /* 0: not parked */
    long long next_probe; /* monotonic ms */
    long long delay_ms;   /* until the next probe; doubles up to PROBE_MAX_MS */
    bool recorded;        /* a parked row of ours or an earlier worker's may exist */
} park_slot;

struct park {
    const cfg *c;
    park_slot *t;
    size_t n;
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

park *park_new(const cfg *c)
{
    park *p = calloc(1, sizeof *p);
    if (!p || !(p->t = calloc(c->ntables + 1, sizeof *p->t))) {
        free(p);
        return NULL;
    }
    p->c = c;
    p->n = c->ntables;
    /* An earlier worker may have left a record: the first good batch clears it. */
    for (size_t i = 0; i < p->n; i++)
        p->t[i].recorded = true;
    return p;
}

void park_free(park *p)
{
    if (!p)
        return;
    free(p->t);
    free(p);
}

bool park_sqlstate_parks(const char *s)
{
    if (!s || strlen(s) != 5)
        return false;
    /* 42xxx: undefined column/table/function, insufficient privilege,
     * datatype mismatch… (syntax error or access rule violation);
     * 0A000: "cached plan must not change result type"; 3F000: no such schema. */
    return strncmp(s, "42", 2) == 0 || strcmp(s, "0A000") == 0 || strcmp(s, "3F000") == 0;
}

/* Run one of the park SQL files; failures only lose the record. */
static void record(PGconn *conn, const char *file, const char *schema_q, int n, const char *const *params)
{
    char *sql = sql_render(file, schema_q);
    if (!sql)
        return;
    PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    free(sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        log_debug("%s: %s (run versync init to create the parked table)", file, PQresultErrorMessage(r));
    PQclear(r);
}

void park_table(park *p, PGconn *conn, const char *schema_q, const char *worker_name, size_t tidx,
                const char *sqlstate, const char *err)
{
    if (tidx >= p->n)
        return;
    park_slot *s = &p->t[tidx];
    const cfg_table *t = &p->c->tables[tidx];
    long long now = mono_ms();
    if (!s->since_ms) {
        s->since_ms = now;
        s->delay_ms = PROBE_FIRST_MS;
        log_error(
            "table %s parked: re-reading its rows fails: %s (SQLSTATE %s). Its changes wait in the change "
            "table, nothing is lost, and the other tables keep flowing. Fix the config (then SIGHUP) or the "
            "table; it is retried every %d s at most and resumes by itself",
            t->ident, err, sqlstate ? sqlstate : "?", PROBE_MAX_MS / 1000);
    } else {
        log_debug("table %s still parked: %s", t->ident, err);
        s->delay_ms = s->delay_ms * 2 > PROBE_MAX_MS ? PROBE_MAX_MS : s->delay_ms * 2;
    }
    s->next_probe = now + s->delay_ms;
    s->recorded = true;
    const char *params[] = {t->ident, err, sqlstate, worker_name};
    record(conn, "worker_park", schema_q, 4, params);
    metrics_table_parked(tidx, err);
}

bool park_is_parked(const park *p, size_t tidx)
{
    return p && tidx < p->n && p->t[tidx].since_ms != 0;
}

size_t park_count(const park *p)
{
    size_t n = 0;
    for (size_t i = 0; p && i < p->n; i++)
        n += p->t[i].since_ms != 0;
    return n;
}

size_t park_next_due(const park *p, size_t from)
{
    long long now_ms = mono_ms();
    for (size_t i = from; p && i < p->n; i++)
        if (p->t[i].since_ms && p->t[i].next_probe <= now_ms)
            return i;
    return SIZE_MAX;
}

void park_resume(park *p, PGconn *conn, const char *schema_q, size_t tidx)
{
    if (tidx >= p->n || !p->t[tidx].since_ms)
        return;
    const cfg_table *t = &p->c->tables[tidx];
    log_info("table %s resumed after %.1f s parked: its rows can be read again, and its waiting changes are "
             "synced now",
             t->ident, (mono_ms() - p->t[tidx].since_ms) / 1000.0);
    p->t[tidx].since_ms = 0;
    const char *params[] = {t->ident};
    record(conn, "worker_unpark", schema_q, 1, params);
    p->t[tidx].recorded = false;
    metrics_table_parked(tidx, NULL);
}

void park_confirm(park *p, PGconn *conn, const char *schema_q, size_t tidx)
{
    if (!p || tidx >= p->n || !p->t[tidx].recorded || p->t[tidx].since_ms)
        return;
    const char *params[] = {p->c->tables[tidx].ident};
    record(conn, "worker_unpark", schema_q, 1, params);
    p->t[tidx].recorded = false;
}

bool park_exclusion(const park *p, buf *out)
{
    buf_reset(out);
    const char **names = calloc(p->n + 1, sizeof *names);
    if (!names)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->t[i].since_ms)
            names[n++] = p->c->tables[i].ident;
    bool ok = render_array_literal(out, names, n);
    free(names);
    return ok;
}
