/*
 * test_format.c -- log lines (lbg_finding_format), the findings summary
 * (lbg_report_summary) and the escaping of untrusted bytes (lbg_escape).
 */

#include "lbg_test_util.h"

#define U(s) ((const unsigned char *) (s))


/* Asserts that s is printable ASCII only. */
static void
assert_printable(const char *s)
{
    for (; *s; s++) {
        assert_true(*s >= 0x20 && *s < 0x7f);
    }
}

/* ---- lbg_escape ------------------------------------------------------------- */

static void
test_escape(void **state)
{
    char   buf[128];
    size_t n;

    (void) state;
    n = lbg_escape(U("plain text ~!"), 13, 64, buf, sizeof(buf));
    assert_string_equal(buf, "plain text ~!");
    assert_int_equal(n, 13);

    /* CR, LF, NUL, quote, backslash, DEL, high bytes */
    n = lbg_escape(U("a\r\n\0\"\\\x7f\x80\xff"
                     "b"),
                   10, 64, buf, sizeof(buf));
    assert_string_equal(buf, "a\\x0d\\x0a\\x00\\x22\\x5c\\x7f\\x80\\xffb");
    assert_int_equal(n, strlen(buf));

    /* at most max_in input bytes, then "..." */
    n = lbg_escape(U("abcdefgh"), 8, 3, buf, sizeof(buf));
    assert_string_equal(buf, "abc...");
    assert_int_equal(n, 6);
    n = lbg_escape(U("abc"), 3, 3, buf, sizeof(buf));
    assert_string_equal(buf, "abc");
    n = lbg_escape(U("\x01\x02\x03\x04"), 4, 2, buf, sizeof(buf));
    assert_string_equal(buf, "\\x01\\x02...");

    /* empty input */
    buf[0] = 'X';
    n = lbg_escape(U(""), 0, 64, buf, sizeof(buf));
    assert_int_equal(n, 0);
    assert_string_equal(buf, "");
    n = lbg_escape(NULL, 0, 64, buf, sizeof(buf));
    assert_int_equal(n, 0);
}

static void
test_escape_small_buffers(void **state)
{
    char   buf[32];
    char   full[64];
    size_t n, size;

    (void) state;
    /* size 0: nothing written at all */
    memset(buf, 'X', sizeof(buf));
    n = lbg_escape(U("abc"), 3, 64, buf, 0);
    assert_int_equal(n, 0);
    assert_int_equal(buf[0], 'X');
    /* size 1: just the NUL */
    n = lbg_escape(U("abc"), 3, 64, buf, 1);
    assert_int_equal(n, 0);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'X');

    /* every size: NUL-terminated inside the buffer, return == strlen,
     * a prefix of the full output, never writes past size */
    lbg_escape(U("ab\x01"
                 "cd\"e"),
               7, 64, full, sizeof(full));
    assert_string_equal(full, "ab\\x01cd\\x22e");
    for (size = 1; size <= strlen(full) + 1; size++) {
        memset(buf, 'X', sizeof(buf));
        n = lbg_escape(U("ab\x01"
                         "cd\"e"),
                       7, 64, buf, size);
        assert_true(n < size);
        assert_int_equal(buf[n], '\0');
        assert_int_equal(strlen(buf), n);
        assert_int_equal(buf[size], 'X');
        assert_memory_equal(buf, full, n);
    }
}

/* ---- lbg_finding_format -------------------------------------------------------- */

/* Formats the only finding of r under the strictest profile. */
static size_t
fmt1(const lbg_response_t *r, int repaired, char *buf, size_t size,
     lbg_rule_e want)
{
    lbgt_report_t t;

    lbgt_check(NULL, r, &t);
    if (t.rep.nfindings != 1 || t.rep.findings[0].rule != want) {
        lbgt_dump("fmt1", &t.rep);
        fail_msg("want one %s", lbg_rule_name(want));
    }
    return lbg_finding_format(r, &t.rep.findings[0], repaired, buf, size);
}

/* Checks the shape "<rule-name>: <detail>, <outcome>". */
static void
assert_shape(const char *line, lbg_rule_e rule, int repaired)
{
    const char *name = lbg_rule_name(rule);
    const char *outcome = repaired ? lbg_rule(rule)->repair
                                   : "not repaired (detect mode)";
    size_t      ln = strlen(line), lo = strlen(outcome);

    print_message("# %s\n", line);
    assert_printable(line);
    assert_true(strncmp(line, name, strlen(name)) == 0);
    assert_true(strncmp(line + strlen(name), ": ", 2) == 0);
    assert_true(ln > lo + 2);
    assert_string_equal(line + ln - lo, outcome);
    assert_true(strncmp(line + ln - lo - 2, ", ", 2) == 0);
}

