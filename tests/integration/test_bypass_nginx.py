#!/usr/bin/env python3
"""Issue 9 on nginx: no upstream byte reaches the client without passing
lbguard's rules.

  * an upstream whose status line is not HTTP/1.x (text before the status
    line, a 2- or 4-digit code, "HTTP/1.1x", "http/1.0", a space before the
    version, no SP after it, a lone CR as line end): nginx logs "upstream
    sent no valid HTTP/1.0 header" and falls back to HTTP/0.9 (the upstream's
    bytes, no status line). off/detect: those bytes; detect logs
    upstream-status-line-invalid with the first bytes escaped; repair: the
    target's own 502 (exact bytes), $lbguard_findings in the access log.
  * the same through uwsgi_pass and scgi_pass (nginx parses their header
    itself; whatever it sends must be a well-formed response), and fastcgi's
    "Status:" values are checked by lbg_check via the status line.
  * 101 Switching Protocols to a request without Upgrade: repaired to the
    same 502; with Upgrade in the request and the response it passes.
  * an upstream's bare "100 Continue" (no field), which nginx 1.22 sends as
    its final response: interim-response-as-final, repaired to the same 502,
    twice in a row (the quick pass used to call it clean: nothing logged).
  * 103 Early Hints and its final response: nginx before 1.29 reads no
    1xx from an upstream, so it sends the 103 as its final response and the
    200's bytes as its body; repair: the same 502, detect: both findings.
  * a report too full to hold every finding (200 bad fields): repair
    closes the connection (lbg_report_t: what was not recorded was not
    repaired), though the CLOSE edit itself had no room.
  * a real HTTP/0.9 request is untouched.

Each nginx build (nginx_env.builds: dynamic, static, static-asan,
static-mainline) is one test, skipped when it was not built.

Usage: python3 -m tests.integration.test_bypass_nginx [--build BUILD] [-k NAME]
"""
import os
import re
import struct

from tests import lbgtest
from tests.lbgtest.nginx_env import MODES, Instance, builds, lbguard_lines, normalise, write

GARBAGE = {
    b"/line-before": b"Warning: debug output\r\nHTTP/1.1 200 OK\r\n"
                     b"Content-Length: 3\r\n\r\nabc",
    b"/status-2": b"HTTP/1.1 20 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"/status-4": b"HTTP/1.1 2000 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"/version-1x": b"HTTP/1.1x 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"/version-lower": b"http/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"/space-before": b" HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"/no-sp": b"HTTP/1.1200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"/lone-cr": b"HTTP/1.1 200 OK\rContent-Length: 3\r\r\rabc",
}
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
# the bytes a 101 check looks at: its status line
SETTLE_101 = len(b"HTTP/1.1 101 Switching Protocols\r\n")
SWITCH = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\n\r\n")
SWITCH_NO_UPGRADE = b"HTTP/1.1 101 Switching Protocols\r\nX-A: 1\r\n\r\n"
# 200 fields with a CTL byte each: more findings and edits than a report
# holds (LBG_FINDINGS_MAX 32, LBG_EDITS_MAX 64)
MANY_CTL = (b"HTTP/1.1 200 OK\r\n"
            + b"".join(b"X-C%d: a\x01b\r\n" % i for i in range(200))
            + b"Content-Length: 2\r\n\r\nok")
