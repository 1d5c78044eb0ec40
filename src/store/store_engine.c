/* store_engine — verstore's durable engine: LMDB records and one group-committing writer thread. */
#include "versync/store_engine.h"

#include "versync/store_deadline.h"

#include "versync/grow.h"
#include "versync/log.h"
#include "versync/store_index.h"
#include "versync/store_metrics.h"
#include "versync/store_postings.h"
#include "versync/store_settings.h"
#include "versync/store_util.h"

#include <errno.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

struct store_engine {
    MDB_env *env;
    MDB_dbi dbi_meta, dbi_indices, dbi_counters, dbi_docs, dbi_aliases;
    /* Search structures (see store_engine.h): postings, exact values, field
     * presence, seq → id, and per-field statistics. */
    store_postings_dbs pdb; /* text postings: term dictionary and blocks (store_postings.h) */
    MDB_dbi dbi_vals, dbi_exists, dbi_seqs, dbi_fstats;
    MDB_dbi dbi_longvals; /* cut exact-value key → the whole value (see vkey) */
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
};

struct store_rtxn {
    store_engine *e;
    MDB_txn *txn;
    int64_t now_ms;
};

/* ---- encoding ----------------------------------------------------------- */

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_i64(unsigned char *p, int64_t v) { memcpy(p, &v, 8); }
static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static int64_t get_i64(const unsigned char *p)
{
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

static void be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8),
    p[3] = (unsigned char)v;
}

static uint64_t hash64(const char *s, size_t n, uint64_t seed)
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

static size_t doc_key(uint32_t number, const char *id, size_t n, unsigned char *key)
{
    be32(key, number);
    if (n <= ID_INLINE_MAX) {
        memcpy(key + 4, id, n);
        return 4 + n;
    }
    memcpy(key + 4, id, ID_CUT);
    uint64_t a = hash64(id, n, 0), b = hash64(id, n, 0x9e3779b97f4a7c15ULL);
    memcpy(key + 4 + ID_CUT, &a, 8);
    memcpy(key + 4 + ID_CUT + 8, &b, 8);
    return KEY_MAX;
}

/* Index record: format, number, created, gc, uuid[22], settings, mappings. */
static bool index_decode(const MDB_val *v, store_index_meta *m, buf *settings, buf *mappings)
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

static bool counters_decode(const MDB_val *v, store_index_meta *m)
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

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void mlog(int rc, const char *what)
{
    log_error("storage: %s: %s", what, mdb_strerror(rc));
}

/* ---- open/close --------------------------------------------------------- */

static void *writer_main(void *arg);
static void *syncer_main(void *arg);
static int search_upgrade(store_engine *e, MDB_txn *txn);

/* LMDB has no page checksums, and it maps whatever file it finds: an existing
 * but empty data.mdb is silently re-initialised as a new store, and a data
 * file cut short is mapped anyway and the process dies of SIGBUS on the first
 * read past the end. So before opening, an existing data.mdb must hold at
 * least its two meta pages. */
static bool precheck_data_file(const char *dir, char *err, size_t errsz)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    if (stat(path, &st) != 0)
        return true; /* a new store */
    if (S_ISREG(st.st_mode) && st.st_size < 2 * 4096) {
        snprintf(err, errsz,
                 "the data file %s is corrupt: %lld bytes, too short to hold LMDB's meta pages "
                 "(truncated?); restore it from a backup, or remove it to start an empty store",
                 path, (long long)st.st_size);
        return false;
    }
    return true;
}

/* Cheap checks after mdb_env_open (which itself refuses bad meta pages with
 * MDB_INVALID / MDB_VERSION_MISMATCH): the file must reach the last page the
 * newest meta page says is in use, and the small catalogue databases (meta,
 * indices, counters, aliases) are read end to end. Not detected here: garbage
 * inside document pages (LMDB keeps no checksums); reading such a page later
 * fails that request with MDB_CORRUPTED or returns the damaged bytes. The cost
 * is one fstat and a walk of the catalogue, independent of the number of
 * documents. */
static bool check_data_file(store_engine *e, MDB_txn *txn, char *err, size_t errsz)
{
    MDB_envinfo info;
    MDB_stat ms;
    struct stat st;
    int fd = -1, rc;
    if ((rc = mdb_env_info(e->env, &info)) || (rc = mdb_env_stat(e->env, &ms)) || (rc = mdb_env_get_fd(e->env, &fd))) {
        snprintf(err, errsz, "cannot inspect the data file %s/data.mdb: %s", e->dir, mdb_strerror(rc));
        return false;
    }
    if (fstat(fd, &st) != 0) {
        snprintf(err, errsz, "cannot stat the data file %s/data.mdb: %s", e->dir, strerror(errno));
        return false;
    }
    long long need = ((long long)info.me_last_pgno + 1) * (long long)ms.ms_psize;
    if ((long long)st.st_size < need) {
        snprintf(err, errsz,
                 "the data file %s/data.mdb is corrupt: %lld bytes, but its pages in use reach %lld bytes "
                 "(truncated?); restore it from a backup",
                 e->dir, (long long)st.st_size, need);
        return false;
    }
    MDB_dbi dbis[] = {e->dbi_meta, e->dbi_indices, e->dbi_counters, e->dbi_aliases};
    const char *names[] = {"meta", "indices", "counters", "aliases"};
    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        MDB_cursor *c = NULL;
        MDB_val k, v;
        if ((rc = mdb_cursor_open(txn, dbis[i], &c)) == 0) {
            while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
                ;
            mdb_cursor_close(c);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        if (rc == 0)
            rc = mdb_stat(txn, e->dbi_docs, &ms);
        if (rc) {
            snprintf(err, errsz, "the data file %s/data.mdb is corrupt: reading its %s database: %s", e->dir,
                     names[i], mdb_strerror(rc));
            return false;
        }
    }
    return true;
}

