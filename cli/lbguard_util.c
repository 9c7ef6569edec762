/*
 * lbguard_util.c -- the shared helpers of the lbguard command-line tool:
 * messages, option values (the option table, --profile, --fail-on,
 * durations), the load balancers' names (text, or JSON through
 * lbguard_json.c), the monotonic clock and an ASCII case-insensitive
 * comparison. Calls only lbguard_json.c, the core (common/) and libc.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lbguard_cli.h"


void
lbguard_err(const char *cmd, const char *fmt, ...)
{
    va_list              ap;
    char                 fixed[1024], out_fixed[1024], *m = fixed;
    char                *out = out_fixed, *o;
    const unsigned char *c;
    size_t               need;
    int                  n;

    va_start(ap, fmt);
    n = vsnprintf(fixed, sizeof(fixed), fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
        fixed[0] = '\0';
    } else if (n >= (int) sizeof(fixed)) {
        m = malloc((size_t) n + 1);
        if (m != NULL) {
            va_start(ap, fmt);
            vsnprintf(m, (size_t) n + 1, fmt, ap);
            va_end(ap);
        } else {
            m = fixed; /* out of memory: the message cut */
            n = (int) strlen(fixed);
        }
    }
    /* one line whatever the message quotes (a path, a URL, an option's
     * value): a control byte is written \xHH; the line goes out in one
     * write (stderr is unbuffered) */
    need = strlen("lbguard: ") + (cmd ? strlen(cmd) + 2 : 0) + 4 * (size_t) n
           + 2;
    if (need > sizeof(out_fixed) && (out = malloc(need)) == NULL) {
        out = out_fixed;
        need = sizeof(out_fixed);
    }
    o = out
        + snprintf(out, need, "lbguard: %s%s", cmd ? cmd : "",
                   cmd ? ": " : "");
    for (c = (const unsigned char *) m; *c && o + 6 <= out + need; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            o += snprintf(o, 5, "\\x%02x", *c);
        } else {
            *o++ = (char) *c;
        }
    }
    *o++ = '\n';
    fwrite(out, 1, (size_t) (o - out), stderr);
    if (m != fixed) {
        free(m);
    }
    if (out != out_fixed) {
        free(out);
    }
}


int
lbguard_opt_value(const char *cmd, int argc, char **argv, int *i,
                  const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t      n = strlen(name);

    if (strncmp(a, name, n) != 0) {
        return 0;
    }
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0') {
        return 0;
    }
    if (*i + 1 >= argc) {
        lbguard_err(cmd, "option '%s' needs a value", name);
        return -1;
    }
    *i += 1;
    *value = argv[*i];
    return 1;
}


int
lbguard_opt_profile(const char *cmd, const char *v, lbg_profile_e *out)
{
    char list[256];

    if (lbg_profile_parse(v, strlen(v), out) == 0) {
        return 0;
    }
    lbg_profile_list(list, sizeof(list), "", " ", " ");
    fprintf(stderr, "lbguard: %s: unknown profile '%s' (one of: %s)\n", cmd,
            v, list);
    return -1;
}


int
lbguard_opt_tier(const char *cmd, const char *v, lbg_tier_e *out)
{
    if (lbg_tier_parse(v, strlen(v), out) == 0 && *out != LBG_TIER_COMPLIANT)
    {
        return 0;
    }
    lbguard_err(cmd,
                "unknown tier '%s' (one of: acceptable ambiguous "
                "severe)",
                v);
    return -1;
}


int
lbguard_parse_duration(const char *s, uint64_t *ms)
{
    uint64_t    whole = 0, frac = 0, scale = 1, unit;
    size_t      digits = 0;
    const char *p = s;

    while (*p >= '0' && *p <= '9') {
        if (whole > UINT64_C(1000000000)) {
            return -1;
        }
        whole = whole * 10 + (uint64_t) (*p - '0');
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (scale < 1000000) {
                frac = frac * 10 + (uint64_t) (*p - '0');
                scale *= 10;
            }
            p++;
            digits++;
        }
    }
    if (digits == 0) {
        return -1;
    }
    if (*p == '\0' || strcmp(p, "s") == 0) {
        unit = 1000;
    } else if (strcmp(p, "ms") == 0) {
        unit = 1;
    } else if (strcmp(p, "m") == 0) {
        unit = 60 * 1000;
    } else if (strcmp(p, "h") == 0) {
        unit = 3600 * 1000;
    } else {
        return -1;
    }
    *ms = whole * unit + frac * unit / scale;
    return 0;
}


