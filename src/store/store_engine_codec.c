/* store_engine_codec — the record codec: document keys, index, counters and document records. */
#include "versync/store/store_engine_int.h"

#include "versync/store/store_settings.h"

/* ---- encoding ----------------------------------------------------------- */

uint64_t store_eng_hash64(const char *s, size_t n, uint64_t seed)
{
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

size_t store_eng_doc_key(uint32_t number, const char *id, size_t n, unsigned char *key)
{
    be32(key, number);
    if (n <= ID_INLINE_MAX) {
        memcpy(key + 4, id, n);
        return 4 + n;
    }
    memcpy(key + 4, id, ID_CUT);
    uint64_t a = store_eng_hash64(id, n, 0), b = store_eng_hash64(id, n, 0x9e3779b97f4a7c15ULL);
    memcpy(key + 4 + ID_CUT, &a, 8);
    memcpy(key + 4 + ID_CUT + 8, &b, 8);
    return KEY_MAX;
}

/* Index record: format, number, created, gc, uuid[22], settings, mappings. */
bool store_eng_index_decode(const MDB_val *v, store_index_meta *m, buf *settings, buf *mappings)
{
    const unsigned char *p = v->mv_data;
    size_t n = v->mv_size;
    if (n < 4 + 4 + 8 + 8 + 22 + 4)
        return false;
    m->number = get_u32(p + 4);
    m->created_ms = get_i64(p + 8);
    m->gc_deletes_ms = get_i64(p + 16);
    memcpy(m->uuid, p + 24, 22);
    m->uuid[22] = '\0';
    size_t off = 46;
    uint32_t sl = get_u32(p + off);
    off += 4;
    if (off + sl + 4 > n)
        return false;
    if (settings && sl && !buf_append(settings, p + off, sl))
        return false;
    m->replicas = store_settings_replicas((const char *)p + off, sl);
    off += sl;
    uint32_t ml = get_u32(p + off);
    off += 4;
    if (off + ml > n)
        return false;
    if (mappings && ml && !buf_append(mappings, p + off, ml))
        return false;
    m->source_disabled = store_settings_source_disabled((const char *)p + off, ml);
    return true;
}

bool store_eng_counters_decode(const MDB_val *v, store_index_meta *m)
{
    if (v->mv_size < 32)
        return false;
    const unsigned char *p = v->mv_data;
    m->next_seq = get_i64(p);
    m->docs_count = get_i64(p + 8);
    m->docs_deleted = get_i64(p + 16);
    m->store_bytes = get_i64(p + 24);
    return true;
}

/* Decode a document record into `st` (+ source); false when damaged or,
 * for a long id, when the record belongs to another id (hash collision). */
bool store_eng_doc_decode(const MDB_val *v, const char *id, size_t id_len, const store_index_meta *m, int64_t now_ms,
                          store_doc_state *st, bool *raw_deleted, const char **src, size_t *src_len)
{
    const unsigned char *p = v->mv_data;
    if (v->mv_size < DOC_HDR)
        return false;
    uint32_t flags = get_u32(p + 32), idl = get_u32(p + 36);
    size_t off = DOC_HDR;
    if (flags & FLAG_LONG_ID) {
        if (off + idl > v->mv_size || idl != id_len || memcmp(p + off, id, id_len) != 0)
            return false;
        off += idl;
    }
    st->version = get_i64(p);
    st->seq_no = get_i64(p + 8);
    st->term = get_i64(p + 16);
    int64_t deleted_at = get_i64(p + 24);
    st->deleted = (flags & FLAG_DELETED) != 0;
    *raw_deleted = st->deleted;
    st->exists = !st->deleted || store_version_tombstone_live(deleted_at, now_ms, m->gc_deletes_ms);
    *src = (const char *)p + off;
    *src_len = v->mv_size - off;
    return true;
}