bool store_engine_open(const store_engine_opts *o, store_engine **out, char *err, size_t errsz)
{
    *out = NULL;
    store_engine *e = calloc(1, sizeof *e);
    MDB_txn *txn = NULL;
    int rc;
    if (!e) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    snprintf(e->dir, sizeof e->dir, "%s", o->dir);
    e->durable = o->durable;
    e->map_size = o->map_size ? o->map_size : (size_t)64 << 30;
    if (sizeof(size_t) < 8 && !o->map_size)
        e->map_size = (size_t)1 << 30;
    e->max_size = o->max_size;
    e->flood = o->flood_stage;
    if (e->max_size && e->map_size > e->max_size)
        e->map_size = e->max_size;
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&e->resize_lock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&e->qlock, NULL);
    pthread_cond_init(&e->qcond, NULL);
    pthread_mutex_init(&e->slock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->scond, &ca);
    pthread_condattr_destroy(&ca);

    if ((rc = mdb_env_create(&e->env))) {
        snprintf(err, errsz, "cannot create LMDB environment: %s", mdb_strerror(rc));
        goto fail;
    }
    mdb_env_set_maxdbs(e->env, 16);
    mdb_env_set_maxreaders(e->env, (unsigned)(o->max_readers > 126 ? o->max_readers : 126));
    mdb_env_set_mapsize(e->env, e->map_size);
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | (e->durable ? 0 : MDB_NOSYNC);
    if (!precheck_data_file(o->dir, err, errsz))
        goto fail;
    if ((rc = mdb_env_open(e->env, o->dir, flags, 0644))) {
        if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_VERSION_MISMATCH)
            snprintf(err, errsz, "the data file %s/data.mdb is corrupt or not a verstore data file: %s", o->dir,
                     mdb_strerror(rc));
        else
            snprintf(err, errsz, "cannot open the data directory %s: %s", o->dir, mdb_strerror(rc));
        goto fail;
    }
    e->env_opened = true;
    char lockfile[sizeof e->dir + 16];
    snprintf(lockfile, sizeof lockfile, "%s/lock.mdb", o->dir);
    if (!store_disk_preallocate(lockfile))
        log_warn("cannot allocate %s ahead (%s): a full disk could then stop verstore", lockfile, strerror(errno));
    MDB_envinfo info;
    if (mdb_env_info(e->env, &info) == 0 && info.me_mapsize > e->map_size)
        e->map_size = info.me_mapsize;
    int dead = 0;
    mdb_reader_check(e->env, &dead); /* slots left by a killed process would pin old pages */
    if (dead)
        log_info("cleared %d stale reader slot(s) left by an earlier process", dead);
    if ((rc = mdb_txn_begin(e->env, NULL, 0, &txn)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &e->dbi_meta)) ||
        (rc = mdb_dbi_open(txn, "indices", MDB_CREATE, &e->dbi_indices)) ||
        (rc = mdb_dbi_open(txn, "counters", MDB_CREATE, &e->dbi_counters)) ||
        (rc = mdb_dbi_open(txn, "docs", MDB_CREATE, &e->dbi_docs)) ||
        (rc = mdb_dbi_open(txn, "aliases", MDB_CREATE, &e->dbi_aliases)) ||
        (rc = mdb_dbi_open(txn, "terms", MDB_CREATE, &e->pdb.terms)) ||
        (rc = mdb_dbi_open(txn, "pblocks", MDB_CREATE, &e->pdb.blocks)) ||
        (rc = mdb_dbi_open(txn, "values", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &e->dbi_vals)) ||
        (rc = mdb_dbi_open(txn, "exists", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &e->dbi_exists)) ||
        (rc = mdb_dbi_open(txn, "seqs", MDB_CREATE, &e->dbi_seqs)) ||
        (rc = mdb_dbi_open(txn, "fieldstats", MDB_CREATE, &e->dbi_fstats)) ||
        (rc = mdb_dbi_open(txn, "longvalues", MDB_CREATE, &e->dbi_longvals))) {
        snprintf(err, errsz, "cannot open the databases in %s/data.mdb: %s", o->dir, mdb_strerror(rc));
        goto fail;
    }
    if (!check_data_file(e, txn, err, errsz))
        goto fail;
    if ((rc = search_upgrade(e, txn))) {
        snprintf(err, errsz, "cannot build the search structures in %s/data.mdb: %s", o->dir, mdb_strerror(rc));
        goto fail;
    }
    MDB_val k = {12, "cluster_uuid"}, v;
    rc = mdb_get(txn, e->dbi_meta, &k, &v);
    if (rc == 0 && v.mv_size == 22) {
        memcpy(e->cluster_uuid, v.mv_data, 22);
    } else {
        store_util_uuid(e->cluster_uuid);
        v.mv_size = 22;
        v.mv_data = e->cluster_uuid;
        if ((rc = mdb_put(txn, e->dbi_meta, &k, &v, 0))) {
            snprintf(err, errsz, "cannot initialise %s: %s", o->dir, mdb_strerror(rc));
            goto fail;
        }
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc) {
        snprintf(err, errsz, "cannot initialise %s: %s", o->dir, mdb_strerror(rc));
        goto fail;
    }
    if (pthread_create(&e->writer, NULL, writer_main, e)) {
        snprintf(err, errsz, "cannot start the writer thread");
        goto fail;
    }
    e->writer_started = true;
    if (!e->durable) {
        if (pthread_create(&e->syncer, NULL, syncer_main, e)) {
            snprintf(err, errsz, "cannot start the sync thread");
            goto fail;
        }
        e->syncer_started = true;
    }
    *out = e;
    return true;
fail:
    if (txn)
        mdb_txn_abort(txn);
    store_engine_close(e);
    return false;
}

void store_engine_close(store_engine *e)
{
    if (!e)
        return;
    if (e->writer_started) {
        pthread_mutex_lock(&e->qlock);
        e->stopping = true;
        pthread_cond_broadcast(&e->qcond);
        pthread_mutex_unlock(&e->qlock);
        pthread_join(e->writer, NULL);
    }
    if (e->syncer_started) {
        pthread_mutex_lock(&e->slock);
        e->sync_stop = true;
        pthread_cond_broadcast(&e->scond);
        pthread_mutex_unlock(&e->slock);
        pthread_join(e->syncer, NULL);
    }
    if (e->env) {
        int rc = e->env_opened ? mdb_env_sync(e->env, 1) : 0;
        if (rc)
            mlog(rc, "final sync");
        mdb_env_close(e->env);
    }
    pthread_rwlock_destroy(&e->resize_lock);
    pthread_mutex_destroy(&e->qlock);
    pthread_cond_destroy(&e->qcond);
    pthread_mutex_destroy(&e->slock);
    pthread_cond_destroy(&e->scond);
    free(e);
}

const char *store_engine_cluster_uuid(const store_engine *e) { return e->cluster_uuid; }

static void *syncer_main(void *arg)
{
    store_engine *e = arg;
    pthread_mutex_lock(&e->slock);
    while (!e->sync_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&e->scond, &e->slock, &ts);
        if (atomic_exchange(&e->dirty, false)) {
            pthread_mutex_unlock(&e->slock);
            int64_t t0 = mono_ns();
            int rc = mdb_env_sync(e->env, 1);
            store_metrics_fsync((double)(mono_ns() - t0) / 1e9);
            if (rc)
                mlog(rc, "background sync");
            pthread_mutex_lock(&e->slock);
        }
    }
    pthread_mutex_unlock(&e->slock);
    return NULL;
}

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
    return r;
}

void store_engine_read_end(store_rtxn *r)
{
    if (!r)
        return;
    mdb_txn_abort(r->txn);
    pthread_rwlock_unlock(&r->e->resize_lock);
    free(r);
}

static int index_load(MDB_txn *txn, store_engine *e, const char *name, store_index_meta *m, buf *settings,
                      buf *mappings)
{
    size_t n = strlen(name);
    if (n == 0 || n > STORE_MAX_INDEX_NAME)
        return 0;
    MDB_val k = {n, (void *)name}, v;
    int rc = mdb_get(txn, e->dbi_indices, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc) {
        mlog(rc, "read index");
        return -1;
    }
    memset(m, 0, sizeof *m);
    memcpy(m->name, name, n + 1);
    if (!index_decode(&v, m, settings, mappings)) {
        log_error("storage: index record of [%s] is damaged", name);
        return -1;
    }
    unsigned char kb[4];
    be32(kb, m->number);
    MDB_val ck = {4, kb};
    rc = mdb_get(txn, e->dbi_counters, &ck, &v);
    if (rc == 0 && !counters_decode(&v, m)) {
        log_error("storage: counters of [%s] are damaged", name);
        return -1;
    }
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "read counters");
        return -1;
    }
    return 1;
}

int store_engine_index_get(store_rtxn *r, const char *name, store_index_meta *meta, buf *settings, buf *mappings)
{
    return index_load(r->txn, r->e, name, meta, settings, mappings);
}

/* ---- aliases ----------------------------------------------------------- */

/* Alias record: key "alias\0index", value one byte: is_write + 1 (0 unset,
 * 1 false, 2 true). One row per pair keeps add/remove a single put/del and
 * lists an alias's indices with one range scan. */
typedef bool (*alias_row_fn)(const char *alias, const char *index, int is_write, void *arg);

/* Visit the rows of `alias` (NULL: all rows). Returns 0 or an LMDB error. */
static int alias_rows(MDB_txn *txn, store_engine *e, const char *alias, alias_row_fn fn, void *arg)
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
            if (nl < k.mv_size && !fn(key, key + nl + 1, w, arg))
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

