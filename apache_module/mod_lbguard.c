/*
 * mod_lbguard -- lbguard for Apache httpd 2.4: checks (and in Repair mode
 * repairs) each HTTP/1.x response before Apache serialises it, guards the
 * body against a handler's Content-Length, and keeps every server's
 * KeepAliveTimeout longer than the load balancer's idle timeout.
 *
 * This file is a thin adapter: it turns request_rec into the core's
 * lbg_response_t view, runs lbg_check(), logs the core's findings, and
 * applies the core's edits to r->headers_out / r->err_headers_out. Which
 * defects exist, what is repaired and the log wording all come from
 * common/lbg.h.
 *
 * Directives (docs/apache.md):
 *   LBGuard Off|Detect|Repair                       server, directory
 *   LBGuardProfile strictest|haproxy|nginx|nginx-1.22|envoy|llhttp|aws-alb
 *                                                   server, directory
 *   LBGuardHeaderBudget <bytes> [<fields>]          server, directory
 *   LBGuardLBIdleTimeout <seconds>|aws-alb|aws-clb|gcp|oci   server
 *   LBGuardKeepAliveMargin <seconds>                server
 *
 * Filters:
 *   LBGUARD       AP_FTYPE_PROTOCOL - 1: runs before HTTP_HEADER, so a
 *                 repaired field reaches check_headers() already repaired
 *                 (otherwise Apache answers 500 for the whole response).
 *   LBGUARD_BODY  AP_FTYPE_PROTOCOL + 1: runs after HTTP_HEADER, sees the
 *                 Content-Length exactly as sent and the body bytes that
 *                 follow it (before CHUNK, which only runs without one).
 *
 * A 101 in Repair mode does not reach HTTP_HEADER (which would chunk what
 * follows it): LBGUARD sends its header section and hands the request's
 * output to the connection (lbguard_switch). No body guard for a 101 or a
 * 2xx to CONNECT (lbg_tunnel).
 */

#include "httpd.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include <stddef.h>

#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_tables.h"

#include "lbg_cstr.h"
#include "lbg_quick.h"

/* ------------------------------------------------------------------------ */
/* Counters and drain: declarations (their sections are at the end)         */
/* ------------------------------------------------------------------------ */

/*
 * The counters (issue 13; section "Counters" at the end of this file):
 * one anonymous apr_shm segment made on the parent's process pool (it
 * survives graceful restarts and the module's unload at every restart),
 * the status zones (LBGuardStatusZone <name>), and the Prometheus handler
 * (SetHandler lbguard-status). The configuration keeps an
 * lbguard_status_srv per server and the filters call the counting
 * functions below where they act.
 */

#include "apr_atomic.h"

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
static const char *lbguard_status_set_zone(cmd_parms *cmd,
                                           lbguard_status_srv *st,
                                           const char *arg);

/* Merges a virtual host's status settings over the main server's. */
static void lbguard_status_merge(const lbguard_status_srv *base,
                          const lbguard_status_srv *add,
                          lbguard_status_srv *conf);

/* post_config (the serving pass only): finds or makes the segment, gives
 * every server its zone's counters (st_of(s) returns a server's
 * lbguard_status_srv) and starts this generation's keep-alive gauges.
 * Returns OK or HTTP_INTERNAL_SERVER_ERROR (logged). */
static int lbguard_status_post_config(apr_pool_t *pconf, server_rec *s,
                               lbguard_status_srv *(*st_of)(server_rec *));

/* Records one server's keep-alive verdict at configuration load. */
static void lbguard_status_keepalive(const lbguard_status_srv *st,
                              lbg_ka_metric_e verdict);

/* The handler for "SetHandler lbguard-status" (ap_hook_handler). */
static int lbguard_status_handler(request_rec *r);

/* Counts the findings of `rep` as acted upon in `mode`. */
static void lbguard_status_report(const lbguard_status_srv *st,
                           const lbg_report_t *rep, lbg_mode_e mode);

/* Counts one drain event (the drain section: a keep-alive connection the
 * MPM closed early) into the segment's drain counters, all zones: one
 * atomic add. Nothing before post_config has made the segment. */
static void lbguard_status_drain(lbg_drain_outcome_e outcome);

/* Adds v to counter `slot` of the server's zone: one atomic add. */
static APR_INLINE void
lbguard_status_add(const lbguard_status_srv *st, size_t slot, apr_uint64_t v)
{
    if (st->counters != NULL) {
        apr_atomic_add64(&((volatile apr_uint64_t *) st->counters)[slot], v);
    }
}

/*
 * lbguard for Apache httpd 2.4: the keep-alive connections the event MPM
 * closes early (graceful restart, child retirement, busy workers), and the
 * MPM settings that make it do so (section "Drain" at the end of this
 * file).
 */

/* "LBGuardDrain On|Off" (server config only: the MPM's kills are per
 * child, not per virtual host). Unset: a server with LBGuard Repair and
 * LBGuardLBIdleTimeout keeps its idle keep-alive connections across a
 * stopping child (CONN_STATE_ASYNC_WAITIO, httpd 2.4.63+; closed at their
 * KeepAliveTimeout while the child runs, at LB idle + margin once it
 * stops), one with Detect reports the ones the MPM closes early. On: every
 * server keeps them. Off: none is kept; Detect|Repair servers with
 * LBGuardLBIdleTimeout still report. */
static const char *lbguard_drain_set(cmd_parms *cmd, void *dummy, int on);

/* post_config / test_config: called once per server_rec with its merged
 * LBGuard mode (lbg_mode_e), LB idle timeout and margin in ms (-1: unset)
 * -- where its connections are kept, a Timeout shorter than LB idle +
 * margin is raised (Repair) or warned about (KeepAlive On only) --,
 * then lbguard_drain_check() once. Both log only when `log`. */
static void lbguard_drain_server(server_rec *s, int mode,
                                 apr_int64_t lb_idle_ms, apr_int64_t margin_ms,
                                 int log);
static void lbguard_drain_check(apr_pool_t *p, server_rec *main_server,
                                int log);

/* pre_config, process_connection, log_transaction, pre_close_connection,
 * child_init (the drain thread), child_stopping */
static void lbguard_drain_register_hooks(apr_pool_t *p);

module AP_MODULE_DECLARE_DATA lbguard_module;

/* The two filters' handles (ap_register_output_filter): adding a filter by
 * handle skips the lookup by name on every request. */
static ap_filter_rec_t *lbguard_filter_handle;
static ap_filter_rec_t *lbguard_body_filter_handle;

/* LBGUARD's f->ctx once a clean response has passed with its EOS: any
 * later brigade passes unchanged (lbguard_header_filter) */
static char lbguard_passed;

/* The protocol filters http_create_request() (modules/http/http_core.c)
 * puts on every main request between LBGUARD and LBGUARD_BODY: BYTERANGE,
 * CONTENT_LENGTH, HTTP_HEADER, HTTP_OUTERROR (looked up at post_config;
 * NULL when absent). See lbguard_body_known(). */
#define LBGUARD_HTTP_FILTERS 4
static ap_filter_rec_t *lbguard_http_filters[LBGUARD_HTTP_FILTERS];

#define LBGUARD_UNSET      (-1)
/* lbguard_arm_body()'s errcl: err_headers_out not looked at yet */
#define LBGUARD_CL_UNKNOWN (-2)
#define LBGUARD_NOTE       "lbguard-findings"
#define LBGUARD_LOG_MAX    512
#define LBGUARD_SUMMARY_MAX 1024
/* Largest accepted number of seconds (timeouts, margin): one week. */
#define LBGUARD_MAX_SECONDS 604800

/* Where a view field comes from (low 2 bits of lbg_field_t.origin; the
 * table index is origin >> 2). */
#define LBGUARD_FROM_ERR_HEADERS 0
#define LBGUARD_FROM_HEADERS     1
#define LBGUARD_FROM_CTYPE       2

/* Per-directory (and per-server default) settings. */
typedef struct {
    int         mode;         /* lbg_mode_e, or UNSET */
    int         profile;      /* lbg_profile_e, or UNSET */
    apr_int64_t header_bytes; /* whole header section budget, or UNSET */
    apr_int64_t max_fields;   /* number of field lines budget, or UNSET */
    lbg_policy_t policy;      /* the above, for the core (when ready) */
    int          ready;       /* policy is set: by merge or post_config */
} lbguard_dir_conf;

/* Per-server settings (keep-alive policy). */
typedef struct {
    apr_int64_t lb_idle_ms; /* LB idle timeout in ms, or UNSET */
    apr_int64_t margin_ms;  /* margin in ms, or UNSET */
    const ap_directive_t *section_mode; /* the first "LBGuard Detect|Repair"
                                           inside a <Location>, <Directory>,
                                           <Files> or <If> of this server
                                           (or of the main server, whose
                                           sections apply to every virtual
                                           host), or NULL: the keep-alive
                                           check follows the server level */
    lbguard_status_srv status; /* counters (issue 13) */
} lbguard_srv_conf;

/* One response's check, shared by both filters (r->pool). */
typedef struct {
    lbg_policy_t  policy;
    lbg_report_t  rep;
    lbg_finding_t findings[LBG_FINDINGS_MAX];
    lbg_edit_t    edits[LBG_EDITS_MAX];
    unsigned      no_body : 1;
    unsigned      bad_gateway : 1; /* the target's own 502 replaces the
                                      response (issue 9) */
} lbguard_ctx;

/* The body guard's state (r->pool). hctx is NULL until a finding needs
 * a report (a clean response has no lbguard_ctx). */
typedef struct {
    lbguard_ctx *hctx;
    lbg_policy_t policy;
    const char  *cl_key;  /* headers_out's Content-Length key, at arming */
    lbg_body_t   body;
    request_rec *r;       /* for lbguard_body_cleanup() */
    unsigned     started : 1; /* the header section has passed */
    unsigned     pending : 1; /* a body-longer finding is recorded, its
                                 line waits for the EOS (the body's whole
                                 length) or r->pool's cleanup ("at
                                 least": the request ended first) */
} lbguard_body_ctx;


/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

static void lbguard_policy(const lbguard_dir_conf *conf, lbg_policy_t *p);

static void *lbguard_create_dir_conf(apr_pool_t *p, char *dir)
{
    lbguard_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void) dir;
    conf->mode = LBGUARD_UNSET;
    conf->profile = LBGUARD_UNSET;
    conf->header_bytes = LBGUARD_UNSET;
    conf->max_fields = LBGUARD_UNSET;
    return conf;
}

static void *lbguard_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    lbguard_dir_conf *base = basev, *add = addv;
    lbguard_dir_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->mode = (add->mode != LBGUARD_UNSET) ? add->mode : base->mode;
    conf->profile = (add->profile != LBGUARD_UNSET) ? add->profile
                                                     : base->profile;
    conf->header_bytes = (add->header_bytes != LBGUARD_UNSET)
                         ? add->header_bytes : base->header_bytes;
    conf->max_fields = (add->max_fields != LBGUARD_UNSET)
                       ? add->max_fields : base->max_fields;
    lbguard_policy(conf, &conf->policy);
    conf->ready = 1;
    return conf;
}

