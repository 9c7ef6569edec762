/*
 * lbg_check.c -- the header-level rules: status line, field names and
 * values (RFC 9110 5), message framing (RFC 9112 6) and its verdict, header
 * budgets; lbg_check() itself.
 *
 * One pass over the fields checks every byte: with AVX2 (chosen per call)
 * two fields at a time, one classification of both names and one of both
 * values; else one field at a time, inline SSE2 (or the portable scanners
 * of lbg_scan.c). Only a field whose bytes fail gets the exact checks that
 * record findings. The framing analysis runs a second, short pass only
 * when a Content-Length or Transfer-Encoding field exists.
 */

#include <string.h>

#include "lbg_internal.h"
#include "lbg_quick.h"

/* LBG__CHECK_AVX2: lbg_check() checks the fields two at a time with AVX2
 * when the CPU has it (chosen per call, __builtin_cpu_supports), else one
 * at a time with SSE2 */
#if defined(LBG_QUICK_INLINE) && defined(__x86_64__) && defined(__GNUC__)    \
    && !defined(LBG_NO_AVX2)
#include <immintrin.h>
#define LBG__CHECK_AVX2 1
#endif


int
lbg_response_bodiless(const lbg_response_t *r)
{
    return lbg_bodiless(r->status, r->head);
}


/* The reason phrases the host writes (RFC 9110 15): XX(code, "phrase"). */
#define LBG__REASONS(XX)                                                     \
    XX(100, "Continue")                                                      \
    XX(101, "Switching Protocols")                                           \
    XX(103, "Early Hints")                                                   \
    XX(200, "OK")                                                            \
    XX(201, "Created")                                                       \
    XX(202, "Accepted")                                                      \
    XX(203, "Non-Authoritative Information")                                 \
    XX(204, "No Content")                                                    \
    XX(205, "Reset Content")                                                 \
    XX(206, "Partial Content")                                               \
    XX(300, "Multiple Choices")                                              \
    XX(301, "Moved Permanently")                                             \
    XX(302, "Found")                                                         \
    XX(303, "See Other")                                                     \
    XX(304, "Not Modified")                                                  \
    XX(305, "Use Proxy")                                                     \
    XX(307, "Temporary Redirect")                                            \
    XX(308, "Permanent Redirect")                                            \
    XX(400, "Bad Request")                                                   \
    XX(401, "Unauthorized")                                                  \
    XX(402, "Payment Required")                                              \
    XX(403, "Forbidden")                                                     \
    XX(404, "Not Found")                                                     \
    XX(405, "Method Not Allowed")                                            \
    XX(406, "Not Acceptable")                                                \
    XX(407, "Proxy Authentication Required")                                 \
    XX(408, "Request Timeout")                                               \
    XX(409, "Conflict")                                                      \
    XX(410, "Gone")                                                          \
    XX(411, "Length Required")                                               \
    XX(412, "Precondition Failed")                                           \
    XX(413, "Content Too Large")                                             \
    XX(414, "URI Too Long")                                                  \
    XX(415, "Unsupported Media Type")                                        \
    XX(416, "Range Not Satisfiable")                                         \
    XX(417, "Expectation Failed")                                            \
    XX(421, "Misdirected Request")                                           \
    XX(422, "Unprocessable Content")                                         \
    XX(426, "Upgrade Required")                                              \
    XX(428, "Precondition Required")                                         \
    XX(429, "Too Many Requests")                                             \
    XX(431, "Request Header Fields Too Large")                               \
    XX(451, "Unavailable For Legal Reasons")                                 \
    XX(500, "Internal Server Error")                                         \
    XX(501, "Not Implemented")                                               \
    XX(502, "Bad Gateway")                                                   \
    XX(503, "Service Unavailable")                                           \
    XX(504, "Gateway Timeout")                                               \
    XX(505, "HTTP Version Not Supported")


const char *
lbg_reason_phrase(int status)
{
    switch (status) {
#define LBG__REASON_CASE(code, text)                                         \
    case code: return text;
        LBG__REASONS(LBG__REASON_CASE)
#undef LBG__REASON_CASE
    default: return "";
    }
}


/* strlen(lbg_reason_phrase(status)) for status 100..599, by status - 100
 * (0 where lbg_reason_phrase() has no phrase) */
static const unsigned char lbg__reason_lens[500] = {
#define LBG__REASON_LEN(code, text) [(code) -100] = sizeof(text) - 1,
    LBG__REASONS(LBG__REASON_LEN)
#undef LBG__REASON_LEN
};


size_t
lbg__host_status_line_len(int status)
{
    return 9 + 3 + 1
           + ((unsigned) status - 100 < 500 ? lbg__reason_lens[status - 100]
                                            : 0)
           + 2;
}


/* Status line: RFC 9112 4, status-code = 3DIGIT, reason-phrase =
 * 1*( HTAB / SP / VCHAR / obs-text ). Returns the bytes the status line
 * takes on the wire. */
static size_t
lbg__check_status(const lbg_policy_t *p, const lbg_response_t *r,
                  lbg_report_t *rep)
{
    const unsigned char *s = r->status_line;
    size_t               n = r->status_line_len, i;
    int                  code;

    if (s == NULL) {
        if (r->status < 100 || r->status > 599) {
            if (lbg__finding(p, rep,
                             r->status < 0 || r->status > 999
                                 ? LBG_RULE_STATUS_CODE_INVALID
                                 : LBG_RULE_STATUS_CODE_OUT_OF_RANGE,
                             LBG_NO_FIELD, NULL, 0, r->status, 0))
            {
                lbg__edit(rep, LBG_EDIT_STATUS, LBG_NO_FIELD, 500, NULL, 0);
            }
            return 9 + 3 + 1 + 21 + 2;
        }
        return lbg__host_status_line_len(r->status);
    }

    code = lbg__status_code(s, n);
    if (code < 100 || code > 599) {
        /* not 3 digits, or 3 digits outside the classes 1xx..5xx that
         * every load balancer tested passes on (RFC 9110 15) */
        if (lbg__finding(p, rep,
                         code < 0 ? LBG_RULE_STATUS_CODE_INVALID
                                  : LBG_RULE_STATUS_CODE_OUT_OF_RANGE,
                         LBG_NO_FIELD, s, n, code, 0))
        {
            lbg__edit(rep, LBG_EDIT_STATUS, LBG_NO_FIELD, 500, NULL, 0);
        }
        return 9 + n + 2;
    }
    for (i = 4; i < n; i++) {
        if (!lbg__is(s[i], LBG__VCHAR | LBG__WS)) {
            if (lbg__finding(p, rep, LBG_RULE_REASON_PHRASE_INVALID,
                             LBG_NO_FIELD, s, n, code, (int64_t) i))
            {
                lbg__edit(rep, LBG_EDIT_STATUS, LBG_NO_FIELD, code, NULL, 0);
            }
            break;
        }
    }
    return 9 + n + 2;
}


/* A branch the compiler lays out of the loop's way */
#if defined(__GNUC__)
#define lbg__unlikely(x) __builtin_expect(!!(x), 0)
#define lbg__likely(x)   __builtin_expect(!!(x), 1)
#else
#define lbg__unlikely(x) (x)
#define lbg__likely(x)   (x)
#endif

/* What lbg_check()'s loop hands lbg__check_field() about one field (bits):
 * its name, its value needs the exact byte walk (with LBG__F_SCAN: try
 * the exact scan first, the part may well be clean) */
#define LBG__F_NAME  1u
#define LBG__F_VALUE 2u
#define LBG__F_SCAN  4u

#ifdef LBG_QUICK_INLINE
/* 0xff lanes where the value key minimum m (lbg__q_vkey()) holds a byte
 * that is not field-vchar, SP or HTAB (RFC 9110 5.5) */
#define lbg__c_vbad(m)                                                       \
    _mm_cmpeq_epi8(_mm_max_epu8((m), _mm_set1_epi8(0x1f)),                   \
                   _mm_set1_epi8(0x1f))

/* The bytewise minimum of the value keys (lbg__q_vkey()) of v[0..n),
 * 1 <= n < LBG_SCAN_LONG: one load of 1 to 16 bytes, else 16 bytes at a
 * time with the last load overlapping; reads exactly v[0..n). */
LBG_INLINE __m128i
lbg__c_vmin(const unsigned char *v, size_t n)
{
    __m128i m;
    size_t  i;

    if (n <= 16) {
        return lbg__q_vkey(lbg__q_load(v, n));
    }
    m = lbg__q_vkey(lbg__q_loadu(v + n - 16));
    for (i = 0; i + 16 < n; i += 16) {
        m = _mm_min_epu8(m, lbg__q_vkey(lbg__q_loadu(v + i)));
    }
    return m;
}

/* The rare half of lbg__c_field_bad(), out of the loop's way: g the
 * name's lbg__q_name_good() lanes, vb the value's bad lanes. A name that
 * is not all of those may still be a token (a rarer tchar: '!' '#' ...):
 * the full tchar test, inline up to 16 bytes. */
static unsigned
lbg__c_field_bits(__m128i g, __m128i vb, const unsigned char *n, size_t nlen)
{
    unsigned bad = _mm_movemask_epi8(vb) != 0 ? LBG__F_VALUE : 0;

    if (_mm_movemask_epi8(g) != 0xffff
        && (nlen - 1 < 16
                ? _mm_movemask_epi8(lbg__tchar16(lbg__q_load(n, nlen)))
                      != 0xffff
                : !lbg_scan_name(n, nlen)))
    {
        bad |= LBG__F_NAME;
    }
    return bad;
}

