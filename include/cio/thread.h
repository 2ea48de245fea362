/* cio thread (to be filled in by its issue). */
#ifndef CIO_THREAD_H
#define CIO_THREAD_H
#include "cio/core.h"
#endif
