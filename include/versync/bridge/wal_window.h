/* wal_window — which slot position may be confirmed while several _bulk writes of the WAL stream are in flight. */
#ifndef VERSYNC_WAL_WINDOW_H
#define VERSYNC_WAL_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The rule (README, "Logical replication capture", "Several writes in flight"): batches are
 * opened in stream order, each with the position `upto` that every change of it and of every
 * earlier batch lies at or below (the end of the last whole transaction read when it was
 * opened); they may be answered in any order. The confirmed position is the `upto` of the
 * longest prefix of batches all answered for, so a position is confirmed only once every change
 * at or below it was acknowledged, refused as stale, or dead-lettered.
 *
 * Memory is bounded by the batches not yet answered: runs of answered batches are merged, so
 * a window with k open batches holds at most 2k+1 entries. */

typedef struct wal_window_entry {
    uint64_t ticket; /* 0: answered (or a mark), else the open batch's ticket */
    uint64_t upto;
} wal_window_entry;

typedef struct wal_window {
    uint64_t acked;       /* every change at or below this was answered for */
    uint64_t next_ticket; /* the ticket of the next batch opened (starts at 1) */
    wal_window_entry *e;  /* in stream order; heap, owned */
    size_t n, cap;
    size_t open;          /* batches not yet answered */
} wal_window;

/* Start empty at `acked`; wal_window_free releases it (a zeroed window is a no-op). */
void wal_window_init(wal_window *w, uint64_t acked);
void wal_window_free(wal_window *w);

/* Forget every batch (the stream is read again from `acked`, e.g. after a reconnection). */
void wal_window_reset(wal_window *w, uint64_t acked);

/* Open a batch whose changes (and all earlier ones) lie at or below `upto`, which is never less
 * than an earlier batch's or mark's. Returns its ticket (> 0), or 0 when out of memory. */
uint64_t wal_window_open(wal_window *w, uint64_t upto);

/* The batch of `ticket` was answered for: the confirmed position moves past every prefix of
 * answered batches. False when `ticket` is not an open batch (nothing changes). */
bool wal_window_done(wal_window *w, uint64_t ticket);

/* Everything read up to `pos` that was not put in a batch needs no write (keepalives, other
 * tables' transactions): confirm it as soon as the batches before it are answered for. False
 * when out of memory (nothing changes; a later mark will do). */
bool wal_window_mark(wal_window *w, uint64_t pos);

/* The confirmed position: every change at or below it is answered for. */
uint64_t wal_window_acked(const wal_window *w);

/* How many batches are not yet answered for. */
size_t wal_window_open_count(const wal_window *w);

#endif
