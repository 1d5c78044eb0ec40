/* bridge_wal — the "capture": "wal" consumer: stream the slot, re-read the rows each change names, write them
 * with the commit LSN as their external version, and confirm the slot only past what the store answered for. */
#include "versync/bridge/wal.h"

#include "versync/common/buf.h"
#include "versync/bridge/bulk.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/bridge/sql_embed.h"
#include "versync/bridge/truncate.h"
#include "versync/bridge/wal_window.h"
#include "versync/common/grow.h"
#include "versync/common/timing.h"

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The progress behind the lag in seconds: a change of state is written at most this often. */
#define PROGRESS_CHANGE_MS 1000
/* once: wait this long for the stream per step before reporting "still working". */
#define ONCE_WAIT_MS 1000
/* Microseconds between the Unix epoch and PostgreSQL's (2000-01-01). */
#define PG_EPOCH_US 946684800000000LL
/* Waits for writes in flight last at most this long between looks at the stop flag. */
#define STOP_CHECK_MS 200
/* Internal result besides 0 and WAL_ERR_*: a stop request ended a wait before anything was sent. */
#define STEP_STOPPED (-100)

/* One relation the stream described (Relation message), and how it maps to a "wal" table. */
typedef struct wal_rel {
    uint32_t relid;
    int table;   /* index into cfg.tables, or -1: not one of ours */
    int *keypos; /* per key column of the mapping: its attribute position, -1 missing */
    bool *keyident; /* per key column: part of the replica identity */
    char **attnames; /* every column's name (heap), to say which row a keyless change was */
    bool *attkey;    /* per column: part of the replica identity */
    uint16_t natts;
} wal_rel;

/* One row a change names; its id and key parts are heap strings. */
typedef struct wal_change {
    int table;
    char *id;
    char **key;
    size_t nkey;
    int64_t version; /* the commit LSN of its transaction */
    size_t order;    /* position in the stream, to keep the last change of a key */
    char op;         /* 'I', 'U', 'D' (for a dead letter) */
    int64_t ts;      /* its commit time, µs since 2000-01-01 */
    int64_t seq;     /* a retried dead letter's seq, 0 otherwise */
    int attempts;    /* a retried dead letter's attempts so far */
    uint32_t xid;    /* its transaction (Begin): re-read only once that is visible */
} wal_change;

/* One _bulk request of the stream (README, "Several writes in flight"): the coalesced changes of
 * a batch, their re-read rows and the writes built from them. FREE → BUSY (its thread sends) →
 * ANSWERED → FREE once collected, or FAILED (the store failed retryably) → BUSY again on a later
 * step once its own backoff has passed, resending only the writes the store has not answered for.
 * The backoff is the slot's, not the worker's: a batch the store keeps failing (one document it
 * answers 5xx) must not slow the later batches, which go on in the other slots. */
enum { SLOT_FREE = 0, SLOT_BUSY, SLOT_ANSWERED, SLOT_FAILED };

typedef struct wal_slot {
    int state; /* read and written under wal_stream.mu while a thread may run */
    bool threaded;
    pthread_t th;
    struct wal_stream *ws;
    bulk_sender sender; /* one per slot: its 5xx record follows the writes it resends */
    esc *own;           /* this slot's store connection (several in flight), or NULL */
    esc *bound;         /* the store the sender was set up for */
    wal_change *ch;     /* owned: the batch's changes, one per (table, id) */
    size_t nch;
    PGresult **res; /* owned, per table: the re-read rows the ops' documents point into */
    bulk_op *ops, *again;
    size_t *src, *where; /* ops[i] is the write of ch[src[i]]; again[k] is ops[where[k]] */
    bool *settled;       /* ops[i] counted (and dead-lettered) already */
    size_t nsend;
    uint64_t ticket;   /* its batch in the window */
    int64_t commit_ts; /* commit time of the last whole transaction read when it was sent */
    bool ok;
    int fails;          /* failed sends of this batch in a row */
    long long retry_at; /* FAILED: not resent before this (now_ms), 0 at once */
    char err[1024];
} wal_slot;

struct wal_stream {
    const cfg *c;
    bool once;
    PGconn *rc; /* the replication connection, NULL until connected */
    wal_window win;      /* what may be confirmed: every change at or below win.acked is answered for */
    uint64_t confirmed;  /* what we last told the server (flush) */
    uint64_t received;   /* the furthest position the server said it sent */
    uint64_t commit_end; /* end of the last Commit read */
    int64_t commit_ts;   /* its commit time (µs since 2000-01-01), 0 none */
    bool in_txn;
    int64_t txn_version;
    int64_t txn_ts; /* the commit time of the transaction being read (Begin) */
    uint32_t txn_xid; /* its xid (Begin) */
    uint64_t once_target; /* once: the marker's position, 0 before it was emitted */
    bool once_reached;
    char once_nonce[64];
    wal_rel *rels;
    size_t nrels, caprels;
    wal_change *pending;
    size_t npending, cappending, order;
    uint32_t *trunc; /* relids of a Truncate not yet applied */
    size_t ntrunc;
    uint32_t trunc_xid; /* its transaction: applied only once that is visible */
    long long last_status_ms;
    bool progress;          /* this step sent a batch or had one answered */
    long long last_progress_ms; /* when the progress for the lag in seconds was last written, 0 never */
    int last_caught_up;         /* what it said then: 1 caught up, 0 behind, -1 nothing written yet */
    bool progress_failed;       /* the last write failed (logged once until one succeeds) */
    wal_busy busy;              /* the last connection found the slot in use by another */
    wal_slot *slots;            /* wal.inflight of them */
    size_t nslots;
    pthread_mutex_t mu; /* guards slots[].state while threads send */
    pthread_cond_t cv;  /* a slot was answered */
    wal_stop stop;      /* what ends the step's waits early (run's SIGTERM) */
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t pg_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - PG_EPOCH_US;
}

static void free_change(wal_change *ch)
{
    free(ch->id);
    render_free_array(ch->key, ch->nkey);
    memset(ch, 0, sizeof *ch);
}

static void clear_pending(wal_stream *ws)
{
    for (size_t i = 0; i < ws->npending; i++)
        free_change(&ws->pending[i]);
    ws->npending = 0;
}

static void free_attnames(wal_rel *r)
{
    for (uint16_t a = 0; r->attnames && a < r->natts; a++)
        free(r->attnames[a]);
    free(r->attnames);
    free(r->attkey);
    r->attnames = NULL;
    r->attkey = NULL;
    r->natts = 0;
}

static void clear_rels(wal_stream *ws)
{
    for (size_t i = 0; i < ws->nrels; i++) {
        free(ws->rels[i].keypos);
        free(ws->rels[i].keyident);
        free_attnames(&ws->rels[i]);
    }
    ws->nrels = 0;
}

static void slots_discard(wal_stream *ws);

/* Forget the connection and everything read on it, writes in flight included (their answers are
 * awaited, not counted): the slot replays from its confirmed position. */
static void disconnect(wal_stream *ws)
{
    if (ws->rc)
        PQfinish(ws->rc);
    ws->rc = NULL;
    slots_discard(ws);
    wal_window_reset(&ws->win, ws->confirmed);
    clear_pending(ws);
    clear_rels(ws);
    free(ws->trunc);
    ws->trunc = NULL;
    ws->ntrunc = 0;
    ws->in_txn = false;
}