/*
 * lbg_check()'s inline test of one untrusted field, exact: 0 when name
 * n[0..nlen) is a token (RFC 9110 5.1) and value v[0..vlen) is all
 * field-vchar, SP and HTAB (RFC 9110 5.5); else LBG__F_NAME when the name
 * is not a token (empty, or a byte outside tchar), LBG__F_VALUE when the
 * value holds another byte. The common field (a name of the tchar that
 * header names use, lbg__q_name_good(), and a clean value) costs one
 * movemask and one branch: the name's and the value's lanes are ANDed
 * (each covers all of its bytes). Reads exactly n[0..nlen) and
 * v[0..vlen).
 */
LBG_INLINE unsigned
lbg__c_field_bad(const unsigned char *n, size_t nlen, const unsigned char *v,
                 size_t vlen)
{
    __m128i g, vb;
    size_t  i;

    if (nlen - 1 < 16) {
        g = lbg__q_name_good(lbg__q_load(n, nlen));
    } else if (nlen == 0) {
        g = _mm_setzero_si128();
    } else {
        g = _mm_and_si128(lbg__q_name_good(lbg__q_loadu(n)),
                          lbg__q_name_good(lbg__q_loadu(n + nlen - 16)));
        for (i = 16; i + 16 < nlen; i += 16) {
            g = _mm_and_si128(g, lbg__q_name_good(lbg__q_loadu(n + i)));
        }
    }
    if (vlen - 1 < LBG_SCAN_LONG - 1) {
        vb = lbg__c_vbad(lbg__c_vmin(v, vlen));
    } else if (vlen == 0 || lbg_scan_value(v, vlen)) {
        vb = _mm_setzero_si128();
    } else {
        vb = _mm_set1_epi8(-1);
    }
    if (lbg__unlikely(_mm_movemask_epi8(_mm_andnot_si128(vb, g)) != 0xffff)) {
        return lbg__c_field_bits(g, vb, n, nlen);
    }
    return 0;
}
#endif


/* The exact checks of field f, index idx, that lbg_check()'s loop sends
 * here (a field line that may be over p's field budget, or an untrusted
 * field with a byte to report, `bad`: LBG__F_* bits): the budget (RFC
 * 9110 5.4), then the name and the value (RFC 9110 5.1, 5.5), findings in
 * that order. */
static void lbg__check_field(const lbg_policy_t *p, const lbg_field_t *f,
                             size_t idx, lbg_report_t *rep, unsigned bad);


/* Rule id's metadata as constants (LBG_RULES): LBG__TIER_<ENUM> its
 * tier, LBG__LB_<ENUM> its lb_mask, LBG__FIX_<ENUM> its fix bits; for
 * lbg__finding_const(), which looks nothing up. */
enum {
#define LBG__RULE_META(id, e, n, rfc, t, m, rep, fix)                        \
    LBG__TIER_##e = (int) (t), LBG__LB_##e = (int) (m),                      \
    LBG__FIX_##e = (int) (fix),
    LBG_RULES(LBG__RULE_META)
#undef LBG__RULE_META
        LBG__RULE_META_END
};

/* The arguments rule, tier, lb, fix of lbg__finding_const() for rule
 * LBG_RULE_<e>: its row of LBG_RULES as constants */
#define LBG__RULE_CONST(e)                                                   \
    LBG_RULE_##e, (lbg_tier_e) LBG__TIER_##e, (unsigned) LBG__LB_##e,        \
        (unsigned) LBG__FIX_##e

/*
 * lbg__finding() (n2 = 0) of a rule known where it is called, for
 * lbg_check()'s field checks, where p->mode is not LBG_MODE_OFF
 * (lbg_check() has returned before): the rule's row as constants
 * (LBG__RULE_CONST()), the profile test of lbg_rule_in_profile() (the
 * strictest: every rule; another: the profile's LB in lb; an unknown
 * profile: none), then what lbg__finding_add() does. Returns 1 when
 * recorded (or dropped from a full report), 0 when the profile filters
 * it.
 */
LBG_INLINE int
lbg__finding_const(const lbg_policy_t *p, lbg_report_t *rep, lbg_rule_e rule,
                   lbg_tier_e tier, unsigned lb, unsigned fix, size_t field,
                   const unsigned char *at, size_t at_len, int64_t n1)
{
    if (!lbg__lb_in_profile(lb, p->profile)) {
        return 0;
    }
    return lbg__finding_store(rep, rule, tier, fix, field, at, at_len, n1, 0);
}


/*
 * field-name-invalid of field idx (an empty name, or a byte of
 * LBG__NAMEBAD: no load balancer parses the line), at the whole name, and
 * the edit that removes the field. But a name that is Transfer-Encoding
 * followed by SP or HTAB: white space between the field name and the colon
 * (RFC 9112 5.1), which the host kept in the name (Apache's
 * mod_proxy_http; nginx refuses such an upstream line), so the host did
 * not decode the body the target chunked: removed, the field would send
 * the chunked bytes out as the content under the host's own framing.
 * That is te-name-whitespace (n1: the bytes of white space), the target's
 * own 502 with a close. Any other name so written is removed (a
 * Content-Length is harmless to remove: the host framed the body without
 * it). Out of line and cold: the fast paths that inline
 * lbg__name_finding() keep their registers.
 */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static void
lbg__invalid_name_finding(const lbg_policy_t *p, lbg_report_t *rep,
                          const lbg_field_t *f, size_t idx)
{
    size_t n = f->name_len;

    while (n > 0 && lbg__is(f->name[n - 1], LBG__WS)) {
        n--;
    }
    if (n < f->name_len && lbg__framing_name(f->name, n) == LBG__K_TE) {
        if (lbg__finding(p, rep, LBG_RULE_TE_NAME_WHITESPACE, idx, f->name,
                         f->name_len, (int64_t) (f->name_len - n), 0))
        {
            lbg__edit(rep, LBG_EDIT_BAD_GATEWAY, LBG_NO_FIELD, 502, NULL, 0);
            lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
        }
        return;
    }
    if (lbg__finding_const(p, rep, LBG__RULE_CONST(FIELD_NAME_INVALID), idx,
                           f->name, f->name_len, 0))
    {
        lbg__edit_inline(rep, LBG_EDIT_REMOVE, idx, 0, NULL, 0);
    }
}


/* The finding of field idx's name when it is not a token (RFC 9110 5.1):
 * field-name-invalid when `invalid` (lbg__invalid_name_finding()), else
 * field-name-not-token, at the whole name, and the edit that removes the
 * field. For lbg__check_name() and lbg__check_pair()'s fast paths. */
LBG_INLINE void
lbg__name_finding(const lbg_policy_t *p, lbg_report_t *rep,
                  const lbg_field_t *f, size_t idx, int invalid)
{
    if (invalid) {
        lbg__invalid_name_finding(p, rep, f, idx);
        return;
    }
    if (lbg__finding_const(p, rep, LBG__RULE_CONST(FIELD_NAME_NOT_TOKEN), idx,
                           f->name, f->name_len, 0))
    {
        lbg__edit_inline(rep, LBG_EDIT_REMOVE, idx, 0, NULL, 0);
    }
}

/* field-value-ctl at byte `at` of field idx's value (RFC 9110 5.5) and the
 * edit that sanitizes the value, for lbg__check_pair()'s fast paths */
LBG_INLINE void
lbg__ctl_finding(const lbg_policy_t *p, lbg_report_t *rep,
                 const lbg_field_t *f, size_t idx, size_t at)
{
    if (lbg__finding_const(p, rep, LBG__RULE_CONST(FIELD_VALUE_CTL), idx,
                           f->value + at, 1, (int64_t) at))
    {
        lbg__edit_inline(rep, LBG_EDIT_SANITIZE, idx, 0, NULL, 0);
    }
}


/* Field name: RFC 9110 5.1, field-name = token. scan: test the whole name
 * with lbg_scan_name() first (0: the caller knows it is not a token). Out
 * of line: lbg__check_field() keeps the registers for the value. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void
lbg__check_name(const lbg_policy_t *p, const lbg_field_t *f, size_t idx,
                lbg_report_t *rep, unsigned scan)
{
    const unsigned char *nm = f->name;
    const unsigned char *t = lbg__ctype;
    size_t               i, n = f->name_len;
    int                  not_token = 0;

    if (n == 0) {
        goto invalid;
    }
    if (scan && lbg_scan_name(nm, n)) {
        return;
    }

    for (i = 0; i < n; i++) {
        if (!(t[nm[i]] & LBG__TCHAR)) {
            if (t[nm[i]] & LBG__NAMEBAD) {
                goto invalid;
            }
            not_token = 1;
        }
    }
    if (not_token) {
        lbg__name_finding(p, rep, f, idx, 0);
    }
    return;

invalid:
    lbg__name_finding(p, rep, f, idx, 1);
}


/* Field value: RFC 9110 5.5 (field-vchar, SP, HTAB; CR, LF, NUL never),
 * RFC 9112 5.2 (obs-fold). One finding per rule per field, at the first
 * offending byte. NUL and a CR that ends the value are rules of their own:
 * HAProxy passes NUL on, nginx a CR before the line end. scan: test the
 * whole value with lbg_scan_value() first (0: the caller knows it holds a
 * byte to report). */
