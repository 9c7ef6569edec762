/*
 * lbguard_net.h -- internal interfaces of the network and HTTP layers of
 * the lbguard command-line tool (lbguard_net.c, lbguard_fetch.c), used by
 * `lbguard probe`. Not installed. Layering: probe -> fetch -> net -> util,
 * report -> core; nothing here calls back into a subcommand.
 */

#ifndef LBGUARD_NET_H
#define LBGUARD_NET_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "lbguard_cli.h"


/* A parsed http:// or https:// URL; every member NUL-terminated. */
typedef struct {
    int  tls;
    char host[256]; /* without IPv6 brackets */
    char port[8];
    char authority[300]; /* the Host header value: as in the URL */
    char path[4096];
} lbguard_url_t;

/* One connection: fd -1 when closed; ctx/ssl NULL for http. */
typedef struct {
    int      fd;
    SSL_CTX *ctx;
    SSL     *ssl;
} lbguard_conn_t;

/* How https connections verify the server (probe's --insecure, --cacert). */
typedef struct {
    int         insecure; /* 1: do not verify the certificate */
    const char *cacert;   /* a PEM file of trusted CAs, or NULL: defaults */
} lbguard_tls_opts_t;

/* Results of conn_read besides a byte count. */
#define LBGUARD_RD_EOF     0
#define LBGUARD_RD_ERROR   (-1)
#define LBGUARD_RD_TIMEOUT (-2)

/* Parses http[s]://host[:port][/path] (host up to 255 bytes, path up to
 * 4095; default port 80/443, path "/"). Returns 0, or -1 (message printed
 * for "probe"). */
int lbguard_url_parse(const char *url, lbguard_url_t *u);

/* Connects to u (and for https, completes the TLS handshake, ALPN
 * http/1.1, verified per `o`) before `deadline` (monotonic us, as
 * lbguard_now_us). Returns 0, or -1 (message printed). */
int lbguard_conn_open(lbguard_conn_t *c, lbguard_url_t *u,
                      const lbguard_tls_opts_t *o, int64_t deadline);

/*
 * Reads up to cap bytes, waiting until the deadline (monotonic us).
 * Returns the count, or LBGUARD_RD_EOF (the peer closed: FIN, or TLS
 * close_notify/EOF), LBGUARD_RD_ERROR (*err: errno, ECONNRESET for an RST;
 * EPROTO for TLS), LBGUARD_RD_TIMEOUT.
 */
long lbguard_conn_read(lbguard_conn_t *c, unsigned char *buf, size_t cap,
                       int64_t deadline, int *err);

/* Writes all of buf[0..len) before the deadline (monotonic us). Returns 0,
 * or -1 (message printed). */
int lbguard_conn_write(lbguard_conn_t *c, const char *buf, size_t len,
                       int64_t deadline);

/* Closes the connection (TLS and socket); safe on a closed one. */
void lbguard_conn_close(lbguard_conn_t *c);

/*
 * Builds an HTTP/1.1 request for u in *req (malloc'd, not NUL-counted):
 * "<method> <path> HTTP/1.1", then Host, User-Agent, Accept and
 * Connection: keep-alive unless headers[0..nheaders) ("Name: value" each)
 * names them, then those headers. Returns its length, or 0 (no memory).
 */
size_t lbguard_build_request(const char *method, const char *const *headers,
                             size_t nheaders, const lbguard_url_t *u,
                             char **req);

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

/* Reads one response (at most LBGUARD_INPUT_MAX bytes) from c before the
 * deadline (monotonic us); head is 1 for a response to HEAD. Stops where
 * the core's framing says the message ends, at close, reset or timeout.
 * Returns 0 (*r filled, r->buf malloc'd), or -1 on an error (message
 * printed). */
int lbguard_read_response(lbguard_conn_t *c, int head, int64_t deadline,
                          lbguard_resp_t *r);

#endif /* LBGUARD_NET_H */
