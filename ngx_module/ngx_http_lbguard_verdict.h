/*
 * ngx_http_lbguard_verdict.h -- verdicts kept from the configuration load
 * (issue 14): a response field whose name and value nginx takes from
 * configuration memory (add_header with a constant value, and any module
 * that points a field into its configuration strings) is checked once per
 * worker, not once per response. Part of ngx_http_lbguard_filter_module:
 * the quick pass (ngx_http_lbguard_view) calls
 * ngx_http_lbguard_verdict_field() for every element of
 * r->headers_out.headers.
 *
 * Why a hit is sound. ngx_http_add_header() (ngx_http_headers_filter_
 * module.c) stores h->key = hv->key and, for a value with no variables,
 * h->value = cv->value (ngx_http_complex_value() returns the compiled
 * value itself): both point at the tokens ngx_conf_read_token() allocated
 * in cf->pool, which is cycle->pool. A cycle pool's blocks are never freed
 * nor moved while the cycle lives (ngx_pfree() frees large allocations
 * only), and the strings a configuration stored in them before the worker
 * started are not written again. So a field whose key.data, key.len,
 * value.data and value.len are exactly those of a field found clean
 * earlier, with both spans inside the cycle pool's blocks as they were at
 * init_process ([start, d.last), recorded then; large allocations have no
 * recorded size and are skipped), has the very same bytes: its verdict
 * (clean, and no Content-Length or Transfer-Encoding) still holds, and
 * only its budget accounting (count, bytes, largest field) is needed. A
 * value made per request (add_header X $arg_x: ngx_http_complex_value()
 * allocates it in r->pool) is never inside those spans and is checked on
 * every response. nginx's own literals are kept the same way: the
 * program's read-only PT_LOAD segments (dl_iterate_phdr()) are recorded
 * as blocks too ("Accept-Ranges: bytes", the "ETag" name of
 * ngx_http_set_etag()). The assumption lbguard relies on: no module points a
 * response field into configuration memory that it rewrites while serving
 * (none of nginx's does; lbguard's own repairs allocate new values).
 *
 * The cache is per process (static memory, not shared): cleared at every
 * init_module (a new cycle), armed at init_process from ngx_cycle. In
 * single-process mode (master_process off) a reload makes a new cycle
 * without an init_process: the cache stays cleared and unarmed, every
 * field is checked as without it.
 */

#ifndef NGX_HTTP_LBGUARD_VERDICT_H
#define NGX_HTTP_LBGUARD_VERDICT_H


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "lbg_quick.h"

#if defined(__SSE2__) && !defined(LBG_NO_SIMD)
#include <emmintrin.h>
#define NGX_HTTP_LBGUARD_SSE2  1
#else
#define NGX_HTTP_LBGUARD_SSE2  0
#endif


/* Entries of the per-process cache of clean fields (a power of 2). */
#define NGX_HTTP_LBGUARD_VERDICTS  1024

/* Bits of the page map (a power of 2), pages of 4 KB (shift 12). */
#define NGX_HTTP_LBGUARD_PAGE_BITS   16384
#define NGX_HTTP_LBGUARD_PAGE_SHIFT  12

/* Slots a field may be kept in: its own and the next ones. */
#define NGX_HTTP_LBGUARD_VERDICT_PROBES  4


/*
 * One field found clean (lbg__quick_slow() returned 0: a token name, a
 * value of field-vchar, SP and HTAB, neither Content-Length nor
 * Transfer-Encoding), both spans in the cycle pool's blocks as recorded
 * at init_process. An empty entry has value NULL (never a field's
 * value.data in the cache: it is inside a block). An entry is never
 * replaced while its cycle lives: a field whose slots are all taken is
 * checked on every response, as without the cache.
 */
typedef struct {
    u_char  *value;                     /* h->value.data */
    u_char  *key;                       /* h->key.data */
    size_t   value_len;                 /* h->value.len, bytes */
    size_t   key_len;                   /* h->key.len, bytes */
} ngx_http_lbguard_verdict_t;


