/* store_engine_writer — the single writer thread: job queue, group commit, map growth, full-disk handling. */
#include "versync/store/store_engine_int.h"

#include "versync/common/grow.h"
#include "versync/store/store_metrics.h"
#include "versync/store/store_util.h"

#include <errno.h>
#include <stdlib.h>

/* One transaction for a batch of jobs: each job executed in order, then the
 * cache written back and the transaction committed. */
static int run_txn(store_engine *e, store_job **jobs, size_t n)
{
    wctx c;
    if (!store_eng_wctx_init(&c, e, NULL)) {
        store_eng_wctx_free(&c);
        return ENOMEM;
    }
    int rc = mdb_txn_begin(e->env, NULL, 0, &c.txn);
    if (rc) {
        store_eng_wctx_free(&c);
        return rc;
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = store_eng_exec_job(&c, jobs[i]);
    if (!rc)
        rc = store_eng_batch_flush(&c);
    if (!rc)
        rc = store_postings_compact(c.pb, c.txn, &e->pdb, e->plevel_pages, &e->pmove_next);
    if (!rc)
        rc = store_eng_values_compact(c.txn, e);
    if (!rc)
        rc = store_eng_cache_flush(&c);
    if (!rc) {
        size_t id = mdb_txn_id(c.txn);
        int64_t t0 = mono_ns();
        rc = mdb_txn_commit(c.txn);
        store_metrics_fsync((double)(mono_ns() - t0) / 1e9);
        if (rc == 0 && c.indices_written)
            atomic_store(&e->idx_txn, id); /* documents prepared from older snapshots are stale now */
    } else
        mdb_txn_abort(c.txn);
    store_eng_wctx_free(&c);
    if (rc == 0 && !e->durable)
        atomic_store(&e->dirty, true);
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

void *store_eng_writer_main(void *arg)
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
        for (size_t i = 0; i < n; i++) {
            store_eng_prep_free(batch[i]);
            batch[i]->done(batch[i]);
        }
    }
    free(batch);
    return NULL;
}

void store_engine_submit(store_engine *e, store_job *job)
{
    store_eng_prepare(e, job);
    store_eng_enqueue(e, job);
}

void store_eng_enqueue(store_engine *e, store_job *job)
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

store_job_rc store_engine_execute(store_engine *e, store_job *job)
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
