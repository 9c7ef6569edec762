/*
 * lbguard_cli.h -- internal interfaces shared by the lbguard command-line
 * tool's source files (cli/). Not installed; not part of the core API
 * (that is common/lbg.h).
 */

#ifndef LBGUARD_CLI_H
#define LBGUARD_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lbg_raw.h"

/* Exit statuses of every subcommand (docs/cli.md, "Exit status"). */
#define LBGUARD_EXIT_OK 0 /* clean, or findings below --fail-on */
#define LBGUARD_EXIT_FINDINGS                                                \
    1 /* findings at or above --fail-on; repair
                                   refused; keep-alive too short */
#define LBGUARD_EXIT_USAGE                                                   \
    2 /* usage error, unreadable input, network
                                   failure */

/* The largest response the tool reads, in bytes (from a file, stdin or the
 * network): 64 MiB. */
#define LBGUARD_INPUT_MAX ((size_t) 64 * 1024 * 1024)

/* Entry points of the subcommands: argv[0] is the subcommand's name.
 * Each returns an exit status (LBGUARD_EXIT_*). */
int lbguard_cmd_check(int argc, char **argv);
int lbguard_cmd_repair(int argc, char **argv);
int lbguard_cmd_rules(int argc, char **argv);
int lbguard_cmd_probe(int argc, char **argv);

/* Prints "lbguard: <cmd>: <message>\n" on stderr (printf-style), one line:
 * a control byte of the message (from a path, a URL, an option's value)
 * is written \xHH. */
