#!/usr/bin/env python3
"""test_differential -- calibrates lbguard's load-balancer profiles against
the real parsers.

  python3 -m tests.cli.test_differential [--build BUILD]

Every corpus case (tests/cases/NNN-slug.http) is served, byte for byte, by
a raw-socket backend (lbgtest.RawBackend, one connection per request) to:
  * HAProxy 2.6 (Debian; `haproxy -db -f cfg`, retries 0) -> 502 or not;
  * nginx as a reverse proxy (Debian; proxy_pass, proxy_next_upstream off)
    -> 502 or not;
  * Node's HTTP client (llhttp, strict; tests/cli/lbg_node_oracle.js, one
    connection per case, agent:false) -> an error before the response or
    not.
The real verdict ("rejected": a 502, or no response at all) must equal the
prediction of `lbguard check --profile P` with P the LB's own profile:
haproxy, llhttp, and for nginx `nginx-1.22` when the running nginx
(`nginx -v`) is older than 1.23.0, else `nginx`. Rejected exactly when a
finding exists under that profile, leaving out the body-phase rules
(lbgcli.BODY_PHASE_RULES; their defect comes after the header section has
been forwarded, so no LB can answer 502 for them). Then `lbguard repair`
output (each LB's own profile, and strictest for all three) must pass that
LB. A table (case x LB: real verdict, prediction) is
printed and written to BUILD/differential.txt.

"Rejected" means the client does not get the response: a 502, no response
at all (closed / reset), or "junk" -- bytes that do not start with a
status line the client can parse. nginx falls back to HTTP/0.9 for a
status line it cannot parse: it logs "upstream sent no valid HTTP/1.0
header" and writes the raw upstream bytes to the client with no status
line of its own (the test checks that log line once per junk answer);
HAProxy forwards a 2- or 4-digit status code as is. Either way the client
gets no usable response, so junk counts as rejected.

The `nginx` profile follows nginx >= 1.23.0: its commit d22157fad
"Upstream: header handlers can now return parsing errors" (release-1.23.0)
added the 502s for invalid or duplicate Content-Length, Content-Length
with Transfer-Encoding, an unknown Transfer-Encoding and a duplicate
Transfer-Encoding. Debian 12 ships nginx 1.22.1, which accepts those: the
`nginx-1.22` profile (LBG_LB_NGINX_122) is that nginx, and it is the one
calibrated here. Every asserted cell must agree exactly; a disagreement
fails, except the cells listed in UNEXPLAINED (printed loudly as
"UNEXPLAINED", for the lead to decide; a listed cell that agrees again
fails until its entry is removed). UNEXPLAINED is empty: every cell
agrees with the rule table.
One check (subTest) per asserted cell.
"""
import json
import os
import re
import socket
import subprocess

from tests import lbgtest
from tests.lbgtest import configs, lbgcli
from tests.lbgtest import servers as S

LBS = ("haproxy", "nginx", "llhttp")

# nginx checks an upstream's Content-Length and Transfer-Encoding since
# 1.23.0 (d22157fad, "Upstream: header handlers can now return parsing
# errors"): before it, the profile is nginx-1.22
NGINX_1_23 = (1, 23, 0)

# (case slug, lb) -> why the real parser disagrees with the rule table and
# nothing above explains it. Each entry is printed as UNEXPLAINED; the lead
# decides (fix lb_mask in common/lbg.h, or a rule of its own).
UNEXPLAINED = {
}


