/*
 * lbguard_report.c -- the analysis and report layer shared by `check`,
 * `repair` and `probe`: one lbg_parse of a raw response with arrays sized
 * for it (lbguard_analyse), the --fail-on test, and the findings printed
 * as text or JSON members.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbguard_cli.h"


/* Escaped offending bytes and log lines: bytes of input shown at most. */
#define LBGUARD_SHOW_BYTES 64

/* Capacity of fields[] at least (lbg_parse records lines beyond it as
 * too-many-fields); findings and edits are capped (a truncated report is
 * never repaired). */
#define LBGUARD_FIELDS_MIN   1024
#define LBGUARD_FINDINGS_CAP 65536


/* Number of lines before the first empty line (the header section's
 * lines), or of all lines when there is none. */
static size_t
lbguard_header_lines(const unsigned char *buf, size_t len)
{
    const unsigned char *p = buf, *end = buf + len, *lf;
    size_t               lines = 0;

    while (p < end) {
        lf = memchr(p, '\n', (size_t) (end - p));
        lines++;
        if (lf == NULL) {
            break;
        }
        p = lf + 1;
        if (p < end && *p == '\n') {
            break;
        }
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            break;
        }
    }
    return lines;
}


int
lbguard_analyse(const char *cmd, lbguard_result_t *res, lbg_profile_e profile,
                const unsigned char *buf, size_t len, int head)
{
    size_t fcap;

    memset(res, 0, sizeof(*res));
    res->fields_cap = lbguard_header_lines(buf, len) + 1;
    if (res->fields_cap < LBGUARD_FIELDS_MIN) {
        res->fields_cap = LBGUARD_FIELDS_MIN;
    }
    fcap = res->fields_cap * 2 + 64;
    if (fcap > LBGUARD_FINDINGS_CAP) {
        fcap = LBGUARD_FINDINGS_CAP;
    }
    res->fields = calloc(res->fields_cap, sizeof(lbg_field_t));
    res->findings = calloc(fcap, sizeof(lbg_finding_t));
    res->edits = calloc(fcap * 2, sizeof(lbg_edit_t));
    if (res->fields == NULL || res->findings == NULL || res->edits == NULL) {
        lbguard_err(cmd, "out of memory");
        lbguard_result_free(res);
        return -1;
    }
    lbg_policy_init(&res->policy, profile);
    lbg_report_init(&res->rep, res->findings, fcap, res->edits, fcap * 2);
    res->parse_rc = lbg_parse(&res->policy, buf, len, head, res->fields,
                              res->fields_cap, &res->raw, &res->rep);
    return 0;
}


void
lbguard_result_free(lbguard_result_t *res)
{
    free(res->fields);
    free(res->findings);
    free(res->edits);
    res->fields = NULL;
    res->findings = NULL;
    res->edits = NULL;
}


int
lbguard_fails(const lbguard_result_t *res, lbg_tier_e fail_on)
{
    const lbg_rule_t *rule;
    size_t            i;

    if (fail_on != LBGUARD_FAIL_REJECTED) {
        return res->rep.nfindings > 0 && res->rep.worst >= fail_on;
    }
    /* the default (issue 9): whatever the profile's load balancers reject
     * (lbg_parse records only those), whatever its tier; under strictest,
     * what any load balancer rejects, and anything ambiguous or worse */
    if (res->rep.truncated) {
        return 1;
    }
    for (i = 0; i < res->rep.nfindings; i++) {
        rule = lbg_rule(res->rep.findings[i].rule);
        if (rule == NULL || rule->tier >= LBG_TIER_AMBIGUOUS
            || res->policy.profile != LBG_PROFILE_STRICTEST
            || (rule->lb_mask & LBG_LB_ALL) != 0)
        {
            return 1;
        }
    }
    return 0;
}


static const char *
lbguard_framing_name(lbg_framing_e f)
{
    switch (f) {
    case LBG_FRAMING_NONE: return "none";
    case LBG_FRAMING_LENGTH: return "content-length";
    case LBG_FRAMING_CHUNKED: return "chunked";
    case LBG_FRAMING_CLOSE: return "close";
    }
    return "unknown";
}


/* Where a finding's bytes are: 1 and *off when f->at lies inside
 * buf[0..len], else 0. Compared as integers: no pointer arithmetic on
 * pointers that may not be inside buf. */
static int
lbguard_offset(const lbg_finding_t *f, const unsigned char *buf, size_t len,
               size_t *off)
{
    uintptr_t a = (uintptr_t) f->at, b = (uintptr_t) buf;

    if (f->at == NULL || a < b || a - b > len) {
        return 0;
    }
    *off = (size_t) (a - b);
    return 1;
}


/* Line numbers (1-based) by counting LFs, resumable: findings come mostly
 * in wire order, so the count usually continues from the previous one. */
