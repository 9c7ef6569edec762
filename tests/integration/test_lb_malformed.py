#!/usr/bin/env python3
"""Malformed responses through real load balancers, lbguard off vs repair.

For every case of lb_cases.CASES and both LBs (HAProxy 2.6, nginx as a
proxy): with lbguard off the client gets exactly the recorded status (502:
the LB rejected the response; 500: Apache refused the header itself); with
lbguard repair it gets "HTTP/1.1 200 OK", the repaired field and the body.
The set of (case, LB) pairs that answer 502 with lbguard off is asserted
exactly. Each target runs when its module is built (else a skip).

Usage: python3 -m tests.integration.test_lb_malformed [--build DIR] [-k NAME]
"""
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


if __name__ == "__main__":
    lbgtest.main()
