/*
 * lbg.h -- the lbguard core's stable API: response model, rule set,
 * repairs, log lines, body guard, keep-alive policy, metrics.
 *
 * The public headers of common/ are this one, lbg_quick.h (the adapters'
 * inline quick pass, SSE2 where available) and lbg_raw.h (the parser of
 * raw HTTP/1.x response bytes, for tools); lbg_simd.h and lbg_internal.h
 * are the core's own. This header depends on <stddef.h> and <stdint.h>
 * only. Nothing here allocates memory, performs I/O, uses
 * globals that change, or depends on the locale: every function is
 * reentrant and may run in several threads at once (Apache's event MPM).
 * Every byte of a response is treated as hostile: no function reads past a
 * length it was given.
 *
 * Vocabulary follows RFC 9110 (HTTP semantics) and RFC 9112 (HTTP/1.1):
 * field name, field value, status code, reason phrase, message framing,
 * chunked transfer coding, obs-fold, OWS.
 *
 * Typical use (an adapter, per response):
 *
 *     lbg_field_t    fields[N];      -- filled from the host's structures
 *     lbg_response_t view = {...};   -- points into the host's memory
 *     lbg_finding_t  f[LBG_FINDINGS_MAX];
 *     lbg_edit_t     e[LBG_EDITS_MAX];
 *     lbg_report_t   rep;
 *
 *     lbg_report_init(&rep, f, LBG_FINDINGS_MAX, e, LBG_EDITS_MAX);
 *     lbg_check(&policy, &view, &rep);
 *     for each finding: lbg_finding_format(...) and log it;
 *     if (policy.mode == LBG_MODE_REPAIR) apply rep.edits[] to the host.
 */

#ifndef LBG_H
#define LBG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The project's version, the one source of it: `lbguard --version`, the
 * modules' startup line ("lbguard/0.2.0", NOTICE) and the Debian packages
 * (debian/changelog, checked by tests/integration/test_version.py) agree
 * with it. MAJOR.MINOR.PATCH.
 */
#define LBG_VERSION "0.2.0"

/* ------------------------------------------------------------------------ */
/* Severity tiers                                                           */
/* ------------------------------------------------------------------------ */

/*
 * The four tiers of AWS ALB's HTTP desync mitigation (aws/http-desync-
 * guardian), applied to responses. COMPLIANT means "no finding". Ordered:
 * a larger value is worse, so tiers compare with < and >.
 */
typedef enum {
    LBG_TIER_COMPLIANT = 0,
    LBG_TIER_ACCEPTABLE = 1,
    LBG_TIER_AMBIGUOUS = 2,
    LBG_TIER_SEVERE = 3
} lbg_tier_e;

/* Returns "compliant", "acceptable", "ambiguous" or "severe"; never NULL
 * ("unknown" for a value outside the enum). */
const char *lbg_tier_name(lbg_tier_e tier);

/* Parses a tier name (case-insensitive, as returned by lbg_tier_name).
 * Returns 0 and sets *out, or -1 if s[0..len) is not a tier name. */
int lbg_tier_parse(const char *s, size_t len, lbg_tier_e *out);

/* ------------------------------------------------------------------------ */
/* Load balancers and profiles                                              */
/* ------------------------------------------------------------------------ */

/*
 * Bits naming the load-balancer parsers that reject a defect (a 502, or a
 * reset, before the client sees the response). Sources: each parser's own
 * code (HAProxy src/h1.c and src/h1_htx.c; nginx src/http/ngx_http_parse.c
 * and ngx_http_proxy_module.c; Envoy source/common/http/http1/codec_impl.cc
 * and balsa_parser.cc; llhttp), AWS's ALB troubleshooting guide, and the
 * corpus runs of tests/integration/test_lb_malformed.py.
 */
#define LBG_LB_HAPROXY 0x01u /* HAProxy 2.6+ h1 parser (PH / 502) */
#define LBG_LB_NGINX   0x02u /* nginx as a reverse proxy */
#define LBG_LB_ENVOY   0x04u /* Envoy HTTP/1 codec (502 UPE) */
#define LBG_LB_LLHTTP  0x08u /* llhttp, Node.js's strict parser */
#define LBG_LB_AWS_ALB 0x10u /* AWS ALB / CLB ("malformed response") */
#define LBG_LB_NGINX_122                                                     \
    0x20u /* nginx 1.22 and older as a reverse proxy:
                                  before 1.23.0 (commit d22157fad) it did
                                  not check an upstream's Content-Length
                                  and Transfer-Encoding fields */
#define LBG_LB_ALL     0x3fu
#define LBG_LB_NGINXES (LBG_LB_NGINX | LBG_LB_NGINX_122)

/*
 * A profile chooses which findings are acted upon (logged, repaired).
 * STRICTEST is the union of all load balancers and also acts on rules
 * no known load balancer rejects (the RFC alone forbids them).
 *
 * The profile table: LBG_PROFILES(XX) expands XX(ENUM, value, "name",
 * "label", lb_mask, field_bytes, header_room, header_fixed, field_cost,
 * fields) once per profile, in the order every list shows them (directive
 * messages, the CLI, the load balancers of `lbguard rules`). Adding a
 * profile is one line.
 *
 *   value    the enum value LBG_PROFILE_<ENUM>: stable, 0..COUNT-1,
 *            append only (a new profile takes the next free number)
 *   name     the directive / --profile value (lower case)
 *   label    the load balancer's name in documents ("HAProxy")
 *   lb_mask  the LBG_LB_* bits of the load balancer(s) it satisfies
 *   budgets  what the load balancer counts against its header limit, from
 *            its defaults (0: no limit):
 *            field_bytes   one field line, wire bytes
 *            header_room   the header section: the room the LB has for it,
 *                          in the LB's own bytes, which are the wire bytes
 *                          + header_fixed + field_cost per field line
 *            header_fixed  bytes the LB adds once per header section
 *            field_cost    bytes the LB adds per field line
 *            fields        the number of field lines
 *            lbg_policy_init() turns them into the policy's budgets
 *            (lbg_policy_t, lbg_header_over()):
 *   strictest  the minimum of all below
 *   haproxy    HAProxy 2.6's HTX conversion of a response (src/h1_htx.c
 *              h1_eval_htx_size(), src/mux_h1.c): it answers 502 (PH)
 *              when the start line and fields as HTX blocks take more than
 *              tune.bufsize 16384 - sizeof(struct htx) 48 - tune.maxrewrite
 *              1024 = 15312 bytes. Each field is a block of 8 bytes + name
 *              + value (wire: name ": " value CRLF, 4 bytes less); the
 *              start line a block of 8 + struct htx_sl 20 + version, code
 *              and reason (wire: 4 bytes more), the end of headers a block
 *              of 8 + 1 (wire: CRLF): 31 bytes more than the wire once.
 *              At most tune.http.maxhdr 101 - 1 = 100 fields (the parser's
 *              list keeps one slot for its end). No field limit of its own:
 *              field_bytes is the section's. Measured boundaries (test
 *              tests/integration/test_lb_malformed.py): 2 fields 15273
 *              wire bytes pass, 15274 get 502; 100 fields 14881 / 14882.
 *   nginx      proxy_buffer_size (one page)
 *   envoy      max_request_headers_kb (80 KiB), max_headers_count
 *   llhttp     --max-http-header-size
 *   aws-alb    ALB quotas: 16K per field, 32K in total
 *   nginx-1.22 nginx before 1.23.0 as the LB; budgets as nginx
 */
#define LBG_PROFILES(XX)                                                     \
    XX(STRICTEST, 0, "strictest", "strictest", LBG_LB_ALL, 4096, 4096, 0, 0, \
       100)                                                                  \
    XX(HAPROXY, 1, "haproxy", "HAProxy", LBG_LB_HAPROXY, 15281, 15312, 31,   \
       4, 100)                                                               \
    XX(NGINX, 2, "nginx", "nginx", LBG_LB_NGINX, 4096, 4096, 0, 0, 0)        \
    XX(NGINX_122, 6, "nginx-1.22", "nginx 1.22", LBG_LB_NGINX_122, 4096,     \
       4096, 0, 0, 0)                                                        \
    XX(ENVOY, 3, "envoy", "Envoy", LBG_LB_ENVOY, 81920, 81920, 0, 0, 100)    \
    XX(LLHTTP, 4, "llhttp", "llhttp", LBG_LB_LLHTTP, 16384, 16384, 0, 0, 0)  \
    XX(AWS_ALB, 5, "aws-alb", "ALB", LBG_LB_AWS_ALB, 16384, 32768, 0, 0, 0)

