/* store_deadline — a per-thread stop signal for the request being worked on. */
#include "versync/store/store_deadline.h"
#include "versync/common/timing.h"

#include "versync/store/store_util.h"

#include <poll.h>
#include <stdatomic.h>
#include <stddef.h>

#ifndef POLLRDHUP
#define POLLRDHUP 0
#endif

/* Per thread: a search runs on one pool thread from start to end, so the
 * scanning loops deep in the engine need no extra argument to find it. */
typedef struct watch {
    bool active;
    bool timed_out, gone;
    int fd;
    int64_t start_ms, deadline_ms; /* deadline INT64_MAX: none */
    int64_t next_fd_ms;            /* when to look at the socket again */
    unsigned calls;
} watch;

static _Thread_local watch w;
static atomic_bool aborting;

/* How often the socket is looked at: a hang-up is noticed within this. */
#define FD_EVERY_MS 20
/* Polls between clock reads: a scanned page or key costs far more. */
#define CLOCK_EVERY 8

void store_deadline_begin(int64_t timeout_ms, int client_fd)
{
    int64_t now = timing_now_ms();
    w = (watch){.active = true, .fd = client_fd, .start_ms = now, .next_fd_ms = now};
    w.deadline_ms = timeout_ms < 0 ? INT64_MAX : now + timeout_ms;
}

void store_deadline_set_timeout(int64_t timeout_ms)
{
    if (w.active)
        w.deadline_ms = timeout_ms < 0 ? INT64_MAX : w.start_ms + timeout_ms;
}

bool store_deadline_has_timeout(void) { return w.active && w.deadline_ms != INT64_MAX; }

bool store_deadline_active(void) { return w.active; }

void store_deadline_end(void) { w = (watch){.fd = -1}; }

/* The peer closed (or reset) the connection. Data waiting to be read is
 * not a hang-up: a client may pipeline its next request. */
static bool peer_gone(int fd)
{
    struct pollfd p = {fd, POLLRDHUP, 0};
    if (poll(&p, 1, 0) != 1)
        return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

bool store_deadline_poll(void)
{
    if (!w.active)
        return false;
    if (w.timed_out || w.gone)
        return true;
    if (++w.calls % CLOCK_EVERY != 1)
        return false;
    int64_t now = timing_now_ms();
    if (now >= w.deadline_ms) {
        w.timed_out = true;
        return true;
    }
    if (atomic_load_explicit(&aborting, memory_order_relaxed)) {
        w.gone = true;
        return true;
    }
    if (w.fd >= 0 && now >= w.next_fd_ms) {
        w.next_fd_ms = now + FD_EVERY_MS;
        if (peer_gone(w.fd)) {
            w.gone = true;
            return true;
        }
    }
    return false;
}

void store_deadline_abort_all(void) { atomic_store(&aborting, true); }

bool store_deadline_timed_out(void) { return w.active && w.timed_out; }

bool store_deadline_client_gone(void) { return w.active && w.gone; }

bool store_deadline_stopped(void) { return w.active && (w.timed_out || w.gone); }
