"""configs -- the text of the server configurations that the tests, the
demo (tests/integration/demo.py) and the benchmark (bench/bench.py) run:
nginx (as the target with lbguard, as a load balancer, as a reference
server), Apache (the same) and HAProxy 2.6. Stdlib only.

Every function here returns text (some create the directories a path in
that text needs, as nginx_temp_paths does); starting the servers is the
callers' (nginx_env, apache_env, lb_configs, lb_reload, servers, bench).
Shared pieces: nginx_main (the main context up to events{}), haproxy_head
(global and defaults), apache_head and apache_loads (the server's paths and
its LoadModule lines). Paths are absolute, every server listens on
127.0.0.1.
"""
import os
import subprocess

from tests import lbgtest

NGINX = "/usr/sbin/nginx"
NGX_PERL = "/usr/lib/nginx/modules/ngx_http_perl_module.so"
HAPROXY = "/usr/sbin/haproxy"
APACHE = "/usr/sbin/apache2"
APACHE_MODS = "/usr/lib/apache2/modules"


# ---------------------------------------------------------------- nginx ----

def nginx_main(d, load=(), workers=1, master=None, error_log="error.log", level="info",
               connections=1024, pre=(), post=()):
    """nginx's main context, in the foreground (daemon off), up to and with
    events{}: load_module of each path in `load`, the lines `pre`, then
    master_process on|off when `master` is not None, worker_processes
    `workers` (none when 0), pid d/nginx.pid, error_log d/<error_log> at
    `level`, the lines `post`, and `connections` worker_connections. Ends
    with a newline; the http{} block follows."""
    lines = ["load_module %s;" % m for m in load] + list(pre) + ["daemon off;"]
    if master is not None:
        lines.append("master_process %s;" % ("on" if master else "off"))
    if workers:
        lines.append("worker_processes %d;" % workers)
    lines += ["pid %s/nginx.pid;" % d, "error_log %s/%s %s;" % (d, error_log, level)]
    lines += list(post)
    lines.append("events { worker_connections %d; }" % connections)
    return "\n".join(lines) + "\n"


def lbguard_nginx_directives(mode, lb_idle, margin="1s", profile=None):
    """The lbguard directives for an nginx http{} block. mode: None (module
    not loaded), "off", "detect" or "repair"; lb_idle: seconds, or None for
    no lbguard_lb_idle_timeout / lbguard_keepalive_margin."""
    if mode is None:
        return ""
    out = ["lbguard %s;" % mode]
    if profile:
        out.append("lbguard_profile %s;" % profile)
    if lb_idle is not None:
        out.append("lbguard_lb_idle_timeout %ss;" % lb_idle)
        out.append("lbguard_keepalive_margin %s;" % margin)
    return "\n  ".join(out)


def nginx_target_conf(d, port, load, keepalive, lbguard, locations="", log_format=None):
    """The target of the LB suites: `location /` echoes the LB's source port
    ("p=<port>\\n"), GET or POST; `lbguard`: lbguard_nginx_directives();
    `locations`: more location blocks; log_format: the access log's format
    (text of a log_format directive after its name), else nginx's combined."""
    if log_format:
        access = "log_format lbg_access %s;\n  access_log %s/access.log lbg_access;" % (
            log_format, d)
    else:
        access = "access_log %s/access.log;" % d
    return nginx_main(d, load) + """
http {
  %(access)s
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
""" % dict(access=access, temp=lbgtest.nginx_temp_paths(d), ka=keepalive, port=port,
           lbg=lbguard, locations=locations)


