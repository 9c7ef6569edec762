#!/usr/bin/env python3
"""test_differential -- calibrates lbguard's load-balancer profiles against
the real parsers.

  python3 tests/cli/test_differential.py [--build BUILD]

Every corpus case (tests/cases/NNN-slug.http) is served, byte for byte, by
a raw-socket backend (lbgtest.RawBackend, one connection per request) to:
  * HAProxy 2.6 (Debian; `haproxy -db -f cfg`, retries 0) -> 502 or not;
  * nginx as a reverse proxy (Debian; proxy_pass, proxy_next_upstream off)
    -> 502 or not;
  * Node's HTTP client (llhttp, strict; tests/cli/lbg_node_oracle.js, one
    connection per case, agent:false) -> an error before the response or
    not.
The real verdict ("rejected": a 502, or no response at all) must equal the
prediction of `lbguard check --profile haproxy|nginx|llhttp`: rejected
exactly when a finding exists under that profile, leaving out the
body-phase rules (lbgcli.BODY_PHASE_RULES; their defect comes after the
header section has been forwarded, so no LB can answer 502 for them).
Then `lbguard repair` output (each LB's own profile, and strictest for all
three) must pass that LB. A table (case x LB: real verdict, prediction) is
printed and written to BUILD/differential.txt.

KNOWN_DISAGREEMENTS lists the cells where the rule table (lb_mask in
common/lbg.h) is known to disagree with the real parser and the lead has
not fixed it yet: they are reported as "known", not as failures. A known
cell that agrees again is reported so that it can be removed.
Ends with "N passed, N failed".
"""
import json
import os
import re
import socket
import subprocess
import sys

import lbgcli
from lbgcli import lbgtest
import lbg_servers as S

R = lbgtest.Results("differential")
BUILD = lbgtest.build_dir()
LBG, _ = lbgcli.binaries(BUILD)
WORK = lbgtest.workdir("cli-differential", BUILD)
LBS = ("haproxy", "nginx", "llhttp")

