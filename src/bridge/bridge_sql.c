/* bridge_sql — the embedded SQL files with versync's schema filled in. */
#include "versync/buf.h"
#include "versync/sql_embed.h"

#include <string.h>

char *sql_render(const char *name, const char *schema_ident)
{
    static const char token[] = "@schema@";
    const char *text = sql_text(name);
    if (!text)
        return NULL;
    buf b = BUF_INIT;
    bool ok = true;
    for (const char *p = text; ok && *p;) {
        const char *hit = strstr(p, token);
        size_t n = hit ? (size_t)(hit - p) : strlen(p);
        ok = buf_append(&b, p, n) && (!hit || buf_puts(&b, schema_ident));
        p += n + (hit ? sizeof token - 1 : 0);
    }
    if (!ok) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}
