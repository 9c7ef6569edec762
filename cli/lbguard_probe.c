/*
 * lbguard_probe.c -- `lbguard probe URL`: sends one HTTP/1.1 request with
 * keep-alive to an http:// or https:// (OpenSSL) target, reads the raw
 * response (framed by Content-Length, chunked transfer coding or close;
 * at most 64 MiB), checks it as `lbguard check` does, then leaves the
 * connection idle and measures how long the server keeps it open and how
 * it closes it (FIN: recv returns 0; RST: ECONNRESET). The measured time
 * is compared with the load balancer's idle timeout by the core's
 * lbg_keepalive_verdict (the keep-alive race, RFC 9112 9.6).
 * A subcommand: options, measurement, verdict and output live here; the
 * connection is lbguard_net.c's, the request and response lbguard_fetch.c's,
 * the findings lbguard_report.c's.
 */

#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbguard_cli.h"
#include "lbguard_net.h"
#include "lbg_quick.h" /* lbg_scan_name(), lbg_scan_value() */


#define LBGUARD_MAX_HEADERS 64


static const char probe_usage[] =
    "usage: lbguard probe [options] URL\n"
    "\n"
    "Sends one HTTP/1.1 request with keep-alive to URL (http:// or "
    "https://),\n"
    "reads the raw response (past interim 1xx responses to the final one)\n"
    "and checks it like 'lbguard check', then leaves the connection idle\n"
    "and measures how long the server keeps it open and whether it closes\n"
    "with FIN or RST. With --lb-idle-timeout it says "
    "whether\n"
    "the server's keep-alive outlasts the load balancer's idle timeout (the\n"
    "keep-alive race behind intermittent 502s).\n"
    "\n"
    "  --lb-idle-timeout T  the load balancer's idle timeout: a duration\n"
    "                       (60, 60s, 1m, 500ms) or a preset: aws-alb (60 "
    "s),\n"
    "                       aws-clb (60 s), gcp (600 s), oci (310 s)\n"
    "  --margin T           how much longer than the load balancer the "
    "server\n"
    "                       must keep idle connections (default 5s)\n"
    "  --max-wait T         how long to wait for the idle close at most\n"
    "                       (default: idle timeout + margin + 2s, or 120s)\n"
    "  --method M           request method (default GET; HEAD is "
    "understood)\n"
    "  --header 'N: v'      add a request header (repeatable)\n"
    "  --timeout T          connect and response timeout (default 10s)\n"
    "  --profile P          as for check (default strictest)\n"
    "  --fail-on T          as for check (default: what the profile "
    "rejects); a keep-alive\n"
    "                       shorter than needed counts as severe\n"
    "  --json               print one JSON object instead of text\n"
    "  --insecure           https: do not verify the server's certificate\n"
    "  --cacert FILE        https: trust the CA certificates in FILE\n"
    "  --quiet              no progress lines on stderr while waiting\n"
    "\n"
    "exit status: 0 clean, 1 findings at or above --fail-on (or keep-alive\n"
    "too short), 2 usage error, connection or TLS failure, no response.\n";


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
                         v->fields[i].name_len, name))
        {
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


/* --lb-idle-timeout: a preset (lbg_lb_preset) or a duration, not 0. */
static int
lbguard_opt_lb_idle(const char *cmd, const char *v, void *target)
{
    uint64_t *ms = target;

    if (lbg_lb_preset(v, strlen(v), ms) != 0
        && (lbguard_parse_duration(v, ms) != 0 || *ms == 0))
    {
        lbguard_err(cmd,
                    "bad --lb-idle-timeout '%s' (a duration such as "
                    "60s, or aws-alb, aws-clb, gcp, oci)",
                    v);
        return -1;
    }
    return 0;
}


/* --method: a token (RFC 9110 5.6.2). */
static int
lbguard_opt_method(const char *cmd, const char *v, void *target)
{
    if (*v == '\0'
        || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "abcdefghijklmnopqrstuvwxyz"
                     "0123456789!#$%&'*+-.^_`|~")
               != strlen(v))
    {
        lbguard_err(cmd, "bad --method '%s' (a token)", v);
        return -1;
    }
    *(const char **) target = v;
    return 0;
}


