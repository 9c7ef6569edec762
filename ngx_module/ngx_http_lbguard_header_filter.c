
/*
 * lbguard: the nginx header filter. It runs just before
 * ngx_http_header_filter_module (see `config`), builds the core's view of
 * the response exactly as that filter will serialise it (status line, the
 * fields it synthesises, and every r->headers_out.headers element), runs
 * the quick pass and lbg_check(), logs each finding and, in repair mode,
 * applies the core's edits to r->headers_out; then arms the body guard
 * (ngx_http_lbguard_body_arm()). The view walker stays in this file: its
 * always_inline copies need the header filter in the same unit.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "lbg_quick.h"             /* the inline quick pass */
#include "ngx_http_lbguard.h"
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

#define NGX_HTTP_LBGUARD_CT_LEN             256 /* Content-Type; charset */
#define NGX_HTTP_LBGUARD_LOCATION_LEN       512 /* absolute Location */


static ngx_int_t ngx_http_lbguard_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_lbguard_header_filter_all(ngx_http_request_t *r);
static ngx_inline void ngx_http_lbguard_view(ngx_http_request_t *r,
    lbg_quick_t *q, lbg_response_t *view, lbg_field_t *fields,
    size_t nfields, ngx_str_t *ct, u_char *cl, u_char *lm, u_char *ka,
    ngx_str_t *loc, ngx_uint_t *misses);
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
static ngx_int_t ngx_http_lbguard_upstream_status(ngx_http_request_t *r,
    ngx_http_lbguard_loc_conf_t *lcf);
static ngx_int_t ngx_http_lbguard_bad_gateway(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


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


/*
 * Issue 14: a response that matches its location's shape (the kept
 * verdict of an earlier clean response with the same inputs,
 * ngx_http_lbguard_verdict.h) is counted, has its body guard armed and
 * goes on, as ngx_http_lbguard_header_filter_all() would do for it after
 * a clean quick pass; in a small function of its own (no frame for the
 * view, the report and the log buffers). Everything else goes there.
 */

static ngx_int_t
ngx_http_lbguard_header_filter(ngx_http_request_t *r)
{
    ngx_http_lbguard_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_lbguard_filter_module);

    /* a shape is kept only when lcf->mode is not off (below) */

    if (lcf->shape != NULL
        && r == r->main
        && !r->header_sent
        && r->http_version >= NGX_HTTP_VERSION_10
        && r->http_version < NGX_HTTP_VERSION_20
        && ngx_http_lbguard_shape_match(r, lcf->shape,
               ngx_http_lbguard_shape_key(r,
                   ngx_http_get_module_loc_conf(r, ngx_http_core_module))))
    {
        ngx_http_lbguard_status_add(&lcf->status,
                                    LBG_METRICS_RESPONSES(lcf->mode), 1);

        ngx_http_lbguard_body_arm(r, lcf);

        return ngx_http_next_header_filter(r);
    }

    return ngx_http_lbguard_header_filter_all(r);
}


