/*
 * lbguard_main.c -- the lbguard command: usage, --version and the command
 * table. The top layer: main -> subcommands (check, repair, probe, rules,
 * logs) -> shared layers (report, fetch, net, util) -> core; no file calls
 * a layer above it.
 */

#include <stdio.h>
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


/* The subcommands: argv[0] of fn is the subcommand's name. */
static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} cmds[] = {
    {"check", lbguard_cmd_check}, {"repair", lbguard_cmd_repair},
    {"probe", lbguard_cmd_probe}, {"rules", lbguard_cmd_rules},
    {"logs", lbguard_cmd_logs},
};


int
main(int argc, char **argv)
{
    const char *cmd;
    size_t      i;

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
        || strcmp(cmd, "help") == 0)
    {
        fputs(usage, stdout);
        return LBGUARD_EXIT_OK;
    }
    for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(cmd, cmds[i].name) == 0) {
            return cmds[i].fn(argc - 1, argv + 1);
        }
    }
    lbguard_err(NULL, "unknown command '%s' (see 'lbguard --help')", cmd);
    return LBGUARD_EXIT_USAGE;
}
