#!/usr/bin/env python3
"""test_metrics -- lbguard's Prometheus counters (issue 13), with real
components:

  * nginx (Debian's, dynamic module) with 4 workers and `reuseport`, and
    Apache (event MPM) with 2 children, each with a repair server (status
    zone "web") and a detect server (zone "default"), serve bad and clean
    responses to many client connections; every counter equals what the
    clients saw and what the access log's $lbguard_findings /
    %{lbguard-findings}n says, exactly, and at least 2 processes served;
  * the counts survive an nginx reload (3 x SIGHUP) and an Apache graceful
    restart (SIGUSR1) made while clients run, exactly, with the same
    lbguard_start_time_seconds; a restart of nginx starts them from 0;
  * the live output passes `promtool check metrics` and a strict check of
    its own (families uninterrupted, HELP/TYPE first, unique series), with
    the exact Content-Type; nginx and Apache print the same series;
  * a real Prometheus server (Debian's, started here on a loopback port,
    stopped by PID) scrapes both and its query API returns the same numbers;
  * docs/prometheus/lbguard-rules.yml passes `promtool check rules` and
    `promtool test rules`.

A missing module, CLI, promtool or prometheus skips the suite; the ASan
builds (make nginx-static-asan; make apache builds mod_lbguard-asan.so)
are a skip each when absent.

Usage (from the repository root):
    python3 -m tests.integration.test_metrics [--build DIR] [-k NAME]
"""
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
import urllib.request

from tests import lbgtest
from tests.lbgtest import apache_env, configs

ROOT = lbgtest.ROOT
NGINX = "/usr/sbin/nginx"
NGX_PERL = "/usr/lib/nginx/modules/ngx_http_perl_module.so"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
CT = b"text/plain; version=0.0.4; charset=utf-8"
RULES = os.path.join(ROOT, "docs", "prometheus", "lbguard-rules.yml")
RULES_TEST = os.path.join(ROOT, "docs", "prometheus", "lbguard-rules.test.yml")

# rules whose repair closes the connection, and [(rule, repairable)] in
# id order: filled from `lbguard rules --json` by setUpClass
CLOSING = set()
LB_502 = set()
RULE_NAMES = []


# ---- the exposition format ------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse(text):
    """{(name, ((label, value), ...)): value} of every sample (int when it
    is one); raises ValueError on a line it cannot read."""
    out = {}
    for line in text.split("\n")[:-1]:
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("bad line %r" % line)
        labels = []
        rest = m.group(2) or ""
        while rest:
            lm = LABEL.match(rest)
            if not lm:
                raise ValueError("bad labels %r" % line)
            labels.append((lm.group(1), lm.group(2)))
            rest = rest[lm.end():]
        v = m.group(3)
        out[(m.group(1), tuple(labels))] = int(v) if v.isdigit() else float(v)
    return out


def strict(text):
    """What promtool 2.42 does not check: LF only and a final LF, each
    family one uninterrupted group with HELP then TYPE first, no sample
    before its TYPE, no series twice. Returns a list of problems."""
    bad = []
    if not text.endswith("\n") or "\r" in text:
        bad.append("line ends")
    seen_fam, seen_series, cur, state = set(), set(), None, 0
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            name = line.split(" ")[2]
            if name in seen_fam:
                bad.append("family %s twice" % name)
            seen_fam.add(name)
            cur, state = name, 1
        elif line.startswith("# TYPE "):
            if state != 1 or line.split(" ")[2] != cur:
                bad.append("TYPE out of place: %r" % line)
            state = 2
        else:
            name = SAMPLE.match(line).group(1) if SAMPLE.match(line) else None
            if state != 2 or name != cur:
                bad.append("sample outside its family: %r" % line)
            key = line.rsplit(" ", 1)[0]
            if key in seen_series:
                bad.append("series twice: %r" % key)
            seen_series.add(key)
    return bad


def promtool_metrics(text):
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def scrape(port, path):
    """(Content-Type bytes, body text) of one GET over a raw socket."""
    raw = lbgtest.raw_exchange(port, b"GET %s HTTP/1.1\r\nHost: t\r\n"
                               b"Connection: close\r\n\r\n" % path.encode(),
                               mark_timeout=True)
    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise RuntimeError("scrape of %d%s: %r" % (port, path, raw[:200]))
    ct = lbgtest.field_values(raw, "Content-Type")
    return (ct[0] if ct else b""), body.decode("utf-8")


