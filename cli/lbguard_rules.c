/*
 * lbguard_rules.c -- `lbguard rules [--json]`: prints the core's rule table
 * (lbg_rule) as text or JSON.
 */

#include <stdio.h>
#include <string.h>

#include "lbguard_cli.h"


static const char rules_usage[] =
    "usage: lbguard rules [--json]\n"
    "\n"
    "Prints the rule table: id, name, RFC section, tier, the load balancers\n"
    "that reject the defect (502 or reset), and what repair mode does.\n"
    "\n"
    "  --json    one JSON object: {\"rules\": [...], \"profiles\": [...]}; "
    "a\n"
    "            rule's \"fix\" lists what its repair does: \"edit\" (makes\n"
    "            the response conformant), \"close\" (the connection is not\n"
    "            reused); [] is reported only\n";


/* `rules --json`: {"rules":[ one rule object per line ],"profiles":[ one
 * profile object per line ]}. */
static int
lbguard_rules_json(void)
{
    const lbg_rule_t *r;
    lbguard_json_t    j;
    lbg_policy_t      pol;
    int               i, p;

    lbguard_json_init(&j, stdout);
    lbguard_json_begin(&j, '{', 0);
    lbguard_json_key(&j, "rules");
    lbguard_json_begin(&j, '[', 1);
    for (i = 1; i < LBG_RULE_END; i++) {
        r = lbg_rule((lbg_rule_e) i);
        if (r == NULL) {
            continue;
        }
        lbguard_json_begin(&j, '{', 0);
        lbguard_json_key(&j, "id");
        lbguard_json_int(&j, (int) r->id);
        lbguard_json_key(&j, "name");
        lbguard_json_cstr(&j, r->name);
        lbguard_json_key(&j, "rfc");
        lbguard_json_cstr(&j, r->rfc);
        lbguard_json_key(&j, "tier");
        lbguard_json_cstr(&j, lbg_tier_name(r->tier));
        lbguard_json_key(&j, "rejected_by");
        lbguard_json_lbs(&j, r->lb_mask);
        lbguard_json_key(&j, "repair");
        lbguard_json_cstr(&j, r->repair);
        /* what the repair does (LBG_FIX_*): [] is reported only */
        lbguard_json_key(&j, "fix");
        lbguard_json_begin(&j, '[', 0);
        if (r->fix & LBG_FIX_EDIT) {
            lbguard_json_cstr(&j, "edit");
        }
        if (r->fix & LBG_FIX_CLOSE) {
            lbguard_json_cstr(&j, "close");
        }
        if (r->fix & LBG_FIX_LB_502) {
            /* the budgets: the target's own 502 under a one-LB profile */
            lbguard_json_cstr(&j, "lb-502");
        }
        lbguard_json_end(&j, ']');
        lbguard_json_end(&j, '}');
    }
    lbguard_json_newline(&j);
    lbguard_json_end(&j, ']');
    /* the profiles in list order: name, the load balancer's label,
     * LBG_LB_* mask and header budgets (LBG_PROFILES; lbg_header_over():
     * max_header_bytes counts header_field_cost more per field line) */
    lbguard_json_key(&j, "profiles");
    lbguard_json_begin(&j, '[', 1);
    for (i = 0; (p = lbg_profile_at((size_t) i)) >= 0; i++) {
        lbg_policy_init(&pol, (lbg_profile_e) p);
        lbguard_json_begin(&j, '{', 0);
        lbguard_json_key(&j, "name");
        lbguard_json_cstr(&j, lbg_profile_name((lbg_profile_e) p));
        lbguard_json_key(&j, "label");
        lbguard_json_cstr(&j, lbg_profile_label((lbg_profile_e) p));
        lbguard_json_key(&j, "lb_mask");
        lbguard_json_uint(&j, lbg_profile_lb_mask((lbg_profile_e) p));
        lbguard_json_key(&j, "max_field_bytes");
        lbguard_json_uint(&j, pol.max_field_bytes);
        lbguard_json_key(&j, "max_header_bytes");
        lbguard_json_uint(&j, pol.max_header_bytes);
        lbguard_json_key(&j, "max_fields");
        lbguard_json_uint(&j, pol.max_fields);
        lbguard_json_key(&j, "header_field_cost");
        lbguard_json_uint(&j, pol.header_field_cost);
        lbguard_json_end(&j, '}');
    }
    lbguard_json_newline(&j);
    lbguard_json_end(&j, ']');
    lbguard_json_end(&j, '}');
    lbguard_json_newline(&j);
    return lbguard_flush_stdout("rules") == 0 ? LBGUARD_EXIT_OK
                                              : LBGUARD_EXIT_USAGE;
}


int
lbguard_cmd_rules(int argc, char **argv)
{
    const lbg_rule_t *r;
    int               i, json = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--help") == 0
                   || strcmp(argv[i], "-h") == 0) {
            fputs(rules_usage, stdout);
            return LBGUARD_EXIT_OK;
        } else {
            lbguard_err("rules",
                        "unknown argument '%s' (see 'lbguard "
                        "rules --help')",
                        argv[i]);
            return LBGUARD_EXIT_USAGE;
        }
    }

    if (json) {
        return lbguard_rules_json();
    }
    printf("%3s  %-32s  %-13s  %-10s  %s\n", "ID", "NAME", "RFC", "TIER",
           "REJECTED BY / REPAIR");
    for (i = 1; i < LBG_RULE_END; i++) {
        r = lbg_rule((lbg_rule_e) i);
        if (r == NULL) {
            continue;
        }
        printf("%3d  %-32s  %-13s  %-10s  ", (int) r->id, r->name, r->rfc,
               lbg_tier_name(r->tier));
        lbguard_print_lbs(stdout, r->lb_mask, 0);
        printf("\n%3s  %-32s  %-13s  %-10s  repair: %s\n", "", "", "", "",
               r->repair);
    }
    return lbguard_flush_stdout("rules") == 0 ? LBGUARD_EXIT_OK
                                              : LBGUARD_EXIT_USAGE;
}