/* Profile identifiers: LBG_PROFILE_<ENUM> = value. */
typedef enum {
#define LBG__PROFILE_ENUM(e, v, n, l, m, fb, hr, hf, fc, nf)                 \
    LBG_PROFILE_##e = v,
    LBG_PROFILES(LBG__PROFILE_ENUM)
#undef LBG__PROFILE_ENUM
} lbg_profile_e;

/* The number of profiles (their values are 0..LBG_PROFILE_COUNT-1). */
#define LBG__PROFILE_ONE(e, v, n, l, m, fb, hr, hf, fc, nf) +1
#define LBG_PROFILE_COUNT                                   (0 LBG_PROFILES(LBG__PROFILE_ONE))

/* Returns the profile's name as in LBG_PROFILES ("strictest", "haproxy",
 * "nginx-1.22", ...); never NULL ("unknown" outside the enum). */
const char *lbg_profile_name(lbg_profile_e profile);

/* Returns the profile's label as in LBG_PROFILES ("HAProxy", "nginx
 * 1.22", "ALB", ...); never NULL ("unknown" outside the enum). */
const char *lbg_profile_label(lbg_profile_e profile);

/* Returns the LBG_LB_* bits of the profile's load balancer(s) (LBG_LB_ALL
 * for strictest), or 0 outside the enum. */
unsigned lbg_profile_lb_mask(lbg_profile_e profile);

/* Returns the i-th profile in list order (the order of LBG_PROFILES),
 * i in 0..LBG_PROFILE_COUNT-1, or -1 (no profile) for any other i. */
int lbg_profile_at(size_t i);

/*
 * Writes the profile names in list order into buf[0..size) as the
 * directive messages show them: each name between `quote` and `quote`,
 * `sep` between two names, `last` before the final one, e.g. ("\"",
 * ", ", " or ") gives "strictest", "haproxy", ... "llhttp" or "aws-alb".
 * Truncates to size - 1 bytes and always NUL-terminates when size > 0;
 * buf may be NULL when size is 0. Returns the length of the whole list
 * (not counting the NUL), as snprintf does: a result >= size means it was
 * truncated. No argument may be NULL except buf.
 */
size_t lbg_profile_list(char *buf, size_t size, const char *quote,
                        const char *sep, const char *last);

/* Parses a profile name (case-insensitive). Returns 0 and sets *out, or -1
 * if s[0..len) is not a profile name. Shared by both servers' directive
 * parsers and the CLI. */
int lbg_profile_parse(const char *s, size_t len, lbg_profile_e *out);

/* ------------------------------------------------------------------------ */
/* Rules                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * What a rule's repair does (lbg_rule_t.fix; combinable):
 *   LBG_FIX_EDIT   the repair makes the response itself conformant (a
 *                  finding is "repaired"); without it the rule has no
 *                  repair (the finding is "reported", the response
 *                  unrepairable; lbguard repair refuses it)
 *   LBG_FIX_CLOSE  the connection is not reused after the response (the
 *                  repair closes it, or sends the target's own 502 Bad
 *                  Gateway, which carries Connection: close)
 *   LBG_FIX_LB_502 the budget rules: reported only under strictest;
 *                  under a profile naming one load balancer, which would
 *                  answer 502 anyway, the target's own 502 Bad Gateway
 *                  replaces the response (lbg_finding_t.bad_gateway), so
 *                  the connection is not reused either
 *   0              no repair and the connection stays: reported only
 */
#define LBG_FIX_EDIT   0x01u
#define LBG_FIX_CLOSE  0x02u
#define LBG_FIX_LB_502 0x04u

/*
 * The rule table: LBG_RULES(XX) expands XX(id, ENUM, "name", "rfc",
 * tier, lb_mask, "repair", fix) once per rule.
 *
 *   id       stable number; never reused or renumbered (append only)
 *   name     stable token used in logs, $lbguard_findings and the CLI
 *   rfc      the RFC section that the defect violates
 *   tier     lbg_tier_e severity
 *   lb_mask  LBG_LB_* bits of the load balancers that reject the defect
 *            (0: none is known to; only the strictest profile acts),
 *            calibrated against HAProxy 2.6, nginx and Node's llhttp by
 *            tests/cli/test_differential.py (README: "Profiles")
 *   repair   what repair mode does, in words (also used in the logs)
 *   fix      LBG_FIX_* bits: what the repair does, for code to read
 *            (the repair text is for people; nothing parses it)
 */
