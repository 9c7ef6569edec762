/*
 * test_framing.c -- the core's one framing decision: lbg_check()'s framing
 * verdict in the report, lbg_body_verdict() (pass / cut / close) and the
 * incremental chunked decoder lbg_chunked_t (RFC 9112 7.1): every split
 * point of every chunked body of the corpus gives the result of the whole
 * body in one span, malformed sizes and lines are refused at the exact
 * byte, a chunk-size past 2^52 is refused, nothing is read past a span
 * (guard pages).
 */

#include "lbg_test_util.h"

#define U(s) ((const unsigned char *) (s))

/* ---- lbg_body_verdict ------------------------------------------------------ */

static void
test_body_verdict(void **state)
{
    static const struct {
        lbg_framing_e      framing;
        int64_t            declared, seen;
        int                at_end;
        lbg_body_verdict_e want;
    } t[] = {
        /* bodiless: any byte is cut (RFC 9112 6.3) */
        {LBG_FRAMING_NONE, -1, 0, 0, LBG_BODY_PASS},
        {LBG_FRAMING_NONE, -1, 0, 1, LBG_BODY_PASS},
        {LBG_FRAMING_NONE, -1, 1, 0, LBG_BODY_CUT},
        {LBG_FRAMING_NONE, 5, 1, 1, LBG_BODY_CUT},
        /* Content-Length: more is cut, fewer at the end closes */
        {LBG_FRAMING_LENGTH, 5, 0, 0, LBG_BODY_PASS},
        {LBG_FRAMING_LENGTH, 5, 4, 0, LBG_BODY_PASS},
        {LBG_FRAMING_LENGTH, 5, 4, 1, LBG_BODY_CLOSE},
        {LBG_FRAMING_LENGTH, 5, 5, 1, LBG_BODY_PASS},
        {LBG_FRAMING_LENGTH, 5, 6, 0, LBG_BODY_CUT},
        {LBG_FRAMING_LENGTH, 5, 6, 1, LBG_BODY_CUT},
        {LBG_FRAMING_LENGTH, 0, 0, 1, LBG_BODY_PASS},
        {LBG_FRAMING_LENGTH, 0, 1, 0, LBG_BODY_CUT},
        {LBG_FRAMING_LENGTH, INT64_MAX, INT64_MAX, 1, LBG_BODY_PASS},
        {LBG_FRAMING_LENGTH, INT64_MAX - 1, INT64_MAX, 0, LBG_BODY_CUT},
        /* no length: as CLOSE */
        {LBG_FRAMING_LENGTH, -1, 100, 1, LBG_BODY_PASS},
        /* chunked and close-delimited bodies pass here */
        {LBG_FRAMING_CHUNKED, -1, 100, 1, LBG_BODY_PASS},
        {LBG_FRAMING_CHUNKED, 5, 100, 1, LBG_BODY_PASS},
        {LBG_FRAMING_CLOSE, -1, 0, 1, LBG_BODY_PASS},
        {LBG_FRAMING_CLOSE, 5, 100, 1, LBG_BODY_PASS},
    };
    size_t i;

    (void) state;
    for (i = 0; i < LBGT_NELTS(t); i++) {
        if (lbg_body_verdict(t[i].framing, t[i].declared, t[i].seen,
                             t[i].at_end)
            != t[i].want)
        {
            fail_msg("row %zu: verdict %d, want %d", i,
                     (int) lbg_body_verdict(t[i].framing, t[i].declared,
                                            t[i].seen, t[i].at_end),
                     (int) t[i].want);
        }
    }
}

/* ---- lbg_check's framing verdict --------------------------------------------- */

