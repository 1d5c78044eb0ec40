/* store_postings — text postings as compressed per-term blocks in LMDB, each term's blocks written once per batch. */
#ifndef VERSYNC_STORE_POSTINGS_H
#define VERSYNC_STORE_POSTINGS_H

#include "versync/store/store_engine.h"

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Layout (search_format 3, block headers of format 6, packed postings of 7):
 *  - `terms`: term key (index number | field path | 0 | term, as the engine
 *    builds it) → 8-byte big-endian term id, 8-byte document frequency;
 *  - `blocks`: term id (8 bytes, big-endian) | first seq in the block (8
 *    bytes, big-endian) → one block of at most STORE_POSTINGS_BLOCK_DOCS
 *    postings, ascending by seq: a header, then the postings.
 *    The header is varint count | impacts << 8 | flags << 12, then that many
 *    impacts, each varint tf and field length: the (tf, length) pairs of the
 *    block that no other of its postings beats on both (more or as many
 *    occurrences in a field as short or shorter), merged down to
 *    STORE_PBLOCK_IMPACTS, as Lucene's impacts. BM25 grows with tf and
 *    shrinks with length, so the block's best score is one of theirs. Blocks
 *    written before format 6 have 0 in the impacts bits and one pair, the
 *    largest tf and the smallest length, which bounds as well but less
 *    tightly (the two may come from different postings).
 *    Flag 1 (format 7, every block written since): the postings are packed
 *    in columns, as Lucene's and Tantivy's bit-packed blocks: three bytes
 *    giving the bit widths of the columns, then count - 1 seq deltas, count
 *    values tf - 1 and count field lengths, each column packed least
 *    significant bit first at its width and padded to a byte, then each
 *    posting's tf varint position deltas. A scorer decodes a block with a
 *    few shifts per posting, and never reads its positions; a common word's
 *    postings take a byte or two instead of four. Blocks without the flag
 *    (formats 3 to 6) hold per posting varint seq delta (0 for the first),
 *    tf, field length and tf varint position deltas, and are read as they
 *    are until next written.
 * A batch queues every posting change of a write transaction and applies
 * them term by term at its end: a term's storage (its dictionary entry and
 * the blocks its changes fall in, usually just the last one) is read and
 * written once per batch, whatever the number of documents, so the pages a
 * batch dirties follow the number of distinct terms, not the index size.
 *
 * Blocks are in two levels of the same layout: `blocks` ("pblocks") and a
 * small `recent` one ("pblocks1"). A term's newest postings go into
 * `recent`, where the last blocks of all the terms a batch touches sit on
 * few pages (in `blocks`, each term's last block is on a page of its own, so
 * a batch of a few thousand distinct terms dirtied as many pages however
 * few postings it added). When `recent` outgrows its limit,
 * store_postings_compact moves whole terms, a range of term ids at a time,
 * into `blocks`, appending to each one's last block there. For every term,
 * all its seqs in `recent` are greater than all its seqs in `blocks`, so a
 * term's postings in seq order are its `blocks` ones, then its `recent`
 * ones. */

#define STORE_POSTINGS_BLOCK_DOCS 128
/* Blocks are cut before this many bytes so that they stay in LMDB's leaf
 * pages (4 KiB pages hold values up to about 2 KiB without overflow pages). */
#define STORE_POSTINGS_BLOCK_BYTES 1800

typedef struct store_postings_dbs {
    MDB_dbi terms, blocks, recent;
} store_postings_dbs;

typedef struct store_pbatch store_pbatch;

/* A new, empty batch (heap; store_pbatch_free), NULL when out of memory. */
store_pbatch *store_pbatch_new(void);

/* Queue the addition (add: with term frequency tf ≥ 1, its tf positions
 * `pos` ascending, and the field length `len`) or the removal of document
 * `seq` under term key `key`. Changes to one (term, seq) apply in the order
 * queued. False when out of memory (the batch is then unusable) or for an
 * addition with tf 0. */
bool store_pbatch_put(store_pbatch *b, const void *key, size_t kn, int64_t seq, bool add, uint32_t tf, uint32_t len,
                      const uint32_t *pos);

/* Changes queued since the last flush. */
size_t store_pbatch_pending(const store_pbatch *b);

/* Apply the queued changes inside `txn` and empty the batch. Returns 0 or
 * an LMDB/errno code (the transaction must then be aborted). */
int store_pbatch_flush(store_pbatch *b, MDB_txn *txn, const store_postings_dbs *d);

/* When the `recent` level holds more than `limit_pages` pages, move about
 * an eighth of its blocks (at least 64), whole terms at a time from term id
 * *next on (wrapping), into `blocks`; *next is where the next move starts.
 * b lends its scratch buffers and must have nothing queued. 0 or an
 * LMDB/errno code (the transaction must then be aborted). */
int store_postings_compact(store_pbatch *b, MDB_txn *txn, const store_postings_dbs *d, size_t limit_pages,
                           uint64_t *next);

/* Release a batch; NULL is a no-op. */
void store_pbatch_free(store_pbatch *b);

/* Whether document `seq` has a posting under `key`, the batch's queued
 * changes (b may be NULL) taken into account: 1 yes, 0 no, or -rc. */
int store_postings_has(store_pbatch *b, MDB_txn *txn, const store_postings_dbs *d, const void *key, size_t kn,
                       int64_t seq);