static void *lbguard_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    lbguard_srv_conf *conf = apr_pcalloc(p, sizeof(*conf));

    (void) s;
    conf->lb_idle_ms = LBGUARD_UNSET;
    conf->margin_ms = LBGUARD_UNSET;
    return conf;
}

static void *lbguard_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    lbguard_srv_conf *base = basev, *add = addv;
    lbguard_srv_conf *conf = apr_pcalloc(p, sizeof(*conf));

    conf->lb_idle_ms = (add->lb_idle_ms != LBGUARD_UNSET) ? add->lb_idle_ms
                                                           : base->lb_idle_ms;
    conf->margin_ms = (add->margin_ms != LBGUARD_UNSET) ? add->margin_ms
                                                         : base->margin_ms;
    conf->section_mode = add->section_mode != NULL ? add->section_mode
                                                   : base->section_mode;
    lbguard_status_merge(&base->status, &add->status, &conf->status);
    return conf;
}

/* Parses a whole decimal number in [min, max]; returns NULL or an error. */
static const char *lbguard_parse_number(const char *arg, apr_int64_t min,
                                        apr_int64_t max, apr_int64_t *out)
{
    char        *end;
    apr_int64_t  n;

    if (!apr_isdigit(*arg)) {
        return "is not a number";
    }
    errno = 0;
    n = apr_strtoi64(arg, &end, 10);
    if (*end != '\0' || errno != 0) {
        return "is not a number";
    }
    if (n < min || n > max) {
        return "is out of range";
    }
    *out = n;
    return NULL;
}

static const char *lbguard_set_mode(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    lbguard_dir_conf *conf = dconf;
    lbg_mode_e        mode;

    if (lbg_mode_parse(arg, strlen(arg), &mode) != 0) {
        return apr_psprintf(cmd->temp_pool, "%s: '%s' is not Off, Detect "
                            "or Repair", cmd->cmd->name, arg);
    }
    conf->mode = mode;
    if (cmd->path != NULL && mode != LBG_MODE_OFF) {
        /* in a section: the keep-alive check is per server, remember it
         * for the warning (lbguard_keepalive) */
        lbguard_srv_conf *sconf = ap_get_module_config(
            cmd->server->module_config, &lbguard_module);

        if (sconf->section_mode == NULL) {
            sconf->section_mode = cmd->directive;
        }
    }
    return NULL;
}

static const char *lbguard_set_profile(cmd_parms *cmd, void *dconf,
                                       const char *arg)
{
    lbguard_dir_conf *conf = dconf;
    lbg_profile_e     profile;
    char              list[256];

    if (lbg_profile_parse(arg, strlen(arg), &profile) != 0) {
        lbg_profile_list(list, sizeof(list), "", ", ", ", ");
        return apr_psprintf(cmd->temp_pool, "%s: '%s' is not one of %s",
                            cmd->cmd->name, arg, list);
    }
    conf->profile = profile;
    return NULL;
}

static const char *lbguard_set_budget(cmd_parms *cmd, void *dconf,
                                      const char *bytes, const char *fields)
{
    lbguard_dir_conf *conf = dconf;
    const char       *err;

    err = lbguard_parse_number(bytes, 1, APR_INT32_MAX, &conf->header_bytes);
    if (err) {
        return apr_psprintf(cmd->temp_pool, "%s: bytes '%s' %s",
                            cmd->cmd->name, bytes, err);
    }
    if (fields) {
        err = lbguard_parse_number(fields, 0, APR_INT32_MAX,
                                   &conf->max_fields);
        if (err) {
            return apr_psprintf(cmd->temp_pool, "%s: fields '%s' %s",
                                cmd->cmd->name, fields, err);
        }
    }
    return NULL;
}

static const char *lbguard_set_idle(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    lbguard_srv_conf *conf = ap_get_module_config(cmd->server->module_config,
                                                  &lbguard_module);
    uint64_t          ms;
    apr_int64_t       sec;

    (void) dummy;
    if (lbg_lb_preset(arg, strlen(arg), &ms) == 0) {
        conf->lb_idle_ms = (apr_int64_t) ms;
        return NULL;
    }
    if (lbguard_parse_number(arg, 1, LBGUARD_MAX_SECONDS, &sec) != NULL) {
        return apr_psprintf(cmd->temp_pool, "%s: '%s' is neither a number "
                            "of seconds (1-%d) nor one of aws-alb, aws-clb, "
                            "gcp, oci", cmd->cmd->name, arg,
                            LBGUARD_MAX_SECONDS);
    }
    conf->lb_idle_ms = sec * 1000;
    return NULL;
}

static const char *lbguard_set_margin(cmd_parms *cmd, void *dummy,
                                      const char *arg)
{
    lbguard_srv_conf *conf = ap_get_module_config(cmd->server->module_config,
                                                  &lbguard_module);
    apr_int64_t       sec;

    (void) dummy;
    if (lbguard_parse_number(arg, 0, LBGUARD_MAX_SECONDS, &sec) != NULL) {
        return apr_psprintf(cmd->temp_pool, "%s: '%s' is not a number of "
                            "seconds (0-%d)", cmd->cmd->name, arg,
                            LBGUARD_MAX_SECONDS);
    }
    conf->margin_ms = sec * 1000;
    return NULL;
}

static const char *lbguard_set_zone(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    lbguard_srv_conf *conf = ap_get_module_config(cmd->server->module_config,
                                                  &lbguard_module);

    (void) dummy;
    return lbguard_status_set_zone(cmd, &conf->status, arg);
}

/* A server's status settings, for lbguard_status_post_config. */
static lbguard_status_srv *lbguard_status_of(server_rec *s)
{
    lbguard_srv_conf *conf = ap_get_module_config(s->module_config,
                                                  &lbguard_module);

    return &conf->status;
}

static const command_rec lbguard_cmds[] = {
    AP_INIT_TAKE1("LBGuard", lbguard_set_mode, NULL, RSRC_CONF | ACCESS_CONF,
                  "Off (default), Detect or Repair non-conformant responses"),
    AP_INIT_TAKE1("LBGuardProfile", lbguard_set_profile, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "The load balancer whose parser to satisfy: strictest "
                  "(default), haproxy, nginx, nginx-1.22, envoy, llhttp or "
                  "aws-alb"),
    AP_INIT_TAKE12("LBGuardHeaderBudget", lbguard_set_budget, NULL,
                   RSRC_CONF | ACCESS_CONF,
                   "Header section budget in bytes, optionally followed by "
                   "the maximum number of field lines (0: no limit)"),
    AP_INIT_TAKE1("LBGuardLBIdleTimeout", lbguard_set_idle, NULL, RSRC_CONF,
                  "The load balancer's idle timeout in seconds, or a preset: "
                  "aws-alb, aws-clb, gcp, oci"),
    AP_INIT_TAKE1("LBGuardKeepAliveMargin", lbguard_set_margin, NULL,
                  RSRC_CONF,
                  "Seconds KeepAliveTimeout must exceed the load balancer's "
                  "idle timeout by (default 5)"),
    AP_INIT_TAKE1("LBGuardStatusZone", lbguard_set_zone, NULL, RSRC_CONF,
                  "The server label of this virtual host's counters in "
                  "lbguard-status (default: default)"),
    AP_INIT_FLAG("LBGuardDrain", lbguard_drain_set, NULL, RSRC_CONF,
                 "On: idle keep-alive connections survive graceful "
                 "restarts (event MPM, httpd 2.4.63+; default with LBGuard "
                 "Repair and LBGuardLBIdleTimeout); Off: not kept, "
                 "reported (section Drain)"),
    {NULL, {NULL}, NULL, 0, 0, NULL}
};

/* Fills *p from a merged directory config. */
static void lbguard_policy(const lbguard_dir_conf *conf, lbg_policy_t *p)
{
    lbg_policy_init(p, conf->profile == LBGUARD_UNSET
                       ? LBG_PROFILE_STRICTEST : (lbg_profile_e) conf->profile);
    p->mode = conf->mode == LBGUARD_UNSET ? LBG_MODE_OFF
                                          : (lbg_mode_e) conf->mode;
    if (conf->header_bytes != LBGUARD_UNSET) {
        lbg_policy_header_budget(p, (size_t) conf->header_bytes);
    }
    if (conf->max_fields != LBGUARD_UNSET) {
        p->max_fields = (size_t) conf->max_fields;
    }
}


/* ------------------------------------------------------------------------ */
/* The response view and its repair                                        */
/* ------------------------------------------------------------------------ */

/*
 * Returns r->status_line when Apache will send it verbatim after
 * "HTTP/1.1 ", and its length in *lenp, else NULL: this mirrors
 * validate_status_line() in modules/http/http_filters.c, which replaces a
 * status line that does not start with r->status or holds control
 * characters by Apache's own.
 */
static const char *lbguard_status_line(request_rec *r, size_t *lenp)
{
    const char *sl = r->status_line;
    size_t      len;

    if (sl == NULL) {
        return NULL;
    }
    len = strlen(sl);
    if (len < 3 || !apr_isdigit(sl[0]) || !apr_isdigit(sl[1])
        || !apr_isdigit(sl[2])
        || (sl[0] - '0') * 100 + (sl[1] - '0') * 10 + (sl[2] - '0')
           != r->status
        || (len >= 4 && !apr_isspace(sl[3]))) {
        return NULL;
    }
    if (len > 4 && *ap_scan_http_field_content(sl + 4)) {
        return NULL;
    }
    *lenp = len;
    return sl;
}

/* Appends the entries arr of a table to fields[]; returns the new count.
 * Entries named Content-Type are left out when r->content_type replaces
 * them. Sets *cl to the first Content-Length entry's index when cl is not
 * NULL and *cl is -1 (what apr_table_get would find). The length test
 * comes first: only a 12- or 14-byte name is compared, the usual spelling
 * with memcmp before the case-insensitive compare. */
static size_t lbguard_view_table(request_rec *r,
                                 const apr_array_header_t *arr,
                                 unsigned which, lbg_field_t *fields,
                                 size_t n, int *cl)
{
    const apr_table_entry_t *e = (const apr_table_entry_t *) arr->elts;
    const char              *v;
    lbg_field_t             *fd;
    size_t                   len;
    int                      i;

    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key == NULL) {
            continue;
        }
        len = strlen(e[i].key);
        if (len == sizeof("Content-Type") - 1 && r->content_type
            && !ap_cstr_casecmp(e[i].key, "Content-Type")) {
            continue;
        }
        if (len == sizeof("Content-Length") - 1 && cl != NULL && *cl < 0
            && lbg_field_is_content_length((const unsigned char *) e[i].key,
                                           len)) {
            *cl = i;
        }
        v = e[i].val != NULL ? e[i].val : "";
        fd = &fields[n++];
        fd->name = (const unsigned char *) e[i].key;
        fd->name_len = len;
        fd->value = (const unsigned char *) v;
        fd->value_len = strlen(v);
        fd->origin = ((uintptr_t) i << 2) | which;
        fd->trusted = 0;
    }
    return n;
}

