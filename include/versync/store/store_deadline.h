/* store_deadline — a per-thread stop signal for the request being worked on: its time budget (search `timeout`) and whether its client is still connected. */
#ifndef VERSYNC_STORE_DEADLINE_H
#define VERSYNC_STORE_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

/* Start watching the calling thread's request: stop it `timeout_ms` from now
 * (< 0: no time limit), and as soon as the peer of socket `client_fd` hangs
 * up (< 0: not watched). Until store_deadline_end the loops that scan index
 * structures ask store_deadline_poll and end early once it says stop. */
void store_deadline_begin(int64_t timeout_ms, int client_fd);

/* The request's own time limit (its `timeout`) replaces the one given to
 * begin, counted from begin; < 0 removes it. No-op when not watching. */
void store_deadline_set_timeout(int64_t timeout_ms);

/* True when the request's time limit is in force (set and not -1). */
bool store_deadline_has_timeout(void);

/* True between store_deadline_begin and store_deadline_end. */
bool store_deadline_active(void);

/* Stop watching; polls answer false again. */
void store_deadline_end(void);

/* True once the work must stop: its time is up or its client is gone. Sticky
 * until store_deadline_end. Cheap enough to call once per scanned page or
 * key: it reads the clock every few calls and the socket every few ms. */
bool store_deadline_poll(void);

/* From now on every watched request stops at its next poll, as if its
 * client had gone: a shutdown past its grace period ends long searches
 * instead of waiting for them. Process-wide; cannot be undone. */
void store_deadline_abort_all(void);

/* True when a poll answered stop because the time limit passed. */
bool store_deadline_timed_out(void);

/* True when a poll answered stop because the client closed the connection. */
bool store_deadline_client_gone(void);

/* True when a poll has answered stop (either reason). */
bool store_deadline_stopped(void);

#endif