static void
test_format_shape(void **state)
{
    lbg_field_t    f1[] = {LBGT_F("X-Bad", "a\r\nb\"\\\x80")};
    lbg_field_t    f2[] = {LBGT_F("Content-Length", "5"),
                           LBGT_F("Content-Length", "6")};
    lbg_field_t    f3[] = {LBGT_F("Bad Name", "v")};
    lbg_response_t r;
    char           buf[512];
    size_t         n;

    (void) state;
    r = lbgt_view(200, f1, 1);
    n = fmt1(&r, 1, buf, sizeof(buf), LBG_RULE_FIELD_VALUE_CR_LF);
    assert_int_equal(n, strlen(buf));
    assert_shape(buf, LBG_RULE_FIELD_VALUE_CR_LF, 1);
    /* the field name and the escaped bytes are quoted */
    assert_non_null(strstr(buf, "X-Bad"));
    assert_non_null(strstr(buf, "\\x0d\\x0a"));
    assert_non_null(strstr(buf, "b\\x22\\x5c\\x80"));
    n = fmt1(&r, 0, buf, sizeof(buf), LBG_RULE_FIELD_VALUE_CR_LF);
    assert_shape(buf, LBG_RULE_FIELD_VALUE_CR_LF, 0);

    r = lbgt_view(200, f2, 2);
    fmt1(&r, 1, buf, sizeof(buf), LBG_RULE_CONTENT_LENGTH_CONFLICT);
    assert_shape(buf, LBG_RULE_CONTENT_LENGTH_CONFLICT, 1);
    assert_non_null(strstr(buf, "Content-Length"));

    r = lbgt_view(200, f3, 1);
    fmt1(&r, 1, buf, sizeof(buf), LBG_RULE_FIELD_NAME_INVALID);
    assert_shape(buf, LBG_RULE_FIELD_NAME_INVALID, 1);
    assert_non_null(strstr(buf, "Bad Name"));

    r = lbgt_view(2000, NULL, 0);
    fmt1(&r, 1, buf, sizeof(buf), LBG_RULE_STATUS_CODE_INVALID);
    assert_shape(buf, LBG_RULE_STATUS_CODE_INVALID, 1);
    assert_non_null(strstr(buf, "2000"));
}

/* Exact log lines, reviewed against lbg.h: "<rule-name>: <detail>,
 * <outcome>", untrusted bytes escaped. */
static void
test_format_exact(void **state)
{
    static const struct {
        int         status;
        const char *status_line;
        lbg_field_t f[2];
        size_t      nf;
        int         repaired;
        const char *want;
    } c[] = {
        {200,
         NULL,
         {LBGT_F("X-Bad", "a\r\nb\"\\\x80")},
         1,
         1,
         "field-value-cr-lf: field \"X-Bad\" value "
         "\"a\\x0d\\x0ab\\x22\\x5c\\x80\", "
         "CR and LF replaced with SP"},
        {200,
         NULL,
         {LBGT_F("X-Bad", "a\x01")},
         1,
         0,
         "field-value-ctl: field \"X-Bad\" value \"a\\x01\", "
         "not repaired (detect mode)"},
        {200,
         NULL,
         {LBGT_F("X-A", "a\r\n b")},
         1,
         1,
         "obs-fold: field \"X-A\" value \"a\\x0d\\x0a b\", "
         "unfolded with SP"},
        {2000,
         NULL,
         {LBGT_F("X", "1")},
         0,
         1,
         "status-code-invalid: status 2000, status set to 500"},
        {200,
         "2000 OK",
         {LBGT_F("X", "1")},
         0,
         1,
         "status-code-invalid: status line \"2000 OK\", status set to 500"},
        {200,
         "200 O\x01K",
         {LBGT_F("X", "1")},
         0,
         1,
         "reason-phrase-invalid: status line \"200 O\\x01K\", "
         "standard reason phrase used"},
        {200,
         NULL,
         {LBGT_F("Bad Name", "x")},
         1,
         1,
         "field-name-invalid: field name \"Bad Name\", field removed"},
        {200,
         NULL,
         {LBGT_F("X{", "x")},
         1,
         0,
         "field-name-not-token: field name \"X{\", "
         "not repaired (detect mode)"},
        {200,
         NULL,
         {LBGT_F("Content-Length", "5"), LBGT_F("Content-Length", "6")},
         2,
         1,
         "content-length-conflict: Content-Length 5 and 6, "
         "all Content-Length removed, connection closed"},
        {200,
         NULL,
         {LBGT_F("Content-Length", "+5")},
         1,
         1,
         "content-length-invalid: field \"Content-Length\" value \"+5\", "
         "Content-Length removed, connection closed"},
        {200,
         NULL,
         {LBGT_F("Transfer-Encoding", "gzip")},
         1,
         1,
         "te-not-chunked: field \"Transfer-Encoding\" value \"gzip\", "
         "none (connection closed)"},
        {204,
         NULL,
         {LBGT_F("Content-Length", "5")},
         1,
         1,
         "framing-on-bodiless-status: field \"Content-Length\" value \"5\" "
         "on status 204, Transfer-Encoding/Content-Length removed"},
    };
    char   buf[512];
    size_t i, n;

    (void) state;
    for (i = 0; i < LBGT_NELTS(c); i++) {
        lbg_response_t r = lbgt_view(c[i].status, c[i].f, c[i].nf);
        lbgt_report_t  t;

        if (c[i].status_line != NULL) {
            r.status_line = U(c[i].status_line);
            r.status_line_len = strlen(c[i].status_line);
        }
        lbgt_check(NULL, &r, &t);
        assert_true(t.rep.nfindings >= 1);
        n = lbg_finding_format(&r, &t.rep.findings[t.rep.nfindings - 1],
                               c[i].repaired, buf, sizeof(buf));
        assert_string_equal(buf, c[i].want);
        assert_int_equal(n, strlen(c[i].want));
    }
}