static void
lbg__check_value(const lbg_policy_t *p, const lbg_field_t *f, size_t idx,
                 lbg_report_t *rep, unsigned scan)
{
    const unsigned char *v = f->value;
    const unsigned char *t = lbg__ctype;
    size_t               n = f->value_len, i = 0, fold_len;
    unsigned             seen = 0; /* the rules found: LBG__V_* bits */
    lbg_rule_e           rule;
    int                  ok;

#define LBG__V_CRLF 1u
#define LBG__V_CTL  2u
#define LBG__V_FOLD 4u
#define LBG__V_NUL  8u
    if (scan && lbg_scan_value(v, n)) {
        return;
    }
    for (;;) {
        /* the run of good bytes up to the next one to look at */
        while (i < n && (t[v[i]] & (LBG__VCHAR | LBG__WS))) {
            i++;
        }
        if (i >= n) {
            break;
        }
        fold_len = 0;
        if (v[i] == '\r' && i + 2 < n && v[i + 1] == '\n'
            && lbg__is(v[i + 2], LBG__WS))
        {
            fold_len = 3;
        } else if (v[i] == '\n' && i + 1 < n && lbg__is(v[i + 1], LBG__WS)) {
            fold_len = 2;
        }
        if (fold_len) {
            if (seen & LBG__V_FOLD) {
                i += fold_len;
                continue;
            }
            seen |= LBG__V_FOLD;
            rule = LBG_RULE_OBS_FOLD;
        } else if (v[i] == '\r' && i == n - 1) {
            /* "a\r" CRLF: nginx takes CR CR LF for a line end */
            fold_len = 1;
            rule = LBG_RULE_FIELD_VALUE_TRAILING_CR;
        } else if (v[i] == '\r' || v[i] == '\n') {
            if (seen & LBG__V_CRLF) {
                i++;
                continue;
            }
            seen |= LBG__V_CRLF;
            fold_len = 1;
            rule = LBG_RULE_FIELD_VALUE_CR_LF;
        } else if (v[i] == '\0') {
            if (seen & LBG__V_NUL) {
                i++;
                continue;
            }
            seen |= LBG__V_NUL;
            fold_len = 1;
            rule = LBG_RULE_FIELD_VALUE_NUL;
        } else {
            if (seen & LBG__V_CTL) {
                i++;
                continue;
            }
            seen |= LBG__V_CTL;
            fold_len = 1;
            rule = LBG_RULE_FIELD_VALUE_CTL;
        }
        switch (rule) {
        case LBG_RULE_OBS_FOLD:
            ok = lbg__finding_const(p, rep, LBG__RULE_CONST(OBS_FOLD), idx,
                                    v + i, fold_len, (int64_t) i);
            break;
        case LBG_RULE_FIELD_VALUE_TRAILING_CR:
            ok = lbg__finding_const(p, rep,
                                    LBG__RULE_CONST(FIELD_VALUE_TRAILING_CR),
                                    idx, v + i, fold_len, (int64_t) i);
            break;
        case LBG_RULE_FIELD_VALUE_CR_LF:
            ok = lbg__finding_const(p, rep,
                                    LBG__RULE_CONST(FIELD_VALUE_CR_LF), idx,
                                    v + i, fold_len, (int64_t) i);
            break;
        case LBG_RULE_FIELD_VALUE_NUL:
            ok = lbg__finding_const(p, rep, LBG__RULE_CONST(FIELD_VALUE_NUL),
                                    idx, v + i, fold_len, (int64_t) i);
            break;
        default:
            ok = lbg__finding_const(p, rep, LBG__RULE_CONST(FIELD_VALUE_CTL),
                                    idx, v + i, fold_len, (int64_t) i);
            break;
        }
        if (ok) {
            lbg__edit_inline(rep, LBG_EDIT_SANITIZE, idx, 0, NULL, 0);
        }
        i += fold_len;
    }
#undef LBG__V_CRLF
#undef LBG__V_CTL
#undef LBG__V_FOLD
#undef LBG__V_NUL
}


static void lbg__budget(const lbg_policy_t *p, lbg_report_t *rep,
                        lbg_rule_e rule, size_t field,
                        const unsigned char *at, size_t at_len, int64_t n1,
                        int64_t n2);


#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void
lbg__check_field(const lbg_policy_t *p, const lbg_field_t *f, size_t idx,
                 lbg_report_t *rep, unsigned bad)
{
    if (p->max_field_bytes
        && f->name_len + f->value_len + 4 > p->max_field_bytes) {
        lbg__budget(p, rep, LBG_RULE_FIELD_TOO_LARGE, idx, f->name,
                    f->name_len, (int64_t) (f->name_len + f->value_len + 4),
                    (int64_t) p->max_field_bytes);
    }
    if (f->trusted) {
        /* its bytes are the host's (the AVX2 pass marks a trusted field
         * bad when its line may be over the field budget) */
        return;
    }
    if (bad & LBG__F_NAME) {
        lbg__check_name(p, f, idx, rep, bad & LBG__F_SCAN);
    }
    if (bad & LBG__F_VALUE) {
        lbg__check_value(p, f, idx, rep, bad & LBG__F_SCAN);
    }
}


#ifdef LBG_QUICK_INLINE


/* 0xff lanes where x holds a byte that makes a field name invalid
 * (LBG__NAMEBAD: SP, HTAB, CTL, DEL, ':'): 0x00..0x20, 0x7f, 0x3a */
LBG_INLINE __m128i
lbg__f_namebad(__m128i x)
{
    return _mm_or_si128(_mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(0x20)),
                                       _mm_set1_epi8(0x20)),
                        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)),
                                     _mm_cmpeq_epi8(x, _mm_set1_epi8(0x3a))));
}

/* 1 when name s[0..n), not a token, is field-name-invalid rather than
 * field-name-not-token: empty, or a byte of LBG__NAMEBAD (SSE2, 16 bytes
 * a load, the last overlapping; reads exactly s[0..n)) */
LBG_INLINE int
lbg__name_invalid(const unsigned char *s, size_t n)
{
    __m128i nb;
    size_t  j;

    if (n == 0) {
        return 1;
    }
    if (n <= 16) {
        return _mm_movemask_epi8(lbg__f_namebad(lbg__q_load(s, n))) != 0;
    }
    nb = lbg__f_namebad(lbg__q_loadu(s + n - 16));
    for (j = 0; j + 16 < n; j += 16) {
        nb = _mm_or_si128(nb, lbg__f_namebad(lbg__q_loadu(s + j)));
    }
    return _mm_movemask_epi8(nb) != 0;
}

/* 0xff lanes where x holds NUL, CR or LF: the value bytes with rules of
 * their own (and obs-fold, a trailing CR) */
LBG_INLINE __m128i
lbg__f_special(__m128i x)
{
    return _mm_or_si128(_mm_cmpeq_epi8(x, _mm_setzero_si128()),
                        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('\r')),
                                     _mm_cmpeq_epi8(x, _mm_set1_epi8('\n'))));
}

/*
 * The bad bytes of a value of n bytes, 1 <= n <= 16, as a bit per index
 * (bit k: v[k] is bad), from the bad lanes m of the value as
 * lbg__q_load() and lbg__y_span() lay it out: 8 to 16 bytes, lanes 0..7
 * s[0..8) and 8..15 s[n-8..n); 4 to 7 bytes, lanes 0..3 s[0..4) and 4..7
 * s[n-4..n) (the lanes above are not read); 1 to 3 bytes, lanes 0, 1, 2
 * s[0], s[n/2], s[n-1] (the lanes above are not read).
 */
LBG_INLINE unsigned
lbg__lane_bytes(unsigned m, size_t n)
{
    /* 1 to 3 bytes: by n and lanes 0..2, the bytes s[0] s[n/2] s[n-1] */
    static const unsigned char short_bytes[4][8] = {
        {0, 0, 0, 0, 0, 0, 0, 0},
        {0, 1, 1, 1, 1, 1, 1, 1},
        {0, 1, 2, 3, 2, 3, 2, 3},
        {0, 1, 2, 3, 4, 5, 6, 7},
    };

    if (n >= 8) {
        return (m & 0xffu) | ((m >> 8) & 0xffu) << (n - 8);
    }
    if (n >= 4) {
        return (m & 0xfu) | ((m >> 4) & 0xfu) << (n - 4);
    }
    return short_bytes[n][m & 7u];
}

/* The CTL of a field value that field-value-ctl reports (RFC 9110 5.5):
 * 0x01..0x1f but HTAB, LF, CR, and DEL; bits of the ones below 0x20 that
 * are not, NUL LF CR (rules of their own) and HTAB (allowed) */
#define LBG__NOT_CTL_RULE 0x2601u
#define lbg__ctl_rule(c)                                                     \
    ((c) == 0x7f || ((c) < 0x20 && !((LBG__NOT_CTL_RULE >> (c)) & 1u)))

/*
 * The findings of field f, index idx, whose line is below the field
 * budget, when lbg_check()'s loop knows exactly which of its parts hold a
 * byte to report (`bad`: LBG__F_NAME, LBG__F_VALUE, never LBG__F_SCAN),
 * without the byte walk where that is exact: a name of any length
 * (LBG__F_NAME: not a token; field-name-invalid when a byte is
 * LBG__NAMEBAD or the name is empty, else field-name-not-token; at the
 * whole name), and a value of 1 to 64 bytes whose bad bytes are all CTL
 * of lbg__ctl_rule(), no NUL, CR or LF (one field-value-ctl at the first
 * of them, n1 its index, at_len 1; RFC 9110 5.5; classified here, 16
 * bytes per load, the last overlapping): the findings and edits of
 * lbg__check_name() and lbg__check_value(), in that order. Returns 1
 * when done, 0 (nothing recorded) when the field needs
 * lbg__check_field(): a longer value, or one with NUL, CR or LF (obs-fold,
 * trailing CR, one finding per rule). Reads exactly f's name and value.
 */
