/*
 * lbg_internal.h -- internals shared by the core's source files. Not part
 * of the public API: adapters include lbg.h (and lbg_quick.h), tools
 * lbg_raw.h. Includes lbg_simd.h (the SSE2 byte tests).
 *
 * Where they live: lbg__ctype, lbg__ieq, lbg__status_code, lbg__cl_list,
 * lbg__te_scan in lbg_scan.c (the scanners); lbg__finding, lbg__edit,
 * lbg__field_edits in lbg_report.c; lbg__rules, lbg__nrules in
 * lbg_rules.c; lbg__host_status_line_len, lbg__framing_of in lbg_check.c;
 * lbg__check_101 in lbg_bypass.c; lbg__tchar16 and lbg__cl_short inline
 * here.
 */

#ifndef LBG_INTERNAL_H
#define LBG_INTERNAL_H

#include "lbg.h"
#include "lbg_simd.h"

#ifdef LBG_QUICK_INLINE
/*
 * 0xff bytes where x holds a tchar (RFC 9110 5.6.2): "!" / "#" / "$" /
 * "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" /
 * DIGIT / ALPHA. As ranges: 0x21..0x27 but '"', 0x2a..0x2e but ',',
 * DIGIT, 'A'..'Z', 0x5e..0x7a, '|', '~'. lbg_scan_name() and
 * lbg_check()'s inline field test (lbg_check.c).
 */
LBG_INLINE __m128i
lbg__tchar16(__m128i x)
{
    __m128i a = _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x22)),
                                 lbg__q_range(x, 0x21, 0x27));
    __m128i b = _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x2c)),
                                 lbg__q_range(x, 0x2a, 0x2e));
    __m128i c = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x7c)),
                             _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7e)));

    return _mm_or_si128(_mm_or_si128(_mm_or_si128(a, b), c),
                        lbg__q_name_good(x));
}
#endif

/* Character classes, one bit each, in lbg__ctype[256] (lbg_scan.c). */
#define LBG__TCHAR   0x01u /* token character, RFC 9110 5.6.2 */
#define LBG__VCHAR   0x02u /* field-vchar: VCHAR / obs-text, RFC 9110 5.5 */
#define LBG__WS      0x04u /* SP / HTAB */
#define LBG__DIGIT   0x08u
#define LBG__HEXDIG  0x10u
#define LBG__NAMEBAD 0x20u /* SP, HTAB, CTL, DEL, ':' in a field name */

extern const unsigned char lbg__ctype[256];

#define lbg__is(c, cls) (lbg__ctype[(unsigned char) (c)] & (cls))

/* The status code at the start of status line s[0..n) (after "HTTP/1.1 "):
 * 3DIGIT followed by SP or the end (RFC 9112 4). Returns 0..999, or -1. */
int lbg__status_code(const unsigned char *s, size_t n);

/* The bytes lbg_check counts for the status line the host writes itself
 * for status code `status` (a valid 100..599 one): "HTTP/1.1 " 3DIGIT SP
 * reason CRLF. */
size_t lbg__host_status_line_len(int status);

/* ASCII lower-casing, locale-independent. */
#define lbg__lower(c)                                                        \
    ((unsigned char) ((c) >= 'A' && (c) <= 'Z' ? (c) | 0x20 : (c)))

/* Returns 1 when a[0..alen) equals the lower-case literal b[0..blen)
 * ignoring ASCII case. */
int lbg__ieq(const unsigned char *a, size_t alen, const char *b, size_t blen);

/* The rule table (lbg_rules.c): lbg__rules[id - 1] is rule id's row for
 * id 1..lbg__nrules (lbg_rule() checks its id); for lbg__finding(), which
 * looks a rule up without a call. */
extern const lbg_rule_t lbg__rules[];
extern const size_t     lbg__nrules;

/* Appends a finding to rep (filtered by profile p; LBG_MODE_OFF records
 * nothing). Returns 1 when recorded, 0 when filtered or dropped. */
int lbg__finding(const lbg_policy_t *p, lbg_report_t *rep, lbg_rule_e rule,
                 size_t field, const unsigned char *at, size_t at_len,
                 int64_t n1, int64_t n2);

/* lbg__finding() of a rule under a profile other than the strictest: the
 * rule (its row r) must be in it. lbg_report.c. */
int lbg__finding_profile(const lbg_policy_t *p, const lbg_rule_t *r,
                         lbg_report_t *rep, lbg_rule_e rule, size_t field,
                         const unsigned char *at, size_t at_len, int64_t n1,
                         int64_t n2);

