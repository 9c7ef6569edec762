/*
 * test_parse.c -- lbg_parse over the raw-response corpus tests/cases:
 * exact findings (.expect), exact views for several cases, header_len,
 * framing, body_expected, body_framed; profiles; every prefix of every case
 * parses without reading past its end (guard page).
 */

#include "lbg_test_util.h"

#define U(s) ((const unsigned char *) (s))


static const lbgt_case_t *
find_case(const char *slug)
{
    size_t i;

    for (i = 0; i < lbgt_ncases; i++) {
        if (strcmp(lbgt_cases[i].name + 4, slug) == 0) {
            return &lbgt_cases[i];
        }
    }
    fail_msg("no case %s", slug);
    return NULL;
}

/* Parses a case from a guard-page copy. Free g with lbgt_guard_free. */
static unsigned char *
parse_case(const lbgt_case_t *c, lbgt_parse_t *t)
{
    unsigned char *g = lbgt_guard_copy(c->raw, c->len);

    lbgt_parse(NULL, g, c->len, c->head, t);
    return g;
}

static void
assert_span(const unsigned char *p, size_t len, const char *want)
{
    if (len != strlen(want) || memcmp(p, want, len) != 0) {
        fail_msg("span \"%.*s\" != \"%s\"", (int) len, (const char *) p,
                 want);
    }
}

/* Every .http file of the corpus was loaded: none lost to a read error
 * or a bad .expect (the count of the directory, not a fixed floor). */
static void
test_corpus_size(void **state)
{
    DIR           *d;
    struct dirent *e;
    size_t         n = 0, len;

    (void) state;
    d = opendir(LBG_CASES_DIR);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".http") == 0) {
            n++;
        }
    }
    closedir(d);
    assert_true(n > 0);
    assert_int_equal(lbgt_ncases, n);
}

/* Every case: exactly the findings of its .expect, in order. */
static void
test_expect(void **state)
{
    static lbgt_parse_t t;
    size_t              i, bad = 0;

    (void) state;
    for (i = 0; i < lbgt_ncases; i++) {
        const lbgt_case_t *c = &lbgt_cases[i];
        unsigned char     *g = parse_case(c, &t);
        size_t             j;
        int                ok = t.r.rep.nfindings == c->nexpect;

        for (j = 0; ok && j < c->nexpect; j++) {
            ok = t.r.rep.findings[j].rule == c->expect[j];
        }
        if (!ok) {
            print_message("%s: expected", c->name);
            for (j = 0; j < c->nexpect; j++) {
                print_message(" %s", lbg_rule_name(c->expect[j]));
            }
            print_message("\n");
            lbgt_dump(c->name, &t.r.rep);
            bad++;
        }
        /* the report's bookkeeping */
        assert_int_equal(t.r.rep.truncated, 0);
        if (t.r.rep.nfindings == 0) {
            assert_int_equal(t.r.rep.worst, LBG_TIER_COMPLIANT);
            assert_int_equal(t.r.rep.nedits, 0);
            assert_int_equal(t.r.rep.close, 0);
            assert_int_equal(t.r.rep.unrepairable, 0);
        }
        for (j = 0; j < t.r.rep.nfindings; j++) {
            const lbg_finding_t *f = &t.r.rep.findings[j];
            assert_true(lbg_rule(f->rule)->tier <= t.r.rep.worst);
            /* `at` points inside the input */
            if (f->at != NULL) {
                assert_true(f->at >= g && f->at + f->at_len <= g + c->len);
            }
            if (f->field != LBG_NO_FIELD) {
                assert_true(f->field < t.raw.view.nfields);
            }
        }
        lbgt_guard_free(g, c->len);
    }
    if (bad) {
        fail_msg("%zu case(s) differ from their .expect", bad);
    }
}

