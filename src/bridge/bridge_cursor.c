/* bridge_cursor — trigger-free capture: snapshot-bounded passes over cursor tables, checkpoints in a table or a state file. */
#include "versync/bridge/cursor.h"
#include "versync/common/timing.h"

#include "versync/common/buf.h"
#include "versync/bridge/bulk.h"
#include "versync/common/log.h"
#include "versync/bridge/pg.h"
#include "versync/bridge/render.h"
#include "versync/common/scan.h"
#include "versync/bridge/sql_embed.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_MAX (64u << 20)

/* ---- checkpoints ---------------------------------------------------------- */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void cursor_checkpoint_clear(cursor_checkpoint *cp)
{
    if (!cp)
        return;
    free_strv(cp->pass_key, cp->npass_key);
    free_strv(cp->key_cols, cp->nkey_cols);
    memset(cp, 0, sizeof *cp);
}

/* Copy n strings (NULL items stay NULL); false when out of memory. */
static bool dup_strv(char *const *in, size_t n, char ***out)
{
    *out = NULL;
    if (!in)
        return true;
    char **v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return false;
    for (size_t i = 0; i < n; i++)
        if (in[i] && !(v[i] = strdup(in[i]))) {
            free_strv(v, i);
            return false;
        }
    *out = v;
    return true;
}

long long cursor_age_ms(const char *iso)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = iso && *iso ? strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!rest)
        return -1;
    double frac = 0;
    if (*rest == '.')
        frac = strtod(rest, NULL);
    time_t t = timegm(&tm);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ms = ((long long)now.tv_sec - (long long)t) * 1000 + now.tv_nsec / 1000000 - (long long)(frac * 1000);
    return ms < 0 ? 0 : ms;
}

/* ---- the state file ------------------------------------------------------- */

static cJSON *strv_json(char *const *v, size_t n)
{
    if (!v)
        return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        cJSON_AddItemToArray(a, v[i] ? cJSON_CreateString(v[i]) : cJSON_CreateNull());
    return a;
}

static bool json_strv(const cJSON *a, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!a || cJSON_IsNull(a))
        return true;
    if (!cJSON_IsArray(a))
        return false;
    size_t cnt = (size_t)cJSON_GetArraySize(a);
    char **v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v)
        return false;
    size_t i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (cJSON_IsString(e)) {
            if (!(v[i] = strdup(e->valuestring))) {
                free_strv(v, i);
                return false;
            }
        } else if (!cJSON_IsNull(e)) {
            free_strv(v, i);
            return false;
        }
    }
    *out = v;
    *n = cnt;
    return true;
}

/* A 64-bit integer kept as a JSON string (doubles lose digits past 2^53). */
static bool json_ll(const cJSON *o, const char *key, long long *out, bool *present)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (present)
        *present = v && !cJSON_IsNull(v);
    if (!v || cJSON_IsNull(v))
        return true;
    if (cJSON_IsNumber(v)) {
        *out = (long long)v->valuedouble;
        return true;
    }
    if (!cJSON_IsString(v))
        return false;
    int64_t x;
    if (!scan_int64(v->valuestring, INT64_MIN, INT64_MAX, &x))
        return false;
    *out = x;
    return true;
}

static void json_text(const cJSON *o, const char *key, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(out, n, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* The whole state file as a cJSON tree ({"versync_state": 1, "tables": {}} when missing). */
static cJSON *state_read(const char *path, char *err, size_t errsz)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno != ENOENT) {
            snprintf(err, errsz, "state file %s: cannot open: %s", path, strerror(errno));
            return NULL;
        }
        cJSON *root = cJSON_CreateObject();
        if (!root || !cJSON_AddNumberToObject(root, "versync_state", 1) || !cJSON_AddObjectToObject(root, "tables")) {
            cJSON_Delete(root);
            snprintf(err, errsz, "out of memory");
            return NULL;
        }
        return root;
    }
    buf b;
    buf_init(&b, STATE_MAX);
    bool ok = buf_read_stream(&b, f);
    bool rerr = ferror(f);
    fclose(f);
    cJSON *root = NULL;
    if (!ok || rerr) {
        snprintf(err, errsz, "state file %s: %s", path, rerr ? "read error" : "too large or out of memory");
        goto done;
    }
    root = cJSON_Parse(b.data ? b.data : "");
    if (!cJSON_IsObject(root) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "versync_state")) ||
        !cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "tables"))) {
        snprintf(err, errsz, "state file %s: not a versync state file (expected {\"versync_state\": 1, \"tables\": {…}})",
                 path);
        cJSON_Delete(root);
        root = NULL;
    }
