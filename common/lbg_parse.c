/*
 * lbg_parse.c -- a strict parser for one raw HTTP/1.x response (RFC 9112:
 * status line, header section, message body framing), and the writer of
 * its repaired bytes.
 */

#include <string.h>

#include "lbg_internal.h"
#include "lbg_quick.h"
#include "lbg_raw.h"
#include "lbg_simd.h"


/* Returns the index of the first LF in b[from..len), or len. */
static size_t
lbg__eol(const unsigned char *b, size_t from, size_t len)
{
    const unsigned char *lf;

    if (from >= len) {
        return len;
    }
    lf = memchr(b + from, '\n', len - from);
    return lf ? (size_t) (lf - b) : len;
}


static void lbg__budget_after_repair(const lbg_policy_t *p,
                                     const lbg_raw_t *raw, lbg_report_t *rep);


/*
 * HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3), in b[0..n).
 * Sets v->version to 11 or 10, else 0 with a finding: VERSION_DIGITS for
 * "HTTP/1.10" and the like (1*DIGIT "." 1*DIGIT: nginx's parser takes
 * them), VERSION_UNSUPPORTED for another d.d ("HTTP/1.2", "HTTP/2.0"),
 * VERSION_INVALID for anything else.
 */
static void
lbg__version(const lbg_policy_t *p, lbg_report_t *rep, const unsigned char *b,
             size_t n, lbg_response_t *v)
{
    size_t     i = 5, major, minor;
    lbg_rule_e rule = LBG_RULE_VERSION_INVALID;

    v->version = 0;
    if (n == 8 && memcmp(b, "HTTP/1.", 7) == 0
        && (b[7] == '0' || b[7] == '1')) {
        v->version = b[7] == '1' ? 11 : 10;
        return;
    }
    if (n > 5 && memcmp(b, "HTTP/", 5) == 0) {
        while (i < n && lbg__is(b[i], LBG__DIGIT)) {
            i++;
        }
        major = i - 5;
        if (major > 0 && i < n && b[i] == '.') {
            i++;
            minor = i;
            while (i < n && lbg__is(b[i], LBG__DIGIT)) {
                i++;
            }
            minor = i - minor;
            if (minor > 0 && i == n) {
                rule = (major == 1 && minor == 1)
                           ? LBG_RULE_VERSION_UNSUPPORTED
                           : LBG_RULE_VERSION_DIGITS;
            }
        }
    }
    lbg__finding(p, rep, rule, LBG_NO_FIELD, b, n, 0, 0);
}


/*
 * The status line of buf[0..len) (RFC 9112 4): HTTP-version SP
 * status-code SP [ reason-phrase ], into out->view; the version and
 * white-space findings. Returns the offset of the LF that ends it (len
 * when there is none), or (size_t) -1 when buf holds no status line at all
 * (empty, or no "HTTP/" prefix: the finding is recorded). Sets
 * *first_bare to that LF when it has no CR before it.
 */
static size_t
lbg__parse_status(const lbg_policy_t *p, const unsigned char *buf, size_t len,
                  lbg_raw_t *out, lbg_report_t *rep,
                  const unsigned char **first_bare)
{
    lbg_response_t *v = &out->view;
    size_t          i, e, le, s;
    int             code;

    /* empty, or a status line cut before its LF (a capture or a read
     * that stopped early): no status line yet, nothing of it to judge
     * ("HTTP/1." is no bad version, "HTTP/1.1 20" no bad status code) */
    if (len == 0
        || (lbg__eol(buf, 0, len) >= len
            && lbg__ieq(buf, len < 5 ? len : 5, "http/", len < 5 ? len : 5)))
    {
        lbg__finding(p, rep, LBG_RULE_HEADER_INCOMPLETE, LBG_NO_FIELD, NULL,
                     0, (int64_t) len, 0);
        return (size_t) -1;
    }
    if (len < 5 || !lbg__ieq(buf, 5, "http/", 5)) {
        e = lbg__eol(buf, 0, len);
        i = 0;
        while (i < e && i < 16 && buf[i] != ' ') {
            i++;
        }
        lbg__finding(p, rep, LBG_RULE_VERSION_INVALID, LBG_NO_FIELD, buf,
                     i ? i : (len < 8 ? len : 8), 0, 0);
        rep->unrepairable = 1; /* not an HTTP response at all */
        return (size_t) -1;
    }

    /* status line: HTTP-version SP status-code SP [ reason-phrase ] */
    e = lbg__eol(buf, 0, len);
    le = (e > 0 && e < len && buf[e - 1] == '\r') ? e - 1 : e;
    if (e < len && le == e) {
        out->bare_lf++;
        *first_bare = buf + e;
    }
    i = 0;
    while (i < le && buf[i] != ' ') {
        i++;
    }
    lbg__version(p, rep, buf, i, v);
    s = i < le ? i + 1 : le;
    if (s < le && buf[s] == ' ') {
        /* RFC 9112 4: exactly one SP; HAProxy and nginx skip more */
        while (s < le && buf[s] == ' ') {
            s++;
        }
        lbg__finding(p, rep, LBG_RULE_STATUS_LINE_WHITESPACE, LBG_NO_FIELD,
                     buf, le, (int64_t) (s - i), 0);
    }
    v->status_line = buf + s;
    v->status_line_len = le - s;
    code = lbg__status_code(buf + s, le - s);
    if (code >= 0) {
        v->status = code;
    }
    return e;
}