/* Exact views of a few conformant cases. */
static void
test_view_content_length(void **state)
{
    static lbgt_parse_t t;
    const lbgt_case_t  *c = find_case("ok-content-length");
    unsigned char      *g = parse_case(c, &t);
    const lbg_raw_t    *raw = &t.raw;

    (void) state;
    assert_int_equal(t.rc, 0);
    assert_int_equal(raw->view.version, 11);
    assert_int_equal(raw->view.status, 200);
    assert_span(raw->view.status_line, raw->view.status_line_len, "200 OK");
    assert_ptr_equal(raw->view.status_line, g + 9);
    assert_int_equal(raw->view.head, 0);
    assert_ptr_equal(raw->view.fields, t.fields);
    assert_int_equal(raw->view.nfields, 2);
    assert_span(t.fields[0].name, t.fields[0].name_len, "Content-Type");
    assert_span(t.fields[0].value, t.fields[0].value_len, "text/plain");
    assert_span(t.fields[1].name, t.fields[1].name_len, "Content-Length");
    assert_span(t.fields[1].value, t.fields[1].value_len, "5");
    /* origin: the offset of the field line */
    assert_int_equal(t.fields[0].origin, 17);
    assert_int_equal(t.fields[1].origin, 17 + 26);
    assert_ptr_equal(t.fields[0].name, g + 17);
    assert_int_equal(raw->header_len, c->len - 5);
    assert_ptr_equal(raw->body, g + c->len - 5);
    assert_int_equal(raw->body_len, 5);
    assert_int_equal(raw->framing, LBG_FRAMING_LENGTH);
    assert_true(raw->body_expected == 5);
    assert_int_equal(raw->body_framed, 5);
    assert_int_equal(raw->bare_lf, 0);
    lbgt_guard_free(g, c->len);
}

static void
test_view_chunked(void **state)
{
    static lbgt_parse_t t;
    const lbgt_case_t  *c = find_case("ok-chunked-extension-trailer");
    unsigned char      *g = parse_case(c, &t);
    const lbg_raw_t    *raw = &t.raw;

    (void) state;
    assert_int_equal(t.rc, 0);
    assert_int_equal(raw->view.nfields, 3);
    assert_span(t.fields[1].value, t.fields[1].value_len, "chunked");
    assert_int_equal(raw->framing, LBG_FRAMING_CHUNKED);
    assert_true(raw->body_expected == -1);
    assert_int_equal(raw->header_len + raw->body_len, c->len);
    /* the whole body up to and including the trailer section */
    assert_int_equal(raw->body_framed, raw->body_len);
    lbgt_guard_free(g, c->len);

    /* bytes after the last chunk are not part of the message */
    {
        unsigned char buf[1024];
        size_t        n = c->len;

        memcpy(buf, c->raw, n);
        memcpy(buf + n, "HTTP/1.1 200 OK\r\n", 17);
        g = lbgt_guard_copy(buf, n + 17);
        lbgt_parse(NULL, g, n + 17, 0, &t);
        assert_int_equal(t.raw.body_len, c->len - t.raw.header_len + 17);
        assert_int_equal(t.raw.body_framed, c->len - t.raw.header_len);
        lbgt_guard_free(g, n + 17);
    }
}

static void
test_view_bodiless(void **state)
{
    static lbgt_parse_t t;
    const lbgt_case_t  *c;
    unsigned char      *g;

    (void) state;
    c = find_case("ok-204-no-content");
    g = parse_case(c, &t);
    assert_int_equal(t.raw.view.status, 204);
    assert_span(t.raw.view.status_line, t.raw.view.status_line_len,
                "204 No Content");
    assert_int_equal(t.raw.framing, LBG_FRAMING_NONE);
    assert_int_equal(t.raw.header_len, c->len);
    assert_int_equal(t.raw.body_len, 0);
    assert_int_equal(t.raw.body_framed, 0);
    assert_true(t.raw.body_expected == -1);
    lbgt_guard_free(g, c->len);

    c = find_case("ok-head-content-length");
    assert_int_equal(c->head, 1);
    g = parse_case(c, &t);
    assert_int_equal(t.raw.view.head, 1);
    assert_int_equal(t.raw.framing, LBG_FRAMING_NONE);
    assert_int_equal(t.raw.body_len, 0);
    lbgt_guard_free(g, c->len);

    c = find_case("ok-304-with-content-length");
    g = parse_case(c, &t);
    assert_int_equal(t.raw.view.status, 304);
    assert_int_equal(t.raw.framing, LBG_FRAMING_NONE);
    lbgt_guard_free(g, c->len);
}

