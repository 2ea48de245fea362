/* cio http (to be filled in by its issue). */
#ifndef CIO_HTTP_H
#define CIO_HTTP_H
#include "cio/core.h"
#endif
