"""lb_race -- the keep-alive race driver (adaptive staircase). Stdlib only.

The race: a target that closes an idle keep-alive connection (its keep-alive
timeout) while the load balancer sends the next request on it makes the LB
answer 502, or close the client connection with no response (RFC 9112 9.6).
The window is a few tens of microseconds, so a naive client almost never
hits it. This driver puts every request on the boundary:

  * m workers; worker i always requests /p<i>, which the LB maps to its own
    upstream pool (lb_configs), so each worker owns one backend connection;
  * the target echoes the LB's source port ("p=<port>"), so the worker knows
    whether its backend connection was reused (same port) or new;
  * worker loop: fresh client connection, wait until `gap` seconds after the
    previous response arrived, send the request, read the response until
    the LB closes. Reused -> gap += step; new -> gap -= step; failure -> gap
    unchanged. gap starts at `start` (just below the keep-alive timeout);
    the step starts at `step0` and halves at every change of direction,
    down to `step` (a binary search that then tracks the boundary, which
    differs between targets: ~0.9995 s for nginx, ~1.0003 s for Apache).

With a target keep-alive of 1 s the gaps converge on ~1 s and a few percent
of the requests fail. With lbguard's keep-alive repair (target timeout above
the LB idle timeout) every request reuses its connection and the gap just
climbs: nothing fails.

Usage: python3 lb_race.py PORT [-n 600] [-m 32] [--method POST] [--body 1024]
"""
import re
import socket
import sys
import threading
import time

_STATUS = re.compile(rb"^HTTP/1\.[01] (\d{3})")
_PORT = re.compile(rb"p=(\d+)")


