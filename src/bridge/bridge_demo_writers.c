/* bridge_demo_writers — the demo race's writer threads: random updates, deletes and re-inserts
 * of the demo's rows (and, with --nested, of the rows below them), within a time or change budget. */
#include "versync/bridge/demo.h"

#include "versync/common/log.h"
#include "versync/common/signals.h"
#include "versync/bridge/sql_embed.h"

#include <libpq-fe.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* xorshift64*: cheap, per thread, reproducible from --seed. */
static uint64_t rnd_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ---- writers ---------------------------------------------------------------- */

/* Reserve `n` changes against --changes; false once the budget is spent. */
static bool budget_take(writer_shared *sh, long long n)
{
    if (sh->o->changes <= 0)
        return true;
    long long before = atomic_fetch_add(&sh->reserved, n);
    if (before + n <= sh->o->changes)
        return true;
    atomic_fetch_sub(&sh->reserved, n);
    return false;
}

/* Run one prepared statement; returns the rows it changed or -1. */
static long long writer_exec(PGconn *c, const char *stmt, int nparams, const char *const *params, demo_err *e)
{
    PGresult *r = PQexecPrepared(c, stmt, nparams, params, NULL, NULL, 0);
    long long n = -1;
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        n = atoll(PQcmdTuples(r));
    else
        demo_fail(e, "writer statement %s failed: %s", stmt, PQresultErrorMessage(r));
    PQclear(r);
    return n;
}

/* One writer: random balance updates on random rows, and now and then a
 * delete followed by a re-insert of the same id (separate transactions, so
 * the delete is visible on its own and its tombstone must win its races). */
void *demo_writer_main(void *arg)
{
    writer_arg *wa = arg;
    writer_shared *sh = wa->sh;
    const demo_opts *o = sh->o;
    demo_err *e = sh->err;
    uint64_t rs = o->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)wa->index * 0xBF58476D1CE4E5B9ULL + 1;
    PGconn *c = demo_connect(sh->conninfo, e);
    bool ok = c != NULL;
    static const char *const names[] = {"demo_update", "demo_delete", "demo_insert"};
    static const int nparams[] = {2, 1, 2};
    for (int i = 0; ok && i < 3; i++) {
        PGresult *r = PQprepare(c, names[i], sql_text(names[i]), nparams[i], NULL);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            demo_fail(e, "preparing sql/%s.sql failed: %s", names[i], PQresultErrorMessage(r));
        PQclear(r);
    }
    while (ok && !signals_stop && atomic_load(&sh->failed) == 0) {
        if (sh->deadline > 0 && demo_now_s() >= sh->deadline)
            break;
        if (o->nested && rnd_next(&rs) % 3 != 0) {
            /* --nested: two changes in three below the root, the rest as the flat demo's. */
            if (!budget_take(sh, 1))
                break;
            uint64_t r1 = rnd_next(&rs), r2 = rnd_next(&rs);
            int n = demo_nested_step(c, r1, r2, o->rows, e);
            if (n < 0) {
                ok = false;
                break;
            }
            atomic_fetch_add(&sh->updates, n);
            continue;
        }
        char id[16], amount[24];
        snprintf(id, sizeof id, "%d", 1 + (int)(rnd_next(&rs) % (uint64_t)o->rows));
        bool del = rnd_next(&rs) % 10 == 0;
        if (del && !budget_take(sh, 2))
            del = false; /* one change left in the budget: an update fills it */
        if (!del && !budget_take(sh, 1))
            break;
        long long n;
        if (!del) {
            long long delta = (long long)(rnd_next(&rs) % 100) + 1;
            snprintf(amount, sizeof amount, "%lld", rnd_next(&rs) & 1 ? delta : -delta);
            const char *p[] = {id, amount};
            if ((n = writer_exec(c, "demo_update", 2, p, e)) < 0)
                ok = false;
            else
                atomic_fetch_add(&sh->updates, n);
            if (n == 0 && o->changes > 0) /* the row was mid delete/re-insert */
                atomic_fetch_sub(&sh->reserved, 1);
            continue;
        }
        const char *p1[] = {id};
        if ((n = writer_exec(c, "demo_delete", 1, p1, e)) < 0) {
            ok = false;
            break;
        }
        atomic_fetch_add(&sh->deletes, n);
        snprintf(amount, sizeof amount, "%lld", (long long)(rnd_next(&rs) % 2000));
        const char *p2[] = {id, amount};
        long long m = writer_exec(c, "demo_insert", 2, p2, e);
        if (m < 0) {
            ok = false;
            break;
        }
        atomic_fetch_add(&sh->inserts, m);
        if (o->changes > 0 && n + m < 2)
            atomic_fetch_sub(&sh->reserved, 2 - (n + m));
    }
    if (!ok)
        atomic_store(&sh->failed, 1);
    PQfinish(c);
    atomic_fetch_sub(&sh->running, 1);
    return NULL;
}