/* The cache, direct-mapped on value.data (ngx_http_lbguard_verdict_slot). */
extern ngx_http_lbguard_verdict_t
    ngx_http_lbguard_verdicts[NGX_HTTP_LBGUARD_VERDICTS];

/*
 * A coarse filter in front of the exact block test: bit (address >> 12)
 * mod NGX_HTTP_LBGUARD_PAGE_BITS is set for every 4 KB page a recorded
 * block overlaps (all zero: unarmed). A clear bit proves the address is
 * in no block; a set bit proves nothing (ngx_http_lbguard_verdict_learn()
 * decides exactly). It keeps the values made per request (request pools,
 * upstream buffers, literals) from calling anything.
 */
extern uint64_t
    ngx_http_lbguard_pages[NGX_HTTP_LBGUARD_PAGE_BITS / 64];


/* The slot of a value pointer: Fibonacci hashing, so that the nearby
 * pointers of consecutive configuration tokens spread over the cache. */
#define ngx_http_lbguard_verdict_slot(p)                                     \
    ((ngx_uint_t) (((uint64_t) (uintptr_t) (p)                               \
                    * (uint64_t) 0x9e3779b97f4a7c15ULL) >> 54)               \
     & (NGX_HTTP_LBGUARD_VERDICTS - 1))

/* 1 when p's page may overlap a recorded block (see above) */
#define ngx_http_lbguard_verdict_page(p)                                     \
    ((ngx_http_lbguard_pages[((uintptr_t) (p)                                \
                              >> NGX_HTTP_LBGUARD_PAGE_SHIFT)                \
                             / 64 % (NGX_HTTP_LBGUARD_PAGE_BITS / 64)]       \
      >> (((uintptr_t) (p) >> NGX_HTTP_LBGUARD_PAGE_SHIFT) % 64)) & 1)


/*
 * A field whose value's page bit is set and which is not in its home
 * slot: 1 when it is in one of the next NGX_HTTP_LBGUARD_VERDICT_PROBES - 1
 * slots (linear probing: fields whose values hash alike do not evict each
 * other; no entry is ever replaced while its cycle lives). Else 0, after
 * adding an entry for it in the first empty one of those slots when both
 * of its spans lie in the recorded blocks and lbg__quick_slow() finds it
 * clean. Out of line: reached once per worker by a configuration field,
 * and by a field made per request only when its page bit is set.
 */
ngx_uint_t ngx_http_lbguard_verdict_probe(ngx_table_elt_t *h);


/*
 * 1 when element h is a kept verdict: its value's page bit is set and its
 * four words are those of a clean entry, in its home slot or a probed one
 * (ngx_http_lbguard_verdict_probe(), which may add an entry for it and
 * still return 0). The test of ngx_http_lbguard_verdict_field() and of
 * ngx_http_lbguard_shape_learn().
 */
static ngx_inline ngx_uint_t
ngx_http_lbguard_verdict_hit(ngx_table_elt_t *h)
{
    ngx_http_lbguard_verdict_t  *v;

    if (!ngx_http_lbguard_verdict_page(h->value.data)) {
        return 0;
    }

    v = &ngx_http_lbguard_verdicts[ngx_http_lbguard_verdict_slot(
                                       h->value.data)];

    return (v->value == h->value.data
            && v->key == h->key.data
            && v->value_len == h->value.len
            && v->key_len == h->key.len)
           || ngx_http_lbguard_verdict_probe(h);
}


/*
 * Accounts element h of r->headers_out.headers in quick pass q, exactly
 * as lbg_quick_field(q, key, key.len, value, value.len, 0) would; returns
 * 1 when h was a kept verdict (a hit), else 0. A value
 * whose page bit is clear goes through lbg_quick_field() as without the
 * cache (the page test costs about 8 instructions). Else a hit (the same
 * four words as a clean entry, in the home slot or a probed one) counts
 * the field for the budgets only (q's counts, lbg.h): the page test, a
 * multiply, four compares and the accounting, against 45 to 110
 * instructions for the checks of a field and about 190 that nginx spends
 * on an add_header field. Anything else goes through lbg_quick_field().
 */