/* --header 'Name: value', at most LBGUARD_MAX_HEADERS of them: the name a
 * token, the value without a control byte but HTAB (RFC 9110 5.1, 5.5); a
 * name with white space (" X", "X ") would fold into the line before it or
 * be rejected by the server (RFC 9112 5.1, 5.2). */
static int
lbguard_opt_header(const char *cmd, const char *v, void *target)
{
    lbguard_probe_opts_t *o = target;
    const unsigned char  *u = (const unsigned char *) v;
    size_t                k;

    /* the core's scanners: lbg_scan_name() (token), lbg_scan_value()
     * (field-vchar, SP, HTAB, obs-text) over the colon and the value */
    k = strcspn(v, ":");
    if (k == 0 || v[k] != ':' || !lbg_scan_name(u, k)
        || !lbg_scan_value(u + k, strlen(v + k)))
    {
        lbguard_err(cmd, "bad --header '%s' (want 'Name: value')", v);
        return -1;
    }
    if (o->nheaders == LBGUARD_MAX_HEADERS) {
        lbguard_err(cmd, "too many --header options (at most %d)",
                    LBGUARD_MAX_HEADERS);
        return -1;
    }
    o->headers[o->nheaders++] = v;
    return 0;
}


/* Parses probe's options (the table) and the URL into *o. Returns 0, or an
 * exit status (usage error, or 0 after --help with *done = 1). */
static int
lbguard_probe_args(int argc, char **argv, lbguard_probe_opts_t *o, int *done)
{
    const lbguard_opt_t opts[] = {
        {"--json", NULL, LBGUARD_OPT_FLAG, &o->json, NULL},
        {"--insecure", "-k", LBGUARD_OPT_FLAG, &o->insecure, NULL},
        {"--quiet", "-q", LBGUARD_OPT_FLAG, &o->quiet, NULL},
        {"--lb-idle-timeout", NULL, LBGUARD_OPT_FN, &o->lb_ms,
         lbguard_opt_lb_idle},
        {"--margin", NULL, LBGUARD_OPT_DURATION, &o->margin_ms, NULL},
        {"--max-wait", NULL, LBGUARD_OPT_DURATION_POS, &o->max_wait_ms, NULL},
        {"--timeout", NULL, LBGUARD_OPT_DURATION_POS, &o->timeout_ms, NULL},
        {"--method", NULL, LBGUARD_OPT_FN, &o->method, lbguard_opt_method},
        {"--header", NULL, LBGUARD_OPT_FN, o, lbguard_opt_header},
        {"--cacert", NULL, LBGUARD_OPT_STRING, &o->cacert, NULL},
        {"--profile", NULL, LBGUARD_OPT_PROFILE, &o->profile, NULL},
        {"--fail-on", NULL, LBGUARD_OPT_TIER, &o->fail_on, NULL},
    };
    int i, r;

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
        r = lbguard_opt_match("probe", argc, argv, &i, opts,
                              sizeof(opts) / sizeof(opts[0]));
        if (r < 0) {
            return LBGUARD_EXIT_USAGE;
        }
        if (r > 0) {
            continue;
        }
        if (a[0] == '-') {
            lbguard_err("probe",
                        "unknown option '%s' (see 'lbguard probe "
                        "--help')",
                        a);
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


/* How the idle wait ended. */
typedef enum { IDLE_FIN = 0, IDLE_RST, IDLE_OPEN, IDLE_ERROR } lbguard_idle_e;

static const char *const idle_names[] = {"fin", "rst", "open", "error"};

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
                fprintf(stderr,
                        "%slbguard: probe: idle %.1f s, connection "
                        "still open (waiting up to %s)%s",
                        tty ? "\r" : "", (double) (*closed_us - t0) / 1e6,
                        lbguard_secs(w, sizeof(w), wait_ms), tty ? "" : "\n");
                fflush(stderr);
            }
            next += step;
        }
    }
}


