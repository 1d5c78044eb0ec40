/* cli — versync's subcommands and the options every subcommand shares. */
#ifndef VERSYNC_CLI_H
#define VERSYNC_CLI_H

#include <stdbool.h>

/* Options parsed by main before the subcommand runs. */
typedef struct cli_globals {
    const char *config_path; /* -c FILE / --config FILE, or NULL */
    const char *log_level;   /* --log-level, or NULL */
    const char *log_format;  /* --log-format, or NULL */
} cli_globals;

/* The exit status of every versync command (README "Exit status"; the same in
 * --help, the man page and config/cron/versync.cron). Ordered by what the
 * caller should do about it: nothing, look at the report, fix the config,
 * try again later. */
typedef enum cli_exit {
    CLI_EXIT_OK = 0,          /* done: in sync, drained, copied, valid */
    CLI_EXIT_DRIFT = 1,       /* done, but something is left: verify found drift, once left changes
                               * queued (a parked table), backfill had documents refused, or a
                               * signal interrupted the work */
    CLI_EXIT_CONFIG = 2,      /* usage or configuration error, including credentials PostgreSQL or
                               * the store refuse and a database versync init has not set up: a
                               * retry cannot help until someone fixes it */
    CLI_EXIT_UNREACHABLE = 3, /* PostgreSQL or the store did not answer (or kept answering 5xx/429
                               * until the command gave up): nothing is lost, run it again later */
} cli_exit;

/* A subcommand: `argc/argv` start at the subcommand's name (argv[0]), with
 * the global options already removed. Returns a cli_exit. */
typedef int (*cli_command_fn)(const cli_globals *g, int argc, char **argv);

/* The exit status text every --help ends with (one line per code). */
#define CLI_EXIT_HELP                                                                                        \
    "exit status: 0 ok; 1 drift found or work left (see the command); 2 usage or configuration error\n"        \
    "(including refused credentials); 3 PostgreSQL or the store unreachable\n"

/* ---- helpers the commands share (bridge_cli.c) ---------------------------------------------- */

struct cfg;
struct pg_conn;

/* True when the command should print its result as one JSON object: --json,
 * or --log-format json (then nothing but JSON reaches stdout or stderr). */
bool cli_json(bool json_flag);

/* A line (or lines) of a command's report for people: printed on stdout as
 * text; under --log-format json, logged as info lines instead, one per line of
 * text, so that nothing but JSON is printed. */
void cli_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Load the config (cfg_default_path of g->config_path) into *c. On failure
 * logs the one message and returns CLI_EXIT_CONFIG; CLI_EXIT_OK otherwise
 * (the caller then owns *c: cfg_free). */
int cli_load(const cli_globals *g, struct cfg *c);

/* Connect to c->postgres as `appname`. On failure logs the one message and
 * returns CLI_EXIT_CONFIG (the server refused: credentials, a database or role
 * that does not exist, a malformed conninfo) or CLI_EXIT_UNREACHABLE. */
int cli_connect(const struct cfg *c, const char *appname, struct pg_conn **conn);

/* True when a PostgreSQL connection failure message (pg_connect's) is the
 * server refusing us (credentials, an unknown role or database, pg_hba.conf)
 * or a malformed conninfo: a configuration error, not an outage. */
bool cli_pg_refused(const char *msg);

/* catalog_open for a command, with the failure classified: on failure it logs
 * the one message and returns CLI_EXIT_CONFIG (bad config, a mapping the
 * catalog contradicts, credentials or a database PostgreSQL refuses) or
 * CLI_EXIT_UNREACHABLE (no answer); CLI_EXIT_OK with *c and *conn owned by
 * the caller otherwise. */
int cli_open(const cli_globals *g, const char *appname, struct cfg *c, struct pg_conn **conn);

/* The exit status for a PostgreSQL statement that failed on `conn`:
 * CLI_EXIT_UNREACHABLE when the connection is gone, CLI_EXIT_CONFIG when the
 * server answered with an error (a permission, a missing object). */
int cli_pg_exit(const struct pg_conn *conn);

/* The exit status for a target_check result (target.h); 0 for TARGET_OK. */
int cli_target_exit(int target_result);

/* The worse of two exit statuses, for a command that does several things:
 * configuration beats unreachable beats drift beats ok. */
int cli_exit_worst(int a, int b);

/* Implemented by the command modules (one file each under src/bridge/);
 * each is listed in the table in versync_main.c. */
int cli_demo(const cli_globals *g, int argc, char **argv); /* bridge_demo.c */
int cli_init(const cli_globals *g, int argc, char **argv);   /* bridge_init.c */
int cli_check(const cli_globals *g, int argc, char **argv);  /* bridge_check.c */
int cli_status(const cli_globals *g, int argc, char **argv); /* bridge_status.c */
int cli_run(const cli_globals *g, int argc, char **argv);  /* bridge_run.c */
int cli_once(const cli_globals *g, int argc, char **argv); /* bridge_run.c */
int cli_backfill(const cli_globals *g, int argc, char **argv); /* bridge_backfill.c */
int cli_verify(const cli_globals *g, int argc, char **argv);   /* bridge_verify.c */
int cli_deadletters(const cli_globals *g, int argc, char **argv); /* bridge_deadletters.c */

#endif
