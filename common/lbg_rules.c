/*
 * lbg_rules.c -- the rule table, names and parsers for tiers, profiles and
 * modes, and per-profile policy defaults.
 */

#include <string.h>

#include "lbg_internal.h"


const lbg_rule_t lbg__rules[] = {
#define LBG__RULE_ROW(id, e, n, rfc, t, m, rep, fix)                         \
    {LBG_RULE_##e, n, rfc, t, m, rep, fix},
    LBG_RULES(LBG__RULE_ROW)
#undef LBG__RULE_ROW
};

#define LBG__NRULES (sizeof(lbg__rules) / sizeof(lbg__rules[0]))

const size_t lbg__nrules = LBG__NRULES;


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
                     strlen(names[i]))) {
            return i;
        }
    }
    return -1;
}


const lbg_rule_t *
lbg_rule(lbg_rule_e id)
{
    /* ids are 1..N in table order; keep the lookup robust anyway */
    if (id >= 1 && (size_t) id <= LBG__NRULES && lbg__rules[id - 1].id == id)
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


/* One row of LBG_PROFILES, indexed by the enum value. */
typedef struct {
    const char *name;
    const char *label;
    size_t      budgets[5]; /* field line, header room, header fixed,
                               field cost, fields (LBG_PROFILES) */
} lbg__profile_t;

static const lbg__profile_t lbg__profiles[LBG_PROFILE_COUNT] = {
#define LBG__PROFILE_ROW(e, v, n, l, m, fb, hr, hf, fc, nf)                  \
    [v] = {n, l, {fb, hr, hf, fc, nf}},
    LBG_PROFILES(LBG__PROFILE_ROW)
#undef LBG__PROFILE_ROW
};

/* The LBG_LB_* bits of each profile, by enum value (lbg__lb_in_profile()) */
const unsigned lbg__profile_lb[LBG_PROFILE_COUNT] = {
#define LBG__PROFILE_LB(e, v, n, l, m, fb, hr, hf, fc, nf) [v] = (m),
    LBG_PROFILES(LBG__PROFILE_LB)
#undef LBG__PROFILE_LB
};

/* The enum values in list order (the order of LBG_PROFILES). */
static const lbg_profile_e lbg__profile_order[LBG_PROFILE_COUNT] = {
#define LBG__PROFILE_ORDER(e, v, n, l, m, fb, hr, hf, fc, nf) LBG_PROFILE_##e,
    LBG_PROFILES(LBG__PROFILE_ORDER)
#undef LBG__PROFILE_ORDER
};

/* The names by enum value, for lbg__lookup. */
static const char *const lbg__profile_names[LBG_PROFILE_COUNT] = {
#define LBG__PROFILE_NAME(e, v, n, l, m, fb, hr, hf, fc, nf) [v] = n,
    LBG_PROFILES(LBG__PROFILE_NAME)
#undef LBG__PROFILE_NAME
};


int
lbg_rule_in_profile(lbg_rule_e id, lbg_profile_e profile)
{
    const lbg_rule_t *r = lbg_rule(id);

    return r != NULL && lbg__lb_in_profile(r->lb_mask, profile);
}


static const char *const lbg__tier_names[] = {"compliant", "acceptable",
                                              "ambiguous", "severe"};


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


const char *
lbg_profile_name(lbg_profile_e profile)
{
    if ((int) profile < 0 || profile >= LBG_PROFILE_COUNT) {
        return "unknown";
    }
    return lbg__profiles[profile].name;
}


const char *
lbg_profile_label(lbg_profile_e profile)
{
    if ((int) profile < 0 || profile >= LBG_PROFILE_COUNT) {
        return "unknown";
    }
    return lbg__profiles[profile].label;
}


unsigned
lbg_profile_lb_mask(lbg_profile_e profile)
{
    if ((int) profile < 0 || profile >= LBG_PROFILE_COUNT) {
        return 0;
    }
    return lbg__profile_lb[profile];
}


int
lbg_profile_at(size_t i)
{
    if (i >= (size_t) LBG_PROFILE_COUNT) {
        return -1;
    }
    return (int) lbg__profile_order[i];
}


/* Appends s to buf[0..size) at *len, keeping room for the NUL; *len
 * counts every byte, written or not. */
static void
lbg__list_put(char *buf, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s), room;

    if (size > 0 && *len < size - 1) {
        room = size - 1 - *len;
        memcpy(buf + *len, s, n < room ? n : room);
    }
    *len += n;
}


size_t
lbg_profile_list(char *buf, size_t size, const char *quote, const char *sep,
                 const char *last)
{
    size_t i, len = 0;

    for (i = 0; i < (size_t) LBG_PROFILE_COUNT; i++) {
        if (i > 0) {
            lbg__list_put(buf, size, &len,
                          i + 1 == (size_t) LBG_PROFILE_COUNT ? last : sep);
        }
        lbg__list_put(buf, size, &len, quote);
        lbg__list_put(buf, size, &len,
                      lbg__profiles[lbg__profile_order[i]].name);
        lbg__list_put(buf, size, &len, quote);
    }
    if (size > 0) {
        buf[len < size - 1 ? len : size - 1] = '\0';
    }
    return len;
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


static const char *const lbg__mode_names[] = {"off", "detect", "repair"};


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
    if ((int) profile < 0 || profile >= LBG_PROFILE_COUNT) {
        profile = LBG_PROFILE_STRICTEST;
    }
    p->mode = LBG_MODE_REPAIR;
    p->profile = profile;
    p->max_field_bytes = lbg__profiles[profile].budgets[0];
    /* the LB's own bytes less those it adds once: the rest are wire bytes
     * and header_field_cost per field line (lbg_header_over()) */
    p->max_header_bytes = lbg__profiles[profile].budgets[1]
                          - lbg__profiles[profile].budgets[2];
    p->header_field_cost = lbg__profiles[profile].budgets[3];
    p->max_fields = lbg__profiles[profile].budgets[4];
}


void
lbg_policy_header_budget(lbg_policy_t *p, size_t bytes)
{
    p->max_header_bytes = bytes;
    p->header_field_cost = 0; /* the directive counts wire bytes */
    if (p->max_field_bytes > bytes) {
        p->max_field_bytes = bytes;
    }
}
