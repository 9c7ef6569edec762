#!/usr/bin/env python3
"""README.md stays true: its rule table is the one common/lbg.h defines, and
it starts with the two commands CI and users rely on."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))

import lbgtest  # noqa: E402
import rules_table  # noqa: E402

res = lbgtest.Results("docs")
readme = open(os.path.join(lbgtest.ROOT, "README.md")).read()
a = readme.index("<!-- rules:begin -->\n") + len("<!-- rules:begin -->\n")
b = readme.index("<!-- rules:end -->")
build = lbgtest.build_dir()
if not res.check("build/lbguard exists (make cli)", os.path.exists(os.path.join(build, "lbguard"))):
    sys.exit(res.summary())
res.eq("README rule table matches common/lbg.h (lbguard rules --json)", readme[a:b],
       rules_table.table(build))
head = "\n".join(readme.splitlines()[:12])
res.check("README starts with make demo", "make demo" in head)
res.check("README starts with make test", "make test" in head)
ci = open(os.path.join(lbgtest.ROOT, ".ci", "run")).read()
res.check(".ci/run runs make test", "make test" in ci)
rules = rules_table.rules(build)
res.eq("rule ids are 1..N without gaps", [r[0] for r in rules], list(range(1, len(rules) + 1)))
res.eq("rule names are unique", len(set(r[1] for r in rules)), len(rules))
sys.exit(res.summary())
