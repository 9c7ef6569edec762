/*
 * lbguard_logs_parse.c -- the access-log line parser of `lbguard logs`
 * (lbguard_logs.h). No allocation, no I/O, no libc state: every field is a
 * view into the caller's line.
 *
 * Formats and their sources (docs/logs.md has the field tables):
 *   AWS ALB   https://docs.aws.amazon.com/elasticloadbalancing/latest/
 *             application/load-balancer-access-logs.html ("ignore any
 *             fields at the end of the log entry that you were not
 *             expecting"); list fields 26/27 quoted since awsdocs PR #43,
 *             unquoted before.
 *   AWS CLB   https://docs.aws.amazon.com/elasticloadbalancing/latest/
 *             classic/access-log-collection.html (15 fields).
 *   HAProxy   doc/configuration.txt, "8.2.3. HTTP log format" (2.6).
 */

#include <string.h>

#include "lbguard_logs.h"


/* a token of a space-delimited line: quoted tokens lose their quotes.
 * literal: how a backslash inside quotes is read (lbguard_quote_reading());
 * esc_quote: a quote was taken as escaped content (`\"`) in a token so far */
typedef struct {
    const char *p;
    const char *end;
    int         literal;
    int         esc_quote;
} lbguard_cur_t;


static int
lbguard_next_token(lbguard_cur_t *c, lbguard_sv_t *tok)
{
    const char *p = c->p;

    while (p < c->end && *p == ' ') {
        p++;
    }
    if (p >= c->end) {
        c->p = p;
        return 0;
    }
    if (*p == '"') {
        const char *s = ++p;

        /* escape reading: `\"` and `\\` are escapes inside a quoted field
         * (as Vector's parse_aws_alb_log reads them); literal reading: a
         * backslash is a byte like any other and the first quote closes
         * the field (ALB writes a quote inside a field as \x22). An
         * unterminated quote runs to the end of the line. */
        for (;;) {
            const char *q = memchr(p, '"', (size_t) (c->end - p));
            const char *bs = c->literal
                                 ? NULL
                                 : memchr(p, '\\',
                                          (size_t) ((q ? q : c->end) - p));

            if (bs == NULL) {
                p = q ? q : c->end;
                break;
            }
            if (bs + 1 < c->end && bs[1] == '"') {
                c->esc_quote = 1;
            }
            p = bs + 2; /* the escaped byte */
            if (p >= c->end) {
                p = c->end;
                break;
            }
        }
        tok->p = s;
        tok->len = (size_t) (p - s);
        if (p < c->end) {
            p++; /* the closing quote */
        }
        c->p = p;
        return 1;
    }
    tok->p = p;
    p = memchr(p, ' ', (size_t) (c->end - p));
    if (p == NULL) {
        p = c->end;
    }
    tok->len = (size_t) (p - tok->p);
    c->p = p;
    return 1;
}


/* 1 when line[0..end) splits cleanly under one reading of the backslash:
 * every quoted token is closed by a quote followed by a space or the end of
 * the line, and no unquoted token holds a quote */
static int
lbguard_quotes_clean(const char *line, const char *end, int literal)
{
    lbguard_cur_t c;
    lbguard_sv_t  t;
    int           quoted;

    memset(&c, 0, sizeof(c));
    c.p = line;
    c.end = end;
    c.literal = literal;
    for (;;) {
        while (c.p < end && *c.p == ' ') {
            c.p++;
        }
        quoted = c.p < end && *c.p == '"';
        if (!lbguard_next_token(&c, &t)) {
            return 1;
        }
        /* a quoted token is closed when a quote follows its bytes */
        if (quoted ? t.p + t.len >= end || (c.p < end && *c.p != ' ')
                   : memchr(t.p, '"', t.len) != NULL)
        {
            return 0;
        }
    }
}


/*
 * How to read a backslash inside the quoted fields of the ALB/CLB line
 * line[0..end). AWS does not document an escape; ALB has been seen writing
 * a quote inside a field as \x22 (DataBiosphere/azul#4920, 2023), which
 * leaves a backslash as an ordinary byte, so a user agent that ends in a
 * backslash is logged "curl\" ; other writers (Vector, Apache) escape with
 * `\"`. The two readings split a line differently only when the escape
 * reading takes a quote as content. Then the one under which the line
 * splits cleanly (lbguard_quotes_clean()) wins; when both or neither do,
 * the line is ambiguous. The caller parses under the escape reading first
 * and asks only when that took a quote as content (esc_quote). Returns 0
 * (escape reading), 1 (literal) or -1 (ambiguous: the line is not read).
 */