/* lbg_cstr_quick() reads an apr_table_entry_t as its name pointer, then
 * its value pointer: checked here, at compile time */
typedef char lbguard_entry_layout[
    (offsetof(apr_table_entry_t, key) == 0
     && offsetof(apr_table_entry_t, val) == sizeof(char *)) ? 1 : -1];

/* The core's quick pass over r as HTTP_HEADER will send it (the fields of
 * lbguard_view(), in its order): lbg_cstr_quick() on each table, one pass
 * over each name and value for both length and verdict, Content-Type
 * entries left out when r->content_type replaces them. Sets *cl as
 * lbguard_view() does, and *errcl to the index of err_headers_out's first
 * Content-Length (the entry lbguard_cl_index() finds), or -1. */
static void lbguard_quick(request_rec *r, lbg_quick_t *q, int *cl,
                          int *errcl)
{
    const apr_array_header_t *arr;
    const char               *skip = r->content_type != NULL
                                     ? "content-type" : NULL;
    size_t                    skip_len = skip != NULL
                                         ? sizeof("content-type") - 1 : 0;

    lbg_quick_init(q);
    *errcl = -1;
    arr = apr_table_elts(r->err_headers_out);
    if (arr->nelts > 0) {
        *errcl = (int) lbg_cstr_quick(q, arr->elts, sizeof(apr_table_entry_t),
                                      (size_t) arr->nelts, skip, skip_len);
    }
    /* then r->content_type, in the same call: a token of no framing
     * field as name */
    arr = apr_table_elts(r->headers_out);
    *cl = (int) lbg_cstr_quick_last(q, arr->elts, sizeof(apr_table_entry_t),
                                    (size_t) (arr->nelts > 0 ? arr->nelts : 0),
                                    skip, skip_len, "Content-Type",
                                    sizeof("Content-Type") - 1,
                                    r->content_type);
}

/* Builds the view of r as HTTP_HEADER will send it (err_headers_out first,
 * then headers_out, then Content-Type, as merge_response_headers() does),
 * with status line sl[0..sl_len) from lbguard_status_line() (or NULL).
 * Sets *cl to the index of headers_out's first Content-Length, or -1. */
static void lbguard_view(request_rec *r, lbg_response_t *view,
                         const char *sl, size_t sl_len, int *cl)
{
    const apr_array_header_t *err = apr_table_elts(r->err_headers_out);
    const apr_array_header_t *out = apr_table_elts(r->headers_out);
    lbg_field_t              *fields;
    size_t                    n = 0;

    fields = apr_palloc(r->pool, sizeof(lbg_field_t)
                        * (err->nelts + out->nelts + 1));
    *cl = -1;
    n = lbguard_view_table(r, err, LBGUARD_FROM_ERR_HEADERS, fields, n, NULL);
    n = lbguard_view_table(r, out, LBGUARD_FROM_HEADERS, fields, n, cl);
    if (r->content_type) {
        fields[n].name = (const unsigned char *) "Content-Type";
        fields[n].name_len = sizeof("Content-Type") - 1;
        fields[n].value = (const unsigned char *) r->content_type;
        fields[n].value_len = strlen(r->content_type);
        fields[n].origin = LBGUARD_FROM_CTYPE;
        fields[n].trusted = 0;
        n++;
    }

    memset(view, 0, sizeof(*view));
    view->version = 11; /* AP_SERVER_PROTOCOL */
    view->status = r->status;
    if (sl) {
        view->status_line = (const unsigned char *) sl;
        view->status_line_len = sl_len;
    }
    view->head = r->header_only ? 1 : 0;
    view->fields = fields;
    view->nfields = n;
}

/* Returns a pointer to the value slot of view field f in its table. */
static char **lbguard_value_slot(request_rec *r, const lbg_field_t *f)
{
    apr_table_t       *t;
    apr_table_entry_t *e;

    switch (f->origin & 3) {
    case LBGUARD_FROM_CTYPE:
        return (char **) &r->content_type;
    case LBGUARD_FROM_ERR_HEADERS:
        t = r->err_headers_out;
        break;
    default:
        t = r->headers_out;
        break;
    }
    e = (apr_table_entry_t *) apr_table_elts(t)->elts;
    return &e[f->origin >> 2].val;
}

/* Returns a copy of table t without the entries flagged in gone[], in the
 * same order (apr_table_unset would remove every entry of a name). */
static apr_table_t *lbguard_table_without(apr_pool_t *p, apr_table_t *t,
                                          const char *gone)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t  *e = (const apr_table_entry_t *) arr->elts;
    apr_table_t              *nt = apr_table_make(p, arr->nelts);
    int                       i;

    for (i = 0; i < arr->nelts; i++) {
        if (!gone[i] && e[i].key != NULL) {
            apr_table_addn(nt, e[i].key, e[i].val);
        }
    }
    return nt;
}

/* Applies the core's edits to r (Repair mode). */
static void lbguard_repair(request_rec *r, const lbg_response_t *view,
                           lbguard_ctx *ctx)
{
    char       *gone[2];
    int         removed[2] = {0, 0};
    size_t      i;
    unsigned    which;

    gone[0] = apr_pcalloc(r->pool, apr_table_elts(r->err_headers_out)->nelts
                                   + 1);
    gone[1] = apr_pcalloc(r->pool, apr_table_elts(r->headers_out)->nelts
                                   + 1);

    for (i = 0; i < ctx->rep.nedits; i++) {
        const lbg_edit_t  *ed = &ctx->rep.edits[i];
        const lbg_field_t *f = NULL;
        char              *v;

        if (ed->op == LBG_EDIT_REMOVE || ed->op == LBG_EDIT_SANITIZE
            || ed->op == LBG_EDIT_SET) {
            if (ed->field >= view->nfields) {
                continue;
            }
            f = &view->fields[ed->field];
        }

        switch (ed->op) {
        case LBG_EDIT_STATUS:
            r->status = ed->status;
            r->status_line = NULL;
            break;
        case LBG_EDIT_CLOSE:
            r->connection->keepalive = AP_CONN_CLOSE;
            break;
        case LBG_EDIT_NO_BODY:
            ctx->no_body = 1;
            break;
        case LBG_EDIT_BAD_GATEWAY:
            /* the target's own 502 (issue 9): none of the response's
             * fields, Apache's own Date, Server, Content-Length and
             * Connection, lbguard's body (lbguard_header_filter) */
            ctx->bad_gateway = 1;
            ctx->no_body = 1;
            break;
        case LBG_EDIT_SANITIZE:
            v = apr_pstrmemdup(r->pool, (const char *) f->value,
                               f->value_len);
            lbg_sanitize((const unsigned char *) v, f->value_len,
                         (unsigned char *) v);
            *lbguard_value_slot(r, f) = v;
            break;
        case LBG_EDIT_SET:
            *lbguard_value_slot(r, f) = apr_pstrmemdup(r->pool,
                                            (const char *) ed->value,
                                            ed->value_len);
            break;
        case LBG_EDIT_REMOVE:
            which = f->origin & 3;
            if (which == LBGUARD_FROM_CTYPE) {
                r->content_type = NULL;
            }
            else {
                gone[which][f->origin >> 2] = 1;
                removed[which] = 1;
            }
            break;
        }
    }

    if (ctx->bad_gateway) {
        r->status = HTTP_BAD_GATEWAY;
        r->status_line = NULL;
        apr_table_clear(r->headers_out);
        apr_table_clear(r->err_headers_out);
        ap_set_content_type(r, LBG_BAD_GATEWAY_TYPE);
        ap_set_content_length(r, sizeof(LBG_BAD_GATEWAY_BODY) - 1);
        r->connection->keepalive = AP_CONN_CLOSE;
        return;
    }
    if (removed[LBGUARD_FROM_ERR_HEADERS]) {
        r->err_headers_out = lbguard_table_without(r->pool, r->err_headers_out,
                                                   gone[0]);
    }
    if (removed[LBGUARD_FROM_HEADERS]) {
        r->headers_out = lbguard_table_without(r->pool, r->headers_out,
                                               gone[1]);
    }
}

/* Sets the lbguard-findings note from the report. Only a response with
 * findings sets it: ap_die()'s error page for the same request passes
 * LBGUARD again and must not overwrite the findings with "-" (a missing
 * note logs as "-" anyway). */
static void lbguard_note(request_rec *r, lbguard_ctx *ctx)
{
    char buf[LBGUARD_SUMMARY_MAX];

    lbg_report_summary(&ctx->rep, ctx->policy.mode, buf, sizeof(buf));
    apr_table_set(r->notes, LBGUARD_NOTE, buf);
}


/* ------------------------------------------------------------------------ */
/* Filters                                                                  */
/* ------------------------------------------------------------------------ */

/* Returns 1 when a brigade carries an EOC or error bucket: HTTP_HEADER then
 * sends no headers of this response (abort, or ap_die()'s error page,
 * which passes LBGUARD again through insert_error_filter). Sets *whole to
 * the body's length when bb is the whole body: data buckets of known
 * length and then an EOS, no other metadata before it; else to -1. */
static int lbguard_brigade_aborts(apr_bucket_brigade *bb, apr_off_t *whole)
{
    apr_bucket *e;
    apr_off_t   n = 0;

    *whole = -1;
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        if (!APR_BUCKET_IS_METADATA(e)) {
            n = e->length == (apr_size_t) -1 || n < 0
                ? -1 : n + (apr_off_t) e->length;
            continue;
        }
        if (AP_BUCKET_IS_EOC(e) || AP_BUCKET_IS_ERROR(e)) {
            return 1;
        }
        if (APR_BUCKET_IS_EOS(e)) {
            if (*whole < 0 && n >= 0) {
                *whole = n;
            }
        }
        n = -1; /* any metadata: nothing after it is "before the EOS" */
    }
    return 0;
}

/* Deletes every data bucket of bb (metadata such as EOS stays). */
static void lbguard_drop_data(apr_bucket_brigade *bb)
{
    apr_bucket *e, *next;

    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb); e = next) {
        next = APR_BUCKET_NEXT(e);
        if (!APR_BUCKET_IS_METADATA(e)) {
            apr_bucket_delete(e);
        }
    }
}

/* The index of the first entry of t that is the one with
 * key pointer `key` (NULL: none) or is a Content-Length (the core's
 * matcher, ASCII case-insensitive: what apr_table_get finds), or -1. */
static int lbguard_cl_index(apr_table_t *t, const char *key)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t  *e = (const apr_table_entry_t *) arr->elts;
    int                       i;

    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key != NULL
            && (e[i].key == key
                || lbg_field_is_content_length(
                       (const unsigned char *) e[i].key, strlen(e[i].key)))) {
            return i;
        }
    }
    return -1;
}

