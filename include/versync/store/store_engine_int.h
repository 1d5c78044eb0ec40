/* store_engine_int — what the files of verstore's engine share (store_engine*.c only): the engine
 * and snapshot structs, the record layout, and the functions one file gives another. */
#ifndef VERSYNC_STORE_ENGINE_INT_H
#define VERSYNC_STORE_ENGINE_INT_H

#include "versync/store/store_engine.h"

#include "versync/common/log.h"
#include "versync/store/store_fbatch.h"
#include "versync/store/store_index.h"
#include "versync/store/store_postings.h"

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* Ids up to this length are stored in the key as they are; longer ones are
 * cut and followed by a 128-bit hash so every key fits LMDB's 511 bytes. */
#define ID_INLINE_MAX 480
#define ID_CUT 481
#define KEY_MAX (4 + ID_CUT + 16)
#define DOC_HDR 40
#define FLAG_DELETED 1u
#define FLAG_LONG_ID 2u
#define INDEX_FORMAT 1u

/* Exact values (keyword, number, date, boolean… entries: value → the seqs of
 * the documents holding it) are kept as a small log-structured merge of LMDB
 * databases. Every new entry goes into the newest level,
 * dbi_vals[STORE_VLEVELS - 1], which stays small; a level holding more than
 * its limit moves entries, one key range at a time, into the next older
 * level, whose limit is STORE_VLEVEL_RATIO times larger (the newest's:
 * store_engine_opts.vlevel_entries); dbi_vals[0]
 * ("values", the only level before search_format 4) is unbounded.
 * Why: a batch's values are random keys (numbers, dates, ids). In one tree
 * that grows with the index, each batch dirtied pages all over it, so the
 * bytes written per document grew with the index (15× over 1 M documents).
 * Now a batch dirties a small tree, and each entry is rewritten about once
 * per level, in key order. An entry (value, seq) is in exactly one level;
 * readers merge the levels (store_engine_values, store_engine_value_docs). */
#define STORE_VLEVELS 5
#define STORE_VLEVEL_RATIO 8
/* Entries one transaction moves from one level at most: a backlog of moves
 * waits for later transactions rather than stalling this one. */
#define STORE_VLEVEL_MOVE_MAX 65536

struct store_engine {
    MDB_env *env;
    MDB_dbi dbi_meta, dbi_indices, dbi_counters, dbi_docs, dbi_aliases;
    /* Search structures (see store_engine.h): postings, exact values, field
     * presence, seq → id, and per-field statistics. */
    store_postings_dbs pdb;          /* text postings: term dictionary and blocks (store_postings.h) */
    MDB_dbi dbi_vals[STORE_VLEVELS]; /* exact values, oldest level first (see STORE_VLEVELS) */
    MDB_dbi dbi_exists, dbi_seqs, dbi_fstats;
    MDB_dbi dbi_longvals; /* cut exact-value key → the whole value (see vkey) */
    /* Where each level's next move to the older level starts (the key after
     * the last one moved; empty: the first). Only the writer thread uses it,
     * and losing it (a restart, an aborted transaction) costs nothing. */
    unsigned char vmove_at[STORE_VLEVELS][STORE_INDEX_MAX_KEY];
    size_t vmove_len[STORE_VLEVELS];
    size_t vlevel_entries; /* the newest level's limit */
    size_t plevel_pages;   /* the recent postings level's limit (store_postings_compact) */
    uint64_t pmove_next;   /* the term id the next postings move starts at (writer thread only) */
    bool durable;
    size_t map_size;
    size_t max_size;             /* --max-disk: the map's ceiling (0: none) */
    store_disk_watermark flood;  /* --flood-stage */
    atomic_bool disk_full;       /* writes are being refused for lack of room (logged once per episode) */
    pthread_rwlock_t resize_lock; /* readers share it; growing the map takes it alone */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    store_job *head, *tail;
    bool stopping;
    pthread_t writer;
    bool writer_started;
    bool env_opened; /* mdb_env_open succeeded: the env may be synced at close */
    pthread_t syncer;
    bool syncer_started;
    pthread_mutex_t slock;
    pthread_cond_t scond;
    bool sync_stop;
    atomic_bool dirty; /* async mode: commits not yet synced */
    char cluster_uuid[23];
    char dir[4096];
    uint64_t instance;  /* this engine among those the process opened (store_eng_prep_instance) */
    atomic_size_t idx_txn; /* the last committed transaction that wrote an index record (store_engine_prep.c) */
};

