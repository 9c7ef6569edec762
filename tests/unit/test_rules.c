/*
 * test_rules.c -- the rule table, names, profiles, policies and every rule
 * of lbg_check on hand-built views (as an adapter builds them), with exact
 * findings and edits; modes, budgets and report truncation.
 */

#include "lbg_test_util.h"
#include "lbg_quick.h"

#define U(s) ((const unsigned char *) (s))


/* Asserts exactly one finding of `rule` on field `field`, pointing inside
 * [lo, lo + lo_len) when lo is not NULL. Returns it. */
static const lbg_finding_t *
one(const lbgt_report_t *t, lbg_rule_e rule, size_t field,
    const unsigned char *lo, size_t lo_len)
{
    const lbg_finding_t *f;

    lbgt_assert_rules(lbg_rule_name(rule), &t->rep, &rule, 1);
    f = &t->rep.findings[0];
    assert_int_equal(f->field, field);
    if (lo != NULL) {
        assert_non_null(f->at);
        assert_true(f->at >= lo && f->at + f->at_len <= lo + lo_len);
        assert_true(f->at_len > 0);
    }
    assert_int_equal(t->rep.worst, lbg_rule(rule)->tier);
    return f;
}

/* ---- the table ------------------------------------------------------------ */

/* What the table promises beyond what the macro says: ids 1..N in order
 * (append-only), lbg_rule() finds each by id, names are unique lower-case
 * tokens, every column holds a value of its kind, and lookups out of range
 * give NULL / "unknown". (Comparing lbg_rule() with the LBG_RULES rows it
 * is generated from would only test the generation.) */
static void
test_table(void **state)
{
    static const int ids[] = {
#define ROW(id, e, n, rfc, t, m, rep, fix) id,
        LBG_RULES(ROW)
#undef ROW
    };
    const lbg_rule_t *r, *q;
    size_t            i, j;

    (void) state;
    assert_int_equal(LBGT_NELTS(ids), LBG_RULE_END - 1);
    for (i = 0; i < LBGT_NELTS(ids); i++) {
        /* ids are 1..N in order, append-only */
        assert_int_equal(ids[i], (int) i + 1);
        r = lbg_rule((lbg_rule_e) ids[i]);
        assert_non_null(r);
        assert_int_equal(r->id, ids[i]);
        assert_string_equal(lbg_rule_name(r->id), r->name);
        assert_true(
            (r->fix & ~(LBG_FIX_EDIT | LBG_FIX_CLOSE | LBG_FIX_LB_502)) == 0);
        assert_true(r->tier >= LBG_TIER_ACCEPTABLE
                    && r->tier <= LBG_TIER_SEVERE);
        /* 0: no load balancer is known to reject it (strictest only) */
        assert_true((r->lb_mask & ~LBG_LB_ALL) == 0);
        assert_true(strncmp(r->rfc, "RFC 911", 7) == 0);
        assert_true(r->repair[0] != '\0');
        /* names are tokens: lower-case letters, digits and '-' */
        assert_true(r->name[0] != '\0');
        for (j = 0; r->name[j]; j++) {
            char c = r->name[j];
            assert_true((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                        || c == '-');
        }
        for (j = 0; j < i; j++) {
            q = lbg_rule((lbg_rule_e) ids[j]);
            assert_true(strcmp(q->name, r->name) != 0);
        }
    }
    assert_null(lbg_rule(LBG_RULE_NONE));
    assert_null(lbg_rule(LBG_RULE_END));
    assert_null(lbg_rule((lbg_rule_e) 1000));
    assert_null(lbg_rule((lbg_rule_e) -1));
    assert_string_equal(lbg_rule_name(LBG_RULE_NONE), "unknown");
    assert_string_equal(lbg_rule_name(LBG_RULE_END), "unknown");
    assert_string_equal(lbg_rule_name((lbg_rule_e) -7), "unknown");
}

static void
test_names(void **state)
{
    lbg_tier_e    t;
    lbg_profile_e p;
    lbg_mode_e    m;
    int           i;

    (void) state;
    static const char *tiers[] = {"compliant", "acceptable", "ambiguous",
                                  "severe"};
    static const char *profiles[] = {"strictest", "haproxy", "nginx",
                                     "envoy",     "llhttp",  "aws-alb",
                                     "nginx-1.22"};
    static const char *modes[] = {"off", "detect", "repair"};

    for (i = 0; i < 4; i++) {
        assert_string_equal(lbg_tier_name((lbg_tier_e) i), tiers[i]);
        assert_int_equal(lbg_tier_parse(tiers[i], strlen(tiers[i]), &t), 0);
        assert_int_equal(t, i);
    }
    for (i = 0; i < LBG_PROFILE_COUNT; i++) {
        assert_string_equal(lbg_profile_name((lbg_profile_e) i), profiles[i]);
        assert_int_equal(lbg_profile_parse(profiles[i], strlen(profiles[i]),
                                           &p),
                         0);
        assert_int_equal(p, i);
    }
    for (i = 0; i < 3; i++) {
        assert_string_equal(lbg_mode_name((lbg_mode_e) i), modes[i]);
        assert_int_equal(lbg_mode_parse(modes[i], strlen(modes[i]), &m), 0);
        assert_int_equal(m, i);
    }
    assert_string_equal(lbg_tier_name((lbg_tier_e) 4), "unknown");
    assert_string_equal(lbg_tier_name((lbg_tier_e) -1), "unknown");
    assert_string_equal(lbg_profile_name((lbg_profile_e) 7), "unknown");
    assert_string_equal(lbg_profile_name((lbg_profile_e) -1), "unknown");
    assert_string_equal(lbg_mode_name((lbg_mode_e) 3), "unknown");
    assert_string_equal(lbg_mode_name((lbg_mode_e) -1), "unknown");

    /* case-insensitive */
    assert_int_equal(lbg_profile_parse("STRICTEST", 9, &p), 0);
    assert_int_equal(p, LBG_PROFILE_STRICTEST);
    assert_int_equal(lbg_profile_parse("Aws-Alb", 7, &p), 0);
    assert_int_equal(p, LBG_PROFILE_AWS_ALB);
    assert_int_equal(lbg_mode_parse("RePaIr", 6, &m), 0);
    assert_int_equal(m, LBG_MODE_REPAIR);
    assert_int_equal(lbg_tier_parse("SEVERE", 6, &t), 0);
    assert_int_equal(t, LBG_TIER_SEVERE);

    /* len is honoured: the bytes after it are not part of the name */
    assert_int_equal(lbg_profile_parse("nginxfoo", 5, &p), 0);
    assert_int_equal(p, LBG_PROFILE_NGINX);
    assert_int_equal(lbg_mode_parse("detect", 3, &m), -1);

    /* junk, prefixes, extensions, empty; *out untouched */
    p = LBG_PROFILE_ENVOY;
    assert_int_equal(lbg_profile_parse("stric", 5, &p), -1);
    assert_int_equal(lbg_profile_parse("strictestx", 10, &p), -1);
    assert_int_equal(lbg_profile_parse("", 0, &p), -1);
    assert_int_equal(lbg_profile_parse("aws_alb", 7, &p), -1);
    assert_int_equal(lbg_profile_parse("aws", 3, &p), -1);
    assert_int_equal(lbg_profile_parse(" nginx", 6, &p), -1);
    assert_int_equal(lbg_profile_parse("nginx\0", 6, &p), -1);
    assert_int_equal(p, LBG_PROFILE_ENVOY);
    m = LBG_MODE_DETECT;
    assert_int_equal(lbg_mode_parse("of", 2, &m), -1);
    assert_int_equal(lbg_mode_parse("on", 2, &m), -1);
    assert_int_equal(lbg_mode_parse("repairs", 7, &m), -1);
    assert_int_equal(lbg_mode_parse("", 0, &m), -1);
    assert_int_equal(m, LBG_MODE_DETECT);
    assert_int_equal(lbg_tier_parse("sever", 5, &t), -1);
    assert_int_equal(lbg_tier_parse("unknown", 7, &t), -1);
}

static void
test_profiles(void **state)
{
    static const unsigned bits[LBG_PROFILE_COUNT] = {
        LBG_LB_ALL,    LBG_LB_HAPROXY, LBG_LB_NGINX,    LBG_LB_ENVOY,
        LBG_LB_LLHTTP, LBG_LB_AWS_ALB, LBG_LB_NGINX_122};
    int id, p;

    (void) state;
    for (id = 1; id < LBG_RULE_END; id++) {
        const lbg_rule_t *r = lbg_rule((lbg_rule_e) id);
        assert_int_equal(lbg_rule_in_profile((lbg_rule_e) id,
                                             LBG_PROFILE_STRICTEST),
                         1);
        for (p = 1; p < LBG_PROFILE_COUNT; p++) {
            assert_int_equal(lbg_rule_in_profile((lbg_rule_e) id,
                                                 (lbg_profile_e) p),
                             (r->lb_mask & bits[p]) != 0);
        }
    }
    /* a few spelled out, from the parsers' sources (LBG_LB_* in lbg.h) */
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_CONTENT_LENGTH_DUPLICATE,
                                         LBG_PROFILE_HAPROXY),
                     0);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_CONTENT_LENGTH_DUPLICATE,
                                         LBG_PROFILE_NGINX),
                     1);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_FIELD_NAME_NOT_TOKEN,
                                         LBG_PROFILE_NGINX),
                     0);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_FIELD_VALUE_CTL,
                                         LBG_PROFILE_ENVOY),
                     1);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_FIELD_VALUE_CTL,
                                         LBG_PROFILE_HAPROXY),
                     0);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_BARE_LF,
                                         LBG_PROFILE_LLHTTP),
                     1);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_BARE_LF,
                                         LBG_PROFILE_AWS_ALB),
                     0);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_VERSION_INVALID,
                                         LBG_PROFILE_AWS_ALB),
                     1);
    /* no rule, or no profile */
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_NONE,
                                         LBG_PROFILE_STRICTEST),
                     0);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_END, LBG_PROFILE_STRICTEST),
                     0);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_OBS_FOLD,
                                         (lbg_profile_e) 7),
                     0);
    /* nginx before 1.23.0 did not check an upstream's framing fields */
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_CONTENT_LENGTH_INVALID,
                                         LBG_PROFILE_NGINX_122),
                     0);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_CONTENT_LENGTH_INVALID,
                                         LBG_PROFILE_NGINX),
                     1);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_OBS_FOLD,
                                         LBG_PROFILE_NGINX_122),
                     1);
    assert_int_equal(lbg_rule_in_profile(LBG_RULE_TE_CHUNKED_NOT_FINAL,
                                         LBG_PROFILE_NGINX_122),
                     1);
}