static bool resolve_row(const char *alias, const char *index, int w, void *arg)
{
    (void)alias;
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

/* The index alias `name` stands for into `out`: 1 resolved, 0 not an alias,
 * -2 not resolvable (see store_engine_index_resolve), -1 engine error. */
static int alias_resolve(MDB_txn *txn, store_engine *e, const char *name, bool write, char *out, size_t outsz)
{
    resolve_st s = {0};
    if (strlen(name) > STORE_MAX_INDEX_NAME)
        return 0;
    int rc = alias_rows(txn, e, name, resolve_row, &s);
    if (rc) {
        mlog(rc, "read aliases");
        return -1;
    }
    if (s.count == 0)
        return 0;
    const char *pick = NULL;
    if (write)
        pick = s.has_write ? s.write : s.count == 1 && s.first_w != 0 ? s.first : NULL;
    else
        pick = s.count == 1 ? s.first : NULL;
    if (!pick)
        return -2;
    snprintf(out, outsz, "%s", pick);
    return 1;
}

static bool alias_exists(MDB_txn *txn, store_engine *e, const char *name, int *rc)
{
    resolve_st s = {0};
    *rc = alias_rows(txn, e, name, resolve_row, &s);
    return s.count > 0;
}

int store_engine_index_resolve(store_rtxn *r, const char *name, bool write, store_index_meta *meta, buf *settings,
                               buf *mappings)
{
    int rc = index_load(r->txn, r->e, name, meta, settings, mappings);
    if (rc != 0)
        return rc;
    char concrete[STORE_MAX_INDEX_NAME + 1];
    rc = alias_resolve(r->txn, r->e, name, write, concrete, sizeof concrete);
    if (rc != 1)
        return rc;
    return index_load(r->txn, r->e, concrete, meta, settings, mappings);
}

bool store_engine_alias_each(store_rtxn *r, bool (*fn)(const char *alias, const char *index, int is_write, void *arg),
                             void *arg)
{
    int rc = alias_rows(r->txn, r->e, NULL, fn, arg);
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
        if (index_load(r->txn, r->e, name, &m, NULL, NULL) != 1) {
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

/* Decode a document record into `st` (+ source); false when damaged or,
 * for a long id, when the record belongs to another id (hash collision). */
static bool doc_decode(const MDB_val *v, const char *id, size_t id_len, const store_index_meta *m, int64_t now_ms,
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

int store_engine_doc_get(store_rtxn *r, const store_index_meta *meta, const char *id, size_t id_len,
                         store_doc_view *out)
{
    unsigned char kb[KEY_MAX];
    memset(out, 0, sizeof *out);
    MDB_val k = {doc_key(meta->number, id, id_len, kb), kb}, v;
    int rc = mdb_get(r->txn, r->e->dbi_docs, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc) {
        mlog(rc, "read document");
        return -1;
    }
    bool raw_deleted;
    if (!doc_decode(&v, id, id_len, meta, r->now_ms, &out->st, &raw_deleted, &out->src, &out->src_len)) {
        if (id_len > ID_INLINE_MAX) { /* another long id shares the key: this one is absent */
            memset(out, 0, sizeof *out);
            return 0;
        }
        log_error("storage: document record in [%s] is damaged", meta->name);
        return -1;
    }
    if (!out->st.exists) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    out->source_disabled = meta->source_disabled;
    return 1;
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
        k.mv_size = doc_key(meta->number, after, after_len, kb);
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

/* ---- search structures ---------------------------------------------------- */

/* Search key: number | path [| 0x00 | value]. A path longer than
 * PATH_INLINE_MAX is replaced by 0xFF and a 128-bit digest of it (0xFF
 * never starts UTF-8 text), so fields of any path length are indexed. 0 when
 * the value would not fit an LMDB key (postings: such terms are not
 * indexed; exact values use vkey instead). */
#define PATH_INLINE_MAX 200
#define HASH_LEN 16
/* Exact-value keys longer than this are cut to it and followed by a digest
 * of the whole value: such keys are exactly STORE_INDEX_MAX_KEY bytes, and
 * the whole value is kept in dbi_longvals under the same key. */
#define VKEY_INLINE_MAX (STORE_INDEX_MAX_KEY - HASH_LEN)

static void hash128(const void *s, size_t n, unsigned char *out)
{
    uint64_t a = hash64(s, n, 0), b = hash64(s, n, 0x9e3779b97f4a7c15ULL);
    memcpy(out, &a, 8);
    memcpy(out + 8, &b, 8);
}

static size_t skey_path(unsigned char *kb, uint32_t number, const char *path)
{
    size_t pl = strlen(path);
    be32(kb, number);
    if (pl <= PATH_INLINE_MAX) {
        memcpy(kb + 4, path, pl);
        return 4 + pl;
    }
    kb[4] = 0xFF;
    hash128(path, pl, kb + 5);
    return 5 + HASH_LEN;
}

static size_t skey(unsigned char *kb, uint32_t number, const char *path, bool sep, const void *val, size_t vl)
{
    size_t o = skey_path(kb, number, path);
    if (!sep)
        return o;
    kb[o++] = 0;
    if (o + vl > STORE_INDEX_MAX_KEY)
        return 0;
    if (vl)
        memcpy(kb + o, val, vl);
    return o + vl;
}

/* Exact-value key: as skey, but a value too long for the key is cut and
 * followed by its digest (*cut set); the key is then STORE_INDEX_MAX_KEY
 * bytes long. Shorter keys always hold their whole value. */
static size_t vkey(unsigned char *kb, uint32_t number, const char *path, const void *val, size_t vl, bool *cut)
{
    size_t o = skey_path(kb, number, path);
    kb[o++] = 0;
    *cut = o + vl > VKEY_INLINE_MAX;
    if (!*cut) {
        if (vl)
            memcpy(kb + o, val, vl);
        return o + vl;
    }
    memcpy(kb + o, val, VKEY_INLINE_MAX - o);
    hash128(val, vl, kb + VKEY_INLINE_MAX);
    return STORE_INDEX_MAX_KEY;
}

/* The whole value of exact-value key `k` (prefix length `pre`): from
 * dbi_longvals for a cut key, else the key's own bytes. */
static void vkey_value(MDB_txn *txn, store_engine *e, const MDB_val *k, size_t pre, const char **val, size_t *vl)
{
    MDB_val lv;
    if (k->mv_size == STORE_INDEX_MAX_KEY && mdb_get(txn, e->dbi_longvals, (MDB_val *)k, &lv) == 0) {
        *val = lv.mv_data;
        *vl = lv.mv_size;
        return;
    }
    *val = (const char *)k->mv_data + pre;
    *vl = k->mv_size - pre;
}

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static bool cursor_open(store_rtxn *r, MDB_dbi dbi, MDB_cursor **cur, const char *what)
{
    int rc = mdb_cursor_open(r->txn, dbi, cur);
    if (rc)
        mlog(rc, what);
    return rc == 0;
}

/* Visit every dup of the key the cursor is on (ascending), `size` bytes each. */
static int each_dup(MDB_cursor *cur, size_t size, bool (*fn)(const unsigned char *d, void *arg), void *arg,
                    bool *stopped)
{
    MDB_val k, v = {0, NULL};
    size_t n = 0;
    int rc = mdb_cursor_count(cur, &n);
    if (rc)
        return rc;
    if (n == 1) {
        /* A key with a single value keeps it inline, without a sub-database.
         * GET_MULTIPLE must not be asked then: LMDB answers from the
         * sub-cursor, which after MDB_PREV_NODUP still holds the previous
         * key's duplicates (a descending walk would report them as this
         * key's). Read the one value itself. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (rc == 0 && v.mv_size == size && !fn(v.mv_data, arg))
            *stopped = true;
        return rc;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_GET_MULTIPLE);
    while (rc == 0) {
        if (store_deadline_poll()) { /* the request's time is up or its client gone */
            *stopped = true;
            return 0;
        }
        const unsigned char *p = v.mv_data;
        for (size_t off = 0; off + size <= v.mv_size; off += size)
            if (!fn(p + off, arg)) {
                *stopped = true;
                return 0;
            }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_MULTIPLE);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

bool store_engine_postings(store_rtxn *r, const store_index_meta *m, const char *path, const char *term,
                           size_t term_len, bool (*fn)(const store_posting *p, void *arg), void *arg)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    size_t kn = skey(kb, m->number, path, true, term, term_len);
    if (!kn)
        return true;
    int rc = store_postings_read(r->txn, &r->e->pdb, kb, kn, fn, arg);
    if (rc)
        mlog(rc, "read postings");
    return rc == 0;
}

static int64_t key_count(store_rtxn *r, MDB_dbi dbi, const unsigned char *kb, size_t kn)
{
    if (!kn)
        return 0;
    MDB_cursor *cur;
    if (!cursor_open(r, dbi, &cur, "count entries"))
        return -1;
    MDB_val k = {kn, (void *)kb}, v;
    size_t n = 0;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
    if (rc == 0)
        rc = mdb_cursor_count(cur, &n);
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "count entries");
        return -1;
    }
    return rc ? 0 : (int64_t)n;
}

int64_t store_engine_term_docs(store_rtxn *r, const store_index_meta *m, const char *path, const char *term,
                               size_t term_len)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    size_t kn = skey(kb, m->number, path, true, term, term_len);
    int64_t df = 0;
    int rc = kn ? store_postings_df(r->txn, &r->e->pdb, kb, kn, &df) : 0;
    if (rc) {
        mlog(rc, "count postings");
        return -1;
    }
    return df;
}

int64_t store_engine_value_docs(store_rtxn *r, const store_index_meta *m, const char *path, const void *val,
                                size_t len)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    bool cut;
    size_t kn = vkey(kb, m->number, path, val, len, &cut);
    if (cut) { /* the digest stands for the value: make sure it is this one */
        MDB_val k = {kn, kb}, lv;
        int rc = mdb_get(r->txn, r->e->dbi_longvals, &k, &lv);
        if (rc == MDB_NOTFOUND || (rc == 0 && bytes_cmp(lv.mv_data, lv.mv_size, val, len) != 0))
            return 0;
        if (rc) {
            mlog(rc, "count entries");
            return -1;
        }
    }
    return key_count(r, r->e->dbi_vals, kb, kn);
}

