/*
 * test_cstr.c -- the one-pass checks of NUL-terminated names and values
 * (lbg_cstr_name, lbg_cstr_value, lbg_cstr_field; common/lbg_cstr.c):
 * every byte value at every position of names and values of every length
 * up to past the AVX2 tail, at every alignment of a 64-byte block, with
 * hostile bytes before the string and after its NUL; the strings against
 * a PROT_NONE page on either side (a read past the aligned block of the
 * NUL, or before the block of the first byte, faults); and the verdicts
 * against the exact classes of RFC 9110 5.6.2 / 5.5 and against
 * lbg_scan_name() / lbg_scan_value().
 */

#include "lbg_test_util.h"
#include "lbg_cstr.h"
#include "lbg_quick.h"

/* the reference classes, a byte at a time (RFC 9110 5.6.2, 5.5) */
static int
ref_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')
           || (c >= 'a' && c <= 'z')
           || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
ref_vgood(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* the reference verdicts of the C string s */
static int
ref_name(const unsigned char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!ref_tchar(s[i])) {
            return 0;
        }
    }
    return n > 0;
}

static int
ref_value(const unsigned char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!ref_vgood(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* ASCII case-insensitive equality of a and the lower-case b */
static int
lbgt_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        if ((*a >= 'A' && *a <= 'Z' ? *a + 32 : *a) != *b) {
            return 0;
        }
    }
    return *a == *b;
}

/* An entry as Apache's apr_table_entry_t lays it out: name, value, then
 * more (lbg_cstr_quick() reads the two pointers at its start). */
typedef struct {
    const char *name;
    const char *value;
    unsigned    checksum;
} cstr_entry_t;

/* lbg_cstr_quick() on the one-entry table {name, value} (a skipped
 * "content-type") against lbg_quick_field() on the same field (strlen for
 * the lengths): same counts, same framing counts, same first
 * Content-Length, same lbg_quick_clean(); and lbg_cstr_quick_last() with
 * value as a last Content-Type too. Its loop has scans of its own: this
 * runs them on every string check_both() gets. */
static void
check_quick1(const char *name, const char *value)
{
    cstr_entry_t e = {name, value, 0};
    lbg_quick_t  q, r;
    lbg_policy_t p;
    size_t       nl = strlen(name), vl = value != NULL ? strlen(value) : 0;
    long         cl;
    int          skip;

    for (skip = 0; skip < 2; skip++) {
        lbg_quick_init(&q);
        cl = lbg_cstr_quick(&q, &e, sizeof(e), 1,
                            skip ? "content-type" : NULL, skip ? 12 : 0);
        lbg_quick_init(&r);
        if (!skip || !lbgt_ieq(name, "content-type")) {
            lbg_quick_field(&r, (const unsigned char *) name, nl,
                            (const unsigned char *) (value ? value : ""), vl,
                            0);
        }
        assert_int_equal(
            cl, lbg_field_is_content_length((const unsigned char *) name, nl)
                    ? 0
                    : -1);
        assert_int_equal(q.nfields, r.nfields);
        assert_int_equal(q.bytes, r.bytes);
        assert_int_equal(q.max_field, r.max_field);
        assert_int_equal(q.ncl, r.ncl);
        assert_int_equal(q.nte, r.nte);
        lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
        p.mode = LBG_MODE_REPAIR;
        assert_int_equal(lbg_quick_clean(&p, &q, 200, NULL, 0),
                         lbg_quick_clean(&p, &r, 200, NULL, 0));

        /* lbg_cstr_quick_last(): the same table, then value as the
         * value of a last "Content-Type" */
        lbg_quick_init(&q);
        assert_int_equal(lbg_cstr_quick_last(&q, &e, sizeof(e), 1,
                                             skip ? "content-type" : NULL,
                                             skip ? 12 : 0, "Content-Type",
                                             12, value),
                         cl);
        if (value != NULL) {
            lbg_quick_field(&r, (const unsigned char *) "Content-Type", 12,
                            (const unsigned char *) value, vl, 0);
        }
        assert_int_equal(q.nfields, r.nfields);
        assert_int_equal(q.bytes, r.bytes);
        assert_int_equal(q.max_field, r.max_field);
        assert_int_equal(q.ncl, r.ncl);
        assert_int_equal(q.nte, r.nte);
        assert_int_equal(lbg_quick_clean(&p, &q, 200, NULL, 0),
                         lbg_quick_clean(&p, &r, 200, NULL, 0));
    }
}

