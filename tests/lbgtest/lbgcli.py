"""lbgcli -- helpers for the lbguard CLI suites (stdlib only).

Runs build/lbguard (and build/lbguard-asan), loads the raw-response corpus
tests/cases/ (NNN-slug.http + NNN-slug.expect, optional NNN-slug.repaired)
and the rule table (`lbguard rules --json`). The shared harness lbgtest
(tests/lbgtest) provides ports, processes and TestCase.
"""
import json
import os
import re
import subprocess

from tests import lbgtest

ROOT = lbgtest.ROOT
# tests/cli: the CLI suites and their helper files (lbg_node_oracle.js)
HERE = os.path.join(ROOT, "tests", "cli")

CASES_DIR = os.path.join(ROOT, "tests", "cases")

# Sanitizers abort on the first error (exit status 1 would look like
# "findings", so make them exit 99 instead).
ASAN_ENV = dict(os.environ,
                ASAN_OPTIONS="detect_leaks=1:exitcode=99",
                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99")

SANITIZER_MARKS = (b"AddressSanitizer", b"LeakSanitizer", b"runtime error:",
                   b"UndefinedBehaviorSanitizer")

# Rules whose defect is in the message body: a load balancer has already
# forwarded the status line and header section when it sees them, so they
# do not turn into a 502 (HAProxy logs PD/SD, nginx truncates, llhttp fails
# after 'response'). The differential suite leaves them out of the 502
# prediction (docs/cli.md, "Calibration").
BODY_PHASE_RULES = {
    "chunk-size-whitespace",
    "body-on-bodiless",
    "body-longer-than-content-length",
    "body-shorter-than-content-length",
    "chunked-invalid",
}


def binaries(build):
    """(plain, asan) paths; asan is None when it was not built."""
    plain = os.path.join(build, "lbguard")
    asan = os.path.join(build, "lbguard-asan")
    return plain, (asan if os.path.exists(asan) else None)


def run(binary, args, stdin=None, timeout=120, asan=False):
    """Runs binary with args; returns (exit status, stdout, stderr) bytes."""
    p = subprocess.run([binary] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, env=ASAN_ENV if asan else None)
    return p.returncode, p.stdout, p.stderr


def sanitizer_report(err):
    """The first sanitizer line in stderr bytes, or None."""
    for line in err.splitlines():
        if any(m in line for m in SANITIZER_MARKS):
            return line.decode("utf-8", "replace")
    return None


def load_cases():
    """Every corpus case, in file order: dicts with slug, path, raw (bytes),
    expect (list of rule names, [] for "none"), head (bool), repaired
    (bytes or None)."""
    out = []
    for name in sorted(os.listdir(CASES_DIR)):
        m = re.match(r"^(\d{3})-(.+)\.http$", name)
        if not m:
            continue
        base = os.path.join(CASES_DIR, name[:-5])
        with open(base + ".http", "rb") as f:
            raw = f.read()
        with open(base + ".expect") as f:
            lines = [ln.strip() for ln in f.read().splitlines() if ln.strip()]
        head = bool(lines) and lines[0] == "head"
        if head:
            lines = lines[1:]
        if lines == ["none"]:
            lines = []
        rep = None
        if os.path.exists(base + ".repaired"):
            with open(base + ".repaired", "rb") as f:
                rep = f.read()
        out.append(dict(slug=name[:-5], num=m.group(1), path=base + ".http",
                        raw=raw, expect=lines, head=head, repaired=rep))
    return out


def rules(binary):
    """{name: rule dict} from `lbguard rules --json`."""
    rc, out, _ = run(binary, ["rules", "--json"])
    if rc != 0:
        raise RuntimeError("lbguard rules --json failed")
    return {r["name"]: r for r in json.loads(out)["rules"]}


def check_json(binary, path, profile=None, head=False, asan=False):
    """Runs `lbguard check --json`; returns (exit status, parsed object or
    None, stderr)."""
    args = ["check", "--json"]
    if profile:
        args += ["--profile", profile]
    if head:
        args.append("--head")
    rc, out, err = run(binary, args + [path], asan=asan)
    try:
        obj = json.loads(out)
    except ValueError:
        obj = None
    return rc, obj, err


def all_findings(obj):
    """Every finding of a `check --json` object in wire order: those of the
    interim responses (obj["interim"]), then the final response's."""
    return [f for m in obj.get("interim", []) for f in m["findings"]] + obj["findings"]


def unrepairable(obj):
    """1 when `check --json` says some response of the input cannot be
    repaired safely (no status line, unrepairable, or a truncated report)."""
    return (not obj["status_line"]) or any(m["unrepairable"] or m["truncated"]
                                           for m in [obj] + obj.get("interim", []))


def header_phase(findings):
    """Rule names of the findings that make a load balancer answer 502."""
    return [f["rule"] for f in findings if f["rule"] not in BODY_PHASE_RULES]