done:
    buf_free(&b);
    return root;
}

bool cursor_state_load(const char *path, const char *ident, cursor_checkpoint *cp, char *err, size_t errsz)
{
    memset(cp, 0, sizeof *cp);
    cJSON *root = state_read(path, err, errsz);
    if (!root)
        return false;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "tables"), ident);
    bool ok = true;
    if (t) {
        bool in_pass = false;
        ok = cJSON_IsObject(t) && json_ll(t, "base_xmin", &cp->base_xmin, &cp->has_base) &&
             json_ll(t, "pass_xmin", &cp->pass_xmin, &in_pass) && json_ll(t, "passes", &cp->passes, NULL) &&
             json_ll(t, "rows", &cp->rows, NULL) && json_ll(t, "applied", &cp->applied, NULL) &&
             json_ll(t, "stale", &cp->stale, NULL) && json_ll(t, "dead_letters", &cp->dead_letters, NULL) &&
             json_strv(cJSON_GetObjectItemCaseSensitive(t, "pass_key"), &cp->pass_key, &cp->npass_key) &&
             json_strv(cJSON_GetObjectItemCaseSensitive(t, "key"), &cp->key_cols, &cp->nkey_cols);
        cp->in_pass = in_pass;
        if (ok) {
            json_text(t, "base_at", cp->base_at, sizeof cp->base_at);
            json_text(t, "pass_at", cp->pass_at, sizeof cp->pass_at);
            json_text(t, "system_id", cp->system_id, sizeof cp->system_id);
        } else {
            snprintf(err, errsz, "state file %s: tables.%s: malformed checkpoint", path, ident);
            cursor_checkpoint_clear(cp);
        }
    }
    cJSON_Delete(root);
    return ok;
}

static bool add_ll(cJSON *o, const char *key, bool present, long long v)
{
    if (!present)
        return cJSON_AddNullToObject(o, key) != NULL;
    char s[32];
    snprintf(s, sizeof s, "%lld", v);
    return cJSON_AddStringToObject(o, key, s) != NULL;
}

/* fsync the folder that holds `path`, so a rename in it is durable. */
static bool sync_dir(const char *path, char *err, size_t errsz)
{
    char *copy = strdup(path);
    if (!copy) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    bool ok = fd >= 0 && fsync(fd) == 0;
    if (!ok)
        snprintf(err, errsz, "state file %s: syncing folder %s: %s", path, dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(copy);
    return ok;
}

bool cursor_state_save(const char *path, const char *ident, const cursor_checkpoint *cp, char *err, size_t errsz)
{
    cJSON *root = state_read(path, err, errsz);
    if (!root)
        return false;
    bool ok = false;
    char *text = NULL;
    char tmp[4096];
    int fd = -1;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errsz, "state file %s: path too long", path);
        goto done;
    }
    cJSON *tables = cJSON_GetObjectItemCaseSensitive(root, "tables");
    cJSON *t = cJSON_CreateObject();
    if (!t)
        goto oom;
    cJSON_DeleteItemFromObjectCaseSensitive(tables, ident);
    cJSON_AddItemToObject(tables, ident, t);
    if (!cJSON_AddItemToObject(t, "key", strv_json(cp->key_cols, cp->nkey_cols)) ||
        !add_ll(t, "base_xmin", cp->has_base, cp->base_xmin) ||
        !cJSON_AddStringToObject(t, "base_at", cp->has_base ? cp->base_at : "") ||
        !add_ll(t, "pass_xmin", cp->in_pass, cp->pass_xmin) ||
        !cJSON_AddStringToObject(t, "pass_at", cp->in_pass ? cp->pass_at : "") ||
        !cJSON_AddItemToObject(t, "pass_key", strv_json(cp->in_pass ? cp->pass_key : NULL, cp->npass_key)) ||
        !add_ll(t, "passes", true, cp->passes) || !add_ll(t, "rows", true, cp->rows) ||
        !add_ll(t, "applied", true, cp->applied) || !add_ll(t, "stale", true, cp->stale) ||
        !add_ll(t, "dead_letters", true, cp->dead_letters) ||
        !cJSON_AddStringToObject(t, "system_id", cp->system_id))
        goto oom;
    if (!(text = cJSON_Print(root)))
        goto oom;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errsz, "state file %s: cannot create %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errsz, "state file %s: writing %s: %s", path, tmp, strerror(errno));
            goto done;
        }
        off += (size_t)n;
    }
    if (write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
        snprintf(err, errsz, "state file %s: writing %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, errsz, "state file %s: closing %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errsz, "state file %s: renaming %s over it: %s", path, tmp, strerror(errno));
        goto done;
    }
    ok = sync_dir(path, err, errsz);
    goto done;