static void
check_framing(const char *what, int status, int head, const lbg_field_t *f,
              size_t n, lbg_framing_e want, int64_t declared)
{
    lbgt_report_t  t;
    lbg_policy_t   p;
    lbg_response_t r = lbgt_view(status, f, n);
    int            prof, mode;

    r.head = head ? 1 : 0;
    /* the verdict does not depend on the profile, nor on the mode */
    for (prof = 0; prof < LBG_PROFILE_COUNT; prof++) {
        for (mode = LBG_MODE_OFF; mode <= LBG_MODE_REPAIR; mode++) {
            lbg_policy_init(&p,
                            (lbg_profile_e) lbg_profile_at((size_t) prof));
            p.mode = (lbg_mode_e) mode;
            lbgt_check(&p, &r, &t);
            if (t.rep.framing != want || t.rep.declared != declared) {
                fail_msg(
                    "%s (profile %d, mode %d): framing %d declared %lld, "
                    "want %d %lld",
                    what, prof, mode, (int) t.rep.framing,
                    (long long) t.rep.declared, (int) want,
                    (long long) declared);
            }
        }
    }
}

static void
test_check_framing(void **state)
{
    static const lbg_field_t none[] = {LBGT_F("X-A", "b")};
    static const lbg_field_t cl[] = {LBGT_F("Content-Length", "42")};
    static const lbg_field_t cl_bad[] = {LBGT_F("Content-Length", "4x")};
    static const lbg_field_t cl_list[] = {LBGT_F("Content-Length", "7, 7")};
    static const lbg_field_t cl_two[] = {LBGT_F("Content-Length", "7"),
                                         LBGT_F("content-length", "7")};
    static const lbg_field_t cl_conflict[] = {LBGT_F("Content-Length", "7"),
                                              LBGT_F("Content-Length", "8")};
    static const lbg_field_t te[] = {LBGT_F("Transfer-Encoding", "chunked")};
    static const lbg_field_t te_cl[] = {LBGT_F("Content-Length", "5"),
                                        LBGT_F("Transfer-Encoding",
                                               "chunked")};
    static const lbg_field_t te_gzip[] = {
        LBGT_F("Transfer-Encoding", "chunked, gzip")};
    static const lbg_field_t te_twice[] = {LBGT_F("Transfer-Encoding",
                                                  "chunked"),
                                           LBGT_F("Transfer-Encoding",
                                                  "chunked")};
    static const lbg_field_t te_empty[] = {
        LBGT_F("Transfer-Encoding", "chunked,")};
    lbg_field_t trusted = LBGT_F("Content-Length", "33");

    (void) state;
    check_framing("no framing field", 200, 0, none, 1, LBG_FRAMING_CLOSE, -1);
    check_framing("HEAD", 200, 1, cl, 1, LBG_FRAMING_NONE, -1);
    check_framing("204", 204, 0, te, 1, LBG_FRAMING_NONE, -1);
    check_framing("304", 304, 0, cl, 1, LBG_FRAMING_NONE, -1);
    check_framing("100", 100, 0, cl, 1, LBG_FRAMING_NONE, -1);
    check_framing("Content-Length", 200, 0, cl, 1, LBG_FRAMING_LENGTH, 42);
    check_framing("invalid Content-Length", 200, 0, cl_bad, 1,
                  LBG_FRAMING_CLOSE, -1);
    check_framing("Content-Length list", 200, 0, cl_list, 1,
                  LBG_FRAMING_LENGTH, 7);
    check_framing("two equal", 200, 0, cl_two, 2, LBG_FRAMING_LENGTH, 7);
    check_framing("conflict", 200, 0, cl_conflict, 2, LBG_FRAMING_CLOSE, -1);
    check_framing("chunked", 200, 0, te, 1, LBG_FRAMING_CHUNKED, -1);
    check_framing("chunked and Content-Length", 200, 0, te_cl, 2,
                  LBG_FRAMING_CHUNKED, -1);
    check_framing("chunked, gzip", 200, 0, te_gzip, 1, LBG_FRAMING_CLOSE, -1);
    check_framing("chunked twice", 200, 0, te_twice, 2, LBG_FRAMING_CHUNKED,
                  -1);
    check_framing("chunked,", 200, 0, te_empty, 1, LBG_FRAMING_CLOSE, -1);
    trusted.trusted = 1;
    check_framing("trusted", 200, 0, &trusted, 1, LBG_FRAMING_LENGTH, 33);
}

/* ---- lbg_chunked_t ------------------------------------------------------------ */

/* What a feed sequence ended with. */
typedef struct {
    int      rc;
    size_t   used, data;
    uint64_t error;
    int64_t  ws;
} feed_t;

