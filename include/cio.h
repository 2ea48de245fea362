/* cio: asyncio for C. One include for the whole library. */
#ifndef CIO_H
#define CIO_H

#include "cio/core.h"
#include "cio/sync.h"
#include "cio/queue.h"
#include "cio/ctxvar.h"
#include "cio/with.h"
#include "cio/gen.h"
#include "cio/thread.h"
#include "cio/fs.h"
#include "cio/log.h"
#include "cio/net.h"
#include "cio/http.h"

#endif
