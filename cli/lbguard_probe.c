/*
 * lbguard_probe.c -- `lbguard probe URL`: sends one HTTP/1.1 request with
 * keep-alive to an http:// or https:// (OpenSSL) target, reads the raw
 * response (framed by Content-Length, chunked transfer coding or close;
 * at most 64 MiB), checks it as `lbguard check` does, then leaves the
 * connection idle and measures how long the server keeps it open and how
 * it closes it (FIN: recv returns 0; RST: ECONNRESET). The measured time
 * is compared with the load balancer's idle timeout by the core's
 * lbg_keepalive_verdict (the keep-alive race, RFC 9112 9.6).
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lbguard_cli.h"


#define LBGUARD_MAX_HEADERS 64


static const char probe_usage[] =
    "usage: lbguard probe [options] URL\n"
    "\n"
    "Sends one HTTP/1.1 request with keep-alive to URL (http:// or https://),\n"
    "reads the raw response and checks it like 'lbguard check', then leaves\n"
    "the connection idle and measures how long the server keeps it open and\n"
    "whether it closes with FIN or RST. With --lb-idle-timeout it says whether\n"
    "the server's keep-alive outlasts the load balancer's idle timeout (the\n"
    "keep-alive race behind intermittent 502s).\n"
    "\n"
    "  --lb-idle-timeout T  the load balancer's idle timeout: a duration\n"
    "                       (60, 60s, 1m, 500ms) or a preset: aws-alb (60 s),\n"
    "                       aws-clb (60 s), gcp (600 s), oci (310 s)\n"
    "  --margin T           how much longer than the load balancer the server\n"
    "                       must keep idle connections (default 5s)\n"
    "  --max-wait T         how long to wait for the idle close at most\n"
    "                       (default: idle timeout + margin + 2s, or 120s)\n"
    "  --method M           request method (default GET; HEAD is understood)\n"
    "  --header 'N: v'      add a request header (repeatable)\n"
    "  --timeout T          connect and response timeout (default 10s)\n"
    "  --profile P          as for check (default strictest)\n"
    "  --fail-on T          as for check (default: what the profile rejects); a keep-alive\n"
    "                       shorter than needed counts as severe\n"
    "  --json               print one JSON object instead of text\n"
    "  --insecure           https: do not verify the server's certificate\n"
    "  --cacert FILE        https: trust the CA certificates in FILE\n"
    "  --quiet              no progress lines on stderr while waiting\n"
    "\n"
    "exit status: 0 clean, 1 findings at or above --fail-on (or keep-alive\n"
    "too short), 2 usage error, connection or TLS failure, no response.\n";


typedef struct {
    int  tls;
    char host[256];     /* without IPv6 brackets */
    char port[8];
    char authority[300]; /* the Host header value: as in the URL */
    char path[4096];
} lbguard_url_t;

typedef struct {
    int      fd;
    SSL_CTX *ctx;
    SSL     *ssl;
} lbguard_conn_t;

typedef struct {
    const char   *url;
    const char   *method;
    const char   *headers[LBGUARD_MAX_HEADERS];
    size_t        nheaders;
    uint64_t      lb_ms;
    uint64_t      margin_ms;
    uint64_t      max_wait_ms;
    uint64_t      timeout_ms;
    lbg_profile_e profile;
    lbg_tier_e    fail_on;
    int           json;
    int           insecure;
    int           quiet;
    const char   *cacert;
} lbguard_probe_opts_t;

/* Results of conn_read besides a byte count. */
#define LBGUARD_RD_EOF     0
#define LBGUARD_RD_ERROR   (-1)
#define LBGUARD_RD_TIMEOUT (-2)


static int64_t
lbguard_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* ASCII case-insensitive comparison of a[0..n) and the NUL-terminated b. */
static int
lbguard_ieq(const char *a, size_t n, const char *b)
{
    size_t i;
    int    ca, cb;

    for (i = 0; i < n; i++) {
        ca = (unsigned char) a[i];
        cb = (unsigned char) b[i];
        if (cb == '\0') {
            return 0;
        }
        if (ca >= 'A' && ca <= 'Z') {
            ca += 32;
        }
        if (cb >= 'A' && cb <= 'Z') {
            cb += 32;
        }
        if (ca != cb) {
            return 0;
        }
    }
    return b[n] == '\0';
}


