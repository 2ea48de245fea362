/* Strict HTTP/1.1 request parsing (RFC 9112): request head, framing
 * analysis, and the chunked body decoder. No allocation; everything points
 * into the caller's buffer. Strictness is deliberate: every ambiguity a
 * front proxy could read differently (bare LF, obs-fold, two lengths) is a
 * 400, because request smuggling lives in those differences. */
#include "http/parse.h"

#include <string.h>

/* tchar (RFC 9110 5.6.2): the bytes allowed in methods and field names. */
static const uint8_t tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
    ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,
    ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
    ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* Field-value bytes: VCHAR, obs-text, SP and HTAB; no other control. */
static inline int value_byte(uint8_t c) { return c >= 0x20 ? c != 0x7f : c == '\t'; }

int cio__http_ieq(const char *a, size_t n, const char *b) {
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != b[i] || b[i] == 0)
            return 0;
    }
    return b[n] == 0;
}

/* Parses "HTTP/1.x" + CRLF at buf[pos]. Returns the position after it,
 * or a CIO__HP_* code. */
static ssize_t parse_version(const char *buf, size_t len, size_t pos, int *minor) {
    static const char proto[] = "HTTP/";
    for (size_t i = 0; i < 5; i++, pos++) {
        if (pos >= len)
            return CIO__HP_AGAIN;
        if (buf[pos] != proto[i])
            return CIO__HP_BAD;
    }
    char d[3];
    for (size_t i = 0; i < 3; i++, pos++) {
        if (pos >= len)
            return CIO__HP_AGAIN;
        d[i] = buf[pos];
    }
    if (d[0] < '0' || d[0] > '9' || d[1] != '.' || d[2] < '0' || d[2] > '9')
        return CIO__HP_BAD;
    if (pos >= len)
        return CIO__HP_AGAIN;
    if (buf[pos] != '\r')
        return CIO__HP_BAD;
    if (++pos >= len)
        return CIO__HP_AGAIN;
    if (buf[pos] != '\n')
        return CIO__HP_BAD;
    if (d[0] != '1')
        return CIO__HP_VERSION;
    *minor = d[2] - '0';
    return (ssize_t)pos + 1;
}

/* Parses one header field line at buf[pos] into *hd. Returns the position
 * after its CRLF, or a CIO__HP_* code. */