static void
test_view_close_delimited(void **state)
{
    static lbgt_parse_t t;
    const lbgt_case_t  *c = find_case("ok-http10-close-delimited");
    unsigned char      *g = parse_case(c, &t);

    (void) state;
    assert_int_equal(t.raw.view.version, 10);
    assert_int_equal(t.raw.framing, LBG_FRAMING_CLOSE);
    assert_true(t.raw.body_expected == -1);
    assert_int_equal(t.raw.body_len, 32);
    assert_int_equal(t.raw.body_framed, 32);
    lbgt_guard_free(g, c->len);
}

static void
test_view_values(void **state)
{
    static lbgt_parse_t t;
    const lbgt_case_t  *c;
    unsigned char      *g;

    (void) state;
    c = find_case("ok-htab-and-ows");
    g = parse_case(c, &t);
    assert_int_equal(t.raw.view.nfields, 4);
    assert_span(t.fields[0].value, t.fields[0].value_len, "a\tb");
    /* OWS around the value is not part of it */
    assert_span(t.fields[1].value, t.fields[1].value_len, "spaced value");
    assert_span(t.fields[2].name, t.fields[2].name_len, "X-Empty");
    assert_int_equal(t.fields[2].value_len, 0);
    lbgt_guard_free(g, c->len);

    c = find_case("ok-obs-text-value");
    g = parse_case(c, &t);
    assert_span(t.fields[0].value, t.fields[0].value_len,
                "caf\xc3\xa9 \x80\xff");
    lbgt_guard_free(g, c->len);

    c = find_case("ok-no-reason-phrase");
    g = parse_case(c, &t);
    assert_int_equal(t.raw.view.status, 200);
    assert_span(t.raw.view.status_line, t.raw.view.status_line_len, "200 ");
    lbgt_guard_free(g, c->len);
}

static void
test_view_defects(void **state)
{
    static lbgt_parse_t t;
    const lbgt_case_t  *c;
    unsigned char      *g;
    size_t              i;

    (void) state;
    /* more bytes than Content-Length: only 5 belong to the message */
    c = find_case("body-longer");
    g = parse_case(c, &t);
    assert_int_equal(t.raw.framing, LBG_FRAMING_LENGTH);
    assert_int_equal(t.raw.body_len, 11);
    assert_int_equal(t.raw.body_framed, 5);
    assert_int_equal(t.r.rep.findings[0].n1, 5);
    assert_int_equal(t.r.rep.findings[0].n2, 11);
    lbgt_guard_free(g, c->len);

    c = find_case("body-shorter");
    g = parse_case(c, &t);
    assert_true(t.raw.body_expected == 10);
    assert_int_equal(t.raw.body_len, 5);
    assert_int_equal(t.raw.body_framed, 5);
    assert_int_equal(t.r.rep.unrepairable, 1);
    assert_int_equal(t.r.rep.close, 1);
    lbgt_guard_free(g, c->len);

    /* white space before the colon (RFC 9112 5.1): the field keeps its
     * name without it, field-name-invalid at the name and the white space
     * (n1: 2 bytes of it), no edit removes the field; the framing is the
     * TE + CL case, as the repaired response will be sent */
    c = find_case("te-space-before-colon-with-cl");
    g = parse_case(c, &t);
    assert_int_equal(t.raw.view.nfields, 2);
    assert_span(t.fields[0].name, t.fields[0].name_len, "Transfer-Encoding");
    assert_span(t.fields[0].value, t.fields[0].value_len, "chunked");
    assert_int_equal(t.raw.framing, LBG_FRAMING_CHUNKED);
    assert_int_equal(t.r.rep.nfindings, 2);
    assert_int_equal(t.r.rep.findings[0].rule, LBG_RULE_FIELD_NAME_INVALID);
    assert_int_equal(t.r.rep.findings[0].field, 0);
    assert_span(t.r.rep.findings[0].at, t.r.rep.findings[0].at_len,
                "Transfer-Encoding\t ");
    assert_int_equal(t.r.rep.findings[0].n1, 2);
    assert_int_equal(t.r.rep.findings[1].rule,
                     LBG_RULE_TE_WITH_CONTENT_LENGTH);
    assert_int_equal(t.r.rep.findings[1].field, 1);
    for (i = 0; i < t.r.rep.nedits; i++) {
        assert_false(t.r.rep.edits[i].op == LBG_EDIT_REMOVE
                     && t.r.rep.edits[i].field == 0);
    }
    lbgt_guard_free(g, c->len);

    /* a name that is no token without the white space either: the check
     * judges it with the white space (n1 0), and its repair removes it */
    c = find_case("name-space");
    g = parse_case(c, &t);
    assert_span(t.fields[0].name, t.fields[0].name_len, "Bad Name");
    assert_int_equal(t.r.rep.findings[0].n1, 0);
    lbgt_guard_free(g, c->len);

    /* every line ends in a bare LF: status, two fields, the empty line */
    c = find_case("bare-lf");
    g = parse_case(c, &t);
    assert_int_equal(t.raw.bare_lf, 4);
    assert_int_equal(t.raw.view.nfields, 2);
    assert_span(t.fields[1].value, t.fields[1].value_len, "5");
    assert_int_equal(t.raw.body_len, 5);
    lbgt_guard_free(g, c->len);

    /* obs-fold: the value spans the fold */
    c = find_case("obs-fold-crlf-sp");
    g = parse_case(c, &t);
    assert_int_equal(t.raw.view.nfields, 2);
    assert_span(t.fields[0].value, t.fields[0].value_len, "first\r\n second");
    lbgt_guard_free(g, c->len);

    /* no end of the header section */
    c = find_case("header-incomplete");
    g = parse_case(c, &t);
    assert_int_equal(t.raw.header_len, 0);
    assert_int_equal(t.r.rep.unrepairable, 1);
    lbgt_guard_free(g, c->len);

    c = find_case("no-status-line");
    g = parse_case(c, &t);
    assert_int_equal(t.rc, -1);
    lbgt_guard_free(g, c->len);

    c = find_case("version-http1-10");
    g = parse_case(c, &t);
    assert_int_equal(t.rc, 0);
    assert_int_equal(t.raw.view.version, 0);
    lbgt_guard_free(g, c->len);

    c = find_case("status-abc");
    g = parse_case(c, &t);
    assert_int_equal(t.raw.view.status, -1);
    lbgt_guard_free(g, c->len);
}

