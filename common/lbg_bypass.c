/*
 * lbg_bypass.c -- issue 9: the paths by which a response byte could reach
 * the load balancer without passing the rules: an upstream status line
 * that is not HTTP/1.x (nginx's HTTP/0.9 fallback), and 101 Switching
 * Protocols without an upgrade. Both are repaired by the target's own 502
 * Bad Gateway (LBG_EDIT_BAD_GATEWAY), so that the load balancer passes on
 * a 502 that the target's logs explain.
 */

#include "lbg_internal.h"


int
lbg_report_bad_gateway(const lbg_report_t *rep)
{
    size_t i;

    for (i = 0; i < rep->nedits; i++) {
        if (rep->edits[i].op == LBG_EDIT_BAD_GATEWAY) {
            return 1;
        }
    }
    return 0;
}


int
lbg_check_upstream_status(const lbg_policy_t *p, const unsigned char *at,
                          size_t at_len, lbg_report_t *rep)
{
    if (!lbg__finding(p, rep, LBG_RULE_UPSTREAM_STATUS_LINE_INVALID,
                      LBG_NO_FIELD, at, at != NULL ? at_len : 0,
                      (int64_t) at_len, 0))
    {
        return 0;
    }
    lbg__edit(rep, LBG_EDIT_BAD_GATEWAY, LBG_NO_FIELD, 502, NULL, 0);
    lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
    return 1;
}


int
lbg_check_switching(const lbg_policy_t *p, lbg_report_t *rep)
{
    lbg_policy_t q = *p;

    /* HAProxy 2.6 refuses a 101 to a request that asked for no upgrade
     * (502, termination state PH; tests/integration/test_bypass_proxy.py,
     * case 089 through nginx), although it passes on a 101 without an
     * Upgrade field to a request that asked for one (the rule's lb_mask,
     * lbg__check_101): the haproxy profile acts on this one */
    if (q.profile == LBG_PROFILE_HAPROXY) {
        q.profile = LBG_PROFILE_STRICTEST;
    }
    if (!lbg__finding(&q, rep, LBG_RULE_SWITCHING_WITHOUT_UPGRADE,
                      LBG_NO_FIELD, NULL, 0, 1, 0))
    {
        return 0;
    }
    lbg__edit(rep, LBG_EDIT_BAD_GATEWAY, LBG_NO_FIELD, 502, NULL, 0);
    lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
    return 1;
}


int
lbg_check_interim(const lbg_policy_t *p, int status, lbg_report_t *rep)
{
    if (!lbg_interim(status)
        || !lbg__finding(p, rep, LBG_RULE_INTERIM_AS_FINAL, LBG_NO_FIELD,
                         NULL, 0, status, 0))
    {
        return 0;
    }
    lbg__edit(rep, LBG_EDIT_BAD_GATEWAY, LBG_NO_FIELD, 502, NULL, 0);
    lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
    return 1;
}


size_t
lbg_check_te_not_applied(const lbg_policy_t *p, const lbg_response_t *r,
                         lbg_report_t *rep)
{
    size_t             i, n = 0;
    const lbg_field_t *f;

    if (lbg_response_bodiless(r)) {
        /* no body to frame: framing-on-bodiless-status covers the field */
        return 0;
    }
    for (i = 0; i < r->nfields; i++) {
        f = &r->fields[i];
        if (f->trusted || f->name_len != 17
            || !lbg__ieq(f->name, 17, "transfer-encoding", 17))
        {
            continue;
        }
        if (lbg__finding(p, rep, LBG_RULE_TE_NOT_APPLIED, i, f->value,
                         f->value_len, 0, 0))
        {
            lbg__edit(rep, LBG_EDIT_REMOVE, i, 0, NULL, 0);
            lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
            n++;
        }
    }
    return n;
}


void
lbg__check_101(const lbg_policy_t *p, const lbg_response_t *r,
               lbg_report_t *rep)
{
    size_t i;

    for (i = 0; i < r->nfields; i++) {
        if (r->fields[i].name_len == 7
            && lbg__ieq(r->fields[i].name, 7, "upgrade", 7))
        {
            return;
        }
    }
    if (lbg__finding(p, rep, LBG_RULE_SWITCHING_WITHOUT_UPGRADE, LBG_NO_FIELD,
                     NULL, 0, 0, 0))
    {
        lbg__edit(rep, LBG_EDIT_BAD_GATEWAY, LBG_NO_FIELD, 502, NULL, 0);
        lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
    }
}
