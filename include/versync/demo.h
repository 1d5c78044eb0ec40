/* demo — `versync demo race`: racing writers and chaos workers, then a full store-vs-PostgreSQL comparison.
 */
#ifndef VERSYNC_DEMO_H
#define VERSYNC_DEMO_H

#include "versync/buf.h"

#include <stdbool.h>

/* Fixed names of the demonstration (never the user's own objects). */
#define DEMO_TABLE "versync_demo.accounts"
#define DEMO_SYNC_SCHEMA "versync_demo_sync" /* versync's change table etc. for the demo */
#define DEMO_CHANNEL "versync_demo"
#define DEMO_INDEX "versync_demo_accounts"

/* How one id compares between PostgreSQL and the store. */
typedef enum demo_verdict {
    DEMO_EQUAL = 0, /* both absent, or the document equals the row */
    DEMO_STALE,     /* document content differs from the row */
    DEMO_VERSION,   /* same content, but _version differs from the row's version */
    DEMO_MISSING,   /* the row exists, the store has no document */
    DEMO_EXTRA,     /* the row is gone, the store still has a document */
} demo_verdict;

/* Compare one row with one document. `row_json` is the row rendered as its
 * document (NULL: no row), `row_version` its version; `doc_source` is the
 * document's _source text (NULL: not found), `doc_version` its _version.
 * With `check_version` false (the --no-versions counterfactual, where the store
 * counts its own versions) only content and presence are compared. Content is
 * compared as JSON values (key order and spacing do not matter). Unparsable
 * JSON on either side counts as DEMO_STALE. */
demo_verdict demo_compare(const char *row_json, long long row_version, const char *doc_source,
                          long long doc_version, bool check_version);

/* Short human name of a verdict ("stale", "missing"…); static storage. */
const char *demo_verdict_name(demo_verdict v);

/* Append `n` with thousands separators ("48,213") to `b`. False on overflow. */
bool demo_put_count(buf *b, long long n);

/* ---- --nested (bridge_demo_nested.c) ---- */

#include <cjson/cJSON.h>
#include <libpq-fe.h>

/* The "children" of the demo's accounts in the --nested race: a heap cJSON array the
 * caller adds to the generated config (or frees), NULL when out of memory. */
cJSON *demo_nested_children(void);

/* One random change below (or of) an account of the --nested race, picked by the random
 * numbers r1 and r2 among `rows` accounts, in its own transaction on `c`. Returns the
 * rows changed, 0 when a deadlock or serialization failure rolled it back, -1 (logged)
 * on any other error. */
int demo_nested_step(PGconn *c, unsigned long long r1, unsigned long long r2, int rows);

#endif
