/*
 * lbguard_logs.c -- `lbguard logs`: the cause of every 5xx in a load
 * balancer's access logs (AWS ALB, AWS Classic ELB, HAProxy `option
 * httplog`), optionally confirmed by the target's own access log
 * (--target-log, joined on the X-Amzn-Trace-Id Root or a request id).
 *
 * Flow: inputs (files, directories walked recursively in name order, "-")
 * are read through zlib's gzread, which inflates gzip (found by its magic
 * bytes, any number of members) and passes anything else through; lines are
 * split in a fixed 1 MiB buffer and parsed in place (lbguard_logs_parse.c);
 * each request updates fixed-size tables (targets, routes, minutes), each
 * failed request is classified (docs/logs.md, "Classes") and counted.
 * Memory does not grow with the number of lines: the tables have caps
 * (LBGUARD_LOGS_*_CAP) and what does not fit is counted under "other".
 * --jobs N gives each of N threads whole files and its own tables, merged
 * at the end.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "lbguard_cli.h"
#include "lbguard_logs.h"


/* clang-format off */
#define LBGUARD_LOGS_TARGET_CAP   4096    /* distinct targets tracked */
#define LBGUARD_LOGS_ROUTE_CAP    8192    /* distinct routes tracked */
#define LBGUARD_LOGS_MINUTE_CAP   44640   /* distinct minutes (31 days) */
#define LBGUARD_LOGS_GAP_CAP      4096    /* idle-gap samples kept */
#define LBGUARD_LOGS_PENDING_CAP  (1 << 18) /* 502s waiting for the route
                                               rule */
#define LBGUARD_LOGS_EX_MAX       10      /* --examples upper bound */
#define LBGUARD_LOGS_EX_LEN       2048    /* bytes kept of an example */
#define LBGUARD_LOGS_LINE_MAX     (1 << 20) /* longer lines are
                                               unparseable */
#define LBGUARD_LOGS_BUF          (LBGUARD_LOGS_LINE_MAX + 2) /* read
                                    buffer: the longest line and its CRLF */
#define LBGUARD_LOGS_ROUTE_LEN    160
/* what stands for a line longer than the read buffer: an unparseable line,
 * shown as such among the unparseable examples */
#define LBGUARD_LOGS_LONG         "(a line longer than 1 MiB)"
#define LBGUARD_LOGS_FINDINGS_CAP 4096    /* distinct $lbguard_findings */
#define LBGUARD_LOGS_BAD_SHOWN    3
#define LBGUARD_LOGS_WHY          512     /* "<path>: <reason>" of an
                                             unreadable input */
/* clang-format on */


/* ---------------------------------------------------------------- classes */

typedef enum {
    LC_KEEPALIVE_RACE = 0,
    LC_MALFORMED,
    LC_TARGET_CLOSED,
    LC_CONNECT_FAILED,
    LC_TIMEOUT,
    LC_CONNECT_TIMEOUT,
    LC_TARGET_5XX,
    LC_CLIENT_CLOSED,
    LC_LAMBDA,
    LC_AUTH,
    LC_WAF,
    LC_NO_HEALTHY,
    LC_LB_INTERNAL,
    LC_BACKEND_CLOSED_OR_TIMEOUT,
    LC_UNCLASSIFIED,
    LC_N,
    LC_PENDING = LC_N /* ALB 502 decided by the route rule at the end */
} lbguard_class_e;

/* basis of a class per log format: 'd' documented by the LB's vendor,
 * 'i' inferred by lbguard, '-' the format cannot produce it */
typedef struct {
    const char *id;
    int         target_fault; /* counts for the exit status */
    char        basis_alb, basis_clb, basis_haproxy;
    const char *fix;
} lbguard_class_t;

static const lbguard_class_t lbguard_classes[LC_N] = {
    {"keepalive-race", 1, 'd', '-', 'i',
     "the target closed an idle keep-alive connection the load balancer "
     "reused: set the target's keep-alive timeout above the LB idle timeout "
     "(nginx keepalive_timeout, Apache KeepAliveTimeout, Node "
     "server.keepAliveTimeout); lbguard: lbguard_lb_idle_timeout / "
     "LBGuardLBIdleTimeout raise it at load, `lbguard probe` measures it"},
    {"malformed-response", 1, 'i', 'd', 'd',
     "the target sent a response the load balancer could not parse (status "
     "line, field syntax, framing): fix the application or proxy that "
     "writes it; lbguard: `lbguard repair` mode in the nginx/Apache module "
     "repairs it, `lbguard check` shows the rule"},
    {"target-closed", 1, 'i', '-', 'd',
     "the target closed the connection while the request was in progress "
     "(worker timeout, crash, restart, deregistration): compare the target "
     "time with its worker/request timeouts and deregistration delay; "
     "lbguard: drain on reload, the body guard"},
    {"target-connect-failed", 1, 'd', '-', 'd',
     "the load balancer could not connect (RST, ICMP unreachable, TLS "
     "error): check that the target listens on the target group's port and "
     "protocol; lbguard: none (report only)"},
    {"target-timeout", 1, 'd', '-', 'd',
     "the target did not answer within the load balancer's timeout: make "
     "the endpoint faster or raise the LB idle timeout (ALB "
     "idle_timeout.timeout_seconds, HAProxy timeout server); lbguard: none "
     "(report only)"},
    {"target-connect-timeout", 1, 'd', '-', 'd',
     "the connection to the target timed out (security group or NACL drop, "
     "target down, listen backlog full): check both directions incl. "
     "ephemeral ports and the target's health; lbguard: none (report only)"},
    {"target-5xx", 1, 'd', 'd', 'd',
     "the target answered 5xx itself: read the application's log (a 502, "
     "503 or 504 from the target means it is a proxy: look one hop "
     "further); lbguard: none"},
    {"client-closed", 0, 'd', '-', 'd',
     "the client closed the connection before the response: raise the "
     "client's timeout above the target's response time; lbguard: none"},
    {"lambda", 0, 'd', '-', '-',
     "the Lambda target failed (error_reason Lambda*): see the code's "
     "description in the ALB access-log guide; lbguard: none"},
    {"auth", 0, 'd', '-', '-',
     "the authenticate action failed (error_reason Auth*, 561): check the "
     "IdP endpoints' reachability, claims size (11 KB) and latency (5 s); "
     "lbguard: none"},
    {"waf", 0, 'd', '-', '-',
     "AWS WAF failed (error_reason WAF*, actions waf-failed): AWS support; "
     "lbguard: none"},
    {"no-healthy-targets", 0, 'd', 'd', 'd',
     "no registered or healthy target (at a deploy: a window with no "
     "target in service): check health checks and the deployment's "
     "minimum healthy percent; lbguard: drain on reload"},
    {"lb-internal", 0, 'd', '-', 'd',
     "the load balancer failed by itself (ALB 500 with no error_reason or "
     "a failed rule transform; HAProxy resource/internal error): LB "
     "configuration or vendor support; lbguard: none"},
    {"backend-closed-or-timeout", 1, '-', 'd', '-',
     "Classic ELB 504 with all times -1: either the instance closed a "
     "keep-alive connection (keep-alive timeout shorter than the ELB idle "
     "timeout; Apache: also TCP_DEFER_ACCEPT) or the application was slower "
     "than the idle timeout; lbguard: lbguard_lb_idle_timeout aws-clb"},
    {"unclassified", 0, 'i', 'i', 'i',
     "a 5xx no rule explains: read the raw example lines"},
};


/* ---------------------------------------------------------------- errors */

/* the first error of the run (main thread only), for the {"error": ...}
 * document --json prints when no report can be */
static char lbguard_logs_errmsg[512];


/* records msg as the run's error unless one is already recorded */
static void
lbguard_logs_note(const char *msg)
{
    if (lbguard_logs_errmsg[0] == '\0') {
        snprintf(lbguard_logs_errmsg, sizeof(lbguard_logs_errmsg), "%s", msg);
    }
}


/* lbguard_err("logs", ...) that also records the message
 * (lbguard_logs_note()); main thread only */
static void lbguard_logs_err(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

static void
lbguard_logs_err(const char *fmt, ...)
{
    char    msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lbguard_err("logs", "%s", msg);
    lbguard_logs_note(msg);
}


/* ------------------------------------------------------------- options */

typedef struct {
    int         json;
    int         lines;
    int         top;
    int         examples;
    int         jobs;
    int64_t     since_us, until_us;   /* LBGUARD_T_NONE: unset */
    int64_t     since_tod, until_tod; /* time of day (HH:MM), or -1 */
    const char *target;
    unsigned    class_mask;  /* bit per class; all when 0 */
    int64_t     race_max_us; /* --race-max-tpt */
    unsigned    repro_min;
    unsigned    repro_pct;
} lbguard_logs_opts_t;


/* ------------------------------------------------------- interned names */

/* an open-addressing table of short names (targets, routes) with a fixed
 * arena; id 0 is "other" (the table or arena is full) */
typedef struct {
    uint32_t *slot;  /* hash table: id + 1, 0 empty */
    uint32_t  slots; /* power of two, >= 2 * cap */
    uint32_t  cap;
    uint32_t  n;   /* ids in use, including 0 */
    uint32_t *off; /* name of id i: arena + off[i], len[i] */
    uint16_t *len;
    uint32_t *hash;
    char     *arena;
    size_t    arena_cap, arena_used;
} lbguard_names_t;


static uint32_t
lbguard_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    size_t   i;

    for (i = 0; i < n; i++) {
        h = (h ^ (unsigned char) s[i]) * 16777619u;
    }
    return h;
}


static int
lbguard_names_init(lbguard_names_t *t, uint32_t cap, size_t arena)
{
    memset(t, 0, sizeof(*t));
    t->cap = cap;
    t->slots = 1;
    while (t->slots < 2 * cap) {
        t->slots <<= 1;
    }
    t->slot = calloc(t->slots, sizeof(uint32_t));
    t->off = calloc(cap, sizeof(uint32_t));
    t->len = calloc(cap, sizeof(uint16_t));
    t->hash = calloc(cap, sizeof(uint32_t));
    t->arena = malloc(arena);
    t->arena_cap = arena;
    if (!t->slot || !t->off || !t->len || !t->hash || !t->arena) {
        return -1;
    }
    memcpy(t->arena, "other", 5);
    t->len[0] = 5;
    t->arena_used = 5;
    t->n = 1;
    return 0;
}


static void
lbguard_names_free(lbguard_names_t *t)
{
    free(t->slot);
    free(t->off);
    free(t->len);
    free(t->hash);
    free(t->arena);
}


/* the id of s[0..n) (added when new), or 0 when the table is full */
static uint32_t
lbguard_names_id(lbguard_names_t *t, const char *s, size_t n)
{
    uint32_t h = lbguard_hash(s, n), i, id;

    if (n > 0xffff) {
        return 0;
    }
    for (i = h & (t->slots - 1); (id = t->slot[i]) != 0;
         i = (i + 1) & (t->slots - 1))
    {
        id--;
        if (t->hash[id] == h && t->len[id] == n
            && memcmp(t->arena + t->off[id], s, n) == 0)
        {
            return id;
        }
    }
    if (t->n >= t->cap || t->arena_used + n > t->arena_cap) {
        return 0;
    }
    id = t->n++;
    t->hash[id] = h;
    t->len[id] = (uint16_t) n;
    t->off[id] = (uint32_t) t->arena_used;
    memcpy(t->arena + t->arena_used, s, n);
    t->arena_used += n;
    t->slot[i] = id + 1;
    return id;
}


/* ----------------------------------------------------- the target's log */

/* trace id / request id -> the target's lbguard findings ("-": clean) */
typedef struct {
    lbguard_names_t keys;
    uint32_t       *finding_id; /* per key: id in `findings` */
    lbguard_names_t findings;
    unsigned long   lines, keyed;
} lbguard_join_t;


/* the join key of an ALB trace id / a target-log token: the value of
 * "Root=" up to ';', '"', ' ' or the end; or the whole of `s` when it has
 * no "Root=" (a request id) */
static lbguard_sv_t
lbguard_root_of(const char *s, size_t n)
{
    lbguard_sv_t r;
    size_t       i, j;

    r.p = s;
    r.len = n;
    for (i = 0; i + 5 <= n; i++) {
        if (memcmp(s + i, "Root=", 5) == 0) {
            for (j = i + 5;
                 j < n && s[j] != ';' && s[j] != '"' && s[j] != ' '; j++) {
                /* the value */
            }
            r.p = s + i + 5;
            r.len = j - i - 5;
            return r;
        }
    }
    return r;
}


/* finds `name` (e.g. "lbguard=") at a token start in s[0..n); returns the
 * value up to a space or quote */
static int
lbguard_token_value(const char *s, size_t n, const char *name,
                    lbguard_sv_t *v)
{
    size_t k = strlen(name), i, j;

    for (i = 0; i + k <= n; i++) {
        if ((i == 0 || s[i - 1] == ' ' || s[i - 1] == '"')
            && memcmp(s + i, name, k) == 0)
        {
            for (j = i + k; j < n && s[j] != ' ' && s[j] != '"'; j++) {
                /* the value */
            }
            v->p = s + i + k;
            v->len = j - i - k;
            return 1;
        }
    }
    return 0;
}


/* ------------------------------------------------------------- the state */

typedef struct {
    int64_t  minute; /* minutes since the epoch */
    uint32_t requests;
    uint32_t failed; /* lines counted in a class */
    uint32_t s5xx;
    uint32_t cls[LC_N];
} lbguard_minute_t;

typedef struct {
    uint32_t route, target;
    int64_t  minute;
    uint32_t tsv; /* offset of its --lines row, or UINT32_MAX */
} lbguard_pending_t;

typedef struct {
    char     line[LBGUARD_LOGS_EX_LEN];
    uint16_t len;
    uint32_t route; /* pending examples: their route */
} lbguard_example_t;

