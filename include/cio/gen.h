/* cio gen (to be filled in by its issue). */
#ifndef CIO_GEN_H
#define CIO_GEN_H
#include "cio/core.h"
#endif
