/* store_breaker — verstore's parent circuit breaker: one global budget (--max-memory) for the big allocations requests make. */
#include "versync/store/store_breaker.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Accounting covers what grows with a request (bodies, answers, hit lists,
 * scroll state), not the process's fixed costs: like Elasticsearch's
 * breakers it estimates, and refuses the request that would cross the line
 * rather than letting the kernel's OOM killer pick a victim. */
static atomic_uint_fast64_t g_used;
static uint64_t g_limit;
static _Thread_local uint64_t t_wanted; /* of this thread's last refusal: its error's bytes_wanted */

void store_breaker_set_limit(uint64_t bytes) { g_limit = bytes; }

uint64_t store_breaker_limit(void) { return g_limit; }

uint64_t store_breaker_used(void) { return atomic_load(&g_used); }

void store_breaker_fmt_size(char *out, size_t outsz, uint64_t bytes)
{
    static const char *const units[] = {"b", "kb", "mb", "gb", "tb", "pb"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    char num[32];
    if (u == 0 || v == (double)(uint64_t)v)
        snprintf(num, sizeof num, "%" PRIu64, (uint64_t)v);
    else {
        snprintf(num, sizeof num, "%.1f", v);
        size_t n = strlen(num);
        if (n > 2 && strcmp(num + n - 2, ".0") == 0)
            num[n - 2] = '\0';
    }
    snprintf(out, outsz, "%" PRIu64 "/%s%s", bytes, num, units[u]);
}

bool store_breaker_add(uint64_t bytes, const char *label, char *reason, size_t reasonsz)
{
    uint64_t cur = atomic_load(&g_used);
    for (;;) {
        if (g_limit && cur + bytes > g_limit) {
            t_wanted = cur + bytes;
            if (reason) {
                char would[64], lim[64], used[64], add[64];
                store_breaker_fmt_size(would, sizeof would, cur + bytes);
                store_breaker_fmt_size(lim, sizeof lim, g_limit);
                store_breaker_fmt_size(used, sizeof used, cur);
                store_breaker_fmt_size(add, sizeof add, bytes);
                snprintf(reason, reasonsz,
                         "[parent] Data too large, data for [%s] would be [%s], which is larger than the limit of "
                         "[%s], real usage: [%s], new bytes reserved: [%s]",
                         label, would, lim, used, add);
            }
            return false;
        }
        if (atomic_compare_exchange_weak(&g_used, &cur, cur + bytes))
            return true;
    }
}

void store_breaker_force(uint64_t bytes) { atomic_fetch_add(&g_used, bytes); }

void store_breaker_release(uint64_t bytes) { atomic_fetch_sub(&g_used, bytes); }

void store_breaker_error_body(buf *b, const char *reason)
{
    char extra[160];
    snprintf(extra, sizeof extra, ",\"bytes_wanted\":%" PRIu64 ",\"bytes_limit\":%" PRIu64 ",\"durability\":\"TRANSIENT\"",
             t_wanted, g_limit);
    buf_reset(b);
    buf_puts(b, "{\"error\":{\"root_cause\":[{\"type\":\"circuit_breaking_exception\",\"reason\":");
    buf_put_json_string(b, reason, strlen(reason));
    buf_puts(b, extra);
    buf_puts(b, "}],\"type\":\"circuit_breaking_exception\",\"reason\":");
    buf_put_json_string(b, reason, strlen(reason));
    buf_puts(b, extra);
    buf_puts(b, "},\"status\":429}");
}
