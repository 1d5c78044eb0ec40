/* store_highlight — the unified highlighter's fragmenter: passages from a bounded sentence break iterator
 * (Elasticsearch's BoundedBreakIteratorScanner), scored as Lucene's PassageScorer scores them, the best kept
 * and formatted as Elasticsearch's CustomPassageFormatter formats them. Works in UTF-16, as Java does, so
 * the analysis offsets index the text directly. */
#include "versync/store/store_highlight.h"

#include "versync/common/grow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/ustring.h>

#define PIVOT 87.0f /* PassageScorer's defaults */
#define K1 1.2f
#define B 0.75f

typedef struct passage {
    int32_t start, end;
    size_t m0, m1; /* its matches: spans[m0..m1) */
    float score;
} passage;

typedef struct hl {
    const store_hl_opts *o;
    UChar *u;
    int32_t n;
    store_hl_span *sp; /* sorted by start, then end */
    size_t nsp;
    passage *heap; /* the best passages so far, the weakest on top */
    size_t nheap, heapcap;
    uint32_t nterms;
    int32_t *doc_tf; /* per term id: its matches in the whole text */
    int32_t *ptf;    /* per term id: its matches in the passage being scored */
} hl;

static int span_cmp(const void *a, const void *b)
{
    const store_hl_span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The order of Lucene's passage queue: score, then start offset. */
static int weaker(const passage *a, const passage *b)
{
    if (a->score != b->score)
        return a->score < b->score;
    return a->start < b->start;
}

static void sift_down(passage *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && weaker(&h[l], &h[m]))
            m = l;
        if (r < n && weaker(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        passage t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(passage *h, size_t i)
{
    while (i && weaker(&h[i], &h[(i - 1) / 2])) {
        passage t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Lucene's PassageScorer: BM25 over the passage's terms, times a norm that
 * favours passages near the start. */
static float score(hl *c, const passage *p)
{
    float numdocs = 1 + (float)c->n / PIVOT, s = 0;
    float len = (float)(p->end - p->start);
    for (size_t i = p->m0; i < p->m1; i++)
        c->ptf[c->sp[i].term]++;
    for (size_t i = p->m0; i < p->m1; i++) {
        uint32_t t = c->sp[i].term;
        if (!c->ptf[t])
            continue; /* counted at its first match */
        float with = 1 + fminf(numdocs, (float)c->doc_tf[t]);
        float weight = (K1 + 1) * (float)log(1 + (numdocs + 0.5) / (with + 0.5));
        float tf = (float)c->ptf[t] / ((float)c->ptf[t] + K1 * ((1 - B) + B * (len / PIVOT)));
        s += tf * weight;
        c->ptf[t] = 0;
    }
    return s * (1 + 1 / (float)log(PIVOT + (float)p->start));
}

/* maybeAddPassage: keep the best nfrag (all when nfrag is 0). */
static bool offer(hl *c, passage p, size_t keep)
{
    p.score = score(c, &p);
    if (keep && c->nheap == keep && weaker(&p, &c->heap[0]) && p.score < c->heap[0].score)
        return true;
    if (!GROW_ARRAY(c->heap, c->heapcap, c->nheap + 1, 8))
        return false;
    c->heap[c->nheap] = p;
    sift_up(c->heap, c->nheap++);
    if (keep && c->nheap > keep) {
        c->heap[0] = c->heap[--c->nheap];
        sift_down(c->heap, c->nheap, 0);
    }
    return true;
}

/* Whole values (number_of_fragments 0): each value with a match is one passage. */
static bool passages_whole(hl *c)
{
    size_t i = 0;
    while (i < c->nsp) {
        int32_t s = c->sp[i].start, vs = s, ve = s;
        while (vs > 0 && c->u[vs - 1] != 0)
            vs--;
        while (ve < c->n && c->u[ve] != 0)
            ve++;
        passage p = {vs, ve, i, i, 0};
        while (i < c->nsp && c->sp[i].start < ve)
            i++;
        p.m1 = i;
        if (!offer(c, p, 0))
            return false;
    }
    return true;
}

/* A forward walk over the boundaries of one value: prev the last boundary
 * at or before the position asked, next the first after it. Matches come in
 * text order, so every question asks about a later position than the one
 * before; ICU's backward search (ubrk_preceding) can cost the whole text per
 * call on long sentences-free text, the walk costs it once. */
typedef struct walk {
    UBreakIterator *bi;
    int32_t prev, next;
} walk;

static void walk_to(walk *w, int32_t x)
{
    while (w->next != UBRK_DONE && w->next <= x) {
        w->prev = w->next;
        w->next = ubrk_next(w->bi);
    }
}

/* Sentences bounded by fragment_size, as BoundedBreakIteratorScanner makes
 * them: from the sentence start before a match, as many whole sentences as
 * fit in fragment_size, at least the one holding the match. Each value is
 * broken alone (Lucene's SplittingBreakIterator at the separator). */
static bool passages_bounded(hl *c, UBreakIterator *bi)
{
    int32_t fs = c->o->fragment_size > 0 ? c->o->fragment_size : 0;
    int32_t vs = -1, ve = -1; /* the value the iterator has: [vs, ve) */
    walk w = {bi, 0, UBRK_DONE};
    passage p = {0, -1, 0, 0, 0};
    for (size_t i = 0; i < c->nsp; i++) {
        int32_t s = c->sp[i].start;
        if (s >= c->n)
            break;
        if (s < p.end)
            continue;
        if (p.end >= 0) {
            p.m1 = i;
            if (!offer(c, p, (size_t)c->o->nfrag))
                return false;
        }
        if (s >= ve) {
            UErrorCode st = U_ZERO_ERROR;
            for (vs = s; vs > 0 && c->u[vs - 1] != 0;)
                vs--;
            for (ve = s; ve < c->n && c->u[ve] != 0;)
                ve++;
            ubrk_setText(bi, c->u + vs, ve - vs, &st);
            if (U_FAILURE(st))
                return false;
            w.prev = ubrk_first(bi);
            w.next = ubrk_next(bi);
        }
        int32_t r = s - vs, n = ve - vs; /* within the value */
        walk_to(&w, r);
        int32_t st = w.prev;
        int64_t target = (int64_t)r + (fs - (r - st) > 0 ? fs - (r - st) : 0);
        int32_t en = n;
        if (target < n) {
            walk_to(&w, (int32_t)target);
            en = w.prev;
            if (en <= st) /* no whole sentence fits: the one holding the match, however long */
                en = w.next == UBRK_DONE || w.next > n ? n : w.next;
        }
        p = (passage){vs + st, vs + en, i, i, 0};
    }
    if (p.end >= 0) {
        p.m1 = c->nsp;
        return offer(c, p, (size_t)c->o->nfrag);
    }
    return true;
}

/* Append u[a..b) as UTF-8, escaped for html when asked. */
static bool put_text(hl *c, buf *b, int32_t a, int32_t e)
{
    if (e <= a)
        return true;
    UErrorCode st = U_ZERO_ERROR;
    int32_t need = 0;
    u_strToUTF8WithSub(NULL, 0, &need, c->u + a, e - a, 0xFFFD, NULL, &st);
    if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st))
        return false;
    char *tmp = malloc((size_t)need + 1);
    if (!tmp)
        return false;
    st = U_ZERO_ERROR;
    u_strToUTF8WithSub(tmp, need + 1, NULL, c->u + a, e - a, 0xFFFD, NULL, &st);
    bool ok = !U_FAILURE(st);
    for (int32_t i = 0; ok && i < need; i++) {
        const char *rep = NULL;
        if (c->o->html) {
            switch (tmp[i]) {
            case '"':
                rep = "&quot;";
                break;
            case '&':
                rep = "&amp;";
                break;
            case '<':
                rep = "&lt;";
                break;
            case '>':
                rep = "&gt;";
                break;
            case '\'':
                rep = "&#x27;";
                break;
            case '/':
                rep = "&#x2F;";
                break;
            default:
                break;
            }
        }
        ok = rep ? buf_puts(b, rep) : buf_putc(b, tmp[i]);
    }
    free(tmp);
    return ok;
}

/* One passage as CustomPassageFormatter writes it: tags around each match,
 * the values' separator dropped from its end, then trimmed as Java's trim. */
static bool format(hl *c, const passage *p, buf *out)
{
    buf f = BUF_INIT;
    int32_t pos = p->start;
    bool ok = true;
    for (size_t i = p->m0; ok && i < p->m1; i++) {
        int32_t s = c->sp[i].start, e = c->sp[i].end;
        if (e <= pos)
            continue; /* inside the previous match */
        ok = put_text(c, &f, pos, s) && buf_puts(&f, c->o->pre) && put_text(c, &f, s > pos ? s : pos, e) &&
             buf_puts(&f, c->o->post);
        pos = e;
    }
    int32_t end = p->end > pos ? p->end : pos;
    if (end > 0 && end <= c->n && c->u[end - 1] == 0 && end - 1 >= pos)
        end--;
    ok = ok && put_text(c, &f, pos, end) && buf_ok(&f);
    if (ok) {
        const char *s = f.data ? f.data : "";
        size_t a = 0, n = f.len;
        while (a < n && (unsigned char)s[a] <= ' ')
            a++;
        while (n > a && (unsigned char)s[n - 1] <= ' ')
            n--;
        ok = buf_put_json_string(out, s + a, n - a);
    }
    buf_free(&f);
    return ok;
}

static int by_start(const void *a, const void *b)
{
    const passage *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int by_score(const void *a, const void *b)
{
    const passage *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return by_start(a, b);
}

/* No match: the first value from its start to the word boundary after
 * no_match_size characters (CustomFieldHighlighter.getSummaryPassagesNoHighlight). */
static bool no_match(hl *c, buf *out, size_t *nout)
{
    int32_t pos = 0;
    while (pos < c->n && c->u[pos] == 0)
        pos++;
    if (pos >= c->n)
        return true;
    int32_t end = pos;
    while (end < c->n && c->u[end] != 0)
        end++;
    if ((int64_t)c->o->no_match_size + pos < end) {
        UErrorCode st = U_ZERO_ERROR;
        UBreakIterator *wb = ubrk_open(UBRK_WORD, "", c->u, c->n, &st);
        if (U_FAILURE(st))
            return false;
        int32_t w = ubrk_following(wb, c->o->no_match_size + pos);
        ubrk_close(wb);
        end = w == UBRK_DONE ? c->n : w;
    }
    passage p = {pos, end, 0, 0, 0};
    if (!format(c, &p, out))
        return false;
    (*nout)++;
    return true;
}

bool store_hl_fragments(const char *text, size_t len, const store_hl_span *spans, size_t nspans,
                        const store_hl_opts *o, buf *out, size_t *nout)
{
    hl c = {.o = o};
    UBreakIterator *bi = NULL;
    UErrorCode st = U_ZERO_ERROR;
    bool ok = false;
    *nout = 0;
    if (len > INT32_MAX / 2)
        return false;
    u_strFromUTF8WithSub(NULL, 0, &c.n, text, (int32_t)len, 0xFFFD, NULL, &st);
    if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st))
        return false;
    st = U_ZERO_ERROR;
    if (!(c.u = malloc(((size_t)c.n + 1) * sizeof *c.u)) ||
        !(c.sp = malloc((nspans ? nspans : 1) * sizeof *c.sp)))
        goto done;
    u_strFromUTF8WithSub(c.u, c.n + 1, NULL, text, (int32_t)len, 0xFFFD, NULL, &st);
    if (U_FAILURE(st))
        goto done;
    for (size_t i = 0; i < nspans; i++) /* a span past the text (a stale offset) is dropped */
        if (spans[i].start >= 0 && spans[i].end > spans[i].start && spans[i].end <= c.n) {
            c.sp[c.nsp++] = spans[i];
            if (spans[i].term >= c.nterms)
                c.nterms = spans[i].term + 1;
        }
    qsort(c.sp, c.nsp, sizeof *c.sp, span_cmp);
    if (!(c.doc_tf = calloc(c.nterms ? c.nterms : 1, sizeof *c.doc_tf)) ||
        !(c.ptf = calloc(c.nterms ? c.nterms : 1, sizeof *c.ptf)))
        goto done;
    for (size_t i = 0; i < c.nsp; i++)
        c.doc_tf[c.sp[i].term]++;
    if (o->nfrag == 0) {
        if (!passages_whole(&c))
            goto done;
    } else if (c.nsp) {
        bi = ubrk_open(UBRK_SENTENCE, "", NULL, 0, &st);
        if (U_FAILURE(st) || !passages_bounded(&c, bi))
            goto done;
    }
    if (!c.nheap) {
        ok = o->no_match_size <= 0 || no_match(&c, out, nout);
        goto done;
    }
    qsort(c.heap, c.nheap, sizeof *c.heap, o->by_score ? by_score : by_start);
    for (size_t i = 0; i < c.nheap; i++) {
        if (i && !buf_putc(out, ','))
            goto done;
        if (!format(&c, &c.heap[i], out))
            goto done;
        (*nout)++;
    }
    ok = buf_ok(out);
done:
    if (bi)
        ubrk_close(bi);
    free(c.u);
    free(c.sp);
    free(c.heap);
    free(c.doc_tf);
    free(c.ptf);
    return ok;
}