typedef struct {
    const lbguard_logs_opts_t *o;
    const lbguard_join_t      *join; /* NULL without --target-log */
    pthread_mutex_t           *out_lock;

    unsigned long lines, requests, s5xx, lb_5xx, target_5xx, failed;
    unsigned long n_alb, n_clb, n_haproxy;
    unsigned long skip_test, skip_tcp, skip_nlb, skip_bad, skip_empty,
        filtered;
    unsigned long skip_norequest;
    unsigned long cls[LC_N], confirmed[LC_N];
    uint32_t      fnd_count[LBGUARD_LOGS_FINDINGS_CAP]; /* malformed-response
                                        confirmed, per findings text id */
    int           read_error;
    unsigned long unreadable; /* inputs not read (lbguard_agg_unreadable) */
    char          unreadable_shown[LBGUARD_LOGS_BAD_SHOWN][LBGUARD_LOGS_WHY];
    unsigned long duplicates; /* paths skipped, another path's file or
                                 directory (lbguard_agg_duplicate) */
    char          duplicate_shown[LBGUARD_LOGS_BAD_SHOWN][LBGUARD_LOGS_WHY];

    char bad[LBGUARD_LOGS_BAD_SHOWN][200];

    lbguard_names_t targets, routes;
    uint32_t       *cls_target;    /* [LC_N][TARGET_CAP] */
    uint32_t       *cls_route;     /* [LC_N][ROUTE_CAP] */
    uint32_t       *route_req;     /* requests per route */
    uint32_t       *route_pending; /* pending 502s per route */
    int64_t        *target_last;   /* end of the last request per target */

    lbguard_minute_t *minutes;
    uint32_t         *minute_slot;
    uint32_t          nminutes, minute_slots;
    unsigned long     over_requests, over_5xx, over_failed; /* in minutes
                                        beyond LBGUARD_LOGS_MINUTE_CAP: in
                                        the totals, not in the timeline */
    int64_t           last_minute;
    uint32_t          last_minute_idx;

    int64_t       gaps[LBGUARD_LOGS_GAP_CAP];
    unsigned long ngaps;
    uint64_t      rng;

    lbguard_example_t ex[LC_N][LBGUARD_LOGS_EX_MAX];
    unsigned          nex[LC_N];
    lbguard_example_t pex[16];
    unsigned          npex;

    lbguard_pending_t *pending;
    unsigned long      npending, pending_lost;
    unsigned long      tsv_lost; /* pending --lines rows with no room */
    char              *tsv;      /* pending --lines rows */
    size_t             tsv_used, tsv_cap;

    /* --jobs: the files of this worker */
    char **files;
    size_t nfiles;
} lbguard_agg_t;


static int
lbguard_agg_init(lbguard_agg_t *a, const lbguard_logs_opts_t *o,
                 const lbguard_join_t *join)
{
    memset(a, 0, sizeof(*a));
    a->o = o;
    a->join = join;
    a->rng = 88172645463325252ULL;
    if (lbguard_names_init(&a->targets, LBGUARD_LOGS_TARGET_CAP,
                           (size_t) LBGUARD_LOGS_TARGET_CAP * 48)
            != 0
        || lbguard_names_init(&a->routes, LBGUARD_LOGS_ROUTE_CAP,
                              (size_t) LBGUARD_LOGS_ROUTE_CAP * 64)
               != 0)
    {
        return -1;
    }
    a->cls_target = calloc((size_t) LC_N * LBGUARD_LOGS_TARGET_CAP,
                           sizeof(uint32_t));
    a->cls_route = calloc((size_t) LC_N * LBGUARD_LOGS_ROUTE_CAP,
                          sizeof(uint32_t));
    a->route_req = calloc(LBGUARD_LOGS_ROUTE_CAP, sizeof(uint32_t));
    a->route_pending = calloc(LBGUARD_LOGS_ROUTE_CAP, sizeof(uint32_t));
    a->target_last = malloc(LBGUARD_LOGS_TARGET_CAP * sizeof(int64_t));
    a->minute_slots = 131072;
    a->minutes = calloc(LBGUARD_LOGS_MINUTE_CAP, sizeof(lbguard_minute_t));
    a->minute_slot = calloc(a->minute_slots, sizeof(uint32_t));
    a->pending = malloc(LBGUARD_LOGS_PENDING_CAP * sizeof(lbguard_pending_t));
    if (!a->cls_target || !a->cls_route || !a->route_req || !a->route_pending
        || !a->target_last || !a->minutes || !a->minute_slot || !a->pending)
    {
        return -1;
    }
    for (size_t i = 0; i < LBGUARD_LOGS_TARGET_CAP; i++) {
        a->target_last[i] = LBGUARD_T_NONE;
    }
    a->last_minute = INT64_MIN;
    return 0;
}


static void
lbguard_agg_free(lbguard_agg_t *a)
{
    lbguard_names_free(&a->targets);
    lbguard_names_free(&a->routes);
    free(a->cls_target);
    free(a->cls_route);
    free(a->route_req);
    free(a->route_pending);
    free(a->target_last);
    free(a->minutes);
    free(a->minute_slot);
    free(a->pending);
    free(a->tsv);
}


/* the next value of the xorshift64 generator *state (never 0) */
static uint64_t
lbguard_rng_next(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}


/* counts one input in *n, keeping why in shown[] for the first
 * LBGUARD_LOGS_BAD_SHOWN (the report shows those) */
static void
lbguard_agg_shown(unsigned long *n,
                  char        shown[LBGUARD_LOGS_BAD_SHOWN][LBGUARD_LOGS_WHY],
                  const char *why)
{
    if (*n < LBGUARD_LOGS_BAD_SHOWN) {
        snprintf(shown[*n], LBGUARD_LOGS_WHY, "%s", why);
    }
    (*n)++;
}


/* counts an input that could not be read (why: "<path>: <reason>"); the
 * exit status is 2 */
static void
lbguard_agg_unreadable(lbguard_agg_t *a, const char *why)
{
    lbguard_agg_shown(&a->unreadable, a->unreadable_shown, why);
    a->read_error = 1;
}


/* counts a path skipped because another path reached the same file or
 * directory (why: "<path>: the same file as <path>, not read twice"); no
 * effect on the exit status */
static void
lbguard_agg_duplicate(lbguard_agg_t *a, const char *why)
{
    lbguard_agg_shown(&a->duplicates, a->duplicate_shown, why);
}


/* the bucket of a minute (UINT32_MAX when the table is full) */
static uint32_t
lbguard_minute_idx(lbguard_agg_t *a, int64_t minute)
{
    uint32_t i, id;

    if (minute == a->last_minute) {
        return a->last_minute_idx;
    }
    for (i = lbguard_hash((const char *) &minute, sizeof(minute))
             & (a->minute_slots - 1);
         (id = a->minute_slot[i]) != 0; i = (i + 1) & (a->minute_slots - 1))
    {
        if (a->minutes[id - 1].minute == minute) {
            break;
        }
    }
    if (id == 0) {
        if (a->nminutes >= LBGUARD_LOGS_MINUTE_CAP) {
            return UINT32_MAX;
        }
        id = ++a->nminutes;
        a->minutes[id - 1].minute = minute;
        a->minute_slot[i] = id;
    }
    a->last_minute = minute;
    a->last_minute_idx = id - 1;
    return id - 1;
}


/* ---------------------------------------------------------------- routes */

/* method + path, query dropped, ids (all-digit segments, hex/uuid segments
 * of 16+ characters) replaced by ":id"; "-" when the request never parsed */
static size_t
lbguard_route(lbguard_sv_t req, char *out, size_t cap)
{
    const char *p = req.p, *end = req.p + req.len, *sp;
    size_t      o = 0;

    if (req.len == 0 || req.p[0] == '-') {
        out[0] = '-';
        return 1;
    }
    sp = memchr(p, ' ', req.len);
    if (sp == NULL || (size_t) (sp - p) > 16) {
        out[0] = '-';
        return 1;
    }
    memcpy(out, p, (size_t) (sp - p));
    o = (size_t) (sp - p);
    out[o++] = ' ';
    p = sp + 1;
    /* absolute form: skip scheme://authority */
    if (p < end && *p != '/') {
        const char *s = p;

        while (s + 2 < end && *s != ' '
               && !(s[0] == ':' && s[1] == '/' && s[2] == '/'))
        {
            s++;
        }
        if (s + 2 < end && s[0] == ':') {
            s += 3;
            while (s < end && *s != '/' && *s != ' ') {
                s++;
            }
            p = s;
        }
    }
    if (p >= end || *p != '/') {
        out[o++] = '/';
        return o;
    }
    while (p < end && *p != ' ' && *p != '?' && *p != '#') {
        const char *seg;
        size_t      n, i, digits = 0, hex = 0;

        /* one segment: "/" + bytes up to the next "/" */
        p++;
        seg = p;
        while (p < end && *p != '/' && *p != ' ' && *p != '?' && *p != '#') {
            p++;
        }
        n = (size_t) (p - seg);
        for (i = 0; i < n; i++) {
            unsigned char ch = (unsigned char) seg[i];

            digits += (ch >= '0' && ch <= '9');
            hex += (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')
                   || (ch >= 'A' && ch <= 'F') || ch == '-';
        }
        if (o + 1 >= cap) {
            break;
        }
        out[o++] = '/';
        if (n > 0 && (digits == n || (n >= 16 && hex == n))) {
            if (o + 3 > cap) {
                break;
            }
            memcpy(out + o, ":id", 3);
            o += 3;
        } else {
            if (o + n > cap) {
                n = cap - o;
            }
            memcpy(out + o, seg, n);
            o += n;
        }
    }
    return o;
}


/* ---------------------------------------------------------- classifying */

static int
lbguard_sv_prefix(lbguard_sv_t v, const char *s)
{
    size_t n = strlen(s);

    return v.len >= n && memcmp(v.p, s, n) == 0;
}


static int
lbguard_sv_has(lbguard_sv_t v, const char *s)
{
    size_t n = strlen(s), i;

    for (i = 0; i + n <= v.len; i++) {
        if (memcmp(v.p + i, s, n) == 0) {
            return 1;
        }
    }
    return 0;
}


static int
lbguard_dash(lbguard_sv_t v)
{
    return v.len == 0 || (v.len == 1 && v.p[0] == '-');
}


/* looks the line's trace/request id up in the target's log: 0 the target
 * never logged it, 1 logged clean, 2 logged with findings (*findings set);
 * -1 no join possible (no --target-log, or no id on the line) */
static int
lbguard_join_lookup(const lbguard_join_t *j, const lbguard_logline_t *ln,
                    uint32_t *findings)
{
    lbguard_sv_t key;
    uint32_t     h, i, id;

    if (j == NULL || lbguard_dash(ln->trace_id)) {
        return -1;
    }
    key = lbguard_root_of(ln->trace_id.p, ln->trace_id.len);
    if (key.len == 0) {
        return -1;
    }
    h = lbguard_hash(key.p, key.len);
    for (i = h & (j->keys.slots - 1); (id = j->keys.slot[i]) != 0;
         i = (i + 1) & (j->keys.slots - 1))
    {
        id--;
        if (j->keys.hash[id] == h && j->keys.len[id] == key.len
            && memcmp(j->keys.arena + j->keys.off[id], key.p, key.len) == 0)
        {
            uint32_t f = j->finding_id[id];

            *findings = f;
            return (j->findings.len[f] == 1
                    && j->findings.arena[j->findings.off[f]] == '-')
                       ? 1
                       : 2;
        }
    }
    return 0;
}


/* decides the class of a failed request; *confirmed 1 when the target's
 * log settled it */
static int
lbguard_classify(const lbguard_agg_t *a, const lbguard_logline_t *ln,
                 int *confirmed, uint32_t *fnd_out)
{
    int      e = ln->elb_status, t = ln->target_status, jr;
    uint32_t fnd = 0;

    *confirmed = 0;
    *fnd_out = 0;
    if (ln->kind == LBGUARD_LINE_HAPROXY) {
        char c0 = ln->term.p[0], c1 = ln->term.p[1];

        if (e == 503 && lbguard_sv_has(ln->target, "<NOSRV>")) {
            return LC_NO_HEALTHY;
        }
        if (c0 == 'C' || c0 == 'c') {
            return LC_CLIENT_CLOSED;
        }
        if (c0 == 'P') {
            if (c1 == 'H') {
                jr = lbguard_join_lookup(a->join, ln, &fnd);
                *confirmed = (jr == 2);
                *fnd_out = jr == 2 ? fnd : 0;
                return LC_MALFORMED;
            }
            return LC_LB_INTERNAL;
        }
        if (c0 == 'S') {
            if (c1 == 'C') {
                return LC_CONNECT_FAILED;
            }
            if (c1 == 'H') {
                int64_t wait = LBGUARD_T_NONE;

                jr = lbguard_join_lookup(a->join, ln, &fnd);
                if (jr == 0) {
                    *confirmed = 1;
                    return LC_KEEPALIVE_RACE;
                }
                if (jr == 2) {
                    *confirmed = 1;
                    *fnd_out = fnd;
                    return LC_MALFORMED;
                }
                if (jr == 1) {
                    *confirmed = 1;
                    return LC_TARGET_CLOSED;
                }
                /* time spent waiting on the server: Ta - (end of connect) */
                if (ln->total_us >= 0 && ln->created_us != LBGUARD_T_NONE) {
                    wait = ln->t_us - ln->created_us;
                }
                return (wait != LBGUARD_T_NONE && wait <= a->o->race_max_us)
                           ? LC_KEEPALIVE_RACE
                           : LC_TARGET_CLOSED;
            }
            return LC_TARGET_CLOSED;
        }
        if (c0 == 's') {
            return c1 == 'C' ? LC_CONNECT_TIMEOUT : LC_TIMEOUT;
        }
        if (c0 == '-') {
            return e >= 500 ? LC_TARGET_5XX : LC_UNCLASSIFIED;
        }
        return LC_LB_INTERNAL; /* R, I, D, K, L, ... */
    }

    if (ln->kind == LBGUARD_LINE_CLB) {
        if (t >= 500 && t == e) {
            return LC_TARGET_5XX;
        }
        if (e == 502 && t <= 0) {
            return LC_MALFORMED;
        }
        if (e == 504 && ln->rpt_us == LBGUARD_T_MINUS
            && ln->tpt_us == LBGUARD_T_MINUS
            && ln->rspt_us == LBGUARD_T_MINUS)
        {
            return LC_BACKEND_CLOSED_OR_TIMEOUT;
        }
        if (e == 503) {
            return LC_NO_HEALTHY;
        }
        return LC_UNCLASSIFIED;
    }

    /* ALB (docs/logs.md, first match wins) */
    if (e == 460) {
        return LC_CLIENT_CLOSED;
    }
    if (lbguard_sv_prefix(ln->error_reason, "Lambda")) {
        return LC_LAMBDA;
    }
    if (lbguard_sv_prefix(ln->error_reason, "Auth") || e == 561) {
        return LC_AUTH;
    }
    if (lbguard_sv_prefix(ln->error_reason, "WAF")
        || lbguard_sv_has(ln->actions, "waf-failed"))
    {
        return LC_WAF;
    }
    if (t >= 500 && t == e) {
        return LC_TARGET_5XX;
    }
    if (e == 503 && lbguard_dash(ln->target)) {
        return LC_NO_HEALTHY;
    }
    if (e == 502 && t == -1 && !lbguard_dash(ln->target) && ln->rpt_us >= 0
        && ln->tpt_us >= 0 && ln->rspt_us == LBGUARD_T_MINUS)
    {
        jr = lbguard_join_lookup(a->join, ln, &fnd);
        if (jr == 0) {
            *confirmed = 1;
            return LC_KEEPALIVE_RACE;
        }
        if (jr == 2) {
            *confirmed = 1;
            *fnd_out = fnd;
            return LC_MALFORMED;
        }
        if (jr == 1) {
            *confirmed = 1;
            return LC_TARGET_CLOSED;
        }
        if (ln->tpt_us <= a->o->race_max_us) {
            return LC_KEEPALIVE_RACE;
        }
        return LC_PENDING;
    }
    if (e == 502 && t == -1 && ln->rpt_us == LBGUARD_T_MINUS
        && ln->tpt_us == LBGUARD_T_MINUS && ln->rspt_us == LBGUARD_T_MINUS
        && !lbguard_dash(ln->target))
    {
        return LC_CONNECT_FAILED;
    }
    if (e == 504 && t == -1 && ln->rpt_us == LBGUARD_T_MINUS
        && ln->tpt_us == LBGUARD_T_MINUS && ln->rspt_us == LBGUARD_T_MINUS)
    {
        int64_t d = (ln->created_us != LBGUARD_T_NONE)
                        ? ln->t_us - ln->created_us
                        : LBGUARD_T_NONE;

        return (d == LBGUARD_T_NONE || d >= 9000000) ? LC_CONNECT_TIMEOUT
                                                     : LC_UNCLASSIFIED;
    }
    if (e == 504 && t == -1 && !lbguard_dash(ln->target) && ln->rpt_us >= 0
        && ln->tpt_us == LBGUARD_T_MINUS)
    {
        return LC_TIMEOUT;
    }
    if (e == 500 && lbguard_dash(ln->error_reason)) {
        return LC_LB_INTERNAL;
    }
    return LC_UNCLASSIFIED;
}


/* ------------------------------------------------------------- recording */

static void
lbguard_fmt_time(int64_t us, char *buf, size_t cap, int minute_only)
{
    time_t    s;
    struct tm tm;

    if (us == LBGUARD_T_NONE) {
        snprintf(buf, cap, "-");
        return;
    }
    s = (time_t) (us / 1000000);
    gmtime_r(&s, &tm);
    if (minute_only) {
        strftime(buf, cap, "%Y-%m-%dT%H:%MZ", &tm);
    } else {
        char b[32];

        strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, cap, "%s.%06ldZ", b, (long) (us % 1000000));
    }
}


