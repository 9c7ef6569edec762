/*
 * mod_lbguard_status.h -- lbguard's counters in Apache httpd (issue 13):
 * one anonymous apr_shm segment made on the parent's process pool (it
 * survives graceful restarts and the module's unload at every restart),
 * the status zones (LBGuardStatusZone <name>), and the Prometheus handler
 * (SetHandler lbguard-status). Part of mod_lbguard: mod_lbguard.c keeps an
 * lbguard_status_srv in its server configuration and calls the counting
 * functions below where it acts.
 */

#ifndef MOD_LBGUARD_STATUS_H
#define MOD_LBGUARD_STATUS_H

#include "httpd.h"
#include "http_config.h"
#include "apr_atomic.h"

#include "lbg.h"

/* apr_atomic_add64 is lock-free only where the compiler has 64-bit atomics;
 * APR's generic fallback uses process-local mutexes, useless across the
 * children that share the segment. */
#if !defined(__GCC_ATOMIC_LLONG_LOCK_FREE) || __GCC_ATOMIC_LLONG_LOCK_FREE != 2
#error "lbguard metrics need lock-free 64-bit atomics"
#endif

/* The status part of the server configuration: the zone name from
 * LBGuardStatusZone (NULL: unset; "default" applies) and, once
 * post_config has run, the zone's counters in shared memory. */
typedef struct {
    const char    *zone;
    lbg_metrics_t *counters;
} lbguard_status_srv;

/* "LBGuardStatusZone <name>" (server config, virtual host); `st` is the
 * server's lbguard_status_srv. Returns NULL or the error text. */
const char *lbguard_status_set_zone(cmd_parms *cmd, lbguard_status_srv *st,
                                    const char *arg);

/* Merges a virtual host's status settings over the main server's. */
void lbguard_status_merge(const lbguard_status_srv *base,
                          const lbguard_status_srv *add,
                          lbguard_status_srv *conf);

/* post_config (the serving pass only): finds or makes the segment, gives
 * every server its zone's counters (st_of(s) returns a server's
 * lbguard_status_srv) and starts this generation's keep-alive gauges.
 * Returns OK or HTTP_INTERNAL_SERVER_ERROR (logged). */
int lbguard_status_post_config(apr_pool_t *pconf, server_rec *s,
                               lbguard_status_srv *(*st_of)(server_rec *));

/* Records one server's keep-alive verdict at configuration load. */
void lbguard_status_keepalive(const lbguard_status_srv *st,
                              lbg_ka_metric_e verdict);

/* The handler for "SetHandler lbguard-status" (ap_hook_handler). */
int lbguard_status_handler(request_rec *r);

/* Counts the findings of `rep` as acted upon in `mode`. */
void lbguard_status_report(const lbguard_status_srv *st,
                           const lbg_report_t *rep, lbg_mode_e mode);

/* Counts one drain event (lbguard_drain.c: a keep-alive connection the
 * MPM closed early) into the segment's drain counters, all zones: one
 * atomic add. Nothing before post_config has made the segment. */
void lbguard_status_drain(lbg_drain_outcome_e outcome);

/* Adds v to counter `slot` of the server's zone: one atomic add. */
static APR_INLINE void
lbguard_status_add(const lbguard_status_srv *st, size_t slot, apr_uint64_t v)
{
    if (st->counters != NULL) {
        apr_atomic_add64(&((volatile apr_uint64_t *) st->counters)[slot], v);
    }
}

#endif /* MOD_LBGUARD_STATUS_H */
