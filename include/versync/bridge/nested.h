/* nested — documents built from related tables ("children"): the tree model, its config, catalogue checks and SQL. */
#ifndef VERSYNC_NESTED_H
#define VERSYNC_NESTED_H

#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define NESTED_MAX_DEPTH 8     /* levels below a root; each level is one more sub-select per re-read */
#define NESTED_MAX_CHILDREN 32 /* children of one node */

/* One child of a mapped table (or of another child): the rows of `t` related
 * to the parent row, shown in the parent's document under `name`. */
typedef struct cfg_child {
    char *name; /* document field of the parent */
    /* The child table. Only schema/name/ident, key, columns/exclude/rename,
     * json paths and children are used; key is the primary key unless
     * "key" is given (catalog fills it). */
    cfg_table t;
    bool many;         /* "relationship": "many" (an array) or "one" (an object or null) */
    char **join_from;  /* "join": parent columns … */
    char **join_to;    /* … to child columns (or to link columns with "through") */
    size_t njoin;
    char *link_schema; /* "through": the link table, or NULL */
    char *link_name;
    char *link_ident;
    char **to_from; /* "through.to": link columns … */
    char **to_to;   /* … to child columns */
    size_t nto;
    char **order_by; /* "many": the array's order; NULL: the child's key */
    size_t norder;
    char *path; /* "tables[0].children[2]": for messages */
    char *edge; /* "public.book/reviews": names this node in lock keys and trigger specs */
} cfg_child;

/* ---- config (bridge_nested_cfg.c) ---- */

/* Parse the "children" array `v` of the mapping `t` found at JSON path `path`
 * ("tables[0].children"), recursively; `edge` names `t`'s node ("public.book"
 * for a root, the parent child's edge below), `depth` is the level of these
 * children (1 under a root, which must then take the default version source).
 * Messages go through the config parser's context `x` (cfg_json.h). */
struct ctx;
bool nested_cfg_parse(struct ctx *x, const void *v, const char *path, cfg_table *t, const char *edge, int depth);

/* Free t->children recursively; NULL/0 is a no-op. */
void nested_cfg_free(cfg_child *children, size_t n);

/* Whether mapping `t` has children (builds nested documents). */
bool nested_is_tree(const cfg_table *t);

/* Whether table `ident` ("schema.table") is a child or link table of some mapping of `c`. */
bool nested_uses_table(const cfg *c, const char *ident);

/* ---- catalogue (bridge_nested_catalog.c) ---- */

/* Resolve and check every child of `t` (recursively) against the catalogue:
 * the table exists and is ordinary; columns, exclude, rename, order_by and
 * join columns exist; joined columns have the same type (or both are text
 * types or both integer types); child fields do not collide with the parent's
 * document fields. Fills each child's key (primary key unless "key") and cols.
 * False with one message naming the file and JSON path. When `warn` is not
 * NULL, one line per join whose child side has no index starting with its
 * columns is appended there (the re-read will scan). */
bool nested_catalog_resolve(const cfg *c, cfg_table *t, PGconn *conn, buf *warn, char *err, size_t errsz);

/* The partition tree of table schema.name (raw names), as sql/nested_partitions.sql
 * answers it: nspname, relname, has_nested ("t"/"f"), level ("0" for the table
 * itself). The caller PQclears the result; NULL with err on a database error. */
typedef PGresult *(*nested_parts_fn)(PGconn *conn, const char *schema, const char *name, char *err, size_t errsz);

/* The nested_parts_fn that asks PostgreSQL's catalogue. */
PGresult *nested_partitions(PGconn *conn, const char *schema, const char *name, char *err, size_t errsz);

/* ---- SQL (bridge_nested_sql.c) ---- */

/* Append the jsonb expression of the whole document of a row of `t` read
 * under `alias`: its own fields (render_doc_expr) plus one field per child,
 * each a correlated sub-select building the child's document the same way. */
bool nested_doc_expr(PGconn *conn, const cfg_table *t, const char *alias, buf *out, char *err, size_t errsz);

/* The CREATE TRIGGER statements that capture changes of every table of the
 * tree of `t` (sql/nested_triggers.sql, sql/nested_capture.sql): for each
 * table at each place in the tree, and each of its partitions as `parts`
 * lists them (NULL: nested_partitions), statement-level triggers whose
 * argument is the walk from there to the root. Appended to `out`; `channel`
 * is the NOTIFY channel, `channel_lit` the same quoted as a literal. No-op
 * for a flat mapping. */
bool nested_trigger_sql(PGconn *conn, const cfg_table *t, const char *schema_q, const char *channel,
                        const char *channel_lit, nested_parts_fn parts, buf *out, char *err, size_t errsz);

/* ---- init (bridge_nested_sql.c) ---- */

/* Plan the nested capture of `c`: compare the wanted trigger SQL with what
 * meta 'nested_md5' says is installed and the nested triggers `trg` lists
 * (sql/init_triggers.sql answer, NULL when none). When they differ, *sql is
 * the SQL that drops every nested trigger and creates the wanted ones (heap,
 * caller frees) and `what` says so; else *sql is NULL. `has_meta`: versync's
 * meta table exists. False with err on a database error. */
bool nested_init_plan(PGconn *conn, const cfg *c, const char *schema_q, PGresult *trg, bool has_meta, char **sql,
                      char *what, size_t whatsz, char *err, size_t errsz);

/* The name prefix of nested capture triggers: init leaves them to nested_trigger_sql. */
#define NESTED_TRIGGER_PREFIX "versync_nested_"

#endif