static void
lbguard_fmt_dur(int64_t us, char *buf, size_t cap)
{
    if (us == LBGUARD_T_NONE) {
        snprintf(buf, cap, "-");
    } else if (us < 0) {
        snprintf(buf, cap, "-1");
    } else {
        snprintf(buf, cap, "%ld.%06ld", (long) (us / 1000000),
                 (long) (us % 1000000));
    }
}


/* copies s[0..n) into out (cap bytes, NUL-terminated) with every control
 * byte (C0, including TAB, CR, LF and ESC, and DEL) written as \xNN, as the
 * unparseable lines are shown: a field of a log line (the client's request,
 * user agent, trace id) then cannot split a --lines row or column, or drive
 * the terminal; an escape is never cut. Returns the length written. */
static size_t
lbguard_esc(const char *s, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t            i, o = 0;

    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char) s[i];

        if (ch >= 0x20 && ch != 0x7f) {
            if (o + 1 >= cap) {
                break;
            }
            out[o++] = (char) ch;
        } else {
            if (o + 4 >= cap) {
                break;
            }
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
    return o;
}


/* prints s[0..n) on stdout as lbguard_esc() writes it (the text report) */
static void
lbguard_put_esc(const char *s, size_t n)
{
    char   b[512];
    size_t k;

    while (n > 0) {
        k = n < 100 ? n : 100;
        lbguard_esc(s, k, b, sizeof(b));
        fputs(b, stdout);
        s += k;
        n -= k;
    }
}


/* writes the --lines row of a failed request into buf (cap >= 2); returns
 * its length. The row always ends with its newline; text fields are
 * escaped (lbguard_esc()) and cut at 200 bytes. */
static size_t
lbguard_tsv_row(const lbguard_logline_t *ln, int cls, int confirmed,
                const char *route, size_t route_len, char *buf, size_t cap)
{
    char         t[48], r1[32], r2[32], r3[32], d[32];
    char         tg[201], rt[201], tr[201], cn[201];
    lbguard_sv_t last;
    int64_t      delta = LBGUARD_T_NONE;
    int          n;

    lbguard_fmt_time(ln->t_us, t, sizeof(t), 0);
    lbguard_fmt_dur(ln->rpt_us, r1, sizeof(r1));
    lbguard_fmt_dur(ln->tpt_us, r2, sizeof(r2));
    lbguard_fmt_dur(ln->rspt_us, r3, sizeof(r3));
    if (ln->kind == LBGUARD_LINE_ALB && ln->created_us != LBGUARD_T_NONE) {
        delta = ln->t_us - ln->created_us;
    } else if (ln->kind == LBGUARD_LINE_HAPROXY) {
        delta = ln->total_us;
    }
    lbguard_fmt_dur(delta, d, sizeof(d));
    last = ln->kind == LBGUARD_LINE_HAPROXY ? ln->term : ln->conn_trace_id;
    lbguard_esc(ln->target.p, ln->target.len, tg, sizeof(tg));
    lbguard_esc(route, route_len, rt, sizeof(rt));
    lbguard_esc(ln->trace_id.p, ln->trace_id.len, tr, sizeof(tr));
    lbguard_esc(last.p, last.len, cn, sizeof(cn));
    n = snprintf(buf, cap,
                 "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t,
                 cls < LC_N ? lbguard_classes[cls].id : "?", ln->elb_status,
                 ln->target_status, r1, r2, r3, d, tg, rt, tr, cn,
                 confirmed ? "confirmed" : "-");
    if (n < 0) {
        return 0;
    }
    if ((size_t) n >= cap) {
        n = (int) cap - 1;
        buf[n - 1] = '\n';
    }
    return (size_t) n;
}


static void
lbguard_add_example(lbguard_example_t *ex, const char *line, size_t len,
                    uint32_t route)
{
    if (len > LBGUARD_LOGS_EX_LEN) {
        len = LBGUARD_LOGS_EX_LEN;
    }
    memcpy(ex->line, line, len);
    ex->len = (uint16_t) len;
    ex->route = route;
}


static void
lbguard_count(lbguard_agg_t *a, int cls, uint32_t route, uint32_t target,
              uint32_t mi, int confirmed)
{
    a->cls[cls]++;
    a->confirmed[cls] += confirmed;
    a->cls_target[(size_t) cls * LBGUARD_LOGS_TARGET_CAP + target]++;
    a->cls_route[(size_t) cls * LBGUARD_LOGS_ROUTE_CAP + route]++;
    if (mi != UINT32_MAX) {
        a->minutes[mi].cls[cls]++;
        a->minutes[mi].failed++;
    } else {
        a->over_failed++;
    }
}


static int
lbguard_time_ok(const lbguard_logs_opts_t *o, int64_t t)
{
    int64_t tod;

    if (o->since_us != LBGUARD_T_NONE && t < o->since_us) {
        return 0;
    }
    if (o->until_us != LBGUARD_T_NONE && t >= o->until_us) {
        return 0;
    }
    if (o->since_tod >= 0 || o->until_tod >= 0) {
        tod = ((t / 1000000) % 86400) * 1000000 + t % 1000000;
        if (o->since_tod >= 0 && o->until_tod >= 0
            && o->since_tod > o->until_tod) {
            /* a window across midnight: --since 23:00 --until 01:00 */
            return tod >= o->since_tod || tod < o->until_tod;
        }
        if (o->since_tod >= 0 && tod < o->since_tod) {
            return 0;
        }
        if (o->until_tod >= 0 && tod >= o->until_tod) {
            return 0;
        }
    }
    return 1;
}


/* 1 when the logged target t is the --target f[0..n): the same text, or
 * its prefix up to ':' (a port) or '/' (HAProxy's backend/server) */
static int
lbguard_target_prefix(const char *f, size_t n, lbguard_sv_t t)
{
    if (n == 0 || t.len < n || memcmp(t.p, f, n) != 0) {
        return 0;
    }
    return t.len == n || t.p[n] == ':' || t.p[n] == '/' || f[n - 1] == ':';
}


/*
 * 1 when the request's target t (ip:port as logged, or HAProxy's
 * backend/server) is --target's. An IPv6 target is logged "[addr]:port" or
 * "addr:port" (docs/logs.md, Inputs): --target addr, [addr] and
 * [addr]:port each match both forms.
 */
static int
lbguard_target_ok(const lbguard_logs_opts_t *o, lbguard_sv_t t)
{
    const char  *f = o->target, *rb;
    size_t       n = strlen(f);
    lbguard_sv_t in;

    if (lbguard_target_prefix(f, n, t)) {
        return 1;
    }
    if (f[0] != '[' && t.len > 2 && t.p[0] == '[') {
        /* --target addr, logged [addr]:port */
        return t.len >= n + 2 && memcmp(t.p + 1, f, n) == 0
               && t.p[n + 1] == ']';
    }
    rb = f[0] == '[' ? strchr(f, ']') : NULL;
    if (rb != NULL && t.len > 0 && t.p[0] != '[') {
        /* --target [addr] or [addr]:port, logged addr:port */
        size_t a = (size_t) (rb - f - 1);

        if (a == 0 || t.len <= a || memcmp(t.p, f + 1, a) != 0
            || t.p[a] != ':') {
            return 0;
        }
        if (rb[1] == '\0') {
            return 1;
        }
        in.p = t.p + a;
        in.len = t.len - a;
        return rb[1] == ':' && strlen(rb + 1) == in.len
               && memcmp(rb + 1, in.p, in.len) == 0;
    }
    return 0;
}


static void
lbguard_emit(lbguard_agg_t *a, const char *row, size_t n)
{
    if (a->out_lock) {
        pthread_mutex_lock(a->out_lock);
    }
    fwrite(row, 1, n, stdout);
    if (a->out_lock) {
        pthread_mutex_unlock(a->out_lock);
    }
}