oom:
    snprintf(err, errsz, "out of memory");
done:
    if (fd >= 0)
        close(fd);
    if (!ok)
        unlink(tmp);
    free(text);
    cJSON_Delete(root);
    return ok;
}

/* ---- the poller ------------------------------------------------------------ */

typedef struct ctab {
    cfg_table *t;
    char *sql_first; /* page statement of a pass's first page */
    char *sql_next;  /* … of later pages (after a key) */
    bool broken;     /* cannot be polled (no key): logged once */
    bool active;     /* a pass under way in this process (checkpoint loaded, lock held) */
    bool fresh;      /* that pass started in this process */
    bool done;       /* once: a pass started in this process completed */
    long long next_ms; /* run: when the next pass is due */
    cursor_checkpoint cp;
} ctab;

/* One write of a page. */
typedef struct pitem {
    char *id;
    bool del;
    int64_t version;
    int row;
    bulk_outcome outcome;
} pitem;

struct cursor {
    const cfg *c;
    char *state_path;
    bool once;
    char worker_name[300];
    ctab *tabs;
    size_t ntabs;
    size_t rr; /* round robin over the tables */
    char *schema_q;
    bulk_sender sender; /* its store is set per step */
};

size_t cursor_table_count(const cfg *c)
{
    size_t n = 0;
    for (size_t i = 0; c && i < c->ntables; i++)
        n += c->tables[i].capture == CFG_CAPTURE_CURSOR;
    return n;
}

cursor *cursor_new(const cfg *c, const char *state_path, bool once, const char *worker_name, char *err,
                   size_t errsz)
{
    cursor *cu = calloc(1, sizeof *cu);
    size_t n = cursor_table_count(c);
    if (!cu || !(cu->tabs = calloc(n ? n : 1, sizeof *cu->tabs)) ||
        (state_path && !(cu->state_path = strdup(state_path)))) {
        snprintf(err, errsz, "out of memory");
        cursor_free(cu);
        return NULL;
    }
    cu->c = c;
    cu->once = once;
    snprintf(cu->worker_name, sizeof cu->worker_name, "%s", worker_name ? worker_name : "versync");
    bulk_sender_init(&cu->sender, NULL, c->store.max_bulk_bytes > 0 ? (size_t)c->store.max_bulk_bytes : 0);
    cu->sender.max_item_retries = c->store.max_item_retries;
    for (size_t i = 0; i < c->ntables; i++) {
        cfg_table *t = &c->tables[i];
        if (t->capture != CFG_CAPTURE_CURSOR)
            continue;
        cu->tabs[cu->ntabs++].t = t;
        if (!t->soft_delete_column && !t->deletes_ignore)
            log_info("%s is captured without triggers (\"capture\": \"cursor\"): rows deleted with DELETE are not "
                     "seen; use a soft_delete column, or run versync verify --repair or backfill --prune on a "
                     "schedule",
                     t->ident);
    }
    return cu;
}

void cursor_free(cursor *cu)
{
    if (!cu)
        return;
    for (size_t i = 0; cu->tabs && i < cu->ntabs; i++) {
        free(cu->tabs[i].sql_first);
        free(cu->tabs[i].sql_next);
        cursor_checkpoint_clear(&cu->tabs[i].cp);
    }
    free(cu->tabs);
    free(cu->state_path);
    free(cu->schema_q);
    bulk_sender_free(&cu->sender);
    free(cu);
}

/* The server's message, first line only, after `what`. */
static void pg_err(PGconn *pg, const PGresult *r, const char *what, char *err, size_t errsz)
{
    const char *m = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!m || !*m)
        m = r ? PQresultErrorMessage(r) : NULL;
    if (!m || !*m)
        m = PQerrorMessage(pg);
    snprintf(err, errsz, "%s: %s", what, m);
    char *nl = strchr(err, '\n');
    if (nl)
        *nl = '\0';
}

