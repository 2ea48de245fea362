/* libFuzzer target for the static file handler's URL handling: the path
 * decoder (percent-escapes, refusal of NUL and ".." segments) and the
 * Range parser. Invariants: a decoded path never holds a ".." segment or a
 * NUL, never starts with '/', and a range lies inside the file.
 *   build-fuzz/fuzz-http_static_path -max_total_time=60 */
#include "http/static.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > 4096)
        return 0;
    char *in = malloc(size);
    memcpy(in, data + 1, size - 1);
    in[size - 1] = 0;
    char out[PATH_MAX];
    if (data[0] & 1) {
        if (decode_path(in, out, sizeof out) == 0) {
            size_t n = strlen(out);
            if (n == 0 || out[0] == '/')
                abort();
            for (char *seg = out; *seg;) {
                char *end = strchrnul(seg, '/');
                if (end - seg == 2 && seg[0] == '.' && seg[1] == '.')
                    abort();
                seg = *end ? end + 1 : end;
            }
        }
    } else {
        int64_t sizes[] = {0, 1, 6, 1000, (int64_t)1 << 40};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            int64_t off = -1, len = -1;
            int r = parse_range(in, sizes[i], &off, &len);
            if (r > 0 && (off < 0 || len <= 0 || off + len > sizes[i]))
                abort();
        }
    }
    free(in);
    return 0;
}