static int
lbguard_quote_reading(const char *line, const char *end)
{
    int e, l;

    e = lbguard_quotes_clean(line, end, 0);
    l = lbguard_quotes_clean(line, end, 1);
    if (e == l) {
        return -1;
    }
    return l;
}


static int
lbguard_sv_is(lbguard_sv_t v, const char *s)
{
    size_t n = strlen(s);

    return v.len == n && memcmp(v.p, s, n) == 0;
}


static int
lbguard_digits(const char *s, size_t n, int64_t *v)
{
    int64_t x = 0;
    size_t  i;

    if (n == 0 || n > 15) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}


/* a status code: 100..599 (RFC 9110, 15: every valid status code is in
 * that range), 0 ("000": ALB's code for some HTTP/2 failures; "0": the
 * CLB's backend status when no response came), or -1 for "-" or "-1";
 * anything else (999, 42) is not a status and the line is not read */
static int
lbguard_status(lbguard_sv_t v, int *st)
{
    int64_t x;

    if (lbguard_sv_is(v, "-") || lbguard_sv_is(v, "-1")) {
        *st = -1;
        return 0;
    }
    if (v.len < 1 || v.len > 3 || lbguard_digits(v.p, v.len, &x) != 0
        || (x != 0 && (x < 100 || x > 599)))
    {
        return -1;
    }
    *st = (int) x;
    return 0;
}


/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil) */
static int64_t
lbguard_days(int64_t y, int64_t m, int64_t d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}


/* 1 when day d of month m (1-12) exists in year y (proleptic Gregorian):
 * 2026-02-29 and 31/Apr do not */
static int
lbguard_date_valid(int64_t y, int64_t m, int64_t d)
{
    static const unsigned char mdays[12] = {31, 28, 31, 30, 31, 30,
                                            31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m >= 1 && m <= 12 && d >= 1
           && d <= mdays[m - 1] + (m == 2 && leap);
}


/* "HH:MM[:SS[.ffffff]]" at s[0..n); sets *us to the time of day; returns
 * the bytes consumed, or 0 */
static size_t
lbguard_hms(const char *s, size_t n, int64_t *us)
{
    int64_t h, mi, se = 0, frac = 0, scale = 1000000;
    size_t  i = 5;

    if (n < 5 || s[2] != ':' || lbguard_digits(s, 2, &h) != 0
        || lbguard_digits(s + 3, 2, &mi) != 0 || h > 23 || mi > 59)
    {
        return 0;
    }
    if (n >= 8 && s[5] == ':' && lbguard_digits(s + 6, 2, &se) == 0
        && se <= 60) {
        i = 8;
        if (i < n && s[i] == '.') {
            i++;
            while (i < n && s[i] >= '0' && s[i] <= '9') {
                if (scale > 1) {
                    scale /= 10;
                    frac += (s[i] - '0') * scale;
                }
                i++;
            }
        }
    }
    *us = ((h * 60 + mi) * 60 + se) * 1000000 + frac;
    return i;
}


int64_t
lbguard_log_iso_time(const char *s, size_t len)
{
    int64_t y, mo, d, tod;
    size_t  k;

    if (len < 16 || s[4] != '-' || s[7] != '-'
        || (s[10] != 'T' && s[10] != ' ') || lbguard_digits(s, 4, &y) != 0
        || lbguard_digits(s + 5, 2, &mo) != 0
        || lbguard_digits(s + 8, 2, &d) != 0 || !lbguard_date_valid(y, mo, d))
    {
        return LBGUARD_T_NONE;
    }
    k = lbguard_hms(s + 11, len - 11, &tod);
    if (k == 0) {
        return LBGUARD_T_NONE;
    }
    k += 11;
    if (k < len && s[k] == 'Z') {
        k++;
    }
    if (k != len) {
        return LBGUARD_T_NONE;
    }
    return lbguard_days(y, mo, d) * 86400 * 1000000 + tod;
}


int64_t
lbguard_log_seconds(const char *s, size_t len)
{
    int64_t ip = 0, frac = 0, scale = 1000000;
    size_t  i = 0;
    int     neg = 0, any = 0;

    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (ip > 100000000) {
            return LBGUARD_T_NONE;
        }
        ip = ip * 10 + (s[i] - '0');
        any = 1;
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (scale > 1) {
                scale /= 10;
                frac += (s[i] - '0') * scale;
            }
            any = 1;
        }
    }
    if (!any || i != len) {
        return LBGUARD_T_NONE;
    }
    if (neg) {
        return LBGUARD_T_MINUS;
    }
    return ip * 1000000 + frac;
}


