/* store_engine_exec — executing jobs in the writer's transaction: document ops, index administration, aliases, partial updates. */
#include "versync/store/store_engine_int.h"

#include "versync/common/grow.h"
#include "versync/store/store_settings.h"
#include "versync/store/store_util.h"

#include <stdio.h>
#include <errno.h>
#include <stdlib.h>

/* ---- merge -------------------------------------------------------------- */

bool store_engine_merge(cJSON *dst, const cJSON *src, bool *oom)
{
    bool changed = false;
    for (const cJSON *s = src ? src->child : NULL; s; s = s->next) {
        cJSON *d = cJSON_GetObjectItemCaseSensitive(dst, s->string);
        if (d && cJSON_IsObject(d) && cJSON_IsObject(s)) {
            changed |= store_engine_merge(d, s, oom);
            continue;
        }
        if (d && cJSON_Compare(d, s, true))
            continue;
        cJSON *copy = cJSON_Duplicate(s, true);
        if (!copy) {
            *oom = true;
            return changed;
        }
        if (d)
            cJSON_ReplaceItemViaPointer(dst, d, copy);
        else
            cJSON_AddItemToObject(dst, s->string, copy);
        changed = true;
    }
    return changed;
}

/* ---- executing jobs in the writer's transaction ----------------------------- */

void store_eng_wctx_free(wctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        store_mapping_free(&c->ents[i].map);
    free(c->ents);
    store_doc_index_free(&c->dnew);
    store_doc_index_free(&c->dold);
    buf_free(&c->reason);
    store_pbatch_free(c->pb);
    store_fbatch_free(c->fb);
}

bool store_eng_wctx_init(wctx *c, store_engine *e, MDB_txn *txn)
{
    *c = (wctx){.e = e, .txn = txn, .now_ms = store_util_now_ms(), .pb = store_pbatch_new(), .fb = store_fbatch_new()};
    return c->pb && c->fb;
}

int store_eng_batch_flush(wctx *c)
{
    int rc = store_pbatch_flush(c->pb, c->txn, &c->e->pdb);
    return rc ? rc
              : store_fbatch_flush(c->fb, c->txn, c->e->dbi_exists, c->e->dbi_fstats,
                                   c->e->dbi_vals[STORE_VLEVELS - 1]);
}

/* The mapping of index `ent` (loaded once per transaction). */
int store_eng_ent_mapping(wctx *c, cache_ent *ent, store_mapping **out)
{
    if (!ent->map_loaded) {
        buf mappings = BUF_INIT, settings = BUF_INIT;
        store_index_meta m;
        store_lookup rc = store_eng_index_load(c->txn, c->e, ent->m.name, &m, &settings, &mappings);
        if (rc != STORE_LOOKUP_FOUND) {
            buf_free(&mappings);
            buf_free(&settings);
            return EIO;
        }
        store_eng_mapping_build(ent->m.name, &settings, &mappings, &ent->map);
        buf_free(&mappings);
        buf_free(&settings);
        ent->map_loaded = true;
    }
    *out = &ent->map;
    return 0;
}

int store_eng_cache_get(wctx *c, const char *name, cache_ent **out)
{
    for (size_t i = c->n; i-- > 0;)
        if (strcmp(c->ents[i].m.name, name) == 0) {
            *out = &c->ents[i];
            return 0;
        }
    if (c->n == c->cap && !GROW_ARRAY(c->ents, c->cap, c->n + 1, 8))
        return ENOMEM;
    cache_ent *ent = &c->ents[c->n];
    memset(ent, 0, sizeof *ent);
    store_lookup rc = store_eng_index_load(c->txn, c->e, name, &ent->m, NULL, NULL);
    if (rc == STORE_LOOKUP_FAILED)
        return EIO;
    ent->exists = rc == STORE_LOOKUP_FOUND;
    if (!ent->exists)
        snprintf(ent->m.name, sizeof ent->m.name, "%s", name);
    c->n++;
    *out = ent;
    return 0;
}

static int index_write(wctx *c, const store_index_meta *m, const char *settings, size_t sl, const char *mappings,
                       size_t ml)
{
    size_t n = 46 + 4 + sl + 4 + ml;
    MDB_val k = {strlen(m->name), (void *)m->name}, v = {n, NULL};
    c->indices_written = true;
    int rc = mdb_put(c->txn, c->e->dbi_indices, &k, &v, MDB_RESERVE);
    if (rc)
        return rc;
    unsigned char *p = v.mv_data;
    put_u32(p, INDEX_FORMAT);
    put_u32(p + 4, m->number);
    put_i64(p + 8, m->created_ms);
    put_i64(p + 16, m->gc_deletes_ms);
    memcpy(p + 24, m->uuid, 22);
    put_u32(p + 46, (uint32_t)sl);
    if (sl)
        memcpy(p + 50, settings, sl);
    put_u32(p + 50 + sl, (uint32_t)ml);
    if (ml)
        memcpy(p + 54 + sl, mappings, ml);
    return 0;
}