/* Feeds b[0..len) cut at the offsets cuts[0..ncuts) (ascending), each
 * span from its own guard-page copy; once DONE or ERROR, feeds the rest
 * too (it must consume nothing). */
static feed_t
feed_split(const unsigned char *b, size_t len, const size_t *cuts,
           size_t ncuts)
{
    lbg_chunked_t  c;
    feed_t         r = {0, 0, 0, 0, 0};
    size_t         k, from = 0, to, used, data;
    unsigned char *g;
    int            rc;

    memset(&c, 0x5a, sizeof(c));
    lbg_chunked_init(&c);
    r.rc = LBG_CHUNKED_MORE;
    for (k = 0; k <= ncuts; k++) {
        to = k < ncuts ? cuts[k] : len;
        g = lbgt_guard_copy(b + from, to - from);
        used = data = 7777;
        rc = lbg_chunked_feed(&c, g, to - from, &used, &data);
        lbgt_guard_free(g, to - from);
        if (r.rc != LBG_CHUNKED_MORE) {
            assert_int_equal(rc, r.rc);
            assert_true(used == 0 && data == 0);
        } else {
            assert_true(used <= to - from && data <= used);
            if (rc == LBG_CHUNKED_MORE) {
                assert_true(used == to - from);
            }
            r.used += used;
            r.data += data;
            r.rc = rc;
        }
        from = to;
    }
    assert_true(c.offset == r.used && c.data == r.data);
    r.error = c.error;
    r.ws = c.ws;
    return r;
}

static void
assert_same(const char *what, size_t at, const feed_t *a, const feed_t *b)
{
    if (a->rc != b->rc || a->used != b->used || a->data != b->data
        || a->error != b->error || a->ws != b->ws)
    {
        fail_msg(
            "%s, split at %zu: rc %d used %zu data %zu error %llu ws %lld;"
            " in one span: rc %d used %zu data %zu error %llu ws %lld",
            what, at, a->rc, a->used, a->data, (unsigned long long) a->error,
            (long long) a->ws, b->rc, b->used, b->data,
            (unsigned long long) b->error, (long long) b->ws);
    }
}

/* Every corpus case with a chunked body (as lbg_parse frames it): the
 * decoder agrees with the parser (complete: body_framed bytes), and every
 * split into two spans, and every byte fed alone, give the same result as
 * the whole body in one span. */
static void
test_chunked_corpus(void **state)
{
    static lbgt_parse_t  t;
    const lbgt_case_t   *c;
    const unsigned char *b;
    feed_t               whole, part;
    size_t               i, k, n, nchunked = 0, *cuts;

    (void) state;
    for (i = 0; i < lbgt_ncases; i++) {
        c = &lbgt_cases[i];
        lbgt_parse(NULL, c->raw, c->len, c->head, &t);
        if (t.rc != 0 || t.raw.header_len == 0
            || t.raw.framing != LBG_FRAMING_CHUNKED)
        {
            continue;
        }
        nchunked++;
        b = t.raw.body;
        n = t.raw.body_len;
        whole = feed_split(b, n, NULL, 0);
        if (whole.rc == LBG_CHUNKED_DONE) {
            assert_true(whole.used == t.raw.body_framed);
            assert_true(lbgt_find(&t.r.rep, LBG_RULE_CHUNKED_INVALID) < 0);
        } else {
            assert_true(lbgt_find(&t.r.rep, LBG_RULE_CHUNKED_INVALID) >= 0);
        }
        for (k = 0; k <= n; k++) {
            part = feed_split(b, n, &k, 1);
            assert_same(c->name, k, &part, &whole);
        }
        cuts = malloc((n + 1) * sizeof(*cuts));
        assert_non_null(cuts);
        for (k = 0; k < n; k++) {
            cuts[k] = k + 1;
        }
        part = feed_split(b, n, cuts, n > 0 ? n - 1 : 0);
        free(cuts);
        assert_same(c->name, (size_t) -1, &part, &whole);
    }
    /* the corpus has chunked bodies, valid and not */
    assert_true(nchunked >= 5);
}

/* Stands for the input's length in ONE(). */
#define LEN ((size_t) -1)

