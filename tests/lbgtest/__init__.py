"""lbgtest -- the test harness shared by every Python suite (stdlib only).

A package, imported as `from tests import lbgtest` (the repository root on
sys.path: `python3 -m unittest ...` and `python3 -m pytest ...` run from
the root put it there). Conventions (tests/README.md):

  * one unittest TestCase per suite, subclassing lbgtest.TestCase; each
    check is a subTest (TestCase.check / TestCase.eq), so that a failing
    check fails that subTest and the run goes on;
  * an absent build or tool is a skip (lbgtest.require / self.skipTest),
    never a failed check;
  * nothing runs at import: servers start in setUpClass and stop in
    tearDownClass (or a class cleanup), scratch directories are made there;
  * every server listens on 127.0.0.1 on a port from free_port();
  * every process is started with Proc and stopped by its PID (atexit too);
  * readiness is checked (wait_port / wait_file), never slept for;
  * bytes on the wire are read raw from a socket (raw_exchange);
  * the build directory is $LBG_BUILD (default ROOT/build).

Submodules: configs (the text of every server configuration), nginx_env,
apache_env (one nginx / Apache under test), lb_configs (HAProxy, nginx and
Apache in an LB chain), servers (reference servers for the CLI suites),
lbgcli (the CLI and the raw corpus), lb_cases,
lb_race, lb_reload, nginx_cases (case tables and drivers), runner (the
counting unittest runner behind tests/run_all.py).
"""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_procs = []
_tmpdirs = []


def build_dir(argv=None):
    """The build directory (absolute): $LBG_BUILD; else, for the suites
    still run as scripts, --build DIR in argv; else ROOT/build."""
    env = os.environ.get("LBG_BUILD")
    if env:
        return os.path.abspath(env)
    argv = sys.argv if argv is None else argv
    if "--build" in argv and argv.index("--build") + 1 < len(argv):
        return os.path.abspath(argv[argv.index("--build") + 1])
    return os.path.join(ROOT, "build")


def require(path, hint):
    """Returns `path`, or skips the calling test (or, from setUpClass, the
    whole TestCase) when it does not exist: "<path> missing (<hint>)"."""
    if not os.path.exists(path):
        raise unittest.SkipTest("%s missing (%s)" % (path, hint))
    return path


def workdir(name, build=None):
    """A fresh, empty scratch directory build/itest/<name> (absolute)."""
    d = os.path.join(build or build_dir(), "itest", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def shared_tmpdir(prefix):
    """A fresh directory under the system temp dir that every user may
    walk into (mode 755), for servers whose workers run as another user
    (Apache's children as www-data cannot reach a build directory under a
    private one, such as CI's clone in a mode-700 mktemp directory). It is
    removed when the process exits, after its servers are stopped
    (LBG_KEEP_TMP=1 keeps it, to read its logs)."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    _tmpdirs.append(d)
    return d


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10.0, proc=None):
    """Waits until 127.0.0.1:port accepts a connection. Raises if `proc`
    exits first or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s exited with %s before listening on %d"
                               % (proc.name, proc.poll(), port))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listens on 127.0.0.1:%d after %.1fs" % (port, timeout))


def wait_for(pred, timeout=10.0, what="condition"):
    """Polls pred() until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise RuntimeError("timed out waiting for " + what)


class Proc:
    """A child process stopped by its PID (TERM, then KILL) at stop() or exit."""

    def __init__(self, argv, name=None, cwd=None, log=None, env=None):
        self.name = name or os.path.basename(argv[0])
        self.log = log
        out = open(log, "ab") if log else subprocess.DEVNULL
        try:
            self.p = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env)
        finally:
            if log:
                out.close()     # the child has its own descriptor
        self.pid = self.p.pid
        _procs.append(self)

    def poll(self):
        return self.p.poll()

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.p.poll() is None:
            try:
                os.kill(self.pid, sig)
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.p.wait()
            except ProcessLookupError:
                pass
        if self in _procs:
            _procs.remove(self)
        return self.p.returncode


@atexit.register
def _stop_all():
    for p in list(_procs):
        p.stop()
    if not os.environ.get("LBG_KEEP_TMP"):
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


def raw_exchange(port, data, timeout=5.0, shut_write=False,
                 mark_timeout=False, settle=None):
    """Sends `data` to 127.0.0.1:port and returns every byte received until
    the peer closes or `timeout` seconds pass without data; with
    mark_timeout, the latter ends the bytes with b"<TIMEOUT>", so that a
    server that hangs cannot pass for one that closed. A reset ends them
    with b"<RST>". settle=(n, secs): once n bytes have arrived, the wait
    without data is secs instead of `timeout` (for a peer known to keep
    the connection open after n bytes: no need to wait the full timeout
    for the <TIMEOUT> mark)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        got = 0
        while True:
            if settle is not None and got >= settle[0]:
                s.settimeout(settle[1])
            try:
                b = s.recv(65536)
            except socket.timeout:
                if mark_timeout:
                    chunks.append(b"<TIMEOUT>")
                break
            except ConnectionResetError:
                chunks.append(b"<RST>")
                break
            if not b:
                break
            chunks.append(b)
            got += len(b)
        return b"".join(chunks)


