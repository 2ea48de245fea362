/* libFuzzer target for the HTTP request parsing path: the head parser, the
 * copy-and-terminate step, the framing analysis and the chunked decoder
 * fed in pieces, exactly as src/http/conn.c uses them.
 *   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang && cmake --build build-fuzz
 *   build-fuzz/fuzz-http_parse -max_total_time=60 */
/* Compiled into this file so that libFuzzer's coverage instrumentation
 * (which the library objects do not get) sees the parser's branches. */
#include "http/parse.c"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    /* The first byte picks the split size for the incremental paths. */
    size_t step = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    /* An exact-size heap copy, so ASan sees any read past the end. */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    cio__http_hdr hdrs[32];
    cio__http_head h = {.hdrs = hdrs, .max_hdrs = 32};
    /* Parsing a prefix must never claim more than the prefix. */
    for (size_t n = 0; n < size && n < 64; n += step) {
        ssize_t r = cio__http_parse_head(buf, n, &h);
        if (r > (ssize_t)n)
            abort();
    }
    ssize_t r = cio__http_parse_head(buf, size, &h);
    if (r > (ssize_t)size)
        abort();
    if (r > 0) {
        char *copy = malloc((size_t)r);
        memcpy(copy, buf, (size_t)r);
        cio__http_head_rebase(&h, buf, copy);
        if (strlen(h.method) != h.method_len || strlen(h.target) != h.target_len)
            abort();
        for (size_t i = 0; i < h.nhdrs; i++)
            if (strlen(hdrs[i].name) != hdrs[i].name_len ||
                strlen(hdrs[i].value) != hdrs[i].value_len)
                abort();
        cio__http_frame f;
        int st = cio__http_frame_analyse(&h, &f);
        if (st == 0 && f.chunked && f.content_length >= 0)
            abort(); /* smuggling: both framings accepted */
        free(copy);
    }
    /* The chunked decoder over the bytes after the head (or all of them),
     * fed `step` bytes at a time; data must lie inside the input. */
    size_t pos = r > 0 ? (size_t)r : 0;
    cio__http_chunked ch = {0};
    uint64_t total = 0;
    while (pos < size) {
        size_t n = size - pos < step ? size - pos : step;
        size_t used = 0, dlen = 0;
        const char *d = NULL;
        int st = cio__http_chunked_step(&ch, buf + pos, n, &used, &d, &dlen);
        if (used > n)
            abort();
        if (st == CIO__CH_DATA) {
            if (d < buf + pos || d + dlen > buf + pos + n || dlen == 0)
                abort();
            total += dlen;
        }
        if (st == CIO__CH_BAD || st == CIO__CH_DONE)
            break;
        if (used == 0 && st != CIO__CH_DATA)
            abort(); /* no progress */
        pos += used;
    }
    (void)total;
    free(buf);
    return 0;
}
