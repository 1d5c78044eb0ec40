/* store_version — Elasticsearch's document versioning rules as pure functions. */
#include "versync/store/store_version.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool store_msgs_add(store_msgs *m, const char *fmt, ...)
{
    /* Formatted straight into the buffer: messages quote ids of any length. */
    m->count++;
    if (!buf_printf(&m->text, "%d: ", m->count))
        return false;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(&m->text, (size_t)n + 1))
        return false;
    va_start(ap, fmt);
    vsnprintf(m->text.data + m->text.len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    m->text.len += (size_t)n;
    return buf_putc(&m->text, ';');
}

void store_msgs_free(store_msgs *m)
{
    buf_free(&m->text);
    m->count = 0;
}

const char *store_vtype_name(store_vtype t)
{
    switch (t) {
    case STORE_VT_EXTERNAL: return "EXTERNAL";
    case STORE_VT_EXTERNAL_GTE: return "EXTERNAL_GTE";
    default: return "INTERNAL";
    }
}

bool store_vtype_parse(const char *s, store_vtype *out)
{
    if (strcmp(s, "internal") == 0)
        *out = STORE_VT_INTERNAL;
    else if (strcmp(s, "external") == 0 || strcmp(s, "external_gt") == 0)
        *out = STORE_VT_EXTERNAL;
    else if (strcmp(s, "external_gte") == 0)
        *out = STORE_VT_EXTERNAL_GTE;
    else
        return false;
    return true;
}

const char *store_result_name(store_result r)
{
    switch (r) {
    case STORE_RES_CREATED: return "created";
    case STORE_RES_UPDATED: return "updated";
    case STORE_RES_DELETED: return "deleted";
    case STORE_RES_NOT_FOUND: return "not_found";
    case STORE_RES_NOOP: return "noop";
    default: return "";
    }
}

static bool valid_for_writes(store_vtype t, int64_t v)
{
    if (t == STORE_VT_INTERNAL)
        return v > 0 || v == STORE_MATCH_ANY || v == STORE_MATCH_DELETED;
    return v >= 0;
}

bool store_version_update_refused(bool has_version, bool has_version_type)
{
    return has_version || has_version_type;
}

bool store_version_validate(const store_wparams *w, const char *id, size_t id_len, store_msgs *m)
{
    int before = m->count;
    int64_t version = w->version;
    if (w->kind == STORE_OP_CREATE) {
        /* IndexRequest.validate stops at the first create problem. */
        if (w->vtype != STORE_VT_INTERNAL) {
            store_msgs_add(m, "create operations only support internal versioning. use index instead");
            return false;
        }
        if (version != STORE_MATCH_ANY && version != STORE_MATCH_DELETED) {
            store_msgs_add(m, "create operations do not support explicit versions. use index instead");
            return false;
        }
        if (w->if_seq_no != STORE_UNASSIGNED_SEQ_NO || w->if_primary_term != STORE_UNASSIGNED_TERM) {
            store_msgs_add(m, "create operations do not support compare and set. use index instead");
            return false;
        }
        version = STORE_MATCH_DELETED;
    }
    if (!w->has_id && (w->vtype != STORE_VT_INTERNAL ||
                       (version != STORE_MATCH_ANY && version != STORE_MATCH_DELETED)))
        store_msgs_add(m, "an id must be provided if version type or value are set");
    if (w->kind != STORE_OP_UPDATE) {
        if (!valid_for_writes(w->vtype, version))
            store_msgs_add(m, "illegal version value [%" PRId64 "] for version type [%s]", version,
                           store_vtype_name(w->vtype));
        if (!w->legacy && w->vtype == STORE_VT_INTERNAL && version != STORE_MATCH_ANY &&
            version != STORE_MATCH_DELETED)
            store_msgs_add(m, "internal versioning can not be used for optimistic concurrency control. "
                              "Please use `if_seq_no` and `if_primary_term` instead");
    } else if (w->legacy && !valid_for_writes(w->vtype, version)) {
        store_msgs_add(m, "illegal version value [%" PRId64 "] for version type [%s]", version,
                       store_vtype_name(w->vtype));
    }
    if (w->if_seq_no != STORE_UNASSIGNED_SEQ_NO &&
        (w->vtype != STORE_VT_INTERNAL || (version != STORE_MATCH_ANY && version != STORE_MATCH_DELETED)))
        store_msgs_add(m, "compare and write operations can not use versioning");
    if (w->if_primary_term == STORE_UNASSIGNED_TERM && w->if_seq_no != STORE_UNASSIGNED_SEQ_NO)
        store_msgs_add(m, "ifSeqNo is set, but primary term is [0]");
    if (w->if_primary_term != STORE_UNASSIGNED_TERM && w->if_seq_no == STORE_UNASSIGNED_SEQ_NO)
        store_msgs_add(m, "ifSeqNo is unassigned, but primary term is [%" PRId64 "]", w->if_primary_term);
    if (id && id_len > STORE_MAX_ID_BYTES)
        store_msgs_add(m, "id [%.*s] is too long, must be no longer than 512 bytes but was: %zu", (int)id_len, id,
                       id_len);
    return m->count == before;
}

static void conflict(store_decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conflict(store_decision *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->explain, sizeof d->explain, fmt, ap);
    va_end(ap);
    d->outcome = STORE_DEC_CONFLICT;
    d->status = 409;
    d->result = STORE_RES_NONE;
}