def expected(zones, resp, findings, cuts, cut_bytes, ka):
    """The full sample map the formatter must print for zones (in order):
    resp[(zone, mode)], findings[(zone, rule, outcome)], cuts[zone],
    cut_bytes[zone], ka[(zone, verdict)]; zeros elsewhere. Closed
    connections follow from the findings (repair: one per closing rule,
    these tests send one finding per response)."""
    rules = RULE_NAMES
    out = {}
    for z in zones:
        for m in ("detect", "repair"):
            out[("lbguard_responses_total", (("server", z), ("mode", m)))] = \
                resp.get((z, m), 0)
        for r, repairable in rules:
            for o in (("repaired", "detected") if repairable
                      else ("reported", "detected")):
                out[("lbguard_findings_total",
                     (("server", z), ("rule", r), ("outcome", o)))] = \
                    findings.get((z, r, o), 0)
        for r, _ in rules:
            if r in CLOSING or r in LB_502:
                n = sum(findings.get((z, r, o), 0)
                        for o in (("repaired", "reported") if r in CLOSING else ("repaired",)))
                out[("lbguard_connections_closed_total",
                     (("server", z), ("reason", r)))] = n
        out[("lbguard_bodies_cut_total", (("server", z),))] = cuts.get(z, 0)
        out[("lbguard_body_cut_bytes_total", (("server", z),))] = cut_bytes.get(z, 0)
        for v in ("ok", "raised", "disabled", "unchecked", "not-raised"):
            out[("lbguard_keepalive_contexts", (("server", z), ("verdict", v)))] = \
                ka.get((z, v), 0)
    return out


DRAIN = "lbguard_drain_connections_total"
DRAIN_OUTCOMES = ("request", "client-close", "client-reset", "idle-limit", "shutdown-timeout",
                  "server-close", "mpm-restart", "mpm-stopping", "mpm-busy")


def counters_only(samples, drain=False):
    """The counters of a sample map; the drain family (per process: how
    the idle connections of old workers ended, which a reload under load
    makes vary; exact in test_drain.py) only when `drain`."""
    return {k: v for k, v in samples.items()
            if k[0] not in ("lbguard_build_info", "lbguard_start_time_seconds")
            and (drain or k[0] != DRAIN)}


def diff(got, want):
    lines = []
    for k in sorted(set(got) | set(want)):
        if got.get(k) != want.get(k):
            lines.append("%s%s: got %r, expected %r" % (k[0], dict(k[1]), got.get(k),
                                                        want.get(k)))
    return "\n  " + "\n  ".join(lines[:20])


def rule_names(build):
    out = subprocess.run([os.path.join(build, "lbguard"), "rules", "--json"],
                         stdout=subprocess.PIPE, check=True).stdout
    rows = json.loads(out)
    if isinstance(rows, dict):
        rows = rows.get("rules", [])
    # the rule's "fix" column (LBG_RULES): "close" keeps the connection from
    # being reused, "edit" makes the finding "repaired" rather than "reported"
    CLOSING.update(r["name"] for r in rows if "close" in r["fix"])
    # "lb-502": the budget rules, whose repair under a profile naming one
    # load balancer is the target's own 502 (a close): counted when repaired
    LB_502.update(r["name"] for r in rows if "lb-502" in r["fix"])
    return [(r["name"], "edit" in r["fix"])
            for r in sorted(rows, key=lambda r: r["id"])]


def findings_in_log(text, zone, field):
    """Counter of (zone, rule, outcome) from the access log's findings
    column (field index), and the set of pids (column 0)."""
    c = collections.Counter()
    pids = set()
    for line in text.splitlines():
        cols = line.split(" ")
        pids.add(cols[0])
        if cols[field] == "-":
            continue
        for item in cols[field].split(","):
            rule, _, outcome = item.partition(":")
            c[(zone, rule, outcome)] += 1
    return c, pids


# ---- clients ----------------------------------------------------------------

