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
 * every response. The assumption lbguard relies on: no module points a
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
 * Accounts element h of r->headers_out.headers in quick pass q, exactly
 * as lbg_quick_field(q, key, key.len, value, value.len, 0) would. A value
 * whose page bit is clear goes through lbg_quick_field() as without the
 * cache (the page test costs about 8 instructions). Else a hit (the same
 * four words as a clean entry, in the home slot or a probed one) counts
 * the field for the budgets only (q's counts, lbg.h): the page test, a
 * multiply, four compares and the accounting, against 45 to 110
 * instructions for the checks of a field and about 190 that nginx spends
 * on an add_header field. Anything else goes through lbg_quick_field().
 */
static ngx_inline void
ngx_http_lbguard_verdict_field(lbg_quick_t *q, ngx_table_elt_t *h)
{
    ngx_http_lbguard_verdict_t  *v;

    if (ngx_http_lbguard_verdict_page(h->value.data)) {

        v = &ngx_http_lbguard_verdicts[ngx_http_lbguard_verdict_slot(
                                           h->value.data)];

        if ((v->value == h->value.data
             && v->key == h->key.data
             && v->value_len == h->value.len
             && v->key_len == h->key.len)
            || ngx_http_lbguard_verdict_probe(h))
        {
            /* the budgets only: an entry is never Content-Length or
             * Transfer-Encoding, and its bytes were found clean */
            lbg_quick_count(q, h->key.len, h->value.len);
            return;
        }
    }

    /* made per request, or not kept: checked as without the cache */

    lbg_quick_field(q, h->key.data, h->key.len, h->value.data, h->value.len,
                    0);
}


/* Clears the cache and disarms it (no entry is added until
 * ngx_http_lbguard_verdict_init_process()). From init_module: every new
 * cycle. */
void ngx_http_lbguard_verdict_init_module(ngx_cycle_t *cycle);

/* Records the blocks of cycle->pool ([start, d.last) of each, sorted) and
 * arms the cache. From init_process; NGX_OK, or NGX_OK with the cache
 * left unarmed when the ranges cannot be allocated (logged). */
ngx_int_t ngx_http_lbguard_verdict_init_process(ngx_cycle_t *cycle);


#endif /* NGX_HTTP_LBGUARD_VERDICT_H */
