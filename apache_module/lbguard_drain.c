/*
 * lbguard for Apache httpd 2.4 (event MPM): keep-alive connections the MPM
 * closes early, and the settings that make it do so.
 *
 * The event MPM keeps idle keep-alive connections in a queue private to
 * server/mpm/event/event.c and closes the whole queue at once ("kill'em
 * all": process_keepalive_queue(0)) when the child is dying -- a graceful
 * restart (apachectl graceful, Debian's daily logrotate), a graceful stop,
 * a child retired by MaxSpareThreads or MaxConnectionsPerChild -- or when
 * all its workers are busy. A load balancer that has just sent a request on
 * one of them gets no response: a 502. No module hook runs before that
 * decision. From httpd 2.4.63 (Debian 12: 2.4.71) a connection may wait in
 * CONN_STATE_ASYNC_WAITIO instead, which the MPM does not kill: that is
 * LBGuardDrain On (lbguard_drain_process_connection below). It is not the
 * default: in WAITIO the idle wait is bounded by Timeout, not by
 * KeepAliveTimeout (2.4.71's conn_state_t has no per-connection timeout),
 * which changes keep-alive for every client of the server (measured:
 * test_apache.py's idle connections then stay 15 s, its Timeout, instead
 * of KeepAliveTimeout 4 s). Without it, and with LBGuard Detect|Repair and
 * LBGuardLBIdleTimeout, lbguard reports what the MPM closes:
 *
 *   - log_transaction: the end of each response on the connection (time,
 *     KeepAliveTimeout of the server that served it);
 *   - pre_close_connection (ap_prep_lingering_close, server/connection.c):
 *     runs before the FIN of every connection Apache closes. A connection
 *     whose last response kept it alive (c->keepalive == AP_CONN_KEEPALIVE),
 *     that is not closed by the client (no bytes, no EOF pending) and whose
 *     idle time is shorter than its KeepAliveTimeout was closed early by the
 *     MPM: one line per connection, with the reason taken from the MPM state
 *     (AP_MPMQ_MPM_STATE, AP_MPMQ_GENERATION against the scoreboard's
 *     running generation), and a summary line when the child exits;
 *   - post_config and apache2 -t: the MPM and its settings that cause these
 *     closes, each with the setting that avoids it (file:line from the
 *     configuration tree).
 */

#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_ssl.h"
#include "ap_mpm.h"
#include "scoreboard.h"

#include "apr_atomic.h"
#include "apr_strings.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>

#include "lbg.h"
#include "lbguard_drain.h"
#include "mod_lbguard_status.h"

extern module AP_MODULE_DECLARE_DATA lbguard_module;
APLOG_USE_MODULE(lbguard);

#define LBGUARD_DRAIN_UNSET   (-1)
#define LBGUARD_DRAIN_OFF     0
#define LBGUARD_DRAIN_REPORT  1
#define LBGUARD_DRAIN_ON      2

/* why the MPM closed it */
#define LBGUARD_KILL_RESTART  0   /* the child's generation is old */
#define LBGUARD_KILL_STOPPING 1   /* dying, same generation */
#define LBGUARD_KILL_BUSY     2   /* running: all workers busy */
#define LBGUARD_KILL_N        3

/* each as lbguard_drain_connections_total{outcome} counts it */
static const lbg_drain_outcome_e lbguard_kill_outcome[LBGUARD_KILL_N] = {
    LBG_DRAIN_MPM_RESTART, LBG_DRAIN_MPM_STOPPING, LBG_DRAIN_MPM_BUSY
};

/* a keep-alive close this much before KeepAliveTimeout is early (the
 * MPM's own expiry runs a little late, never early) */
#define LBGUARD_DRAIN_SLACK   apr_time_from_msec(250)

/* Per connection (c->pool, allocated at its first response). */
typedef struct {
    apr_time_t   last;        /* end of the last response */
    apr_time_t   ka_timeout;  /* KeepAliveTimeout that applies to it */
    apr_uint32_t responses;
} lbguard_drain_conn;