typedef struct {
    size_t off;
    size_t line;
} lbguard_lines_t;

static size_t
lbguard_line_at(lbguard_lines_t *lc, const unsigned char *buf, size_t off)
{
    const unsigned char *p, *end, *lf;

    if (off < lc->off) {
        lc->off = 0;
        lc->line = 1;
    }
    p = buf + lc->off;
    end = buf + off;
    while (p < end && (lf = memchr(p, '\n', (size_t) (end - p))) != NULL) {
        lc->line++;
        p = lf + 1;
    }
    lc->off = off;
    return lc->line;
}


/* What both reports say of one finding. */
typedef struct {
    const lbg_rule_t *rule;    /* NULL for an unknown id */
    int               has_off; /* its bytes lie in the response */
    size_t            off;     /* their offset, bytes (has_off) */
    size_t            line;    /* their line, 1-based (has_off) */
    char              esc[LBGUARD_SHOW_BYTES * 4 + 8]; /* escaped bytes */
    char              msg[1024]; /* lbg_finding_format()'s log line */
} lbguard_facts_t;

/* Fills fx for finding f of res over the raw response buf[0..len); lc
 * carries the line count from the previous finding. */
static void
lbguard_finding_facts(lbguard_facts_t *fx, lbguard_lines_t *lc,
                      const lbguard_result_t *res, const lbg_finding_t *f,
                      const unsigned char *buf, size_t len, int repaired)
{
    size_t n;

    fx->rule = lbg_rule(f->rule);
    fx->off = 0;
    fx->has_off = lbguard_offset(f, buf, len, &fx->off);
    fx->line = fx->has_off ? lbguard_line_at(lc, buf, fx->off) : 0;
    n = fx->has_off ? f->at_len : 0;
    if (fx->has_off && n > len - fx->off) {
        n = len - fx->off;
    }
    lbg_escape(fx->has_off ? f->at : (const unsigned char *) "", n,
               LBGUARD_SHOW_BYTES, fx->esc, sizeof(fx->esc));
    lbg_finding_format(&res->raw.view, f, repaired, fx->msg, sizeof(fx->msg));
}


void
lbguard_print_findings(FILE *out, const char *label,
                       const lbguard_result_t *res, const unsigned char *buf,
                       size_t len, int repaired)
{
    const lbg_report_t  *rep = &res->rep;
    const lbg_finding_t *f;
    lbguard_lines_t      lc = {0, 1};
    lbguard_facts_t      fx;
    size_t               i;

    if (rep->nfindings == 0) {
        fprintf(out, "%s: no findings (profile %s)\n", label,
                lbg_profile_name(res->policy.profile));
    } else {
        fprintf(out, "%s: %lu finding%s (profile %s), worst tier %s\n", label,
                (unsigned long) rep->nfindings,
                rep->nfindings == 1 ? "" : "s",
                lbg_profile_name(res->policy.profile),
                lbg_tier_name(rep->worst));
        if (res->parse_rc != 0) {
            /* lbg_parse(): empty, cut before the status line's end, or
             * no "HTTP/" */
            fprintf(out, "  %s\n",
                    len == 0 ? "empty: no status line"
                    : rep->findings[0].rule == LBG_RULE_HEADER_INCOMPLETE
                        ? "incomplete: the input ends in the status line"
                        : "not an HTTP/1.x response: no status line");
        }
    }

    for (i = 0; i < rep->nfindings; i++) {
        f = &rep->findings[i];
        lbguard_finding_facts(&fx, &lc, res, f, buf, len, repaired);

        fprintf(out, "  %-10s #%d %s",
                fx.rule ? lbg_tier_name(fx.rule->tier) : "", (int) f->rule,
                lbg_rule_name(f->rule));
        if (fx.has_off) {
            fprintf(out, " at line %lu, byte %lu\n", (unsigned long) fx.line,
                    (unsigned long) fx.off);
            fprintf(out, "      bytes:       \"%s\"\n", fx.esc);
        } else {
            fputs(" (no offending bytes)\n", out);
        }
        fprintf(out, "      log:         %s\n", fx.msg);
        fputs("      rejected by: ", out);
        lbguard_print_lbs(out, fx.rule ? fx.rule->lb_mask : 0, 0);
        fprintf(out, "\n      repair:      %s (%s)\n",
                fx.rule ? lbg_finding_repair(f) : "",
                fx.rule ? fx.rule->rfc : "");
    }

    if (rep->truncated) {
        fprintf(out, "  ... more findings were not recorded (report full)\n");
    }
    if (rep->nfindings > 0) {
        fprintf(out, "  repair: %s%s%s\n",
                rep->unrepairable ? "cannot make this response conformant"
                                  : "makes this response conformant",
                rep->close ? "; connection closed after it" : "",
                rep->no_body ? "; body dropped" : "");
    }
}


