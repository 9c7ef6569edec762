/*
 * lbg_quick.c -- the out-of-line halves of the quick pass (lbg_quick.h):
 * lbg__quick_slow(), the exact checks of one field the inline code does
 * not vouch for, and lbg__quick_end(), the exact end of a pass. They
 * restate lbg_check()'s acceptance criterion (lbg_check.c) for a response
 * with nothing to report; test_quick.c and the fuzzer hold the two to the
 * contract in lbg_quick.h.
 */

#include "lbg_internal.h"
#include "lbg_quick.h"


unsigned
lbg__quick_slow(const unsigned char *name, size_t name_len,
                const unsigned char *value, size_t value_len, int trusted)
{
    int k;

    if (!trusted
        && !(lbg_scan_name(name, name_len)
             && lbg_scan_value(value, value_len)))
    {
        return LBG_QUICK_DIRTY;
    }
    if (name_len != 14 && name_len != 17) {
        return 0;
    }
    k = lbg__framing_name(name, name_len);
    if (k == LBG__K_CL) {
        /* lbg_check's own fast path: one Content-Length, host-made or
         * 1*DIGIT */
        if (!trusted && lbg_content_length_parse(value, value_len) < 0) {
            return LBG_QUICK_CL | LBG_QUICK_DIRTY;
        }
        return LBG_QUICK_CL;
    }
    if (k == LBG__K_TE) {
        /* exactly "chunked": one coding, chunked, final */
        if (!lbg__ieq(value, value_len, "chunked", 7)) {
            return LBG_QUICK_TE | LBG_QUICK_DIRTY;
        }
        return LBG_QUICK_TE;
    }
    return 0;
}


int
lbg__quick_end(const lbg_policy_t *p, const lbg_quick_t *q, int status,
               const unsigned char *status_line, size_t status_line_len)
{
    const unsigned char *s = status_line;
    size_t               n = status_line_len;
    int                  code;

    if (p->mode == LBG_MODE_OFF) {
        return 1;
    }
    if (q->dirty) {
        return 0;
    }

    /* the status line, as lbg__check_status() */
    if (s == NULL) {
        if (status < 100 || status > 599) {
            return 0;
        }
    } else {
        code = lbg__status_code(s, n);
        if (code < 100 || code > 599
            || (n > 4 && !lbg_scan_value(s + 4, n - 4))) {
            return 0;
        }
    }

    /* a 1xx: a 101's Upgrade field is lbg_check's, any other 1xx sent as
     * the final response is lbg_check_interim()'s (RFC 9110 15.2) */
    if (status >= 100 && status <= 199) {
        return 0;
    }

    /* the message framing: lbg_check's fast path, or a lone "chunked"
     * among no more fields than lbg_check classifies */
    if (q->ncl + q->nte) {
        if (status < 200 || status == 204 || q->ncl + q->nte > 1
            || (q->nte && q->nfields > LBG__KIND_MAX))
        {
            return 0;
        }
    }

    /* the budgets, with the exact length of the status line */
    return lbg__q_fits(p, q,
                       s != NULL ? 9 + n + 2
                                 : lbg__host_status_line_len(status));
}
