/* store_metrics — verstore's process-wide Prometheus counters and histograms (atomics) and their text rendering. */
#include "versync/store/store_metrics.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <string.h>

/* Status codes verstore answers; anything else is counted as "other". */
static const int statuses[] = {200, 201, 400, 404, 405, 406, 409, 413, 500, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0])

static const char *const ep_names[STORE_EP_COUNT_] = {
    "other", "root", "bulk", "mget", "doc_write", "doc_read", "update",
    "search", "count", "index", "aliases", "cluster", "metrics",
};
static const char *const action_names[4] = {"index", "create", "update", "delete"};
static const char *const res_names[STORE_MRES_COUNT_] = {"created", "updated", "deleted", "not_found",
                                                         "noop",    "conflict", "error"};

/* Seconds; the writer's commits range from ~50 µs (async) to tens of ms (fsync). */
static const double fsync_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
#define NFSYNC (sizeof fsync_bounds / sizeof fsync_bounds[0])
static const unsigned batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define NBATCH (sizeof batch_bounds / sizeof batch_bounds[0])

static atomic_uint_fast64_t g_requests[STORE_EP_COUNT_][NSTATUS + 1];
static atomic_uint_fast64_t g_bulk[4][STORE_MRES_COUNT_];
static atomic_uint_fast64_t g_conflicts;
static atomic_uint_fast64_t g_fsync[NFSYNC + 1], g_fsync_ns;
static atomic_uint_fast64_t g_batch[NBATCH + 1], g_batch_sum;
static atomic_int_fast64_t g_scrolls;
static atomic_uint_fast64_t g_topk_decoded, g_topk_skipped, g_phrase_read, g_phrase_skipped, g_phrase_ranges;
static atomic_uint_fast64_t g_prep_used, g_prep_redone;

void store_metrics_request(store_metrics_ep ep, int status)
{
    size_t s = NSTATUS;
    for (size_t i = 0; i < NSTATUS; i++)
        if (statuses[i] == status) {
            s = i;
            break;
        }
    if ((unsigned)ep >= STORE_EP_COUNT_)
        ep = STORE_EP_OTHER;
    atomic_fetch_add_explicit(&g_requests[ep][s], 1, memory_order_relaxed);
}

void store_metrics_bulk_item(int action, store_metrics_res res)
{
    if (action < 0 || action > 3 || (unsigned)res >= STORE_MRES_COUNT_)
        return;
    atomic_fetch_add_explicit(&g_bulk[action][res], 1, memory_order_relaxed);
}

void store_metrics_topk_blocks(size_t decoded, size_t skipped)
{
    atomic_fetch_add_explicit(&g_topk_decoded, decoded, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_topk_skipped, skipped, memory_order_relaxed);
}

void store_metrics_topk_phrase_docs(size_t read, size_t skipped, size_t ranges)
{
    atomic_fetch_add_explicit(&g_phrase_read, read, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_phrase_skipped, skipped, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_phrase_ranges, ranges, memory_order_relaxed);
}

void store_metrics_prepared_doc(bool used)
{
    atomic_fetch_add_explicit(used ? &g_prep_used : &g_prep_redone, 1, memory_order_relaxed);
}

void store_metrics_conflict(void) { atomic_fetch_add_explicit(&g_conflicts, 1, memory_order_relaxed); }

