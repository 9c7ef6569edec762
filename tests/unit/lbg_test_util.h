/*
 * lbg_test_util.h -- helpers shared by the cmocka unit tests (tests/unit/).
 *
 * Each test_*.c is its own binary and includes this header once; every
 * helper is `static inline` so that a binary that does not use one gets no
 * "unused function" warning.
 *
 *   lbgt_guard_copy()   copies bytes to the end of an mmap'd page run that
 *                       is followed by a PROT_NONE page (picohttpparser's
 *                       test.c idea): any read past the end faults, with or
 *                       without ASan. lbgt_guard_free() unmaps it.
 *   lbgt_cases_load()   reads tests/cases/NNN-slug.{http,expect,repaired}
 *                       (LBG_CASES_DIR, set by the Makefile).
 *   lbgt_apply()        applies a report's edits to a copy of a view, as an
 *                       adapter would, so the result can be checked again.
 *   lbgt_check()        lbg_check into a report owned by the caller.
 */

#ifndef LBG_TEST_UTIL_H
#define LBG_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lbg_raw.h"

#ifndef LBG_CASES_DIR
#define LBG_CASES_DIR "tests/cases"
#endif

/* A field from two string literals (which may contain NUL bytes). */
#define LBGT_F(n, v)                                                         \
    {                                                                        \
        (const unsigned char *) (n), sizeof(n) - 1,                          \
            (const unsigned char *) (v), sizeof(v) - 1, 0, 0                 \
    }

#define LBGT_NELTS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- guard page ---------------------------------------------------------- */

/* Returns len writable bytes (filled with 0xa5) immediately followed by an
 * inaccessible page. Free with lbgt_guard_free(p, len). */