/* The fix column against the documented behaviour of a few rules (README
 * "Rules", docs): what repair mode does to the response and to the
 * connection, and how a finding is counted. */
static void
test_fix(void **state)
{
    static const struct {
        lbg_rule_e rule;
        int        edit;  /* the repair makes the response conformant */
        int        close; /* the connection is not reused */
        int        lb502; /* under a one-LB profile, the target's 502 */
    } want[] = {
        /* rewritten in place, connection kept */
        {LBG_RULE_OBS_FOLD, 1, 0, 0},
        {LBG_RULE_BARE_LF, 1, 0, 0},
        {LBG_RULE_CONTENT_LENGTH_DUPLICATE, 1, 0, 0},
        {LBG_RULE_STATUS_CODE_OUT_OF_RANGE, 1, 0, 0},
        /* repaired, and the connection closed */
        {LBG_RULE_CONTENT_LENGTH_CONFLICT, 1, 1, 0},
        {LBG_RULE_BODY_LONGER, 1, 1, 0},
        {LBG_RULE_TE_NOT_APPLIED, 1, 1, 0},
        /* the target's own 502, which carries Connection: close */
        {LBG_RULE_UPSTREAM_STATUS_LINE_INVALID, 1, 1, 0},
        {LBG_RULE_SWITCHING_WITHOUT_UPGRADE, 1, 1, 0},
        {LBG_RULE_INTERIM_AS_FINAL, 1, 1, 0},
        /* no repair; the connection is closed */
        {LBG_RULE_BODY_SHORTER, 0, 1, 0},
        {LBG_RULE_CHUNKED_INVALID, 0, 1, 0},
        {LBG_RULE_TE_NOT_CHUNKED, 0, 1, 0},
        {LBG_RULE_TE_CHUNKED_NOT_FINAL, 0, 1, 0},
        /* reported under strictest; under a one-LB profile the
         * target's own 502 (lbg__budget()), which closes */
        {LBG_RULE_TOO_MANY_FIELDS, 0, 0, 1},
        {LBG_RULE_FIELD_TOO_LARGE, 0, 0, 1},
        {LBG_RULE_HEADER_TOO_LARGE, 0, 0, 1},
        /* reported only */
        {LBG_RULE_HEADER_INCOMPLETE, 0, 0, 0},
    };
    const lbg_rule_t *r;
    size_t            i;
    int               edits = 0;

    (void) state;
    for (i = 0; i < LBGT_NELTS(want); i++) {
        r = lbg_rule(want[i].rule);
        assert_non_null(r);
        assert_int_equal((r->fix & LBG_FIX_EDIT) != 0, want[i].edit);
        assert_int_equal((r->fix & LBG_FIX_CLOSE) != 0, want[i].close);
        assert_int_equal(lbg_rule_closes(want[i].rule), want[i].close);
        assert_int_equal((r->fix & LBG_FIX_LB_502) != 0, want[i].lb502);
        assert_int_equal(lbg_finding_outcome(want[i].rule, LBG_MODE_REPAIR),
                         want[i].edit ? LBG_OUTCOME_REPAIRED
                                      : LBG_OUTCOME_REPORTED);
        assert_int_equal(lbg_finding_outcome(want[i].rule, LBG_MODE_DETECT),
                         LBG_OUTCOME_DETECTED);
    }
    /* eight rules have no repair: 13, 18-22, 25, 32 */
    for (i = 1; i < (size_t) LBG_RULE_END; i++) {
        edits += !(lbg_rule((lbg_rule_e) i)->fix & LBG_FIX_EDIT);
    }
    assert_int_equal(edits, 8);
}

/* LBG_PROFILES: every value 0..COUNT-1 named once; list order; the list
 * the directive messages print, exactly, and its truncation. */
static void
test_profile_table(void **state)
{
    static const char *order[] = {"strictest",  "haproxy", "nginx",
                                  "nginx-1.22", "envoy",   "llhttp",
                                  "aws-alb"};
    static const char  ngx[] =
        "\"strictest\", \"haproxy\", \"nginx\", \"nginx-1.22\", "
        "\"envoy\", \"llhttp\" or \"aws-alb\"";
    static const char apache[] =
        "strictest, haproxy, nginx, nginx-1.22, envoy, llhttp, aws-alb";
    char   buf[128];
    int    seen[LBG_PROFILE_COUNT] = {0};
    int    p;
    size_t i, n;

    (void) state;
    assert_int_equal(LBG_PROFILE_COUNT, 7);
    assert_int_equal(LBGT_NELTS(order), LBG_PROFILE_COUNT);
    for (i = 0; i < LBGT_NELTS(order); i++) {
        p = lbg_profile_at(i);
        assert_true(p >= 0 && p < LBG_PROFILE_COUNT);
        assert_int_equal(seen[p]++, 0);
        assert_string_equal(lbg_profile_name((lbg_profile_e) p), order[i]);
    }
    assert_int_equal(lbg_profile_at(LBG_PROFILE_COUNT), -1);
    assert_int_equal(lbg_profile_at((size_t) -1), -1);
    /* enum values stay what they were */
    assert_int_equal(LBG_PROFILE_STRICTEST, 0);
    assert_int_equal(LBG_PROFILE_AWS_ALB, 5);
    assert_int_equal(LBG_PROFILE_NGINX_122, 6);
    assert_int_equal(lbg_profile_lb_mask(LBG_PROFILE_STRICTEST), LBG_LB_ALL);
    assert_int_equal(lbg_profile_lb_mask(LBG_PROFILE_NGINX_122),
                     LBG_LB_NGINX_122);
    assert_int_equal(lbg_profile_lb_mask((lbg_profile_e) 7), 0);
    assert_string_equal(lbg_profile_label(LBG_PROFILE_HAPROXY), "HAProxy");
    assert_string_equal(lbg_profile_label(LBG_PROFILE_AWS_ALB), "ALB");
    assert_string_equal(lbg_profile_label((lbg_profile_e) -1), "unknown");

    n = lbg_profile_list(buf, sizeof(buf), "\"", ", ", " or ");
    assert_string_equal(buf, ngx);
    assert_int_equal(n, sizeof(ngx) - 1);
    n = lbg_profile_list(buf, sizeof(buf), "", ", ", ", ");
    assert_string_equal(buf, apache);
    assert_int_equal(n, sizeof(apache) - 1);
    /* truncated: NUL-terminated, the full length returned */
    memset(buf, 'x', sizeof(buf));
    n = lbg_profile_list(buf, 12, "", ", ", ", ");
    assert_int_equal(n, sizeof(apache) - 1);
    assert_string_equal(buf, "strictest, ");
    assert_int_equal(buf[12], 'x');
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(lbg_profile_list(buf, 1, "", ", ", ", "),
                     sizeof(apache) - 1);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'x');
    assert_int_equal(lbg_profile_list(NULL, 0, "\"", ", ", " or "),
                     sizeof(ngx) - 1);
}

static void
test_policy_init(void **state)
{
    lbg_policy_t p;
    int          i;

    (void) state;
    for (i = 0; i < LBG_PROFILE_COUNT; i++) {
        memset(&p, 0x5a, sizeof(p));
        lbg_policy_init(&p, (lbg_profile_e) i);
        assert_int_equal(p.mode, LBG_MODE_REPAIR);
        assert_int_equal(p.profile, i);
        /* a budget never lets a field exceed the header section */
        assert_true(p.max_field_bytes <= p.max_header_bytes);
    }
    /* a few documented budgets (the profile table comment in lbg.h), not
     * the table again:
     * AWS ALB takes a 16 KiB field and a 32 KiB header section, HAProxy
     * 100 fields (tune.http.maxhdr 101) in its HTX room of 15312 bytes
     * (tune.bufsize 16 KiB), 31 once and 4 per field over the wire, nginx's
     * proxy_buffer_size 4 KiB with no field count */
    lbg_policy_init(&p, LBG_PROFILE_AWS_ALB);
    assert_int_equal(p.max_field_bytes, 16384);
    assert_int_equal(p.max_header_bytes, 32768);
    lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
    assert_int_equal(p.max_fields, 100);
    assert_int_equal(p.max_header_bytes, 15312 - 31);
    assert_int_equal(p.header_field_cost, 4);
    lbg_policy_init(&p, LBG_PROFILE_NGINX);
    assert_int_equal(p.max_header_bytes, 4096);
    assert_int_equal(p.max_fields, 0);
}

static void
test_misc_tables(void **state)
{
    lbg_response_t   r = lbgt_view(200, NULL, 0);
    static const int bodiless[] = {100, 101, 102, 103, 199, 204, 304};
    static const int bodied[] = {200, 201, 205, 206, 301, 400, 404, 500, 599};
    size_t           i;

    (void) state;
    for (i = 0; i < LBGT_NELTS(bodiless); i++) {
        r.status = bodiless[i];
        assert_int_equal(lbg_response_bodiless(&r), 1);
    }
    for (i = 0; i < LBGT_NELTS(bodied); i++) {
        r.status = bodied[i];
        assert_int_equal(lbg_response_bodiless(&r), 0);
        r.head = 1;
        assert_int_equal(lbg_response_bodiless(&r), 1);
        r.head = 0;
    }
    assert_string_equal(lbg_reason_phrase(200), "OK");
    assert_string_equal(lbg_reason_phrase(204), "No Content");
    assert_string_equal(lbg_reason_phrase(404), "Not Found");
    assert_string_equal(lbg_reason_phrase(500), "Internal Server Error");
    assert_string_equal(lbg_reason_phrase(502), "Bad Gateway");
    assert_string_equal(lbg_reason_phrase(299), "");
    assert_string_equal(lbg_reason_phrase(0), "");
    assert_string_equal(lbg_reason_phrase(-1), "");
    assert_string_equal(lbg_reason_phrase(99999), "");
}

