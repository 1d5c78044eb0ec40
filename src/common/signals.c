/* signals — the one signal setup of both programs: handlers that only set sig_atomic_t flags (and wake a self-pipe). */
#include "versync/common/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

volatile sig_atomic_t signals_stop;
volatile sig_atomic_t signals_reload;
volatile sig_atomic_t signals_child;

static volatile sig_atomic_t g_second_exits;
static int g_pipe[2] = {-1, -1};
static sigset_t g_caught;

/* Async-signal-safe: write(2) only, errno kept for the interrupted code. */
static void wake(void)
{
    if (g_pipe[1] >= 0) {
        int saved = errno;
        ssize_t w = write(g_pipe[1], "x", 1); /* a full pipe already says "wake up" */
        (void)w;
        errno = saved;
    }
}

static void on_stop(int sig)
{
    if (signals_stop >= 1 && g_second_exits) {
        /* The second one: end now, as the signal's default action does. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, NULL);
        raise(sig);
        return;
    }
    if (signals_stop < 100)
        signals_stop++;
    wake();
}

static void on_hup(int sig)
{
    (void)sig;
    signals_reload = 1;
    wake();
}

static void on_chld(int sig)
{
    (void)sig;
    signals_child = 1;
    wake();
}

void signals_ignore_pipe(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
}

bool signals_init(unsigned flags, sigset_t *wait_mask, char *err, size_t errsz)
{
    signals_ignore_pipe();
    if ((flags & SIGNALS_WAKE_PIPE) && g_pipe[0] < 0 && pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(err, errsz, "cannot create the signal pipe: %s", strerror(errno));
        return false;
    }
    g_second_exits = (flags & SIGNALS_SECOND_EXITS) != 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sigemptyset(&g_caught);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaddset(&g_caught, SIGTERM);
    sigaddset(&g_caught, SIGINT);
    if (flags & SIGNALS_RELOAD) {
        sa.sa_handler = on_hup;
        sigaction(SIGHUP, &sa, NULL);
        sigaddset(&g_caught, SIGHUP);
    }
    if (flags & SIGNALS_CHILD) {
        sa.sa_handler = on_chld;
        sa.sa_flags = SA_NOCLDSTOP;
        sigaction(SIGCHLD, &sa, NULL);
        sigaddset(&g_caught, SIGCHLD);
    }
    if (flags & SIGNALS_BLOCK) {
        sigset_t old;
        sigprocmask(SIG_BLOCK, &g_caught, &old);
        if (wait_mask) {
            *wait_mask = old;
            for (int s = 1; s < NSIG; s++)
                if (sigismember(&g_caught, s))
                    sigdelset(wait_mask, s);
        }
    }
    return true;
}

void signals_poll(void)
{
    sigset_t pending;
    sigpending(&pending);
    bool any = false;
    for (int s = 1; s < NSIG; s++)
        if (sigismember(&g_caught, s) && sigismember(&pending, s))
            any = true;
    if (any) { /* unblocking delivers them; their handlers only set flags */
        sigprocmask(SIG_UNBLOCK, &g_caught, NULL);
        sigprocmask(SIG_BLOCK, &g_caught, NULL);
    }
}

int signals_wake_fd(void) { return g_pipe[0]; }

void signals_drain(void)
{
    char tmp[64];
    while (g_pipe[0] >= 0 && read(g_pipe[0], tmp, sizeof tmp) > 0)
        ;
}

void signals_in_child(void)
{
    signals_stop = 0;
    g_second_exits = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
}