/* One input in one span: the result, then the same split everywhere. */
static void
chunked_one(const char *what, const char *in, size_t len, int rc, size_t used,
            size_t data, uint64_t error, int64_t ws)
{
    feed_t got, part;
    size_t k;

    used = used == LEN ? len : used;
    error = error == (uint64_t) LEN ? len : error;
    got = feed_split(U(in), len, NULL, 0);
    if (got.rc != rc || got.used != used || got.data != data
        || got.error != error || got.ws != ws)
    {
        fail_msg("%s: rc %d used %zu data %zu error %llu ws %lld; want rc %d "
                 "used %zu data %zu error %llu ws %lld",
                 what, got.rc, got.used, got.data,
                 (unsigned long long) got.error, (long long) got.ws, rc, used,
                 data, (unsigned long long) error, (long long) ws);
    }
    for (k = 0; k <= len; k++) {
        part = feed_split(U(in), len, &k, 1);
        assert_same(what, k, &part, &got);
    }
}

#define ONE(what, in, rc, used, data, error, ws)                             \
    chunked_one(what, in, sizeof(in) - 1, rc, used, data, error, ws)

static void
test_chunked_valid(void **state)
{
    lbg_chunked_t c;
    size_t        used = 9, data = 9;

    (void) state;
    /* nothing yet */
    lbg_chunked_init(&c);
    assert_int_equal(lbg_chunked_feed(&c, U(""), 0, &used, &data),
                     LBG_CHUNKED_MORE);
    assert_true(used == 0 && data == 0 && c.ws == -1 && c.error == 0);
    assert_int_equal(lbg_chunked_feed(&c, U("0"), 1, NULL, NULL),
                     LBG_CHUNKED_MORE);

    ONE("last chunk only", "0\r\n\r\n", LBG_CHUNKED_DONE, 5, 0, 5, -1);
    ONE("one chunk", "5\r\nhello\r\n0\r\n\r\n", LBG_CHUNKED_DONE, 15, 5, 15,
        -1);
    ONE("two chunks, upper-case hex",
        "A\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n", LBG_CHUNKED_DONE, 26, 11,
        26, -1);
    ONE("leading zeros", "0005\r\nhello\r\n000\r\n\r\n", LBG_CHUNKED_DONE, 20,
        5, 20, -1);
    ONE("chunk-ext", "5;a=b;c=\"d\"\r\nhello\r\n0;x\r\n\r\n",
        LBG_CHUNKED_DONE, LEN, 5, LEN, -1);
    ONE("trailer section", "0\r\nX-T: 1\r\nY: \r\n\r\n", LBG_CHUNKED_DONE,
        LEN, 0, LEN, -1);
    ONE("a CR inside a trailer line", "0\r\n\rX\r\n\r\n", LBG_CHUNKED_DONE, 9,
        0, 9, -1);
    ONE("what follows is not the body's", "0\r\n\r\nHTTP/1.1 200 OK\r\n",
        LBG_CHUNKED_DONE, 5, 0, 5, -1);
    ONE("data with CR LF and NUL", "4\r\n\r\n\0\n\r\n0\r\n\r\n",
        LBG_CHUNKED_DONE, 14, 4, 14, -1);
    /* white space after the size: recorded (CHUNK_SIZE_WHITESPACE) */
    ONE("SP after the size", "5 \r\nhello\r\n0\t;e\r\n\r\n", LBG_CHUNKED_DONE,
        LEN, 5, LEN, 1);
    /* incomplete: more to come; where it is bad if it ends here */
    ONE("size only", "5", LBG_CHUNKED_MORE, 1, 0, 1, -1);
    ONE("CR of the size line", "5\r", LBG_CHUNKED_MORE, 2, 0, 1, -1);
    ONE("in the data", "5\r\nhel", LBG_CHUNKED_MORE, 6, 3, 6, -1);
    ONE("after the data", "5\r\nhello", LBG_CHUNKED_MORE, 8, 5, 8, -1);
    ONE("CR after the data", "5\r\nhello\r", LBG_CHUNKED_MORE, 9, 5, 8, -1);
    ONE("in the trailer", "0\r\nX: y\r", LBG_CHUNKED_MORE, 8, 0, 8, -1);
    ONE("last CR", "0\r\n\r", LBG_CHUNKED_MORE, 4, 0, 4, -1);
}

