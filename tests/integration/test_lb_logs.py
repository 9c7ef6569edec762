#!/usr/bin/env python3
"""`lbguard logs` end to end: real HAProxy 2.6 logs (`option httplog`) of the
keep-alive race and of malformed responses, joined with the target nginx's
access log by a request id.

Chain: client -> HAProxy (option httplog to a file; unique-id-format gives
every request an id, sent to the target as X-Request-Id and captured into
the log line's {...}) -> nginx target with the lbguard module loaded but
not acting on responses (`lbguard off` for the race, `lbguard detect` for
the malformed responses: detect only logs, the bytes reach HAProxy as the
backend wrote them), access log `rid=$http_x_request_id
lbguard=$lbguard_findings`.

  * race: the lb_race staircase (target keep-alive 1 s), N requests; the
    client counts the 502s it gets. `lbguard logs --json` on the HAProxy
    log must count exactly that many keepalive-race (all confirmed by the
    join: the target never logged their ids), and nothing else failed.
  * malformed: every lb_cases.CASES path of the nginx target, K times each;
    the client counts the 502s per path. malformed-response must equal
    their sum, every one confirmed, with the rules the target logged.
  * the same HAProxy log without --target-log: the counts hold (HAProxy's
    termination states SH/PH carry the cause), nothing is "confirmed".
  * Apache: the LogFormat of README/docs/logs.md on a real Apache with
    mod_lbguard (detect) logs the X-Amzn-Trace-Id and the findings; ALB 502
    lines joined with it: findings -> malformed-response, clean ->
    target-closed, never logged -> keepalive-race (when mod_lbguard is built).

The race and the malformed runs go on at the same time, in setUpClass.

Usage: python3 -m tests.integration.test_lb_logs [--build DIR] [-k NAME]
"""
import json
import os
import subprocess
import threading

from tests import lbgtest
from tests.lbgtest import lb_cases as K
from tests.lbgtest import lb_configs as C
from tests.lbgtest import lb_race

N = 400
M = 32
REPEAT = 3

# the target's access log: the request id HAProxy sends, lbguard's findings
ACCESS_FORMAT = ("'$remote_addr [$time_local] \"$request\" $status "
                 "rid=$http_x_request_id lbguard=$lbguard_findings'")