struct store_rtxn {
    store_engine *e;
    MDB_txn *txn;
    int64_t now_ms;
    bool parked; /* not holding resize_lock (store_engine_read_park) */
};

/* ---- record codec (store_engine_codec.c) -------------------------------- */

static inline void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put_i64(unsigned char *p, int64_t v) { memcpy(p, &v, 8); }
static inline uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline int64_t get_i64(const unsigned char *p)
{
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}

static inline int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void mlog(int rc, const char *what)
{
    log_error("storage: %s: %s", what, mdb_strerror(rc));
}

/* FNV-1a with a 64-bit finaliser, seeded: two seeds give the 128-bit digest of a long id. */
uint64_t store_eng_hash64(const char *s, size_t n, uint64_t seed);

/* The key of document `id` of index `number` into `key` (KEY_MAX bytes): the
 * number big-endian, then the id, cut with a digest when longer than
 * ID_INLINE_MAX. Returns the key's length. */
size_t store_eng_doc_key(uint32_t number, const char *id, size_t n, unsigned char *key);

/* Index record: format, number, created, gc, uuid[22], settings, mappings. */
bool store_eng_index_decode(const MDB_val *v, store_index_meta *m, buf *settings, buf *mappings);

/* Counters record: next_seq, docs_count, docs_deleted, store_bytes. */
bool store_eng_counters_decode(const MDB_val *v, store_index_meta *m);

/* Decode a document record into `st` (+ source); false when damaged or,
 * for a long id, when the record belongs to another id (hash collision). */
bool store_eng_doc_decode(const MDB_val *v, const char *id, size_t id_len, const store_index_meta *m, int64_t now_ms,
                          store_doc_state *st, bool *raw_deleted, const char **src, size_t *src_len);

/* ---- reads (store_engine_read.c) ----------------------------------------- */

/* Alias record: key "alias\0index", value one byte: is_write + 1 (0 unset,
 * 1 false, 2 true), then the other options as a JSON object text when the
 * alias has any (rows written before options were kept are one byte). One
 * row per pair keeps add/remove a single put/del and lists an alias's
 * indices with one range scan. `opts` is NUL-terminated or NULL. */
typedef bool (*alias_row_fn)(const char *alias, const char *index, int is_write, const char *opts, void *arg);

/* Load index `name` (as store_engine_index_get). */
store_lookup store_eng_index_load(MDB_txn *txn, store_engine *e, const char *name, store_index_meta *m, buf *settings,
                                 buf *mappings);

/* Visit the rows of `alias` (NULL: all rows). Returns 0 or an LMDB error. */
int store_eng_alias_rows(MDB_txn *txn, store_engine *e, const char *alias, alias_row_fn fn, void *arg);

/* The index alias `name` stands for into `out`: STORE_LOOKUP_FOUND resolved,
 * STORE_LOOKUP_MISSING not an alias, STORE_LOOKUP_UNRESOLVED not resolvable (see
 * store_engine_index_resolve), STORE_LOOKUP_FAILED engine error. */
store_lookup store_eng_alias_resolve(MDB_txn *txn, store_engine *e, const char *name, bool write, char *out,
                                    size_t outsz);

/* Whether alias `name` has any row (*rc: 0 or an LMDB error). */
bool store_eng_alias_exists(MDB_txn *txn, store_engine *e, const char *name, int *rc);

/* ---- search structures (store_engine_search.c) --------------------------- */

struct wctx;

/* Add (or remove) the entries of document `seq` in index `number` in the
 * writer's transaction: exact values at once, postings, presence and
 * statistics queued in its batches (store_eng_batch_flush). On removal a
 * field's statistics drop only when its entries were there (a field mapped
 * after the document was written never counted it). */
int store_eng_search_apply(struct wctx *c, uint32_t number, int64_t seq, const store_doc_index *d, bool add);

/* Record (or forget) which id has search ordinal `seq`. */
int store_eng_seq_put(MDB_txn *txn, store_engine *e, uint32_t number, int64_t seq, const char *id, size_t id_len);

