#!/usr/bin/env python3
"""test_probe -- `lbguard probe` against real servers on 127.0.0.1.

  python3 -m tests.cli.test_probe [--build BUILD] [-k NAME]

Servers and their idle keep-alive timeouts:
  Debian nginx        keepalive_timeout 2s
  Apache (event MPM)  KeepAliveTimeout 1
  Python http.server  protocol_version HTTP/1.1, handler timeout 1.5 s
  Node http server    default keepAliveTimeout (5 s)
  raw scripted server 1 s then RST (SO_LINGER 0); 1 s then FIN with a
                      malformed response; never closes within the wait;
                      interim responses (103, 100) before the final one,
                      or a 103 and nothing after it; a 100 with a
                      Content-Length, with and without its bytes; a body
                      longer than its Content-Length, in two parts
  Python http.server  HTTP/1.0 (Connection: close); and HTTPS (1 s)
Each probe runs with --json --lb-idle-timeout 3s --margin 1s (the server
must keep idle connections 4 s): the measured idle close must be within
0.3 s of the configured value, closed by FIN (or RST where scripted), the
verdict "raise" below 4 s and "ok" above, and the exit status 1 / 0 to
match. The probes run in parallel, all in setUpClass (the suite takes
about 10 s); the tests check their results.
"""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess

from tests import lbgtest
from tests.lbgtest import lbgcli
from tests.lbgtest import servers as S

TOL_MS = 300
LB = ["--lb-idle-timeout", "3s", "--margin", "1s"]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"
EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
CONTINUE_CL5 = b"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n"
BAD_FINAL = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\nX-Bad\x01: v\r\n\r\nhi"


def probe(lbg, url, *args, binary=None, asan=False):
    """Runs `lbguard probe --json ARGS URL` (lbg, or `binary`); returns
    (exit, object, stderr)."""
    rc, out, err = lbgcli.run(binary or lbg, ["probe", "--json"] + list(args) + [url],
                              timeout=60, asan=asan)
    try:
        obj = json.loads(out)
    except ValueError:
        obj = None
    return rc, obj, err