static void
lbguard_agg_line(lbguard_agg_t *a, const char *line, size_t len,
                 const char *file, unsigned long lineno)
{
    lbguard_logline_t ln;
    char              route[LBGUARD_LOGS_ROUTE_LEN];
    size_t            rlen;
    uint32_t          rid, tid, mi, fid;
    int               cls, confirmed, failed, e;
    int64_t           prev;

    a->lines++;
    switch (lbguard_log_parse(line, len, &ln)) {
    case LBGUARD_LINE_ALB: a->n_alb++; break;
    case LBGUARD_LINE_CLB: a->n_clb++; break;
    case LBGUARD_LINE_HAPROXY: a->n_haproxy++; break;
    case LBGUARD_LINE_CLB_TCP: a->skip_tcp++; return;
    case LBGUARD_LINE_NLB: a->skip_nlb++; return;
    case LBGUARD_LINE_TEST: a->skip_test++; return;
    case LBGUARD_LINE_EMPTY: a->skip_empty++; return;
    default:
        if (a->skip_bad < LBGUARD_LOGS_BAD_SHOWN) {
            char  *b = a->bad[a->skip_bad];
            int    k = snprintf(b, 200, "%s:%lu: ", file, lineno);
            size_t i;

            for (i = 0; k >= 0 && k < 196 && i < len && i < 120; i++) {
                unsigned char ch = (unsigned char) line[i];

                if (ch >= 0x20 && ch < 0x7f) {
                    b[k++] = (char) ch;
                } else {
                    k += snprintf(b + k, 200 - (size_t) k, "\\x%02x", ch);
                }
            }
            if (k >= 0 && k < 200) {
                b[k] = '\0';
            }
        }
        a->skip_bad++;
        return;
    }
    /* HAProxy CR/cR: a connection that never carried a full request (a
     * client or a readiness probe that connected and left): no request */
    if (ln.kind == LBGUARD_LINE_HAPROXY && ln.term.len >= 2
        && ln.term.p[1] == 'R'
        && (ln.term.p[0] == 'C' || ln.term.p[0] == 'c'))
    {
        a->skip_norequest++;
        return;
    }
    if (!lbguard_time_ok(a->o, ln.t_us)
        || (a->o->target && !lbguard_target_ok(a->o, ln.target)))
    {
        a->filtered++;
        return;
    }
    a->requests++;
    e = ln.elb_status;
    rlen = lbguard_route(ln.request, route, sizeof(route));
    rid = lbguard_names_id(&a->routes, route, rlen);
    a->route_req[rid]++;
    tid = lbguard_names_id(&a->targets, ln.target.p ? ln.target.p : "-",
                           ln.target.p ? ln.target.len : 1);
    mi = lbguard_minute_idx(a, ln.t_us / 60000000);
    if (mi != UINT32_MAX) {
        a->minutes[mi].requests++;
    } else {
        a->over_requests++;
    }
    prev = a->target_last[tid];
    a->target_last[tid] = ln.t_us;

    /* HAProxy: a client abort (C, c), and a response the server cut
     * (SD: it closed the connection, sD: it timed out, during the body),
     * which HAProxy logs with the server's own status, 200 as often as
     * not: the client got less than the target announced */
    failed = e >= 500 || e == 460
             || (ln.kind == LBGUARD_LINE_HAPROXY && ln.term.len >= 2
                 && (ln.term.p[0] == 'C' || ln.term.p[0] == 'c'
                     || ((ln.term.p[0] == 'S' || ln.term.p[0] == 's')
                         && ln.term.p[1] == 'D')));
    if (!failed) {
        return;
    }
    if (e >= 500) {
        a->s5xx++;
        if (mi != UINT32_MAX) {
            a->minutes[mi].s5xx++;
        } else {
            a->over_5xx++;
        }
        if (ln.kind == LBGUARD_LINE_HAPROXY ? ln.term.p[0] == '-'
                                            : (ln.target_status == e))
        {
            a->target_5xx++;
        } else {
            a->lb_5xx++;
        }
    }
    a->failed++;
    cls = lbguard_classify(a, &ln, &confirmed, &fid);
    if (fid != 0 && fid < LBGUARD_LOGS_FINDINGS_CAP) {
        a->fnd_count[fid]++;
    }

    if (cls == LC_PENDING) {
        a->route_pending[rid]++;
        if (a->npending < LBGUARD_LOGS_PENDING_CAP) {
            lbguard_pending_t *p = &a->pending[a->npending++];

            p->route = rid;
            p->target = tid;
            p->minute = mi;
            p->tsv = UINT32_MAX;
            if (a->o->lines) {
                char   row[1024];
                size_t n = lbguard_tsv_row(&ln, LC_TARGET_CLOSED, 0, route,
                                           rlen, row, sizeof(row));

                if (a->tsv_used + n > a->tsv_cap && a->tsv_cap < (16u << 20))
                {
                    size_t nc = a->tsv_cap ? a->tsv_cap * 2 : 65536;
                    char  *nt = realloc(a->tsv, nc);

                    if (nt) {
                        a->tsv = nt;
                        a->tsv_cap = nc;
                    }
                }
                if (a->tsv_used + n <= a->tsv_cap) {
                    memcpy(a->tsv + a->tsv_used, row, n);
                    p->tsv = (uint32_t) a->tsv_used;
                    a->tsv_used += n;
                } else {
                    a->tsv_lost++;
                }
            }
        } else {
            a->pending_lost++;
            lbguard_count(a, LC_TARGET_CLOSED, rid, tid, mi, 0);
            if (a->o->lines
                && (a->o->class_mask == 0
                    || (a->o->class_mask & (1u << LC_TARGET_CLOSED))))
            {
                char   row[1024];
                size_t n = lbguard_tsv_row(&ln, LC_TARGET_CLOSED, 0, route,
                                           rlen, row, sizeof(row));

                lbguard_emit(a, row, n);
            }
        }
        if (a->npex < 16) {
            lbguard_add_example(&a->pex[a->npex++], line, len, rid);
        }
        return;
    }

    lbguard_count(a, cls, rid, tid, mi, confirmed);
    if (a->nex[cls] < (unsigned) a->o->examples) {
        lbguard_add_example(&a->ex[cls][a->nex[cls]++], line, len, rid);
    }
    if (cls == LC_KEEPALIVE_RACE && prev != LBGUARD_T_NONE && tid != 0) {
        int64_t start = ln.created_us != LBGUARD_T_NONE ? ln.created_us
                                                        : ln.t_us;
        int64_t gap = start - prev;

        if (gap >= 0) {
            if (a->ngaps < LBGUARD_LOGS_GAP_CAP) {
                a->gaps[a->ngaps] = gap;
            } else {
                uint64_t r = lbguard_rng_next(&a->rng) % (a->ngaps + 1);

                if (r < LBGUARD_LOGS_GAP_CAP) {
                    a->gaps[r] = gap;
                }
            }
            a->ngaps++;
        }
    }
    if (a->o->lines
        && (a->o->class_mask == 0 || (a->o->class_mask & (1u << cls))))
    {
        char   row[1024];
        size_t n = lbguard_tsv_row(&ln, cls, confirmed, route, rlen, row,
                                   sizeof(row));

        lbguard_emit(a, row, n);
    }
}


/* ---------------------------------------------------------------- input */

/* passes the line p[0..len) to fn without the CR of a CRLF line end (the
 * CR is no part of the line's last field, an access log's or a target
 * log's rid= or lbguard=, nor of the line shown as an example); a line
 * longer than LBGUARD_LOGS_LINE_MAX is passed as LBGUARD_LOGS_LONG */
static void
lbguard_line(void (*fn)(void *ctx, const char *line, size_t len,
                        const char *file, unsigned long lineno),
             void *ctx, const char *p, size_t len, const char *label,
             unsigned long lineno)
{
    if (len > 0 && p[len - 1] == '\r') {
        len--;
    }
    if (len > LBGUARD_LOGS_LINE_MAX) {
        p = LBGUARD_LOGS_LONG;
        len = sizeof(LBGUARD_LOGS_LONG) - 1;
    }
    fn(ctx, p, len, label, lineno);
}


/* reads one input (path, or "-" for stdin) line by line into fn; returns 0,
 * or -1 when it cannot be opened or read (message printed, and written
 * into why[0..LBGUARD_LOGS_WHY) as "<path>: <reason>") */
static int
lbguard_read_input(const char *path,
                   void (*fn)(void *ctx, const char *line, size_t len,
                              const char *file, unsigned long lineno),
                   void *ctx, char *buf, char *why)
{
    gzFile        gz;
    int           fd, n, err;
    size_t        have = 0, skip = 0;
    unsigned long lineno = 0;
    const char   *label = strcmp(path, "-") == 0 ? "<stdin>" : path;

    fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(why, LBGUARD_LOGS_WHY, "%s: %s", label, strerror(errno));
        lbguard_err("logs", "%s", why);
        return -1;
    }
    gz = gzdopen(fd, "rb");
    if (gz == NULL) {
        close(fd);
        snprintf(why, LBGUARD_LOGS_WHY, "%s: cannot read", label);
        lbguard_err("logs", "%s", why);
        return -1;
    }
    gzbuffer(gz, 1 << 17);
    for (;;) {
        char *p, *end, *nl;

        n = gzread(gz, buf + have, (unsigned) (LBGUARD_LOGS_BUF - have));
        if (n < 0) {
            snprintf(why, LBGUARD_LOGS_WHY, "%s: %s", label,
                     gzerror(gz, &err));
            lbguard_err("logs", "%s", why);
            gzclose(gz);
            return -1;
        }
        if (n == 0) {
            if (have > 0 && !skip) {
                lineno++;
                lbguard_line(fn, ctx, buf, have, label, lineno);
            }
            break;
        }
        p = buf;
        end = buf + have + (size_t) n;
        while ((nl = memchr(p, '\n', (size_t) (end - p))) != NULL) {
            lineno++;
            if (skip) {
                skip = 0; /* the end of a line longer than the buffer */
            } else {
                lbguard_line(fn, ctx, p, (size_t) (nl - p), label, lineno);
            }
            p = nl + 1;
        }
        have = (size_t) (end - p);
        if (have == LBGUARD_LOGS_BUF) {
            /* a line longer than the buffer (than LBGUARD_LOGS_LINE_MAX
             * and its line end): unparseable, skipped */
            if (!skip) {
                lineno++;
                fn(ctx, LBGUARD_LOGS_LONG, sizeof(LBGUARD_LOGS_LONG) - 1,
                   label, lineno);
                lineno--;
            }
            skip = 1;
            have = 0;
        } else if (have > 0 && p != buf) {
            memmove(buf, p, have);
        }
    }
    if (gzclose(gz) != Z_OK) {
        snprintf(why, LBGUARD_LOGS_WHY, "%s: read error", label);
        lbguard_err("logs", "%s", why);
        return -1;
    }
    return 0;
}


static void
lbguard_agg_cb(void *ctx, const char *line, size_t len, const char *file,
               unsigned long lineno)
{
    lbguard_agg_line(ctx, line, len, file, lineno);
}


/* records key -> the findings f of the target-log line it is on */
static void
lbguard_join_key(lbguard_join_t *j, lbguard_sv_t key, lbguard_sv_t f)
{
    uint32_t id = lbguard_names_id(&j->keys, key.p, key.len);

    if (id == 0) {
        return;
    }
    /* a request logged twice keeps its findings */
    if (j->finding_id[id] == 0 || !(f.len == 1 && f.p[0] == '-')) {
        j->finding_id[id] = lbguard_names_id(&j->findings, f.p, f.len);
    }
}


static void
lbguard_join_cb(void *ctx, const char *line, size_t len, const char *file,
                unsigned long lineno)
{
    lbguard_join_t *j = ctx;
    lbguard_sv_t    root, rid, f;
    size_t          i;
    int             has_root = 0, has_rid;

    (void) file;
    (void) lineno;
    j->lines++;
    /* the keys: the Root of an X-Amzn-Trace-Id anywhere on the line (the
     * ALB's trace id), and the value of a rid= token (the request id
     * HAProxy sends); a line can carry both, e.g. behind HAProxy a client
     * that sends its own X-Amzn-Trace-Id, and is found by either. "Root="
     * starts the header's value or follows a ';' in it: one in the request
     * line ("GET /?Root=x") is not the trace id */
    for (i = 0; i + 5 <= len; i++) {
        if (line[i] == 'R' && memcmp(line + i, "Root=", 5) == 0
            && (i == 0 || line[i - 1] == '"' || line[i - 1] == ';'
                || line[i - 1] == ' '))
        {
            root = lbguard_root_of(line + i, len - i);
            has_root = root.len > 0;
            break;
        }
    }
    has_rid = lbguard_token_value(line, len, "rid=", &rid) && rid.len > 0
              && !(rid.len == 1 && rid.p[0] == '-');
    if (!has_root && !has_rid) {
        return;
    }
    if (!lbguard_token_value(line, len, "lbguard=", &f) || f.len == 0) {
        f.p = "-";
        f.len = 1;
    }
    j->keyed++;
    if (has_root) {
        lbguard_join_key(j, root, f);
    }
    if (has_rid
        && !(has_root && rid.len == root.len
             && memcmp(rid.p, root.p, rid.len) == 0))
    {
        lbguard_join_key(j, rid, f);
    }
}


typedef struct {
    char **v;
    size_t n, cap;
} lbguard_files_t;


/* a file's or directory's identity: two paths with the same (st_dev,
 * st_ino) are one input. at: its index in the list it identifies. */
typedef struct {
    dev_t  dev;
    ino_t  ino;
    size_t at;
} lbguard_fid_t;


/* the inputs of one list met so far (lbguard_collect()): the files' and the
 * directories' identities, and the paths skipped as another path's
 * duplicates ("<path>: the same file as <path>, not read twice") */
typedef struct {
    lbguard_fid_t  *file; /* file[i] identifies the list's v[i] */
    size_t          nfile, capfile;
    lbguard_fid_t  *dir;     /* the directories walked */
    lbguard_files_t dirpath; /* dir[i]'s path */
    lbguard_files_t dup;     /* what was skipped, as said on stderr */
} lbguard_seen_t;


static int
lbguard_files_add(lbguard_files_t *fl, const char *path)
{
    if (fl->n == fl->cap) {
        size_t nc = fl->cap ? fl->cap * 2 : 16;
        char **nv = realloc(fl->v, nc * sizeof(char *));

        if (nv == NULL) {
            return -1;
        }
        fl->v = nv;
        fl->cap = nc;
    }
    fl->v[fl->n] = strdup(path);
    return fl->v[fl->n++] ? 0 : -1;
}


/* frees the paths of fl and its array */
static void
lbguard_files_free(lbguard_files_t *fl)
{
    size_t i;

    for (i = 0; i < fl->n; i++) {
        free(fl->v[i]);
    }
    free(fl->v);
    memset(fl, 0, sizeof(*fl));
}


/* frees what seen holds */
static void
lbguard_seen_free(lbguard_seen_t *seen)
{
    free(seen->file);
    free(seen->dir);
    lbguard_files_free(&seen->dirpath);
    lbguard_files_free(&seen->dup);
    memset(seen, 0, sizeof(*seen));
}


static int
lbguard_cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *) x, *(char *const *) y);
}


/* orders identities by device, inode, then position in the list */
static int
lbguard_cmp_fid(const void *x, const void *y)
{
    const lbguard_fid_t *a = x, *b = y;

    if (a->dev != b->dev) {
        return a->dev < b->dev ? -1 : 1;
    }
    if (a->ino != b->ino) {
        return a->ino < b->ino ? -1 : 1;
    }
    return a->at < b->at ? -1 : a->at > b->at;
}


/* a directory being walked and the ones above it: a directory met again
 * below itself (through a symbolic link) is a loop */
typedef struct lbguard_walk_s {
    dev_t                        dev;
    ino_t                        ino;
    const char                  *path;
    const struct lbguard_walk_s *up;
} lbguard_walk_t;


/* adds "<path>: <reason>" to bad, an input that is not read, and says so
 * on stderr; returns 0, or -1 when out of memory */
static int
lbguard_collect_bad(lbguard_files_t *bad, const char *path,
                    const char *reason)
{
    char why[LBGUARD_LOGS_WHY];

    if (snprintf(why, sizeof(why), "%s: %s", path, reason) < 0) {
        why[0] = '\0';
    }
    lbguard_err("logs", "%s", why);
    return lbguard_files_add(bad, why);
}


/* adds "<path>: the same <what> as <first>, not read twice" to seen->dup
 * and says so on stderr; returns 0, or -1 when out of memory */