/* Result and status of an accepted write given whether a live doc existed. */
static void accept(store_decision *d, store_opkind kind, bool live, int64_t version)
{
    d->outcome = STORE_DEC_OK;
    d->new_version = version;
    if (kind == STORE_OP_DELETE) {
        d->result = live ? STORE_RES_DELETED : STORE_RES_NOT_FOUND;
        d->status = live ? 200 : 404;
    } else {
        d->result = live ? STORE_RES_UPDATED : STORE_RES_CREATED;
        d->status = live ? 200 : 201;
    }
}

/* v + 1 with Java's wrap-around instead of C's undefined overflow (a
 * document at external version 2^63-1 written with internal versioning). */
static int64_t inc(int64_t v) { return (int64_t)((uint64_t)v + 1u); }

void store_version_decide(const store_wparams *w, const store_doc_state *cur, bool upsert, store_decision *d)
{
    memset(d, 0, sizeof *d);
    bool live = cur->exists && !cur->deleted;
    /* Internal versions continue from a tombstone while it is remembered. */
    int64_t next_internal = cur->exists ? inc(cur->version) : 1;

    if (w->kind == STORE_OP_UPDATE) {
        if (!live) {
            if (!upsert || w->if_seq_no != STORE_UNASSIGNED_SEQ_NO) {
                d->outcome = STORE_DEC_DOC_MISSING;
                d->status = 404;
                return;
            }
            accept(d, STORE_OP_CREATE, false, next_internal);
            return;
        }
        if (w->if_seq_no != STORE_UNASSIGNED_SEQ_NO &&
            (w->if_seq_no != cur->seq_no || w->if_primary_term != cur->term)) {
            conflict(d,
                     "required seqNo [%" PRId64 "], primary term [%" PRId64 "]. current document has seqNo [%" PRId64
                     "] and primary term [%" PRId64 "]",
                     w->if_seq_no, w->if_primary_term, cur->seq_no, cur->term);
            return;
        }
        if (w->legacy && w->version != STORE_MATCH_ANY && w->vtype == STORE_VT_INTERNAL &&
            cur->version != w->version) {
            conflict(d, "current version [%" PRId64 "] is different than the one provided [%" PRId64 "]",
                     cur->version, w->version);
            return;
        }
        accept(d, STORE_OP_UPDATE, true, inc(cur->version));
        return;
    }

    if (w->if_seq_no != STORE_UNASSIGNED_SEQ_NO) {
        /* Compare-and-set ignores tombstones: only a live document can match. */
        if (!live) {
            conflict(d, "required seqNo [%" PRId64 "], primary term [%" PRId64 "]. but no document was found",
                     w->if_seq_no, w->if_primary_term);
            return;
        }
        if (w->if_seq_no != cur->seq_no || w->if_primary_term != cur->term) {
            conflict(d,
                     "required seqNo [%" PRId64 "], primary term [%" PRId64 "]. current document has seqNo [%" PRId64
                     "] and primary term [%" PRId64 "]",
                     w->if_seq_no, w->if_primary_term, cur->seq_no, cur->term);
            return;
        }
        accept(d, w->kind, true, inc(cur->version));
        return;
    }

    if (w->kind == STORE_OP_CREATE) {
        if (live) {
            conflict(d, "document already exists (current version [%" PRId64 "])", cur->version);
            return;
        }
        accept(d, STORE_OP_CREATE, false, next_internal);
        return;
    }

    switch (w->vtype) {
    case STORE_VT_INTERNAL:
        if (w->version != STORE_MATCH_ANY) { /* legacy compare-and-set on the version */
            if (!cur->exists) {
                conflict(d, "document does not exist (expected version [%" PRId64 "])", w->version);
                return;
            }
            if (cur->version != w->version) {
                conflict(d, "current version [%" PRId64 "] is different than the one provided [%" PRId64 "]",
                         cur->version, w->version);
                return;
            }
        }
        accept(d, w->kind, live, next_internal);
        return;
    case STORE_VT_EXTERNAL:
        if (cur->exists && cur->version >= w->version) {
            conflict(d, "current version [%" PRId64 "] is higher or equal to the one provided [%" PRId64 "]",
                     cur->version, w->version);
            return;
        }
        accept(d, w->kind, live, w->version);
        return;
    case STORE_VT_EXTERNAL_GTE:
        if (cur->exists && cur->version > w->version) {
            conflict(d, "current version [%" PRId64 "] is higher than the one provided [%" PRId64 "]",
                     cur->version, w->version);
            return;
        }
        accept(d, w->kind, live, w->version);
        return;
    }
}

bool store_version_read_conflict(int64_t wanted, const store_doc_state *cur, char *explain, size_t explain_sz)
{
    if (wanted == STORE_MATCH_ANY || !cur->exists || cur->deleted)
        return false;
    if (cur->version == wanted)
        return false;
    snprintf(explain, explain_sz, "current version [%" PRId64 "] is different than the one provided [%" PRId64 "]",
             cur->version, wanted);
    return true;
}

bool store_version_tombstone_live(int64_t deleted_at_ms, int64_t now_ms, int64_t gc_ms)
{
    if (gc_ms < 0)
        return true;
    return now_ms - deleted_at_ms < gc_ms;
}
