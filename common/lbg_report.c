/*
 * lbg_report.c -- the report's bookkeeping: lbg_report_init(), findings
 * filtered by the policy's profile (lbg__finding, lbg_report_add), edits
 * without duplicates (lbg__edit), and the report's summary flags (worst
 * tier, truncated, close, no_body, unrepairable).
 */

#include "lbg_internal.h"


void
lbg_report_init(lbg_report_t *rep, lbg_finding_t *findings,
                size_t findings_cap, lbg_edit_t *edits, size_t edits_cap)
{
    rep->findings = findings;
    rep->nfindings = 0;
    rep->findings_cap = findings ? findings_cap : 0;
    rep->edits = edits;
    rep->nedits = 0;
    rep->edits_cap = edits ? edits_cap : 0;
    rep->worst = LBG_TIER_COMPLIANT;
    rep->truncated = 0;
    rep->close = 0;
    rep->no_body = 0;
    rep->unrepairable = 0;
    rep->framing = LBG_FRAMING_CLOSE;
    rep->declared = -1;
}


int
lbg__finding_profile(const lbg_policy_t *p, const lbg_rule_t *r,
                     lbg_report_t *rep, lbg_rule_e rule, size_t field,
                     const unsigned char *at, size_t at_len, int64_t n1,
                     int64_t n2)
{
    if (!lbg_rule_in_profile(rule, p->profile)) {
        return 0;
    }
    return lbg__finding_add(r, rep, rule, field, at, at_len, n1, n2);
}


int
lbg__finding(const lbg_policy_t *p, lbg_report_t *rep, lbg_rule_e rule,
             size_t field, const unsigned char *at, size_t at_len, int64_t n1,
             int64_t n2)
{
    return lbg__finding_inline(p, rep, rule, field, at, at_len, n1, n2);
}


int
lbg_report_add(const lbg_policy_t *p, lbg_report_t *rep,
               const lbg_finding_t *f)
{
    return lbg__finding(p, rep, f->rule, f->field, f->at, f->at_len, f->n1,
                        f->n2);
}


void
lbg__edit(lbg_report_t *rep, lbg_edit_op_e op, size_t field, int status,
          const unsigned char *value, size_t value_len)
{
    lbg__edit_inline(rep, op, field, status, value, value_len);
}


void
lbg__field_edits(const lbg_report_t *rep, size_t field, int *removed,
                 int *sanitized, const lbg_edit_t **set)
{
    const lbg_edit_t *ed;
    size_t            k;

    *removed = 0;
    *sanitized = 0;
    *set = NULL;
    for (k = 0; k < rep->nedits; k++) {
        ed = &rep->edits[k];
        if (ed->field != field) {
            continue;
        }
        if (ed->op == LBG_EDIT_REMOVE) {
            *removed = 1;
        } else if (ed->op == LBG_EDIT_SANITIZE) {
            *sanitized = 1;
        } else if (ed->op == LBG_EDIT_SET) {
            *set = ed;
        }
    }
}