wal_stream *wal_stream_new(const cfg *c, bool once, char *err, size_t errsz)
{
    wal_stream *ws = calloc(1, sizeof *ws);
    if (!ws) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    ws->c = c;
    ws->once = once;
    ws->last_caught_up = -1;
    ws->nslots = c->wal_inflight > 0 ? (size_t)c->wal_inflight : 1;
    if (ws->nslots > WAL_INFLIGHT_MAX) /* slots_collect's snapshot of the states is that big */
        ws->nslots = WAL_INFLIGHT_MAX;
    if (!(ws->slots = calloc(ws->nslots, sizeof *ws->slots))) {
        free(ws);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < ws->nslots; i++)
        ws->slots[i].ws = ws;
    wal_window_init(&ws->win, 0);
    pthread_mutex_init(&ws->mu, NULL);
    pthread_cond_init(&ws->cv, NULL);
    snprintf(ws->once_nonce, sizeof ws->once_nonce, "once %ld", (long)getpid());
    return ws;
}

void wal_stream_free(wal_stream *ws)
{
    if (!ws)
        return;
    disconnect(ws);
    free(ws->rels);
    free(ws->pending);
    for (size_t i = 0; i < ws->nslots; i++) {
        bulk_sender_free(&ws->slots[i].sender);
        esc_free(ws->slots[i].own);
    }
    free(ws->slots);
    wal_window_free(&ws->win);
    pthread_mutex_destroy(&ws->mu);
    pthread_cond_destroy(&ws->cv);
    free(ws);
}

void wal_stream_set_stop(wal_stream *ws, const wal_stop *st)
{
    if (ws && st)
        ws->stop = *st;
}

int wal_stream_socket(const wal_stream *ws) { return ws && ws->rc ? PQsocket(ws->rc) : -1; }

wal_busy wal_stream_busy(const wal_stream *ws) { return ws ? ws->busy : WAL_BUSY_NO; }

/* ---- the replication connection ---------------------------------------------------------------- */

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

/* Standby status update: written up to what we received, flushed and applied up to `acked`. */
static bool send_status(wal_stream *ws, char *err, size_t errsz)
{
    unsigned char m[34];
    m[0] = 'r';
    uint64_t acked = wal_window_acked(&ws->win);
    put64(m + 1, ws->received > acked ? ws->received : acked);
    put64(m + 9, acked);
    put64(m + 17, acked);
    put64(m + 25, (uint64_t)pg_now_us());
    m[33] = 0;
    if (PQputCopyData(ws->rc, (const char *)m, sizeof m) != 1 || PQflush(ws->rc) != 0) {
        snprintf(err, errsz, "replication slot \"%s\": sending the confirmed position: %s", ws->c->wal_slot,
                 PQerrorMessage(ws->rc));
        return false;
    }
    ws->confirmed = acked;
    ws->last_status_ms = now_ms();
    return true;
}

static void one_line(char *s)
{
    char *nl = strchr(s, '\n');
    if (nl)
        *nl = '\0';
}

/* The slot is in use by another connection: set ws->busy (versync's own replication connection,
 * or another program's) and a message naming it in err. */
static void slot_holder(wal_stream *ws, PGconn *pg, char *err, size_t errsz)
{
    const char *p[] = {ws->c->wal_slot};
    char why[256];
    PGresult *r = pg_exec(pg, sql_text("wal_slot_holder"), 1, p, why, sizeof why);
    const char *pid = r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "?";
    const char *app = r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 1) ? PQgetvalue(r, 0, 1) : NULL;
    ws->busy = app && strcmp(app, WAL_APPLICATION_NAME) == 0 ? WAL_BUSY_VERSYNC : WAL_BUSY_OTHER;
    if (ws->busy == WAL_BUSY_VERSYNC)
        snprintf(err, errsz,
                 "replication slot \"%s\" is being consumed by another versync process (PID %s on the server, "
                 "application_name \"%s\"): a `versync run` (or once) streams the \"wal\" tables already",
                 ws->c->wal_slot, pid, app);
    else
        snprintf(err, errsz,
                 "replication slot \"%s\" is in use by another connection (PID %s on the server, application_name "
                 "\"%s\"): versync cannot stream it; give versync a slot of its own (wal.slot)",
                 ws->c->wal_slot, pid, app ? app : "unknown");
    PQclear(r);
}

static bool connect_stream(wal_stream *ws, PGconn *pg, char *err, size_t errsz)
{
    char *pub_i = NULL, *pub_l = NULL, *sql = NULL;
    PGresult *r = NULL;
    bool ok = false;
    char cerr[1024];
    ws->busy = WAL_BUSY_NO;
    if (!(ws->rc = pg_connect_replication(ws->c->postgres, WAL_APPLICATION_NAME, cerr, sizeof cerr))) {
        snprintf(err, errsz, "replication connection: %s", cerr);
        one_line(err);
        goto done;
    }
    /* once: mark the current end of the WAL in the stream itself (README: "once"). */
    if (ws->once && !ws->once_target) {
        const char *p[] = {ws->once_nonce};
        PGresult *m = pg_exec(pg, sql_text("wal_once_marker"), 1, p, err, errsz);
        if (!m)
            goto done;
        bool parsed = wal_parse_lsn(PQgetvalue(m, 0, 0), &ws->once_target);
        PQclear(m);
        if (!parsed) {
            snprintf(err, errsz, "cannot parse the position of the once marker");
            goto done;
        }
    }
    /* pgoutput splits publication_names as a list of identifiers: quote the name as one, then as a literal. */
    if (!(pub_i = PQescapeIdentifier(ws->rc, ws->c->wal_publication, strlen(ws->c->wal_publication))) ||
        !(pub_l = PQescapeLiteral(ws->rc, pub_i, strlen(pub_i)))) {
        snprintf(err, errsz, "quoting the publication name: %s", PQerrorMessage(ws->rc));
        goto done;
    }
    const char *vars[] = {"slot", ws->c->wal_slot, "pubs", pub_l, NULL}; /* the slot name is [a-z0-9_] (cfg) */
    if (!(sql = sql_render_vars("wal_start", vars))) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    /* The replication grammar takes no SQL comments: skip the file's leading comment lines. */
    const char *cmd = sql;
    while (strncmp(cmd, "--", 2) == 0 && strchr(cmd, '\n'))
        cmd = strchr(cmd, '\n') + 1;
    r = PQexec(ws->rc, cmd);
    if (PQresultStatus(r) != PGRES_COPY_BOTH) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "55006") == 0) {
            /* object_in_use: "replication slot … is active for PID n". PostgreSQL is fine; say who. */
            slot_holder(ws, pg, err, errsz);
            goto done;
        }
        snprintf(err, errsz, "replication slot \"%s\": %s", ws->c->wal_slot, PQerrorMessage(ws->rc));
        one_line(err);
        goto done;
    }
    ws->last_status_ms = now_ms();
    ok = true;
done:
    PQclear(r);
    PQfreemem(pub_i);
    PQfreemem(pub_l);
    free(sql);
    if (!ok)
        disconnect(ws);
    return ok;
}

/* ---- changes ------------------------------------------------------------------------------------- */

static wal_rel *find_rel(wal_stream *ws, uint32_t relid)
{
    for (size_t i = 0; i < ws->nrels; i++)
        if (ws->rels[i].relid == relid)
            return &ws->rels[i];
    return NULL;
}