/* What one probe measured and concluded about the keep-alive. */
typedef struct {
    const char      *announce;  /* why the response ends the connection
                                     itself, or NULL */
    lbguard_idle_e   idle;      /* how the idle wait ended */
    int              measured;  /* idle_ms is a measured idle close */
    uint64_t         idle_ms;   /* the idle time (measured, or waited) */
    size_t           extra;     /* bytes the server sent while idle */
    lbg_ka_verdict_e verdict;   /* the core's keep-alive verdict */
    uint64_t         required;  /* the keep-alive needed, in ms */
    char             msg[1024]; /* the keep-alive line */
} lbguard_probe_run_t;


/* The fetch stops reading where the final response's framing ends (RFC
 * 9112 6.3): bytes past it that came in the same read are in its body
 * findings, those that come later are the idle wait's. Unless the server
 * closed while the response was read, a body-longer-than-content-length or
 * body-on-bodiless count is only what had come by then: "at least". */
static void
lbguard_probe_at_least(lbguard_chain_t *ch, const lbguard_resp_t *resp)
{
    lbg_report_t *rep = &ch->msg[ch->n - 1].rep;
    size_t        k;

    if (resp->closed) {
        return;
    }
    for (k = 0; k < rep->nfindings; k++) {
        if (rep->findings[k].rule == LBG_RULE_BODY_LONGER
            || rep->findings[k].rule == LBG_RULE_BODY_ON_BODILESS)
        {
            rep->findings[k].at_least = 1;
        }
    }
}


/* Connects to u, sends the request and reads one response into *resp.
 * Returns 0 with a response, else -1 (the reason said on stderr). */
static int
lbguard_probe_fetch(const lbguard_probe_opts_t *o, lbguard_url_t *u,
                    lbguard_conn_t *c, int head, int64_t deadline,
                    lbguard_resp_t *resp)
{
    lbguard_tls_opts_t tls;
    char              *req = NULL;
    size_t             reqlen;
    int                rc = -1;

    tls.insecure = o->insecure;
    tls.cacert = o->cacert;
    reqlen = lbguard_build_request(o->method, o->headers, o->nheaders, u,
                                   &req);
    if (reqlen == 0) {
        lbguard_err("probe", "out of memory");
        return -1;
    }
    if (lbguard_conn_open(c, u, &tls, deadline) != 0
        || lbguard_conn_write(c, req, reqlen, deadline) != 0
        || lbguard_read_response(c, head, deadline, resp) != 0)
    {
        goto done;
    }
    if (resp->len == 0) {
        lbguard_err("probe", "%s: %s", o->url,
                    resp->timed_out ? "no response before the timeout"
                    : resp->reset ? "the server reset the connection without "
                                    "a response (RST)"
                                  : "the server closed the connection "
                                    "without a response");
        goto done;
    }
    if (resp->too_large) {
        lbguard_err("probe", "%s: the response is larger than 64 MiB",
                    o->url);
        goto done;
    }
    rc = 0;

done:
    free(req);
    return rc;
}


/* Measures how long the server keeps connection c idle after the response
 * (or notes that the response itself ends it), into m. */
