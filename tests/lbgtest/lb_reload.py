"""lb_reload -- steady load through real load balancers while the target
reloads (nginx: SIGHUP) or restarts gracefully (Apache: SIGUSR1). Shared
by test_drain.py and demo.py ("reload under load"). Stdlib + wrk.

Topology (127.0.0.1, free ports, every process a lbgtest.Proc stopped by
its PID):

  wrk -c C (Connection: close, think time) -> HAProxy 2.6 --\
                                                             > target
  wrk -c C (Connection: close, think time) -> nginx (proxy) -/

HAProxy: http-reuse always, retries 0, no redispatch (lb_configs.haproxy_lb,
one backend). nginx as the LB: one upstream with a keep-alive pool of 64,
proxy_next_upstream off. Both keep idle upstream connections LB_IDLE s.
Every client request opens its own connection to the LB and says
"Connection: close", so a failure is a 502 (or a connection closed with no
response), never a silent retry; the LB keeps its upstream connections
pooled and idle between requests (think time), which is what a reload
closes.

A phase runs one target configuration ("arm") for R reloads: the target is
switched to the arm's configuration by one reload (not counted), the old
workers of the switch are waited for, then wrk runs while R reloads are
sent every `interval` s, and for a tail after the last one. What wrk saw
that was not a 200 (non-2xx responses, connect/read/write errors,
timeouts) is the failure count of that arm.
"""
import os
import re
import signal
import subprocess
import threading
import time

from tests.lbgtest import configs
from tests.lbgtest import lb_configs as C
from tests import lbgtest

WRK = "/usr/bin/wrk"

# The LBs' idle timeout for their upstream connections in these runs, and
# the lbguard_lb_idle_timeout / margin the target is told. Short, so that
# old workers that keep connections exit within seconds.
LB_IDLE = 3
MARGIN = 1

WRK_LUA = """wrk.headers["Connection"] = "close"
math.randomseed(%d)
function delay()
  return math.random(%d, %d)
end
"""


def children(pid):
    """PIDs whose parent is `pid` (from /proc), e.g. nginx workers."""
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % e) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(e))
    return out


class Watch:
    """Samples the children of `pid` every 20 ms: first and last time each
    was seen (monotonic s)."""

    def __init__(self, pid):
        self.pid = pid
        self.seen = {}
        self._stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self._stop:
            now = time.monotonic()
            for c in children(self.pid):
                f, _ = self.seen.get(c, (now, now))
                self.seen[c] = (f, now)
            time.sleep(0.02)

    def stop(self):
        self._stop = True
        self.t.join()

    def lifetimes_after(self, all_reloads, reloads, alive_now):
        """For each child retired by one of `reloads` (times; the first of
        `all_reloads` after its birth is the one that retired it): how long
        it lived after that reload. Retired children in alive_now count as
        alive (None)."""
        out = []
        wanted = set(reloads)
        for c, (first, last) in self.seen.items():
            retired = [r for r in sorted(all_reloads) if r > first]
            if not retired or retired[0] not in wanted or last < retired[0]:
                continue        # not retired by one of `reloads`
            out.append(None if c in alive_now else last - retired[0])
        return out


class Wrk:
    """wrk -t1 against 127.0.0.1:port/path for `seconds`, `conns`
    connections, Connection: close and a think time of lo..hi ms."""

    def __init__(self, d, name, port, seconds, conns=32, lo=1, hi=10, path="/", seed=1):
        script = os.path.join(d, "%s.lua" % name)
        with open(script, "w") as f:
            f.write(WRK_LUA % (seed, lo, hi))
        self.log = os.path.join(d, "%s.out" % name)
        if os.path.exists(self.log):
            os.unlink(self.log)
        self.p = lbgtest.Proc([WRK, "-t1", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "10s",
                               "-s", script, "http://127.0.0.1:%d%s" % (port, path)],
                              name="wrk-" + name, log=self.log)

    def result(self, timeout=60):
        """Waits for wrk, returns dict(requests, non2xx, connect, read,
        write, timeout, failures, text)."""
        self.p.p.wait(timeout)
        self.p.stop()
        text = lbgtest.read_log(self.log)
        r = dict(requests=0, non2xx=0, connect=0, read=0, write=0, timeout=0, text=text)
        m = re.search(r"(\d+) requests in", text)
        if m:
            r["requests"] = int(m.group(1))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        if m:
            r["non2xx"] = int(m.group(1))
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        if m:
            r["connect"], r["read"], r["write"], r["timeout"] = map(int, m.groups())
        r["failures"] = r["non2xx"] + r["read"] + r["write"] + r["timeout"] + r["connect"]
        return r