static bool on_relation(wal_stream *ws, const wal_msg *m, char *err, size_t errsz)
{
    wal_rel *r = find_rel(ws, m->relid);
    if (!r) {
        if (!GROW_ARRAY(ws->rels, ws->caprels, ws->nrels + 1, 8))
            goto oom;
        r = &ws->rels[ws->nrels++];
        memset(r, 0, sizeof *r);
        r->relid = m->relid;
    }
    free(r->keypos);
    free(r->keyident);
    free_attnames(r);
    r->keypos = NULL;
    r->keyident = NULL;
    r->table = -1;
    for (size_t i = 0; i < ws->c->ntables; i++) {
        const cfg_table *t = &ws->c->tables[i];
        if (t->capture == CFG_CAPTURE_WAL && strcmp(t->schema, m->nspname) == 0 && strcmp(t->name, m->relname) == 0)
            r->table = (int)i;
    }
    if (r->table < 0)
        return true;
    const cfg_table *t = &ws->c->tables[r->table];
    if (!(r->keypos = calloc(t->nkey, sizeof *r->keypos)) || !(r->keyident = calloc(t->nkey, sizeof *r->keyident)) ||
        !(r->attnames = calloc(m->natts ? m->natts : 1, sizeof *r->attnames)) ||
        !(r->attkey = calloc(m->natts ? m->natts : 1, sizeof *r->attkey)))
        goto oom;
    for (uint16_t a = 0; a < m->natts; a++, r->natts++) {
        r->attkey[a] = m->atts[a].key || m->replident == 'f';
        if (!(r->attnames[a] = strdup(m->atts[a].name)))
            goto oom;
    }
    for (size_t k = 0; k < t->nkey; k++) {
        r->keypos[k] = -1;
        for (uint16_t a = 0; a < m->natts; a++)
            if (strcmp(m->atts[a].name, t->key[k]) == 0) {
                r->keypos[k] = a;
                r->keyident[k] = m->atts[a].key || m->replident == 'f';
            }
        if (r->keypos[k] < 0)
            log_error("%s: the replication stream has no column \"%s\" (the key): its changes cannot be synced "
                      "until the column is back",
                      t->ident, t->key[k]);
    }
    return true;
oom:
    snprintf(err, errsz, "out of memory");
    return false;
}

/* Append *ch (its table and key parts set; the id is made here) to the pending changes, which
 * own it from then on. False (ch freed) when out of memory. */
static bool push_change(wal_stream *ws, wal_change *ch)
{
    buf id = BUF_INIT;
    if (!bulk_doc_id(&id, (const char *const *)ch->key, ch->nkey) || !(ch->id = strdup(id.data ? id.data : ""))) {
        buf_free(&id);
        free_change(ch);
        return false;
    }
    buf_free(&id);
    if (!GROW_ARRAY(ws->pending, ws->cappending, ws->npending + 1, 64)) {
        free_change(ch);
        return false;
    }
    ws->pending[ws->npending++] = *ch;
    return true;
}

/* Queue the row of `t` whose key sits in `tup` (falling back to `alt` for values not sent). Returns
 * 1 queued, 0 the tuple does not carry the key (*why says which column), -1 out of memory. */
static int queue_key(wal_stream *ws, const wal_rel *r, const wal_tuple *tup, const wal_tuple *alt, char op,
                     const char **why)
{
    const cfg_table *t = &ws->c->tables[r->table];
    wal_change ch = {0};
    ch.table = r->table;
    ch.version = ws->txn_version;
    ch.order = ws->order++;
    ch.op = op;
    ch.ts = ws->txn_ts;
    ch.xid = ws->txn_xid;
    ch.nkey = t->nkey;
    if (!(ch.key = calloc(t->nkey, sizeof *ch.key)))
        return -1;
    for (size_t k = 0; k < t->nkey; k++) {
        int pos = r->keypos[k];
        const wal_value *v = pos >= 0 && pos < tup->ncols ? &tup->cols[pos] : NULL;
        if (v && v->kind == 'u' && alt && pos < alt->ncols)
            v = &alt->cols[pos];
        if (!v || v->kind == 'u' || (v->kind == 'n' && !r->keyident[k])) {
            *why = t->key[k];
            free_change(&ch);
            return 0;
        }
        if (v->kind != 'n' && !(ch.key[k] = strndup(v->data, v->len))) {
            free_change(&ch);
            return -1;
        }
    }
    return push_change(ws, &ch) ? 1 : -1;
}

static bool same_key(const wal_rel *r, const wal_tuple *a, const wal_tuple *b, size_t nkey)
{
    for (size_t k = 0; k < nkey; k++) {
        int pos = r->keypos[k];
        if (pos < 0 || pos >= a->ncols || pos >= b->ncols)
            return false;
        const wal_value *x = &a->cols[pos], *y = &b->cols[pos];
        if (x->kind == 'u' || y->kind == 'u')
            continue; /* not sent: unchanged */
        if (x->kind != y->kind || x->len != y->len || (x->len && memcmp(x->data, y->data, x->len) != 0))
            return false;
    }
    return true;
}

/* "(id, code)=(1, NULL)": the columns a keyless change carried, to tell the row in its dead letter. */
static void describe_tuple(buf *b, const wal_rel *r, const wal_tuple *tup, bool identity_only)
{
    buf vals = BUF_INIT;
    size_t n = 0;
    for (uint16_t a = 0; a < tup->ncols && a < r->natts && b->len < 400; a++) {
        const wal_value *v = &tup->cols[a];
        if (v->kind == 'u' || (identity_only && !r->attkey[a]))
            continue;
        buf_puts(b, n ? ", " : "(");
        buf_puts(b, r->attnames[a]);
        buf_puts(&vals, n++ ? ", " : "(");
        if (v->kind == 'n')
            buf_puts(&vals, "NULL");
        else
            buf_printf(&vals, "%.*s", (int)(v->len > 100 ? 100 : v->len), v->data);
    }
    if (n)
        buf_printf(b, ")=%s)", vals.data ? vals.data : "");
    else
        buf_puts(b, "(nothing)");
    buf_free(&vals);
}

static bool on_change(wal_stream *ws, PGconn *pg, const wal_msg *m, worker_counters *delta, char *err,
                      size_t errsz)
{
    const wal_rel *r = find_rel(ws, m->relid);
    if (!r || r->table < 0)
        return true;
    const cfg_table *t = &ws->c->tables[r->table];
    const char *why = NULL;
    int q = 1;
    const wal_tuple *named = m->kind == WAL_MSG_DELETE ? &m->old_tuple : &m->new_tuple;
    if (m->kind == WAL_MSG_INSERT)
        q = queue_key(ws, r, &m->new_tuple, NULL, 'I', &why);
    else if (m->kind == WAL_MSG_UPDATE) {
        const wal_tuple *old = m->old_kind ? &m->old_tuple : NULL;
        q = queue_key(ws, r, &m->new_tuple, old, 'U', &why);
        /* A key changed: the old key's document goes too (its re-read finds no row). */
        if (q == 1 && old && !same_key(r, old, &m->new_tuple, t->nkey)) {
            named = old;
            q = queue_key(ws, r, old, NULL, 'U', &why);
        }
    } else
        q = queue_key(ws, r, &m->old_tuple, NULL, 'D', &why);
    if (q < 0) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    if (q == 0) {
        /* Nothing names the document: it can never be written, so say so every time, and keep it
         * as a dead letter (without a key) so `versync deadletters` shows it. */
        buf e = BUF_INIT;
        buf_printf(&e,
                   "a %s in the WAL (commit %" PRId64 ") of the row whose replica identity is ",
                   m->kind == WAL_MSG_DELETE ? "delete" : "change", ws->txn_version);
        describe_tuple(&e, r, named, named == &m->old_tuple && m->old_kind == 'K');
        buf_printf(&e,
                   " carries no value of key column \"%s\", so versync cannot tell which document it changes; "
                   "not synced. Make the replica identity hold the key: ALTER TABLE %s REPLICA IDENTITY USING "
                   "INDEX <a unique index on the key> (or FULL), then run versync backfill %s",
                   why ? why : "?", t->ident, t->ident);
        if (!buf_ok(&e)) {
            buf_free(&e);
            snprintf(err, errsz, "out of memory");
            return false;
        }
        log_error("%s: %s", t->ident, e.data);
        wal_dead d = {.tbl = t->ident,
                      .op = m->kind == WAL_MSG_DELETE ? 'D' : m->kind == WAL_MSG_INSERT ? 'I' : 'U',
                      .version = ws->txn_version,
                      .commit_ts = ws->txn_ts,
                      .error = e.data};
        bool ok = wal_dead_record(pg, ws->c, &d, err, errsz);
        buf_free(&e);
        if (!ok)
            return false;
        delta->dead_letters++;
    }
    return true;
}

