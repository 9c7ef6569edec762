/*
 * test_repair.c -- repairs: lbg_sanitize's exact bytes; every repairable
 * defect on a view, repaired by applying the edits as an adapter would,
 * checks clean afterwards; lbg_repair_raw over the whole corpus (output
 * conformant, idempotent, equal to NNN-slug.repaired, never written past
 * out_cap).
 *
 * LBG_REGEN_REPAIRED=1 build/unit/test_repair rewrites the .repaired files
 * from the current core (review every change by eye before committing).
 */

#include "lbg_test_util.h"

#define U(s) ((const unsigned char *) (s))


/* ---- lbg_sanitize ------------------------------------------------------------- */

static void
test_sanitize(void **state)
{
    static const unsigned char in[] = "a\r\n b\x01\x7f\tc\x80\xff\0d\x1f~ ";
    static const unsigned char want[] = "a   b  \tc\x80\xff d ~ ";
    unsigned char              out[sizeof(in)];
    unsigned char              inplace[sizeof(in)];
    size_t                     n = sizeof(in) - 1;

    (void) state;
    memset(out, 'X', sizeof(out));
    assert_int_equal(lbg_sanitize(in, n, out), 6);
    assert_memory_equal(out, want, n);
    assert_int_equal(out[n], 'X'); /* nothing past len */

    /* in place */
    memcpy(inplace, in, sizeof(in));
    assert_int_equal(lbg_sanitize(inplace, n, inplace), 6);
    assert_memory_equal(inplace, want, n);

    /* clean input: unchanged, 0 replaced; empty input */
    assert_int_equal(lbg_sanitize(U("clean \tvalue\x80"), 13, out), 0);
    assert_memory_equal(out, "clean \tvalue\x80", 13);
    assert_int_equal(lbg_sanitize(U(""), 0, out), 0);

    /* every byte value */
    {
        unsigned char all[256], res[256];
        int           c;
        size_t        bad = 0;

        for (c = 0; c < 256; c++) {
            all[c] = (unsigned char) c;
            bad += (c < 0x20 && c != '\t') || c == 0x7f;
        }
        assert_int_equal(bad, 32);
        assert_int_equal(lbg_sanitize(all, 256, res), bad);
        for (c = 0; c < 256; c++) {
            int forbidden = (c < 0x20 && c != '\t') || c == 0x7f;
            assert_int_equal(res[c], forbidden ? ' ' : c);
        }
    }
}

/* ---- repairs on views ---------------------------------------------------------- */

typedef struct {
    const char        *what;
    int                status;
    const char        *status_line;
    size_t             status_line_len;
    int                head;
    const lbg_field_t *fields;
    size_t             nfields;
} view_case_t;

#define SL(s) s, sizeof(s) - 1
#define FS(a) a, LBGT_NELTS(a)

static const lbg_field_t f_name[] = {LBGT_F("Bad Name", "x"),
                                     LBGT_F("X@Y", "1"),
                                     LBGT_F("Content-Length", "0")};
static const lbg_field_t f_values[] = {LBGT_F("X-A", "a\r\nb"),
                                       LBGT_F("X-B", "a\0b"),
                                       LBGT_F("X-C", "\x01\x7f"),
                                       LBGT_F("X-D", "a\r\n b"),
                                       LBGT_F("X-E", "a\n\tb")};
static const lbg_field_t f_cl_bad[] = {LBGT_F("Content-Length", "+5")};
static const lbg_field_t f_cl_dup[] = {LBGT_F("Content-Length", "5"),
                                       LBGT_F("Content-Length", "5"),
                                       LBGT_F("Content-Length", "5")};
static const lbg_field_t f_cl_conflict[] = {LBGT_F("Content-Length", "5"),
                                            LBGT_F("Content-Length", "6")};
static const lbg_field_t f_te_cl[] = {LBGT_F("Transfer-Encoding", "chunked"),
                                      LBGT_F("Content-Length", "5")};
static const lbg_field_t f_te_twice[] = {
    LBGT_F("Transfer-Encoding", "chunked, chunked")};
static const lbg_field_t f_te_two[] = {LBGT_F("Transfer-Encoding", "chunked"),
                                       LBGT_F("Transfer-Encoding",
                                              "chunked")};
static const lbg_field_t f_bodiless[] = {LBGT_F("Transfer-Encoding",
                                                "chunked"),
                                         LBGT_F("Content-Length", "5")};
