/* bridge_supervisor — the parent process that forks N workers and restarts those that die. */
#include "versync/bridge/supervisor.h"
#include "versync/common/timing.h"

#include "versync/bridge/cli.h"
#include "versync/common/log.h"
#include "versync/bridge/metrics.h"
#include "versync/common/notify.h"
#include "versync/common/proctitle.h"
#include "versync/common/signals.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct slot {
    pid_t pid;            /* 0: not running */
    long long started_ms; /* when it was forked */
    long long due_ms;     /* when to (re)start it; 0 now */
    int failures;         /* consecutive early deaths, for the backoff */
    bool finished;        /* once: it drained and exited */
    bool reload;          /* stopped for a reload: restart at once */
} slot;

typedef struct child_report {
    int id;
    worker_counters totals;
} child_report;

static void child_main(const cfg *c, const supervisor_options *o, int id, int report_fd, const sigset_t *wait_mask)
{
    /* A supervisor killed with SIGKILL must not leave orphans claiming work. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1)
        _exit(1);
    signals_in_child();
    proctitle_set("versync: worker %d", id);
    char role[32];
    snprintf(role, sizeof role, "worker %d", id);
    log_set_role(role);
    worker_options wo = o->worker;
    wo.id = id;
    wo.once = o->once;
    wo.stop = &signals_stop;
    wo.wait_mask = wait_mask;
    worker_counters totals;
    memset(&totals, 0, sizeof totals);
    int rc = worker_main(c, &wo, &totals);
    if (report_fd >= 0) {
        child_report r = {id, totals};
        ssize_t n = write(report_fd, &r, sizeof r); /* < PIPE_BUF: atomic */
        (void)n;
    }
    _exit(rc);
}

static void describe_status(int status, char *out, size_t outsz)
{
    if (WIFEXITED(status))
        snprintf(out, outsz, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, outsz, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(out, outsz, "status %d", status);
}

static long restart_backoff_ms(int failures)
{
    long ms = 1000;
    for (int i = 1; i < failures && ms < 30000; i++)
        ms *= 2;
    return ms > 30000 ? 30000 : ms;
}

static void signal_all(slot *s, int n, int sig)
{
    for (int i = 0; i < n; i++)
        if (s[i].pid > 0)
            kill(s[i].pid, sig);
}

static void add_totals(worker_counters *t, const worker_counters *d)
{
    t->applied += d->applied;
    t->stale += d->stale;
    t->coalesced += d->coalesced;
    t->dead_letters += d->dead_letters;
    t->version_regressed += d->version_regressed;
    t->skipped += d->skipped;
    t->retries += d->retries;
    t->changes += d->changes;
    t->batches += d->batches;
    if (d->lag_ms > t->lag_ms)
        t->lag_ms = d->lag_ms;
}

/* Sum the reports the once-workers wrote, without ever blocking. */
static void drain_reports(int fd, worker_counters *totals)
{
    struct pollfd p = {fd, POLLIN, 0};
    while (fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & POLLIN)) {
        child_report r;
        if (read(fd, &r, sizeof r) != (ssize_t)sizeof r)
            break;
        if (totals)
            add_totals(totals, &r.totals);
    }
}

