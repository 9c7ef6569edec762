#!/usr/bin/env python3
"""Prints the rule table (LBG_RULES in common/lbg.h) as Markdown, read from
`lbguard rules --json` of a build (the header is not parsed here).

  scripts/rules_table.py [--build DIR] [--write]

DIR defaults to build/ (make cli builds DIR/lbguard). README.md embeds this
output between the markers <!-- rules:begin --> and <!-- rules:end -->;
tests/integration/test_docs.py fails when the two drift apart. `--write`
rewrites README.md in place."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def build_dir(argv=None):
    """--build DIR from argv, else ROOT/build."""
    argv = sys.argv if argv is None else argv
    if "--build" in argv:
        return os.path.abspath(argv[argv.index("--build") + 1])
    return os.path.join(ROOT, "build")


def rules_json(build=None):
    """The object `lbguard rules --json` prints: {"rules": [...],
    "profiles": [...]}."""
    lbg = os.path.join(build or build_dir(), "lbguard")
    out = subprocess.run([lbg, "rules", "--json"], stdout=subprocess.PIPE,
                         check=True).stdout
    return json.loads(out)


def rules(build=None):
    """[(id, name, rfc, Tier, rejected by, repair)] in id order; rejected by
    names the load balancers by their profiles' labels, in list order."""
    obj = rules_json(build)
    label = {p["name"]: p["label"] for p in obj["profiles"]}
    return [(r["id"], r["name"], r["rfc"], r["tier"].capitalize(),
             ", ".join(label[n] for n in r["rejected_by"]) or "none (strictest only)",
             r["repair"]) for r in obj["rules"]]


def table(build=None):
    lines = ["| id | rule | RFC | tier | rejected by | repair |",
             "|---:|---|---|---|---|---|"]
    for r in rules(build):
        lines.append("| %d | `%s` | %s | %s | %s | %s |" % r)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    t = table()
    if "--write" in sys.argv:
        p = os.path.join(ROOT, "README.md")
        s = open(p).read()
        a = s.index("<!-- rules:begin -->\n") + len("<!-- rules:begin -->\n")
        b = s.index("<!-- rules:end -->")
        open(p, "w").write(s[:a] + t + s[b:])
    else:
        sys.stdout.write(t)
