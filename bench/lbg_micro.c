/*
 * lbg_micro.c -- the core alone: lbg_check() in repair mode on the view of
 * the benchmark's nginx response (status 200, 12 conformant fields), run N
 * times. bench.py runs it under callgrind with two N values, so that
 * (Ir(N2) - Ir(N1)) / (N2 - N1) is the core's cost of checking one
 * response, with no server around it and with line-level attribution
 * (liblbg.a is built with -g).
 *
 * Usage: lbg_micro N [nginx] [quick] [bad] [FILE]
 *   N      number of lbg_check() calls; prints the total number of findings
 *          (0 expected);
 *   FILE   the fields to check instead of the built-in 12: one field line
 *          per line, "name: value" (split at the first ": ", any bytes but
 *          LF in the value), at most LBG_MICRO_MAX fields and 64 KB; the
 *          benchmark writes the header sets' responses (header_sets.py)
 *          there. With nginx, the fields named Server, Date,
 *          Content-Length and Connection are the trusted ones;
 *   nginx  mark the four fields nginx writes itself (Server, Date,
 *          Content-Length, Connection) `trusted`, as the nginx adapter does;
 *          without it every field's bytes are scanned;
 *   bad    (with FILE) one more field, "X-Bad: a<0x01>b", a
 *          field-value-ctl finding: lbg_check() on a response with a
 *          finding (prints N, one finding per call);
 *   quick  the quick pass instead (lbg_quick_init, lbg_quick_field on every
 *          field, lbg_quick_clean), what the adapters run on every response;
 *          prints the number of passes that were not clean (0 expected).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbg_quick.h"


#define LBG_MICRO_FIELD(n, v)                                                \
    {                                                                        \
        (const unsigned char *) n, sizeof(n) - 1, (const unsigned char *) v, \
            sizeof(v) - 1, 0, 0                                              \
    }

#define LBG_MICRO_NFIELDS 12
#define LBG_MICRO_MAX     256

/* The fields of the nginx response in docs/bench.md, in wire order. */
static lbg_field_t lbg_micro_fields[LBG_MICRO_NFIELDS] = {
    LBG_MICRO_FIELD("Server", "nginx/1.22.1"),                /* host-made */
    LBG_MICRO_FIELD("Date", "Sun, 22 Nov 2026 01:06:18 GMT"), /* host-made */
    LBG_MICRO_FIELD("Content-Type", "text/plain"),
    LBG_MICRO_FIELD("Content-Length", "33"),     /* host-made */
    LBG_MICRO_FIELD("Connection", "keep-alive"), /* host-made */
    LBG_MICRO_FIELD("X-Bench-1", "value 1"),
    LBG_MICRO_FIELD("X-Bench-2", "value 2"),
    LBG_MICRO_FIELD("X-Bench-3", "value 3"),
    LBG_MICRO_FIELD("X-Bench-4", "value 4"),
    LBG_MICRO_FIELD("X-Bench-5", "value 5"),
    LBG_MICRO_FIELD("X-Bench-6", "value 6"),
    LBG_MICRO_FIELD("X-Bench-7", "value 7"),
};


/* The fields of FILE (see the usage above) into f[]; returns their number,
 * or -1 when FILE cannot be read or has a line without ": ". */
static long
lbg_micro_read(const char *path, lbg_field_t *f, unsigned char *buf,
               size_t cap)
{
    FILE          *fp = fopen(path, "rb");
    size_t         len, i, s, e;
    long           n = 0;
    unsigned char *colon;

    if (fp == NULL) {
        return -1;
    }
    len = fread(buf, 1, cap, fp);
    fclose(fp);
    for (s = 0; s < len && n < LBG_MICRO_MAX; s = e + 1) {
        for (e = s; e < len && buf[e] != '\n'; e++) {
            /* the line's end */
        }
        if (e == s) {
            continue;
        }
        colon = NULL;
        for (i = s; i + 1 < e; i++) {
            if (buf[i] == ':' && buf[i + 1] == ' ') {
                colon = buf + i;
                break;
            }
        }
        if (colon == NULL) {
            return -1;
        }
        memset(&f[n], 0, sizeof(f[n]));
        f[n].name = buf + s;
        f[n].name_len = (size_t) (colon - (buf + s));
        f[n].value = colon + 2;
        f[n].value_len = (size_t) (buf + e - (colon + 2));
        n++;
    }
    return n;
}


