"""lb_cases -- malformed responses sent through a real load balancer.

Chain: client -> LB (HAProxy 2.6 / nginx 1.22 as a proxy) -> target with
lbguard off or repair -> fault source:
  * nginx target: a RawBackend behind proxy_pass (RAW_ROUTES), for defects
    that nginx's own proxy passes through verbatim, and Debian's perl module
    (PERL_LOCATIONS), for defects nginx's proxy would reject itself (NUL,
    SP in a name, obs-fold) or re-frame (Content-Length, Transfer-Encoding);
  * Apache target: CGI scripts (APACHE_CGI) that print bad header fields.

CASES lists, per defect, what the client gets through each LB with lbguard
off (status code, as measured with Debian 12's HAProxy 2.6.12 and nginx
1.22.1) and what it must get with lbguard repair (200 OK, the repaired
field, the body). Only status 502 is the LB rejecting the response; Apache
answers its own 500 for header fields it refuses (check_headers()).
"""
import os
import re

from tests import lbgtest
from tests.lbgtest import lb_configs as C

LBS = ("haproxy", "nginx")

RAW_ROUTES = {
    b"/raw/brace": b"HTTP/1.1 200 OK\r\nX{Bad}: v\r\nContent-Length: 3\r\n\r\nabc",
    b"/raw/ctl": b"HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 3\r\n\r\nabc",
    b"/raw/reason": b"HTTP/1.1 200 O\x01K\r\nX-Fine: yes\r\nContent-Length: 3\r\n\r\nabc",
}


def _perl(name, code):
    return ("location = /perl/%s {\n"
            "      perl 'sub { my $r = shift; %s"
            " $r->send_http_header(\"text/plain\"); $r->print(\"abc\"); return OK; }';\n"
            "    }\n" % (name, code))


_CRLF = "chr(13) . chr(10)"
PERL_LOCATIONS = (
    "location /raw/ { proxy_pass http://127.0.0.1:@RAW@; }\n    "
    + _perl("space", '$r->header_out("X Bad", "v");')
    + "    " + _perl("nul", '$r->header_out("X-Nul", "a" . chr(0) . "b");')
    + "    " + _perl("fold", '$r->header_out("X-Fold", "a" . %s . " b");' % _CRLF)
    + "    " + _perl("clconflict", '$r->header_out("Content-Length", "3"); '
                     '$r->header_out("Content-Length", "5");')
    + "    " + _perl("clinvalid", '$r->header_out("Content-Length", "abc");')
    + "    " + _perl("tetwice", '$r->header_out("Transfer-Encoding", "chunked");')
)


def _cgi(text):
    return "#!/bin/sh\nprintf '%s'\n" % text


APACHE_CGI = {
    "ctl.cgi": _cgi(r"Content-Type: text/plain\r\nX-Bad: a\001b\r\n\r\nabc"),
    "del.cgi": _cgi(r"Content-Type: text/plain\r\nX-Del: a\177b\r\n\r\nabc"),
    "space.cgi": _cgi(r"Content-Type: text/plain\r\nX Bad: v\r\n\r\nabc"),
    "brace.cgi": _cgi(r"Content-Type: text/plain\r\nX{Bad}: v\r\n\r\nabc"),
}


def _absent(name):
    return ("no %s field" % name, lambda raw: lbgtest.field_values(raw, name), [])


def _value(name, v):
    return ("%s value" % name, lambda raw: lbgtest.field_values(raw, name), [v])


_NO_CL = ("Content-Length fields", lambda raw: lbgtest.field_values(raw, "Content-Length"), [])