# (case slug, lb) -> the rule table's error, as reported to the lead
# (measured 2026-11-22 with Debian 12's HAProxy 2.6.12, nginx 1.22.1 and
# Node 20.20 / llhttp). The lead has NOT fixed these in common/lbg.h yet:
# each entry goes when lb_mask (or a new rule) makes the cell agree.
KNOWN_DISAGREEMENTS = {
    ("010-ok-101-switching-protocols", "haproxy"): "HAProxy 2.6.12 answers 502 (PH) to a WebSocket 101 without Sec-WebSocket-Accept; no rule covers it",
    ("018-version-http2", "nginx"): "nginx 1.22.1 falls back to HTTP/0.9 ('upstream sent no valid HTTP/1.0 header'), no 502; version-invalid has LBG_LB_NGINX",
    ("019-version-http1-10", "nginx"): "nginx 1.22.1 falls back to HTTP/0.9 ('upstream sent no valid HTTP/1.0 header'), no 502; version-invalid has LBG_LB_NGINX",
    ("020-version-lowercase", "nginx"): "nginx 1.22.1 falls back to HTTP/0.9 ('upstream sent no valid HTTP/1.0 header'), no 502; version-invalid has LBG_LB_NGINX",
    ("021-status-2000", "haproxy"): "HAProxy 2.6.12 forwards this status code, no 502; status-code-invalid has LBG_LB_HAPROXY",
    ("021-status-2000", "nginx"): "nginx 1.22.1 falls back to HTTP/0.9 ('upstream sent no valid HTTP/1.0 header') or accepts the 3-digit code, no 502; status-code-invalid has LBG_LB_NGINX",
    ("022-status-20", "haproxy"): "HAProxy 2.6.12 forwards this status code, no 502; status-code-invalid has LBG_LB_HAPROXY",
    ("022-status-20", "nginx"): "nginx 1.22.1 falls back to HTTP/0.9 ('upstream sent no valid HTTP/1.0 header') or accepts the 3-digit code, no 502; status-code-invalid has LBG_LB_NGINX",
    ("023-status-abc", "nginx"): "nginx 1.22.1 falls back to HTTP/0.9 ('upstream sent no valid HTTP/1.0 header') or accepts the 3-digit code, no 502; status-code-invalid has LBG_LB_NGINX",
    ("034-value-nul", "haproxy"): "HAProxy 2.6.12 forwards a NUL in a field value; field-value-crlf-nul has LBG_LB_HAPROXY",
    ("039-cl-letters", "nginx"): "nginx 1.22.1 does not check upstream Content-Length; content-length-invalid has LBG_LB_NGINX",
    ("040-cl-negative", "nginx"): "nginx 1.22.1 does not check upstream Content-Length; content-length-invalid has LBG_LB_NGINX",
    ("041-cl-plus-sign", "nginx"): "nginx 1.22.1 does not check upstream Content-Length; content-length-invalid has LBG_LB_NGINX",
    ("042-cl-inner-space", "nginx"): "nginx 1.22.1 does not check upstream Content-Length; content-length-invalid has LBG_LB_NGINX",
    ("043-cl-empty", "nginx"): "nginx 1.22.1 does not check upstream Content-Length; content-length-invalid has LBG_LB_NGINX",
    ("044-cl-list-same", "nginx"): "nginx 1.22.1 does not check upstream Content-Length; content-length-duplicate has LBG_LB_NGINX",
    ("045-cl-list-differ", "nginx"): "nginx 1.22.1 does not check upstream Content-Length; content-length-conflict has LBG_LB_NGINX",
    ("046-cl-overflow", "nginx"): "nginx 1.22.1 does not check upstream Content-Length; content-length-invalid has LBG_LB_NGINX",
    ("047-cl-duplicate-identical", "nginx"): "nginx 1.22.1 does not check upstream Content-Length; content-length-duplicate has LBG_LB_NGINX",
    ("048-cl-conflict", "nginx"): "nginx 1.22.1 does not check upstream Content-Length; content-length-conflict has LBG_LB_NGINX",
    ("049-te-with-cl", "nginx"): "nginx 1.22.1 accepts Transfer-Encoding with Content-Length; te-with-content-length has LBG_LB_NGINX",
    ("050-te-gzip", "nginx"): "nginx 1.22.1 accepts this Transfer-Encoding; te-not-chunked has LBG_LB_NGINX",
    ("052-te-chunked-two-fields", "nginx"): "nginx 1.22.1 accepts chunked twice; te-chunked-twice has LBG_LB_NGINX",
    ("053-te-chunked-chunked", "nginx"): "nginx 1.22.1 accepts chunked twice; te-chunked-twice has LBG_LB_NGINX",
    ("055-te-on-101", "haproxy"): "HAProxy 2.6.12 answers 502 (PH) to a WebSocket 101 without Sec-WebSocket-Accept (as for 010); no rule covers it",
    ("072-no-status-line", "nginx"): "nginx 1.22.1 falls back to HTTP/0.9 ('upstream sent no valid HTTP/1.0 header'), no 502; version-invalid has LBG_LB_NGINX",
    ("079-status-two-spaces", "haproxy"): "HAProxy 2.6.12 accepts two spaces before the status code; status-code-invalid has LBG_LB_HAPROXY",
    ("079-status-two-spaces", "nginx"): "nginx 1.22.1 accepts two spaces before the status code; status-code-invalid has LBG_LB_NGINX",
    ("080-version-http1-2", "haproxy"): "HAProxy 2.6.12 accepts any HTTP/d.d; version-invalid has LBG_LB_HAPROXY",
    ("080-version-http1-2", "nginx"): "nginx 1.22.1 accepts HTTP/1.2; version-invalid has LBG_LB_NGINX",
    ("082-value-trailing-cr", "nginx"): "nginx 1.22.1 accepts a CR before the CRLF; field-value-crlf-nul has LBG_LB_NGINX",
    ("085-te-empty-element", "nginx"): "nginx 1.22.1 accepts this Transfer-Encoding; te-not-chunked has LBG_LB_NGINX",
}