static int
lbguard_collect_dup(lbguard_seen_t *seen, const char *path, const char *what,
                    const char *first)
{
    char why[LBGUARD_LOGS_WHY];

    if (snprintf(why, sizeof(why), "%s: the same %s as %s, not read twice",
                 path, what, first)
        < 0)
    {
        why[0] = '\0';
    }
    lbguard_err("logs", "%s", why);
    return lbguard_files_add(&seen->dup, why);
}


/* adds the file path, whose identity is st, to fl (and to seen->file) */
static int
lbguard_collect_file(lbguard_files_t *fl, lbguard_seen_t *seen,
                     const char *path, const struct stat *st)
{
    if (seen->nfile == seen->capfile) {
        size_t         nc = seen->capfile ? seen->capfile * 2 : 16;
        lbguard_fid_t *nv = realloc(seen->file, nc * sizeof(*nv));

        if (nv == NULL) {
            return -1;
        }
        seen->file = nv;
        seen->capfile = nc;
    }
    seen->file[seen->nfile].dev = st->st_dev;
    seen->file[seen->nfile].ino = st->st_ino;
    seen->file[seen->nfile].at = fl->n;
    seen->nfile++;
    return lbguard_files_add(fl, path);
}


/* how an input is named in messages: "<stdin>" for "-", else its path */
static const char *
lbguard_input_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}


/*
 * Drops from fl (collected with seen) every file whose identity an earlier
 * one has: the same file reached by two paths (given twice, a symbolic or
 * hard link to it, a file given and its directory), each said in seen->dup
 * naming the path kept. The order of the others is kept. Returns 0, or -1
 * when out of memory.
 */
static int
lbguard_files_dedupe(lbguard_files_t *fl, lbguard_seen_t *seen)
{
    lbguard_fid_t *id = seen->file;
    size_t         i, k, n = seen->nfile;
    size_t        *first; /* first[i]: the kept file v[i] repeats, or n */
    int            rc = 0;

    if (n != fl->n) {
        return -1;
    }
    if (n == 0) {
        return 0;
    }
    first = malloc(n * sizeof(*first));
    if (first == NULL) {
        return -1;
    }
    qsort(id, n, sizeof(*id), lbguard_cmp_fid);
    for (i = 0; i < n; i = k) {
        /* id[i] is the first of its identity (the lowest position) */
        first[id[i].at] = n;
        for (k = i + 1;
             k < n && id[k].dev == id[i].dev && id[k].ino == id[i].ino; k++)
        {
            first[id[k].at] = id[i].at;
        }
    }
    for (i = 0; i < n; i++) { /* said in the order of the inputs */
        if (first[i] != n
            && lbguard_collect_dup(seen, lbguard_input_name(fl->v[i]), "file",
                                   lbguard_input_name(fl->v[first[i]]))
                   != 0)
        {
            rc = -1;
        }
    }
    for (i = k = 0; i < n; i++) {
        if (first[i] == n) {
            fl->v[k++] = fl->v[i];
        } else {
            free(fl->v[i]);
        }
    }
    fl->n = k;
    seen->nfile = 0;
    free(first);
    return rc;
}


/* adds path (a file, "-", or a directory walked recursively, names sorted,
 * dot files skipped) to fl. What cannot be read (stat or opendir fails: a
 * missing file, a dangling symbolic link or one that points to itself; a
 * directory loop; a name too long) goes to bad (lbguard_collect_bad()) and
 * the walk goes on. A directory already walked by another path (given
 * twice, or reached through a symbolic link) is skipped, said in seen->dup;
 * the files are checked the same way once all are collected
 * (lbguard_files_dedupe()). up: the directories above path, NULL at the top.
 * Returns 0, or -1 when out of memory (message printed). */
static int
lbguard_collect(lbguard_files_t *fl, lbguard_files_t *bad,
                lbguard_seen_t *seen, const char *path,
                const lbguard_walk_t *up)
{
    struct stat           st;
    DIR                  *d;
    struct dirent        *de;
    lbguard_files_t       sub;
    lbguard_walk_t        here;
    const lbguard_walk_t *w;
    size_t                i;
    int                   rc = 0;

    if (strcmp(path, "-") == 0) {
        /* stdin, read once: "-" twice, or stdin redirected from a file
         * also given by its path, is a duplicate */
        if (fstat(0, &st) != 0) {
            memset(&st, 0, sizeof(st)); /* closed: reading it fails */
        }
        return lbguard_collect_file(fl, seen, path, &st);
    }
    if (stat(path, &st) != 0) {
        return lbguard_collect_bad(bad, path, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) {
        return lbguard_collect_file(fl, seen, path, &st);
    }
    for (w = up; w != NULL; w = w->up) {
        if (w->dev == st.st_dev && w->ino == st.st_ino) {
            char reason[LBGUARD_LOGS_WHY];

            snprintf(reason, sizeof(reason),
                     "a directory loop (the directory %s again), not read "
                     "twice",
                     w->path);
            return lbguard_collect_bad(bad, path, reason);
        }
    }
    for (i = 0; i < seen->dirpath.n; i++) {
        if (seen->dir[i].dev == st.st_dev && seen->dir[i].ino == st.st_ino) {
            return lbguard_collect_dup(seen, path, "directory",
                                       seen->dirpath.v[i]);
        }
    }
    if (seen->dirpath.n == seen->dirpath.cap) {
        size_t         nc = seen->dirpath.cap ? seen->dirpath.cap * 2 : 16;
        lbguard_fid_t *nv = realloc(seen->dir, nc * sizeof(*nv));

        if (nv == NULL) {
            return -1;
        }
        seen->dir = nv; /* dirpath grows to the same capacity below */
    }
    seen->dir[seen->dirpath.n].dev = st.st_dev;
    seen->dir[seen->dirpath.n].ino = st.st_ino;
    seen->dir[seen->dirpath.n].at = seen->dirpath.n;
    if (lbguard_files_add(&seen->dirpath, path) != 0) {
        return -1;
    }
    d = opendir(path);
    if (d == NULL) {
        return lbguard_collect_bad(bad, path, strerror(errno));
    }
    memset(&sub, 0, sizeof(sub));
    while ((de = readdir(d)) != NULL) {
        char p[4096];
        int  n;

        if (de->d_name[0] == '.') {
            continue;
        }
        n = snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
        if (n < 0 || (size_t) n >= sizeof(p)) {
            if (lbguard_collect_bad(bad, de->d_name, strerror(ENAMETOOLONG))
                != 0) {
                rc = -1;
            }
            continue;
        }
        if (lbguard_files_add(&sub, p) != 0) {
            rc = -1;
        }
    }
    closedir(d);
    if (sub.n > 1) { /* qsort() takes no NULL, even for 0 items */
        qsort(sub.v, sub.n, sizeof(char *), lbguard_cmp_str);
    }
    here.dev = st.st_dev;
    here.ino = st.st_ino;
    here.path = path;
    here.up = up;
    for (i = 0; i < sub.n; i++) {
        if (rc == 0 && lbguard_collect(fl, bad, seen, sub.v[i], &here) != 0) {
            rc = -1;
        }
        free(sub.v[i]);
    }
    free(sub.v);
    return rc;
}


/* --------------------------------------------------------------- merging */

/* prints the stored --lines row at row[0..avail) (up to its newline) with
 * class cls in its class column, when --lines is on and cls is shown */
static void
lbguard_print_row_as(const lbguard_agg_t *a, const char *row, size_t avail,
                     int cls)
{
    const char *nl, *tab, *rest;

    if (!a->o->lines
        || (a->o->class_mask != 0 && !(a->o->class_mask & (1u << cls))))
    {
        return;
    }
    nl = memchr(row, '\n', avail);
    tab = memchr(row, '\t', avail);
    if (nl == NULL || tab == NULL) {
        return;
    }
    rest = memchr(tab + 1, '\t', (size_t) (nl - tab));
    if (rest) {
        printf("%.*s\t%s%.*s", (int) (tab - row), row,
               lbguard_classes[cls].id, (int) (nl - rest + 1), rest);
    }
}


/* moves k of the n samples v[0..n) chosen at random to v[0..k)
 * (a partial Fisher-Yates shuffle with rng) */
static void
lbguard_gaps_pick(int64_t *v, size_t n, size_t k, uint64_t *rng)
{
    size_t  i, j;
    int64_t t;

    for (i = 0; i < k && i < n; i++) {
        j = i + (size_t) (lbguard_rng_next(rng) % (n - i));
        t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}


/*
 * Merges s's idle-gap sample into d's. Each is a uniform sample of its
 * reader's races (the reservoir in lbguard_agg_cb), of at most
 * LBGUARD_LOGS_GAP_CAP of ngaps races; the merged sample takes from each
 * in proportion to its race count, chosen at random, and ngaps counts
 * every race of both, as one reader of all the files would.
 */
static void
lbguard_gaps_merge(lbguard_agg_t *d, const lbguard_agg_t *s)
{
    static const size_t cap = LBGUARD_LOGS_GAP_CAP;
    size_t              nd = d->ngaps < cap ? d->ngaps : cap;
    size_t              ns = s->ngaps < cap ? s->ngaps : cap;
    size_t              kd, ks;
    int64_t             from_s[LBGUARD_LOGS_GAP_CAP];
    double              total = (double) d->ngaps + (double) s->ngaps;

    if (nd + ns <= cap) { /* both samples whole: every gap kept */
        memcpy(d->gaps + nd, s->gaps, ns * sizeof(int64_t));
        d->ngaps += s->ngaps;
        return;
    }
    /* nd + ns > cap: a share of cap from each, within what each holds */
    kd = (size_t) ((double) cap * (double) d->ngaps / total + 0.5);
    kd = kd > nd ? nd : kd;
    kd = kd < cap - ns ? cap - ns : kd;
    ks = cap - kd;
    lbguard_gaps_pick(d->gaps, nd, kd, &d->rng);
    memcpy(from_s, s->gaps, ns * sizeof(int64_t));
    lbguard_gaps_pick(from_s, ns, ks, &d->rng);
    memcpy(d->gaps + kd, from_s, ks * sizeof(int64_t));
    d->ngaps += s->ngaps;
}


static void
lbguard_agg_merge(lbguard_agg_t *d, const lbguard_agg_t *s)
{
    uint32_t *rmap, *tmap;
    size_t    i, c;

    d->lines += s->lines;
    d->requests += s->requests;
    d->s5xx += s->s5xx;
    d->lb_5xx += s->lb_5xx;
    d->target_5xx += s->target_5xx;
    d->failed += s->failed;
    d->n_alb += s->n_alb;
    d->n_clb += s->n_clb;
    d->n_haproxy += s->n_haproxy;
    d->skip_test += s->skip_test;
    d->skip_tcp += s->skip_tcp;
    d->skip_nlb += s->skip_nlb;
    d->skip_norequest += s->skip_norequest;
    for (i = 0; i < s->skip_bad && i < LBGUARD_LOGS_BAD_SHOWN; i++) {
        if (d->skip_bad + i < LBGUARD_LOGS_BAD_SHOWN) {
            memcpy(d->bad[d->skip_bad + i], s->bad[i], sizeof(s->bad[i]));
        }
    }
    d->skip_bad += s->skip_bad;
    d->skip_empty += s->skip_empty;
    d->filtered += s->filtered;
    d->read_error |= s->read_error;
    for (i = 0; i < s->unreadable && i < LBGUARD_LOGS_BAD_SHOWN; i++) {
        if (d->unreadable + i < LBGUARD_LOGS_BAD_SHOWN) {
            memcpy(d->unreadable_shown[d->unreadable + i],
                   s->unreadable_shown[i], sizeof(s->unreadable_shown[i]));
        }
    }
    d->unreadable += s->unreadable;
    for (i = 0; i < LBGUARD_LOGS_FINDINGS_CAP; i++) {
        d->fnd_count[i] += s->fnd_count[i];
    }
    rmap = malloc(s->routes.n * sizeof(uint32_t));
    tmap = malloc(s->targets.n * sizeof(uint32_t));
    if (rmap == NULL || tmap == NULL) {
        free(rmap);
        free(tmap);
        d->read_error = 1;
        return;
    }
    for (i = 0; i < s->routes.n; i++) {
        rmap[i] = i == 0
                      ? 0
                      : lbguard_names_id(&d->routes,
                                         s->routes.arena + s->routes.off[i],
                                         s->routes.len[i]);
        d->route_req[rmap[i]] += s->route_req[i];
        d->route_pending[rmap[i]] += s->route_pending[i];
    }
    for (i = 0; i < s->targets.n; i++) {
        tmap[i] = i == 0
                      ? 0
                      : lbguard_names_id(&d->targets,
                                         s->targets.arena + s->targets.off[i],
                                         s->targets.len[i]);
    }
    for (c = 0; c < LC_N; c++) {
        d->cls[c] += s->cls[c];
        d->confirmed[c] += s->confirmed[c];
        for (i = 0; i < s->routes.n; i++) {
            d->cls_route[c * LBGUARD_LOGS_ROUTE_CAP + rmap[i]] +=
                s->cls_route[c * LBGUARD_LOGS_ROUTE_CAP + i];
        }
        for (i = 0; i < s->targets.n; i++) {
            d->cls_target[c * LBGUARD_LOGS_TARGET_CAP + tmap[i]] +=
                s->cls_target[c * LBGUARD_LOGS_TARGET_CAP + i];
        }
        for (i = 0; i < s->nex[c] && d->nex[c] < (unsigned) d->o->examples;
             i++) {
            d->ex[c][d->nex[c]] = s->ex[c][i];
            d->ex[c][d->nex[c]++].route = rmap[s->ex[c][i].route];
        }
    }
    for (i = 0; i < s->npex && d->npex < 16; i++) {
        d->pex[d->npex] = s->pex[i];
        d->pex[d->npex++].route = rmap[s->pex[i].route];
    }
    for (i = 0; i < s->nminutes; i++) {
        const lbguard_minute_t *m = &s->minutes[i];
        uint32_t                mi = lbguard_minute_idx(d, m->minute);

        if (mi == UINT32_MAX) {
            d->over_requests += m->requests;
            d->over_5xx += m->s5xx;
            d->over_failed += m->failed;
            continue;
        }
        d->minutes[mi].requests += m->requests;
        d->minutes[mi].failed += m->failed;
        d->minutes[mi].s5xx += m->s5xx;
        for (c = 0; c < LC_N; c++) {
            d->minutes[mi].cls[c] += m->cls[c];
        }
    }
    lbguard_gaps_merge(d, s);
    for (i = 0; i < s->npending; i++) {
        if (d->npending < LBGUARD_LOGS_PENDING_CAP) {
            lbguard_pending_t p = s->pending[i];
            uint32_t          mi =
                p.minute == UINT32_MAX
                             ? UINT32_MAX
                             : lbguard_minute_idx(d, s->minutes[p.minute].minute);

            p.route = rmap[p.route];
            p.target = tmap[p.target];
            p.minute = mi;
            if (p.tsv != UINT32_MAX) {
                const char *row = s->tsv + p.tsv;
                const char *nl = memchr(row, '\n', s->tsv_used - p.tsv);
                size_t      n = nl ? (size_t) (nl - row) + 1 : 0;

                p.tsv = UINT32_MAX;
                if (n && d->tsv_used + n > d->tsv_cap) {
                    size_t nc = (d->tsv_cap ? d->tsv_cap * 2 : 65536) + n;
                    char  *nt = realloc(d->tsv, nc);

                    if (nt) {
                        d->tsv = nt;
                        d->tsv_cap = nc;
                    }
                }
                if (n && d->tsv_used + n <= d->tsv_cap) {
                    memcpy(d->tsv + d->tsv_used, row, n);
                    p.tsv = (uint32_t) d->tsv_used;
                    d->tsv_used += n;
                } else if (n) {
                    d->tsv_lost++;
                }
            }
            d->pending[d->npending++] = p;
        } else {
            /* beyond the cap: target-closed, as lbguard_agg_line() does */
            const lbguard_pending_t *p = &s->pending[i];

            d->pending_lost++;
            lbguard_count(
                d, LC_TARGET_CLOSED, rmap[p->route], tmap[p->target],
                p->minute == UINT32_MAX
                    ? UINT32_MAX
                    : lbguard_minute_idx(d, s->minutes[p->minute].minute),
                0);
            if (p->tsv != UINT32_MAX) {
                lbguard_print_row_as(d, s->tsv + p->tsv, s->tsv_used - p->tsv,
                                     LC_TARGET_CLOSED);
            }
        }
    }
    d->pending_lost += s->pending_lost;
    d->over_requests += s->over_requests;
    d->over_5xx += s->over_5xx;
    d->over_failed += s->over_failed;
    d->tsv_lost += s->tsv_lost;
    free(rmap);
    free(tmap);
}


/* settles the pending ALB 502s: a route that failed in >= repro_min
 * requests and >= repro_pct % of its requests -> malformed-response
 * (inferred), otherwise target-closed */
static void
lbguard_agg_resolve(lbguard_agg_t *a)
{
    size_t i;

    for (i = 0; i < a->npending; i++) {
        lbguard_pending_t *p = &a->pending[i];
        uint32_t f = a->route_pending[p->route], r = a->route_req[p->route];
        int      cls = (p->route != 0 && f >= a->o->repro_min
                   && (uint64_t) f * 100 >= (uint64_t) r * a->o->repro_pct)
                           ? LC_MALFORMED
                           : LC_TARGET_CLOSED;

        lbguard_count(a, cls, p->route, p->target, (uint32_t) p->minute, 0);
        if (p->tsv != UINT32_MAX) {
            lbguard_print_row_as(a, a->tsv + p->tsv, a->tsv_used - p->tsv,
                                 cls);
        }
    }
    for (i = 0; i < a->npex; i++) {
        uint32_t f = a->route_pending[a->pex[i].route],
                 r = a->route_req[a->pex[i].route];
        int cls = (a->pex[i].route != 0 && f >= a->o->repro_min
                   && (uint64_t) f * 100 >= (uint64_t) r * a->o->repro_pct)
                      ? LC_MALFORMED
                      : LC_TARGET_CLOSED;

        if (a->nex[cls] < (unsigned) a->o->examples) {
            a->ex[cls][a->nex[cls]++] = a->pex[i];
        }
    }
    a->npending = 0;
}


/* ---------------------------------------------------------------- output */

typedef struct {
    uint32_t id, count;
} lbguard_top_t;


static int
lbguard_cmp_top(const void *x, const void *y)
{
    const lbguard_top_t *a = x, *b = y;

    if (a->count != b->count) {
        return a->count < b->count ? 1 : -1;
    }
    return a->id < b->id ? -1 : a->id > b->id;
}


/* the top n ids of counts[0..len); returns how many (<= n) */
static size_t
lbguard_top(const uint32_t *counts, uint32_t len, lbguard_top_t *out,
            size_t n)
{
    size_t   k = 0, i;
    uint32_t id;

    for (id = 0; id < len; id++) {
        if (counts[id] == 0) {
            continue;
        }
        if (k < n) {
            out[k].id = id;
            out[k++].count = counts[id];
            qsort(out, k, sizeof(*out), lbguard_cmp_top);
        } else if (counts[id] > out[n - 1].count) {
            out[n - 1].id = id;
            out[n - 1].count = counts[id];
            qsort(out, n, sizeof(*out), lbguard_cmp_top);
        }
    }
    for (i = k; i < n; i++) {
        out[i].count = 0;
    }
    return k;
}


static const char *
lbguard_lb_name(const lbguard_agg_t *a)
{
    int kinds = (a->n_alb > 0) + (a->n_clb > 0) + (a->n_haproxy > 0);

    if (kinds > 1) {
        return "mixed";
    }
    if (a->n_alb) {
        return "aws-alb";
    }
    if (a->n_clb) {
        return "aws-clb";
    }
    if (a->n_haproxy) {
        return "haproxy";
    }
    return "none";
}


static const char *
lbguard_basis(const lbguard_agg_t *a, int cls)
{
    char b = a->n_alb   ? lbguard_classes[cls].basis_alb
             : a->n_clb ? lbguard_classes[cls].basis_clb
                        : lbguard_classes[cls].basis_haproxy;

    return b == 'd' ? "documented" : "inferred";
}


static int
lbguard_cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *) x, b = *(const int64_t *) y;

    return (a > b) - (a < b);
}


