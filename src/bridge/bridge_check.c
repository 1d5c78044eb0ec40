/* bridge_check — `versync check`: validate the config against the live database, changing nothing. */
#include "versync/catalog.h"
#include "versync/cfg.h"
#include "versync/cli.h"
#include "versync/log.h"
#include "versync/setup.h"
#include "versync/target.h"
#include "versync/nested.h"
#include "versync/wal.h"

#include <stdio.h>
#include <string.h>

static void print_warning(void *ctx, const char *msg)
{
    (void)ctx;
    printf("  warning: %s\n", msg);
}

int cli_check(const cli_globals *g, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: versync [-c FILE] check\n\n"
                   "Validates the config file and checks it against the live PostgreSQL catalog\n"
                   "(tables, columns, keys backed by a unique index, version types), warns about\n"
                   "version sources that lose changes (a timestamp stamped with now(), a version\n"
                   "nothing bumps) and tables `versync init` has not set up, and checks that the\n"
                   "store answers with the configured credentials. Changes nothing.\n"
                   "exit status: 0 valid (warnings are printed), 1 invalid, the database is\n"
                   "unreachable or the store refuses the credentials, 2 usage\n");
            return 0;
        }
        fprintf(stderr, "versync check: unknown argument \"%s\" (see versync check --help)\n", argv[i]);
        return 2;
    }
    cfg c;
    PGconn *conn;
    char err[1024];
    if (!catalog_open(g->config_path, "versync check", &c, &conn, err, sizeof err)) {
        log_error("%s", err);
        return 1;
    }
    printf("%s: OK, %zu table%s:\n", c.path, c.ntables, c.ntables == 1 ? "" : "s");
    for (size_t i = 0; i < c.ntables; i++) {
        const cfg_table *t = &c.tables[i];
        size_t mapped = 0;
        for (size_t j = 0; j < t->ncols; j++)
            mapped += t->cols[j].mapped;
        const char *version = t->version_kind == CFG_VERSION_COLUMN      ? "column"
                              : t->version_kind == CFG_VERSION_TIMESTAMP ? "timestamp"
                              : t->capture == CFG_CAPTURE_WAL            ? "commit LSN (capture wal)"
                                                                         : "change sequence";
        printf("  %s -> index \"%s\": key (", t->ident, t->index);
        for (size_t k = 0; k < t->nkey; k++)
            printf("%s%s", k ? ", " : "", t->key[k]);
        printf("), %zu of %zu columns, version: %s%s%s%s\n", mapped, t->ncols, version,
               t->version_column ? " " : "", t->version_column ? t->version_column : "",
               t->managed ? " (managed)" : "");
        for (size_t k = 0; k < t->nkey; k++)
            if (catalog_type_text_varies(t->key_types[k]))
                printf("  note: key column \"%s\" of %s is %s: its text (the document id) depends on session "
                       "settings such as TimeZone and DateStyle; keep them the same for every writer\n",
                       t->key[k], t->ident, t->key_types[k]);
    }
    /* Findings that do not make the config invalid but would lose changes. */
    int warnings = 0, rc = 0;
    /* Nested documents: every join was checked by catalog_open; say where it will scan. */
    buf warn = BUF_INIT;
    for (size_t i = 0; i < c.ntables; i++)
        if (!nested_catalog_resolve(&c, &c.tables[i], conn, &warn, err, sizeof err)) {
            log_error("%s", err);
            buf_free(&warn);
            rc = 1;
            goto done;
        }
    if (warn.data)
        printf("%s", warn.data);
    buf_free(&warn);
    for (size_t i = 0; i < c.ntables; i++) {
        int n = setup_version_risks(&c, &c.tables[i], conn, print_warning, NULL, err, sizeof err);
        if (n < 0) {
            log_error("%s", err);
            rc = 1;
            goto done;
        }
        warnings += n;
    }
    int n = setup_uninitialized(&c, conn, print_warning, NULL, err, sizeof err);
    if (n < 0) {
        log_error("%s", err);
        rc = 1;
        goto done;
    }
    warnings += n;
    /* "capture": "wal": wal_level, the role, the slot and its retained WAL, replica identities. */
    if ((n = wal_setup_check(conn, &c, print_warning, NULL, err, sizeof err)) < 0) {
        log_error("%s", err);
        rc = 1;
        goto done;
    }
    warnings += n;
    /* The store, with the configured credentials. */
    target_result tr = target_check(&c, err, sizeof err);
    char url[512];
    if (tr == TARGET_OK)
        printf("  store: %s answers with the configured credentials\n", log_redact(c.store.url, url, sizeof url));
    else if (tr == TARGET_UNREACHABLE) {
        printf("  warning: %s\n", err);
        warnings++;
    } else {
        log_error("%s", err);
        rc = 1;
        goto done;
    }
    if (warnings)
        printf("%d warning%s\n", warnings, warnings == 1 ? "" : "s");
done:
    PQfinish(conn);
    cfg_free(&c);
    return rc;
}
