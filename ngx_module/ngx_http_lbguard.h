
/*
 * lbguard: what the files of the nginx module share (the module object,
 * the location configuration, the request context, cross-file
 * prototypes), as ModSecurity-nginx's ngx_http_modsecurity_common.h.
 *
 *   ngx_http_lbguard_filter_module.c  directives, create/merge, filter init
 *   ngx_http_lbguard_header_filter.c  the header filter: view, quick pass,
 *                                     lbg_check(), edits to headers_out
 *   ngx_http_lbguard_body_filter.c    the body guard (and its arming),
 *                                     trailer fields
 *   ngx_http_lbguard_ctx.c            the request ctx, its findings,
 *                                     $lbguard_findings
 *   ngx_http_lbguard_keepalive.c      the keep-alive check at config load
 *   ngx_http_lbguard_status.c         counters (lbguard_status)
 *   ngx_http_lbguard_drain.c          lbguard_drain
 */


#ifndef _NGX_HTTP_LBGUARD_H_INCLUDED_
#define _NGX_HTTP_LBGUARD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "lbg.h"
#include "ngx_http_lbguard_status.h"
#include "ngx_http_lbguard_drain.h"
#include "ngx_http_lbguard_verdict.h"


#define NGX_HTTP_LBGUARD_FIELDS             64  /* on the stack */
#define NGX_HTTP_LBGUARD_LOG_LEN            512 /* one finding's log line */


/* the location configuration (lbguard_* directives, merged policy) */

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

    /* the verdict of this location's clean responses, kept by each worker
     * (issue 14, ngx_http_lbguard_verdict.h); NULL until one is kept */
    ngx_http_lbguard_shape_t      *shape;
} ngx_http_lbguard_loc_conf_t;


/*
 * The request context (r->main's): the body guard's state and the
 * findings kept for $lbguard_findings. Made by ngx_http_lbguard_ctx();
 * a request with no finding and an exactly sized body has one of the two
 * sentinels below instead, or none.
 */

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
    unsigned         body_pending:1;   /* a body finding is counted, its
                                          log line waits for the body's
                                          end (its whole length) */
} ngx_http_lbguard_ctx_t;


/*
 * The sentinel ctxs of a request whose body guard is armed with no ctx of
 * its own (ngx_http_lbguard_body_filter.c). Never written to: every writer
 * goes through ngx_http_lbguard_ctx(), which replaces them.
 */
extern ngx_http_lbguard_ctx_t  ngx_http_lbguard_armed;
extern ngx_http_lbguard_ctx_t  ngx_http_lbguard_complete;

extern ngx_module_t  ngx_http_lbguard_filter_module;


/* ngx_http_lbguard_header_filter.c: puts the header filter in the chain
 * (postconfiguration); NGX_OK */
ngx_int_t ngx_http_lbguard_header_filter_init(ngx_conf_t *cf);

/* ngx_http_lbguard_body_filter.c: puts the body filter in the chain
 * (postconfiguration); NGX_OK */
ngx_int_t ngx_http_lbguard_body_filter_init(ngx_conf_t *cf);
/* arms the body guard for a main request whose header goes out now, as
 * the header filter's last step; a ctx it cannot allocate leaves the body
 * unguarded. Out of line; callers use ngx_http_lbguard_body_arm(). */
void ngx_http_lbguard_body_arm_all(ngx_http_request_t *r,
    ngx_http_lbguard_loc_conf_t *lcf);
/* the body filter after lbguard's: for a body lbguard writes itself */
ngx_int_t ngx_http_lbguard_next_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);

/* ngx_http_lbguard_ctx.c: r's ctx, made (from r->pool) when r has none
 * or a sentinel; NULL when out of memory (logged) */
ngx_http_lbguard_ctx_t *ngx_http_lbguard_ctx(ngx_http_request_t *r,
    ngx_http_lbguard_loc_conf_t *lcf);
/* room for one more finding in ctx->report; NGX_ERROR when out of memory */
ngx_int_t ngx_http_lbguard_grow(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx);
/* a copy of finding f (its "at" bytes cleared) kept in ctx->report for
 * $lbguard_findings; NGX_ERROR when out of memory */
ngx_int_t ngx_http_lbguard_keep_finding(ngx_http_request_t *r,
    ngx_http_lbguard_ctx_t *ctx, lbg_finding_t *f);
/* adds $lbguard_findings (preconfiguration); NGX_ERROR on failure */
ngx_int_t ngx_http_lbguard_add_variables(ngx_conf_t *cf);

/* ngx_http_lbguard_keepalive.c: the keep-alive check of the block being
 * merged (conf, its parent prev); logs, and raises keepalive_timeout in
 * repair mode */
void ngx_http_lbguard_keepalive(ngx_conf_t *cf,
    ngx_http_lbguard_loc_conf_t *prev, ngx_http_lbguard_loc_conf_t *conf);


/*
 * ngx_http_lbguard_body_arm_all() with its commonest case inline: a
 * response with a body of the Content-Length nginx writes from
 * content_length_n (no element of its own, not chunked), no tunnel, not
 * bodiless and no ctx yet is armed with the sentinel, which is what
 * ngx_http_lbguard_body_arm_all() does for it (issue 14: about 15
 * instructions instead of 60).
 */
static ngx_inline void
ngx_http_lbguard_body_arm(ngx_http_request_t *r,
    ngx_http_lbguard_loc_conf_t *lcf)
{
    if (r->headers_out.content_length_n >= 0
        && r->headers_out.content_length == NULL
        && !r->chunked
        && !r->header_only
        && r->method != NGX_HTTP_HEAD
        && r->method != NGX_HTTP_CONNECT
        && !lbg_tunnel((int) r->headers_out.status, 0)
        && !lbg_bodiless((int) r->headers_out.status, 0)
        && ngx_http_get_module_ctx(r, ngx_http_lbguard_filter_module) == NULL)
    {
        ngx_http_set_ctx(r, &ngx_http_lbguard_armed,
                         ngx_http_lbguard_filter_module);
        return;
    }

    ngx_http_lbguard_body_arm_all(r, lcf);
}


#endif /* _NGX_HTTP_LBGUARD_H_INCLUDED_ */
