
/*
 * lbguard: LB-safe drain of idle HTTP/1.x keep-alive connections when an
 * nginx worker shuts down gracefully (nginx -s reload, -s quit, binary
 * upgrade). nginx 1.22 and mainline, no patch to nginx.
 *
 * The problem. On SIGQUIT (the old workers of a reload get it) a worker
 * sets ngx_exiting and calls ngx_close_idle_connections()
 * (src/os/unix/ngx_process_cycle.c, src/core/ngx_connection.c 1.22.1:1352),
 * which closes every connection with c->idle set at once. An HTTP/1.x
 * keep-alive connection gets c->idle = 1 in ngx_http_set_keepalive()
 * (src/http/ngx_http_request.c 1.22.1:3255). A load balancer that has just
 * written a request on one of them gets a FIN or a RST: a 502.
 *
 * The lever. c->idle is read by ngx_close_idle_connections() only (and, for
 * upstream connections, by the SSL session code): it means "close me at
 * graceful shutdown" and nothing else. nginx 1.27.4's keepalive_min_timeout
 * (commit 22a2a225) leaves c->idle at 0 for the same reason. Here:
 *
 *   1. a log-phase handler (it runs from ngx_http_free_request(), inside
 *      ngx_http_set_keepalive(), before c->idle = 1) queues the connection
 *      and posts a module-owned event on ngx_posted_events;
 *   2. that event runs in the same ngx_process_events_and_timers() call,
 *      after ngx_http_set_keepalive() has returned and before the worker
 *      loop looks at ngx_quit. For a connection in keep-alive (c->idle set
 *      by set_keepalive) it wraps c->read->handler (the keep-alive
 *      handler) and, with lbguard_drain on, clears c->idle (c->reusable is
 *      left alone: a worker_connections shortage still reclaims it);
 *   3. so no kept connection has c->idle set when the quit comes. Each one
 *      then ends in one of three safe ways: the load balancer sends a
 *      request (nginx >= 1.21.6 answers it with "Connection: close", see
 *      ngx_http_header_filter_module.c 1.22.1:200, and closes), the load
 *      balancer closes it, or it has been idle for the load balancer's
 *      idle timeout + margin (its keep-alive read timer, non-cancelable,
 *      keeps the old worker alive until then; shortened at shutdown if
 *      keepalive_timeout is longer).
 *
 * The wrapper of the read handler sees how each kept connection ends and
 * logs it ("lbguard: drain: ..."); with lbguard detect (a report only) it
 * leaves c->idle alone and logs what nginx closes. On mainline, where the
 * keep-alive handler sets c->idle itself once keepalive_min_timeout has
 * passed, the wrapper clears it again.
 *
 * Not covered: a response whose header went out with "keep-alive" before
 * the quit and whose last byte goes out after it is still closed by
 * ngx_http_finalize_connection() (1.22.1:2769, a core decision no module
 * hook reaches); worker_shutdown_timeout (it closes everything when it
 * fires: checked at configuration load); stop/restart (SIGTERM); HTTP/2
 * and HTTP/3 (GOAWAY, their own path).
 *
 * Per worker: one registry entry per connection slot (cycle->connections),
 * allocated in init_process; nothing is allocated per request.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "lbg.h"
#include "ngx_http_lbguard_drain.h"
#include "ngx_http_lbguard_status.h"


/* how a kept connection ended */
#define NGX_HTTP_LBGUARD_END_REQUEST   0
#define NGX_HTTP_LBGUARD_END_CLOSED    1
#define NGX_HTTP_LBGUARD_END_RESET     2
#define NGX_HTTP_LBGUARD_END_IDLE      3
#define NGX_HTTP_LBGUARD_END_SHUTDOWN  4
#define NGX_HTTP_LBGUARD_END_NGINX     5
#define NGX_HTTP_LBGUARD_END_N         6