static int index_create(wctx *c, cache_ent *ent, const char *settings, size_t sl, const char *mappings, size_t ml,
                        int64_t gc)
{
    MDB_val k = {17, "next_index_number"}, v;
    uint32_t number = 1;
    int rc = mdb_get(c->txn, c->e->dbi_meta, &k, &v);
    if (rc == 0 && v.mv_size == 4)
        number = get_u32(v.mv_data);
    else if (rc && rc != MDB_NOTFOUND)
        return rc;
    uint32_t next = number + 1;
    v.mv_size = 4;
    v.mv_data = &next;
    if ((rc = mdb_put(c->txn, c->e->dbi_meta, &k, &v, 0)))
        return rc;
    store_index_meta *m = &ent->m;
    m->number = number;
    store_util_uuid(m->uuid);
    m->created_ms = c->now_ms;
    m->gc_deletes_ms = gc == STORE_GC_UNSET ? STORE_GC_FOREVER : gc;
    m->replicas = store_settings_replicas(settings, sl);
    m->next_seq = m->docs_count = m->docs_deleted = m->store_bytes = 0;
    ent->exists = true;
    ent->dirty = true;
    return index_write(c, m, settings, sl, mappings, ml);
}

int store_eng_cache_flush(wctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        cache_ent *ent = &c->ents[i];
        if (ent->exists && ent->map_dirty) {
            buf settings = BUF_INIT, mappings = BUF_INIT;
            store_index_meta m;
            int rc = store_eng_index_load(c->txn, c->e, ent->m.name, &m, &settings, NULL) == STORE_LOOKUP_FOUND ? 0 : EIO;
            if (!rc && !store_mapping_print(&ent->map, &mappings))
                rc = ENOMEM;
            if (!rc)
                rc = index_write(c, &ent->m, settings.data, settings.len, mappings.data, mappings.len);
            buf_free(&settings);
            buf_free(&mappings);
            if (rc)
                return rc;
            ent->map_dirty = false;
        }
        if (!ent->exists || !ent->dirty)
            continue;
        unsigned char kb[4], vb[32];
        be32(kb, ent->m.number);
        put_i64(vb, ent->m.next_seq);
        put_i64(vb + 8, ent->m.docs_count);
        put_i64(vb + 16, ent->m.docs_deleted);
        put_i64(vb + 24, ent->m.store_bytes);
        MDB_val k = {4, kb}, v = {32, vb};
        int rc = mdb_put(c->txn, c->e->dbi_counters, &k, &v, 0);
        if (rc)
            return rc;
        ent->dirty = false;
    }
    return 0;
}

static bool op_autocreates(const store_op *op)
{
    switch (op->w.kind) {
    case STORE_OP_INDEX:
    case STORE_OP_CREATE: return true;
    case STORE_OP_DELETE: return op->w.vtype != STORE_VT_INTERNAL; /* out-of-order deletes leave a tombstone */
    case STORE_OP_UPDATE: return op->upd && (op->upd->upsert || (op->upd->doc_as_upsert && op->upd->doc));
    }
    return false;
}

void store_op_clear(store_op *op)
{
    free(op->new_src);
    free(op->reason);
    op->reason = NULL;
    free(op->cause);
    op->cause = NULL;
    op->reason_type = NULL;
    op->new_src = NULL;
    op->new_src_len = 0;
    op->err = STORE_OPERR_NONE;
    memset(&op->dec, 0, sizeof op->dec);
    op->version = op->seq_no = op->term = 0;
    op->uuid[0] = '\0';
}

static bool print_json(cJSON *j, char **out, size_t *len)
{
    char *s = cJSON_PrintUnformatted(j);
    if (!s)
        return false;
    *out = s;
    *len = strlen(s);
    return true;
}

/* Compute the new source of an update into op->new_src; sets op->err / a
 * noop result when nothing is to be written. Returns false when the op is
 * settled without a write. */
static bool update_source(store_op *op, const store_doc_state *st, const char *old, size_t old_len, int *rc)
{
    const store_update_spec *u = op->upd;
    if (op->dec.result == STORE_RES_CREATED) {
        cJSON *doc = u->upsert ? u->upsert : u->doc;
        if (u->doc_as_upsert && u->doc)
            doc = u->doc;
        if (!print_json(doc, &op->new_src, &op->new_src_len)) {
            *rc = ENOMEM;
            return false;
        }
        return true;
    }
    cJSON *cur = cJSON_ParseWithLength(old, old_len);
    if (!cur || !cJSON_IsObject(cur)) {
        cJSON_Delete(cur);
        op->err = STORE_OPERR_BAD_SOURCE;
        return false;
    }
    bool oom = false;
    bool changed = u->doc ? store_engine_merge(cur, u->doc, &oom) : false;
    if (oom) {
        cJSON_Delete(cur);
        *rc = ENOMEM;
        return false;
    }
    if (!changed && u->detect_noop) {
        cJSON_Delete(cur);
        if (u->fetch_source) { /* the response's get._source is the unchanged source */
            if (!(op->new_src = malloc(old_len ? old_len : 1))) {
                *rc = ENOMEM;
                return false;
            }
            memcpy(op->new_src, old, old_len);
            op->new_src_len = old_len;
        }
        op->dec.result = STORE_RES_NOOP;
        op->dec.status = 200;
        op->version = st->version;
        op->seq_no = st->seq_no;
        op->term = st->term;
        return false;
    }
    bool ok = print_json(cur, &op->new_src, &op->new_src_len);
    cJSON_Delete(cur);
    if (!ok)
        *rc = ENOMEM;
    return ok;
}

