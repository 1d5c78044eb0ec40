/* store_pool — a fixed set of worker threads with a bounded queue, for the heavy requests (searches, aggregations, _mget, scrolls) kept off the HTTP threads. */
#ifndef VERSYNC_STORE_POOL_H
#define VERSYNC_STORE_POOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct store_pool store_pool;

/* A task: `run(arg)` on one of the pool's threads. The submitter owns `arg`. */
typedef void (*store_pool_fn)(void *arg);

/* Start `threads` (>= 1) workers taking at most `queue` (>= 0) waiting tasks
 * beyond those running. `nice` (0..19) lowers the workers' scheduling
 * priority so that the HTTP threads answering cheap requests win the CPU.
 * Caller owns the pool (store_pool_free). NULL with `err` filled on failure. */
store_pool *store_pool_new(int threads, int queue, int nice, char *err, size_t errsz);

/* Hold a place for one task. False when every worker is busy and the queue
 * is full (the caller answers 429), or the pool is stopping. Reserving first
 * lets the caller refuse before it commits to waiting (suspends a connection). */
bool store_pool_reserve(store_pool *p);

/* Queue a task in a place store_pool_reserve held; it always runs. */
void store_pool_submit(store_pool *p, store_pool_fn run, void *arg);

/* Called by a running task, on its pool thread, just before it hands its
 * answer over: its place counts as free from here on, so a client that
 * waits for each answer before it sends the next request is never refused
 * because the thread that answered it has not yet returned to the pool.
 * Once per task; the worker frees the place itself when a task does not call
 * it. */
void store_pool_release(store_pool *p);

/* Tasks running or waiting right now. */
size_t store_pool_pending(store_pool *p);

int store_pool_threads(const store_pool *p);
int store_pool_queue(const store_pool *p);

/* Run every queued task, join the workers and free the pool. NULL is a no-op. */
void store_pool_free(store_pool *p);

#endif