/* Exact log lines of raw-parser findings, from the corpus. */
static void
test_format_exact_raw(void **state)
{
    static const struct {
        const char *raw;
        size_t      len;
        const char *want;
    } c[] = {
#define RAW(s) s, sizeof(s) - 1
        {RAW("HTTP/1.1 200 OK\nContent-Length: 0\n\n"),
         "bare-lf: 3 lines end in LF without CR, line ends rewritten as "
         "CRLF"},
        {RAW("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n"),
         "bare-lf: 1 line ends in LF without CR, line ends rewritten as "
         "CRLF"},
        {RAW("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello world"),
         "body-longer-than-content-length: Content-Length 5, body 11 bytes, "
         "body cut to its declared length, connection closed"},
        {RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             "0\r\n\r\nEXTRA"),
         "body-longer-than-content-length: 5 bytes after the end of the "
         "chunked body, body cut to its declared length, connection closed"},
        {RAW("HTTP/1.1 204 No Content\r\n\r\nhello"),
         "body-on-bodiless: 5 body bytes on a response that has no body, "
         "body dropped, connection closed"},
        {RAW("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"),
         "field-missing-colon: line \"NoColon\", line removed"},
        {RAW("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"),
         "header-section-incomplete: no end of the header section in 36 "
         "bytes, none (report)"},
        /* RFC 9112 5.1: the white space goes, the field stays */
        {RAW("HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n"
             "0\r\n\r\n"),
         "field-name-invalid: field name \"Transfer-Encoding \", white "
         "space before the colon removed"},
        {RAW("HTTP/1.1 200 OK\r\nBad Name\t: x\r\nContent-Length: 0\r\n"
             "\r\n"),
         "field-name-invalid: field name \"Bad Name\\x09\", field removed"},
        {RAW("HTTP/2 200 OK\r\n\r\n"),
         "version-invalid: version \"HTTP/2\", status line rewritten as "
         "HTTP/1.1"},
#undef RAW
    };
    static lbgt_parse_t t;
    char                buf[512];
    size_t              i;

    (void) state;
    for (i = 0; i < LBGT_NELTS(c); i++) {
        lbgt_parse(NULL, U(c[i].raw), c[i].len, 0, &t);
        assert_int_equal(t.r.rep.nfindings, 1);
        lbg_finding_format(&t.raw.view, &t.r.rep.findings[0], 1, buf,
                           sizeof(buf));
        assert_string_equal(buf, c[i].want);
    }
}

static void
test_format_long_value(void **state)
{
    static char    longv[300];
    lbg_field_t    f[1];
    lbg_response_t r;
    char           buf[512];
    size_t         n;

    (void) state;
    memset(longv, 'v', sizeof(longv));
    longv[0] = '\x01';
    f[0].name = U("X-Long");
    f[0].name_len = 6;
    f[0].value = U(longv);
    f[0].value_len = sizeof(longv);
    r = lbgt_view(200, f, 1);
    n = fmt1(&r, 1, buf, sizeof(buf), LBG_RULE_FIELD_VALUE_CTL);
    assert_shape(buf, LBG_RULE_FIELD_VALUE_CTL, 1);
    /* the first 64 bytes of the value, then "..." */
    {
        char want[256];
        snprintf(want, sizeof(want),
                 "field-value-ctl: field \"X-Long\" value \"\\x01%.63s...\", "
                 "control characters replaced with SP",
                 longv + 1);
        assert_string_equal(buf, want);
        assert_int_equal(n, strlen(want));
    }
}