static ngx_inline ngx_uint_t
ngx_http_lbguard_verdict_field(lbg_quick_t *q, ngx_table_elt_t *h)
{
    if (ngx_http_lbguard_verdict_hit(h)) {
        /* the budgets only: an entry is never Content-Length or
         * Transfer-Encoding, and its bytes were found clean */
        lbg_quick_count(q, h->key.len, h->value.len);
        return 1;
    }

    /* made per request, or not kept: checked as without the cache */

    lbg_quick_field(q, h->key.data, h->key.len, h->value.data, h->value.len,
                    0);

    return 0;
}


/*
 * Shapes: the verdict of a whole clean response, kept per location
 * (issue 14). The quick pass over a response reads the status code, a few
 * members of r->headers_out (which host-made fields nginx writes), the
 * Content-Type, the location's constants (server_tokens, keepalive_header,
 * gzip_vary: the same for every request of a location) and every element
 * of r->headers_out.headers. When all of those are what they were in a
 * response the core's quick pass found clean, and every byte the pass
 * checked lay in configuration memory (the elements are kept verdicts,
 * the Content-Type is a configuration string), the verdict holds again:
 * nothing but the lengths of nginx's own Content-Length digits can
 * differ, and the shape is kept only when the budgets leave room for the
 * longest (lbg_quick_fits(), NGX_OFF_T_LEN bytes). So a response that
 * matches the location's shape skips the quick pass: about 40
 * instructions plus 8 per element, against 300 plus 40 per element.
 *
 * One shape per location and worker, in the location's
 * ngx_http_lbguard_loc_conf_t (the worker's own copy of the page after
 * fork); made from the cycle pool at the first clean response that can be
 * kept, replaced by the next one that can be kept and does not match.
 * kv is 32-byte aligned (the AVX2 compare).
 */

/* The learned spans of one element: the layout of ngx_table_elt_t's key
 * and value members (32 bytes on LP64), so that both compare as words. */
typedef struct {
    ngx_str_t   key;
    ngx_str_t   value;
} ngx_http_lbguard_kv_t;

/* One location's shape. kv holds nelts elements (room for cap),
 * 32-byte aligned; key NGX_HTTP_LBGUARD_SHAPE_INVALID while being written
 * or after a failed write (no response has that key). */
typedef struct {
    ngx_uint_t              key;        /* ngx_http_lbguard_shape_key() */
    ngx_uint_t              status;     /* r->headers_out.status */
    u_char                 *ct_data;    /* r->headers_out.content_type */
    size_t                  ct_len;
    ngx_uint_t              nelts;      /* of r->headers_out.headers */
    ngx_uint_t              cap;
    ngx_http_lbguard_kv_t  *kv;
    /* elements whose value is made per request (nginx's ETag, Expires):
     * their index; their name is kept, their value checked each time */
    ngx_uint_t              nchecked;
    ngx_uint_t              checked[4];
} ngx_http_lbguard_shape_t;

#define NGX_HTTP_LBGUARD_SHAPE_NONE     ((ngx_uint_t) -1)  /* a response's */
#define NGX_HTTP_LBGUARD_SHAPE_INVALID  ((ngx_uint_t) -2)  /* a shape's */

/* Elements a shape holds at most (a longer list is checked every time). */
#define NGX_HTTP_LBGUARD_SHAPE_MAX      256

/* Elements of a shape whose value is checked each time, at most. */
#define NGX_HTTP_LBGUARD_SHAPE_CHECKED  4


/*
 * The members of r->headers_out (and r) that decide which fields nginx's
 * header filter writes itself (ngx_http_lbguard_view() reads the same), as
 * a key: bit 0 a Content-Length from content_length_n, bit 1 a
 * Last-Modified from last_modified_time, bit 2 "Connection: keep-alive",
 * bit 3 "Vary: Accept-Encoding". NGX_HTTP_LBGUARD_SHAPE_NONE for a
 * response whose verdict is never kept: an element nginx points at for
 * Server, Date, Content-Length, Last-Modified or Location, a status line
 * of its own, a charset appended to the Content-Type, chunked (so the
 * members tested are words that must be zero, folded into one test).
 */