/* Checks both functions and lbg_cstr_field on the C string at s, and
 * lbg_cstr_quick() with s as a name and as a value. */
static void
check_both(const unsigned char *s)
{
    size_t   n = strlen((const char *) s), len = (size_t) -1, vlen;
    int      name, value;
    unsigned f;

    name = lbg_cstr_name((const char *) s, &len);
    assert_int_equal(len, n);
    assert_int_equal(name, ref_name(s, n));
    assert_int_equal(name, lbg_scan_name(s, n));
    len = (size_t) -1;
    value = lbg_cstr_value((const char *) s, &len);
    assert_int_equal(len, n);
    assert_int_equal(value, ref_value(s, n));
    assert_int_equal(value, lbg_scan_value(s, n));
    len = vlen = (size_t) -1;
    f = lbg_cstr_field((const char *) s, (const char *) s, &len, &vlen);
    assert_int_equal(len, n);
    assert_int_equal(vlen, n);
    assert_int_equal(f, (name ? LBG_CSTR_NAME_OK : 0u)
                            | (value ? LBG_CSTR_VALUE_OK : 0u));
    check_quick1((const char *) s, "v");
    check_quick1("X-A", (const char *) s);
    check_quick1((const char *) s, NULL);
}

/* A page run of 3 pages, the first and last PROT_NONE; returns the middle
 * page (pg bytes). */
static unsigned char *
guarded_page(size_t pg)
{
    unsigned char *base;

    base = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(base != MAP_FAILED);
    assert_int_equal(mprotect(base, pg, PROT_NONE), 0);
    assert_int_equal(mprotect(base + 2 * pg, pg, PROT_NONE), 0);
    return base + pg;
}

static void
guarded_free(unsigned char *page, size_t pg)
{
    munmap(page - pg, 3 * pg);
}

/* the filler of a string of length n: a clean name and value byte */
static unsigned char
filler(size_t i)
{
    static const char f[] = "aZ0-9_x.Qm^`zA5";

    return (unsigned char) f[i % (sizeof(f) - 1)];
}

/*
 * Every byte value (1..255, and the NUL, which ends the string there) at
 * every position of strings of 1 to 200 bytes, at alignments that run
 * through a 64-byte block, and of 1 to 20 bytes against the end of a page;
 * before the string and after its NUL, bytes that are bad in both classes
 * (a stray scan would turn a verdict).
 */
static void
test_every_byte_every_position(void **state)
{
    size_t         pg = (size_t) sysconf(_SC_PAGESIZE);
    unsigned char *page = guarded_page(pg), *s;
    size_t         n, pos, i, align;
    unsigned       b;

    (void) state;
    for (n = 1; n <= 200; n++) {
        for (pos = 0; pos < n; pos++) {
            align = (n * 7 + pos) & 63;
            s = page + 128 + align;
            memset(page, 0x01, pg);
            for (i = 0; i < n; i++) {
                s[i] = filler(i);
            }
            s[n] = '\0';
            for (b = 0; b < 256; b++) {
                s[pos] = (unsigned char) b;
                check_both(s);
            }
            if (n > 20) {
                continue;
            }
            /* and with the NUL on the last byte of the page */
            s = page + pg - 1 - n;
            memset(page, 0x01, pg);
            for (i = 0; i < n; i++) {
                s[i] = filler(i);
            }
            s[n] = '\0';
            for (b = 0; b < 256; b++) {
                s[pos] = (unsigned char) b;
                check_both(s);
            }
        }
    }
    guarded_free(page, pg);
}

/* Clean strings of every length 0..300 at every alignment 0..63, with the
 * bytes around them bad (0x00 and 0x7f before, 0x01 after the NUL). */
static void
test_clean_every_alignment(void **state)
{
    size_t         pg = (size_t) sysconf(_SC_PAGESIZE);
    unsigned char *page = guarded_page(pg), *s;
    size_t         n, i, align;

    (void) state;
    for (n = 0; n <= 300; n++) {
        for (align = 0; align < 64; align++) {
            memset(page, 0x01, pg);
            memset(page, 0x7f, 64);
            memset(page + 64, 0x00, 64);
            s = page + 128 + align;
            for (i = 0; i < n; i++) {
                s[i] = filler(i * 3 + align);
            }
            s[n] = '\0';
            check_both(s);
        }
    }
    guarded_free(page, pg);
}

