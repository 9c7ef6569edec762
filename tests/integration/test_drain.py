#!/usr/bin/env python3
"""LB-safe drain (issue 10): no 502 when nginx reloads; what Apache's event
MPM closes early, reported.

1. nginx configuration: lbguard_drain's value checked by nginx -t (file:line);
   worker_shutdown_timeout shorter than the LB idle timeout + margin warned
   with the block's file:line.
2. nginx, raw sockets, one worker, lbguard repair, LB idle 2 s + margin 1 s,
   keepalive_timeout 30 s: idle keep-alive connections survive a reload;
   one that sends a request gets a 200 with "Connection: close" and is
   closed, one the client closes ends, one left idle is closed 3 s (LB idle
   + margin, not keepalive_timeout) after its last response, and the old
   worker exits with it; with no connection open the old worker exits at
   once; lbguard_drain off: nginx closes them at the reload; detect: a
   report; nginx -s quit (SIGQUIT) still stops nginx. Exact log lines.
3. nginx (2 workers) behind HAProxy 2.6 (http-reuse always, retries 0) and
   nginx as a proxy at the same time, steady load (wrk, Connection: close,
   1-10 ms think time, 32 connections each), SIGHUP every 0.5 s:
   lbguard_drain off and on alternated in one run (PHASES x RELOADS reloads
   per arm, same build, same keepalive_timeout): off fails in every run,
   on gives 0; the old workers of the on phases exit within LB idle +
   margin. Control: the LBs frozen across each reload (lb_reload
   .frozen_phase), drain on + worker_shutdown_timeout 1s must fail
   (through at least one of the two LBs), drain on alone must give 0.
4. Apache (event MPM) behind the same two LBs, graceful restart every 1 s:
   LBGuardDrain Off and the default (LBGuard Repair + LBGuardLBIdleTimeout:
   on) alternated; Off: the MPM closes idle keep-alive connections at every
   restart, each logged, with a summary per child; the default keeps them
   (CONN_STATE_ASYNC_WAITIO, closed by lbguard's drain thread at
   KeepAliveTimeout, at LB idle + margin once the child stops): 0
   failures; the MPM settings that cause early closes are warned about at
   startup with file:line; graceful-stop still stops Apache. Raw sockets:
   with KeepAliveTimeout 30 s an idle connection kept across a graceful
   restart is closed LB idle + margin (4 s) after its response, then the
   old child exits.

One TestCase: one test method per part above (run_config, run_nginx_raw,
run_apache_raw, run_apache_idle_limit,
run_apache_startup, run_nginx_load, run_apache_load, in
that order; each starts and stops its own servers, by PID); no nginx
module skips the suite, no Apache module the Apache parts. The in-flight
measurement (run_inflight) runs only with LBG_DRAIN_INFLIGHT=1.

Usage (from the repository root):
    python3 -m tests.integration.test_drain [--build DIR] [-k NAME]
    LBG_DRAIN_INFLIGHT=1 python3 -m tests.integration.test_drain -k inflight
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

from tests import lbgtest
from tests.lbgtest import lb_configs as C
from tests.lbgtest import lb_reload as R

PHASES = 2        # per arm, alternated off, on, off, on
RELOADS = 30      # per phase: 60 reloads per arm
INTERVAL = 0.5    # s between nginx reloads
FROZEN = 6        # reloads per frozen phase (control)
AP_RELOADS = 30   # Apache graceful restarts per phase (60 per arm)
AP_INTERVAL = 1.0

build = None      # the build directory: set by DrainTest.setUpClass
summary = []


def nginx_t(d, conf_text):
    conf = os.path.join(d, "t.conf")
    with open(conf, "w") as f:
        f.write(conf_text)
    p = subprocess.run([C.NGINX, "-t", "-p", d, "-c", conf, "-e", os.path.join(d, "t.err")],
                       capture_output=True, text=True)
    return p.returncode, p.stderr, conf


def line_of(conf, needle):
    with open(conf) as f:
        for i, ln in enumerate(f, 1):
            if needle in ln:
                return i
    return 0


# ------------------------------------------------------------- 1. nginx -t --

def run_config(res):
    d = C.workdir("drain-conf", build)
    C._mkdirs(d, "temp")
    text = R.nginx_conf(d, 1, None, workers=1, build=build)
    rc, err, conf = nginx_t(d, text.replace("lbguard repair;", "lbguard repair;\n  lbguard_drain maybe;"))
    res.eq("nginx -t: lbguard_drain maybe refused", rc != 0, True)
    res.check("nginx -t: lbguard_drain error names the directive and file:line",
              'invalid value "maybe" in "lbguard_drain" directive, it must be "on" or "off" in '
              '%s:%d' % (conf, line_of(conf, "lbguard_drain maybe")) in err, err)

    rc, err, conf = nginx_t(d, R.nginx_conf(d, 1, None, workers=1, build=build,
                                             shutdown_timeout="1s"))
    want = ("lbguard: drain: worker_shutdown_timeout 1s is shorter than the load balancer idle "
            "timeout + margin 4s of the block at %s:%d: when it fires, an old worker closes the "
            "keep-alive connections it still keeps and a load balancer request on one of them "
            "gets a reset (502); remove worker_shutdown_timeout or set it to 4s or more"
            % (conf, line_of(conf, "server {")))
    res.eq("nginx -t: worker_shutdown_timeout 1s accepted", rc, 0)
    res.check("nginx -t: worker_shutdown_timeout 1s < LB idle 3s + margin 1s warned (file:line)",
              "[warn] " + want in err, err)

    for wst, drain in (("4s", None), ("1s", "off")):
        rc, err, _ = nginx_t(d, R.nginx_conf(d, 1, drain, workers=1, build=build,
                                             shutdown_timeout=wst))
        res.check("nginx -t: no drain warning with worker_shutdown_timeout %s, lbguard_drain %s"
                  % (wst, drain or "(default)"), rc == 0 and "lbguard: drain:" not in err, err)


# ---------------------------------------------------- 2. nginx, raw sockets --

def get(s):
    """One GET on socket s; returns the response bytes (framed by
    Content-Length)."""
    s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf or len(buf.split(b"\r\n\r\n", 1)[1]) < 3:
        b = s.recv(4096)
        if not b:
            break
        buf += b
    return buf


def closed_within(s, timeout):
    """Seconds until the server closes s (recv returns b"" or a reset), or
    None when it is still open after `timeout`."""
    t0 = time.monotonic()
    s.settimeout(timeout)
    try:
        b = s.recv(4096)
    except socket.timeout:
        return None
    except ConnectionResetError:
        return time.monotonic() - t0
    return time.monotonic() - t0 if b == b"" else -1.0


def wait_gone(pids, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if not any(os.path.exists("/proc/%d" % p) for p in pids):
            return time.monotonic() - t0
        time.sleep(0.01)
    return None


def drain_lines(log):
    return [re.sub(r"^\*\d+ ", "", ln.split("] ", 1)[1].split(": ", 1)[1])
            for ln in log.splitlines() if "lbguard: drain:" in ln]


PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
OUTCOMES = ("request", "client-close", "client-reset", "idle-limit", "shutdown-timeout",
            "server-close", "mpm-restart", "mpm-stopping", "mpm-busy")


def drain_metrics(res, label, port, want):
    """Scrapes /lbguard-status on `port` (raw socket): the
    lbguard_drain_connections_total family must be exactly `want`
    ({outcome: n}, every other outcome 0), and the whole output must pass
    promtool check metrics."""
    raw = lbgtest.raw_exchange(port, b"GET /lbguard-status HTTP/1.1\r\nHost: t\r\n"
                               b"Connection: close\r\n\r\n", mark_timeout=True)
    head, _, body = raw.partition(b"\r\n\r\n")
    res.check("%s: status page served" % label, head.startswith(b"HTTP/1.1 200 "), raw[:200])
    text = body.decode("utf-8", "replace")
    got = {}
    for ln in text.splitlines():
        m = re.match(r'^lbguard_drain_connections_total\{outcome="([a-z-]+)"\} (\d+)$', ln)
        if m:
            got[m.group(1)] = int(m.group(2))
    res.eq("%s: lbguard_drain_connections_total{outcome}" % label, got,
           {o: want.get(o, 0) for o in OUTCOMES})
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    res.check("%s: promtool check metrics passes" % label, r.returncode == 0,
              r.stdout.decode("utf-8", "replace"))


def run_nginx_raw(res):
    d = C.workdir("drain-raw", build)
    port = lbgtest.free_port()
    kw = dict(workers=1, lb_idle=2, margin=1, keepalive="30s", status=True)
    t = R.NginxTarget(build, d, port, drain=None, **kw)
    try:
        old = R.switch(t, 5, drain=None, **kw)
        res.check("nginx: reload with no connection open: old worker exits at once (< 1 s)",
                  old is not None and old < 1.0, "took %r s" % old)

        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        for i, s in enumerate(conns, 1):
            r = get(s)
            res.check("nginx: keep-alive response before the reload (connection %d)" % i,
                      b"Connection: keep-alive" in r, r)
        last = time.monotonic()
        a, b, c = conns
        workers = t.workers()
        n = t.log().count("gracefully shutting down")
        t.reload()
        lbgtest.wait_for(lambda: t.log().count("gracefully shutting down") > n, 5,
                         "the old worker's graceful shutdown")
        lbgtest.wait_for(lambda: set(t.workers()) - set(workers), 5, "the new worker")
        res.check("nginx: the old worker is still there after the reload (connections kept)",
                  all(os.path.exists("/proc/%d" % p) for p in workers))
        r = get(a)
        res.check("nginx: request on a kept connection: 200 with Connection: close",
                  r.startswith(b"HTTP/1.1 200 ") and b"\r\nConnection: close\r\n" in r, r)
        res.check("nginx: the kept connection is closed after that response",
                  closed_within(a, 2.0) is not None)
        b.close()
        gone = closed_within(c, 6.0)
        idle = time.monotonic() - last
        res.check("nginx: an idle kept connection is closed at LB idle + margin (3 s), not at "
                  "keepalive_timeout 30s", gone is not None and 2.9 <= idle <= 4.0,
                  "closed after %.2f s idle" % idle)
        w = wait_gone(workers, 2.0)
        res.check("nginx: the old worker exits once its last kept connection has ended",
                  w is not None, "still alive")
        lines = drain_lines(t.log())
        res.eq("nginx: drain log lines, in order", [re.sub(r"(after|exiting) [0-9.]+s", r"\1 Xs", x)
                                                    .split(" while keepalive")[0] for x in lines],
               ["lbguard: drain: worker shutting down, 3 idle keep-alive connections kept until "
                "the client's next request (answered with \"Connection: close\"), its close, or "
                "3s idle",
                "lbguard: drain: kept connection: request received, answered with \"Connection: "
                "close\", after Xs idle",
                "lbguard: drain: kept connection: closed by the client, after Xs idle",
                "lbguard: drain: kept connection: closed: idle limit reached (load balancer idle "
                "timeout + margin, or keepalive_timeout), after Xs idle",
                "lbguard: drain: worker exiting Xs after shutdown began; 3 kept connections: 1 "
                "answered a request with \"Connection: close\", 1 closed by the client, 0 reset "
                "by the client, 1 reached the idle limit, 0 closed by worker_shutdown_timeout; "
                "0 idle connections closed by nginx (lbguard_drain off)"])
        # the counters of the old worker, read from the new one after the
        # reload: what the client did, and what the log lines say
        drain_metrics(res, "nginx, after the reload", port,
                      {"request": 1, "client-close": 1, "idle-limit": 1})

        # nginx -s quit: the master exits once the kept connection has ended
        e = socket.create_connection(("127.0.0.1", port))
        get(e)
        t0 = time.monotonic()
        os.kill(t.pid, signal.SIGQUIT)
        gone = closed_within(e, 6.0)
        t.p.p.wait(6)
        took = time.monotonic() - t0
        res.check("nginx -s quit: kept connection closed by the idle limit, nginx exits by LB "
                  "idle + margin", gone is not None and t.p.poll() == 0 and took < 4.5,
                  "took %.2f s, rc %r" % (took, t.p.poll()))
    finally:
        t.p.stop()

    # lbguard_drain off, and detect (a report): nginx closes the idle
    # connection at the reload
    for drain, mode in (("off", "repair"), (None, "detect")):
        d = C.workdir("drain-raw-%s" % mode, build)
        port = lbgtest.free_port()
        t = R.NginxTarget(build, d, port, drain=drain, mode=mode, **kw)
        try:
            s = socket.create_connection(("127.0.0.1", port))
            get(s)
            workers = t.workers()
            t.reload()
            gone = closed_within(s, 3.0)
            res.check("nginx, lbguard %s, lbguard_drain %s: the idle connection is closed at "
                      "the reload" % (mode, drain or "(default)"), gone is not None and gone < 2.0,
                      "closed after %r s" % gone)
            wait_gone(workers, 3.0)
            lines = drain_lines(t.log())
            if mode == "detect":
                res.eq("nginx, lbguard detect: the drain reports what nginx closes",
                       [re.sub(r"(after|exiting) [0-9.]+s", r"\1 Xs", x).split(" while keepalive")[0]
                        for x in lines],
                       ["lbguard: drain: worker shutting down, nginx closes 1 idle keep-alive "
                        "connections now: a load balancer request sent on one of them gets a "
                        "reset (502); lbguard_drain on keeps them (detect mode)",
                        "lbguard: drain: idle keep-alive connection: closed by nginx at shutdown: "
                        "a load balancer request sent on it gets a reset (502), after Xs idle",
                        "lbguard: drain: worker exiting Xs after shutdown began; 0 kept "
                        "connections: 0 answered a request with \"Connection: close\", 0 closed "
                        "by the client, 0 reset by the client, 0 reached the idle limit, 0 closed "
                        "by worker_shutdown_timeout; 1 idle connections closed by nginx "
                        "(lbguard_drain off)"])
                drain_metrics(res, "nginx, lbguard detect, after the reload", port,
                              {"server-close": 1})
            else:
                res.eq("nginx, lbguard_drain off: no drain log line", lines, [])
                drain_metrics(res, "nginx, lbguard_drain off, after the reload", port, {})
        finally:
            t.p.stop()


def run_apache_raw(res):
    """Apache, LBGuardDrain Off (report only): idle keep-alive connections
    closed early by a graceful restart;
    lbguard_drain_connections_total{outcome="mpm-restart"} equals the
    connections the client saw closed and the log lines."""
    if C.apache_module(build) is None:
        res.skipTest("build/apache/mod_lbguard.so missing (make apache)")
    d = C.workdir("drain-apache-raw", build)
    port = lbgtest.free_port()
    t = R.ApacheTarget(build, d, port, extra='LBGuardDrain Off\n<Location "/lbguard-status">\n'
                       '  SetHandler lbguard-status\n</Location>\n')
    try:
        lbgtest.wait_for(lambda: len(t.workers()) >= 2, 5, "2 Apache children")
        conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        for i, s in enumerate(conns, 1):
            r = get(s)
            res.check("apache: keep-alive response before the graceful restart (connection %d)" % i,
                      r.startswith(b"HTTP/1.1 200 ") and b"Connection: close" not in r, r)
        old = t.workers()
        t.reload()
        closed = sum(1 for s in conns if closed_within(s, 5.0) is not None)
        for s in conns:
            s.close()
        res.eq("apache: idle connections closed by the graceful restart", closed, 3)
        wait_gone(old, 10.0)
        lbgtest.wait_port(port, proc=t.p)
        n = t.log().count("closed early by the event MPM")
        res.eq("apache: early-close log lines", n, 3)
        drain_metrics(res, "apache, after the graceful restart", port, {"mpm-restart": n})
    finally:
        t.p.stop()


def run_apache_idle_limit(res):
    """Apache, the drain default with KeepAliveTimeout 30 s (longer than LB
    idle 3 s + margin 1 s): an idle connection kept across a graceful
    restart is closed by lbguard's drain thread LB idle + margin after its
    last response, not at KeepAliveTimeout, and the old child then exits."""
    if C.apache_module(build) is None:
        res.skipTest("build/apache/mod_lbguard.so missing (make apache)")
    d = C.workdir("drain-apache-idle", build)
    port = lbgtest.free_port()
    t = R.ApacheTarget(build, d, port, extra="KeepAliveTimeout 30\n")
    try:
        lbgtest.wait_for(lambda: t.workers(), 5, "an Apache child")
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(20)
        r = get(s)
        t0 = time.monotonic()
        res.check("apache, idle limit: keep-alive response", r.startswith(b"HTTP/1.1 200 ")
                  and b"Connection: close" not in r, r)
        old = set(t.workers())
        t.reload()
        try:
            rest = s.recv(100)
        except OSError as e:
            rest = repr(e).encode()
        secs = time.monotonic() - t0
        s.close()
        print("measured: kept idle connection closed %.3f s after its response" % secs)
        res.check("apache, idle limit: closed at LB idle + margin (4 s) after its response, "
                  "not KeepAliveTimeout 30 s (%.3f s)" % secs,
                  rest == b"" and 3.9 <= secs < 6.0, rest)
        wait_gone(old, 5.0)
        res.eq("apache, idle limit: the old child exited", set(t.workers()) & old, set())
        res.eq("apache, idle limit: no early-close line",
               t.log().count("closed early by the event MPM"), 0)
        res.check("apache, idle limit: the child's summary line",
                  re.search(r"lbguard: drain: child \d+ exiting: 1 idle keep-alive connections kept "
                            r"while it stopped: 0 answered a request with \"Connection: close\", 0 "
                            r"closed by the client, 1 reached the idle limit \(load balancer idle "
                            r"timeout \+ margin\)", t.log()) is not None, t.log()[-1500:])
    finally:
        t.p.stop()


# ------------------------------------------------------ 3./4. under load ----

def fmt(r):
    return "%d/%d" % (r["failures"], r["requests"])


def add_totals(totals, arm, out):
    """Adds a phase's results ({lb: wrk result}) to totals[(arm, lb)] =
    [failures, requests]; returns out's items."""
    for lb, r in out.items():
        totals[(arm, lb)][0] += r["failures"]
        totals[(arm, lb)][1] += r["requests"]
    return out.items()


