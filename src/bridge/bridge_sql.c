/* bridge_sql — the embedded SQL files with versync's schema filled in. */
#include "versync/common/buf.h"
#include "versync/bridge/sql_embed.h"

#include <ctype.h>
#include <string.h>

/* Copies the comment that starts at p (`--` to the end of the line, or a
 * block comment, nested as PostgreSQL nests them) and returns where it ends.
 * Comments are copied verbatim: a value filled into a `--` comment could
 * hold a newline (a quoted identifier may) and end the comment early, so the
 * rest of the value would run as SQL. */
static const char *skip_comment(const char *p, const char *end)
{
    if (p[0] == '-') {
        while (p < end && *p != '\n')
            p++;
        return p;
    }
    int depth = 0;
    while (p < end) {
        if (p + 1 < end && p[0] == '/' && p[1] == '*') {
            depth++;
            p += 2;
        } else if (p + 1 < end && p[0] == '*' && p[1] == '/') {
            p += 2;
            if (--depth == 0)
                return p;
        } else {
            p++;
        }
    }
    return p;
}

/* Fills @name@ with its value everywhere but in comments. Quotes are tracked
 * so that `--` inside a literal ('a--b') or a quoted identifier is not taken
 * for a comment; @name@ inside them is filled (a literal may name a quoted
 * identifier, as in '@schema@.changes'::regclass). In E'…' a backslash
 * escapes the next character. Dollar-quoted bodies are transparent: their
 * own literals and comments follow the same rules. */
static char *render_text(const char *text, size_t len, const char *const *vars)
{
    buf b = BUF_INIT;
    const char *end = text + len;
    char quote = 0;       /* ' or " while inside one, else 0 */
    bool escapes = false; /* inside E'…' */
    for (const char *p = text; p < end;) {
        if (!quote && p + 1 < end &&
            ((p[0] == '-' && p[1] == '-') || (p[0] == '/' && p[1] == '*'))) {
            const char *q = skip_comment(p, end);
            if (!buf_append(&b, p, (size_t)(q - p)))
                goto oom;
            p = q;
            continue;
        }
        if (quote && escapes && *p == '\\' && p + 1 < end) {
            if (!buf_append(&b, p, 2))
                goto oom;
            p += 2;
            continue;
        }
        if (*p == '\'' || *p == '"') {
            if (!quote) {
                quote = *p;
                escapes = *p == '\'' && p > text && (p[-1] == 'E' || p[-1] == 'e') &&
                          (p - 1 == text || !(isalnum((unsigned char)p[-2]) || p[-2] == '_'));
            } else if (*p == quote) {
                quote = 0; /* '' (an escaped quote) closes and reopens: same result */
            }
        }
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
