/* bridge_render_types — the SQL that turns a column's value into the JSON a search user expects. */
#include "versync/bridge/render_types.h"

#include "versync/bridge/sql_embed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting (an array of multiranges of ranges) is bounded by the catalog's
 * classes; this only keeps a corrupt class from recursing without end. */
#define MAX_DEPTH 4

static bool starts(const char *s, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0)
        return false;
    *rest = s + n;
    return true;
}

/* Classes whose special values (NaN, ±Infinity, ±infinity) the rule decides. */
static const char *special_family(const char *cls)
{
    if (strcmp(cls, "numeric") == 0 || strcmp(cls, "float4") == 0 || strcmp(cls, "float8") == 0)
        return cls;
    if (strcmp(cls, "timestamp") == 0 || strcmp(cls, "timestamptz") == 0 || strcmp(cls, "date") == 0)
        return "time";
    return NULL;
}

bool render_types_plain(const char *cls, cfg_special rule)
{
    const char *rest;
    if (!cls)
        return true;
    if (starts(cls, "array:", &rest))
        return render_types_plain(rest, rule);
    if (starts(cls, "range:", &rest) || starts(cls, "multirange:", &rest))
        return false;
    if (strcmp(cls, "money") == 0 || strcmp(cls, "bytea") == 0 || strcmp(cls, "interval") == 0)
        return false;
    if (special_family(cls))
        return rule == CFG_SPECIAL_STRING;
    return true;
}

/* Append template `name` with `vars` filled in. */
static bool put_template(const char *name, const char *const *vars, buf *out, char *err, size_t errsz)
{
    char *sql = sql_render_expr(name, vars);
    bool ok = sql && buf_putc(out, '(') && buf_puts(out, sql) && buf_putc(out, ')');
    if (!ok)
        snprintf(err, errsz, sql ? "out of memory rendering SQL" : "embedded SQL %s is missing", name);
    free(sql);
    return ok;
}

static bool expr(const char *cls, cfg_special rule, const char *value, int depth, buf *out, char *err,
                 size_t errsz);

/* An array or a multirange: each element rendered as `elem_cls`. */
static bool each(const char *elem_cls, cfg_special rule, const char *value, int depth, buf *out, char *err,
                 size_t errsz)
{
    char x[16], o[16];
    snprintf(x, sizeof x, "vs_e%d", depth);
    snprintf(o, sizeof o, "vs_o%d", depth);
    buf el = BUF_INIT;
    bool ok = false;
    if (expr(elem_cls, rule, x, depth + 1, &el, err, errsz)) {
        const char *const vars[] = {"v", value, "el", el.data, "x", x, "o", o, NULL};
        ok = put_template("render_each", vars, out, err, errsz);
    }
    buf_free(&el);
    return ok;
}

static bool range(const char *sub_cls, cfg_special rule, const char *value, int depth, buf *out, char *err,
                  size_t errsz)
{
    buf lo_v = BUF_INIT, hi_v = BUF_INIT, lo = BUF_INIT, hi = BUF_INIT;
    bool ok = false;
    if (!buf_printf(&lo_v, "lower(%s)", value) || !buf_printf(&hi_v, "upper(%s)", value)) {
        snprintf(err, errsz, "out of memory rendering SQL");
        goto done;
    }
    if (!expr(sub_cls, rule, lo_v.data, depth + 1, &lo, err, errsz) ||
        !expr(sub_cls, rule, hi_v.data, depth + 1, &hi, err, errsz))
        goto done;
    const char *const vars[] = {"v", value, "lo", lo.data, "hi", hi.data, NULL};
    ok = put_template("render_range", vars, out, err, errsz);
done:
    buf_free(&lo_v);
    buf_free(&hi_v);
    buf_free(&lo);
    buf_free(&hi);
    return ok;
}

static bool expr(const char *cls, cfg_special rule, const char *value, int depth, buf *out, char *err,
                 size_t errsz)
{
    const char *rest;
    if (depth > MAX_DEPTH) {
        snprintf(err, errsz, "type class \"%s\" nests too deeply", cls);
        return false;
    }
    if (render_types_plain(cls, rule)) {
        if (!buf_puts(out, value)) {
            snprintf(err, errsz, "out of memory rendering SQL");
            return false;
        }
        return true;
    }
    if (starts(cls, "array:", &rest))
        return each(rest, rule, value, depth, out, err, errsz);
    if (starts(cls, "multirange:", &rest)) {
        char sub[64];
        if (snprintf(sub, sizeof sub, "range:%s", rest) >= (int)sizeof sub) {
            snprintf(err, errsz, "type class \"%s\" is too long", cls);
            return false;
        }
        return each(sub, rule, value, depth, out, err, errsz);
    }
    if (starts(cls, "range:", &rest))
        return range(rest, rule, value, depth, out, err, errsz);
    const char *const vars[] = {"v", value, NULL};
    const char *fam = special_family(cls);
    if (!fam) /* money, bytea, interval */
        return put_template(strcmp(cls, "money") == 0   ? "render_money"
                            : strcmp(cls, "bytea") == 0 ? "render_bytea"
                                                        : "render_interval",
                            vars, out, err, errsz);
    char name[64];
    snprintf(name, sizeof name, "render_%s_%s", fam, rule == CFG_SPECIAL_CLAMP ? "clamp" : "null");
    return put_template(name, vars, out, err, errsz);
}

bool render_types_expr(const char *cls, cfg_special rule, const char *value, buf *out, char *err,
                       size_t errsz)
{
    return expr(cls, rule, value, 0, out, err, errsz);
}
