#!/usr/bin/env python3
"""nginx setups the other nginx suites do not cover: how a body finding is
logged, how a request ends after lbguard's own 502, and what an operator's
setups (proxy_cache, upstream keep-alive, ...) do with lbguard.

  * body longer than its Content-Length (perl handlers, the producers
    nginx has: its proxy, fastcgi, uwsgi and scgi cut an upstream body to
    the upstream's Content-Length themselves): the finding's line gives
    the body's whole length, logged once the body has ended (in one
    buffer, in many, in many with pauses between them), in detect and in
    repair (where the bytes past the cut are counted as they are
    dropped); a body that never ends (the handler dies after it; the
    client resets the connection while the handler sleeps, in detect) is
    logged as "at least" what was seen when the request ended. Exact
    bytes, log lines and $lbguard_findings (one finding each).
  * after lbguard's own 502 (repair: an upstream status line that is not
    HTTP/1.x, a header section over the budget under a profile naming one
    LB), the request ends: a raw-socket client gets the exact 502 and then
    EOF although the upstream keeps its connection open and keeps sending,
    buffered and with proxy_buffering off; the upstream's connection is
    closed too. A 101 to a request with Upgrade replaced by the 502 does
    not become a tunnel (whose bytes nginx writes to the client past every
    filter: the upstream's bytes went out after the 502). With gzip_vary
    on, the 502 has no Vary field.
  * proxy_cache: a cached response with a bad field is checked (and
    repaired) again on every hit, each logged; a response lbguard replaces
    by its 502 is not cached (the upstream is asked each time).
  * a Content-Length nginx does not know as one (add_header Content-Length)
    on a body delimited by the close (an HTTP/1.0 client;
    chunked_transfer_encoding off): the body is held to it as to any
    Content-Length (it went out whole, unreported).

Each nginx build (nginx_env.builds) is one test, skipped when not built.

Usage: python3 -m tests.integration.test_nginx_setups [--build BUILD] [-k NAME]
"""
import os
import re
import select
import socket
import struct
import threading
import time

from tests import lbgtest
from tests.lbgtest.nginx_env import MODES, Instance, builds, lbguard_lines, normalise, write

BODY_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")
BAD_GATEWAY = (b"HTTP/1.1 502 Bad Gateway\r\nServer: nginx\r\nDate: DATE\r\n"
               b"Content-Type: text/html\r\nContent-Length: %d\r\n"
               b"Connection: close\r\n\r\n" % len(BODY_502)) + BODY_502

# how long the slow upstream keeps sending (a byte every SLOW_STEP s) when
# nobody closes its connection; the client waits EOF_BOUND s for EOF
SLOW_FOR = 20.0
SLOW_STEP = 0.1
EOF_BOUND = 3.0


def _perl(name, body):
    """A location /perl/<name> whose handler runs `body` (Perl, $r the
    request) and returns OK."""
    return ("location = /perl/%s {\n"
            "    perl 'sub { my $r = shift; %s return OK; }';\n"
            "}\n" % (name, body))


_HEAD3 = '$r->header_out("Content-Length", "3"); $r->send_http_header("text/plain"); '

# header sections lbguard (repair) replaces by its own 502
NOT_HTTP = b"Warning: debug output\r\nHTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
LONG_FIELD = b"X-Long: " + b"a" * 200 + b"\r\n"
OVER_BUDGET = b"HTTP/1.1 200 OK\r\n" + LONG_FIELD + b"Content-Length: 100000\r\n\r\n"
SWITCH_OVER_BUDGET = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\n" + LONG_FIELD + b"\r\n")

