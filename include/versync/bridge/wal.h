/* wal — "capture": "wal": logical replication (pgoutput) through a slot, commit LSNs as external versions. */
#ifndef VERSYNC_WAL_H
#define VERSYNC_WAL_H

#include "versync/bridge/cfg.h"
#include "versync/common/buf.h"
#include "versync/bridge/esclient.h"
#include "versync/bridge/setup.h"
#include "versync/bridge/worker.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How it works (README, "Logical replication capture (WAL mode)", has the
 * argument): one connection streams the publication's changes from the slot;
 * each change names a row by its key; the row is re-read (the trigger path's
 * rendering, render.h) after its transaction committed and written with
 * version = the commit LSN of that transaction (strictly increasing in commit
 * order) and version_type=external. The slot's confirmed flush position
 * moves only past transactions all of whose writes the store answered for
 * for good (applied, stale, or refused), so a crash replays from there. */

/* ---- config (bridge_wal_cfg.c) ---------------------------------------------------------------- */

struct ctx;

/* Defaults and bounds of the "wal" object's numbers. */
#define WAL_INFLIGHT 4            /* wal.inflight: _bulk requests in flight at once */
#define WAL_INFLIGHT_MAX 64
#define WAL_LAG_WARN_SECONDS 300.0 /* wal.lag_warn_seconds */

/* Parse the optional top-level "wal" object of the config ({"slot", "publication",
 * "lag_warn_bytes", "lag_warn_seconds", "inflight"}) into c, filling defaults. False with the
 * message set in x. */
bool wal_cfg_parse(struct ctx *x, const cJSON *root, cfg *c);

/* The checks of one "capture": "wal" mapping (`path` labels messages): no "version"
 * (the commit LSN is the version). False with the message set in x. */
bool wal_cfg_check_table(struct ctx *x, const cfg_table *t, const char *path);

/* How many tables of `c` use "capture": "wal". */
size_t wal_table_count(const cfg *c);

/* ---- setup (bridge_wal_setup.c): init, check, status ------------------------------------------ */

/* Preconditions for WAL capture on `conn`: wal_level is logical and the role may
 * replicate (REPLICATION or superuser). False with a message that says what to change. */
bool wal_setup_precheck(PGconn *conn, char *err, size_t errsz);

/* Create (or, when the config names it, check) the publication of the "wal" tables,
 * then create the slot (pgoutput) when missing. Runs outside a transaction. Prints a
 * line per change and sets *changed. `dry_run`: print what it would do. False with err set. */
bool wal_setup_init(PGconn *conn, const cfg *c, bool dry_run, bool *changed, char *err, size_t errsz);

/* The slot's state: exists, active, retained WAL bytes (current LSN minus
 * restart_lsn), confirmed-but-unapplied bytes (current LSN minus confirmed_flush_lsn).
 * False with err set when PostgreSQL fails; *exists false when there is no slot. */
typedef struct wal_slot_state {
    bool exists, active;
    long long retained_bytes; /* WAL the slot holds back from removal */
    long long lag_bytes;      /* WAL not yet confirmed as applied */
    char confirmed_lsn[32];
    char current_lsn[32];
    double lag_seconds;       /* how far behind in time (wal_slot_lag.sql); < 0: unknown */
} wal_slot_state;
bool wal_slot_state_get(PGconn *conn, const cfg *c, wal_slot_state *s, char *err, size_t errsz);

/* As wal_slot_state_get, by the slot's and versync's schema's (raw) names: for /metrics. */
bool wal_slot_state_query(PGconn *conn, const char *slot, const char *schema, wal_slot_state *s, char *err,
                          size_t errsz);

/* The meta key under which the consumer of `slot` reports its progress (wal_progress_set.sql). */
#define WAL_PROGRESS_KEY_PREFIX "wal_progress:"

/* status: append the slot's state (text: one line, and a warning line past wal.lag_warn_seconds;
 * json: a ",\"wal_slot\":{…}" member with "lag_warning", the slot name being [a-z0-9_]) to out when some table uses "capture": "wal". False with err set. */
