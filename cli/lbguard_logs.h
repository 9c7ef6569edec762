/*
 * lbguard_logs.h -- `lbguard logs`: the line parser for load-balancer access
 * logs (AWS ALB, AWS Classic ELB, HAProxy `option httplog`) and the
 * subcommand's entry point. Internal to the CLI (cli/); the parser has no
 * dependency on the rest of the tool so that the fuzz target
 * (tests/fuzz/fuzz_logs.c) links lbguard_logs_parse.c alone.
 *
 * The parser allocates nothing: every text field of a parsed line is a view
 * (pointer + length) into the caller's buffer, valid while that buffer is.
 * It never reads outside [line, line + len) and treats every byte as
 * hostile (no NUL termination is assumed).
 */

#ifndef LBGUARD_LOGS_H
#define LBGUARD_LOGS_H

#include <stddef.h>
#include <stdint.h>

/* A view of bytes inside a caller's buffer; len 0 and p possibly NULL when
 * the field is absent. */
typedef struct {
    const char *p;
    size_t      len;
} lbguard_sv_t;

/* What one line is (lbguard_log_parse's return value). */
typedef enum {
    LBGUARD_LINE_BAD = 0, /* not parseable as any known format */
    LBGUARD_LINE_ALB,     /* AWS Application Load Balancer access log */
    LBGUARD_LINE_CLB,     /* AWS Classic ELB access log (HTTP listener) */
    LBGUARD_LINE_HAPROXY, /* HAProxy `option httplog` (raw or syslog) */
    LBGUARD_LINE_CLB_TCP, /* Classic ELB TCP/SSL listener line: skipped */
    LBGUARD_LINE_NLB,     /* AWS NLB (`tls 2.0 ...`) line: skipped */
    LBGUARD_LINE_TEST,    /* "Enable AccessLog for ELB: ..." test line */
    LBGUARD_LINE_EMPTY    /* empty or blank line */
} lbguard_line_kind_e;

/* A duration field absent or logged as -1 ("not reached"). */
#define LBGUARD_T_NONE  INT64_MIN
#define LBGUARD_T_MINUS (-1)

/*
 * One parsed access-log line. Times are microseconds (durations) or
 * microseconds since the Unix epoch, UTC (instants); LBGUARD_T_NONE when
 * absent or unparseable. A duration logged as "-1" is LBGUARD_T_MINUS.
 * Status codes: 100..599 (RFC 9110, 15), 0 for ALB's "000" and the CLB's
 * backend "0", -1 for "-" (or absent); a line with any other value in a
 * status field is LBGUARD_LINE_BAD.
 */
typedef struct {
    lbguard_line_kind_e kind;
    int                 nfields; /* tokens found (ALB/CLB) */

    lbguard_sv_t time;             /* ALB: field 2 (response sent); CLB
                                        field 1; HAProxy: accept date */
    lbguard_sv_t elb;              /* ALB field 3 / CLB field 2 / HAProxy
                                        frontend name */
    lbguard_sv_t client;           /* client ip:port, as logged */
    lbguard_sv_t target;           /* target ip:port, "-"; HAProxy:
                                        backend/server */
    lbguard_sv_t request;          /* request line, unquoted ("GET url
                                        HTTP/1.1"); escapes left in place */
    lbguard_sv_t user_agent;       /* ALB/CLB field, quotes removed */
    lbguard_sv_t trace_id;         /* ALB field 18 (X-Amzn-Trace-Id);
                                        HAProxy: first captured request
                                        header ({...}), the request id */
    lbguard_sv_t actions;          /* ALB field 23 */
    lbguard_sv_t error_reason;     /* ALB field 25 */
    lbguard_sv_t conn_trace_id;    /* ALB field 30 (TID_...) */
    lbguard_sv_t transform_status; /* ALB field 33 */
    lbguard_sv_t term;             /* HAProxy termination state (4 chars
                                        with option httplog, e.g. "SH--") */

    int64_t t_us;          /* instant of `time` */
    int64_t created_us;    /* ALB field 22 (request received);
                                        HAProxy: accept date + TR + Tw + Tc;
                                        else LBGUARD_T_NONE */
    int64_t rpt_us;        /* ALB/CLB request_processing_time;
                                        HAProxy: Tw (queue) */
    int64_t tpt_us;        /* ALB/CLB target/backend processing
                                        time; HAProxy: Tr (server response
                                        headers), -1 when none came */
    int64_t rspt_us;       /* ALB/CLB response_processing_time;
                                        HAProxy: Tc (connect) */
    int64_t total_us;      /* HAProxy Ta (total active time) */
    int     elb_status;    /* status the LB sent the client */
    int     target_status; /* status the target sent; HAProxy:
                                        -1 (not logged separately) */
} lbguard_logline_t;

/*
 * Parses line[0..len) (without its LF; a trailing CR is ignored) into *out.
 * Recognises, by the line itself: an ALB line (first token one of http,
 * https, h2, grpcs, ws, wss; at least the 12 unquoted leading fields; any
 * layout from 18 fields to any number of appended fields, list fields
 * quoted or not, a backslash inside quoted fields read as
 * lbguard_quote_reading() in lbguard_logs_parse.c decides), a CLB line
 * (first token an ISO 8601 timestamp; 15 fields; a TCP listener line, request
 * "- - - ", is LBGUARD_LINE_CLB_TCP), HAProxy's `option httplog` line
 * (with or without a syslog header up to "haproxy[pid]: "), NLB lines and
 * AWS's "Enable AccessLog for ELB" test lines. Returns out->kind.
 * Allocates nothing; reads no byte outside the given length.
 */
lbguard_line_kind_e lbguard_log_parse(const char *line, size_t len,
                                      lbguard_logline_t *out);

/*
 * Parses an ISO 8601 / RFC 3339 UTC instant "YYYY-MM-DDTHH:MM:SS[.f]Z"
 * (the 'T' may be a space; the seconds, fraction and 'Z' optional) in
 * s[0..len). Returns microseconds since the epoch, or LBGUARD_T_NONE.
 */
int64_t lbguard_log_iso_time(const char *s, size_t len);

/*
 * Parses a decimal seconds value ("0.001", "4.205", "-1") in s[0..len).
 * Returns microseconds, LBGUARD_T_MINUS for any negative value, or
 * LBGUARD_T_NONE when s is not a number.
 */
int64_t lbguard_log_seconds(const char *s, size_t len);

/* Entry point of `lbguard logs` (argv[0] is "logs"); returns an exit
 * status (LBGUARD_EXIT_*). */
int lbguard_cmd_logs(int argc, char **argv);

#endif /* LBGUARD_LOGS_H */
