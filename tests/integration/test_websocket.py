#!/usr/bin/env python3
"""test_websocket -- a 101 ends the HTTP message: WebSocket through nginx and
Apache with lbguard off, detect and repair, directly and behind HAProxy 2.6
(issue 8).

Backends: a raw-socket WebSocket echo server written here (stdlib), and on
Apache also mod_lua's r:wsupgrade() echo handler, which sets
"Transfer-Encoding: chunked" on its 101 (to keep Apache's CHUNK filter
away); lbguard's framing-on-bodiless-status repair removes that field.

Paths, for each lbguard mode (one server{} / virtual host per mode):
  nginx   /ws        proxy_pass with Upgrade/Connection to the Python server
          /ws-cl     the same, the server's 101 with Content-Length: 5
          /r101      `return 101 "hello"` (with Upgrade, to an upgrade request): the bytes after it are no body
  Apache  /ws.lua    the mod_lua handler itself
          /proxy/lua mod_proxy_http upgrade=websocket -> /ws.lua (the issue)
          /proxy/py  mod_proxy_http upgrade=websocket -> the Python server
          /wst/py    mod_proxy_wstunnel (ws://, no fallback) -> Python server
          CONNECT    mod_proxy_connect to the Python server, WebSocket inside
and each of them (but /r101) again through HAProxy 2.6 (mode http) in front.
The Apache part runs twice when the ASan + UBSan module is built.

Every exchange is checked byte for byte from a raw socket: the 101 header
section (Date and Server values masked), then text frames of 5, 125, 126,
65535 and 65536 bytes sent masked and read back exactly as the echo server
frames them, then a close frame answered by a close frame and the end of
the connection. The lbguard lines of the error logs are checked exactly.
A module that was not built is a skip (make nginx-dynamic apache).

Usage (from the repository root):
    python3 -m tests.integration.test_websocket [--build BUILD] [-k NAME]
"""
import base64
import hashlib
import os
import re
import socket
import struct
import threading
import time

from tests import lbgtest
from tests.lbgtest import apache_env, configs, nginx_env

MODES = ("off", "detect", "repair")
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="                     # RFC 6455 1.3
ACCEPT = base64.b64encode(hashlib.sha1(KEY + GUID).digest())  # s3pPLMBi...
SIZES = (5, 125, 126, 4000, 65535, 65536)
HAPROXY = configs.HAPROXY
TIMEOUT = 5.0


# ------------------------------------------------------------ frames ----

def frame(payload, opcode=0x1, mask=None, lua=False):
    """One final frame (RFC 6455 5.2). Masked with the 4-byte `mask` when
    given (client to server). lua=True encodes the length as mod_lua's
    r:wswrite() does (64-bit form from 65535 bytes on, opcode text)."""
    n = len(payload)
    b0 = 0x80 | opcode
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < (65535 if lua else 65536):
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + mask + masked