int supervisor_run(cfg **cp, const supervisor_options *o, worker_counters *totals)
{
    sigset_t wait_mask;
    /* Cannot fail without SIGNALS_WAKE_PIPE. */
    (void)signals_init(SIGNALS_RELOAD | SIGNALS_CHILD | SIGNALS_BLOCK, &wait_mask, NULL, 0);
    int n = o->workers > 0 ? o->workers : 1;
    int rc = 0;
    slot *slots = calloc((size_t)n, sizeof *slots);
    int pipefd[2] = {-1, -1};
    if (!slots || (o->once && pipe(pipefd) != 0)) {
        log_error("cannot start workers: %s", strerror(errno));
        free(slots);
        return 1;
    }
    metrics *mx = NULL;
    if (o->metrics_listen) {
        /* After the signal mask is set, so the endpoint thread never takes our signals. */
        char err[1024];
        if (!(mx = metrics_new(n, err, sizeof err))) {
            log_error("%s", err);
            free(slots);
            return CLI_EXIT_DRIFT;
        }
        metrics_set_config(mx, *cp);
        if (!metrics_start(mx, o->metrics_listen, *cp, err, sizeof err)) {
            log_error("%s", err); /* the address is taken or not ours: the command line's to fix */
            metrics_free(mx);
            free(slots);
            return CLI_EXIT_CONFIG;
        }
    }
    if (totals) {
        memset(totals, 0, sizeof *totals);
        totals->lag_ms = -1;
    }
    proctitle_set("versync: supervisor (%d workers)", n);
    log_set_role("supervisor");
    log_info("starting %d worker%s%s", n, n == 1 ? "" : "s", o->once ? " (once)" : "");
    bool stopping = false, killed = false, ready = false;
    for (;;) {
        signals_poll();
        long long now = timing_now_ms();
        if (signals_stop >= 2 && !killed) {
            log_warn("second stop signal: stopping workers now (their claims roll back)");
            signal_all(slots, n, SIGKILL);
            killed = true;
            rc = 1;
        } else if (signals_stop >= 1 && !stopping) {
            if (!o->once)
                notify_stopping();
            log_info("stopping: workers finish their batch in flight");
            signal_all(slots, n, SIGTERM);
            stopping = true;
        }
        if (signals_reload && !o->once) {
            signals_reload = 0;
            cfg *fresh = calloc(1, sizeof *fresh);
            char err[1024];
            if (!fresh || !cfg_load(o->config_path, fresh, err, sizeof err)) {
                log_error("reload failed, keeping the running config: %s", fresh ? err : "out of memory");
                if (fresh)
                    cfg_free(fresh);
                free(fresh);
            } else if (!stopping) {
                cfg_free(*cp);
                free(*cp);
                *cp = fresh;
                metrics_set_config(mx, fresh);
                log_info("config %s reloaded: restarting workers after their batch in flight", o->config_path);
                for (int i = 0; i < n; i++)
                    if (slots[i].pid > 0) {
                        slots[i].reload = true;
                        kill(slots[i].pid, SIGTERM);
                    }
            } else {
                cfg_free(fresh);
                free(fresh);
            }
        }
        signals_child = 0;
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (int i = 0; i < n; i++) {
                slot *s = &slots[i];
                if (s->pid != pid)
                    continue;
                s->pid = 0;
                metrics_worker_pid(mx, i, 0);
                char how[96];
                describe_status(status, how, sizeof how);
                bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                if (o->once) {
                    s->finished = true;
                    if (!clean) {
                        log_error("worker %d (pid %d) ended with %s", i + 1, (int)pid, how);
                        /* A worker's exit status is a cli_exit: keep the worst. */
                        rc = cli_exit_worst(rc, WIFEXITED(status) ? WEXITSTATUS(status) : CLI_EXIT_DRIFT);
                    }
                } else if (stopping) {
                    if (!clean && !killed)
                        log_warn("worker %d (pid %d) ended with %s while stopping", i + 1, (int)pid, how);
                } else if (s->reload) {
                    s->reload = false;
                    s->due_ms = now;
                    s->failures = 0;
                } else {
                    /* A worker that ran a while before dying starts over at the short delay. */
                    s->failures = now - s->started_ms > 60000 ? 1 : s->failures + 1;
                    long delay = restart_backoff_ms(s->failures);
                    s->due_ms = now + delay;
                    log_error("worker %d (pid %d) died with %s; restarting in %.1f s", i + 1, (int)pid, how,
                              delay / 1000.0);
                }
            }
        }
        drain_reports(pipefd[0], totals);
        int alive = 0;
        long long next_due = -1;
        for (int i = 0; i < n; i++) {
            slot *s = &slots[i];
            if (s->pid > 0) {
                alive++;
                continue;
            }
            if (stopping || s->finished)
                continue;
            if (s->due_ms > now) {
                if (next_due < 0 || s->due_ms < next_due)
                    next_due = s->due_ms;
                continue;
            }
            /* The endpoint thread must hold no lock the child would inherit held (metrics.h). */
            if (!metrics_fork_begin(mx)) {
                s->due_ms = now + 100;
                next_due = next_due < 0 || s->due_ms < next_due ? s->due_ms : next_due;
                continue;
            }
            pid_t c = fork();
            if (c != 0)
                metrics_fork_end(mx);
            if (c < 0) {
                log_error("fork: %s", strerror(errno));
                s->due_ms = now + 1000;
                continue;
            }
            if (c == 0) {
                free(slots);
                if (pipefd[0] >= 0)
                    close(pipefd[0]);
                metrics_child_attach(mx, i, *cp);
                child_main(*cp, o, i + 1, pipefd[1], &wait_mask);
            }
            s->pid = c;
            metrics_worker_pid(mx, i, c);
            s->started_ms = now;
            alive++;
            log_debug("worker %d started (pid %d)", i + 1, (int)c);
        }
        if (!ready && !o->once && alive == n) {
            /* systemd Type=notify: units ordered after us start once the workers run. */
            notify_ready();
            ready = true;
        }
        if (alive == 0 && (stopping || o->once)) {
            bool all_done = true;
            for (int i = 0; i < n && !stopping; i++)
                all_done &= slots[i].finished;
            if (all_done)
                break;
        }
        long wait_ms = 1000;
        if (next_due >= 0 && next_due - now < wait_ms)
            wait_ms = (long)(next_due - now);
        if (!signals_child)
            timing_sleep_ms(wait_ms > 0 ? wait_ms : 1, &wait_mask);
    }
    drain_reports(pipefd[0], totals);
    if (pipefd[0] >= 0) {
        close(pipefd[0]);
        close(pipefd[1]);
    }
    log_info("all workers stopped");
    metrics_free(mx);
    free(slots);
    return rc;
}
