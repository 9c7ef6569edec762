#!/usr/bin/env python3
"""Integration tests of lbguard's nginx module, against both builds:

  * dynamic: Debian's /usr/sbin/nginx + load_module BUILD/nginx-dynamic/...so
  * static:  BUILD/nginx-static/objs/nginx (lbguard built in)
  * static-asan: BUILD/nginx-static-asan/objs/nginx, when it was built
    (ngx_module/build.sh static-asan): the same cases under ASan + UBSan

Each build runs one nginx with three servers -- lbguard off, detect and
repair -- sharing the same locations. Defects come from (a) a raw-socket
backend behind proxy_pass (what nginx's proxy passes through) and (b)
Debian's perl module ($r->header_out, $r->status). Every case checks the
exact bytes read from a raw socket (Date normalised), the exact lbguard
error-log lines and the $lbguard_findings access-log field; conformant
responses must be byte-identical with lbguard off and repair.

Also: keep-alive (nginx -t warnings with file:line; idle connection held
at least LB idle + margin in repair, closed after keepalive_timeout in
detect), bad directive values, and a scan of every error log for [alert],
[crit] and "Sanitizer".

A build that was not built is a skip (dynamic and static: `make
nginx-dynamic nginx-static`; static-asan and static-mainline when built).
The idle-close windows are wide (a loaded two-core host); the measured
seconds are printed.

Usage (from the repository root):
    python3 -m tests.integration.test_nginx [--build BUILD] [-k NAME]
    LBG_EXPLORE=1 python3 -m tests.integration.test_nginx  (prints, checks nothing)
"""
import os
import re
import socket
import subprocess
import threading
import time

from tests import lbgtest
from tests.lbgtest import configs
from tests.lbgtest.nginx_env import (MODES, MTIME, Instance, builds, env_for,
                                     lbguard_lines, normalise, request, write)
from tests.lbgtest.nginx_cases import BACKEND, CASES, CONFORMANT, LOCATIONS

EXPLORE = os.environ.get("LBG_EXPLORE") == "1"

# keep-alive settings of every instance (http{} level)
HTTP_EXTRA = """
keepalive_timeout 1s;
lbguard_lb_idle_timeout 3s;
lbguard_keepalive_margin 1s;
"""


def prepare_docroot(d):
    html = os.path.join(d, "html")
    write(os.path.join(html, "index.html"), "hello, lbguard\n" * 8, MTIME)
    write(os.path.join(html, "sub.txt"), "SUB", MTIME)
    write(os.path.join(html, "ssi.shtml"),
          'a<!--# include virtual="/sub.txt" -->b\n', MTIME)
    write(os.path.join(html, "ssi-bad.shtml"),
          'a<!--# include virtual="/perl/crlf" -->b\n', MTIME)
    write(os.path.join(html, "gz", "t.txt"), "lbguard " * 64, MTIME)


def exchange(port, data):
    return normalise(lbgtest.raw_exchange(port, data, timeout=5.0,
                                          mark_timeout=True))


def run_cases(t, inst, build):
    """The defect cases: exact bytes per mode, log lines, access log."""
    for case in CASES:
        name = case["name"]
        got = {}
        logs = {}
        for m in MODES:
            before = len(inst.log(m))
            got[m] = exchange(inst.ports[m], case["request"])
            logs[m] = lbguard_lines(inst.log(m)[before:])
        if EXPLORE:
            print("CASE", build, name)
            for m in MODES:
                print("  %-6s %r" % (m, got[m]))
                print("         %r" % logs[m])
            continue
        label = "%s %s" % (build, name)
        t.eq(label + ": off, bytes", got["off"], case["off"])
        t.eq(label + ": detect, bytes unchanged", got["detect"], got["off"])
        t.eq(label + ": repair, bytes", got["repair"], case["repair"])
        t.eq(label + ": off, no log line", logs["off"], [])
        t.eq(label + ": detect, log", logs["detect"],
             ["[warn] lbguard: " + l for l in case["detect_log"]])
        t.eq(label + ": repair, log", logs["repair"],
             ["[warn] lbguard: " + l for l in case["repair_log"]])


