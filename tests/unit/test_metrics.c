/*
 * test_metrics.c -- the metrics core (lbg_metrics.c): the counter layout
 * and its slot macros, outcomes against lbg_report_summary, the slots a
 * report adds to, and the Prometheus text exposition: golden bytes
 * (tests/unit/metrics.golden), every buffer size, a strict structural
 * check (one uninterrupted group per family, HELP then TYPE first, no
 * duplicate series, LF only) and label escaping.
 *
 * LBG_REGEN_GOLDEN=1 build/unit/test_metrics rewrites the golden file
 * (review the diff!).
 */

#include "lbg_test_util.h"

#include <stddef.h>

#define GOLDEN LBG_CASES_DIR "/../unit/metrics.golden"


static void
test_layout(void **state)
{
    unsigned r, k;

    (void) state;
    assert_int_equal(offsetof(lbg_metrics_t, responses) / 8,
                     LBG_METRICS_RESPONSES(LBG_MODE_DETECT));
    assert_int_equal(offsetof(lbg_metrics_t, responses[1]) / 8,
                     LBG_METRICS_RESPONSES(LBG_MODE_REPAIR));
    for (r = 0; r < LBG_RULE_END; r++) {
        for (k = 0; k < LBG_OUTCOMES; k++) {
            assert_int_equal(offsetof(lbg_metrics_t, findings[r][k]) / 8,
                             LBG_METRICS_FINDING(r, k));
        }
        assert_int_equal(offsetof(lbg_metrics_t, closed[r]) / 8,
                         LBG_METRICS_CLOSED(r));
    }
    assert_int_equal(offsetof(lbg_metrics_t, bodies_cut) / 8,
                     LBG_METRICS_BODIES_CUT);
    assert_int_equal(offsetof(lbg_metrics_t, body_cut_bytes) / 8,
                     LBG_METRICS_BODY_CUT_BYTES);
    assert_int_equal(LBG_METRICS_SLOTS, LBG_METRICS_BODY_CUT_BYTES + 1);
    assert_int_equal(sizeof(lbg_metrics_t) % 8, 0);
}


/* the outcome of every rule in every mode is the one $lbguard_findings
 * says: "<rule>:<outcome>" */
static void
test_outcome_matches_summary(void **state)
{
    lbg_finding_t f;
    lbg_report_t  rep;
    char          buf[128], want[128];
    unsigned      r, m;

    (void) state;
    for (r = 1; r < LBG_RULE_END; r++) {
        for (m = LBG_MODE_DETECT; m <= LBG_MODE_REPAIR; m++) {
            memset(&f, 0, sizeof(f));
            f.rule = (lbg_rule_e) r;
            f.field = LBG_NO_FIELD;
            lbg_report_init(&rep, &f, 1, NULL, 0);
            rep.nfindings = 1;
            (void) lbg_report_summary(&rep, (lbg_mode_e) m, buf, sizeof(buf));
            snprintf(want, sizeof(want), "%s:%s", lbg_rule_name(f.rule),
                     lbg_outcome_name(
                         lbg_finding_outcome(f.rule, (lbg_mode_e) m)));
            assert_string_equal(buf, want);
        }
    }
    assert_string_equal(lbg_outcome_name((lbg_outcome_e) 3), "unknown");
}


static void
test_closing_rules(void **state)
{
    static const lbg_rule_e closing[] = {
        LBG_RULE_CONTENT_LENGTH_INVALID, LBG_RULE_CONTENT_LENGTH_CONFLICT,
        LBG_RULE_TE_WITH_CONTENT_LENGTH, LBG_RULE_TE_NOT_CHUNKED,
        LBG_RULE_BODY_ON_BODILESS, LBG_RULE_BODY_LONGER,
        LBG_RULE_BODY_SHORTER, LBG_RULE_CHUNKED_INVALID,
        LBG_RULE_TE_CHUNKED_NOT_FINAL,
        /* the target's own 502 goes out with Connection: close */
        LBG_RULE_UPSTREAM_STATUS_LINE_INVALID,
        LBG_RULE_SWITCHING_WITHOUT_UPGRADE, LBG_RULE_INTERIM_AS_FINAL,
        LBG_RULE_TE_NOT_APPLIED, LBG_RULE_TE_NAME_WHITESPACE
        /* not the budgets (20-22): reported only under strictest, the
         * default; their 502 under a one-LB profile is counted by the
         * finding's bad_gateway bit (test_report_slots_budget) */
    };
    unsigned r, i, n = 0;
    int      want;

    (void) state;
    for (r = 0; r <= LBG_RULE_END; r++) {
        want = 0;
        for (i = 0; i < LBGT_NELTS(closing); i++) {
            want |= (closing[i] == (lbg_rule_e) r);
        }
        assert_int_equal(lbg_rule_closes((lbg_rule_e) r), want);
        n += (unsigned) want;
    }
    assert_int_equal(n, LBGT_NELTS(closing));
}


