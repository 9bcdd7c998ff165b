/* Internal file helpers (the atomic writers and user outputs are public in
 * lapgan/io.h). */
#ifndef LG_IO_FILE_H
#define LG_IO_FILE_H
#include <stdint.h>
#include <sys/stat.h>

#include "lapgan/core.h"

/* "a FIFO", "a directory", ... for a mode that is not a regular file. */
const char *lg_file_kind(mode_t mode);
/* Opens path for reading the one way every reader must: O_NONBLOCK first
 * (open() on a FIFO or a device would otherwise block before any check),
 * then fstat refuses anything but a regular file, then O_NONBLOCK is
 * cleared. *fd is the descriptor (close it), *size the file's size (may be
 * NULL). Errors name the path. */
lg_status lg_open_regular(const char *path, int *fd, uint64_t *size);
/* Reads a whole regular file of at most max_bytes into a new buffer (free
 * with lg_free); errors name the path. */
lg_status lg_read_file(const char *path, size_t max_bytes, unsigned char **out, size_t *len);
#endif