def run_conformant(t, inst, build):
    """Conformant responses: byte-identical off / detect / repair, no log."""
    for name, data in CONFORMANT:
        got = {}
        logs = {}
        for m in MODES:
            before = len(inst.log(m))
            got[m] = exchange(inst.ports[m], data)
            logs[m] = lbguard_lines(inst.log(m)[before:])
        if EXPLORE:
            print("OK-CASE", build, name, repr(got["off"][:400]))
            continue
        label = "%s conformant %s" % (build, name)
        status = CONFORMANT_ACCESS[name][0].split(" ")[1]
        t.check(label + ": status " + status,
                got["off"].startswith(b"HTTP/1.1 %s " % status.encode()),
                repr(got["off"][:200]))
        t.eq(label + ": repair == off", got["repair"], got["off"])
        t.eq(label + ": detect == off", got["detect"], got["off"])
        t.eq(label + ": no log line", logs["detect"] + logs["repair"], [])


def check_access_logs(t, inst, build, ran):
    """$lbguard_findings in a custom log_format: one line per request, of
    the parts that ran ("cases", "conformant", "keepalive": a selection
    with -k runs fewer), in that order."""
    for m in MODES:
        got = inst.access(m).splitlines()
        exp = []
        for case in CASES if "cases" in ran else ():
            exp += case["access"][m]
        for name, data in CONFORMANT if "conformant" in ran else ():
            exp += ["%s -" % l for l in CONFORMANT_ACCESS[name]]
        if m != "off" and "keepalive" in ran:
            exp.append("/index.html 200 -")          # keep-alive measurement
        if EXPLORE:
            print("ACCESS", build, m, got)
            continue
        t.eq("%s access log $lbguard_findings (%s)" % (build, m), got, exp)


# "$request_uri $status" per conformant case (pipelined: two requests)
CONFORMANT_ACCESS = {
    "GET": ["/index.html 200"],
    "HEAD": ["/index.html 200"],
    "304 If-None-Match": ["/index.html 304"],
    "304 If-Modified-Since": ["/index.html 304"],
    "gzip": ["/gz/t.txt 200"],
    "range": ["/index.html 206"],
    "keep-alive pipelined": ["/index.html 200", "/index.html 200"],
    "SSI subrequest": ["/ssi.shtml 200"],
    "SSI subrequest with a bad header": ["/ssi-bad.shtml 200"],
    "perl": ["/perl/fine 200"],
    "perl 70 fields": ["/perl/many 200"],
    "profile haproxy: CTL in a value": ["/hp/ctl 200"],
    "proxy": ["/p/ok 200"],
    "proxy 101 upgrade": ["/ws/chat 101"],
    "404": ["/nope 404"],
}


