/* store_engine_read — read snapshots: indices, aliases, documents by id and in id order. */
#include "versync/store/store_engine_int.h"

#include "versync/store/store_deadline.h"

#include "versync/store/store_util.h"

#include <stdio.h>
#include <errno.h>
#include <stdlib.h>

/* ---- reads -------------------------------------------------------------- */

store_rtxn *store_engine_read_begin(store_engine *e)
{
    store_rtxn *r = malloc(sizeof *r);
    if (!r) {
        log_error("out of memory starting a read");
        return NULL;
    }
    pthread_rwlock_rdlock(&e->resize_lock);
    int rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &r->txn);
    if (rc) {
        pthread_rwlock_unlock(&e->resize_lock);
        mlog(rc, "begin read");
        free(r);
        return NULL;
    }
    r->e = e;
    r->now_ms = store_util_now_ms();
    r->parked = false;
    return r;
}

int64_t store_engine_read_now_ms(const store_rtxn *r) { return r->now_ms; }

void store_engine_read_end(store_rtxn *r)
{
    if (!r)
        return;
    mdb_txn_abort(r->txn);
    if (!r->parked)
        pthread_rwlock_unlock(&r->e->resize_lock);
    free(r);
}

/* An idle read transaction survives mdb_env_set_mapsize: LMDB computes
 * each page's address from the current map when it is read, and the
 * transaction keeps copies of the root records, not pointers into the map.
 * Only reads in progress must exclude a resize, which resume restores. */
void store_engine_read_park(store_rtxn *r)
{
    if (!r || r->parked)
        return;
    r->parked = true;
    pthread_rwlock_unlock(&r->e->resize_lock);
}

void store_engine_read_resume(store_rtxn *r)
{
    if (!r || !r->parked)
        return;
    pthread_rwlock_rdlock(&r->e->resize_lock);
    r->parked = false;
}

store_lookup store_eng_index_load(MDB_txn *txn, store_engine *e, const char *name, store_index_meta *m, buf *settings,
                                 buf *mappings)
{
    size_t n = strlen(name);
    if (n == 0 || n > STORE_MAX_INDEX_NAME)
        return STORE_LOOKUP_MISSING;
    MDB_val k = {n, (void *)name}, v;
    int rc = mdb_get(txn, e->dbi_indices, &k, &v);
    if (rc == MDB_NOTFOUND)
        return STORE_LOOKUP_MISSING;
    if (rc) {
        mlog(rc, "read index");
        return STORE_LOOKUP_FAILED;
    }
    memset(m, 0, sizeof *m);
    memcpy(m->name, name, n + 1);
    if (!store_eng_index_decode(&v, m, settings, mappings)) {
        log_error("storage: index record of [%s] is damaged", name);
        return STORE_LOOKUP_FAILED;
    }
    unsigned char kb[4];
    be32(kb, m->number);
    MDB_val ck = {4, kb};
    rc = mdb_get(txn, e->dbi_counters, &ck, &v);
    if (rc == 0 && !store_eng_counters_decode(&v, m)) {
        log_error("storage: counters of [%s] are damaged", name);
        return STORE_LOOKUP_FAILED;
    }
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "read counters");
        return STORE_LOOKUP_FAILED;
    }
    return STORE_LOOKUP_FOUND;
}

store_lookup store_engine_index_get(store_rtxn *r, const char *name, store_index_meta *meta, buf *settings, buf *mappings)
{
    return store_eng_index_load(r->txn, r->e, name, meta, settings, mappings);
}

/* ---- aliases ----------------------------------------------------------- */

