"""lbg_servers -- real servers on 127.0.0.1 for the CLI suites: Debian's
nginx (as a server or as a reverse proxy), Apache, HAProxy, Python's
http.server and Node's http module. Each start_* returns a started
lbgtest.Proc that listens (wait_port) on the given port; stop it with
.stop() (by PID).
"""
import os
import shutil
import socket
import threading
import time

from tests.lbgtest import Proc, RawBackend, configs, shared_tmpdir, wait_port
from tests.lbgtest.configs import APACHE, HAPROXY, NGINX  # noqa: F401
NODE = shutil.which("node") or "/usr/bin/node"


def have(path):
    return os.path.exists(path) and os.access(path, os.X_OK)


def _reachable_by_others(d):
    """True when every existing parent of d is searchable by other users."""
    p = os.path.abspath(d)
    while True:
        if os.path.exists(p) and not os.stat(p).st_mode & 0o001:
            return False
        parent = os.path.dirname(p)
        if parent == p:
            return True
        p = parent


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def start_nginx(d, port, http_block, log=None):
    """nginx in the foreground, one process (no workers: nothing runs as
    another user), with `http_block` inside http { }."""
    os.makedirs(d, exist_ok=True)
    conf = _write(os.path.join(d, "nginx.conf"), configs.nginx_server_conf(d, http_block))
    p = Proc([NGINX, "-p", d, "-c", conf], name="nginx", log=log or os.path.join(d, "out.log"))
    wait_port(port, proc=p)
    return p


def start_apache(d, port, keepalive_timeout):
    """Apache (event MPM) serving d/htdocs/index.html, KeepAliveTimeout
    `keepalive_timeout` seconds (httpd's KeepAliveTimeout,
    https://httpd.apache.org/docs/2.4/mod/core.html#keepalivetimeout). Its children run
    as www-data: when that user cannot reach d (a checkout under a private
    directory), a fresh directory under the system temp dir is used."""
    if not _reachable_by_others(d):
        d = shared_tmpdir("lbguard-cli-apache-")
    for sub in ("htdocs", "logs", "run"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    for root, dirs, _ in os.walk(d):
        os.chmod(root, 0o755)
    _write(os.path.join(d, "htdocs", "index.html"), "<p>ok</p>\n")
    os.chmod(os.path.join(d, "htdocs", "index.html"), 0o644)
    conf = _write(os.path.join(d, "httpd.conf"),
                  configs.apache_static_conf(d, port, keepalive_timeout))
    p = Proc([APACHE, "-f", conf, "-DFOREGROUND"], name="apache2",
             log=os.path.join(d, "out.log"))
    wait_port(port, proc=p)
    return p


PY_SERVER = r"""
import http.server, ssl, sys
port, timeout, proto = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = proto
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
H.timeout = timeout
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
"""


def start_python(d, port, timeout, proto="HTTP/1.1", cert=None, key=None):
    """Python's http.server: idle keep-alive connections end after
    `timeout` seconds (StreamRequestHandler.timeout); HTTPS with cert/key."""
    os.makedirs(d, exist_ok=True)
    script = _write(os.path.join(d, "server.py"), PY_SERVER)
    argv = ["python3", script, str(port), str(timeout), proto]
    if cert:
        argv += [cert, key]
    p = Proc(argv, name="python-http", log=os.path.join(d, "out.log"))
    wait_port(port, proc=p)
    return p


NODE_SERVER = r"""
const http = require('http');
const port = Number(process.argv[2]);
const s = http.createServer((req, res) => { res.end('ok\n'); });
s.listen(port, '127.0.0.1');
"""


def start_node(d, port):
    """Node's http server with its default keepAliveTimeout (5 s)."""
    os.makedirs(d, exist_ok=True)
    script = _write(os.path.join(d, "server.js"), NODE_SERVER)
    p = Proc([NODE, script, str(port)], name="node", log=os.path.join(d, "out.log"))
    wait_port(port, proc=p)
    return p


class ScriptedServer(RawBackend):
    """A raw-socket server on 127.0.0.1:<free port> (lbgtest.RawBackend's
    listener and accept loop): answers each connection's first request
    with `response`, then keeps the connection idle for `idle` seconds (its
    own keep-alive timer) and closes it with FIN, or with RST when rst=True
    (SO_LINGER 0). A list of byte strings as `response` is sent one part
    at a time, 100 ms apart (an interim response, then the final one)."""

    def __init__(self, response, idle, rst=False):
        self.response, self.idle, self.rst = response, idle, rst
        super().__init__({})

    def _handle(self, c):
        import struct
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                d = c.recv(65536)
                if not d:
                    return
                buf += d
            if isinstance(self.response, list):
                for i, part in enumerate(self.response):
                    if i:
                        time.sleep(0.1)
                    c.sendall(part)
            else:
                c.sendall(self.response)
            # the server's idle timer: wait for the client or the timeout
            c.settimeout(self.idle)
            try:
                c.recv(1)
            except socket.timeout:
                pass
            if self.rst:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        finally:
            c.close()