/* Parses http[s]://host[:port][/path]. Returns 0, or -1 (message). */
static int
lbguard_url_parse(const char *url, lbguard_url_t *u)
{
    const char *p, *h, *hend, *port = NULL, *path;
    size_t      hl, pl;

    memset(u, 0, sizeof(*u));
    if (strncmp(url, "http://", 7) == 0) {
        p = url + 7;
        strcpy(u->port, "80");
    } else if (strncmp(url, "https://", 8) == 0) {
        p = url + 8;
        u->tls = 1;
        strcpy(u->port, "443");
    } else {
        lbguard_err("probe", "'%s': the URL must start with http:// or "
                    "https://", url);
        return -1;
    }
    path = p + strcspn(p, "/?#");
    if (*path == '#' || memchr(p, '@', (size_t) (path - p)) != NULL) {
        lbguard_err("probe", "'%s': user information and fragments are not "
                    "supported", url);
        return -1;
    }
    if (*p == '[') {
        h = p + 1;
        hend = memchr(h, ']', (size_t) (path - h));
        if (hend == NULL) {
            lbguard_err("probe", "'%s': unterminated IPv6 address", url);
            return -1;
        }
        if (hend + 1 < path) {
            if (hend[1] != ':') {
                lbguard_err("probe", "'%s': bad authority", url);
                return -1;
            }
            port = hend + 2;
        }
    } else {
        h = p;
        hend = memchr(p, ':', (size_t) (path - p));
        if (hend == NULL) {
            hend = path;
        } else {
            port = hend + 1;
        }
    }
    hl = (size_t) (hend - h);
    if (hl == 0 || hl >= sizeof(u->host)) {
        lbguard_err("probe", "'%s': bad host", url);
        return -1;
    }
    memcpy(u->host, h, hl);
    if (port != NULL) {
        pl = (size_t) (path - port);
        if (pl == 0 || pl >= sizeof(u->port)
            || strspn(port, "0123456789") < pl) {
            lbguard_err("probe", "'%s': bad port", url);
            return -1;
        }
        memcpy(u->port, port, pl);
        u->port[pl] = '\0';
    }
    if ((size_t) (path - p) >= sizeof(u->authority)) {
        lbguard_err("probe", "'%s': host too long", url);
        return -1;
    }
    memcpy(u->authority, p, (size_t) (path - p));
    if (*path == '\0') {
        strcpy(u->path, "/");
    } else {
        if (strlen(path) + 2 > sizeof(u->path)) {
            lbguard_err("probe", "'%s': path too long", url);
            return -1;
        }
        snprintf(u->path, sizeof(u->path), "%s%s", *path == '?' ? "/" : "",
                 path);
    }
    for (p = u->path; *p; p++) {
        if ((unsigned char) *p <= 0x20 || (unsigned char) *p >= 0x7f) {
            lbguard_err("probe", "'%s': the path has a space or control "
                        "character (percent-encode it)", url);
            return -1;
        }
    }
    return 0;
}


/* Waits until fd is ready for `events` or the deadline (monotonic us)
 * passes. Returns 1 ready, 0 timeout, -1 error (errno). */
static int
lbguard_wait(int fd, short events, int64_t deadline)
{
    struct pollfd pfd;
    int64_t       left;
    int           r;

    for (;;) {
        left = deadline - lbguard_now_us();
        if (left <= 0) {
            return 0;
        }
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        r = poll(&pfd, 1, (int) ((left + 999) / 1000));
        if (r > 0) {
            return 1;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
    }
}


static const char *
lbguard_ssl_error(void)
{
    static char   buf[256];
    unsigned long e = ERR_get_error();

    if (e == 0) {
        return "TLS error";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    return buf;
}


/*
 * Reads up to cap bytes, waiting until the deadline. Returns the count, or
 * LBGUARD_RD_EOF (the peer closed: FIN, or TLS close_notify/EOF),
 * LBGUARD_RD_ERROR (*err: errno, ECONNRESET for an RST; EPROTO for TLS),
 * LBGUARD_RD_TIMEOUT.
 */
static long
lbguard_conn_read(lbguard_conn_t *c, unsigned char *buf, size_t cap,
                  int64_t deadline, int *err)
{
    ssize_t n;
    int     r, e;

    *err = 0;
    for (;;) {
        if (c->ssl == NULL || SSL_pending(c->ssl) == 0) {
            r = lbguard_wait(c->fd, POLLIN, deadline);
            if (r == 0) {
                return LBGUARD_RD_TIMEOUT;
            }
            if (r < 0) {
                *err = errno;
                return LBGUARD_RD_ERROR;
            }
        }
        if (c->ssl == NULL) {
            n = recv(c->fd, buf, cap, 0);
            if (n > 0) {
                return (long) n;
            }
            if (n == 0) {
                return LBGUARD_RD_EOF;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                continue;
            }
            *err = errno;
            return LBGUARD_RD_ERROR;
        }
        ERR_clear_error();
        errno = 0;
        r = SSL_read(c->ssl, buf, cap > 1 << 30 ? 1 << 30 : (int) cap);
        if (r > 0) {
            return r;
        }
        e = SSL_get_error(c->ssl, r);
        switch (e) {
        case SSL_ERROR_WANT_READ:
            continue;
        case SSL_ERROR_WANT_WRITE:
            if (lbguard_wait(c->fd, POLLOUT, deadline) <= 0) {
                return LBGUARD_RD_TIMEOUT;
            }
            continue;
        case SSL_ERROR_ZERO_RETURN:
            return LBGUARD_RD_EOF;
        case SSL_ERROR_SYSCALL:
            if (errno == 0) {
                return LBGUARD_RD_EOF;
            }
            *err = errno;
            return LBGUARD_RD_ERROR;
        default:
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
            if (ERR_GET_REASON(ERR_peek_error())
                == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
                return LBGUARD_RD_EOF;
            }
#endif
            if (errno == ECONNRESET) {
                *err = errno;
                return LBGUARD_RD_ERROR;
            }
            *err = EPROTO;
            return LBGUARD_RD_ERROR;
        }
    }
}


/* Writes all of buf. Returns 0, or -1 (message printed). */
static int
lbguard_conn_write(lbguard_conn_t *c, const char *buf, size_t len,
                   int64_t deadline)
{
    ssize_t n;
    int     r, e;

    while (len > 0) {
        if (c->ssl == NULL) {
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK
                    || errno == EINTR) {
                    if (lbguard_wait(c->fd, POLLOUT, deadline) <= 0) {
                        lbguard_err("probe", "timed out sending the "
                                    "request");
                        return -1;
                    }
                    continue;
                }
                lbguard_err("probe", "cannot send the request: %s",
                            strerror(errno));
                return -1;
            }
            buf += n;
            len -= (size_t) n;
            continue;
        }
        ERR_clear_error();
        r = SSL_write(c->ssl, buf, len > 1 << 30 ? 1 << 30 : (int) len);
        if (r > 0) {
            buf += r;
            len -= (size_t) r;
            continue;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (lbguard_wait(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN
                                                             : POLLOUT,
                             deadline) <= 0) {
                lbguard_err("probe", "timed out sending the request");
                return -1;
            }
            continue;
        }
        lbguard_err("probe", "cannot send the request: %s",
                    lbguard_ssl_error());
        return -1;
    }
    return 0;
}


