/* bridge_sql — the embedded SQL files with versync's schema filled in. */
#include "versync/common/buf.h"
#include "versync/bridge/sql_embed.h"

#include <string.h>

static char *render_text(const char *text, size_t len, const char *const *vars)
{
    buf b = BUF_INIT;
    const char *end = text + len;
    for (const char *p = text; p < end;) {
        bool done = false;
        for (size_t i = 0; *p == '@' && vars[i]; i += 2) {
            size_t n = strlen(vars[i]);
            if (strncmp(p + 1, vars[i], n) == 0 && p[1 + n] == '@') {
                if (!buf_puts(&b, vars[i + 1]))
                    goto oom;
                p += n + 2;
                done = true;
                break;
            }
        }
        if (!done && !buf_putc(&b, *p++))
            goto oom;
    }
    return buf_steal(&b);
oom:
    buf_free(&b);
    return NULL;
}

char *sql_render_vars(const char *name, const char *const *vars)
{
    const char *text = sql_text(name);
    return text ? render_text(text, strlen(text), vars) : NULL;
}

char *sql_render_expr(const char *name, const char *const *vars)
{
    const char *text = sql_text(name);
    if (!text)
        return NULL;
    while (strncmp(text, "--", 2) == 0) {
        const char *nl = strchr(text, '\n');
        text = nl ? nl + 1 : text + strlen(text);
    }
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ' || text[len - 1] == ';'))
        len--;
    return render_text(text, len, vars);
}

char *sql_render(const char *name, const char *schema_ident)
{
    const char *const vars[] = {"schema", schema_ident, NULL};
    return sql_render_vars(name, vars);
}
