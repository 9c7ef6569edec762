/*
 * lbguard_main.c -- the lbguard command: subcommand dispatch, --version,
 * `lbguard rules`, and the small helpers shared by the subcommands
 * (messages, option values, durations, JSON strings).
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbguard_cli.h"
#include "lbguard_logs.h"


static const char usage[] =
    "usage: lbguard <command> [options]\n"
    "\n"
    "Checks and repairs HTTP/1.x responses that make a load balancer answer\n"
    "502, and measures a server's idle keep-alive timeout.\n"
    "\n"
    "commands:\n"
    "  check [FILE|-]   print every finding in one raw HTTP/1.x response\n"
    "  repair [FILE|-]  write the repaired response to stdout\n"
    "  probe URL        fetch URL, check the response, measure keep-alive\n"
    "  rules            print the rule table\n"
    "  logs [FILE|DIR|-]...  the cause of every 5xx in LB access logs\n"
    "\n"
    "  lbguard <command> --help   options of a command\n"
    "  lbguard --version          print the version\n"
    "\n"
    "exit status: 0 clean, 1 findings (or repair refused), 2 usage or input\n"
    "error. See lbguard(1).\n";

static const char rules_usage[] =
    "usage: lbguard rules [--json]\n"
    "\n"
    "Prints the rule table: id, name, RFC section, tier, the load balancers\n"
    "that reject the defect (502 or reset), and what repair mode does.\n"
    "\n"
    "  --json    one JSON object: {\"rules\": [...], \"profiles\": [...]}; a\n"
    "            rule's \"fix\" lists what its repair does: \"edit\" (makes\n"
    "            the response conformant), \"close\" (the connection is not\n"
    "            reused); [] is reported only\n";


void
lbguard_err(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fputs("lbguard: ", stderr);
    if (cmd != NULL) {
        fprintf(stderr, "%s: ", cmd);
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
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
    if (lbg_tier_parse(v, strlen(v), out) == 0
        && *out != LBG_TIER_COMPLIANT) {
        return 0;
    }
    lbguard_err(cmd, "unknown tier '%s' (one of: acceptable ambiguous "
                "severe)", v);
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


void
lbguard_json_str(FILE *out, const char *s, size_t len)
{
    size_t        i;
    unsigned char c;

    fputc('"', out);
    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
        } else if (c < 0x20 || c >= 0x7f) {
            fprintf(out, "\\u%04x", c);
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}


void
lbguard_print_lbs(FILE *out, unsigned mask, int json)
{
    size_t i;
    int    p, first = 1;

    if (json) {
        fputc('[', out);
    }
    /* the load balancers in list order, by their profiles' names */
    for (i = 0; (p = lbg_profile_at(i)) >= 0; i++) {
        if (p == LBG_PROFILE_STRICTEST
            || !(mask & lbg_profile_lb_mask((lbg_profile_e) p)))
        {
            continue;
        }
        if (json) {
            fprintf(out, "%s\"%s\"", first ? "" : ",",
                    lbg_profile_name((lbg_profile_e) p));
        } else {
            fprintf(out, "%s%s", first ? "" : ", ",
                    lbg_profile_name((lbg_profile_e) p));
        }
        first = 0;
    }
    if (json) {
        fputc(']', out);
    } else if (first) {
        fputs("none (the RFC alone forbids it)", out);
    }
}


