/*
 * test_check_bytes.c -- lbg_check()'s own byte checks of field names and
 * values (RFC 9110 5.1, 5.5) held to the reference classes, whatever the
 * path: the inline SSE2 test one field at a time, the AVX2 pass two fields
 * at a time (chosen at run time), the portable one (build/unit-portable).
 *
 *   test_check_every_byte   one untrusted field among three (at index 0,
 *                           1 and 2: either half of a pair and a last odd
 *                           field), names and values of every length 0 to
 *                           40 with every byte value at every position,
 *                           longer ones at a few positions, each span at
 *                           the end of a page: a finding exactly when the
 *                           reference says the part is bad, on that field
 *                           and for that part;
 *   test_check_fields_alone random responses of 1 to 12 fields (bad bytes,
 *                           the rarer tchar, long names and values,
 *                           trusted fields, lines over the field budget):
 *                           the findings and edits of the response are
 *                           those of each field checked alone, in field
 *                           order (responses with more findings than the
 *                           report holds are left out), and a field alone
 *                           is over the budget exactly when its line is;
 *   test_check_framing_fields a Content-Length and/or a Transfer-Encoding
 *                           (any case, trusted or not) at every position
 *                           of 1 to 9 fields among names of 14 and 17
 *                           bytes that are not framing names and names of
 *                           other lengths: the framing verdict and the
 *                           findings do not depend on where the field is
 *                           or on its neighbours (the AVX2 pass counts the
 *                           framing names in its span dispatch);
 *   test_check_findings_exact every finding and edit of one field held to
 *                           a reference of the byte walk (rule, at,
 *                           at_len, n1, edits, worst tier): values of 1 to
 *                           40 bytes with every byte value at every
 *                           position (the lanes of the fast path), two
 *                           bad bytes up to 20 and at the edges of the
 *                           16-byte loads up to 65, names of 0 to 40 bytes,
 *                           every profile in detect and repair mode;
 *   test_check_findings_full a report without room: the finding and the
 *                           edit dropped, truncated and close set.
 */

#include "lbg_test_util.h"

#include "lbg_quick.h"


static unsigned long lbgt_seed = 14;