static ngx_inline ngx_uint_t
ngx_http_lbguard_shape_key(ngx_http_request_t *r,
    ngx_http_core_loc_conf_t *clcf)
{
    if (((uintptr_t) r->headers_out.server
         | (uintptr_t) r->headers_out.date
         | (uintptr_t) r->headers_out.content_length
         | (uintptr_t) r->headers_out.last_modified
         | (uintptr_t) r->headers_out.location
         | r->headers_out.status_line.len
         | r->headers_out.charset.len
         | r->chunked)
        != 0)
    {
        return NGX_HTTP_LBGUARD_SHAPE_NONE;
    }

    return (ngx_uint_t) (r->headers_out.content_length_n >= 0)
           | (ngx_uint_t) (r->headers_out.last_modified_time != -1) << 1
           | (ngx_uint_t) (r->keepalive && !(ngx_terminate || ngx_exiting))
             << 2
#if (NGX_HTTP_GZIP)
           | (ngx_uint_t) (r->gzip_vary && clcf->gzip_vary) << 3
#endif
           ;
}

/* 1 when a response of key k may have its verdict kept */
#define ngx_http_lbguard_shape_keepable(k)  ((k) != NGX_HTTP_LBGUARD_SHAPE_NONE)


/*
 * The runs of elements compared at once: 1 when h[0..n) has exactly the
 * key and value spans of kv[0..n). ngx_http_lbguard_kv_eq_avx2() does
 * the same 32 bytes per element in one AVX2 compare, out of line (chosen
 * at init_process when the CPU has AVX2, for runs of
 * NGX_HTTP_LBGUARD_KV_AVX2 elements or more); the inline one uses SSE2
 * (two 16-byte compares per element) or, without it, words.
 */
#define NGX_HTTP_LBGUARD_KV_AVX2  8

extern ngx_uint_t  ngx_http_lbguard_avx2;

ngx_uint_t ngx_http_lbguard_kv_eq_avx2(ngx_table_elt_t *h,
    ngx_http_lbguard_kv_t *kv, ngx_uint_t n);

static ngx_inline ngx_uint_t
ngx_http_lbguard_kv_eq(ngx_table_elt_t *h, ngx_http_lbguard_kv_t *kv,
    ngx_uint_t n)
{
    ngx_uint_t  i;
#if (NGX_HTTP_LBGUARD_SSE2)
    __m128i     acc;

    if (n >= NGX_HTTP_LBGUARD_KV_AVX2 && ngx_http_lbguard_avx2) {
        return ngx_http_lbguard_kv_eq_avx2(h, kv, n);
    }

    acc = _mm_set1_epi8((char) 0xff);

    for (i = 0; i < n; i++) {
        acc = _mm_and_si128(acc, _mm_and_si128(
                  _mm_cmpeq_epi8(_mm_loadu_si128((__m128i *) &h[i].key),
                                 _mm_load_si128((__m128i *) &kv[i].key)),
                  _mm_cmpeq_epi8(_mm_loadu_si128((__m128i *) &h[i].value),
                                 _mm_load_si128((__m128i *) &kv[i].value))));
    }

    return _mm_movemask_epi8(acc) == 0xffff;
#else
    uintptr_t   acc;

    acc = 0;

    for (i = 0; i < n; i++) {
        acc |= (h[i].key.len ^ kv[i].key.len)
               | ((uintptr_t) h[i].key.data ^ (uintptr_t) kv[i].key.data)
               | (h[i].value.len ^ kv[i].value.len)
               | ((uintptr_t) h[i].value.data ^ (uintptr_t) kv[i].value.data);
    }

    return acc == 0;
#endif
}


