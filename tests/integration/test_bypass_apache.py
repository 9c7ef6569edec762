#!/usr/bin/env python3
"""Issue 9 on Apache: fields added after the handler ("Header always add
Content-Length 5", "Header always set Transfer-Encoding chunked") reach the
wire through err_headers_out; lbguard must hold the body to such a
Content-Length and must not let an application's Transfer-Encoding go out
over a body Apache does not frame (te-not-applied).

Exact bytes from raw sockets (Date normalised), exact log lines.

Usage: python3 -m tests.integration.test_bypass_apache [--build BUILD] [-k NAME]
"""
import os
import re
import subprocess

from tests import lbgtest
from tests.lbgtest.apache_env import Apache, workdir

CGI_OUT = b"Content-Type: text/plain\r\nX-A: abc\r\n\r\nhello world\n"
BODY = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")

CONF = """
ScriptAlias /cgi-bin/ {d}/cgi-bin/
<Location /cgi-bin/cl>
  Header always add Content-Length 5
</Location>
<Location /cgi-bin/cl-once>
  Header always add Content-Length 5
</Location>
<Location /cgi-bin/te>
  Header always set Transfer-Encoding chunked
</Location>
<Location /cgi-bin/te-onsuccess>
  Header set Transfer-Encoding chunked
</Location>
<Location /cgi-bin/ctl>
  Header always set X-Ctl "a\x01b"
</Location>
<Location /off/>
  LBGuard Off
</Location>
<Location /off/cgi-bin/te>
  Header always set Transfer-Encoding chunked
</Location>
Alias /off/cgi-bin/ {d}/cgi-bin/
<Directory {d}/cgi-bin>
  Options +ExecCGI
  SetHandler cgi-script
</Directory>
LBGuard Repair
LoadModule http2_module /usr/lib/apache2/modules/mod_http2.so
<VirtualHost 127.0.0.1:{h2c}>
  Protocols h2c http/1.1
  ScriptAlias /cgi-bin/ {d}/cgi-bin/
</VirtualHost>
"""


def norm(raw):
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: DATE\r\n", raw)


def get(port, path, extra=b""):
    return norm(lbgtest.raw_exchange(
        port, b"GET " + path + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        + extra + b"\r\n", timeout=5, mark_timeout=True))


def lines_since(ap, off):
    return [ln for ln in ap.read_from(ap.error_log, off).splitlines()
            if "lbguard:" in ln]


HEAD = (b"HTTP/1.1 200 OK\r\nDate: DATE\r\nServer: Apache\r\nX-A: abc\r\n")