# ---------------------------------------------------------------- targets ---

def nginx_conf(d, port, drain, workers=2, shutdown_timeout=None, load=True, build=None,
               lb_idle=LB_IDLE, margin=MARGIN, mode="repair", keepalive="1s", status=False):
    """nginx.conf text for the target: `return 200`, lbguard `mode`,
    lbguard_lb_idle_timeout lb_idle s, margin s, keepalive_timeout
    `keepalive` (1s: raised by repair), lbguard_drain `drain` ("on", "off"
    or None: the default), `workers` workers, worker_shutdown_timeout if
    given; status: a `location = /lbguard-status { lbguard_status; }`."""
    return configs.nginx_reload_target_conf(
        d, port, drain, [C.nginx_module(build)] if load else [], workers, shutdown_timeout,
        lb_idle, margin, mode, keepalive, status)


class NginxTarget:
    """nginx (Debian's, foreground master) with the lbguard module, whose
    configuration can be switched between arms and reloaded."""

    def __init__(self, build, d, port, **kw):
        self.build, self.d, self.port = build, d, port
        self.reloads = []
        C._mkdirs(d, "temp")
        self.conf = os.path.join(d, "nginx.conf")
        self.write(**kw)
        self.p = lbgtest.Proc([C.NGINX, "-e", os.path.join(d, "error.log"), "-p", d,
                               "-c", self.conf], name="nginx-target",
                              log=os.path.join(d, "stdout.log"))
        lbgtest.wait_port(port, proc=self.p)
        self.pid = self.p.pid

    def write(self, **kw):
        with open(self.conf, "w") as f:
            f.write(nginx_conf(self.d, self.port, build=self.build, **kw))

    def reload(self):
        self.reloads.append(time.monotonic())
        os.kill(self.pid, signal.SIGHUP)

    def workers(self):
        return children(self.pid)

    def log(self):
        return lbgtest.read_log(os.path.join(self.d, "error.log"))


APACHE_MPM = """StartServers 2
ServerLimit 64
ThreadsPerChild 25
MaxRequestWorkers 200
MinSpareThreads 25
MaxSpareThreads 200
MaxConnectionsPerChild 0
AsyncRequestWorkerFactor 4
GracefulShutdownTimeout 10
"""


class ApacheTarget:
    """Apache (event MPM) + mod_lbguard in repair, LB idle LB_IDLE s,
    margin MARGIN s; `extra` lines appended (e.g. LBGuardDrain). Graceful
    restart = SIGUSR1 to the parent."""

    def __init__(self, build, d, port, extra=""):
        self.build, self.d, self.port = build, d, port
        self.reloads = []
        self.p = C.apache_target(build, d, port, mode="repair", keepalive=1, lb_idle=LB_IDLE,
                                 margin=MARGIN, extra=APACHE_MPM + extra)
        self.pid = self.p.pid
        self.conf = os.path.join(d, "httpd.conf")
        with open(self.conf) as f:
            self.base = f.read()
        self.extra = extra

    def write(self, extra=None):
        if extra is None:
            return
        with open(self.conf, "w") as f:
            f.write(self.base.replace(self.extra, extra) if self.extra else self.base + extra)
        self.base = self.base.replace(self.extra, extra) if self.extra else self.base + extra
        self.extra = extra

    def reload(self):
        self.reloads.append(time.monotonic())
        os.kill(self.pid, signal.SIGUSR1)

    def workers(self):
        return children(self.pid)

    def log(self):
        return lbgtest.read_log(os.path.join(self.d, "logs", "error.log"))


