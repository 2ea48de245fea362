/* Static files: a route handler per mount that maps the URL path below its
 * prefix onto a directory. Opening is confined to the root with openat2's
 * RESOLVE_BENEATH (no "..", no symlink out of it), and the body goes out
 * with sendfile(2). open/fstat run on the loop thread: for files in the
 * page cache they take microseconds, as in nginx without aio. */
#define _GNU_SOURCE
#include "http/server.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define HAVE_OPENAT2 1
#endif

static const struct {
    const char *ext, *type;
} mime[] = {
    {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"}, {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"}, {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"}, {"xml", "application/xml"},
    {"svg", "image/svg+xml"}, {"png", "image/png"}, {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"webp", "image/webp"},
    {"ico", "image/x-icon"}, {"avif", "image/avif"}, {"pdf", "application/pdf"},
    {"wasm", "application/wasm"}, {"woff", "font/woff"}, {"woff2", "font/woff2"},
    {"ttf", "font/ttf"}, {"otf", "font/otf"}, {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"}, {"wav", "audio/wav"}, {"mp4", "video/mp4"},
    {"webm", "video/webm"}, {"zip", "application/zip"}, {"gz", "application/gzip"},
    {"tar", "application/x-tar"}, {"c", "text/plain; charset=utf-8"},
    {"h", "text/plain; charset=utf-8"}, {"py", "text/plain; charset=utf-8"},
    {"sh", "text/plain; charset=utf-8"},
};

const char *cio_http_mime_type(const char *path) {
    if (!path)
        return "application/octet-stream";
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (dot && (!slash || dot > slash))
        for (size_t i = 0; i < sizeof mime / sizeof mime[0]; i++)
            if (strcasecmp(dot + 1, mime[i].ext) == 0)
                return mime[i].type;
    return "application/octet-stream";
}

int cio_http_server_static(cio_http_server *s, const char *prefix, const char *root) {
    if (!s || !root)
        return cio_seterr(-EINVAL, "http static: the %s is NULL", s ? "root" : "server");
    if (!prefix || prefix[0] != '/')
        return cio_seterr(-EINVAL, "http static: prefix must start with '/'");
    cio__http_mount *m = cio__calloc(1, sizeof *m);
    size_t pl = strlen(prefix);
    char *pat = cio__malloc(pl + 2);
    if (!m || !pat) {
        cio__free(m);
        cio__free(pat);
        return cio_seterr(-ENOMEM, "http static %s: out of memory", root);
    }
    memcpy(pat, prefix, pl);
    memcpy(pat + pl, "*", 2);
    m->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    m->prefix = cio__strdup(prefix);
    char real[PATH_MAX];
    m->root = cio__strdup(realpath(root, real) ? real : root);
    int rc = m->rootfd < 0 ? cio_seterr(-errno, "http static: open %s: %s", root, strerror(errno))
             : !m->prefix || !m->root ? cio_seterr(-ENOMEM, "http static: out of memory")
                                      : cio_http_server_route(s, "GET", pat, cio__http_static_handler, m);
    cio__free(pat);
    if (rc < 0) {
        if (m->rootfd >= 0)
            close(m->rootfd);
        cio__free(m->prefix);
        cio__free(m->root);
        cio__free(m);
        return rc;
    }
    m->next = s->mounts;
    s->mounts = m;
    return 0;
}

static int hexv(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes the URL path below the prefix into out, as a path
 * relative to the root ("." for the root itself). Refuses NUL bytes and
 * ".." segments. Returns 0 or -1. */
static int decode_path(const char *in, char *out, size_t n) {
    size_t o = 0;
    while (*in == '/')
        in++;
    for (; *in; in++) {
        char ch = *in;
        if (ch == '%') {
            int a = hexv(in[1]), b = a >= 0 ? hexv(in[2]) : -1;
            if (b < 0)
                return -1;
            ch = (char)(a * 16 + b);
            in += 2;
        }
        if (ch == 0 || o + 2 >= n)
            return -1;
        out[o++] = ch;
    }
    out[o] = 0;
    /* A leading "%2f" decodes to '/': an absolute path would make openat
     * ignore the root (found by fuzz/http_static_path.c). */
    size_t lead = strspn(out, "/");
    if (lead) {
        memmove(out, out + lead, o - lead + 1);
        o -= lead;
    }
    for (char *seg = out; *seg;) {
        char *end = strchrnul(seg, '/');
        if (end - seg == 2 && seg[0] == '.' && seg[1] == '.')
            return -1;
        seg = *end ? end + 1 : end;
    }
    if (o == 0)
        strcpy(out, ".");
    return 0;
}

/* Without openat2: the file opened must lie below root (a symlink in a
 * middle component could lead out of it). */
static int check_beneath(int fd, const char *root) {
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    size_t rl = strlen(root);
    if (n >= 0)
        path[n] = 0;
    if (n < 0 || (size_t)n < rl || memcmp(path, root, rl) != 0 ||
        (path[rl] != '/' && path[rl] != 0 && strcmp(root, "/") != 0)) {
        close(fd);
        errno = ENOENT;
        return -1;
    }
    return fd;
}

/* Opens rel below dirfd (the directory root) without leaving it. */
static int open_beneath(int dirfd, const char *root, const char *rel, int flags) {
#ifdef HAVE_OPENAT2
    /* CIO_HTTP_NO_OPENAT2 forces the fallback (to test it). */
    static int no_openat2 = -1;
    if (no_openat2 < 0)
        no_openat2 = getenv("CIO_HTTP_NO_OPENAT2") != NULL;
    if (!no_openat2) {
        struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC | O_NOCTTY),
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
        long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
            return (int)fd;
        no_openat2 = 1;
    }
#endif
    /* Older kernels: ".." was refused when decoding, and where the file
     * really is gets checked after opening. */
    int fd = openat(dirfd, rel, flags | O_CLOEXEC | O_NOCTTY);
    return fd < 0 ? fd : check_beneath(fd, root);
}

static void http_time(time_t t, char *buf, size_t n) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Parses a single "bytes=a-b" / "bytes=a-" / "bytes=-n" range. Returns 1
 * with [*off, *off + *len) set, 0 to ignore the field (send everything),
 * -1 if unsatisfiable (416). */
static int parse_range(const char *v, int64_t size, int64_t *off, int64_t *len) {
    if (strncmp(v, "bytes=", 6) != 0 || strchr(v, ','))
        return 0;
    v += 6;
    char *end;
    if (*v == '-') {
        if (v[1] < '0' || v[1] > '9')
            return 0;
        long long n = strtoll(v + 1, &end, 10);
        if (*end)
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *len = n < size ? n : size;
        *off = size - *len;
        return 1;
    }
    if (*v < '0' || *v > '9')
        return 0;
    long long a = strtoll(v, &end, 10), b = size - 1;
    if (*end != '-')
        return 0;
    if (end[1]) {
        if (end[1] < '0' || end[1] > '9')
            return 0;
        b = strtoll(end + 1, &end, 10);
        if (*end || b < a)
            return 0;
    }
    if (a >= size)
        return -1;
    if (b >= size)
        b = size - 1;
    *off = a;
    *len = b - a + 1;
    return 1;
}

/* Percent-encodes a file name for an href. */
static size_t href_escape(const char *s, char *out, size_t n) {
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch))
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, n - o, "%%%02X", ch);
    }
    out[o] = 0;
    return o;
}