static lbguard_line_kind_e
lbguard_parse_alb(lbguard_cur_t *c, lbguard_sv_t first,
                  lbguard_logline_t *out)
{
    lbguard_sv_t t;
    int          n = 1;

    (void) first;
    while (lbguard_next_token(c, &t)) {
        n++;
        switch (n) {
        case 2: out->time = t; break;
        case 3: out->elb = t; break;
        case 4: out->client = t; break;
        case 5: out->target = t; break;
        case 6: out->rpt_us = lbguard_log_seconds(t.p, t.len); break;
        case 7: out->tpt_us = lbguard_log_seconds(t.p, t.len); break;
        case 8: out->rspt_us = lbguard_log_seconds(t.p, t.len); break;
        case 9:
            if (lbguard_status(t, &out->elb_status) != 0) {
                return LBGUARD_LINE_BAD;
            }
            break;
        case 10:
            if (lbguard_status(t, &out->target_status) != 0) {
                return LBGUARD_LINE_BAD;
            }
            break;
        case 13: out->request = t; break;
        case 14: out->user_agent = t; break;
        case 18: out->trace_id = t; break;
        case 22: out->created_us = lbguard_log_iso_time(t.p, t.len); break;
        case 23: out->actions = t; break;
        case 25: out->error_reason = t; break;
        case 30: out->conn_trace_id = t; break;
        case 33: out->transform_status = t; break;
        default: break;
        }
    }
    out->nfields = n;
    out->t_us = lbguard_log_iso_time(out->time.p, out->time.len);
    if (n < 12 || out->t_us == LBGUARD_T_NONE) {
        return LBGUARD_LINE_BAD;
    }
    return LBGUARD_LINE_ALB;
}


static lbguard_line_kind_e
lbguard_parse_clb(lbguard_cur_t *c, lbguard_sv_t first,
                  lbguard_logline_t *out)
{
    lbguard_sv_t t, f[16];
    int          n = 1, q = -1, b;

    /* the fields are placed from the quoted request (field 12 of 15), so
     * that a sanitised copy without the client field (as published in a
     * user's post-mortem) still reads right */
    f[0] = first;
    while (lbguard_next_token(c, &t)) {
        if (n < 16) {
            f[n] = t;
        }
        if (q < 0 && n < 16 && t.p[-1] == '"') {
            q = n;
        }
        n++;
    }
    out->nfields = n;
    out->time = first;
    if (q < 10 || q > 11) {
        return LBGUARD_LINE_BAD;
    }
    b = q - 11; /* 0: all 15 fields; -1: no client field */
    out->elb = f[1];
    if (b == 0) {
        out->client = f[2];
    }
    out->target = f[3 + b];
    out->rpt_us = lbguard_log_seconds(f[4 + b].p, f[4 + b].len);
    out->tpt_us = lbguard_log_seconds(f[5 + b].p, f[5 + b].len);
    out->rspt_us = lbguard_log_seconds(f[6 + b].p, f[6 + b].len);
    if (lbguard_status(f[7 + b], &out->elb_status) != 0
        || lbguard_status(f[8 + b], &out->target_status) != 0)
    {
        return LBGUARD_LINE_BAD;
    }
    out->request = f[q];
    if (q + 1 < n && q + 1 < 16) {
        out->user_agent = f[q + 1];
    }
    if (out->elb_status == -1
        && (out->request.len == 0 || out->request.p[0] == '-'))
    {
        return LBGUARD_LINE_CLB_TCP;
    }
    return LBGUARD_LINE_CLB;
}


