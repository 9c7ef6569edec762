/*
 * lbg_body.c -- the body guard (declared framing vs bytes sent, RFC 9112
 * 6.2, 6.3, 8) and the keep-alive policy (RFC 9112 9.6).
 */

#include "lbg_internal.h"


void
lbg_body_init(lbg_body_t *b, int64_t declared, int bodiless)
{
    b->declared = declared < 0 ? -1 : declared;
    b->sent = 0;
    b->bodiless = bodiless ? 1 : 0;
    b->over = 0;
}


size_t
lbg_body_feed(lbg_body_t *b, size_t len)
{
    int64_t room;
    size_t  fit;

    if (len == 0) {
        return 0;
    }
    if (b->bodiless) {
        room = 0;
    } else if (b->declared < 0) {
        room = INT64_MAX;
    } else {
        room = b->declared - b->sent;
        if (room < 0) {
            room = 0;
        }
    }
    fit = (uint64_t) room < (uint64_t) len ? (size_t) room : len;
    if (fit < len) {
        b->over = 1;
    }
    if ((uint64_t) len > (uint64_t) (INT64_MAX - b->sent)) {
        b->sent = INT64_MAX;
    } else {
        b->sent += (int64_t) len;
    }
    return fit;
}


lbg_rule_e
lbg_body_rule(const lbg_body_t *b, int at_end)
{
    if (b->bodiless) {
        return b->sent > 0 ? LBG_RULE_BODY_ON_BODILESS : LBG_RULE_NONE;
    }
    if (b->declared < 0) {
        return LBG_RULE_NONE;
    }
    if (b->sent > b->declared) {
        return LBG_RULE_BODY_LONGER;
    }
    if (at_end && b->sent < b->declared) {
        return LBG_RULE_BODY_SHORTER;
    }
    return LBG_RULE_NONE;
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
