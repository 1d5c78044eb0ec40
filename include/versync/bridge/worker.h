/* worker — claim change rows, re-read them, bulk-write with external versions, commit; and the worker loop. */
#ifndef VERSYNC_WORKER_H
#define VERSYNC_WORKER_H

#include "versync/bridge/cfg.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* What a worker has done. Batch counters grow only when a batch commits (a
 * rolled-back claim counts nothing but a retry), so they never double count. */
typedef struct worker_counters {
    long long applied;      /* writes the store took (2xx; 404 on a delete) */
    long long stale;        /* 409: the store already held a newer version */
    long long coalesced;    /* change rows folded into a later change of the same key */
    long long dead_letters; /* writes moved into dead_letters (version_regressed ones included) */
    long long version_regressed; /* of those: refused although the row re-read was current (issue 16) */
    long long skipped;      /* rows gone by the re-read (their delete has its own row), truncates */
    long long retries;      /* claims rolled back for a retryable store/PostgreSQL failure */
    long long changes;      /* change rows consumed by committed batches */
    long long batches;      /* committed batches that claimed something */
    long long lag_ms;       /* now minus the oldest changed_at of the last committed batch; -1 none yet */
} worker_counters;

typedef struct worker_options {
    int id;                 /* 1…N, shown in logs and the process title */
    bool once;              /* stop when a claim comes back empty */
    long timeout_ms;        /* once: give up after the store or PostgreSQL is unreachable this long */
    int chaos_max_delay_ms; /* demo/test: hold each claimed batch 0…N ms and shuffle its items */
    bool no_versions;       /* demo/test: plain index/delete, last arrival wins (the counterfactual) */
    const char *state_path; /* cursor tables: keep their checkpoints in this file (--state), not in PostgreSQL */
    volatile sig_atomic_t *stop; /* > 0: finish the batch in flight, then return */
    const sigset_t *wait_mask;   /* signal mask while waiting (stop signals unblocked), or NULL */
} worker_options;

typedef struct worker worker;

/* A worker for config `c` (not copied: it must outlive the worker). Opens
 * nothing yet. Returns NULL with err set on failure; free with worker_free. */
worker *worker_new(const cfg *c, const worker_options *o, char *err, size_t errsz);

/* Close the connections and free; NULL is a no-op. */
void worker_free(worker *w);

/* A claim scans the change table from a floor: this many seqs below the
 * lowest its previous claim took, so that rows committed a little out of seq
 * order are still found, while the dead index entries the claims left below
 * (until vacuum removes them) are not walked again (sql/worker_claim.sql). */
#define WORKER_CLAIM_SLACK 10000
/* At least this often a claim scans from the oldest row, and at once after a
 * claim from a floor found nothing: rows far older than the floor (a long
 * writer transaction, a batch another worker rolled back) wait no longer. */
#define WORKER_CLAIM_FULL_MS 1000

/* Results of worker_batch besides a count of claimed changes (>= 0). */
#define WORKER_ERR_PG (-1)    /* PostgreSQL failed or is unreachable; the claim rolled back */
#define WORKER_ERR_STORE (-2) /* the store failed retryably (429, 5xx, transport); rolled back */

/* Connect to PostgreSQL (when not connected), LISTEN, prepare statements,
 * resolve keys. False with err set when PostgreSQL is unreachable or refuses. */
bool worker_connect(worker *w, char *err, size_t errsz);

/* Run one batch: claim → coalesce → re-read → bulk → classify → commit.
 * Returns how many change rows it claimed and committed (0: the change table
 * had nothing claimable), 1 when it rolled the batch back to park a table
 * whose re-read fails for a reason of its own (park.h; claim again at once),
 * or WORKER_ERR_* with err set. A parked table's changes are never claimed;
 * each batch first probes the parked tables whose turn has come. */
int worker_batch(worker *w, char *err, size_t errsz);

/* Milliseconds the store asked us to wait (Retry-After) on the last batch, or -1. */
long worker_retry_after_ms(const worker *w);

/* The worker loop: connect, drain batches, wait for NOTIFY or the poll
 * interval, retry outages forever with capped exponential backoff (one log
 * line when an outage starts and one when it ends), log a summary every 10 s.
 * Returns a cli_exit (it is a worker process's exit status): CLI_EXIT_OK when
 * stopped (or, with o->once, drained), CLI_EXIT_UNREACHABLE when o->once gave
 * up after o->timeout_ms of outage (never sleeping past it), CLI_EXIT_DRIFT
 * when o->once left a parked table's changes queued, CLI_EXIT_CONFIG on a
 * configuration error. Totals are
 * copied into *totals when not NULL. */
int worker_main(const cfg *c, const worker_options *o, worker_counters *totals);

#endif