LBG_INLINE int
lbg__check_fast(const lbg_policy_t *p, const lbg_field_t *f, size_t idx,
                lbg_report_t *rep, unsigned bad)
{
    const unsigned char *s;
    size_t               n, j, at = 0;
    __m128i              x;
    uint64_t             bb;
    int                  sp;

    if (bad & LBG__F_VALUE) {
        /* every bad byte a CTL of lbg__ctl_rule() (no NUL, CR, LF): one
         * finding, at the first */
        s = f->value;
        n = f->value_len;
        if (n - 1 >= 64) {
            return 0;
        }
        if (n <= 16) {
            x = lbg__q_load(s, n);
            sp = _mm_movemask_epi8(lbg__f_special(x));
            bb = lbg__lane_bytes((unsigned) _mm_movemask_epi8(
                                     lbg__c_vbad(lbg__q_vkey(x))),
                                 n);
        } else {
            x = lbg__q_loadu(s + n - 16);
            sp = _mm_movemask_epi8(lbg__f_special(x));
            bb = (uint64_t) _mm_movemask_epi8(lbg__c_vbad(lbg__q_vkey(x)))
                 << (n - 16);
            for (j = 0; j + 16 < n; j += 16) {
                x = lbg__q_loadu(s + j);
                sp |= _mm_movemask_epi8(lbg__f_special(x));
                bb |=
                    (uint64_t) _mm_movemask_epi8(lbg__c_vbad(lbg__q_vkey(x)))
                    << j;
            }
        }
        if (sp != 0 || bb == 0) {
            return 0;
        }
        at = (size_t) __builtin_ctzll(bb);
    }
    if (bad & LBG__F_NAME) {
        lbg__name_finding(p, rep, f, idx,
                          lbg__name_invalid(f->name, f->name_len));
    }
    if (bad & LBG__F_VALUE) {
        lbg__ctl_finding(p, rep, f, idx, at);
    }
    return 1;
}
#endif


/* Removes every field of the given kind. */
static void
lbg__remove_all(const lbg_response_t *r, lbg_report_t *rep,
                const unsigned char *kind, unsigned char which)
{
    size_t i;

    for (i = 0; i < r->nfields; i++) {
        if (kind[i] == which) {
            lbg__edit(rep, LBG_EDIT_REMOVE, i, 0, NULL, 0);
        }
    }
}


static const unsigned char lbg__chunked[] = "chunked";


static void
lbg__check_framing(const lbg_policy_t *p, const lbg_response_t *r,
                   lbg_report_t *rep, const unsigned char *kind)
{
    const lbg_field_t   *f;
    const unsigned char *first_el;
    size_t               i, first_len, ncodings = 0, nchunked = 0;
    size_t               first_cl = LBG_NO_FIELD, first_te = LBG_NO_FIELD;
    int64_t              v, cl = -1;
    int                  bad = 0, conflict = 0, final_chunked = 0;
    int                  empty = 0, acted = 0;

    if ((r->status >= 100 && r->status < 200) || r->status == 204) {
        /* RFC 9110 8.6, RFC 9112 6.1: no framing on 1xx and 204 */
        for (i = 0; i < r->nfields; i++) {
            f = &r->fields[i];
            if (kind[i] == LBG__K_TE
                || (kind[i] == LBG__K_CL
                    && lbg_content_length_parse(f->value, f->value_len) != 0))
            {
                if (lbg__finding(p, rep, LBG_RULE_FRAMING_ON_BODILESS_STATUS,
                                 i, f->value, f->value_len, r->status, 0))
                {
                    lbg__edit(rep, LBG_EDIT_REMOVE, i, 0, NULL, 0);
                }
            }
        }
        return;
    }

    /* Content-Length, RFC 9110 8.6 */
    for (i = 0; i < r->nfields; i++) {
        if (kind[i] != LBG__K_CL) {
            continue;
        }
        f = &r->fields[i];
        v = lbg_content_length_parse(f->value, f->value_len);
        if (v < 0) {
            v = lbg__cl_list(f->value, f->value_len, &first_el, &first_len);
            if (v == -1) {
                bad = 1;
                acted |= lbg__finding(p, rep, LBG_RULE_CONTENT_LENGTH_INVALID,
                                      i, f->value, f->value_len, 0, 0);
                continue;
            }
            if (v == -2) {
                conflict = 1;
                acted |= lbg__finding(p, rep,
                                      LBG_RULE_CONTENT_LENGTH_CONFLICT, i,
                                      f->value, f->value_len, -1, -1);
                continue;
            }
            /* "42, 42": a duplicate in one field; collapse to "42" */
            if (lbg__finding(p, rep, LBG_RULE_CONTENT_LENGTH_DUPLICATE, i,
                             f->value, f->value_len, v, 0))
            {
                lbg__edit(rep, LBG_EDIT_SET, i, 0, first_el, first_len);
            }
        }
        if (first_cl == LBG_NO_FIELD) {
            first_cl = i;
            cl = v;
        } else if (v != cl) {
            if (!conflict) {
                acted |= lbg__finding(p, rep,
                                      LBG_RULE_CONTENT_LENGTH_CONFLICT, i,
                                      f->value, f->value_len, cl, v);
            }
            conflict = 1;
        } else if (lbg__finding(p, rep, LBG_RULE_CONTENT_LENGTH_DUPLICATE, i,
                                f->value, f->value_len, v, 0))
        {
            lbg__edit(rep, LBG_EDIT_REMOVE, i, 0, NULL, 0);
        }
    }
    if (acted) {
        /* the length is unknown: remove every Content-Length and let the
         * close of the connection delimit the body (RFC 9112 6.3) */
        lbg__remove_all(r, rep, kind, LBG__K_CL);
        lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
    }

    /* Transfer-Encoding, RFC 9112 6.1, 6.3, 7 */
    for (i = 0; i < r->nfields; i++) {
        if (kind[i] == LBG__K_TE) {
            if (first_te == LBG_NO_FIELD) {
                first_te = i;
            }
            f = &r->fields[i];
            lbg__te_scan(f->value, f->value_len, &ncodings, &nchunked,
                         &final_chunked, &empty);
        }
    }
    if (first_te == LBG_NO_FIELD) {
        return;
    }
    f = &r->fields[first_te];
    if (nchunked > 1) {
        if (lbg__finding(p, rep, LBG_RULE_TE_CHUNKED_TWICE, first_te,
                         f->value, f->value_len, (int64_t) nchunked, 0))
        {
            if (ncodings == nchunked && !empty) {
                /* only "chunked", repeated: keep one */
                lbg__edit(rep, LBG_EDIT_SET, first_te, 0, lbg__chunked, 7);
                for (i = first_te + 1; i < r->nfields; i++) {
                    if (kind[i] == LBG__K_TE) {
                        lbg__edit(rep, LBG_EDIT_REMOVE, i, 0, NULL, 0);
                    }
                }
            } else {
                rep->unrepairable = 1;
                lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
            }
        }
    }
    if (nchunked > 0 && !final_chunked) {
        /* "chunked, gzip": the body is read until the close (RFC 9112
         * 6.3), but nginx before 1.23 reads it as chunked */
        if (lbg__finding(p, rep, LBG_RULE_TE_CHUNKED_NOT_FINAL, first_te,
                         f->value, f->value_len, 0, 0))
        {
            lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
        }
    } else if (!final_chunked || empty || ncodings != nchunked) {
        /* RFC 9112 6.3 frames "gzip, chunked" by chunked and anything
         * else by the close, but nginx and Envoy accept exactly "chunked"
         * and nothing else */
        if (lbg__finding(p, rep, LBG_RULE_TE_NOT_CHUNKED, first_te, f->value,
                         f->value_len, 0, 0))
        {
            lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
        }
    }
    if (first_cl != LBG_NO_FIELD || bad || conflict) {
        for (i = 0; i < r->nfields && kind[i] != LBG__K_CL; i++) {
            /* find the first Content-Length, valid or not */
        }
        f = &r->fields[i];
        if (lbg__finding(p, rep, LBG_RULE_TE_WITH_CONTENT_LENGTH, i, f->value,
                         f->value_len, 0, 0))
        {
            lbg__remove_all(r, rep, kind, LBG__K_CL);
            lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
        }
    }
}


lbg_framing_e
lbg__framing_of(const lbg_response_t *r, const lbg_report_t *rep,
                const unsigned char *kind, int drop, int64_t *declared)
{
    const lbg_field_t   *f;
    const lbg_edit_t    *set;
    const unsigned char *v, *el;
    size_t               i, vlen, ellen, ncodings = 0, nchunked = 0;
    int64_t              x, cl = -1;
    int                  kd, removed, sanitized, have_te = 0, have_cl = 0;
    int                  cl_ok = 1;
    int                  final_chunked = 0, empty = 0;

    *declared = -1;
    if (lbg_response_bodiless(r)) {
        return LBG_FRAMING_NONE;
    }
    for (i = 0; i < r->nfields; i++) {
        f = &r->fields[i];
        if (kind != NULL) {
            kd = kind[i];
        } else {
            kd = (f->name_len == 14 || f->name_len == 17)
                     ? lbg__framing_name(f->name, f->name_len)
                     : 0;
        }
        if (kd == 0 || (kd & drop) != 0) {
            continue;
        }
        lbg__field_edits(rep, i, &removed, &sanitized, &set);
        if (removed) {
            continue;
        }
        v = set != NULL ? set->value : f->value;
        vlen = set != NULL ? set->value_len : f->value_len;
        if (kd == LBG__K_TE) {
            have_te = 1;
            lbg__te_scan(v, vlen, &ncodings, &nchunked, &final_chunked,
                         &empty);
            continue;
        }
        x = lbg_content_length_parse(v, vlen);
        if (x < 0) {
            /* "42, 42": a list of one repeated value is that value */
            x = lbg__cl_list(v, vlen, &el, &ellen);
        }
        if (x < 0 || (have_cl && x != cl)) {
            cl_ok = 0;
        }
        have_cl = 1;
        cl = x;
    }
    if (have_te) {
        return (final_chunked && !empty) ? LBG_FRAMING_CHUNKED
                                         : LBG_FRAMING_CLOSE;
    }
    if (have_cl && cl_ok) {
        *declared = cl;
        return LBG_FRAMING_LENGTH;
    }
    return LBG_FRAMING_CLOSE;
}


