/*
 * lbg_quick.h -- the adapters' fast path: the inline quick pass over a
 * response's fields, before (and usually instead of) lbg_check(). Public,
 * for adapters; the CLI and tools need lbg.h only.
 *
 * Its inline bodies are compiled into the adapter, but they are tied to the
 * core's build: an adapter must include this header from the same tree
 * that built the core it links (the out-of-line halves, lbg__quick_slow()
 * and lbg__quick_end(), are the core's and may change with it). The
 * layout of lbg_quick_t does not depend on the SIMD flags (SSE2 or not,
 * LBG_NO_SIMD or not): translation units built with different flags can
 * share one. Depends on lbg.h and the internal lbg_simd.h (SSE2
 * intrinsics where available).
 */

#ifndef LBG_QUICK_H
#define LBG_QUICK_H

#include "lbg.h"
#include "lbg_simd.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The quick pass: a cheaper first look that lets an adapter skip building
 * the view when a response is clean, which almost every response is.
 *
 *     lbg_quick_t q;
 *     lbg_quick_init(&q);
 *     for each field, in any order: lbg_quick_field(&q, ...);
 *     if (lbg_quick_clean(&policy, &q, status, status_line, len))
 *         nothing to report or repair: skip lbg_check
 *     else
 *         build the view and call lbg_check
 *
 * The contract, tested over the raw-case corpus, random views and the
 * fuzzer: when lbg_quick_clean() returns 1, lbg_check() on the same
 * response (same fields with the same `trusted` flags, same status and
 * status line, HEAD or not) would record no finding and no edit under any
 * profile, and neither would lbg_check_interim() on its status: every 1xx
 * goes to the full path. The byte checks are exact: a field name of any length and any
 * tchar, a value of any length with HTAB, obs-text or quotes never sends
 * a response to lbg_check. 0 means "look closer" only for the message
 * framing lbg_check decides itself (two Content-Length fields, a
 * Content-Length on a 204, a Transfer-Encoding other than "chunked") and
 * for a response that does break a rule.
 *
 * With SSE2 (every x86-64) every untrusted field is checked inline, 16
 * bytes per instruction, with one classification of every byte (names:
 * the tchar that header names use, RFC 9110 5.6.2; values: field-vchar,
 * SP, HTAB, RFC 9110 5.5); the value verdicts are folded into one
 * accumulator that lbg_quick_clean() reads once. A name with a rarer
 * tchar ('!', '#', '$', '%', '&', '\'', '*', '+', '|', '~'), a Content-
 * Length of more than 16 digits or a Transfer-Encoding goes through
 * lbg__quick_slow(), a value of LBG_SCAN_LONG bytes or more through
 * lbg_scan_value() (32 bytes per instruction with AVX2, chosen at run
 * time); both are exact. Without SSE2, or with LBG_NO_SIMD defined, every
 * untrusted field goes through lbg__quick_slow().
 *
 * Fields: the counts and sums below are in fields and bytes (name_len +
 * value_len, without ": " and CRLF). `dirty` is set by a field that needs
 * lbg_check: an empty name, a name byte outside tchar (RFC 9110 5.1), a
 * value byte that is a CTL other than HTAB, or DEL (RFC 9110 5.5), or a
 * Content-Length / Transfer-Encoding field the quick pass does not vouch
 * for (RFC 9110 8.6, RFC 9112 6.1). The accumulator at the end belongs to
 * the inline checks; only the inline functions read it. Its layout is
 * the same with or without SSE2 (16 bytes, 16-aligned under GCC and clang).
 */

/* 16-byte alignment of the accumulator, so that the inline checks load it
 * with one aligned load; the same whatever the SIMD flags */
#if defined(__GNUC__)
#define LBG__ALIGN16 __attribute__((aligned(16)))
#else
#define LBG__ALIGN16
#endif

typedef struct {
    size_t   nfields;   /* fields seen */
    size_t   bytes;     /* sum of name_len + value_len over them */
    size_t   max_field; /* the largest name_len + value_len */
    size_t   ncl;       /* Content-Length fields (1*DIGIT, or trusted) */
    size_t   nte;       /* Transfer-Encoding fields ("chunked") */
    unsigned dirty;     /* nonzero: lbg_quick_clean() returns 0 */
    /* the bytewise minimum of the inline values' bytes, each HTAB counted
     * as 0xff and each DEL as 0x00 (below 0x20: a bad byte); 16 bytes
     * whatever the SIMD flags, read and written only with SSE2 */
    uint64_t value_min[2] LBG__ALIGN16;
} lbg_quick_t;

