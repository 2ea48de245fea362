/* cio sync (to be filled in by its issue). */
#ifndef CIO_SYNC_H
#define CIO_SYNC_H
#include "cio/core.h"
#endif