#define LBG_RULES(XX)                                                        \
    XX(1, VERSION_INVALID, "version-invalid", "RFC 9112 2.3",                \
       LBG_TIER_SEVERE, LBG_LB_ALL, "status line rewritten as HTTP/1.1",     \
       LBG_FIX_EDIT)                                                         \
    XX(2, STATUS_CODE_INVALID, "status-code-invalid", "RFC 9110 15",         \
       LBG_TIER_SEVERE, LBG_LB_ALL, "status set to 500", LBG_FIX_EDIT)       \
    XX(3, REASON_PHRASE_INVALID, "reason-phrase-invalid", "RFC 9112 4",      \
       LBG_TIER_AMBIGUOUS, 0, "standard reason phrase used", LBG_FIX_EDIT)   \
    XX(4, FIELD_NAME_INVALID, "field-name-invalid", "RFC 9110 5.1",          \
       LBG_TIER_AMBIGUOUS, LBG_LB_ALL, "field removed", LBG_FIX_EDIT)        \
    XX(5, FIELD_NAME_NOT_TOKEN, "field-name-not-token", "RFC 9110 5.1",      \
       LBG_TIER_ACCEPTABLE,                                                  \
       LBG_LB_HAPROXY | LBG_LB_ENVOY | LBG_LB_LLHTTP | LBG_LB_AWS_ALB,       \
       "field removed", LBG_FIX_EDIT)                                        \
    XX(6, FIELD_VALUE_CR_LF, "field-value-cr-lf", "RFC 9110 5.5",            \
       LBG_TIER_SEVERE, LBG_LB_ALL, "CR and LF replaced with SP",            \
       LBG_FIX_EDIT)                                                         \
    XX(7, FIELD_VALUE_CTL, "field-value-ctl", "RFC 9110 5.5",                \
       LBG_TIER_AMBIGUOUS, LBG_LB_ENVOY | LBG_LB_LLHTTP,                     \
       "control characters replaced with SP", LBG_FIX_EDIT)                  \
    XX(8, OBS_FOLD, "obs-fold", "RFC 9112 5.2", LBG_TIER_AMBIGUOUS,          \
       LBG_LB_NGINXES | LBG_LB_LLHTTP | LBG_LB_ENVOY, "unfolded with SP",    \
       LBG_FIX_EDIT)                                                         \
    XX(9, CONTENT_LENGTH_INVALID, "content-length-invalid", "RFC 9110 8.6",  \
       LBG_TIER_SEVERE, LBG_LB_ALL & ~LBG_LB_NGINX_122,                      \
       "Content-Length removed, connection closed",                          \
       LBG_FIX_EDIT | LBG_FIX_CLOSE)                                         \
    XX(10, CONTENT_LENGTH_DUPLICATE, "content-length-duplicate",             \
       "RFC 9110 8.6", LBG_TIER_AMBIGUOUS, LBG_LB_NGINX | LBG_LB_LLHTTP,     \
       "collapsed to one Content-Length", LBG_FIX_EDIT)                      \
    XX(11, CONTENT_LENGTH_CONFLICT, "content-length-conflict",               \
       "RFC 9112 6.3", LBG_TIER_SEVERE, LBG_LB_ALL & ~LBG_LB_NGINX_122,      \
       "all Content-Length removed, connection closed",                      \
       LBG_FIX_EDIT | LBG_FIX_CLOSE)                                         \
    XX(12, TE_WITH_CONTENT_LENGTH, "te-with-content-length", "RFC 9112 6.1", \
       LBG_TIER_AMBIGUOUS, LBG_LB_NGINX | LBG_LB_ENVOY | LBG_LB_LLHTTP,      \
       "Content-Length removed, connection closed",                          \
       LBG_FIX_EDIT | LBG_FIX_CLOSE)                                         \
    XX(13, TE_NOT_CHUNKED, "te-not-chunked", "RFC 9112 6.3",                 \
       LBG_TIER_AMBIGUOUS, LBG_LB_HAPROXY | LBG_LB_NGINX | LBG_LB_ENVOY,     \
       "none (connection closed)", LBG_FIX_CLOSE)                            \
    XX(14, TE_CHUNKED_TWICE, "te-chunked-twice", "RFC 9112 7",               \
       LBG_TIER_SEVERE, LBG_LB_HAPROXY | LBG_LB_NGINX | LBG_LB_ENVOY,        \
       "collapsed to one chunked", LBG_FIX_EDIT)                             \
    XX(15, FRAMING_ON_BODILESS_STATUS, "framing-on-bodiless-status",         \
       "RFC 9110 8.6", LBG_TIER_AMBIGUOUS, LBG_LB_ENVOY,                     \
       "Transfer-Encoding/Content-Length removed", LBG_FIX_EDIT)             \
    XX(16, BODY_ON_BODILESS, "body-on-bodiless", "RFC 9112 6.3",             \
       LBG_TIER_SEVERE, LBG_LB_ALL, "body dropped, connection closed",       \
       LBG_FIX_EDIT | LBG_FIX_CLOSE)                                         \
    XX(17, BODY_LONGER, "body-longer-than-content-length", "RFC 9112 6.2",   \
       LBG_TIER_SEVERE, LBG_LB_ALL,                                          \
       "body cut to its declared length, connection closed",                 \
       LBG_FIX_EDIT | LBG_FIX_CLOSE)                                         \
    XX(18, BODY_SHORTER, "body-shorter-than-content-length", "RFC 9112 8",   \
       LBG_TIER_SEVERE, LBG_LB_ALL, "none (connection closed)",              \
       LBG_FIX_CLOSE)                                                        \
    XX(19, CHUNKED_INVALID, "chunked-invalid", "RFC 9112 7.1",               \
       LBG_TIER_SEVERE, LBG_LB_ALL, "none (connection closed)",              \
       LBG_FIX_CLOSE)                                                        \
    XX(20, TOO_MANY_FIELDS, "too-many-fields", "RFC 9110 5.4",               \
       LBG_TIER_ACCEPTABLE, LBG_LB_HAPROXY | LBG_LB_ENVOY,                   \
       "none under strictest (report); else the target's own 502 Bad "       \
       "Gateway",                                                            \
       LBG_FIX_LB_502)                                                       \
    XX(21, FIELD_TOO_LARGE, "field-too-large", "RFC 9110 5.4",               \
       LBG_TIER_ACCEPTABLE, LBG_LB_ALL,                                      \
       "none under strictest (report); else the target's own 502 Bad "       \
       "Gateway",                                                            \
       LBG_FIX_LB_502)                                                       \
    XX(22, HEADER_TOO_LARGE, "header-section-too-large", "RFC 9110 5.4",     \
       LBG_TIER_ACCEPTABLE, LBG_LB_ALL,                                      \
       "none under strictest (report); else the target's own 502 Bad "       \
       "Gateway",                                                            \
       LBG_FIX_LB_502)                                                       \
    XX(23, BARE_LF, "bare-lf", "RFC 9112 2.2", LBG_TIER_ACCEPTABLE,          \
       LBG_LB_LLHTTP, "line ends rewritten as CRLF", LBG_FIX_EDIT)           \
    XX(24, FIELD_MISSING_COLON, "field-missing-colon", "RFC 9112 5",         \
       LBG_TIER_AMBIGUOUS, LBG_LB_HAPROXY | LBG_LB_LLHTTP | LBG_LB_ENVOY,    \
       "line removed", LBG_FIX_EDIT)                                         \
    XX(25, HEADER_INCOMPLETE, "header-section-incomplete", "RFC 9112 2.1",   \
       LBG_TIER_SEVERE, LBG_LB_ALL, "none (report)", 0)                      \
    XX(26, STATUS_CODE_OUT_OF_RANGE, "status-code-out-of-range",             \
       "RFC 9110 15", LBG_TIER_ACCEPTABLE, 0, "status set to 500",           \
       LBG_FIX_EDIT)                                                         \
    XX(27, FIELD_VALUE_NUL, "field-value-nul", "RFC 9110 5.5",               \
       LBG_TIER_SEVERE, LBG_LB_ALL & ~LBG_LB_HAPROXY,                        \
       "NUL replaced with SP", LBG_FIX_EDIT)                                 \
    XX(28, FIELD_VALUE_TRAILING_CR, "field-value-trailing-cr",               \
       "RFC 9110 5.5", LBG_TIER_SEVERE, LBG_LB_ALL & ~LBG_LB_NGINXES,        \
       "CR replaced with SP", LBG_FIX_EDIT)                                  \
    XX(29, VERSION_DIGITS, "version-digits", "RFC 9112 2.3",                 \
       LBG_TIER_SEVERE, LBG_LB_ALL & ~LBG_LB_NGINXES,                        \
       "status line rewritten as HTTP/1.1", LBG_FIX_EDIT)                    \
    XX(30, VERSION_UNSUPPORTED, "version-unsupported", "RFC 9112 2.3",       \
       LBG_TIER_AMBIGUOUS, LBG_LB_LLHTTP,                                    \
       "status line rewritten as HTTP/1.1", LBG_FIX_EDIT)                    \
    XX(31, STATUS_LINE_WHITESPACE, "status-line-whitespace", "RFC 9112 4",   \
       LBG_TIER_ACCEPTABLE, LBG_LB_LLHTTP, "one SP before the status code",  \
       LBG_FIX_EDIT)                                                         \
    XX(32, TE_CHUNKED_NOT_FINAL, "te-chunked-not-final", "RFC 9112 6.1",     \
       LBG_TIER_SEVERE, LBG_LB_HAPROXY | LBG_LB_NGINXES | LBG_LB_ENVOY,      \
       "none (connection closed)", LBG_FIX_CLOSE)                            \
    /* issue 9 (bypass): rules 33-38 */                                      \
    XX(33, UPSTREAM_STATUS_LINE_INVALID, "upstream-status-line-invalid",     \
       "RFC 9112 4", LBG_TIER_SEVERE, LBG_LB_ALL,                            \
       "replaced by the target's own 502 Bad Gateway",                       \
       LBG_FIX_EDIT | LBG_FIX_CLOSE)                                         \
    XX(34, SWITCHING_WITHOUT_UPGRADE, "switching-protocols-without-upgrade", \
       "RFC 9110 15.2.2", LBG_TIER_SEVERE, 0,                                \
       "replaced by the target's own 502 Bad Gateway",                       \
       LBG_FIX_EDIT | LBG_FIX_CLOSE)                                         \
    XX(35, CHUNK_SIZE_WHITESPACE, "chunk-size-whitespace", "RFC 9112 7.1",   \
       LBG_TIER_AMBIGUOUS, LBG_LB_LLHTTP,                                    \
       "white space after the chunk size removed", LBG_FIX_EDIT)             \
    XX(36, INTERIM_AS_FINAL, "interim-response-as-final", "RFC 9110 15.2",   \
       LBG_TIER_SEVERE, LBG_LB_ALL,                                          \
       "replaced by the target's own 502 Bad Gateway",                       \
       LBG_FIX_EDIT | LBG_FIX_CLOSE)                                         \
    XX(37, TE_NOT_APPLIED, "te-not-applied", "RFC 9112 6.1",                 \
       LBG_TIER_SEVERE, LBG_LB_ALL,                                          \
       "Transfer-Encoding removed, connection closed",                       \
       LBG_FIX_EDIT | LBG_FIX_CLOSE)                                         \
    XX(38, TE_NAME_WHITESPACE, "te-name-whitespace", "RFC 9112 5.1",         \
       LBG_TIER_SEVERE, LBG_LB_ALL,                                          \
       "replaced by the target's own 502 Bad Gateway",                       \
       LBG_FIX_EDIT | LBG_FIX_CLOSE)

/* Rule identifiers: LBG_RULE_<ENUM> = id. LBG_RULE_NONE (0) is no rule. */
typedef enum {
    LBG_RULE_NONE = 0,
#define LBG__RULE_ENUM(id, e, n, rfc, t, m, rep, fix) LBG_RULE_##e = id,
    LBG_RULES(LBG__RULE_ENUM)
#undef LBG__RULE_ENUM
        LBG_RULE_END /* one past the largest id; not a rule */
} lbg_rule_e;

/* One rule's static description (a row of LBG_RULES). */
typedef struct {
    lbg_rule_e  id;
    const char *name; /* stable token, e.g. "obs-fold" */
    const char *rfc;  /* e.g. "RFC 9112 5.2" */
    lbg_tier_e  tier;
    unsigned    lb_mask; /* LBG_LB_* bits of parsers that reject it */
    const char *repair;  /* what repair mode does, in words */
    unsigned    fix;     /* LBG_FIX_* bits: what the repair does */
} lbg_rule_t;

