/*
 * lbg_metrics.c -- lbguard's counters and their Prometheus exposition
 * (text format 0.0.4). The adapters keep one lbg_metrics_t per status
 * zone in shared memory and add to it atomically; this file only says
 * which counters a report adds to, and writes a snapshot as text, so that
 * nginx and Apache print the same bytes. No allocation, no I/O.
 */

#include "lbg_internal.h"

#include <string.h>


/* A bounded writer that keeps counting past the end of the buffer, so
 * that the caller learns the size it needs. */
typedef struct {
    char  *buf;
    size_t size;
    size_t len; /* bytes the whole output needs */
} lbg__mout_t;


static void
lbg__mputc(lbg__mout_t *o, char c)
{
    if (o->len < o->size) {
        o->buf[o->len] = c;
    }
    o->len++;
}


static void
lbg__mputs(lbg__mout_t *o, const char *s)
{
    while (*s != '\0') {
        lbg__mputc(o, *s++);
    }
}


static void
lbg__mputu(lbg__mout_t *o, uint64_t u)
{
    char   tmp[24];
    size_t n = 0;

    do {
        tmp[n++] = (char) ('0' + (int) (u % 10));
        u /= 10;
    } while (u != 0);
    while (n > 0) {
        lbg__mputc(o, tmp[--n]);
    }
}


/*
 * A label value, escaped as the text format requires (backslash, double
 * quote and line feed as \\, \" and \n); any other byte outside printable
 * ASCII as the four characters \\xHH (a literal backslash, so the value
 * stays valid UTF-8 whatever the configuration held).
 */
static void
lbg__mlabel(lbg__mout_t *o, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t            i;
    unsigned char     c;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];
        if (c == '\\' || c == '"') {
            lbg__mputc(o, '\\');
            lbg__mputc(o, (char) c);
        } else if (c == '\n') {
            lbg__mputs(o, "\\n");
        } else if (c < 0x20 || c >= 0x7f) {
            lbg__mputs(o, "\\\\x");
            lbg__mputc(o, hex[c >> 4]);
            lbg__mputc(o, hex[c & 0x0f]);
        } else {
            lbg__mputc(o, (char) c);
        }
    }
}


static const char *const lbg__outcome_names[LBG_OUTCOMES] = {"repaired",
                                                             "reported",
                                                             "detected"};

static const char *const lbg__verdict_names[LBG_KA_VERDICTS] = {
    "ok", "raised", "disabled", "unchecked", "not-raised"};


static const char *const lbg__drain_names[LBG_DRAIN_OUTCOMES] = {
    "request",     "client-close",     "client-reset",
    "idle-limit",  "shutdown-timeout", "server-close",
    "mpm-restart", "mpm-stopping",     "mpm-busy"};


const char *
lbg_drain_outcome_name(lbg_drain_outcome_e outcome)
{
    if ((unsigned) outcome >= LBG_DRAIN_OUTCOMES) {
        return "unknown";
    }
    return lbg__drain_names[outcome];
}


const char *
lbg_outcome_name(lbg_outcome_e outcome)
{
    if ((unsigned) outcome >= LBG_OUTCOMES) {
        return "unknown";
    }
    return lbg__outcome_names[outcome];
}


const char *
lbg_ka_verdict_name(lbg_ka_metric_e verdict)
{
    if ((unsigned) verdict >= LBG_KA_VERDICTS) {
        return "unknown";
    }
    return lbg__verdict_names[verdict];
}


lbg_ka_metric_e
lbg_ka_metric(lbg_ka_verdict_e v, lbg_mode_e mode)
{
    switch (v) {
    case LBG_KA_RAISE:
        return mode == LBG_MODE_REPAIR ? LBG_KA_METRIC_RAISED
                                       : LBG_KA_METRIC_NOT_RAISED;
    case LBG_KA_DISABLED: return LBG_KA_METRIC_DISABLED;
    case LBG_KA_UNKNOWN: return LBG_KA_METRIC_UNCHECKED;
    default: return LBG_KA_METRIC_OK;
    }
}


/* No repair makes the response conformant (no LBG_FIX_EDIT): a finding
 * of the rule is "reported", not "repaired" (as lbg_report_summary) */
static int
lbg__no_repair(const lbg_rule_t *r)
{
    return !(r->fix & LBG_FIX_EDIT);
}


lbg_outcome_e
lbg_finding_outcome(lbg_rule_e rule, lbg_mode_e mode)
{
    const lbg_rule_t *r;

    if (mode != LBG_MODE_REPAIR) {
        return LBG_OUTCOME_DETECTED;
    }
    r = lbg_rule(rule);
    if (r != NULL && lbg__no_repair(r)) {
        return LBG_OUTCOME_REPORTED;
    }
    return LBG_OUTCOME_REPAIRED;
}