/* Records lbg__framing_of() of r, as rep's edits leave it, in rep. */
static void
lbg__framing_verdict(const lbg_response_t *r, lbg_report_t *rep,
                     const unsigned char *kind)
{
    rep->framing = lbg__framing_of(r, rep, kind, 0, &rep->declared);
}


/*
 * A budget finding (FIELD_TOO_LARGE, TOO_MANY_FIELDS, HEADER_TOO_LARGE;
 * RFC 9110 5.4 lets a recipient refuse a header section it finds too
 * large). Under a profile naming one load balancer that LB answers 502 to
 * it anyway (HAProxy: tune.bufsize, tune.http.maxhdr; nginx:
 * proxy_buffer_size; Envoy, llhttp, ALB: their header limits), so the
 * repair is the target's own 502 Bad Gateway (LBG_EDIT_BAD_GATEWAY), whose
 * cause the target's log names. Under STRICTEST the budget is the minimum
 * of all LBs and the real one may well accept the response (ALB takes 32
 * KiB): the finding is reported, the response is left as it is and counts
 * as not repairable (the rule's repair text begins "none"). Arguments as
 * lbg__finding.
 */
static void
lbg__budget(const lbg_policy_t *p, lbg_report_t *rep, lbg_rule_e rule,
            size_t field, const unsigned char *at, size_t at_len, int64_t n1,
            int64_t n2)
{
    unsigned unrepairable = rep->unrepairable;

    if (!lbg__finding(p, rep, rule, field, at, at_len, n1, n2)) {
        return;
    }
    if (p->profile == LBG_PROFILE_STRICTEST) {
        return; /* lbg__finding has set unrepairable ("none ...") */
    }
    rep->unrepairable = unrepairable;
    lbg__edit(rep, LBG_EDIT_BAD_GATEWAY, LBG_NO_FIELD, 502, NULL, 0);
    lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
    if (!rep->truncated) {
        /* what became of it, for lbg_report_outcome() */
        rep->findings[rep->nfindings - 1].bad_gateway = 1;
    }
}


/* The end of the element of comma-separated value v[0..len) that starts
 * at i: the next comma outside a quoted string (in which a backslash
 * quotes the byte after it), or len. HAProxy 2.6's
 * http_find_hdr_value_end() (src/http.c). */
static size_t
lbg__hap_elt_end(const unsigned char *v, size_t len, size_t i)
{
    int quoted = 0;

    for (; i < len; i++) {
        if (quoted) {
            if (v[i] == '\\' && i + 1 < len) {
                i++;
            } else if (v[i] == '"') {
                quoted = 0;
            }
        } else if (v[i] == '"') {
            quoted = 1;
        } else if (v[i] == ',') {
            break;
        }
    }
    return i;
}


/*
 * The length of the value HAProxy 2.6 stores for a Connection field of
 * value v[0..len): h1_parse_connection_header() with H1_MF_CLEAN_CONN_HDR
 * (src/h1.c) removes the elements "close" and "keep-alive" (ASCII
 * case-insensitive): until it removes one the value is kept as written,
 * up to the end of the last element kept; after that every kept element
 * is appended, a comma before it, without its white space. 0: nothing is
 * left, and HAProxy drops the field.
 */
static size_t
lbg__hap_conn_len(const unsigned char *v, size_t len)
{
    size_t i, n, w, out = 0, p = 0;

    for (i = 0; i < len; i++) {
        if (lbg__is(v[i], LBG__WS)) {
            continue;
        }
        n = lbg__hap_elt_end(v, len, i);
        for (w = n - i; w > 0 && lbg__is(v[i + w - 1], LBG__WS); w--) {
            /* the element without its trailing white space */
        }
        if (!lbg__ieq(v + i, w, "close", 5)
            && !lbg__ieq(v + i, w, "keep-alive", 10)) {
            /* out == p: nothing removed so far (out < p once removed) */
            out = out == p ? n : out + (out != 0) + w;
        }
        p = i = n;
    }
    return out;
}


/* The length of the value HAProxy 2.6 stores for a Content-Length field of
 * value v[0..len): h1_parse_cont_len_header() (src/h1.c) keeps the digits
 * of the last element of a list ("3, 3" stores "3"). A value it refuses
 * (the response gets its 502, and a finding of its own here) counts whole.
 */
static size_t
lbg__hap_cl_len(const unsigned char *v, size_t len)
{
    size_t i = 0, d, last = len;

    while (i < len) {
        while (i < len && lbg__is(v[i], LBG__WS)) {
            i++;
        }
        for (d = i; d < len && v[d] >= '0' && v[d] <= '9'; d++) {
            /* the element's digits */
        }
        if (d == i) {
            return len;
        }
        last = d - i;
        for (i = d; i < len && lbg__is(v[i], LBG__WS); i++) {
            /* white space before the comma */
        }
        if (i < len && v[i++] != ',') {
            return len;
        }
    }
    return last;
}


/*
 * What the load balancer does not store of r's fields, for an LB that
 * counts a cost per field (HAProxy's HTX; none for the others): returns
 * the fields it drops and sets *bytes to the wire bytes it does not
 * store. HAProxy 2.6 (h1_headers_to_hdr_list(), src/h1.c) drops a
 * Connection field left empty once "close" and "keep-alive" are removed
 * and stores the rest of one shorter (lbg__hap_conn_len()), stores the
 * first Content-Length as the digits of its last element
 * (lbg__hap_cl_len()) and drops the others (equal values; it refuses
 * different ones). A dropped field is not one of the 100 it stores
 * either. Off the hot path.
 */
static size_t
lbg__lb_dropped(const lbg_policy_t *p, const lbg_response_t *r, size_t *bytes)
{
    const lbg_field_t *f;
    size_t             i, k = 0, n = 0;
    int                cl = 0, drop;

    *bytes = 0;
    if (p->header_field_cost == 0) {
        return 0;
    }
    for (i = 0; i < r->nfields; i++) {
        f = &r->fields[i];
        if (f->name_len == 10 && lbg__ieq(f->name, 10, "connection", 10)) {
            k = lbg__hap_conn_len(f->value, f->value_len);
            drop = k == 0;
        } else if (f->name_len == 14
                   && lbg__framing_name(f->name, 14) == LBG__K_CL) {
            drop = cl++ > 0;
            k = drop ? 0 : lbg__hap_cl_len(f->value, f->value_len);
        } else {
            continue;
        }
        if (drop) {
            *bytes += f->name_len + f->value_len + 4;
            n++;
        } else {
            *bytes += f->value_len - k;
        }
    }
    return n;
}


/*
 * The header section (total wire bytes) is over p's budget as
 * lbg_header_over() counts it, an upper bound: off the hot path, count it
 * as the load balancer does (lbg__lb_dropped(): a field it does not store
 * takes no room) and record HEADER_TOO_LARGE when it is over that. The
 * finding says the wire bytes (n1) and the LB's limit for this response
 * in wire bytes (n2).
 */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static void
lbg__header_over(const lbg_policy_t *p, const lbg_response_t *r,
                 lbg_report_t *rep, size_t total)
{
    size_t dropped, nf = r->nfields - lbg__lb_dropped(p, r, &dropped);

    if (dropped && !lbg_header_over(p, total - dropped, nf)) {
        return;
    }
    lbg__budget(p, rep, LBG_RULE_HEADER_TOO_LARGE, LBG_NO_FIELD, NULL, 0,
                (int64_t) total,
                (int64_t) (lbg_header_budget_wire(p, nf) + dropped));
}


/*
 * More field lines than p's max_fields: off the hot path, count them as
 * the load balancer does (HAProxy stores at most 100, a field it drops,
 * lbg__lb_dropped(), is not one of them) and record TOO_MANY_FIELDS when
 * they are over: n1 the field lines sent, n2 the most the LB takes in this
 * response.
 */
#if defined(__GNUC__)
__attribute__((noinline, cold))
#endif
static void
lbg__fields_over(const lbg_policy_t *p, const lbg_response_t *r,
                 lbg_report_t *rep)
{
    size_t bytes, nd = lbg__lb_dropped(p, r, &bytes);

    if (r->nfields - nd > p->max_fields) {
        lbg__budget(p, rep, LBG_RULE_TOO_MANY_FIELDS, LBG_NO_FIELD, NULL, 0,
                    (int64_t) r->nfields, (int64_t) (p->max_fields + nd));
    }
}


/* What lbg_check()'s pass over the fields adds up. */
typedef struct {
    size_t             ncl; /* Content-Length fields */
    size_t             nte; /* Transfer-Encoding fields */
    const lbg_field_t *cl;  /* the first Content-Length */
} lbg__sums_t;


/* Counts field f in s when it is a framing field (RFC 9110 8.6, RFC 9112
 * 6.1). */
LBG_INLINE void
lbg__count_kind(const lbg_field_t *f, lbg__sums_t *s)
{
    int k;

    if (f->name_len == 14 || f->name_len == 17) {
        k = lbg__framing_name(f->name, f->name_len);
        if (k == LBG__K_CL) {
            if (s->ncl++ == 0) {
                s->cl = f;
            }
        } else if (k == LBG__K_TE) {
            s->nte++;
        }
    }
}