/* Returns the description of rule `id`, or NULL if `id` is no rule. */
const lbg_rule_t *lbg_rule(lbg_rule_e id);

/* Returns the rule's stable name; never NULL ("unknown" for no rule). */
const char *lbg_rule_name(lbg_rule_e id);

/* Returns 1 if findings of rule `id` are acted upon under `profile`
 * (STRICTEST: every rule; otherwise: the profile's LB is in lb_mask),
 * else 0. */
int lbg_rule_in_profile(lbg_rule_e id, lbg_profile_e profile);

/* ------------------------------------------------------------------------ */
/* Policy                                                                   */
/* ------------------------------------------------------------------------ */

typedef enum {
    LBG_MODE_OFF = 0,    /* no checks */
    LBG_MODE_DETECT = 1, /* check and report; change nothing */
    LBG_MODE_REPAIR = 2  /* check, report, apply the safe repairs */
} lbg_mode_e;

/* Returns "off", "detect" or "repair"; never NULL. */
const char *lbg_mode_name(lbg_mode_e mode);

/* Parses "off", "detect" or "repair" (case-insensitive). Returns 0 and sets
 * *out, or -1. */
int lbg_mode_parse(const char *s, size_t len, lbg_mode_e *out);

/*
 * What lbg_check acts upon. Header budgets are in bytes as they go on the
 * wire: a field line counts name + ": " + value + CRLF; the header section
 * counts the status line, every field line and the final CRLF, and
 * header_field_cost more per field line where the load balancer stores a
 * field in more bytes than its line (HAProxy: 4); lbg_header_over() is the
 * test. A budget of 0 disables that check.
 */
typedef struct {
    lbg_mode_e    mode;
    lbg_profile_e profile;
    size_t        max_field_bytes;   /* one field line */
    size_t        max_header_bytes;  /* whole header section */
    size_t        max_fields;        /* number of field lines */
    size_t        header_field_cost; /* bytes per field line beyond its
                                        wire bytes in max_header_bytes */
} lbg_policy_t;

/*
 * Fills *p with mode REPAIR, `profile`, and that profile's header budgets
 * (the budget columns of LBG_PROFILES: max_header_bytes is header_room -
 * header_fixed, header_field_cost is field_cost); a value outside the enum
 * gives strictest.
 */
void lbg_policy_init(lbg_policy_t *p, lbg_profile_e profile);

/*
 * Sets p's header section budget to `bytes` wire bytes (a directive's
 * value; 0 turns both budgets off; no cost per field line), and lowers the
 * budget of one field line to it when it is larger: a field line cannot be
 * longer than the whole section (RFC 9110 5.4).
 */
void lbg_policy_header_budget(lbg_policy_t *p, size_t bytes);

/*
 * 1 when a header section of `bytes` wire bytes (status line, field lines,
 * final CRLF) with `nfields` field lines is over p's header section budget
 * as the load balancer counts it (bytes + nfields * header_field_cost >
 * max_header_bytes), else 0 (also with no budget). The one test of that
 * budget: lbg_check() and the quick pass (lbg_quick.h) apply it.
 */
static inline int
lbg_header_over(const lbg_policy_t *p, size_t bytes, size_t nfields)
{
    return p->max_header_bytes != 0
           && bytes + nfields * p->header_field_cost > p->max_header_bytes;
}

/*
 * The header section budget in wire bytes for a section of `nfields` field
 * lines: what a finding reports as the load balancer's limit
 * (max_header_bytes - nfields * header_field_cost, 0 when that is below
 * 0).
 */
static inline size_t
lbg_header_budget_wire(const lbg_policy_t *p, size_t nfields)
{
    size_t cost = nfields * p->header_field_cost;

    return p->max_header_bytes > cost ? p->max_header_bytes - cost : 0;
}

/* ------------------------------------------------------------------------ */
/* The response view                                                        */
/* ------------------------------------------------------------------------ */

/*
 * One field line as the host will send it: name and value are byte spans
 * in the host's memory (not NUL-terminated; may contain any byte, including
 * NUL). The value excludes the OWS around it.
 *
 * `origin` is opaque to the core: adapters use it to find the native
 * structure behind a field (e.g. an index into their own array) when they
 * apply edits; the raw parser sets it to the field line's offset.
 *
 * `trusted` (set it explicitly, 0 or 1): 1 when the host writes the field
 * itself from typed data or constants (nginx's Server, Date, the
 * Content-Length it formats from a number, Transfer-Encoding: chunked,
 * Connection, Keep-Alive): its bytes are not scanned, but it still counts
 * for the budgets and the message framing. Anything that carries bytes
 * from an application, a configuration or an upstream is 0.
 */
typedef struct {
    const unsigned char *name;
    size_t               name_len;
    const unsigned char *value;
    size_t               value_len;
    uintptr_t            origin;
    unsigned             trusted : 1;
} lbg_field_t;

/*
 * A response as the host will serialise it: a view, nothing is copied.
 *
 *   version      HTTP version as major*10+minor (11 for HTTP/1.1, 10 for
 *                HTTP/1.0); 0 when the bytes did not name a valid version
 *                (raw parser only; hosts always know it).
 *   status       the status code, or -1 when the status line has no valid
 *                3-digit code (raw parser).
 *   status_line  when non-NULL, the bytes the host sends verbatim after
 *                "HTTP/1.1 " (e.g. nginx's headers_out.status_line, the raw
 *                parser's status line): "NNN reason". The core validates
 *                the code and reason phrase in it. NULL when the host
 *                writes the status line itself from `status` (then only
 *                `status` is checked).
 *   head         1 when the request method was HEAD (no body follows).
 *   fields       field lines in wire order, including those the host
 *                synthesises (Content-Length, Transfer-Encoding: chunked,
 *                Connection ...); nfields of them.
 */
typedef struct {
    int                  version;
    int                  status;
    const unsigned char *status_line;
    size_t               status_line_len;
    unsigned             head : 1;
    const lbg_field_t   *fields;
    size_t               nfields;
} lbg_response_t;

/* Returns 1 when the response can have no message body (RFC 9112 6.3:
 * a response to HEAD, or status 1xx, 204 or 304), else 0. */
int lbg_response_bodiless(const lbg_response_t *r);

/* lbg_response_bodiless() of a response with status code `status`, to a
 * HEAD request when `head` is nonzero; inline. */
static inline int
lbg_bodiless(int status, int head)
{
    return head || (status >= 100 && status < 200) || status == 204
           || status == 304;
}

/* ------------------------------------------------------------------------ */
/* Findings, edits, report                                                  */
/* ------------------------------------------------------------------------ */

#define LBG_NO_FIELD ((size_t) -1)

/*
 * One defect. `field` is the index into the view's fields (LBG_NO_FIELD
 * for the status line or the body). `at`/`at_len` point at the offending
 * bytes (inside the view, or inside the raw input for the raw parser;
 * NULL when there are none, e.g. a missing body). `n1`/`n2` carry numbers
 * for the message: declared and actual lengths, the budget and the size.
 */
typedef struct {
    lbg_rule_e           rule;
    size_t               field;
    const unsigned char *at;
    size_t               at_len;
    int64_t              n1;
    int64_t              n2;
    unsigned             after_repair : 1; /* budget rules: n1 is the
                                              size once repaired */
    unsigned             at_least : 1;     /* body-longer-than-content-
                                              length, body-on-bodiless: n2
                                              counts the body only as far
                                              as it was read when the
                                              finding was made (a guard
                                              that reports at the first
                                              byte past the end); the
                                              message says "at least" */
    unsigned             bad_gateway : 1;  /* its repair is the target's
                                              own 502 Bad Gateway, which
                                              replaces the response
                                              (LBG_EDIT_BAD_GATEWAY: a
                                              budget rule under a profile
                                              naming one LB) */
} lbg_finding_t;