int
lbguard_opt_match(const char *cmd, int argc, char **argv, int *i,
                  const lbguard_opt_t *opts, size_t n)
{
    const lbguard_opt_t *o;
    const char          *v;
    size_t               k;
    int                  r;

    for (k = 0; k < n; k++) {
        o = &opts[k];
        if (o->kind == LBGUARD_OPT_FLAG) {
            if (strcmp(argv[*i], o->name) == 0
                || (o->alias != NULL && strcmp(argv[*i], o->alias) == 0))
            {
                *(int *) o->target = 1;
                return 1;
            }
            continue;
        }
        r = lbguard_opt_value(cmd, argc, argv, i, o->name, &v);
        if (r <= 0) {
            if (r < 0) {
                return -1;
            }
            continue;
        }
        switch (o->kind) {
        case LBGUARD_OPT_STRING: *(const char **) o->target = v; return 1;
        case LBGUARD_OPT_DURATION:
        case LBGUARD_OPT_DURATION_POS:
            if (lbguard_parse_duration(v, (uint64_t *) o->target) != 0
                || (o->kind == LBGUARD_OPT_DURATION_POS
                    && *(uint64_t *) o->target == 0))
            {
                lbguard_err(cmd, "bad %s '%s'", o->name, v);
                return -1;
            }
            return 1;
        case LBGUARD_OPT_PROFILE:
            return lbguard_opt_profile(cmd, v, (lbg_profile_e *) o->target)
                           == 0
                       ? 1
                       : -1;
        case LBGUARD_OPT_TIER:
            return lbguard_opt_tier(cmd, v, (lbg_tier_e *) o->target) == 0
                       ? 1
                       : -1;
        case LBGUARD_OPT_FN: return o->fn(cmd, v, o->target) == 0 ? 1 : -1;
        case LBGUARD_OPT_FLAG: break;
        }
    }
    return 0;
}


/* The load balancers of `mask` in list order (LBG_PROFILES), each by its
 * profile's name; returns the next profile index >= *i that names one of
 * them, or -1. */
static int
lbguard_next_lb(unsigned mask, size_t *i)
{
    int p;

    for (; (p = lbg_profile_at(*i)) >= 0; (*i)++) {
        if (p != LBG_PROFILE_STRICTEST
            && (mask & lbg_profile_lb_mask((lbg_profile_e) p)))
        {
            (*i)++;
            return p;
        }
    }
    return -1;
}


void
lbguard_print_lbs(FILE *out, unsigned mask, int json)
{
    lbguard_json_t j;
    size_t         i;
    int            p, first = 1;

    if (json) {
        lbguard_json_init(&j, out);
        lbguard_json_lbs(&j, mask);
        return;
    }
    for (i = 0; (p = lbguard_next_lb(mask, &i)) >= 0;) {
        fprintf(out, "%s%s", first ? "" : ", ",
                lbg_profile_name((lbg_profile_e) p));
        first = 0;
    }
    if (first) {
        fputs("none (the RFC alone forbids it)", out);
    }
}


void
lbguard_json_lbs(lbguard_json_t *j, unsigned mask)
{
    size_t i;
    int    p;

    lbguard_json_begin(j, '[', 0);
    for (i = 0; (p = lbguard_next_lb(mask, &i)) >= 0;) {
        lbguard_json_cstr(j, lbg_profile_name((lbg_profile_e) p));
    }
    lbguard_json_end(j, ']');
}


int
lbguard_flush_stdout(const char *cmd)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        lbguard_err(cmd, "cannot write output: %s", strerror(errno));
        return -1;
    }
    return 0;
}


int64_t
lbguard_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* ASCII case-insensitive comparison of a[0..n) and the NUL-terminated b. */
int
lbguard_ieq(const char *a, size_t n, const char *b)
{
    size_t i;
    int    ca, cb;

    for (i = 0; i < n; i++) {
        ca = (unsigned char) a[i];
        cb = (unsigned char) b[i];
        if (cb == '\0') {
            return 0;
        }
        if (ca >= 'A' && ca <= 'Z') {
            ca += 32;
        }
        if (cb >= 'A' && cb <= 'Z') {
            cb += 32;
        }
        if (ca != cb) {
            return 0;
        }
    }
    return b[n] == '\0';
}