static void
lbguard_probe_measure(const lbguard_probe_opts_t *o, lbguard_conn_t *c,
                      const lbguard_result_t *res, const lbguard_resp_t *resp,
                      lbguard_probe_run_t *m)
{
    int64_t  closed_us = 0;
    uint64_t wait_ms;
    int      err = 0;

    /* Did the response itself announce that the connection ends? */
    if (lbguard_has_token(&res->raw.view, "connection", "close")) {
        m->announce = "the response says Connection: close";
    } else if (res->raw.view.version == 10
               && !lbguard_has_token(&res->raw.view, "connection",
                                     "keep-alive"))
    {
        m->announce = "the response is HTTP/1.0 without Connection: "
                      "keep-alive";
    } else if (res->raw.framing == LBG_FRAMING_CLOSE) {
        m->announce = "the response body is delimited by closing the "
                      "connection";
    }

    /* The idle wait. */
    if (resp->closed && resp->complete) {
        m->idle = resp->reset ? IDLE_RST : IDLE_FIN;
        closed_us = resp->t_last;
        m->measured = 1;
    } else if (!resp->complete) {
        m->idle = IDLE_ERROR;
    } else {
        if (o->max_wait_ms) {
            wait_ms = o->max_wait_ms;
        } else if (o->lb_ms) {
            wait_ms = o->lb_ms + o->margin_ms + 2000;
        } else {
            wait_ms = 120000;
        }
        if (m->announce != NULL && wait_ms > 5000) {
            wait_ms = 5000;
        }
        m->idle = lbguard_idle_wait(c, resp->t_last, wait_ms,
                                    o->quiet || o->json, &closed_us,
                                    &m->extra, &err);
        m->measured = m->idle == IDLE_FIN || m->idle == IDLE_RST;
        if (m->idle == IDLE_OPEN) {
            m->idle_ms = wait_ms;
        }
    }
    if (m->measured) {
        m->idle_ms = (uint64_t) (closed_us - resp->t_last + 500) / 1000;
    }
}


/* The core's keep-alive verdict on m's measurement (server_ms 0:
 * keep-alive off). */
static void
lbguard_probe_verdict(const lbguard_probe_opts_t *o, lbguard_probe_run_t *m)
{
    uint64_t server_ms;

    if (m->announce != NULL) {
        server_ms = 0;
    } else if (m->measured) {
        server_ms = m->idle_ms > 0 ? m->idle_ms : 1;
    } else if (m->idle == IDLE_OPEN) {
        server_ms = m->idle_ms;
    } else {
        server_ms = 0;
    }
    if (m->idle != IDLE_ERROR || m->announce != NULL) {
        m->verdict = lbg_keepalive_verdict(server_ms, o->lb_ms, o->margin_ms,
                                           &m->required);
    }
}


/* Writes m's keep-alive line into m->msg: what was measured, then what the
 * verdict means. */
static void
lbguard_probe_message(const lbguard_probe_opts_t *o,
                      const lbguard_resp_t *resp, lbguard_probe_run_t *m)
{
    char   s1[32], s2[32], s3[32];
    char  *msg = m->msg;
    size_t mlen = 0, size = sizeof(m->msg);

    if (m->announce != NULL) {
        mlen = (size_t) snprintf(msg, size, "%s (no keep-alive)",
                                 m->announce);
        if (m->measured) {
            mlen += (size_t) snprintf(msg + mlen, size - mlen,
                                      "; the server closed it after %s (%s)",
                                      lbguard_secs_measured(s1, sizeof(s1),
                                                            m->idle_ms),
                                      m->idle == IDLE_RST ? "RST" : "FIN");
        }
    } else if (m->measured) {
        mlen = (size_t) snprintf(msg, size,
                                 "server closed the idle "
                                 "connection after %s (%s)",
                                 lbguard_secs_measured(s1, sizeof(s1),
                                                       m->idle_ms),
                                 m->idle == IDLE_RST ? "RST" : "FIN");
    } else if (m->idle == IDLE_OPEN) {
        mlen = (size_t) snprintf(msg, size,
                                 "server kept the idle "
                                 "connection open for the whole %s wait",
                                 lbguard_secs_measured(s1, sizeof(s1),
                                                       m->idle_ms));
    } else {
        mlen = (size_t) snprintf(
            msg, size, "%s",
            resp->timed_out ? "the response did not end before the "
                              "timeout: keep-alive not measured"
            : resp->reset   ? "the server reset the connection (RST) "
                              "before the response ended: keep-alive "
                              "not measured"
            : resp->closed  ? "the server closed the connection (FIN) "
                              "before the response ended: keep-alive "
                              "not measured"
                            : "the response is incomplete: "
                              "keep-alive not measured");
    }
    if (m->extra > 0 && mlen < size) {
        mlen += (size_t) snprintf(msg + mlen, size - mlen,
                                  "; it sent %lu more bytes while idle",
                                  (unsigned long) m->extra);
    }
    if (mlen >= size) {
        return;
    }
    switch (m->verdict) {
    case LBG_KA_RAISE:
        snprintf(msg + mlen, size - mlen,
                 "; the load balancer "
                 "keeps it %s: expect intermittent 502s; set the server "
                 "keep-alive above %s",
                 lbguard_secs(s2, sizeof(s2), o->lb_ms),
                 lbguard_secs(s3, sizeof(s3), m->required));
        break;
    case LBG_KA_OK:
        snprintf(msg + mlen, size - mlen,
                 "; the load balancer "
                 "keeps it %s: OK (%s or more needed)",
                 lbguard_secs(s2, sizeof(s2), o->lb_ms),
                 lbguard_secs(s3, sizeof(s3), m->required));
        break;
    case LBG_KA_DISABLED:
        snprintf(msg + mlen, size - mlen,
                 "; a load balancer "
                 "opens a new connection for every request: no "
                 "keep-alive race, no connection reuse");
        break;
    case LBG_KA_UNKNOWN:
        if (m->idle != IDLE_ERROR) {
            snprintf(msg + mlen, size - mlen,
                     "; no verdict "
                     "without --lb-idle-timeout");
        }
        break;
    }
}