def lifetimes(xs, digits, who, after):
    """'old <who> lived MIN-MAX s after their <after> (median M s, N <who>)'
    of the lifetimes xs (seconds, `digits` decimals)."""
    return ("old %s lived %.*f-%.*f s after their %s (median %.*f s, %d %s)"
            % (who, digits, min(xs), digits, max(xs), after, digits,
               sorted(xs)[len(xs) // 2], len(xs), who))


def stop_all(watch, procs, t):
    """Stops the watch (if any), the LB processes and the target, by PID."""
    if watch:
        watch.stop()
    for p in procs:
        p.stop()
    t.p.stop()


def run_nginx_load(res):
    wd = C.workdir("drain-nginx", build)
    bp = lbgtest.free_port()
    t = R.NginxTarget(build, os.path.join(wd, "target"), bp, drain="on")
    ports, procs = R.start_lbs(wd, bp)
    watch = None
    try:
        lbpids = [procs[0].pid] + lbgtest.wait_for(lambda: R.children(procs[1].pid), 5,
                                                   "nginx LB worker")
        totals = {(arm, lb): [0, 0] for arm in ("off", "on") for lb in ports}
        reload_times = {"off": [], "on": []}
        watch = R.Watch(t.pid)
        for i in range(PHASES * 2):
            arm = ("off", "on")[i % 2]
            R.switch(t, 10, drain=arm)
            out, times = R.phase(t, wd, ports, "%d-%s" % (i, arm), RELOADS, INTERVAL, seed=i + 1)
            reload_times[arm] += times
            for lb, r in add_totals(totals, arm, out):
                print("  nginx phase %d drain %-3s via %-7s: %d reloads, %s failed "
                      "(non-2xx %d, read %d, connect %d, write %d, timeout %d)"
                      % (i, arm, lb, RELOADS, fmt(r), r["non2xx"], r["read"], r["connect"],
                         r["write"], r["timeout"]))
            sys.stdout.flush()
        watch.stop()
        alive = set(t.workers())
        life_on = watch.lifetimes_after(t.reloads, reload_times["on"], alive)
        on_life = [x for x in life_on if x is not None]
        for lb in ports:
            off, on = totals[("off", lb)], totals[("on", lb)]
            n = PHASES * RELOADS
            res.check("nginx via %s, drain off: failures in the run (%d reloads)" % (lb, n),
                      off[0] > 0, "0 failures: the test cannot see the race")
            res.eq("nginx via %s, drain on: failures (%d reloads)" % (lb, n), on[0], 0)
            summary.append("nginx 2 workers via %-7s SIGHUP every %.1fs: drain off %d/%d failed "
                           "(%.2f per reload), on %d/%d over %d reloads each"
                           % (lb, INTERVAL, off[0], off[1], off[0] / n, on[0], on[1], n))
        res.check("nginx, drain on: every old worker of the on phases exited within LB idle + "
                  "margin (4 s) + 1 s", on_life and max(on_life) <= 5.0,
                  "lifetimes %s" % sorted(on_life)[-5:])
        if on_life:
            summary.append("nginx, drain on: " + lifetimes(on_life, 3, "workers", "reload"))

        # control: frozen LBs; worker_shutdown_timeout 1s must fail, on alone must not
        for name, kw in (("wst", dict(drain="on", shutdown_timeout="1s")),
                         ("on", dict(drain="on"))):
            R.switch(t, 10, **kw)
            out, _ = R.frozen_phase(t, wd, ports, lbpids, "frozen-" + name, FROZEN)
            if name == "wst":
                # The control must see the timer's closes through at least one
                # LB. Per LB it cannot be required: HAProxy 2.6 usually reads
                # an idle connection's FIN when it resumes, before it reuses
                # that connection, so it shows 0 to 45 failures in 6 reloads
                # (0 in 1 of the 25 runs on record; nginx as the LB: 100 to 126).
                res.check("control: nginx via %s, drain on + worker_shutdown_timeout 1s, LBs "
                          "frozen across reloads: failures" % " and ".join(sorted(out)),
                          sum(r["failures"] for r in out.values()) > 0,
                          "0 failures: the control cannot see the shutdown timer")
            for lb, r in out.items():
                print("  nginx frozen-LB phase, drain on%s via %-7s: %d reloads, %s failed"
                      % (" + worker_shutdown_timeout 1s" if name == "wst" else "", lb, FROZEN,
                         fmt(r)))
                if name != "wst":
                    res.eq("nginx via %s, drain on, LB frozen across reloads: failures" % lb,
                           r["failures"], 0)
                summary.append("frozen LB, %d reloads, drain on%s via %-7s: %s failed"
                               % (FROZEN, " + worker_shutdown_timeout 1s" if name == "wst" else "",
                                  lb, fmt(r)))
        log = t.log()
        res.eq("nginx under load: no alert or open socket left",
               [ln for ln in log.splitlines() if "[alert]" in ln or "open socket" in ln][:3], [])
        res.check("nginx under load: worker_shutdown_timeout closes logged",
                  "closed by worker_shutdown_timeout" in log)
    finally:
        stop_all(watch, procs, t)


def run_apache_load(res):
    if C.apache_module(build) is None:
        res.skipTest("build/apache/mod_lbguard.so missing (make apache)")
    wd = C.workdir("drain-apache", build)
    bp = lbgtest.free_port()
    extra = {"Off": "LBGuardDrain Off\n", "default": ""}
    t = R.ApacheTarget(build, os.path.join(wd, "target"), bp, extra=extra["Off"])
    ports, procs = R.start_lbs(wd, bp)
    watch = None
    try:
        totals = {(arm, lb): [0, 0] for arm in extra for lb in ports}
        logged = {arm: 0 for arm in extra}
        restarts = {arm: [] for arm in extra}
        watch = R.Watch(t.pid)
        for i in range(PHASES * 2):
            arm = ("Off", "default")[i % 2]
            t.write(extra[arm])
            R.switch(t, 15)
            before = t.log().count("closed early by the event MPM")
            out, times = R.phase(t, wd, ports, "ap%d-%s" % (i, arm), AP_RELOADS, AP_INTERVAL,
                                 seed=i + 1)
            restarts[arm] += times
            logged[arm] += t.log().count("closed early by the event MPM") - before
            for lb, r in add_totals(totals, arm, out):
                print("  apache phase %d LBGuardDrain %-7s via %-7s: %d graceful restarts, %s "
                      "failed" % (i, arm, lb, AP_RELOADS, fmt(r)))
            sys.stdout.flush()
        watch.stop()
        alive = set(t.workers())
        life = [x for x in watch.lifetimes_after(t.reloads, restarts["default"], alive)
                if x is not None]
        n = PHASES * AP_RELOADS
        for lb in ports:
            off, on = totals[("Off", lb)], totals[("default", lb)]
            res.check("apache via %s, LBGuardDrain Off (report only): failures in the run "
                      "(%d restarts)" % (lb, n), off[0] > 0,
                      "0 failures: the test cannot see the kills")
            res.eq("apache via %s, drain default (on): failures (%d restarts)" % (lb, n),
                   on[0], 0)
            summary.append("apache event MPM via %-7s graceful every %.0fs: LBGuardDrain Off "
                           "(report) %d/%d failed (%.2f per restart), default (on) %d/%d over %d "
                           "restarts each" % (lb, AP_INTERVAL, off[0], off[1], off[0] / n, on[0],
                                              on[1], n))
        res.check("apache, LBGuardDrain Off: early keep-alive closes logged", logged["Off"] > 0,
                  repr(logged))
        res.eq("apache, drain default (on): no early close", logged["default"], 0)
        summary.append("apache: early closes logged: LBGuardDrain Off %d, default (on) %d"
                       % (logged["Off"], logged["default"]))
        res.check("apache, drain default (on): old children exit once the LBs close their idle "
                  "connections (<= 10 s)", life and max(life) <= 10.0,
                  "lifetimes %s" % sorted(life)[-5:])
        if life:
            summary.append("apache, drain default (on): " + lifetimes(life, 2, "children", "restart"))
        log = t.log()
        res.check("apache: per-child summary line",
                  re.search(r"lbguard: drain: child \d+ exiting: the event MPM closed \d+ idle "
                            r"keep-alive connections early \(\d+ graceful restart, \d+ child "
                            r"stopping, \d+ workers busy\)", log) is not None)
        res.check("apache: the reason is the graceful restart",
                  "graceful restart (the child belongs to an old generation)" in log)
        res.eq("apache: no crash or error line",
               [ln for ln in log.splitlines()
                if re.search(r":(error|crit|alert|emerg)\]|Segmentation|exit signal", ln)][:3], [])
    finally:
        stop_all(watch, procs, t)


def run_apache_startup(res):
    if C.apache_module(build) is None:
        res.skipTest("build/apache/mod_lbguard.so missing (make apache)")
    d = C.workdir("drain-apache-conf", build)
    port = lbgtest.free_port()
    t = R.ApacheTarget(build, d, port, extra="MaxSpareThreads 75\nMaxConnectionsPerChild 1000\n")
    try:
        conf = t.conf
        lbgtest.wait_for(lambda: "lbguard: drain: AsyncRequestWorkerFactor" in t.log(), 5,
                         "the startup lines")
        log = t.log()
        want = [
            "lbguard: drain: MaxSpareThreads 75 (%s:%d) is below MaxRequestWorkers 200: when the "
            "load drops the event MPM retires a child, which closes all its idle keep-alive "
            "connections at once and a load balancer request sent on one of them gets no "
            "response (502); set MaxSpareThreads 200" % (conf, line_of(conf, "MaxSpareThreads 75")),
            "lbguard: drain: MaxConnectionsPerChild 1000 (%s:%d): a child that reaches it closes "
            "all its idle keep-alive connections at once and a load balancer request sent on one "
            "of them gets no response (502); set MaxConnectionsPerChild 0"
            % (conf, line_of(conf, "MaxConnectionsPerChild 1000")),
        ]
        for w in want:
            res.check("apache startup warns: %s" % w.split("drain: ")[1].split(" ")[0],
                      w in log, log[-2000:])
        res.check("apache startup: AsyncRequestWorkerFactor with file:line",
                  "lbguard: drain: AsyncRequestWorkerFactor 4 (%s:%d)"
                  % (conf, line_of(conf, "AsyncRequestWorkerFactor")) in log)
        p = subprocess.run([C.APACHE, "-t", "-f", conf], capture_output=True, text=True)
        res.check("apache2 -t shows the MaxSpareThreads warning", want[0] in p.stderr,
                  p.stderr[-1500:])
        # Timeout below LB idle + margin (3 s + 1 s) in the main server: the
        # server named as in the keep-alive line (it was "the main server
        # at -:0"), the limit and what Repair raises it to in seconds
        short = os.path.join(d, "timeout.conf")
        with open(conf) as f, open(short, "w") as g:
            g.write(f.read() + "Timeout 2\n")
        p = subprocess.run([C.APACHE, "-t", "-f", short], capture_output=True, text=True)
        res.check("apache2 -t: Timeout 2 in the main server, raised",
                  'lbguard: drain: Timeout 2s in main server "127.0.0.1" is '
                  "shorter than the load balancer idle timeout + margin 4s; it bounds the idle "
                  "wait of the connections a stopping child keeps: raised to 4s\n" in p.stderr,
                  p.stderr[-1500:])
        # graceful-stop (SIGWINCH) still stops Apache, with an idle connection open
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /p1 HTTP/1.1\r\nHost: t\r\n\r\n")
        lbgtest.wait_for(lambda: s.recv(4096), 5, "a response")
        t0 = time.monotonic()
        os.kill(t.pid, signal.SIGWINCH)
        t.p.p.wait(15)
        res.check("apache graceful-stop: the parent exits", t.p.poll() is not None,
                  "took %.1f s" % (time.monotonic() - t0))
        s.close()
    finally:
        t.p.stop()

    # The default (LBGuard Repair + LBGuardLBIdleTimeout): the idle
    # connection survives graceful-stop until its next request, answered
    # with Connection: close; then Apache exits
    d = C.workdir("drain-apache-on", build)
    port = lbgtest.free_port()
    t = R.ApacheTarget(build, d, port, extra="")
    try:
        lbgtest.wait_for(lambda: "lbguard: drain: on (" in t.log(), 5, "the startup line")
        res.check("apache, drain default (on): startup line",
                  "lbguard: drain: on (LBGuard Repair with LBGuardLBIdleTimeout): idle HTTP/1.x "
                  "keep-alive connections wait for their next request in the event MPM's "
                  "CONN_STATE_ASYNC_WAITIO, which a stopping child (graceful restart, "
                  "graceful-stop, retirement) and busy workers do not close; each is closed at "
                  "its KeepAliveTimeout while the child runs, and a stopping child keeps it until "
                  "the load balancer's next request (answered with \"Connection: close\"), its "
                  "close, or the load balancer idle timeout + margin (bounded by Timeout)"
                  in t.log())
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(5)
        req = b"GET /p1 HTTP/1.1\r\nHost: t\r\n\r\n"
        s.sendall(req)
        r1 = s.recv(4096)
        s.sendall(req)
        r2 = s.recv(4096)
        res.check("apache, drain default (on): keep-alive between requests",
                  r1.startswith(b"HTTP/1.1 200") and r2.startswith(b"HTTP/1.1 200")
                  and b"Connection: close" not in r2, r2)
        os.kill(t.pid, signal.SIGWINCH)
        lbgtest.wait_for(lambda: "caught SIGWINCH" in t.log(), 5, "graceful-stop")
        time.sleep(0.5)   # the child has begun stopping (not a readiness wait: the old
        #                   code closed the connection here)
        s.sendall(req)
        r3 = b""
        try:
            while True:
                b = s.recv(4096)
                if not b:
                    break
                r3 += b
        except OSError as e:
            r3 += repr(e).encode()
        res.check("apache, drain default (on), graceful-stop: the kept connection's next request "
                  "is answered with Connection: close, then closed",
                  r3.startswith(b"HTTP/1.1 200") and b"\r\nConnection: close\r\n" in r3
                  and r3.endswith(b"p=%d\n" % s.getsockname()[1]), r3)
        t0 = time.monotonic()
        t.p.p.wait(15)
        res.check("apache, drain default (on): graceful-stop then exits (< 5 s)",
                  t.p.poll() is not None and time.monotonic() - t0 < 5.0,
                  "took %.1f s" % (time.monotonic() - t0))
        res.check("apache, drain default (on), graceful-stop: the child's summary line",
                  re.search(r"lbguard: drain: child \d+ exiting: 1 idle keep-alive connections kept "
                            r"while it stopped: 1 answered a request with \"Connection: close\", 0 "
                            r"closed by the client, 0 reached the idle limit", t.log()) is not None,
                  t.log()[-1500:])
        s.close()
    finally:
        t.p.stop()


def run_inflight(res):
    """--inflight (a measurement, not run by default): drain on, 1 request in
    16 a 512 KB response at limit_rate 256k, so that responses whose header
    went out with keep-alive before a reload finish after it; nginx 1.22
    closes those after the last byte (ngx_http_finalize_connection), a
    window no module hook reaches. Prints the failures per LB."""
    wd = C.workdir("drain-inflight", build)
    bp = lbgtest.free_port()
    body = os.path.join(wd, "big")
    with open(body, "wb") as f:
        f.write(b"x" * 524288)
    t = R.NginxTarget(build, os.path.join(wd, "target"), bp, drain="on")
    with open(t.conf) as f:
        text = f.read().replace(
            'location / { return 200 "ok\\n"; }',
            'location / { return 200 "ok\\n"; }\n    location = /big { alias %s; '
            'limit_rate 256k; default_type application/octet-stream; }' % body)
    with open(t.conf, "w") as f:
        f.write(text)
    t.write = lambda **kw: None
    R.switch(t, 10)
    ports, procs = R.start_lbs(wd, bp)
    lua = R.WRK_LUA
    R.WRK_LUA = lua + """
local n = 0
request = function()
  n = n + 1
  if n %% 16 == 0 then return wrk.format(nil, "/big") end
  return wrk.format(nil, "/")
end
"""
    try:
        out, _ = R.phase(t, wd, ports, "inflight", 2 * RELOADS, INTERVAL)
        for lb, r in out.items():
            summary.append("in-flight residual, drain on, %d reloads, 1 in 16 responses 512 KB at "
                           "256 KB/s, via %-7s: %s failed" % (2 * RELOADS, lb, fmt(r)))
        res.check("in-flight measurement ran", all(r["requests"] > 0 for r in out.values()))
    finally:
        R.WRK_LUA = lua
        for p in procs:
            p.stop()
        t.p.stop()


class DrainTest(lbgtest.TestCase):
    """The parts of the module docstring, in the order of the method names."""

    suite = "drain"

    @classmethod
    def setUpClass(cls):
        global build
        super().setUpClass()
        build = cls.build
        lbgtest.require(os.path.join(build, "nginx-dynamic", "objs",
                                     "ngx_http_lbguard_filter_module.so"), "make nginx-dynamic")
        del summary[:]
        cls.t0 = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        if summary:
            print("\nDrain under load (counts: failed/requests as the wrk clients saw them):")
            for ln in summary:
                print("  " + ln)
        print("suite time %.0f s" % (time.monotonic() - cls.t0))
        super().tearDownClass()

    def test_1_config(self):
        run_config(self)

    def test_2_nginx_raw(self):
        run_nginx_raw(self)

    def test_3_apache_raw(self):
        run_apache_raw(self)

    def test_4_apache_idle_limit(self):
        run_apache_idle_limit(self)

    def test_4b_apache_startup(self):
        run_apache_startup(self)

    def test_5_nginx_load(self):
        run_nginx_load(self)

    def test_6_apache_load(self):
        run_apache_load(self)

    def test_7_inflight(self):
        if os.environ.get("LBG_DRAIN_INFLIGHT") != "1":
            self.skipTest("a measurement, not a test: LBG_DRAIN_INFLIGHT=1 runs it")
        run_inflight(self)


if __name__ == "__main__":
    lbgtest.main()