/* ---- writing ------------------------------------------------------------------------------------- */

static int cmp_change(const void *a, const void *b)
{
    const wal_change *x = a, *y = b;
    if (x->table != y->table)
        return x->table < y->table ? -1 : 1;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_id(const void *key, const void *elem)
{
    const wal_change *e = elem;
    return strcmp((const char *)key, e->id);
}

/* Re-read the rows of table `ti` named by uniq[0..n) (sorted by id) and fill ops[0..n). */
static bool build_ops(wal_stream *ws, PGconn *pg, int ti, wal_change *uniq, size_t n, bulk_op *ops, bool *skip,
                      PGresult **res, char *err, size_t errsz)
{
    const cfg_table *t = &ws->c->tables[ti];
    buf *arrs = calloc(t->nkey, sizeof *arrs);
    const char **params = calloc(t->nkey, sizeof *params);
    const char **items = calloc(n ? n : 1, sizeof *items);
    char *sql = NULL;
    bool ok = false;
    buf id = BUF_INIT;
    if (!arrs || !params || !items)
        goto oom;
    for (size_t k = 0; k < t->nkey; k++) {
        for (size_t i = 0; i < n; i++)
            items[i] = uniq[i].key[k];
        if (!render_array_literal(&arrs[k], items, n))
            goto oom;
        params[k] = arrs[k].data;
    }
    if (!(sql = render_reread(pg, t, err, errsz)))
        goto done;
    *res = PQexecParams(pg, sql, (int)t->nkey, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(*res) != PGRES_TUPLES_OK) {
        snprintf(err, errsz, "%s: re-reading the changed rows: %s", t->ident, PQresultErrorMessage(*res));
        one_line(err);
        goto done;
    }
    /* Rows gone by now: a delete (their re-read found nothing). */
    for (size_t i = 0; i < n; i++) {
        bulk_op *op = &ops[i];
        memset(op, 0, sizeof *op);
        op->index = t->index;
        op->id = uniq[i].id;
        op->id_len = strlen(uniq[i].id);
        op->is_delete = true;
        op->vtype = BULK_VT_EXTERNAL;
        op->version = uniq[i].version;
        skip[i] = t->deletes_ignore;
    }
    for (int row = 0; row < PQntuples(*res); row++) {
        char **parts;
        size_t np;
        if (!render_parse_text_array(PQgetvalue(*res, row, RENDER_COL_KEY), &parts, &np))
            goto oom;
        buf_reset(&id);
        bool idok = bulk_doc_id(&id, (const char *const *)parts, np);
        render_free_array(parts, np);
        if (!idok)
            goto oom;
        wal_change *hit = bsearch(id.data ? id.data : "", uniq, n, sizeof *uniq, cmp_id);
        if (!hit)
            continue; /* a composite key's cross product: not one of ours */
        size_t i = (size_t)(hit - uniq);
        bool deleted = !PQgetisnull(*res, row, RENDER_COL_DELETED) &&
                       strcmp(PQgetvalue(*res, row, RENDER_COL_DELETED), "t") == 0;
        ops[i].is_delete = deleted;
        skip[i] = deleted && t->deletes_ignore;
        if (!deleted) {
            ops[i].doc = PQgetvalue(*res, row, RENDER_COL_DOC);
            ops[i].doc_len = (size_t)PQgetlength(*res, row, RENDER_COL_DOC);
        }
    }
    ok = true;
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
done:
    for (size_t k = 0; arrs && k < t->nkey; k++)
        buf_free(&arrs[k]);
    buf_free(&id);
    free(arrs);
    free(params);
    free(items);
    free(sql);
    return ok;
}

/* ---- writes in flight (README, "Several writes in flight") ------------------------------------- */

/* Free what a slot's batch holds (not its sender or connection) and make it FREE. */
static void slot_clear(wal_slot *s, size_t ntables)
{
    for (size_t i = 0; i < s->nch; i++)
        free_change(&s->ch[i]);
    free(s->ch);
    for (size_t i = 0; s->res && i < ntables; i++)
        PQclear(s->res[i]);
    free(s->res);
    free(s->ops);
    free(s->again);
    free(s->src);
    free(s->where);
    free(s->settled);
    s->ch = NULL;
    s->res = NULL;
    s->ops = s->again = NULL;
    s->src = s->where = NULL;
    s->settled = NULL;
    s->nch = s->nsend = 0;
    s->ticket = 0;
    s->fails = 0;
    s->retry_at = 0;
    s->state = SLOT_FREE;
}

/* Send the writes of s the store has not answered for (all, the first time), with the one sender
 * and its one classification (bulk.h). */
static void slot_send(wal_slot *s)
{
    size_t m = 0;
    for (size_t i = 0; i < s->nsend; i++)
        if (s->ops[i].outcome == BULK_RETRY) {
            s->again[m] = s->ops[i];
            s->where[m++] = i;
        }
    s->err[0] = '\0';
    s->ok = bulk_send(&s->sender, s->again, m, s->err, sizeof s->err);
    for (size_t k = 0; k < m; k++)
        s->ops[s->where[k]] = s->again[k];
}

static void *slot_thread(void *arg)
{
    wal_slot *s = arg;
    slot_send(s);
    pthread_mutex_lock(&s->ws->mu);
    s->state = SLOT_ANSWERED;
    pthread_cond_broadcast(&s->ws->cv);
    pthread_mutex_unlock(&s->ws->mu);
    return NULL;
}

/* Start sending s: on this thread when one write is in flight at a time (wal.inflight 1, on the
 * caller's store connection), else on a thread of its own with its own connection. */
static bool slot_start(wal_stream *ws, wal_slot *s, esc *store, char *err, size_t errsz)
{
    esc *use = store;
    if (ws->nslots > 1) {
        if (!s->own && !(s->own = esc_new(&ws->c->store, err, errsz)))
            return false;
        use = s->own;
    }
    if (s->bound != use) {
        bulk_sender_free(&s->sender);
        bulk_sender_init(&s->sender, use,
                         ws->c->store.max_bulk_bytes > 0 ? (size_t)ws->c->store.max_bulk_bytes : 0);
        /* As the trigger path: an item answered 5xx this often is given up (a dead letter). */
        s->sender.max_item_retries = ws->c->store.max_item_retries;
        s->bound = use;
    }
    s->threaded = false;
    if (ws->nslots > 1) {
        pthread_mutex_lock(&ws->mu);
        s->state = SLOT_BUSY;
        pthread_mutex_unlock(&ws->mu);
        if (pthread_create(&s->th, NULL, slot_thread, s) == 0) {
            s->threaded = true;
            return true;
        }
        /* No thread to be had: send it here rather than not at all. */
    }
    slot_send(s);
    s->state = SLOT_ANSWERED;
    return true;
}

/* Count the answers of an answered slot, record its dead letters and tell the window. Returns 0,
 * WAL_ERR_STORE (the slot is FAILED: resent by a step after its backoff) or WAL_ERR_PG (a dead
 * letter could not be recorded: those writes are resent, refused again and recorded then). */
static int slot_finish(wal_stream *ws, wal_slot *s, PGconn *pg, worker_counters *delta, char *err, size_t errsz)
{
    if (s->threaded)
        pthread_join(s->th, NULL);
    s->threaded = false;
    if (!s->ok) {
        s->state = SLOT_FAILED;
        s->fails++;
        delta->retries++;
        snprintf(err, errsz, "%s", s->err);
        if (ws->nslots == 1)
            return WAL_ERR_STORE; /* nothing else goes on: the worker's backoff is the one */
        s->retry_at = now_ms() + timing_retry_ms(s->fails - 1, s->sender.retry_after_ms);
        if (s->fails == 1)
            log_warn("%s; this batch of %zu writes is sent again with backoff while later batches go on (the "
                     "slot is confirmed only up to it)",
                     s->err, s->nsend);
        return WAL_ERR_STORE;
    }
    if (s->fails > 0 && ws->nslots > 1)
        log_info("a batch of %zu writes the store failed %d time%s is answered now", s->nsend, s->fails,
                 s->fails == 1 ? "" : "s");
    ws->progress = true;
    for (size_t i = 0; i < s->nsend; i++) {
        bulk_op *op = &s->ops[i];
        if (s->settled[i])
            continue;
        if (op->outcome == BULK_APPLIED)
            delta->applied++;
        else if (op->outcome == BULK_STALE)
            delta->stale++;
        else {
            /* Refused for good: a dead letter (README, "Dead letters"), recorded before the slot
             * moves past it. */
            const wal_change *ch = &s->ch[s->src[i]];
            log_error("%s: document %.*s (version %" PRId64 ") refused by the store (HTTP %d): %s; not synced, "
                      "kept as a dead letter",
                      op->index, (int)op->id_len, op->id, op->version, op->status, op->error);
            wal_dead d = {.tbl = ws->c->tables[ch->table].ident,
                          .key = ch->key,
                          .nkey = ch->nkey,
                          .op = op->is_delete ? 'D' : ch->op == 'D' ? 'U' : ch->op,
                          .version = op->version,
                          .commit_ts = ch->ts,
                          .error = op->error,
                          .http_status = op->status,
                          .seq = ch->seq,
                          .attempts = ch->attempts};
            if (!wal_dead_record(pg, ws->c, &d, err, errsz)) {
                for (size_t j = i; j < s->nsend; j++)
                    if (!s->settled[j] && s->ops[j].outcome != BULK_APPLIED && s->ops[j].outcome != BULK_STALE)
                        s->ops[j].outcome = BULK_RETRY;
                s->state = SLOT_FAILED;
                return WAL_ERR_PG;
            }
            delta->dead_letters++;
        }
        s->settled[i] = true;
    }
    /* Apply lag: from the last commit read when the batch was sent to now that it is answered. */
    if (s->commit_ts) {
        long long lag = (pg_now_us() - s->commit_ts) / 1000;
        delta->lag_ms = lag < 0 ? 0 : lag;
    }
    wal_window_done(&ws->win, s->ticket);
    slot_clear(s, ws->c->ntables);
    return 0;
}

/* Collect every answered slot, first waiting up to wait_ms for one when some are busy and none is
 * answered. Returns how many it collected, or WAL_ERR_PG (err set) when a dead letter could not be
 * recorded; the others are collected all the same. A slot the store failed is no error here: it
 * stays FAILED (its err says why) until a later step resends it, and this one goes on. */
static int slots_collect(wal_stream *ws, PGconn *pg, worker_counters *delta, long wait_ms, char *err,
                         size_t errsz)
{
    pthread_mutex_lock(&ws->mu);
    if (wait_ms > 0) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        for (;;) {
            bool busy = false, answered = false;
            for (size_t i = 0; i < ws->nslots; i++) {
                busy = busy || ws->slots[i].state == SLOT_BUSY;
                answered = answered || ws->slots[i].state == SLOT_ANSWERED;
            }
            if (answered || !busy || pthread_cond_timedwait(&ws->cv, &ws->mu, &until) != 0)
                break;
        }
    }
    bool answered[WAL_INFLIGHT_MAX] = {0};
    for (size_t i = 0; i < ws->nslots; i++)
        answered[i] = ws->slots[i].state == SLOT_ANSWERED;
    pthread_mutex_unlock(&ws->mu);
    int n = 0, rc = 0;
    char later[1024]; /* a later failure's message: the first one is reported */
    for (size_t i = 0; i < ws->nslots; i++) {
        if (!answered[i])
            continue;
        int r = slot_finish(ws, &ws->slots[i], pg, delta, rc ? later : err, rc ? sizeof later : errsz);
        if (r == WAL_ERR_STORE)
            continue;
        if (r < 0 && rc == 0)
            rc = r;
        n += r == 0;
    }
    return rc ? rc : n;
}