static void
test_report_slots(void **state)
{
    lbg_finding_t f[5];
    lbg_report_t  rep;
    size_t        slots[10], n;

    (void) state;
    memset(f, 0, sizeof(f));
    f[0].rule = LBG_RULE_CONTENT_LENGTH_INVALID;
    f[1].rule = LBG_RULE_FIELD_VALUE_CR_LF;
    f[2].rule = LBG_RULE_CONTENT_LENGTH_INVALID; /* twice: one close */
    f[3].rule = LBG_RULE_TE_NOT_CHUNKED;         /* no repair: reported */
    f[4].rule = (lbg_rule_e) LBG_RULE_END;       /* no rule: skipped */
    lbg_report_init(&rep, f, 5, NULL, 0);
    rep.nfindings = 5;

    n = lbg_metrics_report_slots(&rep, LBG_MODE_REPAIR, slots, 10);
    assert_int_equal(n, 6);
    assert_int_equal(slots[0], LBG_METRICS_FINDING(9, LBG_OUTCOME_REPAIRED));
    assert_int_equal(slots[1], LBG_METRICS_CLOSED(9));
    assert_int_equal(slots[2], LBG_METRICS_FINDING(6, LBG_OUTCOME_REPAIRED));
    assert_int_equal(slots[3], LBG_METRICS_FINDING(9, LBG_OUTCOME_REPAIRED));
    assert_int_equal(slots[4], LBG_METRICS_FINDING(13, LBG_OUTCOME_REPORTED));
    assert_int_equal(slots[5], LBG_METRICS_CLOSED(13));

    /* detect: findings only, nothing closed */
    n = lbg_metrics_report_slots(&rep, LBG_MODE_DETECT, slots, 10);
    assert_int_equal(n, 4);
    assert_int_equal(slots[0], LBG_METRICS_FINDING(9, LBG_OUTCOME_DETECTED));
    assert_int_equal(slots[3], LBG_METRICS_FINDING(13, LBG_OUTCOME_DETECTED));

    /* the cap holds */
    n = lbg_metrics_report_slots(&rep, LBG_MODE_REPAIR, slots, 3);
    assert_int_equal(n, 3);
    assert_int_equal(slots[2], LBG_METRICS_FINDING(6, LBG_OUTCOME_REPAIRED));
}


/* A budget rule closes when its repair was the target's own 502 (the
 * finding's bad_gateway bit: a profile naming one load balancer), not
 * when it was only reported (strictest); one close per rule. */
static void
test_report_slots_budget(void **state)
{
    lbg_finding_t f[3];
    lbg_report_t  rep;
    size_t        slots[10], n;

    (void) state;
    memset(f, 0, sizeof(f));
    f[0].rule = LBG_RULE_FIELD_VALUE_CTL;
    f[1].rule = LBG_RULE_HEADER_TOO_LARGE;
    f[2].rule = LBG_RULE_TOO_MANY_FIELDS;
    lbg_report_init(&rep, f, 3, NULL, 0);
    rep.nfindings = 3;

    /* strictest: reported, the connection kept */
    n = lbg_metrics_report_slots(&rep, LBG_MODE_REPAIR, slots, 10);
    assert_int_equal(n, 3);
    assert_int_equal(slots[1], LBG_METRICS_FINDING(22, LBG_OUTCOME_REPORTED));
    assert_int_equal(slots[2], LBG_METRICS_FINDING(20, LBG_OUTCOME_REPORTED));

    /* a one-LB profile: the target's 502 replaced the response */
    f[1].bad_gateway = 1;
    f[2].bad_gateway = 1;
    n = lbg_metrics_report_slots(&rep, LBG_MODE_REPAIR, slots, 10);
    assert_int_equal(n, 5);
    assert_int_equal(slots[0], LBG_METRICS_FINDING(7, LBG_OUTCOME_REPAIRED));
    assert_int_equal(slots[1], LBG_METRICS_FINDING(22, LBG_OUTCOME_REPAIRED));
    assert_int_equal(slots[2], LBG_METRICS_CLOSED(22));
    assert_int_equal(slots[3], LBG_METRICS_FINDING(20, LBG_OUTCOME_REPAIRED));
    assert_int_equal(slots[4], LBG_METRICS_CLOSED(20));

    /* detect: nothing closed */
    n = lbg_metrics_report_slots(&rep, LBG_MODE_DETECT, slots, 10);
    assert_int_equal(n, 3);
    assert_int_equal(slots[1], LBG_METRICS_FINDING(22, LBG_OUTCOME_DETECTED));
}


