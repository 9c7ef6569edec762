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
 * Two SIMD scans, chosen at run time (__builtin_cpu_supports, as
 * lbg_scan.c chooses AVX2):
 *
 * - SSE4.2 (every x86-64 CPU since 2008; not Debian's baseline):
 *   PCMPISTRI in range mode with negative polarity classifies 16 bytes
 *   in one instruction and stops at the NUL itself: it returns the index
 *   of the first byte that is outside the ranges or is the NUL (or a
 *   byte after it), 16 when there is none. Names use 8 ranges, every
 *   tchar but '!' (the tchar make 9 ranges; a '!' stops the scan like a
 *   bad byte, and the exact SSE2 test decides from there); values the 3
 *   ranges HTAB, 0x20..0x7e and 0x80..0xff. The first 16 bytes are read
 *   from s[0] on, unaligned, when they lie on the page of s[0] (s[0] at
 *   least 16 bytes before the end of its page; else the aligned block of
 *   s[0] is read, and PSHUFB moves its bytes from s[0] on to the front of
 *   the register, NULs after them); then aligned 16-byte blocks.
 * - SSE2 (the baseline): the four ranges of lbg__q_name_good() (then the
 *   exact tchar test from the first byte outside them) and the value key
 *   of lbg__q_vkey(), on aligned 16-byte blocks from the block that holds
 *   s[0], the bits of the bytes before s[0] masked off.
 *
 * Why reading past the NUL is safe: every block read is either an
 * aligned 16-byte block that holds at least one byte of s[0..len] (the
 * string and its NUL: the scan starts at the block of s[0] or later and
 * stops at the block of the first byte it stops at, at or before the
 * NUL), or the 16 bytes from s[0] when they lie on the page of s[0]. An
 * aligned 16-byte block never crosses a page boundary (pages are 4 KB or
 * more, multiples of 16): every byte read lies on a page that holds a byte
 * of the string, so no read can fault. This is how glibc's SSE2 strlen
 * reads. The bytes outside s[0..len] change no verdict: the bits of the
 * bytes before s[0] are masked off (SSE2) or never read (SSE4.2), and no
 * byte after the first stop is looked at. AddressSanitizer would report
 * those reads (they may touch its redzones), so the SIMD functions are
 * built without its checks (no_sanitize_address); the unit tests
 * (tests/unit/test_cstr.c) put strings against guard pages on both sides
 * and check every byte value at every position and alignment against the
 * exact scalar classes, with SSE4.2 (build/unit, build/unit-asan) and
 * SSE2 only (build/unit-sse2, LBG_NO_AVX2, which also leaves SSE4.2 out).
 *
 * Without SSE2, or with LBG_NO_SIMD: strlen() and then the exact
 * lbg_scan_name() / lbg_scan_value() (no read past the NUL).
 */

#include <stdint.h>
#include <string.h>

#include "lbg_cstr.h"
#include "lbg_internal.h"
#include "lbg_quick.h"

#if defined(LBG_QUICK_INLINE) && defined(__x86_64__) && defined(__GNUC__)    \
    && !defined(LBG_NO_AVX2)
#include <nmmintrin.h>
#define LBG__CSTR_SSE42 1
#endif

/* The fields lbg_cstr_quick() does not only count (out of line: the loop
 * keeps its registers): a field named `skip` (left out), and every field
 * with a byte to look at or a framing name's length (lbg_quick_field());
 * ok is its LBG_CSTR_* verdict. Returns 1 when the field is a
 * Content-Length (lbg__framing_name(): the caller keeps the first one's
 * index), else 0. */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int
lbg__cstr_other(lbg_quick_t *q, const unsigned char *nm, size_t nl,
                const unsigned char *v, size_t vl, unsigned ok,
                const char *skip, size_t skip_len)
{
    int k = 0;

    if (skip_len != 0 && nl == skip_len
        && lbg__lower(nm[0]) == (unsigned char) skip[0]
        && lbg__ieq(nm, nl, skip, skip_len))
    {
        return 0;
    }
    if (nl == 14 || nl == 17) {
        k = lbg__framing_name(nm, nl);
    }
    if (ok == LBG_CSTR_OK && k == 0) {
        lbg_quick_count(q, nl, vl);
    } else {
        lbg_quick_field(q, nm, nl, v, vl, 0);
    }
    return k == LBG__K_CL;
}

/* lbg_cstr_quick_last()'s last field, exactly (out of line): counted when
 * its value is clean, else through lbg_quick_field() */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void
lbg__cstr_last(lbg_quick_t *q, const char *name, size_t name_len,
               const char *value)
{
    size_t vl;

    if (lbg_cstr_value(value, &vl)) {
        lbg_quick_count(q, name_len, vl);
    } else {
        lbg_quick_field(q, (const unsigned char *) name, name_len,
                        (const unsigned char *) value, vl, 0);
    }
}

/* The loop of lbg_cstr_quick(), with NAME and VALUE the scans of one
 * string (functions of (const unsigned char *, size_t *) returning 1 for
 * clean); the budgets' counts in locals (nf an unsigned, not a size_t:
 * apart from bytes, which GCC would pair in a vector), written back to q
 * around lbg__cstr_other() and once at the end. The common field is only
 * counted: clean, not the skipped name (a name of its length with another
 * first letter is not), no framing field. */
#define LBG__CSTR_QUICK_LOOP(NAME, VALUE)                                      \
    do {                                                                       \
        const unsigned char *base = (const unsigned char *) entries;           \
        unsigned             nf = 0;                                           \
        size_t               bytes = q->bytes;                                 \
        size_t               maxf = q->max_field, nl, vl, i;                   \
        unsigned char      skip0 = skip != NULL ? (unsigned char) skip[0] : 0; \
        const char        *nm, *v;                                             \
        const char *const *e;                                                  \
        unsigned           ok;                                                 \
        long               cl = -1;                                            \
                                                                               \
        for (i = 0; i < n; i++) {                                              \
            e = (const char *const *) (const void *) (base + i * stride);      \
            nm = e[0];                                                         \
            if (nm == NULL) {                                                  \
                continue;                                                      \
            }                                                                  \
            v = e[1] != NULL ? e[1] : "";                                      \
            ok = NAME((const unsigned char *) nm, &nl) ? LBG_CSTR_NAME_OK      \
                                                       : 0u;                   \
            ok |= VALUE((const unsigned char *) v, &vl) ? LBG_CSTR_VALUE_OK    \
                                                        : 0u;                  \
            if (ok == LBG_CSTR_OK                                              \
                && (nl != skip_len                                             \
                    || lbg__lower((unsigned char) nm[0]) != skip0)             \
                && ((nl != 14 && nl != 17)                                     \
                    || lbg__framing_name((const unsigned char *) nm, nl)       \
                           == 0))                                              \
            {                                                                  \
                nf++;                                                          \
                bytes += nl + vl;                                              \
                if (nl + vl > maxf) {                                          \
                    maxf = nl + vl;                                            \
                }                                                              \
                continue;                                                      \
            }                                                                  \
            q->nfields += nf;                                                  \
            q->bytes = bytes;                                                  \
            q->max_field = maxf;                                               \
            if (lbg__cstr_other(q, (const unsigned char *) nm, nl,             \
                                (const unsigned char *) v, vl, ok, skip,       \
                                skip_len)                                      \
                && cl < 0)                                                     \
            {                                                                  \
                cl = (long) i;                                                 \
            }                                                                  \
            nf = 0;                                                            \
            bytes = q->bytes;                                                  \
            maxf = q->max_field;                                               \
        }                                                                      \
        q->nfields += nf;                                                      \
        q->bytes = bytes;                                                      \
        q->max_field = maxf;                                                   \
        return cl;                                                             \
    } while (0)

#ifdef LBG_QUICK_INLINE

/* The SIMD scans read whole blocks around the string (see above): not for
 * AddressSanitizer's eyes. The static inline functions they inline
 * become part of them, unchecked too. */
#if defined(__clang__) || defined(__GNUC__)
#define LBG__CSTR_NOASAN __attribute__((no_sanitize_address))
#else
#define LBG__CSTR_NOASAN
#endif

/* the aligned 16 bytes at p (p 16-aligned) */
#define LBG__CSTR_LOAD16(p)                                                  \
    _mm_load_si128((const __m128i *) (const void *) (p))

/* the aligned 16-byte block that holds p */
#define LBG__CSTR_BLOCK(p)                                                   \
    ((const unsigned char *) ((uintptr_t) (p) & ~(uintptr_t) 15))

/* the bits (one per byte of x) of the bytes that are no field-vchar, SP
 * or HTAB: a CTL other than HTAB, DEL, or NUL (lbg__q_vkey() below 0x20) */
static inline unsigned
lbg__cstr_vbad(__m128i x)
{
    return (unsigned) _mm_movemask_epi8(
        _mm_cmpeq_epi8(_mm_max_epu8(lbg__q_vkey(x), _mm_set1_epi8(0x1f)),
                       _mm_set1_epi8(0x1f)));
}

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

/* The end of a scan that stopped at q, the first byte of string s not of
 * its class: sets *len and returns 1 when q is the NUL; else the length
 * is the bytes before q and strlen() from q (no read past the NUL), and 0.
 */
static inline int
lbg__cstr_end(const unsigned char *s, const unsigned char *q, size_t *len)
{
    *len = (size_t) (q - s);
    if (*q == '\0') {
        return 1;
    }
    *len += strlen((const char *) q);
    return 0;
}

/* The exact name test from q on: every byte of name s before q is a
 * tchar, q is not the NUL. Aligned 16-byte blocks from the one that holds
 * q, the bits before q masked off. */
LBG__CSTR_NOASAN static int
lbg__cstr_name_exact(const unsigned char *s, const unsigned char *q,
                     size_t *len)
{
    const unsigned char *p = LBG__CSTR_BLOCK(q);
    unsigned             bad, mask = 0xffffu << (unsigned) (q - p);
    __m128i              x;

    for (;;) {
        x = LBG__CSTR_LOAD16(p);
        bad = ~(unsigned) _mm_movemask_epi8(
                  _mm_or_si128(lbg__q_name_good(x), lbg__cstr_rare(x)))
              & mask & 0xffffu;
        if (bad != 0) {
            break;
        }
        p += 16;
        mask = 0xffffu;
    }
    /* the stop is after q, so the name is not empty */
    return lbg__cstr_end(s, p + __builtin_ctz(bad), len);
}

/* lbg_cstr_name() with SSE2 (see above) */
LBG__CSTR_NOASAN static int
lbg__cstr_name2(const unsigned char *s, size_t *len)
{
    const unsigned char *p = LBG__CSTR_BLOCK(s);
    unsigned             bad, mask = 0xffffu << (unsigned) (s - p);

    for (;;) {
        bad = ~(unsigned) _mm_movemask_epi8(
                  lbg__q_name_good(LBG__CSTR_LOAD16(p)))
              & mask & 0xffffu;
        if (bad != 0) {
            break;
        }
        p += 16;
        mask = 0xffffu;
    }
    p += __builtin_ctz(bad);
    if (*p == '\0') {
        *len = (size_t) (p - s);
        return p != s;
    }
    return lbg__cstr_name_exact(s, p, len);
}

/* lbg_cstr_value() with SSE2 (see above) */
LBG__CSTR_NOASAN static int
lbg__cstr_value2(const unsigned char *s, size_t *len)
{
    const unsigned char *p = LBG__CSTR_BLOCK(s);
    unsigned             bad;

    bad = lbg__cstr_vbad(LBG__CSTR_LOAD16(p))
          & (0xffffu << (unsigned) (s - p)) & 0xffffu;
    while (bad == 0) {
        p += 16;
        bad = lbg__cstr_vbad(LBG__CSTR_LOAD16(p));
    }
    return lbg__cstr_end(s, p + __builtin_ctz(bad), len);
}

#ifdef LBG__CSTR_SSE42
/* PCMPISTRI's mode: unsigned bytes, ranges, negative polarity (a 1 for
 * every byte outside the ranges and for the NUL and every byte after
 * it), the lowest such index (16: none) */
#define LBG__CSTR_MODE                                                       \
    (_SIDD_UBYTE_OPS | _SIDD_CMP_RANGES | _SIDD_NEGATIVE_POLARITY            \
     | _SIDD_LEAST_SIGNIFICANT)

/* 1 when the 16 bytes from s lie on the page of s (pages of 4 KB at
 * least) */
#define LBG__CSTR_IN_PAGE(s) (((uintptr_t) (s) &4095) <= 4096 - 16)

/* PCMPISTRI of the 16 bytes at p (on its page; any alignment) against
 * ranges r in LBG__CSTR_MODE: returns 1 when one of them is outside the
 * ranges or is the NUL (the carry flag), with *i the first one's index,
 * else 0 (*i 16). One instruction and its branch: with the intrinsics
 * GCC tests the index again (_mm_cmpistri) or runs the instruction twice
 * (_mm_cmpistrc). */
__attribute__((target("sse4.2"))) LBG__CSTR_NOASAN static inline int
lbg__cstr_pcmp(__m128i r, const unsigned char *p, size_t *i)
{
    int cf;

    __asm__("pcmpistri %[mode], %[m], %[r]"
            : "=c"(*i), "=@ccc"(cf)
            : [r] "x"(r), [m] "m"(*(const __m128i *) (const void *) p),
              [mode] "i"(LBG__CSTR_MODE));
    return cf;
}

/* The first byte outside ranges r or the NUL in the aligned blocks from
 * the one that holds s + 16 on, when the 16 bytes from s hold none. */
__attribute__((target("sse4.2")))
LBG__CSTR_NOASAN static inline const unsigned char *
lbg__cstr_blocks42(__m128i r, const unsigned char *s)
{
    const unsigned char *p;
    size_t               i;

    /* four blocks a step: a long value costs 9 instructions per 64
     * bytes */
    for (p = LBG__CSTR_BLOCK(s + 16);; p += 64) {
        if (lbg__cstr_pcmp(r, p, &i)) {
            return p + i;
        }
        if (lbg__cstr_pcmp(r, p + 16, &i)) {
            return p + 16 + i;
        }
        if (lbg__cstr_pcmp(r, p + 32, &i)) {
            return p + 32 + i;
        }
        if (lbg__cstr_pcmp(r, p + 48, &i)) {
            return p + 48 + i;
        }
    }
}

/* lbg__cstr_stop42()'s shuffle masks: the 16 bytes from offset k are
 * k, k + 1, ..., 15, then 0x80 (PSHUFB: a NUL) k times */
static const unsigned char lbg__cstr_shift[32] = {
    0,    1,    2,    3,    4,    5,    6,    7,    8,    9,    10,
    11,   12,   13,   14,   15,   0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};

/* The first byte from s that is outside ranges r or the NUL: the 16 bytes
 * from s when they lie on the page of s; else (s in the last 15 bytes of
 * its page) the bytes of its aligned block from s on, moved to the front
 * of the register by PSHUFB (SSSE3, which every SSE4.2 CPU has) and
 * followed by NULs, where PCMPISTRI stops at 16 - k (k: the offset of s
 * in its block) if no byte of s did; then aligned blocks. */
__attribute__((target("sse4.2")))
LBG__CSTR_NOASAN static inline const unsigned char *
lbg__cstr_stop42(__m128i r, const unsigned char *s)
{
    const unsigned char *p;
    size_t               i, k;

    if (LBG__CSTR_IN_PAGE(s)) {
        if (lbg__cstr_pcmp(r, s, &i)) {
            return s + i;
        }
    } else {
        p = LBG__CSTR_BLOCK(s);
        k = (size_t) (s - p);
        i = (size_t) _mm_cmpistri(
            r,
            _mm_shuffle_epi8(
                LBG__CSTR_LOAD16(p),
                _mm_loadu_si128(
                    (const __m128i *) (const void *) (lbg__cstr_shift + k))),
            LBG__CSTR_MODE);
        if (i < 16 - k) {
            return s + i;
        }
    }
    return lbg__cstr_blocks42(r, s);
}

/* lbg_cstr_name() with SSE4.2 */
__attribute__((target("sse4.2"))) LBG__CSTR_NOASAN static inline int
lbg__cstr_name42(const unsigned char *s, size_t *len)
{
    /* every tchar but '!' (RFC 9110 5.6.2), in 8 ranges */
    const __m128i r = _mm_setr_epi8(0x23, 0x27, 0x2a, 0x2b, 0x2d, 0x2e, 0x30,
                                    0x39, 0x41, 0x5a, 0x5e, 0x7a, 0x7c, 0x7c,
                                    0x7e, 0x7e);
    const unsigned char *q;

    q = lbg__cstr_stop42(r, s);
    if (*q == '\0') {
        *len = (size_t) (q - s);
        return q != s;
    }
    return lbg__cstr_name_exact(s, q, len);
}

/* lbg_cstr_value() with SSE4.2 */
__attribute__((target("sse4.2"))) LBG__CSTR_NOASAN static inline int
lbg__cstr_value42(const unsigned char *s, size_t *len)
{
    /* HTAB, SP and VCHAR, obs-text (RFC 9110 5.5); the rest of the
     * operand is NUL, which ends it */
    const __m128i r = _mm_setr_epi8(0x09, 0x09, 0x20, 0x7e, (char) 0x80,
                                    (char) 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                    0);

    return lbg__cstr_end(s, lbg__cstr_stop42(r, s), len);
}

/* lbg_cstr_field() with SSE4.2 */
__attribute__((target("sse4.2"))) LBG__CSTR_NOASAN static unsigned
lbg__cstr_field42(const unsigned char *name, const unsigned char *value,
                  size_t *name_len, size_t *value_len)
{
    return (lbg__cstr_name42(name, name_len) ? LBG_CSTR_NAME_OK : 0u)
           | (lbg__cstr_value42(value, value_len) ? LBG_CSTR_VALUE_OK : 0u);
}

/* One entry that lbg__cstr_quick42()'s own loop does not count (out of
 * line): no field for a NULL name nm (returns 0), else both scans in full,
 * then lbg__cstr_other(), whose result it returns; v NULL for "". */
__attribute__((target("sse4.2"), noinline)) LBG__CSTR_NOASAN static int
lbg__cstr_one42(lbg_quick_t *q, const unsigned char *nm,
                const unsigned char *v, const char *skip, size_t skip_len)
{
    size_t   nl, vl;
    unsigned ok;

    if (nm == NULL) {
        return 0;
    }
    if (v == NULL) {
        v = (const unsigned char *) "";
    }
    ok = lbg__cstr_name42(nm, &nl) ? LBG_CSTR_NAME_OK : 0u;
    ok |= lbg__cstr_value42(v, &vl) ? LBG_CSTR_VALUE_OK : 0u;
    return lbg__cstr_other(q, nm, nl, v, vl, ok, skip, skip_len);
}

/* A field name length the loop of lbg__cstr_quick42() looks closer at
 * (bit len & 63 of its mask): 0 (empty, no token), 14 and 17 (the
 * lengths of Content-Length and Transfer-Encoding), and the skipped
 * name's length */
#define LBG__CSTR_LEN_BIT(len) ((uint64_t) 1 << ((len) &63))

/* nonzero when the 16 bytes from s cross into the next 4 KB (bit 12
 * changes): LBG__CSTR_IN_PAGE(s) is 0 */
#define LBG__CSTR_CROSS(s) (((uintptr_t) (s) ^ ((uintptr_t) (s) + 15)) & 4096)

/* nonzero when the 17 bytes from s - 1 cross a 4 KB boundary (s on the
 * first byte of a page, or the 16 bytes from s cross into the next), and
 * when s is NULL: the loop's one test for both */
#define LBG__CSTR_CROSS1(s)                                                  \
    ((((uintptr_t) (s) -1) ^ ((uintptr_t) (s) + 15)) & 4096)

/* lbg__cstr_quick42()'s ranges, as an asm operand: GCC keeps them in
 * registers (it would load the constants again in every block of a
 * long value, or keep them on the stack) */
#if defined(__GNUC__)
#define LBG__CSTR_KEEP(x) __asm__("" : "+x"(x))
#else
#define LBG__CSTR_KEEP(x) ((void) 0)
#endif

/* the budgets' byte counts as asm operands, where they are read from q:
 * GCC would pair them in a vector register (4 more instructions a field) */
#if defined(__GNUC__)
#define LBG__CSTR_KEEPR(x, y) __asm__("" : "+r"(x), "+r"(y))
#else
#define LBG__CSTR_KEEPR(x, y) ((void) 0)
#endif

/*
 * lbg_cstr_quick() with SSE4.2, its loop written for the common field:
 * a name and a value, both on their pages for 16 bytes
 * (LBG__CSTR_CROSS1), the name of tchar and the value of field-vchar, SP,
 * HTAB, each up to its NUL: one PCMPISTRI for a name or value shorter
 * than 16 bytes, whose length is the index it returns, then aligned
 * blocks (lbg__cstr_blocks42); a '!' in a name (the tchar the 8 ranges
 * leave out) resumes the scan after it. One bit test on the name's
 * length sends the lengths of the skipped name and of the framing names
 * to their exact tests (lbg__cstr_other()'s); a Content-Length of 1 to
 * 15 digits is counted here, as lbg_quick_field() counts it (one more
 * PCMPISTRI, range '0'..'9'). A string on the first byte or the last 15
 * of its page is scanned by lbg__cstr_stop42(), which reads within its
 * page. Every other entry (a NULL name or value, a byte outside the
 * class, an empty name, the skipped name, a Transfer-Encoding, and the
 * rarer lengths of a string at a page's edge) goes through
 * lbg__cstr_one42(), with the budgets' counts written back to q around
 * it. Same results as LBG__CSTR_QUICK_LOOP.
 */
__attribute__((target("sse4.2"))) LBG__CSTR_NOASAN static long
lbg__cstr_quick42(lbg_quick_t *q, const void *entries, size_t stride,
                  size_t n, const char *skip, size_t skip_len,
                  const char *name, size_t name_len, const char *last)
{
    /* lbg__cstr_name42()'s and lbg__cstr_value42()'s ranges */
    __m128i rn = _mm_setr_epi8(0x23, 0x27, 0x2a, 0x2b, 0x2d, 0x2e, 0x30, 0x39,
                               0x41, 0x5a, 0x5e, 0x7a, 0x7c, 0x7c, 0x7e,
                               0x7e);
    __m128i rv = _mm_setr_epi8(0x09, 0x09, 0x20, 0x7e, (char) 0x80,
                               (char) 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    /* DIGIT (RFC 9110 8.6), for a Content-Length value */
    const __m128i rd = _mm_setr_epi8(0x30, 0x39, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 0, 0, 0);
    const unsigned char *e = (const unsigned char *) entries;
    const unsigned char *end = e + n * stride, *nm, *v, *p;
    uint64_t             look = LBG__CSTR_LEN_BIT(0) | LBG__CSTR_LEN_BIT(14)
                    | LBG__CSTR_LEN_BIT(17)
                    | (skip_len != 0 ? LBG__CSTR_LEN_BIT(skip_len) : 0);
    unsigned char skip0 = skip_len != 0 ? (unsigned char) skip[0] : 0;
    size_t        bytes = q->bytes, maxf = q->max_field, nl, vl;
    /* the entries not counted here (lbg__cstr_one42()'s, NULL names
     * among them): the loop counts the exceptions, not the common field */
    size_t nother = 0;
    long   cl = -1;
    int    k;

    LBG__CSTR_KEEP(rn);
    LBG__CSTR_KEEP(rv);
    LBG__CSTR_KEEPR(bytes, maxf);
    for (; e != end; e += stride) {
        nm = ((const unsigned char *const *) (const void *) e)[0];
        v = ((const unsigned char *const *) (const void *) e)[1];
        /* a NULL name or value, or a string on the first byte or the
         * last 15 bytes of a page: below */
        if ((LBG__CSTR_CROSS1(nm) | LBG__CSTR_CROSS1(v)) != 0) {
            goto edge;
        }
        if (lbg__cstr_pcmp(rn, nm, &nl)) {
            if (nm[nl] != '\0') {
                goto rare;
            }
        } else {
            p = lbg__cstr_blocks42(rn, nm);
            nl = (size_t) (p - nm);
            if (*p != '\0') {
                goto rare;
            }
        }
    name:
        if ((look & LBG__CSTR_LEN_BIT(nl)) != 0) {
            if (nl == 0 || (nl == skip_len && lbg__lower(nm[0]) == skip0)) {
                goto one;
            }
            k = nl == 14 || nl == 17 ? lbg__framing_name(nm, nl) : 0;
            if (k == LBG__K_CL) {
                goto content_length;
            }
            if (k != 0) {
                goto one;
            }
        }
        if (lbg__cstr_pcmp(rv, v, &vl)) {
            if (v[vl] != '\0') {
                goto one;
            }
        } else {
            p = lbg__cstr_blocks42(rv, v);
            if (*p != '\0') {
                goto one;
            }
            vl = (size_t) (p - v);
        }
    count:
        vl += nl;
        bytes += vl;
        if (vl > maxf) {
            maxf = vl;
        }
        continue;

    rare:
        /* nm[nl]: the first byte of the name outside rn, not its NUL: a
         * '!' (the tchar rn leaves out) resumes the scan after it, on the
         * page of the 16 bytes it reads; any other byte: not a token. (nm
         * through an asm operand: else GCC computes nm + nl in the common
         * path, for this one.) */
        p = nm;
#if defined(__GNUC__)
        __asm__("" : "+r"(p));
#endif
        p += nl;
        while (*p == '!') {
            p++;
            if (LBG__CSTR_CROSS(p) != 0) {
                goto one;
            }
            if (lbg__cstr_pcmp(rn, p, &nl)) {
                p += nl;
            } else {
                p = lbg__cstr_blocks42(rn, p);
            }
        }
        if (*p != '\0') {
            goto one;
        }
        nl = (size_t) (p - nm);
        goto name;

    edge:
        if (nm == NULL) {
            nother++;
            continue;
        }
        if (v == NULL) {
            goto one;
        }
        /* the scans that read only the pages of the strings
         * (lbg__cstr_stop42), the value first; a rare name or length
         * goes out of line */
        p = lbg__cstr_stop42(rv, v);
        if (*p != '\0') {
            goto one;
        }
        vl = (size_t) (p - v);
        p = lbg__cstr_stop42(rn, nm);
        nl = (size_t) (p - nm);
        if (*p != '\0' || (look & LBG__CSTR_LEN_BIT(nl)) != 0) {
            goto one;
        }
        goto count;

    content_length:
        /* 1 to 15 digits: lbg_quick_field()'s lbg__q_digits() */
        if (!lbg__cstr_pcmp(rd, v, &vl) || vl == 0 || v[vl] != '\0') {
            goto one;
        }
        q->ncl++;
        if (cl < 0) {
            cl = (long) ((size_t) (e - (const unsigned char *) entries)
                         / stride);
        }
        goto count;

    one:
        q->bytes = bytes;
        q->max_field = maxf;
        if (lbg__cstr_one42(q, nm, v, skip, skip_len) && cl < 0) {
            cl = (long) ((size_t) (e - (const unsigned char *) entries)
                         / stride);
        }
        nother++;
        bytes = q->bytes;
        maxf = q->max_field;
        LBG__CSTR_KEEPR(bytes, maxf);
        LBG__CSTR_KEEP(rn);
        LBG__CSTR_KEEP(rv);
    }
    q->nfields += n - nother;
    q->bytes = bytes;
    q->max_field = maxf;
    if (last != NULL) {
        /* lbg_cstr_quick_last()'s field: its value, as any other */
        p = lbg__cstr_stop42(rv, (const unsigned char *) last);
        if (*p == '\0') {
            lbg_quick_count(q, name_len,
                            (size_t) (p - (const unsigned char *) last));
        } else {
            lbg__cstr_last(q, name, name_len, last);
        }
    }
    return cl;
}

/* 1 where the CPU has SSE4.2 (libgcc's CPU model, read-only once its
 * constructor has run) */
#define LBG__CSTR_HAS42() __builtin_cpu_supports("sse4.2")
#endif

LBG__CSTR_NOASAN int
lbg_cstr_name(const char *s, size_t *len)
{
#ifdef LBG__CSTR_SSE42
    if (LBG__CSTR_HAS42()) {
        return lbg__cstr_name42((const unsigned char *) s, len);
    }
#endif
    return lbg__cstr_name2((const unsigned char *) s, len);
}

LBG__CSTR_NOASAN int
lbg_cstr_value(const char *s, size_t *len)
{
#ifdef LBG__CSTR_SSE42
    if (LBG__CSTR_HAS42()) {
        return lbg__cstr_value42((const unsigned char *) s, len);
    }
#endif
    return lbg__cstr_value2((const unsigned char *) s, len);
}

LBG__CSTR_NOASAN unsigned
lbg_cstr_field(const char *name, const char *value, size_t *name_len,
               size_t *value_len)
{
    if (value == NULL) {
        value = "";
    }
#ifdef LBG__CSTR_SSE42
    if (LBG__CSTR_HAS42()) {
        return lbg__cstr_field42((const unsigned char *) name,
                                 (const unsigned char *) value, name_len,
                                 value_len);
    }
#endif
    return (lbg__cstr_name2((const unsigned char *) name, name_len)
                ? LBG_CSTR_NAME_OK
                : 0u)
           | (lbg__cstr_value2((const unsigned char *) value, value_len)
                  ? LBG_CSTR_VALUE_OK
                  : 0u);
}

/* lbg_cstr_quick() with SSE2 (out of line: the dispatch below then saves
 * no registers) */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
LBG__CSTR_NOASAN static long
lbg__cstr_quick2(lbg_quick_t *q, const void *entries, size_t stride, size_t n,
                 const char *skip, size_t skip_len)
{
    LBG__CSTR_QUICK_LOOP(lbg__cstr_name2, lbg__cstr_value2);
}

LBG__CSTR_NOASAN long
lbg_cstr_quick(lbg_quick_t *q, const void *entries, size_t stride, size_t n,
               const char *skip, size_t skip_len)
{
#ifdef LBG__CSTR_SSE42
    if (LBG__CSTR_HAS42()) {
        return lbg__cstr_quick42(q, entries, stride, n, skip, skip_len, NULL,
                                 0, NULL);
    }
#endif
    return lbg__cstr_quick2(q, entries, stride, n, skip, skip_len);
}

/* lbg_cstr_quick_last() with SSE2 (out of line, as lbg__cstr_quick2) */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
LBG__CSTR_NOASAN static long
lbg__cstr_quick_last2(lbg_quick_t *q, const void *entries, size_t stride,
                      size_t n, const char *skip, size_t skip_len,
                      const char *name, size_t name_len, const char *value)
{
    long cl = lbg__cstr_quick2(q, entries, stride, n, skip, skip_len);

    if (value != NULL) {
        lbg__cstr_last(q, name, name_len, value);
    }
    return cl;
}

LBG__CSTR_NOASAN long
lbg_cstr_quick_last(lbg_quick_t *q, const void *entries, size_t stride,
                    size_t n, const char *skip, size_t skip_len,
                    const char *name, size_t name_len, const char *value)
{
#ifdef LBG__CSTR_SSE42
    if (LBG__CSTR_HAS42()) {
        return lbg__cstr_quick42(q, entries, stride, n, skip, skip_len, name,
                                 name_len, value);
    }
#endif
    return lbg__cstr_quick_last2(q, entries, stride, n, skip, skip_len, name,
                                 name_len, value);
}

#else /* no SSE2, or LBG_NO_SIMD: strlen, then the exact span tests */

int
lbg_cstr_name(const char *s, size_t *len)
{
    *len = strlen(s);
    return lbg_scan_name((const unsigned char *) s, *len);
}

int
lbg_cstr_value(const char *s, size_t *len)
{
    *len = strlen(s);
    return lbg_scan_value((const unsigned char *) s, *len);
}

unsigned
lbg_cstr_field(const char *name, const char *value, size_t *name_len,
               size_t *value_len)
{
    if (value == NULL) {
        value = "";
    }
    return (lbg_cstr_name(name, name_len) ? LBG_CSTR_NAME_OK : 0u)
           | (lbg_cstr_value(value, value_len) ? LBG_CSTR_VALUE_OK : 0u);
}

/* lbg_cstr_name() and lbg_cstr_value() on unsigned bytes, for the loop */
static int
lbg__cstr_name1(const unsigned char *s, size_t *len)
{
    return lbg_cstr_name((const char *) s, len);
}

static int
lbg__cstr_value1(const unsigned char *s, size_t *len)
{
    return lbg_cstr_value((const char *) s, len);
}

long
lbg_cstr_quick(lbg_quick_t *q, const void *entries, size_t stride, size_t n,
               const char *skip, size_t skip_len)
{
    LBG__CSTR_QUICK_LOOP(lbg__cstr_name1, lbg__cstr_value1);
}

long
lbg_cstr_quick_last(lbg_quick_t *q, const void *entries, size_t stride,
                    size_t n, const char *skip, size_t skip_len,
                    const char *name, size_t name_len, const char *value)
{
    long cl = lbg_cstr_quick(q, entries, stride, n, skip, skip_len);

    if (value != NULL) {
        lbg__cstr_last(q, name, name_len, value);
    }
    return cl;
}

#endif