LOCATIONS = (
    # one buffer; three buffers; three with pauses; the handler dies
    _perl("long1", _HEAD3 + '$r->print("hello world\\n");')
    + _perl("long3", _HEAD3 + '$r->print("abc"); $r->print("defgh"); '
            '$r->print("ijklmnop");')
    + _perl("slow", _HEAD3 + '$r->print("abc"); $r->flush; '
            '$r->sleep(100, sub { my $r = shift; $r->print("defgh"); $r->flush; '
            '$r->sleep(100, sub { my $r = shift; $r->print("ijklmnop"); '
            'return OK; }); return OK; });')
    + _perl("dies", _HEAD3 + '$r->print("hello world\\n"); $r->flush; '
            'die "handler failed\\n";')
    # 12 bytes, a second's pause (the client resets the connection), 5,
    # 0.3 s, 6
    + _perl("abort", _HEAD3 + '$r->print("hello world\\n"); $r->flush; '
            '$r->sleep(1000, sub { my $r = shift; $r->print("more\\n"); $r->flush; '
            '$r->sleep(300, sub { my $r = shift; $r->print("again\\n"); '
            'return OK; }); return OK; });')
    # the slow upstream: lbguard's 502, buffered and not
    + "location /slow/ { proxy_pass http://127.0.0.1:@SLOW@;\n"
    "    lbguard_profile haproxy; lbguard_header_budget 100; }\n"
    "location /slow-nb/ { proxy_pass http://127.0.0.1:@SLOW@;\n"
    "    proxy_buffering off;\n"
    "    lbguard_profile haproxy; lbguard_header_budget 100; }\n"
    # a Content-Length element on a body delimited by the close
    "location /acl/ { proxy_pass http://127.0.0.1:@PLAIN@/;\n"
    "    add_header Content-Length 3; }\n"
    "location /acl-nochunk/ { proxy_pass http://127.0.0.1:@PLAIN@/;\n"
    "    add_header Content-Length 3; chunked_transfer_encoding off; }\n"
    "location /gzv/ { proxy_pass http://127.0.0.1:@SLOW@;\n"
    "    gzip on; gzip_vary on; gzip_min_length 1; gzip_types *; gzip_proxied any;\n"
    "    lbguard_profile haproxy; lbguard_header_budget 100; }\n"
    "location /cache/ { proxy_pass http://127.0.0.1:@PLAIN@/;\n"
    "    proxy_cache lbg; proxy_cache_valid 200 60s; proxy_cache_key $server_name$uri;\n"
    "    add_header X-Cache $upstream_cache_status;\n"
    "    lbguard_profile haproxy; lbguard_header_budget 150; }\n"
    "location /ws/ { proxy_pass http://127.0.0.1:@SLOW@;\n"
    "    proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;\n"
    "    proxy_set_header Connection upgrade;\n"
    "    lbguard_profile haproxy; lbguard_header_budget 100; }\n"
)


def _long_header(ka=True):
    return (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\n"
            b"Content-Type: text/plain\r\nConnection: %s\r\n"
            b"Content-Length: 3\r\n\r\n" % (b"keep-alive" if ka else b"close"))


def _body_line(mode, body, at_least=False):
    return ("[warn] lbguard: body-longer-than-content-length: Content-Length 3, "
            "body %s%d bytes, %s" % ("at least " if at_least else "", body,
                                     "not repaired (detect mode)" if mode == "detect"
                                     else "body cut to its declared length, "
                                     "connection closed"))


# (path, body bytes the handler sends, whole (True) or "at least" (False));
# off and detect send the body as is, repair its first 3 bytes
BODY_CASES = [
    ("/perl/long1", b"hello world\n", True),
    ("/perl/long3", b"abcdefghijklmnop", True),
    ("/perl/slow", b"abcdefghijklmnop", True),
    ("/perl/dies", b"hello world\n", False),
]