lbg_outcome_e
lbg_report_outcome(const lbg_report_t *rep, size_t i, lbg_mode_e mode)
{
    lbg_outcome_e out = lbg_finding_outcome(rep->findings[i].rule, mode);
    size_t        k;

    /* a rule with no repair of its own, on a response that the target's
     * own 502 replaces (lbg__budget() under one LB's profile) */
    if (out == LBG_OUTCOME_REPORTED) {
        for (k = 0; k < rep->nfindings; k++) {
            if (rep->findings[k].bad_gateway) {
                return LBG_OUTCOME_REPAIRED;
            }
        }
    }
    return out;
}


int
lbg_rule_closes(lbg_rule_e rule)
{
    const lbg_rule_t *r = lbg_rule(rule);

    return r != NULL && (r->fix & LBG_FIX_CLOSE) != 0;
}


/* 1 when rule has a lbguard_connections_closed_total series: its repair
 * closes the connection (lbg_rule_closes()), or may be the target's own
 * 502 (LBG_FIX_LB_502: a budget rule under a profile naming one load
 * balancer) */
static int
lbg__closed_series(lbg_rule_e rule)
{
    const lbg_rule_t *r = lbg_rule(rule);

    return r != NULL && (r->fix & (LBG_FIX_CLOSE | LBG_FIX_LB_502)) != 0;
}


size_t
lbg_metrics_report_slots(const lbg_report_t *rep, lbg_mode_e mode,
                         size_t *slots, size_t cap)
{
    size_t        i, j, n = 0;
    lbg_rule_e    rule;
    lbg_outcome_e out;
    int           dup;

    for (i = 0; i < rep->nfindings && n < cap; i++) {
        rule = rep->findings[i].rule;
        if ((unsigned) rule == 0 || (unsigned) rule >= LBG_RULE_END) {
            continue;
        }
        out = lbg_report_outcome(rep, i, mode);
        slots[n++] = LBG_METRICS_FINDING(rule, out);

        /* a closing rule, or a budget rule whose repair was the
         * target's own 502 (LBG_FIX_LB_502, bad_gateway) */
        if (out == LBG_OUTCOME_DETECTED
            || !(lbg_rule_closes(rule) || rep->findings[i].bad_gateway))
        {
            continue;
        }
        /* one close per response and rule, however often the rule fired */
        dup = 0;
        for (j = 0; j < i; j++) {
            if (rep->findings[j].rule == rule) {
                dup = 1;
                break;
            }
        }
        if (!dup && n < cap) {
            slots[n++] = LBG_METRICS_CLOSED(rule);
        }
    }
    return n;
}


/* "# HELP name text\n# TYPE name type\n" */
static void
lbg__mhead(lbg__mout_t *o, const char *name, const char *type,
           const char *help)
{
    lbg__mputs(o, "# HELP ");
    lbg__mputs(o, name);
    lbg__mputc(o, ' ');
    lbg__mputs(o, help);
    lbg__mputs(o, "\n# TYPE ");
    lbg__mputs(o, name);
    lbg__mputc(o, ' ');
    lbg__mputs(o, type);
    lbg__mputc(o, '\n');
}


/* `name{server="<zone>"` (the caller closes the braces) */
static void
lbg__mstart(lbg__mout_t *o, const char *name, const lbg_metrics_zone_t *z)
{
    lbg__mputs(o, name);
    lbg__mputs(o, "{server=\"");
    lbg__mlabel(o, z->name, z->name_len);
    lbg__mputc(o, '"');
}


/* `,<label>="<value>"} <v>\n`, value a rule name or a constant */
static void
lbg__mend(lbg__mout_t *o, const char *label, const char *value, uint64_t v)
{
    if (label != NULL) {
        lbg__mputc(o, ',');
        lbg__mputs(o, label);
        lbg__mputs(o, "=\"");
        lbg__mlabel(o, value, strlen(value));
        lbg__mputc(o, '"');
    }
    lbg__mputs(o, "} ");
    lbg__mputu(o, v);
    lbg__mputc(o, '\n');
}