static void
lbguard_conn_close(lbguard_conn_t *c)
{
    if (c->ssl != NULL) {
        SSL_free(c->ssl);
    }
    if (c->ctx != NULL) {
        SSL_CTX_free(c->ctx);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->ssl = NULL;
    c->ctx = NULL;
    c->fd = -1;
}


/* Connects (and for https, completes the TLS handshake) before the
 * deadline. Returns 0, or -1 (message printed). */
static int
lbguard_conn_open(lbguard_conn_t *c, lbguard_url_t *u,
                  const lbguard_probe_opts_t *o, int64_t deadline)
{
    struct addrinfo hints, *ai = NULL, *a;
    int             r, e, fd = -1, soerr, one = 1;
    socklen_t       sl;
    unsigned char   addr[16];
    static const unsigned char alpn[] = "\x08http/1.1";

    c->fd = -1;
    c->ssl = NULL;
    c->ctx = NULL;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    r = getaddrinfo(u->host, u->port, &hints, &ai);
    if (r != 0) {
        lbguard_err("probe", "cannot resolve '%s': %s", u->host,
                    gai_strerror(r));
        return -1;
    }
    soerr = 0;
    for (a = ai; a != NULL; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) {
            soerr = errno;
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            break;
        }
        if (errno == EINPROGRESS) {
            r = lbguard_wait(fd, POLLOUT, deadline);
            if (r > 0) {
                sl = sizeof(soerr);
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                if (soerr == 0) {
                    break;
                }
            } else {
                soerr = r == 0 ? ETIMEDOUT : errno;
            }
        } else {
            soerr = errno;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        lbguard_err("probe", "cannot connect to %s port %s: %s", u->host,
                    u->port, strerror(soerr));
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd = fd;
    if (!u->tls) {
        return 0;
    }

    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL) {
        lbguard_err("probe", "TLS: %s", lbguard_ssl_error());
        return -1;
    }
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    if (!o->insecure) {
        if (o->cacert != NULL) {
            if (SSL_CTX_load_verify_locations(c->ctx, o->cacert, NULL) != 1)
            {
                lbguard_err("probe", "cannot load CA certificates from "
                            "'%s': %s", o->cacert, lbguard_ssl_error());
                return -1;
            }
        } else {
            SSL_CTX_set_default_verify_paths(c->ctx);
        }
        SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    }
    c->ssl = SSL_new(c->ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
        lbguard_err("probe", "TLS: %s", lbguard_ssl_error());
        return -1;
    }
    SSL_set_alpn_protos(c->ssl, alpn, sizeof(alpn) - 1);
    if (inet_pton(AF_INET, u->host, addr) == 1
        || inet_pton(AF_INET6, u->host, addr) == 1) {
        if (!o->insecure) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), u->host);
        }
    } else {
        SSL_set_tlsext_host_name(c->ssl, u->host);
        if (!o->insecure) {
            SSL_set1_host(c->ssl, u->host);
        }
    }
    for (;;) {
        ERR_clear_error();
        r = SSL_connect(c->ssl);
        if (r == 1) {
            return 0;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (lbguard_wait(fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                             deadline) <= 0) {
                lbguard_err("probe", "TLS handshake with %s port %s timed "
                            "out", u->host, u->port);
                return -1;
            }
            continue;
        }
        if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
            lbguard_err("probe", "TLS handshake with %s port %s failed: "
                        "certificate: %s (--insecure to skip, --cacert to "
                        "trust a CA)", u->host, u->port,
                        X509_verify_cert_error_string(
                            SSL_get_verify_result(c->ssl)));
        } else {
            lbguard_err("probe", "TLS handshake with %s port %s failed: %s",
                        u->host, u->port,
                        e == SSL_ERROR_SYSCALL && errno != 0
                            ? strerror(errno) : lbguard_ssl_error());
        }
        return -1;
    }
}


/*
 * Where a chunked body ends: just enough of RFC 9112 7.1 to know when to
 * stop reading (the core judges the bytes afterwards). Fed the body
 * incrementally; state DONE when the last chunk and the trailer section
 * have arrived, BAD when the bytes cannot be a chunked body.
 */
typedef enum {
    CH_SIZE = 0, CH_EXT, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER,
    CH_TRAILER_LINE, CH_DONE, CH_BAD
} lbguard_chunk_state_e;

typedef struct {
    lbguard_chunk_state_e state;
    uint64_t              size;
    size_t                digits;
    size_t                pos; /* bytes of the body consumed */
} lbguard_chunk_t;

