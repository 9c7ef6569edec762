/*
 * lbguard_check.c -- `lbguard check` and `lbguard repair`: read one raw
 * HTTP/1.x response (a file or stdin, at most 64 MiB), parse it with the
 * core (lbg_parse), print the findings, and write lbg_repair_raw's output.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbguard_cli.h"


/* Escaped offending bytes and log lines: bytes of input shown at most. */
#define LBGUARD_SHOW_BYTES 64

/* Capacity of fields[] at least (lbg_parse records lines beyond it as
 * too-many-fields); findings and edits are capped (a truncated report is
 * never repaired). */
#define LBGUARD_FIELDS_MIN   1024
#define LBGUARD_FINDINGS_CAP 65536


static const char check_usage[] =
    "usage: lbguard check [options] [FILE|-]\n"
    "\n"
    "Reads one raw HTTP/1.x response (status line, header section, body) from\n"
    "FILE or stdin (\"-\" or no FILE), at most 64 MiB, and prints every\n"
    "finding: rule, tier, line and byte offset, the offending bytes, which\n"
    "load balancers reject it and the repair that applies.\n"
    "\n"
    "  --profile P     strictest (default), haproxy, nginx, nginx-1.22,\n"
    "                  envoy, llhttp, aws-alb: report only what that load\n"
    "                  balancer rejects, with its header-size budgets\n"
    "                  (nginx-1.22: nginx before 1.23.0)\n"
    "  --head          the response answers a HEAD request (no body follows)\n"
    "  --fail-on T     exit 1 when a finding is at tier T or worse:\n"
    "                  acceptable, ambiguous, severe; default: any finding\n"
    "                  the profile's load balancers reject, whatever its\n"
    "                  tier (strictest: any LB's, or ambiguous and worse)\n"
    "  --json          print one JSON object instead of text\n"
    "\n"
    "exit status: 0 no finding at or above --fail-on, 1 findings, 2 usage\n"
    "error or unreadable input.\n";

static const char repair_usage[] =
    "usage: lbguard repair [options] [FILE|-]\n"
    "\n"
    "Reads one raw HTTP/1.x response like 'lbguard check' and writes the\n"
    "repaired response to stdout; every finding goes to stderr as a log line\n"
    "(\"lbguard: <rule>: <detail>, <outcome>\"). The repaired response is\n"
    "checked again before it is written and must be clean for the profile.\n"
    "A response that cannot be repaired safely (a body shorter than its\n"
    "Content-Length, an invalid chunked body, no status line) is reported\n"
    "and nothing is written.\n"
    "\n"
    "  --profile P     strictest (default), haproxy, nginx, nginx-1.22,\n"
    "                  envoy, llhttp, aws-alb: repair only what that load\n"
    "                  balancer rejects (nginx-1.22: nginx before 1.23.0)\n"
    "  --head          the response answers a HEAD request (no body follows)\n"
    "\n"
    "exit status: 0 repaired (or already clean), 1 cannot be repaired\n"
    "safely, 2 usage error or unreadable input.\n";


/*
 * Reads all of `path` ("-": stdin) into *buf (malloc'd), at most
 * LBGUARD_INPUT_MAX bytes. Returns 0, or LBGUARD_EXIT_USAGE with a
 * one-line message.
 */
