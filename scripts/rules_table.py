#!/usr/bin/env python3
"""Prints the rule table of common/lbg.h (LBG_RULES) as Markdown.

README.md embeds this output between the markers
<!-- rules:begin --> and <!-- rules:end -->; tests/integration/test_docs.py
fails when the two drift apart. `--write` rewrites README.md in place."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LB = [("LBG_LB_HAPROXY", "HAProxy"), ("LBG_LB_NGINX", "nginx"), ("LBG_LB_NGINX_122", "nginx 1.22"),
      ("LBG_LB_ENVOY", "Envoy"), ("LBG_LB_LLHTTP", "llhttp"), ("LBG_LB_AWS_ALB", "ALB")]


def rules():
    src = open(os.path.join(ROOT, "common", "lbg.h")).read()
    global BITS
    BITS = {m.group(1): int(m.group(2), 16) for m in
            re.finditer(r"#define (LBG_LB_\w+)\s+0x([0-9a-f]+)u", src)}
    BITS["LBG_LB_NGINXES"] = BITS["LBG_LB_NGINX"] | BITS["LBG_LB_NGINX_122"]
    body = src[src.index("#define LBG_RULES(XX)"):src.index("/* Rule identifiers")]
    body = body.replace("\\\n", " ")
    out = []
    for m in re.finditer(r'XX\((\d+),\s*(\w+),\s*"([^"]+)",\s*"([^"]+)",\s*LBG_TIER_(\w+),'
                         r'\s*([A-Z_0-9|&~()\s]+?),\s*"([^"]+)"\)', body):
        expr = re.sub(r"\bLBG_LB_\w+\b", lambda t: str(BITS[t.group(0)]), m.group(6))
        mask = eval(expr, {"__builtins__": {}}) & BITS["LBG_LB_ALL"]
        lbs = [n for k, n in LB if mask & BITS[k]] or ["none (strictest only)"]
        out.append((int(m.group(1)), m.group(3), m.group(4), m.group(5).capitalize(),
                    ", ".join(lbs), m.group(7)))
    return out


def table():
    lines = ["| id | rule | RFC | tier | rejected by | repair |",
             "|---:|---|---|---|---|---|"]
    for r in rules():
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