/* The first FAILED slot, or NULL. */
static const wal_slot *slot_failed(const wal_stream *ws)
{
    for (size_t i = 0; i < ws->nslots; i++)
        if (ws->slots[i].state == SLOT_FAILED)
            return &ws->slots[i];
    return NULL;
}

/* Send again, on their own slots, the batches the store failed whose backoff has passed. */
static bool slots_resend(wal_stream *ws, esc *store, char *err, size_t errsz)
{
    long long now = now_ms();
    for (size_t i = 0; i < ws->nslots; i++)
        if (ws->slots[i].state == SLOT_FAILED && now >= ws->slots[i].retry_at &&
            !slot_start(ws, &ws->slots[i], store, err, errsz))
            return false;
    return true;
}

/* A FREE slot, waiting for (and collecting) answers while all are busy; NULL with *rc STEP_STOPPED
 * when a stop was asked for meanwhile (no new batch starts then), WAL_ERR_STORE when every slot
 * holds a failed batch (err says why), or the collect's WAL_ERR_PG. A failed batch stays FAILED
 * (resent after its backoff, never confirmed past) while the other slots take the next ones:
 * stopping at it instead stalled every later batch behind one the store keeps refusing. */
static wal_slot *slot_free(wal_stream *ws, PGconn *pg, worker_counters *delta, int *rc, char *err, size_t errsz)
{
    for (;;) {
        bool waiting = false;
        for (size_t i = 0; i < ws->nslots; i++) {
            if (ws->slots[i].state == SLOT_FREE)
                return &ws->slots[i];
            waiting = waiting || ws->slots[i].state != SLOT_FAILED;
        }
        if (wal_stop_requested(&ws->stop)) {
            *rc = STEP_STOPPED;
            return NULL;
        }
        if (!waiting) {
            snprintf(err, errsz, "%s", slot_failed(ws)->err);
            *rc = WAL_ERR_STORE;
            return NULL;
        }
        int r = slots_collect(ws, pg, delta, STOP_CHECK_MS, err, errsz);
        if (r < 0) {
            *rc = r;
            return NULL;
        }
    }
}

/* Wait until every batch sent is answered for (before a Truncate, before once stops, and when
 * stopping). 0, WAL_ERR_* when one failed (it is resent on the next step), or STEP_STOPPED when a
 * stop was asked for meanwhile and `stoppable`. */