static size_t html_escape(const char *s, char *out, size_t n) {
    size_t o = 0;
    for (; *s && o + 7 < n; s++) {
        const char *e = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;"
                      : *s == '"' ? "&quot;" : NULL;
        if (e)
            o += (size_t)snprintf(out + o, n - o, "%s", e);
        else
            out[o++] = *s;
    }
    out[o] = 0;
    return o;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An HTML index of a directory without index.html (sorted; links are
 * relative, so a crawler can walk the tree). */
static int send_listing(cio_http_response *w, int dirfd, const char *urlpath) {
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return cio_http_resp_send(w, 403, "text/plain", "Forbidden\n", 10);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **nn = cio__realloc(names, (cap = cap ? cap * 2 : 32) * sizeof *nn);
            if (!nn) {
                rc = -ENOMEM;
                break;
            }
            names = nn;
        }
        bool dir = e->d_type == DT_DIR;
        size_t l = strlen(e->d_name);
        if (!(names[n] = cio__malloc(l + 2))) {
            rc = -ENOMEM;
            break;
        }
        memcpy(names[n], e->d_name, l + 1);
        if (dir)
            memcpy(names[n] + l, "/", 2);
        n++;
    }
    closedir(d);
    char *html = NULL;
    size_t len = 0;
    if (rc == 0) {
        qsort(names, n, sizeof *names, cmp_names);
        size_t hcap = 512 + strlen(urlpath) * 12;
        for (size_t i = 0; i < n; i++)
            hcap += strlen(names[i]) * 10 + 32;
        if ((html = cio__malloc(hcap))) {
            char esc[PATH_MAX * 3], href[1024];
            html_escape(urlpath, esc, sizeof esc);
            len = (size_t)snprintf(html, hcap,
                                   "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                                   "<title>Index of %s</title></head>\n<body><h1>Index of %s</h1>\n<ul>\n",
                                   esc, esc);
            for (size_t i = 0; i < n; i++) {
                href_escape(names[i], href, sizeof href);
                size_t hl = strlen(href);
                if (names[i][strlen(names[i]) - 1] == '/' && hl >= 3)
                    memcpy(href + hl - 3, "/", 2); /* keep the slash unescaped */
                html_escape(names[i], esc, sizeof esc);
                len += (size_t)snprintf(html + len, hcap - len, "<li><a href=\"%s\">%s</a></li>\n",
                                        href, esc);
            }
            len += (size_t)snprintf(html + len, hcap - len, "</ul>\n</body></html>\n");
        } else {
            rc = -ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++)
        cio__free(names[i]);
    cio__free(names);
    if (rc == 0)
        rc = cio_http_resp_send(w, 200, "text/html; charset=utf-8", html, len);
    cio__free(html);
    return rc;
}