def split_response(raw):
    """Splits raw bytes into (status_line, [(name, value)...], body) at the
    first empty line. Names keep their case; no normalisation."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    fields = []
    for ln in lines[1:]:
        n, _, v = ln.partition(b":")
        fields.append((n, v.strip(b" \t")))
    return lines[0], fields, body


def field_values(raw, name):
    """All values of field `name` (case-insensitive) in a raw response."""
    _, fields, _ = split_response(raw)
    return [v for n, v in fields if n.lower() == name.lower().encode()]


def hang_up(c):
    """Shuts socket c down both ways (a peer that already went is fine),
    then closes it."""
    try:
        c.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    c.close()


class RawBackend:
    """A raw-socket HTTP/1.x backend on 127.0.0.1:<free port>.

    routes: {b"/path": bytes or callable(request_bytes) -> bytes}. The reply
    is sent as is, then the connection is closed (close=True) or kept open
    for the next request (close=False). Unknown paths get a 404."""

    def __init__(self, routes, close=True):
        self.routes = routes
        self.close = close
        self.requests = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self._stop = False
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        while not self._stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(c,), daemon=True).start()

    def _handle(self, c):
        buf = b""
        try:
            c.settimeout(30)
            while True:
                while b"\r\n\r\n" not in buf:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                head, _, buf = buf.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                need = int(m.group(1)) if m else 0
                while len(buf) < need:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                buf = buf[need:]
                self.requests.append(head)
                path = head.split(b" ")[1] if b" " in head else b"/"
                path = path.split(b"?")[0]
                r = self.routes.get(path)
                if r is None:
                    r = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                elif callable(r):
                    r = r(head)
                c.sendall(r)
                if self.close:
                    return
        except OSError:
            return
        finally:
            hang_up(c)

    def stop(self):
        self._stop = True
        self.sock.close()


def nginx_temp_paths(d):
    """The five *_temp_path directives under directory d (absolute)."""
    out = []
    for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        p = os.path.join(d, "temp", k)
        os.makedirs(p, exist_ok=True)
        out.append("%s_temp_path %s;" % (k, p))
    return "\n".join(out)


def read_bytes(path):
    """The bytes of file `path` (closed again)."""
    with open(path, "rb") as f:
        return f.read()


def write_file(path, data):
    """Writes `data` (bytes, or str as UTF-8) to `path`; returns path."""
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def read_log(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


def _line(ok, suite, name, detail):
    if ok:
        print("PASS %s: %s" % (suite, name))
    else:
        print("FAIL %s: %s %s" % (suite, name, detail))
    sys.stdout.flush()


class TestCase(unittest.TestCase):
    """The base of every suite: one TestCase per suite, one test method per
    group of checks (selectable by name: -k), one subTest per check.

    check()/eq() print the same "PASS <suite>: <name>" / "FAIL <suite>:
    <name> <detail>" lines as the old Results did and record a subTest,
    which tests/run_all.py counts. Subclasses set `suite` (the name in
    those lines) and start their servers in setUpClass, after calling
    super().setUpClass() (which sets cls.build); a server is stopped in
    tearDownClass or by cls.addClassCleanup(proc.stop)."""

    suite = None
    build = None
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.build = build_dir()

    @classmethod
    def workdir(cls, name):
        """A fresh scratch directory build/itest/<name> (made here, so
        call it from setUpClass or a test, never at import)."""
        return workdir(name, cls.build or build_dir())

    def _suite(self):
        return self.suite or type(self).__module__.rsplit(".", 1)[-1]

    def check(self, name, cond, detail=""):
        """One check, one subTest named `name`: passes when `cond` is true;
        else fails that subTest with `detail` and the test goes on.
        Returns bool(cond)."""
        with self.subTest(name):
            _line(cond, self._suite(), name, detail)
            if not cond:
                self.fail("%s %s" % (name, detail))
        return bool(cond)

    def eq(self, name, got, expected):
        """check() that `got` == `expected`, with both in the detail."""
        return self.check(name, got == expected,
                          "\n  got:      %r\n  expected: %r" % (got, expected))

    def skip_part(self, name, reason):
        """Skips one part of a test (a subTest named `name`), for an absent
        tool that only that part needs; the test goes on."""
        with self.subTest(name):
            self.skipTest(reason)


def main():
    """`python3 -m tests.<dir>.test_x [--build DIR] [unittest options]`:
    runs that module's TestCases with the counting runner."""
    from tests.lbgtest import runner
    runner.main(module="__main__")