static int
lbguard_cmp_minute(const void *x, const void *y)
{
    const lbguard_minute_t *a = x, *b = y;

    return (a->minute > b->minute) - (a->minute < b->minute);
}


/* a minute is a burst when >= 5 requests failed in it and its failure
 * rate is >= 5 times that of the rest of the window (or the rest had no
 * failure), in a window of >= 3 minutes with requests */
static int
lbguard_burst(const lbguard_agg_t *a, const lbguard_minute_t *m)
{
    unsigned long rest_req, rest_failed;

    if (m->failed < 5 || m->requests == 0 || a->nminutes < 3) {
        return 0;
    }
    rest_req = a->requests - m->requests;
    rest_failed = a->failed - m->failed;
    if (rest_req == 0) {
        return 0;
    }
    return rest_failed == 0
           || (double) m->failed / m->requests
                  >= 5.0 * (double) rest_failed / (double) rest_req;
}


static void
lbguard_json_sv(const char *s, size_t n)
{
    lbguard_json_str(stdout, s, n);
}


/*
 * The report of lbguard logs --json (docs/logs.md): one JSON object on
 * stdout. est, med: the keep-alive estimate and the median idle gap in us
 * (0 when no race was seen); conf: its confidence ("none", "low", ...).
 */
static void
lbguard_print_json(lbguard_agg_t *a, unsigned long nfiles, int64_t est,
                   int64_t med, const char *conf)
{
    const lbguard_logs_opts_t *o = a->o;
    lbguard_top_t              top[64];
    size_t                     ntop, i;
    int                        c, first;
    double                     req = a->requests ? (double) a->requests : 1.0;

    printf("{\"lb\":\"%s\",\"input\":{\"files\":%lu,\"lines\":%lu,"
           "\"unreadable\":%lu,\"unreadable_inputs\":[",
           lbguard_lb_name(a), nfiles, a->lines, a->unreadable);
    for (i = 0; i < a->unreadable && i < LBGUARD_LOGS_BAD_SHOWN; i++) {
        printf(i ? "," : "");
        lbguard_json_sv(a->unreadable_shown[i],
                        strlen(a->unreadable_shown[i]));
    }
    printf("],\"duplicates\":%lu,\"duplicate_inputs\":[", a->duplicates);
    for (i = 0; i < a->duplicates && i < LBGUARD_LOGS_BAD_SHOWN; i++) {
        printf(i ? "," : "");
        lbguard_json_sv(a->duplicate_shown[i], strlen(a->duplicate_shown[i]));
    }
    printf("],"
           "\"skipped\":"
           "{\"test\":%lu,\"tcp\":%lu,\"nlb\":%lu,\"unparseable\":%lu,"
           "\"empty\":%lu,"
           "\"no_request\":%lu,\"filtered\":%lu},\"unparseable_examples\":[",
           a->skip_test, a->skip_tcp, a->skip_nlb, a->skip_bad, a->skip_empty,
           a->skip_norequest, a->filtered);
    for (i = 0; i < a->skip_bad && i < LBGUARD_LOGS_BAD_SHOWN; i++) {
        printf(i ? "," : "");
        lbguard_json_sv(a->bad[i], strlen(a->bad[i]));
    }
    printf("]},\"totals\":{\"lines\":%lu,\"requests\":%lu,\"5xx\":%lu,"
           "\"lb_generated_5xx\":%lu,\"target_generated_5xx\":%lu,"
           "\"failed\":%lu},"
           "\"classes\":[",
           a->lines, a->requests, a->s5xx, a->lb_5xx, a->target_5xx,
           a->failed);
    first = 1;
    for (c = 0; c < LC_N; c++) {
        if (a->cls[c] == 0 || (o->class_mask && !(o->class_mask & (1u << c))))
        {
            continue;
        }
        printf("%s{\"id\":\"%s\",\"count\":%lu,\"share\":%.6f,\"basis\":"
               "\"%s\","
               "\"confirmed\":%lu,\"target_fault\":%s,\"fix\":",
               first ? "" : ",", lbguard_classes[c].id, a->cls[c],
               a->cls[c] / req, lbguard_basis(a, c), a->confirmed[c],
               lbguard_classes[c].target_fault ? "true" : "false");
        first = 0;
        lbguard_json_sv(lbguard_classes[c].fix,
                        strlen(lbguard_classes[c].fix));
        printf(",\"targets\":[");
        ntop = lbguard_top(a->cls_target
                               + (size_t) c * LBGUARD_LOGS_TARGET_CAP,
                           a->targets.n, top, (size_t) o->top);
        for (i = 0; i < ntop; i++) {
            printf("%s{\"target\":", i ? "," : "");
            lbguard_json_sv(a->targets.arena + a->targets.off[top[i].id],
                            a->targets.len[top[i].id]);
            printf(",\"count\":%u}", top[i].count);
        }
        printf("],\"routes\":[");
        ntop = lbguard_top(a->cls_route + (size_t) c * LBGUARD_LOGS_ROUTE_CAP,
                           a->routes.n, top, (size_t) o->top);
        for (i = 0; i < ntop; i++) {
            printf("%s{\"route\":", i ? "," : "");
            lbguard_json_sv(a->routes.arena + a->routes.off[top[i].id],
                            a->routes.len[top[i].id]);
            printf(",\"count\":%u,\"requests\":%u}", top[i].count,
                   a->route_req[top[i].id]);
        }
        printf("],\"target_findings\":[");
        if (c == LC_MALFORMED && a->join) {
            ntop = lbguard_top(a->fnd_count, a->join->findings.n, top,
                               (size_t) o->top);
            for (i = 0; i < ntop; i++) {
                printf("%s{\"findings\":", i ? "," : "");
                lbguard_json_sv(a->join->findings.arena
                                    + a->join->findings.off[top[i].id],
                                a->join->findings.len[top[i].id]);
                printf(",\"count\":%u}", top[i].count);
            }
        }
        printf("],\"examples\":[");
        for (i = 0; i < a->nex[c]; i++) {
            printf(i ? "," : "");
            lbguard_json_sv(a->ex[c][i].line, a->ex[c][i].len);
        }
        printf("]}");
    }
    printf("],\"timeline\":[");
    first = 1;
    for (i = 0; i < a->nminutes; i++) {
        const lbguard_minute_t *m = &a->minutes[i];
        char                    t[32];
        int                     fc = 1;

        if (m->failed == 0) {
            continue;
        }
        lbguard_fmt_time(m->minute * 60000000, t, sizeof(t), 1);
        printf("%s{\"minute\":\"%s\",\"requests\":%u,\"5xx\":%u,"
               "\"failed\":%u,"
               "\"burst\":%s,\"classes\":{",
               first ? "" : ",", t, m->requests, m->s5xx, m->failed,
               lbguard_burst(a, m) ? "true" : "false");
        first = 0;
        for (c = 0; c < LC_N; c++) {
            if (m->cls[c]) {
                printf("%s\"%s\":%u", fc ? "" : ",", lbguard_classes[c].id,
                       m->cls[c]);
                fc = 0;
            }
        }
        printf("}}");
    }
    printf("],\"timeline_omitted\":{\"requests\":%lu,\"5xx\":%lu,"
           "\"failed\":%lu},",
           a->over_requests, a->over_5xx, a->over_failed);
    printf("\"keepalive_estimate\":{\"races\":%lu,\"seconds\":", a->ngaps);
    if (a->ngaps) {
        printf("%.3f,\"median_gap\":%.6f,\"min_gap\":%.6f", est / 1e6,
               med / 1e6, a->gaps[0] / 1e6);
    } else {
        printf("null,\"median_gap\":null,\"min_gap\":null");
    }
    printf(",\"confidence\":\"%s\"}}\n", conf);
}