static unsigned
lbgt_rand(unsigned n)
{
    lbgt_seed = lbgt_seed * 6364136223846793005UL + 1442695040888963407UL;
    return (unsigned) (lbgt_seed >> 33) % n;
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
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* 1 when a finding of rule `rule` is about a field name */
static int
name_rule(lbg_rule_e rule)
{
    return rule == LBG_RULE_FIELD_NAME_INVALID
           || rule == LBG_RULE_FIELD_NAME_NOT_TOKEN;
}

/* lbg_check() on 200 with fields f[0..n) under p; returns the report */
static size_t
check(const lbg_policy_t *p, const lbg_field_t *f, size_t n,
      lbg_report_t *rep, lbg_finding_t *fd, lbg_edit_t *ed)
{
    lbg_response_t r;

    memset(&r, 0, sizeof(r));
    r.version = 11;
    r.status = 200;
    r.fields = f;
    r.nfields = n;
    lbg_report_init(rep, fd, LBG_FINDINGS_MAX, ed, LBG_EDITS_MAX);
    return lbg_check(p, &r, rep);
}

/* Span g[0..len) as the name (name 1) or the value of the field at index
 * pos of three, the others "X-A: 1" */
static void
one_span(const lbg_policy_t *p, int name, const unsigned char *g, size_t len)
{
    lbg_field_t   f[3];
    lbg_report_t  rep;
    lbg_finding_t fd[LBG_FINDINGS_MAX];
    lbg_edit_t    ed[LBG_EDITS_MAX];
    size_t        pos, k, n;
    int           want = 1;

    for (k = 0; k < len; k++) {
        want &= name ? ref_tchar(g[k]) : ref_vbyte(g[k]);
    }
    if (name && len == 0) {
        want = 0;
    }
    for (pos = 0; pos < 3; pos++) {
        for (k = 0; k < 3; k++) {
            f[k] = (lbg_field_t) LBGT_F("X-A", "1");
        }
        if (name) {
            f[pos].name = g;
            f[pos].name_len = len;
        } else {
            f[pos].name = (const unsigned char *) "X-Val";
            f[pos].name_len = 5;
            f[pos].value = g;
            f[pos].value_len = len;
        }
        n = check(p, f, 3, &rep, fd, ed);
        if ((n == 0) != want) {
            fail_msg("%s of %zu bytes (first 0x%02x) at field %zu: %zu "
                     "findings, reference %s",
                     name ? "name" : "value", len, len ? g[0] : 0, pos, n,
                     want ? "clean" : "bad");
        }
        for (k = 0; k < n; k++) {
            if (fd[k].field != pos || name_rule(fd[k].rule) != name) {
                fail_msg("%s of %zu bytes at field %zu: finding %s on "
                         "field %zu",
                         name ? "name" : "value", len, pos,
                         lbg_rule_name(fd[k].rule), fd[k].field);
            }
        }
    }
}

/* one_span() as lbgt_sweep() calls it (ctx: the policy) */
static void
sweep_span(void *ctx, int name, const unsigned char *g, size_t len)
{
    one_span(ctx, name, g, len);
}

static void
test_check_every_byte(void **state)
{
    static const size_t longer[] = {41, 47,  48,  63,  64,  65,  95,  96,
                                    97, 127, 128, 129, 160, 255, 300, 1000};
    unsigned char      *g;
    size_t              len, li;
    int                 name;
    lbg_policy_t        p;

    (void) state;
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.mode = LBG_MODE_REPAIR;
    p.max_field_bytes = p.max_header_bytes = p.max_fields = 0;
    for (name = 0; name < 2; name++) {
        for (li = 0; li < 41 + LBGT_NELTS(longer); li++) {
            len = li < 41 ? li : longer[li - 41];
            g = lbgt_guard_alloc(len);
            lbgt_sweep(name, g, len, sweep_span, &p);
            if (len == 0) {
                one_span(&p, name, g, 0);
            }
            lbgt_guard_free(g, len);
        }
    }
}

/* Random bytes for a name or a value: mostly ordinary, some of the rarer
 * tchar, some bad */
static void
fill(unsigned char *s, size_t n, unsigned bad_per_mille)
{
    static const char          ok[] = "abcXYZ-09_.!#$%&'*+^`|~ ";
    static const unsigned char bad[] = {0,    1,    9,   10,  13,  0x1f, 0x7f,
                                        0x80, 0xff, ':', '"', ' ', '('};
    size_t                     i;

    for (i = 0; i < n; i++) {
        if (lbgt_rand(1000) < bad_per_mille) {
            s[i] = bad[lbgt_rand(sizeof(bad))];
        } else {
            s[i] = (unsigned char) ok[lbgt_rand(sizeof(ok) - 1)];
        }
    }
}

#define NF 12

static void
test_check_fields_alone(void **state)
{
    static const size_t  lens[] = {0,  1,  2,  3,  4,  7,  8,  9,  15, 16,
                                   17, 31, 32, 33, 48, 95, 96, 97, 200};
    static unsigned char buf[NF][2][200];
    lbg_field_t          f[NF];
    lbg_report_t         rep, one;
    lbg_finding_t        fd[LBG_FINDINGS_MAX], fo[LBG_FINDINGS_MAX];
    lbg_edit_t           ed[LBG_EDITS_MAX], eo[LBG_EDITS_MAX];
    lbg_policy_t         p;
    size_t               n, i, k, nfd, ned, iter, ntrunc = 0, big;
    unsigned             bad;

    (void) state;
    for (iter = 0; iter < 200000; iter++) {
        lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
        p.mode = LBG_MODE_REPAIR;
        p.max_field_bytes = lbgt_rand(4) == 0 ? 1 + lbgt_rand(120) : 0;
        p.max_header_bytes = p.max_fields = 0;
        n = 1 + lbgt_rand(NF);
        bad = lbgt_rand(3) == 0 ? 200 : lbgt_rand(2) ? 10 : 0;
        for (i = 0; i < n; i++) {
            f[i].name_len = lens[lbgt_rand(LBGT_NELTS(lens))];
            f[i].value_len = lens[lbgt_rand(LBGT_NELTS(lens))];
            fill(buf[i][0], f[i].name_len, bad);
            fill(buf[i][1], f[i].value_len, bad);
            if (f[i].name_len == 14 || f[i].name_len == 17) {
                buf[i][0][0] = 'Y'; /* not a framing name */
            }
            f[i].name = buf[i][0];
            f[i].value = buf[i][1];
            f[i].origin = 0;
            f[i].trusted = lbgt_rand(5) == 0;
        }
        check(&p, f, n, &rep, fd, ed);
        if (rep.truncated) {
            /* more findings than the report holds: compared elsewhere */
            ntrunc++;
            continue;
        }
        nfd = ned = 0;
        for (i = 0; i < n; i++) {
            check(&p, &f[i], 1, &one, fo, eo);
            /* the field budget, held to its definition (RFC 9110 5.4:
             * name, ": ", value, CRLF), trusted or not */
            big = 0;
            for (k = 0; k < one.nfindings; k++) {
                big += fo[k].rule == LBG_RULE_FIELD_TOO_LARGE;
            }
            if (big
                != (p.max_field_bytes
                    && f[i].name_len + f[i].value_len + 4
                           > p.max_field_bytes))
            {
                fail_msg("iteration %zu: field of %zu + %zu bytes%s under "
                         "a field budget of %zu: %zu field-too-large",
                         iter, f[i].name_len, f[i].value_len,
                         f[i].trusted ? " (trusted)" : "", p.max_field_bytes,
                         big);
            }
            for (k = 0; k < one.nfindings; k++, nfd++) {
                if (nfd >= rep.nfindings || fd[nfd].rule != fo[k].rule
                    || fd[nfd].field != i || fd[nfd].at != fo[k].at
                    || fd[nfd].at_len != fo[k].at_len
                    || fd[nfd].n1 != fo[k].n1 || fd[nfd].n2 != fo[k].n2)
                {
                    fail_msg("iteration %zu: field %zu of %zu: finding %zu "
                             "(%s) differs from the field alone's (%s)",
                             iter, i, n, nfd,
                             nfd < rep.nfindings ? lbg_rule_name(fd[nfd].rule)
                                                 : "none",
                             lbg_rule_name(fo[k].rule));
                }
            }
            for (k = 0; k < one.nedits; k++, ned++) {
                if (ned >= rep.nedits || ed[ned].op != eo[k].op
                    || (ed[ned].field != i && eo[k].field != LBG_NO_FIELD))
                {
                    fail_msg("iteration %zu: field %zu of %zu: edit %zu "
                             "differs from the field alone's",
                             iter, i, n, ned);
                }
            }
        }
        if (nfd != rep.nfindings || ned != rep.nedits) {
            fail_msg("iteration %zu: %zu findings and %zu edits, %zu and "
                     "%zu from the fields alone",
                     iter, rep.nfindings, rep.nedits, nfd, ned);
        }
    }
    /* most responses fit the report */
    assert_true(ntrunc < 20000);
}

/* The filler fields of test_check_framing_fields: names of the framing
 * names' lengths (14, 17) that are not framing names, and others */
static const lbg_field_t framing_fillers[] = {
    LBGT_F("Content-Lengtx", "5"),
    LBGT_F("Transfer-Encodinx", "chunked"),
    LBGT_F("X-A", "1"),
    LBGT_F("Date", "Mon, 07 Dec 2026 14:10:00 GMT"),
    LBGT_F("Content-Type", "text/plain"),
    LBGT_F("X-Content-Type-Options", "nosniff"),
    LBGT_F("X-Very-Long-Field-Name-For-Tracing-Purposes-Across-Services",
           "v"),
    LBGT_F("Content-Length2", "7"),
};

static void
test_check_framing_fields(void **state)
{
    static const char *const cl_names[] = {"Content-Length", "content-length",
                                           "CONTENT-LENGTH"};
    static const char *const te_names[] = {"Transfer-Encoding",
                                           "transfer-encoding",
                                           "TRANSFER-ENCODING"};
    lbg_field_t              f[10];
    lbg_report_t             rep;
    lbg_finding_t            fd[LBG_FINDINGS_MAX];
    lbg_edit_t               ed[LBG_EDITS_MAX];
    lbg_policy_t             p;
    size_t                   n, pos, pos2, i, nfind, kind;
    unsigned                 trust;

    (void) state;
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.mode = LBG_MODE_REPAIR;
    for (n = 1; n <= 9; n++) {
        for (pos = 0; pos < n; pos++) {
            for (pos2 = 0; pos2 < n; pos2++) {
                for (kind = 0; kind < 3; kind++) {
                    /* kind 0: a Content-Length at pos; 1: a
                     * Transfer-Encoding at pos; 2: both, at pos and pos2 */
                    if (kind != 2 && pos2 != 0) {
                        continue;
                    }
                    if (kind == 2 && pos2 == pos) {
                        continue;
                    }
                    for (trust = 0; trust < 4; trust++) {
                        for (i = 0; i < n; i++) {
                            f[i] = framing_fillers[(i + pos + trust)
                                                   % LBGT_NELTS(
                                                       framing_fillers)];
                            f[i].trusted = (i + trust) % 3 == 0;
                        }
                        if (kind != 1) {
                            f[pos].name = (const unsigned char *)
                                cl_names[(pos + trust) % 3];
                            f[pos].name_len = 14;
                            f[pos].value = (const unsigned char *) "42";
                            f[pos].value_len = 2;
                            f[pos].trusted = trust & 1;
                        }
                        i = kind == 2 ? pos2 : pos;
                        if (kind != 0) {
                            f[i].name = (const unsigned char *)
                                te_names[(i + trust) % 3];
                            f[i].name_len = 17;
                            f[i].value = (const unsigned char *) "chunked";
                            f[i].value_len = 7;
                            f[i].trusted = (trust >> 1) & 1;
                        }
                        nfind = check(&p, f, n, &rep, fd, ed);
                        if (kind == 0) {
                            assert_int_equal(nfind, 0);
                            assert_int_equal(rep.framing, LBG_FRAMING_LENGTH);
                            assert_int_equal(rep.declared, 42);
                        } else if (kind == 1) {
                            assert_int_equal(nfind, 0);
                            assert_int_equal(rep.framing,
                                             LBG_FRAMING_CHUNKED);
                        } else {
                            assert_int_equal(nfind, 1);
                            assert_int_equal(fd[0].rule,
                                             LBG_RULE_TE_WITH_CONTENT_LENGTH);
                            assert_int_equal(fd[0].field, pos);
                            assert_int_equal(rep.framing,
                                             LBG_FRAMING_CHUNKED);
                        }
                    }
                }
            }
        }
    }
}

/* --- test_check_findings_exact ------------------------------------------
 * The reference of lbg_check()'s field findings, one field: the name
 * (field-name-invalid when empty or a byte is SP, HTAB, CTL, DEL or ':',
 * else field-name-not-token when a byte is not a tchar; at the whole
 * name; edit REMOVE), then the value walk (obs-fold, trailing CR, CR/LF,
 * NUL, other CTL; one finding per rule per field, at the first offending
 * byte, n1 its index; edit SANITIZE once); each filtered by the profile
 * (lbg_rule_in_profile()). */

typedef struct {
    lbg_rule_e           rule;
    const unsigned char *at;
    size_t               at_len;
    int64_t              n1;
} ref_finding_t;

static int
ref_namebad(unsigned char c)
{
    return c <= 0x20 || c == 0x7f || c == ':';
}

static int
ref_ws(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* The reference findings of a field (name nm[0..nn), value v[0..nv))
 * under profile `profile`, into out[] (at most 8); *name_edit and
 * *value_edit: whether REMOVE / SANITIZE follow */
static size_t
ref_field(lbg_profile_e profile, const unsigned char *nm, size_t nn,
          const unsigned char *v, size_t nv, ref_finding_t *out,
          int *name_edit, int *value_edit)
{
    size_t     n = 0, i, len;
    unsigned   seen = 0, bit;
    int        invalid = nn == 0, not_token = 0;
    lbg_rule_e rule;

    *name_edit = *value_edit = 0;
    for (i = 0; i < nn; i++) {
        invalid |= ref_namebad(nm[i]);
        not_token |= !ref_tchar(nm[i]);
    }
    if (invalid || not_token) {
        rule = invalid ? LBG_RULE_FIELD_NAME_INVALID
                       : LBG_RULE_FIELD_NAME_NOT_TOKEN;
        if (lbg_rule_in_profile(rule, profile)) {
            out[n++] = (ref_finding_t){rule, nm, nn, 0};
            *name_edit = 1;
        }
    }
    for (i = 0; i < nv;) {
        if (ref_vbyte(v[i])) {
            i++;
            continue;
        }
        if (v[i] == '\r' && i + 2 < nv && v[i + 1] == '\n'
            && ref_ws(v[i + 2])) {
            len = 3, bit = 1, rule = LBG_RULE_OBS_FOLD;
        } else if (v[i] == '\n' && i + 1 < nv && ref_ws(v[i + 1])) {
            len = 2, bit = 1, rule = LBG_RULE_OBS_FOLD;
        } else if (v[i] == '\r' && i == nv - 1) {
            len = 1, bit = 0, rule = LBG_RULE_FIELD_VALUE_TRAILING_CR;
        } else if (v[i] == '\r' || v[i] == '\n') {
            len = 1, bit = 2, rule = LBG_RULE_FIELD_VALUE_CR_LF;
        } else if (v[i] == 0) {
            len = 1, bit = 4, rule = LBG_RULE_FIELD_VALUE_NUL;
        } else {
            len = 1, bit = 8, rule = LBG_RULE_FIELD_VALUE_CTL;
        }
        if (bit != 0 && (seen & bit)) {
            i += len;
            continue;
        }
        seen |= bit;
        if (lbg_rule_in_profile(rule, profile)) {
            out[n++] = (ref_finding_t){rule, v + i, len, (int64_t) i};
            *value_edit = 1;
        }
        i += len;
    }
    return n;
}

/* lbg_check() on three fields, field `pos` the one given (the others
 * "X-A: 1"), held to ref_field(): every finding (rule, field, at, at_len,
 * n1, n2), every edit (op, field), the worst tier, unrepairable */
static void
exact_one(const lbg_policy_t *p, size_t pos, const unsigned char *nm,
          size_t nn, const unsigned char *v, size_t nv)
{
    lbg_field_t   f[3];
    lbg_report_t  rep;
    lbg_finding_t fd[LBG_FINDINGS_MAX];
    lbg_edit_t    ed[LBG_EDITS_MAX];
    ref_finding_t want[16];
    size_t        n, k, ne = 0;
    int           name_edit, value_edit;
    lbg_tier_e    worst = LBG_TIER_COMPLIANT;

    for (k = 0; k < 3; k++) {
        f[k] = (lbg_field_t) LBGT_F("X-A", "1");
    }
    f[pos].name = nm;
    f[pos].name_len = nn;
    f[pos].value = v;
    f[pos].value_len = nv;
    n = ref_field(p->profile, nm, nn, v, nv, want, &name_edit, &value_edit);
    check(p, f, 3, &rep, fd, ed);
    if (rep.nfindings != n) {
        fail_msg("name of %zu, value of %zu bytes (0x%02x at 0) at field "
                 "%zu, profile %s: %zu findings, reference %zu",
                 nn, nv, nv ? v[0] : 0, pos, lbg_profile_name(p->profile),
                 rep.nfindings, n);
    }
    for (k = 0; k < n; k++) {
        if (fd[k].rule != want[k].rule || fd[k].field != pos
            || fd[k].at != want[k].at || fd[k].at_len != want[k].at_len
            || fd[k].n1 != want[k].n1 || fd[k].n2 != 0
            || fd[k].after_repair != 0)
        {
            fail_msg("name of %zu, value of %zu bytes at field %zu, "
                     "profile %s: finding %zu %s n1 %lld at_len %zu, "
                     "reference %s n1 %lld at_len %zu",
                     nn, nv, pos, lbg_profile_name(p->profile), k,
                     lbg_rule_name(fd[k].rule), (long long) fd[k].n1,
                     fd[k].at_len, lbg_rule_name(want[k].rule),
                     (long long) want[k].n1, want[k].at_len);
        }
        if (lbg_rule(want[k].rule)->tier > worst) {
            worst = lbg_rule(want[k].rule)->tier;
        }
    }
    if (name_edit) {
        if (ne >= rep.nedits || ed[ne].op != LBG_EDIT_REMOVE
            || ed[ne].field != pos) {
            fail_msg("name of %zu bytes at field %zu: no REMOVE", nn, pos);
        }
        ne++;
    }
    if (value_edit) {
        if (ne >= rep.nedits || ed[ne].op != LBG_EDIT_SANITIZE
            || ed[ne].field != pos || ed[ne].status != 0
            || ed[ne].value != NULL || ed[ne].value_len != 0)
        {
            fail_msg("value of %zu bytes at field %zu: no SANITIZE", nv, pos);
        }
        ne++;
    }
    if (rep.nedits != ne || rep.worst != worst || rep.unrepairable
        || rep.truncated || rep.close)
    {
        fail_msg("name of %zu, value of %zu bytes at field %zu: %zu edits "
                 "(reference %zu), worst %d (%d), flags %u %u %u",
                 nn, nv, pos, rep.nedits, ne, (int) rep.worst, (int) worst,
                 rep.unrepairable, rep.truncated, rep.close);
    }
}

static void
test_check_findings_exact(void **state)
{
    static const unsigned char two[] = {0x00, 0x01, 0x09, 0x0a,
                                        0x0d, 0x1f, 0x7f, ' '};
    static const size_t        longer[] = {47, 64, 100};
    static const size_t two_lens[] = {17, 24, 31, 32, 33, 47, 48, 63, 64, 65};
    static const size_t two_pos[] = {0,  1,  7,  8,  15, 16,
                                     17, 31, 32, 33, 47, 48};
    unsigned char      *g, *nm;
    size_t              len, li, k, k2, pos;
    unsigned            c, c2, prof;
    lbg_policy_t        p;

    (void) state;
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.mode = LBG_MODE_REPAIR;
    p.max_field_bytes = p.max_header_bytes = p.max_fields = 0;
    /* a value of 1 to 40 bytes (and a few longer): every byte value at
     * every position, in either half of a pair and alone; then two bad
     * bytes at every two positions up to 20 bytes */
    for (li = 1; li < 41 + LBGT_NELTS(longer); li++) {
        len = li < 41 ? li : longer[li - 41];
        g = lbgt_guard_alloc(len);
        for (k = 0; k < len; k++) {
            for (c = 0; c < 256; c++) {
                memset(g, 'v', len);
                g[k] = (unsigned char) c;
                for (pos = 0; pos < 3; pos++) {
                    exact_one(&p, pos, (const unsigned char *) "X-Val", 5, g,
                              len);
                }
            }
        }
        for (k = 0; len <= 20 && k < len; k++) {
            for (k2 = k + 1; k2 < len; k2++) {
                for (c = 0; c < sizeof(two); c++) {
                    for (c2 = 0; c2 < sizeof(two); c2++) {
                        memset(g, 'v', len);
                        g[k] = two[c];
                        g[k2] = two[c2];
                        exact_one(&p, 2, (const unsigned char *) "X-Val", 5,
                                  g, len);
                    }
                }
            }
        }
        lbgt_guard_free(g, len);
    }
    /* two bad bytes in values of 17 to 65 bytes, at the loads' edges */
    for (li = 0; li < LBGT_NELTS(two_lens); li++) {
        len = two_lens[li];
        g = lbgt_guard_alloc(len);
        for (k = 0; k < LBGT_NELTS(two_pos); k++) {
            for (k2 = 0; k2 < LBGT_NELTS(two_pos); k2++) {
                if (two_pos[k] >= len || two_pos[k2] >= len
                    || two_pos[k] == two_pos[k2]) {
                    continue;
                }
                for (c = 0; c < sizeof(two); c++) {
                    for (c2 = 0; c2 < sizeof(two); c2++) {
                        memset(g, 'v', len);
                        g[two_pos[k]] = two[c];
                        g[len - 1 - two_pos[k2]] = two[c2];
                        exact_one(&p, 1, (const unsigned char *) "X-Val", 5,
                                  g, len);
                    }
                }
            }
        }
        lbgt_guard_free(g, len);
    }
    /* a name of 0 to 40 bytes: every byte value at every position, the
     * value clean or with a CTL */
    for (len = 0; len <= 40; len++) {
        nm = lbgt_guard_alloc(len);
        for (k = 0; k < (len ? len : 1); k++) {
            for (c = 0; c < 256; c++) {
                memset(nm, 'n', len);
                if (len) {
                    nm[k] = (unsigned char) c;
                }
                for (pos = 0; pos < 3; pos++) {
                    exact_one(&p, pos, nm, len, (const unsigned char *) "ok",
                              2);
                    exact_one(&p, pos, nm, len,
                              (const unsigned char *) "a\001b", 3);
                }
            }
        }
        lbgt_guard_free(nm, len);
    }
    /* every profile, detect and repair: a bad byte at the first and the
     * last position of values of 1 to 20 bytes, bad names */
    for (prof = 0; prof < (unsigned) LBG_PROFILE_COUNT; prof++) {
        lbg_policy_init(&p, (lbg_profile_e) lbg_profile_at(prof));
        p.mode = prof & 1 ? LBG_MODE_DETECT : LBG_MODE_REPAIR;
        p.max_field_bytes = p.max_header_bytes = p.max_fields = 0;
        for (len = 1; len <= 20; len++) {
            g = lbgt_guard_alloc(len);
            for (c = 0; c < 256; c++) {
                for (k = 0; k < len; k += len - 1 ? len - 1 : 1) {
                    memset(g, 'v', len);
                    g[k] = (unsigned char) c;
                    exact_one(&p, 1, (const unsigned char *) "X-Val", 5, g,
                              len);
                    exact_one(&p, 1, (const unsigned char *) "X-B@d", 5, g,
                              len);
                    exact_one(&p, 1, (const unsigned char *) "X-B:d", 5, g,
                              len);
                }
            }
            lbgt_guard_free(g, len);
        }
    }
}

/* A full report: the fast path drops the finding and the edit exactly as
 * the reference report does (truncated, close). */
static void
test_check_findings_full(void **state)
{
    lbg_field_t    f[2] = {LBGT_F("X-A", "1"), LBGT_F("X-B", "a\001b")};
    lbg_report_t   rep;
    lbg_finding_t  fd[1];
    lbg_edit_t     ed[1];
    lbg_response_t r;
    lbg_policy_t   p;
    size_t         nf, ne;

    (void) state;
    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    memset(&r, 0, sizeof(r));
    r.version = 11;
    r.status = 200;
    r.fields = f;
    r.nfields = 2;
    for (nf = 0; nf < 2; nf++) {
        for (ne = 0; ne < 2; ne++) {
            lbg_report_init(&rep, fd, nf, ed, ne);
            assert_int_equal(lbg_check(&p, &r, &rep), nf);
            assert_int_equal(rep.nfindings, nf);
            assert_int_equal(rep.nedits, ne);
            assert_int_equal(rep.worst, LBG_TIER_AMBIGUOUS);
            assert_int_equal(rep.truncated, !(nf && ne));
            assert_int_equal(rep.close, !(nf && ne));
            if (nf) {
                assert_int_equal(fd[0].rule, LBG_RULE_FIELD_VALUE_CTL);
                assert_int_equal(fd[0].n1, 1);
            }
            if (ne) {
                assert_int_equal(ed[0].op, LBG_EDIT_SANITIZE);
                assert_int_equal(ed[0].field, 1);
            }
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_every_byte),
        cmocka_unit_test(test_check_fields_alone),
        cmocka_unit_test(test_check_framing_fields),
        cmocka_unit_test(test_check_findings_exact),
        cmocka_unit_test(test_check_findings_full),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
