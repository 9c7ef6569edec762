/*
 * lbg_format.c -- log lines and the findings summary. The same text on
 * nginx, Apache and the CLI, so one regular expression matches all three.
 */

#include "lbg_internal.h"


/* A bounded writer: never writes past size - 1, always NUL-terminates. */
typedef struct {
    char  *buf;
    size_t size;
    size_t len;
    int    over; /* a byte did not fit */
} lbg__out_t;


static void
lbg__putc(lbg__out_t *o, char c)
{
    if (o->size > 0 && o->len + 1 < o->size) {
        o->buf[o->len++] = c;
        o->buf[o->len] = '\0';
    } else {
        o->over = 1;
    }
}


static void
lbg__puts(lbg__out_t *o, const char *s)
{
    while (*s != '\0') {
        lbg__putc(o, *s++);
    }
}


static void
lbg__putn(lbg__out_t *o, int64_t v)
{
    char     tmp[24];
    size_t   n = 0;
    uint64_t u;

    if (v < 0) {
        lbg__putc(o, '-');
        u = (uint64_t) 0 - (uint64_t) v;
    } else {
        u = (uint64_t) v;
    }
    do {
        tmp[n++] = (char) ('0' + (int) (u % 10));
        u /= 10;
    } while (u != 0);
    while (n > 0) {
        lbg__putc(o, tmp[--n]);
    }
}


static void
lbg__init(lbg__out_t *o, char *buf, size_t size)
{
    o->buf = buf;
    o->size = size;
    o->len = 0;
    o->over = 0;
    if (size > 0) {
        buf[0] = '\0';
    }
}


static void
lbg__esc(lbg__out_t *o, const unsigned char *in, size_t len, size_t max_in)
{
    static const char hex[] = "0123456789abcdef";
    size_t            i;
    unsigned char     c;

    for (i = 0; i < len && i < max_in; i++) {
        c = in[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            lbg__putc(o, (char) c);
        } else {
            lbg__putc(o, '\\');
            lbg__putc(o, 'x');
            lbg__putc(o, hex[c >> 4]);
            lbg__putc(o, hex[c & 0xf]);
        }
    }
    if (len > max_in) {
        lbg__puts(o, "...");
    }
}


size_t
lbg_escape(const unsigned char *in, size_t len, size_t max_in, char *out,
           size_t size)
{
    lbg__out_t o;

    lbg__init(&o, out, size);
    lbg__esc(&o, in, len, max_in);
    return o.len;
}


#define LBG__ESC_MAX 64

static void
lbg__quoted(lbg__out_t *o, const unsigned char *s, size_t n)
{
    lbg__putc(o, '"');
    lbg__esc(o, s, n, LBG__ESC_MAX);
    lbg__putc(o, '"');
}


