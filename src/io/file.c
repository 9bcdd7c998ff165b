/* Reading files without ever blocking on what is not a regular file: a FIFO
 * given as a level file or data set used to hang the process in open(),
 * before any check could run (docs/RELIABILITY.md). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "io/file.h"

const char *lg_file_kind(mode_t mode) {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISLNK(mode)) return "a symbolic link";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

lg_status lg_open_regular(const char *path, int *fd, uint64_t *size) {
    LG_CHECK(path && fd, LG_ERR_ARG, "lg_open_regular: NULL argument");
    *fd = -1;
    /* O_NOCTTY: a terminal device must not become our controlling tty. */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    LG_CHECK(f >= 0, LG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    lg_status st = LG_OK;
    if (fstat(f, &sb) != 0)
        st = lg_error(LG_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(sb.st_mode))
        st = lg_error(LG_ERR_IO, "%s: not a regular file (%s)", path, lg_file_kind(sb.st_mode));
    int fl = st == LG_OK ? fcntl(f, F_GETFL) : -1;
    if (st == LG_OK && (fl < 0 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) != 0))
        st = lg_error(LG_ERR_IO, "%s: fcntl failed: %s", path, strerror(errno));
    if (st != LG_OK) {
        close(f);
        return st;
    }
    *fd = f;
    if (size) *size = (uint64_t)sb.st_size;
    return LG_OK;
}

lg_status lg_read_file(const char *path, size_t max_bytes, unsigned char **out, size_t *len) {
    LG_CHECK(path && out && len, LG_ERR_ARG, "lg_read_file: NULL argument");
    *out = NULL;
    *len = 0;
    int fd;
    uint64_t size;
    LG_TRY(lg_open_regular(path, &fd, &size));
    lg_status st = LG_OK;
    if (size > max_bytes)
        st = lg_error(LG_ERR_FORMAT, "%s: %llu bytes, more than the %zu allowed", path,
                      (unsigned long long)size, max_bytes);
    size_t n = st == LG_OK ? (size_t)size : 0, got = 0;
    unsigned char *buf = st == LG_OK ? lg_alloc(n ? n : 1) : NULL;
    if (st == LG_OK && !buf) st = lg_error(LG_ERR_NOMEM, "%s: out of memory for %zu bytes", path, n);
    while (st == LG_OK && got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            st = lg_error(LG_ERR_IO, "%s: read failed after %zu of %zu bytes: %s", path, got, n,
                          k < 0 ? strerror(errno) : "file shrank");
        else
            got += (size_t)k;
    }
    close(fd);
    if (st != LG_OK) {
        lg_free(buf);
        return st;
    }
    *out = buf;
    *len = n;
    return LG_OK;
}
