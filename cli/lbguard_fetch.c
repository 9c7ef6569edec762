/*
 * lbguard_fetch.c -- the HTTP layer of `lbguard probe`: builds the request
 * and reads one response off a connection (lbguard_net.c), stopping where
 * the core's framing verdict (RFC 9112 6.3) and, for a chunked body, the
 * core's chunked decoder (lbg_chunked_t) say the message ends.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbguard_cli.h"
#include "lbguard_net.h"


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


/* 1 when b[0..n), the bytes after interim response v's header section,
 * settle where the next response starts as the core has it
 * (lbg_raw_t.interim_body, which lbguard_analyse_chain() follows): after
 * the bytes its first Content-Length announces, unless they begin a
 * response ("HTTP/"). 0 while more bytes could change that. */
static int
lbguard_interim_settled(const lbg_response_t *v, const unsigned char *b,
                        size_t n)
{
    int64_t x = -1;
    size_t  i;

    for (i = 0; i < v->nfields; i++) {
        if (lbg_field_is_content_length(v->fields[i].name,
                                        v->fields[i].name_len)) {
            x = lbg_content_length_parse(v->fields[i].value,
                                         v->fields[i].value_len);
            break;
        }
    }
    return x <= 0 || (uint64_t) x <= (uint64_t) n
           || (n >= 5 && memcmp(b, "HTTP/", 5) == 0);
}


size_t
lbguard_build_request(const char *method, const char *const *headers,
                      size_t nheaders, const lbguard_url_t *u, char **req)
{
    size_t i, cap, n;
    int    host = 1, ua = 1, conn = 1, accept = 1;
    char  *b;

    cap = strlen(method) + strlen(u->path) + strlen(u->authority) + 256;
    for (i = 0; i < nheaders; i++) {
        const char *h = headers[i];
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
    n = (size_t) snprintf(b, cap, "%s %s HTTP/1.1\r\n", method, u->path);
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
    for (i = 0; i < nheaders; i++) {
        n += (size_t) snprintf(b + n, cap - n, "%s\r\n", headers[i]);
    }
    n += (size_t) snprintf(b + n, cap - n, "\r\n");
    *req = b;
    return n;
}


int
lbguard_read_response(lbguard_conn_t *c, int head, int64_t deadline,
                      lbguard_resp_t *r)
{
    lbguard_result_t res;
    lbg_chunked_t    ch;
    unsigned char   *nb;
    size_t           cap = 0, hdr = 0, need = 0, fed = 0, start = 0, scan;
    size_t           interim = 0, ih;
    int              settled = 1; /* 0: an interim response at `start`
                                     waits for the bytes after it */
    lbg_framing_e    framing = LBG_FRAMING_CLOSE;
    long             n;
    int              err, rc, more;

    memset(r, 0, sizeof(*r));
    lbg_chunked_init(&ch);
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

        /* An interim response (1xx but 101) is followed by the next
         * response, up to the final one (RFC 9110 15.2): it ends with its
         * header section, or after the body its Content-Length announced
         * (body-on-bodiless: where lbguard_analyse_chain() and `check`
         * start the next response), and the search goes on after it. */
        scan = r->len > (size_t) n + 2 ? r->len - (size_t) n - 2 : 0;
        for (more = hdr == 0; more;) {
            hdr = lbguard_header_end(r->buf, r->len,
                                     scan > start && settled ? scan : start);
            if (hdr == 0) {
                break;
            }
            /* The core decides the message framing (RFC 9112 6.3). */
            if (lbguard_analyse("probe", &res, LBG_PROFILE_STRICTEST,
                                r->buf + start, hdr - start, head)
                != 0)
            {
                return -1;
            }
            more = lbguard_is_interim(&res) && interim < LBGUARD_INTERIM_MAX;
            if (more) {
                ih = start + res.raw.header_len;
                settled = lbguard_interim_settled(&res.raw.view, r->buf + ih,
                                                  r->len - ih);
                lbguard_result_free(&res);
                if (!settled) {
                    hdr = 0; /* read on; found again from `start` */
                    break;
                }
                /* the core's verdict on its body, over the bytes so far */
                if (lbguard_analyse("probe", &res, LBG_PROFILE_STRICTEST,
                                    r->buf + start, r->len - start, head)
                    != 0)
                {
                    return -1;
                }
                start = ih + res.raw.interim_body;
                lbguard_result_free(&res);
                interim++;
                hdr = 0;
                continue;
            }
            framing = res.raw.header_len > 0 ? res.raw.framing
                                             : LBG_FRAMING_CLOSE;
            if (framing == LBG_FRAMING_LENGTH) {
                need = res.raw.body_expected < 0
                           ? 0
                           : (size_t) res.raw.body_expected;
                if ((uint64_t) res.raw.body_expected > LBGUARD_INPUT_MAX) {
                    need = LBGUARD_INPUT_MAX;
                }
            }
            lbguard_result_free(&res);
        }
        if (hdr == 0) {
            continue;
        }
        switch (framing) {
        case LBG_FRAMING_NONE: r->complete = 1; return 0;
        case LBG_FRAMING_LENGTH:
            if (r->len - hdr >= need) {
                r->complete = 1;
                return 0;
            }
            break;
        case LBG_FRAMING_CHUNKED:
            /* the core's chunked decoder, fed the bytes it has not seen:
             * the body ends with its trailer section, or is not one */
            rc = lbg_chunked_feed(&ch, r->buf + hdr + fed, r->len - hdr - fed,
                                  NULL, NULL);
            fed = r->len - hdr;
            if (rc != LBG_CHUNKED_MORE) {
                r->complete = rc == LBG_CHUNKED_DONE;
                return 0;
            }
            break;
        case LBG_FRAMING_CLOSE: break;
        }
    }
}
