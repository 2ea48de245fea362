/* Shared by the socket and TLS tests. */
#ifndef CIO_NET_TEST_UTIL_H
#define CIO_NET_TEST_UTIL_H

#include <cio/net.h>

/* A connection handler that echoes everything back until the peer closes. */
static inline int echo_handler(cio_stream *s, void *arg) {
    (void)arg;
    char buf[16384];
    for (;;) {
        ssize_t n = cio_stream_read(s, buf, sizeof buf);
        if (n <= 0)
            return (int)n;
        int rc = cio_stream_write(s, buf, (size_t)n);
        if (rc == 0)
            rc = cio_stream_drain(s);
        if (rc < 0)
            return rc;
    }
}

#endif