static int slots_drain(wal_stream *ws, PGconn *pg, worker_counters *delta, bool stoppable, char *err,
                       size_t errsz)
{
    while (wal_window_open_count(&ws->win)) {
        const wal_slot *f = slot_failed(ws);
        if (f) {
            snprintf(err, errsz, "%s", f->err[0] ? f->err : "a write failed");
            return WAL_ERR_STORE;
        }
        if (stoppable && wal_stop_requested(&ws->stop))
            return STEP_STOPPED;
        int r = slots_collect(ws, pg, delta, STOP_CHECK_MS, err, errsz);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Wait for the writes in flight and drop every batch unanswered (the stream is read again). */
static void slots_discard(wal_stream *ws)
{
    for (size_t i = 0; ws->slots && i < ws->nslots; i++) {
        wal_slot *s = &ws->slots[i];
        if (s->threaded)
            pthread_join(s->th, NULL);
        s->threaded = false;
        slot_clear(s, ws->c->ntables);
    }
}

/* Wait until every transaction of the pending changes is visible to a new snapshot on `pg`
 * (wal_xids_visible.sql says why), so their re-reads see them. 0, STEP_STOPPED (a stop was asked
 * for first: they stay pending), or WAL_ERR_PG with err set. */
static int wait_visible(wal_stream *ws, PGconn *pg, char *err, size_t errsz)
{
    uint32_t *xids = malloc((ws->npending ? ws->npending : 1) * sizeof *xids);
    if (!xids) {
        snprintf(err, errsz, "out of memory");
        return WAL_ERR_PG;
    }
    for (size_t i = 0; i < ws->npending; i++)
        xids[i] = ws->pending[i].xid;
    int v = wal_visible_wait(pg, xids, ws->npending, &ws->stop, WAL_VISIBLE_WAIT_MS, ws->c->wal_slot, err, errsz);
    free(xids);
    return v > 0 ? 0 : v == 0 ? STEP_STOPPED : WAL_ERR_PG;
}

/* Send every pending change: one write per row and table (the last change of a row in the batch;
 * its version is the greatest), re-read now, on a free slot (waiting for one while all are busy).
 * 0 when sent (the pending changes are the slot's then), or STEP_STOPPED or WAL_ERR_* with the
 * changes kept. */
static int apply_pending(wal_stream *ws, PGconn *pg, esc *store, worker_counters *delta, char *err, size_t errsz)
{
    if (!ws->npending)
        return 0;
    int rc = WAL_ERR_PG;
    wal_slot *slot = slot_free(ws, pg, delta, &rc, err, errsz);
    if (!slot)
        return rc;
    if ((rc = wait_visible(ws, pg, err, errsz)) != 0)
        return rc;
    rc = WAL_ERR_PG;
    qsort(ws->pending, ws->npending, sizeof *ws->pending, cmp_change);
    /* Keep the last change of each (table, id): sorted by order within a run. */
    size_t n = 0;
    for (size_t i = 0; i < ws->npending; i++) {
        bool last = i + 1 == ws->npending || ws->pending[i + 1].table != ws->pending[i].table ||
                    strcmp(ws->pending[i + 1].id, ws->pending[i].id) != 0;
        if (!last) {
            free_change(&ws->pending[i]);
            delta->coalesced++;
            continue;
        }
        ws->pending[n++] = ws->pending[i];
    }
    size_t changes = ws->npending;
    ws->npending = n;
    bulk_op *ops = calloc(n ? n : 1, sizeof *ops), *again = calloc(n ? n : 1, sizeof *again);
    bool *skip = calloc(n ? n : 1, sizeof *skip), *settled = calloc(n ? n : 1, sizeof *settled);
    size_t *src = calloc(n ? n : 1, sizeof *src), *where = calloc(n ? n : 1, sizeof *where);
    PGresult **res = calloc(ws->c->ntables, sizeof *res);
    if (!ops || !again || !skip || !settled || !src || !where || !res) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ws->pending[j].table == ws->pending[i].table)
            j++;
        int ti = ws->pending[i].table;
        if (!build_ops(ws, pg, ti, &ws->pending[i], j - i, &ops[i], &skip[i], &res[ti], err, errsz))
            goto done;
        i = j;
    }
    /* Skipped ops ("deletes": "ignore") are left out so the rest go in one array. */
    size_t nsend = 0;
    for (size_t i = 0; i < n; i++)
        if (!skip[i]) {
            src[nsend] = i;
            ops[nsend] = ops[i];
            ops[nsend++].outcome = BULK_RETRY; /* not answered for yet: slot_send sends these */
        }
    delta->skipped += (long long)(n - nsend);
    delta->changes += (long long)changes;
    delta->batches++;
    /* The batch is the slot's from here: the window holds its place in the stream. */
    slot->ch = ws->pending;
    slot->nch = n;
    ws->pending = NULL;
    ws->npending = ws->cappending = 0;
    slot->res = res;
    slot->ops = ops;
    slot->again = again;
    slot->src = src;
    slot->where = where;
    slot->settled = settled;
    slot->nsend = nsend;
    slot->commit_ts = ws->commit_ts;
    res = NULL;
    ops = again = NULL;
    src = where = NULL;
    settled = NULL;
    if (!(slot->ticket = wal_window_open(&ws->win, ws->commit_end))) {
        /* Nothing sent: these are read again from the slot after the reconnection this causes. */
        snprintf(err, errsz, "out of memory");
        slot_clear(slot, ws->c->ntables);
        disconnect(ws);
        goto done;
    }
    if (!slot_start(ws, slot, store, err, errsz)) {
        slot->state = SLOT_FAILED;
        snprintf(slot->err, sizeof slot->err, "%s", err);
        rc = WAL_ERR_STORE;
        goto done;
    }
    ws->progress = true;
    rc = 0;
done:
    for (size_t i = 0; res && i < ws->c->ntables; i++)
        PQclear(res[i]);
    free(res);
    free(ops);
    free(again);
    free(skip);
    free(settled);
    free(src);
    free(where);
    return rc;
}

/* Apply a Truncate read from the stream, as the trigger path does (truncate.h), once its transaction
 * is visible: the stream sends it a moment before, while the truncating transaction still holds its
 * ACCESS EXCLUSIVE lock; truncate_apply's read of the table would wait on that lock inside libpq,
 * where no stop signal is seen (as long as a synchronous standby takes). Waiting here is
 * interruptible, and once the transaction is visible the lock goes at once. 0, STEP_STOPPED (it
 * stays to apply) or WAL_ERR_*. */
static int apply_truncate(wal_stream *ws, PGconn *pg, esc *store, worker_counters *delta, char *err, size_t errsz)
{
    int v = wal_visible_wait(pg, &ws->trunc_xid, 1, &ws->stop, WAL_VISIBLE_WAIT_MS, ws->c->wal_slot, err, errsz);
    if (v <= 0)
        return v == 0 ? STEP_STOPPED : WAL_ERR_PG;
    char *schema_q = pg_quote_ident(pg, ws->c->schema, err, errsz);
    if (!schema_q)
        return WAL_ERR_PG;
    int rc = 0;
    for (size_t i = 0; i < ws->ntrunc && rc == 0; i++) {
        const wal_rel *r = find_rel(ws, ws->trunc[i]);
        if (!r || r->table < 0)
            continue;
        const cfg_table *t = &ws->c->tables[r->table];
        truncate_counts tc = {0};
        if (!pg_run(pg, "BEGIN", 0, NULL, err, errsz))
            rc = WAL_ERR_PG;
        int tr = rc ? TRUNCATE_ERR_PG : truncate_apply(pg, store, schema_q, t, &tc, err, errsz);
        if (tr == TRUNCATE_OK || tr == TRUNCATE_UNLISTABLE) {
            if (!pg_run(pg, "COMMIT", 0, NULL, err, errsz))
                rc = WAL_ERR_PG;
            else {
                log_info("%s: truncated: %lld documents deleted, %lld kept (their row exists again)", t->ident,
                         tc.deleted, tc.kept);
                delta->applied += tc.deleted;
                delta->skipped++;
            }
        } else {
            char ignore[64];
            pg_run(pg, "ROLLBACK", 0, NULL, ignore, sizeof ignore);
            rc = tr == TRUNCATE_ERR_STORE ? WAL_ERR_STORE : WAL_ERR_PG;
        }
        if (rc == 0) {
            /* Done: not again if a later table of the same message fails. */
            ws->trunc[i] = 0;
        }
    }
    free(schema_q);
    if (rc == 0) {
        free(ws->trunc);
        ws->trunc = NULL;
        ws->ntrunc = 0;
    }
    return rc;
}

