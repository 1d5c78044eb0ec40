/* faultproxy — a tiny HTTP proxy for integration tests that answers some _bulk requests with injected faults.
 *
 * usage: faultproxy --listen 127.0.0.1:0 --upstream 127.0.0.1:PORT [--fault STATUS:COUNT]... [--retry-after SECS]
 *                   [--hang] [--item-fault ID:STATUS]
 *
 * Prints "faultproxy listening on http://127.0.0.1:PORT" once it accepts.
 * The first COUNT requests whose path contains "_bulk" are answered STATUS
 * (faults apply in the order given: --fault 429:3 --fault 500:2 → 3×429,
 * then 2×500), without reaching the upstream; every other request is
 * forwarded unchanged on a fresh upstream connection. Each injected fault is
 * logged to stderr as "fault STATUS #N"; injected faults carry
 * "Retry-After: SECS" (default 0). Every request is logged to stderr before
 * it is answered as "req MS METHOD PATH opaque=ID bytes=N", MS being
 * milliseconds since the epoch when it arrived and ID its X-Opaque-Id ("-"
 * when none). One thread per client connection (clients keep their
 * connections alive).
 *
 * --hang: accept connections and read requests but never answer them (a
 * store that is up but stuck), until SIGUSR1 switches the proxy to
 * pass-through for requests that arrive afterwards. Every accepted and closed
 * client connection is logged as "conn open N" / "conn close N", N being the
 * number open right after, so a test can tell the most open at once.
 *
 * --item-fault ID:STATUS: every _bulk request is forwarded, but in its answer
 * each item whose "_id" is ID gets "status": STATUS and an injected error
 * (a store that keeps failing one document while it takes the others). Each
 * rewritten item is logged as "item-fault STATUS ID #N". */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FAULTS 16
#define HDR_MAX (64 * 1024)

static struct {
    int status, count;
} g_faults[MAX_FAULTS];
static int g_nfaults;
static atomic_int g_bulk_seen;
static int g_retry_after;
static struct sockaddr_in g_upstream;
static atomic_bool g_hang;
static atomic_int g_open;
static char *g_item_id; /* --item-fault */
static int g_item_status;
static atomic_int g_item_faults;

static void on_usr1(int sig)
{
    (void)sig;
    atomic_store(&g_hang, false);
}

static void log_conn(const char *what, int now)
{
    char line[64];
    int n = snprintf(line, sizeof line, "conn %s %d\n", what, now);
    if (n > 0)
        (void)!write(2, line, (size_t)n);
}

typedef struct msg {
    char *data;
    size_t len, cap;
} msg;

static bool msg_add(msg *m, const char *p, size_t n)
{
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 8192;
        while (cap < m->len + n + 1)
            cap *= 2;
        char *d = realloc(m->data, cap);
        if (!d)
            return false;
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + m->len, p, n);
    m->len += n;
    m->data[m->len] = '\0';
    return true;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Read one HTTP message (headers + body by Content-Length or chunked) from fd,
 * starting with whatever is already in *m beyond *consumed. Returns the total
 * length of the message in m, or 0 on EOF/error. `until_close` reads a body
 * without a length until EOF (responses only). */
static size_t read_message(int fd, msg *m, bool until_close)
{
    char tmp[16384];
    char *hdr_end;
    while (!(hdr_end = m->data ? strstr(m->data, "\r\n\r\n") : NULL)) {
        if (m->len > HDR_MAX)
            return 0;
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || !msg_add(m, tmp, (size_t)r))
            return 0;
    }
    size_t head = (size_t)(hdr_end - m->data) + 4;
    long clen = -1;
    bool chunked = false;
    for (char *line = strstr(m->data, "\r\n"); line && line < hdr_end; line = strstr(line + 2, "\r\n")) {
        char *l = line + 2;
        if (strncasecmp(l, "content-length:", 15) == 0)
            clen = strtol(l + 15, NULL, 10);
        else if (strncasecmp(l, "transfer-encoding:", 18) == 0 && strstr(l, "chunked") < strstr(l, "\r\n"))
            chunked = strcasestr(l, "chunked") != NULL;
    }
    for (;;) {
        if (clen >= 0 && m->len >= head + (size_t)clen)
            return head + (size_t)clen;
        if (clen < 0 && chunked) {
            char *end = strstr(m->data + head, "\r\n0\r\n\r\n");
            if (!end && m->len - head >= 5 && memcmp(m->data + head, "0\r\n\r\n", 5) == 0)
                return head + 5;
            if (end)
                return (size_t)(end - m->data) + 7;
        }
        if (clen < 0 && !chunked && !until_close)
            return head;
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && until_close && clen < 0 && !chunked)
            return m->len;
        if (r <= 0 || !msg_add(m, tmp, (size_t)r))
            return 0;
    }
}