/* Prints the probe's result on stdout: one JSON object, or text lines. */
static void
lbguard_probe_print(const lbguard_probe_opts_t *o, const lbguard_chain_t *ch,
                    const lbguard_resp_t *resp, const lbguard_probe_run_t *m,
                    int fails)
{
    const lbguard_result_t *res = &ch->msg[ch->n - 1];
    lbguard_json_t          j;
    char                    ka[300];
    size_t                  i;

    if (o->json) {
        lbguard_json_init(&j, stdout);
        lbguard_json_begin(&j, '{', 0);
        lbguard_json_key(&j, "url");
        lbguard_json_cstr(&j, o->url);
        lbguard_json_key(&j, "method");
        lbguard_json_cstr(&j, o->method);
        lbguard_json_key(&j, "response_bytes");
        lbguard_json_uint(&j, resp->len);
        lbguard_json_key(&j, "response_complete");
        lbguard_json_bool(&j, resp->complete);
        lbguard_json_chain(&j, ch, resp->buf, resp->len);
        lbguard_json_key(&j, "keepalive");
        lbguard_json_begin(&j, '{', 0);
        lbguard_json_key(&j, "announced_close");
        lbguard_json_bool(&j, m->announce != NULL);
        lbguard_json_key(&j, "closed_by");
        lbguard_json_cstr(&j, idle_names[m->idle]);
        lbguard_json_key(&j, "idle_ms");
        if (m->measured || m->idle == IDLE_OPEN) {
            lbguard_json_uint(&j, m->idle_ms);
        } else {
            lbguard_json_null(&j);
        }
        lbguard_json_key(&j, "idle_bytes");
        lbguard_json_uint(&j, m->extra);
        lbguard_json_key(&j, "lb_idle_ms");
        lbguard_json_uint(&j, o->lb_ms);
        lbguard_json_key(&j, "margin_ms");
        lbguard_json_uint(&j, o->margin_ms);
        lbguard_json_key(&j, "required_ms");
        lbguard_json_uint(&j, m->required);
        lbguard_json_key(&j, "verdict");
        lbguard_json_cstr(&j, m->verdict == LBG_KA_OK         ? "ok"
                              : m->verdict == LBG_KA_RAISE    ? "raise"
                              : m->verdict == LBG_KA_DISABLED ? "disabled"
                                                              : "unknown");
        lbguard_json_key(&j, "message");
        lbguard_json_cstr(&j, m->msg);
        lbguard_json_end(&j, '}');
        lbguard_json_key(&j, "exit");
        lbguard_json_int(&j, fails ? LBGUARD_EXIT_FINDINGS : LBGUARD_EXIT_OK);
        lbguard_json_end(&j, '}');
        lbguard_json_newline(&j);
        return;
    }
    printf("probe: %s %s: status %d, %lu bytes%s", o->method, o->url,
           res->raw.view.status, (unsigned long) resp->len,
           resp->complete ? "" : " (incomplete response)");
    if (ch->no_final) {
        printf(", no final response after %lu interim response%s",
               (unsigned long) ch->n, ch->n == 1 ? "" : "s");
    } else if (ch->n > 1) {
        printf(", after %lu interim response%s", (unsigned long) (ch->n - 1),
               ch->n == 2 ? "" : "s");
    }
    printf("\n");
    lbguard_print_chain(stdout, o->url, ch, resp->buf, resp->len);
    if (ch->no_final) {
        printf("%s: the server sent no final response: a load balancer "
               "answers 502 (504 when it times out first)\n",
               o->url);
    }
    for (i = 0; i < res->raw.view.nfields; i++) {
        const lbg_field_t *f = &res->raw.view.fields[i];

        if (lbguard_ieq((const char *) f->name, f->name_len, "keep-alive")) {
            lbg_escape(f->value, f->value_len, 64, ka, sizeof(ka));
            printf("keep-alive: the server advertises Keep-Alive: %s\n", ka);
        }
    }
    printf("keep-alive: %s\n", m->msg);
}