/* "findings": [...] of `res` (lbguard_json_findings). */
static void
lbguard_json_finding_list(lbguard_json_t *j, const lbguard_result_t *res,
                          const unsigned char *buf, size_t len, int repaired)
{
    const lbg_report_t  *rep = &res->rep;
    const lbg_finding_t *f;
    lbguard_lines_t      lc = {0, 1};
    lbguard_facts_t      fx;
    size_t               i;

    lbguard_json_key(j, "findings");
    lbguard_json_begin(j, '[', 1);

    for (i = 0; i < rep->nfindings; i++) {
        f = &rep->findings[i];
        lbguard_finding_facts(&fx, &lc, res, f, buf, len, repaired);

        lbguard_json_begin(j, '{', 0);
        lbguard_json_key(j, "id");
        lbguard_json_int(j, (int) f->rule);
        lbguard_json_key(j, "rule");
        lbguard_json_cstr(j, lbg_rule_name(f->rule));
        lbguard_json_key(j, "tier");
        lbguard_json_cstr(j,
                          fx.rule ? lbg_tier_name(fx.rule->tier) : "unknown");
        lbguard_json_key(j, "rfc");
        lbguard_json_cstr(j, fx.rule ? fx.rule->rfc : "");
        lbguard_json_key(j, "field");
        if (f->field == LBG_NO_FIELD) {
            lbguard_json_null(j);
        } else {
            lbguard_json_uint(j, f->field);
        }
        if (fx.has_off) {
            lbguard_json_key(j, "offset");
            lbguard_json_uint(j, fx.off);
            lbguard_json_key(j, "line");
            lbguard_json_uint(j, fx.line);
            lbguard_json_key(j, "length");
            lbguard_json_uint(j, f->at_len);
        } else {
            lbguard_json_key(j, "offset");
            lbguard_json_null(j);
            lbguard_json_key(j, "line");
            lbguard_json_null(j);
            lbguard_json_key(j, "length");
            lbguard_json_uint(j, 0);
        }
        lbguard_json_key(j, "bytes");
        lbguard_json_cstr(j, fx.esc);
        lbguard_json_key(j, "n1");
        lbguard_json_int(j, f->n1);
        lbguard_json_key(j, "n2");
        lbguard_json_int(j, f->n2);
        lbguard_json_key(j, "message");
        lbguard_json_cstr(j, fx.msg);
        lbguard_json_key(j, "rejected_by");
        lbguard_json_lbs(j, fx.rule ? fx.rule->lb_mask : 0);
        lbguard_json_key(j, "repair");
        lbguard_json_cstr(j, fx.rule ? lbg_finding_repair(f) : "");
        lbguard_json_end(j, '}');
    }
    lbguard_json_end(j, ']');
}


void
lbguard_json_findings(lbguard_json_t *j, const lbguard_result_t *res,
                      const unsigned char *buf, size_t len, int repaired)
{
    const lbg_report_t *rep = &res->rep;

    lbguard_json_key(j, "profile");
    lbguard_json_cstr(j, lbg_profile_name(res->policy.profile));
    lbguard_json_key(j, "head");
    lbguard_json_bool(j, res->raw.view.head);
    lbguard_json_key(j, "status_line");
    lbguard_json_bool(j, res->parse_rc == 0);
    lbguard_json_key(j, "status");
    lbguard_json_int(j, res->raw.view.status);
    lbguard_json_key(j, "framing");
    lbguard_json_cstr(j, lbguard_framing_name(res->raw.framing));
    lbguard_json_key(j, "header_len");
    lbguard_json_uint(j, res->raw.header_len);
    lbguard_json_key(j, "body_len");
    lbguard_json_uint(j, res->raw.body_len);
    lbguard_json_key(j, "worst");
    lbguard_json_cstr(j, lbg_tier_name(rep->worst));
    lbguard_json_key(j, "truncated");
    lbguard_json_bool(j, rep->truncated);
    lbguard_json_key(j, "close");
    lbguard_json_bool(j, rep->close);
    lbguard_json_key(j, "no_body");
    lbguard_json_bool(j, rep->no_body);
    lbguard_json_key(j, "unrepairable");
    lbguard_json_bool(j, rep->unrepairable);
    lbguard_json_finding_list(j, res, buf, len, repaired);
}


int
lbguard_is_interim(const lbguard_result_t *res)
{
    return res->parse_rc == 0 && res->raw.header_len > 0
           && lbg_interim(res->raw.view.status);
}


