/* backfill — the table and index walks `versync backfill` and `versync verify` share (bridge_backfill_walk.c). */
#ifndef VERSYNC_BACKFILL_H
#define VERSYNC_BACKFILL_H

#include "versync/common/buf.h"
#include "versync/bridge/bulk.h"
#include "versync/bridge/cfg.h"
#include "versync/bridge/esclient.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The statement that reads one page of `t` in key order, every row rendered
 * exactly as the workers render it (render_select_list, RENDER_COL_* columns).
 * With `after` false it takes one parameter, $1 = the page size; with `after`
 * true it reads the rows whose key is greater than ($1 … $nkey) — the key
 * parts as text, cast to the key columns' types — and $nkey+1 is the page
 * size. Keyset pagination: each page is one index range scan, never a scan of
 * what came before. With `random` true (and `after` false) it reads $1 random
 * rows instead (verify --sample). Returns a heap string the caller frees, or
 * NULL with err set. */
char *backfill_page_sql(PGconn *conn, const cfg_table *t, bool after, bool random, char *err, size_t errsz);

/* Split a document id back into key parts (the inverse of bulk_doc_id for a
 * key of `nkey` parts). On success *parts is a heap array of heap strings the
 * caller frees with render_free_array. False when the id cannot come from a
 * key of that many parts (a foreign document). */
bool backfill_split_id(const char *id, size_t nkey, char ***parts, size_t *n);

/* The document id of a row from its RENDER_COL_KEY text (a PostgreSQL text[] of the key parts),
 * written over `out`. False when the text is malformed or out of memory. */
bool backfill_id_of_key_text(const char *key_text, buf *out);

/* Which of the document ids `ids[0..n)` name a row of `t` that exists now:
 * present[i] is set accordingly; when `rows` is not NULL it receives the
 * render_reread result (RENDER_COL_* columns; the caller PQclears it; rows
 * whose id matched are those with present[i] true), else it is freed.
 * An id that cannot be a key of `t` (wrong number of parts, a value the key
 * type rejects) is simply absent. Runs in the connection's current
 * transaction state; outside a transaction a rejected cast costs nothing.
 * False with err set on a database failure. */
bool backfill_present(PGconn *conn, const cfg_table *t, const char *const *ids, size_t n, bool *present,
                      PGresult **rows, char *err, size_t errsz);

/* Append "/{index}{suffix}" to `out` (index names need no escaping: cfg checks them). */
bool backfill_index_path(buf *out, const char *index, const char *suffix);

/* One document of a store listing. */
typedef struct backfill_doc {
    char *id;        /* heap */
    int64_t version; /* _version, -1 when the store did not say */
} backfill_doc;

/* Result of backfill_list_page besides a count of documents (>= 0). */
#define BACKFILL_LIST_UNSUPPORTED (-2) /* the store has no _search (answered 400/404/405/501) */
#define BACKFILL_LIST_ERROR (-1)       /* transport failure or another error; err says which */

/* One page of the ids (and versions) of the live documents of `index`, in _id
 * order, after the id `after` (NULL: from the start), at most `size` of them:
 * POST /{index}/_search {"query":{"match_all":{}},"sort":[{"_id":"asc"}],
 * "search_after":[after],"_source":false,"version":true}. Elasticsearch 7,
 * OpenSearch and verstore (once it has _search) answer it; Elasticsearch 8
 * needs indices.id_field_data.enabled for the sort on _id. *docs is a heap
 * array the caller frees with backfill_free_docs. */
int backfill_list_page(esc *store, const char *index, const char *after, size_t size, backfill_doc **docs,
                       char *err, size_t errsz);

void backfill_free_docs(backfill_doc *docs, size_t n);

/* Live documents in `index` (GET /{index}/_count), or -1 with err set. */
long long backfill_count(esc *store, const char *index, char *err, size_t errsz);

/* The version a delete of a document of `t` whose row is gone gets, when the
 * store holds it at `doc_version`: doc_version + 1 (for a timestamp, one
 * microsecond later), like the capture trigger's "old + 1" — never below a
 * version the row could have had, so it beats the orphan; and the caller
 * moves the sequences that later writes of `t` draw from above it
 * (backfill_bump_sequences), so it can never beat a write that comes after. */
int64_t backfill_delete_version(const cfg_table *t, int64_t doc_version);

/* Move the change sequence (change-sequence versions) or the table's managed
 * version sequence above `version`, so every later write of `t` carries a
 * greater version. A no-op for application-kept columns and timestamps
 * (their later versions are the application's, or the clock). `schema_q` is
 * the quoted schema. False with err set on a database failure. */
bool backfill_bump_sequences(PGconn *conn, const char *schema_q, const cfg_table *t, int64_t version,
                             char *err, size_t errsz);

/* BEGIN a transaction and LOCK TABLE `t` IN SHARE MODE: it waits for the
 * table's writers in flight and keeps new ones out until COMMIT/ROLLBACK, so a
 * row found absent stays absent meanwhile. The wait is bounded (lock_timeout
 * 2 s) and retried with backoff for up to a minute, so a long application
 * transaction never queues the application's other writers behind us for
 * long. On success the caller owns the open transaction; on failure nothing
 * is open and err says why. */
bool backfill_lock_table(PGconn *conn, const cfg_table *t, char *err, size_t errsz);

/* Terminal progress bar on stderr when it is a TTY, else a log line every few seconds. */
typedef struct backfill_progress {
    const char *what; /* "public.products" */
    const char *verb; /* "copied", "checked" */
    long long total;  /* expected rows; < 0 unknown */
    bool estimated;   /* total is the planner's estimate */
    long long done;
    long long start_done; /* done when this run started (resume) */
    long long started_ms, last_ms;
    bool tty;
} backfill_progress;

void backfill_progress_start(backfill_progress *p, const char *what, const char *verb, long long total,
                             bool estimated, long long done);
void backfill_progress_update(backfill_progress *p, long long done);
/* Final line (and a newline after the bar). */
void backfill_progress_end(backfill_progress *p);

/* The table's expected row count for progress: the planner's estimate, or an
 * exact count(*) when the table was never analysed. -1 on failure. */
long long backfill_estimate_rows(PGconn *conn, const cfg_table *t, bool *estimated);

#endif