/* Visit the rows of `alias` (NULL: all rows). Returns 0 or an LMDB error. */
int store_eng_alias_rows(MDB_txn *txn, store_engine *e, const char *alias, alias_row_fn fn, void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, e->dbi_aliases, &cur);
    if (rc)
        return rc;
    size_t al = alias ? strlen(alias) + 1 : 0; /* the NUL is part of the prefix */
    MDB_val k = {al, (void *)alias}, v;
    rc = alias ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (alias && (k.mv_size < al || memcmp(k.mv_data, alias, al) != 0))
            break;
        char key[2 * (STORE_MAX_INDEX_NAME + 1)];
        if (k.mv_size < sizeof key) {
            memcpy(key, k.mv_data, k.mv_size);
            key[k.mv_size] = '\0';
            size_t nl = strlen(key);
            int w = v.mv_size ? ((const unsigned char *)v.mv_data)[0] - 1 : STORE_ALIAS_WRITE_UNSET;
            char *opts = NULL; /* a copy: the row's bytes are not NUL-terminated */
            if (v.mv_size > 1) {
                if (!(opts = malloc(v.mv_size))) {
                    rc = ENOMEM;
                    break;
                }
                memcpy(opts, (const char *)v.mv_data + 1, v.mv_size - 1);
                opts[v.mv_size - 1] = '\0';
            }
            bool more = nl >= k.mv_size || fn(key, key + nl + 1, w, opts, arg);
            free(opts);
            if (!more)
                break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

typedef struct resolve_st {
    int count;
    bool has_write;
    char first[STORE_MAX_INDEX_NAME + 1];
    int first_w;
    char write[STORE_MAX_INDEX_NAME + 1];
} resolve_st;

static bool resolve_row(const char *alias, const char *index, int w, const char *opts, void *arg)
{
    (void)alias, (void)opts;
    resolve_st *s = arg;
    if (s->count++ == 0) {
        snprintf(s->first, sizeof s->first, "%s", index);
        s->first_w = w;
    }
    if (w == 1) {
        snprintf(s->write, sizeof s->write, "%s", index);
        s->has_write = true;
    }
    return true;
}

/* The index alias `name` stands for into `out`: STORE_LOOKUP_FOUND resolved,
 * STORE_LOOKUP_MISSING not an alias, STORE_LOOKUP_UNRESOLVED not resolvable
 * (see store_engine_index_resolve), STORE_LOOKUP_FAILED engine error. */
store_lookup store_eng_alias_resolve(MDB_txn *txn, store_engine *e, const char *name, bool write, char *out, size_t outsz)
{
    resolve_st s = {0};
    if (strlen(name) > STORE_MAX_INDEX_NAME)
        return STORE_LOOKUP_MISSING;
    int rc = store_eng_alias_rows(txn, e, name, resolve_row, &s);
    if (rc) {
        mlog(rc, "read aliases");
        return STORE_LOOKUP_FAILED;
    }
    if (s.count == 0)
        return STORE_LOOKUP_MISSING;
    const char *pick = NULL;
    if (write)
        pick = s.has_write ? s.write : s.count == 1 && s.first_w != 0 ? s.first : NULL;
    else
        pick = s.count == 1 ? s.first : NULL;
    if (!pick)
        return STORE_LOOKUP_UNRESOLVED;
    snprintf(out, outsz, "%s", pick);
    return STORE_LOOKUP_FOUND;
}

bool store_eng_alias_exists(MDB_txn *txn, store_engine *e, const char *name, int *rc)
{
    resolve_st s = {0};
    *rc = store_eng_alias_rows(txn, e, name, resolve_row, &s);
    return s.count > 0;
}

store_lookup store_engine_index_resolve(store_rtxn *r, const char *name, bool write, store_index_meta *meta, buf *settings,
                                       buf *mappings)
{
    store_lookup rc = store_eng_index_load(r->txn, r->e, name, meta, settings, mappings);
    if (rc != STORE_LOOKUP_MISSING)
        return rc;
    char concrete[STORE_MAX_INDEX_NAME + 1];
    rc = store_eng_alias_resolve(r->txn, r->e, name, write, concrete, sizeof concrete);
    if (rc != STORE_LOOKUP_FOUND)
        return rc;
    return store_eng_index_load(r->txn, r->e, concrete, meta, settings, mappings);
}

bool store_engine_alias_each(store_rtxn *r,
                             bool (*fn)(const char *alias, const char *index, int is_write, const char *opts, void *arg),
                             void *arg)
{
    int rc = store_eng_alias_rows(r->txn, r->e, NULL, fn, arg);
    if (rc)
        mlog(rc, "list aliases");
    return rc == 0;
}

bool store_engine_index_each(store_rtxn *r, bool (*fn)(const store_index_meta *m, void *arg), void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(r->txn, r->e->dbi_indices, &cur);
    if (rc) {
        mlog(rc, "list indices");
        return false;
    }
    MDB_val k, v;
    bool ok = true;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char name[STORE_MAX_INDEX_NAME + 1];
        if (k.mv_size > STORE_MAX_INDEX_NAME)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        store_index_meta m;
        if (store_eng_index_load(r->txn, r->e, name, &m, NULL, NULL) != STORE_LOOKUP_FOUND) {
            ok = false;
            break;
        }
        if (!fn(&m, arg))
            break;
    }
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "list indices");
        ok = false;
    }
    mdb_cursor_close(cur);
    return ok;
}

