/* HTTP/1.1 request parsing, internal to src/http: a strict, allocation-free
 * parser in the style of picohttpparser. It reads a request head in place
 * from the stream's read buffer (without writing to it); once complete, the
 * connection copies the head into its own buffer (the stream's buffer moves
 * when the body is read) and cio__http_head_rebase NUL-terminates the pieces
 * (method, target, header names and values) there by overwriting the byte
 * after each (a space, ':' or CR). It is also the libFuzzer target's entry
 * point (fuzz/http_parse.c). */
#ifndef CIO_HTTP_PARSE_H
#define CIO_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct cio__http_hdr {
    const char *name, *value; /* NUL-terminated after rebase */
    uint32_t name_len, value_len;
} cio__http_hdr;

typedef struct cio__http_head {
    const char *method, *target; /* NUL-terminated after rebase */
    uint32_t method_len, target_len;
    int minor;                   /* HTTP/1.<minor> */
    cio__http_hdr *hdrs;         /* caller's array */
    size_t nhdrs, max_hdrs;      /* out: count; in: capacity */
} cio__http_head;

/* Results of cio__http_parse_head besides a positive length. */
enum {
    CIO__HP_AGAIN = 0,        /* incomplete: read more */
    CIO__HP_BAD = -1,         /* malformed: 400 */
    CIO__HP_TOO_MANY = -2,    /* more than max_hdrs fields: 431 */
    CIO__HP_VERSION = -3      /* well-formed but not HTTP/1.x: 505 */
};

/* Parses a request head from buf[0..len): request line, header fields and
 * the empty line. Returns its length in bytes (> 0) when complete, or one
 * of CIO__HP_*. Rejects bare LF, bare CR, obs-fold, whitespace before ':',
 * control bytes and non-token methods and names. Leading empty lines (CRLF) are skipped (RFC 9112
 * 2.2); they count in the length. */
ssize_t cio__http_parse_head(const char *buf, size_t len, cio__http_head *h);
/* Moves h's pointers from the head at `from` to its copy at `to` and
 * NUL-terminates the method, target, names and values in `to`. */
void cio__http_head_rebase(cio__http_head *h, const char *from, char *to);

/* Message framing and connection semantics from the header fields. */
typedef struct cio__http_frame {
    int64_t content_length;   /* -1 if absent */
    unsigned chunked : 1;     /* Transfer-Encoding: chunked */
    unsigned keep_alive : 1;  /* persistent connection after this request */
    unsigned expect_continue : 1;
    unsigned upgrade : 1;     /* Connection: upgrade present (informative) */
    const char *host;         /* Host field or NULL */
} cio__http_frame;

/* Analyses h's fields. Returns 0, or the HTTP status to answer with:
 * 400 for smuggling-prone framing (Content-Length together with
 * Transfer-Encoding, duplicate or malformed Content-Length, a final
 * coding other than chunked, chunked twice, missing or repeated Host in
 * HTTP/1.1), 501 for codings we cannot decode before chunked, 417 for an
 * Expect other than 100-continue. */
int cio__http_frame_analyse(const cio__http_head *h, cio__http_frame *f);

/* Incremental, zero-copy decoder for a chunked body. */
typedef struct cio__http_chunked {
    uint64_t left;       /* data bytes left in the current chunk */
    uint32_t trailer;    /* trailer bytes seen (bounded) */
    uint8_t state;
    uint8_t digits;
    uint8_t ext_ws;
} cio__http_chunked;

enum {
    CIO__CH_MORE = 0, /* consumed everything given; need more bytes */
    CIO__CH_DATA = 1, /* *data and *dlen give body data inside the input */
    CIO__CH_DONE = 2, /* the last chunk and trailers are complete */
    CIO__CH_BAD = -1  /* malformed: 400 */
};

/* Trailer section limit, in bytes. */
#define CIO__HTTP_MAX_TRAILER 8192

/* Feeds p[0..n) to the decoder. Sets *used to the bytes consumed. Returns
 * CIO__CH_DATA with *data and *dlen pointing at body bytes within p (they are
 * counted in *used), CIO__CH_MORE when p was consumed without data,
 * CIO__CH_DONE at the end of the body (bytes after it are not consumed),
 * or CIO__CH_BAD. Chunk sizes are 1 to 16 hex digits; extensions are
 * skipped; bare LF is rejected. */
/* Gives back the last k data bytes returned (the caller took fewer). */
void cio__http_chunked_unread(cio__http_chunked *c, size_t k);

int cio__http_chunked_step(cio__http_chunked *c, const char *p, size_t n, size_t *used,
                           const char **data, size_t *dlen);

/* Case-insensitive comparison of a[0..n) with the NUL-terminated lower-case
 * literal b. */
int cio__http_ieq(const char *a, size_t n, const char *b);

#endif