/* Fields lbg_check() classifies for the message framing; beyond them it
 * cannot verify a framing other than one valid Content-Length and never
 * lets the connection be reused. */
#define LBG__KIND_MAX 512

/* The longest status line lbg_check() counts for a valid status code and
 * the host's own reason phrase, in bytes: "HTTP/1.1 " 3DIGIT SP reason
 * CRLF with lbg_reason_phrase()'s longest ("Request Header Fields Too
 * Large", 31 bytes). */
#define LBG_STATUS_LINE_MAX (9 + 3 + 1 + 31 + 2)

/* A value of this many bytes or more is checked by lbg_scan_value() (out
 * of line, AVX2 where the CPU has it) instead of inline. */
#define LBG_SCAN_LONG 96

/* What lbg__quick_slow() found in one field (bits). */
#define LBG_QUICK_DIRTY 1u /* lbg_check must look at it */
#define LBG_QUICK_CL    2u /* a Content-Length field, 1*DIGIT or trusted */
#define LBG_QUICK_TE    4u /* a Transfer-Encoding field, "chunked" */

/*
 * The part of lbg_quick_field() that is not inline: the exact byte checks
 * of a field's name and value (RFC 9110 5.1, 5.5) and the Content-Length
 * / Transfer-Encoding fields (RFC 9110 8.6, RFC 9112 6.1). Takes the
 * arguments of lbg_quick_field(); returns LBG_QUICK_* bits (0: a clean
 * field of no framing name). Adapters call lbg_quick_field().
 */
#if defined(__GNUC__)
__attribute__((cold)) /* off the inline path: keeps its registers free */
#endif
unsigned
lbg__quick_slow(const unsigned char *name, size_t name_len,
                const unsigned char *value, size_t value_len, int trusted);

/*
 * The exact end of a quick pass, out of line, for what lbg_quick_clean()
 * does not decide inline (a status line it does not vouch for, a 1xx or
 * 204 with framing fields, a header section near its budget). It reads
 * every member of q but the inline checks' accumulator, which
 * lbg_quick_clean() has looked at first. Same arguments and result as
 * lbg_quick_clean().
 */
int lbg__quick_end(const lbg_policy_t *p, const lbg_quick_t *q, int status,
                   const unsigned char *status_line, size_t status_line_len);

/*
 * The exact byte classes, out of line (lbg_scan.c), shared by the quick
 * pass and lbg_check(); they read exactly s[0..n) and never branch per
 * byte. lbg_scan_name() returns 1 when s[0..n) is a token (RFC 9110 5.1:
 * field-name = token = 1*tchar, 5.6.2), 0 when it is empty or holds
 * another byte. lbg_scan_value() returns 1 when every byte of s[0..n) is
 * a field-vchar, SP or HTAB (RFC 9110 5.5: VCHAR, obs-text; no CTL other
 * than HTAB, no DEL), else 0; n may be 0. With SSE2 16 bytes per step,
 * with AVX2 (chosen at run time, __builtin_cpu_supports) 32 or 64;
 * elsewhere, or with LBG_NO_SIMD, a table lookup or 8 bytes in a word.
 */
int lbg_scan_name(const unsigned char *s, size_t n);
int lbg_scan_value(const unsigned char *s, size_t n);

#ifdef LBG_QUICK_INLINE
/* q's accumulator as the SSE2 vector it holds (an lvalue), and read-only
 * from a const q: one aligned 16-byte access (__m128i may alias) */
#define lbg__q_acc(q)  (*(__m128i *) (void *) (q)->value_min)
#define lbg__q_cacc(q) (*(const __m128i *) (const void *) (q)->value_min)
#endif

/* 1 when the fields q counted and a status line of line bytes fit in p's
 * budgets, counted as lbg_check() counts them (RFC 9110 5.4) */