static void
lbguard_chunk_feed(lbguard_chunk_t *ch, const unsigned char *body, size_t len)
{
    unsigned char c;
    size_t        take;

    while (ch->pos < len && ch->state != CH_DONE && ch->state != CH_BAD) {
        c = body[ch->pos];
        switch (ch->state) {
        case CH_SIZE:
            if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                || (c >= 'A' && c <= 'F')) {
                if (ch->size > LBGUARD_INPUT_MAX) {
                    ch->state = CH_BAD;
                    break;
                }
                ch->size = ch->size * 16
                           + (uint64_t) (c <= '9' ? c - '0'
                                                  : (c | 0x20) - 'a' + 10);
                ch->digits++;
            } else if (ch->digits > 0 && (c == ';' || c == ' ' || c == '\t'
                                          || c == '\r')) {
                ch->state = CH_EXT;
            } else if (ch->digits > 0 && c == '\n') {
                ch->state = ch->size == 0 ? CH_TRAILER : CH_DATA;
            } else {
                ch->state = CH_BAD;
            }
            ch->pos++;
            break;
        case CH_EXT:
            if (c == '\n') {
                ch->state = ch->size == 0 ? CH_TRAILER : CH_DATA;
            }
            ch->pos++;
            break;
        case CH_DATA:
            take = len - ch->pos;
            if (take > ch->size) {
                take = (size_t) ch->size;
            }
            ch->pos += take;
            ch->size -= take;
            if (ch->size == 0) {
                ch->state = CH_DATA_CR;
            }
            break;
        case CH_DATA_CR:
            ch->state = c == '\r' ? CH_DATA_LF : c == '\n' ? CH_SIZE : CH_BAD;
            ch->digits = 0;
            ch->pos++;
            break;
        case CH_DATA_LF:
            ch->state = c == '\n' ? CH_SIZE : CH_BAD;
            ch->pos++;
            break;
        case CH_TRAILER:
            /* at the start of a trailer line: an empty line ends it */
            if (c == '\n') {
                ch->state = CH_DONE;
            } else if (c != '\r') {
                ch->state = CH_TRAILER_LINE;
            }
            ch->pos++;
            break;
        case CH_TRAILER_LINE:
            if (c == '\n') {
                ch->state = CH_TRAILER;
            }
            ch->pos++;
            break;
        case CH_DONE:
        case CH_BAD:
            break;
        }
    }
}


/* The end of the header section in buf[0..len): the offset just past the
 * empty line, or 0. Searches from `from`. */
static size_t
lbguard_header_end(const unsigned char *buf, size_t len, size_t from)
{
    size_t i;

    for (i = from; i < len; i++) {
        if (buf[i] != '\n') {
            continue;
        }
        if (i + 1 < len && buf[i + 1] == '\n') {
            return i + 2;
        }
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}


/* 1 when the field list of `v` has field `name` whose value holds the
 * comma-separated token `tok` (ASCII case-insensitive). */
static int
lbguard_has_token(const lbg_response_t *v, const char *name, const char *tok)
{
    size_t      i, s, e;
    const char *val;
    size_t      n;

    for (i = 0; i < v->nfields; i++) {
        if (!lbguard_ieq((const char *) v->fields[i].name,
                         v->fields[i].name_len, name)) {
            continue;
        }
        val = (const char *) v->fields[i].value;
        n = v->fields[i].value_len;
        for (s = 0; s < n; s = e + 1) {
            for (e = s; e < n && val[e] != ','; e++) {
            }
            while (s < e && (val[s] == ' ' || val[s] == '\t')) {
                s++;
            }
            while (e > s && (val[e - 1] == ' ' || val[e - 1] == '\t')) {
                e--;
            }
            if (lbguard_ieq(val + s, e - s, tok)) {
                return 1;
            }
            while (e < n && val[e] != ',') {
                e++;
            }
        }
    }
    return 0;
}


/* Formats a duration in ms as "65 s", "2.5 s" or "0.25 s". */
static const char *
lbguard_secs(char *buf, size_t size, uint64_t ms)
{
    if (ms % 1000 == 0) {
        snprintf(buf, size, "%llu s", (unsigned long long) (ms / 1000));
    } else if (ms % 100 == 0) {
        snprintf(buf, size, "%.1f s", (double) ms / 1000.0);
    } else {
        snprintf(buf, size, "%.2f s", (double) ms / 1000.0);
    }
    return buf;
}


/* Formats a measured duration in ms as "2.00 s" (always two decimals). */
static const char *
lbguard_secs_measured(char *buf, size_t size, uint64_t ms)
{
    snprintf(buf, size, "%llu.%02llu s", (unsigned long long) (ms / 1000),
             (unsigned long long) (ms % 1000 / 10));
    return buf;
}


static int
lbguard_probe_args(int argc, char **argv, lbguard_probe_opts_t *o, int *done)
{
    const char *v;
    int         i, r;
    size_t      k;

    *done = 0;
    memset(o, 0, sizeof(*o));
    o->method = "GET";
    o->margin_ms = LBG_KEEPALIVE_MARGIN_MS;
    o->timeout_ms = 10000;
    o->profile = LBG_PROFILE_STRICTEST;
    o->fail_on = LBGUARD_FAIL_REJECTED;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(probe_usage, stdout);
            *done = 1;
            return LBGUARD_EXIT_OK;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--insecure") == 0 || strcmp(a, "-k") == 0) {
            o->insecure = 1;
            continue;
        }
        if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            o->quiet = 1;
            continue;
        }
        if ((r = lbguard_opt_value("probe", argc, argv, &i,
                                   "--lb-idle-timeout", &v))) {
            if (r < 0) {
                return LBGUARD_EXIT_USAGE;
            }
            if (lbg_lb_preset(v, strlen(v), &o->lb_ms) != 0
                && (lbguard_parse_duration(v, &o->lb_ms) != 0
                    || o->lb_ms == 0)) {
                lbguard_err("probe", "bad --lb-idle-timeout '%s' (a duration "
                            "such as 60s, or aws-alb, aws-clb, gcp, oci)", v);
                return LBGUARD_EXIT_USAGE;
            }
            continue;
        }
        if ((r = lbguard_opt_value("probe", argc, argv, &i, "--margin",
                                   &v))) {
            if (r < 0 || lbguard_parse_duration(v, &o->margin_ms) != 0) {
                if (r > 0) {
                    lbguard_err("probe", "bad --margin '%s'", v);
                }
                return LBGUARD_EXIT_USAGE;
            }
            continue;
        }
        if ((r = lbguard_opt_value("probe", argc, argv, &i, "--max-wait",
                                   &v))) {
            if (r < 0 || lbguard_parse_duration(v, &o->max_wait_ms) != 0
                || o->max_wait_ms == 0) {
                if (r > 0) {
                    lbguard_err("probe", "bad --max-wait '%s'", v);
                }
                return LBGUARD_EXIT_USAGE;
            }
            continue;
        }
        if ((r = lbguard_opt_value("probe", argc, argv, &i, "--timeout",
                                   &v))) {
            if (r < 0 || lbguard_parse_duration(v, &o->timeout_ms) != 0
                || o->timeout_ms == 0) {
                if (r > 0) {
                    lbguard_err("probe", "bad --timeout '%s'", v);
                }
                return LBGUARD_EXIT_USAGE;
            }
            continue;
        }
        if ((r = lbguard_opt_value("probe", argc, argv, &i, "--method",
                                   &v))) {
            if (r < 0) {
                return LBGUARD_EXIT_USAGE;
            }
            if (*v == '\0' || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "abcdefghijklmnopqrstuvwxyz"
                                        "0123456789!#$%&'*+-.^_`|~")
                                  != strlen(v)) {
                lbguard_err("probe", "bad --method '%s' (a token)", v);
                return LBGUARD_EXIT_USAGE;
            }
            o->method = v;
            continue;
        }
        if ((r = lbguard_opt_value("probe", argc, argv, &i, "--header",
                                   &v))) {
            if (r < 0) {
                return LBGUARD_EXIT_USAGE;
            }
            k = strcspn(v, ":");
            if (k == 0 || v[k] != ':' || strpbrk(v, "\r\n") != NULL) {
                lbguard_err("probe", "bad --header '%s' (want 'Name: "
                            "value')", v);
                return LBGUARD_EXIT_USAGE;
            }
            if (o->nheaders == LBGUARD_MAX_HEADERS) {
                lbguard_err("probe", "too many --header options (at most "
                            "%d)", LBGUARD_MAX_HEADERS);
                return LBGUARD_EXIT_USAGE;
            }
            o->headers[o->nheaders++] = v;
            continue;
        }
        if ((r = lbguard_opt_value("probe", argc, argv, &i, "--cacert",
                                   &v))) {
            if (r < 0) {
                return LBGUARD_EXIT_USAGE;
            }
            o->cacert = v;
            continue;
        }
        if ((r = lbguard_opt_value("probe", argc, argv, &i, "--profile",
                                   &v))) {
            if (r < 0 || lbguard_opt_profile("probe", v, &o->profile) != 0) {
                return LBGUARD_EXIT_USAGE;
            }
            continue;
        }
        if ((r = lbguard_opt_value("probe", argc, argv, &i, "--fail-on",
                                   &v))) {
            if (r < 0 || lbguard_opt_tier("probe", v, &o->fail_on) != 0) {
                return LBGUARD_EXIT_USAGE;
            }
            continue;
        }
        if (a[0] == '-') {
            lbguard_err("probe", "unknown option '%s' (see 'lbguard probe "
                        "--help')", a);
            return LBGUARD_EXIT_USAGE;
        }
        if (o->url != NULL) {
            lbguard_err("probe", "one URL at a time ('%s' and '%s')", o->url,
                        a);
            return LBGUARD_EXIT_USAGE;
        }
        o->url = a;
    }
    if (o->url == NULL) {
        lbguard_err("probe", "no URL (see 'lbguard probe --help')");
        return LBGUARD_EXIT_USAGE;
    }
    return LBGUARD_EXIT_OK;
}


