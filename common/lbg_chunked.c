/*
 * lbg_chunked.c -- the incremental decoder of the chunked transfer coding
 * (RFC 9112 7.1), in the shape of picohttpparser's phr_chunked_decoder
 * (a state struct fed spans of any size), without its in-place rewrite:
 * the span is read, never written. Used by the raw parser (lbg_parse.c)
 * and the CLI's probe; see lbg_chunked_t in lbg.h.
 */

#include "lbg_internal.h"


/* The decoder's states (lbg_chunked_t.state). */
enum {
    LBG__CH_SIZE = 0, /* in the chunk-size (c->digits hex digits so far) */
    LBG__CH_BWS,      /* SP / HTAB after the chunk-size */
    LBG__CH_EXT,      /* in a chunk-ext, after its ';' */
    LBG__CH_SIZE_LF,  /* the CR that ends the chunk-size line is in */
    LBG__CH_DATA,     /* in chunk-data (c->size bytes to come) */
    LBG__CH_DATA_CR,  /* the CRLF after chunk-data is to come */
    LBG__CH_DATA_LF,  /* its CR is in */
    LBG__CH_TRAILER, /* in the trailer section: a line's bytes, not CR last */
    LBG__CH_TRAILER_CR, /* the same with a CR last */
    LBG__CH_DONE,
    LBG__CH_ERROR
};

/* The largest chunk-size before one more hex digit (HAProxy's limit). */
#define LBG__CH_SIZE_MAX (UINT64_C(1) << 52)


void
lbg_chunked_init(lbg_chunked_t *c)
{
    c->state = LBG__CH_SIZE;
    c->size = 0;
    c->digits = 0;
    c->offset = 0;
    c->data = 0;
    c->error = 0;
    c->ws = -1;
    c->line = 0;
}


int
lbg_chunked_feed(lbg_chunked_t *c, const unsigned char *s, size_t len,
                 size_t *used, size_t *data)
{
    size_t        i = 0, take, nd = 0;
    unsigned char b;
    unsigned      back = 0; /* 1: the error is at the CR before s[i] */
    int           rc = LBG_CHUNKED_MORE;

    if (c->state >= LBG__CH_DONE) {
        if (used != NULL) {
            *used = 0;
        }
        if (data != NULL) {
            *data = 0;
        }
        return c->state == LBG__CH_DONE ? LBG_CHUNKED_DONE
                                        : LBG_CHUNKED_ERROR;
    }
    while (i < len && c->state < LBG__CH_DONE) {
        b = s[i];
        switch (c->state) {
        case LBG__CH_SIZE:
            if (lbg__is(b, LBG__HEXDIG)) {
                if (c->size > LBG__CH_SIZE_MAX) {
                    c->state = LBG__CH_ERROR;
                    continue;
                }
                c->size = c->size * 16
                          + (uint64_t) (b <= '9'
                                            ? b - '0'
                                            : (lbg__lower(b) - 'a' + 10));
                c->digits++;
            } else if (c->digits == 0) {
                c->state = LBG__CH_ERROR;
                continue;
            } else if (lbg__is(b, LBG__WS)) {
                if (c->ws < 0) {
                    c->ws = (int64_t) (c->offset + i);
                }
                c->state = LBG__CH_BWS;
            } else if (b == ';') {
                c->state = LBG__CH_EXT;
            } else if (b == '\r') {
                c->state = LBG__CH_SIZE_LF;
            } else {
                c->state = LBG__CH_ERROR;
                continue;
            }
            break;
        case LBG__CH_BWS:
            if (b == ';') {
                c->state = LBG__CH_EXT;
            } else if (b == '\r') {
                c->state = LBG__CH_SIZE_LF;
            } else if (!lbg__is(b, LBG__WS)) {
                c->state = LBG__CH_ERROR;
                continue;
            }
            break;
        case LBG__CH_EXT:
            if (b == '\r') {
                c->state = LBG__CH_SIZE_LF;
            } else if (b == '\n' || !lbg__is(b, LBG__VCHAR | LBG__WS)) {
                c->state = LBG__CH_ERROR;
                continue;
            }
            break;
        case LBG__CH_SIZE_LF:
            if (b != '\n') {
                c->state = LBG__CH_ERROR;
                back = 1; /* a bad CRLF is reported at its CR */
                continue;
            }
            c->state = c->size == 0 ? LBG__CH_TRAILER : LBG__CH_DATA;
            c->line = 0;
            break;
        case LBG__CH_DATA:
            take = len - i;
            if ((uint64_t) take > c->size) {
                take = (size_t) c->size;
            }
            c->size -= take;
            nd += take;
            i += take;
            if (c->size == 0) {
                c->state = LBG__CH_DATA_CR;
            }
            continue;
        case LBG__CH_DATA_CR:
            if (b != '\r') {
                c->state = LBG__CH_ERROR;
                continue;
            }
            c->state = LBG__CH_DATA_LF;
            break;
        case LBG__CH_DATA_LF:
            if (b != '\n') {
                c->state = LBG__CH_ERROR;
                back = 1;
                continue;
            }
            c->state = LBG__CH_SIZE;
            c->size = 0;
            c->digits = 0;
            break;
        default: /* LBG__CH_TRAILER, LBG__CH_TRAILER_CR */
            if (b != '\n') {
                c->line++;
                c->state = b == '\r' ? LBG__CH_TRAILER_CR : LBG__CH_TRAILER;
                break;
            }
            if (c->line == 0 || c->state != LBG__CH_TRAILER_CR) {
                /* an empty line of a bare LF, or a line not ended in CRLF */
                c->state = LBG__CH_ERROR;
                continue;
            }
            c->state = c->line == 1 ? LBG__CH_DONE : LBG__CH_TRAILER;
            c->line = 0;
            break;
        }
        i++;
    }

    /* i: the bytes consumed; on ERROR, s[i] is the bad byte */
    if (c->state == LBG__CH_ERROR) {
        rc = LBG_CHUNKED_ERROR;
        c->error = c->offset + i - back;
    } else if (c->state == LBG__CH_DONE) {
        rc = LBG_CHUNKED_DONE;
    }
    c->offset += i;
    c->data += nd;
    if (rc == LBG_CHUNKED_MORE) {
        /* where the body is bad if it ends now: at the CR of a CRLF whose
         * LF is missing, else at its end */
        c->error = c->offset
                   - (c->state == LBG__CH_SIZE_LF
                      || c->state == LBG__CH_DATA_LF);
    } else if (rc == LBG_CHUNKED_DONE) {
        c->error = c->offset;
    }
    if (used != NULL) {
        *used = i;
    }
    if (data != NULL) {
        *data = nd;
    }
    return rc;
}