class RaceResult:
    """Counts of one staircase run.
      requests  requests sent
      ok        2xx responses carrying the target's echo
      reused    of those, the backend connection was the previous one
      new       of those, a new backend connection (after a known one)
      first     of those, the worker's first answer (nothing to compare)
      s502      502 responses from the LB
      closed    client connection closed (or reset) with no response byte
      other     any other outcome: {description: count}
      gaps      final gap per worker (seconds)
    """

    def __init__(self):
        self.requests = self.ok = self.reused = self.new = self.first = 0
        self.s502 = self.closed = 0
        self.other = {}
        self.gaps = []
        self.seconds = 0.0
        self.lock = threading.Lock()

    @property
    def failures(self):
        return self.s502 + self.closed + sum(self.other.values())

    def line(self):
        g = sorted(self.gaps)
        med = g[len(g) // 2] if g else 0
        return ("requests=%d ok=%d reused=%d new=%d 502=%d closed-no-response=%d "
                "other=%s failures=%d (%.1f%%) median-gap=%.6fs time=%.1fs"
                % (self.requests, self.ok, self.reused, self.new, self.s502,
                   self.closed, self.other or 0, self.failures,
                   100.0 * self.failures / max(1, self.requests), med, self.seconds))


def request_bytes(path, method, body, host="lb", close=True):
    b = b"x" * body if method == "POST" else b""
    head = "%s %s HTTP/1.1\r\nHost: %s\r\n" % (method, path, host)
    if close:
        head += "Connection: close\r\n"
    if method == "POST":
        head += "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n" % body
    return head.encode() + b"\r\n" + b


def _exchange(sock, data, timeout):
    """Sends data, reads until the peer closes. Returns bytes, or None when
    the connection was reset before any byte; b"" for a clean close."""
    sock.settimeout(timeout)
    sock.sendall(data)
    chunks = []
    while True:
        try:
            b = sock.recv(65536)
        except ConnectionResetError:
            return b"".join(chunks) if chunks else None
        except socket.timeout:
            chunks.append(b"<TIMEOUT>")
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


_CL = re.compile(rb"(?im)^content-length:[ \t]*(\d+)")


def _exchange_ka(sock, data, timeout):
    """Sends data on a kept-alive connection and reads one response framed by
    its Content-Length. Returns (bytes, keep): bytes is b"" when the peer
    closed (or reset) before any byte; keep is False when the connection
    cannot be used again."""
    sock.settimeout(timeout)
    try:
        sock.sendall(data)
    except OSError:
        return b"", False
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            b = sock.recv(65536)
            if not b:
                return buf, False
            buf += b
        head, _, rest = buf.partition(b"\r\n\r\n")
        m = _CL.search(head)
        if not m:
            while True:
                b = sock.recv(65536)
                if not b:
                    return buf, False
                buf += b
        need = int(m.group(1))
        while len(rest) < need:
            b = sock.recv(65536)
            if not b:
                return buf, False
            rest += b
            buf += b
        keep = not re.search(rb"(?im)^connection:[ \t]*close", head)
        return buf, keep
    except socket.timeout:
        return buf + b"<TIMEOUT>", False
    except OSError:
        return buf, False


def staircase(port, n=600, m=32, method="POST", body=1024, start=0.999,
              step=0.00005, step0=0.0005, path_fmt="/p%d", timeout=15.0,
              client_ka=False):
    """Runs n requests through the LB on 127.0.0.1:port with m staircase
    workers (see the module doc). client_ka: each worker keeps its client
    connection to the LB open across requests (HTTP/1.1 keep-alive) instead
    of opening a fresh one per request; then HAProxy answers a failed
    reused backend connection by closing the client connection silently.
    Returns a RaceResult."""
    res = RaceResult()
    budget = [n]
    t0 = time.monotonic()

    def take():
        with res.lock:
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            res.requests += 1
            return True

    def worker(i):
        gap = start
        cur = step0
        last_dir = 0
        prev_port = None
        t_last = None
        path = path_fmt % i
        data = request_bytes(path, method, body, close=not client_ka)
        s = None
        # spread the workers over one period
        time.sleep(start * i / m)
        while take():
            if s is None:
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError as e:
                    with res.lock:
                        k = "connect:%s" % e.__class__.__name__
                        res.other[k] = res.other.get(k, 0) + 1
                    continue
            if t_last is not None:
                d = t_last + gap - time.monotonic()
                if d > 0:
                    time.sleep(d)
            if client_ka:
                raw, keep = _exchange_ka(s, data, timeout)
                if not keep:
                    s.close()
                    s = None
            else:
                try:
                    raw = _exchange(s, data, timeout)
                except OSError:
                    raw = None
                finally:
                    s.close()
                    s = None
            t_last = time.monotonic()
            ms = _STATUS.match(raw or b"")
            mp = _PORT.search(raw or b"")
            with res.lock:
                if not raw:
                    res.closed += 1
                elif ms and ms.group(1) == b"502":
                    res.s502 += 1
                elif ms and ms.group(1).startswith(b"2") and mp:
                    res.ok += 1
                    p = int(mp.group(1))
                    if prev_port is None:
                        res.first += 1
                    elif p == prev_port:
                        res.reused += 1
                    else:
                        res.new += 1
                else:
                    k = (ms.group(1).decode() if ms else repr(raw[:20]))
                    res.other[k] = res.other.get(k, 0) + 1
            if raw and ms and ms.group(1).startswith(b"2") and mp:
                p = int(mp.group(1))
                if prev_port is not None:
                    d = 1 if p == prev_port else -1
                    if last_dir and d != last_dir:
                        cur = max(step, cur / 2)
                    last_dir = d
                    gap += d * cur
                prev_port = p
            else:
                prev_port = None  # failed: the backend connection is gone
        if s is not None:
            s.close()
        with res.lock:
            res.gaps.append(gap)

    ts = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(m)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    res.seconds = time.monotonic() - t0
    return res


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("port", type=int)
    ap.add_argument("-n", type=int, default=600)
    ap.add_argument("-m", type=int, default=32)
    ap.add_argument("--method", default="POST")
    ap.add_argument("--body", type=int, default=1024)
    ap.add_argument("--start", type=float, default=0.999)
    ap.add_argument("--step", type=float, default=0.00005)
    ap.add_argument("--step0", type=float, default=0.0005)
    ap.add_argument("--client-ka", action="store_true")
    a = ap.parse_args(argv)
    r = staircase(a.port, a.n, a.m, a.method, a.body, a.start, a.step, a.step0,
                  client_ka=a.client_ka)
    print(r.line())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
