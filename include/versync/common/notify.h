/* notify — tell the service manager (systemd Type=notify) when we are ready and when we stop. */
#ifndef VERSYNC_NOTIFY_H
#define VERSYNC_NOTIFY_H

/* The sd_notify protocol, spoken directly so that neither program depends on
 * libsystemd: one datagram of newline-separated VAR=value assignments sent to
 * the AF_UNIX socket named by $NOTIFY_SOCKET. A name starting with '/' is a
 * filesystem socket; one starting with '@' is a Linux abstract socket (the '@'
 * stands for the leading NUL byte). Any other form is refused.
 *
 * Without $NOTIFY_SOCKET (started by hand, from cron, under Docker) every
 * function here does nothing and reports 0, so callers never need to know how
 * they were started. Every call opens, uses and closes its own socket: safe
 * from any thread, no state kept between calls, no descriptor inherited by a
 * child. Not async-signal-safe (reads the environment, may log): call it from
 * the main loop after a signal handler has set its flag, never from the handler.
 *
 * With systemd's default NotifyAccess=main only the service's main process
 * may speak; versync's supervisor calls these, its forked workers do not. */

/* Send `state` verbatim, e.g. "READY=1\nSTATUS=serving". Returns 1 when the
 * datagram was sent, 0 when $NOTIFY_SOCKET is unset or empty (nothing to do),
 * or a negative errno value on failure (bad socket name, nobody listening),
 * after logging one warning that names the socket. */
int notify_send(const char *state);

/* "READY=1": startup is complete (verstore listens, versync's workers run).
 * systemd holds back units ordered After= this one until it arrives. Returns
 * as notify_send. */
int notify_ready(void);

/* "STOPPING=1": a stop was requested and shutdown has begun (call it when the
 * SIGTERM flag is seen, before draining). Returns as notify_send. */
int notify_stopping(void);

/* "STATUS=<text>": a one-line human-readable state shown by
 * `systemctl status`. The text is formatted like printf; newlines in it are
 * replaced by spaces (a newline would start another assignment) and it is
 * truncated to 1000 bytes. Returns as notify_send. */
int notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
