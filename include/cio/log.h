/* cio log (to be filled in by its issue). */
#ifndef CIO_LOG_H
#define CIO_LOG_H
#include "cio/core.h"
#endif