/* Op `i` of `job`. */
static int exec_op(wctx *c, const store_job *job, size_t i)
{
    store_op *op = &job->ops[i];
    cache_ent *ent;
    if (strlen(op->index) > STORE_MAX_INDEX_NAME) { /* never cut a name: such an index cannot exist */
        op->err = STORE_OPERR_INDEX_MISSING;
        return 0;
    }
    int rc = store_eng_cache_get(c, op->index, &ent);
    if (rc)
        return rc;
    if (ent->exists && op->require_alias) {
        op->err = STORE_OPERR_NOT_ALIAS;
        return 0;
    }
    if (!ent->exists) {
        char concrete[STORE_MAX_INDEX_NAME + 1];
        store_lookup ar = store_eng_alias_resolve(c->txn, c->e, op->index, true, concrete, sizeof concrete);
        if (ar == STORE_LOOKUP_FAILED)
            return EIO;
        if (ar == STORE_LOOKUP_MISSING && op->require_alias) {
            op->err = STORE_OPERR_NOT_ALIAS;
            return 0;
        }
        if (ar == STORE_LOOKUP_UNRESOLVED) {
            op->err = STORE_OPERR_NO_WRITE_INDEX;
            return 0;
        }
        if (ar == STORE_LOOKUP_FOUND) {
            memcpy(op->index_buf, concrete, sizeof concrete);
            op->index = op->index_buf;
            if ((rc = store_eng_cache_get(c, op->index, &ent)))
                return rc;
        }
    }
    if (!ent->exists) {
        if (!op_autocreates(op)) {
            op->err = STORE_OPERR_INDEX_MISSING;
            return 0;
        }
        if ((rc = index_create(c, ent, NULL, 0, NULL, 0, STORE_GC_UNSET)))
            return rc;
    }
    memcpy(op->uuid, ent->m.uuid, 23);
    op->shards_total = 1 + ent->m.replicas;
    unsigned char kb[KEY_MAX];
    MDB_val k = {store_eng_doc_key(ent->m.number, op->id, op->id_len, kb), kb}, v;
    store_doc_state st = {0};
    bool raw_live = false, raw_tomb = false;
    const char *old = NULL;
    size_t old_len = 0;
    rc = mdb_get(c->txn, c->e->dbi_docs, &k, &v);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0) {
        bool raw_deleted;
        if (!store_eng_doc_decode(&v, op->id, op->id_len, &ent->m, c->now_ms, &st, &raw_deleted, &old, &old_len)) {
            log_error("storage: document record in [%s] is damaged or its long id collides", ent->m.name);
            op->err = STORE_OPERR_ENGINE;
            return 0;
        }
        raw_live = !raw_deleted;
        raw_tomb = raw_deleted;
    }
    bool upsert_ok = op->upd && (op->upd->upsert || (op->upd->doc_as_upsert && op->upd->doc));
    store_version_decide(&op->w, &st, upsert_ok, &op->dec);
    if (op->dec.outcome == STORE_DEC_CONFLICT) {
        op->err = STORE_OPERR_CONFLICT;
        return 0;
    }
    if (op->dec.outcome == STORE_DEC_DOC_MISSING) {
        op->err = STORE_OPERR_DOC_MISSING;
        return 0;
    }
    const char *src = op->src;
    size_t src_len = op->src_len;
    if (op->w.kind == STORE_OP_UPDATE) {
        rc = 0;
        if (!update_source(op, &st, old, old_len, &rc))
            return rc;
        src = op->new_src;
        src_len = op->new_src_len;
    }
    bool tomb = op->w.kind == STORE_OP_DELETE;
    /* Check the new source against the mapping before anything is written,
     * and take the old document's entries while `old` (a pointer into the
     * map) is still valid. A source analysed before it reached the writer
     * was checked against this very mapping. */
    const store_doc_index *dnew = tomb || op->w.kind == STORE_OP_UPDATE ? NULL : store_eng_prepared(c, job, i, ent);
    store_mapping *map = NULL;
    if ((!dnew || raw_live) && (rc = store_eng_ent_mapping(c, ent, &map)))
        return rc;
    if (!tomb && !dnew) {
        dnew = &c->dnew;
        const char *etype = NULL;
        buf_reset(&c->reason);
        if (!store_index_doc(map, src, src_len, op->id, op->id_len, false, &c->dnew, &etype, &c->reason)) {
            op->err = STORE_OPERR_MAPPING;
            op->reason_type = etype;
            op->reason = strndup(c->reason.data ? c->reason.data : "", c->reason.len);
            if (c->dnew.cause.len && !(op->cause = strndup(c->dnew.cause.data, c->dnew.cause.len)))
                return ENOMEM;
            return op->reason ? 0 : ENOMEM;
        }
        if (c->dnew.mapping_changed)
            ent->map_dirty = true;
    }
    if (raw_live) {
        const char *etype = NULL;
        if (!store_index_doc(map, old, old_len, op->id, op->id_len, true, &c->dold, &etype, &c->reason))
            return ENOMEM;
        if ((rc = store_eng_search_apply(c, ent->m.number, st.seq_no, &c->dold, false)) ||
            (rc = store_eng_seq_put(c->txn, c->e, ent->m.number, st.seq_no, NULL, 0)))
            return rc;
    }
    bool long_id = op->id_len > ID_INLINE_MAX;
    size_t vlen = DOC_HDR + (long_id ? op->id_len : 0) + (tomb ? 0 : src_len);
    int64_t seq = ent->m.next_seq;
    v.mv_size = vlen;
    v.mv_data = NULL;
    if ((rc = mdb_put(c->txn, c->e->dbi_docs, &k, &v, MDB_RESERVE)))
        return rc;
    unsigned char *p = v.mv_data;
    put_i64(p, op->dec.new_version);
    put_i64(p + 8, seq);
    put_i64(p + 16, 1);
    put_i64(p + 24, tomb ? c->now_ms : 0);
    put_u32(p + 32, (tomb ? FLAG_DELETED : 0) | (long_id ? FLAG_LONG_ID : 0));
    put_u32(p + 36, long_id ? (uint32_t)op->id_len : 0);
    size_t off = DOC_HDR;
    if (long_id) {
        memcpy(p + off, op->id, op->id_len);
        off += op->id_len;
    }
    if (!tomb && src_len)
        memcpy(p + off, src, src_len);
    if (!tomb && ((rc = store_eng_search_apply(c, ent->m.number, seq, dnew, true)) ||
                  (rc = store_eng_seq_put(c->txn, c->e, ent->m.number, seq, op->id, op->id_len))))
        return rc;
    ent->m.next_seq = seq + 1;
    ent->m.docs_count += (tomb ? 0 : 1) - (raw_live ? 1 : 0);
    ent->m.docs_deleted += (tomb ? 1 : 0) - (raw_tomb ? 1 : 0);
    ent->m.store_bytes += (int64_t)(tomb ? 0 : src_len) - (int64_t)(raw_live ? old_len : 0);
    ent->dirty = true;
    op->version = op->dec.new_version;
    op->seq_no = seq;
    op->term = 1;
    return 0;
}