class SlowBackend(lbgtest.RawBackend):
    """Answers /<any>/<name> with HEADS[name], then sends one byte every
    SLOW_STEP s for SLOW_FOR s, keeping its connection open; records in
    `closed` {path: seconds after the header} when nginx closed it."""

    HEADS = {b"not-http": NOT_HTTP, b"over-budget": OVER_BUDGET,
             b"switch": SWITCH_OVER_BUDGET}

    def __init__(self):
        self.closed = {}
        super().__init__({})

    def _handle(self, c):
        try:
            c.settimeout(5.0)
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            path = buf.split(b" ")[1]
            name = path.rsplit(b"/", 1)[-1]
            c.sendall(self.HEADS.get(name, b"HTTP/1.1 404 Not Found\r\n"
                                     b"Content-Length: 0\r\n\r\n"))
            t0 = time.monotonic()
            while time.monotonic() - t0 < SLOW_FOR:
                r, _, _ = select.select([c], [], [], SLOW_STEP)
                if r:
                    try:
                        d = c.recv(65536)
                    except OSError:
                        d = b""
                    if not d:
                        self.closed[path] = time.monotonic() - t0
                        return
                    continue
                try:
                    c.sendall(b"x")
                except OSError:
                    self.closed[path] = time.monotonic() - t0
                    return
        except OSError:
            return
        finally:
            lbgtest.hang_up(c)


def until_eof(s, bound):
    """Reads socket s until EOF or `bound` seconds: (bytes, seconds to
    EOF), the bytes ending with b"<TIMEOUT>" when no EOF came. s stays
    open (the caller's)."""
    t0 = time.monotonic()
    out = b""
    while True:
        left = bound - (time.monotonic() - t0)
        if left <= 0:
            return out + b"<TIMEOUT>", None
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            return out + b"<TIMEOUT>", None
        except ConnectionResetError:
            return out + b"<RST>", time.monotonic() - t0
        if not d:
            return out, time.monotonic() - t0
        out += d


def get(path, extra=b"", close=False):
    return (b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n" + extra
            + (b"Connection: close\r\n" if close else b"") + b"\r\n")


