
/*
 * lbguard: nginx HTTP filter module.
 *
 * A thin adapter around the lbguard core (common/lbg.h):
 *
 *   - the header filter runs just before ngx_http_header_filter_module
 *     (see `config`), builds the core's view of the response exactly as
 *     that filter will serialise it (status line, the fields it
 *     synthesises, and every r->headers_out.headers element), runs
 *     lbg_check(), logs each finding and, in repair mode, applies the
 *     core's edits to r->headers_out;
 *   - the body filter runs just before ngx_http_write_filter_module and
 *     holds the body to its declared Content-Length (lbg_body_*);
 *   - at configuration load, every server{} and location{} whose
 *     keepalive_timeout is shorter than the load balancer's idle timeout
 *     plus a margin is reported and, in repair mode, raised
 *     (lbg_keepalive_verdict);
 *   - $lbguard_findings holds lbg_report_summary() for the access log.
 *
 * HTTP/2 responses, HTTP/0.9 responses and subrequests are passed through
 * untouched.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "lbg.h"
#include "ngx_http_lbguard_status.h"
#include "ngx_http_lbguard_drain.h"
#include "ngx_http_lbguard_verdict.h"   /* issue 14: verdicts kept */


/* origins of the fields nginx's header filter synthesises */
#define NGX_HTTP_LBGUARD_SERVER             1
#define NGX_HTTP_LBGUARD_DATE               2
#define NGX_HTTP_LBGUARD_CONTENT_TYPE       3
#define NGX_HTTP_LBGUARD_CONTENT_LENGTH     4
#define NGX_HTTP_LBGUARD_LAST_MODIFIED      5
#define NGX_HTTP_LBGUARD_TRANSFER_ENCODING  6
#define NGX_HTTP_LBGUARD_CONNECTION         7
#define NGX_HTTP_LBGUARD_KEEP_ALIVE         8
#define NGX_HTTP_LBGUARD_VARY               9
#define NGX_HTTP_LBGUARD_SYNTH_MAX          16  /* below any pointer */

#define NGX_HTTP_LBGUARD_FIELDS             64  /* on the stack */
#define NGX_HTTP_LBGUARD_LOG_LEN            512
#define NGX_HTTP_LBGUARD_CT_LEN             256 /* Content-Type; charset */
#define NGX_HTTP_LBGUARD_SUMMARY_LEN        1024
#define NGX_HTTP_LBGUARD_LOCATION_LEN       512 /* absolute Location */


typedef struct {
    ngx_uint_t       mode;             /* lbg_mode_e */
    ngx_uint_t       profile;          /* lbg_profile_e */
    size_t           header_budget;
    ngx_uint_t       field_budget;
    ngx_msec_t       lb_idle_timeout;
    ngx_msec_t       keepalive_margin;

    lbg_policy_t     policy;           /* built in merge */

    /* where this server{} or location{} block starts (for the logs) */
    ngx_str_t        file;
    ngx_uint_t       line;

    ngx_msec_t       ka_seen;          /* keepalive_timeout before lbguard */
    unsigned         ka_checked:1;

    ngx_http_lbguard_status_conf_t  status;  /* counters (issue 13) */
    /* lbguard_drain (ngx_http_lbguard_drain.c) */
    ngx_http_lbguard_drain_conf_t  drain;
} ngx_http_lbguard_loc_conf_t;


typedef struct {
    const lbg_policy_t  *policy;       /* the location's */
    lbg_body_t           body;

    /* the findings, for $lbguard_findings ("at" pointers cleared) */
    lbg_report_t         report;

    unsigned         guard_body:1;
    unsigned         body_reported:1;
    unsigned         act:1;            /* the excess counts: cut it */
    unsigned         cut:1;
    unsigned         unrepaired:1;     /* repair failed: out of memory */
    unsigned         replaced:1;       /* the target's own 502 went out:
                                          every body byte is dropped */
} ngx_http_lbguard_ctx_t;


static ngx_int_t ngx_http_lbguard_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_lbguard_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_inline void ngx_http_lbguard_view(ngx_http_request_t *r,
    lbg_quick_t *q, lbg_response_t *view, lbg_field_t *fields,
    size_t nfields, ngx_str_t *ct, u_char *cl, u_char *lm, u_char *ka,
    ngx_str_t *loc);
static void ngx_http_lbguard_location(ngx_http_request_t *r, ngx_str_t *loc,
    u_char *buf, size_t size);
static void ngx_http_lbguard_content_type(ngx_http_request_t *r,
    ngx_str_t *ct, u_char *buf, size_t size);
static ngx_int_t ngx_http_lbguard_apply(ngx_http_request_t *r,
    lbg_response_t *view, lbg_report_t *rep);
static void ngx_http_lbguard_remove(ngx_http_request_t *r, uintptr_t origin);
static void ngx_http_lbguard_set(ngx_http_request_t *r, uintptr_t origin,
    u_char *value, size_t len);
static void ngx_http_lbguard_unlink(ngx_http_request_t *r,
    ngx_table_elt_t *h);
static ngx_http_lbguard_ctx_t *ngx_http_lbguard_ctx(ngx_http_request_t *r,
    ngx_http_lbguard_loc_conf_t *lcf);
static ngx_int_t ngx_http_lbguard_grow(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx);
static ngx_int_t ngx_http_lbguard_keep_finding(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx, lbg_finding_t *f);
static ngx_int_t ngx_http_lbguard_body_report(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx, lbg_rule_e rule);
static void ngx_http_lbguard_consume(ngx_buf_t *b);
static ngx_int_t ngx_http_lbguard_upstream_status(ngx_http_request_t *r,
    ngx_http_lbguard_loc_conf_t *lcf);
static ngx_int_t ngx_http_lbguard_bad_gateway(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx);
static ngx_int_t ngx_http_lbguard_trailers(ngx_http_request_t *r,
    ngx_buf_t *b);


/* the chunked filter's tag on the buffer of its last chunk and trailers */
extern ngx_module_t  ngx_http_chunked_filter_module;

