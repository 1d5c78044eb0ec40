/* store_engine — verstore's durable engine: opening and checking the data directory, closing, the background syncer. */
#include "versync/store/store_engine_int.h"

#include "versync/store/store_metrics.h"
#include "versync/store/store_util.h"

#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ---- open/close --------------------------------------------------------- */

static void *syncer_main(void *arg);

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
    e->vlevel_entries = o->vlevel_entries ? o->vlevel_entries : STORE_VLEVEL_NEWEST_DEFAULT;
    e->plevel_pages = o->plevel_pages_set ? o->plevel_pages : STORE_PLEVEL_PAGES_DEFAULT;
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
    mdb_env_set_maxdbs(e->env, 24);
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
        (rc = mdb_dbi_open(txn, "pblocks1", MDB_CREATE, &e->pdb.recent)) ||
        (rc = mdb_dbi_open(txn, "exists", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &e->dbi_exists)) ||
        (rc = mdb_dbi_open(txn, "seqs", MDB_CREATE, &e->dbi_seqs)) ||
        (rc = mdb_dbi_open(txn, "fieldstats", MDB_CREATE, &e->dbi_fstats)) ||
        (rc = mdb_dbi_open(txn, "longvalues", MDB_CREATE, &e->dbi_longvals))) {
        snprintf(err, errsz, "cannot open the databases in %s/data.mdb: %s", o->dir, mdb_strerror(rc));
        goto fail;
    }
    for (int l = 0; l < STORE_VLEVELS; l++) {
        char name[24];
        snprintf(name, sizeof name, l ? "values%d" : "values", l); /* level 0 kept its format-3 name */
        if ((rc = mdb_dbi_open(txn, name, MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &e->dbi_vals[l]))) {
            snprintf(err, errsz, "cannot open the databases in %s/data.mdb: %s", o->dir, mdb_strerror(rc));
            goto fail;
        }
    }
    if (!check_data_file(e, txn, err, errsz))
        goto fail;
    if ((rc = store_eng_search_upgrade(e, txn))) {
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

    mdb_env_info(e->env, &info);
    atomic_store(&e->idx_txn, info.me_last_txnid); /* every snapshot from now on sees the index records */
    e->instance = store_eng_prep_instance();
    if (pthread_create(&e->writer, NULL, store_eng_writer_main, e)) {
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
    store_eng_prep_forget(e);
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
