/* versync — command-line entry point: global options, then a subcommand. */
#include "versync/cli.h"
#include "versync/log.h"
#include "versync/proctitle.h"
#include "versync/signals.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    cli_command_fn fn;
    const char *summary;
} command;

/* One line per subcommand; each lives in its own src/bridge file. */
static const command commands[] = {
    {"check", cli_check, "validate the config against the live database; change nothing"},
    {"init", cli_init, "create or converge versync's schema, triggers and indexes (--dry-run prints SQL)"},
    {"status", cli_status, "backlog, oldest waiting change and dead letters per table (--json)"},
    {"run", cli_run, "run the sync workers under a supervisor (SIGTERM stops, SIGHUP reloads)"},
    {"once", cli_once, "drain the change table, print a summary, exit (for cron)"},
    {"backfill", cli_backfill, "copy existing rows to the store (--prune, --index NAME, --resume)"},
    {"verify", cli_verify, "compare PostgreSQL with the store; exit 1 on drift (--repair, --json)"},
    {"deadletters", cli_deadletters, "list, retry or drop dead letters (--table, --older-than, --json)"},
    {"demo", cli_demo, "race many chaos workers over hot rows, then compare store and PostgreSQL"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: versync [-c FILE] [--log-level LEVEL] [--log-format text|json] COMMAND [ARGS]\n\n"
                 "Keeps a search copy (verstore, Elasticsearch or OpenSearch) of PostgreSQL tables\n"
                 "in sync using external versions.\n\ncommands:\n");
    for (size_t i = 0; commands[i].name; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nglobal options:\n"
                 "  -c, --config FILE   config file (default: $VERSYNC_CONFIG, else ./versync.json)\n"
                 "  --log-level LEVEL   debug, info, warn or error (default: info)\n"
                 "  --log-format FMT    text or json (default: text)\n"
                 "  -h, --help          this text; `versync COMMAND --help` for a command\n");
}

/* Global options may stand before or after the command name; they are removed
 * from argv so that commands see only their own arguments. */
static bool take_globals(int *argc, char **argv, cli_globals *g)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0)
            slot = &g->config_path;
        else if (strcmp(a, "--log-level") == 0)
            slot = &g->log_level;
        else if (strcmp(a, "--log-format") == 0)
            slot = &g->log_format;
        if (!slot) {
            argv[out++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) {
            fprintf(stderr, "versync: option %s needs a value\n", a);
            return false;
        }
        *slot = argv[++i];
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
    if (!take_globals(&argc, argv, &g))
        return 2;
    log_level level = LOG_INFO;
    log_format format = LOG_FORMAT_TEXT;
    if (g.log_level && !log_parse_level(g.log_level, &level)) {
        fprintf(stderr, "versync: --log-level: unknown level \"%s\" (debug, info, warn, error)\n", g.log_level);
        return 2;
    }
    if (g.log_format && !log_parse_format(g.log_format, &format)) {
        fprintf(stderr, "versync: --log-format: unknown format \"%s\" (text, json)\n", g.log_format);
        return 2;
    }
    log_init("versync", level, format);
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; commands[i].name; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(&g, argc - 1, argv + 1);
    fprintf(stderr, "versync: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