static inline unsigned char *
lbgt_guard_alloc(size_t len)
{
    size_t         pg = (size_t) sysconf(_SC_PAGESIZE);
    size_t         data = (len + pg - 1) / pg * pg;
    unsigned char *base;

    if (data == 0) {
        data = pg;
    }
    base = mmap(NULL, data + pg, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(base != MAP_FAILED);
    assert_int_equal(mprotect(base + data, pg, PROT_NONE), 0);
    memset(base, 0xa5, data);
    return base + data - len;
}

/* Returns a copy of src[0..len) whose last byte is immediately followed by
 * an inaccessible page. Free with lbgt_guard_free(p, len). */
static inline unsigned char *
lbgt_guard_copy(const void *src, size_t len)
{
    unsigned char *p = lbgt_guard_alloc(len);

    if (len) {
        memcpy(p, src, len);
    }
    return p;
}

static inline void
lbgt_guard_free(unsigned char *p, size_t len)
{
    size_t         pg = (size_t) sysconf(_SC_PAGESIZE);
    size_t         data = (len + pg - 1) / pg * pg;
    unsigned char *base;

    if (data == 0) {
        data = pg;
    }
    base = p + len - data;
    munmap(base, data + pg);
}

/*
 * The byte sweep of the exact-class tests: a span of len bytes of 'k'
 * (name) or 'v' (value), one byte replaced by every value 0..255, copied
 * to g (len bytes, e.g. at the end of a guard page) and handed to
 * fn(ctx, name, g, len) each time. Every position when len <= 40 (every
 * load path), else positions 0, len - 1, len / 2, 31, 32 and len - 17
 * (the loops' boundaries). Nothing for len 0.
 */
static inline void
lbgt_sweep(int name, unsigned char *g, size_t len,
           void (*fn)(void *ctx, int name, const unsigned char *g,
                      size_t len),
           void *ctx)
{
    unsigned char src[1024];
    size_t        ps[40], npos = 0, pos;
    unsigned      b;

    if (len > sizeof(src)) {
        return;
    }
    if (len <= 40) {
        for (pos = 0; pos < len; pos++) {
            ps[npos++] = pos;
        }
    } else {
        ps[npos++] = 0;
        ps[npos++] = len - 1;
        ps[npos++] = len / 2;
        ps[npos++] = 31;
        ps[npos++] = 32;
        ps[npos++] = len - 17;
    }
    for (pos = 0; pos < npos; pos++) {
        for (b = 0; b < 256; b++) {
            memset(src, name ? 'k' : 'v', len);
            src[ps[pos]] = (unsigned char) b;
            memcpy(g, src, len);
            fn(ctx, name, g, len);
        }
    }
}

/* ---- files and the case corpus -------------------------------------------- */

/* Reads a whole file; returns malloc'd bytes (NUL-terminated, not counted)
 * and sets *len, or NULL when the file does not exist. */
static inline unsigned char *
lbgt_read_file(const char *path, size_t *len)
{
    FILE          *f = fopen(path, "rb");
    unsigned char *buf;
    long           n;

    if (f == NULL) {
        return NULL;
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    buf = malloc((size_t) n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t) n;
    return buf;
}

#define LBGT_EXPECT_MAX 16

typedef struct {
    char           name[96]; /* "NNN-slug" */
    unsigned char *raw;      /* .http bytes (malloc'd) */
    size_t         len;
    int            head;                    /* .expect has a "head" line */
    lbg_rule_e     expect[LBGT_EXPECT_MAX]; /* .expect rules, in order */
    size_t         nexpect;
    unsigned char *repaired; /* .repaired bytes, or NULL when absent */
    size_t         repaired_len;
} lbgt_case_t;

static inline lbg_rule_e
lbgt_rule_by_name(const char *name)
{
    int id;

    for (id = 1; id < LBG_RULE_END; id++) {
        if (strcmp(lbg_rule_name((lbg_rule_e) id), name) == 0) {
            return (lbg_rule_e) id;
        }
    }
    return LBG_RULE_NONE;
}

static inline int
lbgt_name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Loads every NNN-slug.http of LBG_CASES_DIR, sorted by name. */
static inline lbgt_case_t *
lbgt_cases_load(size_t *ncases)
{
    DIR           *d = opendir(LBG_CASES_DIR);
    struct dirent *de;
    char         **names = NULL;
    size_t         n = 0, i;
    lbgt_case_t   *cases;
    char           path[512];

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 5 && strcmp(de->d_name + l - 5, ".http") == 0 && l < 96 + 5) {
            names = realloc(names, (n + 1) * sizeof(*names));
            assert_non_null(names);
            names[n] = strndup(de->d_name, l - 5);
            n++;
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), lbgt_name_cmp);

    cases = calloc(n ? n : 1, sizeof(*cases));
    assert_non_null(cases);
    for (i = 0; i < n; i++) {
        lbgt_case_t   *c = &cases[i];
        unsigned char *ex;
        size_t         exlen;
        char          *line, *save = NULL;

        snprintf(c->name, sizeof(c->name), "%s", names[i]);
        snprintf(path, sizeof(path), "%s/%s.http", LBG_CASES_DIR, names[i]);
        c->raw = lbgt_read_file(path, &c->len);
        assert_non_null(c->raw);
        snprintf(path, sizeof(path), "%s/%s.repaired", LBG_CASES_DIR,
                 names[i]);
        c->repaired = lbgt_read_file(path, &c->repaired_len);
        snprintf(path, sizeof(path), "%s/%s.expect", LBG_CASES_DIR, names[i]);
        ex = lbgt_read_file(path, &exlen);
        if (ex == NULL) {
            fail_msg("%s: missing .expect", names[i]);
        }
        for (line = strtok_r((char *) ex, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save))
        {
            if (strcmp(line, "head") == 0) {
                c->head = 1;
            } else if (strcmp(line, "none") != 0) {
                lbg_rule_e r = lbgt_rule_by_name(line);
                if (r == LBG_RULE_NONE) {
                    fail_msg("%s.expect: unknown rule \"%s\"", names[i],
                             line);
                }
                assert_true(c->nexpect < LBGT_EXPECT_MAX);
                c->expect[c->nexpect++] = r;
            }
        }
        free(ex);
        free(names[i]);
    }
    free(names);
    *ncases = n;
    return cases;
}

static inline void
lbgt_cases_free(lbgt_case_t *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(cases[i].raw);
        free(cases[i].repaired);
    }
    free(cases);
}

/* The corpus, loaded once per binary by the group setup below. */
static lbgt_case_t *lbgt_cases;
static size_t       lbgt_ncases;

static inline int
lbgt_cases_setup(void **state)
{
    (void) state;
    lbgt_cases = lbgt_cases_load(&lbgt_ncases);
    return 0;
}

