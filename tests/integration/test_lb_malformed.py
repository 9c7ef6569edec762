#!/usr/bin/env python3
"""Malformed responses through real load balancers, lbguard off vs repair.

For every case of lb_cases.CASES and both LBs (HAProxy 2.6, nginx as a
proxy): with lbguard off the client gets exactly the recorded status (502:
the LB rejected the response; 500: Apache refused the header itself); with
lbguard repair it gets "HTTP/1.1 200 OK", the repaired field and the body.
The set of (case, LB) pairs that answer 502 with lbguard off is asserted
exactly. Apache cases run when mod_lbguard is built (else SKIP).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbgtest  # noqa: E402
import lb_cases as K  # noqa: E402
import lb_configs as C  # noqa: E402

build = lbgtest.build_dir()
res = lbgtest.Results("lb_malformed")


def main():
    targets = []
    if res.check("nginx lbguard module built", C.nginx_module(build) is not None,
                 "(make nginx-dynamic)"):
        targets.append("nginx")
    if C.apache_module(build):
        targets.append("apache")
    else:
        print("SKIP lb_malformed: Apache cases (mod_lbguard not built: %s/apache/mod_lbguard.so)"
              % build)
    if not targets:
        return res.summary()
    wd = C.workdir("lb_malformed", build)
    try:
        st = K.Stacks(build, wd, targets=targets)
    except Exception as e:
        res.check("servers start", False, repr(e))
        return res.summary()
    rows = []
    got_502 = set()
    want_502 = set()
    try:
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
                res.eq("%s: lbguard off: status line" % name, off.split(b"\r\n")[0],
                       K.off_line(want))
                rep = K.get(st.ports[(target, "repair", lb)], path)
                res.eq("%s: lbguard repair: status line" % name, rep.split(b"\r\n")[0],
                       b"HTTP/1.1 200 OK")
                res.eq("%s: lbguard repair: %s" % (name, what), fn(rep), expected)
                res.eq("%s: lbguard repair: body" % name, K.body_of(rep), b"abc")
                row += [s_off, K.status_of(rep)]
            rows.append(row)
        for target in targets:
            res.eq("%s: lbguard off: no lbguard log line" % target,
                   [l for l in st.log(target, "off").splitlines() if "lbguard: " in l], [])
            log = st.log(target, "repair")
            for t, rule, path, _, _ in K.CASES:
                if t == target:
                    res.check("%s %s: lbguard repair: logged \"lbguard: %s: \"" % (target, path, rule),
                              "lbguard: %s: " % rule in log, log[-800:])
    finally:
        st.stop()
    res.eq("the LBs answer 502 (lbguard off) for exactly", sorted(got_502), sorted(want_502))
    print("\nmalformed responses: status the client gets (lbguard off -> repair)")
    print("%-7s %-25s %-18s | %-13s | %-13s" % ("target", "defect (rule)", "path",
                                               "HAProxy 2.6", "nginx 1.22"))
    for t, rule, path, ho, hr, no, nr in rows:
        print("%-7s %-25s %-18s | %3s -> %-6s | %3s -> %-6s" % (t, rule, path, ho, hr, no, nr))
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