/*
 * The header section of buf[0..len) after the status line that ends at
 * offset e (RFC 9112 5): field lines into fields[] (fields_cap of them,
 * out->view.nfields set), obs-fold lines joined to the field they
 * continue (RFC 9112 5.2), out->header_len past the empty line (0 when
 * the section does not end); the findings of lines without a colon, of
 * white space before a colon, of too many lines and of bare LF line ends
 * (first_bare: the first one so far, from the status line).
 */
static void
lbg__parse_fields(const lbg_policy_t *p, const unsigned char *buf, size_t len,
                  size_t e, lbg_field_t *fields, size_t fields_cap,
                  lbg_raw_t *out, lbg_report_t *rep,
                  const unsigned char *first_bare)
{
    lbg_response_t      *v = &out->view;
    const unsigned char *colon;
    size_t               i, le, vs, ve, nm, nlines = 0, nf = 0;
    int                  folds = 0; /* the last line stored a field: an
                                       obs-fold line continues it */
    lbg_field_t         *f;

    /* header section */
    i = e + 1;
    for (;;) {
        if (e >= len) {
            lbg__finding(p, rep, LBG_RULE_HEADER_INCOMPLETE, LBG_NO_FIELD,
                         NULL, 0, (int64_t) len, 0);
            break;
        }
        e = lbg__eol(buf, i, len);
        if (e >= len) {
            continue; /* reported above on the next turn */
        }
        le = (e > i && buf[e - 1] == '\r') ? e - 1 : e;
        if (le == e) {
            if (out->bare_lf++ == 0) {
                first_bare = buf + e;
            }
        }
        if (le == i) {
            out->header_len = e + 1; /* the empty line */
            break;
        }
        nlines++;
        if (lbg__is(buf[i], LBG__WS) && folds) {
            /* obs-fold: the value extends over this line (RFC 9112 5.2) */
            f = &fields[nf - 1];
            ve = le;
            while (ve > i && lbg__is(buf[ve - 1], LBG__WS)) {
                ve--;
            }
            /* a continuation of whitespace only still folds the line:
             * keep it in the value so that the check sees the obs-fold */
            f->value_len = (size_t) (buf + (ve > i ? ve : le) - f->value);
            i = e + 1;
            continue;
        }
        colon = memchr(buf + i, ':', le - i);
        folds = 0;
        if (colon == NULL) {
            lbg__finding(p, rep, LBG_RULE_FIELD_MISSING_COLON, LBG_NO_FIELD,
                         buf + i, le - i, (int64_t) i, 0);
            i = e + 1;
            continue;
        }
        if (nf >= fields_cap) {
            nf = fields_cap + 1; /* remember the overflow */
            i = e + 1;
            continue;
        }
        folds = 1;
        /* white space between the field name and the colon (RFC 9112
         * 5.1): a proxy MUST remove it before forwarding. When what is
         * left is a token, the field stays under that name (the repair
         * writes it without the white space, and lbg_check() and the
         * framing see it as it will be sent): field-name-invalid, n1 the
         * bytes of white space. Any other name is lbg_check()'s to judge
         * with the white space, and its repair removes the field. */
        nm = (size_t) (colon - (buf + i));
        while (nm > 0 && lbg__is(buf[i + nm - 1], LBG__WS)) {
            nm--;
        }
        if (nm > 0 && nm < (size_t) (colon - (buf + i))
            && lbg_scan_name(buf + i, nm)) {
            lbg__finding(p, rep, LBG_RULE_FIELD_NAME_INVALID, nf, buf + i,
                         (size_t) (colon - (buf + i)),
                         (int64_t) ((size_t) (colon - (buf + i)) - nm), 0);
        } else {
            nm = (size_t) (colon - (buf + i));
        }
        vs = (size_t) (colon - buf) + 1;
        while (vs < le && lbg__is(buf[vs], LBG__WS)) {
            vs++;
        }
        ve = le;
        while (ve > vs && lbg__is(buf[ve - 1], LBG__WS)) {
            ve--;
        }
        f = &fields[nf++];
        f->name = buf + i;
        f->name_len = nm;
        f->value = buf + vs;
        f->value_len = ve - vs;
        f->origin = i;
        f->trusted = 0;
        i = e + 1;
    }
    if (nf > fields_cap) {
        nf = fields_cap;
        if (p->max_fields == 0 || p->max_fields >= fields_cap) {
            lbg__finding(p, rep, LBG_RULE_TOO_MANY_FIELDS, LBG_NO_FIELD, NULL,
                         0, (int64_t) nlines, (int64_t) fields_cap);
        }
        rep->unrepairable = 1;
    }
    v->nfields = nf;
    if (out->bare_lf > 0) {
        lbg__finding(p, rep, LBG_RULE_BARE_LF, LBG_NO_FIELD, first_bare, 1,
                     (int64_t) out->bare_lf, 0);
    }
}


