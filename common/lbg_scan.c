/*
 * lbg_scan.c -- the core's scanners: the byte classes of RFC 9110 (the
 * ctype table; tchar 5.6.2, field-vchar 5.5) and the exact span tests
 * lbg_scan_name() / lbg_scan_value() that lbg_check() and the quick pass
 * share, the field-value parsers of the framing fields (Content-Length,
 * RFC 9110 8.6; Transfer-Encoding codings, RFC 9112 6.1, 7), the status
 * code, lbg_sanitize() and the ASCII case-insensitive compare lbg__ieq().
 *
 * The span tests classify every byte, names and values alike, whatever
 * the length: no special case per length, no branch per byte. With SSE2
 * (the x86-64 baseline, and Debian's) 16 bytes per step; a value of 64
 * bytes or more goes 64 bytes per step with AVX2 when the CPU has it,
 * chosen at run time with __builtin_cpu_supports() (libgcc's CPU model,
 * read-only once its constructor has run: no state of ours). Elsewhere,
 * or with LBG_NO_SIMD, table lookups eight bytes per step (names) and
 * eight bytes in a 64-bit word (values, SWAR).
 */

#include <string.h>

#include "lbg_internal.h"
#include "lbg_quick.h"

#if defined(LBG_QUICK_INLINE) && defined(__x86_64__) && defined(__GNUC__)    \
    && !defined(LBG_NO_AVX2)
#include <immintrin.h>
#define LBG__AVX2 1
#endif


const unsigned char lbg__ctype[256] = {
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x24, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, /* 00 */
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
    0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, /* 10 */
    0x24, 0x03, 0x02, 0x03, 0x03, 0x03, 0x03, 0x03,
    0x02, 0x02, 0x03, 0x03, 0x02, 0x03, 0x03, 0x02, /* 20 */
    0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b, 0x1b,
    0x1b, 0x1b, 0x22, 0x02, 0x02, 0x02, 0x02, 0x02, /* 30 */
    0x02, 0x13, 0x13, 0x13, 0x13, 0x13, 0x13, 0x03,
    0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, /* 40 */
    0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03,
    0x03, 0x03, 0x03, 0x02, 0x02, 0x02, 0x03, 0x03, /* 50 */
    0x03, 0x13, 0x13, 0x13, 0x13, 0x13, 0x13, 0x03,
    0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, /* 60 */
    0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03, 0x03,
    0x03, 0x03, 0x03, 0x02, 0x03, 0x02, 0x03, 0x20, /* 70 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* 80 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* 90 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* a0 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* b0 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* c0 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* d0 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* e0 */
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, 0x02, /* f0 */
};


int
lbg__ieq(const unsigned char *a, size_t alen, const char *b, size_t blen)
{
    size_t i;

    if (alen != blen) {
        return 0;
    }
    for (i = 0; i < alen; i++) {
        if (lbg__lower(a[i]) != (unsigned char) b[i]) {
            return 0;
        }
    }
    return 1;
}


size_t
lbg_sanitize(const unsigned char *value, size_t len, unsigned char *out)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (lbg__is(value[i], LBG__VCHAR | LBG__WS)) {
            out[i] = value[i];
        } else {
            out[i] = ' ';
            n++;
        }
    }
    return n;
}


