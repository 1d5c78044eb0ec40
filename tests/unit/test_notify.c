/* Unit tests for notify: the datagrams a service manager receives, and silence without one. */
#include "versync/common/log.h"
#include "versync/common/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

/* A datagram socket standing in for systemd's notify socket. */
typedef struct listener {
    int fd;
    char dir[64];   /* temp dir holding a path socket, "" for abstract */
    char name[100]; /* what goes into NOTIFY_SOCKET */
} listener;

static void listen_path(listener *l)
{
    snprintf(l->dir, sizeof l->dir, "/tmp/versync-notify.XXXXXX");
    assert_non_null(mkdtemp(l->dir));
    snprintf(l->name, sizeof l->name, "%s/notify.sock", l->dir);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", l->name);
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(l->fd >= 0);
    assert_int_equal(bind(l->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    setenv("NOTIFY_SOCKET", l->name, 1);
}

static void listen_abstract(listener *l)
{
    l->dir[0] = '\0';
    snprintf(l->name, sizeof l->name, "@versync-test-notify-%ld", (long)getpid());
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(l->name);
    memcpy(sa.sun_path, l->name, n);
    sa.sun_path[0] = '\0';
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(l->fd >= 0);
    assert_int_equal(
        bind(l->fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
    setenv("NOTIFY_SOCKET", l->name, 1);
}

/* The next datagram, NUL-terminated (static); "" if none is waiting. */
static const char *next_datagram(listener *l)
{
    static char msg[2048];
    ssize_t n = recv(l->fd, msg, sizeof msg - 1, MSG_DONTWAIT);
    msg[n > 0 ? n : 0] = '\0';
    return msg;
}

static void listener_close(listener *l)
{
    close(l->fd);
    if (l->dir[0]) {
        unlink(l->name);
        rmdir(l->dir);
    }
    unsetenv("NOTIFY_SOCKET");
}

/* Warnings go to a file we can read back, not to the test's stderr. */
static FILE *g_logfile;
static int setup(void **state)
{
    (void)state;
    g_logfile = tmpfile();
    assert_non_null(g_logfile);
    log_init("test", LOG_INFO, LOG_FORMAT_TEXT);
    log_set_fd(fileno(g_logfile));
    return 0;
}
static int teardown(void **state)
{
    (void)state;
    log_set_fd(2);
    fclose(g_logfile);
    unsetenv("NOTIFY_SOCKET");
    return 0;
}
static const char *logged(void)
{
    static char out[4096];
    fflush(g_logfile);
    off_t end = lseek(fileno(g_logfile), 0, SEEK_END);
    ssize_t n = pread(fileno(g_logfile), out, sizeof out - 1,
                      end > (off_t)sizeof out - 1 ? end - (off_t)sizeof out + 1 : 0);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static void test_unset_socket_is_a_silent_noop(void **state)
{
    (void)state;
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(notify_ready(), 0);
    assert_int_equal(notify_stopping(), 0);
    assert_int_equal(notify_status("x %d", 1), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    assert_int_equal(notify_ready(), 0);
    assert_string_equal(logged(), "");
}

static void test_ready_and_stopping_reach_a_path_socket(void **state)
{
    (void)state;
    listener l;
    listen_path(&l);
    assert_int_equal(notify_ready(), 1);
    assert_string_equal(next_datagram(&l), "READY=1");
    assert_int_equal(notify_stopping(), 1);
    assert_string_equal(next_datagram(&l), "STOPPING=1");
    assert_string_equal(next_datagram(&l), "");
    listener_close(&l);
}

static void test_abstract_socket_name(void **state)
{
    (void)state;
    listener l;
    listen_abstract(&l);
    assert_int_equal(notify_send("READY=1\nSTATUS=up"), 1);
    assert_string_equal(next_datagram(&l), "READY=1\nSTATUS=up");
    listener_close(&l);
}

static void test_status_is_one_line_and_capped(void **state)
{
    (void)state;
    listener l;
    listen_path(&l);
    assert_int_equal(notify_status("%d workers\nREADY=1", 2), 1);
    /* an embedded newline must not smuggle in a second assignment */
    assert_string_equal(next_datagram(&l), "STATUS=2 workers READY=1");
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(notify_status("%s", big), 1);
    const char *msg = next_datagram(&l);
    assert_int_equal(strlen(msg), 7 + 1000);
    assert_memory_equal(msg, "STATUS=xxx", 10);
    listener_close(&l);
}

static void test_nobody_listening_is_an_error_named_once(void **state)
{
    (void)state;
    setenv("NOTIFY_SOCKET", "/nonexistent-versync-dir/notify.sock", 1);
    int rc = notify_ready();
    assert_true(rc < 0);
    assert_int_equal(rc, -ENOENT);
    assert_non_null(strstr(logged(), "NOTIFY_SOCKET=/nonexistent-versync-dir/notify.sock"));
}

static void test_unusable_names_are_refused(void **state)
{
    (void)state;
    setenv("NOTIFY_SOCKET", "relative/notify.sock", 1);
    assert_int_equal(notify_ready(), -EAFNOSUPPORT);
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    assert_int_equal(notify_ready(), -EAFNOSUPPORT);
    char longname[200] = "/";
    memset(longname + 1, 'a', sizeof longname - 2);
    longname[sizeof longname - 1] = '\0';
    setenv("NOTIFY_SOCKET", longname, 1);
    assert_int_equal(notify_ready(), -EINVAL);
    assert_non_null(strstr(logged(), "not a unix socket path"));
    assert_int_equal(notify_send(""), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unset_socket_is_a_silent_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready_and_stopping_reach_a_path_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abstract_socket_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_is_one_line_and_capped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nobody_listening_is_an_error_named_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_names_are_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
