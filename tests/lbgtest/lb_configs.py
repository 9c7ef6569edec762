"""lb_configs -- config templates and start helpers for the load-balancer
suites (test_lb_race.py, test_lb_malformed.py, demo.py). Stdlib only.

Topology: client -> LB (HAProxy 2.6 or nginx as a reverse proxy) -> target
(nginx + lbguard dynamic module, or Apache + mod_lbguard) [-> RawBackend].

Every server listens on 127.0.0.1 on a free port, runs in the foreground
as a lbgtest.Proc and is stopped by its PID.
"""
import os
import stat

from tests.lbgtest import apache_env
from tests import lbgtest

NGINX = "/usr/sbin/nginx"
HAPROXY = "/usr/sbin/haproxy"
APACHE = "/usr/sbin/apache2"
APACHE_MODS = "/usr/lib/apache2/modules"
NGX_PERL = "/usr/lib/nginx/modules/ngx_http_perl_module.so"

# The idle timeout the LBs below are configured with (nginx upstream
# keepalive_timeout, HAProxy pool-purge-delay) and the one lbguard is told.
LB_IDLE = 60


def workdir(name, build):
    """A fresh scratch directory for `name`: build/itest/<name>, or one under
    /tmp when the build directory cannot be reached by Apache's User
    www-data (apache_env.workdir)."""
    return apache_env.workdir(name, build)


def nginx_module(build):
    """Path of the lbguard nginx dynamic module, or None if not built."""
    p = os.path.join(build, "nginx-dynamic", "objs", "ngx_http_lbguard_filter_module.so")
    return p if os.path.exists(p) else None


def apache_module(build):
    """Path of mod_lbguard.so, or None if not built."""
    p = os.path.join(build, "apache", "mod_lbguard.so")
    return p if os.path.exists(p) else None


def _mkdirs(d, *subs):
    for s in subs:
        os.makedirs(os.path.join(d, s), exist_ok=True)
    # workers/children may run as an unprivileged user when started as root
    for root, dirs, _ in os.walk(d):
        for x in dirs:
            os.chmod(os.path.join(root, x), 0o777)
    os.chmod(d, 0o777)


def _write(path, text, mode=0o644):
    with open(path, "w" if isinstance(text, str) else "wb") as f:
        f.write(text)
    os.chmod(path, mode)


# ---------------------------------------------------------------- nginx ----

def _nginx_main(d, load=(), user=True):
    lines = ["load_module %s;" % m for m in load]
    lines += [
        "daemon off;",
        "worker_processes 1;",
        "pid %s/nginx.pid;" % d,
        "error_log %s/error.log info;" % d,
        "events { worker_connections 1024; }",
    ]
    return "\n".join(lines) + "\n"


def _start_nginx(d, conf, port, name):
    """Writes d/nginx.conf, starts Debian's nginx on it (foreground, master
    + one worker) and waits until it listens on `port`. Returns the Proc."""
    _write(os.path.join(d, "nginx.conf"), conf)
    p = lbgtest.Proc([NGINX, "-e", os.path.join(d, "error.log"), "-p", d,
                      "-c", os.path.join(d, "nginx.conf")],
                     name=name, log=os.path.join(d, "stdout.log"))
    lbgtest.wait_port(port, proc=p)
    return p


def lbguard_nginx_directives(mode, lb_idle=LB_IDLE, margin="1s", profile=None):
    """The lbguard directives for an nginx http{} block. mode: None (module
    not loaded), "off", "detect" or "repair"."""
    if mode is None:
        return ""
    out = ["lbguard %s;" % mode]
    if profile:
        out.append("lbguard_profile %s;" % profile)
    if lb_idle is not None:
        out.append("lbguard_lb_idle_timeout %ss;" % lb_idle)
        out.append("lbguard_keepalive_margin %s;" % margin)
    return "\n  ".join(out)


