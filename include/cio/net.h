/* cio net (to be filled in by its issue). */
#ifndef CIO_NET_H
#define CIO_NET_H
#include "cio/core.h"
#endif
