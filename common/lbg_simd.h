/*
 * lbg_simd.h -- internal to common/: the SSE2 byte checks that the inline
 * quick pass (lbg_quick.h) and lbg_check() share, and the framing-name
 * compare. Not an API: every name here is lbg__ / LBG__ (or the inline
 * marker LBG_INLINE and the build fact LBG_QUICK_INLINE), and may change
 * with the core. Included by lbg_quick.h; nothing else includes it.
 *
 * Depends on <stdint.h>, <string.h> (memcpy) and, where SSE2 is there and
 * LBG_NO_SIMD is not defined, <emmintrin.h>. Every function reads exactly
 * the bytes it is given (a span is read with overlapping loads, never past
 * its end).
 */

#ifndef LBG_SIMD_H
#define LBG_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* LBG_QUICK_INLINE: defined (1) where the inline SSE2 checks are compiled
 * (SSE2 there, LBG_NO_SIMD not defined); elsewhere every field goes out of
 * line, through lbg__quick_slow(). */
#if defined(__SSE2__) && !defined(LBG_NO_SIMD)
#include <emmintrin.h>
#define LBG_QUICK_INLINE 1
#endif

/* Inline even where the compiler would not (GCC, clang): the quick pass is
 * the per-response cost of every clean response. */
#if defined(__GNUC__)
#define LBG_INLINE static inline __attribute__((always_inline))
#else
#define LBG_INLINE static inline
#endif
#ifdef LBG_QUICK_INLINE
/*
 * The inline checks. A span of 1 to 16 bytes is read with one load of its
 * 8 first and 8 last bytes (8 to 16 bytes), two loads of 4 (4 to 7) or
 * three single bytes (1 to 3); a longer one 16 bytes at a time, the last
 * load overlapping: exactly s[0..n) is read, bytes may be read twice
 * (which changes no verdict).
 */

/* the 16 bytes s[0..16), unaligned */
LBG_INLINE __m128i
lbg__q_loadu(const unsigned char *s)
{
    return _mm_loadu_si128((const __m128i *) (const void *) s);
}

/* 16 bytes that are all bytes of s[0..n), 1 <= n <= 16 (some twice) */
LBG_INLINE __m128i
lbg__q_load(const unsigned char *s, size_t n)
{
    uint32_t a, b;

    if (n >= 8) {
        return _mm_castps_si128(
            _mm_loadh_pi(_mm_castsi128_ps(_mm_loadl_epi64(
                             (const __m128i *) (const void *) s)),
                         (const __m64 *) (const void *) (s + n - 8)));
    }
    if (n >= 4) {
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        return _mm_unpacklo_epi64(
            _mm_unpacklo_epi32(_mm_cvtsi32_si128((int) a),
                               _mm_cvtsi32_si128((int) b)),
            _mm_unpacklo_epi32(_mm_cvtsi32_si128((int) a),
                               _mm_cvtsi32_si128((int) b)));
    }
    a = s[0] | (uint32_t) s[n >> 1] << 8 | (uint32_t) s[n - 1] << 16
        | (uint32_t) s[0] << 24;
    return _mm_set1_epi32((int) a);
}

/* 0xff bytes where x holds a byte of lo..hi (lo <= hi <= 0x7f): one add
 * moves hi to 0x7f, the top of the signed range, and one signed compare
 * keeps lo..hi; a byte above hi wraps below the bound */
#define lbg__q_range(x, lo, hi)                                              \
    _mm_cmpgt_epi8(_mm_add_epi8((x), _mm_set1_epi8((char) (0x7f - (hi)))),   \
                   _mm_set1_epi8((char) (0x7e - ((hi) - (lo)))))

/* 0xff bytes where x holds a tchar of the four ranges header names use:
 * '-' '.', DIGIT, 'A'..'Z', '^' '_' '`' 'a'..'z' (RFC 9110 5.6.2); the
 * other tchar ('!' '#' '$' '%' '&' '\'' '*' '+' '|' '~') go to
 * lbg__quick_slow(), which is exact */
LBG_INLINE __m128i
lbg__q_name_good(__m128i x)
{
    return _mm_or_si128(_mm_or_si128(lbg__q_range(x, 0x2d, 0x2e),
                                     lbg__q_range(x, 0x30, 0x39)),
                        _mm_or_si128(lbg__q_range(x, 0x41, 0x5a),
                                     lbg__q_range(x, 0x5e, 0x7a)));
}

