
/*
 * lbguard: the nginx body filter. It runs just before
 * ngx_http_write_filter_module and holds the body to its declared
 * Content-Length (lbg_body_*), armed by the header filter through
 * ngx_http_lbguard_body_arm(); it also checks the trailer fields the
 * chunked filter writes (add_trailer).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lbguard.h"


static ngx_int_t ngx_http_lbguard_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_lbguard_body_filter_all(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_lbguard_body_report(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx, lbg_rule_e rule, ngx_uint_t at_end);
static void ngx_http_lbguard_body_log(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx, ngx_uint_t at_end);
static void ngx_http_lbguard_body_cleanup(void *data);
static int64_t ngx_http_lbguard_element_length(ngx_http_request_t *r);
static void ngx_http_lbguard_consume(ngx_buf_t *b);
static ngx_int_t ngx_http_lbguard_trailers(ngx_http_request_t *r,
    ngx_buf_t *b);


/* the chunked filter's tag on the buffer of its last chunk and trailers */
extern ngx_module_t  ngx_http_chunked_filter_module;


/* what the request cleanup of a pending body line needs */
typedef struct {
    ngx_http_request_t          *r;
    ngx_http_lbguard_ctx_t      *ctx;
} ngx_http_lbguard_body_end_t;


static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/*
 * The ctxs of a request whose body guard is armed but which has no ctx of
 * its own (no finding, the declared length is content_length_n): armed
 * before any body byte, complete once exactly content_length_n bytes have
 * gone out. They are never written to, and read as "no finding".
 */
ngx_http_lbguard_ctx_t  ngx_http_lbguard_armed;
ngx_http_lbguard_ctx_t  ngx_http_lbguard_complete;


/*
 * Arms the body guard once the header filter is done with a response (its
 * last step before the next header filter): a declared Content-Length (also
 * an element nginx does not know as one, on a body delimited by the close)
 * or a bodiless response is guarded; a tunnel (101, 2xx to CONNECT), a
 * chunked response or an invalid Content-Length the profile lets pass is
 * not.
 * With no finding and the declared length content_length_n, no ctx is
 * made (ngx_http_lbguard_armed).
 */

void
ngx_http_lbguard_body_arm_all(ngx_http_request_t *r,
    ngx_http_lbguard_loc_conf_t *lcf)
{
    int                      bodiless;
    int64_t                  declared;
    ngx_http_lbguard_ctx_t  *ctx;

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
        return;
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
            return;
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

            return;
        }

        ctx = ngx_http_lbguard_ctx(r, lcf);
        if (ctx == NULL) {
            return;
        }

        ctx->guard_body = 1;

        lbg_body_init(&ctx->body, declared, bodiless);

        return;
    }

    /*
     * No length nginx knows of and no chunked coding: a body delimited by
     * the close (an HTTP/1.0 client, chunked_transfer_encoding off). A
     * Content-Length element nginx does not know as one (add_header
     * Content-Length, a module's own element) still goes out, and the
     * load balancer reads that many bytes: the body is held to it.
     */

    if (!r->chunked && r->headers_out.content_length == NULL) {
        declared = ngx_http_lbguard_element_length(r);

        if (declared < 0) {
            return;
        }

        ctx = ngx_http_lbguard_ctx(r, lcf);
        if (ctx == NULL) {
            return;
        }

        ctx->guard_body = 1;

        lbg_body_init(&ctx->body, declared, 0);
    }
}


/*
 * The value of the first Content-Length element of r->headers_out.headers
 * (one nginx does not know as r->headers_out.content_length), parsed by
 * the core; -1 when there is none or it is invalid.
 */

static int64_t
ngx_http_lbguard_element_length(ngx_http_request_t *r)
{
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *end;

    for (part = &r->headers_out.headers.part; part; part = part->next) {
        for (h = part->elts, end = h + part->nelts; h < end; h++) {
            if (h->hash != 0
                && lbg_field_is_content_length(h->key.data, h->key.len))
            {
                return lbg_content_length_parse(h->value.data, h->value.len);
            }
        }
    }

    return -1;
}


/*
 * The bytes of chain `in` up to and with its last buffer (special buffers
 * count 0); *last: 1 when that buffer is in the chain.
 */

static ngx_inline off_t
ngx_http_lbguard_chain_size(ngx_chain_t *in, ngx_uint_t *last)
{
    off_t         size;
    ngx_chain_t  *cl;

    size = 0;
    *last = 0;

    for (cl = in; cl; cl = cl->next) {
        if (!ngx_buf_special(cl->buf)) {
            size += ngx_buf_size(cl->buf);
        }

        if (cl->buf->last_buf) {
            *last = 1;
            break;
        }
    }

    return size;
}


/*
 * The body filter's commonest call, kept small (issue 14): an armed guard
 * with no ctx and the whole declared body in this one chain. The same as
 * ngx_http_lbguard_body_filter_all() does for it; anything else goes
 * there.
 */

static ngx_int_t
ngx_http_lbguard_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t       size;
    ngx_uint_t  last;

    if (in != NULL
        && r == r->main
        && !r->chunked
        && ngx_http_get_module_ctx(r, ngx_http_lbguard_filter_module)
           == &ngx_http_lbguard_armed)
    {
        size = ngx_http_lbguard_chain_size(in, &last);

        if (last && size == r->headers_out.content_length_n) {
            ngx_http_set_ctx(r, NULL, ngx_http_lbguard_filter_module);

            return ngx_http_next_body_filter(r, in);
        }
    }

    return ngx_http_lbguard_body_filter_all(r, in);
}


