/*
 * lbg_cstr.c -- one pass over a NUL-terminated field name or value that
 * finds both its length and its verdict (lbg_cstr.h): Apache's tables hold
 * C strings, and strlen() followed by lbg_scan_name() / lbg_scan_value()
 * read every byte twice.
 *
 * How: every byte is classified, the NUL among them, and the scan stops
 * at the first byte that is not of the class (tchar for a name, RFC 9110
 * 5.6.2; field-vchar, SP or HTAB for a value, 5.5). NUL is never of the
 * class, so the scan always stops at or before the NUL. When the byte it
 * stops at is the NUL, every byte before it is of the class: the string
 * is clean and its length is known. Otherwise the string is not clean,
 * and strlen() from that byte gives the length (the answer is already 0).
 *
 * Why reading past the NUL is safe (with SSE2): the scan reads only whole
 * aligned blocks of 16 bytes (and, for the long tail of a value with
 * AVX2, of 32 or 64 bytes), from the block that holds s[0] to the block
 * that holds the first byte it stops at, which is at or before the NUL.
 * Every block it reads therefore holds at least one byte of s[0..len]
 * (the string and its NUL), and an aligned block of 16, 32 or 64 bytes
 * never crosses a page boundary (pages are 4 KB or more, multiples of
 * 64): every byte read lies on a page that holds a byte of the string,
 * so the read cannot fault. This is how glibc's SSE2/AVX2 strlen reads.
 * The bytes outside s[0..len] change no verdict: the bits of the bytes
 * before s[0] are masked off, and nothing after the first stop is looked
 * at. AddressSanitizer would report those reads (they may touch its
 * redzones), so the SIMD functions are built without its checks
 * (no_sanitize_address); the unit tests (tests/unit/test_cstr.c) put
 * strings against guard pages on both sides and check every byte value
 * at every position against the exact scalar classes.
 *
 * Without SSE2, or with LBG_NO_SIMD: strlen() and then the exact
 * lbg_scan_name() / lbg_scan_value() (no read past the NUL).
 */

#include <stdint.h>
#include <string.h>

#include "lbg_cstr.h"
#include "lbg_quick.h"

#if defined(LBG_QUICK_INLINE) && defined(__x86_64__) && defined(__GNUC__)    \
    && !defined(LBG_NO_AVX2)
#include <immintrin.h>
#define LBG__CSTR_AVX2 1
#endif

#ifdef LBG_QUICK_INLINE

/* The SIMD scans read whole aligned blocks around the string (see above):
 * not for AddressSanitizer's eyes. */
#if defined(__clang__) || defined(__GNUC__)
#define LBG__CSTR_NOASAN __attribute__((no_sanitize_address))
#else
#define LBG__CSTR_NOASAN
#endif

/* the aligned 16 bytes at p (p 16-aligned) */
#define LBG__LOAD16(p) _mm_load_si128((const __m128i *) (const void *) (p))

/* the bit index of the lowest set bit of m (m != 0) */
#define LBG__CTZ(m) ((size_t) __builtin_ctz(m))

/* 0xff bytes where x holds a tchar that lbg__q_name_good() leaves out:
 * '!' (0x21), '#' '$' '%' '&' '\'' (0x23..0x27), '*' '+' (0x2a, 0x2b),
 * '|' (0x7c), '~' (0x7e) (RFC 9110 5.6.2); with lbg__q_name_good(), every
 * tchar and nothing else */
static inline __m128i
lbg__cstr_rare(__m128i x)
{
    return _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x21)),
                     lbg__q_range(x, 0x23, 0x27)),
        _mm_or_si128(lbg__q_range(x, 0x2a, 0x2b),
                     _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x7c)),
                                  _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7e)))));
}

/* the bits (one per byte of x) of the bytes that are no field-vchar, SP
 * or HTAB: a CTL other than HTAB, DEL, or NUL (lbg__q_vkey() below 0x20) */
static inline unsigned
lbg__cstr_vbad(__m128i x)
{
    return (unsigned) _mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_max_epu8(lbg__q_vkey(x), _mm_set1_epi8(0x1f)),
                       _mm_set1_epi8(0x1f)));
}

/* The length of s when p[i], the first byte the scan stopped at, is not
 * its NUL: the bytes before it, then strlen() from it (no read past the
 * NUL). */
static size_t
lbg__cstr_rest(const unsigned char *s, const unsigned char *p, size_t i)
{
    return (size_t) (p + i - s) + strlen((const char *) p + i);
}

/* lbg_cstr_name(), inline in lbg_cstr_field() */
LBG__CSTR_NOASAN static inline int
lbg__cstr_name(const char *str, size_t *len)
{
    const unsigned char *s = (const unsigned char *) str;
    const unsigned char *p;
    unsigned             off, bad;
    size_t               i;
    __m128i              x;

    off = (unsigned) ((uintptr_t) s & 15);
    p = s - off;
    x = LBG__LOAD16(p);
    /* the common names: the four ranges of lbg__q_name_good() */
    bad = ~(unsigned) _mm_movemask_epi8(lbg__q_name_good(x))
          & (0xffffu << off) & 0xffffu;
    while (bad == 0) {
        p += 16;
        x = LBG__LOAD16(p);
        bad = ~(unsigned) _mm_movemask_epi8(lbg__q_name_good(x)) & 0xffffu;
    }
    i = LBG__CTZ(bad);
    if (p[i] == '\0') {
        *len = (size_t) (p + i - s);
        return *len != 0;
    }
    /* a rarer tchar or no tchar at p[i]: every tchar from there on (the
     * bytes before p[i] are tchar) */
    for (;;) {
        bad = ~(unsigned) _mm_movemask_epi8(
                  _mm_or_si128(lbg__q_name_good(x), lbg__cstr_rare(x)))
              & (0xffffu << i) & 0xffffu;
        if (bad != 0) {
            break;
        }
        p += 16;
        x = LBG__LOAD16(p);
        i = 0;
    }
    i = LBG__CTZ(bad);
    if (p[i] == '\0') {
        /* p[i] is after the byte that stopped the first scan: not empty */
        *len = (size_t) (p + i - s);
        return 1;
    }
    *len = lbg__cstr_rest(s, p, i);
    return 0;
}