void store_metrics_fsync(double seconds)
{
    size_t i = 0;
    while (i < NFSYNC && seconds > fsync_bounds[i])
        i++;
    atomic_fetch_add_explicit(&g_fsync[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_fsync_ns, (uint_fast64_t)(seconds * 1e9), memory_order_relaxed);
}

void store_metrics_batch(size_t jobs)
{
    size_t i = 0;
    while (i < NBATCH && jobs > batch_bounds[i])
        i++;
    atomic_fetch_add_explicit(&g_batch[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&g_batch_sum, jobs, memory_order_relaxed);
}

void store_metrics_scroll_contexts(int delta)
{
    atomic_fetch_add_explicit(&g_scrolls, delta, memory_order_relaxed);
}

static uint64_t get(atomic_uint_fast64_t *a) { return (uint64_t)atomic_load_explicit(a, memory_order_relaxed); }

static void head(buf *b, const char *name, const char *type, const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Index names may hold '"' or '\\' only in theory (the name rules forbid '"'
 * and '\\'); escape anyway so the exposition stays parseable. */
static void label_value(buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            buf_putc(b, '\\');
        if (*s == '\n') {
            buf_puts(b, "\\n");
            continue;
        }
        buf_putc(b, *s);
    }
}

typedef struct idx_ctx {
    buf *b;
    bool tombstones;
} idx_ctx;

static bool put_index(const store_index_meta *m, void *arg)
{
    idx_ctx *c = arg;
    buf_puts(c->b, c->tombstones ? "verstore_tombstones{index=\"" : "verstore_documents{index=\"");
    label_value(c->b, m->name);
    buf_printf(c->b, "\"} %" PRId64 "\n", c->tombstones ? m->docs_deleted : m->docs_count);
    return true;
}

bool store_metrics_render(buf *b, store_engine *e)
{
    head(b, "verstore_http_requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
    for (size_t ep = 0; ep < STORE_EP_COUNT_; ep++)
        for (size_t s = 0; s <= NSTATUS; s++) {
            uint64_t v = get(&g_requests[ep][s]);
            if (!v)
                continue;
            if (s < NSTATUS)
                buf_printf(b, "verstore_http_requests_total{endpoint=\"%s\",status=\"%d\"} %" PRIu64 "\n",
                           ep_names[ep], statuses[s], v);
            else
                buf_printf(b, "verstore_http_requests_total{endpoint=\"%s\",status=\"other\"} %" PRIu64 "\n",
                           ep_names[ep], v);
        }
    head(b, "verstore_bulk_items_total", "counter", "Bulk items processed, by action and result.");
    for (size_t a = 0; a < 4; a++)
        for (size_t r = 0; r < STORE_MRES_COUNT_; r++)
            buf_printf(b, "verstore_bulk_items_total{action=\"%s\",result=\"%s\"} %" PRIu64 "\n", action_names[a],
                       res_names[r], get(&g_bulk[a][r]));
    head(b, "verstore_version_conflicts_total", "counter",
         "Writes refused with a version conflict (409), single requests and bulk items.");
    buf_printf(b, "verstore_version_conflicts_total %" PRIu64 "\n", get(&g_conflicts));

    head(b, "verstore_fsync_seconds", "histogram",
         "Time of each writer commit (durable mode: commit and fsync) and of each background sync.");
    uint64_t cum = 0;
    for (size_t i = 0; i < NFSYNC; i++) {
        cum += get(&g_fsync[i]);
        buf_printf(b, "verstore_fsync_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", fsync_bounds[i], cum);
    }
    cum += get(&g_fsync[NFSYNC]);
    buf_printf(b, "verstore_fsync_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    buf_printf(b, "verstore_fsync_seconds_sum %.9f\n", (double)get(&g_fsync_ns) / 1e9);
    buf_printf(b, "verstore_fsync_seconds_count %" PRIu64 "\n", cum);

    head(b, "verstore_writer_batch_jobs", "histogram", "Jobs (requests) the writer committed together in one transaction.");
    cum = 0;
    for (size_t i = 0; i < NBATCH; i++) {
        cum += get(&g_batch[i]);
        buf_printf(b, "verstore_writer_batch_jobs_bucket{le=\"%u\"} %" PRIu64 "\n", batch_bounds[i], cum);
    }
    cum += get(&g_batch[NBATCH]);
    buf_printf(b, "verstore_writer_batch_jobs_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
    buf_printf(b, "verstore_writer_batch_jobs_sum %" PRIu64 "\n", get(&g_batch_sum));
    buf_printf(b, "verstore_writer_batch_jobs_count %" PRIu64 "\n", cum);

    head(b, "verstore_scroll_contexts", "gauge",
         "Open scroll contexts, each holding a read snapshot until it is cleared or expires.");
    buf_printf(b, "verstore_scroll_contexts %" PRId64 "\n",
               (int64_t)atomic_load_explicit(&g_scrolls, memory_order_relaxed));

    head(b, "verstore_search_topk_blocks_total", "counter",
         "Postings blocks of score-ordered text searches: decoded, or skipped on their stored score bound.");
    buf_printf(b, "verstore_search_topk_blocks_total{result=\"decoded\"} %" PRIu64 "\n", get(&g_topk_decoded));
    buf_printf(b, "verstore_search_topk_blocks_total{result=\"skipped\"} %" PRIu64 "\n", get(&g_topk_skipped));
    head(b, "verstore_search_topk_phrase_docs_total", "counter",
         "Documents holding every term of a score-ordered phrase search: positions read, or skipped on the "
         "score bound of their term frequencies and length.");
    buf_printf(b, "verstore_search_topk_phrase_docs_total{result=\"read\"} %" PRIu64 "\n", get(&g_phrase_read));
    buf_printf(b, "verstore_search_topk_phrase_docs_total{result=\"skipped\"} %" PRIu64 "\n",
               get(&g_phrase_skipped));
    head(b, "verstore_search_topk_phrase_ranges_skipped_total", "counter",
         "Ranges of postings blocks a score-ordered exact phrase search passed over whole, on the stored "
         "impacts of its terms, without walking their documents.");
    buf_printf(b, "verstore_search_topk_phrase_ranges_skipped_total %" PRIu64 "\n", get(&g_phrase_ranges));
    head(b, "verstore_index_prepared_docs_total", "counter",
         "Documents analysed before they reached the writer: the entries used, or analysed again by the writer "
         "because an index's mapping or settings changed in between.");
    buf_printf(b, "verstore_index_prepared_docs_total{result=\"used\"} %" PRIu64 "\n", get(&g_prep_used));
    buf_printf(b, "verstore_index_prepared_docs_total{result=\"redone\"} %" PRIu64 "\n", get(&g_prep_redone));

    store_rtxn *t = store_engine_read_begin(e);
    if (!t)
        return false;
    idx_ctx c = {b, false};
    head(b, "verstore_documents", "gauge", "Live documents per index.");
    bool ok = store_engine_index_each(t, put_index, &c);
    head(b, "verstore_tombstones", "gauge", "Delete tombstones kept per index.");
    c.tombstones = true;
    ok = ok && store_engine_index_each(t, put_index, &c);
    size_t lv[8];
    int nl = ok ? store_engine_value_levels(t, lv, sizeof lv / sizeof *lv) : -1;
    if (nl > 0) {
        head(b, "verstore_values_level_entries", "gauge",
             "Entries (value, document) in each level of the exact-value index; level 0 is the newest.");
        for (int i = 0; i < nl; i++)
            buf_printf(b, "verstore_values_level_entries{level=\"%d\"} %zu\n", i, lv[i]);
    }
    size_t pb[2];
    bool pok = ok && store_engine_postings_levels(t, pb);
    if (pok) {
        head(b, "verstore_postings_level_blocks", "gauge",
             "Postings blocks in the recent level (0), where new postings go, and the older level (1).");
        for (int i = 0; i < 2; i++)
            buf_printf(b, "verstore_postings_level_blocks{level=\"%d\"} %zu\n", i, pb[i]);
    }
    store_engine_read_end(t);
    return ok && nl >= 0 && pok;
}