class NginxSetups(lbgtest.TestCase):
    suite = "nginx-setups"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.slow = SlowBackend()
        cls.addClassCleanup(cls.slow.stop)
        # a body delimited by the close, no Content-Length
        cls.plain = lbgtest.RawBackend({
            b"/close-body": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                            b"hello world\n",
            # cacheable: a field name with "{" (removed under haproxy); a
            # field over the budget (the 502)
            b"/name": b"HTTP/1.1 200 OK\r\nX{Bad}: v\r\nContent-Length: 5\r\n\r\nhello",
            b"/long": b"HTTP/1.1 200 OK\r\n" + LONG_FIELD + b"Content-Length: 5\r\n\r\nhello"})
        cls.addClassCleanup(cls.plain.stop)

    def variant(self, name):
        found = [b for b in builds(self.build) if b[0] == name]
        if not found:
            self.skipTest("%s nginx not built" % name)
        _, binary, modules, artifact = found[0]
        lbgtest.require(artifact, "make nginx-%s" % name)
        d = self.workdir("nginx-setups-" + name)
        write(os.path.join(d, "html", "sub.txt"), "SUB")
        inst = Instance(name, binary, modules, d,
                        LOCATIONS.replace("@SLOW@", str(self.slow.port))
                        .replace("@PLAIN@", str(self.plain.port)),
                        "proxy_cache_path %s/cache keys_zone=lbg:1m;" % d)
        inst.start()
        try:
            self.body_lines(inst, name)
            self.client_abort(inst, name)
            self.end_after_502(inst, name)
            self.element_length(inst, name)
            self.cache(inst, name)
        finally:
            inst.stop()
        text = inst.all_logs()
        for bad in ("[alert]", "[crit]", "Sanitizer", "[emerg]"):
            self.check("%s error logs have no %s" % (name, bad), bad not in text,
                       "\n".join(l for l in text.splitlines() if bad in l)[:2000])

    def test_dynamic(self):
        self.variant("dynamic")

    def test_static(self):
        self.variant("static")

    def test_static_asan(self):
        self.variant("static-asan")

    def test_static_mainline(self):
        self.variant("static-mainline")

    def exchange(self, inst, m, req):
        """(bytes until EOF (5 s), lbguard lines, access-log lines) of one
        request to server `m`, once its access-log line is written."""
        before = len(inst.log(m))
        abefore = len(inst.access(m))
        got = normalise(lbgtest.raw_exchange(inst.ports[m], req, timeout=5.0,
                                             mark_timeout=True))
        lbgtest.wait_for(lambda: len(inst.access(m)) > abefore, 5, "access log line")
        return (got, lbguard_lines(inst.log(m)[before:]),
                inst.access(m)[abefore:].splitlines())

    def body_lines(self, inst, build):
        """Body longer than Content-Length: the whole length once the body
        has ended, "at least" when the request ended first."""
        for path, body, whole in BODY_CASES:
            req = get(path.encode(), close=True)
            for m in MODES:
                got, lines, access = self.exchange(inst, m, req)
                case = "%s %s %s" % (build, path, m)
                exp = _long_header(ka=False) + (body[:3] if m == "repair" else body)
                self.eq(case + ": bytes", got, exp)
                self.eq(case + ": log", lines, [] if m == "off" else
                        [_body_line(m, len(body), at_least=not whole)])
                self.eq(case + ": $lbguard_findings", access,
                        ["%s 200 %s" % (path, {"off": "-",
                                               "detect": "body-longer-than-content-length:detected",
                                               "repair": "body-longer-than-content-length:repaired"}[m])])

    def cache(self, inst, build):
        """proxy_cache: MISS then HIT, both checked; the 502 not cached."""
        for m in ("detect", "repair"):
            for status in ("MISS", "HIT"):
                got, lines, access = self.exchange(inst, m, get(b"/cache/name", close=True))
                case = "%s proxy_cache %s %s" % (build, status, m)
                self.eq(case + ": bytes", got,
                        b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\n"
                        b"Content-Length: 5\r\nConnection: close\r\n%s"
                        b"X-Cache: %s\r\n\r\nhello"
                        % (b"" if m == "repair" else b"X{Bad}: v\r\n", status.encode()))
                self.eq(case + ": log", lines, [
                        '[warn] lbguard: field-name-not-token: field name "X{Bad}", '
                        + ("field removed" if m == "repair" else "not repaired (detect mode)")])
                self.eq(case + ": $lbguard_findings", access,
                        ["/cache/name 200 field-name-not-token:%s"
                         % ("repaired" if m == "repair" else "detected")])
        n = len(self.plain.requests)
        for i in (1, 2):
            got, lines, access = self.exchange(inst, "repair", get(b"/cache/long", close=True))
            self.eq("%s proxy_cache 502 #%d: bytes" % (build, i), got, BAD_GATEWAY)
        self.eq("%s proxy_cache: the 502's response not cached (2 upstream requests)"
                % build, len(self.plain.requests) - n, 2)

    def element_length(self, inst, build):
        """add_header Content-Length 3 on a 12-byte body delimited by the
        close: detect reports it, repair cuts it (off: as nginx sends it)."""
        head = (b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\n"
                b"Content-Type: text/plain\r\nConnection: close\r\n"
                b"Content-Length: 3\r\n\r\n")
        for path, req in (("/acl/close-body", b"GET /acl/close-body HTTP/1.0\r\n\r\n"),
                          ("/acl-nochunk/close-body", get(b"/acl-nochunk/close-body"))):
            for m in MODES:
                got, lines, access = self.exchange(inst, m, req)
                case = "%s %s %s" % (build, path, m)
                self.eq(case + ": bytes", got,
                        head + (b"hel" if m == "repair" else b"hello world\n"))
                self.eq(case + ": log", lines, [] if m == "off" else [
                        "[warn] lbguard: body-longer-than-content-length: Content-Length 3, "
                        "body 12 bytes, " + ("not repaired (detect mode)" if m == "detect"
                                             else "body cut to its declared length, "
                                             "connection closed")])
                self.eq(case + ": $lbguard_findings", access,
                        ["%s 200 %s" % (path, "-" if m == "off" else
                                        "body-longer-than-content-length:"
                                        + ("detected" if m == "detect" else "repaired"))])

    def client_abort(self, inst, build):
        """/perl/abort: the client resets its connection after the first 12
        body bytes (detect) or the 3 repair lets through. Detect: nginx's
        next write fails, the handler stops, the request ends: "at least
        17". Repair writes nothing more after the cut, so nginx sees no
        reset and the handler sends its whole 23 bytes."""
        for m in ("detect", "repair"):
            before = len(inst.log(m))
            abefore = len(inst.access(m))
            exp = _long_header() + (b"hello world\n" if m == "detect" else b"hel")
            got = b""
            with socket.create_connection(("127.0.0.1", inst.ports[m]), timeout=5) as s:
                s.sendall(get(b"/perl/abort"))
                while len(normalise(got)) < len(exp):
                    d = s.recv(65536)
                    if not d:
                        break
                    got += d
                # a reset, not a FIN: nginx's next write fails
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            lbgtest.wait_for(lambda: len(inst.access(m)) > abefore, 5, "access log line")
            case = "%s /perl/abort %s" % (build, m)
            self.eq(case + ": bytes before the reset", normalise(got), exp)
            self.eq(case + ": log", lbguard_lines(inst.log(m)[before:]),
                    [_body_line(m, 17, at_least=True) if m == "detect"
                     else _body_line(m, 23)])
            self.eq(case + ": $lbguard_findings", inst.access(m)[abefore:],
                    "/perl/abort 200 body-longer-than-content-length:%s\n"
                    % ("detected" if m == "detect" else "repaired"))

    def end_after_502(self, inst, build):
        """lbguard's 502 ends the request: the client gets the 502 and EOF
        while the upstream still sends; nginx closes the upstream too."""
        port = inst.ports["repair"]
        budget = "field-too-large:repaired,header-section-too-large:repaired"
        cases = [(b"/slow/not-http", b"", "upstream-status-line-invalid:repaired"),
                 (b"/slow-nb/not-http", b"", "upstream-status-line-invalid:repaired"),
                 (b"/slow/over-budget", b"", budget),
                 (b"/slow-nb/over-budget", b"", budget),
                 (b"/ws/switch", b"Upgrade: websocket\r\nConnection: Upgrade\r\n",
                  budget),
                 # gzip_vary: the Vary field is the original's, not the 502's
                 (b"/gzv/over-budget", b"Accept-Encoding: gzip\r\n", budget)]
        for path, extra, rule in cases:
            self.slow.closed.pop(path, None)
            abefore = len(inst.access("repair"))
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(get(path, extra))
                got, secs = until_eof(s, EOF_BOUND)
                # the client still holds its connection: nginx closes the
                # upstream's on its own (not because the client went)
                closed = None
                try:
                    closed = lbgtest.wait_for(lambda: self.slow.closed.get(path),
                                              EOF_BOUND, "the upstream connection closed")
                except RuntimeError:
                    pass
            case = "%s 502 then EOF %s" % (build, path.decode())
            self.eq(case + ": the exact 502, then EOF within %.0f s" % EOF_BOUND,
                    normalise(got), BAD_GATEWAY)
            if secs is not None:
                print("%s: EOF %.3f s after the request, upstream closed %.3f s "
                      "after its header" % (case, secs, closed or -1))
            self.check(case + ": the upstream connection closed within %.0f s"
                       % EOF_BOUND, closed is not None, repr(self.slow.closed))
            lbgtest.wait_for(lambda: len(inst.access("repair")) > abefore, 5,
                             "access log line")
            self.eq(case + ": $lbguard_findings", inst.access("repair")[abefore:],
                    "%s 502 %s\n" % (path.decode(), rule))


if __name__ == "__main__":
    lbgtest.main()
