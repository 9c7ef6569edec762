"""Header sets for `make bench`: the fields ordinary applications, frameworks
and CDNs put in their responses, as their public documentation describes
them.

Each set lists the fields the *application* adds (nginx: `add_header`;
Apache: `Header set` / `Header add`); the server adds its own (nginx:
Server, Date, Content-Type, Content-Length, Connection; Apache: Date,
Server, Last-Modified, ETag, Accept-Ranges, Content-Length, Content-Type).
Names, value shapes and lengths follow the sources given with each set;
the identifiers in them (hashes, request ids, tokens, host names) are made
up, with the documented length and alphabet. Every value is conformant
(RFC 9110 5.5): a clean response, which lbguard must pass at the cost of
any other clean response.

What the sets cover together (issue 14): names of 1 to 60 bytes and every
tchar (RFC 9110 5.6.2); long values (Content-Security-Policy up to 2 KB,
cookies, JWTs); HTAB, obs-text and quotes in values; 5 to 40 fields per
response and header sections of 200 B to 8 KB.

Values must not hold '$' (nginx would read a variable) nor '%' (Apache's
mod_headers format): neither occurs in the sources' examples used here.
"""

import base64
import hashlib


def _b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _hexid(seed, n):
    """n lower-case hex digits, deterministic (request ids, hashes)."""
    out = ""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(("%s-%d" % (seed, i)).encode()).hexdigest()
        i += 1
    return out[:n]


def _b64(seed, n):
    """n characters of standard base64 (x-amz-id-2, session cookies)."""
    raw = b""
    i = 0
    while len(raw) * 4 // 3 < n + 4:
        raw += hashlib.sha256(("%s-%d" % (seed, i)).encode()).digest()
        i += 1
    return base64.b64encode(raw).decode()[:n]


def _jwt(seed, payload_len):
    """A JWT (RFC 7519 section 3.1: three base64url parts joined by '.'):
    an HS256 header, a JSON payload padded to about payload_len bytes, a
    32-byte signature."""
    header = _b64url(b'{"alg":"HS256","typ":"JWT"}')
    claims = ('{"sub":"1234567890","name":"John Doe","iat":1516239022,'
              '"scope":"%s"}' % ("read:all " * 200)[:max(0, payload_len - 80)])
    sig = _b64url(hashlib.sha256(seed.encode()).digest())
    return "%s.%s.%s" % (header, _b64url(claims.encode()), sig)


# Content-Security-Policy of about 400 bytes: the directives MDN documents
# (https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Content-Security-Policy)
CSP_400 = ("default-src 'self'; script-src 'self' 'nonce-" + _b64("n", 22) + "' "
           "https://www.googletagmanager.com https://www.google-analytics.com; "
           "style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; "
           "img-src 'self' data: https:; font-src 'self' https://fonts.gstatic.com; "
           "connect-src 'self' https://api.example.com wss://ws.example.com; "
           "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
           "upgrade-insecure-requests; report-uri /csp-report")