static const lbg_field_t f_mixed[] = {LBGT_F("{x}", "1"),
                                      LBGT_F("Content-Length", "5"),
                                      LBGT_F("X-A", "\0"),
                                      LBGT_F("Content-Length", "5"),
                                      LBGT_F("Transfer-Encoding", "chunked"),
                                      LBGT_F("Transfer-Encoding", "chunked")};

static const view_case_t view_cases[] = {
    {"status 600", 600, NULL, 0, 0, NULL, 0},
    {"status line 2000", 200, SL("2000 OK"), 0, NULL, 0},
    {"reason CTL", 200, SL("200 O\x01K"), 0, NULL, 0},
    {"names", 200, NULL, 0, 0, FS(f_name)},
    {"values", 200, NULL, 0, 0, FS(f_values)},
    {"CL invalid", 200, NULL, 0, 0, FS(f_cl_bad)},
    {"CL duplicate", 200, NULL, 0, 0, FS(f_cl_dup)},
    {"CL conflict", 200, NULL, 0, 0, FS(f_cl_conflict)},
    {"TE + CL", 200, NULL, 0, 0, FS(f_te_cl)},
    {"chunked, chunked", 200, NULL, 0, 0, FS(f_te_twice)},
    {"TE twice", 200, NULL, 0, 0, FS(f_te_two)},
    {"204 framing", 204, NULL, 0, 0, FS(f_bodiless)},
    {"101 framing", 101, NULL, 0, 0, FS(f_bodiless)},
    {"mixed", 200, SL("200 \x7f"), 0, FS(f_mixed)},
};

static void
test_view_repairs(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < LBGT_NELTS(view_cases); i++) {
        const view_case_t *vc = &view_cases[i];
        lbg_response_t     r;
        lbgt_report_t      t, t2;
        lbgt_applied_t     a;

        memset(&r, 0, sizeof(r));
        r.version = 11;
        r.status = vc->status;
        r.status_line = U(vc->status_line);
        r.status_line_len = vc->status_line_len;
        r.head = (unsigned) vc->head;
        r.fields = vc->fields;
        r.nfields = vc->nfields;

        print_message("# %s\n", vc->what);
        assert_true(lbgt_check(NULL, &r, &t) > 0);
        assert_int_equal(t.rep.truncated, 0);
        assert_true(t.rep.nedits > 0);
        lbgt_apply(&r, &t.rep, &a);

        /* the repaired response is clean: no findings, no edits */
        lbgt_check(NULL, &a.view, &t2);
        if (t2.rep.nfindings != 0) {
            lbgt_dump(vc->what, &t2.rep);
            fail_msg("%s: repaired view still has findings", vc->what);
        }
        assert_int_equal(t2.rep.nedits, 0);
        /* close is announced both ways */
        assert_int_equal(t.rep.close, a.close);
        assert_int_equal(t.rep.no_body, a.no_body);
        lbgt_applied_free(&a);
    }
}

/* Detect mode records the same edits (the caller just does not apply
 * them); the profile filter removes the edits of the rules it ignores. */
static void
test_edits_per_mode_and_profile(void **state)
{
    lbg_response_t r;
    lbgt_report_t  t, t2;
    lbg_policy_t   p;
    size_t         i;

    (void) state;
    memset(&r, 0, sizeof(r));
    r.version = 11;
    r.status = 200;
    r.fields = f_mixed;
    r.nfields = LBGT_NELTS(f_mixed);
    lbgt_check(NULL, &r, &t);
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.mode = LBG_MODE_DETECT;
    lbgt_check(&p, &r, &t2);
    assert_int_equal(t.rep.nedits, t2.rep.nedits);
    for (i = 0; i < t.rep.nedits; i++) {
        assert_int_equal(t.rep.edits[i].op, t2.rep.edits[i].op);
        assert_int_equal(t.rep.edits[i].field, t2.rep.edits[i].field);
    }

    /* HAProxy merges duplicate Content-Lengths and tolerates TE with CL
     * (not acted upon), but rejects chunked twice */
    lbg_policy_init(&p, LBG_PROFILE_HAPROXY);
    lbgt_check(&p, &r, &t2);
    for (i = 0; i < t2.rep.nfindings; i++) {
        assert_true(lbg_rule_in_profile(t2.rep.findings[i].rule,
                                        LBG_PROFILE_HAPROXY));
    }
    assert_true(lbgt_find(&t2.rep, LBG_RULE_CONTENT_LENGTH_DUPLICATE) < 0);
    assert_true(lbgt_find(&t2.rep, LBG_RULE_TE_WITH_CONTENT_LENGTH) < 0);
    assert_true(lbgt_find(&t2.rep, LBG_RULE_TE_CHUNKED_TWICE) >= 0);
}