int
lbguard_analyse_chain(const char *cmd, lbguard_chain_t *ch,
                      lbg_profile_e profile, const unsigned char *buf,
                      size_t len, int head)
{
    const lbguard_result_t *r;
    size_t                  off = 0, next;

    memset(ch, 0, sizeof(*ch));
    for (;;) {
        if (lbguard_analyse(cmd, &ch->msg[ch->n], profile, buf + off,
                            len - off, head)
            != 0)
        {
            lbguard_chain_free(ch);
            return -1;
        }
        ch->off[ch->n] = off;
        r = &ch->msg[ch->n++];
        if (!lbguard_is_interim(r)) {
            return 0;
        }
        /* an interim response ends with its header section and the body
         * its Content-Length announced (lbg_raw_t.interim_body) */
        next = off + r->raw.header_len + r->raw.interim_body;
        if (ch->n > LBGUARD_INTERIM_MAX) {
            ch->too_many = 1;
            return 0;
        }
        if (next >= len) {
            ch->no_final = 1;
            return 0;
        }
        off = next;
    }
}


void
lbguard_chain_free(lbguard_chain_t *ch)
{
    size_t k;

    for (k = 0; k < ch->n; k++) {
        lbguard_result_free(&ch->msg[k]);
    }
    ch->n = 0;
}


int
lbguard_chain_fails(const lbguard_chain_t *ch, lbg_tier_e fail_on)
{
    size_t k;

    for (k = 0; k < ch->n; k++) {
        if (lbguard_fails(&ch->msg[k], fail_on)) {
            return 1;
        }
    }
    return 0;
}


/* "103 Early Hints", "299" (no standard reason phrase), or why there is no
 * status code, into b. */
static const char *
lbguard_response_name(const lbguard_result_t *r, char *b, size_t size)
{
    int         s = r->raw.view.status;
    const char *reason;

    if (r->parse_rc != 0) {
        snprintf(b, size, "no status line");
    } else if (s < 100 || s > 999) {
        snprintf(b, size, "no valid status code");
    } else {
        reason = lbg_reason_phrase(s);
        snprintf(b, size, "%d%s%s", s, *reason ? " " : "", reason);
    }
    return b;
}


void
lbguard_print_chain(FILE *out, const char *label, const lbguard_chain_t *ch,
                    const unsigned char *buf, size_t len)
{
    char   name[64];
    size_t k;

    if (ch->n == 1 && !ch->no_final) {
        lbguard_print_findings(out, label, &ch->msg[0], buf, len, 0);
        return;
    }
    for (k = 0; k < ch->n; k++) {
        lbguard_response_name(&ch->msg[k], name, sizeof(name));
        if (k + 1 < ch->n || ch->no_final) {
            fprintf(out, "%s: response %lu (%s), interim, at byte %lu\n",
                    label, (unsigned long) (k + 1), name,
                    (unsigned long) ch->off[k]);
        } else {
            fprintf(out,
                    "%s: response %lu (%s), after %lu interim response%s, "
                    "at byte %lu\n",
                    label, (unsigned long) (k + 1), name, (unsigned long) k,
                    k == 1 ? "" : "s", (unsigned long) ch->off[k]);
        }
        lbguard_print_findings(out, label, &ch->msg[k], buf, len, 0);
    }
    if (ch->no_final) {
        fprintf(out,
                "%s: no final response: the input ends after interim "
                "response %lu (%s)\n",
                label, (unsigned long) ch->n, name);
    }
}


void
lbguard_json_chain(lbguard_json_t *j, const lbguard_chain_t *ch,
                   const unsigned char *buf, size_t len)
{
    const lbguard_result_t *r;
    size_t                  k, last = ch->n - 1;

    lbguard_json_findings(j, &ch->msg[last], buf, len, 0);
    lbguard_json_key(j, "final_response");
    lbguard_json_bool(j, !ch->no_final);
    lbguard_json_key(j, "offset");
    lbguard_json_uint(j, ch->off[last]);
    lbguard_json_key(j, "interim");
    lbguard_json_begin(j, '[', 1);
    for (k = 0; k < last; k++) {
        r = &ch->msg[k];
        lbguard_json_begin(j, '{', 0);
        lbguard_json_key(j, "offset");
        lbguard_json_uint(j, ch->off[k]);
        lbguard_json_key(j, "status");
        lbguard_json_int(j, r->raw.view.status);
        lbguard_json_key(j, "header_len");
        lbguard_json_uint(j, r->raw.header_len);
        lbguard_json_key(j, "worst");
        lbguard_json_cstr(j, lbg_tier_name(r->rep.worst));
        lbguard_json_key(j, "truncated");
        lbguard_json_bool(j, r->rep.truncated);
        lbguard_json_key(j, "unrepairable");
        lbguard_json_bool(j, r->rep.unrepairable);
        lbguard_json_finding_list(j, r, buf, len, 0);
        lbguard_json_end(j, '}');
    }
    lbguard_json_end(j, ']');
}