# (target, rule, path, {lb: status with lbguard off, or its exact status
# line}, repaired-field check)
CASES = [
    # no LB here rejects these two (Envoy and llhttp do); lbguard's default
    # profile (strictest) repairs them anyway
    ("nginx", "field-value-ctl", "/raw/ctl", {"haproxy": 200, "nginx": 200},
     _value("X-Bad", b"a b")),
    ("nginx", "reason-phrase-invalid", "/raw/reason",
     {"haproxy": b"HTTP/1.1 200 O\x01K", "nginx": b"HTTP/1.1 200 O\x01K"},
     _value("X-Fine", b"yes")),
    ("nginx", "field-name-not-token", "/raw/brace", {"haproxy": 502, "nginx": 200},
     _absent("X{Bad}")),
    ("nginx", "field-name-invalid", "/perl/space", {"haproxy": 502, "nginx": 502},
     _absent("X Bad")),
    ("nginx", "field-value-nul", "/perl/nul", {"haproxy": 200, "nginx": 502},
     _value("X-Nul", b"a b")),
    ("nginx", "obs-fold", "/perl/fold", {"haproxy": 200, "nginx": 502},
     _value("X-Fold", b"a   b")),
    ("nginx", "content-length-conflict", "/perl/clconflict", {"haproxy": 502, "nginx": 200},
     _NO_CL),
    ("nginx", "content-length-invalid", "/perl/clinvalid", {"haproxy": 502, "nginx": 200},
     _NO_CL),
    ("nginx", "te-chunked-twice", "/perl/tetwice", {"haproxy": 502, "nginx": 200},
     ("Transfer-Encoding fields",
      lambda raw: lbgtest.field_values(raw, "Transfer-Encoding"), [b"chunked"])),
    ("apache", "field-value-ctl", "/cgi-bin/ctl.cgi", {"haproxy": 500, "nginx": 500},
     _value("X-Bad", b"a b")),
    ("apache", "field-value-ctl", "/cgi-bin/del.cgi", {"haproxy": 500, "nginx": 500},
     _value("X-Del", b"a b")),
    ("apache", "field-name-invalid", "/cgi-bin/space.cgi", {"haproxy": 500, "nginx": 500},
     _absent("X Bad")),
    ("apache", "field-name-not-token", "/cgi-bin/brace.cgi", {"haproxy": 500, "nginx": 500},
     _absent("X{Bad}")),
]

REASONS = {200: b"OK", 500: b"Internal Server Error", 502: b"Bad Gateway"}


def off_line(want):
    """The exact status line CASES expects with lbguard off."""
    if isinstance(want, bytes):
        return want
    return b"HTTP/1.1 %d %s" % (want, REASONS[want])


def status_of(raw):
    """The status code of raw response bytes, or None."""
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", raw)
    return int(m.group(1)) if m else None


def body_of(raw):
    """The body of raw response bytes, chunked transfer coding decoded."""
    _, _, body = raw.partition(b"\r\n\r\n")
    if b"chunked" not in b"".join(lbgtest.field_values(raw, "Transfer-Encoding")):
        return body
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return out


def get(port, path):
    """GET path through 127.0.0.1:port (Connection: close); raw bytes."""
    return lbgtest.raw_exchange(
        port, ("GET %s HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n" % path).encode(),
        timeout=5)


class Stacks:
    """Starts, for each target in `targets` and each lbguard mode in
    `modes`, the target (nginx: perl + a RawBackend behind proxy_pass;
    Apache: CGI) and both LBs in front of it. ports[(target, mode, lb)] is
    the LB's port ("direct" as lb: the target itself)."""

    def __init__(self, build, wd, targets=("nginx", "apache"), modes=("off", "repair")):
        self.wd = wd
        self.raw = lbgtest.RawBackend(RAW_ROUTES)
        self.ports = {}
        self.procs = []
        locs = PERL_LOCATIONS.replace("@RAW@", str(self.raw.port))
        for t in targets:
            for mode in modes:
                tp = lbgtest.free_port()
                d = os.path.join(wd, "%s-%s" % (t, mode))
                if t == "nginx":
                    self.procs.append(C.nginx_target(build, os.path.join(d, "target"), tp,
                                                     mode=mode, locations=locs, perl=True,
                                                     lb_idle=None))
                else:
                    self.procs.append(C.apache_target(build, os.path.join(d, "target"), tp,
                                                      mode=mode, cgi=APACHE_CGI, lb_idle=None))
                self.ports[(t, mode, "direct")] = tp
                for lb in LBS:
                    lp = lbgtest.free_port()
                    start = C.haproxy_lb if lb == "haproxy" else C.nginx_lb
                    self.procs.append(start(os.path.join(d, lb), lp, tp, m=1))
                    self.ports[(t, mode, lb)] = lp

    def log(self, target, mode):
        """The target's error log so far (text)."""
        d = os.path.join(self.wd, "%s-%s" % (target, mode), "target")
        return (lbgtest.read_log(os.path.join(d, "error.log"))
                + lbgtest.read_log(os.path.join(d, "logs", "error.log")))

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []
        self.raw.stop()