#ifdef LBG_QUICK_INLINE
/* lbg__check_one_inline()'s field f, index i, below the field budget,
 * whose parts `bad` (LBG__F_NAME, LBG__F_VALUE; exact, from
 * lbg__c_field_bad()) hold a byte to report: lbg__check_fast() with the
 * value's bad lanes of one lbg__q_load() (1 to 16 bytes), else
 * lbg__check_field(). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void
lbg__check_bad_sse2(const lbg_policy_t *p, const lbg_field_t *f, size_t i,
                    lbg_report_t *rep, unsigned bad)
{
    if (!lbg__check_fast(p, f, i, rep, bad)) {
        lbg__check_field(p, f, i, rep, bad);
    }
}
#endif


/* The byte and budget checks of field f, index i, with their findings
 * (lbg__check_field()) when there are any: a field line of len >= big
 * bytes may be over the field budget (every check, exact); an untrusted
 * field gets the inline test first. */
LBG_INLINE void
lbg__check_one_inline(const lbg_policy_t *p, const lbg_field_t *f, size_t i,
                      lbg_report_t *rep, size_t big)
{
    unsigned bad;

    if (lbg__unlikely(f->name_len + f->value_len >= big)) {
        lbg__check_field(p, f, i, rep,
                         f->trusted
                             ? 0
                             : LBG__F_NAME | LBG__F_VALUE | LBG__F_SCAN);
    } else if (!f->trusted) {
#ifdef LBG_QUICK_INLINE
        bad = lbg__c_field_bad(f->name, f->name_len, f->value, f->value_len);
#else
        bad = LBG__F_NAME | LBG__F_VALUE | LBG__F_SCAN;
#endif
        if (lbg__unlikely(bad != 0)) {
#ifdef LBG_QUICK_INLINE
            lbg__check_bad_sse2(p, f, i, rep, bad);
#else
            lbg__check_field(p, f, i, rep, bad);
#endif
        }
    }
}


#ifdef LBG__CHECK_AVX2
/*
 * The AVX2 pass classifies a field as one 32-byte vector: its name in the
 * low 16 bytes, its value in the high 16 (lbg__y_field()). A byte is
 * classified by two table lookups (vpshufb, one table per 16-byte lane):
 * its low nibble selects a set of rows (a bit each), its high nibble its
 * row's bit, and the byte is bad when the two share a bit. In the name
 * lane a byte is bad when it is not a tchar of RFC 9110 5.6.2 (every one
 * of them, exactly: rows 2..7 a bit each, rows 0, 1 and 8..15 one bit set
 * at every low nibble); in the value lane when it is not field-vchar, SP
 * or HTAB (RFC 9110 5.5: row 0 but HTAB, row 1, DEL in row 7; a byte from
 * 0x80 up is obs-text). A field is clean when its vector of bad bits is
 * all zero: one vptest for a pair. tests/unit/test_check_bytes.c checks
 * every byte value at every position against a reference.
 */
enum {
    LBG__Y_LO,    /* by low nibble: the rows where it is bad, name lane
                   * and value lane */
    LBG__Y_HI,    /* by high nibble: the row's bit */
    LBG__Y_0F,    /* 0x0f: the nibble mask */
    LBG__Y_TRUST, /* 'a' in the name lane, SP in the value lane: a good
                   * field (a trusted one, or an empty value) */
    LBG__Y_DEL,   /* 0x7f: lbg__y_vkey() */
    LBG__Y_HTAB,  /* 0x09: lbg__y_vkey() */
    LBG__Y_NLO,   /* LBG__Y_LO's name lane in both lanes */
    LBG__Y_NHI,   /* LBG__Y_HI's name lane in both lanes */
    LBG__Y_N
};

#define LBG__Y8(b) b, b, b, b, b, b, b, b
#define LBG__Y32(b)                                                          \
    {                                                                        \
        LBG__Y8(b), LBG__Y8(b), LBG__Y8(b), LBG__Y8(b)                       \
    }

static const unsigned char lbg__y_const[LBG__Y_N][32]
    __attribute__((aligned(32))) = {
        {/* name lane: bit 0 (rows 0, 1, 8..15) always, rows 2..7 where
          * the byte is no tchar */
         0x15, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x05, 0x05, 0x09,
         0xa9, 0x2d, 0xa9, 0x09, 0x8d,
         /* value lane: row 0 but at HTAB, row 1 always, row 7 at DEL */
         0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x02, 0x03,
         0x03, 0x03, 0x03, 0x03, 0x83},
        {0x01, 0x01, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x01, 0x01, 0x01,
         0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00,
         0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
        LBG__Y32(0x0f),
        {LBG__Y8('a'), LBG__Y8('a'), LBG__Y8(0x20), LBG__Y8(0x20)},
        LBG__Y32(0x7f),
        LBG__Y32(0x09),
        {0x15, 0x01, 0x05, 0x01, 0x01, 0x01, 0x01, 0x01, 0x05, 0x05, 0x09,
         0xa9, 0x2d, 0xa9, 0x09, 0x8d, 0x15, 0x01, 0x05, 0x01, 0x01, 0x01,
         0x01, 0x01, 0x05, 0x05, 0x09, 0xa9, 0x2d, 0xa9, 0x09, 0x8d},
        {0x01, 0x01, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x01, 0x01, 0x01,
         0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x04, 0x08, 0x10, 0x20,
         0x40, 0x80, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01},
};

/* The constants as vectors, through a pointer the compiler cannot see
 * through: GCC would fold the loads into constants and build each anew in
 * every iteration; this way each is loaded once. */
__attribute__((target("avx2"), always_inline)) static inline const __m256i *
lbg__y_init(void)
{
    const __m256i *c = (const __m256i *) (const void *) lbg__y_const;

    __asm__("" : "+r"(c));
    return c;
}

/* The constants lbg__fields_avx2() holds in registers */
typedef struct {
    __m256i lo, hi, nib, trust;
} lbg__y_k_t;

/* Per byte of x: 0 when the byte is good in its lane (name lane: tchar;
 * value lane: field-vchar, SP, HTAB), else not 0 */
__attribute__((target("avx2"), always_inline)) static inline __m256i
lbg__y_class(const lbg__y_k_t *k, __m256i x)
{
    __m256i lo = _mm256_and_si256(x, k->nib);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), k->nib);

    return _mm256_and_si256(_mm256_shuffle_epi8(k->lo, lo),
                            _mm256_shuffle_epi8(k->hi, hi));
}

/* s[0..4) in each 32-bit lane, at any alignment: one vbroadcastss. GCC's
 * _mm_broadcast_ss() is a builtin; clang's dereferences a float pointer
 * (a misaligned load to UBSan), its _mm_loadu_si32() does not. */
__attribute__((target("avx2"), always_inline)) static inline __m128i
lbg__y_bcast32(const unsigned char *s)
{
#if defined(__clang__)
    return _mm_broadcastd_epi32(_mm_loadu_si32(s));
#else
    return _mm_castps_si128(
        _mm_broadcast_ss((const float *) (const void *) s));
#endif
}

/* 16 bytes that are all bytes of s[0..n), 1 <= n <= 16 (some twice):
 * lbg__q_load() in fewer instructions, 8 to 16 bytes first */
__attribute__((target("avx2"), always_inline)) static inline __m128i
lbg__y_span(const unsigned char *s, size_t n)
{
    uint32_t b;

    if (lbg__likely(n >= 8)) {
        return _mm_castps_si128(
            _mm_loadh_pi(_mm_castsi128_ps(_mm_loadl_epi64(
                             (const __m128i *) (const void *) s)),
                         (const __m64 *) (const void *) (s + n - 8)));
    }
    if (n >= 4) {
        memcpy(&b, s + n - 4, 4);
        return _mm_insert_epi32(lbg__y_bcast32(s), (int) b, 1);
    }
    return _mm_insert_epi8(_mm_insert_epi8(_mm_set1_epi8((char) s[0]),
                                           s[n >> 1], 1),
                           s[n - 1], 2);
}

/* The value keys of v (lbg__q_vkey() on 32 bytes; c: the constants,
 * memory operands) */
__attribute__((target("avx2"), always_inline)) static inline __m256i
lbg__y_vkey(const __m256i *c, __m256i v)
{
    return _mm256_andnot_si256(
        _mm256_cmpeq_epi8(v, c[LBG__Y_DEL]),
        _mm256_or_si256(v, _mm256_cmpeq_epi8(v, c[LBG__Y_HTAB])));
}

/* Two 16-byte blocks s[i..i + 16) and s[j..j + 16) as one vector */
__attribute__((target("avx2"), always_inline)) static inline __m256i
lbg__y_load2(const unsigned char *s, size_t i, size_t j)
{
    return _mm256_inserti128_si256(_mm256_castsi128_si256(
                                       lbg__q_loadu(s + i)),
                                   lbg__q_loadu(s + j), 1);
}

/* The low and the high 16 bytes of x, bytewise minimum */
__attribute__((target("avx2"), always_inline)) static inline __m128i
lbg__y_min2(__m256i x)
{
    return _mm_min_epu8(_mm256_castsi256_si128(x),
                        _mm256_extracti128_si256(x, 1));
}

/* Per byte of x, 32 bytes of a name: 0 when the byte is a tchar, else
 * not 0 (lbg__y_class() with the name lane's tables in both lanes) */
__attribute__((target("avx2"), always_inline)) static inline __m256i
lbg__y_nbad(const lbg__y_k_t *k, const __m256i *c, __m256i x)
{
    return _mm256_and_si256(
        _mm256_shuffle_epi8(c[LBG__Y_NLO], _mm256_and_si256(x, k->nib)),
        _mm256_shuffle_epi8(c[LBG__Y_NHI],
                            _mm256_and_si256(_mm256_srli_epi16(x, 4),
                                             k->nib)));
}

/* x, or all 0 (bad in either lane) when the field line may be over the
 * field budget (over): the mark lbg__y_field() puts in a long part */
__attribute__((target("avx2"), always_inline)) static inline __m128i
lbg__y_over(__m128i x, int over)
{
    return lbg__unlikely(over) ? _mm_setzero_si128() : x;
}

