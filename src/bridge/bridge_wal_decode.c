/* bridge_wal_decode — parse pgoutput's logical replication messages (protocol version 1). */
#include "versync/bridge/wal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A cursor over one message; every read checks the remaining length, so a
 * truncated or hostile message is an error, never a read past its end. */
typedef struct rd {
    const unsigned char *p;
    size_t len, off;
    bool bad;
} rd;

static bool need(rd *r, size_t n)
{
    if (r->bad || r->len - r->off < n) {
        r->bad = true;
        return false;
    }
    return true;
}

static uint64_t get_n(rd *r, int bytes)
{
    if (!need(r, (size_t)bytes))
        return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | r->p[r->off++];
    return v;
}

/* A NUL-terminated string inside the message; NULL (and bad) when unterminated. */
static const char *get_str(rd *r)
{
    if (r->bad)
        return NULL;
    const void *nul = memchr(r->p + r->off, '\0', r->len - r->off);
    if (!nul) {
        r->bad = true;
        return NULL;
    }
    const char *s = (const char *)r->p + r->off;
    r->off = (size_t)((const unsigned char *)nul - r->p) + 1;
    return s;
}

static bool get_tuple(rd *r, wal_tuple *t)
{
    t->ncols = (uint16_t)get_n(r, 2);
    if (r->bad)
        return false;
    if (t->ncols && !(t->cols = calloc(t->ncols, sizeof *t->cols)))
        return false;
    for (uint16_t i = 0; i < t->ncols; i++) {
        wal_value *v = &t->cols[i];
        v->kind = (char)get_n(r, 1);
        if (r->bad)
            return false;
        if (v->kind == 't' || v->kind == 'b') {
            v->len = (uint32_t)get_n(r, 4);
            if (!need(r, v->len))
                return false;
            v->data = (const char *)r->p + r->off;
            r->off += v->len;
        } else if (v->kind != 'n' && v->kind != 'u') {
            r->bad = true;
            return false;
        }
    }
    return true;
}

void wal_msg_clear(wal_msg *m)
{
    if (!m)
        return;
    free(m->old_tuple.cols);
    free(m->new_tuple.cols);
    free(m->atts);
    free(m->relids);
    memset(m, 0, sizeof *m);
}

bool wal_decode(const char *data, size_t len, wal_msg *m, char *err, size_t errsz)
{
    memset(m, 0, sizeof *m);
    rd r = {(const unsigned char *)data, len, 0, false};
    char kind = (char)get_n(&r, 1);
    bool oom = false;
    switch (kind) {
    case 'B':
        m->lsn = get_n(&r, 8);
        m->ts = (int64_t)get_n(&r, 8);
        m->xid = (uint32_t)get_n(&r, 4);
        break;
    case 'C':
        (void)get_n(&r, 1);
        m->lsn = get_n(&r, 8);
        m->end_lsn = get_n(&r, 8);
        m->ts = (int64_t)get_n(&r, 8);
        break;
    case 'M':
        (void)get_n(&r, 1);
        m->lsn = get_n(&r, 8);
        m->prefix = get_str(&r);
        m->content_len = (uint32_t)get_n(&r, 4);
        if (need(&r, m->content_len))
            m->content = (const char *)r.p + r.off;
        break;
    case 'R':
        m->relid = (uint32_t)get_n(&r, 4);
        m->nspname = get_str(&r);
        m->relname = get_str(&r);
        m->replident = (char)get_n(&r, 1);
        m->natts = (uint16_t)get_n(&r, 2);
        if (!r.bad && m->natts && !(m->atts = calloc(m->natts, sizeof *m->atts))) {
            oom = true;
            break;
        }
        for (uint16_t i = 0; !r.bad && i < m->natts; i++) {
            m->atts[i].key = get_n(&r, 1) & 1;
            m->atts[i].name = get_str(&r);
            m->atts[i].type_oid = (uint32_t)get_n(&r, 4);
            (void)get_n(&r, 4); /* typmod */
        }
        break;
    case 'I':
        m->relid = (uint32_t)get_n(&r, 4);
        if ((char)get_n(&r, 1) != 'N')
            r.bad = true;
        else if (!get_tuple(&r, &m->new_tuple) && !r.bad)
            oom = true;
        break;
    case 'U':
    case 'D': {
        m->relid = (uint32_t)get_n(&r, 4);
        char c = (char)get_n(&r, 1);
        if (c == 'K' || c == 'O') {
            m->old_kind = c;
            if (!get_tuple(&r, &m->old_tuple)) {
                oom = !r.bad;
                break;
            }
            if (kind == 'U')
                c = (char)get_n(&r, 1);
        }
        if (kind == 'D') {
            if (!m->old_kind)
                r.bad = true;
        } else if (c != 'N')
            r.bad = true;
        else if (!get_tuple(&r, &m->new_tuple) && !r.bad)
            oom = true;
        break;
    }
    case 'T':
        m->nrelids = (uint32_t)get_n(&r, 4);
        (void)get_n(&r, 1); /* CASCADE / RESTART IDENTITY */
        if (!r.bad && m->nrelids > (len - r.off) / 4)
            r.bad = true;
        else if (!r.bad && m->nrelids && !(m->relids = calloc(m->nrelids, sizeof *m->relids)))
            oom = true;
        for (uint32_t i = 0; !r.bad && !oom && i < m->nrelids; i++)
            m->relids[i] = (uint32_t)get_n(&r, 4);
        break;
    default:
        m->kind = WAL_MSG_OTHER;
        return true;
    }
    if (r.bad || oom) {
        if (oom)
            snprintf(err, errsz, "out of memory decoding a pgoutput '%c' message", kind);
        else
            snprintf(err, errsz, "malformed pgoutput '%c' message (%zu bytes): cut short or invalid at byte %zu",
                     kind, len, r.off);
        wal_msg_clear(m);
        return false;
    }
    m->kind = (wal_msg_kind)kind;
    return true;
}

bool wal_parse_lsn(const char *text, uint64_t *out)
{
    unsigned int hi, lo;
    char tail;
    if (!text || sscanf(text, "%X/%X%c", &hi, &lo, &tail) != 2)
        return false;
    *out = ((uint64_t)hi << 32) | lo;
    return true;
}

void wal_format_lsn(uint64_t lsn, char *out, size_t n)
{
    snprintf(out, n, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}