def nginx_target(build, d, port, mode=None, keepalive="1s", lb_idle=LB_IDLE,
                 margin="1s", profile=None, locations="", perl=False):
    """Starts nginx as the target server: `location /` echoes the LB's
    source port ("p=<port>\\n"), GET or POST. mode None: lbguard is not
    loaded; else lbguard <mode> (the module must exist). `locations`:
    extra location blocks. Returns the Proc."""
    _mkdirs(d, "temp")
    load = []
    if perl:
        load.append(NGX_PERL)
    if mode is not None:
        m = nginx_module(build)
        if m is None:
            raise RuntimeError("lbguard nginx module not built")
        load.append(m)
    conf = _nginx_main(d, load) + """
http {
  access_log %(d)s/access.log;
  %(temp)s
  keepalive_timeout %(ka)s;
  keepalive_requests 100000;
  %(lbg)s
  server {
    listen 127.0.0.1:%(port)d;
    location / { return 200 "p=$remote_port\\n"; }
    %(locations)s
  }
}
""" % dict(d=d, temp=lbgtest.nginx_temp_paths(d), ka=keepalive, port=port,
           lbg=lbguard_nginx_directives(mode, lb_idle, margin, profile),
           locations=locations)
    return _start_nginx(d, conf, port, "nginx-target")


def nginx_lb(d, port, backend_port, m=32, idle=LB_IDLE):
    """Starts nginx as the load balancer on `port`: locations /p0../p<m-1>,
    each proxied to its own upstream block (its own keep-alive pool) that
    points at 127.0.0.1:backend_port; `location /` uses pool 0 too.
    No retries (proxy_next_upstream off), HTTP/1.1 keep-alive upstream,
    upstream keepalive_timeout `idle` s. Returns the Proc."""
    _mkdirs(d, "temp")
    ups = []
    locs = []
    for i in range(m):
        ups.append("  upstream u%d { server 127.0.0.1:%d; keepalive 4; "
                   "keepalive_timeout %ds; keepalive_requests 100000; }" % (i, backend_port, idle))
        locs.append("    location /p%d { proxy_pass http://u%d; }" % (i, i))
    conf = _nginx_main(d) + """
http {
  access_log %(d)s/access.log;
  %(temp)s
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_next_upstream off;
  proxy_read_timeout 65s;
  keepalive_timeout 65s;
%(ups)s
  server {
    listen 127.0.0.1:%(port)d;
%(locs)s
    location / { proxy_pass http://u0; }
  }
}
""" % dict(d=d, temp=lbgtest.nginx_temp_paths(d), port=port,
           ups="\n".join(ups), locs="\n".join(locs))
    return _start_nginx(d, conf, port, "nginx-lb")


# -------------------------------------------------------------- HAProxy ----

def haproxy_lb(d, port, backend_port, m=32, idle=LB_IDLE):
    """Starts HAProxy 2.6 on `port` (one thread, logs to stdout ->
    d/haproxy.log): /p<i> goes to backend b<i> (its own server, hence its
    own idle-connection pool), everything else to b0. http-reuse always,
    retries 0, idle server connections kept `idle` s (pool-purge-delay).
    Returns the Proc."""
    os.makedirs(d, exist_ok=True)
    fe = []
    be = []
    for i in range(m):
        fe.append("  use_backend b%d if { path /p%d } || { path_beg /p%d/ }" % (i, i, i))
        be.append("backend b%d\n  server s%d 127.0.0.1:%d pool-purge-delay %ds"
                  % (i, i, backend_port, idle))
    cfg = """global
  nbthread 1
  log stdout format raw local0
defaults
  mode http
  log global
  option httplog
  http-reuse always
  retries 0
  no option redispatch
  timeout connect 5s
  timeout client %(t)ds
  timeout server %(t)ds
  timeout http-keep-alive %(t)ds
frontend fe
  bind 127.0.0.1:%(port)d
%(fe)s
  default_backend b0
%(be)s
""" % dict(t=idle + 5, port=port, fe="\n".join(fe), be="\n".join(be))
    _write(os.path.join(d, "haproxy.cfg"), cfg)
    p = lbgtest.Proc([HAPROXY, "-db", "-f", os.path.join(d, "haproxy.cfg")],
                     name="haproxy", log=os.path.join(d, "haproxy.log"))
    lbgtest.wait_port(port, proc=p)
    return p


# --------------------------------------------------------------- Apache ----

LUA_ECHO = """function handle(r)
  r.content_type = "text/plain"
  r:puts("p=" .. (r.subprocess_env["RPORT"] or "?") .. "\\n")
  return apache2.OK
end
"""


