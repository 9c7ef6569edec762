/*
 * lbg_quick.c -- the exact byte classes of field names and values (RFC
 * 9110 5.1, 5.5, 5.6.2), shared by the quick pass (lbg.h) and lbg_check():
 * lbg_scan_name() and lbg_scan_value().
 *
 * One classification of every byte, names and values alike, whatever the
 * length: no special case per length, no branch per byte. With SSE2 (the
 * x86-64 baseline, and Debian's) 16 bytes per step; a value of 64 bytes or
 * more goes 64 bytes per step with AVX2 when the CPU has it, chosen at run
 * time with __builtin_cpu_supports() (libgcc's CPU model, read-only once
 * its constructor has run: no state of ours). Elsewhere, or with
 * LBG_NO_SIMD, a table lookup per byte.
 */

#include "lbg_internal.h"
#include "lbg_quick.h"

#if defined(LBG_QUICK_INLINE) && defined(__x86_64__) && defined(__GNUC__) \
    && !defined(LBG_NO_AVX2)
#include <immintrin.h>
#define LBG__AVX2 1
#endif


#ifdef LBG_QUICK_INLINE

/*
 * 0xff bytes where x holds a tchar (RFC 9110 5.6.2): "!" / "#" / "$" /
 * "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" /
 * DIGIT / ALPHA. As ranges: 0x21..0x27 but '"', 0x2a..0x2e but ',',
 * DIGIT, 'A'..'Z', 0x5e..0x7a, '|', '~'.
 */
static __m128i
lbg__tchar16(__m128i x)
{
    __m128i a = _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x22)),
                                 lbg__q_range(x, 0x21, 0x27));
    __m128i b = _mm_andnot_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x2c)),
                                 lbg__q_range(x, 0x2a, 0x2e));
    __m128i c = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x7c)),
                             _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7e)));

    return _mm_or_si128(
               _mm_or_si128(_mm_or_si128(a, b), c),
               lbg__q_name_good(x));
}

#endif


int
lbg_scan_name(const unsigned char *s, size_t n)
{
#ifdef LBG_QUICK_INLINE
    __m128i g;
    size_t  i;

    if (n == 0) {
        return 0;
    }
    if (n <= 16) {
        g = lbg__q_load(s, n);
        /* the common names take the short test */
        if (_mm_movemask_epi8(lbg__q_name_good(g)) == 0xffff) {
            return 1;
        }
        return _mm_movemask_epi8(lbg__tchar16(g)) == 0xffff;
    }
    g = lbg__tchar16(lbg__q_loadu(s + n - 16));
    for (i = 0; i + 16 < n; i += 16) {
        g = _mm_and_si128(g, lbg__tchar16(lbg__q_loadu(s + i)));
    }
    return _mm_movemask_epi8(g) == 0xffff;
#else
    size_t        i;
    unsigned char c = LBG__TCHAR;

    for (i = 0; i < n; i++) {
        c &= lbg__ctype[s[i]];
    }
    return n > 0 && c != 0;
#endif
}


#ifdef LBG__AVX2
/* lbg_scan_value() of n >= 32 bytes, 64 at a time (two accumulators), the
 * last load overlapping; the value key of lbg__q_vkey() on 32 bytes */
__attribute__((target("avx2"))) static int
lbg__value_avx2(const unsigned char *s, size_t n)
{
    const __m256i tab = _mm256_set1_epi8(0x09), del = _mm256_set1_epi8(0x7f);
    __m256i       m0 = _mm256_set1_epi8((char) 0xff), m1 = m0, x, y;
    size_t        i = 0;

#define LBG__VKEY32(x)                                                       \
    _mm256_andnot_si256(_mm256_cmpeq_epi8((x), del),                         \
                        _mm256_or_si256((x), _mm256_cmpeq_epi8((x), tab)))
    for (; i + 64 <= n; i += 64) {
        x = _mm256_loadu_si256((const __m256i *) (const void *) (s + i));
        y = _mm256_loadu_si256((const __m256i *) (const void *) (s + i + 32));
        m0 = _mm256_min_epu8(m0, LBG__VKEY32(x));
        m1 = _mm256_min_epu8(m1, LBG__VKEY32(y));
    }
    if (i + 32 < n) {
        x = _mm256_loadu_si256((const __m256i *) (const void *) (s + i));
        m0 = _mm256_min_epu8(m0, LBG__VKEY32(x));
    }
    if (i < n) {
        x = _mm256_loadu_si256((const __m256i *) (const void *) (s + n - 32));
        m1 = _mm256_min_epu8(m1, LBG__VKEY32(x));
    }
#undef LBG__VKEY32
    m0 = _mm256_min_epu8(m0, m1);
    return _mm256_movemask_epi8(_mm256_cmpeq_epi8(
               _mm256_max_epu8(m0, _mm256_set1_epi8(0x1f)),
               _mm256_set1_epi8(0x1f))) == 0;
}
#endif


int
lbg_scan_value(const unsigned char *s, size_t n)
{
#ifdef LBG_QUICK_INLINE
    __m128i m0, m1;
    size_t  i = 0;

    if (n - 1 < 16) {
        m0 = lbg__q_vkey(lbg__q_load(s, n));
    } else if (n == 0) {
        return 1;
    } else {
#ifdef LBG__AVX2
        if (n >= 64 && __builtin_cpu_supports("avx2")) {
            return lbg__value_avx2(s, n);
        }
#endif
        m0 = m1 = lbg__q_vkey(lbg__q_loadu(s + n - 16));
        for (; i + 32 <= n; i += 32) {
            m0 = _mm_min_epu8(m0, lbg__q_vkey(lbg__q_loadu(s + i)));
            m1 = _mm_min_epu8(m1, lbg__q_vkey(lbg__q_loadu(s + i + 16)));
        }
        if (i + 16 < n) {
            m0 = _mm_min_epu8(m0, lbg__q_vkey(lbg__q_loadu(s + i)));
        }
        m0 = _mm_min_epu8(m0, m1);
    }
    return _mm_movemask_epi8(_mm_cmpeq_epi8(
               _mm_max_epu8(m0, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f)))
           == 0;
#else
    size_t        i;
    unsigned      c = 1;

    /* LBG__VCHAR is 0x02 and LBG__WS 0x04: bit 0 of either shifted */
    for (i = 0; i < n; i++) {
        c &= (unsigned) (lbg__ctype[s[i]] >> 1 | lbg__ctype[s[i]] >> 2);
    }
    return (int) (c & 1);
#endif
}
