/*
 * lbg_cstr.h -- the byte checks of a field held as C strings (Apache's
 * apr_table_t keeps names and values NUL-terminated, with no length): one
 * pass over each string gives both its length and its verdict, instead of
 * strlen() and then lbg_scan_name() / lbg_scan_value(). Public, for
 * adapters; implemented in lbg_cstr.c. Depends on lbg_quick.h
 * (lbg_quick_t).
 *
 * The verdicts are exactly those of lbg_scan_name() and lbg_scan_value()
 * on the same bytes (RFC 9110 5.1, 5.5): a field these call clean can be
 * counted with lbg_quick_count() (when it is no framing field) and needs
 * no other byte check.
 */

#ifndef LBG_CSTR_H
#define LBG_CSTR_H

#include <stddef.h>

#include "lbg_quick.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Name s, a NUL-terminated string: sets *len to strlen(s) and returns 1
 * when s[0..*len) is a token (RFC 9110 5.1: field-name = token = 1*tchar,
 * 5.6.2), 0 when it is empty or holds another byte (same answer as
 * lbg_scan_name(s, *len)). Reads s up to its NUL and, with SIMD, up to 15
 * bytes before and after it on the pages that hold it (never another
 * page; see lbg_cstr.c). No errors; s must not be NULL.
 */
int lbg_cstr_name(const char *s, size_t *len);

/*
 * Value s, a NUL-terminated string: sets *len to strlen(s) and returns 1
 * when every byte of s[0..*len) is a field-vchar, SP or HTAB (RFC 9110
 * 5.5: VCHAR, obs-text; no CTL other than HTAB, no DEL), else 0 (same
 * answer as lbg_scan_value(s, *len); an empty value is 1). Reads s up to
 * its NUL and, with SIMD, up to 15 bytes before and after it on the pages
 * that hold it (never another page; see lbg_cstr.c). No errors; s
 * must not be NULL.
 */
int lbg_cstr_value(const char *s, size_t *len);

/* lbg_cstr_field()'s result bits */
#define LBG_CSTR_NAME_OK  1u /* the name is a token */
#define LBG_CSTR_VALUE_OK 2u /* the value has only field-vchar, SP, HTAB */
#define LBG_CSTR_OK       3u /* both: the field's bytes are clean */

/*
 * Both checks of one field line in one call: lbg_cstr_name(name,
 * name_len) and lbg_cstr_value(value, value_len); returns the
 * LBG_CSTR_* bits of the ones that returned 1. value NULL is taken as ""
 * (an apr_table_t entry may hold a NULL value).
 */
unsigned lbg_cstr_field(const char *name, const char *value, size_t *name_len,
                        size_t *value_len);

/*
 * The quick pass (lbg_quick.h) over the fields of a table of C strings:
 * entries 0 .. n - 1 of the array at `entries`, each `stride` bytes long
 * and beginning with two pointers, the name (NULL: no field, skipped) then
 * the value (NULL: ""). Every field goes into q as lbg_quick_field()
 * would take it (untrusted), but a field named skip[0..skip_len) (ASCII
 * case-insensitive; lower-case; skip_len 0: none), which is left out:
 * e.g. "content-type", 12, where the adapter sends its own. A field
 * whose name and value are clean (lbg_cstr_field() returns LBG_CSTR_OK)
 * and that is no framing field (Content-Length, Transfer-Encoding: RFC
 * 9110 8.6, RFC 9112 6.1) is only counted (lbg_quick_count()); any other
 * goes through lbg_quick_field(), which checks it again. Returns the index of
 * the first Content-Length field (lbg_field_is_content_length(), RFC 9110
 * 8.6), or -1. One call for the whole table (the SIMD choice is made
 * once); reads each string as lbg_cstr_name() and lbg_cstr_value() do.
 * No errors.
 */
long lbg_cstr_quick(lbg_quick_t *q, const void *entries, size_t stride,
                    size_t n, const char *skip, size_t skip_len);

/*
 * lbg_cstr_quick(q, entries, stride, n, skip, skip_len), then one more
 * field, the last: name[0..name_len) with the C string value (NULL: no
 * such field), e.g. "Content-Type", 12 and Apache's r->content_type,
 * which HTTP_HEADER sends after the tables. The caller vouches for the
 * name: a token (RFC 9110 5.6.2) that is neither Content-Length nor
 * Transfer-Encoding, and not skip. The value is checked as
 * lbg_cstr_value() checks it; clean, the field is counted
 * (lbg_quick_count()), else it goes through lbg_quick_field(). One call
 * for both (with SSE4.2 the value is scanned in the same function).
 * Returns what lbg_cstr_quick() returns. No errors.
 */
long lbg_cstr_quick_last(lbg_quick_t *q, const void *entries, size_t stride,
                         size_t n, const char *skip, size_t skip_len,
                         const char *name, size_t name_len,
                         const char *value);

#ifdef __cplusplus
}
#endif

#endif /* LBG_CSTR_H */