/*
 * 1 when the body guard would pass the body of r for certain, so that it
 * need not be added: the brigade LBGUARD passes on is the whole body
 * (whole >= 0 bytes: data of known length, then EOS; lbguard_brigade_
 * aborts()), the handler's Content-Length v says exactly that many bytes,
 * nothing has been counted as sent (r->bytes_sent), and the filters
 * between LBGUARD and the guard's place (every filter after `next` of a
 * type up to AP_FTYPE_PROTOCOL + 1) are only Apache's own four of
 * lbguard_http_filters (BYTERANGE only when the request has no Range
 * header: it then passes the body as it is).
 *
 * Why that is exactly as safe: those filters send the body they get, in
 * full, after a header section whose Content-Length is the handler's
 * (HTTP_HEADER), or the count of those very bytes (CONTENT_LENGTH sets it
 * to r->bytes_sent when it sees the EOS in the first brigade): either way
 * the guard would see exactly `whole` bytes against a Content-Length of
 * `whole`, and pass them (lbg_body_verdict LBG_BODY_PASS). A body that
 * comes in several brigades (a CGI, a proxy), one of unknown length (a
 * pipe), a Content-Length that differs, or any other filter in between
 * still gets the guard, which cuts what is past the Content-Length.
 */
static int lbguard_body_known(request_rec *r, ap_filter_t *next,
                              apr_off_t whole, const char *v, int errcl)
{
    ap_filter_t *n = next;
    apr_off_t    cl = 0;
    const char  *d;
    int          range = 0;

    if (whole < 0 || r->bytes_sent != 0
        /* HTTP_HEADER sends err_headers_out's Content-Length first: the
         * guard must hold the body to it ("Header always add") */
        || (errcl == LBGUARD_CL_UNKNOWN
            ? lbguard_cl_index(r->err_headers_out, NULL) : errcl) >= 0) {
        return 0;
    }
    /* v is 1*DIGIT of exactly the value whole (at most 18 digits: no
     * overflow), as lbg_content_length_parse() would read it */
    for (d = v; *d >= '0' && *d <= '9' && d - v < 18; d++) {
        cl = cl * 10 + (*d - '0');
    }
    if (d == v || *d != '\0' || cl != whole) {
        return 0;
    }
    /* in the order http_create_request() adds them, each at most once
     * (an absent one is NULL, which no frec is): then no filter of a type
     * up to AP_FTYPE_PROTOCOL + 1 */
    if (n != NULL && n->frec == lbguard_http_filters[0]) {
        range = 1; /* BYTERANGE */
        n = n->next;
    }
    if (n != NULL && n->frec == lbguard_http_filters[1]) {
        n = n->next;
    }
    if (n != NULL && n->frec == lbguard_http_filters[2]) {
        n = n->next;
    }
    if (n != NULL && n->frec == lbguard_http_filters[3]) {
        n = n->next;
    }
    if (n != NULL && n->frec->ftype <= AP_FTYPE_PROTOCOL + 1) {
        return 0;
    }
    return !range || apr_table_get(r->headers_in, "Range") == NULL;
}

/* Adds the body guard when the handler set a Content-Length (headers_out
 * entry cl >= 0, or err_headers_out entry errcl >= 0) and the response
 * may have a body: when Apache computes one (CONTENT_LENGTH filter) it is
 * right. errcl is the index of err_headers_out's first Content-Length
 * (lbg_cstr_quick()'s, which finds the one lbguard_cl_index() finds), -1
 * for none, or LBGUARD_CL_UNKNOWN: look it up. ctx is the header filter's
 * report, or NULL for a clean header section. With next (the filter after
 * LBGUARD) and whole (lbguard_brigade_aborts(), or -1), the guard is left
 * out where it would pass the body for certain (lbguard_body_known). */
static APR_INLINE void lbguard_arm_body(request_rec *r, lbguard_ctx *ctx,
                             const lbg_policy_t *policy, int cl, int errcl,
                             ap_filter_t *next, apr_off_t whole)
{
    lbguard_body_ctx *bctx;
    const char       *key;

    if (lbg_bodiless(r->status, r->header_only)
        || lbg_tunnel(r->status, r->method_number == M_CONNECT)) {
        return;
    }
    if (cl < 0) {
        /* a Content-Length in err_headers_out only ("Header always add"):
         * HTTP_HEADER sends it all the same (issue 9) */
        const apr_table_entry_t *e;

        cl = errcl == LBGUARD_CL_UNKNOWN
             ? lbguard_cl_index(r->err_headers_out, NULL) : errcl;
        if (cl < 0) {
            return;
        }
        e = &((const apr_table_entry_t *)
              apr_table_elts(r->err_headers_out)->elts)[cl];
        key = e->key;
        if (policy->mode == LBG_MODE_REPAIR && e->val != NULL) {
            /* Moved to headers_out, the one Content-Length of the
             * response: when CONTENT_LENGTH sees the whole body in its
             * first brigade (a CGI that has already exited) it sets
             * headers_out's to the body's length, and HTTP_HEADER would
             * send err_headers_out's next to it (apr_table_overlay):
             * "Content-Length: 5" and "Content-Length: 12". This way
             * that value replaces this one and the guard, which reads the
             * field sent, passes a body of that length. */
            const char *val = e->val;

            apr_table_unset(r->err_headers_out, "Content-Length");
            apr_table_setn(r->headers_out, key, val);
        }
    }
    else {
        const apr_table_entry_t *e = &((const apr_table_entry_t *)
                                       apr_table_elts(r->headers_out)->elts)[cl];

        if (whole >= 0 && e->val != NULL
            && lbguard_body_known(r, next, whole, e->val, errcl)) {
            return;
        }
        key = e->key;
    }
    bctx = apr_palloc(r->pool, sizeof(*bctx));
    memset(&bctx->body, 0, sizeof(bctx->body));
    bctx->started = 0;
    bctx->hctx = ctx;
    bctx->policy = *policy;
    bctx->cl_key = key;
    ap_add_output_filter_handle(lbguard_body_filter_handle, bctx, r,
                                r->connection);
}

/* 1 when every entry of table t passes check_headers() of
 * modules/http/http_filters.c (HttpProtocolOptions Strict, the default):
 * a non-empty token as name, a value of field-content (no obs-fold). */
static int lbguard_sendable(apr_table_t *t)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t  *e = (const apr_table_entry_t *) arr->elts;
    int                       i;

    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key == NULL || e[i].val == NULL) {
            continue;
        }
        if (e[i].key[0] == '\0' || *ap_scan_http_token(e[i].key) != '\0'
            || *ap_scan_http_field_content(e[i].val) != '\0') {
            return 0;
        }
    }
    return 1;
}

/* 1 when r's response is a 101 that lbguard sends itself (Repair mode,
 * an HTTP/1.1 request, and fields HTTP_HEADER's check_headers() would
 * send as they are; otherwise HTTP_HEADER keeps the response, and its
 * 500): see lbguard_switch(). */
static int lbguard_switching(request_rec *r, const lbg_policy_t *policy)
{
    return policy->mode == LBG_MODE_REPAIR
           && r->status == HTTP_SWITCHING_PROTOCOLS
           && r->proto_num >= HTTP_VERSION(1, 1) && !r->header_only
           && lbguard_sendable(r->err_headers_out)
           && lbguard_sendable(r->headers_out);
}

/*
 * Sends r's 101 (Switching Protocols) header section, then bb and every
 * later byte of r, unchanged to the connection (RFC 9110 15.2.2, 7.8: the
 * message ends with the header section; what follows is the new protocol).
 *
 * HTTP_HEADER cannot send a 101: its ap_set_keepalive() chunks every
 * HTTP/1.1 response that has neither Content-Length nor Transfer-Encoding
 * but a 204 or 304, so it would add "Transfer-Encoding: chunked" and the
 * CHUNK filter, which then wraps the new protocol's bytes in chunks
 * (mod_lua's r:wsupgrade() sets a Transfer-Encoding field for that very
 * reason, the field lbguard's framing-on-bodiless-status repair removes).
 * So lbguard does what Apache's own protocol switches do: the header
 * section as ap_send_interim_response() writes it (mod_proxy_http's 101,
 * mod_http2's h2c upgrade): status line, err_headers_out and headers_out
 * (as HTTP_HEADER merges them), no Date, Server, Content-Type or framing
 * field; then the request's output goes straight to the connection, as
 * ap_proxy_tunnel_create() sets it (r->output_filters), and the
 * connection is never reused for HTTP (c->keepalive = AP_CONN_CLOSE).
 * r->chunked stays 0, no CHUNK filter is added, r->sent_bodyct is 1:
 * Apache's framing state agrees with the bytes sent.
 */
static apr_status_t lbguard_switch(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec              *r = f->r;
    conn_rec                 *c = r->connection;
    apr_bucket_brigade       *hb;
    const apr_array_header_t *arr;
    const apr_table_entry_t  *e;
    const char               *sl;
    size_t                    sl_len;
    int                       i;

    sl = lbguard_status_line(r, &sl_len);
    if (sl == NULL) {
        sl = ap_get_status_line(r->status);
    }
    if (!apr_is_empty_table(r->err_headers_out)) {
        r->headers_out = apr_table_overlay(r->pool, r->err_headers_out,
                                           r->headers_out);
        apr_table_clear(r->err_headers_out);
    }

    hb = apr_brigade_create(r->pool, c->bucket_alloc);
    apr_brigade_putstrs(hb, NULL, NULL, AP_SERVER_PROTOCOL " ", sl, CRLF,
                        NULL);
    arr = apr_table_elts(r->headers_out);
    e = (const apr_table_entry_t *) arr->elts;
    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key != NULL && e[i].val != NULL) {
            apr_brigade_putstrs(hb, NULL, NULL, e[i].key, ": ", e[i].val,
                                CRLF, NULL);
        }
    }
    apr_brigade_puts(hb, NULL, NULL, CRLF);
    APR_BRIGADE_CONCAT(hb, bb);

    r->chunked = 0;
    r->sent_bodyct = 1;
    r->output_filters = r->proto_output_filters = c->output_filters;
    c->keepalive = AP_CONN_CLOSE;
    ap_remove_output_filter(f);
    return ap_pass_brigade(c->output_filters, hb);
}

static apr_status_t lbguard_header_check(ap_filter_t *f,
                                         apr_bucket_brigade *bb,
                                         const lbg_policy_t *policy,
                                         const char *sl, size_t sl_len);

/* 1 when HTTP_HEADER follows f: r's header section is still to be sent
 * as HTTP/1.x. 0 once another protocol has taken the connection over:
 * mod_http2's h2c upgrade sends its 101 itself
 * (ap_send_interim_response()), removes HTTP_HEADER from r's filters,
 * serves the request as HTTP/2 and then finishes r, whose status is still
 * 101, without a header section of its own (nothing to check). */
static int lbguard_header_pending(const ap_filter_t *f)
{
    const ap_filter_t *n;

    for (n = f->next; n != NULL; n = n->next) {
        if (n->frec == lbguard_http_filters[2]) {
            return 1;
        }
    }
    return 0;
}

