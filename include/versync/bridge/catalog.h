/* catalog — checks the config's tables against the live PostgreSQL catalog and fills in what it implies. */
#ifndef VERSYNC_CATALOG_H
#define VERSYNC_CATALOG_H

#include "versync/bridge/cfg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* For every mapped table of `c`: check that the table exists and is an
 * ordinary table; that every column the mapping names (key, version,
 * columns, exclude, rename, soft_delete) exists; that "where" is a boolean
 * expression of the row alone (where.h); that a version column has an
 * integer type (smallint/integer/bigint) and a timestamp column a timestamp
 * type; that "rename" names mapped columns and no two document fields get one
 * name. Then fill in, on each cfg_table:
 *   key/nkey      from the primary key when the config gave none;
 *   key_types     format_type() of each key column;
 *   cols/ncols    every column in attnum order with its type, mapped flag,
 *                 document field name and key flag;
 *   version_type  format_type() of the version column; version_has_tz.
 * Safe to call again (after a reload): earlier fills are replaced.
 * Returns false with one message in err naming the file, the JSON path and
 * the problem ("versync.json: tables[1].version.column: column \"ver\" does
 * not exist in public.products"), or a database error. Logs nothing.
 * Key text convention shared with the workers: a key part is the column's
 * `::text` form; a version timestamp is trunc(extract(epoch from col) * 1e6). */
bool catalog_resolve(cfg *c, PGconn *conn, char *err, size_t errsz);

/* Replace t->cols with the columns of a catalog_columns.sql answer `r`
 * (name, type, base type, render class, and the mapped/field/key flags from
 * t's config), without checking anything. False only when memory runs out
 * (t->cols is then empty). Nested children and the workers use it; the
 * caller keeps `r`. */
bool catalog_fill_columns(cfg_table *t, PGresult *r);

/* Read the columns of `t` from the catalog into t->cols (catalog_fill_columns),
 * so its documents render each type as render_types.h says. False with a
 * message in err on a database error (the caller decides what it means). */
bool catalog_load_columns(cfg_table *t, PGconn *conn, char *err, size_t errsz);

/* True when the ::text form of a value of `type` (format_type() output)
 * depends on session settings (TimeZone, DateStyle, IntervalStyle,
 * extra_float_digits): a key column of such a type gives document ids that
 * differ between sessions whose settings differ. */
bool catalog_type_text_varies(const char *type);

/* What a command needs before it starts: load the config at
 * cfg_default_path(config_flag) into `out`, connect to its PostgreSQL
 * (application_name `appname`) and catalog_resolve it. On success the caller
 * owns *conn (PQfinish) and `out` (cfg_free). On failure returns false with
 * one message in err, everything freed and *conn NULL. Logs nothing. */
bool catalog_open(const char *config_flag, const char *appname, cfg *out, PGconn **conn, char *err, size_t errsz);

#endif