/* ---- lbg_repair_raw over the corpus --------------------------------------------- */

/* Repairs c into a guard-page buffer of exactly `cap` bytes. Returns the
 * output length or (size_t) -1; *out gets a malloc'd copy. */
static size_t
repair_into(const lbgt_parse_t *t, size_t cap, unsigned char **out)
{
    unsigned char *g = lbgt_guard_alloc(cap);
    size_t         n;

    n = lbg_repair_raw(&t->raw, &t->r.rep, g, cap);
    if (out != NULL) {
        *out = NULL;
        if (n != (size_t) -1) {
            assert_true(n <= cap);
            *out = malloc(n + 1);
            assert_non_null(*out);
            memcpy(*out, g, n);
        }
    }
    lbgt_guard_free(g, cap);
    return n;
}

static void
write_repaired(const lbgt_case_t *c, const unsigned char *out, size_t n)
{
    char  path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.repaired", LBG_CASES_DIR, c->name);
    if (out == NULL) {
        unlink(path);
        return;
    }
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(out, 1, n, f), n);
    fclose(f);
}

/* 1 when every field line of a parsed response is written as the repair
 * writes it: name ": " value CRLF, with no other white space around the
 * value (a property of the bytes, not of the case's name). */
static int
canonical_lines(const lbg_response_t *v)
{
    const lbg_field_t *f;
    size_t             i;

    for (i = 0; i < v->nfields; i++) {
        f = &v->fields[i];
        if (f->value != f->name + f->name_len + 2
            || f->name[f->name_len] != ':' || f->name[f->name_len + 1] != ' '
            || f->value[f->value_len] != '\r')
        {
            return 0;
        }
    }
    return 1;
}

static void
test_repair_raw_corpus(void **state)
{
    static lbgt_parse_t t, t2;
    const char         *regen = getenv("LBG_REGEN_REPAIRED");
    size_t              i, bad = 0, nrepaired = 0;

    (void) state;
    for (i = 0; i < lbgt_ncases; i++) {
        const lbgt_case_t *c = &lbgt_cases[i];
        unsigned char     *out = NULL, *out2 = NULL;
        size_t             n, n2, cap = 2 * c->len + 256;
        unsigned char     *g = lbgt_guard_copy(c->raw, c->len);

        lbgt_parse(NULL, g, c->len, c->head, &t);
        if (t.rc != 0 || t.r.rep.unrepairable) {
            /* no repaired form is promised */
            if (c->repaired != NULL) {
                print_message("%s: unrepairable but has .repaired\n",
                              c->name);
                bad++;
            }
            if (t.rc == 0) {
                /* the output is still well-formed enough to re-parse */
                n = repair_into(&t, cap, &out);
                assert_true(n != (size_t) -1);
                lbgt_parse(NULL, out, n, c->head, &t2);
                assert_int_equal(t2.rc, 0);
                free(out);
            }
            if (regen) {
                write_repaired(c, NULL, 0);
            }
            lbgt_guard_free(g, c->len);
            continue;
        }
        nrepaired++;
        n = repair_into(&t, cap, &out);
        assert_true(n != (size_t) -1);
        if (regen) {
            write_repaired(c, out, n);
        }

        /* the output parses with zero findings */
        lbgt_parse(NULL, out, n, c->head, &t2);
        if (t2.rc != 0 || t2.r.rep.nfindings != 0) {
            print_message("%s: repaired output not clean\n", c->name);
            lbgt_dump(c->name, &t2.r.rep);
            bad++;
        } else {
            /* repairing it again changes nothing */
            n2 = repair_into(&t2, 2 * n + 256, &out2);
            if (n2 != n || memcmp(out, out2, n) != 0) {
                print_message("%s: repair not idempotent\n", c->name);
                bad++;
            }
            free(out2);
        }

        /* the reviewed expectation */
        if (!regen) {
            if (c->repaired == NULL) {
                print_message("%s: no .repaired file\n", c->name);
                bad++;
            } else if (c->repaired_len != n
                       || memcmp(c->repaired, out, n) != 0) {
                print_message("%s: output differs from .repaired\n", c->name);
                bad++;
            }
        }

        /* a compliant response comes out byte for byte as it went in
         * (CRLF line ends, no OWS changes needed) */
        if (t.r.rep.nfindings == 0 && c->nexpect == 0
            && canonical_lines(&t.raw.view)) {
            if (n != c->len || memcmp(out, c->raw, n) != 0) {
                print_message("%s: compliant response changed\n", c->name);
                bad++;
            }
        }

        /* out_cap one byte too small: (size_t) -1, nothing written past it */
        assert_true(repair_into(&t, n - 1, NULL) == (size_t) -1);
        assert_true(repair_into(&t, 0, NULL) == (size_t) -1);
        /* exactly enough */
        assert_int_equal(repair_into(&t, n, NULL), n);
        if (n < 600) {
            size_t cap2;
            for (cap2 = 1; cap2 < n; cap2 += 7) {
                assert_true(repair_into(&t, cap2, NULL) == (size_t) -1);
            }
        }
        free(out);
        lbgt_guard_free(g, c->len);
    }
    print_message("# %zu of %zu cases repairable\n", nrepaired, lbgt_ncases);
    if (bad) {
        fail_msg("%zu repair problem(s)", bad);
    }
}