bool store_engine_terms(store_rtxn *r, const store_index_meta *m, const char *path, const char *from, size_t from_len,
                        bool (*fn)(const char *term, size_t len, void *arg), void *arg)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    size_t pre = skey(kb, m->number, path, true, NULL, 0);
    size_t kn = skey(kb, m->number, path, true, from, from ? from_len : 0);
    if (!pre || !kn)
        return true;
    MDB_cursor *cur;
    if (!cursor_open(r, r->e->pdb.terms, &cur, "list terms"))
        return false;
    unsigned char prefix[STORE_INDEX_MAX_KEY];
    memcpy(prefix, kb, pre);
    MDB_val k = {kn, kb}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= pre && memcmp(k.mv_data, prefix, pre) == 0) {
        if (store_deadline_poll() || !fn((const char *)k.mv_data + pre, k.mv_size - pre, arg))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "list terms");
        return false;
    }
    return true;
}

bool store_engine_field_stats(store_rtxn *r, const store_index_meta *m, const char *path, int64_t *docs,
                              int64_t *sum_len)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    *docs = *sum_len = 0;
    MDB_val k = {skey(kb, m->number, path, false, NULL, 0), kb}, v;
    if (!k.mv_size)
        return true;
    int rc = mdb_get(r->txn, r->e->dbi_fstats, &k, &v);
    if (rc == MDB_NOTFOUND)
        return true;
    if (rc || v.mv_size != 16) {
        mlog(rc ? rc : MDB_CORRUPTED, "read field statistics");
        return false;
    }
    *docs = get_i64(v.mv_data);
    *sum_len = get_i64((const unsigned char *)v.mv_data + 8);
    return true;
}

typedef struct val_cb {
    bool (*fn)(const void *val, size_t len, int64_t seq, void *arg);
    void *arg;
    const void *val;
    size_t len;
} val_cb;

static bool val_one(const unsigned char *d, void *arg)
{
    val_cb *c = arg;
    return c->fn(c->val, c->len, (int64_t)store_util_get_be64(d), c->arg);
}

/* Where a cut key (whose value starts with `cut`, c bytes, and goes on)
 * stands against `bound`: -1 every such value is below it, 1 every one is
 * above, 0 undecided. */
static int cut_vs_bound(const char *cut, size_t c, const void *bound, size_t bl)
{
    size_t m = c < bl ? c : bl;
    int d = m ? memcmp(cut, bound, m) : 0;
    if (d)
        return d < 0 ? -1 : 1;
    return bl <= c ? 1 : 0; /* the bound is a prefix of the cut part: every value is longer, so above */
}

bool store_engine_values(store_rtxn *r, const store_index_meta *m, const char *path, const void *lo, size_t lo_len,
                         bool lo_incl, const void *hi, size_t hi_len, bool hi_incl, bool desc,
                         bool (*fn)(const void *val, size_t len, int64_t seq, void *arg), void *arg)
{
    unsigned char kb[STORE_INDEX_MAX_KEY], prefix[STORE_INDEX_MAX_KEY];
    size_t pre = skey(prefix, m->number, path, true, NULL, 0);
    if (!pre)
        return true;
    /* Keys are in byte order of their value, except that values sharing
     * their first `cutn` bytes (cut keys) follow their digests: bounds are
     * checked against each whole value, and the walk stops only once a
     * key's visible part is past the end bound. */
    size_t cutn = VKEY_INLINE_MAX - pre;
    MDB_cursor *cur;
    if (!cursor_open(r, r->e->dbi_vals, &cur, "read values"))
        return false;
    MDB_val k, v;
    int rc;
    const void *start = desc ? hi : lo;
    size_t start_len = desc ? hi_len : lo_len;
    bool start_incl = desc ? hi_incl : lo_incl;
    memcpy(kb, prefix, pre);
    k.mv_size = pre;
    if (start) {
        /* At or before every key whose value can be in range: the start cut
         * to the inline length (descending: followed by the largest digest). */
        size_t sl = start_len < cutn ? start_len : cutn;
        memcpy(kb + pre, start, sl);
        k.mv_size = pre + sl;
        if (desc && start_len >= cutn) {
            memset(kb + pre + sl, 0xFF, HASH_LEN);
            k.mv_size += HASH_LEN;
        }
    } else if (desc) {
        kb[pre - 1] = 1; /* just past this field's values */
    }
    k.mv_data = kb;
    unsigned char seek[STORE_INDEX_MAX_KEY];
    size_t seekn = k.mv_size;
    memcpy(seek, kb, seekn);
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (desc) {
        if (rc == MDB_NOTFOUND)
            rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
        else if (rc == 0 && bytes_cmp(k.mv_data, k.mv_size, seek, seekn) != 0)
            rc = mdb_cursor_get(cur, &k, &v, MDB_PREV_NODUP);
    }
    const void *end = desc ? lo : hi;
    size_t end_len = desc ? lo_len : hi_len;
    bool end_incl = desc ? lo_incl : hi_incl;
    while (rc == 0 && k.mv_size >= pre && memcmp(k.mv_data, prefix, pre) == 0 && !store_deadline_poll()) {
        const char *val;
        size_t vl;
        bool cut = k.mv_size == STORE_INDEX_MAX_KEY;
        vkey_value(r->txn, r->e, &k, pre, &val, &vl);
        bool skip = false;
        if (start) {
            int c = bytes_cmp(val, vl, start, start_len);
            skip = desc ? (c > 0 || (c == 0 && !start_incl)) : (c < 0 || (c == 0 && !start_incl));
        }
        if (!skip && end) {
            int c = bytes_cmp(val, vl, end, end_len);
            if (desc ? (c < 0 || (c == 0 && !end_incl)) : (c > 0 || (c == 0 && !end_incl))) {
                const char *vis = (const char *)k.mv_data + pre;
                int side = cut ? cut_vs_bound(vis, cutn, end, end_len) : 0;
                if (!cut || (desc ? side < 0 : side > 0))
                    break;
                skip = true;
            }
        }
        if (!skip) {
            bool stopped = false;
            val_cb cb = {fn, arg, val, vl};
            if (desc && (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST_DUP)))
                break;
            if ((rc = each_dup(cur, 8, val_one, &cb, &stopped)) || stopped)
                break;
        }
        rc = mdb_cursor_get(cur, &k, &v, desc ? MDB_PREV_NODUP : MDB_NEXT_NODUP);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "read values");
        return false;
    }
    return true;
}

typedef struct seq_cb {
    bool (*fn)(int64_t seq, void *arg);
    void *arg;
} seq_cb;

static bool seq_one(const unsigned char *d, void *arg)
{
    seq_cb *c = arg;
    return c->fn((int64_t)store_util_get_be64(d), c->arg);
}