void lbguard_err(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/*
 * One parse of a raw response with every array the core needs, sized for
 * the input: fields[] holds every field line of the header section (at
 * least 1024), so no line is lost to the array's capacity.
 */
typedef struct {
    lbg_policy_t   policy;
    lbg_raw_t      raw;
    lbg_report_t   rep;
    lbg_field_t   *fields;
    size_t         fields_cap;
    lbg_finding_t *findings;
    lbg_edit_t    *edits;
    int parse_rc; /* lbg_parse's return: 0, or -1 (no status line) */
} lbguard_result_t;

/*
 * Runs lbg_parse on buf[0..len) under `profile` (the profile's budgets from
 * lbg_policy_init, mode REPAIR so that edits are recorded); head is 1 for a
 * response to HEAD. Returns 0, or -1 when memory runs out (message printed
 * for `cmd`). Free with lbguard_result_free.
 */
int lbguard_analyse(const char *cmd, lbguard_result_t *res,
                    lbg_profile_e profile, const unsigned char *buf,
                    size_t len, int head);

/* Releases what lbguard_analyse allocated. */
void lbguard_result_free(lbguard_result_t *res);

/* At most this many interim responses before the final one. */
#define LBGUARD_INTERIM_MAX 16

/*
 * The responses of one input (RFC 9110 15.2): the interim responses (1xx
 * other than 101) in wire order, each followed on the same connection by
 * the next response, up to the final one (status >= 200, or 101: what
 * follows a 101 is another protocol and stays unchecked). msg[k] is a parse
 * of buf[off[k]..len) (lbguard_analyse); a finding's bytes point into buf.
 * An interim response ends with its header section and the body its
 * Content-Length announced (raw.interim_body: body-on-bodiless); the next
 * response starts there. no_final: the input ends right after the interim
 * response msg[n - 1]. too_many: more than LBGUARD_INTERIM_MAX interim
 * responses (the rest is not parsed).
 */
typedef struct {
    lbguard_result_t msg[LBGUARD_INTERIM_MAX + 1];
    size_t           off[LBGUARD_INTERIM_MAX + 1];
    size_t           n; /* responses parsed, at least 1 */
    int              no_final;
    int              too_many;
} lbguard_chain_t;

/* 1 when `res` is an interim response: a status line and a whole header
 * section with status 100..199 other than 101. */
int lbguard_is_interim(const lbguard_result_t *res);

/* Parses every response of buf[0..len) into *ch as lbguard_analyse does;
 * returns 0, or -1 when memory runs out (message printed for `cmd`). Free
 * with lbguard_chain_free. */
int lbguard_analyse_chain(const char *cmd, lbguard_chain_t *ch,
                          lbg_profile_e profile, const unsigned char *buf,
                          size_t len, int head);

/* Releases what lbguard_analyse_chain allocated. */
void lbguard_chain_free(lbguard_chain_t *ch);

/* lbguard_fails over every response of the chain. */
int lbguard_chain_fails(const lbguard_chain_t *ch, lbg_tier_e fail_on);

/* Prints the findings of every response of ch (a parse of buf[0..len)):
 * a single final response exactly as lbguard_print_findings; otherwise one
 * line per response ("<label>: response 2 (200 OK), after 1 interim
 * response") before its findings, and a closing line when no final
 * response follows. */
void lbguard_print_chain(FILE *out, const char *label,
                         const lbguard_chain_t *ch, const unsigned char *buf,
                         size_t len);

/* --fail-on's default: a finding that a load balancer of the profile
 * rejects, whatever its tier (issue 9). */
#define LBGUARD_FAIL_REJECTED LBG_TIER_COMPLIANT

/* Returns 1 when the report holds a finding at or above tier `fail_on`, or
 * for LBGUARD_FAIL_REJECTED one the profile's load balancers reject. */
int lbguard_fails(const lbguard_result_t *res, lbg_tier_e fail_on);

/*
 * Prints the findings of `res` (a parse of buf[0..len)) on `out` as text:
 * a header line naming `label` and the profile, then one block per
 * finding (rule id and name, tier, line and byte offset, escaped bytes,
 * the log line, which load balancers reject it, the repair).
 * `repaired` chooses the outcome wording of the log lines
 * (lbg_finding_format). The JSON form is lbguard_json_findings.
 */
void lbguard_print_findings(FILE *out, const char *label,
                            const lbguard_result_t *res,
                            const unsigned char *buf, size_t len,
                            int repaired);

/* Writes s[0..len) as a JSON string literal (quotes included; \, " and
 * bytes outside 0x20-0x7e escaped as \u00XX). In lbguard_json.c. */
void lbguard_json_str(FILE *out, const char *s, size_t len);

/* Writes the names of the load balancers in `mask` (LBG_LB_* bits), each
 * by its profile name (LBG_LB_NGINX_122 is "nginx-1.22"), as
 * "haproxy, nginx" (text) or a JSON array; "none" / [] when empty. */
void lbguard_print_lbs(FILE *out, unsigned mask, int json);

/*
 * Parses a duration: a decimal number with an optional fraction and unit
 * "ms", "s" (the default), "m" or "h"; e.g. "60", "2.5s", "500ms", "1m".
 * Returns 0 and sets *ms (milliseconds, rounded down), or -1.
 */
int lbguard_parse_duration(const char *s, uint64_t *ms);

/*
 * Option parsing shared by the subcommands. lbguard_opt_value() matches
 * argv[*i] against "--name value" or "--name=value"; returns 1 and sets
 * *value (advancing *i past a separate value), 0 when argv[*i] is not that
 * option, or -1 (message printed) when the value is missing.
 */
int lbguard_opt_value(const char *cmd, int argc, char **argv, int *i,
                      const char *name, const char **value);

/* Parses --profile and --fail-on values; return 0, or -1 with a message. */
int lbguard_opt_profile(const char *cmd, const char *v, lbg_profile_e *out);
int lbguard_opt_tier(const char *cmd, const char *v, lbg_tier_e *out);

/* The monotonic clock (CLOCK_MONOTONIC) in microseconds. */
int64_t lbguard_now_us(void);

/* Flushes stdout; 0, or -1 after a write error on it (now or earlier, e.g. a
 * full disk), reported on stderr as "lbguard: <cmd>: cannot write output". */
int lbguard_flush_stdout(const char *cmd);

/* ASCII case-insensitive comparison of a[0..n) and the NUL-terminated b:
 * 1 when equal (b exactly n bytes long), else 0. */
int lbguard_ieq(const char *a, size_t n, const char *b);

/*
 * The JSON writer (lbguard_json.c). Values are written in order; the writer
 * puts the commas between siblings and nothing after a key, so an emitter
 * calls key/value pairs and begin/end only. Objects and arrays nest up to
 * LBGUARD_JSON_DEPTH levels (deeper levels lose their comma bookkeeping).
 * Write errors are the FILE's (checked by the caller's fflush).
 */
#define LBGUARD_JSON_DEPTH 8

typedef struct {
    FILE         *out;
    size_t        depth;                     /* open objects/arrays */
    unsigned char first[LBGUARD_JSON_DEPTH]; /* 1: level holds nothing yet */
    unsigned char lines[LBGUARD_JSON_DEPTH]; /* 1: "\n" before each element */
    int           after_key;                 /* a key awaits its value */
} lbguard_json_t;

/* Starts a writer on `out` at the top level. */
void lbguard_json_init(lbguard_json_t *j, FILE *out);

/* Opens an object (open '{') or an array ('['); with lines = 1 every
 * member or element starts on a new line ("[\n{..},\n{..}"). */
void lbguard_json_begin(lbguard_json_t *j, char open, int lines);

/* Closes the innermost object ('}') or array (']'). */
void lbguard_json_end(lbguard_json_t *j, char close);

/* Writes "key": in the open object (key NUL-terminated, escaped). */
void lbguard_json_key(lbguard_json_t *j, const char *key);

/* Values: a string s[0..len) or NUL-terminated (escaped as
 * lbguard_json_str), an unsigned or signed decimal integer, true/false,
 * null. */
void lbguard_json_string(lbguard_json_t *j, const char *s, size_t len);
void lbguard_json_cstr(lbguard_json_t *j, const char *s);
void lbguard_json_uint(lbguard_json_t *j, uint64_t v);
void lbguard_json_int(lbguard_json_t *j, int64_t v);
void lbguard_json_bool(lbguard_json_t *j, int v);
void lbguard_json_null(lbguard_json_t *j);

/* Writes a bare newline (layout only; no separator bookkeeping). */
void lbguard_json_newline(lbguard_json_t *j);

/* Writes the names of the load balancers in `mask` as a JSON array value
 * (as lbguard_print_lbs with json = 1). */
void lbguard_json_lbs(lbguard_json_t *j, unsigned mask);

/* The findings of `res` (a parse of buf[0..len)) as members of the open
 * object: "profile", "head", ..., "findings": [...] (the JSON form of
 * lbguard_print_findings). */
void lbguard_json_findings(lbguard_json_t *j, const lbguard_result_t *res,
                           const unsigned char *buf, size_t len,
                           int repaired);

/* The members of lbguard_json_findings for the last response of ch (the
 * final one, or the interim response the input ends with), then
 * "final_response" (false: the input ends after an interim response),
 * "offset" (where that response starts in buf) and "interim": one object
 * per interim response before it ("offset", "status", "header_len",
 * "worst", "truncated", "unrepairable", "findings": [...] as above). */
void lbguard_json_chain(lbguard_json_t *j, const lbguard_chain_t *ch,
                        const unsigned char *buf, size_t len);

/*
 * Table-driven options (lbguard_opt_match): one row per option of a
 * subcommand. A FLAG takes no value (exact "--name" or its alias) and sets
 * *(int *) target to 1; the others take "--name value" or "--name=value":
 * STRING stores it in *(const char **) target; DURATION / DURATION_POS
 * parse it with lbguard_parse_duration into *(uint64_t *) target (POS:
 * 0 is refused), "bad --name 'value'" otherwise; PROFILE and TIER use
 * lbguard_opt_profile / lbguard_opt_tier; FN calls fn(cmd, value, target),
 * which returns 0, or -1 after printing its message.
 */
typedef enum {
    LBGUARD_OPT_FLAG = 0,
    LBGUARD_OPT_STRING,
    LBGUARD_OPT_DURATION,
    LBGUARD_OPT_DURATION_POS,
    LBGUARD_OPT_PROFILE,
    LBGUARD_OPT_TIER,
    LBGUARD_OPT_FN
} lbguard_opt_kind_e;

typedef struct {
    const char        *name;  /* "--margin" */
    const char        *alias; /* "-k", or NULL (flags only) */
    lbguard_opt_kind_e kind;
    void              *target;
    int (*fn)(const char *cmd, const char *value, void *target);
} lbguard_opt_t;

/* Matches argv[*i] against opts[0..n): returns 1 when it was one of them
 * (value stored, *i advanced past a separate value), 0 when none, or -1
 * (message printed for `cmd`) for a missing or bad value. */
int lbguard_opt_match(const char *cmd, int argc, char **argv, int *i,
                      const lbguard_opt_t *opts, size_t n);

#endif /* LBGUARD_CLI_H */
