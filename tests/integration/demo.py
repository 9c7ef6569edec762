#!/usr/bin/env python3
"""make demo: what lbguard changes behind a real load balancer.

Builds nothing (make demo builds first). Starts, on 127.0.0.1 free ports:

  client -> HAProxy 2.6 / nginx (as the LB) -> nginx + lbguard -> misbehaving
            raw-socket backend and perl handlers
                                            -> Apache + mod_lbguard -> CGI
                                               (when mod_lbguard is built)

once with lbguard off and once with lbguard repair, and prints side by side:
  1. the keep-alive race: the target keeps idle connections 1 s, the LB 60 s;
     N POSTs sent on the edge of the target's keep-alive timeout;
  2. malformed responses: the status and field the client gets;
  3. reload under load: wrk through HAProxy and nginx (as the LB) at the
     same time while the target reloads (nginx: SIGHUP every 0.5 s) or
     restarts gracefully (Apache: every 1 s); lbguard_drain off vs on
     (Apache: LBGuardDrain unset, a report only, vs On), lbguard repair in
     every arm (lb_reload.py).
Everything is stopped by PID at the end. The servers' configurations are
the tests' (tests/lbgtest/configs.py). Usage:
  python3 tests/integration/demo.py --build BUILD [-n 300]
"""
import os
import sys
import threading

# the repository root, for the tests' package (tests/README.md)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tests import lbgtest  # noqa: E402
from tests.lbgtest import lb_cases as K  # noqa: E402
from tests.lbgtest import lb_configs as C  # noqa: E402
from tests.lbgtest import lb_race  # noqa: E402
from tests.lbgtest import lb_reload  # noqa: E402

build = lbgtest.build_dir()
N = int(sys.argv[sys.argv.index("-n") + 1]) if "-n" in sys.argv else 300
M = 32
NAMES = {"haproxy": "HAProxy 2.6", "nginx": "nginx 1.22"}


def race(lb, target):
    """Runs the staircase through lb -> target, lbguard off and repair at
    the same time. Returns {mode: RaceResult}."""
    out = {}
    procs = []
    try:
        ports = {}
        for mode in ("off", "repair"):
            wd = C.workdir("demo-race-%s-%s-%s" % (lb, target, mode), build)
            ports[mode], p = C.start_chain(build, wd, lb, target, mode, m=M)
            procs += p

        def go(mode):
            out[mode] = lb_race.staircase(ports[mode], n=N, m=M, method="POST", body=1024)

        ts = [threading.Thread(target=go, args=(m,)) for m in ("off", "repair")]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        for p in reversed(procs):
            p.stop()
    return out


def race_cell(r):
    if r.failures == 0:
        return "0 failed, reused %d/%d" % (r.reused, r.requests - M)
    return "%d failed (%.1f%%): %d x 502, %d closed" % (
        r.failures, 100.0 * r.failures / r.requests, r.s502, r.closed)


def case_cell(raw, rule, what, fn):
    s = K.status_of(raw)
    if s is None:
        return "no response"
    if s != 200:
        return "%d" % s
    if rule == "reason-phrase-invalid":
        return repr(raw.split(b"\r\n")[0][9:].decode("latin-1"))
    v = fn(raw)
    if "Content-Length" in what or "Transfer-Encoding" in what:
        return "200 %s=%s" % (what.split()[0], b",".join(v).decode("latin-1") or "-")
    if what.startswith("no "):
        return "200 " + ("field present" if v else "field removed")
    return "200 %r" % (v[0].decode("latin-1") if v else None)


