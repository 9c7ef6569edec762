/*
 * ngx_http_lbguard_verdict.c -- verdicts kept from the configuration load
 * (issue 14). What and why: ngx_http_lbguard_verdict.h.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_lbguard_verdict.h"

#include <link.h>                       /* dl_iterate_phdr() */


/* read-only segments of the program kept as blocks, at most */
#define NGX_HTTP_LBGUARD_RO_MAX  8


/* One block of the cycle pool as it was at init_process: [start, last). */
typedef struct {
    u_char  *start;
    u_char  *last;
} ngx_http_lbguard_block_t;


ngx_http_lbguard_verdict_t
    ngx_http_lbguard_verdicts[NGX_HTTP_LBGUARD_VERDICTS];

uint64_t
    ngx_http_lbguard_pages[NGX_HTTP_LBGUARD_PAGE_BITS / 64];

/* the recorded blocks, sorted by start (ngx_alloc'd; 0 blocks: unarmed) */
static ngx_http_lbguard_block_t  *ngx_http_lbguard_blocks;
static ngx_uint_t                 ngx_http_lbguard_nblocks;


/* 1 when p[0..len) lies inside one recorded block (binary search) */
static ngx_int_t
ngx_http_lbguard_verdict_inside(u_char *p, size_t len)
{
    ngx_uint_t                 lo, hi, mid;
    ngx_http_lbguard_block_t  *b;

    lo = 0;
    hi = ngx_http_lbguard_nblocks;

    /* the last block whose start is <= p */

    while (hi - lo > 1) {
        mid = lo + (hi - lo) / 2;

        if (ngx_http_lbguard_blocks[mid].start <= p) {
            lo = mid;

        } else {
            hi = mid;
        }
    }

    if (hi == 0) {
        return 0;
    }

    b = &ngx_http_lbguard_blocks[lo];

    return p >= b->start && p <= b->last && len <= (size_t) (b->last - p);
}


ngx_uint_t
ngx_http_lbguard_verdict_probe(ngx_table_elt_t *h)
{
    ngx_uint_t                   i, slot;
    ngx_http_lbguard_verdict_t  *v, *empty;

    slot = ngx_http_lbguard_verdict_slot(h->value.data);
    empty = NULL;

    for (i = 0; i < NGX_HTTP_LBGUARD_VERDICT_PROBES; i++) {
        v = &ngx_http_lbguard_verdicts[(slot + i)
                                       & (NGX_HTTP_LBGUARD_VERDICTS - 1)];

        if (v->value == NULL) {
            if (empty == NULL) {
                empty = v;
            }
            continue;
        }

        if (i > 0
            && v->value == h->value.data
            && v->key == h->key.data
            && v->value_len == h->value.len
            && v->key_len == h->key.len)
        {
            return 1;
        }
    }

    if (empty == NULL
        || ngx_http_lbguard_nblocks == 0
        || h->key.len == 0
        || h->value.data == NULL
        || !ngx_http_lbguard_verdict_inside(h->value.data, h->value.len)
        || !ngx_http_lbguard_verdict_inside(h->key.data, h->key.len)
        || lbg__quick_slow(h->key.data, h->key.len, h->value.data,
                          h->value.len, 0) != 0)
    {
        return 0;
    }

    empty->value = h->value.data;
    empty->key = h->key.data;
    empty->value_len = h->value.len;
    empty->key_len = h->key.len;

    return 0;
}


void
ngx_http_lbguard_verdict_init_module(ngx_cycle_t *cycle)
{
    ngx_memzero(ngx_http_lbguard_verdicts, sizeof(ngx_http_lbguard_verdicts));
    ngx_memzero(ngx_http_lbguard_pages, sizeof(ngx_http_lbguard_pages));

    if (ngx_http_lbguard_blocks) {
        ngx_free(ngx_http_lbguard_blocks);
    }

    ngx_http_lbguard_blocks = NULL;
    ngx_http_lbguard_nblocks = 0;
}


/* the read-only PT_LOAD segments of the program (dl_iterate_phdr()'s
 * first object), into at most `max` blocks; the number stored */

typedef struct {
    ngx_http_lbguard_block_t  *b;
    ngx_uint_t                 n;
    ngx_uint_t                 max;
} ngx_http_lbguard_ro_t;


