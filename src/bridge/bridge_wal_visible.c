/* bridge_wal_visible — wait until a fresh snapshot sees the stream's transactions, and let a stop request end
 * such waits (README, "Logical replication capture", point 2 of "Versions"). */
#include "versync/bridge/wal.h"

#include "versync/bridge/pg.h"
#include "versync/bridge/sql_embed.h"
#include "versync/common/buf.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool wal_stop_requested(const wal_stop *st)
{
    if (!st || !st->flag)
        return false;
    if (st->wait_mask) {
        /* Stop signals are blocked outside waits: let a pending one run its flag-setting handler. */
        sigset_t cur;
        sigprocmask(SIG_SETMASK, st->wait_mask, &cur);
        sigprocmask(SIG_SETMASK, &cur, NULL);
    }
    return *st->flag > 0;
}

/* Sleep `us` microseconds with the stop signals unblocked, so one arriving ends the sleep. */
static void stop_sleep(const wal_stop *st, long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    ppoll(NULL, 0, &ts, st ? st->wait_mask : NULL);
}

static int cmp_xid(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int wal_visible_wait(PGconn *pg, const uint32_t *xids, size_t n, const wal_stop *st, long timeout_ms,
                     const char *slot, char *err, size_t errsz)
{
    int rc = -1;
    buf arr = BUF_INIT;
    /* A batch holds few transactions: one array element each, not one per change. */
    uint32_t *u = malloc((n ? n : 1) * sizeof *u);
    if (!u) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    memcpy(u, xids, n * sizeof *u);
    qsort(u, n, sizeof *u, cmp_xid);
    buf_putc(&arr, '{');
    for (size_t i = 0, k = 0; i < n; i++)
        if (i == 0 || u[i] != u[i - 1])
            buf_printf(&arr, "%s%" PRIu32, k++ ? "," : "", u[i]);
    buf_putc(&arr, '}');
    if (!buf_ok(&arr)) {
        snprintf(err, errsz, "out of memory");
        goto done;
    }
    long long deadline = mono_ms() + timeout_ms;
    for (long us = 200;; us = us < 50000 ? us * 2 : us) {
        const char *p[] = {arr.data};
        PGresult *r = pg_exec(pg, sql_text("wal_xids_visible"), 1, p, err, errsz);
        if (!r)
            goto done;
        bool all = strcmp(PQgetvalue(r, 0, 0), "0") == 0;
        PQclear(r);
        if (all) {
            rc = 1;
            goto done;
        }
        /* Not visible yet: usually microseconds, but as long as a synchronous standby takes. */
        if (wal_stop_requested(st)) {
            rc = 0;
            goto done;
        }
        if (mono_ms() >= deadline) {
            snprintf(err, errsz,
                     "replication slot \"%s\": a transaction the stream sent is still not visible to other "
                     "sessions after %ld s; retrying",
                     slot, timeout_ms / 1000);
            goto done;
        }
        stop_sleep(st, us);
    }
done:
    free(u);
    buf_free(&arr);
    return rc;
}
