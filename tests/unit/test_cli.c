/*
 * test_cli.c -- the command-line tool's shared layers that link without a
 * subcommand (Makefile: cli/lbguard_util.c, lbguard_json.c, lbguard_net.c):
 * lbguard_parse_duration, lbguard_url_parse, lbguard_ieq and the JSON
 * writer's separators. Messages for rejected input go to stderr.
 */

#include "lbg_test_util.h"

#include "lbguard_cli.h"
#include "lbguard_net.h"

static void
test_duration(void **state)
{
    uint64_t ms;

    (void) state;
    ms = 7;
    assert_int_equal(lbguard_parse_duration("60", &ms), 0);
    assert_int_equal(ms, 60000);
    assert_int_equal(lbguard_parse_duration("60s", &ms), 0);
    assert_int_equal(ms, 60000);
    assert_int_equal(lbguard_parse_duration("2.5s", &ms), 0);
    assert_int_equal(ms, 2500);
    assert_int_equal(lbguard_parse_duration("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(lbguard_parse_duration("1.9ms", &ms), 0);
    assert_int_equal(ms, 1); /* rounded down */
    assert_int_equal(lbguard_parse_duration("1m", &ms), 0);
    assert_int_equal(ms, 60000);
    assert_int_equal(lbguard_parse_duration("1h", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(lbguard_parse_duration(".5", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(lbguard_parse_duration("0", &ms), 0);
    assert_int_equal(ms, 0);
    /* digits beyond the sixth of the fraction are ignored */
    assert_int_equal(lbguard_parse_duration("0.0000019s", &ms), 0);
    assert_int_equal(ms, 0);

    ms = 7;
    assert_int_equal(lbguard_parse_duration("", &ms), -1);
    assert_int_equal(lbguard_parse_duration(".", &ms), -1);
    assert_int_equal(lbguard_parse_duration("s", &ms), -1);
    assert_int_equal(lbguard_parse_duration("60 s", &ms), -1);
    assert_int_equal(lbguard_parse_duration("60sec", &ms), -1);
    assert_int_equal(lbguard_parse_duration("-1", &ms), -1);
    assert_int_equal(lbguard_parse_duration("1d", &ms), -1);
    assert_int_equal(lbguard_parse_duration("99999999999999999999", &ms), -1);
    assert_int_equal(ms, 7); /* untouched on error */
}

static void
test_url(void **state)
{
    lbguard_url_t u;

    (void) state;
    assert_int_equal(lbguard_url_parse("http://example.com", &u), 0);
    assert_int_equal(u.tls, 0);
    assert_string_equal(u.host, "example.com");
    assert_string_equal(u.port, "80");
    assert_string_equal(u.authority, "example.com");
    assert_string_equal(u.path, "/");

    assert_int_equal(lbguard_url_parse("https://h:8443/a/b?q=1", &u), 0);
    assert_int_equal(u.tls, 1);
    assert_string_equal(u.host, "h");
    assert_string_equal(u.port, "8443");
    assert_string_equal(u.authority, "h:8443");
    assert_string_equal(u.path, "/a/b?q=1");

    assert_int_equal(lbguard_url_parse("https://h?x", &u), 0);
    assert_string_equal(u.port, "443");
    assert_string_equal(u.path, "/?x");

    assert_int_equal(lbguard_url_parse("http://[::1]:8080/", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "8080");
    assert_string_equal(u.authority, "[::1]:8080");

    assert_int_equal(lbguard_url_parse("http://[::1]/", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "80");

    assert_int_equal(lbguard_url_parse("ftp://h/", &u), -1);
    assert_int_equal(lbguard_url_parse("HTTP://h/", &u), -1);
    assert_int_equal(lbguard_url_parse("http://", &u), -1);
    assert_int_equal(lbguard_url_parse("http://:80/", &u), -1);
    assert_int_equal(lbguard_url_parse("http://h:/", &u), -1);
    assert_int_equal(lbguard_url_parse("http://h:8x/", &u), -1);
    /* a port is 1 to 65535 (getaddrinfo() would take 85668 as 20132) */
    assert_int_equal(lbguard_url_parse("http://h:65535/", &u), 0);
    assert_string_equal(u.port, "65535");
    assert_int_equal(lbguard_url_parse("http://h:1/", &u), 0);
    assert_int_equal(lbguard_url_parse("http://h:65536/", &u), -1);
    assert_int_equal(lbguard_url_parse("http://h:0/", &u), -1);
    assert_int_equal(lbguard_url_parse("http://h:85668/", &u), -1);
    assert_int_equal(lbguard_url_parse("http://h:1234567/", &u), -1);
    assert_int_equal(lbguard_url_parse("http://h:12345678/", &u), -1);
    assert_int_equal(lbguard_url_parse("http://u@h/", &u), -1);
    assert_int_equal(lbguard_url_parse("http://h#f", &u), -1);
    assert_int_equal(lbguard_url_parse("http://[::1/", &u), -1);
    assert_int_equal(lbguard_url_parse("http://[::1]x/", &u), -1);
    assert_int_equal(lbguard_url_parse("http://h/a b", &u), -1);
    assert_int_equal(lbguard_url_parse("http://h/a\x7f", &u), -1);
}

static void
test_url_lengths(void **state)
{
    lbguard_url_t u;
    char          url[8192];

    (void) state;
    /* a 255-byte host fits host[256]; 256 bytes do not */
    memcpy(url, "http://", 7);
    memset(url + 7, 'a', 255);
    url[7 + 255] = '\0';
    assert_int_equal(lbguard_url_parse(url, &u), 0);
    assert_int_equal(strlen(u.host), 255);
    memset(url + 7, 'a', 256);
    url[7 + 256] = '\0';
    assert_int_equal(lbguard_url_parse(url, &u), -1);

    /* a path of 4094 bytes fits path[4096] (with the '/' a query gets) */
    memcpy(url, "http://h", 8);
    url[8] = '/';
    memset(url + 9, 'p', 4093);
    url[8 + 4094] = '\0';
    assert_int_equal(lbguard_url_parse(url, &u), 0);
    assert_int_equal(strlen(u.path), 4094);
    memset(url + 9, 'p', 4094);
    url[8 + 4095] = '\0';
    assert_int_equal(lbguard_url_parse(url, &u), -1);
}

static void
test_ieq(void **state)
{
    (void) state;
    assert_int_equal(lbguard_ieq("Keep-Alive", 10, "keep-alive"), 1);
    assert_int_equal(lbguard_ieq("HEAD", 4, "head"), 1);
    assert_int_equal(lbguard_ieq("HEADX", 4, "head"), 1); /* n bytes only */
    assert_int_equal(lbguard_ieq("HEA", 3, "head"), 0);
    assert_int_equal(lbguard_ieq("HEADS", 5, "head"), 0);
    assert_int_equal(lbguard_ieq("", 0, ""), 1);
    assert_int_equal(lbguard_ieq("\xc4", 1, "\xe4"), 0); /* ASCII only */
}

static void
test_opt_match(void **state)
{
    const char         *str = NULL;
    uint64_t            ms = 5, pos = 5;
    int                 flag = 0, i, r;
    lbg_profile_e       profile = LBG_PROFILE_STRICTEST;
    const lbguard_opt_t opts[] = {
        {"--flag", "-f", LBGUARD_OPT_FLAG, &flag, NULL},
        {"--str", NULL, LBGUARD_OPT_STRING, &str, NULL},
        {"--ms", NULL, LBGUARD_OPT_DURATION, &ms, NULL},
        {"--pos", NULL, LBGUARD_OPT_DURATION_POS, &pos, NULL},
        {"--profile", NULL, LBGUARD_OPT_PROFILE, &profile, NULL},
    };
    char  *argv[] = {"t",        "-f",     "--str", "v",
                     "--ms=0",   "--pos",  "0",     "--profile=nginx",
                     "--flag=1", "--strx", "--pos"};
    size_t n = sizeof(opts) / sizeof(opts[0]);

    (void) state;
    i = 1;
    assert_int_equal(lbguard_opt_match("t", 11, argv, &i, opts, n), 1);
    assert_int_equal(flag, 1);
    assert_int_equal(i, 1);
    i = 2;
    assert_int_equal(lbguard_opt_match("t", 11, argv, &i, opts, n), 1);
    assert_string_equal(str, "v");
    assert_int_equal(i, 3); /* past the separate value */
    i = 4;
    assert_int_equal(lbguard_opt_match("t", 11, argv, &i, opts, n), 1);
    assert_int_equal(ms, 0);
    i = 5;
    r = lbguard_opt_match("t", 11, argv, &i, opts, n);
    assert_int_equal(r, -1); /* DURATION_POS refuses 0 */
    i = 7;
    assert_int_equal(lbguard_opt_match("t", 11, argv, &i, opts, n), 1);
    assert_int_equal(profile, LBG_PROFILE_NGINX);
    i = 8; /* a flag takes no value */
    assert_int_equal(lbguard_opt_match("t", 11, argv, &i, opts, n), 0);
    i = 9; /* a longer name is another option */
    assert_int_equal(lbguard_opt_match("t", 11, argv, &i, opts, n), 0);
    i = 10; /* the value is missing */
    assert_int_equal(lbguard_opt_match("t", 11, argv, &i, opts, n), -1);
    i = 1; /* rows beyond n are not consulted */
    assert_int_equal(lbguard_opt_match("t", 11, argv, &i, opts, 0), 0);
}

static void
test_json_writer(void **state)
{
    lbguard_json_t j;
    char          *buf = NULL;
    size_t         len = 0;
    FILE          *out;

    (void) state;
    out = open_memstream(&buf, &len);
    assert_non_null(out);
    lbguard_json_init(&j, out);
    lbguard_json_begin(&j, '{', 0);
    lbguard_json_key(&j, "a");
    lbguard_json_begin(&j, '[', 1);
    lbguard_json_begin(&j, '{', 0);
    lbguard_json_key(&j, "n");
    lbguard_json_int(&j, -3);
    lbguard_json_key(&j, "u");
    lbguard_json_uint(&j, UINT64_MAX);
    lbguard_json_end(&j, '}');
    lbguard_json_begin(&j, '{', 0);
    lbguard_json_end(&j, '}');
    lbguard_json_end(&j, ']');
    lbguard_json_key(&j, "s");
    lbguard_json_string(&j, "q\"\\\n\x7f", 5);
    lbguard_json_key(&j, "e");
    lbguard_json_begin(&j, '[', 0);
    lbguard_json_end(&j, ']');
    lbguard_json_key(&j, "l");
    lbguard_json_lbs(&j, LBG_LB_NGINX | LBG_LB_HAPROXY);
    lbguard_json_key(&j, "b");
    lbguard_json_bool(&j, 2);
    lbguard_json_key(&j, "z");
    lbguard_json_null(&j);
    lbguard_json_end(&j, '}');
    lbguard_json_newline(&j);
    assert_int_equal(fclose(out), 0);
    assert_string_equal(
        buf, "{\"a\":[\n{\"n\":-3,\"u\":18446744073709551615},\n{}],"
             "\"s\":\"q\\\"\\\\\\u000a\\u007f\",\"e\":[],"
             "\"l\":[\"haproxy\",\"nginx\"],\"b\":true,\"z\":null}\n");
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_url_lengths),
        cmocka_unit_test(test_ieq),
        cmocka_unit_test(test_opt_match),
        cmocka_unit_test(test_json_writer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
