/* store_engine — verstore's durable engine: LMDB index and document records (tombstones included) and one writer thread that group-commits queued jobs. */
#ifndef VERSYNC_STORE_ENGINE_H
#define VERSYNC_STORE_ENGINE_H

#include "versync/common/buf.h"
#include "versync/store/store_disk.h"
#include "versync/store/store_version.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store_engine store_engine;

/* gc_deletes value meaning "keep tombstones forever" (verstore's default). */
#define STORE_GC_FOREVER (-1)
/* Job field value meaning "gc_deletes not given". */
#define STORE_GC_UNSET (-2)
#define STORE_MAX_INDEX_NAME 255

typedef struct store_engine_opts {
    const char *dir;  /* data directory; must exist */
    bool durable;     /* true: every commit is fsynced before its jobs complete */
    int max_readers;  /* concurrent read transactions (0: 126) */
    size_t map_size;  /* initial LMDB map size (0: 64 GiB); grows when full */
    size_t max_size;  /* the map (so data.mdb) never grows past this (0: no limit) */
    store_disk_watermark flood_stage; /* refuse writes past it (zero: never) */
    size_t vlevel_entries; /* exact values the newest level holds before moving some down (0: the default) */
    size_t plevel_pages;   /* pages the recent postings level holds before moving terms out (store_postings.h) */
    bool plevel_pages_set; /* false: STORE_PLEVEL_PAGES_DEFAULT */
} store_engine_opts;

/* The default of store_engine_opts.vlevel_entries (see STORE_VLEVELS in store_engine_int.h). */
#define STORE_VLEVEL_NEWEST_DEFAULT 32768
/* The default of store_engine_opts.plevel_pages: about the square root of
 * (distinct terms a batch touches × pages of postings it adds) for the
 * benchmark's batches, where the pages a batch dirties in the recent level
 * plus those its share of the moves dirties are fewest. */
#define STORE_PLEVEL_PAGES_DEFAULT 512

/* Open (creating if needed) the engine in opts->dir and start its writer
 * (and, when not durable, a background syncer every 100 ms). On failure
 * returns false with a message naming the directory in `err`. A damaged
 * data.mdb (emptied, shorter than its last page in use, bad meta pages, an
 * unreadable catalogue) is refused here, naming the file, rather than
 * re-initialised or served; garbage inside document pages is not detected
 * (LMDB keeps no checksums). The caller owns *out and releases it with
 * store_engine_close. */
bool store_engine_open(const store_engine_opts *opts, store_engine **out, char *err, size_t errsz);

/* Finish every queued job, stop the threads, sync and close. NULL is a no-op.
 * No job may be submitted concurrently with or after this call. */
void store_engine_close(store_engine *e);

/* The data directory's cluster UUID (stable across restarts). */
const char *store_engine_cluster_uuid(const store_engine *e);

/* ---- reads (any thread; never block the writer) ------------------------ */

typedef struct store_index_meta {
    char name[STORE_MAX_INDEX_NAME + 1];
    char uuid[23];
    uint32_t number;       /* key prefix of the index's documents */
    int64_t created_ms;
    int64_t gc_deletes_ms; /* STORE_GC_FOREVER or milliseconds */
    int64_t next_seq;      /* next _seq_no to hand out */
    int64_t docs_count;    /* live documents */
    int64_t docs_deleted;  /* tombstones */
    int64_t store_bytes;   /* source bytes of live documents */
    int replicas;          /* replica copies its settings ask for (store_settings_replicas) */
    bool source_disabled;  /* mapping `_source: {enabled: false}`: reads never show the source */
} store_index_meta;

typedef struct store_rtxn store_rtxn;

/* What a lookup found, named as LMDB names its codes. The values are fixed
 * (and say the same as the 1/0/-1 they replace), so a caller may keep one in
 * an int and test `< 0` for a failure. */
typedef enum store_lookup {
    STORE_LOOKUP_UNRESOLVED = -2, /* store_engine_index_resolve: an alias that cannot be resolved that way */
    STORE_LOOKUP_FAILED = -1,    /* engine error (logged) */
    STORE_LOOKUP_MISSING = 0,
    STORE_LOOKUP_FOUND = 1,
} store_lookup;

/* Begin a read snapshot; NULL on failure (logged). End it with read_end. */
store_rtxn *store_engine_read_begin(store_engine *e);