int
lbguard_cmd_probe(int argc, char **argv)
{
    lbguard_probe_opts_t o;
    lbguard_url_t        u;
    lbguard_conn_t       c = {-1, NULL, NULL};
    lbguard_resp_t       resp;
    lbguard_chain_t      ch;
    lbguard_probe_run_t  m;
    struct sigaction     sa;
    int64_t              deadline;
    int                  rc, done, head, fails;

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

    deadline = lbguard_now_us() + (int64_t) o.timeout_ms * 1000;
    memset(&resp, 0, sizeof(resp));
    if (lbguard_probe_fetch(&o, &u, &c, head, deadline, &resp) != 0
        || lbguard_analyse_chain("probe", &ch, o.profile, resp.buf, resp.len,
                                 head)
               != 0)
    {
        free(resp.buf);
        lbguard_conn_close(&c);
        return LBGUARD_EXIT_USAGE;
    }
    if (ch.too_many) {
        lbguard_err("probe",
                    "%s: more than %d interim (1xx) responses before the "
                    "final response",
                    o.url, LBGUARD_INTERIM_MAX);
        lbguard_chain_free(&ch);
        free(resp.buf);
        lbguard_conn_close(&c);
        return LBGUARD_EXIT_USAGE;
    }

    lbguard_probe_at_least(&ch, &resp);

    memset(&m, 0, sizeof(m));
    m.idle = IDLE_OPEN;
    m.verdict = LBG_KA_UNKNOWN;
    lbguard_probe_measure(&o, &c, &ch.msg[ch.n - 1], &resp, &m);
    lbguard_probe_verdict(&o, &m);
    lbguard_probe_message(&o, &resp, &m);

    /* the keep-alive verdicts keep the old default tier, ambiguous; no
     * final response after interim ones (the server closed or stalled) is
     * what a load balancer answers 502 or 504 for, as an incomplete header
     * section (severe) */
    fails = lbguard_chain_fails(&ch, o.fail_on) || ch.no_final
            || (m.verdict == LBG_KA_RAISE && LBG_TIER_SEVERE >= o.fail_on)
            || (m.verdict == LBG_KA_DISABLED
                && o.fail_on != LBGUARD_FAIL_REJECTED
                && LBG_TIER_ACCEPTABLE >= o.fail_on);

    lbguard_probe_print(&o, &ch, &resp, &m, fails);
    rc = fails ? LBGUARD_EXIT_FINDINGS : LBGUARD_EXIT_OK;
    if (lbguard_flush_stdout("probe") != 0) {
        rc = LBGUARD_EXIT_USAGE;
    }

    lbguard_chain_free(&ch);
    free(resp.buf);
    lbguard_conn_close(&c);
    return rc;
}