/* ---- reading ------------------------------------------------------------------------------------- */

static uint64_t get64(const char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | (unsigned char)p[i];
    return v;
}

/* Handle one CopyData message. Sets *stop when reading must pause (a Truncate to apply). */
/* A retry of a dead letter (versync deadletters retry): queue it as a change of the transaction
 * that carried it, so it is re-read and written with that commit LSN. */
static bool on_retry(wal_stream *ws, PGconn *pg, const wal_msg *m, worker_counters *delta, char *err,
                     size_t errsz)
{
    wal_retry rt;
    char why[256];
    int p = wal_retry_parse(ws->c, m->content ? m->content : "", m->content_len, &rt, why, sizeof why);
    if (p < 0) {
        log_error("replication slot \"%s\": ignoring a malformed retry message at %" PRIu64 ": %s", ws->c->wal_slot,
                  m->lsn, why);
        return true;
    }
    if (p == 0)
        return true;
    int64_t version = ws->in_txn ? ws->txn_version : (int64_t)m->lsn;
    bool ok = true;
    if (rt.table < 0 || rt.nkey != ws->c->tables[rt.table].nkey) {
        /* The config changed since: the dead letter goes back where it was, saying why. */
        char e[512];
        snprintf(e, sizeof e, "retried, but %s is not a \"capture\": \"wal\" table with a %zu-column key in the "
                 "config now; retry it again under the config that captures it", rt.tbl, rt.nkey);
        wal_dead d = {.tbl = rt.tbl, .key = rt.key, .nkey = rt.nkey, .op = rt.op, .version = version,
                      .commit_ts = ws->txn_ts, .error = e, .seq = rt.seq, .attempts = rt.attempts};
        log_error("%s", e);
        ok = wal_dead_record(pg, ws->c, &d, err, errsz);
        if (ok)
            delta->dead_letters++;
    } else {
        wal_change ch = {.table = rt.table, .key = rt.key, .nkey = rt.nkey, .version = version,
                         .order = ws->order++, .op = rt.op, .ts = ws->txn_ts, .xid = ws->txn_xid, .seq = rt.seq,
                         .attempts = rt.attempts};
        rt.key = NULL; /* owned by ch now */
        rt.nkey = 0;
        if (!push_change(ws, &ch)) {
            snprintf(err, errsz, "out of memory");
            ok = false;
        }
    }
    wal_retry_clear(&rt);
    return ok;
}

static bool on_copy(wal_stream *ws, PGconn *pg, const char *b, int n, bool *stop, bool *reply,
                    worker_counters *delta, char *err, size_t errsz)
{
    if (n >= 18 && b[0] == 'k') {
        uint64_t end = get64(b + 1);
        if (end > ws->received)
            ws->received = end;
        /* Everything before `end` was decoded and sent to us: with nothing of ours open or
         * unwritten, the slot may move past WAL that held nothing for us. */
        if (!ws->in_txn && !ws->npending && !ws->ntrunc)
            wal_window_mark(&ws->win, end); /* after the writes in flight: a failed mark waits for the next */
        *reply = *reply || b[17];
        return true;
    }
    if (n < 25 || b[0] != 'w')
        return true;
    wal_msg m;
    if (!wal_decode(b + 25, (size_t)n - 25, &m, err, errsz))
        return false;
    bool ok = true;
    switch (m.kind) {
    case WAL_MSG_BEGIN:
        ws->in_txn = true;
        ws->txn_version = (int64_t)m.lsn;
        ws->txn_ts = m.ts;
        ws->txn_xid = m.xid;
        break;
    case WAL_MSG_COMMIT:
        ws->in_txn = false;
        ws->commit_end = m.end_lsn;
        ws->commit_ts = m.ts;
        if (m.end_lsn > ws->received)
            ws->received = m.end_lsn;
        break;
    case WAL_MSG_RELATION:
        ok = on_relation(ws, &m, err, errsz);
        break;
    case WAL_MSG_INSERT:
    case WAL_MSG_UPDATE:
    case WAL_MSG_DELETE:
        ok = on_change(ws, pg, &m, delta, err, errsz);
        break;
    case WAL_MSG_TRUNCATE:
        if (m.nrelids) {
            ws->trunc = m.relids;
            ws->ntrunc = m.nrelids;
            ws->trunc_xid = ws->txn_xid;
            m.relids = NULL;
            m.nrelids = 0;
            *stop = true;
        }
        break;
    case WAL_MSG_MESSAGE:
        if (m.prefix && strcmp(m.prefix, WAL_RETRY_PREFIX) == 0) {
            ok = on_retry(ws, pg, &m, delta, err, errsz);
            break;
        }
        if (ws->once && m.prefix && strcmp(m.prefix, "versync") == 0 && m.lsn >= ws->once_target &&
            ws->once_target)
            ws->once_reached = true;
        if (ws->once_reached)
            *stop = true;
        break;
    default:
        break;
    }
    wal_msg_clear(&m);
    return ok;
}

/* Close the stream so the server has processed our last status before we go. */
static void finish_stream(wal_stream *ws)
{
    if (!ws->rc)
        return;
    if (PQputCopyEnd(ws->rc, NULL) == 1 && PQflush(ws->rc) == 0) {
        char *b;
        long long deadline = now_ms() + 5000;
        while (now_ms() < deadline) {
            int n = PQgetCopyData(ws->rc, &b, 1);
            if (n > 0) {
                PQfreemem(b);
                continue;
            }
            if (n < 0)
                break;
            struct pollfd pfd = {PQsocket(ws->rc), POLLIN, 0};
            if (poll(&pfd, 1, 100) > 0 && !PQconsumeInput(ws->rc))
                break;
        }
        PGresult *r;
        while ((r = PQgetResult(ws->rc)))
            PQclear(r);
    }
    PQfinish(ws->rc);
    ws->rc = NULL;
}

/* Report progress for the lag in seconds (wal_progress_set.sql) every WAL_STREAM_STATUS_MS, within
 * PROGRESS_CHANGE_MS when `caught_up` changed, or now when `force`: one small write on the source
 * every few seconds. Informational: a failure is logged (once until one succeeds), not fatal. */
static void write_progress(wal_stream *ws, PGconn *pg, bool caught_up, bool force)
{
    long long now = now_ms();
    /* A change of state is written within a second (not at every step under load, where it flips). */
    long long every = ws->last_caught_up == (int)caught_up ? WAL_STREAM_STATUS_MS : PROGRESS_CHANGE_MS;
    if (!force && ws->last_progress_ms && now - ws->last_progress_ms < every)
        return;
    char key[128], val[96], err[512];
    snprintf(key, sizeof key, WAL_PROGRESS_KEY_PREFIX "%s", ws->c->wal_slot);
    snprintf(val, sizeof val, "%d %" PRId64 " %" PRId64, caught_up ? 1 : 0,
             (int64_t)(ws->commit_ts ? ws->commit_ts + PG_EPOCH_US : 0), (int64_t)(pg_now_us() + PG_EPOCH_US));
    char *schema_q = pg_quote_ident(pg, ws->c->schema, err, sizeof err);
    char *sql = schema_q ? sql_render("wal_progress_set", schema_q) : NULL;
    const char *p[] = {key, val};
    bool ok = sql && pg_run(pg, sql, 2, p, err, sizeof err);
    if (!sql && schema_q)
        snprintf(err, sizeof err, "out of memory");
    free(schema_q);
    free(sql);
    ws->last_progress_ms = now; /* not again at once after a failure either */
    if (ok) {
        ws->last_caught_up = caught_up;
        ws->progress_failed = false;
    } else if (!ws->progress_failed) {
        ws->progress_failed = true;
        one_line(err);
        log_warn("replication slot \"%s\": recording progress for the lag in seconds: %s (status shows it as "
                 "unknown or old until this works)",
                 ws->c->wal_slot, err);
    }
}