/* HAProxy's accept date "dd/Mon/yyyy:HH:MM:SS.mmm" */
static int64_t
lbguard_haproxy_date(const char *s, size_t len)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int64_t           d, y, tod;
    int               mo;

    if (len < 20 || s[2] != '/' || s[6] != '/' || s[11] != ':'
        || lbguard_digits(s, 2, &d) != 0 || lbguard_digits(s + 7, 4, &y) != 0)
    {
        return LBGUARD_T_NONE;
    }
    for (mo = 0; mo < 12; mo++) {
        if (memcmp(months + 3 * mo, s + 3, 3) == 0) {
            break;
        }
    }
    if (mo == 12 || !lbguard_date_valid(y, mo + 1, d)
        || lbguard_hms(s + 12, len - 12, &tod) != len - 12)
    {
        return LBGUARD_T_NONE;
    }
    return lbguard_days(y, mo + 1, d) * 86400 * 1000000 + tod;
}


/* "a/b/c/d/e" of signed decimal integers (an optional '+' before any);
 * returns the count parsed (up to max), or -1 */
static int
lbguard_slashed(lbguard_sv_t t, int64_t *v, int max)
{
    size_t i = 0;
    int    n = 0;

    while (i < t.len && n < max) {
        int64_t x = 0;
        int     neg = 0, any = 0;

        if (t.p[i] == '+') {
            i++;
        }
        if (i < t.len && t.p[i] == '-') {
            neg = 1;
            i++;
        }
        while (i < t.len && t.p[i] >= '0' && t.p[i] <= '9') {
            if (x < 100000000000LL) {
                x = x * 10 + (t.p[i] - '0');
            }
            any = 1;
            i++;
        }
        if (!any) {
            return -1;
        }
        v[n++] = neg ? -x : x;
        if (i < t.len) {
            if (t.p[i] != '/') {
                return -1;
            }
            i++;
        }
    }
    return i == t.len ? n : -1;
}


static lbguard_line_kind_e
lbguard_parse_haproxy(const char *p, const char *end, lbguard_logline_t *out)
{
    lbguard_cur_t c;
    lbguard_sv_t  t;
    int64_t       tm[5], acc;
    int           k;

    memset(&c, 0, sizeof(c));
    c.p = p;
    c.end = end;
    /* client ip:port */
    if (!lbguard_next_token(&c, &out->client) || out->client.len < 3) {
        return LBGUARD_LINE_BAD;
    }
    /* [accept date] */
    if (!lbguard_next_token(&c, &t) || t.len < 22 || t.p[0] != '['
        || t.p[t.len - 1] != ']')
    {
        return LBGUARD_LINE_BAD;
    }
    out->time.p = t.p + 1;
    out->time.len = t.len - 2;
    acc = lbguard_haproxy_date(out->time.p, out->time.len);
    if (acc == LBGUARD_T_NONE) {
        return LBGUARD_LINE_BAD;
    }
    if (!lbguard_next_token(&c, &out->elb)       /* frontend */
        || !lbguard_next_token(&c, &out->target) /* backend/server */
        || !lbguard_next_token(&c, &t))          /* TR/Tw/Tc/Tr/Ta */
    {
        return LBGUARD_LINE_BAD;
    }
    k = lbguard_slashed(t, tm, 5);
    if (k != 5) {
        return LBGUARD_LINE_BAD;
    }
    if (!lbguard_next_token(&c, &t)
        || lbguard_status(t, &out->elb_status) != 0) {
        return LBGUARD_LINE_BAD;
    }
    out->rpt_us = tm[1] < 0 ? LBGUARD_T_MINUS : tm[1] * 1000;
    out->rspt_us = tm[2] < 0 ? LBGUARD_T_MINUS : tm[2] * 1000;
    out->tpt_us = tm[3] < 0 ? LBGUARD_T_MINUS : tm[3] * 1000;
    out->total_us = tm[4] < 0 ? LBGUARD_T_MINUS : tm[4] * 1000;
    out->created_us = acc
                      + 1000
                            * ((tm[0] > 0 ? tm[0] : 0)
                               + (tm[1] > 0 ? tm[1] : 0)
                               + (tm[2] > 0 ? tm[2] : 0));
    out->t_us = acc + 1000 * (tm[4] > 0 ? tm[4] : 0);
    out->target_status = -1;
    /* bytes, captured request cookie, captured response cookie */
    for (k = 0; k < 3; k++) {
        if (!lbguard_next_token(&c, &t)) {
            return LBGUARD_LINE_BAD;
        }
    }
    if (!lbguard_next_token(&c, &out->term) || out->term.len < 2
        || out->term.len > 4)
    {
        return LBGUARD_LINE_BAD;
    }
    /* actconn/feconn/beconn/srv_conn/retries, srv_queue/backend_queue */
    if (!lbguard_next_token(&c, &t) || lbguard_slashed(t, tm, 5) != 5
        || !lbguard_next_token(&c, &t) || lbguard_slashed(t, tm, 2) != 2)
    {
        return LBGUARD_LINE_BAD;
    }
    /* optional {request captures} {response captures}; the first request
     * capture is the request id when the config captures one */
    p = c.p;
    for (k = 0; k < 2; k++) {
        while (p < end && *p == ' ') {
            p++;
        }
        if (p < end && *p == '{') {
            const char *s = ++p;

            while (p < end && *p != '}') {
                p++;
            }
            if (k == 0) {
                const char *bar = memchr(s, '|', (size_t) (p - s));

                out->trace_id.p = s;
                out->trace_id.len = (size_t) ((bar ? bar : p) - s);
            }
            if (p < end) {
                p++;
            }
        }
    }
    while (p < end && *p == ' ') {
        p++;
    }
    /* "request" to the end of the line (it may be truncated or hold
     * quotes: HAProxy escapes them as #22, but be lenient) */
    if (p < end && *p == '"') {
        p++;
        out->request.p = p;
        out->request.len = (size_t) (end - p);
        if (out->request.len > 0 && end[-1] == '"') {
            out->request.len--;
        }
    }
    return LBGUARD_LINE_HAPROXY;
}