static ssize_t parse_field(const char *buf, size_t len, size_t pos, cio__http_hdr *hd) {
    size_t start = pos;
    while (pos < len && tchar[(uint8_t)buf[pos]])
        pos++;
    if (pos >= len)
        return CIO__HP_AGAIN;
    /* No whitespace between name and colon (RFC 9112 5.1): a 400. */
    if (pos == start || buf[pos] != ':')
        return CIO__HP_BAD;
    hd->name = buf + start;
    hd->name_len = (uint32_t)(pos - start);
    pos++;
    while (pos < len && (buf[pos] == ' ' || buf[pos] == '\t'))
        pos++;
    start = pos;
    while (pos < len && value_byte((uint8_t)buf[pos]))
        pos++;
    if (pos >= len)
        return CIO__HP_AGAIN;
    if (buf[pos] != '\r')
        return CIO__HP_BAD; /* bare LF or a control byte */
    size_t end = pos;
    while (end > start && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
        end--;
    hd->value = buf + start;
    hd->value_len = (uint32_t)(end - start);
    if (++pos >= len)
        return CIO__HP_AGAIN;
    if (buf[pos] != '\n')
        return CIO__HP_BAD;
    return (ssize_t)pos + 1;
}

ssize_t cio__http_parse_head(const char *buf, size_t len, cio__http_head *h) {
    size_t pos = 0;
    h->nhdrs = 0;
    while (pos < len && buf[pos] == '\r') {
        if (pos + 1 >= len)
            return CIO__HP_AGAIN;
        if (buf[pos + 1] != '\n')
            return CIO__HP_BAD;
        pos += 2;
    }
    size_t m = pos;
    while (pos < len && tchar[(uint8_t)buf[pos]])
        pos++;
    if (pos >= len)
        return CIO__HP_AGAIN;
    if (pos == m || buf[pos] != ' ')
        return CIO__HP_BAD;
    h->method = buf + m;
    h->method_len = (uint32_t)(pos - m);
    size_t t = ++pos;
    while (pos < len && (uint8_t)buf[pos] > 0x20 && (uint8_t)buf[pos] < 0x7f)
        pos++;
    if (pos >= len)
        return CIO__HP_AGAIN;
    if (pos == t || buf[pos] != ' ')
        return CIO__HP_BAD;
    h->target = buf + t;
    h->target_len = (uint32_t)(pos - t);
    ssize_t r = parse_version(buf, len, pos + 1, &h->minor);
    if (r <= 0)
        return r;
    pos = (size_t)r;
    for (;;) {
        if (pos >= len)
            return CIO__HP_AGAIN;
        if (buf[pos] == '\r') {
            if (pos + 1 >= len)
                return CIO__HP_AGAIN;
            if (buf[pos + 1] != '\n')
                return CIO__HP_BAD;
            pos += 2;
            break;
        }
        /* A line starting with SP/HTAB is obs-fold (or whitespace before
         * the first field): rejected, RFC 9112 5.2 allows it. */
        if (h->nhdrs == h->max_hdrs)
            return tchar[(uint8_t)buf[pos]] ? CIO__HP_TOO_MANY : CIO__HP_BAD;
        r = parse_field(buf, len, pos, &h->hdrs[h->nhdrs]);
        if (r <= 0)
            return r;
        h->nhdrs++;
        pos = (size_t)r;
    }
    return (ssize_t)pos;
}

/* Every piece is followed by a byte that is not part of it (SP, ':', CR or
 * trailing whitespace), so terminating in place never clobbers data. */
void cio__http_head_rebase(cio__http_head *h, const char *from, char *to) {
#define REBASE(p) (to + ((p) - from))
    char *m = REBASE(h->method), *t = REBASE(h->target);
    m[h->method_len] = 0;
    t[h->target_len] = 0;
    h->method = m;
    h->target = t;
    for (size_t i = 0; i < h->nhdrs; i++) {
        cio__http_hdr *hd = &h->hdrs[i];
        char *n = REBASE(hd->name), *v = REBASE(hd->value);
        n[hd->name_len] = 0;
        v[hd->value_len] = 0;
        hd->name = n;
        hd->value = v;
    }
#undef REBASE
}

/* ---- framing ----------------------------------------------------------- */

/* Calls fn on each non-empty element of a comma-separated list value. */
#define FOR_EACH_ELEMENT(v, n, el, eln, body)                                \
    for (size_t i_ = 0; i_ < (n);) {                                         \
        while (i_ < (n) && ((v)[i_] == ' ' || (v)[i_] == '\t' || (v)[i_] == ',')) \
            i_++;                                                            \
        size_t s_ = i_;                                                      \
        while (i_ < (n) && (v)[i_] != ',')                                   \
            i_++;                                                            \
        size_t e_ = i_;                                                      \
        while (e_ > s_ && ((v)[e_ - 1] == ' ' || (v)[e_ - 1] == '\t'))       \
            e_--;                                                            \
        if (e_ > s_) {                                                       \
            const char *el = (v) + s_;                                       \
            size_t eln = e_ - s_;                                            \
            body                                                             \
        }                                                                    \
    }

/* Content-Length = 1*DIGIT, at most 18 digits so it fits in int64_t. */
static int parse_length(const char *v, size_t n, int64_t *out) {
    if (n == 0 || n > 18)
        return -1;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return 0;
}

int cio__http_frame_analyse(const cio__http_head *h, cio__http_frame *f) {
    int hosts = 0, te = 0, te_other = 0, te_after = 0, close = 0, ka = 0;
    f->content_length = -1;
    f->chunked = f->expect_continue = f->upgrade = 0;
    f->host = NULL;
    for (size_t i = 0; i < h->nhdrs; i++) {
        const cio__http_hdr *hd = &h->hdrs[i];
        const char *v = hd->value;
        size_t n = hd->value_len;
        switch (hd->name_len) {
        case 4:
            if (cio__http_ieq(hd->name, 4, "host")) {
                hosts++;
                f->host = v;
            }
            break;
        case 6:
            if (cio__http_ieq(hd->name, 6, "expect")) {
                if (!cio__http_ieq(v, n, "100-continue"))
                    return 417;
                f->expect_continue = h->minor >= 1;
            }
            break;
        case 10:
            if (cio__http_ieq(hd->name, 10, "connection")) {
                FOR_EACH_ELEMENT(v, n, el, eln, {
                    if (cio__http_ieq(el, eln, "close"))
                        close = 1;
                    else if (cio__http_ieq(el, eln, "keep-alive"))
                        ka = 1;
                    else if (cio__http_ieq(el, eln, "upgrade"))
                        f->upgrade = 1;
                })
            }
            break;
        case 14:
            if (cio__http_ieq(hd->name, 14, "content-length")) {
                /* Any second Content-Length, even an equal one, is refused:
                 * a proxy in front may have honoured the other one. */
                if (f->content_length >= 0 || parse_length(v, n, &f->content_length) < 0)
                    return 400;
            }
            break;
        case 17:
            if (cio__http_ieq(hd->name, 17, "transfer-encoding")) {
                te = 1;
                FOR_EACH_ELEMENT(v, n, el, eln, {
                    if (f->chunked)
                        te_after = 1; /* anything after chunked */
                    else if (cio__http_ieq(el, eln, "chunked"))
                        f->chunked = 1;
                    else
                        te_other = 1;
                })
            }
            break;
        }
    }
    if (te) {
        /* Chunked must be the final coding, exactly once, with no length
         * beside it, and HTTP/1.0 has no Transfer-Encoding at all. */
        if (!f->chunked || te_after || f->content_length >= 0 || h->minor == 0)
            return 400;
        if (te_other)
            return 501;
    }
    if (hosts > 1 || (h->minor >= 1 && hosts == 0))
        return 400;
    f->keep_alive = h->minor >= 1 ? !close : (ka && !close);
    return 0;
}

/* ---- chunked bodies ---------------------------------------------------- */

enum {
    S_SIZE, S_SIZE_WS, S_EXT, S_SIZE_LF, S_DATA, S_DATA_CR, S_DATA_LF,
    S_TRAILER_START, S_TRAILER_LINE, S_TRAILER_LF, S_END_LF, S_DONE
};

#define MAX_EXT 4096

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

void cio__http_chunked_unread(cio__http_chunked *c, size_t k) {
    if (k) {
        c->left += k;
        c->state = S_DATA;
    }
}

int cio__http_chunked_step(cio__http_chunked *c, const char *p, size_t n, size_t *used,
                           const char **data, size_t *dlen) {
    size_t i = 0;
    for (; i < n; i++) {
        uint8_t b = (uint8_t)p[i];
        switch (c->state) {
        case S_SIZE: {
            int d = hexval(b);
            if (d >= 0) {
                if (++c->digits > 16)
                    goto bad;
                c->left = c->left << 4 | (uint64_t)d;
                break;
            }
            if (c->digits == 0)
                goto bad;
            c->trailer = 0;
            if (b == '\r')
                c->state = S_SIZE_LF;
            else if (b == ';')
                c->state = S_EXT;
            else if (b == ' ' || b == '\t')
                c->state = S_SIZE_WS; /* BWS, only before ';' */
            else
                goto bad;
            break;
        }
        case S_SIZE_WS:
            if (b == ';')
                c->state = S_EXT;
            else if (b != ' ' && b != '\t')
                goto bad;
            break;
        case S_EXT:
            if (b == '\r')
                c->state = S_SIZE_LF;
            else if ((b < 0x20 && b != '\t') || b == 0x7f || ++c->trailer > MAX_EXT)
                goto bad;
            break;
        case S_SIZE_LF:
            if (b != '\n')
                goto bad;
            c->digits = 0;
            c->trailer = 0;
            c->state = c->left ? S_DATA : S_TRAILER_START;
            break;
        case S_DATA: {
            size_t take = n - i;
            if (take > c->left)
                take = (size_t)c->left;
            c->left -= take;
            if (c->left == 0)
                c->state = S_DATA_CR;
            *data = p + i;
            *dlen = take;
            *used = i + take;
            return CIO__CH_DATA;
        }
        case S_DATA_CR:
            if (b != '\r')
                goto bad;
            c->state = S_DATA_LF;
            break;
        case S_DATA_LF:
            if (b != '\n')
                goto bad;
            c->state = S_SIZE;
            break;
        case S_TRAILER_START:
            if (b == '\r')
                c->state = S_END_LF;
            else if (tchar[b])
                c->state = S_TRAILER_LINE;
            else
                goto bad;
            break;
        case S_TRAILER_LINE:
            if (b == '\r')
                c->state = S_TRAILER_LF;
            else if ((b < 0x20 && b != '\t') || b == 0x7f)
                goto bad;
            break;
        case S_TRAILER_LF:
            if (b != '\n')
                goto bad;
            c->state = S_TRAILER_START;
            break;
        case S_END_LF:
            if (b != '\n')
                goto bad;
            c->state = S_DONE;
            *used = i + 1;
            return CIO__CH_DONE;
        case S_DONE:
            *used = i;
            return CIO__CH_DONE;
        }
        if (c->state >= S_TRAILER_START && ++c->trailer > CIO__HTTP_MAX_TRAILER)
            goto bad;
    }
    *used = i;
    return c->state == S_DONE ? CIO__CH_DONE : CIO__CH_MORE;
bad:
    *used = i;
    return CIO__CH_BAD;
}
