/*
 * test_quick.c -- the quick pass (lbg_quick_*): its contract with
 * lbg_check (clean means no finding and no edit) over the corpus and over
 * random views, its exact byte classes on every length that takes a
 * different load path (0..40 bytes, on guard pages), and the responses it
 * must call clean so that adapters skip the view.
 */

#include "lbg_test_util.h"
#include "lbg_quick.h"

/* The field bytes the tests draw from: every class the checks tell apart. */
static const unsigned char lbgt_bytes[] = {'a',  'Z',  'q',  '0',  '9',  '-',
                                           '_',  '.',  '!',  '~',  '|',  '`',
                                           '^',  '#',  ':',  ' ',  '\t', '\r',
                                           '\n', '\0', 0x01, 0x1f, 0x7f, 0x80,
                                           0xff, '"',  '(',  ',',  '/',  '@',
                                           '[',  '{',  '}',  'x',  'E',  '5'};

static uint64_t lbgt_rng = 88172645463325252ull;

static unsigned
lbgt_rand(unsigned n)
{
    lbgt_rng ^= lbgt_rng << 13;
    lbgt_rng ^= lbgt_rng >> 7;
    lbgt_rng ^= lbgt_rng << 17;
    return (unsigned) (lbgt_rng % n);
}

/* n random bytes: mostly letters, sometimes any byte of lbgt_bytes */
static void
lbgt_fill(unsigned char *s, size_t n, unsigned bad_per_mille)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (lbgt_rand(1000) < bad_per_mille) {
            s[i] = lbgt_bytes[lbgt_rand(sizeof(lbgt_bytes))];
        } else {
            s[i] = (unsigned char) ("abcdefXYZ-0123456789 "[lbgt_rand(21)]);
        }
    }
}

/* The reference classes, a byte at a time (RFC 9110 5.6.2, 5.5). */
static int
ref_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9')
           || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static int
ref_vbyte(unsigned char c)
{
    return (c >= 0x20 || c == '\t') && c != 0x7f;
}