#ifdef LBG__CSTR_AVX2
/* The long tail of a value, with AVX2: p is 16-aligned, every byte from
 * the value's start to p is clean; returns the first byte from p on that
 * is no field-vchar, SP or HTAB (the NUL at the latest). One 16-byte
 * block if p is not 32-aligned, one 32-byte block if it is not then
 * 64-aligned, then 64 bytes a step (two 32-byte loads of one aligned
 * 64-byte block, folded with the minimum of their keys). */
__attribute__((target("avx2"))) LBG__CSTR_NOASAN static const unsigned char *
lbg__cstr_tail_avx2(const unsigned char *p)
{
    const __m256i tab = _mm256_set1_epi8(0x09), del = _mm256_set1_epi8(0x7f),
                  lim = _mm256_set1_epi8(0x1f);
    __m256i  x, y, kx, ky;
    unsigned bad;
    uint64_t bad64;

#define LBG__VKEY32(x)                                                       \
    _mm256_andnot_si256(_mm256_cmpeq_epi8((x), del),                         \
                        _mm256_or_si256((x), _mm256_cmpeq_epi8((x), tab)))
#define LBG__VBAD32(k)                                                       \
    ((uint32_t) _mm256_movemask_epi8(                                        \
        _mm256_cmpeq_epi8(_mm256_max_epu8((k), lim), lim)))

    if ((uintptr_t) p & 16) {
        bad = lbg__cstr_vbad(LBG__LOAD16(p));
        if (bad != 0) {
            return p + LBG__CTZ(bad);
        }
        p += 16;
    }
    if ((uintptr_t) p & 32) {
        kx = LBG__VKEY32(
            _mm256_load_si256((const __m256i *) (const void *) p));
        bad = LBG__VBAD32(kx);
        if (bad != 0) {
            return p + LBG__CTZ(bad);
        }
        p += 32;
    }
    for (;; p += 64) {
        x = _mm256_load_si256((const __m256i *) (const void *) p);
        y = _mm256_load_si256((const __m256i *) (const void *) (p + 32));
        kx = LBG__VKEY32(x);
        ky = LBG__VKEY32(y);
        if (LBG__VBAD32(_mm256_min_epu8(kx, ky)) != 0) {
            break;
        }
    }
    bad64 = (uint64_t) LBG__VBAD32(kx) | (uint64_t) LBG__VBAD32(ky) << 32;
#undef LBG__VKEY32
#undef LBG__VBAD32
    return p + __builtin_ctzll(bad64);
}
#endif

/* lbg_cstr_value(), inline in lbg_cstr_field() */
LBG__CSTR_NOASAN static inline int
lbg__cstr_value(const char *str, size_t *len)
{
    const unsigned char *s = (const unsigned char *) str;
    const unsigned char *p;
    unsigned             off, bad;
    size_t               i;

    off = (unsigned) ((uintptr_t) s & 15);
    p = s - off;
    bad = lbg__cstr_vbad(LBG__LOAD16(p)) & (0xffffu << off) & 0xffffu;
    /* 16 bytes a step up to 64 bytes of value, then the long tail */
    while (bad == 0) {
        p += 16;
#ifdef LBG__CSTR_AVX2
        if (p - s >= 48 && __builtin_cpu_supports("avx2")) {
            p = lbg__cstr_tail_avx2(p);
            if (*p == '\0') {
                *len = (size_t) (p - s);
                return 1;
            }
            *len = lbg__cstr_rest(s, p, 0);
            return 0;
        }
#endif
        bad = lbg__cstr_vbad(LBG__LOAD16(p));
    }
    i = LBG__CTZ(bad);
    if (p[i] == '\0') {
        *len = (size_t) (p + i - s);
        return 1;
    }
    *len = lbg__cstr_rest(s, p, i);
    return 0;
}

#else /* no SSE2, or LBG_NO_SIMD: strlen, then the exact span tests */

#define LBG__CSTR_NOASAN

static int
lbg__cstr_name(const char *s, size_t *len)
{
    *len = strlen(s);
    return lbg_scan_name((const unsigned char *) s, *len);
}

static int
lbg__cstr_value(const char *s, size_t *len)
{
    *len = strlen(s);
    return lbg_scan_value((const unsigned char *) s, *len);
}

#endif

LBG__CSTR_NOASAN int
lbg_cstr_name(const char *s, size_t *len)
{
    return lbg__cstr_name(s, len);
}

LBG__CSTR_NOASAN int
lbg_cstr_value(const char *s, size_t *len)
{
    return lbg__cstr_value(s, len);
}

LBG__CSTR_NOASAN unsigned
lbg_cstr_field(const char *name, const char *value, size_t *name_len,
               size_t *value_len)
{
    unsigned r;

    r = lbg__cstr_name(name, name_len) ? LBG_CSTR_NAME_OK : 0u;
    if (value == NULL) {
        *value_len = 0;
        return r | LBG_CSTR_VALUE_OK;
    }
    return r | (lbg__cstr_value(value, value_len) ? LBG_CSTR_VALUE_OK : 0u);
}
