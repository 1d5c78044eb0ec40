/* store_engine_prep — documents analysed on the submitting thread, before the writer: the writer is one thread,
 * so every microsecond of tokenizing it does is a microsecond no other write can use. */
#include "versync/store/store_engine_int.h"

#include "versync/common/grow.h"
#include "versync/store/store_metrics.h"

#include <errno.h>
#include <stdlib.h>

/* Why this is safe. A document's entries depend only on its source, its id
 * and its index's mapping (with the limits and analyzers of its settings),
 * and all of those live in the index record. The submitting thread builds
 * the mapping from the record a read snapshot holds and remembers the
 * snapshot's transaction id; the writer uses the entries only when no
 * committed transaction after that snapshot wrote an index record
 * (e->idx_txn) and its own transaction has not changed one either
 * (wctx.indices_written, or fields the transaction's earlier documents
 * added: cache_ent.map_dirty). Otherwise it analyses the document again,
 * exactly as it did before this file existed. A document that would add
 * fields to the mapping is always left to the writer, which owns the
 * mapping. */

/* Prepared entries held by one job, at most: past it the writer analyses
 * the rest (a bulk body is bounded, but its entries can be several times
 * its size). */
#define PREP_MAX_BYTES ((size_t)64 << 20)
/* Distinct indices one job prepares for; the rest are left to the writer. */
#define PREP_MAX_INDICES 8

typedef struct prep_doc {
    store_doc_index d;
    uint32_t number; /* the index the entries were made for */
    size_t txn;      /* the snapshot its mapping was read from */
    bool ok;
} prep_doc;

struct store_prep {
    prep_doc *docs; /* one per op of the job */
    size_t n;
};

/* One index's mapping as a submitting thread built it. */
typedef struct prep_map {
    uint64_t engine; /* store_engine.instance */
    char name[STORE_MAX_INDEX_NAME + 1];
    uint32_t number;
    size_t txn;
    bool usable; /* false: missing, an alias, or changed by a document that added fields */
    bool built;  /* `map` holds a mapping to free */
    store_mapping map;
} prep_map;

/* Each thread keeps the last mapping it built: a single-document write
 * would otherwise parse the mapping to save the writer less work than the
 * parse. Valid while no index record changed since its snapshot. */
static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t next_instance = 1;

static void map_free(prep_map *pm)
{
    if (pm && pm->built)
        store_mapping_free(&pm->map);
    if (pm)
        pm->built = false;
}

static void cache_destroy(void *p)
{
    map_free(p);
    free(p);
}

static void cache_init(void)
{
    if (pthread_key_create(&cache_key, cache_destroy))
        cache_key = (pthread_key_t)-1;
}

uint64_t store_eng_prep_instance(void) { return atomic_fetch_add(&next_instance, 1); }

void store_eng_mapping_build(const char *name, const buf *settings, const buf *mappings, store_mapping *out)
{
    char err[256];
    if (!store_mapping_parse(mappings->data, mappings->len, out, err, sizeof err)) {
        log_error("storage: the mapping of [%s] is unreadable (%s); indexing it as empty", name, err);
        store_mapping_parse(NULL, 0, out, err, sizeof err);
    }
    store_mapping_limits_from_settings(out, settings->data, settings->len);
    if (!store_mapping_set_analysis(out, settings->data, settings->len, err, sizeof err))
        log_error("storage: the analysis settings of [%s] do not build (%s); using the built-in analyzers", name, err);
}

/* The mapping of index `name` into *pm: the thread's cached one when no
 * index record changed since it was built, else built from a new snapshot.
 * pm->usable is false when `name` is not an index in the snapshot or the
 * snapshot could not be read (logged where it failed). */
static void map_get(store_engine *e, const char *name, prep_map *pm)
{
    memset(pm, 0, sizeof *pm);
    snprintf(pm->name, sizeof pm->name, "%s", name);
    pm->engine = e->instance;
    prep_map *cached = cache_key == (pthread_key_t)-1 ? NULL : pthread_getspecific(cache_key);
    if (cached && cached->built && cached->engine == e->instance && strcmp(cached->name, name) == 0 &&
        atomic_load(&e->idx_txn) <= cached->txn) {
        *pm = *cached;
        cached->built = false; /* moved: this job owns it until map_put */
        return;
    }
    store_rtxn *r = store_engine_read_begin(e);
    if (!r)
        return;
    pm->txn = mdb_txn_id(r->txn);
    buf settings = BUF_INIT, mappings = BUF_INIT;
    store_index_meta m;
    store_lookup lk = store_eng_index_load(r->txn, e, name, &m, &settings, &mappings);
    store_engine_read_end(r);
    if (lk == STORE_LOOKUP_FOUND) {
        pm->number = m.number;
        store_eng_mapping_build(name, &settings, &mappings, &pm->map);
        pm->built = pm->usable = true;
    }
    buf_free(&settings);
    buf_free(&mappings);
}

