/* signals — the one signal setup of both programs: handlers that only set sig_atomic_t flags (and wake a self-pipe). */
#ifndef VERSYNC_SIGNALS_H
#define VERSYNC_SIGNALS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Set by the handlers, which do nothing else (but for SIGNALS_WAKE_PIPE's
 * byte and SIGNALS_SECOND_EXITS's re-raise). Readers clear reload and child. */
extern volatile sig_atomic_t signals_stop;   /* SIGTERM/SIGINT received so far (counts up to 100) */
extern volatile sig_atomic_t signals_reload; /* SIGHUP received */
extern volatile sig_atomic_t signals_child;  /* SIGCHLD received */

enum {
    SIGNALS_RELOAD = 1 << 0,       /* catch SIGHUP into signals_reload (else it keeps its disposition) */
    SIGNALS_CHILD = 1 << 1,        /* catch SIGCHLD (not for stopped children) into signals_child */
    SIGNALS_BLOCK = 1 << 2,        /* block the caught signals: they are delivered only while waiting with
                                    * *wait_mask (ppoll/pselect) or in signals_poll, never inside libpq or curl */
    SIGNALS_SECOND_EXITS = 1 << 3, /* a second SIGTERM/SIGINT ends the process at once, by that signal */
    SIGNALS_WAKE_PIPE = 1 << 4,    /* each caught signal also makes signals_wake_fd() readable */
};

/* Ignore SIGPIPE: a peer that hangs up must not kill us (curl, libpq and
 * libmicrohttpd then see EPIPE). Both programs call it first thing. */
void signals_ignore_pipe(void);

/* Install the flag-setting handlers for SIGTERM and SIGINT (always) and for
 * SIGHUP and SIGCHLD as `flags` ask, and ignore SIGPIPE. With SIGNALS_BLOCK,
 * `*wait_mask` receives the mask to wait with (the previous one without the
 * caught signals); otherwise wait_mask may be NULL, and system calls the
 * handlers interrupt fail with EINTR (no SA_RESTART), so a loop notices the
 * flag soon. Call once per process, before starting threads or forking
 * (they inherit the mask). False with a message in err (the self-pipe). */
bool signals_init(unsigned flags, sigset_t *wait_mask, char *err, size_t errsz);

/* With SIGNALS_BLOCK: run the handlers of any caught signal now pending. */
void signals_poll(void);

/* With SIGNALS_WAKE_PIPE: a non-blocking descriptor that becomes readable
 * when a signal was caught (drain it with signals_drain); -1 otherwise. */
int signals_wake_fd(void);

/* Empty the wake pipe (after poll said it is readable). */
void signals_drain(void);

/* In a freshly forked child that keeps running our code: forget the
 * parent's stop count and SIGNALS_SECOND_EXITS, ignore SIGHUP (the parent
 * reloads; a terminal hangup is its business), default SIGCHLD. The mask
 * and the TERM/INT handlers stay. */
void signals_in_child(void);

#endif
