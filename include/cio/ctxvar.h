/* cio ctxvar (to be filled in by its issue). */
#ifndef CIO_CTXVAR_H
#define CIO_CTXVAR_H
#include "cio/core.h"
#endif