/* What a repair asks the host to do. */
typedef enum {
    /* Set the status code to `status` and let the host write its own
     * standard reason phrase (nginx: clear status_line; Apache: clear
     * r->status_line). */
    LBG_EDIT_STATUS = 1,
    /* Remove field `field`. */
    LBG_EDIT_REMOVE,
    /* Replace field `field`'s value by lbg_sanitize() of it: same length,
     * every byte not allowed in a field value becomes SP. */
    LBG_EDIT_SANITIZE,
    /* Replace field `field`'s value by value[0..value_len): static memory
     * or bytes inside the view, never new memory. */
    LBG_EDIT_SET,
    /* Do not keep the connection alive after this response. */
    LBG_EDIT_CLOSE,
    /* Send no body (header only); implies nothing about keep-alive. */
    LBG_EDIT_NO_BODY,
    /* Replace the whole response by the target's own 502 Bad Gateway
     * (lbg_bad_gateway()): status 502, only the host's own fields,
     * Content-Length of LBG_BAD_GATEWAY_BODY, Connection: close; every
     * other field and every body byte of the original are discarded.
     * Implies CLOSE. (issue 9) */
    LBG_EDIT_BAD_GATEWAY
} lbg_edit_op_e;

typedef struct {
    lbg_edit_op_e        op;
    size_t               field;     /* REMOVE, SANITIZE, SET */
    int                  status;    /* STATUS */
    const unsigned char *value;     /* SET */
    size_t               value_len; /* SET */
} lbg_edit_t;

/*
 * How a response's message body is delimited (RFC 9112 6.3): the framing
 * verdict that lbg_check() records in the report, and that the raw
 * parser, the body guards and the probe act on.
 *   NONE     no body: a response to HEAD, or status 1xx, 204 or 304
 *   LENGTH   Content-Length: exactly `declared` bytes
 *   CHUNKED  the chunked transfer coding is final: lbg_chunked_t ends it
 *   CLOSE    until the connection closes (no framing field, a framing
 *            that cannot be trusted, or a Transfer-Encoding whose final
 *            coding is not chunked)
 */
typedef enum {
    LBG_FRAMING_NONE = 0,
    LBG_FRAMING_LENGTH,
    LBG_FRAMING_CHUNKED,
    LBG_FRAMING_CLOSE
} lbg_framing_e;

/*
 * The result of checks. The caller owns both arrays and passes their
 * capacities; lbg_check and lbg_parse append to them. When an array is
 * full, further entries are dropped and `truncated` is set; a truncated
 * report also sets `close` (what was not recorded cannot be repaired, so
 * the connection must not be reused).
 *
 *   worst     the worst tier among the findings (COMPLIANT when none)
 *   close     1 when the connection must not be kept alive after this
 *             response (also present as an LBG_EDIT_CLOSE edit)
 *   no_body   1 when the body must be dropped (also an LBG_EDIT_NO_BODY)
 *   unrepairable 1 when a finding has no safe repair that makes the
 *             response itself conformant (e.g. a body shorter than its
 *             Content-Length): lbg_repair_raw output still carries it.
 *   framing   lbg_check()'s framing verdict (RFC 9112 6.3) on the fields
 *             as its edits leave them (removed fields gone, set values
 *             in place): NONE for a bodiless response, LENGTH when every
 *             remaining Content-Length is one valid value (a list of one
 *             repeated value counts) and no Transfer-Encoding remains,
 *             CHUNKED when the remaining Transfer-Encoding ends in exactly
 *             "chunked", else CLOSE. lbg_report_init() sets CLOSE.
 *   declared  the body length in bytes that LENGTH declares, else -1.
 */
typedef struct {
    lbg_finding_t *findings;
    size_t         nfindings;
    size_t         findings_cap;
    lbg_edit_t    *edits;
    size_t         nedits;
    size_t         edits_cap;
    lbg_tier_e     worst;
    unsigned       truncated : 1;
    unsigned       close : 1;
    unsigned       no_body : 1;
    unsigned       unrepairable : 1;
    lbg_framing_e  framing;
    int64_t        declared;
} lbg_report_t;

/* Suggested capacities for a stack-allocated report. */
#define LBG_FINDINGS_MAX 32
#define LBG_EDITS_MAX    64

/* Resets *rep to empty and attaches the caller's arrays (either may be NULL
 * with capacity 0). */
void lbg_report_init(lbg_report_t *rep, lbg_finding_t *findings,
                     size_t findings_cap, lbg_edit_t *edits,
                     size_t edits_cap);

/*
 * Checks the header-level rules (status line, field names and values,
 * message framing, budgets) on `r` under policy `p`, appending findings
 * and the repairs that fix them to `rep`. Findings of rules outside the
 * policy's profile are not recorded. Edits are recorded in every mode;
 * the caller applies them only in LBG_MODE_REPAIR. Records no finding and
 * no edit when the mode is LBG_MODE_OFF.
 *
 * Records the framing verdict (rep->framing, rep->declared) in every
 * mode, LBG_MODE_OFF included.
 *
 * Returns the number of findings appended (0: the response is compliant
 * for this profile).
 */
size_t lbg_check(const lbg_policy_t *p, const lbg_response_t *r,
                 lbg_report_t *rep);

/*
 * Appends finding *f to rep as lbg_check does: dropped when p's mode is
 * OFF or the rule is outside p's profile; updates rep->worst, sets
 * rep->unrepairable for rules without a repair, and sets truncated and
 * close when the findings array is full. For findings an adapter makes
 * itself (the body guard). Returns 1 when the finding counts (recorded or
 * truncated), 0 when it was filtered out.
 */
int lbg_report_add(const lbg_policy_t *p, lbg_report_t *rep,
                   const lbg_finding_t *f);

/*
 * Writes lbg_check's repair of a value: value[0..len) copied to out (which
 * has room for len bytes and may equal value), with every byte that RFC
 * 9110 5.5 forbids in a field value (CTL other than HTAB, DEL) replaced by
 * SP, obs-fold included. The same applies to a reason phrase (RFC 9112 4).
 * Returns the number of bytes replaced.
 */
size_t lbg_sanitize(const unsigned char *value, size_t len,
                    unsigned char *out);

/* Returns the standard reason phrase for `status` (RFC 9110 15), or "" for
 * a code without one. Never NULL. */
const char *lbg_reason_phrase(int status);

/*
 * Parses a Content-Length field value: 1*DIGIT, at most INT64_MAX (2^63 - 1).
 * Returns the value, or -1 when value[0..len) is not a valid
 * Content-Length (empty, sign, space, letters, a list, overflow).
 */
int64_t lbg_content_length_parse(const unsigned char *value, size_t len);

/* Returns 1 when field name name[0..len) is "Content-Length" (ASCII
 * case-insensitive, RFC 9110 5.1, 8.6), else 0; reads at most len bytes.
 * The matcher lbg_check() frames the body with, for the adapters' own
 * look-ups of the field. */
int lbg_field_is_content_length(const unsigned char *name, size_t len);

/* ------------------------------------------------------------------------ */
/* Log lines                                                                */
/* ------------------------------------------------------------------------ */

/*
 * Writes one log line for finding `f` of response `r` into buf (size bytes,
 * always NUL-terminated when size > 0):
 *     <rule-name>: <detail>, <outcome>
 * The detail quotes the offending field and bytes; untrusted bytes are
 * escaped (\xHH for anything outside printable ASCII, and for '"' and
 * '\\') and truncated to about 64 bytes with "...". The outcome is the
 * repair (lbg_finding_repair()) when `repaired` is 1, "not repaired
 * (detect mode)" when 0.
 * Adapters log "lbguard: " followed by this. `r` is read only for the
 * field a finding names; it may be NULL for a finding with field
 * LBG_NO_FIELD (the body guard's). Returns the length written (excluding
 * the NUL).
 */
size_t lbg_finding_format(const lbg_response_t *r, const lbg_finding_t *f,
                          int repaired, char *buf, size_t size);

/*
 * What repair mode does about finding `f`, in words (the outcome of its
 * log line): its rule's repair (lbg_rule_t.repair), except for the raw
 * parser's field-name-invalid of white space before the colon (n1 > 0, the
 * bytes of white space; RFC 9112 5.1), whose field stays without it:
 * "white space before the colon removed". "none" for an unknown rule.
 * Never NULL.
 */
const char *lbg_finding_repair(const lbg_finding_t *f);

/*
 * Writes the compact summary used by $lbguard_findings (nginx) and the
 * lbguard-findings request note (Apache): comma-separated
 * "<rule-name>:<outcome>" where outcome is lbg_report_outcome()'s name:
 * "repaired" (also a budget finding whose response the target's own 502
 * replaced), "detected" (detect mode) or "reported" (no repair exists);
 * "-" when there are no findings.
 * Always NUL-terminated when size > 0; truncated with "..." to fit.
 * Returns the length written.
 */
size_t lbg_report_summary(const lbg_report_t *rep, lbg_mode_e mode, char *buf,
                          size_t size);

