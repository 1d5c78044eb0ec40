/* bridge_run — `versync run` (supervised workers) and `versync once` (drain, then exit; for cron). */
#include "versync/bridge/cfg.h"
#include "versync/common/timing.h"
#include "versync/bridge/cli.h"
#include "versync/common/log.h"
#include "versync/bridge/metrics.h"
#include "versync/common/proctitle.h"
#include "versync/common/scan.h"
#include "versync/common/signals.h"
#include "versync/bridge/setup.h"
#include "versync/bridge/supervisor.h"
#include "versync/bridge/target.h"
#include "versync/bridge/worker.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct run_args {
    int workers;       /* 0: the config's */
    bool json;         /* once: the summary as JSON */
    long timeout_s;    /* once */
    int chaos_ms;
    bool no_versions;
    const char *metrics; /* run: --metrics [HOST:]PORT */
} run_args;

/* --state FILE (run and once): cursor tables keep their checkpoints in this file. */
static const char *state_path;
enum { O_STATE = 100 };

static void usage(FILE *out, bool once)
{
    if (once)
        fprintf(out, "usage: versync [-c FILE] once [--workers N] [--timeout SECONDS] [--state FILE] [--json]\n\n"
                     "Drain every change present (and arriving) until the change table is empty, then\n"
                     "exit and print a summary. For cron; safe beside other `once` or `run` processes.\n\n"
                     "  --workers N         worker processes sharing the work (1...%d, default 1)\n"
                     "  --timeout SECONDS   give up (exit 3) when the store or PostgreSQL stays\n"
                     "                      unreachable this long (default 60): a bound, never\n"
                     "                      exceeded by a backoff or Retry-After; nothing is lost\n"
                     "  --state FILE        keep the checkpoints of cursor tables (\"capture\": \"cursor\")\n"
                     "                      in FILE instead of PostgreSQL (a read replica)\n"
                     "  --json              the summary as one JSON object on stdout\n"
                     "  -h, --help          this text\n\n"
                     "exit status: 0 drained (changes the store refused are dead letters); 1 a parked\n"
                     "table's changes stay queued; 2 usage or configuration error (refused\n"
                     "credentials, versync init not run); 3 PostgreSQL or the store unreachable\n"
                     "for --timeout\n",
                CFG_WORKERS_MAX);
    else
        fprintf(out, "usage: versync [-c FILE] run [--workers N] [--metrics [HOST:]PORT] [--state FILE]\n\n"
                     "Run N worker processes under a supervisor until SIGTERM/SIGINT (finish the\n"
                     "batch in flight, exit 0; a second signal stops at once, exit 1). SIGHUP reloads\n"
                     "the config. An unreachable store or PostgreSQL is retried for ever.\n\n"
                     "  --workers N         worker processes (1...%d; default: the config's \"workers\")\n"
                     "  --metrics [HOST:]PORT  serve Prometheus GET /metrics and GET /health there\n"
                     "                      (a bare PORT listens on 127.0.0.1 only)\n"
                     "  --state FILE        keep the checkpoints of cursor tables (\"capture\": \"cursor\")\n"
                     "                      in FILE instead of PostgreSQL (a read replica)\n"
                     "  -h, --help          this text\n\n"
                     "exit status: 0 stopped by a signal; 1 stopped by a second signal; 2 usage or\n"
                     "configuration error (refused credentials, a --metrics address in use)\n",
                CFG_WORKERS_MAX);
}

static bool parse_long(const char *opt, const char *text, long lo, long hi, long *out)
{
    int64_t v;
    if (!scan_int64(text, lo, hi, &v)) {
        log_error("%s: expected an integer from %ld to %ld, got \"%s\"", opt, lo, hi, text);
        return false;
    }
    *out = v;
    return true;
}