/* Process-wide: the configuration (reset at every pre_config) ... */
static int          lbguard_drain_flag = LBGUARD_DRAIN_UNSET;
static int          lbguard_drain_effective = LBGUARD_DRAIN_OFF;
static int          lbguard_drain_default = LBGUARD_DRAIN_OFF;
static apr_int64_t  lbguard_drain_lb_idle_ms = -1;
static int          lbguard_drain_waitio = 0;   /* AP_MPMQ_CAN_WAITIO */

/* ... and, in a child, what it saw (atomics: worker threads) */
static apr_uint32_t lbguard_drain_kills[LBGUARD_KILL_N];

static const char *const lbguard_kill_reason[LBGUARD_KILL_N] = {
    "graceful restart (the child belongs to an old generation)",
    "child stopping (graceful-stop, or retired by MaxSpareThreads or "
        "MaxConnectionsPerChild)",
    "all workers busy (MaxRequestWorkers, AsyncRequestWorkerFactor)"
};


const char *lbguard_drain_set(cmd_parms *cmd, void *dummy, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void) dummy;
    if (err != NULL) {
        return err;
    }
    lbguard_drain_flag = on ? LBGUARD_DRAIN_ON : LBGUARD_DRAIN_OFF;
    return NULL;
}

void lbguard_drain_server(server_rec *s, int mode, apr_int64_t lb_idle_ms,
                          apr_int64_t margin_ms, int log)
{
    apr_int64_t limit;

    if (lb_idle_ms < 0) {
        return;
    }
    if (mode == LBG_MODE_REPAIR) {
        lbguard_drain_default = LBGUARD_DRAIN_REPORT;
    }
    else if (mode == LBG_MODE_DETECT) {
        lbguard_drain_default = LBGUARD_DRAIN_REPORT;
    }
    if (mode == LBG_MODE_OFF) {
        return;
    }
    limit = lb_idle_ms + (margin_ms < 0 ? (apr_int64_t) LBG_KEEPALIVE_MARGIN_MS
                                        : margin_ms);
    if (limit > lbguard_drain_lb_idle_ms) {
        lbguard_drain_lb_idle_ms = limit;
    }

    /*
     * LBGuardDrain On: the idle wait between requests is bounded by
     * Timeout (CONN_STATE_ASYNC_WAITIO), so Timeout gets the keep-alive
     * check: shorter than the LB idle timeout + margin, it would close
     * before the load balancer does.
     */
    if (lbguard_drain_flag == LBGUARD_DRAIN_ON
        && apr_time_as_msec(s->timeout) < limit) {
        if (log) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "lbguard: drain: Timeout %" APR_TIME_T_FMT "s of "
                         "%s%s:%u is shorter than the load balancer idle "
                         "timeout + margin %" APR_INT64_T_FMT "ms; with "
                         "LBGuardDrain On it bounds the idle wait between "
                         "requests%s", apr_time_sec(s->timeout),
                         s->is_virtual ? "the virtual host at " : "the main "
                         "server at ", s->defn_name ? s->defn_name : "-",
                         s->defn_line_number, limit,
                         mode == LBG_MODE_REPAIR ? ": raised" : "");
        }
        if (mode == LBG_MODE_REPAIR) {
            s->timeout = apr_time_from_msec(limit);
        }
    }
}

/* The last directive `name` in the configuration tree (any depth). */
static const ap_directive_t *lbguard_directive(const ap_directive_t *d,
                                               const char *name)
{
    const ap_directive_t *found = NULL, *sub;

    for (; d != NULL; d = d->next) {
        if (d->directive != NULL && strcasecmp(d->directive, name) == 0) {
            found = d;
        }
        if (d->first_child != NULL) {
            sub = lbguard_directive(d->first_child, name);
            if (sub != NULL) {
                found = sub;
            }
        }
    }
    return found;
}

/* ' (file:line)' of the directive, or ' (default)' */
static const char *lbguard_where(apr_pool_t *p, const char *name)
{
    const ap_directive_t *d = lbguard_directive(ap_conftree, name);

    if (d == NULL) {
        return " (default)";
    }
    return apr_psprintf(p, " (%s:%d)", d->filename, d->line_num);
}