/* each as lbguard_drain_connections_total{outcome} counts it */
static const ngx_uint_t  ngx_http_lbguard_drain_outcome[NGX_HTTP_LBGUARD_END_N]
    = {
    LBG_DRAIN_REQUEST,           /* NGX_HTTP_LBGUARD_END_REQUEST */
    LBG_DRAIN_CLIENT_CLOSE,      /* NGX_HTTP_LBGUARD_END_CLOSED */
    LBG_DRAIN_CLIENT_RESET,      /* NGX_HTTP_LBGUARD_END_RESET */
    LBG_DRAIN_IDLE_LIMIT,        /* NGX_HTTP_LBGUARD_END_IDLE */
    LBG_DRAIN_SHUTDOWN_TIMEOUT,  /* NGX_HTTP_LBGUARD_END_SHUTDOWN */
    LBG_DRAIN_SERVER_CLOSE       /* NGX_HTTP_LBGUARD_END_NGINX */
};

#define NGX_HTTP_LBGUARD_DRAIN_POLL    1000   /* ms, cancelable */


/* one per connection slot: the use of the slot last seen in keep-alive */
typedef struct {
    ngx_atomic_uint_t   number;        /* c->number of that use */
    ngx_msec_t          since;         /* entered keep-alive (ngx_current_msec) */
    ngx_msec_t          limit;         /* idle limit in ms, 0: keepalive_timeout */
    unsigned            on:1;          /* lbguard_drain on (else a report) */
    unsigned            queued:1;      /* in the pending list */
    unsigned            kept:1;        /* in keep-alive when shutdown began */
} ngx_http_lbguard_drain_slot_t;


/* per worker */
typedef struct {
    ngx_http_lbguard_drain_slot_t  *slots;    /* connection_n entries */
    ngx_uint_t                     *pending;  /* slot indexes to look at */
    ngx_uint_t                      npending;
    ngx_uint_t                      n;        /* connection_n */

    ngx_event_handler_pt            keepalive_handler;  /* nginx's, learned */

    ngx_event_t                     ev;       /* posted: handles pending */
    ngx_event_t                     poll;     /* cancelable: sees the quit */

    ngx_msec_t                      start;    /* shutdown seen */
    ngx_uint_t                      kept;     /* kept at shutdown (on) */
    ngx_uint_t                      closing;  /* left to nginx (report) */
    ngx_uint_t                      ended[NGX_HTTP_LBGUARD_END_N];
    unsigned                        shutdown:1;
} ngx_http_lbguard_drain_worker_t;


/* per configuration cycle, for init_module (reset when the cycle changes) */
typedef struct {
    ngx_cycle_t                    *cycle;
    ngx_uint_t                      any;      /* some block drains or reports */
    ngx_msec_t                      max_limit;
    ngx_str_t                       file;     /* the block with max_limit */
    ngx_uint_t                      line;
} ngx_http_lbguard_drain_cf_t;


static ngx_int_t ngx_http_lbguard_drain_log_handler(ngx_http_request_t *r);
static void ngx_http_lbguard_drain_pending(ngx_event_t *ev);
static void ngx_http_lbguard_drain_poll(ngx_event_t *ev);
static void ngx_http_lbguard_drain_keepalive(ngx_event_t *rev);
static void ngx_http_lbguard_drain_shutdown(void);
static void ngx_http_lbguard_drain_end(ngx_connection_t *c,
    ngx_http_lbguard_drain_slot_t *s, ngx_event_t *rev);
static u_char *ngx_http_lbguard_drain_time(u_char *buf, ngx_msec_t ms);


extern ngx_module_t  ngx_http_lbguard_filter_module;

static ngx_http_lbguard_drain_worker_t  ngx_http_lbguard_drain_w;
static ngx_http_lbguard_drain_cf_t      ngx_http_lbguard_drain_cf;
static size_t                           ngx_http_lbguard_drain_offset;

