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

#include "lbg.h"


/* Entries of the per-process cache of clean fields (a power of 2). */
#define NGX_HTTP_LBGUARD_VERDICTS  512

/* Slots a field may be kept in: its own and the next ones (probing). */
#define NGX_HTTP_LBGUARD_VERDICT_PROBES  4


/*
 * One field found clean (lbg_quick_slow() returned 0: a token name, a
 * value of field-vchar, SP and HTAB, neither Content-Length nor
 * Transfer-Encoding), both spans in the cycle pool's blocks as recorded
 * at init_process. An empty entry has value NULL (never a field's
 * value.data in the cache: it is inside a block).
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


/* The slot of a value pointer: Fibonacci hashing, so that the nearby
 * pointers of consecutive configuration tokens spread over the cache. */
#define ngx_http_lbguard_verdict_slot(p)                                     \
    ((ngx_uint_t) (((uint64_t) (uintptr_t) (p)                               \
                    * (uint64_t) 0x9e3779b97f4a7c15ULL) >> 55)               \
     & (NGX_HTTP_LBGUARD_VERDICTS - 1))


/*
 * The quick pass of one field that is not in its home slot: a hit in one
 * of the next slots (probing) counts it as trusted; else lbg_quick_field()
 * on it (untrusted), and, when the cache is armed, both spans lie in the
 * recorded blocks and lbg_quick_slow() finds the field clean, an entry for
 * it. Out of line: once per worker for a configuration field, every time
 * for a field made per response.
 */
void ngx_http_lbguard_verdict_miss(lbg_quick_t *q, ngx_table_elt_t *h);


/*
 * Accounts element h of r->headers_out.headers in quick pass q, exactly
 * as lbg_quick_field(q, key, key.len, value, value.len, 0) would: a hit
 * (the same four words as a clean entry) counts the field for the budgets
 * only (q's counts, lbg.h), anything else goes to
 * ngx_http_lbguard_verdict_miss(). A hit costs a multiply, four compares
 * and the accounting: about 27 instructions with the list walk, against
 * 45 to 110 for the checks of a field and about 150 that nginx spends on
 * an add_header field.
 */
static ngx_inline void
ngx_http_lbguard_verdict_field(lbg_quick_t *q, ngx_table_elt_t *h)
{
    size_t                       len;
    ngx_http_lbguard_verdict_t  *v;

    v = &ngx_http_lbguard_verdicts[ngx_http_lbguard_verdict_slot(
                                       h->value.data)];

    if (v->value == h->value.data
        && v->key == h->key.data
        && v->value_len == h->value.len
        && v->key_len == h->key.len)
    {
        /*
         * What lbg_quick_field(q, ..., 1) does for a name that is neither
         * Content-Length nor Transfer-Encoding (an entry never is): the
         * budget accounting, without the framing-name test.
         */
        len = h->key.len + h->value.len;
        q->nfields++;
        q->bytes += len;
        if (len > q->max_field) {
            q->max_field = len;
        }
        return;
    }

    ngx_http_lbguard_verdict_miss(q, h);
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
