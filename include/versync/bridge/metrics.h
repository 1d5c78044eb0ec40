/* metrics — worker counters shared with the supervisor through shared memory, and `versync run --metrics`' /metrics and /health endpoint. */
#ifndef VERSYNC_METRICS_H
#define VERSYNC_METRICS_H

#include "versync/bridge/cfg.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The shared segment plus, in the supervisor, the HTTP endpoint. */
typedef struct metrics metrics;

/* What one write became, for metrics_batch_count. */
typedef enum metrics_kind {
    METRICS_APPLIED = 0,
    METRICS_STALE,
    METRICS_COALESCED,
    METRICS_DEAD,
    METRICS_REGRESSED, /* dead letters of kind version_regressed (also counted in METRICS_DEAD) */
    METRICS_NKINDS,
} metrics_kind;

/* Split "PORT" (loopback: 127.0.0.1) or "HOST:PORT" ("[v6]:PORT" too) into
 * host and port. False with err naming the problem when it is neither. */
bool metrics_parse_listen(const char *text, char *host, size_t hostsz, int *port, char *err, size_t errsz);

/* Create the shared segment for `nworkers` worker slots (MAP_SHARED, so it
 * must be created before the workers are forked). Returns NULL with err set;
 * the caller owns the result and frees it with metrics_free (supervisor only). */
metrics *metrics_new(int nworkers, char *err, size_t errsz);

/* Stop the endpoint, close its connections and unmap; NULL is a no-op. */
void metrics_free(metrics *m);

/* Register the mapped tables of `c` (their labels). Call in the supervisor
 * before forking workers that use `c`, and after each reload; tables once
 * registered keep their counters for the life of the segment. */
void metrics_set_config(metrics *m, const cfg *c);

/* Serve GET /metrics and GET /health on `listen` ("PORT" or "HOST:PORT";
 * port 0 picks one) from a thread of the calling process. `c` supplies the
 * PostgreSQL conninfo and schema (for backlog and age, queried at most once a
 * second) and the store (probed for /health at most once a second); what is
 * needed is copied. Logs the address it listens on. False with err set. */
bool metrics_start(metrics *m, const char *listen, const cfg *c, char *err, size_t errsz);

/* Supervisor, around each fork of a worker: hold the endpoint thread where it holds no lock (waiting
 * for requests), so the child inherits none held. metrics_fork_begin waits up to a moment for it
 * (a request being answered); false: it is busy, fork later (nothing held). After the fork, the
 * parent calls metrics_fork_end. No-ops (true) when m is NULL or not started. */
bool metrics_fork_begin(metrics *m);
void metrics_fork_end(metrics *m);

/* Supervisor: slot `slot` (0-based) now runs `pid`, or nothing (pid 0). */
void metrics_worker_pid(metrics *m, int slot, pid_t pid);

/* In a freshly forked worker: write into slot `slot` from now on (the
 * metrics_* calls below), with `c`'s tables mapped to their labels; closes
 * the endpoint's descriptors this process inherited. m may be NULL (then the
 * calls below stay no-ops). */
void metrics_child_attach(metrics *m, int slot, const cfg *c);

/* ---- the worker's hot path: no-ops in a process attached to no slot ---- */

/* The worker's PostgreSQL connection is up (true) or lost (false). */
void metrics_pg_state(bool connected);

/* The store answered a request with `status` (an HTTP status, or
 * ESC_TRANSPORT_ERROR when it did not answer). */
void metrics_store_answer(int status);

/* A batch starts: forget uncommitted counts and start its clock. */
void metrics_batch_begin(void);

/* Count `n` of `kind` for config table `table` (index into cfg.tables; an
 * index >= ntables means a table not in the config). Held until commit. */
void metrics_batch_count(size_t table, metrics_kind kind, long long n);

/* The batch committed: publish its counts and observe its duration in the
 * histogram of every table it touched. */
void metrics_batch_commit(void);

/* Config table `table` is parked with `error` (NULL: resumed). /health then
 * answers 200 "degraded" naming it, unless something makes it unavailable. */
void metrics_table_parked(size_t table, const char *error);

/* Where a worker is in its loop, for /health: a worker in one step for longer
 * than watchdog_step_limit_ms (watchdog.h) has stopped making progress. */
typedef enum metrics_phase {
    METRICS_PHASE_IDLE = 0, /* between steps, or waiting for work */
    METRICS_PHASE_CONNECT,
    METRICS_PHASE_CLAIM,
    METRICS_PHASE_REREAD,
    METRICS_PHASE_STORE,
    METRICS_PHASE_COMMIT,
    METRICS_PHASE_CURSOR,
    METRICS_NPHASES,
} metrics_phase;

/* The worker enters `phase` now (IDLE: it finished a step and is alive). */
void metrics_phase_enter(metrics_phase phase);

/* The worker's watchdog (watchdog.h) found changes waiting and none claimed
 * since `since_ms` (CLOCK_MONOTONIC ms), and why (NULL: it claims again).
 * /health then answers 503 naming the worker and the reason. */
void metrics_stalled(const char *why, long long since_ms);

/* A claim was rolled back for a retryable failure. */
void metrics_retry(void);

/* Render the Prometheus text exposition (format 0.0.4) of `m` into a heap
 * string the caller frees; backlog figures come from the last query. NULL
 * when out of memory. Exported for tests. */
char *metrics_render(metrics *m);

#endif
