"""nginx_env -- nginx instances for test_nginx.py (stdlib only).

One instance = one nginx (Debian's /usr/sbin/nginx with the dynamic lbguard
module, or the static binary with lbguard built in) with one server{} per
lbguard mode ("off", "detect", "repair"), each on its own free port with
its own error log and access log, all sharing the same locations.
"""
import os
import re
import subprocess

from tests import lbgtest
from tests.lbgtest import configs
from tests.lbgtest.configs import NGINX, NGX_PERL

MODES = ("off", "detect", "repair")

# every file the tests serve gets this mtime: Last-Modified and ETag are
# then fixed bytes
MTIME = 1700000000            # Tue, 14 Nov 2023 22:13:20 GMT


def builds(build):
    """[(name, nginx binary, [load_module paths], artifact)]: both builds,
    plus the ASan build of the static binary and the static build against
    Debian 13's nginx 1.26 (perl built in) when they were built."""
    so = os.path.join(build, "nginx-dynamic", "objs",
                      "ngx_http_lbguard_filter_module.so")
    static = os.path.join(build, "nginx-static", "objs", "nginx")
    asan = os.path.join(build, "nginx-static-asan", "objs", "nginx")
    mainline = os.path.join(build, "nginx-static-mainline", "objs", "nginx")
    out = [
        ("dynamic", NGINX, [so, NGX_PERL], so),
        ("static", static, [NGX_PERL], static),
    ]
    if os.path.exists(asan):
        out.append(("static-asan", asan, [NGX_PERL], asan))
    if os.path.exists(mainline):
        out.append(("static-mainline", mainline, [], mainline))
    return out


# nginx never frees everything at exit: leak reports would be noise
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
           UBSAN_OPTIONS="print_stacktrace=1")


def env_for(binary):
    """The environment to run `binary` in: ENV, and for a build with the
    perl module built in, its own nginx.pm (Debian's is for 1.22)."""
    blib = os.path.join(os.path.dirname(binary), "src", "http", "modules",
                        "perl", "blib")
    if not os.path.isdir(blib):
        return ENV
    return dict(ENV, PERL5LIB="%s:%s" % (os.path.join(blib, "lib"),
                                         os.path.join(blib, "arch")))


def write(path, data, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


class Instance:
    """An nginx configured from `locations` (text of location blocks; the
    placeholders @BACKEND@ and @ROOT@ become backend_port and workdir) for each mode in MODES."""

    def __init__(self, name, binary, modules, workdir, locations, http_extra="",
                 backend_port=0):
        self.name = name
        self.binary = binary
        self.dir = workdir
        self.ports = {m: lbgtest.free_port() for m in MODES}
        self.conf = os.path.join(workdir, "nginx.conf")
        text, self.server_lines = configs.nginx_modes_conf(
            workdir, modules, self.ports, locations, http_extra, backend_port,
            perl_env="PERL5LIB" in env_for(binary))
        write(self.conf, text)
        self.proc = None

    def test_config(self):
        """`nginx -t` of the config: (exit code, output text)."""
        r = subprocess.run([self.binary, "-t", "-e", "stderr", "-p", self.dir,
                            "-c", self.conf], env=env_for(self.binary),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def start(self):
        self.proc = lbgtest.Proc([self.binary, "-e", "stderr", "-p", self.dir,
                                  "-c", self.conf],
                                 name="nginx-" + self.name,
                                 env=env_for(self.binary),
                                 log=os.path.join(self.dir, "stdout.log"))
        for m in MODES:
            lbgtest.wait_port(self.ports[m], proc=self.proc)

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def log(self, mode):
        return lbgtest.read_log(os.path.join(self.dir, "%s.log" % mode))

    def access(self, mode):
        return lbgtest.read_log(os.path.join(self.dir, "%s.access" % mode))

    def all_logs(self):
        out = []
        for f in sorted(os.listdir(self.dir)):
            if f.endswith(".log"):
                out.append(lbgtest.read_log(os.path.join(self.dir, f)))
        return "\n".join(out)


LBG_LINE = re.compile(r"\[(\w+)\] \d+#\d+: (?:\*\d+ )?(lbguard: .*?)"
                      r"(?: while [a-z ]+)?(?:, client: .*)?$", re.M)


def lbguard_lines(text):
    """["[level] lbguard: ..."] for every lbguard line of an error log, the
    request context (" while ...", ", client: ...") cut off."""
    return ["[%s] %s" % m for m in LBG_LINE.findall(text)]


DATE = re.compile(rb"\r\nDate: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} "
                  rb"\d\d:\d\d:\d\d GMT\r\n")


def normalise(raw):
    """Replaces each Date field value (the only unstable bytes) by DATE."""
    return DATE.sub(b"\r\nDate: DATE\r\n", raw)


def request(path, method="GET", headers=(), close=True):
    h = ["%s %s HTTP/1.1" % (method, path), "Host: t"]
    h += list(headers)
    if close:
        h.append("Connection: close")
    return ("\r\n".join(h) + "\r\n\r\n").encode()
