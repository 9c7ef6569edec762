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


static const char check_usage[] =
    "usage: lbguard check [options] [FILE|-]\n"
    "\n"
    "Reads one raw HTTP/1.x response (status line, header section, body) "
    "from\n"
    "FILE or stdin (\"-\" or no FILE), at most 64 MiB, and prints every\n"
    "finding: rule, tier, line and byte offset, the offending bytes, which\n"
    "load balancers reject it and the repair that applies.\n"
    "Interim responses (1xx but 101) are followed by the next response: "
    "each\n"
    "one is checked, up to the final response (at most 16 interim ones).\n"
    "\n"
    "  --profile P     strictest (default), haproxy, nginx, nginx-1.22,\n"
    "                  envoy, llhttp, aws-alb: report only what that load\n"
    "                  balancer rejects, with its header-size budgets\n"
    "                  (nginx-1.22: nginx before 1.23.0)\n"
    "  --head          the response answers a HEAD request (no body "
    "follows)\n"
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
    "repaired response to stdout; every finding goes to stderr as a log "
    "line\n"
    "(\"lbguard: <rule>: <detail>, <outcome>\"). Interim responses (1xx but\n"
    "101) are repaired each and written before the final response. The\n"
    "output is checked again before it is written and must be clean for\n"
    "the profile.\n"
    "A response that cannot be repaired safely (a body shorter than its\n"
    "Content-Length, an invalid chunked body, no status line) is reported\n"
    "and nothing is written.\n"
    "\n"
    "  --profile P     strictest (default), haproxy, nginx, nginx-1.22,\n"
    "                  envoy, llhttp, aws-alb: repair only what that load\n"
    "                  balancer rejects (nginx-1.22: nginx before 1.23.0)\n"
    "  --head          the response answers a HEAD request (no body "
    "follows)\n"
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
        lbguard_err(cmd, "cannot read '%s': %s", is_stdin ? "<stdin>" : path,
                    strerror(errno));
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
    /* check takes all four; repair --head and --profile only */
    const lbguard_opt_t opts[] = {
        {"--head", NULL, LBGUARD_OPT_FLAG, &o->head, NULL},
        {"--profile", NULL, LBGUARD_OPT_PROFILE, &o->profile, NULL},
        {"--json", NULL, LBGUARD_OPT_FLAG, &o->json, NULL},
        {"--fail-on", NULL, LBGUARD_OPT_TIER, &o->fail_on, NULL},
    };
    int i, r;

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
        r = lbguard_opt_match(cmd, argc, argv, &i, opts, allow_check ? 4 : 2);
        if (r < 0) {
            return LBGUARD_EXIT_USAGE;
        }
        if (r > 0) {
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


/* Parses every response of buf[0..len) into *ch (lbguard_analyse_chain).
 * Returns 0, or LBGUARD_EXIT_USAGE (message printed): out of memory, or
 * more than LBGUARD_INTERIM_MAX interim responses. */
static int
lbguard_check_chain(const char *cmd, const char *label,
                    const lbguard_check_opts_t *o, const unsigned char *buf,
                    size_t len, lbguard_chain_t *ch)
{
    if (lbguard_analyse_chain(cmd, ch, o->profile, buf, len, o->head) != 0) {
        return LBGUARD_EXIT_USAGE;
    }
    if (ch->too_many) {
        lbguard_err(cmd,
                    "%s: more than %d interim (1xx) responses before the "
                    "final response: refused",
                    label, LBGUARD_INTERIM_MAX);
        lbguard_chain_free(ch);
        return LBGUARD_EXIT_USAGE;
    }
    return 0;
}


int
lbguard_cmd_check(int argc, char **argv)
{
    lbguard_check_opts_t o;
    lbguard_chain_t      ch;
    lbguard_json_t       j;
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
    label = strcmp(o.path, "-") == 0 ? "<stdin>" : o.path;
    rc = lbguard_check_chain("check", label, &o, buf, len, &ch);
    if (rc != 0) {
        free(buf);
        return rc;
    }

    if (o.json) {
        lbguard_json_init(&j, stdout);
        lbguard_json_begin(&j, '{', 0);
        lbguard_json_key(&j, "input");
        lbguard_json_cstr(&j, label);
        lbguard_json_chain(&j, &ch, buf, len);
        lbguard_json_end(&j, '}');
        lbguard_json_newline(&j);
    } else {
        lbguard_print_chain(stdout, label, &ch, buf, len);
    }
    rc = lbguard_chain_fails(&ch, o.fail_on) ? LBGUARD_EXIT_FINDINGS
                                             : LBGUARD_EXIT_OK;
    lbguard_chain_free(&ch);
    free(buf);
    if (fflush(stdout) != 0) {
        lbguard_err("check", "cannot write output: %s", strerror(errno));
        return LBGUARD_EXIT_USAGE;
    }
    return rc;
}


/* Prints every finding of every response of `ch` as a log line on
 * stderr. */
static void
lbguard_log_findings(const lbguard_chain_t *ch, int repaired)
{
    const lbguard_result_t *res;
    char                    msg[1024];
    size_t                  i, k;

    for (k = 0; k < ch->n; k++) {
        res = &ch->msg[k];
        for (i = 0; i < res->rep.nfindings; i++) {
            lbg_finding_format(&res->raw.view, &res->rep.findings[i],
                               repaired, msg, sizeof(msg));
            fprintf(stderr, "lbguard: %s\n", msg);
        }
    }
}


/* 1 when response `res` cannot be repaired safely. */
static int
lbguard_unrepairable(const lbguard_result_t *res)
{
    return res->parse_rc != 0 || res->rep.unrepairable || res->rep.truncated;
}


/* Says on stderr why `res` is not repaired: the rules without a safe
 * repair ("none ..." in the rule table). */
static void
lbguard_refuse(const char *label, const lbguard_result_t *res)
{
    const lbg_rule_t *rule;
    size_t            i, j;
    int               n = 0, printed = 0;

    fprintf(stderr, "lbguard: repair: %s: cannot be repaired safely (",
            label);
    if (res->parse_rc != 0
        && !(res->rep.nfindings > 0
             && res->rep.findings[0].rule == LBG_RULE_HEADER_INCOMPLETE))
    {
        /* (cut in its status line: header-section-incomplete below) */
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
    lbguard_chain_t      ch, again;
    lbguard_result_t    *res;
    lbg_raw_t            raw;
    unsigned char       *buf, *out = NULL;
    size_t               len, n, cap, i, k;
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
    rc = lbguard_check_chain("repair", label, &o, buf, len, &ch);
    if (rc != 0) {
        free(buf);
        return rc;
    }

    for (k = 0; k < ch.n; k++) {
        if (lbguard_unrepairable(&ch.msg[k])) {
            lbguard_log_findings(&ch, 0);
            lbguard_refuse(label, &ch.msg[k]);
            rc = LBGUARD_EXIT_FINDINGS;
            goto done;
        }
    }

    /* each response's repair needs at most 2 * its length + 256 bytes */
    cap = 2 * len + 256 * (LBGUARD_INTERIM_MAX + 1);
    out = malloc(cap);
    if (out == NULL) {
        lbguard_err("repair", "out of memory");
        rc = LBGUARD_EXIT_USAGE;
        goto done;
    }
    /* the repaired interim responses, then the repaired final one */
    for (n = 0, k = 0; k < ch.n; k++) {
        res = &ch.msg[k];
        raw = res->raw;
        if (lbguard_is_interim(res)) {
            /* its own (dropped) body, not the responses after it: those
             * are repaired on their own */
            raw.body_len = raw.interim_body;
            raw.body_framed = raw.interim_body;
        }
        i = lbg_repair_raw(&raw, &res->rep, out + n, cap - n);
        if (i == (size_t) -1) {
            lbguard_err("repair",
                        "%s: the repaired response does not fit "
                        "(core bug: lbg_repair_raw needs more than 2 * %lu "
                        "+ 256 bytes)",
                        label, (unsigned long) (len - ch.off[k]));
            rc = LBGUARD_EXIT_USAGE;
            goto done;
        }
        n += i;
        if (lbg_report_bad_gateway(&res->rep)) {
            break; /* the target's own 502 replaces what follows too */
        }
    }

    /* What goes out must pass the same check. */
    if (lbguard_analyse_chain("repair", &again, o.profile, out, n, o.head)
        != 0) {
        rc = LBGUARD_EXIT_USAGE;
        goto done;
    }
    for (k = 0, rc = 0; k < again.n; k++) {
        res = &again.msg[k];
        for (i = 0; i < res->rep.nfindings; i++) {
            if (rc == 0) {
                lbguard_log_findings(&ch, 0);
            }
            lbguard_err("repair",
                        "%s: the repaired response still has %s: "
                        "nothing written",
                        label, lbg_rule_name(res->rep.findings[i].rule));
            rc = LBGUARD_EXIT_FINDINGS;
        }
    }
    lbguard_chain_free(&again);
    if (rc != 0) {
        goto done;
    }

    lbguard_log_findings(&ch, 1);
    if (fwrite(out, 1, n, stdout) != n || fflush(stdout) != 0) {
        lbguard_err("repair", "cannot write output: %s", strerror(errno));
        rc = LBGUARD_EXIT_USAGE;
        goto done;
    }
    rc = LBGUARD_EXIT_OK;

done:
    free(out);
    lbguard_chain_free(&ch);
    free(buf);
    return rc;
}