#define NGX_HTTP_LBGUARD_TIME_LEN  (NGX_TIME_T_LEN + sizeof(".000s"))


/* configuration */


void
ngx_http_lbguard_drain_create(ngx_http_lbguard_drain_conf_t *conf)
{
    conf->flag = NGX_CONF_UNSET;
    conf->effective = NGX_HTTP_LBGUARD_DRAIN_OFF;
    conf->limit = 0;
}


void
ngx_http_lbguard_drain_merge(ngx_conf_t *cf,
    ngx_http_lbguard_drain_conf_t *prev, ngx_http_lbguard_drain_conf_t *conf,
    ngx_uint_t mode, ngx_msec_t lb_idle_timeout, ngx_msec_t margin,
    ngx_str_t *file, ngx_uint_t line)
{
    ngx_http_lbguard_drain_cf_t  *dcf;
#if (nginx_version >= 1027004)
    u_char                       *p;
    ngx_http_conf_ctx_t          *ctx;
    ngx_http_core_loc_conf_t     *clcf;
    u_char                        a[NGX_HTTP_LBGUARD_TIME_LEN];
    u_char                        b[NGX_HTTP_LBGUARD_TIME_LEN];
#endif

    dcf = &ngx_http_lbguard_drain_cf;

    if (dcf->cycle != cf->cycle) {
        ngx_memzero(dcf, sizeof(ngx_http_lbguard_drain_cf_t));
        dcf->cycle = cf->cycle;
    }

    if (conf->flag == NGX_CONF_UNSET) {
        conf->flag = prev->flag;
    }

    if (conf->flag == 1) {
        conf->effective = NGX_HTTP_LBGUARD_DRAIN_ON;

    } else if (conf->flag == 0 || lb_idle_timeout == 0) {
        conf->effective = NGX_HTTP_LBGUARD_DRAIN_OFF;

    } else if (mode == LBG_MODE_REPAIR) {
        conf->effective = NGX_HTTP_LBGUARD_DRAIN_ON;

    } else if (mode == LBG_MODE_DETECT) {
        conf->effective = NGX_HTTP_LBGUARD_DRAIN_REPORT;

    } else {
        conf->effective = NGX_HTTP_LBGUARD_DRAIN_OFF;
    }

    conf->limit = lb_idle_timeout ? lb_idle_timeout + margin : 0;

    if (conf->effective == NGX_HTTP_LBGUARD_DRAIN_OFF) {
        return;
    }

    dcf->any = 1;

    if (conf->effective == NGX_HTTP_LBGUARD_DRAIN_ON
        && conf->limit > dcf->max_limit)
    {
        dcf->max_limit = conf->limit;
        dcf->file = *file;
        dcf->line = line;
    }

#if (nginx_version >= 1027004)

    /*
     * keepalive_min_timeout (1.27.4) keeps a connection out of the
     * shutdown close for its first N ms only: with the drain off, what is
     * idle longer is closed at reload.
     */

    ctx = cf->ctx;
    clcf = ctx->loc_conf[ngx_http_core_module.ctx_index];

    if (conf->limit && clcf->keepalive_min_timeout
        && clcf->keepalive_min_timeout < conf->limit
        && conf->effective == NGX_HTTP_LBGUARD_DRAIN_REPORT
        && prev->effective != conf->effective)
    {
        p = ngx_http_lbguard_drain_time(a, clcf->keepalive_min_timeout);
        *p = '\0';
        p = ngx_http_lbguard_drain_time(b, conf->limit);
        *p = '\0';

        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "lbguard: drain: keepalive_min_timeout %s in the block "
                      "at %V:%ui is shorter than the load balancer idle "
                      "timeout + margin %s: connections idle longer are "
                      "closed at reload (lbguard_drain on keeps them)",
                      a, file, line, b);
    }

#endif
}