/*
 * Escapes in[0..len) for a log line into out (size bytes, NUL-terminated
 * when size > 0): printable ASCII except '"' and '\\' as is, anything else
 * as \xHH; at most `max_in` input bytes, then "...". Returns the length
 * written.
 */
size_t lbg_escape(const unsigned char *in, size_t len, size_t max_in,
                  char *out, size_t size);

/* ------------------------------------------------------------------------ */
/* Body guard                                                               */
/* ------------------------------------------------------------------------ */

/*
 * Tracks the body bytes a host sends against the declared message framing
 * (RFC 9112 6.2, 6.3). Zero-initialise or use lbg_body_init.
 */
typedef struct {
    int64_t  declared; /* Content-Length, or -1 when not declared */
    int64_t  sent;     /* body bytes seen so far */
    unsigned bodiless : 1;
    unsigned over : 1; /* more than declared (or any on bodiless) */
} lbg_body_t;

/* Starts tracking a body: `declared` is the Content-Length the host sent
 * (-1 when the body is chunked or delimited by close); `bodiless` is
 * lbg_response_bodiless() of the response. */
void lbg_body_init(lbg_body_t *b, int64_t declared, int bodiless);

/*
 * Accounts `len` more body bytes. Returns how many of them fit inside the
 * declared framing (len when all do; 0 for a bodiless response). When the
 * return is less than len, the excess is a BODY_LONGER or BODY_ON_BODILESS
 * finding: see lbg_body_rule().
 */
size_t lbg_body_feed(lbg_body_t *b, size_t len);

/*
 * Called at the end of the body (last buffer sent, or nothing more will
 * come). Returns the rule broken by the body as a whole: BODY_ON_BODILESS,
 * BODY_LONGER, BODY_SHORTER, or LBG_RULE_NONE.
 */
lbg_rule_e lbg_body_rule(const lbg_body_t *b, int at_end);

/*
 * The finding of body b (rule lbg_body_rule(b, at_end); LBG_NO_FIELD, no
 * bytes; n1 the declared length, n2 the bytes seen) into *f, for the body
 * guards' log lines. Before the end (at_end 0: the guard reports at the
 * first byte past the declared length) n2 is only what has been seen so
 * far: at_least is set and the message says "body at least N bytes".
 * Returns the rule, LBG_RULE_NONE (f untouched) when there is no finding.
 */
lbg_rule_e lbg_body_finding(const lbg_body_t *b, int at_end,
                            lbg_finding_t *f);

/* What to do with a body (lbg_body_verdict()). */
typedef enum {
    LBG_BODY_PASS = 0, /* send it on */
    LBG_BODY_CUT,      /* send only the declared bytes (none for NONE),
                          then close the connection (BODY_LONGER,
                          BODY_ON_BODILESS) */
    LBG_BODY_CLOSE     /* at the end, fewer bytes than declared: the
                          connection must close (BODY_SHORTER) */
} lbg_body_verdict_e;

/*
 * The one body decision of the core, for both body guards and the raw
 * parser: given the framing verdict (lbg_report_t's framing and declared,
 * or the host's own Content-Length), `seen` body bytes so far (any
 * number >= 0) and at_end 1 when no more will come, returns CUT when seen
 * passes what the framing allows (RFC 9112 6.2: more than `declared` for
 * LENGTH; RFC 9112 6.3: any byte for NONE), CLOSE when at_end and a
 * LENGTH body has fewer than `declared` bytes (RFC 9112 8), else PASS.
 * CHUNKED and CLOSE bodies always PASS here: lbg_chunked_t judges a
 * chunked body. A LENGTH with declared < 0 counts as CLOSE.
 */
lbg_body_verdict_e lbg_body_verdict(lbg_framing_e framing, int64_t declared,
                                    int64_t seen, int at_end);

/* ------------------------------------------------------------------------ */
/* Chunked transfer coding (lbg_chunked.c)                                  */
/* ------------------------------------------------------------------------ */

/*
 * An incremental decoder of the chunked transfer coding (RFC 9112 7.1), in
 * the shape of picohttpparser's phr_chunked_decoder: the caller feeds the
 * body in spans of any size (down to one byte) and learns how many bytes
 * of each span belong to the chunked body, how many of them are chunk
 * data, and when the body is complete (last-chunk and trailer section) or
 * cannot be a chunked body. It never writes into the span, never reads
 * past it, allocates nothing; the state is this struct. Strict, as the
 * raw parser: chunk-size 1*HEXDIG up to 2^52 (HAProxy's limit; a digit
 * that would pass it is an error), optional SP/HTAB after it (recorded in
 * `ws`, CHUNK_SIZE_WHITESPACE), a chunk-ext of field-vchar, SP and HTAB
 * after ';', every line ending in CRLF, trailer lines of any bytes but LF.
 *
 *   state     internal; 0 with lbg_chunked_init()
 *   size      chunk-data bytes still to come in the current chunk
 *   digits    hex digits of the current chunk-size
 *   offset    body bytes consumed so far (the sum of *used)
 *   data      chunk-data bytes so far (the sum of *data)
 *   error     on LBG_CHUNKED_ERROR: the offset of the bad byte (for a bad
 *             CRLF, of the byte where it starts); on DONE `offset`; else
 *             the offset where the body would be reported bad if it ended
 *             now (the CR of a CRLF still missing its LF, else `offset`)
 *   ws        the offset of the first SP or HTAB right after a
 *             chunk-size, or -1
 *   line      bytes of the current trailer line so far (internal)
 */
typedef struct {
    unsigned state;
    uint64_t size;
    unsigned digits;
    uint64_t offset;
    uint64_t data;
    uint64_t error;
    int64_t  ws;
    uint64_t line;
} lbg_chunked_t;

/* The results of lbg_chunked_feed(). */
#define LBG_CHUNKED_MORE                                                     \
    0 /* every byte fed belongs to the body; more to come */
#define LBG_CHUNKED_DONE                                                     \
    1 /* the body ended: *used bytes of the span are its
                                last ones, the rest is not the body's */
#define LBG_CHUNKED_ERROR                                                    \
    -1 /* not a chunked body: see c->error; feed no more */

/* Starts a chunked body: every member zero but ws (-1). */
void lbg_chunked_init(lbg_chunked_t *c);

/*
 * Feeds the next span s[0..len) of the body (len may be 0). Sets *used to
 * the bytes of the span that the decoder consumed (len on MORE; up to and
 * including the trailer section's final LF on DONE; up to the bad byte,
 * excluded, on ERROR) and *data to how many of them are chunk data; either
 * pointer may be NULL. Returns LBG_CHUNKED_MORE, _DONE or _ERROR; once
 * DONE or ERROR it returns the same again with *used = 0.
 */
int lbg_chunked_feed(lbg_chunked_t *c, const unsigned char *s, size_t len,
                     size_t *used, size_t *data);

/* ------------------------------------------------------------------------ */
/* Keep-alive policy                                                        */
/* ------------------------------------------------------------------------ */

/*
 * Load-balancer idle-timeout presets, in milliseconds, with their sources:
 *   aws-alb 60000   AWS ALB default idle timeout (ALB user guide)
 *   aws-clb 60000   AWS CLB default idle timeout (CLB user guide)
 *   gcp     600000  GCP external ALB backend keep-alive, fixed (GCP docs)
 *   oci     310000  "the backend must not close idle connections in less
 *                   than 310 seconds" (OCI load balancer docs)
 * Returns 0 and sets *ms, or -1 for an unknown name (case-insensitive).
 */
int lbg_lb_preset(const char *s, size_t len, uint64_t *ms);

/* The margin added to the LB idle timeout by default, in milliseconds. */
#define LBG_KEEPALIVE_MARGIN_MS 5000

typedef enum {
    LBG_KA_OK = 0,       /* server keeps idle connections long enough */
    LBG_KA_RAISE = 1,    /* server timeout too short: raise it */
    LBG_KA_DISABLED = 2, /* server keep-alive is off (timeout 0) */
    LBG_KA_UNKNOWN = 3   /* no LB idle timeout configured: nothing to say */
} lbg_ka_verdict_e;

