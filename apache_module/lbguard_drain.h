/*
 * lbguard for Apache httpd 2.4: the keep-alive connections the event MPM
 * closes early (graceful restart, child retirement, busy workers), and the
 * MPM settings that make it do so. Implemented in lbguard_drain.c, called
 * from mod_lbguard.c.
 */
#ifndef LBGUARD_DRAIN_H
#define LBGUARD_DRAIN_H

#include "httpd.h"
#include "http_config.h"

/* "LBGuardDrain On|Off" (server config only: the MPM's kills are per
 * child, not per virtual host). Unset: a server with LBGuard Repair and
 * LBGuardLBIdleTimeout keeps its idle keep-alive connections across a
 * stopping child (CONN_STATE_ASYNC_WAITIO, httpd 2.4.63+; closed at their
 * KeepAliveTimeout while the child runs, at LB idle + margin once it
 * stops), one with Detect reports the ones the MPM closes early. On: every
 * server keeps them. Off: none is kept; Detect|Repair servers with
 * LBGuardLBIdleTimeout still report. */
const char *lbguard_drain_set(cmd_parms *cmd, void *dummy, int on);

/* post_config / test_config: called once per server_rec with its merged
 * LBGuard mode (lbg_mode_e), LB idle timeout and margin in ms (-1: unset)
 * -- where its connections are kept, a Timeout shorter than LB idle +
 * margin is raised (Repair) or warned about (KeepAlive On only) --,
 * then lbguard_drain_check() once.
 * Both log only when `log`. */
void lbguard_drain_server(server_rec *s, int mode, apr_int64_t lb_idle_ms,
                          apr_int64_t margin_ms, int log);
void lbguard_drain_check(apr_pool_t *p, server_rec *main_server, int log);

/* pre_config, process_connection, log_transaction, pre_close_connection,
 * child_init (the drain thread), child_stopping */
void lbguard_drain_register_hooks(apr_pool_t *p);

#endif