static int
lbguard_starts(const char *p, size_t len, const char *s)
{
    size_t n = strlen(s);

    return len >= n && memcmp(p, s, n) == 0;
}


/* 1 when s[0..len) is an RFC 3339 time as a syslog header writes it:
 * "2026-10-01T12:00:00.123456+02:00" (a numeric offset) or "...Z" */
static int
lbguard_syslog_time(const char *s, size_t len)
{
    if (len > 6 && (s[len - 6] == '+' || s[len - 6] == '-')
        && s[len - 3] == ':') {
        len -= 6;
    }
    return lbguard_log_iso_time(s, len) != LBGUARD_T_NONE;
}


/*
 * Where the message starts after a header of one of the syslog formats
 * HAProxy writes without a "program[pid]: " tag (HAProxy 2.6
 * configuration.txt, "log ... format"): "<PRI>" alone (priority, short),
 * "<PRI>" and an RFC 3339 time (timed), the time alone (iso), or RFC 5424's
 * "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA "
 * (rfc5424). NULL when [p, end) starts with none of them. Reads nothing
 * outside [p, end).
 */
static const char *
lbguard_syslog_msg(const char *p, const char *end)
{
    const char *q = p, *sp;
    size_t      i;
    int         k, pri = 0, quoted = 0;

    if (q < end && *q == '<') {
        for (i = 1; q + i < end && i <= 4 && q[i] >= '0' && q[i] <= '9'; i++)
        {
        }
        if (i < 2 || i > 4 || q + i >= end || q[i] != '>') {
            return NULL;
        }
        q += i + 1;
        pri = 1;
    }
    if (pri && end - q >= 2 && q[0] == '1' && q[1] == ' ') {
        q += 2; /* RFC 5424: five header fields, each "-" when absent */
        for (k = 0; k < 5; k++) {
            sp = memchr(q, ' ', (size_t) (end - q));
            if (sp == NULL || sp == q) {
                return NULL;
            }
            q = sp + 1;
        }
        if (q < end && *q == '-') {
            q++;
        } else if (q < end && *q == '[') {
            /* SD-ELEMENTs, "[id name=\"value\"]...": a ']' or '"' in a
             * value is escaped with '\' (RFC 5424 6.3.3) */
            for (; q < end; q++) {
                if (quoted && *q == '\\' && q + 1 < end) {
                    q++;
                } else if (*q == '"') {
                    quoted = !quoted;
                } else if (!quoted && *q == ']'
                           && (q + 1 == end || q[1] != '[')) {
                    q++;
                    break;
                }
            }
        } else {
            return NULL;
        }
        return q < end && *q == ' ' ? q + 1 : NULL;
    }
    sp = memchr(q, ' ', (size_t) (end - q));
    if (sp != NULL && lbguard_syslog_time(q, (size_t) (sp - q))) {
        return sp + 1; /* timed, iso */
    }
    return pri ? q : NULL;
}


