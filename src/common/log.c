/* log — leveled, line-oriented logging to stderr, as text or JSON lines. */
#include "versync/common/log.h"

#include "versync/common/buf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct {
    char program[64];
    char role[64];
    log_level level;
    log_format format;
    bool journald; /* stderr is the journal: no timestamps of our own */
    int fd;
} g_log = {"versync", "", LOG_INFO, LOG_FORMAT_TEXT, false, 2};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* JOURNAL_STREAM is "device:inode" of the journal socket systemd gave us; it
 * only counts if stderr still is that socket (a shell redirect may differ). */
static bool stderr_is_journal(void)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *program, log_level level, log_format format)
{
    snprintf(g_log.program, sizeof g_log.program, "%s", program ? program : "versync");
    g_log.level = level;
    g_log.format = format;
    g_log.journald = stderr_is_journal();
}

void log_set_role(const char *role) { snprintf(g_log.role, sizeof g_log.role, "%s", role ? role : ""); }

void log_set_fd(int fd) { g_log.fd = fd; }

log_level log_get_level(void) { return g_log.level; }

log_format log_get_format(void) { return g_log.format; }

bool log_parse_level(const char *text, log_level *out)
{
    static const struct { const char *name; log_level level; } names[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO},   {"warn", LOG_WARN},
        {"warning", LOG_WARN}, {"error", LOG_ERROR},
    };
    for (size_t i = 0; text && i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(text, names[i].name) == 0) {
            *out = names[i].level;
            return true;
        }
    return false;
}

bool log_parse_format(const char *text, log_format *out)
{
    if (text && strcasecmp(text, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else if (text && strcasecmp(text, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else
        return false;
    return true;
}

static void format_time(char *out, size_t outsz)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, outsz, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, outsz - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void log_msg(log_level level, const char *fmt, ...)
{
    if (level < g_log.level || level > LOG_ERROR)
        return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t mlen = n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1;

    char ts[40];
    format_time(ts, sizeof ts);
    buf line;
    buf_init(&line, 0);
    if (g_log.format == LOG_FORMAT_JSON) {
        buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"program\":", ts, level_names[level]);
        buf_put_json_string(&line, g_log.program, strlen(g_log.program));
        if (g_log.role[0]) {
            buf_puts(&line, ",\"role\":");
            buf_put_json_string(&line, g_log.role, strlen(g_log.role));
        }
        buf_printf(&line, ",\"pid\":%ld,\"msg\":", (long)getpid());
        buf_put_json_string(&line, msg, mlen);
        buf_puts(&line, "}\n");
    } else {
        if (!g_log.journald)
            buf_printf(&line, "%s ", ts);
        buf_printf(&line, "%s[%ld]", g_log.program, (long)getpid());
        if (g_log.role[0])
            buf_printf(&line, " %s", g_log.role);
        buf_printf(&line, " %s: ", level_names[level]);
        /* One event, one line: escape newlines so log parsers stay in step. */
        for (size_t i = 0; i < mlen; i++) {
            if (msg[i] == '\n')
                buf_puts(&line, "\\n");
            else
                buf_putc(&line, msg[i]);
        }
        buf_putc(&line, '\n');
    }
    if (line.data) {
        ssize_t off = 0;
        while ((size_t)off < line.len) {
            ssize_t w = write(g_log.fd, line.data + off, line.len - (size_t)off);
            if (w <= 0)
                break;
            off += w;
        }
    }
    buf_free(&line);
}

/* Is `key` (length klen) one whose value must never be shown? */
static bool is_secret_key(const char *key, size_t klen)
{
    static const char *const keys[] = {"password", "sslpassword", "passwd", "api_key", "apikey"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strlen(keys[i]) == klen && strncasecmp(key, keys[i], klen) == 0)
            return true;
    return false;
}

static void redact_uri(const char *s, buf *out)
{
    const char *scheme_end = strstr(s, "://");
    const char *auth = scheme_end + 3;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = memrchr(auth, '@', auth_len);
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon) {
        buf_append(out, s, (size_t)(colon + 1 - s));
        buf_puts(out, "***");
        s = at;
    }
    /* Query parameters: password=…&… */
    const char *q = strchr(s, '?');
    if (!q) {
        buf_puts(out, s);
        return;
    }
    buf_append(out, s, (size_t)(q + 1 - s));
    for (const char *p = q + 1; *p;) {
        size_t plen = strcspn(p, "&");
        const char *eq = memchr(p, '=', plen);
        if (eq && is_secret_key(p, (size_t)(eq - p))) {
            buf_append(out, p, (size_t)(eq + 1 - p));
            buf_puts(out, "***");
        } else {
            buf_append(out, p, plen);
        }
        p += plen;
        if (*p == '&')
            buf_putc(out, *p++);
    }
}

static void redact_kv(const char *s, buf *out)
{
    const char *p = s;
    while (*p) {
        while (isspace((unsigned char)*p))
            buf_putc(out, *p++);
        const char *key = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - key);
        buf_append(out, key, klen);
        while (isspace((unsigned char)*p))
            buf_putc(out, *p++);
        if (*p != '=')
            continue;
        buf_putc(out, *p++);
        while (isspace((unsigned char)*p))
            buf_putc(out, *p++);
        const char *val = p;
        if (*p == '\'') { /* quoted value; \' and \\ escape */
            for (p++; *p && *p != '\''; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (*p)
                p++;
        } else {
            while (*p && !isspace((unsigned char)*p))
                p++;
        }
        if (is_secret_key(key, klen))
            buf_puts(out, "***");
        else
            buf_append(out, val, (size_t)(p - val));
    }
}

char *log_redact(const char *conninfo, char *out, size_t outsz)
{
    if (!outsz)
        return out;
    buf b;
    buf_init(&b, 0);
    if (!conninfo)
        conninfo = "";
    if (strstr(conninfo, "://"))
        redact_uri(conninfo, &b);
    else
        redact_kv(conninfo, &b);
    snprintf(out, outsz, "%s", b.data ? b.data : "");
    buf_free(&b);
    return out;
}
