/* store_version — Elasticsearch's document versioning rules as pure functions (validation and the write/read decision table). */
#ifndef VERSYNC_STORE_VERSION_H
#define VERSYNC_STORE_VERSION_H

#include "versync/common/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The engine's sentinels, with Elasticsearch's values. */
#define STORE_MATCH_ANY (-3)     /* no version given */
#define STORE_NOT_FOUND (-1)     /* document unknown */
#define STORE_MATCH_DELETED (-4) /* op_type=create: must not exist */
#define STORE_UNASSIGNED_SEQ_NO (-2)
#define STORE_UNASSIGNED_TERM 0
#define STORE_MAX_ID_BYTES 512

typedef enum store_vtype {
    STORE_VT_INTERNAL = 0,
    STORE_VT_EXTERNAL,     /* alias external_gt */
    STORE_VT_EXTERNAL_GTE,
} store_vtype;

typedef enum store_opkind {
    STORE_OP_INDEX = 0,
    STORE_OP_CREATE,
    STORE_OP_UPDATE,
    STORE_OP_DELETE,
} store_opkind;

typedef enum store_result {
    STORE_RES_NONE = 0,
    STORE_RES_CREATED,
    STORE_RES_UPDATED,
    STORE_RES_DELETED,
    STORE_RES_NOT_FOUND,
    STORE_RES_NOOP,
} store_result;

/* What a write asks for. `version` is STORE_MATCH_ANY when absent;
 * if_seq_no is STORE_UNASSIGNED_SEQ_NO and if_primary_term 0 when absent.
 * `legacy` selects the 5.x/6.x typed-path rules: internal ?version=N is a
 * compare-and-set on the version instead of a validation error. */
typedef struct store_wparams {
    store_opkind kind;
    store_vtype vtype;
    int64_t version;
    int64_t if_seq_no;
    int64_t if_primary_term;
    bool legacy;
    bool has_id; /* false for auto-id index requests */
} store_wparams;

/* The stored state a write is checked against. `exists` is false when there
 * is no record at all or only a tombstone past index.gc_deletes. */
typedef struct store_doc_state {
    bool exists;
    bool deleted; /* the record is a tombstone */
    int64_t version;
    int64_t seq_no;
    int64_t term;
} store_doc_state;

typedef enum store_outcome {
    STORE_DEC_OK = 0,
    STORE_DEC_CONFLICT,    /* 409 version_conflict_engine_exception */
    STORE_DEC_DOC_MISSING, /* update of a missing document: 404 document_missing_exception */
} store_outcome;

typedef struct store_decision {
    store_outcome outcome;
    int64_t new_version;  /* OK: the version the record gets */
    store_result result;  /* OK: created/updated/deleted/not_found */
    int status;           /* HTTP status of the outcome */
    char explain[200];    /* CONFLICT: text after "[id]: version conflict, " */
} store_decision;

/* Validation messages, numbered the way Elasticsearch joins them:
 * "1: first;2: second;". Zeroed (or STORE_MSGS_INIT) before use. */
typedef struct store_msgs {
    buf text;
    int count;
} store_msgs;

/* Append one message. False only out of memory. */
bool store_msgs_add(store_msgs *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Release the messages' text; the list may be reused afterwards. */
void store_msgs_free(store_msgs *m);

/* Name of a version type as Elasticsearch prints it ("INTERNAL", "EXTERNAL", "EXTERNAL_GTE"). */
const char *store_vtype_name(store_vtype t);

/* Parse a version_type parameter: internal, external, external_gt,
 * external_gte. False for anything else (force included: removed in 6.0). */
bool store_vtype_parse(const char *s, store_vtype *out);

/* Validate a write before it runs (IndexRequest/DeleteRequest.validate):
 * appends every message to `m`. `id`/`id_len` is the document id (NULL for
 * auto-id). Returns true when nothing was added. Update requests only get
 * the compare-and-set checks (version params on updates are refused earlier
 * by the REST layer, see store_version_update_refused). */
bool store_version_validate(const store_wparams *w, const char *id, size_t id_len, store_msgs *m);

/* True when a modern-path update carries version or version_type (the REST
 * layer refuses both, with the internal-versioning message). */
bool store_version_update_refused(bool has_version, bool has_version_type);

/* The decision table: what a validated write does to a document in state
 * `cur`. For STORE_OP_UPDATE the caller decides noop/merge afterwards; this
 * only checks existence and compare-and-set (`upsert` says whether a missing
 * document may be created). Pure: no I/O, no clock. */
void store_version_decide(const store_wparams *w, const store_doc_state *cur, bool upsert, store_decision *out);

/* Realtime GET with ?version=: equality for every version type. Returns true
 * when the read conflicts, with the explanation in `explain`. */
bool store_version_read_conflict(int64_t wanted, const store_doc_state *cur, char *explain, size_t explain_sz);

/* Whether a tombstone deleted at `deleted_at_ms` is still in force at
 * `now_ms` under gc_deletes `gc_ms` (negative: forever, verstore's default). */
bool store_version_tombstone_live(int64_t deleted_at_ms, int64_t now_ms, int64_t gc_ms);

/* "created", "updated", ... */
const char *store_result_name(store_result r);

#endif