static apr_status_t lbguard_header_filter(ap_filter_t *f,
                                          apr_bucket_brigade *bb)
{
    request_rec      *r = f->r;
    lbguard_ctx      *ctx = f->ctx;
    lbguard_dir_conf *conf;
    lbg_policy_t      policy_buf;
    const lbg_policy_t *policy;
    lbg_quick_t       q;
    const char       *sl;
    size_t            sl_len = 0;
    int               cl, errcl;
    apr_off_t         whole;

    if (ctx != NULL) {
        if (f->ctx == &lbguard_passed) {
            /* a clean response whose EOS has passed */
            return ap_pass_brigade(f->next, bb);
        }
        /* Still here only to drop the body (LBG_EDIT_NO_BODY). */
        lbguard_drop_data(bb);
        return ap_pass_brigade(f->next, bb);
    }

    conf = ap_get_module_config(r->per_dir_config, &lbguard_module);
    if (conf->mode == LBGUARD_UNSET || conf->mode == LBG_MODE_OFF
        || r->main != NULL || r->assbackwards
        || r->proto_num >= HTTP_VERSION(2, 0)
        || lbguard_brigade_aborts(bb, &whole)) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }

    /* the only cost metrics add to a clean response: one atomic add,
     * once per request (ap_die()'s error page passes here again, after
     * check_headers() refused what Detect let through) */
    if (ap_get_module_config(r->request_config, &lbguard_module) == NULL) {
        ap_set_module_config(r->request_config, &lbguard_module, r);
        lbguard_status_add(lbguard_status_of(r->server),
                           LBG_METRICS_RESPONSES(conf->mode), 1);
    }

    /* The core's quick pass first: a clean response (almost all of them)
     * needs no view, no report and no lbg_check(). */
    if (conf->ready) {
        policy = &conf->policy;
    }
    else {
        lbguard_policy(conf, &policy_buf);
        policy = &policy_buf;
    }
    lbguard_quick(r, &q, &cl, &errcl);
    sl = r->status_line != NULL ? lbguard_status_line(r, &sl_len) : NULL;
    if (q.nte == 0 /* an application's Transfer-Encoding: te-not-applied */
        && lbg_quick_clean(policy, &q, r->status, (const unsigned char *) sl,
                           sl_len)) {
        if (r->status == HTTP_SWITCHING_PROTOCOLS
            && lbguard_switching(r, policy) && lbguard_header_pending(f)) {
            return lbguard_switch(f, bb);
        }
        lbguard_arm_body(r, NULL, policy, cl, errcl, f->next, whole);
        if (whole >= 0) {
            /* the EOS is in bb: nothing of r's body comes later, so the
             * filter stays (ap_remove_output_filter() costs more than a
             * pass that should not happen) */
            f->ctx = &lbguard_passed;
        }
        else {
            ap_remove_output_filter(f);
        }
        return ap_pass_brigade(f->next, bb);
    }
    return lbguard_header_check(f, bb, policy, sl, sl_len);
}

/* The rest of lbguard_header_filter() for a response its quick pass did
 * not call clean: the view, lbg_check() and the other checks, the log
 * lines, the repair (policy and the status line sl[0..sl_len) of the
 * quick pass). Out of line: its frame (the view, a log line) costs the
 * clean response nothing. */
static apr_status_t __attribute__((noinline))
lbguard_header_check(ap_filter_t *f, apr_bucket_brigade *bb,
                     const lbg_policy_t *policy, const char *sl,
                     size_t sl_len)
{
    request_rec      *r = f->r;
    lbguard_ctx      *ctx;
    lbg_response_t    view;
    char              line[LBGUARD_LOG_MAX];
    size_t            i;
    int               cl;

    if (r->status == HTTP_SWITCHING_PROTOCOLS && !lbguard_header_pending(f)) {
        ap_remove_output_filter(f);
        return ap_pass_brigade(f->next, bb);
    }

    /* Not zeroed (some 4 KB): the core fills findings[] and edits[] up to
     * rep.nfindings and rep.nedits. */
    ctx = f->ctx = apr_palloc(r->pool, sizeof(*ctx));
    ctx->no_body = 0;
    ctx->bad_gateway = 0;
    ctx->policy = *policy;
    lbg_report_init(&ctx->rep, ctx->findings, LBG_FINDINGS_MAX, ctx->edits,
                    LBG_EDITS_MAX);

    lbguard_view(r, &view, sl, sl_len, &cl);
    lbg_check(&ctx->policy, &view, &ctx->rep);

    /* Apache frames the body itself: a Transfer-Encoding in the tables is
     * sent as is while the body goes out unframed (issue 9) */
    lbg_check_te_not_applied(&ctx->policy, &view, &ctx->rep);

    /* 101 to a request that asked for no upgrade (issue 9) */
    if (r->status == HTTP_SWITCHING_PROTOCOLS
        && apr_table_get(r->headers_in, "Upgrade") == NULL) {
        lbg_check_switching(&ctx->policy, &ctx->rep);
    }

    /* a 1xx other than 101 sent as the final response (a CGI's
     * "Status: 100", mod_lua's r.status = 103): HTTP_HEADER sends it with
     * a body, which the load balancer reads as the next response */
    lbg_check_interim(&ctx->policy, r->status, &ctx->rep);

    /* Log before repairing: findings point into the view. */
    for (i = 0; i < ctx->rep.nfindings; i++) {
        lbg_finding_format(&view, &ctx->rep.findings[i],
                           ctx->policy.mode == LBG_MODE_REPAIR, line,
                           sizeof(line));
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "lbguard: %s", line);
    }
    if (ctx->rep.nfindings > 0) {
        lbguard_note(r, ctx);
        lbguard_status_report(lbguard_status_of(r->server), &ctx->rep,
                              ctx->policy.mode);
    }

    if (ctx->policy.mode == LBG_MODE_REPAIR && ctx->rep.nedits > 0) {
        lbguard_repair(r, &view, ctx);
        /* an edit may have removed or moved it */
        cl = lbguard_cl_index(r->headers_out, NULL);
    }
    if (ctx->policy.mode == LBG_MODE_REPAIR && ctx->rep.close) {
        /* a full report (more findings or edits than its arrays hold)
         * sets close without a CLOSE edit, which had no room: what it
         * could not record is still in the response (lbg.h,
         * lbg_report_t), so the connection is not reused */
        r->connection->keepalive = AP_CONN_CLOSE;
    }

    if (lbguard_switching(r, &ctx->policy)) {
        return lbguard_switch(f, bb);
    }
    lbguard_arm_body(r, ctx, &ctx->policy, cl, LBGUARD_CL_UNKNOWN, NULL, -1);

    if (!ctx->no_body) {
        ap_remove_output_filter(f);
    }
    else {
        lbguard_drop_data(bb);
        if (ctx->bad_gateway && !r->header_only) {
            APR_BRIGADE_INSERT_HEAD(bb, apr_bucket_immortal_create(
                LBG_BAD_GATEWAY_BODY, sizeof(LBG_BAD_GATEWAY_BODY) - 1,
                bb->bucket_alloc));
        }
    }
    return ap_pass_brigade(f->next, bb);
}

/* Logs bctx's body finding: the body's whole length at its EOS (at_end
 * 1), else what was seen, "at least" (lbg_body_finding()). */
static void lbguard_body_log(request_rec *r, lbguard_body_ctx *bctx,
                             int at_end)
{
    lbg_response_t view;
    lbg_finding_t  fd;
    char           line[LBGUARD_LOG_MAX];

    bctx->pending = 0;
    if (lbg_body_finding(&bctx->body, at_end, &fd) == LBG_RULE_NONE) {
        return;
    }
    memset(&view, 0, sizeof(view));
    view.version = 11;
    view.status = r->status;
    view.head = r->header_only ? 1 : 0;

    lbg_finding_format(&view, &fd, bctx->policy.mode == LBG_MODE_REPAIR,
                       line, sizeof(line));
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "lbguard: %s", line);
}

/* r->pool cleanup of a pending body line: the request ended before its
 * body's EOS reached the guard (the client went away: nothing more is
 * passed down) */
static apr_status_t lbguard_body_cleanup(void *data)
{
    lbguard_body_ctx *bctx = data;

    if (bctx->pending) {
        lbguard_body_log(bctx->r, bctx, 0);
    }
    return APR_SUCCESS;
}

/* Records a body finding in the report with lbg_report_add (dropped when
 * its rule is outside the profile): the counters and the note at once.
 * At the EOS (at_end 1) its line is logged too; at the first byte past
 * the declared length (at_end 0) the line waits for the EOS, to give the
 * body's whole length (lbguard_body_filter()), or, when the request ends
 * first, r->pool's cleanup logs what was seen ("at least"). */
static void lbguard_body_finding(request_rec *r, lbguard_body_ctx *bctx,
                                 lbg_rule_e rule, int at_end)
{
    lbguard_ctx    *ctx = bctx->hctx;
    lbg_finding_t   fd;
    lbg_report_t    one;
    int             repair = bctx->policy.mode == LBG_MODE_REPAIR;

    if (ctx == NULL) {
        /* the header section was clean: the report starts here */
        ctx = bctx->hctx = apr_palloc(r->pool, sizeof(*ctx));
        ctx->no_body = 0;
        ctx->policy = bctx->policy;
        lbg_report_init(&ctx->rep, ctx->findings, LBG_FINDINGS_MAX,
                        ctx->edits, LBG_EDITS_MAX);
    }

    memset(&fd, 0, sizeof(fd));
    fd.rule = rule;
    fd.field = LBG_NO_FIELD;
    fd.n1 = bctx->body.declared;
    fd.n2 = bctx->body.sent;

    if (!lbg_report_add(&ctx->policy, &ctx->rep, &fd)) {
        return;
    }
    /* counted as the lbguard-findings note says it */
    lbg_report_init(&one, &fd, 1, NULL, 0);
    one.nfindings = 1;
    lbguard_status_report(lbguard_status_of(r->server), &one,
                          ctx->policy.mode);

    if (repair) {
        ctx->rep.close = 1;
    }
    lbguard_note(r, ctx);

    if (at_end) {
        lbguard_body_log(r, bctx, 1);
        return;
    }
    bctx->pending = 1;
    bctx->r = r;
    apr_pool_cleanup_register(r->pool, bctx, lbguard_body_cleanup,
                              apr_pool_cleanup_null);
}

