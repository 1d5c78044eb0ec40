/* batch — the pure steps of a worker batch: coalescing claimed changes, applying re-read rows, classifying answers. */
#ifndef VERSYNC_BATCH_H
#define VERSYNC_BATCH_H

/* Nothing here talks to PostgreSQL or the store: worker_batch (worker.h) does
 * the I/O and calls these in its numbered phases, and tests/unit/test_batch.c
 * drives them with hand-made changes and answers. */

#include "versync/bridge/bulk.h"
#include "versync/bridge/cfg.h"
#include "versync/bridge/worker.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What to do with one key after coalescing. */
typedef enum batch_action {
    BATCH_NONE = 0, /* truncate marker, or a row gone by the re-read */
    BATCH_INDEX,
    BATCH_DELETE,
    BATCH_DEAD, /* refused before sending (bad version, unmapped table) */
} batch_action;

/* One claimed change row; strings are borrowed (from the claim's PGresult). */
typedef struct batch_change {
    int64_t seq;
    const char *tbl;
    const char *key_text; /* PostgreSQL text[] output, NULL for truncates */
    char op;              /* 'I', 'U', 'D' or 'T' */
    const char *version_text; /* NULL: use seq */
    const char *changed_at;
    char **key; /* parsed key parts (heap, owned by the caller: render_free_array) */
    size_t nkey;
    char *id; /* document id (heap, owned by the caller), NULL for truncates */
    int row;  /* its row in the claim's result (the combined claim carries the re-read row there) */
} batch_change;

/* One write: the group of changes of one key in the batch, represented by its latest change. */
typedef struct batch_item {
    batch_change *rep;
    cfg_table *t;      /* NULL: table not in the config */
    size_t tidx;       /* t's index in cfg.tables (cfg.ntables when t is NULL) */
    int64_t max_seq;
    int64_t max_version; /* over the group's changes' versions (seq where NULL) */
    long long folded;    /* changes of this key folded into rep */
    batch_action act;
    bool want; /* waiting for its row in the re-read */
    int64_t version;
    const char *doc; /* borrowed: points into a re-read PGresult */
    size_t doc_len;
    bulk_outcome outcome;
    int status; /* HTTP status of the store's answer, 0 if never sent */
    char error[1024];
} batch_item;

/* What became of one item, for the counters (worker_counters) and metrics. */
typedef enum batch_class {
    BATCH_SKIPPED = 0, /* nothing written: truncate marker, row gone, delete ignored */
    BATCH_APPLIED,
    BATCH_STALE,
    BATCH_REGRESSED, /* a dead letter of its own kind (version_regressed) */
    BATCH_DEAD_LETTER,
    BATCH_RETRY, /* an item the sender gave up retrying later: its claim rolls back */
} batch_class;

/* qsort order of changes: table, then id (truncates, without id, first), then seq. */
int batch_cmp_change(const void *a, const void *b);

/* The table of config `c` that change rows name `ident`, its index in *idx; NULL if none. */
cfg_table *batch_find_table(const cfg *c, const char *ident, size_t *idx);

/* Phase 2, coalesce: sort changes[0..n) and fold each key's changes into one
 * item at its latest change, deciding its action: truncates and ignored
 * deletes do nothing, deletes are written with the group's greatest version
 * (seq for CFG_VERSION_SEQ), everything else waits for its re-read as an
 * index. A change of a table not in the config, of a table whose key is
 * unknown (table_ok[i] false; table_err[i] says why, may be NULL) or with a
 * key of the wrong arity becomes a dead letter. `items` must hold n entries.
 * Returns the number of items; *coalesced gets the changes folded away. */
size_t batch_coalesce(const cfg *c, const bool *table_ok, char *const *table_err, batch_change *changes, size_t n,
                      batch_item *items, long long *coalesced);

/* The item for document id `id` among items[lo, hi) (sorted by id within one table), or NULL. */
batch_item *batch_find_item(batch_item *items, size_t lo, size_t hi, const char *id);

/* Make an item a dead letter with a message. */
void batch_dead(batch_item *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Phase 3, one re-read row of item `it`'s table `t`: the row exists, with
 * this document, version text (NULL when the column is NULL; ignored for
 * CFG_VERSION_SEQ, whose version is the key's latest seq) and soft-delete
 * flag. Sets act (index, or delete when soft deleted and deletes are not
 * ignored), version and doc; a version that is not a valid external version
 * makes a dead letter naming the table, key and column. */
void batch_apply_row(batch_item *it, const char *doc, size_t doc_len, const char *version_text, bool soft_deleted);

/* Nested documents (nested.h): every item of a nested root takes the version
 * drawn for the batch; a root gone at the re-read is deleted, whatever the
 * batch's last change said. No-op when nested_version < 0. */
void batch_nested_finish(batch_item *items, size_t n, int64_t nested_version, bool (*is_tree)(const cfg_table *));

/* Phase 5, how an item the store answered for (or not) counts. */
batch_class batch_classify(const batch_item *it);

/* Add one item of class k to the deltas d. */
void batch_count(worker_counters *d, batch_class k);

/* Rewrite a regressed item's error into the dead letter's message: both
 * versions (from the sender's text), table, key and the remedy. */
void batch_regressed_message(batch_item *it);

/* The oldest changed_at of changes[0..n) by text order (same-format timestamps), NULL when n is 0. */
const char *batch_oldest(const batch_change *changes, size_t n);

#endif