/* The text report of lbguard logs, as lbguard_print_json() with its
 * arguments. */
static void
lbguard_print_text(lbguard_agg_t *a, unsigned long nfiles, int64_t est,
                   int64_t med, const char *conf)
{
    const lbguard_logs_opts_t *o = a->o;
    lbguard_top_t              top[64];
    size_t                     ntop, i, k;
    int                        c;
    double                     req = a->requests ? (double) a->requests : 1.0;


    printf("lbguard logs: %lu input%s, %lu lines, load balancer %s\n", nfiles,
           nfiles == 1 ? "" : "s", a->lines, lbguard_lb_name(a));
    printf("  requests %lu, 5xx %lu (%.3f %%): LB-generated %lu, "
           "target-generated %lu\n",
           a->requests, a->s5xx, 100.0 * a->s5xx / req, a->lb_5xx,
           a->target_5xx);
    printf(
        "  skipped: %lu test line%s, %lu TCP listener line%s, %lu NLB "
        "line%s, "
        "%lu unparseable, %lu empty, %lu without a request (HAProxy CR/cR), "
        "%lu outside the filters\n",
        a->skip_test, a->skip_test == 1 ? "" : "s", a->skip_tcp,
        a->skip_tcp == 1 ? "" : "s", a->skip_nlb, a->skip_nlb == 1 ? "" : "s",
        a->skip_bad, a->skip_empty, a->skip_norequest, a->filtered);
    for (i = 0; i < a->skip_bad && i < LBGUARD_LOGS_BAD_SHOWN; i++) {
        printf("  unparseable: %s\n", a->bad[i]);
    }
    if (a->unreadable) {
        printf("  unreadable inputs: %lu, read in part or not at all (exit "
               "status 2)\n",
               a->unreadable);
    }
    for (i = 0; i < a->unreadable && i < LBGUARD_LOGS_BAD_SHOWN; i++) {
        printf("  unreadable: ");
        lbguard_put_esc(a->unreadable_shown[i],
                        strlen(a->unreadable_shown[i]));
        printf("\n");
    }
    if (a->duplicates) {
        printf("  duplicate inputs: %lu, skipped (a file or directory "
               "another input reached)\n",
               a->duplicates);
    }
    for (i = 0; i < a->duplicates && i < LBGUARD_LOGS_BAD_SHOWN; i++) {
        printf("  duplicate: ");
        lbguard_put_esc(a->duplicate_shown[i], strlen(a->duplicate_shown[i]));
        printf("\n");
    }
    printf("\n%-26s %8s %9s  %-10s %9s\n", "class", "count", "share", "basis",
           "confirmed");
    for (c = 0; c < LC_N; c++) {
        if (a->cls[c] == 0 || (o->class_mask && !(o->class_mask & (1u << c))))
        {
            continue;
        }
        printf("%-26s %8lu %8.3f%%  %-10s %9lu\n", lbguard_classes[c].id,
               a->cls[c], 100.0 * a->cls[c] / req, lbguard_basis(a, c),
               a->confirmed[c]);
        printf("    fix: %s\n", lbguard_classes[c].fix);
        ntop = lbguard_top(a->cls_target
                               + (size_t) c * LBGUARD_LOGS_TARGET_CAP,
                           a->targets.n, top, (size_t) o->top);
        printf("    targets:");
        for (i = 0; i < ntop; i++) {
            printf("%s ", i ? "," : "");
            lbguard_put_esc(a->targets.arena + a->targets.off[top[i].id],
                            a->targets.len[top[i].id]);
            printf(" (%u)", top[i].count);
        }
        ntop = lbguard_top(a->cls_route + (size_t) c * LBGUARD_LOGS_ROUTE_CAP,
                           a->routes.n, top, (size_t) o->top);
        printf("\n    routes:");
        for (i = 0; i < ntop; i++) {
            printf("%s ", i ? "," : "");
            lbguard_put_esc(a->routes.arena + a->routes.off[top[i].id],
                            a->routes.len[top[i].id]);
            printf(" (%u of %u)", top[i].count, a->route_req[top[i].id]);
        }
        printf("\n");
        if (c == LC_MALFORMED && a->join) {
            ntop = lbguard_top(a->fnd_count, a->join->findings.n, top,
                               (size_t) o->top);
            printf("    the target's lbguard findings (confirmed):");
            for (i = 0; i < ntop; i++) {
                printf("%s ", i ? "," : "");
                lbguard_put_esc(a->join->findings.arena
                                    + a->join->findings.off[top[i].id],
                                a->join->findings.len[top[i].id]);
                printf(" (%u)", top[i].count);
            }
            printf("%s\n", ntop ? "" : " none");
        } else if (c == LC_MALFORMED) {
            printf("    not confirmed: no --target-log; inferred from %s\n",
                   a->n_haproxy ? "HAProxy's termination state PH"
                   : a->n_clb
                       ? "the Classic ELB's 502 with backend status - or 0"
                       : "routes that fail repeatedly (--repro-min, "
                         "--repro-pct)");
        }
    }
    printf("\ntimeline (minutes with failed requests; burst: >= 5 failed and "
           ">= 5x "
           "the failure rate of the other minutes)\n");
    for (i = 0, k = 0; i < a->nminutes; i++) {
        const lbguard_minute_t *m = &a->minutes[i];
        char                    t[32];

        if (m->failed == 0) {
            continue;
        }
        if (++k > 200) {
            printf("  ... (--json has every minute)\n");
            break;
        }
        lbguard_fmt_time(m->minute * 60000000, t, sizeof(t), 1);
        printf("  %s  requests %u  5xx %u ", t, m->requests, m->s5xx);
        for (c = 0; c < LC_N; c++) {
            if (m->cls[c]) {
                printf(" %s %u", lbguard_classes[c].id, m->cls[c]);
            }
        }
        printf("%s\n", lbguard_burst(a, m)
                           ? "  [burst: a deploy or a failing target, "
                             "not a background race]"
                           : "");
    }
    if (a->over_requests) {
        printf("  not in the timeline: %lu requests (5xx %lu, failed %lu) "
               "in minutes beyond its %d (31 days); they are in the totals "
               "and classes: narrow the window with --since/--until\n",
               a->over_requests, a->over_5xx, a->over_failed,
               LBGUARD_LOGS_MINUTE_CAP);
    }
    if (a->ngaps) {
        printf("\nkeep-alive estimate: %lu races followed idle gaps of >= "
               "%.3f s "
               "(10th percentile; median %.3f s, min %.3f s) -> the target "
               "closes idle "
               "connections after ~%.1f s (confidence %s)\n",
               a->ngaps, est / 1e6, med / 1e6, a->gaps[0] / 1e6, est / 1e6,
               conf);
    } else {
        printf("\nkeep-alive estimate: none (no keep-alive race with a known "
               "previous "
               "request to the same target)\n");
    }
    printf("\nexamples\n");
    for (c = 0; c < LC_N; c++) {
        if (o->class_mask && !(o->class_mask & (1u << c))) {
            continue;
        }
        for (i = 0; i < a->nex[c]; i++) {
            printf("  %s: ", lbguard_classes[c].id);
            lbguard_put_esc(a->ex[c][i].line, a->ex[c][i].len);
            printf("\n");
        }
    }
}


static void
lbguard_print_report(lbguard_agg_t *a, unsigned long nfiles)
{
    int64_t     est = 0, med = 0;
    const char *conf = "none";

    qsort(a->minutes, a->nminutes, sizeof(lbguard_minute_t),
          lbguard_cmp_minute);
    if (a->ngaps > 0) {
        size_t n = a->ngaps < LBGUARD_LOGS_GAP_CAP ? a->ngaps
                                                   : LBGUARD_LOGS_GAP_CAP;

        qsort(a->gaps, n, sizeof(int64_t), lbguard_cmp_i64);
        est = a->gaps[n / 10];
        med = a->gaps[n / 2];
        conf = a->ngaps < 10 ? "low" : a->ngaps < 50 ? "medium" : "high";
    }

    if (a->o->json) {
        lbguard_print_json(a, nfiles, est, med, conf);
    } else {
        lbguard_print_text(a, nfiles, est, med, conf);
    }
}


/* ------------------------------------------------------------- command */

static const char logs_usage[] =
    "usage: lbguard logs [options] [FILE|DIR|-]...\n"
    "\n"
    "Classifies every 5xx (and ALB 460) in load-balancer access logs by its\n"
    "cause: AWS ALB, AWS Classic ELB and HAProxy `option httplog` lines,\n"
    "plain or gzip (any number of members), files, directories (recursive,\n"
    "sorted) or stdin. Fetch AWS logs first, e.g.\n"
    "  aws s3 cp --recursive "
    "s3://BUCKET/AWSLogs/ACCOUNT/elasticloadbalancing/REGION/2026/10/01/ "
    "logs/\n"
    "\n"
    "  --target-log FILE    the target's access log (nginx/Apache) with the\n"
    "                       trace id (Root=...) or rid=<request id> and\n"
    "                       lbguard=<findings> on each line; repeatable\n"
    "  --json               one JSON object\n"
    "  --lines              one TSV row per failed request (time, class, "
    "elb,\n"
    "                       target status, three times, delta, target, "
    "route,\n"
    "                       trace id, conn_trace_id or termination state,\n"
    "                       confirmed)\n"
    "  --since T --until T  line time, RFC 3339 (2026-10-01T12:00:00Z) or "
    "HH:MM UTC\n"
    "  --target IP[:PORT]   only this target (HAProxy: backend/server)\n"
    "  --class LIST         only these classes (comma-separated ids)\n"
    "  --race-max-tpt DUR   ALB: longest target time of a keep-alive race "
    "(10ms)\n"
    "  --repro-min N        ALB: failed requests of a route before it counts "
    "as\n"
    "  --repro-pct P        malformed (3, and 50 %% of its requests)\n"
    "  --top N              targets and routes shown per class (5)\n"
    "  --examples N         raw example lines per class (3, at most 10)\n"
    "  --jobs N             read N files at a time (threads)\n"
    "\n"
    "exit status: 0 no failed request in a target-fault class, 1 at least "
    "one,\n"
    "2 usage error or unreadable input. See docs/logs.md.\n";


static int
lbguard_opt_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    long  x;

    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        return -1;
    }
    *out = (int) x;
    return 0;
}


static int
lbguard_opt_time(const char *v, int64_t *abs_us, int64_t *tod)
{
    int64_t t, off = 0;
    size_t  n;

    if (strlen(v) == 5 && v[2] == ':') {
        {
            char b[32];

            snprintf(b, sizeof(b), "1970-01-01T%s", v);
            t = lbguard_log_iso_time(b, strlen(b));
        }
        if (t == LBGUARD_T_NONE) {
            return -1;
        }
        *tod = t;
        return 0;
    }
    n = strlen(v);
    /* RFC 3339's numeric offset, "+02:00" or "-05:30", instead of "Z" */
    if (n > 6 && (v[n - 6] == '+' || v[n - 6] == '-') && v[n - 3] == ':'
        && (v[n - 5] >= '0' && v[n - 5] <= '9')
        && (v[n - 4] >= '0' && v[n - 4] <= '9')
        && (v[n - 2] >= '0' && v[n - 2] <= '9')
        && (v[n - 1] >= '0' && v[n - 1] <= '9'))
    {
        off = ((v[n - 5] - '0') * 10 + (v[n - 4] - '0')) * 60
              + (v[n - 2] - '0') * 10 + (v[n - 1] - '0');
        if (off / 60 > 23 || off % 60 > 59 || v[n - 7] == 'Z') {
            return -1;
        }
        off *= (v[n - 6] == '-' ? -60 : 60) * (int64_t) 1000000;
        n -= 6;
    }
    t = lbguard_log_iso_time(v, n);
    if (t == LBGUARD_T_NONE) {
        return -1;
    }
    *abs_us = t - off;
    return 0;
}


typedef struct {
    lbguard_agg_t *agg;
    int            rc;
} lbguard_job_t;


static void *
lbguard_job_run(void *arg)
{
    lbguard_job_t *j = arg;
    char          *buf = malloc(LBGUARD_LOGS_BUF);
    char           why[LBGUARD_LOGS_WHY];
    size_t         i;

    if (buf == NULL) {
        j->rc = -1;
        return NULL;
    }
    for (i = 0; i < j->agg->nfiles; i++) {
        if (lbguard_read_input(j->agg->files[i], lbguard_agg_cb, j->agg, buf,
                               why)
            != 0)
        {
            lbguard_agg_unreadable(j->agg, why);
        }
    }
    free(buf);
    return NULL;
}


/* LBGUARD_LOGS_STATS set: prints this process's peak resident memory
 * (VmHWM of /proc/self/status, which starts again at exec, unlike
 * ru_maxrss) on stderr, "lbguard: logs: peak RSS <n> kB", for the bench and
 * the tests */
static void
lbguard_print_hwm(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char  line[256];

    if (f == NULL) {
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        unsigned long kb;

        if (sscanf(line, "VmHWM: %lu kB", &kb) == 1) {
            lbguard_err("logs", "peak RSS %lu kB", kb);
        }
    }
    fclose(f);
}


/*
 * Reads the options and inputs of "lbguard logs" (logs_usage) into o, in
 * (the access logs) and tl (--target-log files), whose defaults the caller
 * set; the access logs that cannot be read go to bad ("<path>: <reason>",
 * lbguard_collect()); seen and tseen: what in and tl hold, by identity,
 * for lbguard_files_dedupe() and directories met twice. Returns 0, 1 after --help (printed), or -1 after a
 * usage error, an unreadable --target-log or out of memory (printed on
 * stderr).
 */
static int
lbguard_logs_options(int argc, char **argv, lbguard_logs_opts_t *o,
                     lbguard_files_t *in, lbguard_files_t *tl,
                     lbguard_files_t *bad, lbguard_seen_t *seen,
                     lbguard_seen_t *tseen)
{
    const char *v;
    int         i, r, c;
    uint64_t    ms;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(logs_usage, stdout);
            return 1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--lines") == 0) {
            o->lines = 1;
            continue;
        }
        if (strcmp(a, "-") == 0 || a[0] != '-') {
            if (lbguard_collect(in, bad, seen, a, NULL) != 0) {
                lbguard_logs_err("out of memory");
                return -1;
            }
            continue;
        }