ngx_int_t
ngx_http_lbguard_drain_init(ngx_conf_t *cf, size_t offset)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_http_lbguard_drain_offset = offset;

    if (ngx_http_lbguard_drain_cf.cycle != cf->cycle
        || !ngx_http_lbguard_drain_cf.any)
    {
        return NGX_OK;         /* no block drains: no per-request cost */
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_lbguard_drain_log_handler;

    return NGX_OK;
}


/*
 * Under nginx -t too: worker_shutdown_timeout closes every connection an
 * old worker still has when it fires (ngx_shutdown_timer_handler(),
 * src/core/ngx_cycle.c 1.22.1:1441): shorter than the load balancer's idle
 * timeout + margin, it brings the 502s back.
 */

ngx_int_t
ngx_http_lbguard_drain_init_module(ngx_cycle_t *cycle)
{
    u_char                       *p;
    ngx_core_conf_t              *ccf;
    ngx_http_lbguard_drain_cf_t  *dcf;
    u_char                        a[NGX_HTTP_LBGUARD_TIME_LEN];
    u_char                        b[NGX_HTTP_LBGUARD_TIME_LEN];

    dcf = &ngx_http_lbguard_drain_cf;

    if (dcf->cycle != cycle || dcf->max_limit == 0) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (ccf->shutdown_timeout == 0
        || ccf->shutdown_timeout == NGX_CONF_UNSET_MSEC
        || ccf->shutdown_timeout >= dcf->max_limit)
    {
        return NGX_OK;
    }

    p = ngx_http_lbguard_drain_time(a, ccf->shutdown_timeout);
    *p = '\0';
    p = ngx_http_lbguard_drain_time(b, dcf->max_limit);
    *p = '\0';

    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "lbguard: drain: worker_shutdown_timeout %s is shorter than "
                  "the load balancer idle timeout + margin %s of the block "
                  "at %V:%ui: when it fires, an old worker closes the "
                  "keep-alive connections it still keeps and a load "
                  "balancer request on one of them gets a reset (502); "
                  "remove worker_shutdown_timeout or set it to %s or more",
                  a, b, &dcf->file, dcf->line, b);

    return NGX_OK;
}


ngx_int_t
ngx_http_lbguard_drain_init_process(ngx_cycle_t *cycle)
{
    ngx_http_lbguard_drain_worker_t  *w;

    w = &ngx_http_lbguard_drain_w;

    ngx_memzero(w, sizeof(ngx_http_lbguard_drain_worker_t));

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    w->n = cycle->connection_n;

    w->slots = ngx_pcalloc(cycle->pool,
                           w->n * sizeof(ngx_http_lbguard_drain_slot_t));
    w->pending = ngx_palloc(cycle->pool, w->n * sizeof(ngx_uint_t));

    if (w->slots == NULL || w->pending == NULL) {
        w->slots = NULL;
        return NGX_OK;          /* no drain in this worker; logged by the pool */
    }

    w->ev.handler = ngx_http_lbguard_drain_pending;
    w->ev.log = cycle->log;
    w->ev.data = w;

    w->poll.handler = ngx_http_lbguard_drain_poll;
    w->poll.log = cycle->log;
    w->poll.data = w;
    w->poll.cancelable = 1;     /* never keeps an exiting worker alive */

    return NGX_OK;
}


void
ngx_http_lbguard_drain_exit_process(ngx_cycle_t *cycle)
{
    u_char                           *p;
    ngx_http_lbguard_drain_worker_t  *w;
    u_char                            t[NGX_HTTP_LBGUARD_TIME_LEN];

    w = &ngx_http_lbguard_drain_w;

    if (!w->shutdown || (w->kept == 0 && w->closing == 0)) {
        return;
    }

    p = ngx_http_lbguard_drain_time(t, ngx_current_msec - w->start);
    *p = '\0';

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "lbguard: drain: worker exiting %s after shutdown began; "
                  "%ui kept connections: %ui answered a request with "
                  "\"Connection: close\", %ui closed by the client, "
                  "%ui reset by the client, %ui reached the idle limit, "
                  "%ui closed by worker_shutdown_timeout; %ui idle "
                  "connections closed by nginx (lbguard_drain off)",
                  t, w->kept, w->ended[NGX_HTTP_LBGUARD_END_REQUEST],
                  w->ended[NGX_HTTP_LBGUARD_END_CLOSED],
                  w->ended[NGX_HTTP_LBGUARD_END_RESET],
                  w->ended[NGX_HTTP_LBGUARD_END_IDLE],
                  w->ended[NGX_HTTP_LBGUARD_END_SHUTDOWN],
                  w->ended[NGX_HTTP_LBGUARD_END_NGINX]);
}


