/*
 * lbg_micro.c -- the core alone: lbg_check() in repair mode on the view of
 * the benchmark's nginx response (status 200, 12 conformant fields), run N
 * times. bench.py runs it under callgrind with two N values, so that
 * (Ir(N2) - Ir(N1)) / (N2 - N1) is the core's cost of checking one
 * response, with no server around it and with line-level attribution
 * (liblbg.a is built with -g).
 *
 * Usage: lbg_micro N [nginx] [quick]
 *   N      number of lbg_check() calls; prints the total number of findings
 *          (0 expected);
 *   nginx  mark the four fields nginx writes itself (Server, Date,
 *          Content-Length, Connection) `trusted`, as the nginx adapter does;
 *          without it every field's bytes are scanned;
 *   quick  the quick pass instead (lbg_quick_init, lbg_quick_field on every
 *          field, lbg_quick_clean), what the adapters run on every response;
 *          prints the number of passes that were not clean (0 expected).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbg.h"


#define LBG_MICRO_FIELD(n, v)                                                 \
    { (const unsigned char *) n, sizeof(n) - 1,                               \
      (const unsigned char *) v, sizeof(v) - 1, 0, 0 }

#define LBG_MICRO_NFIELDS 12

/* The fields of the nginx response in docs/bench.md, in wire order. */
static lbg_field_t lbg_micro_fields[LBG_MICRO_NFIELDS] = {
    LBG_MICRO_FIELD("Server", "nginx/1.22.1"),          /* host-made */
    LBG_MICRO_FIELD("Date", "Sun, 22 Nov 2026 01:06:18 GMT"), /* host-made */
    LBG_MICRO_FIELD("Content-Type", "text/plain"),
    LBG_MICRO_FIELD("Content-Length", "33"),            /* host-made */
    LBG_MICRO_FIELD("Connection", "keep-alive"),        /* host-made */
    LBG_MICRO_FIELD("X-Bench-1", "value 1"),
    LBG_MICRO_FIELD("X-Bench-2", "value 2"),
    LBG_MICRO_FIELD("X-Bench-3", "value 3"),
    LBG_MICRO_FIELD("X-Bench-4", "value 4"),
    LBG_MICRO_FIELD("X-Bench-5", "value 5"),
    LBG_MICRO_FIELD("X-Bench-6", "value 6"),
    LBG_MICRO_FIELD("X-Bench-7", "value 7"),
};


int
main(int argc, char **argv)
{
    long            i, n;
    size_t          total = 0;
    lbg_policy_t    p;
    lbg_response_t  r;
    lbg_report_t    rep;
    lbg_finding_t   findings[LBG_FINDINGS_MAX];
    lbg_edit_t      edits[LBG_EDITS_MAX];
    lbg_quick_t     q;
    size_t          k;
    int             nginx = 0, quick = 0;

    if (argc < 2 || (n = strtol(argv[1], NULL, 10)) < 0) {
        fprintf(stderr, "usage: lbg_micro N [nginx] [quick]\n");
        return 2;
    }
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "nginx") == 0) {
            nginx = 1;
        } else if (strcmp(argv[i], "quick") == 0) {
            quick = 1;
        } else {
            fprintf(stderr, "usage: lbg_micro N [nginx] [quick]\n");
            return 2;
        }
    }

    if (nginx) {
        lbg_micro_fields[0].trusted = 1;    /* Server */
        lbg_micro_fields[1].trusted = 1;    /* Date */
        lbg_micro_fields[3].trusted = 1;    /* Content-Length */
        lbg_micro_fields[4].trusted = 1;    /* Connection */
    }

    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.mode = LBG_MODE_REPAIR;

    memset(&r, 0, sizeof(r));
    r.version = 11;
    r.status = 200;
    r.fields = lbg_micro_fields;
    r.nfields = LBG_MICRO_NFIELDS;

    if (quick) {
        for (i = 0; i < n; i++) {
            /* the fields may have changed: nothing is hoisted out of the
             * loop */
            __asm__ volatile("" ::: "memory");
            lbg_quick_init(&q);
            for (k = 0; k < LBG_MICRO_NFIELDS; k++) {
                lbg_quick_field(&q, lbg_micro_fields[k].name,
                                lbg_micro_fields[k].name_len,
                                lbg_micro_fields[k].value,
                                lbg_micro_fields[k].value_len,
                                lbg_micro_fields[k].trusted);
            }
            total += !lbg_quick_clean(&p, &q, 200, NULL, 0);
        }
        printf("%zu\n", total);
        return 0;
    }

    for (i = 0; i < n; i++) {
        lbg_report_init(&rep, findings, LBG_FINDINGS_MAX, edits, LBG_EDITS_MAX);
        total += lbg_check(&p, &r, &rep);
    }

    printf("%zu\n", total);
    return 0;
}