/* The fuzz invariant over every prefix of every case. */
static void
test_repair_raw_prefixes(void **state)
{
    static lbgt_parse_t  t, t2;
    static unsigned char out[2 * 32768 + 256], out2[4 * 32768 + 1024];
    size_t               i, k;

    (void) state;
    for (i = 0; i < lbgt_ncases; i++) {
        const lbgt_case_t *c = &lbgt_cases[i];
        size_t             step = c->len > 2048 ? 97 : 1;

        assert_true(c->len <= 32768);
        for (k = 0; k <= c->len; k += (k < 512 ? 1 : step)) {
            size_t n, n2;

            if (lbgt_parse(NULL, c->raw, k, c->head, &t) != 0) {
                continue;
            }
            n = lbg_repair_raw(&t.raw, &t.r.rep, out, 2 * k + 256);
            if (n == (size_t) -1) {
                fail_msg("%s[0..%zu): 2 * len + 256 not enough", c->name, k);
            }
            if (t.r.rep.unrepairable) {
                continue;
            }
            lbgt_parse(NULL, out, n, c->head, &t2);
            if (t2.rc != 0 || t2.r.rep.nfindings != 0) {
                lbgt_dump("before", &t.r.rep);
                lbgt_dump("after", &t2.r.rep);
                fail_msg("%s[0..%zu): repaired output not clean", c->name, k);
            }
            n2 = lbg_repair_raw(&t2.raw, &t2.r.rep, out2, sizeof(out2));
            if (n2 != n || memcmp(out, out2, n) != 0) {
                fail_msg("%s[0..%zu): repair not idempotent", c->name, k);
            }
        }
    }
}

/* A header section within budget must stay within it once repaired: the
 * load balancer sees the repaired bytes. The repair adds "Connection:
 * close"; when that pushes the header section over the budget, lbg_parse
 * says so (HEADER_TOO_LARGE with after_repair, unrepairable) instead of
 * promising a clean repair. */
static void
test_repair_within_budget(void **state)
{
    static lbgt_parse_t  t;
    static unsigned char in[8192];
    size_t               n, pad, k;

    (void) state;
    /* 4096 bytes of header section exactly (the strictest budget), then a
     * body longer than its Content-Length: the repair cuts it and closes */
    n = (size_t) snprintf((char *) in, sizeof(in),
                          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Pad: ");
    pad = 4096 - n - 4;
    memset(in + n, 'p', pad);
    n += pad;
    memcpy(in + n, "\r\n\r\nhello world", 15);
    n += 15;
    lbgt_parse(NULL, in, n, 0, &t);
    assert_int_equal(t.raw.header_len, 4096);
    lbgt_assert_rules("4096", &t.r.rep,
                      (lbg_rule_e[]){LBG_RULE_BODY_LONGER,
                                     LBG_RULE_HEADER_TOO_LARGE},
                      2);
    k = t.r.rep.nfindings - 1;
    assert_true(t.r.rep.findings[k].after_repair);
    assert_int_equal(t.r.rep.findings[k].n1, 4096 + 19);
    assert_int_equal(t.r.rep.findings[k].n2, 4096);
    assert_true(t.r.rep.unrepairable);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_view_repairs),
        cmocka_unit_test(test_edits_per_mode_and_profile),
        cmocka_unit_test(test_repair_raw_corpus),
        cmocka_unit_test(test_repair_raw_prefixes),
        cmocka_unit_test(test_repair_within_budget),
    };

    return cmocka_run_group_tests(tests, lbgt_cases_setup,
                                  lbgt_cases_teardown);
}
