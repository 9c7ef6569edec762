#!/usr/bin/env python3
"""test_docs -- README.md stays true: its rule table is the one
common/lbg.h defines, and it starts with the two commands CI and users
rely on.

Usage: python3 -m tests.integration.test_docs [--build DIR] [-k NAME]
"""
import os
import subprocess

from scripts import rules_table
from tests import lbgtest


def read(*path):
    with open(os.path.join(lbgtest.ROOT, *path), encoding="utf-8") as f:
        return f.read()


class Docs(lbgtest.TestCase):
    suite = "docs"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.readme = read("README.md")

    def test_rule_table(self):
        lbgtest.require(os.path.join(self.build, "lbguard"), "make cli")
        a = self.readme.index("<!-- rules:begin -->\n") + len("<!-- rules:begin -->\n")
        b = self.readme.index("<!-- rules:end -->")
        self.eq("README rule table matches common/lbg.h (lbguard rules --json)",
                self.readme[a:b], rules_table.table(self.build))

    def test_readme_head(self):
        head = "\n".join(self.readme.splitlines()[:12])
        self.check("README starts with make demo", "make demo" in head)
        self.check("README starts with make test", "make test" in head)

    def test_format(self):
        """The C sources follow the root .clang-format (make format-check)."""
        lbgtest.require("/usr/bin/clang-format", "make deps (clang-format)")
        r = subprocess.run(["make", "--no-print-directory", "format-check"], cwd=lbgtest.ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.eq("make format-check: the sources follow .clang-format",
                (r.returncode, r.stdout.decode("utf-8", "replace")[-2000:]),
                (0, r.stdout.decode("utf-8", "replace")[-2000:]))

    def test_ci(self):
        self.check(".ci/run runs make test", "make test" in read(".ci", "run"))

    def test_rule_ids(self):
        lbgtest.require(os.path.join(self.build, "lbguard"), "make cli")
        rules = rules_table.rules(self.build)
        self.eq("rule ids are 1..N without gaps", [r[0] for r in rules],
                list(range(1, len(rules) + 1)))
        self.eq("rule names are unique", len(set(r[1] for r in rules)), len(rules))


if __name__ == "__main__":
    lbgtest.main()