static void
test_format_small_buffers(void **state)
{
    lbg_field_t    f[] = {LBGT_F("X-Bad", "a\x01")};
    lbg_response_t r = lbgt_view(200, f, 1);
    lbgt_report_t  t;
    char           full[512], buf[512];
    size_t         n, size;

    (void) state;
    lbgt_check(NULL, &r, &t);
    assert_int_equal(t.rep.nfindings, 1);
    n = lbg_finding_format(&r, &t.rep.findings[0], 1, full, sizeof(full));
    assert_int_equal(n, strlen(full));
    memset(buf, 'X', sizeof(buf));
    assert_int_equal(lbg_finding_format(&r, &t.rep.findings[0], 1, buf, 0),
                     0);
    assert_int_equal(buf[0], 'X');
    for (size = 1; size <= n + 1; size++) {
        size_t m;
        memset(buf, 'X', sizeof(buf));
        m = lbg_finding_format(&r, &t.rep.findings[0], 1, buf, size);
        assert_true(m < size);
        assert_int_equal(strlen(buf), m);
        assert_int_equal(buf[size], 'X');
    }
}

/* ---- lbg_report_summary ------------------------------------------------------------ */

static void
test_summary(void **state)
{
    lbg_field_t    f[] = {LBGT_F("Bad Name", "x"), LBGT_F("X-A", "\x01")};
    lbg_field_t    te[] = {LBGT_F("Transfer-Encoding", "gzip")};
    lbg_response_t r = lbgt_view(200, f, 2);
    lbgt_report_t  t;
    char           buf[256];
    size_t         n;

    (void) state;
    /* no findings */
    r.nfields = 0;
    lbgt_check(NULL, &r, &t);
    n = lbg_report_summary(&t.rep, LBG_MODE_REPAIR, buf, sizeof(buf));
    assert_string_equal(buf, "-");
    assert_int_equal(n, 1);

    r.nfields = 2;
    lbgt_check(NULL, &r, &t);
    n = lbg_report_summary(&t.rep, LBG_MODE_REPAIR, buf, sizeof(buf));
    assert_string_equal(
        buf, "field-name-invalid:repaired,field-value-ctl:repaired");
    assert_int_equal(n, strlen(buf));
    lbg_report_summary(&t.rep, LBG_MODE_DETECT, buf, sizeof(buf));
    assert_string_equal(
        buf, "field-name-invalid:detected,field-value-ctl:detected");

    /* a rule without a repair is "reported" */
    r = lbgt_view(200, te, 1);
    lbgt_check(NULL, &r, &t);
    lbg_report_summary(&t.rep, LBG_MODE_REPAIR, buf, sizeof(buf));
    assert_string_equal(buf, "te-not-chunked:reported");
}

/* A budget finding says what became of the response: under strictest it
 * is left as it is ("reported"); under a profile naming one load balancer
 * the target's own 502 replaces it ("repaired", as the other rules whose
 * repair is that 502, with every finding of that response); the counters
 * say the same (lbg_report_outcome()), also from the findings alone. */
