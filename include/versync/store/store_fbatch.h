/* store_fbatch — a write transaction's new exact values, field presence entries and field statistics, each key written once at its end. */
#ifndef VERSYNC_STORE_FBATCH_H
#define VERSYNC_STORE_FBATCH_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every document a transaction indexes adds one exact value per keyword,
 * number or date it holds (into the newest value level: value key → 8-byte
 * big-endian seqs, DUPSORT | DUPFIXED), one presence entry per field (the
 * engine's "exists" database, likewise) and changes one statistics record
 * ("fieldstats": field key → documents, summed length) per field. Written
 * as they come, that is two or three B-tree walks per field and document
 * in random key order, and for the statistics a read and a write of the
 * same record hundreds of times a batch. The batch keeps them per key
 * instead and writes each key once, in key order through one cursor per
 * database, when the transaction ends (store_eng_batch_flush), before
 * anything reads them: the engine's readers use committed snapshots, and
 * the writer's own removals ask the batch first
 * (store_fbatch_value_unqueue). */
typedef struct store_fbatch store_fbatch;

/* A new, empty batch (heap; store_fbatch_free), NULL when out of memory. */
store_fbatch *store_fbatch_new(void);

/* Queue adding (`add`) or removing document `seq`'s presence entry under
 * field key `key` (kn bytes). Of several changes of one (key, seq), the
 * last queued wins, as if each had been written at once. False when out
 * of memory (the caller aborts the transaction). */
bool store_fbatch_exists(store_fbatch *b, const void *key, size_t kn, int64_t seq, bool add);

/* Queue adding document `seq` under exact-value key `key` (kn bytes) to
 * the newest value level. False when out of memory, as above. */
bool store_fbatch_value(store_fbatch *b, const void *key, size_t kn, int64_t seq);

/* Take back a queued addition of (key, seq): true when there was one,
 * which then never reaches the database; false when the entry, if any, is
 * in the database. */
bool store_fbatch_value_unqueue(store_fbatch *b, const void *key, size_t kn, int64_t seq);

/* Whether an addition under value key `key` is queued (and not taken back). */
bool store_fbatch_value_queued(store_fbatch *b, const void *key, size_t kn);

/* Queue a change of `docs` documents and `len` summed field length to the
 * statistics of field key `key`. False when out of memory, as above. */
bool store_fbatch_stat(store_fbatch *b, const void *key, size_t kn, int64_t docs, int64_t len);

/* Queued presence changes and value additions (the caller flushes early
 * to bound memory). */
size_t store_fbatch_pending(const store_fbatch *b);

/* Write everything queued into `exists`, `fstats` and `values` (the newest
 * value level) in `txn` and empty the batch; a statistics record whose
 * document count falls to 0 or below is deleted. 0 or an LMDB error (the
 * transaction must then be aborted). */
int store_fbatch_flush(store_fbatch *b, MDB_txn *txn, MDB_dbi exists, MDB_dbi fstats, MDB_dbi values);

/* Put `n` seqs (8-byte big-endian each, ascending, `seqs`) under key `kp`
 * (kn bytes) through `cur`, a cursor on a DUPSORT | DUPFIXED database: in
 * one MDB_MULTIPLE call when they all follow the key's last duplicate (new
 * documents), else one by one. 0 or an LMDB error. */
int store_fbatch_put_seqs(MDB_cursor *cur, const void *kp, size_t kn, const unsigned char *seqs, size_t n);

/* Free the batch; store_fbatch_free(NULL) is a no-op. */
void store_fbatch_free(store_fbatch *b);

#endif