#if defined(__GNUC__)
__attribute__((noinline))               /* keeps the call above small */
#endif
static ngx_int_t
ngx_http_lbguard_body_filter_all(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                         size, declared, sent;
    size_t                        fit;
    ngx_buf_t                    *b;
    lbg_rule_e                    rule;
    ngx_uint_t                    changed, last, end;
    lbg_framing_e                 framing;
    lbg_body_verdict_e            verdict;
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

        size = ngx_http_lbguard_chain_size(in, &last);

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

    /* the guard holds a body to the Content-Length nginx sends (armed by
     * ngx_http_lbguard_body_arm()), or to none */

    framing = ctx->body.bodiless ? LBG_FRAMING_NONE : LBG_FRAMING_LENGTH;

    /*
     * The chain is copied only once a buffer has to change (repair, past
     * the declared length); until then the caller's chain goes on as is,
     * with no allocation on the common path.
     */

    out = NULL;
    ll = &out;
    changed = ctx->cut;
    end = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        /* the body's end, as the handler sent it (a cut below marks the
         * declared end with last_buf too) */
        end |= b->last_buf;

        size = ngx_buf_special(b) ? 0 : ngx_buf_size(b);

        if (ctx->cut) {
            /* past the declared end (repair): dropped, and counted for the
             * finding's line (the body's whole length) */
            ngx_http_lbguard_status_add(&lcf->status,
                                        LBG_METRICS_BODY_CUT_BYTES,
                                        (uint64_t) size);
            (void) lbg_body_feed(&ctx->body, (size_t) size);
            ngx_http_lbguard_consume(b);
            continue;
        }

        fit = lbg_body_feed(&ctx->body, (size_t) size);

        /* the core's body verdict (lbg_body_verdict()): CUT once more bytes
         * than declared (any byte of a bodiless response) have come */

        verdict = lbg_body_verdict(framing, ctx->body.declared,
                                   ctx->body.sent, 0);

        if (verdict == LBG_BODY_CUT) {

            if (!ctx->body_reported) {
                ctx->act = ngx_http_lbguard_body_report(r, ctx,
                                                lbg_body_rule(&ctx->body, 0),
                                                0);
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

        } else if (b->last_buf && !ctx->body_reported
                   && lbg_body_verdict(framing, ctx->body.declared,
                                       ctx->body.sent, 1)
                      != LBG_BODY_PASS)
        {
            /* the whole body is shorter than declared: CLOSE */
            rule = lbg_body_rule(&ctx->body, 1);

            if (ngx_http_lbguard_body_report(r, ctx, rule, 1)
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

    if (end && ctx->body_pending) {
        /* the body has ended: its finding with the whole length */
        ngx_http_lbguard_body_log(r, ctx, 1);
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
 * Records a body-guard finding (counters, $lbguard_findings) and logs it:
 * at the body's end (at_end 1) at once; at the first byte past the
 * declared length (at_end 0) the line waits for the body's end, so that
 * it gives the body's whole length (ngx_http_lbguard_body_log()), or, if
 * the request ends first (client abort, handler or upstream error), what
 * was seen, as "at least" (ngx_http_lbguard_body_cleanup()). Returns 1
 * when it counts under the location's profile (then the caller acts on
 * it), else 0.
 */

static ngx_int_t
ngx_http_lbguard_body_report(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx, lbg_rule_e rule, ngx_uint_t at_end)
{
    lbg_finding_t                 f;
    lbg_report_t                  one;
    ngx_http_cleanup_t           *cln;
    ngx_http_lbguard_body_end_t  *be;
    ngx_http_lbguard_loc_conf_t  *lcf;

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

    ctx->body_pending = 1;

    if (!at_end) {
        cln = ngx_http_cleanup_add(r, sizeof(ngx_http_lbguard_body_end_t));

        if (cln != NULL) {
            be = cln->data;
            be->r = r;
            be->ctx = ctx;
            cln->handler = ngx_http_lbguard_body_cleanup;

            return 1;
        }

        /* out of memory: the line now, with what was seen */
    }

    ngx_http_lbguard_body_log(r, ctx, at_end);

    return 1;
}


/*
 * Logs the pending body finding of ctx: the body's whole length at its end
 * (at_end 1), else the bytes seen so far, "at least" (lbg_body_finding()).
 */

static void
ngx_http_lbguard_body_log(ngx_http_request_t *r, ngx_http_lbguard_ctx_t *ctx,
    ngx_uint_t at_end)
{
    lbg_finding_t  f;
    u_char         line[NGX_HTTP_LBGUARD_LOG_LEN];

    ctx->body_pending = 0;

    if (lbg_body_finding(&ctx->body, (int) at_end, &f) == LBG_RULE_NONE) {
        return;
    }

    /* a body finding names no field: no view needed */
    (void) lbg_finding_format(NULL, &f,
                              ctx->policy->mode == LBG_MODE_REPAIR,
                              (char *) line, sizeof(line));

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0, "lbguard: %s", line);
}


/*
 * The request cleanup of a pending body line (run as the request is freed,
 * before the access log): the request ended before its body did.
 */

static void
ngx_http_lbguard_body_cleanup(void *data)
{
    ngx_http_lbguard_body_end_t  *be = data;

    if (be->ctx->body_pending) {
        ngx_http_lbguard_body_log(be->r, be->ctx, 0);
    }
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



/* the body filter after lbguard's, for a body lbguard makes itself (the
 * header filter's 502) */

ngx_int_t
ngx_http_lbguard_next_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    return ngx_http_next_body_filter(r, in);
}


ngx_int_t
ngx_http_lbguard_body_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_lbguard_body_filter;

    return NGX_OK;
}