static apr_status_t lbguard_body_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec      *r = f->r;
    lbguard_body_ctx *bctx;
    apr_bucket       *e, *next;
    apr_status_t      rv;
    const char       *data;
    apr_size_t        len, fit;
    lbg_rule_e        rule;
    int               repair, eos = 0;
    lbguard_status_srv *st;

    bctx = f->ctx;
    if (!bctx->started) {
        /* The first brigade is HTTP_HEADER's header section (this filter
         * is added before HTTP_HEADER first runs; r->sent_bodyct cannot
         * tell, mod_proxy_http sets it early). r->headers_out now holds
         * the fields as sent: take the Content-Length from there. */
        const apr_table_entry_t  *te = (const apr_table_entry_t *)
                                       apr_table_elts(r->headers_out)->elts;
        const char               *cl = NULL;
        apr_int64_t               declared = -1;
        int                       i;

        /* apr_table_get(r->headers_out, "Content-Length") without its two
         * strcasecmp calls: the first entry that is the one the header
         * filter saw (same key pointer: apr_table_setn keeps it) or any
         * other Content-Length */
        i = lbguard_cl_index(r->headers_out, bctx->cl_key);
        if (i >= 0) {
            cl = te[i].val;
        }

        if (cl != NULL) {
            declared = lbg_content_length_parse((const unsigned char *) cl,
                                                strlen(cl));
        }
        if (declared < 0 || r->header_only
            || AP_STATUS_IS_HEADER_ONLY(r->status)) {
            ap_remove_output_filter(f);
            return ap_pass_brigade(f->next, bb);
        }
        lbg_body_init(&bctx->body, declared, 0);
        bctx->started = 1;
        return ap_pass_brigade(f->next, bb);
    }
    repair = bctx->policy.mode == LBG_MODE_REPAIR;

    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb); e = next) {
        next = APR_BUCKET_NEXT(e);
        if (APR_BUCKET_IS_EOS(e)) {
            eos = 1;
            break;
        }
        if (APR_BUCKET_IS_METADATA(e)) {
            continue;
        }
        if (e->length == (apr_size_t) -1) {
            rv = apr_bucket_read(e, &data, &len, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            next = APR_BUCKET_NEXT(e);
        }
        len = e->length;
        fit = lbg_body_feed(&bctx->body, len);
        if (lbg_body_verdict(LBG_FRAMING_LENGTH, bctx->body.declared,
                             bctx->body.sent, 0) == LBG_BODY_CUT
            && bctx->body.sent - (apr_int64_t) len <= bctx->body.declared) {
            /* the first bucket past the declared length: the finding
             * counts now, whatever comes of the request; its line waits */
            lbguard_body_finding(r, bctx, LBG_RULE_BODY_LONGER, 0);
        }
        if (repair
            && lbg_body_verdict(LBG_FRAMING_LENGTH, bctx->body.declared,
                                bctx->body.sent, 0) == LBG_BODY_CUT) {
            /* the first bucket past the declared length cuts the body */
            st = lbguard_status_of(r->server);
            if (bctx->body.sent - (apr_int64_t) len <= bctx->body.declared) {
                lbguard_status_add(st, LBG_METRICS_BODIES_CUT, 1);
            }
            lbguard_status_add(st, LBG_METRICS_BODY_CUT_BYTES, len - fit);
            /* Pass exactly the declared length; never reuse the
             * connection (the peer would read the rest as a response). */
            r->connection->keepalive = AP_CONN_CLOSE;
            if (fit > 0) {
                apr_bucket_split(e, fit);
                e = APR_BUCKET_NEXT(e);
            }
            next = APR_BUCKET_NEXT(e);
            apr_bucket_delete(e);
        }
    }

    if (eos) {
        /* the core's verdict on the whole body: cut or short, the
         * connection closes (repair) and the body finding is logged, a
         * body-longer one (recorded at its first excess byte) with the
         * body's whole length */
        if (lbg_body_verdict(LBG_FRAMING_LENGTH, bctx->body.declared,
                             bctx->body.sent, 1) != LBG_BODY_PASS) {
            if (repair) {
                r->connection->keepalive = AP_CONN_CLOSE;
            }
            rule = lbg_body_rule(&bctx->body, 1);
            if (rule == LBG_RULE_BODY_LONGER) {
                if (bctx->pending) {
                    lbguard_body_log(r, bctx, 1);
                }
            }
            else {
                lbguard_body_finding(r, bctx, rule, 1);
            }
        }
        ap_remove_output_filter(f);
    }
    return ap_pass_brigade(f->next, bb);
}


/* ------------------------------------------------------------------------ */
/* Keep-alive                                                               */
/* ------------------------------------------------------------------------ */

/* Where server s is defined, for the keep-alive log line (the nginx
 * module's "server \"<name>\" (file:line)"): 'virtual host "<ServerName>"
 * <addr>:<port> (file:line)' or 'main server "<ServerName>"'. */
static const char *lbguard_server_where(apr_pool_t *p, server_rec *s)
{
    const char *name = s->server_hostname ? s->server_hostname : "";
    const char *at = s->defn_name
        ? apr_psprintf(p, " (%s:%u)", s->defn_name, s->defn_line_number) : "";

    if (s->is_virtual && s->addrs != NULL) {
        return apr_psprintf(p, "virtual host \"%s\" %s:%u%s", name,
                            s->addrs->virthost,
                            (unsigned) s->addrs->host_port, at);
    }
    return apr_psprintf(p, "main server \"%s\"%s", name, at);
}

/*
 * Warns that "LBGuard Detect|Repair" d, inside a section, leaves server s
 * without the keep-alive check: KeepAliveTimeout is per server (and per
 * connection), so the check follows the mode set at s's server level, Off
 * here. Names the directive, its section and file:line, as "nginx -t"
 * names a directive.
 */
static void lbguard_keepalive_section(apr_pool_t *p, server_rec *s,
                                      const ap_directive_t *d)
{
    const ap_directive_t *sec = d->parent;
    const char           *name = "a section", *args = "";
    apr_size_t            n;

    if (sec != NULL && sec->directive != NULL) {
        name = sec->directive;
        args = sec->args != NULL ? sec->args : "";
        n = strlen(args);
        if (n > 0 && args[n - 1] == '>') {
            args = apr_pstrndup(p, args, n - 1);
        }
        name = apr_psprintf(p, "%s%s%s>", name, *args ? " " : "", args);
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 "lbguard: keepalive-timeout: %s %s in %s (%s:%d) does not "
                 "apply to the keep-alive check, which is per server: the "
                 "KeepAliveTimeout of %s is not checked against the load "
                 "balancer idle timeout (LBGuardLBIdleTimeout); set LBGuard "
                 "Detect or Repair at the server level, outside <Location>, "
                 "<Directory>, <Files> and <If>",
                 d->directive, d->args, name, d->filename, d->line_num,
                 lbguard_server_where(p, s));
}

/*
 * Checks server s's KeepAliveTimeout against the load balancer's idle
 * timeout (lbg_keepalive_verdict) and, when `apply` and the server's mode
 * is Repair, raises it. Logs the core's line (lbg_keepalive_format) when
 * `log`. The outcome reflects the mode: "apache2 -t" (apply 0) prints the
 * same line as the start that will raise the timeout, as "nginx -t" does.
 */
static void lbguard_keepalive(apr_pool_t *p, server_rec *s, int apply,
                              int log)
{
    lbguard_srv_conf *sconf = ap_get_module_config(s->module_config,
                                                   &lbguard_module);
    lbguard_dir_conf *dconf = ap_get_module_config(s->lookup_defaults,
                                                   &lbguard_module);
    uint64_t          server_ms, required_ms, margin_ms;
    lbg_ka_verdict_e  v;
    int               mode;
    const char       *where;
    char             *line;
    apr_size_t        size;

    mode = dconf->mode == LBGUARD_UNSET ? LBG_MODE_OFF : dconf->mode;
    if (mode == LBG_MODE_OFF) {
        if (log && sconf->lb_idle_ms != LBGUARD_UNSET
            && sconf->section_mode != NULL) {
            lbguard_keepalive_section(p, s, sconf->section_mode);
        }
        return;
    }
    if (sconf->lb_idle_ms == LBGUARD_UNSET) {
        lbguard_status_keepalive(&sconf->status, LBG_KA_METRIC_UNCHECKED);
        return;
    }
    margin_ms = sconf->margin_ms == LBGUARD_UNSET
                ? LBG_KEEPALIVE_MARGIN_MS : (uint64_t) sconf->margin_ms;
    server_ms = s->keep_alive ? (uint64_t) apr_time_as_msec(
                                    s->keep_alive_timeout) : 0;
    v = lbg_keepalive_verdict(server_ms, (uint64_t) sconf->lb_idle_ms,
                              margin_ms, &required_ms);
    lbguard_status_keepalive(&sconf->status,
                             lbg_ka_metric(v, (lbg_mode_e) mode));
    if (v != LBG_KA_RAISE && v != LBG_KA_DISABLED) {
        return;
    }

    if (log) {
        /* the fixed wording and three durations fit in 256 bytes */
        where = lbguard_server_where(p, s);
        size = strlen(where) + 256;
        line = apr_palloc(p, size);
        lbg_keepalive_format(v, "KeepAliveTimeout", where, server_ms,
                             (uint64_t) sconf->lb_idle_ms, margin_ms,
                             mode == LBG_MODE_REPAIR, line, size);
        ap_log_error(APLOG_MARK,
                     v == LBG_KA_DISABLED ? APLOG_NOTICE : APLOG_WARNING, 0,
                     s, "lbguard: %s", line);
    }
    if (v == LBG_KA_RAISE && apply && mode == LBG_MODE_REPAIR) {
        s->keep_alive_timeout = apr_time_from_msec(required_ms);
        /* The event MPM then uses this server's own keep-alive queue
         * rather than its base server's (event_post_config). */
        s->keep_alive_timeout_set = 1;
    }
}

/* Hands server s's mode and LB idle timeout to the drain section. */
static void lbguard_drain_note(server_rec *s, int log)
{
    lbguard_srv_conf *sconf = ap_get_module_config(s->module_config,
                                                   &lbguard_module);
    lbguard_dir_conf *dconf = ap_get_module_config(s->lookup_defaults,
                                                   &lbguard_module);

    lbguard_drain_server(s, dconf->mode == LBGUARD_UNSET ? LBG_MODE_OFF
                                                         : dconf->mode,
                         sconf->lb_idle_ms, sconf->margin_ms, log);
}

/* Runs before the event MPM's post_config, which builds its keep-alive
 * queues from s->keep_alive_timeout. Logs only in the pass that serves
 * (the first pass at startup only checks the configuration). */
static int lbguard_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                               apr_pool_t *ptemp, server_rec *s)
{
    int log = ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG;
    server_rec *main_server = s;

    (void) plog;
    if (log) {
        /* the startup line, at every start and restart */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "lbguard/" LBG_VERSION);
    }
    /* the counters' shared memory: in the serving pass only */
    if (log && lbguard_status_post_config(pconf, s, lbguard_status_of) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (; s != NULL; s = s->next) {
        lbguard_dir_conf *dc = ap_get_module_config(s->lookup_defaults,
                                                    &lbguard_module);

        /* a request that matches no section uses these unmerged */
        if (dc != NULL && !dc->ready) {
            lbguard_policy(dc, &dc->policy);
            dc->ready = 1;
        }
        lbguard_keepalive(ptemp, s, 1, log);
        lbguard_drain_note(s, log);
    }
    lbguard_drain_check(ptemp, main_server, log);
    /* Apache's own filters between LBGUARD and LBGUARD_BODY */
    lbguard_http_filters[0] = ap_get_output_filter_handle("BYTERANGE");
    lbguard_http_filters[1] = ap_get_output_filter_handle("CONTENT_LENGTH");
    lbguard_http_filters[2] = ap_get_output_filter_handle("HTTP_HEADER");
    lbguard_http_filters[3] = ap_get_output_filter_handle("HTTP_OUTERROR");
    return OK;
}

