#!/usr/bin/env python3
"""The keep-alive race behind real load balancers, lbguard off vs repair.

For each LB (HAProxy 2.6, nginx as a reverse proxy) x target (nginx + the
lbguard dynamic module; Apache + mod_lbguard when it is built):
  * target keep-alive timeout 1 s, LB idle timeout 60 s (lb_configs);
  * N POST requests with a 1 KB body, driven by the staircase of lb_race.py
    (independent pools, one per worker; every request sent on the edge of
    the target's keep-alive timeout);
  * lbguard off: the race happens -- failures (502s + client connections
    closed with no response) > 0;
  * lbguard repair with `lbguard_lb_idle_timeout 60s` / `LBGuardLBIdleTimeout
    60` (margin 1 s): the target's keep-alive timeout is raised to 61 s at
    config load, so every request reuses its backend connection and exactly
    0 fail.
The off and repair runs of one pair run at the same time (separate
processes and ports); pairs run one after the other, one test each
(`-k haproxy_nginx`); the table of all pairs is printed at the end.

Usage: python3 -m tests.integration.test_lb_race [--build DIR] [-k NAME]
"""
import os
import re
import threading

from tests import lbgtest
from tests.lbgtest import lb_configs as C
from tests.lbgtest import lb_race

N = 600
M = 32


class LbRace(lbgtest.TestCase):
    suite = "lb_race"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.table = []

    @classmethod
    def tearDownClass(cls):
        if cls.table:
            print("\nkeep-alive race, target keep-alive 1 s, LB idle %d s, POST 1 KB, N=%d, M=%d"
                  % (C.LB_IDLE, N, M))
            print("%-8s %-19s | %-24s | %-24s" % ("LB", "target", "lbguard off 502/closed",
                                                 "repair 502/closed reused"))
            for lb, be, off, rep in cls.table:
                print("%-8s %-19s | %4d / %-3d (%5.1f%%)       | %4d / %-3d %4d/%d"
                      % (lb, be, off.s502, off.closed, 100.0 * off.failures / off.requests,
                         rep.s502, rep.closed, rep.reused, N - M))
        super().tearDownClass()

    def pair(self, lb, be, client_ka=False):
        """Runs the off and repair chains of one LB -> target pair."""
        if be == "nginx":
            lbgtest.require(os.path.join(self.build, "nginx-dynamic", "objs",
                                         "ngx_http_lbguard_filter_module.so"),
                            "make nginx-dynamic")
        else:
            lbgtest.require(os.path.join(self.build, "apache", "mod_lbguard.so"), "make apache")
        r = self.run_pair(lb, be, client_ka)
        if r:
            self.table.append((lb, be + (" (client ka)" if client_ka else "")) + r)

    def test_haproxy_nginx(self):
        self.pair("haproxy", "nginx")

    def test_nginx_nginx(self):
        self.pair("nginx", "nginx")

    def test_haproxy_nginx_client_ka(self):
        self.pair("haproxy", "nginx", True)

    def test_haproxy_apache(self):
        self.pair("haproxy", "apache")

    def test_nginx_apache(self):
        self.pair("nginx", "apache")

    def run_pair(self, lb, be, client_ka=False):
        build = self.build
        name = "%s -> %s%s" % (lb, be, " (client keep-alive)" if client_ka else "")
        out = {}
        procs = []
        try:
            ports = {}
            wds = {}
            for mode in ("off", "repair"):
                wd = wds[mode] = C.workdir("lb_race-%s-%s-%s%s" % (lb, be, mode, "-ka" * client_ka),
                                           build)
                ports[mode], p = C.start_chain(build, wd, lb, be, mode, m=M)
                procs += p

            def go(mode):
                out[mode] = lb_race.staircase(ports[mode], n=N, m=M, method="POST", body=1024,
                                              client_ka=client_ka)

            ts = [threading.Thread(target=go, args=(m,)) for m in ("off", "repair")]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        except Exception as e:  # a server that did not start
            self.check("%s: servers start" % name, False, repr(e))
            return None
        finally:
            for p in reversed(procs):
                p.stop()
        off, rep = out["off"], out["repair"]
        log = lbgtest.read_log(os.path.join(wds["repair"], "target", "error.log")) + \
            lbgtest.read_log(os.path.join(wds["repair"], "target", "logs", "error.log"))
        self.check("%s: repair: target logged \"lbguard: keepalive-timeout: ... raised to 61s\"" % name,
                   re.search(r"(?m)lbguard: keepalive-timeout: (keepalive_timeout|KeepAliveTimeout) 1s "
                             r"in .* is shorter than the load balancer idle timeout 60s \+ margin 1s, "
                             r"raised to 61s$", log), log[-500:])
        log_off = lbgtest.read_log(os.path.join(wds["off"], "target", "error.log")) + \
            lbgtest.read_log(os.path.join(wds["off"], "target", "logs", "error.log"))
        self.eq("%s: off: no lbguard log line" % name,
                [l for l in log_off.splitlines() if "lbguard: " in l], [])
        print("%s, lbguard off:    %s" % (name, off.line()))
        print("%s, lbguard repair: %s" % (name, rep.line()))
        self.eq("%s: off: all %d requests sent" % (name, N), off.requests, N)
        self.check("%s: off: the race happens (502s + closed-no-response > 0)" % name,
                   off.s502 + off.closed > 0,
                   "502=%d closed=%d" % (off.s502, off.closed))
        if client_ka and lb == "haproxy":
            # HAProxy does not answer 502 when the failed backend connection was
            # reused for a kept-alive client: it closes the client connection
            # with no response (and logs nothing)
            self.check("%s: off: silent closes counted (closed-no-response > 0, 502 = 0)" % name,
                       off.closed > 0 and off.s502 == 0,
                       "502=%d closed=%d" % (off.s502, off.closed))
        self.eq("%s: off: no other outcome" % name, off.other, {})
        self.eq("%s: repair: all %d requests sent" % (name, N), rep.requests, N)
        self.eq("%s: repair: failures (502 + closed-no-response + other)" % name,
                (rep.s502, rep.closed, rep.failures), (0, 0, 0))
        self.eq("%s: repair: every answer is 2xx from the target" % name, rep.ok, N)
        # every worker's first request opens its connection; all later ones
        # must reuse it (the target no longer closes it after 1 s)
        self.eq("%s: repair: backend connection reused (reused, new)" % name,
                (rep.reused, rep.new), (N - M, 0))
        return off, rep


if __name__ == "__main__":
    lbgtest.main()