/* End a read snapshot (pointers obtained from it become invalid); NULL is a no-op. */
void store_engine_read_end(store_rtxn *r);

/* When the snapshot began (ms since the epoch): the `now` of date math in the
 * queries read through it, one instant for the whole request. */
int64_t store_engine_read_now_ms(const store_rtxn *r);

/* Keep a read snapshot across requests (a scroll's point in time): park
 * drops the hold that keeps the map from being resized, resume takes it
 * again before the next use. Between the two the snapshot must not be read
 * (no pointer into the map survives a resize) and only one thread may use
 * it at a time; the environment is opened MDB_NOTLS, so that thread need
 * not be the one that began it. read_end ends a parked snapshot too. While
 * it lives, LMDB cannot reuse the pages it sees: the owner bounds its life. */
void store_engine_read_park(store_rtxn *r);
void store_engine_read_resume(store_rtxn *r);

/* Look up index `name`: STORE_LOOKUP_FOUND (meta filled; settings/mappings JSON
 * text appended to the bufs when given, nothing appended when none was set),
 * STORE_LOOKUP_MISSING, or STORE_LOOKUP_FAILED. */
store_lookup store_engine_index_get(store_rtxn *r, const char *name, store_index_meta *meta, buf *settings, buf *mappings);

/* Call `fn` for every index in name order; stops early when fn returns
 * false. Returns false on an engine error. */
bool store_engine_index_each(store_rtxn *r, bool (*fn)(const store_index_meta *m, void *arg), void *arg);

/* Look up `name`, an index or an alias, as Elasticsearch resolves a request
 * path: an index first; else an alias. For a read (`write` false) an alias
 * must name exactly one index; for a write it must have a write index (one
 * flagged is_write_index, or its only index when that one is not flagged
 * false). Returns as store_engine_index_get, with meta->name the concrete
 * index, or STORE_LOOKUP_UNRESOLVED when `name` is an alias that cannot be
 * resolved that way. */
store_lookup store_engine_index_resolve(store_rtxn *r, const char *name, bool write, store_index_meta *meta,
                                       buf *settings, buf *mappings);

/* is_write_index of an alias on one index: not given, false, true. */
#define STORE_ALIAS_WRITE_UNSET (-1)

/* Call `fn` for every (alias, index) pair, in alias then index byte order;
 * `is_write` is STORE_ALIAS_WRITE_UNSET, 0 or 1; `opts` the pair's other
 * options (filter, index_routing, search_routing, is_hidden) as a JSON object
 * text, NULL when it has none, valid during the call only. Stops early when
 * fn returns false. Returns false on an engine error. */
bool store_engine_alias_each(store_rtxn *r,
                             bool (*fn)(const char *alias, const char *index, int is_write, const char *opts, void *arg),
                             void *arg);

/* A document as stored. `src` points into the snapshot and stays valid
 * until store_engine_read_end. */
typedef struct store_doc_view {
    store_doc_state st; /* exists=false: no record or an expired tombstone */
    const char *src;
    size_t src_len;
    /* The index's mapping disables _source: `src` is still there for verstore's
     * own use (updates, phrase checks) but no answer may show it. */
    bool source_disabled;
} store_doc_view;

/* Read document `id` of index `meta`: STORE_LOOKUP_FOUND when a record in force
 * exists (live or tombstone: check out->st.deleted), STORE_LOOKUP_MISSING when
 * none, STORE_LOOKUP_FAILED on error. */
store_lookup store_engine_doc_get(store_rtxn *r, const store_index_meta *meta, const char *id, size_t id_len,
                                 store_doc_view *out);

/* Visit the live documents of index `meta` in _id byte order (ascending, or
 * descending when `desc`), starting strictly after `after` when it is not
 * NULL. `fn` gets each id and record (valid during the call) and returns
 * false to stop. Returns false on an engine error. Ids longer than 480
 * bytes sort by their first 481 bytes. */
bool store_engine_doc_scan(store_rtxn *r, const store_index_meta *meta, const char *after, size_t after_len, bool desc,
                           bool (*fn)(const char *id, size_t id_len, const store_doc_view *v, void *arg), void *arg);

