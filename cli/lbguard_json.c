/*
 * lbguard_json.c -- the one JSON writer of the lbguard command-line tool
 * (RFC 8259): values written in order onto a FILE, commas and the
 * "key": separators tracked per nesting level, so that emitters state
 * only what they write. Used by `rules --json`, `check --json` and
 * `probe --json`, and the string escaper that `logs` uses too. The
 * bottom layer: calls libc only.
 */

#include <stdio.h>
#include <string.h>

#include "lbguard_cli.h"


void
lbguard_json_str(FILE *out, const char *s, size_t len)
{
    size_t        i;
    unsigned char c;

    fputc('"', out);
    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];
        if (c == '"' || c == '\\') {
            fputc('\\', out);
            fputc(c, out);
        } else if (c < 0x20 || c >= 0x7f) {
            fprintf(out, "\\u%04x", c);
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}


void
lbguard_json_init(lbguard_json_t *j, FILE *out)
{
    memset(j, 0, sizeof(*j));
    j->out = out;
}


/* Before a value or a key: the comma after a previous sibling, and for a
 * "lines" array the newline that starts each element. Nothing after a
 * key, and nothing at the top level. */
static void
lbguard_json_sep(lbguard_json_t *j)
{
    size_t d;

    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->depth == 0) {
        return;
    }
    d = j->depth - 1;
    if (!j->first[d]) {
        fputc(',', j->out);
    }
    j->first[d] = 0;
    if (j->lines[d]) {
        fputc('\n', j->out);
    }
}


void
lbguard_json_begin(lbguard_json_t *j, char open, int lines)
{
    lbguard_json_sep(j);
    fputc(open, j->out);
    if (j->depth < LBGUARD_JSON_DEPTH) {
        j->first[j->depth] = 1;
        j->lines[j->depth] = (unsigned char) (lines != 0);
        j->depth++;
    }
}


void
lbguard_json_end(lbguard_json_t *j, char close)
{
    if (j->depth > 0) {
        j->depth--;
    }
    j->after_key = 0;
    fputc(close, j->out);
}


void
lbguard_json_key(lbguard_json_t *j, const char *key)
{
    lbguard_json_sep(j);
    lbguard_json_str(j->out, key, strlen(key));
    fputc(':', j->out);
    j->after_key = 1;
}


void
lbguard_json_string(lbguard_json_t *j, const char *s, size_t len)
{
    lbguard_json_sep(j);
    lbguard_json_str(j->out, s, len);
}


void
lbguard_json_cstr(lbguard_json_t *j, const char *s)
{
    lbguard_json_string(j, s, strlen(s));
}


void
lbguard_json_uint(lbguard_json_t *j, uint64_t v)
{
    lbguard_json_sep(j);
    fprintf(j->out, "%llu", (unsigned long long) v);
}


void
lbguard_json_int(lbguard_json_t *j, int64_t v)
{
    lbguard_json_sep(j);
    fprintf(j->out, "%lld", (long long) v);
}


void
lbguard_json_bool(lbguard_json_t *j, int v)
{
    lbguard_json_sep(j);
    fputs(v ? "true" : "false", j->out);
}


void
lbguard_json_null(lbguard_json_t *j)
{
    lbguard_json_sep(j);
    fputs("null", j->out);
}


void
lbguard_json_newline(lbguard_json_t *j)
{
    fputc('\n', j->out);
}
