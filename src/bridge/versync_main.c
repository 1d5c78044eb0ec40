/* versync — command-line entry point: global options, then a subcommand. */
#include "versync/bridge/cli.h"
#include "versync/common/log.h"
#include "versync/common/proctitle.h"
#include "versync/common/signals.h"
#include "versync/common/version.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    cli_command_fn fn;
    const char *summary;
} command;

/* One line per subcommand; each lives in its own src/bridge file. */
static const command commands[] = {
    {"check", cli_check, "validate the config against the live database; change nothing (--json)"},
    {"init", cli_init, "create or converge versync's schema, triggers and indexes (--dry-run prints SQL)"},
    {"status", cli_status, "backlog, oldest waiting change and dead letters per table (--json)"},
    {"run", cli_run, "run the sync workers under a supervisor (SIGTERM stops, SIGHUP reloads)"},
    {"once", cli_once, "drain the change table, print a summary, exit (for cron; --json)"},
    {"backfill", cli_backfill, "copy existing rows to the store (--prune, --index, --resume, --dry-run, --json)"},
    {"verify", cli_verify, "compare PostgreSQL with the store; exit 1 on drift (--repair [--dry-run], --json)"},
    {"deadletters", cli_deadletters, "list, retry or drop dead letters (--table, --older-than, --json)"},
    {"demo", cli_demo, "race many chaos workers over hot rows, then compare store and PostgreSQL"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: versync [-c FILE] [--log-level LEVEL] [--log-format text|json] COMMAND [ARGS]\n"
                 "       versync --version | --help\n\n"
                 "Keeps a search copy (verstore, Elasticsearch or OpenSearch) of PostgreSQL tables\n"
                 "in sync using external versions.\n\ncommands:\n");
    for (size_t i = 0; commands[i].name; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nglobal options (before or after COMMAND):\n"
                 "  -c, --config FILE   config file (also --config=FILE; default: $VERSYNC_CONFIG,\n"
                 "                      else ./versync.json)\n"
                 "  --log-level LEVEL   debug, info, warn or error (default: info)\n"
                 "  --log-format FMT    text or json (default: text); json prints nothing but JSON:\n"
                 "                      log lines on stderr, results as one JSON object on stdout\n"
                 "  -V, --version       print the version (git revision) and exit\n"
                 "  -h, --help          this text; `versync COMMAND --help` for a command\n\n"
                 "%s",
            CLI_EXIT_HELP);
}

/* A global option's value from "--name VALUE", "--name=VALUE" or (for -c) "-cVALUE".
 * Returns the number of argv slots consumed (0: not this option), -1 when the value is missing. */
static int global_value(int argc, char **argv, int i, const char *longname, char shortname, const char **out)
{
    const char *a = argv[i];
    size_t n = strlen(longname);
    if (a[0] == '-' && a[1] == '-' && strncmp(a + 2, longname, n) == 0) {
        if (a[2 + n] == '=') {
            *out = a + 3 + n;
            return 1;
        }
        if (a[2 + n] != '\0')
            return 0;
    } else if (!(shortname && a[0] == '-' && a[1] == shortname)) {
        return 0;
    } else if (a[2] != '\0') {
        *out = a + 2;
        return 1;
    }
    if (i + 1 >= argc)
        return -1;
    *out = argv[i + 1];
    return 2;
}

/* Global options may stand before or after the command name; they are removed
 * from argv so that commands see only their own arguments. False with the
 * offending option in *bad when one lacks its value. */
static bool take_globals(int *argc, char **argv, cli_globals *g, const char **bad)
{
    static const struct {
        const char *name;
        char short_name;
        size_t off;
    } globals[] = {
        {"config", 'c', offsetof(cli_globals, config_path)},
        {"log-level", 0, offsetof(cli_globals, log_level)},
        {"log-format", 0, offsetof(cli_globals, log_format)},
    };
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        int used = 0;
        for (size_t k = 0; k < sizeof globals / sizeof globals[0] && !used; k++) {
            const char **slot = (const char **)((char *)g + globals[k].off);
            used = global_value(*argc, argv, i, globals[k].name, globals[k].short_name, slot);
            if (used < 0) {
                *bad = argv[i];
                return false;
            }
        }
        if (!used) {
            argv[out++] = argv[i];
            continue;
        }
        i += used - 1;
    }
    *argc = out;
    argv[out] = NULL;
    return true;
}

int main(int argc, char **argv)
{
    proctitle_init(argc, argv); /* first: it moves argv and environ */
    signals_ignore_pipe(); /* a store or server that hangs up must not kill us */
    cli_globals g = {0};
    const char *bad = NULL;
    bool globals_ok = take_globals(&argc, argv, &g, &bad);
    log_level level = LOG_INFO;
    log_format format = LOG_FORMAT_TEXT;
    /* The format first: every message after this one is in it. */
    bool format_ok = !g.log_format || log_parse_format(g.log_format, &format);
    bool level_ok = !g.log_level || log_parse_level(g.log_level, &level);
    log_init("versync", level, format);
    if (!format_ok) {
        log_error("--log-format: unknown format \"%s\" (text, json)", g.log_format);
        return CLI_EXIT_CONFIG;
    }
    if (!level_ok) {
        log_error("--log-level: unknown level \"%s\" (debug, info, warn, error)", g.log_level);
        return CLI_EXIT_CONFIG;
    }
    if (!globals_ok) {
        log_error("option %s needs a value (see versync --help)", bad);
        return CLI_EXIT_CONFIG;
    }
    if (argc >= 2 && (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)) {
        if (cli_json(false))
            printf("{\"program\":\"versync\",\"version\":\"%s\"}\n", version_string());
        else
            printf("versync %s\n", version_string());
        return CLI_EXIT_OK;
    }
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2) {
        if (cli_json(false))
            log_error("no command given (see versync --help)");
        else
            usage(stderr);
        return CLI_EXIT_CONFIG;
    }
    for (size_t i = 0; commands[i].name; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(&g, argc - 1, argv + 1);
    log_error("unknown command \"%s\" (see versync --help)", argv[1]);
    return CLI_EXIT_CONFIG;
}