static const char *sqlstate(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

/* Build the page statements of one table (its key is resolved by now). */
static bool build_sql(PGconn *pg, ctab *ct, char *err, size_t errsz)
{
    cfg_table *t = ct->t;
    buf sel = BUF_INIT, tbl = BUF_INIT, keys = BUF_INIT, params = BUF_INIT, after = BUF_INIT;
    bool ok = false;
    if (!render_select_list(pg, t, "vs_c", &sel, err, errsz) || !render_table_name(pg, t, &tbl, err, errsz))
        goto done;
    for (size_t i = 0; i < t->nkey; i++) {
        buf_puts(&keys, i ? ", vs_c." : "vs_c.");
        if (!pg_put_ident(pg, &keys, t->key[i], err, errsz))
            goto done;
        buf_printf(&params, "%s$%zu", i ? ", " : "", i + 3);
    }
    buf_printf(&after, "(%s) > (%s)", keys.data, params.data);
    if (!buf_ok(&sel) || !buf_ok(&tbl) || !buf_ok(&keys) || !buf_ok(&params) || !buf_ok(&after)) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    const char *first[] = {"select", sel.data, "table", tbl.data, "after", "true", "order", keys.data, NULL};
    const char *next[] = {"select", sel.data, "table", tbl.data, "after", after.data, "order", keys.data, NULL};
    /* sql_render_expr: the file's comment names the vars too, and a select list that spans lines (a
     * "where" filter does) must not land there. */
    if (!(ct->sql_first = sql_render_expr("cursor_page", first)) || !(ct->sql_next = sql_render_expr("cursor_page", next))) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    ok = true;
done:
    buf_free(&sel);
    buf_free(&tbl);
    buf_free(&keys);
    buf_free(&params);
    buf_free(&after);
    return ok;
}

static bool key_cols_equal(const cursor_checkpoint *cp, const cfg_table *t)
{
    if (cp->nkey_cols != t->nkey)
        return false;
    for (size_t i = 0; i < t->nkey; i++)
        if (!cp->key_cols[i] || strcmp(cp->key_cols[i], t->key[i]) != 0)
            return false;
    return true;
}

int cursor_checkpoint_get(PGconn *pg, const char *schema_q, const char *ident, cursor_checkpoint *cp, char *err,
                          size_t errsz)
{
    memset(cp, 0, sizeof *cp);
    char *sql = sql_render("cursor_get", schema_q);
    if (!sql) {
        snprintf(err, errsz, "out of memory");
        return CURSOR_ERR_PG;
    }
    const char *p[] = {ident};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, p, NULL, NULL, 0);
    free(sql);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        if (strcmp(sqlstate(r), "42P01") == 0 || strcmp(sqlstate(r), "3F000") == 0) {
            snprintf(err, errsz, "%s: versync's cursors table is missing in schema %s: run `versync init` "
                                 "(PostgreSQL keeps the checkpoint), or give --state FILE (on a replica)",
                     ident, schema_q);
            rc = CURSOR_ERR_CONFIG;
        } else {
            pg_err(pg, r, "reading the cursor checkpoint", err, errsz);
            rc = CURSOR_ERR_PG;
        }
        goto done;
    }
    if (PQntuples(r) == 0)
        goto done;
    if ((!PQgetisnull(r, 0, 0) && !render_parse_text_array(PQgetvalue(r, 0, 0), &cp->key_cols, &cp->nkey_cols)) ||
        (!PQgetisnull(r, 0, 5) && !render_parse_text_array(PQgetvalue(r, 0, 5), &cp->pass_key, &cp->npass_key))) {
        snprintf(err, errsz, "%s: cannot parse the cursor checkpoint", ident);
        cursor_checkpoint_clear(cp);
        rc = CURSOR_ERR_PG;
        goto done;
    }
    cp->has_base = !PQgetisnull(r, 0, 1);
    cp->base_xmin = cp->has_base ? strtoll(PQgetvalue(r, 0, 1), NULL, 10) : 0;
    snprintf(cp->base_at, sizeof cp->base_at, "%s", PQgetvalue(r, 0, 2));
    cp->in_pass = !PQgetisnull(r, 0, 3);
    cp->pass_xmin = cp->in_pass ? strtoll(PQgetvalue(r, 0, 3), NULL, 10) : 0;
    snprintf(cp->pass_at, sizeof cp->pass_at, "%s", PQgetvalue(r, 0, 4));
    cp->passes = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
    cp->rows = strtoll(PQgetvalue(r, 0, 7), NULL, 10);
    cp->applied = strtoll(PQgetvalue(r, 0, 8), NULL, 10);
    cp->stale = strtoll(PQgetvalue(r, 0, 9), NULL, 10);
    cp->dead_letters = strtoll(PQgetvalue(r, 0, 10), NULL, 10);
    snprintf(cp->system_id, sizeof cp->system_id, "%s", PQgetvalue(r, 0, 11));
done:
    PQclear(r);
    return rc;
}