LBG_INLINE int
lbg__q_fits(const lbg_policy_t *p, const lbg_quick_t *q, size_t line)
{
    return (p->max_fields == 0 || q->nfields <= p->max_fields)
           && (p->max_field_bytes == 0
               || q->max_field + 4 <= p->max_field_bytes)
           && !lbg_header_over(p, 2 + 4 * q->nfields + q->bytes + line,
                               q->nfields);
}

/* Starts a quick pass: all counts zero, not dirty. */
LBG_INLINE void
lbg_quick_init(lbg_quick_t *q)
{
    q->nfields = 0;
    q->bytes = 0;
    q->max_field = 0;
    q->ncl = 0;
    q->nte = 0;
    q->dirty = 0;
#ifdef LBG_QUICK_INLINE
    lbg__q_acc(q) = _mm_set1_epi8((char) 0xff);
#endif
}

#ifdef LBG_QUICK_INLINE
/* Folds value v[0..len) into q's accumulator (inline up to LBG_SCAN_LONG
 * bytes, lbg_scan_value() from there) */
LBG_INLINE void
lbg__q_value(lbg_quick_t *q, const unsigned char *v, size_t len)
{
    __m128i m;
    size_t  i;

    if (len - 1 < 16) {
        lbg__q_acc(q) = _mm_min_epu8(lbg__q_acc(q),
                                     lbg__q_vkey(lbg__q_load(v, len)));
    } else if (len > 16) {
        if (len >= LBG_SCAN_LONG) {
            q->dirty |= (unsigned) !lbg_scan_value(v, len);
            return;
        }
        m = lbg__q_vkey(lbg__q_loadu(v + len - 16));
        for (i = 0; i + 16 < len; i += 16) {
            m = _mm_min_epu8(m, lbg__q_vkey(lbg__q_loadu(v + i)));
        }
        lbg__q_acc(q) = _mm_min_epu8(lbg__q_acc(q), m);
    }
}

/* 1 when name n[0..nlen) is made of lbg__q_name_good() bytes and value
 * v[0..vlen) has only field-vchar, SP and HTAB (exact); 0: look closer.
 * lbg_check() runs it first on every field it scans. */
LBG_INLINE int
lbg__q_field_ok(const unsigned char *n, size_t nlen, const unsigned char *v,
                size_t vlen)
{
    __m128i m;
    size_t  i;

    if (nlen == 0 || !lbg__q_name(n, nlen)) {
        return 0;
    }
    if (vlen - 1 < 16) {
        m = lbg__q_vkey(lbg__q_load(v, vlen));
    } else if (vlen == 0) {
        return 1;
    } else if (vlen >= LBG_SCAN_LONG) {
        return lbg_scan_value(v, vlen);
    } else {
        m = lbg__q_vkey(lbg__q_loadu(v + vlen - 16));
        for (i = 0; i + 16 < vlen; i += 16) {
            m = _mm_min_epu8(m, lbg__q_vkey(lbg__q_loadu(v + i)));
        }
    }
    return _mm_movemask_epi8(
               _mm_cmpeq_epi8(_mm_max_epu8(m, _mm_set1_epi8(0x1f)),
                              _mm_set1_epi8(0x1f)))
           == 0;
}
#endif

/*
 * Accounts, for the budgets only (count, bytes, largest field), a field
 * line of name_len + value_len bytes that the caller knows to be clean and
 * to be neither Content-Length nor Transfer-Encoding: a verdict it kept
 * from an earlier lbg__quick_slow() of the very same bytes (nginx's
 * configuration fields, ngx_http_lbguard_verdict.h). lbg_quick_field()
 * starts with the same accounting.
 */
LBG_INLINE void
lbg_quick_count(lbg_quick_t *q, size_t name_len, size_t value_len)
{
    size_t len = name_len + value_len;

    q->nfields++;
    q->bytes += len;
    if (len > q->max_field) {
        q->max_field = len;
    }
}

/*
 * Accounts one field line of the response: name[0..name_len) and
 * value[0..value_len), as for lbg_field_t (no NUL needed; any bytes).
 * `trusted` as in lbg_field_t: 1 skips the byte checks of name and value,
 * but the field still counts for the budgets and the message framing.
 * Reads exactly those bytes; no errors (a bad field sets q->dirty, or
 * shows in the accumulator). Inline: the common field costs no call.
 */
