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
 * CONN_STATE_ASYNC_WAITIO instead, which the MPM does not kill: that is the
 * drain (lbguard_drain_process_connection below), on by default for the
 * connections of a server with LBGuard Repair and LBGuardLBIdleTimeout, as
 * nginx's lbguard_drain (LBGuardDrain On: every server; Off: none kept,
 * the early closes still reported).
 *
 * In WAITIO the MPM bounds the idle wait by the server's Timeout, not its
 * KeepAliveTimeout (2.4.71's conn_state_t has no per-connection timeout),
 * so lbguard closes a parked connection itself: each child runs one drain
 * thread (lbguard_drain_thread) that keeps the parked connections in
 * queues of equal timeouts, oldest first, and when one reaches its
 * KeepAliveTimeout -- the one the MPM would use for it: that of the last
 * request's server when it sets one, else the base server's
 * (event_post_read_request), which lbguard's keep-alive policy has
 * already raised in Repair -- shuts down the reading side of its socket
 * (shutdown(SHUT_RD)). That makes the listener's poll report it readable,
 * the MPM hands it to process_connection, which reads EOF, and the MPM
 * closes it (lingering close): the client sees the FIN when it would have
 * without lbguard. Once the child is stopping (graceful restart,
 * graceful-stop, retirement: AP_MPMQ_STOPPING, child_stopping wakes the
 * thread) the deadline is LB idle timeout + margin after the park
 * instead, so the old child exits when the load balancer has closed its
 * connections or at that limit, and at once when none is open (the
 * listener exits when its connection count is 0). A connection whose
 * server's Timeout is shorter than its KeepAliveTimeout is not parked
 * (the MPM would close it early); a Timeout shorter than LB idle + margin
 * is raised in Repair (warned in Detect), since it bounds a stopping
 * child's wait.
 *
 * Why not the alternatives, read against 2.4.71's event.c:
 *   - entering WAITIO only once the child starts dying: no hook runs
 *     between the listener's "dying" and process_keepalive_queue(0)
 *     (child_stopping runs in the signalled thread after the listener is
 *     woken), and a module cannot take a connection out of the MPM's
 *     keep-alive queue;
 *   - a close timer per connection with ap_mpm_register_timed_callback():
 *     the listener does not bound its poll by a future timer (only by the
 *     queues' expiry), so an idle child runs it late, at its next poll
 *     event (measured: 7 s instead of 4 s); there is no way to cancel one
 *     either, and ap_mpm_register_poll_callback_timeout() is trunk only.
 *
 * Memory and descriptors: a parked connection's queue entry is its own
 * state in c->pool, linked under one mutex. Waking up (process_connection),
 * closing (pre_close_connection, before the MPM's FIN) and the connection
 * pool's cleanup all unlink it under that mutex, and the thread does its
 * shutdown() under it, after checking that the descriptor is still
 * connected to the peer it had at its first park (getpeername), so
 * neither freed memory nor a descriptor reused by another connection
 * (closed by the MPM without pre_close_connection: a failed
 * apr_pollset_add) is touched. The thread is joined by a pchild cleanup.
 *
 * Report: with LBGuard Detect|Repair and LBGuardLBIdleTimeout (Detect, or
 * LBGuardDrain Off), lbguard reports what the MPM closes:
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
#include "http_main.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "scoreboard.h"

#include "apr_atomic.h"
#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_thread_cond.h"
#include "apr_thread_mutex.h"
#include "apr_thread_proc.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

typedef struct lbguard_drain_conn lbguard_drain_conn;

/* The parked connections whose last request's server has the same
 * KeepAliveTimeout and LB idle + margin, oldest park first (so their
 * deadlines are in order): lbguard_drain_thread looks at heads only. */
typedef struct {
    apr_time_t          ka_timeout;  /* the close while the child runs */
    apr_time_t          limit;       /* ... once it is stopping, 0: none */
    lbguard_drain_conn *head, *tail;
} lbguard_drain_queue;

#define LBGUARD_DRAIN_QUEUES 32   /* distinct pairs; beyond: not parked */

/* Per connection (c->pool, allocated at its first response). */
struct lbguard_drain_conn {
    conn_rec     *c;
    apr_time_t   last;        /* end of the last response */
    apr_time_t   ka_timeout;  /* KeepAliveTimeout the MPM applies to it */
    apr_time_t   io_timeout;  /* Timeout of that server (WAITIO bound) */
    apr_time_t   limit;       /* LB idle + margin of the last request's
                                 server, 0: not set */
    apr_time_t   parked;      /* when it entered CONN_STATE_ASYNC_WAITIO */
    lbguard_drain_queue *q;   /* its queue while parked, else NULL */
    lbguard_drain_conn  *prev, *next;    /* in q (lbguard_drain_mutex) */
    int          level;       /* LBGUARD_DRAIN_* of the last request's
                                 server */
    int          closed;      /* closed by the drain thread: not an early
                                 close */
    struct sockaddr_storage peer;   /* getpeername() at the first park */
    socklen_t    peer_len;          /* 0: not known (never parked) */
    apr_uint32_t responses;
};

/* Per server, as lbguard_drain_server() decided it (pconf). */
typedef struct {
    server_rec *s;            /* the key */
    int        level;         /* LBGUARD_DRAIN_OFF|REPORT|ON */
    apr_time_t limit;         /* LB idle + margin, 0: not set */
} lbguard_drain_srv;

/* Process-wide: the configuration (reset at every pre_config) ... */
static int          lbguard_drain_flag = LBGUARD_DRAIN_UNSET;
static int          lbguard_drain_effective = LBGUARD_DRAIN_OFF;
static int          lbguard_drain_default = LBGUARD_DRAIN_OFF; /* max */
static int          lbguard_drain_waitio = 0;   /* AP_MPMQ_CAN_WAITIO */
static apr_hash_t  *lbguard_drain_servers;      /* server_rec * -> srv */

/* ... the parked connections and the thread that closes them (child) */
static apr_thread_mutex_t  *lbguard_drain_mutex;
static apr_thread_cond_t   *lbguard_drain_cond;
static apr_thread_t        *lbguard_drain_tid;
static int                  lbguard_drain_quit;
static lbguard_drain_queue  lbguard_drain_queues[LBGUARD_DRAIN_QUEUES];
static int                  lbguard_drain_nqueues;

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
    apr_int64_t        limit = 0;
    int                level = LBGUARD_DRAIN_OFF;
    int                lb = lb_idle_ms >= 0
                            && (mode == LBG_MODE_DETECT
                                || mode == LBG_MODE_REPAIR);
    lbguard_drain_srv *ds;

    if (lb_idle_ms >= 0) {
        limit = lb_idle_ms + (margin_ms < 0
                              ? (apr_int64_t) LBG_KEEPALIVE_MARGIN_MS
                              : margin_ms);
    }
    /* nginx's rule: on with repair + LB idle timeout, a report in detect;
     * On keeps every server's connections, Off only reports */
    if (lbguard_drain_flag == LBGUARD_DRAIN_ON) {
        level = LBGUARD_DRAIN_ON;
    }
    else if (lb) {
        level = (lbguard_drain_flag == LBGUARD_DRAIN_UNSET
                 && mode == LBG_MODE_REPAIR) ? LBGUARD_DRAIN_ON
                                             : LBGUARD_DRAIN_REPORT;
    }
    if (level > lbguard_drain_default) {
        lbguard_drain_default = level;
    }
    if (lbguard_drain_servers == NULL) {
        lbguard_drain_servers = apr_hash_make(s->process->pconf);
    }
    ds = apr_pcalloc(s->process->pconf, sizeof(*ds));
    ds->s = s;
    ds->level = level;
    ds->limit = apr_time_from_msec(limit);
    apr_hash_set(lbguard_drain_servers, &ds->s, sizeof(ds->s), ds);

    /*
     * Kept (drain on): when the child is stopping, the idle wait between
     * requests is bounded by Timeout (CONN_STATE_ASYNC_WAITIO), so Timeout
     * gets the keep-alive check: shorter than the LB idle timeout +
     * margin, it would close before the load balancer does.
     */
    if (level == LBGUARD_DRAIN_ON && lb_idle_ms >= 0 && s->keep_alive
        && apr_time_as_msec(s->timeout) < limit) {
        if (log) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "lbguard: drain: Timeout %" APR_TIME_T_FMT "s of "
                         "%s%s:%u is shorter than the load balancer idle "
                         "timeout + margin %" APR_INT64_T_FMT "ms; it bounds "
                         "the idle wait of the connections a stopping child "
                         "keeps%s", apr_time_sec(s->timeout),
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

    lbguard_drain_effective = lbguard_drain_default;
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
                     "lbguard: drain: %s: idle HTTP/1.x "
                     "keep-alive connections wait for their next request in "
                     "the event MPM's CONN_STATE_ASYNC_WAITIO, which a "
                     "stopping child (graceful restart, graceful-stop, "
                     "retirement) and busy workers do not close; each is "
                     "closed at its KeepAliveTimeout while the child runs, "
                     "and a stopping child keeps it until the load "
                     "balancer's next request (answered with \"Connection: "
                     "close\"), its close, or the load balancer idle "
                     "timeout + margin (bounded by Timeout)",
                     lbguard_drain_flag == LBGUARD_DRAIN_ON
                     ? "LBGuardDrain On"
                     : "on (LBGuard Repair with LBGuardLBIdleTimeout)");
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
                     : " (LBGuard Repair with LBGuardLBIdleTimeout, or "
                       "LBGuardDrain On, keeps them on httpd 2.4.63+)");
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
    lbguard_drain_servers = NULL;
    return OK;
}

/* Takes st out of its queue (mutex held). */
static void lbguard_drain_unlink(lbguard_drain_conn *st)
{
    lbguard_drain_queue *q = st->q;

    if (q == NULL) {
        return;
    }
    if (st->prev != NULL) {
        st->prev->next = st->next;
    }
    else {
        q->head = st->next;
    }
    if (st->next != NULL) {
        st->next->prev = st->prev;
    }
    else {
        q->tail = st->prev;
    }
    st->prev = st->next = NULL;
    st->q = NULL;
}

/* Unparks st: it woke up, is closing, or its pool is going. st->q is only
 * set by the connection's own thread, so NULL needs no lock. */
static void lbguard_drain_unpark(lbguard_drain_conn *st)
{
    if (st->q == NULL || lbguard_drain_mutex == NULL) {
        return;
    }
    apr_thread_mutex_lock(lbguard_drain_mutex);
    lbguard_drain_unlink(st);
    apr_thread_mutex_unlock(lbguard_drain_mutex);
}

/* c->pool cleanup: the connection's memory and socket are going. */
static apr_status_t lbguard_drain_conn_cleanup(void *data)
{
    lbguard_drain_unpark(data);
    return APR_SUCCESS;
}

static int lbguard_drain_log_transaction(request_rec *r)
{
    conn_rec           *c = r->connection;
    server_rec         *ks;
    lbguard_drain_conn *st;
    lbguard_drain_srv  *ds = NULL;

    if (lbguard_drain_effective == LBGUARD_DRAIN_OFF || c->master != NULL
        || r->main != NULL) {
        return DECLINED;
    }
    st = ap_get_module_config(c->conn_config, &lbguard_module);
    if (st == NULL) {
        st = apr_pcalloc(c->pool, sizeof(*st));
        st->c = c;
        ap_set_module_config(c->conn_config, &lbguard_module, st);
        apr_pool_cleanup_register(c->pool, st, lbguard_drain_conn_cleanup,
                                  apr_pool_cleanup_null);
    }
    /* the server whose keep-alive queue the MPM would use
     * (event_post_read_request) */
    ks = r->server->keep_alive_timeout_set ? r->server : c->base_server;
    st->last = apr_time_now();
    st->ka_timeout = ks->keep_alive_timeout;
    st->io_timeout = ks->timeout;
    if (lbguard_drain_servers != NULL) {
        ds = apr_hash_get(lbguard_drain_servers, &r->server,
                          sizeof(r->server));
    }
    st->level = ds != NULL ? ds->level : LBGUARD_DRAIN_OFF;
    st->limit = ds != NULL ? ds->limit : 0;
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

#ifdef AP_MPMQ_CAN_WAITIO
static void lbguard_drain_thread_start(apr_pool_t *pchild, server_rec *s);
#endif

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
    lbguard_drain_mutex = NULL;
#ifdef AP_MPMQ_CAN_WAITIO
    if (lbguard_drain_effective == LBGUARD_DRAIN_ON && lbguard_drain_waitio) {
        lbguard_drain_thread_start(pchild, s);
    }
#endif
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
    if (st == NULL) {
        return DECLINED;
    }
    lbguard_drain_unpark(st);   /* before the MPM closes the socket */
    if (st->responses == 0 || c->aborted || st->closed
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

#ifdef AP_MPMQ_CAN_WAITIO
/* 1 when fd is still connected to the peer st saw when it was first
 * parked (the descriptor was not closed and reused by another
 * connection); 0 also when fd is not a connected socket. */
static int lbguard_drain_same_peer(const lbguard_drain_conn *st,
                                   apr_os_sock_t fd)
{
    struct sockaddr_storage ss;
    socklen_t               len = sizeof(ss);

    if (fd < 0 || st->peer_len == 0
        || getpeername(fd, (struct sockaddr *) &ss, &len) != 0
        || len != st->peer_len) {
        return 0;
    }
    return memcmp(&ss, &st->peer, len) == 0;
}

/* Ends parked connection st at its deadline (mutex held): shuts down the
 * reading side of its socket, which makes the listener's poll report it
 * readable; the MPM hands it to process_connection, which reads EOF, and
 * closes it (lingering close: the FIN). */
static void lbguard_drain_end(lbguard_drain_conn *st)
{
    apr_socket_t  *sock = ap_get_conn_socket(st->c);
    apr_os_sock_t  fd = -1;

    lbguard_drain_unlink(st);
    if (sock != NULL && apr_os_sock_get(&fd, sock) == APR_SUCCESS
        && lbguard_drain_same_peer(st, fd)) {
        st->closed = 1;
        (void) shutdown(fd, SHUT_RD);
    }
}

/*
 * The child's drain thread: sleeps until the earliest deadline of the
 * queues' heads -- park + KeepAliveTimeout while the child runs, park +
 * LB idle + margin once it is stopping (none when that is not set: the
 * MPM's Timeout bounds it) -- and ends the connections that reached it.
 * Woken by a park into an empty queue, by child_stopping, and at exit.
 * (2.4.71's ap_mpm_register_timed_callback() is not used: its listener
 * does not bound its poll by a future timer, so an idle child runs a
 * timer only at its next poll event.)
 */
static void *APR_THREAD_FUNC lbguard_drain_thread(apr_thread_t *t,
                                                  void *data)
{
    lbguard_drain_queue *q;
    apr_time_t           now, next, d;
    int                  i, state;

    (void) t;
    (void) data;
    apr_thread_mutex_lock(lbguard_drain_mutex);
    while (!lbguard_drain_quit) {
        now = apr_time_now();
        next = now + apr_time_from_sec(1);
        state = AP_MPMQ_RUNNING;
        (void) ap_mpm_query(AP_MPMQ_MPM_STATE, &state);
        for (i = 0; i < lbguard_drain_nqueues; i++) {
            q = &lbguard_drain_queues[i];
            while (q->head != NULL) {
                if (state != AP_MPMQ_STOPPING) {
                    d = q->head->parked + q->ka_timeout;
                }
                else if (q->limit > 0) {
                    d = q->head->parked + q->limit;
                }
                else {
                    break;
                }
                if (d > now) {
                    if (d < next) {
                        next = d;
                    }
                    break;
                }
                lbguard_drain_end(q->head);
            }
        }
        (void) apr_thread_cond_timedwait(lbguard_drain_cond,
                                         lbguard_drain_mutex, next - now);
    }
    apr_thread_mutex_unlock(lbguard_drain_mutex);
    /* a plain return, not apr_thread_exit(): pthread_exit() from this
     * frame leaves its scopes poisoned for ASan's thread teardown */
    return NULL;
}

/* child_stopping: the deadlines change, wake the thread. */
static void lbguard_drain_child_stopping(apr_pool_t *pchild, int graceful)
{
    (void) pchild;
    (void) graceful;
    if (lbguard_drain_mutex != NULL) {
        apr_thread_mutex_lock(lbguard_drain_mutex);
        apr_thread_cond_signal(lbguard_drain_cond);
        apr_thread_mutex_unlock(lbguard_drain_mutex);
    }
}

/* pchild pre-cleanup: stops and joins the thread, before pchild's
 * subpools (the thread's) and its cleanups (the mutex, the condition)
 * go. */
static apr_status_t lbguard_drain_thread_stop(void *data)
{
    apr_status_t rv;

    (void) data;
    apr_thread_mutex_lock(lbguard_drain_mutex);
    lbguard_drain_quit = 1;
    apr_thread_cond_signal(lbguard_drain_cond);
    apr_thread_mutex_unlock(lbguard_drain_mutex);
    (void) apr_thread_join(&rv, lbguard_drain_tid);
    lbguard_drain_mutex = NULL;
    return APR_SUCCESS;
}

/* child_init: the mutex, condition and thread; on failure nothing is
 * parked in this child (logged). */
static void lbguard_drain_thread_start(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    lbguard_drain_quit = 0;
    lbguard_drain_nqueues = 0;
    rv = apr_thread_mutex_create(&lbguard_drain_mutex,
                                 APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&lbguard_drain_cond, pchild);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_thread_create(&lbguard_drain_tid, NULL,
                               lbguard_drain_thread, NULL, pchild);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     "lbguard: drain: no drain thread: idle keep-alive "
                     "connections are not kept in this child");
        lbguard_drain_mutex = NULL;
        return;
    }
    /* a pre-cleanup: apr_pool_destroy() destroys the subpools (the
     * thread's own) before it runs the plain cleanups */
    apr_pool_pre_cleanup_register(pchild, NULL, lbguard_drain_thread_stop);
}

/* Parks c (cs->state becomes CONN_STATE_ASYNC_WAITIO) at the tail of its
 * queue; 0 when it cannot (the MPM's keep-alive queue then takes it). */
static int lbguard_drain_park_conn(conn_rec *c, lbguard_drain_conn *st)
{
    lbguard_drain_queue *q = NULL;
    int                  i;

    if (st == NULL || st->level != LBGUARD_DRAIN_ON
        || lbguard_drain_mutex == NULL || st->io_timeout < st->ka_timeout
        || st->ka_timeout <= 0) {
        return 0;
    }
    if (st->peer_len == 0) {     /* once per connection */
        apr_socket_t *sock = ap_get_conn_socket(c);
        apr_os_sock_t fd;
        socklen_t     len = sizeof(st->peer);

        if (sock == NULL || apr_os_sock_get(&fd, sock) != APR_SUCCESS
            || getpeername(fd, (struct sockaddr *) &st->peer, &len) != 0
            || len == 0 || len > sizeof(st->peer)) {
            return 0;
        }
        st->peer_len = len;
    }
    apr_thread_mutex_lock(lbguard_drain_mutex);
    for (i = 0; i < lbguard_drain_nqueues; i++) {
        if (lbguard_drain_queues[i].ka_timeout == st->ka_timeout
            && lbguard_drain_queues[i].limit == st->limit) {
            q = &lbguard_drain_queues[i];
            break;
        }
    }
    if (q == NULL && lbguard_drain_nqueues < LBGUARD_DRAIN_QUEUES) {
        q = &lbguard_drain_queues[lbguard_drain_nqueues++];
        q->ka_timeout = st->ka_timeout;
        q->limit = st->limit;
        q->head = q->tail = NULL;
    }
    if (q == NULL) {
        apr_thread_mutex_unlock(lbguard_drain_mutex);
        return 0;
    }
    lbguard_drain_unlink(st);
    st->closed = 0;
    st->parked = apr_time_now();
    st->q = q;
    st->next = NULL;
    st->prev = q->tail;
    if (q->tail != NULL) {
        q->tail->next = st;
    }
    else {
        q->head = st;
        apr_thread_cond_signal(lbguard_drain_cond);   /* a new deadline */
    }
    q->tail = st;
    apr_thread_mutex_unlock(lbguard_drain_mutex);
    return 1;
}
#endif

/*
 * Drain on (the default with LBGuard Repair and LBGuardLBIdleTimeout,
 * or LBGuardDrain On), on an event MPM that supports
 * CONN_STATE_ASYNC_WAITIO (2.4.63+): a plain HTTP/1.x connection waits
 * for its next request in CONN_STATE_ASYNC_WAITIO instead of the MPM's
 * keep-alive queue, with a close timer at its KeepAliveTimeout
 * (lbguard_drain_park_conn). The MPM does not close those when the child
 * is dying or its workers are busy (only the keep-alive queue is killed),
 * so the load balancer's next request is served (with "Connection: close"
 * once the child is stopping: ap_set_keepalive), or the load balancer
 * closes it, or its timer does at LB idle + margin. This is what
 * ap_process_http_async_connection() (modules/http/http_core.c) does for
 * one request, plus the flush the MPM's write completion would do. A
 * connection whose last request's server does not keep it goes back to
 * the MPM in CONN_STATE_WRITE_COMPLETION, as mod_http returns it.
 */
static int lbguard_drain_process_connection(conn_rec *c)
{
#ifdef AP_MPMQ_CAN_WAITIO
    conn_state_t       *cs = c->cs;
    request_rec        *r;
    lbguard_drain_conn *st;

    if (lbguard_drain_effective != LBGUARD_DRAIN_ON || !lbguard_drain_waitio
        || cs == NULL || c->master != NULL || c->clogging_input_filters
        || cs->state != CONN_STATE_PROCESSING || ap_ssl_conn_is_ssl(c)
        || strcmp(ap_get_protocol(c), AP_PROTOCOL_HTTP1) != 0) {
        return DECLINED;
    }
    st = ap_get_module_config(c->conn_config, &lbguard_module);
    if (st != NULL) {
        lbguard_drain_unpark(st);     /* woke up: its timer is stale */
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
        /* after the flush: the response's EOR bucket is gone, so its
         * log_transaction has set st for this request's server */
        st = ap_get_module_config(c->conn_config, &lbguard_module);
        if (st == NULL || st->level != LBGUARD_DRAIN_ON) {
            return OK;                        /* the MPM's keep-alive */
        }
        if (!c->data_in_input_filters) {
            break;                            /* else: pipelined request */
        }
        cs->state = CONN_STATE_PROCESSING;
    }
    if (!lbguard_drain_park_conn(c, st)) {
        return OK;                 /* CONN_STATE_WRITE_COMPLETION: the MPM */
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
#ifdef AP_MPMQ_CAN_WAITIO
    ap_hook_child_stopping(lbguard_drain_child_stopping, NULL, NULL,
                           APR_HOOK_MIDDLE);
#endif
}
