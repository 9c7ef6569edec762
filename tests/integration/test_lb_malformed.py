#!/usr/bin/env python3
"""Malformed responses through real load balancers, lbguard off vs repair.

For every case of lb_cases.CASES and both LBs (HAProxy 2.6, nginx as a
proxy): with lbguard off the client gets exactly the recorded status (502:
the LB rejected the response; 500: Apache refused the header itself); with
lbguard repair it gets "HTTP/1.1 200 OK", the repaired field and the body.
The set of (case, LB) pairs that answer 502 with lbguard off is asserted
exactly. Each target runs when its module is built (else a skip).

test_haproxy_budget: the haproxy profile's header section budget at
HAProxy 2.6's real boundary (LBG_PROFILES in common/lbg.h): the largest
header section the nginx target sends that HAProxy passes, and one byte
more, which HAProxy answers 502 (PH) with lbguard off and lbguard repair
(lbguard_profile haproxy) replaces by the target's own 502, logged.

Usage: python3 -m tests.integration.test_lb_malformed [--build DIR] [-k NAME]
"""
import os
import re
import socket

from tests import lbgtest
from tests.lbgtest import lb_cases as K
from tests.lbgtest import lb_configs as C


class LbMalformed(lbgtest.TestCase):
    suite = "lb_malformed"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.targets = []
        cls.absent = []
        for target, found, hint in (("nginx", C.nginx_module(cls.build), "make nginx-dynamic"),
                                    ("apache", C.apache_module(cls.build), "make apache")):
            if found:
                cls.targets.append(target)
            else:
                cls.absent.append((target, "lbguard module not built (%s)" % hint))
        if not cls.targets:
            raise lbgtest.unittest.SkipTest("no lbguard module built")
        cls.st = K.Stacks(cls.build, C.workdir("lb_malformed", cls.build), targets=cls.targets)
        cls.addClassCleanup(cls.st.stop)

    def test_cases(self):
        for target, reason in self.absent:
            self.skip_part("%s cases" % target, reason)
        st, targets = self.st, self.targets
        rows = []
        got_502 = set()
        want_502 = set()
        for target, rule, path, off_status, (what, fn, expected) in K.CASES:
            if target not in targets:
                continue
            row = [target, rule, path]
            for lb in K.LBS:
                name = "%s via %s -> %s (%s)" % (path, lb, target, rule)
                want = off_status[lb]
                if want == 502:
                    want_502.add((path, lb))
                off = K.get(st.ports[(target, "off", lb)], path)
                s_off = K.status_of(off)
                if s_off == 502:
                    got_502.add((path, lb))
                self.eq("%s: lbguard off: status line" % name, off.split(b"\r\n")[0],
                        K.off_line(want))
                rep = K.get(st.ports[(target, "repair", lb)], path)
                self.eq("%s: lbguard repair: status line" % name, rep.split(b"\r\n")[0],
                        b"HTTP/1.1 200 OK")
                self.eq("%s: lbguard repair: %s" % (name, what), fn(rep), expected)
                self.eq("%s: lbguard repair: body" % name, K.body_of(rep), b"abc")
                row += [s_off, K.status_of(rep)]
            rows.append(row)
        self.eq("the LBs answer 502 (lbguard off) for exactly", sorted(got_502), sorted(want_502))
        print("\nmalformed responses: status the client gets (lbguard off -> repair)")
        print("%-7s %-25s %-18s | %-13s | %-13s" % ("target", "defect (rule)", "path",
                                                   "HAProxy 2.6", "nginx 1.22"))
        for t, rule, path, ho, hr, no, nr in rows:
            print("%-7s %-25s %-18s | %3s -> %-6s | %3s -> %-6s" % (t, rule, path, ho, hr, no, nr))

    def test_logs(self):
        st = self.st
        for target in self.targets:
            self.eq("%s: lbguard off: no lbguard log line" % target,
                    [ln for ln in st.log(target, "off").splitlines() if "lbguard: " in ln], [])
            log = st.log(target, "repair")
            for t, rule, path, _, _ in K.CASES:
                if t == target:
                    self.check("%s %s: lbguard repair: logged \"lbguard: %s: \""
                               % (target, path, rule), "lbguard: %s: " % rule in log, log[-800:])


# HAProxy 2.6's room for a response's header section as HTX blocks
# (tune.bufsize 16384 - sizeof(struct htx) 48 - tune.maxrewrite 1024), what
# it adds to the wire bytes once (31) and per field line it stores (4): the
# largest header section of nf stored fields it passes is ROOM - ONCE -
# PER_FIELD * nf wire bytes, plus the bytes of a Connection field of only
# close/keep-alive, which it does not store (src/h1_htx.c
# h1_eval_htx_size(), src/h1.c h1_parse_connection_header(); LBG_PROFILES)
HAPROXY_ROOM, HAPROXY_ONCE, HAPROXY_PER_FIELD = 16384 - 48 - 1024, 31, 4
HAPROXY_502 = b"The server returned an invalid or incomplete response"


def _big(head):
    """/big?n=N: a 200 with an X-Big field of N bytes of 'a'."""
    n = int(re.search(rb"[?&]n=(\d+)", head).group(1))
    return b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * n + b"\r\nContent-Length: 3\r\n\r\nabc"


