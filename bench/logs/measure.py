#!/usr/bin/env python3
"""measure.py LBGUARD LOG.gz -- the numbers of bench/logs/run.sh.

CPU seconds (user + sys, from each child's own rusage) and wall time of
  zcat LOG.gz > /dev/null
  lbguard logs LOG.gz > /dev/null          (one thread: inflate + parse + classify)
  lbguard logs --jobs 2 LOG.gz LOG.gz      (two files on two threads)
and the peak RSS of lbguard; ratio = zcat CPU / lbguard CPU (>= 1: lbguard
parses and classifies at least as fast as zcat only decompresses). Each
command runs 3 times, the fastest counts. The class counts are compared with those the generator
wrote (alb.counts.json). Then callgrind: instructions per
line of `lbguard logs` on the first 20000 lines, uncompressed.
"""
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def timed(argv):
    """Runs argv 3 times; returns (cpu s, wall s, peak RSS KB) of the run
    with the least CPU (the child's own rusage, from wait4)."""
    best = None
    for _ in range(3):
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode not in (0, 1):
            sys.exit("%s: exit %d" % (argv, p.returncode))
        cpu = ru.ru_utime + ru.ru_stime
        if best is None or cpu < best[0]:
            best = (cpu, wall, ru.ru_maxrss)
    return best


def main():
    lbg, log = sys.argv[1], sys.argv[2]
    raw = 0
    with gzip.open(log, "rb") as f:
        while True:
            b = f.read(1 << 22)
            if not b:
                break
            raw += len(b)
    gz = os.path.getsize(log)
    zc = timed(["zcat", log])
    lb = timed([lbg, "logs", log])
    r = subprocess.run([lbg, "logs", log], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       env=dict(os.environ, LBGUARD_LOGS_STATS="1"))
    m = re.search(rb"peak RSS (\d+) kB", r.stderr)
    rss = int(m.group(1)) if m else -1   # VmHWM: ru_maxrss would count Python's fork
    j1 = timed([lbg, "logs", "--jobs", "1", log, log])
    j2 = timed([lbg, "logs", "--jobs", "2", log, log])
    print("input: %s, %.1f MB gzip, %.1f MB uncompressed (%.2f:1)" % (log, gz / 1e6, raw / 1e6, raw / gz))
    print("zcat > /dev/null:        cpu %.2f s  wall %.2f s  (%.0f MB/s uncompressed)" % (zc[0], zc[1], raw / 1e6 / zc[0]))
    print("lbguard logs (1 thread): cpu %.2f s  wall %.2f s  (%.0f MB/s uncompressed, %.2f GB gzip/min)"
          % (lb[0], lb[1], raw / 1e6 / lb[0], gz / 1e9 / lb[0] * 60))
    print("ratio zcat cpu / lbguard cpu: %.2f  (>= 1.00: lbguard keeps up with zcat on one core)" % (zc[0] / lb[0]))
    print("peak RSS of lbguard logs (VmHWM): %.1f MB" % (rss / 1024.0))
    print("two copies: --jobs 1 wall %.2f s, --jobs 2 wall %.2f s (x%.2f)" % (j1[1], j2[1], j1[1] / j2[1]))
    counts = os.path.join(os.path.dirname(log), "alb.counts.json")
    if os.path.exists(counts):
        want = json.load(open(counts))
        doc = json.loads(subprocess.run([lbg, "logs", "--json", log], stdout=subprocess.PIPE).stdout)
        got = {c["id"]: c["count"] for c in doc["classes"]}
        got["requests"] = doc["totals"]["requests"]
        print("classes equal the generator's counts: %s %s" % ("yes" if got == want else "NO", got))
    with tempfile.TemporaryDirectory() as td:
        small = os.path.join(td, "small.log")
        n = 0
        with gzip.open(log, "rb") as f, open(small, "wb") as o:
            for line in f:
                o.write(line)
                n += 1
                if n == 20000:
                    break
        out = os.path.join(td, "cg.out")
        p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, lbg,
                            "logs", small], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        m = re.search(rb"Collected : (\d+)", p.stderr)
        p0 = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, lbg,
                             "logs", os.devnull], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        m0 = re.search(rb"Collected : (\d+)", p0.stderr)
        if m and m0:
            print("callgrind: %.0f instructions per line (20000 lines, uncompressed, start-up subtracted)"
                  % ((int(m.group(1)) - int(m0.group(1))) / n))


if __name__ == "__main__":
    main()