def nginx_lb_conf(d, port, backend_port, m, idle):
    """nginx as the load balancer: locations /p0../p<m-1>, each proxied to
    its own upstream block (its own keep-alive pool) of 127.0.0.1:backend_port,
    `location /` to pool 0; no retries, HTTP/1.1 keep-alive upstream,
    upstream keepalive_timeout `idle` s."""
    ups = []
    locs = []
    for i in range(m):
        ups.append("  upstream u%d { server 127.0.0.1:%d; keepalive 4; "
                   "keepalive_timeout %ds; keepalive_requests 100000; }" % (i, backend_port, idle))
        locs.append("    location /p%d { proxy_pass http://u%d; }" % (i, i))
    return nginx_main(d) + """
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


def nginx_reload_target_conf(d, port, drain, load, workers, shutdown_timeout, lb_idle, margin,
                             mode, keepalive, status):
    """The target of the reload runs (lb_reload.nginx_conf): `return 200`,
    lbguard `mode`, lbguard_lb_idle_timeout lb_idle s, margin s,
    keepalive_timeout `keepalive`, lbguard_drain `drain` ("on", "off" or
    None: the default), `workers` workers, worker_shutdown_timeout if given;
    status: a `location = /lbguard-status { lbguard_status; }`."""
    post = ["worker_shutdown_timeout %s;" % shutdown_timeout] if shutdown_timeout else []
    drain_line = "lbguard_drain %s;" % drain if drain else ""
    return nginx_main(d, load, workers=workers, post=post, connections=4096) + """http {
  access_log off;
  %(temp)s
  keepalive_timeout %(ka)s;
  keepalive_requests 100000;
  lbguard %(mode)s;
  lbguard_lb_idle_timeout %(idle)ds;
  lbguard_keepalive_margin %(margin)ds;
  %(drain)s
  server {
    listen 127.0.0.1:%(port)d;
    location / { return 200 "ok\\n"; }
    %(status)s
  }
}
""" % dict(temp=lbgtest.nginx_temp_paths(d), idle=lb_idle, margin=margin, drain=drain_line,
           port=port, ka=keepalive, mode=mode,
           status="location = /lbguard-status { lbguard_status; }" if status else "")


def nginx_reload_lb_conf(d, port, backend_port, idle, pool):
    """nginx as the LB of the reload runs: one upstream, keepalive `pool`,
    keepalive_timeout `idle` s, proxy_next_upstream off."""
    return nginx_main(d) + """
http {
  access_log off;
  %(temp)s
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_next_upstream off;
  upstream u { server 127.0.0.1:%(bp)d; keepalive %(pool)d; keepalive_timeout %(idle)ds;
               keepalive_requests 100000; }
  server {
    listen 127.0.0.1:%(port)d;
    location / { proxy_pass http://u; }
  }
}
""" % dict(temp=lbgtest.nginx_temp_paths(d), bp=backend_port, pool=pool, idle=idle, port=port)


def nginx_server_conf(d, http_block):
    """One nginx process (no workers: nothing runs as another user) with
    `http_block` inside http { } (access log off)."""
    return nginx_main(d, workers=0, master=False, connections=256) + """http {
    access_log off;
    %(temp)s
    %(block)s
}
""" % dict(temp=lbgtest.nginx_temp_paths(d), block=http_block)


def nginx_modes_conf(d, modules, ports, locations, http_extra="", backend_port=0,
                     perl_env=False):
    """The nginx of nginx_env.Instance: one server{} per lbguard mode in
    `ports` ({mode: port}), each with its own error log (<mode>.log, info)
    and access log (<mode>.access: "$request_uri $status
    $lbguard_findings"), root d/html, all sharing `locations` (the
    placeholders @BACKEND@ and @ROOT@ become backend_port and d).
    perl_env: `env PERL5LIB;` for a build with the perl module built in.
    Returns (text, {mode: line number of its server {}})."""
    pre = ["env PERL5LIB;"] if perl_env else []
    if os.geteuid() == 0:
        # workers would run as nobody, who may not enter the work
        # directory (e.g. a clone under a mode-700 mktemp -d)
        pre.append("user root;")
    lines = nginx_main(d, modules, pre=pre, error_log="main.log", level="notice",
                       connections=256).rstrip("\n").split("\n")
    lines += [
        "http {",
        "    server_tokens off;",
        "    types { text/html html shtml; text/plain txt; }",
        "    default_type text/plain;",
        "    log_format lbg '$request_uri $status $lbguard_findings';",
        "    access_log off;",
    ]
    lines += ["    " + ln for ln in lbgtest.nginx_temp_paths(d).split("\n")]
    lines += ["    " + ln for ln in http_extra.strip("\n").split("\n") if ln]
    server_lines = {}
    for m, port in ports.items():
        server_lines[m] = len(lines) + 1
        lines += [
            "    server {",
            "        listen 127.0.0.1:%d;" % port,
            "        server_name %s;" % m,
            "        root %s/html;" % d,
            "        lbguard %s;" % m,
            "        error_log %s/%s.log info;" % (d, m),
            "        access_log %s/%s.access lbg;" % (d, m),
        ]
        text = locations.replace("@BACKEND@", str(backend_port))
        text = text.replace("@ROOT@", d)
        lines += ["        " + ln for ln in text.strip("\n").split("\n")]
        lines += ["    }"]
    lines += ["}"]
    return "\n".join(lines) + "\n", server_lines


# -------------------------------------------------------------- HAProxy ----

def haproxy_head(timeouts, nbthread=None, reuse=False):
    """HAProxy's global and defaults sections: logs to stdout (raw, one
    httplog line per request), mode http, retries 0; nbthread if given;
    reuse: http-reuse always and no option redispatch (an LB's idle
    connection pools). timeouts: [(name, value)], in order. Two-space
    indent; ends with a newline."""
    lines = ["global"]
    if nbthread:
        lines.append("  nbthread %d" % nbthread)
    lines += ["  log stdout format raw local0",
              "defaults",
              "  mode http",
              "  log global",
              "  option httplog"]
    if reuse:
        lines.append("  http-reuse always")
    lines.append("  retries 0")
    if reuse:
        lines.append("  no option redispatch")
    lines += ["  timeout %s %s" % t for t in timeouts]
    return "\n".join(lines) + "\n"


def haproxy_lb_cfg(port, backend_port, m, idle, request_id=False):
    """HAProxy 2.6 as the load balancer on `port` (one thread): /p<i> goes
    to backend b<i> (its own server, hence its own idle-connection pool),
    everything else to b0. http-reuse always, retries 0, idle server
    connections kept `idle` s (pool-purge-delay). request_id: every request
    gets an id (unique-id-format), sent to the target as X-Request-Id and
    captured into the log line (its first {...})."""
    fe = []
    be = []
    for i in range(m):
        fe.append("  use_backend b%d if { path /p%d } || { path_beg /p%d/ }" % (i, i, i))
        be.append("backend b%d\n  server s%d 127.0.0.1:%d pool-purge-delay %ds"
                  % (i, i, backend_port, idle))
    t = "%ds" % (idle + 5)
    rid = ("  unique-id-format lbg-%pid-%rt\n"
           "  unique-id-header X-Request-Id\n"
           "  http-request capture unique-id len 64\n") if request_id else ""
    return haproxy_head([("connect", "5s"), ("client", t), ("server", t),
                         ("http-keep-alive", t)], nbthread=1, reuse=True) + """\
