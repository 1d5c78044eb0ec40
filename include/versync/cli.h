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

/* A subcommand: `argc/argv` start at the subcommand's name (argv[0]), with
 * the global options already removed. Returns the process exit status:
 * 0 success, 1 failure (or drift/unreachable, as each command documents),
 * 2 usage or config error. */
typedef int (*cli_command_fn)(const cli_globals *g, int argc, char **argv);

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
