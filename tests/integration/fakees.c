/* fakees — a minimal HTTP server answering canned responses per path, standing in for Elasticsearch in tests.
 *
 * usage: fakees --listen 127.0.0.1:0 [--answer PATH STATUS BODY]...
 *
 * Prints "fakees listening on http://127.0.0.1:PORT" once it accepts. A
 * request whose path (query string removed) equals an --answer's PATH gets
 * that STATUS and BODY (application/json); any other gets 404. Every request
 * is logged to stderr as "req METHOD PATH auth=SCHEME" (SCHEME: the first word
 * of its Authorization header, or "-"). One connection at a time, closed
 * after each answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ANSWERS 32

static struct {
    const char *path;
    int status;
    const char *body;
} g_answers[MAX_ANSWERS];
static int g_n;

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void serve(int fd)
{
    char req[65536];
    req[0] = '\0';
    size_t len = 0;
    char *end = NULL;
    while (!(end = strstr(req, "\r\n\r\n"))) {
        ssize_t r = read(fd, req + len, sizeof req - 1 - len);
        if (r <= 0)
            return;
        len += (size_t)r;
        req[len] = '\0';
        if (len >= sizeof req - 1)
            return;
    }
    /* Drain a body by Content-Length so the client sees a clean answer. */
    const char *cl = strcasestr(req, "\r\ncontent-length:");
    long body = cl && cl < end ? strtol(cl + 17, NULL, 10) : 0;
    size_t have = len - (size_t)(end + 4 - req);
    char sink[4096];
    while ((long)have < body) {
        ssize_t r = read(fd, sink, sizeof sink);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    char method[16] = "", path[2048] = "";
    sscanf(req, "%15s %2047s", method, path);
    char *q = strchr(path, '?');
    if (q)
        *q = '\0';
    char auth[32] = "-";
    const char *a = strcasestr(req, "\r\nauthorization:");
    if (a && a < end)
        sscanf(a + 16, " %31s", auth);
    fprintf(stderr, "req %s %s auth=%s\n", method, path, auth);
    int status = 404;
    const char *resp = "{\"error\":{\"type\":\"index_not_found_exception\",\"reason\":\"no such index\"},\"status\":404}";
    for (int i = 0; i < g_n; i++)
        if (strcmp(g_answers[i].path, path) == 0) {
            status = g_answers[i].status;
            resp = g_answers[i].body;
            break;
        }
    char head[256];
    size_t blen = strcmp(method, "HEAD") == 0 ? 0 : strlen(resp);
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %d Canned\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      status, strlen(resp));
    write_all(fd, head, (size_t)hl);
    write_all(fd, resp, blen);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    bool have_listen = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            char host[64];
            int port;
            if (sscanf(argv[++i], "%63[^:]:%d", host, &port) == 2 && inet_pton(AF_INET, host, &addr.sin_addr) == 1) {
                addr.sin_port = htons((unsigned short)port);
                have_listen = true;
            }
        } else if (strcmp(argv[i], "--answer") == 0 && i + 3 < argc && g_n < MAX_ANSWERS) {
            g_answers[g_n].path = argv[i + 1];
            g_answers[g_n].status = atoi(argv[i + 2]);
            g_answers[g_n].body = argv[i + 3];
            g_n++;
            i += 3;
        } else {
            fprintf(stderr, "usage: fakees --listen HOST:PORT [--answer PATH STATUS BODY]...\n");
            return 2;
        }
    }
    if (!have_listen) {
        fprintf(stderr, "fakees: --listen HOST:PORT (numeric IPv4) is required\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ls < 0 || bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 16) != 0) {
        perror("fakees: listen");
        return 1;
    }
    socklen_t sl = sizeof addr;
    getsockname(ls, (struct sockaddr *)&addr, &sl);
    printf("fakees listening on http://127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            perror("fakees: accept");
            return 1;
        }
        serve(c);
        close(c);
    }
}