size_t
lbg_finding_format(const lbg_response_t *r, const lbg_finding_t *f,
                   int repaired, char *buf, size_t size)
{
    const lbg_field_t *fl = NULL;
    lbg__out_t         o;

    lbg__init(&o, buf, size);
    lbg__puts(&o, lbg_rule_name(f->rule));
    lbg__puts(&o, ": ");

    if (r != NULL && f->field != LBG_NO_FIELD && f->field < r->nfields) {
        fl = &r->fields[f->field];
    }

    switch (f->rule) {
    case LBG_RULE_VERSION_INVALID:
    case LBG_RULE_VERSION_DIGITS:
    case LBG_RULE_VERSION_UNSUPPORTED:
        lbg__puts(&o, "version ");
        lbg__quoted(&o, f->at, f->at ? f->at_len : 0);
        break;
    case LBG_RULE_STATUS_CODE_INVALID:
    case LBG_RULE_STATUS_CODE_OUT_OF_RANGE:
        if (f->at != NULL) {
            lbg__puts(&o, "status line ");
            lbg__quoted(&o, f->at, f->at_len);
        } else {
            lbg__puts(&o, "status ");
            lbg__putn(&o, f->n1);
        }
        break;
    case LBG_RULE_REASON_PHRASE_INVALID:
        lbg__puts(&o, "status line ");
        lbg__quoted(&o, f->at, f->at ? f->at_len : 0);
        break;
    case LBG_RULE_FIELD_NAME_INVALID:
    case LBG_RULE_FIELD_NAME_NOT_TOKEN:
        lbg__puts(&o, "field name ");
        lbg__quoted(&o, f->at, f->at ? f->at_len : 0);
        break;
    case LBG_RULE_FIELD_VALUE_CR_LF:
    case LBG_RULE_FIELD_VALUE_NUL:
    case LBG_RULE_FIELD_VALUE_TRAILING_CR:
    case LBG_RULE_FIELD_VALUE_CTL:
    case LBG_RULE_OBS_FOLD:
        if (fl != NULL) {
            lbg__puts(&o, "field ");
            lbg__quoted(&o, fl->name, fl->name_len);
            lbg__puts(&o, " value ");
            lbg__quoted(&o, fl->value, fl->value_len);
        } else {
            lbg__puts(&o, "bytes ");
            lbg__quoted(&o, f->at, f->at ? f->at_len : 0);
        }
        break;
    case LBG_RULE_CONTENT_LENGTH_CONFLICT:
        if (f->n1 >= 0) {
            lbg__puts(&o, "Content-Length ");
            lbg__putn(&o, f->n1);
            lbg__puts(&o, " and ");
            lbg__putn(&o, f->n2);
            break;
        }
        /* a list of different values in one field */
        /* fall through */
    case LBG_RULE_CONTENT_LENGTH_INVALID:
    case LBG_RULE_CONTENT_LENGTH_DUPLICATE:
    case LBG_RULE_TE_WITH_CONTENT_LENGTH:
    case LBG_RULE_TE_NOT_CHUNKED:
    case LBG_RULE_TE_CHUNKED_NOT_FINAL:
    case LBG_RULE_TE_CHUNKED_TWICE:
    case LBG_RULE_TE_NOT_APPLIED:
    case LBG_RULE_FRAMING_ON_BODILESS_STATUS:
        if (fl != NULL) {
            lbg__puts(&o, "field ");
            lbg__quoted(&o, fl->name, fl->name_len);
            lbg__puts(&o, " value ");
            lbg__quoted(&o, fl->value, fl->value_len);
        }
        if (f->rule == LBG_RULE_FRAMING_ON_BODILESS_STATUS) {
            lbg__puts(&o, " on status ");
            lbg__putn(&o, f->n1);
        }
        break;
    case LBG_RULE_BODY_ON_BODILESS:
        if (f->at_least) {
            lbg__puts(&o, "at least ");
        }
        lbg__putn(&o, f->n2);
        lbg__puts(&o, " body bytes on a response that has no body");
        break;
    case LBG_RULE_BODY_LONGER:
    case LBG_RULE_BODY_SHORTER:
        if (f->n1 < 0) {
            if (f->at_least) {
                lbg__puts(&o, "at least ");
            }
            lbg__putn(&o, f->n2);
            lbg__puts(&o, " bytes after the end of the chunked body");
            break;
        }
        lbg__puts(&o, "Content-Length ");
        lbg__putn(&o, f->n1);
        lbg__puts(&o, f->at_least && f->rule == LBG_RULE_BODY_LONGER
                          ? ", body at least "
                          : ", body ");
        lbg__putn(&o, f->n2);
        lbg__puts(&o, f->rule == LBG_RULE_BODY_SHORTER && f->n2 < f->n1
                          ? " bytes before the end"
                          : " bytes");
        break;
    case LBG_RULE_CHUNKED_INVALID:
        lbg__puts(&o, "bad chunk at body byte ");
        lbg__putn(&o, f->n1);
        if (f->at != NULL) {
            lbg__putc(&o, ' ');
            lbg__quoted(&o, f->at, f->at_len);
        }
        break;
    case LBG_RULE_TOO_MANY_FIELDS:
        lbg__putn(&o, f->n1);
        lbg__puts(&o, f->after_repair ? " fields once repaired, budget "
                                      : " fields, budget ");
        lbg__putn(&o, f->n2);
        break;
    case LBG_RULE_FIELD_TOO_LARGE:
        lbg__puts(&o, "field ");
        lbg__quoted(&o, f->at, f->at ? f->at_len : 0);
        lbg__puts(&o, " is ");
        lbg__putn(&o, f->n1);
        lbg__puts(&o, " bytes, budget ");
        lbg__putn(&o, f->n2);
        break;
    case LBG_RULE_HEADER_TOO_LARGE:
        lbg__puts(&o, "header section is ");
        lbg__putn(&o, f->n1);
        lbg__puts(&o, f->after_repair ? " bytes once repaired, budget "
                                      : " bytes, budget ");
        lbg__putn(&o, f->n2);
        break;
    case LBG_RULE_BARE_LF:
        lbg__putn(&o, f->n1);
        lbg__puts(&o, f->n1 == 1 ? " line ends" : " lines end");
        lbg__puts(&o, " in LF without CR");
        break;
    case LBG_RULE_STATUS_LINE_WHITESPACE:
        lbg__puts(&o, "status line ");
        lbg__quoted(&o, f->at, f->at ? f->at_len : 0);
        break;
    case LBG_RULE_FIELD_MISSING_COLON:
        lbg__puts(&o, "line ");
        lbg__quoted(&o, f->at, f->at ? f->at_len : 0);
        break;
    case LBG_RULE_HEADER_INCOMPLETE:
        lbg__puts(&o, "no end of the header section in ");
        lbg__putn(&o, f->n1);
        lbg__puts(&o, " bytes");
        break;
    case LBG_RULE_UPSTREAM_STATUS_LINE_INVALID:
        lbg__puts(&o, "upstream response begins ");
        lbg__quoted(&o, f->at, f->at ? f->at_len : 0);
        break;
    case LBG_RULE_SWITCHING_WITHOUT_UPGRADE:
        lbg__puts(&o, f->n1 ? "101 Switching Protocols to a request without"
                              " Upgrade"
                            : "101 Switching Protocols without an Upgrade"
                              " field");
        break;
    case LBG_RULE_INTERIM_AS_FINAL:
        lbg__puts(&o, "interim status ");
        lbg__putn(&o, f->n1);
        lbg__puts(&o, " sent as the final response");
        break;
    case LBG_RULE_TE_NAME_WHITESPACE:
        lbg__puts(&o, "field name ");
        lbg__quoted(&o, f->at, f->at ? f->at_len : 0);
        lbg__puts(&o, ": white space before the colon, so the body was not "
                      "decoded as its Transfer-Encoding said");
        break;
    case LBG_RULE_CHUNK_SIZE_WHITESPACE:
        lbg__puts(&o, "white space after the chunk size at body byte ");
        lbg__putn(&o, f->n1);
        break;
    default: lbg__puts(&o, "unknown rule"); break;
    }

    lbg__puts(&o, ", ");
    if (!repaired) {
        lbg__puts(&o, "not repaired (detect mode)");
    } else {
        lbg__puts(&o, lbg_finding_repair(f));
    }
    return o.len;
}