/*
 * The message body of a parsed response (RFC 9112 6.3), after lbg_check()
 * has recorded its framing verdict in rep: the body and its framed length
 * in out; the bytes after a 1xx (the next message, or a 1xx's own body
 * announced by a Content-Length: BODY_ON_BODILESS), a body on a bodiless
 * response, a body longer or shorter than its Content-Length, a chunked
 * body that is not one (lbg_chunked_t) or has white space after a chunk
 * size.
 */
static void
lbg__parse_body(const lbg_policy_t *p, const unsigned char *buf, size_t len,
                lbg_raw_t *out, lbg_report_t *rep)
{
    lbg_response_t    *v = &out->view;
    const lbg_field_t *fields = v->fields, *f;
    size_t             i, j, e, nf = v->nfields, bad = 0, ws, cl_field;
    int64_t            cl, x;
    lbg_chunked_t      ch;

    /* message body length, RFC 9112 6.3 */
    out->body = buf + out->header_len;
    out->body_len = len - out->header_len;
    if (v->status >= 100 && v->status < 200) {
        /* an interim response: what follows is the next message (or,
         * after 101, another protocol), not a body; but bytes a 1xx
         * announced with a Content-Length are its body (issue 9): they are
         * reported and the next message starts after them */
        for (i = 0; v->status != 101 && i < nf; i++) {
            f = &fields[i];
            if (lbg__framing_name(f->name, f->name_len) != LBG__K_CL) {
                continue;
            }
            x = lbg_content_length_parse(f->value, f->value_len);
            if (x > 0 && (uint64_t) x <= (uint64_t) out->body_len
                && !(out->body_len >= 5 && memcmp(out->body, "HTTP/", 5) == 0)
                && lbg__finding(p, rep, LBG_RULE_BODY_ON_BODILESS, i,
                                out->body, x > 16 ? 16 : (size_t) x,
                                v->status, x))
            {
                /* the bytes go, and so does the field that announced them
                 * (framing-on-bodiless-status may not count under the
                 * profile): the repaired 1xx must not announce a body */
                out->interim_body = (size_t) x;
                for (j = i; j < nf; j++) {
                    if (lbg__framing_name(fields[j].name, fields[j].name_len)
                        == LBG__K_CL) {
                        lbg__edit(rep, LBG_EDIT_REMOVE, j, 0, NULL, 0);
                    }
                }
            }
            break;
        }
        out->framing = LBG_FRAMING_NONE;
        out->body_framed = out->body_len;
        return;
    }
    if (lbg_response_bodiless(v)) {
        out->framing = LBG_FRAMING_NONE;
        if (out->body_len > 0
            && lbg__finding(p, rep, LBG_RULE_BODY_ON_BODILESS, LBG_NO_FIELD,
                            out->body,
                            out->body_len > 16 ? 16 : out->body_len,
                            v->status, (int64_t) out->body_len))
        {
            lbg__edit(rep, LBG_EDIT_NO_BODY, LBG_NO_FIELD, 0, NULL, 0);
            lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
        }
        return;
    }
    /* the framing is lbg_check()'s verdict, the one derivation of it;
     * a finding about a Content-Length names the first one */
    out->framing = rep->framing;
    out->body_expected = rep->declared;
    cl = rep->declared;
    for (cl_field = 0; cl_field < nf; cl_field++) {
        f = &fields[cl_field];
        if (lbg__framing_name(f->name, f->name_len) == LBG__K_CL) {
            break;
        }
    }

    switch (out->framing) {
    case LBG_FRAMING_LENGTH:
        if ((uint64_t) out->body_len > (uint64_t) cl) {
            out->body_framed = (size_t) cl;
            if (lbg__finding(p, rep, LBG_RULE_BODY_LONGER, cl_field,
                             out->body + cl,
                             out->body_len - (size_t) cl > 16
                                 ? 16
                                 : out->body_len - (size_t) cl,
                             cl, (int64_t) out->body_len))
            {
                lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
            }
        } else {
            out->body_framed = out->body_len;
            if ((uint64_t) out->body_len < (uint64_t) cl
                && lbg__finding(p, rep, LBG_RULE_BODY_SHORTER, cl_field, NULL,
                                0, cl, (int64_t) out->body_len))
            {
                lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
            }
        }
        break;
    case LBG_FRAMING_CHUNKED:
        /* the whole body in one span: DONE, or bad at ch.error (its
         * end, or the CR before it, when the body stops early) */
        lbg_chunked_init(&ch);
        if (lbg_chunked_feed(&ch, out->body, out->body_len, &e, NULL)
            != LBG_CHUNKED_DONE)
        {
            e = (size_t) -1;
            bad = (size_t) ch.error;
        }
        ws = ch.ws < 0 ? (size_t) -1 : (size_t) ch.ws;
        if (ws != (size_t) -1
            && lbg__finding(p, rep, LBG_RULE_CHUNK_SIZE_WHITESPACE,
                            LBG_NO_FIELD, out->body + ws, 1, (int64_t) ws, 0))
        {
            out->chunk_ws = 1;
        }
        if (e == (size_t) -1) {
            out->body_framed = out->body_len;
            if (lbg__finding(p, rep, LBG_RULE_CHUNKED_INVALID, LBG_NO_FIELD,
                             bad < out->body_len ? out->body + bad : NULL,
                             bad < out->body_len ? (out->body_len - bad > 16
                                                        ? 16
                                                        : out->body_len - bad)
                                                 : 0,
                             (int64_t) bad, 0))
            {
                lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
            }
        } else {
            out->body_framed = e;
            if (e < out->body_len
                && lbg__finding(p, rep, LBG_RULE_BODY_LONGER, LBG_NO_FIELD,
                                out->body + e,
                                out->body_len - e > 16 ? 16
                                                       : out->body_len - e,
                                -1, (int64_t) (out->body_len - e)))
            {
                lbg__edit(rep, LBG_EDIT_CLOSE, LBG_NO_FIELD, 0, NULL, 0);
            }
        }
        break;
    default: out->body_framed = out->body_len; break;
    }
}


