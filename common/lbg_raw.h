/*
 * lbg_raw.h -- the raw response parser of the lbguard core: one HTTP/1.x
 * response as captured from the wire (status line, header section, body
 * framing; RFC 9112), checked and repaired as bytes. For tools (the CLI,
 * the fuzzer, the unit tests); adapters see the host's parsed response and
 * need lbg.h only. Lives in lbg_parse.c, which the modules do not build.
 * Depends on lbg.h; like the rest of the core it allocates nothing and
 * reads no byte past a given length.
 */

#ifndef LBG_RAW_H
#define LBG_RAW_H

#include "lbg.h"

#ifdef __cplusplus
extern "C" {
#endif


/*
 * What lbg_parse learns from raw bytes, beyond the view.
 *   header_len   bytes of the status line and header section, including
 *                the empty line; 0 when the header section is incomplete.
 *   body         the bytes after the header section (body_len of them).
 *   framing      how the body is delimited (lbg_framing_e, lbg.h: the
 *                report's framing verdict): LBG_FRAMING_NONE (bodiless),
 *                _LENGTH (Content-Length), _CHUNKED, _CLOSE (until close).
 *   body_expected  declared Content-Length (LENGTH), or -1.
 *   body_framed  bytes of `body` that belong to this response per the
 *                framing (for CHUNKED: up to and including the last-chunk
 *                and trailer section when complete).
 *   bare_lf      number of lines that ended in LF without CR.
 *
 * After a 1xx response (an interim response, or 101 and a new protocol)
 * the bytes that follow belong to the next message: they are not checked,
 * framing is NONE and body_framed is body_len (lbg_repair_raw copies them).
 */
typedef struct {
    lbg_response_t       view;
    size_t               header_len;
    const unsigned char *body;
    size_t               body_len;
    lbg_framing_e        framing;
    int64_t              body_expected;
    size_t               body_framed;
    size_t               bare_lf;
    unsigned             chunk_ws : 1; /* CHUNK_SIZE_WHITESPACE recorded:
                                          the repair drops that white
                                          space (issue 9) */
    size_t               interim_body; /* a 1xx's body: the first
                                          interim_body bytes of `body`
                                          (its Content-Length), reported
                                          as BODY_ON_BODILESS and dropped
                                          by the repair (issue 9) */
} lbg_raw_t;

/*
 * Parses one raw HTTP/1.x response in buf[0..len) as captured from the
 * wire (strict: RFC 9112). The view's fields point into buf; the caller
 * owns fields[] (capacity fields_cap); lines beyond it are not in the view
 * and a TOO_MANY_FIELDS finding is recorded. head: 1 when the response
 * answers a HEAD request.
 *
 * Records the raw-level findings (VERSION_INVALID: not "HTTP/" 1*DIGIT "."
 * 1*DIGIT; VERSION_DIGITS: more than one digit on a side; VERSION_UNSUPPORTED:
 * HTTP/d.d other than 1.0 and 1.1; STATUS_LINE_WHITESPACE: more than one SP
 * before the status code; BARE_LF, FIELD_MISSING_COLON, HEADER_INCOMPLETE,
 * CHUNKED_INVALID, BODY_LONGER, BODY_SHORTER, BODY_ON_BODILESS;
 * FIELD_NAME_INVALID with n1 > 0 for white space between a field name and
 * its colon, RFC 9112 5.1: the view's name is the token without it, and
 * the repair keeps the field) into rep, filtered by p's profile, then runs
 * lbg_check on the view. Returns 0, or
 * -1 when buf holds no status line at all: empty input, no "HTTP/"
 * prefix (a VERSION_INVALID finding), or a status line cut before its LF
 * (HEADER_INCOMPLETE only, n1 = len: a partial line is not judged).
 */
int lbg_parse(const lbg_policy_t *p, const unsigned char *buf, size_t len,
              int head, lbg_field_t *fields, size_t fields_cap,
              lbg_raw_t *out, lbg_report_t *rep);

/*
 * Writes the repaired response for a parse of buf (raw, rep as lbg_parse
 * left them) into out (out_cap bytes): a status line "HTTP/1.x NNN
 * reason", every field line not removed (values edited, CRLF line ends),
 * "Connection: close" when rep->close, the empty line, then the body per
 * the edits (dropped, or cut to the declared length). A sanitised value
 * loses the SP that replaced bytes at either end (a parser strips OWS).
 * A buffer of 2 * len + 256 bytes always suffices. lbg_parse records a
 * HEADER_TOO_LARGE finding with after_repair set (and unrepairable) when
 * this output's header section would exceed the policy's byte budget
 * (TOO_MANY_FIELDS likewise for the field count).
 * Returns the number of bytes written, or (size_t) -1 when out_cap is too
 * small (out then holds nothing usable).
 */
size_t lbg_repair_raw(const lbg_raw_t *raw, const lbg_report_t *rep,
                      unsigned char *out, size_t out_cap);

#ifdef __cplusplus
}
#endif

#endif /* LBG_RAW_H */
