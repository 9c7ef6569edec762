/*
 * mod_lbguard_status.c -- lbguard's counters in Apache httpd (issue 13).
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

#include "mod_lbguard_status.h"

APLOG_USE_MODULE(lbguard);

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


const char *lbguard_status_set_zone(cmd_parms *cmd, lbguard_status_srv *st,
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

void lbguard_status_merge(const lbguard_status_srv *base,
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

int lbguard_status_post_config(apr_pool_t *pconf, server_rec *s,
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

void lbguard_status_keepalive(const lbguard_status_srv *st,
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

void lbguard_status_report(const lbguard_status_srv *st,
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

void lbguard_status_drain(lbg_drain_outcome_e outcome)
{
    lbguard_status_shm *sh = lbguard_shm;

    if (sh == NULL || (unsigned) outcome >= LBG_DRAIN_OUTCOMES) {
        return;
    }
    apr_atomic_inc64(&sh->drain[outcome]);
}

static int lbguard_status_serve(request_rec *r);

int lbguard_status_handler(request_rec *r)
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
