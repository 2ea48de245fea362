/* Shared by src/sync/: the public cio_waitlist is the core's cio__waitq. */
#ifndef CIO_SYNC_WAITLIST_H
#define CIO_SYNC_WAITLIST_H

#include "cio/sync.h"
#include "core/internal.h"

_Static_assert(sizeof(cio_waitlist) == sizeof(cio__waitq), "cio_waitlist must mirror cio__waitq");

static inline cio__waitq *cio__wq(cio_waitlist *l) { return (cio__waitq *)(void *)l; }

#endif
