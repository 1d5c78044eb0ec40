/* cursor — trigger-free capture ("capture": "cursor"): poll mapped tables in passes bounded by MVCC snapshots, with a checkpoint. */
#ifndef VERSYNC_CURSOR_H
#define VERSYNC_CURSOR_H

#include "versync/bridge/cfg.h"
#include "versync/bridge/esclient.h"
#include "versync/bridge/worker.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* How it works (README, "Trigger-free capture (cursor mode)", has the proof):
 * a pass reads, in key order and `batch_size` rows per page, every row whose
 * xmin (widened to 64 bits) is not older than the BASE: the oldest
 * transaction still running when the previous completed pass began
 * (pg_snapshot_xmin of a snapshot taken before its first page). The first
 * pass reads every row. A row committed after that snapshot was written by a
 * (sub)transaction whose xid is at least that xmin, so no pass can skip it;
 * rows older than the base were visible to the previous pass, which sent
 * them. The version column only labels the writes (external versions); it
 * plays no part in finding rows, so late commits, ties and out-of-order
 * values cannot hide a row. */

/* One table's checkpoint, as kept in <schema>.cursors or the state file. */
typedef struct cursor_checkpoint {
    bool has_base;          /* false: no pass completed yet, the next pass reads every row */
    long long base_xmin;    /* xid8 (as an integer) below which every committed row was sent */
    char base_at[64];       /* when the snapshot of base_xmin was taken (timestamptz text) */
    bool in_pass;           /* a pass is under way */
    long long pass_xmin;    /* its snapshot xmin: the next base */
    char pass_at[64];       /* when that snapshot was taken */
    char **pass_key;        /* key parts (text) of the last row the store acknowledged; NULL: none yet */
    size_t npass_key;
    char **key_cols;        /* the key columns pass_key belongs to (a changed key restarts the pass) */
    size_t nkey_cols;
    long long passes;       /* completed passes */
    long long rows;         /* rows sent, over all passes */
    long long applied, stale, dead_letters; /* the store's answers, over all passes */
    char system_id[32];     /* the cluster's system identifier: xids of another cluster mean nothing here */
} cursor_checkpoint;

/* Free what a checkpoint owns (pass_key, key_cols) and zero it; NULL is a no-op. */
void cursor_checkpoint_clear(cursor_checkpoint *cp);

/* Read the checkpoint of table `ident` from the state file at `path` into
 * *cp (cleared first). A missing file or table gives an empty checkpoint and
 * true. False with a message naming the file when it cannot be read or is
 * not a versync state file. The caller clears *cp. */
bool cursor_state_load(const char *path, const char *ident, cursor_checkpoint *cp, char *err, size_t errsz);

/* Replace the checkpoint of table `ident` in the state file at `path`,
 * keeping the other tables', atomically: the new content goes to a
 * temporary file in the same folder, which is fsynced and renamed over the
 * old one, and then the folder is fsynced, so a crash leaves either the old
 * or the new file, never a torn one. False with a message on failure (the
 * old file is then unchanged). */
bool cursor_state_save(const char *path, const char *ident, const cursor_checkpoint *cp, char *err, size_t errsz);

/* Read the checkpoint of table `ident` from <schema>.cursors (`schema_q`: the
 * quoted schema) into *cp (zeroed first; empty when the table has none yet).
 * Returns 0, CURSOR_ERR_CONFIG when the cursors table is missing (err says to
 * run init or give --state), or CURSOR_ERR_PG. The caller clears *cp. */
int cursor_checkpoint_get(PGconn *pg, const char *schema_q, const char *ident, cursor_checkpoint *cp, char *err,
                          size_t errsz);

/* Milliseconds from the UTC time `iso` ("2026-11-21T22:44:19.830123Z", as
 * checkpoints keep it) to now, or -1 when it is empty or unparsable. */
long long cursor_age_ms(const char *iso);

/* How many tables of `c` use "capture": "cursor". */
size_t cursor_table_count(const cfg *c);

typedef struct cursor cursor;

/* Results of cursor_step besides 0 (nothing due) and 1 (did some work). */
#define CURSOR_ERR_PG (-1)     /* PostgreSQL failed; nothing advanced */
#define CURSOR_ERR_STORE (-2)  /* the store failed retryably; nothing advanced */
#define CURSOR_ERR_CONFIG (-3) /* no place for the checkpoint: run init, or give --state FILE */

/* A poller for the cursor tables of `c` (which must outlive it). With
 * `state_path` the checkpoints live in that file, else in <schema>.cursors.
 * `once`: every table completes one pass that starts after this call (after
 * first finishing a pass a crash left half done), then cursor_step returns 0.
 * `worker_name` ("host:pid") keys the worker_stats row the counters are added
 * to (not with a state file). Returns NULL with err set on failure; free with
 * cursor_free. Logs, once per table, that hard deletes are not seen. */
cursor *cursor_new(const cfg *c, const char *state_path, bool once, const char *worker_name, char *err,
                   size_t errsz);

/* Free; NULL is a no-op. Does not touch the connection it was given. */
void cursor_free(cursor *cu);

/* Do the next piece of work on `pg` (connected, outside a transaction) and
 * `store`: start a pass that is due (once per poll_interval_ms per table),
 * or read one page of a pass under way, write it with one or more _bulk
 * requests (index, or delete for soft-deleted rows, with the row's version
 * and version_type=external), and advance the checkpoint only after the
 * store answered every item (applied, stale, or refused for good). Adds the
 * page's counters to *delta. Returns 1 when it did some work (call again),
 * 0 when nothing is due now (once: every table is done), or CURSOR_ERR_*
 * with err set. `started_at` is the worker's start (timestamptz text). */
int cursor_step(cursor *cu, PGconn *pg, esc *store, const char *started_at, worker_counters *delta, char *err,
                size_t errsz);

#endif