/* 0 ok, 1 help printed, 2 usage error. */
static int parse_args(int argc, char **argv, bool once, run_args *a)
{
    enum { O_WORKERS = 1, O_TIMEOUT, O_CHAOS, O_NOVER, O_HELP, O_METRICS, O_JSON };
    static const struct option opts[] = {
        {"workers", required_argument, NULL, O_WORKERS},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"state", required_argument, NULL, O_STATE},
        {"metrics", required_argument, NULL, O_METRICS},
        {"json", no_argument, NULL, O_JSON},
        /* Hidden, for tests and `versync demo`: never for production. */
        {"chaos-max-delay-ms", required_argument, NULL, O_CHAOS},
        {"no-versions", no_argument, NULL, O_NOVER},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    *a = (run_args){.timeout_s = 60};
    optind = 1;
    state_path = NULL;
    opterr = 0;
    int ch;
    long v;
    while ((ch = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (ch) {
        case O_WORKERS:
            if (!parse_long("--workers", optarg, 1, CFG_WORKERS_MAX, &v))
                return 2;
            a->workers = (int)v;
            break;
        case O_TIMEOUT:
            if (!once) {
                log_error("run: --timeout is an option of `versync once`");
                return 2;
            }
            if (!parse_long("--timeout", optarg, 1, 86400 * 365, &v))
                return 2;
            a->timeout_s = v;
            break;
        case O_METRICS:
            if (once) {
                log_error("once: --metrics is an option of `versync run`");
                return 2;
            }
            {
                char host[256], err[512];
                int port;
                if (!metrics_parse_listen(optarg, host, sizeof host, &port, err, sizeof err)) {
                    log_error("run: %s", err);
                    return 2;
                }
            }
            a->metrics = optarg;
            break;
        case O_STATE:
            state_path = optarg;
            break;
        case O_CHAOS:
            if (!parse_long("--chaos-max-delay-ms", optarg, 0, 600000, &v))
                return 2;
            a->chaos_ms = (int)v;
            break;
        case O_NOVER:
            a->no_versions = true;
            break;
        case O_JSON:
            if (!once) {
                log_error("run: --json is an option of `versync once` (run reports through --metrics)");
                return 2;
            }
            a->json = true;
            break;
        case 'h':
        case O_HELP:
            usage(stdout, once);
            return 1;
        case ':':
            log_error("%s: option %s needs a value (see versync %s --help)", once ? "once" : "run",
                      argv[optind - 1], once ? "once" : "run");
            return 2;
        default:
            log_error("%s: unknown option \"%s\" (see versync %s --help)", once ? "once" : "run", argv[optind - 1],
                      once ? "once" : "run");
            return 2;
        }
    }
    if (optind < argc) {
        log_error("%s: unexpected argument \"%s\" (see versync %s --help)", once ? "once" : "run", argv[optind],
                  once ? "once" : "run");
        return 2;
    }
    return 0;
}

static cfg *load(const cli_globals *g, const char **path)
{
    *path = cfg_default_path(g->config_path);
    cfg *c = calloc(1, sizeof *c);
    if (!c) {
        log_error("out of memory");
        return NULL;
    }
    if (cli_load(g, c) != CLI_EXIT_OK) {
        free(c);
        return NULL;
    }
    return c;
}

/* The start-up check of the store: 0 to go on, CLI_EXIT_CONFIG when it can
 * never work as configured (refused credentials: the same message as every
 * command). An unreachable store is only logged: the workers retry. */
static int target_gate(const cfg *c)
{
    char err[1024];
    target_result r = target_check(c, err, sizeof err);
    if (r == TARGET_UNREACHABLE)
        log_error("%s (the workers keep trying until it answers)", err);
    else if (r == TARGET_REFUSED) {
        log_error("%s", err);
        return CLI_EXIT_CONFIG;
    }
    return CLI_EXIT_OK;
}

static void options_note(const run_args *a)
{
    if (a->chaos_ms > 0)
        log_warn("chaos mode: each batch held 0-%d ms and its items shuffled (testing only)", a->chaos_ms);
    if (a->no_versions)
        log_warn("--no-versions: writing WITHOUT external versions, last arrival wins (demonstration only)");
}

int cli_run(const cli_globals *g, int argc, char **argv)
{
    run_args a;
    int prc = parse_args(argc, argv, false, &a);
    if (prc)
        return prc == 1 ? 0 : 2;
    const char *path;
    cfg *c = load(g, &path);
    if (!c)
        return 2;
    options_note(&a);
    setup_warn_uninitialized(c);
    if (target_gate(c)) {
        cfg_free(c);
        free(c);
        return 2;
    }
    supervisor_options o = {
        .config_path = path,
        .workers = a.workers > 0 ? a.workers : (c->workers > 0 ? c->workers : 2),
        .once = false,
        .worker = {.chaos_max_delay_ms = a.chaos_ms, .no_versions = a.no_versions, .state_path = state_path},
        .metrics_listen = a.metrics,
    };
    int rc = supervisor_run(&c, &o, NULL);
    cfg_free(c);
    free(c);
    return rc;
}

int cli_once(const cli_globals *g, int argc, char **argv)
{
    run_args a;
    int prc = parse_args(argc, argv, true, &a);
    if (prc)
        return prc == 1 ? 0 : 2;
    const char *path;
    cfg *c = load(g, &path);
    if (!c)
        return 2;
    options_note(&a);
    setup_warn_uninitialized(c);
    if (target_gate(c)) {
        cfg_free(c);
        free(c);
        return 2;
    }
    long long t0 = timing_now_ms();
    worker_counters t;
    memset(&t, 0, sizeof t);
    t.lag_ms = -1;
    worker_options wo = {.id = 1,
                         .once = true,
                         .timeout_ms = a.timeout_s * 1000,
                         .chaos_max_delay_ms = a.chaos_ms,
                         .no_versions = a.no_versions,
                         .state_path = state_path};
    int rc;
    if (a.workers > 1) {
        supervisor_options o = {.config_path = path, .workers = a.workers, .once = true, .worker = wo};
        rc = supervisor_run(&c, &o, &t);
    } else {
        sigset_t wait_mask;
        /* Cannot fail without SIGNALS_WAKE_PIPE. */
        (void)signals_init(SIGNALS_RELOAD | SIGNALS_CHILD | SIGNALS_BLOCK, &wait_mask, NULL, 0);
        proctitle_set("versync: once");
        wo.stop = &signals_stop;
        wo.wait_mask = &wait_mask;
        rc = worker_main(c, &wo, &t);
    }
    double secs = (timing_now_ms() - t0) / 1000.0;
    if (cli_json(a.json)) {
        printf("{\"exit\":%d,\"drained\":%s,\"seconds\":%.3f,\"changes\":%lld,\"applied\":%lld,\"stale\":%lld,"
               "\"coalesced\":%lld,\"dead_letters\":%lld,\"version_regressed\":%lld,\"skipped\":%lld,"
               "\"retries\":%lld}\n",
               rc, rc == CLI_EXIT_OK ? "true" : "false", secs, t.changes, t.applied, t.stale, t.coalesced,
               t.dead_letters, t.version_regressed, t.skipped, t.retries);
    } else if (log_get_level() <= LOG_INFO) {
        /* On stdout for people; --log-level warn keeps a cron run silent. */
        printf("versync once: %lld changes in %.2f s (%.0f changes/s): %lld applied, %lld stale, %lld coalesced, "
               "%lld dead letters (%lld version_regressed), %lld skipped, %lld retries\n",
               t.changes, secs, secs > 0 ? t.changes / secs : 0.0, t.applied, t.stale, t.coalesced, t.dead_letters,
               t.version_regressed, t.skipped, t.retries);
    }
    fflush(stdout);
    if (rc == CLI_EXIT_CONFIG)
        log_error("once: configuration problem (see the log above)");
    else if (rc != CLI_EXIT_OK)
        log_error("once: stopped before the change table was empty (see the log above); nothing is lost, the "
                  "remaining changes stay queued");
    cfg_free(c);
    free(c);
    return rc;
}