/* Strings whose NUL is the last byte before a PROT_NONE page, and strings
 * that start on the first byte after one: lengths 0..300, clean, with a
 * bad byte last, a rare tchar first, obs-text and HTAB. */
static void
test_guard_pages(void **state)
{
    size_t                     pg = (size_t) sysconf(_SC_PAGESIZE);
    unsigned char             *page = guarded_page(pg), *s;
    size_t                     n, i;
    unsigned                   k;
    static const unsigned char odd[] = {0x7f, 0x01, '\t', 0x80, 0xff,
                                        '!',  '~',  ' ',  ':',  '"'};

    (void) state;
    for (n = 0; n <= 300; n++) {
        for (k = 0; k <= sizeof(odd); k++) {
            /* at the end of the page */
            memset(page, 0x01, pg);
            s = page + pg - 1 - n;
            for (i = 0; i < n; i++) {
                s[i] = filler(i);
            }
            s[n] = '\0';
            if (n > 0 && k < sizeof(odd)) {
                s[(k & 1) ? 0 : n - 1] = odd[k];
            }
            check_both(s);
            /* at the start of the page */
            memset(page, 0x01, pg);
            s = page;
            for (i = 0; i < n; i++) {
                s[i] = filler(i);
            }
            s[n] = '\0';
            if (n > 0 && k < sizeof(odd)) {
                s[(k & 1) ? n - 1 : 0] = odd[k];
            }
            check_both(s);
        }
    }
    guarded_free(page, pg);
}

/* Strings that begin on the last 1 to 16 bytes of a page and go on into
 * the next (readable) one: lengths 0..40, every byte value at the first
 * byte, on either side of the boundary and at the last byte (the SSE4.2
 * scans read the first page's last block through PSHUFB, then aligned
 * blocks of the next page). */
static void
test_across_pages(void **state)
{
    size_t         pg = (size_t) sysconf(_SC_PAGESIZE);
    unsigned char *base, *s;
    size_t         n, i, j, at[4], a;
    unsigned       b;

    (void) state;
    base = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(base != MAP_FAILED);
    assert_int_equal(mprotect(base, pg, PROT_NONE), 0);
    assert_int_equal(mprotect(base + 3 * pg, pg, PROT_NONE), 0);
    for (j = 1; j <= 16; j++) {
        for (n = 0; n <= 40; n++) {
            s = base + 2 * pg - j;
            memset(base + pg, 0x01, 2 * pg);
            for (i = 0; i < n; i++) {
                s[i] = filler(i);
            }
            s[n] = '\0';
            check_both(s);
            at[0] = 0;
            at[1] = j - 1;
            at[2] = j;
            at[3] = n - 1;
            for (a = 0; a < 4 && n > 0; a++) {
                if (at[a] >= n) {
                    continue;
                }
                for (b = 0; b < 256; b++) {
                    s[at[a]] = (unsigned char) b;
                    check_both(s);
                }
                s[at[a]] = filler(at[a]);
            }
        }
    }
    munmap(base, 4 * pg);
}

/* Names with every tchar, then a bad byte after many rare ones (the
 * second, exact scan), and a NULL value in lbg_cstr_field. */
static void
test_rare_tchar_and_null_value(void **state)
{
    static const char all[] = "!#$%&'*+-.^_`|~0123456789"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "abcdefghijklmnopqrstuvwxyz";
    char              buf[256];
    size_t            len, vlen, i;
    unsigned          f;

    (void) state;
    assert_int_equal(lbg_cstr_name(all, &len), 1);
    assert_int_equal(len, sizeof(all) - 1);
    for (i = 0; i + 1 < sizeof(all); i++) {
        memcpy(buf, all, sizeof(all));
        buf[i] = ':';
        assert_int_equal(lbg_cstr_name(buf, &len), 0);
        assert_int_equal(len, sizeof(all) - 1);
        buf[i] = '\0';
        assert_int_equal(lbg_cstr_name(buf, &len), i > 0);
        assert_int_equal(len, i);
    }
    assert_int_equal(lbg_cstr_name("", &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(lbg_cstr_value("", &len), 1);
    assert_int_equal(len, 0);
    f = lbg_cstr_field("X-A", NULL, &len, &vlen);
    assert_int_equal(f, LBG_CSTR_OK);
    assert_int_equal(len, 3);
    assert_int_equal(vlen, 0);
    f = lbg_cstr_field("X A", "a\x01", &len, &vlen);
    assert_int_equal(f, 0);
    assert_int_equal(len, 3);
    assert_int_equal(vlen, 2);
}


static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned
rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned) (rng % n);
}

