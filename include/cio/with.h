/* cio with (to be filled in by its issue). */
#ifndef CIO_WITH_H
#define CIO_WITH_H
#include "cio/core.h"
#endif