/* ---- search structures (read side) ---------------------------------------
 *
 * Every live document has a search ordinal: its _seq_no (store_doc_state
 * .seq_no), which changes whenever the document is rewritten. The writer
 * keeps three structures in step with each document, in the transaction
 * that writes it, using the index's mapping (store_index.h):
 *  - postings for text fields: (field, term) → (seq, tf, field length,
 *    positions), in compressed per-term blocks (store_postings.h);
 *  - an exact-value index for keyword/long/double/boolean/date fields:
 *    (field, encoded value) → seq, ordered by value (store_index_enc_*);
 *  - field presence: field → seq, for every leaf field with a value and
 *    every object path above one.
 * Paths are dotted ("user.name", "title.keyword"). All visitors below go
 * in ascending seq order within one key unless said otherwise, and stop
 * early when `fn` returns false. They return false on an engine error
 * (logged). */

typedef struct store_posting {
    int64_t seq;
    uint32_t tf;  /* occurrences of the term in the field */
    uint32_t len; /* field length in tokens (exact; see store_index_norm_len) */
    const uint32_t *pos; /* the tf positions of the term, ascending; valid during the visit */
} store_posting;

/* Postings of `term` in text field `path`, with their positions or (when
 * `positions` is false) with pos NULL (store_postings_read). */
bool store_engine_postings(store_rtxn *r, const store_index_meta *m, const char *path, const char *term,
                           size_t term_len, bool positions, bool (*fn)(const store_posting *p, void *arg),
                           void *arg);

/* Entries in each level of the exact-value index, newest level first, into
 * entries[0 … max) (see STORE_VLEVELS); returns the number of levels
 * written, or -1 on a storage error. */
int store_engine_value_levels(store_rtxn *r, size_t *entries, size_t max);

/* Blocks in the recent and the older postings level (store_postings.h), into
 * blocks[0] and blocks[1]; false on a storage error. */
bool store_engine_postings_levels(store_rtxn *r, size_t blocks[2]);

/* A skipping cursor over the postings of `term` in text field `path`
 * (store_postings.h: store_pcursor_advance, store_pcursor_close; the caller
 * owns it and closes it before the read ends): *c NULL and *df 0 when the
 * term has none, else *df its document count. False on an engine error. */
typedef struct store_pcursor store_pcursor;
bool store_engine_pcursor(store_rtxn *r, const store_index_meta *m, const char *path, const char *term,
                          size_t term_len, store_pcursor **c, int64_t *df);

/* Number of documents with `term` in text field `path` (0 when none); -1 on error. */
int64_t store_engine_term_docs(store_rtxn *r, const store_index_meta *m, const char *path, const char *term,
                               size_t term_len);

/* Distinct terms of text field `path` in byte order, from `from` (inclusive;
 * NULL/0 from the first). */
bool store_engine_terms(store_rtxn *r, const store_index_meta *m, const char *path, const char *from, size_t from_len,
                        bool (*fn)(const char *term, size_t len, void *arg), void *arg);

/* Statistics of field `path`: documents having it and, for text fields, the
 * sum of their lengths in tokens (BM25's avgdl = sum_len / docs). Zeros when
 * the field has no values. */
bool store_engine_field_stats(store_rtxn *r, const store_index_meta *m, const char *path, int64_t *docs,
                              int64_t *sum_len);

/* Entries of exact-value field `path` in value order (descending when
 * `desc`; ties in seq order either way), within [lo, hi] where a NULL bound
 * is open and `*_incl` says whether the bound itself is in. A document with
 * several values is visited once per value. */
bool store_engine_values(store_rtxn *r, const store_index_meta *m, const char *path, const void *lo, size_t lo_len,
                         bool lo_incl, const void *hi, size_t hi_len, bool hi_incl, bool desc,
                         bool (*fn)(const void *val, size_t len, int64_t seq, void *arg), void *arg);

/* Number of documents holding exactly `val` in field `path`; -1 on error. */
int64_t store_engine_value_docs(store_rtxn *r, const store_index_meta *m, const char *path, const void *val,
                                size_t len);

/* Documents that have field `path` (a leaf with a value, or an object with
 * one below it). */
bool store_engine_exists(store_rtxn *r, const store_index_meta *m, const char *path,
                         bool (*fn)(int64_t seq, void *arg), void *arg);

/* Every live document in seq order, starting after `after` (-1: from the
 * first). */
bool store_engine_seq_scan(store_rtxn *r, const store_index_meta *m, int64_t after,
                           bool (*fn)(int64_t seq, void *arg), void *arg);