/* 301 to the same path with a trailing slash, so relative links work. */
static int redirect_slash(cio_http_request *req, cio_http_response *w) {
    const char *path = cio_http_req_path(req), *q = cio_http_req_query(req);
    size_t n = strlen(path) + strlen(q) + 3;
    char *loc = cio__malloc(n);
    if (!loc)
        return -ENOMEM;
    snprintf(loc, n, "%s/%s%s", path, *q ? "?" : "", q);
    int rc = cio_http_resp_header(w, "Location", loc);
    cio__free(loc);
    return rc < 0 ? rc : cio_http_resp_send(w, 301, "text/plain", "Moved Permanently\n", 18);
}

static int send_file(cio_http_request *req, cio_http_response *w, int fd, const struct stat *st,
                     const char *name) {
    char lm[40];
    http_time(st->st_mtime, lm, sizeof lm);
    const char *ims = cio_http_req_header(req, "If-Modified-Since");
    if (ims && strcmp(ims, lm) == 0) {
        cio_http_resp_header(w, "Last-Modified", lm);
        return cio_http_resp_send(w, 304, NULL, NULL, 0);
    }
    int64_t off = 0, len = st->st_size;
    const char *range = cio_http_req_header(req, "Range");
    int r = range ? parse_range(range, st->st_size, &off, &len) : 0;
    char cr[80];
    if (r < 0) {
        snprintf(cr, sizeof cr, "bytes */%lld", (long long)st->st_size);
        cio_http_resp_header(w, "Content-Range", cr);
        return cio_http_resp_send(w, 416, "text/plain", "Range Not Satisfiable\n", 22);
    }
    cio_http_resp_header(w, "Last-Modified", lm);
    cio_http_resp_header(w, "Accept-Ranges", "bytes");
    if (r > 0) {
        snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)off, (long long)(off + len - 1),
                 (long long)st->st_size);
        cio_http_resp_header(w, "Content-Range", cr);
        cio_http_resp_status(w, 206);
    }
    return cio__http_resp_sendfile(w, cio_http_mime_type(name), fd, off, len);
}

int cio__http_static_handler(cio_http_request *req, cio_http_response *w, void *arg) {
    cio__http_mount *m = arg;
    const char *path = cio_http_req_path(req);
    char rel[PATH_MAX];
    size_t pl = strlen(m->prefix);
    if (strncmp(path, m->prefix, pl) != 0 || decode_path(path + pl, rel, sizeof rel) < 0)
        return cio_http_resp_send(w, 404, "text/plain", "Not Found\n", 10);
    int fd = open_beneath(m->rootfd, m->root, rel, O_RDONLY);
    if (fd < 0) {
        int e = errno;
        return e == EACCES ? cio_http_resp_send(w, 403, "text/plain", "Forbidden\n", 10)
                           : cio_http_resp_send(w, 404, "text/plain", "Not Found\n", 10);
    }
    struct stat st;
    int rc;
    if (fstat(fd, &st) < 0) {
        rc = cio_seterr(-errno, "http static: fstat %s: %s", rel, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path);
        if (n == 0 || path[n - 1] != '/') {
            rc = redirect_slash(req, w);
        } else {
            int ifd = openat(fd, "index.html", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            struct stat ist;
            if (ifd >= 0 && fstat(ifd, &ist) == 0 && S_ISREG(ist.st_mode))
                rc = send_file(req, w, ifd, &ist, "index.html");
            else
                rc = send_listing(w, fd, path);
            if (ifd >= 0)
                close(ifd);
        }
    } else if (!S_ISREG(st.st_mode)) {
        rc = cio_http_resp_send(w, 404, "text/plain", "Not Found\n", 10);
    } else {
        rc = send_file(req, w, fd, &st, rel);
    }
    close(fd);
    return rc;
}