# an interim response and nothing after it: nginx 1.22 sends it as final
INTERIM = b"HTTP/1.1 100 Continue\r\n\r\n"
# 103 Early Hints then the final response (Node's res.writeEarlyHints()):
# nginx before 1.29 reads no 1xx from an upstream, so the 103 is its final
# response and the 200's bytes are its body
EARLY_HINTS = (b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
               b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

BODY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")
BAD_GATEWAY = (b"HTTP/1.1 502 Bad Gateway\r\nServer: nginx\r\nDate: DATE\r\n"
               b"Content-Type: text/html\r\nContent-Length: %d\r\n"
               b"Connection: close\r\n\r\n" % len(BODY)) + BODY

LOCATIONS = """
location / { proxy_pass http://127.0.0.1:@BACKEND@; proxy_buffering off; }
location /buffered/ { proxy_pass http://127.0.0.1:@BACKEND@/; }
location /uwsgi/ { uwsgi_pass 127.0.0.1:@CGI@; }
location /scgi/ { scgi_pass 127.0.0.1:@CGI@; }
location /ws/ {
    proxy_pass http://127.0.0.1:@BACKEND@/;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
}
location /static.txt { }
location /fcgi { fastcgi_pass 127.0.0.1:@FCGI@; }
location /trailers {
    proxy_pass http://127.0.0.1:@BACKEND@/close-body;
    add_trailer "X Bad" v;
    add_trailer X-Ctl "ab";
    add_trailer X-Good ok;
}
location /redirect { lbguard_header_budget 100; return 301 /target-of-the-redirect; }
"""


def escape(b):
    out = ""
    for c in b[:64]:
        if 0x20 <= c < 0x7f and c not in b'"\\':
            out += chr(c)
        else:
            out += "\\x%02x" % c
    return out + ("..." if len(b) > 64 else "")


def get(port, path, extra=b"", timeout=5.0, settle=None):
    return normalise(lbgtest.raw_exchange(
        port, b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n",
        timeout=timeout, mark_timeout=True, settle=settle))


class AnyBackend(lbgtest.RawBackend):
    """Reads what arrives (uwsgi and scgi requests are not HTTP), answers
    `reply` and closes."""

    def __init__(self, reply):
        self.reply = reply
        super().__init__({})

    def _handle(self, c):
        try:
            c.settimeout(1.0)
            try:
                c.recv(65536)
            except OSError:
                pass
            c.sendall(self.reply)
        except OSError:
            pass
        finally:
            c.close()


class FastCGIBackend(lbgtest.RawBackend):
    """A FastCGI responder (one request per connection): reads records up
    to the empty FCGI_STDIN, answers `reply` as FCGI_STDOUT and ends the
    request (FastCGI 1.0 spec, section 3.3 and 5)."""

    def __init__(self, reply):
        self.reply = reply
        super().__init__({})

    def _handle(self, c):
        try:
            c.settimeout(5.0)
            buf = b""
            rid = 1
            while True:
                while len(buf) < 8:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                ver, typ, rid, clen, plen = struct.unpack(">BBHHB", buf[:7])
                need = 8 + clen + plen
                while len(buf) < need:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf[need:]
                if typ == 5 and clen == 0:      # FCGI_STDIN, end of stream
                    break
            out = self.reply
            c.sendall(struct.pack(">BBHHBx", 1, 6, rid, len(out), 0) + out)
            c.sendall(struct.pack(">BBHHBx", 1, 6, rid, 0, 0))
            c.sendall(struct.pack(">BBHHBx", 1, 3, rid, 8, 0) + b"\0" * 8)
        except OSError:
            pass
        finally:
            c.close()


class BypassNginx(lbgtest.TestCase):
    suite = "bypass-nginx"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        routes = dict(GARBAGE)
        routes[b"/ok"] = OK
        routes[b"/close-body"] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello"
        routes[b"/switch"] = SWITCH
        routes[b"/switch-no-upgrade"] = SWITCH_NO_UPGRADE
        routes[b"/interim"] = INTERIM
        routes[b"/early-hints"] = EARLY_HINTS
        routes[b"/many-ctl"] = MANY_CTL
        cls.backend = lbgtest.RawBackend(routes)
        cls.addClassCleanup(cls.backend.stop)
        # uwsgi and scgi: the backend answers whatever arrives with garbage
        cls.backend_cgi = AnyBackend(GARBAGE[b"/line-before"])
        cls.addClassCleanup(cls.backend_cgi.stop)
        # fastcgi: "Status: 2000 OK" (ngx_atoi of 3 digits takes 200; the
        # status line goes out as the upstream wrote it)
        cls.backend_fcgi = FastCGIBackend(b"Status: 2000 OK\r\nContent-Type: text/plain"
                                          b"\r\n\r\nabc")
        cls.addClassCleanup(cls.backend_fcgi.stop)

    def variant(self, name):
        """Runs every check on the nginx build `name`; a skip when it was
        not built."""
        found = [b for b in builds(self.build) if b[0] == name]
        if not found:
            self.skipTest("%s nginx not built" % name)
        _, binary, modules, artifact = found[0]
        lbgtest.require(artifact, "make nginx-%s" % name)
        d = self.workdir("bypass-nginx-" + name)
        write(os.path.join(d, "html", "static.txt"), "static\n")
        write(os.path.join(d, "params"), "")
        # no perl module here: the static builds may be of another
        # nginx version than Debian's perl module
        modules = [m for m in modules if "perl" not in m]
        inst = Instance(name, binary, modules, d,
                        LOCATIONS.replace("@CGI@", str(self.backend_cgi.port))
                        .replace("@FCGI@", str(self.backend_fcgi.port)),
                        backend_port=self.backend.port)
        inst.start()
        try:
            self.run_checks(inst, name)
        finally:
            inst.stop()

    def test_dynamic(self):
        self.variant("dynamic")

    def test_static(self):
        self.variant("static")

    def test_static_asan(self):
        self.variant("static-asan")

    def test_static_mainline(self):
        self.variant("static-mainline")

    def run_checks(self, inst, build):
        for path, raw in GARBAGE.items():
            for prefix in (b"", b"/buffered"):
                case = "%s %s%s" % (build, prefix.decode(), path.decode())
                got = {}
                logs = {}
                for m in MODES:
                    before = len(inst.log(m))
                    abefore = len(inst.access(m))
                    # off and detect: nginx's HTTP/0.9 fallback keeps the
                    # connection open after the bytes (<TIMEOUT> 0.3 s after
                    # the upstream's bytes have all arrived; 5 s before)
                    got[m] = get(inst.ports[m], prefix + path,
                                 settle=None if m == "repair" else (len(raw), 0.3))
                    lbgtest.wait_for(lambda: len(inst.access(m)) > abefore, 5,
                                     "access log line")
                    logs[m] = (lbguard_lines(inst.log(m)[before:]),
                               inst.access(m)[abefore:])
                # nginx's HTTP/0.9 fallback: the upstream's bytes, nothing else
                self.eq(case + " off: upstream bytes verbatim", got["off"],
                        raw + b"<TIMEOUT>")
                self.eq(case + " detect: upstream bytes verbatim", got["detect"],
                        raw + b"<TIMEOUT>")
                self.eq(case + " detect: log line", logs["detect"][0],
                        ['[warn] lbguard: upstream-status-line-invalid: upstream '
                         'response begins "%s", not repaired (detect mode)'
                         % escape(raw)])
                self.eq(case + " repair: the target's own 502", got["repair"],
                        BAD_GATEWAY)
                self.eq(case + " repair: log line", logs["repair"][0],
                        ['[warn] lbguard: upstream-status-line-invalid: upstream '
                         'response begins "%s", replaced by the target\'s own 502 '
                         'Bad Gateway' % escape(raw)])
                self.eq(case + " repair: access log", logs["repair"][1],
                        "%s%s 502 upstream-status-line-invalid:repaired\n"
                        % (prefix.decode(), path.decode()))
                self.eq(case + " off: nothing logged", logs["off"][0], [])

        # HEAD: the 502 without its body
        got = normalise(lbgtest.raw_exchange(
            inst.ports["repair"], b"HEAD /line-before HTTP/1.1\r\nHost: t\r\n\r\n",
            timeout=5.0, mark_timeout=True))
        self.eq(build + " HEAD repair: 502 header only", got,
                BAD_GATEWAY[:BAD_GATEWAY.index(b"\r\n\r\n") + 4])

        # a conformant upstream response is untouched
        for m in MODES:
            got = get(inst.ports[m], b"/ok", b"Connection: close\r\n")
            self.check(build + " ok " + m, got.startswith(b"HTTP/1.1 200 OK\r\n")
                       and got.endswith(b"\r\n\r\nabc"), repr(got))

        # a real HTTP/0.9 request: the file, no status line, no finding
        for m in MODES:
            before = len(inst.log(m))
            got = lbgtest.raw_exchange(inst.ports[m], b"GET /static.txt\r\n",
                                       timeout=5.0, mark_timeout=True)
            self.eq(build + " HTTP/0.9 request " + m, got, b"static\n")
            self.eq(build + " HTTP/0.9 request " + m + " no log",
                    lbguard_lines(inst.log(m)[before:]), [])

        # 101 to a request without Upgrade
        for m in MODES:
            before = len(inst.log(m))
            # a 101 keeps the connection open (a tunnel in off and detect):
            # 0.5 s after the status line, not the full timeout
            got = get(inst.ports[m], b"/switch-no-upgrade", settle=(SETTLE_101, 0.5))
            lines = lbguard_lines(inst.log(m)[before:])
            if m == "repair":
                self.eq(build + " 101 without Upgrade repair", got, BAD_GATEWAY)
                self.check(build + " 101 without Upgrade repair log",
                           '[warn] lbguard: switching-protocols-without-upgrade: 101 '
                           'Switching Protocols to a request without Upgrade, '
                           'replaced by the target\'s own 502 Bad Gateway' in lines,
                           repr(lines))
            elif m == "detect":
                self.check(build + " 101 without Upgrade detect",
                           got.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"),
                           repr(got))
                self.check(build + " 101 without Upgrade detect log",
                           '[warn] lbguard: switching-protocols-without-upgrade: 101 '
                           'Switching Protocols to a request without Upgrade, '
                           'not repaired (detect mode)' in lines, repr(lines))
            else:
                self.check(build + " 101 without Upgrade off",
                           got.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"),
                           repr(got))

        # a bare 100 Continue as the final response (the quick pass calls
        # its header clean; lbg_check_interim() must still see it), twice:
        # no kept verdict may skip it
        for m in MODES:
            for i in (1, 2):
                before = len(inst.log(m))
                abefore = len(inst.access(m))
                got = get(inst.ports[m], b"/interim", b"Connection: close\r\n")
                lbgtest.wait_for(lambda: len(inst.access(m)) > abefore, 5,
                                 "access log line")
                lines = lbguard_lines(inst.log(m)[before:])
                case = "%s bare 100 %s #%d" % (build, m, i)
                if m == "repair":
                    self.eq(case + ": the target's own 502", got, BAD_GATEWAY)
                    self.eq(case + ": access log", inst.access(m)[abefore:],
                            "/interim 502 interim-response-as-final:repaired\n")
                else:
                    self.eq(case + ": as nginx sends it", got,
                            b"HTTP/1.1 100 Continue\r\nServer: nginx\r\nDate: DATE\r\n"
                            b"Connection: close\r\n\r\n")
                self.eq(case + ": log", lines, [] if m == "off" else [
                        '[warn] lbguard: interim-response-as-final: interim status 100 '
                        'sent as the final response, %s'
                        % ("replaced by the target's own 502 Bad Gateway" if m == "repair"
                           else "not repaired (detect mode)")])

        # 103 Early Hints and its final response: nginx (before 1.29) sends
        # the 103 as final, the 200 as its body; the same 502 in repair
        for m in MODES:
            before = len(inst.log(m))
            abefore = len(inst.access(m))
            got = get(inst.ports[m], b"/early-hints", b"Connection: close\r\n")
            lbgtest.wait_for(lambda: len(inst.access(m)) > abefore, 5,
                             "access log line")
            lines = lbguard_lines(inst.log(m)[before:])
            case = "%s 103 + 200 %s" % (build, m)
            if m == "repair":
                self.eq(case + ": the target's own 502", got, BAD_GATEWAY)
                self.eq(case + ": access log", inst.access(m)[abefore:],
                        "/early-hints 502 interim-response-as-final:repaired\n")
            else:
                self.eq(case + ": as nginx sends it", got,
                        b"HTTP/1.1 103 Early Hints\r\nServer: nginx\r\nDate: DATE\r\n"
                        b"Connection: close\r\nLink: </s.css>; rel=preload\r\n\r\n"
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            self.eq(case + ": log", lines, [] if m == "off" else [
                    '[warn] lbguard: interim-response-as-final: interim status 103 '
                    'sent as the final response, '
                    + ("replaced by the target's own 502 Bad Gateway" if m == "repair"
                       else "not repaired (detect mode)")]
                    + ([] if m == "repair" else [
                        # the 200 is the 103's body: 40 bytes
                        '[warn] lbguard: body-on-bodiless: 40 body bytes on a response '
                        'that has no body, not repaired (detect mode)']))

        # a full report: the fields past its capacity go out unrepaired, so
        # the connection is closed (a keep-alive request; <TIMEOUT> would
        # mean nginx kept it open)
        for m in MODES:
            # 0.5 s without data once bytes have come: nginx writes the
            # whole response at once
            got = get(inst.ports[m], b"/many-ctl", settle=(1, 0.5))
            head = got[:got.find(b"\r\n\r\n") + 4]
            case = "%s 200 bad fields %s" % (build, m)
            if m == "repair":
                self.check(case + ": Connection: close",
                           b"\r\nConnection: close\r\n" in head, repr(head[:200]))
                self.eq(case + ": connection closed after the body",
                        got[len(head):], b"ok")
            else:
                self.check(case + ": kept alive as nginx does",
                           b"\r\nConnection: keep-alive\r\n" in head
                           and got.endswith(b"ok<TIMEOUT>"), repr(got[-40:]))

        # 101 to a request with Upgrade, response with Upgrade: passed on
        got = get(inst.ports["repair"], b"/ws/switch",
                  b"Upgrade: websocket\r\nConnection: Upgrade\r\n",
                  settle=(SETTLE_101, 0.5))
        self.check(build + " 101 with Upgrade repair passes",
                   got.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), repr(got))

        # uwsgi and scgi: whatever nginx makes of a garbage header, the client
        # gets a parseable HTTP/1.1 response
        for kind in ("uwsgi", "scgi"):
            for path in (b"/line-before",):
                for m in MODES:
                    # a keep-alive response: 0.5 s after its status line
                    got = get(inst.ports[m], b"/%s%s" % (kind.encode(), path),
                              settle=(len(b"HTTP/1.1 200 "), 0.5))
                    self.check("%s %s %s %s: an HTTP/1.1 status line"
                               % (build, kind, path.decode(), m),
                               re.match(rb"HTTP/1\.1 \d{3} ", got) is not None,
                               repr(got[:80]))

        # trailer fields (add_trailer): the name and value rules apply; repair
        # drops the bad ones
        for m in MODES:
            before = len(inst.log(m))
            got = get(inst.ports[m], b"/trailers", b"Connection: close\r\n")
            body = got[got.index(b"\r\n\r\n") + 4:]
            lines = lbguard_lines(inst.log(m)[before:])
            if m == "repair":
                self.eq(build + " trailers repair: bad fields dropped", body,
                        b"5\r\nhello\r\n0\r\nX-Good: ok\r\n\r\n")
                self.eq(build + " trailers repair: log", lines, [
                       '[warn] lbguard: trailer field-name-invalid: field name "X Bad", '
                       'trailer field dropped',
                       '[warn] lbguard: trailer field-value-ctl: field "X-Ctl" value '
                       '"a\\x01b", trailer field dropped'])
            else:
                self.eq(build + " trailers %s: as configured" % m, body,
                        b"5\r\nhello\r\n0\r\nX Bad: v\r\nX-Ctl: a\x01b\r\n"
                        b"X-Good: ok\r\n\r\n")
                self.eq(build + " trailers %s: log" % m, lines, [] if m == "off" else [
                       '[warn] lbguard: trailer field-name-invalid: field name "X Bad", '
                       'not repaired (detect mode)',
                       '[warn] lbguard: trailer field-value-ctl: field "X-Ctl" value '
                       '"a\\x01b", not repaired (detect mode)'])

        # fastcgi's Status: the status line nginx writes is checked
        for m in MODES:
            before = len(inst.log(m))
            got = get(inst.ports[m], b"/fcgi", b"Connection: close\r\n")
            lines = lbguard_lines(inst.log(m)[before:])
            if m == "repair":
                self.check(build + " fastcgi Status 2000 repair: status set to 500",
                           got.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"),
                           repr(got[:80]))
            else:
                self.check(build + " fastcgi Status 2000 %s: as the upstream wrote it" % m,
                           got.startswith(b"HTTP/1.1 2000 OK\r\n"), repr(got[:80]))
            self.eq(build + " fastcgi Status 2000 %s: log" % m, lines, [] if m == "off" else [
                   '[warn] lbguard: status-code-invalid: status line "2000 OK", %s'
                   % ("status set to 500" if m == "repair" else "not repaired (detect mode)")])

        # a relative Location counts with the bytes nginx writes (absolute)
        for m in ("detect", "repair"):
            before = len(inst.log(m))
            got = lbgtest.raw_exchange(
                inst.ports[m], b"GET /redirect HTTP/1.1\r\nHost: t\r\n"
                b"Connection: close\r\n\r\n", timeout=5.0)
            head = got[:got.index(b"\r\n\r\n") + 4]
            self.check(build + " relative Location written absolute " + m,
                       b"\r\nLocation: http://t:%d/target-of-the-redirect\r\n"
                       % inst.ports[m] in head, repr(head))
            lines = lbguard_lines(inst.log(m)[before:])
            self.eq(build + " relative Location: budget counts the wire bytes " + m,
                    lines, ["[warn] lbguard: header-section-too-large: header section is "
                            "%d bytes, budget 100, %s" % (len(head),
                                                          "none under strictest (report); else the "
                                                          "target's own 502 Bad Gateway"
                                                          if m == "repair"
                                                          else "not repaired (detect mode)")])

        text = inst.all_logs()
        self.check(build + " no alert or crit", "[alert]" not in text
                   and "[crit]" not in text and "Sanitizer" not in text,
                   "\n".join(l for l in text.split("\n")
                             if "[alert]" in l or "[crit]" in l)[:2000])


if __name__ == "__main__":
    lbgtest.main()