int
lbg_parse(const lbg_policy_t *p, const unsigned char *buf, size_t len,
          int head, lbg_field_t *fields, size_t fields_cap, lbg_raw_t *out,
          lbg_report_t *rep)
{
    lbg_response_t      *v = &out->view;
    const unsigned char *first_bare = NULL;
    size_t               e;

    memset(out, 0, sizeof(*out));
    v->head = head ? 1 : 0;
    v->status = -1;
    v->fields = fields;
    out->body_expected = -1;

    e = lbg__parse_status(p, buf, len, out, rep, &first_bare);
    if (e == (size_t) -1) {
        return -1;
    }
    lbg__parse_fields(p, buf, len, e, fields, fields_cap, out, rep,
                      first_bare);

    lbg_check(p, v, rep);

    if (out->header_len == 0) {
        return 0;
    }
    lbg__parse_body(p, buf, len, out, rep);
    lbg__budget_after_repair(p, out, rep);
    return 0;
}


/* A bounded byte writer for lbg_repair_raw; with p NULL it only counts. */
typedef struct {
    unsigned char *p;
    size_t         cap;
    size_t         len;
    int            over;
    size_t         fields; /* field lines written */
} lbg__w_t;


static void
lbg__w(lbg__w_t *w, const void *s, size_t n)
{
    if (w->p == NULL) {
        w->len += n;
        return;
    }
    if (w->over || n > w->cap - w->len) {
        w->over = 1;
        return;
    }
    if (n > 0) {
        memcpy(w->p + w->len, s, n);
    }
    w->len += n;
}


