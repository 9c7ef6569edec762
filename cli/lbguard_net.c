/*
 * lbguard_net.c -- the network layer of `lbguard probe`: http[s] URL
 * parsing, and one TCP connection (OpenSSL for https) with deadlines on
 * every read and write (poll), RST told apart from FIN.
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
#include "lbguard_net.h"


/* Parses http[s]://host[:port][/path]. Returns 0, or -1 (message). */
int
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
        lbguard_err("probe",
                    "'%s': the URL must start with http:// or "
                    "https://",
                    url);
        return -1;
    }
    path = p + strcspn(p, "/?#");
    /* a fragment is no part of a request target (RFC 9112 3.2): refused
     * after the path or query as right after the host */
    if (strchr(path, '#') != NULL
        || memchr(p, '@', (size_t) (path - p)) != NULL) {
        lbguard_err("probe",
                    "'%s': user information and fragments are not "
                    "supported",
                    url);
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
        /* getaddrinfo() takes "99999" and connects to 99999 - 65536 */
        if (strtoul(u->port, NULL, 10) - 1 >= 65535) {
            lbguard_err("probe", "'%s': bad port", url);
            return -1;
        }
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
            lbguard_err("probe",
                        "'%s': the path has a space or control "
                        "character (percent-encode it)",
                        url);
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
long
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
        case SSL_ERROR_WANT_READ: continue;
        case SSL_ERROR_WANT_WRITE:
            if (lbguard_wait(c->fd, POLLOUT, deadline) <= 0) {
                return LBGUARD_RD_TIMEOUT;
            }
            continue;
        case SSL_ERROR_ZERO_RETURN: return LBGUARD_RD_EOF;
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
int
lbguard_conn_write(lbguard_conn_t *c, const char *buf, size_t len,
                   int64_t deadline)
{
    ssize_t n;
    int     r, e;

    while (len > 0) {
        if (c->ssl == NULL) {
            n = send(c->fd, buf, len, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                {
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
            if (lbguard_wait(c->fd,
                             e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
                             deadline)
                <= 0)
            {
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


void
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
int
lbguard_conn_open(lbguard_conn_t *c, lbguard_url_t *u,
                  const lbguard_tls_opts_t *o, int64_t deadline)
{
    struct addrinfo            hints, *ai = NULL, *a;
    int                        r, e, fd = -1, soerr, one = 1;
    socklen_t                  sl;
    unsigned char              addr[16];
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
            if (SSL_CTX_load_verify_locations(c->ctx, o->cacert, NULL) != 1) {
                lbguard_err("probe",
                            "cannot load CA certificates from "
                            "'%s': %s",
                            o->cacert, lbguard_ssl_error());
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
        || inet_pton(AF_INET6, u->host, addr) == 1)
    {
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
                             deadline)
                <= 0)
            {
                lbguard_err("probe",
                            "TLS handshake with %s port %s timed "
                            "out",
                            u->host, u->port);
                return -1;
            }
            continue;
        }
        if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
            lbguard_err("probe",
                        "TLS handshake with %s port %s failed: "
                        "certificate: %s (--insecure to skip, --cacert to "
                        "trust a CA)",
                        u->host, u->port,
                        X509_verify_cert_error_string(
                            SSL_get_verify_result(c->ssl)));
        } else {
            lbguard_err("probe", "TLS handshake with %s port %s failed: %s",
                        u->host, u->port,
                        e == SSL_ERROR_SYSCALL && errno != 0
                            ? strerror(errno)
                            : lbguard_ssl_error());
        }
        return -1;
    }
}
