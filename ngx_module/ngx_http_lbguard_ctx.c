
/*
 * lbguard: the request context of the nginx module (the body guard's
 * state, the findings) and the $lbguard_findings variable, which holds
 * lbg_report_summary() of those findings for the access log.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lbguard.h"


#define NGX_HTTP_LBGUARD_SUMMARY_LEN        1024


static ngx_int_t ngx_http_lbguard_findings_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_lbguard_vars[] = {

    { ngx_string("lbguard_findings"), NULL,
      ngx_http_lbguard_findings_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/*
 * r's own ctx, made from r->pool (and set as the module's ctx) when r has
 * none or one of the sentinels ngx_http_lbguard_armed and
 * ngx_http_lbguard_complete; NULL when out of memory (logged).
 *
 * Invariant: the sentinels are never written; every writer of a ctx gets
 * it from here. It is the only guard against writing through a sentinel.
 */

ngx_http_lbguard_ctx_t *
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

ngx_int_t
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

ngx_int_t
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

    /*
     * no_cacheable 0 although the variable is NGX_HTTP_VAR_NOCACHEABLE, as
     * nginx's own $request_time handler says it: the indexed lookup sets
     * it to 1 from the flag after this handler, and the lookup by name
     * (ngx_http_get_variable) returns v as the handler left it, in memory
     * that is not zeroed. Every member is set here.
     */

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


ngx_int_t
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
