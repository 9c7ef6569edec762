"""apache_env -- a standalone Debian apache2 for the mod_lbguard suite.

Writes a minimal httpd.conf (absolute paths, 127.0.0.1 on free ports,
mpm_event, mod_cgid, mod_headers, mod_proxy_http, mod_env), starts
`apache2 -f CONF -DFOREGROUND` as an lbgtest.Proc (stopped by PID) and
waits until every port listens. Used by test_apache.py only.
"""
import os
import stat
import subprocess

from tests import lbgtest
from tests.lbgtest import configs

APACHE = configs.APACHE
MODDIR = configs.APACHE_MODS
MODULES = configs.APACHE_TEST_MODS


def workdir(name, build):
    """lbgtest.workdir(name), or a fresh directory under /tmp when the
    build directory is not reachable by other users: the CGI scripts run
    as User www-data, which must be able to walk down to them (a checkout
    under /root is mode 700)."""
    d = lbgtest.workdir(name, build)
    p = d
    while p != os.path.dirname(p):
        p = os.path.dirname(p)
        if not os.stat(p).st_mode & stat.S_IXOTH:
            d = lbgtest.shared_tmpdir("lbguard-%s-" % name)
            print("NOTE %s: %s is not reachable by www-data; using %s" % (name, p, d))
            break
    return d


def sanitizer_env(so):
    """The environment that runs an ASan + UBSan module inside Debian's
    (uninstrumented) apache2: the runtimes the module links, preloaded.
    None when `so` is missing or links no sanitizer runtime."""
    if not os.path.exists(so):
        return None
    out = subprocess.run(["ldd", so], stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    libs = [ln.split("=>")[1].split()[0] for ln in out.splitlines()
            if "=>" in ln and ("libasan" in ln or "libubsan" in ln)]
    if not libs or not all(os.path.exists(x) for x in libs):
        return None
    # Apache's pools are not freed at exit: no leak check. A report goes
    # to stderr, i.e. the error log (children) or stdout.log (parent).
    return dict(os.environ, LD_PRELOAD=":".join(libs),
                ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
                UBSAN_OPTIONS="print_stacktrace=1")


class Apache:
    """One apache2 instance in directory d (absolute)."""

    def __init__(self, d, so, body, extra_ports=(), env=None):
        self.d = d
        self.so = so
        self.env = env
        self.port = lbgtest.free_port()
        self.extra_ports = list(extra_ports)
        for sub in ("run", "logs", "htdocs", "cgi-bin"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(os.path.join(d, "run"), 0o777)
        self.conf = os.path.join(d, "httpd.conf")
        self.error_log = os.path.join(d, "logs", "error.log")
        self.access_log = os.path.join(d, "logs", "access.log")
        self.body = body
        self.proc = None

    def write_conf(self, **kw):
        text = configs.apache_test_conf(self.d, self.port, self.extra_ports, self.so,
                                        self.body.format(d=self.d, **kw))
        with open(self.conf, "wb") as f:
            f.write(text.encode("latin-1"))
        return text

    def test_config(self):
        """Runs apache2 -t; returns (exit status, stdout + stderr)."""
        r = subprocess.run([APACHE, "-t", "-f", self.conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30, env=self.env)
        return r.returncode, r.stdout.decode("latin-1")

    def start(self):
        self.proc = lbgtest.Proc([APACHE, "-f", self.conf, "-DFOREGROUND"],
                                 name="apache2", env=self.env,
                                 log=os.path.join(self.d, "logs", "stdout.log"))
        for p in [self.port] + self.extra_ports:
            lbgtest.wait_port(p, proc=self.proc)
        # The sockets listen from the first configuration pass; the second
        # pass (post_config, children) is done when this line is logged.
        lbgtest.wait_for(lambda: "AH00489:" in lbgtest.read_log(self.error_log),
                         what="apache2 AH00489 (resuming normal operations)")

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def cgi(self, name, data, slow_after=None):
        """Writes cgi-bin/<name>: a Python CGI that writes `data` (bytes,
        header and body) to stdout; with slow_after=n it writes the first
        n bytes, flushes, and writes the rest 0.5 s later (so Apache
        streams the body rather than seeing it whole)."""
        path = os.path.join(self.d, "cgi-bin", name)
        if slow_after is None:
            code = "import sys\nsys.stdout.buffer.write(%r)\n" % (data,)
        else:
            code = ("import sys, time\nsys.stdout.buffer.write(%r)\n"
                    "sys.stdout.buffer.flush()\ntime.sleep(0.5)\n"
                    "sys.stdout.buffer.write(%r)\n" % (data[:slow_after],
                                                       data[slow_after:]))
        with open(path, "w") as f:
            f.write("#!/usr/bin/python3\n" + code)
        os.chmod(path, 0o755)

    def log_size(self):
        return (os.path.getsize(self.error_log) if os.path.exists(self.error_log) else 0,
                os.path.getsize(self.access_log) if os.path.exists(self.access_log) else 0)

    def read_from(self, path, offset):
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode("latin-1")
