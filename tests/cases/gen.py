#!/usr/bin/env python3
"""Generates the raw-response corpus tests/cases/NNN-slug.{http,expect}.

Every case is spelled out below with explicit CR, LF, NUL and control bytes
so that it can be reviewed; `python3 tests/cases/gen.py` rewrites the .http
and .expect files (the output is committed too). The .repaired files are not
written here: they come from lbg_repair_raw and are reviewed by hand (see
README.md, `--repaired BUILD/lbguard-dump`).

Format of a .expect file (see README.md): one rule name per line, in the
order lbg_parse reports them under the strictest profile, or the single line
"none"; an optional first line "head" means "the request was HEAD".
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CRLF = b"\r\n"


def resp(status_line, fields, body=b"", eol=CRLF):
    """status_line bytes, fields: list of raw field-line bytes (without the
    line end), body bytes; every line ends with `eol`."""
    out = status_line + eol
    for f in fields:
        out += f + eol
    return out + eol + body


def chunked(*chunks, trailer=()):
    out = b""
    for c in chunks:
        out += b"%x" % len(c) + CRLF + c + CRLF
    out += b"0" + CRLF
    for t in trailer:
        out += t + CRLF
    return out + CRLF


OK = b"HTTP/1.1 200 OK"
CT = b"Content-Type: text/plain"

# (slug, raw bytes, [expected rule names], head)
CASES = [
    # ---- conformant --------------------------------------------------------
    ("ok-content-length",
     resp(OK, [CT, b"Content-Length: 5"], b"hello"), [], 0),
    ("ok-chunked-extension-trailer",
     resp(OK, [CT, b"Transfer-Encoding: chunked", b"Trailer: X-Sum"],
          b"5;name=value" + CRLF + b"hello" + CRLF +
          b"6;flag" + CRLF + b" world" + CRLF +
          b"0" + CRLF + b"X-Sum: 42" + CRLF + CRLF), [], 0),
    ("ok-204-no-content",
     resp(b"HTTP/1.1 204 No Content", [b"Date: Sun, 06 Nov 1994 08:49:37 GMT"]),
     [], 0),
    ("ok-304-with-content-length",
     resp(b"HTTP/1.1 304 Not Modified", [b'ETag: "abc"', b"Content-Length: 1234"]),
     [], 0),
    ("ok-head-content-length",
     resp(OK, [CT, b"Content-Length: 1234"]), [], 1),
    ("ok-obs-text-value",
     resp(OK, [b"X-Name: caf\xc3\xa9 \x80\xff", b"Content-Length: 0"]), [], 0),
    ("ok-no-reason-phrase",
     resp(b"HTTP/1.1 200 ", [b"Content-Length: 2"], b"ok"), [], 0),
    ("ok-http10-close-delimited",
     resp(b"HTTP/1.0 200 OK", [CT], b"body until the connection closes"), [], 0),
    ("ok-http11-connection-close",
     resp(OK, [CT, b"Connection: close"], b"close-delimited body"), [], 0),
    ("ok-101-switching-protocols",
     resp(b"HTTP/1.1 101 Switching Protocols",
          # the RFC 6455 accept value for the key test_differential sends
          [b"Upgrade: websocket", b"Connection: Upgrade",
           b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]), [], 0),
    ("ok-htab-and-ows",
     resp(OK, [b"X-Tab: a\tb", b"X-Ows: \t spaced value \t ", b"X-Empty:",
               b"Content-Length: 0"]), [], 0),
    ("ok-content-length-zero",
     resp(OK, [b"Content-Length: 0"]), [], 0),
    ("ok-content-length-leading-zeros",
     resp(OK, [b"Content-Length: 005"], b"hello"), [], 0),
    ("ok-chunked-hex-sizes",
     resp(OK, [b"Transfer-Encoding: chunked"],
          b"A" + CRLF + b"0123456789" + CRLF + b"1f" + CRLF + b"x" * 31 + CRLF +
          b"0" + CRLF + CRLF), [], 0),
    ("ok-reason-phrase-htab-obs-text",
     resp(b"HTTP/1.1 200 Fine\tand d\xc3\xa4ndy", [b"Content-Length: 0"]), [], 0),
    ("ok-304-bare",
     resp(b"HTTP/1.1 304 Not Modified", [b"Cache-Control: max-age=60"]), [], 0),
    ("ok-404-html",
     resp(b"HTTP/1.1 404 Not Found",
          [b"Content-Type: text/html; charset=utf-8", b"Content-Length: 9",
           b"Cache-Control: no-store"], b"not found"), [], 0),

    # ---- status line -------------------------------------------------------
    ("version-http2",
     resp(b"HTTP/2 200 OK", [b"Content-Length: 2"], b"ok"), ["version-invalid"], 0),
    ("version-http1-10",
     resp(b"HTTP/1.10 200 OK", [b"Content-Length: 2"], b"ok"), ["version-digits"], 0),
    ("version-lowercase",
     resp(b"http/1.1 200 OK", [b"Content-Length: 2"], b"ok"), ["version-invalid"], 0),
    ("status-2000",
     resp(b"HTTP/1.1 2000 OK", [b"Content-Length: 2"], b"ok"), ["status-code-invalid"], 0),
    ("status-20",
     resp(b"HTTP/1.1 20 OK", [b"Content-Length: 2"], b"ok"), ["status-code-invalid"], 0),
    ("status-abc",
     resp(b"HTTP/1.1 abc OK", [b"Content-Length: 2"], b"ok"), ["status-code-invalid"], 0),
    ("status-099",
     resp(b"HTTP/1.1 099 OK", [b"Content-Length: 2"], b"ok"), ["status-code-out-of-range"], 0),
    ("status-600",
     resp(b"HTTP/1.1 600 OK", [b"Content-Length: 2"], b"ok"), ["status-code-out-of-range"], 0),
    ("reason-phrase-ctl",
     resp(b"HTTP/1.1 200 O\x01K", [b"Content-Length: 2"], b"ok"),
     ["reason-phrase-invalid"], 0),

    # ---- field names -------------------------------------------------------
    ("name-space",
     resp(OK, [b"Bad Name: x", b"Content-Length: 0"]), ["field-name-invalid"], 0),
    ("name-at-sign",
     resp(OK, [b"X@Y: 1", b"Content-Length: 0"]), ["field-name-not-token"], 0),
    ("name-brace",
     resp(OK, [b"{X}: 1", b"Content-Length: 0"]), ["field-name-not-token"], 0),
    ("name-empty",
     resp(OK, [b": value", b"Content-Length: 0"]), ["field-name-invalid"], 0),
    ("name-nul",
     resp(OK, [b"X-\x00A: 1", b"Content-Length: 0"]), ["field-name-invalid"], 0),

    # ---- field values ------------------------------------------------------
    ("value-cr",
     resp(OK, [b"X-A: a\rb", b"Content-Length: 0"]), ["field-value-cr-lf"], 0),
    ("value-lf-splits-line",
     OK + CRLF + b"X-A: a\nb" + CRLF + b"Content-Length: 0" + CRLF + CRLF,
     ["field-missing-colon", "bare-lf"], 0),
    ("value-nul",
     resp(OK, [b"X-A: a\x00b", b"Content-Length: 0"]), ["field-value-nul"], 0),
    ("value-ctl-01",
     resp(OK, [b"X-A: a\x01b", b"Content-Length: 0"]), ["field-value-ctl"], 0),
    ("value-del",
     resp(OK, [b"X-A: a\x7fb", b"Content-Length: 0"]), ["field-value-ctl"], 0),
    ("obs-fold-crlf-sp",
     resp(OK, [b"X-A: first", b" second", b"Content-Length: 0"]), ["obs-fold"], 0),
    ("obs-fold-lf-htab",
     OK + CRLF + b"X-A: first\n\tsecond" + CRLF + b"Content-Length: 0" + CRLF + CRLF,
     ["bare-lf", "obs-fold"], 0),

    # ---- Content-Length ----------------------------------------------------
    ("cl-letters",
     resp(OK, [b"Content-Length: abc"], b"hello"), ["content-length-invalid"], 0),
    ("cl-negative",
     resp(OK, [b"Content-Length: -5"], b"hello"), ["content-length-invalid"], 0),
    ("cl-plus-sign",
     resp(OK, [b"Content-Length: +5"], b"hello"), ["content-length-invalid"], 0),
    ("cl-inner-space",
     resp(OK, [b"Content-Length: 5 5"], b"hello"), ["content-length-invalid"], 0),
    ("cl-empty",
     resp(OK, [b"Content-Length:"], b"hello"), ["content-length-invalid"], 0),
    ("cl-list-same",
     resp(OK, [b"Content-Length: 5, 5"], b"hello"), ["content-length-duplicate"], 0),
    ("cl-list-differ",
     resp(OK, [b"Content-Length: 5, 6"], b"hello"), ["content-length-conflict"], 0),
    ("cl-overflow",
     resp(OK, [b"Content-Length: 99999999999999999999"], b"hello"),
     ["content-length-invalid"], 0),
    ("cl-duplicate-identical",
     resp(OK, [b"Content-Length: 5", CT, b"Content-Length: 5"], b"hello"),
     ["content-length-duplicate"], 0),
    ("cl-conflict",
     resp(OK, [b"Content-Length: 5", b"Content-Length: 6"], b"hello"),
     ["content-length-conflict"], 0),

    # ---- Transfer-Encoding -------------------------------------------------
    ("te-with-cl",
     resp(OK, [b"Transfer-Encoding: chunked", b"Content-Length: 5"], chunked(b"hello")),
     ["te-with-content-length"], 0),
    ("te-gzip",
     resp(OK, [b"Transfer-Encoding: gzip"], b"\x1f\x8b\x08\x00 until close"),
     ["te-not-chunked"], 0),
    ("te-chunked-then-gzip",
     resp(OK, [b"Transfer-Encoding: chunked, gzip"], b"until close"),
     ["te-chunked-not-final"], 0),
    ("te-chunked-two-fields",
     resp(OK, [b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"],
          chunked(b"hello")), ["te-chunked-twice"], 0),
    ("te-chunked-chunked",
     resp(OK, [b"Transfer-Encoding: chunked, chunked"], chunked(b"hello")),
     ["te-chunked-twice"], 0),
    ("te-on-204",
     resp(b"HTTP/1.1 204 No Content", [b"Transfer-Encoding: chunked"]),
     ["framing-on-bodiless-status"], 0),
    ("te-on-101",
     resp(b"HTTP/1.1 101 Switching Protocols",
          [b"Upgrade: websocket", b"Connection: Upgrade",
           b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", b"Transfer-Encoding: chunked"]),
     ["framing-on-bodiless-status"], 0),
    ("cl-on-204",
     resp(b"HTTP/1.1 204 No Content", [b"Content-Length: 5"]),
     ["framing-on-bodiless-status"], 0),

    # ---- body --------------------------------------------------------------
    ("body-on-204",
     resp(b"HTTP/1.1 204 No Content", [b"X-A: 1"], b"hello"), ["body-on-bodiless"], 0),
    ("body-on-304",
     resp(b"HTTP/1.1 304 Not Modified", [b"Content-Length: 5"], b"hello"),
     ["body-on-bodiless"], 0),
    ("body-on-head",
     resp(OK, [b"Content-Length: 5"], b"hello"), ["body-on-bodiless"], 1),
    ("body-longer",
     resp(OK, [b"Content-Length: 5"], b"hello world"),
     ["body-longer-than-content-length"], 0),
    ("body-shorter",
     resp(OK, [b"Content-Length: 10"], b"hello"),
     ["body-shorter-than-content-length"], 0),
    ("chunk-size-bad",
     resp(OK, [b"Transfer-Encoding: chunked"], b"zz" + CRLF + b"hello" + CRLF +
          b"0" + CRLF + CRLF), ["chunked-invalid"], 0),
    ("chunk-missing-crlf",
     resp(OK, [b"Transfer-Encoding: chunked"], b"5" + CRLF + b"helloX0" + CRLF + CRLF),
     ["chunked-invalid"], 0),
    ("chunk-no-last-chunk",
     resp(OK, [b"Transfer-Encoding: chunked"], b"5" + CRLF + b"hello" + CRLF),
     ["chunked-invalid"], 0),

    # ---- sizes and counts --------------------------------------------------
    ("too-many-fields",
     resp(OK, [b"X-F-%03d: v" % i for i in range(150)] + [b"Content-Length: 0"]),
     ["too-many-fields"], 0),
    ("field-20k",
     resp(OK, [b"X-Big: " + b"a" * 20480, b"Content-Length: 0"]),
     ["field-too-large", "header-section-too-large"], 0),
    ("header-section-5k",
     resp(OK, [b"X-F-%02d: " % i + b"v" * 110 for i in range(40)] +
          [b"Content-Length: 0"]), ["header-section-too-large"], 0),

    # ---- line syntax -------------------------------------------------------
    ("bare-lf",
     resp(OK, [CT, b"Content-Length: 5"], b"hello", eol=b"\n"), ["bare-lf"], 0),
    ("missing-colon",
     resp(OK, [b"NoColonHere", b"Content-Length: 0"]), ["field-missing-colon"], 0),
    ("header-incomplete",
     OK + CRLF + b"Content-Length: 5" + CRLF, ["header-section-incomplete"], 0),
    ("status-line-only",
     OK, ["header-section-incomplete"], 0),
    ("no-status-line",
     b"garbage" + CRLF + CRLF, ["version-invalid"], 0),

    # ---- several defects at once -------------------------------------------
    ("mixed-defects",
     resp(b"HTTP/1.1 200 O\x01K",
          [b"Bad Name: x", b"X-V: a\x00b", b"Content-Length: 5", b"Content-Length: 5",
           b"Transfer-Encoding: chunked"], chunked(b"hello")),
     ["reason-phrase-invalid", "field-name-invalid", "field-value-nul",
      "content-length-duplicate", "te-with-content-length"], 0),

    # ---- appended later: numbers above are never reused ----------------------
    # RFC 9112 4 wants the SP before an absent reason phrase; every load
    # balancer accepts the line without it, and so does lbguard
    ("status-line-no-space",
     resp(b"HTTP/1.1 200", [b"Content-Length: 2"], b"ok"), [], 0),
    ("ok-te-chunked-mixed-case",
     resp(OK, [b"Transfer-Encoding: Chunked"], chunked(b"hello")), [], 0),
    # RFC 9110 8.6 forbids any Content-Length on 204; Envoy (the only one to
    # reject framing on 204) drops a "0" silently, and so does lbguard
    ("cl-zero-on-204",
     resp(b"HTTP/1.1 204 No Content", [b"Content-Length: 0"]), [], 0),
    ("name-trailing-space",
     resp(OK, [b"X-A : 1", b"Content-Length: 0"]), ["field-name-invalid"], 0),
    # RFC 9112 2.2: a whitespace-preceded line before the first field
    ("fold-before-first-field",
     resp(OK, [b" X-A: 1", b"Content-Length: 0"]), ["field-name-invalid"], 0),
    ("status-two-spaces",
     resp(b"HTTP/1.1  200 OK", [b"Content-Length: 0"]), ["status-line-whitespace"], 0),
    ("version-http1-2",
     resp(b"HTTP/1.2 200 OK", [b"Content-Length: 0"]), ["version-unsupported"], 0),
    ("reason-phrase-nul",
     resp(b"HTTP/1.1 200 O\x00K", [b"Content-Length: 0"]), ["reason-phrase-invalid"], 0),
    ("value-trailing-cr",
     resp(OK, [b"X-A: a\r", b"Content-Length: 0"]), ["field-value-trailing-cr"], 0),
    ("chunk-size-overflow",
     resp(OK, [b"Transfer-Encoding: chunked"],
          b"ffffffffffffffffff" + CRLF + b"x" + CRLF + b"0" + CRLF + CRLF),
     ["chunked-invalid"], 0),
    ("bytes-after-last-chunk",
     resp(OK, [b"Transfer-Encoding: chunked"], chunked(b"hello") + b"EXTRA"),
     ["body-longer-than-content-length"], 0),
    ("te-empty-element",
     resp(OK, [b"Transfer-Encoding: ,chunked"], chunked(b"hello")),
     ["te-not-chunked"], 0),
    # RFC 9112 6.1: a 304 may say which coding a GET would have had
    ("ok-304-transfer-encoding",
     resp(b"HTTP/1.1 304 Not Modified", [b"Transfer-Encoding: chunked"]), [], 0),
    ("ok-chunk-extension-quoted",
     resp(OK, [b"Transfer-Encoding: chunked"],
          b'5;a="b;c"' + CRLF + b"hello" + CRLF + b"0" + CRLF + CRLF), [], 0),

    # ---- issue 9 (bypass) ------------------------------------------------------
    ("status-000",
     resp(b"HTTP/1.1 000 X", [b"Content-Length: 0"]), ["status-code-out-of-range"], 0),
    # RFC 9110 15.2.2: a 101 must name the protocol switched to; and the
    # request test_differential sends asked for no upgrade
    ("101-without-upgrade",
     resp(b"HTTP/1.1 101 Switching Protocols", [b"Connection: Upgrade"]),
     ["switching-protocols-without-upgrade"], 0),
    ("chunk-size-space",
     resp(OK, [b"Transfer-Encoding: chunked"],
          b"5 " + CRLF + b"hello" + CRLF + b"0" + CRLF + CRLF),
     ["chunk-size-whitespace"], 0),
    ("100-continue-with-body",
     resp(b"HTTP/1.1 100 Continue", [b"Content-Length: 5"], b"hello") +
     resp(OK, [b"Content-Length: 2"], b"ok"),
     ["framing-on-bodiless-status", "body-on-bodiless"], 0),
    ("name-paren",
     resp(OK, [b"X-(a): 1", b"Content-Length: 0"]), ["field-name-not-token"], 0),
    ("name-slash",
     resp(OK, [b"X/A: 1", b"Content-Length: 0"]), ["field-name-not-token"], 0),
    ("name-bracket",
     resp(OK, [b"X[A]: 1", b"Content-Length: 0"]), ["field-name-not-token"], 0),
    ("name-non-ascii",
     resp(OK, [b"X-\xc3\xa9: 1", b"Content-Length: 0"]), ["field-name-not-token"], 0),
    # RFC 9112 5.1: white space before the colon; the repair removes it and
    # keeps the field, so the body stays chunked (removing the field made it
    # close-delimited without Connection: close)
    ("te-space-before-colon",
     resp(OK, [b"Transfer-Encoding : chunked"], chunked(b"hello")),
     ["field-name-invalid"], 0),
    # ... and once it is removed, the framing is the TE + CL case
    ("te-space-before-colon-with-cl",
     resp(OK, [b"Transfer-Encoding\t : chunked", b"Content-Length: 5"], chunked(b"hello")),
     ["field-name-invalid", "te-with-content-length"], 0),
]


def main():
    names = set()
    for i, (slug, raw, expect, head) in enumerate(CASES, 1):
        base = "%03d-%s" % (i, slug)
        assert slug not in names, slug
        names.add(slug)
        with open(os.path.join(HERE, base + ".http"), "wb") as f:
            f.write(raw)
        lines = (["head"] if head else []) + (expect or ["none"])
        with open(os.path.join(HERE, base + ".expect"), "w") as f:
            f.write("\n".join(lines) + "\n")
    # drop files of cases that no longer exist
    keep = {"%03d-%s" % (i, c[0]) for i, c in enumerate(CASES, 1)}
    for fn in os.listdir(HERE):
        stem, ext = os.path.splitext(fn)
        if ext in (".http", ".expect", ".repaired") and stem not in keep:
            os.unlink(os.path.join(HERE, fn))
    print("%d cases" % len(CASES), file=sys.stderr)


if __name__ == "__main__":
    main()
