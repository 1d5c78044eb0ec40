/* bridge_worker_wal — worker 1's share of "capture": "wal": one stream step per loop turn, a busy slot, and
 * stopping (README, "Logical replication capture", "once beside run"). */
#include "versync/bridge/worker_wal.h"

#include "versync/common/log.h"
#include "versync/common/timing.h"

#include <stdio.h>
#include <string.h>

bool worker_wal_init(worker_wal *ww, const cfg *c, const worker_options *o, char *err, size_t errsz)
{
    memset(ww, 0, sizeof *ww);
    ww->c = c;
    ww->once = o->once;
    ww->wait_mask = o->wait_mask;
    /* One slot, one consumer: worker 1. */
    if (o->id > 1 || wal_table_count(c) == 0)
        return true;
    if (!(ww->ws = wal_stream_new(c, o->once, err, errsz)))
        return false;
    wal_stop st = {o->stop, o->wait_mask};
    wal_stream_set_stop(ww->ws, &st);
    return true;
}

void worker_wal_free(worker_wal *ww)
{
    wal_stream_free(ww->ws);
    memset(ww, 0, sizeof *ww);
}

int worker_wal_socket(const worker_wal *ww) { return wal_stream_socket(ww->ws); }

static void add_counters(worker_counters *total, const worker_counters *d)
{
    total->applied += d->applied;
    total->stale += d->stale;
    total->coalesced += d->coalesced;
    total->dead_letters += d->dead_letters;
    total->skipped += d->skipped;
    total->retries += d->retries;
    total->changes += d->changes;
    total->batches += d->batches;
    if (d->lag_ms >= 0)
        total->lag_ms = d->lag_ms;
}

/* once found the slot in use. It may be an earlier once still closing: retried quietly for
 * WORKER_WAL_BUSY_GRACE_MS. Then, another versync's: leave the "wal" tables to it and go on;
 * another program's: give up (ww->foreign). */
static int busy_once(worker_wal *ww, int n, long long now, char *err)
{
    if (now - ww->busy_since < WORKER_WAL_BUSY_GRACE_MS) {
        timing_sleep_ms(200, ww->wait_mask);
        return n + 1; /* not an outage: step again */
    }
    if (wal_stream_busy(ww->ws) != WAL_BUSY_VERSYNC) {
        ww->foreign = true;
        return WORKER_ERR_PG;
    }
    log_warn("%s; once leaves the \"wal\" tables to it and syncs the others", err);
    wal_stream_free(ww->ws);
    ww->ws = NULL;
    ww->busy_since = 0;
    err[0] = '\0';
    return n;
}

/* run found the slot in use (another run, a once, or another program). Not an outage: the other
 * tables go on, the slot is tried again every WORKER_WAL_BUSY_RETRY_MS, and the holder is named
 * once (again only when another one holds it), with what run does about it. */
static int busy_run(worker_wal *ww, int n, long long now, const char *err)
{
    ww->busy_retry_ms = now + WORKER_WAL_BUSY_RETRY_MS;
    if (strcmp(ww->busy_said, err) != 0) {
        log_warn("%s; run tries again every %d s and streams the \"wal\" tables once it is released",
                 err, WORKER_WAL_BUSY_RETRY_MS / 1000);
        snprintf(ww->busy_said, sizeof ww->busy_said, "%s", err);
    }
    return n;
}

int worker_wal_step(worker_wal *ww, PGconn *pg, esc *store, worker_counters *total, int n, char *err, size_t errsz)
{
    if (!ww->ws)
        return n;
    long long now = timing_now_ms();
    if (!ww->once && ww->busy_since && now < ww->busy_retry_ms)
        return n; /* the slot was busy a moment ago: not yet again */
    worker_counters d = {0};
    d.lag_ms = -1;
    int k = wal_stream_step(ww->ws, pg, store, &d, err, errsz);
    add_counters(total, &d);
    if (k == WAL_ERR_BUSY) {
        if (!ww->busy_since)
            ww->busy_since = now;
        return ww->once ? busy_once(ww, n, now, err) : busy_run(ww, n, now, err);
    }
    if (ww->busy_since && !ww->once && k >= 0)
        log_info("replication slot \"%s\" is free again after %.0f s: streaming it", ww->c->wal_slot,
                 (now - ww->busy_since) / 1000.0);
    ww->busy_since = 0;
    ww->busy_said[0] = '\0';
    if (k < 0)
        return k == WAL_ERR_STORE ? WORKER_ERR_STORE : WORKER_ERR_PG;
    (void)errsz;
    return n + k;
}

void worker_wal_stop(worker_wal *ww, PGconn *pg, worker_counters *total)
{
    if (!ww->ws)
        return;
    worker_counters d = {0};
    d.lag_ms = -1;
    char err[1024];
    if (!wal_stream_stop(ww->ws, pg, &d, err, sizeof err))
        log_warn("stopping the stream: %s (nothing is lost: the slot replays what it did not confirm)", err);
    add_counters(total, &d);
}