static void
test_content_length_parse(void **state)
{
    static const struct {
        const char *s;
        int64_t     v;
    } cl[] = {
        {"0", 0},
        {"5", 5},
        {"005", 5},
        {"1234567890", 1234567890},
        {"4611686018427387904", INT64_C(4611686018427387904)}, /* 2^62 */
        {"9223372036854775807", INT64_MAX}, /* the maximum */
        {"09223372036854775807", INT64_MAX},
        {"9223372036854775808", -1},
        {"9223372036854775810", -1},
        {"18446744073709551621", -1}, /* wraps to 5 in 64 bits */
        {"99999999999999999999", -1},
        {"", -1},
        {"-5", -1},
        {"+5", -1},
        {" 5", -1},
        {"5 ", -1},
        {"5, 5", -1},
        {"5,5", -1},
        {"0x5", -1},
        {"abc", -1},
        {"5a", -1},
        {"\x35\x00", -1},
    };
    size_t i;

    (void) state;
    for (i = 0; i < LBGT_NELTS(cl); i++) {
        size_t len = strlen(cl[i].s);
        if (i == LBGT_NELTS(cl) - 1) {
            len = 2; /* "5\0" */
        }
        if (lbg_content_length_parse(U(cl[i].s), len) != cl[i].v) {
            fail_msg("lbg_content_length_parse(\"%s\") = %lld, want %lld",
                     cl[i].s,
                     (long long) lbg_content_length_parse(U(cl[i].s), len),
                     (long long) cl[i].v);
        }
    }
    /* len is honoured */
    assert_int_equal(lbg_content_length_parse(U("12345"), 2), 12);
    assert_int_equal(lbg_content_length_parse(NULL, 0), -1);
}

/* ---- conformant views ------------------------------------------------------ */

static void
test_compliant(void **state)
{
    lbg_field_t fields[] = {
        LBGT_F("Content-Type", "text/html; charset=utf-8"),
        LBGT_F("Content-Length", "1234"),
        LBGT_F("X-Tab", "a\tb"),
        LBGT_F("X-Obs-Text", "caf\xc3\xa9 \x80\xff"),
        LBGT_F("X-Empty", ""),
        LBGT_F("!#$%&'*+-.^_`|~0123456789azAZ", "token name"),
        LBGT_F("Connection", "keep-alive"),
    };
    lbg_field_t      chunked[] = {LBGT_F("Transfer-Encoding", "chunked")};
    lbg_field_t      cl304[] = {LBGT_F("Content-Length", "10")};
    lbgt_report_t    t;
    lbg_response_t   r = lbgt_view(200, fields, LBGT_NELTS(fields));
    static const int codes[] = {100, 101, 200, 204, 304, 404, 500, 599};
    size_t           i;

    (void) state;
    assert_int_equal(lbgt_check(NULL, &r, &t), 0);
    assert_int_equal(t.rep.nfindings, 0);
    assert_int_equal(t.rep.nedits, 0);
    assert_int_equal(t.rep.worst, LBG_TIER_COMPLIANT);
    assert_int_equal(t.rep.close, 0);
    assert_int_equal(t.rep.no_body, 0);
    assert_int_equal(t.rep.truncated, 0);
    assert_int_equal(t.rep.unrepairable, 0);

    /* HTTP/1.0 too; HEAD with a Content-Length */
    r.version = 10;
    r.head = 1;
    assert_int_equal(lbgt_check(NULL, &r, &t), 0);

    /* status line sent verbatim by the host */
    r = lbgt_view(200, chunked, 1);
    r.status_line = U("200 OK");
    r.status_line_len = 6;
    assert_int_equal(lbgt_check(NULL, &r, &t), 0);
    r.status_line = U("200 Fine\tand d\xc3\xa4ndy");
    r.status_line_len = strlen((const char *) r.status_line);
    assert_int_equal(lbgt_check(NULL, &r, &t), 0);
    r.status_line = U("200 ");
    r.status_line_len = 4;
    assert_int_equal(lbgt_check(NULL, &r, &t), 0);

    /* every valid code, host-written status line (101 without Upgrade:
     * test_switching) */
    for (i = 0; i < LBGT_NELTS(codes); i++) {
        r = lbgt_view(codes[i], NULL, 0);
        assert_int_equal(lbgt_check(NULL, &r, &t), codes[i] == 101);
    }
    /* 304 may carry the Content-Length of the selected representation */
    r = lbgt_view(304, cl304, 1);
    assert_int_equal(lbgt_check(NULL, &r, &t), 0);
}

/* ---- status line ------------------------------------------------------------ */

static void
test_status_code(void **state)
{
    /* not 3 digits: status-code-invalid; 3 digits outside 100..599:
     * status-code-out-of-range (every load balancer tested passes those) */
    static const int   bad[] = {-1, 1000, 2000};
    static const int   range[] = {0, 99, 600, 999};
    static const char *bad_lines[] = {"2000 OK", "20 OK", "abc OK",
                                      "2x0 OK",  "",      "20"};
    static const char *range_lines[] = {"099 OK", "600 OK"};
    lbgt_report_t      t;
    lbg_response_t     r;
    size_t             i, k;
    int                e;
    lbg_rule_e         rule;

    (void) state;
    for (k = 0; k < 2; k++) {
        rule = k == 0 ? LBG_RULE_STATUS_CODE_INVALID
                      : LBG_RULE_STATUS_CODE_OUT_OF_RANGE;
        for (i = 0; i < (k == 0 ? LBGT_NELTS(bad) : LBGT_NELTS(range)); i++) {
            r = lbgt_view(k == 0 ? bad[i] : range[i], NULL, 0);
            assert_int_equal(lbgt_check(NULL, &r, &t), 1);
            one(&t, rule, LBG_NO_FIELD, NULL, 0);
            e = lbgt_find_edit(&t.rep, LBG_EDIT_STATUS, LBG_NO_FIELD);
            assert_true(e >= 0);
            assert_int_equal(t.rep.edits[e].status, 500);
        }
    }
    for (k = 0; k < 2; k++) {
        const char **lines = k == 0 ? bad_lines : range_lines;
        size_t n = k == 0 ? LBGT_NELTS(bad_lines) : LBGT_NELTS(range_lines);

        rule = k == 0 ? LBG_RULE_STATUS_CODE_INVALID
                      : LBG_RULE_STATUS_CODE_OUT_OF_RANGE;
        for (i = 0; i < n; i++) {
            r = lbgt_view(200, NULL, 0);
            r.status_line = U(lines[i]);
            r.status_line_len = strlen(lines[i]);
            lbgt_check(NULL, &r, &t);
            if (lbgt_find(&t.rep, rule) != 0) {
                lbgt_dump(lines[i], &t.rep);
                fail_msg("status line \"%s\": no %s", lines[i],
                         lbg_rule_name(rule));
            }
            e = lbgt_find_edit(&t.rep, LBG_EDIT_STATUS, LBG_NO_FIELD);
            assert_true(e >= 0);
            assert_int_equal(t.rep.edits[e].status, 500);
        }
    }
}

static void
test_reason_phrase(void **state)
{
    static const char  *bad[] = {"200 O\x01K", "200 O\rK", "200 O\nK",
                                 "200 O\x7fK", "200 \x00"};
    static const size_t badlen[] = {7, 6, 6, 6, 5};
    lbg_field_t         cl[] = {LBGT_F("Content-Length", "0")};
    lbgt_report_t       t;
    lbg_response_t      r;
    size_t              i;
    int                 e;

    (void) state;
    for (i = 0; i < LBGT_NELTS(bad); i++) {
        r = lbgt_view(200, cl, 1);
        r.status_line = U(bad[i]);
        r.status_line_len = badlen[i];
        assert_int_equal(lbgt_check(NULL, &r, &t), 1);
        one(&t, LBG_RULE_REASON_PHRASE_INVALID, LBG_NO_FIELD, r.status_line,
            r.status_line_len);
        /* the host's standard reason phrase for the same code */
        assert_int_equal(t.rep.nedits, 1);
        e = lbgt_find_edit(&t.rep, LBG_EDIT_STATUS, LBG_NO_FIELD);
        assert_int_equal(e, 0);
        assert_int_equal(t.rep.edits[0].status, 200);
        assert_int_equal(t.rep.close, 0);
    }
}

/* ---- field names -------------------------------------------------------------- */

static void
test_field_names(void **state)
{
    static const lbg_field_t invalid[] = {
        LBGT_F("Bad Name", "x"), LBGT_F("", "x"),     LBGT_F("X-\0A", "x"),
        LBGT_F("X\x7f", "x"),    LBGT_F("X\tY", "x"), LBGT_F("X\x01", "x"),
        LBGT_F("X:Y", "x"),      LBGT_F(" X", "x"),   LBGT_F("X\r\n", "x"),
    };
    static const lbg_field_t not_token[] = {
        LBGT_F("X@Y", "1"), LBGT_F("{X}", "1"),  LBGT_F("a/b", "1"),
        LBGT_F("X\"", "1"), LBGT_F("X(Y)", "1"), LBGT_F("X\xc3\xa9", "1"),
        LBGT_F("[x]", "1"), LBGT_F("a;b", "1"),  LBGT_F("a=b", "1"),
    };
    lbg_field_t    fields[3] = {LBGT_F("Content-Length", "0"),
                                {0},
                                LBGT_F("X-Ok", "1")};
    lbgt_report_t  t;
    lbg_response_t r = lbgt_view(200, fields, 3);
    size_t         i;

    (void) state;
    for (i = 0; i < LBGT_NELTS(invalid); i++) {
        fields[1] = invalid[i];
        assert_int_equal(lbgt_check(NULL, &r, &t), 1);
        one(&t, LBG_RULE_FIELD_NAME_INVALID, 1, NULL, 0);
        assert_int_equal(t.rep.nedits, 1);
        assert_int_equal(t.rep.edits[0].op, LBG_EDIT_REMOVE);
        assert_int_equal(t.rep.edits[0].field, 1);
    }
    for (i = 0; i < LBGT_NELTS(not_token); i++) {
        fields[1] = not_token[i];
        assert_int_equal(lbgt_check(NULL, &r, &t), 1);
        one(&t, LBG_RULE_FIELD_NAME_NOT_TOKEN, 1, fields[1].name,
            fields[1].name_len);
        assert_int_equal(t.rep.nedits, 1);
        assert_int_equal(t.rep.edits[0].op, LBG_EDIT_REMOVE);
        assert_int_equal(t.rep.edits[0].field, 1);
        assert_int_equal(t.rep.worst, LBG_TIER_ACCEPTABLE);
    }
    /* nginx does not reject "{": not acted upon under its profile */
    {
        lbg_policy_t p;
        lbg_policy_init(&p, LBG_PROFILE_NGINX);
        fields[1] = not_token[1];
        assert_int_equal(lbgt_check(&p, &r, &t), 0);
        assert_int_equal(t.rep.nedits, 0);
        fields[1] = invalid[0];
        assert_int_equal(lbgt_check(&p, &r, &t), 1);
    }
}

/* ---- trusted fields -------------------------------------------------------- */

/* A field the host writes itself (trusted) is not scanned, but still counts
 * for the message framing and the budgets. */
