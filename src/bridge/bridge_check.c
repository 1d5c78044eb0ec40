/* bridge_check — `versync check`: validate the config against the live database, changing nothing. */
#include "versync/common/buf.h"
#include "versync/bridge/catalog.h"
#include "versync/bridge/cfg.h"
#include "versync/bridge/cli.h"
#include "versync/common/log.h"
#include "versync/bridge/mapping.h"
#include "versync/bridge/partition.h"
#include "versync/bridge/setup.h"
#include "versync/bridge/target.h"
#include "versync/bridge/nested.h"
#include "versync/bridge/wal.h"

#include <stdio.h>
#include <string.h>

/* Where the findings go: printed as they come, or gathered for one JSON object. */
typedef struct check_out {
    bool json;
    buf warnings; /* JSON: the array's members, comma-separated */
    int count;
    buf drift;          /* JSON: the members of "mapping_drift", comma-separated */
    int ndrift;         /* fields whose live mapping differs from what the config implies */
    const char *index;  /* the index being compared */
} check_out;

static void report_warning(void *ctx, const char *msg);

static void report_drift(void *ctx, const char *field, const char *live, const char *expected)
{
    check_out *o = ctx;
    o->ndrift++;
    if (!o->json) {
        if (!strcmp(live, "none"))
            printf("  drift: index \"%s\": field \"%s\" is not mapped in the store, the config implies %s\n",
                   o->index, field, expected);
        else
            printf("  drift: index \"%s\": field \"%s\" is mapped %s in the store, the config implies %s\n",
                   o->index, field, live, expected);
        return;
    }
    if (o->drift.len)
        buf_putc(&o->drift, ',');
    buf_puts(&o->drift, "{\"index\":");
    buf_put_json_string(&o->drift, o->index, strlen(o->index));
    buf_puts(&o->drift, ",\"field\":");
    buf_put_json_string(&o->drift, field, strlen(field));
    buf_puts(&o->drift, ",\"live\":");
    buf_put_json_string(&o->drift, live, strlen(live));
    buf_puts(&o->drift, ",\"expected\":");
    buf_put_json_string(&o->drift, expected, strlen(expected));
    buf_putc(&o->drift, '}');
}

/* Compare each existing index's mapping with the one its table implies (mapping.h). An
 * unreachable store was already reported; any other failure is a warning. False when
 * PostgreSQL fails (err set). */
static bool check_mappings(const cfg *c, PGconn *conn, check_out *o, char *err, size_t errsz)
{
    esc *e = esc_new(&c->store, err, errsz);
    if (!e) {
        report_warning(o, err);
        return true;
    }
    bool ok = true;
    for (size_t i = 0; i < c->ntables; i++) {
        const cfg_table *t = &c->tables[i];
        cJSON *want = mapping_for_table(conn, t, err, errsz);
        if (!want) {
            ok = false;
            break;
        }
        o->index = t->index;
        char why[512];
        int n = mapping_store_diff(e, t->index, want, report_drift, o, why, sizeof why);
        cJSON_Delete(want);
        if (n < 0 && n != MAPPING_STORE_MISSING) {
            char msg[700];
            snprintf(msg, sizeof msg, "index \"%s\": could not compare its mapping: %s", t->index, why);
            report_warning(o, msg);
        }
    }
    esc_free(e);
    return ok;
}

static void report_warning(void *ctx, const char *msg)
{
    check_out *o = ctx;
    o->count++;
    if (!o->json) {
        printf("  warning: %s\n", msg);
        return;
    }
    if (o->warnings.len)
        buf_putc(&o->warnings, ',');
    buf_put_json_string(&o->warnings, msg, strlen(msg));
}

/* nested_catalog_resolve's findings: lines of "  warning: …" or "  note: …". */
static void report_lines(check_out *o, const char *text)
{
    if (!o->json) {
        fputs(text, stdout);
        return;
    }
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)n, text);
        const char *m = line;
        while (*m == ' ')
            m++;
        if (strncmp(m, "warning: ", 9) == 0)
            m += 9;
        if (*m)
            report_warning(o, m);
        text += n + (nl ? 1 : 0);
    }
}

