"""nginx_cases -- the responses test_nginx.py sends through nginx + lbguard.

BACKEND     routes of the raw-socket backend behind proxy_pass: defects that
            nginx's proxy passes through to the client (it rejects NUL, CTL
            and SP in field names, NUL in values and obs-fold with a 502, and
            re-frames Content-Length / Transfer-Encoding itself).
LOCATIONS   the location{} blocks every server (off, detect, repair) has:
            the proxy, perl handlers that emit the defects nginx itself
            never checks, and static files for the conformant cases.
CASES       one dict per defect: the request, the exact bytes expected with
            lbguard off (= detect) and repair (Date normalised to DATE),
            the lbguard log lines in detect and repair, and the
            $lbguard_findings value per mode.
CONFORMANT  (name, request bytes) of responses lbguard must leave alone.
"""
from tests.lbgtest.nginx_env import request


def _ok(extra=b""):
    return (b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: 2\r\n\r\nok")


BACKEND = {
    b"/p/ok": _ok(b"X-Fine: yes\r\n"),
    b"/hp/ctl": _ok(b"X-Bad: a\x01b\r\n"),
    b"/ws/chat": (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\n\r\ntunnelled bytes"),
    b"/p/reason": b"HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok",
    b"/p/ctl": _ok(b"X-Bad: a\x01b\r\n"),
    b"/p/del": _ok(b"X-Del: a\x7fb\r\n"),
    b"/p/ctype": _ok(b"Content-Type: text/pl\x01ain\r\n"),
    b"/p/name": _ok(b"X{Bad}: v\r\n"),
    b"/p/s099": b"HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok",
    b"/p/s600": b"HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok",
}


def _perl(name, body):
    """A location /perl/<name> whose handler runs `body` (Perl; $r is the
    request) and then sends "abc" unless the code returned already."""
    return ("location = /perl/%s {\n"
            "    perl 'sub { my $r = shift; %s return OK; }';\n"
            "}\n" % (name, body))


_SEND = '$r->send_http_header("text/plain"); $r->print("abc");'
_CRLF = 'chr(13) . chr(10)'

LOCATIONS = (
    "location /p/ { proxy_pass http://127.0.0.1:@BACKEND@; }\n"
    "location /ws/ { proxy_pass http://127.0.0.1:@BACKEND@;\n"
    "    proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;\n"
    "    proxy_set_header Connection upgrade; }\n"
    "location /gz/ { gzip on; gzip_min_length 1; gzip_types text/plain; }\n"
    "location = /gzcl/t.txt { alias @ROOT@/html/gz/t.txt; gzip on;\n"
    "    gzip_min_length 1; gzip_types text/plain;\n"
    "    add_header Content-Length 7 always; }\n"
    "location ~ \\.shtml$ { ssi on; }\n"
    + _perl("fine", '$r->header_out("X-Fine", "yes"); ' + _SEND)
    + _perl("crlf", '$r->header_out("X-Inj", "a" . %s . "Set-Cookie: x=1"); '
            % _CRLF + _SEND)
    + _perl("nul", '$r->header_out("X-Nul", "a" . chr(0) . "b"); ' + _SEND)
    + _perl("space", '$r->header_out("X Bad", "v"); ' + _SEND)
    + _perl("fold", '$r->header_out("X-Fold", "a" . %s . " b"); '
            % _CRLF + _SEND)
    + _perl("cldup", '$r->header_out("Content-Length", "3"); '
            '$r->header_out("Content-Length", "3"); ' + _SEND)
    + _perl("clconflict", '$r->header_out("Content-Length", "3"); '
            '$r->header_out("Content-Length", "5"); ' + _SEND)
    + _perl("clinvalid", '$r->header_out("Content-Length", "abc"); ' + _SEND)
    + _perl("long", '$r->header_out("Content-Length", "3"); '
            '$r->send_http_header("text/plain"); $r->print("hello world\\n");')
    + _perl("short", '$r->header_out("Content-Length", "30"); '
            '$r->send_http_header("text/plain"); $r->print("hello world\\n");')
    + _perl("status", '$r->status(1000); ' + _SEND)
    + _perl("nocontent", '$r->status(204); '
            '$r->header_out("Content-Length", "5"); '
            '$r->send_http_header("text/plain");')
    + _perl("tetwice", '$r->header_out("Transfer-Encoding", "chunked"); '
            + _SEND)
    + _perl("long2", '$r->header_out("Content-Length", "3"); '
            '$r->send_http_header("text/plain"); $r->print("abc"); '
            '$r->print("def");')
    + _perl("many", 'for my $i (1 .. 70) { $r->header_out("X-F$i", "v"); } '
            + _SEND)
    # lbguard_profile: HAProxy accepts CTL bytes in field values
    + "location /hp/ { lbguard_profile haproxy;\n"
    "    proxy_pass http://127.0.0.1:@BACKEND@; }\n"
    # lbguard_header_budget: 150 bytes, 4 fields
    "location = /budget.html { alias @ROOT@/html/index.html;\n"
    "    lbguard_header_budget 150 4; }\n"
    # the same under a profile naming one LB: the target's own 502
    "location = /hp-budget.html { alias @ROOT@/html/index.html;\n"
    "    lbguard_profile haproxy; lbguard_header_budget 150 4; }\n"
    # the charset nginx appends to Content-Type is in the checked bytes
    "location = /charset.html { alias @ROOT@/html/index.html;\n"
    "    charset utf-8; lbguard_header_budget 150 4; }\n"
    # keep-alive: an LB preset, and keep-alive off
    "location = /alb.html { alias @ROOT@/html/index.html;\n"
    "    lbguard_lb_idle_timeout aws-alb; }\n"
    "location = /noka.html { alias @ROOT@/html/index.html;\n"
    "    keepalive_timeout 0; }\n"
    # issue 14: the verdict of a constant add_header is kept from the first
    # response (configuration memory); a value made per request through a
    # variable is checked on every response (the bad one has the good one's
    # length: in the reused request pool it may well have its address too),
    # the kept fields still count for the budgets
    "location = /verdict { add_header X-Const \"constant, clean\" always;\n"
    "    add_header X-Var $http_x_in always; return 200 \"ok\"; }\n"
    "location = /verdict-budget { lbguard_header_budget 4096 6;\n"
    "    add_header X-Const \"constant, clean\" always;\n"
    "    add_header X-Other \"another one\" always; return 200 \"ok\"; }\n"
    # issue 14: the verdict of a whole clean response is kept per location
    # (its shape: every field from configuration memory); a response with
    # one element more (the variable is set this time) does not match it
    # and is checked; a location near its budget: a longer Content-Length
    # (more digits) than the kept response's is still counted
    "location = /shape { add_header X-Const \"constant, clean\" always;\n"
    "    add_header X-Other \"another one\" always;\n"
    "    add_header X-Maybe $http_x_in always; return 200 \"ok\"; }\n"
    "location = /shape-budget { lbguard_header_budget 161 100;\n"
    "    add_header X-Const \"constant, clean\" always;\n"
    "    return 200 \"$arg_b\"; }\n"
)


def _case(name, uri, req=None, off=b"", repair=b"", detect_log=(),
          repair_log=(), access=None):
    """off: the exact bytes with lbguard off (detect must send the same);
    repair: the bytes in repair mode; *_log: the lbguard log lines without
    "lbguard: "; access: {mode: ["$request_uri $status $lbguard_findings"]}.
    """
    return {"name": name, "uri": uri, "request": req or request(uri),
            "off": off, "repair": repair, "detect_log": list(detect_log),
            "repair_log": list(repair_log), "access": access}


# the static file index.html as nginx sends it
_INDEX = (b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\n'
          b'Content-Type: text/html\r\nContent-Length: 120\r\n'
          b'Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\n'
          b'Connection: close\r\nETag: "6553f100-78"\r\n'
          b'Accept-Ranges: bytes\r\n\r\n' + b'hello, lbguard\n' * 8)

# the header of /perl/fine answering HEAD
_FINE_HEAD = (b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\n'
              b'Content-Type: text/plain\r\nConnection: close\r\n'
              b'X-Fine: yes\r\n\r\n')

# /perl/long2's header, and /sub.txt after it on the same connection
_LONG2 = (b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\n'
          b'Content-Type: text/plain\r\nConnection: keep-alive\r\n'
          b'Content-Length: 3\r\n\r\n')
_SUB = (b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\n'
        b'Content-Type: text/plain\r\nContent-Length: 3\r\n'
        b'Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\n'
        b'Connection: close\r\nETag: "6553f100-3"\r\n'
        b'Accept-Ranges: bytes\r\n\r\nSUB')

_CTYPE = (b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\n'
          b'Content-Type: %s\r\nContent-Length: 2\r\n'
          b'Connection: close\r\n\r\nok')

# index.html with the charset nginx appends
_INDEX_CHARSET = _INDEX.replace(b'Content-Type: text/html\r\n',
                                b'Content-Type: text/html; charset=utf-8\r\n')

# the budget rules' repair text (LBG_RULES): these locations run under the
# default profile, strictest, so the response is reported, not replaced
_BUDGET = "none under strictest (report); else the target's own 502 Bad Gateway"

# the target's own 502 Bad Gateway (LBG_EDIT_BAD_GATEWAY) as nginx sends it
_TARGET_502_BODY = (b'<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n'
                    b'<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n'
                    b'</body>\r\n</html>\r\n')
_TARGET_502 = (b'HTTP/1.1 502 Bad Gateway\r\nServer: nginx\r\nDate: DATE\r\n'
               b'Content-Type: text/html\r\nContent-Length: %d\r\n'
               b'Connection: close\r\n\r\n' % len(_TARGET_502_BODY)) + _TARGET_502_BODY

# /verdict's response up to its X-Var field, and /verdict-budget's
_VERDICT = (b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\n'
            b'Content-Type: text/plain\r\nContent-Length: 2\r\n'
            b'Connection: close\r\nX-Const: constant, clean\r\n')
_VERDICT_BUDGET = _VERDICT + b'X-Other: another one\r\n\r\nok'


def _verdict_budget(n):
    """/verdict-budget, the n-th time: the same finding every time."""
    return _case('add_header: kept verdicts still count for the budgets '
                 '(%d)' % n, '/verdict-budget',
                 off=_VERDICT_BUDGET, repair=_VERDICT_BUDGET,
                 detect_log=['too-many-fields: 7 fields, budget 6, '
                             'not repaired (detect mode)'],
                 repair_log=['too-many-fields: 7 fields, budget 6, '
                             + _BUDGET],
                 access={'off': ['/verdict-budget 200 -'],
                         'detect': ['/verdict-budget 200 '
                                    'too-many-fields:detected'],
                         'repair': ['/verdict-budget 200 '
                                    'too-many-fields:reported']})


# /shape's response up to its last element, and /shape-budget's
_SHAPE = (b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\n'
          b'Content-Type: text/plain\r\nContent-Length: 2\r\n'
          b'Connection: close\r\nX-Const: constant, clean\r\n'
          b'X-Other: another one\r\n')
_SHAPE_BUDGET = (b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\n'
                 b'Content-Type: text/plain\r\nContent-Length: %d\r\n'
                 b'Connection: close\r\nX-Const: constant, clean\r\n\r\n')


def _shape(n):
    """/shape with no X-In, the n-th time: clean (kept from the second)."""
    return _case('add_header: a response kept whole (%d)' % n, '/shape',
                 off=_SHAPE + b'\r\nok', repair=_SHAPE + b'\r\nok',
                 access={'off': ['/shape 200 -'], 'detect': ['/shape 200 -'],
                         'repair': ['/shape 200 -']})


def _shape_budget(body):
    """/shape-budget?b=body: clean with a 1-digit Content-Length (161
    bytes, the budget), over it with 2 digits."""
    uri = '/shape-budget?b=' + body
    resp = _SHAPE_BUDGET % len(body) + body.encode()
    if len(body) < 10:
        return _case('budget: a response kept whole (%d bytes)' % len(body),
                     uri, off=resp, repair=resp,
                     access={m: [uri + ' 200 -']
                             for m in ('off', 'detect', 'repair')})
    return _case('budget: a longer Content-Length than the kept response\'s',
                 uri, off=resp, repair=resp,
                 detect_log=['header-section-too-large: header section is '
                             '162 bytes, budget 161, not repaired (detect '
                             'mode)'],
                 repair_log=['header-section-too-large: header section is '
                             '162 bytes, budget 161, ' + _BUDGET],
                 access={'off': [uri + ' 200 -'],
                         'detect': [uri + ' 200 header-section-too-large:'
                                    'detected'],
                         'repair': [uri + ' 200 header-section-too-large:'
                                    'reported']})


CASES = [
    _case('add_header: constant and variable, clean (verdicts kept)',
          '/verdict', req=request("/verdict", headers=["X-In: good"]),
          off=_VERDICT + b'X-Var: good\r\n\r\nok',
          repair=_VERDICT + b'X-Var: good\r\n\r\nok',
          access={'off': ['/verdict 200 -'], 'detect': ['/verdict 200 -'],
                  'repair': ['/verdict 200 -']}),
    _case('add_header: a bad byte through the variable after a good one',
          '/verdict', req=request("/verdict", headers=["X-In: a\x01bc"]),
          off=_VERDICT + b'X-Var: a\x01bc\r\n\r\nok',
          repair=_VERDICT + b'X-Var: a bc\r\n\r\nok',
          detect_log=['field-value-ctl: field "X-Var" value "a\\x01bc", '
                      'not repaired (detect mode)'],
          repair_log=['field-value-ctl: field "X-Var" value "a\\x01bc", '
                      'control characters replaced with SP'],
          access={'off': ['/verdict 200 -'],
                  'detect': ['/verdict 200 field-value-ctl:detected'],
                  'repair': ['/verdict 200 field-value-ctl:repaired']}),
    _verdict_budget(1),
    _verdict_budget(2),
    _shape(1),
    _shape(2),
    _shape(3),
    _case('add_header: one element more than the kept response, bad',
          '/shape', req=request("/shape", headers=["X-In: a\x01bc"]),
          off=_SHAPE + b'X-Maybe: a\x01bc\r\n\r\nok',
          repair=_SHAPE + b'X-Maybe: a bc\r\n\r\nok',
          detect_log=['field-value-ctl: field "X-Maybe" value "a\\x01bc", '
                      'not repaired (detect mode)'],
          repair_log=['field-value-ctl: field "X-Maybe" value "a\\x01bc", '
                      'control characters replaced with SP'],
          access={'off': ['/shape 200 -'],
                  'detect': ['/shape 200 field-value-ctl:detected'],
                  'repair': ['/shape 200 field-value-ctl:repaired']}),
    _shape(4),
    _shape_budget('x'),
    _shape_budget('y'),
    _shape_budget('x' * 10),
    _case('charset: Content-Type as nginx writes it, in the budget',
          '/charset.html',
          off=_INDEX_CHARSET, repair=_INDEX_CHARSET,
          detect_log=['too-many-fields: 8 fields, budget 4, '
                      'not repaired (detect mode)',
                      'header-section-too-large: header section is 240 '
                      'bytes, budget 150, not repaired (detect mode)'],
          repair_log=['too-many-fields: 8 fields, budget 4, ' + _BUDGET,
                      'header-section-too-large: header section is 240 '
                      'bytes, budget 150, ' + _BUDGET],
          access={'off': ['/charset.html 200 -'],
                  'detect': ['/charset.html 200 too-many-fields:detected,'
                             'header-section-too-large:detected'],
                  'repair': ['/charset.html 200 too-many-fields:reported,'
                             'header-section-too-large:reported']}),
    # a single LB's profile: repair replaces the response by the target's
    # own 502, and the summary says so ("repaired", not "reported")
    _case('lbguard_header_budget 150 4, profile haproxy: the target\'s 502',
          '/hp-budget.html', off=_INDEX, repair=_TARGET_502,
          detect_log=['too-many-fields: 8 fields, budget 4, '
                      'not repaired (detect mode)',
                      'header-section-too-large: header section is 225 '
                      'bytes, budget 150, not repaired (detect mode)'],
          repair_log=['too-many-fields: 8 fields, budget 4, ' + _BUDGET,
                      'header-section-too-large: header section is 225 '
                      'bytes, budget 150, ' + _BUDGET],
          access={'off': ['/hp-budget.html 200 -'],
                  'detect': ['/hp-budget.html 200 too-many-fields:detected,'
                             'header-section-too-large:detected'],
                  'repair': ['/hp-budget.html 502 too-many-fields:repaired,'
                             'header-section-too-large:repaired']}),
    _case('lbguard_header_budget 150 4', '/budget.html',
          off=_INDEX, repair=_INDEX,
          detect_log=['too-many-fields: 8 fields, budget 4, '
                      'not repaired (detect mode)',
                      'header-section-too-large: header section is 225 '
                      'bytes, budget 150, not repaired (detect mode)'],
          repair_log=['too-many-fields: 8 fields, budget 4, ' + _BUDGET,
                      'header-section-too-large: header section is 225 '
                      'bytes, budget 150, ' + _BUDGET],
          access={'off': ['/budget.html 200 -'],
                  'detect': ['/budget.html 200 too-many-fields:detected,'
                             'header-section-too-large:detected'],
                  'repair': ['/budget.html 200 too-many-fields:reported,'
                             'header-section-too-large:reported']}),
    _case('perl body on HEAD', '/perl/fine', req=request("/perl/fine", "HEAD"),
          off=_FINE_HEAD + b'abc', repair=_FINE_HEAD,
          detect_log=['body-on-bodiless: 3 body bytes on a response that '
                      'has no body, not repaired (detect mode)'],
          repair_log=['body-on-bodiless: 3 body bytes on a response that '
                      'has no body, body dropped, connection closed'],
          access={'off': ['/perl/fine 200 -'],
                  'detect': ['/perl/fine 200 body-on-bodiless:detected'],
                  'repair': ['/perl/fine 200 body-on-bodiless:repaired']}),
    _case('proxy reason phrase CTL', '/p/reason',
          off=b'HTTP/1.1 200 O\x01K\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
          detect_log=['reason-phrase-invalid: status line "200 O\\x01K", not repaired (detect mode)'],
          repair_log=['reason-phrase-invalid: status line "200 O\\x01K", standard reason phrase used'],
          access={
              'off': ['/p/reason 200 -'],
              'detect': ['/p/reason 200 reason-phrase-invalid:detected'],
              'repair': ['/p/reason 200 reason-phrase-invalid:repaired']
          }),
    _case('proxy value CTL', '/p/ctl',
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\nX-Bad: a\x01b\r\n\r\nok',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\nX-Bad: a b\r\n\r\nok',
          detect_log=['field-value-ctl: field "X-Bad" value "a\\x01b", not repaired (detect mode)'],
          repair_log=['field-value-ctl: field "X-Bad" value "a\\x01b", control characters replaced with SP'],
          access={
              'off': ['/p/ctl 200 -'],
              'detect': ['/p/ctl 200 field-value-ctl:detected'],
              'repair': ['/p/ctl 200 field-value-ctl:repaired']
          }),
    _case('proxy value DEL', '/p/del',
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\nX-Del: a\x7fb\r\n\r\nok',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\nX-Del: a b\r\n\r\nok',
          detect_log=['field-value-ctl: field "X-Del" value "a\\x7fb", not repaired (detect mode)'],
          repair_log=['field-value-ctl: field "X-Del" value "a\\x7fb", control characters replaced with SP'],
          access={
              'off': ['/p/del 200 -'],
              'detect': ['/p/del 200 field-value-ctl:detected'],
              'repair': ['/p/del 200 field-value-ctl:repaired']
          }),
    _case('proxy Content-Type with CTL (a field nginx synthesises)',
          '/p/ctype',
          off=_CTYPE % b'text/pl\x01ain', repair=_CTYPE % b'text/pl ain',
          detect_log=['field-value-ctl: field "Content-Type" value '
                      '"text/pl\\x01ain", not repaired (detect mode)'],
          repair_log=['field-value-ctl: field "Content-Type" value '
                      '"text/pl\\x01ain", control characters replaced '
                      'with SP'],
          access={'off': ['/p/ctype 200 -'],
                  'detect': ['/p/ctype 200 field-value-ctl:detected'],
                  'repair': ['/p/ctype 200 field-value-ctl:repaired']}),
    _case('proxy name not token', '/p/name',
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\nX{Bad}: v\r\n\r\nok',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
          detect_log=['field-name-not-token: field name "X{Bad}", not repaired (detect mode)'],
          repair_log=['field-name-not-token: field name "X{Bad}", field removed'],
          access={
              'off': ['/p/name 200 -'],
              'detect': ['/p/name 200 field-name-not-token:detected'],
              'repair': ['/p/name 200 field-name-not-token:repaired']
          }),
    _case('proxy status 099', '/p/s099',
          off=b'HTTP/1.1 099 Odd\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
          repair=b'HTTP/1.1 500 Internal Server Error\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
          detect_log=['status-code-out-of-range: status line "099 Odd", not repaired (detect mode)'],
          repair_log=['status-code-out-of-range: status line "099 Odd", status set to 500'],
          access={
              'off': ['/p/s099 099 -'],
              'detect': ['/p/s099 099 status-code-out-of-range:detected'],
              'repair': ['/p/s099 500 status-code-out-of-range:repaired']
          }),
    _case('proxy status 600', '/p/s600',
          off=b'HTTP/1.1 600 Odd\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
          repair=b'HTTP/1.1 500 Internal Server Error\r\nServer: nginx\r\nDate: DATE\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok',
          detect_log=['status-code-out-of-range: status line "600 Odd", not repaired (detect mode)'],
          repair_log=['status-code-out-of-range: status line "600 Odd", status set to 500'],
          access={
              'off': ['/p/s600 600 -'],
              'detect': ['/p/s600 600 status-code-out-of-range:detected'],
              'repair': ['/p/s600 500 status-code-out-of-range:repaired']
          }),
    _case('perl CRLF injection', '/perl/crlf',
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nX-Inj: a\r\nSet-Cookie: x=1\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nX-Inj: a  Set-Cookie: x=1\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          detect_log=['field-value-cr-lf: field "X-Inj" value "a\\x0d\\x0aSet-Cookie: x=1", not repaired (detect mode)'],
          repair_log=['field-value-cr-lf: field "X-Inj" value "a\\x0d\\x0aSet-Cookie: x=1", CR and LF replaced with SP'],
          access={
              'off': ['/perl/crlf 200 -'],
              'detect': ['/perl/crlf 200 field-value-cr-lf:detected'],
              'repair': ['/perl/crlf 200 field-value-cr-lf:repaired']
          }),
    _case('perl NUL', '/perl/nul',
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nX-Nul: a\x00b\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nX-Nul: a b\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          detect_log=['field-value-nul: field "X-Nul" value "a\\x00b", not repaired (detect mode)'],
          repair_log=['field-value-nul: field "X-Nul" value "a\\x00b", NUL replaced with SP'],
          access={
              'off': ['/perl/nul 200 -'],
              'detect': ['/perl/nul 200 field-value-nul:detected'],
              'repair': ['/perl/nul 200 field-value-nul:repaired']
          }),
    _case('perl name with SP', '/perl/space',
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nX Bad: v\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          detect_log=['field-name-invalid: field name "X Bad", not repaired (detect mode)'],
          repair_log=['field-name-invalid: field name "X Bad", field removed'],
          access={
              'off': ['/perl/space 200 -'],
              'detect': ['/perl/space 200 field-name-invalid:detected'],
              'repair': ['/perl/space 200 field-name-invalid:repaired']
          }),
    _case('perl obs-fold', '/perl/fold',
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nX-Fold: a\r\n b\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nX-Fold: a   b\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          detect_log=['obs-fold: field "X-Fold" value "a\\x0d\\x0a b", not repaired (detect mode)'],
          repair_log=['obs-fold: field "X-Fold" value "a\\x0d\\x0a b", unfolded with SP'],
          access={
              'off': ['/perl/fold 200 -'],
              'detect': ['/perl/fold 200 obs-fold:detected'],
              'repair': ['/perl/fold 200 obs-fold:repaired']
          }),
    _case('perl Content-Length twice', '/perl/cldup',
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc',
          detect_log=['content-length-duplicate: field "Content-Length" value "3", not repaired (detect mode)'],
          repair_log=['content-length-duplicate: field "Content-Length" value "3", collapsed to one Content-Length'],
          access={
              'off': ['/perl/cldup 200 -'],
              'detect': ['/perl/cldup 200 content-length-duplicate:detected'],
              'repair': ['/perl/cldup 200 content-length-duplicate:repaired']
          }),
    _case('perl Content-Length conflict', '/perl/clconflict',
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabc',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nabc',
          detect_log=['content-length-conflict: Content-Length 3 and 5, not repaired (detect mode)', 'body-shorter-than-content-length: Content-Length 5, body 3 bytes before the end, not repaired (detect mode)'],
          repair_log=['content-length-conflict: Content-Length 3 and 5, all Content-Length removed, connection closed'],
          access={
              'off': ['/perl/clconflict 200 -'],
              'detect': ['/perl/clconflict 200 content-length-conflict:detected,body-shorter-than-content-length:detected'],
              'repair': ['/perl/clconflict 200 content-length-conflict:repaired']
          }),
    _case('perl Content-Length invalid', '/perl/clinvalid',
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: abc\r\n\r\nabc',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nabc',
          detect_log=['content-length-invalid: field "Content-Length" value "abc", not repaired (detect mode)'],
          repair_log=['content-length-invalid: field "Content-Length" value "abc", Content-Length removed, connection closed'],
          access={
              'off': ['/perl/clinvalid 200 -'],
              'detect': ['/perl/clinvalid 200 content-length-invalid:detected'],
              'repair': ['/perl/clinvalid 200 content-length-invalid:repaired']
          }),
    _case('perl status 1000', '/perl/status',
          off=b'HTTP/1.1 1000 \r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          repair=b'HTTP/1.1 500 Internal Server Error\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          detect_log=['status-code-invalid: status 1000, not repaired (detect mode)'],
          repair_log=['status-code-invalid: status 1000, status set to 500'],
          access={
              'off': ['/perl/status 1000 -'],
              'detect': ['/perl/status 1000 status-code-invalid:detected'],
              'repair': ['/perl/status 500 status-code-invalid:repaired']
          }),
    _case('perl 204 with Content-Length', '/perl/nocontent',
          off=b'HTTP/1.1 204 No Content\r\nServer: nginx\r\nDate: DATE\r\nConnection: close\r\nContent-Length: 5\r\n\r\n',
          repair=b'HTTP/1.1 204 No Content\r\nServer: nginx\r\nDate: DATE\r\nConnection: close\r\n\r\n',
          detect_log=['framing-on-bodiless-status: field "Content-Length" value "5" on status 204, not repaired (detect mode)'],
          repair_log=['framing-on-bodiless-status: field "Content-Length" value "5" on status 204, Transfer-Encoding/Content-Length removed'],
          access={
              'off': ['/perl/nocontent 204 -'],
              'detect': ['/perl/nocontent 204 framing-on-bodiless-status:detected'],
              'repair': ['/perl/nocontent 204 framing-on-bodiless-status:repaired']
          }),
    _case('perl Transfer-Encoding twice', '/perl/tetwice',
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
          detect_log=['te-chunked-twice: field "Transfer-Encoding" value "chunked", not repaired (detect mode)'],
          repair_log=['te-chunked-twice: field "Transfer-Encoding" value "chunked", collapsed to one chunked'],
          access={
              'off': ['/perl/tetwice 200 -'],
              'detect': ['/perl/tetwice 200 te-chunked-twice:detected'],
              'repair': ['/perl/tetwice 200 te-chunked-twice:repaired']
          }),
    _case('gzip + add_header Content-Length', '/gzcl/t.txt',
          req=request("/gzcl/t.txt", headers=["Accept-Encoding: gzip"]),
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nETag: W/"6553f100-200"\r\nContent-Length: 7\r\nContent-Encoding: gzip\r\n\r\n22\r\n\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\x03\xcbIJ/M,JQ\xc8\x19\xa5Gd8\x00\x00\xfb\xcf;\xa6\x00\x02\x00\x00\r\n0\r\n\r\n',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\nTransfer-Encoding: chunked\r\nConnection: close\r\nETag: W/"6553f100-200"\r\nContent-Encoding: gzip\r\n\r\n22\r\n\x1f\x8b\x08\x00\x00\x00\x00\x00\x04\x03\xcbIJ/M,JQ\xc8\x19\xa5Gd8\x00\x00\xfb\xcf;\xa6\x00\x02\x00\x00\r\n0\r\n\r\n',
          detect_log=['te-with-content-length: field "Content-Length" value "7", not repaired (detect mode)'],
          repair_log=['te-with-content-length: field "Content-Length" value "7", Content-Length removed, connection closed'],
          access={
              'off': ['/gzcl/t.txt 200 -'],
              'detect': ['/gzcl/t.txt 200 te-with-content-length:detected'],
              'repair': ['/gzcl/t.txt 200 te-with-content-length:repaired']
          }),
    _case('body longer than Content-Length', '/perl/long',
          req=request("/perl/long", close=False) + request("/sub.txt"),
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nhello world\nHTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\nConnection: close\r\nETag: "6553f100-3"\r\nAccept-Ranges: bytes\r\n\r\nSUB',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nhel',
          detect_log=['body-longer-than-content-length: Content-Length 3, body 12 bytes, not repaired (detect mode)'],
          repair_log=['body-longer-than-content-length: Content-Length 3, body 12 bytes, body cut to its declared length, connection closed'],
          access={
              'off': ['/perl/long 200 -', '/sub.txt 200 -'],
              'detect': ['/perl/long 200 body-longer-than-content-length:detected', '/sub.txt 200 -'],
              'repair': ['/perl/long 200 body-longer-than-content-length:repaired']
          }),
    _case('body longer, the excess in a buffer of its own', '/perl/long2',
          req=request("/perl/long2", close=False) + request("/sub.txt"),
          off=_LONG2 + b'abcdef' + _SUB, repair=_LONG2 + b'abc',
          detect_log=['body-longer-than-content-length: Content-Length 3, '
                      'body 6 bytes, not repaired (detect mode)'],
          repair_log=['body-longer-than-content-length: Content-Length 3, '
                      'body 6 bytes, body cut to its declared length, '
                      'connection closed'],
          access={'off': ['/perl/long2 200 -', '/sub.txt 200 -'],
                  'detect': ['/perl/long2 200 '
                             'body-longer-than-content-length:detected',
                             '/sub.txt 200 -'],
                  'repair': ['/perl/long2 200 '
                             'body-longer-than-content-length:repaired']}),
    _case('body shorter than Content-Length', '/perl/short',
          req=request("/perl/short", close=False) + request("/sub.txt"),
          off=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nContent-Length: 30\r\n\r\nhello world\nHTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\nConnection: close\r\nETag: "6553f100-3"\r\nAccept-Ranges: bytes\r\n\r\nSUB',
          repair=b'HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: DATE\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\nContent-Length: 30\r\n\r\nhello world\n',
          detect_log=['body-shorter-than-content-length: Content-Length 30, body 12 bytes before the end, not repaired (detect mode)'],
          repair_log=['body-shorter-than-content-length: Content-Length 30, body 12 bytes before the end, none (connection closed)'],
          access={
              'off': ['/perl/short 200 -', '/sub.txt 200 -'],
              'detect': ['/perl/short 200 body-shorter-than-content-length:detected', '/sub.txt 200 -'],
              'repair': ['/perl/short 200 body-shorter-than-content-length:reported']
          }),
]

CONFORMANT = [
    ("GET", request("/index.html")),
    ("HEAD", request("/index.html", "HEAD")),
    ("304 If-None-Match", request("/index.html", headers=[
        'If-None-Match: "6553f100-78"'])),
    ("304 If-Modified-Since", request("/index.html", headers=[
        "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT"])),
    ("gzip", request("/gz/t.txt", headers=["Accept-Encoding: gzip"])),
    ("range", request("/index.html", headers=["Range: bytes=0-4"])),
    ("keep-alive pipelined", request("/index.html", close=False)
     + request("/index.html")),
    ("SSI subrequest", request("/ssi.shtml")),
    # a subrequest's own header is never sent: nothing to check
    ("SSI subrequest with a bad header", request("/ssi-bad.shtml")),
    ("perl", request("/perl/fine")),
    ("perl 70 fields", request("/perl/many")),
    ("profile haproxy: CTL in a value", request("/hp/ctl")),
    ("proxy", request("/p/ok")),
    ("proxy 101 upgrade", request("/ws/chat", headers=[
        "Upgrade: websocket", "Connection: Upgrade"], close=False)),
    ("404", request("/nope")),
]