/* Delete every entry of index `number` in `dbi` (all dups of each key). */
int store_eng_delete_prefix(MDB_txn *txn, MDB_dbi dbi, uint32_t number, bool dups);

/* Move entries of exact-value levels over their limit into the next older
 * level (at most STORE_VLEVEL_MOVE_MAX per level); 0 or an LMDB error. */
int store_eng_values_compact(MDB_txn *txn, store_engine *e);

/* Build the search structures of a data directory written before them (or
 * at an older format) in `txn`; 0 or an LMDB error. */
int store_eng_search_upgrade(store_engine *e, MDB_txn *txn);

/* ---- executing jobs (store_engine_exec.c) -------------------------------- */

/* One index as the writer's transaction sees it. */
typedef struct cache_ent {
    store_index_meta m;
    bool exists;
    bool dirty;      /* counters to write back */
    bool map_loaded; /* `map` holds the index's mapping */
    bool map_dirty;  /* fields were added: the index record is rewritten */
    store_mapping map;
} cache_ent;

typedef struct wctx {
    store_engine *e;
    MDB_txn *txn;
    cache_ent *ents;
    size_t n, cap;
    int64_t now_ms;
    store_doc_index dnew, dold; /* reused for every document of the transaction */
    buf reason;
    store_pbatch *pb; /* the transaction's posting changes, written at its end */
    store_fbatch *fb; /* its presence entries and field statistics, likewise */
    bool indices_written; /* an index record was written or deleted: prepared documents are stale */
} wctx;

/* A writer context for `txn` (NULL: the caller begins it later) with empty
 * batches; false when out of memory (free it with store_eng_wctx_free). */
bool store_eng_wctx_init(wctx *c, store_engine *e, MDB_txn *txn);

/* Free a writer context (its cached mappings, buffers and batches). */
void store_eng_wctx_free(wctx *c);

/* Write the transaction's queued postings, presence entries and field
 * statistics (every reader of them must come after); 0 or an LMDB error. */
int store_eng_batch_flush(wctx *c);

/* The mapping of index `ent` (loaded once per transaction). */
int store_eng_ent_mapping(wctx *c, cache_ent *ent, store_mapping **out);

/* Index `name` in the transaction's cache, loaded on first use; 0 or an LMDB error. */
int store_eng_cache_get(wctx *c, const char *name, cache_ent **out);

/* Write back the counters and changed index records of the cache; 0 or an LMDB error. */
int store_eng_cache_flush(wctx *c);

/* Execute one job in the transaction; 0 or an LMDB error (job->rc says what became of it). */
int store_eng_exec_job(wctx *c, store_job *job);

/* Build the mapping of index `name` from its record's settings and
 * mappings into *out (the caller frees it: store_mapping_free). An
 * unreadable mapping is logged and built empty; the writer and the
 * submitting threads build it the same way, so their entries agree. */
void store_eng_mapping_build(const char *name, const buf *settings, const buf *mappings, store_mapping *out);

/* ---- documents analysed before the writer (store_engine_prep.c) ---------- */

/* A number for a newly opened engine, never handed out twice in a process. */
uint64_t store_eng_prep_instance(void);

/* On the submitting thread: analyse the job's index/create documents
 * against their index's mapping into job->prep (engine-owned, freed by
 * store_eng_prep_free). Nothing is prepared when memory is short, and a
 * document that would add fields or is refused is left to the writer. */
void store_eng_prepare(store_engine *e, store_job *job);

/* On the writer: op `i`'s prepared entries when they were made from the
 * mapping index `ent` has now in transaction `c`; NULL: analyse it here. */
const store_doc_index *store_eng_prepared(const wctx *c, const store_job *job, size_t i, const cache_ent *ent);

/* Free job->prep (NULL: nothing). */
void store_eng_prep_free(store_job *job);

/* Drop the calling thread's cached mapping of engine `e` (at close). */
void store_eng_prep_forget(const store_engine *e);

/* ---- the writer thread (store_engine_writer.c) --------------------------- */

/* Queue `job` as it is (store_engine_submit prepares it first). */
void store_eng_enqueue(store_engine *e, store_job *job);

/* The writer thread: takes queued jobs in batches, one transaction (and one
 * sync) per batch. */
void *store_eng_writer_main(void *arg);

#endif
