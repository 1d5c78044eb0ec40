/* worker_wal — worker 1's share of "capture": "wal": one stream step per loop turn, a busy slot, and stopping. */
#ifndef VERSYNC_WORKER_WAL_H
#define VERSYNC_WORKER_WAL_H

#include "versync/bridge/cfg.h"
#include "versync/bridge/esclient.h"
#include "versync/bridge/wal.h"
#include "versync/bridge/worker.h"

#include <libpq-fe.h>
#include <stdbool.h>

/* once: how long a slot in use may be a just-finished once's, still closing, before it is another's. */
#define WORKER_WAL_BUSY_GRACE_MS 5000
/* run: how often a slot another consumer holds is tried again (it takes over once released). */
#define WORKER_WAL_BUSY_RETRY_MS 5000

typedef struct worker_wal {
    const cfg *c;
    wal_stream *ws;          /* NULL: this worker has no "wal" tables to stream (or once left them) */
    bool once;
    const sigset_t *wait_mask;
    long long busy_since;    /* when the slot was first found in use by another consumer, 0 not */
    long long busy_retry_ms; /* run: when to try the busy slot again */
    char busy_said[512];     /* run: the holder last logged, so it is said once, not every retry */
    bool foreign;            /* once: another program holds the slot (err says which): give up */
} worker_wal;

/* Set up *ww for worker `o->id` of config `c` (which must outlive it): the slot's consumer when
 * this is worker 1 (or once's only worker) and some table is "capture": "wal". The stop flag and
 * wait mask of `o` end its waits. False with err set. */
bool worker_wal_init(worker_wal *ww, const cfg *c, const worker_options *o, char *err, size_t errsz);

/* Free what *ww holds (the stream); zeroes it. */
void worker_wal_free(worker_wal *ww);

/* One step of the stream on pg/store, its counters added to *total. `n`: what the trigger batch of
 * this turn returned (>= 0). Returns n plus the stream's work (wal_stream_step), n when the stream
 * has nothing to do now (a slot busy under run: logged once per holder, retried every
 * WORKER_WAL_BUSY_RETRY_MS), or WORKER_ERR_* with err set (ww->foreign: once cannot go on). */
int worker_wal_step(worker_wal *ww, PGconn *pg, esc *store, worker_counters *total, int n, char *err, size_t errsz);

/* The replication socket to wait on beside others, or -1. */
int worker_wal_socket(const worker_wal *ww);

/* Stopping: wal_stream_stop (the writes in flight answered, counted into *total, confirmed). */
void worker_wal_stop(worker_wal *ww, PGconn *pg, worker_counters *total);

#endif