static int
lbguard_read_input(const char *cmd, const char *path, unsigned char **buf,
                   size_t *len)
{
    FILE          *f;
    unsigned char *b = NULL, *nb;
    size_t         n = 0, cap = 0, got;
    int            is_stdin = strcmp(path, "-") == 0;

    if (is_stdin) {
        f = stdin;
    } else {
        f = fopen(path, "rb");
        if (f == NULL) {
            lbguard_err(cmd, "cannot open '%s': %s", path, strerror(errno));
            return LBGUARD_EXIT_USAGE;
        }
    }

    for (;;) {
        if (n == cap) {
            if (cap > LBGUARD_INPUT_MAX) {
                lbguard_err(cmd, "'%s' is larger than 64 MiB: refused",
                            is_stdin ? "<stdin>" : path);
                goto fail;
            }
            cap = cap ? cap * 2 : 65536;
            if (cap > LBGUARD_INPUT_MAX + 1) {
                cap = LBGUARD_INPUT_MAX + 1;
            }
            nb = realloc(b, cap);
            if (nb == NULL) {
                lbguard_err(cmd, "out of memory reading '%s'", path);
                goto fail;
            }
            b = nb;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f)) {
        lbguard_err(cmd, "cannot read '%s': %s",
                    is_stdin ? "<stdin>" : path, strerror(errno));
        goto fail;
    }
    if (n > LBGUARD_INPUT_MAX) {
        lbguard_err(cmd, "'%s' is larger than 64 MiB: refused",
                    is_stdin ? "<stdin>" : path);
        goto fail;
    }
    if (n == 0) {
        lbguard_err(cmd, "'%s' is empty: no response to check",
                    is_stdin ? "<stdin>" : path);
        goto fail;
    }
    if (!is_stdin) {
        fclose(f);
    }
    *buf = b;
    *len = n;
    return 0;

fail:
    if (!is_stdin) {
        fclose(f);
    }
    free(b);
    return LBGUARD_EXIT_USAGE;
}


/* Number of lines before the first empty line (the header section's
 * lines), or of all lines when there is none. */
static size_t
lbguard_header_lines(const unsigned char *buf, size_t len)
{
    const unsigned char *p = buf, *end = buf + len, *lf;
    size_t               lines = 0;

    while (p < end) {
        lf = memchr(p, '\n', (size_t) (end - p));
        lines++;
        if (lf == NULL) {
            break;
        }
        p = lf + 1;
        if (p < end && *p == '\n') {
            break;
        }
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            break;
        }
    }
    return lines;
}


int
lbguard_analyse(const char *cmd, lbguard_result_t *res, lbg_profile_e profile,
                const unsigned char *buf, size_t len, int head)
{
    size_t fcap;

    memset(res, 0, sizeof(*res));
    res->fields_cap = lbguard_header_lines(buf, len) + 1;
    if (res->fields_cap < LBGUARD_FIELDS_MIN) {
        res->fields_cap = LBGUARD_FIELDS_MIN;
    }
    fcap = res->fields_cap * 2 + 64;
    if (fcap > LBGUARD_FINDINGS_CAP) {
        fcap = LBGUARD_FINDINGS_CAP;
    }
    res->fields = calloc(res->fields_cap, sizeof(lbg_field_t));
    res->findings = calloc(fcap, sizeof(lbg_finding_t));
    res->edits = calloc(fcap * 2, sizeof(lbg_edit_t));
    if (res->fields == NULL || res->findings == NULL || res->edits == NULL) {
        lbguard_err(cmd, "out of memory");
        lbguard_result_free(res);
        return -1;
    }
    lbg_policy_init(&res->policy, profile);
    lbg_report_init(&res->rep, res->findings, fcap, res->edits, fcap * 2);
    res->parse_rc = lbg_parse(&res->policy, buf, len, head, res->fields,
                              res->fields_cap, &res->raw, &res->rep);
    return 0;
}


void
lbguard_result_free(lbguard_result_t *res)
{
    free(res->fields);
    free(res->findings);
    free(res->edits);
    res->fields = NULL;
    res->findings = NULL;
    res->edits = NULL;
}


int
lbguard_fails(const lbguard_result_t *res, lbg_tier_e fail_on)
{
    const lbg_rule_t *rule;
    size_t            i;

    if (fail_on != LBGUARD_FAIL_REJECTED) {
        return res->rep.nfindings > 0 && res->rep.worst >= fail_on;
    }
    /* the default (issue 9): whatever the profile's load balancers reject
     * (lbg_parse records only those), whatever its tier; under strictest,
     * what any load balancer rejects, and anything ambiguous or worse */
    if (res->rep.truncated) {
        return 1;
    }
    for (i = 0; i < res->rep.nfindings; i++) {
        rule = lbg_rule(res->rep.findings[i].rule);
        if (rule == NULL || rule->tier >= LBG_TIER_AMBIGUOUS
            || res->policy.profile != LBG_PROFILE_STRICTEST
            || (rule->lb_mask & LBG_LB_ALL) != 0)
        {
            return 1;
        }
    }
    return 0;
}


