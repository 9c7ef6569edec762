#!/usr/bin/env python3
"""gen_alb -- writes a synthetic AWS ALB access log (current 34-field layout)
for the `lbguard logs` bench and tests. Stdlib only; deterministic (--seed).

Per line: random client, one of 40 targets, one of 200 routes (ids in the
paths), browser-like user agents, ARNs, trace ids, TIDs (~650 bytes/line,
as the reference measurement of real lines). About 1 in 2000 lines is a
failed request, in a fixed mix: keep-alive races (502, tpt 0.000, rspt -1,
after an idle gap of >= 5 s on its target), target 5xx, connect failures,
target timeouts. The counts of each are printed on stderr as JSON.

Usage: gen_alb.py --lines N [--seed S] [--start 2026-10-01T12:00:00] > out.log
"""
import argparse
import datetime
import json
import random
import sys

UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "okhttp/4.12.0", "curl/8.5.0", "python-requests/2.32.3",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
]
TG = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/prod-web-targets/73e2d6bc24d8a067"
CERT = "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2026-10-01T12:00:00")
    ap.add_argument("--rate", type=float, default=400.0, help="requests per second")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    t0 = datetime.datetime.fromisoformat(a.start).replace(tzinfo=datetime.timezone.utc).timestamp()
    targets = ["10.0.%d.%d:8080" % (i // 20 + 1, i % 20 + 10) for i in range(40)]
    routes = []
    for i in range(200):
        m = "GET" if i % 5 else "POST"
        routes.append((m, "/api/v1/%s/%%d/%s" % (["orders", "users", "items", "carts"][i % 4], "x%d" % i)))
    last = {}
    counts = {"requests": 0, "keepalive-race": 0, "target-5xx": 0, "target-connect-failed": 0,
              "target-timeout": 0}
    out = sys.stdout
    buf = []
    for n in range(a.lines):
        t = t0 + n / a.rate
        tgt = targets[rnd.randrange(40)]
        m, r = routes[rnd.randrange(200)]
        path = r % rnd.randrange(1, 10**7)
        kind = None
        x = rnd.random()
        if x < 0.0005 and t - last.get(tgt, t0) >= 0:
            kind = "keepalive-race"
        elif x < 0.0007:
            kind = "target-5xx"
        elif x < 0.0008:
            kind = "target-connect-failed"
        elif x < 0.0009:
            kind = "target-timeout"
        created = t - 0.004
        if kind == "keepalive-race":
            # the target closed its idle connection: the LB reused it after
            # a quiet period of >= 5 s on this target
            created = max(t - 0.001, last.get(tgt, t - 6.0) + 5.0 + rnd.random())
            t = created + 0.001
            times, st, tst = ("0.001", "0.000", "-1"), "502", "-"
        elif kind == "target-5xx":
            times, st, tst = ("0.000", "0.012", "0.000"), "500", "500"
        elif kind == "target-connect-failed":
            times, st, tst = ("-1", "-1", "-1"), "502", "-"
        elif kind == "target-timeout":
            created = t - 60.0
            times, st, tst = ("0.001", "-1", "-1"), "504", "-"
        else:
            times = ("0.000", "%.3f" % (rnd.random() * 0.05), "0.000")
            st = tst = "200"
        if kind:
            counts[kind] += 1
        counts["requests"] += 1
        last[tgt] = t
        ts = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
        cs = datetime.datetime.fromtimestamp(created, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "000Z"
        root = "Root=1-%08x-%024x" % (int(t), rnd.getrandbits(96))
        buf.append(
            'https %s app/prod-web/50dc6c495c0c9188 %d.%d.%d.%d:%d %s %s %s %s %s %s %d %d '
            '"%s https://www.example.com:443%s HTTP/1.1" "%s" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 %s '
            '"%s" "www.example.com" "%s" 1 %s "forward" "-" "-" "%s" "%s" "-" "-" TID_%032x "-" "-" "-" 10.0.0.%d\n'
            % (ts, rnd.randrange(1, 224), rnd.randrange(256), rnd.randrange(256), rnd.randrange(256),
               rnd.randrange(1024, 65536), tgt, times[0], times[1], times[2], st, tst,
               rnd.randrange(200, 2000), rnd.randrange(200, 20000), m, path, UAS[rnd.randrange(len(UAS))],
               TG, root, CERT, cs, tgt, tst, rnd.getrandbits(128), n % 3 + 1))
        if len(buf) >= 4096:
            out.write("".join(buf))
            buf = []
    out.write("".join(buf))
    out.flush()
    sys.stderr.write(json.dumps(counts) + "\n")


if __name__ == "__main__":
    main()