/* A status line cut before its line end (a capture, or a read that
 * stopped): header-section-incomplete alone, n1 the bytes read, no
 * status line (-1); nothing of the partial line is judged. Bytes that
 * cannot begin "HTTP/" are no response at all (version-invalid). */
static void
test_status_line_cut(void **state)
{
    static const char *cut[] = {
        "H",           "http/",         "HTTP/1.",        "HTTP/1.1",
        "HTTP/1.1 20", "HTTP/9.9 2000", "HTTP/1.1 200 OK"};
    static lbgt_parse_t t;
    unsigned char      *g;
    size_t              i, n;

    (void) state;
    for (i = 0; i < LBGT_NELTS(cut); i++) {
        n = strlen(cut[i]);
        g = lbgt_guard_copy(cut[i], n);
        assert_int_equal(lbgt_parse(NULL, g, n, 0, &t), -1);
        assert_int_equal(t.r.rep.nfindings, 1);
        assert_int_equal(t.r.rep.findings[0].rule,
                         LBG_RULE_HEADER_INCOMPLETE);
        assert_int_equal(t.r.rep.findings[0].n1, (int64_t) n);
        assert_int_equal(t.r.rep.unrepairable, 1);
        lbgt_guard_free(g, n);
    }
    g = lbgt_guard_copy("HTX", 3);
    assert_int_equal(lbgt_parse(NULL, g, 3, 0, &t), -1);
    assert_int_equal(t.r.rep.findings[0].rule, LBG_RULE_VERSION_INVALID);
    lbgt_guard_free(g, 3);
    /* with its line end, the line is judged */
    g = lbgt_guard_copy("HTTP/1.1 20\r\n", 13);
    assert_int_equal(lbgt_parse(NULL, g, 13, 0, &t), 0);
    assert_int_equal(t.r.rep.nfindings, 2);
    assert_int_equal(t.r.rep.findings[0].rule, LBG_RULE_HEADER_INCOMPLETE);
    assert_int_equal(t.r.rep.findings[1].rule, LBG_RULE_STATUS_CODE_INVALID);
    lbgt_guard_free(g, 13);
}