bool wal_status_append(PGconn *conn, const cfg *c, bool json, buf *out, char *err, size_t errsz);

/* Whether the slot of s is further behind in seconds than wal.lag_warn_seconds (0: never). */
bool wal_lag_behind(const cfg *c, const wal_slot_state *s);

/* check: print the slot's state; report (as warnings) a missing slot, retained WAL past
 * wal.lag_warn_bytes, a lag in seconds past wal.lag_warn_seconds and keys deletes do not carry. Returns how many it reported, or -1
 * with err set (PostgreSQL failed, or WAL capture cannot work here: wal_setup_precheck). */
int wal_setup_check(PGconn *conn, const cfg *c, setup_report_fn report, void *ctx, char *err, size_t errsz);

/* init, switching tables between trigger and WAL capture (README, "Logical replication capture",
 * "Switching"). In init's transaction, before its plan runs: lift the change sequence above the
 * WAL position for tables going back to triggers, and refuse a move to WAL the versions would not
 * allow. After the plan (triggers dropped; the slot must already exist): move the change rows the
 * triggers of "wal" tables left waiting into the stream. Lines for the user are appended to
 * report. False with err set. */
bool wal_switch_before(PGconn *conn, const cfg *c, const char *schema_q, buf *report, char *err, size_t errsz);
bool wal_switch_after(PGconn *conn, const cfg *c, const char *schema_q, buf *report, char *err, size_t errsz);

/* init with no "wal" table: warn when the slot still exists (it holds WAL without bound). */
bool wal_setup_unused_slot(PGconn *conn, const cfg *c, char *err, size_t errsz);

/* ---- stopping, and waiting for visibility (bridge_wal_visible.c) ------------------------------- */

/* How a wait inside a step notices a stop request (run's SIGTERM): *flag > 0 asks to stop;
 * wait_mask is the mask to wait with (stop signals unblocked, so one arriving ends the wait), or
 * NULL. Both NULL: never asked. */
typedef struct wal_stop {
    volatile sig_atomic_t *flag;
    const sigset_t *wait_mask;
} wal_stop;

/* Whether a stop was asked for; first lets a pending stop signal (blocked outside waits) set the flag. */
bool wal_stop_requested(const wal_stop *st);

/* How long a transaction read from the stream may stay invisible before the step fails (and is
 * retried): in practice microseconds, longer only while a synchronous standby holds the commit. */
#define WAL_VISIBLE_WAIT_MS 30000

/* Wait until a snapshot taken on `pg` (outside a transaction) sees every transaction of xids[0..n)
 * (Begin's 32-bit xids; wal_xids_visible.sql says why and how), polling with a growing pause in
 * which stop signals are delivered. 1: all visible; 0: a stop was asked for first (nothing done);
 * -1 with err set: PostgreSQL failed, or still not visible after timeout_ms (`slot` names it). */
int wal_visible_wait(PGconn *pg, const uint32_t *xids, size_t n, const wal_stop *st, long timeout_ms,
                     const char *slot, char *err, size_t errsz);

/* ---- the stream (bridge_wal.c) ------------------------------------------------------------------ */

typedef struct wal_stream wal_stream;

#define WAL_ERR_PG (-1)    /* PostgreSQL or the replication connection failed; nothing confirmed past */
#define WAL_ERR_STORE (-2) /* the store failed retryably; nothing confirmed past */
#define WAL_ERR_BUSY (-3)  /* the slot is in use by another connection (wal_stream_busy says whose) */

/* The application_name of versync's replication connection (how a busy slot's holder is told). */
#define WAL_APPLICATION_NAME "versync-wal"

/* Who held the slot when the last connection found it in use (SQLSTATE 55006, object_in_use). */
typedef enum wal_busy {
    WAL_BUSY_NO = 0,
    WAL_BUSY_VERSYNC, /* another versync process (its replication connection's application_name) */
    WAL_BUSY_OTHER,   /* some other program, or one whose application_name this role cannot see */
} wal_busy;