def reload_section(targets, reloads=20):
    """3. reload under load. Returns the number of unexpected outcomes."""
    print()
    print("=" * 100)
    print("3. Reload under load: wrk (32 connections each, Connection: close, 1-10 ms think time) "
          "through both LBs at once;")
    print("   target told LB idle %ds + margin %ds; nginx (2 workers): SIGHUP every 0.5 s; Apache: "
          "graceful restart every 1 s" % (lb_reload.LB_IDLE, lb_reload.MARGIN))
    print("=" * 100)
    print("%-7s %-12s %-28s | %-26s | %s" % ("target", "LB", "reloads per arm",
                                            "drain off: failed/requests",
                                            "drain on: failed/requests"))
    print("-" * 100)
    bad = 0
    for target in targets:
        wd = C.workdir("demo-reload-%s" % target, build)
        bp = lbgtest.free_port()
        if target == "nginx":
            t = lb_reload.NginxTarget(build, os.path.join(wd, "target"), bp, drain="off")
            arms = (("off", dict(drain="off")), ("on", dict(drain="on")))
            interval = 0.5
        else:
            t = lb_reload.ApacheTarget(build, os.path.join(wd, "target"), bp,
                                       extra="LBGuardDrain Off\n")
            arms = (("off", dict(extra="LBGuardDrain Off\n")), ("on", dict(extra="")))
            interval = 1.0
        procs = []
        try:
            ports, procs = lb_reload.start_lbs(wd, bp)
            out = {}
            for arm, kw in arms:
                lb_reload.switch(t, 15, **kw)
                out[arm], _ = lb_reload.phase(t, wd, ports, "demo-" + arm, reloads, interval)
            for lb in ports:
                off, on = out["off"][lb], out["on"][lb]
                print("%-7s %-12s %-28s | %-26s | %s"
                      % (target, NAMES[lb], "%d (%s every %.1f s)"
                         % (reloads, "SIGHUP" if target == "nginx" else "graceful", interval),
                         "%d/%d" % (off["failures"], off["requests"]),
                         "%d/%d" % (on["failures"], on["requests"])))
                sys.stdout.flush()
                bad += on["failures"] > 0
        finally:
            for p in procs:
                p.stop()
            t.p.stop()
    print("(off: nginx closes idle keep-alive connections at the reload, Apache's event MPM at the "
          "graceful restart;\n on: they are kept until the LB's next request, answered with "
          "\"Connection: close\", or its close)")
    return bad


def main():
    if C.nginx_module(build) is None:
        print("demo: %s/nginx-dynamic/objs/ngx_http_lbguard_filter_module.so is missing; "
              "run make demo (it builds it)" % build)
        return 1
    targets = ["nginx"] + (["apache"] if C.apache_module(build) else [])
    if "apache" not in targets:
        print("(Apache + mod_lbguard skipped: %s/apache/mod_lbguard.so not built)\n" % build)
    bad = 0

    print("=" * 100)
    print("1. Keep-alive race: target keeps idle connections %d s, the LB %d s "
          "(lbguard told: lbguard_lb_idle_timeout %ds, margin 1s)" % (1, C.LB_IDLE, C.LB_IDLE))
    print("   %d POSTs (1 KB body) from %d clients, each sent on the edge of the target's "
          "keep-alive timeout" % (N, M))
    print("=" * 100)
    print("%-12s %-7s | %-38s | %s" % ("LB", "target", "lbguard off", "lbguard repair"))
    print("-" * 100)
    for target in targets:
        for lb in ("haproxy", "nginx"):
            r = race(lb, target)
            print("%-12s %-7s | %-38s | %s" % (NAMES[lb], target, race_cell(r["off"]),
                                               race_cell(r["repair"])))
            sys.stdout.flush()
            bad += r["repair"].failures > 0 or r["off"].failures == 0

    print()
    print("=" * 100)
    print("2. Malformed responses: what the client gets through the LB (502 = the LB refused "
          "the response;")
    print("   500 = Apache refused the field itself)")
    print("=" * 100)
    wd = C.workdir("demo-malformed", build)
    st = K.Stacks(build, wd, targets=targets)
    try:
        print("%-7s %-24s %-18s | %-11s | %-22s -> %s" % ("target", "defect (rule)", "source",
                                                         "LB", "lbguard off",
                                                         "lbguard repair"))
        print("-" * 100)
        for target, rule, path, _, (what, fn, _exp) in K.CASES:
            if target not in targets:
                continue
            for lb in K.LBS:
                off = K.get(st.ports[(target, "off", lb)], path)
                rep = K.get(st.ports[(target, "repair", lb)], path)
                print("%-7s %-24s %-18s | %-11s | %-22s -> %s"
                      % (target, rule, path, NAMES[lb], case_cell(off, rule, what, fn),
                         case_cell(rep, rule, what, fn)))
                bad += K.status_of(rep) != 200
        logs = []
        for target in targets:
            d = os.path.join(wd, "%s-repair" % target, "target")
            for f in ("error.log", os.path.join("logs", "error.log")):
                for line in lbgtest.read_log(os.path.join(d, f)).splitlines():
                    if "lbguard: " in line and "keepalive" not in line.lower():
                        text = line.split("lbguard: ", 1)[1].split(", client:")[0]
                        logs.append("%s: lbguard: %s"
                                    % (target, text.split(" while reading response")[0]))
    finally:
        st.stop()
    print("\nThe targets' lbguard log lines (repair), first of each:")
    seen = set()
    for l in logs:
        k = l.split(":")[0:3]
        if tuple(k) not in seen:
            seen.add(tuple(k))
            print("  " + l[:150])
    bad += reload_section(targets)
    print("\nWork directories (configs, logs): %s" % os.path.dirname(wd))
    if bad:
        print("demo: %d unexpected outcome(s)" % bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