static int stream_step(wal_stream *ws, PGconn *pg, esc *store, worker_counters *delta, char *err, size_t errsz)
{
    int did = 0;
    /* First what a failed step left: batches the store failed (resent), changes read from the
     * stream but not sent (they are not read again), a Truncate (after every write before it). */
    if (!slots_resend(ws, store, err, errsz))
        return WAL_ERR_STORE;
    int rc = apply_pending(ws, pg, store, delta, err, errsz);
    if (rc == 0)
        rc = slots_collect(ws, pg, delta, 0, err, errsz);
    if (rc >= 0 && ws->ntrunc && (rc = slots_drain(ws, pg, delta, true, err, errsz)) == 0)
        rc = apply_truncate(ws, pg, store, delta, err, errsz);
    if (rc == STEP_STOPPED)
        return 1; /* the caller sees the stop; nothing of it was sent or confirmed */
    if (rc < 0)
        return rc;
    if (!ws->rc && !connect_stream(ws, pg, err, errsz))
        return ws->busy ? WAL_ERR_BUSY : WAL_ERR_PG;
    size_t batch = ws->c->batch_size > 0 ? (size_t)ws->c->batch_size : 500;
    bool stop = false, reply = false, drained = false;
    while (!stop && ws->npending < batch && !(ws->once_reached && !ws->in_txn)) {
        char *b = NULL;
        int n = PQgetCopyData(ws->rc, &b, 1);
        if (n == 0) {
            if (!PQconsumeInput(ws->rc))
                n = -2;
            else if ((n = PQgetCopyData(ws->rc, &b, 1)) == 0) {
                drained = true;
                if (!ws->once || did || ws->npending)
                    break;
                /* once: wait a little for the stream to reach the marker (a stop signal ends the wait). */
                struct pollfd pfd = {PQsocket(ws->rc), POLLIN, 0};
                struct timespec ts = {ONCE_WAIT_MS / 1000, (ONCE_WAIT_MS % 1000) * 1000000L};
                if (ppoll(&pfd, 1, &ts, ws->stop.wait_mask) <= 0 || wal_stop_requested(&ws->stop)) {
                    did = 1;
                    break;
                }
                continue;
            }
        }
        if (n < 0) {
            PGresult *r = PQgetResult(ws->rc);
            snprintf(err, errsz, "replication slot \"%s\": the stream ended: %s", ws->c->wal_slot,
                     r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(ws->rc));
            one_line(err);
            PQclear(r);
            disconnect(ws);
            return WAL_ERR_PG;
        }
        did = 1;
        bool ok = on_copy(ws, pg, b, n, &stop, &reply, delta, err, errsz);
        PQfreemem(b);
        if (!ok) {
            disconnect(ws);
            return WAL_ERR_PG;
        }
    }
    rc = apply_pending(ws, pg, store, delta, err, errsz);
    if (rc == STEP_STOPPED)
        return 1;
    if (rc < 0)
        return rc;
    /* Every change read up to the last whole transaction is in a batch sent: that position is
     * confirmed once those batches are answered for (wal_window.h). */
    wal_window_mark(&ws->win, ws->commit_end);
    /* Nothing new to read: wait (a little) for a write in flight rather than for the stream. */
    long wait = drained && !did && wal_window_open_count(&ws->win) ? STOP_CHECK_MS : 0;
    rc = slots_collect(ws, pg, delta, wait, err, errsz);
    if (rc < 0)
        return rc;
    did = did || rc > 0;
    if (ws->ntrunc && (rc = slots_drain(ws, pg, delta, true, err, errsz)) == 0)
        rc = apply_truncate(ws, pg, store, delta, err, errsz);
    if (rc == STEP_STOPPED)
        return 1;
    if (rc < 0)
        return rc;
    bool done = ws->once && ws->once_reached && !ws->in_txn;
    if (done && (rc = slots_drain(ws, pg, delta, true, err, errsz)) < 0)
        return rc == STEP_STOPPED ? 1 : rc;
    if (done)
        wal_window_mark(&ws->win, ws->once_target);
    uint64_t acked = wal_window_acked(&ws->win);
    if (reply || acked > ws->confirmed || now_ms() - ws->last_status_ms >= WAL_STREAM_STATUS_MS) {
        if (!send_status(ws, err, errsz)) {
            disconnect(ws);
            return WAL_ERR_PG;
        }
    }
    /* Caught up: read everything the server had sent and the store answered all of it. */
    bool idle = drained && !ws->in_txn && wal_window_open_count(&ws->win) == 0;
    write_progress(ws, pg, done || idle, done);
    if (done) {
        finish_stream(ws);
        return 0;
    }
    return did || stop || wal_window_open_count(&ws->win) ? 1 : 0;
}

int wal_stream_step(wal_stream *ws, PGconn *pg, esc *store, worker_counters *delta, char *err, size_t errsz)
{
    ws->progress = false;
    int rc = stream_step(ws, pg, store, delta, err, errsz);
    /* A batch the store failed ends the step in that failure (the worker backs off, as from an
     * outage) only when nothing else went on: while later batches are sent and answered the step
     * is work done, and the failed one is resent after its own backoff. (Only a step's start
     * resends, so a batch that failed in it is still FAILED here.) */
    const wal_slot *f = rc >= 0 && !ws->progress ? slot_failed(ws) : NULL;
    if (f) {
        snprintf(err, errsz, "%s", f->err);
        rc = WAL_ERR_STORE;
    }
    /* A step that failed (a batch the store keeps refusing) ends before its status update, and the
     * worker then backs off: without this the server hears nothing until the store recovers, and
     * ends the stream after wal_sender_timeout (60 s by default). The position sent is the one
     * already confirmed, so this only says "still here". A send that fails shows on the next read. */
    if (rc < 0 && ws->rc && now_ms() - ws->last_status_ms >= WAL_STREAM_STATUS_MS) {
        char serr[512];
        if (!send_status(ws, serr, sizeof serr))
            log_debug("%s", serr);
    }
    return rc;
}

bool wal_stream_stop(wal_stream *ws, PGconn *pg, worker_counters *delta, char *err, size_t errsz)
{
    if (!ws || !ws->rc)
        return true; /* not streaming: nothing in flight either (disconnect dropped it) */
    /* The batches in flight are this worker's "batch in flight": answered, counted, dead letters
     * recorded (on pg), then confirmed, so a restart replays only what was never sent. */
    bool ok = !pg || PQstatus(pg) != CONNECTION_OK || slots_drain(ws, pg, delta, false, err, errsz) == 0;
    /* A batch the store failed stays unconfirmed, but what was answered before it is confirmed. */
    char serr[512];
    if (wal_window_acked(&ws->win) > ws->confirmed && !send_status(ws, ok ? err : serr, ok ? errsz : sizeof serr))
        ok = false;
    else
        finish_stream(ws);
    return ok;
}