class Tally:
    """What the clients saw: responses per (zone, mode), findings per
    (zone, rule, outcome), cut bodies and bytes per zone. Thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.resp = collections.Counter()
        self.findings = collections.Counter()
        self.cuts = collections.Counter()
        self.cut_bytes = collections.Counter()
        self.wrong = []
        self.failed = 0

    def add(self, zone, mode, rule=None, outcome=None, cut=0):
        with self.lock:
            self.resp[(zone, mode)] += 1
            if rule:
                self.findings[(zone, rule, outcome)] += 1
            if cut:
                self.cuts[zone] += 1
                self.cut_bytes[zone] += cut


def one_request(port, path):
    """One request on its own connection: the raw response, or None when
    the connection failed before any byte (a reload's dropped accept
    queue: nothing was served)."""
    try:
        raw = lbgtest.raw_exchange(port, b"GET %s HTTP/1.1\r\nHost: t\r\n"
                                   b"Connection: close\r\n\r\n" % path,
                                   timeout=10, mark_timeout=True)
    except OSError:
        return None
    if raw in (b"", b"<RST>"):
        return None
    return raw


def run_clients(kinds, tally, n_each, threads=8, stop=None):
    """Sends n_each requests of every kind (or, with `stop`, cycles until
    stop is set) from `threads` threads, each request on a new connection,
    and records in `tally` what the client saw. kinds: [(port, path, check)]
    where check(raw) returns (zone, mode, rule, outcome, cut bytes) or
    raises AssertionError."""
    jobs = [k for k in kinds for _ in range(n_each)]
    lock = threading.Lock()

    def work(i):
        j = i
        while True:
            if stop is None:
                with lock:
                    if not jobs:
                        return
                    port, path, check = jobs.pop()
            else:
                if stop.is_set():
                    return
                port, path, check = kinds[j % len(kinds)]
                j += 1
            raw = one_request(port, path)
            if raw is None:
                with tally.lock:
                    tally.failed += 1
                if stop is None:
                    with lock:
                        jobs.append((port, path, check))
                continue
            try:
                zone, mode, rule, outcome, cut = check(raw)
            except AssertionError as e:
                with tally.lock:
                    tally.wrong.append("%s: %s: %r" % (path, e, raw[:300]))
                continue
            tally.add(zone, mode, rule, outcome, cut)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    return ts


def join(ts):
    for t in ts:
        t.join()


def body_of(raw):
    return raw.partition(b"\r\n\r\n")[2]


def kinds(srv, paths):
    """The request kinds of run_clients for srv's repair server (zone
    "web") and detect server (zone "default"): paths is [(path, make)],
    make(zone, mode) returning the check of that path's response."""
    return [(port, path, make(zone, mode))
            for port, zone, mode in ((srv.repair, "web", "repair"),
                                     (srv.detect, "default", "detect"))
            for path, make in paths]


def clean(body, what):
    """make(zone, mode) for a clean response: 200 with `body`, no finding
    (the AssertionError says `what`)."""
    def make(zone, mode):
        def check(raw):
            assert raw.startswith(b"HTTP/1.1 200 ") and body_of(raw) == body, what
            return zone, mode, None, None, 0
        return check
    return make


# ---- nginx ----------------------------------------------------------------

def perl(name, code):
    return ("location = /perl/%s { perl 'sub { my $r = shift; %s return OK; }'; }"
            % (name, code))


NGX_LOCATIONS = "\n".join([
    perl("crlf", '$r->header_out("X-Inj", "a" . chr(13) . chr(10) . '
         '"Set-Cookie: x=1"); $r->send_http_header("text/plain"); $r->print("abc");'),
    perl("long", '$r->header_out("Content-Length", "3"); '
         '$r->send_http_header("text/plain"); $r->print("hello world\\n");'),
    "location = /fine { return 200 \"ok\\n\"; }",
])


class Nginx:
    """nginx with a repair server (zone "web"), a detect server (zone
    "default") and a status server; `so` is the dynamic module, loaded
    with the perl module unless `modules` says otherwise."""

    def __init__(self, d, so, binary=NGINX, modules=None, env=None):
        modules = (so, NGX_PERL) if modules is None else modules
        self.d = d
        self.binary = binary
        self.env = env
        self.repair = lbgtest.free_port()
        self.detect = lbgtest.free_port()
        self.status = lbgtest.free_port()
        self.conf = os.path.join(d, "nginx.conf")
        self.proc = None
        with open(self.conf, "w") as f:
            f.write(configs.nginx_metrics_conf(d, modules, self.repair, self.detect,
                                               self.status, NGX_LOCATIONS))

    def start(self):
        self.proc = lbgtest.Proc([self.binary, "-e", "stderr", "-p", self.d,
                                  "-c", self.conf], name="nginx-metrics", env=self.env,
                                 log=os.path.join(self.d, "stdout.log"))
        for p in (self.repair, self.detect, self.status):
            lbgtest.wait_port(p, proc=self.proc)

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def workers(self):
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             stdout=subprocess.PIPE, universal_newlines=True).stdout
        return set(int(x) for x in out.split())

    def metrics(self):
        return scrape(self.status, "/metrics")

    def access(self, mode):
        return lbgtest.read_log(os.path.join(self.d, "%s.access" % mode))


def ngx_kinds(n):
    def crlf(zone, mode):
        def check(raw):
            assert raw.startswith(b"HTTP/1.1 200 "), "status"
            if mode == "repair":
                assert b"\r\nX-Inj: a  Set-Cookie: x=1\r\n" in raw, "not repaired"
                return zone, mode, "field-value-cr-lf", "repaired", 0
            assert b"\r\nX-Inj: a\r\nSet-Cookie: x=1\r\n" in raw, "not as sent"
            return zone, mode, "field-value-cr-lf", "detected", 0
        return check

    def long(zone, mode):
        def check(raw):
            assert raw.startswith(b"HTTP/1.1 200 "), "status"
            if mode == "repair":
                assert body_of(raw) == b"hel", "not cut"
                assert b"\r\nConnection: close\r\n" in raw, "kept alive"
                return zone, mode, "body-longer-than-content-length", "repaired", 9
            assert body_of(raw) == b"hello world\n", "not as sent"
            return zone, mode, "body-longer-than-content-length", "detected", 0
        return check

    return kinds(n, [(b"/perl/crlf", crlf), (b"/perl/long", long),
                     (b"/fine", clean(b"ok\n", "fine"))])