int
lbguard_cmd_rules(int argc, char **argv)
{
    const lbg_rule_t *r;
    lbg_policy_t      pol;
    const char       *s;
    int               i, p, json = 0, first = 1;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--help") == 0
                   || strcmp(argv[i], "-h") == 0) {
            fputs(rules_usage, stdout);
            return LBGUARD_EXIT_OK;
        } else {
            lbguard_err("rules", "unknown argument '%s' (see 'lbguard "
                        "rules --help')", argv[i]);
            return LBGUARD_EXIT_USAGE;
        }
    }

    if (json) {
        fputs("{\"rules\":[", stdout);
    } else {
        printf("%3s  %-32s  %-13s  %-10s  %s\n", "ID", "NAME", "RFC",
               "TIER", "REJECTED BY / REPAIR");
    }
    for (i = 1; i < LBG_RULE_END; i++) {
        r = lbg_rule((lbg_rule_e) i);
        if (r == NULL) {
            continue;
        }
        if (json) {
            fprintf(stdout, "%s\n{\"id\":%d,\"name\":", first ? "" : ",",
                    (int) r->id);
            lbguard_json_str(stdout, r->name, strlen(r->name));
            fputs(",\"rfc\":", stdout);
            lbguard_json_str(stdout, r->rfc, strlen(r->rfc));
            fprintf(stdout, ",\"tier\":\"%s\",\"rejected_by\":",
                    lbg_tier_name(r->tier));
            lbguard_print_lbs(stdout, r->lb_mask, 1);
            fputs(",\"repair\":", stdout);
            lbguard_json_str(stdout, r->repair, strlen(r->repair));
            fprintf(stdout, ",\"fix\":[%s%s%s]",
                    (r->fix & LBG_FIX_EDIT) ? "\"edit\"" : "",
                    (r->fix & LBG_FIX_EDIT) && (r->fix & LBG_FIX_CLOSE)
                        ? "," : "",
                    (r->fix & LBG_FIX_CLOSE) ? "\"close\"" : "");
            fputc('}', stdout);
        } else {
            printf("%3d  %-32s  %-13s  %-10s  ", (int) r->id, r->name,
                   r->rfc, lbg_tier_name(r->tier));
            lbguard_print_lbs(stdout, r->lb_mask, 0);
            printf("\n%3s  %-32s  %-13s  %-10s  repair: %s\n", "", "", "",
                   "", r->repair);
        }
        first = 0;
    }
    if (json) {
        /* the profiles in list order: name, the load balancer's label,
         * LBG_LB_* mask and header budgets (LBG_PROFILES) */
        fputs("\n],\"profiles\":[", stdout);
        for (i = 0; (p = lbg_profile_at((size_t) i)) >= 0; i++) {
            lbg_policy_init(&pol, (lbg_profile_e) p);
            fprintf(stdout, "%s\n{\"name\":", i ? "," : "");
            s = lbg_profile_name((lbg_profile_e) p);
            lbguard_json_str(stdout, s, strlen(s));
            fputs(",\"label\":", stdout);
            s = lbg_profile_label((lbg_profile_e) p);
            lbguard_json_str(stdout, s, strlen(s));
            fprintf(stdout, ",\"lb_mask\":%u,\"max_field_bytes\":%lu,"
                    "\"max_header_bytes\":%lu,\"max_fields\":%lu}",
                    lbg_profile_lb_mask((lbg_profile_e) p),
                    (unsigned long) pol.max_field_bytes,
                    (unsigned long) pol.max_header_bytes,
                    (unsigned long) pol.max_fields);
        }
        fputs("\n]}\n", stdout);
    }
    return fflush(stdout) == 0 ? LBGUARD_EXIT_OK : LBGUARD_EXIT_USAGE;
}


int
main(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2) {
        fputs(usage, stderr);
        return LBGUARD_EXIT_USAGE;
    }
    cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("lbguard %s\n", LBG_VERSION);
        return LBGUARD_EXIT_OK;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0
        || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return LBGUARD_EXIT_OK;
    }
    if (strcmp(cmd, "check") == 0) {
        return lbguard_cmd_check(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "repair") == 0) {
        return lbguard_cmd_repair(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "probe") == 0) {
        return lbguard_cmd_probe(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "rules") == 0) {
        return lbguard_cmd_rules(argc - 1, argv + 1);
    }
    if (strcmp(cmd, "logs") == 0) {
        return lbguard_cmd_logs(argc - 1, argv + 1);
    }
    lbguard_err(NULL, "unknown command '%s' (see 'lbguard --help')", cmd);
    return LBGUARD_EXIT_USAGE;
}
