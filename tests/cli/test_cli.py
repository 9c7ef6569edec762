#!/usr/bin/env python3
"""test_cli -- the lbguard command-line tool over the raw-response corpus
(tests/cases/) and over bad input, with build/lbguard and, when it was
built, build/lbguard-asan (ASan + UBSan: any sanitizer report fails).

  python3 -m tests.cli.test_cli [--build BUILD] [-k NAME]

Checks, per corpus case:
  * `check --json`: exactly the expected rules (tests/cases/*.expect), the
    exit status implied by their tiers (--fail-on ambiguous), line numbers
    that match the byte offsets; the text output names the same findings;
  * `repair`: refused (exit 1, nothing on stdout) exactly when check says
    the response is unrepairable; otherwise the output checks clean under
    the same profile (strictest, haproxy, nginx, nginx-1.22, llhttp),
    equals the reviewed NNN-slug.repaired when one exists, equals the input
    (up to OWS around field values) when there was no finding, and stderr
    carries one "lbguard: <rule>: ..." log line per finding.
Interim responses (1xx but 101) followed by the final response: each one
checked and repaired, JSON "interim" and "final_response", a lone 103, 101
unchanged, at most 16. Then bad input: empty file, binary junk, 10 MiB header sections, a
truncated status line, a missing file, a directory, more than 64 MiB,
stdin, and usage errors: a one-line message and the right exit status.
"""
import json
import os
import random
import re
import subprocess

from tests import lbgtest
from tests.lbgtest import lbgcli

PROFILES = ("strictest", "haproxy", "nginx", "nginx-1.22", "llhttp")