/* Builds the request in *req (malloc'd). Returns its length, or 0. */
static size_t
lbguard_build_request(const lbguard_probe_opts_t *o, const lbguard_url_t *u,
                      char **req)
{
    size_t i, cap, n;
    int    host = 1, ua = 1, conn = 1, accept = 1;
    char  *b;

    cap = strlen(o->method) + strlen(u->path) + strlen(u->authority) + 256;
    for (i = 0; i < o->nheaders; i++) {
        const char *h = o->headers[i];
        size_t      k = strcspn(h, ":");

        cap += strlen(h) + 4;
        host &= !lbguard_ieq(h, k, "host");
        ua &= !lbguard_ieq(h, k, "user-agent");
        conn &= !lbguard_ieq(h, k, "connection");
        accept &= !lbguard_ieq(h, k, "accept");
    }
    b = malloc(cap);
    if (b == NULL) {
        return 0;
    }
    n = (size_t) snprintf(b, cap, "%s %s HTTP/1.1\r\n", o->method, u->path);
    if (host) {
        n += (size_t) snprintf(b + n, cap - n, "Host: %s\r\n", u->authority);
    }
    if (ua) {
        n += (size_t) snprintf(b + n, cap - n, "User-Agent: lbguard/%s\r\n",
                               LBG_VERSION);
    }
    if (accept) {
        n += (size_t) snprintf(b + n, cap - n, "Accept: */*\r\n");
    }
    if (conn) {
        n += (size_t) snprintf(b + n, cap - n, "Connection: keep-alive\r\n");
    }
    for (i = 0; i < o->nheaders; i++) {
        n += (size_t) snprintf(b + n, cap - n, "%s\r\n", o->headers[i]);
    }
    n += (size_t) snprintf(b + n, cap - n, "\r\n");
    *req = b;
    return n;
}


