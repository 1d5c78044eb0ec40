/* store_error — a request-level error as verstore answers it: status, Elasticsearch exception type and reason. */
#include "versync/store/store_error.h"

#include "versync/store/store_util.h"

#include <stdarg.h>
#include <string.h>

void store_error_free(store_error *e)
{
    if (!e)
        return;
    buf_free(&e->reason);
    memset(e, 0, sizeof *e);
}

bool store_error_set(store_error *err, int status, const char *type, const char *fmt, ...)
{
    if (err->status)
        return false; /* the first error is the one reported */
    err->status = status;
    err->type = type;
    buf raw = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    store_util_vappend(&raw, fmt, ap);
    va_end(ap);
    buf_reset(&err->reason);
    store_util_utf8_sanitize(raw.data ? raw.data : "", raw.len, &err->reason);
    buf_free(&raw);
    return false;
}