/* A consumer of the slot for the "wal" tables of `c` (which must outlive it).
 * `once`: stop at the WAL position current when it first connects. Returns NULL
 * with err set on failure; free with wal_stream_free. */
wal_stream *wal_stream_new(const cfg *c, bool once, char *err, size_t errsz);

/* Close the replication connection and free; NULL is a no-op. Writes still in flight are awaited
 * (each bounded by the store's timeout) but not counted, and nothing more is confirmed: the slot
 * replays them (counted stale). wal_stream_stop first confirms what was answered. */
void wal_stream_free(wal_stream *ws);

/* Let a stop request end the waits of ws's steps (*st is copied; its flag and mask must outlive ws). */
void wal_stream_set_stop(wal_stream *ws, const wal_stop *st);

/* Stopping (SIGTERM): wait for the writes in flight (each bounded by the store's timeout), count
 * them into *delta, confirm the slot past every change answered for and close the stream. Changes
 * read but not sent stay unconfirmed: replayed after a restart. False with err set when something
 * failed (nothing is lost: the slot replays from its confirmed position). */
bool wal_stream_stop(wal_stream *ws, PGconn *pg, worker_counters *delta, char *err, size_t errsz);

/* Read what the slot has (up to batch_size changes, or until nothing more is
 * ready), re-read the rows on `pg` (connected, outside a transaction) and send them
 * (wal.inflight 1: on `store`, answered before it returns; more: each batch on a
 * thread and store connection of its own, up to wal.inflight at once, collected
 * by later steps), then confirm the position past every change answered for
 * (wal_window.h).
 * Adds the counters to *delta. Returns 1 when it did some work (or, once, still
 * waits for the stop position; or a stop request (wal_stream_set_stop) ended a wait,
 * leaving what it had not sent pending and unconfirmed), 0 when nothing is ready (once:
 * the stop position is reached and confirmed), or WAL_ERR_* with err set. A batch the store
 * failed is resent by a later step after a backoff of its own; it makes the step WAL_ERR_STORE
 * only when no other batch was sent or answered in it (then nothing moves). A failed step still
 * tells the server it is alive when WAL_STREAM_STATUS_MS have passed since the last status, so a
 * caller that backs off after a failure keeps the stream as long as it calls again within
 * WAL_STREAM_STATUS_MS (wal_sender_timeout is 60 s by default). */
#define WAL_STREAM_STATUS_MS 10000
int wal_stream_step(wal_stream *ws, PGconn *pg, esc *store, worker_counters *delta, char *err, size_t errsz);

/* The replication connection's socket (to wait on beside others), or -1. */
int wal_stream_socket(const wal_stream *ws);

/* After WAL_ERR_BUSY: who holds the slot. WAL_BUSY_NO otherwise. */
wal_busy wal_stream_busy(const wal_stream *ws);

/* ---- dead letters (bridge_wal_dead.c) ---------------------------------------------------------- */

/* One change of a "wal" table that can never be written, for <schema>.dead_letters. */
typedef struct wal_dead {
    const char *tbl;         /* "schema.table" */
    char *const *key;        /* the key's parts; NULL: the WAL record did not carry the key */
    size_t nkey;
    char op;                 /* 'I', 'U' or 'D' */
    int64_t version;         /* the commit LSN written (or read) */
    int64_t commit_ts;       /* its commit time, µs since 2000-01-01 UTC */
    const char *error;
    int http_status;         /* 0: none (not the store's refusal) */
    int64_t seq;             /* a retried dead letter's own seq, 0: draw a new one */
    int attempts;            /* a retried one's attempts so far */
} wal_dead;

/* Record d on `pg` (outside a transaction): a new row, or (the same change replayed, or a retry
 * failing again) one more attempt on its row. False with err set. */
bool wal_dead_record(PGconn *pg, const cfg *c, const wal_dead *d, char *err, size_t errsz);