static void
test_trusted_fields(void **state)
{
    lbg_field_t    fields[] = {LBGT_F("X A", "a\rb"),
                               LBGT_F("Content-Length", "5"),
                               LBGT_F("Content-Length", "7")};
    lbgt_report_t  t;
    lbg_response_t r = lbgt_view(200, fields, 3);

    (void) state;
    fields[0].trusted = 1;
    fields[1].trusted = 1;
    assert_int_equal(lbgt_check(NULL, &r, &t), 1);
    assert_int_equal(t.rep.findings[0].rule,
                     LBG_RULE_CONTENT_LENGTH_CONFLICT);
    fields[0].trusted = 0;
    assert_int_equal(lbgt_check(NULL, &r, &t), 3);
}


/* ---- field values ------------------------------------------------------------- */

static void
test_field_values(void **state)
{
    static const struct {
        lbg_field_t f;
        lbg_rule_e  rule;
        size_t      at; /* offset of the first offending byte */
    } cases[] = {
        {LBGT_F("X-A", "a\rb"), LBG_RULE_FIELD_VALUE_CR_LF, 1},
        {LBGT_F("X-A", "a\nb"), LBG_RULE_FIELD_VALUE_CR_LF, 1},
        {LBGT_F("X-A", "a\0b"), LBG_RULE_FIELD_VALUE_NUL, 1},
        {LBGT_F("X-A", "ab\r"), LBG_RULE_FIELD_VALUE_TRAILING_CR, 2},
        {LBGT_F("X-A", "a\x01"), LBG_RULE_FIELD_VALUE_CTL, 1},
        {LBGT_F("X-A", "\x1f"), LBG_RULE_FIELD_VALUE_CTL, 0},
        {LBGT_F("X-A", "a\x7f"), LBG_RULE_FIELD_VALUE_CTL, 1},
        {LBGT_F("X-A", "a\x0b"), LBG_RULE_FIELD_VALUE_CTL, 1},
        {LBGT_F("X-A", "a\r\n b"), LBG_RULE_OBS_FOLD, 1},
        {LBGT_F("X-A", "a\r\n\tb"), LBG_RULE_OBS_FOLD, 1},
        {LBGT_F("X-A", "a\n\tb"), LBG_RULE_OBS_FOLD, 1},
    };
    lbg_field_t    fields[2] = {LBGT_F("Content-Length", "0"), {0}};
    lbgt_report_t  t;
    lbg_response_t r = lbgt_view(200, fields, 2);
    size_t         i;

    (void) state;
    for (i = 0; i < LBGT_NELTS(cases); i++) {
        const lbg_finding_t *f;

        fields[1] = cases[i].f;
        lbgt_check(NULL, &r, &t);
        print_message("# value case %zu\n", i);
        f = one(&t, cases[i].rule, 1, fields[1].value, fields[1].value_len);
        assert_ptr_equal(f->at, fields[1].value + cases[i].at);
        assert_int_equal(t.rep.nedits, 1);
        assert_int_equal(t.rep.edits[0].op, LBG_EDIT_SANITIZE);
        assert_int_equal(t.rep.edits[0].field, 1);
        assert_int_equal(t.rep.close, 0);
    }
    /* CTLs: acted upon by Envoy and llhttp only */
    {
        lbg_policy_t p;
        fields[1] = cases[4].f;
        lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
        assert_int_equal(lbgt_check(&p, &r, &t), 0);
        lbg_policy_init(&p, LBG_PROFILE_ENVOY);
        assert_int_equal(lbgt_check(&p, &r, &t), 1);
        /* NUL: HAProxy 2.6 passes it on (differential), the others not */
        fields[1] = cases[2].f;
        lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
        assert_int_equal(lbgt_check(&p, &r, &t), 0);
        lbg_policy_init(&p, LBG_PROFILE_NGINX);
        assert_int_equal(lbgt_check(&p, &r, &t), 1);
        /* a CR that ends the value: nginx takes CR CR LF for a line end */
        fields[1] = cases[3].f;
        assert_int_equal(lbgt_check(&p, &r, &t), 0);
        lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
        assert_int_equal(lbgt_check(&p, &r, &t), 1);
    }
}

/* ---- Content-Length ------------------------------------------------------------ */

static void
test_content_length_invalid(void **state)
{
    static const lbg_field_t bad[] = {
        LBGT_F("Content-Length", "abc"),
        LBGT_F("Content-Length", "-5"),
        LBGT_F("Content-Length", "+5"),
        LBGT_F("Content-Length", " 5"),
        LBGT_F("Content-Length", ""),
        LBGT_F("content-length", "5 5"),
        LBGT_F("CONTENT-LENGTH", "0x5"),
        LBGT_F("Content-Length", "99999999999999999999"),
    };
    lbg_field_t    fields[2] = {LBGT_F("Content-Type", "text/plain"), {0}};
    lbgt_report_t  t;
    lbg_response_t r = lbgt_view(200, fields, 2);
    size_t         i;

    (void) state;
    for (i = 0; i < LBGT_NELTS(bad); i++) {
        fields[1] = bad[i];
        assert_int_equal(lbgt_check(NULL, &r, &t), 1);
        if (bad[i].value[0] == ' ') {
            /* " 5" (a host value with a leading SP) is taken for the
             * one-field list "5" and reported as a duplicate */
            assert_true(t.rep.findings[0].rule
                        == LBG_RULE_CONTENT_LENGTH_INVALID);
            continue;
        }
        one(&t, LBG_RULE_CONTENT_LENGTH_INVALID, 1, NULL, 0);
        assert_int_equal(t.rep.nedits, 2);
        assert_true(lbgt_find_edit(&t.rep, LBG_EDIT_REMOVE, 1) >= 0);
        assert_true(lbgt_find_edit(&t.rep, LBG_EDIT_CLOSE, LBG_NO_FIELD)
                    >= 0);
        assert_int_equal(t.rep.close, 1);
        assert_int_equal(t.rep.worst, LBG_TIER_SEVERE);
    }
}

static void
test_content_length_duplicate(void **state)
{
    lbg_field_t    two[] = {LBGT_F("Content-Length", "5"),
                            LBGT_F("Content-Type", "text/plain"),
                            LBGT_F("content-length", "5")};
    lbg_field_t    three[] = {LBGT_F("Content-Length", "42"),
                              LBGT_F("Content-Length", "42"),
                              LBGT_F("Content-Length", "42")};
    lbgt_report_t  t;
    lbg_response_t r = lbgt_view(200, two, 3);
    lbg_policy_t   p;

    (void) state;
    assert_int_equal(lbgt_check(NULL, &r, &t), 1);
    one(&t, LBG_RULE_CONTENT_LENGTH_DUPLICATE, 2, NULL, 0);
    /* collapsed to one: the later duplicate is removed, the first kept */
    assert_int_equal(t.rep.nedits, 1);
    assert_int_equal(t.rep.edits[0].op, LBG_EDIT_REMOVE);
    assert_int_equal(t.rep.edits[0].field, 2);
    assert_int_equal(t.rep.close, 0);

    /* HAProxy merges identical values: not acted upon */
    lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
    assert_int_equal(t.rep.nedits, 0);
    lbg_policy_init(&p, LBG_PROFILE_NGINX);
    assert_int_equal(lbgt_check(&p, &r, &t), 1);

    /* three: every later one removed */
    r = lbgt_view(200, three, 3);
    lbgt_check(NULL, &r, &t);
    assert_true(t.rep.nfindings >= 1);
    assert_int_equal(lbgt_count(&t.rep, LBG_RULE_CONTENT_LENGTH_DUPLICATE),
                     t.rep.nfindings);
    assert_true(lbgt_find_edit(&t.rep, LBG_EDIT_REMOVE, 1) >= 0);
    assert_true(lbgt_find_edit(&t.rep, LBG_EDIT_REMOVE, 2) >= 0);
    assert_true(lbgt_find_edit(&t.rep, LBG_EDIT_REMOVE, 0) < 0);
}

static void
test_content_length_conflict(void **state)
{
    lbg_field_t fields[] = {LBGT_F("Content-Length", "5"), LBGT_F("X-A", "1"),
                            LBGT_F("Content-Length", "6")};
    lbgt_report_t  t;
    lbg_response_t r = lbgt_view(200, fields, 3);
    lbg_policy_t   p;

    (void) state;
    assert_int_equal(lbgt_check(NULL, &r, &t), 1);
    one(&t, LBG_RULE_CONTENT_LENGTH_CONFLICT, 2, NULL, 0);
    assert_int_equal(t.rep.nedits, 3);
    assert_true(lbgt_find_edit(&t.rep, LBG_EDIT_REMOVE, 0) >= 0);
    assert_true(lbgt_find_edit(&t.rep, LBG_EDIT_REMOVE, 2) >= 0);
    assert_true(lbgt_find_edit(&t.rep, LBG_EDIT_CLOSE, LBG_NO_FIELD) >= 0);
    assert_int_equal(t.rep.close, 1);
    /* every load balancer rejects it */
    lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
    assert_int_equal(lbgt_check(&p, &r, &t), 1);
}

/* ---- Transfer-Encoding -------------------------------------------------------- */

static void
test_te_with_cl(void **state)
{
    lbg_field_t    fields[] = {LBGT_F("Content-Length", "5"),
                               LBGT_F("Transfer-Encoding", "chunked")};
    lbgt_report_t  t;
    lbg_response_t r = lbgt_view(200, fields, 2);
    lbg_policy_t   p;

    (void) state;
    assert_int_equal(lbgt_check(NULL, &r, &t), 1);
    one(&t, LBG_RULE_TE_WITH_CONTENT_LENGTH, 0, NULL, 0);
    assert_int_equal(t.rep.nedits, 2);
    assert_true(lbgt_find_edit(&t.rep, LBG_EDIT_REMOVE, 0) >= 0);
    assert_true(lbgt_find_edit(&t.rep, LBG_EDIT_CLOSE, LBG_NO_FIELD) >= 0);
    assert_int_equal(t.rep.close, 1);
    /* HAProxy tolerates it (and closes itself) */
    lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
}