static void
test_ka_metric(void **state)
{
    (void) state;
    assert_int_equal(lbg_ka_metric(LBG_KA_RAISE, LBG_MODE_REPAIR),
                     LBG_KA_METRIC_RAISED);
    assert_int_equal(lbg_ka_metric(LBG_KA_RAISE, LBG_MODE_DETECT),
                     LBG_KA_METRIC_NOT_RAISED);
    assert_int_equal(lbg_ka_metric(LBG_KA_OK, LBG_MODE_DETECT),
                     LBG_KA_METRIC_OK);
    assert_int_equal(lbg_ka_metric(LBG_KA_DISABLED, LBG_MODE_REPAIR),
                     LBG_KA_METRIC_DISABLED);
    assert_int_equal(lbg_ka_metric(LBG_KA_UNKNOWN, LBG_MODE_REPAIR),
                     LBG_KA_METRIC_UNCHECKED);
    assert_string_equal(lbg_ka_verdict_name(LBG_KA_METRIC_NOT_RAISED),
                        "not-raised");
}


static void
test_zone_names(void **state)
{
    char long_name[LBG_METRICS_NAME_MAX + 1];

    (void) state;
    assert_true(lbg_metrics_zone_name_valid("default", 7));
    assert_true(lbg_metrics_zone_name_valid("api.example-1:x_y", 17));
    assert_false(lbg_metrics_zone_name_valid("", 0));
    assert_false(lbg_metrics_zone_name_valid("a b", 3));
    assert_false(lbg_metrics_zone_name_valid("a\"b", 3));
    assert_false(lbg_metrics_zone_name_valid("\xc3\xa9", 2));
    memset(long_name, 'a', sizeof(long_name));
    assert_true(lbg_metrics_zone_name_valid(long_name, LBG_METRICS_NAME_MAX));
    assert_false(lbg_metrics_zone_name_valid(long_name, sizeof(long_name)));
}


/* ---- the exposition --------------------------------------------------- */

static lbg_metrics_t      m_a, m_b;
static lbg_metrics_zone_t zones[2];
static lbg_metrics_view_t view;
static uint64_t           drain[LBG_DRAIN_OUTCOMES];

static void
make_view(void)
{
    memset(&m_a, 0, sizeof(m_a));
    memset(&m_b, 0, sizeof(m_b));
    m_a.responses[0] = 3;
    m_a.responses[1] = 18446744073709551615ull;
    m_a.findings[LBG_RULE_OBS_FOLD][LBG_OUTCOME_REPAIRED] = 12;
    m_a.findings[LBG_RULE_TE_NOT_CHUNKED][LBG_OUTCOME_REPORTED] = 3;
    m_a.findings[LBG_RULE_FIELD_VALUE_CTL][LBG_OUTCOME_DETECTED] = 7;
    m_a.closed[LBG_RULE_TE_NOT_CHUNKED] = 3;
    m_a.closed[LBG_RULE_BODY_LONGER] = 2;
    m_a.bodies_cut = 2;
    m_a.body_cut_bytes = 4096;
    m_b.responses[1] = 1;

    zones[0].name = "default";
    zones[0].name_len = 7;
    zones[0].counters = &m_a;
    zones[0].keepalive[LBG_KA_METRIC_RAISED] = 2;
    zones[0].keepalive[LBG_KA_METRIC_OK] = 1;
    /* not a valid configuration name: the formatter escapes anyway */
    zones[1].name = "q\"b\\s\nx\xff\x01";
    zones[1].name_len = 9;
    zones[1].counters = &m_b;
    zones[1].keepalive[LBG_KA_METRIC_NOT_RAISED] = 1;

    view.server_software = "nginx/1.22.1";
    view.start_time = 1796601600;
    view.zones = zones;
    view.nzones = 2;
    memset(drain, 0, sizeof(drain));
    drain[LBG_DRAIN_REQUEST] = 4;
    drain[LBG_DRAIN_IDLE_LIMIT] = 1;
    drain[LBG_DRAIN_MPM_BUSY] = 2;
    view.drain = drain;
}