frontend fe
  bind 127.0.0.1:%(port)d
%(rid)s%(fe)s
  default_backend b0
%(be)s
""" % dict(port=port, fe="\n".join(fe), be="\n".join(be), rid=rid)


def haproxy_proxy_cfg(frontends, timeouts):
    """HAProxy in front of targets, no pools of its own (no http-reuse):
    frontends: [(name, port, target port)], one frontend fe_<name> and one
    backend be_<name> each."""
    text = haproxy_head(timeouts)
    for name, port, target in frontends:
        text += """frontend fe_%s
  bind 127.0.0.1:%d
  default_backend be_%s
backend be_%s
  server s1 127.0.0.1:%d
""" % (name, port, name, name, target)
    return text


# --------------------------------------------------------------- Apache ----

def apache_head(d, port, error_log, level="warn"):
    """The start of an httpd.conf: ServerRoot d, ServerName 127.0.0.1,
    Listen 127.0.0.1:port, PidFile and DefaultRuntimeDir under d/run,
    ErrorLog `error_log`, LogLevel `level`. Ends with a newline."""
    return "\n".join(["ServerRoot %s" % d,
                      "ServerName 127.0.0.1",
                      "Listen 127.0.0.1:%d" % port,
                      "PidFile %s/run/httpd.pid" % d,
                      "DefaultRuntimeDir %s/run" % d,
                      "ErrorLog %s" % error_log,
                      "LogLevel %s" % level]) + "\n"


def apache_loads(mods):
    """LoadModule lines of Debian's modules `mods` (e.g. "mpm_event"), one
    per line, no newline at the end."""
    return "\n".join("LoadModule %s_module %s/mod_%s.so" % (x, APACHE_MODS, x) for x in mods)


LUA_ECHO = """function handle(r)
  r.content_type = "text/plain"
  r:puts("p=" .. (r.subprocess_env["RPORT"] or "?") .. "\\n")
  return apache2.OK