typedef struct rowlist {
    char (*keys)[2 * (STORE_MAX_INDEX_NAME + 1)];
    size_t n, cap;
    const char *index; /* only rows of this index */
    bool oom;
} rowlist;

static bool collect_row(const char *alias, const char *index, int w, const char *opts, void *arg)
{
    (void)w, (void)opts;
    rowlist *l = arg;
    if (l->index && strcmp(index, l->index) != 0)
        return true;
    if (l->n == l->cap && !GROW_ARRAY(l->keys, l->cap, l->n + 1, 8)) {
        l->oom = true;
        return false;
    }
    size_t al = strlen(alias), il = strlen(index);
    memcpy(l->keys[l->n], alias, al + 1);
    memcpy(l->keys[l->n] + al + 1, index, il + 1);
    l->n++;
    return true;
}

/* Delete index `ent`: its documents, records and aliases. */
static int index_drop(wctx *c, cache_ent *ent)
{
    MDB_val k = {strlen(ent->m.name), ent->m.name};
    unsigned char kb[4];
    be32(kb, ent->m.number);
    MDB_val ck = {4, kb};
    int rc;
    /* postings queued for the index go in first, then out with the rest */
    if ((rc = store_eng_batch_flush(c)) ||
        (rc = store_postings_drop_prefix(c->txn, &c->e->pdb, kb, 4)))
        return rc;
    MDB_dbi dbis[] = {c->e->dbi_docs, c->e->dbi_seqs, c->e->dbi_fstats, c->e->dbi_longvals};
    for (size_t i = 0; i < sizeof dbis / sizeof *dbis; i++)
        if ((rc = store_eng_delete_prefix(c->txn, dbis[i], ent->m.number, false)))
            return rc;
    for (int l = 0; l < STORE_VLEVELS; l++) /* the DUPSORT ones */
        if ((rc = store_eng_delete_prefix(c->txn, c->e->dbi_vals[l], ent->m.number, true)))
            return rc;
    if ((rc = store_eng_delete_prefix(c->txn, c->e->dbi_exists, ent->m.number, true)))
        return rc;
    c->indices_written = true;
    if ((rc = mdb_del(c->txn, c->e->dbi_indices, &k, NULL)))
        return rc;
    rc = mdb_del(c->txn, c->e->dbi_counters, &ck, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    /* Aliases are few: a full scan beats an index-to-alias table to keep in step. */
    rowlist l = {.index = ent->m.name};
    rc = store_eng_alias_rows(c->txn, c->e, NULL, collect_row, &l);
    if (!rc && l.oom)
        rc = ENOMEM;
    for (size_t i = 0; !rc && i < l.n; i++) {
        size_t al = strlen(l.keys[i]);
        MDB_val ak = {al + 1 + strlen(l.keys[i] + al + 1), l.keys[i]};
        rc = mdb_del(c->txn, c->e->dbi_aliases, &ak, NULL);
    }
    free(l.keys);
    if (rc)
        return rc;
    ent->exists = false;
    ent->dirty = false;
    return 0;
}

static int alias_put(MDB_txn *txn, store_engine *e, const char *alias, const char *index, int w, const char *opts,
                     bool del)
{
    char key[2 * (STORE_MAX_INDEX_NAME + 1)];
    size_t al = strlen(alias), il = strlen(index);
    memcpy(key, alias, al + 1);
    memcpy(key + al + 1, index, il);
    MDB_val k = {al + 1 + il, key};
    if (del)
        return mdb_del(txn, e->dbi_aliases, &k, NULL);
    size_t on = opts ? strlen(opts) : 0;
    MDB_val v = {1 + on, NULL};
    /* MDB_RESERVE: the value is written in place, no copy of the options */
    int rc = mdb_put(txn, e->dbi_aliases, &k, &v, MDB_RESERVE);
    if (rc)
        return rc;
    ((unsigned char *)v.mv_data)[0] = (unsigned char)(w + 1);
    if (on)
        memcpy((unsigned char *)v.mv_data + 1, opts, on);
    return 0;
}

static bool index_exists(wctx *c, const char *name, int *rc)
{
    *rc = 0;
    size_t n = strlen(name);
    if (n == 0 || n > STORE_MAX_INDEX_NAME)
        return false;
    MDB_val k = {n, (void *)name}, v;
    int r = mdb_get(c->txn, c->e->dbi_indices, &k, &v);
    if (r && r != MDB_NOTFOUND)
        *rc = r;
    return r == 0;
}

static bool removed_later(const store_job *job, const char *name)
{
    for (size_t i = 0; i < job->nactions; i++)
        if (job->actions[i].act == STORE_ALIAS_REMOVE_INDEX && strcmp(job->actions[i].index, name) == 0)
            return true;
    return false;
}

/* Apply alias actions all or none: every action is checked before anything
 * is written, alias rows go through a child transaction that is dropped when
 * the write-index rule breaks, index removals come last (they only remove). */
static int exec_aliases(wctx *c, store_job *job)
{
    int rc = 0;
    job->rc = STORE_JOB_OK;
    job->alias_err = STORE_ALIASERR_NONE;
    for (size_t i = 0; i < job->nactions; i++) {
        const store_alias_action *a = &job->actions[i];
        store_alias_err err = STORE_ALIASERR_NONE;
        if (!index_exists(c, a->index, &rc))
            err = STORE_ALIASERR_INDEX_MISSING;
        else if (a->act == STORE_ALIAS_ADD && (index_exists(c, a->alias, &rc) || rc) && !removed_later(job, a->alias))
            err = STORE_ALIASERR_NAME_IS_INDEX;
        else if (a->act == STORE_ALIAS_REMOVE && !rc) {
            rowlist l = {.index = a->index};
            rc = store_eng_alias_rows(c->txn, c->e, a->alias, collect_row, &l);
            if (!rc && l.n == 0 && !a->missing_ok)
                err = STORE_ALIASERR_ALIAS_MISSING;
            if (!rc && l.oom)
                rc = ENOMEM;
            free(l.keys);
        }
        if (rc)
            return rc;
        if (err) {
            job->rc = STORE_JOB_REFUSED;
            job->alias_err = err;
            job->alias_err_at = i;
            return 0;
        }
    }
    MDB_txn *child;
    if ((rc = mdb_txn_begin(c->e->env, c->txn, 0, &child)))
        return rc;
    for (size_t i = 0; !rc && i < job->nactions; i++) {
        const store_alias_action *a = &job->actions[i];
        if (a->act == STORE_ALIAS_ADD)
            rc = alias_put(child, c->e, a->alias, a->index, a->is_write, a->opts, false);
        else if (a->act == STORE_ALIAS_REMOVE) {
            rc = alias_put(child, c->e, a->alias, a->index, 0, NULL, true);
            if (rc == MDB_NOTFOUND) /* removed twice in one request */
                rc = 0;
        }
    }
    for (size_t i = 0; !rc && i < job->nactions; i++) {
        const store_alias_action *a = &job->actions[i];
        if (a->act != STORE_ALIAS_ADD)
            continue;
        rowlist l = {0};
        rc = store_eng_alias_rows(child, c->e, a->alias, collect_row, &l);
        int writers = 0;
        size_t hidden = 0, hl = strlen("{\"is_hidden\":true");
        for (size_t j = 0; !rc && j < l.n; j++) {
            size_t al = strlen(l.keys[j]);
            MDB_val k = {al + 1 + strlen(l.keys[j] + al + 1), l.keys[j]}, v;
            if (mdb_get(child, c->e->dbi_aliases, &k, &v) != 0 || !v.mv_size)
                continue;
            writers += ((unsigned char *)v.mv_data)[0] == 2;
            /* store_aliasopt writes is_hidden first, so a prefix tells */
            hidden += v.mv_size > hl && memcmp((char *)v.mv_data + 1, "{\"is_hidden\":true", hl) == 0;
        }
        free(l.keys);
        if (!rc && (writers > 1 || (hidden && hidden != l.n))) {
            mdb_txn_abort(child);
            job->rc = STORE_JOB_REFUSED;
            job->alias_err = writers > 1 ? STORE_ALIASERR_MANY_WRITE : STORE_ALIASERR_HIDDEN_MIXED;
            job->alias_err_at = i;
            return 0;
        }
    }
    if (rc) {
        mdb_txn_abort(child);
        return rc;
    }
    if ((rc = mdb_txn_commit(child)))
        return rc;
    for (size_t i = 0; i < job->nactions; i++) {
        const store_alias_action *a = &job->actions[i];
        if (a->act != STORE_ALIAS_REMOVE_INDEX)
            continue;
        cache_ent *ent;
        if ((rc = store_eng_cache_get(c, a->index, &ent)))
            return rc;
        if (ent->exists && (rc = index_drop(c, ent)))
            return rc;
    }
    return 0;
}

/* Whether the ADD actions of a CREATE_INDEX job can all be applied to the new
 * index `index`: no alias named as an index (or as the new one), no second
 * write index, one is_hidden for all the alias's indices. Sets job->alias_err
 * and alias_err_at on a refusal. Returns 0 or an LMDB error. */
static int create_aliases_check(wctx *c, store_job *job, const char *index)
{
    int rc = 0;
    size_t hl = strlen("{\"is_hidden\":true");
    for (size_t i = 0; !rc && i < job->nactions; i++) {
        const store_alias_action *a = &job->actions[i];
        bool hidden = a->opts && strncmp(a->opts, "{\"is_hidden\":true", hl) == 0;
        store_alias_err err = STORE_ALIASERR_NONE;
        if (strcmp(a->alias, index) == 0 || index_exists(c, a->alias, &rc))
            err = STORE_ALIASERR_NAME_IS_INDEX;
        rowlist l = {0};
        if (!rc && !err)
            rc = store_eng_alias_rows(c->txn, c->e, a->alias, collect_row, &l);
        if (!rc && l.oom)
            rc = ENOMEM;
        for (size_t j = 0; !rc && !err && j < l.n; j++) {
            size_t al = strlen(l.keys[j]);
            MDB_val k = {al + 1 + strlen(l.keys[j] + al + 1), l.keys[j]}, v;
            if (mdb_get(c->txn, c->e->dbi_aliases, &k, &v) != 0 || !v.mv_size)
                continue;
            if (a->is_write == 1 && ((unsigned char *)v.mv_data)[0] == 2)
                err = STORE_ALIASERR_MANY_WRITE;
            else if (hidden != (v.mv_size > hl && memcmp((char *)v.mv_data + 1, "{\"is_hidden\":true", hl) == 0))
                err = STORE_ALIASERR_HIDDEN_MIXED;
        }
        free(l.keys);
        if (!rc && err) {
            job->alias_err = err;
            job->alias_err_at = i;
        }
        if (err)
            break;
    }
    return rc;
}

static int exec_admin_one(wctx *c, store_job *job)
{
    cache_ent *ent;
    if (strlen(job->index) > STORE_MAX_INDEX_NAME) {
        memset(&job->meta, 0, sizeof job->meta);
        job->rc = job->kind == STORE_JOB_CREATE_INDEX ? STORE_JOB_FAILED : STORE_JOB_MISSING;
        return 0;
    }
    int rc = store_eng_cache_get(c, job->index, &ent);
    if (rc)
        return rc;
    switch (job->kind) {
    case STORE_JOB_CREATE_INDEX:
        if (ent->exists) {
            job->rc = STORE_JOB_EXISTS;
        } else if (store_eng_alias_exists(c->txn, c->e, job->index, &rc) || rc) {
            memset(&job->meta, 0, sizeof job->meta);
            snprintf(job->meta.name, sizeof job->meta.name, "%s", job->index);
            job->rc = STORE_JOB_NAME_IS_ALIAS;
            return rc;
        } else {
            /* Refuse a mapping verstore cannot apply, and store it in the
             * form the writer later rewrites it in (legacy type unwrapped). */
            store_mapping map;
            buf text = BUF_INIT;
            if (!store_mapping_parse(job->mappings, job->mappings ? job->mappings_len : 0, &map, job->reason,
                                     sizeof job->reason)) {
                job->rc = STORE_JOB_BAD_MAPPING;
                break;
            }
            store_mapping_limits_from_settings(&map, job->settings, job->settings ? job->settings_len : 0);
            if (!store_mapping_check_limits(NULL, &map, job->reason, sizeof job->reason)) {
                store_mapping_free(&map);
                job->rc = STORE_JOB_BAD_MAPPING;
                break;
            }
            /* The analyzers a mapping names must exist in the new index's
             * settings (which the API checked) or be built-in. */
            store_mapping_set_analysis(&map, job->settings, job->settings ? job->settings_len : 0, job->reason,
                                       sizeof job->reason);
            if (!store_mapping_check_analysis(&map, job->reason, sizeof job->reason)) {
                store_mapping_free(&map);
                job->rc = STORE_JOB_BAD_MAPPING;
                break;
            }
            if (!store_mapping_print(&map, &text))
                rc = ENOMEM;
            store_mapping_free(&map);
            job->alias_err = STORE_ALIASERR_NONE;
            if (!rc && job->nactions)
                rc = create_aliases_check(c, job, job->index);
            if (!rc && job->alias_err) {
                buf_free(&text);
                job->rc = STORE_JOB_ALIAS_REFUSED;
                break;
            }
            if (!rc)
                rc = index_create(c, ent, job->settings, job->settings_len, job->mappings ? text.data : NULL,
                                  job->mappings ? text.len : 0, job->gc_deletes_ms);
            for (size_t i = 0; !rc && i < job->nactions; i++)
                rc = alias_put(c->txn, c->e, job->actions[i].alias, job->index, job->actions[i].is_write,
                               job->actions[i].opts, false);
            buf_free(&text);
            job->rc = STORE_JOB_OK;
        }
        break;
    case STORE_JOB_PUT_MAPPING: {
        if (!ent->exists) {
            char concrete[STORE_MAX_INDEX_NAME + 1];
            store_lookup ar = store_eng_alias_resolve(c->txn, c->e, job->index, true, concrete, sizeof concrete);
            if (ar == STORE_LOOKUP_FAILED)
                return EIO;
            if (ar != STORE_LOOKUP_FOUND || (rc = store_eng_cache_get(c, concrete, &ent)) || !ent->exists) {
                job->rc = STORE_JOB_MISSING;
                return rc;
            }
        }
        store_mapping *map;
        cJSON *add = job->mappings ? cJSON_ParseWithLength(job->mappings, job->mappings_len) : NULL;
        if ((rc = store_eng_ent_mapping(c, ent, &map))) {
            cJSON_Delete(add);
            return rc;
        }
        if (!add || !store_mapping_merge(map, add, job->reason, sizeof job->reason)) {
            if (!add)
                snprintf(job->reason, sizeof job->reason, "mappings must be a JSON object");
            job->rc = STORE_JOB_BAD_MAPPING;
        } else {
            ent->map_dirty = true;
            job->rc = STORE_JOB_OK;
        }
        cJSON_Delete(add);
        break;
    }
    case STORE_JOB_DELETE_INDEX:
        if (!ent->exists) {
            job->rc = STORE_JOB_MISSING;
            break;
        }
        job->meta = ent->m;
        job->rc = STORE_JOB_OK;
        return index_drop(c, ent);
    case STORE_JOB_PUT_SETTINGS: {
        if (!ent->exists) {
            job->rc = STORE_JOB_MISSING;
            break;
        }
        /* Analysis is fixed at creation, as in Elasticsearch (an index is
         * never closed here): reindex into a new index to change it. */
        cJSON *set = job->settings ? cJSON_ParseWithLength(job->settings, job->settings_len) : NULL;
        char key[256];
        bool touched = analysis_settings_touched(set, key, sizeof key);
        cJSON_Delete(set);
        if (touched) {
            snprintf(job->reason, sizeof job->reason, "Can't update non dynamic settings [[%.150s]] for open indices [[%.255s/%.22s]]",
                     key, ent->m.name, ent->m.uuid);
            job->rc = STORE_JOB_BAD_MAPPING;
            break;
        }
        buf settings = BUF_INIT, mappings = BUF_INIT;
        store_index_meta m;
        if (store_eng_index_load(c->txn, c->e, job->index, &m, &settings, &mappings) != STORE_LOOKUP_FOUND) {
            buf_free(&settings);
            buf_free(&mappings);
            return EIO;
        }
        cJSON *old = settings.len ? cJSON_ParseWithLength(settings.data, settings.len) : cJSON_CreateObject();
        cJSON *add = job->settings ? cJSON_ParseWithLength(job->settings, job->settings_len) : NULL;
        char *merged = NULL;
        bool oom = false;
        if (old && add && cJSON_IsObject(old)) {
            store_engine_merge(old, add, &oom);
            merged = oom ? NULL : cJSON_PrintUnformatted(old);
        }
        if (job->gc_deletes_ms != STORE_GC_UNSET)
            ent->m.gc_deletes_ms = job->gc_deletes_ms;
        if (merged)
            ent->m.replicas = store_settings_replicas(merged, strlen(merged));
        if (merged && ent->map_loaded) /* the limits may have changed */
            store_mapping_limits_from_settings(&ent->map, merged, strlen(merged));
        if (merged)
            rc = index_write(c, &ent->m, merged, strlen(merged), mappings.data, mappings.len);
        else
            rc = index_write(c, &ent->m, settings.data, settings.len, mappings.data, mappings.len);
        free(merged);
        cJSON_Delete(old);
        cJSON_Delete(add);
        buf_free(&settings);
        buf_free(&mappings);
        job->rc = STORE_JOB_OK;
        break;
    }
    default: break;
    }
    job->meta = ent->m;
    return rc;
}

/* Would `job`'s mapping merge into index `name`? Tried on a copy of its
 * mapping (limits and analysis as the index has them), so that a conflict
 * found in a later index of the list leaves the earlier ones unchanged. */
static int merge_check(wctx *c, store_job *job, const char *name)
{
    cache_ent *ent;
    store_mapping *map, copy;
    buf text = BUF_INIT, settings = BUF_INIT, mappings = BUF_INIT;
    store_index_meta m;
    cJSON *add = NULL;
    char why[256];
    int rc = store_eng_cache_get(c, name, &ent);
    if (rc)
        goto done;
    if (!ent->exists) {
        job->rc = STORE_JOB_MISSING;
        goto done;
    }
    if ((rc = store_eng_ent_mapping(c, ent, &map)))
        goto done;
    if (!store_mapping_print(map, &text)) {
        rc = ENOMEM;
        goto done;
    }
    if (store_eng_index_load(c->txn, c->e, name, &m, &settings, &mappings) != STORE_LOOKUP_FOUND ||
        !store_mapping_parse(text.data, text.len, &copy, why, sizeof why)) {
        rc = EIO;
        goto done;
    }
    store_mapping_limits_from_settings(&copy, settings.data, settings.len);
    store_mapping_set_analysis(&copy, settings.data, settings.len, why, sizeof why);
    add = job->mappings ? cJSON_ParseWithLength(job->mappings, job->mappings_len) : NULL;
    if (!add || !store_mapping_merge(&copy, add, job->reason, sizeof job->reason)) {
        if (!add)
            snprintf(job->reason, sizeof job->reason, "mappings must be a JSON object");
        job->rc = STORE_JOB_BAD_MAPPING;
    }
    store_mapping_free(&copy);
done:
    cJSON_Delete(add);
    buf_free(&text);
    buf_free(&settings);
    buf_free(&mappings);
    return rc;
}

/* PUT _mapping/_settings on an expression resolved to several indices: all
 * or none, as Elasticsearch applies them in one cluster state update. A
 * settings change is refused (non-dynamic analysis) before any index
 * changes; a mapping is tried on every index before it is applied to any. */
static int exec_admin(wctx *c, store_job *job)
{
    if (!job->names || (job->kind != STORE_JOB_PUT_MAPPING && job->kind != STORE_JOB_PUT_SETTINGS))
        return exec_admin_one(c, job);
    const char *expr = job->index;
    int rc = 0;
    memset(&job->meta, 0, sizeof job->meta);
    for (size_t i = 0; job->kind == STORE_JOB_PUT_MAPPING && i < job->nnames; i++)
        if ((rc = merge_check(c, job, job->names[i])) || job->rc != STORE_JOB_OK)
            return rc;
    for (size_t i = 0; i < job->nnames; i++) {
        job->index = job->names[i];
        if ((rc = exec_admin_one(c, job)) || job->rc != STORE_JOB_OK)
            break;
    }
    job->index = expr;
    return rc;
}

int store_eng_exec_job(wctx *c, store_job *job)
{
    job->rc = STORE_JOB_OK;
    job->reason[0] = '\0';
    job->disk_full = false;
    if (job->kind == STORE_JOB_ALIASES)
        return exec_aliases(c, job);
    if (job->kind != STORE_JOB_DOCS)
        return exec_admin(c, job);
    for (size_t i = 0; i < job->nops; i++) {
        store_op_clear(&job->ops[i]);
        int rc = exec_op(c, job, i);
        if (rc)
            return rc;
    }
    return 0;
}