/*
 * The keep-alive verdict (the race of RFC 9112 9.6 "a client, server, or
 * proxy MAY close the transport connection at any time"): a target that
 * closes an idle connection before the load balancer does makes the
 * balancer's next request on it fail. All three inputs in milliseconds:
 *   server_ms   the server's idle keep-alive timeout (0: keep-alive off)
 *   lb_idle_ms  the load balancer's idle timeout (0: not configured)
 *   margin_ms   how much longer than the LB the server must wait
 * Returns LBG_KA_RAISE when server_ms < lb_idle_ms + margin_ms, with
 * *required_ms (if not NULL) set to lb_idle_ms + margin_ms (saturating);
 * LBG_KA_DISABLED for server_ms 0; LBG_KA_UNKNOWN for lb_idle_ms 0;
 * otherwise LBG_KA_OK. *required_ms is set in every case (0 if unknown).
 */
lbg_ka_verdict_e lbg_keepalive_verdict(uint64_t  server_ms,
                                       uint64_t  lb_idle_ms,
                                       uint64_t  margin_ms,
                                       uint64_t *required_ms);

/*
 * Writes the log line for a keep-alive verdict (without the "lbguard: "
 * prefix), the same on every host, into buf (size bytes, NUL-terminated
 * when size > 0):
 *   RAISE:    keepalive-timeout: <directive> <t> in <where> is shorter than
 *             the load balancer idle timeout <t> + margin <t>, raised to <t>
 *             (or ", not repaired (detect mode)" when repaired is 0)
 *   DISABLED: keepalive-timeout: <directive> is 0 in <where>: keep-alive is
 *             off, the load balancer opens a new connection per request
 * where <t> is a duration in milliseconds written as nginx writes times
 * ("75s", "1500ms"). directive: the host's name ("keepalive_timeout",
 * "KeepAliveTimeout"); where: the server/location/vhost and file:line.
 * Writes "" for OK and UNKNOWN. Returns the length written.
 */
