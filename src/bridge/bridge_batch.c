/* bridge_batch — the pure steps of a worker batch: coalescing, applying re-read rows, classifying answers. */
#include "versync/bridge/batch.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int batch_cmp_change(const void *a, const void *b)
{
    const batch_change *x = a, *y = b;
    int c = strcmp(x->tbl, y->tbl);
    if (c)
        return c;
    if (!x->id || !y->id) /* truncates sort by seq only */
        c = (x->id != NULL) - (y->id != NULL);
    else
        c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

cfg_table *batch_find_table(const cfg *c, const char *ident, size_t *idx)
{
    for (size_t i = 0; i < c->ntables; i++)
        if (strcmp(c->tables[i].ident, ident) == 0) {
            *idx = i;
            return &c->tables[i];
        }
    return NULL;
}

void batch_dead(batch_item *it, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->error, sizeof it->error, fmt, ap);
    va_end(ap);
    it->act = BATCH_DEAD;
    it->outcome = BULK_DEAD;
}

/* Decide what one coalesced item does before any re-read. */
static void decide(const cfg *c, const bool *table_ok, char *const *table_err, batch_item *it)
{
    if (!it->rep->id) {
        it->act = BATCH_NONE; /* truncate: applied after the re-reads */
        return;
    }
    if (!it->t) {
        batch_dead(it, "table %s is not in the config (%s)", it->rep->tbl, c->path ? c->path : "");
        return;
    }
    if (!table_ok[it->tidx]) {
        batch_dead(it, "table %s: %s", it->t->ident,
                   table_err && table_err[it->tidx] ? table_err[it->tidx] : "key unknown");
        return;
    }
    if (it->rep->nkey != it->t->nkey) {
        batch_dead(it, "table %s: change has %zu key parts, the mapping's key has %zu", it->t->ident, it->rep->nkey,
                   it->t->nkey);
        return;
    }
    if (it->rep->op != 'D') {
        it->act = BATCH_INDEX;
        return;
    }
    if (it->t->deletes_ignore) {
        it->act = BATCH_NONE;
        return;
    }
    it->act = BATCH_DELETE;
    it->version = it->t->version_kind == CFG_VERSION_SEQ ? it->max_seq : it->max_version;
    if (it->version < 0)
        batch_dead(it, "table %s, key %s: delete version %" PRId64 " is negative", it->t->ident, it->rep->id,
                   it->version);
}

size_t batch_coalesce(const cfg *c, const bool *table_ok, char *const *table_err, batch_change *changes, size_t n,
                      batch_item *items, long long *coalesced)
{
    size_t nitems = 0;
    *coalesced = 0;
    qsort(changes, n, sizeof *changes, batch_cmp_change);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        if (changes[i].id)
            while (j < n && changes[j].id && strcmp(changes[j].tbl, changes[i].tbl) == 0 &&
                   strcmp(changes[j].id, changes[i].id) == 0)
                j++;
        batch_item *it = &items[nitems++];
        memset(it, 0, sizeof *it);
        it->rep = &changes[j - 1];
        it->max_seq = it->rep->seq;
        it->max_version = -1;
        it->folded = (long long)(j - i - 1);
        *coalesced += it->folded;
        it->tidx = c->ntables;
        it->t = batch_find_table(c, it->rep->tbl, &it->tidx);
        for (size_t k = i; k < j; k++) {
            int64_t v = changes[k].seq;
            if (changes[k].version_text)
                v = strtoll(changes[k].version_text, NULL, 10);
            if (v > it->max_version)
                it->max_version = v;
        }
        i = j;
        decide(c, table_ok, table_err, it);
    }
    return nitems;
}