static int fault_for_request(const char *req)
{
    const char *sp = strchr(req, ' ');
    const char *eol = strstr(req, "\r\n");
    if (!sp || !eol)
        return 0;
    char path[2048];
    size_t n = (size_t)(eol - sp - 1) < sizeof path - 1 ? (size_t)(eol - sp - 1) : sizeof path - 1;
    memcpy(path, sp + 1, n);
    path[n] = '\0';
    if (!strstr(path, "_bulk"))
        return 0;
    int k = atomic_fetch_add(&g_bulk_seen, 1);
    for (int i = 0; i < g_nfaults; i++) {
        if (k < g_faults[i].count) {
            fprintf(stderr, "fault %d #%d\n", g_faults[i].status, k + 1);
            return g_faults[i].status;
        }
        k -= g_faults[i].count;
    }
    return 0;
}

/* One "req …" line per request, written with one call so threads do not interleave. */
static void log_request(const char *req, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    const char *eol = strstr(req, "\r\n");
    const char *hdr_end = strstr(req, "\r\n\r\n");
    if (!eol || !hdr_end)
        return;
    char line[2048];
    int n = (int)(eol - req);
    const char *sp2 = memrchr(req, ' ', (size_t)n); /* drop " HTTP/1.1" */
    if (sp2 && sp2 > req)
        n = (int)(sp2 - req);
    char opaque[512] = "-";
    for (const char *l = eol + 2; l < hdr_end; l = strstr(l, "\r\n") + 2) {
        if (strncasecmp(l, "x-opaque-id:", 12) == 0) {
            const char *v = l + 12;
            while (*v == ' ')
                v++;
            int vl = (int)(strstr(v, "\r\n") - v);
            snprintf(opaque, sizeof opaque, "%.*s", vl, v);
        }
    }
    int ll = snprintf(line, sizeof line, "req %lld %.*s opaque=%s bytes=%zu\n", ms, n > 1000 ? 1000 : n, req, opaque,
                      len - (size_t)(hdr_end + 4 - req));
    if (ll > 0)
        write_all(2, line, (size_t)ll < sizeof line ? (size_t)ll : sizeof line - 1);
}

/* Rewrite the items of a _bulk answer (resp, n bytes, Content-Length framed) whose _id is
 * g_item_id into STATUS failures; returns a new message the caller frees, or NULL to send as is. */