static void
test_te_not_chunked(void **state)
{
    static const lbg_field_t bad[] = {
        LBGT_F("Transfer-Encoding", "gzip"),
        LBGT_F("Transfer-Encoding", "identity"),
        LBGT_F("Transfer-Encoding", ""),
    };
    lbgt_report_t  t;
    lbg_response_t r;
    size_t         i;

    (void) state;
    /* "gzip, chunked" frames the body by chunked (RFC 9112 6.3), but nginx
     * accepts exactly "chunked" only ("upstream sent unknown
     * Transfer-Encoding", 502) and Envoy rejects any other coding
     * ("unsupported transfer encoding"): both profiles must act on it */
    {
        static const lbg_field_t gz[] = {
            LBGT_F("Transfer-Encoding", "gzip, chunked")};
        lbg_policy_t pn;

        r = lbgt_view(200, gz, 1);
        lbg_policy_init(&pn, LBG_PROFILE_NGINX);
        lbgt_check(&pn, &r, &t);
        assert_true(lbgt_find(&t.rep, LBG_RULE_TE_NOT_CHUNKED) == 0);
    }
    /* "chunked, gzip": chunked but not last, a rule of its own (nginx
     * before 1.23 reads the body as chunked, RFC 9112 until the close) */
    {
        static const lbg_field_t cg[] = {
            LBGT_F("Transfer-Encoding", "chunked, gzip")};
        lbg_policy_t pn;

        r = lbgt_view(200, cg, 1);
        assert_int_equal(lbgt_check(NULL, &r, &t), 1);
        one(&t, LBG_RULE_TE_CHUNKED_NOT_FINAL, 0, NULL, 0);
        assert_int_equal(t.rep.close, 1);
        assert_true(t.rep.unrepairable);
        lbg_policy_init(&pn, LBG_PROFILE_LLHTTP);
        assert_int_equal(lbgt_check(&pn, &r, &t), 0);
    }
    for (i = 0; i < LBGT_NELTS(bad); i++) {
        r = lbgt_view(200, &bad[i], 1);
        assert_int_equal(lbgt_check(NULL, &r, &t), 1);
        one(&t, LBG_RULE_TE_NOT_CHUNKED, 0, NULL, 0);
        /* no repair: the connection is closed */
        assert_int_equal(t.rep.nedits, 1);
        assert_int_equal(t.rep.edits[0].op, LBG_EDIT_CLOSE);
        assert_int_equal(t.rep.close, 1);
    }
}

static void
test_te_chunked_twice(void **state)
{
    lbg_field_t one_field[] = {
        LBGT_F("Transfer-Encoding", "chunked, chunked")};
    lbg_field_t    two_fields[] = {LBGT_F("Transfer-Encoding", "chunked"),
                                   LBGT_F("X-A", "1"),
                                   LBGT_F("transfer-encoding", "chunked")};
    lbgt_report_t  t;
    lbg_response_t r = lbgt_view(200, one_field, 1);
    lbg_policy_t   p;

    (void) state;
    assert_int_equal(lbgt_check(NULL, &r, &t), 1);
    one(&t, LBG_RULE_TE_CHUNKED_TWICE, 0, NULL, 0);
    assert_int_equal(t.rep.nedits, 1);
    assert_int_equal(t.rep.edits[0].op, LBG_EDIT_SET);
    assert_int_equal(t.rep.edits[0].field, 0);
    assert_int_equal(t.rep.edits[0].value_len, 7);
    assert_memory_equal(t.rep.edits[0].value, "chunked", 7);

    /* reported on the first Transfer-Encoding, which is set to "chunked";
     * the later ones are removed */
    r = lbgt_view(200, two_fields, 3);
    assert_int_equal(lbgt_check(NULL, &r, &t), 1);
    one(&t, LBG_RULE_TE_CHUNKED_TWICE, 0, NULL, 0);
    assert_int_equal(t.rep.nedits, 2);
    assert_int_equal(t.rep.edits[0].op, LBG_EDIT_SET);
    assert_int_equal(t.rep.edits[0].field, 0);
    assert_memory_equal(t.rep.edits[0].value, "chunked", 7);
    assert_int_equal(t.rep.edits[1].op, LBG_EDIT_REMOVE);
    assert_int_equal(t.rep.edits[1].field, 2);

    /* llhttp and ALB are not known to reject it */
    lbg_policy_init(&p, LBG_PROFILE_LLHTTP);
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
}

/* issue 9: 101 without Upgrade (RFC 9110 15.2.2), an upstream status line
 * that is not HTTP/1.x; both repaired by the target's own 502 */
static void
test_switching(void **state)
{
    lbg_field_t                up[] = {LBGT_F("upgrade", "websocket"),
                                       LBGT_F("Connection", "Upgrade")};
    lbg_field_t                no[] = {LBGT_F("Connection", "Upgrade")};
    lbgt_report_t              t;
    lbg_response_t             r;
    lbg_policy_t               p;
    char                       line[256];
    static const unsigned char garbage[] =
        "Warning: debug output\r\nHTTP/1.1 200 OK\r\n";

    (void) state;
    r = lbgt_view(101, up, 2);
    assert_int_equal(lbgt_check(NULL, &r, &t), 0);
    r = lbgt_view(101, no, 1);
    assert_int_equal(lbgt_check(NULL, &r, &t), 1);
    one(&t, LBG_RULE_SWITCHING_WITHOUT_UPGRADE, LBG_NO_FIELD, NULL, 0);
    assert_true(lbg_report_bad_gateway(&t.rep));
    assert_true(t.rep.close);
    lbg_finding_format(&r, &t.rep.findings[0], 1, line, sizeof(line));
    assert_string_equal(line, "switching-protocols-without-upgrade: 101 "
                              "Switching Protocols without an Upgrade field, "
                              "replaced by the target's own 502 Bad Gateway");
    /* HAProxy 2.6 and nginx 1.22 pass it on: strictest only */
    lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
    assert_int_equal(lbgt_check(&p, &r, &t), 0);

    /* the adapter's finding: the request asked for no upgrade */
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    lbgt_report_init(&t);
    assert_int_equal(lbg_check_switching(&p, &t.rep), 1);
    assert_true(lbg_report_bad_gateway(&t.rep));
    lbg_finding_format(&r, &t.rep.findings[0], 0, line, sizeof(line));
    assert_string_equal(line,
                        "switching-protocols-without-upgrade: 101 "
                        "Switching Protocols to a request without Upgrade, "
                        "not repaired (detect mode)");
    /* HAProxy 2.6 answers 502 (PH) to a 101 to a request that asked for
     * no upgrade: the haproxy profile acts on it, nginx's does not */
    lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
    lbgt_report_init(&t);
    assert_int_equal(lbg_check_switching(&p, &t.rep), 1);
    assert_true(lbg_report_bad_gateway(&t.rep));
    assert_int_equal(p.profile, LBG_PROFILE_HAPROXY);
    lbg_policy_init(&p, LBG_PROFILE_NGINX_122);
    lbgt_report_init(&t);
    assert_int_equal(lbg_check_switching(&p, &t.rep), 0);
    assert_int_equal(t.rep.nedits, 0);

    /* every profile: nginx's HTTP/0.9 fallback */
    lbg_policy_init(&p, LBG_PROFILE_NGINX_122);
    lbgt_report_init(&t);
    assert_int_equal(lbg_check_upstream_status(&p, garbage,
                                               sizeof(garbage) - 1, &t.rep),
                     1);
    one(&t, LBG_RULE_UPSTREAM_STATUS_LINE_INVALID, LBG_NO_FIELD, garbage,
        sizeof(garbage) - 1);
    assert_true(lbg_report_bad_gateway(&t.rep));
    lbg_finding_format(NULL, &t.rep.findings[0], 1, line, sizeof(line));
    assert_string_equal(line,
                        "upstream-status-line-invalid: upstream "
                        "response begins \"Warning: debug output\\x0d\\x0a"
                        "HTTP/1.1 200 OK\\x0d\\x0a\", replaced by the "
                        "target's own 502 Bad Gateway");
    p.mode = LBG_MODE_OFF;
    lbgt_report_init(&t);
    assert_int_equal(lbg_check_upstream_status(&p, garbage, 3, &t.rep), 0);
    assert_int_equal(t.rep.nfindings, 0);

    /* an interim status as the final response; 101 and 200 are not */
    lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
    lbgt_report_init(&t);
    assert_int_equal(lbg_check_interim(&p, 101, &t.rep), 0);
    assert_int_equal(lbg_check_interim(&p, 200, &t.rep), 0);
    assert_int_equal(lbg_check_interim(&p, 100, &t.rep), 1);
    one(&t, LBG_RULE_INTERIM_AS_FINAL, LBG_NO_FIELD, NULL, 0);
    assert_true(lbg_report_bad_gateway(&t.rep));
    lbg_finding_format(NULL, &t.rep.findings[0], 1, line, sizeof(line));
    assert_string_equal(line, "interim-response-as-final: interim status 100 "
                              "sent as the final response, replaced by the "
                              "target's own 502 Bad Gateway");
}

/* issue 9: an application's Transfer-Encoding on a host that frames the
 * body itself (Apache) */
static void
test_te_not_applied(void **state)
{
    lbg_field_t    te[] = {LBGT_F("X-A", "1"),
                           LBGT_F("transfer-encoding", "chunked")};
    lbgt_report_t  t;
    lbg_response_t r;
    lbg_policy_t   p;

    (void) state;
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    r = lbgt_view(200, te, 2);
    lbgt_report_init(&t);
    assert_int_equal(lbg_check_te_not_applied(&p, &r, &t.rep), 1);
    one(&t, LBG_RULE_TE_NOT_APPLIED, 1, NULL, 0);
    assert_int_equal(t.rep.nedits, 2);
    assert_int_equal(t.rep.edits[0].op, LBG_EDIT_REMOVE);
    assert_int_equal(t.rep.edits[0].field, 1);
    assert_true(t.rep.close);
    /* the host's own chunked is trusted */
    te[1].trusted = 1;
    lbgt_report_init(&t);
    assert_int_equal(lbg_check_te_not_applied(&p, &r, &t.rep), 0);
}


static void
test_framing_on_bodiless(void **state)
{
    lbg_field_t      te[] = {LBGT_F("Upgrade", "websocket"),
                             LBGT_F("Transfer-Encoding", "chunked")};
    lbg_field_t      cl[] = {LBGT_F("Content-Length", "5")};
    lbgt_report_t    t;
    lbg_response_t   r;
    lbg_policy_t     p;
    static const int codes[] = {100, 103, 204}; /* 101: test_switching */
    size_t           i;

    (void) state;
    for (i = 0; i < LBGT_NELTS(codes); i++) {
        r = lbgt_view(codes[i], te, 2);
        assert_int_equal(lbgt_check(NULL, &r, &t), 1);
        one(&t, LBG_RULE_FRAMING_ON_BODILESS_STATUS, 1, NULL, 0);
        assert_int_equal(t.rep.nedits, 1);
        assert_int_equal(t.rep.edits[0].op, LBG_EDIT_REMOVE);
        assert_int_equal(t.rep.edits[0].field, 1);

        r = lbgt_view(codes[i], cl, 1);
        assert_int_equal(lbgt_check(NULL, &r, &t), 1);
        one(&t, LBG_RULE_FRAMING_ON_BODILESS_STATUS, 0, NULL, 0);
        assert_int_equal(t.rep.nedits, 1);
        assert_int_equal(t.rep.edits[0].op, LBG_EDIT_REMOVE);
        assert_int_equal(t.rep.edits[0].field, 0);
    }
    /* only Envoy rejects it */
    r = lbgt_view(204, cl, 1);
    lbg_policy_init(&p, LBG_PROFILE_ENVOY);
    assert_int_equal(lbgt_check(&p, &r, &t), 1);
    lbg_policy_init(&p, LBG_PROFILE_NGINX);
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
    /* 304 and HEAD may carry Content-Length */
    r = lbgt_view(304, cl, 1);
    assert_int_equal(lbgt_check(NULL, &r, &t), 0);
    r = lbgt_view(200, cl, 1);
    r.head = 1;
    assert_int_equal(lbgt_check(NULL, &r, &t), 0);
}