# -------------------------------------------------------------------- LBs ---

def nginx_lb(d, port, backend_port, idle=LB_IDLE, pool=64):
    """nginx as the LB: one upstream, keepalive `pool`, keepalive_timeout
    `idle` s, proxy_next_upstream off. Returns the Proc."""
    C._mkdirs(d, "temp")
    conf = configs.nginx_reload_lb_conf(d, port, backend_port, idle, pool)
    return C._start_nginx(d, conf, port, "nginx-lb")


def start_lbs(wd, backend_port):
    """HAProxy and nginx (as the LB) in front of backend_port. Returns
    ({"haproxy": port, "nginx": port}, [procs])."""
    hp, np_ = lbgtest.free_port(), lbgtest.free_port()
    h = C.haproxy_lb(os.path.join(wd, "haproxy"), hp, backend_port, m=1, idle=LB_IDLE)
    try:
        n = nginx_lb(os.path.join(wd, "nginx-lb"), np_, backend_port)
    except Exception:
        h.stop()
        raise
    return {"haproxy": hp, "nginx": np_}, [h, n]


def haproxy_502s(wd):
    """502 lines in HAProxy's log so far."""
    return len(re.findall(r'" ?\s502 |\s502\s', lbgtest.read_log(
        os.path.join(wd, "haproxy", "haproxy.log"))))


def switch(target, timeout, **kw):
    """Writes the target's configuration for an arm (kw) and reloads once:
    waits until the workers/children of before the reload are gone and new
    ones run. Returns the seconds the old ones took to exit, or None on
    timeout."""
    old = set(target.workers())
    target.write(**kw)
    t0 = time.monotonic()
    target.reload()
    while time.monotonic() - t0 < timeout:
        now = set(target.workers())
        if now and not (now & old):
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


def phase(target, wd, ports, name, reloads, interval, tail=2.0, conns=32, seed=1, lo=1, hi=10):
    """Runs wrk through every LB in `ports` while `reloads` reloads are sent
    to `target` every `interval` s; returns ({lb: wrk result}, [reload
    times])."""
    seconds = int(reloads * interval + tail + 1.5)
    wrks = {lb: Wrk(wd, "%s-%s" % (name, lb), port, seconds, conns=conns, seed=seed, lo=lo, hi=hi)
            for lb, port in ports.items()}
    time.sleep(1.0)                      # wrk has filled the LB pools
    for _ in range(reloads):
        target.reload()
        time.sleep(interval)
    return {lb: w.result() for lb, w in wrks.items()}, target.reloads[-reloads:]


def frozen_phase(target, wd, ports, lb_pids, name, reloads, interval=2.5, thaw=1.6,
                 conns=32, seed=1, lo=1, hi=10):
    """Like phase(), but the LBs are frozen (SIGSTOP to `lb_pids`) just
    before each reload and resumed (SIGCONT) `thaw` s after it. A frozen LB
    neither sends requests nor notices closes, so every upstream connection
    it had is still in its pool when it resumes. This widens the window in
    which an LB sends a request on a connection the target has just closed
    from tens of microseconds (loopback) to the freeze: under steady load
    an LB would otherwise have used (and so ended) every kept connection
    within milliseconds of the reload, long before worker_shutdown_timeout
    1s fires. Returns ({lb: wrk result}, [reload times])."""
    seconds = int(reloads * interval + 3.5)
    wrks = {lb: Wrk(wd, "%s-%s" % (name, lb), port, seconds, conns=conns, seed=seed, lo=lo, hi=hi)
            for lb, port in ports.items()}
    time.sleep(1.0)
    times = []
    try:
        for _ in range(reloads):
            for p in lb_pids:
                os.kill(p, signal.SIGSTOP)
            t0 = time.monotonic()
            target.reload()
            times.append(target.reloads[-1])
            time.sleep(thaw)
            for p in lb_pids:
                os.kill(p, signal.SIGCONT)
            time.sleep(max(0.0, t0 + interval - time.monotonic()))
    finally:
        for p in lb_pids:
            os.kill(p, signal.SIGCONT)
    return {lb: w.result() for lb, w in wrks.items()}, times
