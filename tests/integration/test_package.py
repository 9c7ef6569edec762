#!/usr/bin/env python3
"""test_package -- the Debian packages, built, linted, installed, used, purged.

1. `make deb BUILD=<build>/pkgtest` as a throwaway unprivileged user
   (created here, removed at the end): dpkg-buildpackage -us -uc -b in a
   copy of the tree, three packages in <build>/pkgtest/deb/.
2. lintian --fail-on error,warning on the three .deb files (output shown);
   their version, dependencies (the nginx ABI of nginx-dev, the Apache
   module API) and files.
3. dpkg -i of the three, no service started (a policy-rc.d answering 101,
   as scripts/deps.sh does): the modules-enabled link at priority 10,
   `nginx -t` with Debian's stock /etc/nginx/nginx.conf, `a2query -m
   lbguard`, `apache2ctl -t`, `lbguard --version` on the PATH; Debian's
   nginx and apache2 started on free loopback ports with configurations
   that load lbguard the packaged way (include modules-enabled,
   mods-enabled/lbguard.load), one known-bad response through each: the
   exact repaired bytes, the finding logged, the startup line.
4. dpkg -r keeps nginx valid (the link becomes *.removed), then dpkg
   --purge: no link, no file, no state left; /etc/nginx/modules-enabled,
   /etc/apache2/mods-enabled and /var/lib/apache2/module as before.

Installing changes the real system: the window is kept short and the purge
runs in a `finally`. Needs root (else the suite is a skip). The test
methods run in the order of their names; a class cleanup removes the
throwaway user and the policy-rc.d this suite made, whatever failed.

Usage (from the repository root):
    python3 -m tests.integration.test_package [--build DIR] [-k NAME]
LBG_DEBS=DIR takes packages built before (by make deb) instead of
building them, and counts as a failure (development only).
"""
import glob
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

from tests import lbgtest
from tests.lbgtest import configs, nginx_env

ROOT = lbgtest.ROOT

PKGS = ["libnginx-mod-http-lbguard", "libapache2-mod-lbguard", "lbguard"]
USER = "lbguard-pkgtest"
POLICY = "/usr/sbin/policy-rc.d"
POLICY_TEXT = "#!/bin/sh\n# lbguard test_package.py: no service starts\nexit 101\n"
NGINX = "/usr/sbin/nginx"
APACHE = "/usr/sbin/apache2"
NGX_LINK = "/etc/nginx/modules-enabled/10-mod-http-lbguard.conf"
NGX_CONF = "/usr/share/nginx/modules-available/mod-http-lbguard.conf"

# every path the packages own or their maintainer scripts create
LEFTOVERS = [
    NGX_LINK, NGX_LINK + ".removed", NGX_CONF,
    "/usr/lib/nginx/modules/ngx_http_lbguard_filter_module.so",
    "/etc/apache2/mods-enabled/lbguard.load", "/etc/apache2/mods-enabled/lbguard.conf",
    "/etc/apache2/mods-available/lbguard.load", "/etc/apache2/mods-available/lbguard.conf",
    "/usr/lib/apache2/modules/mod_lbguard.so",
    "/var/lib/apache2/module/enabled_by_maint/lbguard",
    "/var/lib/apache2/module/disabled_by_admin/lbguard",
    "/usr/bin/lbguard", "/usr/share/man/man1/lbguard.1.gz",
] + ["/usr/share/doc/" + p for p in PKGS]

BAD = b"HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 2\r\n\r\nok"