def nginx_version():
    """(major, minor, patch) of `nginx -v`, or None."""
    try:
        p = subprocess.run([S.NGINX, "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=10)
    except OSError:
        return None
    m = re.search(rb"nginx/(\d+)\.(\d+)\.(\d+)", p.stdout)
    return tuple(int(x) for x in m.groups()) if m else None


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


# the body of the target's own 502 (LBG_BAD_GATEWAY_BODY in common/lbg.h)
TARGET_502_BODY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                   b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")


def lb_rejected(status):
    """The client does not get the response: 502, nothing, or junk (a
    status line it cannot parse, nginx's HTTP/0.9 fallback included)."""
    return status in ("502", "closed", "reset", "junk")


class Differential(lbgtest.TestCase):
    suite = "differential"

    def test_differential(self):
        BUILD = self.build
        LBG = lbgtest.require(os.path.join(BUILD, "lbguard"), "make cli")
        WORK = self.workdir("cli-differential")
        have_nginx = S.have(S.NGINX)
        NGX_VERSION = nginx_version() if have_nginx else None
        # each LB's own profile
        PROFILE = {"haproxy": "haproxy", "llhttp": "llhttp",
                   "nginx": ("nginx-1.22" if NGX_VERSION is not None and NGX_VERSION < NGINX_1_23
                             else "nginx")}
        if have_nginx:
            self.check("nginx -v parsed (%s): profile %s" % (".".join(map(str, NGX_VERSION or ())),
                                                            PROFILE["nginx"]), NGX_VERSION)

        # ------------------------------------------------------------ the inputs --

        CASES = lbgcli.load_cases()
        self.check("corpus has cases (%d)" % len(CASES), len(CASES) >= 70, len(CASES))
        routes = {}
        predicted = {}   # (slug, lb) -> (rejected?, [header-phase rules], [all rules])
        repaired = {}    # (slug, profile) -> path or None (refused)
        REP_PROFILES = ("strictest",) + tuple(PROFILE[lb] for lb in LBS)
        for c in CASES:
            routes[("/c/%s" % c["num"]).encode()] = c["raw"]
            for lb in LBS:
                rc, obj, err = lbgcli.check_json(LBG, c["path"], profile=PROFILE[lb],
                                                 head=c["head"])
                rules = [f["rule"] for f in lbgcli.all_findings(obj)] if obj else ["?"]
                hp = lbgcli.header_phase(lbgcli.all_findings(obj)) if obj else ["?"]
                predicted[(c["slug"], lb)] = (bool(hp), hp, rules)
            for prof in REP_PROFILES:
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
        have_node = os.path.exists(S.NODE)
        hap_port = ngx_port = None
        if have_haproxy:
            hap_port = lbgtest.free_port()
            d = os.path.join(WORK, "haproxy")
            os.makedirs(d)
            cfg = os.path.join(d, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write(configs.haproxy_proxy_cfg(
                    [("be", hap_port, backend.port)],
                    [("connect", "2s"), ("client", "6s"), ("server", "4s"), ("tunnel", "2s")]))
            hap_log = os.path.join(d, "haproxy.log")
            hp = lbgtest.Proc([S.HAPROXY, "-db", "-f", cfg], name="haproxy", log=hap_log)
            procs.append(hp)
            lbgtest.wait_port(hap_port, proc=hp)
        else:
            self.skip_part("haproxy installed", "%s missing (apt-get install haproxy)" % S.HAPROXY)
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
            self.skip_part("nginx installed", "%s missing (apt-get install nginx)" % S.NGINX)
        if not have_node:
            self.skip_part("llhttp", "%s not installed (Debian package nodejs)" % S.NODE)

        real = {}        # (slug, lb) -> (status text, rejected?)
        rep_real = {}    # (slug, profile, lb) -> (status text, rejected?)
        junk_paths = {"haproxy": set(), "nginx": set()}   # request paths answered with junk

        def lb_port(lb):
            return {"haproxy": hap_port, "nginx": ngx_port}[lb]

        for lb in ("haproxy", "nginx"):
            if not lb_port(lb):
                continue
            for c in CASES:
                st = lb_status(lb_exchange(lb_port(lb), c, "/c/%s" % c["num"]))
                real[(c["slug"], lb)] = (st, lb_rejected(st))
                if st == "junk":
                    junk_paths[lb].add("/c/%s" % c["num"])
                for prof in ("strictest", PROFILE[lb]):
                    path = repaired[(c["slug"], prof)]
                    if path:
                        raw = lb_exchange(lb_port(lb), c, path)
                        st = lb_status(raw)
                        # the target's own 502 (LBG_EDIT_BAD_GATEWAY, issue 9) passed
                        # on whole is no rejection; the LB's own 502 has its own body
                        own = st == "502" and raw.endswith(TARGET_502_BODY)
                        rep_real[(c["slug"], prof, lb)] = ("502(target)" if own else st,
                                                           lb_rejected(st) and not own)
                        if st == "junk":
                            junk_paths[lb].add(path)

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
            self.check("node oracle ran", p.returncode == 0, p.stderr[-500:])
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

        # nginx's junk is its HTTP/0.9 fallback: exactly the requests it logged
        # "upstream sent no valid HTTP/1.0 header" for
        if have_nginx:
            ngx_fallback = set(re.findall(
                r'upstream sent no valid HTTP/1\.0 header .*request: "\S+ (\S+) HTTP',
                lbgtest.read_log(os.path.join(ngx_dir, "error.log"))))
            self.eq("nginx: junk answers are its HTTP/0.9 fallback (%d)" % len(junk_paths["nginx"]),
                    sorted(ngx_fallback), sorted(junk_paths["nginx"]))

        # ------------------------------------------------------------ the verdicts --

        disagreements = []   # cells that fail
        unexplained = []     # cells listed in UNEXPLAINED that still disagree
        count = {lb: dict(agree=0, unexplained=0, body=0, fail=0) for lb in LBS}
        rows = []
        for c in CASES:
            cells = []
            for lb in LBS:
                if (c["slug"], lb) not in real:
                    cells.append("%-22s" % "n/a")
                    continue
                st, rej = real[(c["slug"], lb)]
                prej, hp, rules = predicted[(c["slug"], lb)]
                key = (c["slug"], lb)
                if lb == "haproxy" and hap_state.get("/c/%s" % c["num"]):
                    st += "/" + hap_state["/c/%s" % c["num"]]
                body_only = not hp and any(r in lbgcli.BODY_PHASE_RULES for r in rules)
                if body_only:
                    # only body-phase findings: whether the LB answers 502 depends on
                    # timing (docs/cli.md, "Calibration"); shown, not asserted
                    count[lb]["body"] += 1
                    cells.append("%-22s" % ("%s %s/body" % (st, "R" if rej else "a")))
                    self.check("%s %s: not in UNEXPLAINED (body-phase only, not asserted)" % key,
                               key not in UNEXPLAINED)
                    continue
                verdict = "real %s, predicted %s by --profile %s (%s)" % (
                    "rejected" if rej else "accepted", "rejected" if prej else "accepted",
                    PROFILE[lb], ",".join(hp) or "no finding")
                mark = ""
                if rej == prej:
                    count[lb]["agree"] += 1
                    self.check("%s %s: %s" % (c["slug"], lb, verdict), key not in UNEXPLAINED,
                               "agrees: remove it from UNEXPLAINED")
                elif key in UNEXPLAINED:
                    count[lb]["unexplained"] += 1
                    mark = " UNEXPLAINED"
                    unexplained.append((c["slug"], lb, st, rej, prej, hp, rules))
                    self.check("%s %s: %s: UNEXPLAINED (%s)" % (c["slug"], lb, verdict, UNEXPLAINED[key]),
                               True)
                else:
                    count[lb]["fail"] += 1
                    mark = " DIFF"
                    disagreements.append((c["slug"], lb, st, rej, prej, hp, rules))
                    self.check("%s %s: %s" % (c["slug"], lb, verdict), False)
                cells.append("%-22s" % ("%s %s/%s%s" % (st, "R" if rej else "a", "R" if prej else "a",
                                                           mark)))
            # repaired bytes
            reps = []
            for lb in LBS:
                for prof in ("strictest", PROFILE[lb]):
                    k = (c["slug"], prof, lb)
                    if repaired[(c["slug"], prof)] is None:
                        if prof == PROFILE[lb]:
                            reps.append("%s:refused" % lb)
                        continue
                    if k not in rep_real:
                        continue
                    st, rej = rep_real[k]
                    if rej and (c["slug"], lb) in UNEXPLAINED:
                        print("UNEXPLAINED %s: repair --profile %s does not pass %s (%s): %s" % (
                            c["slug"], prof, lb, st, UNEXPLAINED[(c["slug"], lb)]))
                    else:
                        self.check("%s: repair --profile %s passes %s (%s)" % (c["slug"], prof, lb, st),
                                   not rej)
                    if prof == PROFILE[lb]:
                        reps.append("%s:%s" % (lb, st))
            rows.append("%-36s %s  %s" % (c["slug"], " ".join(cells), " ".join(reps)))

        header = ("%-36s %-22s %-22s %-22s  %s\n" % ("case", "haproxy",
                                                     "nginx (%s)" % PROFILE["nginx"], "llhttp (node)",
                                                     "repaired (own profile)") +
                  "  cell: <real status> <real>/<predicted>, R rejected (502, no response, or junk:\n"
                  "  a status line the client cannot parse, nginx's HTTP/0.9 fallback included;\n"
                  "  llhttp: a parser error before the response), a accepted;\n"
                  "  predicted by --profile haproxy, %s (nginx %s), llhttp;\n"
                  "  body: only body-phase findings (not asserted); haproxy status/<termination state>;\n"
                  "  node <status>+<error> is a body-phase error (not a 502)" % (
                      PROFILE["nginx"], ".".join(map(str, NGX_VERSION)) if NGX_VERSION else "n/a"))
        summary = ["cells (case x LB, %d cases): asserted = agree + unexplained + DIFF; "
                   "body-phase only: shown, not asserted" % len(CASES)]
        count["total"] = {k: sum(count[lb][k] for lb in LBS) for k in count[LBS[0]]}
        for lb in LBS + ("total",):
            n = count[lb]
            summary.append("  %-8s agree %3d  UNEXPLAINED %2d  body-phase %2d  DIFF %2d" % (
                lb, n["agree"], n["unexplained"], n["body"], n["fail"]))
        table = header + "\n" + "\n".join(rows) + "\n\n" + "\n".join(summary) + "\n"

        def cell_list(title, prefix, cells):
            """The cells (slug, lb, status, real, predicted, hp, rules) as text."""
            if not cells:
                return ""
            out = "\n%s\n" % title
            for slug, lb, st, rej, prej, hp, rules in cells:
                out += "  %s%s %s: real %s (%s), predicted %s; findings under --profile %s: %s\n" % (
                    prefix, slug, lb, st, "rejected" if rej else "accepted",
                    "rejected" if prej else "accepted", PROFILE[lb], ",".join(rules) or "none")
            return out

        table += cell_list("*** UNEXPLAINED (rule table vs real parser; listed for the lead) ***",
                           "UNEXPLAINED ", unexplained)
        table += cell_list("Disagreements (rule table vs real parser):", "", disagreements)
        print(table)
        with open(os.path.join(BUILD, "differential.txt"), "w") as f:
            f.write(table)


if __name__ == "__main__":
    lbgtest.main()