def logs(lbguard, args):
    r = subprocess.run([lbguard, "logs"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def classes(doc):
    return {c["id"]: c for c in doc["classes"]}


def wait_logged(log, n):
    """Waits until HAProxy's log (an httplog line per request, written when
    the stream ends, which can be after the client has its response) holds
    `n` request lines, so that stopping HAProxy loses none; gives up after
    10 s (the checks then show the count)."""
    try:
        lbgtest.wait_for(lambda: lbgtest.read_log(log).count(' "GET ') +
                         lbgtest.read_log(log).count(' "POST ') >= n, timeout=10,
                         what="%d requests in %s" % (n, log))
    except RuntimeError as e:
        print("NOTE %s" % e)


def run_race(build, wd):
    procs = []
    try:
        tp, lp = lbgtest.free_port(), lbgtest.free_port()
        procs.append(C.nginx_target(build, os.path.join(wd, "target"), tp, mode="off",
                                    keepalive="1s", lb_idle=None, log_format=ACCESS_FORMAT))
        procs.append(C.haproxy_lb(os.path.join(wd, "lb"), lp, tp, m=M, request_id=True))
        out = lb_race.staircase(lp, n=N, m=M, method="POST", body=1024)
        wait_logged(os.path.join(wd, "lb", "haproxy.log"), out.requests)
    finally:
        for p in reversed(procs):
            p.stop()
    print("race, lbguard off: %s" % out.line())
    return out


def run_malformed(build, wd):
    procs = []
    raw = lbgtest.RawBackend(K.RAW_ROUTES)
    seen = {}
    try:
        tp, lp = lbgtest.free_port(), lbgtest.free_port()
        locs = K.PERL_LOCATIONS.replace("@RAW@", str(raw.port))
        procs.append(C.nginx_target(build, os.path.join(wd, "target"), tp, mode="detect",
                                    keepalive="65s", lb_idle=None, locations=locs, perl=True,
                                    log_format=ACCESS_FORMAT))
        procs.append(C.haproxy_lb(os.path.join(wd, "lb"), lp, tp, m=1, request_id=True))
        for target, rule, path, off_status, _ in K.CASES:
            if target != "nginx":
                continue
            for _ in range(REPEAT):
                s = K.status_of(K.get(lp, path))
                seen[(path, rule)] = seen.get((path, rule), []) + [s]
        wait_logged(os.path.join(wd, "lb", "haproxy.log"), sum(len(v) for v in seen.values()))
    finally:
        for p in reversed(procs):
            p.stop()
        raw.stop()
    return seen


def alb_502(i, root):
    """A constructed ALB 502 of the race/closed shape with trace id `root`."""
    return ('http 2026-10-01T12:00:%02d.100000Z app/my-lb/1 192.0.2.1:4000 127.0.0.1:80 0.001 0.000 -1 '
            '502 - 10 10 "GET http://h:80/cgi-bin/x HTTP/1.1" "ua" - - arn:tg "Root=%s" "-" "-" 1 '
            '2026-10-01T12:00:%02d.099000Z "forward" "-" "-" "127.0.0.1:80" "-" "-" "-" TID_1 "-" "-" "-"'
            % (i, root, i))


class LbLogs(lbgtest.TestCase):
    suite = "lb_logs"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lbguard = lbgtest.require(os.path.join(cls.build, "lbguard"), "make cli")
        lbgtest.require(os.path.join(cls.build, "nginx-dynamic", "objs",
                                     "ngx_http_lbguard_filter_module.so"), "make nginx-dynamic")
        cls.wd = wd = C.workdir("lb_logs", cls.build)
        cls.out = out = {}
        ths = [threading.Thread(target=lambda: out.__setitem__("race", run_race(
                   cls.build, os.path.join(wd, "race")))),
               threading.Thread(target=lambda: out.__setitem__("bad", run_malformed(
                   cls.build, os.path.join(wd, "malformed"))))]
        for t in ths:
            t.start()
        for t in ths:
            t.join()

    def run_apache_join(self, wd):
        """The README's Apache LogFormat on a real Apache with mod_lbguard
        (detect): requests carrying X-Amzn-Trace-Id, then constructed ALB 502
        lines with those ids joined against Apache's access log."""
        d = os.path.join(wd, "target")
        port = lbgtest.free_port()
        alog = os.path.join(d, "logs", "lbg.log")
        fmt = ('LogFormat "%h %t \\"%r\\" %>s trace=\\"%{X-Amzn-Trace-Id}i\\" rid=%{X-Request-Id}i '
               'lbguard=%{lbguard-findings}n" lbg_join\nCustomLog ' + alog + ' lbg_join')
        p = C.apache_target(self.build, d, port, mode="detect", cgi=K.APACHE_CGI, lb_idle=None, extra=fmt)
        ids = ["1-6702a3c0-%024d" % i for i in range(3)]
        try:
            for path, root in (("/cgi-bin/ctl.cgi", ids[0]), ("/p1", ids[1])):
                lbgtest.raw_exchange(port, ("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                                            "X-Amzn-Trace-Id: Self=1-0-0;Root=%s\r\n\r\n"
                                            % (path, root)).encode(), timeout=5)
            lbgtest.wait_for(lambda: len(lbgtest.read_log(alog).splitlines()) >= 2, what="access log")
        finally:
            p.stop()
        lb = os.path.join(wd, "alb.log")
        with open(lb, "w") as f:
            f.write("\n".join(alb_502(i, r) for i, r in enumerate(ids)) + "\n")
        rc, so, _ = logs(self.lbguard, ["--json", "--target-log", alog, lb])
        doc = json.loads(so) if so.startswith("{") else {}
        cl = {c["id"]: c for c in doc.get("classes", [])}
        self.eq("apache join: classes (findings -> malformed, clean -> closed, absent -> race), "
                "all confirmed", {k: (v["count"], v["confirmed"]) for k, v in cl.items()},
                {"malformed-response": (1, 1), "target-closed": (1, 1), "keepalive-race": (1, 1)})
        self.eq("apache join: the findings Apache logged",
                [f["findings"].split(":")[0] for f in cl.get("malformed-response", {}).get("target_findings", [])],
                ["field-value-ctl"])

    def test_race(self):
        wd, out, lbguard = self.wd, self.out, self.lbguard
        if not self.check("race run completed", "race" in out, repr(sorted(out))):
            return
        # ---- race
        race = out["race"]
        hlog = os.path.join(wd, "race", "lb", "haproxy.log")
        tlog = os.path.join(wd, "race", "target", "access.log")
        self.eq("race: all %d requests sent" % N, race.requests, N)
        self.check("race: the client saw 502s (the race happened)", race.s502 > 0, race.line())
        self.eq("race: no other outcome", race.other, {})
        rc, so, se = logs(lbguard, ["--json", "--target-log", tlog, hlog])
        doc = json.loads(so) if so.startswith("{") else {}
        cl = classes(doc) if doc else {}
        self.eq("race: exit status 1 (target-fault class present)", rc, 1)
        self.eq("race: lb", doc.get("lb"), "haproxy")
        self.eq("race: requests logged by HAProxy", doc.get("totals", {}).get("requests"), N)
        kr = cl.get("keepalive-race", {})
        self.eq("race: keepalive-race count == 502s the client saw", kr.get("count"), race.s502)
        self.eq("race: every keepalive-race confirmed by the join (id not in the target log)",
                kr.get("confirmed"), race.s502)
        if race.closed == 0:
            self.eq("race: no other class", sorted(cl), ["keepalive-race"])
        else:   # a client connection closed without a 502: HAProxy's line for it, if any
            print("race: %d client connections closed with no response; classes %s"
                  % (race.closed, sorted(cl)))
        self.eq("race: 5xx total == 502s", doc.get("totals", {}).get("5xx"), race.s502)
        ka = doc.get("keepalive_estimate", {})
        self.check("race: keep-alive estimate within 0.9..1.1 s of the target's 1 s",
                   ka.get("seconds") is not None and 0.9 <= ka["seconds"] <= 1.1, repr(ka))
        # without the join the split is HAProxy's SH plus the time between the
        # end of connect and the abort; 100 ms instead of the default 10 ms
        # keeps a loaded CI machine's scheduling delays out of the count
        rc2, so2, _ = logs(lbguard, ["--json", "--race-max-tpt", "100ms", hlog])
        cl2 = classes(json.loads(so2)) if so2.startswith("{") else {}
        self.eq("race, no --target-log: keepalive-race count from SH + wait <= 100 ms",
                cl2.get("keepalive-race", {}).get("count"), race.s502)
        self.eq("race, no --target-log: nothing confirmed",
                cl2.get("keepalive-race", {}).get("confirmed"), 0)
        rc3, so3, _ = logs(lbguard, ["--lines", "--target-log", tlog, hlog])
        rows = [l.split("\t") for l in so3.splitlines() if l and not l.startswith("#")]
        self.eq("race: --lines has one row per 502", len(rows), race.s502)
        self.check("race: --lines rows are keepalive-race, 502, SH--, confirmed",
                   all(r[1] == "keepalive-race" and r[2] == "502" and r[11] == "SH--"
                       and r[12] == "confirmed" for r in rows), so3[:600])

        print("\nlbguard logs vs the client: keepalive-race %s (confirmed %s) = %d 502s; "
              "keep-alive estimate %s s" % (kr.get("count"), kr.get("confirmed"), race.s502,
                                            ka.get("seconds")))

    def test_malformed(self):
        wd, out, lbguard = self.wd, self.out, self.lbguard
        if not self.check("malformed run completed", "bad" in out, repr(sorted(out))):
            return
        # ---- malformed
        seen = out["bad"]
        hlog = os.path.join(wd, "malformed", "lb", "haproxy.log")
        tlog = os.path.join(wd, "malformed", "target", "access.log")
        client_502 = sum(v.count(502) for v in seen.values())
        want_502 = sum(REPEAT for t, r, p, off, _ in K.CASES if t == "nginx" and off["haproxy"] == 502)
        self.eq("malformed: 502s the client saw (lb_cases says %d)" % want_502, client_502, want_502)
        rc, so, se = logs(lbguard, ["--json", "--target-log", tlog, hlog])
        doc = json.loads(so) if so.startswith("{") else {}
        cl = classes(doc) if doc else {}
        mr = cl.get("malformed-response", {})
        self.eq("malformed: exit status 1", rc, 1)
        self.eq("malformed: malformed-response count == 502s the client saw", mr.get("count"),
                client_502)
        self.eq("malformed: every one confirmed by the target's lbguard findings",
                mr.get("confirmed"), client_502)
        self.eq("malformed: no other class", sorted(cl), ["malformed-response"])
        got_rules = set(x.split(":")[0] for f in mr.get("target_findings", [])
                        for x in f["findings"].split(","))
        want_rules = set(r for t, r, p, off, _ in K.CASES if t == "nginx" and off["haproxy"] == 502)
        self.eq("malformed: the rules the target logged for them include every defect's rule",
                sorted(want_rules - got_rules), [])
        rc2, so2, _ = logs(lbguard, ["--json", hlog])
        cl2 = classes(json.loads(so2)) if so2.startswith("{") else {}
        self.eq("malformed, no --target-log: count from HAProxy's PH",
                cl2.get("malformed-response", {}).get("count"), client_502)
        self.eq("malformed, no --target-log: basis documented (HAProxy PH), none confirmed",
                (cl2.get("malformed-response", {}).get("basis"),
                 cl2.get("malformed-response", {}).get("confirmed")), ("documented", 0))
        print("\nlbguard logs vs the client: malformed-response %s (confirmed %s) = %d 502s"
              % (mr.get("count"), mr.get("confirmed"), client_502))

    def test_apache_join(self):
        wd = self.wd
        lbgtest.require(os.path.join(self.build, "apache", "mod_lbguard.so"), "make apache")
        try:
            self.run_apache_join(os.path.join(wd, "apache"))
        except Exception as e:
            self.check("apache join: Apache starts", False, repr(e))


if __name__ == "__main__":
    lbgtest.main()