# A Content-Security-Policy of about 2 KB: the shape of large sites' policies
# (many hosts per directive), e.g. github.com's (about 1.5 KB in its
# responses); syntax per CSP Level 3 (https://www.w3.org/TR/CSP3/).
CSP_2K = ("default-src 'none'; base-uri 'self'; child-src github.com/assets-cdn/worker/ "
          "gist.github.com/assets-cdn/worker/; connect-src 'self' uploads.github.com "
          "www.githubstatus.com collector.github.com raw.githubusercontent.com "
          "api.github.com github-cloud.s3.amazonaws.com github-production-repository-"
          "file-5c1aeb.s3.amazonaws.com github-production-upload-manifest-file-7fdce7.s3."
          "amazonaws.com github-production-user-asset-6210df.s3.amazonaws.com "
          "api.githubcopilot.com objects-origin.githubusercontent.com "
          "*.actions.githubusercontent.com wss://*.actions.githubusercontent.com "
          "productionresultssa0.blob.core.windows.net/ productionresultssa1.blob.core."
          "windows.net/ productionresultssa2.blob.core.windows.net/ "
          "productionresultssa3.blob.core.windows.net/ wss://alive.github.com; "
          "font-src github.githubassets.com; form-action 'self' github.com gist.github.com "
          "objects-origin.githubusercontent.com; frame-ancestors 'none'; frame-src "
          "viewscreen.githubusercontent.com notebooks.githubusercontent.com; img-src 'self' "
          "data: github.githubassets.com media.githubusercontent.com "
          "camo.githubusercontent.com identicons.github.com avatars.githubusercontent.com "
          "github-cloud.s3.amazonaws.com objects.githubusercontent.com "
          "secured-user-images.githubusercontent.com/ user-images.githubusercontent.com/ "
          "private-user-images.githubusercontent.com opengraph.githubassets.com "
          "github-production-user-asset-6210df.s3.amazonaws.com customer-stories-feed."
          "github.com spotlights-feed.github.com objects-origin.githubusercontent.com "
          "*.githubusercontent.com; manifest-src 'self'; media-src github.com "
          "user-images.githubusercontent.com/ secured-user-images.githubusercontent.com/ "
          "private-user-images.githubusercontent.com github-production-user-asset-"
          "6210df.s3.amazonaws.com gist.github.com; script-src github.githubassets.com; "
          "style-src 'unsafe-inline' github.githubassets.com; upgrade-insecure-requests; "
          "worker-src github.com/assets-cdn/worker/ gist.github.com/assets-cdn/worker/; "
          "report-uri https://api.github.com/_private/browser/errors; require-trusted-"
          "types-for 'script'; trusted-types default dompurify github-policy "
          "'allow-duplicates'; sandbox allow-scripts allow-same-origin allow-forms "
          "allow-popups allow-popups-to-escape-sandbox allow-downloads")

# Permissions-Policy (https://www.w3.org/TR/permissions-policy-1/, MDN)
PERMISSIONS = ("accelerometer=(), autoplay=(self), camera=(), clipboard-write=(self), "
               "display-capture=(), encrypted-media=(self), fullscreen=(self), "
               "geolocation=(), gyroscope=(), interest-cohort=(), magnetometer=(), "
               "microphone=(), midi=(), payment=(self \"https://pay.example.com\"), "
               "picture-in-picture=*, publickey-credentials-get=(), screen-wake-lock=(), "
               "sync-xhr=(), usb=(), xr-spatial-tracking=()")

# Report-To and NEL (https://www.w3.org/TR/network-error-logging/ section 7,
# https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/NEL): JSON with
# quotes in the value
REPORT_TO = ('{"group":"default","max_age":31536000,"endpoints":[{"url":'
             '"https://example.report-uri.com/a/d/g"}],"include_subdomains":true}')
NEL = '{"report_to":"default","max_age":31536000,"include_subdomains":true}'

# Google's P3P value (https://support.google.com/accounts/answer/151657):
# a quoted value with '!'
P3P = 'CP="This is not a P3P policy! See g.co/p3phelp for more info."'