int64_t
lbg_content_length_parse(const unsigned char *value, size_t len)
{
    int64_t v = 0;
    size_t  i;
    int     d;

    if (len == 0) {
        return -1;
    }
    if (len <= 18) {
        return lbg__cl_short(value, len);
    }
    for (i = 0; i < len; i++) {
        if (!lbg__is(value[i], LBG__DIGIT)) {
            return -1;
        }
        d = value[i] - '0';
        if (v > (INT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    return v;
}


int64_t
lbg__cl_list(const unsigned char *v, size_t len, const unsigned char **first,
             size_t *first_len)
{
    size_t  i = 0, s, e;
    int64_t val = -1, x;
    int     differ = 0;

    if (memchr(v, ',', len) == NULL) {
        return -1; /* not a list: " 5" is no "5" */
    }
    while (lbg__list_next(v, len, &i, &s, &e)) {
        x = lbg_content_length_parse(v + s, e - s);
        if (x < 0) {
            return -1;
        }
        if (val < 0) {
            val = x;
            *first = v + s;
            *first_len = e - s;
        } else if (x != val) {
            differ = 1;
        }
    }
    return differ ? -2 : val;
}


int
lbg__status_code(const unsigned char *s, size_t n)
{
    if (n < 3 || !lbg__is(s[0], LBG__DIGIT) || !lbg__is(s[1], LBG__DIGIT)
        || !lbg__is(s[2], LBG__DIGIT) || (n > 3 && s[3] != ' '))
    {
        return -1;
    }
    return (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
}


/*
 * Transfer-Encoding codings across every TE field (RFC 9112 6.1, 7):
 * counts codings and "chunked" codings; *final_chunked tells whether the
 * last coding is chunked; *empty whether an element is empty. Bytes that
 * lbg_sanitize turns into SP count as OWS here, so that a value and its
 * repair frame the body the same way.
 */
void
lbg__te_scan(const unsigned char *v, size_t len, size_t *ncodings,
             size_t *nchunked, int *final_chunked, int *empty)
{
    size_t i = 0, s, e, t;

    while (i <= len) {
        s = i;
        while (i < len && v[i] != ',') {
            i++;
        }
        e = i;
        while (s < e && !lbg__is(v[s], LBG__VCHAR)) {
            s++;
        }
        while (e > s && !lbg__is(v[e - 1], LBG__VCHAR)) {
            e--;
        }
        if (s == e) {
            *empty = 1;
        } else {
            t = s;
            while (t < e && lbg__is(v[t], LBG__TCHAR)) {
                t++;
            }
            (*ncodings)++;
            if (t == e && lbg__ieq(v + s, e - s, "chunked", 7)) {
                (*nchunked)++;
                *final_chunked = 1;
            } else {
                *final_chunked = 0;
            }
        }
        i++;
    }
}


int
lbg_field_is_content_length(const unsigned char *name, size_t len)
{
    return len == 14 && lbg__framing_name(name, len) == LBG__K_CL;
}


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
    /* a table lookup per byte, eight lookups ANDed per step */
    const unsigned char *t = lbg__ctype;
    size_t               i;

#define LBG__T8(k)                                                           \
    (t[s[k]] & t[s[(k) + 1]] & t[s[(k) + 2]] & t[s[(k) + 3]] & t[s[(k) + 4]] \
     & t[s[(k) + 5]] & t[s[(k) + 6]] & t[s[(k) + 7]])
#define LBG__T4(k) (t[s[k]] & t[s[(k) + 1]] & t[s[(k) + 2]] & t[s[(k) + 3]])
    if (n >= 8) {
        for (i = 0; i + 8 < n; i += 8) {
            if (!(LBG__T8(i) & LBG__TCHAR)) {
                return 0;
            }
        }
        return (LBG__T8(n - 8) & LBG__TCHAR) != 0;
    }
    if (n >= 4) {
        return (LBG__T4(0) & LBG__T4(n - 4) & LBG__TCHAR) != 0;
    }
#undef LBG__T8
#undef LBG__T4
    for (i = 0; i < n; i++) {
        if (!(t[s[i]] & LBG__TCHAR)) {
            return 0;
        }
    }
    return n > 0;
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
    return _mm256_movemask_epi8(
               _mm256_cmpeq_epi8(_mm256_max_epu8(m0, _mm256_set1_epi8(0x1f)),
                                 _mm256_set1_epi8(0x1f)))
           == 0;
}
#endif


#ifndef LBG_QUICK_INLINE
/* The exact value test, a byte at a time: field-vchar, SP, HTAB. */
static int
lbg__value_slow(const unsigned char *v, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (!(lbg__ctype[v[i]] & (LBG__VCHAR | LBG__WS))) {
            return 0;
        }
    }
    return 1;
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
    return _mm_movemask_epi8(
               _mm_cmpeq_epi8(_mm_max_epu8(m0, _mm_set1_epi8(0x1f)),
                              _mm_set1_epi8(0x1f)))
           == 0;
#else
    /* eight bytes at a time in a 64-bit word (SWAR): a byte below 0x20 or
     * equal to 0x7f, by the "has less than" and "has zero" bit tricks
     * (exact as a yes/no answer); then HTAB, the one control byte allowed,
     * a byte at a time */
    const uint64_t ones = UINT64_C(0x0101010101010101);
    const uint64_t highs = UINT64_C(0x8080808080808080);
    uint64_t       x, y;
    uint32_t       a, b;
    size_t         i;

/* clang-format 14 reads "(x) - ones" as a cast */
/* clang-format off */
#define LBG__BAD64(x, y)                                                     \
    ((y) = (x) ^ (ones * 0x7f),                                              \
     ((((x) - ones * 0x20) & ~(x)) | (((y) - ones) & ~(y))) & highs)
    /* clang-format on */
    if (n >= 8) {
        for (i = 0; i + 8 < n; i += 8) {
            memcpy(&x, s + i, 8);
            if (LBG__BAD64(x, y)) {
                return lbg__value_slow(s, n);
            }
        }
        memcpy(&x, s + n - 8, 8);
        return LBG__BAD64(x, y) ? lbg__value_slow(s, n) : 1;
    }
    if (n >= 4) {
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        x = a | (uint64_t) b << 32;
        return LBG__BAD64(x, y) ? lbg__value_slow(s, n) : 1;
    }
#undef LBG__BAD64
    return lbg__value_slow(s, n);
#endif
}