/* Load the checkpoint from <schema>.cursors. 0 ok, else CURSOR_ERR_*. */
static int db_load(cursor *cu, PGconn *pg, ctab *ct, char *err, size_t errsz)
{
    cursor_checkpoint_clear(&ct->cp);
    return cursor_checkpoint_get(pg, cu->schema_q, ct->t->ident, &ct->cp, err, errsz);
}

static PGresult *run_file(cursor *cu, PGconn *pg, const char *file, int n, const char *const *params)
{
    char *sql = sql_render(file, cu->schema_q);
    if (!sql)
        return NULL;
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    free(sql);
    return r;
}

/* Store the checkpoint (and, in PostgreSQL, the page's counters in worker_stats) in one
 * transaction. 0 ok, else CURSOR_ERR_*. */
static int db_save(cursor *cu, PGconn *pg, ctab *ct, const worker_counters *d, const char *started_at, char *err,
                   size_t errsz)
{
    const cursor_checkpoint *cp = &ct->cp;
    buf keys = BUF_INIT, pk = BUF_INIT;
    char v[8][32];
    int rc = CURSOR_ERR_PG;
    PGresult *r = NULL;
    render_array_literal(&keys, (const char *const *)ct->t->key, ct->t->nkey);
    if (cp->in_pass && cp->pass_key)
        render_array_literal(&pk, (const char *const *)cp->pass_key, cp->npass_key);
    if (!buf_ok(&keys) || !buf_ok(&pk)) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    snprintf(v[0], 32, "%lld", cp->base_xmin);
    snprintf(v[1], 32, "%lld", cp->pass_xmin);
    snprintf(v[2], 32, "%lld", cp->passes);
    snprintf(v[3], 32, "%lld", cp->rows);
    snprintf(v[4], 32, "%lld", cp->applied);
    snprintf(v[5], 32, "%lld", cp->stale);
    snprintf(v[6], 32, "%lld", cp->dead_letters);
    const char *p[] = {ct->t->ident,
                       keys.data,
                       cp->has_base ? v[0] : NULL,
                       cp->has_base ? cp->base_at : NULL,
                       cp->in_pass ? v[1] : NULL,
                       cp->in_pass ? cp->pass_at : NULL,
                       cp->in_pass && cp->pass_key ? pk.data : NULL,
                       v[2], v[3], v[4], v[5], v[6], cp->system_id[0] ? cp->system_id : NULL};
    r = PQexec(pg, "BEGIN");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_err(pg, r, "BEGIN", err, errsz);
        goto done;
    }
    PQclear(r);
    r = run_file(cu, pg, "cursor_set", 13, p);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        if (strcmp(sqlstate(r), "25006") == 0) {
            snprintf(err, errsz, "%s: the database is read-only (a replica, or default_transaction_read_only): "
                                 "give --state FILE to keep the cursor checkpoint in a local file",
                     ct->t->ident);
            rc = CURSOR_ERR_CONFIG;
        } else if (strcmp(sqlstate(r), "42P01") == 0) {
            snprintf(err, errsz, "%s: versync's cursors table is missing: run `versync init`, or give --state FILE",
                     ct->t->ident);
            rc = CURSOR_ERR_CONFIG;
        } else {
            pg_err(pg, r, "saving the cursor checkpoint", err, errsz);
        }
        goto rollback;
    }
    PQclear(r);
    snprintf(v[0], 32, "%lld", d->applied);
    snprintf(v[1], 32, "%lld", d->stale);
    snprintf(v[2], 32, "%lld", d->dead_letters);
    const char *sp[] = {cu->worker_name, started_at && *started_at ? started_at : NULL, v[0], v[1], "0", v[2], "0",
                        NULL};
    r = run_file(cu, pg, "worker_stats", 8, sp);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_err(pg, r, "worker_stats", err, errsz);
        goto rollback;
    }
    PQclear(r);
    r = PQexec(pg, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pg_err(pg, r, "COMMIT", err, errsz);
        goto done;
    }
    rc = 0;
    goto done;
rollback:
    PQclear(r);
    r = PQexec(pg, "ROLLBACK");
done:
    PQclear(r);
    buf_free(&keys);
    buf_free(&pk);
    return rc;
}

