/*
 * lbg_keepalive.c -- the keep-alive policy (RFC 9112 9.6: the keep-alive
 * race between a server's idle timeout and a load balancer's): the verdict
 * on a server's keep-alive against a load balancer's idle timeout, and the
 * load balancers' documented idle timeouts by name.
 */

#include <string.h>

#include "lbg_internal.h"


static const struct {
    const char *name;
    uint64_t    ms;
} lbg__presets[] = {
    {"aws-alb", 60000}, /* ALB user guide: default idle timeout 60 s */
    {"aws-clb", 60000}, /* CLB user guide: default idle timeout 60 s */
    {"gcp", 600000},    /* GCP external ALB: backend keep-alive 600 s */
    {"oci", 310000}     /* OCI LB: backend must keep >= 310 s */
};


int
lbg_lb_preset(const char *s, size_t len, uint64_t *ms)
{
    size_t i;

    if (s == NULL) {
        return -1;
    }
    for (i = 0; i < sizeof(lbg__presets) / sizeof(lbg__presets[0]); i++) {
        if (lbg__ieq((const unsigned char *) s, len, lbg__presets[i].name,
                     strlen(lbg__presets[i].name)))
        {
            *ms = lbg__presets[i].ms;
            return 0;
        }
    }
    return -1;
}


lbg_ka_verdict_e
lbg_keepalive_verdict(uint64_t server_ms, uint64_t lb_idle_ms,
                      uint64_t margin_ms, uint64_t *required_ms)
{
    uint64_t need;

    if (lb_idle_ms == 0) {
        if (required_ms != NULL) {
            *required_ms = 0;
        }
        return LBG_KA_UNKNOWN;
    }
    need = lb_idle_ms + margin_ms;
    if (need < lb_idle_ms) {
        need = UINT64_MAX; /* saturate */
    }
    if (required_ms != NULL) {
        *required_ms = need;
    }
    if (server_ms == 0) {
        return LBG_KA_DISABLED;
    }
    return server_ms < need ? LBG_KA_RAISE : LBG_KA_OK;
}
