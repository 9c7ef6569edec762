"""lb_configs -- config templates and start helpers for the load-balancer
suites (test_lb_race.py, test_lb_malformed.py, demo.py). Stdlib only.

Topology: client -> LB (HAProxy 2.6 or nginx as a reverse proxy) -> target
(nginx + lbguard dynamic module, or Apache + mod_lbguard) [-> RawBackend].

Every server listens on 127.0.0.1 on a free port, runs in the foreground
as a lbgtest.Proc and is stopped by its PID. The configuration text comes
from configs.
"""
import os

from tests import lbgtest
from tests.lbgtest import apache_env, configs
from tests.lbgtest.configs import (APACHE, HAPROXY, LUA_ECHO,  # noqa: F401
                                   NGINX, NGX_PERL, lbguard_nginx_directives)

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

def _nginx_main(d, load=()):
    """configs.nginx_main (the main context of one worker)."""
    return configs.nginx_main(d, load)


def _start_nginx(d, conf, port, name):
    """Writes d/nginx.conf, starts Debian's nginx on it (foreground, master
    + one worker) and waits until it listens on `port`. Returns the Proc."""
    _write(os.path.join(d, "nginx.conf"), conf)
    p = lbgtest.Proc([NGINX, "-e", os.path.join(d, "error.log"), "-p", d,
                      "-c", os.path.join(d, "nginx.conf")],
                     name=name, log=os.path.join(d, "stdout.log"))
    lbgtest.wait_port(port, proc=p)
    return p


def nginx_target(build, d, port, mode=None, keepalive="1s", lb_idle=LB_IDLE,
                 margin="1s", profile=None, locations="", perl=False, log_format=None):
    """Starts nginx as the target server: `location /` echoes the LB's
    source port ("p=<port>\\n"), GET or POST. mode None: lbguard is not
    loaded; else lbguard <mode> (the module must exist). `locations`:
    extra location blocks. log_format: the access log's format (text of a
    log_format directive after its name), else nginx's combined. Returns
    the Proc."""
    _mkdirs(d, "temp")
    load = []
    if perl:
        load.append(NGX_PERL)
    if mode is not None:
        m = nginx_module(build)
        if m is None:
            raise RuntimeError("lbguard nginx module not built")
        load.append(m)
    conf = configs.nginx_target_conf(d, port, load, keepalive,
                                     lbguard_nginx_directives(mode, lb_idle, margin, profile),
                                     locations, log_format)
    return _start_nginx(d, conf, port, "nginx-target")


def nginx_lb(d, port, backend_port, m=32, idle=LB_IDLE):
    """Starts nginx as the load balancer on `port`: locations /p0../p<m-1>,
    each proxied to its own upstream block (its own keep-alive pool) that
    points at 127.0.0.1:backend_port; `location /` uses pool 0 too.
    No retries (proxy_next_upstream off), HTTP/1.1 keep-alive upstream,
    upstream keepalive_timeout `idle` s. Returns the Proc."""
    _mkdirs(d, "temp")
    conf = configs.nginx_lb_conf(d, port, backend_port, m, idle)
    return _start_nginx(d, conf, port, "nginx-lb")


# -------------------------------------------------------------- HAProxy ----

def haproxy_lb(d, port, backend_port, m=32, idle=LB_IDLE, request_id=False):
    """Starts HAProxy 2.6 on `port` (one thread, logs to stdout ->
    d/haproxy.log): /p<i> goes to backend b<i> (its own server, hence its
    own idle-connection pool), everything else to b0. http-reuse always,
    retries 0, idle server connections kept `idle` s (pool-purge-delay).
    request_id: every request gets an id (unique-id-format), sent to the
    target as X-Request-Id and captured into the log line (its first
    {...}), for joining the log with the target's. Returns the Proc."""
    os.makedirs(d, exist_ok=True)
    cfg = configs.haproxy_lb_cfg(port, backend_port, m, idle, request_id)
    _write(os.path.join(d, "haproxy.cfg"), cfg)
    p = lbgtest.Proc([HAPROXY, "-db", "-f", os.path.join(d, "haproxy.cfg")],
                     name="haproxy", log=os.path.join(d, "haproxy.log"))
    lbgtest.wait_port(port, proc=p)
    return p


# --------------------------------------------------------------- Apache ----

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
    m = None
    if mode is not None:
        m = apache_module(build)
        if m is None:
            raise RuntimeError("mod_lbguard not built")
    text = configs.apache_target_conf(d, port, m, mode, keepalive, lb_idle, margin, profile,
                                      extra)
    conf = os.path.join(d, "httpd.conf")
    _write(conf, text)
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
