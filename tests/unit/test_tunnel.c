/*
 * test_tunnel.c -- lbg_tunnel(): which responses end the HTTP message at
 * their header section (a 101, a 2xx to CONNECT; RFC 9110 7.8, 9.3.6),
 * and that the core's repair of a 101 asks for nothing after it (no
 * NO_BODY, no CLOSE: the adapters rely on that when they hand the
 * connection to the new protocol).
 */

#include "lbg_test_util.h"

static void
test_tunnel_status(void **state)
{
    int s;

    (void) state;
    assert_int_equal(lbg_tunnel(101, 0), 1);
    assert_int_equal(lbg_tunnel(101, 1), 1);
    /* other 1xx are interim: the next response follows */
    assert_int_equal(lbg_tunnel(100, 0), 0);
    assert_int_equal(lbg_tunnel(102, 0), 0);
    assert_int_equal(lbg_tunnel(103, 1), 0);
    /* any 2xx to CONNECT, nothing else */
    for (s = 200; s < 300; s++) {
        assert_int_equal(lbg_tunnel(s, 1), 1);
        assert_int_equal(lbg_tunnel(s, 0), 0);
    }
    assert_int_equal(lbg_tunnel(199, 1), 0);
    assert_int_equal(lbg_tunnel(300, 1), 0);
    assert_int_equal(lbg_tunnel(407, 1), 0);
    assert_int_equal(lbg_tunnel(0, 1), 0);
    assert_int_equal(lbg_tunnel(-101, 0), 0);
}

static void
test_tunnel_repair(void **state)
{
    lbg_field_t    f[4];
    lbg_response_t r;
    lbgt_report_t  t;
    size_t         i;

    (void) state;
    /* mod_lua's r:wsupgrade(): Transfer-Encoding on the 101 */
    memset(f, 0, sizeof(f));
    f[0].name = (const unsigned char *) "Upgrade";
    f[0].name_len = 7;
    f[0].value = (const unsigned char *) "websocket";
    f[0].value_len = 9;
    f[1].name = (const unsigned char *) "Connection";
    f[1].name_len = 10;
    f[1].value = (const unsigned char *) "Upgrade";
    f[1].value_len = 7;
    f[2].name = (const unsigned char *) "Transfer-Encoding";
    f[2].name_len = 17;
    f[2].value = (const unsigned char *) "chunked";
    f[2].value_len = 7;
    f[3].name = (const unsigned char *) "Content-Length";
    f[3].name_len = 14;
    f[3].value = (const unsigned char *) "5";
    f[3].value_len = 1;
    r = lbgt_view(101, f, 4);
    assert_int_equal(lbgt_check(NULL, &r, &t), 2);
    assert_int_equal(lbgt_count(&t.rep, LBG_RULE_FRAMING_ON_BODILESS_STATUS),
                     2);
    assert_int_equal(t.rep.nedits, 2);
    for (i = 0; i < t.rep.nedits; i++) {
        assert_int_equal(t.rep.edits[i].op, LBG_EDIT_REMOVE);
        assert_int_equal(t.rep.edits[i].field, i + 2);
    }
    assert_int_equal(t.rep.close, 0);
    assert_int_equal(t.rep.no_body, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tunnel_status),
        cmocka_unit_test(test_tunnel_repair),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