static const char *
lbguard_framing_name(lbg_framing_e f)
{
    switch (f) {
    case LBG_FRAMING_NONE:
        return "none";
    case LBG_FRAMING_LENGTH:
        return "content-length";
    case LBG_FRAMING_CHUNKED:
        return "chunked";
    case LBG_FRAMING_CLOSE:
        return "close";
    }
    return "unknown";
}


/* Where a finding's bytes are: 1 and *off when f->at lies inside
 * buf[0..len], else 0. Compared as integers: no pointer arithmetic on
 * pointers that may not be inside buf. */
static int
lbguard_offset(const lbg_finding_t *f, const unsigned char *buf, size_t len,
               size_t *off)
{
    uintptr_t a = (uintptr_t) f->at, b = (uintptr_t) buf;

    if (f->at == NULL || a < b || a - b > len) {
        return 0;
    }
    *off = (size_t) (a - b);
    return 1;
}


/* Line numbers (1-based) by counting LFs, resumable: findings come mostly
 * in wire order, so the count usually continues from the previous one. */
typedef struct {
    size_t off;
    size_t line;
} lbguard_lines_t;

static size_t
lbguard_line_at(lbguard_lines_t *lc, const unsigned char *buf, size_t off)
{
    const unsigned char *p, *end, *lf;

    if (off < lc->off) {
        lc->off = 0;
        lc->line = 1;
    }
    p = buf + lc->off;
    end = buf + off;
    while (p < end && (lf = memchr(p, '\n', (size_t) (end - p))) != NULL) {
        lc->line++;
        p = lf + 1;
    }
    lc->off = off;
    return lc->line;
}