static void
lbg__ws(lbg__w_t *w, const char *s)
{
    lbg__w(w, s, strlen(s));
}


/* Records a budget finding about the repaired header section. */
static void
lbg__after_repair(const lbg_policy_t *p, lbg_report_t *rep, lbg_rule_e rule,
                  size_t size, size_t budget)
{
    if (lbg__finding(p, rep, rule, LBG_NO_FIELD, NULL, 0, (int64_t) size,
                     (int64_t) budget)
        && !rep->truncated)
    {
        rep->findings[rep->nfindings - 1].after_repair = 1;
    }
}


/* 1 when rep holds an OBS_FOLD finding on field i. */
static int
lbg__folded(const lbg_report_t *rep, size_t i)
{
    size_t k;

    for (k = 0; k < rep->nfindings; k++) {
        if (rep->findings[k].rule == LBG_RULE_OBS_FOLD
            && rep->findings[k].field == i) {
            return 1;
        }
    }
    return 0;
}


/* Writes a folded value v[0..n) unfolded as Apache's own parser does
 * (RFC 9112 5.2): each obs-fold, with the white space around it, becomes
 * one SP ("Bar\r\n Baz" -> "Bar Baz"); any other control byte becomes SP
 * as lbg_sanitize() does. */
static void
lbg__unfold(lbg__w_t *w, const unsigned char *v, size_t n)
{
    size_t        i = 0, ws = 0; /* v[ws..i): white space not yet written */
    unsigned char c;

    while (i < n) {
        c = v[i];
        if (c == '\r' || c == '\n') {
            /* the fold and the white space around it: one SP */
            while (i < n
                   && (v[i] == '\r' || v[i] == '\n' || v[i] == ' '
                       || v[i] == '\t')) {
                i++;
            }
            lbg__w(w, " ", 1);
            ws = i;
            continue;
        }
        if (c == ' ' || c == '\t') {
            i++;
            continue;
        }
        lbg__w(w, v + ws, i - ws);
        if (!lbg__is(c, LBG__VCHAR)) {
            c = ' ';
        }
        lbg__w(w, &c, 1);
        i++;
        ws = i;
    }
    lbg__w(w, v + ws, i - ws);
}


