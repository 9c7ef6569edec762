/*
 * ngx_http_lbguard_status.c -- lbguard's counters in nginx (issue 13).
 *
 * One shared memory zone, "lbguard_metrics", of a fixed size: nginx reuses
 * a zone on reload only when its name, size and tag are unchanged, so the
 * counters carry on across `nginx -s reload` (the init below takes the old
 * block over and touches nothing in it: old workers still write to it),
 * and start from 0 on a restart. It holds up to 64 status zone names
 * (lbguard_status_zone) since the master started and one lbg_metrics_t per
 * name; workers add to them with relaxed atomic adds, no lock. Like
 * stub_status, the handler reads with plain atomic loads.
 *
 * lbguard_status; serves the Prometheus text format 0.0.4 written by the
 * core (lbg_metrics_format), the same bytes as Apache's lbguard-status.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <nginx.h>

#include "ngx_http_lbguard_status.h"


#define NGX_HTTP_LBGUARD_SHM_SIZE    (256 * 1024)
#define NGX_HTTP_LBGUARD_ZONES_MAX   64
#define NGX_HTTP_LBGUARD_SHM_MAGIC   0x6c626732   /* "lbg2": + drain */
#define NGX_HTTP_LBGUARD_CT          "text/plain; version=0.0.4; charset=utf-8"


/* the block in the zone's slab pool (shpool->data) */
typedef struct {
    uint32_t          magic;
    uint32_t          slots;            /* LBG_METRICS_SLOTS of the writer */
    uint64_t          start_time;       /* Unix time, s */
    uint64_t          nzones;           /* names in use, only grows */
    struct {
        u_char        len;
        u_char        data[LBG_METRICS_NAME_MAX];
    }                 names[NGX_HTTP_LBGUARD_ZONES_MAX];
    lbg_metrics_t     counters[NGX_HTTP_LBGUARD_ZONES_MAX];
    uint64_t          drain[LBG_DRAIN_OUTCOMES];  /* all zones */
} ngx_http_lbguard_shm_t;


/* one configuration's view of the zone (shm_zone->data, cf->pool) */
typedef struct {
    ngx_array_t              zones;     /* ngx_http_lbguard_zone_t * */
    ngx_http_lbguard_shm_t  *sh;
} ngx_http_lbguard_shm_ctx_t;


static ngx_shm_zone_t *ngx_http_lbguard_shm(ngx_conf_t *cf);
static ngx_http_lbguard_zone_t *ngx_http_lbguard_zone_get(ngx_conf_t *cf,
    ngx_str_t *name);
static ngx_int_t ngx_http_lbguard_shm_init(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_lbguard_status_handler(ngx_http_request_t *r);


extern ngx_module_t  ngx_http_lbguard_filter_module;

static ngx_str_t  ngx_http_lbguard_shm_name = ngx_string("lbguard_metrics");
static ngx_str_t  ngx_http_lbguard_default = ngx_string("default");


/* The zone of this configuration, added on first use. */

static ngx_shm_zone_t *
ngx_http_lbguard_shm(ngx_conf_t *cf)
{
    ngx_shm_zone_t              *shm;
    ngx_http_lbguard_shm_ctx_t  *ctx;

    shm = ngx_shared_memory_add(cf, &ngx_http_lbguard_shm_name,
                                NGX_HTTP_LBGUARD_SHM_SIZE,
                                &ngx_http_lbguard_filter_module);
    if (shm == NULL) {
        return NULL;
    }

    if (shm->data == NULL) {
        ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_lbguard_shm_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        if (ngx_array_init(&ctx->zones, cf->pool, 4,
                           sizeof(ngx_http_lbguard_zone_t *))
            != NGX_OK)
        {
            return NULL;
        }

        shm->data = ctx;
        shm->init = ngx_http_lbguard_shm_init;

        /* "default" comes first, as in Apache: the same series order */

        if (ngx_http_lbguard_zone_get(cf, &ngx_http_lbguard_default) == NULL) {
            return NULL;
        }
    }

    return shm;
}


/* The configuration's zone record for `name`, made on first use. */

static ngx_http_lbguard_zone_t *
ngx_http_lbguard_zone_get(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_uint_t                   i;
    ngx_shm_zone_t              *shm;
    ngx_http_lbguard_zone_t     *z, **zp;
    ngx_http_lbguard_shm_ctx_t  *ctx;

    shm = ngx_http_lbguard_shm(cf);
    if (shm == NULL) {
        return NULL;
    }

    ctx = shm->data;
    zp = ctx->zones.elts;

    for (i = 0; i < ctx->zones.nelts; i++) {
        if (zp[i]->name.len == name->len
            && ngx_strncmp(zp[i]->name.data, name->data, name->len) == 0)
        {
            return zp[i];
        }
    }

    if (ctx->zones.nelts >= NGX_HTTP_LBGUARD_ZONES_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "more than %d lbguard status zones",
                           NGX_HTTP_LBGUARD_ZONES_MAX);
        return NULL;
    }

    z = ngx_pcalloc(cf->pool, sizeof(ngx_http_lbguard_zone_t));
    if (z == NULL) {
        return NULL;
    }

    z->name.data = ngx_pstrdup(cf->pool, name);
    if (z->name.data == NULL) {
        return NULL;
    }

    z->name.len = name->len;

    zp = ngx_array_push(&ctx->zones);
    if (zp == NULL) {
        return NULL;
    }

    *zp = z;

    return z;
}


