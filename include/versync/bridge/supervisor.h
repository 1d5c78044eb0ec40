/* supervisor — the parent process that forks N workers and restarts those that die. */
#ifndef VERSYNC_SUPERVISOR_H
#define VERSYNC_SUPERVISOR_H

#include "versync/bridge/cfg.h"
#include "versync/bridge/worker.h"

#include <signal.h>
#include <stdbool.h>

typedef struct supervisor_options {
    const char *config_path; /* reloaded on SIGHUP (run only) */
    int workers;             /* N > 0 */
    bool once;               /* workers drain and exit; none is restarted */
    worker_options worker;   /* template: id, stop and wait_mask are set per child */
    const char *metrics_listen; /* run: serve /metrics and /health there (metrics.h), or NULL */
} supervisor_options;

/* Fork o->workers workers and supervise them until they are done.
 * run: restart a worker that dies (capped exponential backoff, its exit
 * status logged); SIGHUP reloads the config (a bad one is logged and the old
 * kept) and restarts the workers one batch boundary later; the first
 * SIGTERM/SIGINT asks workers to finish their batch in flight and returns 0
 * when they have; a second one kills them at once (their claims roll back)
 * and returns 1.
 * once: returns 0 when every worker drained the change table, else the worst
 * of the workers' exit statuses (cli_exit_worst: a worker killed by a signal
 * counts as 1); the workers' counters are summed into *totals. A --metrics
 * address that cannot be served returns 2.
 * `*c` may be replaced by a reloaded config (the old one is freed). */
int supervisor_run(cfg **c, const supervisor_options *o, worker_counters *totals);

#endif