static ngx_int_t ngx_http_lbguard_findings_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static char *ngx_http_lbguard(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_lbguard_profile(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_lbguard_lb_idle_timeout(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_lbguard_keepalive_margin(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_lbguard_header_budget(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_lbguard_invalid(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *value, char *must);
static void ngx_http_lbguard_keepalive(ngx_conf_t *cf,
    ngx_http_lbguard_loc_conf_t *prev, ngx_http_lbguard_loc_conf_t *conf);

static ngx_int_t ngx_http_lbguard_add_variables(ngx_conf_t *cf);
static void *ngx_http_lbguard_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_lbguard_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_lbguard_filter_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_lbguard_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_lbguard_init_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_lbguard_filter_commands[] = {

    { ngx_string("lbguard"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_lbguard,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lbguard_profile"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_lbguard_profile,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lbguard_lb_idle_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_lbguard_lb_idle_timeout,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lbguard_keepalive_margin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_lbguard_keepalive_margin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lbguard_header_budget"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_lbguard_header_budget,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lbguard_status_zone"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_lbguard_status_zone,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lbguard_loc_conf_t, status),
      NULL },

    { ngx_string("lbguard_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_lbguard_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("lbguard_drain"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_lbguard_loc_conf_t, drain.flag),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_lbguard_filter_module_ctx = {
    ngx_http_lbguard_add_variables,        /* preconfiguration */
    ngx_http_lbguard_filter_init,          /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_lbguard_create_loc_conf,      /* create location configuration */
    ngx_http_lbguard_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_lbguard_filter_module = {
    NGX_MODULE_V1,
    &ngx_http_lbguard_filter_module_ctx,   /* module context */
    ngx_http_lbguard_filter_commands,      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_lbguard_init_module,          /* init module */
    ngx_http_lbguard_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_lbguard_drain_exit_process,   /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_lbguard_vars[] = {

    { ngx_string("lbguard_findings"), NULL,
      ngx_http_lbguard_findings_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/*
 * The ctxs of a request whose body guard is armed but which has no ctx of
 * its own (no finding, the declared length is content_length_n): armed
 * before any body byte, complete once exactly content_length_n bytes have
 * gone out. They are never written to, and read as "no finding".
 */
static ngx_http_lbguard_ctx_t  ngx_http_lbguard_armed;
static ngx_http_lbguard_ctx_t  ngx_http_lbguard_complete;


/* the r->headers_out members that point at elements of the headers list */
static ngx_uint_t  ngx_http_lbguard_headers_out[] = {
    offsetof(ngx_http_headers_out_t, server),
    offsetof(ngx_http_headers_out_t, date),
    offsetof(ngx_http_headers_out_t, content_length),
    offsetof(ngx_http_headers_out_t, content_encoding),
    offsetof(ngx_http_headers_out_t, location),
    offsetof(ngx_http_headers_out_t, refresh),
    offsetof(ngx_http_headers_out_t, last_modified),
    offsetof(ngx_http_headers_out_t, content_range),
    offsetof(ngx_http_headers_out_t, accept_ranges),
    offsetof(ngx_http_headers_out_t, www_authenticate),
    offsetof(ngx_http_headers_out_t, expires),
    offsetof(ngx_http_headers_out_t, etag),
#if (nginx_version >= 1023000)
    offsetof(ngx_http_headers_out_t, cache_control),
    offsetof(ngx_http_headers_out_t, link),
#endif
};


static ngx_int_t
ngx_http_lbguard_header_filter(ngx_http_request_t *r)
{
    int                           repaired, bodiless;
    int64_t                       declared;
    size_t                        i, n;
    lbg_edit_t                    edits[LBG_EDITS_MAX];
    lbg_field_t                   stack[NGX_HTTP_LBGUARD_FIELDS], *fields;
    lbg_quick_t                   q;
    lbg_report_t                  rep;
    lbg_finding_t                 findings[LBG_FINDINGS_MAX];
    lbg_response_t                view;
    ngx_str_t                     ct;
    ngx_http_lbguard_ctx_t       *ctx;
    ngx_http_lbguard_loc_conf_t  *lcf;
    u_char                        cl[NGX_OFF_T_LEN];
    u_char                        lm[sizeof("Mon, 28 Sep 1970 06:00:00 GMT")];
    u_char                        ka[sizeof("timeout=") + NGX_TIME_T_LEN];
    u_char                        ctbuf[NGX_HTTP_LBGUARD_CT_LEN];
    u_char                        line[NGX_HTTP_LBGUARD_LOG_LEN];
    u_char                        locbuf[NGX_HTTP_LBGUARD_LOCATION_LEN];
    ngx_str_t                     loc;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_lbguard_filter_module);

    /*
     * An upstream whose status line is not HTTP/1.x: nginx logged "upstream
     * sent no valid HTTP/1.0 header" and set the response to HTTP/0.9 (no
     * status line, the upstream's bytes verbatim) although the client's
     * request line said HTTP/1.x (r->http_major). A real HTTP/0.9 request
     * has http_major 0 and is left alone.
     */

    if (lcf->mode != LBG_MODE_OFF
        && r->http_version < NGX_HTTP_VERSION_10
        && r->http_major >= 1
        && r == r->main
        && r->upstream != NULL
        && !r->header_sent)
    {
        return ngx_http_lbguard_upstream_status(r, lcf);
    }

    /*
     * Out of scope: lbguard off; subrequests (their headers are never
     * sent); HTTP/0.9 (no header at all); HTTP/2+ (its own framing; the
     * HTTP/2 header filter does not call the next one anyway).
     */

    if (lcf->mode == LBG_MODE_OFF
        || r != r->main
        || r->header_sent
        || r->http_version < NGX_HTTP_VERSION_10
        || r->http_version >= NGX_HTTP_VERSION_20)
    {
        return ngx_http_next_header_filter(r);
    }

    /* the only cost metrics add to a clean response: one atomic add */

    ngx_http_lbguard_status_add(&lcf->status,
                                LBG_METRICS_RESPONSES(lcf->mode), 1);

    /*
     * The core's quick pass first: a clean response (almost all of them)
     * needs no view, no report and no lbg_check().
     */

    ngx_http_lbguard_content_type(r, &ct, ctbuf, sizeof(ctbuf));

    ngx_http_lbguard_location(r, &loc, locbuf, sizeof(locbuf));

    lbg_quick_init(&q);

    ngx_http_lbguard_view(r, &q, NULL, NULL, 0, &ct, cl, lm, ka, &loc);

    if (lbg_quick_clean(&lcf->policy, &q, (int) r->headers_out.status,
                        r->headers_out.status_line.len
                        ? r->headers_out.status_line.data : NULL,
                        r->headers_out.status_line.len))
    {
        goto body;
    }

    /* the quick pass counted the fields the view will hold */

    n = q.nfields;

    if (n <= NGX_HTTP_LBGUARD_FIELDS) {
        fields = stack;

    } else {
        fields = ngx_palloc(r->pool, n * sizeof(lbg_field_t));
        if (fields == NULL) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "lbguard: out of memory, response not checked");
            return ngx_http_next_header_filter(r);
        }
    }

    ngx_http_lbguard_view(r, NULL, &view, fields, n, &ct, cl, lm, ka, &loc);

    lbg_report_init(&rep, findings, LBG_FINDINGS_MAX, edits, LBG_EDITS_MAX);

    (void) lbg_check(&lcf->policy, &view, &rep);

    /* 101 to a request that asked for no upgrade (issue 9) */

    if (r->headers_out.status == NGX_HTTP_SWITCHING_PROTOCOLS
        && r->headers_in.upgrade == NULL)
    {
        (void) lbg_check_switching(&lcf->policy, &rep);
    }

    /* an upstream's 100 Continue passed on as the final response */

    (void) lbg_check_interim(&lcf->policy, (int) r->headers_out.status, &rep);

    if (rep.nfindings == 0 && !rep.truncated) {
        goto body;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "lbguard: %uz findings, %uz edits",
                   rep.nfindings, rep.nedits);

    repaired = 0;

    if (lcf->mode == LBG_MODE_REPAIR) {
        repaired = (ngx_http_lbguard_apply(r, &view, &rep) == NGX_OK);
    }

    for (i = 0; i < rep.nfindings; i++) {
        (void) lbg_finding_format(&view, &rep.findings[i], repaired,
                                  (char *) line, sizeof(line));

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "lbguard: %s", line);
    }

    ctx = ngx_http_lbguard_ctx(r, lcf);
    if (ctx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    ctx->unrepaired = (lcf->mode == LBG_MODE_REPAIR && !repaired);

    if (repaired && lbg_report_bad_gateway(&rep)) {
        for (i = 0; i < rep.nfindings; i++) {
            (void) ngx_http_lbguard_keep_finding(r, ctx, &rep.findings[i]);
        }

        return ngx_http_lbguard_bad_gateway(r, ctx);
    }

    ctx->report.truncated = rep.truncated;

    for (i = 0; i < rep.nfindings; i++) {
        if (ngx_http_lbguard_keep_finding(r, ctx, &rep.findings[i])
            != NGX_OK)
        {
            ctx->report.truncated = 1;
            break;
        }
    }

    ngx_http_lbguard_status_report(&lcf->status, &ctx->report,
                                   ctx->unrepaired ? LBG_MODE_DETECT
                                                   : lcf->mode);

body:

    /*
     * A 101 or a 2xx to CONNECT ends the HTTP message here: the bytes
     * after its header section are another protocol (nginx's upgraded
     * connection), never a body. No guard, no count, no cut, no close.
     */

    if (lbg_tunnel((int) r->headers_out.status,
                   r->method == NGX_HTTP_CONNECT))
    {
        /* a findings ctx (if any) keeps guard_body 0: the body filter
         * passes every buffer on untouched */
        return ngx_http_next_header_filter(r);
    }

    /* the body guard: a declared Content-Length, or a bodiless response */

    bodiless = r->header_only
               || lbg_bodiless((int) r->headers_out.status,
                               r->method == NGX_HTTP_HEAD);

    if (bodiless
        || (!r->chunked && r->headers_out.content_length_n >= 0))
    {
        /* the length on the wire: the element's value when there is one */

        if (r->chunked) {
            declared = -1;

        } else if (r->headers_out.content_length
                   && r->headers_out.content_length->hash)
        {
            declared = lbg_content_length_parse(
                           r->headers_out.content_length->value.data,
                           r->headers_out.content_length->value.len);

        } else {
            declared = (int64_t) r->headers_out.content_length_n;
        }

        if (declared < 0 && !bodiless) {
            /* an invalid Content-Length the profile lets pass: nothing
             * to count against */
            return ngx_http_next_header_filter(r);
        }

        if (!bodiless
            && declared == (int64_t) r->headers_out.content_length_n
            && ngx_http_get_module_ctx(r, ngx_http_lbguard_filter_module)
               == NULL)
        {
            /*
             * No finding so far: the guard is armed without a ctx; the
             * body filter makes one only when the body does not come in
             * one chain of exactly content_length_n bytes.
             */

            ngx_http_set_ctx(r, &ngx_http_lbguard_armed,
                             ngx_http_lbguard_filter_module);

            return ngx_http_next_header_filter(r);
        }

        ctx = ngx_http_lbguard_ctx(r, lcf);
        if (ctx == NULL) {
            return ngx_http_next_header_filter(r);
        }

        ctx->guard_body = 1;

        lbg_body_init(&ctx->body, declared, bodiless);
    }

    return ngx_http_next_header_filter(r);
}


/*
 * Sets *ct to the Content-Type ngx_http_header_filter() writes: the
 * type, and "; charset=..." when nginx appends one. Joined in buf (size
 * bytes) when it fits, else in the request pool; on allocation failure,
 * the type alone (logged).
 */

static void
ngx_http_lbguard_content_type(ngx_http_request_t *r, ngx_str_t *ct,
    u_char *buf, size_t size)
{
    u_char  *p;
    size_t   len;

    *ct = r->headers_out.content_type;

    if (ct->len == 0
        || r->headers_out.content_type_len != ct->len
        || r->headers_out.charset.len == 0)
    {
        return;
    }

    len = ct->len + sizeof("; charset=") - 1 + r->headers_out.charset.len;

    if (len <= size) {
        p = buf;

    } else {
        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "lbguard: out of memory, charset not checked");
            return;
        }
    }

    ct->data = p;
    p = ngx_cpymem(p, r->headers_out.content_type.data,
                   r->headers_out.content_type.len);
    p = ngx_cpymem(p, "; charset=", sizeof("; charset=") - 1);
    ngx_memcpy(p, r->headers_out.charset.data, r->headers_out.charset.len);
    ct->len = len;
}


/* The number of decimal digits of n (>= 0): the length of what
 * ngx_sprintf("%O") or ("%T") writes, for the quick pass, which needs the
 * length of a host-made value only. */

static ngx_inline size_t
ngx_http_lbguard_ndigits(off_t n)
{
    size_t  len;

    for (len = 1; n >= 10; len++) {
        n /= 10;
    }

    return len;
}


/*
 * Walks the response as ngx_http_header_filter() will write it (same
 * order, same conditions). With q, the core's quick pass: every field goes
 * to lbg_quick_field() and nothing else is written (view and fields may be
 * NULL). Without q, fills the view with at most nfields fields. ct is the
 * Content-Type as nginx writes it (ngx_http_lbguard_content_type()); cl,
 * lm and ka are buffers for the synthesised Content-Length, Last-Modified
 * and Keep-Alive values.
 */

#if defined(__GNUC__)
__attribute__((always_inline))          /* one copy for each use of q */
#endif
static ngx_inline void
ngx_http_lbguard_view(ngx_http_request_t *r, lbg_quick_t *q,
    lbg_response_t *view, lbg_field_t *fields, size_t nfields, ngx_str_t *ct,
    u_char *cl, u_char *lm, u_char *ka, ngx_str_t *loc)
{
    u_char                    *p;
    size_t                     n;
    ngx_uint_t                 status, no_content;
    ngx_list_part_t           *part;
    ngx_table_elt_t           *h, *end;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    status = r->headers_out.status;

    if (view) {
        ngx_memzero(view, sizeof(lbg_response_t));

        view->version = 11;             /* nginx always writes HTTP/1.1 */
        view->status = (int) status;
        view->head = (r->method == NGX_HTTP_HEAD);
    }

    if (r->headers_out.status_line.len) {
        if (view) {
            view->status_line = r->headers_out.status_line.data;
            view->status_line_len = r->headers_out.status_line.len;
        }

        no_content = 0;

    } else {
        /* the header filter drops these for 204 */
        no_content = (status == NGX_HTTP_NO_CONTENT);
    }

    n = 0;

#define ngx_http_lbguard_field(nm, v, vlen, o)                               \
    if (q) {                                                                 \
        lbg_quick_field(q, (u_char *) nm, sizeof(nm) - 1, (u_char *) (v),     \
                        vlen, o != NGX_HTTP_LBGUARD_CONTENT_TYPE);           \
                                                                             \
    } else if (n < nfields) {                                                \
        fields[n].name = (u_char *) nm;                                      \
        fields[n].name_len = sizeof(nm) - 1;                                 \
        fields[n].value = (u_char *) (v);                                    \
        fields[n].value_len = vlen;                                          \
        fields[n].origin = o;                                                \
        fields[n].trusted = (o != NGX_HTTP_LBGUARD_CONTENT_TYPE);            \
        n++;                                                                 \
    }

    if (r->headers_out.server == NULL) {
        if (clcf->server_tokens == NGX_HTTP_SERVER_TOKENS_ON) {
            ngx_http_lbguard_field("Server", NGINX_VER,
                                   sizeof(NGINX_VER) - 1,
                                   NGX_HTTP_LBGUARD_SERVER);

        } else if (clcf->server_tokens == NGX_HTTP_SERVER_TOKENS_BUILD) {
            ngx_http_lbguard_field("Server", NGINX_VER_BUILD,
                                   sizeof(NGINX_VER_BUILD) - 1,
                                   NGX_HTTP_LBGUARD_SERVER);

        } else {
            ngx_http_lbguard_field("Server", "nginx", sizeof("nginx") - 1,
                                   NGX_HTTP_LBGUARD_SERVER);
        }
    }

    if (r->headers_out.date == NULL) {
        ngx_http_lbguard_field("Date", ngx_cached_http_time.data,
                               ngx_cached_http_time.len,
                               NGX_HTTP_LBGUARD_DATE);
    }

    if (ct->len && !no_content) {
        ngx_http_lbguard_field("Content-Type", ct->data, ct->len,
                               NGX_HTTP_LBGUARD_CONTENT_TYPE);
    }

    if (r->headers_out.content_length == NULL
        && r->headers_out.content_length_n >= 0
        && !no_content)
    {
        /* the quick pass needs the length only: the field is host-made */
        p = q ? cl + ngx_http_lbguard_ndigits(r->headers_out.content_length_n)
              : ngx_sprintf(cl, "%O", r->headers_out.content_length_n);
        ngx_http_lbguard_field("Content-Length", cl, (size_t) (p - cl),
                               NGX_HTTP_LBGUARD_CONTENT_LENGTH);
    }

    if (r->headers_out.last_modified == NULL
        && r->headers_out.last_modified_time != -1
        && !no_content
        && (status == NGX_HTTP_OK
            || status == NGX_HTTP_PARTIAL_CONTENT
            || status == NGX_HTTP_NOT_MODIFIED))
    {
        /* the quick pass needs the length only (fixed, and the field is
         * host-made: its bytes are not read) */
        p = q ? lm + sizeof("Mon, 28 Sep 1970 06:00:00 GMT") - 1
              : ngx_http_time(lm, r->headers_out.last_modified_time);
        ngx_http_lbguard_field("Last-Modified", lm, (size_t) (p - lm),
                               NGX_HTTP_LBGUARD_LAST_MODIFIED);
    }

    /*
     * A relative Location is made absolute by the header filter and written
     * here: the view has it here with its final bytes (issue 9: they count
     * in the budgets); its element in the list is skipped below. Edits name
     * the element: a repaired value is absolute and nginx writes it as is.
     */

    if (loc->len) {
        if (q) {
            lbg_quick_field(q, (u_char *) "Location", sizeof("Location") - 1,
                            loc->data, loc->len, 0);

        } else if (n < nfields) {
            fields[n].name = (u_char *) "Location";
            fields[n].name_len = sizeof("Location") - 1;
            fields[n].value = loc->data;
            fields[n].value_len = loc->len;
            fields[n].origin = (uintptr_t) r->headers_out.location;
            fields[n].trusted = 0;
            n++;
        }
    }

    if (r->chunked) {
        ngx_http_lbguard_field("Transfer-Encoding", "chunked",
                               sizeof("chunked") - 1,
                               NGX_HTTP_LBGUARD_TRANSFER_ENCODING);
    }

    if (status == NGX_HTTP_SWITCHING_PROTOCOLS) {
        ngx_http_lbguard_field("Connection", "upgrade", sizeof("upgrade") - 1,
                               NGX_HTTP_LBGUARD_CONNECTION);

    } else if (r->keepalive && !(ngx_terminate || ngx_exiting)) {
        /* as ngx_http_header_filter_module (1.21.6+) says it */
        ngx_http_lbguard_field("Connection", "keep-alive",
                               sizeof("keep-alive") - 1,
                               NGX_HTTP_LBGUARD_CONNECTION);

        if (clcf->keepalive_header) {
            p = q ? ka + sizeof("timeout=") - 1
                    + ngx_http_lbguard_ndigits(clcf->keepalive_header)
                  : ngx_sprintf(ka, "timeout=%T", clcf->keepalive_header);
            ngx_http_lbguard_field("Keep-Alive", ka, (size_t) (p - ka),
                                   NGX_HTTP_LBGUARD_KEEP_ALIVE);
        }

    } else {
        ngx_http_lbguard_field("Connection", "close", sizeof("close") - 1,
                               NGX_HTTP_LBGUARD_CONNECTION);
    }

#if (NGX_HTTP_GZIP)
    if (r->gzip_vary && clcf->gzip_vary) {
        ngx_http_lbguard_field("Vary", "Accept-Encoding",
                               sizeof("Accept-Encoding") - 1,
                               NGX_HTTP_LBGUARD_VARY);
    }
#endif

#undef ngx_http_lbguard_field

    for (part = &r->headers_out.headers.part; part; part = part->next) {

        for (h = part->elts, end = h + part->nelts; h < end; h++) {

            if (h->hash == 0
                || (loc->len && h == r->headers_out.location))
            {
                continue;
            }

            if (q) {
                /* issue 14: a field from configuration memory found clean
                 * before is only counted (ngx_http_lbguard_verdict.h) */
                ngx_http_lbguard_verdict_field(q, h);
                continue;
            }

            if (n >= nfields) {
                continue;
            }

            fields[n].name = h->key.data;
            fields[n].name_len = h->key.len;
            fields[n].value = h->value.data;
            fields[n].value_len = h->value.len;
            fields[n].origin = (uintptr_t) h;
            fields[n].trusted = 0;
            n++;
        }
    }

    if (view) {
        view->fields = fields;
        view->nfields = n;
    }
}


/*
 * Applies the core's edits to r->headers_out. The new values are
 * allocated first, so that an allocation failure leaves the response
 * untouched (NGX_ERROR, logged); NGX_OK when everything was applied.
 */

static ngx_int_t
ngx_http_lbguard_apply(ngx_http_request_t *r, lbg_response_t *view,
    lbg_report_t *rep)
{
    u_char             **copy;
    size_t               i, len;
    lbg_edit_t          *e;
    ngx_table_elt_t     *cl;
    const lbg_field_t   *f;

    copy = ngx_pcalloc(r->pool, rep->nedits * sizeof(u_char *));
    if (copy == NULL) {
        goto failed;
    }

    for (i = 0; i < rep->nedits; i++) {
        e = &rep->edits[i];

        if (e->op == LBG_EDIT_SANITIZE && e->field < view->nfields) {
            f = &view->fields[e->field];
            len = f->value_len;

            copy[i] = ngx_pnalloc(r->pool, len ? len : 1);
            if (copy[i] == NULL) {
                goto failed;
            }

            (void) lbg_sanitize(f->value, len, copy[i]);

        } else if (e->op == LBG_EDIT_SET && e->field < view->nfields) {
            len = e->value_len;

            copy[i] = ngx_pnalloc(r->pool, len ? len : 1);
            if (copy[i] == NULL) {
                goto failed;
            }

            ngx_memcpy(copy[i], e->value, len);
        }
    }

    cl = r->headers_out.content_length;

    for (i = 0; i < rep->nedits; i++) {
        e = &rep->edits[i];

        switch (e->op) {

        case LBG_EDIT_STATUS:
            r->headers_out.status = (ngx_uint_t) e->status;
            ngx_str_null(&r->headers_out.status_line);
            break;

        case LBG_EDIT_REMOVE:
            if (e->field < view->nfields) {
                ngx_http_lbguard_remove(r, view->fields[e->field].origin);
            }
            break;

        case LBG_EDIT_SANITIZE:
            if (e->field < view->nfields) {
                ngx_http_lbguard_set(r, view->fields[e->field].origin,
                                     copy[i], view->fields[e->field].value_len);
            }
            break;

        case LBG_EDIT_SET:
            if (e->field < view->nfields) {
                ngx_http_lbguard_set(r, view->fields[e->field].origin,
                                     copy[i], e->value_len);
            }
            break;

        case LBG_EDIT_CLOSE:
            r->keepalive = 0;
            break;

        case LBG_EDIT_NO_BODY:
            r->header_only = 1;
            break;

        default: /* LBG_EDIT_BAD_GATEWAY: the caller's */
            break;
        }
    }

    /*
     * The framing nginx writes after the edits: if the element that
     * r->headers_out.content_length pointed at was removed, another
     * surviving Content-Length element (a collapsed duplicate) now
     * declares the length.
     */

    if (cl && r->headers_out.content_length == NULL) {
        for (i = 0; i < view->nfields; i++) {
            f = &view->fields[i];

            if (f->origin < NGX_HTTP_LBGUARD_SYNTH_MAX) {
                continue;
            }

            if (((ngx_table_elt_t *) f->origin)->hash != 0
                && f->name_len == sizeof("Content-Length") - 1
                && ngx_strncasecmp((u_char *) f->name,
                                   (u_char *) "Content-Length",
                                   sizeof("Content-Length") - 1) == 0)
            {
                r->headers_out.content_length = (ngx_table_elt_t *) f->origin;
                r->headers_out.content_length_n = (off_t)
                    lbg_content_length_parse(
                        r->headers_out.content_length->value.data,
                        r->headers_out.content_length->value.len);
                break;
            }
        }
    }

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                  "lbguard: out of memory, response not repaired");

    return NGX_ERROR;
}


static void
ngx_http_lbguard_remove(ngx_http_request_t *r, uintptr_t origin)
{
    ngx_table_elt_t  *h;

    switch (origin) {

    case NGX_HTTP_LBGUARD_CONTENT_TYPE:
        ngx_str_null(&r->headers_out.content_type);
        ngx_str_null(&r->headers_out.charset);
        r->headers_out.content_type_len = 0;
        return;

    case NGX_HTTP_LBGUARD_CONTENT_LENGTH:
        r->headers_out.content_length_n = -1;
        return;

    case NGX_HTTP_LBGUARD_LAST_MODIFIED:
        r->headers_out.last_modified_time = -1;
        return;

    case NGX_HTTP_LBGUARD_TRANSFER_ENCODING:
        /* ngx_http_chunked_body_filter() checks r->chunked per call */
        r->chunked = 0;
        r->keepalive = 0;
        return;

#if (NGX_HTTP_GZIP)
    case NGX_HTTP_LBGUARD_VARY:
        r->gzip_vary = 0;
        return;
#endif

    default:
        if (origin < NGX_HTTP_LBGUARD_SYNTH_MAX) {
            /* Server, Date, Connection, Keep-Alive: nginx's own, valid */
            return;
        }
    }

    h = (ngx_table_elt_t *) origin;
    h->hash = 0;

    ngx_http_lbguard_unlink(r, h);
}


static void
ngx_http_lbguard_set(ngx_http_request_t *r, uintptr_t origin, u_char *value,
    size_t len)
{
    ngx_table_elt_t  *h;

    /* the only synthesised field an edit rewrites is Content-Type: the
     * others are host-made (trusted) and framing edits touch elements */

    switch (origin) {

    case NGX_HTTP_LBGUARD_CONTENT_TYPE:
        r->headers_out.content_type.data = value;
        r->headers_out.content_type.len = len;
        ngx_str_null(&r->headers_out.charset);
        r->headers_out.content_type_len = len;
        return;

    default:
        if (origin < NGX_HTTP_LBGUARD_SYNTH_MAX) {
            return;
        }
    }

    h = (ngx_table_elt_t *) origin;
    h->value.data = value;
    h->value.len = len;

    if (h == r->headers_out.content_length) {
        r->headers_out.content_length_n =
                             (off_t) lbg_content_length_parse(value, len);
    }
}


/* clears the r->headers_out pointers to a removed element */

static void
ngx_http_lbguard_unlink(ngx_http_request_t *r, ngx_table_elt_t *h)
{
    ngx_uint_t        i;
    ngx_table_elt_t **ph;

    for (i = 0; i < sizeof(ngx_http_lbguard_headers_out) / sizeof(ngx_uint_t);
         i++)
    {
        ph = (ngx_table_elt_t **) ((char *) &r->headers_out
                                   + ngx_http_lbguard_headers_out[i]);

        if (*ph != h) {
            continue;
        }

#if (nginx_version >= 1023000)
        *ph = h->next;
#else
        *ph = NULL;
#endif

        if (ngx_http_lbguard_headers_out[i]
            == offsetof(ngx_http_headers_out_t, content_length)
            && *ph == NULL)
        {
            r->headers_out.content_length_n = -1;
        }

        if (ngx_http_lbguard_headers_out[i]
            == offsetof(ngx_http_headers_out_t, last_modified)
            && *ph == NULL)
        {
            r->headers_out.last_modified_time = -1;
        }
    }
}


static ngx_http_lbguard_ctx_t *
ngx_http_lbguard_ctx(ngx_http_request_t *r, ngx_http_lbguard_loc_conf_t *lcf)
{
    ngx_http_lbguard_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_lbguard_filter_module);

    if (ctx == NULL || ctx == &ngx_http_lbguard_armed
        || ctx == &ngx_http_lbguard_complete)
    {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_lbguard_ctx_t));
        if (ctx == NULL) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "lbguard: out of memory, body not guarded");
            return NULL;
        }

        ctx->policy = &lcf->policy;
        lbg_report_init(&ctx->report, NULL, 0, NULL, 0);

        ngx_http_set_ctx(r, ctx, ngx_http_lbguard_filter_module);
    }

    return ctx;
}


/*
 * Makes room for one more finding in the ctx's report (the core's arrays
 * are the caller's: grown from the pool here).
 */

static ngx_int_t
ngx_http_lbguard_grow(ngx_http_request_t *r, ngx_http_lbguard_ctx_t *ctx)
{
    lbg_finding_t  *nf;

    if (ctx->report.nfindings < ctx->report.findings_cap) {
        return NGX_OK;
    }

    nf = ngx_palloc(r->pool, (ctx->report.findings_cap + 4)
                             * sizeof(lbg_finding_t));
    if (nf == NULL) {
        return NGX_ERROR;
    }

    if (ctx->report.nfindings) {
        ngx_memcpy(nf, ctx->report.findings,
                   ctx->report.nfindings * sizeof(lbg_finding_t));
    }

    ctx->report.findings = nf;
    ctx->report.findings_cap += 4;

    return NGX_OK;
}


/* keeps a copy of a header finding for $lbguard_findings */

static ngx_int_t
ngx_http_lbguard_keep_finding(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx, lbg_finding_t *f)
{
    lbg_finding_t  *nf;

    if (ngx_http_lbguard_grow(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    nf = &ctx->report.findings[ctx->report.nfindings++];

    *nf = *f;
    nf->at = NULL;                      /* points into the gone view */
    nf->at_len = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_lbguard_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                         size, declared, sent;
    size_t                        fit;
    ngx_buf_t                    *b;
    lbg_rule_e                    rule;
    ngx_uint_t                    changed, last;
    ngx_chain_t                  *cl, *pl, *out, **ll;
    ngx_http_lbguard_ctx_t       *ctx;
    ngx_http_lbguard_loc_conf_t  *lcf;

    if (in == NULL || r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_lbguard_filter_module);

    if (ctx != NULL && ctx->replaced) {
        /* the target's own 502 went out whole: the upstream's bytes are
         * discarded */
        for (cl = in; cl; cl = cl->next) {
            ngx_http_lbguard_consume(cl->buf);
        }

        return NGX_OK;
    }

    if (r->chunked && r->expect_trailers) {
        /* the trailer section the chunked filter has just written */
        for (cl = in; cl; cl = cl->next) {
            if (cl->buf->last_buf
                && cl->buf->tag == (ngx_buf_tag_t) &ngx_http_chunked_filter_module
                && ngx_http_lbguard_trailers(r, cl->buf) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        ctx = ngx_http_get_module_ctx(r, ngx_http_lbguard_filter_module);
    }

    if (ctx == &ngx_http_lbguard_armed || ctx == &ngx_http_lbguard_complete) {

        /*
         * No allocation while the body goes out exactly as declared: in
         * one chain, or as the declared bytes and then empty buffers
         * (proxied responses end with an empty last buffer).
         */

        size = 0;
        last = 0;

        for (cl = in; cl; cl = cl->next) {
            if (!ngx_buf_special(cl->buf)) {
                size += ngx_buf_size(cl->buf);
            }

            if (cl->buf->last_buf) {
                last = 1;
                break;
            }
        }

        declared = r->headers_out.content_length_n;
        sent = (ctx == &ngx_http_lbguard_complete) ? declared : 0;

        if (sent + size == declared) {
            ngx_http_set_ctx(r, last ? NULL : &ngx_http_lbguard_complete,
                             ngx_http_lbguard_filter_module);
            return ngx_http_next_body_filter(r, in);
        }

        /* else the guard counts from here, with a ctx of its own */

        lcf = ngx_http_get_module_loc_conf(r, ngx_http_lbguard_filter_module);
        ctx = ngx_http_lbguard_ctx(r, lcf);
        if (ctx == NULL) {
            ngx_http_set_ctx(r, NULL, ngx_http_lbguard_filter_module);
            return ngx_http_next_body_filter(r, in);
        }

        ctx->guard_body = 1;

        lbg_body_init(&ctx->body, (int64_t) declared, 0);
        (void) lbg_body_feed(&ctx->body, (size_t) sent);
    }

    if (ctx == NULL || !ctx->guard_body) {
        return ngx_http_next_body_filter(r, in);
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_lbguard_filter_module);

    /*
     * The chain is copied only once a buffer has to change (repair, past
     * the declared length); until then the caller's chain goes on as is,
     * with no allocation on the common path.
     */

    out = NULL;
    ll = &out;
    changed = ctx->cut;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (ctx->cut) {
            /* past the declared end (repair): dropped */
            ngx_http_lbguard_status_add(&lcf->status,
                                        LBG_METRICS_BODY_CUT_BYTES,
                                        ngx_buf_special(b) ? 0
                                        : (uint64_t) ngx_buf_size(b));
            ngx_http_lbguard_consume(b);
            continue;
        }

        size = ngx_buf_special(b) ? 0 : ngx_buf_size(b);

        fit = lbg_body_feed(&ctx->body, (size_t) size);

        if ((off_t) fit < size) {

            if (!ctx->body_reported) {
                ctx->act = ngx_http_lbguard_body_report(r, ctx,
                                                lbg_body_rule(&ctx->body, 0));
            }

            if (ctx->act && ctx->policy->mode == LBG_MODE_REPAIR) {
                ctx->cut = 1;
                r->keepalive = 0;

                ngx_http_lbguard_status_add(&lcf->status,
                                            LBG_METRICS_BODIES_CUT, 1);
                ngx_http_lbguard_status_add(&lcf->status,
                                            LBG_METRICS_BODY_CUT_BYTES,
                                            (uint64_t) (size - (off_t) fit));

                if (!changed) {
                    /* the buffers before this one go out unchanged */

                    for (pl = in; pl != cl; pl = pl->next) {
                        *ll = ngx_alloc_chain_link(r->pool);
                        if (*ll == NULL) {
                            return NGX_ERROR;
                        }

                        (*ll)->buf = pl->buf;
                        ll = &(*ll)->next;
                    }

                    changed = 1;
                }

                if (fit == 0) {
                    /*
                     * nothing of this buffer goes out; a header-only
                     * response has had its last buffer already, any other
                     * one ends with an empty special buffer
                     */

                    ngx_http_lbguard_consume(b);

                    if (r->header_only) {
                        continue;
                    }

                    b = ngx_calloc_buf(r->pool);
                    if (b == NULL) {
                        return NGX_ERROR;
                    }

                    b->last_buf = 1;

                } else {

                    /* cut at the declared length, as the range filter does */

                    if (ngx_buf_in_memory(b)) {
                        b->last = b->pos + fit;
                    }

                    if (b->in_file) {
                        b->file_last = b->file_pos + fit;
                    }

                    b->last_buf = 1;
                    b->last_in_chain = 1;
                }
            }

        } else if (b->last_buf && !ctx->body_reported) {
            rule = lbg_body_rule(&ctx->body, 1);

            if (rule != LBG_RULE_NONE
                && ngx_http_lbguard_body_report(r, ctx, rule)
                && ctx->policy->mode == LBG_MODE_REPAIR)
            {
                r->keepalive = 0;
            }
        }

        if (ctx->policy->mode != LBG_MODE_REPAIR || !changed) {
            continue;
        }

        *ll = ngx_alloc_chain_link(r->pool);
        if (*ll == NULL) {
            return NGX_ERROR;
        }

        (*ll)->buf = b;
        ll = &(*ll)->next;
    }

    if (ctx->policy->mode != LBG_MODE_REPAIR || !changed) {
        /* detect, or nothing cut: the chain goes out unchanged */
        return ngx_http_next_body_filter(r, in);
    }

    *ll = NULL;

    if (out == NULL) {
        return NGX_OK;
    }

    return ngx_http_next_body_filter(r, out);
}


/*
 * Records and logs a body-guard finding. Returns 1 when it counts under
 * the location's profile (then the caller acts on it), else 0.
 */

static ngx_int_t
ngx_http_lbguard_body_report(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx, lbg_rule_e rule)
{
    lbg_finding_t                 f;
    lbg_report_t                  one;
    ngx_http_lbguard_loc_conf_t  *lcf;
    u_char                        line[NGX_HTTP_LBGUARD_LOG_LEN];

    ctx->body_reported = 1;

    ngx_memzero(&f, sizeof(lbg_finding_t));
    f.rule = rule;
    f.field = LBG_NO_FIELD;
    f.n1 = ctx->body.declared;
    f.n2 = ctx->body.sent;

    if (ngx_http_lbguard_grow(r, ctx) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "lbguard: out of memory, body finding not recorded");
    }

    if (!lbg_report_add(ctx->policy, &ctx->report, &f)) {
        return 0;
    }

    /* counted as $lbguard_findings shows it */
    lbg_report_init(&one, &f, 1, NULL, 0);
    one.nfindings = 1;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_lbguard_filter_module);

    ngx_http_lbguard_status_report(&lcf->status, &one,
                                   ctx->unrepaired ? LBG_MODE_DETECT
                                                   : ctx->policy->mode);

    /* a body finding names no field: no view needed */
    (void) lbg_finding_format(NULL, &f,
                              ctx->policy->mode == LBG_MODE_REPAIR,
                              (char *) line, sizeof(line));

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0, "lbguard: %s", line);

    return 1;
}


static void
ngx_http_lbguard_consume(ngx_buf_t *b)
{
    if (ngx_buf_in_memory(b)) {
        b->pos = b->last;
    }

    if (b->in_file) {
        b->file_pos = b->file_last;
    }
}


/*
 * issue 9: trailer fields (add_trailer). The chunked filter has written
 * r->headers_out.trailers into b ([CRLF] "0" CRLF, the fields, CRLF):
 * the field-name and field-value rules apply to them (budgets do not);
 * findings are logged and kept for $lbguard_findings; in repair mode a
 * trailer field with a finding is dropped and b is written again without
 * it.
 */

static ngx_int_t
ngx_http_lbguard_trailers(ngx_http_request_t *r, ngx_buf_t *b)
{
    u_char                       *p;
    size_t                        i, n, len, pre;
    lbg_edit_t                    edits[LBG_EDITS_MAX];
    lbg_field_t                   fields[NGX_HTTP_LBGUARD_FIELDS];
    lbg_policy_t                  policy;
    lbg_report_t                  rep;
    lbg_finding_t                 findings[LBG_FINDINGS_MAX];
    lbg_response_t                view;
    ngx_list_part_t              *part;
    ngx_table_elt_t              *h, *end;
    ngx_http_lbguard_ctx_t       *ctx;
    ngx_http_lbguard_loc_conf_t  *lcf;
    u_char                        line[NGX_HTTP_LBGUARD_LOG_LEN];

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_lbguard_filter_module);

    n = 0;

    for (part = &r->headers_out.trailers.part; part; part = part->next) {
        for (h = part->elts, end = h + part->nelts; h < end; h++) {
            if (h->hash == 0 || n == NGX_HTTP_LBGUARD_FIELDS) {
                continue;
            }

            fields[n].name = h->key.data;
            fields[n].name_len = h->key.len;
            fields[n].value = h->value.data;
            fields[n].value_len = h->value.len;
            fields[n].origin = (uintptr_t) h;
            fields[n].trusted = 0;
            n++;
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    policy = lcf->policy;
    policy.max_field_bytes = 0;
    policy.max_header_bytes = 0;
    policy.max_fields = 0;

    ngx_memzero(&view, sizeof(lbg_response_t));
    view.version = 11;
    view.status = 200;
    view.fields = fields;
    view.nfields = n;

    lbg_report_init(&rep, findings, LBG_FINDINGS_MAX, edits, LBG_EDITS_MAX);

    if (lbg_check(&policy, &view, &rep) == 0) {
        return NGX_OK;
    }

    ctx = ngx_http_lbguard_ctx(r, lcf);

    for (i = 0; i < rep.nfindings; i++) {
        /* the outcome is the trailer's own: the field is dropped */
        len = lbg_finding_format(&view, &rep.findings[i], 0, (char *) line,
                                 sizeof(line));
        pre = sizeof(", not repaired (detect mode)") - 1;

        if (lcf->mode == LBG_MODE_REPAIR && len >= pre
            && ngx_strcmp(line + len - pre, ", not repaired (detect mode)")
               == 0)
        {
            ngx_cpystrn(line + len - pre, (u_char *) ", trailer field dropped",
                        sizeof(line) - (len - pre));
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "lbguard: trailer %s", line);

        if (ctx) {
            (void) ngx_http_lbguard_keep_finding(r, ctx, &rep.findings[i]);
        }
    }

    if (lcf->mode != LBG_MODE_REPAIR) {
        return NGX_OK;
    }

    /* drop every trailer field with a finding, then write b again */

    for (i = 0; i < rep.nfindings; i++) {
        if (rep.findings[i].field < n) {
            ((ngx_table_elt_t *) fields[rep.findings[i].field].origin)->hash
                = 0;
        }
    }

    pre = (b->last - b->pos >= 2 && b->pos[0] == CR) ? 5 : 3;
    len = pre + 2;

    /* every surviving element, as the chunked filter writes them (the
     * view holds the first NGX_HTTP_LBGUARD_FIELDS only) */

    for (part = &r->headers_out.trailers.part; part; part = part->next) {
        for (h = part->elts, end = h + part->nelts; h < end; h++) {
            if (h->hash) {
                len += h->key.len + 2 + h->value.len + 2;
            }
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    b->start = p;
    p = ngx_cpymem(p, CRLF "0" CRLF + (5 - pre), pre);

    for (part = &r->headers_out.trailers.part; part; part = part->next) {
        for (h = part->elts, end = h + part->nelts; h < end; h++) {
            if (h->hash) {
                p = ngx_cpymem(p, h->key.data, h->key.len);
                *p++ = ':'; *p++ = ' ';
                p = ngx_cpymem(p, h->value.data, h->value.len);
                *p++ = CR; *p++ = LF;
            }
        }
    }

    *p++ = CR; *p++ = LF;

    b->pos = b->start;
    b->last = p;
    b->end = p;
    b->memory = 1;
    b->temporary = 0;

    return NGX_OK;
}


/*
 * issue 9: the Location ngx_http_header_filter() writes for a relative one
 * (absolute_redirect on): "http://" or "https://", the host (server_name
 * with server_name_in_redirect, else the request's Host, else the local
 * address), ":port" unless the scheme's default or port_in_redirect off,
 * then the value; built in buf (size bytes) or, when longer, in the pool.
 * loc->len is 0 when nginx writes the Location as it is.
 */

static void
ngx_http_lbguard_location(ngx_http_request_t *r, ngx_str_t *loc,
    u_char *buf, size_t size)
{
    u_char                    *p;
    size_t                     len;
    ngx_str_t                  host, scheme;
    in_port_t                  port;
    ngx_table_elt_t           *h;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_core_srv_conf_t  *cscf;
    u_char                     addr[NGX_SOCKADDR_STRLEN];

    loc->len = 0;
    loc->data = NULL;

    h = r->headers_out.location;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (h == NULL || h->value.len == 0 || h->value.data[0] != '/'
        || !clcf->absolute_redirect)
    {
        return;
    }

    if (clcf->server_name_in_redirect) {
        cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
        host = cscf->server_name;

    } else if (r->headers_in.server.len) {
        host = r->headers_in.server;

    } else {
        host.len = NGX_SOCKADDR_STRLEN;
        host.data = addr;

        if (ngx_connection_local_sockaddr(r->connection, &host, 0) != NGX_OK) {
            return;
        }
    }

    port = ngx_inet_get_port(r->connection->local_sockaddr);
    ngx_str_set(&scheme, "http://");

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        ngx_str_set(&scheme, "https://");
        port = (port == 443) ? 0 : port;

    } else
#endif
    {
        port = (port == 80) ? 0 : port;
    }

    if (!clcf->port_in_redirect) {
        port = 0;
    }

    len = scheme.len + host.len + (port ? sizeof(":65535") - 1 : 0)
          + h->value.len;

    if (len > size) {
        buf = ngx_pnalloc(r->pool, len);
        if (buf == NULL) {
            return;
        }
    }

    p = ngx_cpymem(buf, scheme.data, scheme.len);
    p = ngx_cpymem(p, host.data, host.len);

    if (port) {
        p = ngx_sprintf(p, ":%ui", (ngx_uint_t) port);
    }

    p = ngx_cpymem(p, h->value.data, h->value.len);

    loc->data = buf;
    loc->len = p - buf;
}


/*
 * issue 9: an upstream status line that is not HTTP/1.x (nginx's HTTP/0.9
 * fallback in proxy, uwsgi and scgi's status-line readers). Logs
 * upstream-status-line-invalid with the first bytes the upstream sent
 * (escaped); in repair mode replaces the response by the target's own 502
 * (ngx_http_lbguard_bad_gateway), in detect mode passes it on.
 */

static ngx_int_t
ngx_http_lbguard_upstream_status(ngx_http_request_t *r,
    ngx_http_lbguard_loc_conf_t *lcf)
{
    size_t                   len;
    u_char                  *at;
    lbg_edit_t               edits[4];
    lbg_report_t             rep;
    lbg_finding_t            finding;
    ngx_http_upstream_t     *u;
    ngx_http_lbguard_ctx_t  *ctx;
    u_char                   line[NGX_HTTP_LBGUARD_LOG_LEN];

    u = r->upstream;

    at = NULL;
    len = 0;

    if (u->buffer.pos != NULL && u->buffer.last > u->buffer.pos) {
        at = u->buffer.pos;
        len = u->buffer.last - u->buffer.pos;
    }

    lbg_report_init(&rep, &finding, 1, edits, 4);

    if (!lbg_check_upstream_status(&lcf->policy, at, len, &rep)) {
        return ngx_http_next_header_filter(r);
    }

    (void) lbg_finding_format(NULL, &finding, lcf->mode == LBG_MODE_REPAIR,
                              (char *) line, sizeof(line));

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0, "lbguard: %s", line);

    ctx = ngx_http_lbguard_ctx(r, lcf);
    if (ctx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    (void) ngx_http_lbguard_keep_finding(r, ctx, &finding);

    if (lcf->mode != LBG_MODE_REPAIR) {
        return ngx_http_next_header_filter(r);
    }

    return ngx_http_lbguard_bad_gateway(r, ctx);
}


/*
 * Replaces the response by the target's own 502 Bad Gateway
 * (LBG_EDIT_BAD_GATEWAY): every field of the response is dropped, nginx
 * writes its status line, Server, Date, Content-Type, Content-Length and
 * "Connection: close" from typed data, and the body LBG_BAD_GATEWAY_BODY
 * goes out at once with the last buffer; the body filter then discards
 * whatever the upstream sends (ctx->replaced).
 */

static ngx_int_t
ngx_http_lbguard_bad_gateway(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx)
{
    ngx_int_t         rc, brc;
    ngx_buf_t        *b;
    ngx_uint_t        i;
    ngx_chain_t       out;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_out.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;

            if (part->nelts == 0) {
                continue;
            }
        }

        h[i].hash = 0;
    }

    for (i = 0; i < sizeof(ngx_http_lbguard_headers_out)
                    / sizeof(ngx_http_lbguard_headers_out[0]); i++)
    {
        *(ngx_table_elt_t **) ((u_char *) &r->headers_out
                               + ngx_http_lbguard_headers_out[i]) = NULL;
    }

    if (r->http_version < NGX_HTTP_VERSION_10) {
        /* nginx's HTTP/0.9 fallback: back to the client's version */
        r->http_version = r->http_major * 1000 + r->http_minor;
    }

    r->headers_out.status = NGX_HTTP_BAD_GATEWAY;
    ngx_str_null(&r->headers_out.status_line);
    r->headers_out.content_length_n = sizeof(LBG_BAD_GATEWAY_BODY) - 1;
    r->headers_out.last_modified_time = -1;
    ngx_str_set(&r->headers_out.content_type, LBG_BAD_GATEWAY_TYPE);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_type_hash = 0;
    ngx_str_null(&r->headers_out.charset);

    r->chunked = 0;
    r->keepalive = 0;
    r->allow_ranges = 0;
    r->header_only = (r->method == NGX_HTTP_HEAD);

    ctx->replaced = 1;
    ctx->guard_body = 0;

    rc = ngx_http_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = (u_char *) LBG_BAD_GATEWAY_BODY;
    b->last = b->pos + sizeof(LBG_BAD_GATEWAY_BODY) - 1;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    brc = ngx_http_next_body_filter(r, &out);

    return (brc == NGX_ERROR) ? NGX_ERROR : rc;
}


static ngx_int_t
ngx_http_lbguard_findings_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                  *p;
    size_t                   len;
    ngx_http_lbguard_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_lbguard_filter_module);

    if (ctx == NULL || ctx->report.nfindings == 0) {
        v->data = (u_char *) "-";
        v->len = 1;

    } else {
        p = ngx_pnalloc(r->pool, NGX_HTTP_LBGUARD_SUMMARY_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        len = lbg_report_summary(&ctx->report,
                                 ctx->unrepaired ? LBG_MODE_DETECT
                                                 : ctx->policy->mode,
                                 (char *) p, NGX_HTTP_LBGUARD_SUMMARY_LEN);

        v->data = p;
        v->len = len;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* configuration */


static char *
ngx_http_lbguard(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lbguard_loc_conf_t *lcf = conf;

    lbg_mode_e   mode;
    ngx_str_t   *value;

    if (lcf->mode != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (lbg_mode_parse((char *) value[1].data, value[1].len, &mode) != 0) {
        return ngx_http_lbguard_invalid(cf, cmd, &value[1],
                   "it must be \"off\", \"detect\" or \"repair\"");
    }

    lcf->mode = mode;

    return NGX_CONF_OK;
}


static char *
ngx_http_lbguard_profile(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lbguard_loc_conf_t *lcf = conf;

    ngx_str_t      *value;
    lbg_profile_e   profile;
    char            must[256];

    if (lcf->profile != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (lbg_profile_parse((char *) value[1].data, value[1].len, &profile)
        != 0)
    {
        /* "it must be "strictest", "haproxy", ... or "aws-alb"" */
        ngx_memcpy(must, "it must be ", sizeof("it must be ") - 1);
        lbg_profile_list(must + sizeof("it must be ") - 1,
                         sizeof(must) - (sizeof("it must be ") - 1),
                         "\"", ", ", " or ");
        return ngx_http_lbguard_invalid(cf, cmd, &value[1], must);
    }

    lcf->profile = profile;

    return NGX_CONF_OK;
}


static char *
ngx_http_lbguard_lb_idle_timeout(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_lbguard_loc_conf_t *lcf = conf;

    uint64_t    ms;
    ngx_int_t   t;
    ngx_str_t  *value;

    if (lcf->lb_idle_timeout != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (lbg_lb_preset((char *) value[1].data, value[1].len, &ms) == 0) {
        lcf->lb_idle_timeout = (ngx_msec_t) ms;
        return NGX_CONF_OK;
    }

    t = ngx_parse_time(&value[1], 0);

    if (t == NGX_ERROR || t == 0) {
        /* a load balancer's idle timeout is never 0 (ALB: 1-4000 s) */
        return ngx_http_lbguard_invalid(cf, cmd, &value[1],
                   "it must be a time of at least 1ms or \"aws-alb\", "
                   "\"aws-clb\", \"gcp\" or \"oci\"");
    }

    lcf->lb_idle_timeout = (ngx_msec_t) t;

    return NGX_CONF_OK;
}


static char *
ngx_http_lbguard_keepalive_margin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_lbguard_loc_conf_t *lcf = conf;

    ngx_int_t   t;
    ngx_str_t  *value;

    if (lcf->keepalive_margin != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    t = ngx_parse_time(&value[1], 0);

    if (t == NGX_ERROR) {
        return ngx_http_lbguard_invalid(cf, cmd, &value[1],
                                        "it must be a time");
    }

    lcf->keepalive_margin = (ngx_msec_t) t;

    return NGX_CONF_OK;
}


static char *
ngx_http_lbguard_header_budget(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_lbguard_loc_conf_t *lcf = conf;

    ssize_t     size;
    ngx_int_t   n;
    ngx_str_t  *value;

    if (lcf->header_budget != NGX_CONF_UNSET_SIZE) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR || size == 0) {
        return ngx_http_lbguard_invalid(cf, cmd, &value[1],
                                        "it must be a size");
    }

    lcf->header_budget = (size_t) size;

    if (cf->args->nelts == 3) {
        n = ngx_atoi(value[2].data, value[2].len);

        if (n == NGX_ERROR || n == 0) {
            return ngx_http_lbguard_invalid(cf, cmd, &value[2],
                                            "it must be a number of fields");
        }

        lcf->field_budget = (ngx_uint_t) n;
    }

    return NGX_CONF_OK;
}


/* nginx's usual wording, as ngx_conf_set_flag_slot() words it */

static char *
ngx_http_lbguard_invalid(ngx_conf_t *cf, ngx_command_t *cmd, ngx_str_t *value,
    char *must)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid value \"%V\" in \"%V\" directive, %s",
                       value, &cmd->name, must);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_lbguard_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_lbguard_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_lbguard_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_lbguard_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_lbguard_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->policy = { 0 };
     *     conf->ka_seen = 0;
     *     conf->ka_checked = 0;
     */

    conf->mode = NGX_CONF_UNSET_UINT;
    conf->profile = NGX_CONF_UNSET_UINT;
    conf->header_budget = NGX_CONF_UNSET_SIZE;
    conf->field_budget = NGX_CONF_UNSET_UINT;
    conf->lb_idle_timeout = NGX_CONF_UNSET_MSEC;
    conf->keepalive_margin = NGX_CONF_UNSET_MSEC;
    ngx_http_lbguard_drain_create(&conf->drain);

    /* the line of the "server {" or "location ... {" being opened */

    if (cf->conf_file) {
        conf->file = cf->conf_file->file.name;
        conf->line = cf->conf_file->line;
    }

    return conf;
}


static char *
ngx_http_lbguard_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_lbguard_loc_conf_t *prev = parent;
    ngx_http_lbguard_loc_conf_t *conf = child;

    ngx_conf_merge_uint_value(conf->mode, prev->mode, LBG_MODE_OFF);
    ngx_conf_merge_uint_value(conf->profile, prev->profile,
                              LBG_PROFILE_STRICTEST);
    ngx_conf_merge_size_value(conf->header_budget, prev->header_budget, 0);
    ngx_conf_merge_uint_value(conf->field_budget, prev->field_budget, 0);
    ngx_conf_merge_msec_value(conf->lb_idle_timeout, prev->lb_idle_timeout, 0);
    ngx_conf_merge_msec_value(conf->keepalive_margin, prev->keepalive_margin,
                              LBG_KEEPALIVE_MARGIN_MS);

    lbg_policy_init(&conf->policy, (lbg_profile_e) conf->profile);

    conf->policy.mode = (lbg_mode_e) conf->mode;

    if (conf->header_budget) {
        lbg_policy_header_budget(&conf->policy, conf->header_budget);
    }

    if (conf->field_budget) {
        conf->policy.max_fields = conf->field_budget;
    }

    if (ngx_http_lbguard_status_merge(cf, &prev->status, &conf->status,
                                      conf->mode)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    ngx_http_lbguard_keepalive(cf, prev, conf);

    ngx_http_lbguard_drain_merge(cf, &prev->drain, &conf->drain, conf->mode,
                                 conf->lb_idle_timeout, conf->keepalive_margin,
                                 &conf->file, conf->line);

    return NGX_CONF_OK;
}


/*
 * The keep-alive check for one server{} or location{}. Merges run module
 * by module in the order of the module array, and ngx_http_core_module
 * comes before every filter module: its keepalive_timeout is already
 * merged here, and cf->ctx->loc_conf is the block being merged.
 */

static void
ngx_http_lbguard_keepalive(ngx_conf_t *cf, ngx_http_lbguard_loc_conf_t *prev,
    ngx_http_lbguard_loc_conf_t *conf)
{
    u_char                    *p;
    uint64_t                   required;
    ngx_uint_t                 level;
    lbg_ka_verdict_e           verdict;
    ngx_http_conf_ctx_t       *ctx;
    ngx_http_core_srv_conf_t  *cscf;
    ngx_http_core_loc_conf_t  *clcf;
    u_char                     where[NGX_MAX_PATH + 256];
    u_char                     line[NGX_MAX_PATH + 512];

    if (conf->mode == LBG_MODE_OFF) {
        return;
    }

    if (conf->lb_idle_timeout == 0) {
        ngx_http_lbguard_status_keepalive(cf, &conf->status,
                                          LBG_KA_METRIC_UNCHECKED);
        return;
    }

    ctx = cf->ctx;
    clcf = ctx->loc_conf[ngx_http_core_module.ctx_index];
    cscf = ctx->srv_conf[ngx_http_core_module.ctx_index];

    conf->ka_seen = clcf->keepalive_timeout;
    conf->ka_checked = 1;

    verdict = lbg_keepalive_verdict(clcf->keepalive_timeout,
                                    conf->lb_idle_timeout,
                                    conf->keepalive_margin, &required);

    ngx_http_lbguard_status_keepalive(cf, &conf->status,
                                      lbg_ka_metric(verdict,
                                                    (lbg_mode_e) conf->mode));

    if (verdict != LBG_KA_RAISE && verdict != LBG_KA_DISABLED) {
        return;
    }

    if (verdict == LBG_KA_RAISE && conf->mode == LBG_MODE_REPAIR) {
        clcf->keepalive_timeout = (ngx_msec_t) required;
    }

    /* a location that inherits what its parent reported stays silent */

    if (prev->ka_checked
        && prev->ka_seen == conf->ka_seen
        && prev->mode == conf->mode
        && prev->lb_idle_timeout == conf->lb_idle_timeout
        && prev->keepalive_margin == conf->keepalive_margin)
    {
        return;
    }

    /* where: the server, the location and the block's file:line */

    if (clcf->name.len) {
        p = ngx_snprintf(where, sizeof(where) - 1,
                         "server \"%V\" location \"%V\" (%V:%ui)",
                         &cscf->server_name, &clcf->name,
                         &conf->file, conf->line);

    } else {
        p = ngx_snprintf(where, sizeof(where) - 1, "server \"%V\" (%V:%ui)",
                         &cscf->server_name, &conf->file, conf->line);
    }

    *p = '\0';

    (void) lbg_keepalive_format(verdict, "keepalive_timeout", (char *) where,
                                conf->ka_seen, conf->lb_idle_timeout,
                                conf->keepalive_margin,
                                conf->mode == LBG_MODE_REPAIR,
                                (char *) line, sizeof(line));

    level = (verdict == LBG_KA_DISABLED) ? NGX_LOG_NOTICE : NGX_LOG_WARN;

    ngx_log_error(level, cf->log, 0, "lbguard: %s", line);
}


static ngx_int_t
ngx_http_lbguard_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_lbguard_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_lbguard_body_filter;

    return ngx_http_lbguard_drain_init(cf,
               offsetof(ngx_http_lbguard_loc_conf_t, drain));
}


/* The startup line, "lbguard/<LBG_VERSION>" at NOTICE in the configured
 * error log (at every start, reload and "nginx -t"), as nginx logs its
 * own "nginx/<version>". */
static ngx_int_t
ngx_http_lbguard_init_module(ngx_cycle_t *cycle)
{
    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0, "lbguard/" LBG_VERSION);

    /* issue 14: a new cycle, new configuration memory: no verdict kept */
    ngx_http_lbguard_verdict_init_module(cycle);

    return ngx_http_lbguard_drain_init_module(cycle);
}


/* A worker starts: the verdicts' blocks (issue 14), then the drain. */
static ngx_int_t
ngx_http_lbguard_init_process(ngx_cycle_t *cycle)
{
    (void) ngx_http_lbguard_verdict_init_process(cycle);

    return ngx_http_lbguard_drain_init_process(cycle);
}