static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long  n;

    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t) n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t) n;
    return buf;
}


static void
test_golden(void **state)
{
    char  *out, *golden;
    size_t n, glen;
    FILE  *f;

    (void) state;
    make_view();
    n = lbg_metrics_format(&view, NULL, 0);
    out = malloc(n + 1);
    assert_non_null(out);
    assert_int_equal(lbg_metrics_format(&view, out, n), n);
    out[n] = '\0';

    if (getenv("LBG_REGEN_GOLDEN") != NULL) {
        f = fopen(GOLDEN, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(out, 1, n, f), n);
        fclose(f);
    }
    golden = read_file(GOLDEN, &glen);
    assert_non_null(golden);
    assert_int_equal(n, glen);
    assert_memory_equal(out, golden, n);
    free(golden);
    free(out);
}


/* every buffer size: nothing written past it, the same prefix */
static void
test_buffer_sizes(void **state)
{
    char  *full, *buf;
    size_t n, size;

    (void) state;
    make_view();
    n = lbg_metrics_format(&view, NULL, 0);
    full = malloc(n);
    assert_non_null(full);
    (void) lbg_metrics_format(&view, full, n);
    for (size = 0; size <= n; size += (size < 300 ? 1 : 97)) {
        buf = (char *) lbgt_guard_alloc(size);
        assert_int_equal(lbg_metrics_format(&view, size ? buf : NULL, size),
                         n);
        assert_memory_equal(buf, full, size);
        lbgt_guard_free((unsigned char *) buf, size);
    }
    free(full);
}


/* a strict reading of the text format 0.0.4 rules promtool 2.42 does not
 * enforce: families uninterrupted, HELP then TYPE before the samples,
 * unique series, LF line ends, no \r, ends with LF */
static void
test_structure(void **state)
{
    char    *out, *line, *next, *sp, *br;
    char     fam[64][64], cur[64], name[64];
    char   **series;
    size_t   n, nfam = 0, nseries = 0, i, expect = 0;
    unsigned rule;
    int      state_ = 0; /* 0 want HELP, 1 want TYPE, 2 samples */

    (void) state;
    make_view();
    n = lbg_metrics_format(&view, NULL, 0);
    out = malloc(n + 1);
    assert_non_null(out);
    (void) lbg_metrics_format(&view, out, n);
    out[n] = '\0';
    assert_true(n > 0 && out[n - 1] == '\n');
    assert_null(memchr(out, '\r', n));
    series = calloc(2000, sizeof(char *));
    assert_non_null(series);
    cur[0] = '\0';

    for (line = out; *line != '\0'; line = next + 1) {
        next = strchr(line, '\n');
        assert_non_null(next);
        *next = '\0';
        if (strncmp(line, "# HELP ", 7) == 0) {
            sp = strchr(line + 7, ' ');
            assert_non_null(sp);
            snprintf(name, sizeof(name), "%.*s", (int) (sp - line - 7),
                     line + 7);
            for (i = 0; i < nfam; i++) {
                assert_string_not_equal(fam[i], name); /* one group each */
            }
            assert_true(state_ == 0 || state_ == 2);
            snprintf(fam[nfam++], 64, "%s", name);
            snprintf(cur, sizeof(cur), "%s", name);
            state_ = 1;
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            assert_int_equal(state_, 1);
            assert_int_equal(strncmp(line + 7, cur, strlen(cur)), 0);
            assert_int_equal(line[7 + strlen(cur)], ' ');
            state_ = 2;
            continue;
        }
        assert_int_equal(state_, 2);
        assert_true(line[0] != '#');
        br = line + strcspn(line, "{ ");
        assert_int_equal((size_t) (br - line), strlen(cur));
        assert_int_equal(strncmp(line, cur, strlen(cur)), 0);
        sp = strrchr(line, ' ');
        assert_non_null(sp);
        *sp = '\0';
        for (i = 0; i < nseries; i++) {
            assert_string_not_equal(series[i], line);
        }
        assert_true(nseries < 2000);
        series[nseries++] = line;
    }
    assert_int_equal(nfam, 9);

    /* per zone: 2 responses, 2 outcomes per rule, closing rules, 2 body
     * counters, the verdicts; plus build_info and start_time */
    for (rule = 1; rule < LBG_RULE_END; rule++) {
        expect += 2 + (size_t) lbg_rule_closes((lbg_rule_e) rule)
                  + ((lbg_rule((lbg_rule_e) rule)->fix & LBG_FIX_LB_502)
                     != 0);
    }
    expect = 2 * (2 + expect + 2 + LBG_KA_VERDICTS) + 2 + LBG_DRAIN_OUTCOMES;
    assert_int_equal(nseries, expect);
    free(series);
    free(out);
}