# nginx merges the server{} and its 3 locations: 4 contexts per server
NGX_KA = {("web", "raised"): 4, ("default", "ok"): 4}


def check_live(t, label, ct, text):
    t.eq("%s: Content-Type" % label, ct, CT)
    rc, out = promtool_metrics(text)
    t.check("%s: promtool check metrics passes (rc %d)" % (label, rc), rc == 0, out)
    t.eq("%s: strict format check" % label, strict(text), [])
    t.eq("%s: lbguard_drain_connections_total has every outcome, no server label" % label,
         sorted(k[1] for k in parse(text) if k[0] == DRAIN),
         sorted((("outcome", o),) for o in DRAIN_OUTCOMES))


def check_exact(t, label, text, tally, ka, logs):
    """Every counter equals the clients' tally, and the access log."""
    got = counters_only(parse(text))
    want = expected(["default", "web"], tally.resp, tally.findings, tally.cuts,
                    tally.cut_bytes, ka)
    t.check("%s: every counter equals what the clients saw (%d series)"
            % (label, len(want)), got == want, diff(got, want))
    got_f = collections.Counter({(dict(k[1])["server"], dict(k[1])["rule"],
                                  dict(k[1])["outcome"]): v
                                 for k, v in got.items()
                                 if k[0] == "lbguard_findings_total" and v})
    t.eq("%s: findings equal the access log's findings column" % label,
         got_f, logs)


def access_findings(srv):
    """Counter of (zone, rule, outcome) in the findings column of the
    access logs of srv's repair (zone "web") and detect (zone "default")
    servers, and the set of pids that served."""
    logs, pids = collections.Counter(), set()
    for mode, zone in (("repair", "web"), ("detect", "default")):
        c, p = findings_in_log(srv.access(mode), zone, 1)
        logs += c
        pids |= p
    return logs, pids


def live_at_start(t, L, srv):
    """Checks srv's live output before any request; returns its
    lbguard_start_time_seconds."""
    ct, text0 = srv.metrics()
    check_live(t, L + " at start", ct, text0)
    return parse(text0)[("lbguard_start_time_seconds", ())]


def load(t, L, srv, kinds, tally, n_each, ka, who):
    """n_each requests of every kind from 8 threads, a connection each;
    then every counter exact and at least 2 `who` pids served. Returns
    the live output."""
    join(run_clients(kinds, tally, n_each))
    t.eq(L + ": clients saw only expected responses", tally.wrong, [])
    ct, text = srv.metrics()
    check_live(t, L + " after load", ct, text)
    logs, pids = access_findings(srv)
    t.check(L + ": %d %s pids served (>= 2)" % (len(pids), who), len(pids) >= 2)
    check_exact(t, L, text, tally, ka, logs)
    print(L + ": %d responses, %d findings, %d bodies cut (%d bytes), %d pids"
          % (sum(tally.resp.values()), sum(tally.findings.values()),
             sum(tally.cuts.values()), sum(tally.cut_bytes.values()), len(pids)))
    return text


def after_restarts(t, L, srv, tally, clients, ka, start0, short, desc, what):
    """A few more responses from the last generation, then the clients
    (threads, stop event) stop; every counter exact again ("L after
    desc"), the same lbguard_start_time_seconds ("L short: ...")."""
    ts, stop = clients
    target = sum(tally.resp.values()) + 60
    lbgtest.wait_for(lambda: sum(tally.resp.values()) >= target, timeout=60, what=what)
    stop.set()
    join(ts)
    t.eq("%s %s: clients saw only expected responses" % (L, short), tally.wrong, [])
    ct, text = srv.metrics()
    check_live(t, "%s after %s" % (L, desc), ct, text)
    check_exact(t, "%s after %s" % (L, desc), text, tally, ka, access_findings(srv)[0])
    t.eq("%s %s: lbguard_start_time_seconds unchanged" % (L, short),
         parse(text)[("lbguard_start_time_seconds", ())], start0)