void
lbguard_print_findings(FILE *out, const char *label,
                       const lbguard_result_t *res, const unsigned char *buf,
                       size_t len, int json, int repaired)
{
    const lbg_report_t  *rep = &res->rep;
    const lbg_finding_t *f;
    const lbg_rule_t    *rule;
    lbguard_lines_t      lc = { 0, 1 };
    size_t               i, off = 0, line, n;
    int                  has_off;
    char                 esc[LBGUARD_SHOW_BYTES * 4 + 8];
    char                 msg[1024];

    if (json) {
        fputs("\"profile\":", out);
        lbguard_json_str(out, lbg_profile_name(res->policy.profile),
                         strlen(lbg_profile_name(res->policy.profile)));
        fprintf(out, ",\"head\":%s,\"status_line\":%s,\"status\":%d,"
                "\"framing\":\"%s\",\"header_len\":%lu,\"body_len\":%lu,"
                "\"worst\":\"%s\",\"truncated\":%s,\"close\":%s,"
                "\"no_body\":%s,\"unrepairable\":%s,\"findings\":[",
                res->raw.view.head ? "true" : "false",
                res->parse_rc == 0 ? "true" : "false",
                res->raw.view.status,
                lbguard_framing_name(res->raw.framing),
                (unsigned long) res->raw.header_len,
                (unsigned long) res->raw.body_len,
                lbg_tier_name(rep->worst), rep->truncated ? "true" : "false",
                rep->close ? "true" : "false",
                rep->no_body ? "true" : "false",
                rep->unrepairable ? "true" : "false");
    } else if (rep->nfindings == 0) {
        fprintf(out, "%s: no findings (profile %s)\n", label,
                lbg_profile_name(res->policy.profile));
    } else {
        fprintf(out, "%s: %lu finding%s (profile %s), worst tier %s\n",
                label, (unsigned long) rep->nfindings,
                rep->nfindings == 1 ? "" : "s",
                lbg_profile_name(res->policy.profile),
                lbg_tier_name(rep->worst));
        if (res->parse_rc != 0) {
            fprintf(out, "  not an HTTP/1.x response: no status line\n");
        }
    }

    for (i = 0; i < rep->nfindings; i++) {
        f = &rep->findings[i];
        rule = lbg_rule(f->rule);
        has_off = lbguard_offset(f, buf, len, &off);
        line = has_off ? lbguard_line_at(&lc, buf, off) : 0;
        n = has_off ? f->at_len : 0;
        if (has_off && n > len - off) {
            n = len - off;
        }
        lbg_escape(has_off ? f->at : (const unsigned char *) "", n,
                   LBGUARD_SHOW_BYTES, esc, sizeof(esc));
        lbg_finding_format(&res->raw.view, f, repaired, msg, sizeof(msg));

        if (json) {
            fprintf(out, "%s\n{\"id\":%d,\"rule\":\"%s\",\"tier\":\"%s\","
                    "\"rfc\":", i ? "," : "", (int) f->rule,
                    lbg_rule_name(f->rule),
                    rule ? lbg_tier_name(rule->tier) : "unknown");
            lbguard_json_str(out, rule ? rule->rfc : "", rule ? strlen(rule->rfc) : 0);
            if (f->field == LBG_NO_FIELD) {
                fputs(",\"field\":null", out);
            } else {
                fprintf(out, ",\"field\":%lu", (unsigned long) f->field);
            }
            if (has_off) {
                fprintf(out, ",\"offset\":%lu,\"line\":%lu,\"length\":%lu",
                        (unsigned long) off, (unsigned long) line,
                        (unsigned long) f->at_len);
            } else {
                fputs(",\"offset\":null,\"line\":null,\"length\":0", out);
            }
            fputs(",\"bytes\":", out);
            lbguard_json_str(out, esc, strlen(esc));
            fprintf(out, ",\"n1\":%lld,\"n2\":%lld,\"message\":",
                    (long long) f->n1, (long long) f->n2);
            lbguard_json_str(out, msg, strlen(msg));
            fputs(",\"rejected_by\":", out);
            lbguard_print_lbs(out, rule ? rule->lb_mask : 0, 1);
            fputs(",\"repair\":", out);
            lbguard_json_str(out, rule ? rule->repair : "",
                             rule ? strlen(rule->repair) : 0);
            fputc('}', out);
            continue;
        }

        fprintf(out, "  %-10s #%d %s", rule ? lbg_tier_name(rule->tier) : "",
                (int) f->rule, lbg_rule_name(f->rule));
        if (has_off) {
            fprintf(out, " at line %lu, byte %lu\n", (unsigned long) line,
                    (unsigned long) off);
            fprintf(out, "      bytes:       \"%s\"\n", esc);
        } else {
            fputs(" (no offending bytes)\n", out);
        }
        fprintf(out, "      log:         %s\n", msg);
        fputs("      rejected by: ", out);
        lbguard_print_lbs(out, rule ? rule->lb_mask : 0, 0);
        fprintf(out, "\n      repair:      %s (%s)\n",
                rule ? rule->repair : "", rule ? rule->rfc : "");
    }

    if (json) {
        fputs("]", out);
        return;
    }
    if (rep->truncated) {
        fprintf(out, "  ... more findings were not recorded (report full)\n");
    }
    if (rep->nfindings > 0) {
        fprintf(out, "  repair: %s%s%s\n",
                rep->unrepairable ? "cannot make this response conformant"
                                  : "makes this response conformant",
                rep->close ? "; connection closed after it" : "",
                rep->no_body ? "; body dropped" : "");
    }
}


/* Parses the options shared by check and repair. Returns 0, or an exit
 * status (usage error, or 0 after --help as *done). */
