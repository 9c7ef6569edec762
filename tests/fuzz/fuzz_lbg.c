/*
 * fuzz_lbg.c -- libFuzzer target for the raw parser and the repair.
 *
 * Input: one control byte, then the raw response bytes; except that an
 * input starting with 'H' is all response with control byte 0, so that the
 * corpus (tests/cases, the .http files) seeds it as is (a byte inserted in front of a
 * seed then explores the other settings). Control bits:
 *   bits 0-2  profile (mod LBG_PROFILE_COUNT)
 *   bit  3    the response answers a HEAD request
 *   bit  4    small budgets (64-byte field, 256-byte header, 4 fields)
 *   bit  5    a small fields[] (4) and a small report (4 findings, 4 edits)
 *   bit  6    detect mode instead of repair
 *   bit  7    the quick pass treats every other field as host-made
 *             (`trusted`)
 *
 * For every input: lbg_parse (which runs lbg_check), lbg_finding_format and
 * lbg_report_summary on every finding, then lbg_repair_raw into a buffer of
 * 2 * len + 256 bytes. When the report is complete and repairable, the
 * output must parse with no finding under the same profile and budgets,
 * and repairing it again must give the same bytes; otherwise abort().
 * The quick pass over the parsed view must keep its contract: when
 * lbg_quick_clean() says clean, lbg_check() finds nothing and edits
 * nothing, under this policy and under the strictest profile, and
 * lbg_check_interim() finds nothing on its status.
 *
 * Run: see tests/fuzz/README.md.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbg_quick.h"
#include "lbg_raw.h"

#define FIELDS_BIG 256

static void
die(const char *what, const lbg_report_t *rep)
{
    size_t i;

    fprintf(stderr, "fuzz_lbg: %s; findings:", what);
    for (i = 0; rep != NULL && i < rep->nfindings; i++) {
        fprintf(stderr, " %s", lbg_rule_name(rep->findings[i].rule));
    }
    fprintf(stderr, "\n");
    abort();
}

/* The quick pass's contract on view v (see lbg.h). */
static void
quick_contract(const lbg_policy_t *p, const lbg_response_t *v, int trust)
{
    static lbg_field_t fields[FIELDS_BIG];
    lbg_finding_t      f[LBG_FINDINGS_MAX];
    lbg_edit_t         e[LBG_EDITS_MAX];
    lbg_report_t       rep;
    lbg_response_t     r = *v;
    lbg_policy_t       strict = *p;
    lbg_quick_t        q;
    size_t             i;

    lbg_quick_init(&q);
    for (i = 0; i < v->nfields && i < FIELDS_BIG; i++) {
        fields[i] = v->fields[i];
        fields[i].trusted = trust && (i & 1);
        lbg_quick_field(&q, fields[i].name, fields[i].name_len,
                        fields[i].value, fields[i].value_len,
                        fields[i].trusted);
    }
    r.fields = fields;
    if (!lbg_quick_clean(p, &q, r.status, r.status_line, r.status_line_len)) {
        return;
    }
    strict.profile = LBG_PROFILE_STRICTEST;
    strict.mode = LBG_MODE_REPAIR;
    lbg_report_init(&rep, f, LBG_FINDINGS_MAX, e, LBG_EDITS_MAX);
    if (lbg_check(p, &r, &rep) != 0 || rep.nedits != 0
        || lbg_check(&strict, &r, &rep) != 0 || rep.nedits != 0
        || lbg_check_interim(&strict, r.status, &rep) != 0)
    {
        die("lbg_quick_clean said clean, lbg_check or lbg_check_interim "
            "disagrees",
            &rep);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lbg_field_t   fields[FIELDS_BIG], fields2[FIELDS_BIG];
    static lbg_finding_t f[LBG_FINDINGS_MAX], f2[LBG_FINDINGS_MAX];
    static lbg_edit_t    e[LBG_EDITS_MAX], e2[LBG_EDITS_MAX];
    lbg_policy_t         p;
    lbg_report_t         rep, rep2;
    lbg_raw_t            raw, raw2;
    unsigned char       *out, *out2, *in;
    size_t               len, cap, n, n2, i, fcap, rcap, ecap;
    char                 line[512];
    unsigned             ctl;
    int                  head, rc;

    if (size < 1) {
        return 0;
    }
    if (data[0] == 'H') {
        ctl = 0;
    } else {
        ctl = data[0];
        data++;
        size--;
    }
    len = size;
    /* an exact-size heap copy, so ASan sees any read past len */
    in = malloc(len ? len : 1);
    if (in == NULL) {
        return 0;
    }
    memcpy(in, data, len);

    lbg_policy_init(&p, (lbg_profile_e) ((ctl & 7u) % LBG_PROFILE_COUNT));
    head = (ctl >> 3) & 1;
    if (ctl & 0x10u) {
        p.max_field_bytes = 64;
        p.max_header_bytes = 256;
        p.max_fields = 4;
    }
    fcap = (ctl & 0x20u) ? 4 : FIELDS_BIG;
    rcap = (ctl & 0x20u) ? 4 : LBG_FINDINGS_MAX;
    ecap = (ctl & 0x20u) ? 4 : LBG_EDITS_MAX;
    if (ctl & 0x40u) {
        p.mode = LBG_MODE_DETECT;
    }

    lbg_report_init(&rep, f, rcap, e, ecap);
    rc = lbg_parse(&p, in, len, head, fields, fcap, &raw, &rep);
    if (rc != 0 && rc != -1) {
        die("lbg_parse returned neither 0 nor -1", &rep);
    }
    if (rep.nfindings > rcap || rep.nedits > ecap) {
        die("report overflow", &rep);
    }
    if (rep.truncated && !rep.close) {
        die("truncated report without close", &rep);
    }
    for (i = 0; i < rep.nfindings; i++) {
        if (lbg_rule(rep.findings[i].rule) == NULL) {
            die("finding of no rule", &rep);
        }
        if (!lbg_rule_in_profile(rep.findings[i].rule, p.profile)) {
            die("finding outside the profile", &rep);
        }
        if (rep.findings[i].at != NULL
            && (rep.findings[i].at < in
                || rep.findings[i].at + rep.findings[i].at_len > in + len))
        {
            die("finding points outside the input", &rep);
        }
        n = lbg_finding_format(&raw.view, &rep.findings[i], (int) (i & 1),
                               line, sizeof(line));
        if (n >= sizeof(line) || strlen(line) != n) {
            die("lbg_finding_format length", &rep);
        }
    }
    n = lbg_report_summary(&rep, p.mode, line, sizeof(line));
    if (n >= sizeof(line) || strlen(line) != n) {
        die("lbg_report_summary length", &rep);
    }
    if (rc == 0 && fcap == FIELDS_BIG) {
        quick_contract(&p, &raw.view, (ctl & 0x80u) != 0);
    }
    if (rc != 0) {
        free(in);
        return 0;
    }

    cap = 2 * len + 256;
    out = malloc(cap);
    if (out == NULL) {
        free(in);
        return 0;
    }
    n = lbg_repair_raw(&raw, &rep, out, cap);
    if (n == (size_t) -1) {
        die("2 * len + 256 bytes did not suffice", &rep);
    }
    if (n > cap) {
        die("lbg_repair_raw wrote past out_cap", &rep);
    }
    /* one byte short must fail cleanly */
    if (n > 0 && lbg_repair_raw(&raw, &rep, out, n - 1) != (size_t) -1) {
        die("lbg_repair_raw fit in fewer bytes than it returned", &rep);
    }
    n = lbg_repair_raw(&raw, &rep, out, cap);

    /* The invariant, when the whole report was recorded and every finding
     * has a repair (detect mode records the same edits). */
    if (!rep.truncated && !rep.unrepairable && fcap == FIELDS_BIG) {
        lbg_report_init(&rep2, f2, LBG_FINDINGS_MAX, e2, LBG_EDITS_MAX);
        if (lbg_parse(&p, out, n, head, fields2, FIELDS_BIG, &raw2, &rep2)
            != 0) {
            die("repaired output does not parse", &rep2);
        }
        if (rep2.nfindings != 0) {
            die("repaired output has findings", &rep2);
        }
        cap = 2 * n + 256;
        out2 = malloc(cap);
        if (out2 != NULL) {
            n2 = lbg_repair_raw(&raw2, &rep2, out2, cap);
            if (n2 != n || memcmp(out, out2, n) != 0) {
                die("repair is not idempotent", &rep2);
            }
            free(out2);
        }
    }
    free(out);
    free(in);
    return 0;
}