/* "apache2 -t" stops before post_config: report the verdicts there. */
static void lbguard_test_config(apr_pool_t *pconf, server_rec *s)
{
    server_rec *main_server = s;

    for (; s != NULL; s = s->next) {
        lbguard_keepalive(pconf, s, 0, 1);
        lbguard_drain_note(s, 1);
    }
    lbguard_drain_check(pconf, main_server, 1);
}


/* ------------------------------------------------------------------------ */
/* Hooks                                                                    */
/* ------------------------------------------------------------------------ */

static void lbguard_insert_filter(request_rec *r)
{
    lbguard_dir_conf *conf = ap_get_module_config(r->per_dir_config,
                                                  &lbguard_module);

    if (conf->mode == LBG_MODE_DETECT || conf->mode == LBG_MODE_REPAIR) {
        ap_add_output_filter_handle(lbguard_filter_handle, NULL, r,
                                    r->connection);
    }
}

static void lbguard_register_hooks(apr_pool_t *p)
{
    (void) p;
    /* Before HTTP_HEADER (AP_FTYPE_PROTOCOL), whose check_headers() turns
     * a bad field into a 500: the repair must come first. */
    lbguard_filter_handle = ap_register_output_filter("LBGUARD",
                                lbguard_header_filter, NULL,
                                AP_FTYPE_PROTOCOL - 1);
    /* After HTTP_HEADER: sees the Content-Length as sent, then the body. */
    lbguard_body_filter_handle = ap_register_output_filter("LBGUARD_BODY",
                                     lbguard_body_filter, NULL,
                                     AP_FTYPE_PROTOCOL + 1);
    ap_hook_insert_filter(lbguard_insert_filter, NULL, NULL, APR_HOOK_LAST);
    ap_hook_insert_error_filter(lbguard_insert_filter, NULL, NULL,
                                APR_HOOK_LAST);
    /* Before the event MPM's post_config (APR_HOOK_MIDDLE). */
    ap_hook_post_config(lbguard_post_config, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_test_config(lbguard_test_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(lbguard_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    lbguard_drain_register_hooks(p);
}

AP_DECLARE_MODULE(lbguard) = {
    STANDARD20_MODULE_STUFF,
    lbguard_create_dir_conf,  /* create per-directory config */
    lbguard_merge_dir_conf,   /* merge per-directory config */
    lbguard_create_srv_conf,  /* create per-server config */
    lbguard_merge_srv_conf,   /* merge per-server config */
    lbguard_cmds,             /* directives */
    lbguard_register_hooks,   /* hooks */
    AP_MODULE_FLAG_NONE       /* flags */
};


/* ------------------------------------------------------------------------ */
/* Counters (issue 13)                                                      */
/* ------------------------------------------------------------------------ */

/*
 * Counters -- lbguard's counters in Apache httpd (issue 13; formerly
 * mod_lbguard_status.c).
 *
 * Lifetime: the segment is an anonymous apr_shm made on s->process->pool
 * (the parent's pool, which lives as long as the parent) in the serving
 * post_config pass, and found again through that pool's userdata after
 * every restart: the DSO and its statics are unloaded at each one
 * (https://cwiki.apache.org/confluence/display/HTTPD/ModuleLife). No
 * cleanup is registered on pconf (mod_example_ipc's choice), so old
 * children of a graceful restart keep writing into the segment the new
 * ones read: counts stay exact across `apachectl -k graceful` (and
 * `-k restart`); a stop and start resets them. Children add with
 * apr_atomic_add64 (lock xadd on amd64), no mutex.
 *
 * The handler writes the core's Prometheus text (lbg_metrics_format), the
 * same bytes as nginx's lbguard_status.
 */

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_release.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_time.h"

#include <string.h>

#define LBGUARD_STATUS_ZONES    64
#define LBGUARD_STATUS_MAGIC    0x6c626732u   /* "lbg2": + drain */
#define LBGUARD_STATUS_KEY      "lbguard-metrics-shm"
#define LBGUARD_STATUS_HANDLER  "lbguard-status"
#define LBGUARD_STATUS_CT       "text/plain; version=0.0.4; charset=utf-8"

/* The segment: a header, the zone names since the parent started, and one
 * counter block per name. Written by the parent (names) and children
 * (counters, atomically). */
typedef struct {
    apr_uint32_t  magic;
    apr_uint32_t  slots;            /* LBG_METRICS_SLOTS of the writer */
    apr_uint64_t  start_time;       /* Unix time, s */
    apr_uint64_t  nzones;           /* names in use, only grows */
    struct {
        unsigned char len;
        char          data[LBG_METRICS_NAME_MAX];
    }             names[LBGUARD_STATUS_ZONES];
    lbg_metrics_t counters[LBGUARD_STATUS_ZONES];
    apr_uint64_t  drain[LBG_DRAIN_OUTCOMES];    /* all zones */
} lbguard_status_shm;

/* This generation's zones (pconf): slot and keep-alive gauges. Reset with
 * the DSO at every restart, set again by post_config in the parent;
 * children inherit them. */
typedef struct {
    apr_uint64_t keepalive[LBG_KA_VERDICTS];
} lbguard_status_zone;

static lbguard_status_shm  *lbguard_shm;
static lbguard_status_zone *lbguard_zones; /* [LBGUARD_STATUS_ZONES] */


static const char *lbguard_status_set_zone(cmd_parms *cmd,
                                           lbguard_status_srv *st,
                                           const char *arg)
{
    if (!lbg_metrics_zone_name_valid(arg, strlen(arg))) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a zone name (1 to %d "
                            "of the characters A-Z a-z 0-9 _ . : -)",
                            cmd->cmd->name, arg, LBG_METRICS_NAME_MAX);
    }
    st->zone = arg;
    return NULL;
}

static void lbguard_status_merge(const lbguard_status_srv *base,
                          const lbguard_status_srv *add,
                          lbguard_status_srv *conf)
{
    conf->zone = add->zone != NULL ? add->zone : base->zone;
    conf->counters = NULL;
}

/* The slot of `name`, appended when new; -1 when the segment is full. */
static int lbguard_status_slot(lbguard_status_shm *sh, const char *name)
{
    apr_size_t   len = strlen(name);
    apr_uint64_t j;

    for (j = 0; j < sh->nzones; j++) {
        if (sh->names[j].len == len && memcmp(sh->names[j].data, name, len)
                                       == 0) {
            return (int) j;
        }
    }
    if (j >= LBGUARD_STATUS_ZONES) {
        return -1;
    }
    memcpy(sh->names[j].data, name, len);
    sh->names[j].len = (unsigned char) len;
    /* the name first, then the count the handlers read */
    __atomic_store_n(&sh->nzones, j + 1, __ATOMIC_RELEASE);
    return (int) j;
}

static int lbguard_status_post_config(apr_pool_t *pconf, server_rec *s,
                               lbguard_status_srv *(*st_of)(server_rec *))
{
    apr_pool_t         *pp = s->process->pool;
    apr_shm_t          *shm = NULL;
    lbguard_status_shm *sh;
    lbguard_status_srv *st;
    const char         *name;
    apr_status_t        rv;
    int                 slot;
    void               *data = NULL;

    apr_pool_userdata_get(&data, LBGUARD_STATUS_KEY, pp);
    shm = data;
    sh = shm != NULL ? apr_shm_baseaddr_get(shm) : NULL;

    if (sh == NULL || sh->magic != LBGUARD_STATUS_MAGIC
        || sh->slots != LBG_METRICS_SLOTS) {
        /* first start, or a graceful restart into a module whose counter
         * layout differs: a new segment (the old one stays mapped for the
         * old children until the parent exits) */
        rv = apr_shm_create(&shm, sizeof(lbguard_status_shm), NULL, pp);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s,
                         "lbguard: cannot create the shared memory for the "
                         "counters (%" APR_SIZE_T_FMT " bytes)",
                         sizeof(lbguard_status_shm));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        sh = apr_shm_baseaddr_get(shm);
        memset(sh, 0, sizeof(*sh));
        sh->magic = LBGUARD_STATUS_MAGIC;
        sh->slots = LBG_METRICS_SLOTS;
        sh->start_time = (apr_uint64_t) apr_time_sec(apr_time_now());
        /* the key is copied; the segment lives until the parent exits */
        apr_pool_userdata_set(shm, LBGUARD_STATUS_KEY, NULL, pp);
    }

    lbguard_shm = sh;
    lbguard_zones = apr_pcalloc(pconf, LBGUARD_STATUS_ZONES
                                       * sizeof(lbguard_status_zone));

    /* "default" first, as nginx: then every server's zone in order */
    (void) lbguard_status_slot(sh, "default");

    for (; s != NULL; s = s->next) {
        st = st_of(s);
        name = st->zone != NULL ? st->zone : "default";
        slot = lbguard_status_slot(sh, name);
        if (slot < 0) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s,
                         "lbguard: more than %d status zone names since "
                         "Apache started, stop and start it to use '%s'",
                         LBGUARD_STATUS_ZONES, name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        st->counters = &sh->counters[slot];
    }
    return OK;
}

static void lbguard_status_keepalive(const lbguard_status_srv *st,
                              lbg_ka_metric_e verdict)
{
    apr_uint64_t slot;


    if (lbguard_shm == NULL || st->counters == NULL
        || (unsigned) verdict >= LBG_KA_VERDICTS) {
        return;
    }
    slot = (apr_uint64_t) (st->counters - lbguard_shm->counters);
    lbguard_zones[slot].keepalive[verdict]++;
}

static void lbguard_status_report(const lbguard_status_srv *st,
                           const lbg_report_t *rep, lbg_mode_e mode)
{
    apr_size_t slots[2 * LBG_FINDINGS_MAX], i, n;

    if (st->counters == NULL) {
        return;
    }
    n = lbg_metrics_report_slots(rep, mode, slots, 2 * LBG_FINDINGS_MAX);
    for (i = 0; i < n; i++) {
        lbguard_status_add(st, slots[i], 1);
    }
}

static void lbguard_status_drain(lbg_drain_outcome_e outcome)
{
    lbguard_status_shm *sh = lbguard_shm;

    if (sh == NULL || (unsigned) outcome >= LBG_DRAIN_OUTCOMES) {
        return;
    }
    apr_atomic_inc64(&sh->drain[outcome]);
}

static int lbguard_status_serve(request_rec *r);

static int lbguard_status_handler(request_rec *r)
{
    /* runs for every request that reaches the handler phase: the first
     * byte rejects almost all of them, before the serving function's
     * prologue */
    if (r->handler == NULL || r->handler[0] != 'l'
        || strcmp(r->handler, LBGUARD_STATUS_HANDLER)) {
        return DECLINED;
    }
    return lbguard_status_serve(r);
}

static int __attribute__((noinline)) lbguard_status_serve(request_rec *r)
{
    lbguard_status_shm *sh = lbguard_shm;
    lbg_metrics_t      *copy;
    lbg_metrics_zone_t *zones;
    lbg_metrics_view_t  view;
    apr_uint64_t        i, n;
    apr_size_t          k, len;
    char               *buf;
    apr_uint64_t        drain[LBG_DRAIN_OUTCOMES];

    r->allowed |= (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (sh == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a snapshot: the names, their counters (atomic reads) and this
     * generation's keep-alive gauges */
    n = __atomic_load_n(&sh->nzones, __ATOMIC_ACQUIRE);
    copy = apr_palloc(r->pool, (n ? n : 1) * sizeof(lbg_metrics_t));
    zones = apr_pcalloc(r->pool, (n ? n : 1) * sizeof(lbg_metrics_zone_t));
    for (i = 0; i < n; i++) {
        volatile apr_uint64_t *src = (volatile apr_uint64_t *)
                                     &sh->counters[i];
        apr_uint64_t          *dst = (apr_uint64_t *) &copy[i];

        for (k = 0; k < LBG_METRICS_SLOTS; k++) {
            dst[k] = apr_atomic_read64(&src[k]);
        }
        zones[i].name = sh->names[i].data;
        zones[i].name_len = sh->names[i].len;
        zones[i].counters = &copy[i];
        if (lbguard_zones != NULL) {
            memcpy(zones[i].keepalive, lbguard_zones[i].keepalive,
                   sizeof(zones[i].keepalive));
        }
    }
    for (k = 0; k < LBG_DRAIN_OUTCOMES; k++) {
        drain[k] = apr_atomic_read64(&sh->drain[k]);
    }
    view.server_software = AP_SERVER_BASEVERSION;
    view.start_time = sh->start_time;
    view.zones = zones;
    view.nzones = (size_t) n;
    view.drain = drain;

    len = lbg_metrics_format(&view, NULL, 0);
    buf = apr_palloc(r->pool, len ? len : 1);
    (void) lbg_metrics_format(&view, buf, len);

    ap_set_content_type(r, LBGUARD_STATUS_CT);
    ap_set_content_length(r, (apr_off_t) len);
    if (!r->header_only) {
        ap_rwrite(buf, (int) len, r);
    }
    return OK;
}


/* ------------------------------------------------------------------------ */
/* Drain (issue 10)                                                         */
/* ------------------------------------------------------------------------ */

/*
 * Drain -- Apache httpd 2.4 (event MPM): keep-alive connections the MPM
 * closes early, and the settings that make it do so (formerly
 * lbguard_drain.c).
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
 * pool's cleanup all take that mutex for every connection ever parked
 * (also after the thread has unlinked it), and the thread reads the
 * connection and does its shutdown() under it, last, after checking that
 * the descriptor is still connected to the peer it had at its first park
 * (getpeername): the pool cannot be cleared while the thread uses it, and
 * a descriptor reused by another connection (closed by the MPM without
 * pre_close_connection: a failed apr_pollset_add) is not touched. The
 * thread is joined by a pchild pre-cleanup.
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

/* how the connections kept by a stopping child ended (drain on) */
#define LBGUARD_KEPT_REQUEST  0   /* the LB's next request: served, closed */
#define LBGUARD_KEPT_CLOSE    1   /* the client closed it */
#define LBGUARD_KEPT_LIMIT    2   /* LB idle + margin: the drain thread */
#define LBGUARD_KEPT_N        3
static apr_uint32_t lbguard_drain_kept[LBGUARD_KEPT_N];

static const char *const lbguard_kill_reason[LBGUARD_KILL_N] = {
    "graceful restart (the child belongs to an old generation)",
    "child stopping (graceful-stop, or retired by MaxSpareThreads or "
        "MaxConnectionsPerChild)",
    "all workers busy (MaxRequestWorkers, AsyncRequestWorkerFactor)"
};


static const char *lbguard_drain_set(cmd_parms *cmd, void *dummy, int on)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void) dummy;
    if (err != NULL) {
        return err;
    }
    lbguard_drain_flag = on ? LBGUARD_DRAIN_ON : LBGUARD_DRAIN_OFF;
    return NULL;
}

static void lbguard_drain_server(server_rec *s, int mode,
                                 apr_int64_t lb_idle_ms, apr_int64_t margin_ms,
                                 int log)
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
            /* the server as the keep-alive line names it (the main server
             * has no defn_name: it was logged "at -:0"), the limit in
             * Timeout's unit where it is whole seconds */
            apr_pool_t *p = s->process->pconf;
            const char *lim = limit % 1000 == 0
                ? apr_psprintf(p, "%" APR_INT64_T_FMT "s", limit / 1000)
                : apr_psprintf(p, "%" APR_INT64_T_FMT "ms", limit);

            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         "lbguard: drain: Timeout %" APR_TIME_T_FMT "s in "
                         "%s is shorter than the load balancer idle timeout "
                         "+ margin %s; it bounds the idle wait of the "
                         "connections a stopping child keeps%s%s",
                         apr_time_sec(s->timeout),
                         lbguard_server_where(p, s), lim,
                         mode == LBG_MODE_REPAIR ? ": raised to " : "",
                         mode == LBG_MODE_REPAIR ? lim : "");
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