typedef struct {
    const char   *path;
    lbg_profile_e profile;
    lbg_tier_e    fail_on;
    int           json;
    int           head;
} lbguard_check_opts_t;

static int
lbguard_check_args(const char *cmd, const char *usage_text, int allow_check,
                   int argc, char **argv, lbguard_check_opts_t *o, int *done)
{
    const char *v;
    int         i, r;

    *done = 0;
    o->path = NULL;
    o->profile = LBG_PROFILE_STRICTEST;
    o->fail_on = LBGUARD_FAIL_REJECTED;
    o->json = 0;
    o->head = 0;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            *done = 1;
            return LBGUARD_EXIT_OK;
        }
        if (strcmp(a, "--head") == 0) {
            o->head = 1;
            continue;
        }
        if (allow_check && strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if ((r = lbguard_opt_value(cmd, argc, argv, &i, "--profile", &v))) {
            if (r < 0 || lbguard_opt_profile(cmd, v, &o->profile) != 0) {
                return LBGUARD_EXIT_USAGE;
            }
            continue;
        }
        if (allow_check
            && (r = lbguard_opt_value(cmd, argc, argv, &i, "--fail-on", &v)))
        {
            if (r < 0 || lbguard_opt_tier(cmd, v, &o->fail_on) != 0) {
                return LBGUARD_EXIT_USAGE;
            }
            continue;
        }
        if (strcmp(a, "--") == 0 && i + 1 < argc && o->path == NULL) {
            o->path = argv[++i];
            continue;
        }
        if (a[0] == '-' && a[1] != '\0') {
            lbguard_err(cmd, "unknown option '%s' (see 'lbguard %s --help')",
                        a, cmd);
            return LBGUARD_EXIT_USAGE;
        }
        if (o->path != NULL) {
            lbguard_err(cmd, "one input at a time ('%s' and '%s')", o->path,
                        a);
            return LBGUARD_EXIT_USAGE;
        }
        o->path = a;
    }
    if (o->path == NULL) {
        o->path = "-";
    }
    return LBGUARD_EXIT_OK;
}


int
lbguard_cmd_check(int argc, char **argv)
{
    lbguard_check_opts_t o;
    lbguard_result_t     res;
    unsigned char       *buf;
    size_t               len;
    int                  rc, done;
    const char          *label;

    rc = lbguard_check_args("check", check_usage, 1, argc, argv, &o, &done);
    if (rc != 0 || done) {
        return rc;
    }
    rc = lbguard_read_input("check", o.path, &buf, &len);
    if (rc != 0) {
        return rc;
    }
    if (lbguard_analyse("check", &res, o.profile, buf, len, o.head) != 0) {
        free(buf);
        return LBGUARD_EXIT_USAGE;
    }
    label = strcmp(o.path, "-") == 0 ? "<stdin>" : o.path;

    if (o.json) {
        fputs("{\"input\":", stdout);
        lbguard_json_str(stdout, label, strlen(label));
        fputc(',', stdout);
        lbguard_print_findings(stdout, label, &res, buf, len, 1, 0);
        fputs("}\n", stdout);
    } else {
        lbguard_print_findings(stdout, label, &res, buf, len, 0, 0);
    }
    rc = lbguard_fails(&res, o.fail_on) ? LBGUARD_EXIT_FINDINGS
                                        : LBGUARD_EXIT_OK;
    lbguard_result_free(&res);
    free(buf);
    if (fflush(stdout) != 0) {
        lbguard_err("check", "cannot write output: %s", strerror(errno));
        return LBGUARD_EXIT_USAGE;
    }
    return rc;
}


/* Prints every finding of `res` as a log line on stderr. */
static void
lbguard_log_findings(const lbguard_result_t *res, int repaired)
{
    char   msg[1024];
    size_t i;

    for (i = 0; i < res->rep.nfindings; i++) {
        lbg_finding_format(&res->raw.view, &res->rep.findings[i], repaired,
                           msg, sizeof(msg));
        fprintf(stderr, "lbguard: %s\n", msg);
    }
}