/* requests */


/*
 * NGX_HTTP_LOG_PHASE, i.e. from ngx_http_free_request(): before
 * ngx_http_set_keepalive() sets c->idle, or before the connection is
 * closed. r->keepalive cannot tell which (set_keepalive zeroes it first):
 * the posted event looks at c->idle once set_keepalive is done.
 */

static ngx_int_t
ngx_http_lbguard_drain_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                        i;
    ngx_connection_t                 *c;
    ngx_http_lbguard_drain_conf_t    *dc;
    ngx_http_lbguard_drain_slot_t    *s;
    ngx_http_lbguard_drain_worker_t  *w;

    w = &ngx_http_lbguard_drain_w;
    c = r->connection;

    if (w->slots == NULL
        || ngx_exiting
        || r != r->main
        || r->http_version < NGX_HTTP_VERSION_10
        || r->http_version >= NGX_HTTP_VERSION_20
        || c < ngx_cycle->connections
        || c >= ngx_cycle->connections + w->n)
    {
        return NGX_OK;
    }

    dc = (ngx_http_lbguard_drain_conf_t *)
             ((u_char *) ngx_http_get_module_loc_conf(r,
                             ngx_http_lbguard_filter_module)
              + ngx_http_lbguard_drain_offset);

    if (dc->effective == NGX_HTTP_LBGUARD_DRAIN_OFF) {
        return NGX_OK;
    }

    i = c - ngx_cycle->connections;
    s = &w->slots[i];

    s->number = c->number;
    s->limit = dc->limit;
    s->on = (dc->effective == NGX_HTTP_LBGUARD_DRAIN_ON);
    s->kept = 0;

    if (!s->queued) {
        s->queued = 1;
        w->pending[w->npending++] = i;
    }

    if (!w->ev.posted) {
        ngx_post_event(&w->ev, &ngx_posted_events);
    }

    return NGX_OK;
}


/* posted: ngx_http_set_keepalive() of the queued connections has returned */

static void
ngx_http_lbguard_drain_pending(ngx_event_t *ev)
{
    ngx_uint_t                        i;
    ngx_connection_t                 *c;
    ngx_http_lbguard_drain_slot_t    *s;
    ngx_http_lbguard_drain_worker_t  *w;

    w = ev->data;

    for (i = 0; i < w->npending; i++) {
        s = &w->slots[w->pending[i]];
        c = &ngx_cycle->connections[w->pending[i]];

        s->queued = 0;

        if (c->fd == (ngx_socket_t) -1
            || c->number != s->number
            || c->close
            || c->read == NULL
            || c->log == NULL
            || c->log->action == NULL
            || ngx_strcmp(c->log->action, "keepalive") != 0)
        {
            continue;   /* closed, reused, or not waiting in keep-alive */
        }

        /*
         * ngx_http_set_keepalive() has just set c->log->action to
         * "keepalive" and c->read->handler to ngx_http_keepalive_handler
         * (c->idle too, unless mainline's keepalive_min_timeout is set).
         */

        if (w->keepalive_handler == NULL) {
            w->keepalive_handler = c->read->handler;
        }

        if (c->read->handler != w->keepalive_handler
            && c->read->handler != ngx_http_lbguard_drain_keepalive)
        {
            continue;
        }

        c->read->handler = ngx_http_lbguard_drain_keepalive;
        s->since = ngx_current_msec;

        if (s->on) {
            c->idle = 0;        /* ngx_close_idle_connections() skips it */
        }

        if (!w->poll.timer_set) {
            ngx_add_timer(&w->poll, NGX_HTTP_LBGUARD_DRAIN_POLL);
        }
    }

    w->npending = 0;
}