static void
test_empty_input(void **state)
{
    static lbgt_parse_t t;
    unsigned char      *g = lbgt_guard_copy("", 0);

    (void) state;
    assert_int_equal(lbgt_parse(NULL, g, 0, 0, &t), -1);
    assert_int_equal(t.r.rep.nfindings, 1);
    assert_true(t.r.rep.findings[0].rule == LBG_RULE_HEADER_INCOMPLETE
                || t.r.rep.findings[0].rule == LBG_RULE_VERSION_INVALID);
    lbgt_guard_free(g, 0);
}

/* fields[] smaller than the field lines: TOO_MANY_FIELDS, view truncated. */
static void
test_fields_cap(void **state)
{
    const lbgt_case_t *c = find_case("ok-htab-and-ows");
    lbg_field_t        fields[2];
    lbg_finding_t      f[LBG_FINDINGS_MAX];
    lbg_edit_t         e[LBG_EDITS_MAX];
    lbg_report_t       rep;
    lbg_raw_t          raw;
    lbg_policy_t       p;
    unsigned char     *g = lbgt_guard_copy(c->raw, c->len);

    (void) state;
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    lbg_report_init(&rep, f, LBG_FINDINGS_MAX, e, LBG_EDITS_MAX);
    assert_int_equal(lbg_parse(&p, g, c->len, 0, fields, 2, &raw, &rep), 0);
    assert_int_equal(raw.view.nfields, 2);
    assert_true(lbgt_find(&rep, LBG_RULE_TOO_MANY_FIELDS) >= 0);
    lbg_report_init(&rep, f, LBG_FINDINGS_MAX, e, LBG_EDITS_MAX);
    assert_int_equal(lbg_parse(&p, g, c->len, 0, NULL, 0, &raw, &rep), 0);
    assert_int_equal(raw.view.nfields, 0);
    assert_true(lbgt_find(&rep, LBG_RULE_TOO_MANY_FIELDS) >= 0);
    lbgt_guard_free(g, c->len);
}

/* Under each profile: the strictest findings filtered by the profile
 * (budget rules aside: the budgets differ per profile). */
static void
test_profiles(void **state)
{
    static lbgt_parse_t all, one;
    size_t              i;
    int                 p;

    (void) state;
    for (i = 0; i < lbgt_ncases; i++) {
        const lbgt_case_t *c = &lbgt_cases[i];

        lbgt_parse(NULL, c->raw, c->len, c->head, &all);
        for (p = 1; p < LBG_PROFILE_COUNT; p++) {
            lbg_policy_t pol;
            size_t       a, b = 0;

            lbg_policy_init(&pol, (lbg_profile_e) p);
            pol.max_fields = 100;
            pol.max_field_bytes = 4096;
            pol.max_header_bytes = 4096;
            lbgt_parse(&pol, c->raw, c->len, c->head, &one);
            for (a = 0; a < all.r.rep.nfindings; a++) {
                lbg_rule_e r = all.r.rep.findings[a].rule;
                if (!lbg_rule_in_profile(r, (lbg_profile_e) p)) {
                    continue;
                }
                if (b >= one.r.rep.nfindings
                    || one.r.rep.findings[b].rule != r) {
                    lbgt_dump(c->name, &all.r.rep);
                    lbgt_dump(lbg_profile_name((lbg_profile_e) p),
                              &one.r.rep);
                    fail_msg("%s: profile %s differs", c->name,
                             lbg_profile_name((lbg_profile_e) p));
                }
                b++;
            }
            assert_int_equal(b, one.r.rep.nfindings);
        }
        /* detect mode: the same findings */
        {
            lbg_policy_t pol;
            lbg_policy_init(&pol, LBG_PROFILE_STRICTEST);
            pol.mode = LBG_MODE_DETECT;
            lbgt_parse(&pol, c->raw, c->len, c->head, &one);
            assert_int_equal(one.r.rep.nfindings, all.r.rep.nfindings);
            pol.mode = LBG_MODE_OFF;
            lbgt_parse(&pol, c->raw, c->len, c->head, &one);
            assert_int_equal(one.r.rep.nfindings, 0);
        }
    }
}

/* Bugs the core once had, kept as regressions: each input must give the
 * verdict it once missed. */