static void
test_chunked_malformed(void **state)
{
    (void) state;
    /* a bad byte: *used stops before it, c->error is its offset */
    ONE("no size", "\r\n", LBG_CHUNKED_ERROR, 0, 0, 0, -1);
    ONE("not hex", "g\r\n", LBG_CHUNKED_ERROR, 0, 0, 0, -1);
    ONE("sign", "+5\r\n", LBG_CHUNKED_ERROR, 0, 0, 0, -1);
    ONE("SP before the size", " 5\r\n", LBG_CHUNKED_ERROR, 0, 0, 0, -1);
    ONE("hex then a letter", "5g\r\n", LBG_CHUNKED_ERROR, 1, 0, 1, -1);
    ONE("bare LF after the size", "5\nhello\r\n", LBG_CHUNKED_ERROR, 1, 0, 1,
        -1);
    ONE("SP then a letter", "5 x\r\n", LBG_CHUNKED_ERROR, 2, 0, 2, 1);
    ONE("SP then LF", "5 \n", LBG_CHUNKED_ERROR, 2, 0, 2, 1);
    ONE("CR CR", "5\r\rhello", LBG_CHUNKED_ERROR, 2, 0, 1, -1);
    ONE("CTL in a chunk-ext", "5;a\x01\r\nhello\r\n0\r\n\r\n",
        LBG_CHUNKED_ERROR, 3, 0, 3, -1);
    ONE("bare LF ends a chunk-ext", "5;a\nhello", LBG_CHUNKED_ERROR, 3, 0, 3,
        -1);
    ONE("data longer than its size", "5\r\nhelloX\r\n", LBG_CHUNKED_ERROR, 8,
        5, 8, -1);
    ONE("data then LF", "5\r\nhello\n0\r\n\r\n", LBG_CHUNKED_ERROR, 8, 5, 8,
        -1);
    ONE("data then CR X", "5\r\nhello\rX", LBG_CHUNKED_ERROR, 9, 5, 8, -1);
    ONE("bare LF ends the body", "0\r\n\n", LBG_CHUNKED_ERROR, 3, 0, 3, -1);
    ONE("bare LF ends a trailer", "0\r\nX: y\n\r\n", LBG_CHUNKED_ERROR, 7, 0,
        7, -1);
    ONE("negative", "-1\r\n", LBG_CHUNKED_ERROR, 0, 0, 0, -1);
}

static void
test_chunked_overflow(void **state)
{
    (void) state;
    /* 2^52 and one more digit: still taken (the limit is checked before a
     * digit is added, as HAProxy does) */
    ONE("2^52", "10000000000000\r\nab", LBG_CHUNKED_MORE, 18, 2, 18, -1);
    ONE("2^56", "100000000000000\r\n", LBG_CHUNKED_MORE, 17, 0, 17, -1);
    /* a digit more than that: refused at that digit */
    ONE("past 2^52", "1000000000000000\r\n", LBG_CHUNKED_ERROR, 15, 0, 15,
        -1);
    ONE("16 f", "ffffffffffffffff\r\n", LBG_CHUNKED_ERROR, 14, 0, 14, -1);
    ONE("64 digits",
        "0000000000000000000000000000000000000000000000000000000000000001\r\n"
        "x\r\n0\r\n\r\n",
        LBG_CHUNKED_DONE, LEN, 1, LEN, -1);
}

/* A field name with white space before the colon (RFC 9112 5.1), as a host
 * that kept it hands it over (Apache's mod_proxy_http): Transfer-Encoding
 * so named means the host did not decode a chunked body, so the target's
 * own 502 (te-name-whitespace); any other name is removed
 * (field-name-invalid). At every position of 1 to 4 fields (the one-field
 * path, the pair loop's odd first field and both lanes of a pair), under
 * strictest and haproxy. */