class Probes:
    """The servers of the suite, started, and the probe jobs against them."""

    def __init__(self):
        self.servers = []   # Procs and ScriptedServers, stopped by stop()
        self.jobs = {}      # name -> (url, args, expected idle s or None, closed_by,
        #                             verdict, exit, binary, asan)
        self.skipped = []   # (part, reason): a tool is absent
        self.https_url = None
        self.cert_ok = None  # openssl made the certificate (None: no openssl)
        self.forever = None
        self.lone = None

    def add(self, name, url, args, idle_s, closed_by, verdict, exit_status, binary=None,
            asan=False):
        self.jobs[name] = (url, list(args), idle_s, closed_by, verdict, exit_status, binary,
                           asan)

    def stop(self):
        for s in self.servers:
            s.stop()

    def start(self, WORK, LBG_ASAN):
        """Starts every server under WORK and adds its jobs."""
        servers, add = self.servers, self.add

        # nginx: keepalive_timeout 2s
        if S.have(S.NGINX):
            port = lbgtest.free_port()
            servers.append(S.start_nginx(os.path.join(WORK, "nginx"), port, """
            keepalive_timeout 2s;
            server {
                listen 127.0.0.1:%d;
                location / { return 200 "ok\\n"; }
            }""" % port))
            add("nginx keepalive_timeout 2s", "http://127.0.0.1:%d/" % port, LB, 2.0, "fin", "raise", 1)
            add("nginx, --lb-idle-timeout 1s --margin 0", "http://127.0.0.1:%d/" % port,
                ["--lb-idle-timeout", "1s", "--margin", "0"], 2.0, "fin", "ok", 0)
            add("nginx, --method HEAD", "http://127.0.0.1:%d/" % port, LB + ["--method", "HEAD"],
                2.0, "fin", "raise", 1)
        else:
            self.skipped.append(("nginx installed", "%s missing" % S.NGINX))

        # Apache: KeepAliveTimeout 1
        if S.have(S.APACHE):
            port = lbgtest.free_port()
            servers.append(S.start_apache(os.path.join(WORK, "apache"), port, 1))
            add("Apache KeepAliveTimeout 1", "http://127.0.0.1:%d/index.html" % port, LB,
                1.0, "fin", "raise", 1)
        else:
            self.skipped.append(("apache2 installed", "%s missing" % S.APACHE))

        # Python http.server, HTTP/1.1, 1.5 s
        port = lbgtest.free_port()
        servers.append(S.start_python(os.path.join(WORK, "python"), port, 1.5))
        add("Python http.server HTTP/1.1 timeout 1.5", "http://127.0.0.1:%d/" % port, LB,
            1.5, "fin", "raise", 1)
        if LBG_ASAN:
            add("Python http.server (asan)", "http://127.0.0.1:%d/" % port, LB,
                1.5, "fin", "raise", 1, binary=LBG_ASAN, asan=True)

        # Python http.server, HTTP/1.0: Connection: close
        port = lbgtest.free_port()
        servers.append(S.start_python(os.path.join(WORK, "python10"), port, 30, proto="HTTP/1.0"))
        add("Python http.server HTTP/1.0 (Connection: close)", "http://127.0.0.1:%d/" % port, LB,
            0.0, "fin", "disabled", 0)
        add("HTTP/1.0, --fail-on acceptable", "http://127.0.0.1:%d/" % port,
            LB + ["--fail-on", "acceptable"], 0.0, "fin", "disabled", 1)

        # Node: default keepAliveTimeout 5 s
        if os.path.exists(S.NODE):
            port = lbgtest.free_port()
            servers.append(S.start_node(os.path.join(WORK, "node"), port))
            # Node advertises "Keep-Alive: timeout=5" but arms the socket timer at
            # keepAliveTimeout + HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER (1000 ms, in
            # lib/_http_server.js of the Node 20 line; absent from older releases):
            # the idle close really comes after 6 s there.
            with open(os.path.realpath(S.NODE), "rb") as f:
                node_buffer = b"HTTP_SERVER_KEEP_ALIVE_TIMEOUT_BUFFER = 1000" in f.read()
            node_idle = 6.0 if node_buffer else 5.0
            add("Node default keepAliveTimeout (%.0f s)" % node_idle, "http://127.0.0.1:%d/" % port,
                LB + ["--max-wait", "9s"], node_idle, "fin", "ok", 0)
            add("Node, default margin (needs 8 s)", "http://127.0.0.1:%d/" % port,
                ["--lb-idle-timeout", "3s"], node_idle, "fin", "raise", 1)
        else:
            self.skipped.append(("node", "%s not installed (Debian package nodejs)" % S.NODE))

        # scripted: RST after 1 s; FIN after 1 s with an obs-fold; never closes
        rst = S.ScriptedServer(OK, 1.0, rst=True)
        add("scripted RST after 1 s", "http://127.0.0.1:%d/" % rst.port, LB, 1.0, "rst", "raise", 1)
        fold = S.ScriptedServer(b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 3\r\n\r\nok\n", 1.0)
        add("scripted obs-fold response, FIN after 1 s", "http://127.0.0.1:%d/" % fold.port,
            ["--lb-idle-timeout", "500ms", "--margin", "0", "--max-wait", "3s"], 1.0, "fin", "ok", 1)
        short = S.ScriptedServer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok\n", 0.01)
        add("scripted body shorter than Content-Length", "http://127.0.0.1:%d/" % short.port, LB,
            None, "error", "unknown", 1)
        until_close = S.ScriptedServer(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n", 0.01)
        add("scripted body delimited by the close", "http://127.0.0.1:%d/" % until_close.port, LB,
            0.0, "fin", "disabled", 0)
        forever = self.forever = S.ScriptedServer(OK, 30.0)
        servers += [rst, fold, short, until_close, forever]

        # scripted interim responses (RFC 9110 15.2), each sent 100 ms before
        # the next: probe reads past them to the final response and checks
        # them all; the keep-alive is the final response's
        early = S.ScriptedServer([EARLY_HINTS, BAD_FINAL], 0.01)
        add("scripted 103 then a bad 200 (close-delimited)", "http://127.0.0.1:%d/" % early.port, LB,
            0.0, "fin", "disabled", 1)
        two = S.ScriptedServer([b"HTTP/1.1 100 Continue\r\n\r\n", EARLY_HINTS, OK], 1.0)
        add("scripted 100, 103, then 200, FIN after 1 s", "http://127.0.0.1:%d/" % two.port, LB,
            1.0, "fin", "raise", 1)
        lone = self.lone = S.ScriptedServer(EARLY_HINTS, 0.01)
        # a 100 with a Content-Length (RFC 9110 15.2: a 1xx has no body):
        # with the 5 bytes it announced (the core takes them as its body,
        # body-on-bodiless, and the 200 after them), and without them (the
        # 200 right after its header section). The 5 bytes used to be read
        # as the start of the next response: "helloHTTP/1.1 200 ..." framed
        # by the close, so the idle time measured was 0 s, not 1 s.
        cl100 = S.ScriptedServer([CONTINUE_CL5 + b"hello", OK], 1.0)
        add("scripted 100 with Content-Length 5 and 5 bytes, 200, FIN after 1 s",
            "http://127.0.0.1:%d/" % cl100.port, LB, 1.0, "fin", "raise", 1)
        cl100_split = S.ScriptedServer([CONTINUE_CL5 + b"hel", b"lo" + OK], 1.0)
        add("scripted 100 with Content-Length 5, its bytes split, 200, FIN after 1 s",
            "http://127.0.0.1:%d/" % cl100_split.port, LB, 1.0, "fin", "raise", 1)
        cl100_none = S.ScriptedServer([CONTINUE_CL5, OK], 1.0)
        add("scripted 100 with Content-Length 5 and no bytes, 200, FIN after 1 s",
            "http://127.0.0.1:%d/" % cl100_none.port, LB, 1.0, "fin", "raise", 1)
        servers += [early, two, lone, cl100, cl100_split, cl100_none]
        # a body longer than its Content-Length, the excess in two parts: the
        # probe reads to the declared end (2 bytes past it came in the same
        # read), the 9 after them come while idle
        longer = S.ScriptedServer([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEX",
                                   b"TRA-BYTES"], 1.0)
        add("scripted body longer than Content-Length, in two parts, FIN after 1 s",
            "http://127.0.0.1:%d/" % longer.port, LB, 1.1, "fin", "raise", 1)
        servers.append(longer)
        add("scripted server that outlasts the wait", "http://127.0.0.1:%d/" % forever.port,
            ["--lb-idle-timeout", "1s", "--margin", "0"], 3.0, "open", "ok", 0)

        # HTTPS (Python http.server + a self-signed certificate for 127.0.0.1)
        if shutil.which("openssl"):
            d = os.path.join(WORK, "tls")
            os.makedirs(d, exist_ok=True)
            cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
            r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                                "-keyout", key, "-out", cert], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            self.cert_ok = r.returncode == 0
            if self.cert_ok:
                port = lbgtest.free_port()
                servers.append(S.start_python(d, port, 1.0, cert=cert, key=key))
                https_url = self.https_url = "https://127.0.0.1:%d/" % port
                add("HTTPS, --cacert", https_url, LB + ["--cacert", cert], 1.0, "fin", "raise", 1)
                add("HTTPS, --insecure", https_url, LB + ["--insecure"], 1.0, "fin", "raise", 1)
        else:
            self.skipped.append(("https", "no openssl command to make a certificate"))


def run_all(lbg, p):
    """Runs every job of Probes p in parallel, plus an untrusted HTTPS probe
    and one to a port nothing listens on; {name: (exit, object, stderr)}."""
    def run_job(name):
        url, args, _, _, _, _, binary, asan = p.jobs[name]
        return name, probe(lbg, url, *args, binary=binary, asan=asan)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(p.jobs) + 2) as ex:
        futs = [ex.submit(run_job, n) for n in p.jobs]
        if p.https_url:
            # without --cacert the self-signed certificate is refused
            futs.append(ex.submit(lambda: ("HTTPS, untrusted", probe(lbg, p.https_url, *LB))))
        refused = lbgtest.free_port()
        futs.append(ex.submit(lambda: ("refused", probe(lbg, "http://127.0.0.1:%d/" % refused))))
        return dict(f.result() for f in futs)