/* element i of r->headers_out.headers (NULL past its end) */
static ngx_inline ngx_table_elt_t *
ngx_http_lbguard_shape_elt(ngx_http_request_t *r, ngx_uint_t i)
{
    ngx_list_part_t  *part;

    for (part = &r->headers_out.headers.part; part; part = part->next) {
        if (i < part->nelts) {
            return (ngx_table_elt_t *) part->elts + i;
        }

        i -= part->nelts;
    }

    return NULL;
}


/*
 * 1 when the response matches shape s (key k from
 * ngx_http_lbguard_shape_key()): the same key and status code, the same
 * Content-Type span, and the same key and value spans of every element of
 * r->headers_out.headers, in order; but an element whose value is made
 * per request (s->checked) needs the same name span and value length only,
 * and a value the core finds clean (lbg_scan_value(): its name is kept,
 * and neither Content-Length nor Transfer-Encoding). Its value pointer
 * is written into s for the compare.
 */
static ngx_inline ngx_uint_t
ngx_http_lbguard_shape_match(ngx_http_request_t *r,
    ngx_http_lbguard_shape_t *s, ngx_uint_t k)
{
    ngx_uint_t              n, i;
    ngx_list_part_t        *part;
    ngx_table_elt_t        *h;
    ngx_http_lbguard_kv_t  *kv, *kend;

    if (s->key != k
        || s->status != r->headers_out.status
        || s->ct_data != r->headers_out.content_type.data
        || s->ct_len != r->headers_out.content_type.len)
    {
        return 0;
    }

    for (n = 0; n < s->nchecked; n++) {
        i = s->checked[n];
        h = ngx_http_lbguard_shape_elt(r, i);

        if (h == NULL
            || h->value.len != s->kv[i].value.len
            || !lbg_scan_value(h->value.data, h->value.len))
        {
            return 0;
        }

        s->kv[i].value.data = h->value.data;
    }

    kv = s->kv;
    kend = kv + s->nelts;
    part = &r->headers_out.headers.part;

    do {
        n = part->nelts;

        if (n > (ngx_uint_t) (kend - kv)
            || !ngx_http_lbguard_kv_eq(part->elts, kv, n))
        {
            return 0;
        }

        kv += n;
        part = part->next;

    } while (part);

    return kv == kend;
}


/*
 * Keeps the verdict of the response r the quick pass has just found clean
 * as *sp (made or replaced; from ngx_cycle->pool): key k, its status
 * code, Content-Type span ct (the one the pass checked) and every element
 * of r->headers_out.headers: a kept verdict, or one of at most
 * NGX_HTTP_LBGUARD_SHAPE_CHECKED elements whose name is kept memory and
 * whose value is clean (checked each time). The caller has made sure
 * that k is keepable, that the budgets leave room (lbg_quick_fits()) and
 * that at most NGX_HTTP_LBGUARD_SHAPE_CHECKED elements were not kept
 * verdicts (ngx_http_lbguard_verdict_field()). Keeps nothing (and leaves
 * *sp matching no response) when the Content-Type is not kept memory, an
 * element is neither, the list is longer than
 * NGX_HTTP_LBGUARD_SHAPE_MAX or memory runs out. Out of line: once per
 * location and worker, or when a location's responses change shape.
 */
void ngx_http_lbguard_shape_learn(ngx_http_request_t *r,
    ngx_http_lbguard_shape_t **sp, ngx_uint_t k, ngx_str_t *ct);


/* Clears the cache and disarms it (no entry is added until
 * ngx_http_lbguard_verdict_init_process()). From init_module: every new
 * cycle. */
void ngx_http_lbguard_verdict_init_module(ngx_cycle_t *cycle);

/* Records the blocks of cycle->pool ([start, d.last) of each, sorted) and
 * arms the cache. From init_process; NGX_OK, or NGX_OK with the cache
 * left unarmed when the ranges cannot be allocated (logged). */
ngx_int_t ngx_http_lbguard_verdict_init_process(ngx_cycle_t *cycle);


#endif /* NGX_HTTP_LBGUARD_VERDICT_H */