char *
ngx_http_lbguard_status_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_lbguard_status_conf_t  *sc;
    ngx_str_t                       *value;

    sc = (ngx_http_lbguard_status_conf_t *) ((u_char *) conf + cmd->offset);

    if (sc->zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (!lbg_metrics_zone_name_valid((char *) value[1].data, value[1].len)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone name \"%V\" in \"%V\" directive, "
                           "it must be 1 to %d of the characters "
                           "A-Z a-z 0-9 _ . : -",
                           &value[1], &cmd->name, LBG_METRICS_NAME_MAX);
        return NGX_CONF_ERROR;
    }

    sc->zone = ngx_http_lbguard_zone_get(cf, &value[1]);
    if (sc->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_lbguard_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_lbguard_status_handler) {
        return "is duplicate";
    }

    if (ngx_http_lbguard_shm(cf) == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf->handler = ngx_http_lbguard_status_handler;

    return NGX_CONF_OK;
}


char *
ngx_http_lbguard_status_merge(ngx_conf_t *cf,
    ngx_http_lbguard_status_conf_t *prev,
    ngx_http_lbguard_status_conf_t *conf, ngx_uint_t mode)
{
    if (conf->zone == NULL) {
        conf->zone = prev->zone;
    }

    if (conf->zone == NULL && mode != LBG_MODE_OFF) {
        conf->zone = ngx_http_lbguard_zone_get(cf, &ngx_http_lbguard_default);
        if (conf->zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


void
ngx_http_lbguard_status_keepalive(ngx_conf_t *cf,
    ngx_http_lbguard_status_conf_t *conf, lbg_ka_metric_e verdict)
{
    if (conf->zone != NULL && (unsigned) verdict < LBG_KA_VERDICTS) {
        conf->zone->keepalive[verdict]++;
    }
}


void
ngx_http_lbguard_status_report(ngx_http_lbguard_status_conf_t *conf,
    const lbg_report_t *rep, ngx_uint_t mode)
{
    size_t  i, n;
    size_t  slots[2 * LBG_FINDINGS_MAX];

    if (conf->zone == NULL || conf->zone->counters == NULL) {
        return;
    }

    n = lbg_metrics_report_slots(rep, (lbg_mode_e) mode, slots,
                                 2 * LBG_FINDINGS_MAX);

    for (i = 0; i < n; i++) {
        ngx_http_lbguard_status_add(conf, slots[i], 1);
    }
}


/*
 * The zone's init, in the master, for every configuration that uses it.
 * On reload `data` is the previous configuration's ctx: its block is taken
 * over as it is. A block of another layout (a binary upgrade to a version
 * with more rules) is replaced by a new one. Then this configuration's
 * zone names get their slots; slots are never given back until restart,
 * so an old worker's slot stays valid while it finishes.
 */

static ngx_int_t
ngx_http_lbguard_shm_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_lbguard_shm_ctx_t  *octx = data;

    size_t                       len;
    uint64_t                     i, j;
    ngx_slab_pool_t             *shpool;
    ngx_http_lbguard_zone_t    **zp;
    ngx_http_lbguard_shm_t      *sh;
    ngx_http_lbguard_shm_ctx_t  *ctx;

    ctx = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (octx != NULL) {
        sh = octx->sh;

    } else {
        sh = shm_zone->shm.exists ? shpool->data : NULL;
    }

    if (sh == NULL
        || sh->magic != NGX_HTTP_LBGUARD_SHM_MAGIC
        || sh->slots != LBG_METRICS_SLOTS)
    {
        sh = ngx_slab_alloc(shpool, sizeof(ngx_http_lbguard_shm_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(sh, sizeof(ngx_http_lbguard_shm_t));

        sh->magic = NGX_HTTP_LBGUARD_SHM_MAGIC;
        sh->slots = LBG_METRICS_SLOTS;
        sh->start_time = (uint64_t) ngx_time();

        shpool->data = sh;
    }

    ctx->sh = sh;

    zp = ctx->zones.elts;

    for (i = 0; i < ctx->zones.nelts; i++) {
        len = zp[i]->name.len;

        for (j = 0; j < sh->nzones; j++) {
            if (sh->names[j].len == len
                && ngx_strncmp(sh->names[j].data, zp[i]->name.data, len) == 0)
            {
                break;
            }
        }

        if (j == sh->nzones) {
            if (j >= NGX_HTTP_LBGUARD_ZONES_MAX) {
                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "lbguard: more than %d status zone names since "
                              "nginx started, restart nginx to use \"%V\"",
                              NGX_HTTP_LBGUARD_ZONES_MAX, &zp[i]->name);
                return NGX_ERROR;
            }

            /* the name first, then the count the handlers read */

            ngx_memcpy(sh->names[j].data, zp[i]->name.data, len);
            sh->names[j].len = (u_char) len;

            __atomic_store_n(&sh->nzones, j + 1, __ATOMIC_RELEASE);
        }

        zp[i]->counters = &sh->counters[j];
    }

    return NGX_OK;
}


/* This cycle's zone, for the handler (a worker). */

static ngx_shm_zone_t *
ngx_http_lbguard_shm_find(void)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *shm;

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    shm = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            shm = part->elts;
            i = 0;
        }

        if (shm[i].tag == &ngx_http_lbguard_filter_module
            && shm[i].shm.name.len == ngx_http_lbguard_shm_name.len
            && ngx_strncmp(shm[i].shm.name.data, ngx_http_lbguard_shm_name.data,
                           ngx_http_lbguard_shm_name.len) == 0)
        {
            return &shm[i];
        }
    }
}