def nginx_part(t, n, L="nginx", n_each=40):
    """Load on the started nginx n, then 3 reloads under load."""
    tally = Tally()
    kinds = ngx_kinds(n)
    start0 = live_at_start(t, L, n)

    # N bad and M clean per server from 8 threads, a connection each
    load(t, L, n, kinds, tally, n_each, NGX_KA, "worker")
    t.eq(L + ": responses = access log lines",
         sum(tally.resp.values()),
         len(n.access("repair").splitlines()) + len(n.access("detect").splitlines()))

    # reload 3 times while clients run
    stop = threading.Event()
    ts = run_clients(kinds, tally, 0, threads=6, stop=stop)
    for i in range(3):
        old = n.workers()
        os.kill(n.proc.pid, signal.SIGHUP)
        lbgtest.wait_for(lambda: (lambda w: len(w) == 4 and not (w & old))(n.workers()),
                         timeout=30, what=L + " reload %d: 4 new workers, old gone" % (i + 1))
    after_restarts(t, L, n, tally, (ts, stop), NGX_KA, start0, "reload",
                   "3 reloads under load", "responses after the reloads")
    print(L + " reload: %d responses in all, %d connections failed during reloads"
          % (sum(tally.resp.values()), tally.failed))
    return tally


def nginx_restart(t, n):
    """A stop and start: counters from 0, a new start time (seconds: the
    restart must not fall into the same second). The zones are those of
    the configuration: after nginx_new_zone, the detect server's is
    "extra"."""
    start0 = parse(n.metrics()[1])[("lbguard_start_time_seconds", ())]
    n.stop()
    lbgtest.wait_for(lambda: int(time.time()) > start0, timeout=5, what="next second")
    n.start()
    text = n.metrics()[1]
    got = counters_only(parse(text))
    with open(n.conf) as f:
        detect_zone = "extra" if "lbguard_status_zone extra;" in f.read() else "default"
    want = expected(["default", "web"] + (["extra"] if detect_zone == "extra" else []),
                    {}, {}, {}, {}, {("web", "raised"): 4, (detect_zone, "ok"): 4})
    t.check("nginx restart: counters start from 0", got == want, diff(got, want))
    t.check("nginx restart: new lbguard_start_time_seconds",
            parse(text)[("lbguard_start_time_seconds", ())] > start0)


def nginx_new_zone(t, n):
    """A reload that gives the detect server a zone of its own: the old
    series keep their values, the new zone starts at 0 and counts from
    then on; the keep-alive gauges follow the loaded configuration."""
    before = counters_only(parse(n.metrics()[1]))
    with open(n.conf) as f:
        text = f.read()
    text = text.replace("lbguard detect; keepalive_timeout 75s;",
                        "lbguard detect; keepalive_timeout 75s; lbguard_status_zone extra;")
    with open(n.conf, "w") as f:
        f.write(text)
    old = n.workers()
    os.kill(n.proc.pid, signal.SIGHUP)
    lbgtest.wait_for(lambda: (lambda w: len(w) == 4 and not (w & old))(n.workers()),
                     timeout=30, what="nginx reload with a new zone")
    raw = one_request(n.detect, b"/perl/crlf")
    t.check("nginx new zone: the detect server still answers",
            raw is not None and raw.startswith(b"HTTP/1.1 200 "), raw)
    got = counters_only(parse(n.metrics()[1]))
    want = dict(before)
    for k, v in expected(["extra"], {("extra", "detect"): 1},
                         {("extra", "field-value-cr-lf", "detected"): 1}, {}, {},
                         {("extra", "ok"): 4}).items():
        want[k] = v
    want[("lbguard_keepalive_contexts", (("server", "default"), ("verdict", "ok")))] = 0
    t.check("nginx reload adding a zone: old series unchanged, the new one from 0",
            got == want, diff(got, want))