void lbguard_drain_check(apr_pool_t *p, server_rec *s, int log)
{
    int                   spare = 0, threads = 0, daemons = 0, mcpc = 0;
    int                   workers;
    const char           *mpm = ap_show_mpm();
    const char           *factor = "2";
    const ap_directive_t *d;

    lbguard_drain_effective = lbguard_drain_flag == LBGUARD_DRAIN_UNSET
                              ? lbguard_drain_default
                              : lbguard_drain_flag;
#ifdef AP_MPMQ_CAN_WAITIO
    lbguard_drain_waitio = 0;
    (void) ap_mpm_query(AP_MPMQ_CAN_WAITIO, &lbguard_drain_waitio);
#endif

    if (!log || lbguard_drain_effective == LBGUARD_DRAIN_OFF) {
        return;
    }

    if (strcmp(mpm, "event") != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "lbguard: drain: the %s MPM closes idle keep-alive "
                     "connections at every graceful restart and child "
                     "retirement, and lbguard cannot see them: a load "
                     "balancer request sent on one of them gets no response "
                     "(502); use the event MPM", mpm);
        return;
    }

    (void) ap_mpm_query(AP_MPMQ_MAX_SPARE_THREADS, &spare);
    (void) ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    (void) ap_mpm_query(AP_MPMQ_MAX_DAEMONS, &daemons);
    (void) ap_mpm_query(AP_MPMQ_MAX_REQUESTS_DAEMON, &mcpc);
    workers = threads * daemons;

    if (spare > 0 && spare < workers) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "lbguard: drain: MaxSpareThreads %d%s is below "
                     "MaxRequestWorkers %d: when the load drops the event MPM "
                     "retires a child, which closes all its idle keep-alive "
                     "connections at once and a load balancer request sent "
                     "on one of them gets no response (502); set "
                     "MaxSpareThreads %d", spare,
                     lbguard_where(p, "MaxSpareThreads"), workers, workers);
    }

    if (mcpc > 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "lbguard: drain: MaxConnectionsPerChild %d%s: a child "
                     "that reaches it closes all its idle keep-alive "
                     "connections at once and a load balancer request sent "
                     "on one of them gets no response (502); set "
                     "MaxConnectionsPerChild 0", mcpc,
                     lbguard_where(p, "MaxConnectionsPerChild"));
    }

    d = lbguard_directive(ap_conftree, "AsyncRequestWorkerFactor");
    if (d != NULL && d->args != NULL) {
        factor = d->args;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 "lbguard: drain: AsyncRequestWorkerFactor %s%s: a child "
                 "whose %d workers are all busy closes all its idle "
                 "keep-alive connections at once; keep MaxRequestWorkers "
                 "(%d) above the peak of concurrent requests and "
                 "AsyncRequestWorkerFactor high enough for the load "
                 "balancers' idle connections", factor,
                 lbguard_where(p, "AsyncRequestWorkerFactor"), threads,
                 workers);

    if (lbguard_drain_effective == LBGUARD_DRAIN_ON && lbguard_drain_waitio) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "lbguard: drain: LBGuardDrain On: idle HTTP/1.x "
                     "keep-alive connections wait for their next request in "
                     "the event MPM's CONN_STATE_ASYNC_WAITIO, which a "
                     "stopping child (graceful restart, graceful-stop, "
                     "retirement) and busy workers do not close; the idle "
                     "wait is bounded by Timeout, not KeepAliveTimeout");
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "lbguard: drain: %s: the idle keep-alive connections "
                     "of a stopping child (graceful restart, graceful-stop) "
                     "are closed by the event MPM at once and each one is "
                     "logged%s; deregister the target from the load balancer "
                     "before a graceful restart, and rotate logs with "
                     "rotatelogs rather than a reload",
                     lbguard_drain_effective == LBGUARD_DRAIN_ON
                     ? "LBGuardDrain On" : "report only",
                     lbguard_drain_effective == LBGUARD_DRAIN_ON
                     ? " (keeping them needs CONN_STATE_ASYNC_WAITIO, httpd "
                       "2.4.63+)"
                     : " (LBGuardDrain On keeps them on httpd 2.4.63+)");
    }
}


/* ------------------------------------------------------------------------ */

static int lbguard_drain_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                                    apr_pool_t *ptemp)
{
    (void) pconf;
    (void) plog;
    (void) ptemp;
    lbguard_drain_flag = LBGUARD_DRAIN_UNSET;
    lbguard_drain_default = LBGUARD_DRAIN_OFF;
    lbguard_drain_effective = LBGUARD_DRAIN_OFF;
    lbguard_drain_lb_idle_ms = -1;
    return OK;
}