#if defined(__GNUC__)
__attribute__((noinline))               /* keeps the call above small */
#endif
static ngx_int_t
ngx_http_lbguard_header_filter_all(ngx_http_request_t *r)
{
    int                           repaired;
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
    ngx_uint_t                    key, misses;

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

    ngx_http_lbguard_view(r, &q, NULL, NULL, 0, &ct, cl, lm, ka, &loc,
                          &misses);

    /* the quick pass calls no 1xx clean: lbg_check_interim() below sees
     * an upstream's "100 Continue" sent as the final response */

    if (lbg_quick_clean(&lcf->policy, &q, (int) r->headers_out.status,
                        r->headers_out.status_line.len
                        ? r->headers_out.status_line.data : NULL,
                        r->headers_out.status_line.len))
    {
        if (misses <= NGX_HTTP_LBGUARD_SHAPE_CHECKED
            && lbg_quick_fits(&lcf->policy, &q, NGX_OFF_T_LEN)
            && ngx_http_lbguard_shape_keepable(key =
                   ngx_http_lbguard_shape_key(r,
                       ngx_http_get_module_loc_conf(r, ngx_http_core_module))))
        {
            ngx_http_lbguard_shape_learn(r, &lcf->shape, key, &ct);
        }

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

    ngx_http_lbguard_view(r, NULL, &view, fields, n, &ct, cl, lm, ka, &loc,
                          NULL);

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

    ngx_http_lbguard_body_arm(r, lcf);

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
 * Where ngx_http_lbguard_view() sends the fields it walks: to the quick
 * pass (q), or, with q NULL, into fields (room for nfields; n filled).
 */

typedef struct {
    lbg_quick_t                *q;
    lbg_field_t                *fields;
    size_t                      nfields;
    size_t                      n;
} ngx_http_lbguard_walk_t;


/*
 * One field of the walk: to lbg_quick_field() with w->q, else into the
 * next element of w->fields while there is room. name and value are
 * name_len and value_len bytes; origin is what an edit names (an
 * NGX_HTTP_LBGUARD_* origin below NGX_HTTP_LBGUARD_SYNTH_MAX, or the
 * ngx_table_elt_t *); trusted: the value is nginx's own
 * (lbg_field_t.trusted).
 */

#if defined(__GNUC__)
__attribute__((always_inline))          /* inlined into each copy of view */
#endif
static ngx_inline void
ngx_http_lbguard_field(ngx_http_lbguard_walk_t *w, const char *name,
    size_t name_len, u_char *value, size_t value_len, uintptr_t origin,
    int trusted)
{
    lbg_field_t  *f;

    if (w->q) {
        lbg_quick_field(w->q, (u_char *) name, name_len, value, value_len,
                        trusted);
        return;
    }

    if (w->n >= w->nfields) {
        return;
    }

    f = &w->fields[w->n++];

    f->name = (u_char *) name;
    f->name_len = name_len;
    f->value = value;
    f->value_len = value_len;
    f->origin = origin;
    f->trusted = trusted;
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
    u_char *cl, u_char *lm, u_char *ka, ngx_str_t *loc, ngx_uint_t *misses)
{
    u_char                    *p;
    ngx_uint_t                 status, no_content;
    ngx_list_part_t           *part;
    ngx_table_elt_t           *h, *end;
    ngx_uint_t                 nelts, hits;
    ngx_http_lbguard_walk_t    w;
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

    w.q = q;
    w.fields = fields;
    w.nfields = nfields;
    w.n = 0;

    if (r->headers_out.server == NULL) {
        if (clcf->server_tokens == NGX_HTTP_SERVER_TOKENS_ON) {
            ngx_http_lbguard_field(&w, "Server", sizeof("Server") - 1,
                                   (u_char *) NGINX_VER,
                                   sizeof(NGINX_VER) - 1,
                                   NGX_HTTP_LBGUARD_SERVER, 1);

        } else if (clcf->server_tokens == NGX_HTTP_SERVER_TOKENS_BUILD) {
            ngx_http_lbguard_field(&w, "Server", sizeof("Server") - 1,
                                   (u_char *) NGINX_VER_BUILD,
                                   sizeof(NGINX_VER_BUILD) - 1,
                                   NGX_HTTP_LBGUARD_SERVER, 1);

        } else {
            ngx_http_lbguard_field(&w, "Server", sizeof("Server") - 1,
                                   (u_char *) "nginx", sizeof("nginx") - 1,
                                   NGX_HTTP_LBGUARD_SERVER, 1);
        }
    }

    if (r->headers_out.date == NULL) {
        ngx_http_lbguard_field(&w, "Date", sizeof("Date") - 1,
                               ngx_cached_http_time.data,
                               ngx_cached_http_time.len,
                               NGX_HTTP_LBGUARD_DATE, 1);
    }

    if (ct->len && !no_content) {
        /* the only synthesised field whose bytes are not nginx's own */
        ngx_http_lbguard_field(&w, "Content-Type", sizeof("Content-Type") - 1,
                               ct->data, ct->len,
                               NGX_HTTP_LBGUARD_CONTENT_TYPE, 0);
    }

    if (r->headers_out.content_length == NULL
        && r->headers_out.content_length_n >= 0
        && !no_content)
    {
        /* the quick pass needs the length only: the field is host-made */
        p = q ? cl + ngx_http_lbguard_ndigits(r->headers_out.content_length_n)
              : ngx_sprintf(cl, "%O", r->headers_out.content_length_n);
        ngx_http_lbguard_field(&w, "Content-Length",
                               sizeof("Content-Length") - 1,
                               cl, (size_t) (p - cl),
                               NGX_HTTP_LBGUARD_CONTENT_LENGTH, 1);
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
        ngx_http_lbguard_field(&w, "Last-Modified",
                               sizeof("Last-Modified") - 1,
                               lm, (size_t) (p - lm),
                               NGX_HTTP_LBGUARD_LAST_MODIFIED, 1);
    }

    /*
     * A relative Location is made absolute by the header filter and written
     * here: the view has it here with its final bytes (issue 9: they count
     * in the budgets); its element in the list is skipped below. Edits name
     * the element: a repaired value is absolute and nginx writes it as is.
     */

    if (loc->len) {
        ngx_http_lbguard_field(&w, "Location", sizeof("Location") - 1,
                               loc->data, loc->len,
                               (uintptr_t) r->headers_out.location, 0);
    }

    if (r->chunked) {
        ngx_http_lbguard_field(&w, "Transfer-Encoding",
                               sizeof("Transfer-Encoding") - 1,
                               (u_char *) "chunked", sizeof("chunked") - 1,
                               NGX_HTTP_LBGUARD_TRANSFER_ENCODING, 1);
    }

    if (status == NGX_HTTP_SWITCHING_PROTOCOLS) {
        ngx_http_lbguard_field(&w, "Connection", sizeof("Connection") - 1,
                               (u_char *) "upgrade", sizeof("upgrade") - 1,
                               NGX_HTTP_LBGUARD_CONNECTION, 1);

    } else if (r->keepalive && !(ngx_terminate || ngx_exiting)) {
        /* as ngx_http_header_filter_module (1.21.6+) says it */
        ngx_http_lbguard_field(&w, "Connection", sizeof("Connection") - 1,
                               (u_char *) "keep-alive",
                               sizeof("keep-alive") - 1,
                               NGX_HTTP_LBGUARD_CONNECTION, 1);

        if (clcf->keepalive_header) {
            p = q ? ka + sizeof("timeout=") - 1
                    + ngx_http_lbguard_ndigits(clcf->keepalive_header)
                  : ngx_sprintf(ka, "timeout=%T", clcf->keepalive_header);
            ngx_http_lbguard_field(&w, "Keep-Alive", sizeof("Keep-Alive") - 1,
                                   ka, (size_t) (p - ka),
                                   NGX_HTTP_LBGUARD_KEEP_ALIVE, 1);
        }

    } else {
        ngx_http_lbguard_field(&w, "Connection", sizeof("Connection") - 1,
                               (u_char *) "close", sizeof("close") - 1,
                               NGX_HTTP_LBGUARD_CONNECTION, 1);
    }

#if (NGX_HTTP_GZIP)
    if (r->gzip_vary && clcf->gzip_vary) {
        ngx_http_lbguard_field(&w, "Vary", sizeof("Vary") - 1,
                               (u_char *) "Accept-Encoding",
                               sizeof("Accept-Encoding") - 1,
                               NGX_HTTP_LBGUARD_VARY, 1);
    }
#endif

    nelts = 0;
    hits = 0;

    for (part = &r->headers_out.headers.part; part; part = part->next) {

        nelts += part->nelts;

        for (h = part->elts, end = h + part->nelts; h < end; h++) {

            if (h->hash == 0
                || (loc->len && h == r->headers_out.location))
            {
                continue;
            }

            if (w.q) {
                /* issue 14: a field from configuration memory found clean
                 * before is only counted (ngx_http_lbguard_verdict.h) */
                hits += ngx_http_lbguard_verdict_field(w.q, h);
                continue;
            }

            ngx_http_lbguard_field(&w, (const char *) h->key.data,
                                   h->key.len, h->value.data, h->value.len,
                                   (uintptr_t) h, 0);
        }
    }

    if (view) {
        view->fields = fields;
        view->nfields = w.n;
    }

    if (misses) {
        /* the elements that were not kept verdicts (the shape) */
        *misses = nelts - hits;
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
     * A full report (more findings or edits than its arrays hold) sets
     * rep->close without a CLOSE edit, which had no room: the defects it
     * could not record are still in the response, so the connection must
     * not be reused (lbg.h, lbg_report_t).
     */

    if (rep->close) {
        r->keepalive = 0;
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

            /* the core's matcher, the one lbg_check() frames with */

            if (((ngx_table_elt_t *) f->origin)->hash != 0
                && lbg_field_is_content_length(f->name, f->name_len))
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

    /* the synthesised field exists only when its element does not:
     * nginx's helpers clear the typed value (and an element, if any) */

    case NGX_HTTP_LBGUARD_CONTENT_LENGTH:
        ngx_http_clear_content_length(r);
        return;

    case NGX_HTTP_LBGUARD_LAST_MODIFIED:
        ngx_http_clear_last_modified(r);
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
 * whatever the handler still sends (ctx->replaced).
 *
 * The 502 is the whole response, so the request ends with it: once it is
 * sent, r->header_only is set, which takes the HEAD path of
 * ngx_http_upstream_send_response(): the upstream is finalized at once
 * (its connection closed, not read to its end), then
 * ngx_http_finalize_request(r, NGX_OK) waits until the 502's bytes are
 * written and closes the client connection (keepalive 0; lingering close
 * as configured). Returning NGX_ERROR instead would
 * terminate the request: the connection closed at once, whatever of the
 * 502 nginx still buffers lost. The HEAD path needs the response neither
 * cached nor stored (a replaced response is neither) and no tunnel: a 101
 * replaced by the 502 must not become an upgraded connection
 * (ngx_http_upstream_upgrade() is taken before the HEAD path), whose
 * upstream bytes nginx writes to the client past every filter.
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
    ngx_http_clear_last_modified(r);
    ngx_str_set(&r->headers_out.content_type, LBG_BAD_GATEWAY_TYPE);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_type_hash = 0;
    ngx_str_null(&r->headers_out.charset);

    r->chunked = 0;
    r->keepalive = 0;
    r->allow_ranges = 0;
    r->header_only = (r->method == NGX_HTTP_HEAD);

#if (NGX_HTTP_GZIP)
    /* the gzip filter's "Vary: Accept-Encoding" (gzip_vary on) is the
     * original response's too */
    r->gzip_vary = 0;
#endif

    ctx->replaced = 1;
    ctx->guard_body = 0;

    if (r->upstream) {
        r->upstream->upgrade = 0;
        r->upstream->cacheable = 0;
        r->upstream->store = 0;
    }

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

    brc = ngx_http_lbguard_next_body_filter(r, &out);

    if (brc == NGX_ERROR) {
        return NGX_ERROR;
    }

    /* the 502 has gone to the write filter whole: the request ends */
    r->header_only = 1;

    return rc;
}



ngx_int_t
ngx_http_lbguard_header_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_lbguard_header_filter;

    return NGX_OK;
}