def request_for(c, path):
    """(method, extra header dict) of the request that case c answers."""
    method = "HEAD" if c["head"] else "GET"
    hdrs = {}
    if c["raw"].startswith(b"HTTP/1.1 101"):
        # the protocol the 101 names; HAProxy answers 400 to a WebSocket
        # upgrade without Sec-WebSocket-Key, 502 to a 101 for another one
        hdrs = {"Connection": "Upgrade", "Upgrade": "websocket",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}
    return method, hdrs


def lb_exchange(port, c, path):
    method, hdrs = request_for(c, path)
    req = "%s %s HTTP/1.1\r\nHost: lb\r\n" % (method, path)
    if "Connection" not in hdrs:
        req += "Connection: close\r\n"
    req += "".join("%s: %s\r\n" % kv for kv in hdrs.items()) + "\r\n"
    if "Upgrade" not in hdrs:
        return lbgtest.raw_exchange(port, req.encode(), timeout=6)
    # an upgraded connection stays open as a tunnel: the response head is
    # all there is to judge
    with socket.create_connection(("127.0.0.1", port), timeout=6) as s:
        s.sendall(req.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                return data or b"<RST>"
            if not d:
                break
            data += d
        return data


def lb_status(resp):
    """'502', '200', ... or 'closed' (no response) / 'reset'."""
    if not resp:
        return "closed"
    if resp.startswith(b"<RST>"):
        return "reset"
    m = re.match(rb"HTTP/1\.[01] (\d{3})(?:[ \r\n]|$)", resp)
    return m.group(1).decode() if m else "junk"


def lb_rejected(status):
    return status in ("502", "closed", "reset")


# ------------------------------------------------------------ the inputs --

CASES = lbgcli.load_cases()
R.check("corpus has cases (%d)" % len(CASES), len(CASES) >= 70, len(CASES))
routes = {}
predicted = {}   # (slug, lb) -> (rejected?, [header-phase rules], [all rules])
repaired = {}    # (slug, profile) -> path or None (refused)
for c in CASES:
    routes[("/c/%s" % c["num"]).encode()] = c["raw"]
    for lb in LBS:
        rc, obj, err = lbgcli.check_json(LBG, c["path"], profile=lb, head=c["head"])
        rules = [f["rule"] for f in obj["findings"]] if obj else ["?"]
        hp = lbgcli.header_phase(obj["findings"]) if obj else ["?"]
        predicted[(c["slug"], lb)] = (bool(hp), hp, rules)
    for prof in ("strictest",) + LBS:
        args = ["repair", "--profile", prof] + (["--head"] if c["head"] else []) + [c["path"]]
        rc, out, err = lbgcli.run(LBG, args)
        if rc == 0:
            path = "/r/%s/%s" % (prof, c["num"])
            routes[path.encode()] = out
            repaired[(c["slug"], prof)] = path
        else:
            repaired[(c["slug"], prof)] = None

backend = lbgtest.RawBackend(routes, close=True)

# ------------------------------------------------------- the real parsers --

procs = []
have_haproxy = S.have(S.HAPROXY)
have_nginx = S.have(S.NGINX)
have_node = os.path.exists(S.NODE)
hap_port = ngx_port = None
if have_haproxy:
    hap_port = lbgtest.free_port()
    d = os.path.join(WORK, "haproxy")
    os.makedirs(d)
    cfg = os.path.join(d, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write("""
global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    retries 0
    timeout connect 2s
    timeout client 6s
    timeout server 4s
    timeout tunnel 2s
frontend fe
    bind 127.0.0.1:%d
    default_backend be
backend be
    server s1 127.0.0.1:%d
""" % (hap_port, backend.port))
    hap_log = os.path.join(d, "haproxy.log")
    hp = lbgtest.Proc([S.HAPROXY, "-db", "-f", cfg], name="haproxy", log=hap_log)
    procs.append(hp)
    lbgtest.wait_port(hap_port, proc=hp)
else:
    R.check("haproxy installed", False, S.HAPROXY)
if have_nginx:
    ngx_port = lbgtest.free_port()
    ngx_dir = os.path.join(WORK, "nginx")
    procs.append(S.start_nginx(ngx_dir, ngx_port, """
    map $http_upgrade $lbg_connection { default upgrade; '' close; }
    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://127.0.0.1:%d;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $lbg_connection;
            proxy_next_upstream off;
            proxy_read_timeout 4s;
        }
    }""" % (ngx_port, backend.port)))
else:
    R.check("nginx installed", False, S.NGINX)
if not have_node:
    print("SKIP llhttp: %s not installed (Debian package nodejs)" % S.NODE)

real = {}        # (slug, lb) -> (status text, rejected?)
rep_real = {}    # (slug, profile, lb) -> (status text, rejected?)


def lb_port(lb):
    return {"haproxy": hap_port, "nginx": ngx_port}[lb]


for lb in ("haproxy", "nginx"):
    if not lb_port(lb):
        continue
    for c in CASES:
        st = lb_status(lb_exchange(lb_port(lb), c, "/c/%s" % c["num"]))
        real[(c["slug"], lb)] = (st, lb_rejected(st))
        for prof in ("strictest", lb):
            path = repaired[(c["slug"], prof)]
            if path:
                st = lb_status(lb_exchange(lb_port(lb), c, path))
                rep_real[(c["slug"], prof, lb)] = (st, lb_rejected(st))

if have_node:
    reqs = []
    for c in CASES:
        method, hdrs = request_for(c, None)
        reqs.append(dict(id="c %s" % c["slug"], path="/c/%s" % c["num"], method=method,
                         headers=hdrs))
        for prof in ("strictest", "llhttp"):
            if repaired[(c["slug"], prof)]:
                reqs.append(dict(id="r %s %s" % (prof, c["slug"]),
                                 path=repaired[(c["slug"], prof)], method=method, headers=hdrs))
    cj = os.path.join(WORK, "node-cases.json")
    with open(cj, "w") as f:
        json.dump(reqs, f)
    p = subprocess.run([S.NODE, os.path.join(lbgcli.HERE, "lbg_node_oracle.js"),
                        str(backend.port), cj], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    R.check("node oracle ran", p.returncode == 0, p.stderr[-500:])
    for line in p.stdout.decode().splitlines():
        o = json.loads(line)
        if o["phase"] == "header":
            st = "err:" + (o["code"] or "?").replace("HPE_", "")
        elif o["phase"] == "body":
            st = "%s+%s" % (o["status"], (o["code"] or "?").replace("HPE_", ""))
        else:
            st = str(o["status"])
        kind, rest = o["id"].split(" ", 1)
        if kind == "c":
            real[(rest, "llhttp")] = (st, o["phase"] == "header")
        else:
            prof, slug = rest.split(" ", 1)
            rep_real[(slug, prof, "llhttp")] = (st, o["phase"] != "ok")

# HAProxy's termination state per request path (from its httplog)
hap_state = {}
if have_haproxy:
    for ln in lbgtest.read_log(hap_log).splitlines():
        m = re.search(r'\s(-?\d+) \S+ \S+ \S+ ([A-Za-z-]{4}) .*"\S+ (/c/\d+) HTTP', ln)
        if m:
            hap_state[m.group(3)] = m.group(2)

for p_ in procs:
    p_.stop()
backend.stop()

# ------------------------------------------------------------ the verdicts --

disagreements = []
known_seen = set()
rows = []
for c in CASES:
    cells = []
    for lb in LBS:
        if (c["slug"], lb) not in real:
            cells.append("%-22s" % "n/a")
            continue
        st, rej = real[(c["slug"], lb)]
        prej, hp, rules = predicted[(c["slug"], lb)]
        agree = rej == prej
        key = (c["slug"], lb)
        mark = ""
        body_only = not hp and any(r in lbgcli.BODY_PHASE_RULES for r in rules)
        if body_only:
            # only body-phase findings: whether the LB answers 502 depends on
            # timing (docs/cli.md, "Calibration"); shown, not asserted
            if lb == "haproxy" and hap_state.get("/c/%s" % c["num"]):
                st += "/" + hap_state["/c/%s" % c["num"]]
            cells.append("%-22s" % ("%s %s/body" % (st, "R" if rej else "a")))
            continue
        if not agree:
            if key in KNOWN_DISAGREEMENTS:
                mark = " known"
                known_seen.add(key)
            else:
                mark = " DIFF"
                disagreements.append((c["slug"], lb, st, rej, prej, hp, rules))
        elif key in KNOWN_DISAGREEMENTS:
            print("NOTE %s/%s now agrees: remove it from KNOWN_DISAGREEMENTS" % key)
        if lb == "haproxy" and hap_state.get("/c/%s" % c["num"]):
            st += "/" + hap_state["/c/%s" % c["num"]]
        cells.append("%-22s" % ("%s %s/%s%s" % (st, "R" if rej else "a", "R" if prej else "a",
                                                   mark)))
        if key in KNOWN_DISAGREEMENTS:
            R.check("%s %s: known disagreement (%s)" % (c["slug"], lb, KNOWN_DISAGREEMENTS[key]),
                    True)
        else:
            R.check("%s %s: real %s, predicted %s (%s)" % (
                c["slug"], lb, "rejected" if rej else "accepted",
                "rejected" if prej else "accepted", ",".join(hp) or "no finding"), agree)
    # repaired bytes
    reps = []
    for lb in LBS:
        for prof in ("strictest", lb):
            k = (c["slug"], prof, lb)
            if repaired[(c["slug"], prof)] is None:
                if prof == lb:
                    reps.append("%s:refused" % lb)
                continue
            if k not in rep_real:
                continue
            st, rej = rep_real[k]
            if rej and (c["slug"], lb) in KNOWN_DISAGREEMENTS:
                print("KNOWN %s: repair --profile %s does not pass %s (%s): %s" % (
                    c["slug"], prof, lb, st, KNOWN_DISAGREEMENTS[(c["slug"], lb)]))
            else:
                R.check("%s: repair --profile %s passes %s (%s)" % (c["slug"], prof, lb, st),
                        not rej)
            if prof == lb:
                reps.append("%s:%s" % (lb, st))
    rows.append("%-36s %s  %s" % (c["slug"], " ".join(cells), " ".join(reps)))

header = ("%-36s %-22s %-22s %-22s  %s\n" % ("case", "haproxy", "nginx", "llhttp (node)",
                                             "repaired (own profile)") +
          "  cell: <real status> <real>/<predicted>, R rejected (502 / parser error before "
          "the response), a accepted,\n  body: only body-phase findings (not asserted); haproxy status/<termination state>; node "
          "<status>+<error> is a body-phase error (not a 502)")
table = header + "\n" + "\n".join(rows) + "\n"
if disagreements:
    table += "\nDisagreements (rule table vs real parser):\n"
    for slug, lb, st, rej, prej, hp, rules in disagreements:
        table += "  %s %s: real %s (%s), predicted %s; findings under --profile %s: %s\n" % (
            slug, lb, st, "rejected" if rej else "accepted",
            "rejected" if prej else "accepted", lb, ",".join(rules) or "none")
print(table)
with open(os.path.join(BUILD, "differential.txt"), "w") as f:
    f.write(table)
sys.exit(R.summary())