#define LBG_OPT(name)                                                        \
    ((r = lbguard_opt_value("logs", argc, argv, &i, name, &v)) < 0           \
         ? (lbguard_logs_note("option '" name "' needs a value"), 1)         \
         : r != 0)
        if (LBG_OPT("--target-log")) {
            lbguard_files_t tbad;
            size_t          k;

            if (r < 0) {
                return -1;
            }
            /* the join needs every target log: one it cannot read is an
             * error, not a gap in the report */
            memset(&tbad, 0, sizeof(tbad));
            r = lbguard_collect(tl, &tbad, tseen, v, NULL);
            if (r != 0 || tbad.n > 0) {
                if (r != 0) {
                    lbguard_logs_err("out of memory");
                }
                lbguard_logs_note(tbad.n > 0 ? tbad.v[0] : "out of memory");
                for (k = 0; k < tbad.n; k++) {
                    free(tbad.v[k]);
                }
                free(tbad.v);
                return -1;
            }
        } else if (LBG_OPT("--since")) {
            if (r < 0
                || lbguard_opt_time(v, &o->since_us, &o->since_tod) != 0) {
                lbguard_logs_err("--since: '%s' is not RFC 3339 or HH:MM",
                                 r < 0 ? "" : v);
                return -1;
            }
        } else if (LBG_OPT("--until")) {
            if (r < 0
                || lbguard_opt_time(v, &o->until_us, &o->until_tod) != 0) {
                lbguard_logs_err("--until: '%s' is not RFC 3339 or HH:MM",
                                 r < 0 ? "" : v);
                return -1;
            }
        } else if (LBG_OPT("--target")) {
            if (r < 0) {
                return -1;
            }
            if (v[0] == '\0') {
                lbguard_logs_err("--target: empty (IP[:PORT], or "
                                 "backend[/server] for HAProxy)");
                return -1;
            }
            o->target = v;
        } else if (LBG_OPT("--class")) {
            char  tmp[512];
            char *tok, *save = NULL;

            if (r < 0) {
                return -1;
            }
            snprintf(tmp, sizeof(tmp), "%s", v);
            for (tok = strtok_r(tmp, ",", &save); tok;
                 tok = strtok_r(NULL, ",", &save)) {
                for (c = 0; c < LC_N; c++) {
                    if (strcmp(tok, lbguard_classes[c].id) == 0) {
                        o->class_mask |= 1u << c;
                        break;
                    }
                }
                if (c == LC_N) {
                    lbguard_logs_err("--class: unknown class '%s'", tok);
                    return -1;
                }
            }
        } else if (LBG_OPT("--race-max-tpt")) {
            if (r < 0 || lbguard_parse_duration(v, &ms) != 0) {
                lbguard_logs_err("--race-max-tpt: not a duration");
                return -1;
            }
            o->race_max_us = (int64_t) ms * 1000;
        } else if (LBG_OPT("--repro-min")) {
            int x;

            if (r < 0 || lbguard_opt_int(v, 1, 1000000, &x) != 0) {
                lbguard_logs_err("--repro-min: not a count");
                return -1;
            }
            o->repro_min = (unsigned) x;
        } else if (LBG_OPT("--repro-pct")) {
            int x;

            if (r < 0 || lbguard_opt_int(v, 0, 100, &x) != 0) {
                lbguard_logs_err("--repro-pct: not a percentage");
                return -1;
            }
            o->repro_pct = (unsigned) x;
        } else if (LBG_OPT("--top")) {
            if (r < 0 || lbguard_opt_int(v, 1, 64, &o->top) != 0) {
                lbguard_logs_err("--top: 1 to 64");
                return -1;
            }
        } else if (LBG_OPT("--examples")) {
            if (r < 0
                || lbguard_opt_int(v, 0, LBGUARD_LOGS_EX_MAX, &o->examples)
                       != 0) {
                lbguard_logs_err("--examples: 0 to %d", LBGUARD_LOGS_EX_MAX);
                return -1;
            }
        } else if (LBG_OPT("--jobs")) {
            if (r < 0 || lbguard_opt_int(v, 1, 64, &o->jobs) != 0) {
                lbguard_logs_err("--jobs: 1 to 64");
                return -1;
            }
        } else {
            lbguard_logs_err(
                "unknown option '%s' (see 'lbguard logs --help')", a);
            return -1;
        }
#undef LBG_OPT
    }
    return 0;
}


/*
 * Loads the --target-log files tl (the target's own access logs with
 * $lbguard_findings) into join, reading with buf (LBGUARD_LOGS_BUF bytes).
 * Returns 0, or -1 after an error (printed on stderr); join's tables are
 * then for the caller to free.
 */
static int
lbguard_logs_join_load(lbguard_join_t *join, const lbguard_files_t *tl,
                       char *buf)
{
    size_t f;
    char   why[LBGUARD_LOGS_WHY];

    memset(join, 0, sizeof(*join));
    if (lbguard_names_init(&join->keys, 1u << 22, (size_t) 48 << 22) != 0
        || lbguard_names_init(&join->findings, LBGUARD_LOGS_FINDINGS_CAP,
                              1 << 20)
               != 0
        || (join->finding_id = calloc(1u << 22, sizeof(uint32_t))) == NULL)
    {
        lbguard_logs_err("out of memory");
        return -1;
    }
    join->finding_id[0] = 0;
    (void) lbguard_names_id(&join->findings, "-", 1);
    for (f = 0; f < tl->n; f++) {
        if (lbguard_read_input(tl->v[f], lbguard_join_cb, join, buf, why)
            != 0) {
            lbguard_logs_note(why);
            return -1;
        }
    }
    return 0;
}


int
lbguard_cmd_logs(int argc, char **argv)
{
    lbguard_logs_opts_t o;
    lbguard_files_t     in, tl, bad;
    lbguard_seen_t      seen, tseen;
    lbguard_join_t      join, *jp = NULL;
    lbguard_agg_t      *aggs = NULL;
    lbguard_job_t      *jobs = NULL;
    pthread_t          *th = NULL;
    pthread_mutex_t     lock = PTHREAD_MUTEX_INITIALIZER;
    char               *buf = NULL;
    int                 i, r, c, rc = LBGUARD_EXIT_USAGE, fault = 0, nagg = 0;
    int                 json = 0, reported = 0;
    size_t              f;

    /* --json anywhere on the line: even a usage error before it is
     * answered with a JSON document */
    lbguard_logs_errmsg[0] = '\0';
    for (i = 1; i < argc; i++) {
        json |= strcmp(argv[i], "--json") == 0;
    }
    memset(&o, 0, sizeof(o));
    memset(&in, 0, sizeof(in));
    memset(&tl, 0, sizeof(tl));
    memset(&bad, 0, sizeof(bad));
    memset(&seen, 0, sizeof(seen));
    memset(&tseen, 0, sizeof(tseen));
    o.top = 5;
    o.examples = 3;
    o.jobs = 1;
    o.since_us = o.until_us = LBGUARD_T_NONE;
    o.since_tod = o.until_tod = -1;
    o.race_max_us = 10000;
    o.repro_min = 3;
    o.repro_pct = 50;

    r = lbguard_logs_options(argc, argv, &o, &in, &tl, &bad, &seen, &tseen);
    if (r != 0) {
        rc = r > 0 ? LBGUARD_EXIT_OK : LBGUARD_EXIT_USAGE;
        goto done;
    }
    /* each file once: the same file reached by two paths is skipped (a
     * duplicate --target-log is said on stderr only) */
    if (lbguard_files_dedupe(&in, &seen) != 0
        || lbguard_files_dedupe(&tl, &tseen) != 0)
    {
        lbguard_logs_err("out of memory");
        goto done;
    }
    if (in.n == 0 && bad.n == 0) {
        lbguard_logs_err("no input (FILE, DIR or - for stdin)");
        goto done;
    }
    if (o.json && o.lines) {
        lbguard_logs_err("--json and --lines are exclusive");
        goto done;
    }
    /* an empty window is a mistake, not a report of nothing (a time of day
     * window may cross midnight: lbguard_time_ok()) */
    if ((o.since_us != LBGUARD_T_NONE && o.until_us != LBGUARD_T_NONE
         && o.since_us >= o.until_us)
        || (o.since_tod >= 0 && o.since_tod == o.until_tod))
    {
        lbguard_logs_err("--since is not before --until: no line can be in "
                         "the window");
        goto done;
    }

    buf = malloc(LBGUARD_LOGS_BUF);
    if (buf == NULL) {
        lbguard_logs_err("out of memory");
        goto done;
    }
    if (tl.n > 0) {
        jp = &join;
        if (lbguard_logs_join_load(&join, &tl, buf) != 0) {
            goto done;
        }
    }

    nagg = o.jobs < (int) in.n ? o.jobs : (int) in.n;
    if (nagg < 1) {
        nagg = 1;
    }
    aggs = calloc((size_t) nagg, sizeof(lbguard_agg_t));
    jobs = calloc((size_t) nagg, sizeof(lbguard_job_t));
    th = calloc((size_t) nagg, sizeof(pthread_t));
    if (aggs == NULL || jobs == NULL || th == NULL) {
        lbguard_logs_err("out of memory");
        goto done;
    }
    for (i = 0; i < nagg; i++) {
        if (lbguard_agg_init(&aggs[i], &o, jp) != 0) {
            lbguard_logs_err("out of memory");
            nagg = i + 1;
            goto done;
        }
        aggs[i].out_lock = nagg > 1 ? &lock : NULL;
        aggs[i].files = malloc((in.n ? in.n : 1) * sizeof(char *));
        if (aggs[i].files == NULL) {
            lbguard_logs_err("out of memory");
            nagg = i + 1;
            goto done;
        }
    }
    for (f = 0; f < in.n; f++) {
        lbguard_agg_t *a = &aggs[f % (size_t) nagg];

        a->files[a->nfiles++] = in.v[f];
    }
    for (f = 0; f < bad.n; f++) { /* found unreadable while collecting */
        lbguard_agg_unreadable(&aggs[0], bad.v[f]);
    }
    for (f = 0; f < seen.dup.n; f++) { /* skipped as duplicates */
        lbguard_agg_duplicate(&aggs[0], seen.dup.v[f]);
    }
    if (o.lines) {
        printf("# "
               "time\tclass\telb_status\ttarget_status\trequest_time\ttarget_"
               "time\t"
               "response_time\tdelta\ttarget\troute\ttrace_id\tconn_or_"
               "term\tconfirmed\n");
    }
    if (nagg == 1) {
        jobs[0].agg = &aggs[0];
        lbguard_job_run(&jobs[0]);
    } else {
        for (i = 0; i < nagg; i++) {
            jobs[i].agg = &aggs[i];
            if (pthread_create(&th[i], NULL, lbguard_job_run, &jobs[i]) != 0)
            {
                lbguard_logs_err("cannot start a thread");
                goto done;
            }
        }
        for (i = 0; i < nagg; i++) {
            pthread_join(th[i], NULL);
        }
        for (i = 1; i < nagg; i++) {
            lbguard_agg_merge(&aggs[0], &aggs[i]);
        }
    }
    for (i = 0; i < nagg; i++) {
        if (jobs[i].rc != 0) {
            aggs[0].read_error = 1;
        }
    }
    lbguard_agg_resolve(&aggs[0]);
    if (!o.lines) {
        lbguard_print_report(&aggs[0], (unsigned long) in.n);
        reported = 1;
    }
    if (aggs[0].pending_lost) {
        lbguard_err(
            "logs",
            "%lu ALB 502s beyond %d pending were counted as target-closed",
            aggs[0].pending_lost, LBGUARD_LOGS_PENDING_CAP);
    }
    if (aggs[0].tsv_lost) {
        lbguard_err("logs",
                    "--lines: %lu rows of ALB 502s left to the route rule "
                    "were not printed (their buffer is full); they are in "
                    "the counts: narrow the window with --since/--until",
                    aggs[0].tsv_lost);
    }
    for (c = 0; c < LC_N; c++) {
        if (lbguard_classes[c].target_fault && aggs[0].cls[c] > 0
            && (o.class_mask == 0 || (o.class_mask & (1u << c))))
        {
            fault = 1;
        }
    }
    if (lbguard_flush_stdout("logs") != 0) {
        aggs[0].read_error = 1;
    }
    if (getenv("LBGUARD_LOGS_STATS") != NULL) {
        lbguard_print_hwm();
    }
    rc = aggs[0].read_error ? LBGUARD_EXIT_USAGE
         : fault            ? LBGUARD_EXIT_FINDINGS
                            : LBGUARD_EXIT_OK;

done:
    if (rc == LBGUARD_EXIT_USAGE && json && !reported) {
        /* no report: a script reading --json still gets one document */
        const char *m = lbguard_logs_errmsg[0] ? lbguard_logs_errmsg
                                               : "usage error";

        printf("{\"error\":");
        lbguard_json_str(stdout, m, strlen(m));
        printf("}\n");
        (void) lbguard_flush_stdout("logs");
    }
    if (aggs) {
        for (i = 0; i < nagg; i++) {
            free(aggs[i].files);
            lbguard_agg_free(&aggs[i]);
        }
    }
    free(aggs);
    free(jobs);
    free(th);
    if (jp) {
        lbguard_names_free(&join.keys);
        lbguard_names_free(&join.findings);
        free(join.finding_id);
    }
    for (f = 0; f < in.n; f++) {
        free(in.v[f]);
    }
    free(in.v);
    for (f = 0; f < tl.n; f++) {
        free(tl.v[f]);
    }
    free(tl.v);
    for (f = 0; f < bad.n; f++) {
        free(bad.v[f]);
    }
    free(bad.v);
    lbguard_seen_free(&seen);
    lbguard_seen_free(&tseen);
    free(buf);
    return rc;
}