/* sees the quit when no kept connection has an event */

static void
ngx_http_lbguard_drain_poll(ngx_event_t *ev)
{
    ngx_http_lbguard_drain_worker_t  *w;

    w = ev->data;

    if (ngx_exiting) {
        if (!w->shutdown) {
            ngx_http_lbguard_drain_shutdown();
        }

        return;
    }

    ngx_add_timer(ev, NGX_HTTP_LBGUARD_DRAIN_POLL);
}


/* the read handler of a connection waiting in keep-alive */

static void
ngx_http_lbguard_drain_keepalive(ngx_event_t *rev)
{
    ngx_connection_t                 *c;
    ngx_atomic_uint_t                 number;
    ngx_http_lbguard_drain_slot_t    *s;
    ngx_http_lbguard_drain_worker_t  *w;

    w = &ngx_http_lbguard_drain_w;
    c = rev->data;
    number = c->number;
    s = &w->slots[c - ngx_cycle->connections];

    if (ngx_exiting) {
        if (!w->shutdown) {
            ngx_http_lbguard_drain_shutdown();
        }

        if (s->kept && s->number == number) {

            if (rev->timedout && s->on && s->limit
                && (ngx_msec_int_t) (s->since + s->limit - ngx_current_msec)
                   > 0)
            {
                /* a timer of before the shutdown (keepalive_min_timeout):
                 * wait on until the idle limit */
                rev->timedout = 0;
                ngx_add_timer(rev, s->since + s->limit - ngx_current_msec);
                return;
            }

            ngx_http_lbguard_drain_end(c, s, rev);
        }
    }

    w->keepalive_handler(rev);

    /*
     * mainline: after keepalive_min_timeout the keep-alive handler sets
     * c->idle itself and waits on.
     */

    if (s->on
        && c->fd != (ngx_socket_t) -1
        && c->number == number
        && c->read->handler == ngx_http_lbguard_drain_keepalive)
    {
        c->idle = 0;
    }
}


/*
 * The first look after the quit: every connection still waiting in
 * keep-alive through the wrapper was kept at shutdown (on) or is being
 * closed by nginx now (report). A kept connection whose idle limit comes
 * before its keep-alive timer gets its timer shortened to that limit.
 */

static void
ngx_http_lbguard_drain_shutdown(void)
{
    u_char                           *p;
    ngx_uint_t                        i;
    ngx_msec_t                        deadline, max;
    ngx_msec_int_t                    left;
    ngx_connection_t                 *c;
    ngx_http_lbguard_drain_slot_t    *s;
    ngx_http_lbguard_drain_worker_t  *w;
    u_char                            t[NGX_HTTP_LBGUARD_TIME_LEN];

    w = &ngx_http_lbguard_drain_w;

    w->shutdown = 1;
    w->start = ngx_current_msec;
    max = 0;

    for (i = 0; i < w->n; i++) {
        s = &w->slots[i];
        c = &ngx_cycle->connections[i];

        if (s->number == 0
            || c->fd == (ngx_socket_t) -1
            || c->number != s->number
            || c->read == NULL
            || c->read->handler != ngx_http_lbguard_drain_keepalive)
        {
            s->kept = 0;
            continue;
        }

        s->kept = 1;

        if (!s->on) {
            w->closing++;
            continue;
        }

        w->kept++;

        if (s->limit == 0) {
            continue;
        }

        /*
         * the read timer now ends the wait at the idle limit: shorter
         * when keepalive_timeout is longer, and later than mainline's
         * keepalive_min_timeout, whose expiry closes the connection of an
         * exiting worker
         */

        deadline = s->since + s->limit;
        left = (ngx_msec_int_t) (deadline - ngx_current_msec);

        if (left < 1) {
            left = 1;
        }

        ngx_add_timer(c->read, (ngx_msec_t) left);

        if (s->limit > max) {
            max = s->limit;
        }
    }

    if (w->kept) {
        p = ngx_http_lbguard_drain_time(t, max);
        *p = '\0';

        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "lbguard: drain: worker shutting down, %ui idle "
                      "keep-alive connections kept until the client's next "
                      "request (answered with \"Connection: close\"), its "
                      "close, or %s idle", w->kept,
                      max ? (char *) t : "keepalive_timeout");
    }

    if (w->closing) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "lbguard: drain: worker shutting down, nginx closes "
                      "%ui idle keep-alive connections now: a load balancer "
                      "request sent on one of them gets a reset (502); "
                      "lbguard_drain on keeps them (detect mode)",
                      w->closing);
    }
}