batch_item *batch_find_item(batch_item *items, size_t lo, size_t hi, const char *id)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *mid_id = items[mid].rep->id;
        int c = mid_id ? strcmp(mid_id, id) : -1; /* truncates (no id) sort first */
        if (c == 0)
            return &items[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

void batch_apply_row(batch_item *it, const char *doc, size_t doc_len, const char *version_text, bool soft_deleted)
{
    const cfg_table *t = it->t;
    it->want = false;
    it->act = BATCH_INDEX;
    it->doc = doc;
    it->doc_len = doc_len;
    if (t->version_kind == CFG_VERSION_SEQ) {
        it->version = it->max_seq;
    } else {
        char why[160];
        if (!bulk_parse_version(version_text, &it->version, why, sizeof why)) {
            batch_dead(it, "table %s, key %s: version %s \"%s\" %s", t->ident, it->rep->id,
                       t->version_kind == CFG_VERSION_TIMESTAMP ? "timestamp" : "column", t->version_column, why);
            return;
        }
    }
    if (soft_deleted && !t->deletes_ignore)
        it->act = BATCH_DELETE;
}

void batch_nested_finish(batch_item *items, size_t n, int64_t nested_version, bool (*is_tree)(const cfg_table *))
{
    for (size_t i = 0; nested_version >= 0 && i < n; i++) {
        batch_item *it = &items[i];
        if (!is_tree(it->t))
            continue;
        /* Gone at the re-read: delete, whatever the batch's last change said (a child's change
         * can name a root after the root's delete, its walk having run before that committed). */
        if (it->act == BATCH_NONE && it->want && !it->t->deletes_ignore)
            it->act = BATCH_DELETE;
        if (it->act == BATCH_INDEX || it->act == BATCH_DELETE)
            it->version = nested_version;
    }
}

batch_class batch_classify(const batch_item *it)
{
    if (it->act == BATCH_NONE)
        return BATCH_SKIPPED;
    switch (it->outcome) {
    case BULK_APPLIED:
        return BATCH_APPLIED;
    case BULK_STALE:
        return BATCH_STALE;
    case BULK_REGRESSED:
        return BATCH_REGRESSED;
    case BULK_DEAD:
        return BATCH_DEAD_LETTER;
    case BULK_RETRY:
        break;
    }
    return BATCH_RETRY;
}

void batch_count(worker_counters *d, batch_class k)
{
    switch (k) {
    case BATCH_SKIPPED:
        d->skipped++;
        break;
    case BATCH_APPLIED:
        d->applied++;
        break;
    case BATCH_STALE:
        d->stale++;
        break;
    case BATCH_REGRESSED:
        /* Loud, never a silent stale: the application's version did not advance; counted
         * among the dead letters too, being one of its own kind. */
        d->version_regressed++;
        d->dead_letters++;
        break;
    case BATCH_DEAD_LETTER:
        d->dead_letters++;
        break;
    case BATCH_RETRY:
        break;
    }
}

void batch_regressed_message(batch_item *it)
{
    char why[sizeof it->error];
    snprintf(why, sizeof why, "%s", it->error);
    const char *col = it->t->version_column ? it->t->version_column : "";
    snprintf(it->error, sizeof it->error,
             "%.400s; table %.100s, key %.100s, row version %" PRId64 ". The application's %s \"%s\" must grow with every "
             "change of a row. Remedy: set \"managed\": true on this table's version (versync then keeps it) and "
             "run versync init, or make the application bump \"%.60s\" on every change; the row is written again "
             "once its version exceeds the store's (versync verify --repair rewrites an equal version and prints "
             "the UPDATE that lifts a lower one)",
             why, it->t->ident, it->rep->id, it->version,
             it->t->version_kind == CFG_VERSION_TIMESTAMP ? "timestamp" : "column", col, col);
}

const char *batch_oldest(const batch_change *changes, size_t n)
{
    /* Changes arrive in seq order; the oldest changed_at is the first's only roughly
     * (clock_timestamp per row), so take the minimum by text order of the same-format
     * timestamps — close enough for a lag figure. */
    const char *oldest = n ? changes[0].changed_at : NULL;
    for (size_t i = 1; i < n; i++)
        if (strcmp(changes[i].changed_at, oldest) < 0)
            oldest = changes[i].changed_at;
    return oldest;
}