size_t lbg_keepalive_format(lbg_ka_verdict_e v, const char *directive,
                            const char *where, uint64_t server_ms,
                            uint64_t lb_idle_ms, uint64_t margin_ms,
                            int repaired, char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* Protocol switch (issue 8: 101 and CONNECT tunnels)                       */
/* ------------------------------------------------------------------------ */

/* Returns 1 when `status` is an interim status code: 1xx other than 101
 * (RFC 9110 15.2). The final response follows it on the same connection;
 * a 101 instead hands the connection to another protocol (lbg_tunnel());
 * inline. */
static inline int
lbg_interim(int status)
{
    return status >= 100 && status < 200 && status != 101;
}

/* Returns 1 when a response with status code `status` (to a CONNECT
 * request when `connect` is nonzero) ends the HTTP message at its header
 * section: a 101 (RFC 9110 15.2.2, 7.8) or a 2xx to CONNECT (RFC 9110
 * 9.3.6). The bytes after that header section belong to another protocol
 * (a WebSocket, a tunnel): they are no body, so an adapter checks the
 * header section and then never counts, cuts or drops a byte after it,
 * nor closes the connection for them; inline. */
static inline int
lbg_tunnel(int status, int connect)
{
    return status == 101 || (connect && status >= 200 && status < 300);
}

/* ------------------------------------------------------------------------ */
/* Metrics (issue 13): counters and their Prometheus exposition             */
/* (lbg_metrics.c)                                                           */
/* ------------------------------------------------------------------------ */

/*
 * What became of a finding, as $lbguard_findings / the lbguard-findings
 * note say it (lbg_report_summary): REPAIRED (repair mode, the rule's
 * repair applied), REPORTED (repair mode, the rule has no repair: "none
 * (...)"), DETECTED (detect mode, or a repair that failed).
 */
typedef enum {
    LBG_OUTCOME_REPAIRED = 0,
    LBG_OUTCOME_REPORTED = 1,
    LBG_OUTCOME_DETECTED = 2
} lbg_outcome_e;

#define LBG_OUTCOMES 3

/* Returns "repaired", "reported" or "detected" ("unknown" otherwise). */
const char *lbg_outcome_name(lbg_outcome_e outcome);

/* The outcome of a finding of `rule` reported in `mode` (pass
 * LBG_MODE_DETECT for a repair that failed), by the rule alone; a report's
 * findings: lbg_report_outcome(). */
lbg_outcome_e lbg_finding_outcome(lbg_rule_e rule, lbg_mode_e mode);

/* The outcome of finding `i` of rep reported in `mode` (as
 * lbg_finding_outcome()): lbg_finding_outcome() of its rule, but REPAIRED
 * for a rule without a repair of its own when a finding of rep has its
 * `bad_gateway` bit (a budget rule under a profile naming one load
 * balancer): the target's own 502 Bad Gateway replaces the response, the
 * one with the defect is not sent. Reads the findings only (an adapter's
 * copy of them will do). The one decision behind lbg_report_summary() and
 * lbg_metrics_report_slots(). */
lbg_outcome_e lbg_report_outcome(const lbg_report_t *rep, size_t i,
                                 lbg_mode_e mode);

/* Returns 1 when the rule's repair keeps the connection from being reused
 * (LBG_FIX_CLOSE in its LBG_RULES row: it closes the connection, or sends
 * the target's own 502 Bad Gateway, which carries Connection: close),
 * else 0 (also for no rule). */
int lbg_rule_closes(lbg_rule_e rule);

/*
 * The keep-alive verdict of one configuration context as a metric label
 * (lbguard_keepalive_contexts{verdict}): OK, RAISED (repair raised it),
 * DISABLED (keep-alive off), UNCHECKED (no LB idle timeout configured),
 * NOT_RAISED (too short, detect mode left it).
 */
typedef enum {
    LBG_KA_METRIC_OK = 0,
    LBG_KA_METRIC_RAISED = 1,
    LBG_KA_METRIC_DISABLED = 2,
    LBG_KA_METRIC_UNCHECKED = 3,
    LBG_KA_METRIC_NOT_RAISED = 4
} lbg_ka_metric_e;

#define LBG_KA_VERDICTS 5

/* Returns "ok", "raised", "disabled", "unchecked" or "not-raised". */
const char *lbg_ka_verdict_name(lbg_ka_metric_e verdict);

/* The metric verdict of lbg_keepalive_verdict()'s `v` in `mode`: RAISE is
 * RAISED in repair mode and NOT_RAISED otherwise. */
lbg_ka_metric_e lbg_ka_metric(lbg_ka_verdict_e v, lbg_mode_e mode);

/*
 * One status zone's counters: a plain block of uint64_t that adapters
 * place in shared memory and add to atomically (8-byte aligned), indexed
 * by the LBG_METRICS_* slot numbers below (uint64_t units from the start).
 *   responses[0|1]          responses examined in detect | repair mode
 *   findings[rule][outcome] findings (rule ids 1..LBG_RULE_END-1)
 *   closed[rule]            responses closed because of rule (closing
 *                           rules, and a budget rule whose repair was
 *                           the target's own 502: LBG_FIX_LB_502; once
 *                           per response and rule)
 *   bodies_cut              bodies cut or dropped (repair)
 *   body_cut_bytes          body bytes not sent, in bytes
 * Rule ids are append-only: a table that grows only appends slots.
 */
typedef struct {
    uint64_t responses[2];
    uint64_t findings[LBG_RULE_END][LBG_OUTCOMES];
    uint64_t closed[LBG_RULE_END];
    uint64_t bodies_cut;
    uint64_t body_cut_bytes;
} lbg_metrics_t;

#define LBG_METRICS_SLOTS           (sizeof(lbg_metrics_t) / sizeof(uint64_t))
#define LBG_METRICS_RESPONSES(mode) ((size_t) (mode) -1) /* DETECT/REPAIR */
#define LBG_METRICS_FINDING(rule, out)                                       \
    (2 + (size_t) (rule) *LBG_OUTCOMES + (size_t) (out))
#define LBG_METRICS_CLOSED(rule)                                             \
    (2 + (size_t) LBG_RULE_END * LBG_OUTCOMES + (size_t) (rule))
#define LBG_METRICS_BODIES_CUT                                               \
    (2 + (size_t) LBG_RULE_END * (LBG_OUTCOMES + 1))
#define LBG_METRICS_BODY_CUT_BYTES (LBG_METRICS_BODIES_CUT + 1)

/*
 * The counter slots one finished response's report adds 1 to: per
 * finding i, LBG_METRICS_FINDING(rule, lbg_report_outcome(rep, i, mode)),
 * and LBG_METRICS_CLOSED(rule) once per rule whose outcome is not
 * DETECTED and that closed the connection: a closing rule
 * (lbg_rule_closes()), or a finding whose repair was the target's own
 * 502 (its bad_gateway bit: a budget rule, LBG_FIX_LB_502). `mode` is the mode the findings were acted upon in
 * (LBG_MODE_DETECT for a failed repair). Writes at most `cap` slots
 * (2 * LBG_FINDINGS_MAX always suffice for a report of that capacity);
 * returns how many. Responses and body cuts are counted by the adapters
 * where they happen.
 */
size_t lbg_metrics_report_slots(const lbg_report_t *rep, lbg_mode_e mode,
                                size_t *slots, size_t cap);

/* Zone names ([A-Za-z0-9_.:-], 1..LBG_METRICS_NAME_MAX bytes): the value of
 * the `server` label, from configuration only, never from a request. */
#define LBG_METRICS_NAME_MAX 63

/* Returns 1 when s[0..len) is a valid zone name, else 0. */
int lbg_metrics_zone_name_valid(const char *s, size_t len);

/* One zone in a snapshot: its name, a copy of its counters (read with
 * atomic loads by the adapter), and the number of configuration contexts
 * per keep-alive verdict (lbg_ka_metric_e) in the loaded configuration. */
typedef struct {
    const char          *name;
    size_t               name_len;
    const lbg_metrics_t *counters;
    uint64_t             keepalive[LBG_KA_VERDICTS];
} lbg_metrics_zone_t;

/*
 * How an idle keep-alive connection of a shutting-down worker or child
 * ended (lbguard_drain_connections_total{outcome}; drain, issue 10). Per
 * process, not per status zone: no `server` label. nginx (lbguard_drain,
 * ngx_http_lbguard_drain.c), one per connection kept or reported:
 *   REQUEST          the client sent a request, answered with
 *                    "Connection: close" (RFC 9112 9.6)
 *   CLIENT_CLOSE     the client closed it (FIN)
 *   CLIENT_RESET     the client reset it
 *   IDLE_LIMIT       idle for the LB idle timeout + margin (or
 *                    keepalive_timeout): closed by the server
 *   SHUTDOWN_TIMEOUT closed by worker_shutdown_timeout
 *   SERVER_CLOSE     closed by nginx at shutdown (lbguard_drain off)
 * Apache (event MPM, the Drain section of mod_lbguard.c), one per connection the MPM closed
 * before its KeepAliveTimeout:
 *   MPM_RESTART      the child belonged to an old generation (graceful)
 *   MPM_STOPPING     child stopping (graceful-stop, retirement)
 *   MPM_BUSY         all workers busy
 * Values are append-only (they index a counter array in shared memory).
 */
typedef enum {
    LBG_DRAIN_REQUEST = 0,
    LBG_DRAIN_CLIENT_CLOSE = 1,
    LBG_DRAIN_CLIENT_RESET = 2,
    LBG_DRAIN_IDLE_LIMIT = 3,
    LBG_DRAIN_SHUTDOWN_TIMEOUT = 4,
    LBG_DRAIN_SERVER_CLOSE = 5,
    LBG_DRAIN_MPM_RESTART = 6,
    LBG_DRAIN_MPM_STOPPING = 7,
    LBG_DRAIN_MPM_BUSY = 8
} lbg_drain_outcome_e;

#define LBG_DRAIN_OUTCOMES 9

/* Returns "request", "client-close", "client-reset", "idle-limit",
 * "shutdown-timeout", "server-close", "mpm-restart", "mpm-stopping" or
 * "mpm-busy" ("unknown" otherwise). */
const char *lbg_drain_outcome_name(lbg_drain_outcome_e outcome);

/* A snapshot to print: the host ("nginx/1.22.1", "Apache/2.4.71"), the
 * Unix time in seconds the counters started, the zones in order, and the
 * drain counters (LBG_DRAIN_OUTCOMES entries indexed by
 * lbg_drain_outcome_e; NULL prints zeros). */
typedef struct {
    const char               *server_software;
    uint64_t                  start_time;
    const lbg_metrics_zone_t *zones;
    size_t                    nzones;
    const uint64_t           *drain;
} lbg_metrics_view_t;

/*
 * Writes the Prometheus text exposition format 0.0.4 (served as
 * "text/plain; version=0.0.4; charset=utf-8") of `v` into buf: one
 * uninterrupted group per family, HELP and TYPE first, in the order
 * lbguard_build_info{version,server_software} (LBG_VERSION),
 * lbguard_start_time_seconds, lbguard_responses_total{server,mode},
 * lbguard_findings_total{server,rule,outcome},
 * lbguard_connections_closed_total{server,reason},
 * lbguard_bodies_cut_total{server}, lbguard_body_cut_bytes_total{server},
 * lbguard_keepalive_contexts{server,verdict},
 * lbguard_drain_connections_total{outcome}; zones in view order, rules
 * in id order, every valid combination printed (zeros included), no
 * timestamps, LF line ends. Label values are escaped (\\, \", \n; other
 * bytes outside printable ASCII as \\xHH). Writes at most `size` bytes
 * (no NUL; buf may be NULL with size 0) and returns the length of the
 * whole output: the caller's buffer was big enough when it is <= size.
 */
size_t lbg_metrics_format(const lbg_metrics_view_t *v, char *buf,
                          size_t size);

/* ---- end of metrics ---- */

/* ------------------------------------------------------------------------ */
/* issue 9 (bypass): the target's own 502, upstream status lines, 101       */
/* ------------------------------------------------------------------------ */

/*
 * The body of the target's own 502 Bad Gateway (LBG_EDIT_BAD_GATEWAY), the
 * same on every host, so that a load balancer log shows the target's 502
 * (target_status_code 502 on AWS ALB) instead of one the balancer makes.
 */
#define LBG_BAD_GATEWAY_BODY                                                 \
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"    \
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
#define LBG_BAD_GATEWAY_TYPE "text/html"

/* Returns 1 when rep asks for the target's own 502 (an LBG_EDIT_BAD_GATEWAY
 * edit), else 0. */
int lbg_report_bad_gateway(const lbg_report_t *rep);

/*
 * Records, for an adapter, that the upstream's status line is not
 * HTTP/1.x (nginx's "upstream sent no valid HTTP/1.0 header" and its
 * HTTP/0.9 fallback, RFC 9112 4): an UPSTREAM_STATUS_LINE_INVALID finding
 * whose at[0..at_len) are the first bytes the upstream sent (the log line
 * escapes them and shows at most 64), and an LBG_EDIT_BAD_GATEWAY edit.
 * Filtered by p like lbg_check. Returns 1 when the finding counts, else 0.
 */
int lbg_check_upstream_status(const lbg_policy_t *p, const unsigned char *at,
                              size_t at_len, lbg_report_t *rep);

/*
 * Records, for an adapter, a 101 Switching Protocols response to a request
 * that asked for no upgrade (no Upgrade field in the request; RFC 9110
 * 7.8, 15.2.2;
 * nginx 1.22 passes it on, HAProxy 2.6 answers 502 (PH), so the strictest
 * and haproxy profiles act): a SWITCHING_WITHOUT_UPGRADE finding
 * (n1 = 1) and an LBG_EDIT_BAD_GATEWAY edit. lbg_check itself records the
 * same rule (n1 = 0) for a 101 that carries no Upgrade field. Returns 1 when
 * the finding counts, else 0.
 */
int lbg_check_switching(const lbg_policy_t *p, lbg_report_t *rep);

/*
 * Records, for an adapter whose host sends the response with status code
 * `status` as the final one, an interim status (1xx other than 101, RFC
 * 9110 15.2): nginx 1.22 passes an upstream's 100 Continue on as its final
 * response, after which no final response comes. An INTERIM_AS_FINAL
 * finding (n1 = status) and an LBG_EDIT_BAD_GATEWAY edit. Returns 1 when
 * the finding counts, 0 when status is no such code or p filters it out.
 */
int lbg_check_interim(const lbg_policy_t *p, int status, lbg_report_t *rep);

/*
 * For a host that frames the body itself and never applies a
 * Transfer-Encoding an application names (Apache: ap_http_header_filter
 * chunks only when it decided to, and an application's "chunked" makes it
 * send the body unframed; RFC 9112 6.1): records a TE_NOT_APPLIED finding,
 * a REMOVE edit for every untrusted Transfer-Encoding field of r, and
 * CLOSE. Nothing for a response without a body (lbg_response_bodiless:
 * 1xx, 204, 304, HEAD), where framing-on-bodiless-status covers the field.
 * Returns the number of findings recorded.
 */
size_t lbg_check_te_not_applied(const lbg_policy_t   *p,
                                const lbg_response_t *r, lbg_report_t *rep);

#ifdef __cplusplus
}
#endif

#endif /* LBG_H */
