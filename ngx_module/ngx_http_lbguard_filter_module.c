
/*
 * lbguard: nginx HTTP filter module; this file holds its directives, its
 * location configuration (create, merge) and its place in the filter
 * chains.
 *
 * A thin adapter around the lbguard core (common/lbg.h), in the files that
 * ngx_http_lbguard.h lists:
 *
 *   - the header filter runs just before ngx_http_header_filter_module
 *     (see `config`), builds the core's view of the response exactly as
 *     that filter will serialise it (status line, the fields it
 *     synthesises, and every r->headers_out.headers element), runs
 *     lbg_check(), logs each finding and, in repair mode, applies the
 *     core's edits to r->headers_out (ngx_http_lbguard_header_filter.c);
 *   - the body filter runs just before ngx_http_write_filter_module and
 *     holds the body to its declared Content-Length (lbg_body_*;
 *     ngx_http_lbguard_body_filter.c);
 *   - at configuration load, every server{} and location{} whose
 *     keepalive_timeout is shorter than the load balancer's idle timeout
 *     plus a margin is reported and, in repair mode, raised
 *     (lbg_keepalive_verdict; ngx_http_lbguard_keepalive.c);
 *   - $lbguard_findings holds lbg_report_summary() for the access log
 *     (ngx_http_lbguard_ctx.c).
 *
 * HTTP/2 responses, HTTP/0.9 responses and subrequests are passed through
 * untouched.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lbguard.h"
#include "ngx_http_lbguard_verdict.h"   /* issue 14: verdicts kept */


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
static void *ngx_http_lbguard_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_lbguard_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_lbguard_filter_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_lbguard_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_lbguard_init_process(ngx_cycle_t *cycle);


/*
 * Built-in slots where nginx's message is as good as ours: lbguard_drain
 * (ngx_conf_set_flag_slot, which names the value and "on" or "off").
 * ngx_conf_set_msec_slot would fit lbguard_keepalive_margin and
 * ngx_conf_set_enum_slot lbguard and lbguard_profile, but their errors
 * are terser ('"lbguard_keepalive_margin" directive invalid value', and
 * 'invalid value "maybe"' without the directive) and never say what is
 * allowed: the handlers below keep nginx's fuller wording
 * (ngx_http_lbguard_invalid(), as ngx_conf_set_flag_slot words it), which
 * docs/nginx.md shows and tests/integration/test_nginx.py checks.
 */

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


static ngx_int_t
ngx_http_lbguard_filter_init(ngx_conf_t *cf)
{
    if (ngx_http_lbguard_header_filter_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_lbguard_body_filter_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

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