static void lbguard_drain_check(apr_pool_t *p, server_rec *s, int log)
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

/* Unparks st: it woke up, is closing, or its pool is going. Takes the
 * mutex for every connection that was ever parked, even one the drain
 * thread has already unlinked: the thread may still be using st and c
 * under the mutex, and the pool cleanup must wait for it. Returns 1 when
 * st was still parked (not ended by the drain thread). */
static int lbguard_drain_unpark(lbguard_drain_conn *st)
{
    int parked;

    if (st->peer_len == 0 || lbguard_drain_mutex == NULL) {
        return 0;                  /* never parked: the thread never saw it */
    }
    apr_thread_mutex_lock(lbguard_drain_mutex);
    parked = st->q != NULL;
    lbguard_drain_unlink(st);
    apr_thread_mutex_unlock(lbguard_drain_mutex);
    return parked;
}

/* 1 when this child is stopping (graceful restart, graceful-stop,
 * retirement). */
static int lbguard_drain_stopping(void)
{
    int state = AP_MPMQ_RUNNING;

    (void) ap_mpm_query(AP_MPMQ_MPM_STATE, &state);
    return state == AP_MPMQ_STOPPING;
}

/* c->pool cleanup: the connection's memory and socket are going. */
static apr_status_t lbguard_drain_conn_cleanup(void *data)
{
    (void) lbguard_drain_unpark(data);
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

/* Reads the k counters of src into n; returns their sum. */
static apr_uint32_t lbguard_drain_counts(apr_uint32_t *src, apr_uint32_t *n,
                                         int k)
{
    apr_uint32_t total = 0;
    int          i;

    for (i = 0; i < k; i++) {
        n[i] = apr_atomic_read32(&src[i]);
        total += n[i];
    }
    return total;
}

static apr_status_t lbguard_drain_child_exit(void *data)
{
    server_rec  *s = data;
    apr_uint32_t n[LBGUARD_KILL_N > LBGUARD_KEPT_N ? LBGUARD_KILL_N
                                                   : LBGUARD_KEPT_N];
    apr_uint32_t total;

    total = lbguard_drain_counts(lbguard_drain_kills, n, LBGUARD_KILL_N);
    if (total > 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     "lbguard: drain: child %" APR_PID_T_FMT " exiting: the "
                     "event MPM closed %u idle keep-alive connections early "
                     "(%u graceful restart, %u child stopping, %u workers "
                     "busy)", getpid(), total, n[LBGUARD_KILL_RESTART],
                     n[LBGUARD_KILL_STOPPING], n[LBGUARD_KILL_BUSY]);
    }
    total = lbguard_drain_counts(lbguard_drain_kept, n, LBGUARD_KEPT_N);
    if (total > 0) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     "lbguard: drain: child %" APR_PID_T_FMT " exiting: %u "
                     "idle keep-alive connections kept while it stopped: %u "
                     "answered a request with \"Connection: close\", %u "
                     "closed by the client, %u reached the idle limit (load "
                     "balancer idle timeout + margin)", getpid(), total,
                     n[LBGUARD_KEPT_REQUEST], n[LBGUARD_KEPT_CLOSE],
                     n[LBGUARD_KEPT_LIMIT]);
    }
    return APR_SUCCESS;
}

static void lbguard_drain_child_init(apr_pool_t *pchild, server_rec *s)
{
    int i;

    for (i = 0; i < LBGUARD_KILL_N; i++) {
        apr_atomic_set32(&lbguard_drain_kills[i], 0);
    }
    for (i = 0; i < LBGUARD_KEPT_N; i++) {
        apr_atomic_set32(&lbguard_drain_kept[i], 0);
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
    (void) lbguard_drain_unpark(st);   /* before the MPM closes the socket */
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
static void lbguard_drain_end(lbguard_drain_conn *st, int stopping,
                              apr_time_t now)
{
    apr_socket_t  *sock = ap_get_conn_socket(st->c);
    apr_os_sock_t  fd = -1;

    lbguard_drain_unlink(st);
    if (sock != NULL && apr_os_sock_get(&fd, sock) == APR_SUCCESS
        && lbguard_drain_same_peer(st, fd)) {
        st->closed = 1;
        if (stopping) {
            apr_atomic_inc32(&lbguard_drain_kept[LBGUARD_KEPT_LIMIT]);
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, st->c,
                          "lbguard: drain: kept connection: idle limit "
                          "reached (load balancer idle timeout + margin), "
                          "closed after %.3fs idle",
                          (double) (now - st->parked) / APR_USEC_PER_SEC);
        }
        /* last: from here a worker may close c, its pool cleanup then
         * waits for the mutex (lbguard_drain_unpark) */
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
                lbguard_drain_end(q->head, state == AP_MPMQ_STOPPING, now);
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
    int                 kept;

    if (lbguard_drain_effective != LBGUARD_DRAIN_ON || !lbguard_drain_waitio
        || cs == NULL || c->master != NULL || c->clogging_input_filters
        || cs->state != CONN_STATE_PROCESSING || ap_ssl_conn_is_ssl(c)
        || strcmp(ap_get_protocol(c), AP_PROTOCOL_HTTP1) != 0) {
        return DECLINED;
    }
    st = ap_get_module_config(c->conn_config, &lbguard_module);
    /* woke up while parked: kept by a stopping child, its outcome counts */
    kept = st != NULL && lbguard_drain_unpark(st) && lbguard_drain_stopping();

    for (;;) {
        ap_update_child_status_from_conn(c->sbh, SERVER_BUSY_READ, c);
        r = ap_read_request(c);
        if (kept) {
            kept = 0;
            apr_atomic_inc32(&lbguard_drain_kept[r != NULL
                                                 ? LBGUARD_KEPT_REQUEST
                                                 : LBGUARD_KEPT_CLOSE]);
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c,
                          "lbguard: drain: kept connection: %s, after "
                          "%.3fs idle", r != NULL
                          ? "request received, answered with \"Connection: "
                            "close\""
                          : "closed by the client",
                          (double) (apr_time_now() - st->parked)
                          / APR_USEC_PER_SEC);
        }
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

static void lbguard_drain_register_hooks(apr_pool_t *p)
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