static void
test_te_name_whitespace(void **state)
{
    static const struct {
        const char *name;
        size_t      len;
        lbg_rule_e  rule;
        int64_t     n1;
    } names[] = {
        {"Transfer-Encoding ", 18, LBG_RULE_TE_NAME_WHITESPACE, 1},
        {"transfer-encoding\t \t", 20, LBG_RULE_TE_NAME_WHITESPACE, 3},
        {"Content-Length ", 15, LBG_RULE_FIELD_NAME_INVALID, 0},
        {"X-A ", 4, LBG_RULE_FIELD_NAME_INVALID, 0},
        {" Transfer-Encoding", 18, LBG_RULE_FIELD_NAME_INVALID, 0},
        {"Transfer-Encodin ", 17, LBG_RULE_FIELD_NAME_INVALID, 0},
    };
    static const lbg_profile_e profiles[] = {LBG_PROFILE_STRICTEST,
                                             LBG_PROFILE_HAPROXY};
    lbg_field_t                f[4] = {LBGT_F("Content-Type", "text/plain"),
                                       LBGT_F("X-Request-Id", "0123456789abcdef"),
                                       LBGT_F("Cache-Control", "no-store"),
                                       LBGT_F("Vary", "Origin")};
    lbg_field_t                g[4];
    lbg_policy_t               p;
    lbg_response_t             r;
    lbgt_report_t              t;
    size_t                     i, n, at, k;
    char                       line[256];

    (void) state;
    for (k = 0; k < LBGT_NELTS(profiles); k++) {
        lbg_policy_init(&p, profiles[k]);
        for (i = 0; i < LBGT_NELTS(names); i++) {
            for (n = 1; n <= 4; n++) {
                for (at = 0; at < n; at++) {
                    memcpy(g, f, sizeof(g));
                    g[at].name = (const unsigned char *) names[i].name;
                    g[at].name_len = names[i].len;
                    g[at].value = (const unsigned char *) "chunked";
                    g[at].value_len = 7;
                    r = lbgt_view(200, g, n);
                    assert_int_equal(lbgt_check(&p, &r, &t), 1);
                    assert_int_equal(t.rep.findings[0].rule, names[i].rule);
                    assert_int_equal(t.rep.findings[0].field, at);
                    assert_int_equal(t.rep.findings[0].n1, names[i].n1);
                    if (names[i].rule == LBG_RULE_TE_NAME_WHITESPACE) {
                        assert_int_equal(t.rep.nedits, 2);
                        assert_int_equal(t.rep.edits[0].op,
                                         LBG_EDIT_BAD_GATEWAY);
                        assert_int_equal(t.rep.edits[1].op, LBG_EDIT_CLOSE);
                        assert_int_equal(lbg_report_bad_gateway(&t.rep), 1);
                        assert_int_equal(t.rep.close, 1);
                    } else {
                        assert_int_equal(t.rep.nedits, 1);
                        assert_int_equal(t.rep.edits[0].op, LBG_EDIT_REMOVE);
                        assert_int_equal(t.rep.edits[0].field, at);
                        assert_int_equal(lbg_report_bad_gateway(&t.rep), 0);
                    }
                }
            }
        }
    }

    /* the log line */
    memcpy(g, f, sizeof(g));
    g[1].name = (const unsigned char *) "Transfer-Encoding ";
    g[1].name_len = 18;
    r = lbgt_view(200, g, 2);
    assert_int_equal(lbgt_check(NULL, &r, &t), 1);
    (void) lbg_finding_format(&r, &t.rep.findings[0], 1, line, sizeof(line));
    assert_string_equal(line,
                        "te-name-whitespace: field name \"Transfer-Encoding "
                        "\": white space before the colon, so the body was "
                        "not decoded as its Transfer-Encoding said, replaced "
                        "by the target's own 502 Bad Gateway");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_verdict),
        cmocka_unit_test(test_check_framing),
        cmocka_unit_test(test_chunked_corpus),
        cmocka_unit_test(test_chunked_valid),
        cmocka_unit_test(test_chunked_malformed),
        cmocka_unit_test(test_chunked_overflow),
        cmocka_unit_test(test_te_name_whitespace),
    };

    return cmocka_run_group_tests(tests, lbgt_cases_setup,
                                  lbgt_cases_teardown);
}