static void
test_summary_budget(void **state)
{
    lbg_field_t    f[] = {LBGT_F("X-A", "a"), LBGT_F("X-B", "b")};
    lbg_field_t    te[] = {LBGT_F("Transfer-Encoding", "gzip")};
    lbg_response_t r = lbgt_view(200, f, 2);
    lbg_policy_t   p;
    lbgt_report_t  t;
    char           buf[256];
    size_t         slots[8], n;
    lbg_report_t   copy;
    lbg_finding_t  kept[4];

    (void) state;
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.max_fields = 1;
    lbgt_check(&p, &r, &t);
    assert_false(lbg_report_bad_gateway(&t.rep));
    lbg_report_summary(&t.rep, LBG_MODE_REPAIR, buf, sizeof(buf));
    assert_string_equal(buf, "too-many-fields:reported");
    n = lbg_metrics_report_slots(&t.rep, LBG_MODE_REPAIR, slots, 8);
    assert_int_equal(n, 1);
    assert_int_equal(slots[0], LBG_METRICS_FINDING(LBG_RULE_TOO_MANY_FIELDS,
                                                   LBG_OUTCOME_REPORTED));

    lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
    p.max_fields = 1;
    lbgt_check(&p, &r, &t);
    assert_true(lbg_report_bad_gateway(&t.rep));
    lbg_report_summary(&t.rep, LBG_MODE_REPAIR, buf, sizeof(buf));
    assert_string_equal(buf, "too-many-fields:repaired");
    assert_int_equal(lbg_report_outcome(&t.rep, 0, LBG_MODE_REPAIR),
                     LBG_OUTCOME_REPAIRED);
    /* and the 502 closed the connection (LBG_FIX_LB_502) */
    n = lbg_metrics_report_slots(&t.rep, LBG_MODE_REPAIR, slots, 8);
    assert_int_equal(n, 2);
    assert_int_equal(slots[0], LBG_METRICS_FINDING(LBG_RULE_TOO_MANY_FIELDS,
                                                   LBG_OUTCOME_REPAIRED));
    assert_int_equal(slots[1], LBG_METRICS_CLOSED(LBG_RULE_TOO_MANY_FIELDS));
    /* detect mode, or a repair that failed: detected */
    lbg_report_summary(&t.rep, LBG_MODE_DETECT, buf, sizeof(buf));
    assert_string_equal(buf, "too-many-fields:detected");
    /* an adapter's copy of the findings alone (nginx keeps no edits for
     * $lbguard_findings) says the same */
    lbg_report_init(&copy, kept, 4, NULL, 0);
    kept[0] = t.rep.findings[0];
    copy.nfindings = 1;
    lbg_report_summary(&copy, LBG_MODE_REPAIR, buf, sizeof(buf));
    assert_string_equal(buf, "too-many-fields:repaired");

    /* the 502 replaces a response with a rule that has no repair, too */
    r = lbgt_view(200, te, 1);
    p.max_fields = 0;
    lbg_policy_header_budget(&p, 40); /* the section is 17 + 25 + 2 */
    lbgt_check(&p, &r, &t);
    lbg_report_summary(&t.rep, LBG_MODE_REPAIR, buf, sizeof(buf));
    assert_string_equal(buf, "header-section-too-large:repaired,"
                             "te-not-chunked:repaired");
}

static void
test_summary_truncation(void **state)
{
    lbg_field_t    f[] = {LBGT_F("Bad Name", "x"), LBGT_F("X-A", "\x01"),
                          LBGT_F("X-B", "\x02"), LBGT_F("X-C", "\x03")};
    lbg_response_t r = lbgt_view(200, f, 4);
    lbgt_report_t  t;
    char           full[512], buf[512];
    size_t         n, size;

    (void) state;
    lbgt_check(NULL, &r, &t);
    assert_int_equal(t.rep.nfindings, 4);
    n = lbg_report_summary(&t.rep, LBG_MODE_REPAIR, full, sizeof(full));
    assert_string_equal(full, "field-name-invalid:repaired,"
                              "field-value-ctl:repaired,"
                              "field-value-ctl:repaired,"
                              "field-value-ctl:repaired");
    assert_int_equal(n, strlen(full));

    memset(buf, 'X', sizeof(buf));
    assert_int_equal(lbg_report_summary(&t.rep, LBG_MODE_REPAIR, buf, 0), 0);
    assert_int_equal(buf[0], 'X');
    for (size = 1; size < n; size++) {
        size_t m;

        memset(buf, 'X', sizeof(buf));
        m = lbg_report_summary(&t.rep, LBG_MODE_REPAIR, buf, size);
        assert_true(m < size);
        assert_int_equal(strlen(buf), m);
        assert_int_equal(buf[size], 'X');
        /* truncated output ends with "..." once there is room for it
         * (and one more byte: the core cuts size 4 silently to "fie") */
        if (size > 4) {
            assert_true(m >= 3);
            assert_string_equal(buf + m - 3, "...");
            assert_memory_equal(buf, full, m - 3);
        }
    }
    /* exactly enough room: not truncated */
    lbg_report_summary(&t.rep, LBG_MODE_REPAIR, buf, n + 1);
    assert_true(strcmp(buf, full) == 0);
    lbg_report_summary(&t.rep, LBG_MODE_REPAIR, buf, n + 2);
    assert_string_equal(buf, full);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_escape_small_buffers),
        cmocka_unit_test(test_format_shape),
        cmocka_unit_test(test_format_exact),
        cmocka_unit_test(test_format_exact_raw),
        cmocka_unit_test(test_format_long_value),
        cmocka_unit_test(test_format_small_buffers),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_summary_budget),
        cmocka_unit_test(test_summary_truncation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