/* an empty parse result: no field, every time and status unknown */
static void
lbguard_log_reset(lbguard_logline_t *out)
{
    memset(out, 0, sizeof(*out));
    out->created_us = out->t_us = out->total_us = LBGUARD_T_NONE;
    out->rpt_us = out->tpt_us = out->rspt_us = LBGUARD_T_NONE;
    out->elb_status = out->target_status = -1;
}


lbguard_line_kind_e
lbguard_log_parse(const char *line, size_t len, lbguard_logline_t *out)
{
    lbguard_cur_t c, c0;
    lbguard_sv_t  first;
    const char   *end, *msg;
    size_t        i;
    int           r;

    lbguard_log_reset(out);

    if (len > 0 && line[len - 1] == '\r') {
        len--;
    }
    end = line + len;
    memset(&c, 0, sizeof(c));
    c.p = line;
    c.end = end;
    if (!lbguard_next_token(&c, &first)) {
        return out->kind = LBGUARD_LINE_EMPTY;
    }
    if (lbguard_starts(line, len, "Enable AccessLog for ELB")
        || lbguard_starts(line, len, "Enable ConnectionLog for ELB"))
    {
        return out->kind = LBGUARD_LINE_TEST;
    }
    if (lbguard_sv_is(first, "http") || lbguard_sv_is(first, "https")
        || lbguard_sv_is(first, "h2") || lbguard_sv_is(first, "grpcs")
        || lbguard_sv_is(first, "ws") || lbguard_sv_is(first, "wss"))
    {
        c0 = c;
        out->kind = lbguard_parse_alb(&c, first, out);
        if (!c.esc_quote) {
            return out->kind; /* both readings split the line alike */
        }
        r = lbguard_quote_reading(line, end);
        if (r < 0) {
            lbguard_log_reset(out);
            return out->kind = LBGUARD_LINE_BAD;
        }
        if (r == 1) {
            lbguard_log_reset(out);
            c = c0;
            c.literal = 1;
            out->kind = lbguard_parse_alb(&c, first, out);
        }
        return out->kind;
    }
    if (lbguard_sv_is(first, "tls") && len > 8
        && memcmp(line + 4, "2.0 ", 4) == 0)
    {
        return out->kind = LBGUARD_LINE_NLB;
    }
    /* a Classic ELB line starts with its ISO 8601 time; so does a syslog
     * header in RFC 3339 form ("2026-10-01T12:00:00.1Z host haproxy[1]: "):
     * a line that is not a CLB line is tried as HAProxy below */
    out->t_us = lbguard_log_iso_time(first.p, first.len);
    if (out->t_us != LBGUARD_T_NONE) {
        c0 = c;
        out->kind = lbguard_parse_clb(&c, first, out);
        r = c.esc_quote ? lbguard_quote_reading(line, end) : 0;
        if (r == 1) {
            lbguard_log_reset(out);
            out->t_us = lbguard_log_iso_time(first.p, first.len);
            c = c0;
            c.literal = 1;
            out->kind = lbguard_parse_clb(&c, first, out);
        }
        if (r >= 0 && out->kind != LBGUARD_LINE_BAD) {
            return out->kind;
        }
        lbguard_log_reset(out);
    }
    /* HAProxy: after a header of HAProxy's own syslog formats (rfc5424,
     * timed, iso, short, priority), the message itself (raw), or after a
     * syslog header that ends with "]: " (program[pid]: rfc3164, local)
     * within the first 256 bytes */
    msg = lbguard_syslog_msg(line, end);
    if (msg != NULL) {
        if (lbguard_parse_haproxy(msg, end, out) == LBGUARD_LINE_HAPROXY) {
            return out->kind = LBGUARD_LINE_HAPROXY;
        }
        lbguard_log_reset(out);
    }
    if (lbguard_parse_haproxy(line, end, out) == LBGUARD_LINE_HAPROXY) {
        return out->kind = LBGUARD_LINE_HAPROXY;
    }
    for (i = 0; i + 3 <= len && i < 256; i++) {
        if (line[i] == ']' && line[i + 1] == ':' && line[i + 2] == ' ') {
            lbguard_log_reset(out);
            return out->kind = lbguard_parse_haproxy(line + i + 3, end, out);
        }
    }
    return out->kind = LBGUARD_LINE_BAD;
}