def run(argv, timeout=600, env=None, cwd=None):
    """(exit status, stdout + stderr as text)."""
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout, env=env, cwd=cwd)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def dpkg(args):
    """dpkg with the given arguments, retried while another dpkg/apt holds
    the lock (other work on this machine); (status, output)."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    deadline = time.monotonic() + 600
    while True:
        rc, out = run(["dpkg"] + args, env=env)
        if rc == 0 or "lock" not in out or time.monotonic() > deadline:
            return rc, out
        time.sleep(2)


def status(pkg):
    """dpkg's status of pkg ("install ok installed", ...), or "" when dpkg
    knows nothing of it."""
    rc, out = run(["dpkg-query", "-W", "-f=${Status}", pkg])
    return out.strip() if rc == 0 else ""


def snapshot():
    """What the packages may touch, to compare before and after."""
    out = {}
    for d in ("/etc/nginx/modules-enabled", "/etc/apache2/mods-enabled",
              "/etc/apache2/mods-available", "/usr/share/nginx/modules-available",
              "/usr/lib/nginx/modules", "/var/lib/apache2/module/enabled_by_maint",
              "/var/lib/apache2/module/disabled_by_admin"):
        out[d] = sorted(os.listdir(d)) if os.path.isdir(d) else None
    out["policy-rc.d"] = os.path.exists(POLICY)
    out["user " + USER] = user_exists()
    out["installed"] = [p for p in PKGS if installed(p)]
    return out


def installed(pkg):
    s = status(pkg)
    return bool(s) and "not-installed" not in s and "config-files" not in s


def user_exists():
    try:
        pwd.getpwnam(USER)
        return True
    except KeyError:
        return False


def reachable(d):
    """Whether others can walk down to d (the throwaway user, www-data)."""
    p = d
    while p != os.path.dirname(p):
        p = os.path.dirname(p)
        if not os.stat(p).st_mode & stat.S_IXOTH:
            return False
    return True


def lbg_version():
    with open(os.path.join(ROOT, "common", "lbg.h")) as f:
        return re.search(r'#define LBG_VERSION "([^"]+)"', f.read()).group(1)


# ---------------------------------------------------------------- build ----

def build_packages(t, out):
    """make deb as USER into out/deb; returns {package: .deb path}."""
    rc, text = run(["make", "-C", ROOT, "--no-print-directory", "deb", "BUILD=" + out],
                   env=dict(os.environ, LBG_DEB_USER=USER), timeout=1200)
    t.eq("make deb as the unprivileged user %s" % USER, rc, 0)
    if rc != 0:
        print(text[-4000:])
    debs = {}
    for p in PKGS:
        f = glob.glob(os.path.join(out, "deb", "%s_*.deb" % p))
        t.eq("%s: one .deb" % p, len(f), 1)
        if f:
            debs[p] = f[0]
    t.eq("deb/*.deb: the three packages (debug symbols in deb/dbgsym/)",
         sorted(os.path.basename(f).split("_")[0]
                for f in glob.glob(os.path.join(out, "deb", "*.deb"))), sorted(PKGS))
    # built as USER: the files are USER's, the checkout's build/ untouched
    owners = {pwd.getpwuid(os.stat(f).st_uid).pw_name for f in debs.values()}
    t.eq("the packages were built by %s" % USER, owners, {USER} if debs else set())
    t.check("the copy of the tree is gone", not os.path.exists(os.path.join(out, "deb", "src")))
    return debs


def inspect(t, debs, version):
    # lintian runs as USER from "/": the checkout may sit in a directory
    # only root can enter (a clone in `mktemp -d`, mode 0700)
    rc, out = run(["runuser", "-u", USER, "--", "env", "HOME=/tmp", "lintian",
                   "--fail-on", "error,warning", "--display-info"]
                  + [debs[p] for p in PKGS], timeout=900, cwd="/")
    print("lintian --fail-on error,warning --display-info (exit %d):\n%s" % (rc, out or "(no output)\n"))
    t.eq("lintian --fail-on error,warning: exit status", rc, 0)
    t.eq("lintian: no error or warning tags",
         [ln for ln in out.splitlines() if re.match(r"[EW]: ", ln)], [])
    # control: the same lintian run fails the CLI package without its copyright
    d = tempfile.mkdtemp(prefix="lbguard-pkg-lint-")
    try:
        run(["dpkg-deb", "-R", debs["lbguard"], os.path.join(d, "x")])
        os.unlink(os.path.join(d, "x", "usr", "share", "doc", "lbguard", "copyright"))
        run(["dpkg-deb", "-b", os.path.join(d, "x"), os.path.join(d, "bad.deb")])
        os.chmod(d, 0o755)
        rc, bad = run(["runuser", "-u", USER, "--", "env", "HOME=/tmp", "lintian",
                       "--fail-on", "error,warning", os.path.join(d, "bad.deb")], timeout=900,
                      cwd="/")
        t.check("lintian control: a package without copyright fails (no-copyright-file)",
                rc != 0 and "E: lbguard: no-copyright-file" in bad, bad)
    finally:
        shutil.rmtree(d, ignore_errors=True)

    def field(p, name):
        return run(["dpkg-deb", "-f", debs[p], name])[1].strip()

    def files(p):
        return sorted(ln.split()[-1][1:] for ln in run(["dpkg-deb", "-c", debs[p]])[1].splitlines()
                      if not ln.endswith("/"))

    for p in PKGS:
        t.eq("%s: Version" % p, field(p, "Version"), version)
    with open("/usr/share/nginx/src/debian/libnginx-mod.abisubstvars") as f:
        abi = re.search(r"(?m)^nginx:abi=(\S+)$", f.read()).group(1)
    deps = [d.strip() for d in field(PKGS[0], "Depends").split(",")]
    t.check("libnginx-mod-http-lbguard depends on the nginx ABI (%s)" % abi, abi in deps, deps)
    deps = [d.strip() for d in field(PKGS[1], "Depends").split(",")]
    t.check("libapache2-mod-lbguard depends on apache2-api-20120211",
            "apache2-api-20120211" in deps and not any(d.split()[0] == "apache2" for d in deps),
            deps)
    docs = lambda p, *names: ["/usr/share/doc/%s/%s" % (p, n) for n in names]  # noqa: E731
    t.eq("libnginx-mod-http-lbguard: files", files(PKGS[0]), sorted(
        ["/usr/lib/nginx/modules/ngx_http_lbguard_filter_module.so", NGX_CONF,
         "/usr/share/doc/libnginx-mod-http-lbguard/examples/nginx-lbguard.conf"]
        + docs(PKGS[0], "README.md.gz", "changelog.gz", "copyright", "nginx.md.gz")))
    t.eq("libapache2-mod-lbguard: files", files(PKGS[1]), sorted(
        ["/usr/lib/apache2/modules/mod_lbguard.so", "/etc/apache2/mods-available/lbguard.load",
         "/etc/apache2/mods-available/lbguard.conf"]
        + docs(PKGS[1], "README.md.gz", "apache.md.gz", "changelog.gz", "copyright")))
    t.eq("lbguard: files", files(PKGS[2]), sorted(
        ["/usr/bin/lbguard", "/usr/share/man/man1/lbguard.1.gz"]
        + docs(PKGS[2], "changelog.gz", "cli.md.gz", "copyright")))


def hardening(t, debs):
    """The CLI is linked with dpkg-buildflags' hardening (PIE, RELRO, BIND_NOW,
    _FORTIFY_SOURCE)."""
    d = tempfile.mkdtemp(prefix="lbguard-pkg-x-")
    try:
        run(["dpkg-deb", "-x", debs["lbguard"], d])
        rc, out = run(["readelf", "-W", "-h", "-l", "-d", os.path.join(d, "usr/bin/lbguard")])
        t.check("lbguard is PIE", re.search(r"Type:\s+DYN", out), out[:200])
        t.check("lbguard has RELRO", "GNU_RELRO" in out)
        t.check("lbguard binds now", re.search(r"\(FLAGS\).*BIND_NOW|\(FLAGS_1\).*NOW", out))
        rc, out = run(["readelf", "-W", "--dyn-syms", os.path.join(d, "usr/bin/lbguard")])
        t.check("lbguard uses the fortified libc functions", "_chk@" in out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


# -------------------------------------------------------------- servers ----

def nginx_request(t, d, version):
    """Debian's nginx on a config that loads modules as /etc/nginx/nginx.conf
    does; a known-bad upstream response through lbguard repair."""
    backend = lbgtest.RawBackend({b"/bad": BAD})
    port = lbgtest.free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(configs.nginx_packaged_conf(d, port, backend.port))
    # Debian's prefix (/usr/share/nginx), where modules/ leads to the
    # packaged .so; every path of this instance is absolute
    p = lbgtest.Proc([NGINX, "-e", os.path.join(d, "error.log"), "-c", conf],
                     name="nginx", log=os.path.join(d, "stdout.log"))
    try:
        lbgtest.wait_port(port, proc=p)
        raw = lbgtest.raw_exchange(port, b"GET /bad HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        t.eq("nginx: the known-bad response, repaired", nginx_env.normalise(raw),
             b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\n"
             b"Connection: close\r\nX-Bad: a b\r\n\r\nok")
        log = lbgtest.wait_for(lambda: (lambda t: t if "lbguard: " in t else None)(
            lbgtest.read_log(os.path.join(d, "error.log"))), what="nginx finding")
        t.eq("nginx: the finding logged", nginx_env.lbguard_lines(log),
             ['[warn] lbguard: field-value-ctl: field "X-Bad" value "a\\x01b", '
              'control characters replaced with SP'])
        t.check("nginx: the startup line lbguard/%s" % version,
                re.search(r"(?m)\[notice\] \d+#\d+: lbguard/%s$" % re.escape(version), log))
    finally:
        p.stop()
        backend.stop()


def apache_request(t, d, version):
    """Debian's apache2 loading mod_lbguard through mods-enabled; a field
    value with a control character (mod_headers) through lbguard repair."""
    port = lbgtest.free_port()
    for sub in ("run", "logs", "htdocs"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    with open(os.path.join(d, "htdocs", "ok.txt"), "w") as f:
        f.write("ok")
    conf = os.path.join(d, "httpd.conf")
    with open(conf, "wb") as f:
        f.write(configs.apache_packaged_conf(d, port).encode("latin-1"))
    log = os.path.join(d, "logs", "error.log")
    p = lbgtest.Proc([APACHE, "-f", conf, "-DFOREGROUND"], name="apache2",
                     log=os.path.join(d, "logs", "stdout.log"))
    try:
        lbgtest.wait_port(port, proc=p)
        lbgtest.wait_for(lambda: "AH00489:" in lbgtest.read_log(log), what="apache2 AH00489")
        raw = lbgtest.raw_exchange(port, b"GET /ok.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        head = raw.partition(b"\r\n\r\n")[0].split(b"\r\n")
        t.eq("Apache: the known-bad field, repaired",
             (head[0], [h for h in head if h.startswith(b"X-Bad")], raw.endswith(b"\r\n\r\nok")),
             (b"HTTP/1.1 200 OK", [b"X-Bad: a b"], True))
        text = lbgtest.wait_for(lambda: (lambda t: t if "lbguard: " in t else None)(
            lbgtest.read_log(log)), what="Apache finding")
        t.eq("Apache: the finding logged",
             [x for x in text.splitlines() if x.startswith("[lbguard:")],
             ["[lbguard:notice] lbguard/" + version,
              # Apache's error log escapes the backslash of lbguard's \x01
              '[lbguard:warn] lbguard: field-value-ctl: field "X-Bad" value "a\\\\x01b", '
              'control characters replaced with SP'])
    finally:
        p.stop()


# ------------------------------------------------------------------ main ----

def installed_checks(t, debs, version, work):
    t.check("10-mod-http-lbguard.conf links the packaged load file",
            os.path.islink(NGX_LINK) and os.readlink(NGX_LINK) == NGX_CONF,
            os.readlink(NGX_LINK) if os.path.islink(NGX_LINK) else "no link")
    rc, out = run([NGINX, "-t"])
    t.eq("nginx -t (Debian's /etc/nginx/nginx.conf)", rc, 0)
    if rc:
        print(out)
    rc, out = run([NGINX, "-T"])
    t.check("nginx -T: the stock configuration loads lbguard from modules-enabled",
            "# configuration file %s:\n" % NGX_LINK in out
            and "\nload_module modules/ngx_http_lbguard_filter_module.so;\n" in out)
    rc, out = run(["a2query", "-m", "lbguard"])
    t.eq("a2query -m lbguard", (rc, out.strip()), (0, "lbguard (enabled by maintainer script)"))
    t.eq("mods-enabled links", sorted(os.readlink("/etc/apache2/mods-enabled/lbguard." + x)
                                      for x in ("load", "conf")
                                      if os.path.islink("/etc/apache2/mods-enabled/lbguard." + x)),
         ["../mods-available/lbguard.conf", "../mods-available/lbguard.load"])
    rc, out = run(["apache2ctl", "-t"])
    t.eq("apache2ctl -t (Debian's apache2.conf)", (rc, out.strip().splitlines()[-1:]),
         (0, ["Syntax OK"]))
    t.eq("lbguard on the PATH", shutil.which("lbguard", path="/usr/local/sbin:/usr/local/bin:"
                                              "/usr/sbin:/usr/bin:/sbin:/bin"), "/usr/bin/lbguard")
    t.eq("lbguard --version", run(["lbguard", "--version"]), (0, "lbguard %s\n" % version))
    t.eq("man -w lbguard", run(["man", "-w", "lbguard"]), (0, "/usr/share/man/man1/lbguard.1.gz\n"))
    for name, fn in (("nginx", nginx_request), ("apache", apache_request)):
        d = os.path.join(work, name)
        os.makedirs(d)
        try:
            fn(t, d, version)
        except (RuntimeError, OSError) as e:
            t.check("%s: a request through the packaged module" % name, False, repr(e))
    # removed, not purged: the link is parked, nginx stays valid
    rc, out = dpkg(["-r", PKGS[0]])
    t.eq("dpkg -r libnginx-mod-http-lbguard", rc, 0)
    t.check("removed: modules-enabled link parked as .removed",
            os.path.islink(NGX_LINK + ".removed") and not os.path.lexists(NGX_LINK))
    t.eq("removed: nginx -t", run([NGINX, "-t"])[0], 0)


class PackageTest(lbgtest.TestCase):
    """make deb, lintian, dpkg -i, use, dpkg -r and --purge, in the order
    of the method names; the machine as before at the end."""

    suite = "package"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (installs packages)")
        cls.version = lbg_version()
        cls.before = snapshot()
        cls.made_user = cls.made_policy = False
        cls.debs = {}
        out = os.path.join(cls.build, "pkgtest")
        if not reachable(out):
            out = tempfile.mkdtemp(prefix="lbguard-pkgtest-")
            os.chmod(out, 0o755)
        else:
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)
        cls.out = out
        cls.addClassCleanup(cls.cleanup)

    @classmethod
    def cleanup(cls):
        """What this suite made and has not removed yet (after a failure)."""
        if cls.made_policy:
            cls.remove_policy()
        if cls.made_user and user_exists():
            run(["userdel", USER])
        if cls.out.startswith(tempfile.gettempdir()):
            shutil.rmtree(cls.out, ignore_errors=True)

    @classmethod
    def remove_policy(cls):
        with open(POLICY) as f:
            if f.read() == POLICY_TEXT:
                os.unlink(POLICY)
        cls.made_policy = False

    def need_debs(self):
        if len(self.debs) != len(PKGS):
            self.skipTest("the packages were not built (see test_1_build)")

    def test_1_build(self):
        self.eq("before: lbguard packages not installed", self.before["installed"], [])
        self.check("before: no throwaway user %s" % USER, not self.before["user " + USER])
        cls = type(self)
        if not user_exists():
            rc, txt = run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                           "--shell", "/usr/sbin/nologin", USER])
            self.eq("useradd %s" % USER, (rc, txt), (0, ""))
            cls.made_user = rc == 0
        t = time.monotonic()
        prebuilt = os.environ.get("LBG_DEBS")
        if prebuilt:
            # development aid: packages already built (make deb) in DIR
            cls.debs = {p: f for p in PKGS for f in glob.glob(os.path.join(prebuilt, p + "_*.deb"))}
            self.check("LBG_DEBS=%s: NOT a test of make deb" % prebuilt, False)
        else:
            cls.debs = build_packages(self, self.out)
        print("NOTE package: built in %.0f s" % (time.monotonic() - t))

    def test_2_inspect(self):
        self.need_debs()
        inspect(self, self.debs, self.version)

    def test_3_hardening(self):
        self.need_debs()
        hardening(self, self.debs)

    def test_4_install(self):
        self.need_debs()
        debs = self.debs
        if not os.path.exists(POLICY):
            with open(POLICY, "w") as f:
                f.write(POLICY_TEXT)
            os.chmod(POLICY, 0o755)
            type(self).made_policy = True
        work = os.path.join(self.out, "servers")
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        t = time.monotonic()
        try:
            rc, txt = dpkg(["-i"] + [debs[p] for p in PKGS])
            self.eq("dpkg -i (the three packages)", rc, 0)
            if rc:
                print(txt)
            else:
                installed_checks(self, debs, self.version, work)
        finally:
            rc, txt = dpkg(["--purge"] + PKGS)
            self.eq("dpkg --purge (the three packages)", rc, 0)
            if rc:
                print(txt)
            print("NOTE package: installed for %.0f s" % (time.monotonic() - t))
        self.eq("purged: dpkg has none of them (not even config files)",
                [p for p in PKGS if status(p) and "not-installed" not in status(p)], [])
        self.eq("purged: nothing left", [p for p in LEFTOVERS if os.path.lexists(p)], [])
        self.eq("purged: a2query -m lbguard", run(["a2query", "-q", "-m", "lbguard"])[0], 1)
        self.eq("purged: nginx -t", run([NGINX, "-t"])[0], 0)
        self.eq("purged: apache2ctl -t", run(["apache2ctl", "-t"])[0], 0)

    def test_5_machine_as_before(self):
        cls = type(self)
        if cls.made_policy:
            cls.remove_policy()
        if cls.made_user:
            self.eq("userdel %s" % USER, run(["userdel", USER]), (0, ""))
            cls.made_user = False
        self.eq("the machine is left as it was", snapshot(), self.before)


if __name__ == "__main__":
    lbgtest.main()