SETS = [
    {
        "name": "express",
        "what": "Express 4 JSON API, defaults",
        "sources": ["https://expressjs.com/en/advanced/best-practice-security.html "
                    "(X-Powered-By: Express by default)",
                    "https://expressjs.com/en/api.html#etag.options.table (weak ETag)"],
        "fields": [
            ("X-Powered-By", "Express"),
            ("ETag", 'W/"2a-' + _b64("e", 27) + '"'),
            ("Vary", "Origin"),
        ],
    },
    {
        "name": "short-names",
        "what": "3-byte names and a cookie (issue 14's 13 fields)",
        "sources": ["issue 14 (X-A, X-B and a cookie)",
                    "RFC 9111 5.1 (Age), RFC 9110 7.6.3 (Via)",
                    "https://www.w3.org/TR/network-error-logging/ (NEL)",
                    "https://support.google.com/accounts/answer/151657 (P3P)"],
        "fields": [
            ("X-A", "1"),
            ("X-B", "2"),
            ("Age", "17"),
            ("Via", "1.1 varnish"),
            ("Set-Cookie", "sid=" + _b64("s", 32) + "; Path=/; HttpOnly"),
            ("NEL", NEL),
            ("P3P", P3P),
            ("X", "y"),
        ],
    },
    {
        "name": "helmet",
        "what": "Express + Helmet 7, every default header",
        "sources": ["https://helmetjs.github.io/ (the default values of each header)"],
        "fields": [
            ("Content-Security-Policy",
             "default-src 'self';base-uri 'self';font-src 'self' https: data:;"
             "form-action 'self';frame-ancestors 'self';img-src 'self' data:;"
             "object-src 'none';script-src 'self';script-src-attr 'none';"
             "style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
            ("Origin-Agent-Cluster", "?1"),
            ("Referrer-Policy", "no-referrer"),
            ("Strict-Transport-Security", "max-age=15552000; includeSubDomains"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-DNS-Prefetch-Control", "off"),
            ("X-Download-Options", "noopen"),
            ("X-Frame-Options", "SAMEORIGIN"),
            ("X-Permitted-Cross-Domain-Policies", "none"),
            ("X-XSS-Protection", "0"),
            ("ETag", 'W/"1d-' + _b64("h", 27) + '"'),
        ],
    },
    {
        "name": "rails",
        "what": "Rails 7 page with a session cookie",
        "sources": ["https://guides.rubyonrails.org/security.html#default-headers",
                    "https://guides.rubyonrails.org/configuring.html "
                    "(config.action_dispatch.default_headers)",
                    "https://api.rubyonrails.org/classes/ActionDispatch/RequestId.html "
                    "(X-Request-Id), Rack::Runtime (X-Runtime)"],
        "fields": [
            ("X-Frame-Options", "SAMEORIGIN"),
            ("X-XSS-Protection", "0"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Permitted-Cross-Domain-Policies", "none"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
            ("Vary", "Accept"),
            ("ETag", 'W/"' + _hexid("r", 32) + '"'),
            ("Cache-Control", "max-age=0, private, must-revalidate"),
            ("Set-Cookie", "_app_session=" + _b64("rs", 240) + "--" + _hexid("rs", 40)
             + "; path=/; secure; httponly; samesite=lax"),
            ("X-Request-Id", "%s-%s-%s-%s-%s" % (_hexid("q", 8), _hexid("q1", 4),
                                                 _hexid("q2", 4), _hexid("q3", 4),
                                                 _hexid("q4", 12))),
            ("X-Runtime", "0.012345"),
        ],
    },
    {
        "name": "django",
        "what": "Django 4.2 with SecurityMiddleware and a CSRF cookie",
        "sources": ["https://docs.djangoproject.com/en/4.2/ref/middleware/"
                    "#module-django.middleware.security",
                    "https://docs.djangoproject.com/en/4.2/ref/csrf/ (csrftoken cookie)",
                    "https://docs.djangoproject.com/en/4.2/ref/clickjacking/ (DENY)"],
        "fields": [
            ("X-Frame-Options", "DENY"),
            ("Vary", "Cookie"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Set-Cookie", "csrftoken=" + _b64("dj", 32).replace("+", "x").replace("/", "y")
             + "; expires=Mon, 06 Dec 2027 10:00:00 GMT; Max-Age=31449600; Path=/; "
             "SameSite=Lax"),
        ],
    },
    {
        "name": "spring",
        "what": "Spring Security 6, default security headers and CORS Vary",
        "sources": ["https://docs.spring.io/spring-security/reference/features/"
                    "exploits/headers.html (Default Security Headers)",
                    "Spring Framework CorsUtils / DefaultCorsProcessor (Vary)"],
        "fields": [
            ("Vary", "Origin"),
            ("Vary", "Access-Control-Request-Method"),
            ("Vary", "Access-Control-Request-Headers"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-XSS-Protection", "0"),
            ("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate"),
            ("Pragma", "no-cache"),
            ("Expires", "0"),
            ("Strict-Transport-Security", "max-age=31536000 ; includeSubDomains"),
            ("X-Frame-Options", "DENY"),
        ],
    },
    {
        "name": "s3-cloudfront",
        "what": "S3 object through CloudFront",
        "sources": ["https://docs.aws.amazon.com/AmazonS3/latest/API/"
                    "RESTCommonResponseHeaders.html (x-amz-id-2, x-amz-request-id)",
                    "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html",
                    "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/"
                    "RequestAndResponseBehaviorCustomOrigin.html (X-Cache, Via, "
                    "X-Amz-Cf-Pop, X-Amz-Cf-Id)"],
        "fields": [
            ("x-amz-id-2", _b64("id2", 76)),
            ("x-amz-request-id", _hexid("rq", 16).upper()),
            ("x-amz-server-side-encryption", "AES256"),
            ("x-amz-version-id", _b64("v", 32).replace("+", "x").replace("/", "y")),
            ("Cache-Control", "public, max-age=31536000, immutable"),
            ("X-Cache", "Hit from cloudfront"),
            ("Via", "1.1 %s.cloudfront.net (CloudFront)" % _hexid("cf", 32)),
            ("X-Amz-Cf-Pop", "FRA56-P5"),
            ("X-Amz-Cf-Id", _b64("cfid", 54).replace("+", "-").replace("/", "_") + "=="),
            ("Age", "3127"),
        ],
    },
    {
        "name": "fastly",
        "what": "a page cached by Fastly (Varnish)",
        "sources": ["https://www.fastly.com/documentation/reference/http/http-headers/"
                    "X-Served-By/, .../X-Cache/, .../X-Cache-Hits/, .../X-Timer/",
                    "RFC 9110 7.6.3 (Via), RFC 9111 5.1 (Age)"],
        "fields": [
            ("Via", "1.1 varnish, 1.1 varnish"),
            ("Accept-Ranges", "bytes"),
            ("Age", "1843"),
            ("X-Served-By", "cache-iad-kiad7000025-IAD, cache-fra-etou8220141-FRA"),
            ("X-Cache", "HIT, HIT"),
            ("X-Cache-Hits", "1, 12"),
            ("X-Timer", "S1765101234.567890,VS0,VE1"),
            ("Vary", "Accept-Encoding, Cookie"),
            ("Cache-Control", "max-age=600"),
            ("Strict-Transport-Security", "max-age=31556952"),
            ("X-Fastly-Request-ID", _hexid("fr", 40)),
        ],
    },
    {
        "name": "cdn-app-24",
        "what": "issue 14's typical CDN/application response (24 fields)",
        "sources": ["issue 14 (the field list)",
                    "https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/"
                    "Content-Security-Policy, .../Set-Cookie, .../Link, "
                    ".../Permissions-Policy, .../Server-Timing",
                    "https://support.google.com/accounts/answer/151657 (P3P)",
                    "RFC 9110 5.6.3 (OWS: SP / HTAB)"],
        "fields": [
            ("Content-Security-Policy", CSP_400),
            ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Frame-Options", "SAMEORIGIN"),
            ("Referrer-Policy", "strict-origin-when-cross-origin"),
            ("Permissions-Policy", PERMISSIONS[:180]),
            ("Cache-Control", "private, no-cache, no-store, must-revalidate"),
            ("Set-Cookie", "session=" + _b64("cs", 64) + "; Path=/; Secure; HttpOnly; "
             "SameSite=Lax"),
            ("Set-Cookie", "__cf_bm=" + _b64("bm", 140).replace("+", ".").replace("/", "_")
             + "; path=/; expires=Mon, 07-Dec-26 10:30:00 GMT; domain=.example.com; "
             "HttpOnly; Secure; SameSite=None"),
            ("Link", "</static/app.8f3a1c.css>; rel=preload; as=style, "
             "</static/app.91be0d.js>; rel=preload; as=script"),
            ("Server-Timing", 'cdn-cache;desc=HIT, edge;dur=1, origin;dur=42, '
             'db;dur=12.5;desc="Primary DB"'),
            ("X_Frontend_Version", "2024.11.3"),
            ("X-Debug-Tab", "a\tb\tc"),
            ("P3P", P3P),
            ("CF-RAY", _hexid("ray", 16) + "-FRA"),
            ("CF-Cache-Status", "DYNAMIC"),
            ("Vary", "Accept-Encoding"),
            ("Alt-Svc", 'h3=":443"; ma=86400'),
            ("X-Request-Id", _hexid("xr", 32)),
        ],
    },
    {
        "name": "wordpress",
        "what": "WordPress page behind PHP-FPM",
        "sources": ["https://developer.wordpress.org/rest-api/using-the-rest-api/"
                    "discovery/ (Link rel=\"https://api.w.org/\")",
                    "https://developer.wordpress.org/reference/functions/"
                    "wp_get_nocache_headers/ (Expires 1984, Cache-Control)",
                    "https://www.php.net/manual/en/ini.core.php#ini.expose-php "
                    "(X-Powered-By: PHP/x.y.z)"],
        "fields": [
            ("X-Powered-By", "PHP/8.2.7"),
            ("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"),
            ("Cache-Control", "no-cache, must-revalidate, max-age=0, no-store, private"),
            ("Link", '<https://www.example.com/wp-json/>; rel="https://api.w.org/"'),
            ("Link", '<https://www.example.com/wp-json/wp/v2/pages/42>; rel="alternate"; '
             'type="application/json"'),
            ("Link", "<https://www.example.com/?p=42>; rel=shortlink"),
            ("X-Pingback", "https://www.example.com/xmlrpc.php"),
            ("Set-Cookie", "wordpress_test_cookie=WP+Cookie+check; path=/; secure"),
            ("Vary", "Accept-Encoding"),
        ],
    },
    {
        "name": "jwt-cookies",
        "what": "an SPA login answer: two JWT cookies and a bearer token",
        "sources": ["RFC 7519 3.1 (JWT: base64url parts joined by '.')",
                    "RFC 6265bis (Set-Cookie attributes)",
                    "https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/"
                    "Access-Control-Expose-Headers"],
        "fields": [
            ("Set-Cookie", "access_token=" + _jwt("a", 700) + "; Path=/; Max-Age=900; "
             "Secure; HttpOnly; SameSite=Strict"),
            ("Set-Cookie", "refresh_token=" + _jwt("r", 420) + "; Path=/auth/refresh; "
             "Max-Age=1209600; Secure; HttpOnly; SameSite=Strict"),
            ("X-Auth-Token", _jwt("x", 300)),
            ("Access-Control-Allow-Origin", "https://app.example.com"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Expose-Headers", "X-Auth-Token, X-Request-Id, X-RateLimit-Remaining"),
            ("X-RateLimit-Limit", "5000"),
            ("X-RateLimit-Remaining", "4987"),
            ("X-RateLimit-Reset", "1765105200"),
            ("Cache-Control", "no-store"),
            ("X-Request-Id", _hexid("jr", 32)),
        ],
    },
    {
        "name": "big-8k",
        "what": "a large site's page: 2 KB CSP, Report-To/NEL, preload Links, 35 fields",
        "sources": ["https://www.w3.org/TR/CSP3/ (policy syntax; the size of "
                    "github.com's policy)",
                    "https://www.w3.org/TR/network-error-logging/ (NEL, Report-To JSON)",
                    "https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Link "
                    "(preload)",
                    "https://www.w3.org/TR/server-timing/",
                    "RFC 6266 (Content-Disposition; obs-text in a quoted filename, "
                    "RFC 9110 5.5)"],
        "fields": [
            ("Content-Security-Policy", CSP_2K),
            ("Content-Security-Policy-Report-Only", CSP_2K.replace("default-src 'none'",
                                                                   "default-src 'self'")),
            ("Permissions-Policy", PERMISSIONS),
            ("Report-To", REPORT_TO),
            ("NEL", NEL),
            ("Strict-Transport-Security", "max-age=31536000; includeSubdomains; preload"),
            ("X-Frame-Options", "deny"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-XSS-Protection", "0"),
            ("Referrer-Policy", "origin-when-cross-origin, strict-origin-when-cross-origin"),
            ("Cross-Origin-Opener-Policy", "same-origin-allow-popups"),
            ("Cross-Origin-Embedder-Policy", "require-corp"),
            ("Cache-Control", "max-age=0, private, must-revalidate"),
            ("Vary", "X-PJAX, X-PJAX-Container, Turbo-Visit, Turbo-Frame, "
             "Accept-Encoding, Accept, X-Requested-With"),
            ("ETag", 'W/"' + _hexid("big", 32) + '"'),
            ("Set-Cookie", "_gh_sess=" + _b64("gs", 600) + "; path=/; secure; HttpOnly; "
             "SameSite=Lax"),
            ("Set-Cookie", "_octo=GH1.1." + _hexid("o", 10) + ".1765101234; Path=/; "
             "Domain=example.com; Expires=Tue, 07 Dec 2027 10:00:00 GMT; Secure; "
             "SameSite=Lax"),
            ("Set-Cookie", "logged_in=no; Path=/; Domain=example.com; Expires=Tue, 07 Dec "
             "2027 10:00:00 GMT; HttpOnly; Secure; SameSite=Lax"),
            ("Link", ", ".join("</assets/%s-%s.js>; rel=preload; as=script; crossorigin"
                               % (n, _hexid(n, 12)) for n in
                               ("runtime", "vendors", "app", "behaviors", "notifications",
                                "repository", "code-menu", "diffs", "sessions"))),
            ("Link", ", ".join("<https://%s.example-cdn.com>; rel=preconnect" % h
                               for h in ("assets", "avatars", "media", "api"))),
            ("Server-Timing", ", ".join("%s;dur=%d.%d" % (n, i * 7, i)
                                        for i, n in enumerate(
                                            ("total", "db", "view", "cache", "auth",
                                             "render", "edge", "origin", "queue"), 1))),
            ("Content-Disposition", 'inline; filename="r\xc3\xa9sum\xc3\xa9 2024.html"'),
            ("X-Debug-Tab", "region=eu-west-1\tzone=b\tpod=web-7f9c"),
            ("Timing-Allow-Origin", "*"),
            ("X-GitHub-Request-Id", "%s:%s:%s:%s:%s" % (_hexid("g1", 4).upper(),
                                                        _hexid("g2", 6).upper(),
                                                        _hexid("g3", 7).upper(),
                                                        _hexid("g4", 7).upper(),
                                                        _hexid("g5", 8).upper())),
            ("X-Request-Id", _hexid("bx", 32)),
            ("X-Runtime", "0.045812"),
            ("X-Served-By", "cache-fra-etou8220141-FRA"),
            ("X-Cache", "MISS"),
            ("Accept-Ranges", "bytes"),
            ("Via", "1.1 varnish"),
            ("Alt-Svc", 'h3=":443"; ma=86400, h3-29=":443"; ma=86400'),
            ("Origin-Agent-Cluster", "?1"),
            ("Age", "0"),
        ],
    },
    {
        "name": "every-tchar",
        "what": "names of 1 to 60 bytes with every tchar, obs-text and HTAB values",
        "sources": ["RFC 9110 5.1 and 5.6.2 (field-name = token; tchar)",
                    "RFC 9110 5.5 (field-vchar includes obs-text; HTAB in a value)"],
        "fields": [
            ("A", "1"),
            ("X!", "bang"),
            ("X-#$%&'*+.^_`|~", "every rarer tchar"),
            ("x_underscore_name", "snake"),
            ("X.Dotted.Name", "dots"),
            ("X-Very-Long-Field-Name-For-Tracing-Purposes-Across-Services",
             "sixty-byte name"),
            ("x-lowercase-only", "lower"),
            ("X-UPPERCASE-ONLY", "UPPER"),
            ("X-Obs-Text", "caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac 100"),
            ("X-Latin1", "Gr\xfc\xdfe"),
            ("X-Tab", "key=a\tvalue=b"),
            ("X-Quoted", '"quoted string" with (comments), <angles> and \\backslash'),
            ("X~Tilde", "~"),
            ("X|Pipe", "|"),
        ],
    },
]


def wire_bytes(fields):
    """Bytes of these field lines on the wire: name ": " value CRLF."""
    return sum(len(n) + len(v.encode("latin-1")) + 4 for n, v in fields)