static inline int
lbgt_cases_teardown(void **state)
{
    (void) state;
    lbgt_cases_free(lbgt_cases, lbgt_ncases);
    return 0;
}

/* ---- views and reports ----------------------------------------------------- */

/* A view of an HTTP/1.1 response whose status line the host writes. */
static inline lbg_response_t
lbgt_view(int status, const lbg_field_t *fields, size_t n)
{
    lbg_response_t r;

    memset(&r, 0, sizeof(r));
    r.version = 11;
    r.status = status;
    r.fields = fields;
    r.nfields = n;
    return r;
}

/* ---- reports ------------------------------------------------------------- */

/* A report with the suggested capacities, owned by the test. */
typedef struct {
    lbg_finding_t f[LBG_FINDINGS_MAX];
    lbg_edit_t    e[LBG_EDITS_MAX];
    lbg_report_t  rep;
} lbgt_report_t;

static inline void
lbgt_report_init(lbgt_report_t *t)
{
    memset(t, 0x5a, sizeof(*t)); /* garbage: init must reset everything */
    lbg_report_init(&t->rep, t->f, LBG_FINDINGS_MAX, t->e, LBG_EDITS_MAX);
}

/* Runs lbg_check with the strictest profile's policy (or *p) on r. */
static inline size_t
lbgt_check(const lbg_policy_t *p, const lbg_response_t *r, lbgt_report_t *t)
{
    lbg_policy_t def;

    if (p == NULL) {
        lbg_policy_init(&def, LBG_PROFILE_STRICTEST);
        p = &def;
    }
    lbgt_report_init(t);
    return lbg_check(p, r, &t->rep);
}

/* Index of the first finding of `rule`, or -1. */
static inline int
lbgt_find(const lbg_report_t *rep, lbg_rule_e rule)
{
    size_t i;

    for (i = 0; i < rep->nfindings; i++) {
        if (rep->findings[i].rule == rule) {
            return (int) i;
        }
    }
    return -1;
}

/* Number of findings of `rule`. */
static inline size_t
lbgt_count(const lbg_report_t *rep, lbg_rule_e rule)
{
    size_t i, n = 0;

    for (i = 0; i < rep->nfindings; i++) {
        n += rep->findings[i].rule == rule;
    }
    return n;
}

/* Index of the first edit with op `op` (and field `field`, unless
 * LBG_NO_FIELD), or -1. */
static inline int
lbgt_find_edit(const lbg_report_t *rep, lbg_edit_op_e op, size_t field)
{
    size_t i;

    for (i = 0; i < rep->nedits; i++) {
        if (rep->edits[i].op == op
            && (field == LBG_NO_FIELD || rep->edits[i].field == field))
        {
            return (int) i;
        }
    }
    return -1;
}

/* Prints the findings of a report, for failure messages. */
static inline void
lbgt_dump(const char *what, const lbg_report_t *rep)
{
    size_t i;

    print_message("%s: %zu finding(s)%s:", what, rep->nfindings,
                  rep->truncated ? " (truncated)" : "");
    for (i = 0; i < rep->nfindings; i++) {
        print_message(" %s", lbg_rule_name(rep->findings[i].rule));
    }
    print_message("\n");
}

/* Asserts that rep's findings are exactly rules[0..n), in that order. */
static inline void
lbgt_assert_rules(const char *what, const lbg_report_t *rep,
                  const lbg_rule_e *rules, size_t n)
{
    size_t i;
    int    ok = rep->nfindings == n;

    for (i = 0; ok && i < n; i++) {
        ok = rep->findings[i].rule == rules[i];
    }
    if (!ok) {
        print_message("%s: expected", what);
        for (i = 0; i < n; i++) {
            print_message(" %s", lbg_rule_name(rules[i]));
        }
        print_message("\n");
        lbgt_dump(what, rep);
        fail_msg("%s: findings differ", what);
    }
}

/* ---- applying edits, as an adapter does ----------------------------------- */

#define LBGT_APPLY_MAX 256

/* A repaired copy of a view. SANITIZE values are written into buf. */
typedef struct {
    lbg_response_t view;
    lbg_field_t    fields[LBGT_APPLY_MAX];
    unsigned char *buf[LBGT_APPLY_MAX];
    int            close;
    int            no_body;
} lbgt_applied_t;

