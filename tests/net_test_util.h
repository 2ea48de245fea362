/* Shared by the socket and TLS tests. */
#ifndef CIO_NET_TEST_UTIL_H
#define CIO_NET_TEST_UTIL_H

#include <cio/net.h>
#include <cio/test.h>

#include <stdio.h>

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

/* A cio_stream_sendfile_ex call run by a task (sfx_task), with what it
 * reported: its result, *sent, the bytes still queued right after it
 * returned, and its message. */
typedef struct {
    cio_stream *s;
    int fd;
    size_t n, sent, queued;
    ssize_t rc;
    char msg[256];
} sfx_job;

static inline int sfx_task(void *arg) {
    sfx_job *j = arg;
    j->rc = cio_stream_sendfile_ex(j->s, j->fd, 0, j->n, &j->sent);
    j->queued = cio_stream_write_buffered(j->s); /* before anything else runs */
    snprintf(j->msg, sizeof j->msg, "%s", cio_errmsg());
    return 0;
}

/* Starts j's transfer in a task (*t) and lets it run until it waits for
 * room: the peer does not read. */
static inline void start_waiting(sfx_job *j, cio_task **t) {
    *t = cio_spawn(sfx_task, j);
    CIO_ASSERT_EQ(cio_sleep(10 * CIO_MS), 0);
    CIO_ASSERT_EQ(j->rc, 1); /* still waiting */
}

#endif