store_lookup store_engine_doc_get(store_rtxn *r, const store_index_meta *meta, const char *id, size_t id_len,
                                 store_doc_view *out)
{
    unsigned char kb[KEY_MAX];
    memset(out, 0, sizeof *out);
    MDB_val k = {store_eng_doc_key(meta->number, id, id_len, kb), kb}, v;
    int rc = mdb_get(r->txn, r->e->dbi_docs, &k, &v);
    if (rc == MDB_NOTFOUND)
        return STORE_LOOKUP_MISSING;
    if (rc) {
        mlog(rc, "read document");
        return STORE_LOOKUP_FAILED;
    }
    bool raw_deleted;
    if (!store_eng_doc_decode(&v, id, id_len, meta, r->now_ms, &out->st, &raw_deleted, &out->src, &out->src_len)) {
        if (id_len > ID_INLINE_MAX) { /* another long id shares the key: this one is absent */
            memset(out, 0, sizeof *out);
            return STORE_LOOKUP_MISSING;
        }
        log_error("storage: document record in [%s] is damaged", meta->name);
        return STORE_LOOKUP_FAILED;
    }
    if (!out->st.exists) {
        memset(out, 0, sizeof *out);
        return STORE_LOOKUP_MISSING;
    }
    out->source_disabled = meta->source_disabled;
    return STORE_LOOKUP_FOUND;
}

bool store_engine_doc_scan(store_rtxn *r, const store_index_meta *meta, const char *after, size_t after_len, bool desc,
                           bool (*fn)(const char *id, size_t id_len, const store_doc_view *v, void *arg), void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(r->txn, r->e->dbi_docs, &cur);
    if (rc) {
        mlog(rc, "scan documents");
        return false;
    }
    unsigned char kb[KEY_MAX], prefix[4];
    be32(prefix, meta->number);
    MDB_val k, v;
    if (after) {
        k.mv_size = store_eng_doc_key(meta->number, after, after_len, kb);
        k.mv_data = kb;
    } else if (desc) {
        be32(kb, meta->number + 1); /* just past this index's keys */
        k.mv_size = 4;
        k.mv_data = kb;
    } else {
        k.mv_size = 4;
        k.mv_data = prefix;
    }
    MDB_val want = k;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (desc) {
        rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST) : mdb_cursor_get(cur, &k, &v, MDB_PREV);
    } else if (rc == 0 && after && k.mv_size == want.mv_size && memcmp(k.mv_data, want.mv_data, k.mv_size) == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    bool ok = true;
    while (rc == 0 && k.mv_size >= 4 && memcmp(k.mv_data, prefix, 4) == 0 && !store_deadline_poll()) {
        const unsigned char *p = v.mv_data;
        if (v.mv_size < DOC_HDR) {
            ok = false;
            log_error("storage: document record in [%s] is damaged", meta->name);
            break;
        }
        uint32_t flags = get_u32(p + 32), idl = get_u32(p + 36);
        if (!(flags & FLAG_DELETED)) {
            const char *id = (const char *)k.mv_data + 4;
            size_t id_len = k.mv_size - 4, off = DOC_HDR;
            if (flags & FLAG_LONG_ID) {
                id = (const char *)p + DOC_HDR;
                id_len = idl;
                off += idl;
            }
            store_doc_view dv = {{true, false, get_i64(p), get_i64(p + 8), get_i64(p + 16)}, (const char *)p + off,
                                 v.mv_size - off, meta->source_disabled};
            if (!fn(id, id_len, &dv, arg))
                break;
        }
        rc = mdb_cursor_get(cur, &k, &v, desc ? MDB_PREV : MDB_NEXT);
    }
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "scan documents");
        ok = false;
    }
    mdb_cursor_close(cur);
    return ok;
}
