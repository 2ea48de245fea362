/* cio queue (to be filled in by its issue). */
#ifndef CIO_QUEUE_H
#define CIO_QUEUE_H
#include "cio/core.h"
#endif