class BypassApache(lbgtest.TestCase):
    suite = "bypass-apache"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        so = lbgtest.require(os.path.join(cls.build, "apache", "mod_lbguard.so"), "make apache")
        d = workdir("bypass-apache", cls.build)
        cls.h2c = lbgtest.free_port()
        cls.ap = ap = Apache(d, so, CONF, extra_ports=[cls.h2c])
        ap.write_conf(h2c=cls.h2c)
        for n in ("cl-once", "te", "te-onsuccess", "ctl", "plain"):
            ap.cgi(n, CGI_OUT)
        # more bad fields than a report holds (LBG_FINDINGS_MAX 32,
        # LBG_EDITS_MAX 64)
        ap.cgi("many-ctl", b"Content-Type: text/plain\r\n"
               + b"".join(b"X-C%d: a\x01b\r\n" % i for i in range(70)) + b"\r\nok")
        # a 1xx as the final status: Apache sends it with the body
        for n, status in (("interim", b"100 Continue"), ("early", b"103 Early Hints")):
            ap.cgi(n, b"Status: " + status + b"\r\n" + CGI_OUT)
        # streamed (a pause after "hel"): CONTENT_LENGTH passes the first
        # bytes on before it sees the end, the one outcome
        ap.cgi("cl", CGI_OUT, slow_after=CGI_OUT.index(b"hello") + 3)
        cls.addClassCleanup(ap.stop)
        ap.start()

    def test_content_length(self):
        ap, head = self.ap, HEAD
        off = ap.log_size()[0]
        got = get(ap.port, b"/cgi-bin/cl")
        self.eq("Header always add Content-Length 5: body held to 5 bytes", got,
                head + b"Content-Length: 5\r\nConnection: close\r\n"
                b"Content-Type: text/plain\r\n\r\nhello")
        self.eq("Header always add Content-Length 5: log", lines_since(ap, off),
                ["[lbguard:warn] lbguard: body-longer-than-content-length: Content-Length"
                 " 5, body 12 bytes, body cut to its declared length, connection closed"])

    def test_content_length_once(self):
        # The script writes everything at once. Apache's two outcomes: the
        # body streamed and held to 5 bytes, or (the script had already
        # exited, CONTENT_LENGTH saw the whole body in its first brigade)
        # the body's own length, which replaces the 5 lbguard moved to
        # headers_out. Never both fields (the defect lbguard prevents:
        # "Content-Length: 5" and "Content-Length: 12" from
        # err_headers_out and headers_out; about 1 request in 50 took the
        # second outcome when measured). 100 requests, each one of the two.
        ap, head = self.ap, HEAD
        cut = (head + b"Content-Length: 5\r\nConnection: close\r\n"
               b"Content-Type: text/plain\r\n\r\nhello",
               ["[lbguard:warn] lbguard: body-longer-than-content-length: Content-Length"
                " 5, body 12 bytes, body cut to its declared length, connection closed"])
        whole = (head + b"Content-Length: 12\r\nConnection: close\r\n"
                 b"Content-Type: text/plain\r\n\r\nhello world\n", [])
        seen = {"cut": 0, "whole": 0}
        for i in range(100):
            off = ap.log_size()[0]
            got = get(ap.port, b"/cgi-bin/cl-once")
            res = (got, lines_since(ap, off))
            ok = res in (cut, whole)
            if ok:
                seen["cut" if res == cut else "whole"] += 1
            else:
                self.check("Header always add Content-Length 5, output at once: request %d "
                           "held to 5 bytes (+ log line) or sent with its own length" % i,
                           False, repr(res))
                break
        else:
            self.check("Header always add Content-Length 5, output at once: 100 requests, each "
                       "held to 5 bytes (+ log line) or sent with its own length, one "
                       "Content-Length", True)
        print("  output at once: held to 5 bytes %(cut)d, its own length %(whole)d" % seen)

    def test_transfer_encoding(self):
        ap, head = self.ap, HEAD
        for loc in (b"te", b"te-onsuccess"):
            off = ap.log_size()[0]
            got = get(ap.port, b"/cgi-bin/" + loc)
            # Apache's two outcomes: close-delimited, or (when the script had
            # already exited and the whole body was in one brigade) the
            # Content-Length its CONTENT_LENGTH filter computes
            self.check("Transfer-Encoding chunked (%s): removed, body close-delimited "
                       "or with Apache's own Content-Length" % loc.decode(),
                       got in (head + b"Connection: close\r\nContent-Type: text/plain\r\n\r\n"
                               b"hello world\n",
                               head + b"Content-Length: 12\r\nConnection: close\r\n"
                               b"Content-Type: text/plain\r\n\r\nhello world\n"), got)
            self.eq("Transfer-Encoding chunked (%s): log" % loc.decode(),
                    lines_since(ap, off),
                    ['[lbguard:warn] lbguard: te-not-applied: field "Transfer-Encoding" '
                     'value "chunked", Transfer-Encoding removed, connection closed'])

    def test_ctl(self):
        ap = self.ap
        # a control character from "Header always set": in the view, sanitized
        off = ap.log_size()[0]
        got = get(ap.port, b"/cgi-bin/ctl")
        self.check("Header always set X-Ctl a<01>b: sanitized", b"\r\nX-Ctl: a b\r\n" in got,
                   repr(got))
        self.eq("Header always set X-Ctl a<01>b: log", lines_since(ap, off),
                ['[lbguard:warn] lbguard: field-value-ctl: field "X-Ctl" value "a\\\\x01b", '
                 'control characters replaced with SP'])

    def test_interim_as_final(self):
        ap = self.ap
        # "Status: 100" from a CGI: HTTP_HEADER sends "HTTP/1.1 100 Continue"
        # as the final response, then the chunked body, which the load
        # balancer reads as the next response (interim-response-as-final):
        # the target's own 502, as on nginx
        for n, code in ((b"interim", 100), (b"early", 103)):
            for method in (b"GET", b"HEAD"):
                off = ap.log_size()[0]
                got = norm(lbgtest.raw_exchange(
                    ap.port, method + b" /cgi-bin/" + n + b" HTTP/1.1\r\nHost: t\r\n"
                    b"Connection: close\r\n\r\n", timeout=5, mark_timeout=True))
                what = "Status: %d (%s)" % (code, method.decode())
                self.eq(what + ": the target's own 502", got,
                        b"HTTP/1.1 502 Bad Gateway\r\nDate: DATE\r\nServer: Apache\r\n"
                        b"Content-Length: 122\r\nConnection: close\r\n"
                        b"Content-Type: text/html\r\n\r\n"
                        + (BODY if method == b"GET" else b""))
                self.eq(what + ": log", lines_since(ap, off),
                        ["[lbguard:warn] lbguard: interim-response-as-final: interim status "
                         "%d sent as the final response, replaced by the target's own 502 "
                         "Bad Gateway" % code])

    def test_h2c_upgrade(self):
        # mod_http2's h2c upgrade: its own 101, the response as HTTP/2,
        # then Apache finishes the HTTP/1.1 request (status 101, no
        # HTTP_HEADER left): no header section goes out for it, so no
        # finding (it was logged as a 101 without Upgrade "replaced by the
        # target's own 502", on every h2c upgrade)
        ap = self.ap
        off = ap.log_size()[0]
        r = subprocess.run(["curl", "-s", "--http2", "-D", "-", "-o", "-", "--max-time", "5",
                            "http://127.0.0.1:%d/cgi-bin/plain" % self.h2c],
                           stdout=subprocess.PIPE, timeout=10)
        out = re.sub(rb"\r\ndate: [^\r]*\r\n", b"\r\n", r.stdout)
        # (the CGI's fields in either order, a content-length or not)
        self.check("h2c upgrade: 101, then the HTTP/2 response",
                   r.returncode == 0 and out.startswith(
                       b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
                       b"Connection: Upgrade\r\n\r\nHTTP/2 200 \r\n")
                   and out.endswith(b"\r\nserver: Apache\r\n\r\nhello world\n"),
                   repr((r.returncode, out)))
        self.eq("h2c upgrade: no lbguard line", lines_since(ap, off), [])

    def test_full_report_closes(self):
        # 70 fields with a control character: the report holds 64 edits,
        # the other 6 stay as they were, so Repair must not let the
        # connection be reused (lbg.h: a truncated report sets close).
        # Apache's own check_headers() then refuses those 6 (AH02430) and
        # sends its 500, which closes the connection too. A keep-alive
        # request: <TIMEOUT> would mean Apache kept it open.
        ap = self.ap
        off = ap.log_size()[0]
        got = norm(lbgtest.raw_exchange(
            ap.port, b"GET /cgi-bin/many-ctl HTTP/1.1\r\nHost: t\r\n\r\n",
            timeout=5, mark_timeout=True, settle=(1, 0.5)))
        head, _, body = got.partition(b"\r\n\r\n")
        self.check("70 bad fields, Repair: Apache's 500 with Connection: close",
                   head.startswith(b"HTTP/1.1 500 ")
                   and b"\r\nConnection: close\r\n" in head + b"\r\n", repr(head))
        self.check("70 bad fields, Repair: the connection closed after the body",
                   body.endswith(b"</html>\n"), repr(body[-60:]))
        text = ap.read_from(ap.error_log, off)
        self.eq("70 bad fields, Repair: 32 findings logged, Apache refused X-C64",
                (text.count("lbguard: field-value-ctl"),
                 "Response header 'X-C64' value of 'a\\x01b' contains invalid characters"
                 in text), (32, True))

    def test_off(self):
        ap = self.ap
        # without lbguard the wire carries the lie: chunked over a plain body
        got = get(ap.port, b"/off/cgi-bin/te")
        self.check("Off: Transfer-Encoding chunked over an unframed body (the defect)",
                   b"Transfer-Encoding: chunked\r\n" in got
                   and got.endswith(b"\r\n\r\nhello world\n"), repr(got))

    def test_z_sanitizer(self):
        ap = self.ap
        # last (tests run in name order): after every request above
        text = lbgtest.read_log(ap.error_log)
        self.check("no Sanitizer report, no crash", "Sanitizer" not in text
                   and "AH00052" not in text, text[-1000:])


if __name__ == "__main__":
    lbgtest.main()
