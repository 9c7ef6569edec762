#!/usr/bin/env python3
"""test_version -- one version everywhere.

LBG_VERSION in common/lbg.h is the one source. The top entry of
debian/changelog (the packages' version), the man page's .TH line,
`lbguard --version`, and the startup line of both modules ("lbguard/<v>"
at NOTICE: nginx's init_module, here under `nginx -t`; Apache's
post_config, at a real start) must all say the same.

Usage: python3 -m tests.integration.test_version [--build DIR] [-k NAME]
"""
import os
import re
import subprocess

from tests import lbgtest
from tests.lbgtest import apache_env, configs

NGINX = "/usr/sbin/nginx"


def read(*path):
    with open(os.path.join(lbgtest.ROOT, *path), encoding="utf-8") as f:
        return f.read()


def lbg_version():
    """LBG_VERSION from common/lbg.h, or None."""
    m = re.search(r'(?m)^#define LBG_VERSION "([^"]*)"$', read("common", "lbg.h"))
    return m.group(1) if m else None


class Version(lbgtest.TestCase):
    suite = "version"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.v = lbg_version() or "?"

    def test_lbg_h(self):
        v = lbg_version()
        self.check("LBG_VERSION is MAJOR.MINOR.PATCH",
                   v and re.fullmatch(r"\d+\.\d+\.\d+", v), repr(v))

    def test_changelog(self):
        m = re.match(r"lbguard \(([^)]*)\) \S+; urgency=\S+\n", read("debian", "changelog"))
        self.eq("debian/changelog top entry", m and m.group(1), self.v)

    def test_man_page(self):
        m = re.search(r'(?m)^\.TH LBGUARD 1 "[^"]*" "lbguard ([^"]*)"', read("docs", "lbguard.1"))
        self.eq("man page .TH", m and m.group(1), self.v)

    def test_cli(self):
        cli = lbgtest.require(os.path.join(self.build, "lbguard"), "make cli")
        r = subprocess.run([cli, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.eq("lbguard --version", (r.returncode, r.stdout, r.stderr),
                (0, ("lbguard %s\n" % self.v).encode(), b""))

    def test_nginx(self):
        # init_module logs at every start, reload and -t, to the error log
        so = lbgtest.require(os.path.join(self.build, "nginx-dynamic", "objs",
                                          "ngx_http_lbguard_filter_module.so"),
                             "make nginx-dynamic")
        lbgtest.require(NGINX, "apt-get install nginx")
        d = self.workdir("version-nginx")
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(configs.nginx_main(d, [so], workers=0, level="notice") + "http { }\n")
        r = subprocess.run([NGINX, "-t", "-p", d, "-e", os.path.join(d, "early.log"),
                            "-c", conf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        self.eq("nginx -t with the module", r.returncode, 0)
        lines = re.findall(r"(?m)^\S+ \S+ \[(\w+)\] \d+#\d+: (lbguard/.*)$",
                           lbgtest.read_log(os.path.join(d, "error.log")))
        self.eq("nginx startup line", lines, [("notice", "lbguard/" + self.v)])

    def test_apache(self):
        # post_config logs in the pass that serves (once per start)
        so = lbgtest.require(os.path.join(self.build, "apache", "mod_lbguard.so"),
                             "make apache")
        lbgtest.require(apache_env.APACHE, "apt-get install apache2")
        d = apache_env.workdir("version-apache", self.build)
        a = apache_env.Apache(d, so, "")
        a.write_conf()
        try:
            a.start()
            lines = [x for x in lbgtest.read_log(a.error_log).splitlines() if "lbguard/" in x]
            self.eq("Apache startup line", lines, ["[lbguard:notice] lbguard/" + self.v])
        except RuntimeError as e:
            self.check("Apache starts with the module", False, str(e))
        finally:
            a.stop()


if __name__ == "__main__":
    lbgtest.main()
