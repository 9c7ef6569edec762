/*
 * test_keepalive.c -- the keep-alive verdict, the load-balancer presets and
 * the body guard (lbg_body_init / lbg_body_feed / lbg_body_rule /
 * lbg_body_finding).
 */

#include "lbg_test_util.h"

static void
test_verdict(void **state)
{
    uint64_t req;

    (void) state;
    /* server == lb + margin is enough */
    req = 1;
    assert_int_equal(lbg_keepalive_verdict(65000, 60000, 5000, &req),
                     LBG_KA_OK);
    assert_int_equal(req, 65000);
    req = 1;
    assert_int_equal(lbg_keepalive_verdict(65001, 60000, 5000, &req),
                     LBG_KA_OK);
    assert_int_equal(req, 65000);
    /* one millisecond short */
    req = 1;
    assert_int_equal(lbg_keepalive_verdict(64999, 60000, 5000, &req),
                     LBG_KA_RAISE);
    assert_int_equal(req, 65000);
    /* the classic: nginx 75 s vs GCP 600 s; Apache 5 s vs ALB 60 s */
    assert_int_equal(lbg_keepalive_verdict(75000, 600000,
                                           LBG_KEEPALIVE_MARGIN_MS, &req),
                     LBG_KA_RAISE);
    assert_int_equal(req, 605000);
    assert_int_equal(lbg_keepalive_verdict(5000, 60000,
                                           LBG_KEEPALIVE_MARGIN_MS, &req),
                     LBG_KA_RAISE);
    assert_int_equal(req, 65000);
    /* margin 0: equal timeouts are OK */
    assert_int_equal(lbg_keepalive_verdict(60000, 60000, 0, &req), LBG_KA_OK);
    assert_int_equal(req, 60000);
    assert_int_equal(lbg_keepalive_verdict(59999, 60000, 0, &req),
                     LBG_KA_RAISE);

    /* keep-alive off */
    req = 1;
    assert_int_equal(lbg_keepalive_verdict(0, 60000, 5000, &req),
                     LBG_KA_DISABLED);
    assert_int_equal(req, 65000);
    /* no LB timeout configured */
    req = 1;
    assert_int_equal(lbg_keepalive_verdict(75000, 0, 5000, &req),
                     LBG_KA_UNKNOWN);
    assert_int_equal(req, 0);
    req = 1;
    assert_int_equal(lbg_keepalive_verdict(1, 0, 0, &req), LBG_KA_UNKNOWN);
    assert_int_equal(req, 0);
    /* neither configured: nothing to say (lb_idle_ms 0 wins) */
    req = 1;
    assert_int_equal(lbg_keepalive_verdict(0, 0, 5000, &req), LBG_KA_UNKNOWN);
    assert_int_equal(req, 0);

    /* required_ms may be NULL */
    assert_int_equal(lbg_keepalive_verdict(1000, 60000, 5000, NULL),
                     LBG_KA_RAISE);
    assert_int_equal(lbg_keepalive_verdict(0, 60000, 5000, NULL),
                     LBG_KA_DISABLED);
    assert_int_equal(lbg_keepalive_verdict(1000, 0, 5000, NULL),
                     LBG_KA_UNKNOWN);
    assert_int_equal(lbg_keepalive_verdict(70000, 60000, 5000, NULL),
                     LBG_KA_OK);
}