/* The live document with search ordinal `seq`: STORE_LOOKUP_FOUND (id and view
 * point into the snapshot), STORE_LOOKUP_MISSING, or STORE_LOOKUP_FAILED. */
store_lookup store_engine_doc_by_seq(store_rtxn *r, const store_index_meta *m, int64_t seq, const char **id,
                                    size_t *id_len, store_doc_view *out);

/* ---- writes (queued to the single writer) ------------------------------ */

typedef enum store_operr {
    STORE_OPERR_NONE = 0,
    STORE_OPERR_CONFLICT,      /* op->dec.explain says why */
    STORE_OPERR_DOC_MISSING,   /* update without upsert on a missing document */
    STORE_OPERR_INDEX_MISSING, /* the index does not exist and this op does not create it */
    STORE_OPERR_BAD_SOURCE,    /* update: stored source or merge result is not an object */
    STORE_OPERR_ENGINE,        /* storage failure */
    STORE_OPERR_NO_WRITE_INDEX, /* the target is an alias without a write index */
    STORE_OPERR_MAPPING,        /* the source does not fit the index's mapping: see op->reason */
    STORE_OPERR_DISK_FULL,      /* no room (flood stage, --max-disk or the disk): nothing written, retry later */
    STORE_OPERR_NOT_ALIAS,      /* require_alias: the target is not an alias */
} store_operr;

/* An update's body, parsed by the caller (who owns the cJSON trees). */
typedef struct store_update_spec {
    cJSON *doc;         /* partial document, or NULL */
    cJSON *upsert;      /* document to create when missing, or NULL */
    bool doc_as_upsert;
    bool detect_noop;
    cJSON *fetch_source; /* the body's `_source` (owned): what the response's `get` returns, or NULL */
} store_update_spec;

/* One document operation. Inputs point into caller memory that must stay
 * valid until the job completes; outputs are filled by the writer. */
typedef struct store_op {
    /* in */
    store_wparams w;
    const char *index; /* NUL-terminated, already validated */
    const char *id;
    size_t id_len;
    const char *src; /* index/create: the source bytes, stored verbatim */
    size_t src_len;
    const store_update_spec *upd; /* update only */
    bool require_alias; /* ?require_alias=true: `index` must name an alias */
    /* out */
    store_operr err;
    store_decision dec; /* result/status/explain */
    int64_t version, seq_no, term;
    char uuid[23];  /* the index's uuid (for error bodies) */
    int shards_total; /* shard copies of the index written (1 + replicas): `_shards.total` */
    char *new_src;  /* update: the source written (heap, freed by store_op_clear) */
    /* STORE_OPERR_MAPPING: Elasticsearch's error type (static string:
     * "document_parsing_exception", "strict_dynamic_mapping_exception") and
     * reason (heap, freed by store_op_clear). */
    const char *reason_type;
    char *reason;
    char *cause; /* the error's caused_by JSON object (heap, freed by store_op_clear), NULL when none */
    size_t new_src_len;
    /* When `index` names an alias the writer points `index` here, at the
     * concrete index written (what responses report as _index). */
    char index_buf[STORE_MAX_INDEX_NAME + 1];
} store_op;

/* Free an op's outputs (new_src); the op may be reused. */
void store_op_clear(store_op *op);

typedef enum store_job_kind {
    STORE_JOB_DOCS = 0,
    STORE_JOB_CREATE_INDEX,
    STORE_JOB_DELETE_INDEX,
    STORE_JOB_PUT_SETTINGS,
    STORE_JOB_ALIASES, /* apply alias actions, all or none */
    STORE_JOB_PUT_MAPPING, /* merge `mappings` into the index's mapping (store_mapping_merge) */
} store_job_kind;

typedef enum store_alias_act {
    STORE_ALIAS_ADD = 0,
    STORE_ALIAS_REMOVE,
    STORE_ALIAS_REMOVE_INDEX, /* delete the index (and so its aliases) */
} store_alias_act;

/* One alias action; names are NUL-terminated and already validated. */
typedef struct store_alias_action {
    store_alias_act act;
    const char *index;
    const char *alias; /* NULL for REMOVE_INDEX */
    int is_write;      /* ADD: STORE_ALIAS_WRITE_UNSET, 0 or 1 */
    bool missing_ok;   /* REMOVE with must_exist: false: an alias not there is no error */
    const char *opts;  /* ADD: the options as a JSON object text (validated), NULL for none */
} store_alias_action;

