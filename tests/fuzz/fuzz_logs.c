/*
 * fuzz_logs.c -- libFuzzer target for the access-log line parser of
 * `lbguard logs` (cli/lbguard_logs_parse.c).
 *
 * The input is one line (no LF needed). It is copied into a buffer of
 * exactly its length, so ASan catches any read past the end, then parsed;
 * the target aborts when a field view points outside the line, a kind is
 * out of range, a status code is not -1, 0 or 100..599, or the parse of
 * the same bytes differs between two calls (no hidden state). Seeds: the
 * files of tests/logs/ (whole files work too: the parser stops at nothing,
 * a file is just a long line).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lbguard_logs.h"


static void
inside(const lbguard_sv_t *v, const char *b, size_t n)
{
    if (v->len == 0) {
        return;
    }
    if (v->p < b || v->p + v->len > b + n) {
        abort();
    }
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lbguard_logline_t a, b;
    char             *buf = malloc(size ? size : 1);
    size_t            i;

    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data, size);
    lbguard_log_parse(buf, size, &a);
    if (a.kind > LBGUARD_LINE_EMPTY) {
        abort();
    }
    {
        const lbguard_sv_t *vs[] = {&a.time,
                                    &a.elb,
                                    &a.client,
                                    &a.target,
                                    &a.request,
                                    &a.user_agent,
                                    &a.trace_id,
                                    &a.actions,
                                    &a.error_reason,
                                    &a.conn_trace_id,
                                    &a.transform_status,
                                    &a.term};

        for (i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
            inside(vs[i], buf, size);
        }
    }
    /* a status is -1, 0 or 100..599 (RFC 9110, 15) */
    if (a.elb_status < -1 || a.elb_status > 599
        || (a.elb_status > 0 && a.elb_status < 100) || a.target_status < -1
        || a.target_status > 599
        || (a.target_status > 0 && a.target_status < 100))
    {
        abort();
    }
    lbguard_log_parse(buf, size, &b);
    if (memcmp(&a, &b, sizeof(a)) != 0) {
        abort();
    }
    (void) lbguard_log_seconds(buf, size);
    (void) lbguard_log_iso_time(buf, size);
    free(buf);
    return 0;
}
