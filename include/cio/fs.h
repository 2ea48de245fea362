/* cio fs (to be filled in by its issue). */
#ifndef CIO_FS_H
#define CIO_FS_H
#include "cio/core.h"
#endif