/* The response as read, and how reading stopped. */
typedef struct {
    unsigned char *buf;
    size_t         len;
    int64_t        t_last;   /* monotonic us of the last byte */
    int            complete; /* framing says the response is whole */
    int            closed;   /* the server closed while we read: */
    int            reset;    /*   ... with an RST */
    int            too_large;
    int            timed_out;
} lbguard_resp_t;

/* Reads one response. Returns 0, or -1 on an error (message printed). */
static int
lbguard_read_response(lbguard_conn_t *c, int head, int64_t deadline,
                      lbguard_resp_t *r)
{
    lbguard_result_t res;
    lbguard_chunk_t  ch;
    unsigned char   *nb;
    size_t           cap = 0, hdr = 0, need = 0;
    lbg_framing_e    framing = LBG_FRAMING_CLOSE;
    long             n;
    int              err;

    memset(r, 0, sizeof(*r));
    memset(&ch, 0, sizeof(ch));
    for (;;) {
        if (r->len == cap) {
            if (cap >= LBGUARD_INPUT_MAX) {
                r->too_large = 1;
                return 0;
            }
            cap = cap ? cap * 2 : 65536;
            if (cap > LBGUARD_INPUT_MAX) {
                cap = LBGUARD_INPUT_MAX;
            }
            nb = realloc(r->buf, cap);
            if (nb == NULL) {
                lbguard_err("probe", "out of memory");
                return -1;
            }
            r->buf = nb;
        }
        n = lbguard_conn_read(c, r->buf + r->len, cap - r->len, deadline,
                              &err);
        if (n == LBGUARD_RD_TIMEOUT) {
            r->timed_out = 1;
            return 0;
        }
        if (n == LBGUARD_RD_EOF) {
            r->closed = 1;
            r->t_last = lbguard_now_us();
            /* a body delimited by the close ends here */
            r->complete = hdr > 0 && framing == LBG_FRAMING_CLOSE;
            return 0;
        }
        if (n == LBGUARD_RD_ERROR) {
            if (err == ECONNRESET) {
                r->closed = 1;
                r->reset = 1;
                r->t_last = lbguard_now_us();
                return 0;
            }
            lbguard_err("probe", "cannot read the response: %s",
                        strerror(err));
            return -1;
        }
        r->t_last = lbguard_now_us();
        r->len += (size_t) n;

        if (hdr == 0) {
            hdr = lbguard_header_end(r->buf, r->len,
                                     r->len > (size_t) n + 2
                                         ? r->len - (size_t) n - 2 : 0);
            if (hdr == 0) {
                continue;
            }
            /* The core decides the message framing (RFC 9112 6.3). */
            if (lbguard_analyse("probe", &res, LBG_PROFILE_STRICTEST, r->buf,
                                hdr, head) != 0) {
                return -1;
            }
            framing = res.raw.header_len > 0 ? res.raw.framing
                                             : LBG_FRAMING_CLOSE;
            if (framing == LBG_FRAMING_LENGTH) {
                need = res.raw.body_expected < 0
                           ? 0 : (size_t) res.raw.body_expected;
                if ((uint64_t) res.raw.body_expected > LBGUARD_INPUT_MAX) {
                    need = LBGUARD_INPUT_MAX;
                }
            }
            lbguard_result_free(&res);
        }
        switch (framing) {
        case LBG_FRAMING_NONE:
            r->complete = 1;
            return 0;
        case LBG_FRAMING_LENGTH:
            if (r->len - hdr >= need) {
                r->complete = 1;
                return 0;
            }
            break;
        case LBG_FRAMING_CHUNKED:
            lbguard_chunk_feed(&ch, r->buf + hdr, r->len - hdr);
            if (ch.state == CH_DONE || ch.state == CH_BAD) {
                r->complete = ch.state == CH_DONE;
                return 0;
            }
            break;
        case LBG_FRAMING_CLOSE:
            break;
        }
    }
}


/* How the idle wait ended. */
typedef enum {
    IDLE_FIN = 0, IDLE_RST, IDLE_OPEN, IDLE_ERROR
} lbguard_idle_e;

static const char *const idle_names[] = { "fin", "rst", "open", "error" };

/* Waits on the idle connection until it closes or `wait_ms` pass.
 * Sets *closed_us (monotonic) and *extra (bytes received meanwhile). */
static lbguard_idle_e
lbguard_idle_wait(lbguard_conn_t *c, int64_t t0, uint64_t wait_ms, int quiet,
                  int64_t *closed_us, size_t *extra, int *err)
{
    unsigned char buf[4096];
    int64_t       deadline = t0 + (int64_t) wait_ms * 1000, step, next;
    long          n;
    int           tty = isatty(2);
    char          w[32];

    *extra = 0;
    step = tty ? 500000 : 10000000;
    next = t0 + step;
    for (;;) {
        int64_t until = next < deadline ? next : deadline;

        n = lbguard_conn_read(c, buf, sizeof(buf), until, err);
        *closed_us = lbguard_now_us();
        if (n > 0) {
            *extra += (size_t) n;
            continue;
        }
        if (n == LBGUARD_RD_EOF || n == LBGUARD_RD_ERROR) {
            if (tty && !quiet) {
                fputs("\r\033[K", stderr);
            }
            if (n == LBGUARD_RD_EOF) {
                return IDLE_FIN;
            }
            return *err == ECONNRESET ? IDLE_RST : IDLE_ERROR;
        }
        if (*closed_us >= deadline) {
            if (tty && !quiet) {
                fputs("\r\033[K", stderr);
            }
            return IDLE_OPEN;
        }
        if (*closed_us >= next) {
            if (!quiet) {
                fprintf(stderr, "%slbguard: probe: idle %.1f s, connection "
                        "still open (waiting up to %s)%s",
                        tty ? "\r" : "", (double) (*closed_us - t0) / 1e6,
                        lbguard_secs(w, sizeof(w), wait_ms), tty ? "" : "\n");
                fflush(stderr);
            }
            next += step;
        }
    }
}