/* Visit the postings of `key` in ascending seq order; stops when fn
 * returns false. With `positions` false they are stepped over, not decoded
 * (p->pos is NULL: a scorer needs only tf and length); else valid during
 * the call. 0 or an LMDB code. */
int store_postings_read(MDB_txn *txn, const store_postings_dbs *d, const void *key, size_t kn, bool positions,
                        bool (*fn)(const store_posting *p, void *arg), void *arg);

/* A cursor over one term's postings, for intersections that skip: it seeks
 * by block key (term id | first seq) and decodes only the blocks it lands
 * in, so walking a rare term's documents through a common term's cursor
 * costs a seek and a block per document, not the common term's whole list. */
typedef struct store_pcursor store_pcursor;

/* Open a cursor on the postings of `key` in `txn` (which must outlive it):
 * *out is the cursor (heap; store_pcursor_close) and *df the term's document
 * count, or *out NULL and *df 0 when the term has no postings. 0 or an LMDB
 * code / ENOMEM. */
int store_pcursor_open(MDB_txn *txn, const store_postings_dbs *d, const void *key, size_t kn, store_pcursor **out,
                       int64_t *df);

/* Move to the first posting whose seq is ≥ target (never backwards: a
 * target at or before the current posting keeps it) and describe it in *p,
 * whose positions stay valid until the cursor moves again. 1 positioned, 0
 * no such posting (the cursor is then exhausted), or -rc on an error. */
int store_pcursor_advance(store_pcursor *c, int64_t target, store_posting *p);

/* The postings of the block the cursor is in, from its current posting
 * (the last store_pcursor_advance that answered 1) to the block's end,
 * for a scorer to screen in a tight loop: *out points at them (the
 * cursor's own, valid until it moves to another block or closes; pos as
 * advance gives it). Their number, 0 (*out NULL) before the first posting
 * or once exhausted. */
size_t store_pcursor_rest(const store_pcursor *c, const store_posting **out);

/* Impacts kept per block at most (see the layout above). */
#define STORE_PBLOCK_IMPACTS 8

/* A block as its header describes it, postings not decoded: the seqs it may
 * hold (from its first to just before the term's next block, INT64_MAX for
 * the last) and its impacts, from which a scorer bounds every score in it:
 * every posting has a tf at most and a field length at least those of one
 * impact (BM25 grows with tf and shrinks with length). */
typedef struct store_pblock {
    int64_t first, last;
    size_t nimpacts; /* 1 to STORE_PBLOCK_IMPACTS */
    struct {
        uint32_t tf, len;
    } impacts[STORE_PBLOCK_IMPACTS];
} store_pblock;

/* "Shallow advance": describe in *b the block whose range holds `target`
 * (or the term's first block when that starts after it) from the block
 * headers alone, so a top-k scorer can skip blocks that cannot reach its
 * page without decoding them. Independent of store_pcursor_advance's
 * position, and never backwards (a target before the block described last
 * keeps it). Walks forward block by block, seeks when the target is far.
 * 1 described, 0 no block left, -rc on an error. */
int store_pcursor_shallow(store_pcursor *c, int64_t target, store_pblock *b);

/* The caller reads no positions (a scorer: tf and length are all it
 * needs): blocks are decoded from now on without them, so a posting's pos
 * is NULL. About a third of a common word's decode time is its positions.
 * Call it before the first advance; NULL is a no-op. */
void store_pcursor_no_positions(store_pcursor *c);

/* The caller reads positions of only some postings (a phrase top-k, which
 * rules most documents out on their tf and length): packed blocks are
 * decoded from now on without their positions (a posting's pos is NULL),
 * and store_pcursor_positions reads them for the current posting when
 * asked. Call it before the first advance; NULL is a no-op. */
void store_pcursor_lazy_positions(store_pcursor *c);

/* The current posting's positions (the last store_pcursor_advance that
 * answered 1) into *out: the cursor's own, valid until the next call or
 * until it moves; NULL under store_pcursor_no_positions or before the
 * first posting. Reading them steps over the positions of the postings
 * between the last ones read and this one. 0, or -rc (MDB_CORRUPTED,
 * ENOMEM). */
int store_pcursor_positions(store_pcursor *c, const uint32_t **out);

/* Blocks decoded so far (for tests of how little a walk reads). */
size_t store_pcursor_blocks_read(const store_pcursor *c);

/* Release a cursor; NULL is a no-op. */
void store_pcursor_close(store_pcursor *c);

/* Documents with a posting under `key` into *df (0 when none); 0 or an LMDB code. */
int store_postings_df(MDB_txn *txn, const store_postings_dbs *d, const void *key, size_t kn, int64_t *df);

/* Remove every term whose key starts with `prefix` and its blocks. */
int store_postings_drop_prefix(MDB_txn *txn, const store_postings_dbs *d, const void *prefix, size_t pn);

/* Varint (LEB128) helpers, exposed for the unit tests: store_postings_put_varint
 * writes at most 10 bytes and returns how many; get returns the bytes read,
 * 0 when the input ends or the value overflows 64 bits. */
size_t store_postings_put_varint(unsigned char *out, uint64_t v);
size_t store_postings_get_varint(const unsigned char *p, size_t n, uint64_t *v);

#endif