static const char *version_kind_name(const cfg_table *t)
{
    return t->version_kind == CFG_VERSION_COLUMN      ? "column"
           : t->version_kind == CFG_VERSION_TIMESTAMP ? "timestamp"
           : t->capture == CFG_CAPTURE_WAL            ? "commit LSN (capture wal)"
                                                      : "change sequence";
}

static void print_tables(const cfg *c)
{
    printf("%s: OK, %zu table%s:\n", c->path, c->ntables, c->ntables == 1 ? "" : "s");
    for (size_t i = 0; i < c->ntables; i++) {
        const cfg_table *t = &c->tables[i];
        size_t mapped = 0;
        for (size_t j = 0; j < t->ncols; j++)
            mapped += t->cols[j].mapped;
        printf("  %s -> index \"%s\": key (", t->ident, t->index);
        for (size_t k = 0; k < t->nkey; k++)
            printf("%s%s", k ? ", " : "", t->key[k]);
        printf("), %zu of %zu columns, version: %s%s%s%s\n", mapped, t->ncols, version_kind_name(t),
               t->version_column ? " " : "", t->version_column ? t->version_column : "",
               t->managed ? " (managed)" : "");
        for (size_t k = 0; k < t->nkey; k++)
            if (catalog_type_text_varies(t->key_types[k]))
                printf("  note: key column \"%s\" of %s is %s: its text (the document id) depends on session "
                       "settings such as TimeZone and DateStyle; keep them the same for every writer\n",
                       t->key[k], t->ident, t->key_types[k]);
    }
}

static void json_tables(buf *b, const cfg *c)
{
    buf_puts(b, "\"tables\":[");
    for (size_t i = 0; i < c->ntables; i++) {
        const cfg_table *t = &c->tables[i];
        size_t mapped = 0;
        for (size_t j = 0; j < t->ncols; j++)
            mapped += t->cols[j].mapped;
        buf_puts(b, i ? ",{\"table\":" : "{\"table\":");
        buf_put_json_string(b, t->ident, strlen(t->ident));
        buf_puts(b, ",\"index\":");
        buf_put_json_string(b, t->index, strlen(t->index));
        buf_puts(b, ",\"key\":[");
        for (size_t k = 0; k < t->nkey; k++) {
            if (k)
                buf_putc(b, ',');
            buf_put_json_string(b, t->key[k], strlen(t->key[k]));
        }
        buf_printf(b, "],\"columns_mapped\":%zu,\"columns\":%zu,\"version\":{\"kind\":\"%s\",\"column\":", mapped,
                   t->ncols, version_kind_name(t));
        if (t->version_column)
            buf_put_json_string(b, t->version_column, strlen(t->version_column));
        else
            buf_puts(b, "null");
        buf_printf(b, ",\"managed\":%s}}", t->managed ? "true" : "false");
    }
    buf_puts(b, "]");
}

static void usage(FILE *out)
{
    fprintf(out, "usage: versync [-c FILE] check [--json]\n\n"
                 "Validates the config file and checks it against the live PostgreSQL catalog\n"
                 "(tables, columns, keys backed by a unique index, version types), warns about\n"
                 "version sources that lose changes (a timestamp stamped with now(), a version\n"
                 "nothing bumps) and tables `versync init` has not set up, checks that the store\n"
                 "answers with the configured credentials, and that each existing index maps every\n"
                 "field as the catalog and the config's mappings imply. Changes nothing.\n\n"
                 "  --json       one JSON object on stdout: {\"config\",\"valid\",\"tables\",\"warnings\",\"store\",\n"
                 "               \"mapping_drift\"}\n"
                 "  -h, --help   this text\n\n"
                 "exit status: 0 valid (warnings are printed, an unreachable store is one); 1 valid, but\n"
                 "an index maps a field otherwise than the config implies (rebuild it: README\n"
                 "\"Zero-downtime reindex\"); 2 invalid\n"
                 "config, a mapping the catalog contradicts, or credentials PostgreSQL or the store\n"
                 "refuse; 3 PostgreSQL unreachable\n");
}