def normalise_ows(raw):
    """raw with the OWS around every field value of the header section
    removed (the repair writes "name: value")."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    out = [lines[0]]
    for ln in lines[1:]:
        n, _, v = ln.partition(b":")
        out.append(n + b": " + v.strip(b" \t"))
    return b"\r\n".join(out) + sep + body


def one_line(err):
    return err.count(b"\n") == 1 and err.startswith(b"lbguard: ")


# too-many-fields, field-too-large, header-section-too-large: reported under
# strictest, the target's own 502 under a profile naming one LB (fix 0)
BUDGET_RULES = ("too-many-fields", "field-too-large", "header-section-too-large")


def fails(rules, rule_names):
    """Exit status of check for these findings under the default --fail-on
    (issue 9): a finding some load balancer rejects, whatever its tier, or
    one ambiguous or worse (strictest profile). rules: lbgcli.rules()."""
    return 1 if any(rules[n]["tier"] in ("ambiguous", "severe") or rules[n]["rejected_by"]
                    for n in rule_names) else 0


class Cli(lbgtest.TestCase):
    suite = "cli"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.LBG, cls.LBG_ASAN = lbgcli.binaries(cls.build)
        lbgtest.require(cls.LBG, "make cli")
        cls.WORK = cls.workdir("cli")
        cls.RULES = lbgcli.rules(cls.LBG)
        cls.CASES = lbgcli.load_cases()

    def test_basics(self):
        LBG = self.LBG
        with open(os.path.join(lbgcli.ROOT, "common", "lbg.h")) as f:
            version = re.search(r'#define LBG_VERSION "([^"]+)"', f.read()).group(1)
        rc, out, err = lbgcli.run(LBG, ["--version"])
        self.eq("--version", (rc, out, err), (0, b"lbguard %s\n" % version.encode(), b""))
        for sub in ([], ["check"], ["repair"], ["probe"], ["rules"]):
            rc, out, err = lbgcli.run(LBG, sub + ["--help"])
            self.check("%s --help" % (" ".join(sub) or "lbguard"),
                       rc == 0 and out.startswith(b"usage: lbguard") and err == b"", (rc, out[:60], err))
        rc, out, err = lbgcli.run(LBG, [])
        self.check("no command: usage on stderr, exit 2", rc == 2 and err.startswith(b"usage:"), (rc, err[:60]))
        rc, out, err = lbgcli.run(LBG, ["frobnicate"])
        self.eq("unknown command", (rc, err), (2, b"lbguard: unknown command 'frobnicate' (see 'lbguard --help')\n"))

    def test_rules(self):
        LBG = self.LBG
        RULES = self.RULES
        rc, out, err = lbgcli.run(LBG, ["rules", "--json"])
        OBJ = json.loads(out)
        PROFILE_NAMES = [p["name"] for p in OBJ["profiles"]]
        self.eq("rules --json: ids 1..N in order", [r["id"] for r in OBJ["rules"]],
                list(range(1, len(OBJ["rules"]) + 1)))
        self.check("rules --json: %d rules, names unique" % len(RULES),
                   len(RULES) >= 37 and len(RULES) == len(OBJ["rules"]), len(RULES))
        self.eq("rules --json: the profiles in list order",
                PROFILE_NAMES, ["strictest", "haproxy", "nginx", "nginx-1.22", "envoy", "llhttp", "aws-alb"])
        self.eq("rules --json: strictest covers every load balancer's bit",
                OBJ["profiles"][0]["lb_mask"], sum(p["lb_mask"] for p in OBJ["profiles"][1:]))
        # HAProxy 2.6's header budget as it counts it (LBG_PROFILES): 15312
        # bytes of HTX less 31, 4 per field line, 100 fields; the others
        # count wire bytes
        self.eq("rules --json: the haproxy profile's budgets",
                {k: OBJ["profiles"][1][k] for k in ("max_header_bytes", "header_field_cost",
                                                    "max_fields")},
                {"max_header_bytes": 15281, "header_field_cost": 4, "max_fields": 100})
        self.eq("rules --json: no other profile has a cost per field line",
                [p["header_field_cost"] for p in OBJ["profiles"] if p["name"] != "haproxy"],
                [0] * 6)
        bad = [n for n, r in RULES.items()
               if r["tier"] not in ("acceptable", "ambiguous", "severe")
               or not set(r["rejected_by"]) <= set(PROFILE_NAMES[1:])
               or [x for x in PROFILE_NAMES if x in r["rejected_by"]] != r["rejected_by"]
               or r["fix"] not in ([], ["edit"], ["close"], ["edit", "close"], ["lb-502"])
               or not r["rfc"].startswith("RFC 911") or not r["repair"]]
        self.eq("rules --json: tier, rejected_by (profile names, list order), fix, rfc, repair well formed",
                bad, [])
        # a few rows spelled out (README "Rules"), so a change to the table shows here
        self.eq("rules --json: rows 8, 18, 20, 33",
                [(RULES[n]["id"], RULES[n]["tier"], RULES[n]["rejected_by"], RULES[n]["fix"])
                 for n in ("obs-fold", "body-shorter-than-content-length", "too-many-fields",
                           "upstream-status-line-invalid")],
                [(8, "ambiguous", ["nginx", "nginx-1.22", "envoy", "llhttp"], ["edit"]),
                 (18, "severe", ["haproxy", "nginx", "nginx-1.22", "envoy", "llhttp", "aws-alb"], ["close"]),
                 (20, "acceptable", ["haproxy", "envoy"], ["lb-502"]),
                 (33, "severe", ["haproxy", "nginx", "nginx-1.22", "envoy", "llhttp", "aws-alb"],
                  ["edit", "close"])])
        rc, out, err = lbgcli.run(LBG, ["check", "--profile", "f5", "/dev/null"])
        self.eq("check --profile f5: the profile list in the message", (rc, out, err),
                (2, b"", b"lbguard: check: unknown profile 'f5' (one of: " +
                 " ".join(PROFILE_NAMES).encode() + b")\n"))
        rc, out, err = lbgcli.run(LBG, ["rules"])
        self.check("rules (text): one row per rule with its name",
                   rc == 0 and all(re.search(rb"(?m)^ *%d  %s " % (r["id"], n.encode()), out)
                                   for n, r in RULES.items()), out[:200])

    def test_corpus(self):
        LBG, LBG_ASAN, WORK = self.LBG, self.LBG_ASAN, self.WORK
        RULES, CASES = self.RULES, self.CASES
        self.check("corpus has cases (%d)" % len(CASES), len(CASES) >= 70, len(CASES))

        for c in CASES:
            slug, head = c["slug"], c["head"]
            hflag = ["--head"] if head else []
            rc, obj, err = lbgcli.check_json(LBG, c["path"], head=head)
            if not self.check("%s: check --json parses" % slug, obj is not None and err == b"", err):
                continue
            found = lbgcli.all_findings(obj)  # the interim responses' too
            got = [f["rule"] for f in found]
            self.eq("%s: findings, in order" % slug, got, c["expect"])
            self.eq("%s: check exit status" % slug, rc, fails(RULES, c["expect"]))
            lines_ok = all(f["offset"] is None or
                           (0 <= f["offset"] <= len(c["raw"]) and
                            f["line"] == c["raw"][:f["offset"]].count(b"\n") + 1)
                           for f in found)
            self.check("%s: line numbers match byte offsets" % slug, lines_ok, found)

            rc2, txt, err2 = lbgcli.run(LBG, ["check"] + hflag + [c["path"]])
            want = [("#%d %s" % (RULES[n]["id"], n)).encode() for n in got]
            self.check("%s: check (text) names every finding, same exit" % slug,
                       rc2 == rc and all(w in txt for w in want) and
                       (txt.count(b"\n      log:") == len(got)), txt[:300])

            # repair under each profile
            for prof in PROFILES:
                rc3, rep, err3 = lbgcli.run(LBG, ["repair", "--profile", prof] + hflag + [c["path"]])
                _, pobj, _ = lbgcli.check_json(LBG, c["path"], profile=prof, head=head)
                pfound = lbgcli.all_findings(pobj)
                refuse = lbgcli.unrepairable(pobj)
                # a finding of a rule without an "edit" fix makes the response unrepairable
                self.check("%s: --profile %s: unrepairable when a finding has no repair" % (slug, prof),
                           refuse or
                           all("edit" in RULES[f["rule"]]["fix"]
                               # budgets: the target's own 502 under a one-LB profile
                               or (f["rule"] in BUDGET_RULES and prof != "strictest")
                               for f in pfound),
                           pfound)
                tag = "%s: repair --profile %s" % (slug, prof)
                if refuse:
                    self.check(tag + ": refused (exit 1, nothing written)",
                               rc3 == 1 and rep == b"" and b"cannot be repaired safely" in err3,
                               (rc3, len(rep), err3[-200:]))
                    continue
                if not self.check(tag + ": exit 0", rc3 == 0, (rc3, err3[-300:])):
                    continue
                logs = [ln for ln in err3.splitlines() if ln.startswith(b"lbguard: ")]
                self.eq(tag + ": one log line per finding",
                        [ln.split(b":")[1].strip().decode() for ln in logs],
                        [f["rule"] for f in pfound])
                outp = os.path.join(WORK, "%s.%s.out" % (slug, prof))
                with open(outp, "wb") as f:
                    f.write(rep)
                rc4, again, _ = lbgcli.check_json(LBG, outp, profile=prof, head=head)
                self.check(tag + ": output checks clean",
                           rc4 == 0 and again is not None and lbgcli.all_findings(again) == [],
                           again and lbgcli.all_findings(again))
                if prof == "strictest" and c["repaired"] is not None:
                    self.eq(tag + ": output is the reviewed .repaired bytes", rep, c["repaired"])
                if prof == "strictest" and not c["expect"]:
                    self.check(tag + ": clean input comes out unchanged (up to OWS)",
                               rep == c["raw"] or rep == normalise_ows(c["raw"]), rep[:200])

            # the same under ASan + UBSan
            if LBG_ASAN:
                rca, objb, erra = lbgcli.check_json(LBG_ASAN, c["path"], head=head, asan=True)
                rcb, repb, errb = lbgcli.run(LBG_ASAN, ["repair"] + hflag + [c["path"]], asan=True)
                rcp, repp, errp = lbgcli.run(LBG, ["repair"] + hflag + [c["path"]])
                self.check("%s: asan: no sanitizer report, same results" % slug,
                           lbgcli.sanitizer_report(erra + errb) is None and rca == rc and objb == obj
                           and rcb == rcp and repb == repp,
                           lbgcli.sanitizer_report(erra + errb) or (rca, rcb, rcp))

    def test_bad_input(self):
        LBG, LBG_ASAN, WORK = self.LBG, self.LBG_ASAN, self.WORK
        CASES = self.CASES
        def bad_input(name, path, args, want_rc, want_err=None, want_rules=None, stdin=None,
                      asan=True):
            """Runs `lbguard <args> path` (plain and ASan) and checks the exit status,
            the one-line message (exact when want_err is bytes) and the findings."""
            for binary, is_asan in ((LBG, False), (LBG_ASAN, True)):
                if binary is None or (is_asan and not asan):
                    continue
                tag = "%s%s" % (name, " (asan)" if is_asan else "")
                rc, out, err = lbgcli.run(binary, args + ([path] if path else []),
                                          stdin=stdin, asan=is_asan)
                san = lbgcli.sanitizer_report(err)
                if not self.check(tag + ": no crash, no sanitizer report", san is None and rc in (0, 1, 2),
                                  san or rc):
                    continue
                self.eq(tag + ": exit status", rc, want_rc)
                if want_err is not None:
                    if isinstance(want_err, bytes):
                        self.eq(tag + ": message", err, want_err)
                    elif args[0] == "repair":
                        last = err.splitlines()[-1] if err else b""
                        self.check(tag + ": findings logged, then the refusal", err.endswith(b"\n") and
                                   want_err.search(last) and all(ln.startswith(b"lbguard: ")
                                                                 for ln in err.splitlines()), err[-300:])
                    else:
                        self.check(tag + ": one-line message", one_line(err) and want_err.search(err), err)
                if want_rules is not None:
                    try:
                        got = [f["rule"] for f in json.loads(out)["findings"]]
                    except ValueError:
                        got = None
                    self.eq(tag + ": findings", got, want_rules)

        def wfile(name, data):
            p = os.path.join(WORK, name)
            with open(p, "wb") as f:
                f.write(data)
            return p

        empty = wfile("empty.http", b"")
        bad_input("empty file", empty, ["check"], 2,
                  b"lbguard: check: '%s' is empty: no response to check\n" % empty.encode())
        bad_input("empty file, repair", empty, ["repair"], 2,
                  b"lbguard: repair: '%s' is empty: no response to check\n" % empty.encode())

        rnd = random.Random(4)
        junk = wfile("junk.bin", b"\x00\xff" + bytes(rnd.randrange(256) for _ in range(4096)))
        bad_input("binary junk", junk, ["check", "--json"], 1, want_rules=["version-invalid"])
        bad_input("binary junk, repair", junk, ["repair"], 1,
                  re.compile(rb"cannot be repaired safely \(not an HTTP/1.x response\); nothing written"))

        trunc = wfile("trunc.http", b"HTTP/1.1 20")
        # cut before its line end: incomplete, and nothing of the partial
        # line judged ("20" is no invalid status code yet)
        bad_input("truncated status line", trunc, ["check", "--json"], 1,
                  want_rules=["header-section-incomplete"])
        for cut in (b"H", b"HTTP/1.", b"HTTP/1.1 200 O"):
            t2 = wfile("trunc2.http", cut)
            bad_input("status line cut after %r" % cut, t2, ["check", "--json"], 1,
                      want_rules=["header-section-incomplete"])
        rc, out, _ = lbgcli.run(LBG, ["check", trunc])
        self.eq("truncated status line: the text says it", out.splitlines()[1:2],
                [b"  incomplete: the input ends in the status line"])
        bad_input("truncated status line, repair", trunc, ["repair"], 1,
                  re.compile(rb"header-section-incomplete: no safe repair"))

        many = wfile("hdr10m-many.http", b"HTTP/1.1 200 OK\r\n" +
                     b"".join(b"X-F%07d: %s\r\n" % (i, b"v" * 80) for i in range(115000)) +
                     b"Content-Length: 2\r\n\r\nhi")
        self.check("10 MiB header section of many fields is > 10 MiB", os.path.getsize(many) > 10 << 20)
        bad_input("10 MiB header section, 115001 fields", many, ["check", "--json"], 1,
                  want_rules=["too-many-fields", "header-section-too-large"])
        bad_input("10 MiB header section, --fail-on acceptable", many,
                  ["check", "--json", "--fail-on", "acceptable"], 1)
        bad_input("10 MiB header section, --profile nginx", many,
                  ["check", "--json", "--profile", "nginx"], 1, want_rules=["header-section-too-large"])
        bad_input("10 MiB header section, --fail-on severe", many,
                  ["check", "--json", "--fail-on", "severe"], 0)
        bad_input("10 MiB header section, repair", many, ["repair"], 1,
                  re.compile(rb"too-many-fields: no safe repair; header-section-too-large: no safe repair"))
        # A budget under a profile naming one LB: that LB answers 502 anyway, so the
        # repair is the target's own 502 Bad Gateway (LBG_BAD_GATEWAY_BODY); under
        # strictest (above) it is refused.
        TARGET_502 = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n"
                      b"Content-Length: 122\r\nConnection: close\r\n\r\n"
                      b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                      b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")
        self.eq("target 502: Content-Length matches its body", len(TARGET_502.split(b"\r\n\r\n", 1)[1]),
                122)
        case065 = os.path.join(lbgcli.ROOT, "tests", "cases", "065-too-many-fields.http")
        for prof, want_out, want_rc, want_log in (
                ("haproxy", TARGET_502, 0,
                 b"lbguard: too-many-fields: 151 fields, budget 100, none under strictest (report); "
                 b"else the target's own 502 Bad Gateway\n"),
                ("envoy", TARGET_502, 0,
                 b"lbguard: too-many-fields: 151 fields, budget 100, none under strictest (report); "
                 b"else the target's own 502 Bad Gateway\n"),
                ("llhttp", None, 0, b""),       # llhttp counts no fields
                ("strictest", b"", 1, None)):
            rc, out, err = lbgcli.run(LBG, ["repair", "--profile", prof, case065])
            self.eq("065-too-many-fields: repair --profile %s: exit status" % prof, rc, want_rc)
            if want_out is not None:
                self.eq("065-too-many-fields: repair --profile %s: output" % prof, out, want_out)
            else:
                self.eq("065-too-many-fields: repair --profile %s: output unchanged" % prof, out,
                        lbgtest.read_bytes(case065))
            if want_log is not None:
                self.eq("065-too-many-fields: repair --profile %s: log" % prof, err, want_log)
        rc, out, err = lbgcli.run(LBG, ["repair", "--profile", "nginx", many])
        self.eq("10 MiB header section, repair --profile nginx: the target's 502", (rc, out),
                (0, TARGET_502))
        rc, out, err = lbgcli.run(LBG, ["repair", "--profile", "aws-alb", "--head", case065])
        self.eq("065-too-many-fields: repair --profile aws-alb: unchanged (ALB takes it)",
                (rc, err), (0, b""))
        rc, out, err = lbgcli.run(LBG, ["repair", "--profile", "nginx", "--head", many])
        self.eq("10 MiB header section, repair --profile nginx --head: the 502 without body",
                (rc, out), (0, TARGET_502.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"))
        one = wfile("hdr10m-one.http", b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (10 << 20) +
                    b"\r\nContent-Length: 2\r\n\r\nhi")
        bad_input("10 MiB field", one, ["check", "--json"], 1,
                  want_rules=["field-too-large", "header-section-too-large"])
        nohdr = wfile("hdr10m-noend.http", b"HTTP/1.1 200 OK\r\nX-A: " + b"b" * (10 << 20))
        bad_input("10 MiB header section without its end", nohdr, ["check", "--json"], 1)

        missing = os.path.join(WORK, "no-such-file.http")
        bad_input("missing file", missing, ["check"], 2,
                  b"lbguard: check: cannot open '%s': No such file or directory\n" % missing.encode())
        bad_input("missing file, repair", missing, ["repair"], 2,
                  b"lbguard: repair: cannot open '%s': No such file or directory\n" % missing.encode())
        bad_input("a directory", WORK, ["check"], 2,
                  b"lbguard: check: cannot read '%s': Is a directory\n" % WORK.encode())

        huge = os.path.join(WORK, "huge.bin")
        with open(huge, "wb") as f:
            f.truncate((64 << 20) + 1)
        bad_input("more than 64 MiB", huge, ["check"], 2,
                  b"lbguard: check: '%s' is larger than 64 MiB: refused\n" % huge.encode())
        os.unlink(huge)
        rc, out, err = lbgcli.run(LBG, ["check", "-"], stdin=b"\x00" * ((64 << 20) + 1))
        self.eq("more than 64 MiB on stdin", (rc, err),
                (2, b"lbguard: check: '<stdin>' is larger than 64 MiB: refused\n"))

        case = CASES[0] if CASES else None
        if case:
            rc, out, err = lbgcli.run(LBG, ["check", "--json", "-"], stdin=case["raw"])
            rcf, objf, _ = lbgcli.check_json(LBG, case["path"])
            obj = json.loads(out) if rc in (0, 1) else None
            self.check("stdin ('-') checks like the file", obj is not None and obj["input"] == "<stdin>"
                       and obj["findings"] == objf["findings"] and rc == rcf, (rc, err))
            rc, out, err = lbgcli.run(LBG, ["repair"], stdin=case["raw"])
            self.check("repair reads stdin by default", rc == 0 and out, (rc, err))

    def test_usage_errors(self):
        LBG = self.LBG
        # one line, exit 2
        for args, msg in (
                (["check", "--frob"], b"lbguard: check: unknown option '--frob' (see 'lbguard check --help')\n"),
                (["check", "--profile", "f5"], None),
                (["check", "--fail-on", "compliant"], None),
                (["check", "--fail-on"], b"lbguard: check: option '--fail-on' needs a value\n"),
                (["check", "a", "b"], b"lbguard: check: one input at a time ('a' and 'b')\n"),
                (["repair", "--json"], b"lbguard: repair: unknown option '--json' (see 'lbguard repair --help')\n"),
                (["rules", "--frob"], None),
                (["probe"], b"lbguard: probe: no URL (see 'lbguard probe --help')\n"),
                (["probe", "ftp://x/"], None),
                (["probe", "http://127.0.0.1:65537/"], b"lbguard: probe: 'http://127.0.0.1:65537/': bad port\n"),
                (["probe", "http://127.0.0.1:0/"], b"lbguard: probe: 'http://127.0.0.1:0/': bad port\n"),
                # a fragment after the path was sent in the request line
                # ("GET /a#frag HTTP/1.1"); refused as one after the host is
                (["probe", "http://127.0.0.1:1/a#frag"],
                 b"lbguard: probe: 'http://127.0.0.1:1/a#frag': user information and fragments are not "
                 b"supported\n"),
                (["probe", "http://127.0.0.1:1/?q=1#frag"],
                 b"lbguard: probe: 'http://127.0.0.1:1/?q=1#frag': user information and fragments are not "
                 b"supported\n"),
                # a control byte of what the message quotes is written \xHH:
                # one line on stderr (it was written raw: two lines, or an
                # escape sequence to the terminal)
                (["check", "no\nsuch"],
                 b"lbguard: check: cannot open 'no\\x0asuch': No such file or directory\n"),
                (["probe", "http://127.0.0.1:1/a\nb"],
                 b"lbguard: probe: 'http://127.0.0.1:1/a\\x0ab': the path has a space or control character "
                 b"(percent-encode it)\n"),
                (["logs", "/nonexistent/\x1b[2J\x7f"],
                 b"lbguard: logs: /nonexistent/\\x1b[2J\\x7f: No such file or directory\n"),
                (["probe", "--lb-idle-timeout", "soon", "http://127.0.0.1:1/"], None),
                (["probe", "--header", "NoColon", "http://127.0.0.1:1/"], None),
                # a name with white space was sent as is: " X: lead" right
                # after Host is an obs-fold of the Host line; "X : v" is
                # rejected by the server (RFC 9112 5.1); a CTL in the value
                (["probe", "--header", " X: lead", "http://127.0.0.1:1/"],
                 b"lbguard: probe: bad --header ' X: lead' (want 'Name: value')\n"),
                (["probe", "--header", "X : v", "http://127.0.0.1:1/"],
                 b"lbguard: probe: bad --header 'X : v' (want 'Name: value')\n"),
                (["probe", "--header", "X@: v", "http://127.0.0.1:1/"],
                 b"lbguard: probe: bad --header 'X@: v' (want 'Name: value')\n"),
                (["probe", "--header", "X: a\x01b", "http://127.0.0.1:1/"],
                 b"lbguard: probe: bad --header 'X: a\\x01b' (want 'Name: value')\n"),
                (["probe", "--header", "X: a\r\nInjected: b", "http://127.0.0.1:1/"],
                 b"lbguard: probe: bad --header 'X: a\\x0d\\x0aInjected: b' (want 'Name: value')\n"),
                (["probe", "--method", "GET X", "http://127.0.0.1:1/"], None)):
            rc, out, err = lbgcli.run(LBG, args)
            name = "usage error: lbguard " + " ".join(args)
            if msg is None:
                self.check(name, rc == 2 and one_line(err) and out == b"", (rc, err))
            else:
                self.eq(name, (rc, err), (2, msg))

    def test_full_disk(self):
        # output that cannot be written: exit 2 and one line saying why
        if not os.path.exists("/dev/full"):
            self.skip_part("full disk", "no /dev/full")
            return
        p = os.path.join(lbgcli.CASES_DIR, "001-ok-content-length.http")
        for args in (["rules"], ["rules", "--json"], ["check", p], ["repair", p]):
            with open("/dev/full", "wb") as full:
                r = subprocess.run([self.LBG] + args, stdout=full, stderr=subprocess.PIPE)
            self.eq("lbguard %s > /dev/full: exit 2 with a message" % " ".join(args[:2]),
                    (r.returncode, r.stderr.endswith(b"lbguard: %s: cannot write output: No space left on device\n"
                                                     % args[0].encode())), (2, True))

    def test_space_before_colon(self):
        """White space between a field name and the colon (RFC 9112 5.1: a proxy
        MUST remove it): repair strips it and keeps the field, under the same
        rule (field-name-invalid, id 4), and its repair line says so. Removing
        the field, as repair did, made a `Transfer-Encoding : chunked` body
        close-delimited without Connection: close."""
        LBG = self.LBG
        cases = {c["slug"]: c for c in self.CASES}
        te = cases["096-te-space-before-colon"]["path"]
        tecl = cases["097-te-space-before-colon-with-cl"]["path"]
        self.eq("Transfer-Encoding : chunked: repair keeps the field, exact bytes and line",
                lbgcli.run(LBG, ["repair", te]),
                (0, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\n",
                 b'lbguard: field-name-invalid: field name "Transfer-Encoding ", '
                 b"white space before the colon removed\n"))
        self.eq("Transfer-Encoding HTAB SP : chunked + Content-Length: the TE + CL repair",
                lbgcli.run(LBG, ["repair", tecl]),
                (0, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    b"5\r\nhello\r\n0\r\n\r\n",
                 b'lbguard: field-name-invalid: field name "Transfer-Encoding\\x09 ", '
                 b"white space before the colon removed\n"
                 b'lbguard: te-with-content-length: field "Content-Length" value "5", '
                 b"Content-Length removed, connection closed\n"))
        rc, obj, err = lbgcli.check_json(LBG, tecl)
        f = obj["findings"][0] if obj and obj["findings"] else {}
        self.eq("check --json: rule id 4, the bytes, n1 the white space, the repair named",
                (rc, f.get("id"), f.get("rule"), f.get("offset"), f.get("bytes"), f.get("n1"),
                 f.get("message"), f.get("repair"), obj and obj["framing"]),
                (1, 4, "field-name-invalid", 17, "Transfer-Encoding\\x09 ", 2,
                 'field-name-invalid: field name "Transfer-Encoding\\x09 ", not repaired (detect mode)',
                 "white space before the colon removed", "chunked"))
        rc, txt, err = lbgcli.run(LBG, ["check", te])
        self.check("check (text): the finding and its repair line",
                   rc == 1 and b"  ambiguous  #4 field-name-invalid at line 2, byte 17\n" in txt
                   and b"      repair:      white space before the colon removed (RFC 9110 5.1)\n"
                   in txt, txt)
        # a name that is no token without the white space either: removed
        bad = os.path.join(self.WORK, "bad-name-space-colon.http")
        with open(bad, "wb") as fh:
            fh.write(b"HTTP/1.1 200 OK\r\nBad Name : x\r\nContent-Length: 0\r\n\r\n")
        self.eq("Bad Name : x: the field removed, as before",
                lbgcli.run(LBG, ["repair", bad]),
                (0, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                 b'lbguard: field-name-invalid: field name "Bad Name ", field removed\n'))

    def test_interim(self):
        """Interim responses (1xx but 101, RFC 9110 15.2): every response of the
        input is checked and repaired, up to the final one."""
        LBG, LBG_ASAN = self.LBG, self.LBG_ASAN
        HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        CONT = b"HTTP/1.1 100 Continue\r\n\r\n"
        OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        BAD = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\nX-Bad\x01: v\r\n\r\nhi"
        FOLD = b"HTTP/1.1 100 Continue\r\nX-A: a\r\n b\r\n\r\n"
        TOP = {"input", "profile", "head", "status_line", "status", "framing", "header_len",
               "body_len", "worst", "truncated", "close", "no_body", "unrepairable", "findings",
               "final_response", "offset", "interim"}
        INTERIM = {"offset", "status", "header_len", "worst", "truncated", "unrepairable",
                   "findings"}

        def check(raw, *args, binary=None):
            rc, out, err = lbgcli.run(binary or LBG, ["check", "--json"] + list(args) + ["-"],
                                      stdin=raw, asan=binary is not None)
            try:
                obj = json.loads(out)
            except ValueError:
                obj = None
            return rc, obj, err

        # the reproduction: the 200 after a 103 used to be the 103's next bytes,
        # unchecked (no findings, exit 0)
        raw = HINTS + BAD
        for binary in (None, LBG_ASAN) if LBG_ASAN else (None,):
            tag = "103 then a bad 200%s" % (" (asan)" if binary else "")
            rc, obj, err = check(raw, binary=binary)
            if not self.check(tag + ": JSON", obj is not None and
                              lbgcli.sanitizer_report(err) is None, (rc, err[-300:])):
                continue
            self.eq(tag + ": the final response's findings at their offsets, exit 1",
                    (rc, obj["status"], obj.get("final_response"), obj.get("offset"),
                     [(f["rule"], raw[f["offset"]:f["offset"] + f["length"]], f["line"])
                      for f in obj["findings"]]),
                    (1, 200, True, len(HINTS),
                     [("field-name-invalid", b"X-Bad\x01", 7), ("content-length-conflict", b"3", 6)]))
            self.eq(tag + ": the interim response", obj.get("interim"),
                    [{"offset": 0, "status": 103, "header_len": len(HINTS), "worst": "compliant",
                      "truncated": False, "unrepairable": False, "findings": []}])
            self.eq(tag + ": JSON members (top level, interim)",
                    (set(obj), obj.get("interim") and set(obj["interim"][0])), (TOP, INTERIM))
        rc, out, err = lbgcli.run(LBG, ["check", "-"], stdin=raw)
        self.check("103 then a bad 200 (text): which response each finding belongs to",
                   rc == 1 and out.startswith(
                       b"<stdin>: response 1 (103 Early Hints), interim, at byte 0\n"
                       b"<stdin>: no findings (profile strictest)\n"
                       b"<stdin>: response 2 (200 OK), after 1 interim response, at byte 40\n"
                       b"<stdin>: 2 findings (profile strictest), worst tier severe\n")
                   and b"#4 field-name-invalid at line 7, byte 95" in out
                   and b"#11 content-length-conflict at line 6, byte 92" in out, (rc, out, err))
        rc, out, err = lbgcli.run(LBG, ["repair", "-"], stdin=raw)
        self.eq("103 then a bad 200: repair writes the 103, then the repaired 200",
                (rc, out, err),
                (0, HINTS + b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhi",
                 b'lbguard: field-name-invalid: field name "X-Bad\\x01", field removed\n'
                 b"lbguard: content-length-conflict: Content-Length 2 and 3, all Content-Length "
                 b"removed, connection closed\n"))

        # 100 Continue, then a clean 200
        rc, out, err = lbgcli.run(LBG, ["check", "-"], stdin=CONT + OK)
        self.eq("100 then 200, clean (text): exit 0", (rc, out, err),
                (0, b"<stdin>: response 1 (100 Continue), interim, at byte 0\n"
                    b"<stdin>: no findings (profile strictest)\n"
                    b"<stdin>: response 2 (200 OK), after 1 interim response, at byte 25\n"
                    b"<stdin>: no findings (profile strictest)\n", b""))
        rc, out, err = lbgcli.run(LBG, ["repair", "-"], stdin=CONT + OK)
        self.eq("100 then 200, clean: repair writes it unchanged", (rc, out, err), (0, CONT + OK, b""))

        # two interim responses (the first with an obs-fold), then the final one
        raw = FOLD + HINTS + OK
        rc, obj, err = check(raw)
        self.eq("100 (obs-fold), 103, 200: every response, the finding in the first, exit 1",
                obj and (rc, obj["status"], obj["findings"], obj["offset"],
                         [(m["offset"], m["status"], [f["rule"] for f in m["findings"]],
                           m["findings"][0]["line"] if m["findings"] else None)
                          for m in obj["interim"]]),
                (1, 200, [], len(FOLD + HINTS),
                 [(0, 100, ["obs-fold"], 2), (len(FOLD), 103, [], None)]))
        rc, out, err = lbgcli.run(LBG, ["check", "-"], stdin=raw)
        self.check("100, 103, 200 (text): 'after 2 interim responses'",
                   b"<stdin>: response 3 (200 OK), after 2 interim responses, at byte %d\n"
                   % len(FOLD + HINTS) in out and b"#8 obs-fold at line 2" in out, out)
        rc, out, err = lbgcli.run(LBG, ["repair", "-"], stdin=raw)
        self.eq("100 (obs-fold), 103, 200: repair output",
                (rc, out), (0, b"HTTP/1.1 100 Continue\r\nX-A: a b\r\n\r\n" + HINTS + OK))
        # a 100 with a Content-Length and a body (tests/cases/091): the next
        # response starts after that body; --fail-on counts every response
        rc, obj, err = check(CONT[:-2] + b"Content-Length: 5\r\n\r\nhello" + OK, "--fail-on", "severe")
        self.eq("100 with a body, then 200: the body is the 100's, --fail-on severe: exit 1",
                obj and (rc, obj["status"], obj["findings"],
                         [f["rule"] for f in obj["interim"][0]["findings"]]),
                (1, 200, [], ["framing-on-bodiless-status", "body-on-bodiless"]))

        # a 103 and nothing after it: no final response, said so
        rc, out, err = lbgcli.run(LBG, ["check", "-"], stdin=HINTS)
        self.eq("lone 103 (text): no final response", (rc, out, err),
                (0, b"<stdin>: response 1 (103 Early Hints), interim, at byte 0\n"
                    b"<stdin>: no findings (profile strictest)\n"
                    b"<stdin>: no final response: the input ends after interim response 1 "
                    b"(103 Early Hints)\n", b""))
        rc, obj, err = check(HINTS)
        self.eq("lone 103 (JSON): the 103 at the top level, final_response false",
                obj and (rc, obj["status"], obj["final_response"], obj["interim"], set(obj)),
                (0, 103, False, [], TOP))
        rc, out, err = lbgcli.run(LBG, ["repair", "-"], stdin=HINTS)
        self.eq("lone 103: repair writes it", (rc, out, err), (0, HINTS, b""))

        # 101: what follows is another protocol, unchecked (as before)
        raw = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
               b"HTTP/1.1 200 OK\r\nX\x01: y\r\n\r\n")
        rc, out, err = lbgcli.run(LBG, ["check", "-"], stdin=raw)
        self.eq("101 then bytes: unchanged", (rc, out), (0, b"<stdin>: no findings (profile strictest)\n"))
        rc, obj, err = check(raw)
        self.eq("101 then bytes (JSON)", obj and (rc, obj["status"], obj["final_response"],
                                                   obj["interim"], obj["findings"]),
                (0, 101, True, [], []))
        rc, out, err = lbgcli.run(LBG, ["repair", "-"], stdin=raw)
        self.eq("101 then bytes: repair writes them unchanged", (rc, out), (0, raw))
        rc, obj, err = check(HINTS + raw)
        self.eq("103 then 101: the 101 is the final response",
                obj and (rc, obj["status"], [m["status"] for m in obj["interim"]], obj["findings"]),
                (0, 101, [103], []))

        # at most 16 interim responses
        rc, obj, err = check(HINTS * 16 + OK)
        self.eq("16 interim responses, then 200", obj and (rc, obj["status"], len(obj["interim"])),
                (0, 200, 16))
        for cmd in ("check", "repair"):
            rc, out, err = lbgcli.run(LBG, [cmd, "-"], stdin=HINTS * 17 + OK)
            self.eq("17 interim responses: %s refuses, exit 2" % cmd, (rc, out, err),
                    (2, b"", b"lbguard: %s: <stdin>: more than 16 interim (1xx) responses before "
                             b"the final response: refused\n" % cmd.encode()))

        # an interim response whose repair is the target's own 502 (a budget under
        # --profile haproxy): the 502 replaces the whole exchange
        raw = (b"HTTP/1.1 103 Early Hints\r\n" + b"".join(b"X-F%d: v\r\n" % i for i in range(151))
               + b"\r\n" + OK)
        rc, out, err = lbgcli.run(LBG, ["repair", "--profile", "haproxy", "-"], stdin=raw)
        self.check("103 over the field budget, repair --profile haproxy: the 502 alone",
                   rc == 0 and out.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
                   and out.count(b"HTTP/1.1") == 1, (rc, out[:200], err))

    def test_profiles(self):
        LBG = self.LBG
        # --profile narrows the findings: HAProxy accepts duplicate Content-Length
        p = os.path.join(lbgcli.CASES_DIR, "047-cl-duplicate-identical.http")
        if self.check("047-cl-duplicate-identical exists", os.path.exists(p), p):
            rc, obj, _ = lbgcli.check_json(LBG, p, profile="haproxy")
            self.check("--profile haproxy: duplicate Content-Length is no finding",
                       rc == 0 and obj["findings"] == [], obj)
            rc, obj, _ = lbgcli.check_json(LBG, p, profile="nginx")
            self.check("--profile nginx: duplicate Content-Length is a finding",
                       rc == 1 and [f["rule"] for f in obj["findings"]] == ["content-length-duplicate"], obj)

        # nginx-1.22 (nginx before 1.23.0) does not check Content-Length, but reads
        # "chunked, gzip" as chunked
        for case, prof, want in (("039-cl-letters", "nginx", ["content-length-invalid"]),
                                 ("039-cl-letters", "nginx-1.22", []),
                                 ("048-cl-conflict", "nginx-1.22", []),
                                 ("051-te-chunked-then-gzip", "nginx-1.22", ["te-chunked-not-final"])):
            p = os.path.join(lbgcli.CASES_DIR, case + ".http")
            if not os.path.exists(p):
                self.check("%s exists" % case, False, p)
                continue
            rc, obj, _ = lbgcli.check_json(LBG, p, profile=prof)
            self.eq("%s --profile %s: findings, exit status" % (case, prof),
                    (obj and obj["profile"], obj and [f["rule"] for f in obj["findings"]], rc),
                    (prof, want, 1 if want else 0))
        rc, out, err = lbgcli.run(LBG, ["check", "--help"])
        self.check("check --help names the nginx-1.22 profile", rc == 0 and b"nginx-1.22" in out, out)


if __name__ == "__main__":
    lbgtest.main()