/* 1 when field f is named s (exactly) */
static int
lbg_micro_named(const lbg_field_t *f, const char *s)
{
    return f->name_len == strlen(s) && memcmp(f->name, s, f->name_len) == 0;
}


int
main(int argc, char **argv)
{
    static lbg_field_t   file_fields[LBG_MICRO_MAX];
    static unsigned char file_buf[65536];
    lbg_field_t         *fields = lbg_micro_fields;
    long                 nfields = LBG_MICRO_NFIELDS;
    long                 i, n;
    size_t               total = 0;
    lbg_policy_t         p;
    lbg_response_t       r;
    lbg_report_t         rep;
    lbg_finding_t        findings[LBG_FINDINGS_MAX];
    lbg_edit_t           edits[LBG_EDITS_MAX];
    lbg_quick_t          q;
    size_t               k;
    int                  nginx = 0, quick = 0, bad = 0;

    if (argc < 2 || (n = strtol(argv[1], NULL, 10)) < 0) {
        fprintf(stderr, "usage: lbg_micro N [nginx] [quick]\n");
        return 2;
    }
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "nginx") == 0) {
            nginx = 1;
        } else if (strcmp(argv[i], "quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "bad") == 0) {
            bad = 1;
        } else {
            nfields = lbg_micro_read(argv[i], file_fields, file_buf,
                                     sizeof(file_buf));
            if (nfields < 0) {
                fprintf(stderr, "lbg_micro: cannot read fields from %s\n",
                        argv[i]);
                return 2;
            }
            fields = file_fields;
        }
    }

    if (bad && fields == file_fields && nfields < LBG_MICRO_MAX) {
        memset(&fields[nfields], 0, sizeof(fields[nfields]));
        fields[nfields].name = (const unsigned char *) "X-Bad";
        fields[nfields].name_len = 5;
        fields[nfields].value = (const unsigned char *) "a\001b";
        fields[nfields].value_len = 3;
        nfields++;
    }

    if (nginx && fields == file_fields) {
        for (i = 0; i < nfields; i++) {
            fields[i].trusted = lbg_micro_named(&fields[i], "Server")
                                || lbg_micro_named(&fields[i], "Date")
                                || lbg_micro_named(&fields[i],
                                                   "Content-Length")
                                || lbg_micro_named(&fields[i], "Connection");
        }
    } else if (nginx) {
        lbg_micro_fields[0].trusted = 1; /* Server */
        lbg_micro_fields[1].trusted = 1; /* Date */
        lbg_micro_fields[3].trusted = 1; /* Content-Length */
        lbg_micro_fields[4].trusted = 1; /* Connection */
    }

    lbg_policy_init(&p, LBG_PROFILE_STRICTEST);
    p.mode = LBG_MODE_REPAIR;
    if (fields == file_fields) {
        /* the header sets' budget in the benchmark (bench.py SET_BUDGET) */
        lbg_policy_header_budget(&p, 32768);
        p.max_fields = 100;
    }

    memset(&r, 0, sizeof(r));
    r.version = 11;
    r.status = 200;
    r.fields = fields;
    r.nfields = (size_t) nfields;

    if (quick) {
        for (i = 0; i < n; i++) {
            /* the fields may have changed: nothing is hoisted out of the
             * loop */
            __asm__ volatile("" ::: "memory");
            lbg_quick_init(&q);
            for (k = 0; k < (size_t) nfields; k++) {
                lbg_quick_field(&q, fields[k].name, fields[k].name_len,
                                fields[k].value, fields[k].value_len,
                                fields[k].trusted);
            }
            total += !lbg_quick_clean(&p, &q, 200, NULL, 0);
        }
        printf("%zu\n", total);
        return 0;
    }

    for (i = 0; i < n; i++) {
        lbg_report_init(&rep, findings, LBG_FINDINGS_MAX, edits,
                        LBG_EDITS_MAX);
        total += lbg_check(&p, &r, &rep);
    }

    printf("%zu\n", total);
    return 0;
}