const char *
lbg_finding_repair(const lbg_finding_t *f)
{
    const lbg_rule_t *rule = lbg_rule(f->rule);

    if (f->rule == LBG_RULE_FIELD_NAME_INVALID && f->n1 > 0) {
        /* the raw parser's finding of white space before the colon
         * (RFC 9112 5.1): the field stays, without it */
        return "white space before the colon removed";
    }
    return rule ? rule->repair : "none";
}


size_t
lbg_report_summary(const lbg_report_t *rep, lbg_mode_e mode, char *buf,
                   size_t size)
{
    lbg__out_t  o;
    size_t      i, mark;
    const char *outcome;

    lbg__init(&o, buf, size);
    if (rep->nfindings == 0) {
        lbg__putc(&o, '-');
        return o.len;
    }
    for (i = 0; i < rep->nfindings; i++) {
        outcome = lbg_outcome_name(lbg_report_outcome(rep, i, mode));
        mark = o.len;
        if (i > 0) {
            lbg__putc(&o, ',');
        }
        lbg__puts(&o, lbg_rule_name(rep->findings[i].rule));
        lbg__putc(&o, ':');
        lbg__puts(&o, outcome);
        if (o.over) {
            /* did not fit: cut back and mark the truncation */
            if (size < 4) {
                return o.len;
            }
            o.len = mark < size - 4 ? mark : size - 4;
            buf[o.len] = '\0';
            o.over = 0;
            lbg__puts(&o, "...");
            return o.len;
        }
    }
    if (rep->truncated) {
        lbg__puts(&o, ",...");
    }
    return o.len;
}


/* A duration in milliseconds as nginx writes it: "75s" or "1500ms". */
static void
lbg__putms(lbg__out_t *o, uint64_t ms)
{
    if (ms > (uint64_t) INT64_MAX) {
        ms = (uint64_t) INT64_MAX;
    }
    if (ms % 1000 == 0) {
        lbg__putn(o, (int64_t) (ms / 1000));
        lbg__putc(o, 's');
    } else {
        lbg__putn(o, (int64_t) ms);
        lbg__puts(o, "ms");
    }
}


size_t
lbg_keepalive_format(lbg_ka_verdict_e v, const char *directive,
                     const char *where, uint64_t server_ms,
                     uint64_t lb_idle_ms, uint64_t margin_ms, int repaired,
                     char *buf, size_t size)
{
    lbg__out_t o;

    lbg__init(&o, buf, size);
    if (v != LBG_KA_RAISE && v != LBG_KA_DISABLED) {
        return 0;
    }
    lbg__puts(&o, "keepalive-timeout: ");
    lbg__puts(&o, directive ? directive : "keep-alive timeout");
    if (v == LBG_KA_DISABLED) {
        lbg__puts(&o, " is 0 in ");
        lbg__puts(&o, where ? where : "-");
        lbg__puts(&o, ": keep-alive is off, the load balancer opens a new "
                      "connection per request");
        return o.len;
    }
    lbg__putc(&o, ' ');
    lbg__putms(&o, server_ms);
    lbg__puts(&o, " in ");
    lbg__puts(&o, where ? where : "-");
    lbg__puts(&o, " is shorter than the load balancer idle timeout ");
    lbg__putms(&o, lb_idle_ms);
    lbg__puts(&o, " + margin ");
    lbg__putms(&o, margin_ms);
    if (repaired) {
        lbg__puts(&o, ", raised to ");
        lbg__putms(&o, lb_idle_ms + margin_ms < lb_idle_ms
                           ? UINT64_MAX
                           : lb_idle_ms + margin_ms);
    } else {
        lbg__puts(&o, ", not repaired (detect mode)");
    }
    return o.len;
}