static void
test_regressions(void **state)
{
    static lbgt_parse_t t;
    static const char   fold_ws[] =
        "HTTP/1.1 200 OK\r\nX-A: a\r\n \r\nContent-Length: 0\r\n\r\n";

    (void) state;
    /* an obs-fold whose continuation line is only whitespace is dropped
     * silently; nginx and llhttp reject the line (RFC 9112 5.2) */
    lbgt_parse(NULL, U(fold_ws), sizeof(fold_ws) - 1, 0, &t);
    assert_true(lbgt_find(&t.r.rep, LBG_RULE_OBS_FOLD) >= 0);

    /* the bytes after a 1xx are the next response (RFC 9110 15.2: a client
     * parses 1xx responses before the final one) or, after a 101, the new
     * protocol: not a body on a bodiless response */
    {
        static const char c100[] = "HTTP/1.1 100 Continue\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                   "\r\nok";
        static const char c101[] = "HTTP/1.1 101 Switching Protocols\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n\r\n\x81\x05hello";

        lbgt_parse(NULL, U(c100), sizeof(c100) - 1, 0, &t);
        assert_true(t.r.rep.nfindings == 0);
        lbgt_parse(NULL, U(c101), sizeof(c101) - 1, 0, &t);
        assert_true(t.r.rep.nfindings == 0);
    }

    /* a line that starts with whitespace after a line without a colon
     * continues no field: both lines are reported and removed, and A's
     * value stays "b" (the repair drops them; folding " c" into A would
     * keep the "removed" line's neighbour in A's value) */
    {
        static const char nocolon[] = "HTTP/1.1 200 OK\r\nA: b\r\n"
                                      "garbage\r\n c\r\nContent-Length: 0"
                                      "\r\n\r\n";

        lbgt_parse(NULL, U(nocolon), sizeof(nocolon) - 1, 0, &t);
        assert_int_equal(t.rc, 0);
        assert_int_equal(t.raw.view.nfields, 2);
        assert_int_equal(t.raw.view.fields[0].value_len, 1);
        assert_memory_equal(t.raw.view.fields[0].value, "b", 1);
        assert_int_equal(lbgt_count(&t.r.rep, LBG_RULE_FIELD_MISSING_COLON),
                         2);
        assert_true(lbgt_find(&t.r.rep, LBG_RULE_OBS_FOLD) < 0);
    }
}

/* Every prefix of every case, as a response to GET and to HEAD, with the
 * prefix's last byte right before a PROT_NONE page. */
static void
test_prefixes(void **state)
{
    static lbgt_parse_t t;
    size_t              i, k, step;

    (void) state;
    for (i = 0; i < lbgt_ncases; i++) {
        const lbgt_case_t *c = &lbgt_cases[i];
        unsigned char     *g = lbgt_guard_copy(c->raw, c->len);
        unsigned char     *end = g + c->len;

        step = c->len > 2048 ? 61 : 1;
        for (k = 0; k <= c->len; k += (k < 512 ? 1 : step)) {
            memcpy(end - k, c->raw, k);
            lbgt_parse(NULL, end - k, k, 0, &t);
            assert_true(t.rc == 0 || t.rc == -1);
            assert_true(t.r.rep.nfindings <= LBG_FINDINGS_MAX);
            if (k < c->len && t.rc == 0 && t.raw.header_len > 0) {
                assert_true(t.raw.header_len <= k);
                assert_int_equal(t.raw.header_len + t.raw.body_len, k);
                assert_true(t.raw.body_framed <= t.raw.body_len);
            }
            lbgt_parse(NULL, end - k, k, 1, &t);
        }
        lbgt_guard_free(g, c->len);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_size),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_view_content_length),
        cmocka_unit_test(test_view_chunked),
        cmocka_unit_test(test_view_bodiless),
        cmocka_unit_test(test_view_close_delimited),
        cmocka_unit_test(test_view_values),
        cmocka_unit_test(test_view_defects),
        cmocka_unit_test(test_empty_input),
        cmocka_unit_test(test_status_line_cut),
        cmocka_unit_test(test_fields_cap),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_regressions),
        cmocka_unit_test(test_prefixes),
    };

    return cmocka_run_group_tests(tests, lbgt_cases_setup,
                                  lbgt_cases_teardown);
}
