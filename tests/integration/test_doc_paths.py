#!/usr/bin/env python3
"""No file of the repository names a path outside it.

Documents, comments and scripts cite public sources (an upstream URL, an RFC
section, a Debian package, a file of this repository), never a file that only
exists on the machine they were written on: a workspace directory, a project
document kept beside the repository, a home or scratch directory. One subTest
per tracked text file (the raw-response and log corpora are data, not text).

Usage: python3 -m tests.integration.test_doc_paths [--build DIR] [-k NAME]
"""
import os
import re
import subprocess

from tests import lbgtest

ROOT = lbgtest.ROOT
SELF = os.path.relpath(os.path.abspath(__file__), ROOT)

# (what it is, pattern): each names something outside the repository
FORBIDDEN = [
    ("a workspace directory of the machine", re.compile(r"(?<![\w.$)}-])/work/")),
    ("a home directory", re.compile(r"(?<![\w.-])(/home/[a-z_]|/Users/[A-Za-z])")),
    ("a scratch directory of the machine",
     re.compile(r"(?<![\w.$)}-])/tmp/[A-Za-z0-9_.-]+/")),
    ("the project's shared directory",
     re.compile(r"\.\./shared\b|\bshared/(reference|design|hooks)\b|\bshared reference\b")),
    ("a project document kept outside the repository",
     re.compile(r"\b(build-notes|load-balancers\.md|alb-logs\.md|metrics-packaging\.md"
                r"|drain\.md|review-[0-9a-f]{7}|STYLE\.md)")),
]

# data, not text: raw responses, fuzz inputs, access-log samples
DATA_DIRS = ("tests/cases/", "tests/fuzz/regress/", "tests/logs/")


def tracked_files():
    """The repository's files: git's list (tracked and untracked but not
    ignored) in a checkout, else every file but build/ and .git/."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=ROOT, check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        files = [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(ROOT):
            dirs[:] = [x for x in dirs if x not in (".git", "build")]
            files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
    return sorted(f for f in files if os.path.isfile(os.path.join(ROOT, f)))


def text_files():
    for f in tracked_files():
        if f == SELF or (f.startswith(DATA_DIRS) and not f.endswith(".md")):
            continue
        with open(os.path.join(ROOT, f), "rb") as fh:
            data = fh.read()
        if b"\0" in data:
            continue
        yield f, data.decode("utf-8", "replace")


def findings(text):
    """Every (line number, what, line) of text that names an outside path."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        for what, rx in FORBIDDEN:
            if rx.search(line):
                out.append((n, what, line.strip()))
    return out


class DocPaths(lbgtest.TestCase):
    suite = "doc-paths"

    def test_patterns_can_fail(self):
        for bad in ("see /work/shared/STYLE.md", "(../shared/design/x.md)",
                    "load-balancers.md table 1b", "a clone in /tmp/bx/clone",
                    "build-notes §3"):
            with self.subTest(line=bad):
                self.assertTrue(findings(bad), bad)
        for good in ("install -D debian/tmp/usr/bin/lbguard", "/usr/share/nginx/src",
                     "RFC 9110 8.6", "https://httpd.apache.org/docs/2.4/",
                     "docs/lb.md", "$(BUILD)/tmp/x/", "build/bench/work/"):
            with self.subTest(line=good):
                self.assertFalse(findings(good), good)

    def test_no_outside_paths(self):
        files = list(text_files())
        self.assertGreater(len(files), 50, "the repository's file list")
        for f, text in files:
            with self.subTest(file=f):
                found = findings(text)
                if found:
                    self.fail("names a path outside the repository:\n" +
                              "\n".join("  %s:%d: %s: %s" % (f, n, w, ln)
                                        for n, w, ln in found))


if __name__ == "__main__":
    lbgtest.main()