/* ---- budgets -------------------------------------------------------------------- */

static void
test_budgets(void **state)
{
    lbg_field_t    fields[8];
    lbgt_report_t  t;
    lbg_response_t r;
    lbg_policy_t   p;
    char           big[200];
    size_t         i;
    int            k;

    (void) state;
    memset(big, 'a', sizeof(big));
    for (i = 0; i < 8; i++) {
        fields[i].name = U("X-F");
        fields[i].name_len = 3;
        fields[i].value = U(big);
        fields[i].value_len = 10; /* line: 3 + 2 + 10 + 2 = 17 bytes */
        fields[i].origin = i;
    }
    r = lbgt_view(200, fields, 8);

    /* number of field lines: budget == count is fine, one more is not */
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.max_fields = 8;
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
    p.max_fields = 7;
    assert_int_equal(lbgt_check(&p, &r, &t), 1);
    one(&t, LBG_RULE_TOO_MANY_FIELDS, LBG_NO_FIELD, NULL, 0);
    assert_int_equal(t.rep.nedits, 0);
    assert_int_equal(t.rep.worst, LBG_TIER_ACCEPTABLE);
    p.max_fields = 0; /* disabled */
    assert_int_equal(lbgt_check(&p, &r, &t), 0);

    /* one field line: name + ": " + value + CRLF */
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.max_field_bytes = 17;
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
    fields[5].value_len = 11;
    assert_int_equal(lbgt_check(&p, &r, &t), 1);
    k = lbgt_find(&t.rep, LBG_RULE_FIELD_TOO_LARGE);
    assert_int_equal(k, 0);
    assert_int_equal(t.rep.findings[0].field, 5);
    assert_int_equal(t.rep.nedits, 0);
    p.max_field_bytes = 0;
    fields[5].value_len = 200;
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
    fields[5].value_len = 10;

    /* whole header section: 8 lines of 17 = 136 bytes + status line + CRLF */
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.max_header_bytes = 136;
    assert_int_equal(lbgt_check(&p, &r, &t), 1);
    one(&t, LBG_RULE_HEADER_TOO_LARGE, LBG_NO_FIELD, NULL, 0);
    assert_int_equal(t.rep.nedits, 0);
    p.max_header_bytes = 136 + 100;
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
    p.max_header_bytes = 0;
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
}

/* The strictest defaults against 101 fields and a 5000-byte field. */
static void
test_budgets_defaults(void **state)
{
    static lbg_field_t   fields[101];
    static unsigned char big[5000];
    lbgt_report_t        t;
    lbg_response_t       r;
    size_t               i;

    (void) state;
    memset(big, 'b', sizeof(big));
    for (i = 0; i < 101; i++) {
        fields[i].name = U("X");
        fields[i].name_len = 1;
        fields[i].value = big;
        fields[i].value_len = 1;
    }
    r = lbgt_view(200, fields, 100);
    assert_int_equal(lbgt_check(NULL, &r, &t), 0);
    r.nfields = 101;
    assert_int_equal(lbgt_check(NULL, &r, &t), 1);
    one(&t, LBG_RULE_TOO_MANY_FIELDS, LBG_NO_FIELD, NULL, 0);

    fields[0].value_len = sizeof(big);
    r.nfields = 1;
    lbgt_check(NULL, &r, &t);
    {
        lbg_rule_e want[] = {LBG_RULE_FIELD_TOO_LARGE,
                             LBG_RULE_HEADER_TOO_LARGE};
        lbgt_assert_rules("5000-byte field", &t.rep, want, 2);
    }
}

/* Under a profile naming one load balancer a budget finding is repaired by
 * the target's own 502 Bad Gateway (that LB would answer 502 anyway); under
 * strictest it is reported only and the response counts as not
 * repairable. */
static void
test_budgets_one_lb(void **state)
{
    static lbg_field_t         fields[151];
    static unsigned char       big[90000];
    static const lbg_profile_e one_lb[] = {
        LBG_PROFILE_HAPROXY, LBG_PROFILE_NGINX,   LBG_PROFILE_ENVOY,
        LBG_PROFILE_LLHTTP,  LBG_PROFILE_AWS_ALB, LBG_PROFILE_NGINX_122};
    lbgt_report_t  t;
    lbg_response_t r;
    lbg_policy_t   p;
    size_t         i;
    int            k;

    (void) state;
    memset(big, 'b', sizeof(big));
    for (i = 0; i < 151; i++) {
        fields[i].name = U("X");
        fields[i].name_len = 1;
        fields[i].value = big;
        fields[i].value_len = 1;
        fields[i].origin = i;
    }

    /* 151 fields: HAProxy (100) and Envoy (100) answer 502 */
    r = lbgt_view(200, fields, 151);
    lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
    assert_int_equal(lbgt_check(&p, &r, &t), 1);
    one(&t, LBG_RULE_TOO_MANY_FIELDS, LBG_NO_FIELD, NULL, 0);
    assert_int_equal(t.rep.findings[0].n1, 151);
    assert_int_equal(t.rep.findings[0].n2, 100);
    assert_true(lbg_report_bad_gateway(&t.rep));
    assert_true(t.rep.close);
    assert_int_equal(t.rep.unrepairable, 0);
    assert_int_equal(t.rep.nedits, 2);
    /* 100 fields: within HAProxy's tune.http.maxhdr 101 (its parser keeps
     * one slot for the list's end); 101 are not */
    r.nfields = 100;
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
    assert_int_equal(t.rep.nedits, 0);
    r.nfields = 101;
    assert_int_equal(lbgt_check(&p, &r, &t), 1);
    one(&t, LBG_RULE_TOO_MANY_FIELDS, LBG_NO_FIELD, NULL, 0);
    /* llhttp counts no fields: nothing to say */
    r.nfields = 151;
    lbg_policy_init(&p, LBG_PROFILE_LLHTTP);
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
    /* strictest: reported, no edit, not repairable */
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    assert_int_equal(lbgt_check(&p, &r, &t), 1);
    one(&t, LBG_RULE_TOO_MANY_FIELDS, LBG_NO_FIELD, NULL, 0);
    assert_int_equal(t.rep.nedits, 0);
    assert_false(lbg_report_bad_gateway(&t.rep));
    assert_int_equal(t.rep.unrepairable, 1);
    assert_int_equal(t.rep.close, 0);

    /* one 90000-byte field: over every LB's field budget (Envoy: 80 KiB) */
    fields[0].value_len = sizeof(big);
    r.nfields = 1;
    for (i = 0; i < LBGT_NELTS(one_lb); i++) {
        lbg_policy_init(&p, one_lb[i]);
        lbgt_check(&p, &r, &t);
        k = lbgt_find(&t.rep, LBG_RULE_FIELD_TOO_LARGE);
        assert_true(k >= 0);
        assert_true(lbg_report_bad_gateway(&t.rep));
        assert_int_equal(t.rep.unrepairable, 0);
        /* the 502 edit is recorded once, however many budgets fired */
        assert_int_equal(t.rep.nedits, 2);
    }
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    lbgt_check(&p, &r, &t);
    assert_true(lbgt_find(&t.rep, LBG_RULE_FIELD_TOO_LARGE) >= 0);
    assert_true(lbgt_find(&t.rep, LBG_RULE_HEADER_TOO_LARGE) >= 0);
    assert_false(lbg_report_bad_gateway(&t.rep));
    assert_int_equal(t.rep.unrepairable, 1);

    /* detect mode: the same findings, the edits are the adapter's to skip */
    lbg_policy_init(&p, LBG_PROFILE_NGINX);
    p.mode = LBG_MODE_DETECT;
    lbgt_check(&p, &r, &t);
    assert_true(lbgt_find(&t.rep, LBG_RULE_FIELD_TOO_LARGE) >= 0);
    /* off: nothing */
    p.mode = LBG_MODE_OFF;
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
    assert_int_equal(t.rep.nedits, 0);

    /* a field the budgets pass under one LB and fail under another */
    fields[0].value_len = 5000;
    lbg_policy_init(&p, LBG_PROFILE_AWS_ALB);
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
    assert_int_equal(t.rep.nedits, 0);
    lbg_policy_init(&p, LBG_PROFILE_NGINX);
    assert_true(lbgt_check(&p, &r, &t) >= 1);
    assert_true(lbg_report_bad_gateway(&t.rep));
}

/* A header section of exactly `wire` bytes in buf (the bytes
 * tests/integration/test_lb_malformed.py sends through HAProxy):
 * "HTTP/1.1 200 OK", X-Big padded with 'a', nf - 2 fields "X-Fnnn: v",
 * "Content-Length: 3", CRLF, then the body "abc"; with long_reason the
 * reason phrase is the padding ('R') and X-Big is "v". Returns the length
 * with the body. */
static size_t
haproxy_shape(unsigned char *buf, size_t cap, size_t nf, size_t wire,
              int long_reason)
{
    size_t fixed = 17 + 2, n = 0, i, pad; /* "Content-Length: 3" CRLF */

    fixed += (nf - 2) * (sizeof("X-F000: v") - 1 + 2) + 2;
    fixed += long_reason ? sizeof("X-Big: v") - 1 + 2 : sizeof("X-Big: ") + 1;
    fixed += long_reason ? sizeof("HTTP/1.1 200 ") - 1 + 2
                         : sizeof("HTTP/1.1 200 OK") - 1 + 2;
    assert_true(wire > fixed && wire + 3 <= cap);
    pad = wire - fixed;
    n += (size_t) sprintf((char *) buf, "HTTP/1.1 200 %s",
                          long_reason ? "" : "OK");
    if (long_reason) {
        memset(buf + n, 'R', pad);
        n += pad;
    }
    n += (size_t) sprintf((char *) buf + n, "\r\nX-Big: %s",
                          long_reason ? "v" : "");
    if (!long_reason) {
        memset(buf + n, 'a', pad);
        n += pad;
    }
    n += (size_t) sprintf((char *) buf + n, "\r\n");
    for (i = 0; i + 2 < nf; i++) {
        n += (size_t) sprintf((char *) buf + n, "X-F%03u: v\r\n",
                              (unsigned) i);
    }
    n += (size_t) sprintf((char *) buf + n, "Content-Length: 3\r\n\r\nabc");
    assert_int_equal(n, wire + 3);
    return n;
}