/* The LBG_LB_* bits of each profile (LBG_PROFILES), by enum value
 * (lbg_rules.c) */
extern const unsigned lbg__profile_lb[LBG_PROFILE_COUNT];

/* 1 when a rule of the LBG_LB_* bits lb is reported under profile: the
 * strictest holds every rule, another one the rules its load balancers
 * reject, an unknown profile none (lbg_rule_in_profile(), for a rule row
 * known where it is called) */
static inline int
lbg__lb_in_profile(unsigned lb, lbg_profile_e profile)
{
    return profile == LBG_PROFILE_STRICTEST
           || ((unsigned) profile < (unsigned) LBG_PROFILE_COUNT
               && (lb & lbg__profile_lb[profile]) != 0);
}

/* Records one finding of rule `rule` (its tier and LBG_FIX_* bits fix) in
 * rep, the profile's filter passed: the worst tier, unrepairable when no
 * repair makes the response conformant, truncated and close when the
 * report is full. Returns 1. Arguments as lbg__finding(). */
static inline int
lbg__finding_store(lbg_report_t *rep, lbg_rule_e rule, lbg_tier_e tier,
                   unsigned fix, size_t field, const unsigned char *at,
                   size_t at_len, int64_t n1, int64_t n2)
{
    lbg_finding_t *f;

    if (tier > rep->worst) {
        rep->worst = tier;
    }
    if (!(fix & LBG_FIX_EDIT)) {
        /* no repair makes the response itself conformant */
        rep->unrepairable = 1;
    }
    if (rep->nfindings >= rep->findings_cap) {
        rep->truncated = 1;
        rep->close = 1;
        return 1;
    }
    f = &rep->findings[rep->nfindings++];
    f->rule = rule;
    f->field = field;
    f->at = at;
    f->at_len = at_len;
    f->n1 = n1;
    f->n2 = n2;
    f->after_repair = 0;
    f->at_least = 0;
    f->bad_gateway = 0;
    return 1;
}

/* Records a finding of rule r (its row), the checks passed
 * (lbg__finding_store()). Returns 1. Call-free. */
static inline int
lbg__finding_add(const lbg_rule_t *r, lbg_report_t *rep, lbg_rule_e rule,
                 size_t field, const unsigned char *at, size_t at_len,
                 int64_t n1, int64_t n2)
{
    return lbg__finding_store(rep, rule, r->tier, r->fix, field, at, at_len,
                              n1, n2);
}

/* lbg__finding() inline, for the checks whose findings are common: the
 * strictest profile without a call (it holds every rule), another through
 * lbg__finding_profile(). */
static inline int
lbg__finding_inline(const lbg_policy_t *p, lbg_report_t *rep, lbg_rule_e rule,
                    size_t field, const unsigned char *at, size_t at_len,
                    int64_t n1, int64_t n2)
{
    const lbg_rule_t *r;

    if (p->mode == LBG_MODE_OFF || (size_t) rule - 1 >= lbg__nrules) {
        return 0;
    }
    r = &lbg__rules[rule - 1];
    if (r->id != rule) {
        return 0;
    }
    if (p->profile != LBG_PROFILE_STRICTEST) {
        return lbg__finding_profile(p, r, rep, rule, field, at, at_len, n1,
                                    n2);
    }
    return lbg__finding_add(r, rep, rule, field, at, at_len, n1, n2);
}

/* Appends an edit unless an identical one is already there (a full
 * report: truncated and close instead). */
void lbg__edit(lbg_report_t *rep, lbg_edit_op_e op, size_t field, int status,
               const unsigned char *value, size_t value_len);

/* lbg__edit() inline, for the checks whose findings are common */
static inline void
lbg__edit_inline(lbg_report_t *rep, lbg_edit_op_e op, size_t field,
                 int status, const unsigned char *value, size_t value_len)
{
    size_t      i;
    lbg_edit_t *e;

    if (op == LBG_EDIT_CLOSE) {
        rep->close = 1;
    } else if (op == LBG_EDIT_NO_BODY) {
        rep->no_body = 1;
    }
    for (i = 0; i < rep->nedits; i++) {
        e = &rep->edits[i];
        if (e->op == op && e->field == field && e->status == status
            && e->value == value && e->value_len == value_len)
        {
            return;
        }
    }
    if (rep->nedits >= rep->edits_cap) {
        rep->truncated = 1;
        rep->close = 1;
        return;
    }
    e = &rep->edits[rep->nedits++];
    e->op = op;
    e->field = field;
    e->status = status;
    e->value = value;
    e->value_len = value_len;
}

