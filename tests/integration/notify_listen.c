/* notify_listen — a stand-in for systemd's notify socket, for integration tests.
 *
 * usage: notify_listen SOCKET OUTFILE
 * Binds a datagram socket at SOCKET (a path, or @name for an abstract socket),
 * then appends one line per datagram received to OUTFILE:
 *     <sender pid> <datagram, with each newline written as \n>
 * The sender pid comes from the kernel (SO_PASSCRED), as systemd gets it, so a
 * test can tell the main process from a forked child. OUTFILE is created
 * (empty) once the socket is bound: a test waits for it before starting the
 * program under test. Runs until SIGTERM/SIGINT; removes a path socket then. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: notify_listen SOCKET OUTFILE\n");
        return 2;
    }
    const char *name = argv[1];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    if (n < 2 || n >= sizeof sa.sun_path || (name[0] != '/' && name[0] != '@')) {
        fprintf(stderr, "notify_listen: %s: want /path or @abstract, under %zu bytes\n", name,
                sizeof sa.sun_path);
        return 2;
    }
    memcpy(sa.sun_path, name, n);
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    if (name[0] == '@')
        sa.sun_path[0] = '\0';
    else
        salen++;

    struct sigaction act = {.sa_handler = on_signal}; /* no SA_RESTART: recvmsg must return */
    sigaction(SIGTERM, &act, NULL);
    sigaction(SIGINT, &act, NULL);

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, salen) != 0) {
        fprintf(stderr, "notify_listen: %s: %s\n", name, strerror(errno));
        return 1;
    }
    int out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) {
        fprintf(stderr, "notify_listen: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    while (!g_stop) {
        char msg[4096];
        union {
            struct cmsghdr align;
            char bytes[CMSG_SPACE(sizeof(struct ucred))];
        } ctl;
        struct iovec iov = {.iov_base = msg, .iov_len = sizeof msg - 1};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.bytes, .msg_controllen = sizeof ctl.bytes};
        ssize_t got = recvmsg(fd, &mh, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "notify_listen: recvmsg: %s\n", strerror(errno));
            return 1;
        }
        long pid = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                struct ucred cred;
                memcpy(&cred, CMSG_DATA(c), sizeof cred);
                pid = (long)cred.pid;
            }
        char line[2 * sizeof msg + 32];
        size_t len = (size_t)snprintf(line, sizeof line, "%ld ", pid);
        for (ssize_t i = 0; i < got; i++) {
            if (msg[i] == '\n') {
                line[len++] = '\\';
                line[len++] = 'n';
            } else {
                line[len++] = msg[i];
            }
        }
        line[len++] = '\n';
        if (write(out, line, len) != (ssize_t)len) { /* one write per line: a reader never sees half */
            fprintf(stderr, "notify_listen: write: %s\n", strerror(errno));
            return 1;
        }
    }
    if (name[0] == '/')
        unlink(name);
    return 0;
}