static void
test_verdict_saturation(void **state)
{
    uint64_t req;

    (void) state;
    /* lb + margin overflows: saturates at UINT64_MAX */
    assert_int_equal(lbg_keepalive_verdict(UINT64_MAX, UINT64_MAX - 10, 5000,
                                           &req),
                     LBG_KA_OK);
    assert_true(req == UINT64_MAX);
    assert_int_equal(lbg_keepalive_verdict(UINT64_MAX - 1, UINT64_MAX - 10,
                                           5000, &req),
                     LBG_KA_RAISE);
    assert_true(req == UINT64_MAX);
    assert_int_equal(lbg_keepalive_verdict(UINT64_MAX, UINT64_MAX, UINT64_MAX,
                                           &req),
                     LBG_KA_OK);
    assert_true(req == UINT64_MAX);
    /* exactly UINT64_MAX without overflow */
    assert_int_equal(lbg_keepalive_verdict(UINT64_MAX - 1, UINT64_MAX - 5, 5,
                                           &req),
                     LBG_KA_RAISE);
    assert_true(req == UINT64_MAX);
    /* a huge margin with a small LB timeout */
    assert_int_equal(lbg_keepalive_verdict(1000, 1, UINT64_MAX, &req),
                     LBG_KA_RAISE);
    assert_true(req == UINT64_MAX);
    /* large but no overflow */
    assert_int_equal(lbg_keepalive_verdict(UINT64_MAX, UINT64_MAX / 2,
                                           UINT64_MAX / 2, &req),
                     LBG_KA_OK);
    assert_true(req == UINT64_MAX - 1);
}

static void
test_presets(void **state)
{
    static const struct {
        const char *name;
        uint64_t    ms;
    } ok[] = {
        {"aws-alb", 60000}, {"aws-clb", 60000}, {"gcp", 600000},
        {"oci", 310000},    {"AWS-ALB", 60000}, {"Gcp", 600000},
        {"OCI", 310000},    {"Aws-Clb", 60000},
    };
    static const char *bad[] = {"aws",  "alb",  "aws-al", "aws-albx",
                                "gcpx", "gc",   "",       "aws_alb",
                                " oci", "oci ", "azure",  "60000"};
    uint64_t           ms;
    size_t             i;

    (void) state;
    for (i = 0; i < LBGT_NELTS(ok); i++) {
        ms = 1;
        assert_int_equal(lbg_lb_preset(ok[i].name, strlen(ok[i].name), &ms),
                         0);
        assert_true(ms == ok[i].ms);
    }
    for (i = 0; i < LBGT_NELTS(bad); i++) {
        if (lbg_lb_preset(bad[i], strlen(bad[i]), &ms) != -1) {
            fail_msg("lbg_lb_preset(\"%s\") accepted", bad[i]);
        }
    }
    /* len is honoured */
    assert_int_equal(lbg_lb_preset("gcp-extra", 3, &ms), 0);
    assert_true(ms == 600000);
    assert_int_equal(lbg_lb_preset("oci\0", 4, &ms), -1);
}

/* ---- body guard ------------------------------------------------------------- */

static void
test_body_exact(void **state)
{
    lbg_body_t b;

    (void) state;
    memset(&b, 0x5a, sizeof(b));
    lbg_body_init(&b, 5, 0);
    assert_true(b.declared == 5);
    assert_true(b.sent == 0);
    assert_int_equal(b.bodiless, 0);
    assert_int_equal(b.over, 0);
    assert_int_equal(lbg_body_rule(&b, 0), LBG_RULE_NONE);
    assert_int_equal(lbg_body_feed(&b, 5), 5);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_NONE);
    assert_int_equal(b.over, 0);
    assert_true(b.sent == 5);
    /* several feeds, including empty ones */
    lbg_body_init(&b, 5, 0);
    assert_int_equal(lbg_body_feed(&b, 0), 0);
    assert_int_equal(lbg_body_feed(&b, 2), 2);
    assert_int_equal(lbg_body_feed(&b, 3), 3);
    assert_int_equal(lbg_body_feed(&b, 0), 0);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_NONE);
    /* zero-length body */
    lbg_body_init(&b, 0, 0);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_NONE);
}

