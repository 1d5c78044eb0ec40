/* notify — the sd_notify datagram protocol, written directly to $NOTIFY_SOCKET. */
#include "versync/common/notify.h"

#include "versync/common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Fill `sa` from a $NOTIFY_SOCKET value; returns the address length to pass to
 * sendto, or a negative errno for a name we cannot use. An abstract name's
 * length is exactly its bytes: a trailing NUL would name another socket. */
static int notify_address(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = strlen(name);
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (name[0] != '/' && name[0] != '@')
        return -EAFNOSUPPORT; /* e.g. systemd's newer "vsock:" form: not for us */
    if (n < 2 || n > sizeof sa->sun_path - (name[0] == '/' ? 1 : 0))
        return -EINVAL;
    memcpy(sa->sun_path, name, n);
    if (name[0] == '@')
        sa->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (name[0] == '/' ? 1 : 0));
    return 0;
}

int notify_send(const char *state)
{
    const char *name = getenv("NOTIFY_SOCKET");
    if (!name || !*name)
        return 0;
    if (!state || !*state)
        return -EINVAL;
    struct sockaddr_un sa;
    socklen_t salen = 0;
    int rc = notify_address(name, &sa, &salen);
    if (rc < 0) {
        log_warn("NOTIFY_SOCKET=%s: not a unix socket path or @abstract name; service manager not told",
                 name);
        return rc;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = -errno;
        log_warn("NOTIFY_SOCKET=%s: socket: %s", name, strerror(errno));
        return rc;
    }
    size_t len = strlen(state);
    ssize_t sent = sendto(fd, state, len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
    if (sent < 0) {
        rc = -errno;
        log_warn("NOTIFY_SOCKET=%s: sending \"%.40s\": %s", name, state, strerror(errno));
    } else if ((size_t)sent != len) {
        rc = -EMSGSIZE; /* datagrams are all or nothing; a short count means a broken peer */
        log_warn("NOTIFY_SOCKET=%s: short send (%zd of %zu bytes)", name, sent, len);
    } else {
        rc = 1;
    }
    close(fd);
    return rc;
}

int notify_ready(void)
{
    return notify_send("READY=1");
}

int notify_stopping(void)
{
    return notify_send("STOPPING=1");
}

int notify_status(const char *fmt, ...)
{
    char msg[7 + 1000 + 1] = "STATUS=";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + 7, sizeof msg - 7, fmt, ap);
    va_end(ap);
    for (char *p = msg + 7; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return notify_send(msg);
}
