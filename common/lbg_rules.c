/*
 * lbg_rules.c -- the rule table, names and parsers for tiers, profiles and
 * modes, and per-profile policy defaults.
 */

#include <string.h>

#include "lbg_internal.h"


static const lbg_rule_t lbg__rules[] = {
#define LBG__RULE_ROW(id, e, n, rfc, t, m, rep) \
    { LBG_RULE_##e, n, rfc, t, m, rep },
    LBG_RULES(LBG__RULE_ROW)
#undef LBG__RULE_ROW
};

#define LBG__NRULES (sizeof(lbg__rules) / sizeof(lbg__rules[0]))


int
lbg__ieq(const unsigned char *a, size_t alen, const char *b, size_t blen)
{
    size_t i;

    if (alen != blen) {
        return 0;
    }
    for (i = 0; i < alen; i++) {
        if (lbg__lower(a[i]) != (unsigned char) b[i]) {
            return 0;
        }
    }
    return 1;
}


/* Finds s[0..len) among names[0..n) ignoring ASCII case; returns the
 * index or -1. The names are lower case. */
static int
lbg__lookup(const char *const *names, int n, const char *s, size_t len)
{
    int i;

    if (s == NULL) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (lbg__ieq((const unsigned char *) s, len, names[i],
                     strlen(names[i])))
        {
            return i;
        }
    }
    return -1;
}


const lbg_rule_t *
lbg_rule(lbg_rule_e id)
{
    /* ids are 1..N in table order; keep the lookup robust anyway */
    if (id >= 1 && (size_t) id <= LBG__NRULES
        && lbg__rules[id - 1].id == id)
    {
        return &lbg__rules[id - 1];
    }
    return NULL;
}


const char *
lbg_rule_name(lbg_rule_e id)
{
    const lbg_rule_t *r = lbg_rule(id);

    return r ? r->name : "unknown";
}


static const unsigned lbg__profile_lb[LBG_PROFILE_COUNT] = {
    LBG_LB_ALL, LBG_LB_HAPROXY, LBG_LB_NGINX, LBG_LB_ENVOY, LBG_LB_LLHTTP,
    LBG_LB_AWS_ALB, LBG_LB_NGINX_122
};


int
lbg_rule_in_profile(lbg_rule_e id, lbg_profile_e profile)
{
    const lbg_rule_t *r = lbg_rule(id);

    if (r == NULL || (int) profile < 0 || profile >= LBG_PROFILE_COUNT) {
        return 0;
    }
    if (profile == LBG_PROFILE_STRICTEST) {
        return 1;
    }
    return (r->lb_mask & lbg__profile_lb[profile]) != 0;
}


static const char *const lbg__tier_names[] = {
    "compliant", "acceptable", "ambiguous", "severe"
};


const char *
lbg_tier_name(lbg_tier_e tier)
{
    if ((int) tier < 0 || tier > LBG_TIER_SEVERE) {
        return "unknown";
    }
    return lbg__tier_names[tier];
}


int
lbg_tier_parse(const char *s, size_t len, lbg_tier_e *out)
{
    int i = lbg__lookup(lbg__tier_names, 4, s, len);

    if (i < 0) {
        return -1;
    }
    *out = (lbg_tier_e) i;
    return 0;
}


static const char *const lbg__profile_names[LBG_PROFILE_COUNT] = {
    "strictest", "haproxy", "nginx", "envoy", "llhttp", "aws-alb", "nginx-1.22"
};


const char *
lbg_profile_name(lbg_profile_e profile)
{
    if ((int) profile < 0 || profile >= LBG_PROFILE_COUNT) {
        return "unknown";
    }
    return lbg__profile_names[profile];
}


int
lbg_profile_parse(const char *s, size_t len, lbg_profile_e *out)
{
    int i = lbg__lookup(lbg__profile_names, LBG_PROFILE_COUNT, s, len);

    if (i < 0) {
        return -1;
    }
    *out = (lbg_profile_e) i;
    return 0;
}


static const char *const lbg__mode_names[] = { "off", "detect", "repair" };


const char *
lbg_mode_name(lbg_mode_e mode)
{
    if ((int) mode < 0 || mode > LBG_MODE_REPAIR) {
        return "unknown";
    }
    return lbg__mode_names[mode];
}


int
lbg_mode_parse(const char *s, size_t len, lbg_mode_e *out)
{
    int i = lbg__lookup(lbg__mode_names, 3, s, len);

    if (i < 0) {
        return -1;
    }
    *out = (lbg_mode_e) i;
    return 0;
}


void
lbg_policy_init(lbg_policy_t *p, lbg_profile_e profile)
{
    /* per profile: field line bytes, header section bytes, field count */
    static const size_t budgets[LBG_PROFILE_COUNT][3] = {
        { 4096, 4096, 100 },    /* strictest: the minimum of all below */
        { 16384, 16384, 101 },  /* haproxy: tune.bufsize, tune.http.maxhdr */
        { 4096, 4096, 0 },      /* nginx: proxy_buffer_size (one page) */
        { 81920, 81920, 100 },  /* envoy: 80 KiB, max_headers_count */
        { 16384, 16384, 0 },    /* llhttp: --max-http-header-size */
        { 16384, 32768, 0 },    /* aws-alb: 16K per field, 32K in total */
        { 4096, 4096, 0 }       /* nginx-1.22: as nginx */
    };

    if ((int) profile < 0 || profile >= LBG_PROFILE_COUNT) {
        profile = LBG_PROFILE_STRICTEST;
    }
    p->mode = LBG_MODE_REPAIR;
    p->profile = profile;
    p->max_field_bytes = budgets[profile][0];
    p->max_header_bytes = budgets[profile][1];
    p->max_fields = budgets[profile][2];
}


void
lbg_policy_header_budget(lbg_policy_t *p, size_t bytes)
{
    p->max_header_bytes = bytes;
    if (p->max_field_bytes > bytes) {
        p->max_field_bytes = bytes;
    }
}


static const struct {
    const char *name;
    uint64_t    ms;
} lbg__presets[] = {
    { "aws-alb", 60000 },   /* ALB user guide: default idle timeout 60 s */
    { "aws-clb", 60000 },   /* CLB user guide: default idle timeout 60 s */
    { "gcp", 600000 },      /* GCP external ALB: backend keep-alive 600 s */
    { "oci", 310000 }       /* OCI LB: backend must keep >= 310 s */
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