static void
test_body_shorter(void **state)
{
    lbg_body_t b;

    (void) state;
    lbg_body_init(&b, 10, 0);
    assert_int_equal(lbg_body_feed(&b, 4), 4);
    assert_int_equal(lbg_body_feed(&b, 5), 5);
    /* not at the end yet: nothing to say */
    assert_int_equal(lbg_body_rule(&b, 0), LBG_RULE_NONE);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_BODY_SHORTER);
    assert_int_equal(b.over, 0);
    lbg_body_init(&b, 10, 0);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_BODY_SHORTER);
}

static void
test_body_longer(void **state)
{
    lbg_body_t b;

    (void) state;
    /* in one feed */
    lbg_body_init(&b, 5, 0);
    assert_int_equal(lbg_body_feed(&b, 11), 5);
    assert_int_equal(b.over, 1);
    assert_int_equal(lbg_body_rule(&b, 0), LBG_RULE_BODY_LONGER);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_BODY_LONGER);
    /* in several: the excess starts in the middle of a feed */
    lbg_body_init(&b, 5, 0);
    assert_int_equal(lbg_body_feed(&b, 3), 3);
    assert_int_equal(b.over, 0);
    assert_int_equal(lbg_body_feed(&b, 3), 2);
    assert_int_equal(b.over, 1);
    assert_int_equal(lbg_body_feed(&b, 4), 0);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_BODY_LONGER);
    /* the excess starts exactly at a feed */
    lbg_body_init(&b, 5, 0);
    assert_int_equal(lbg_body_feed(&b, 5), 5);
    assert_int_equal(lbg_body_feed(&b, 1), 0);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_BODY_LONGER);
    /* Content-Length: 0 */
    lbg_body_init(&b, 0, 0);
    assert_int_equal(lbg_body_feed(&b, 1), 0);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_BODY_LONGER);
}

/* The body guard's finding and its log line: the count made at the first
 * byte past the declared length (the guard's report, at_end 0) is a lower
 * bound and says so; at the end it is the total. */
static void
test_body_finding(void **state)
{
    lbg_body_t    b;
    lbg_finding_t f;
    char          line[256];

    (void) state;
    lbg_body_init(&b, 5, 0);
    memset(&f, 0, sizeof(f));
    assert_int_equal(lbg_body_feed(&b, 5), 5);
    assert_int_equal(lbg_body_finding(&b, 1, &f), LBG_RULE_NONE);
    assert_int_equal(f.rule, LBG_RULE_NONE); /* untouched */
    /* 5 declared, 7 seen when the guard reports; 9 more come after */
    lbg_body_init(&b, 5, 0);
    assert_int_equal(lbg_body_feed(&b, 7), 5);
    memset(&f, 0x5a, sizeof(f));
    assert_int_equal(lbg_body_finding(&b, 0, &f), LBG_RULE_BODY_LONGER);
    assert_int_equal(f.field, LBG_NO_FIELD);
    assert_null(f.at);
    assert_int_equal(f.n1, 5);
    assert_int_equal(f.n2, 7);
    assert_int_equal(f.at_least, 1);
    assert_int_equal(f.after_repair, 0);
    lbg_finding_format(NULL, &f, 0, line, sizeof(line));
    assert_string_equal(line,
                        "body-longer-than-content-length: Content-Length 5, "
                        "body at least 7 bytes, not repaired (detect mode)");
    assert_int_equal(lbg_body_feed(&b, 9), 0);
    assert_int_equal(lbg_body_finding(&b, 1, &f), LBG_RULE_BODY_LONGER);
    assert_int_equal(f.n2, 16);
    assert_int_equal(f.at_least, 0);
    lbg_finding_format(NULL, &f, 1, line, sizeof(line));
    assert_string_equal(line,
                        "body-longer-than-content-length: Content-Length 5, "
                        "body 16 bytes, body cut to its declared length, "
                        "connection closed");
    /* shorter: only at the end, and exact */
    lbg_body_init(&b, 10, 0);
    assert_int_equal(lbg_body_feed(&b, 6), 6);
    assert_int_equal(lbg_body_finding(&b, 0, &f), LBG_RULE_NONE);
    assert_int_equal(lbg_body_finding(&b, 1, &f), LBG_RULE_BODY_SHORTER);
    assert_int_equal(f.at_least, 0);
    lbg_finding_format(NULL, &f, 0, line, sizeof(line));
    assert_string_equal(line,
                        "body-shorter-than-content-length: Content-Length "
                        "10, body 6 bytes before the end, not repaired "
                        "(detect mode)");
    /* a body on a bodiless response, seen at its first bytes */
    lbg_body_init(&b, -1, 1);
    assert_int_equal(lbg_body_feed(&b, 3), 0);
    assert_int_equal(lbg_body_finding(&b, 0, &f), LBG_RULE_BODY_ON_BODILESS);
    lbg_finding_format(NULL, &f, 0, line, sizeof(line));
    assert_string_equal(line,
                        "body-on-bodiless: at least 3 body bytes on a "
                        "response that has no body, not repaired (detect "
                        "mode)");
}