def idle_close_after(port):
    """Sends one keep-alive request, reads the response, and returns how
    many seconds the server keeps the idle connection before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
        s.sendall(request("/index.html", close=False))
        buf = b""
        while b"hello, lbguard\n" * 8 not in buf:
            d = s.recv(65536)
            if not d:
                return -1.0
            buf += d
        t = time.monotonic()
        while True:
            d = s.recv(65536)
            if not d:
                return time.monotonic() - t


def keepalive_measure(insts):
    """Idle time before close, measured in parallel threads:
    {(build, mode): seconds}."""
    out = {}

    def run(build, m, port):
        try:
            out[(build, m)] = idle_close_after(port)
        except OSError as e:
            out[(build, m)] = repr(e)

    ts = [threading.Thread(target=run, args=(b, m, inst.ports[m]))
          for b, inst in insts for m in ("detect", "repair")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def check_nginx_t(t, inst, build, out):
    """`nginx -t`: the keep-alive lines, with the file:line of the block,
    for each server with lbguard on: the server itself (keepalive_timeout
    1s < 3s + 1s), /alb.html (LB preset aws-alb: 60 s + 1 s) and /noka.html
    (keepalive_timeout 0: a notice); the other locations inherit silently."""
    conf = lbgtest.read_log(inst.conf).split("\n")

    def line_of(text, after):
        return next(i + 1 for i in range(after, len(conf)) if text in conf[i])

    exp = []
    for m, outcome in (("detect", "not repaired (detect mode)"),
                       ("repair", "raised to %ds")):
        srv = inst.server_lines[m]
        for where, lb, at in (('server "%s"' % m, 3, srv),
                              ('server "%s" location "/alb.html"' % m, 60,
                               line_of("location = /alb.html", srv))):
            exp.append('[warn] lbguard: keepalive-timeout: keepalive_timeout '
                       '1s in %s (%s:%d) is shorter than the load balancer '
                       'idle timeout %ds + margin 1s, %s'
                       % (where, inst.conf, at, lb,
                          outcome.replace("%d", str(lb + 1))))
        exp.append('[notice] lbguard: keepalive-timeout: keepalive_timeout '
                   'is 0 in server "%s" location "/noka.html" (%s:%d): '
                   'keep-alive is off, the load balancer opens a new '
                   'connection per request'
                   % (m, inst.conf, line_of("location = /noka.html", srv)))
    t.eq("%s nginx -t keep-alive lines" % build, lbguard_lines(out), exp)


BAD_DIRECTIVES = [
    ("lbguard maybe;", 'invalid value "maybe" in "lbguard" directive, '
     'it must be "off", "detect" or "repair"'),
    ("lbguard detect; lbguard repair;", '"lbguard" directive is duplicate'),
    ("lbguard_profile haproxy2;", 'invalid value "haproxy2" in '
     '"lbguard_profile" directive, it must be "strictest", "haproxy", '
     '"nginx", "nginx-1.22", "envoy", "llhttp" or "aws-alb"'),
    ("lbguard_lb_idle_timeout azure;", 'invalid value "azure" in '
     '"lbguard_lb_idle_timeout" directive, it must be a time of at least 1ms '
     'or "aws-alb", "aws-clb", "gcp" or "oci"'),
    ("lbguard_lb_idle_timeout 0s;", 'invalid value "0s" in '
     '"lbguard_lb_idle_timeout" directive, it must be a time of at least 1ms '
     'or "aws-alb", "aws-clb", "gcp" or "oci"'),
    ("lbguard_keepalive_margin 5parsecs;", 'invalid value "5parsecs" in '
     '"lbguard_keepalive_margin" directive, it must be a time'),
    ("lbguard_header_budget 0;", 'invalid value "0" in '
     '"lbguard_header_budget" directive, it must be a size'),
    ("lbguard_header_budget 8k many;", 'invalid value "many" in '
     '"lbguard_header_budget" directive, it must be a number of fields'),
    ("lbguard on off;", 'invalid number of arguments in "lbguard" directive'),
]


def check_bad_directives(t, build, binary, modules, d):
    for i, (directive, msg) in enumerate(BAD_DIRECTIVES):
        conf = os.path.join(d, "bad%d.conf" % i)
        text, line = configs.nginx_directive_conf(
            d, [m for m in modules if "lbguard" in m], lbgtest.free_port(), directive)
        write(conf, text)
        r = subprocess.run([binary, "-t", "-e", "stderr", "-p", d,
                            "-c", conf], env=env_for(binary),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = r.stdout.decode("utf-8", "replace")
        exp = re.compile(r"\[emerg\] \d+#\d+: %s\n"
                         % re.escape("%s in %s:%d" % (msg, conf, line)))
        t.check("%s nginx -t rejects `%s`" % (build, directive),
                r.returncode != 0 and exp.search(out),
                "\n  rc=%d output: %r\n  expected: %r" % (r.returncode, out,
                                                         exp.pattern))


def check_filter_order(t, build, objs_dir):
    """The module sits right before chunked in the module array, so that
    its header filter runs after chunked (and gzip, range, add_header):
    static -- objs/ngx_modules.c; dynamic -- the order the .so asks for.
    The live proof is the "gzip + add_header Content-Length" case: lbguard
    sees the Transfer-Encoding: chunked that gzip + chunked produce."""
    if build == "dynamic":
        text = lbgtest.read_log(os.path.join(
            objs_dir, "ngx_http_lbguard_filter_module_modules.c"))
        t.check("dynamic ngx_module_order: lbguard, chunked",
                re.search(r'ngx_module_order\[\] = \{\s*'
                          r'"ngx_http_lbguard_filter_module",\s*'
                          r'"ngx_http_chunked_filter_module",\s*NULL', text),
                text[-300:])
    if build.startswith("static"):
        path = os.path.join(objs_dir, "ngx_modules.c")
        text = lbgtest.read_log(path)
        names = re.findall(r'^    "(ngx_\w+)",$', text, re.M)
        t.check("%s ngx_modules.c: header, lbguard, chunked" % build,
                "ngx_http_lbguard_filter_module" in names
                and names[names.index("ngx_http_lbguard_filter_module") - 1:
                          names.index("ngx_http_lbguard_filter_module") + 2]
                == ["ngx_http_header_filter_module",
                    "ngx_http_lbguard_filter_module",
                    "ngx_http_chunked_filter_module"], repr(names[:30]))


def check_http2(t, build, binary, modules, d):
    """HTTP/2 is out of scope: lbguard (repair) leaves an HTTP/2 response
    alone and logs nothing. /bad puts a \\x01 into a value: it reaches the
    client unrepaired, and curl's HTTP/2 parser (nghttp2) resets the stream
    (exit code 92); /ok is a fine response. Debian's nginx only (the static
    build has no HTTP/2); curl speaks h2c with prior knowledge."""
    port = lbgtest.free_port()
    conf = os.path.join(d, "h2.conf")
    perl = ("location /%s { perl 'sub { my $r = shift; "
            "$r->header_out(\"X-V\", \"%s\"); "
            "$r->send_http_header(\"text/plain\"); $r->print(\"abc\"); "
            "return OK; }'; }")
    write(conf, configs.nginx_h2_conf(d, modules, port, [perl % ("ok", "fine"),
                                                         perl % ("bad", "a\" . chr(1) . \"b")]))
    p = lbgtest.Proc([binary, "-e", "stderr", "-p", d, "-c", conf], env=env_for(binary),
                     name="nginx-h2", log=os.path.join(d, "h2-stdout.log"))
    got = {}
    try:
        lbgtest.wait_port(port, proc=p)
        for path in ("ok", "bad"):
            r = subprocess.run(
                ["curl", "-s", "--http2-prior-knowledge", "-D", "-", "-o",
                 os.devnull, "http://127.0.0.1:%d/%s" % (port, path)],
                stdout=subprocess.PIPE, timeout=10)
            got[path] = (r.returncode, r.stdout.replace(b"\r\n", b"\n"))
    finally:
        p.stop()
    ok_rc, ok_head = got["ok"]
    t.check("%s HTTP/2: a fine response goes through" % build,
            ok_rc == 0 and ok_head.startswith(b"HTTP/2 200 \n")
            and b"\nx-v: fine\n" in ok_head, repr(got["ok"]))
    t.eq("%s HTTP/2: \\x01 in a value reaches the client unrepaired "
         "(curl: stream reset)" % build, got["bad"], (92, b""))
    t.eq("%s HTTP/2: no lbguard log line" % build,
         lbguard_lines(lbgtest.read_log(os.path.join(d, "h2.log"))), [])


class NginxTest(lbgtest.TestCase):
    """One nginx per build (off, detect and repair servers), started in
    setUpClass; the test methods run in the order of their names."""

    suite = "nginx"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.t0 = time.monotonic()
        top = cls.workdir("nginx")
        cls.backend = lbgtest.RawBackend(BACKEND)
        cls.addClassCleanup(cls.backend.stop)
        cls.missing = []      # [(build, artifact)]: skipped
        cls.configs = []      # [(build, binary, modules, artifact, dir, inst, rc, out)]
        cls.insts = []        # [(build, inst)]: nginx -t passed, started
        cls.ran = {}          # build: the request parts that ran (access logs)
        for name, binary, modules, artifact in builds(cls.build):
            if not os.path.exists(artifact):
                cls.missing.append((name, artifact))
                continue
            d = os.path.join(top, name)
            os.makedirs(d)
            prepare_docroot(d)
            inst = Instance(name, binary, modules, d, LOCATIONS, HTTP_EXTRA,
                            cls.backend.port)
            rc, out = inst.test_config()
            cls.configs.append((name, binary, modules, artifact, d, inst, rc, out))
            if rc != 0:
                continue
            inst.start()
            cls.addClassCleanup(inst.stop)
            cls.insts.append((name, inst))
            cls.ran[name] = set()

    @classmethod
    def tearDownClass(cls):
        print("nginx suite: %.1f s" % (time.monotonic() - cls.t0))
        super().tearDownClass()

    def configured(self):
        """(build, binary, modules, artifact, dir, inst, out) of each build
        whose nginx -t passed."""
        return [(n, b, m, a, d, i, o) for n, b, m, a, d, i, rc, o in self.configs
                if rc == 0]

    def test_1_nginx_t(self):
        # a build that is not there is a skip (of that build's part)
        for name, artifact in self.missing:
            self.skip_part("%s build" % name, "%s build missing: %s (make nginx-%s)"
                           % (name, artifact, name))
        for name, binary, modules, artifact, d, inst, rc, out in self.configs:
            if self.check("%s nginx -t succeeds" % name, rc == 0, out) and not EXPLORE:
                check_nginx_t(self, inst, name, out)

    def test_2_filter_order(self):
        for name, binary, modules, artifact, d, inst, out in self.configured():
            check_filter_order(self, name, os.path.dirname(artifact))

    def test_3_bad_directives(self):
        for name, binary, modules, artifact, d, inst, out in self.configured():
            check_bad_directives(self, name, binary, modules, d)

    def test_4_http2(self):
        for name, binary, modules, artifact, d, inst, out in self.configured():
            if name == "dynamic":
                check_http2(self, name, binary, modules, d)

    def test_5_cases(self):
        for name, inst in self.insts:
            self.ran[name].add("cases")
            run_cases(self, inst, name)

    def test_6_conformant(self):
        for name, inst in self.insts:
            self.ran[name].add("conformant")
            run_conformant(self, inst, name)

    def test_7_keepalive(self):
        for name, inst in self.insts:
            self.ran[name].add("keepalive")
        ka = keepalive_measure(self.insts)
        for name, inst in self.insts:
            r_s, d_s = ka.get((name, "repair")), ka.get((name, "detect"))
            if not self.check("%s keep-alive: both idle connections measured" % name,
                              isinstance(r_s, float) and isinstance(d_s, float),
                              (r_s, d_s)):
                continue
            print("keep-alive %s: repair held the idle connection %.3f s, "
                  "detect %.3f s" % (name, r_s, d_s))
            # the lower bounds are the point; the upper ones are wide (a loaded
            # two-core host), the detect one below the 4 s a raise would give
            self.check("%s keep-alive repair: idle connection held >= 4 s (3 s LB "
                       "idle + 1 s margin)" % name, 3.95 <= r_s < 10, r_s)
            self.check("%s keep-alive detect: closed after keepalive_timeout 1 s"
                       % name, 0.9 <= d_s < 3.5, d_s)

    def test_8_logs(self):
        """Last: stops each nginx, then its access logs and every error log
        (the bad-directive and HTTP/2 ones too)."""
        for name, inst in self.insts:
            inst.stop()
            check_access_logs(self, inst, name, self.ran[name])
            text = inst.all_logs()
            for bad in ("[alert]", "[crit]", "Sanitizer", "[emerg]"):
                self.check("%s error logs have no %s" % (name, bad), bad not in text,
                           "\n".join(l for l in text.splitlines() if bad in l)[:2000])


if __name__ == "__main__":
    lbgtest.main()