/* The name lane of a name of 17 bytes or more from m, its blocks' bad
 * bits (lbg__y_nbad()) in both halves: 'a' where every block is tchar,
 * else 0 (lbg__y_over() when the line may be over the budget) */
__attribute__((target("avx2"), always_inline)) static inline __m128i
lbg__y_nlong(const lbg__y_k_t *k, __m256i m, int over)
{
    __m128i g = _mm_or_si128(_mm256_castsi256_si128(m),
                             _mm256_extracti128_si256(m, 1));

    return lbg__y_over(_mm_and_si128(_mm_cmpeq_epi8(g, _mm_setzero_si128()),
                                     _mm256_castsi256_si128(k->trust)),
                       over);
}

/*
 * Field f as one vector for lbg__y_class(): the name lane holds its name
 * (1 to 16 bytes: its bytes, some twice; longer: 'a' in the lanes where
 * every 16-byte block of it is tchar, else 0, the blocks two at a time,
 * the first and the last overlapping the others; empty: 0), the value
 * lane its value (1 to 16 bytes: its bytes; longer: the minimum of its
 * value keys, lbg__q_vkey(), a key being its own key: 17 to 32 bytes as
 * two 16-byte blocks that overlap, longer 32 bytes per step, the last
 * load overlapping; empty: SP). Every byte of it is good exactly when the
 * name is a token and the value all field-vchar, SP and HTAB. A trusted
 * field: k->trust. A field line that may be over the field budget
 * (name_len + value_len >= big, big >= 33) is made bad in its long part's
 * lane (a trusted one in every lane): with both parts of 16 bytes or less
 * a line cannot reach the budget, so only the long parts test it. A
 * framing name (lbg__framing_name()) is counted in *s on the way. Reads
 * exactly the name's and the value's bytes; no calls.
 */
__attribute__((target("avx2"), always_inline)) static inline __m256i
lbg__y_field(const lbg__y_k_t *k, const __m256i *c, const lbg_field_t *f,
             size_t big, lbg__sums_t *s)
{
    const unsigned char *nm = f->name, *vl = f->value;
    size_t               nn = f->name_len, nv = f->value_len, j;
    __m128i              n, v;
    __m256i              m;
    uint32_t             b4;

    if (lbg__unlikely(f->trusted)) {
        if (lbg__unlikely(nn == 14 || nn == 17)) {
            lbg__count_kind(f, s);
        }
        return lbg__unlikely(nn + nv >= big) ? _mm256_setzero_si256()
                                             : k->trust;
    }
    if (lbg__likely(nn - 8 <= 8)) {
        if (lbg__unlikely(nn == 14)) {
            lbg__count_kind(f, s);
        }
        n = lbg__y_span(nm, nn);
    } else if (nn - 4 < 4) {
        memcpy(&b4, nm + nn - 4, 4);
        n = _mm_insert_epi32(lbg__y_bcast32(nm), (int) b4, 1);
    } else if (nn - 1 < 3) {
        n = _mm_insert_epi8(_mm_insert_epi8(_mm_set1_epi8((char) nm[0]),
                                            nm[nn >> 1], 1),
                            nm[nn - 1], 2);
    } else if (nn - 17 < 16) {
        if (lbg__unlikely(nn == 17)) {
            lbg__count_kind(f, s);
        }
        n = lbg__y_nlong(k, lbg__y_nbad(k, c, lbg__y_load2(nm, 0, nn - 16)),
                         nn + nv >= big);
    } else if (nn == 0) {
        n = _mm_setzero_si128();
    } else {
        /* 33 bytes or more: 32 bytes per step, the last pair of blocks
         * may repeat the last block */
        m = lbg__y_nbad(k, c, lbg__y_load2(nm, 0, nn - 16));
        for (j = 16; j + 16 < nn; j += 32) {
            m = _mm256_or_si256(
                m, lbg__y_nbad(k, c,
                               lbg__y_load2(nm, j,
                                            j + 32 < nn ? j + 16 : nn - 16)));
        }
        n = lbg__y_nlong(k, m, nn + nv >= big);
    }
    if (lbg__likely(nv - 1 < 16)) {
        v = lbg__y_span(vl, nv);
    } else if (nv - 17 < 16) {
        /* 17 to 32 bytes: two blocks that overlap */
        v = lbg__y_over(lbg__y_min2(
                            lbg__y_vkey(c, lbg__y_load2(vl, 0, nv - 16))),
                        nn + nv >= big);
    } else if (nv != 0) {
        /* 33 bytes or more: 32 bytes per step, the last load overlapping */
        m = lbg__y_vkey(c,
                        _mm256_loadu_si256(
                            (const __m256i *) (const void *) (vl + nv - 32)));
        for (j = 0; j + 32 < nv; j += 32) {
            m = _mm256_min_epu8(
                m,
                lbg__y_vkey(c,
                            _mm256_loadu_si256(
                                (const __m256i *) (const void *) (vl + j))));
        }
        v = lbg__y_over(lbg__y_min2(m), nn + nv >= big);
    } else {
        v = _mm256_extracti128_si256(k->trust, 1);
    }
    return _mm256_set_m128i(v, n);
}


/*
 * The fields f[0..cnt) (cnt 1 or 2, at indexes i, i + 1) of a pair with
 * a bad byte, or that may be over the field budget (a line of big bytes
 * or more). ma, mb: the bad lanes of each (lbg__y_class() != 0, low 16
 * bits the name, high 16 the value; exact). A field with a part to
 * report, or whose line may be over the budget, gets lbg__check_field()
 * with what failed (LBG__F_*), findings in field order. Out of the loop's
 * way: one call, and the common finding (one field of the pair, a CTL in
 * a short value or a name that is not a token) without a call of its own
 * (lbg__check_one_leaf()). The value's bad lanes are read as lbg__y_span()
 * lays a value of 1 to 16 bytes out (lbg__lane_bytes()): a change there
 * must change that too (test_check_findings_exact fails otherwise).
 */
/* lbg__check_pair() for one field f, index i, its bad lanes m (a part to
 * report, or a line of big bytes or more), any case: lbg__check_fast()
 * where it is exact, else lbg__check_field(). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void
lbg__check_one_lanes(const lbg_policy_t *p, const lbg_field_t *f, size_t i,
                     lbg_report_t *rep, size_t big, unsigned m)
{
    unsigned bad = ((m & 0xffffu) ? LBG__F_NAME : 0)
                   | ((m >> 16) ? LBG__F_VALUE : 0);

    if (f->name_len + f->value_len >= big
        || !lbg__check_fast(p, f, i, rep, bad)) {
        lbg__check_field(p, f, i, rep, bad);
    }
}

/*
 * lbg__check_one_lanes() with the common cases inline, the line below the
 * budget: a value of 1 to 16 bytes whose bad bytes (its lanes, mapped by
 * lbg__lane_bytes()) are all CTL of lbg__ctl_rule(), the name a token (lbg__check_fast()'s value half), or
 * a name of 1 to 16 bytes that is not a token, the value clean (its name
 * half); every other case a tail call. No call but tail calls:
 * lbg__check_pair() saves no register.
 */
LBG_INLINE void
lbg__check_one_leaf(const lbg_policy_t *p, const lbg_field_t *f, size_t i,
                    lbg_report_t *rep, size_t big, unsigned m)
{
    size_t   n = f->value_len, at, nn = f->name_len;
    unsigned b, k;

    if (lbg__unlikely(nn + n >= big)) {
        lbg__check_one_lanes(p, f, i, rep, big, m);
        return;
    }
    if ((m & 0xffffu) != 0) {
        if ((m >> 16) != 0 || nn - 1 >= 16) {
            lbg__check_one_lanes(p, f, i, rep, big, m);
            return;
        }
        /* the name alone, 1 to 16 bytes (lbg__check_fast()'s name half) */
        lbg__name_finding(p, rep, f, i, lbg__name_invalid(f->name, nn));
        return;
    }
    if (n - 1 >= 16) {
        if (n > 64) {
            /* beyond lbg__check_fast(): the byte walk, the name clean,
             * the line under the budget */
            lbg__check_field(p, f, i, rep, LBG__F_VALUE);
        } else {
            lbg__check_one_lanes(p, f, i, rep, big, m);
        }
        return;
    }
    b = lbg__lane_bytes(m >> 16, n);
    if (b == 0) {
        lbg__check_one_lanes(p, f, i, rep, big, m);
        return;
    }
    at = (size_t) __builtin_ctz(b);
    for (k = b; k != 0; k &= k - 1) {
        if (!lbg__ctl_rule(f->value[__builtin_ctz(k)])) {
            /* NUL, CR or LF (obs-fold, a trailing CR, one finding per
             * rule): the byte walk, the name clean, the line under the
             * budget */
            lbg__check_field(p, f, i, rep, LBG__F_VALUE);
            return;
        }
    }
    lbg__ctl_finding(p, rep, f, i, at);
}

/* lbg__check_pair() when both fields need lbg__check_one_lanes() */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void
lbg__check_both(const lbg_policy_t *p, const lbg_field_t *f, size_t i,
                lbg_report_t *rep, size_t big, unsigned ma, unsigned mb)
{
    lbg__check_one_lanes(p, f, i, rep, big, ma);
    lbg__check_one_lanes(p, f + 1, i + 1, rep, big, mb);
}

