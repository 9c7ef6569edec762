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

#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_tables.h"

#include "lbg_quick.h"
#include "mod_lbguard_status.h"
#include "lbguard_drain.h"

module AP_MODULE_DECLARE_DATA lbguard_module;

/* The two filters' handles (ap_register_output_filter): adding a filter by
 * handle skips the lookup by name on every request. */
static ap_filter_rec_t *lbguard_filter_handle;
static ap_filter_rec_t *lbguard_body_filter_handle;

#define LBGUARD_UNSET      (-1)
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
    unsigned     started : 1; /* the header section has passed */
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
                 "restarts (event MPM, httpd 2.4.63+); Off: not kept, not "
                 "reported (lbguard_drain.c)"),
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

/* Appends the entries arr of a table to fields[], or with q to the core's
 * quick pass (fields unused); returns the new count.
 * Entries named Content-Type are left out when r->content_type replaces
 * them. Sets *cl to the first Content-Length entry's index when cl is not
 * NULL and *cl is -1 (what apr_table_get would find). The length test
 * comes first: only a 12- or 14-byte name is compared, the usual spelling
 * with memcmp before the case-insensitive compare. */
static size_t lbguard_view_table(request_rec *r,
                                 const apr_array_header_t *arr,
                                 unsigned which, lbg_quick_t *q,
                                 lbg_field_t *fields, size_t n, int *cl)
{
    const apr_table_entry_t *e = (const apr_table_entry_t *) arr->elts;
    const char              *v;
    lbg_field_t             *fd;
    size_t                   len, vlen;
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
        vlen = strlen(v);
        if (q != NULL) {
            lbg_quick_field(q, (const unsigned char *) e[i].key, len,
                            (const unsigned char *) v, vlen, 0);
            continue;
        }
        fd = &fields[n++];
        fd->name = (const unsigned char *) e[i].key;
        fd->name_len = len;
        fd->value = (const unsigned char *) v;
        fd->value_len = vlen;
        fd->origin = ((uintptr_t) i << 2) | which;
        fd->trusted = 0;
    }
    return n;
}

/* The core's quick pass over r as HTTP_HEADER will send it (the fields of
 * lbguard_view(), in its order). Sets *cl as lbguard_view() does. */
static void lbguard_quick(request_rec *r, lbg_quick_t *q, int *cl)
{
    lbg_quick_init(q);
    *cl = -1;
    lbguard_view_table(r, apr_table_elts(r->err_headers_out),
                       LBGUARD_FROM_ERR_HEADERS, q, NULL, 0, NULL);
    lbguard_view_table(r, apr_table_elts(r->headers_out),
                       LBGUARD_FROM_HEADERS, q, NULL, 0, cl);
    if (r->content_type) {
        lbg_quick_field(q, (const unsigned char *) "Content-Type",
                        sizeof("Content-Type") - 1,
                        (const unsigned char *) r->content_type,
                        strlen(r->content_type), 0);
    }
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
    n = lbguard_view_table(r, err, LBGUARD_FROM_ERR_HEADERS, NULL, fields, n,
                           NULL);
    n = lbguard_view_table(r, out, LBGUARD_FROM_HEADERS, NULL, fields, n,
                           cl);
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
 * which passes LBGUARD again through insert_error_filter). */
static int lbguard_brigade_aborts(apr_bucket_brigade *bb)
{
    apr_bucket *e;

    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        if (AP_BUCKET_IS_EOC(e) || AP_BUCKET_IS_ERROR(e)) {
            return 1;
        }
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

/* Adds the body guard when the handler set a Content-Length (headers_out
 * entry cl >= 0) and the response may have a body: when Apache computes
 * one (CONTENT_LENGTH filter) it is right. ctx is the header filter's
 * report, or NULL for a clean header section. */
static void lbguard_arm_body(request_rec *r, lbguard_ctx *ctx,
                             const lbg_policy_t *policy, int cl)
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
        cl = lbguard_cl_index(r->err_headers_out, NULL);
        if (cl < 0) {
            return;
        }
        key = ((const apr_table_entry_t *)
               apr_table_elts(r->err_headers_out)->elts)[cl].key;
    }
    else {
        key = ((const apr_table_entry_t *)
               apr_table_elts(r->headers_out)->elts)[cl].key;
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

static apr_status_t lbguard_header_filter(ap_filter_t *f,
                                          apr_bucket_brigade *bb)
{
    request_rec      *r = f->r;
    lbguard_ctx      *ctx = f->ctx;
    lbguard_dir_conf *conf;
    lbg_response_t    view;
    lbg_policy_t      policy_buf;
    const lbg_policy_t *policy;
    lbg_quick_t       q;
    const char       *sl;
    char              line[LBGUARD_LOG_MAX];
    size_t            i, sl_len = 0;
    int               cl;

    if (ctx != NULL) {
        /* Still here only to drop the body (LBG_EDIT_NO_BODY). */
        lbguard_drop_data(bb);
        return ap_pass_brigade(f->next, bb);
    }

    conf = ap_get_module_config(r->per_dir_config, &lbguard_module);
    if (conf->mode == LBGUARD_UNSET || conf->mode == LBG_MODE_OFF
        || r->main != NULL || r->assbackwards
        || r->proto_num >= HTTP_VERSION(2, 0)
        || lbguard_brigade_aborts(bb)) {
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
    lbguard_quick(r, &q, &cl);
    sl = lbguard_status_line(r, &sl_len);
    if (q.nte == 0 /* an application's Transfer-Encoding: te-not-applied */
        && lbg_quick_clean(policy, &q, r->status, (const unsigned char *) sl,
                           sl_len)) {
        if (lbguard_switching(r, policy)) {
            return lbguard_switch(f, bb);
        }
        lbguard_arm_body(r, NULL, policy, cl);
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

    if (lbguard_switching(r, &ctx->policy)) {
        return lbguard_switch(f, bb);
    }
    lbguard_arm_body(r, ctx, &ctx->policy, cl);

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

/* Records a body finding in the report with lbg_report_add (dropped when
 * its rule is outside the profile), then logs it and updates the note. */
static void lbguard_body_finding(request_rec *r, lbguard_body_ctx *bctx,
                                 lbg_rule_e rule)
{
    lbguard_ctx    *ctx = bctx->hctx;
    lbg_response_t  view;
    lbg_finding_t   fd;
    lbg_report_t    one;
    char            line[LBGUARD_LOG_MAX];
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

    memset(&view, 0, sizeof(view));
    view.version = 11;
    view.status = r->status;
    view.head = r->header_only ? 1 : 0;

    lbg_finding_format(&view, &fd, repair, line, sizeof(line));
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "lbguard: %s", line);

    if (repair) {
        ctx->rep.close = 1;
    }
    lbguard_note(r, ctx);
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
         * connection closes (repair) and the body finding is logged */
        if (lbg_body_verdict(LBG_FRAMING_LENGTH, bctx->body.declared,
                             bctx->body.sent, 1) != LBG_BODY_PASS) {
            if (repair) {
                r->connection->keepalive = AP_CONN_CLOSE;
            }
            rule = lbg_body_rule(&bctx->body, 1);
            lbguard_body_finding(r, bctx, rule);
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

/* Hands server s's mode and LB idle timeout to lbguard_drain.c. */
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