bool store_engine_exists(store_rtxn *r, const store_index_meta *m, const char *path,
                         bool (*fn)(int64_t seq, void *arg), void *arg)
{
    unsigned char kb[STORE_INDEX_MAX_KEY];
    MDB_val k = {skey(kb, m->number, path, false, NULL, 0), kb}, v;
    if (!k.mv_size)
        return true;
    MDB_cursor *cur;
    if (!cursor_open(r, r->e->dbi_exists, &cur, "read field presence"))
        return false;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
    bool stopped = false;
    seq_cb c = {fn, arg};
    if (rc == 0)
        rc = each_dup(cur, 8, seq_one, &c, &stopped);
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "read field presence");
        return false;
    }
    return true;
}

bool store_engine_seq_scan(store_rtxn *r, const store_index_meta *m, int64_t after,
                           bool (*fn)(int64_t seq, void *arg), void *arg)
{
    MDB_cursor *cur;
    if (!cursor_open(r, r->e->dbi_seqs, &cur, "scan documents"))
        return false;
    unsigned char kb[12];
    be32(kb, m->number);
    store_util_put_be64(kb + 4, (uint64_t)(after < 0 ? 0 : after + 1));
    MDB_val k = {12, kb}, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == 12 && memcmp(k.mv_data, kb, 4) == 0) {
        if (store_deadline_poll() || !fn((int64_t)store_util_get_be64((const unsigned char *)k.mv_data + 4), arg))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc && rc != MDB_NOTFOUND) {
        mlog(rc, "scan documents");
        return false;
    }
    return true;
}

int store_engine_doc_by_seq(store_rtxn *r, const store_index_meta *m, int64_t seq, const char **id, size_t *id_len,
                            store_doc_view *out)
{
    unsigned char kb[12];
    be32(kb, m->number);
    store_util_put_be64(kb + 4, (uint64_t)seq);
    MDB_val k = {12, kb}, v;
    int rc = mdb_get(r->txn, r->e->dbi_seqs, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc) {
        mlog(rc, "read document by seq");
        return -1;
    }
    int found = store_engine_doc_get(r, m, v.mv_data, v.mv_size, out);
    if (found != 1 || out->st.seq_no != seq)
        return found < 0 ? -1 : 0;
    *id = v.mv_data;
    *id_len = v.mv_size;
    return 1;
}

/* ---- search structures: the writer's side --------------------------------- */

/* Add (or remove) the entries of document `seq` in index `number`. On
 * removal a field's statistics drop only when its entries were there (a
 * field mapped after the document was written never counted it). */
