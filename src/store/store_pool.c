/* store_pool — worker threads with a bounded queue for heavy requests. */
#include "versync/store/store_pool.h"

#include "versync/common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct task {
    store_pool_fn run;
    void *arg;
} task;

struct store_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    task *ring; /* capacity threads + queue: a submitted task always has a slot */
    size_t cap, head, n;
    size_t running;
    size_t reserved; /* places held by store_pool_reserve, not yet submitted */
    int threads, queue, nice;
    bool stopping;
    pthread_t *tids;
    int started;
};

/* Set by store_pool_release during the task this thread runs. */
static _Thread_local bool task_released;

static void *worker(void *arg)
{
    store_pool *p = arg;
    if (p->nice > 0) {
        /* Linux: nice values are per thread (the tid names this one). */
        pid_t tid = (pid_t)syscall(SYS_gettid);
        if (setpriority(PRIO_PROCESS, (id_t)tid, p->nice) != 0)
            log_debug("search pool: cannot lower the worker priority: %s", strerror(errno));
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->n && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->n)
            break; /* stopping, queue drained */
        task t = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->n--;
        p->running++;
        pthread_mutex_unlock(&p->mu);
        task_released = false;
        t.run(t.arg);
        pthread_mutex_lock(&p->mu);
        if (!task_released)
            p->running--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

store_pool *store_pool_new(int threads, int queue, int nice, char *err, size_t errsz)
{
    if (threads < 1 || queue < 0) {
        snprintf(err, errsz, "a pool needs at least one thread and a queue of 0 or more");
        return NULL;
    }
    store_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    p->threads = threads;
    p->queue = queue;
    p->nice = nice < 0 ? 0 : nice > 19 ? 19 : nice;
    p->cap = (size_t)threads + (size_t)queue;
    p->ring = calloc(p->cap, sizeof *p->ring);
    p->tids = calloc((size_t)threads, sizeof *p->tids);
    if (!p->ring || !p->tids) {
        free(p->ring);
        free(p->tids);
        free(p);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (; p->started < threads; p->started++) {
        int rc = pthread_create(&p->tids[p->started], NULL, worker, p);
        if (rc) {
            snprintf(err, errsz, "cannot start a search thread: %s", strerror(rc));
            store_pool_free(p);
            return NULL;
        }
    }
    return p;
}

bool store_pool_reserve(store_pool *p)
{
    pthread_mutex_lock(&p->mu);
    /* Room for every worker plus the queue: what is running counts too. */
    bool ok = !p->stopping && p->n + p->running + p->reserved < p->cap;
    if (ok)
        p->reserved++;
    pthread_mutex_unlock(&p->mu);
    return ok;
}

void store_pool_submit(store_pool *p, store_pool_fn run, void *arg)
{
    pthread_mutex_lock(&p->mu);
    p->reserved--;
    p->ring[(p->head + p->n) % p->cap] = (task){run, arg};
    p->n++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void store_pool_release(store_pool *p)
{
    if (task_released)
        return;
    pthread_mutex_lock(&p->mu);
    p->running--;
    task_released = true;
    pthread_mutex_unlock(&p->mu);
}

size_t store_pool_pending(store_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->n + p->running + p->reserved;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int store_pool_threads(const store_pool *p) { return p->threads; }

int store_pool_queue(const store_pool *p) { return p->queue; }

void store_pool_free(store_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->tids[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->ring);
    free(p->tids);
    free(p);
}