end
"""

APACHE_TARGET_MODS = ["mpm_event", "authz_core", "mime", "alias", "cgid", "dir",
                      "rewrite", "lua", "env", "headers"]


def apache_target_conf(d, port, module, mode, keepalive, lb_idle, margin, profile, extra):
    """The Apache target of the LB suites (event MPM): /p* is a mod_lua
    handler (d/echo.lua: LUA_ECHO) answering "p=<LB source port>\\n";
    /cgi-bin/ is d/cgi-bin. mode None: mod_lbguard (`module`) not loaded;
    else LBGuard <mode>, LBGuardProfile, LBGuardLBIdleTimeout lb_idle s and
    LBGuardKeepAliveMargin margin s (when lb_idle is not None). `extra`:
    lines at the end."""
    lines = apache_head(d, port, "%s/logs/error.log" % d).rstrip("\n").split("\n")
    lines += apache_loads(APACHE_TARGET_MODS).split("\n")
    if mode is not None:
        lines.append("LoadModule lbguard_module %s" % module)
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
    return "\n".join(lines) + "\n"


def apache_static_conf(d, port, keepalive_timeout):
    """Apache (event MPM) serving d/htdocs, KeepAliveTimeout
    `keepalive_timeout` s: the reference server of the CLI suites."""
    return apache_head(d, port, "%s/logs/error.log" % d) + \
        apache_loads(["mpm_event", "authz_core", "mime"]) + """
TypesConfig /etc/mime.types
User www-data
Group www-data
KeepAlive On
KeepAliveTimeout %(ka)s
DocumentRoot %(d)s/htdocs
<Directory />
  Require all granted
</Directory>
""" % dict(d=d, ka=keepalive_timeout)


APACHE_TEST_MODS = ["mpm_event", "authz_core", "alias", "cgid", "headers", "env",
                    "proxy", "proxy_http"]

# ErrorLogFormat without time, pid or client, so lines compare exactly:
# "[lbguard:warn] lbguard: <finding>".
APACHE_TEST_CONF = """\
ServerRoot {d}
ServerName 127.0.0.1
ServerTokens Prod
Listen 127.0.0.1:{port}
{extra_listen}
PidFile {d}/run/httpd.pid
DefaultRuntimeDir {d}/run
ScriptSock {d}/run/cgid.sock
ErrorLog {d}/logs/error.log
ErrorLogFormat "[%-m:%l] %M"
LogLevel warn lbguard:notice
LogFormat "%r|%>s|%{{lbguard-findings}}n" lbg
CustomLog {d}/logs/access.log lbg
{loads}
LoadModule lbguard_module {so}
User www-data
Group www-data
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
DocumentRoot {d}/htdocs
<Directory />
  Require all granted