int
lbguard_cmd_probe(int argc, char **argv)
{
    lbguard_probe_opts_t o;
    lbguard_url_t        u;
    lbguard_conn_t       c = { -1, NULL, NULL };
    lbguard_resp_t       resp;
    lbguard_result_t     res;
    lbguard_idle_e       idle = IDLE_OPEN;
    lbg_ka_verdict_e     verdict = LBG_KA_UNKNOWN;
    struct sigaction     sa;
    char                *req = NULL;
    char                 msg[1024], s1[32], s2[32], s3[32], ka[300];
    const char          *announce = NULL;
    size_t               reqlen, extra = 0, i, mlen = 0;
    int64_t              t_start, deadline, closed_us = 0;
    uint64_t             wait_ms, idle_ms = 0, server_ms, required = 0;
    int                  rc, done, head, err = 0, fails, have_res = 0;
    int                  measured = 0;

    rc = lbguard_probe_args(argc, argv, &o, &done);
    if (rc != 0 || done) {
        return rc;
    }
    if (lbguard_url_parse(o.url, &u) != 0) {
        return LBGUARD_EXIT_USAGE;
    }
    head = lbguard_ieq(o.method, strlen(o.method), "head");

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    reqlen = lbguard_build_request(&o, &u, &req);
    if (reqlen == 0) {
        lbguard_err("probe", "out of memory");
        return LBGUARD_EXIT_USAGE;
    }
    t_start = lbguard_now_us();
    deadline = t_start + (int64_t) o.timeout_ms * 1000;
    rc = LBGUARD_EXIT_USAGE;
    memset(&resp, 0, sizeof(resp));
    if (lbguard_conn_open(&c, &u, &o, deadline) != 0
        || lbguard_conn_write(&c, req, reqlen, deadline) != 0
        || lbguard_read_response(&c, head, deadline, &resp) != 0) {
        goto done;
    }
    if (resp.len == 0) {
        lbguard_err("probe", "%s: %s", o.url,
                    resp.timed_out ? "no response before the timeout"
                    : resp.reset ? "the server reset the connection without "
                                   "a response (RST)"
                                 : "the server closed the connection "
                                   "without a response");
        goto done;
    }
    if (resp.too_large) {
        lbguard_err("probe", "%s: the response is larger than 64 MiB",
                    o.url);
        goto done;
    }
    if (lbguard_analyse("probe", &res, o.profile, resp.buf, resp.len, head)
        != 0) {
        goto done;
    }
    have_res = 1;

    /* Did the response itself announce that the connection ends? */
    if (lbguard_has_token(&res.raw.view, "connection", "close")) {
        announce = "the response says Connection: close";
    } else if (res.raw.view.version == 10
               && !lbguard_has_token(&res.raw.view, "connection",
                                     "keep-alive")) {
        announce = "the response is HTTP/1.0 without Connection: keep-alive";
    } else if (res.raw.framing == LBG_FRAMING_CLOSE) {
        announce = "the response body is delimited by closing the "
                   "connection";
    }

    /* The idle wait. */
    if (resp.closed && resp.complete) {
        idle = resp.reset ? IDLE_RST : IDLE_FIN;
        closed_us = resp.t_last;
        measured = 1;
    } else if (!resp.complete) {
        idle = IDLE_ERROR;
    } else {
        if (o.max_wait_ms) {
            wait_ms = o.max_wait_ms;
        } else if (o.lb_ms) {
            wait_ms = o.lb_ms + o.margin_ms + 2000;
        } else {
            wait_ms = 120000;
        }
        if (announce != NULL && wait_ms > 5000) {
            wait_ms = 5000;
        }
        idle = lbguard_idle_wait(&c, resp.t_last, wait_ms, o.quiet || o.json,
                                 &closed_us, &extra, &err);
        measured = idle == IDLE_FIN || idle == IDLE_RST;
        if (idle == IDLE_OPEN) {
            idle_ms = wait_ms;
        }
    }
    if (measured) {
        idle_ms = (uint64_t) (closed_us - resp.t_last + 500) / 1000;
    }

    /* The verdict (server_ms 0: keep-alive off). */
    if (announce != NULL) {
        server_ms = 0;
    } else if (measured) {
        server_ms = idle_ms > 0 ? idle_ms : 1;
    } else if (idle == IDLE_OPEN) {
        server_ms = idle_ms;
    } else {
        server_ms = 0;
    }
    if (idle != IDLE_ERROR || announce != NULL) {
        verdict = lbg_keepalive_verdict(server_ms, o.lb_ms, o.margin_ms,
                                        &required);
    }

    if (announce != NULL) {
        mlen = (size_t) snprintf(msg, sizeof(msg), "%s (no keep-alive)",
                                 announce);
        if (measured) {
            mlen += (size_t) snprintf(msg + mlen, sizeof(msg) - mlen,
                                      "; the server closed it after %s (%s)",
                                      lbguard_secs_measured(s1, sizeof(s1), idle_ms),
                                      idle == IDLE_RST ? "RST" : "FIN");
        }
    } else if (measured) {
        mlen = (size_t) snprintf(msg, sizeof(msg), "server closed the idle "
                                 "connection after %s (%s)",
                                 lbguard_secs_measured(s1, sizeof(s1), idle_ms),
                                 idle == IDLE_RST ? "RST" : "FIN");
    } else if (idle == IDLE_OPEN) {
        mlen = (size_t) snprintf(msg, sizeof(msg), "server kept the idle "
                                 "connection open for the whole %s wait",
                                 lbguard_secs_measured(s1, sizeof(s1), idle_ms));
    } else {
        mlen = (size_t) snprintf(msg, sizeof(msg), "%s",
                                 resp.timed_out
                                     ? "the response did not end before the "
                                       "timeout: keep-alive not measured"
                                 : resp.reset
                                     ? "the server reset the connection (RST) "
                                       "before the response ended: keep-alive "
                                       "not measured"
                                 : resp.closed
                                     ? "the server closed the connection (FIN) "
                                       "before the response ended: keep-alive "
                                       "not measured"
                                     : "the response is incomplete: "
                                       "keep-alive not measured");
    }
    if (extra > 0 && mlen < sizeof(msg)) {
        mlen += (size_t) snprintf(msg + mlen, sizeof(msg) - mlen,
                                  "; it sent %lu more bytes while idle",
                                  (unsigned long) extra);
    }
    if (mlen < sizeof(msg)) {
        switch (verdict) {
        case LBG_KA_RAISE:
            snprintf(msg + mlen, sizeof(msg) - mlen, "; the load balancer "
                     "keeps it %s: expect intermittent 502s; set the server "
                     "keep-alive above %s",
                     lbguard_secs(s2, sizeof(s2), o.lb_ms),
                     lbguard_secs(s3, sizeof(s3), required));
            break;
        case LBG_KA_OK:
            snprintf(msg + mlen, sizeof(msg) - mlen, "; the load balancer "
                     "keeps it %s: OK (%s or more needed)",
                     lbguard_secs(s2, sizeof(s2), o.lb_ms),
                     lbguard_secs(s3, sizeof(s3), required));
            break;
        case LBG_KA_DISABLED:
            snprintf(msg + mlen, sizeof(msg) - mlen, "; a load balancer "
                     "opens a new connection for every request: no "
                     "keep-alive race, no connection reuse");
            break;
        case LBG_KA_UNKNOWN:
            if (idle != IDLE_ERROR) {
                snprintf(msg + mlen, sizeof(msg) - mlen, "; no verdict "
                         "without --lb-idle-timeout");
            }
            break;
        }
    }

    /* the keep-alive verdicts keep the old default tier, ambiguous */
    fails = lbguard_fails(&res, o.fail_on)
            || (verdict == LBG_KA_RAISE && LBG_TIER_SEVERE >= o.fail_on)
            || (verdict == LBG_KA_DISABLED
                && o.fail_on != LBGUARD_FAIL_REJECTED
                && LBG_TIER_ACCEPTABLE >= o.fail_on);

    if (o.json) {
        fputs("{\"url\":", stdout);
        lbguard_json_str(stdout, o.url, strlen(o.url));
        fputs(",\"method\":", stdout);
        lbguard_json_str(stdout, o.method, strlen(o.method));
        fprintf(stdout, ",\"response_bytes\":%lu,\"response_complete\":%s,",
                (unsigned long) resp.len, resp.complete ? "true" : "false");
        lbguard_print_findings(stdout, o.url, &res, resp.buf, resp.len, 1, 0);
        fprintf(stdout, ",\"keepalive\":{\"announced_close\":%s,"
                "\"closed_by\":\"%s\",\"idle_ms\":",
                announce ? "true" : "false", idle_names[idle]);
        if (measured || idle == IDLE_OPEN) {
            fprintf(stdout, "%llu", (unsigned long long) idle_ms);
        } else {
            fputs("null", stdout);
        }
        fprintf(stdout, ",\"idle_bytes\":%lu,\"lb_idle_ms\":%llu,"
                "\"margin_ms\":%llu,\"required_ms\":%llu,\"verdict\":\"%s\","
                "\"message\":",
                (unsigned long) extra, (unsigned long long) o.lb_ms,
                (unsigned long long) o.margin_ms,
                (unsigned long long) required,
                verdict == LBG_KA_OK ? "ok" : verdict == LBG_KA_RAISE
                ? "raise" : verdict == LBG_KA_DISABLED ? "disabled"
                : "unknown");
        lbguard_json_str(stdout, msg, strlen(msg));
        fprintf(stdout, "},\"exit\":%d}\n",
                fails ? LBGUARD_EXIT_FINDINGS : LBGUARD_EXIT_OK);
    } else {
        printf("probe: %s %s: status %d, %lu bytes%s\n", o.method, o.url,
               res.raw.view.status, (unsigned long) resp.len,
               resp.complete ? "" : " (incomplete response)");
        lbguard_print_findings(stdout, o.url, &res, resp.buf, resp.len, 0, 0);
        for (i = 0; i < res.raw.view.nfields; i++) {
            const lbg_field_t *f = &res.raw.view.fields[i];

            if (lbguard_ieq((const char *) f->name, f->name_len,
                            "keep-alive")) {
                lbg_escape(f->value, f->value_len, 64, ka, sizeof(ka));
                printf("keep-alive: the server advertises Keep-Alive: %s\n",
                       ka);
            }
        }
        printf("keep-alive: %s\n", msg);
    }
    rc = fails ? LBGUARD_EXIT_FINDINGS : LBGUARD_EXIT_OK;
    if (fflush(stdout) != 0) {
        rc = LBGUARD_EXIT_USAGE;
    }

done:
    if (have_res) {
        lbguard_result_free(&res);
    }
    free(resp.buf);
    free(req);
    lbguard_conn_close(&c);
    return rc;
}
