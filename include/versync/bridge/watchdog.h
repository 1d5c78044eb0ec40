/* watchdog — a worker that sees changes waiting and claims none notices it, logs what it waits on, and recovers. */
#ifndef VERSYNC_WATCHDOG_H
#define VERSYNC_WATCHDOG_H

#include "versync/bridge/cfg.h"

#include <libpq-fe.h>
#include <stdbool.h>

/* One worker's watchdog state; plain data, no resources to free. */
typedef struct watchdog {
    long long after_ms;      /* no claim for this long with changes waiting: a stall */
    long long last_claim_ms; /* CLOCK_MONOTONIC ms of the last claim that took rows (or of the start) */
    long long next_check_ms; /* checks run at most once per after_ms */
    long long stalled_ms;    /* the stall's "no claim since"; 0: none */
    long long logged_ms;     /* when the stall was last logged at warn level */
} watchdog;

/* How long a worker may go without claiming, changes waiting, before its
 * watchdog speaks: five poll intervals, and never under one second. */
long long watchdog_after_ms(const cfg *c);

/* How long one step (a claim, a re-read, a store request, a commit) may run
 * before /health calls the worker stuck: watchdog_after_ms plus the store's
 * request timeout, so a slow but answering store is not reported. */
long long watchdog_step_limit_ms(const cfg *c);

/* Start watching at `now_ms`. */
void watchdog_init(watchdog *wd, const cfg *c, long long now_ms);

/* The worker claimed rows: a stall, if any, is over (logged once). */
void watchdog_claimed(watchdog *wd, long long now_ms);

/* The worker's last claim took nothing. When that has lasted watchdog_after_ms,
 * ask `conn` (outside a transaction) whether changes wait for this worker
 * (`parked`: the text[] literal of its parked tables, whose changes wait on
 * purpose) and, if so, who holds them; log it and report it to /health.
 * Returns true when the worker should recover by reconnecting (a fresh
 * session, LISTEN again): at the stall's start, then at most once a minute. */
bool watchdog_check(watchdog *wd, const cfg *c, PGconn *conn, const char *schema_ident, const char *parked,
                    long long now_ms);

#endif