static int search_apply(MDB_txn *txn, store_engine *e, store_pbatch *pb, uint32_t number, int64_t seq,
                        const store_doc_index *d, bool add)
{
    unsigned char kb[STORE_INDEX_MAX_KEY], data[8];
    const char *t = d->text.data;
    int rc = 0;
    bool *hit = NULL;
    MDB_cursor *curs[STORE_ENT_EXISTS + 1] = {NULL}; /* removal: one per database, opened when first needed */
    if (!add && d->n && !(hit = calloc(d->n, 1)))
        return ENOMEM;
    for (size_t i = 0; i < d->n && !rc; i++) {
        const store_ent *x = &d->ents[i];
        const char *path = t + x->path;
        MDB_val k, v = {8, data};
        MDB_dbi dbi = e->dbi_vals;
        bool cut = false;
        store_util_put_be64(data, (uint64_t)seq);
        switch (x->kind) {
        case STORE_ENT_POSTING: {
            /* queued: the batch writes each term once at the transaction's end */
            size_t kn = skey(kb, number, path, true, t + x->val, x->val_len);
            if (!kn)
                continue;
            if (!add && (i == 0 || d->ents[i - 1].kind != STORE_ENT_POSTING || strcmp(t + d->ents[i - 1].path, path))) {
                /* whether the field's entries were there (its statistics below) */
                int h = store_postings_has(pb, txn, &e->pdb, kb, kn, seq);
                if (h < 0) {
                    rc = -h;
                    break;
                }
                hit[i] = h > 0;
            }
            if (!store_pbatch_put(pb, kb, kn, seq, add, x->tf, x->len, d->pos + x->pos))
                rc = ENOMEM;
            continue;
        }
        case STORE_ENT_VALUE:
            dbi = e->dbi_vals;
            k.mv_size = vkey(kb, number, path, t + x->val, x->val_len, &cut);
            break;
        case STORE_ENT_EXISTS:
            dbi = e->dbi_exists;
            k.mv_size = skey(kb, number, path, false, NULL, 0);
            break;
        default: continue;
        }
        k.mv_data = kb;
        if (!k.mv_size)
            continue;
        if (add) {
            rc = mdb_put(txn, dbi, &k, &v, 0);
            if (rc == MDB_KEYEXIST)
                rc = 0;
            if (!rc && cut) {
                MDB_val lv = {x->val_len, (void *)(uintptr_t)(t + x->val)};
                rc = mdb_put(txn, e->dbi_longvals, &k, &lv, 0);
            }
            continue;
        }
        MDB_cursor *cur = curs[x->kind];
        if (!cur && (rc = mdb_cursor_open(txn, dbi, &curs[x->kind])))
            break;
        cur = curs[x->kind];
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
        if (rc == 0 && v.mv_size >= 8 && store_util_get_be64(v.mv_data) == (uint64_t)seq) {
            rc = mdb_cursor_del(cur, 0);
            hit[i] = true;
            MDB_val kk = {k.mv_size, kb}, any;
            if (!rc && cut && (rc = mdb_get(txn, dbi, &kk, &any)) == MDB_NOTFOUND) /* the value's last document */
                rc = mdb_del(txn, e->dbi_longvals, &kk, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        } else if (rc == 0 || rc == MDB_NOTFOUND) {
            rc = 0;
        }
    }
    for (size_t i = 0; i < sizeof curs / sizeof *curs; i++)
        if (curs[i])
            mdb_cursor_close(curs[i]);
    for (size_t i = 0; i < d->n && !rc; i++) {
        const store_ent *x = &d->ents[i];
        if (x->kind != STORE_ENT_STAT)
            continue;
        const char *path = t + x->path;
        if (!add) {
            bool any = false;
            for (size_t j = 0; j < d->n && !any; j++)
                any = hit[j] && d->ents[j].kind != STORE_ENT_EXISTS && strcmp(t + d->ents[j].path, path) == 0;
            if (!any)
                continue;
        }
        MDB_val k = {skey(kb, number, path, false, NULL, 0), kb}, v;
        if (!k.mv_size)
            continue;
        int64_t docs = 0, sum = 0;
        rc = mdb_get(txn, e->dbi_fstats, &k, &v);
        if (rc == 0 && v.mv_size == 16) {
            docs = get_i64(v.mv_data);
            sum = get_i64((const unsigned char *)v.mv_data + 8);
        } else if (rc && rc != MDB_NOTFOUND) {
            break;
        }
        docs += add ? 1 : -1;
        sum += add ? (int64_t)x->len : -(int64_t)x->len;
        if (docs <= 0) {
            rc = mdb_del(txn, e->dbi_fstats, &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
            continue;
        }
        unsigned char vb[16];
        put_i64(vb, docs);
        put_i64(vb + 8, sum < 0 ? 0 : sum);
        v.mv_size = 16;
        v.mv_data = vb;
        rc = mdb_put(txn, e->dbi_fstats, &k, &v, 0);
    }
    free(hit);
    return rc;
}

/* Record (or forget) which id has search ordinal `seq`. */
static int seq_put(MDB_txn *txn, store_engine *e, uint32_t number, int64_t seq, const char *id, size_t id_len)
{
    unsigned char kb[12];
    be32(kb, number);
    store_util_put_be64(kb + 4, (uint64_t)seq);
    MDB_val k = {12, kb}, v = {id_len, (void *)id};
    if (id)
        return mdb_put(txn, e->dbi_seqs, &k, &v, 0);
    int rc = mdb_del(txn, e->dbi_seqs, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Delete every entry of index `number` in `dbi` (all dups of each key). */
static int delete_prefix(MDB_txn *txn, MDB_dbi dbi, uint32_t number, bool dups)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc)
        return rc;
    unsigned char kb[4];
    be32(kb, number);
    MDB_val k = {4, kb}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= 4 && memcmp(k.mv_data, kb, 4) == 0) {
        if ((rc = mdb_cursor_del(cur, dups ? MDB_NODUPDATA : 0)))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT); /* after a delete LMDB's NEXT yields the following entry */
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

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

/* ---- the writer ---------------------------------------------------------- */

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
} wctx;

static void wctx_free(wctx *c)
{
    for (size_t i = 0; i < c->n; i++)
        store_mapping_free(&c->ents[i].map);
    free(c->ents);
    store_doc_index_free(&c->dnew);
    store_doc_index_free(&c->dold);
    buf_free(&c->reason);
    store_pbatch_free(c->pb);
}

/* The mapping of index `ent` (loaded once per transaction). */
static int ent_mapping(wctx *c, cache_ent *ent, store_mapping **out)
{
    if (!ent->map_loaded) {
        buf mappings = BUF_INIT, settings = BUF_INIT;
        store_index_meta m;
        char err[256];
        int rc = index_load(c->txn, c->e, ent->m.name, &m, &settings, &mappings);
        if (rc != 1) {
            buf_free(&mappings);
            buf_free(&settings);
            return EIO;
        }
        if (!store_mapping_parse(mappings.data, mappings.len, &ent->map, err, sizeof err)) {
            log_error("storage: the mapping of [%s] is unreadable (%s); indexing it as empty", ent->m.name, err);
            store_mapping_parse(NULL, 0, &ent->map, err, sizeof err);
        }
        store_mapping_limits_from_settings(&ent->map, settings.data, settings.len);
        if (!store_mapping_set_analysis(&ent->map, settings.data, settings.len, err, sizeof err))
            log_error("storage: the analysis settings of [%s] do not build (%s); using the built-in analyzers",
                      ent->m.name, err);
        buf_free(&mappings);
        buf_free(&settings);
        ent->map_loaded = true;
    }
    *out = &ent->map;
    return 0;
}

static int cache_get(wctx *c, const char *name, cache_ent **out)
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
    int rc = index_load(c->txn, c->e, name, &ent->m, NULL, NULL);
    if (rc < 0)
        return EIO;
    ent->exists = rc == 1;
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

static int cache_flush(wctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        cache_ent *ent = &c->ents[i];
        if (ent->exists && ent->map_dirty) {
            buf settings = BUF_INIT, mappings = BUF_INIT;
            store_index_meta m;
            int rc = index_load(c->txn, c->e, ent->m.name, &m, &settings, NULL) == 1 ? 0 : EIO;
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

static int exec_op(wctx *c, store_op *op)
{
    cache_ent *ent;
    if (strlen(op->index) > STORE_MAX_INDEX_NAME) { /* never cut a name: such an index cannot exist */
        op->err = STORE_OPERR_INDEX_MISSING;
        return 0;
    }
    int rc = cache_get(c, op->index, &ent);
    if (rc)
        return rc;
    if (ent->exists && op->require_alias) {
        op->err = STORE_OPERR_NOT_ALIAS;
        return 0;
    }
    if (!ent->exists) {
        char concrete[STORE_MAX_INDEX_NAME + 1];
        int ar = alias_resolve(c->txn, c->e, op->index, true, concrete, sizeof concrete);
        if (ar == -1)
            return EIO;
        if (ar == 0 && op->require_alias) {
            op->err = STORE_OPERR_NOT_ALIAS;
            return 0;
        }
        if (ar == -2) {
            op->err = STORE_OPERR_NO_WRITE_INDEX;
            return 0;
        }
        if (ar == 1) {
            memcpy(op->index_buf, concrete, sizeof concrete);
            op->index = op->index_buf;
            if ((rc = cache_get(c, op->index, &ent)))
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
    MDB_val k = {doc_key(ent->m.number, op->id, op->id_len, kb), kb}, v;
    store_doc_state st = {0};
    bool raw_live = false, raw_tomb = false;
    const char *old = NULL;
    size_t old_len = 0;
    rc = mdb_get(c->txn, c->e->dbi_docs, &k, &v);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0) {
        bool raw_deleted;
        if (!doc_decode(&v, op->id, op->id_len, &ent->m, c->now_ms, &st, &raw_deleted, &old, &old_len)) {
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
     * map) is still valid. */
    store_mapping *map;
    if ((rc = ent_mapping(c, ent, &map)))
        return rc;
    if (!tomb) {
        const char *etype = NULL;
        buf_reset(&c->reason);
        if (!store_index_doc(map, src, src_len, op->id, op->id_len, false, &c->dnew, &etype, &c->reason)) {
            op->err = STORE_OPERR_MAPPING;
            op->reason_type = etype;
            op->reason = strndup(c->reason.data ? c->reason.data : "", c->reason.len);
            return op->reason ? 0 : ENOMEM;
        }
        if (c->dnew.mapping_changed)
            ent->map_dirty = true;
    }
    if (raw_live) {
        const char *etype = NULL;
        if (!store_index_doc(map, old, old_len, op->id, op->id_len, true, &c->dold, &etype, &c->reason))
            return ENOMEM;
        if ((rc = search_apply(c->txn, c->e, c->pb, ent->m.number, st.seq_no, &c->dold, false)) ||
            (rc = seq_put(c->txn, c->e, ent->m.number, st.seq_no, NULL, 0)))
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
    if (!tomb && ((rc = search_apply(c->txn, c->e, c->pb, ent->m.number, seq, &c->dnew, true)) ||
                  (rc = seq_put(c->txn, c->e, ent->m.number, seq, op->id, op->id_len))))
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

static bool collect_row(const char *alias, const char *index, int w, void *arg)
{
    (void)w;
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
    if ((rc = store_pbatch_flush(c->pb, c->txn, &c->e->pdb)) ||
        (rc = store_postings_drop_prefix(c->txn, &c->e->pdb, kb, 4)))
        return rc;
    MDB_dbi dbis[] = {c->e->dbi_docs, c->e->dbi_vals, c->e->dbi_exists, c->e->dbi_seqs, c->e->dbi_fstats,
                      c->e->dbi_longvals};
    for (size_t i = 0; i < sizeof dbis / sizeof *dbis; i++)
        if ((rc = delete_prefix(c->txn, dbis[i], ent->m.number, i >= 1 && i <= 2))) /* the DUPSORT ones */
            return rc;
    if ((rc = mdb_del(c->txn, c->e->dbi_indices, &k, NULL)))
        return rc;
    rc = mdb_del(c->txn, c->e->dbi_counters, &ck, NULL);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    /* Aliases are few: a full scan beats an index-to-alias table to keep in step. */
    rowlist l = {.index = ent->m.name};
    rc = alias_rows(c->txn, c->e, NULL, collect_row, &l);
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

static int alias_put(MDB_txn *txn, store_engine *e, const char *alias, const char *index, int w, bool del)
{
    char key[2 * (STORE_MAX_INDEX_NAME + 1)];
    size_t al = strlen(alias), il = strlen(index);
    memcpy(key, alias, al + 1);
    memcpy(key + al + 1, index, il);
    MDB_val k = {al + 1 + il, key};
    unsigned char b = (unsigned char)(w + 1);
    MDB_val v = {1, &b};
    if (del)
        return mdb_del(txn, e->dbi_aliases, &k, NULL);
    return mdb_put(txn, e->dbi_aliases, &k, &v, 0);
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
            rc = alias_rows(c->txn, c->e, a->alias, collect_row, &l);
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
            rc = alias_put(child, c->e, a->alias, a->index, a->is_write, false);
        else if (a->act == STORE_ALIAS_REMOVE) {
            rc = alias_put(child, c->e, a->alias, a->index, 0, true);
            if (rc == MDB_NOTFOUND) /* removed twice in one request */
                rc = 0;
        }
    }
    for (size_t i = 0; !rc && i < job->nactions; i++) {
        const store_alias_action *a = &job->actions[i];
        if (a->act != STORE_ALIAS_ADD)
            continue;
        rowlist l = {0};
        rc = alias_rows(child, c->e, a->alias, collect_row, &l);
        int writers = 0;
        for (size_t j = 0; !rc && j < l.n; j++) {
            size_t al = strlen(l.keys[j]);
            MDB_val k = {al + 1 + strlen(l.keys[j] + al + 1), l.keys[j]}, v;
            if (mdb_get(child, c->e->dbi_aliases, &k, &v) == 0 && v.mv_size && ((unsigned char *)v.mv_data)[0] == 2)
                writers++;
        }
        free(l.keys);
        if (!rc && writers > 1) {
            mdb_txn_abort(child);
            job->rc = STORE_JOB_REFUSED;
            job->alias_err = STORE_ALIASERR_MANY_WRITE;
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
        if ((rc = cache_get(c, a->index, &ent)))
            return rc;
        if (ent->exists && (rc = index_drop(c, ent)))
            return rc;
    }
    return 0;
}

static int exec_admin(wctx *c, store_job *job)
{
    cache_ent *ent;
    if (strlen(job->index) > STORE_MAX_INDEX_NAME) {
        memset(&job->meta, 0, sizeof job->meta);
        job->rc = job->kind == STORE_JOB_CREATE_INDEX ? STORE_JOB_FAILED : STORE_JOB_MISSING;
        return 0;
    }
    int rc = cache_get(c, job->index, &ent);
    if (rc)
        return rc;
    switch (job->kind) {
    case STORE_JOB_CREATE_INDEX:
        if (ent->exists) {
            job->rc = STORE_JOB_EXISTS;
        } else if (alias_exists(c->txn, c->e, job->index, &rc) || rc) {
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
            if (!rc)
                rc = index_create(c, ent, job->settings, job->settings_len, job->mappings ? text.data : NULL,
                                  job->mappings ? text.len : 0, job->gc_deletes_ms);
            buf_free(&text);
            job->rc = STORE_JOB_OK;
        }
        break;
    case STORE_JOB_PUT_MAPPING: {
        if (!ent->exists) {
            char concrete[STORE_MAX_INDEX_NAME + 1];
            int ar = alias_resolve(c->txn, c->e, job->index, true, concrete, sizeof concrete);
            if (ar == -1)
                return EIO;
            if (ar != 1 || (rc = cache_get(c, concrete, &ent)) || !ent->exists) {
                job->rc = STORE_JOB_MISSING;
                return rc;
            }
        }
        store_mapping *map;
        cJSON *add = job->mappings ? cJSON_ParseWithLength(job->mappings, job->mappings_len) : NULL;
        if ((rc = ent_mapping(c, ent, &map))) {
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
        if (index_load(c->txn, c->e, job->index, &m, &settings, &mappings) != 1) {
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

static int exec_job(wctx *c, store_job *job)
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
        int rc = exec_op(c, &job->ops[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int run_txn(store_engine *e, store_job **jobs, size_t n)
{
    wctx c = {.e = e, .now_ms = store_util_now_ms(), .pb = store_pbatch_new()};
    if (!c.pb)
        return ENOMEM;
    int rc = mdb_txn_begin(e->env, NULL, 0, &c.txn);
    if (rc) {
        store_pbatch_free(c.pb);
        return rc;
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = exec_job(&c, jobs[i]);
    if (!rc)
        rc = store_pbatch_flush(c.pb, c.txn, &e->pdb);
    if (!rc)
        rc = cache_flush(&c);
    if (!rc) {
        int64_t t0 = mono_ns();
        rc = mdb_txn_commit(c.txn);
        store_metrics_fsync((double)(mono_ns() - t0) / 1e9);
    } else
        mdb_txn_abort(c.txn);
    wctx_free(&c);
    if (rc == 0 && !e->durable)
        atomic_store(&e->dirty, true);
    return rc;
}

/* Index every live document of `ent` into the search structures. */
static int upgrade_index(wctx *c, cache_ent *ent, int64_t *docs)
{
    store_mapping *map;
    MDB_cursor *cur;
    int rc = ent_mapping(c, ent, &map);
    if (rc || (rc = mdb_cursor_open(c->txn, c->e->dbi_docs, &cur)))
        return rc;
    unsigned char prefix[4];
    be32(prefix, ent->m.number);
    MDB_val k = {4, prefix}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= 4 && memcmp(k.mv_data, prefix, 4) == 0) {
        const unsigned char *p = v.mv_data;
        if (v.mv_size < DOC_HDR) {
            rc = MDB_CORRUPTED;
            break;
        }
        uint32_t flags = get_u32(p + 32), idl = get_u32(p + 36);
        if (!(flags & FLAG_DELETED)) {
            const char *id = (const char *)k.mv_data + 4, *etype;
            size_t id_len = k.mv_size - 4, off = DOC_HDR;
            if (flags & FLAG_LONG_ID) {
                id = (const char *)p + DOC_HDR;
                id_len = idl;
                off += idl;
            }
            buf_reset(&c->reason);
            /* A document the inferred mapping cannot take is indexed as far as it fits. */
            if (!store_index_doc(map, (const char *)p + off, v.mv_size - off, id, id_len, false, &c->dnew, &etype,
                                 &c->reason) &&
                !store_index_doc(map, (const char *)p + off, v.mv_size - off, id, id_len, true, &c->dnew, &etype,
                                 &c->reason)) {
                rc = ENOMEM;
                break;
            }
            ent->map_dirty |= c->dnew.mapping_changed;
            int64_t seq = get_i64(p + 8);
            if ((rc = search_apply(c->txn, c->e, c->pb, ent->m.number, seq, &c->dnew, true)) ||
                (rc = seq_put(c->txn, c->e, ent->m.number, seq, id, id_len)))
                break;
            ++*docs;
            /* bounded memory: the batch is written every so many documents */
            if (store_pbatch_pending(c->pb) >= 1000000 && (rc = store_pbatch_flush(c->pb, c->txn, &c->e->pdb)))
                break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Data directories written before verstore kept search structures get them
 * built once, at the first start of a version that has them. */
/* search_format 1: text analysed by the ASCII analyser verstore had before
 * store_analysis; 2: by store_analysis, one LMDB duplicate per (term,
 * document) in "postings"; 3: postings in per-term compressed blocks with
 * positions (store_postings). A directory at an older format drops its
 * search structures and builds them again from the documents, once, in the
 * one transaction that opens it (a crash during it leaves the old format,
 * and the next start converts again). One written by a newer verstore is
 * refused rather than misread. */
#define SEARCH_FORMAT 3

static int search_upgrade(store_engine *e, MDB_txn *txn)
{
    MDB_val k = {13, "search_format"}, v;
    int rc = mdb_get(txn, e->dbi_meta, &k, &v);
    uint32_t had = 0;
    if (rc == 0 && v.mv_size == 4)
        memcpy(&had, v.mv_data, 4);
    if (rc == 0 && had == SEARCH_FORMAT)
        return 0;
    if (rc == 0 && had > SEARCH_FORMAT) {
        log_error("the search structures in this data directory are in format %u, newer than this verstore's %u: "
                  "run the verstore that wrote it, or reindex into a fresh data directory",
                  had, (unsigned)SEARCH_FORMAT);
        return MDB_VERSION_MISMATCH;
    }
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    if (rc == 0) {
        log_info("the search structures are in format %u (%s): converting them to format %u, per-term "
                 "compressed postings with positions, from the stored documents",
                 had, had < 2 ? "ASCII analyser" : "one entry per term and document", (unsigned)SEARCH_FORMAT);
        MDB_dbi dbis[] = {e->pdb.terms, e->pdb.blocks, e->dbi_vals, e->dbi_exists, e->dbi_seqs, e->dbi_fstats};
        for (size_t i = 0; i < sizeof dbis / sizeof *dbis; i++)
            if ((rc = mdb_drop(txn, dbis[i], 0)))
                return rc;
    }
    /* format 2's postings database goes entirely */
    MDB_dbi old;
    rc = mdb_dbi_open(txn, "postings", MDB_DUPSORT | MDB_DUPFIXED, &old);
    if (rc == 0 && (rc = mdb_drop(txn, old, 1)))
        return rc;
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    wctx c = {.e = e, .txn = txn, .now_ms = store_util_now_ms(), .pb = store_pbatch_new()};
    if (!c.pb)
        return ENOMEM;
    MDB_cursor *cur;
    int64_t docs = 0;
    if ((rc = mdb_cursor_open(txn, e->dbi_indices, &cur)))
        return rc;
    MDB_val ik, iv;
    for (rc = mdb_cursor_get(cur, &ik, &iv, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &ik, &iv, MDB_NEXT)) {
        char name[STORE_MAX_INDEX_NAME + 1];
        cache_ent *ent;
        if (ik.mv_size > STORE_MAX_INDEX_NAME)
            continue;
        memcpy(name, ik.mv_data, ik.mv_size);
        name[ik.mv_size] = '\0';
        if ((rc = cache_get(&c, name, &ent)) || (rc = upgrade_index(&c, ent, &docs)))
            break;
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (!rc)
        rc = store_pbatch_flush(c.pb, txn, &e->pdb);
    if (!rc)
        rc = cache_flush(&c);
    uint32_t format = SEARCH_FORMAT;
    v.mv_size = 4;
    v.mv_data = &format;
    if (!rc)
        rc = mdb_put(txn, e->dbi_meta, &k, &v, 0);
    if (!rc && c.n)
        log_info("built the search structures of %zu existing index(es), %" PRId64 " document(s)", c.n, docs);
    wctx_free(&c);
    return rc;
}

/* Double the map, up to `limit` (0: none). */
static bool grow_map(store_engine *e, size_t limit)
{
    pthread_rwlock_wrlock(&e->resize_lock);
    size_t want = e->map_size * 2;
    if (limit && want > limit)
        want = limit;
    if (limit && want <= e->map_size) { /* at --max-disk: the caller reports a full disk */
        pthread_rwlock_unlock(&e->resize_lock);
        return false;
    }
    int rc = want > e->map_size ? mdb_env_set_mapsize(e->env, want) : ENOMEM;
    if (rc == 0)
        e->map_size = want;
    pthread_rwlock_unlock(&e->resize_lock);
    if (rc) {
        mlog(rc, "grow the map");
        return false;
    }
    log_info("storage map grown to %zu MiB", e->map_size >> 20);
    return true;
}

/* Back to the --max-disk ceiling after an index delete used the headroom
 * (LMDB keeps the map at least as large as the pages in use). */
static void shrink_map(store_engine *e)
{
    pthread_rwlock_wrlock(&e->resize_lock);
    MDB_envinfo info;
    if (mdb_env_set_mapsize(e->env, e->max_size) == 0 && mdb_env_info(e->env, &info) == 0)
        e->map_size = info.me_mapsize;
    pthread_rwlock_unlock(&e->resize_lock);
}

static int run_with_growth(store_engine *e, store_job **jobs, size_t n)
{
    /* Deleting frees room only after LMDB has copied the pages it touches,
     * so at --max-disk an index delete (the way out of a full store) may
     * use 1/8 more. */
    bool headroom = e->max_size && n == 1 && jobs[0]->kind == STORE_JOB_DELETE_INDEX;
    size_t limit = e->max_size + (headroom ? e->max_size / 8 : 0);
    int rc;
    while ((rc = run_txn(e, jobs, n)) == MDB_MAP_FULL && grow_map(e, limit))
        ;
    if (headroom && rc == 0) {
        /* LMDB hands the pages a transaction freed to the one after next:
         * one small commit now, so the next write finds the room. */
        MDB_txn *t;
        MDB_val k = {9, "last_drop"}, v = {sizeof e->map_size, &e->map_size};
        if (mdb_txn_begin(e->env, NULL, 0, &t) == 0) { /* failing costs only one more 429 */
            if (mdb_put(t, e->dbi_meta, &k, &v, 0) == 0)
                mdb_txn_commit(t);
            else
                mdb_txn_abort(t);
        }
        if (e->map_size > e->max_size)
            shrink_map(e);
    }
    return rc;
}

static void fail_job(store_job *job, bool disk_full)
{
    job->rc = STORE_JOB_FAILED;
    job->disk_full = disk_full;
    for (size_t i = 0; i < job->nops; i++) {
        store_op_clear(&job->ops[i]);
        job->ops[i].err = disk_full ? STORE_OPERR_DISK_FULL : STORE_OPERR_ENGINE;
    }
}

/* A full disk is logged when writes start being refused and when they are
 * accepted again, not once per refused request. The failed transaction was
 * aborted, so the environment stays usable. */
static void note_disk_full(store_engine *e, const char *why)
{
    if (!atomic_exchange(&e->disk_full, true))
        log_warn("writes refused until space is freed in %s: %s", e->dir, why);
}

static void note_written(store_engine *e)
{
    if (atomic_exchange(&e->disk_full, false))
        log_info("writes accepted again in %s", e->dir);
}

static void write_failed(store_engine *e, store_job *job, int rc)
{
    bool full = store_disk_is_full_error(rc, e->dir);
    if (full)
        note_disk_full(e, rc == MDB_MAP_FULL && e->max_size ? "--max-disk reached"
                          : rc == EIO                    ? "a short write: no space left on device"
                                                         : mdb_strerror(rc));
    else
        mlog(rc, "write");
    fail_job(job, full);
}

static void run_batch(store_engine *e, store_job **jobs, size_t n)
{
    char why[96];
    if (store_disk_over(e->dir, &e->flood, why, sizeof why)) {
        /* Elasticsearch's read-only-allow-delete block: deleting an index is the way out. */
        note_disk_full(e, why);
        for (size_t i = 0; i < n; i++) {
            int rc = jobs[i]->kind == STORE_JOB_DELETE_INDEX ? run_with_growth(e, &jobs[i], 1) : ENOSPC;
            if (rc)
                write_failed(e, jobs[i], rc);
        }
        return;
    }
    int rc = run_with_growth(e, jobs, n);
    if (rc == 0) {
        note_written(e);
        store_metrics_batch(n);
        return;
    }
    if (n == 1) {
        write_failed(e, jobs[0], rc);
        return;
    }
    /* Keep one failing request from failing the others: redo them one by one. */
    for (size_t i = 0; i < n; i++) {
        rc = run_with_growth(e, &jobs[i], 1);
        if (rc)
            write_failed(e, jobs[i], rc);
        else
            note_written(e);
    }
}

static void *writer_main(void *arg)
{
    store_engine *e = arg;
    store_job **batch = NULL;
    size_t cap = 0;
    for (;;) {
        pthread_mutex_lock(&e->qlock);
        while (!e->head && !e->stopping)
            pthread_cond_wait(&e->qcond, &e->qlock);
        store_job *list = e->head;
        e->head = e->tail = NULL;
        pthread_mutex_unlock(&e->qlock);
        if (!list)
            break; /* stopping and drained */
        size_t n = 0;
        for (store_job *j = list; j; j = j->next) {
            if (n == cap && !GROW_ARRAY(batch, cap, n + 1, 64)) { /* run what fits; the rest waits for the next round */
                pthread_mutex_lock(&e->qlock);
                store_job *rest = j;
                store_job *last = rest;
                while (last->next)
                    last = last->next;
                last->next = e->head;
                e->head = rest;
                if (!e->tail)
                    e->tail = last;
                pthread_mutex_unlock(&e->qlock);
                break;
            }
            batch[n++] = j;
        }
        if (n == 0) {
            log_error("out of memory in the writer");
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        /* Unlink before running: done() may free or reuse the job. */
        for (size_t i = 0; i < n; i++)
            batch[i]->next = NULL;
        run_batch(e, batch, n);
        for (size_t i = 0; i < n; i++)
            batch[i]->done(batch[i]);
    }
    free(batch);
    return NULL;
}

void store_engine_submit(store_engine *e, store_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&e->qlock);
    if (e->tail)
        e->tail->next = job;
    else
        e->head = job;
    e->tail = job;
    pthread_cond_signal(&e->qcond);
    pthread_mutex_unlock(&e->qlock);
}

typedef struct waiter {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool done;
} waiter;

static void waiter_done(store_job *job)
{
    waiter *w = job->arg;
    pthread_mutex_lock(&w->m);
    w->done = true;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

int store_engine_execute(store_engine *e, store_job *job)
{
    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    job->done = waiter_done;
    job->arg = &w;
    store_engine_submit(e, job);
    pthread_mutex_lock(&w.m);
    while (!w.done)
        pthread_cond_wait(&w.c, &w.m);
    pthread_mutex_unlock(&w.m);
    pthread_mutex_destroy(&w.m);
    pthread_cond_destroy(&w.c);
    return job->rc;
}
