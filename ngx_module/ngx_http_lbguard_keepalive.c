
/*
 * lbguard: the keep-alive policy of the nginx module, applied at
 * configuration load: every server{} and location{} whose
 * keepalive_timeout is shorter than the load balancer's idle timeout plus
 * a margin is reported and, in repair mode, raised
 * (lbg_keepalive_verdict).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lbguard.h"


/*
 * The keep-alive check for one server{} or location{}. Merges run module
 * by module in the order of the module array, and ngx_http_core_module
 * comes before every filter module: its keepalive_timeout is already
 * merged here, and cf->ctx->loc_conf is the block being merged.
 */

void
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