/* Random tables against the quick pass of lbg_quick_field() on every
 * field (strlen for the lengths): same counts, same framing counts, same
 * lbg_quick_clean() under every profile, same first Content-Length; with
 * and without a skipped name, NULL names and values, names of 12, 14 and
 * 17 bytes, the framing names, and a bad byte here and there. */
static void
test_quick_tables(void **state)
{
    static const char *const names[] = {
        "X-A",
        "Content-Type",
        "content-type",
        "Content-Length",
        "X-Powered-By",
        "Transfer-Encoding",
        "CONTENT-LENGTH",
        "ETag",
        "X_Odd~Name!",
        "Cache-Control",
        "Accept-Ranges-X",
        "Vary",
        "X-Request-Id-Long-Name-Of-Forty-Bytes-Abcd",
        "A:B",
        "",
        "X A",
        "Set-Cookie",
        "X-Content-Ty"};
    static const char *const values[] = {
        "",
        "0",
        "1234",
        "12a",
        "chunked",
        "gzip, chunked",
        "text/html; charset=utf-8",
        "a\tb",
        "a\x01b",
        "\x80\xff obs",
        "x\x7f",
        "max-age=31536000; includeSubDomains; preload, and some more text to "
        "pass sixty-four bytes of value in one go",
        " lead",
        "trail ",
        "\"quoted\""};
    cstr_entry_t entries[24];
    lbg_quick_t  q, r;
    lbg_policy_t p;
    size_t       n, i, nl, vl;
    long         cl, rcl;
    int          round, prof, skip;

    (void) state;
    for (round = 0; round < 20000; round++) {
        n = rnd(24);
        for (i = 0; i < n; i++) {
            entries[i].name = rnd(16) == 0 ? NULL
                                           : names[rnd(LBGT_NELTS(names))];
            entries[i].value = rnd(16) == 0 ? NULL
                                            : values[rnd(LBGT_NELTS(values))];
            entries[i].checksum = 0;
        }
        skip = rnd(2);
        lbg_quick_init(&q);
        cl = lbg_cstr_quick(&q, entries, sizeof(entries[0]), n,
                            skip ? "content-type" : NULL, skip ? 12 : 0);
        lbg_quick_init(&r);
        rcl = -1;
        for (i = 0; i < n; i++) {
            const char *v = entries[i].value ? entries[i].value : "";

            if (entries[i].name == NULL) {
                continue;
            }
            nl = strlen(entries[i].name);
            vl = strlen(v);
            if (skip && nl == 12 && lbgt_ieq(entries[i].name, "content-type"))
            {
                continue;
            }
            if (rcl < 0
                && lbg_field_is_content_length(
                    (const unsigned char *) entries[i].name, nl))
            {
                rcl = (long) i;
            }
            lbg_quick_field(&r, (const unsigned char *) entries[i].name, nl,
                            (const unsigned char *) v, vl, 0);
        }
        assert_int_equal(cl, rcl);
        assert_int_equal(q.nfields, r.nfields);
        assert_int_equal(q.bytes, r.bytes);
        assert_int_equal(q.max_field, r.max_field);
        assert_int_equal(q.ncl, r.ncl);
        assert_int_equal(q.nte, r.nte);
        for (prof = 0; prof < LBG_PROFILE_COUNT; prof++) {
            lbg_policy_init(&p, (lbg_profile_e) prof);
            p.mode = LBG_MODE_REPAIR;
            assert_int_equal(lbg_quick_clean(&p, &q, 200, NULL, 0),
                             lbg_quick_clean(&p, &r, 200, NULL, 0));
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte_every_position),
        cmocka_unit_test(test_clean_every_alignment),
        cmocka_unit_test(test_guard_pages),
        cmocka_unit_test(test_across_pages),
        cmocka_unit_test(test_rare_tchar_and_null_value),
        cmocka_unit_test(test_quick_tables),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