size_t
lbg_metrics_format(const lbg_metrics_view_t *v, char *buf, size_t size)
{
    lbg__mout_t               o;
    const lbg_metrics_zone_t *z;
    const lbg_metrics_t      *m;
    const lbg_rule_t         *r;
    size_t                    i;
    unsigned                  rule, k;

    o.buf = buf;
    o.size = buf != NULL ? size : 0;
    o.len = 0;

    lbg__mhead(&o, "lbguard_build_info", "gauge",
               "The lbguard code that is live (always 1).");
    lbg__mputs(&o, "lbguard_build_info{version=\"");
    lbg__mlabel(&o, LBG_VERSION, strlen(LBG_VERSION));
    lbg__mputs(&o, "\",server_software=\"");
    lbg__mlabel(&o, v->server_software, strlen(v->server_software));
    lbg__mputs(&o, "\"} 1\n");

    lbg__mhead(&o, "lbguard_start_time_seconds", "gauge",
               "Unix time the counters started from 0; a change means a "
               "reset.");
    lbg__mputs(&o, "lbguard_start_time_seconds ");
    lbg__mputu(&o, v->start_time);
    lbg__mputc(&o, '\n');

    lbg__mhead(&o, "lbguard_responses_total", "counter",
               "HTTP/1.x responses lbguard examined, by mode.");
    for (i = 0; i < v->nzones; i++) {
        z = &v->zones[i];
        m = z->counters;
        lbg__mstart(&o, "lbguard_responses_total", z);
        lbg__mend(&o, "mode", "detect", m->responses[0]);
        lbg__mstart(&o, "lbguard_responses_total", z);
        lbg__mend(&o, "mode", "repair", m->responses[1]);
    }

    lbg__mhead(&o, "lbguard_findings_total", "counter",
               "Findings by rule and outcome (repaired; reported: no repair "
               "exists; detected: left as sent).");
    for (i = 0; i < v->nzones; i++) {
        z = &v->zones[i];
        m = z->counters;
        for (rule = 1; rule < LBG_RULE_END; rule++) {
            r = lbg_rule((lbg_rule_e) rule);
            for (k = 0; k < LBG_OUTCOMES; k++) {
                /* the outcomes a rule can have */
                if ((k == LBG_OUTCOME_REPAIRED && lbg__no_repair(r))
                    || (k == LBG_OUTCOME_REPORTED && !lbg__no_repair(r)))
                {
                    continue;
                }
                lbg__mstart(&o, "lbguard_findings_total", z);
                lbg__mputs(&o, ",rule=\"");
                lbg__mlabel(&o, r->name, strlen(r->name));
                lbg__mputc(&o, '"');
                lbg__mend(&o, "outcome", lbg__outcome_names[k],
                          m->findings[rule][k]);
            }
        }
    }

    lbg__mhead(&o, "lbguard_connections_closed_total", "counter",
               "Responses after which lbguard kept the connection from being "
               "reused, by the rule that required it.");
    for (i = 0; i < v->nzones; i++) {
        z = &v->zones[i];
        m = z->counters;
        for (rule = 1; rule < LBG_RULE_END; rule++) {
            if (!lbg__closed_series((lbg_rule_e) rule)) {
                continue;
            }
            lbg__mstart(&o, "lbguard_connections_closed_total", z);
            lbg__mend(&o, "reason", lbg_rule_name((lbg_rule_e) rule),
                      m->closed[rule]);
        }
    }

    lbg__mhead(&o, "lbguard_bodies_cut_total", "counter",
               "Bodies cut at their declared length or dropped (repair).");
    for (i = 0; i < v->nzones; i++) {
        z = &v->zones[i];
        lbg__mstart(&o, "lbguard_bodies_cut_total", z);
        lbg__mend(&o, NULL, NULL, z->counters->bodies_cut);
    }

    lbg__mhead(&o, "lbguard_body_cut_bytes_total", "counter",
               "Body bytes not sent because they were past the declared "
               "length.");
    for (i = 0; i < v->nzones; i++) {
        z = &v->zones[i];
        lbg__mstart(&o, "lbguard_body_cut_bytes_total", z);
        lbg__mend(&o, NULL, NULL, z->counters->body_cut_bytes);
    }

    lbg__mhead(&o, "lbguard_keepalive_contexts", "gauge",
               "Keep-alive verdicts of the loaded configuration's contexts "
               "against the load balancer idle timeout.");
    for (i = 0; i < v->nzones; i++) {
        z = &v->zones[i];
        for (k = 0; k < LBG_KA_VERDICTS; k++) {
            lbg__mstart(&o, "lbguard_keepalive_contexts", z);
            lbg__mend(&o, "verdict", lbg__verdict_names[k], z->keepalive[k]);
        }
    }

    lbg__mhead(&o, "lbguard_drain_connections_total", "counter",
               "Idle keep-alive connections of a shutting-down worker or "
               "child, by how they ended (all zones).");
    for (k = 0; k < LBG_DRAIN_OUTCOMES; k++) {
        lbg__mputs(&o, "lbguard_drain_connections_total{outcome=\"");
        lbg__mputs(&o, lbg__drain_names[k]);
        lbg__mputs(&o, "\"} ");
        lbg__mputu(&o, v->drain != NULL ? v->drain[k] : 0);
        lbg__mputc(&o, '\n');
    }

    return o.len;
}


int
lbg_metrics_zone_name_valid(const char *s, size_t len)
{
    size_t        i;
    unsigned char c;

    if (len == 0 || len > LBG_METRICS_NAME_MAX) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':'
              || c == '-'))
        {
            return 0;
        }
    }
    return 1;
}
