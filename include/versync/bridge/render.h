/* render — the SQL that reads mapped rows with PostgreSQL rendering each as a JSON document and its version. */
#ifndef VERSYNC_RENDER_H
#define VERSYNC_RENDER_H

#include "versync/common/buf.h"
#include "versync/bridge/cfg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Column positions of render_select_list's output (and of render_reread's rows). */
enum {
    RENDER_COL_DOC = 0, /* text: the document, one line of JSON (jsonb text output) */
    RENDER_COL_VERSION, /* text: the row's version (integer text), NULL for CFG_VERSION_SEQ
                           or when the column is NULL; parse with bulk_parse_version */
    RENDER_COL_DELETED, /* bool: the row's document is to be deleted: the soft-delete column says the
                           row is deleted, or the row is outside the table's "where" filter */
    RENDER_COL_KEY,     /* text[]: the key columns as text, in cfg_table.key order */
    RENDER_NCOLS
};

/* Append to `out` the select list that renders one row of `t`, read under
 * the table alias `alias` (a plain lower-case identifier the caller picks,
 * e.g. "vs_r"): the document (columns/exclude/rename applied, built by
 * to_jsonb so C only forwards bytes), the version expression (column value;
 * timestamp as whole microseconds since the epoch), the deleted flag (soft
 * delete or outside "where") and
 * the key parts — in the RENDER_COL_* order. Backfill and verify reuse it with
 * their own FROM/WHERE. Identifiers are quoted with PQescapeIdentifier (`conn`
 * supplies the encoding; it need not be connected). False with a message in
 * err when `t` has no key or memory runs out. */
bool render_select_list(PGconn *conn, const cfg_table *t, const char *alias, buf *out, char *err, size_t errsz);

/* Append the jsonb expression of the document of one row of `t` read under
 * `alias` (columns/exclude/rename applied), without its children: the part
 * nested documents (nested.h) build on. */
bool render_doc_expr(PGconn *conn, const cfg_table *t, const char *alias, buf *out, char *err, size_t errsz);

/* Append the quoted "schema"."table" of `t`. */
bool render_table_name(PGconn *conn, const cfg_table *t, buf *out, char *err, size_t errsz);

/* The statement that re-reads the rows of `t` named by a batch: parameters
 * $1 … $nkey are text-array literals (render_array_literal), one per key
 * column, all the same length (element i of each names row i). It returns
 * RENDER_COL_* columns for each row that still exists; rows gone are absent.
 * For a composite key whose key_types are unknown it may return extra rows
 * (the cross product of the parts), so callers match RENDER_COL_KEY to their
 * keys. Returns a heap string the caller frees, or NULL with err set. */
char *render_reread(PGconn *conn, const cfg_table *t, char *err, size_t errsz);

/* Append the re-read of `t` as one branch of the LATERAL join of the combined claim
 * (sql/worker_claim_reread.sql): the RENDER_COL_* columns of the current row that the
 * claimed change row `outer` (a plain alias with columns tbl, key, op, last) names, when
 * that change is the latest of its key (last), is of this table and is not a delete;
 * nothing when the row is gone. Needs t->key_types (the key's cast types). Built from
 * render_select_list, as render_reread is, so both render a row alike. False with err set. */
bool render_reread_lateral(PGconn *conn, const cfg_table *t, const char *outer, buf *out, char *err,
                           size_t errsz);

/* Append a PostgreSQL array literal ("{"a","b\"c"}") of `n` strings; a NULL
 * item becomes NULL. False when `out` is full or out of memory. */
bool render_array_literal(buf *out, const char *const *items, size_t n);

/* Parse PostgreSQL's text output of a one-dimensional text[] ("{a,"b c",NULL}").
 * On success *items is a heap array of *n heap strings (NULL for a NULL
 * element); the caller frees them with render_free_array. False on bad input. */
bool render_parse_text_array(const char *text, char ***items, size_t *n);

/* Free what render_parse_text_array returned; NULL is a no-op. */
void render_free_array(char **items, size_t n);

#endif