static int lbguard_drain_log_transaction(request_rec *r)
{
    conn_rec           *c = r->connection;
    lbguard_drain_conn *st;

    if (lbguard_drain_effective == LBGUARD_DRAIN_OFF || c->master != NULL
        || r->main != NULL) {
        return DECLINED;
    }
    st = ap_get_module_config(c->conn_config, &lbguard_module);
    if (st == NULL) {
        st = apr_pcalloc(c->pool, sizeof(*st));
        ap_set_module_config(c->conn_config, &lbguard_module, st);
    }
    st->last = apr_time_now();
    st->ka_timeout = r->server->keep_alive_timeout;
    st->responses++;
    return DECLINED;
}

/* 0: nothing to read (idle), 1: bytes wait (the load balancer's next
 * request: this close loses it), -1: the client closed or reset it. */
static int lbguard_drain_socket(conn_rec *c)
{
    apr_socket_t *sock = ap_get_conn_socket(c);
    apr_os_sock_t fd;
    char          b;
    ssize_t       n;

    if (sock == NULL || apr_os_sock_get(&fd, sock) != APR_SUCCESS) {
        return -1;
    }
    n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
        return 1;
    }
    return (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ? 0 : -1;
}

static apr_status_t lbguard_drain_child_exit(void *data)
{
    server_rec  *s = data;
    apr_uint32_t n[LBGUARD_KILL_N], total;
    int          i;

    for (i = 0, total = 0; i < LBGUARD_KILL_N; i++) {
        n[i] = apr_atomic_read32(&lbguard_drain_kills[i]);
        total += n[i];
    }
    if (total > 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "lbguard: drain: child %" APR_PID_T_FMT " exiting: the "
                     "event MPM closed %u idle keep-alive connections early "
                     "(%u graceful restart, %u child stopping, %u workers "
                     "busy)", getpid(), total, n[LBGUARD_KILL_RESTART],
                     n[LBGUARD_KILL_STOPPING], n[LBGUARD_KILL_BUSY]);
    }
    return APR_SUCCESS;
}

static void lbguard_drain_child_init(apr_pool_t *pchild, server_rec *s)
{
    int i;

    for (i = 0; i < LBGUARD_KILL_N; i++) {
        apr_atomic_set32(&lbguard_drain_kills[i], 0);
    }
    if (lbguard_drain_effective != LBGUARD_DRAIN_OFF) {
        apr_pool_cleanup_register(pchild, s, lbguard_drain_child_exit,
                                  apr_pool_cleanup_null);
    }
}

static int lbguard_drain_pre_close(conn_rec *c)
{
    lbguard_drain_conn *st;
    apr_time_t          idle;
    int                 state = AP_MPMQ_RUNNING, gen = 0, why, pending;

    if (lbguard_drain_effective == LBGUARD_DRAIN_OFF || c->master != NULL) {
        return DECLINED;
    }
    st = ap_get_module_config(c->conn_config, &lbguard_module);
    if (st == NULL || st->responses == 0 || c->aborted
        || c->keepalive != AP_CONN_KEEPALIVE) {
        return DECLINED;
    }
    idle = apr_time_now() - st->last;
    if (idle + LBGUARD_DRAIN_SLACK >= st->ka_timeout) {
        return DECLINED;     /* its KeepAliveTimeout */
    }
    pending = lbguard_drain_socket(c);
    if (pending < 0) {
        return DECLINED;     /* the client closed it */
    }

    (void) ap_mpm_query(AP_MPMQ_MPM_STATE, &state);
    if (state == AP_MPMQ_STOPPING) {
        (void) ap_mpm_query(AP_MPMQ_GENERATION, &gen);
        why = (ap_scoreboard_image != NULL
               && ap_scoreboard_image->global->running_generation != gen)
              ? LBGUARD_KILL_RESTART : LBGUARD_KILL_STOPPING;
    }
    else {
        why = LBGUARD_KILL_BUSY;
    }
    apr_atomic_inc32(&lbguard_drain_kills[why]);
    lbguard_status_drain(lbguard_kill_outcome[why]);

    ap_log_cerror(APLOG_MARK, APLOG_WARNING, 0, c,
                  "lbguard: drain: idle keep-alive connection closed early "
                  "by the event MPM, %" APR_TIME_T_FMT " ms after its last "
                  "response (KeepAliveTimeout %" APR_TIME_T_FMT " s): %s; %s",
                  apr_time_as_msec(idle), apr_time_sec(st->ka_timeout),
                  lbguard_kill_reason[why],
                  pending ? "the request the client had sent on it is lost "
                            "(502)"
                          : "a load balancer request sent on it now gets no "
                            "response (502)");
    return DECLINED;
}