/* 1 when name n[0..len), len >= 1, is made of lbg__q_name_good() bytes */
LBG_INLINE int
lbg__q_name(const unsigned char *n, size_t len)
{
    __m128i g;
    size_t  i;

    if (len <= 16) {
        g = lbg__q_name_good(lbg__q_load(n, len));
    } else {
        /* 17 to 32 bytes (most long names): two loads that overlap */
        g = _mm_and_si128(lbg__q_name_good(lbg__q_loadu(n)),
                          lbg__q_name_good(lbg__q_loadu(n + len - 16)));
        for (i = 16; i + 16 < len; i += 16) {
            g = _mm_and_si128(g, lbg__q_name_good(lbg__q_loadu(n + i)));
        }
    }
    return _mm_movemask_epi8(g) == 0xffff;
}

/* The value key of 16 bytes: HTAB as 0xff, DEL as 0x00, any other byte as
 * it is; the minimum over a value is 0x20 or more exactly when it has
 * no CTL but HTAB and no DEL (RFC 9110 5.5) */
LBG_INLINE __m128i
lbg__q_vkey(__m128i x)
{
    return _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)),
                            _mm_or_si128(x, _mm_cmpeq_epi8(x, _mm_set1_epi8(
                                                                  0x09))));
}

/* 1 when v[0..n) is 1 to 16 ASCII digits (a Content-Length that cannot
 * overflow), else 0 */
LBG_INLINE int
lbg__q_digits(const unsigned char *v, size_t n)
{
    if (n - 1 < 16) {
        return _mm_movemask_epi8(lbg__q_range(lbg__q_load(v, n), 0x30, 0x39))
               == 0xffff;
    }
    return 0;
}

/* 0xff bytes where x holds a field-vchar or SP: a byte from 0x20 up
 * (unsigned: x ^ 0x80 as a signed byte above -97), other than 0x7f */
LBG_INLINE __m128i
lbg__q_value_good(__m128i x)
{
    return _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)),
                            _mm_cmpgt_epi8(_mm_xor_si128(x, _mm_set1_epi8(
                                                                (char) 0x80)),
                                           _mm_set1_epi8(-97)));
}

/* 1 when s[0..n) is a status line after "HTTP/1.1 " that lbg_check
 * accepts and that is 4 to 16 bytes long: a status code 100..599, SP, and
 * a reason phrase of field-vchar and SP (RFC 9112 4); 0: ask
 * lbg__quick_end() */
LBG_INLINE int
lbg__q_status_line(const unsigned char *s, size_t n)
{
    return n - 4 <= 12 && (unsigned) (s[0] - '1') < 5u
           && (unsigned) (s[1] - '0') < 10u && (unsigned) (s[2] - '0') < 10u
           && s[3] == ' '
           && _mm_movemask_epi8(lbg__q_value_good(lbg__q_load(s, n)))
                  == 0xffff;
}
#endif

/* 1 when p[0..8) equals the lower-case lc[0..8) where each byte of p is
 * first ORed with mask (0x20 on letters, 0 elsewhere): an ASCII
 * case-insensitive compare of 8 bytes in one step, exact (c | 0x20 equals
 * a lower-case letter only for that letter in either case). */
LBG_INLINE int
lbg__word_ieq(const unsigned char *p, const char *lc, const char *mask)
{
    uint64_t a, b, m;

    memcpy(&a, p, 8);
    memcpy(&b, lc, 8);
    memcpy(&m, mask, 8);
    return (a | m) == b;
}

/* LBG__K_CL (1) when field name n[0..len) is "Content-Length",
 * LBG__K_TE (2) when it is "Transfer-Encoding" (ASCII case-insensitive),
 * else 0: a compare of 8 bytes at a time. */
#define LBG__K_CL 1
#define LBG__K_TE 2

LBG_INLINE int
lbg__framing_name(const unsigned char *n, size_t len)
{
    if (len == 14 && lbg__word_ieq(n, "content-", "\40\40\40\40\40\40\40\0")
        && lbg__word_ieq(n + 6, "t-length", "\40\0\40\40\40\40\40\40"))
    {
        return LBG__K_CL;
    }
    if (len == 17 && lbg__word_ieq(n, "transfer", "\40\40\40\40\40\40\40\40")
        && lbg__word_ieq(n + 8, "-encodin", "\0\40\40\40\40\40\40\40")
        && lbg__word_ieq(n + 9, "encoding", "\40\40\40\40\40\40\40\40"))
    {
        return LBG__K_TE;
    }
    return 0;
}

#endif /* LBG_SIMD_H */