/* Applies rep's edits to r: REMOVE drops the field, SANITIZE replaces its
 * value by lbg_sanitize() of it, SET replaces the value, STATUS sets the
 * code and clears status_line (the host writes its own reason phrase),
 * CLOSE and NO_BODY set flags. Free with lbgt_applied_free. */
static inline void
lbgt_apply(const lbg_response_t *r, const lbg_report_t *rep,
           lbgt_applied_t *a)
{
    unsigned char removed[LBGT_APPLY_MAX];
    lbg_field_t   tmp[LBGT_APPLY_MAX];
    size_t        i, n = 0;

    assert_true(r->nfields <= LBGT_APPLY_MAX);
    memset(a, 0, sizeof(*a));
    memset(removed, 0, sizeof(removed));
    a->view = *r;
    for (i = 0; i < r->nfields; i++) {
        tmp[i] = r->fields[i];
    }
    for (i = 0; i < rep->nedits; i++) {
        const lbg_edit_t *e = &rep->edits[i];

        switch (e->op) {
        case LBG_EDIT_STATUS:
            assert_true(e->status >= 100 && e->status <= 599);
            a->view.status = e->status;
            a->view.status_line = NULL;
            a->view.status_line_len = 0;
            break;
        case LBG_EDIT_REMOVE:
            assert_true(e->field < r->nfields);
            removed[e->field] = 1;
            break;
        case LBG_EDIT_SANITIZE:
            assert_true(e->field < r->nfields);
            if (a->buf[e->field] == NULL) {
                a->buf[e->field] = malloc(tmp[e->field].value_len + 1);
                assert_non_null(a->buf[e->field]);
                lbg_sanitize(tmp[e->field].value, tmp[e->field].value_len,
                             a->buf[e->field]);
                tmp[e->field].value = a->buf[e->field];
            }
            break;
        case LBG_EDIT_SET:
            assert_true(e->field < r->nfields);
            assert_true(e->value != NULL || e->value_len == 0);
            tmp[e->field].value = e->value;
            tmp[e->field].value_len = e->value_len;
            break;
        case LBG_EDIT_CLOSE: a->close = 1; break;
        case LBG_EDIT_NO_BODY: a->no_body = 1; break;
        case LBG_EDIT_BAD_GATEWAY:
            /* the target's own 502: none of the original fields */
            a->view.status = 502;
            a->view.status_line = NULL;
            a->view.status_line_len = 0;
            a->close = 1;
            for (n = 0; n < r->nfields; n++) {
                removed[n] = 1;
            }
            n = 0;
            break;
        default: fail_msg("unknown edit op %d", (int) e->op);
        }
    }
    for (i = 0; i < r->nfields; i++) {
        if (!removed[i]) {
            a->fields[n++] = tmp[i];
        }
    }
    a->view.fields = a->fields;
    a->view.nfields = n;
}

static inline void
lbgt_applied_free(lbgt_applied_t *a)
{
    size_t i;

    for (i = 0; i < LBGT_APPLY_MAX; i++) {
        free(a->buf[i]);
    }
}

/* ---- raw parsing ----------------------------------------------------------- */

#define LBGT_FIELDS_CAP 256

/* Everything one lbg_parse needs, owned by the test. */
typedef struct {
    lbg_field_t   fields[LBGT_FIELDS_CAP];
    lbg_raw_t     raw;
    lbgt_report_t r;
    int           rc;
} lbgt_parse_t;

static inline int
lbgt_parse(const lbg_policy_t *p, const unsigned char *buf, size_t len,
           int head, lbgt_parse_t *t)
{
    lbg_policy_t def;

    if (p == NULL) {
        lbg_policy_init(&def, LBG_PROFILE_STRICTEST);
        p = &def;
    }
    memset(&t->raw, 0x5a, sizeof(t->raw));
    lbgt_report_init(&t->r);
    t->rc = lbg_parse(p, buf, len, head, t->fields, LBGT_FIELDS_CAP, &t->raw,
                      &t->r.rep);
    return t->rc;
}

#endif /* LBG_TEST_UTIL_H */
