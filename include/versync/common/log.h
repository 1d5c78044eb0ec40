/* log — leveled, line-oriented logging to stderr, as text or JSON lines. */
#ifndef VERSYNC_LOG_H
#define VERSYNC_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
} log_level;

typedef enum log_format {
    LOG_FORMAT_TEXT = 0, /* "2026-11-21T22:07:01.123Z versync[123] info: message" */
    LOG_FORMAT_JSON,     /* {"ts":…,"level":…,"program":…,"pid":…,"msg":…} */
} log_format;

/* Configure the process-wide logger. `program` is copied (e.g. "versync").
 * When stderr is the systemd journal (JOURNAL_STREAM names it) text lines
 * carry no timestamp, since journald stamps them itself.
 * May be called again (after fork, on reload); not thread-safe against
 * concurrent log_msg calls. */
void log_init(const char *program, log_level level, log_format format);

/* Set the role shown after the program name, e.g. "worker 2"; NULL clears it. */
void log_set_role(const char *role);

/* Send log lines to `fd` instead of stderr (tests use a pipe or a file). */
void log_set_fd(int fd);

log_level log_get_level(void);

/* The format log_init set: commands print their results as JSON under LOG_FORMAT_JSON. */
log_format log_get_format(void);

/* Parse "debug"/"info"/"warn"/"warning"/"error" (any case). False if unknown. */
bool log_parse_level(const char *text, log_level *out);

/* Parse "text"/"json". False if unknown. */
bool log_parse_format(const char *text, log_format *out);

/* Write one line if `level` is enabled. Each line is assembled in memory and
 * written with a single write(2), so lines from threads and processes sharing
 * the descriptor never interleave. Newlines inside the message are escaped. */
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Copy `conninfo` (a libpq key=value string or a postgres:// URI) or a URL
 * into `out` with every secret replaced by "***": password=…, the password of
 * user:password@ in a URI, and password/sslpassword query parameters.
 * Always NUL-terminates `out` (truncating if needed) and returns it.
 * Use it whenever a connection string might reach a log line. */
char *log_redact(const char *conninfo, char *out, size_t outsz);

#endif