/* Why an ALIASES job was refused (STORE_JOB_REFUSED, nothing applied). */
typedef enum store_alias_err {
    STORE_ALIASERR_NONE = 0,
    STORE_ALIASERR_INDEX_MISSING, /* the action's index does not exist */
    STORE_ALIASERR_ALIAS_MISSING, /* remove: the alias is not on that index */
    STORE_ALIASERR_NAME_IS_INDEX, /* add: an index has the alias's name */
    STORE_ALIASERR_MANY_WRITE,    /* add: the alias would get two write indices */
    STORE_ALIASERR_HIDDEN_MIXED,  /* add: is_hidden true on some of the alias's indices, not all */
} store_alias_err;

/* What became of a job (job->rc), named as LMDB names its codes. The
 * values are fixed (callers may keep them in an int); three
 * names share 1, each the meaning for its kinds of job. */
typedef enum store_job_rc {
    STORE_JOB_FAILED = -1,      /* engine failure; disk_full says whether for want of room */
    STORE_JOB_OK = 0,           /* done */
    STORE_JOB_EXISTS = 1,       /* CREATE_INDEX: the index already exists */
    STORE_JOB_MISSING = 1,      /* DELETE_INDEX, PUT_SETTINGS, PUT_MAPPING: no such index */
    STORE_JOB_REFUSED = 1,      /* ALIASES: nothing applied; alias_err and alias_err_at say why */
    STORE_JOB_ALIAS_REFUSED = 4, /* CREATE_INDEX: an alias of the body is refused (alias_err, alias_err_at);
                                  * the index is not created */
    STORE_JOB_NAME_IS_ALIAS = 2, /* CREATE_INDEX: the name is an alias's */
    STORE_JOB_BAD_MAPPING = 3,  /* CREATE_INDEX, PUT_MAPPING: the mappings are refused; PUT_SETTINGS: a setting
                                 * fixed at creation is changed; `reason` says why */
} store_job_rc;

typedef struct store_job store_job;

struct store_job {
    store_job_kind kind;
    store_op *ops; /* DOCS: executed in order, all in one transaction */
    size_t nops;
    const char *index;    /* admin jobs */
    /* PUT_MAPPING, PUT_SETTINGS: the concrete indices `index` (an expression)
     * resolved to, all changed or none; NULL: `index` itself. */
    const char *const *names;
    size_t nnames;
    const char *settings; /* CREATE_INDEX/PUT_SETTINGS: JSON object text or NULL */
    size_t settings_len;
    const char *mappings; /* CREATE_INDEX, PUT_MAPPING: JSON object text or NULL */
    size_t mappings_len;
    int64_t gc_deletes_ms; /* STORE_GC_UNSET when the settings do not name it */
    const store_alias_action *actions; /* ALIASES: applied in order in one transaction; CREATE_INDEX: the
                                        * body's aliases (ADD actions on the new index), all or none with it */
    size_t nactions;
    store_job_rc rc; /* out */
    char reason[512];
    bool disk_full; /* STORE_JOB_FAILED because there was no room (see STORE_OPERR_DISK_FULL) */
    store_alias_err alias_err;
    size_t alias_err_at; /* the action refused */
    store_index_meta meta; /* admin jobs: the index concerned */
    /* Called on the writer thread once the job's transaction is committed
     * (and synced in durable mode), or has failed. Must not block. */
    void (*done)(store_job *job);
    void *arg;
    store_job *next; /* engine's queue link */
    struct store_prep *prep; /* engine-private: documents analysed before the writer (store_engine_submit) */
};

/* Queue `job`; job->done runs later on the writer thread. Documents the
 * job indexes are analysed first, on the calling thread, so the writer
 * does less (store_engine_prep.c). */
void store_engine_submit(store_engine *e, store_job *job);

/* Queue `job` and wait for it (job->done and job->arg are overwritten).
 * Returns job->rc. */
store_job_rc store_engine_execute(store_engine *e, store_job *job);

/* Deep-merge object `src` into object `dst` the way Elasticsearch applies a
 * partial update: objects merge key by key, anything else replaces. Returns
 * whether `dst` changed; *oom is set when a copy failed. */
bool store_engine_merge(cJSON *dst, const cJSON *src, bool *oom);

#endif
