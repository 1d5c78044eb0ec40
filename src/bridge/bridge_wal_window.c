/* bridge_wal_window — which slot position may be confirmed while several _bulk writes of the WAL stream are in flight. */
#include "versync/bridge/wal_window.h"

#include "versync/common/grow.h"

#include <stdlib.h>
#include <string.h>

void wal_window_init(wal_window *w, uint64_t acked)
{
    memset(w, 0, sizeof *w);
    w->acked = acked;
    w->next_ticket = 1;
}

void wal_window_free(wal_window *w)
{
    if (!w)
        return;
    free(w->e);
    w->e = NULL;
    w->n = w->cap = w->open = 0;
}

void wal_window_reset(wal_window *w, uint64_t acked)
{
    w->n = 0;
    w->open = 0;
    w->acked = acked;
}

/* Drop the answered prefix (moving acked) and merge neighbouring answered entries (the later
 * one's upto covers both), so answered batches cost no memory while an earlier one is open. */
static void settle(wal_window *w)
{
    size_t k = 0;
    for (size_t i = 0; i < w->n; i++) {
        if (w->e[i].ticket == 0 && k == 0) {
            if (w->e[i].upto > w->acked)
                w->acked = w->e[i].upto;
            continue;
        }
        if (w->e[i].ticket == 0 && w->e[k - 1].ticket == 0) {
            w->e[k - 1].upto = w->e[i].upto;
            continue;
        }
        w->e[k++] = w->e[i];
    }
    w->n = k;
}

static bool push(wal_window *w, uint64_t ticket, uint64_t upto)
{
    if (w->n && w->e[w->n - 1].upto > upto)
        upto = w->e[w->n - 1].upto; /* never behind an earlier entry: the rule needs order */
    if (!GROW_ARRAY(w->e, w->cap, w->n + 1, 8))
        return false;
    w->e[w->n].ticket = ticket;
    w->e[w->n++].upto = upto;
    return true;
}

uint64_t wal_window_open(wal_window *w, uint64_t upto)
{
    uint64_t t = w->next_ticket;
    if (!push(w, t, upto))
        return 0;
    w->next_ticket++;
    w->open++;
    return t;
}

bool wal_window_done(wal_window *w, uint64_t ticket)
{
    for (size_t i = 0; ticket && i < w->n; i++)
        if (w->e[i].ticket == ticket) {
            w->e[i].ticket = 0;
            w->open--;
            settle(w);
            return true;
        }
    return false;
}

bool wal_window_mark(wal_window *w, uint64_t pos)
{
    if (w->n == 0) {
        if (pos > w->acked)
            w->acked = pos;
        return true;
    }
    if (!push(w, 0, pos))
        return false;
    settle(w);
    return true;
}

uint64_t wal_window_acked(const wal_window *w) { return w->acked; }

size_t wal_window_open_count(const wal_window *w) { return w->open; }