/* Writes (or counts) the repaired status line and header section. */
static void
lbg__write_head(const lbg_raw_t *raw, const lbg_report_t *rep, lbg__w_t *w)
{
    const lbg_response_t *v = &raw->view;
    const lbg_field_t    *f;
    const lbg_edit_t     *ed, *set;
    size_t                i, k, s, e;
    int                   status = -1, removed, sanitize, interim, drop;
    int64_t               declared;
    char                  code[4];

    for (k = 0; k < rep->nedits; k++) {
        if (rep->edits[k].op == LBG_EDIT_STATUS) {
            status = rep->edits[k].status;
        }
    }

    lbg__ws(w, v->version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    if (status >= 100 && status <= 999) {
        code[0] = (char) ('0' + status / 100);
        code[1] = (char) ('0' + status / 10 % 10);
        code[2] = (char) ('0' + status % 10);
        code[3] = ' ';
        lbg__w(w, code, 4);
        lbg__ws(w, lbg_reason_phrase(status));
    } else {
        lbg__w(w, v->status_line, v->status_line_len);
    }
    lbg__w(w, "\r\n", 2);

    interim = lbg_interim(status >= 100 ? status : v->status);
    /* a framing field whose bytes need sanitizing goes, and with it every
     * field of its kind: no other one may frame the body in its place */
    drop = 0;
    for (k = 0; k < rep->nedits; k++) {
        ed = &rep->edits[k];
        if (ed->op == LBG_EDIT_SANITIZE && ed->field < v->nfields) {
            drop |= lbg__framing_name(v->fields[ed->field].name,
                                      v->fields[ed->field].name_len);
        }
    }
    /* the head frames the body as the original did (raw->framing, which
     * the body written after it follows): the one framing verdict,
     * re-derived for the fields this head keeps. When the fields dropped
     * above leave a Content-Length to frame a body that the close (or a
     * Transfer-Encoding) framed, every Content-Length goes too. */
    if (!interim && raw->header_len > 0 && raw->framing != LBG_FRAMING_LENGTH
        && lbg__framing_of(v, rep, NULL, drop, &declared)
               == LBG_FRAMING_LENGTH)
    {
        drop |= LBG__K_CL;
    }
    for (i = 0; i < v->nfields; i++) {
        f = &v->fields[i];
        lbg__field_edits(rep, i, &removed, &sanitize, &set);
        if (removed
            || (rep->close && f->name_len == 10
                && lbg__ieq(f->name, 10, "connection", 10)))
        {
            continue;
        }
        if ((interim && lbg__framing_name(f->name, f->name_len) != 0)
            || (drop & lbg__framing_name(f->name, f->name_len)) != 0)
        {
            /* no framing field on a repaired interim response (RFC 9110
             * 8.6, 9112 6.1), and none sanitized into existence: whatever
             * the other repairs make of such bytes ("Content-Length:
             * \x03\0...2", a joined line), the field goes, as
             * content-length-invalid's repair removes it */
            continue;
        }
        lbg__w(w, f->name, f->name_len);
        lbg__w(w, ": ", 2);
        if (set != NULL) {
            lbg__w(w, set->value, set->value_len);
        } else if (sanitize) {
            /* lbg_sanitize's bytes without the SP it puts at either end
             * (a parser strips OWS, RFC 9112 5): every byte that is not a
             * field-vchar becomes or stays white space */
            s = 0;
            e = f->value_len;
            while (s < e && !lbg__is(f->value[s], LBG__VCHAR)) {
                s++;
            }
            while (e > s && !lbg__is(f->value[e - 1], LBG__VCHAR)) {
                e--;
            }
            if (lbg__folded(rep, i)) {
                lbg__unfold(w, f->value + s, e - s);
                lbg__w(w, "\r\n", 2);
                w->fields++;
                continue;
            }
            k = w->len;
            lbg__w(w, f->value + s, e - s);
            if (w->p != NULL && !w->over) {
                lbg_sanitize(w->p + k, e - s, w->p + k);
            }
        } else {
            lbg__w(w, f->value, f->value_len);
        }
        lbg__w(w, "\r\n", 2);
        w->fields++;
    }
    if (rep->close) {
        lbg__ws(w, "Connection: close\r\n");
        w->fields++;
    }
    lbg__w(w, "\r\n", 2);
}


/* The repair must not push the header section over a budget that the
 * response met (it adds "Connection: close" and standard reason phrases):
 * when it would, say so, and the response counts as not repairable. */
static void
lbg__budget_after_repair(const lbg_policy_t *p, const lbg_raw_t *raw,
                         lbg_report_t *rep)
{
    lbg__w_t w = {NULL, 0, 0, 0, 0};
    size_t   i;
    int      over_bytes = 0, over_fields = 0;

    if (p->mode == LBG_MODE_OFF || rep->nedits == 0
        || (p->max_header_bytes == 0 && p->max_fields == 0)
        || lbg_report_bad_gateway(rep))
    {
        return;
    }
    for (i = 0; i < rep->nfindings; i++) {
        if (rep->findings[i].rule == LBG_RULE_HEADER_TOO_LARGE) {
            over_bytes = 1; /* already over, already said */
        } else if (rep->findings[i].rule == LBG_RULE_TOO_MANY_FIELDS) {
            over_fields = 1;
        }
    }
    lbg__write_head(raw, rep, &w);
    /* as lbg_check() counts it: with the LB's cost per field line */
    if (!over_bytes && lbg_header_over(p, w.len, w.fields)) {
        lbg__after_repair(p, rep, LBG_RULE_HEADER_TOO_LARGE, w.len,
                          lbg_header_budget_wire(p, w.fields));
    }
    if (!over_fields && p->max_fields && w.fields > p->max_fields) {
        lbg__after_repair(p, rep, LBG_RULE_TOO_MANY_FIELDS, w.fields,
                          p->max_fields);
    }
}


/* Writes the target's own 502 Bad Gateway (LBG_EDIT_BAD_GATEWAY). */
static void
lbg__bad_gateway(const lbg_raw_t *raw, lbg__w_t *w)
{
    char   num[24];
    size_t n = 0, len = sizeof(LBG_BAD_GATEWAY_BODY) - 1;

    lbg__ws(w, raw->view.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    lbg__ws(w, "502 Bad Gateway\r\nContent-Type: " LBG_BAD_GATEWAY_TYPE
               "\r\nContent-Length: ");
    do {
        num[n++] = (char) ('0' + len % 10);
        len /= 10;
    } while (len != 0);
    while (n > 0) {
        lbg__w(w, &num[--n], 1);
    }
    lbg__ws(w, "\r\nConnection: close\r\n\r\n");
    if (!raw->view.head) {
        lbg__ws(w, LBG_BAD_GATEWAY_BODY);
    }
}


/* Copies the (valid) chunked body b[0..len) without the white space right
 * after each chunk size (CHUNK_SIZE_WHITESPACE; a chunk-ext keeps its
 * ";"). */
static void
lbg__chunked_nows(const unsigned char *b, size_t len, lbg__w_t *w)
{
    size_t   i = 0, s;
    uint64_t size;

    while (i < len) {
        s = i;
        size = 0;
        while (i < len && lbg__is(b[i], LBG__HEXDIG)) {
            size = size * 16
                   + (uint64_t) (b[i] <= '9' ? b[i] - '0'
                                             : (lbg__lower(b[i]) - 'a' + 10));
            i++;
        }
        lbg__w(w, b + s, i - s);
        while (i < len && lbg__is(b[i], LBG__WS)) {
            i++;
        }
        s = i;
        while (i < len && b[i] != '\n') {
            i++;
        }
        if (i < len) {
            i++;
        }
        if (size == 0 || i >= len) {
            lbg__w(w, b + s, len - s); /* the last chunk and the trailers */
            return;
        }
        if (len - i < 2 || size > (uint64_t) (len - i - 2)) {
            /* no room for the chunk data and its CRLF: the rest as is */
            lbg__w(w, b + s, len - s);
            return;
        }
        i += (size_t) size + 2;
        lbg__w(w, b + s, i - s);
    }
}


size_t
lbg_repair_raw(const lbg_raw_t *raw, const lbg_report_t *rep,
               unsigned char *out, size_t out_cap)
{
    lbg__w_t w = {out, out_cap, 0, 0, 0};
    size_t   body;

    if (out == NULL) {
        return (size_t) -1;
    }
    if (lbg_report_bad_gateway(rep)) {
        /* the target's own 502: nothing of the original goes out */
        w.len = 0;
        w.over = 0;
        lbg__bad_gateway(raw, &w);
        return w.over ? (size_t) -1 : w.len;
    }
    lbg__write_head(raw, rep, &w);
    if (!rep->no_body && raw->header_len > 0) {
        body = raw->framing == LBG_FRAMING_CLOSE ? raw->body_len
                                                 : raw->body_framed;
        if (raw->chunk_ws && raw->framing == LBG_FRAMING_CHUNKED) {
            lbg__chunked_nows(raw->body, body, &w);
        } else if (raw->interim_body > 0 && raw->interim_body <= body) {
            lbg__w(&w, raw->body + raw->interim_body,
                   body - raw->interim_body);
        } else {
            lbg__w(&w, raw->body, body);
        }
    }
    return w.over ? (size_t) -1 : w.len;
}
