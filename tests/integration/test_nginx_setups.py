#!/usr/bin/env python3
"""nginx setups the other nginx suites do not cover: how a body finding is
logged.

  * body longer than its Content-Length (perl handlers, the producers
    nginx has: its proxy, fastcgi, uwsgi and scgi cut an upstream body to
    the upstream's Content-Length themselves): the finding's line gives
    the body's whole length, logged once the body has ended (in one
    buffer, in many, in many with pauses between them), in detect and in
    repair (where the bytes past the cut are counted as they are
    dropped); a body that never ends (the handler dies after it) is logged
    as "at least" what was seen when the request ended. Exact bytes, log
    lines and $lbguard_findings (one finding each).

Each nginx build (nginx_env.builds) is one test, skipped when not built.

Usage: python3 -m tests.integration.test_nginx_setups [--build BUILD] [-k NAME]
"""
import os

from tests import lbgtest
from tests.lbgtest.nginx_env import MODES, Instance, builds, lbguard_lines, normalise, write


def _perl(name, body):
    """A location /perl/<name> whose handler runs `body` (Perl, $r the
    request) and returns OK."""
    return ("location = /perl/%s {\n"
            "    perl 'sub { my $r = shift; %s return OK; }';\n"
            "}\n" % (name, body))


_HEAD3 = '$r->header_out("Content-Length", "3"); $r->send_http_header("text/plain"); '

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


def get(path, extra=b"", close=False):
    return (b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n" + extra
            + (b"Connection: close\r\n" if close else b"") + b"\r\n")


class NginxSetups(lbgtest.TestCase):
    suite = "nginx-setups"

    def variant(self, name):
        found = [b for b in builds(self.build) if b[0] == name]
        if not found:
            self.skipTest("%s nginx not built" % name)
        _, binary, modules, artifact = found[0]
        lbgtest.require(artifact, "make nginx-%s" % name)
        d = self.workdir("nginx-setups-" + name)
        write(os.path.join(d, "html", "sub.txt"), "SUB")
        inst = Instance(name, binary, modules, d, LOCATIONS)
        inst.start()
        try:
            self.body_lines(inst, name)
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


if __name__ == "__main__":
    lbgtest.main()