/* Says on stderr why `res` is not repaired: the rules without a safe
 * repair ("none ..." in the rule table). */
static void
lbguard_refuse(const char *label, const lbguard_result_t *res)
{
    const lbg_rule_t *rule;
    size_t            i, j;
    int               n = 0, printed = 0;

    fprintf(stderr, "lbguard: repair: %s: cannot be repaired safely (", label);
    if (res->parse_rc != 0) {
        fputs("not an HTTP/1.x response", stderr);
        n++;
    } else if (res->rep.truncated) {
        fputs("too many findings to record", stderr);
        n++;
    }
    for (i = 0; n == 0 && i < res->rep.nfindings; i++) {
        rule = lbg_rule(res->rep.findings[i].rule);
        if (rule == NULL || (rule->fix & LBG_FIX_EDIT)) {
            continue;
        }
        for (j = 0; j < i; j++) {
            if (res->rep.findings[j].rule == rule->id) {
                break;
            }
        }
        if (j == i) {
            fprintf(stderr, "%s%s: no safe repair", printed++ ? "; " : "",
                    rule->name);
        }
    }
    fputs("); nothing written\n", stderr);
}


int
lbguard_cmd_repair(int argc, char **argv)
{
    lbguard_check_opts_t o;
    lbguard_result_t     res, again;
    unsigned char       *buf, *out = NULL;
    size_t               len, n, i;
    int                  rc, done;
    const char          *label;

    rc = lbguard_check_args("repair", repair_usage, 0, argc, argv, &o, &done);
    if (rc != 0 || done) {
        return rc;
    }
    rc = lbguard_read_input("repair", o.path, &buf, &len);
    if (rc != 0) {
        return rc;
    }
    label = strcmp(o.path, "-") == 0 ? "<stdin>" : o.path;
    if (lbguard_analyse("repair", &res, o.profile, buf, len, o.head) != 0) {
        free(buf);
        return LBGUARD_EXIT_USAGE;
    }

    if (res.parse_rc != 0 || res.rep.unrepairable || res.rep.truncated) {
        lbguard_log_findings(&res, 0);
        lbguard_refuse(label, &res);
        rc = LBGUARD_EXIT_FINDINGS;
        goto done;
    }

    out = malloc(2 * len + 256);
    if (out == NULL) {
        lbguard_err("repair", "out of memory");
        rc = LBGUARD_EXIT_USAGE;
        goto done;
    }
    n = lbg_repair_raw(&res.raw, &res.rep, out, 2 * len + 256);
    if (n == (size_t) -1) {
        lbguard_err("repair", "%s: the repaired response does not fit "
                    "(core bug: lbg_repair_raw needs more than 2 * %lu + 256 "
                    "bytes)", label, (unsigned long) len);
        rc = LBGUARD_EXIT_USAGE;
        goto done;
    }

    /* What goes out must pass the same check. */
    if (lbguard_analyse("repair", &again, o.profile, out, n, o.head) != 0) {
        rc = LBGUARD_EXIT_USAGE;
        goto done;
    }
    if (again.rep.nfindings > 0) {
        lbguard_log_findings(&res, 0);
        for (i = 0; i < again.rep.nfindings; i++) {
            lbguard_err("repair", "%s: the repaired response still has %s: "
                        "nothing written", label,
                        lbg_rule_name(again.rep.findings[i].rule));
        }
        lbguard_result_free(&again);
        rc = LBGUARD_EXIT_FINDINGS;
        goto done;
    }
    lbguard_result_free(&again);

    lbguard_log_findings(&res, 1);
    if (fwrite(out, 1, n, stdout) != n || fflush(stdout) != 0) {
        lbguard_err("repair", "cannot write output: %s", strerror(errno));
        rc = LBGUARD_EXIT_USAGE;
        goto done;
    }
    rc = LBGUARD_EXIT_OK;

done:
    free(out);
    lbguard_result_free(&res);
    free(buf);
    return rc;
}