/* The haproxy profile's header section budget is HAProxy 2.6's own (the
 * HTX conversion: 15312 bytes, 31 once and 4 per field beyond the wire
 * bytes, no room for a Connection field of only close/keep-alive;
 * LBG_PROFILES): at the largest section it passes (each boundary measured:
 * 200 through Debian 12's HAProxy 2.6.12), one byte more is a finding
 * (HAProxy: PH, 502) whose message says the wire bytes and the wire budget
 * for that response; the quick pass agrees. At most 100 fields. */
static void
test_budgets_haproxy(void **state)
{
    /* fields (with Content-Length), largest wire bytes HAProxy passes */
    static const struct {
        size_t nf, wire;
        int    long_reason;
    } shapes[] = {{2, 15273, 0},
                  {10, 15241, 0},
                  {50, 15081, 0},
                  {100, 14881, 0},
                  {3, 15269, 1}};
    /* X-Big, this field, Content-Length: largest wire bytes passing */
    static const struct {
        const char *line;
        size_t      wire;
    } conn[] = {{"Connection: keep-alive", 15273 + 24},
                {"Connection: close", 15273 + 19},
                {"connection: Keep-Alive, close", 15273 + 31},
                {"Connection: upgrade", 15281 - 3 * 4},
                /* HAProxy stores what is left once it removes close and
                 * keep-alive: as written up to the first one removed,
                 * then ",element" */
                {"Connection: keep-alive, x-foo", 15273 + 8},
                {"Connection: x-foo, close", 15273 + 3},
                {"Connection: aa , close, bb", 15273 + 4},
                {"Connection: x-foo,  x-bar", 15273 - 4},
                {"Connection: \"a,close\", close, keep-alive,x", 15273 + 15},
                {"Connection: close\r\nConnection: x, keep-alive",
                 15273 + 27},
                {"Connection: ,, close ,", 15273 + 5},
                /* the first Content-Length stored as its last element's
                 * digits, the others (equal) dropped */
                {"Content-Length: 3", 15273 + 19},
                {"Content-Length: 3, 3", 15273 + 22},
                {"Content-Length: 3 ,  3\r\nContent-Length: 3", 15273 + 43}};
    static unsigned char buf[16384];
    static lbgt_parse_t  t;
    static lbg_field_t   many[102];
    lbg_field_t          conn_f = LBGT_F("Connection", "keep-alive");
    lbg_response_t       r;
    lbg_policy_t         p;
    lbg_quick_t          q;
    char                 line[256], want[256];
    size_t               i, k, len, w;
    const lbg_finding_t *f;

    (void) state;
    lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
    assert_int_equal(p.max_header_bytes, 15312 - 31);
    assert_int_equal(p.header_field_cost, 4);
    assert_int_equal(p.max_fields, 100);
    for (i = 0; i < LBGT_NELTS(shapes); i++) {
        for (w = shapes[i].wire; w <= shapes[i].wire + 1; w++) {
            len = haproxy_shape(buf, sizeof(buf), shapes[i].nf, w,
                                shapes[i].long_reason);
            lbgt_parse(&p, buf, len, 0, &t);
            assert_int_equal(t.raw.view.nfields, shapes[i].nf);
            lbg_quick_init(&q);
            for (k = 0; k < t.raw.view.nfields; k++) {
                lbg_quick_field(&q, t.fields[k].name, t.fields[k].name_len,
                                t.fields[k].value, t.fields[k].value_len, 0);
            }
            if (w == shapes[i].wire) {
                assert_int_equal(t.r.rep.nfindings, 0);
                assert_true(lbg_quick_clean(&p, &q, 200,
                                            t.raw.view.status_line,
                                            t.raw.view.status_line_len));
                continue;
            }
            one(&t.r, LBG_RULE_HEADER_TOO_LARGE, LBG_NO_FIELD, NULL, 0);
            f = &t.r.rep.findings[0];
            assert_int_equal(f->n1, (int64_t) w);
            assert_int_equal(f->n2, (int64_t) shapes[i].wire);
            assert_true(lbg_report_bad_gateway(&t.r.rep));
            assert_false(lbg_quick_clean(&p, &q, 200, t.raw.view.status_line,
                                         t.raw.view.status_line_len));
            lbg_finding_format(NULL, f, 1, line, sizeof(line));
            snprintf(want, sizeof(want),
                     "header-section-too-large: header section is %u "
                     "bytes, budget %u, none under strictest (report); "
                     "else the target's own 502 Bad Gateway",
                     (unsigned) w, (unsigned) shapes[i].wire);
            assert_string_equal(line, want);
        }
    }
    /* a Connection field of only close/keep-alive takes no room (HAProxy
     * drops it), another one counts what HAProxy keeps of it, a repeated
     * Content-Length none (each measured on HAProxy 2.6.12 as above) */
    for (i = 0; i < LBGT_NELTS(conn); i++) {
        for (w = conn[i].wire; w <= conn[i].wire + 1; w++) {
            size_t fixed = sizeof("HTTP/1.1 200 OK\r\nX-Big: \r\n") - 1
                           + strlen(conn[i].line) + 2
                           + sizeof("Content-Length: 3\r\n\r\n") - 1;

            len = (size_t) sprintf((char *) buf,
                                   "HTTP/1.1 200 OK\r\nX-Big: ");
            memset(buf + len, 'a', w - fixed);
            len += w - fixed;
            len += (size_t) sprintf((char *) buf + len,
                                    "\r\n%s\r\nContent-Length: 3\r\n\r\nabc",
                                    conn[i].line);
            assert_int_equal(len, w + 3);
            lbgt_parse(&p, buf, len, 0, &t);
            if (w == conn[i].wire) {
                assert_int_equal(t.r.rep.nfindings, 0);
                continue;
            }
            one(&t.r, LBG_RULE_HEADER_TOO_LARGE, LBG_NO_FIELD, NULL, 0);
            assert_int_equal(t.r.rep.findings[0].n1, (int64_t) w);
            assert_int_equal(t.r.rep.findings[0].n2, (int64_t) conn[i].wire);
        }
    }
    /* 101 fields: over tune.http.maxhdr (101, one slot for the list's
     * end); HAProxy answers 502 at any size */
    len = haproxy_shape(buf, sizeof(buf), 101, 2000, 0);
    lbgt_parse(&p, buf, len, 0, &t);
    one(&t.r, LBG_RULE_TOO_MANY_FIELDS, LBG_NO_FIELD, NULL, 0);
    assert_int_equal(t.r.rep.findings[0].n1, 101);
    assert_int_equal(t.r.rep.findings[0].n2, 100);
    /* a Connection field HAProxy drops is none of its 100 (measured: 100
     * fields and Connection: keep-alive pass, 101 and it get 502) */
    for (i = 0; i < 101; i++) {
        many[i].name = U("X");
        many[i].name_len = 1;
        many[i].value = U("v");
        many[i].value_len = 1;
        many[i].origin = i;
        many[i].trusted = 0;
    }
    many[101] = conn_f;
    memmove(&many[1], &many[0], 101 * sizeof(many[0]));
    many[0] = conn_f; /* first: X x 100 then, or X x 101 */
    r = lbgt_view(200, many, 101);
    assert_int_equal(lbgt_check(&p, &r, &t.r), 0);
    r.nfields = 102;
    assert_int_equal(lbgt_check(&p, &r, &t.r), 1);
    one(&t.r, LBG_RULE_TOO_MANY_FIELDS, LBG_NO_FIELD, NULL, 0);
    assert_int_equal(t.r.rep.findings[0].n1, 102);
    assert_int_equal(t.r.rep.findings[0].n2, 101);
    /* a directive's budget counts wire bytes alone */
    lbg_policy_header_budget(&p, 15273 + 2 * 4);
    assert_int_equal(p.header_field_cost, 0);
    len = haproxy_shape(buf, sizeof(buf), 2, 15273 + 8, 0);
    lbgt_parse(&p, buf, len, 0, &t);
    assert_int_equal(t.r.rep.nfindings, 0);
}

/* ---- modes, truncation, synthesised fields, severity ---------------------------- */

static void
test_modes(void **state)
{
    lbg_field_t    fields[] = {LBGT_F("Bad Name", "x"),
                               LBGT_F("Content-Length", "abc")};
    lbgt_report_t  t;
    lbg_response_t r = lbgt_view(200, fields, 2);
    lbg_policy_t   p;

    (void) state;
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.mode = LBG_MODE_OFF;
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
    assert_int_equal(t.rep.nfindings, 0);
    assert_int_equal(t.rep.nedits, 0);
    assert_int_equal(t.rep.close, 0);
    assert_int_equal(t.rep.worst, LBG_TIER_COMPLIANT);

    /* detect: the same findings and edits as repair */
    p.mode = LBG_MODE_DETECT;
    assert_int_equal(lbgt_check(&p, &r, &t), 2);
    assert_int_equal(t.rep.nedits, 3);
    assert_int_equal(t.rep.close, 1);
    assert_int_equal(t.rep.worst, LBG_TIER_SEVERE);
    {
        lbg_rule_e want[] = {LBG_RULE_FIELD_NAME_INVALID,
                             LBG_RULE_CONTENT_LENGTH_INVALID};
        lbgt_assert_rules("detect", &t.rep, want, 2);
    }
    p.mode = LBG_MODE_REPAIR;
    assert_int_equal(lbgt_check(&p, &r, &t), 2);
    assert_int_equal(t.rep.nedits, 3);
}