static int
ngx_http_lbguard_readonly_one(struct dl_phdr_info *info, size_t size,
    void *data)
{
    ngx_uint_t              i;
    const ElfW(Phdr)       *ph;
    ngx_http_lbguard_ro_t  *ro = data;

    for (i = 0; i < info->dlpi_phnum && ro->n < ro->max; i++) {
        ph = &info->dlpi_phdr[i];

        if (ph->p_type == PT_LOAD && !(ph->p_flags & PF_W)
            && ph->p_memsz > 0)
        {
            ro->b[ro->n].start = (u_char *) (info->dlpi_addr + ph->p_vaddr);
            ro->b[ro->n].last = ro->b[ro->n].start + ph->p_memsz;
            ro->n++;
        }
    }

    return 1;                           /* the program only */
}


static ngx_uint_t
ngx_http_lbguard_readonly(ngx_http_lbguard_block_t *b, ngx_uint_t max)
{
    ngx_http_lbguard_ro_t  ro;

    ro.b = b;
    ro.n = 0;
    ro.max = max;

    (void) dl_iterate_phdr(ngx_http_lbguard_readonly_one, &ro);

    return ro.n;
}


/* ngx_sort() order: by start */
static ngx_int_t
ngx_http_lbguard_block_cmp(const void *one, const void *two)
{
    const ngx_http_lbguard_block_t  *a = one, *b = two;

    return (a->start > b->start) - (a->start < b->start);
}


ngx_int_t
ngx_http_lbguard_verdict_init_process(ngx_cycle_t *cycle)
{
    uintptr_t                  page, bit;
    ngx_uint_t                 i, n;
    ngx_pool_t                *p;
    ngx_http_lbguard_block_t  *b;

    ngx_http_lbguard_verdict_init_module(cycle);

#if (NGX_HTTP_LBGUARD_SSE2) && defined(__GNUC__) && defined(__x86_64__)
    __builtin_cpu_init();
    ngx_http_lbguard_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
#endif

    n = NGX_HTTP_LBGUARD_RO_MAX;

    for (p = cycle->pool; p; p = p->d.next) {
        n++;
    }

    b = ngx_alloc(n * sizeof(ngx_http_lbguard_block_t), cycle->log);
    if (b == NULL) {
        return NGX_OK;                  /* unarmed: every field checked */
    }

    /*
     * The data of a block begins after its header: the first block's
     * header is a whole ngx_pool_t, the others' an ngx_pool_data_t
     * (ngx_palloc_block()). Headers change at run time (d.last, d.failed):
     * they are not part of any range.
     */

    n = 0;

    for (p = cycle->pool; p; p = p->d.next) {
        b[n].start = (u_char *) p + (p == cycle->pool ? sizeof(ngx_pool_t)
                                                      : sizeof(ngx_pool_data_t));
        b[n].last = p->d.last;
        n++;
    }

    /* and nginx's own read-only segments: the literals its modules point
     * fields at ("Accept-Ranges: bytes", "ETag") are never written */

    n += ngx_http_lbguard_readonly(&b[n], NGX_HTTP_LBGUARD_RO_MAX);

    ngx_sort(b, n, sizeof(ngx_http_lbguard_block_t),
             ngx_http_lbguard_block_cmp);

    /* the page bits of every block, [start, last] (a set bit proves
     * nothing: the exact test is ngx_http_lbguard_verdict_inside()) */

    for (i = 0; i < n; i++) {
        for (page = (uintptr_t) b[i].start >> NGX_HTTP_LBGUARD_PAGE_SHIFT;
             page <= ((uintptr_t) b[i].last >> NGX_HTTP_LBGUARD_PAGE_SHIFT);
             page++)
        {
            bit = page % NGX_HTTP_LBGUARD_PAGE_BITS;
            ngx_http_lbguard_pages[bit / 64] |= (uint64_t) 1 << (bit % 64);
        }
    }

    ngx_http_lbguard_blocks = b;
    ngx_http_lbguard_nblocks = n;

    return NGX_OK;
}