static void
test_body_bodiless(void **state)
{
    lbg_body_t b;

    (void) state;
    lbg_body_init(&b, -1, 1);
    assert_int_equal(b.bodiless, 1);
    assert_int_equal(lbg_body_feed(&b, 0), 0);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_NONE);
    assert_int_equal(lbg_body_feed(&b, 3), 0);
    assert_int_equal(b.over, 1);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_BODY_ON_BODILESS);
    /* HEAD with a Content-Length: the length describes the GET body */
    lbg_body_init(&b, 5, 1);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_NONE);
    assert_int_equal(lbg_body_feed(&b, 5), 0);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_BODY_ON_BODILESS);
}

static void
test_body_undeclared(void **state)
{
    lbg_body_t b;

    (void) state;
    lbg_body_init(&b, -1, 0);
    assert_int_equal(lbg_body_feed(&b, 1000), 1000);
    assert_int_equal(lbg_body_feed(&b, 1), 1);
    assert_int_equal(lbg_body_feed(&b, (size_t) 1 << 20), (size_t) 1 << 20);
    assert_int_equal(b.over, 0);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_NONE);
    lbg_body_init(&b, -1, 0);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_NONE);
    /* any negative declared length means "not declared" */
    lbg_body_init(&b, -7, 0);
    assert_true(b.declared == -1);
    assert_int_equal(lbg_body_feed(&b, 10), 10);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_NONE);
}

static void
test_body_saturation(void **state)
{
    lbg_body_t b;

    (void) state;
    /* sent saturates at INT64_MAX instead of overflowing (UBSan) */
    lbg_body_init(&b, 5, 0);
    assert_int_equal(lbg_body_feed(&b, SIZE_MAX), 5);
    assert_true(b.sent == INT64_MAX);
    assert_int_equal(lbg_body_feed(&b, SIZE_MAX), 0);
    assert_true(b.sent == INT64_MAX);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_BODY_LONGER);
    /* the largest declared length */
    lbg_body_init(&b, INT64_MAX, 0);
    assert_int_equal(lbg_body_feed(&b, (size_t) 1 << 40), (size_t) 1 << 40);
    assert_int_equal(lbg_body_rule(&b, 0), LBG_RULE_NONE);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_BODY_SHORTER);
    /* zero-initialised: declared 0, so any byte is too many */
    memset(&b, 0, sizeof(b));
    assert_int_equal(lbg_body_feed(&b, 1), 0);
    assert_int_equal(lbg_body_rule(&b, 1), LBG_RULE_BODY_LONGER);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_verdict_saturation),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_body_exact),
        cmocka_unit_test(test_body_shorter),
        cmocka_unit_test(test_body_longer),
        cmocka_unit_test(test_body_bodiless),
        cmocka_unit_test(test_body_finding),
        cmocka_unit_test(test_body_undeclared),
        cmocka_unit_test(test_body_saturation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