static void
test_escaping(void **state)
{
    char  *out;
    size_t n;

    (void) state;
    make_view();
    n = lbg_metrics_format(&view, NULL, 0);
    out = malloc(n + 1);
    assert_non_null(out);
    (void) lbg_metrics_format(&view, out, n);
    out[n] = '\0';
    assert_non_null(strstr(out, "lbguard_bodies_cut_total{server="
                                "\"q\\\"b\\\\s\\nx\\\\xff\\\\x01\"} 0\n"));
    assert_non_null(
        strstr(out,
               "lbguard_responses_total{server=\"default\",mode=\"repair\"} "
               "18446744073709551615\n"));
    assert_non_null(strstr(
        out,
        "lbguard_findings_total{server=\"default\",rule=\"te-not-chunked\","
        "outcome=\"reported\"} 3\n"));
    /* a rule with a repair has no "reported", one without no "repaired" */
    assert_null(strstr(out, "rule=\"obs-fold\",outcome=\"reported\""));
    assert_null(strstr(out, "rule=\"te-not-chunked\",outcome=\"repaired\""));
    free(out);
}


/* the drain family: no server label, every outcome in enum order, zeros
 * included, and zeros for a view without drain counters */
static void
test_drain(void **state)
{
    static const char want[] =
        "# HELP lbguard_drain_connections_total Idle keep-alive connections "
        "of a shutting-down worker or child, by how they ended (all "
        "zones).\n"
        "# TYPE lbguard_drain_connections_total counter\n"
        "lbguard_drain_connections_total{outcome=\"request\"} 4\n"
        "lbguard_drain_connections_total{outcome=\"client-close\"} 0\n"
        "lbguard_drain_connections_total{outcome=\"client-reset\"} 0\n"
        "lbguard_drain_connections_total{outcome=\"idle-limit\"} 1\n"
        "lbguard_drain_connections_total{outcome=\"shutdown-timeout\"} 0\n"
        "lbguard_drain_connections_total{outcome=\"server-close\"} 0\n"
        "lbguard_drain_connections_total{outcome=\"mpm-restart\"} 0\n"
        "lbguard_drain_connections_total{outcome=\"mpm-stopping\"} 0\n"
        "lbguard_drain_connections_total{outcome=\"mpm-busy\"} 2\n";
    char    *out, *p;
    size_t   n;
    unsigned k;

    (void) state;
    for (k = 0; k < LBG_DRAIN_OUTCOMES; k++) {
        assert_string_not_equal(lbg_drain_outcome_name(
                                    (lbg_drain_outcome_e) k),
                                "unknown");
    }
    assert_string_equal(lbg_drain_outcome_name(LBG_DRAIN_SERVER_CLOSE),
                        "server-close");
    assert_string_equal(lbg_drain_outcome_name(
                            (lbg_drain_outcome_e) LBG_DRAIN_OUTCOMES),
                        "unknown");
    make_view();
    n = lbg_metrics_format(&view, NULL, 0);
    out = malloc(n + 1);
    assert_non_null(out);
    (void) lbg_metrics_format(&view, out, n);
    out[n] = '\0';
    /* the last family, printed once */
    p = strstr(out, "# HELP lbguard_drain_connections_total");
    assert_non_null(p);
    assert_string_equal(p, want);
    free(out);

    view.drain = NULL;
    n = lbg_metrics_format(&view, NULL, 0);
    out = malloc(n + 1);
    assert_non_null(out);
    (void) lbg_metrics_format(&view, out, n);
    out[n] = '\0';
    assert_non_null(
        strstr(out,
               "lbguard_drain_connections_total{outcome=\"request\"} 0\n"));
    assert_non_null(
        strstr(out,
               "lbguard_drain_connections_total{outcome=\"mpm-busy\"} 0\n"));
    free(out);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_outcome_matches_summary),
        cmocka_unit_test(test_closing_rules),
        cmocka_unit_test(test_report_slots),
        cmocka_unit_test(test_report_slots_budget),
        cmocka_unit_test(test_ka_metric),
        cmocka_unit_test(test_zone_names),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_buffer_sizes),
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_drain),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
