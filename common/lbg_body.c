/*
 * lbg_body.c -- the body guard: the one body verdict (pass / cut / close)
 * on a framing verdict and the bytes seen (RFC 9112 6.2, 6.3, 8), and the
 * adapters' tracker lbg_body_t built on it.
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


lbg_body_verdict_e
lbg_body_verdict(lbg_framing_e framing, int64_t declared, int64_t seen,
                 int at_end)
{
    if (framing == LBG_FRAMING_NONE) {
        return seen > 0 ? LBG_BODY_CUT : LBG_BODY_PASS;
    }
    if (framing != LBG_FRAMING_LENGTH || declared < 0) {
        return LBG_BODY_PASS;
    }
    if (seen > declared) {
        return LBG_BODY_CUT;
    }
    return at_end && seen < declared ? LBG_BODY_CLOSE : LBG_BODY_PASS;
}


lbg_rule_e
lbg_body_rule(const lbg_body_t *b, int at_end)
{
    lbg_framing_e framing = b->bodiless        ? LBG_FRAMING_NONE
                            : b->declared >= 0 ? LBG_FRAMING_LENGTH
                                               : LBG_FRAMING_CLOSE;

    switch (lbg_body_verdict(framing, b->declared, b->sent, at_end)) {
    case LBG_BODY_CUT:
        return framing == LBG_FRAMING_NONE ? LBG_RULE_BODY_ON_BODILESS
                                           : LBG_RULE_BODY_LONGER;
    case LBG_BODY_CLOSE: return LBG_RULE_BODY_SHORTER;
    default: return LBG_RULE_NONE;
    }
}


lbg_rule_e
lbg_body_finding(const lbg_body_t *b, int at_end, lbg_finding_t *f)
{
    lbg_rule_e rule = lbg_body_rule(b, at_end);

    if (rule == LBG_RULE_NONE) {
        return rule;
    }
    f->rule = rule;
    f->field = LBG_NO_FIELD;
    f->at = NULL;
    f->at_len = 0;
    f->n1 = b->declared;
    f->n2 = b->sent;
    f->after_repair = 0;
    f->at_least = !at_end && rule != LBG_RULE_BODY_SHORTER;
    f->bad_gateway = 0;
    return rule;
}
