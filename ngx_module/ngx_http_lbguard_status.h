/*
 * ngx_http_lbguard_status.h -- lbguard's counters in nginx (issue 13):
 * the shared memory zone "lbguard_metrics", the status zones
 * (lbguard_status_zone <name>;) and the Prometheus handler
 * (lbguard_status;). Part of ngx_http_lbguard_filter_module: the filter
 * keeps an ngx_http_lbguard_status_conf_t in its location configuration
 * and calls the counting functions below where it acts.
 */

#ifndef NGX_HTTP_LBGUARD_STATUS_H
#define NGX_HTTP_LBGUARD_STATUS_H


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "lbg.h"


/*
 * One status zone of one configuration (cf->pool): its name (the value
 * of the `server` label), the slot of the shared memory it counts into
 * (set by the zone's init, in the master, before workers start), and the
 * configuration contexts per keep-alive verdict (lbg_ka_metric_e) seen
 * while this configuration was merged.
 */
typedef struct {
    ngx_str_t         name;
    lbg_metrics_t    *counters;         /* in shared memory */
    uint64_t          keepalive[LBG_KA_VERDICTS];
} ngx_http_lbguard_zone_t;


/* The status part of the filter's location configuration. */
typedef struct {
    ngx_http_lbguard_zone_t  *zone;     /* NULL: unset, or lbguard off */
    ngx_shm_zone_t           *shm;      /* lbguard_status: the zone read */
} ngx_http_lbguard_status_conf_t;


/* "lbguard_status_zone <name>;" (http, server, location); conf is the
 * filter's location configuration, cmd->offset the status conf in it. */
char *ngx_http_lbguard_status_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* "lbguard_status;" (location): serves the counters as Prometheus text. */
char *ngx_http_lbguard_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* Merges the status conf; a location where lbguard is on (mode != off)
 * counts into the zone "default" unless it names one. */
char *ngx_http_lbguard_status_merge(ngx_conf_t *cf,
    ngx_http_lbguard_status_conf_t *prev,
    ngx_http_lbguard_status_conf_t *conf, ngx_uint_t mode);

/* Records one context's keep-alive verdict (configuration time). */
void ngx_http_lbguard_status_keepalive(ngx_conf_t *cf,
    ngx_http_lbguard_status_conf_t *conf, lbg_ka_metric_e verdict);

/* Counts the findings of `rep` (and the connections they close) as
 * acted upon in `mode` (LBG_MODE_DETECT for a failed repair). */
void ngx_http_lbguard_status_report(ngx_http_lbguard_status_conf_t *conf,
    const lbg_report_t *rep, ngx_uint_t mode);

/* Counts one drain event, outcome an lbg_drain_outcome_e, into the drain
 * counters of the lbguard_metrics zone (all status zones): an atomic add. */
void ngx_http_lbguard_status_drain(ngx_uint_t outcome);


/* Adds v to counter `slot` of the location's zone: one atomic add. */
static ngx_inline void
ngx_http_lbguard_status_add(ngx_http_lbguard_status_conf_t *conf,
    size_t slot, uint64_t v)
{
    if (conf->zone != NULL && conf->zone->counters != NULL) {
        (void) __atomic_fetch_add(&((uint64_t *) conf->zone->counters)[slot],
                                  v, __ATOMIC_RELAXED);
    }
}


#endif /* NGX_HTTP_LBGUARD_STATUS_H */