/* Done with *pm: kept as the thread's cached mapping when still usable. */
static void map_put(prep_map *pm)
{
    if (!pm->built || !pm->usable || cache_key == (pthread_key_t)-1) {
        map_free(pm);
        return;
    }
    prep_map *cached = pthread_getspecific(cache_key);
    if (!cached) {
        if (!(cached = calloc(1, sizeof *cached)) || pthread_setspecific(cache_key, cached)) {
            free(cached);
            map_free(pm);
            return;
        }
    }
    map_free(cached);
    *cached = *pm;
    pm->built = false;
}

static bool preparable(const store_op *op)
{
    return (op->w.kind == STORE_OP_INDEX || op->w.kind == STORE_OP_CREATE) && op->src && !op->upd &&
           !op->require_alias && strlen(op->index) <= STORE_MAX_INDEX_NAME;
}

static size_t doc_bytes(const store_doc_index *d)
{
    return d->text.cap + d->cap * sizeof *d->ents + d->poscap * sizeof *d->pos + d->cause.cap;
}

void store_eng_prepare(store_engine *e, store_job *job)
{
    job->prep = NULL;
    if (job->kind != STORE_JOB_DOCS || !job->nops)
        return;
    size_t k = 0;
    while (k < job->nops && !preparable(&job->ops[k]))
        k++;
    if (k == job->nops)
        return;
    pthread_once(&cache_once, cache_init);
    struct store_prep *p = calloc(1, sizeof *p);
    if (!p || !(p->docs = calloc(job->nops, sizeof *p->docs))) {
        free(p);
        return; /* the writer analyses everything, as without this file */
    }
    p->n = job->nops;
    prep_map maps[PREP_MAX_INDICES];
    size_t nmaps = 0, bytes = 0, last = 0;
    buf reason = BUF_INIT;
    for (size_t i = k; i < job->nops && bytes < PREP_MAX_BYTES; i++) {
        const store_op *op = &job->ops[i];
        if (!preparable(op))
            continue;
        size_t mi = 0;
        while (mi < nmaps && strcmp(maps[mi].name, op->index) != 0)
            mi++;
        if (mi == nmaps) {
            if (nmaps == PREP_MAX_INDICES)
                continue;
            map_get(e, op->index, &maps[nmaps++]);
        }
        prep_map *pm = &maps[mi];
        if (!pm->usable)
            continue;
        prep_doc *pd = &p->docs[i];
        const char *etype = NULL;
        buf_reset(&reason);
        bool ok = store_index_doc(&pm->map, op->src, op->src_len, op->id, op->id_len, false, &pd->d, &etype, &reason);
        if (ok && pd->d.mapping_changed)
            pm->usable = false; /* the writer adds the fields; this copy of the mapping is now ahead of it */
        /* A refused document is left to the writer, which words the refusal. */
        pd->ok = ok && !pd->d.mapping_changed;
        pd->number = pm->number;
        pd->txn = pm->txn;
        if (!pd->ok)
            store_doc_index_free(&pd->d);
        else
            last = mi;
        bytes += doc_bytes(&pd->d);
    }
    buf_free(&reason);
    for (size_t i = 0; i < nmaps; i++)
        if (i != last)
            map_free(&maps[i]);
    if (nmaps)
        map_put(&maps[last]);
    job->prep = p;
}

const store_doc_index *store_eng_prepared(const wctx *c, const store_job *job, size_t i, const cache_ent *ent)
{
    if (!job->prep || i >= job->prep->n || !job->prep->docs[i].ok)
        return NULL;
    const prep_doc *pd = &job->prep->docs[i];
    bool fresh = !c->indices_written && !ent->map_dirty && ent->m.number == pd->number &&
                 atomic_load(&c->e->idx_txn) <= pd->txn;
    store_metrics_prepared_doc(fresh);
    return fresh ? &pd->d : NULL;
}

void store_eng_prep_free(store_job *job)
{
    struct store_prep *p = job->prep;
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        store_doc_index_free(&p->docs[i].d);
    free(p->docs);
    free(p);
    job->prep = NULL;
}

void store_eng_prep_forget(const store_engine *e)
{
    pthread_once(&cache_once, cache_init); /* an engine closed before anything was prepared: the key must exist */
    prep_map *cached = cache_key == (pthread_key_t)-1 ? NULL : pthread_getspecific(cache_key);
    if (cached && cached->engine == e->instance)
        map_free(cached);
}
