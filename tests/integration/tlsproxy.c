/* tlsproxy — a TLS-terminating reverse proxy with HTTP basic auth, standing in for a secured cluster in tests.
 *
 * usage: tlsproxy --listen PORT --upstream http://127.0.0.1:PORT --cert FILE --key FILE --user USER:PASSWORD
 *
 * Serves HTTPS (libmicrohttpd over GnuTLS) on 127.0.0.1:PORT (0 picks one)
 * and prints "tlsproxy listening on https://127.0.0.1:PORT". A request
 * without the right basic-auth credentials is answered 401 with
 * Elasticsearch's security_exception body; any other is forwarded to the
 * upstream (method, path and query, body, Content-Type and X-Opaque-Id) and
 * its status, Content-Type and body are returned. Each request is logged to
 * stderr as "req METHOD URI auth=ok|refused". */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_upstream, *g_user, *g_pass;

typedef struct req {
    char *uri; /* raw, with the query string */
    char *body;
    size_t len;
} req;

typedef struct out {
    char *data;
    size_t len;
} out;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) == (size_t)n)
        s[n] = '\0';
    else {
        free(s);
        s = NULL;
    }
    fclose(f);
    return s;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    req *r = calloc(1, sizeof *r);
    if (r)
        r->uri = strdup(uri);
    return r;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    req *r = *con_cls;
    if (r) {
        free(r->uri);
        free(r->body);
        free(r);
    }
    *con_cls = NULL;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    out *o = arg;
    char *d = realloc(o->data, o->len + sz * n + 1);
    if (!d)
        return 0;
    memcpy(d + o->len, p, sz * n);
    o->data = d;
    o->len += sz * n;
    d[o->len] = '\0';
    return sz * n;
}

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *ctype, char *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_COPY);
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    if (status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"security\" charset=\"UTF-8\"");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    req *r = *con_cls;
    if (!r)
        return MHD_NO;
    if (*size) {
        char *b = realloc(r->body, r->len + *size + 1);
        if (!b)
            return MHD_NO;
        memcpy(b + r->len, data, *size);
        r->body = b;
        r->len += *size;
        *size = 0;
        return MHD_YES;
    }
    if (!r->body && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && !r->len) {
        /* First call (headers only) of a request that may have a body. */
        r->body = calloc(1, 1);
        return MHD_YES;
    }
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    bool ok = user && pass && strcmp(user, g_user) == 0 && strcmp(pass, g_pass) == 0;
    MHD_free(user);
    MHD_free(pass);
    fprintf(stderr, "req %s %s auth=%s\n", method, r->uri, ok ? "ok" : "refused");
    if (!ok) {
        char b[] = "{\"error\":{\"type\":\"security_exception\",\"reason\":\"missing or wrong authentication credentials "
                   "for REST request\"},\"status\":401}";
        return answer(c, 401, "application/json", b, strlen(b));
    }
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    char line[1024];
    const char *v;
    if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"))) {
        snprintf(line, sizeof line, "Content-Type: %s", v);
        hdr = curl_slist_append(hdr, line);
    }
    if ((v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Opaque-Id"))) {
        snprintf(line, sizeof line, "X-Opaque-Id: %s", v);
        hdr = curl_slist_append(hdr, line);
    }
    hdr = curl_slist_append(hdr, "Expect:");
    size_t ulen = strlen(g_upstream) + strlen(r->uri) + 1;
    char *u = malloc(ulen);
    snprintf(u, ulen, "%s%s", g_upstream, r->uri);
    out o = {NULL, 0};
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &o);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (r->body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
        }
    }
    CURLcode rc = curl_easy_perform(h);
    long status = 502;
    char *ctype = NULL;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
    }
    enum MHD_Result ret = answer(c, (unsigned)status, ctype ? ctype : "application/json", o.data ? o.data : "",
                                 o.len);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    free(u);
    free(o.data);
    return ret;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    int port = -1;
    const char *cert = NULL, *key = NULL, *userpass = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--upstream") == 0)
            g_upstream = argv[i + 1];
        else if (strcmp(argv[i], "--cert") == 0)
            cert = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0)
            key = argv[i + 1];
        else if (strcmp(argv[i], "--user") == 0)
            userpass = argv[i + 1];
    }
    if (port < 0 || !g_upstream || !cert || !key || !userpass || !strchr(userpass, ':')) {
        fprintf(stderr, "usage: tlsproxy --listen PORT --upstream URL --cert FILE --key FILE --user USER:PASSWORD\n");
        return 2;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        fprintf(stderr, "tlsproxy: libmicrohttpd was built without TLS\n");
        return 3;
    }
    char *up = strdup(userpass);
    char *colon = strchr(up, ':');
    *colon = '\0';
    g_user = up;
    g_pass = colon + 1;
    char *cert_pem = slurp(cert), *key_pem = slurp(key);
    if (!cert_pem || !key_pem) {
        fprintf(stderr, "tlsproxy: cannot read %s or %s\n", cert, key);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_TLS | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL,
        on_request, NULL, MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "tlsproxy: cannot start on port %d\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("tlsproxy listening on https://127.0.0.1:%d\n", di ? di->port : port);
    fflush(stdout);
    for (;;)
        pause();
}