void
ngx_http_lbguard_shape_learn(ngx_http_request_t *r,
    ngx_http_lbguard_shape_t **sp, ngx_uint_t k, ngx_str_t *ct)
{
    ngx_uint_t                   i, n, cap;
    ngx_list_part_t             *part;
    ngx_table_elt_t             *h;
    ngx_http_lbguard_kv_t       *kv;
    ngx_http_lbguard_shape_t    *s;

    if (ngx_http_lbguard_nblocks == 0 || !ngx_http_lbguard_shape_keepable(k)) {
        return;
    }

    /* the Content-Type the pass checked: nginx's own span, and kept only
     * when it is configuration memory (types, default_type) */

    if (ct->len
        && (ct->data != r->headers_out.content_type.data
            || ct->len != r->headers_out.content_type.len
            || !ngx_http_lbguard_verdict_inside(ct->data, ct->len)))
    {
        return;
    }

    n = 0;

    for (part = &r->headers_out.headers.part; part; part = part->next) {
        n += part->nelts;
    }

    if (n > NGX_HTTP_LBGUARD_SHAPE_MAX) {
        return;
    }

    s = *sp;

    if (s == NULL) {
        s = ngx_pcalloc(ngx_cycle->pool, sizeof(ngx_http_lbguard_shape_t));
        if (s == NULL) {
            return;
        }

        s->key = NGX_HTTP_LBGUARD_SHAPE_INVALID;
        *sp = s;
    }

    s->key = NGX_HTTP_LBGUARD_SHAPE_INVALID;   /* matches nothing till done */

    if (s->cap < n) {
        for (cap = 8; cap < n; cap *= 2) { /* void */ }

        kv = ngx_pmemalign(ngx_cycle->pool,
                           cap * sizeof(ngx_http_lbguard_kv_t), 32);
        if (kv == NULL) {
            return;
        }

        s->kv = kv;
        s->cap = cap;
    }

    n = 0;
    s->nchecked = 0;

    for (part = &r->headers_out.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            s->kv[n].key = h[i].key;
            s->kv[n].value = h[i].value;

            /* a kept verdict (the cache, exactly), or a value to check
             * each time under a kept name */

            if (!(h[i].hash != 0 && ngx_http_lbguard_verdict_hit(&h[i]))) {
                if (s->nchecked == NGX_HTTP_LBGUARD_SHAPE_CHECKED
                    || h[i].hash == 0
                    || h[i].key.len == 0
                    || !ngx_http_lbguard_verdict_inside(h[i].key.data,
                                                        h[i].key.len)
                    || lbg__quick_slow(h[i].key.data, h[i].key.len,
                                       h[i].value.data, h[i].value.len, 0)
                       != 0)
                {
                    return;             /* s->key stays invalid */
                }

                s->checked[s->nchecked++] = n;
            }

            n++;
        }
    }

    s->status = r->headers_out.status;
    s->ct_data = r->headers_out.content_type.data;
    s->ct_len = r->headers_out.content_type.len;
    s->nelts = n;
    s->key = k;
}


ngx_uint_t  ngx_http_lbguard_avx2;


/* the shape compares an element's key and value as one 32-byte span */
_Static_assert(offsetof(ngx_table_elt_t, value)
               == offsetof(ngx_table_elt_t, key) + sizeof(ngx_str_t)
               && sizeof(ngx_http_lbguard_kv_t) == 2 * sizeof(ngx_str_t),
               "ngx_table_elt_t: key and value are not adjacent");


#if (NGX_HTTP_LBGUARD_SSE2) && defined(__GNUC__) && defined(__x86_64__)

#include <immintrin.h>

__attribute__((target("avx2")))
ngx_uint_t
ngx_http_lbguard_kv_eq_avx2(ngx_table_elt_t *h, ngx_http_lbguard_kv_t *kv,
    ngx_uint_t n)
{
    ngx_uint_t  i;
    __m256i     acc, a, b;

    acc = _mm256_set1_epi8((char) 0xff);

    for (i = 0; i + 1 < n; i += 2) {
        a = _mm256_cmpeq_epi64(_mm256_loadu_si256((__m256i *) &h[i].key),
                               _mm256_load_si256((__m256i *) &kv[i]));
        b = _mm256_cmpeq_epi64(_mm256_loadu_si256((__m256i *) &h[i + 1].key),
                               _mm256_load_si256((__m256i *) &kv[i + 1]));
        acc = _mm256_and_si256(acc, _mm256_and_si256(a, b));
    }

    if (i < n) {
        acc = _mm256_and_si256(acc,
                  _mm256_cmpeq_epi64(_mm256_loadu_si256((__m256i *) &h[i].key),
                                     _mm256_load_si256((__m256i *) &kv[i])));
    }

    return (uint32_t) _mm256_movemask_epi8(acc) == 0xffffffff;
}

#else

ngx_uint_t
ngx_http_lbguard_kv_eq_avx2(ngx_table_elt_t *h, ngx_http_lbguard_kv_t *kv,
    ngx_uint_t n)
{
    ngx_http_lbguard_avx2 = 0;

    return ngx_http_lbguard_kv_eq(h, kv, n);
}

#endif