/*
 * LBGuardDrain On, on an event MPM that supports CONN_STATE_ASYNC_WAITIO
 * (2.4.63+): a plain HTTP/1.x connection waits for its next request in
 * CONN_STATE_ASYNC_WAITIO instead of the MPM's keep-alive queue. The MPM
 * does not close those when the child is dying or its workers are busy
 * (only the keep-alive queue is killed), so the load balancer's next
 * request is served (with "Connection: close" once the child is stopping:
 * ap_set_keepalive), or the load balancer closes it. This is what
 * ap_process_http_async_connection() (modules/http/http_core.c) does for
 * one request, plus the flush the MPM's write completion would do; the
 * idle wait is bounded by Timeout, not KeepAliveTimeout.
 */
static int lbguard_drain_process_connection(conn_rec *c)
{
#ifdef AP_MPMQ_CAN_WAITIO
    conn_state_t *cs = c->cs;
    request_rec  *r;

    if (lbguard_drain_flag != LBGUARD_DRAIN_ON || !lbguard_drain_waitio
        || cs == NULL || c->master != NULL || c->clogging_input_filters
        || cs->state != CONN_STATE_PROCESSING || ap_ssl_conn_is_ssl(c)
        || strcmp(ap_get_protocol(c), AP_PROTOCOL_HTTP1) != 0) {
        return DECLINED;
    }

    for (;;) {
        ap_update_child_status_from_conn(c->sbh, SERVER_BUSY_READ, c);
        r = ap_read_request(c);
        if (r == NULL) {
            cs->state = CONN_STATE_LINGER;    /* closed, or a bad request */
            return OK;
        }
        if (r->status == HTTP_OK) {
            cs->state = CONN_STATE_HANDLER;
            ap_update_child_status(c->sbh, SERVER_BUSY_WRITE, r);
            ap_process_async_request(r);
        }
        r = NULL;                             /* its pool may be gone */
        if (cs->state != CONN_STATE_WRITE_COMPLETION) {
            if (cs->state != CONN_STATE_SUSPENDED) {
                cs->state = CONN_STATE_LINGER;
            }
            return OK;
        }
        if (c->keepalive != AP_CONN_KEEPALIVE || c->aborted) {
            return OK;                        /* the MPM flushes, closes */
        }
        ap_flush_conn(c);
        if (c->aborted) {
            cs->state = CONN_STATE_LINGER;
            return OK;
        }
        if (!c->data_in_input_filters) {
            break;                            /* else: pipelined request */
        }
        cs->state = CONN_STATE_PROCESSING;
    }
    ap_update_child_status_from_conn(c->sbh, SERVER_BUSY_KEEPALIVE, c);
    cs->state = CONN_STATE_ASYNC_WAITIO;
    cs->sense = CONN_SENSE_WANT_READ;
    return OK;
#else
    (void) c;
    return DECLINED;
#endif
}

void lbguard_drain_register_hooks(apr_pool_t *p)
{
    (void) p;
    ap_hook_process_connection(lbguard_drain_process_connection, NULL, NULL,
                               APR_HOOK_LAST);
    ap_hook_pre_config(lbguard_drain_pre_config, NULL, NULL,
                       APR_HOOK_MIDDLE);
    ap_hook_log_transaction(lbguard_drain_log_transaction, NULL, NULL,
                            APR_HOOK_LAST);
    ap_hook_pre_close_connection(lbguard_drain_pre_close, NULL, NULL,
                                 APR_HOOK_FIRST);
    ap_hook_child_init(lbguard_drain_child_init, NULL, NULL,
                       APR_HOOK_MIDDLE);
}