/* 1 when ok() holds for every byte of s[0..n) */
static int
all_bytes(const unsigned char *s, size_t n, int (*ok)(unsigned char))
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!ok(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* The contract on one view under policy p: returns whether quick said
 * clean. */
static int
contract(const lbg_policy_t *p, const lbg_response_t *r, const char *what)
{
    lbg_quick_t   q;
    lbgt_report_t t;
    size_t        i;

    lbg_quick_init(&q);
    for (i = 0; i < r->nfields; i++) {
        lbg_quick_field(&q, r->fields[i].name, r->fields[i].name_len,
                        r->fields[i].value, r->fields[i].value_len,
                        r->fields[i].trusted);
    }
    if (!lbg_quick_clean(p, &q, r->status, r->status_line,
                         r->status_line_len)) {
        return 0;
    }
    lbgt_check(p, r, &t);
    /* what an adapter checks next on the same status (lbg_quick.h) */
    (void) lbg_check_interim(p, r->status, &t.rep);
    if (t.rep.nfindings != 0 || t.rep.nedits != 0) {
        lbgt_dump(what, &t.rep);
        fail_msg("%s: quick said clean, lbg_check and lbg_check_interim "
                 "found %zu, edited %zu",
                 what, t.rep.nfindings, t.rep.nedits);
    }
    return 1;
}

/* The conformant responses the quick pass hands to lbg_check, told by
 * what they hold (not by the case's file name): a Content-Length on a 204
 * (lbg_check's framing pass decides that "0" is fine) and a 101 (always
 * checked for its Upgrade field). Its byte checks are exact: a value with
 * HTAB is clean. */
static int
allowed_not_clean(const lbg_response_t *v)
{
    size_t i;

    if (v->status == 101) {
        return 1;
    }
    for (i = 0; v->status == 204 && i < v->nfields; i++) {
        if (lbg_field_is_content_length(v->fields[i].name,
                                        v->fields[i].name_len)) {
            return 1;
        }
    }
    return 0;
}

/* Every case of the corpus, every profile, default and small budgets;
 * every conformant case clean but those allowed above. */
static void
test_corpus_contract(void **state)
{
    lbg_policy_t  p;
    lbgt_parse_t *t = malloc(sizeof(*t));
    size_t        i, clean = 0, conformant = 0, conformant_clean = 0;
    int           prof, small;

    (void) state;
    assert_non_null(t);
    for (i = 0; i < lbgt_ncases; i++) {
        for (prof = 0; prof < LBG_PROFILE_COUNT; prof++) {
            for (small = 0; small < 2; small++) {
                lbg_policy_init(&p, (lbg_profile_e) prof);
                if (small) {
                    p.max_field_bytes = 24;
                    p.max_header_bytes = 120;
                    p.max_fields = 3;
                }
                if (lbgt_parse(&p, lbgt_cases[i].raw, lbgt_cases[i].len,
                               lbgt_cases[i].head, t)
                    != 0)
                {
                    continue;
                }
                if (contract(&p, &t->raw.view, lbgt_cases[i].name)
                    && prof == 0 && !small) {
                    clean++;
                }
            }
        }
        if (lbgt_cases[i].nexpect == 0) {
            conformant++;
            lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
            lbgt_parse(&p, lbgt_cases[i].raw, lbgt_cases[i].len,
                       lbgt_cases[i].head, t);
            if (t->rc == 0 && contract(&p, &t->raw.view, lbgt_cases[i].name))
            {
                conformant_clean++;
            } else if (t->rc != 0 || !allowed_not_clean(&t->raw.view)) {
                fail_msg("quick pass not clean on conformant case %s",
                         lbgt_cases[i].name);
            }
        }
    }
    print_message("# corpus: %zu cases, %zu clean by the quick pass; "
                  "%zu conformant, %zu of them clean\n",
                  lbgt_ncases, clean, conformant, conformant_clean);
    assert_true(conformant > 0);
    free(t);
}

/* Random views: the contract, every profile, random budgets and trust. */
static void
test_random_contract(void **state)
{
    static const int         statuses[] = {200, 204, 304, 100, 101, 199,  99,
                                           600, 404, 500, 599, 0,   1000, 299};
    static const char *const lines[] = {NULL,
                                        "200 OK",
                                        "200",
                                        "200 ",
                                        "204 No Content",
                                        "2000 X",
                                        "20 OK",
                                        "600 Odd",
                                        "099 Low",
                                        "200 O\x01K",
                                        "200 Tab\there",
                                        "301 \x7f",
                                        "404 Not\xff Found",
                                        "200\tOK",
                                        "599 Last",
                                        "100 Continue",
                                        "1000 x",
                                        "500 A long reason phrase here",
                                        "200 OK\x80",
                                        "201 C"};
    static const char *const cl_values[] = {"12",
                                            "0",
                                            "",
                                            " 12",
                                            "1,1",
                                            "12, 13",
                                            "-1",
                                            "99999999999999999999",
                                            "00",
                                            "123",
                                            "1234567890123456",
                                            "12345678901234567",
                                            "12a",
                                            "1/3",
                                            "9:",
                                            "1234"};
    static const char *const te_values[] = {
        "chunked",          "CHUNKED", "gzip",    "gzip, chunked",
        "chunked, chunked", "",        "chunked "};
    unsigned char  buf[64][96];
    lbg_field_t    f[64];
    lbg_response_t r;
    lbg_policy_t   p;
    size_t         n, i, nl, vl, clean = 0;
    unsigned       iter, k;
    char           what[64];

    (void) state;
    for (iter = 0; iter < 60000; iter++) {
        n = lbgt_rand(14);
        for (i = 0; i < n; i++) {
            k = lbgt_rand(10);
            memset(&f[i], 0, sizeof(f[i]));
            f[i].trusted = lbgt_rand(4) == 0;
            if (k == 0) {
                f[i].name = (const unsigned char *) (lbgt_rand(2)
                                                         ? "Content-Length"
                                                         : "content-LENGTH");
                f[i].name_len = 14;
                f[i].value = (const unsigned char *)
                    cl_values[lbgt_rand(LBGT_NELTS(cl_values))];
                f[i].value_len = strlen((const char *) f[i].value);
                continue;
            }
            if (k == 1) {
                f[i].name = (const unsigned char *) "Transfer-Encoding";
                f[i].name_len = 17;
                f[i].value = (const unsigned char *)
                    te_values[lbgt_rand(LBGT_NELTS(te_values))];
                f[i].value_len = strlen((const char *) f[i].value);
                continue;
            }
            nl = lbgt_rand(k == 2 ? 40 : 20);
            vl = lbgt_rand(k == 3 ? 90 : 30);
            lbgt_fill(buf[i], nl, k < 5 ? 150 : 4);
            f[i].name = buf[i];
            f[i].name_len = nl;
            f[i].value = buf[i] + nl;
            lbgt_fill(buf[i] + nl, vl > 96 - nl ? 96 - nl : vl,
                      k < 5 ? 150 : 4);
            f[i].value_len = vl > 96 - nl ? 96 - nl : vl;
        }
        r = lbgt_view(statuses[lbgt_rand(LBGT_NELTS(statuses))], f, n);
        r.head = lbgt_rand(2);
        k = lbgt_rand(LBGT_NELTS(lines) * 2);
        if (k < LBGT_NELTS(lines) && lines[k] != NULL) {
            r.status_line = (const unsigned char *) lines[k];
            r.status_line_len = strlen(lines[k]);
        }
        lbg_policy_init(&p, (lbg_profile_e) lbgt_rand(LBG_PROFILE_COUNT));
        if (lbgt_rand(2)) {
            p.max_field_bytes = lbgt_rand(120);
            p.max_header_bytes = lbgt_rand(600);
            p.max_fields = lbgt_rand(16);
        }
        if (lbgt_rand(8) == 0) {
            p.mode = LBG_MODE_DETECT;
        }
        snprintf(what, sizeof(what), "random view %u", iter);
        clean += (size_t) contract(&p, &r, what);
    }
    print_message("# random views: %zu of 60000 clean by the quick pass\n",
                  clean);
    /* both answers must occur, or the test proves nothing */
    assert_true(clean > 3000);
    assert_true(clean < 57000);
}

/* One field span g[0..len) (a name, or a value), checked four ways, each
 * exactly against the reference: lbg_scan_name() / lbg_scan_value(),
 * lbg__quick_slow(), and the whole quick pass under a 3-byte and a 5-byte
 * name (a value) or with a 1-byte value (a name). The quick pass's byte
 * checks are exact: no valid byte sends a field to lbg_check. */
static void
one_span(int name, const unsigned char *g, size_t len)
{
    static const char *const names[] = {"X-A", "X-Val"};
    lbg_quick_t              q;
    lbg_policy_t             p;
    unsigned                 slow;
    int                      want, got, scan;
    size_t                   k;

    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.max_field_bytes = p.max_header_bytes = p.max_fields = 0;
    for (k = 0; k < (name ? 1 : LBGT_NELTS(names)); k++) {
        lbg_quick_init(&q);
        if (name) {
            slow = lbg__quick_slow(g, len, (const unsigned char *) "v", 1, 0);
            lbg_quick_field(&q, g, len, (const unsigned char *) "v", 1, 0);
            want = len > 0 && all_bytes(g, len, ref_tchar);
            scan = lbg_scan_name(g, len);
            if (lbg__framing_name(g, len) != 0) {
                /* "Content-Length: v" and "Transfer-Encoding: v" are
                 * framing defects: the scan alone is compared */
                if (scan != want) {
                    fail_msg("name of %zu bytes: lbg_scan_name %d, "
                             "reference %d",
                             len, scan, want);
                }
                continue;
            }
        } else {
            slow = lbg__quick_slow((const unsigned char *) names[k],
                                   strlen(names[k]), g, len, 0);
            lbg_quick_field(&q, (const unsigned char *) names[k],
                            strlen(names[k]), g, len, 0);
            want = all_bytes(g, len, ref_vbyte);
            scan = lbg_scan_value(g, len);
        }
        got = lbg_quick_clean(&p, &q, 200, NULL, 0);
        if ((slow == 0) != want || scan != want || got != want) {
            fail_msg("%s of %zu bytes (first 0x%02x, name \"%s\"): "
                     "lbg__quick_slow %u, scan %d, quick %d, reference %d",
                     name ? "name" : "value", len, len ? g[0] : 0,
                     name ? "-" : names[k], slow, scan, got, want);
        }
    }
}

/* one_span() as lbgt_sweep() calls it */
static void
sweep_span(void *ctx, int name, const unsigned char *g, size_t len)
{
    (void) ctx;
    one_span(name, g, len);
}

/* One untrusted field, every length 0..40 (every load path) with every
 * byte value at every position, longer ones (the 16-byte loops, the AVX2
 * path from 64 bytes, the out-of-line values from LBG_SCAN_LONG) with
 * every byte value at the first, last and a few other positions; each
 * span at the end of a page (a read past it faults). */
static void
test_exact_classes(void **state)
{
    static const size_t longer[] = {41, 47,  48,  63,  64,  65,  95,  96,
                                    97, 127, 128, 129, 160, 255, 300, 1000};
    unsigned char       src[1024], *g;
    size_t              len, li;
    unsigned            iter;
    int                 name;

    (void) state;
    for (name = 0; name < 2; name++) {
        for (li = 0; li < 41 + LBGT_NELTS(longer); li++) {
            len = li < 41 ? li : longer[li - 41];
            g = lbgt_guard_alloc(len);
            lbgt_sweep(name, g, len, sweep_span, NULL);
            for (iter = 0; iter < 300; iter++) {
                lbgt_fill(src, len, iter < 150 ? 60 : 2);
                if (len) {
                    memcpy(g, src, len);
                }
                one_span(name, g, len);
            }
            lbgt_guard_free(g, len);
        }
    }
}

static int
quick(const lbg_policy_t *pp, int status, const char *line,
      const lbg_field_t *f, size_t n)
{
    lbg_quick_t  q;
    lbg_policy_t p;
    size_t       i;

    if (pp == NULL) {
        lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
        pp = &p;
    }
    lbg_quick_init(&q);
    for (i = 0; i < n; i++) {
        lbg_quick_field(&q, f[i].name, f[i].name_len, f[i].value,
                        f[i].value_len, f[i].trusted);
    }
    return lbg_quick_clean(pp, &q, status, (const unsigned char *) line,
                           line ? strlen(line) : 0);
}

/* What adapters rely on to skip the view: ordinary responses are clean. */
static void
test_clean_responses(void **state)
{
    lbg_field_t nginx[] = {
        LBGT_F("Server", "nginx/1.22.1"),
        LBGT_F("Date", "Sun, 22 Nov 2026 02:31:31 GMT"),
        LBGT_F("Content-Type", "text/plain"),
        LBGT_F("Content-Length", "33"),
        LBGT_F("Connection", "keep-alive"),
        LBGT_F("X-Bench-1", "value 1"),
        LBGT_F("Cache-Control",
               "no-cache, no-store, must-revalidate, max-age=0"),
        LBGT_F("Set-Cookie", "id=a3fWa; Expires=Thu, 21 Oct 2027 07:28:00 "
                             "GMT; Secure; HttpOnly"),
        LBGT_F("Content-Security-Policy",
               "default-src 'self'; img-src *; script-src \"x\""),
        LBGT_F("X-Obs-Text", "caf\xc3\xa9"),
        LBGT_F("ETag", "\"5f1-3a\""),
        LBGT_F("A", "b"),
        LBGT_F("Vary", "")};
    lbg_field_t  te[] = {LBGT_F("Transfer-Encoding", "chunked"),
                         LBGT_F("Content-Type", "text/html")};
    lbg_policy_t p;

    (void) state;
    assert_int_equal(quick(NULL, 200, NULL, nginx, LBGT_NELTS(nginx)), 1);
    assert_int_equal(quick(NULL, 200, "200 OK", nginx, LBGT_NELTS(nginx)), 1);
    assert_int_equal(quick(NULL, 304, NULL, nginx, LBGT_NELTS(nginx)), 1);
    assert_int_equal(quick(NULL, 200, NULL, te, LBGT_NELTS(te)), 1);
    assert_int_equal(quick(NULL, 404, "404 ", te, LBGT_NELTS(te)), 1);
    assert_int_equal(quick(NULL, 299, NULL, NULL, 0), 1);
    nginx[3].trusted = 1;
    assert_int_equal(quick(NULL, 200, NULL, nginx, LBGT_NELTS(nginx)), 1);
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.mode = LBG_MODE_OFF;
    nginx[0].value = (const unsigned char *) "a\rb";
    nginx[0].value_len = 3;
    assert_int_equal(quick(&p, 200, NULL, nginx, LBGT_NELTS(nginx)), 1);
}

/* What the quick pass hands to lbg_check. */
static void
test_dirty_responses(void **state)
{
    lbg_field_t  f[3];
    lbg_policy_t p;

    (void) state;
#define ONE(n, v, status, line, want)                                        \
    do {                                                                     \
        lbg_field_t one_[] = {LBGT_F(n, v)};                                 \
        assert_int_equal(quick(NULL, status, line, one_, 1), want);          \
    } while (0)
    /* every tchar and HTAB: clean, on every path */
    assert_int_equal(lbg__quick_slow((const unsigned char *) "X_Under", 7,
                                     (const unsigned char *) "v", 1, 0),
                     0);
    assert_int_equal(lbg__quick_slow((const unsigned char *) "X-Tab", 5,
                                     (const unsigned char *) "a\tb", 3, 0),
                     0);
    ONE("X_", "v", 200, NULL, 1); /* short: the exact path */
    ONE("X-B", "a\tb", 200, NULL, 1);
    ONE("", "v", 200, NULL, 0);
    ONE("X A", "v", 200, NULL, 0);
    ONE("X:A", "v", 200, NULL, 0);
    ONE("X-\x80", "v", 200, NULL, 0);
    ONE("X-A", "a\r\n b", 200, NULL, 0);
    ONE("X-A", "a\0b", 200, NULL, 0);
    ONE("X-Seventeen-bytes", "0123456789abcdef\x7f", 200, NULL, 0);
    ONE("Content-Length", "12", 200, NULL, 1);
    ONE("Content-Length", "1 2", 200, NULL, 0);
    ONE("Content-Length", "1", 200, NULL, 1);
    ONE("Content-Length", "123", 200, NULL, 1);
    ONE("CONTENT-length", "1234567890123456", 200, NULL, 1);
    ONE("Content-Length", "12345678901234567", 200, NULL, 1); /* exact path */
    ONE("Content-Length", "1x3", 200, NULL, 0);
    ONE("Content-Length", "12:", 200, NULL, 0);
    ONE("Content-Length", "", 200, NULL, 0);
    ONE("Content_Length", "12", 200, NULL, 1); /* no framing name */
    ONE("Content-Length", "12, 12", 200, NULL, 0);
    ONE("Content-Length", "12", 204, NULL, 0);
    ONE("Content-Length", "0", 101, NULL, 0);
    ONE("Transfer-Encoding", "gzip, chunked", 200, NULL, 0);
    ONE("Transfer-Encoding", "chunked", 204, NULL, 0);
    ONE("X-A", "v", 600, NULL, 0);
    ONE("X-A", "v", 99, NULL, 0);
    ONE("X-A", "v", 200, "2000", 0);
    ONE("X-A", "v", 200, "20", 0);
    ONE("X-A", "v", 200, "200 O\rK", 0);
    ONE("X-A", "v", 200, "099 Low", 0);
#undef ONE

    f[0] = (lbg_field_t) LBGT_F("Content-Length", "12");
    f[1] = (lbg_field_t) LBGT_F("Content-Length", "12");
    f[2] = (lbg_field_t) LBGT_F("Transfer-Encoding", "chunked");
    assert_int_equal(quick(NULL, 200, NULL, f, 2), 0);
    assert_int_equal(quick(NULL, 200, NULL, f + 1, 2), 0);
    f[0].trusted = 1;
    f[0].value = (const unsigned char *) "x\ry";
    f[0].value_len = 3;
    assert_int_equal(quick(NULL, 200, NULL, f, 1), 1); /* host-made */

    /* budgets: exactly at and one past each limit */
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    f[0] = (lbg_field_t) LBGT_F("X-A", "0123456789"); /* 13 + 4 bytes */
    f[1] = (lbg_field_t) LBGT_F("X-B", "01234");
    p.max_field_bytes = 17;
    assert_int_equal(quick(&p, 200, NULL, f, 2), 1);
    p.max_field_bytes = 16;
    assert_int_equal(quick(&p, 200, NULL, f, 2), 0);
    p.max_field_bytes = 0;
    p.max_fields = 2;
    assert_int_equal(quick(&p, 200, NULL, f, 2), 1);
    p.max_fields = 1;
    assert_int_equal(quick(&p, 200, NULL, f, 2), 0);
    p.max_fields = 0;
    /* "HTTP/1.1 200 OK\r\n" 17 + 17 + 12 + 2 = 48 */
    p.max_header_bytes = 48;
    assert_int_equal(quick(&p, 200, NULL, f, 2), 1);
    p.max_header_bytes = 47;
    assert_int_equal(quick(&p, 200, NULL, f, 2), 0);
    assert_int_equal(quick(&p, 200, "200 OK", f, 2), 0);
    p.max_header_bytes = 48;
    assert_int_equal(quick(&p, 200, "200 OK", f, 2), 1);
}

/* More fields than lbg_check classifies for the framing (LBG__KIND_MAX):
 * a lone valid Content-Length is still clean (lbg_check's fast path), a
 * Transfer-Encoding is not (lbg_check cannot verify it and closes). */
static void
test_many_fields(void **state)
{
    enum { N = LBG__KIND_MAX + 88 };
    static lbg_field_t f[N];
    lbg_policy_t       p;
    lbg_response_t     r;
    lbgt_report_t      t;
    size_t             i;

    (void) state;
    for (i = 0; i < N; i++) {
        f[i] = (lbg_field_t) LBGT_F("X-Field", "value");
    }
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.max_fields = p.max_header_bytes = p.max_field_bytes = 0;
    r = lbgt_view(200, f, N);

    f[N - 1] = (lbg_field_t) LBGT_F("Content-Length", "5");
    assert_int_equal(contract(&p, &r,
                              "LBG__KIND_MAX + 88 fields, "
                              "Content-Length"),
                     1);
    assert_int_equal(lbgt_check(&p, &r, &t), 0);

    f[N - 1] = (lbg_field_t) LBGT_F("Transfer-Encoding", "chunked");
    assert_int_equal(contract(&p, &r,
                              "LBG__KIND_MAX + 88 fields, "
                              "Transfer-Encoding"),
                     0);
    lbgt_check(&p, &r, &t);
    assert_int_equal(t.rep.close, 1);

    r.nfields = LBG__KIND_MAX;
    f[LBG__KIND_MAX - 1] = f[N - 1];
    assert_int_equal(contract(&p, &r,
                              "LBG__KIND_MAX fields, "
                              "Transfer-Encoding"),
                     1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_contract),
        cmocka_unit_test(test_random_contract),
        cmocka_unit_test(test_exact_classes),
        cmocka_unit_test(test_clean_responses),
        cmocka_unit_test(test_dirty_responses),
        cmocka_unit_test(test_many_fields),
    };

    return cmocka_run_group_tests(tests, lbgt_cases_setup,
                                  lbgt_cases_teardown);
}