def nginx_bad_zone(t, so):
    d = lbgtest.workdir("metrics-nginx-bad", t.build)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("load_module %s;\nerror_log %s/e.log;\npid %s/p;\nevents {}\n"
                "http {\n%s\nserver { listen 127.0.0.1:%d;\n"
                "lbguard_status_zone \"a b\"; }\n}\n"
                % (so, d, d, lbgtest.nginx_temp_paths(d), lbgtest.free_port()))
    r = subprocess.run([NGINX, "-t", "-e", "stderr", "-p", d, "-c", conf],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = r.stdout.decode()
    with open(conf) as f:
        line = 1 + f.read().split("\n").index('lbguard_status_zone "a b"; }')
    t.check("nginx -t: a bad lbguard_status_zone fails naming it and file:line",
            r.returncode != 0 and
            ('invalid zone name "a b" in "lbguard_status_zone" directive' in out)
            and (" in %s:%d\n" % (conf, line)) in out, out)


# ---- Apache -----------------------------------------------------------------

APACHE_BACKEND = {
    b"/p/ctl": b"HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nok",
    b"/p/good": b"HTTP/1.1 200 OK\r\nX-Up: 1\r\nContent-Length: 2\r\n\r\nok",
}

# streamed, so the script's Content-Length reaches the client (see
# test_apache.py's SLOW): 5 declared, 21 sent
LONGER_CGI = ("#!/usr/bin/python3\nimport sys, time\n"
              "sys.stdout.buffer.write(b'Content-Length: 5\\nContent-Type: text/plain"
              "\\n\\nhello')\nsys.stdout.buffer.flush()\ntime.sleep(0.1)\n"
              "sys.stdout.buffer.write(b', extra bytes!!!')\n")


class Apache:
    """apache2 (event MPM, 2 children) with a repair virtual host (zone
    "web"), a detect one (zone "default") and the status handler."""

    def __init__(self, d, backend_port, so, env=None):
        self.d = d
        self.env = env
        self.repair = lbgtest.free_port()
        self.detect = lbgtest.free_port()
        self.status = lbgtest.free_port()
        for sub in ("run", "logs", "htdocs", "cgi-bin"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(os.path.join(d, "run"), 0o777)
        with open(os.path.join(d, "cgi-bin", "longer"), "w") as f:
            f.write(LONGER_CGI)
        os.chmod(os.path.join(d, "cgi-bin", "longer"), 0o755)
        self.conf = os.path.join(d, "httpd.conf")
        self.error_log = os.path.join(d, "logs", "error.log")
        with open(self.conf, "w") as f:
            f.write(configs.apache_metrics_conf(d, self.status, self.repair, self.detect,
                                                so, backend_port))
        self.proc = None

    def generations(self):
        return lbgtest.read_log(self.error_log).count("AH00489:")

    def start(self):
        self.proc = lbgtest.Proc([apache_env.APACHE, "-f", self.conf, "-DFOREGROUND"],
                                 name="apache2-metrics", env=self.env,
                                 log=os.path.join(self.d, "logs", "stdout.log"))
        for p in (self.status, self.repair, self.detect):
            lbgtest.wait_port(p, proc=self.proc)
        lbgtest.wait_for(lambda: self.generations() >= 1, timeout=30,
                         what="apache2 AH00489")

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def metrics(self):
        return scrape(self.status, "/lbguard-status")

    def access(self, mode):
        return lbgtest.read_log(os.path.join(self.d, "logs", "%s.access" % mode))


def apache_kinds(a):
    def ctl(zone, mode):
        def check(raw):
            if mode == "repair":
                assert raw.startswith(b"HTTP/1.1 200 "), "status"
                assert b"\r\nX-Bad: a b\r\n" in raw, "not repaired"
                return zone, mode, "field-value-ctl", "repaired", 0
            # Detect leaves the field; Apache's check_headers() then
            # answers its own 500 (one response, one finding)
            assert raw.startswith(b"HTTP/1.1 500 "), "status"
            assert b"X-Bad" not in raw, "not refused"
            return zone, mode, "field-value-ctl", "detected", 0
        return check

    def longer(zone, mode):
        def check(raw):
            if raw.startswith(b"HTTP/1.1 503 "):
                # mod_cgid's daemon restarting (graceful): a response
                # lbguard examined, clean
                return zone, mode, None, None, 0
            assert raw.startswith(b"HTTP/1.1 200 "), "status"
            if lbgtest.field_values(raw, "Content-Length") == [b"21"]:
                # the script's output reached Apache whole (its pause
                # lost on a loaded host): Apache's own Content-Length
                # went out, a clean response (without the pause: 18 in 320)
                assert body_of(raw) == b"hello, extra bytes!!!", "not as sent"
                return zone, mode, None, None, 0
            if mode == "repair":
                assert body_of(raw) == b"hello", "not cut"
                return zone, mode, "body-longer-than-content-length", "repaired", 16
            assert body_of(raw) == b"hello, extra bytes!!!", "not as sent"
            return zone, mode, "body-longer-than-content-length", "detected", 0
        return check

    return kinds(a, [(b"/p/ctl", ctl), (b"/cgi-bin/longer", longer),
                     (b"/p/good", clean(b"ok", "good"))])


# one context per virtual host (the main server is off)
APACHE_KA = {("web", "raised"): 1, ("default", "ok"): 1}


def apache_bad_zone(t, so):
    d = apache_env.workdir("metrics-apache-bad", t.build)
    a = Apache(d, 1, so)
    with open(a.conf) as f:
        text = f.read().replace("LBGuardStatusZone web", 'LBGuardStatusZone "a b"')
    with open(a.conf, "w") as f:
        f.write(text)
    r = subprocess.run([apache_env.APACHE, "-t", "-f", a.conf], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    out = r.stdout.decode("latin-1")
    line = 1 + text.split("\n").index('  LBGuardStatusZone "a b"')
    t.check("apache2 -t: a bad LBGuardStatusZone fails naming it and file:line",
            r.returncode != 0 and "LBGuardStatusZone: 'a b' is not a zone name" in out
            and ("line %d of %s" % (line, a.conf)) in out, out)


def apache_part(t, a, L="apache", n_each=25):
    """Load on the started Apache a, then a graceful restart under load."""
    tally = Tally()
    kinds = apache_kinds(a)
    start0 = live_at_start(t, L, a)

    load(t, L, a, kinds, tally, n_each, APACHE_KA, "child")

    # graceful restart while clients run
    stop = threading.Event()
    ts = run_clients(kinds, tally, 0, threads=6, stop=stop)
    gen = a.generations()
    before = sum(tally.resp.values())
    lbgtest.wait_for(lambda: sum(tally.resp.values()) >= before + 30, timeout=60,
                     what="load before the graceful restart")
    os.kill(a.proc.pid, signal.SIGUSR1)
    lbgtest.wait_for(lambda: a.generations() > gen, timeout=60,
                     what=L + " second generation")
    after_restarts(t, L, a, tally, (ts, stop), APACHE_KA, start0, "graceful",
                   "a graceful restart under load", "responses after the graceful restart")
    print(L + " graceful: %d responses in all, %d connections failed"
          % (sum(tally.resp.values()), tally.failed))
    return tally


# ---- Prometheus ---------------------------------------------------------------

def prometheus_part(t, targets):
    d = lbgtest.workdir("metrics-prometheus", t.build)
    port = lbgtest.free_port()
    conf = os.path.join(d, "prometheus.yml")
    with open(conf, "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n")
        for job, (p, path) in sorted(targets.items()):
            f.write("  - job_name: %s\n    metrics_path: %s\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % (job, path, p))
    proc = lbgtest.Proc([PROMETHEUS, "--config.file=" + conf,
                         "--storage.tsdb.path=" + os.path.join(d, "data"),
                         "--web.listen-address=127.0.0.1:%d" % port],
                        name="prometheus", log=os.path.join(d, "prometheus.log"))
    try:
        lbgtest.wait_port(port, timeout=30, proc=proc)
        # the servers are idle now: their live output is the truth
        live = {job: counters_only(parse(scrape(p, path)[1]), drain=True)
                for job, (p, path) in targets.items()}

        def query():
            q = urllib.parse.quote('{__name__=~"lbguard_.*"}')
            url = "http://127.0.0.1:%d/api/v1/query?query=%s" % (port, q)
            with urllib.request.urlopen(url, timeout=5) as r:
                data = json.load(r)
            got = {job: {} for job in targets}
            for s in data["data"]["result"]:
                m = dict(s["metric"])
                name, job = m.pop("__name__"), m.pop("job")
                m.pop("instance", None)
                if name in ("lbguard_build_info", "lbguard_start_time_seconds"):
                    continue
                key = (name, tuple(sorted(m.items())))
                got[job][key] = int(float(s["value"][1]))
            return got

        def same():
            try:
                got = query()
            except OSError:
                return False
            return all(got[j] == {(k[0], tuple(sorted(k[1]))): v
                                  for k, v in live[j].items()} for j in targets)

        try:
            lbgtest.wait_for(same, timeout=60, what="Prometheus to scrape the final values")
            ok = True
        except RuntimeError:
            ok = False
        for job in sorted(targets):
            t.check("prometheus: its query API returns the %s counters exactly (%d series)"
                    % (job, len(live[job])), ok)
    finally:
        proc.stop()


def rules_part(t):
    r = subprocess.run([PROMTOOL, "check", "rules", RULES], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    t.check("promtool check rules docs/prometheus/lbguard-rules.yml",
            r.returncode == 0, r.stdout.decode())
    r = subprocess.run([PROMTOOL, "test", "rules", RULES_TEST], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, cwd=os.path.dirname(RULES_TEST))
    t.check("promtool test rules docs/prometheus/lbguard-rules.test.yml",
            r.returncode == 0, r.stdout.decode())


def start_nginx(build, L, so, **kw):
    """A started Nginx in build/itest/metrics-<L> (kw: binary, modules, env)."""
    n = Nginx(lbgtest.workdir("metrics-" + L.replace(" ", "-"), build), so, **kw)
    n.start()
    return n


def start_apache(build, L, so, env=None):
    """A started Apache in metrics-<L>, and its RawBackend."""
    d = apache_env.workdir("metrics-" + L.replace(" ", "-"), build)
    backend = lbgtest.RawBackend(APACHE_BACKEND)
    a = Apache(d, backend.port, so, env=env)
    try:
        a.start()
    except Exception:
        backend.stop()
        raise
    return a, backend


def read_logs(d, *names):
    """The text of the files `names` in directory d, one after the other."""
    return "".join(lbgtest.read_log(os.path.join(d, f)) for f in names)


# nginx 1.22's own UBSan report at startup (ngx_init_cycle passes a NULL
# conf_param to ngx_pstrdup when there is no -g): not ours
NGINX_OWN_UBSAN = "src/core/ngx_string.c:84:5: runtime error: null pointer passed"


class MetricsTest(lbgtest.TestCase):
    """nginx (Debian's, dynamic module) and Apache, started in setUpClass,
    then loaded, reloaded and scraped by the test methods in the order of
    their names; the ASan builds get servers of their own in their tests."""

    suite = "metrics"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.so = lbgtest.require(os.path.join(cls.build, "nginx-dynamic", "objs",
                                              "ngx_http_lbguard_filter_module.so"),
                                 "make nginx-dynamic")
        cls.apache_so = lbgtest.require(os.path.join(cls.build, "apache", "mod_lbguard.so"),
                                        "make apache")
        lbgtest.require(os.path.join(cls.build, "lbguard"), "make cli")
        lbgtest.require(PROMTOOL, "Debian package prometheus")
        lbgtest.require(PROMETHEUS, "Debian package prometheus")
        CLOSING.clear()
        LB_502.clear()
        RULE_NAMES[:] = rule_names(cls.build)
        cls.n = start_nginx(cls.build, "nginx", cls.so)
        cls.addClassCleanup(cls.n.stop)
        cls.a, backend = start_apache(cls.build, "apache", cls.apache_so)
        cls.addClassCleanup(backend.stop)
        cls.addClassCleanup(cls.a.stop)
        cls.targets = {"nginx": (cls.n.status, "/metrics"),
                       "apache": (cls.a.status, "/lbguard-status")}

    def test_1_rules(self):
        rules_part(self)

    def test_2_bad_zone(self):
        nginx_bad_zone(self, self.so)
        apache_bad_zone(self, self.apache_so)

    def test_3_nginx(self):
        nginx_part(self, self.n)

    def test_4_apache(self):
        apache_part(self, self.a)

    def test_5_status_handlers(self):
        # the same series, in the same order, from both servers
        series = []
        for text in (self.n.metrics()[1], self.a.metrics()[1]):
            series.append([ln.rsplit(" ", 1)[0] for ln in text.split("\n")
                           if ln and not ln.startswith("lbguard_build_info")])
        self.eq("nginx and Apache print the same series in the same order",
                series[0], series[1])
        for job, (port, path) in sorted(self.targets.items()):
            raw = lbgtest.raw_exchange(port, b"POST %s HTTP/1.1\r\nHost: t\r\n"
                                       b"Content-Length: 0\r\nConnection: close\r\n\r\n"
                                       % path.encode())
            self.check("%s: POST to the status handler is 405" % job,
                       raw.startswith(b"HTTP/1.1 405 "), raw[:100])
            raw = lbgtest.raw_exchange(port, b"HEAD %s HTTP/1.1\r\nHost: t\r\n"
                                       b"Connection: close\r\n\r\n" % path.encode())
            self.check("%s: HEAD of the status handler: 200, the type, no body" % job,
                       raw.startswith(b"HTTP/1.1 200 ") and raw.endswith(b"\r\n\r\n")
                       and (b"\r\nContent-Type: " + CT + b"\r\n") in raw, raw[:300])

    def test_6_prometheus(self):
        prometheus_part(self, self.targets)

    def test_7_nginx_new_zone(self):
        nginx_new_zone(self, self.n)

    def test_8_nginx_restart(self):
        nginx_restart(self, self.n)

    def test_9_nginx_asan(self):
        """The same exact counts and reloads with the ASan + UBSan build of
        nginx: no report allowed."""
        asan = lbgtest.require(os.path.join(self.build, "nginx-static-asan", "objs", "nginx"),
                               "make nginx-static-asan")
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1")
        L = "nginx static-asan"
        n = start_nginx(self.build, L, None, binary=asan, modules=(NGX_PERL,), env=env)
        try:
            nginx_part(self, n, L=L, n_each=10)
        finally:
            n.stop()
        text = read_logs(n.d, "error.log", "stdout.log")
        reports = [ln for ln in text.splitlines()
                   if ("Sanitizer" in ln or "runtime error" in ln) and NGINX_OWN_UBSAN not in ln]
        self.eq("nginx static-asan: no sanitizer report (but nginx's own at startup)",
                reports, [])

    def test_9_apache_asan(self):
        """The same with the ASan + UBSan build of the Apache module."""
        so = os.path.join(self.build, "apache", "mod_lbguard-asan.so")
        env = apache_env.sanitizer_env(so)
        if env is None:
            self.skipTest("%s missing or without sanitizer runtimes (make apache)" % so)
        L = "apache asan"
        a, backend = start_apache(self.build, L, so, env=env)
        try:
            apache_part(self, a, L=L, n_each=8)
        finally:
            a.stop()
            backend.stop()
        text = read_logs(os.path.join(a.d, "logs"), "error.log", "stdout.log")
        self.check("apache asan: no sanitizer report",
                   "Sanitizer" not in text and "runtime error" not in text, text[-2000:])


if __name__ == "__main__":
    lbgtest.main()