def apache_target(build, d, port, mode=None, keepalive=1, lb_idle=LB_IDLE,
                  margin=1, profile=None, cgi=None, extra=""):
    """Starts Apache (event MPM) as the target on `port`: /p* is a mod_lua
    handler (GET or POST) answering "p=<LB source port>\\n"; /cgi-bin/<name>
    runs the CGI scripts given in `cgi` ({name: script text}). mode None:
    mod_lbguard not loaded; else LBGuard <mode>. Returns the Proc."""
    _mkdirs(d, "run", "logs", "htdocs", "cgi-bin")
    _write(os.path.join(d, "echo.lua"), LUA_ECHO)
    for name, text in (cgi or {}).items():
        _write(os.path.join(d, "cgi-bin", name), text, 0o755)
    mods = ["mpm_event", "authz_core", "mime", "alias", "cgid", "dir",
            "rewrite", "lua", "env", "headers"]
    lines = ["ServerRoot %s" % d,
             "ServerName 127.0.0.1",
             "Listen 127.0.0.1:%d" % port,
             "PidFile %s/run/httpd.pid" % d,
             "DefaultRuntimeDir %s/run" % d,
             "ErrorLog %s/logs/error.log" % d,
             "LogLevel warn"]
    lines += ["LoadModule %s_module %s/mod_%s.so" % (x, APACHE_MODS, x) for x in mods]
    if mode is not None:
        m = apache_module(build)
        if m is None:
            raise RuntimeError("mod_lbguard not built")
        lines.append("LoadModule lbguard_module %s" % m)
    lines += [
        "ScriptSock %s/run/cgid.sock" % d,
        "TypesConfig /etc/mime.types",
        "User www-data",
        "Group www-data",
        "KeepAlive On",
        "KeepAliveTimeout %s" % keepalive,
        "MaxKeepAliveRequests 0",
        "DocumentRoot %s/htdocs" % d,
        "<Directory />",
        "  Require all granted",
        "</Directory>",
        "ScriptAlias /cgi-bin/ %s/cgi-bin/" % d,
        "RewriteEngine On",
        "RewriteRule ^ - [E=RPORT:%{REMOTE_PORT}]",
        "LuaMapHandler ^/p[0-9]* %s/echo.lua handle" % d,
        "LuaMapHandler ^/$ %s/echo.lua handle" % d,
    ]
    if mode is not None:
        lines.append("LBGuard %s" % mode.capitalize())
        if profile:
            lines.append("LBGuardProfile %s" % profile)
        if lb_idle is not None:
            lines.append("LBGuardLBIdleTimeout %d" % lb_idle)
            lines.append("LBGuardKeepAliveMargin %d" % margin)
    lines.append(extra)
    conf = os.path.join(d, "httpd.conf")
    _write(conf, "\n".join(lines) + "\n")
    p = lbgtest.Proc([APACHE, "-f", conf, "-DFOREGROUND"], name="apache2",
                     log=os.path.join(d, "stdout.log"))
    lbgtest.wait_port(port, proc=p)
    return p


def start_chain(build, wd, lb, target, mode, m=32, keepalive=1):
    """Starts `target` ("nginx" or "apache") with lbguard `mode` (None: not
    loaded), keep-alive timeout `keepalive` s and lbguard told the LB idle
    timeout LB_IDLE with a 1 s margin, then `lb` ("haproxy" or "nginx")
    with m pools in front of it, under wd/target and wd/lb.
    Returns (lb_port, [target_proc, lb_proc])."""
    bp, lp = lbgtest.free_port(), lbgtest.free_port()
    if target == "nginx":
        t = nginx_target(build, os.path.join(wd, "target"), bp, mode=mode,
                         keepalive="%ds" % keepalive, lb_idle=LB_IDLE, margin="1s")
    else:
        t = apache_target(build, os.path.join(wd, "target"), bp, mode=mode,
                          keepalive=keepalive, lb_idle=LB_IDLE, margin=1)
    start = haproxy_lb if lb == "haproxy" else nginx_lb
    try:
        p = start(os.path.join(wd, "lb"), lp, bp, m=m)
    except Exception:
        t.stop()
        raise
    return lp, [t, p]
