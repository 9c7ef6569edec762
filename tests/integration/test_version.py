#!/usr/bin/env python3
"""test_version -- one version everywhere.

LBG_VERSION in common/lbg.h is the one source. The top entry of
debian/changelog (the packages' version), the man page's .TH line,
`lbguard --version`, and the startup line of both modules ("lbguard/<v>"
at NOTICE: nginx's init_module, here under `nginx -t`; Apache's
post_config, at a real start) must all say the same.

Usage: test_version.py [--build DIR]; ends with "N passed, N failed".
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lbgtest  # noqa: E402
import apache_env  # noqa: E402

NGINX = "/usr/sbin/nginx"

build = lbgtest.build_dir()
R = lbgtest.Results("version")
ROOT = lbgtest.ROOT


def read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as f:
        return f.read()


m = re.search(r'(?m)^#define LBG_VERSION "([^"]*)"$', read("common", "lbg.h"))
v = m.group(1) if m else None
R.check("LBG_VERSION is MAJOR.MINOR.PATCH", v and re.fullmatch(r"\d+\.\d+\.\d+", v), repr(v))
v = v or "?"

m = re.match(r"lbguard \(([^)]*)\) \S+; urgency=\S+\n", read("debian", "changelog"))
R.eq("debian/changelog top entry", m and m.group(1), v)

m = re.search(r'(?m)^\.TH LBGUARD 1 "[^"]*" "lbguard ([^"]*)"', read("docs", "lbguard.1"))
R.eq("man page .TH", m and m.group(1), v)

cli = os.path.join(build, "lbguard")
r = subprocess.run([cli, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
R.eq("lbguard --version", (r.returncode, r.stdout, r.stderr),
     (0, ("lbguard %s\n" % v).encode(), b""))

# nginx: init_module logs at every start, reload and -t, to the error log
so = os.path.join(build, "nginx-dynamic", "objs", "ngx_http_lbguard_filter_module.so")
d = lbgtest.workdir("version-nginx", build)
conf = os.path.join(d, "nginx.conf")
with open(conf, "w") as f:
    f.write("load_module %s;\nerror_log %s/error.log notice;\npid %s/nginx.pid;\n"
            "events { }\nhttp { }\n" % (so, d, d))
r = subprocess.run([NGINX, "-t", "-p", d, "-e", os.path.join(d, "early.log"), "-c", conf],
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
R.eq("nginx -t with the module", r.returncode, 0)
lines = re.findall(r"(?m)^\S+ \S+ \[(\w+)\] \d+#\d+: (lbguard/.*)$",
                   lbgtest.read_log(os.path.join(d, "error.log")))
R.eq("nginx startup line", lines, [("notice", "lbguard/" + v)])

# Apache: post_config logs in the pass that serves (once per start)
d = apache_env.workdir("version-apache", build)
a = apache_env.Apache(d, os.path.join(build, "apache", "mod_lbguard.so"), "")
a.write_conf()
try:
    a.start()
    lines = [x for x in lbgtest.read_log(a.error_log).splitlines() if "lbguard/" in x]
    R.eq("Apache startup line", lines, ["[lbguard:notice] lbguard/" + v])
except RuntimeError as e:
    R.check("Apache starts with the module", False, str(e))
finally:
    a.stop()

sys.exit(R.summary())