int cli_check(const cli_globals *g, int argc, char **argv)
{
    bool json_flag = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json_flag = true;
            continue;
        }
        log_error("check: unknown argument \"%s\" (see versync check --help)", argv[i]);
        return CLI_EXIT_CONFIG;
    }
    cfg c;
    PGconn *conn;
    char err[1024];
    int rc = cli_open(g, "versync check", &c, &conn);
    if (rc != CLI_EXIT_OK)
        return rc;
    check_out o = {.json = cli_json(json_flag), .warnings = BUF_INIT, .drift = BUF_INIT};
    buf out = BUF_INIT;
    if (!o.json)
        print_tables(&c);
    /* Nested documents: every join was checked by catalog_open; say where it will scan. */
    buf warn = BUF_INIT;
    for (size_t i = 0; i < c.ntables; i++)
        if (!nested_catalog_resolve(&c, &c.tables[i], conn, &warn, err, sizeof err)) {
            log_error("%s", err);
            buf_free(&warn);
            rc = cli_pg_exit(conn);
            goto done;
        }
    if (warn.data)
        report_lines(&o, warn.data);
    buf_free(&warn);
    /* Findings that do not make the config invalid but would lose changes. */
    for (size_t i = 0; i < c.ntables; i++)
        if (setup_version_risks(&c, &c.tables[i], conn, report_warning, &o, err, sizeof err) < 0) {
            log_error("%s", err);
            rc = cli_pg_exit(conn);
            goto done;
        }
    if (setup_uninitialized(&c, conn, report_warning, &o, err, sizeof err) < 0) {
        log_error("%s", err);
        rc = cli_pg_exit(conn);
        goto done;
    }
    /* Partitioned tables: partitions created after init, keys unique only per partition. */
    if (partition_check(&c, conn, report_warning, &o, err, sizeof err) < 0) {
        log_error("%s", err);
        rc = cli_pg_exit(conn);
        goto done;
    }
    /* "capture": "wal": wal_level, the role, the slot and its retained WAL, replica identities. */
    if (wal_setup_check(conn, &c, report_warning, &o, err, sizeof err) < 0) {
        log_error("%s", err);
        rc = cli_pg_exit(conn);
        goto done;
    }
    /* The store, with the configured credentials: refused credentials are an error, no answer a warning. */
    target_result tr = target_check(&c, err, sizeof err);
    char url[512];
    log_redact(c.store.url, url, sizeof url);
    if (tr == TARGET_OK && !o.json)
        printf("  store: %s answers with the configured credentials\n", url);
    else if (tr == TARGET_UNREACHABLE)
        report_warning(&o, err);
    else if (tr != TARGET_OK) {
        log_error("%s", err);
        rc = CLI_EXIT_CONFIG;
        goto done;
    }
    /* The mapping each index should have: only a store that answered can be compared. */
    if (tr == TARGET_OK && !check_mappings(&c, conn, &o, err, sizeof err)) {
        log_error("%s", err);
        rc = cli_pg_exit(conn);
        goto done;
    }
    if (o.json) {
        buf_puts(&out, "{\"config\":");
        buf_put_json_string(&out, c.path, strlen(c.path));
        buf_puts(&out, ",\"valid\":true,");
        json_tables(&out, &c);
        buf_printf(&out, ",\"warnings\":[%s],\"store\":{\"url\":", o.warnings.data ? o.warnings.data : "");
        buf_put_json_string(&out, url, strlen(url));
        buf_printf(&out, ",\"reachable\":%s},\"mapping_drift\":[%s]}\n", tr == TARGET_OK ? "true" : "false",
                   o.drift.data ? o.drift.data : "");
        if (!buf_ok(&out) || !buf_ok(&o.warnings) || !buf_ok(&o.drift)) {
            log_error("check: out of memory");
            rc = CLI_EXIT_CONFIG;
            goto done;
        }
        fputs(out.data, stdout);
    } else if (o.count) {
        printf("%d warning%s\n", o.count, o.count == 1 ? "" : "s");
    }
    if (o.ndrift) {
        /* A text field where a keyword is implied breaks exact matching, a float where a
         * scaled_float is: the index must be rebuilt, a live mapping cannot change type. */
        if (!o.json)
            printf("%d mapped field%s differ%s from what the config implies: rebuild the index as README "
                   "\"Zero-downtime reindex (alias switch)\" shows\n",
                   o.ndrift, o.ndrift == 1 ? "" : "s", o.ndrift == 1 ? "s" : "");
        rc = CLI_EXIT_DRIFT;
    }
done:
    buf_free(&o.drift);
    buf_free(&out);
    buf_free(&o.warnings);
    PQfinish(conn);
    cfg_free(&c);
    return rc;
}