def read_frame(sock):
    """Reads one frame; returns (opcode, payload) or None at EOF."""
    def need(n):
        buf = b""
        while len(buf) < n:
            d = sock.recv(n - len(buf))
            if not d:
                return None
            buf += d
        return buf
    h = need(2)
    if h is None:
        return None
    n = h[1] & 0x7f
    if n == 126:
        n = struct.unpack("!H", need(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", need(8))[0]
    mask = need(4) if h[1] & 0x80 else None
    p = need(n) if n else b""
    if mask:
        p = bytes(c ^ mask[i % 4] for i, c in enumerate(p))
    return h[0] & 0x0f, p


class EchoServer:
    """A WebSocket echo server on 127.0.0.1 (raw sockets, one thread per
    connection): answers the handshake with a 101 of exactly Upgrade,
    Connection and Sec-WebSocket-Accept, echoes every data frame with the
    same opcode (unmasked), answers a close frame with a close frame of
    the same payload and closes the connection."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(c,), daemon=True).start()

    def _handle(self, c):
        try:
            c.settimeout(30)
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = c.recv(4096)
                if not d:
                    return
                buf += d
            head = buf.split(b"\r\n\r\n", 1)[0]
            m = re.search(rb"(?im)^sec-websocket-key:\s*(\S+)", head)
            if not m:
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                          b"Connection: close\r\n\r\n")
                return
            acc = base64.b64encode(hashlib.sha1(m.group(1) + GUID).digest())
            # /ws-cl: a framing field on the 101 (lbguard's repair on nginx)
            cl = b"Content-Length: 5\r\n" if head.startswith(b"GET /ws-cl ") else b""
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\n" + cl + b"Sec-WebSocket-Accept: " + acc +
                      b"\r\n\r\n")
            while True:
                f = read_frame(c)
                if f is None:
                    return
                op, p = f
                if op == 0x8:
                    c.sendall(frame(p, 0x8))
                    return
                c.sendall(frame(p, op))
        except OSError:
            return
        finally:
            lbgtest.hang_up(c)


# ------------------------------------------------------------ client ----

def read_exact(s, n):
    """n bytes from s, or fewer followed by <EOF>, <TIMEOUT> or <RST>."""
    buf = b""
    while len(buf) < n:
        try:
            d = s.recv(n - len(buf))
        except socket.timeout:
            return buf + b"<TIMEOUT>"
        except ConnectionResetError:
            return buf + b"<RST>"
        if not d:
            return buf + b"<EOF>"
        buf += d
    return buf


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        try:
            d = s.recv(1)
        except socket.timeout:
            return buf + b"<TIMEOUT>"
        if not d:
            return buf + b"<EOF>"
        buf += d
    return buf


MASK_VALUES = re.compile(rb"(?im)^(date|server|proxy-agent): [^\r\n]*\r\n")


def mask_head(head):
    """Date and Server values replaced by '*' (they are not lbguard's)."""
    return MASK_VALUES.sub(lambda m: m.group(1) + b": *\r\n", head)


def session(t, name, port, path, expect_head, lua=False, connect=None):
    """One WebSocket session through 127.0.0.1:port; checks the 101 head,
    every echo and the close exchange byte for byte. The echo server
    echoes frames of every size in SIZES; mod_lua (lua=True) echoes the
    small ones and sends the big ones when asked ("big:N")."""
    req = (b"GET " + path + b" HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
           b"Connection: Upgrade\r\nSec-WebSocket-Key: " + KEY +
           b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    except OSError as e:
        t.check(name + ": connect", False, str(e))
        return
    with s:
        if connect is not None:
            # CONNECT to the echo server first: the WebSocket runs inside
            # the tunnel (RFC 9110 9.3.6)
            tport, want = connect
            s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                      % (tport, tport))
            got = read_head(s)
            t.eq(name + ": CONNECT answer", mask_head(got), want)
            if not got.endswith(b"\r\n\r\n"):
                return
        s.sendall(req)
        head = read_head(s)
        t.eq(name + ": 101 header section", mask_head(head), expect_head)
        if not head.endswith(b"\r\n\r\n"):
            return
        ok = True
        for n in SIZES:
            payload = (b"0123456789abcdefghijklmnopqrstuvwxyz" * (n // 36 + 1))[:n]
            if lua and n > 126:
                ask = b"big:%d" % n
                payload = b"x" * n
            else:
                ask = payload
            s.sendall(frame(ask, mask=b"\x11\x22\x33\x44"))
            want = frame(payload, lua=lua)
            got = read_exact(s, len(want))
            if got != want:
                t.eq("%s: echo of %d bytes" % (name, n), got[:64] + b"...", want[:64] + b"...")
                ok = False
                break
        t.check(name + ": frames of %s bytes echoed byte-exact"
                % "/".join(map(str, SIZES)), ok)
        if not ok:
            return
        # clean close: r:wsread() ends on an empty close frame, the handler
        # answers 88 00; the echo server returns the status code
        close = b"" if lua else b"\x03\xe8"
        s.sendall(frame(close, 0x8, mask=b"\x01\x02\x03\x04"))
        want = frame(close, 0x8)
        got = read_exact(s, len(want) + 1)
        t.eq(name + ": close frame, then the connection ends", got, want + b"<EOF>")


def head(*fields):
    return (b"HTTP/1.1 101 Switching Protocols\r\n"
            + b"".join(f + b"\r\n" for f in fields) + b"\r\n")


ACC = b"Sec-WebSocket-Accept: " + ACCEPT


# ------------------------------------------------------------- HAProxy ----

def start_haproxy(d, targets):
    """HAProxy 2.6 with one frontend per (name, target port); returns
    (Proc, {name: port})."""
    ports = {name: lbgtest.free_port() for name, _ in targets}
    cfg = os.path.join(d, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(configs.haproxy_proxy_cfg(
            [(name, ports[name], tport) for name, tport in targets],
            [("connect", "5s"), ("client", "30s"), ("server", "30s"), ("tunnel", "30s")]))
    p = lbgtest.Proc([HAPROXY, "-db", "-f", cfg], name="haproxy",
                     log=os.path.join(d, "haproxy.log"))
    for port in ports.values():
        lbgtest.wait_port(port, proc=p)
    return p, ports


def via_haproxy(h):
    """The header section HAProxy 2.6 sends for target head h: field names
    in lower case (its HTX default), values unchanged, and no
    Transfer-Encoding or Content-Length (HAProxy drops framing fields on
    a 1xx)."""
    lines = h.split(b"\r\n")
    out = [lines[0]]
    for ln in lines[1:]:
        if b":" in ln:
            n, v = ln.split(b":", 1)
            if n.lower() in (b"transfer-encoding", b"content-length"):
                continue
            ln = n.lower() + b":" + v
        out.append(ln)
    return b"\r\n".join(out)


# --------------------------------------------------------------- nginx ----

NGINX_LOCATIONS = """
location /ws {
    proxy_pass http://127.0.0.1:@BACKEND@;
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_read_timeout 30s;
}
location /r101 {
    add_header Upgrade hello always;
    return 101 "hello";
}
"""

NGINX_HEAD = head(b"Server: *", b"Date: *", b"Connection: upgrade",
                  b"Upgrade: websocket", ACC)


# the echo server's /ws-cl puts Content-Length: 5 on its 101; nginx passes
# it on (off, detect), lbguard's repair removes it
NGINX_HEAD_CL = {False: head(b"Server: *", b"Date: *", b"Content-Length: 5",
                             b"Connection: upgrade", b"Upgrade: websocket", ACC),
                 True: NGINX_HEAD}


def nginx_part(build, so, echo, hap_targets):
    d = lbgtest.workdir("websocket-nginx", build)
    ngx = nginx_env.Instance("ws", nginx_env.NGINX, [so], d, NGINX_LOCATIONS,
                             backend_port=echo.port)
    ngx.start()
    for m in MODES:
        hap_targets.append(("nginx_" + m, ngx.ports[m]))
    return ngx


def nginx_checks(t, ngx, hports):
    for m in MODES:
        session(t, "nginx %s /ws" % m, ngx.ports[m], b"/ws", NGINX_HEAD)
        session(t, "haproxy -> nginx %s /ws" % m, hports["nginx_" + m], b"/ws",
                via_haproxy(NGINX_HEAD))
        h = NGINX_HEAD_CL[m == "repair"]
        session(t, "nginx %s /ws-cl" % m, ngx.ports[m], b"/ws-cl", h)
        session(t, "haproxy -> nginx %s /ws-cl" % m, hports["nginx_" + m], b"/ws-cl",
                via_haproxy(h))
    # nginx's own 101 with bytes after it: they are not a body (before
    # issue 8 the body guard dropped them in repair as body-on-bodiless)
    for m in MODES:
        raw = lbgtest.raw_exchange(ngx.ports[m], b"GET /r101 HTTP/1.1\r\nHost: t\r\n"
                                   b"Connection: Upgrade\r\nUpgrade: hello\r\n\r\n",
                                   timeout=1, mark_timeout=True)
        cl = b"" if m == "repair" else b"Content-Length: 5\r\n"
        t.eq("nginx %s: return 101 \"hello\": the bytes after the header section untouched" % m,
             nginx_env.normalise(raw),
             b"HTTP/1.1 101 \r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\n"
             + cl + b"Connection: upgrade\r\nUpgrade: hello\r\n\r\nhello<TIMEOUT>")
    # one per 101 with Content-Length: /ws-cl direct and via HAProxy, /r101
    lines = {
        "off": [],
        "detect": ['[warn] lbguard: framing-on-bodiless-status: field "Content-Length" '
                   'value "5" on status 101, not repaired (detect mode)'] * 3,
        "repair": ['[warn] lbguard: framing-on-bodiless-status: field "Content-Length" '
                   'value "5" on status 101, Transfer-Encoding/Content-Length removed'] * 3,
    }
    for m in MODES:
        t.eq("nginx %s: lbguard lines (/ws-cl twice, /r101)" % m,
             nginx_env.lbguard_lines(ngx.log(m)), lines[m])


# -------------------------------------------------------------- Apache ----

# mod_lua's echo: "big:N" asks for N bytes back. r:wsread() takes a frame
# only when it arrives in one read (AP_MODE_READBYTES, else APR_INCOMPLETE),
# so frames over 126 bytes go from the handler to the client only (the
# proxied echo-server paths carry them both ways); r:wsclose() writes
# its close frame without a flush and closes the socket, so the handler
# sends 88 00 itself (raw write, flushed) first.
LUA_WS = """function handle(r)
  if r:wsupgrade() then
    while true do
      local data = r:wsread()
      if not data then break end
      if data:sub(1, 4) == "big:" then
        r:wswrite(string.rep("x", tonumber(data:sub(5))))
      else
        r:wswrite(data)
      end
    end
    r:wswrite("\\136\\0", true)
    r:wsclose()
  end
  return apache2.OK
end
"""

APACHE_BODY = """
LoadModule lua_module {moddir}/mod_lua.so
LoadModule proxy_wstunnel_module {moddir}/mod_proxy_wstunnel.so
LoadModule proxy_connect_module {moddir}/mod_proxy_connect.so
{vhosts}
"""

APACHE_VHOST = """
<VirtualHost 127.0.0.1:{port}>
  ServerName {mode}
  LBGuard {mode}
  CustomLog logs/{lmode}.access "%r|%>s|%{{lbguard-findings}}n"
  ProxyWebsocketFallbackToProxyHttp Off
  ProxyRequests On
  AllowCONNECT {echo}
  <Files "ws.lua">
    SetHandler lua-script
  </Files>
  ProxyPass /proxy/lua http://127.0.0.1:{port}/ws.lua upgrade=websocket
  ProxyPass /proxy/py http://127.0.0.1:{echo}/ws upgrade=websocket
  ProxyPass /wst/py ws://127.0.0.1:{echo}/ws
</VirtualHost>
"""

# mod_lua's 101, as Apache's HTTP_HEADER sends it (lbguard off or detect):
# the Transfer-Encoding mod_lua sets keeps Apache from chunking the frames
LUA_HEAD_APACHE = head(b"Date: *", b"Server: *", b"Upgrade: websocket",
                       b"Connection: Upgrade", ACC,
                       b"Transfer-Encoding: chunked")
# repair: the field removed, and the 101 sent as Apache's own protocol
# switches send one (status line and fields), no chunking after it
LUA_HEAD_REPAIR = head(b"Upgrade: websocket", b"Connection: Upgrade", ACC)
# mod_proxy_http's 101 (ap_send_interim_response): the backend's fields
# without its hop-by-hop ones, then its own Connection and Upgrade
PROXY_HEAD_PY = head(ACC, b"Connection: Upgrade", b"Upgrade: websocket")
PROXY_HEAD_LUA = {
    "off": head(b"Date: *", b"Server: *", ACC, b"Transfer-Encoding: chunked",
                b"Connection: Upgrade", b"Upgrade: websocket"),
    "repair": head(ACC, b"Connection: Upgrade", b"Upgrade: websocket"),
}
PROXY_HEAD_LUA["detect"] = PROXY_HEAD_LUA["off"]
# the echo server's own 101 (inside a CONNECT tunnel)
ECHO_HEAD = head(b"Upgrade: websocket", b"Connection: Upgrade", ACC)
# mod_proxy_connect's answer, written to the connection by the handler
CONNECT_HEAD = b"HTTP/1.0 200 Connection Established\r\nProxy-agent: *\r\n\r\n"
# mod_proxy_wstunnel relays the backend's bytes from the status line on
WSTUNNEL_HEAD = head(b"Upgrade: websocket", b"Connection: Upgrade", ACC)


def apache_part(build, label, so, env, echo, hap_targets):
    """Starts Apache with module `so` (environment env: the sanitizer
    runtimes for the ASan build) and one virtual host per mode; returns
    (Apache, {mode: port}, configtest status, its output); Apache is not
    started when the configtest fails."""
    d = apache_env.workdir("websocket-" + label, build)
    ports = {m: lbgtest.free_port() for m in MODES}
    vhosts = "".join(APACHE_VHOST.format(port=ports[m], mode=m.capitalize(), lmode=m,
                                         echo=echo.port) for m in MODES)
    body = APACHE_BODY.replace("{moddir}", apache_env.MODDIR).replace("{vhosts}", vhosts)
    ap = apache_env.Apache(d, so, body.replace("{", "{{").replace("}", "}}"),
                           extra_ports=[ports[m] for m in MODES], env=env)
    with open(os.path.join(d, "htdocs", "ws.lua"), "w") as f:
        f.write(LUA_WS)
    ap.write_conf()
    rc, out = ap.test_config()
    if rc != 0:
        return ap, ports, rc, out
    ap.start()
    for m in MODES:
        hap_targets.append((label.replace("-", "_") + "_" + m, ports[m]))
    return ap, ports, rc, out


LBG_LINE = {
    "detect": "[lbguard:warn] lbguard: framing-on-bodiless-status: field "
              "\"Transfer-Encoding\" value \"chunked\" on status 101, "
              "not repaired (detect mode)",
    "repair": "[lbguard:warn] lbguard: framing-on-bodiless-status: field "
              "\"Transfer-Encoding\" value \"chunked\" on status 101, "
              "Transfer-Encoding/Content-Length removed",
}


NOTE = {"off": "-", "detect": "framing-on-bodiless-status:detected",
        "repair": "framing-on-bodiless-status:repaired"}


def apache_checks(t, label, ap, ports, hports):
    for m in MODES:
        p, hp = ports[m], hports[label.replace("-", "_") + "_" + m]
        lua = LUA_HEAD_REPAIR if m == "repair" else LUA_HEAD_APACHE
        name = "%s %s " % (label, m)
        hname = "haproxy -> %s %s " % (label, m)
        session(t, name + "/ws.lua", p, b"/ws.lua", lua, lua=True)
        session(t, name + "/proxy/lua", p, b"/proxy/lua", PROXY_HEAD_LUA[m], lua=True)
        session(t, name + "/proxy/py", p, b"/proxy/py", PROXY_HEAD_PY)
        session(t, name + "/wst/py", p, b"/wst/py", WSTUNNEL_HEAD)
        session(t, name + "CONNECT", p, b"/ws", ECHO_HEAD,
                connect=(t.echo.port, CONNECT_HEAD))
        session(t, hname + "CONNECT", hp, b"/ws", ECHO_HEAD,
                connect=(t.echo.port, via_haproxy(CONNECT_HEAD)))
        session(t, hname + "/ws.lua", hp, b"/ws.lua", via_haproxy(lua), lua=True)
        session(t, hname + "/proxy/lua", hp, b"/proxy/lua",
                via_haproxy(PROXY_HEAD_LUA[m]), lua=True)
        session(t, hname + "/proxy/py", hp, b"/proxy/py", via_haproxy(PROXY_HEAD_PY))
        session(t, hname + "/wst/py", hp, b"/wst/py", via_haproxy(WSTUNNEL_HEAD))
    for m in MODES:
        # the handler ran 4 times: direct and proxied, each also via HAProxy
        access = os.path.join(ap.d, "logs", "%s.access" % m)
        got = wait_lines(lambda: [ln for ln in lbgtest.read_log(access).splitlines()
                                  if ln.startswith("GET /ws.lua ")], 4)
        t.eq(label + " %s: access log of /ws.lua" % m, got,
             ["GET /ws.lua HTTP/1.1|101|" + NOTE[m]] * 4)
    want = []
    for m in ("detect", "repair"):
        want += [LBG_LINE[m]] * 4
    # findings only: not the startup line "[lbguard:notice] lbguard/<version>"
    got = wait_lines(lambda: [ln for ln in lbgtest.read_log(ap.error_log).splitlines()
                              if "lbguard: " in ln], len(want))
    t.eq(label + ": lbguard lines of the error log", sorted(got), sorted(want))
    t.eq(label + ": no sanitizer report", [ln for ln in lbgtest.read_log(ap.error_log).splitlines()
                                           if "Sanitizer" in ln or "runtime error" in ln], [])


def wait_lines(get, n):
    """get() once it returns n lines (logs are written when a request
    ends, after its tunnel), or what it returns after TIMEOUT s."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and len(get()) < n:
        time.sleep(0.05)
    return get()


class WebSocketTest(lbgtest.TestCase):
    """The echo server, nginx, Apache (and its ASan build) and HAProxy in
    front of them all, started in setUpClass."""

    suite = "websocket"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.echo = EchoServer()
        cls.addClassCleanup(cls.echo.sock.close)
        targets = []
        cls.so = os.path.join(cls.build, "nginx-dynamic", "objs",
                              "ngx_http_lbguard_filter_module.so")
        cls.ngx = None
        if os.path.exists(cls.so):
            cls.ngx = nginx_part(cls.build, cls.so, cls.echo, targets)
            cls.addClassCleanup(cls.ngx.stop)
        so = os.path.join(cls.build, "apache", "mod_lbguard.so")
        asan = os.path.join(cls.build, "apache", "mod_lbguard-asan.so")
        cls.apaches = {}     # label: (Apache, ports, configtest rc, output) or a reason
        for label, path, env in (("apache", so, None),
                                 ("apache-asan", asan, apache_env.sanitizer_env(asan))):
            if not os.path.exists(path) or (label == "apache-asan" and env is None):
                cls.apaches[label] = "%s missing (make apache)" % path
                continue
            cls.apaches[label] = apache_part(cls.build, label, path, env, cls.echo, targets)
            cls.addClassCleanup(cls.apaches[label][0].stop)
        hd = lbgtest.workdir("websocket-haproxy", cls.build)
        hap, cls.hports = start_haproxy(hd, targets)
        cls.addClassCleanup(hap.stop)

    def test_nginx(self):
        if self.ngx is None:
            self.skipTest("%s missing (make nginx-dynamic)" % self.so)
        nginx_checks(self, self.ngx, self.hports)

    def apache(self, label):
        if isinstance(self.apaches[label], str):
            self.skipTest(self.apaches[label])
        ap, ports, rc, out = self.apaches[label]
        if self.check(label + ": configtest", rc == 0, out):
            apache_checks(self, label, ap, ports, self.hports)

    def test_apache(self):
        self.apache("apache")

    def test_apache_asan(self):
        self.apache("apache-asan")


if __name__ == "__main__":
    lbgtest.main()