static char *rewrite_items(const char *resp, size_t n, size_t *outlen)
{
    const char *hdr_end = strstr(resp, "\r\n\r\n");
    if (!hdr_end || strncmp(resp, "HTTP/1.1 200", 12) != 0)
        return NULL;
    size_t head = (size_t)(hdr_end - resp) + 4;
    cJSON *root = cJSON_ParseWithLength(resp + head, n - head);
    cJSON *items = root ? cJSON_GetObjectItemCaseSensitive(root, "items") : NULL;
    char *out = NULL, *body = NULL;
    bool changed = false;
    cJSON *wrap;
    cJSON_ArrayForEach(wrap, items)
    {
        cJSON *item = wrap->child;
        const cJSON *id = item ? cJSON_GetObjectItemCaseSensitive(item, "_id") : NULL;
        if (!cJSON_IsString(id) || strcmp(id->valuestring, g_item_id) != 0)
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(item, "status");
        cJSON_DeleteItemFromObjectCaseSensitive(item, "error");
        cJSON_DeleteItemFromObjectCaseSensitive(item, "result");
        cJSON_AddNumberToObject(item, "status", g_item_status);
        cJSON *e = cJSON_AddObjectToObject(item, "error");
        cJSON_AddStringToObject(e, "type", "injected_item_fault");
        cJSON_AddStringToObject(e, "reason", "faultproxy failed this item");
        cJSON_ReplaceItemInObjectCaseSensitive(root, "errors", cJSON_CreateTrue());
        fprintf(stderr, "item-fault %d %s #%d\n", g_item_status, g_item_id, atomic_fetch_add(&g_item_faults, 1) + 1);
        changed = true;
    }
    if (changed && (body = cJSON_PrintUnformatted(root))) {
        size_t bl = strlen(body);
        out = malloc(bl + 256);
        if (out)
            *outlen = (size_t)snprintf(out, bl + 256,
                                       "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                                       bl, body);
    }
    free(body);
    cJSON_Delete(root);
    return out;
}

static bool forward(int client, const char *req, size_t len)
{
    int up = socket(AF_INET, SOCK_STREAM, 0);
    if (up < 0)
        return false;
    bool ok = false;
    msg resp = {0};
    if (connect(up, (struct sockaddr *)&g_upstream, sizeof g_upstream) != 0 || !write_all(up, req, len))
        goto done;
    size_t n = read_message(up, &resp, true);
    if (n == 0)
        goto done;
    const char *sp = strchr(req, ' ');
    char *rewritten = NULL;
    size_t rl = 0;
    if (g_item_id && sp && strncmp(sp + 1, "/_bulk", 6) == 0)
        rewritten = rewrite_items(resp.data, n, &rl);
    ok = rewritten ? write_all(client, rewritten, rl) : write_all(client, resp.data, n);
    free(rewritten);
done:
    free(resp.data);
    close(up);
    return ok;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    msg m = {0};
    for (;;) {
        size_t n = read_message(fd, &m, false);
        if (n == 0)
            break;
        log_request(m.data, n);
        if (atomic_load(&g_hang)) {
            /* Never answer: hold the connection until the client gives up and closes it. */
            char sink[4096];
            ssize_t r;
            while ((r = read(fd, sink, sizeof sink)) != 0)
                if (r < 0 && errno != EINTR)
                    break;
            break;
        }
        int status = fault_for_request(m.data);
        bool ok;
        if (status) {
            char body[256], head[512];
            int bl = snprintf(body, sizeof body,
                              "{\"error\":{\"type\":\"injected_fault\",\"reason\":\"faultproxy answered %d\"},"
                              "\"status\":%d}",
                              status, status);
            int hl = snprintf(head, sizeof head,
                              "HTTP/1.1 %d Injected\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                              "Retry-After: %d\r\n\r\n",
                              status, bl, g_retry_after);
            ok = write_all(fd, head, (size_t)hl) && write_all(fd, body, (size_t)bl);
        } else {
            ok = forward(fd, m.data, n);
        }
        if (!ok)
            break;
        /* Keep any pipelined bytes for the next request. */
        memmove(m.data, m.data + n, m.len - n);
        m.len -= n;
        m.data[m.len] = '\0';
    }
    free(m.data);
    close(fd);
    log_conn("close", atomic_fetch_sub(&g_open, 1) - 1);
    return NULL;
}

static bool parse_hostport(const char *s, struct sockaddr_in *out)
{
    char host[256];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return false;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((unsigned short)atoi(colon + 1));
    return inet_pton(AF_INET, host, &out->sin_addr) == 1;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART needed: accept() retries on EINTR */
    struct sockaddr_in listen_addr;
    bool have_listen = false, have_up = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            have_listen = parse_hostport(argv[++i], &listen_addr);
        else if (strcmp(argv[i], "--upstream") == 0 && i + 1 < argc)
            have_up = parse_hostport(argv[++i], &g_upstream);
        else if (strcmp(argv[i], "--fault") == 0 && i + 1 < argc && g_nfaults < MAX_FAULTS) {
            if (sscanf(argv[++i], "%d:%d", &g_faults[g_nfaults].status, &g_faults[g_nfaults].count) != 2) {
                fprintf(stderr, "faultproxy: --fault STATUS:COUNT\n");
                return 2;
            }
            g_nfaults++;
        } else if (strcmp(argv[i], "--item-fault") == 0 && i + 1 < argc) {
            char *a = argv[++i], *colon = strrchr(a, ':');
            if (!colon || (g_item_status = atoi(colon + 1)) < 100) {
                fprintf(stderr, "faultproxy: --item-fault ID:STATUS\n");
                return 2;
            }
            *colon = '\0';
            g_item_id = a;
        } else if (strcmp(argv[i], "--hang") == 0) {
            atomic_store(&g_hang, true);
        } else if (strcmp(argv[i], "--retry-after") == 0 && i + 1 < argc) {
            g_retry_after = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: faultproxy --listen HOST:PORT --upstream HOST:PORT [--fault STATUS:COUNT]... [--retry-after SECS] [--hang] [--item-fault ID:STATUS]\n");
            return 2;
        }
    }
    if (!have_listen || !have_up) {
        fprintf(stderr, "faultproxy: --listen and --upstream (numeric IPv4 HOST:PORT) are required\n");
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ls < 0 || bind(ls, (struct sockaddr *)&listen_addr, sizeof listen_addr) != 0 || listen(ls, 64) != 0) {
        perror("faultproxy: listen");
        return 1;
    }
    socklen_t sl = sizeof listen_addr;
    getsockname(ls, (struct sockaddr *)&listen_addr, &sl);
    printf("faultproxy listening on http://127.0.0.1:%d\n", ntohs(listen_addr.sin_port));
    fflush(stdout);
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            perror("faultproxy: accept");
            return 1;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        log_conn("open", atomic_fetch_add(&g_open, 1) + 1);
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)c) != 0) {
            close(c);
            log_conn("close", atomic_fetch_sub(&g_open, 1) - 1);
            continue;
        }
        pthread_detach(t);
    }
}