/* m: the bad lanes of field i in its low 32 bits, of field i + 1 (cnt 2)
 * in its high 32; a field whose line may be over the field budget has bad
 * lanes too (lbg__y_field()). Six arguments, all in registers. The AVX2
 * pass runs with no field budget or one of 36 bytes or more: big as
 * lbg__check_head() sets it. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void
lbg__check_pair(const lbg_policy_t *p, const lbg_field_t *f, size_t i,
                lbg_report_t *rep, size_t cnt, uint64_t m)
{
    size_t   big = p->max_field_bytes - 3;
    unsigned ma = (unsigned) m, mb = (unsigned) (m >> 32);

    if (cnt == 2 && mb != 0) {
        if (ma != 0) {
            lbg__check_both(p, f, i, rep, big, ma, mb);
        } else {
            lbg__check_one_leaf(p, f + 1, i + 1, rep, big, mb);
        }
    } else if (ma != 0) {
        lbg__check_one_leaf(p, f, i, rep, big, ma);
    }
}


/*
 * lbg_check()'s pass over fields[0..nf) with AVX2: each field one vector
 * (lbg__y_field()), the fields two at a time (with an odd number the
 * first one alone, before the pairs, in field order) through one
 * classification each and one branch per pair; a pair with a bad byte
 * (lbg__y_field() makes a field that may be over the field budget bad,
 * big >= 33) goes to lbg__check_pair(), which records the findings
 * exactly as the SSE2 pass does. Fills *s but its total, which it
 * returns.
 */
__attribute__((target("avx2"), always_inline)) static inline size_t
lbg__fields_avx2(const lbg_policy_t *p, const lbg_field_t *fields, size_t nf,
                 lbg_report_t *rep, size_t big, lbg__sums_t *s)
{
    const lbg_field_t *f = fields, *end = fields + nf;
    size_t             total = 0;
    const __m256i     *c = lbg__y_init();
    lbg__y_k_t         k;
    __m256i            ga, gb, x, z = _mm256_setzero_si256();

    k.lo = c[LBG__Y_LO];
    k.hi = c[LBG__Y_HI];
    k.nib = c[LBG__Y_0F];
    k.trust = c[LBG__Y_TRUST];
    s->ncl = s->nte = 0;
    s->cl = NULL;
    if (nf & 1) {
        /* an odd field first, alone, the constants still in registers */
        total += f->name_len + f->value_len;
        ga = lbg__y_class(&k, lbg__y_field(&k, c, f, big, s));
        if (lbg__unlikely(!_mm256_testz_si256(ga, ga))) {
            lbg__check_pair(p, f, 0, rep, 1,
                            ~(unsigned) _mm256_movemask_epi8(
                                _mm256_cmpeq_epi8(ga, z)));
        }
        f++;
    }
    for (; f < end; f += 2) {
        total += f[0].name_len + f[0].value_len + f[1].name_len
                 + f[1].value_len;
        ga = lbg__y_class(&k, lbg__y_field(&k, c, &f[0], big, s));
        gb = lbg__y_class(&k, lbg__y_field(&k, c, &f[1], big, s));
        x = _mm256_or_si256(ga, gb);
        if (lbg__unlikely(!_mm256_testz_si256(x, x))) {
            lbg__check_pair(p, f, (size_t) (f - fields), rep, 2,
                            ~(unsigned) _mm256_movemask_epi8(
                                _mm256_cmpeq_epi8(ga, z))
                                | (uint64_t) ~(unsigned) _mm256_movemask_epi8(
                                      _mm256_cmpeq_epi8(gb, z))
                                      << 32);
        }
    }
    return total;
}
#endif


/* The first part of lbg_check(): the status line (RFC 9112 4); returns
 * the header section's bytes but the fields' own (RFC 9110 5.4: the
 * status line, CRLF, ": " and CRLF of each field) and sets *big, the
 * field line length (name_len + value_len) from which a field may be over
 * the field budget: len + 4 > max_field_bytes is len >= *big (never with
 * no budget: SIZE_MAX - 2). */
LBG_INLINE size_t
lbg__check_head(const lbg_policy_t *p, const lbg_response_t *r,
                lbg_report_t *rep, size_t *big)
{
    /* no budget (0): SIZE_MAX - 2, which no field line reaches */
    *big = p->max_field_bytes - 1 < 3 ? 0 : p->max_field_bytes - 3;
    if (r->status_line == NULL && (unsigned) r->status - 100 < 500) {
        /* the host writes a valid status code and its own reason */
        return lbg__host_status_line_len(r->status) + 2 + 4 * r->nfields;
    }
    return lbg__check_status(p, r, rep) + 2 + 4 * r->nfields;
}


/* The framing of lbg_check() beyond its fast paths: every framing field
 * classified, lbg__check_framing() and the verdict. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void
lbg__check_framing_all(const lbg_policy_t *p, const lbg_response_t *r,
                       lbg_report_t *rep)
{
    const lbg_field_t *f, *fields = r->fields;
    size_t             i, nf = r->nfields;
    unsigned char      kind[LBG__KIND_MAX];

    if (nf > LBG__KIND_MAX) {
        /* more fields than we classify: the framing cannot be verified;
         * never reuse the connection */
        rep->unrepairable = 1;
        lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
        lbg__framing_verdict(r, rep, NULL);
        return;
    }
    for (i = 0; i < nf; i++) {
        f = &fields[i];
        kind[i] = (f->name_len == 14 || f->name_len == 17) ? (
                      unsigned char) lbg__framing_name(f->name, f->name_len)
                                                           : 0;
    }
    lbg__check_framing(p, r, rep, kind);
    lbg__framing_verdict(r, rep, kind);
}


/* The rest of lbg_check() once the fields are checked (s: what the pass
 * over them added up, total: the header section's bytes): the budgets of
 * the whole header section (RFC 9110 5.4), a 101's Upgrade (RFC 9110
 * 15.2.2) and the message framing (RFC 9112 6). Returns lbg_check()'s
 * result, the findings recorded since `before`. */
LBG_INLINE size_t
lbg__check_tail(const lbg_policy_t *p, const lbg_response_t *r,
                lbg_report_t *rep, size_t total, const lbg__sums_t *s,
                size_t before)
{
    const lbg_field_t *f;
    size_t             nf = r->nfields, ncl = s->ncl, nte = s->nte;
    int64_t            cl;

    if (p->max_fields && nf > p->max_fields) {
        lbg__fields_over(p, r, rep);
    }
    if (lbg_header_over(p, total, nf)) {
        lbg__header_over(p, r, rep, total);
    }

    if (r->status == 101) {
        lbg__check_101(p, r, rep);
    }

    if (ncl + nte == 0) {
        /* no framing field: the close delimits the body */
        rep->framing = lbg_bodiless(r->status, r->head) ? LBG_FRAMING_NONE
                                                        : LBG_FRAMING_CLOSE;
        rep->declared = -1;
        return rep->nfindings - before;
    }
    if (ncl == 1 && nte == 0 && r->status >= 200 && r->status != 204) {
        /* the common case: one Content-Length, valid or host-made */
        f = s->cl;
        cl = f->value_len - 1 < 18
                 ? lbg__cl_short(f->value, f->value_len)
                 : lbg_content_length_parse(f->value, f->value_len);
        if (f->trusted || cl >= 0) {
            /* bodiless here: HEAD or 304 (RFC 9112 6.3) */
            rep->framing = (r->head || r->status == 304) ? LBG_FRAMING_NONE
                           : cl >= 0                     ? LBG_FRAMING_LENGTH
                                                         : LBG_FRAMING_CLOSE;
            rep->declared = rep->framing == LBG_FRAMING_LENGTH ? cl : -1;
            return rep->nfindings - before;
        }
    }
    lbg__check_framing_all(p, r, rep);
    return rep->nfindings - before;
}


#ifdef LBG__CHECK_AVX2
/* lbg_check() where the CPU has AVX2: the fields two at a time */
__attribute__((target("avx2"), noinline)) static size_t
lbg__check_avx2(const lbg_policy_t *p, const lbg_response_t *r,
                lbg_report_t *rep)
{
    size_t      before = rep->nfindings, total, big;
    lbg__sums_t sums;

    total = lbg__check_head(p, r, rep, &big);
    total += lbg__fields_avx2(p, r->fields, r->nfields, rep, big, &sums);
    return lbg__check_tail(p, r, rep, total, &sums, before);
}
#endif


/* lbg_check() one field at a time: SSE2 (the x86-64 baseline), or the
 * portable checks without it or with LBG_NO_SIMD */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static size_t
lbg__check_one_by_one(const lbg_policy_t *p, const lbg_response_t *r,
                      lbg_report_t *rep)
{
    const lbg_field_t *f, *fields = r->fields;
    size_t             i, nf = r->nfields, total, before = rep->nfindings;
    size_t             big;
    lbg__sums_t        sums;

    total = lbg__check_head(p, r, rep, &big);
    sums.ncl = sums.nte = 0;
    sums.cl = NULL;
    for (i = 0; i < nf; i++) {
        f = &fields[i];
        total += f->name_len + f->value_len;
        lbg__check_one_inline(p, f, i, rep, big);
        lbg__count_kind(f, &sums);
    }
    return lbg__check_tail(p, r, rep, total, &sums, before);
}


/* lbg_check() with LBG_MODE_OFF: the framing verdict alone */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static size_t
lbg__check_off(const lbg_response_t *r, lbg_report_t *rep)
{
    lbg__framing_verdict(r, rep, NULL);
    return 0;
}


size_t
lbg_check(const lbg_policy_t *p, const lbg_response_t *r, lbg_report_t *rep)
{
    if (lbg__unlikely(p->mode == LBG_MODE_OFF)) {
        return lbg__check_off(r, rep);
    }
#ifdef LBG__CHECK_AVX2
    if (__builtin_cpu_supports("avx2")
        && lbg__likely(p->max_field_bytes - 1 >= 35))
    {
        /* with a field budget under 36 bytes a field of two short parts
         * may be over it: the AVX2 pass tests the budget in the long
         * parts alone (lbg__y_field()) */
        return lbg__check_avx2(p, r, rep);
    }
#endif
    return lbg__check_one_by_one(p, r, rep);
}