/* a kept connection ends: how, logged at info (the summary at exit) */

static void
ngx_http_lbguard_drain_end(ngx_connection_t *c,
    ngx_http_lbguard_drain_slot_t *s, ngx_event_t *rev)
{
    u_char                            b, *p;
    ssize_t                           n;
    ngx_err_t                         err;
    ngx_uint_t                        how, level;
    const char                       *text;
    ngx_http_lbguard_drain_worker_t  *w;
    u_char                            t[NGX_HTTP_LBGUARD_TIME_LEN];

    w = &ngx_http_lbguard_drain_w;
    level = NGX_LOG_INFO;

    if (rev->timedout) {
        how = NGX_HTTP_LBGUARD_END_IDLE;
        text = "closed: idle limit reached (load balancer idle timeout "
               "+ margin, or keepalive_timeout)";

    } else if (c->close && c->error) {
        how = NGX_HTTP_LBGUARD_END_SHUTDOWN;
        level = NGX_LOG_WARN;
        text = "closed by worker_shutdown_timeout: a load balancer request "
               "sent on it gets a reset (502)";

    } else if (c->close) {
        how = NGX_HTTP_LBGUARD_END_NGINX;
        text = "closed by nginx at shutdown: a load balancer request sent "
               "on it gets a reset (502)";

    } else {
        n = recv(c->fd, (char *) &b, 1, MSG_PEEK);
        err = ngx_socket_errno;

        if (n > 0) {
            how = NGX_HTTP_LBGUARD_END_REQUEST;
            text = "request received, answered with \"Connection: close\"";

        } else if (n == 0) {
            how = NGX_HTTP_LBGUARD_END_CLOSED;
            text = "closed by the client";

        } else if (err == NGX_EAGAIN || err == NGX_EINTR) {
            return;             /* nothing happened yet */

        } else {
            how = NGX_HTTP_LBGUARD_END_RESET;
            text = "reset by the client";
        }
    }

    s->kept = 0;
    w->ended[how]++;
    ngx_http_lbguard_status_drain(ngx_http_lbguard_drain_outcome[how]);

    p = ngx_http_lbguard_drain_time(t, ngx_current_msec - s->since);
    *p = '\0';

    ngx_log_error(level, c->log, 0, "lbguard: drain: %s connection: %s, "
                  "after %s idle", s->on ? "kept" : "idle keep-alive",
                  text, t);
}


/* ms as "4s" or "1.250s" */

static u_char *
ngx_http_lbguard_drain_time(u_char *buf, ngx_msec_t ms)
{
    if (ms % 1000 == 0) {
        return ngx_sprintf(buf, "%Ms", ms / 1000);
    }

    return ngx_sprintf(buf, "%M.%03Ms", ms / 1000, ms % 1000);
}