/* A retry sent by `versync deadletters retry` (a transactional logical message, prefix
 * "versync-retry", content {"schema","seq","table","key","op","attempts"}). Heap parts are owned
 * by it; free with wal_retry_clear (NULL is a no-op). */
typedef struct wal_retry {
    char *tbl;
    int table; /* index of the "wal" table in the config, -1: not one (the config changed) */
    char **key;
    size_t nkey;
    char op;
    int64_t seq;
    int attempts;
} wal_retry;

/* Parse a retry message's content: 1 parsed, 0 another schema's (not ours), -1 malformed
 * (err set). */
int wal_retry_parse(const cfg *c, const char *content, size_t len, wal_retry *out, char *err, size_t errsz);
void wal_retry_clear(wal_retry *r);

/* The prefix of the logical messages that carry retries. */
#define WAL_RETRY_PREFIX "versync-retry"

/* ---- pgoutput messages (bridge_wal_decode.c) --------------------------------------------------- */

typedef enum wal_msg_kind {
    WAL_MSG_BEGIN = 'B',
    WAL_MSG_COMMIT = 'C',
    WAL_MSG_RELATION = 'R',
    WAL_MSG_INSERT = 'I',
    WAL_MSG_UPDATE = 'U',
    WAL_MSG_DELETE = 'D',
    WAL_MSG_TRUNCATE = 'T',
    WAL_MSG_MESSAGE = 'M',
    WAL_MSG_OTHER = 0, /* Origin, Type, …: nothing versync needs */
} wal_msg_kind;

/* One column value of a tuple: kind 'n' (NULL), 'u' (unchanged TOASTed value, not sent),
 * 't' (text); data points into the message (not NUL-terminated). */
typedef struct wal_value {
    char kind;
    const char *data;
    uint32_t len;
} wal_value;

typedef struct wal_tuple {
    uint16_t ncols;
    wal_value *cols; /* heap, owned by the wal_msg */
} wal_tuple;

typedef struct wal_relcol {
    bool key;         /* part of the replica identity */
    const char *name; /* points into the message */
    uint32_t type_oid;
} wal_relcol;

/* A decoded message. Pointers point into the buffer it was decoded from, which
 * must outlive it; heap parts are freed by wal_msg_clear. */
typedef struct wal_msg {
    wal_msg_kind kind;
    uint64_t lsn;     /* Begin: the commit's LSN (final_lsn); Commit: commit LSN; Message: its LSN */
    uint64_t end_lsn; /* Commit: the end of the commit record */
    int64_t ts;       /* Begin/Commit: commit time, µs since 2000-01-01 */
    uint32_t xid;     /* Begin */
    uint32_t relid;   /* Relation, Insert, Update, Delete */
    char old_kind;    /* Update/Delete: 'K' (identity columns) or 'O' (whole old row), 0 none */
    wal_tuple old_tuple, new_tuple;
    /* Relation */
    const char *nspname, *relname;
    char replident;
    uint16_t natts;
    wal_relcol *atts; /* heap */
    /* Truncate */
    uint32_t nrelids;
    uint32_t *relids; /* heap */
    /* Message */
    const char *prefix;
    const char *content;
    uint32_t content_len;
} wal_msg;

/* Decode one pgoutput message (protocol version 1) of `len` bytes into *m (zeroed
 * first). False with a message naming the offset when it is malformed; *m is then
 * cleared. */
bool wal_decode(const char *data, size_t len, wal_msg *m, char *err, size_t errsz);

/* Free what wal_decode allocated and zero *m; NULL is a no-op. */
void wal_msg_clear(wal_msg *m);

/* "16/B374D848" → 0x16B374D848. False on bad input. */
bool wal_parse_lsn(const char *text, uint64_t *out);

/* Format an LSN as PostgreSQL does into out (at least 20 bytes). */
void wal_format_lsn(uint64_t lsn, char *out, size_t n);

#endif