static void
test_truncation(void **state)
{
    lbg_field_t   fields[] = {LBGT_F("Bad Name", "x"), LBGT_F("X-A", "a\x01"),
                              LBGT_F("X{", "1"), LBGT_F("X-B", "\0")};
    lbg_finding_t f[2];
    lbg_edit_t    e[1];
    lbg_report_t  rep;
    lbg_response_t r = lbgt_view(200, fields, 4);
    lbg_policy_t   p;

    (void) state;
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);

    /* findings array too small */
    lbg_report_init(&rep, f, 2, e, 1);
    assert_int_equal(lbg_check(&p, &r, &rep), 2);
    assert_int_equal(rep.nfindings, 2);
    assert_int_equal(rep.nedits, 1);
    assert_int_equal(rep.truncated, 1);
    assert_int_equal(rep.close, 1);
    assert_int_equal(f[0].rule, LBG_RULE_FIELD_NAME_INVALID);
    assert_int_equal(f[1].rule, LBG_RULE_FIELD_VALUE_CTL);

    /* no arrays at all: nothing recorded, but the report says so */
    lbg_report_init(&rep, NULL, 0, NULL, 0);
    assert_int_equal(lbg_check(&p, &r, &rep), 0);
    assert_int_equal(rep.nfindings, 0);
    assert_int_equal(rep.nedits, 0);
    assert_int_equal(rep.truncated, 1);
    assert_int_equal(rep.close, 1);

    /* room for findings, none for edits */
    lbg_report_init(&rep, f, 2, NULL, 0);
    r.nfields = 1;
    assert_int_equal(lbg_check(&p, &r, &rep), 1);
    assert_int_equal(rep.truncated, 1);
    assert_int_equal(rep.close, 1);

    /* exactly enough room: not truncated */
    lbg_report_init(&rep, f, 1, e, 1);
    assert_int_equal(lbg_check(&p, &r, &rep), 1);
    assert_int_equal(rep.truncated, 0);
    assert_int_equal(rep.close, 0);

    /* a compliant response needs no room */
    lbg_report_init(&rep, NULL, 0, NULL, 0);
    r.nfields = 0;
    assert_int_equal(lbg_check(&p, &r, &rep), 0);
    assert_int_equal(rep.truncated, 0);
    assert_int_equal(rep.close, 0);
}

static void
test_report_accumulates(void **state)
{
    lbg_field_t    a[] = {LBGT_F("Bad Name", "x")};
    lbg_field_t    b[] = {LBGT_F("X-A", "\x01")};
    lbg_finding_t  f[4];
    lbg_edit_t     e[4];
    lbg_report_t   rep;
    lbg_response_t r = lbgt_view(200, a, 1);
    lbg_policy_t   p;

    (void) state;
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    lbg_report_init(&rep, f, 4, e, 4);
    assert_int_equal(lbg_check(&p, &r, &rep), 1);
    r.fields = b;
    /* appends; returns the number appended by this call */
    assert_int_equal(lbg_check(&p, &r, &rep), 1);
    assert_int_equal(rep.nfindings, 2);
    assert_int_equal(f[0].rule, LBG_RULE_FIELD_NAME_INVALID);
    assert_int_equal(f[1].rule, LBG_RULE_FIELD_VALUE_CTL);
    assert_int_equal(rep.worst, LBG_TIER_AMBIGUOUS);
}

static void
test_synthesised_fields(void **state)
{
    /* nginx: the application's Content-Length plus the one the header
     * filter writes from content_length_n and "Transfer-Encoding: chunked"
     * from r->chunked -- all in the view */
    lbg_field_t    fields[] = {LBGT_F("Server", "nginx"),
                               LBGT_F("Content-Length", "12"),
                               LBGT_F("Transfer-Encoding", "chunked"),
                               LBGT_F("Connection", "keep-alive")};
    lbgt_report_t  t;
    lbg_response_t r = lbgt_view(200, fields, 4);

    (void) state;
    assert_int_equal(lbgt_check(NULL, &r, &t), 1);
    one(&t, LBG_RULE_TE_WITH_CONTENT_LENGTH, 1, NULL, 0);
    assert_true(lbgt_find_edit(&t.rep, LBG_EDIT_REMOVE, 1) >= 0);
    assert_int_equal(t.rep.close, 1);
}

static void
test_worst_and_order(void **state)
{
    /* findings come in wire order: status line, then field by field, then
     * message framing */
    lbg_field_t fields[] = {
        LBGT_F("X{", "1"), /* acceptable */
        LBGT_F("Content-Length", "5"), LBGT_F("X-A", "a\x01"), /* ambiguous */
        LBGT_F("Content-Length", "6"), /* severe (conflict) */
    };
    lbgt_report_t  t;
    lbg_response_t r = lbgt_view(200, fields, 4);
    lbg_rule_e     want[] = {LBG_RULE_REASON_PHRASE_INVALID,
                             LBG_RULE_FIELD_NAME_NOT_TOKEN,
                             LBG_RULE_FIELD_VALUE_CTL,
                             LBG_RULE_CONTENT_LENGTH_CONFLICT};

    (void) state;
    r.status_line = U("200 O\x01K");
    r.status_line_len = 7;
    assert_int_equal(lbgt_check(NULL, &r, &t), 4);
    lbgt_assert_rules("order", &t.rep, want, 4);
    assert_int_equal(t.rep.worst, LBG_TIER_SEVERE);
    assert_int_equal(t.rep.findings[1].field, 0);
    assert_int_equal(t.rep.findings[2].field, 2);
}

/* Where each finding points (at/at_len) and the numbers it carries
 * (n1/n2), for the log line. */
static void
test_locations(void **state)
{
    lbg_field_t fields[] = {
        LBGT_F("Bad Name", "x"),       /* 0 */
        LBGT_F("X-A", "ab\x01c\x02"),  /* 1: at the first CTL */
        LBGT_F("Content-Length", "5"), /* 2 */
        LBGT_F("Content-Length", "7"), /* 3: conflict 5 and 7 */
    };
    lbg_field_t          big[] = {LBGT_F("X-Big", "0123456789")};
    lbgt_report_t        t;
    lbg_response_t       r = lbgt_view(200, fields, 4);
    lbg_policy_t         p;
    const lbg_finding_t *f;

    (void) state;
    r.status_line = U("200 O\x01K");
    r.status_line_len = 7;
    assert_int_equal(lbgt_check(NULL, &r, &t), 4);
    f = &t.rep.findings[0];
    assert_int_equal(f->rule, LBG_RULE_REASON_PHRASE_INVALID);
    assert_ptr_equal(f->at, r.status_line);
    assert_int_equal(f->at_len, 7);
    assert_int_equal(f->n1, 200);
    f = &t.rep.findings[1];
    assert_int_equal(f->rule, LBG_RULE_FIELD_NAME_INVALID);
    assert_ptr_equal(f->at, fields[0].name);
    assert_int_equal(f->at_len, 8);
    f = &t.rep.findings[2];
    assert_int_equal(f->rule, LBG_RULE_FIELD_VALUE_CTL);
    assert_int_equal(f->field, 1);
    assert_ptr_equal(f->at, fields[1].value + 2);
    assert_int_equal(f->at_len, 1);
    assert_int_equal(f->n1, 2); /* offset in the value */
    f = &t.rep.findings[3];
    assert_int_equal(f->rule, LBG_RULE_CONTENT_LENGTH_CONFLICT);
    assert_int_equal(f->field, 3);
    assert_ptr_equal(f->at, fields[3].value);
    assert_int_equal(f->at_len, 1);
    assert_int_equal(f->n1, 5);
    assert_int_equal(f->n2, 7);

    /* budgets: the size and the budget */
    r = lbgt_view(200, big, 1);
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.max_field_bytes = 16;
    p.max_fields = 0;
    assert_int_equal(lbgt_check(&p, &r, &t), 1);
    f = &t.rep.findings[0];
    assert_int_equal(f->rule, LBG_RULE_FIELD_TOO_LARGE);
    assert_int_equal(f->field, 0);
    assert_int_equal(f->n1, 5 + 2 + 10 + 2);
    assert_int_equal(f->n2, 16);
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.max_fields = 0;
    p.max_header_bytes = 20;
    assert_int_equal(lbgt_check(&p, &r, &t), 1);
    f = &t.rep.findings[0];
    assert_int_equal(f->rule, LBG_RULE_HEADER_TOO_LARGE);
    /* "HTTP/1.1 200 OK\r\n" + "X-Big: 0123456789\r\n" + "\r\n" */
    assert_int_equal(f->n1, 17 + 19 + 2);
    assert_int_equal(f->n2, 20);
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.max_fields = 0;
    p.max_header_bytes = 38;
    assert_int_equal(lbgt_check(&p, &r, &t), 0);
}

/* More fields than the core classifies for framing (512): the framing is
 * not verified, so the connection must not be reused. */
static void
test_many_fields(void **state)
{
    static lbg_field_t fields[600];
    lbgt_report_t      t;
    lbg_response_t     r;
    lbg_policy_t       p;
    size_t             i;

    (void) state;
    for (i = 0; i < 600; i++) {
        fields[i] = (lbg_field_t) LBGT_F("X-F", "v");
    }
    fields[0] = (lbg_field_t) LBGT_F("Content-Length", "5");
    fields[599] = (lbg_field_t) LBGT_F("Content-Length", "6");
    r = lbgt_view(200, fields, 600);
    lbg_policy_init(&p, LBG_PROFILE_NGINX); /* no field-count budget */
    p.max_header_bytes = 0;
    lbgt_check(&p, &r, &t);
    assert_int_equal(t.rep.close, 1);
    assert_int_equal(t.rep.unrepairable, 1);
    /* 512 fields are classified: the conflict is found */
    fields[511] = fields[599];
    r.nfields = 512;
    lbgt_check(&p, &r, &t);
    assert_true(lbgt_find(&t.rep, LBG_RULE_CONTENT_LENGTH_CONFLICT) >= 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_fix),
        cmocka_unit_test(test_profile_table),
        cmocka_unit_test(test_policy_init),
        cmocka_unit_test(test_misc_tables),
        cmocka_unit_test(test_content_length_parse),
        cmocka_unit_test(test_compliant),
        cmocka_unit_test(test_status_code),
        cmocka_unit_test(test_reason_phrase),
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_field_values),
        cmocka_unit_test(test_trusted_fields),
        cmocka_unit_test(test_content_length_invalid),
        cmocka_unit_test(test_content_length_duplicate),
        cmocka_unit_test(test_content_length_conflict),
        cmocka_unit_test(test_te_with_cl),
        cmocka_unit_test(test_te_not_chunked),
        cmocka_unit_test(test_te_chunked_twice),
        cmocka_unit_test(test_framing_on_bodiless),
        cmocka_unit_test(test_switching),
        cmocka_unit_test(test_te_not_applied),
        cmocka_unit_test(test_budgets),
        cmocka_unit_test(test_budgets_defaults),
        cmocka_unit_test(test_budgets_one_lb),
        cmocka_unit_test(test_budgets_haproxy),
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_report_accumulates),
        cmocka_unit_test(test_synthesised_fields),
        cmocka_unit_test(test_worst_and_order),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_many_fields),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
