/* Internal file helpers (the atomic writers are public in lapgan/io.h). */
#ifndef LG_IO_FILE_H
#define LG_IO_FILE_H
#include "lapgan/core.h"

/* Reads a whole regular file of at most max_bytes into a new buffer (free
 * with lg_free); errors name the path. */
lg_status lg_read_file(const char *path, size_t max_bytes, unsigned char **out, size_t *len);
#endif