/*
 * A drain event (ngx_http_lbguard_drain.c, rare: once per kept connection
 * of a shutting-down worker): one atomic add to the zone's drain counters,
 * found through this worker's cycle (an old worker's cycle shares the
 * block with the new one). Nothing when no lbguard_metrics zone exists.
 */

void
ngx_http_lbguard_status_drain(ngx_uint_t outcome)
{
    ngx_shm_zone_t              *shm;
    ngx_http_lbguard_shm_ctx_t  *ctx;

    if (outcome >= LBG_DRAIN_OUTCOMES) {
        return;
    }

    shm = ngx_http_lbguard_shm_find();
    if (shm == NULL || shm->data == NULL) {
        return;
    }

    ctx = shm->data;
    if (ctx->sh == NULL) {
        return;
    }

    (void) __atomic_fetch_add(&ctx->sh->drain[outcome], 1, __ATOMIC_RELAXED);
}


static ngx_int_t
ngx_http_lbguard_status_handler(ngx_http_request_t *r)
{
    size_t                       len, k;
    uint64_t                     i, j, n;
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_chain_t                  out;
    lbg_metrics_t               *copy;
    ngx_shm_zone_t              *shm;
    lbg_metrics_zone_t          *zones;
    lbg_metrics_view_t           view;
    ngx_http_lbguard_zone_t    **zp;
    ngx_http_lbguard_shm_t      *sh;
    ngx_http_lbguard_shm_ctx_t  *ctx;
    const uint64_t              *src;
    uint64_t                    *dst;
    uint64_t                     drain[LBG_DRAIN_OUTCOMES];

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    shm = ngx_http_lbguard_shm_find();
    if (shm == NULL || shm->data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx = shm->data;
    sh = ctx->sh;
    if (sh == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a snapshot: every name in the zone, their counters, and this
     * configuration's keep-alive verdicts */

    n = __atomic_load_n(&sh->nzones, __ATOMIC_ACQUIRE);

    copy = ngx_palloc(r->pool, (n ? n : 1) * sizeof(lbg_metrics_t));
    zones = ngx_pcalloc(r->pool, (n ? n : 1) * sizeof(lbg_metrics_zone_t));
    if (copy == NULL || zones == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    zp = ctx->zones.elts;

    for (i = 0; i < n; i++) {
        src = (const uint64_t *) &sh->counters[i];
        dst = (uint64_t *) &copy[i];

        for (k = 0; k < LBG_METRICS_SLOTS; k++) {
            dst[k] = __atomic_load_n(&src[k], __ATOMIC_RELAXED);
        }

        zones[i].name = (const char *) sh->names[i].data;
        zones[i].name_len = sh->names[i].len;
        zones[i].counters = &copy[i];

        for (j = 0; j < ctx->zones.nelts; j++) {
            if (zp[j]->counters == &sh->counters[i]) {
                ngx_memcpy(zones[i].keepalive, zp[j]->keepalive,
                           sizeof(zones[i].keepalive));
                break;
            }
        }
    }

    for (k = 0; k < LBG_DRAIN_OUTCOMES; k++) {
        drain[k] = __atomic_load_n(&sh->drain[k], __ATOMIC_RELAXED);
    }

    view.server_software = NGINX_VER;
    view.start_time = sh->start_time;
    view.zones = zones;
    view.nzones = (size_t) n;
    view.drain = drain;

    len = lbg_metrics_format(&view, NULL, 0);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) lbg_metrics_format(&view, (char *) b->pos, len);
    b->last = b->pos + len;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    /* the type carries its charset: content_type_len != len keeps nginx
     * from appending a second one (charset directive) */

    ngx_str_set(&r->headers_out.content_type, NGX_HTTP_LBGUARD_CT);
    r->headers_out.content_type_len = sizeof("text/plain") - 1;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = (off_t) len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