/* The edits rep holds for field `field` (an index into the view): *removed
 * 1 when an LBG_EDIT_REMOVE, *sanitized 1 when an LBG_EDIT_SANITIZE, *set
 * the last LBG_EDIT_SET, else 0, 0, NULL. */
void lbg__field_edits(const lbg_report_t *rep, size_t field, int *removed,
                      int *sanitized, const lbg_edit_t **set);

/* lbg_content_length_parse() of a value v[0..len) of 1 to 18 bytes, inline
 * (RFC 9110 8.6: Content-Length = 1*DIGIT): its value, or -1 when a byte
 * is not a DIGIT. 18 digits cannot overflow: no check per digit. */
static inline int64_t
lbg__cl_short(const unsigned char *v, size_t len)
{
    int64_t  x = 0;
    size_t   i;
    unsigned d;

    for (i = 0; i < len; i++) {
        d = (unsigned) v[i] - '0';
        if (d > 9) {
            return -1;
        }
        x = x * 10 + (int64_t) d;
    }
    return x;
}

/*
 * The next element of the comma-separated list v[0..len) (RFC 9110 5.6.1),
 * from offset *i: sets [*s, *e) to it without the OWS around it (SP, HTAB;
 * it may be empty) and moves *i past its comma. Returns 0, setting
 * nothing, when the list has no element left (*i > len). Start with *i = 0.
 */
static inline int
lbg__list_next(const unsigned char *v, size_t len, size_t *i, size_t *s,
               size_t *e)
{
    size_t a = *i, b;

    if (a > len) {
        return 0;
    }
    for (b = a; b < len && v[b] != ','; b++) {
    }
    *i = b + 1;
    while (a < b && lbg__is(v[a], LBG__WS)) {
        a++;
    }
    while (b > a && lbg__is(v[b - 1], LBG__WS)) {
        b--;
    }
    *s = a;
    *e = b;
    return 1;
}

/*
 * A Content-Length value that is a comma-separated list (RFC 9110 8.6,
 * "Content-Length: 42, 42"). Returns the common value when every element
 * is a valid, identical number, with *first and *first_len set to the
 * first element; -2 when the elements are valid numbers that differ; -1
 * otherwise.
 */
int64_t lbg__cl_list(const unsigned char *v, size_t len,
                     const unsigned char **first, size_t *first_len);

/* Scans one Transfer-Encoding field value (RFC 9112 6.1, 7): adds its
 * codings to *ncodings and its "chunked" codings to *nchunked, sets
 * *final_chunked to whether its last coding is chunked and *empty when an
 * element is empty. */
void lbg__te_scan(const unsigned char *v, size_t len, size_t *ncodings,
                  size_t *nchunked, int *final_chunked, int *empty);

/*
 * The framing verdict (RFC 9112 6.3; lbg_report_t's `framing`) of r's
 * fields as rep's edits leave them: a field with an LBG_EDIT_REMOVE is
 * gone, one with an LBG_EDIT_SET has the new value (a sanitized value keeps
 * its bytes: a framing value that needs sanitizing is invalid either
 * way), and the framing fields of the kinds in `drop` (LBG__K_CL,
 * LBG__K_TE bits) are gone too. kind[i] is lbg__framing_name() of field i,
 * or NULL to classify here. NONE for a bodiless response; LENGTH when
 * every remaining Content-Length is one valid value (a list of one
 * repeated value counts) and no Transfer-Encoding remains, with that
 * value in *declared (else -1); CHUNKED when the remaining
 * Transfer-Encoding ends in exactly "chunked"; else CLOSE. The one
 * derivation of the framing: lbg_check() records it, the raw repair
 * re-derives it for the head it writes. lbg_check.c.
 */
lbg_framing_e lbg__framing_of(const lbg_response_t *r,
                              const lbg_report_t   *rep,
                              const unsigned char *kind, int drop,
                              int64_t *declared);

/* issue 9 (bypass): records SWITCHING_WITHOUT_UPGRADE (n1 = 0) and the
 * target's own 502 when r, a 101 response, carries no Upgrade field (RFC
 * 9110 15.2.2: the server MUST send one). lbg_bypass.c. */
void lbg__check_101(const lbg_policy_t *p, const lbg_response_t *r,
                    lbg_report_t *rep);

#endif /* LBG_INTERNAL_H */