class Probe(lbgtest.TestCase):
    suite = "probe"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.LBG, LBG_ASAN = lbgcli.binaries(cls.build)
        lbgtest.require(cls.LBG, "make cli")
        cls.p = Probes()
        cls.addClassCleanup(cls.p.stop)
        cls.p.start(cls.workdir("cli-probe"), LBG_ASAN)
        cls.results = run_all(cls.LBG, cls.p)

    def test_tools(self):
        if self.p.cert_ok is not None:
            self.check("self-signed certificate created", self.p.cert_ok)
        for part, reason in self.p.skipped:
            self.skip_part(part, reason)

    def test_keepalive(self):
        jobs, results = self.p.jobs, self.results
        for name in jobs:
            url, args, idle_s, closed_by, verdict, exit_status, _, asan = jobs[name]
            rc, obj, err = results[name]
            if asan:
                self.check(name + ": no sanitizer report", lbgcli.sanitizer_report(err) is None,
                           lbgcli.sanitizer_report(err))
            if not self.check(name + ": JSON result", obj is not None, (rc, err[-300:])):
                continue
            ka = obj["keepalive"]
            self.eq(name + ": status", obj["status"], 200)
            self.eq(name + ": closed by", ka["closed_by"], closed_by)
            got = ka["idle_ms"]
            if idle_s is None:
                self.eq(name + ": keep-alive not measured", got, None)
            else:
                self.check(name + ": idle close after %.1f s +- 0.3 s (measured %s ms)" % (idle_s, got),
                           got is not None and abs(got - idle_s * 1000) <= TOL_MS, ka)
            self.eq(name + ": verdict", ka["verdict"], verdict)
            self.eq(name + ": exit status", (rc, obj["exit"]), (exit_status, exit_status))
            print("  %-48s %s" % (name, ka["message"]))

    def test_messages(self):
        results, https_url = self.results, self.p.https_url
        # what the verdict says, in words (nginx: 2 s < 3 s + 1 s)
        n = "nginx keepalive_timeout 2s"
        if n in results and results[n][1]:
            self.check("nginx: verdict in words", re.match(
                   r"server closed the idle connection after (1\.[789]\d|2\.[0-3]\d) s \(FIN\); the load "
                   r"balancer keeps it 3 s: expect intermittent 502s; set the server keep-alive above 4 s$",
                   results[n][1]["keepalive"]["message"]), results[n][1]["keepalive"]["message"])
        n = "scripted obs-fold response, FIN after 1 s"
        if results.get(n, (0, None))[1]:
            self.eq("obs-fold response: the finding", [f["rule"] for f in results[n][1]["findings"]],
                    ["obs-fold"])
        n = "scripted body shorter than Content-Length"
        if results.get(n, (0, None))[1]:
            o = results[n][1]
            self.check("body shorter: the finding, and why keep-alive was not measured",
                       [f["rule"] for f in o["findings"]] == ["body-shorter-than-content-length"] and
                       o["keepalive"]["message"] == "the server closed the connection (FIN) before the "
                       "response ended: keep-alive not measured" and not o["response_complete"], o)
        n = "scripted body longer than Content-Length, in two parts, FIN after 1 s"
        if results.get(n, (0, None))[1]:
            o = results[n][1]
            self.eq("body longer, read to the declared end: the count is a lower bound",
                    ([f["message"] for f in o["findings"]], o["keepalive"]["idle_bytes"]),
                    (["body-longer-than-content-length: Content-Length 5, body at least 7 "
                      "bytes, not repaired (detect mode)"], 9))
        n = "nginx, --method HEAD"
        if results.get(n, (0, None))[1]:
            o = results[n][1]
            self.check("HEAD: no body read, no finding", o["head"] and o["findings"] == [] and
                       o["body_len"] == 0, o)
        n = "Python http.server HTTP/1.0 (Connection: close)"
        if results.get(n, (0, None))[1]:
            self.check("HTTP/1.0: announced close", results[n][1]["keepalive"]["announced_close"],
                       results[n][1]["keepalive"])
        if https_url:
            rc, obj, err = results["HTTPS, untrusted"]
            self.check("HTTPS without --cacert: certificate refused, exit 2",
                       rc == 2 and b"certificate" in err and err.count(b"\n") == 1, (rc, err))
        rc, obj, err = results["refused"]
        self.check("connection refused: one line, exit 2",
                   rc == 2 and err.endswith(b"Connection refused\n") and err.count(b"\n") == 1, (rc, err))

    def test_interim(self):
        results = self.results
        # 103 then a 200 with two defects (the 200 used to be taken for the
        # 103's following bytes: status 103, no findings, exit 0)
        n = "scripted 103 then a bad 200 (close-delimited)"
        if results.get(n, (0, None))[1]:
            o = results[n][1]
            self.eq("103 then 200: the final response and its findings, the interim one",
                    (o["status"], [f["rule"] for f in o["findings"]], o["final_response"],
                     o["offset"], [(m["status"], m["offset"], m["findings"]) for m in o["interim"]],
                     o["response_bytes"], o["response_complete"]),
                    (200, ["field-name-invalid", "content-length-conflict"], True,
                     len(EARLY_HINTS), [(103, 0, [])], len(EARLY_HINTS + BAD_FINAL), True))
        n = "scripted 100, 103, then 200, FIN after 1 s"
        if results.get(n, (0, None))[1]:
            o = results[n][1]
            self.eq("100, 103, 200: two interim responses, no finding",
                    ([m["status"] for m in o["interim"]], o["findings"], o["final_response"]),
                    ([100, 103], [], True))
        # a 100 with a Content-Length: the final response starts where
        # `check` starts it (after the 5 bytes, or right after the 100)
        for n, off, rules in (
                ("scripted 100 with Content-Length 5 and 5 bytes, 200, FIN after 1 s",
                 len(CONTINUE_CL5) + 5, ["framing-on-bodiless-status", "body-on-bodiless"]),
                ("scripted 100 with Content-Length 5, its bytes split, 200, FIN after 1 s",
                 len(CONTINUE_CL5) + 5, ["framing-on-bodiless-status", "body-on-bodiless"]),
                ("scripted 100 with Content-Length 5 and no bytes, 200, FIN after 1 s",
                 len(CONTINUE_CL5), ["framing-on-bodiless-status"])):
            if results.get(n, (0, None))[1]:
                o = results[n][1]
                self.eq(n + ": the 200 after the 100, where check has it",
                        (o["status"], o["findings"], o["offset"], o["response_bytes"],
                         o["response_complete"],
                         [(m["status"], [f["rule"] for f in m["findings"]]) for m in o["interim"]]),
                        (200, [], off, off + len(OK), True, [(100, rules)]))
        # a 103, then the server closes: no final response. A load balancer
        # answers that 502, as it does a header section cut by a close
        # (header-section-incomplete): exit 1, said (it was exit 0 with "no
        # findings")
        rc, out, err = lbgcli.run(self.LBG, ["probe", "--max-wait", "1s", "--quiet",
                                             "http://127.0.0.1:%d/" % self.p.lone.port], timeout=60)
        self.check("103 then FIN: no final response, exit 1, keep-alive not measured",
                   rc == 1 and out.startswith(b"probe: GET http://127.0.0.1:%d/: status 103, %d bytes "
                                              b"(incomplete response), no final response after 1 "
                                              b"interim response\n" % (self.p.lone.port, len(EARLY_HINTS)))
                   and b": no final response: the input ends after interim response 1 (103 Early Hints)\n"
                   b"http://127.0.0.1:%d/: the server sent no final response: a load balancer answers "
                   b"502 (504 when it times out first)\n" % self.p.lone.port in out
                   and b"before the response ended: keep-alive not measured" in out,
                   (rc, out, err))
        rc, o, err = probe(self.LBG, "http://127.0.0.1:%d/" % self.p.lone.port, "--max-wait", "1s")
        self.check("103 then FIN (--json): final_response false, incomplete, exit 1",
                   rc == 1 and o is not None and o["status"] == 103 and not o["final_response"]
                   and o["interim"] == [] and not o["response_complete"] and o["exit"] == 1,
                   (rc, o, err))

    def test_text_output(self):
        jobs = self.p.jobs
        # the text output of one probe (no --json)
        if jobs:
            rc, out, err = lbgcli.run(self.LBG, ["probe", "--lb-idle-timeout", "1s", "--margin", "0",
                                            "--max-wait", "1.5s", "http://127.0.0.1:%d/" % self.p.forever.port])
            self.check("text output: the response, the findings, the keep-alive verdict",
                       rc == 0 and out.startswith(b"probe: GET http://127.0.0.1:%d/: status 200, 41 bytes\n" % self.p.forever.port)
                       and b"no findings (profile strictest)" in out
                       and b"keep-alive: server kept the idle connection open for the whole 1.50 s wait"
                       in out, (rc, out, err))


if __name__ == "__main__":
    lbgtest.main()
