/* truncate — a captured TRUNCATE of a mapped table, applied through the normal change stream: delete the
 * documents of rows that no longer exist, never those of rows inserted since. */
#ifndef VERSYNC_TRUNCATE_H
#define VERSYNC_TRUNCATE_H

#include "versync/bridge/cfg.h"
#include "versync/bridge/esclient.h"

#include <libpq-fe.h>
#include <stdbool.h>

/* What truncate_apply did. */
typedef struct truncate_counts {
    long long walked;  /* documents listed */
    long long deleted; /* deleted (or already gone) */
    long long kept;    /* their row exists now, or the store holds a newer state: left alone */
    long long errors;  /* refused otherwise (logged) */
} truncate_counts;

#define TRUNCATE_OK 0
#define TRUNCATE_UNLISTABLE 1 /* the store cannot list the index: left flagged for a resync */
#define TRUNCATE_ERR_PG (-1)
#define TRUNCATE_ERR_STORE (-2)

/* Apply a truncate of `t` to its index: walk the index in pages of ids and
 * versions, re-read which rows exist now (`conn`, in the caller's
 * transaction), and delete each document whose row does not exist with
 * version = the version just listed and version_type=external_gte. The
 * delete is a compare-and-set on the version: it applies only while the
 * document still holds the state we listed (a write since, always of a
 * greater version, makes it a 409 and the document stays), and it leaves a
 * tombstone at that same version, so a row inserted later, whose version is
 * greater under the version contract, still wins. Rows inserted after the
 * truncate exist now: their documents are never touched. Then clears the
 * table's needs-resync flag if this truncate set it (`schema_q`, quoted).
 * Returns TRUNCATE_OK, TRUNCATE_UNLISTABLE (logged), or an error with err set. */
int truncate_apply(PGconn *conn, esc *store, const char *schema_q, const cfg_table *t, truncate_counts *out,
                   char *err, size_t errsz);

#endif
