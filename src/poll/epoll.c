/* The epoll backend: four small functions behind the poller interface in
 * core/runtime.h (as Redis's ae_epoll.c). An io_uring backend can sit beside
 * it with the same five entry points. */
#include "core/runtime.h"

#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

int cio__poll_init(cio_loop *L) {
    L->epfd = epoll_create1(EPOLL_CLOEXEC);
    return L->epfd < 0 ? -errno : 0;
}

void cio__poll_close(cio_loop *L) {
    if (L->epfd >= 0)
        close(L->epfd);
    L->epfd = -1;
}

static int ctl(cio_loop *L, int op, int fd, uint32_t events, uintptr_t tag) {
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    return epoll_ctl(L->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int cio__poll_add(cio_loop *L, int fd, uint32_t events, uintptr_t tag) {
    return ctl(L, EPOLL_CTL_ADD, fd, events, tag);
}

int cio__poll_mod(cio_loop *L, int fd, uint32_t events, uintptr_t tag) {
    return ctl(L, EPOLL_CTL_MOD, fd, events, tag);
}

int cio__poll_del(cio_loop *L, int fd) {
    struct epoll_event ev = {0};
    return epoll_ctl(L->epfd, EPOLL_CTL_DEL, fd, &ev) < 0 ? -errno : 0;
}

int cio__poll_wait(cio_loop *L, int64_t timeout_ns) {
    struct epoll_event evs[MAX_EVENTS];
    int n;
    static __thread bool no_pwait2;
    if (!no_pwait2 && timeout_ns > 0) {
        /* Nanosecond timeouts, so timers are not rounded to milliseconds. */
        struct timespec ts = {timeout_ns / CIO_SEC, timeout_ns % CIO_SEC};
        n = epoll_pwait2(L->epfd, evs, MAX_EVENTS, &ts, NULL);
        if (n < 0 && errno == ENOSYS)
            no_pwait2 = true;
        else
            goto got;
    }
    int ms;
    if (timeout_ns < 0)
        ms = -1;
    else if (timeout_ns > (int64_t)INT32_MAX * CIO_MS)
        ms = INT32_MAX;
    else /* round up: waking early would only spin */
        ms = (int)((timeout_ns + CIO_MS - 1) / CIO_MS);
    n = epoll_wait(L->epfd, evs, MAX_EVENTS, ms);
got:
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++)
        cio__poll_dispatch(L, evs[i].data.u64, evs[i].events);
    return n;
}