</Directory>
{body}
"""


def apache_test_conf(d, port, extra_ports, so, body):
    """The Apache of apache_env.Apache (the module suites): mod_lbguard `so`
    loaded, error lines without time, pid or client, an access log of
    "%r|%>s|<lbguard-findings note>", `body` (its own lines) at the end."""
    return APACHE_TEST_CONF.format(
        d=d, port=port, extra_listen="\n".join("Listen 127.0.0.1:%d" % p for p in extra_ports),
        loads=apache_loads(APACHE_TEST_MODS), so=so, body=body)


# ------------------------------------------------------------ benchmark ----
# bench/bench.py: nginx and Apache answering one fixed response of FIELDS
# fields, with lbguard off, detect or repair (docs/bench.md)

FIELDS = 12                 # fields in every measured response
NGX_BASE_FIELDS = 5         # Server, Date, Content-Type, Content-Length, Connection
NGX_STATIC_BASE_FIELDS = 8  # the same, and Last-Modified, ETag, Accept-Ranges
APACHE_BASE_FIELDS = 7      # Date, Server, Last-Modified, ETag, Accept-Ranges,
                            # Content-Length, Content-Type
BODY = b"hello from the lbguard benchmark\n"


def ngx_quote(v):
    """v as a double-quoted nginx configuration string (nginx turns \\t
    into HTAB and \\" into a quote inside one)."""
    return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t")


def apache_quote(v):
    """v as a double-quoted Apache configuration argument (only \\" is an
    escape there; an HTAB stays as it is)."""
    return '"%s"' % v.replace('"', '\\"')


SET_BUDGET = (32768, 100)   # the sets' header budget: the ALB's 32 KB, 100 fields


def bench_nginx_conf(d, port, mode, module, single, variant="return", upstream=None,
               fields=None):
    """nginx.conf text for a response of FIELDS fields. mode: None (module
    not loaded), "off", "detect", "repair". single: one process (for
    callgrind). variant: "return" (`return 200` with add_header), "static"
    (the file htdocs/index.txt with add_header), "proxy" (proxy_pass to
    127.0.0.1:upstream over kept-alive connections: the upstream's
    add_header fields, Content-Type and Content-Length go through; nginx's
    own Server, Date and Connection replace the upstream's), "backend"
    (the upstream: `return 200`, no lbguard, its access log off).
    fields: a header set's [(name, value)] as add_header lines instead of
    the X-Bench ones, with lbguard_header_budget SET_BUDGET."""
    base = NGX_STATIC_BASE_FIELDS if variant == "static" else NGX_BASE_FIELDS
    adds = "\n".join("            add_header X-Bench-%d \"value %d\";" % (i, i)
                     for i in range(1, FIELDS - base + 1))
    budget = ""
    if fields is not None:
        adds = "\n".join("            add_header %s %s;" % (ngx_quote(n), ngx_quote(v))
                         for n, v in fields)
        if mode:
            budget = "    lbguard_header_budget %d %d;" % SET_BUDGET
    if variant == "static":
        content = "root %s/htdocs;" % d
    elif variant == "proxy":
        content = ("proxy_pass http://backend;\n"
                   "            proxy_http_version 1.1;\n"
                   "            proxy_set_header Connection \"\";")
        adds = ""
    else:
        content = 'return 200 "%s";' % BODY.decode().replace("\n", "\\n")
    upstream_block = ""
    if variant == "proxy":
        upstream_block = ("    upstream backend {\n        server 127.0.0.1:%d;\n"
                          "        keepalive 8;\n    }\n" % upstream)
    main = nginx_main(d, master=not single, level="warn")
    return ("load_module %s;" % module if mode else "") + "\n" + main + """http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
%(temp)s
%(lbguard)s
%(budget)s
%(upstream)s
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            default_type text/plain;
%(adds)s
            %(content)s
        }
    }
}
""" % dict(port=port, adds=adds,
           temp=lbgtest.nginx_temp_paths(d), upstream=upstream_block,
           lbguard=("    lbguard %s;" % mode) if mode else "",
           content=content, budget=budget)


def apache_module_name(so):
    """The module struct's name exported by an Apache module .so
    (what LoadModule needs), e.g. "lbguard_module"."""
    try:
        out = subprocess.run(["nm", "-D", "--defined-only", so], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True).stdout
    except OSError:
        out = ""
    for ln in out.splitlines():
        p = ln.split()
        if len(p) == 3 and p[1] in "DB" and p[2].endswith("_module"):
            return p[2]
    return "lbguard_module"


def bench_apache_conf(d, port, mode, module, single, fields=None):
    """httpd.conf text: a static file with mod_headers `Header set` fields so
    the response has FIELDS fields. mode as for nginx_conf; the directive is
    `LBGuard Off|Detect|Repair`. single: prefork for `apache2 -X`; else the
    event MPM (Debian's default). fields: a header set's [(name, value)]
    as `Header set` (`Header add` for a repeated name) instead of the
    X-Bench ones, with LBGuardHeaderBudget SET_BUDGET."""
    adds = "\n".join('Header set X-Bench-%d "value %d"' % (i, i)
                     for i in range(1, FIELDS - APACHE_BASE_FIELDS + 1))
    if fields is not None:
        seen, lines = set(), []
        for n, v in fields:
            lines.append("Header %s %s %s" % ("add" if n.lower() in seen else "set",
                                              apache_quote(n), apache_quote(v)))
            seen.add(n.lower())
        adds = "\n".join(lines)
    if single:
        mpm = "LoadModule mpm_prefork_module %s/mod_mpm_prefork.so" % APACHE_MODS
    else:
        mpm = ("LoadModule mpm_event_module %s/mod_mpm_event.so\n"
               "StartServers 1\nServerLimit 2\nThreadsPerChild 32\n"
               "MaxRequestWorkers 64\nMinSpareThreads 1\nMaxSpareThreads 64\n"
               "MaxConnectionsPerChild 0" % APACHE_MODS)
    lb = ""
    if mode:
        lb = "LoadModule %s %s\nLBGuard %s" % (apache_module_name(module), module,
                                                mode.capitalize())
        if fields is not None:
            lb += "\nLBGuardHeaderBudget %d %d" % SET_BUDGET
    return apache_head(d, port, "%s/error.log" % d) + mpm + "\n" + \
        apache_loads(["authz_core", "mime", "headers"]) + """
TypesConfig /etc/mime.types
User www-data
Group www-data
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 300
DocumentRoot %(d)s/htdocs
<Directory />
    Require all granted
</Directory>
%(adds)s
%(lb)s
""" % dict(d=d, adds=adds, lb=lb)


# ---------------------------------------------------- single suites' own ----

def nginx_directive_conf(d, load, port, directive, error_log="bad.log"):
    """test_nginx's `nginx -t` of one directive: one server on `port` whose
    `location /` holds `directive`, error log d/<error_log>. Returns (text,
    line number of the directive)."""
    lines = nginx_main(d, load, workers=0, error_log=error_log,
                       level="error").rstrip("\n").split("\n")
    lines += ["http {", "    access_log off;", "    server {",
              "        listen 127.0.0.1:%d;" % port, "        location / {",
              "            " + directive, "        }", "    }", "}"]
    return "\n".join(lines) + "\n", lines.index("            " + directive) + 1


def nginx_h2_conf(d, load, port, locations, error_log="h2.log", pid="h2.pid"):
    """test_nginx's HTTP/2 server: h2c on `port`, lbguard repair,
    `locations` (lines), error log d/<error_log> at info, pid d/<pid> (the
    suite's other nginx runs in d too)."""
    pre = ["user root;"] if os.geteuid() == 0 else []
    text = nginx_main(d, load, pre=pre, error_log=error_log, level="info", connections=256)
    text = text.replace("pid %s/nginx.pid;" % d, "pid %s/%s;" % (d, pid))
    return text + "\n".join(["http {", "    access_log off;",
                             "    " + lbgtest.nginx_temp_paths(d).replace("\n", "\n    "),
                             "    server {", "        listen 127.0.0.1:%d http2;" % port,
                             "        lbguard repair;"]
                            + ["        " + ln for ln in locations] + ["    }", "}"]) + "\n"


def nginx_metrics_conf(d, load, repair, detect, status, locations):
    """test_metrics' nginx: 4 workers, a repair server on `repair` (status
    zone "web", keepalive_timeout 10s) and a detect server on `detect`
    (zone "default", keepalive_timeout 75s), both with `locations`, both
    `reuseport`, access logs d/<mode>.access ("$pid $lbguard_findings"),
    LB idle 60 s; /metrics (lbguard_status) on `status`."""
    pre = ["user root;"] if os.geteuid() == 0 else []
    return nginx_main(d, load, workers=4, pre=pre, level="notice", connections=256) + "\n".join([
        "http {",
        "server_tokens off;",
        "log_format m '$pid $lbguard_findings';",
        "access_log off;",
        lbgtest.nginx_temp_paths(d),
        "lbguard_lb_idle_timeout 60s;",
        "server {",
        "  listen 127.0.0.1:%d reuseport;" % repair,
        "  lbguard repair; lbguard_status_zone web; keepalive_timeout 10s;",
        "  access_log %s/repair.access m;" % d,
        locations,
        "}",
        "server {",
        "  listen 127.0.0.1:%d reuseport;" % detect,
        "  lbguard detect; keepalive_timeout 75s;",
        "  access_log %s/detect.access m;" % d,
        locations,
        "}",
        "server {",
        "  listen 127.0.0.1:%d;" % status,
        "  location = /metrics { lbguard_status; }",
        "}",
        "}",
    ]) + "\n"


def apache_metrics_conf(d, status, repair, detect, so, backend):
    """test_metrics' Apache (event MPM, 2 children of 4 threads): the
    status handler at /lbguard-status on `status`; a repair virtual host on
    `repair` (zone "web", KeepAliveTimeout 10) and a detect one on `detect`
    (zone "default", KeepAliveTimeout 75), each proxying /p/ to `backend`
    and running d/cgi-bin/, access logs d/logs/<mode>.access ("%P
    %{lbguard-findings}n"); LB idle 60 s."""
    return apache_head(d, status, "%s/logs/error.log" % d) + """\
ServerTokens Prod
Listen 127.0.0.1:%(repair)d
Listen 127.0.0.1:%(detect)d
ScriptSock %(d)s/run/cgid.sock
LogFormat "%%P %%{lbguard-findings}n" m
%(loads)s
LoadModule lbguard_module %(so)s
User www-data
Group www-data
StartServers 2
ServerLimit 2
ThreadsPerChild 4
MaxRequestWorkers 8
MinSpareThreads 1
MaxSpareThreads 8
DocumentRoot %(d)s/htdocs
<Directory />
  Require all granted
</Directory>
SetEnv ap_trust_cgilike_cl 1
SetEnv proxy-nokeepalive 1
LBGuardLBIdleTimeout 60
<Location /lbguard-status>
  SetHandler lbguard-status
</Location>
%(vhosts)s""" % dict(d=d, repair=repair, detect=detect, so=so,
           loads=apache_loads(APACHE_TEST_MODS),
           vhosts="".join(_METRICS_VHOST % dict(d=d, port=port, mode=mode, log=mode.lower(),
                                                zone=zone, ka=ka, backend=backend)
                          for port, mode, zone, ka in
                          ((repair, "Repair", "  LBGuardStatusZone web\n", 10),
                           (detect, "Detect", "", 75))))


_METRICS_VHOST = """<VirtualHost 127.0.0.1:%(port)d>
  LBGuard %(mode)s
%(zone)s  KeepAliveTimeout %(ka)d
  CustomLog %(d)s/logs/%(log)s.access m
  ProxyPass /p/ http://127.0.0.1:%(backend)d/p/
  ScriptAlias /cgi-bin/ %(d)s/cgi-bin/
</VirtualHost>
"""


def nginx_packaged_conf(d, port, backend_port):
    """test_package's nginx: modules loaded as Debian's /etc/nginx/nginx.conf
    loads them (include modules-enabled), lbguard repair, one server on
    `port` proxying to `backend_port`."""
    return "\n".join([
        "include /etc/nginx/modules-enabled/*.conf;",
        "daemon off;", "worker_processes 1;", "user root;",
        "pid %s/nginx.pid;" % d, "error_log %s/error.log notice;" % d,
        "events { worker_connections 64; }",
        "http {",
        "  access_log %s/access.log;" % d,
        "  server_tokens off;",
        lbgtest.nginx_temp_paths(d),
        "  lbguard repair;",
        "  server {",
        "    listen 127.0.0.1:%d;" % port,
        "    location / { proxy_pass http://127.0.0.1:%d; }" % backend_port,
        "  }",
        "}", ""])


def apache_packaged_conf(d, port):
    """test_package's Apache: mod_lbguard loaded as a2enmod enabled it
    (mods-enabled/lbguard.load and .conf), LBGuard Repair, mod_headers
    setting a field value with a control character; error log lines
    "[module:level] message"."""
    return """\
ServerRoot {d}
ServerName 127.0.0.1
ServerTokens Prod
Listen 127.0.0.1:{port}
PidFile {d}/run/httpd.pid
DefaultRuntimeDir {d}/run
ErrorLog {d}/logs/error.log
ErrorLogFormat "[%-m:%l] %M"
LogLevel warn
LoadModule mpm_event_module {moddir}/mod_mpm_event.so
LoadModule authz_core_module {moddir}/mod_authz_core.so
LoadModule headers_module {moddir}/mod_headers.so
# lbguard as a2enmod enabled it
Include /etc/apache2/mods-enabled/lbguard.load
Include /etc/apache2/mods-enabled/lbguard.conf
User www-data
Group www-data
StartServers 1
ServerLimit 1
ThreadsPerChild 4
MaxRequestWorkers 4
MinSpareThreads 1
MaxSpareThreads 4
DocumentRoot {d}/htdocs
<Directory />
  Require all granted
</Directory>
LBGuard Repair
Header set X-Bad "a\x01b"
""".format(d=d, port=port, moddir=APACHE_MODS)
