/* demo — `versync demo race`: racing writers and chaos workers, then a full store-vs-PostgreSQL comparison.
 */
#ifndef VERSYNC_DEMO_H
#define VERSYNC_DEMO_H

#include "versync/common/buf.h"

#include <stdbool.h>

/* Fixed names of the demonstration (never the user's own objects). */
#define DEMO_TABLE "versync_demo.accounts"
#define DEMO_SYNC_SCHEMA "versync_demo_sync" /* versync's change table etc. for the demo */
#define DEMO_CHANNEL "versync_demo"
#define DEMO_INDEX "versync_demo_accounts"

/* How one id compares between PostgreSQL and the store. */
typedef enum demo_verdict {
    DEMO_EQUAL = 0, /* both absent, or the document equals the row */
    DEMO_STALE,     /* document content differs from the row */
    DEMO_VERSION,   /* same content, but _version differs from the row's version */
    DEMO_MISSING,   /* the row exists, the store has no document */
    DEMO_EXTRA,     /* the row is gone, the store still has a document */
} demo_verdict;

/* Compare one row with one document. `row_json` is the row rendered as its
 * document (NULL: no row), `row_version` its version; `doc_source` is the
 * document's _source text (NULL: not found), `doc_version` its _version.
 * With `check_version` false (the --no-versions counterfactual, where the store
 * counts its own versions) only content and presence are compared. Content is
 * compared as JSON values (key order and spacing do not matter). Unparsable
 * JSON on either side counts as DEMO_STALE. */
demo_verdict demo_compare(const char *row_json, long long row_version, const char *doc_source,
                          long long doc_version, bool check_version);

/* Short human name of a verdict ("stale", "missing"…); static storage. */
const char *demo_verdict_name(demo_verdict v);

/* Append `n` with thousands separators ("48,213") to `b`. False on overflow. */
bool demo_put_count(buf *b, long long n);

/* ---- --nested (bridge_demo_nested.c) ---- */

#include <cjson/cJSON.h>
#include <libpq-fe.h>

/* The "children" of the demo's accounts in the --nested race: a heap cJSON array the
 * caller adds to the generated config (or frees), NULL when out of memory. */
cJSON *demo_nested_children(void);

/* One random change below (or of) an account of the --nested race, picked by the random
 * numbers r1 and r2 among `rows` accounts, in its own transaction on `c`. Returns the
 * rows changed, 0 when a deadlock or serialization failure rolled it back, -1 (the reason
 * in `e`) on any other error. */
struct demo_err;
int demo_nested_step(PGconn *c, unsigned long long r1, unsigned long long r2, int rows, struct demo_err *e);

/* ---- shared by the demo's files (bridge_demo.c: the command and the race;
 * bridge_demo_writers.c: the writer threads; bridge_demo_compare.c: the
 * comparison and the final table). Not for use outside the demo. ---- */

#include "versync/bridge/cfg.h"
#include "versync/bridge/esclient.h"

#include <stdatomic.h>
#include <stdio.h>

typedef struct demo_opts {
    const char *postgres;  /* --postgres: overrides the config's */
    const char *store_url; /* --store: overrides the config's */
    int rows, writers, workers, max_delay_ms, batch_size;
    double seconds;    /* 0: not a time budget */
    long long changes; /* 0: not a change budget */
    bool no_versions, json, quiet;
    bool nested; /* --nested: accounts as nested documents (bridge_demo_nested.c) */
    unsigned long long seed;
    const char *work_dir; /* NULL: a temporary one */
} demo_opts;

/* Where to connect: copied out of the config (or the flags) so that the
 * config can be freed early. Strings owned; freed by target_free. */
typedef struct demo_target {
    char *postgres;
    cfg_store store;
} demo_target;

/* What the final table reports. */
typedef struct demo_result {
    long long seeded, updates, deletes, inserts, written;
    long long captured; /* change rows the triggers wrote: must equal written */
    long long skipped;  /* changes whose row was gone at re-read (written - sent - coalesced) */
    long long applied, stale, coalesced, dead_letters, retries;
    long long rows_compared, docs_compared;
    long long n_stale, n_version, n_missing, n_extra, mismatches;
    double wall_s;
    bool drained;  /* the change table emptied */
    bool compared; /* the comparison ran to the end */
} demo_result;

/* Shared between the writer threads and the main thread. */
typedef struct writer_shared {
    const char *conninfo;
    const demo_opts *o;
    double deadline;       /* monotonic seconds; 0 = none */
    atomic_llong reserved; /* changes claimed against --changes */
    atomic_llong updates, deletes, inserts;
    atomic_int running;
    atomic_int failed;
    struct demo_err *err; /* the race's: a writer's failure, logged once by the command */
} writer_shared;

typedef struct writer_arg {
    writer_shared *sh;
    int index;
} writer_arg;

/* The first failure of a demo command, kept for the command to log once (helpers record,
 * the command decides). Safe to fill from several threads: the first failure wins. */
typedef struct demo_err {
    atomic_int taken;
    char msg[768];
} demo_err;

/* Record a failure in `e` unless one is recorded already (printf format). */
void demo_fail(demo_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Monotonic clock in seconds. */
double demo_now_s(void);

/* A connection for the demo (client_min_messages = warning), NULL with the reason in `e`.
 * The caller owns it (PQfinish). */
PGconn *demo_connect(const char *conninfo, demo_err *e);

/* One store request; with `out`, the answer's body parsed as JSON. Returns the HTTP status or
 * ESC_TRANSPORT_ERROR (the reason in `e`); the status is the caller's to judge. *out (NULL when the
 * body is not JSON) is the caller's, freed with cJSON_Delete. */
int demo_store_call(esc *es, const char *method, const char *path, const char *body, cJSON **out,
                    demo_err *e);

/* One writer thread (pthread start routine; `arg` is a writer_arg): random updates, deletes
 * and re-inserts until the deadline, the change budget, a failure or a stop signal. */
void *demo_writer_main(void *arg);

/* Compare PostgreSQL with the store for ids 1..nrows: fills the result's comparison fields
 * and prints up to `examples` mismatches to `out` (NULL: none). False, with the reason in `e`,
 * when the rows or the documents could not be read. */
bool demo_compare_all(PGconn *c, esc *es, const cfg_table *t, int nrows, bool check_version, demo_result *res,
                      FILE *out, int examples, demo_err *e);

/* The race's final table, as text or as one JSON object, to `out`. */
void demo_print_table(FILE *out, const demo_opts *o, const demo_result *r);
void demo_print_json(FILE *out, const demo_opts *o, const demo_result *r);

#endif