def _get_kept(port, n):
    """GET /big?n=n from 127.0.0.1:port on a keep-alive connection (as an LB
    sends it); the response's bytes (its Content-Length is 3)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /big?n=%d HTTP/1.1\r\nHost: lb\r\n\r\n" % n)
        got = b""
        while b"\r\n\r\n" not in got or len(got) < got.index(b"\r\n\r\n") + 4 + 3:
            b = s.recv(65536)
            if not b:
                break
            got += b
        return got


class HaproxyBudget(lbgtest.TestCase):
    suite = "lb_malformed"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not C.nginx_module(cls.build):
            raise lbgtest.unittest.SkipTest("lbguard module not built (make nginx-dynamic)")
        wd = C.workdir("lb_budget", cls.build)
        cls.wd = wd
        cls.raw = lbgtest.RawBackend({b"/big": _big})
        cls.procs = []
        cls.addClassCleanup(cls._stop)
        # nginx's proxy takes the upstream's big header section (its own
        # budget: proxy_buffer_size) and adds Server, Date, Connection
        loc = ("location /big { proxy_pass http://127.0.0.1:%d; proxy_buffer_size 32k;"
               " proxy_buffers 4 32k; proxy_busy_buffers_size 32k; }" % cls.raw.port)
        cls.ports = {}
        for mode, profile in (("off", None), ("repair", "haproxy")):
            tp, lp = lbgtest.free_port(), lbgtest.free_port()
            d = os.path.join(wd, mode)
            cls.procs.append(C.nginx_target(cls.build, os.path.join(d, "target"), tp, mode=mode,
                                            profile=profile, locations=loc, lb_idle=None))
            cls.procs.append(C.haproxy_lb(os.path.join(d, "haproxy"), lp, tp, m=1))
            cls.ports[mode] = (tp, lp)

    @classmethod
    def _stop(cls):
        for p in reversed(cls.procs):
            p.stop()
        cls.raw.stop()

    def test_boundary(self):
        get = lambda port, n: K.get(port, "/big?n=%d" % n)
        # the target's header section for n bytes of X-Big, as HAProxy gets
        # it (keep-alive: "Connection: keep-alive"): head1 + n - 1 bytes
        tp = self.ports["off"][0]
        one = _get_kept(tp, 1)
        head1 = one.index(b"\r\n\r\n") + 4
        _, fields, _ = lbgtest.split_response(one)
        # HAProxy stores no Connection field of close/keep-alive alone
        conn = [n + b": " + v for n, v in fields if n.lower() == b"connection"
                and v.lower() in (b"keep-alive", b"close")]
        self.eq("direct: the target sends Connection: keep-alive", conn,
                [b"Connection: keep-alive"])
        stored = len(fields) - len(conn)
        limit = (HAPROXY_ROOM - HAPROXY_ONCE - HAPROXY_PER_FIELD * stored
                 + sum(len(c) + 2 for c in conn))
        n = limit - head1 + 1
        self.eq("direct: the target's header section is %d bytes (%d fields)"
                % (limit, len(fields)), _get_kept(tp, n).index(b"\r\n\r\n") + 4, limit)
        self.eq("direct: one byte more", _get_kept(tp, n + 1).index(b"\r\n\r\n") + 4, limit + 1)
        for mode in ("off", "repair"):
            tp, lp = self.ports[mode]
            log = os.path.join(self.wd, mode, "target", "error.log")
            before = len(lbgtest.read_log(log))
            got = get(lp, n)
            self.eq("%s: %d bytes via HAProxy: 200" % (mode, limit), got.split(b"\r\n")[0],
                    b"HTTP/1.1 200 OK")
            self.eq("%s: %d bytes via HAProxy: X-Big and body" % (mode, limit),
                    (lbgtest.field_values(got, "X-Big"), K.body_of(got)), ([b"a" * n], b"abc"))
            got = get(lp, n + 1)
            self.eq("%s: %d bytes via HAProxy: 502" % (mode, limit + 1), got.split(b"\r\n")[0],
                    b"HTTP/1.1 502 Bad Gateway")
            # nginx's context after the message: " while reading ..."
            lines = [ln.split("lbguard: ", 1)[1].split(" while ")[0] for ln in
                     lbgtest.read_log(log)[before:].splitlines() if "lbguard: " in ln]
            if mode == "off":
                self.check("off: %d bytes: HAProxy's own 502" % (limit + 1), HAPROXY_502 in got,
                           got[-300:])
                self.eq("off: no lbguard line", lines, [])
            else:
                self.eq("repair: %d bytes: the target's own 502" % (limit + 1), K.body_of(got),
                        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                        b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")
                self.eq("repair: the finding: wire bytes and HAProxy's limit in wire bytes",
                        lines, ["header-section-too-large: header section is %d bytes, budget %d, "
                                "none under strictest (report); else the target's own 502 Bad "
                                "Gateway" % (limit + 1, limit)])
        hlog = lbgtest.read_log(os.path.join(self.wd, "off", "haproxy", "haproxy.log"))
        self.eq("off: HAProxy's log: 200 then 502 PH",
                [re.search(r" (\d{3}) \d+ - - (\S\S)", ln).groups()
                 for ln in hlog.splitlines() if "GET /big?" in ln],
                [("200", "--"), ("502", "PH")])


if __name__ == "__main__":
    lbgtest.main()