LBG_INLINE void
lbg_quick_field(lbg_quick_t *q, const unsigned char *name, size_t name_len,
                const unsigned char *value, size_t value_len, int trusted)
{
    unsigned f;
    int      k = 0;

    lbg_quick_count(q, name_len, value_len);
    if (name_len == 14 || name_len == 17) {
        k = lbg__framing_name(name, name_len);
    }
    if (trusted) {
        if (k == 0) {
            return;
        }
        if (k == LBG__K_CL) {
            q->ncl++;
            return;
        }
    }
#ifdef LBG_QUICK_INLINE
    /* any other name: its bytes, then the value's */
    else if (k == 0)
    {
        if (name_len != 0 && lbg__q_name(name, name_len)) {
            lbg__q_value(q, value, value_len);
            return;
        }
    }
    /* Content-Length: 1 to 16 digits (no overflow), as lbg_check's own
     * fast path accepts it (the name matched exactly: all tchar) */
    else if (k == LBG__K_CL && lbg__q_digits(value, value_len))
    {
        q->ncl++;
        return;
    }
#endif
    f = lbg__quick_slow(name, name_len, value, value_len, trusted);
    q->dirty |= f & LBG_QUICK_DIRTY;
    q->ncl += (f & LBG_QUICK_CL) != 0;
    q->nte += (f & LBG_QUICK_TE) != 0;
}

/*
 * 1 when the fields q counted would still fit in p's budgets (field count,
 * largest field line, header section: RFC 9110 5.4, counted as
 * lbg_check() counts them) with `extra` more bytes in one of its field
 * lines and any reason phrase. For an adapter that keeps the verdict of a
 * clean response to reuse it for responses whose fields differ only in
 * the length of one value, by at most `extra` bytes (nginx: the digits
 * of a Content-Length it writes itself). Reads q's counts only.
 */
LBG_INLINE int
lbg_quick_fits(const lbg_policy_t *p, const lbg_quick_t *q, size_t extra)
{
    lbg_quick_t c = *q;

    c.bytes += extra;
    c.max_field += extra;
    return lbg__q_fits(p, &c, LBG_STATUS_LINE_MAX);
}

/*
 * Ends a quick pass over every field of a response with status code
 * `status` and, when the host writes its own reason phrase, status_line
 * NULL; else status_line[0..status_line_len) is the status line after
 * "HTTP/1.1 " (as in lbg_response_t). Returns 1 when lbg_check() would
 * find nothing under policy p (see the contract above; always 1 when p's
 * mode is LBG_MODE_OFF), 0 when the adapter must run lbg_check().
 * Inline for the common response (status 200..599 but 204, the host's
 * reason phrase or a short clean status line, within budgets with room
 * for any reason phrase); lbg__quick_end() decides the rest.
 */
LBG_INLINE int
lbg_quick_clean(const lbg_policy_t *p, const lbg_quick_t *q, int status,
                const unsigned char *status_line, size_t status_line_len)
{
    if (p->mode == LBG_MODE_OFF) {
        return 1;
    }
#ifdef LBG_QUICK_INLINE
    if (_mm_movemask_epi8(
            _mm_cmpeq_epi8(_mm_max_epu8(lbg__q_cacc(q), _mm_set1_epi8(0x1f)),
                           _mm_set1_epi8(0x1f))))
    {
        return 0; /* a byte of an inline value: lbg_check says which */
    }
#endif
    if (q->dirty) {
        return 0;
    }
    if (status >= 200 && status <= 599 && status != 204
        && (status_line == NULL
#ifdef LBG_QUICK_INLINE
            || lbg__q_status_line(status_line, status_line_len)
#endif
                )
        && q->ncl + q->nte <= 1
        && (q->nte == 0 || q->nfields <= LBG__KIND_MAX)
        && lbg__q_fits(p, q, LBG_STATUS_LINE_MAX))
    {
        return 1;
    }
    {
        /* a copy: q's own address never escapes, so that the compiler may
         * keep it in registers during the pass */
        lbg_quick_t c = *q;

        return lbg__quick_end(p, &c, status, status_line, status_line_len);
    }
}

#ifdef __cplusplus
}
#endif

#endif /* LBG_QUICK_H */
