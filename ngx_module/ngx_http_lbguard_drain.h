
/*
 * lbguard: LB-safe drain of HTTP/1.x keep-alive connections when an nginx
 * worker shuts down gracefully (reload, binary upgrade, nginx -s quit).
 * Implemented in ngx_http_lbguard_drain.c; called from the filter module
 * (ngx_http_lbguard_filter_module.c), whose location configuration embeds
 * an ngx_http_lbguard_drain_conf_t.
 */

#ifndef _NGX_HTTP_LBGUARD_DRAIN_H_INCLUDED_
#define _NGX_HTTP_LBGUARD_DRAIN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* ngx_http_lbguard_drain_conf_t.effective */
#define NGX_HTTP_LBGUARD_DRAIN_OFF     0   /* nginx closes idle connections */
#define NGX_HTTP_LBGUARD_DRAIN_REPORT  1   /* detect: log what nginx closes */
#define NGX_HTTP_LBGUARD_DRAIN_ON      2   /* keep them (see the .c file) */


/*
 * Per server{}/location{}: "lbguard_drain on|off" as written (flag, first
 * member, set by ngx_conf_set_flag_slot; NGX_CONF_UNSET when absent), what it amounts to after the merge
 * (NGX_HTTP_LBGUARD_DRAIN_*), and the idle limit of a kept connection in
 * ms: the load balancer's idle timeout + lbguard_keepalive_margin (0 when
 * lbguard_lb_idle_timeout is not set: keepalive_timeout bounds it).
 */
typedef struct {
    ngx_flag_t   flag;
    ngx_uint_t   effective;
    ngx_msec_t   limit;
} ngx_http_lbguard_drain_conf_t;


/* create_loc_conf: marks the conf unset */
void ngx_http_lbguard_drain_create(ngx_http_lbguard_drain_conf_t *conf);

/*
 * merge_loc_conf, after the keep-alive check: the default rule (on when
 * lbguard is "repair" and lbguard_lb_idle_timeout is set, a report in
 * "detect", off otherwise), the idle limit, and the figures that
 * init_module checks worker_shutdown_timeout against. mode is an
 * lbg_mode_e; times in ms; file:line is the block's, for the logs.
 */
void ngx_http_lbguard_drain_merge(ngx_conf_t *cf,
    ngx_http_lbguard_drain_conf_t *prev, ngx_http_lbguard_drain_conf_t *conf,
    ngx_uint_t mode, ngx_msec_t lb_idle_timeout, ngx_msec_t margin,
    ngx_str_t *file, ngx_uint_t line);

/*
 * postconfiguration: adds the log-phase handler. offset is that of the
 * ngx_http_lbguard_drain_conf_t inside the module's location conf.
 */
ngx_int_t ngx_http_lbguard_drain_init(ngx_conf_t *cf, size_t offset);

/* ngx_module_t hooks: config checks (also under nginx -t), the per-worker
 * registry, and the closing summary line of an exiting worker */
ngx_int_t ngx_http_lbguard_drain_init_module(ngx_cycle_t *cycle);
ngx_int_t ngx_http_lbguard_drain_init_process(ngx_cycle_t *cycle);
void ngx_http_lbguard_drain_exit_process(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_LBGUARD_DRAIN_H_INCLUDED_ */