static bool lock_table(cursor *cu, PGconn *pg, ctab *ct, bool lock, bool *got, char *err, size_t errsz)
{
    const char *p[] = {cu->c->schema ? cu->c->schema : "versync", ct->t->ident};
    PGresult *r = PQexecParams(pg, sql_text(lock ? "cursor_lock" : "cursor_unlock"), 2, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    if (!ok)
        pg_err(pg, r, lock ? "cursor lock" : "cursor unlock", err, errsz);
    else if (got)
        *got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return ok;
}

/* End a pass in this process (completed or failed): release the lock, forget the loaded checkpoint. */
static void deactivate(cursor *cu, PGconn *pg, ctab *ct)
{
    if (ct->active && pg && PQstatus(pg) == CONNECTION_OK && PQtransactionStatus(pg) == PQTRANS_IDLE) {
        char e[256];
        lock_table(cu, pg, ct, false, NULL, e, sizeof e);
    }
    ct->active = false;
}

/* Begin (or resume) a pass: lock, load the checkpoint, take the pass snapshot when starting.
 * 1 active now, 0 skipped (another poller holds the table), else CURSOR_ERR_*. */
static int activate(cursor *cu, PGconn *pg, ctab *ct, char *err, size_t errsz)
{
    bool got = false;
    if (!lock_table(cu, pg, ct, true, &got, err, errsz))
        return CURSOR_ERR_PG;
    if (!got) {
        if (cu->once)
            log_info("%s: another versync is polling it (its advisory lock is taken); leaving it to that one",
                     ct->t->ident);
        else
            log_debug("%s: another versync is polling it; skipping this round", ct->t->ident);
        return 0;
    }
    ct->active = true;
    int rc = 0;
    cursor_checkpoint_clear(&ct->cp); /* the last pass's copy; both loaders start from zero */
    if (cu->state_path) {
        if (!cursor_state_load(cu->state_path, ct->t->ident, &ct->cp, err, errsz))
            rc = CURSOR_ERR_CONFIG;
    } else {
        rc = db_load(cu, pg, ct, err, errsz);
    }
    if (rc < 0) {
        deactivate(cu, pg, ct);
        return rc;
    }
    cursor_checkpoint *cp = &ct->cp;
    PGresult *sr = PQexec(pg, sql_text("cursor_system"));
    if (PQresultStatus(sr) != PGRES_TUPLES_OK || PQntuples(sr) != 1) {
        pg_err(pg, sr, "reading the system identifier", err, errsz);
        PQclear(sr);
        deactivate(cu, pg, ct);
        return CURSOR_ERR_PG;
    }
    if (cp->system_id[0] && strcmp(cp->system_id, PQgetvalue(sr, 0, 0)) != 0 && (cp->has_base || cp->in_pass)) {
        log_warn("%s: the checkpoint was taken on another database cluster (system identifier %s, this one is %s): "
                 "its transaction ids mean nothing here, so the whole table is read again",
                 ct->t->ident, cp->system_id, PQgetvalue(sr, 0, 0));
        cp->has_base = false;
        cp->in_pass = false;
    }
    snprintf(cp->system_id, sizeof cp->system_id, "%s", PQgetvalue(sr, 0, 0));
    PQclear(sr);
    if (cp->in_pass && !key_cols_equal(cp, ct->t)) {
        /* The key changed: the base stays sound, only this pass's position is meaningless. */
        log_info("%s: the key columns changed since the checkpoint; starting a new pass", ct->t->ident);
        cp->in_pass = false;
    }
    free_strv(cp->key_cols, cp->nkey_cols);
    if (!dup_strv(ct->t->key, ct->t->nkey, &cp->key_cols)) {
        cp->key_cols = NULL;
        cp->nkey_cols = 0;
        snprintf(err, errsz, "out of memory");
        deactivate(cu, pg, ct);
        return CURSOR_ERR_PG;
    }
    cp->nkey_cols = ct->t->nkey;
    if (cp->in_pass) {
        ct->fresh = false;
        log_debug("%s: resuming a cursor pass", ct->t->ident);
        return 1;
    }
    PGresult *r = PQexec(pg, sql_text("cursor_snapshot"));
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        pg_err(pg, r, "cursor snapshot", err, errsz);
        PQclear(r);
        deactivate(cu, pg, ct);
        return CURSOR_ERR_PG;
    }
    cp->in_pass = true;
    cp->pass_xmin = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    snprintf(cp->pass_at, sizeof cp->pass_at, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    free_strv(cp->pass_key, cp->npass_key);
    cp->pass_key = NULL;
    cp->npass_key = 0;
    ct->fresh = true;
    return 1;
}

/* Send the page's writes through the one sender (split at store.max_bulk_bytes; a request
 * refused whole is resent item by item so only the culprit is lost). True when every item
 * has an outcome. */
static bool send_page(cursor *cu, esc *store, ctab *ct, pitem *items, size_t n, PGresult *rows, char *err,
                      size_t errsz)
{
    bulk_op *ops = calloc(n ? n : 1, sizeof *ops);
    if (!ops) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    const char *index = ct->t->index ? ct->t->index : ct->t->name;
    for (size_t i = 0; i < n; i++) {
        ops[i].index = index;
        ops[i].id = items[i].id;
        ops[i].id_len = strlen(items[i].id);
        ops[i].is_delete = items[i].del;
        ops[i].vtype = BULK_VT_EXTERNAL;
        ops[i].version = items[i].version;
        ops[i].doc = PQgetvalue(rows, items[i].row, RENDER_COL_DOC);
        ops[i].doc_len = (size_t)PQgetlength(rows, items[i].row, RENDER_COL_DOC);
    }
    char opaque[340];
    snprintf(opaque, sizeof opaque, "versync-cursor-%.300s", cu->worker_name);
    cu->sender.store = store;
    cu->sender.opaque_id = opaque;
    bool ok = bulk_send(&cu->sender, ops, n, err, errsz);
    cu->sender.opaque_id = NULL;
    for (size_t i = 0; ok && i < n; i++) {
        items[i].outcome = ops[i].outcome;
        if (ops[i].outcome == BULK_DEAD)
            log_warn("%s key %s: the store refused the write for good (HTTP %d: %s); it is not retried",
                     ct->t->ident, items[i].id, ops[i].status, ops[i].error);
    }
    free(ops);
    return ok;
}

/* Read one page of the active pass of `ct`, write it, advance the checkpoint. 1 or CURSOR_ERR_*. */
static int page(cursor *cu, PGconn *pg, esc *store, ctab *ct, const char *started_at, worker_counters *delta,
                char *err, size_t errsz)
{
    cursor_checkpoint *cp = &ct->cp;
    cfg_table *t = ct->t;
    int limit = cu->c->batch_size > 0 ? cu->c->batch_size : 500;
    size_t nk = t->nkey;
    const char **p = calloc(nk + 2, sizeof *p);
    pitem *items = NULL;
    PGresult *r = NULL;
    int rc = CURSOR_ERR_PG, nrows = 0;
    size_t nitems = 0;
    char base[32], lim[16];
    if (!p) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    snprintf(base, sizeof base, "%lld", cp->base_xmin);
    snprintf(lim, sizeof lim, "%d", limit);
    p[0] = cp->has_base ? base : NULL;
    p[1] = lim;
    bool after = cp->pass_key && cp->npass_key == nk;
    for (size_t i = 0; after && i < nk; i++)
        p[i + 2] = cp->pass_key[i];
    r = PQexecParams(pg, after ? ct->sql_next : ct->sql_first, after ? (int)nk + 2 : 2, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_err(pg, r, t->ident, err, errsz);
        goto done;
    }
    nrows = PQntuples(r);
    if (nrows > 0 && !(items = calloc((size_t)nrows, sizeof *items))) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    worker_counters d = {0};
    d.lag_ms = -1;
    buf id = BUF_INIT;
    for (int row = 0; row < nrows; row++) {
        char **key;
        size_t kn;
        if (!render_parse_text_array(PQgetvalue(r, row, RENDER_COL_KEY), &key, &kn)) {
            snprintf(err, errsz, "%s: cannot parse key %s", t->ident, PQgetvalue(r, row, RENDER_COL_KEY));
            buf_free(&id);
            goto done;
        }
        buf_reset(&id);
        bool idok = bulk_doc_id(&id, (const char *const *)key, kn);
        render_free_array(key, kn);
        pitem *it = &items[nitems];
        if (!idok || !(it->id = strdup(id.data))) {
            snprintf(err, errsz, "out of memory");
            buf_free(&id);
            goto done;
        }
        nitems++;
        it->row = row;
        char why[160];
        const char *v = PQgetisnull(r, row, RENDER_COL_VERSION) ? NULL : PQgetvalue(r, row, RENDER_COL_VERSION);
        if (!bulk_parse_version(v, &it->version, why, sizeof why)) {
            /* Nothing can be written for it (no change row to dead-letter): say so every pass that meets it. */
            log_warn("%s key %s: version %s \"%s\" %s; the row is not written", t->ident, it->id,
                     t->version_kind == CFG_VERSION_TIMESTAMP ? "timestamp" : "column", t->version_column, why);
            it->outcome = BULK_DEAD;
            it->row = -1;
            continue;
        }
        it->del = strcmp(PQgetvalue(r, row, RENDER_COL_DELETED), "t") == 0 && !t->deletes_ignore;
    }
    buf_free(&id);
    /* Only rows with a version are sent: compact them to the front. */
    size_t nsend = 0;
    for (size_t i = 0; i < nitems; i++)
        if (items[i].row >= 0) {
            pitem tmp = items[nsend];
            items[nsend] = items[i];
            items[i] = tmp;
            nsend++;
        }
    if (nsend > 0 && !send_page(cu, store, ct, items, nsend, r, err, errsz)) {
        rc = CURSOR_ERR_STORE;
        goto done;
    }
    for (size_t i = 0; i < nitems; i++) {
        if (items[i].outcome == BULK_APPLIED)
            d.applied++;
        else if (items[i].outcome == BULK_STALE)
            d.stale++;
        else
            d.dead_letters++;
    }
    /* The store answered every write: move past this page. */
    if (nrows > 0) {
        char **key;
        size_t kn;
        if (!render_parse_text_array(PQgetvalue(r, nrows - 1, RENDER_COL_KEY), &key, &kn)) {
            snprintf(err, errsz, "%s: cannot parse key", t->ident);
            goto done;
        }
        free_strv(cp->pass_key, cp->npass_key);
        cp->pass_key = key;
        cp->npass_key = kn;
    }
    cp->rows += nrows;
    cp->applied += d.applied;
    cp->stale += d.stale;
    cp->dead_letters += d.dead_letters;
    bool complete = nrows < limit;
    if (complete) {
        cp->has_base = true;
        cp->base_xmin = cp->pass_xmin;
        snprintf(cp->base_at, sizeof cp->base_at, "%s", cp->pass_at);
        cp->in_pass = false;
        cp->passes++;
    }
    int src = 0;
    if (cu->state_path)
        src = cursor_state_save(cu->state_path, t->ident, cp, err, errsz) ? 0 : CURSOR_ERR_CONFIG;
    else
        src = db_save(cu, pg, ct, &d, started_at, err, errsz);
    if (src < 0) {
        rc = src;
        goto done;
    }
    delta->applied += d.applied;
    delta->stale += d.stale;
    delta->dead_letters += d.dead_letters;
    delta->changes += nrows;
    if (nrows > 0)
        delta->batches++;
    log_debug("%s: cursor page of %d rows: %lld applied, %lld stale, %lld refused%s", t->ident, nrows, d.applied,
              d.stale, d.dead_letters, complete ? "; pass complete" : "");
    if (complete) {
        if (ct->fresh)
            ct->done = true;
        deactivate(cu, pg, ct);
    }
    rc = 1;
done:
    for (size_t i = 0; items && i < nitems; i++)
        free(items[i].id);
    free(items);
    free(p);
    PQclear(r);
    return rc;
}

int cursor_step(cursor *cu, PGconn *pg, esc *store, const char *started_at, worker_counters *delta, char *err,
                size_t errsz)
{
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errsz, "PostgreSQL: not connected");
        for (size_t i = 0; i < cu->ntabs; i++)
            cu->tabs[i].active = false; /* the session lock went with the connection */
        return CURSOR_ERR_PG;
    }
    if (!cu->schema_q) {
        const char *s = cu->c->schema ? cu->c->schema : "versync";
        if (!(cu->schema_q = pg_quote_ident(pg, s, err, errsz)))
            return CURSOR_ERR_PG;
    }
    long long now = timing_now_ms();
    long poll = cu->c->poll_interval_ms > 0 ? cu->c->poll_interval_ms : 1000;
    for (size_t k = 0; k < cu->ntabs; k++) {
        ctab *ct = &cu->tabs[(cu->rr + k) % cu->ntabs];
        if (ct->broken)
            continue;
        if (!ct->active) {
            bool due = cu->once ? !ct->done : now >= ct->next_ms;
            if (!due)
                continue;
            if (ct->t->nkey == 0) {
                log_error("%s: no key (no primary key and no \"key\" in the config); it cannot be polled",
                          ct->t->ident);
                ct->broken = true;
                ct->done = true;
                continue;
            }
            if (!ct->sql_first && !build_sql(pg, ct, err, errsz))
                return CURSOR_ERR_PG;
            int a = activate(cu, pg, ct, err, errsz);
            if (a < 0)
                return a;
            ct->next_ms = now + poll;
            if (a == 0) {
                if (cu->once)
                    ct->done = true; /* another process is on it */
                continue;
            }
        }
        int rc = page(cu, pg, store, ct, started_at, delta, err, errsz);
        if (rc < 0) {
            deactivate(cu, pg, ct); /* the next step reloads the acknowledged checkpoint */
            return rc;
        }
        /* Fairness: the next step starts with the next table. */
        cu->rr = (cu->rr + k + 1) % cu->ntabs;
        return 1;
    }
    return 0;
}
